/*
 * shm.h - the state of every backend, shared by the master and the workers of a generation.
 *
 * One MAP_SHARED anonymous region per configuration generation, made by the master before it
 * forks the workers. Each backend has a cache line: its health verdict (written by the master
 * after active checks), its passive-failure count and ejection deadline (written by workers)
 * and its active-connection count (workers, atomically). No locks: every field is one atomic
 * word with a single kind of writer, or a counter only ever added to.
 */
#ifndef LG_SHM_H
#define LG_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define LG_SHM_REASON_LEN 48

typedef struct lg_be_state {
    atomic_uint up;                 /* master: 1 when checks say it may take traffic */
    atomic_uint active;             /* workers: exchanges using it now */
    atomic_uint fails;              /* workers: consecutive failed connects/resets/timeouts */
    atomic_uint ejections;          /* workers: passive ejections so far (cooldown doubles) */
    _Atomic uint64_t ejected_until; /* workers set, master clears: no traffic before this */
    /* master only, for logs and the status page */
    unsigned ok_streak, fail_streak;
    uint64_t last_check;            /* monotonic ms of the last finished check, 0 never */
    char reason[LG_SHM_REASON_LEN]; /* last check result, "ok" or why it failed */
} __attribute__((aligned(64))) lg_be_state_t;

typedef struct lg_shm {
    lg_be_state_t *states; /* one per backend, pool after pool, in configuration order */
    size_t n;
    size_t *first; /* index of pool i's first backend */
    size_t npools;
} lg_shm_t;

/*
 * Map the region for `cf`. A backend starts down when it has an active check (it gets traffic
 * only after one passes) and up otherwise; `prev` (may be NULL) gives the state of backends
 * that exist in both configurations (same pool name and address), which carries over.
 */
lg_shm_t *lg_shm_new(const lg_config_t *cf, const lg_shm_t *prev, const lg_config_t *prevcf);
void lg_shm_free(lg_shm_t *shm);

static inline lg_be_state_t *lg_shm_backend(const lg_shm_t *shm, size_t pool, size_t be)
{
    return &shm->states[shm->first[pool] + be];
}

/* May the backend take a new request now (`now`: monotonic ms)? */
static inline int lg_be_usable(lg_be_state_t *s, uint64_t now)
{
    return atomic_load_explicit(&s->up, memory_order_relaxed) &&
           atomic_load_explicit(&s->ejected_until, memory_order_relaxed) <= now;
}

#endif
