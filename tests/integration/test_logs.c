/*
 * test_logs.c - what the error log tells an operator: errors that name their place (the
 * listener and FILE:LINE:COL of a failing bind, the pool, client and request line of a failing
 * backend connect, the ejection after the failure it counts).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_common.h"

/* Position in `log` of the n-th (0-based) line containing `needle`; -1 when there is none. */
static long lgs_nth(const char *log, const char *needle, int n)
{
    const char *p = log;

    for (int i = 0; (p = strstr(p, needle)) != NULL; i++, p++) {
        if (i == n)
            return p - log;
    }
    return -1;
}

/* ---- errors that name their place */

Test(logs, failed_bind_names_listener_and_place, .timeout = 30)
{
    int port, rc;
    /* a port that is taken: the listener's bind() fails with EADDRINUSE */
    int taken = lg_test_listen(1, &port);
    char *out;

    cr_assert_geq(taken, 0);
    /* written out, not built: the message points at line 5, column 13 of the file */
    rc = lg_lifeguard_run(lg_fmt("workers: 1\n"
                                 "log: {level: info, error: stderr, access: off}\n"
                                 "listeners:\n"
                                 "  web:\n"
                                 "    listen: 127.0.0.1:%d\n"
                                 "    routes:\n"
                                 "      - pool: app\n"
                                 "pools:\n"
                                 "  app:\n"
                                 "    backends: [127.0.0.1:9]\n",
                                 port),
                          "", &out);
    close(taken);
    cr_assert_neq(rc, 0, "lifeguard started on a port in use: %s", out);
    cr_assert_not_null(
        strstr(out, lg_fmt("/lifeguard.yaml:5:13): bind() to 127.0.0.1:%d failed (98: Address "
                           "already in use)",
                           port)),
        "no line with the place of the listen address: %s", out);
    cr_assert_not_null(strstr(out, "[error] "), "%s", out);
    cr_assert_not_null(strstr(strstr(out, "[error] "), ": listener web ("), "%s", out);
}

/*
 * A refused connect names the pool, the client and the request line (nginx's habit), and the
 * ejection that the third failure in a row causes is logged after that failure.
 */
Test(logs, refused_connect_names_pool_client_request, .timeout = 30)
{
    int dead = lg_test_free_port();
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(dead));
    int port = lg_proc_port(lg, "web");
    const char *log;
    long third, ejected;

    for (int i = 0; i < 3; i++)
        lgt_assert_status(lg_http_get(port, lg_fmt("/a%d?x=\"q\"", i), NULL), 502);
    lg_proc_wait_log(lg, 0, "ejected for", 2000);
    log = lg_proc_log(lg);
    for (int i = 0; i < 3; i++)
        cr_expect_not_null(
            strstr(log, lg_fmt("connect() to 127.0.0.1:%d failed (111: Connection "
                               "refused) while connecting to upstream, pool: app, "
                               "client: 127.0.0.1, request: \"GET /a%d?x=\\x22q\\x22 "
                               "HTTP/1.1\"\n",
                               dead, i)),
            "no connect() line for request %d:\n%s", i, log);
    third = lgs_nth(log, "connect() to", 2);
    ejected = lgs_nth(log, "ejected for 5 s after 3 failures", 0);
    cr_assert_geq(third, 0, "%s", log);
    cr_assert_geq(ejected, 0, "%s", log);
    cr_expect_gt(ejected, third, "the ejection is logged before the failure it counts:\n%s", log);
    lg_lifeguard_finish(lg, "connect() to");
}

/* ---- access log lines of lifeguard's own replies */

/* Send `raw` on a new connection; the status of the answer. */
static int lgs_raw(int port, const char *raw, size_t len)
{
    lg_client_t *c = lg_client_connect(port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_send(c, raw, len), 0);
    r = lg_client_read(c, 0);
    lg_client_close(c);
    return r->status;
}

Test(logs, own_replies_log_method_and_path, .timeout = 30)
{
    static const struct {
        const char *head; /* the request line and headers; a 20 KiB header follows when big */
        int big;
        int status;
        const char *logged; /* in the JSON line */
    } cases[] = {
        {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0, 405,
         "\"method\":\"CONNECT\",\"path\":\"example.com:443\",\"protocol\":\"HTTP/1.1\",\"status\":"
         "405"},
        {"GET /big?q=1 HTTP/1.1\r\nHost: x\r\nX-Big: ", 1, 431,
         "\"method\":\"GET\",\"path\":\"/big?q=1\",\"protocol\":\"HTTP/1.1\",\"status\":431"},
        {"POST /bad HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 0, 400,
         "\"method\":\"POST\",\"path\":\"/bad\",\"protocol\":\"HTTP/1.1\",\"status\":400"},
    };
    lg_proc_t *o = lg_origin_start("--quiet");
    lg_yaml_t *conf;
    lg_proc_t *lg;
    char *log;

    conf = lg_yaml_single(o->port);
    lg_yaml_set(conf, "log.access", "stdout");
    lg_yaml_set(conf, "log.access_format", "json");
    lg = lg_yaml_start(conf);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *raw = cases[i].big ? lg_fmt("%s%0*d\r\n\r\n", cases[i].head, 20000, 0)
                                 : lg_fmt("%s", cases[i].head);

        cr_assert_eq(lgs_raw(lg_proc_port(lg, "web"), raw, strlen(raw)), cases[i].status,
                     "case %zu", i);
    }
    cr_assert_eq(lg_proc_stop(lg), 0); /* TERM: the access log is written on the way out */
    log = lg_proc_access_log(lg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_not_null(strstr(log, cases[i].logged), "no line with %s:\n%s", cases[i].logged,
                           log);
    lg_lifeguard_finish(lg, NULL);
}

/* ---- log.level: debug */

/* One listener: /api/ on host api.test to a hash pool, /flaky/ to a pool with a dead backend
 * first, the rest to a round robin pool. */
static lg_proc_t *lgs_debug_start(const char *level, int a, int b, int dead)
{
    lg_yaml_t *conf = lg_yaml_single(a);

    lg_yaml_set(conf, "log.level", level);
    lg_yaml_set(conf, "timeouts.client_idle", "1s");
    lg_yaml_set(conf, "listeners.web.routes", NULL);
    lg_yaml_add(conf, "listeners.web.routes", "{host: api.test, path_prefix: /api/, pool: api}");
    lg_yaml_add(conf, "listeners.web.routes", "{path_prefix: /flaky/, pool: flaky}");
    lg_yaml_add(conf, "listeners.web.routes", "{pool: app}");
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", b);
    lg_yaml_set(conf, "pools.api.balance", "hash");
    lg_yaml_set(conf, "pools.api.hash_key", "header:X-User");
    lg_yaml_set(conf, "pools.api.health_check.type", "none");
    lg_yaml_setf(conf, "pools.api.backends", "[127.0.0.1:%d, 127.0.0.1:%d]", a, b);
    lg_yaml_set(conf, "pools.flaky.retries", "1");
    lg_yaml_set(conf, "pools.flaky.keepalive.max_idle", "0");
    lg_yaml_set(conf, "pools.flaky.health_check.type", "none");
    lg_yaml_setf(conf, "pools.flaky.backends", "[127.0.0.1:%d, 127.0.0.1:%d]", dead, a);
    return lg_yaml_start(conf);
}

/* The same traffic for both levels: keep-alive, hash with and without its key, a retry. */
static void lgs_debug_traffic(int port)
{
    lg_client_t *c = lg_client_connect(port);

    for (int i = 0; i < 3; i++)
        lgt_assert_status(lg_client_request(c, "GET", "/", NULL, NULL, 0), 200);
    lg_client_close(c); /* closed by the client between requests */
    lgt_assert_status(lg_http_get(port, "/api/x", "Host: api.test\r\nX-User: alice\r\n"), 200);
    lgt_assert_status(lg_http_get(port, "/api/y", "Host: api.test\r\n"), 200);
    lgt_assert_status(lg_http_get(port, "/flaky/z", NULL), 200);
    /* a connection that stays idle past client_idle (1 s) */
    c = lg_client_connect(port);
    lgt_assert_status(lg_client_request(c, "GET", "/idle", NULL, NULL, 0), 200);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()), "client_idle did not close");
}

Test(logs, debug_level_tells_routing_balancing_and_connections, .timeout = 60)
{
    lg_proc_t *a = lg_origin_start("--name a --quiet"), *b = lg_origin_start("--name b --quiet");
    int dead = lg_test_free_port();
    lg_proc_t *lg = lgs_debug_start("debug", a->port, b->port, dead);
    const char *want[] = {
        "[debug] ",
        "route 3 of listener web (catch-all) matches host \"127.0.0.1:",
        lg_fmt("pool app: backend 127.0.0.1:%d picked (round_robin)", a->port),
        lg_fmt("pool app: backend 127.0.0.1:%d picked (round_robin)", b->port),
        lg_fmt("upstream 127.0.0.1:%d: new connection (exchanges on it before: 0)", a->port),
        lg_fmt("upstream 127.0.0.1:%d: reusing an idle keep-alive connection (exchanges on it "
               "before: 1)",
               a->port),
        ": closed by the client between requests",
        "route 1 of listener web (host api.test, path_prefix /api/) matches host \"api.test\", "
        "path /api/x: pool api",
        "picked (hash of header X-User)",
        "picked (round robin: no header X-User in the request)",
        lg_fmt("pool flaky: backend 127.0.0.1:%d picked (round_robin)", dead),
        lg_fmt("pool flaky: backend 127.0.0.1:%d picked for a retry (round_robin)", a->port),
        lg_fmt("upstream 127.0.0.1:%d: closing the connection: the backend does not keep it alive",
               a->port),
        ": closing after the response: the client sent Connection: close",
        ": closing: nothing received within timeouts.client_idle",
    };
    const char *log;

    lgs_debug_traffic(lg_proc_port(lg, "web"));
    log = lg_proc_log(lg);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_expect_not_null(strstr(log, want[i]), "no debug line with: %s", want[i]);
    lg_lifeguard_finish(lg, "connect() to");
}

Test(logs, info_level_has_no_debug_lines, .timeout = 60)
{
    lg_proc_t *a = lg_origin_start("--name a --quiet"), *b = lg_origin_start("--name b --quiet");
    lg_proc_t *lg = lgs_debug_start("info", a->port, b->port, lg_test_free_port());

    lgs_debug_traffic(lg_proc_port(lg, "web"));
    cr_expect_eq(lg_log_count(lg_proc_log(lg), "[debug]"), 0, "%s", lg_proc_log(lg));
    lg_lifeguard_finish(lg, "connect() to");
}
