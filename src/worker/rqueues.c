/*
 * rqueues.c - the timer queues of the routes' own timeouts (see rqueues.h).
 */
#include "worker/rqueues.h"

int lg_route_queues_init(lg_route_queues_t *rq, const lg_config_t *cf)
{
    lg_msec_t ms[LG_ROUTE_TIMEOUTS_MAX];

    rq->n = lg_config_route_timeouts(cf, ms);
    for (size_t i = 0; i < rq->n; i++) {
        if (lg_timerq_init(&rq->q[i], ms[i]) != LG_OK)
            return LG_ERR;
    }
    return LG_OK;
}

lg_timerq_t *lg_route_queue(lg_route_queues_t *rq, lg_msec_t ms)
{
    size_t lo = 0, hi = rq->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (rq->q[mid].duration == ms)
            return &rq->q[mid];
        if (rq->q[mid].duration < ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
