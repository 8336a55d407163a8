/*
 * sni.h - TLS passthrough: a tcp listener with routes reads the client's ClientHello (up to one
 * TLS record, tls/clienthello.h) without terminating TLS and picks the first route, in file
 * order, whose `sni` matches its server name (exact, or "*.suffix"; any case, trailing dot
 * ignored) or that has no `sni` (the catch-all). No server name, or first bytes that are not a
 * TLS handshake record, go to the catch-all only. The bytes read stay in the buffer for the relay.
 */
#ifndef LG_FRONT_SNI_H
#define LG_FRONT_SNI_H

#include "core/buf.h"
#include "front/conn.h"
#include "tls/clienthello.h"

/*
 * Read from c's stream into `*in` (taken when NULL) until a route is chosen: LG_OK with its pool
 * in `*pool` and the server name in `sni` ("" without one), LG_AGAIN (wait for more), or LG_ERR
 * (logged: a malformed hello, no route, the client left; the caller closes).
 */
int lg_sni_route(lg_conn_t *c, lg_buf_t **in, char sni[LG_HELLO_NAME_MAX + 1], size_t *pool);

#endif
