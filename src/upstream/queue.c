/*
 * queue.c - requests waiting for a backend slot, worker side (see queue.h).
 *
 * No lost wake-up: a worker that queues a request first counts it in the pool's `queued`, then
 * (after its batch) looks for a free slot; a worker that frees a slot first lowers `active`,
 * then looks at `queued`. Both with sequentially consistent atomics, so at least one of the two
 * sees the other's write and dispatches, or wakes the worker that should.
 */
#include "upstream/queue.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

#define LG_NO_WORKER SIZE_MAX

static lg_qslot_t *my_slot(const lg_pool_t *pool)
{
    return lg_qshm_slot(pool->ups->q, pool->index, pool->ups->worker);
}

int lg_queue_busy(const lg_pool_t *pool)
{
    return pool->q != NULL && atomic_load(&pool->q->queued) != 0;
}

/* The worker holding the request of `pool` that has waited longest, or LG_NO_WORKER. */
static size_t oldest_worker(const lg_pool_t *pool)
{
    const lg_qshm_t *q = pool->ups->q;
    uint64_t best = UINT64_MAX;
    size_t who = LG_NO_WORKER;

    for (size_t w = 0; w < q->nworkers; w++) {
        uint64_t t = atomic_load(&lg_qshm_slot(q, pool->index, w)->head);

        if (t != 0 && t < best) {
            best = t;
            who = w;
        }
    }
    return who;
}

/* A backend of `pool` that a pick may choose now (up, in the tier in use) has a free slot. */
static int room(lg_pool_t *pool)
{
    for (size_t i = 0; i < pool->nbackends; i++)
        if (lg_upstream_eligible(&pool->backends[i]))
            return 1;
    return 0;
}

/* Take `e` out of this worker's FIFO of its pool and out of the shared counts. */
static void unlink_entry(lg_qentry_t *e)
{
    lg_pool_t *pool = e->pool;
    lg_qslot_t *s = my_slot(pool);

    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
    atomic_store(&s->head, pool->waiting.next != &pool->waiting ? pool->waiting.next->ticket : 0);
    atomic_store(&s->waiting, atomic_load(&s->waiting) - 1);
    atomic_fetch_sub(&pool->q->queued, 1);
    pool->ups->nwaiting--;
}

/*
 * After a batch: dispatch this worker's oldest requests of the pool while they are the oldest
 * anywhere and a slot is free; when another worker holds the oldest and a slot is free, wake it.
 */
static void kick_run(lg_posted_t *p)
{
    lg_pool_t *pool = lg_container_of(p, lg_pool_t, kick);
    size_t who;

    while ((who = oldest_worker(pool)) != LG_NO_WORKER) {
        lg_qentry_t *e = pool->waiting.next;
        lg_backend_t *be;

        if (who != pool->ups->worker) {
            if (room(pool))
                lg_qshm_wake(pool->ups->q, who);
            return;
        }
        if (e == &pool->waiting || (be = lg_upstream_take(pool, NULL, e->key)) == NULL)
            return;
        unlink_entry(e);
        e->dispatch(e, be);
    }
}

void lg_queue_released(lg_pool_t *pool)
{
    if (atomic_load(&pool->q->queued) != 0)
        lg_loop_post(&pool->kick);
}

/* Another worker freed a slot, or the master cleaned up after a dead worker. */
static void wake_event(lg_io_t *io, uint32_t ev)
{
    lg_upstreams_t *ups = lg_container_of(io, lg_upstreams_t, wake);
    uint64_t n;

    LG_UNUSED(ev);
    while (read(io->fd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
    for (size_t i = 0; i < ups->npools; i++)
        if (ups->pools[i].q != NULL)
            lg_queue_released(&ups->pools[i]);
}

/* Every LG_QUEUE_TICK_MS while requests wait here: end those past queue.timeout, look again. */
static void tick(lg_timer_t *t)
{
    lg_upstreams_t *ups = lg_container_of(t, lg_upstreams_t, tick);

    for (size_t i = 0; i < ups->npools; i++) {
        lg_pool_t *pool = &ups->pools[i];

        if (pool->q == NULL)
            continue;
        /* one timeout per pool: the FIFO is in deadline order */
        while (pool->waiting.next != &pool->waiting && pool->waiting.next->deadline <= lg_now) {
            lg_qentry_t *e = pool->waiting.next;

            unlink_entry(e);
            e->expire(e);
        }
        lg_queue_released(pool);
    }
    if (ups->nwaiting != 0)
        lg_timer_set(&ups->tick_q, &ups->tick);
}

int lg_queue_wait(lg_pool_t *pool, lg_qentry_t *e)
{
    lg_upstreams_t *ups = pool->ups;
    lg_qslot_t *s = my_slot(pool);
    unsigned n = atomic_load(&pool->q->queued);

    do {
        if (n >= pool->conf->queue_max)
            return LG_ERR;
    } while (!atomic_compare_exchange_weak(&pool->q->queued, &n, n + 1));
    e->pool = pool;
    e->ticket = atomic_fetch_add(&pool->q->tickets, 1) + 1;
    e->deadline = lg_now + pool->q_timeout;
    e->prev = pool->waiting.prev;
    e->next = &pool->waiting;
    pool->waiting.prev->next = e;
    pool->waiting.prev = e;
    atomic_store(&s->waiting, atomic_load(&s->waiting) + 1);
    if (pool->waiting.next == e)
        atomic_store(&s->head, e->ticket);
    if (ups->nwaiting++ == 0)
        lg_timer_set(&ups->tick_q, &ups->tick);
    lg_loop_post(&pool->kick); /* a slot may have freed since the pick */
    return LG_OK;
}

void lg_queue_cancel(lg_qentry_t *e)
{
    if (e->next == NULL)
        return;
    unlink_entry(e);
    /* the next request may be the oldest anywhere now, and a slot free */
    lg_queue_released(e->pool);
}

int lg_queue_init(lg_upstreams_t *ups, const lg_shm_t *shm, size_t worker)
{
    lg_qshm_t *q = shm->queue;

    ups->q = q;
    if (q == NULL)
        return LG_OK;
    ups->worker = worker;
    for (size_t i = 0; i < ups->npools; i++) {
        lg_pool_t *pool = &ups->pools[i];

        if (!lg_pool_limited(pool->conf))
            continue;
        pool->q = &q->pools[i];
        pool->waiting.next = pool->waiting.prev = &pool->waiting;
        pool->kick.run = kick_run;
        for (size_t m = 0; m < pool->nbackends; m++)
            pool->backends[m].held = &q->held[worker * q->nmembers + shm->first[i] + m];
    }
    ups->tick.handler = tick;
    ups->wake.fd = q->efd[worker];
    ups->wake.handler = wake_event;
    if (lg_timerq_init(&ups->tick_q, LG_QUEUE_TICK_MS) != LG_OK)
        return LG_ERR;
    return lg_loop_add(&ups->wake, EPOLLIN | EPOLLET);
}
