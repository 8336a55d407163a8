/*
 * net.c - listening sockets and address formatting.
 */
#include "core/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/lg.h"
#include "core/log.h"

/* The kernel caps this at net.core.somaxconn; ask for plenty. */
#define LG_LISTEN_BACKLOG 65535

int lg_net_listen(const struct sockaddr *sa, socklen_t salen, const char *text, const char *who)
{
    const char *sep = who != NULL ? ": " : "";
    int one = 1;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (who == NULL)
        who = "";
    if (fd < 0) {
        lg_log(LG_LOG_ERR, "%s%ssocket() for %s failed (%d: %s)", who, sep, text, errno,
               strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto out_fail;
    /* Accepted sockets inherit TCP_NODELAY: no setsockopt per connection. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        goto out_fail;
    if (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
        goto out_fail;
    if (bind(fd, sa, salen) < 0) {
        lg_log(LG_LOG_ERR, "%s%sbind() to %s failed (%d: %s)", who, sep, text, errno,
               strerror(errno));
        goto out_close;
    }
    if (listen(fd, LG_LISTEN_BACKLOG) < 0) {
        lg_log(LG_LOG_ERR, "%s%slisten() on %s failed (%d: %s)", who, sep, text, errno,
               strerror(errno));
        goto out_close;
    }
    return fd;

out_fail:
    lg_log(LG_LOG_ERR, "%s%ssetsockopt() on %s failed (%d: %s)", who, sep, text, errno,
           strerror(errno));
out_close:
    close(fd);
    return -1;
}

/* IPv4 by hand: inet_ntop goes through sprintf, which showed up per request in profiles. */
static size_t ipv4_text(const struct in_addr *a, char *buf)
{
    const unsigned char *b = (const unsigned char *)&a->s_addr;
    char *p = buf;

    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];

        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '\0';
    }
    return (size_t)(p - buf - 1);
}

size_t lg_net_ip_text(const struct sockaddr *sa, char *buf, size_t len)
{
    const void *src;

    if (sa->sa_family == AF_INET && len >= INET_ADDRSTRLEN)
        return ipv4_text(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf);
    if (sa->sa_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    else
        src = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    if (inet_ntop(sa->sa_family, src, buf, (socklen_t)len) == NULL) {
        buf[0] = '\0';
        return 0;
    }
    return strlen(buf);
}

void lg_net_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[LG_IP_STRLEN];
    unsigned port;

    lg_net_ip_text(sa, ip, sizeof(ip));
    if (sa->sa_family == AF_INET6) {
        port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
        snprintf(buf, len, "[%s]:%u", ip, port);
    } else {
        port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
        snprintf(buf, len, "%s:%u", ip, port);
    }
}
