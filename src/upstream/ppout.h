/*
 * ppout.h - the PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a
 * pool with `proxy_protocol` sends first on every backend connection, naming the client.
 *
 * The header names one client, so such connections are never shared between clients (see
 * "PROXY protocol to backends" in docs/architecture.md).
 */
#ifndef LG_PPOUT_H
#define LG_PPOUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"

/* Room for the longest header: v1 "PROXY TCP6 ..." (107 bytes, the spec's bound) and a NUL. */
#define LG_PPOUT_MAX 108

/*
 * Write into `out` (room for LG_PPOUT_MAX bytes) the header of `version` for a connection from
 * `src` (the client) to `dst` (the address it connected to). IPv4-mapped IPv6 addresses are
 * sent as TCP4 / AF_INET when both are IPv4; a pair of other families (or LG_PPOUT_OFF) gives
 * what lg_ppout_local gives. Returns the header's length.
 */
size_t lg_ppout_build(lg_ppout_t version, const struct sockaddr *src, const struct sockaddr *dst,
                      uint8_t *out);

/*
 * The header of a connection made by lifeguard itself (health checks): v1 "PROXY UNKNOWN",
 * v2 the LOCAL command, which a receiver accepts without taking an address from it. Returns its
 * length; 0 for LG_PPOUT_OFF.
 */
size_t lg_ppout_local(lg_ppout_t version, uint8_t *out);

#endif
