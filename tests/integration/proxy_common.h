/*
 * proxy_common.h - helpers shared by the data-path integration tests (test_proxy.c,
 * test_bodies.c, test_errors.c and others): a config routing one host only, and small
 * assertions. Configs and the one-origin fixture are in tests/support (lg_yaml_*, lg_fix_*).
 *
 * Header only, `static inline`, so that each test file stays one executable (the CMake glob makes
 * an executable of every tests/integration/test_*.c).
 */
#ifndef LG_PROXY_COMMON_H
#define LG_PROXY_COMMON_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lg_test.h"

#define MIB (1024ULL * 1024ULL)

/* lg_yaml_single(port) whose one route takes Host known.test only: other hosts get 404. */
static inline lg_yaml_t *lgt_conf_known_host(int port)
{
    lg_yaml_t *conf = lg_yaml_single(port);

    lg_yaml_set(conf, "listeners.web.routes", NULL);
    lg_yaml_add(conf, "listeners.web.routes", "{host: known.test, pool: app}");
    return conf;
}

/* "IP:PORT" of the local end of `fd`, as a PROXY header names the client (pp_backend.py). */
static inline char *lgt_local_end(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    int port;

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return lg_fmt("%s:%d", ip, port);
}

/* The stderr of a server the test started (lg_server_start), so far: harness-owned. */
static inline char *lgt_server_log(lg_proc_t *b)
{
    return lg_test_keep(lg_test_read_file(b->log_path, NULL), NULL);
}

/* One line (without its LF) read from the blocking socket `fd`, up to 255 bytes. */
static inline char *lgt_read_line(int fd)
{
    char line[256];
    size_t n = 0;

    while (n < sizeof(line) - 1 && recv(fd, line + n, 1, 0) == 1 && line[n] != '\n')
        n++;
    line[n] = '\0';
    return lg_fmt("%s", line);
}

/* Complete response with the status. */
static inline void lgt_assert_status(const lg_http_response_t *r, int status)
{
    cr_assert_eq(r->error, LG_HTTP_OK, "error: %s; status %d; head: %s",
                 lg_http_error_name(r->error), r->status, r->head);
    cr_assert_eq(r->status, status, "status %d, expected %d; head: %s", r->status, status, r->head);
    cr_assert(r->complete, "incomplete response; head: %s", r->head);
}

/*
 * A row of a table-driven test: a request (raw bytes, sent with the others of its table) and what
 * its response must show. NULL fields are not checked.
 */
typedef struct lgt_case {
    const char *req;
    int status;                        /* 0: never answered (the connection ended before) */
    const char *body;                  /* the whole response body */
    const char *echo_key, *echo_value; /* a line of an /echo body ("target", "body-length") */
    const char *echo_key2, *echo_value2;
    const char *header, *value; /* a response header */
} lgt_case_t;

/* Check response r against row i of a table. */
static inline void lgt_check_case(const lg_http_response_t *r, const lgt_case_t *k, size_t i)
{
    const char *const echo[2][2] = {{k->echo_key, k->echo_value}, {k->echo_key2, k->echo_value2}};

    cr_assert_eq(r->error, LG_HTTP_OK, "request %zu: %s; head: %s", i, lg_http_error_name(r->error),
                 r->head);
    cr_assert_eq(r->status, k->status, "request %zu: status %d; head: %s", i, r->status, r->head);
    cr_assert(r->complete, "request %zu: incomplete response; head: %s", i, r->head);
    if (k->body != NULL)
        cr_assert_str_eq(r->body, k->body, "request %zu", i);
    for (size_t e = 0; e < 2; e++) {
        const char *got = echo[e][0] != NULL ? lg_echo_field(r->body, echo[e][0]) : NULL;

        if (echo[e][0] != NULL)
            cr_assert(got != NULL && strcmp(got, echo[e][1]) == 0, "request %zu: %s %s, not %s", i,
                      echo[e][0], got ? got : "(none)", echo[e][1]);
    }
    if (k->header != NULL)
        cr_assert(lg_http_header(r, k->header) != NULL &&
                      strcmp(lg_http_header(r, k->header), k->value) == 0,
                  "request %zu: %s: %s, not %s", i, k->header, lg_http_header(r, k->header),
                  k->value);
}

/*
 * Send the n requests of `cases` in one write on connection c (pipelining), then with
 * `half_close` the client's FIN, and read and check the responses in order, up to the first row
 * that is never answered.
 */
static inline void lgt_run_pipelined(lg_client_t *c, const lgt_case_t *cases, size_t n,
                                     int half_close)
{
    char *all = lg_fmt("%s", "");

    for (size_t i = 0; i < n; i++)
        all = lg_fmt("%s%s", all, cases[i].req);
    cr_assert_eq(lg_client_send(c, all, strlen(all)), 0);
    if (half_close)
        lg_client_shutdown(c);
    for (size_t i = 0; i < n && cases[i].status != 0; i++) {
        unsigned flags = strncmp(cases[i].req, "HEAD ", 5) == 0 ? LG_READ_HEAD : 0;

        lgt_check_case(lg_client_read(c, flags), &cases[i], i);
    }
}

/* The worker's pid (the only child of the master with workers: 1). */
static inline pid_t lgt_worker(lg_proc_t *lg)
{
    pid_t kids[8];
    size_t n = 0;
    int ok;

    LG_WAIT_FOR(ok, (n = lg_pid_children(lg->pid, kids, 8)) >= 1, 2000);
    cr_assert(ok, "lifeguard has no worker");
    return kids[0];
}

/*
 * Every value of the echoed header `name`, joined with ", " in order (NULL when absent): what a
 * backend sees as the field's combined value.
 */
static inline char *lgt_echo_header_join(const char *echo, const char *name)
{
    size_t nl = strlen(name);
    const char *p = echo;
    char *all = NULL;

    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');

        if (strncmp(p, "header ", 7) == 0 && strncasecmp(p + 7, name, nl) == 0 &&
            p[7 + nl] == ':') {
            const char *v = p + 8 + nl, *ve = eol ? eol : v + strlen(v);

            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            all = all == NULL ? lg_fmt("%.*s", (int)(ve - v), v)
                              : lg_fmt("%s, %.*s", all, (int)(ve - v), v);
        }
        p = eol ? eol + 1 : NULL;
    }
    return all;
}

/* "%016llx" of a checksum, as /echo prints it. */
static inline char *lgt_hex(uint64_t sum)
{
    return lg_fmt("%016llx", (unsigned long long)sum);
}

/*
 * On one keep-alive connection: a pattern body of `size` bytes up to /echo (its length and
 * checksum come back), then one down from /size/N, checked byte for byte.
 */
static inline void lgt_bodies_both_ways(lg_client_t *c, unsigned long long size)
{
    lg_http_response_t *r;

    cr_assert_eq(
        lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n", size),
        0);
    cr_assert_eq(lg_client_send_pattern(c, 0, size), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), lg_fmt("%llu", size));
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"), lgt_hex(lg_pattern_checksum(size)));
    cr_assert_eq(lg_client_sendf(c, "GET /size/%llu HTTP/1.1\r\nHost: x\r\n\r\n", size), 0);
    r = lg_client_read(c, LG_READ_DISCARD);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->body_len, size);
    cr_assert_eq(r->body_sum, lg_pattern_checksum(size));
}

/* Wait until the origin reports `active` open connections; returns the last value seen. */
static inline long lgt_wait_origin_active(int port, long want, int timeout_ms)
{
    lg_origin_stats_t st = {0, 0, -1, 0, 0};
    int ok;

    LG_WAIT_FOR(ok, lg_origin_stats(port, &st) == 0 && st.active == want, timeout_ms);
    (void)ok;
    return st.active;
}

/* A TCP connection from `src` to 127.0.0.1:port, reads timing out after 5 s; fails the test. */
static inline int lgt_connect_from(const char *src, int port)
{
    struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    inet_pton(AF_INET, src, &me.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    to.sin_port = htons((uint16_t)port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0, "bind %s: %s", src,
                 strerror(errno));
    cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0, "connect from %s: %s", src,
                 strerror(errno));
    return fd;
}

/* 1 when lifeguard closes `fd` without sending a byte (within 5 s), 0 when it stays open. */
static inline int lgt_closed_silently(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char b;

    if (poll(&p, 1, 5000) != 1)
        return 0;
    ssize_t n = recv(fd, &b, 1, 0);

    cr_assert_leq(n, 0, "lifeguard sent bytes to a refused connection");
    return n == 0 || errno == ECONNRESET;
}

#endif
