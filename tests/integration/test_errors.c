/*
 * test_errors.c - what a client sees when its request is wrong (400, 405, 408, 413, 431, 501,
 * 505), when the backend fails (502, 504, a truncated response), and what lifeguard does when
 * the client goes away in the middle of an exchange.
 *
 * Every test ends with lg_lifeguard_finish(): lifeguard stopped cleanly, no stray process, and no
 * "[error]" log line other than those the test provoked.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_test.h"
#include "proxy_common.h"

/*
 * Send `req` on a new connection and read the answer, which must have `status` (unless it is -1).
 * With `must_close`, require that lifeguard closes the connection after it (within 3 s).
 */
static lg_http_response_t *raw_exchange(int port, const char *req, size_t len, int status,
                                        int must_close)
{
    lg_client_t *c = lg_client_connect(port);
    lg_http_response_t *r;

    cr_assert_not_null(c);
    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_send(c, req, len), 0);
    r = lg_client_read(c, 0);
    if (status >= 0) {
        cr_assert_eq(r->error, LG_HTTP_OK, "request \"%.80s\": %s; status %d", req,
                     lg_http_error_name(r->error), r->status);
        cr_assert_eq(r->status, status, "request \"%.80s\": status %d, expected %d", req, r->status,
                     status);
        cr_assert(r->complete, "request \"%.80s\": incomplete response; head: %s", req, r->head);
    }
    if (must_close) {
        const char *conn = lg_http_header(r, "Connection");

        cr_assert(conn != NULL && strcasecmp(conn, "close") == 0,
                  "request \"%.80s\": no Connection: close; head %s", req, r->head);
        cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()),
                  "request \"%.80s\": connection left open", req);
    }
    lg_client_close(c);
    return r;
}

#define RAW(port, req, status, must_close) raw_exchange(port, req, strlen(req), status, must_close)

/* ---- requests refused: their status, Connection: close, and the connection closed */

/*
 * A request sent alone on a new connection and refused: the status it gets, then Connection:
 * close and the close; the origin receives nothing of it.
 */
typedef struct refused_case {
    const char *req;
    int status;
} refused_case_t;

static const refused_case_t refused_cases[] = {
    /* malformed request line */
    {"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400},
    {"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
    {"GET\r\nHost: x\r\n\r\n", 400},
    {"GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400},
    {"\x01\x02\x03 / HTTP/1.1\r\n\r\n", 400},
    /* framing */
    {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400},
    {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 3\r\n\r\n0\r\n\r\n",
     400},
    {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
    {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd", 400},
    {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
    {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400},
    /* line ends and header syntax */
    {"GET / HTTP/1.1\nHost: x\n\n", 400},
    {"GET / HTTP/1.1\r\nHost: x\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: x\r\nX-A\t: 1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: x\r\nX-Bad\x01: 1\r\n\r\n", 400},
    /* Host: missing in 1.1, twice */
    {"GET / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
    /* userinfo in the absolute form */
    {"GET http://user@x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
    /* RFC 9112 3.2: a Host with an invalid value (it would be routed and forwarded) */
    {"GET /echo HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    {"GET /echo HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
    {"GET /echo HTTP/1.1\r\nHost: a@b\r\n\r\n", 400},
    /* unsupported: HTTP/2.0 in an HTTP/1 request line, CONNECT, codings other than chunked */
    {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
    {"CONNECT x.test:443 HTTP/1.1\r\nHost: x.test:443\r\n\r\n", 405},
    {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
};

#define CHUNKED_POST "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

/*
 * Invalid chunked bodies: 400 and close as well, but the head may have been forwarded before the
 * body was found invalid.
 */
static const refused_case_t bad_chunked_cases[] = {
    {CHUNKED_POST "zz\r\nhello\r\n0\r\n\r\n", 400},     /* not hex */
    {CHUNKED_POST "5\r\nhelloXX\r\n0\r\n\r\n", 400},    /* data longer than the size */
    {CHUNKED_POST "-5\r\nhello\r\n0\r\n\r\n", 400},     /* sign */
    {CHUNKED_POST "5\nhello\r\n0\r\n\r\n", 400},        /* bare LF after the size */
    {CHUNKED_POST "fffffffffffffffffff\r\nx\r\n", 400}, /* overflow */
};

/*
 * Send each of the n cases on its own connection and check the answer; unless `head_may_pass`,
 * check that the origin received nothing.
 */
static void run_refused(const lg_fix_t *f, const refused_case_t *cases, size_t n, int head_may_pass)
{
    for (size_t i = 0; i < n; i++) {
        lg_origin_stats_t before, after;

        cr_assert_eq(lg_origin_stats(f->origin->port, &before), 0);
        RAW(f->port, cases[i].req, cases[i].status, 1);
        cr_assert_eq(lg_origin_stats(f->origin->port, &after), 0);
        if (!head_may_pass)
            cr_assert_eq(after.requests, before.requests, "request \"%.80s\" reached the origin",
                         cases[i].req);
    }
}

Test(errors, refused_requests_get_their_status_and_close)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);

    run_refused(&f, refused_cases, sizeof(refused_cases) / sizeof(refused_cases[0]), 0);
    run_refused(&f, bad_chunked_cases, sizeof(bad_chunked_cases) / sizeof(bad_chunked_cases[0]), 1);
    lg_fix_finish(&f, NULL);
}

/* The 400 closes the connection even when a valid request follows in the same write. */
Test(errors, nothing_after_a_400_is_answered)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    size_t len;
    char *rest;

    cr_assert_eq(lg_client_sendf(c, "GET / HTTP/1.1\r\nHost : x\r\n\r\n"
                                    "GET /size/3 HTTP/1.1\r\nHost: x\r\n\r\n"),
                 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 400);
    rest = lg_client_read_until_close(c, &len);
    cr_assert_eq(len, 0, "after the 400: %s", rest);
    lg_fix_finish(&f, NULL);
}

/* Pipelined: the valid requests before the malformed one are answered, then 400 and close. */
static const lgt_case_t valid_then_malformed[] = {
    {.req = "GET /size/3 HTTP/1.1\r\nHost: x\r\n\r\n", .status = 200, .body = "abc"},
    {.req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
     .status = 200,
     .echo_key = "body-length",
     .echo_value = "2"},
    {.req = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
     .status = 400},
    {.req = "GET /size/4 HTTP/1.1\r\nHost: x\r\n\r\n", .status = 0}, /* never answered */
};

Test(errors, pipelined_valid_then_malformed)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);

    lgt_run_pipelined(c, valid_then_malformed,
                      sizeof(valid_then_malformed) / sizeof(valid_then_malformed[0]), 0);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/*
 * RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; the server must
 * close the connection after it (or refuse it), even when keep-alive was asked.
 */
Test(errors, http10_with_transfer_encoding_closes)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
                 0);
    r = lg_client_read(c, 0);
    cr_assert_eq(r->error, LG_HTTP_OK, "%s", lg_http_error_name(r->error));
    cr_assert(r->status == 400 || r->status == 200, "status %d", r->status);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()),
              "connection kept alive after an HTTP/1.0 request "
              "with Transfer-Encoding (response %d, Connection: %s)",
              r->status, lg_http_header(r, "Connection"));
    lg_fix_finish(&f, NULL);
}

/* ---- limits */

/* Send `parts` (NULL-terminated) with a pause between them, then read one response. */
static lg_http_response_t *send_parts(lg_client_t *c, const char *const *parts)
{
    size_t i;

    lg_client_set_timeout(c, 5000);
    for (i = 0; parts[i] != NULL; i++) {
        if (i > 0)
            lg_sleep_ms(50);
        cr_assert_eq(lg_client_send(c, parts[i], strlen(parts[i])), 0);
    }
    return lg_client_read(c, 0);
}

/* A string of n copies of ch (harness-owned). */
static char *filler(char ch, size_t n)
{
    char *s = malloc(n + 1);

    cr_assert_not_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return lg_test_keep(s, NULL);
}

/* A head that is still incomplete when it passes the limit: 431 without waiting for its end. */
Test(errors, unfinished_head_over_max_header_size_gets_431)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_header_size", "4k", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    lg_origin_stats_t st;

    r = send_parts(c,
                   (const char *const[]){
                       lg_fmt("GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s", filler('a', 5000)), NULL});
    lgt_assert_status(r, 431);
    cr_assert_str_eq(lg_http_header(r, "Connection"), "close");
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 0);
    lg_fix_finish(&f, NULL);
}

/* Under the limit: proxied whole. */
Test(errors, head_under_max_header_size_is_proxied)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_header_size", "4k", NULL);
    char *ok = filler('b', 3000);
    lg_http_response_t *r;

    r = lg_http_get(f.port, "/echo", lg_fmt("X-Ok: %s", ok));
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_header(r->body, "X-Ok"), ok);
    lg_fix_finish(&f, NULL);
}

/*
 * A complete head larger than max_header_size must get 431 however it arrives: in one write,
 * or in two writes whose first stays under the limit.
 */
Test(errors, complete_head_over_max_header_size_gets_431)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_header_size", "4k", NULL);
    const char *big = filler('a', 5000);
    lg_origin_stats_t st;
    char *many = lg_fmt("%s", "");
    int i;

    for (i = 0; i < 200; i++)
        many = lg_fmt("%sX-H%d: 0123456789012345\r\n", many, i);
    /* one big header, many small ones, a long target: each in one write */
    run_refused(&f,
                (const refused_case_t[]){
                    {lg_fmt("GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big), 431},
                    {lg_fmt("GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", many), 431},
                    {lg_fmt("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", big), 431}},
                3, 0);
    /* 3 KiB, then 2 KiB that end the head */
    {
        lg_client_t *c = lg_client_connect(f.port);
        lg_http_response_t *r =
            send_parts(c, (const char *const[]){
                              lg_fmt("GET / HTTP/1.1\r\nHost: x\r\nX-A: %s\r\n", filler('a', 3000)),
                              lg_fmt("X-B: %s\r\n\r\n", filler('b', 2000)), NULL});

        lgt_assert_status(r, 431);
    }
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 0, "%ld oversized heads reached the origin", st.requests);
    lg_fix_finish(&f, NULL);
}

Test(errors, content_length_over_max_body_size_gets_413)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_body_size", "1k", NULL);
    char body[2000];
    lg_client_t *c;
    lg_http_response_t *r;
    lg_origin_stats_t st;

    lg_pattern_fill(body, 0, sizeof(body));
    /* at the limit: proxied */
    r = lg_http_request(f.port, "POST", "/echo", NULL, body, 1024);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "1024");

    /* over the limit: refused before the body, nothing reaches the origin */
    c = lg_client_connect(f.port);
    cr_assert_eq(
        lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n"), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 413);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));

    /* the same with the body sent at once */
    RAW(f.port,
        lg_fmt("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%.*s", sizeof(body),
               (int)sizeof(body), body),
        413, 1);
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 1);
    lg_fix_finish(&f, NULL);
}

/* A chunked body is counted as it arrives: 413 once it passes the limit. */
Test(errors, chunked_over_max_body_size_gets_413)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_body_size", "1k", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    /* the head, then the whole body in one write (a client still sending: mid_body_error_*) */
    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                 0);
    lg_sleep_ms(50);
    cr_assert_eq(lg_client_sendf(c, "1f4\r\n%s\r\n1f4\r\n%s\r\n1f4\r\n%s\r\n0\r\n\r\n",
                                 filler('x', 500), filler('y', 500), filler('z', 500)),
                 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 413);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* The same when the body arrives in the same read as the head: still 413, not 400. */
Test(errors, chunked_over_max_body_size_with_the_head_gets_413)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_body_size", "1k", NULL);
    char *chunks = lg_fmt("%s", "");
    int i;

    for (i = 0; i < 4; i++)
        chunks = lg_fmt("%s1f4\r\n%s\r\n", chunks, filler('x', 500));
    RAW(f.port,
        lg_fmt("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s0\r\n\r\n",
               chunks),
        413, 1);
    lg_fix_finish(&f, NULL);
}

/*
 * max_body_size limits the body, not its chunked encoding: 1000 body bytes in 100-byte chunks
 * (about 1060 bytes on the wire) are under a 1k limit.
 */
Test(errors, chunked_under_max_body_size_is_proxied)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_body_size", "1k", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                 0);
    lg_sleep_ms(50);
    cr_assert_eq(lg_client_send_chunked_pattern(c, 1000, 100), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "1000");
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"), lgt_hex(lg_pattern_checksum(1000)));
    lg_fix_finish(&f, NULL);
}

/*
 * An error answered before the request body arrived (here: no route, and a Content-Length over
 * max_body_size) must not reset the connection while the client is still sending the body it
 * announced: lifeguard lingers (docs/architecture.md), so the client's send succeeds and the
 * answer is what it reads. The head is sent alone, the body after the answer came.
 */
static void early_error_then_body(int port, const char *head, int status)
{
    lg_client_t *c = lg_client_connect(port);
    lg_http_response_t *r;
    int i, rc = 0, err = 0;

    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_send(c, head, strlen(head)), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, status);
    for (i = 0; i < 16 && rc == 0; i++) {
        rc = lg_client_send_pattern(c, (uint64_t)i * 65536, 65536);
        err = errno;
        lg_sleep_ms(20);
    }
    cr_assert_eq(rc, 0,
                 "status %d: sending the body failed after %d KiB (%d: %s): the connection "
                 "was reset instead of lingering",
                 status, (i - 1) * 64, err, strerror(err));
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
}

Test(errors, early_error_lingers_while_the_body_arrives)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_yaml_t *conf = lgt_conf_known_host(o->port);
    lg_fix_t f;

    lg_yaml_set(conf, "limits.max_body_size", "512k");
    f = lg_fix_start_conf(o, conf);

    early_error_then_body(
        f.port, "POST / HTTP/1.1\r\nHost: known.test\r\nContent-Length: 1048576\r\n\r\n", 413);
    early_error_then_body(
        f.port, "POST / HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 100000\r\n\r\n", 404);
    lg_fix_finish(&f, NULL);
}

/* The same when the error comes in the middle of the body: a chunked body passing the limit. */
Test(errors, mid_body_error_lingers_while_the_body_arrives)
{
    lg_fix_t f = lg_fix_start(NULL, "limits.max_body_size", "256k", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    int i, rc = 0, err = 0;

    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                 0);
    for (i = 0; i < 16 && rc == 0; i++) {
        rc = lg_client_sendf(c, "10000\r\n");
        if (rc == 0)
            rc = lg_client_send_pattern(c, (uint64_t)i * 65536, 65536);
        if (rc == 0)
            rc = lg_client_sendf(c, "\r\n");
        err = errno;
        lg_sleep_ms(20);
    }
    if (rc == 0)
        rc = lg_client_sendf(c, "0\r\n\r\n");
    r = lg_client_read(c, 0);
    cr_assert_eq(rc, 0,
                 "sending the body failed after %d KiB (%d: %s), response %d (%s): the "
                 "connection was reset instead of lingering",
                 (i - 1) * 64, err, strerror(err), r->status, lg_http_error_name(r->error));
    lgt_assert_status(r, 413);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* ---- client_header timeout */

Test(errors, partial_head_gets_408_after_client_header)
{
    lg_fix_t f = lg_fix_start(NULL, "timeouts.client_header", "1s", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    uint64_t t0 = lg_now_ms(), dt;

    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_sendf(c, "GET / HTTP/1.1\r\nHost: x\r\n"), 0);
    r = lg_client_read(c, 0);
    dt = lg_now_ms() - t0;
    lgt_assert_status(r, 408);
    cr_assert_geq(dt, 900, "408 after %llu ms", (unsigned long long)dt);
    cr_assert_str_eq(lg_http_header(r, "Connection"), "close");
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* The timer covers the whole head: trickling bytes does not extend it (slowloris). */
Test(errors, trickled_head_still_gets_408)
{
    lg_fix_t f = lg_fix_start(NULL, "timeouts.client_header", "1s", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    struct pollfd pf = {.fd = lg_client_fd(c), .events = POLLIN};
    int i, answered = 0;

    cr_assert_eq(lg_client_sendf(c, "GET / HTTP/1.1\r\n"), 0);
    for (i = 0; i < 30 && !answered; i++) {
        lg_sleep_ms(100);
        answered = poll(&pf, 1, 0) > 0;
        if (!answered)
            lg_client_sendf(c, "X-%d: y\r\n", i);
    }
    cr_assert(answered, "no answer after 3 s of trickling");
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 408);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

Test(errors, silent_connection_closed_without_response)
{
    lg_fix_t f = lg_fix_start(NULL, "timeouts.client_header", "1s", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    uint64_t t0 = lg_now_ms(), dt;
    size_t len;
    char *got;

    lg_client_set_timeout(c, 5000);
    got = lg_client_read_until_close(c, &len);
    dt = lg_now_ms() - t0;
    cr_assert_eq(len, 0, "got a response: %s", got);
    cr_assert(lg_client_wait_close(c, 0), "still open after %llu ms", (unsigned long long)dt);
    cr_assert_geq(dt, 900, "closed after %llu ms", (unsigned long long)dt);
    lg_fix_finish(&f, NULL);
}

/* ---- backend failures */

Test(errors, backend_port_closed_gets_502)
{
    int dead = lg_test_free_port();
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(dead));
    int port = lg_proc_port(lg, "web");
    lg_client_t *c = lg_client_connect(port);
    lg_http_response_t *r;
    int i;

    for (i = 0; i < 3; i++) {
        r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
        lgt_assert_status(r, 502);
        if (r->closed || (lg_http_header(r, "Connection") != NULL &&
                          strcasecmp(lg_http_header(r, "Connection"), "close") == 0))
            c = lg_client_connect(port);
    }
    /*
     * Three failures in a row (health_check.fall) eject the only backend: the pool has none
     * left, so the next request, one with a body, gets 503 with Retry-After.
     */
    RAW(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 503, 0);
    cr_assert_geq(lg_log_count(lg_proc_log(lg), "connect() to"), 1);
    cr_assert_eq(lg_log_count(lg_proc_log(lg), "ejected for 5 s after 3 failures"), 1);
    lg_lifeguard_finish(lg, "connect() to", "no backend of pool");
}

/* A refused connect moves on to the other backend: the client never sees it. */
Test(errors, refused_connect_retried_on_another_backend)
{
    int dead = lg_test_free_port();
    lg_proc_t *o = lg_origin_start("--name alive");
    lg_yaml_t *conf = lg_yaml_single(dead);
    lg_origin_stats_t st;
    lg_fix_t f;
    int i;

    lg_yaml_set(conf, "pools.app.retries", "1");
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", o->port);
    f = lg_fix_start_conf(o, conf);
    for (i = 0; i < 6; i++) {
        lg_http_response_t *r = lg_http_get(f.port, "/", NULL);

        lgt_assert_status(r, 200);
        cr_assert_str_eq(r->body, "alive\n");
    }
    /* nothing was sent to the refusing backend: a request with a body is retried as well */
    for (i = 0; i < 4; i++) {
        lg_http_response_t *r = RAW(f.port,
                                    "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    "Content-Length: 5\r\n\r\nhello",
                                    200, 0);

        cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "5");
    }
    cr_assert_eq(lg_origin_stats(o->port, &st), 0);
    cr_assert_eq(st.requests, 10);
    lg_fix_finish(&f, "connect() to");
}

Test(errors, backend_reset_gets_502)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    r = lg_http_get(f.port, "/reset", NULL);
    lgt_assert_status(r, 502);
    /* on a keep-alive connection whose upstream connection was pooled before */
    r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    r = lg_client_request(c, "GET", "/reset", NULL, NULL, 0);
    lgt_assert_status(r, 502);
    if (!r->closed && lg_http_header(r, "Connection") == NULL) {
        r = lg_client_request(c, "GET", "/size/2", NULL, NULL, 0);
        lgt_assert_status(r, 200);
        cr_assert_str_eq(r->body, "ab");
    }
    /* a POST (not retried) */
    RAW(f.port, "POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 502, 0);
    r = lg_http_get(f.port, "/", NULL);
    lgt_assert_status(r, 200);
    lg_fix_finish(&f, "reading the response from", "upstream closed the connection",
                  "sending the request to");
}

Test(errors, backend_malformed_response_gets_502)
{
    lg_fix_t f = lg_fix_start("--malformed", NULL);
    lg_http_response_t *r;

    r = lg_http_get(f.port, "/", NULL);
    lgt_assert_status(r, 502);
    r = lg_http_get(f.port, "/size/10", NULL);
    lgt_assert_status(r, 502);
    cr_assert_geq(lg_log_count(lg_proc_log(f.lg), "invalid response"), 1);
    lg_fix_finish(&f, "invalid response");
}

Test(errors, backend_bad_framing_gets_502)
{
    lg_fix_t f = lg_fix_start("--bad-framing", NULL);
    lg_http_response_t *r;
    size_t framing;

    r = lg_http_get(f.port, "/", NULL);
    cr_assert_eq(r->status, 502, "status %d; head: %s", r->status, r->head);
    framing =
        lg_http_header_count(r, "Content-Length") + lg_http_header_count(r, "Transfer-Encoding");
    cr_assert_leq(framing, 1, "head: %s", r->head);
    r = lg_http_get(f.port, "/size/100", NULL);
    cr_assert_eq(r->status, 502, "status %d; head: %s", r->status, r->head);
    lg_fix_finish(&f, "invalid response");
}

Test(errors, backend_hang_gets_504_after_upstream_response)
{
    lg_fix_t f = lg_fix_start(NULL, "timeouts.upstream_response", "1s", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    uint64_t t0 = lg_now_ms(), dt;

    lg_client_set_timeout(c, 5000);
    r = lg_client_request(c, "GET", "/hang", NULL, NULL, 0);
    dt = lg_now_ms() - t0;
    lgt_assert_status(r, 504);
    cr_assert_geq(dt, 900, "504 after %llu ms", (unsigned long long)dt);
    /* the hanging upstream connection was closed */
    cr_assert_eq(lgt_wait_origin_active(f.origin->port, 0, 2000), 0);
    /* and the client connection is still good when it was kept */
    if (!r->closed && lg_http_header(r, "Connection") != NULL &&
        strcasecmp(lg_http_header(r, "Connection"), "keep-alive") == 0) {
        r = lg_client_request(c, "GET", "/size/2", NULL, NULL, 0);
        lgt_assert_status(r, 200);
    }
    /* a slow response within the timeout is fine */
    r = lg_http_get(f.port, "/delay/300", NULL);
    lgt_assert_status(r, 200);
    lg_fix_finish(&f, "timed out");
}

Test(errors, connect_timeout_gets_504)
{
    int lport, lfd = lg_test_full_listener(&lport);
    lg_yaml_t *conf;
    lg_proc_t *lg;
    lg_http_response_t *r;
    uint64_t t0, dt;

    conf = lg_yaml_single(lport);
    lg_yaml_set(conf, "timeouts.connect", "500ms");
    lg_yaml_set(conf, "pools.app.retries", "0");
    lg = lg_yaml_start(conf);
    t0 = lg_now_ms();
    r = lg_http_get(lg_proc_port(lg, "web"), "/", NULL);
    dt = lg_now_ms() - t0;
    lgt_assert_status(r, 504);
    cr_assert_geq(dt, 400, "504 after %llu ms", (unsigned long long)dt);
    close(lfd);
    lg_lifeguard_finish(lg, "connect() to");
}

Test(errors, backend_dying_mid_response_truncates_and_closes)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    uint64_t t0 = lg_now_ms(), dt;

    lg_client_set_timeout(c, 5000);
    r = lg_client_request(c, "GET", "/partial", NULL, NULL, 0);
    dt = lg_now_ms() - t0;
    cr_assert_eq(r->status, 200, "head: %s", r->head);
    cr_assert_eq(r->content_length, 100000);
    cr_assert(r->error == LG_HTTP_EOF || r->error == LG_HTTP_RESET, "%s after %llu ms",
              lg_http_error_name(r->error), (unsigned long long)dt);
    cr_assert_not(r->complete);
    cr_assert_lt(r->body_len, 100000);
    cr_assert_leq(r->body_len, 1000);
    cr_assert(r->closed);

    /* lifeguard goes on */
    r = lg_http_get(f.port, "/size/3", NULL);
    lgt_assert_status(r, 200);
    lg_fix_finish(&f, "closed the connection while sending the response");
}

/* Chunked response cut short: the client must not see a clean end (no forged last chunk). */
Test(errors, backend_dying_mid_chunked_response_is_not_completed)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    /* lg-origin stops the process mid-body when killed: use a huge chunked body and kill it */
    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_sendf(c, "GET /size/1g?chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    {
        struct pollfd pf = {.fd = lg_client_fd(c), .events = POLLIN};

        cr_assert_eq(poll(&pf, 1, 5000), 1);
    }
    lg_proc_stop_with(f.origin, SIGKILL, 2000);
    r = lg_client_read(c, LG_READ_DISCARD);
    cr_assert_eq(r->status, 200);
    cr_assert(r->chunked);
    cr_assert_neq(r->error, LG_HTTP_OK, "a truncated body was completed (%zu bytes)", r->body_len);
    cr_assert_neq(r->error, LG_HTTP_TIMEOUT, "the client was left hanging");
    cr_assert_lt(r->body_len, 1024 * MIB);
    lg_fix_finish(&f, "closed the connection while sending the response", "sent a malformed body");
}

/* ---- client aborts */

/* The client gives up while the backend works: lifeguard drops the backend connection at once. */
Test(abort, client_close_aborts_the_backend_side)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    pid_t worker = lgt_worker(f.lg);
    int base_fds = lg_pid_fd_count(worker), fds = -1, ok;
    lg_origin_stats_t st;
    lg_client_t *c;

    /*
     * /hang: the origin never answers and closes its side when lifeguard does, so its active
     * count going to 0 can only be lifeguard dropping the backend connection.
     */
    c = lg_client_connect(f.port);
    cr_assert_eq(lg_client_sendf(c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(lgt_wait_origin_active(f.origin->port, 1, 3000), 1,
                 "the request did not reach the origin");
    lg_client_close(c);
    cr_assert_eq(lgt_wait_origin_active(f.origin->port, 0, lg_test_timeout_ms()), 0,
                 "the upstream connection outlived the client");

    /*
     * /delay/60000: lg-origin only notices the close when its timer fires, so look at lifeguard:
     * the worker's descriptors for the client and the backend are both gone while the origin
     * still holds the request, i.e. before the backend answered. The delay is long so that a
     * loaded machine cannot let the answer come first (3 s did, under a parallel suite).
     */
    c = lg_client_connect(f.port);
    cr_assert_eq(lg_client_sendf(c, "GET /delay/60000 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    /*
     * Wait for the request itself, not the connection: an origin that accepted before lifeguard
     * wrote the request sees a bare FIN when the client goes first, and closes (CI saw it).
     */
    LG_WAIT_FOR(ok, lg_origin_stats(f.origin->port, &st) == 0 && st.delayed == 1,
                lg_test_timeout_ms());
    cr_assert(ok, "the request did not reach the origin");
    LG_WAIT_FOR(ok, (fds = lg_pid_fd_count(worker)) == base_fds + 2, lg_test_timeout_ms());
    cr_assert(ok, "worker has %d fds, expected %d", fds, base_fds + 2);
    lg_client_close(c);
    LG_WAIT_FOR(ok, (fds = lg_pid_fd_count(worker)) == base_fds, lg_test_timeout_ms());
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert(ok, "worker still has %d fds (%d before)", fds, base_fds);
    cr_assert_eq(st.delayed, 1, "the backend answered before the client left");
    cr_assert_eq(st.active, 1, "the backend connection was closed only after the response");

    /* lifeguard is fine (the origin serves others while its timer runs) */
    lgt_assert_status(lg_http_get(f.port, "/size/3", NULL), 200);
    lg_fix_finish(&f, NULL);
}

Test(abort, client_close_mid_download, .timeout = 60)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    pid_t worker = lgt_worker(f.lg);
    int round;

    for (round = 0; round < 4; round++) {
        lg_client_t *c = lg_client_connect(f.port);
        struct pollfd pf = {.fd = lg_client_fd(c), .events = POLLIN};
        size_t got = 0;
        char buf[65536];
        lg_http_response_t *r;

        cr_assert_eq(lg_client_sendf(c, "GET /size/100m%s HTTP/1.1\r\nHost: x\r\n\r\n",
                                     round % 2 ? "?chunked=1" : ""),
                     0);
        while (got < 2 * MIB) {
            ssize_t n;

            cr_assert_eq(poll(&pf, 1, 5000), 1);
            n = read(lg_client_fd(c), buf, sizeof(buf));
            cr_assert_gt(n, 0);
            got += (size_t)n;
        }
        if (round < 2)
            lg_client_close(c);
        else
            lg_client_reset(c);

        /* the upstream connection is dropped, lifeguard serves the next request */
        cr_assert_eq(lgt_wait_origin_active(f.origin->port, 0, 3000), 0);
        r = lg_http_get(f.port, "/size/1000", NULL);
        lgt_assert_status(r, 200);
        cr_assert_eq(r->body_sum, lg_pattern_checksum(1000));
    }
    cr_assert_eq(lgt_worker(f.lg), worker, "the worker was replaced");
    lg_fix_finish(&f, NULL);
}

Test(abort, client_close_mid_upload, .timeout = 60)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    pid_t worker = lgt_worker(f.lg);
    lg_client_t *c;
    lg_http_response_t *r;

    /* Content-Length */
    c = lg_client_connect(f.port);
    cr_assert_eq(lg_client_sendf(
                     c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n", 10 * MIB),
                 0);
    cr_assert_eq(lg_client_send_pattern(c, 0, 3 * MIB), 0);
    lg_client_close(c);
    cr_assert_eq(lgt_wait_origin_active(f.origin->port, 0, 3000), 0);

    /* chunked */
    c = lg_client_connect(f.port);
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n4000\r\n"),
                 0);
    cr_assert_eq(lg_client_send_pattern(c, 0, 100), 0);
    lg_client_reset(c);
    cr_assert_eq(lgt_wait_origin_active(f.origin->port, 0, 3000), 0);

    r = lg_http_request(f.port, "POST", "/echo", NULL, "abc", 3);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "3");
    cr_assert_eq(lgt_worker(f.lg), worker, "the worker was replaced");
    lg_fix_finish(&f, NULL);
}
