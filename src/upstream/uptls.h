/*
 * uptls.h - TLS on an upstream connection of a pool with `tls`: started once the TCP connect
 * completes, its handshake driven by the exchange's events within timeouts.connect, the
 * session kept per backend for the next connection to resume (tls/client.h).
 */
#ifndef LG_UPTLS_H
#define LG_UPTLS_H

#include "upstream/upstream.h"

/* Make the connected `u` a TLS stream and start its handshake: as lg_uptls_handshake. */
int lg_uptls_start(lg_upconn_t *u);
/*
 * One step of the handshake: LG_OK when application bytes may flow, LG_AGAIN while it waits
 * for readiness, LG_ERR when it failed (lg_upconn_failure says why; errno is 0).
 */
int lg_uptls_handshake(lg_upconn_t *u);
/*
 * What failed on the connecting `u`, as the start of a log line about its backend: "connect()
 * to" (errno says why) or "TLS handshake failed (REASON) with". The text lives in a static
 * buffer until the next failure.
 */
const char *lg_upconn_failure(const lg_upconn_t *u);

#endif
