/*
 * stream.h - the bytes of one connected socket, plain or (later) TLS, behind one interface.
 *
 * A stream keeps the readiness discipline of sock.h: it is registered in the loop once, for
 * input and output, edge-triggered, and never modified; `sock.flags` say what the stream's user
 * may do without a wasted system call. LG_SOCK_RD means "a read may return bytes now" and
 * LG_SOCK_WR "a write may take bytes now" at the level of the stream: for a plain socket they
 * are the kernel's readiness; a TLS stream folds the socket's readiness, the handshake and the
 * bytes waiting inside the TLS object (want-read, want-write, pending) into the same two bits.
 * Users never look below: they call lg_stream_read/lg_stream_writev while the bit is set.
 *
 * Bytes that need no inspection may move with splice(2) only when the fd carries the plain
 * bytes: LG_STREAM_SPLICE_RD (splice from it) and LG_STREAM_SPLICE_WR (splice into it), both
 * always for a plain socket, for TLS each with kernel TLS in that direction (docs/tls.md).
 */
#ifndef LG_STREAM_H
#define LG_STREAM_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/sock.h"

#define LG_STREAM_SPLICE_RD 0x100 /* in sock.flags: reading the fd gives the plain bytes */
#define LG_STREAM_HANDSHAKE 0x200 /* in sock.flags: a handshake must finish before any byte */
#define LG_STREAM_SPLICE_WR 0x400 /* in sock.flags: what is written to the fd goes out as is */
#define LG_STREAM_SPLICE    (LG_STREAM_SPLICE_RD | LG_STREAM_SPLICE_WR)

typedef struct lg_stream lg_stream_t;

typedef struct lg_stream_ops {
    const char *name; /* "tcp", "tls": for logs */
    /*
     * Advance the handshake: LG_OK when the stream carries application bytes, LG_AGAIN while
     * it waits for readiness, LG_ERR when it failed (the stream is dead).
     */
    int (*handshake)(lg_stream_t *s);
    /* As lg_sock_read and lg_sock_writev (sock.h): same returns, same flag updates. */
    ssize_t (*read)(lg_stream_t *s, void *buf, size_t len);
    ssize_t (*writev)(lg_stream_t *s, const struct iovec *iov, int iovcnt);
    /* Send the end of our bytes (a FIN, or close_notify then FIN); LG_OK or LG_ERR. */
    int (*shutdown)(lg_stream_t *s);
    /* Fold epoll events into the readiness flags. */
    void (*events)(lg_stream_t *s, uint32_t ev);
    /* Release what the implementation holds (not the fd: lg_stream_close closes it). */
    void (*release)(lg_stream_t *s);
    /*
     * Optional: a splice from the fd failed (errno kept). 1 when the stream can go on through
     * read (kernel TLS: the next record is not data); it cleared LG_STREAM_SPLICE_RD and the
     * error, and set RD. 0: the failure stands.
     */
    int (*splice_refused)(lg_stream_t *s);
} lg_stream_ops_t;

/* The state of an implementation starts with its operations (one pointer keeps streams small). */
typedef struct lg_stream_impl {
    const lg_stream_ops_t *ops;
} lg_stream_impl_t;

struct lg_stream {
    lg_sock_t sock;         /* first: the loop's lg_io_t; flags as described above */
    lg_stream_impl_t *impl; /* a shared constant for plain streams; a TLS stream's own state */
};

/* A plain stream on the connected non-blocking socket `fd` whose events go to `handler`. */
void lg_stream_plain(lg_stream_t *s, int fd, lg_io_handler_t handler);

/* LG_OK at once when no handshake is pending (plain streams, established TLS). */
static inline int lg_stream_handshake(lg_stream_t *s)
{
    return (s->sock.flags & LG_STREAM_HANDSHAKE) ? s->impl->ops->handshake(s) : LG_OK;
}

static inline ssize_t lg_stream_read(lg_stream_t *s, void *buf, size_t len)
{
    return s->impl->ops->read(s, buf, len);
}

static inline ssize_t lg_stream_writev(lg_stream_t *s, const struct iovec *iov, int iovcnt)
{
    return s->impl->ops->writev(s, iov, iovcnt);
}

static inline int lg_stream_shutdown(lg_stream_t *s)
{
    return s->impl->ops->shutdown(s);
}

static inline void lg_stream_events(lg_stream_t *s, uint32_t ev)
{
    s->impl->ops->events(s, ev);
}

/* Body bytes may be spliced from `src` (LG_STREAM_SPLICE_RD) into `dst` (LG_STREAM_SPLICE_WR). */
static inline int lg_stream_can_splice(const lg_stream_t *src, const lg_stream_t *dst)
{
    return (src->sock.flags & LG_STREAM_SPLICE_RD) && (dst->sock.flags & LG_STREAM_SPLICE_WR);
}

/* After a failed splice from `s`: 1 when reading may go on through lg_stream_read. */
static inline int lg_stream_splice_refused(lg_stream_t *s)
{
    return s->impl->ops->splice_refused != NULL && s->impl->ops->splice_refused(s);
}

static inline int lg_stream_closed(const lg_stream_t *s)
{
    return (s->sock.flags & LG_SOCK_CLOSED) != 0;
}

/* Release the implementation and close the fd (the loop forgets it); flags get CLOSED. */
void lg_stream_close(lg_stream_t *s);

#endif
