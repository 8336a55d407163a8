/*
 * test_pump.c - the body pump (src/exchange/pump.c) between real sockets: Content-Length bodies
 * copied or spliced, chunked bodies re-encoded or decoded, close-delimited bodies, bad framing
 * and the limit, the head and the first body bytes in one write, bytes after the body kept, a
 * full destination, and no system call on a socket whose readiness flag is clear.
 *
 * Each pump runs between two non-blocking AF_UNIX socket pairs; the test writes the source's
 * peer, reads the destination's peer and sets the readiness flags from poll(2) as the loop sets
 * them from epoll. Buffers and pipes are sized as the worker sizes them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/lg.h"
#include "exchange/pump.h"
#include "lg_test.h"

/* ---- the pump's ends are plain streams: their type and fields are touched only here */

static void ignore_events(lg_io_t *io, uint32_t ev)
{
    LG_UNUSED(io);
    LG_UNUSED(ev);
}

/* A plain stream on `fd` with exactly `flags` (LG_STREAM_SPLICE kept: plain sockets splice). */
static void end_set(lg_stream_t *s, int fd, uint32_t flags)
{
    memset(s, 0, sizeof(*s));
    lg_stream_plain(s, fd, ignore_events);
    s->sock.flags |= flags;
}

/* Registered and told of its first edge: readable and writable, as the loop would report. */
static void end_open(lg_stream_t *s, int fd)
{
    end_set(s, fd, 0);
    lg_stream_events(s, EPOLLIN | EPOLLOUT);
}

static void end_events(lg_stream_t *s, uint32_t ev)
{
    lg_stream_events(s, ev);
}

static int end_fd(const lg_stream_t *s)
{
    return s->sock.io.fd;
}

#define END_RD  LG_SOCK_RD
#define END_WR  LG_SOCK_WR
#define END_ERR LG_SOCK_ERR

static int end_has(const lg_stream_t *s, uint32_t flag)
{
    return (s->sock.flags & flag) != 0;
}

static void pump_wire(lg_pump_t *p, lg_stream_t *src, lg_stream_t *dst, lg_buf_t **buf,
                      lg_buf_t *head)
{
    memset(p, 0, sizeof(*p));
    p->src = src;
    p->dst = dst;
    p->buf = buf;
    p->head = head;
}

static const char *pump_why(const lg_pump_t *p)
{
    return p->chunk.why;
}

static int pump_has_pipe(const lg_pump_t *p)
{
    return p->pipe != NULL;
}

/* ---- the rig: a pump, its two socket pairs, what the test sends and what arrived */

/* As the worker sizes them (proxy.c: max_header_size 16k + slack; 1 MiB pipes). */
#define BUF_SIZE  (16384 + 4096)
#define PIPE_SIZE (1 << 20)

typedef struct rig {
    lg_stream_t src, dst;   /* the pump's ends */
    int src_peer, dst_peer; /* the test's ends */
    lg_pump_t p;
    lg_buf_t *buf, *head;
    const char *in; /* what the test sends to the source, `piece` bytes a step (0: all) */
    size_t in_len, in_sent, piece;
    int close_in; /* 1: shut the source down once everything is sent; 2: done */
    char *out;    /* what the destination received */
    size_t out_len, out_cap;
    int reading;   /* the test reads the destination */
    int used_pipe; /* the pump held a pipe after some run */
} rig_t;

static lg_buf_t *buf_with(const char *data, size_t len)
{
    lg_buf_t *b = lg_buf_get();

    cr_assert_not_null(b);
    cr_assert_leq(len, lg_buf_room(b));
    memcpy(b->data, data, len);
    b->last = (uint32_t)len;
    return b;
}

/*
 * A pump from a stream socket to a socket of `dst_type` that writes `head` (NULL: none) before
 * the body, whose first `blen` bytes (`buffered`) already arrived with the head.
 */
static void rig_open(rig_t *r, int dst_type, const char *head, const char *buffered, size_t blen)
{
    int a[2], b[2];

    memset(r, 0, sizeof(*r));
    lg_buf_init(BUF_SIZE);
    lg_pipe_init(PIPE_SIZE, 4);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a), 0);
    cr_assert_eq(socketpair(AF_UNIX, dst_type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b), 0);
    end_open(&r->src, a[0]);
    end_open(&r->dst, b[0]);
    r->src_peer = a[1];
    r->dst_peer = b[1];
    if (head != NULL)
        r->head = buf_with(head, strlen(head));
    if (blen > 0)
        r->buf = buf_with(buffered, blen);
    pump_wire(&r->p, &r->src, &r->dst, &r->buf, r->head);
    r->reading = 1;
}

static int rig_start(rig_t *r, lg_body_t mode, uint64_t length)
{
    return lg_pump_start(&r->p, mode, length, r->buf != NULL ? (uint32_t)lg_buf_len(r->buf) : 0);
}

static void rig_source(rig_t *r, const char *data, size_t len, size_t piece, int close_after)
{
    r->in = data;
    r->in_len = len;
    r->in_sent = 0;
    r->piece = piece;
    r->close_in = close_after;
}

static void rig_close(rig_t *r)
{
    lg_pump_release(&r->p);
    lg_buf_put(&r->buf);
    lg_buf_put(&r->head);
    close(end_fd(&r->src));
    close(end_fd(&r->dst));
    close(r->src_peer);
    close(r->dst_peer);
    free(r->out);
}

/* Send the next piece of the source's bytes (what fits), then its end when asked. */
static void rig_feed(rig_t *r)
{
    size_t n = r->in_len - r->in_sent;
    ssize_t w;

    if (r->piece > 0 && n > r->piece)
        n = r->piece;
    if (n > 0) {
        w = send(r->src_peer, r->in + r->in_sent, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        cr_assert(w > 0 || errno == EAGAIN, "send to the source: %s", strerror(errno));
        if (w > 0)
            r->in_sent += (size_t)w;
    }
    if (r->in_sent == r->in_len && r->close_in == 1) {
        cr_assert_eq(shutdown(r->src_peer, SHUT_WR), 0);
        r->close_in = 2;
    }
}

/* Read what the destination received so far. */
static void rig_drain(rig_t *r)
{
    char tmp[65536];
    ssize_t n;

    while (r->reading && (n = recv(r->dst_peer, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0) {
        if (r->out_len + (size_t)n > r->out_cap) {
            r->out_cap = (r->out_len + (size_t)n) * 2;
            r->out = realloc(r->out, r->out_cap);
            cr_assert_not_null(r->out);
        }
        memcpy(r->out + r->out_len, tmp, (size_t)n);
        r->out_len += (size_t)n;
    }
}

/* Wait a little for what the pump waits for, and fold it into the flags as the loop would. */
static void rig_wait(rig_t *r)
{
    struct pollfd fds[2];
    lg_stream_t *ends[2];
    int n = 0;

    rig_feed(r); /* what the source still has to send is there before the wait */
    if (!end_has(&r->src, END_RD)) {
        fds[n] = (struct pollfd){.fd = end_fd(&r->src), .events = POLLIN | POLLRDHUP};
        ends[n++] = &r->src;
    }
    if (!end_has(&r->dst, END_WR)) {
        fds[n] = (struct pollfd){.fd = end_fd(&r->dst), .events = POLLOUT};
        ends[n++] = &r->dst;
    }
    if (n == 0 || poll(fds, (nfds_t)n, 10) <= 0)
        return;
    for (int i = 0; i < n; i++) {
        short rv = fds[i].revents;

        end_events(ends[i], (rv & POLLIN ? EPOLLIN : 0) | (rv & POLLOUT ? EPOLLOUT : 0) |
                                (rv & POLLRDHUP ? EPOLLRDHUP : 0) | (rv & POLLHUP ? EPOLLHUP : 0) |
                                (rv & POLLERR ? EPOLLERR : 0));
    }
}

static int rig_step(rig_t *r)
{
    int rc;

    rig_feed(r);
    rc = lg_pump_run(&r->p);
    r->used_pipe |= pump_has_pipe(&r->p);
    rig_drain(r);
    return rc;
}

/* Run the pump until it finishes or fails (the harness's bound on every wait fails the test). */
static int rig_run(rig_t *r)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)lg_test_timeout_ms();

    while (lg_now_ms() < deadline) {
        int rc = rig_step(r);

        if (rc == LG_AGAIN)
            rig_wait(r);
        else if (rc != LG_PUMP_YIELD)
            return rc;
    }
    cr_assert_fail("the pump did not finish: %zu of %zu bytes sent, %zu received", r->in_sent,
                   r->in_len, r->out_len);
    return LG_ERR;
}

/* What the destination got is exactly `want` (shown when short). */
static void assert_out(const rig_t *r, const char *want, size_t len)
{
    size_t i = 0;

    while (i < len && i < r->out_len && r->out[i] == want[i])
        i++;
    if (len < 200)
        cr_assert(i == len && r->out_len == len, "the destination got [%.*s], expected [%s]",
                  (int)r->out_len, r->out != NULL ? r->out : "", want);
    cr_assert(i == len && r->out_len == len,
              "the destination got %zu bytes, expected %zu; first difference at byte %zu",
              r->out_len, len, i);
}

#define assert_out_str(r, want) assert_out(r, want, strlen(want))

/* head + body, malloc'd */
static char *concat(const char *head, const char *body, size_t blen, size_t *len)
{
    size_t hlen = strlen(head);
    char *s = malloc(hlen + blen + 1);

    cr_assert_not_null(s);
    memcpy(s, head, hlen);
    memcpy(s + hlen, body, blen);
    s[hlen + blen] = '\0';
    *len = hlen + blen;
    return s;
}

static char *pattern(size_t len)
{
    char *s = malloc(len + 1);

    cr_assert_not_null(s);
    lg_pattern_fill(s, 0, len);
    s[len] = '\0';
    return s;
}

/* `len` bytes of `data` in lifeguard's chunked framing, chunks of `chunk` bytes, malloc'd. */
static char *chunked(const char *data, size_t len, size_t chunk, size_t *out_len)
{
    char *s = malloc(len + (len / chunk + 2) * 32);
    size_t n = 0;

    cr_assert_not_null(s);
    for (size_t off = 0; off < len; off += chunk) {
        size_t c = LG_MIN(chunk, len - off);

        n += (size_t)sprintf(s + n, "%zx\r\n", c);
        memcpy(s + n, data + off, c);
        n += c;
        n += (size_t)sprintf(s + n, "\r\n");
    }
    n += (size_t)sprintf(s + n, "0\r\n\r\n");
    *out_len = n;
    return s;
}

/* a head the pump writes before the body (its content is the owner's business) */
#define HEAD "HTTP/1.1 200 OK\r\nX-Head: 1\r\n\r\n"

/* ---- Content-Length bodies; bodies cut short */

/* Copied under the splice threshold, spliced above it; what follows the body stays in the socket
 * for the next request. */
Test(pump, length_body_is_copied_or_spliced)
{
    static const struct {
        size_t len, early; /* body bytes; how many came with the head */
        int spliced;
    } cases[] = {{3000, 100, 0}, {60 * 1024, 0, 0}, {3 * 1024 * 1024 + 7, 500, 1}};
    const char next[] = "GET /next HTTP/1.1\r\n\r\n";

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len, early = cases[i].early, want_len;
        char *body = pattern(len + sizeof(next)), *want = concat(HEAD, body, len, &want_len);
        char rest[64];
        rig_t r;

        memcpy(body + len, next, sizeof(next));
        rig_open(&r, SOCK_STREAM, HEAD, body, early);
        cr_assert_eq(rig_start(&r, LG_BODY_LENGTH, len), LG_OK);
        rig_source(&r, body + early, len - early + strlen(next), 0, 0);
        cr_assert_eq(rig_run(&r), LG_OK, "case %zu", i);
        assert_out(&r, want, want_len);
        cr_assert_eq(r.p.out, want_len, "case %zu: bytes written, spliced ones too", i);
        cr_assert_eq(r.used_pipe, cases[i].spliced, "case %zu: spliced %d", i, r.used_pipe);
        cr_assert_null(r.buf, "case %zu: the pump kept a buffer", i);
        cr_assert_eq(recv(end_fd(&r.src), rest, sizeof(rest), 0), (ssize_t)strlen(next));
        cr_assert_eq(memcmp(rest, next, strlen(next)), 0, "case %zu: read past the body", i);
        rig_close(&r);
        free(body);
        free(want);
    }
}

/* A body cut short by the source's close is an error, never a complete body. */
Test(pump, source_closing_early_fails)
{
    static const struct {
        lg_body_t mode;
        size_t len;
        const char *in; /* NULL: `len` pattern bytes less one */
    } cases[] = {
        {LG_BODY_LENGTH, 3000, NULL},
        {LG_BODY_LENGTH, 1024 * 1024, NULL},
        {LG_BODY_CHUNKED, 0, "5\r\nhello\r\n3\r\nab"},
        {LG_BODY_CHUNKED, 0, "5\r\nhello\r\n0\r\n"},
        {LG_BODY_DECHUNK, 0, "5\r\nhel"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = cases[i].in == NULL ? pattern(cases[i].len) : NULL;
        rig_t r;

        rig_open(&r, SOCK_STREAM, HEAD, NULL, 0);
        cr_assert_eq(rig_start(&r, cases[i].mode, cases[i].len), LG_OK);
        if (body != NULL)
            rig_source(&r, body, cases[i].len - 1, 0, 1);
        else
            rig_source(&r, cases[i].in, strlen(cases[i].in), 0, 1);
        cr_assert_eq(rig_run(&r), LG_PUMP_ESRC, "case %zu", i);
        cr_assert_not(end_has(&r.src, END_ERR), "case %zu: an end is not a failed read", i);
        rig_close(&r);
        free(body);
    }
}

/* ---- bodies that fit the buffer: the exact bytes sent, what follows kept for the next request */

#define CHUNKED_IN                                                                                 \
    "5;ext=1\r\nhello\r\n00A\r\n0123456789\r\n0\r\nX-Trailer: v\r\nContent-Length: 3\r\n\r\n"
#define CHUNKED_OUT "5\r\nhello\r\na\r\n0123456789\r\n0\r\nX-Trailer: v\r\n\r\n"
#define DECODED     "hello0123456789"
#define NEXT        "GET /next HTTP/1.1\r\n\r\n"
#define ALL         ((size_t)-1)

typedef struct frame_case {
    lg_body_t mode;
    uint64_t length;  /* LENGTH: the body's length */
    const char *in;   /* the body, then maybe the next request */
    size_t buffered;  /* bytes of `in` that came with the head (ALL: every one) */
    size_t piece;     /* the rest arrives in pieces of this size (0: at once) */
    const char *out;  /* what the destination gets after the head */
    const char *rest; /* left in the buffer after the body (NULL: nothing) */
} frame_case_t;

Test(pump, body_is_relayed_reencoded_or_decoded)
{
    static const frame_case_t cases[] = {
        {LG_BODY_LENGTH, 5, "hello" NEXT, ALL, 0, "hello", NEXT},
        {LG_BODY_CHUNKED, 0, CHUNKED_IN NEXT, ALL, 0, CHUNKED_OUT, NEXT},
        {LG_BODY_CHUNKED, 0, CHUNKED_IN NEXT, 0, 0, CHUNKED_OUT, NEXT},
        {LG_BODY_CHUNKED, 0, CHUNKED_IN, 7, 1, CHUNKED_OUT, NULL},
        {LG_BODY_CHUNKED, 0, CHUNKED_IN, 0, 4, CHUNKED_OUT, NULL},
        {LG_BODY_DECHUNK, 0, CHUNKED_IN NEXT, ALL, 0, DECODED, NEXT},
        {LG_BODY_DECHUNK, 0, CHUNKED_IN NEXT, 0, 0, DECODED, NEXT},
        {LG_BODY_DECHUNK, 0, CHUNKED_IN, 3, 2, DECODED, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const frame_case_t *c = &cases[i];
        size_t len = strlen(c->in), early = c->buffered == ALL ? len : c->buffered;
        char want[256];
        rig_t r;

        cr_log_info("case %zu", i);
        snprintf(want, sizeof(want), "%s%s", HEAD, c->out);
        rig_open(&r, SOCK_STREAM, HEAD, c->in, early);
        cr_assert_eq(rig_start(&r, c->mode, c->length), LG_OK);
        rig_source(&r, c->in + early, len - early, c->piece, 0);
        cr_assert_eq(rig_run(&r), LG_OK, "case %zu", i);
        assert_out_str(&r, want);
        if (c->rest != NULL) {
            cr_assert_not_null(r.buf, "case %zu: the next request was dropped", i);
            cr_assert_eq(lg_buf_len(r.buf), strlen(c->rest), "case %zu", i);
            cr_assert_eq(memcmp(r.buf->data + r.buf->pos, c->rest, strlen(c->rest)), 0);
        } else {
            /* nothing left, and no empty buffer held (even after a read of framing only) */
            cr_assert_null(r.buf, "case %zu: the pump kept a buffer", i);
        }
        rig_close(&r);
    }
}

/* ---- chunked: chunks larger than the buffer (leading zeros, extensions), bad framing, limit */

Test(pump, chunked_large_body_is_reencoded)
{
    size_t n = 6, size = 10000, in_len = 0, body_len, want_len;
    char *data = pattern(n * size), *in = malloc(n * (size + 64));
    char *body = chunked(data, n * size, size, &body_len);
    char *want = concat(HEAD, body, body_len, &want_len);
    rig_t r;

    cr_assert_not_null(in);
    for (size_t i = 0; i < n; i++) {
        in_len += (size_t)sprintf(in + in_len, "%06zx;i=%zu\r\n", size, i);
        memcpy(in + in_len, data + i * size, size);
        in_len += size;
        in_len += (size_t)sprintf(in + in_len, "\r\n");
    }
    in_len += (size_t)sprintf(in + in_len, "0\r\n\r\n");

    rig_open(&r, SOCK_STREAM, HEAD, in, 100);
    cr_assert_eq(rig_start(&r, LG_BODY_CHUNKED, 0), LG_OK);
    rig_source(&r, in + 100, in_len - 100, 7777, 0);
    cr_assert_eq(rig_run(&r), LG_OK);
    assert_out(&r, want, want_len);
    cr_assert_eq(r.p.out, want_len);
    rig_close(&r);
    free(data);
    free(in);
    free(body);
    free(want);
}

typedef struct bad_case {
    const char *in;
    uint64_t limit;
    const char *why; /* NULL: over the limit */
} bad_case_t;

Test(pump, malformed_or_too_large_chunked_body_fails)
{
    static const bad_case_t cases[] = {
        {"5\nhello\r\n0\r\n\r\n", 0, "bare LF"},
        {"zz\r\nhello\r\n0\r\n\r\n", 0, "chunk size is not hexadecimal"},
        {"5\r\nhelloX\r\n0\r\n\r\n", 0, "chunk data not followed by CRLF"},
        {"5;=x\r\nhello\r\n0\r\n\r\n", 0, "invalid chunk extension"},
        {"5\r\nhello\r\n0\r\nbad field\r\n\r\n", 0, "invalid trailer field name"},
        {"b\r\n0123456789a\r\n0\r\n\r\n", 10, NULL},
        {"6\r\n012345\r\n5\r\n6789a\r\n0\r\n\r\n", 10, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bad_case_t *c = &cases[i];
        rig_t r;

        cr_log_info("case %zu", i);
        rig_open(&r, SOCK_STREAM, HEAD, NULL, 0);
        r.p.limit = c->limit;
        cr_assert_eq(rig_start(&r, LG_BODY_CHUNKED, 0), LG_OK);
        rig_source(&r, c->in, strlen(c->in), 0, 0);
        cr_assert_eq(rig_run(&r), LG_PUMP_EBAD, "case %zu", i);
        if (c->why != NULL) {
            cr_assert_not(lg_pump_over_limit(&r.p), "case %zu", i);
            cr_assert_str_eq(pump_why(&r.p), c->why, "case %zu", i);
        } else {
            cr_assert(lg_pump_over_limit(&r.p), "case %zu: not reported over the limit", i);
        }
        rig_close(&r);
    }
}

/* A body of exactly `limit` bytes passes. */
Test(pump, chunked_body_at_the_limit_passes)
{
    const char in[] = "6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n";
    rig_t r;

    rig_open(&r, SOCK_STREAM, HEAD, NULL, 0);
    r.p.limit = 10;
    cr_assert_eq(rig_start(&r, LG_BODY_CHUNKED, 0), LG_OK);
    rig_source(&r, in, strlen(in), 0, 0);
    cr_assert_eq(rig_run(&r), LG_OK);
    cr_assert_not(lg_pump_over_limit(&r.p));
    assert_out_str(&r, HEAD "6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n");
    rig_close(&r);
}

/* ---- close-delimited */

Test(pump, eof_body_ends_when_the_source_closes)
{
    static const size_t sizes[] = {0, 10, 200 * 1024};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i], early = len > 10 ? 10 : len, want_len;
        char *body = pattern(len), *want = concat(HEAD, body, len, &want_len);
        rig_t r;

        rig_open(&r, SOCK_STREAM, HEAD, body, early);
        cr_assert_eq(rig_start(&r, LG_BODY_EOF, 0), LG_OK);
        rig_source(&r, body + early, len - early, 0, 1);
        cr_assert_eq(rig_run(&r), LG_OK, "%zu bytes", len);
        cr_assert_eq(r.close_in, 2, "%zu bytes: finished before the source closed", len);
        assert_out(&r, want, want_len);
        cr_assert_eq(r.p.moved, len);
        rig_close(&r);
        free(body);
        free(want);
    }
}

/* ---- one write for the head and what came with it */

Test(pump, head_and_first_body_bytes_go_in_one_write)
{
    static const struct {
        lg_body_t mode;
        uint64_t length;
        const char *in, *out;
    } cases[] = {
        {LG_BODY_LENGTH, 5, "hello", "hello"},
        {LG_BODY_CHUNKED, 0, "5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n"},
        {LG_BODY_NONE, 0, "", ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rec[512], want[512];
        ssize_t n;
        rig_t r;

        /* a SOCK_SEQPACKET destination keeps the boundaries of every write */
        rig_open(&r, SOCK_SEQPACKET, HEAD, cases[i].in, strlen(cases[i].in));
        cr_assert_eq(rig_start(&r, cases[i].mode, cases[i].length), LG_OK);
        cr_assert_eq(lg_pump_run(&r.p), LG_OK, "case %zu", i);
        snprintf(want, sizeof(want), "%s%s", HEAD, cases[i].out);
        n = recv(r.dst_peer, rec, sizeof(rec), MSG_DONTWAIT);
        cr_assert(n == (ssize_t)strlen(want) && memcmp(rec, want, (size_t)n) == 0,
                  "case %zu: the first write was [%.*s]", i, (int)(n > 0 ? n : 0), rec);
        cr_assert_eq(recv(r.dst_peer, rec, sizeof(rec), MSG_DONTWAIT), -1, "case %zu", i);
        cr_assert_eq(errno, EAGAIN);
        rig_close(&r);
    }
}

/* ---- a destination that does not read */

static void shrink_sndbuf(int fd)
{
    int size = 4096;

    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
}

Test(pump, full_destination_waits_then_completes)
{
    static const struct {
        lg_body_t mode;
        size_t len;
        size_t chunk; /* > 0: the source sends it chunked, in chunks of this size */
    } cases[] = {
        {LG_BODY_LENGTH, 1024 * 1024, 0}, /* spliced */
        {LG_BODY_LENGTH, 60 * 1024, 0},   /* copied */
        {LG_BODY_EOF, 300 * 1024, 0},       {LG_BODY_CHUNKED, 300 * 1024, 5000},
        {LG_BODY_DECHUNK, 300 * 1024, 777},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len, in_len = len, want_len, tries = 0;
        char *body = pattern(len), *in = body, *want;
        uint64_t out;
        int rc;
        rig_t r;

        if (cases[i].chunk > 0)
            in = chunked(body, len, cases[i].chunk, &in_len);
        want = cases[i].mode == LG_BODY_DECHUNK ? concat(HEAD, body, len, &want_len)
                                                : concat(HEAD, in, in_len, &want_len);
        rig_open(&r, SOCK_STREAM, HEAD, NULL, 0);
        shrink_sndbuf(end_fd(&r.dst));
        cr_assert_eq(rig_start(&r, cases[i].mode, len), LG_OK);
        rig_source(&r, in, in_len, 0, cases[i].mode == LG_BODY_EOF);
        r.reading = 0;
        do {
            rc = rig_step(&r);
            if (rc == LG_AGAIN && end_has(&r.dst, END_WR))
                rig_wait(&r);
            cr_assert(rc == LG_AGAIN || rc == LG_PUMP_YIELD, "case %zu: %d", i, rc);
        } while ((rc != LG_AGAIN || end_has(&r.dst, END_WR)) && ++tries < 100000);
        cr_assert_not(end_has(&r.dst, END_WR), "case %zu: the destination never filled", i);
        cr_assert_lt(r.p.out, want_len);

        /* nothing changes until the destination is writable again */
        out = r.p.out;
        cr_assert_eq(lg_pump_run(&r.p), LG_AGAIN);
        cr_assert_eq(r.p.out, out);

        r.reading = 1;
        cr_assert_eq(rig_run(&r), LG_OK, "case %zu", i);
        assert_out(&r, want, want_len);
        rig_close(&r);
        if (in != body)
            free(in);
        free(body);
        free(want);
    }
}

/* ---- readiness flags: a clear flag means no system call on that socket */

#define NOTHING ((size_t)-1)

Test(pump, clear_flag_means_no_system_call)
{
    static const struct {
        lg_body_t mode;
        uint64_t length;
        const char *buffered;
        int src_fake, dst_fake; /* the end is fd -1 with its flag clear */
        int rc;
        size_t out; /* bytes after the head that reach the destination, or NOTHING */
    } cases[] = {
        {LG_BODY_LENGTH, 100, NULL, 1, 0, LG_AGAIN, 0},
        {LG_BODY_LENGTH, 100, NULL, 0, 1, LG_AGAIN, NOTHING},
        {LG_BODY_LENGTH, 100, "abc", 1, 1, LG_AGAIN, NOTHING},
        {LG_BODY_LENGTH, 1 << 20, NULL, 1, 0, LG_AGAIN, 0},
        {LG_BODY_LENGTH, 1 << 20, NULL, 1, 1, LG_AGAIN, NOTHING},
        {LG_BODY_EOF, 0, NULL, 1, 0, LG_AGAIN, 0},
        {LG_BODY_CHUNKED, 0, "5\r\nhe", 1, 0, LG_AGAIN, 5},
        {LG_BODY_CHUNKED, 0, "5\r\nhe", 1, 1, LG_AGAIN, NOTHING},
        /* the control: a set flag on fd -1 fails loudly */
        {LG_BODY_LENGTH, 100, NULL, 2, 0, LG_PUMP_ESRC, 0},
        {LG_BODY_LENGTH, 100, NULL, 0, 2, LG_PUMP_EDST, NOTHING},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *b = cases[i].buffered;
        size_t hlen = strlen(HEAD);
        int src_fd, dst_fd;
        rig_t r;

        rig_open(&r, SOCK_STREAM, HEAD, b, b != NULL ? strlen(b) : 0);
        src_fd = end_fd(&r.src);
        dst_fd = end_fd(&r.dst);
        if (cases[i].src_fake)
            end_set(&r.src, -1, cases[i].src_fake == 2 ? END_RD : 0);
        if (cases[i].dst_fake)
            end_set(&r.dst, -1, cases[i].dst_fake == 2 ? END_WR : 0);
        cr_assert_eq(rig_start(&r, cases[i].mode, cases[i].length), LG_OK);
        cr_assert_eq(lg_pump_run(&r.p), cases[i].rc, "case %zu", i);
        cr_assert_eq(end_has(&r.src, END_ERR), cases[i].rc == LG_PUMP_ESRC, "case %zu", i);
        cr_assert_eq(end_has(&r.dst, END_ERR), cases[i].rc == LG_PUMP_EDST, "case %zu", i);
        rig_drain(&r);
        cr_assert_eq(r.out_len, cases[i].out == NOTHING ? 0 : hlen + cases[i].out, "case %zu", i);
        cr_assert_eq(lg_buf_len(r.head), cases[i].out == NOTHING ? hlen : 0, "case %zu", i);
        /* rig_close closes the real sockets, not fd -1 */
        end_set(&r.src, src_fd, 0);
        end_set(&r.dst, dst_fd, 0);
        rig_close(&r);
    }
}

/* ---- ENCODE: a body without framing (until the source closes) goes out chunked */

/* The chunked body `raw` decoded (sizes and data only, as the tests write it); NULL if bad. */
static char *dechunk(const char *raw, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1), *end;
    size_t o = 0, i = 0;

    while (i < len) {
        unsigned long n = strtoul(raw + i, &end, 16);

        if (end == raw + i || strncmp(end, "\r\n", 2) != 0)
            return NULL;
        i = (size_t)(end - raw) + 2;
        if (n == 0)
            return strncmp(raw + i, "\r\n", 2) == 0 && i + 2 == len ? (*out_len = o, out) : NULL;
        memcpy(out + o, raw + i, n);
        o += n;
        i += n;
        if (strncmp(raw + i, "\r\n", 2) != 0)
            return NULL;
        i += 2;
    }
    return NULL;
}

Test(pump, encode_chunks_a_body_until_the_source_closes)
{
    static const struct {
        size_t len, piece;
    } cases[] = {{5, 0}, {0, 0}, {1, 1}, {100000, 0}, {100000, 777}, {300 * 1024, 4096}};

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *body = pattern(cases[i].len), *got;
        size_t got_len = 0;
        rig_t r;

        rig_open(&r, SOCK_STREAM, HEAD, "", 0);
        cr_assert_eq(rig_start(&r, LG_BODY_ENCODE, 0), LG_OK);
        rig_source(&r, body, cases[i].len, cases[i].piece, 1);
        cr_assert_eq(rig_run(&r), LG_OK, "case %zu", i);
        cr_assert_geq(r.out_len, strlen(HEAD));
        cr_assert_eq(memcmp(r.out, HEAD, strlen(HEAD)), 0, "case %zu: the head first", i);
        got = dechunk(r.out + strlen(HEAD), r.out_len - strlen(HEAD), &got_len);
        cr_assert_not_null(got, "case %zu: not chunked: %.*s", i, (int)LG_MIN(r.out_len, 200),
                           r.out);
        cr_assert_eq(got_len, cases[i].len, "case %zu", i);
        cr_assert_eq(memcmp(got, body, got_len), 0, "case %zu: other bytes", i);
        cr_assert_eq(r.p.moved, cases[i].len, "case %zu: body bytes counted", i);
        if (cases[i].len == 5) /* one read: exactly one chunk, then the last */
            assert_out_str(&r, lg_fmt("%s5\r\n%s\r\n0\r\n\r\n", HEAD, body));
        free(got);
        rig_close(&r);
        free(body);
    }
}
