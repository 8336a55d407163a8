/*
 * test_origin.c - lg-origin, the backend of every integration test, exercised directly through
 * the harness (tests/support/lg_test.h) before lifeguard is put in front of it.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lg_test.h"

#define MIB (1024ULL * 1024ULL)

static void assert_ok(const lg_http_response_t *r, int status)
{
    cr_assert_eq(r->error, LG_HTTP_OK, "error: %s; head: %s", lg_http_error_name(r->error),
                 r->head);
    cr_assert_eq(r->status, status, "status %d, expected %d; head: %s", r->status, status, r->head);
    cr_assert(r->complete);
}

/* ---- plain endpoints */

Test(origin, root_answers_its_name)
{
    lg_proc_t *a = lg_origin_start(NULL);
    lg_proc_t *b = lg_origin_start("--name backend-b");
    lg_http_response_t *r;

    r = lg_http_get(a->port, "/", NULL);
    assert_ok(r, 200);
    cr_assert_str_eq(r->body, "origin\n");
    cr_assert_str_eq(lg_http_header(r, "Content-Type"), "text/plain");
    cr_assert_eq(r->content_length, 7);
    cr_assert_str_eq(lg_http_header(r, "X-Origin"), "origin");

    r = lg_http_get(b->port, "/some/unknown/path?x=1", NULL);
    assert_ok(r, 200);
    cr_assert_str_eq(r->body, "backend-b\n");
    cr_assert_str_eq(lg_http_header(r, "X-Origin"), "backend-b");

    r = lg_http_get(b->port, "/healthz", NULL);
    assert_ok(r, 200);
    cr_assert_str_eq(r->body, "ok\n");

    cr_assert_eq(lg_proc_stop(a), 0);
    cr_assert_eq(lg_proc_stop(b), 0);
    cr_assert_eq(a->strays, 0);
}

Test(origin, status_codes)
{
    lg_proc_t *o = lg_origin_start("--name s");
    static const int codes[] = {200, 201, 301, 404, 418, 500, 502, 503, 599};
    lg_http_response_t *r;
    size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char path[32];

        snprintf(path, sizeof(path), "/status/%d", codes[i]);
        r = lg_http_get(o->port, path, NULL);
        assert_ok(r, codes[i]);
        cr_assert_str_eq(r->body, "s\n");
    }
    r = lg_http_get(o->port, "/status/204", NULL);
    assert_ok(r, 204);
    cr_assert_eq(r->body_len, 0);
    cr_assert_null(lg_http_header(r, "Content-Length"));
    cr_assert_null(lg_http_header(r, "Transfer-Encoding"));
    r = lg_http_get(o->port, "/status/304", NULL);
    assert_ok(r, 304);
    cr_assert_eq(r->body_len, 0);

    /* 1xx and nonsense are refused */
    r = lg_http_get(o->port, "/status/101", NULL);
    assert_ok(r, 400);
    r = lg_http_get(o->port, "/status/abc", NULL);
    assert_ok(r, 400);
    r = lg_http_get(o->port, "/size/12x", NULL);
    assert_ok(r, 400);
}

Test(origin, endpoints_after_any_prefix)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_http_response_t *r;

    r = lg_http_get(o->port, "/api/v1/status/404", NULL);
    assert_ok(r, 404);
    r = lg_http_get(o->port, "/api/size/10", NULL);
    assert_ok(r, 200);
    cr_assert_str_eq(r->body, "abcdefghij");
    r = lg_http_get(o->port, "/api/echo?q=1", NULL);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "target"), "/api/echo?q=1");
    /* absolute-form target */
    r = lg_http_get(o->port, "http://example.com/healthz", NULL);
    assert_ok(r, 200);
    cr_assert_str_eq(r->body, "ok\n");
}

/* ---- /size */

Test(origin, size_bodies_have_the_pattern)
{
    lg_proc_t *o = lg_origin_start(NULL);
    static const uint64_t sizes[] = {0, 1, 26, 4093, 4094, 65535, 65536, 65537, 1000000};
    lg_http_response_t *r;
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char path[64];
        char *expect = malloc(sizes[i] + 1);

        lg_pattern_fill(expect, 0, sizes[i]);
        snprintf(path, sizeof(path), "/size/%llu", (unsigned long long)sizes[i]);
        r = lg_http_get(o->port, path, NULL);
        assert_ok(r, 200);
        cr_assert_eq(r->content_length, (long long)sizes[i]);
        cr_assert_eq(r->body_len, sizes[i]);
        cr_assert(memcmp(r->body, expect, sizes[i]) == 0, "size %zu differs", (size_t)sizes[i]);
        cr_assert_eq(r->body_sum, lg_pattern_checksum(sizes[i]));
        lg_http_response_free(r);

        snprintf(path, sizeof(path), "/size/%llu?chunked=1", (unsigned long long)sizes[i]);
        r = lg_http_get(o->port, path, NULL);
        assert_ok(r, 200);
        cr_assert(r->chunked);
        cr_assert_null(lg_http_header(r, "Content-Length"));
        cr_assert_eq(r->body_len, sizes[i]);
        cr_assert(memcmp(r->body, expect, sizes[i]) == 0);
        lg_http_response_free(r);

        snprintf(path, sizeof(path), "/size/%llu?close=1", (unsigned long long)sizes[i]);
        r = lg_http_get(o->port, path, NULL);
        assert_ok(r, 200);
        cr_assert_null(lg_http_header(r, "Content-Length"));
        cr_assert_str_eq(lg_http_header(r, "Connection"), "close");
        cr_assert(r->closed);
        cr_assert_eq(r->body_len, sizes[i]);
        cr_assert(memcmp(r->body, expect, sizes[i]) == 0);
        lg_http_response_free(r);
        free(expect);
    }
}

/* /page is HTML whose script reports the protocol of its navigation (for browsers). */
Test(origin, page_is_html_with_the_protocol_script)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_http_response_t *r = lg_http_get(o->port, "/page", NULL);

    assert_ok(r, 200);
    cr_assert_str_eq(lg_http_header(r, "Content-Type"), "text/html");
    cr_assert_not_null(strstr(r->body, "<p id=\"protocol\">"), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "performance.getEntries()[0].nextHopProtocol"), "%s",
                       r->body);
    cr_assert_eq(lg_proc_stop(o), 0);
}

/* /size/N?offset=O: the pattern from byte O, plain and chunked; a bad offset is a 400. */
Test(origin, size_bodies_from_an_offset)
{
    lg_proc_t *o = lg_origin_start(NULL);
    static const uint64_t offsets[] = {0, 1, 4092, 4093, 123456789};
    static const char *const flags[] = {"", "&chunked=1"};
    char expect[10000];

    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        lg_pattern_fill(expect, offsets[i], sizeof(expect));
        for (size_t k = 0; k < 2; k++) {
            lg_http_response_t *r = lg_http_get(o->port,
                                                lg_fmt("/size/%zu?offset=%llu%s", sizeof(expect),
                                                       (unsigned long long)offsets[i], flags[k]),
                                                NULL);

            assert_ok(r, 200);
            cr_assert_eq(r->body_len, sizeof(expect));
            cr_assert(memcmp(r->body, expect, sizeof(expect)) == 0, "offset %llu%s differs",
                      (unsigned long long)offsets[i], flags[k]);
        }
    }
    assert_ok(lg_http_get(o->port, "/size/10?offset=x", NULL), 400);
    cr_assert_eq(lg_proc_stop(o), 0);
}

Test(origin, size_suffixes_and_large_bodies)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;

    cr_assert_not_null(c);
    cr_assert_eq(lg_client_sendf(c, "GET /size/64m HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    r = lg_client_read(c, LG_READ_DISCARD);
    assert_ok(r, 200);
    cr_assert_eq(r->content_length, (long long)(64 * MIB));
    cr_assert_eq(r->body_len, 64 * MIB);
    cr_assert_eq(r->body_sum, lg_pattern_checksum(64 * MIB));

    /* the same connection goes on: chunked this time */
    cr_assert_eq(lg_client_sendf(c, "GET /size/3m?chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    r = lg_client_read(c, LG_READ_DISCARD);
    assert_ok(r, 200);
    cr_assert(r->chunked);
    cr_assert_eq(r->body_len, 3 * MIB);
    cr_assert_eq(r->body_sum, lg_pattern_checksum(3 * MIB));
    cr_assert_not(r->closed);

    cr_assert_eq(lg_client_sendf(c, "GET /size/2k HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_eq(r->body_len, 2048);
}

Test(origin, huge_body_is_streamed_with_back_pressure)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    long before = lg_pid_rss_kib(o->pid), during;
    char buf[4096];
    ssize_t n;

    cr_assert_gt(before, 0);
    cr_assert_eq(lg_client_sendf(c, "GET /size/1g HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    n = read(lg_client_fd(c), buf, 1); /* wait for the first byte, then stop reading */
    (void)n;
    lg_sleep_ms(200);
    during = lg_pid_rss_kib(o->pid);
    /* the origin blocks on the full socket instead of buffering the gigabyte */
    cr_assert_lt(during - before, 8 * 1024, "rss grew from %ld to %ld KiB", before, during);
    lg_client_close(c);

    /* HEAD of a huge size: the length and no body */
    c = lg_client_connect(o->port);
    {
        lg_http_response_t *r = lg_client_request(c, "HEAD", "/size/5g", NULL, NULL, 0);

        assert_ok(r, 200);
        cr_assert_eq(r->content_length, 5LL * 1024 * 1024 * 1024);
        cr_assert_eq(r->body_len, 0);
        r = lg_client_request(c, "GET", "/", NULL, NULL, 0); /* still in sync */
        assert_ok(r, 200);
        cr_assert_str_eq(r->body, "origin\n");
    }
}

Test(origin, head_requests)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;

    r = lg_client_request(c, "HEAD", "/size/1234", NULL, NULL, 0);
    assert_ok(r, 200);
    cr_assert_eq(r->content_length, 1234);
    r = lg_client_request(c, "HEAD", "/size/1234?chunked=1", NULL, NULL, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_http_header(r, "Transfer-Encoding"), "chunked");
    r = lg_client_request(c, "HEAD", "/", NULL, NULL, 0);
    assert_ok(r, 200);
    cr_assert_eq(r->content_length, 7);
    r = lg_client_request(c, "GET", "/size/3", NULL, NULL, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(r->body, "abc");
}

/* ---- /echo */

Test(origin, echo_reports_the_request_exactly)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;
    const char *body = "hello, world";

    cr_assert_eq(lg_client_sendf(c,
                                 "POST /echo?a=1&b=%%20 HTTP/1.1\r\n"
                                 "Host: example.test\r\n"
                                 "X-Spaced:   value with  spaces  \r\n"
                                 "x-lower:v\r\n"
                                 "X-Dup: 1\r\n"
                                 "X-Dup: 2\r\n"
                                 "Content-Length: 12\r\n\r\n%s",
                                 body),
                 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "method"), "POST");
    cr_assert_str_eq(lg_echo_field(r->body, "target"), "/echo?a=1&b=%20");
    cr_assert_str_eq(lg_echo_field(r->body, "version"), "HTTP/1.1");
    cr_assert_not_null(strstr(lg_echo_field(r->body, "remote"), "127.0.0.1:"));
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "12");
    cr_assert_str_eq(
        lg_echo_field(r->body, "body-fnv1a64"),
        lg_fmt("%016llx", (unsigned long long)lg_checksum(LG_CHECKSUM_INIT, body, strlen(body))));
    /* header lines exactly as sent, in order */
    cr_assert_not_null(strstr(r->body, "header Host: example.test\n"
                                       "header X-Spaced:   value with  spaces  \n"
                                       "header x-lower:v\n"
                                       "header X-Dup: 1\n"
                                       "header X-Dup: 2\n"
                                       "header Content-Length: 12\n"),
                       "%s", r->body);
    cr_assert_str_eq(lg_echo_header(r->body, "x-spaced"), "value with  spaces");
    cr_assert_str_eq(lg_echo_header(r->body, "X-LOWER"), "v");
    cr_assert_eq(lg_echo_header_count(r->body, "x-dup"), 2);
    cr_assert_null(lg_echo_header(r->body, "X-Missing"));

    /* a GET without a body */
    r = lg_client_request(c, "GET", "/echo", "X-A: b", NULL, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "method"), "GET");
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "0");
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"), "cbf29ce484222325");
    cr_assert_str_eq(lg_echo_header(r->body, "x-a"), "b");
}

/* /echo's body-sha256 against known digests: empty, "abc" (FIPS 180-2), a chunked upload. */
Test(origin, echo_reports_the_body_sha256)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;

    r = lg_client_request(c, "GET", "/echo", NULL, NULL, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-sha256"),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    r = lg_client_request(c, "POST", "/echo", NULL, "abc", 3);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-sha256"),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(
        lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"),
        0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-sha256"),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(lg_proc_stop(o), 0);
}

Test(origin, echo_chunked_body_with_trailers)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_sendf(c, "PUT /echo HTTP/1.1\r\nHost: x\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"
                                    "5;ext=1\r\nhello\r\n"
                                    "1\r\n,\r\n"
                                    "6\r\n world\r\n"
                                    "0\r\nX-Trailer: yes\r\n\r\n"),
                 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "12");
    cr_assert_str_eq(
        lg_echo_field(r->body, "body-fnv1a64"),
        lg_fmt("%016llx", (unsigned long long)lg_checksum(LG_CHECKSUM_INIT, "hello, world", 12)));
    cr_assert_str_eq(lg_echo_field(r->body, "trailer"), "X-Trailer: yes");

    /* 3 MiB in 1000-byte chunks on the same connection */
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                 0);
    cr_assert_eq(lg_client_send_chunked_pattern(c, 3 * MIB, 1000), 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), lg_fmt("%llu", 3 * MIB));
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"),
                     lg_fmt("%016llx", (unsigned long long)lg_pattern_checksum(3 * MIB)));
}

Test(origin, echo_100_mib_upload_is_streamed)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;
    uint64_t len = 100 * MIB;

    cr_assert_eq(lg_client_sendf(c,
                                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n",
                                 (unsigned long long)len),
                 0);
    cr_assert_eq(lg_client_send_pattern(c, 0, len), 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"),
                     lg_fmt("%llu", (unsigned long long)len));
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"),
                     lg_fmt("%016llx", (unsigned long long)lg_pattern_checksum(len)));
    cr_assert_lt(lg_pid_rss_kib(o->pid), 32 * 1024, "the body was buffered");

    /* and chunked, in big chunks */
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                 0);
    cr_assert_eq(lg_client_send_chunked_pattern(c, len, 1000000), 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"),
                     lg_fmt("%016llx", (unsigned long long)lg_pattern_checksum(len)));
}

Test(origin, expect_100_continue)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                    "Expect: 100-continue\r\n\r\n"),
                 0);
    r = lg_client_read(c, LG_READ_INTERIM);
    assert_ok(r, 100);
    cr_assert_eq(lg_client_send(c, "data", 4), 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "4");

    /* by default the reader skips the interim response */
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                    "Expect: 100-continue\r\n\r\nok"),
                 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_eq(r->interim, 1);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "2");
}

/* ---- timing and connection behaviour */

Test(origin, delay_does_not_block_other_connections)
{
    lg_proc_t *o = lg_origin_start("--name d");
    lg_client_t *slow = lg_client_connect(o->port);
    struct pollfd pf = {.fd = lg_client_fd(slow), .events = POLLIN};
    lg_http_response_t *r;
    uint64_t t0 = lg_now_ms();

    cr_assert_eq(lg_client_sendf(slow, "GET /delay/1000 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    r = lg_http_get(o->port, "/", NULL);
    assert_ok(r, 200);
    /* answered while the delayed request still waits */
    cr_assert_eq(poll(&pf, 1, 0), 0);
    r = lg_client_read(slow, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(r->body, "d\n");
    cr_assert_geq(lg_now_ms() - t0, 1000);
}

Test(origin, keep_alive_and_stats)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_origin_stats_t st;
    int i;

    for (i = 0; i < 1000; i++) {
        lg_http_response_t *r = lg_client_request(c, "GET", "/", NULL, NULL, 0);

        assert_ok(r, 200);
        cr_assert_not(r->closed);
        lg_http_response_free(r);
    }
    cr_assert_eq(lg_origin_stats(o->port, &st), 0);
    cr_assert_eq(st.connections, 1);
    cr_assert_eq(st.requests, 1000);
    cr_assert_eq(st.active, 1);
    /* /stats requests and their connections are not counted */
    cr_assert_eq(lg_origin_stats(o->port, &st), 0);
    cr_assert_eq(st.connections, 1);
    cr_assert_eq(st.requests, 1000);
    lg_client_close(c);
    for (i = 0; i < 3; i++)
        assert_ok(lg_http_get(o->port, "/", NULL), 200);
    cr_assert_eq(lg_origin_stats(o->port, &st), 0);
    cr_assert_eq(st.connections, 4);
    cr_assert_eq(st.requests, 1003);
    cr_assert_eq(st.active, 0);
}

Test(origin, many_concurrent_connections)
{
    enum { N = 500 };
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c[N];
    lg_origin_stats_t st;
    int i;

    for (i = 0; i < N; i++) {
        c[i] = lg_client_connect(o->port);
        cr_assert_not_null(c[i]);
        cr_assert_eq(lg_client_sendf(c[i], "GET /size/100 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    }
    for (i = 0; i < N; i++) {
        lg_http_response_t *r = lg_client_read(c[i], 0);

        assert_ok(r, 200);
        cr_assert_eq(r->body_len, 100);
        lg_http_response_free(r);
    }
    cr_assert_eq(lg_origin_stats(o->port, &st), 0);
    cr_assert_eq(st.connections, N);
    cr_assert_eq(st.active, N);
    for (i = 0; i < N; i++)
        lg_client_close(c[i]);
}

Test(origin, pipelining_answers_in_order)
{
    lg_proc_t *o = lg_origin_start("--name p");
    static const char *const reqs[] = {
        "GET /size/5 HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /size/100 HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        "GET /status/404 HTTP/1.1\r\nHost: x\r\n\r\n",
        "\r\nGET /size/3?chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        "GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    lg_http_response_t *r[8];

    lg_http_pipeline(o->port, reqs, 8, r);
    assert_ok(r[0], 200);
    cr_assert_str_eq(r[0]->body, "abcde");
    assert_ok(r[1], 200);
    cr_assert_eq(r[1]->content_length, 100);
    assert_ok(r[2], 200);
    cr_assert_str_eq(lg_echo_field(r[2]->body, "body-length"), "3");
    assert_ok(r[3], 404);
    assert_ok(r[4], 200);
    cr_assert_str_eq(r[4]->body, "abc");
    assert_ok(r[5], 200);
    cr_assert_str_eq(lg_echo_field(r[5]->body, "body-length"), "2");
    assert_ok(r[6], 200);
    cr_assert_str_eq(r[6]->body, "p\n");
    assert_ok(r[7], 200);
    cr_assert_str_eq(lg_http_header(r[7], "Connection"), "close");
}

Test(origin, close_after_n_responses)
{
    lg_proc_t *o = lg_origin_start("--close-after 3");
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;
    int i;

    for (i = 1; i <= 3; i++) {
        r = lg_client_request(c, "GET", "/", NULL, NULL, 0);
        assert_ok(r, 200);
        if (i < 3)
            cr_assert_null(lg_http_header(r, "Connection"));
    }
    cr_assert_str_eq(lg_http_header(r, "Connection"), "close");
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
}

Test(origin, connection_close_and_http10)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c;
    lg_http_response_t *r;

    /* Connection: close from the client */
    r = lg_http_get(o->port, "/", NULL);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_http_header(r, "Connection"), "close");

    /* HTTP/1.0 closes by default */
    c = lg_client_connect(o->port);
    cr_assert_eq(lg_client_sendf(c, "GET / HTTP/1.0\r\n\r\n"), 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_http_header(r, "Connection"), "close");
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));

    /* HTTP/1.0 with keep-alive stays open */
    c = lg_client_connect(o->port);
    cr_assert_eq(lg_client_sendf(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_http_header(r, "Connection"), "keep-alive");
    cr_assert_eq(lg_client_sendf(c, "GET /size/4?chunked=1 HTTP/1.0\r\n"
                                    "Connection: keep-alive\r\n\r\n"),
                 0);
    /* no chunked encoding for HTTP/1.0: delimited by close */
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_not(r->chunked);
    cr_assert_str_eq(r->body, "abcd");
    cr_assert(r->closed);

    /* half-closed client still gets its answer */
    c = lg_client_connect(o->port);
    cr_assert_eq(lg_client_sendf(c, "GET /size/10 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    lg_client_shutdown(c);
    r = lg_client_read(c, 0);
    assert_ok(r, 200);
    cr_assert_eq(r->body_len, 10);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
}

Test(origin, close_reset_partial_hang)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c;
    lg_http_response_t *r;

    c = lg_client_connect(o->port);
    r = lg_client_request(c, "GET", "/close", NULL, NULL, 0);
    assert_ok(r, 200);
    cr_assert_str_eq(lg_http_header(r, "Connection"), "close");
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));

    c = lg_client_connect(o->port);
    r = lg_client_request(c, "GET", "/reset", NULL, NULL, 0);
    cr_assert_eq(r->error, LG_HTTP_RESET, "%s", lg_http_error_name(r->error));
    cr_assert_eq(r->status, 0);

    r = lg_http_get(o->port, "/partial", NULL);
    cr_assert_eq(r->error, LG_HTTP_EOF, "%s", lg_http_error_name(r->error));
    cr_assert_eq(r->status, 200);
    cr_assert_eq(r->content_length, 100000);
    cr_assert_eq(r->body_len, 1000);
    cr_assert_not(r->complete);
    cr_assert(r->closed);

    c = lg_client_connect(o->port);
    lg_client_set_timeout(c, 300);
    r = lg_client_request(c, "GET", "/hang", NULL, NULL, 0);
    cr_assert_eq(r->error, LG_HTTP_TIMEOUT, "%s", lg_http_error_name(r->error));
    lg_client_close(c);

    /* still serving */
    assert_ok(lg_http_get(o->port, "/healthz", NULL), 200);
}

Test(origin, malformed_and_bad_framing_modes)
{
    lg_proc_t *m = lg_origin_start("--malformed --quiet");
    lg_proc_t *b = lg_origin_start("--bad-framing");
    lg_http_response_t *r;

    r = lg_http_get(m->port, "/", NULL);
    cr_assert_eq(r->error, LG_HTTP_BAD);
    cr_assert_str_eq(r->head, "HTTP/1.1 abc\r\n\r\n");

    r = lg_http_get(b->port, "/", NULL);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(lg_http_header(r, "Content-Length"), "7");
    cr_assert_str_eq(lg_http_header(r, "Transfer-Encoding"), "chunked");
    cr_assert_str_eq(r->body, "origin\n"); /* chunked wins, as RFC 9112 says */
}

Test(origin, upgrade_tunnel_echoes)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;
    char buf[16] = "";
    size_t got = 0;

    r = lg_client_request(c, "GET", "/upgrade", "Connection: Upgrade\r\nUpgrade: test/1", NULL, 0);
    assert_ok(r, 101);
    cr_assert_str_eq(lg_http_header(r, "Upgrade"), "test/1");
    cr_assert_eq(lg_client_send(c, "ping", 4), 0);
    lg_client_shutdown(c);
    {
        size_t len;
        char *all = lg_client_read_until_close(c, &len);

        got = len;
        memcpy(buf, all, len < sizeof(buf) - 1 ? len : sizeof(buf) - 1);
    }
    cr_assert_eq(got, 4);
    cr_assert_str_eq(buf, "ping");
}

/* ---- strictness: a test origin must not accept what a real server would refuse */

Test(origin, rejects_bad_requests)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", 400}, /* no Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"GET / HTTP/1.1\nHost: x\n\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"GET / XTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n", 417},
        {"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lg_client_t *c = lg_client_connect(o->port);
        lg_http_response_t *r;

        cr_assert_eq(lg_client_send(c, cases[i].req, strlen(cases[i].req)), 0);
        r = lg_client_read(c, 0);
        cr_assert_eq(r->status, cases[i].status, "case %zu: status %d", i, r->status);
        cr_assert_str_eq(lg_http_header(r, "Connection"), "close", "case %zu", i);
        cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()), "case %zu", i);
        lg_client_close(c);
    }
}

Test(origin, rejects_oversized_head)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    lg_client_t *c = lg_client_connect(o->port);
    lg_http_response_t *r;
    size_t len = 70000;
    char *big = malloc(len);

    memset(big, 'a', len);
    cr_assert_eq(lg_client_sendf(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "), 0);
    lg_client_send(c, big, len); /* may fail once the origin closed */
    free(big);
    r = lg_client_read(c, 0);
    cr_assert_eq(r->status, 431);

    /* a 60 KiB head is fine */
    big = malloc(60001);
    memset(big, 'b', 60000);
    big[60000] = '\0';
    r = lg_http_get(o->port, "/echo", lg_fmt("X-Big: %s", big));
    free(big);
    assert_ok(r, 200);
    cr_assert_eq(strlen(lg_echo_header(r->body, "X-Big")), 60000);
}

/* ---- the harness itself */

Test(origin, exits_cleanly_on_signals)
{
    lg_proc_t *a = lg_origin_start(NULL);
    lg_proc_t *b = lg_origin_start(NULL);
    lg_client_t *c = lg_client_connect(a->port);

    cr_assert_not_null(c); /* an open connection does not hold it up */
    cr_assert_eq(lg_proc_stop(a), 0);
    cr_assert_eq(lg_proc_stop_with(b, SIGINT, lg_test_timeout_ms()), 0);
    cr_assert_not(lg_pid_alive(a->pid));
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    cr_assert_eq(lg_proc_stop(a), 0); /* twice is fine */
}

Test(origin, proc_helpers)
{
    lg_proc_t *o = lg_origin_start(NULL);
    pid_t kids[64];
    size_t n, i;
    int found = 0;

    cr_assert(lg_proc_alive(o));
    cr_assert(lg_pid_alive(o->pid));
    cr_assert_gt(lg_pid_rss_kib(o->pid), 0);
    cr_assert_geq(lg_pid_fd_count(o->pid), 5); /* stdio, listener, epoll, signalfd */
    n = lg_pid_children(getpid(), kids, 64);
    for (i = 0; i < n; i++)
        found |= kids[i] == o->pid;
    cr_assert(found);
    cr_assert_eq(lg_proc_port(o, "anything"), o->port);
    cr_assert_eq(lg_proc_signal(o, SIGUSR1), 0);
    cr_assert(lg_proc_wait_log(o, 0, "connections=0 requests=0", lg_test_timeout_ms()));
    cr_assert_eq(lg_proc_stop(o), 0);
    cr_assert_not(lg_proc_alive(o));
    cr_assert_eq(lg_pid_rss_kib(o->pid), -1);
    cr_assert_eq(lg_proc_signal(o, SIGTERM), -1);
}

Test(origin, log_checks)
{
    const char *log = "2026/11/26 21:40:00 [info] 1#m: listener web: listening on 1.2.3.4:80\n"
                      "2026/11/26 21:40:01 [error] 1234#w0: connect() to b1 failed: refused\n"
                      "2026/11/26 21:40:02 [warn] 1234#w0: upstream slow\n"
                      "2026/11/26 21:40:03 [error] 1234#w1: unexpected thing\n";

    cr_assert_eq(lg_log_has_unexpected_errors(log, "connect() to", "unexpected thing", NULL), 0);
    cr_assert_eq(lg_log_has_unexpected_errors(log, "connect() to", NULL), 1);
    cr_assert_eq(lg_log_has_unexpected_errors(log, NULL), 2);
    cr_assert_eq(lg_log_has_unexpected_errors("x\n==1==ERROR: AddressSanitizer: heap\n", NULL), 1);
    cr_assert_eq(lg_log_count(log, "[error]"), 2);
    cr_assert_eq(lg_log_count(log, "nothing"), 0);
}

/*
 * The lifeguard side of the harness, proven against a stand-in: a shell script that prints the
 * lines of its config that start with "# log: " to stderr (again on SIGHUP), those starting with
 * "# access: " to stdout, exits with N for "# exit N", and leaves a child that ignores SIGTERM
 * behind for "# stray".
 */
static const char fake_lifeguard[] =
    "#!/bin/sh\n"
    "for a; do cfg=$a; done\n"
    "emit() {\n"
    "    while IFS= read -r line; do\n"
    "        case \"$line\" in\n"
    "        '# log: '*) printf '%s\\n' \"${line#'# log: '}\" >&2 ;;\n"
    "        '# access: '*) printf '%s\\n' \"${line#'# access: '}\" ;;\n"
    "        '# exit '*) exit \"${line#'# exit '}\" ;;\n"
    "        esac\n"
    "    done < \"$cfg\"\n"
    "}\n"
    "grep -q '^# stray' \"$cfg\" && (trap '' TERM; exec sleep 60) &\n"
    "sleep 0.2\n"
    "emit\n"
    "trap emit HUP\n"
    "trap 'exit 0' TERM\n"
    "while :; do sleep 0.02; done\n";

static char *fake_dir, *fake_path;

static void use_fake_lifeguard(void)
{
    fake_dir = lg_test_tmpdir();
    fake_path = lg_test_write_file(fake_dir, "fake-lifeguard", fake_lifeguard);
    cr_assert_eq(chmod(fake_path, 0755), 0);
    setenv("LG_TEST_BINARY", fake_path, 1);
}

static void remove_fake_lifeguard(void)
{
    unlink(fake_path);
    rmdir(fake_dir);
    free(fake_path);
    free(fake_dir);
}

#define LOG_LINE "# log: 2026/11/26 21:40:00 [info] 1#m: "

Test(harness, lifeguard_start_waits_for_every_listener, .init = use_fake_lifeguard,
     .fini = remove_fake_lifeguard)
{
    lg_proc_t *p = lg_lifeguard_start(LOG_LINE "listener web: listening on 127.0.0.1:1111\n"
                                               "# access: GET / 200\n"
                                               "workers: 2\n"
                                               "admin:\n"
                                               "  listen: 127.0.0.1:0\n"
                                               "listeners:\n"
                                               "  web:\n"
                                               "    listen: 127.0.0.1:0\n"
                                               "    routes:\n"
                                               "      - pool: app\n"
                                               "  \"api\":\n"
                                               "    listen: 127.0.0.1:0\n"
                                               "pools:\n"
                                               "  app: {}\n" LOG_LINE
                                               "listener api: listening on [::1]:2222\n" LOG_LINE
                                               "admin: listening on 127.0.0.1:3333\n");

    cr_assert_eq(p->port, 1111);
    cr_assert_eq(lg_proc_port(p, "web"), 1111);
    cr_assert_eq(lg_proc_port(p, "api"), 2222);
    cr_assert_eq(lg_proc_admin_port(p), 3333);
    cr_assert_str_eq(lg_proc_access_log(p), "GET / 200\n");
    cr_assert_eq(lg_log_has_unexpected_errors(lg_proc_log(p), NULL), 0);
    cr_assert_eq(lg_proc_stop(p), 0);
    cr_assert_eq(p->strays, 0);
}

Test(harness, ports_follow_a_reload, .init = use_fake_lifeguard, .fini = remove_fake_lifeguard)
{
    lg_proc_t *p = lg_lifeguard_start(LOG_LINE "listener web: listening on 127.0.0.1:1111\n"
                                               "listeners:\n"
                                               "  web:\n"
                                               "    listen: 127.0.0.1:0\n");
    size_t mark = lg_proc_log_mark(p);

    cr_assert_gt(mark, 0);
    lg_proc_write_config(p, LOG_LINE "listener web: listening on 127.0.0.1:4444\n" LOG_LINE
                                     "reload done\n");
    cr_assert_eq(lg_proc_signal(p, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(p, mark, "reload done", lg_test_timeout_ms()));
    cr_assert_eq(lg_proc_port(p, "web"), 4444);
    cr_assert_not(lg_proc_wait_log(p, mark, "never logged", 50));
    cr_assert_eq(lg_log_count(lg_proc_log(p), "listener web:"), 2);
}

Test(harness, stop_kills_and_counts_strays, .init = use_fake_lifeguard,
     .fini = remove_fake_lifeguard)
{
    lg_proc_t *p =
        lg_lifeguard_start("# stray\n" LOG_LINE "listener web: listening on 127.0.0.1:1111\n"
                           "listeners:\n"
                           "  web:\n"
                           "    listen: 127.0.0.1:0\n");
    pid_t kids[8];
    size_t n = lg_pid_children(p->pid, kids, 8), i;

    cr_assert_geq(n, 1);
    cr_assert_eq(lg_proc_stop(p), 0);
    cr_assert_eq(p->strays, 1);
    for (i = 0; i < n; i++) {
        int ok;

        LG_WAIT_FOR(ok, !lg_pid_alive(kids[i]), lg_test_timeout_ms());
        cr_assert(ok, "child %d survived", (int)kids[i]);
    }
}

Test(harness, lifeguard_run_returns_status_and_output, .init = use_fake_lifeguard,
     .fini = remove_fake_lifeguard)
{
    char *out = NULL;
    int rc = lg_lifeguard_run("# log: cfg.yaml:3:5: unknown key \"lisen\"\n# exit 1\n", "-t", &out);

    cr_assert_eq(rc, 1);
    cr_assert_str_eq(out, "cfg.yaml:3:5: unknown key \"lisen\"\n");
}
