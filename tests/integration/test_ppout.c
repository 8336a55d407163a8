/*
 * test_ppout.c - pools.NAME.proxy_protocol: every backend connection of the pool starts with one
 * PROXY header naming the client, checked by a backend that parses it strictly
 * (tests/support/pp_backend.py), for http and tcp pools, v1 and v2, IPv4 and IPv6; two clients
 * never share an upstream connection; health checks send a LOCAL header and pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/lg.h"
#include "proxy_common.h"

static const char *const versions[] = {"v1", "v2"};

static lg_proc_t *pp_backend(const char *version, int tcp)
{
    return lg_server_start("/usr/bin/python3",
                           lg_fmt("%s/tests/support/pp_backend.py --expect %s%s", LG_SOURCE_DIR,
                                  version, tcp ? " --tcp" : ""));
}

/*
 * Two keep-alive clients take turns, two requests each: every request reaches the backend on a
 * connection of its own whose header names the client that sent it (its port, and the
 * listener's), and a health check (LOCAL header) made the backend up.
 */
Test(ppout, http_pool_names_each_client_and_never_shares, .timeout = 60)
{
    for (size_t v = 0; v < LG_NELEMS(versions); v++) {
        lg_proc_t *be = pp_backend(versions[v], 0);
        lg_yaml_t *conf = lg_yaml_single(be->port);
        lg_fix_t f;
        lg_client_t *c[2];
        char *end[2], *log;
        int conns[4];

        lg_yaml_set(conf, "pools.app.proxy_protocol", versions[v]);
        lg_yaml_set(conf, "pools.app.health_check", "{type: http, path: /healthz, interval: 1s}");
        f = lg_fix_start_conf(be, conf);
        for (int i = 0; i < 2; i++) {
            c[i] = lg_client_connect(f.port);
            cr_assert_not_null(c[i]);
            end[i] = lg_fmt("%s>127.0.0.1:%d", lgt_local_end(lg_client_fd(c[i])), f.port);
        }
        for (int k = 0; k < 4; k++) {
            lg_http_response_t *r = lg_client_request(c[k % 2], "GET", "/x", NULL, NULL, 0);

            lgt_assert_status(r, 200);
            cr_assert(strstr(r->body, lg_fmt(" peer=%s ", end[k % 2])) != NULL,
                      "%s: request %d: %s, want %s", versions[v], k, r->body, end[k % 2]);
            cr_assert(strstr(r->body, " req=1\n") != NULL, "%s: reused: %s", versions[v], r->body);
            cr_assert_eq(sscanf(r->body, "conn=%d", &conns[k]), 1);
            for (int j = 0; j < k; j++)
                cr_assert_neq(conns[j], conns[k], "%s: requests %d and %d shared a connection",
                              versions[v], j, k);
        }
        lg_client_close(c[0]);
        lg_client_close(c[1]);
        log = lgt_server_log(be);
        cr_assert_eq(lg_log_count(log, "bad "), 0, "%s", log);
        cr_assert_geq(lg_log_count(log, " LOCAL"), 1, "no health check: %s", log);
        for (int i = 0; i < 2; i++) /* one header per connection: two connections each */
            cr_assert_eq(lg_log_count(log, lg_fmt(" %s", end[i])), 2, "%s", log);
        lg_fix_finish(&f, NULL);
    }
}

/* A plain TCP connection to `ip` (4 or 6 loopback) port `port`, with a receive timeout. */
static int tcp_connect(int family, int port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    struct timeval tv = {10, 0};
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    if (family == AF_INET) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        in6->sin6_addr = in6addr_loopback;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_eq(
        connect(fd, (struct sockaddr *)&ss, family == AF_INET ? sizeof(*in) : sizeof(*in6)), 0,
        "connect: %s", strerror(errno));
    return fd;
}

/*
 * tcp pools: the header goes first even when the client says nothing (the backend speaks
 * first), one per client connection, with the client's address: IPv4 (TCP4 / AF_INET) and IPv6
 * (TCP6 / AF_INET6) listeners; the relayed bytes follow it unchanged.
 */
Test(ppout, tcp_pool_sends_the_header_before_any_client_byte, .timeout = 60)
{
    static const struct {
        int family;
        const char *listen, *ip;
    } fams[] = {{AF_INET, "127.0.0.1:0", "127.0.0.1"}, {AF_INET6, "\"[::1]:0\"", "::1"}};

    for (size_t v = 0; v < LG_NELEMS(versions); v++) {
        for (size_t a = 0; a < LG_NELEMS(fams); a++) {
            lg_proc_t *be = pp_backend(versions[v], 1);
            lg_yaml_t *conf = lg_yaml_new();
            lg_proc_t *lg;
            int fd[2], port, conns[2];
            char buf[4];

            lg_yaml_set(conf, "listeners.db.listen", fams[a].listen);
            lg_yaml_set(conf, "listeners.db.mode", "tcp");
            lg_yaml_set(conf, "listeners.db.pool", "app");
            lg_yaml_set(conf, "pools.app.proxy_protocol", versions[v]);
            lg_yaml_set(conf, "pools.app.health_check", "{type: tcp, interval: 1s}");
            lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", be->port);
            lg = lg_yaml_start(conf);
            port = lg_proc_port(lg, "db");
            for (int i = 0; i < 2; i++)
                fd[i] = tcp_connect(fams[a].family, port);
            for (int i = 0; i < 2; i++) {
                char *line = lgt_read_line(fd[i]);
                char *want = lg_fmt(" peer=%s>%s:%d", lgt_local_end(fd[i]), fams[a].ip, port);

                cr_assert(strstr(line, want) != NULL && strncmp(line, "conn=", 5) == 0,
                          "%s %s: got \"%s\", want \"%s\"", versions[v], fams[a].ip, line, want);
                cr_assert_eq(sscanf(line, "conn=%d", &conns[i]), 1);
                cr_assert_eq(send(fd[i], "ping", 4, 0), 4);
                cr_assert_eq(recv(fd[i], buf, 4, MSG_WAITALL), 4);
                cr_assert(memcmp(buf, "ping", 4) == 0);
            }
            cr_assert_neq(conns[0], conns[1]);
            close(fd[0]);
            close(fd[1]);
            cr_assert_eq(lg_log_count(lgt_server_log(be), "bad "), 0, "%s", lgt_server_log(be));
            lg_lifeguard_finish(lg, NULL);
            lg_proc_stop(be);
        }
    }
}

/* A port of 127.0.0.1 free a moment ago (for a server that cannot be told to use port 0). */
static int free_port(void)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(in);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&in, &len), 0);
    close(fd);
    return ntohs(in.sin_port);
}

static int port_open(int port)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = connect(fd, (struct sockaddr *)&in, sizeof(in)) == 0;

    close(fd);
    return ok;
}

/*
 * HAProxy (Debian) as the backend, `accept-proxy` on its bind, answering with the client address
 * and port it learned (%ci:%cp) and the destination (%fi:%fp); its health checks pass (LOCAL).
 */
Test(ppout, haproxy_accept_proxy_learns_the_client, .timeout = 60)
{
    for (size_t v = 0; v < LG_NELEMS(versions); v++) {
        const char *dir = lg_test_tempdir();
        int hport = free_port(), ok;
        char *cfg = lg_test_write_file(
            dir, "haproxy.cfg",
            lg_fmt("defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n"
                   "  timeout server 10s\nfrontend fe\n  bind 127.0.0.1:%d accept-proxy\n"
                   "  http-request return status 200 content-type text/plain "
                   "lf-string \"ci=%%ci:%%cp fi=%%fi:%%fp\\n\"\n",
                   hport));
        char *sh = lg_test_write_file(
            dir, "haproxy.sh",
            lg_fmt("echo listening 127.0.0.1:%d\nexec /usr/sbin/haproxy -db -f %s >/dev/null\n",
                   hport, cfg));
        lg_proc_t *hp = lg_server_start("/bin/sh", sh);
        lg_yaml_t *conf;
        lg_fix_t f;

        LG_WAIT_FOR(ok, port_open(hport), lg_test_timeout_ms());
        cr_assert(ok, "haproxy did not listen on %d", hport);
        conf = lg_yaml_single(hport);
        lg_yaml_set(conf, "pools.app.proxy_protocol", versions[v]);
        lg_yaml_set(conf, "pools.app.health_check", "{type: http, path: /, interval: 1s}");
        f = lg_fix_start_conf(hp, conf);
        for (int i = 0; i < 2; i++) {
            lg_client_t *c = lg_client_connect(f.port);
            char *want = lg_fmt("ci=%s fi=127.0.0.1:%d\n", lgt_local_end(lg_client_fd(c)), f.port);
            lg_http_response_t *r = lg_client_request(c, "GET", "/", NULL, NULL, 0);

            lgt_assert_status(r, 200);
            cr_assert_str_eq(r->body, want, "%s", versions[v]);
            lg_client_close(c);
        }
        lg_fix_finish(&f, NULL);
        free(cfg);
        free(sh);
    }
}

/*
 * HTTP/2 (h2c, prior knowledge, nghttp): two streams of one client connection get a backend
 * connection each, and both headers name that client connection (curl's port) and the listener.
 */
Test(ppout, h2_streams_name_their_client_connection, .timeout = 60)
{
    lg_proc_t *be = pp_backend("v2", 0);
    lg_yaml_t *conf = lg_yaml_single(be->port);
    lg_fix_t f;
    char *out;
    int conn[2], cport[2], lport[2];

    lg_yaml_set(conf, "listeners.web.http2", "on");
    lg_yaml_set(conf, "pools.app.proxy_protocol", "v2");
    f = lg_fix_start_conf(be, conf);
    cr_assert_eq(lg_run_capture(lg_fmt("timeout 20 nghttp http://127.0.0.1:%d/a "
                                       "http://127.0.0.1:%d/b",
                                       f.port, f.port),
                                &out),
                 0, "%s\n%s", out, lg_proc_log(f.lg));
    cr_assert_eq(sscanf(out,
                        "conn=%d peer=127.0.0.1:%d>127.0.0.1:%d target=/%*c req=1\nconn=%d "
                        "peer=127.0.0.1:%d>127.0.0.1:%d target=/%*c req=1\n",
                        &conn[0], &cport[0], &lport[0], &conn[1], &cport[1], &lport[1]),
                 6, "%s", out);
    cr_assert_neq(conn[0], conn[1], "%s", out);
    cr_assert_eq(cport[0], cport[1], "one client connection: %s", out);
    cr_assert(lport[0] == f.port && lport[1] == f.port, "%s", out);
    lg_fix_finish(&f, NULL);
}

/*
 * Behind a balancer (listeners.web.proxy_protocol) the header lifeguard sends names the client
 * and the address it reached as the balancer's header said (HAProxy passes both on), in either
 * version; a header that names no client leaves lifeguard's own two ends.
 */
Test(ppout, header_in_is_passed_on_with_its_destination, .timeout = 60)
{
    static const struct {
        const char *in, *peer; /* header to lifeguard; NULL peer: the socket's own ends */
        size_t len;
    } cases[] = {
        {"PROXY TCP4 192.0.2.7 198.51.100.9 40000 443\r\n", "192.0.2.7:40000>198.51.100.9:443", 0},
        {"\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24"
         "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07"
         "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x09\x9c\x40\x20\xfb",
         "2001:db8::7:40000>2001:db8::9:8443", 52},
        {"PROXY UNKNOWN\r\n", NULL, 0},
    };

    for (size_t v = 0; v < LG_NELEMS(versions); v++) {
        lg_proc_t *be = pp_backend(versions[v], 0);
        lg_yaml_t *conf = lg_yaml_single(be->port);
        lg_fix_t f;

        lg_yaml_set(conf, "pools.app.proxy_protocol", versions[v]);
        lg_yaml_set(conf, "pools.app.health_check.type", "none");
        lg_yaml_set(conf, "listeners.web.proxy_protocol", "{trusted: [127.0.0.1/32]}");
        f = lg_fix_start_conf(be, conf);
        for (size_t i = 0; i < LG_NELEMS(cases); i++) {
            lg_client_t *c = lg_client_connect(f.port);
            size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
            const char *want;
            lg_http_response_t *r;

            cr_assert_eq(lg_client_send(c, cases[i].in, len), 0);
            want = cases[i].peer != NULL
                       ? cases[i].peer
                       : lg_fmt("%s>127.0.0.1:%d", lgt_local_end(lg_client_fd(c)), f.port);
            r = lg_client_request(c, "GET", "/x", NULL, NULL, 0);
            lgt_assert_status(r, 200);
            cr_assert(strstr(r->body, lg_fmt(" peer=%s ", want)) != NULL, "%s, case %zu: %s",
                      versions[v], i, r->body);
            lg_client_close(c);
        }
        lg_fix_finish(&f, NULL);
    }
}
