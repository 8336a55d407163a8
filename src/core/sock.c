/*
 * sock.c - reads, writes and splices that keep the readiness flags (see sock.h).
 */
#include "core/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/lg.h"

ssize_t lg_sock_read(lg_sock_t *s, void *buf, size_t len)
{
    ssize_t n;

    /* recv/send rather than read/write: the socket calls skip the VFS layer (fsnotify, f_pos). */
    do {
        n = recv(s->io.fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        /* Short means drained, except that a FIN seen with the data still waits to be read. */
        if ((size_t)n < len && !(s->flags & LG_SOCK_HUP))
            s->flags &= ~(uint32_t)LG_SOCK_RD;
        return n;
    }
    if (n == 0) {
        s->flags |= LG_SOCK_EOF;
        return 0;
    }
    s->flags &= ~(uint32_t)LG_SOCK_RD;
    if (errno == EAGAIN)
        return LG_AGAIN;
    s->flags |= LG_SOCK_ERR;
    return LG_ERR;
}

/* The flags after a write-like call that returned `n` of `want` bytes (see sock.h). */
static ssize_t after_write(lg_sock_t *s, ssize_t n, size_t want)
{
    if (n >= 0) {
        if ((size_t)n < want)
            s->flags &= ~(uint32_t)LG_SOCK_WR;
        return n;
    }
    s->flags &= ~(uint32_t)LG_SOCK_WR;
    if (errno == EAGAIN)
        return 0;
    s->flags |= LG_SOCK_ERR;
    return LG_ERR;
}

ssize_t lg_sock_writev(lg_sock_t *s, const struct iovec *iov, int iovcnt)
{
    size_t want = 0;
    ssize_t n;

    for (int i = 0; i < iovcnt; i++)
        want += iov[i].iov_len;
    do {
        if (iovcnt == 1) {
            n = send(s->io.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
        } else {
            struct msghdr msg = {.msg_iov = (struct iovec *)(uintptr_t)iov,
                                 .msg_iovlen = (size_t)iovcnt};

            n = sendmsg(s->io.fd, &msg, MSG_NOSIGNAL);
        }
    } while (n < 0 && errno == EINTR);
    return after_write(s, n, want);
}

ssize_t lg_sock_splice_in(lg_sock_t *s, int pipe_wfd, size_t len)
{
    ssize_t n;

    do {
        n = splice(s->io.fd, NULL, pipe_wfd, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n == 0) {
        s->flags |= LG_SOCK_EOF;
        return 0;
    }
    if (errno == EAGAIN) {
        s->flags &= ~(uint32_t)LG_SOCK_RD;
        return LG_AGAIN;
    }
    s->flags |= LG_SOCK_ERR;
    return LG_ERR;
}

ssize_t lg_sock_splice_out(lg_sock_t *s, int pipe_rfd, size_t len)
{
    ssize_t n;

    do {
        n = splice(pipe_rfd, NULL, s->io.fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    return after_write(s, n, len);
}
