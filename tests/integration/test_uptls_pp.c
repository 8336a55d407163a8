/*
 * test_uptls_pp.c - a pool with both `tls` and `proxy_protocol`: every backend connection starts
 * with the PROXY header in clear on the TCP connection, then the TLS handshake, as HAProxy's
 * `send-proxy` + `ssl` does. The backends read them in that order and nothing else:
 * tests/support/pp_backend.py --tls (a strict parser of both versions, then TLS) and HAProxy
 * (Debian) with `accept-proxy ssl crt`. Each says which client the header named and which request
 * came through TLS; health checks send the LOCAL header, then TLS, and pass.
 */
#include <unistd.h>

#include "lg_test_tls.h"
#include "proxy_common.h"

#define NAME    "www.example.com" /* a name of the test PKI's ec certificate */
#define HAPROXY "/usr/sbin/haproxy"

static const char *const versions[] = {"v1", "v2"};

/* pp_backend.py --tls with the ec certificate: PROXY `version`, then TLS; `tcp`: echo mode. */
static lg_proc_t *pp_tls_backend(const char *version, int tcp)
{
    return lg_server_start("/usr/bin/python3",
                           lg_fmt("%s/tests/support/pp_backend.py --expect %s%s --tls %s %s",
                                  LG_SOURCE_DIR, version, tcp ? " --tcp" : "",
                                  lg_test_pki("ec.pem"), lg_test_pki("ec.key")));
}

/* pools.app: the backend on `port`, its certificate verified, `version` headers, checks. */
static void pool_set(lg_yaml_t *c, int port, const char *version, const char *check)
{
    lg_yaml_setf(c, "pools.app.backends", "[127.0.0.1:%d]", port);
    lg_yaml_set(c, "pools.app.proxy_protocol", version);
    lg_yaml_setf(c, "pools.app.tls", "{ca: %s, server_name: %s}", lg_test_pki("ca.pem"), NAME);
    lg_yaml_set(c, "pools.app.health_check", check);
}

/*
 * http pools, v1 and v2: two clients, each request on a connection whose header (read in clear
 * before the handshake) names that client and whose request came through TLS; the health check
 * (LOCAL, then TLS, then GET) made the backend up before any traffic.
 */
Test(uptls_pp, http_pool_sends_the_header_then_tls, .timeout = 90)
{
    for (size_t v = 0; v < LG_NELEMS(versions); v++) {
        lg_proc_t *be = pp_tls_backend(versions[v], 0);
        lg_yaml_t *conf = lg_yaml_single(be->port);
        lg_fix_t f;
        char *log;

        pool_set(conf, be->port, versions[v], "{type: http, path: /healthz, interval: 1s}");
        f = lg_fix_start_conf(be, conf);
        cr_assert(lg_proc_wait_log(f.lg, 0, "is up", lg_test_timeout_ms()), "%s",
                  lg_proc_log(f.lg));
        for (int i = 0; i < 2; i++) {
            lg_client_t *c = lg_client_connect(f.port);
            char *want = lg_fmt(" peer=%s>127.0.0.1:%d target=/c%d req=1\n",
                                lgt_local_end(lg_client_fd(c)), f.port, i);
            lg_http_response_t *r = lg_client_request(c, "GET", lg_fmt("/c%d", i), NULL, NULL, 0);

            lgt_assert_status(r, 200);
            cr_assert_not_null(strstr(r->body, want), "%s: got %s, want %s", versions[v], r->body,
                               want);
            lg_client_close(c);
        }
        log = lgt_server_log(be);
        cr_assert_eq(lg_log_count(log, "bad "), 0, "%s", log);
        cr_assert_geq(lg_log_count(log, " LOCAL"), 1, "no health check: %s", log);
        /* every connection, the checks' too, went on to TLS after its header */
        cr_assert_eq(lg_log_count(log, "conn "), lg_log_count(log, "tls "), "%s", log);
        cr_assert_geq(lg_log_count(log, "tls "), 3, "%s", log);
        lg_fix_finish(&f, NULL);
    }
}

/*
 * A tcp pool: the header and the handshake as soon as the client connects (the backend speaks
 * first, through TLS), the bytes relayed both ways after; tcp health checks are LOCAL + TLS.
 */
Test(uptls_pp, tcp_pool_sends_the_header_then_tls, .timeout = 90)
{
    for (size_t v = 0; v < LG_NELEMS(versions); v++) {
        lg_proc_t *be = pp_tls_backend(versions[v], 1);
        lg_yaml_t *conf = lg_yaml_new();
        lg_proc_t *lg;
        int fd, port;
        char buf[4], *line, *want;

        lg_yaml_set(conf, "listeners.db.listen", "127.0.0.1:0");
        lg_yaml_set(conf, "listeners.db.mode", "tcp");
        lg_yaml_set(conf, "listeners.db.pool", "app");
        pool_set(conf, be->port, versions[v], "{type: tcp, interval: 1s}");
        lg = lg_yaml_start(conf);
        cr_assert(lg_proc_wait_log(lg, 0, "is up", lg_test_timeout_ms()), "%s", lg_proc_log(lg));
        port = lg_proc_port(lg, "db");
        fd = lg_tcp_connect(port);
        cr_assert_geq(fd, 0);
        line = lgt_read_line(fd);
        want = lg_fmt(" peer=%s>127.0.0.1:%d", lgt_local_end(fd), port);
        cr_assert(strncmp(line, "conn=", 5) == 0 && strstr(line, want) != NULL,
                  "%s: got \"%s\", want \"%s\"", versions[v], line, want);
        cr_assert_eq(send(fd, "ping", 4, 0), 4);
        cr_assert_eq(recv(fd, buf, 4, MSG_WAITALL), 4);
        cr_assert(memcmp(buf, "ping", 4) == 0);
        close(fd);
        cr_assert_eq(lg_log_count(lgt_server_log(be), "bad "), 0, "%s", lgt_server_log(be));
        cr_assert_geq(lg_log_count(lgt_server_log(be), " LOCAL"), 1, "%s", lgt_server_log(be));
        lg_lifeguard_finish(lg, NULL);
        lg_proc_stop(be);
    }
}

/* HAProxy listening on `port` with accept-proxy ssl, answering with what it learned. */
static lg_proc_t *haproxy_backend(int port)
{
    const char *dir = lg_test_tempdir();
    char *pem = lg_test_write_file(dir, "ec-combined.pem",
                                   lg_fmt("%s%s", lg_test_read_file(lg_test_pki("ec.pem"), NULL),
                                          lg_test_read_file(lg_test_pki("ec.key"), NULL)));
    char *cfg = lg_test_write_file(
        dir, "haproxy.cfg",
        lg_fmt("defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n"
               "  timeout server 10s\nfrontend fe\n  bind 127.0.0.1:%d accept-proxy ssl crt %s\n"
               "  http-request return status 200 content-type text/plain "
               "lf-string \"ci=%%ci:%%cp ssl=%%[ssl_fc] sni=%%[ssl_fc_sni] path=%%[path]\\n\"\n",
               port, pem));
    char *sh = lg_test_write_file(
        dir, "haproxy.sh",
        lg_fmt("echo listening 127.0.0.1:%d\nexec " HAPROXY " -db -f %s >/dev/null\n", port, cfg));
    lg_proc_t *hp;
    int fd = -1, ok;

    if (access(HAPROXY, X_OK) != 0)
        cr_skip_test("haproxy is not installed (scripts/deps.sh test)");
    hp = lg_server_start("/bin/sh", sh);
    LG_WAIT_FOR(ok, (fd = lg_tcp_connect(port)) >= 0, lg_test_timeout_ms());
    cr_assert(ok, "haproxy did not listen on %d", port);
    close(fd);
    return hp;
}

/*
 * HAProxy (Debian) as the backend: `accept-proxy ssl crt` reads the header in clear, then the
 * handshake with our SNI, and learns the client from the header; its health checks pass.
 */
Test(uptls_pp, haproxy_accept_proxy_ssl_learns_the_client, .timeout = 90)
{
    for (size_t v = 0; v < LG_NELEMS(versions); v++) {
        int hport = lg_test_free_port();
        lg_proc_t *hp = haproxy_backend(hport);
        lg_yaml_t *conf = lg_yaml_single(hport);
        lg_client_t *c;
        lg_http_response_t *r;
        lg_fix_t f;

        pool_set(conf, hport, versions[v], "{type: http, path: /, interval: 1s}");
        f = lg_fix_start_conf(hp, conf);
        cr_assert(lg_proc_wait_log(f.lg, 0, "is up", lg_test_timeout_ms()), "%s",
                  lg_proc_log(f.lg));
        c = lg_client_connect(f.port);
        r = lg_client_request(c, "GET", "/hello", NULL, NULL, 0);
        lgt_assert_status(r, 200);
        cr_assert_str_eq(
            r->body,
            lg_fmt("ci=%s ssl=1 sni=" NAME " path=/hello\n", lgt_local_end(lg_client_fd(c))), "%s",
            versions[v]);
        lg_client_close(c);
        lg_fix_finish(&f, NULL);
    }
}
