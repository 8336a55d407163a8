/*
 * test_proxyproto.c - the PROXY protocol header parser (core/proxyproto.c): valid v1 and v2
 * headers and what they name, every prefix of a valid header waits for more, and each malformed
 * header is refused with its reason.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/lg.h"
#include "core/proxyproto.h"

#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"

typedef struct pp_case {
    const char *name;
    const char *bytes;
    size_t len; /* 0: strlen(bytes) */
    int want;   /* LG_OK, LG_AGAIN, LG_ERR */
    size_t hlen;
    const char *src; /* "ip port" the header names, or NULL (the socket's address stays) */
    const char *why; /* a piece of the reason, for LG_ERR */
} pp_case_t;

/* A v2 header: signature, `vc`, `fam`, length `len` (big-endian), then the body given. */
#define V2(vc, fam, hi, lo) V2_SIG vc fam hi lo

static const pp_case_t valid[] = {
    {"v1 tcp4", "PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\nGET", 0, LG_OK, 41, "192.0.2.7 56324",
     NULL},
    {"v1 tcp6", "PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n", 0, LG_OK, 44, "2001:db8::7 1",
     NULL},
    {"v1 port 0", "PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n", 0, LG_OK, 32, "1.2.3.4 0", NULL},
    {"v1 unknown", "PROXY UNKNOWN\r\n", 0, LG_OK, 15, NULL, NULL},
    {"v1 107 bytes with CRLF",
     "PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaa\r\n",
     0, LG_OK, 107, NULL, NULL},
    {"v1 unknown with addresses", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 0, LG_OK, 35, NULL,
     NULL},
    {"v2 tcp4",
     V2("\x21", "\x11", "\x00", "\x0c") "\xc0\x00\x02\x07\x0a\x00\x00\x01\xdc\x04\x01\xbb"
                                        "GET",
     31, LG_OK, 28, "192.0.2.7 56324", NULL},
    {"v2 tcp6",
     V2("\x21", "\x21", "\x00",
        "\x24") "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07"
                "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x50\x01\xbb",
     52, LG_OK, 52, "2001:db8::7 80", NULL},
    {"v2 tcp4 with TLVs (ALPN, NOOP with nothing)",
     V2("\x21", "\x11", "\x00", "\x14") "\x7f\x00\x00\x02\x7f\x00\x00\x01\x00\x01\x00\x02"
                                        "\x01\x00\x02h2\x04\x00\x00",
     36, LG_OK, 36, "127.0.0.2 1", NULL},
    {"v2 local (a health check)", V2("\x20", "\x00", "\x00", "\x00"), 16, LG_OK, 16, NULL, NULL},
    {"v2 local with an address block", V2("\x20", "\x11", "\x00", "\x03") "abc", 19, LG_OK, 19,
     NULL, NULL},
    {"v2 unspec", V2("\x21", "\x00", "\x00", "\x00"), 16, LG_OK, 16, NULL, NULL},
};

static const pp_case_t malformed[] = {
    {"not a header", "GET / HTTP/1.1\r\n", 0, LG_ERR, 0, NULL, "not a PROXY"},
    {"a TLS ClientHello", "\x16\x03\x01\x02\x00", 5, LG_ERR, 0, NULL, "not a PROXY"},
    {"v1 lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, LG_ERR, 0, NULL, "not a PROXY"},
    {"v1 signature wrong", "PROXX", 0, LG_ERR, 0, NULL, "not a PROXY"},
    {"v1 LF without CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 0, LG_ERR, 0, NULL, "CRLF"},
    {"v1 nothing after PROXY", "PROXY \r\n", 0, LG_ERR, 0, NULL, "one space apart"},
    {"v1 double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", 0, LG_ERR, 0, NULL, "one space"},
    {"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 0, LG_ERR, 0, NULL, "one space"},
    {"v1 missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 0, LG_ERR, 0, NULL, "one space"},
    {"v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 0, LG_ERR, 0, NULL, "one space"},
    {"v1 unknown protocol", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, LG_ERR, 0, NULL, "protocol"},
    {"v1 tcp4 with an IPv6 address", "PROXY TCP4 ::1 ::1 1 2\r\n", 0, LG_ERR, 0, NULL, "address"},
    {"v1 tcp6 with an IPv4 address", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 0, LG_ERR, 0, NULL,
     "address"},
    {"v1 address with a leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", 0, LG_ERR, 0, NULL,
     "address"},
    {"v1 bad destination", "PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n", 0, LG_ERR, 0, NULL, "address"},
    {"v1 port over 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 0, LG_ERR, 0, NULL, "port"},
    {"v1 port with a leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", 0, LG_ERR, 0, NULL,
     "port"},
    {"v1 port with a sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", 0, LG_ERR, 0, NULL, "port"},
    {"v1 port not a number", "PROXY TCP4 1.2.3.4 5.6.7.8 1 http\r\n", 0, LG_ERR, 0, NULL, "port"},
    {"v1 NUL inside", "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33, LG_ERR, 0, NULL, "control"},
    {"v1 108 bytes with CRLF",
     "PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaa\r\n",
     0, LG_ERR, 0, NULL, "107"},
    {"v1 107 bytes without LF",
     "PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaa",
     0, LG_ERR, 0, NULL, "107"},
    {"v2 signature wrong", "\r\n\r\n\0\r\nQUIX\n", 12, LG_ERR, 0, NULL, "not a PROXY"},
    {"v2 version 1", V2("\x11", "\x11", "\x00", "\x0c"), 16, LG_ERR, 0, NULL, "version"},
    {"v2 version 3", V2("\x31", "\x11", "\x00", "\x0c"), 16, LG_ERR, 0, NULL, "version"},
    {"v2 command 2", V2("\x22", "\x11", "\x00", "\x0c"), 13, LG_ERR, 0, NULL, "command"},
    {"v2 length over the bound", V2("\x21", "\x11", "\x07", "\xf1"), 16, LG_ERR, 0, NULL, "2048"},
    {"v2 length over 64k", V2("\x21", "\x11", "\xff", "\xff"), 16, LG_ERR, 0, NULL, "longer"},
    {"v2 tcp4 shorter than its addresses", V2("\x21", "\x11", "\x00", "\x0b") "12345678901", 27,
     LG_ERR, 0, NULL, "too short"},
    {"v2 tcp6 with an IPv4 length", V2("\x21", "\x21", "\x00", "\x0c") "123456789012", 28, LG_ERR,
     0, NULL, "too short"},
    {"v2 unix shorter than 216", V2("\x21", "\x31", "\x00", "\x0c") "123456789012", 28, LG_ERR, 0,
     NULL, "too short"},
    {"v2 udp", V2("\x21", "\x12", "\x00", "\x0c") "123456789012", 28, LG_ERR, 0, NULL,
     "unsupported"},
    {"v2 family 4", V2("\x21", "\x41", "\x00", "\x0c") "123456789012", 28, LG_ERR, 0, NULL,
     "unsupported"},
    {"v2 TLV length past the header",
     V2("\x21", "\x11", "\x00", "\x11") "\x7f\x00\x00\x02\x7f\x00\x00\x01\x00\x01\x00\x02"
                                        "\x01\x00\x03h2",
     33, LG_ERR, 0, NULL, "TLV"},
    {"v2 TLV header cut by the length",
     V2("\x21", "\x11", "\x00", "\x0e") "\x7f\x00\x00\x02\x7f\x00\x00\x01\x00\x01\x00\x02"
                                        "\x01\x00",
     30, LG_ERR, 0, NULL, "TLV"},
};

static size_t case_len(const pp_case_t *t)
{
    return t->len != 0 ? t->len : strlen(t->bytes);
}

/* "ip port" of what the header named. */
static void src_text(const lg_pp_t *pp, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    int v6 = pp->src.sa.sa_family == AF_INET6;

    inet_ntop(pp->src.sa.sa_family,
              v6 ? (const void *)&pp->src.in6.sin6_addr : (const void *)&pp->src.in4.sin_addr, ip,
              sizeof(ip));
    snprintf(buf, len, "%s %u", ip, ntohs(v6 ? pp->src.in6.sin6_port : pp->src.in4.sin_port));
}

static void check(const pp_case_t *t)
{
    const char *why = NULL;
    size_t hlen = 0;
    lg_pp_t pp;
    char got[96];
    int r = lg_pp_parse((const uint8_t *)t->bytes, case_len(t), &pp, &hlen, &why);

    cr_assert_eq(r, t->want, "%s: got %d (%s)", t->name, r, why);
    if (r == LG_ERR) {
        cr_assert(strstr(why, t->why) != NULL, "%s: reason \"%s\" lacks \"%s\"", t->name, why,
                  t->why);
        return;
    }
    cr_assert_eq(hlen, t->hlen, "%s: header length %zu", t->name, hlen);
    cr_assert_eq(pp.has_src, t->src != NULL, "%s: names a client or not", t->name);
    if (t->src != NULL) {
        src_text(&pp, got, sizeof(got));
        cr_assert_str_eq(got, t->src, "%s", t->name);
    }
}

Test(proxyproto, valid_headers)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        check(&valid[i]);
}

Test(proxyproto, malformed_headers_are_refused_with_a_reason)
{
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        check(&malformed[i]);
}

/* A header arriving in pieces: every proper prefix of a valid one waits for more. */
Test(proxyproto, every_prefix_of_a_valid_header_waits)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        for (size_t n = 0; n < valid[i].hlen; n++) {
            const char *why;
            size_t hlen;
            lg_pp_t pp;

            cr_assert_eq(lg_pp_parse((const uint8_t *)valid[i].bytes, n, &pp, &hlen, &why),
                         LG_AGAIN, "%s: prefix of %zu bytes", valid[i].name, n);
        }
    }
}
