/*
 * dns_a.c - one A lookup of a client of the master, without blocking (see dns.h).
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/lg.h"
#include "health/dns.h"

#define LG_DNS_A_MSG_MAX   1500
#define LG_DNS_A_TYPE      1
#define LG_DNS_A_HOSTS_MAX 4

int lg_dns_a_start(const char *name, uint16_t port, const struct sockaddr_storage *server,
                   socklen_t server_len, unsigned id, struct sockaddr_storage *addr, int *fd)
{
    struct sockaddr_storage a[LG_DNS_A_HOSTS_MAX];
    unsigned char q[LG_DNS_A_MSG_MAX];
    int n = lg_dns_hosts(name, port, a, LG_DNS_A_HOSTS_MAX), err;
    size_t qlen;

    for (int i = 0; i < n; i++) {
        if (a[i].ss_family == AF_INET || i == n - 1) {
            *addr = a[i];
            return 1;
        }
    }
    qlen = lg_dns_query(q, sizeof(q), id, name, LG_DNS_A_TYPE);
    if (qlen == 0) {
        errno = EINVAL;
        return -1;
    }
    *fd = socket(server->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd >= 0 && connect(*fd, (const struct sockaddr *)server, server_len) == 0 &&
        send(*fd, q, qlen, 0) >= 0)
        return 0;
    err = errno;
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    errno = err;
    return -1;
}

int lg_dns_a_read(int fd, unsigned id, uint16_t port, struct sockaddr_storage *addr,
                  unsigned *rcode)
{
    unsigned char msg[LG_DNS_A_MSG_MAX];

    for (;;) {
        ssize_t n = recv(fd, msg, sizeof(msg), 0);
        int got;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? LG_AGAIN : -1;
        got = lg_dns_parse(msg, (size_t)n, id, port, addr, 1, rcode);
        if (got >= 0)
            return got > 0;
        /* not an answer to our query: the next datagram */
    }
}
