/*
 * balance.c - the five ways of choosing a member of a pool (see balance.h).
 *
 * Everything a pick needs is allocated by lg_bal_new, sized for n members: the weighted
 * round-robin counters, the p2c candidate list and the Maglev table with its build scratch.
 * Every loop of a pick is bounded by n (or by the table size for hash), so a pick never
 * allocates and never spins, whatever the view says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fmt.h"
#include "core/lg.h"
#include "upstream/balance.h"

/*
 * Maglev table sizes: primes, so that any skip in [1, M-1] walks every slot. The table is the
 * smallest of them holding LG_BAL_SLOTS_PER_MEMBER slots per member, or the largest. The more
 * slots per member, the fewer keys of the other members move when one goes down (Eisenbud et
 * al., NSDI 2016, section 5.3): measured over 10 members, 100 slots each move 2.5% of the
 * others' keys besides the 10% that must move, 400 slots 1.2%, for 16 KB of table.
 */
static const uint32_t lg_bal_primes[] = {251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521};
#define LG_BAL_SLOTS_PER_MEMBER 400u

#define LG_BAL_EMPTY     UINT32_MAX
#define LG_BAL_NONE      SIZE_MAX
#define LG_BAL_WORD_BITS 64u
#define LG_BAL_NAME_MAX  32 /* "#" and a member index, when the caller gives no names */
#define LG_FNV_BASIS     0xcbf29ce484222325ULL
#define LG_FNV_PRIME     0x100000001b3ULL
#define LG_GOLDEN_GAMMA  0x9e3779b97f4a7c15ULL
#define LG_MAGLEV_OFFSET 0x6f66667365745f31ULL /* two seeds: independent offset and skip */
#define LG_MAGLEV_SKIP   0x736b69705f5f5f32ULL
#define LG_NSEC_PER_SEC  1000000000ULL
#define LG_PID_SHIFT     32

struct lg_bal {
    lg_balance_t algo;
    size_t n;
    size_t cursor; /* round_robin, least_conn: where the next scan starts */
    uint64_t rng;  /* p2c: splitmix64 state */
    uint32_t *weight;
    int64_t *current;      /* weighted: nginx's current_weight of each member */
    unsigned char *backup; /* 1 for a backup member (lg_bal_set_backup) */
    size_t nbackup;
    size_t *cand; /* p2c: the usable members of this pick */

    /* hash: the Maglev table of the usable set `built` */
    uint32_t m;
    uint32_t *table;  /* m member indexes */
    uint32_t *offset; /* a member's first slot, from its name */
    uint32_t *skip;   /* the step of its walk over the table, in [1, m-1] */
    uint64_t *rank;   /* its name's hash: breaks ties so that member order does not matter */
    uint32_t *pos;    /* build scratch: next slot of a member's walk */
    uint32_t *count;  /* build scratch: slots a member holds */
    uint32_t *heap;   /* build scratch: usable members, next turn first */
    uint64_t *built;  /* bitmap of the usable members the table was built for */
    uint64_t *seen;   /* bitmap of the usable members of this pick */
    size_t words;     /* of each bitmap */
    int have_table;
};

/* splitmix64's finalizer: a bijection that spreads every input bit over the whole output. */
static uint64_t lg_bal_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t lg_bal_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = LG_FNV_BASIS;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= LG_FNV_PRIME;
    }
    h = lg_bal_mix(h);
    return h != LG_BAL_NO_KEY ? h : LG_BAL_NO_KEY + 1;
}

static uint64_t lg_bal_random(lg_bal_t *b)
{
    b->rng += LG_GOLDEN_GAMMA;
    return lg_bal_mix(b->rng);
}

/* A random number in [0, k), k <= UINT32_MAX (Lemire's multiply-shift, no division). */
static size_t lg_bal_below(lg_bal_t *b, size_t k)
{
    return (size_t)(((lg_bal_random(b) >> 32) * (uint64_t)k) >> 32);
}

static int lg_bal_usable(const lg_bal_view_t *v, size_t i)
{
    return v->usable == NULL || v->usable(v->ctx, i);
}

static uint32_t lg_bal_active(const lg_bal_view_t *v, size_t i)
{
    return v->active == NULL ? 0 : v->active(v->ctx, i);
}

static uint32_t lg_bal_ramp_of(const lg_bal_view_t *v, size_t i)
{
    return v->ramp == NULL ? LG_BAL_RAMP_FULL : v->ramp(v->ctx, i);
}

/*
 * A member's effective weight: its weight times its ramp (thousandths), or its weight alone
 * when the view has no ramp (a pool's view always has one, or never: the units of the
 * weighted round robin's current weights stay the same from pick to pick).
 */
static uint64_t lg_bal_weight(const lg_bal_t *b, const lg_bal_view_t *v, size_t i)
{
    if (v->ramp == NULL)
        return b->weight[i];
    return (uint64_t)b->weight[i] * v->ramp(v->ctx, i);
}

/* Whether member a is less loaded than c: fewer active connections per unit of weight. */
static int lg_bal_lighter(const lg_bal_t *b, const lg_bal_view_t *v, size_t a, size_t c)
{
    return (uint64_t)lg_bal_active(v, a) * lg_bal_weight(b, v, c) <
           (uint64_t)lg_bal_active(v, c) * lg_bal_weight(b, v, a);
}

uint32_t lg_bal_ramp(uint64_t since, uint64_t now, uint64_t span)
{
    if (since == 0 || span == 0 || now >= since + span)
        return LG_BAL_RAMP_FULL;
    if (now <= since)
        return LG_BAL_RAMP_START;
    return LG_BAL_RAMP_START +
           (uint32_t)((LG_BAL_RAMP_FULL - LG_BAL_RAMP_START) * (now - since) / span);
}

/*
 * ---- the candidates of a pick: every usable member once, in order from `start` (wrapping),
 * except `avoid`, the member that just failed. A usable `avoid` is kept aside in `sole`: it is
 * the answer only when the scan yields no other candidate.
 */
typedef struct lg_bal_scan {
    size_t start;
    size_t k; /* members looked at so far */
    size_t avoid;
    long sole; /* avoid when usable, else -1 */
} lg_bal_scan_t;

static lg_bal_scan_t lg_bal_scan(size_t start, size_t avoid)
{
    lg_bal_scan_t s = {start, 0, avoid, -1};

    return s;
}

/* The next candidate of the scan, or LG_BAL_NONE when every member has been looked at. */
static size_t lg_bal_next(const lg_bal_t *b, const lg_bal_view_t *v, lg_bal_scan_t *s)
{
    while (s->k < b->n) {
        size_t i = s->start + s->k < b->n ? s->start + s->k : s->start + s->k - b->n;

        s->k++;
        if (!lg_bal_usable(v, i))
            continue;
        if (i == s->avoid) {
            s->sole = (long)i;
            continue;
        }
        return i;
    }
    return LG_BAL_NONE;
}

/* The member after i, where the next round_robin or least_conn scan starts. */
static size_t lg_bal_after(const lg_bal_t *b, size_t i)
{
    return i + 1 < b->n ? i + 1 : 0;
}

static long lg_bal_weighted(lg_bal_t *b, const lg_bal_view_t *v, size_t avoid);

/* Whether a usable member ramps up (slow_start) and has less than its full weight (v->ramp set). */
static int lg_bal_ramping(const lg_bal_t *b, const lg_bal_view_t *v)
{
    for (size_t i = 0; i < b->n; i++)
        if (lg_bal_usable(v, i) && v->ramp(v->ctx, i) < LG_BAL_RAMP_FULL)
            return 1;
    return 0;
}

/*
 * ---- round_robin: the next usable member after the previous pick; while a member ramps up,
 * smooth weighted round robin over weights of 1 (lg_bal_new sets them) times the ramps.
 */
static long lg_bal_round_robin(lg_bal_t *b, const lg_bal_view_t *v, size_t avoid)
{
    lg_bal_scan_t s = lg_bal_scan(b->cursor, avoid);
    size_t i;

    if (v->ramp != NULL && lg_bal_ramping(b, v))
        return lg_bal_weighted(b, v, avoid);
    i = lg_bal_next(b, v, &s);

    if (i == LG_BAL_NONE)
        return s.sole;
    b->cursor = lg_bal_after(b, i);
    return (long)i;
}

/*
 * ---- weighted: nginx's smooth weighted round robin. Each pick adds every candidate's weight
 * to its current weight; the largest current wins and gives back the sum of the weights. A
 * member with weight w out of a total W wins w picks of every W, spread evenly: 5,1,1 gives
 * a a b a c a a. Unusable members keep their current weight and take no share.
 */
static long lg_bal_weighted(lg_bal_t *b, const lg_bal_view_t *v, size_t avoid)
{
    lg_bal_scan_t s = lg_bal_scan(0, avoid);
    size_t best = LG_BAL_NONE;
    int64_t total = 0;

    for (size_t i; (i = lg_bal_next(b, v, &s)) != LG_BAL_NONE;) {
        int64_t w = (int64_t)lg_bal_weight(b, v, i);

        b->current[i] += w;
        total += w;
        if (best == LG_BAL_NONE || b->current[i] > b->current[best])
            best = i;
    }
    if (best == LG_BAL_NONE)
        return s.sole;
    b->current[best] -= total;
    return (long)best;
}

/*
 * ---- least_conn: the usable member with the fewest active connections per unit of weight.
 * The scan starts after the previous pick so that equally loaded members take turns.
 */
static long lg_bal_least_conn(lg_bal_t *b, const lg_bal_view_t *v, size_t avoid)
{
    lg_bal_scan_t s = lg_bal_scan(b->cursor, avoid);
    size_t best = LG_BAL_NONE;

    for (size_t i; (i = lg_bal_next(b, v, &s)) != LG_BAL_NONE;) {
        if (best == LG_BAL_NONE || lg_bal_lighter(b, v, i, best))
            best = i;
    }
    if (best == LG_BAL_NONE)
        return s.sole;
    b->cursor = lg_bal_after(b, best);
    return (long)best;
}

/*
 * ---- p2c: two distinct random usable members; the less loaded one (per unit of weight)
 * wins, the first drawn on a tie. The counts are summed over the workers and lag a little;
 * two random choices keep the workers from all piling onto the same idle member.
 */
static long lg_bal_p2c(lg_bal_t *b, const lg_bal_view_t *v, size_t avoid)
{
    lg_bal_scan_t s = lg_bal_scan(0, avoid);
    size_t k = 0, x, y;

    for (size_t i; (i = lg_bal_next(b, v, &s)) != LG_BAL_NONE;)
        b->cand[k++] = i;
    if (k == 0)
        return s.sole;
    if (k == 1)
        return (long)b->cand[0];
    x = lg_bal_below(b, k);
    y = lg_bal_below(b, k - 1);
    if (y >= x)
        y++;
    x = b->cand[x];
    y = b->cand[y];
    return (long)(lg_bal_lighter(b, v, y, x) ? y : x);
}

/*
 * ---- hash: Maglev. Each member walks the table in its own order (offset + j * skip mod M,
 * both from its name) and the members take turns claiming the next free slot of their walk
 * until the table is full; table[key % M] is the key's member. A turn goes to the member that
 * holds the fewest slots per unit of weight, so shares follow the weights while every usable
 * member holds at least one slot (when M >= n). Ties go by name hash, then index: the table
 * depends only on the names, weights and usability of the members, never on their order, the
 * worker or the generation that built it.
 */

/* Whether member a takes its turn before member c. */
static int lg_bal_turn_before(const lg_bal_t *b, uint32_t a, uint32_t c)
{
    uint64_t ta = (uint64_t)b->count[a] * b->weight[c];
    uint64_t tc = (uint64_t)b->count[c] * b->weight[a];

    if (ta != tc)
        return ta < tc;
    if (b->rank[a] != b->rank[c])
        return b->rank[a] < b->rank[c];
    return a < c;
}

static void lg_bal_sift_down(lg_bal_t *b, size_t len, size_t at)
{
    uint32_t *h = b->heap;

    for (;;) {
        size_t first = at, l = 2 * at + 1, r = l + 1;
        uint32_t t;

        if (l < len && lg_bal_turn_before(b, h[l], h[first]))
            first = l;
        if (r < len && lg_bal_turn_before(b, h[r], h[first]))
            first = r;
        if (first == at)
            return;
        t = h[at];
        h[at] = h[first];
        h[first] = t;
        at = first;
    }
}

static int lg_bal_bit(const uint64_t *bits, size_t i)
{
    return (int)((bits[i / LG_BAL_WORD_BITS] >> (i % LG_BAL_WORD_BITS)) & 1u);
}

/* Fill the table for the usable members of b->seen (at least one). */
static void lg_bal_maglev_build(lg_bal_t *b)
{
    size_t len = 0;

    for (size_t i = 0; i < b->n; i++) {
        if (!lg_bal_bit(b->seen, i))
            continue;
        b->pos[i] = b->offset[i];
        b->count[i] = 0;
        b->heap[len++] = (uint32_t)i;
    }
    for (size_t i = len / 2; i-- > 0;)
        lg_bal_sift_down(b, len, i);
    for (uint32_t s = 0; s < b->m; s++)
        b->table[s] = LG_BAL_EMPTY;

    /*
     * A walk visits every slot once in M steps and some slot is free until the last turn, so
     * each inner loop ends, and a member's walk never takes more than M steps in all.
     */
    for (uint32_t filled = 0; filled < b->m; filled++) {
        uint32_t i = b->heap[0];

        while (b->table[b->pos[i]] != LG_BAL_EMPTY)
            b->pos[i] = b->pos[i] + b->skip[i] < b->m ? b->pos[i] + b->skip[i]
                                                      : b->pos[i] + b->skip[i] - b->m;
        b->table[b->pos[i]] = i;
        b->count[i]++;
        lg_bal_sift_down(b, len, 0);
    }
    memcpy(b->built, b->seen, b->words * sizeof(*b->built));
    b->have_table = 1;
}

static long lg_bal_maglev(lg_bal_t *b, const lg_bal_view_t *v, uint64_t key, size_t avoid)
{
    size_t usable = 0;
    uint32_t s;

    memset(b->seen, 0, b->words * sizeof(*b->seen));
    for (size_t i = 0; i < b->n; i++) {
        if (lg_bal_usable(v, i)) {
            b->seen[i / LG_BAL_WORD_BITS] |= (uint64_t)1 << (i % LG_BAL_WORD_BITS);
            usable++;
        }
    }
    if (usable == 0)
        return -1;
    if (!b->have_table || memcmp(b->seen, b->built, b->words * sizeof(*b->seen)) != 0)
        lg_bal_maglev_build(b);

    s = (uint32_t)(key % b->m);
    if (b->table[s] != avoid || usable == 1)
        return (long)b->table[s];
    /* The next slot held by another member: deterministic, and spread by the table order. */
    for (uint32_t k = 1; k < b->m; k++) {
        s = s + 1 < b->m ? s + 1 : 0;
        if (b->table[s] != avoid)
            return (long)b->table[s];
    }
    return (long)avoid;
}

/* ---- the balancer */

static uint32_t lg_bal_table_size(size_t n)
{
    for (size_t k = 0; k < LG_NELEMS(lg_bal_primes); k++) {
        if (lg_bal_primes[k] / LG_BAL_SLOTS_PER_MEMBER >= n)
            return lg_bal_primes[k];
    }
    return lg_bal_primes[LG_NELEMS(lg_bal_primes) - 1];
}

static int lg_bal_maglev_new(lg_bal_t *b, const char *const *names)
{
    size_t n = b->n ? b->n : 1;

    b->m = lg_bal_table_size(b->n);
    b->words = (n + LG_BAL_WORD_BITS - 1) / LG_BAL_WORD_BITS;
    b->table = calloc(b->m, sizeof(*b->table));
    b->offset = calloc(n, sizeof(*b->offset));
    b->skip = calloc(n, sizeof(*b->skip));
    b->rank = calloc(n, sizeof(*b->rank));
    b->pos = calloc(n, sizeof(*b->pos));
    b->count = calloc(n, sizeof(*b->count));
    b->heap = calloc(n, sizeof(*b->heap));
    b->built = calloc(b->words, sizeof(*b->built));
    b->seen = calloc(b->words, sizeof(*b->seen));
    if (b->table == NULL || b->offset == NULL || b->skip == NULL || b->rank == NULL ||
        b->pos == NULL || b->count == NULL || b->heap == NULL || b->built == NULL ||
        b->seen == NULL)
        return LG_ERR;

    for (size_t i = 0; i < b->n; i++) {
        char text[LG_BAL_NAME_MAX];
        const char *name = names != NULL ? names[i] : NULL;
        uint64_t h;

        if (name == NULL) {
            if (lg_format(text, sizeof(text), "#%zu", i) != LG_OK)
                return LG_ERR;
            name = text;
        }
        h = lg_bal_hash(name, strlen(name));
        b->rank[i] = h;
        b->offset[i] = (uint32_t)(lg_bal_mix(h ^ LG_MAGLEV_OFFSET) % b->m);
        b->skip[i] = (uint32_t)(lg_bal_mix(h ^ LG_MAGLEV_SKIP) % (b->m - 1)) + 1;
    }
    return LG_OK;
}

lg_bal_t *lg_bal_new(lg_balance_t algo, size_t n, const unsigned *weights, const char *const *names)
{
    struct timespec ts;
    lg_bal_t *b;
    size_t alloc = n ? n : 1;

    if (n > UINT32_MAX)
        return NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->algo = algo;
    b->n = n;
    b->weight = calloc(alloc, sizeof(*b->weight));
    if (b->weight == NULL)
        goto out_free;
    for (size_t i = 0; i < n; i++)
        b->weight[i] =
            weights != NULL && weights[i] > 0 && algo != LG_BALANCE_ROUND_ROBIN ? weights[i] : 1;

    /* hash: requests without a key, round_robin: members ramping up, by weighted round robin */
    if (algo == LG_BALANCE_WEIGHTED || algo == LG_BALANCE_HASH || algo == LG_BALANCE_ROUND_ROBIN) {
        b->current = calloc(alloc, sizeof(*b->current));
        if (b->current == NULL)
            goto out_free;
    }
    b->backup = calloc(alloc, sizeof(*b->backup));
    if (b->backup == NULL)
        goto out_free;
    switch (algo) {
    case LG_BALANCE_P2C:
        b->cand = calloc(alloc, sizeof(*b->cand));
        if (b->cand == NULL)
            goto out_free;
        /* Workers fork from one master: their address and clock may match, their pid not. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        b->rng = lg_bal_mix((uint64_t)(uintptr_t)b ^
                            ((uint64_t)ts.tv_sec * LG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec) ^
                            ((uint64_t)getpid() << LG_PID_SHIFT));
        break;
    case LG_BALANCE_HASH:
        if (lg_bal_maglev_new(b, names) != LG_OK)
            goto out_free;
        break;
    case LG_BALANCE_ROUND_ROBIN:
    case LG_BALANCE_WEIGHTED:
    case LG_BALANCE_LEAST_CONN:
        break;
    }
    return b;

out_free:
    lg_bal_free(b);
    return NULL;
}

void lg_bal_free(lg_bal_t *b)
{
    if (b == NULL)
        return;
    free(b->weight);
    free(b->current);
    free(b->backup);
    free(b->cand);
    free(b->table);
    free(b->offset);
    free(b->skip);
    free(b->rank);
    free(b->pos);
    free(b->count);
    free(b->heap);
    free(b->built);
    free(b->seen);
    free(b);
}

/*
 * ---- backups: a pick sees the members of one tier through a view of its own, the primaries
 * while one of them is usable, else the backups.
 */
typedef struct lg_bal_tier {
    const lg_bal_t *b;
    const lg_bal_view_t *v; /* the caller's */
    unsigned char backups;  /* the tier in use */
} lg_bal_tier_t;

static int lg_bal_tier_usable(void *ctx, size_t i)
{
    const lg_bal_tier_t *t = ctx;

    return t->b->backup[i] == t->backups && lg_bal_usable(t->v, i);
}

static uint32_t lg_bal_tier_active(void *ctx, size_t i)
{
    return lg_bal_active(((const lg_bal_tier_t *)ctx)->v, i);
}

static uint32_t lg_bal_tier_ramp(void *ctx, size_t i)
{
    return lg_bal_ramp_of(((const lg_bal_tier_t *)ctx)->v, i);
}

/* Whether a primary (non-backup) member is usable. */
static int lg_bal_primary_up(const lg_bal_t *b, const lg_bal_view_t *v)
{
    for (size_t i = 0; i < b->n; i++)
        if (!b->backup[i] && lg_bal_usable(v, i))
            return 1;
    return 0;
}

void lg_bal_set_backup(lg_bal_t *b, size_t i)
{
    if (i < b->n && !b->backup[i]) {
        b->backup[i] = 1;
        b->nbackup++;
    }
}

int lg_bal_eligible(const lg_bal_t *b, const lg_bal_view_t *v, size_t i)
{
    if (i >= b->n || !lg_bal_usable(v, i))
        return 0;
    return !b->backup[i] || !lg_bal_primary_up(b, v);
}

/* A pick among the members `v` shows as usable. */
static long lg_bal_pick_in(lg_bal_t *b, const lg_bal_view_t *v, uint64_t key, size_t av)
{
    switch (b->algo) {
    case LG_BALANCE_ROUND_ROBIN:
        return lg_bal_round_robin(b, v, av);
    case LG_BALANCE_WEIGHTED:
        return lg_bal_weighted(b, v, av);
    case LG_BALANCE_LEAST_CONN:
        return lg_bal_least_conn(b, v, av);
    case LG_BALANCE_P2C:
        return lg_bal_p2c(b, v, av);
    case LG_BALANCE_HASH:
        if (key == LG_BAL_NO_KEY)
            return lg_bal_weighted(b, v, av); /* HAProxy's fallback for a missing key */
        return lg_bal_maglev(b, v, key, av);
    }
    return -1;
}

/* A pick in the tier in use: the primaries while one is usable, else the backups. */
static long lg_bal_pick_tier(lg_bal_t *b, const lg_bal_view_t *v, uint64_t key, size_t av)
{
    lg_bal_tier_t t = {b, v, (unsigned char)!lg_bal_primary_up(b, v)};
    lg_bal_view_t tv = {&t, lg_bal_tier_usable, lg_bal_tier_active,
                        v->ramp != NULL ? lg_bal_tier_ramp : NULL};

    return lg_bal_pick_in(b, &tv, key, av);
}

long lg_bal_pick(lg_bal_t *b, const lg_bal_view_t *v, uint64_t key, long avoid)
{
    size_t av = avoid >= 0 && (size_t)avoid < b->n ? (size_t)avoid : LG_BAL_NONE;

    if (b->nbackup > 0)
        return lg_bal_pick_tier(b, v, key, av);
    return lg_bal_pick_in(b, v, key, av);
}
