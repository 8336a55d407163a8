/*
 * test_route.c - route matching (src/http/route.c) through the real configuration: the routes
 * are parsed from YAML by lg_config_load, then every case names the route it must reach (by
 * its pool) or none. What is asserted is docs/configuration.md ("routes"): exact host or
 * "*.suffix" (not the bare suffix), case-insensitive, port ignored; path_prefix; first match
 * wins; a route without conditions takes everything; no match is NULL (404).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "config/config.h"
#include "http/route.h"
#include "lg_test.h"

/* ---- the configuration under test */

#define ROUTES_YAML                                                                                \
    "listeners:\n"                                                                                 \
    "  web:\n"                                                                                     \
    "    listen: 127.0.0.1:0\n"                                                                    \
    "    routes:\n"                                                                                \
    "      - host: api.example.com\n"                                                              \
    "        path_prefix: /v1/\n"                                                                  \
    "        pool: api_v1\n"                                                                       \
    "      - host: api.example.com\n"                                                              \
    "        pool: api\n"                                                                          \
    "      - host: \"*.example.com\"\n"                                                            \
    "        pool: wild\n"                                                                         \
    "      - host: Shop.Example.ORG\n"                                                             \
    "        pool: shop\n"                                                                         \
    "      - host: 192.0.2.10\n"                                                                   \
    "        pool: by_ip\n"                                                                        \
    "      - host: fqdn.example.net.\n"                                                            \
    "        pool: api\n"                                                                          \
    "      - path_prefix: /static/\n"                                                              \
    "        pool: static\n"                                                                       \
    "      - pool: fallback\n"                                                                     \
    "  strict:\n"                                                                                  \
    "    listen: 127.0.0.1:0\n"                                                                    \
    "    routes:\n"                                                                                \
    "      - host: \"*.example.com\"\n"                                                            \
    "        pool: wild\n"                                                                         \
    "      - path_prefix: /only/\n"                                                                \
    "        pool: static\n"                                                                       \
    "pools:\n"                                                                                     \
    "  api_v1: {backends: [{address: 127.0.0.1:9001}]}\n"                                          \
    "  api: {backends: [{address: 127.0.0.1:9002}]}\n"                                             \
    "  wild: {backends: [{address: 127.0.0.1:9003}]}\n"                                            \
    "  shop: {backends: [{address: 127.0.0.1:9004}]}\n"                                            \
    "  by_ip: {backends: [{address: 127.0.0.1:9005}]}\n"                                           \
    "  static: {backends: [{address: 127.0.0.1:9006}]}\n"                                          \
    "  fallback: {backends: [{address: 127.0.0.1:9007}]}\n"

static lg_config_t *load(const char *yaml)
{
    char *path = lg_test_write_file(lg_test_tempdir(), "routes.yaml", yaml);
    lg_config_errors_t e;
    lg_config_t *cf = lg_config_load(path, &e);

    cr_assert_not_null(cf, "%s rejected: %s", path, e.n > 0 ? e.lines[0] : "?");
    free(path);
    return cf;
}

static const lg_listener_conf_t *listener(const lg_config_t *cf, const char *name)
{
    for (size_t i = 0; i < cf->nlisteners; i++)
        if (strcmp(cf->listeners[i].name, name) == 0)
            return &cf->listeners[i];
    cr_assert_fail("no listener %s", name);
    return NULL;
}

/* The pool name of the route `host` and `path` reach on `ls`, NULL when none. */
static const char *route_pool(const lg_config_t *cf, const lg_listener_conf_t *ls, const char *host,
                              const char *path)
{
    lg_span_t h = {host, strlen(host)}, p = {path, strlen(path)};
    const lg_route_conf_t *r = lg_route_match(ls, h, p);

    return r == NULL ? NULL : cf->pools[r->pool].name;
}

typedef struct route_case {
    const char *listener, *host, *path;
    const char *pool; /* NULL: no route */
} route_case_t;

static const route_case_t cases[] = {
    /* exact host, then path_prefix; first match wins */
    {"web", "api.example.com", "/v1/users", "api_v1"},
    {"web", "api.example.com", "/v1/", "api_v1"},
    {"web", "api.example.com", "/v1", "api"}, /* /v1/ does not match /v1 */
    {"web", "api.example.com", "/v2/users", "api"},
    {"web", "api.example.com", "/static/app.js", "api"}, /* before the /static/ route */
    /* case-insensitive host, port ignored, a fully qualified name */
    {"web", "API.Example.COM", "/v1/x", "api_v1"},
    {"web", "api.example.com:8080", "/v1/x", "api_v1"},
    {"web", "api.example.com:", "/x", "api"},
    {"web", "api.example.com.", "/x", "api"},
    {"web", "api.example.com.:80", "/x", "api"},
    {"web", "shop.example.org", "/", "shop"}, /* configured as Shop.Example.ORG */
    {"web", "SHOP.EXAMPLE.ORG:443", "/", "shop"},
    {"web", "www.shop.example.org", "/", "fallback"},
    {"web", "192.0.2.10:8080", "/", "by_ip"},
    /* *.suffix: any name ending in .suffix, not the suffix itself */
    {"web", "a.example.com", "/", "wild"},
    {"web", "a.b.example.com", "/v1/x", "wild"},
    {"web", "A.Example.Com:8443", "/", "wild"},
    {"web", "example.com", "/", "fallback"},
    {"web", "xexample.com", "/", "fallback"},
    {"web", ".example.com", "/", "fallback"},
    {"web", "example.com.evil.net", "/", "fallback"},
    /* path_prefix alone: any host, case-sensitive, whole prefix */
    {"web", "other.net", "/static/app.js", "static"},
    {"web", "", "/static/", "static"},
    {"web", "other.net", "/static", "fallback"},
    {"web", "other.net", "/STATIC/app.js", "fallback"},
    /* the catch-all takes the rest */
    {"web", "", "/", "fallback"},
    {"web", "[::1]:8080", "/x", "fallback"},
    /* a route's host written fully qualified (trailing dot) matches with or without the dot */
    {"web", "fqdn.example.net", "/", "api"},
    {"web", "FQDN.example.net.:80", "/", "api"},
    /* no catch-all: no match is NULL */
    {"strict", "a.example.com", "/", "wild"},
    {"strict", "example.com", "/", NULL},
    {"strict", "example.com", "/only/x", "static"},
    {"strict", "other.net", "/only", NULL},
    {"strict", "", "/", NULL},
};

Test(route, table)
{
    lg_config_t *cf = load(ROUTES_YAML);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const route_case_t *c = &cases[i];
        const char *got = route_pool(cf, listener(cf, c->listener), c->host, c->path);

        if (c->pool == NULL)
            cr_expect_null(got, "%s: Host \"%s\" %s reached %s, expected no route", c->listener,
                           c->host, c->path, got);
        else
            cr_expect(got != NULL && strcmp(got, c->pool) == 0,
                      "%s: Host \"%s\" %s reached %s, expected %s", c->listener, c->host, c->path,
                      got != NULL ? got : "no route", c->pool);
    }
    lg_config_free(cf);
}

/* The configured host is kept lower-case and flagged as a wildcard (what the matcher reads). */
Test(route, config_structures)
{
    lg_config_t *cf = load(ROUTES_YAML);
    const lg_listener_conf_t *web = listener(cf, "web");

    cr_assert_eq(web->nroutes, 8);
    cr_assert_str_eq(web->routes[3].host, "shop.example.org");
    cr_assert_eq(web->routes[3].host_wildcard, 0);
    cr_assert_str_eq(web->routes[2].host, "*.example.com");
    cr_assert_eq(web->routes[2].host_wildcard, 1);
    cr_assert_str_eq(web->routes[5].host, "fqdn.example.net", "the trailing dot is dropped");
    cr_assert_null(web->routes[7].host);
    cr_assert_null(web->routes[7].path_prefix);
    lg_config_free(cf);
}
