/*
 * plain.c - the plain TCP stream: the socket's own bytes and readiness (sock.h).
 */
#include "stream/stream.h"

#include <sys/socket.h>
#include <unistd.h>

static ssize_t plain_read(lg_stream_t *s, void *buf, size_t len)
{
    return lg_sock_read(&s->sock, buf, len);
}

static ssize_t plain_writev(lg_stream_t *s, const struct iovec *iov, int iovcnt)
{
    return lg_sock_writev(&s->sock, iov, iovcnt);
}

static int plain_shutdown(lg_stream_t *s)
{
    return shutdown(s->sock.io.fd, SHUT_WR) == 0 ? LG_OK : LG_ERR;
}

static void plain_events(lg_stream_t *s, uint32_t ev)
{
    lg_sock_events(&s->sock, ev);
}

static const lg_stream_ops_t plain_ops = {
    .name = "tcp",
    .handshake = NULL,
    .read = plain_read,
    .writev = plain_writev,
    .shutdown = plain_shutdown,
    .events = plain_events,
    .release = NULL,
};

static lg_stream_impl_t plain = {&plain_ops};

void lg_stream_plain(lg_stream_t *s, int fd, lg_io_handler_t handler)
{
    s->sock.io.fd = fd;
    s->sock.io.handler = handler;
    s->sock.flags = LG_STREAM_SPLICE;
    s->impl = &plain;
}

void lg_stream_close(lg_stream_t *s)
{
    if (s->sock.flags & LG_SOCK_CLOSED)
        return;
    close(s->sock.io.fd);
    if (s->impl->ops->release != NULL)
        s->impl->ops->release(s);
    s->impl = &plain;
    /* what an implementation held is gone; nothing reads a closed stream */ /* the loop forgets
                                                                                a closed fd by
                                                                                itself */
    s->sock.flags |= LG_SOCK_CLOSED;
}
