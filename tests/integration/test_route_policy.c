/*
 * test_route_policy.c - what a route matches besides host and path (methods, headers) and what
 * it changes for its requests (strip_prefix, timeouts, limits, retries), seen by curl over
 * HTTP/1.1, HTTP/2 with prior knowledge (h2c) and HTTP/1.0 on one listener, and by the backend:
 * lg-origin's /echo says which target it received; origins `a` and `b` answer their name.
 *
 * One lifeguard serves every test of a protocol: each route has a path prefix of its own.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg_test.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* How curl speaks to the listener. */
typedef struct way {
    const char *name;
    const char *flag;  /* curl's option */
    const char *proto; /* in the access log */
} way_t;

static const way_t ways[] = {
    {"HTTP/1.1", "--http1.1", "HTTP/1.1"},
    {"h2c", "--http2-prior-knowledge", "HTTP/2.0"},
    {"HTTP/1.0", "--http1.0", "HTTP/1.0"},
};

#define SMALL_LIMIT 100
#define BODY_LEN    1000 /* over /small/'s limit, under the global 1k and /big/'s 1m */
#define SLOW_MS     300  /* /slow/'s upstream_response */
#define DELAY_MS    1500 /* what the backend takes on the timeout tests */

typedef struct policy {
    lg_proc_t *a, *b, *lg;
    int port, dead; /* lifeguard's listener; a port nobody listens on (pool `flaky`) */
} policy_t;

/* Every route of the tests, in order (first match wins). */
static const char *const policy_routes[] = {
    "{path_prefix: /api/, strip_prefix: true, pool: a}",
    "{path_prefix: /v1, strip_prefix: true, pool: a}",
    "{path_prefix: /m/, methods: [GET], pool: a}",
    "{path_prefix: /m/, pool: b}",
    "{path_prefix: /get-only/, methods: [GET, HEAD], pool: a}",
    "{path_prefix: /h/, headers: {X-Canary: \"1\", x-tenant: blue}, pool: b}",
    "{path_prefix: /h/, pool: a}",
    "{path_prefix: /small/, limits: {max_body_size: 100}, pool: a}",
    "{path_prefix: /big/, limits: {max_body_size: 1m}, pool: a}",
    "{path_prefix: /global/, pool: a}",
    "{path_prefix: /slow/, timeouts: {upstream_response: 300ms}, pool: a}",
    "{path_prefix: /wait/, pool: a}",
    "{path_prefix: /r0/, retries: 0, pool: flaky}",
    "{path_prefix: /r1/, pool: flaky}",
};

static policy_t policy_start(void)
{
    policy_t p;
    lg_yaml_t *c = lg_yaml_new();

    p.a = lg_origin_start("--name a");
    p.b = lg_origin_start("--name b");
    p.dead = lg_test_free_port();
    lg_yaml_set(c, "log.access", "stdout");
    lg_yaml_set(c, "timeouts.upstream_response", "10s");
    lg_yaml_set(c, "limits.max_body_size", "1k");
    lg_yaml_set(c, "listeners.web.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.web.http2", "on");
    for (size_t i = 0; i < NELEMS(policy_routes); i++)
        lg_yaml_add(c, "listeners.web.routes", "%s", policy_routes[i]);
    lg_yaml_setf(c, "pools.a", "{health_check: {type: none}, backends: [127.0.0.1:%d]}", p.a->port);
    lg_yaml_setf(c, "pools.b", "{health_check: {type: none}, backends: [127.0.0.1:%d]}", p.b->port);
    /* the dead backend first: round robin's first pick; never ejected within the test */
    lg_yaml_setf(c, "pools.flaky",
                 "{balance: round_robin, health_check: {type: none, fall: 10}, "
                 "backends: [127.0.0.1:%d, 127.0.0.1:%d]}",
                 p.dead, p.a->port);
    p.lg = lg_yaml_start(c);
    p.port = lg_proc_port(p.lg, "web");
    return p;
}

static void policy_finish(policy_t *p)
{
    lg_lifeguard_finish(p->lg, "connect() to", "timed out waiting for the response head");
    lg_proc_stop(p->a);
    lg_proc_stop(p->b);
}

/* What one curl run got: its exit code, the status and the body. */
typedef struct got {
    int rc, status;
    char *body;
} got_t;

/* curl `way` with `opts` (shell words) on `path`; bounded by --max-time. */
static got_t curl(const policy_t *p, const way_t *w, const char *opts, const char *path)
{
    char *dir = lg_test_tempdir(), *out = NULL;
    got_t g;

    g.rc = lg_run_capture(
        lg_fmt("curl -sS --path-as-is --max-time 30 %s %s -o %s/body -w '%%{http_code}' "
               "'http://127.0.0.1:%d%s' 2>%s/err",
               w->flag, opts, dir, p->port, path, dir),
        &out);
    g.status = atoi(out);
    g.body = lg_test_keep(lg_test_read_file(lg_fmt("%s/body", dir), NULL), NULL);
    if (g.body == NULL)
        g.body = "";
    if (g.rc != 0)
        cr_log_info("%s: curl %s %s: exit %d: %s", w->name, opts, path, g.rc,
                    lg_test_read_file(lg_fmt("%s/err", dir), NULL));
    return g;
}

static void expect(const way_t *w, const char *what, got_t g, int status, const char *body)
{
    cr_expect_eq(g.status, status, "%s %s: status %d, expected %d (body %s)", w->name, what,
                 g.status, status, g.body);
    if (body != NULL)
        cr_expect_str_eq(g.body, body, "%s %s: body %s, expected %s", w->name, what, g.body, body);
}

/* The target the backend received (lg-origin's /echo), "" when it did not echo. */
static const char *echoed_target(got_t g)
{
    char *t = lg_echo_field(g.body, "target");

    return t != NULL ? t : "";
}

/* A file of `len` bytes for --data-binary. */
static char *body_file(size_t len)
{
    char *data = calloc(1, len + 1);
    char *path;

    cr_assert_not_null(data);
    memset(data, 'x', len);
    path = lg_test_write_file(lg_test_tempdir(), "body", data);
    free(data);
    return lg_test_keep(path, NULL);
}

/* ---- strip_prefix */

static void strip_prefix(const policy_t *p, const way_t *w)
{
    static const struct {
        const char *path, *backend;
    } cases[] = {
        {"/api/echo?x=1&y=/z", "/echo?x=1&y=/z"},
        {"/api/v2/echo", "/v2/echo"},
        {"/api//./echo", "/echo"},
        {"/v1/echo", "/echo"},
        {"/v1echo", "/echo"},
    };

    for (size_t i = 0; i < NELEMS(cases); i++) {
        got_t g = curl(p, w, "", cases[i].path);

        expect(w, cases[i].path, g, 200, NULL);
        cr_expect_str_eq(echoed_target(g), cases[i].backend, "%s %s reached the backend as %s",
                         w->name, cases[i].path, echoed_target(g));
    }
    /* "/api/" alone becomes "/": lg-origin answers its name there */
    expect(w, "/api/", curl(p, w, "", "/api/"), 200, "a\n");
}

Test(route_policy, strip_prefix_reaches_the_backend_without_the_prefix, .timeout = 60)
{
    policy_t p = policy_start();
    char *log;

    for (size_t i = 0; i < NELEMS(ways); i++)
        strip_prefix(&p, &ways[i]);
    cr_assert_eq(lg_proc_stop(p.lg), 0);
    log = lg_proc_access_log(p.lg);
    for (size_t i = 0; i < NELEMS(ways); i++) /* the log shows the target as received */
        cr_expect(strstr(log, lg_fmt("\"GET /api/echo?x=1&y=/z %s\" 200", ways[i].proto)) != NULL,
                  "no %s line with the original target in:\n%s", ways[i].proto, log);
    policy_finish(&p);
}

/* ---- methods and headers */

static void methods_and_headers(const policy_t *p, const way_t *w)
{
    expect(w, "GET /m/", curl(p, w, "", "/m/"), 200, "a\n");
    expect(w, "POST /m/ (GET-only route: the next one)", curl(p, w, "-d x=1", "/m/"), 200, "b\n");
    expect(w, "DELETE /m/", curl(p, w, "-X DELETE", "/m/"), 200, "b\n");
    expect(w, "HEAD /m/ (GET does not bring HEAD)", curl(p, w, "-I", "/m/"), 200, NULL);
    expect(w, "GET /get-only/", curl(p, w, "", "/get-only/"), 200, "a\n");
    expect(w, "POST /get-only/ (no other route)", curl(p, w, "-d x=1", "/get-only/"), 404, NULL);
    expect(w, "GET /h/ with both headers",
           curl(p, w, "-H 'X-Canary: 1' -H 'X-Tenant: blue'", "/h/"), 200, "b\n");
    expect(w, "GET /h/ with names in another case",
           curl(p, w, "-H 'x-canary: 1' -H 'X-TENANT: blue'", "/h/"), 200, "b\n");
    expect(w, "GET /h/ with one header", curl(p, w, "-H 'X-Canary: 1'", "/h/"), 200, "a\n");
    expect(w, "GET /h/ with another value",
           curl(p, w, "-H 'X-Canary: 2' -H 'X-Tenant: blue'", "/h/"), 200, "a\n");
    expect(w, "GET /h/ with the value in another case",
           curl(p, w, "-H 'X-Canary: 1' -H 'X-Tenant: Blue'", "/h/"), 200, "a\n");
    expect(w, "GET /h/ without", curl(p, w, "", "/h/"), 200, "a\n");
}

Test(route_policy, methods_and_headers_pick_the_route, .timeout = 60)
{
    policy_t p = policy_start();
    lg_origin_stats_t st;

    for (size_t i = 0; i < NELEMS(ways); i++)
        methods_and_headers(&p, &ways[i]);
    /* b got exactly what was meant for it: POST, DELETE and HEAD /m/, two /h/ per way */
    cr_assert_eq(lg_origin_stats(p.b->port, &st), 0);
    cr_expect_eq(st.requests, (long)(NELEMS(ways) * 5), "b got %ld requests", st.requests);
    policy_finish(&p);
}

/* ---- limits.max_body_size */

static void body_limits(const policy_t *p, const way_t *w)
{
    const char *data = lg_fmt("-H 'Expect:' --data-binary @%s", body_file(BODY_LEN));
    const char *big = lg_fmt("-H 'Expect:' --data-binary @%s", body_file(2 * BODY_LEN));
    got_t g;

    expect(w, "/small/ over its limit", curl(p, w, data, "/small/echo"), 413, NULL);
    g = curl(p, w, data, "/big/echo");
    expect(w, "/big/ under its limit", g, 200, NULL);
    cr_expect_str_eq(lg_echo_field(g.body, "body-length"), lg_fmt("%d", BODY_LEN));
    expect(w, "/big/ over the global limit", curl(p, w, big, "/big/echo"), 200, NULL);
    expect(w, "/global/ under the global limit", curl(p, w, data, "/global/echo"), 200, NULL);
    expect(w, "/global/ over the global limit", curl(p, w, big, "/global/echo"), 413, NULL);
    if (strcmp(w->name, "HTTP/1.1") != 0)
        return;
    /* without a length: the body is counted as it comes */
    data = lg_fmt("-H 'Transfer-Encoding: chunked' %s", data);
    expect(w, "/small/ chunked", curl(p, w, data, "/small/echo"), 413, NULL);
    expect(w, "/big/ chunked", curl(p, w, data, "/big/echo"), 200, NULL);
}

Test(route_policy, max_body_size_of_the_route, .timeout = 60)
{
    policy_t p = policy_start();

    for (size_t i = 0; i < NELEMS(ways); i++)
        body_limits(&p, &ways[i]);
    policy_finish(&p);
}

/* ---- timeouts.upstream_response */

Test(route_policy, upstream_response_of_the_route, .timeout = 60)
{
    policy_t p = policy_start();
    const char *delay = lg_fmt("/delay/%d", DELAY_MS);

    for (size_t i = 0; i < NELEMS(ways); i++) {
        const way_t *w = &ways[i];
        uint64_t t0 = lg_now_ms();

        expect(w, "/slow/ (300ms)", curl(&p, w, "", lg_fmt("/slow%s", delay)), 504, NULL);
        cr_expect(lg_now_ms() - t0 >= SLOW_MS, "504 before the route's timeout");
        expect(w, "/wait/ (global 10s)", curl(&p, w, "", lg_fmt("/wait%s", delay)), 200, "a\n");
    }
    policy_finish(&p);
}

/* ---- retries */

Test(route_policy, retries_of_the_route, .timeout = 60)
{
    policy_t p = policy_start();
    char *log;

    for (size_t i = 0; i < NELEMS(ways); i++) {
        const way_t *w = &ways[i];
        int s0 = curl(&p, w, "", "/r0/").status, s1 = curl(&p, w, "", "/r0/").status;

        /* round robin: one of the two went to the dead backend and was not retried */
        cr_expect((s0 == 502 && s1 == 200) || (s0 == 200 && s1 == 502),
                  "%s: /r0/ answered %d and %d, expected a 502 and a 200", w->name, s0, s1);
        expect(w, "/r1/", curl(&p, w, "", "/r1/"), 200, "a\n");
        expect(w, "/r1/", curl(&p, w, "", "/r1/"), 200, "a\n");
    }
    cr_assert_eq(lg_proc_stop(p.lg), 0);
    log = lg_proc_log(p.lg);
    /* the failures on /r0/ were the ones not retried: one per protocol */
    cr_expect_eq(lg_log_count(log, lg_fmt("connect() to 127.0.0.1:%d failed", p.dead)) -
                     lg_log_count(log, "trying another backend"),
                 (int)NELEMS(ways), "one failure per protocol without a retry:\n%s", log);
    cr_expect_geq(lg_log_count(log, "trying another backend"), 1, "/r1/ retried:\n%s", log);
    policy_finish(&p);
}

/* ---- timeouts.connect */

/*
 * A backend whose connects hang (its accept queue is full): /ct/ gives up after its own 300ms,
 * /ctg/ after the global 3s. A request to /ctg/, then one to /ct/: the second is answered 504
 * while the first still waits; then curl gets the same 504 from /ct/ over each protocol.
 */
Test(route_policy, connect_timeout_of_the_route, .timeout = 60)
{
    int lport, lfd = lg_test_full_listener(&lport);
    lg_yaml_t *c = lg_yaml_new();
    lg_client_t *slow, *quick;
    lg_http_response_t *r;
    policy_t p = {0};
    struct pollfd pfd;

    lg_yaml_set(c, "timeouts.connect", "3s");
    lg_yaml_set(c, "listeners.web.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.web.http2", "on");
    lg_yaml_add(c, "listeners.web.routes",
                "{path_prefix: /ct/, timeouts: {connect: 300ms}, pool: stuck}");
    lg_yaml_add(c, "listeners.web.routes", "{path_prefix: /ctg/, pool: stuck}");
    lg_yaml_setf(c, "pools.stuck",
                 "{retries: 0, health_check: {type: none, fall: 10}, backends: [127.0.0.1:%d]}",
                 lport);
    p.lg = lg_yaml_start(c);
    p.port = lg_proc_port(p.lg, "web");

    slow = lg_client_connect(p.port);
    quick = lg_client_connect(p.port);
    cr_assert(slow != NULL && quick != NULL);
    cr_assert_eq(lg_client_sendf(slow, "GET /ctg/ HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    cr_assert_eq(lg_client_sendf(quick, "GET /ct/ HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    r = lg_client_read(quick, 0);
    cr_assert_eq(r->status, 504, "/ct/: status %d (%s)", r->status, lg_http_error_name(r->error));
    pfd = (struct pollfd){.fd = lg_client_fd(slow), .events = POLLIN};
    cr_expect_eq(poll(&pfd, 1, 0), 0, "/ctg/ was answered before /ct/'s own connect timeout");
    r = lg_client_read(slow, 0);
    cr_expect_eq(r->status, 504, "/ctg/: status %d (%s)", r->status, lg_http_error_name(r->error));
    for (size_t i = 0; i < NELEMS(ways); i++)
        expect(&ways[i], "/ct/", curl(&p, &ways[i], "", "/ct/"), 504, NULL);
    close(lfd);
    lg_lifeguard_finish(p.lg, "connect() to");
}
