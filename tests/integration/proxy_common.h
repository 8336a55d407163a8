/*
 * proxy_common.h - helpers shared by the data-path integration tests (test_proxy.c,
 * test_bodies.c, test_errors.c and others): a config routing one host only, and small
 * assertions. Configs and the one-origin fixture are in tests/support (lg_conf_*, lg_fix_*).
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

/* lg_conf_single(port) whose one route takes Host known.test only: other hosts get 404. */
static inline lg_conf_t *lgt_conf_known_host(int port)
{
    lg_conf_t *conf = lg_conf_single(port);

    lg_conf_set(conf, "listeners.web.routes", NULL);
    lg_conf_add(conf, "listeners.web.routes", "{host: known.test, pool: app}");
    return conf;
}

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
