/*
 * proxy_common.h - helpers shared by the data-path integration tests (test_proxy.c,
 * test_bodies.c, test_errors.c): configs for one listener in front of lg-origin, the end-of-test
 * checks (log, exit status, strays), and small assertions.
 *
 * Header only, `static inline`, so that each test file stays one executable (the CMake glob makes
 * an executable of every tests/integration/test_*.c).
 */
#ifndef LG_PROXY_COMMON_H
#define LG_PROXY_COMMON_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lg_test.h"

#define MIB (1024ULL * 1024ULL)

/* At most this many allowed substrings in lgt_finish(). */
#define LGT_MAX_ALLOWED 8

/* The top of every config: one worker, info level, no access log. */
#define LGT_HEAD                                                                                   \
    "workers: 1\n"                                                                                 \
    "log: {level: info, error: stderr, access: off}\n"

/*
 * The YAML of one http listener `web` whose every request goes to pool `app`: `head` first
 * (workers and log, e.g. LGT_HEAD), then `top` (block YAML at the top level, e.g.
 * "timeouts:\n  client_header: 1s\n", or ""), then `pool`, every key of the pool (indented by 4:
 * health_check, backends...).
 */
static inline char *lgt_web_app_yaml(const char *head, const char *top, const char *pool)
{
    return lg_fmt("%s%s"
                  "listeners:\n"
                  "  web:\n"
                  "    listen: 127.0.0.1:0\n"
                  "    routes:\n"
                  "      - pool: app\n"
                  "pools:\n"
                  "  app:\n"
                  "%s",
                  head, top, pool);
}

/*
 * lgt_web_app_yaml() with a pool without health checks: `pool_extra` (more keys of the pool,
 * indented by 4, or "") and `backends`, the items of the pool's list of backends
 * ("      - address: 127.0.0.1:8001\n" each, lgt_backend()).
 */
static inline char *lgt_single_yaml(const char *head, const char *top, const char *pool_extra,
                                    const char *backends)
{
    return lgt_web_app_yaml(head, top,
                            lg_fmt("    health_check: {type: none}\n"
                                   "%s"
                                   "    backends:\n"
                                   "%s",
                                   pool_extra, backends));
}

/* An item of lgt_single_yaml()'s `backends`: 127.0.0.1:port. */
static inline char *lgt_backend(int port)
{
    return lg_fmt("      - address: 127.0.0.1:%d\n", port);
}

/* Start lifeguard with lgt_single_yaml(LGT_HEAD, ...) and the single backend 127.0.0.1:port. */
static inline lg_proc_t *lgt_start_single(int port, const char *top, const char *pool_extra)
{
    return lg_lifeguard_start(lgt_single_yaml(LGT_HEAD, top, pool_extra, lgt_backend(port)));
}

/*
 * End of every test: stop lifeguard (SIGTERM), then require a clean exit, no stray process and no
 * "[error]" line in its log except those containing one of the NULL-terminated `allowed`.
 */
static inline void lgt_finish_v(lg_proc_t *lg, const char *const *allowed)
{
    const char *a[LGT_MAX_ALLOWED] = {NULL};
    size_t i;
    int status, bad;

    for (i = 0; allowed != NULL && allowed[i] != NULL && i < LGT_MAX_ALLOWED - 1; i++)
        a[i] = allowed[i];
    status = lg_proc_stop(lg);
    bad = lg_log_has_unexpected_errors(lg_proc_log(lg), a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                                       NULL);
    if (bad != 0 || status != 0 || lg->strays != 0)
        lg_proc_dump_log(lg);
    cr_expect_eq(status, 0, "lifeguard exit status %d", status);
    cr_expect_eq(lg->strays, 0, "%d stray processes after lifeguard stopped", lg->strays);
    cr_expect_eq(bad, 0, "%d unexpected error lines in lifeguard's log", bad);
}

/* lgt_finish(lg, NULL) or lgt_finish(lg, "allowed substring", ...) */
#define lgt_finish(lg, ...) lgt_finish_v((lg), (const char *const[]){__VA_ARGS__, NULL})

/* Complete response with the status. */
static inline void lgt_assert_status(const lg_http_response_t *r, int status)
{
    cr_assert_eq(r->error, LG_HTTP_OK, "error: %s; status %d; head: %s",
                 lg_http_error_name(r->error), r->status, r->head);
    cr_assert_eq(r->status, status, "status %d, expected %d; head: %s", r->status, status, r->head);
    cr_assert(r->complete, "incomplete response; head: %s", r->head);
}

/* The worker's pid (the only child of the master with workers: 1). */
static inline pid_t lgt_worker(lg_proc_t *lg)
{
    pid_t kids[8];
    size_t n = 0;
    int ok;

    LG_WAIT_FOR(ok, (n = lg_pid_children(lg->pid, kids, 8)) >= 1, 2000);
    cr_assert(ok, "lifeguard has no worker");
    return kids[0];
}

/*
 * Every value of the echoed header `name`, joined with ", " in order (NULL when absent): what a
 * backend sees as the field's combined value.
 */
static inline char *lgt_echo_header_join(const char *echo, const char *name)
{
    size_t nl = strlen(name);
    const char *p = echo;
    char *all = NULL;

    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');

        if (strncmp(p, "header ", 7) == 0 && strncasecmp(p + 7, name, nl) == 0 &&
            p[7 + nl] == ':') {
            const char *v = p + 8 + nl, *ve = eol ? eol : v + strlen(v);

            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            all = all == NULL ? lg_fmt("%.*s", (int)(ve - v), v)
                              : lg_fmt("%s, %.*s", all, (int)(ve - v), v);
        }
        p = eol ? eol + 1 : NULL;
    }
    return all;
}

/* "%016llx" of a checksum, as /echo prints it. */
static inline char *lgt_hex(uint64_t sum)
{
    return lg_fmt("%016llx", (unsigned long long)sum);
}

/* Wait until the origin reports `active` open connections; returns the last value seen. */
static inline long lgt_wait_origin_active(int port, long want, int timeout_ms)
{
    lg_origin_stats_t st = {0, 0, -1};
    int ok;

    LG_WAIT_FOR(ok, lg_origin_stats(port, &st) == 0 && st.active == want, timeout_ms);
    (void)ok;
    return st.active;
}

#endif
