/*
 * test_balance.c - choosing a pool member (src/upstream/balance.c): round_robin, weighted,
 * least_conn, p2c and the Maglev hash, seen through a view whose health and connection counts
 * each test sets.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/lg.h"
#include "upstream/balance.h"

#define MAXN  16
#define PICKS 100000

typedef struct pool {
    int down[MAXN];
    uint32_t active[MAXN];
} pool_t;

static int pool_usable(void *ctx, size_t i)
{
    return !((pool_t *)ctx)->down[i];
}

static uint32_t pool_active(void *ctx, size_t i)
{
    return ((pool_t *)ctx)->active[i];
}

static lg_bal_view_t view_of(pool_t *p)
{
    return (lg_bal_view_t){.ctx = p, .usable = pool_usable, .active = pool_active};
}

/* Picks counted per member over `picks` picks; fails on -1. */
static void count_picks(lg_bal_t *b, pool_t *p, size_t picks, size_t *counts, size_t n)
{
    lg_bal_view_t v = view_of(p);

    memset(counts, 0, n * sizeof(*counts));
    for (size_t k = 0; k < picks; k++) {
        long i = lg_bal_pick(b, &v, 0, -1);

        cr_assert(i >= 0 && (size_t)i < n, "pick %zu returned %ld", k, i);
        counts[i]++;
    }
}

/* Asserts that `count` of `total` is `share` within `tolerance` (both fractions of 1). */
static void assert_share(size_t count, size_t total, double share, double tolerance, size_t i)
{
    double got = (double)count / (double)total;

    cr_assert(got >= share - tolerance && got <= share + tolerance,
              "member %zu got %.4f of the picks, expected %.4f +- %.4f", i, got, share, tolerance);
}

/* The key of the i-th client: the hash of an IPv4 address text, as the proxy computes it. */
static uint64_t client_key(size_t i)
{
    char ip[32];
    int len = snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255, i & 255);

    return lg_bal_hash(ip, (size_t)len);
}

static const char *const names10[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80",
                                      "10.0.0.5:80", "10.0.0.6:80", "10.0.0.7:80", "10.0.0.8:80",
                                      "10.0.0.9:80", "10.0.0.10:80"};

/* ---- round_robin */

Test(balance, round_robin_cycles_in_order)
{
    pool_t p = {0};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_ROUND_ROBIN, 3, NULL, NULL);

    cr_assert_not_null(b);
    for (long k = 0; k < 9; k++)
        cr_assert_eq(lg_bal_pick(b, &v, 0, -1), k % 3);
    lg_bal_free(b);
}

Test(balance, round_robin_skips_unusable)
{
    pool_t p = {.down = {0, 1, 0, 1}};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_ROUND_ROBIN, 4, NULL, NULL);

    for (int k = 0; k < 4; k++) {
        cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 0);
        cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 2);
    }
    p.down[1] = 0;
    cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 0);
    cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 1);
    cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 2);
    lg_bal_free(b);
}

Test(balance, round_robin_avoid_unless_sole)
{
    pool_t p = {0};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_ROUND_ROBIN, 3, NULL, NULL);

    cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 0);
    cr_assert_eq(lg_bal_pick(b, &v, 0, 1), 2); /* 1 is next but just failed */
    cr_assert_eq(lg_bal_pick(b, &v, 0, 0), 1);
    p.down[0] = p.down[2] = 1;
    for (int k = 0; k < 3; k++)
        cr_assert_eq(lg_bal_pick(b, &v, 0, 1), 1);
    p.down[1] = 1;
    cr_assert_eq(lg_bal_pick(b, &v, 0, 1), -1);
    lg_bal_free(b);
}

/* ---- weighted */

static void check_weights(const unsigned *w, size_t n)
{
    pool_t p = {0};
    lg_bal_t *b = lg_bal_new(LG_BALANCE_WEIGHTED, n, w, NULL);
    size_t counts[MAXN];
    unsigned total = 0;

    for (size_t i = 0; i < n; i++)
        total += w[i];
    count_picks(b, &p, PICKS, counts, n);
    for (size_t i = 0; i < n; i++) {
        double share = (double)w[i] / total;

        assert_share(counts[i], PICKS, share, share * 0.02, i);
    }
    lg_bal_free(b);
}

Test(balance, weighted_respects_weights)
{
    static const unsigned w1[] = {1, 2, 7}, w2[] = {5, 1, 1}, w3[] = {1, 1, 1, 1};

    check_weights(w1, 3);
    check_weights(w2, 3);
    check_weights(w3, 4);
}

Test(balance, weighted_is_smooth)
{
    static const unsigned w[] = {5, 1, 1};
    static const long expect[] = {0, 0, 1, 0, 2, 0, 0}; /* a a b a c a a, as nginx */
    pool_t p = {0};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_WEIGHTED, 3, w, NULL);

    for (int round = 0; round < 10; round++) {
        for (size_t k = 0; k < LG_NELEMS(expect); k++)
            cr_assert_eq(lg_bal_pick(b, &v, 0, -1), expect[k], "round %d pick %zu", round, k);
    }
    lg_bal_free(b);
}

Test(balance, weighted_unusable_renormalizes)
{
    static const unsigned w[] = {1, 2, 7};
    pool_t p = {.down = {0, 0, 1}};
    lg_bal_t *b = lg_bal_new(LG_BALANCE_WEIGHTED, 3, w, NULL);
    size_t counts[3];

    count_picks(b, &p, PICKS, counts, 3);
    cr_assert_eq(counts[2], 0);
    assert_share(counts[0], PICKS, 1.0 / 3, 0.02 / 3, 0);
    assert_share(counts[1], PICKS, 2.0 / 3, 0.04 / 3, 1);

    /* back up: the three share 1:2:7 again */
    p.down[2] = 0;
    count_picks(b, &p, PICKS, counts, 3);
    assert_share(counts[0], PICKS, 0.1, 0.002, 0);
    assert_share(counts[1], PICKS, 0.2, 0.004, 1);
    assert_share(counts[2], PICKS, 0.7, 0.014, 2);
    lg_bal_free(b);
}

Test(balance, weighted_avoid_unless_sole)
{
    static const unsigned w[] = {5, 1, 1};
    pool_t p = {0};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_WEIGHTED, 3, w, NULL);

    for (int k = 0; k < 20; k++)
        cr_assert_neq(lg_bal_pick(b, &v, 0, 0), 0);
    p.down[1] = p.down[2] = 1;
    cr_assert_eq(lg_bal_pick(b, &v, 0, 0), 0);
    lg_bal_free(b);
}

/* ---- least_conn */

Test(balance, least_conn_picks_idle)
{
    pool_t p = {.active = {3, 0, 5}};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_LEAST_CONN, 3, NULL, NULL);

    for (int k = 0; k < 10; k++)
        cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 1);
    cr_assert_eq(lg_bal_pick(b, &v, 0, 1), 0); /* the idle one just failed: next least */
    p.down[1] = 1;
    cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 0);
    p.down[0] = p.down[2] = 1;
    p.down[1] = 0;
    cr_assert_eq(lg_bal_pick(b, &v, 0, 1), 1); /* sole */
    lg_bal_free(b);
}

Test(balance, least_conn_ties_rotate)
{
    pool_t p = {.active = {2, 7, 2, 2}};
    lg_bal_t *b = lg_bal_new(LG_BALANCE_LEAST_CONN, 4, NULL, NULL);
    size_t counts[4];

    count_picks(b, &p, 3000, counts, 4);
    cr_assert_eq(counts[0], 1000);
    cr_assert_eq(counts[1], 0);
    cr_assert_eq(counts[2], 1000);
    cr_assert_eq(counts[3], 1000);
    lg_bal_free(b);
}

Test(balance, least_conn_counts_per_weight)
{
    static const unsigned w[] = {4, 1};
    pool_t p = {.active = {6, 2}}; /* 1.5 per unit of weight against 2 */
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_LEAST_CONN, 2, w, NULL);

    cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 0);
    p.active[0] = 9;
    cr_assert_eq(lg_bal_pick(b, &v, 0, -1), 1);
    lg_bal_free(b);
}

/* ---- p2c */

Test(balance, p2c_two_members_picks_less_busy)
{
    pool_t p = {.active = {0, 100}};
    lg_bal_t *b = lg_bal_new(LG_BALANCE_P2C, 2, NULL, NULL);
    size_t counts[2];

    count_picks(b, &p, 10000, counts, 2);
    cr_assert_eq(counts[0], 10000);
    p.active[0] = 101;
    count_picks(b, &p, 10000, counts, 2);
    cr_assert_eq(counts[1], 10000);
    lg_bal_free(b);
}

Test(balance, p2c_favours_idle_member)
{
    pool_t p = {0};
    lg_bal_t *b = lg_bal_new(LG_BALANCE_P2C, 10, NULL, NULL);
    size_t counts[10];

    for (size_t i = 0; i < 10; i++)
        p.active[i] = i == 4 ? 0 : 100;
    count_picks(b, &p, PICKS, counts, 10);
    /* the idle member wins whenever it is drawn: 2 draws of 10, so 20% instead of 10% */
    assert_share(counts[4], PICKS, 0.2, 0.02, 4);
    for (size_t i = 0; i < 10; i++) {
        if (i != 4)
            assert_share(counts[i], PICKS, 0.8 / 9, 0.02, i);
    }
    lg_bal_free(b);
}

Test(balance, p2c_even_when_equal_and_skips_unusable)
{
    pool_t p = {.down = {0, 1, 0, 0, 1}, .active = {5, 0, 5, 5, 0}};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_P2C, 5, NULL, NULL);
    size_t counts[5];

    count_picks(b, &p, PICKS, counts, 5);
    cr_assert_eq(counts[1], 0);
    cr_assert_eq(counts[4], 0);
    assert_share(counts[0], PICKS, 1.0 / 3, 0.02, 0);
    assert_share(counts[2], PICKS, 1.0 / 3, 0.02, 2);
    assert_share(counts[3], PICKS, 1.0 / 3, 0.02, 3);
    for (int k = 0; k < 1000; k++)
        cr_assert_neq(lg_bal_pick(b, &v, 0, 2), 2);
    p.down[0] = p.down[3] = 1;
    cr_assert_eq(lg_bal_pick(b, &v, 0, 2), 2); /* sole */
    lg_bal_free(b);
}

/* ---- hash (Maglev) */

static void map_keys(lg_bal_t *b, pool_t *p, long *out, size_t nkeys)
{
    lg_bal_view_t v = view_of(p);

    for (size_t k = 0; k < nkeys; k++)
        out[k] = lg_bal_pick(b, &v, client_key(k), -1);
}

Test(balance, hash_same_key_same_member)
{
    pool_t p = {0};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_HASH, 10, NULL, names10);

    for (size_t k = 0; k < 1000; k++) {
        long first = lg_bal_pick(b, &v, client_key(k), -1);

        cr_assert(first >= 0 && first < 10);
        for (int again = 0; again < 3; again++)
            cr_assert_eq(lg_bal_pick(b, &v, client_key(k), -1), first);
    }
    lg_bal_free(b);
}

Test(balance, hash_spreads_keys_evenly)
{
    static long map[PICKS];
    pool_t p = {0};
    lg_bal_t *b = lg_bal_new(LG_BALANCE_HASH, 10, NULL, names10);
    size_t counts[10] = {0};

    map_keys(b, &p, map, PICKS);
    for (size_t k = 0; k < PICKS; k++)
        counts[map[k]]++;
    for (size_t i = 0; i < 10; i++)
        assert_share(counts[i], PICKS, 0.1, 0.02, i);
    lg_bal_free(b);
}

Test(balance, hash_removal_moves_few_keys_and_restores)
{
    static long before[PICKS], during[PICKS], after[PICKS];
    pool_t p = {0};
    lg_bal_t *b = lg_bal_new(LG_BALANCE_HASH, 10, NULL, names10);
    size_t moved = 0, moved_others = 0, others = 0;

    map_keys(b, &p, before, PICKS);
    p.down[3] = 1;
    map_keys(b, &p, during, PICKS);
    for (size_t k = 0; k < PICKS; k++) {
        cr_assert_neq(during[k], 3);
        if (during[k] != before[k])
            moved++;
        if (before[k] != 3) {
            others++;
            if (during[k] != before[k])
                moved_others++;
        }
    }
    cr_assert_leq(moved, PICKS * 12 / 100, "%zu of %d keys moved", moved, PICKS);
    /* the keys of the other members mostly stay where they were */
    cr_assert_leq(moved_others, others * 3 / 100, "%zu of %zu keys of others moved", moved_others,
                  others);

    p.down[3] = 0;
    map_keys(b, &p, after, PICKS);
    cr_assert_eq(memcmp(before, after, sizeof(before)), 0, "the original mapping is restored");
    lg_bal_free(b);
}

Test(balance, hash_consistent_across_balancers_and_order)
{
    static long one[PICKS], two[PICKS], three[PICKS];
    const char *reversed[10];
    pool_t p = {0}, rp = {0};
    lg_bal_t *a = lg_bal_new(LG_BALANCE_HASH, 10, NULL, names10);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_HASH, 10, NULL, names10);
    lg_bal_t *c;

    for (size_t i = 0; i < 10; i++)
        reversed[i] = names10[9 - i];
    c = lg_bal_new(LG_BALANCE_HASH, 10, NULL, reversed);

    /* as in another worker or generation: same members, member 5 down, listed backwards */
    p.down[5] = 1;
    rp.down[9 - 5] = 1;
    map_keys(a, &p, one, PICKS);
    map_keys(b, &p, two, PICKS);
    map_keys(c, &rp, three, PICKS);
    for (size_t k = 0; k < PICKS; k++) {
        cr_assert_eq(one[k], two[k], "key %zu", k);
        cr_assert_eq(one[k], 9 - three[k], "key %zu: %s and %s", k, names10[one[k]],
                     reversed[three[k]]);
    }
    lg_bal_free(a);
    lg_bal_free(b);
    lg_bal_free(c);
}

Test(balance, hash_honours_weights)
{
    static const unsigned w[] = {1, 3, 6};
    static long map[PICKS];
    pool_t p = {0};
    lg_bal_t *b = lg_bal_new(LG_BALANCE_HASH, 3, w, names10);
    size_t counts[3] = {0};

    map_keys(b, &p, map, PICKS);
    for (size_t k = 0; k < PICKS; k++)
        counts[map[k]]++;
    assert_share(counts[0], PICKS, 0.1, 0.02, 0);
    assert_share(counts[1], PICKS, 0.3, 0.02, 1);
    assert_share(counts[2], PICKS, 0.6, 0.02, 2);
    lg_bal_free(b);
}

Test(balance, hash_avoid_is_deterministic)
{
    pool_t p = {0};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_HASH, 4, NULL, names10);

    for (size_t k = 0; k < 1000; k++) {
        uint64_t key = client_key(k);
        long first = lg_bal_pick(b, &v, key, -1);
        long second = lg_bal_pick(b, &v, key, first);

        cr_assert(second >= 0 && second < 4 && second != first);
        cr_assert_eq(lg_bal_pick(b, &v, key, first), second);
    }
    p.down[0] = p.down[1] = p.down[2] = 1;
    cr_assert_eq(lg_bal_pick(b, &v, client_key(0), 3), 3); /* sole */
    lg_bal_free(b);
}

Test(balance, hash_function_is_stable_and_mixes)
{
    static const char text[] = "GET /index.html";
    uint64_t h = lg_bal_hash(text, sizeof(text) - 1);
    unsigned flipped = 0;

    cr_assert_eq(lg_bal_hash(text, sizeof(text) - 1), h);
    cr_assert_neq(lg_bal_hash("", 0), lg_bal_hash("\0", 1));
    /* a one-bit change of the input flips about half the output bits */
    for (size_t i = 0; i < (sizeof(text) - 1) * 8; i++) {
        char copy[sizeof(text)];

        memcpy(copy, text, sizeof(text));
        copy[i / 8] = (char)(copy[i / 8] ^ (1 << (i % 8)));
        flipped += (unsigned)__builtin_popcountll(h ^ lg_bal_hash(copy, sizeof(text) - 1));
    }
    flipped /= (unsigned)((sizeof(text) - 1) * 8);
    cr_assert(flipped >= 28 && flipped <= 36, "on average %u bits flipped", flipped);
}

/* A request without its hash key (no such header or cookie) goes by weighted round robin. */
Test(balance, hash_without_key_goes_round_robin_by_weight)
{
    static const unsigned w[3] = {2, 1, 1};
    pool_t p = {0};
    lg_bal_view_t v = view_of(&p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_HASH, 3, w, names10);
    size_t counts[3] = {0};

    cr_assert_not_null(b);
    for (int k = 0; k < 400; k++)
        counts[lg_bal_pick(b, &v, LG_BAL_NO_KEY, -1)]++;
    cr_assert_eq(counts[0], 200);
    cr_assert_eq(counts[1], 100);
    cr_assert_eq(counts[2], 100);
    /* the one that just failed is avoided, a down one skipped */
    p.down[2] = 1;
    for (int k = 0; k < 4; k++)
        cr_assert_eq(lg_bal_pick(b, &v, LG_BAL_NO_KEY, 0), 1);
    /* keys still map to one member each */
    p.down[2] = 0;
    for (size_t i = 0; i < 50; i++)
        cr_assert_eq(lg_bal_pick(b, &v, client_key(i), -1), lg_bal_pick(b, &v, client_key(i), -1));
    lg_bal_free(b);
}

/* ---- every algorithm */

Test(balance, all_unusable_is_minus_one)
{
    static const lg_balance_t algos[] = {LG_BALANCE_ROUND_ROBIN, LG_BALANCE_WEIGHTED,
                                         LG_BALANCE_LEAST_CONN, LG_BALANCE_P2C, LG_BALANCE_HASH};
    pool_t p = {.down = {1, 1, 1, 1, 1}};
    lg_bal_view_t v = view_of(&p);

    for (size_t a = 0; a < LG_NELEMS(algos); a++) {
        lg_bal_t *b = lg_bal_new(algos[a], 5, NULL, names10);
        lg_bal_t *empty = lg_bal_new(algos[a], 0, NULL, NULL);

        cr_assert_not_null(b);
        cr_assert_not_null(empty);
        for (long avoid = -1; avoid < 5; avoid++)
            cr_assert_eq(lg_bal_pick(b, &v, client_key((size_t)avoid + 1), avoid), -1,
                         "algorithm %zu", a);
        cr_assert_eq(lg_bal_pick(empty, &v, 1, -1), -1, "algorithm %zu", a);
        /* one comes back: every algorithm finds it */
        p.down[2] = 0;
        cr_assert_eq(lg_bal_pick(b, &v, 7, -1), 2, "algorithm %zu", a);
        p.down[2] = 1;
        lg_bal_free(b);
        lg_bal_free(empty);
    }
}

/* ---- backups (lg_bal_set_backup) */

static const lg_balance_t all_algos[] = {LG_BALANCE_ROUND_ROBIN, LG_BALANCE_WEIGHTED,
                                         LG_BALANCE_LEAST_CONN, LG_BALANCE_P2C, LG_BALANCE_HASH};

/* Over 600 picks (distinct hash keys): how many went to each of n members; none is -1. */
static void count_keyed(lg_bal_t *b, pool_t *p, size_t *counts, size_t n)
{
    lg_bal_view_t v = view_of(p);

    memset(counts, 0, n * sizeof(*counts));
    for (size_t k = 0; k < 600; k++) {
        long i = lg_bal_pick(b, &v, client_key(k), -1);

        cr_assert(i >= 0 && (size_t)i < n, "pick %zu returned %ld", k, i);
        counts[i]++;
    }
}

/* Members 0 and 1 primaries, 2 and 3 backups: the backups get traffic only with 0 and 1 down. */
Test(balance, backups_only_while_no_primary_is_up)
{
    for (size_t a = 0; a < LG_NELEMS(all_algos); a++) {
        lg_bal_t *b = lg_bal_new(all_algos[a], 4, NULL, names10);
        pool_t p = {0};
        lg_bal_view_t v = view_of(&p);
        size_t c[4];

        cr_assert_not_null(b);
        lg_bal_set_backup(b, 2);
        lg_bal_set_backup(b, 3);
        count_keyed(b, &p, c, 4);
        cr_assert(c[0] > 0 && c[1] > 0 && c[2] == 0 && c[3] == 0, "algorithm %zu: %zu %zu %zu %zu",
                  a, c[0], c[1], c[2], c[3]);
        cr_assert(!lg_bal_eligible(b, &v, 2) && lg_bal_eligible(b, &v, 0), "algorithm %zu", a);
        p.down[0] = 1; /* one primary left: it takes everything */
        count_keyed(b, &p, c, 4);
        cr_assert_eq(c[1], 600, "algorithm %zu", a);
        cr_assert_eq(lg_bal_pick(b, &v, 5, 1), 1, "algorithm %zu: a retry stays on primaries", a);
        p.down[1] = 1; /* no primary: both backups, balanced */
        count_keyed(b, &p, c, 4);
        cr_assert(c[0] == 0 && c[1] == 0 && c[2] > 0 && c[3] > 0, "algorithm %zu: %zu %zu %zu %zu",
                  a, c[0], c[1], c[2], c[3]);
        cr_assert(lg_bal_eligible(b, &v, 2) && !lg_bal_eligible(b, &v, 0), "algorithm %zu", a);
        p.down[1] = 0; /* a primary is back: the backups get nothing again */
        count_keyed(b, &p, c, 4);
        cr_assert_eq(c[1], 600, "algorithm %zu", a);
        p.down[1] = p.down[2] = p.down[3] = 1; /* nothing up */
        cr_assert_eq(lg_bal_pick(b, &v, 5, -1), -1, "algorithm %zu", a);
        lg_bal_free(b);
    }
}

/* A pool of backups only is one tier: every member takes traffic. */
Test(balance, backups_only_pool_balances_them_all)
{
    for (size_t a = 0; a < LG_NELEMS(all_algos); a++) {
        lg_bal_t *b = lg_bal_new(all_algos[a], 3, NULL, names10);
        pool_t p = {0};
        size_t c[3];

        cr_assert_not_null(b);
        for (size_t i = 0; i < 3; i++)
            lg_bal_set_backup(b, i);
        count_keyed(b, &p, c, 3);
        cr_assert(c[0] > 0 && c[1] > 0 && c[2] > 0, "algorithm %zu: %zu %zu %zu", a, c[0], c[1],
                  c[2]);
        lg_bal_free(b);
    }
}

/* ---- slow_start (lg_bal_ramp and the view's ramp) */

Test(balance, ramp_is_linear_from_a_tenth_to_full)
{
    static const struct {
        uint64_t since, now, span;
        uint32_t want;
    } cases[] = {
        {0, 5000, 10000, LG_BAL_RAMP_FULL},       /* up from the start: no ramp */
        {1000, 1000, 0, LG_BAL_RAMP_FULL},        /* slow_start off */
        {1000, 1000, 10000, LG_BAL_RAMP_START},   /* just came up */
        {1000, 900, 10000, LG_BAL_RAMP_START},    /* a clock read before since */
        {1000, 6000, 10000, 550},                 /* half way */
        {1000, 10999, 10000, 999},                /* nearly there */
        {1000, 11000, 10000, LG_BAL_RAMP_FULL},   /* done */
        {1000, 1000000, 10000, LG_BAL_RAMP_FULL}, /* long done */
    };

    for (size_t k = 0; k < LG_NELEMS(cases); k++)
        cr_assert_eq(lg_bal_ramp(cases[k].since, cases[k].now, cases[k].span), cases[k].want,
                     "case %zu: %u", k, lg_bal_ramp(cases[k].since, cases[k].now, cases[k].span));
}

/* A pool whose member `ramping` came up at `since` and ramps over `span`; the clock is `now`. */
typedef struct ramp_pool {
    pool_t p;
    size_t ramping;
    uint64_t since, now, span;
} ramp_pool_t;

static uint32_t ramp_of(void *ctx, size_t i)
{
    const ramp_pool_t *r = ctx;

    return i == r->ramping ? lg_bal_ramp(r->since, r->now, r->span) : LG_BAL_RAMP_FULL;
}

static int ramp_usable(void *ctx, size_t i)
{
    return pool_usable(&((ramp_pool_t *)ctx)->p, i);
}

static uint32_t ramp_active(void *ctx, size_t i)
{
    return pool_active(&((ramp_pool_t *)ctx)->p, i);
}

/*
 * Two members, member 1 coming up at 0 with a 10 s slow_start, the clock moving 10 ms per pick
 * over 1,000 picks (one request in flight at a time for round robin and weighted; none ending
 * for least_conn and p2c, where the ramp divides the active count). Member 1's share of the
 * first 200 picks is under a quarter (a full share is half), of the last 200 over a third.
 */
Test(balance, slow_start_share_grows_for_every_algorithm_but_hash)
{
    static const lg_balance_t algos[] = {LG_BALANCE_ROUND_ROBIN, LG_BALANCE_WEIGHTED,
                                         LG_BALANCE_LEAST_CONN, LG_BALANCE_P2C};

    for (size_t a = 0; a < LG_NELEMS(algos); a++) {
        ramp_pool_t r = {.ramping = 1, .since = 1, .now = 1, .span = 10000};
        lg_bal_view_t v = {&r, ramp_usable, ramp_active, ramp_of};
        lg_bal_t *b = lg_bal_new(algos[a], 2, NULL, names10);
        size_t early = 0, late = 0;

        cr_assert_not_null(b);
        for (size_t k = 0; k < 1000; k++, r.now += 10) {
            long i = lg_bal_pick(b, &v, 0, -1);

            cr_assert(i == 0 || i == 1, "algorithm %zu: %ld", a, i);
            r.p.active[i]++;
            early += i == 1 && k < 200;
            late += i == 1 && k >= 800;
        }
        cr_assert_lt(early, 50, "algorithm %zu: %zu of the first 200", a, early);
        cr_assert_gt(late, 66, "algorithm %zu: %zu of the last 200", a, late);
        /* ramped: full weight, an equal share again */
        memset(r.p.active, 0, sizeof(r.p.active));
        r.now = r.since + r.span;
        late = 0;
        for (size_t k = 0; k < 200; k++) {
            long i = lg_bal_pick(b, &v, 0, -1);

            r.p.active[i] += algos[a] == LG_BALANCE_LEAST_CONN || algos[a] == LG_BALANCE_P2C;
            late += i == 1;
        }
        cr_assert(late >= 80 && late <= 120, "algorithm %zu: %zu of 200 at full weight", a, late);
        lg_bal_free(b);
    }
}

/* The hash table ignores the ramp: keys keep their member while it ramps up. */
Test(balance, slow_start_leaves_hash_keys_in_place)
{
    ramp_pool_t r = {.ramping = 1, .since = 1, .now = 1, .span = 10000};
    lg_bal_view_t ramped = {&r, ramp_usable, ramp_active, ramp_of};
    lg_bal_view_t plain = view_of(&r.p);
    lg_bal_t *b = lg_bal_new(LG_BALANCE_HASH, 3, NULL, names10);

    cr_assert_not_null(b);
    for (size_t k = 0; k < 300; k++)
        cr_assert_eq(lg_bal_pick(b, &ramped, client_key(k), -1),
                     lg_bal_pick(b, &plain, client_key(k), -1), "key %zu", k);
    lg_bal_free(b);
}
