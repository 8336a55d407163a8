/*
 * ratelimit.h - the rate limits of routes: one token bucket per (route, key value), shared by
 * every worker of a generation.
 *
 * The master maps one table per generation (lg_rl_new) before it forks the workers, when a route
 * of the file has a rate_limit, and unmaps it with the generation (lg_rl_free). It points each
 * limited route's lg_rate_limit_conf_t at the table, so a worker reaches its buckets through the
 * route a request matched, and the admin pages through the generation's configuration.
 *
 * A bucket is one number, GCRA's theoretical arrival time (TAT): the bucket is full when the TAT
 * is not after now, and a request passes when the TAT moved on by one interval stays within
 * `burst` intervals of now. So a bucket is one 64-bit word (16 bits of its key's hash, 48 bits of
 * TAT in microseconds since the table was made: 8.9 years), updated with a compare-and-swap: no
 * lock. The table has a fixed number of slots (LG_RL_SLOTS); a key lives in one of the
 * LG_RL_PROBE slots after its hash's home. A key that is not there takes the slot of that window
 * whose bucket is the fullest: an empty one, or one that filled up again (as good as absent), and
 * when every bucket of the window is still refilling, the one nearest to full, which is counted
 * (`evicted`). The key hash is SipHash-2-4 with a random key per table, so a client choosing
 * header values cannot aim them at one window.
 */
#ifndef LG_RATELIMIT_H
#define LG_RATELIMIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define LG_RL_SLOTS 65536u /* buckets of a generation: 1 MiB of shared memory */
#define LG_RL_PROBE 8u     /* slots a key may take: its home and the 7 after it */

typedef struct lg_rl_slot {
    _Atomic uint64_t key;   /* the key's hash (lg_rl_hash); 0: never used */
    _Atomic uint64_t state; /* 16 bits of the hash of the key that wrote it, then its TAT */
} lg_rl_slot_t;

/* What the admin pages count, per limited route: one cache line each. */
typedef struct lg_rl_counter {
    _Atomic uint64_t limited; /* requests answered 429 */
} __attribute__((aligned(64))) lg_rl_counter_t;

typedef struct lg_rl_table {
    uint64_t sip[2];           /* SipHash key of lg_rl_hash, random */
    lg_msec_t epoch;           /* monotonic ms when the table was made: TATs count from it */
    size_t size;               /* of the mapping */
    _Atomic uint64_t evicted;  /* keys pushed out while their bucket was still refilling */
    lg_rl_counter_t *counters; /* one per limited route (lg_rate_limit_conf_t.id) */
    lg_rl_slot_t *slots;       /* LG_RL_SLOTS */
} lg_rl_table_t;

/*
 * The master: map the table of the generation of `cf` and point every limited route at it, in
 * *out; *out is NULL when no route is limited. LG_ERR when it cannot (logged).
 */
int lg_rl_new(lg_config_t *cf, lg_rl_table_t **out);
/* A table with `nroutes` counters, to which no route points yet (lg_rl_new; tests). */
lg_rl_table_t *lg_rl_map(size_t nroutes);
void lg_rl_free(lg_rl_table_t *t);

/* The hash of key value `data` of route `id`, never 0. */
uint64_t lg_rl_hash(const lg_rl_table_t *t, size_t id, const void *data, size_t len);

/*
 * One request of the key hashed `h` on the limited route `rl` at monotonic time `now`: 0 when
 * it may pass (it took a token), else the microseconds until a token is back (it took none).
 */
uint64_t lg_rl_take(const lg_rate_limit_conf_t *rl, uint64_t h, lg_msec_t now);

/*
 * GCRA on one bucket whose TAT is *tat (microseconds, as `now`): 0 when a request at `now`
 * passes (and *tat moves on one interval), else the microseconds until one would.
 */
uint64_t lg_rl_gcra(uint64_t *tat, uint64_t now, uint64_t interval, unsigned burst);

/* Whole seconds until `wait_us` has gone by, at least 1: a Retry-After. */
unsigned lg_rl_seconds(uint64_t wait_us);

/* Keys whose bucket is still refilling at `now`: the slots that count (the master, /metrics). */
size_t lg_rl_keys(const lg_rl_table_t *t, lg_msec_t now);

/* SipHash-2-4 of data[0..len) under the 128-bit key k. */
uint64_t lg_siphash(const uint64_t k[2], const void *data, size_t len);

#endif
