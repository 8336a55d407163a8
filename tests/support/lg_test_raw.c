/*
 * lg_test_raw.c - raw byte peers for the integration tests (see lg_test_raw.h).
 */
#include "lg_test_raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Pending connections a raw listener holds before it accepts them. */
#define LG_RAW_BACKLOG 64

#include "lg_test.h"

#define LG_RAW_READ 65536

static void raw_free(void *p)
{
    lg_raw_t *r = p;

    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r);
}

static void fd_free(void *p)
{
    close((int)(intptr_t)p - 1);
}

static lg_raw_t *raw_new(int fd)
{
    lg_raw_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        abort();
    r->fd = fd;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return lg_test_keep(r, raw_free);
}

int lg_raw_listen(int *port)
{
    int fd = lg_test_listen(LG_RAW_BACKLOG, port);

    if (fd < 0)
        return -1;
    lg_test_keep((void *)(intptr_t)(fd + 1), fd_free);
    return fd;
}

lg_raw_t *lg_raw_accept(int lfd, int timeout_ms)
{
    struct pollfd pf = {.fd = lfd, .events = POLLIN};
    int fd;

    if (poll(&pf, 1, timeout_ms) <= 0)
        return NULL;
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    return fd < 0 ? NULL : raw_new(fd);
}

lg_raw_t *lg_raw_connect(int port)
{
    int fd = lg_tcp_connect(port);

    return fd < 0 ? NULL : raw_new(fd);
}

/* Read what is there, waiting until `deadline` (ms, monotonic) for something. 1 got bytes, 0
 * nothing by then, -1 the peer closed. */
static int fill(lg_raw_t *r, uint64_t deadline)
{
    for (;;) {
        struct pollfd pf = {.fd = r->fd, .events = POLLIN};
        uint64_t now = lg_now_ms();
        ssize_t n;

        if (r->eof || r->fd < 0)
            return -1;
        if (r->cap - r->len < LG_RAW_READ) {
            r->cap = r->cap * 2 + LG_RAW_READ;
            r->buf = realloc(r->buf, r->cap + 1);
            if (r->buf == NULL)
                abort();
        }
        n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
        if (n > 0) {
            r->len += (size_t)n;
            return 1;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            r->eof = 1;
            return -1;
        }
        if (now >= deadline || poll(&pf, 1, (int)(deadline - now)) == 0)
            return 0;
    }
}

static char *take(lg_raw_t *r, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    memcpy(s, r->buf, n);
    s[n] = '\0';
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
    return lg_test_keep(s, NULL);
}

char *lg_raw_read_message(lg_raw_t *r, size_t body_len, size_t *head_len, int timeout_ms)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)timeout_ms;

    for (;;) {
        const char *end = r->len >= 4 ? memmem(r->buf, r->len, "\r\n\r\n", 4) : NULL;

        if (end != NULL) {
            size_t h = (size_t)(end + 4 - r->buf);

            if (r->len >= h + body_len) {
                if (head_len != NULL)
                    *head_len = h;
                return take(r, h + body_len);
            }
        }
        if (fill(r, deadline) <= 0)
            return NULL;
    }
}

char *lg_raw_read_all(lg_raw_t *r, size_t *len, int timeout_ms)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)timeout_ms;

    while (fill(r, deadline) > 0)
        ;
    if (len != NULL)
        *len = r->len;
    return take(r, r->len);
}

int lg_raw_write(lg_raw_t *r, const void *data, size_t len)
{
    const char *p = data;
    uint64_t deadline = lg_now_ms() + (uint64_t)lg_test_timeout_ms();

    while (len > 0) {
        ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EAGAIN && lg_now_ms() < deadline) {
            struct pollfd pf = {.fd = r->fd, .events = POLLOUT};

            poll(&pf, 1, 100);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return -1;
        }
    }
    return 0;
}

int lg_raw_wait_close(lg_raw_t *r, int timeout_ms)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)timeout_ms;
    int got;

    while ((got = fill(r, deadline)) > 0)
        r->len = 0;
    return got < 0;
}

size_t lg_raw_pending(lg_raw_t *r)
{
    while (fill(r, 0) > 0)
        ;
    return r->len;
}

void lg_raw_close(lg_raw_t *r)
{
    if (r != NULL && r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
}
