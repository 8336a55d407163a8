/*
 * test_config_balance.c - the pool keys of balancing policy: backends[].backup, slow_start and
 * sticky (src/config/pools.c, src/config/sticky.c): defaults, every key read, and every bad
 * value reported at its FILE:LINE:COL.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/lg.h"
#include "lg_test.h"

/* A pool `app` whose keys start at line 7 (column 5); `extra` is more of its keys. */
#define POOL_HEAD                                                                                  \
    "listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes:\n      - pool: app\n"             \
    "pools:\n  app:\n"

/* Load `text` (a pool's keys after POOL_HEAD): the config, or NULL with the errors in *e. */
static lg_config_t *load(const char *keys, lg_config_errors_t *e)
{
    char *dir = lg_test_tmpdir();
    char *path = lg_test_write_file(dir, "pool.yaml", lg_fmt("%s%s", POOL_HEAD, keys));
    lg_config_t *cf = lg_config_load(path, e);

    lg_test_rmtree(dir);
    free(path);
    return cf;
}

static lg_config_t *load_ok(const char *keys)
{
    lg_config_errors_t e = {0};
    lg_config_t *cf = load(keys, &e);

    cr_assert_not_null(cf, "rejected: %s", e.n > 0 ? e.lines[0] : "");
    return cf;
}

Test(config_balance, defaults)
{
    lg_config_t *cf = load_ok("    backends: [127.0.0.1:9001]\n");
    const lg_pool_conf_t *p = &cf->pools[0];

    cr_assert_eq(p->backends[0].backup, 0);
    cr_assert_eq(p->slow_start, 0);
    cr_assert_null(p->sticky.cookie);
    lg_config_free(cf);
}

Test(config_balance, every_key_is_read)
{
    lg_config_t *cf = load_ok("    slow_start: 30s\n"
                              "    sticky: {cookie: LGSRV, path: /app, max_age: 1h, "
                              "samesite: strict, httponly: false}\n"
                              "    backends:\n"
                              "      - 127.0.0.1:9001\n"
                              "      - {address: 127.0.0.1:9002, backup: true}\n"
                              "      - {address: 127.0.0.1:9003, backup: false}\n");
    const lg_pool_conf_t *p = &cf->pools[0];

    cr_assert_eq(p->slow_start, 30000);
    cr_assert_str_eq(p->sticky.cookie, "LGSRV");
    cr_assert_str_eq(p->sticky.path, "/app");
    cr_assert_eq(p->sticky.max_age, 3600000);
    cr_assert_eq(p->sticky.samesite, LG_SAMESITE_STRICT);
    cr_assert_eq(p->sticky.httponly, 0);
    cr_assert_eq(p->backends[0].backup, 0);
    cr_assert_eq(p->backends[1].backup, 1);
    cr_assert_eq(p->backends[2].backup, 0);
    lg_config_free(cf);
}

/* sticky with only its cookie: Path=/, a session cookie, SameSite=Lax, HttpOnly. */
Test(config_balance, sticky_defaults)
{
    lg_config_t *cf = load_ok("    sticky: {cookie: srv}\n    backends: [127.0.0.1:9001]\n");
    const lg_sticky_conf_t *s = &cf->pools[0].sticky;

    cr_assert_str_eq(s->cookie, "srv");
    cr_assert_str_eq(s->path, "/");
    cr_assert_eq(s->max_age, 0);
    cr_assert_eq(s->samesite, LG_SAMESITE_LAX);
    cr_assert_eq(s->httponly, 1);
    lg_config_free(cf);
}

/* A pool of backups only is accepted: they all take traffic (docs/configuration.md). */
Test(config_balance, pool_of_backups_only_is_valid)
{
    lg_config_t *cf = load_ok("    backends:\n      - {address: 127.0.0.1:9001, backup: true}\n");

    cr_assert_eq(cf->pools[0].backends[0].backup, 1);
    lg_config_free(cf);
}

Test(config_balance, bad_values_are_reported_where_they_are)
{
    static const struct {
        const char *keys, *error;
    } cases[] = {
        {"    slow_start: 2h\n",
         ":8:17: error: pools.app.slow_start: must be from 0ms to 1h, got \"2h\""},
        {"    slow_start: soon\n",
         ":8:17: error: pools.app.slow_start: invalid duration \"soon\": not a number"},
        {"    sticky: LGSRV\n", ":8:13: error: pools.app.sticky: expected a mapping, got a single "
                                "value"},
        {"    sticky: {path: /}\n", ":8:5: error: pools.app.sticky: missing required key "
                                    "\"cookie\""},
        {"    sticky: {cookie: \"a b\"}\n",
         ":8:22: error: pools.app.sticky.cookie: invalid cookie name \"a b\": use letters, digits "
         "and !#$%&'*+-.^_`|~"},
        {"    sticky: {cookie: \"a=b\"}\n",
         ":8:22: error: pools.app.sticky.cookie: invalid cookie name \"a=b\": use letters, digits "
         "and !#$%&'*+-.^_`|~"},
        {"    sticky: {cookie: s, path: \"/a;Domain=evil\"}\n",
         ":8:31: error: pools.app.sticky.path: invalid cookie path \"/a;Domain=evil\": \"/\" then "
         "visible ASCII without ';' or ','"},
        {"    sticky: {cookie: s, path: app}\n",
         ":8:31: error: pools.app.sticky.path: invalid cookie path \"app\": \"/\" then visible "
         "ASCII without ';' or ','"},
        {"    sticky: {cookie: s, path: \"/a\\r\\nX: y\"}\n",
         ":8:31: error: pools.app.sticky.path: invalid cookie path \"/a\\x0d\\x0aX: y\": \"/\" "
         "then visible ASCII without ';' or ','"},
        {"    sticky: {cookie: s, samesite: lots}\n",
         ":8:35: error: pools.app.sticky.samesite: unknown value \"lots\" (expected one of: lax, "
         "strict, none)"},
        {"    sticky: {cookie: s, httponly: yes}\n",
         ":8:35: error: pools.app.sticky.httponly: unknown value \"yes\" (expected one of: false, "
         "true)"},
        {"    sticky: {cookie: s, max_age: 500d}\n",
         ":8:34: error: pools.app.sticky.max_age: invalid duration \"500d\": unknown unit (use ms, "
         "s, m or h)"},
        {"    sticky: {cookie: s, domain: x}\n",
         ":8:25: error: unknown key \"domain\" (expected one of: cookie, path, max_age, samesite, "
         "httponly)"},
        {"    backends:\n      - {address: 127.0.0.1:9001, backup: 1}\n",
         ":9:43: error: pools.app.backends[0].backup: unknown value \"1\" (expected one of: false, "
         "true)"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        const char *keys = strstr(cases[i].keys, "backends:") != NULL
                               ? cases[i].keys
                               : lg_fmt("%s    backends: [127.0.0.1:9001]\n", cases[i].keys);
        lg_config_errors_t e = {0};
        lg_config_t *cf = load(keys, &e);

        cr_assert_null(cf, "case %zu accepted", i);
        cr_assert_geq(e.n, 1, "case %zu", i);
        cr_assert_not_null(strstr(e.lines[0], cases[i].error), "case %zu:\n got  %s\n want %s", i,
                           e.lines[0], cases[i].error);
        lg_config_errors_free(&e);
    }
}
