/*
 * test_proxy.c - the worker data path through the real binary: a request reaches the origin with
 * its head rebuilt as a proxy must (Host, X-Forwarded-*, hop-by-hop headers, framing, origin
 * form), keep-alive on both sides, HTTP/1.0 clients, pipelining, routing and round robin.
 *
 * Bodies are in test_bodies.c, error answers and client aborts in test_errors.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg_test.h"
#include "proxy_common.h"

/* ---- basic proxying */

Test(proxy, get_reaches_the_origin_intact)
{
    lg_fix_t f = lg_fix_start("--name alpha", NULL);
    lg_http_response_t *r;
    lg_origin_stats_t st;
    char expect[1000];

    r = lg_http_get(f.port, "/", NULL);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "alpha\n");
    cr_assert_str_eq(lg_http_header(r, "X-Origin"), "alpha");
    cr_assert_str_eq(lg_http_header(r, "Content-Type"), "text/plain");
    cr_assert_eq(r->content_length, 6);

    r = lg_http_get(f.port, "/size/1000", NULL);
    lgt_assert_status(r, 200);
    lg_pattern_fill(expect, 0, sizeof(expect));
    cr_assert_eq(r->body_len, sizeof(expect));
    cr_assert(memcmp(r->body, expect, sizeof(expect)) == 0);
    cr_assert_eq(r->body_sum, lg_pattern_checksum(sizeof(expect)));

    /* the origin's own statuses pass through with their bodies */
    r = lg_http_get(f.port, "/status/404", NULL);
    lgt_assert_status(r, 404);
    cr_assert_str_eq(r->body, "alpha\n");
    r = lg_http_get(f.port, "/status/503", NULL);
    lgt_assert_status(r, 503);
    cr_assert_str_eq(r->body, "alpha\n");

    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 4);
    lg_fix_finish(&f, NULL);
}

/* The client's headers of the rows below. */
#define FWD_CLIENT_XFF                                                                             \
    "Host: Example.Test:8080\r\nX-Forwarded-For: 10.0.0.1\r\nX-Other: 1\r\n"                       \
    "x-forwarded-for: 10.0.0.2, 10.0.0.3"
#define FWD_SPOOFED "Host: real.test\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test"
#define FWD_HOP_BY_HOP                                                                             \
    "Connection: keep-alive, X-Hop,  x-second\r\nX-Hop: secret\r\nX-Second: also\r\n"              \
    "Keep-Alive: timeout=5, max=100\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"           \
    "Upgrade: websocket\r\nX-Keep: yes"

/*
 * A GET /echo with the client's `headers` (NULL: none): the origin receives header `name` with
 * `value` (every value joined with ", ", in order; "%d" is the listener's port), or not at all
 * when value is NULL.
 */
typedef struct fwd_case {
    const char *headers, *name, *value;
} fwd_case_t;

static const fwd_case_t fwd_cases[] = {
    /* no X-Forwarded-For from the client: just its address */
    {NULL, "Host", "127.0.0.1:%d"},
    {NULL, "X-Forwarded-For", "127.0.0.1"},
    {NULL, "X-Forwarded-Proto", "http"},
    {NULL, "X-Forwarded-Host", "127.0.0.1:%d"},
    /* the client's X-Forwarded-For values come first, in order, then the client */
    {FWD_CLIENT_XFF, "Host", "Example.Test:8080"},
    {FWD_CLIENT_XFF, "X-Forwarded-For", "10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1"},
    {FWD_CLIENT_XFF, "X-Forwarded-Host", "Example.Test:8080"},
    {FWD_CLIENT_XFF, "X-Other", "1"},
    /* X-Forwarded-Proto and -Host are set by lifeguard: a client cannot smuggle its own */
    {FWD_SPOOFED, "X-Forwarded-Proto", "http"},
    {FWD_SPOOFED, "X-Forwarded-Host", "real.test"},
    /* hop-by-hop headers, and those Connection names, are not forwarded; the others are */
    {FWD_HOP_BY_HOP, "X-Hop", NULL},
    {FWD_HOP_BY_HOP, "X-Second", NULL},
    {FWD_HOP_BY_HOP, "Keep-Alive", NULL},
    {FWD_HOP_BY_HOP, "Proxy-Connection", NULL},
    {FWD_HOP_BY_HOP, "TE", NULL},
    {FWD_HOP_BY_HOP, "Upgrade", NULL},
    {FWD_HOP_BY_HOP, "X-Keep", "yes"},
};

Test(proxy, forwarded_and_hop_by_hop_headers)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    for (size_t i = 0; i < sizeof(fwd_cases) / sizeof(fwd_cases[0]); i++) {
        const fwd_case_t *k = &fwd_cases[i];
        const char *want = k->value != NULL ? lg_fmt(k->value, f.port) : NULL;
        char *got;

        r = lg_client_request(c, "GET", "/echo", k->headers, NULL, 0);
        lgt_assert_status(r, 200);
        got = lgt_echo_header_join(r->body, k->name);
        if (want == NULL)
            cr_assert_null(got, "case %zu: %s: %s reached the origin:\n%s", i, k->name, got,
                           r->body);
        else
            cr_assert(got != NULL && strcmp(got, want) == 0, "case %zu: %s: %s, not %s:\n%s", i,
                      k->name, got ? got : "(none)", want, r->body);
    }
    /* the request line as the origin saw it */
    r = lg_client_request(c, "GET", "/echo?x=1&y=%20", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "method"), "GET");
    cr_assert_str_eq(lg_echo_field(r->body, "target"), "/echo?x=1&y=%20");
    cr_assert_str_eq(lg_echo_field(r->body, "version"), "HTTP/1.1");
    lg_fix_finish(&f, NULL);
}

/* Connection's own tokens go with it; the client's keep-alive is honoured, the next is clean. */
Test(proxy, hop_by_hop_headers_removed)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    const char *conn;

    r = lg_client_request(c, "GET", "/echo", FWD_HOP_BY_HOP, NULL, 0);
    lgt_assert_status(r, 200);
    conn = lg_echo_header(r->body, "Connection");
    cr_assert(conn == NULL || strcasestr(conn, "x-hop") == NULL, "%s", r->body);
    /* the client's keep-alive was honoured */
    cr_assert_not(r->closed);
    cr_assert_null(lg_http_header(r, "Keep-Alive"));

    /* the connection goes on, and the next request carries none of it */
    r = lg_client_request(c, "GET", "/echo", "X-Hop: again", NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_header(r->body, "X-Hop"), "again", "%s", r->body);
    cr_assert_null(lg_echo_header(r->body, "X-Second"));
    lg_fix_finish(&f, NULL);
}

/* A real upgrade request (Connection: upgrade) is proxied as a plain request: no Upgrade sent. */
/*
 * An upgrade request reaches the backend with Upgrade and Connection: upgrade (WebSocket needs
 * them); a backend that answers 200 instead of 101 keeps the connection plain HTTP.
 */
Test(proxy, upgrade_ignored_by_the_backend_stays_http)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    r = lg_client_request(c, "GET", "/echo", "Connection: Upgrade\r\nUpgrade: websocket", NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_header(r->body, "Upgrade"), "websocket", "%s", r->body);
    cr_assert_str_eq(lg_echo_header(r->body, "Connection"), "upgrade", "%s", r->body);
    r = lg_client_request(c, "GET", "/size/3", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abc");
    lg_fix_finish(&f, NULL);
}

Test(proxy, content_length_body_keeps_one_length)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    const char *body = "hello, world";

    r = lg_client_request(c, "POST", "/echo", NULL, body, strlen(body));
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "method"), "POST");
    cr_assert_eq(lg_echo_header_count(r->body, "Content-Length"), 1, "%s", r->body);
    cr_assert_str_eq(lg_echo_header(r->body, "Content-Length"), "12");
    cr_assert_eq(lg_echo_header_count(r->body, "Transfer-Encoding"), 0, "%s", r->body);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "12");
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"),
                     lgt_hex(lg_checksum(LG_CHECKSUM_INIT, body, strlen(body))));

    /* an empty body: still one framing header at most */
    r = lg_client_request(c, "PUT", "/echo", NULL, "", 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "method"), "PUT");
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "0");
    cr_assert_leq(lg_echo_header_count(r->body, "Content-Length"), 1, "%s", r->body);
    cr_assert_eq(lg_echo_header_count(r->body, "Transfer-Encoding"), 0, "%s", r->body);

    /* a GET without a body gets no chunked framing */
    r = lg_client_request(c, "GET", "/echo", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_eq(lg_echo_header_count(r->body, "Transfer-Encoding"), 0, "%s", r->body);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "0");
    lg_fix_finish(&f, NULL);
}

Test(proxy, chunked_body_stays_chunked)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"
                                    "5;ext=1\r\nhello\r\n"
                                    "1\r\n,\r\n"
                                    "6\r\n world\r\n"
                                    "0\r\nX-Sum: 12\r\n\r\n"),
                 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_eq(lg_echo_header_count(r->body, "Transfer-Encoding"), 1, "%s", r->body);
    cr_assert_str_eq(lg_echo_header(r->body, "Transfer-Encoding"), "chunked");
    cr_assert_eq(lg_echo_header_count(r->body, "Content-Length"), 0, "%s", r->body);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "12");
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"),
                     lgt_hex(lg_checksum(LG_CHECKSUM_INIT, "hello, world", 12)));
    cr_assert_str_eq(lg_echo_field(r->body, "trailer"), "X-Sum: 12", "%s", r->body);

    /* the connection is in sync afterwards */
    r = lg_client_request(c, "GET", "/size/4", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcd");
    lg_fix_finish(&f, NULL);
}

Test(proxy, absolute_form_rewritten_to_origin_form)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_sendf(c, "GET http://abs.test:81/echo?a=b HTTP/1.1\r\n"
                                    "Host: other.test\r\n\r\n"),
                 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "target"), "/echo?a=b");
    /* RFC 9112 3.2.2: the authority of the target replaces Host */
    cr_assert_eq(lg_echo_header_count(r->body, "Host"), 1, "%s", r->body);
    cr_assert_str_eq(lg_echo_header(r->body, "Host"), "abs.test:81", "%s", r->body);

    /* no path at all: "/" */
    cr_assert_eq(lg_client_sendf(c, "GET http://abs.test HTTP/1.1\r\nHost: abs.test\r\n\r\n"), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "origin\n");

    cr_assert_eq(lg_client_sendf(c, "GET http://abs.test?q=1 HTTP/1.1\r\nHost: abs.test\r\n\r\n"),
                 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "origin\n");
    lg_fix_finish(&f, NULL);
}

Test(proxy, http10_request_is_sent_as_http11_with_host)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_sendf(c, "GET /echo HTTP/1.0\r\n\r\n"), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "version"), "HTTP/1.1");
    cr_assert_eq(lg_echo_header_count(r->body, "Host"), 1, "%s", r->body);
    cr_assert_str_eq(lg_echo_header(r->body, "Host"), lg_fmt("127.0.0.1:%d", f.origin->port));
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* ---- keep-alive */

Test(keepalive, thousand_requests_use_at_most_two_upstream_connections, .timeout = 60)
{
    lg_fix_t f = lg_fix_start("--name ka", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_origin_stats_t st;
    int i;

    cr_assert_not_null(c);
    for (i = 0; i < 1000; i++) {
        lg_http_response_t *r =
            lg_client_request(c, "GET", i % 2 ? "/" : "/size/100", NULL, NULL, 0);

        lgt_assert_status(r, 200);
        cr_assert_not(r->closed, "closed after request %d", i);
        cr_assert_eq(r->body_len, i % 2 ? 3u : 100u, "request %d", i);
        lg_http_response_free(r);
    }
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 1000);
    cr_assert_leq(st.connections, 2, "%ld upstream connections for 1000 requests", st.connections);
    lg_fix_finish(&f, NULL);
}

Test(keepalive, http10_closes_by_default)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    const char *conn;

    cr_assert_eq(lg_client_sendf(c, "GET /size/10 HTTP/1.0\r\nHost: x\r\n\r\n"), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcdefghij");
    conn = lg_http_header(r, "Connection");
    cr_assert(conn == NULL || strcasecmp(conn, "close") == 0, "Connection: %s", conn);
    cr_assert_null(lg_http_header(r, "Transfer-Encoding"));
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()), "HTTP/1.0 connection left open");
    lg_fix_finish(&f, NULL);
}

Test(keepalive, http10_keep_alive_when_asked)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    int i;

    for (i = 0; i < 3; i++) {
        cr_assert_eq(lg_client_sendf(c,
                                     "GET /size/%d HTTP/1.0\r\nHost: x\r\n"
                                     "Connection: keep-alive\r\n\r\n",
                                     5 + i),
                     0);
        r = lg_client_read(c, 0);
        lgt_assert_status(r, 200);
        cr_assert_eq(r->body_len, (size_t)(5 + i));
        cr_assert_eq(r->content_length, 5 + i);
        cr_assert_str_eq(lg_http_header(r, "Connection"), "keep-alive");
        cr_assert_not(r->closed);
    }
    /* an HTTP/1.0 request without keep-alive ends it */
    cr_assert_eq(lg_client_sendf(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n"), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "origin\n");
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

Test(keepalive, connection_close_from_the_client)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    r = lg_client_request(c, "GET", "/size/7", "Connection: close", NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_http_header(r, "Connection"), "close");
    cr_assert_eq(r->body_len, 7);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* The backend closing its side (Connection: close) does not close the client's connection. */
Test(keepalive, backend_close_does_not_close_the_client)
{
    lg_fix_t f = lg_fix_start("--close-after 2", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_origin_stats_t st;
    int i;

    for (i = 0; i < 10; i++) {
        lg_http_response_t *r = lg_client_request(c, "GET", "/size/20", NULL, NULL, 0);

        lgt_assert_status(r, 200);
        cr_assert_eq(r->body_len, 20);
        cr_assert_not(r->closed);
        cr_assert_null(lg_http_header(r, "Connection"), "Connection: %s",
                       lg_http_header(r, "Connection"));
    }
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 10);
    cr_assert_eq(st.connections, 5);
    lg_fix_finish(&f, NULL);
}

static const lgt_case_t pipelined_cases[] = {
    {.req = "GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=1"},
    {.req = "POST /echo?n=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=2",
     .echo_key2 = "body-length",
     .echo_value2 = "5"},
    {.req = "GET /echo?n=3 HTTP/1.1\r\nHost: x\r\n\r\n",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=3",
     .echo_key2 = "method",
     .echo_value2 = "GET"},
    {.req = "PUT /echo?n=4 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=4",
     .echo_key2 = "body-length",
     .echo_value2 = "5"},
    /* HEAD: the length GET would have, no body */
    {.req = "HEAD /size/100?n=5 HTTP/1.1\r\nHost: x\r\n\r\n",
     .status = 200,
     .body = "",
     .header = "Content-Length",
     .value = "100"},
    {.req = "GET /size/6?chunked=1&n=6 HTTP/1.1\r\nHost: x\r\n\r\n",
     .status = 200,
     .body = "abcdef"},
    {.req = "GET /status/404?n=7 HTTP/1.1\r\nHost: x\r\n\r\n", .status = 404, .body = "p\n"},
    /* body-fnv1a64: lg_checksum() of "xyz" (checked by the test) */
    {.req = "POST /echo?n=8 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=8",
     .echo_key2 = "body-fnv1a64",
     .echo_value2 = "bff4aa198026f420"},
    {.req = "GET /echo?n=9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=9",
     .header = "Connection",
     .value = "close"},
};

Test(keepalive, pipelined_requests_answered_in_order)
{
    lg_fix_t f = lg_fix_start("--name p", NULL);
    lg_client_t *c = lg_client_connect(f.port);

    cr_assert_str_eq(pipelined_cases[7].echo_value2,
                     lgt_hex(lg_checksum(LG_CHECKSUM_INIT, "xyz", 3)));
    lgt_run_pipelined(c, pipelined_cases, sizeof(pipelined_cases) / sizeof(pipelined_cases[0]), 0);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* Pipelined requests followed by the client's FIN (half-close): every one is still answered. */
static const lgt_case_t half_close_cases[] = {
    {.req = "GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=1"},
    {.req = "POST /echo?n=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=2"},
    {.req = "GET /delay/100?n=3 HTTP/1.1\r\nHost: x\r\n\r\n", .status = 200, .body = "origin\n"},
    {.req = "GET /echo?n=4 HTTP/1.1\r\nHost: x\r\n\r\n",
     .status = 200,
     .echo_key = "target",
     .echo_value = "/echo?n=4"},
};

Test(keepalive, pipelined_then_half_close)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);

    lgt_run_pipelined(c, half_close_cases, sizeof(half_close_cases) / sizeof(half_close_cases[0]),
                      1);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* 1000 pipelined requests in one write (more than a buffer holds): all answered, in order. */
Test(keepalive, deep_pipelining, .timeout = 30)
{
    enum { N = 1000 };
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    char *all = lg_fmt("%s", "");
    lg_origin_stats_t st;
    int i;

    for (i = 0; i < N; i++)
        all = lg_fmt("%sGET /size/%d HTTP/1.1\r\nHost: x\r\n\r\n", all, i % 50);
    cr_assert_eq(lg_client_send(c, all, strlen(all)), 0);
    for (i = 0; i < N; i++) {
        lg_http_response_t *r = lg_client_read(c, 0);

        lgt_assert_status(r, 200);
        cr_assert_eq(r->body_len, (size_t)(i % 50), "response %d has %zu bytes", i, r->body_len);
        cr_assert_eq(r->body_sum, lg_pattern_checksum((uint64_t)(i % 50)));
        lg_http_response_free(r);
    }
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, N);
    lg_fix_finish(&f, NULL);
}

/* keepalive.max_idle: 0 turns keep-alive to the backend off: one connection per request. */
Test(keepalive, max_idle_zero_disables_upstream_keepalive)
{
    lg_fix_t f = lg_fix_start(NULL, "pools.app.keepalive.max_idle", "0", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_origin_stats_t st;
    int i;

    for (i = 0; i < 5; i++) {
        lg_http_response_t *r = lg_client_request(c, "GET", "/echo", NULL, NULL, 0);

        lgt_assert_status(r, 200);
        cr_assert_not(r->closed);
        cr_assert_str_eq(lg_echo_header(r->body, "Connection"), "close", "%s", r->body);
    }
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 5);
    cr_assert_eq(st.connections, 5);
    cr_assert_eq(lgt_wait_origin_active(f.origin->port, 0, 2000), 0);
    lg_fix_finish(&f, NULL);
}

/* An idle pooled upstream connection is closed after timeouts.upstream_idle. */
Test(keepalive, idle_upstream_closed_after_upstream_idle)
{
    lg_fix_t f = lg_fix_start(NULL, "timeouts.upstream_idle", "1s", NULL);
    lg_http_response_t *r;
    lg_origin_stats_t st;
    uint64_t t0 = lg_now_ms(); /* before the connection went idle: a lower bound below */

    r = lg_http_get(f.port, "/", NULL);
    lgt_assert_status(r, 200);
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.active, 1, "the upstream connection was not kept");
    cr_assert_eq(lgt_wait_origin_active(f.origin->port, 0, lg_test_timeout_ms()), 0);
    cr_assert_geq(lg_now_ms() - t0, 700);
    lg_fix_finish(&f, NULL);
}

/* An idle keep-alive client connection is closed after timeouts.client_idle. */
Test(keepalive, idle_client_closed_after_client_idle)
{
    lg_fix_t f = lg_fix_start(NULL, "timeouts.client_idle", "1s", NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;
    uint64_t t0 = lg_now_ms(); /* before the connection went idle: a lower bound below */

    r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()), "idle connection still open");
    cr_assert_geq(lg_now_ms() - t0, 700);
    lg_fix_finish(&f, NULL);
}

/* The backend restarts between two requests: the dead pooled connection is not used. */
Test(keepalive, backend_restart_between_requests)
{
    lg_proc_t *o = lg_origin_start("--name first");
    int oport = o->port;
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(oport));
    lg_client_t *c = lg_client_connect(lg_proc_port(lg, "web"));
    lg_http_response_t *r;

    r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "first\n");
    cr_assert_eq(lg_proc_stop(o), 0);
    o = lg_origin_startf("--name second --listen 127.0.0.1:%d", oport);
    r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "second\n");
    r = lg_client_request(c, "PUT", "/echo", NULL, "abc", 3);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "3");
    lg_lifeguard_finish(lg, NULL);
}

/* A head close to the default 16k limit is rebuilt whole (room for X-Forwarded-*). */
Test(proxy, large_head_under_the_default_limit)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    char big[15000];
    char *many = lg_fmt("%s", "");
    lg_http_response_t *r;
    int i;

    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    r = lg_client_request(c, "GET", "/echo", lg_fmt("X-Forwarded-For: 10.1.1.1\r\nX-Big: %s", big),
                          NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_header(r->body, "X-Big"), big);
    cr_assert_str_eq(lgt_echo_header_join(r->body, "X-Forwarded-For"), "10.1.1.1, 127.0.0.1");

    /* 200 headers: lg-origin takes at most 256 */
    for (i = 0; i < 200; i++)
        many = lg_fmt("%sX-H%d: %d\r\n", many, i, i);
    r = lg_client_request(c, "GET", "/echo", many, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_header(r->body, "X-H0"), "0");
    cr_assert_str_eq(lg_echo_header(r->body, "X-H199"), "199", "%s", r->body);
    lg_fix_finish(&f, NULL);
}

/* ---- routing */

/* One pool per origin: a, b, c, d; routes by host and path prefix, first match wins. */
static lg_proc_t *start_routed(lg_proc_t *const origins[4])
{
    static const char *const routes[] = {
        "{host: api.example.com, path_prefix: /v1/, pool: a}",
        "{host: api.example.com, pool: b}",
        "{host: \"*.wild.test\", pool: c}",
        "{path_prefix: /static/, pool: d}",
    };
    lg_yaml_t *conf = lg_yaml_new();
    int i;

    lg_yaml_set(conf, "listeners.web.listen", "127.0.0.1:0");
    for (i = 0; i < 4; i++) {
        lg_yaml_add(conf, "listeners.web.routes", "%s", routes[i]);
        lg_yaml_set(conf, lg_fmt("pools.%c.health_check.type", 'a' + i), "none");
        lg_yaml_add(conf, lg_fmt("pools.%c.backends", 'a' + i), "127.0.0.1:%d", origins[i]->port);
    }
    return lg_yaml_start(conf);
}

/* Which origin answered `path` with Host `host` on connection c (its body is "NAME\n"). */
static const char *routed_to(lg_client_t *c, const char *host, const char *path)
{
    lg_http_response_t *r = lg_client_request(c, "GET", path, lg_fmt("Host: %s", host), NULL, 0);

    cr_assert_eq(r->error, LG_HTTP_OK, "Host %s path %s: %s", host, path,
                 lg_http_error_name(r->error));
    cr_assert_not(r->closed, "Host %s path %s: connection closed", host, path);
    if (r->status == 404 && lg_http_header(r, "X-Origin") == NULL)
        return "404";
    cr_assert_eq(r->status, 200, "Host %s path %s: status %d", host, path, r->status);
    return r->body;
}

/* Where a request with Host `host` and path `path` goes: origin "a\n".."d\n", or "404". */
typedef struct route_case {
    const char *host, *path, *to;
} route_case_t;

static const route_case_t route_cases[] = {
    /* exact host, with and without the path prefix */
    {"api.example.com", "/v1/users", "a\n"},
    {"api.example.com", "/v2/users", "b\n"},
    {"api.example.com", "/v1", "b\n"},
    {"api.example.com", "/", "b\n"},
    /* case-insensitive, port and trailing dot ignored */
    {"API.Example.COM", "/v1/x", "a\n"},
    {"api.example.com:8080", "/v1/x", "a\n"},
    {"Api.Example.Com:443", "/other", "b\n"},
    {"api.example.com.", "/v1/x", "a\n"},
    /* prefix matching is case-sensitive on the path */
    {"api.example.com", "/V1/x", "b\n"},
    /* *.suffix: one or more labels, not the bare suffix */
    {"x.wild.test", "/", "c\n"},
    {"a.b.WILD.test:81", "/", "c\n"},
    {"wild.test", "/", "404"},
    {"notwild.test", "/", "404"},
    {"wild.test", "/static/app.js", "d\n"},
    /* path-only route; first match wins over it */
    {"other.test", "/static/x", "d\n"},
    {"api.example.com", "/static/x", "b\n"},
    {"x.wild.test", "/static/x", "c\n"},
    {"other.test", "/stat", "404"},
    {"other.test", "/", "404"},
};

Test(routing, host_and_path_prefix_first_match_wins)
{
    lg_proc_t *const origins[4] = {lg_origin_start("--name a"), lg_origin_start("--name b"),
                                   lg_origin_start("--name c"), lg_origin_start("--name d")};
    lg_proc_t *lg = start_routed(origins);
    lg_client_t *c = lg_client_connect(lg_proc_port(lg, "web"));
    lg_http_response_t *r;
    size_t i;

    for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        const route_case_t *k = &route_cases[i];

        cr_assert_str_eq(routed_to(c, k->host, k->path), k->to, "Host %s path %s", k->host,
                         k->path);
    }

    /* absolute form: the authority is the host that routes */
    cr_assert_eq(lg_client_sendf(c, "GET http://api.example.com/v1/z HTTP/1.1\r\n"
                                    "Host: other.test\r\n\r\n"),
                 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "a\n");
    lg_lifeguard_finish(lg, NULL);
}

Test(routing, no_route_is_404_and_the_connection_stays_usable)
{
    lg_proc_t *o = lg_origin_start("--name only");
    lg_fix_t f = lg_fix_start_conf(o, lgt_conf_known_host(o->port));
    lg_client_t *c = lg_client_connect(f.port);
    lg_origin_stats_t st;
    lg_http_response_t *r;

    r = lg_client_request(c, "GET", "/", "Host: unknown.test", NULL, 0);
    lgt_assert_status(r, 404);
    cr_assert_null(lg_http_header(r, "X-Origin"));
    cr_assert_not(r->closed);
    /*
     * A 404 for a request with a body, sent in one write: the body is skipped, the connection
     * stays in sync. (A body sent after the head:
     * errors::early_error_lingers_while_the_body_arrives.)
     */
    cr_assert_eq(lg_client_sendf(c, "POST / HTTP/1.1\r\nHost: unknown.test\r\n"
                                    "Content-Length: 10\r\n\r\n0123456789"),
                 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 404);
    cr_assert_not(r->closed);
    r = lg_client_request(c, "HEAD", "/", "Host: unknown.test", NULL, 0);
    lgt_assert_status(r, 404);
    cr_assert_eq(r->body_len, 0);
    r = lg_client_request(c, "GET", "/", "Host: known.test", NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "only\n");
    cr_assert_eq(lg_origin_stats(o->port, &st), 0);
    cr_assert_eq(st.requests, 1);
    lg_fix_finish(&f, NULL);
}

/* A large body sent to no route: the client still reads its 404 (no reset destroys it). */
Test(routing, no_route_with_a_large_body)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_fix_t f = lg_fix_start_conf(o, lgt_conf_known_host(o->port));
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    /* the head with the start of the body in one write (see errors::early_error_* for less) */
    {
        char *head = lg_fmt("POST / HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: %llu\r\n\r\n",
                            4 * MIB);
        size_t hl = strlen(head), first = 65536;
        char *buf = malloc(hl + first);

        cr_assert_not_null(buf);
        memcpy(buf, head, hl);
        lg_pattern_fill(buf + hl, 0, first);
        cr_assert_eq(lg_client_send(c, buf, hl + first), 0);
        free(buf);
        cr_assert_eq(lg_client_send_pattern(c, first, 4 * MIB - first), 0);
    }
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 404);
    if (!r->closed && lg_http_header(r, "Connection") != NULL &&
        strcasecmp(lg_http_header(r, "Connection"), "keep-alive") == 0) {
        r = lg_client_request(c, "GET", "/", "Host: known.test", NULL, 0);
        lgt_assert_status(r, 200);
    } else {
        cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    }
    lg_fix_finish(&f, NULL);
}

Test(routing, round_robin_alternates)
{
    lg_proc_t *a = lg_origin_start("--name one");
    lg_proc_t *b = lg_origin_start("--name two");
    lg_yaml_t *conf = lg_yaml_single(a->port);
    lg_proc_t *lg;
    int port;
    lg_client_t *c;
    lg_origin_stats_t sa, sb;
    char *prev = NULL;
    int i, ones = 0;

    lg_yaml_set(conf, "pools.app.balance", "round_robin");
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", b->port);
    lg = lg_yaml_start(conf);
    port = lg_proc_port(lg, "web");
    c = lg_client_connect(port);
    /* on one keep-alive client connection */
    for (i = 0; i < 20; i++) {
        lg_http_response_t *r = lg_client_request(c, "GET", "/", NULL, NULL, 0);

        lgt_assert_status(r, 200);
        cr_assert(strcmp(r->body, "one\n") == 0 || strcmp(r->body, "two\n") == 0, "%s", r->body);
        if (prev != NULL)
            cr_assert_str_neq(r->body, prev, "request %d went to the same backend", i);
        prev = lg_fmt("%s", r->body);
        ones += strcmp(r->body, "one\n") == 0;
    }
    cr_assert_eq(ones, 10);
    /* and on fresh connections */
    for (i = 0; i < 10; i++) {
        lg_http_response_t *r = lg_http_get(port, "/", NULL);

        lgt_assert_status(r, 200);
        cr_assert_str_neq(r->body, prev, "request %d went to the same backend", i);
        prev = lg_fmt("%s", r->body);
    }
    cr_assert_eq(lg_origin_stats(a->port, &sa), 0);
    cr_assert_eq(lg_origin_stats(b->port, &sb), 0);
    cr_assert_eq(sa.requests, 15);
    cr_assert_eq(sb.requests, 15);
    lg_lifeguard_finish(lg, NULL);
}

Test(routing, two_workers_serve_everything)
{
    lg_fix_t f = lg_fix_start(NULL, "workers", "2", NULL);
    lg_client_t *ka[8];
    lg_origin_stats_t st;
    pid_t kids[4];
    int i, ok;

    LG_WAIT_FOR(ok, lg_pid_children(f.lg->pid, kids, 4) == 2, lg_test_timeout_ms());
    cr_assert(ok, "expected 2 workers");
    for (i = 0; i < 8; i++)
        ka[i] = lg_client_connect(f.port);
    for (i = 0; i < 200; i++) {
        lg_http_response_t *r =
            (i % 2) ? lg_http_get(f.port, "/size/50", NULL)
                    : lg_client_request(ka[i % 8], "GET", "/size/50", NULL, NULL, 0);

        lgt_assert_status(r, 200);
        cr_assert_eq(r->body_sum, lg_pattern_checksum(50));
        lg_http_response_free(r);
    }
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 200);
    cr_assert_eq(lg_pid_children(f.lg->pid, kids, 4), 2);
    lg_fix_finish(&f, NULL);
}
