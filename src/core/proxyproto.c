/*
 * proxyproto.c - the PROXY protocol v1 and v2 header parser (see proxyproto.h).
 */
#include "core/proxyproto.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/lg.h"

#define PP_V1_SIG     "PROXY "
#define PP_V1_SIG_LEN 6
#define PP_V2_SIG     "\r\n\r\n\0\r\nQUIT\n"
#define PP_V2_SIG_LEN 12
#define PP_V2_FIXED   16 /* signature, version and command, family, length */
#define PP_V2_INET    12 /* two IPv4 addresses, two ports */
#define PP_V2_INET6   36 /* two IPv6 addresses, two ports */
#define PP_V2_UNIX    216
#define PP_V2_TLV     3 /* type, 16-bit length */
#define PP_V1_FIELDS  5 /* protocol, source, destination, source port, destination port */

enum { PP_LOCAL = 0x0, PP_PROXY = 0x1 };
enum { PP_UNSPEC = 0x00, PP_TCP4 = 0x11, PP_TCP6 = 0x21, PP_UNIX_STREAM = 0x31 };

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* A port in decimal, 0..65535, without sign or leading zero; -1 otherwise. */
static long v1_port(const char *s)
{
    long v = 0;
    size_t i;

    if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 5)
        return -1;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

/* Split `line` at single spaces into at most `max` fields; the count, or -1 for an empty one. */
static int v1_split(char *line, char **f, int max)
{
    int n = 0;

    for (char *s = line;; s++) {
        if (n == max)
            return -1;
        f[n++] = s;
        s = strchr(s, ' ');
        if (s == NULL)
            break;
        *s = '\0';
    }
    for (int i = 0; i < n; i++)
        if (f[i][0] == '\0')
            return -1;
    return n;
}

/* The fields of a TCP4 or TCP6 line (after "PROXY "), into out. */
static int v1_fields(char *line, lg_pp_t *out, const char **why)
{
    char *f[PP_V1_FIELDS];
    int v6;
    long sport, dport;

    if (v1_split(line, f, PP_V1_FIELDS) != PP_V1_FIELDS) {
        *why = "a v1 header needs a protocol, two addresses and two ports, one space apart";
        return LG_ERR;
    }
    v6 = strcmp(f[0], "TCP6") == 0;
    if (!v6 && strcmp(f[0], "TCP4") != 0) {
        *why = "unknown v1 protocol (TCP4, TCP6 or UNKNOWN)";
        return LG_ERR;
    }
    if (v6 ? inet_pton(AF_INET6, f[1], &out->src.in6.sin6_addr) != 1 ||
                 inet_pton(AF_INET6, f[2], &out->dst.in6.sin6_addr) != 1
           : inet_pton(AF_INET, f[1], &out->src.in4.sin_addr) != 1 ||
                 inet_pton(AF_INET, f[2], &out->dst.in4.sin_addr) != 1) {
        *why = "invalid address in a v1 header";
        return LG_ERR;
    }
    sport = v1_port(f[3]);
    dport = v1_port(f[4]);
    if (sport < 0 || dport < 0) {
        *why = "invalid port in a v1 header";
        return LG_ERR;
    }
    if (v6) {
        out->src.in6.sin6_family = out->dst.in6.sin6_family = AF_INET6;
        out->src.in6.sin6_port = htons((uint16_t)sport);
        out->dst.in6.sin6_port = htons((uint16_t)dport);
    } else {
        out->src.in4.sin_family = out->dst.in4.sin_family = AF_INET;
        out->src.in4.sin_port = htons((uint16_t)sport);
        out->dst.in4.sin_port = htons((uint16_t)dport);
    }
    out->has_src = 1;
    return LG_OK;
}

static int v1_parse(const uint8_t *p, size_t n, lg_pp_t *out, size_t *hlen, const char **why)
{
    char line[LG_PP_V1_MAX + 1];
    const uint8_t *lf;
    size_t len;

    if (memcmp(p, PP_V1_SIG, min_size(n, PP_V1_SIG_LEN)) != 0) {
        *why = "not a PROXY protocol header";
        return LG_ERR;
    }
    lf = memchr(p, '\n', min_size(n, LG_PP_V1_MAX));
    if (lf == NULL) {
        *why = "v1 header longer than 107 bytes";
        return n < LG_PP_V1_MAX ? LG_AGAIN : LG_ERR;
    }
    len = (size_t)(lf - p);
    if (len < PP_V1_SIG_LEN + 1 || p[len - 1] != '\r') {
        *why = "v1 header not ended by CRLF";
        return LG_ERR;
    }
    len--; /* without CR */
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            *why = "control or non-ASCII byte in a v1 header";
            return LG_ERR;
        }
    }
    memcpy(line, p + PP_V1_SIG_LEN, len - PP_V1_SIG_LEN);
    line[len - PP_V1_SIG_LEN] = '\0';
    *hlen = len + 2;
    out->version = 1;
    /* UNKNOWN: the receiver ignores the rest of the line and keeps the socket's address */
    if (strcmp(line, "UNKNOWN") == 0 || strncmp(line, "UNKNOWN ", 8) == 0)
        return LG_OK;
    return v1_fields(line, out, why);
}

/* TLVs from `off` to `end`: each must lie inside the header. */
static int v2_tlvs(const uint8_t *p, size_t off, size_t end, const char **why)
{
    while (off < end) {
        if (end - off < PP_V2_TLV ||
            end - off - PP_V2_TLV < ((size_t)p[off + 1] << 8 | p[off + 2])) {
            *why = "v2 TLV runs past the header's length";
            return LG_ERR;
        }
        off += PP_V2_TLV + ((size_t)p[off + 1] << 8 | p[off + 2]);
    }
    return LG_OK;
}

/* The addresses of a complete v2 PROXY header of `total` bytes, then its TLVs. */
static int v2_addresses(const uint8_t *p, size_t total, lg_pp_t *out, const char **why)
{
    const uint8_t *a = p + PP_V2_FIXED;
    size_t need;

    switch (p[13]) {
    case PP_UNSPEC:
        return LG_OK; /* no address: the rest is skipped */
    case PP_TCP4:
        need = PP_V2_INET;
        break;
    case PP_TCP6:
        need = PP_V2_INET6;
        break;
    case PP_UNIX_STREAM:
        need = PP_V2_UNIX;
        break;
    default:
        *why = "unsupported v2 address family or transport (TCP over IPv4 or IPv6 expected)";
        return LG_ERR;
    }
    if (total - PP_V2_FIXED < need) {
        *why = "v2 header too short for its addresses";
        return LG_ERR;
    }
    if (p[13] == PP_TCP4) {
        out->src.in4.sin_family = out->dst.in4.sin_family = AF_INET;
        memcpy(&out->src.in4.sin_addr, a, 4);
        memcpy(&out->dst.in4.sin_addr, a + 4, 4);
        memcpy(&out->src.in4.sin_port, a + 8, 2);
        memcpy(&out->dst.in4.sin_port, a + 10, 2);
        out->has_src = 1;
    } else if (p[13] == PP_TCP6) {
        out->src.in6.sin6_family = out->dst.in6.sin6_family = AF_INET6;
        memcpy(&out->src.in6.sin6_addr, a, 16);
        memcpy(&out->dst.in6.sin6_addr, a + 16, 16);
        memcpy(&out->src.in6.sin6_port, a + 32, 2);
        memcpy(&out->dst.in6.sin6_port, a + 34, 2);
        out->has_src = 1;
    }
    return v2_tlvs(p, PP_V2_FIXED + need, total, why);
}

static int v2_parse(const uint8_t *p, size_t n, lg_pp_t *out, size_t *hlen, const char **why)
{
    size_t total;

    if (memcmp(p, PP_V2_SIG, min_size(n, PP_V2_SIG_LEN)) != 0) {
        *why = "not a PROXY protocol header";
        return LG_ERR;
    }
    if (n > PP_V2_SIG_LEN && (p[12] >> 4 != 2 || (p[12] & 0xf) > PP_PROXY)) {
        *why = "v2 header with an unknown version or command";
        return LG_ERR;
    }
    if (n < PP_V2_FIXED)
        return LG_AGAIN;
    total = PP_V2_FIXED + ((size_t)p[14] << 8 | p[15]);
    if (total > LG_PP_MAX) {
        *why = "v2 header longer than lifeguard accepts (2048 bytes)";
        return LG_ERR;
    }
    if (n < total)
        return LG_AGAIN;
    *hlen = total;
    out->version = 2;
    if ((p[12] & 0xf) == PP_LOCAL)
        return LG_OK; /* the balancer's own connection (a health check): addresses skipped */
    return v2_addresses(p, total, out, why);
}

int lg_pp_parse(const uint8_t *p, size_t n, lg_pp_t *out, size_t *hlen, const char **why)
{
    memset(out, 0, sizeof(*out));
    *hlen = 0;
    *why = "not a PROXY protocol header";
    if (n == 0)
        return LG_AGAIN;
    if (p[0] == 'P')
        return v1_parse(p, n, out, hlen, why);
    if (p[0] == '\r')
        return v2_parse(p, n, out, hlen, why);
    return LG_ERR;
}
