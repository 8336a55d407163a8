/*
 * h1.c - the HTTP/1.1 front: connection states, reading and checking request heads, handing
 * them to exchanges (see h1.h). Responses and closing are in h1_reply.c.
 */
#include "front/h1.h"

#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "front/h2.h"
#include "front/listener.h"
#include "http/diag.h"
#include "http/field.h"
#include "stream/tls.h"
#include "tls/tls.h"

static int on_request_head(llhttp_t *p);

static const llhttp_settings_t req_settings = {.on_headers_complete = on_request_head};

static int on_request_head(llhttp_t *p)
{
    h1_txn_t *t = p->data;

    t->head_done = 1;
    return HPE_PAUSED;
}

/* A request begins: its exchange, and the parser for its head. */
static h1_txn_t *txn_new(h1_conn_t *hc)
{
    lg_worker_t *w = hc->c.ls->w;
    h1_txn_t *t = lg_freelist_get(&w->free_h1_txns);

    if (t == NULL)
        return NULL;
    lg_exchange_init(&t->x, w, &lg_h1_xfront, hc, &hc->c.s, &hc->in, hc->c.ls->conf,
                     hc->c.ls->index, &hc->c.peer.sa);
    t->x.tls = lg_stream_ssl(&hc->c.s);
    t->x.client_fd = hc->c.s.sock.io.fd;
    t->x.local = lg_conn_local(&hc->c);
    t->parsed = 0;
    t->head_done = 0;
    t->client_ka = 0;
    t->http10 = 0;
    llhttp_init(&t->req, HTTP_REQUEST, &req_settings);
    t->req.data = t;
    return t;
}

void lg_h1_txn_free(h1_conn_t *hc)
{
    lg_worker_t *w = hc->c.ls->w;

    lg_exchange_release(&hc->txn->x);
    if (lg_freelist_put(&w->free_h1_txns, hc->txn))
        w->released = 1; /* a burst is over: give the memory back (trim) */
    hc->txn = NULL;
}

static int method_idempotent(uint8_t m)
{
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_TRACE ||
           m == HTTP_PUT || m == HTTP_DELETE;
}

/* Check the request head and describe it in `xr`; returns 0 or the status to answer with. */
static int request_check(h1_conn_t *hc, lg_req_head_t *rq, uint32_t hlen, lg_xreq_t *xr)
{
    h1_txn_t *t = hc->txn;
    int status;

    if (hlen > hc->c.ls->w->conf->limits.max_header_size)
        return 431;
    if (t->req.http_major != 1) /* 0: an HTTP/0.9 line, or a tab taken for part of the target */
        return t->req.http_major == 0 ? 400 : 505;
    if (t->req.method == HTTP_CONNECT)
        return 405;
    status = lg_req_head_scan(rq, hc->in->data + hc->in->pos, hlen, t->req.http_minor);
    if (status != 0)
        return status;
    xr->head = rq;
    xr->head_len = hlen;
    xr->head_only = t->req.method == HTTP_HEAD;
    xr->idempotent = method_idempotent(t->req.method) != 0;
    xr->has_length = (t->req.flags & F_CONTENT_LENGTH) != 0;
    xr->length = t->req.content_length;
    xr->body = LG_BODY_NONE;
    if (rq->te == LG_TE_CHUNKED) {
        xr->body = LG_BODY_CHUNKED;
        /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing: close after. */
        if (t->http10)
            t->client_ka = 0;
    } else if (xr->has_length && xr->length > 0) {
        xr->body = LG_BODY_LENGTH;
    }
    return 0;
}

/* The request head is in[pos .. pos+hlen): check it and give it to the exchange. */
static void dispatch(h1_conn_t *hc, uint32_t hlen)
{
    h1_txn_t *t = hc->txn;
    lg_req_head_t rq;
    lg_xreq_t xr = {0};
    int status;

    t->http10 = t->req.http_minor == 0;
    t->client_ka = llhttp_should_keep_alive(&t->req) != 0;
    t->x.start = lg_now;
    t->x.head_only = t->req.method == HTTP_HEAD; /* an error page to HEAD has no body either */
    lg_timer_del(&hc->c.timer);
    hc->c.state = H1_EXCHANGE;
    status = request_check(hc, &rq, hlen, &xr);
    if (status != 0) {
        t->x.head_in = hlen;
        lg_h1_reply(hc, status);
        return;
    }
    lg_exchange_request(&t->x, &xr);
}

/* The answer to a request llhttp refused: 505 for a well-formed version other than 1.x. */
static int parse_error_status(const lg_buf_t *b, llhttp_errno_t err)
{
    const char *p = b->data + b->pos, *eol = memchr(p, '\r', lg_buf_len(b)), *sp;
    lg_span_t version;

    if (err != HPE_INVALID_VERSION || eol == NULL ||
        (sp = memrchr(p, ' ', (size_t)(eol - p))) == NULL)
        return 400;
    version.p = sp + 1;
    version.len = (size_t)(eol - version.p);
    return lg_field_is_http_version(version) ? 505 : 400;
}

/*
 * RFC 9112 2.2: empty lines (CRLF) before a request line are ignored, as a client may send one
 * after a body. LG_AGAIN while only empty lines (or a CR) have arrived.
 */
static int skip_empty_lines(lg_buf_t *b)
{
    while (lg_buf_len(b) >= 2 && b->data[b->pos] == '\r' && b->data[b->pos + 1] == '\n')
        b->pos += 2;
    if (lg_buf_len(b) == 0 || (lg_buf_len(b) == 1 && b->data[b->pos] == '\r'))
        return LG_AGAIN;
    return LG_OK;
}

/* Parse what `in` holds of a request head. LG_OK: dispatched or answered; LG_AGAIN: more. */
static int head_parse(h1_conn_t *hc)
{
    h1_txn_t *t = hc->txn;
    lg_buf_t *b = hc->in;
    const char *start;
    size_t len;
    llhttp_errno_t err;

    if (t->parsed == 0 && skip_empty_lines(b) == LG_AGAIN)
        return LG_AGAIN;
    start = b->data + b->pos + t->parsed;
    len = lg_buf_len(b) - t->parsed;
    err = llhttp_execute(&t->req, start, len);

    if (err == HPE_PAUSED && t->head_done) {
        dispatch(hc, (uint32_t)(llhttp_get_error_pos(&t->req) - (b->data + b->pos)));
        return LG_OK;
    }
    if (err != HPE_OK) {
        lg_log(LG_LOG_INFO, "client sent an invalid request: %s", llhttp_get_error_reason(&t->req));
        lg_h1_reply(hc, parse_error_status(b, err));
        return LG_OK;
    }
    t->parsed += (uint32_t)len;
    if (lg_buf_len(b) >= hc->c.ls->w->conf->limits.max_header_size) {
        lg_h1_reply(hc, 431);
        return LG_OK;
    }
    return LG_AGAIN;
}

/* Bytes of a head arrived: a request begins (exchange, timer) unless one is under way. */
static int head_begin(h1_conn_t *hc)
{
    if (hc->txn != NULL)
        return LG_OK;
    if ((hc->txn = txn_new(hc)) == NULL) {
        lg_conn_close(&hc->c);
        return LG_ERR;
    }
    hc->c.state = H1_HEAD;
    lg_conn_timer(&hc->c, &hc->c.ls->w->q.client_header);
    return LG_OK;
}

/* Read into `in`: LG_OK (bytes added), LG_AGAIN, or LG_ERR (the connection was closed). */
static int head_fill(h1_conn_t *hc)
{
    lg_buf_t *b = hc->in;
    ssize_t n;

    if (b == NULL) {
        if ((b = hc->in = lg_buf_get()) == NULL) {
            lg_conn_close(&hc->c);
            return LG_ERR;
        }
    } else if (lg_buf_room(b) == 0) {
        lg_buf_compact(b);
    }
    n = lg_stream_read(&hc->c.s, b->data + b->last, lg_buf_room(b));
    if (n == LG_AGAIN) {
        if (lg_buf_len(b) == 0)
            lg_buf_put(&hc->in);
        return LG_AGAIN;
    }
    if (n <= 0) {
        if (n < 0) /* a reset, or a TLS error (EPROTO) */
            lg_log(LG_LOG_INFO, "reading from the client failed (%d: %s)", errno, strerror(errno));
        else if (hc->c.state == H1_HEAD)
            lg_log(LG_LOG_INFO, "client closed the connection while sending a request head");
        else if (lg_debug_on())
            lg_diag_conn(&hc->c.peer.sa, "closed by the client between requests");
        lg_conn_close(&hc->c);
        return LG_ERR;
    }
    b->last += (uint32_t)n;
    return LG_OK;
}

/*
 * Plain HTTP sent to a TLS listener: answered in plain HTTP, as nginx does, so that the user
 * sees what went wrong rather than a reset; then closed.
 */
static void plain_http_reply(h1_conn_t *hc)
{
#define PLAIN_HTTP_BODY "400 Bad Request: plain HTTP was sent to an HTTPS port.\n"
    static const char page[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 55\r\n"
                               "Connection: close\r\n"
                               "\r\n" PLAIN_HTTP_BODY;
    struct iovec iov = {(void *)(uintptr_t)page, sizeof(page) - 1};

    _Static_assert(sizeof(PLAIN_HTTP_BODY) - 1 == 55, "Content-Length of the plain HTTP page");

    lg_log(LG_LOG_INFO, "client sent plain HTTP to the TLS listener %s", hc->c.ls->conf->name);
    if (hc->txn == NULL && (hc->txn = txn_new(hc)) != NULL) { /* counted and logged as a 400 */
        hc->txn->x.tls = NULL;                                /* no session: the handshake failed */
        hc->txn->x.status = 400;
        hc->txn->x.own_body = sizeof(PLAIN_HTTP_BODY) - 1;
        hc->txn->x.head_out = sizeof(page) - sizeof(PLAIN_HTTP_BODY);
    }
    lg_sock_writev(&hc->c.s.sock, &iov, 1); /* the socket itself, not the TLS stream */
    lg_stream_shutdown(&hc->c.s);
    lg_conn_close(&hc->c);
}

/* Handed to the h2 front (a result of h2c_check). */
#define H1_HANDED 1

/*
 * h2c with prior knowledge: the first bytes of a connection on a plain listener with http2 are
 * the HTTP/2 preface. LG_OK: they are not (HTTP/1.1 goes on); LG_AGAIN: a part of it so far;
 * H1_HANDED: the connection is the h2 front's now.
 */
static int h2c_check(h1_conn_t *hc)
{
    lg_buf_t *b = hc->in;
    size_t n = LG_MIN(lg_buf_len(b), (size_t)LG_H2_PREFACE_LEN);

    if (memcmp(b->data + b->pos, LG_H2_PREFACE, n) != 0) {
        hc->c.fflags &= (uint8_t)~H1_H2C;
        return LG_OK;
    }
    if (n < LG_H2_PREFACE_LEN)
        return LG_AGAIN;
    hc->in = NULL;
    lg_h2_start(&hc->c, b);
    return H1_HANDED;
}

/* TLS agreed on HTTP/2 (ALPN h2): the connection is the h2 front's from its first byte. */
static int h2_by_alpn(h1_conn_t *hc)
{
    SSL *ssl;

    if (!hc->c.ls->conf->http2 || hc->txn != NULL || hc->in != NULL ||
        (ssl = lg_stream_ssl(&hc->c.s)) == NULL || !lg_tls_alpn_h2(ssl))
        return 0;
    lg_h2_start(&hc->c, NULL);
    return 1;
}

/* Read and parse a request head (state IDLE or HEAD), once the stream's handshake is done. */
static void head_read(h1_conn_t *hc)
{
    int r = lg_conn_handshake(&hc->c);

    if (r != LG_OK) {
        if (r == LG_ERR && !lg_stream_closed(&hc->c.s))
            plain_http_reply(hc);
        return;
    }
    if (h2_by_alpn(hc))
        return;
    for (;;) {
        if (hc->in != NULL && lg_buf_len(hc->in) > 0) {
            r = (hc->c.fflags & H1_H2C) ? h2c_check(hc) : LG_OK;
            if (r == H1_HANDED)
                return;
            if (r == LG_OK && head_begin(hc) != LG_OK)
                return;
            if (r == LG_OK && hc->txn->parsed < lg_buf_len(hc->in) && head_parse(hc) == LG_OK)
                return;
        }
        if (!(hc->c.s.sock.flags & LG_SOCK_RD) || head_fill(hc) != LG_OK)
            return;
    }
}

static void h1_run(lg_conn_t *c)
{
    h1_conn_t *hc = (h1_conn_t *)c;

    switch (hc->c.state) {
    case H1_IDLE:
    case H1_HEAD:
        head_read(hc);
        return;
    case H1_EXCHANGE:
        lg_exchange_run(&hc->txn->x);
        return;
    case H1_REPLY:
        lg_h1_reply_flush(hc);
        return;
    default:
        lg_h1_linger_read(hc);
        return;
    }
}

static void h1_event(lg_conn_t *c, uint32_t ev)
{
    h1_conn_t *hc = (h1_conn_t *)c;
    lg_exchange_t *x = hc->txn != NULL ? &hc->txn->x : NULL;

    /*
     * The client closed while its request is being answered. Like nginx, that aborts the
     * exchange, unless pipelined requests wait in the buffer (a half-close after sending).
     */
    if (hc->c.state == H1_EXCHANGE && !x->tunnel && (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
        x->up.done && (hc->in == NULL || lg_buf_len(hc->in) == 0)) {
        lg_log(LG_LOG_INFO, "client closed the connection while waiting for the response");
        lg_conn_close(c);
        return;
    }
    h1_run(c);
}

static void h1_timeout(lg_conn_t *c)
{
    static const char *const why[] = {
        [H1_IDLE] = "nothing received within timeouts.client_idle (client_header when new)",
        [H1_HEAD] = "no request head within timeouts.client_header",
        [H1_EXCHANGE] = "timed out",
        [H1_REPLY] = "the client did not take our reply within timeouts.client_idle",
        [H1_LINGER] = "lingering close over",
    };
    h1_conn_t *hc = (h1_conn_t *)c;

    if (hc->c.state == H1_HEAD && hc->txn != NULL && hc->in != NULL && lg_buf_len(hc->in) > 0) {
        lg_log(LG_LOG_INFO, "client timed out sending the request head");
        hc->c.fflags |= H1_CLOSE_AFTER;
        lg_h1_reply(hc, 408);
        return;
    }
    if (c->s.sock.flags & LG_STREAM_HANDSHAKE) {
        lg_conn_handshake_timeout(c);
        return;
    }
    if (lg_debug_on())
        lg_diag_conn(&c->peer.sa, "closing: %s", why[hc->c.state]);
    lg_conn_close(c);
}

static void h1_start(lg_conn_t *c)
{
    h1_conn_t *hc = (h1_conn_t *)c;

    hc->c.state = H1_IDLE;
    if (c->ls->conf->http2 && c->ls->conf->tls == NULL)
        hc->c.fflags |= H1_H2C;
    lg_conn_timer(c, &c->ls->w->q.client_header);
}

static void h1_release(lg_conn_t *c)
{
    h1_conn_t *hc = (h1_conn_t *)c;

    if (hc->txn != NULL)
        lg_h1_txn_free(hc);
    lg_buf_put(&hc->in);
}

const lg_front_t lg_front_h1 = {
    .name = "h1",
    .kind = LG_FRONT_H1,
    .conn_size = sizeof(h1_conn_t),
    .start = h1_start,
    .event = h1_event,
    .run = h1_run,
    .timeout = h1_timeout,
    .release = h1_release,
};
