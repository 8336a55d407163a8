/*
 * h2_sleep.c - an idle HTTP/2 connection gives its nghttp2 session back (see h2.h, "Sleep").
 *
 * nghttp2 keeps about 10 KB per session (its state, a 16 KiB frame buffer, HPACK tables) for
 * as long as the connection lives. A connection quiet for a second, with no stream, nothing to
 * send and every window full, keeps instead only what a new session needs to take over:
 *
 *   1. ask: SETTINGS_HEADER_TABLE_SIZE 0 (the client's HPACK encoder empties the table our
 *      decoder would need: its next header block starts with a size update to 0), and a
 *      WINDOW_UPDATE that gives the client its whole connection window back;
 *   2. the client's SETTINGS ACK: still idle, the session's facts are saved (the client's
 *      settings, what we may still send) and the session is deleted;
 *   3. wake (bytes arrive, a timer, a drain): a new session is fed the client preface, a SETTINGS
 *      frame with the saved settings and a WINDOW_UPDATE with the saved send window, as if the
 *      client had just connected; what it answers to those (a SETTINGS ACK, its own connection
 *      WINDOW_UPDATE) is not sent, since the client already has it. Our SETTINGS do go out (the
 *      table size back to 4096), and the client's ACK of them finds the session expecting it.
 *
 * Our HPACK encoder starts empty too: the client's table still holds our older entries, but they
 * are older than anything the new encoder adds and are evicted first, so both sides agree on
 * every index the new encoder uses.
 */
#include "front/h2.h"

#include <string.h>

#include "admin/stats.h"
#include "core/log.h"
#include "front/listener.h"

/* A connection quiet this long, with nothing open, sleeps (checked once a second). */
#define H2_SLEEP_QUIET_MS 1000
/* The protocol's initial connection window (RFC 9113 6.9.2). */
#define H2_INITIAL_WINDOW 65535

static const int32_t sleep_settings[H2_SLEEP_SETTINGS] = {
    NGHTTP2_SETTINGS_HEADER_TABLE_SIZE,      NGHTTP2_SETTINGS_ENABLE_PUSH,
    NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
    NGHTTP2_SETTINGS_MAX_FRAME_SIZE,         NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
    NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES,
};

/* Nothing open, nothing to send or read: the session holds nothing but its own state. */
static int idle(const h2_sess_t *h)
{
    return h->ng != NULL && h->nstreams == 0 && h->in == NULL && h->out == NULL && !h->goaway &&
           !nghttp2_session_want_write(h->ng) && h->requests > 0;
}

void lg_h2_sleep_tick(lg_worker_t *w)
{
    for (h2_sess_t *h = w->h2_sessions; h != NULL; h = h->next) {
        nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 0};
        int32_t give;

        if (h->sleep != H2_AWAKE || !idle(h) || h->active + H2_SLEEP_QUIET_MS > lg_now)
            continue;
        give = H2_CONN_WINDOW - nghttp2_session_get_local_window_size(h->ng);
        if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, &iv, 1) != 0 ||
            (give > 0 && nghttp2_submit_window_update(h->ng, NGHTTP2_FLAG_NONE, 0, give) != 0))
            continue;
        h->sleep = H2_ASKED;
        lg_h2_post(h);
    }
}

void lg_h2_sleep_acked(h2_sess_t *h)
{
    if (h->sleep == H2_ASKED)
        h->sleep = H2_ACKED; /* h2_run puts it to sleep once nothing is left to send */
}

void lg_h2_sleep_stirred(h2_sess_t *h)
{
    nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096};

    if (h->sleep == H2_AWAKE || h->ng == NULL)
        return;
    h->sleep = H2_AWAKE; /* a request came before the session slept: HPACK as before */
    nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, &iv, 1);
}

void lg_h2_sleep_maybe(h2_sess_t *h)
{
    if (h->sleep != H2_ACKED || !idle(h))
        return;
    h->sleep = H2_AWAKE;
    if (nghttp2_session_get_local_window_size(h->ng) != H2_CONN_WINDOW ||
        nghttp2_session_get_remote_window_size(h->ng) < H2_INITIAL_WINDOW)
        return; /* the windows are not as a new session would assume: stay awake */
    for (int i = 0; i < H2_SLEEP_SETTINGS; i++)
        h->remote[i] = nghttp2_session_get_remote_settings(h->ng, sleep_settings[i]);
    h->send_window = nghttp2_session_get_remote_window_size(h->ng);
    nghttp2_session_del(h->ng);
    h->ng = NULL;
    h->sleep = H2_ASLEEP;
    h->w->released = 1; /* the heap gives it back at the next trim */
    lg_stats_add(&lg_stats_listener(h->hc->c.ls->index)->h2_asleep, 1);
}

uint8_t *lg_h2_frame_head(uint8_t *p, size_t len, uint8_t type, int32_t stream)
{
    p[0] = (uint8_t)(len >> 16);
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)len;
    p[3] = type;
    p[4] = 0;
    p[5] = (uint8_t)((uint32_t)stream >> 24);
    p[6] = (uint8_t)((uint32_t)stream >> 16);
    p[7] = (uint8_t)((uint32_t)stream >> 8);
    p[8] = (uint8_t)stream;
    return p + 9;
}

uint8_t *lg_h2_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* What the client sent when it connected, as far as the new session needs it. */
static size_t replay(const h2_sess_t *h, uint8_t *buf)
{
    uint8_t *p = buf;

    memcpy(p, LG_H2_PREFACE, LG_H2_PREFACE_LEN);
    p = lg_h2_frame_head(p + LG_H2_PREFACE_LEN, 6 * H2_SLEEP_SETTINGS, NGHTTP2_SETTINGS, 0);
    for (int i = 0; i < H2_SLEEP_SETTINGS; i++) {
        p[0] = (uint8_t)(sleep_settings[i] >> 8);
        p[1] = (uint8_t)sleep_settings[i];
        p = lg_h2_put32(p + 2, h->remote[i]);
    }
    if (h->send_window > H2_INITIAL_WINDOW) {
        p = lg_h2_frame_head(p, 4, NGHTTP2_WINDOW_UPDATE, 0);
        p = lg_h2_put32(p, (uint32_t)(h->send_window - H2_INITIAL_WINDOW));
    }
    return (size_t)(p - buf);
}

int lg_h2_wake(h2_sess_t *h)
{
    uint8_t buf[LG_H2_PREFACE_LEN + 9 + 6 * H2_SLEEP_SETTINGS + 13];
    size_t n;

    if (h->ng != NULL)
        return LG_OK;
    lg_stats_add(&lg_stats_listener(h->hc->c.ls->index)->h2_asleep, (uint64_t)-1);
    if (lg_h2_session_new(h) != LG_OK)
        return LG_ERR;
    n = replay(h, buf);
    h->sleep = H2_WAKING; /* on_send drops what answers the replay */
    if (nghttp2_session_mem_recv(h->ng, buf, n) != (ssize_t)n || nghttp2_session_send(h->ng) != 0) {
        lg_log(LG_LOG_ERR, "waking an HTTP/2 session failed");
        return LG_ERR;
    }
    h->sleep = H2_AWAKE;
    return LG_OK;
}

size_t lg_h2_waking_drop(const uint8_t *data, size_t len)
{
    size_t flen;

    if (len < 9)
        return 0;
    flen = 9 + ((size_t)data[0] << 16 | (size_t)data[1] << 8 | data[2]);
    if ((data[3] == NGHTTP2_SETTINGS && (data[4] & NGHTTP2_FLAG_ACK)) ||
        (data[3] == NGHTTP2_WINDOW_UPDATE && (data[5] | data[6] | data[7] | data[8]) == 0))
        return LG_MIN(flen, len); /* the client has these already */
    return 0;
}
