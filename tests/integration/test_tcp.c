/*
 * test_tcp.c - tcp listeners: every connection relayed, bytes as they are, to a backend of the
 * listener's pool. HTTP is used only as a convenient byte stream that lg-origin understands.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_common.h"

/* A tcp listener `name` on 127.0.0.1:0 relaying to `pool`. */
static void tcp_listener(lg_yaml_t *conf, const char *name, const char *pool)
{
    lg_yaml_set(conf, lg_fmt("listeners.%s.listen", name), "127.0.0.1:0");
    lg_yaml_set(conf, lg_fmt("listeners.%s.mode", name), "tcp");
    lg_yaml_set(conf, lg_fmt("listeners.%s.pool", name), pool);
}

/* lifeguard with one tcp listener in front of origins a and b (round robin, tcp checks). */
static lg_proc_t *tcp_start(int pa, int pb)
{
    lg_yaml_t *conf = lg_yaml_new();

    tcp_listener(conf, "db", "app");
    lg_yaml_set(conf, "pools.app.health_check", "{type: tcp, interval: 300ms, timeout: 250ms}");
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", pa);
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", pb);
    return lg_yaml_start(conf);
}

Test(tcp, connections_alternate_and_bytes_pass_unchanged, .timeout = 60)
{
    lg_proc_t *a = lg_origin_start("--name a"), *b = lg_origin_start("--name b");
    lg_proc_t *lg = tcp_start(a->port, b->port);
    int port = lg_proc_port(lg, "db");
    int seen[2] = {0, 0};
    lg_http_response_t *r;

    for (int i = 0; i < 6; i++) {
        r = lg_http_get(port, "/", "Connection: close\r\n");
        lgt_assert_status(r, 200);
        cr_assert(r->body_len == 2 && (r->body[0] == 'a' || r->body[0] == 'b'), "%s", r->body);
        seen[r->body[0] - 'a']++;
    }
    cr_assert_eq(seen[0], 3, "a answered %d of 6", seen[0]);
    cr_assert_eq(seen[1], 3, "b answered %d of 6", seen[1]);

    /* 64 MiB through the tunnel, checked byte for byte by checksum */
    r = lg_http_get(port, "/size/67108864", "Connection: close\r\n");
    lgt_assert_status(r, 200);
    cr_assert_eq(r->body_len, 64 * MIB);
    cr_assert_eq(r->body_sum, lg_pattern_checksum(64 * MIB));
    lg_lifeguard_finish(lg, NULL);
}

/* The client half-closes after its request: the answer still arrives, then the close. */
Test(tcp, half_close_is_passed_on, .timeout = 60)
{
    lg_proc_t *a = lg_origin_start("--name a"), *b = lg_origin_start("--name b");
    lg_proc_t *lg = tcp_start(a->port, b->port);
    lg_client_t *c = lg_client_connect(lg_proc_port(lg, "db"));
    static const char req[] = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t len = 0;
    char *all;

    cr_assert_eq(lg_client_send(c, req, sizeof(req) - 1), 0);
    lg_client_shutdown(c);
    all = lg_client_read_until_close(c, &len);
    cr_assert_not_null(all);
    cr_assert(strstr(all, "HTTP/1.1 200") == all, "%s", all);
    /* nothing was added on the way: no X-Forwarded-For in what the origin saw */
    cr_assert_null(strstr(all, "X-Forwarded-For"), "%s", all);
    lg_lifeguard_finish(lg, NULL);
}

/* A backend that is down: connections go to the other one, and none fails. */
Test(tcp, a_dead_backend_loses_no_connection, .timeout = 60)
{
    lg_proc_t *a = lg_origin_start("--name a"), *b = lg_origin_start("--name b");
    lg_proc_t *lg = tcp_start(a->port, b->port);
    int port = lg_proc_port(lg, "db");

    cr_assert_eq(lg_proc_stop(b), 0);
    for (int i = 0; i < 10; i++) {
        lg_http_response_t *r = lg_http_get(port, "/", "Connection: close\r\n");

        lgt_assert_status(r, 200);
        cr_assert_str_eq(r->body, "a\n");
    }
    lg_lifeguard_finish(lg, "connect() to");
}

/* Read from a blocking socket (with timeouts) until `want` bytes or the head's end arrived. */
static size_t tcp_read(int fd, char *buf, size_t cap, size_t want, int head)
{
    size_t got = 0;

    while (got < want && got < cap - 1) {
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);

        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (head && strstr(buf, "\r\n\r\n") != NULL)
            break;
    }
    buf[got] = '\0';
    return got;
}

/* An HTTP listener passes a WebSocket upgrade on and relays both ways after the 101. */
Test(tcp, websocket_upgrade_is_relayed, .timeout = 60)
{
    lg_fix_t f = lg_fix_start("--name ws", NULL);
    int fd = lg_tcp_connect(f.port);
    static const char req[] = "GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              "Connection: keep-alive, Upgrade\r\n\r\nearly";
    char buf[65536], *end;
    size_t n, rest;

    cr_assert_geq(fd, 0);
    cr_assert_eq(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
    n = tcp_read(fd, buf, sizeof(buf), sizeof(buf), 1);
    cr_assert(strncmp(buf, "HTTP/1.1 101 ", 13) == 0, "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nUpgrade: websocket\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nConnection: upgrade\r\n"), "%s", buf);
    end = strstr(buf, "\r\n\r\n") + 4;
    rest = n - (size_t)(end - buf);
    /* the bytes sent with the request, then new ones, come back echoed */
    cr_assert_eq(send(fd, " and more", 9, 0), 9);
    memmove(buf, end, rest);
    rest += tcp_read(fd, buf + rest, sizeof(buf) - rest, 14 - rest, 0);
    cr_assert_eq(rest, 14);
    cr_assert_eq(memcmp(buf, "early and more", 14), 0, "%.*s", (int)rest, buf);
    close(fd);
    lg_fix_finish(&f, NULL);
}

/* Without "Connection: upgrade" the Upgrade header is hop-by-hop noise: removed, no switch. */
Test(tcp, upgrade_without_connection_token_is_plain_http)
{
    lg_fix_t f = lg_fix_start("--name ws", NULL);
    lg_http_response_t *r = lg_http_get(f.port, "/echo", "Upgrade: websocket\r\n");

    lgt_assert_status(r, 200);
    cr_assert_null(strstr(r->body, "Upgrade"), "%s", r->body);
    lg_fix_finish(&f, NULL);
}

/* ---- timeouts.tunnel and the access line of a tcp connection */

/* An upgrade request to lg-origin: a 101, then every byte echoed (a long-lived echo session). */
static const char ECHO_REQ[] = "GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n"
                               "Connection: upgrade\r\n\r\n";

/*
 * lifeguard in front of origin port `op`: tcp listener `db` (pool app), tcp listeners `dead`
 * (pool gone: port `dead`, where nobody listens) and `down` (pool none_up: the same port, checked
 * and found down), and http listener `web` (pool app);
 * upstream_response 500ms, tunnel 4s, the access log on stdout in `format`.
 */
static lg_proc_t *tunnel_start(int op, int dead, const char *format)
{
    lg_yaml_t *conf = lg_yaml_single(op);

    lg_yaml_set(conf, "log.access", "stdout");
    lg_yaml_set(conf, "log.access_format", format);
    lg_yaml_set(conf, "timeouts.upstream_response", "500ms");
    lg_yaml_set(conf, "timeouts.tunnel", "4s");
    tcp_listener(conf, "db", "app");
    tcp_listener(conf, "dead", "gone");
    tcp_listener(conf, "down", "none_up");
    lg_yaml_set(conf, "pools.gone.health_check.type", "none");
    lg_yaml_add(conf, "pools.gone.backends", "127.0.0.1:%d", dead);
    lg_yaml_set(conf, "pools.none_up.health_check", "{type: tcp, interval: 300ms, timeout: 250ms}");
    lg_yaml_add(conf, "pools.none_up.backends", "127.0.0.1:%d", dead);
    return lg_yaml_start(conf);
}

static unsigned local_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

/* Read and drop until the peer closes (or resets, or the socket's timeout); bytes read. */
static size_t drain_until_close(int fd)
{
    char buf[4096];
    size_t got = 0;
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        got += (size_t)n;
    return got;
}

/* Start an echo session on `fd`: request, 101 head read whole; *in, *out count the bytes. */
static void echo_open(int fd, size_t *in, size_t *out)
{
    char buf[4096];

    cr_assert_eq(send(fd, ECHO_REQ, sizeof(ECHO_REQ) - 1, 0), (ssize_t)(sizeof(ECHO_REQ) - 1));
    *in += sizeof(ECHO_REQ) - 1;
    *out += tcp_read(fd, buf, sizeof(buf), sizeof(buf), 1);
    cr_assert(strncmp(buf, "HTTP/1.1 101 ", 13) == 0, "%s", buf);
    cr_assert(strstr(buf, "\r\n\r\n")[4] == '\0', "bytes after the 101 head: %s", buf);
}

/* "ping" goes through the session and comes back. */
static void echo_ping(int fd, size_t *in, size_t *out)
{
    char buf[8];

    cr_assert_eq(send(fd, "ping", 4, 0), 4);
    *in += 4;
    cr_assert_eq(tcp_read(fd, buf, sizeof(buf), 4, 0), 4, "the echo did not come back");
    cr_assert_eq(memcmp(buf, "ping", 4), 0);
    *out += 4;
}

/* The access log line that contains `needle`, waited for (the log is flushed every second). */
static char *access_line(lg_proc_t *lg, const char *needle)
{
    char *log = NULL, *at = NULL, *eol;
    int ok;

    LG_WAIT_FOR(ok, (at = strstr(log = lg_proc_access_log(lg), needle)) != NULL,
                lg_test_timeout_ms());
    cr_assert(ok, "no access line with %s in:\n%s", needle, log);
    while (at > log && at[-1] != '\n')
        at--;
    eol = strchr(at, '\n');
    return lg_fmt("%.*s", (int)(eol != NULL ? eol - at : (long)strlen(at)), at);
}

/* The text line of the tcp connection from `cport`, checked field by field. */
static void check_text_line(lg_proc_t *lg, unsigned cport, const char *listener, const char *be,
                            size_t in, size_t out, const char *end)
{
    char *line = access_line(lg, lg_fmt("127.0.0.1:%u [", cport));
    char ls[64], pb[128], how[64];
    unsigned long long dur, bin, bout;

    cr_assert_eq(sscanf(line, "%*s [%*[^]]] %63s %127s %llu %llu %llu \"%63[^\"]\"", ls, pb, &dur,
                        &bin, &bout, how),
                 6, "%s", line);
    cr_assert_str_eq(ls, listener, "%s", line);
    cr_assert_str_eq(pb, be, "%s", line);
    cr_assert_eq(bin, in, "%s: bytes in, expected %zu", line, in);
    cr_assert_eq(bout, out, "%s: bytes out, expected %zu", line, out);
    cr_assert_str_eq(how, end, "%s", line);
}

/* Same in json: every field but the time and the duration. */
static void check_json_line(lg_proc_t *lg, unsigned cport, const char *listener, const char *be,
                            size_t in, size_t out, const char *end)
{
    char *line = access_line(lg, lg_fmt("\"client_port\":%u,", cport));
    char *pool = lg_fmt("%.*s", (int)(strchr(be, '/') - be), be);
    const char *up = strcmp(strchr(be, '/') + 1, "-") == 0 ? "" : strchr(be, '/') + 1;
    char *want = lg_fmt("\"type\":\"tcp\",\"client\":\"127.0.0.1\",\"client_port\":%u,\"listener\":"
                        "\"%s\",\"pool\":\"%s\",\"upstream\":\"%s\",\"bytes_in\":%zu,\"bytes_out\":"
                        "%zu,\"duration_ms\":",
                        cport, listener, pool, up, in, out);

    cr_assert_not_null(strstr(line, want), "%s\nwanted %s", line, want);
    cr_assert_not_null(strstr(line, lg_fmt(",\"end\":\"%s\"}", end)), "%s", line);
}

/* One way a tcp connection ends, and what its access line must say. */
typedef struct end_case {
    const char *listener; /* db; dead: nobody listens behind it; down: its backend checked down */
    const char *req;      /* sent first; ECHO_REQ: a session, pinged once, then the client ends */
    int reset;            /* the client ends with RST rather than FIN */
    const char *end;
} end_case_t;

static const end_case_t end_cases[] = {
    {"db", ECHO_REQ, 0, "closed by client"},
    {"db", ECHO_REQ, 1, "closed by client"},
    {"db", "GET /close HTTP/1.1\r\nHost: x\r\n\r\n", 0, "closed by backend"},
    {"db", "GET /reset HTTP/1.1\r\nHost: x\r\n\r\n", 0, "closed by backend"},
    {"dead", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, "connect failed"},
    {"down", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, "no backend"},
};

/* Close `fd` with RST (SO_LINGER 0). */
static void reset_fd(int fd)
{
    struct linger lin = {1, 0};

    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)), 0);
    close(fd);
}

/* Run end case `k` on lifeguard `lg`; its line is checked in `format`. */
static void end_case_run(lg_proc_t *lg, const end_case_t *k, const char *be, const char *format)
{
    int fd = lg_tcp_connect(lg_proc_port(lg, k->listener));
    size_t in = 0, out = 0;
    unsigned cport;

    cr_assert_geq(fd, 0);
    cport = local_port(fd);
    if (k->req == ECHO_REQ) {
        echo_open(fd, &in, &out);
        echo_ping(fd, &in, &out);
    } else {
        cr_assert_eq(send(fd, k->req, strlen(k->req), 0), (ssize_t)strlen(k->req));
        /* without a connected backend the relay ends before any client byte is read */
        in = strcmp(k->listener, "db") != 0 ? 0 : strlen(k->req);
        out = drain_until_close(fd);
    }
    if (k->reset)
        reset_fd(fd);
    else
        close(fd);
    if (strcmp(format, "json") == 0)
        check_json_line(lg, cport, k->listener, be, in, out, k->end);
    else
        check_text_line(lg, cport, k->listener, be, in, out, k->end);
}

/* Every way of ending, in one access_format. */
static void ends_are_logged(const char *format)
{
    lg_proc_t *o = lg_origin_start("--name a --quiet");
    int dead = lg_test_free_port();
    lg_proc_t *lg = tunnel_start(o->port, dead, format);

    for (size_t i = 0; i < sizeof(end_cases) / sizeof(end_cases[0]); i++) {
        const end_case_t *k = &end_cases[i];
        char *be = strcmp(k->listener, "db") == 0     ? lg_fmt("app/127.0.0.1:%d", o->port)
                   : strcmp(k->listener, "dead") == 0 ? lg_fmt("gone/127.0.0.1:%d", dead)
                                                      : "none_up/-";

        end_case_run(lg, k, be, format);
    }
    lg_lifeguard_finish(lg, "connect() to", "closed the connection while sending the response",
                        "no backend of pool none_up is up");
}

Test(tcp_log, every_end_is_logged_text, .timeout = 60)
{
    ends_are_logged("combined");
}

Test(tcp_log, every_end_is_logged_json, .timeout = 60)
{
    ends_are_logged("json");
}

/*
 * A tcp relay idle longer than upstream_response but shorter than tunnel survives and carries
 * bytes; idle for tunnel it is closed, and both logs say why.
 */
Test(tcp_tunnel, idle_relay_lives_until_tunnel_timeout, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--name a --quiet");
    int dead = lg_test_free_port();
    lg_proc_t *lg = tunnel_start(o->port, dead, "combined");
    int fd = lg_tcp_connect(lg_proc_port(lg, "db"));
    size_t in = 0, out = 0;
    unsigned cport;

    cr_assert_geq(fd, 0);
    cport = local_port(fd);
    echo_open(fd, &in, &out);
    lg_sleep_ms(1500); /* three times upstream_response */
    echo_ping(fd, &in, &out);
    out += drain_until_close(fd); /* waits for the tunnel timeout (the socket's timeout: 10s) */
    close(fd);
    cr_assert(lg_proc_wait_log(lg, 0, "idle for timeouts.tunnel, closing it", 1000),
              "the relay was not closed by the tunnel timeout:\n%s", lg_proc_log(lg));
    check_text_line(lg, cport, "db", lg_fmt("app/127.0.0.1:%d", o->port), in, out, "timeout");
    lg_lifeguard_finish(lg, NULL);
}

/*
 * The same for a WebSocket: the 101 is awaited under upstream_response; the tunnel after it
 * outlives upstream_response, carries bytes, and ends at timeouts.tunnel. Its HTTP access line
 * (status 101) covers the tunnel: the bytes relayed to the client and the whole duration.
 */
Test(tcp_tunnel, idle_websocket_lives_until_tunnel_timeout, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--name a --quiet");
    lg_proc_t *lg = tunnel_start(o->port, lg_test_free_port(), "json");
    int fd = lg_tcp_connect(lg_proc_port(lg, "web"));
    size_t in = 0, out = 0;
    uint64_t t0 = lg_now_ms();
    char *line;
    unsigned long long ms;

    cr_assert_geq(fd, 0);
    echo_open(fd, &in, &out);
    lg_sleep_ms(1500);
    echo_ping(fd, &in, &out);
    cr_assert_eq(drain_until_close(fd), 0);
    close(fd);
    cr_assert(lg_proc_wait_log(lg, 0, "idle for timeouts.tunnel, closing it", 1000), "%s",
              lg_proc_log(lg));
    line = access_line(lg, "\"status\":101,");
    cr_assert_not_null(strstr(line, "\"status\":101,\"bytes\":4,"), "%s", line);
    cr_assert_eq(sscanf(strstr(line, "\"duration_ms\":"), "\"duration_ms\":%llu", &ms), 1);
    cr_assert_geq(ms, 1500 + 4000, "%s: the duration does not cover the tunnel", line);
    cr_assert_geq(lg_now_ms() - t0, 1500 + 4000);
    lg_lifeguard_finish(lg, NULL);
}

/* Before the 101, upstream_response applies, not tunnel: a backend that never answers is a 504. */
Test(tcp_tunnel, upgrade_waits_for_101_under_upstream_response, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--name a --quiet");
    lg_proc_t *lg = tunnel_start(o->port, lg_test_free_port(), "combined");
    lg_http_response_t *r = lg_http_get(lg_proc_port(lg, "web"), "/hang",
                                        "Upgrade: websocket\r\nConnection: upgrade\r\n");

    lgt_assert_status(r, 504);
    lg_lifeguard_finish(lg, "timed out waiting for the response head");
}
