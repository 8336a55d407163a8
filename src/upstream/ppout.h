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

/* The longest server name (RFC 6066 HostName; OpenSSL and the ClientHello reader hold the same
 * bound) and TLS version name a v2 header carries; a longer one is left out. */
#define LG_PPOUT_AUTHORITY_MAX 255
#define LG_PPOUT_VERSION_MAX   15

/*
 * Room for the longest header: v2 with two IPv6 ends (16 + 36 bytes), the authority TLV (3 +
 * 255) and the SSL TLV (3 + client and verify 5 + version sub-TLV 3 + 15). v1 is at most 107
 * bytes (the spec's bound) and a NUL.
 */
#define LG_PPOUT_MAX (16 + 36 + 3 + LG_PPOUT_AUTHORITY_MAX + 3 + 5 + 3 + LG_PPOUT_VERSION_MAX)

/*
 * What a v2 header says of the client's TLS, in TLVs (proxy-protocol.txt 2.2), as HAProxy's
 * `proxy-v2-options authority,ssl` does. A zeroed struct (or NULL) adds none.
 */
typedef struct lg_ppout_tls {
    /* PP2_TYPE_AUTHORITY: the server name the client sent (SNI), lifeguard terminating its TLS
     * or routing it by SNI (passthrough); NULL or "": none */
    const char *authority;
    /* PP2_TYPE_SSL with PP2_CLIENT_SSL and PP2_SUBTYPE_SSL_VERSION: lifeguard terminated the
     * client's TLS, this version ("TLSv1.3"); NULL: it did not (plain, or passthrough) */
    const char *version;
    unsigned cert_conn : 1; /* PP2_CLIENT_CERT_CONN: a client certificate on this connection */
    unsigned cert_sess : 1; /* PP2_CLIENT_CERT_SESS: one in its session (resumed or not) */
    uint32_t verify;        /* 0: a certificate was presented and verified; else non-zero */
} lg_ppout_tls_t;

/*
 * Write into `out` (room for LG_PPOUT_MAX bytes) the header of `version` for a connection from
 * `src` (the client) to `dst` (the address it connected to), v2 with the TLVs `tls` asks for
 * (NULL: none; v1 has no room for them). IPv4-mapped IPv6 addresses are sent as TCP4 / AF_INET
 * when both are IPv4; a pair of other families (or LG_PPOUT_OFF) gives what lg_ppout_local
 * gives. Returns the header's length.
 */
size_t lg_ppout_build(lg_ppout_t version, const struct sockaddr *src, const struct sockaddr *dst,
                      const lg_ppout_tls_t *tls, uint8_t *out);

/*
 * The header of a connection made by lifeguard itself (health checks): v1 "PROXY UNKNOWN",
 * v2 the LOCAL command, which a receiver accepts without taking an address from it. Returns its
 * length; 0 for LG_PPOUT_OFF.
 */
size_t lg_ppout_local(lg_ppout_t version, uint8_t *out);

#endif
