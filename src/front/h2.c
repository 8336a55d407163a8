/*
 * h2.c - the HTTP/2 front's connection: the nghttp2 session, bytes in and out with
 * backpressure, the idle timer, GOAWAY on drain (see h2.h). Streams are in h2_stream.c.
 */
#include "front/h2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin/stats.h"
#include "core/log.h"
#include "core/net.h"
#include "front/h1.h"
#include "front/listener.h"
#include "http/diag.h"

/* Reads or writes per run before yielding to other connections. */
#define H2_ROUNDS 16
/* Client RST_STREAMs (CVE-2023-44487, rapid reset): a burst, then this many per second. */
#define H2_RESET_BURST 200
#define H2_RESET_RATE  100
/* nghttp2's own limit (GOAWAY INTERNAL_ERROR), a backstop behind ours (ENHANCE_YOUR_CALM). */
#define H2_RESET_BURST_NG 1000
#define H2_RESET_RATE_NG  200

_Static_assert(sizeof(h2_conn_t) <= sizeof(h1_conn_t), "an h1 connection becomes an h2 one");

static h2_sess_t *sess_of(lg_conn_t *c)
{
    return ((h2_conn_t *)c)->h;
}

void lg_h2_post(h2_sess_t *h)
{
    lg_conn_post(&h->hc->c);
}

void lg_h2_active(h2_sess_t *h, int delta)
{
    h->nactive = (uint32_t)((int)h->nactive + delta);
    if (delta > 0)
        lg_timer_del(&h->hc->c.timer); /* the exchanges run their own timers */
}

/* Room for `need` more bytes of frames in h->out (NULL: not now, or no memory). */
lg_buf_t *lg_h2_out(h2_sess_t *h, size_t need)
{
    lg_buf_t *b = h->out;

    if (b == NULL && (b = h->out = lg_buf_get()) == NULL)
        return NULL;
    if (lg_buf_room(b) < need && b->pos > 0)
        lg_buf_compact(b);
    return lg_buf_room(b) >= need ? b : NULL;
}

/* nghttp2 has frame bytes for the client: into h->out, as much as fits. */
static ssize_t on_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud)
{
    h2_sess_t *h = ud;
    lg_buf_t *b = lg_h2_out(h, 1);
    size_t n;

    LG_UNUSED(ng);
    LG_UNUSED(flags);
    if (h->sleep == H2_WAKING && (n = lg_h2_waking_drop(data, len)) > 0)
        return (ssize_t)n;
    if (b == NULL)
        return NGHTTP2_ERR_WOULDBLOCK;
    n = LG_MIN(len, lg_buf_room(b));
    memcpy(b->data + b->last, data, n);
    b->last += (uint32_t)n;
    return (ssize_t)n;
}

/* Our SETTINGS: what a client may open and send at once. */
static int settings_submit(h2_sess_t *h)
{
    const lg_config_t *cf = h->w->conf;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cf->limits.max_concurrent_streams},
        /* a stream's unacknowledged DATA fits in its rin */
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cf->limits.max_header_size},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };

    if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
        nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) != 0)
        return LG_ERR;
    return LG_OK;
}

int lg_h2_session_new(h2_sess_t *h)
{
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    int rv = -1;

    if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
        goto out;
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    lg_h2_stream_callbacks(cb);
    /* DATA is acknowledged as the exchange takes it (nghttp2_session_consume): backpressure */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_stream_reset_rate_limit(opt, H2_RESET_BURST_NG, H2_RESET_RATE_NG);
    rv = nghttp2_session_server_new3(&h->ng, cb, h, opt, &lg_h2_mem);
    if (rv == 0 && settings_submit(h) != LG_OK)
        rv = -1;
out:
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    return rv == 0 ? LG_OK : LG_ERR;
}

/* The last stream we took: nghttp2's, or the one before a sleep (which nghttp2 forgot). */
static int32_t last_stream(const h2_sess_t *h)
{
    return LG_MAX(h->last_id, nghttp2_session_get_last_proc_stream_id(h->ng));
}

static void goaway(h2_sess_t *h, uint32_t code)
{
    if (h->goaway || lg_h2_wake(h) != LG_OK)
        return;
    h->goaway = 1;
    if (code == NGHTTP2_NO_ERROR)
        nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, last_stream(h), code, NULL, 0);
    else
        nghttp2_session_terminate_session2(h->ng, last_stream(h), code);
    lg_h2_post(h);
}

int lg_h2_stream_id_check(h2_sess_t *h, int32_t id)
{
    if (id > h->last_id) {
        h->last_id = id;
        return LG_OK;
    }
    lg_h2_fatal(h, NGHTTP2_PROTOCOL_ERROR, "a stream id used before (RFC 9113 5.1.1)");
    return LG_ERR;
}

void lg_h2_fatal(h2_sess_t *h, uint32_t code, const char *why)
{
    char ip[LG_IP_STRLEN];

    lg_net_ip_text(&h->hc->c.peer.sa, ip, sizeof(ip));
    lg_log(LG_LOG_INFO, "HTTP/2 client %s sent %s: GOAWAY (%s)", ip, why,
           nghttp2_http2_strerror(code));
    h->fatal = 1;
    h->fatal_code = code;
}

static int flush(h2_sess_t *h, int *progress);

/*
 * nghttp2 gave up on the input: a flood it detected, too many CONTINUATION frames, or a callback
 * of ours that found the client at fault (lg_h2_fatal: a GOAWAY submitted from inside nghttp2's
 * callbacks can trip its assertions). No GOAWAY went out: one is added to what waits, and as
 * much as the socket takes is written before the connection closes.
 */
static void goaway_fatal(h2_sess_t *h, ssize_t rv)
{
    uint32_t code = h->fatal                    ? h->fatal_code
                    : rv == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM
                                                : NGHTTP2_PROTOCOL_ERROR;
    uint32_t last = (uint32_t)last_stream(h);
    lg_buf_t *b;
    int progress = 0;

    if (!h->fatal)
        lg_h2_goaway_log(h, code);
    if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC || (b = lg_h2_out(h, 17)) == NULL)
        return;
    lg_h2_put32(
        lg_h2_put32(lg_h2_frame_head((uint8_t *)b->data + b->last, 8, NGHTTP2_GOAWAY, 0), last),
        code);
    b->last += 17;
    lg_stats_add(&lg_stats_listener(h->hc->c.ls->index)->h2_goaway, 1);
    flush(h, &progress);
}

void lg_h2_goaway_log(h2_sess_t *h, uint32_t code)
{
    char ip[LG_IP_STRLEN];

    lg_net_ip_text(&h->hc->c.peer.sa, ip, sizeof(ip));
    lg_log(LG_LOG_INFO, "HTTP/2 client %s broke the protocol: GOAWAY (%s)", ip,
           nghttp2_http2_strerror(code));
    h->goaway = 1;
}

int lg_h2_reset_received(h2_sess_t *h)
{
    uint64_t refill = (uint64_t)(lg_now - h->reset_at) * H2_RESET_RATE / 1000;

    if (refill > 0) {
        h->reset_tokens = (uint32_t)LG_MIN(h->reset_tokens + refill, (uint64_t)H2_RESET_BURST);
        h->reset_at = lg_now;
    }
    if (h->reset_tokens == 0) {
        lg_h2_fatal(h, NGHTTP2_ENHANCE_YOUR_CALM, "RST_STREAM faster than allowed (rapid reset)");
        return LG_ERR;
    }
    h->reset_tokens--;
    return LG_OK;
}

void lg_h2_drain(lg_worker_t *w)
{
    for (h2_sess_t *h = w->h2_sessions; h != NULL; h = h->next)
        goaway(h, NGHTTP2_NO_ERROR);
}

int lg_h2_start(lg_conn_t *c, lg_buf_t *in)
{
    lg_worker_t *w = c->ls->w;
    h2_sess_t *h = calloc(1, sizeof(*h));

    if (h == NULL || (h->w = w, lg_h2_session_new(h)) != LG_OK) {
        lg_log(LG_LOG_ERR, "starting an HTTP/2 session failed (out of memory)");
        free(h);
        lg_buf_put(&in);
        lg_conn_close(c);
        return LG_ERR;
    }
    h->hc = (h2_conn_t *)c;
    h->in = in;
    h->reset_tokens = H2_RESET_BURST;
    h->reset_at = h->active = lg_now;
    h->next = w->h2_sessions;
    if (h->next != NULL)
        h->next->prev = h;
    w->h2_sessions = h;
    ((h2_conn_t *)c)->h = h;
    c->front = &lg_front_h2;
    c->state = 0;
    c->fflags = 0;
    lg_conn_timer(c, &w->q.client_header);
    if (w->draining)
        goaway(h, NGHTTP2_NO_ERROR);
    lg_conn_post(c);
    return LG_OK;
}

/* Our output cannot leave: read no more (what the client sends would pile up answers). */
static int out_blocked(const h2_sess_t *h)
{
    return h->out != NULL && lg_buf_len(h->out) > 0 && !(h->hc->c.s.sock.flags & LG_SOCK_WR);
}

/* Give what was read to nghttp2 (its callbacks run the streams): LG_OK or LG_ERR. */
static int feed(h2_sess_t *h)
{
    lg_buf_t *b = h->in;
    ssize_t rv;

    if (b == NULL || lg_buf_len(b) == 0)
        return LG_OK;
    rv = nghttp2_session_mem_recv(h->ng, (const uint8_t *)b->data + b->pos, lg_buf_len(b));
    if (rv < 0) {
        if (!h->fatal)
            lg_log(LG_LOG_INFO, "HTTP/2 client connection failed: %s", nghttp2_strerror((int)rv));
        goaway_fatal(h, rv);
        return LG_ERR;
    }
    b->pos += (uint32_t)rv;
    if (lg_buf_len(b) == 0)
        b->pos = b->last = 0;
    return LG_OK;
}

/* Read and give to nghttp2 while the client sends and our answers can leave. */
static int recv_step(h2_sess_t *h, int *progress)
{
    lg_conn_t *c = &h->hc->c;
    int round;

    for (round = 0; round < H2_ROUNDS; round++) {
        ssize_t n;

        if (feed(h) != LG_OK)
            return LG_ERR;
        if (out_blocked(h) || !(c->s.sock.flags & LG_SOCK_RD) || !nghttp2_session_want_read(h->ng))
            break;
        if (h->in == NULL && (h->in = lg_buf_get()) == NULL)
            return LG_ERR;
        n = lg_stream_read(&c->s, h->in->data + h->in->last, lg_buf_room(h->in));
        if (n == LG_AGAIN)
            break;
        if (n <= 0) {
            if (n < 0)
                lg_log(LG_LOG_INFO, "reading from the HTTP/2 client failed (%d: %s)", errno,
                       strerror(errno));
            else if (lg_debug_on())
                lg_diag_conn(&c->peer.sa, "HTTP/2 connection closed by the client");
            return LG_ERR;
        }
        h->in->last += (uint32_t)n;
        *progress = 1;
    }
    if (round == H2_ROUNDS)
        lg_conn_post(c);
    if (h->in != NULL && lg_buf_len(h->in) == 0)
        lg_buf_put(&h->in);
    return LG_OK;
}

/* Write h->out; LG_OK (all out), LG_AGAIN (the socket is full), LG_ERR. */
static int flush(h2_sess_t *h, int *progress)
{
    lg_conn_t *c = &h->hc->c;
    lg_buf_t *b = h->out;
    struct iovec iov;
    ssize_t n;

    while (b != NULL && lg_buf_len(b) > 0) {
        if (!(c->s.sock.flags & LG_SOCK_WR))
            return LG_AGAIN;
        iov.iov_base = b->data + b->pos;
        iov.iov_len = lg_buf_len(b);
        n = lg_stream_writev(&c->s, &iov, 1);
        if (n < 0) {
            lg_log(LG_LOG_INFO, "writing to the HTTP/2 client failed (%d: %s)", errno,
                   strerror(errno));
            return LG_ERR;
        }
        b->pos += (uint32_t)n;
        *progress |= n > 0;
    }
    return LG_OK;
}

/* Frame what nghttp2 has to send and write it. */
static int send_step(h2_sess_t *h, int *progress)
{
    int round, r = LG_OK;

    for (round = 0; round < H2_ROUNDS; round++) {
        if ((r = flush(h, progress)) != LG_OK)
            break;
        if (!nghttp2_session_want_write(h->ng))
            break;
        if (nghttp2_session_send(h->ng) != 0) {
            lg_log(LG_LOG_INFO, "HTTP/2 session failed while sending");
            return LG_ERR;
        }
        if (h->out == NULL || lg_buf_len(h->out) == 0)
            break;
    }
    if (r == LG_ERR)
        return LG_ERR;
    if (round == H2_ROUNDS)
        lg_conn_post(&h->hc->c);
    if (h->out != NULL && lg_buf_len(h->out) == 0)
        lg_buf_put(&h->out);
    return LG_OK;
}

/* No exchange runs: the connection's own timer (client_header until a request came). */
static void idle_timer(h2_sess_t *h, int progress)
{
    lg_conn_t *c = &h->hc->c;

    if (h->nactive > 0)
        return;
    /* streams wait for the client's window: only their DATA leaving is progress (not PINGs) */
    if (h->nstreams > 0)
        progress = h->data_out;
    h->data_out = 0;
    if (progress || !lg_timer_armed(&c->timer))
        lg_conn_timer(c, h->requests == 0 ? &h->w->q.client_header : &h->w->q.client_idle);
}

static void h2_run(lg_conn_t *c)
{
    h2_sess_t *h = sess_of(c);
    int progress = 0;

    if (h->ng == NULL && !(c->s.sock.flags & (LG_SOCK_RD | LG_SOCK_HUP)))
        return; /* asleep, and nothing came */
    if (lg_h2_wake(h) != LG_OK || recv_step(h, &progress) != LG_OK) {
        lg_conn_close(c);
        return;
    }
    lg_h2_run_ready(h);
    if (send_step(h, &progress) != LG_OK) {
        lg_conn_close(c);
        return;
    }
    if (progress)
        h->active = lg_now;
    if (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng) && h->out == NULL) {
        if (lg_debug_on())
            lg_diag_conn(&c->peer.sa, "HTTP/2 session over");
        lg_conn_close(c);
        return;
    }
    idle_timer(h, progress);
    lg_h2_sleep_maybe(h);
}

static void h2_event(lg_conn_t *c, uint32_t ev)
{
    LG_UNUSED(ev);
    h2_run(c);
}

static void h2_timeout(lg_conn_t *c)
{
    h2_sess_t *h = sess_of(c);
    int progress = 0;

    if (h->nstreams > 0) {
        lg_log(LG_LOG_INFO, "HTTP/2 client took no response bytes within timeouts.client_idle");
        lg_conn_close(c);
        return;
    }
    if (lg_debug_on())
        lg_diag_conn(&c->peer.sa, "closing: nothing received within timeouts.%s",
                     h->requests == 0 ? "client_header" : "client_idle");
    goaway(h, NGHTTP2_NO_ERROR); /* a sleeping session wakes for it */
    if (h->ng != NULL)
        send_step(h, &progress); /* the GOAWAY, if the socket takes it */
    lg_conn_close(c);
}

static void h2_release(lg_conn_t *c)
{
    h2_sess_t *h = sess_of(c);
    lg_worker_t *w = c->ls->w;

    while (h->streams != NULL)
        lg_h2_stream_free(h->streams);
    if (h->ng == NULL) /* asleep */
        lg_stats_add(&lg_stats_listener(c->ls->index)->h2_asleep, (uint64_t)-1);
    nghttp2_session_del(h->ng);
    lg_buf_put(&h->in);
    lg_buf_put(&h->out);
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        w->h2_sessions = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    free(h);
    ((h2_conn_t *)c)->h = NULL;
}

/* Connections come to this front from h1 (lg_h2_start), never from accept: no start. */
const lg_front_t lg_front_h2 = {
    .name = "h2",
    .kind = LG_FRONT_H1,
    .conn_size = sizeof(h1_conn_t),
    .event = h2_event,
    .run = h2_run,
    .timeout = h2_timeout,
    .release = h2_release,
};
