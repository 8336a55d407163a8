/*
 * stats.c - per-worker counter slots (see stats.h).
 */
#include "admin/stats.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h> /* munmap */

#include "upstream/shm.h"

static const uint64_t bounds[LG_HIST_N - 1] = LG_HIST_BOUNDS;

/* The writer's slot (worker side). */
static lg_stats_t *bound;
static char *slot;

static size_t listeners_off(void)
{
    return 0;
}

static size_t pools_off(const lg_stats_t *st)
{
    return st->nlisteners * sizeof(lg_stats_listener_t);
}

static size_t members_off(const lg_stats_t *st)
{
    return pools_off(st) + st->npools * sizeof(lg_stats_pool_t);
}

/* Every worker's slot; never empty (mmap refuses 0 bytes). */
static size_t region_size(const lg_stats_t *st)
{
    return LG_MAX(st->slot_size * st->nworkers, (size_t)64);
}

lg_stats_t *lg_stats_new(const lg_config_t *cf)
{
    lg_stats_t *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return NULL;
    st->nworkers = cf->workers;
    st->nlisteners = cf->nlisteners;
    st->npools = cf->npools;
    st->pool_first = lg_member_index(cf, &st->nmembers);
    if (st->pool_first == NULL)
        goto out_free;
    /* whole cache lines per slot: workers never write the same line */
    st->slot_size = (members_off(st) + st->nmembers * sizeof(lg_stats_member_t) + 63) / 64 * 64;
    st->region = lg_shm_map(region_size(st), "counters");
    if (st->region == NULL)
        goto out_free;
    return st;

out_free:
    free(st->pool_first);
    free(st);
    return NULL;
}

void lg_stats_free(lg_stats_t *st)
{
    if (st == NULL)
        return;
    munmap(st->region, region_size(st));
    free(st->pool_first);
    free(st);
}

void lg_stats_bind(lg_stats_t *st, unsigned worker)
{
    bound = st;
    slot = (char *)st->region + st->slot_size * worker;
}

lg_stats_listener_t *lg_stats_listener(size_t l)
{
    return (lg_stats_listener_t *)(void *)(slot + listeners_off()) + l;
}

lg_stats_pool_t *lg_stats_pool(size_t p)
{
    return (lg_stats_pool_t *)(void *)(slot + pools_off(bound)) + p;
}

lg_stats_member_t *lg_stats_member(size_t p, size_t m)
{
    return (lg_stats_member_t *)(void *)(slot + members_off(bound)) + bound->pool_first[p] + m;
}

static size_t bucket(uint64_t ms)
{
    size_t b = 0;

    while (b < LG_HIST_N - 1 && ms > bounds[b])
        b++;
    return b;
}

void lg_stats_request(size_t listener, size_t pool, size_t member, int status, uint64_t ms, int h2)
{
    size_t cls = (size_t)LG_MIN(LG_MAX(status / 100, 1), LG_CLASSES) - 1;
    size_t b = bucket(ms);

    lg_stats_add(&lg_stats_listener(listener)->status[h2 != 0][cls], 1);
    if (pool == SIZE_MAX)
        return;
    lg_stats_pool_t *sp = lg_stats_pool(pool);

    lg_stats_add(&sp->hist[b], 1);
    lg_stats_add(&sp->time_sum_ms, ms);
    if (member == SIZE_MAX)
        return;
    lg_stats_member_t *sm = lg_stats_member(pool, member);

    lg_stats_add(&sm->status[cls], 1);
    lg_stats_add(&sm->hist[b], 1);
    lg_stats_add(&sm->time_sum_ms, ms);
}

/* out[i] += sum over workers of the uint64 counters at `off` (n of them) */
static void sum(const lg_stats_t *st, size_t off, size_t n, uint64_t *out)
{
    memset(out, 0, n * sizeof(*out));
    for (size_t w = 0; w < st->nworkers; w++) {
        const uint64_t *c =
            (const uint64_t *)(const void *)((const char *)st->region + st->slot_size * w + off);

        for (size_t i = 0; i < n; i++)
            out[i] += __atomic_load_n(&c[i], __ATOMIC_RELAXED);
    }
}

void lg_stats_sum_listener(const lg_stats_t *st, size_t l, lg_stats_listener_t *out)
{
    sum(st, listeners_off() + l * sizeof(*out), sizeof(*out) / sizeof(uint64_t), (uint64_t *)out);
}

void lg_stats_sum_pool(const lg_stats_t *st, size_t p, lg_stats_pool_t *out)
{
    sum(st, pools_off(st) + p * sizeof(*out), sizeof(*out) / sizeof(uint64_t), (uint64_t *)out);
}

void lg_stats_sum_member(const lg_stats_t *st, size_t p, size_t m, lg_stats_member_t *out)
{
    sum(st, members_off(st) + (st->pool_first[p] + m) * sizeof(*out),
        sizeof(*out) / sizeof(uint64_t), (uint64_t *)out);
}

double lg_hist_quantile(const uint64_t *hist, double q)
{
    uint64_t total = 0, seen = 0;
    double lo = 0;

    for (size_t b = 0; b < LG_HIST_N; b++)
        total += hist[b];
    if (total == 0)
        return 0;
    for (size_t b = 0; b < LG_HIST_N; b++) {
        double hi = b < LG_HIST_N - 1 ? (double)bounds[b] : lo * 2;
        double want = q * (double)total;

        if ((double)(seen + hist[b]) >= want) {
            double frac = hist[b] ? (want - (double)seen) / (double)hist[b] : 0;

            return lo + (hi - lo) * frac;
        }
        seen += hist[b];
        lo = hi;
    }
    return lo;
}
