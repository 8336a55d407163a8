/*
 * test_config_uptls.c - pools.NAME.tls (src/config/uptls.c, src/tls/client.c): the defaults,
 * every key read, and every bad value reported at its FILE:LINE:COL, in the file and when the
 * files it names are read (lg_tls_load).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/lg.h"
#include "lg_test.h"
#include "lg_test_tls.h"
#include "tls/tls.h"

/* A pool `app` whose keys start at line 7 (column 5). */
#define POOL_HEAD                                                                                  \
    "listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes:\n      - pool: app\n"             \
    "pools:\n  app:\n"

/* Load the pool keys `keys`, and with `certs` the files they name: NULL with errors in *e. */
static lg_config_t *load(const char *keys, int certs, lg_config_errors_t *e)
{
    char *dir = lg_test_tmpdir();
    char *path = lg_test_write_file(dir, "pool.yaml", lg_fmt("%s%s", POOL_HEAD, keys));
    lg_config_t *cf = lg_config_load(path, e);

    if (cf != NULL && certs && lg_tls_load(cf, e) != LG_OK) {
        lg_config_free(cf);
        cf = NULL;
    }
    lg_test_rmtree(dir);
    free(path);
    return cf;
}

Test(config_uptls, defaults_and_keys)
{
    lg_config_errors_t e = {0};
    lg_config_t *cf = load("    backends: [app.internal:8443]\n    tls:\n", 1, &e);
    const lg_pool_tls_conf_t *t;

    cr_assert_not_null(cf, "rejected: %s", e.n > 0 ? e.lines[0] : "");
    t = cf->pools[0].tls;
    cr_assert_not_null(t);
    cr_assert_eq(t->verify, 1, "verify is on by default");
    cr_assert_null(t->ca, "the system store by default");
    cr_assert_null(t->server_name, "the backend's host name by default");
    cr_assert_null(t->client.cert);
    cr_assert_eq(t->ktls, LG_KTLS_AUTO, "kernel TLS when available by default");
    cr_assert_not_null(t->ctx, "no client context built");
    lg_config_free(cf);
    cf = load(lg_fmt("    backends: [127.0.0.1:8443]\n    tls: {verify: on, ca: %s, "
                     "server_name: api.internal, cert: %s, key: %s, ktls: off}\n",
                     lg_test_pki("ca.pem"), lg_test_pki("client.pem"), lg_test_pki("client.key")),
              1, &e);
    cr_assert_not_null(cf, "rejected: %s", e.n > 0 ? e.lines[0] : "");
    t = cf->pools[0].tls;
    cr_assert_str_eq(t->server_name, "api.internal");
    cr_assert_str_eq(t->ca, lg_test_pki("ca.pem"));
    cr_assert_str_eq(t->client.key, lg_test_pki("client.key"));
    cr_assert_eq(t->ktls, LG_KTLS_OFF);
    cr_assert_not_null(t->ctx);
    lg_config_free(cf);
}

Test(config_uptls, bad_values_are_reported_where_they_are)
{
    static const struct {
        const char *keys, *error;
        int certs; /* found when the files are read */
    } cases[] = {
        {"    tls: on\n",
         ":8:10: error: pools.app.tls: expected a mapping (verify, ca, "
         "server_name, cert, key, ktls), got a single value",
         0},
        {"    tls: {verify: maybe}\n",
         ":8:19: error: pools.app.tls.verify: unknown value \"maybe\" (expected one of: off, on)",
         0},
        {"    tls: {sni: x}\n",
         ":8:11: error: unknown key \"sni\" (expected one of: verify, ca, "
         "server_name, cert, key, ktls)",
         0},
        {"    tls: {verify: off, cert: /c.pem}\n",
         ":8:5: error: pools.app.tls: cert needs key too: a client certificate is a pair", 0},
        {"    tls: {server_name: \"\"}\n", ":8:24: error: pools.app.tls.server_name: ", 0},
        {"    tls: {}\n",
         ":8:5: error: pools.app.tls: backend \"127.0.0.1:9001\" is an IP "
         "address, so there is no name to verify its certificate against: set "
         "server_name (the name in its certificate) or verify: off",
         0},
        {"    tls: {verify: off, ca: /nonexistent.pem}\n",
         ":8:28: error: pools.app.tls.ca: open() \"/nonexistent.pem\" failed (2: No such file or "
         "directory)",
         1},
        {"    tls: {verify: off, ktls: on}\n",
         ":8:30: error: pools.app.tls.ktls: unknown value \"on\" (expected one of: auto, off)", 0},
        {"    tls: {verify: off, cert: /nonexistent.pem, key: /nonexistent.key}\n",
         ":8:30: error: pools.app.tls.cert: open() \"/nonexistent.pem\" failed (2: No such file or "
         "directory)",
         1},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_config_errors_t e = {0};
        lg_config_t *cf =
            load(lg_fmt("%s    backends: [127.0.0.1:9001]\n", cases[i].keys), cases[i].certs, &e);

        size_t k = 0;

        cr_assert_null(cf, "case %zu accepted", i);
        while (k < e.n && strstr(e.lines[k], cases[i].error) == NULL)
            k++;
        cr_assert_lt(k, e.n, "case %zu:\n got  %s\n want %s", i, e.n > 0 ? e.lines[0] : "",
                     cases[i].error);
        lg_config_errors_free(&e);
    }
}

/* The key must be the certificate's: checked at load, as for a listener's certificates. */
Test(config_uptls, client_key_must_match_its_certificate)
{
    lg_config_errors_t e = {0};
    lg_config_t *cf = load(lg_fmt("    tls: {verify: off, cert: %s, key: %s}\n"
                                  "    backends: [127.0.0.1:9001]\n",
                                  lg_test_pki("client.pem"), lg_test_pki("ec.key")),
                           1, &e);

    cr_assert_null(cf);
    cr_assert_geq(e.n, 1);
    cr_assert_not_null(strstr(e.lines[0], "error: pools.app.tls.key: "), "%s", e.lines[0]);
    cr_assert_not_null(strstr(e.lines[0], "is not the key of the certificate"), "%s", e.lines[0]);
    lg_config_errors_free(&e);
}
