/*
 * xfer.c - the exchange at work: the upstream connection, both body pumps, the timers, and the
 * one exit.
 */
#include "exchange/xint.h"

#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "http/diag.h"
#include "upstream/uptls.h"

static void exchange_end(lg_exchange_t *x, lg_xend_how_t how, const lg_reply_t *r)
{
    lg_xend_t e = {how, r};

    if (x->ended)
        return;
    x->ended = 1;
    lg_timer_del(&x->timer);
    if (how != LG_XEND_DONE)
        lg_x_drop_upstream(x);
    x->front->ended(x, &e);
}

void lg_x_end(lg_exchange_t *x, lg_xend_how_t how, int status)
{
    lg_reply_t r = {.status = status};

    exchange_end(x, how, how == LG_XEND_REPLY ? &r : NULL);
}

void lg_x_reply(lg_exchange_t *x, const lg_reply_t *r)
{
    exchange_end(x, LG_XEND_REPLY, r);
}

/*
 * The backend's Connection header and version let the connection stay open. Where the body
 * ends is our framing's call (down.mode), not llhttp's: llhttp 8.1 takes "chunked<TAB>" for a
 * close-delimited body.
 */
static int backend_keeps_alive(const lg_exchange_t *x)
{
    if (x->rsp.http_minor >= 1)
        return !(x->rsp.flags & F_CONNECTION_CLOSE);
    return (x->rsp.flags & F_CONNECTION_KEEP_ALIVE) != 0;
}

/* NULL when the upstream connection may go back to the idle pool; else why not. */
static const char *upstream_unreusable(const lg_exchange_t *x)
{
    if (!x->req_done || x->req_aborted)
        return "the request was not sent whole";
    if (x->down.mode == LG_BODY_EOF)
        return "the response ended with the connection";
    if (!backend_keeps_alive(x))
        return "the backend does not keep it alive";
    if (x->rbuf != NULL && lg_buf_len(x->rbuf) != 0)
        return "bytes after the response";
    return NULL;
}

/* Both directions are over: the upstream connection goes back to the pool or closes. */
static void finish(lg_exchange_t *x)
{
    const char *why = upstream_unreusable(x);

    if (why == NULL) {
        lg_upconn_release(x->u);
    } else {
        lg_debug("upstream %s: closing the connection: %s", lg_backend_name(x->be), why);
        lg_upconn_close(x->u);
    }
    x->u = NULL;
    lg_x_drop_upstream(x);
    lg_x_end(x, LG_XEND_DONE, 0);
}

static void timer_set(lg_exchange_t *x, uint8_t timing)
{
    lg_worker_queues_t *q = &x->w->q;
    lg_timerq_t *queue[] = {
        [LG_XT_CONNECT] = &q->connect,
        [LG_XT_BODY] = &q->client_body,
        [LG_XT_UPSTREAM] = &q->upstream,
        [LG_XT_TUNNEL] = &q->tunnel,
    };

    x->timing = timing;
    lg_timer_set(lg_x_timerq(x, timing, queue[timing]), &x->timer);
}

/* Nothing moved either way for timeouts.tunnel: the tunnel is closed, no side to blame. */
static void tunnel_idle(lg_exchange_t *x)
{
    char ctx[LG_DIAG_MAX];

    lg_log(LG_LOG_INFO, "tunnel to %s idle for timeouts.tunnel, closing it%s",
           lg_backend_name(x->be), lg_exchange_context(x, ctx, sizeof(ctx)));
    x->why = LG_XWHY_TIMEOUT;
    lg_x_end(x, LG_XEND_CLOSE, 0);
}

static void timer_expired(lg_timer_t *t)
{
    lg_exchange_t *x = lg_container_of(t, lg_exchange_t, timer);

    if (x->timing == LG_XT_TUNNEL) {
        tunnel_idle(x);
        return;
    }
    if (x->timing != LG_XT_BODY) {
        lg_x_upstream_timeout(x);
        return;
    }
    /* The upstream connection closes; the backend is not to blame. */
    lg_log(LG_LOG_INFO, "client timed out sending the request body");
    lg_x_end(x, x->rsp_head ? LG_XEND_CLOSE : LG_XEND_REPLY, 408);
}

/*
 * Arm the timer of the side the exchange waits for. While the client is still sending a request
 * body that the backend takes as it comes, only client_body runs, refreshed whenever the body
 * moves: a slow client never counts against the backend. Once the body is all read, or the
 * backend stops taking it, or a response is being relayed, upstream_response runs, refreshed
 * whenever either body moves; before the response head its expiry is a backend failure. A tunnel
 * (a tcp relay, or after a 101) runs timeouts.tunnel, refreshed whenever a byte moves either way.
 */
static void timers(lg_exchange_t *x)
{
    int moved = x->up.progress | x->down.progress;
    uint8_t timing = LG_XT_BODY;

    x->up.progress = x->down.progress = 0;
    if (x->tunnel)
        timing = LG_XT_TUNNEL;
    else if (x->up.done || (x->rsp_head && !x->rsp_done) || !(x->u->s.sock.flags & LG_SOCK_WR))
        timing = LG_XT_UPSTREAM;
    if (moved || x->timing != timing || !lg_timer_armed(&x->timer))
        timer_set(x, timing);
}

static void upstream_event(lg_io_t *io, uint32_t ev)
{
    lg_upconn_t *u = (lg_upconn_t *)(void *)io;

    if (lg_stream_closed(&u->s))
        return;
    lg_stream_events(&u->s, ev);
    if (u->owner != NULL)
        lg_exchange_run(u->owner);
}

/*
 * A connection to x->be. The master may take the picked member's address between the pick and
 * the connect (DNS dropped it): that member was never tried, so another is picked in its place
 * without spending a retry. NULL with x->be NULL (no slot held) when none could be picked.
 */
static lg_upconn_t *upconn(lg_exchange_t *x, int *reused)
{
    lg_upconn_t *u = lg_upconn_get(x->be, x, upstream_event, reused);

    for (size_t i = 0; u == NULL && errno == EDESTADDRREQ && i < x->pool->nbackends; i++) {
        lg_backend_t *next = lg_x_pick(x, x->be, " (the one picked has lost its address)");

        lg_backend_release(x->be); /* the slot of `next` is held already */
        x->be = next;
        if (next == NULL) {
            x->slot = 0;
            return NULL;
        }
        u = lg_upconn_get(x->be, x, upstream_event, reused);
    }
    return u;
}

void lg_x_connect(lg_exchange_t *x)
{
    int reused;
    lg_upconn_t *u = upconn(x, &reused);

    if (u == NULL && x->be == NULL) { /* the others are full, or none is up */
        if (lg_x_unpicked(x) == LG_AGAIN)
            lg_x_wait(x);
        return;
    }
    if (u == NULL) {
        int err = errno;
        char ctx[LG_DIAG_MAX];

        lg_log(LG_LOG_ERR, "connect() to %s failed (%d: %s) while connecting to upstream%s",
               lg_backend_name(x->be), err, strerror(err),
               lg_exchange_context(x, ctx, sizeof(ctx)));
        lg_x_why(x, LG_XWHY_CONNECT);
        lg_x_end(x, x->tunnel ? LG_XEND_CLOSE : LG_XEND_REPLY, 502);
        return;
    }
    x->u = u;
    x->reused = reused != 0;
    x->up.pre_len = 0;
    if (!reused && x->pool->conf->proxy_protocol != LG_PPOUT_OFF && lg_x_proxy_header(x) != LG_OK) {
        lg_x_end(x, x->tunnel ? LG_XEND_CLOSE : LG_XEND_REPLY, 502);
        return;
    }
    lg_debug("upstream %s: %s connection (exchanges on it before: %u)", lg_backend_name(x->be),
             reused ? "reusing an idle keep-alive" : "new", u->requests);
    x->up.dst = &u->s;
    x->down.src = &u->s;
    x->timer.handler = timer_expired;
    timer_set(x, u->connecting ? LG_XT_CONNECT : LG_XT_UPSTREAM);
    lg_exchange_run(x);
}

/* Run a pump; a spent budget (more to do, no new event coming) continues after the batch. */
static int pump(lg_exchange_t *x, lg_pump_t *p)
{
    int r = lg_pump_run(p);

    if (r != LG_PUMP_YIELD)
        return r;
    x->front->again(x);
    return LG_AGAIN;
}

/* The request body to the backend: LG_OK to go on, LG_ERR when the exchange ended. */
static int request_step(lg_exchange_t *x)
{
    switch (pump(x, &x->up)) {
    case LG_OK:
        x->req_done = 1;
        if (x->tunnel) {
            lg_x_why(x, LG_XWHY_CLIENT);
            lg_stream_shutdown(&x->u->s); /* pass the client's half-close on */
        }
        return LG_OK;
    case LG_AGAIN:
        return LG_OK;
    case LG_PUMP_EDST:
        if (!x->rsp_started) {
            lg_x_upstream_fail(x, 502, "sending the request to", errno);
            return LG_ERR;
        }
        x->req_done = 1;
        x->req_aborted = 1; /* the client connection cannot be reused: its body was not read */
        return LG_OK;
    case LG_PUMP_EBAD:
        lg_x_request_body_bad(x);
        return LG_ERR;
    default: /* the client went away mid-body, or no memory */
        lg_log(LG_LOG_INFO, "client closed the connection while sending the request body");
        lg_x_why(x, LG_XWHY_CLIENT);
        lg_x_end(x, LG_XEND_CLOSE, 0);
        return LG_ERR;
    }
}

/* The response body to the client: LG_OK to go on, LG_ERR when the exchange ended. */
static int response_step(lg_exchange_t *x)
{
    switch (pump(x, &x->down)) {
    case LG_OK:
        if (!x->rsp_done && x->tunnel) {
            lg_x_why(x, LG_XWHY_BACKEND);
            lg_stream_shutdown(x->client); /* and the backend's */
        }
        x->rsp_done = 1;
        return LG_OK;
    case LG_AGAIN:
        return LG_OK;
    case LG_PUMP_EDST:
        lg_log(LG_LOG_INFO, "client closed the connection while receiving the response");
        lg_x_why(x, LG_XWHY_CLIENT);
        lg_x_end(x, LG_XEND_CLOSE, 0);
        return LG_ERR;
    case LG_PUMP_EBAD:
        lg_x_response_body_bad(x);
        return LG_ERR;
    default:
        lg_log(LG_LOG_ERR, "upstream %s closed the connection while sending the response",
               lg_backend_name(x->be));
        lg_x_why(x, LG_XWHY_BACKEND);
        lg_x_end(x, LG_XEND_CLOSE, 0);
        return LG_ERR;
    }
}

/*
 * Called on any event of either side; every step checks the readiness flags first, so a call
 * with nothing to do costs no system call.
 */
void lg_exchange_run(lg_exchange_t *x)
{
    lg_upconn_t *u = x->u;
    int r;

    if (x->ended || u == NULL)
        return;
    if (u->connecting) {
        if ((r = lg_upconn_connected(u)) == LG_AGAIN)
            return;
        if (r != LG_OK) {
            lg_x_upstream_fail(x, 502, lg_upconn_failure(u), errno);
            return;
        }
        lg_timer_del(&x->timer); /* timers() arms the one that applies now */
    }
    if (!x->req_done && request_step(x) != LG_OK)
        return;
    if (!x->rsp_head && (r = lg_x_response_read(x)) != LG_OK) {
        if (r == LG_AGAIN) /* else the exchange ended there */
            timers(x);
        return;
    }
    if (response_step(x) != LG_OK)
        return;
    if (x->rsp_done && !x->req_done && !x->tunnel) {
        /* the backend answered in full before taking the whole body: it wants no more of it
           (the upstream connection is not reused; the front deals with the client's rest) */
        x->req_done = 1;
        x->req_aborted = 1;
    }
    timers(x);
    if (x->rsp_done && x->req_done)
        finish(x);
}
