/*
 * rqueues.h - the timer queues of the routes' own timeouts (routes[].timeouts).
 *
 * A timer queue has one duration (event/loop.h), so a route whose connect or upstream_response
 * differs from the global value needs a queue of that duration. A worker makes one queue per
 * distinct value of the file (at most LG_ROUTE_TIMEOUTS_MAX, checked at load) when it starts;
 * an exchange of such a route arms its timer there.
 */
#ifndef LG_RQUEUES_H
#define LG_RQUEUES_H

#include <stddef.h>

#include "config/config.h"
#include "event/loop.h"

typedef struct lg_route_queues {
    lg_timerq_t q[LG_ROUTE_TIMEOUTS_MAX]; /* ascending durations */
    size_t n;
} lg_route_queues_t;

/* Make and register a queue for each distinct route timeout of `cf`: LG_OK or LG_ERR (logged). */
int lg_route_queues_init(lg_route_queues_t *rq, const lg_config_t *cf);

/* The queue of duration `ms`, or NULL when no route has that timeout. */
lg_timerq_t *lg_route_queue(lg_route_queues_t *rq, lg_msec_t ms);

#endif
