/*
 * test_bodies.c - request and response bodies through the real binary: 100 MiB both ways with
 * checksums while the worker's memory stays bounded, chunked both ways, close-delimited
 * responses, de-chunking for HTTP/1.0 clients, bodiless responses (HEAD, 204, 304) and
 * 100-continue.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg_test.h"
#include "proxy_common.h"

#define RSS_LIMIT_KIB  (32 * 1024)
#define RSS_SAMPLE_MS  20
#define BIG_BODY       (100 * MIB)
#define BIG_TIMEOUT_MS 30000

/* ---- RSS sampling while a transfer runs (a thread: the transfer blocks the main thread) */

struct rss_sampler {
    pthread_t thread;
    pid_t pid;
    atomic_int stop;
    long max_kib;
    long samples;
};

static void *rss_sample_loop(void *arg)
{
    struct rss_sampler *s = arg;

    while (!atomic_load(&s->stop)) {
        long kib = lg_pid_rss_kib(s->pid);

        if (kib > s->max_kib)
            s->max_kib = kib;
        s->samples++;
        lg_sleep_ms(RSS_SAMPLE_MS);
    }
    return NULL;
}

static void rss_start(struct rss_sampler *s, pid_t pid)
{
    memset(s, 0, sizeof(*s));
    s->pid = pid;
    atomic_init(&s->stop, 0);
    cr_assert_eq(pthread_create(&s->thread, NULL, rss_sample_loop, s), 0);
}

/* Stop sampling; the largest RSS seen (KiB). */
static long rss_stop(struct rss_sampler *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    return s->max_kib;
}

/* ---- 100 MiB */

Test(bodies, upload_100_mib_content_length, .timeout = 120)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    pid_t worker = lgt_worker(f.lg);
    struct rss_sampler s;
    lg_http_response_t *r;
    long max;

    lg_client_set_timeout(c, BIG_TIMEOUT_MS);
    rss_start(&s, worker);
    cr_assert_eq(lg_client_sendf(
                     c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n", BIG_BODY),
                 0);
    cr_assert_eq(lg_client_send_pattern(c, 0, BIG_BODY), 0);
    r = lg_client_read(c, 0);
    max = rss_stop(&s);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), lg_fmt("%llu", BIG_BODY));
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"),
                     lgt_hex(lg_pattern_checksum(BIG_BODY)));
    cr_assert_eq(lg_echo_header_count(r->body, "Content-Length"), 1);
    cr_assert_gt(s.samples, 0);
    cr_assert_gt(max, 0, "no RSS sample of the worker");
    cr_assert_lt(max, RSS_LIMIT_KIB, "worker RSS reached %ld KiB during the upload", max);

    /* the connection goes on */
    r = lg_client_request(c, "GET", "/size/10", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcdefghij");
    lg_fix_finish(&f, NULL);
}

Test(bodies, download_100_mib_content_length, .timeout = 120)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    pid_t worker = lgt_worker(f.lg);
    struct rss_sampler s;
    lg_http_response_t *r;
    long max;

    lg_client_set_timeout(c, BIG_TIMEOUT_MS);
    rss_start(&s, worker);
    cr_assert_eq(lg_client_sendf(c, "GET /size/100m HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    r = lg_client_read(c, LG_READ_DISCARD);
    max = rss_stop(&s);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->content_length, (long long)BIG_BODY);
    cr_assert_eq(r->body_len, BIG_BODY);
    cr_assert_eq(r->body_sum, lg_pattern_checksum(BIG_BODY));
    cr_assert_gt(max, 0, "no RSS sample of the worker");
    cr_assert_lt(max, RSS_LIMIT_KIB, "worker RSS reached %ld KiB during the download", max);

    r = lg_client_request(c, "GET", "/size/10", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcdefghij");
    lg_fix_finish(&f, NULL);
}

/* A slow reader: the worker must not buffer what the origin sends faster than the client reads. */
Test(bodies, slow_reader_does_not_grow_the_worker, .timeout = 60)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    pid_t worker = lgt_worker(f.lg);
    long before = lg_pid_rss_kib(worker), during;
    char buf[4096];
    struct pollfd pf = {.fd = lg_client_fd(c), .events = POLLIN};
    lg_http_response_t *r;

    cr_assert_eq(lg_client_sendf(c, "GET /size/1g HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    /* the first bytes, then stop reading */
    cr_assert_eq(poll(&pf, 1, lg_test_timeout_ms()), 1);
    cr_assert_gt(read(lg_client_fd(c), buf, sizeof(buf)), 0);
    lg_sleep_ms(500);
    during = lg_pid_rss_kib(worker);
    cr_assert_lt(during, RSS_LIMIT_KIB, "worker RSS %ld KiB (was %ld)", during, before);
    lg_client_close(c);

    /* lifeguard is still fine */
    r = lg_http_get(f.port, "/size/5", NULL);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcde");
    lg_fix_finish(&f, NULL);
}

/* ---- chunked */

Test(bodies, chunked_upload, .timeout = 60)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    static const struct {
        uint64_t len;
        size_t chunk;
    } cases[] = {{1, 1}, {1000, 7}, {300000, 1000}, {5 * MIB, 65536}, {20 * MIB, 1000000}};
    size_t i;

    lg_client_set_timeout(c, BIG_TIMEOUT_MS);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lg_http_response_t *r;

        cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n"),
                     0);
        cr_assert_eq(lg_client_send_chunked_pattern(c, cases[i].len, cases[i].chunk), 0);
        r = lg_client_read(c, 0);
        lgt_assert_status(r, 200);
        cr_assert_str_eq(lg_echo_field(r->body, "body-length"),
                         lg_fmt("%llu", (unsigned long long)cases[i].len), "case %zu", i);
        cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"),
                         lgt_hex(lg_pattern_checksum(cases[i].len)), "case %zu", i);
        cr_assert_eq(lg_echo_header_count(r->body, "Transfer-Encoding"), 1);
        cr_assert_eq(lg_echo_header_count(r->body, "Content-Length"), 0);
        cr_assert_not(r->closed);
    }
    lg_fix_finish(&f, NULL);
}

Test(bodies, chunked_download, .timeout = 60)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    static const uint64_t sizes[] = {0, 1, 4093, 65536, 1000000, 20 * MIB};
    size_t i;

    lg_client_set_timeout(c, BIG_TIMEOUT_MS);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        lg_http_response_t *r;

        cr_assert_eq(lg_client_sendf(c, "GET /size/%llu?chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                                     (unsigned long long)sizes[i]),
                     0);
        r = lg_client_read(c, LG_READ_DISCARD);
        lgt_assert_status(r, 200);
        cr_assert(r->chunked, "size %llu not chunked", (unsigned long long)sizes[i]);
        cr_assert_null(lg_http_header(r, "Content-Length"));
        cr_assert_eq(r->body_len, sizes[i]);
        cr_assert_eq(r->body_sum, lg_pattern_checksum(sizes[i]), "size %llu",
                     (unsigned long long)sizes[i]);
        cr_assert_not(r->closed);
    }
    lg_fix_finish(&f, NULL);
}

/* ---- close-delimited and HTTP/1.0 */

Test(bodies, close_delimited_response_then_close)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    static const uint64_t sizes[] = {0, 10, 300000, 3 * MIB};
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        lg_client_t *c = lg_client_connect(f.port);
        lg_http_response_t *r;

        cr_assert_eq(lg_client_sendf(c, "GET /size/%llu?close=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                                     (unsigned long long)sizes[i]),
                     0);
        r = lg_client_read(c, LG_READ_DISCARD);
        lgt_assert_status(r, 200);
        cr_assert_eq(r->body_len, sizes[i], "size %llu: got %zu", (unsigned long long)sizes[i],
                     r->body_len);
        cr_assert_eq(r->body_sum, lg_pattern_checksum(sizes[i]));
        cr_assert(r->closed);
        if (!r->chunked && r->content_length < 0)
            cr_assert_str_eq(lg_http_header(r, "Connection"), "close");
        lg_client_close(c);
    }
    lg_fix_finish(&f, NULL);
}

Test(bodies, http10_client_gets_a_dechunked_body)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    static const uint64_t sizes[] = {0, 5, 100000, 2 * MIB};
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        lg_client_t *c = lg_client_connect(f.port);
        lg_http_response_t *r;

        /* keep-alive asked: it must still close, the length being unknown */
        cr_assert_eq(lg_client_sendf(c,
                                     "GET /size/%llu?chunked=1 HTTP/1.0\r\nHost: x\r\n"
                                     "Connection: keep-alive\r\n\r\n",
                                     (unsigned long long)sizes[i]),
                     0);
        r = lg_client_read(c, 0);
        lgt_assert_status(r, 200);
        cr_assert_null(lg_http_header(r, "Transfer-Encoding"), "head: %s", r->head);
        cr_assert_not(r->chunked);
        cr_assert_eq(r->body_len, sizes[i], "size %llu: got %zu", (unsigned long long)sizes[i],
                     r->body_len);
        cr_assert_eq(r->body_sum, lg_pattern_checksum(sizes[i]), "size %llu",
                     (unsigned long long)sizes[i]);
        cr_assert(r->closed);
        lg_client_close(c);
    }
    lg_fix_finish(&f, NULL);
}

/* Pipelined after a large POST: the body (spliced) must end exactly where the next request starts.
 */
Test(bodies, pipelined_after_large_post, .timeout = 60)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    static const uint64_t sizes[] = {65535, 65536, 200000, 3 * MIB};
    size_t i;

    lg_client_set_timeout(c, BIG_TIMEOUT_MS);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = (size_t)sizes[i];
        char *head =
            lg_fmt("POST /echo?n=%zu HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", i, len);
        const char *next = "GET /echo?next=1 HTTP/1.1\r\nHost: x\r\n\r\n";
        size_t hl = strlen(head), nl = strlen(next);
        char *all = malloc(hl + len + nl);
        lg_http_response_t *r;

        cr_assert_not_null(all);
        memcpy(all, head, hl);
        lg_pattern_fill(all + hl, 0, len);
        memcpy(all + hl + len, next, nl);
        cr_assert_eq(lg_client_send(c, all, hl + len + nl), 0);
        free(all);
        r = lg_client_read(c, 0);
        lgt_assert_status(r, 200);
        cr_assert_str_eq(lg_echo_field(r->body, "target"), lg_fmt("/echo?n=%zu", i));
        cr_assert_str_eq(lg_echo_field(r->body, "body-length"), lg_fmt("%zu", len));
        cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"), lgt_hex(lg_pattern_checksum(len)));
        r = lg_client_read(c, 0);
        lgt_assert_status(r, 200);
        cr_assert_str_eq(lg_echo_field(r->body, "target"), "/echo?next=1", "size %zu", len);
        cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "0");
    }
    lg_fix_finish(&f, NULL);
}

/* Pipelined requests whose responses are large (spliced), chunked and small, in order. */
Test(bodies, pipelined_large_responses, .timeout = 60)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    static const char *const reqs[] = {
        "GET /size/3m HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /size/2m?chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /size/5 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /size/70000 HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /size/4m HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /size/1m HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    static const uint64_t lens[] = {3 * MIB, 2 * MIB, 5, 70000, 0, MIB};
    size_t i;

    lg_client_set_timeout(c, BIG_TIMEOUT_MS);
    cr_assert_eq(lg_client_send_pipelined(c, reqs, 6), 0);
    for (i = 0; i < 6; i++) {
        lg_http_response_t *r = lg_client_read(c, (i == 4 ? LG_READ_HEAD : 0) | LG_READ_DISCARD);

        lgt_assert_status(r, 200);
        cr_assert_eq(r->body_len, lens[i], "response %zu: %zu bytes", i, r->body_len);
        cr_assert_eq(r->body_sum, lg_pattern_checksum(lens[i]), "response %zu", i);
    }
    lg_fix_finish(&f, NULL);
}

/* Content-Length download to an HTTP/1.0 client keeps its length and the data. */
Test(bodies, http10_client_large_download, .timeout = 60)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    lg_client_set_timeout(c, BIG_TIMEOUT_MS);
    cr_assert_eq(lg_client_sendf(c, "GET /size/10m HTTP/1.0\r\n\r\n"), 0);
    r = lg_client_read(c, LG_READ_DISCARD);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->content_length, (long long)(10 * MIB));
    cr_assert_eq(r->body_sum, lg_pattern_checksum(10 * MIB));
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* ---- bodiless responses */

Test(bodies, head_204_304_framed_and_connection_reusable)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_origin_stats_t st;
    lg_http_response_t *r;

    r = lg_client_request(c, "HEAD", "/size/1234", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->content_length, 1234);
    r = lg_client_request(c, "GET", "/size/3", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abc");

    r = lg_client_request(c, "HEAD", "/size/100m", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->content_length, (long long)(100 * MIB));
    r = lg_client_request(c, "GET", "/size/4", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcd");

    /* lifeguard may drop Transfer-Encoding here (RFC 9112 6.1: a MAY), never invent a length */
    r = lg_client_request(c, "HEAD", "/size/1234?chunked=1", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_null(lg_http_header(r, "Content-Length"));
    r = lg_client_request(c, "GET", "/size/5", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcde");

    r = lg_client_request(c, "GET", "/status/204", NULL, NULL, 0);
    lgt_assert_status(r, 204);
    cr_assert_null(lg_http_header(r, "Content-Length"));
    cr_assert_null(lg_http_header(r, "Transfer-Encoding"));
    r = lg_client_request(c, "GET", "/size/6", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcdef");

    r = lg_client_request(c, "GET", "/status/304", NULL, NULL, 0);
    lgt_assert_status(r, 304);
    cr_assert_null(lg_http_header(r, "Transfer-Encoding"));
    r = lg_client_request(c, "GET", "/size/7", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abcdefg");

    /* bodiless responses are clean exchanges: the upstream connection was kept throughout */
    cr_assert_eq(lg_origin_stats(f.origin->port, &st), 0);
    cr_assert_eq(st.requests, 10);
    cr_assert_eq(st.connections, 1, "%ld upstream connections for 10 requests", st.connections);

    /* HEAD of a close-delimited response: no body, no wait for the close */
    r = lg_client_request(c, "HEAD", "/size/10?close=1", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->body_len, 0);
    lg_fix_finish(&f, NULL);
}

/* Everything after a bodiless response is the next response, nothing else (no stray bytes). */
Test(bodies, bodiless_responses_pipelined)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    static const char *const reqs[] = {
        "HEAD /size/50 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /status/304 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /size/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    lg_http_response_t *r;
    size_t len;
    char *rest;

    cr_assert_eq(lg_client_send_pipelined(c, reqs, 4), 0);
    r = lg_client_read(c, LG_READ_HEAD);
    lgt_assert_status(r, 200);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 204);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 304);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "ab");
    rest = lg_client_read_until_close(c, &len);
    cr_assert_eq(len, 0, "stray bytes after the last response: %s", rest);
    lg_fix_finish(&f, NULL);
}

/* ---- 100-continue */

Test(bodies, expect_100_continue)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    /* wait for 100 Continue before sending the body */
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                    "Expect: 100-continue\r\n\r\n"),
                 0);
    lg_client_set_timeout(c, 3000);
    r = lg_client_read(c, LG_READ_INTERIM);
    lgt_assert_status(r, 100);
    cr_assert_eq(lg_client_send(c, "data", 4), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "4");
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"),
                     lgt_hex(lg_checksum(LG_CHECKSUM_INIT, "data", 4)));

    /* the body sent at once, without waiting: at most one interim response, then the answer */
    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                    "Expect: 100-continue\r\n\r\nok"),
                 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_leq(r->interim, 1);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "2");

    /* a large body after 100 Continue */
    cr_assert_eq(lg_client_sendf(c,
                                 "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n"
                                 "Expect: 100-continue\r\n\r\n",
                                 5 * MIB),
                 0);
    r = lg_client_read(c, LG_READ_INTERIM);
    lgt_assert_status(r, 100);
    cr_assert_eq(lg_client_send_pattern(c, 0, 5 * MIB), 0);
    r = lg_client_read(c, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"), lgt_hex(lg_pattern_checksum(5 * MIB)));

    /* the next request on the connection is fine */
    r = lg_client_request(c, "GET", "/size/3", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "abc");
    lg_fix_finish(&f, NULL);
}

/* An HTTP/1.0 client never sees a 1xx response (RFC 9110 15.2). */
Test(bodies, no_interim_response_for_http10)
{
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_sendf(c, "POST /echo HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n"
                                    "Expect: 100-continue\r\n\r\nok"),
                 0);
    r = lg_client_read(c, LG_READ_INTERIM);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "2");
    lg_fix_finish(&f, NULL);
}
