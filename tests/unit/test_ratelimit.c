/*
 * test_ratelimit.c - rate limits: the rate_limit key of a route (defaults, every error at its
 * FILE:LINE:COL), the bucket math (burst, refill, the wait a 429 announces), the shared table
 * (keys apart, routes apart, eviction of idle keys and, when a window is full, of the key
 * nearest to full), a bucket shared by two processes that never gives a token twice, and the
 * key hash against SipHash's reference vector.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "lg_test.h"
#include "policy/ratelimit.h"

/* A file whose one route has `rate_limit: VALUE` (the value starts at line 6, column 21). */
static const char rl_file[] = "listeners:\n"
                              "  web:\n"
                              "    listen: 127.0.0.1:8080\n"
                              "    routes:\n"
                              "      - pool: app\n"
                              "        rate_limit: %s\n"
                              "      - pool: app\n"
                              "pools:\n"
                              "  app:\n"
                              "    backends:\n"
                              "      - address: 127.0.0.1:9001\n";

/* Load the file with `value`; NULL with the errors joined in *errs when it is refused. */
static lg_config_t *rl_load(const char *value, char **errs, char **path)
{
    char *dir = lg_test_tempdir();
    lg_config_errors_t e;
    lg_config_t *cf;

    *path = lg_test_keep(lg_test_write_file(dir, "rl.yaml", lg_fmt(rl_file, value)), NULL);
    cf = lg_config_load(*path, &e);
    *errs = lg_fmt("%s", "");
    for (size_t i = 0; i < e.n; i++)
        *errs = lg_fmt("%s%s\n", *errs, e.lines[i]);
    lg_config_errors_free(&e);
    return cf;
}

Test(ratelimit_config, defaults_and_every_key)
{
    static const struct {
        const char *value;
        lg_rl_key_t key;
        const char *header;
        unsigned rate, per_sec, burst;
        uint64_t interval_us;
    } cases[] = {
        {"{rate: 100/s}", LG_RL_KEY_CLIENT_IP, NULL, 100, 1, 100, 10000},
        {"{rate: 30/m}", LG_RL_KEY_CLIENT_IP, NULL, 30, 60, 30, 2000000},
        {"{key: client_ip, rate: 100/s, burst: 1}", LG_RL_KEY_CLIENT_IP, NULL, 100, 1, 1, 10000},
        {"{key: \"header:X-User\", rate: 3/s, burst: 50}", LG_RL_KEY_HEADER, "X-User", 3, 1, 50,
         333333},
        {"{rate: 1000000/s, burst: 1000000}", LG_RL_KEY_CLIENT_IP, NULL, 1000000, 1, 1000000, 1},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *errs, *path;
        lg_config_t *cf = rl_load(cases[i].value, &errs, &path);
        const lg_rate_limit_conf_t *rl;

        cr_assert_not_null(cf, "%s refused:\n%s", cases[i].value, errs);
        rl = cf->listeners[0].routes[0].rate_limit;
        cr_assert_not_null(rl, "%s", cases[i].value);
        cr_assert_eq(rl->key, cases[i].key, "%s", cases[i].value);
        if (cases[i].header != NULL)
            cr_assert_str_eq(rl->header, cases[i].header);
        cr_assert_eq(rl->rate, cases[i].rate, "%s", cases[i].value);
        cr_assert_eq(rl->per_sec, cases[i].per_sec, "%s", cases[i].value);
        cr_assert_eq(rl->burst, cases[i].burst, "%s", cases[i].value);
        cr_assert_eq(rl->interval_us, cases[i].interval_us, "%s", cases[i].value);
        cr_assert_null(rl->table, "only the master maps the buckets of a generation");
        cr_assert_null(cf->listeners[0].routes[1].rate_limit, "a route without the key");
        lg_config_free(cf);
    }
}

Test(ratelimit_config, errors_name_the_place)
{
    static const struct {
        const char *value, *error;
    } cases[] = {
        {"{rate: 0/s}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: invalid rate "
                        "\"0/s\": the number must be a whole number from 1 to 1000000"},
        {"{rate: 2000000/s}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: invalid "
                              "rate \"2000000/s\": the number must be a whole number from 1 to "
                              "1000000"},
        {"{rate: -5/s}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: invalid rate "
                         "\"-5/s\": the number must be a whole number from 1 to 1000000"},
        {"{rate: 1.5/s}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: invalid rate "
                          "\"1.5/s\": the number must be a whole number from 1 to 1000000"},
        {"{rate: 100}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: invalid rate "
                        "\"100\": expected N/s or N/m, such as 100/s"},
        {"{rate: /s}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: invalid rate "
                       "\"/s\": expected N/s or N/m, such as 100/s"},
        {"{rate: 100/h}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: invalid rate "
                          "\"100/h\": unknown unit (use /s or /m)"},
        {"{rate: 100/sec}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: invalid rate "
                            "\"100/sec\": unknown unit (use /s or /m)"},
        {"{rate: [100/s]}", ":6:28: error: listeners.web.routes[0].rate_limit.rate: expected a "
                            "rate such as 100/s or 30/m, got a list"},
        {"{rate: 100/s, burst: 0}", ":6:42: error: listeners.web.routes[0].rate_limit.burst: must "
                                    "be a whole number from 1 to 1000000, got \"0\""},
        {"{rate: 100/s, burst: 1000001}",
         ":6:42: error: listeners.web.routes[0].rate_limit.burst: must be a whole number from 1 "
         "to 1000000, got \"1000001\""},
        {"{rate: 100/s, key: ip}", ":6:40: error: listeners.web.routes[0].rate_limit.key: unknown "
                                   "value \"ip\" (expected client_ip or header:NAME)"},
        {"{rate: 100/s, key: \"header:X User\"}",
         ":6:40: error: listeners.web.routes[0].rate_limit.key: invalid header name \"X User\""},
        {"{rate: 100/s, key: \"header:\"}",
         ":6:40: error: listeners.web.routes[0].rate_limit.key: invalid header name \"\""},
        {"{rate: 100/s, brust: 5}",
         ":6:35: error: unknown key \"brust\" (did you mean \"burst\"?)"},
        {"{key: client_ip}",
         ":6:9: error: listeners.web.routes[0].rate_limit: missing required key \"rate\""},
        {"{}", ":6:21: error: listeners.web.routes[0].rate_limit: needs a rate, such as {rate: "
               "100/s}"},
        {"100/s", ":6:21: error: listeners.web.routes[0].rate_limit: expected a mapping such as "
                  "{key: client_ip, rate: 100/s, burst: 50}, got a single value"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *errs, *path;
        lg_config_t *cf = rl_load(cases[i].value, &errs, &path);

        cr_assert_null(cf, "%s was accepted", cases[i].value);
        cr_assert_str_eq(errs, lg_fmt("%s%s\n", path, cases[i].error), "%s", cases[i].value);
    }
}

/* ---- the bucket math */

#define US_PER_S 1000000u

/* 100/s with a burst of 10: 10 at once, then one every 10 ms, never more than 10 saved up. */
Test(ratelimit_gcra, burst_refill_and_wait)
{
    const uint64_t interval = US_PER_S / 100;
    uint64_t tat = 0, now = 5 * US_PER_S;

    for (int i = 0; i < 10; i++)
        cr_assert_eq(lg_rl_gcra(&tat, now, interval, 10), 0, "request %d of the burst", i);
    cr_assert_eq(lg_rl_gcra(&tat, now, interval, 10), interval, "the 11th waits one interval");
    cr_assert_eq(lg_rl_gcra(&tat, now + 4000, interval, 10), interval - 4000);
    cr_assert_eq(lg_rl_gcra(&tat, now + interval, interval, 10), 0, "a token came back");
    cr_assert_eq(lg_rl_gcra(&tat, now + interval, interval, 10), interval);
    /* a long pause fills the bucket to its burst and no further */
    now += 60 * US_PER_S;
    for (int i = 0; i < 10; i++)
        cr_assert_eq(lg_rl_gcra(&tat, now, interval, 10), 0, "request %d after the pause", i);
    cr_assert_neq(lg_rl_gcra(&tat, now, interval, 10), 0);
    /* a refused request takes nothing: the next token is still one interval away */
    cr_assert_eq(lg_rl_gcra(&tat, now, interval, 10), interval);
}

/* A client that keeps asking gets burst + rate * seconds, whatever its pace. */
Test(ratelimit_gcra, steady_flood_gets_burst_plus_rate)
{
    static const struct {
        uint64_t interval;
        unsigned burst, every_us, seconds, want;
    } cases[] = {
        {US_PER_S / 100, 10, 1000, 1, 110},       /* 100/s, 1,000 requests in a second */
        {US_PER_S / 100, 10, 250, 2, 210},        /* faster, for two seconds */
        {US_PER_S / 100, 1, 1000, 1, 101},        /* no burst: nginx's default */
        {60 * US_PER_S / 30, 30, 100000, 60, 60}, /* 30/m over a minute */
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        uint64_t tat = 0, t0 = US_PER_S;
        unsigned passed = 0;

        for (uint64_t t = t0; t <= t0 + (uint64_t)cases[i].seconds * US_PER_S;
             t += cases[i].every_us)
            passed += lg_rl_gcra(&tat, t, cases[i].interval, cases[i].burst) == 0;
        cr_assert_eq(passed, cases[i].want, "case %zu: %u passed", i, passed);
    }
}

/* Retry-After: whole seconds, rounded up, at least 1. */
Test(ratelimit_gcra, retry_after_seconds)
{
    static const struct {
        uint64_t us;
        unsigned s;
    } cases[] = {{0, 1}, {1, 1}, {10000, 1}, {US_PER_S, 1}, {US_PER_S + 1, 2}, {60 * US_PER_S, 60}};

    for (size_t i = 0; i < LG_NELEMS(cases); i++)
        cr_assert_eq(lg_rl_seconds(cases[i].us), cases[i].s, "%llu us",
                     (unsigned long long)cases[i].us);
}

/* ---- the table */

/* A rate limit of `burst` at `per_s` tokens per second on table t, counter `id`. */
static lg_rate_limit_conf_t rl_conf(lg_rl_table_t *t, size_t id, unsigned per_s, unsigned burst)
{
    return (lg_rate_limit_conf_t){.rate = per_s,
                                  .per_sec = 1,
                                  .burst = burst,
                                  .interval_us = US_PER_S / per_s,
                                  .table = t,
                                  .id = id};
}

/* Key hash i of one window: all with home slot `home`, with tags of their own. */
static uint64_t rl_window_key(uint64_t i, uint64_t home)
{
    return i << 48 | i << 20 | home;
}

Test(ratelimit_table, keys_and_routes_apart)
{
    lg_rl_table_t *t = lg_rl_map(2);
    lg_rate_limit_conf_t a, b;
    uint64_t ha, hb;

    cr_assert_not_null(t);
    a = rl_conf(t, 0, 1, 2);
    b = rl_conf(t, 1, 1, 2);
    ha = lg_rl_hash(t, 0, "alice", 5);
    hb = lg_rl_hash(t, 0, "bob", 3);
    cr_assert_neq(ha, hb);
    cr_assert_neq(lg_rl_hash(t, 1, "alice", 5), ha, "route 2's alice is not route 1's");
    cr_assert_eq(lg_rl_hash(t, 0, "alice", 5), ha);
    cr_assert_neq(lg_rl_hash(t, 0, "", 0), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(lg_rl_take(&a, ha, t->epoch + 1), 0);
    cr_assert_eq(lg_rl_take(&a, ha, t->epoch + 1), US_PER_S);
    cr_assert_eq(lg_rl_take(&a, hb, t->epoch + 1), 0, "bob has his own bucket");
    cr_assert_eq(lg_rl_take(&b, lg_rl_hash(t, 1, "alice", 5), t->epoch + 1), 0,
                 "so has alice on the other route");
    cr_assert_eq(lg_rl_keys(t, t->epoch + 1), 3);
    cr_assert_eq(lg_rl_take(&a, ha, t->epoch + 1001), 0, "a second later a token is back");
    cr_assert_eq(lg_rl_keys(t, t->epoch + 1001), 1, "bob's bucket and the other are full");
    cr_assert_eq(lg_rl_keys(t, t->epoch + 10000), 0, "every bucket is full again");
    lg_rl_free(t);
}

/*
 * A full window: a new key takes the slot of the key nearest to full (counted); a bucket that
 * filled up again is as good as absent (not counted); a key that was pushed out starts full.
 */
Test(ratelimit_table, eviction)
{
    lg_rl_table_t *t = lg_rl_map(1);
    lg_rate_limit_conf_t rl;
    const uint64_t home = 1234;
    lg_msec_t t0;

    cr_assert_not_null(t);
    rl = rl_conf(t, 0, 1, 2);
    t0 = t->epoch;
    for (uint64_t i = 1; i <= LG_RL_PROBE; i++)
        cr_assert_eq(lg_rl_take(&rl, rl_window_key(i, home), t0 + i * 10), 0);
    cr_assert_eq(lg_rl_keys(t, t0 + 100), LG_RL_PROBE);
    cr_assert_eq(atomic_load(&t->evicted), 0);

    /* key 9: the window is full of refilling buckets; key 1's is the nearest to full */
    cr_assert_eq(lg_rl_take(&rl, rl_window_key(9, home), t0 + 100), 0);
    cr_assert_eq(atomic_load(&t->evicted), 1);
    cr_assert_eq(lg_rl_keys(t, t0 + 100), LG_RL_PROBE);
    /* key 2 still has its own bucket: one token left of two */
    cr_assert_eq(lg_rl_take(&rl, rl_window_key(2, home), t0 + 100), 0);
    cr_assert_neq(lg_rl_take(&rl, rl_window_key(2, home), t0 + 100), 0);
    /* key 1 comes back with a full bucket, pushing out key 3 */
    cr_assert_eq(lg_rl_take(&rl, rl_window_key(1, home), t0 + 100), 0);
    cr_assert_eq(lg_rl_take(&rl, rl_window_key(1, home), t0 + 100), 0);
    cr_assert_eq(atomic_load(&t->evicted), 2);

    /* five seconds later every bucket is full: a new key takes a slot without pushing anyone */
    cr_assert_eq(lg_rl_keys(t, t0 + 5000), 0);
    cr_assert_eq(lg_rl_take(&rl, rl_window_key(10, home), t0 + 5000), 0);
    cr_assert_eq(atomic_load(&t->evicted), 2);
    cr_assert_eq(lg_rl_keys(t, t0 + 5000), 1);
    /* another window is another story */
    cr_assert_eq(lg_rl_take(&rl, rl_window_key(11, home + LG_RL_PROBE), t0 + 5000), 0);
    cr_assert_eq(atomic_load(&t->evicted), 2);
    lg_rl_free(t);
}

#define RL_PROCS 4
#define RL_TRIES 20000

/* Processes sharing one bucket (fixed time, no refill): exactly `burst` tokens, never more. */
Test(ratelimit_table, shared_bucket_never_gives_a_token_twice)
{
    lg_rl_table_t *t = lg_rl_map(1);
    _Atomic unsigned *passed =
        mmap(NULL, sizeof(*passed), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    lg_rate_limit_conf_t rl;
    pid_t pid[RL_PROCS];
    struct timespec a, b;
    uint64_t h;

    cr_assert_not_null(t);
    cr_assert_neq(passed, MAP_FAILED);
    rl = rl_conf(t, 0, 1, 5000);
    h = lg_rl_hash(t, 0, "10.0.0.1", 8);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int p = 0; p < RL_PROCS; p++) {
        pid[p] = fork();
        cr_assert_geq(pid[p], 0);
        if (pid[p] == 0) {
            for (int i = 0; i < RL_TRIES; i++)
                if (lg_rl_take(&rl, h, t->epoch + 1) == 0)
                    atomic_fetch_add(passed, 1);
            _exit(0);
        }
    }
    for (int p = 0; p < RL_PROCS; p++) {
        int status;

        cr_assert_eq(waitpid(pid[p], &status, 0), pid[p]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_log_info("%d processes, %d takes each: %.0f ns a take", RL_PROCS, RL_TRIES,
                ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
                    (RL_PROCS * RL_TRIES));
    cr_assert_eq(atomic_load(passed), 5000);
    munmap((void *)passed, sizeof(*passed));
    lg_rl_free(t);
}

/* SipHash-2-4's reference vector: key 00..0f, message 00..0e. */
Test(ratelimit_hash, siphash_reference_vector)
{
    const uint64_t k[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    unsigned char msg[15];

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)i;
    cr_assert_eq(lg_siphash(k, msg, sizeof(msg)), 0xa129ca6149be45e5ULL);
    cr_assert_eq(lg_siphash(k, msg, 0), 0x726fdb47dd0e0e31ULL);
}
