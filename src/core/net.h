/*
 * net.h - sockets: listening sockets and printable addresses.
 */
#ifndef LG_NET_H
#define LG_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

/* Longest text of "[ipv6]:port" plus the terminating NUL. */
#define LG_ADDR_STRLEN (INET6_ADDRSTRLEN + 9)
/* Longest text of an IP address alone. */
#define LG_IP_STRLEN INET6_ADDRSTRLEN

/*
 * Open a non-blocking listening TCP socket bound to `sa` (`text` as written). Returns the fd,
 * or -1 after logging the failing call, after `who` (may be NULL) when given: "listener web
 * (lifeguard.yaml:4:13): bind() to 0.0.0.0:80 failed (13: Permission denied)".
 */
int lg_net_listen(const struct sockaddr *sa, socklen_t salen, const char *text, const char *who);

/* "1.2.3.4:80" or "[::1]:80" into buf (LG_ADDR_STRLEN bytes). */
void lg_net_addr_text(const struct sockaddr *sa, char *buf, size_t len);
/* "1.2.3.4" or "::1" into buf (LG_IP_STRLEN bytes); returns the length. */
size_t lg_net_ip_text(const struct sockaddr *sa, char *buf, size_t len);

#endif
