/*
 * test_access.c - access control seen by real clients: a route's allow and deny lists answer
 * 403 to the clients they refuse (curl from 127.0.0.1 and 127.0.0.2, over HTTP/1.1, HTTP/1.0,
 * h2c and TLS with HTTP/2 by ALPN; and from ::1 on an IPv6 listener), logged in the access log
 * and counted; and limits.max_connections_per_ip closes a client's connection beyond the limit
 * at accept, without a byte (and before any TLS handshake), while other addresses get in, and
 * lets the next one in once one closed.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lg_test.h"
#include "lg_test_tls.h"
#include "proxy_common.h"

/*
 * The protocols a client speaks to the listener: curl's option and the %{http_version} of the
 * response (HTTP/1.1 to an HTTP/1.0 request too, as a server of HTTP/1.1 answers).
 */
static const struct {
    const char *opt, *version;
} ac_protos[] = {
    {"--http1.1", "1.1"},
    {"--http1.0", "1.1"},
    {"--http2-prior-knowledge", "2"},
};

/* curl from `src` with `opt` to `url`: "VERSION STATUS" (or what curl printed). */
static char *ac_curl(const char *src, const char *opt, const char *url)
{
    char *out = NULL;

    lg_run_capture(lg_fmt("curl -sS -g --max-time 20 --interface %s %s -o /dev/null "
                          "-w '%%{http_version} %%{http_code}' '%s' 2>&1",
                          src, opt, url),
                   &out);
    return out != NULL ? out : "";
}

/* Every protocol from `src` to `path` at `base` ("http://127.0.0.1:PORT") gets `status`. */
static void ac_expect_at(const char *src, const char *base, const char *path, int status)
{
    for (size_t i = 0; i < sizeof(ac_protos) / sizeof(ac_protos[0]); i++) {
        char *got = ac_curl(src, ac_protos[i].opt, lg_fmt("%s%s", base, path));

        cr_assert_str_eq(got, lg_fmt("%s %d", ac_protos[i].version, status), "%s %s from %s: %s",
                         ac_protos[i].opt, path, src, got);
    }
}

static void ac_expect(const char *src, int port, const char *path, int status)
{
    ac_expect_at(src, lg_fmt("http://127.0.0.1:%d", port), path, status);
}

/* lg-origin behind `web` (h2c too, access log on, admin listener) whose routes are `routes`. */
static lg_fix_t ac_start(const char *routes)
{
    return lg_fix_start(NULL, "listeners.web.http2", "on", "listeners.web.routes", routes,
                        "log.access", "stdout", "admin.listen", "127.0.0.1:0", NULL);
}

static double ac_metric(lg_proc_t *lg, const char *name, const char *labels)
{
    lg_http_response_t *r = lg_http_get(lg_proc_admin_port(lg), "/metrics", NULL);

    cr_assert_eq(r->status, 200);
    return lg_metric(r->body, name, labels);
}

/* Lines of the access log (after the stop) with both `a` and `b`. */
static int ac_logged(lg_proc_t *lg, const char *a, const char *b)
{
    const char *log = lg_proc_access_log(lg);
    int n = 0;

    for (const char *line = log; *line != '\0';) {
        const char *eol = strchrnul(line, '\n');
        char *copy = lg_fmt("%.*s", (int)(eol - line), line);

        n += strstr(copy, a) != NULL && strstr(copy, b) != NULL;
        line = *eol != '\0' ? eol + 1 : eol;
    }
    return n;
}

Test(access, allow_list_refuses_every_other_client, .timeout = 120)
{
    lg_fix_t f = ac_start("[{pool: app, allow: [127.0.0.1]}]");

    ac_expect("127.0.0.1", f.port, "/", 200);
    ac_expect("127.0.0.2", f.port, "/", 403);
    cr_assert_eq(lg_http_get(f.port, "/", NULL)->status, 200); /* from 127.0.0.1 */
    cr_assert_eq(ac_metric(f.lg, "lifeguard_requests_total",
                           "listener=\"web\",code=\"4xx\",protocol=\"HTTP/1.1\""),
                 2, "HTTP/1.1 and HTTP/1.0 refusals are counted");
    cr_assert_eq(ac_metric(f.lg, "lifeguard_requests_total",
                           "listener=\"web\",code=\"4xx\",protocol=\"HTTP/2.0\""),
                 1);
    cr_assert_eq(lg_proc_stop(f.lg), 0); /* the access log is written on the way out */
    cr_assert_eq(ac_logged(f.lg, "127.0.0.2 - - [", "\" 403 14 "), 3,
                 "every refusal is logged:\n%s", lg_proc_access_log(f.lg));
    cr_assert_eq(ac_logged(f.lg, "127.0.0.2 - - [", "HTTP/1.0\" 403 "), 1);
    cr_assert_eq(ac_logged(f.lg, "127.0.0.2 - - [", "HTTP/2.0\" 403 "), 1);
    cr_assert_eq(ac_logged(f.lg, "127.0.0.1 - - [", "\" 200 "), 4);
    lg_fix_finish(&f, NULL);
}

/* The refusal's bytes: status line, the fixed body, and what the client's protocol frames. */
Test(access, refusal_is_lifeguards_own_403, .timeout = 60)
{
    lg_fix_t f = ac_start("[{pool: app, deny: [127.0.0.1]}]");
    lg_http_response_t *r = lg_http_get(f.port, "/", NULL);
    lg_client_t *c;
    char *out = NULL;

    cr_assert_eq(r->status, 403);
    cr_assert_str_eq(r->reason, "Forbidden");
    cr_assert_str_eq(r->body, "403 Forbidden\n");
    cr_assert_str_eq(lg_http_header(r, "Server"), "lifeguard");
    lg_run_capture(lg_fmt("curl -s --http2-prior-knowledge http://127.0.0.1:%d/", f.port), &out);
    cr_assert_str_eq(out, "403 Forbidden\n");
    /* a keep-alive HTTP/1.1 client keeps its connection, as after any answer about the route */
    c = lg_client_connect(f.port);
    r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
    cr_assert_eq(r->status, 403);
    cr_assert_str_eq(lg_http_header(r, "Connection"), "keep-alive");
    r = lg_client_request(c, "GET", "/again", NULL, NULL, 0);
    cr_assert_eq(r->status, 403);
    lg_client_close(c);
    lg_fix_finish(&f, NULL);
}

/* Who asks for what, and the status every protocol gets. */
typedef struct ac_case {
    const char *src, *path;
    int status;
} ac_case_t;

static void ac_expect_cases(int port, const ac_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ac_expect(cases[i].src, port, cases[i].path, cases[i].status);
}

Test(access, deny_list_refuses_only_its_clients, .timeout = 120)
{
    static const ac_case_t cases[] = {
        {"127.0.0.1", "/", 200},
        {"127.0.0.2", "/", 403},
        {"127.0.0.3", "/", 200},
    };
    lg_fix_t f = ac_start("[{pool: app, deny: [127.0.0.2, \"::1\"]}]");

    ac_expect_cases(f.port, cases, sizeof(cases) / sizeof(cases[0]));
    lg_fix_finish(&f, NULL);
}

/* Both lists: deny wins over allow; each route has its own lists. */
Test(access, deny_wins_and_each_route_has_its_own, .timeout = 120)
{
    static const ac_case_t cases[] = {
        {"127.0.0.1", "/echo", 200},    {"127.0.0.2", "/echo", 403}, {"127.0.0.3", "/echo", 200},
        {"127.0.0.2", "/", 200},        /* the catch-all route has no list */
        {"127.0.0.1", "/size/10", 403}, /* allow: [10.0.0.0/8] only */
    };
    lg_fix_t f = ac_start("[{path_prefix: /echo, pool: app, allow: [127.0.0.0/8], deny: "
                          "[127.0.0.2/32]}, {path_prefix: /size/, pool: app, allow: [10.0.0.0/8]}, "
                          "{pool: app}]");

    ac_expect_cases(f.port, cases, sizeof(cases) / sizeof(cases[0]));
    lg_fix_finish(&f, NULL);
}

/* A refused client never reaches the route's rate_limit: it spends no token of a shared key. */
Test(access, refused_clients_spend_no_rate_limit_token, .timeout = 60)
{
    lg_fix_t f = ac_start("[{pool: app, allow: [127.0.0.1], rate_limit: {key: \"header:X-Key\", "
                          "rate: 1/m, burst: 1}}]");
    const char *url = lg_fmt("http://127.0.0.1:%d/", f.port);

    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(ac_curl("127.0.0.2", "-H 'X-Key: k'", url), "1.1 403");
    cr_assert_str_eq(ac_curl("127.0.0.1", "-H 'X-Key: k'", url), "1.1 200",
                     "the key's one token was spent by refused requests");
    cr_assert_str_eq(ac_curl("127.0.0.1", "-H 'X-Key: k'", url), "1.1 429");
    lg_fix_finish(&f, NULL);
}

/* An IPv6 client is matched against the IPv6 entries only. */
Test(access, ipv6_client, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_yaml_t *conf = lg_yaml_single(o->port);
    lg_fix_t f;
    char *url;

    lg_yaml_set(conf, "listeners.web.listen", "\"[::1]:0\"");
    lg_yaml_set(conf, "listeners.web.routes", NULL);
    lg_yaml_add(conf, "listeners.web.routes", "{path_prefix: /echo, pool: app, allow: [\"::1\"]}");
    lg_yaml_add(conf, "listeners.web.routes", "{pool: app, allow: [0.0.0.0/0]}");
    f = lg_fix_start_conf(o, conf);
    url = lg_fmt("http://[::1]:%d", f.port);
    cr_assert_str_eq(ac_curl("::1", "--http1.1", lg_fmt("%s/echo", url)), "1.1 200");
    cr_assert_str_eq(ac_curl("::1", "--http1.1", lg_fmt("%s/", url)), "1.1 403");
    lg_fix_finish(&f, NULL);
}

/* lg-origin behind a TLS listener `web` (HTTP/2 by ALPN) with `key` set to `value`. */
static lg_fix_t ac_start_tls(const char *key, const char *value)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_yaml_t *conf = lg_yaml_single(o->port);

    lg_yaml_add(conf, "listeners.web.tls.certificates", "{cert: %s, key: %s}",
                lg_test_pki("ec.pem"), lg_test_pki("ec.key"));
    lg_yaml_set(conf, "admin.listen", "127.0.0.1:0");
    lg_yaml_set(conf, key, value);
    return lg_fix_start_conf(o, conf);
}

/* Over TLS the same: HTTP/1.1, HTTP/1.0 and HTTP/2 by ALPN. */
Test(access, allow_list_over_tls, .timeout = 120)
{
    lg_fix_t f = ac_start_tls("listeners.web.routes", "[{pool: app, allow: [127.0.0.1]}]");
    const char *base = lg_fmt("https://127.0.0.1:%d", f.port);

    /* -k: the point is the address check, not the certificate's name */
    for (size_t i = 0; i < sizeof(ac_protos) / sizeof(ac_protos[0]); i++) {
        const char *opt = lg_fmt("-k %s", i == 2 ? "--http2" : ac_protos[i].opt);

        cr_assert_str_eq(ac_curl("127.0.0.1", opt, lg_fmt("%s/", base)),
                         lg_fmt("%s 200", ac_protos[i].version));
        cr_assert_str_eq(ac_curl("127.0.0.2", opt, lg_fmt("%s/", base)),
                         lg_fmt("%s 403", ac_protos[i].version));
    }
    lg_fix_finish(&f, NULL);
}

/* ---- limits.max_connections_per_ip */

/* One request on `fd`: its status (0 when the connection closed without a response). */
static int ac_get(int fd)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    lg_load_response_t r;
    int kind = lg_load_exchange(fd, req, sizeof(req) - 1, &r);

    cr_assert(kind == LG_LOAD_OK || (kind == LG_LOAD_EOF && r.got == 0) ||
                  (kind == LG_LOAD_RESET && r.got == 0),
              "exchange ended %d with %zu bytes", kind, r.got);
    return kind == LG_LOAD_OK ? r.status : 0;
}

Test(access, max_connections_per_ip_closes_at_accept, .timeout = 120)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_connections_per_ip", "3", "admin.listen",
                              "127.0.0.1:0", NULL);
    const char *refused = "listener=\"web\",reason=\"per_ip\"", *web = "listener=\"web\"";
    int fds[3], extra, other, next, ok;

    for (int i = 0; i < 3; i++) {
        fds[i] = lgt_connect_from("127.0.0.1", f.port);
        cr_assert_eq(ac_get(fds[i]), 200); /* accepted, now idle (keep-alive) */
    }
    extra = lgt_connect_from("127.0.0.1", f.port);
    cr_assert(lgt_closed_silently(extra), "a 4th connection from 127.0.0.1 stayed open");
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "listener web: connection from 127.0.0.1 closed: "
                               "max_connections_per_ip (3) already open",
                               lg_test_timeout_ms()));
    other = lgt_connect_from("127.0.0.2", f.port);
    cr_assert_eq(ac_get(other), 200, "another address gets in");
    cr_assert_eq(ac_metric(f.lg, "lifeguard_connections_refused_total", refused), 1);
    cr_assert_eq(ac_metric(f.lg, "lifeguard_connections_total", web), 4,
                 "a refused connection is not counted as accepted");
    /* one of the three closes: once lifeguard has seen it, the next one gets in */
    close(other);
    close(fds[0]);
    LG_WAIT_FOR(ok, ac_metric(f.lg, "lifeguard_connections_active", web) == 2,
                lg_test_timeout_ms());
    cr_assert(ok, "lifeguard did not see the connections close");
    next = lgt_connect_from("127.0.0.1", f.port);
    cr_assert_eq(ac_get(next), 200);
    extra = lgt_connect_from("127.0.0.1", f.port);
    cr_assert(lgt_closed_silently(extra), "a 4th connection got in after the 3rd came back");
    cr_assert_eq(ac_metric(f.lg, "lifeguard_connections_refused_total", refused), 2);
    close(extra);
    close(next);
    close(fds[1]);
    close(fds[2]);
    lg_fix_finish(&f, NULL);
}

/* On a TLS listener the refused connection is closed before any handshake starts. */
Test(access, max_connections_per_ip_refuses_before_the_tls_handshake, .timeout = 60)
{
    lg_fix_t f = ac_start_tls("limits.max_connections_per_ip", "1");
    lg_tls_opts_t o = {.sni = "www.example.com"};
    lg_client_t *c = lg_client_connect_tls(f.port, &o);
    int extra;

    cr_assert_not_null(c, "%s", lg_client_tls_error());
    cr_assert_eq(lg_client_request(c, "GET", "/", NULL, NULL, 0)->status, 200);
    extra = lgt_connect_from("127.0.0.1", f.port);
    cr_assert(lgt_closed_silently(extra), "a 2nd connection from 127.0.0.1 stayed open");
    cr_assert_eq(ac_metric(f.lg, "lifeguard_connections_refused_total",
                           "listener=\"web\",reason=\"per_ip\""),
                 1);
    cr_assert_eq(
        ac_metric(f.lg, "lifeguard_tls_handshakes_total", "listener=\"web\",result=\"failed\""), 0,
        "no handshake was started for the refused connection");
    cr_assert_eq(
        ac_metric(f.lg, "lifeguard_tls_handshakes_total", "listener=\"web\",result=\"ok\""), 1);
    close(extra);
    lg_client_close(c);
    lg_fix_finish(&f, NULL);
}
