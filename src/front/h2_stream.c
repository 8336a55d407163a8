/*
 * h2_stream.c - HTTP/2 streams: their life in nghttp2's callbacks, and the stream the exchange
 * sees (reads take request DATA and open the window, writes fill the response buffer that
 * nghttp2 frames as the client's window allows). See h2.h.
 */
#include "front/h2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin/stats.h"
#include "core/log.h"
#include "front/listener.h"
#include "stream/tls.h"

/* DATA frames with neither bytes nor END_STREAM a connection may send (a flood otherwise). */
#define H2_EMPTY_DATA_MAX 100
/* Request bytes discarded after an early answer before the stream is reset (see discard). */
#define H2_DISCARD_MAX (1u << 20)
/* Length of a DATA frame's header (RFC 9113 4.1). */
#define H2_FRAME_HD 9

static h2_stream_t *stream_of(nghttp2_session *ng, int32_t id)
{
    return nghttp2_session_get_stream_user_data(ng, id);
}

static h2_stream_t *vs_stream(lg_stream_t *s)
{
    return lg_container_of(s->impl, h2_stream_t, impl);
}

void lg_h2_schedule(h2_stream_t *st)
{
    if (!st->ready) {
        st->ready = 1;
        st->ready_next = st->h->ready;
        st->h->ready = st;
    }
    lg_h2_post(st->h);
}

void lg_h2_run_ready(h2_sess_t *h)
{
    h2_stream_t *list = h->ready; /* a stream that yields again waits for the next run */

    h->ready = NULL;
    while (list != NULL) {
        h2_stream_t *st = list;

        list = st->ready_next;
        st->ready = 0;
        if (st->started && !st->ended)
            lg_exchange_run(&st->x);
    }
}

/* ---- the exchange's view of the stream */

/* Request body: what the client sent, handed over as the pump asks; the window opens by as much. */
static ssize_t vs_read(lg_stream_t *s, void *buf, size_t len)
{
    h2_stream_t *st = vs_stream(s);
    h2_rin_t *b = st->rin;
    size_t n;

    if (b == NULL || b->pos == b->last) {
        if (st->in_eof)
            return 0;
        s->sock.flags &= ~LG_SOCK_RD;
        return LG_AGAIN;
    }
    n = LG_MIN(len, (size_t)(b->last - b->pos));
    memcpy(buf, b->data + b->pos, n);
    b->pos += (uint32_t)n;
    nghttp2_session_consume(st->h->ng, st->id, n);
    lg_h2_post(st->h); /* a WINDOW_UPDATE may be due */
    if (b->pos == b->last) {
        free(st->rin);
        st->rin = NULL;
        if (!st->in_eof)
            s->sock.flags &= ~LG_SOCK_RD;
    }
    return (ssize_t)n;
}

/* Response body: into `rout`, as much as fits; nghttp2 frames it as the window allows. */
static ssize_t vs_writev(lg_stream_t *s, const struct iovec *iov, int iovcnt)
{
    h2_stream_t *st = vs_stream(s);
    lg_buf_t *b = st->rout;
    size_t n = 0;

    if (b == NULL && (b = st->rout = lg_buf_get()) == NULL) {
        errno = ENOMEM;
        return LG_ERR;
    }
    lg_buf_compact(b);
    for (int i = 0; i < iovcnt && lg_buf_room(b) > 0; i++) {
        size_t k = LG_MIN(iov[i].iov_len, lg_buf_room(b));

        memcpy(b->data + b->last, iov[i].iov_base, k);
        b->last += (uint32_t)k;
        n += k;
    }
    if (lg_buf_room(b) == 0)
        s->sock.flags &= ~LG_SOCK_WR;
    if (n > 0 && st->deferred) {
        st->deferred = 0;
        nghttp2_session_resume_data(st->h->ng, st->id);
    }
    lg_h2_post(st->h);
    return (ssize_t)n;
}

/* Tunnels are not made over HTTP/2 streams: nothing to shut. */
static int vs_shutdown(lg_stream_t *s)
{
    LG_UNUSED(s);
    return LG_OK;
}

/* Never in the loop: readiness comes from the session. */
static void vs_events(lg_stream_t *s, uint32_t ev)
{
    LG_UNUSED(s);
    LG_UNUSED(ev);
}

static void vs_release(lg_stream_t *s)
{
    LG_UNUSED(s);
}

static const lg_stream_ops_t vs_ops = {
    .name = "h2",
    .read = vs_read,
    .writev = vs_writev,
    .shutdown = vs_shutdown,
    .events = vs_events,
    .release = vs_release,
};

/* ---- life of a stream */

static h2_stream_t *stream_new(h2_sess_t *h, int32_t id)
{
    lg_conn_t *c = &h->hc->c;
    h2_stream_t *st = lg_freelist_get(&h->w->free_h2_streams);

    if (st == NULL)
        return NULL;
    lg_exchange_init(&st->x, h->w, &lg_h2_xfront, st, &st->vs, &st->req, c->ls->conf, c->ls->index,
                     &c->peer.sa);
    st->x.tls = lg_stream_ssl(&c->s);
    st->x.client_fd = c->s.sock.io.fd;
    st->x.local = lg_conn_local(c);
    memset(&st->h, 0, sizeof(*st) - offsetof(h2_stream_t, h));
    st->h = h;
    st->id = id;
    st->impl.ops = &vs_ops;
    st->vs.impl = &st->impl;
    st->vs.sock.io.fd = -1;
    st->vs.sock.flags = LG_SOCK_WR;
    st->next = h->streams;
    if (st->next != NULL)
        st->next->prev = st;
    h->streams = st;
    h->nstreams++;
    lg_stats_add(&lg_stats_listener(c->ls->index)->h2_streams_active, 1);
    return st;
}

static void ready_unlink(h2_stream_t *st)
{
    h2_stream_t **p = &st->h->ready;

    while (*p != NULL && *p != st)
        p = &(*p)->ready_next;
    if (*p != NULL)
        *p = st->ready_next;
    st->ready = 0;
}

void lg_h2_stream_free(h2_stream_t *st)
{
    h2_sess_t *h = st->h;
    lg_worker_t *w = h->w;

    if (st->ready)
        ready_unlink(st);
    if (st->started && !st->ended)
        lg_h2_active(h, -1); /* cancelled: the upstream side closes, or lingers (exchange.c) */
    lg_exchange_release(&st->x);
    if (st->rin != NULL) /* DATA nobody will read: the connection's window gets it back */
        nghttp2_session_consume_connection(h->ng, st->rin->last - st->rin->pos);
    lg_buf_put(&st->hbuf);
    lg_buf_put(&st->req);
    free(st->rin);
    lg_buf_put(&st->rout);
    lg_buf_put(&st->trl);
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        h->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    h->nstreams--;
    lg_stats_add(&lg_stats_listener(h->hc->c.ls->index)->h2_streams_active, (uint64_t)-1);
    if (lg_freelist_put(&w->free_h2_streams, st))
        w->released = 1;
}

/* ---- nghttp2's callbacks */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    h2_stream_t *st;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    lg_h2_sleep_stirred(ud);
    if (lg_h2_stream_id_check(ud, f->hd.stream_id) != LG_OK)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if ((st = stream_new(ud, f->hd.stream_id)) == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the stream is reset */
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, st);
    return 0;
}

/* A request field; trailers (fields after the body) are not passed on. */
static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    h2_stream_t *st = stream_of(ng, f->hd.stream_id);
    h2_sess_t *h = ud;

    LG_UNUSED(flags);
    if (st == NULL || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    st->hsize += (uint32_t)LG_MIN(nlen + vlen + 32, (size_t)UINT32_MAX / 2);
    if (st->too_large || st->hsize > h->w->conf->limits.max_header_size) {
        st->too_large = 1; /* answered 431; nothing more is kept (an HPACK bomb stays small) */
        lg_buf_put(&st->hbuf);
        return 0;
    }
    return lg_h2_field(st, name, nlen, value, vlen) == LG_OK
               ? 0
               : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

/* The client's side of the stream ended: the pump reads the end of the body. */
static void stream_in_end(h2_stream_t *st)
{
    st->in_eof = 1;
    st->vs.sock.flags |= LG_SOCK_RD;
    if (st->started && !st->ended)
        lg_h2_schedule(st);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    h2_sess_t *h = ud;
    h2_stream_t *st = stream_of(ng, f->hd.stream_id);
    int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

    switch (f->hd.type) {
    case NGHTTP2_DATA:
        if (f->hd.length == 0 && !end && ++h->empty_data > H2_EMPTY_DATA_MAX) {
            lg_h2_fatal(h, NGHTTP2_ENHANCE_YOUR_CALM, "too many empty DATA frames");
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        break;
    case NGHTTP2_HEADERS:
        if (st != NULL && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
            st->in_eof = end != 0;
            lg_h2_request(st, end);
            return 0;
        }
        break;
    case NGHTTP2_RST_STREAM:
        lg_stats_add(&lg_stats_listener(h->hc->c.ls->index)->h2_resets_client, 1);
        return lg_h2_reset_received(h) == LG_OK ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
    case NGHTTP2_SETTINGS:
        if (f->hd.flags & NGHTTP2_FLAG_ACK)
            lg_h2_sleep_acked(h);
        return 0;
    default:
        return 0;
    }
    if (st != NULL && end)
        stream_in_end(st);
    return 0;
}

/*
 * Request DATA nobody reads (the request was answered before its body ended). Clients read an
 * early answer better when the body may go on a little (curl loses it to a RST_STREAM that comes
 * with it), so the stream is reset (NO_ERROR, RFC 9113 8.1) only once the answer is out and
 * H2_DISCARD_MAX more bytes came.
 */
static void discard(nghttp2_session *ng, h2_stream_t *st, size_t len)
{
    st->discarded = (uint32_t)LG_MIN((uint64_t)st->discarded + len, (uint64_t)UINT32_MAX);
    if (st->reset_after && st->out_done && !st->in_eof &&
        (st->discarded > H2_DISCARD_MAX || st->x.up.done)) {
        st->reset_after = 0;
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    }
}

/* Request DATA: kept until the pump takes it (the stream's window bounds it to one buffer). */
static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *ud)
{
    h2_stream_t *st = stream_of(ng, id);
    h2_rin_t *b;

    LG_UNUSED(flags);
    LG_UNUSED(ud);
    if (st == NULL || !st->started || st->ended || st->x.up.done) {
        nghttp2_session_consume(ng, id, len); /* nobody reads it: the window stays open */
        if (st != NULL)
            discard(ng, st, len);
        return 0;
    }
    if ((b = st->rin) == NULL) {
        if ((b = st->rin = malloc(sizeof(*b))) == NULL)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        b->pos = b->last = 0;
    }
    if (H2_WINDOW - b->last < len) {
        memmove(b->data, b->data + b->pos, b->last - b->pos);
        b->last -= b->pos;
        b->pos = 0;
    }
    if (H2_WINDOW - b->last < len) /* more than the window: nghttp2 does not let it through */
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    memcpy(b->data + b->last, data, len);
    b->last += (uint32_t)len;
    st->vs.sock.flags |= LG_SOCK_RD;
    lg_h2_schedule(st);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    h2_stream_t *st = stream_of(ng, id);

    LG_UNUSED(ud);
    if (st == NULL)
        return 0;
    if (code != NGHTTP2_NO_ERROR && st->started && !st->ended) /* browsers cancel: debug */
        lg_debug("HTTP/2 stream %d reset (%s) while its request was served", id,
                 nghttp2_http2_strerror(code));
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    lg_h2_stream_free(st);
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    h2_sess_t *h = ud;
    lg_stats_listener_t *sl = lg_stats_listener(h->hc->c.ls->index);
    h2_stream_t *st;

    if (f->hd.type == NGHTTP2_GOAWAY) {
        lg_stats_add(&sl->h2_goaway, 1);
        if (f->goaway.error_code != NGHTTP2_NO_ERROR && !h->goaway)
            lg_h2_goaway_log(h, f->goaway.error_code); /* nghttp2's own: a protocol error */
    } else if (f->hd.type == NGHTTP2_RST_STREAM && f->rst_stream.error_code != NGHTTP2_NO_ERROR)
        lg_stats_add(&sl->h2_resets_sent, 1); /* NO_ERROR: "stop sending", not a failure */
    else if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
             (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
             (st = stream_of(ng, f->hd.stream_id)) != NULL) {
        st->out_done = 1;
        discard(ng, st, 0);
    }
    return 0;
}

/* The response body's bytes for one DATA frame: those in `rout` (copied by send_data). */
ssize_t lg_h2_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    h2_stream_t *st = src->ptr;
    size_t have = st->rout != NULL ? lg_buf_len(st->rout) : 0;

    LG_UNUSED(ng);
    LG_UNUSED(id);
    LG_UNUSED(buf);
    LG_UNUSED(ud);
    if (have == 0 && !st->out_eof) {
        st->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (len >= have && st->out_eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (st->trl != NULL && lg_h2_trailers(st) == LG_OK)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM; /* the trailers end the stream */
    }
    return (ssize_t)LG_MIN(len, have);
}

/* Write a DATA frame: its header, then the bytes from `rout`; the pump may write more. */
static int send_data(nghttp2_session *ng, nghttp2_frame *f, const uint8_t *hd, size_t len,
                     nghttp2_data_source *src, void *ud)
{
    h2_stream_t *st = src->ptr;
    lg_buf_t *b = lg_h2_out(ud, H2_FRAME_HD + len);

    LG_UNUSED(ng);
    LG_UNUSED(f);
    if (b == NULL)
        return NGHTTP2_ERR_WOULDBLOCK;
    memcpy(b->data + b->last, hd, H2_FRAME_HD);
    b->last += H2_FRAME_HD;
    st->h->data_out = 1;
    if (len > 0) {
        memcpy(b->data + b->last, st->rout->data + st->rout->pos, len);
        b->last += (uint32_t)len;
        st->rout->pos += (uint32_t)len;
        if (lg_buf_len(st->rout) == 0)
            lg_buf_put(&st->rout);
    }
    if (!(st->vs.sock.flags & LG_SOCK_WR) && st->started && !st->ended) {
        st->vs.sock.flags |= LG_SOCK_WR;
        lg_h2_schedule(st);
    }
    return 0;
}

void lg_h2_stream_callbacks(nghttp2_session_callbacks *cb)
{
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
}
