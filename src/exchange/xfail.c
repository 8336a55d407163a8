/*
 * xfail.c - what an exchange does when its backend fails, times out or sends a bad body:
 * retry where that is safe, else end with the status the client gets.
 */
#include "exchange/xint.h"

#include <errno.h>
#include <string.h>

#include "admin/stats.h"
#include "core/fmt.h"
#include "core/log.h"
#include "http/diag.h"
#include "stream/tls.h"

static int retry_allowed(const lg_exchange_t *x)
{
    return x->reused && !x->retried && !x->rsp_started && x->idempotent &&
           x->up.mode == LG_BODY_NONE;
}

/* The line for a backend failure, before the ejection it may cause is logged. */
static void fail_log(const lg_exchange_t *x, const char *what, int err, int retrying)
{
    char ctx[LG_DIAG_MAX], tls[LG_TLS_ERR_MAX];
    const char *phase = x->u->connecting ? " while connecting to upstream" : "";
    /* a TLS backend's alert (a refused client certificate) says more than EPROTO */
    const char *why = lg_stream_tls_error(&x->u->s, tls, sizeof(tls));

    lg_exchange_context(x, ctx, sizeof(ctx));
    if (err != 0)
        lg_log(LG_LOG_ERR, "%s %s failed (%d: %s)%s%s%s", what, lg_backend_name(x->be), err,
               why[0] != '\0' ? why : strerror(err), phase, ctx,
               retrying ? ", trying another backend" : "");
    else
        lg_log(LG_LOG_ERR, "%s %s%s%s", what, lg_backend_name(x->be), ctx,
               retrying ? ", trying another backend" : "");
}

/* Count the failure against x->be; `what` ends in "with"/"to": the backend completes it. */
static void backend_failed(const lg_exchange_t *x, const char *what, int err)
{
    char last[LG_DIAG_MAX];

    if (err != 0 || lg_format(last, sizeof(last), "%s %s", what, lg_backend_name(x->be)) != LG_OK)
        lg_backend_failed(x->be, err != 0 ? strerror(err) : what);
    else
        lg_backend_failed(x->be, last);
}

/* Start over on a new connection (to x->be, which may have just changed). */
static void reconnect(lg_exchange_t *x)
{
    lg_timer_del(&x->timer);
    lg_upconn_close(x->u);
    x->u = NULL;
    if (x->uhead != NULL)
        x->uhead->pos = 0;
    x->req_done = 0;
    lg_x_connect(x);
}

/*
 * A reused keep-alive connection that the backend had closed is retried once on a fresh
 * connection (idempotent requests without a body); a failed connect moves on to another backend
 * while tries remain; otherwise the client gets `status` (a relay is closed: no HTTP to answer
 * with).
 */
void lg_x_upstream_fail(lg_exchange_t *x, int status, const char *what, int err)
{
    int safe;
    lg_backend_t *next;

    if (retry_allowed(x)) {
        lg_log(LG_LOG_INFO, "keep-alive connection to %s closed by the backend (%s), retrying",
               lg_backend_name(x->be), what);
        x->retried = 1;
        lg_stats_add(&lg_stats_pool(x->pool->index)->retries, 1);
        reconnect(x);
        return;
    }
    /*
     * Another backend may take the request when nothing was sent yet (the body waits in the
     * buffer until the connect completes), or when an idempotent request without a body got
     * no response byte at all (the backend closed or reset: it may be going away).
     */
    safe = x->u->connecting || (!x->rsp_started && x->idempotent && x->up.mode == LG_BODY_NONE);
    next = safe && x->tries > 0 ? lg_x_pick(x, x->be, " for a retry") : NULL;
    if (next == x->be) { /* the sole one with room: no other backend to try */
        lg_backend_release(next);
        next = NULL;
    }
    fail_log(x, what, err, next != NULL);
    backend_failed(x, what, err);
    if (next == NULL) {
        lg_x_why(x, x->u->connecting ? LG_XWHY_CONNECT : LG_XWHY_BACKEND);
        lg_x_end(x, x->tunnel ? LG_XEND_CLOSE : LG_XEND_REPLY, status);
        return;
    }
    x->tries--;
    lg_stats_add(&lg_stats_pool(x->pool->index)->retries, 1);
    lg_backend_release(x->be); /* the slot of `next` is held already */
    x->be = next;
    reconnect(x);
}

void lg_x_upstream_timeout(lg_exchange_t *x)
{
    char ctx[LG_DIAG_MAX];

    if (x->u->connecting && (x->u->s.sock.flags & LG_STREAM_HANDSHAKE)) {
        /* the TCP connect was done: the backend accepted but never finished its handshake */
        lg_x_upstream_fail(x, 504, "TLS handshake (timeouts.connect) timed out with", 0);
    } else if (x->u->connecting) {
        lg_x_upstream_fail(x, 504, "connect() to", ETIMEDOUT);
    } else if (!x->rsp_head) {
        lg_log(LG_LOG_ERR, "upstream %s timed out %s%s", lg_backend_name(x->be),
               x->req_done ? "waiting for the response head" : "taking the request body",
               lg_exchange_context(x, ctx, sizeof(ctx)));
        lg_backend_failed(x->be, "response timed out");
        lg_x_end(x, LG_XEND_REPLY, 504);
    } else if (!(x->client->sock.flags & LG_SOCK_WR)) { /* a slow reader: not the backend's doing */
        lg_log(LG_LOG_INFO, "client stopped reading the response (upstream_response timeout)");
        lg_x_end(x, LG_XEND_CLOSE, 0);
    } else {
        lg_log(LG_LOG_ERR, "upstream %s timed out relaying the response", lg_backend_name(x->be));
        lg_x_end(x, LG_XEND_CLOSE, 0);
    }
}

/*
 * The request's chunked body is malformed (400) or over max_body_size (413): answered while no
 * response started, else the client connection is cut. The upstream connection, which may hold
 * part of the body, is closed either way, never reused.
 */
void lg_x_request_body_bad(lg_exchange_t *x)
{
    int over = lg_pump_over_limit(&x->up);

    lg_log(LG_LOG_INFO, "client sent %s chunked body%s%s", over ? "a too large" : "an invalid",
           over ? "" : ": ", over ? "" : x->up.chunk.why);
    lg_x_end(x, x->rsp_head ? LG_XEND_CLOSE : LG_XEND_REPLY, over ? 413 : 400);
}

/*
 * The backend's chunked body is malformed: 502 while nothing of the response reached the
 * client, else the client connection is cut (it sees a response cut short, never a clean
 * end). The upstream connection is closed either way, never reused.
 */
void lg_x_response_body_bad(lg_exchange_t *x)
{
    lg_log(LG_LOG_ERR, "upstream %s sent an invalid chunked body: %s", lg_backend_name(x->be),
           x->down.chunk.why);
    lg_backend_failed(x->be, "invalid chunked body");
    lg_x_end(x, x->down.out == 0 ? LG_XEND_REPLY : LG_XEND_CLOSE, 502);
}
