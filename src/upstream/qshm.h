/*
 * qshm.h - what the workers of a generation share to queue requests for backends that are at
 * their max_connections (upstream/queue.c is the worker side).
 *
 * Made by the master with the backend state (lg_shm_new), only when some backend of the
 * configuration has max_connections; NULL otherwise. Per pool: the count of requests waiting in
 * every worker (bounded by queue.max) and a ticket counter that orders them; per pool and
 * worker: how many wait in that worker and the ticket of its oldest, so any worker can tell
 * which worker holds the request that has waited longest; per worker and member: the slots it
 * holds (so the master can give back what a worker that died held); per worker: an eventfd
 * that wakes it (registered in its own loop only).
 *
 * Every field is written with atomics; a slot's fields have one writer, the worker of the slot
 * (and the master once that worker is dead).
 */
#ifndef LG_QSHM_H
#define LG_QSHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct lg_qpool {
    atomic_uint queued;       /* requests waiting in every worker */
    _Atomic uint64_t tickets; /* the last ticket given: tickets order the waiting requests */
} __attribute__((aligned(64))) lg_qpool_t;

typedef struct lg_qslot {
    _Atomic uint64_t head; /* ticket of the worker's oldest waiting request; 0: none */
    atomic_uint waiting;   /* requests the worker has waiting */
} __attribute__((aligned(64))) lg_qslot_t;

typedef struct lg_qshm {
    lg_qpool_t *pools; /* npools */
    lg_qslot_t *slots; /* npools * nworkers: pool p, worker w at p * nworkers + w */
    atomic_uint *held; /* nworkers * nmembers: slots worker w holds on member m */
    int *efd;          /* nworkers eventfds */
    size_t npools, nworkers, nmembers;
    void *region;
    size_t size;
} lg_qshm_t;

/*
 * The queue state of `cf` (nmembers members in all), or NULL with *err 0 when no backend has
 * max_connections; NULL with *err 1 when it cannot be made (logged).
 */
lg_qshm_t *lg_qshm_new(const lg_config_t *cf, size_t nmembers, int *err);
void lg_qshm_free(lg_qshm_t *q);

static inline lg_qslot_t *lg_qshm_slot(const lg_qshm_t *q, size_t pool, size_t worker)
{
    return &q->slots[pool * q->nworkers + worker];
}

/* Wake worker `w` (its eventfd). */
void lg_qshm_wake(const lg_qshm_t *q, size_t w);

/*
 * Worker `w` is dead (master): the backend slots it held are given back to `active` (one per
 * member, `states` of every member in order), its waiting requests leave the counts, and every
 * other worker is woken to look at its queue again.
 */
struct lg_be_state;
void lg_qshm_worker_gone(lg_qshm_t *q, struct lg_be_state *states, size_t w);

#endif
