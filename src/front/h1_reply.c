/*
 * h1_reply.c - the HTTP/1.1 front's side of responses: the backend's heads rebuilt for the
 * client, our own error pages, keep-alive, and closing (lingering when the client may still
 * be sending).
 */
#include "front/h1.h"

#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "front/listener.h"
#include "http/diag.h"
#include "http/errpage.h"

#define LG_LINGER_BUF 4096

static h1_conn_t *conn_of(const lg_exchange_t *x)
{
    return x->front_data;
}

/* Append the response head rebuilt with `rb` to x->chead; its length, 0 if it cannot. */
static size_t chead_append(lg_exchange_t *x, const lg_rsp_head_t *rs, const lg_rsp_build_t *rb)
{
    size_t n;

    if (x->chead == NULL && (x->chead = lg_buf_get()) == NULL)
        return 0;
    n = lg_rsp_head_build(rs, rb, x->chead->data + x->chead->last, lg_buf_room(x->chead));
    x->chead->last += (uint32_t)n;
    x->head_out += n;
    return n;
}

/* A 1xx: to an HTTP/1.1 client at once (what does not fit goes before the final head). */
static int interim(h1_conn_t *hc, lg_exchange_t *x, const lg_rsp_head_t *rs)
{
    lg_rsp_build_t rb = {0};

    if (hc->txn->http10)
        return LG_OK;
    if (chead_append(x, rs, &rb) == 0)
        return LG_ERR;
    if (hc->c.s.sock.flags & LG_SOCK_WR) {
        struct iovec iov = {x->chead->data + x->chead->pos, lg_buf_len(x->chead)};
        ssize_t w = lg_stream_writev(&hc->c.s, &iov, 1);

        if (w > 0)
            x->chead->pos += (uint32_t)w;
    }
    return LG_OK;
}

static int h1_response_head(lg_exchange_t *x, lg_xrsp_t *r)
{
    h1_conn_t *hc = conn_of(x);
    h1_txn_t *t = hc->txn;
    lg_rsp_build_t rb = {0};
    lg_rule_vals_t vals;

    rb.vals = &vals;
    if (r->status >= 200 || r->upgrade)
        rb.rules = lg_x_rsp_rules(x, &vals); /* not on interim responses */
    if (r->upgrade) {
        rb.upgrade = 1;
        hc->c.fflags |= H1_CLOSE_AFTER; /* the connection ends with the tunnel */
        return chead_append(x, r->head, &rb) != 0 ? LG_OK : LG_ERR;
    }
    if (r->status < 200)
        return interim(hc, x, r->head);
    if (r->mode == LG_BODY_CHUNKED && t->http10)
        r->mode = LG_BODY_DECHUNK;
    if (!t->client_ka || !x->up.done || r->mode == LG_BODY_EOF || r->mode == LG_BODY_DECHUNK ||
        hc->c.ls->w->draining)
        hc->c.fflags |= H1_CLOSE_AFTER;
    rb.keep_chunked = r->mode == LG_BODY_CHUNKED;
    rb.keep_codings = r->mode != LG_BODY_NONE;
    rb.close = (hc->c.fflags & H1_CLOSE_AFTER) != 0;
    rb.keep_alive = !(hc->c.fflags & H1_CLOSE_AFTER) && t->http10;
    rb.set_cookie = r->set_cookie;
    return chead_append(x, r->head, &rb) != 0 ? LG_OK : LG_ERR;
}

void lg_h1_keepalive(h1_conn_t *hc)
{
    if (hc->in != NULL && lg_buf_len(hc->in) == 0)
        lg_buf_put(&hc->in);
    hc->c.state = H1_IDLE;
    lg_conn_timer(&hc->c, &hc->c.ls->w->q.client_idle);
    if (hc->in != NULL || (hc->c.s.sock.flags & LG_SOCK_RD))
        lg_conn_post(&hc->c);
}

void lg_h1_linger_read(h1_conn_t *hc)
{
    char sink[LG_LINGER_BUF];

    while (hc->c.s.sock.flags & LG_SOCK_RD) {
        ssize_t n = lg_stream_read(&hc->c.s, sink, sizeof(sink));

        if (n == 0 || n == LG_ERR) {
            lg_conn_close(&hc->c);
            return;
        }
    }
}

/*
 * Close after a response, ending the request: lingering when the client may still be sending
 * (bytes buffered or readable, or a request body not read to its end), so that no RST destroys
 * the response it has not read yet.
 */
static void close_after_response(h1_conn_t *hc)
{
    h1_txn_t *t = hc->txn;
    int unread = (hc->in != NULL && lg_buf_len(hc->in) > 0) || (hc->c.s.sock.flags & LG_SOCK_RD) ||
                 (t != NULL && t->x.routed && !t->x.up.done);

    if (t != NULL)
        lg_h1_txn_free(hc);
    if (!unread || lg_stream_shutdown(&hc->c.s) != LG_OK) {
        lg_conn_close(&hc->c);
        return;
    }
    lg_buf_put(&hc->in);
    hc->c.state = H1_LINGER;
    lg_conn_timer(&hc->c, &hc->c.ls->w->q.linger);
    lg_h1_linger_read(hc);
}

/* Why the client connection closes after this request, for the debug log. */
static const char *close_reason(const h1_conn_t *hc)
{
    const lg_exchange_t *x = &hc->txn->x;

    if (hc->c.ls->w->draining)
        return "draining (reload or graceful stop)";
    if (x->tunnel)
        return "the tunnel ended";
    if (!hc->txn->client_ka)
        return hc->txn->http10 ? "HTTP/1.0 without keep-alive"
                               : "the client sent Connection: close";
    if (!x->up.done || x->req_aborted)
        return "the request body was not read whole";
    if (!x->rsp_head)
        return "after an error answered by lifeguard";
    return "the response ends with the connection";
}

/* The response is out: keep the connection for the next request, or close it. */
static void response_out(h1_conn_t *hc)
{
    if ((hc->c.fflags & H1_CLOSE_AFTER) || hc->txn->x.req_aborted) {
        if (lg_debug_on())
            lg_diag_conn(&hc->c.peer.sa, "closing after the response: %s", close_reason(hc));
        close_after_response(hc);
        return;
    }
    lg_h1_txn_free(hc);
    lg_h1_keepalive(hc);
}

void lg_h1_reply_flush(h1_conn_t *hc)
{
    lg_buf_t *b = hc->txn->x.chead;
    struct iovec iov;
    ssize_t n;

    if (!(hc->c.s.sock.flags & LG_SOCK_WR))
        return;
    iov.iov_base = b->data + b->pos;
    iov.iov_len = lg_buf_len(b);
    n = lg_stream_writev(&hc->c.s, &iov, 1);
    if (n < 0) {
        lg_conn_close(&hc->c);
        return;
    }
    b->pos += (uint32_t)n;
    if (lg_buf_len(b) == 0)
        response_out(hc);
}

/*
 * The connection stays open after our own answer only when the whole request was read and the
 * answer is about the backend or the route (an error, a redirect, a respond route), never
 * about the request itself.
 */
static int reply_closes(const h1_conn_t *hc, int status)
{
    const lg_exchange_t *x = &hc->txn->x;

    return hc->c.ls->w->draining || !x->routed || !hc->txn->client_ka || !x->up.done ||
           status == 400 || status == 405 || status == 413 || status == 431 || status >= 505 ||
           status == 501;
}

void lg_h1_answer(h1_conn_t *hc, const lg_reply_t *r)
{
    h1_txn_t *t = hc->txn;
    lg_exchange_t *x = &t->x;
    lg_reply_msg_t m;
    size_t n;

    if (!x->routed) {
        if (hc->in != NULL)
            lg_exchange_log_refused(x, hc->in->data + hc->in->pos, lg_buf_len(hc->in));
        x->http_major = t->req.http_major;
        x->http_minor = t->req.http_minor;
    }
    if (reply_closes(hc, r->status))
        hc->c.fflags |= H1_CLOSE_AFTER;
    else if (hc->in != NULL)
        hc->in->pos += x->up.pending; /* a body read whole but not forwarded */
    x->up.pending = 0;
    if (x->chead == NULL && (x->chead = lg_buf_get()) == NULL) {
        lg_conn_close(&hc->c);
        return;
    }
    lg_exchange_reply_msg(x, r, &m);
    x->chead->pos = x->chead->last = 0;
    n = lg_reply_h1(&m, !(hc->c.fflags & H1_CLOSE_AFTER), x->head_only, x->chead->data,
                    lg_buf_size());
    lg_reply_msg_done(&m);
    if (n == 0) { /* cannot happen: what lifeguard answers is bounded well below a buffer */
        lg_log(LG_LOG_ERR, "own reply with status %d does not fit a buffer", r->status);
        lg_conn_close(&hc->c);
        return;
    }
    x->chead->last = (uint32_t)n;
    x->head_out += n;
    x->status = r->status;
    x->own_body = !x->head_only ? (uint32_t)m.body.len : 0;
    hc->c.state = H1_REPLY;
    lg_conn_timer(&hc->c, &hc->c.ls->w->q.client_idle);
    lg_h1_reply_flush(hc);
}

void lg_h1_reply(h1_conn_t *hc, int status)
{
    lg_reply_t r = {.status = status};

    lg_h1_answer(hc, &r);
}

static void h1_ended(lg_exchange_t *x, const lg_xend_t *end)
{
    h1_conn_t *hc = conn_of(x);

    switch (end->how) {
    case LG_XEND_DONE:
        response_out(hc);
        return;
    case LG_XEND_REPLY:
        lg_h1_answer(hc, end->reply);
        return;
    default:
        lg_conn_close(&hc->c);
        return;
    }
}

static void h1_again(lg_exchange_t *x)
{
    lg_conn_post(&conn_of(x)->c);
}

const lg_xfront_t lg_h1_xfront = {
    .response_head = h1_response_head,
    .ended = h1_ended,
    .again = h1_again,
};
