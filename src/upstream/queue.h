/*
 * queue.h - requests waiting for a backend slot (max_connections), the HAProxy maxconn + queue
 * model, worker side. The shared part is qshm.h.
 *
 * A request for which no usable backend of its pool has a free slot waits in its worker's FIFO
 * for the pool, bounded by queue.max over every worker, for at most queue.timeout. While any
 * request of the pool waits (in any worker), new ones queue behind it rather than take a slot
 * that frees: the order is first come, first served over every worker, by ticket.
 *
 * When a slot of the pool frees (lg_backend_release), the worker that freed it looks, after its
 * batch of events, for the worker holding the oldest waiting request: itself (it dispatches
 * that request at once) or another, which it wakes through that worker's eventfd. A woken
 * worker dispatches its oldest requests while they are the oldest anywhere and a slot is free,
 * then hands on to the worker now holding the oldest. Nothing is written to any eventfd while
 * no request waits. A 100 ms tick runs while a worker has requests waiting: it ends those past
 * their queue.timeout (so a timeout is up to 100 ms late) and looks at the queue again, which
 * also covers a worker that died holding the oldest request until the master cleans up.
 */
#ifndef LG_QUEUE_H
#define LG_QUEUE_H

#include "upstream/upstream.h"

/* How often a worker with waiting requests looks at its queues, in milliseconds. */
#define LG_QUEUE_TICK_MS 100

/*
 * Set up the queues of `ups` (built on `shm`) for worker `worker`: its eventfd and tick in the
 * loop. LG_OK, also when no pool has a queue; LG_ERR when it cannot (logged).
 */
int lg_queue_init(lg_upstreams_t *ups, const lg_shm_t *shm, size_t worker);

/* Requests of `pool` wait (in any worker): a new one must queue behind them. */
int lg_queue_busy(const lg_pool_t *pool);

/*
 * Put `e` (dispatch, expire and key set) at the end of `pool`'s queue: LG_OK, or LG_ERR when
 * queue.max requests already wait (answer 503 at once). The entry is called back later, never
 * from inside this call.
 */
int lg_queue_wait(lg_pool_t *pool, lg_qentry_t *e);

/* Take `e` out of its queue (the client went away); nothing when it is not waiting. */
void lg_queue_cancel(lg_qentry_t *e);

/* A slot of `pool` was given back (lg_backend_release): a waiting request may take it. */
void lg_queue_released(lg_pool_t *pool);

#endif
