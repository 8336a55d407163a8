/*
 * cidr.h - IP networks written as CIDR ("10.0.0.0/8", "2001:db8::/32", or a bare address), and
 * sets of them that answer "is this client in it?" in O(log n).
 *
 * IPv4 and IPv6 are two separate spaces, as in nginx and Caddy: an IPv4 client (or an IPv6
 * socket's IPv4-mapped client, ::ffff:a.b.c.d) is looked up among the IPv4 entries only, so
 * "::/0" means every IPv6 client and "0.0.0.0/0" every IPv4 one. An IPv4-mapped entry
 * (::ffff:10.0.0.0/104) is the IPv4 network it maps (10.0.0.0/8).
 *
 * A set is built once (lg_cidr_set_build: sorted, overlapping networks merged into disjoint
 * ranges) into memory the caller owns; a lookup is then a binary search with no allocation.
 * Used by route access control (allow, deny) and PROXY protocol trusted sources.
 */
#ifndef LG_CIDR_H
#define LG_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A message about a CIDR text: the longest text quoted in it (longer texts are refused). */
#define LG_CIDR_TEXT_MAX 64
#define LG_CIDR_WHY_MAX  (3 * LG_CIDR_TEXT_MAX + 64)

/* An address as a 128-bit number: IPv4 ones in lo (hi 0) and flagged v4 where it matters. */
typedef struct lg_ip128 {
    uint64_t hi, lo;
} lg_ip128_t;

/* One network: its first address, prefix length (0..32 or 0..128) and family. */
typedef struct lg_cidr {
    lg_ip128_t net;
    uint8_t prefix;
    uint8_t v4;
} lg_cidr_t;

/* A range of addresses of one family, both ends included. */
typedef struct lg_cidr_range {
    lg_ip128_t first, last;
    uint8_t v4;
} lg_cidr_range_t;

/* Disjoint ranges sorted by address: the IPv4 ones first (n4), then the IPv6 ones (n6). */
typedef struct lg_cidr_set {
    const lg_cidr_range_t *r;
    size_t n4, n6;
} lg_cidr_set_t;

/*
 * Parse "ADDR/PREFIX" or a bare "ADDR" (a /32 or /128) into *out. LG_ERR with a one-line
 * reason in `why` (LG_CIDR_WHY_MAX bytes) for anything else, among which a network with host
 * bits set: "10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?". The prefix is decimal
 * without sign or leading zero; zone indexes (fe80::1%eth0) and brackets are refused.
 */
int lg_cidr_parse(const char *s, lg_cidr_t *out, char *why);

/*
 * Build a set from the `n` networks `c` into `mem` (room for n ranges, owned by the caller,
 * which must outlive the set). Overlapping networks are merged, so the set may use fewer.
 */
void lg_cidr_set_build(lg_cidr_set_t *set, lg_cidr_range_t *mem, const lg_cidr_t *c, size_t n);

/*
 * The lookup key of a socket address: LG_OK with *ip and *v4 (an AF_INET address or an
 * IPv4-mapped IPv6 one gives v4 = 1), LG_ERR for other families (AF_UNIX).
 */
int lg_ip_key(const struct sockaddr *sa, lg_ip128_t *ip, int *v4);

/* 1 when address `sa` is in the set, 0 when not (or not an IP address). */
int lg_cidr_set_has(const lg_cidr_set_t *set, const struct sockaddr *sa);

#endif
