/*
 * shm.h - the state of every backend, shared by the master and the workers of a generation.
 *
 * One MAP_SHARED anonymous region per configuration generation, made by the master before it
 * forks the workers. Each pool member has its own cache lines: its address, its health verdict
 * (written by the master after active checks), its passive-failure count and ejection deadline
 * (written by workers) and its active-connection count (workers, atomically). No locks: every
 * field is one atomic word with a single kind of writer, or a counter only ever added to; the
 * address, which the master rewrites when DNS changes, is read under a sequence counter.
 *
 * A backend written as an IP address is one member. A backend written as a host name is
 * LG_DNS_SLOTS members, one per address the name resolves to; unused slots take no traffic.
 */
#ifndef LG_SHM_H
#define LG_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define LG_SHM_REASON_LEN 48
#define LG_DNS_SLOTS      8
#define LG_SHM_SECRET_LEN 32

typedef struct lg_be_state {
    atomic_uint in_use;   /* master: the member has an address (IP backends: always) */
    atomic_uint addr_seq; /* master: odd while `addr` is being rewritten; +2 per change */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    atomic_uint up;                 /* master: 1 when checks say it may take traffic */
    atomic_uint active;             /* workers: exchanges using it now */
    atomic_uint fails;              /* workers: consecutive failed connects/resets/timeouts */
    atomic_uint ejections;          /* workers: passive ejections so far (cooldown doubles) */
    _Atomic uint64_t ejected_until; /* workers set, master clears: no traffic before this */
    _Atomic uint64_t up_since;      /* master: monotonic ms it last came up (slow_start ramps from
                                       it); 0 when up since it was first seen (no ramp) */
    /* master only, for logs and the status page */
    unsigned ok_streak, fail_streak;
    uint64_t last_check;            /* monotonic ms of the last finished check, 0 never */
    char reason[LG_SHM_REASON_LEN]; /* last check result, "ok" or why it failed */

    /*
     * master: its next coming up starts a slow_start ramp; 0 for the members of the first
     * generation until their first verdict or address (lg_be_came_up)
     */
    unsigned ramp;
} __attribute__((aligned(64))) lg_be_state_t;

typedef struct lg_shm {
    lg_be_state_t *states; /* one per member, pool after pool, in configuration order */
    size_t n;
    size_t *first; /* index of pool i's first member */
    size_t npools;
    /* random at start, kept across reloads: keys the sticky cookies' backend ids (sticky.c) */
    unsigned char secret[LG_SHM_SECRET_LEN];
} lg_shm_t;

/* How many members a backend is: 1 for an address, LG_DNS_SLOTS for a host name. */
static inline size_t lg_backend_members(const lg_backend_conf_t *b)
{
    return b->addr.is_hostname ? LG_DNS_SLOTS : 1;
}

/* Members of a pool, over all its backends. */
size_t lg_pool_members(const lg_pool_conf_t *p);
/*
 * Where each pool's members start in an array of every member of `cf`, pool after pool in
 * configuration order: a new array of max(npools, 1) indexes (free() it), the number of
 * members in *n; NULL when out of memory. The backend state and the counters (stats.c) both
 * index members this way.
 */
size_t *lg_member_index(const lg_config_t *cf, size_t *n);
/* The backend configuration member `m` of pool `p` comes from. */
const lg_backend_conf_t *lg_member_conf(const lg_pool_conf_t *p, size_t m);

/*
 * A zeroed MAP_SHARED anonymous mapping of `size` bytes that the workers forked next inherit;
 * NULL when mmap() fails (logged, naming `what`). Unmap it with munmap(p, size).
 */
void *lg_shm_map(size_t size, const char *what);

/*
 * Map the region for `cf`. A backend starts down when it has an active check (it gets traffic
 * only after one passes) and up otherwise; `prev` (may be NULL) gives the state of backends
 * that exist in both configurations (same pool name and address), which carries over.
 */
lg_shm_t *lg_shm_new(const lg_config_t *cf, const lg_shm_t *prev, const lg_config_t *prevcf);
void lg_shm_free(lg_shm_t *shm);

static inline lg_be_state_t *lg_shm_backend(const lg_shm_t *shm, size_t pool, size_t member)
{
    return &shm->states[shm->first[pool] + member];
}

/* A consistent copy of the member's address (readers never block the master). */
void lg_be_addr(lg_be_state_t *s, struct sockaddr_storage *ss, socklen_t *len);
/*
 * The master gives the member a new address (or none: len 0), resetting its health; without
 * active checks (`checked` 0) the member comes up at once (lg_be_came_up).
 */
void lg_be_set_addr(lg_be_state_t *s, const struct sockaddr *sa, socklen_t len, int checked);
/*
 * The master saw the member come up (a check, the end of an ejection, an address without
 * checks): a slow_start ramp begins now, unless this is the member's first verdict in the first
 * generation (lifeguard starting), when it is up at full weight at once.
 */
void lg_be_came_up(lg_be_state_t *s);

#endif
