/*
 * proxyproto.h - the PROXY protocol header (HAProxy's, versions 1 and 2) a load balancer sends
 * before a connection's first byte to name the client it relays.
 *
 * The parser is strict and never looks past the bytes it is given: it says whether the bytes
 * at the start of a connection are a complete header (and how long), may still become one
 * (wait for more), or cannot be one (close the connection). Both versions are recognised by
 * their signature:
 *   v1: "PROXY TCP4 SRC DST SPORT DPORT\r\n", TCP6 likewise, or "PROXY UNKNOWN...\r\n"; at most
 *       107 bytes, single spaces, addresses as inet_pton reads them, ports 0..65535 without a
 *       leading zero;
 *   v2: the 12-byte signature, version 2 with command LOCAL or PROXY, a family and transport
 *       byte, a 16-bit length, the addresses, then TLVs, each of which must lie inside the
 *       length (they are skipped). Headers longer than LG_PP_MAX are refused.
 * A header that names no client (v1 UNKNOWN, v2 LOCAL, UNSPEC or UNIX) leaves the socket's
 * address in force: lg_pp_t.has_src is 0.
 */
#ifndef LG_PROXYPROTO_H
#define LG_PROXYPROTO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define LG_PP_V1_MAX 107  /* the longest v1 line, CRLF included (the specification's bound) */
#define LG_PP_MAX    2048 /* the longest header accepted (v2 with TLVs): larger ones are refused */

typedef struct lg_pp {
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } src, dst;      /* the client the header names, the address it reached (ports included) */
    int has_src;     /* 0: the header names no client; keep the socket's addresses */
    uint8_t version; /* 1 or 2 */
} lg_pp_t;

/*
 * Look at the first `n` bytes `p` of a connection. LG_OK: a complete header of *hlen bytes,
 * described in *out. LG_AGAIN: the bytes are the beginning of a header (read more; n < LG_PP_MAX
 * always, since a longer one is refused). LG_ERR: not a header, with a static reason in *why.
 */
int lg_pp_parse(const uint8_t *p, size_t n, lg_pp_t *out, size_t *hlen, const char **why);

#endif
