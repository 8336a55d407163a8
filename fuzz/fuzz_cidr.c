/*
 * fuzz_cidr.c - libFuzzer target for CIDR networks (src/core/cidr.c), which a route's allow and
 * deny lists (and PROXY protocol's trusted sources) are read with.
 *
 * The input, up to 256 bytes, is one network as written in the file (NUL-terminated copy).
 * Properties checked (abort() on a violation):
 *   - a refusal always says why, in a message that fits its buffer;
 *   - round trip: an accepted network printed back (address/prefix) parses to the same one;
 *   - the set of that one network holds its first and last addresses, and not the addresses
 *     just outside it (when they exist in its family; an IPv4-mapped address is looked up as
 *     IPv4, so an IPv6 network such as ::/80 does not answer for it).
 *
 * Build by hand: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_cidr.c
 * src/core/cidr.c -o fuzz_cidr; run: ./fuzz_cidr fuzz/corpus/cidr
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"

#define FZ_MAX 256

/* The socket address of `ip` in the family of the network (v4: AF_INET). */
static struct sockaddr_storage fz_addr(lg_ip128_t ip, int v4)
{
    struct sockaddr_storage ss;
    unsigned char *b;

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = v4 ? AF_INET : AF_INET6;
    if (v4) {
        ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl((uint32_t)ip.lo);
        return ss;
    }
    b = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(ip.hi >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(ip.lo >> (56 - 8 * i));
    }
    return ss;
}

/*
 * 1 when `ip` is in the set, 0 when not; -1 for an IPv4-mapped address of an IPv6 network
 * (::/80 holds ::ffff:a.b.c.d, but such a client is looked up as IPv4, by design).
 */
static int fz_has(const lg_cidr_set_t *set, lg_ip128_t ip, int v4)
{
    struct sockaddr_storage ss = fz_addr(ip, v4);

    if (!v4 && ip.hi == 0 && ip.lo >> 32 == 0xffff)
        return -1;
    return lg_cidr_set_has(set, (const struct sockaddr *)&ss);
}

/* Print `c` back as text and parse it again: the same network. */
static void fz_round_trip(const lg_cidr_t *c)
{
    struct sockaddr_storage ss = fz_addr(c->net, c->v4);
    char ip[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8], why[LG_CIDR_WHY_MAX];
    const void *a = c->v4 ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                          : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
    lg_cidr_t again;

    if (inet_ntop(c->v4 ? AF_INET : AF_INET6, a, ip, sizeof(ip)) == NULL)
        abort();
    snprintf(text, sizeof(text), "%s/%u", ip, c->prefix);
    if (lg_cidr_parse(text, &again, why) != 0 || again.v4 != c->v4 || again.prefix != c->prefix ||
        again.net.hi != c->net.hi || again.net.lo != c->net.lo)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[FZ_MAX + 1], why[LG_CIDR_WHY_MAX];
    lg_cidr_range_t mem[1];
    lg_cidr_set_t set;
    lg_cidr_t c;
    lg_ip128_t before, after;
    uint64_t top;

    if (size > FZ_MAX)
        return -1;
    memcpy(s, data, size);
    s[size] = '\0';
    why[0] = '\0';
    if (lg_cidr_parse(s, &c, why) != 0) {
        if (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL)
            abort();
        return 0;
    }
    if (c.prefix > (c.v4 ? 32 : 128))
        abort();
    fz_round_trip(&c);
    lg_cidr_set_build(&set, mem, &c, 1);
    if (set.n4 + set.n6 != 1 || set.n4 != c.v4 || fz_has(&set, set.r[0].first, c.v4) == 0 ||
        fz_has(&set, set.r[0].last, c.v4) == 0)
        abort();
    top = c.v4 ? UINT32_MAX : UINT64_MAX;
    before = (lg_ip128_t){c.net.hi - (c.net.lo == 0), c.net.lo - 1};
    after = (lg_ip128_t){set.r[0].last.hi + (set.r[0].last.lo == UINT64_MAX), set.r[0].last.lo + 1};
    if (c.v4) {
        before.hi = after.hi = 0;
        after.lo &= UINT32_MAX;
    }
    if ((c.net.hi != 0 || c.net.lo != 0) && fz_has(&set, before, c.v4) == 1)
        abort();
    if ((set.r[0].last.hi != (c.v4 ? 0 : UINT64_MAX) || set.r[0].last.lo != top) &&
        fz_has(&set, after, c.v4) == 1)
        abort();
    return 0;
}
