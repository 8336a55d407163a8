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

/* pp_backend.py: PROXY `version`, then (`tls`) TLS with the ec certificate; `tcp`: echo mode. */
static lg_proc_t *pp_backend(const char *version, int tcp, int tls)
{
    return lg_server_start(
        "/usr/bin/python3",
        lg_fmt("%s/tests/support/pp_backend.py --expect %s%s%s", LG_SOURCE_DIR, version,
               tcp ? " --tcp" : "",
               tls ? lg_fmt(" --tls %s %s", lg_test_pki("ec.pem"), lg_test_pki("ec.key")) : ""));
}

static lg_proc_t *pp_tls_backend(const char *version, int tcp)
{
    return pp_backend(version, tcp, 1);
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

/* HAProxy on `port` with accept-proxy and `bind_opts`, answering `answer` (a log-format). */
static lg_proc_t *haproxy_start(int port, const char *bind_opts, const char *answer)
{
    const char *dir = lg_test_tempdir();
    char *cfg = lg_test_write_file(
        dir, "haproxy.cfg",
        lg_fmt("defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n"
               "  timeout server 10s\nfrontend fe\n  bind 127.0.0.1:%d accept-proxy%s\n"
               "  http-request return status 200 content-type text/plain "
               "lf-string \"%s\\n\"\n",
               port, bind_opts, answer));
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

/* HAProxy listening on `port` with accept-proxy ssl, answering with what it learned. */
static lg_proc_t *haproxy_backend(int port)
{
    const char *dir = lg_test_tempdir();
    char *pem = lg_test_write_file(dir, "ec-combined.pem",
                                   lg_fmt("%s%s", lg_test_read_file(lg_test_pki("ec.pem"), NULL),
                                          lg_test_read_file(lg_test_pki("ec.key"), NULL)));

    return haproxy_start(port, lg_fmt(" ssl crt %s", pem),
                         "ci=%ci:%cp ssl=%[ssl_fc] sni=%[ssl_fc_sni] path=%[path]");
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

/* ---- v2 TLVs: what the client's TLS was (proxy-protocol.txt 2.2) */

/* The "tlv" line pp_backend logged for the connection named in a response body "conn=N ...". */
static const char *tlv_line(lg_proc_t *be, const char *body)
{
    const char *log = lgt_server_log(be), *at;
    int conn = 0;

    cr_assert_eq(sscanf(body, "conn=%d ", &conn), 1, "%s", body);
    at = strstr(log, lg_fmt("tlv %d ", conn));
    if (at == NULL)
        return "";
    return lg_fmt("%.*s", (int)strcspn(at, "\n"), at);
}

/*
 * A TLS listener (client_auth optional) in front of a v2 pool: each header carries the server
 * name the client sent (PP2_TYPE_AUTHORITY) and PP2_TYPE_SSL: the client-TLS flag, the
 * certificate flags and verify result, the version; HTTP/2 streams the same; a plain listener's
 * clients get no TLV. The name is checked and lower-cased as a passthrough route reads it.
 */
Test(uptls_pp, v2_tlvs_tell_the_client_tls, .timeout = 90)
{
    static const struct {
        const char *sni, *cert;
        int max_version;
        const char *want;
    } cases[] = {
        {NAME, NULL, 0, " authority=" NAME " ssl=0x01/1/TLSv1.3"},
        {NULL, NULL, TLS1_2_VERSION, " ssl=0x01/1/TLSv1.2"},
        {NAME, "client", 0, " authority=" NAME " ssl=0x07/0/TLSv1.3"},
        /* self-signed: presented, not verified (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) */
        {NAME, "rogue", 0, " authority=" NAME " ssl=0x07/18/TLSv1.3"},
        /* passed on as the passthrough reader gives it: lower case, no trailing dot */
        {"Other.TEST.", NULL, 0, " authority=other.test ssl=0x01/1/TLSv1.3"},
        /* OpenSSL takes any byte but NUL: a name no host has is left out */
        {"bad name", NULL, 0, " ssl=0x01/1/TLSv1.3"},
    };
    lg_proc_t *be = pp_backend("v2", 0, 0);
    lg_yaml_t *conf = lg_yaml_single(be->port);
    lg_http_response_t *r;
    lg_client_t *c;
    lg_fix_t f;
    char *out;

    lg_yaml_set(conf, "pools.app.proxy_protocol", "v2");
    lg_yaml_set(conf, "pools.app.health_check", "{type: none}");
    lg_yaml_add(conf, "listeners.web.tls.certificates", "{cert: %s, key: %s}",
                lg_test_pki("ec.pem"), lg_test_pki("ec.key"));
    lg_yaml_setf(conf, "listeners.web.tls.client_auth", "{ca: %s, verify: optional}",
                 lg_test_pki("ca.pem"));
    lg_yaml_set(conf, "listeners.plain.listen", "127.0.0.1:0");
    lg_yaml_add(conf, "listeners.plain.routes", "{pool: app}");
    f = lg_fix_start_conf(be, conf);
    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_tls_opts_t o = {.sni = cases[i].sni, .max_version = cases[i].max_version};

        if (cases[i].cert != NULL) {
            o.cert = lg_test_pki(lg_fmt("%s.pem", cases[i].cert));
            o.key = lg_test_pki(lg_fmt("%s.key", cases[i].cert));
        }
        c = lg_client_connect_tls(f.port, &o);
        cr_assert_not_null(c, "case %zu: %s", i, lg_client_tls_error());
        r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
        lgt_assert_status(r, 200);
        cr_assert_str_eq(tlv_line(be, r->body),
                         lg_fmt("tlv %d%s", atoi(r->body + 5), cases[i].want), "case %zu", i);
        lg_client_close(c);
    }
    cr_assert_eq(lg_run_capture(lg_fmt("curl -sk --http2 --resolve " NAME ":%d:127.0.0.1 "
                                       "https://" NAME ":%d/",
                                       f.port, f.port),
                                &out),
                 0, "%s", out);
    cr_assert_str_eq(tlv_line(be, out),
                     lg_fmt("tlv %d authority=" NAME " ssl=0x01/1/TLSv1.3", atoi(out + 5)));
    c = lg_client_connect(lg_proc_port(f.lg, "plain"));
    r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(tlv_line(be, r->body), "", "a plain client's header has no TLV");
    lg_client_close(c);
    cr_assert_eq(lg_log_count(lgt_server_log(be), "bad "), 0, "%s", lgt_server_log(be));
    lg_fix_finish(&f, NULL);
}

/*
 * TLS passthrough (a tcp listener routed by SNI): lifeguard read the server name from the
 * ClientHello, so the header names it; the TLS is the backend's own, so no PP2_TYPE_SSL.
 */
Test(uptls_pp, passthrough_sends_the_sni_as_authority, .timeout = 90)
{
    lg_proc_t *be = pp_backend("v2", 0, 1);
    lg_yaml_t *conf = lg_yaml_new();
    lg_tls_opts_t o = {.sni = NAME, .ca = lg_test_pki("ca.pem")};
    lg_http_response_t *r;
    lg_client_t *c;
    lg_proc_t *lg;

    lg_yaml_set(conf, "listeners.pass.listen", "127.0.0.1:0");
    lg_yaml_set(conf, "listeners.pass.mode", "tcp");
    lg_yaml_add(conf, "listeners.pass.routes", "{sni: " NAME ", pool: app}");
    lg_yaml_setf(conf, "pools.app.backends", "[127.0.0.1:%d]", be->port);
    lg_yaml_set(conf, "pools.app.proxy_protocol", "v2");
    lg_yaml_set(conf, "pools.app.health_check", "{type: none}");
    lg = lg_yaml_start(conf);
    c = lg_client_connect_tls(lg_proc_port(lg, "pass"), &o);
    cr_assert_not_null(c, "%s", lg_client_tls_error());
    r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(tlv_line(be, r->body), lg_fmt("tlv %d authority=" NAME, atoi(r->body + 5)));
    lg_client_close(c);
    cr_assert_eq(lg_log_count(lgt_server_log(be), "bad "), 0, "%s", lgt_server_log(be));
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(be);
}

/* HAProxy with accept-proxy reads the authority as `proxy-v2-options authority` sends it. */
Test(uptls_pp, haproxy_reads_the_authority, .timeout = 90)
{
    int hport = lg_test_free_port();
    lg_proc_t *hp = haproxy_start(hport, "", "authority=%[fc_pp_authority]");
    lg_yaml_t *conf = lg_yaml_single(hport);
    lg_tls_opts_t o = {.sni = NAME};
    lg_http_response_t *r;
    lg_client_t *c;
    lg_fix_t f;

    lg_yaml_set(conf, "pools.app.proxy_protocol", "v2");
    lg_yaml_set(conf, "pools.app.health_check", "{type: none}");
    lg_yaml_add(conf, "listeners.web.tls.certificates", "{cert: %s, key: %s}",
                lg_test_pki("ec.pem"), lg_test_pki("ec.key"));
    f = lg_fix_start_conf(hp, conf);
    c = lg_client_connect_tls(f.port, &o);
    cr_assert_not_null(c, "%s", lg_client_tls_error());
    r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "authority=" NAME "\n");
    lg_client_close(c);
    lg_fix_finish(&f, NULL);
}
