/*
 * test_chunked.c - chunked framing end to end (issue 12, defects 1, 4 and 8): the exact bytes a
 * backend receives for chunked requests (lifeguard's own framing, never the client's), what a
 * client receives for chunked responses, and the answer to every malformed form, in both
 * directions, with the upstream connection closed rather than reused after one.
 *
 * The backend is a raw socket of the test (tests/support/lg_test_raw.h): it records every byte
 * and answers what the test writes.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <string.h>

#include "lg_test_raw.h"
#include "proxy_common.h"

#define WAIT_MS   5000
#define OK_200    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
#define BIG_CHUNK 0x5000
#define MAX_PARTS 4
#define REQ_HEAD  "POST /up HTTP/1.1\r\nHost: x\r\nX-Request-Id: t1\r\n"
#define ERR_CHUNK "sent an invalid chunked body"
#define ERR_HEAD  "invalid response head"

typedef struct fx {
    int lfd, port;
    lg_proc_t *lg;
} fx_t;

static void fx_start(fx_t *f)
{
    int bport;

    f->lfd = lg_raw_listen(&bport);
    cr_assert_geq(f->lfd, 0);
    f->lg = lg_yaml_start(lg_yaml_single(bport));
    f->port = lg_proc_port(f->lg, "web");
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/*
 * The backend's connection for the next request: the pooled one when lifeguard sends on it,
 * else (it was closed) the next accepted one.
 */
static lg_raw_t *backend(fx_t *f, lg_raw_t *be)
{
    if (be != NULL && !be->eof && be->fd >= 0) {
        struct pollfd pf[2] = {{.fd = be->fd, .events = POLLIN}, {.fd = f->lfd, .events = POLLIN}};

        cr_assert_gt(poll(pf, 2, WAIT_MS), 0, "lifeguard sent nothing to the backend");
        if ((pf[0].revents & POLLIN) && lg_raw_pending(be) > 0)
            return be;
    }
    be = lg_raw_accept(f->lfd, WAIT_MS);
    cr_assert_not_null(be, "lifeguard did not connect to the backend");
    return be;
}

/* One request head and exactly `body` after it, from the backend's side; fails the test. */
static const char *recv_request(lg_raw_t *be, const char *body)
{
    size_t hlen;
    char *m = lg_raw_read_message(be, strlen(body), &hlen, WAIT_MS);

    cr_assert_not_null(m, "the backend received %zu bytes: %.*s", be->len, (int)be->len, be->buf);
    cr_assert_eq(count(m, "\r\nTransfer-Encoding: chunked\r\n"), 1, "head: %.*s", (int)hlen, m);
    cr_assert_eq(count(m, "Transfer-Encoding"), 1, "head: %.*s", (int)hlen, m);
    cr_assert_eq(count(m, "Content-Length"), 0, "head: %.*s", (int)hlen, m);
    cr_assert_str_eq(m + hlen, body, "the backend received the body %s", m + hlen);
    return m;
}

/* ---- requests: what the backend receives */

static const struct {
    const char *te;               /* the client's Transfer-Encoding line */
    const char *parts[MAX_PARTS]; /* the body, in writes apart */
    const char *want;             /* the body the backend must receive */
} valid_requests[] = {
    /* extensions, leading zeros, upper-case hex: lifeguard's own size lines */
    {"Transfer-Encoding: chunked",
     {"005;a=b\r\nhello\r\nA; x = \"y;z\"\r\n0123456789\r\n0;end\r\n\r\n"},
     "5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\n"},
    /* trailers: kept ones re-emitted, framing and routing ones dropped */
    {"Transfer-Encoding: chunked",
     {"3\r\nabc\r\n0\r\nX-Sum: 3\r\nContent-Length: 99\r\nHost: evil\r\n"
      "Transfer-Encoding: chunked\r\nX-T:\tv \r\nTrailer: X\r\n\r\n"},
     "3\r\nabc\r\n0\r\nX-Sum: 3\r\nX-T: v\r\n\r\n"},
    /* the whitespace forms of Transfer-Encoding that mean chunked (defect 4) */
    {"Transfer-Encoding: chunked\t", {"3\r\nabc\r\n0\r\n\r\n"}, "3\r\nabc\r\n0\r\n\r\n"},
    {"Transfer-Encoding:\tChunked ", {"3\r\nabc\r\n0\r\n\r\n"}, "3\r\nabc\r\n0\r\n\r\n"},
    {"Transfer-Encoding: CHUNKED", {"1\r\nz\r\n0\r\n\r\n"}, "1\r\nz\r\n0\r\n\r\n"},
    /* lines split across writes, in their middle and between CR and LF */
    {"Transfer-Encoding: chunked",
     {"1", "0;k=v\r\n0123456789abcdef\r", "\n0\r\nX-A:", "1\r\n\r\n"},
     "10\r\n0123456789abcdef\r\n0\r\nX-A:1\r\n\r\n"},
    {"Transfer-Encoding: chunked", {"0\r\n\r\n"}, "0\r\n\r\n"},
};

Test(chunked, request_bodies_reach_the_backend_reencoded)
{
    fx_t f;
    lg_raw_t *be = NULL;
    int accepted = 0;

    fx_start(&f);
    for (size_t i = 0; i < sizeof(valid_requests) / sizeof(valid_requests[0]); i++) {
        lg_raw_t *cl = lg_raw_connect(f.port);
        lg_raw_t *prev = be;
        char *rsp;

        cr_assert_not_null(cl);
        char *head = lg_fmt(REQ_HEAD "%s\r\n\r\n", valid_requests[i].te);

        cr_assert_eq(lg_raw_write(cl, head, strlen(head)), 0);
        for (int p = 0; p < MAX_PARTS && valid_requests[i].parts[p] != NULL; p++) {
            const char *s = valid_requests[i].parts[p];

            if (p > 0)
                lg_sleep_ms(50);
            cr_assert_eq(lg_raw_write(cl, s, strlen(s)), 0);
        }
        be = backend(&f, be);
        accepted += be != prev;
        recv_request(be, valid_requests[i].want);
        cr_assert_eq(lg_raw_write(be, OK_200, strlen(OK_200)), 0);
        rsp = lg_raw_read_message(cl, 2, NULL, WAIT_MS);
        cr_assert_not_null(rsp, "case %zu: no response", i);
        cr_assert(strncmp(rsp, "HTTP/1.1 200", 12) == 0, "case %zu: %s", i, rsp);
        lg_raw_close(cl);
    }
    /* every exchange ended cleanly: one backend connection served them all */
    cr_assert_eq(accepted, 1, "%d backend connections for clean exchanges", accepted);
    cr_assert_eq(lg_raw_pending(be), 0, "stray bytes at the backend: %.*s", (int)be->len, be->buf);
    lg_lifeguard_finish(f.lg, NULL);
}

/* A chunk larger than a buffer and the request pipelined after the body. */
Test(chunked, large_chunk_then_a_pipelined_request)
{
    fx_t f;
    lg_raw_t *cl, *be;
    char *data = malloc(BIG_CHUNK + 1), *req, *want, *rsp;
    size_t hlen;
    const char *m;

    fx_start(&f);
    for (size_t i = 0; i < BIG_CHUNK; i++)
        data[i] = (char)('a' + i % 26);
    data[BIG_CHUNK] = '\0';
    req = lg_fmt(REQ_HEAD "Transfer-Encoding: chunked\r\n\r\n%06x;big\r\n%s\r\n1\r\n!\r\n0\r\n\r\n"
                          "GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
                 BIG_CHUNK, data);
    want = lg_fmt("%x\r\n%s\r\n1\r\n!\r\n0\r\n\r\n", BIG_CHUNK, data);
    cl = lg_raw_connect(f.port);
    cr_assert_eq(lg_raw_write(cl, req, strlen(req)), 0);
    be = backend(&f, NULL);
    recv_request(be, want);
    cr_assert_eq(lg_raw_write(be, OK_200, strlen(OK_200)), 0);
    /* the next request comes on the same backend connection, exactly as a new head */
    m = lg_raw_read_message(be, 0, &hlen, WAIT_MS);
    cr_assert_not_null(m, "the pipelined request did not reach the backend");
    cr_assert(strncmp(m, "GET /next HTTP/1.1\r\n", 20) == 0, "backend got: %s", m);
    cr_assert_eq(count(m, "Transfer-Encoding"), 0);
    cr_assert_eq(lg_raw_write(be, OK_200, strlen(OK_200)), 0);
    rsp = lg_raw_read_message(cl, 2, NULL, WAIT_MS);
    cr_assert(rsp != NULL && strncmp(rsp, "HTTP/1.1 200", 12) == 0);
    rsp = lg_raw_read_message(cl, 2, NULL, WAIT_MS);
    cr_assert(rsp != NULL && strncmp(rsp, "HTTP/1.1 200", 12) == 0);
    free(data);
    lg_lifeguard_finish(f.lg, NULL);
}

/* ---- requests: malformed forms */

static const char *const bad_bodies[] = {
    "5\rXhello\r\n0\r\n\r\n",         /* size line ended by CR and any byte */
    "5\r\nhelloXX0\r\n\r\n",          /* two bytes other than CRLF after the data */
    "5\r\nhello\r\n0\r\n\n",          /* bare LF ending the trailer section */
    "8000000000000000\r\nhello\r\n",  /* 2^63 */
    "10000000000000005\r\nhello\r\n", /* 2^64 + 5 */
    "0\r\nX-A : 1\r\n\r\n",           /* whitespace before the trailer colon */
    "0\r\nX-A: 1\r\n 2\r\n\r\n",      /* obs-fold in the trailer */
    "5\nhello\r\n0\r\n\r\n",          /* bare LF after the size */
    "5 \r\nhello\r\n0\r\n\r\n",       /* whitespace after the size */
    "5;a b\r\nhello\r\n0\r\n\r\n",    /* broken extension */
    "0\r\nX-A: a\x01\r\n\r\n",        /* control character in a trailer */
};

static const char *const bad_te[] = {
    "Transfer-Encoding: chunked, chunked",
    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
    "Transfer-Encoding: chunked , ",
    "Transfer-Encoding: gzip",
    "Transfer-Encoding: chunked, gzip",
    "Transfer-Encoding: chunked;q=1",
    "Transfer-Encoding: \"chunked\"",
    "Transfer-Encoding: ",
    "Transfer-Encoding: chunked\t\r\nContent-Length: 3",
};

/* Send `req` on a new connection: 400, then the connection is closed. */
static void expect_400_close(int port, const char *req, const char *what)
{
    lg_client_t *c = lg_client_connect(port);
    lg_http_response_t *r;

    lg_client_set_timeout(c, WAIT_MS);
    cr_assert_eq(lg_client_send(c, req, strlen(req)), 0);
    r = lg_client_read(c, 0);
    cr_assert_eq(r->status, 400, "%s: status %d (%s)", what, r->status,
                 lg_http_error_name(r->error));
    cr_assert(lg_client_wait_close(c, WAIT_MS), "%s: connection left open", what);
    lg_client_close(c);
}

Test(chunked, malformed_requests_never_reach_the_backend)
{
    fx_t f;

    fx_start(&f);
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++)
        expect_400_close(f.port,
                         lg_fmt(REQ_HEAD "Transfer-Encoding: chunked\r\n\r\n%s", bad_bodies[i]),
                         lg_fmt("body %zu", i));
    for (size_t i = 0; i < sizeof(bad_te) / sizeof(bad_te[0]); i++)
        expect_400_close(f.port, lg_fmt(REQ_HEAD "%s\r\n\r\n3\r\nabc\r\n0\r\n\r\n", bad_te[i]),
                         lg_fmt("Transfer-Encoding %zu (%s)", i, bad_te[i]));
    cr_assert_null(lg_raw_accept(f.lfd, 200), "a malformed request reached the backend");
    lg_lifeguard_finish(f.lg, NULL);
}

/* The bad bytes come after the head was forwarded: the upstream connection is closed, with
 * nothing of them sent, and the client gets 400 and a close. */
Test(chunked, malformed_request_tail_closes_the_upstream_connection)
{
    static const char *const tails[] = {
        "0\rX\r\n\r\n",         "3\r\nabcXX",           "0\r\n\n",
        "8000000000000000\r\n", "0\r\nX-A : 1\r\n\r\n", "0\r\nX-A: 1\r\n 2\r\n\r\n",
    };
    fx_t f;

    fx_start(&f);
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        lg_raw_t *cl = lg_raw_connect(f.port), *be;
        static const char first[] = REQ_HEAD "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        size_t n;
        char *rest, *rsp;

        cr_assert_eq(lg_raw_write(cl, first, strlen(first)), 0);
        be = backend(&f, NULL);
        recv_request(be, "5\r\nhello\r\n");
        cr_assert_eq(lg_raw_write(cl, tails[i], strlen(tails[i])), 0);
        rest = lg_raw_read_all(be, &n, WAIT_MS);
        cr_assert(be->eof, "tail %zu: the upstream connection was left open", i);
        cr_assert_eq(n, 0, "tail %zu: the backend received %s", i, rest);
        rsp = lg_raw_read_all(cl, &n, WAIT_MS);
        cr_assert(cl->eof, "tail %zu: the client connection was left open", i);
        cr_assert(strncmp(rsp, "HTTP/1.1 400", 12) == 0, "tail %zu: client got %s", i, rsp);
    }
    lg_lifeguard_finish(f.lg, NULL);
}

/* ---- responses: what the client receives */

#define RSP_CHUNKED "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

/* The backend answers `rsp` to one GET of client `cl`; returns the backend's connection. */
static lg_raw_t *answer(fx_t *f, lg_raw_t *be, lg_raw_t *cl, const char *rsp, size_t len)
{
    static const char get[] = "GET /r HTTP/1.1\r\nHost: x\r\n\r\n";

    cr_assert_eq(lg_raw_write(cl, get, strlen(get)), 0);
    be = backend(f, be);
    cr_assert_not_null(lg_raw_read_message(be, 0, NULL, WAIT_MS), "no request at the backend");
    cr_assert_eq(lg_raw_write(be, rsp, len), 0);
    return be;
}

Test(chunked, valid_responses_are_reencoded_and_the_connection_reused)
{
    static const struct {
        const char *rsp, *want_body;
    } cases[] = {
        {RSP_CHUNKED "005;ext=1\r\nhello\r\n0;x\r\nX-Sum: 5\r\nSet-Cookie: a=b\r\n\r\n",
         "5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
         "a\r\n0123456789\r\n0\r\n\r\n"},
        /* llhttp 8.1 reads this one as close-delimited: the framing is lifeguard's call */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
         "3\r\nabc\r\n0\r\n\r\n"},
    };
    fx_t f;
    lg_raw_t *cl, *be = NULL, *first = NULL;

    fx_start(&f);
    cl = lg_raw_connect(f.port);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t hlen;
        char *got;

        be = answer(&f, be, cl, cases[i].rsp, strlen(cases[i].rsp));
        if (first == NULL)
            first = be;
        got = lg_raw_read_message(cl, strlen(cases[i].want_body), &hlen, WAIT_MS);
        cr_assert_not_null(got, "case %zu: the client got %.*s", i, (int)cl->len, cl->buf);
        cr_assert_eq(count(got, "\r\nTransfer-Encoding: chunked\r\n"), 1, "case %zu: %s", i, got);
        cr_assert_str_eq(got + hlen, cases[i].want_body, "case %zu", i);
        cr_assert_eq(be, first, "case %zu: a clean chunked response was not reused", i);
    }
    cr_assert_eq(lg_raw_pending(cl), 0, "stray bytes at the client: %.*s", (int)cl->len, cl->buf);
    lg_lifeguard_finish(f.lg, NULL);
}

/* Transfer-Encoding not ending in chunked: close-delimited (RFC 9112 6.3), codings named. */
Test(chunked, response_coding_not_ending_in_chunked_is_close_delimited)
{
    static const char rsp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc0\r\n\r\n";
    fx_t f;
    lg_raw_t *cl, *be;
    size_t n;
    char *got;

    fx_start(&f);
    cl = lg_raw_connect(f.port);
    be = answer(&f, NULL, cl, rsp, strlen(rsp));
    lg_raw_close(be);
    got = lg_raw_read_all(cl, &n, WAIT_MS);
    cr_assert(cl->eof, "client connection left open after a close-delimited body");
    cr_assert_eq(count(got, "\r\nTransfer-Encoding: gzip\r\n"), 1, "%s", got);
    cr_assert_eq(count(got, "Connection: close"), 1, "%s", got);
    cr_assert_str_eq(strstr(got, "\r\n\r\n") + 4, "abc0\r\n\r\n");
    lg_lifeguard_finish(f.lg, NULL);
}

Test(chunked, http10_client_gets_the_data_alone)
{
    static const char rsp[] = RSP_CHUNKED "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n";
    static const char get[] = "GET /r HTTP/1.0\r\nHost: x\r\n\r\n";
    fx_t f;
    lg_raw_t *cl, *be;
    size_t n;
    char *got;

    fx_start(&f);
    cl = lg_raw_connect(f.port);
    cr_assert_eq(lg_raw_write(cl, get, strlen(get)), 0);
    be = backend(&f, NULL);
    cr_assert_not_null(lg_raw_read_message(be, 0, NULL, WAIT_MS));
    cr_assert_eq(lg_raw_write(be, rsp, strlen(rsp)), 0);
    got = lg_raw_read_all(cl, &n, WAIT_MS);
    cr_assert(cl->eof);
    cr_assert_eq(count(got, "Transfer-Encoding"), 0, "%s", got);
    cr_assert_str_eq(strstr(got, "\r\n\r\n") + 4, "abcde");
    lg_lifeguard_finish(f.lg, NULL);
}

/* The backend answers `rsp`: the client gets a 502, the upstream connection is closed. */
static void expect_502(fx_t *f, const char *rsp, const char *what)
{
    lg_raw_t *cl = lg_raw_connect(f->port), *be;
    char *got;

    be = answer(f, NULL, cl, rsp, strlen(rsp));
    got = lg_raw_read_message(cl, 0, NULL, WAIT_MS);
    cr_assert_not_null(got, "%s: the client got %.*s", what, (int)cl->len, cl->buf);
    cr_assert(strncmp(got, "HTTP/1.1 502", 12) == 0, "%s: %s", what, got);
    cr_assert(lg_raw_wait_close(be, WAIT_MS), "%s: upstream connection kept", what);
    lg_raw_close(cl);
}

/* A malformed body in the first bytes: 502, and the upstream connection is closed. */
Test(chunked, malformed_response_gets_502_and_the_upstream_closed)
{
    fx_t f;

    fx_start(&f);
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++)
        expect_502(&f, lg_fmt(RSP_CHUNKED "%s", bad_bodies[i]), lg_fmt("body %zu", i));
    lg_lifeguard_finish(f.lg, ERR_CHUNK);
}

/* (three: each is a failure of the backend, and a fourth in a row would eject it) */
Test(chunked, malformed_response_transfer_encoding_gets_502)
{
    static const char *const te[] = {
        "Transfer-Encoding: chunked, chunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: ,",
    };
    fx_t f;

    fx_start(&f);
    for (size_t i = 0; i < sizeof(te) / sizeof(te[0]); i++)
        expect_502(&f, lg_fmt("HTTP/1.1 200 OK\r\n%s\r\n\r\n3\r\nabc\r\n0\r\n\r\n", te[i]),
                   lg_fmt("head %zu", i));
    lg_lifeguard_finish(f.lg, ERR_HEAD);
}

/* After the head went to the client: the client connection is closed before any clean end,
 * and the upstream connection is closed too. */
Test(chunked, malformed_response_tail_closes_both_connections)
{
    static const char *const tails[] = {
        "0\rX\r\n\r\n",
        "3\r\nabcXX",
        "0\r\n\n",
        "0\r\nX-A : 1\r\n\r\n",
    };
    fx_t f;

    fx_start(&f);
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        static const char first[] = RSP_CHUNKED "5\r\nhello\r\n";
        lg_raw_t *cl = lg_raw_connect(f.port), *be;
        size_t hlen, n;
        char *got;

        be = answer(&f, NULL, cl, first, strlen(first));
        got = lg_raw_read_message(cl, strlen("5\r\nhello\r\n"), &hlen, WAIT_MS);
        cr_assert_not_null(got, "tail %zu: the client got %.*s", i, (int)cl->len, cl->buf);
        cr_assert_str_eq(got + hlen, "5\r\nhello\r\n");
        cr_assert_eq(lg_raw_write(be, tails[i], strlen(tails[i])), 0);
        got = lg_raw_read_all(cl, &n, WAIT_MS);
        cr_assert(cl->eof, "tail %zu: the client connection was left open", i);
        cr_assert_eq(n, 0, "tail %zu: the client got %s", i, got);
        cr_assert(lg_raw_wait_close(be, WAIT_MS), "tail %zu: upstream connection kept", i);
    }
    lg_lifeguard_finish(f.lg, ERR_CHUNK);
}
