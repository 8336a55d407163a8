/*
 * test_proxy_protocol.c - listeners.NAME.proxy_protocol: HAProxy (Debian) in front sending
 * send-proxy (v1) and send-proxy-v2 to http, TLS and tcp listeners, the client it names seen by
 * the backend (X-Forwarded-For) and in the access log; hand-made bad headers, a header in
 * pieces, an untrusted source and a header that never ends.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg_test_raw.h"
#include "lg_test_tls.h"
#include "proxy_common.h"

#define HAPROXY  "/usr/sbin/haproxy"
#define TRUSTED  "{trusted: [127.0.0.1/32]}"
#define CLIENT   "127.0.0.2" /* the client behind HAProxy (HAProxy itself is 127.0.0.1) */
#define ECHO_REQ "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

/*
 * lg-origin behind three listeners that all expect a PROXY header from 127.0.0.1: `web` (http),
 * `secure` (TLS) and `relay` (tcp); access log and admin on, client_header 1s.
 */
static lg_fix_t pp_start(void)
{
    lg_proc_t *origin = lg_origin_start("--name pp");
    lg_yaml_t *c = lg_yaml_single(origin->port);

    lg_yaml_set(c, "log.access", "stdout");
    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    lg_yaml_set(c, "timeouts.client_header", "1s");
    lg_yaml_set(c, "listeners.web.proxy_protocol", TRUSTED);
    lg_yaml_set(c, "listeners.secure.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.secure.proxy_protocol", TRUSTED);
    lg_yaml_add(c, "listeners.secure.tls.certificates", "{cert: %s, key: %s}",
                lg_test_pki("ec.pem"), lg_test_pki("ec.key"));
    lg_yaml_add(c, "listeners.secure.routes", "{pool: app}");
    lg_yaml_set(c, "listeners.relay.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.relay.mode", "tcp");
    lg_yaml_set(c, "listeners.relay.pool", "app");
    lg_yaml_set(c, "listeners.relay.proxy_protocol", TRUSTED);
    return lg_fix_start_conf(origin, c);
}

typedef struct haproxy {
    pid_t pid;
    int port[4]; /* frontends: v1 to web, v2 to web, v2 to secure, v1 to relay */
} haproxy_t;

/* HAProxy in tcp mode, one frontend per target with send-proxy or send-proxy-v2. */
static haproxy_t haproxy_start(lg_fix_t *f)
{
    static const char *const how[4] = {"send-proxy", "send-proxy-v2", "send-proxy-v2",
                                       "send-proxy"};
    int to[4] = {f->port, f->port, lg_proc_port(f->lg, "secure"), lg_proc_port(f->lg, "relay")};
    char *cfg = "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n"
                "  timeout server 30s\n";
    haproxy_t h;
    int ok;

    if (access(HAPROXY, X_OK) != 0)
        cr_skip_test("haproxy is not installed (scripts/deps.sh test)");
    for (int i = 0; i < 4; i++) {
        h.port[i] = lg_test_free_port();
        cfg = lg_fmt("%slisten f%d\n  bind 127.0.0.1:%d\n  server lg 127.0.0.1:%d %s\n", cfg, i,
                     h.port[i], to[i], how[i]);
    }
    cfg = lg_test_keep(lg_test_write_file(f->lg->dir, "haproxy.cfg", cfg), NULL);
    h.pid = fork();
    cr_assert_geq(h.pid, 0);
    if (h.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl(HAPROXY, "haproxy", "-db", "-q", "-f", cfg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 4; i++) {
        int fd = -1;

        LG_WAIT_FOR(ok, (fd = lg_tcp_connect(h.port[i])) >= 0, lg_test_timeout_ms());
        cr_assert(ok, "haproxy does not listen on %d", h.port[i]);
        close(fd);
    }
    return h;
}

static void haproxy_stop(haproxy_t *h)
{
    kill(h->pid, SIGTERM);
    waitpid(h->pid, NULL, 0);
}

/* curl from CLIENT to `url` (extra options before it): its output, the exit status checked. */
static char *curl_from_client(const char *opts, const char *url)
{
    char *out = NULL;
    int rc =
        lg_run_capture(lg_fmt("curl -sS --interface %s %s '%s' 2>&1", CLIENT, opts, url), &out);

    cr_assert_eq(rc, 0, "curl %s failed: %s", url, out);
    return out;
}

Test(proxy_protocol, haproxy_v1_and_v2_name_the_client, .timeout = 120)
{
    lg_fix_t f = pp_start();
    haproxy_t h = haproxy_start(&f);
    const char *names[3] = {"v1 to http", "v2 to http", "v2 to tls"};
    char *out;

    for (int i = 0; i < 3; i++) {
        out = i < 2 ? curl_from_client("", lg_fmt("http://127.0.0.1:%d/echo", h.port[i]))
                    : curl_from_client(lg_fmt("--cacert %s --resolve www.example.com:%d:127.0.0.1",
                                              lg_test_pki("ca.pem"), h.port[2]),
                                       lg_fmt("https://www.example.com:%d/echo", h.port[2]));
        cr_assert_str_eq(lgt_echo_header_join(out, "X-Forwarded-For"), CLIENT, "%s: %s", names[i],
                         out);
    }
    /* tcp: the bytes pass as they are; the relay's access line names the client (another line
     * names 127.0.0.1: haproxy_start's probe, a client of HAProxy as well) */
    out = curl_from_client("", lg_fmt("http://127.0.0.1:%d/echo", h.port[3]));
    cr_assert(strstr(out, "method GET") != NULL, "%s", out);
    haproxy_stop(&h);
    lg_fix_finish(&f, NULL);
    out = lg_proc_access_log(f.lg);
    cr_assert_eq(lg_log_count(out, CLIENT " - - "), 3, "access log:\n%s", out);
    cr_assert_eq(lg_log_count(out, CLIENT ":"), 1, "the relay's line:\n%s", out);
    cr_assert_eq(lg_log_count(out, "127.0.0.1 - - "), 0, "HAProxy's address logged:\n%s", out);
}

/* A header in pieces, then a request in the same segment as its end; a LOCAL v2 header. */
Test(proxy_protocol, headers_by_hand)
{
    static const char v2_local[] = "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
    lg_fix_t f = pp_start();
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_send(c, "PROXY TCP4 192.0.2", 18), 0);
    lg_sleep_ms(100);
    cr_assert_eq(lg_client_sendf(c, ".7 10.0.0.1 56324 443\r\n%s", ECHO_REQ), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lgt_echo_header_join(r->body, "X-Forwarded-For"), "192.0.2.7", "%s", r->body);
    c = lg_client_connect(f.port);
    cr_assert_eq(lg_client_send(c, v2_local, sizeof(v2_local) - 1), 0);
    cr_assert_eq(lg_client_send(c, ECHO_REQ, strlen(ECHO_REQ)), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lgt_echo_header_join(r->body, "X-Forwarded-For"), "127.0.0.1",
                     "LOCAL: the socket's address");
    lg_fix_finish(&f, NULL);
}

/* Malformed headers close the connection without a byte of answer; the worker lives on. */
Test(proxy_protocol, bad_headers_close_the_connection, .timeout = 120)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {ECHO_REQ, sizeof(ECHO_REQ) - 1},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n", 36},
        {"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", 32},
        {"PROXY UNKNOWN "
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
         120},
        {"\r\n\r\n\0\r\nQUIT\n\x22\x11\x00\x0c", 16},                 /* command 2 */
        {"\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff", 16},                 /* 64 KiB */
        {"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x04\x7f\x00\x00\x01", 20}, /* too short */
        {"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0f\x7f\0\0\x02\x7f\0\0\x01\0\1\0\2\x01\x00\x09", 31},
        {"\x16\x03\x01\x00\x05hello", 10}, /* TLS first */
    };
    lg_fix_t f = pp_start();
    int tls = lg_proc_port(f.lg, "secure");
    lg_http_response_t *r;

    for (size_t i = 0; i < LG_NELEMS(bad); i++) {
        lg_client_t *c = lg_client_connect(i % 2 ? tls : f.port);
        char *got;
        size_t len;

        cr_assert_eq(lg_client_send(c, bad[i].bytes, bad[i].len), 0);
        got = lg_client_read_until_close(c, &len);
        cr_assert_eq(len, 0, "case %zu: got %zu bytes: %s", i, len, got);
    }
    cr_assert(lg_proc_wait_log(f.lg, 0, "bad PROXY header: v2 TLV runs past the header's length",
                               lg_test_timeout_ms()));
    cr_assert_eq(lg_http_get(f.port, "/", NULL)->status, 0); /* no header: closed as well */
    cr_assert_eq(lg_log_count(lg_proc_log(f.lg), "bad PROXY header"), (int)LG_NELEMS(bad) + 1);
    /* counted where they came: the even cases and the headerless request on web, odd on secure */
    r = lg_http_get(lg_proc_admin_port(f.lg), "/metrics", NULL);
    cr_assert_eq(lg_metric(r->body, "lifeguard_connections_dropped_total",
                           "listener=\"web\",reason=\"proxy_header\""),
                 (double)((LG_NELEMS(bad) + 1) / 2 + 1), "%s", r->body);
    cr_assert_eq(lg_metric(r->body, "lifeguard_connections_dropped_total",
                           "listener=\"secure\",reason=\"proxy_header\""),
                 (double)(LG_NELEMS(bad) / 2), "%s", r->body);
    lg_fix_finish(&f, NULL);
}

/* Sources outside `trusted` are closed at accept, logged and counted. */
Test(proxy_protocol, untrusted_source_is_refused)
{
    lg_fix_t f = pp_start();
    int fd = lgt_connect_from("127.0.0.3", f.port);
    lg_http_response_t *r;

    cr_assert(lgt_closed_silently(fd), "a connection from 127.0.0.3 stayed open");
    close(fd);
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "listener web: connection from 127.0.0.3 closed: not a trusted "
                               "source of proxy_protocol",
                               lg_test_timeout_ms()));
    r = lg_http_get(lg_proc_admin_port(f.lg), "/metrics", NULL);
    cr_assert_eq(lg_metric(r->body, "lifeguard_connections_refused_total",
                           "listener=\"web\",reason=\"proxy_untrusted\""),
                 1);
    cr_assert_eq(lg_metric(r->body, "lifeguard_connections_total", "listener=\"web\""), 0);
    lg_fix_finish(&f, NULL);
}

/*
 * A client that closes its side after part of a header is closed at once (the header can no
 * longer end), not held until timeouts.client_header (long here) and logged as a timeout.
 */
Test(proxy_protocol, half_closed_partial_header_is_closed_at_once)
{
    lg_fix_t f = lg_fix_start(NULL, "listeners.web.proxy_protocol", TRUSTED,
                              "timeouts.client_header", "60s", NULL);
    lg_raw_t *r = lg_raw_connect(f.port);

    cr_assert_not_null(r);
    cr_assert_eq(lg_raw_write(r, "PROXY TCP4 192.0.2", 18), 0);
    cr_assert_eq(shutdown(r->fd, SHUT_WR), 0);
    cr_assert(lg_raw_wait_close(r, lg_test_timeout_ms()), "still open");
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "bad PROXY header: the client closed its side before the end of "
                               "the header",
                               lg_test_timeout_ms()),
              "%s", lg_proc_log(f.lg));
    lg_fix_finish(&f, NULL);
}

/* A header that does not end within timeouts.client_header closes the connection. */
Test(proxy_protocol, slow_header_is_closed_at_client_header)
{
    lg_fix_t f = pp_start();
    lg_client_t *c = lg_client_connect(f.port);

    cr_assert_eq(lg_client_send(c, "PROXY TCP4 ", 11), 0);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()), "still open");
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "bad PROXY header: none complete within timeouts.client_header",
                               lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* A connection from 127.0.0.1 whose v1 header names `client`; the request sent after it. */
static lg_client_t *pp_connect_as(int port, const char *client)
{
    lg_client_t *c = lg_client_connect(port);

    cr_assert_eq(lg_client_sendf(c, "PROXY TCP4 %s 127.0.0.1 40000 80\r\n", client), 0);
    return c;
}

/*
 * The header's client is the one allow/deny and max_connections_per_ip see (the balancer's
 * own address is counted for nobody).
 */
Test(proxy_protocol, allow_and_per_ip_see_the_header_client)
{
    lg_proc_t *origin = lg_origin_start("--name pp");
    lg_yaml_t *y = lg_yaml_single(origin->port);
    lg_fix_t f;
    lg_client_t *a, *b, *c;
    int ok;

    lg_yaml_set(y, "listeners.web.proxy_protocol", TRUSTED);
    lg_yaml_set(y, "limits.max_connections_per_ip", "1");
    lg_yaml_set(y, "listeners.web.routes", "[{pool: app, allow: [192.0.2.0/24]}]");
    f = lg_fix_start_conf(origin, y);
    a = pp_connect_as(f.port, "192.0.2.7");
    lgt_assert_status(lg_client_request(a, "GET", "/", NULL, NULL, 0), 200);
    b = pp_connect_as(f.port, "192.0.2.7"); /* a's client again: over its limit of 1 */
    cr_assert(lg_client_wait_close(b, lg_test_timeout_ms()), "a 2nd connection of 192.0.2.7");
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "connection from 192.0.2.7 closed: max_connections_per_ip (1)",
                               lg_test_timeout_ms()));
    c = pp_connect_as(f.port, "198.51.100.1"); /* from the same balancer: not in allow */
    lgt_assert_status(lg_client_request(c, "GET", "/", NULL, NULL, 0), 403);
    lgt_assert_status(lg_client_request(a, "GET", "/", NULL, NULL, 0), 200);
    lg_client_close(a);
    lg_client_close(c);
    /* once the worker saw a's close, 192.0.2.7's count is given back: it gets in again */
    LG_WAIT_FOR(
        ok,
        lg_client_request(pp_connect_as(f.port, "192.0.2.7"), "GET", "/", NULL, NULL, 0)->status ==
            200,
        lg_test_timeout_ms());
    cr_assert(ok, "192.0.2.7 stays refused after its connection closed");
    lg_fix_finish(&f, NULL);
}
