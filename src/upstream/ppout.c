/*
 * ppout.c - PROXY protocol headers for backend connections (see ppout.h).
 */
#include "upstream/ppout.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define LG_PP2_SIG              "\r\n\r\n\0\r\nQUIT\n"
#define LG_PP2_SIG_LEN          12
#define LG_PP2_HDR_LEN          16   /* signature, version and command, family, length */
#define LG_PP2_LOCAL            0x20 /* version 2, command LOCAL */
#define LG_PP2_PROXY            0x21 /* version 2, command PROXY */
#define LG_PP2_UNSPEC           0x00
#define LG_PP2_TCP4             0x11 /* AF_INET, STREAM */
#define LG_PP2_TCP6             0x21 /* AF_INET6, STREAM */
#define LG_PP1_UNKNOWN          "PROXY UNKNOWN\r\n"
#define LG_PP2_TLV_LEN          3 /* type, length (network order) */
#define LG_PP2_AUTHORITY        0x02
#define LG_PP2_SSL              0x20
#define LG_PP2_SSL_VERSION      0x21 /* sub-TLV of LG_PP2_SSL */
#define LG_PP2_SSL_HEAD         5    /* client flags, verify (network order) */
#define LG_PP2_CLIENT_SSL       0x01
#define LG_PP2_CLIENT_CERT_CONN 0x02
#define LG_PP2_CLIENT_CERT_SESS 0x04
#define LG_PP_V4MAP_OFF         12 /* where the IPv4 address starts in ::ffff:a.b.c.d */

/* One end of the connection as the header carries it. */
typedef struct pp_end {
    int family; /* AF_INET or AF_INET6; 0: not an IP address */
    uint8_t ip[16];
    uint16_t port; /* network order */
} pp_end_t;

static const uint8_t v4mapped_prefix[LG_PP_V4MAP_OFF] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* An IPv4-mapped IPv6 address is taken as the IPv4 address it is. */
static pp_end_t pp_end(const struct sockaddr *sa)
{
    pp_end_t e = {0};

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

        e.family = AF_INET;
        memcpy(e.ip, &in->sin_addr, 4);
        e.port = in->sin_port;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        e.port = in6->sin6_port;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            e.family = AF_INET;
            memcpy(e.ip, in6->sin6_addr.s6_addr + LG_PP_V4MAP_OFF, 4);
        } else {
            e.family = AF_INET6;
            memcpy(e.ip, &in6->sin6_addr, 16);
        }
    }
    return e;
}

/* Both ends in one family: an IPv4 end beside an IPv6 one is written as ::ffff:a.b.c.d. */
static void pp_same_family(pp_end_t *a, pp_end_t *b)
{
    pp_end_t *v4 = a->family == AF_INET ? a : b;

    if (a->family == b->family)
        return;
    memmove(v4->ip + LG_PP_V4MAP_OFF, v4->ip, 4);
    memcpy(v4->ip, v4mapped_prefix, LG_PP_V4MAP_OFF);
    v4->family = AF_INET6;
}

static size_t pp_v1(const pp_end_t *s, const pp_end_t *d, uint8_t *out)
{
    char sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN];
    int n;

    inet_ntop(s->family, s->ip, sip, sizeof(sip));
    inet_ntop(d->family, d->ip, dip, sizeof(dip));
    n = snprintf((char *)out, LG_PPOUT_MAX, "PROXY %s %s %s %u %u\r\n",
                 s->family == AF_INET ? "TCP4" : "TCP6", sip, dip, ntohs(s->port), ntohs(d->port));
    return n > 0 ? (size_t)n : 0;
}

/* The fixed 16 bytes of a v2 header whose address block has `len` bytes. */
static void pp_v2_head(uint8_t *out, uint8_t cmd, uint8_t fam, uint16_t len)
{
    memcpy(out, LG_PP2_SIG, LG_PP2_SIG_LEN);
    out[12] = cmd;
    out[13] = fam;
    out[14] = (uint8_t)(len >> 8);
    out[15] = (uint8_t)(len & 0xff);
}

/* A TLV's type and length at p; its value (len bytes) goes after them. */
static uint8_t *pp_tlv(uint8_t *p, uint8_t type, size_t len)
{
    p[0] = type;
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)(len & 0xff);
    return p + LG_PP2_TLV_LEN;
}

/* The TLVs `tls` asks for, at p (room: see LG_PPOUT_MAX); returns their end. */
static uint8_t *pp_v2_tlvs(uint8_t *p, const lg_ppout_tls_t *tls)
{
    size_t alen = tls->authority != NULL ? strlen(tls->authority) : 0;
    size_t vlen = tls->version != NULL ? strlen(tls->version) : 0;

    if (alen > 0 && alen <= LG_PPOUT_AUTHORITY_MAX) {
        memcpy(pp_tlv(p, LG_PP2_AUTHORITY, alen), tls->authority, alen);
        p += LG_PP2_TLV_LEN + alen;
    }
    if (tls->version == NULL)
        return p;
    if (vlen > LG_PPOUT_VERSION_MAX)
        vlen = 0;
    p = pp_tlv(p, LG_PP2_SSL, LG_PP2_SSL_HEAD + (vlen > 0 ? LG_PP2_TLV_LEN + vlen : 0));
    p[0] = (uint8_t)(LG_PP2_CLIENT_SSL | (tls->cert_conn ? LG_PP2_CLIENT_CERT_CONN : 0) |
                     (tls->cert_sess ? LG_PP2_CLIENT_CERT_SESS : 0));
    for (int i = 0; i < 4; i++)
        p[1 + i] = (uint8_t)(tls->verify >> (24 - 8 * i));
    p += LG_PP2_SSL_HEAD;
    if (vlen == 0)
        return p;
    memcpy(pp_tlv(p, LG_PP2_SSL_VERSION, vlen), tls->version, vlen);
    return p + LG_PP2_TLV_LEN + vlen;
}

static size_t pp_v2(const pp_end_t *s, const pp_end_t *d, const lg_ppout_tls_t *tls, uint8_t *out)
{
    size_t alen = s->family == AF_INET ? 4 : 16;
    uint8_t *p = out + LG_PP2_HDR_LEN;
    uint8_t *end = p + 2 * alen + 4;

    memcpy(p, s->ip, alen);
    memcpy(p + alen, d->ip, alen);
    memcpy(p + 2 * alen, &s->port, 2);
    memcpy(p + 2 * alen + 2, &d->port, 2);
    if (tls != NULL)
        end = pp_v2_tlvs(end, tls);
    pp_v2_head(out, LG_PP2_PROXY, s->family == AF_INET ? LG_PP2_TCP4 : LG_PP2_TCP6,
               (uint16_t)(end - p));
    return (size_t)(end - out);
}

size_t lg_ppout_build(lg_ppout_t version, const struct sockaddr *src, const struct sockaddr *dst,
                      const lg_ppout_tls_t *tls, uint8_t *out)
{
    pp_end_t s = pp_end(src), d = pp_end(dst);

    if (s.family == 0 || d.family == 0 || version == LG_PPOUT_OFF)
        return lg_ppout_local(version, out);
    pp_same_family(&s, &d);
    return version == LG_PPOUT_V1 ? pp_v1(&s, &d, out) : pp_v2(&s, &d, tls, out);
}

size_t lg_ppout_local(lg_ppout_t version, uint8_t *out)
{
    switch (version) {
    case LG_PPOUT_V1:
        memcpy(out, LG_PP1_UNKNOWN, sizeof(LG_PP1_UNKNOWN) - 1);
        return sizeof(LG_PP1_UNKNOWN) - 1;
    case LG_PPOUT_V2:
        pp_v2_head(out, LG_PP2_LOCAL, LG_PP2_UNSPEC, 0);
        return LG_PP2_HDR_LEN;
    default:
        return 0;
    }
}
