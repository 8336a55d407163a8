/*
 * xroute.c - what an exchange's route decides besides its pool: which route (methods and
 * headers included), the path the backend gets (strip_prefix), and the route's own
 * max_body_size, retries and timeouts in place of the global and pool values.
 */
#include "exchange/xint.h"

#include "http/diag.h"
#include "http/route.h"

uint64_t lg_x_body_limit(const lg_exchange_t *x)
{
    if (x->route != NULL && x->route->limits.max_body_size != LG_ROUTE_BODY_GLOBAL)
        return x->route->limits.max_body_size;
    return x->w->conf->limits.max_body_size;
}

unsigned lg_x_retries(const lg_exchange_t *x)
{
    if (x->route != NULL && x->route->retries != LG_ROUTE_RETRIES_POOL)
        return x->route->retries;
    return x->pool->conf->retries;
}

lg_timerq_t *lg_x_timerq(lg_exchange_t *x, uint8_t timing, lg_timerq_t *dflt)
{
    lg_msec_t ms = 0;
    lg_timerq_t *q;

    if (x->route == NULL)
        return dflt;
    if (timing == LG_XT_CONNECT)
        ms = x->route->timeouts.connect;
    else if (timing == LG_XT_UPSTREAM)
        ms = x->route->timeouts.upstream_response;
    if (ms == 0 || (q = lg_route_queue(&x->w->rq, ms)) == NULL)
        return dflt;
    return q;
}

/*
 * The path was normalised into chead (its first rq->path.len bytes); the stripped one goes
 * right after it, so the exchange still holds no buffer more.
 */
static int strip(lg_exchange_t *x, lg_req_head_t *rq)
{
    size_t used = rq->path.len;

    return lg_req_head_strip(rq, strlen(x->route->path_prefix), x->chead->data + used,
                             lg_buf_size() - used);
}

int lg_x_route(lg_exchange_t *x, const lg_xreq_t *rq)
{
    uint64_t limit;
    int status;

    x->route = lg_route_match(x->ls, rq->head);
    if (lg_debug_on())
        lg_diag_routed(x->w->conf, x->ls, x->route, rq->head->host, rq->head->path);
    if (x->route != NULL)
        lg_x_rules_keep(x, rq->head); /* before any own reply of the route, and the strip */
    if (x->route != NULL && x->route->strip_prefix && (status = strip(x, rq->head)) != 0)
        return status;
    limit = lg_x_body_limit(x);
    if (rq->body == LG_BODY_LENGTH && limit != 0 && rq->length > limit)
        return 413;
    return 0;
}
