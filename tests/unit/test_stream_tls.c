/*
 * test_stream_tls.c - the TLS stream (src/stream/tls.c) against an OpenSSL client over a
 * socket pair: handshake, bytes both ways, readiness kept without EAGAIN round trips, a full
 * destination, close_notify both ways, plain HTTP and garbage instead of a ClientHello.
 * The certificate is made at test time with the openssl command; no key is committed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_test.h"
#include "stream/tls.h"

static char why[LG_TLS_ERR_MAX]; /* the reason of a failed handshake */

#ifdef __SANITIZE_ADDRESS__
size_t
__sanitizer_get_current_allocated_bytes(void); /* libasan's (sanitizer/allocator_interface.h) */
#endif

/* Bytes the process has allocated now (ASan's allocator replaces malloc's under ASan). */
static size_t heap_in_use(void)
{
#ifdef __SANITIZE_ADDRESS__
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

typedef struct pair {
    SSL_CTX *sctx, *cctx;
    lg_stream_t s; /* the server's end, under test */
    int cfd;       /* the client's end */
    SSL *c;
} pair_t;

static void ignore_events(lg_io_t *io, uint32_t ev)
{
    LG_UNUSED(io);
    LG_UNUSED(ev);
}

/* A self-signed ECDSA certificate for "localhost" in `dir`. */
static void make_cert(const char *dir, char **cert, char **key)
{
    *cert = lg_fmt("%s/cert.pem", dir);
    *key = lg_fmt("%s/key.pem", dir);
    cr_assert_eq(system(lg_fmt("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                               "-nodes -subj /CN=localhost -days 2 -keyout %s -out %s "
                               ">/dev/null 2>&1",
                               *key, *cert)),
                 0, "openssl could not make a test certificate");
}

static void pair_open(pair_t *p, unsigned sndbuf)
{
    char *cert, *key;
    int sv[2];

    make_cert(lg_test_tempdir(), &cert, &key);
    p->sctx = SSL_CTX_new(TLS_server_method());
    cr_assert_eq(SSL_CTX_use_certificate_chain_file(p->sctx, cert), 1);
    cr_assert_eq(SSL_CTX_use_PrivateKey_file(p->sctx, key, SSL_FILETYPE_PEM), 1);
    p->cctx = SSL_CTX_new(TLS_client_method());
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    if (sndbuf != 0)
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    cr_assert_eq(lg_stream_tls(&p->s, sv[0], ignore_events, SSL_new(p->sctx), 0), LG_OK);
    p->cfd = sv[1];
    p->c = SSL_new(p->cctx);
    SSL_set_fd(p->c, p->cfd);
    SSL_set_connect_state(p->c);
}

static void pair_close(pair_t *p)
{
    lg_stream_close(&p->s);
    SSL_free(p->c);
    close(p->cfd);
    SSL_CTX_free(p->sctx);
    SSL_CTX_free(p->cctx);
}

/* What the loop does on an edge: fold the socket's current readiness into the stream. */
static void server_events(pair_t *p)
{
    struct pollfd pf = {.fd = p->s.sock.io.fd, .events = POLLIN | POLLOUT};
    uint32_t ev = 0;

    cr_assert(poll(&pf, 1, 0) >= 0);
    if (pf.revents & POLLIN)
        ev |= EPOLLIN;
    if (pf.revents & POLLOUT)
        ev |= EPOLLOUT;
    if (pf.revents & POLLHUP)
        ev |= EPOLLHUP;
    lg_stream_events(&p->s, ev);
}

/* Both sides of each of the `n` pairs step, in turn, until every handshake is over. */
static void handshake_all(pair_t *p, size_t n)
{
    int server[2] = {LG_AGAIN, LG_AGAIN}, client[2] = {0, 0};
    size_t done = 0;

    cr_assert_leq(n, 2);
    for (int i = 0; i < 1000 && done < n; i++) {
        done = 0;
        for (size_t k = 0; k < n; k++) {
            if (client[k] != 1)
                client[k] = SSL_do_handshake(p[k].c);
            server_events(&p[k]);
            server[k] = lg_stream_handshake(&p[k].s);
            cr_assert_neq(server[k], LG_ERR, "handshake %zu failed: %s", k,
                          lg_stream_tls_error(&p[k].s, why, sizeof(why)));
            done += server[k] == LG_OK && client[k] == 1;
        }
    }
    cr_assert_eq(done, n, "a handshake did not finish");
}

static void handshake(pair_t *p)
{
    handshake_all(p, 1);
}

/* The client of `p` reads `len` bytes. */
static void client_read_all(pair_t *p, char *out, size_t len)
{
    size_t n = 0;

    for (int i = 0; i < 1000 && n < len; i++) {
        int r = SSL_read(p->c, out + n, (int)(len - n));

        if (r > 0)
            n += (size_t)r;
    }
    cr_assert_eq(n, len);
}

/* Read `len` bytes from the stream, calling it only while RD is set. */
static size_t server_read_all(pair_t *p, char *out, size_t len)
{
    size_t got = 0;

    for (int i = 0; i < 100000 && got < len; i++) {
        ssize_t n;

        if (!(p->s.sock.flags & LG_SOCK_RD)) {
            struct pollfd pf = {.fd = p->s.sock.io.fd, .events = POLLIN};

            cr_assert_eq(poll(&pf, 1, lg_test_timeout_ms()), 1, "no bytes came");
            server_events(p);
            continue;
        }
        n = lg_stream_read(&p->s, out + got, len - got);
        cr_assert(n > 0 || n == LG_AGAIN, "read gave %zd", n);
        if (n > 0)
            got += (size_t)n;
    }
    return got;
}

static char *pattern(size_t len)
{
    char *b = malloc(len);

    for (size_t i = 0; i < len; i++)
        b[i] = (char)('a' + (i * 7 + i / 251) % 26);
    return b;
}

Test(stream_tls, handshake_then_bytes_both_ways)
{
    pair_t p;
    char buf[64];
    struct iovec iov[2] = {{"HTTP/1.1 200 OK\r\n", 17}, {"\r\n", 2}};

    pair_open(&p, 0);
    handshake(&p);
    cr_assert_not(lg_stream_can_splice(&p.s, &p.s), "a TLS stream's bytes are not the socket's");
    cr_assert_not_null(lg_stream_ssl(&p.s));
    cr_assert_eq(SSL_write(p.c, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    cr_assert_eq(server_read_all(&p, buf, 18), 18);
    cr_assert_eq(memcmp(buf, "GET / HTTP/1.1\r\n\r\n", 18), 0);
    cr_assert_eq(lg_stream_writev(&p.s, iov, 2), 19);
    client_read_all(&p, buf, 19);
    cr_assert_eq(memcmp(buf, "HTTP/1.1 200 OK\r\n\r\n", 19), 0);
    pair_close(&p);
}

/* Streams share one BIO: two whose handshakes, reads and writes interleave keep their bytes. */
Test(stream_tls, interleaved_streams_keep_their_own_bytes)
{
    static const char *const up[2] = {"GET /zero", "GET /one!"}, *const down[2] = {"0 ok", "1 ok"};
    pair_t p[2];
    char buf[16];

    pair_open(&p[0], 0);
    pair_open(&p[1], 0);
    handshake_all(p, 2);
    for (int k = 0; k < 2; k++)
        cr_assert_eq(SSL_write(p[k].c, up[k], 9), 9);
    for (int k = 1; k >= 0; k--) {
        struct iovec iov = {(void *)(uintptr_t)down[k], 4};

        cr_assert_eq(server_read_all(&p[k], buf, 9), 9);
        cr_assert_eq(memcmp(buf, up[k], 9), 0, "stream %d read another's bytes", k);
        cr_assert_eq(lg_stream_writev(&p[k].s, &iov, 1), 4);
    }
    for (int k = 0; k < 2; k++) {
        client_read_all(&p[k], buf, 4);
        cr_assert_eq(memcmp(buf, down[k], 4), 0, "client %d got another's bytes", k);
    }
    pair_close(&p[0]);
    pair_close(&p[1]);
}

/* A burst read whole ends with RD clear: the stream knows it is drained without an EAGAIN. */
Test(stream_tls, a_drained_stream_clears_rd_without_an_extra_read)
{
    pair_t p;
    char buf[4096];
    ssize_t n;

    pair_open(&p, 0);
    handshake(&p);
    cr_assert_eq(SSL_write(p.c, "hello", 5), 5);
    server_events(&p);
    cr_assert(p.s.sock.flags & LG_SOCK_RD);
    n = lg_stream_read(&p.s, buf, sizeof(buf));
    cr_assert_eq(n, 5);
    cr_assert_not(p.s.sock.flags & LG_SOCK_RD, "RD still set after the only record was read");
    pair_close(&p);
}

/* 1 MiB to a client that does not read: writes stop with WR clear, then finish, bytes exact. */
Test(stream_tls, a_full_destination_waits_then_completes)
{
    size_t len = 1 << 20, off = 0, got = 0;
    char *data = pattern(len), *in = malloc(len);
    pair_t p;
    int blocked = 0;

    pair_open(&p, 16384);
    handshake(&p);
    for (int i = 0; i < 200000 && (off < len || got < len); i++) {
        if (off < len && (p.s.sock.flags & LG_SOCK_WR)) {
            struct iovec iov = {data + off, len - off};
            ssize_t w = lg_stream_writev(&p.s, &iov, 1);

            cr_assert(w >= 0, "writev failed");
            off += (size_t)w;
            if (!(p.s.sock.flags & LG_SOCK_WR))
                blocked = 1;
            continue;
        }
        if (blocked || off == len) {
            int r = SSL_read(p.c, in + got, (int)LG_MIN(len - got, (size_t)65536));

            if (r > 0)
                got += (size_t)r;
        }
        server_events(&p);
    }
    cr_assert(blocked, "the destination never filled (SO_SNDBUF too large?)");
    cr_assert_eq(off, len);
    cr_assert_eq(got, len);
    cr_assert_eq(memcmp(in, data, len), 0, "the client got other bytes");
    free(data);
    free(in);
    pair_close(&p);
}

Test(stream_tls, close_notify_both_ways)
{
    pair_t p;
    char buf[16];
    int r = 0;

    pair_open(&p, 0);
    handshake(&p);
    cr_assert_eq(SSL_shutdown(p.c), 0);
    server_events(&p);
    cr_assert_eq(lg_stream_read(&p.s, buf, sizeof(buf)), 0, "close_notify is the end of bytes");
    cr_assert(p.s.sock.flags & LG_SOCK_EOF);
    cr_assert_eq(lg_stream_shutdown(&p.s), LG_OK);
    for (int i = 0; i < 1000 && r == 0; i++)
        r = SSL_read(p.c, buf, sizeof(buf));
    cr_assert_eq(SSL_get_error(p.c, r), SSL_ERROR_ZERO_RETURN, "no close_notify from lifeguard");
    pair_close(&p);
}

/* Bytes instead of a ClientHello: the handshake fails, and plain HTTP is recognised. */
static int server_handshake_on(pair_t *p, const char *bytes, size_t len)
{
    int r = LG_AGAIN;

    cr_assert_eq(write(p->cfd, bytes, len), (ssize_t)len);
    for (int i = 0; i < 100 && r == LG_AGAIN; i++) {
        server_events(p);
        r = lg_stream_handshake(&p->s);
    }
    return r;
}

Test(stream_tls, plain_http_is_told_apart)
{
    pair_t p;

    pair_open(&p, 0);
    cr_assert_eq(server_handshake_on(&p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), LG_ERR);
    cr_assert(lg_stream_tls_plain_http(&p.s));
    cr_assert_neq(lg_stream_tls_error(&p.s, why, sizeof(why))[0], '\0');
    pair_close(&p);
}

Test(stream_tls, garbage_fails_the_handshake)
{
#define BYTES(s)                                                                                   \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
    static const struct {
        const char *p;
        size_t len;
    } garbage[] = {
        BYTES("\x01\x02\x03\x04\x05\x06\x07\x08\x09"),     /* not a TLS record */
        BYTES("\x17\x03\x03\x00\x05hello"),                /* application data before a hello */
        BYTES("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x7f"), /* a ClientHello of one byte */
    };

    for (size_t i = 0; i < LG_NELEMS(garbage); i++) {
        pair_t p;

        pair_open(&p, 0);
        cr_assert_eq(server_handshake_on(&p, garbage[i].p, garbage[i].len), LG_ERR, "case %zu", i);
        cr_assert_not(lg_stream_tls_plain_http(&p.s), "case %zu", i);
        cr_assert_neq(lg_stream_tls_error(&p.s, why, sizeof(why))[0], '\0', "case %zu", i);
        pair_close(&p);
    }
}

Test(stream_tls, a_client_that_closes_mid_handshake)
{
    pair_t p;
    int r = LG_AGAIN;

    pair_open(&p, 0);
    SSL_do_handshake(p.c); /* the ClientHello goes out */
    shutdown(p.cfd, SHUT_WR);
    for (int i = 0; i < 100 && r == LG_AGAIN; i++) {
        server_events(&p);
        r = lg_stream_handshake(&p.s);
    }
    cr_assert_eq(r, LG_ERR);
    cr_assert_neq(lg_stream_tls_error(&p.s, why, sizeof(why))[0], '\0');
    pair_close(&p);
}

#define TEST_STAPLE_LEN 1500 /* a typical OCSP response with its responder's certificate */

/* The server's status callback: staple TEST_STAPLE_LEN bytes (the client does not check them). */
static int staple(SSL *ssl, void *arg)
{
    unsigned char *resp = OPENSSL_zalloc(TEST_STAPLE_LEN);

    LG_UNUSED(arg);
    cr_assert_not_null(resp);
    cr_assert_eq(SSL_set_tlsext_status_ocsp_resp(ssl, resp, TEST_STAPLE_LEN), 1);
    return SSL_TLSEXT_ERR_OK;
}

/* A stapled OCSP response reaches the client, and the server keeps no copy after the handshake. */
Test(stream_tls, a_stapled_response_is_not_kept)
{
    const unsigned char *resp = NULL;
    pair_t p;

    pair_open(&p, 0);
    SSL_CTX_set_tlsext_status_cb(p.sctx, staple);
    SSL_set_tlsext_status_type(p.c, TLSEXT_STATUSTYPE_ocsp);
    handshake(&p);
    cr_assert_eq(SSL_get_tlsext_status_ocsp_resp(p.c, &resp), TEST_STAPLE_LEN,
                 "the client got no staple");
    cr_assert_eq(SSL_get_tlsext_status_ocsp_resp(lg_stream_ssl(&p.s), &resp), -1,
                 "the server still holds the response");
    cr_assert_null(resp);
    pair_close(&p);
}

/* Record buffers stay while a stream is active and go back once it has been quiet. */
Test(stream_tls, quiet_streams_give_their_buffers_back)
{
    pair_t p;
    char buf[64];
    size_t before, after_busy;

    pair_open(&p, 0);
    lg_now = lg_clock_ms();
    handshake(&p);
    cr_assert_eq(SSL_write(p.c, "ping", 4), 4);
    cr_assert_eq(server_read_all(&p, buf, 4), 4);
    before = heap_in_use();
    cr_assert_eq(lg_stream_tls_trim(1000), 0, "an active stream gave its buffers back");
    after_busy = heap_in_use();
    cr_assert_eq(after_busy, before);
    lg_now += 1000;
    cr_assert_eq(lg_stream_tls_trim(1000), 1);
    cr_assert_geq(before - heap_in_use(), 16384, "less than a record buffer went back");
    /* and the stream works on, taking buffers again */
    cr_assert_eq(SSL_write(p.c, "pong", 4), 4);
    cr_assert_eq(server_read_all(&p, buf, 4), 4);
    cr_assert_eq(memcmp(buf, "pong", 4), 0);
    pair_close(&p);
}
