/*
 * xqueue.c - an exchange waiting in its pool's queue for a backend slot (upstream/queue.h):
 * queued, dispatched, or ended with 503 when the queue is full or queue.timeout goes by.
 */
#include "exchange/xint.h"

#include "admin/stats.h"
#include "core/log.h"
#include "http/diag.h"
#include "upstream/queue.h"

/* A slot of `be` is held for the exchange: it goes on as if it had been picked at once. */
static void dispatched(lg_qentry_t *e, lg_backend_t *be)
{
    lg_exchange_t *x = lg_container_of(e, lg_exchange_t, qe);

    x->be = be;
    x->slot = 1;
    lg_debug("pool %s: backend %s picked after %llu ms in the queue", x->pool->conf->name,
             lg_backend_name(be), (unsigned long long)(lg_now - x->start));
    lg_x_connect(x);
}

/*
 * queue.timeout went by: 503 (with Retry-After), or a closed relay. Logged at info, like a full
 * queue: under overload every request would log it; the metrics count both.
 */
static void expired(lg_qentry_t *e)
{
    lg_exchange_t *x = lg_container_of(e, lg_exchange_t, qe);
    char ctx[LG_DIAG_MAX];

    lg_log(LG_LOG_INFO, "no backend of pool %s had a free slot within queue.timeout%s",
           x->pool->conf->name, lg_exchange_context(x, ctx, sizeof(ctx)));
    lg_stats_add(&lg_stats_pool(x->pool->index)->queue_timeouts, 1);
    lg_x_end(x, LG_XEND_REPLY, 503);
}

void lg_x_wait(lg_exchange_t *x)
{
    char ctx[LG_DIAG_MAX];

    x->qe.key = x->key;
    x->qe.dispatch = dispatched;
    x->qe.expire = expired;
    if (lg_queue_wait(x->pool, &x->qe) == LG_OK) {
        lg_debug("pool %s: every usable backend is at its max_connections, request queued",
                 x->pool->conf->name);
        lg_stats_add(&lg_stats_pool(x->pool->index)->queued, 1);
        return;
    }
    lg_log(LG_LOG_INFO, "queue of pool %s is full (queue.max %u)%s", x->pool->conf->name,
           x->pool->conf->queue_max, lg_exchange_context(x, ctx, sizeof(ctx)));
    lg_stats_add(&lg_stats_pool(x->pool->index)->queue_full, 1);
    lg_x_end(x, LG_XEND_REPLY, 503);
}
