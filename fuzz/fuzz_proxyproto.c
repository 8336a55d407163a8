/*
 * fuzz_proxyproto.c - libFuzzer target for the PROXY protocol header parser
 * (src/core/proxyproto.c), which reads the first bytes of every connection on a listener with
 * proxy_protocol.
 *
 * The input, up to LG_PP_MAX + 64 bytes, is what a connection received so far (libFuzzer gives
 * a buffer of exactly that size: ASan catches a read past it). Properties checked (abort() on a
 * violation):
 *   - a refusal always says why; LG_AGAIN only while fewer than LG_PP_MAX bytes arrived;
 *   - a complete header lies inside the input and within LG_PP_MAX (v1: 107) bytes, and the
 *     bytes after it change nothing: the header alone parses the same, and every shorter
 *     prefix of it waits for more (a header arriving in pieces is read the same way);
 *   - a refusal stays a refusal when more bytes follow (the input with one more byte);
 *   - round trip: the client a header names, written as a v1 line, parses to the same address.
 *
 * Build by hand: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc
 * fuzz/fuzz_proxyproto.c src/core/proxyproto.c -o fuzz_proxyproto; run: ./fuzz_proxyproto
 * fuzz/corpus/proxyproto
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lg.h"
#include "core/proxyproto.h"

static int fz_parse(const uint8_t *p, size_t n, lg_pp_t *pp, size_t *hlen)
{
    const char *why = NULL;
    uint8_t *copy = malloc(n + 1); /* exactly n bytes visible to the parser (+1: malloc(0)) */
    int r;

    if (copy == NULL)
        abort();
    memcpy(copy, p, n);
    r = lg_pp_parse(copy, n, pp, hlen, &why);
    free(copy);
    if (r == LG_ERR && (why == NULL || why[0] == '\0'))
        abort();
    if (r == LG_AGAIN && n >= LG_PP_MAX)
        abort();
    return r;
}

/* The client `pp` names as a v1 line parses back to the same address and port. */
static void fz_round_trip(const lg_pp_t *pp)
{
    char ip[INET6_ADDRSTRLEN], line[LG_PP_V1_MAX + 1];
    int v6 = pp->src.sa.sa_family == AF_INET6;
    unsigned port = ntohs(v6 ? pp->src.in6.sin6_port : pp->src.in4.sin_port);
    size_t hlen;
    lg_pp_t back;
    int len;

    if (inet_ntop(pp->src.sa.sa_family,
                  v6 ? (const void *)&pp->src.in6.sin6_addr : (const void *)&pp->src.in4.sin_addr,
                  ip, sizeof(ip)) == NULL)
        abort();
    len = snprintf(line, sizeof(line), "PROXY TCP%c %s %s %u %u\r\n", v6 ? '6' : '4', ip, ip, port,
                   port);
    if (len < 0 || (size_t)len >= sizeof(line))
        abort();
    if (fz_parse((const uint8_t *)line, (size_t)len, &back, &hlen) != LG_OK ||
        hlen != (size_t)len || !back.has_src || memcmp(&back.src, &pp->src, sizeof(back.src)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t hlen, hlen2;
    lg_pp_t pp, pp2;
    int r;

    if (size > LG_PP_MAX + 64)
        return -1;
    r = fz_parse(data, size, &pp, &hlen);
    if (r == LG_ERR && size < LG_PP_MAX + 64) {
        uint8_t *more = malloc(size + 1);

        if (more == NULL)
            abort();
        memcpy(more, data, size);
        more[size] = 0xa5;
        if (fz_parse(more, size + 1, &pp2, &hlen2) != LG_ERR)
            abort();
        free(more);
    }
    if (r != LG_OK)
        return 0;
    if (hlen == 0 || hlen > size || hlen > LG_PP_MAX || (pp.version == 1 && hlen > LG_PP_V1_MAX))
        abort();
    if (fz_parse(data, hlen, &pp2, &hlen2) != LG_OK || hlen2 != hlen ||
        memcmp(&pp, &pp2, sizeof(pp)) != 0)
        abort();
    for (size_t k = 0; k < hlen; k += 1 + k / 8)
        if (fz_parse(data, k, &pp2, &hlen2) != LG_AGAIN)
            abort();
    if (fz_parse(data, hlen - 1, &pp2, &hlen2) != LG_AGAIN)
        abort();
    if (pp.has_src)
        fz_round_trip(&pp);
    return 0;
}
