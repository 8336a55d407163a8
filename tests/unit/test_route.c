/*
 * test_route.c - route matching (src/http/route.c) through the real configuration: the routes
 * are parsed from YAML by lg_config_load, each request is a real head scanned by
 * lg_req_head_scan with its target normalised, then every case names the route it must reach
 * (by its pool) or none. What is asserted is docs/configuration.md ("routes"): exact host or
 * "*.suffix" (not the bare suffix), case-insensitive, port ignored; path_prefix; methods listed
 * exactly (GET does not bring HEAD); headers by name in any case and exact value, any one of
 * repeated fields; first match wins; a route without conditions takes everything; no match is
 * NULL (404). Then strip_prefix's path (lg_req_head_strip), and the route keys' load errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/head.h"
#include "http/route.h"
#include "worker/rqueues.h"
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
    "  policy:\n"                                                                                  \
    "    listen: 127.0.0.1:0\n"                                                                    \
    "    routes:\n"                                                                                \
    "      - path_prefix: /api/\n"                                                                 \
    "        methods: [GET, POST]\n"                                                               \
    "        headers: {X-Canary: \"1\", x-tenant: Blue Team}\n"                                    \
    "        pool: api_v1\n"                                                                       \
    "      - path_prefix: /api/\n"                                                                 \
    "        methods: [GET]\n"                                                                     \
    "        pool: api\n"                                                                          \
    "      - methods: [PURGE, HEAD]\n"                                                             \
    "        pool: static\n"                                                                       \
    "      - headers: {X-Empty: \"\"}\n"                                                           \
    "        pool: shop\n"                                                                         \
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

/*
 * The head of `method` `path` with Host `host` (none when "") and the header lines `extra`
 * ("Name: value\r\n" each), scanned and normalised as the exchange does, into `rq`/`buf`.
 */
static void request(lg_req_head_t *rq, char *buf, size_t cap, const char *method, const char *host,
                    const char *path, const char *extra)
{
    static char head[4096];
    int n = snprintf(head, sizeof(head), "%s %s HTTP/1.%d\r\n%s%s%s%s\r\n", method, path,
                     host[0] != '\0', host[0] != '\0' ? "Host: " : "", host,
                     host[0] != '\0' ? "\r\n" : "", extra != NULL ? extra : "");

    cr_assert(n > 0 && (size_t)n < sizeof(head));
    cr_assert_eq(lg_req_head_scan(rq, head, (size_t)n, host[0] != '\0'), 0, "refused: %s", head);
    cr_assert_eq(lg_req_head_target(rq, buf, cap), 0, "target refused: %s", head);
}

/* The pool name of the route a request reaches on `ls`, NULL when none. */
static const char *route_pool_of(const lg_config_t *cf, const lg_listener_conf_t *ls,
                                 const char *method, const char *host, const char *path,
                                 const char *extra)
{
    char buf[4096];
    lg_req_head_t rq;
    const lg_route_conf_t *r;

    request(&rq, buf, sizeof(buf), method, host, path, extra);
    r = lg_route_match(ls, &rq);
    return r == NULL ? NULL : cf->pools[r->pool].name;
}

static const char *route_pool(const lg_config_t *cf, const lg_listener_conf_t *ls, const char *host,
                              const char *path)
{
    return route_pool_of(cf, ls, "GET", host, path, NULL);
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

/* A request with its method and header lines, and the route it must reach on `policy`. */
typedef struct match_case {
    const char *method, *path, *headers;
    const char *pool; /* NULL: no route */
} match_case_t;

static const match_case_t match_cases[] = {
    /* every condition of the first route met */
    {"GET", "/api/x", "X-Canary: 1\r\nX-Tenant: Blue Team\r\n", "api_v1"},
    {"POST", "/api/x", "x-canary: 1\r\nX-TENANT: Blue Team\r\n", "api_v1"},
    /* OWS around a value is not part of it; the value itself is exact */
    {"GET", "/api/x", "X-Canary:   1\t\r\nX-Tenant:Blue Team \r\n", "api_v1"},
    {"GET", "/api/x", "X-Canary: 1\r\nX-Tenant: blue team\r\n", "api"},
    {"GET", "/api/x", "X-Canary: 01\r\nX-Tenant: Blue Team\r\n", "api"},
    {"GET", "/api/x", "X-Canary: 1, 1\r\nX-Tenant: Blue Team\r\n", "api"},
    /* a name sent twice: one field with the value is enough */
    {"GET", "/api/x", "X-Canary: 0\r\nX-Tenant: Blue Team\r\nX-Canary: 1\r\n", "api_v1"},
    {"GET", "/api/x", "X-Canary: 0\r\nX-Tenant: Blue Team\r\nX-Canary: 2\r\n", "api"},
    /* one condition missing: the next route that matches */
    {"GET", "/api/x", "X-Canary: 1\r\n", "api"},
    {"GET", "/api/x", "X-Tenant: Blue Team\r\n", "api"},
    {"GET", "/api/x", "X-Canary-Old: 1\r\nX-Tenant: Blue Team\r\n", "api"},
    /* methods are exact: POST only on the first route, HEAD only where listed */
    {"POST", "/api/x", "X-Canary: 1\r\n", NULL},
    {"POST", "/api/x", NULL, NULL},
    {"PUT", "/api/x", "X-Canary: 1\r\nX-Tenant: Blue Team\r\n", NULL},
    {"HEAD", "/api/x", NULL, "static"},
    {"get", "/api/x", NULL, NULL},
    {"PURGE", "/other", NULL, "static"},
    {"GET", "/other", NULL, NULL},
    /* an empty value asks for the field, present and empty */
    {"GET", "/other", "X-Empty:\r\n", "shop"},
    {"GET", "/other", "X-Empty:   \r\n", "shop"},
    {"GET", "/other", "X-Empty: no\r\n", NULL},
    /* the path is matched normalised, before any strip */
    {"GET", "/x/../api/./y", "X-Canary: 1\r\nX-Tenant: Blue Team\r\n", "api_v1"},
};

Test(route, methods_and_headers)
{
    lg_config_t *cf = load(ROUTES_YAML);
    const lg_listener_conf_t *ls = listener(cf, "policy");

    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const match_case_t *c = &match_cases[i];
        const char *got = route_pool_of(cf, ls, c->method, "h.test", c->path, c->headers);

        cr_expect((got == NULL && c->pool == NULL) ||
                      (got != NULL && c->pool != NULL && strcmp(got, c->pool) == 0),
                  "case %zu: %s %s [%s] reached %s, expected %s", i, c->method, c->path,
                  c->headers != NULL ? c->headers : "", got != NULL ? got : "no route",
                  c->pool != NULL ? c->pool : "no route");
    }
    lg_config_free(cf);
}

/* strip_prefix: what the backend's path is once the route's prefix is removed. */
Test(route, strip_prefix_path)
{
    static const struct {
        const char *prefix, *target, *want; /* want NULL: refused with `status` */
        int status;
    } strips[] = {
        {"/api", "/api/users", "/users", 0},
        {"/api/", "/api/users", "/users", 0},
        {"/api", "/api", "/", 0},
        {"/api/", "/api/", "/", 0},
        {"/api", "/api/", "/", 0},
        {"/api", "/api?x=1&y=/z", "/?x=1&y=/z", 0},
        {"/api/", "/api/?x=1", "/?x=1", 0},
        {"/api/", "/api/v1/users?id=7", "/v1/users?id=7", 0},
        {"/api", "/apiary", "/ary", 0},
        {"/", "/a/b", "/a/b", 0},
        {"/api/", "/api//%2e/x/%7E", "/x/~", 0},
        {"/a", "/a./x", "/x", 0},
        {"/a", "/a../x", NULL, 400},
    };
    char buf[256];

    for (size_t i = 0; i < sizeof(strips) / sizeof(strips[0]); i++) {
        lg_req_head_t rq;
        size_t used;
        int status;

        request(&rq, buf, sizeof(buf), "GET", "h", strips[i].target, NULL);
        used = rq.path.len;
        cr_assert(strncmp(rq.path.p, strips[i].prefix, strlen(strips[i].prefix)) == 0);
        status = lg_req_head_strip(&rq, strlen(strips[i].prefix), buf + used, sizeof(buf) - used);
        if (strips[i].want == NULL) {
            cr_expect_eq(status, strips[i].status, "%s less %s: %d", strips[i].target,
                         strips[i].prefix, status);
            continue;
        }
        cr_expect_eq(status, 0, "%s less %s refused (%d)", strips[i].target, strips[i].prefix,
                     status);
        cr_expect(rq.path.len == strlen(strips[i].want) &&
                      memcmp(rq.path.p, strips[i].want, rq.path.len) == 0,
                  "%s less %s is %.*s, expected %s", strips[i].target, strips[i].prefix,
                  (int)rq.path.len, rq.path.p, strips[i].want);
        cr_expect_eq(rq.target.len, strlen(strips[i].target), "the target as received is kept");
    }
}

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

/* ---- the route keys at load */

/* A file whose one route has `keys` (flow or block text at line 6, column 9) after its pool. */
static char *route_file(const char *keys)
{
    return lg_fmt("listeners:\n"
                  "  web:\n"
                  "    listen: 127.0.0.1:0\n"
                  "    routes:\n"
                  "      - pool: app\n"
                  "        %s\n"
                  "pools:\n"
                  "  app: {backends: [127.0.0.1:9001]}\n",
                  keys);
}

Test(route, every_policy_key_is_read)
{
    lg_config_t *cf = load(route_file("path_prefix: /api/\n"
                                      "        methods: [GET, M-SEARCH]\n"
                                      "        headers: {X-Canary: \"1\", X-Empty: \"\"}\n"
                                      "        strip_prefix: true\n"
                                      "        timeouts: {connect: 250ms, upstream_response: 5m}\n"
                                      "        limits: {max_body_size: 100m}\n"
                                      "        retries: 0"));
    const lg_route_conf_t *r = &cf->listeners[0].routes[0];
    lg_msec_t ms[LG_ROUTE_TIMEOUTS_MAX];

    cr_assert_eq(r->nmethods, 2);
    cr_assert_str_eq(r->methods[1], "M-SEARCH");
    cr_assert_eq(r->nheaders, 2);
    cr_assert_str_eq(r->headers[0].name, "X-Canary");
    cr_assert_str_eq(r->headers[0].value, "1");
    cr_assert_eq(r->headers[1].value_len, 0);
    cr_assert_eq(r->strip_prefix, 1);
    cr_assert_eq(r->timeouts.connect, 250);
    cr_assert_eq(r->timeouts.upstream_response, 300000);
    cr_assert_eq(r->limits.max_body_size, 100ULL << 20);
    cr_assert_eq(r->retries, 0);
    cr_assert_eq(lg_config_route_timeouts(cf, ms), 2);
    cr_assert(ms[0] == 250 && ms[1] == 300000, "ascending: %llu %llu", (unsigned long long)ms[0],
              (unsigned long long)ms[1]);
    lg_config_free(cf);
}

Test(route, unset_keys_inherit)
{
    lg_config_t *cf = load(route_file("limits: {max_body_size: 0}"));
    const lg_route_conf_t *r = &cf->listeners[0].routes[0];

    cr_assert_null(r->methods);
    cr_assert_eq(r->nheaders, 0);
    cr_assert_eq(r->strip_prefix, 0);
    cr_assert_eq(r->timeouts.connect, 0);
    cr_assert_eq(r->timeouts.upstream_response, 0);
    cr_assert_eq(r->retries, LG_ROUTE_RETRIES_POOL);
    cr_assert_eq(r->limits.max_body_size, 0, "0 is unlimited, set on the route");
    lg_config_free(cf);
}

/* Each bad value and the one error line it gets, after "FILE". */
static const struct {
    const char *keys, *error;
} route_errors[] = {
    {"methods: [GET, get]",
     ":6:24: error: listeners.web.routes[0].methods[1]: invalid method \"get\": methods are "
     "case-sensitive and written in upper case (GET, POST)"},
    {"methods: [GET, POST, GET]",
     ":6:30: error: listeners.web.routes[0].methods[2]: \"GET\" is listed twice"},
    {"methods: [\"GET /\"]",
     ":6:19: error: listeners.web.routes[0].methods[0]: invalid method \"GET /\": a method is a "
     "token (letters, digits, !#$%&'*+-.^_`|~)"},
    {"methods: []", ":6:18: error: listeners.web.routes[0].methods: needs at least one method"},
    {"methods: GET", ":6:18: error: listeners.web.routes[0].methods: expected a list of methods "
                     "such as [GET, HEAD], got a single value"},
    {"headers: {\"X Bad\": \"1\"}",
     ":6:19: error: listeners.web.routes[0].headers.X Bad: invalid header name \"X Bad\": a name "
     "is a token (letters, digits, -, _ ...)"},
    {"headers: {X-A: \"1\", x-a: \"2\"}",
     ":6:29: error: listeners.web.routes[0].headers.x-a: header \"x-a\" is listed twice (names "
     "are case-insensitive)"},
    {"headers: {X-A: \"a\\r\\nB: c\"}",
     ":6:24: error: listeners.web.routes[0].headers.X-A: invalid value \"a\\x0d\\x0aB: c\": no CR, "
     "LF, NUL or other control character"},
    {"headers: {X-A: \" 1\"}",
     ":6:24: error: listeners.web.routes[0].headers.X-A: invalid value \" 1\": a request's value "
     "is compared without surrounding spaces, so this one would never match"},
    {"headers: {X-A: }", ":6:24: error: listeners.web.routes[0].headers.X-A: expected a header "
                         "value (\"\" for an empty one), got nothing"},
    {"headers: {X-A: [1]}", ":6:24: error: listeners.web.routes[0].headers.X-A: expected a header "
                            "value (\"\" for an empty one), got a list"},
    {"headers: {}", ":6:18: error: listeners.web.routes[0].headers: needs at least one header"},
    {"strip_prefix: true", ":6:9: error: listeners.web.routes[0].strip_prefix: needs a "
                           "path_prefix (the part of the path to remove)"},
    {"strip_prefix: yes", ":6:23: error: listeners.web.routes[0].strip_prefix: unknown value "
                          "\"yes\" (expected one of: false, true)"},
    {"path_prefix: \"/a?b\"\n        strip_prefix: true",
     ":7:9: error: listeners.web.routes[0].strip_prefix: cannot strip a path_prefix with a "
     "query (\"?\"): only the path is removed"},
    {"timeouts: {upstream_response: 0s}",
     ":6:39: error: listeners.web.routes[0].timeouts.upstream_response: must be from 1ms to 24h, "
     "got \"0s\""},
    {"timeouts: {tunnel: 1s}", ":6:20: error: unknown key \"tunnel\" (expected one of: connect, "
                               "upstream_response)"},
    {"limits: {max_body_size: 1x}", ":6:33: error: listeners.web.routes[0].limits.max_body_size: "
                                    "invalid size \"1x\": unknown suffix (use k, m or g)"},
    {"retries: 11", ":6:18: error: listeners.web.routes[0].retries: must be a whole number from 0 "
                    "to 10, got \"11\""},
};

Test(route, policy_key_errors)
{
    for (size_t i = 0; i < sizeof(route_errors) / sizeof(route_errors[0]); i++) {
        char *path =
            lg_test_write_file(lg_test_tempdir(), "bad.yaml", route_file(route_errors[i].keys));
        lg_config_errors_t e;
        char *want = lg_fmt("%s%s", path, route_errors[i].error);

        cr_expect_null(lg_config_load(path, &e), "%s accepted", route_errors[i].keys);
        cr_expect(e.n == 1 && strcmp(e.lines[0], want) == 0, "%s:\n got  %s\n want %s",
                  route_errors[i].keys, e.n > 0 ? e.lines[0] : "(nothing)", want);
        lg_config_errors_free(&e);
        free(path);
    }
}

/* Each distinct route timeout is a timer queue: more than LG_ROUTE_TIMEOUTS_MAX is refused. */
Test(route, too_many_distinct_route_timeouts)
{
    char *yaml = lg_fmt("listeners:\n  web:\n    listen: 127.0.0.1:0\n    routes:\n");
    char *path, *want;
    lg_config_errors_t e;

    for (int i = 1; i <= LG_ROUTE_TIMEOUTS_MAX / 2 + 1; i++)
        yaml = lg_fmt("%s      - {pool: app, timeouts: {connect: %dms, upstream_response: %ds}}\n",
                      yaml, i, i);
    yaml = lg_fmt("%s      - {pool: app, timeouts: {connect: 1ms}}\npools:\n"
                  "  app: {backends: [127.0.0.1:9001]}\n",
                  yaml);
    path = lg_test_write_file(lg_test_tempdir(), "many.yaml", yaml);
    want = lg_fmt("%s:21:9: error: listeners.web.routes[16].timeouts: more than 32 different "
                  "durations in the routes' timeouts (each one is a timer queue of its own): use "
                  "fewer",
                  path);
    cr_assert_null(lg_config_load(path, &e));
    cr_assert(e.n == 1 && strcmp(e.lines[0], want) == 0, "got %s\nwant %s",
              e.n > 0 ? e.lines[0] : "(nothing)", want);
    lg_config_errors_free(&e);
    free(path);
}

/* A worker has one timer queue per distinct route timeout, found by its duration. */
Test(route, a_queue_per_distinct_route_timeout)
{
    lg_config_t *cf = load(route_file("timeouts: {connect: 250ms, upstream_response: 5m}\n"
                                      "      - path_prefix: /b/\n"
                                      "        timeouts: {connect: 5m}\n"
                                      "        pool: app"));
    static lg_route_queues_t rq;

    cr_assert_eq(lg_loop_init(), LG_OK);
    cr_assert_eq(lg_route_queues_init(&rq, cf), LG_OK);
    cr_assert_eq(rq.n, 2, "5m is one queue for both routes");
    cr_assert_eq(lg_route_queue(&rq, 250)->duration, 250);
    cr_assert_eq(lg_route_queue(&rq, 300000)->duration, 300000);
    cr_assert_null(lg_route_queue(&rq, 3000), "no route has 3s: the global queue is used");
    lg_config_free(cf);
}
