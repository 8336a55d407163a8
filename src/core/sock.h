/*
 * sock.h - a non-blocking socket registered in the event loop, with remembered readiness.
 *
 * Edge-triggered epoll reports a change once; these flags keep it. A reader clears SOCK_RD
 * when a read comes back short or EAGAIN, a writer clears SOCK_WR on a short write or EAGAIN,
 * and nothing calls read or write on a socket whose flag is clear. That is how a request
 * costs one read and one write per side, with no EAGAIN round trips.
 */
#ifndef LG_SOCK_H
#define LG_SOCK_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "event/loop.h"

#define LG_SOCK_RD     0x01 /* readable: data, EOF or an error is waiting */
#define LG_SOCK_WR     0x02 /* writable */
#define LG_SOCK_EOF    0x04 /* the peer closed its side (read returned 0) */
#define LG_SOCK_ERR    0x08 /* a read or write failed; the socket is dead */
#define LG_SOCK_HUP    0x10 /* epoll reported RDHUP/HUP/ERR */
#define LG_SOCK_CLOSED 0x20 /* fd closed; the owner is freed after the batch */

typedef struct lg_sock {
    lg_io_t io;
    uint32_t flags;
} lg_sock_t;

/* Fold epoll events into the readiness flags. */
static inline void lg_sock_events(lg_sock_t *s, uint32_t ev)
{
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s->flags |= LG_SOCK_RD;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        s->flags |= LG_SOCK_WR;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s->flags |= LG_SOCK_HUP;
}

/*
 * Read up to `len` bytes. Returns the count (> 0), 0 at EOF (LG_SOCK_EOF set), LG_AGAIN when
 * nothing is there (LG_SOCK_RD cleared) or LG_ERR (LG_SOCK_ERR set, errno kept).
 */
ssize_t lg_sock_read(lg_sock_t *s, void *buf, size_t len);
/* Write what fits of `iov`; returns the count (>= 0; LG_SOCK_WR cleared when short) or LG_ERR. */
ssize_t lg_sock_writev(lg_sock_t *s, const struct iovec *iov, int iovcnt);
/* splice(2) between a socket and a pipe end, same conventions as read and write. */
ssize_t lg_sock_splice_in(lg_sock_t *s, int pipe_wfd, size_t len);
ssize_t lg_sock_splice_out(lg_sock_t *s, int pipe_rfd, size_t len);

#endif
