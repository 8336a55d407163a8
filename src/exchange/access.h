/*
 * access.h - a route's access control by client address (allow, deny), checked right after
 * routing: a refused request is answered 403 by lifeguard itself, logged and counted as any
 * other answer.
 *
 * The rule, for nginx and Caddy users: `deny` is looked at first and wins (an address in both
 * lists is refused); then, when the route has `allow`, only the addresses in it get in. A route
 * with neither lets every client in. IPv4 clients (also IPv4-mapped ones on an IPv6 socket) are
 * matched against the IPv4 entries only, IPv6 clients against the IPv6 ones (core/cidr.h).
 */
#ifndef LG_ACCESS_H
#define LG_ACCESS_H

#include <sys/socket.h>

#include "config/config.h"
#include "exchange/exchange.h"

/* 1 when route `r` lets the client at `peer` in, 0 when it is refused. */
int lg_access_allows(const lg_route_conf_t *r, const struct sockaddr *peer);

/* x's route lets its client in: LG_OK; else LG_ERR, and x ended with 403. */
int lg_x_access(lg_exchange_t *x);

#endif
