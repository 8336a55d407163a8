/*
 * test_pump_ktls.c - a source that refuses to splice part way (a kernel TLS socket whose next
 * record is not application data: splice says EINVAL) hands the pump over to reads, and the body
 * arrives whole. The source is a stream of the test's own: its fd is an eventfd (which cannot be
 * spliced: EINVAL, as a kTLS socket at an alert), its reads come from memory, and after each read
 * it offers splicing again, as the TLS stream does once OpenSSL holds no decrypted byte.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/lg.h"
#include "exchange/pump.h"
#include "lg_test.h"

#define BODY      (512 * 1024 + 3)
#define READ_MAX  16384 /* a TLS record's most */
#define BUF_SIZE  (16384 + 4096)
#define PIPE_SIZE (1 << 20)

typedef struct refusing {
    lg_stream_impl_t impl; /* first */
    const char *data;
    size_t len, off;
    unsigned refused; /* splice_refused calls */
} refusing_t;

static refusing_t *of(lg_stream_t *s)
{
    return (refusing_t *)(void *)s->impl;
}

static ssize_t src_read(lg_stream_t *s, void *buf, size_t len)
{
    refusing_t *r = of(s);
    size_t n = LG_MIN(LG_MIN(len, (size_t)READ_MAX), r->len - r->off);

    memcpy(buf, r->data + r->off, n);
    r->off += n;
    s->sock.flags |= LG_STREAM_SPLICE_RD; /* the record was read: splicing may go on */
    return (ssize_t)n;
}

static int src_refused(lg_stream_t *s)
{
    if (errno != EINVAL)
        return 0;
    of(s)->refused++;
    s->sock.flags &= ~(uint32_t)(LG_SOCK_ERR | LG_STREAM_SPLICE_RD);
    s->sock.flags |= LG_SOCK_RD;
    return 1;
}

static const lg_stream_ops_t refusing_ops = {
    .name = "refusing",
    .read = src_read,
    .splice_refused = src_refused,
};

static void ignore_events(lg_io_t *io, uint32_t ev)
{
    LG_UNUSED(io);
    LG_UNUSED(ev);
}

Test(pump_ktls, refused_splice_goes_on_with_reads)
{
    char *body = malloc(BODY), *out = malloc(BODY + 1);
    refusing_t impl = {.impl = {&refusing_ops}, .data = body, .len = BODY};
    lg_stream_t src = {.impl = &impl.impl}, dst;
    uint64_t deadline = lg_now_ms() + (uint64_t)lg_test_timeout_ms();
    lg_buf_t *buf = NULL;
    lg_pump_t p = {.src = &src, .dst = &dst, .buf = &buf};
    size_t got = 0;
    int pair[2], rc = LG_AGAIN;

    cr_assert(body != NULL && out != NULL);
    lg_pattern_fill(body, 0, BODY);
    lg_buf_init(BUF_SIZE);
    lg_pipe_init(PIPE_SIZE, 4);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
    lg_stream_plain(&dst, pair[0], ignore_events);
    dst.sock.flags |= LG_SOCK_WR;
    src.sock.io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert_geq(src.sock.io.fd, 0);
    src.sock.flags = LG_SOCK_RD | LG_STREAM_SPLICE_RD;
    cr_assert_eq(lg_pump_start(&p, LG_BODY_LENGTH, BODY, 0), LG_OK);
    while (rc != LG_OK && lg_now_ms() < deadline) {
        ssize_t n;

        rc = lg_pump_run(&p);
        cr_assert(rc == LG_OK || rc == LG_AGAIN || rc == LG_PUMP_YIELD, "pump: %d", rc);
        while ((n = recv(pair[1], out + got, BODY + 1 - got, MSG_DONTWAIT)) > 0)
            got += (size_t)n;
        dst.sock.flags |= LG_SOCK_WR; /* the test drained it */
    }
    cr_assert_eq(rc, LG_OK, "the pump did not finish: %zu of %d bytes", got, BODY);
    cr_assert_eq(got, (size_t)BODY);
    cr_assert_eq(memcmp(out, body, BODY), 0, "the body arrived changed");
    cr_assert_geq(impl.refused, 1, "splice was never tried");
    cr_assert_null(p.pipe, "the pump kept its pipe");
    lg_pump_release(&p);
    lg_buf_put(&buf);
    close(src.sock.io.fd);
    close(pair[0]);
    close(pair[1]);
    free(body);
    free(out);
}
