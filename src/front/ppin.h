/*
 * ppin.h - PROXY protocol in: listeners.NAME.proxy_protocol.
 *
 * On such a listener a connection is accepted only from a `trusted` source (others are closed
 * at accept, before any byte is read, counted in `lifeguard_connections_refused_total
 * {reason="proxy_untrusted"}` and logged at info, rate-limited as front/perip.h). It then runs
 * the `ppin` front, which waits, within timeouts.client_header, for a PROXY v1 or v2 header
 * (core/proxyproto.h): peeked until complete, then exactly its bytes consumed, so that what
 * follows (a request, a TLS ClientHello) is the listener's front's first byte. A malformed
 * header, or none in time, closes the connection. The address it names replaces the socket's
 * in c->peer, so it is the client everywhere (logs, X-Forwarded-For, allow/deny, rate limits,
 * hash_key: client_ip); then the listener's front starts on the same memory.
 *
 * limits.max_connections_per_ip counts that client address, not the load balancer's: on these
 * listeners the count is taken once the header is read (a refusal then closes the connection
 * the same way) and given back with c->peer at close.
 */
#ifndef LG_PPIN_H
#define LG_PPIN_H

#include <sys/socket.h>

#include "front/conn.h"

extern const lg_front_t lg_front_ppin;

/*
 * The first front of a connection accepted on `ls`: ppin on a listener with proxy_protocol,
 * else the listener's own.
 */
const lg_front_t *lg_ppin_front(const lg_listener_t *ls);

/*
 * A connection from `peer` was accepted on `ls`: LG_OK to serve it, LG_ERR when it is refused
 * (counted, maybe logged): the caller closes it. With proxy_protocol, only trusted sources get
 * in (the per-address count comes later); else the per-address limit (lg_perip_admit).
 */
int lg_ppin_admit(lg_listener_t *ls, const struct sockaddr *peer);

/* 1 when the connection's address is counted in max_connections_per_ip (lg_perip_release). */
static inline int lg_ppin_counted(const lg_conn_t *c)
{
    return c->front != &lg_front_ppin;
}

#endif
