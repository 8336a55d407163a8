/*
 * test_tcp.c - tcp listeners: every connection relayed, bytes as they are, to a backend of the
 * listener's pool. HTTP is used only as a convenient byte stream that lg-origin understands.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_common.h"

/* lifeguard with one tcp listener in front of origins a and b (round robin, tcp checks). */
static lg_proc_t *tcp_start(int pa, int pb)
{
    lg_yaml_t *conf = lg_yaml_new();

    lg_yaml_set(conf, "listeners.db.listen", "127.0.0.1:0");
    lg_yaml_set(conf, "listeners.db.mode", "tcp");
    lg_yaml_set(conf, "listeners.db.pool", "app");
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
