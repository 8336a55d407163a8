/*
 * cidr.c - CIDR networks: parsing, sets of disjoint ranges, lookups (see cidr.h).
 */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lg.h"

#define V4_BITS     32
#define V6_BITS     128
#define MAPPED_BITS 96 /* ::ffff:0:0/96 */

static int ip_cmp(lg_ip128_t a, lg_ip128_t b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    return a.lo < b.lo ? -1 : a.lo > b.lo;
}

/* The low `h` bits set (0..128). */
static lg_ip128_t host_mask(unsigned h)
{
    lg_ip128_t m = {0, 0};

    if (h >= 64) {
        m.lo = ~UINT64_C(0);
        m.hi = h == V6_BITS ? ~UINT64_C(0) : (UINT64_C(1) << (h - 64)) - 1;
    } else {
        m.lo = (UINT64_C(1) << h) - 1;
    }
    return m;
}

static uint64_t be64(const unsigned char *b)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static void put_be64(unsigned char *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (unsigned char)v;
}

/* The address of `bytes` (4 or 16 of them) as a number. */
static lg_ip128_t ip_of_bytes(const unsigned char *bytes, int v4)
{
    lg_ip128_t ip = {0, 0};

    if (v4) {
        ip.lo = (uint64_t)bytes[0] << 24 | (uint64_t)bytes[1] << 16 | (uint64_t)bytes[2] << 8 |
                bytes[3];
    } else {
        ip.hi = be64(bytes);
        ip.lo = be64(bytes + 8);
    }
    return ip;
}

/* ::ffff:a.b.c.d, an IPv4 address seen through an IPv6 socket */
static int is_mapped(lg_ip128_t ip)
{
    return ip.hi == 0 && (ip.lo >> 32) == 0xffff;
}

/* `s` cut and with non-printable bytes replaced, safe to quote in a message. */
static const char *printable(const char *s, char *buf, size_t len)
{
    size_t n = 0;

    for (; s[n] != '\0' && n + 1 < len; n++)
        buf[n] = s[n] > 0x20 && s[n] < 0x7f ? s[n] : '?';
    buf[n] = '\0';
    return buf;
}

static int bad(char *why, const char *s, const char *reason)
{
    char p[LG_CIDR_TEXT_MAX + 1];

    snprintf(why, LG_CIDR_WHY_MAX, "invalid network \"%s%s\": %s", printable(s, p, sizeof(p)),
             strlen(s) > LG_CIDR_TEXT_MAX ? "..." : "", reason);
    return LG_ERR;
}

/* The prefix length after the slash: decimal, no sign, no leading zero, at most `width`. */
static int parse_prefix(const char *p, unsigned width, unsigned *out)
{
    unsigned v = 0;

    if (*p == '\0' || (p[0] == '0' && p[1] != '\0'))
        return LG_ERR;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > width)
            return LG_ERR;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > width)
        return LG_ERR;
    *out = v;
    return LG_OK;
}

/* "10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?" */
static int host_bits(char *why, const char *s, lg_ip128_t net, unsigned prefix, int v4)
{
    unsigned char b[16];
    char text[INET6_ADDRSTRLEN];

    put_be64(b, net.hi);
    put_be64(b + 8, net.lo);
    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? b + 12 : b, text, sizeof(text));
    snprintf(why, LG_CIDR_WHY_MAX, "%s has host bits set: did you mean %s/%u?", s, text, prefix);
    return LG_ERR;
}

int lg_cidr_parse(const char *s, lg_cidr_t *out, char *why)
{
    unsigned char bytes[16];
    char addr[LG_CIDR_TEXT_MAX + 1];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    unsigned width, prefix;
    lg_ip128_t ip, mask;
    int v4;

    if (strlen(s) > LG_CIDR_TEXT_MAX)
        return bad(why, s, "too long for an address");
    if (alen == 0)
        return bad(why, s, "missing the address (write 10.0.0.0/8 or 2001:db8::/32)");
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, bytes) == 1)
        v4 = 1;
    else if (inet_pton(AF_INET6, addr, bytes) == 1)
        v4 = 0;
    else
        return bad(why, s,
                   "not an IP address or network (write 10.0.0.1, 10.0.0.0/8 or 2001:db8::/32)");
    width = v4 ? V4_BITS : V6_BITS;
    prefix = width;
    if (slash != NULL && parse_prefix(slash + 1, width, &prefix) != LG_OK)
        return bad(why, s,
                   v4 ? "the prefix length must be a number from 0 to 32"
                      : "the prefix length must be a number from 0 to 128");
    ip = ip_of_bytes(bytes, v4);
    mask = host_mask(width - prefix);
    if ((ip.hi & mask.hi) != 0 || (ip.lo & mask.lo) != 0) {
        ip.hi &= ~mask.hi;
        ip.lo &= ~mask.lo;
        return host_bits(why, s, ip, prefix, v4);
    }
    if (!v4 && prefix >= MAPPED_BITS && is_mapped(ip)) {
        v4 = 1; /* ::ffff:a.b.c.d/N is a.b.c.d/(N-96) */
        prefix -= MAPPED_BITS;
        ip.lo &= 0xffffffffu;
    }
    out->net = ip;
    out->prefix = (uint8_t)prefix;
    out->v4 = (uint8_t)v4;
    return LG_OK;
}

static int range_cmp(const void *a, const void *b)
{
    const lg_cidr_range_t *x = a, *y = b;

    if (x->v4 != y->v4)
        return x->v4 ? -1 : 1;
    return ip_cmp(x->first, y->first);
}

/* 1 when `first` is inside `r` or right after it (the two then make one range). */
static int joins(const lg_cidr_range_t *r, lg_ip128_t first)
{
    lg_ip128_t next = {r->last.hi + (r->last.lo == ~UINT64_C(0)), r->last.lo + 1};

    /* an all-ones `last` wraps `next` to 0, but then `first`, sorted after, is inside r */
    return ip_cmp(first, r->last) <= 0 || ip_cmp(first, next) == 0;
}

void lg_cidr_set_build(lg_cidr_set_t *set, lg_cidr_range_t *mem, const lg_cidr_t *c, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        lg_ip128_t m = host_mask((c[i].v4 ? V4_BITS : V6_BITS) - c[i].prefix);

        mem[i].first = c[i].net;
        mem[i].last = (lg_ip128_t){c[i].net.hi | m.hi, c[i].net.lo | m.lo};
        mem[i].v4 = c[i].v4;
    }
    qsort(mem, n, sizeof(*mem), range_cmp);
    set->n4 = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && mem[k - 1].v4 == mem[i].v4 && joins(&mem[k - 1], mem[i].first)) {
            if (ip_cmp(mem[i].last, mem[k - 1].last) > 0)
                mem[k - 1].last = mem[i].last;
            continue;
        }
        mem[k++] = mem[i];
        set->n4 += mem[i].v4;
    }
    set->r = mem;
    set->n6 = k - set->n4;
}

int lg_ip_key(const struct sockaddr *sa, lg_ip128_t *ip, int *v4)
{
    const unsigned char *b;

    if (sa->sa_family == AF_INET) {
        *ip = ip_of_bytes(
            (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr,
            1);
        *v4 = 1;
        return LG_OK;
    }
    if (sa->sa_family != AF_INET6)
        return LG_ERR;
    b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    *ip = ip_of_bytes(b, 0);
    *v4 = is_mapped(*ip);
    if (*v4)
        ip->lo &= 0xffffffffu;
    return LG_OK;
}

int lg_cidr_set_has(const lg_cidr_set_t *set, const struct sockaddr *sa)
{
    const lg_cidr_range_t *base;
    size_t lo = 0, hi;
    lg_ip128_t ip;
    int v4;

    if (lg_ip_key(sa, &ip, &v4) != LG_OK)
        return 0;
    base = v4 ? set->r : set->r + set->n4;
    hi = v4 ? set->n4 : set->n6;
    while (lo < hi) { /* the first range that starts after ip */
        size_t mid = lo + (hi - lo) / 2;

        if (ip_cmp(base[mid].first, ip) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && ip_cmp(ip, base[lo - 1].last) <= 0;
}
