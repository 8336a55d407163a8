/*
 * response.c - the backend's response head: read, parse (llhttp), check, hand to the front,
 * then start the body relay (or a tunnel after a 101).
 */
#include "exchange/xint.h"

#include <errno.h>

#include "core/log.h"
#include "upstream/sticky.h"

/*
 * The final response head (rbuf[pos .. pos+hlen)) was passed on: the rebuilt request head goes
 * back, and the down pump relays the body in `mode` after the head in x->chead.
 */
static int body_start(lg_exchange_t *x, uint32_t hlen, lg_body_t mode, uint64_t length)
{
    lg_buf_t *b = x->rbuf;

    x->status = x->rsp.status_code;
    x->rsp_at = lg_now;
    b->pos += hlen;
    x->rsp_head = 1;
    x->up.head = NULL; /* the rebuilt request head was written whole: it goes back now */
    lg_buf_put(&x->uhead);
    lg_backend_ok(x->be);
    x->down.dst = x->client;
    x->down.buf = &x->rbuf;
    x->down.head = x->chead;
    return lg_pump_start(&x->down, mode, length, (uint32_t)lg_buf_len(b));
}

/* A 1xx (but 101): passed to the front, then the final response is awaited. */
static int interim(lg_exchange_t *x, const lg_rsp_head_t *rs, uint32_t hlen)
{
    lg_xrsp_t r = {.head = rs, .status = x->rsp.status_code, .mode = LG_BODY_NONE};

    x->rbuf->pos += hlen;
    x->parsed = 0;
    if (x->front->response_head(x, &r) != LG_OK)
        return LG_ERR;
    lg_x_response_parser_reset(x);
    return LG_AGAIN;
}

/*
 * A 101 to a request that asked to upgrade (WebSocket): passed on, then both ways are relayed
 * as a tunnel; bytes the client sent after its request already wait in *x->cin.
 */
static int switch_protocols(lg_exchange_t *x, const lg_rsp_head_t *rs, uint32_t hlen)
{
    lg_xrsp_t r = {.head = rs, .status = 101, .mode = LG_BODY_EOF, .upgrade = 1};

    if (!x->upgrade || !lg_rsp_upgrade_agreed(rs, x->uhead->data, x->uhead->last))
        return LG_ERR; /* a protocol the client did not ask for */
    if (x->front->response_head(x, &r) != LG_OK)
        return LG_ERR;
    x->tunnel = 1;
    body_start(x, hlen, LG_BODY_EOF, 0);
    x->req_done = 0;
    lg_pump_start(&x->up, LG_BODY_EOF, 0, *x->cin != NULL ? (uint32_t)lg_buf_len(*x->cin) : 0);
    x->front->again(x); /* the client's side may have bytes waiting already */
    return LG_OK;
}

/* The body framing the backend used for the final response. */
static lg_body_t framing(const lg_exchange_t *x, const lg_rsp_head_t *rs)
{
    if (x->head_only || x->rsp.status_code == 204 || x->rsp.status_code == 304)
        return LG_BODY_NONE;
    if (rs->te == LG_TE_CHUNKED || rs->te == LG_TE_CODED)
        return LG_BODY_CHUNKED;
    if (rs->te == LG_TE_CLOSE)
        return LG_BODY_EOF; /* RFC 9112 6.3: a list not ending in chunked */
    if (x->rsp.flags & F_CONTENT_LENGTH)
        return LG_BODY_LENGTH;
    return LG_BODY_EOF;
}

/*
 * The response head is in rbuf[pos .. pos+hlen): check it, pass it on and start the body.
 * LG_OK, LG_AGAIN after a 1xx, LG_ERR (the head is unacceptable), LG_PUMP_EBAD (the body's
 * first bytes were malformed: the exchange ended).
 */
static int response_head(lg_exchange_t *x, uint32_t hlen)
{
    lg_buf_t *b = x->rbuf;
    lg_rsp_head_t rs;
    lg_xrsp_t r = {.head = &rs, .status = x->rsp.status_code};
    char cookie[LG_STICKY_COOKIE_MAX];

    if (lg_rsp_head_scan(&rs, b->data + b->pos, hlen) != LG_OK)
        return LG_ERR;
    if (r.status == 101)
        return switch_protocols(x, &rs, hlen);
    if (r.status < 200)
        return interim(x, &rs, hlen);
    r.mode = framing(x, &rs);
    r.length = r.mode == LG_BODY_LENGTH ? x->rsp.content_length : 0;
    r.set_cookie = lg_sticky_set_cookie(x->be, x->sticky, x->tls != NULL, cookie, sizeof(cookie));
    if (x->front->response_head(x, &r) != LG_OK)
        return LG_ERR;
    if (body_start(x, hlen, r.mode, r.length) == LG_OK)
        return LG_OK;
    lg_x_response_body_bad(x);
    return LG_PUMP_EBAD;
}

/* Parse what rbuf holds. LG_OK: the body started; LG_AGAIN: need more; LG_ERR: ended. */
static int response_parse(lg_exchange_t *x)
{
    lg_buf_t *b = x->rbuf;

    for (;;) {
        const char *start = b->data + b->pos + x->parsed;
        size_t n = lg_buf_len(b) - x->parsed;
        llhttp_errno_t err;
        int r;

        if (n == 0)
            return LG_AGAIN;
        err = llhttp_execute(&x->rsp, start, n);
        if (err == HPE_PAUSED && x->head_done) {
            r = response_head(x, (uint32_t)(llhttp_get_error_pos(&x->rsp) - (b->data + b->pos)));
            if (r == LG_AGAIN)
                continue; /* after a 1xx */
            if (r == LG_ERR)
                lg_x_upstream_fail(x, 502, "upstream sent an invalid response head:", 0);
            return r == LG_OK ? LG_OK : LG_ERR;
        }
        if (err != HPE_OK) {
            lg_log(LG_LOG_ERR, "upstream %s sent an invalid response: %s", lg_backend_name(x->be),
                   llhttp_get_error_reason(&x->rsp));
            lg_x_end(x, LG_XEND_REPLY, 502);
            return LG_ERR;
        }
        x->parsed += (uint32_t)n;
        return LG_AGAIN;
    }
}

/* Room in rbuf for more of the head: LG_OK, or LG_ERR (ended). */
static int head_room(lg_exchange_t *x)
{
    lg_buf_t *b = x->rbuf;

    if (b == NULL) {
        if ((x->rbuf = lg_buf_get()) == NULL) {
            lg_x_upstream_fail(x, 502, "out of memory reading the response from", 0);
            return LG_ERR;
        }
    } else if (lg_buf_room(b) == 0) {
        if (b->pos == 0) {
            lg_x_upstream_fail(x, 502, "upstream sent a response head larger than the buffer:", 0);
            return LG_ERR;
        }
        lg_buf_compact(b);
    }
    return LG_OK;
}

int lg_x_response_read(lg_exchange_t *x)
{
    for (;;) {
        ssize_t n;
        int r;

        if (x->rbuf != NULL && (r = response_parse(x)) != LG_AGAIN)
            return r;
        if (!(x->u->s.sock.flags & LG_SOCK_RD))
            return LG_AGAIN;
        if (head_room(x) != LG_OK)
            return LG_ERR;
        n = lg_stream_read(&x->u->s, x->rbuf->data + x->rbuf->last, lg_buf_room(x->rbuf));
        if (n == LG_AGAIN) {
            if (lg_buf_len(x->rbuf) == 0)
                lg_buf_put(&x->rbuf);
            return LG_AGAIN;
        }
        if (n <= 0) {
            lg_x_upstream_fail(x, 502,
                               n == 0 ? "upstream closed the connection before responding:"
                                      : "reading the response from",
                               n == 0 ? 0 : errno);
            return LG_ERR;
        }
        x->rsp_started = 1;
        x->rbuf->last += (uint32_t)n;
    }
}
