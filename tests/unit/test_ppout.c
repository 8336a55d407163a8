/*
 * test_ppout.c - the PROXY header sent to backends (src/upstream/ppout.c): the exact bytes of
 * v1 and v2 for IPv4, IPv6 and IPv4-mapped clients, the LOCAL header of health checks, and the
 * pools.NAME.proxy_protocol key (default, values, errors at FILE:LINE:COL).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/lg.h"
#include "core/proxyproto.h"
#include "lg_test.h"
#include "upstream/ppout.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"

/* "1.2.3.4" or "::1" with `port` as a socket address. */
static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
    } else {
        cr_assert_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1, "%s", ip);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
    }
    return ss;
}

Test(ppout, exact_bytes)
{
    static const struct {
        lg_ppout_t v;
        const char *src, *dst;
        uint16_t sport, dport;
        const char *want;
        size_t len;
    } cases[] = {
        {LG_PPOUT_V1, "192.0.2.7", "127.0.0.1", 51234, 8080,
         "PROXY TCP4 192.0.2.7 127.0.0.1 51234 8080\r\n", 43},
        {LG_PPOUT_V1, "2001:db8::7", "::1", 1, 443, "PROXY TCP6 2001:db8::7 ::1 1 443\r\n", 34},
        /* a v4 client on a dual-stack listener: both ends are mapped, sent as TCP4 */
        {LG_PPOUT_V1, "::ffff:192.0.2.7", "::ffff:10.0.0.1", 65535, 80,
         "PROXY TCP4 192.0.2.7 10.0.0.1 65535 80\r\n", 40},
        /* a mapped end beside a real IPv6 one: both as IPv6 */
        {LG_PPOUT_V1, "192.0.2.7", "2001:db8::1", 5, 6,
         "PROXY TCP6 ::ffff:192.0.2.7 2001:db8::1 5 6\r\n", 45},
        {LG_PPOUT_V1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535, 65535,
         "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n",
         104},
        {LG_PPOUT_V2, "192.0.2.7", "127.0.0.1", 51234, 8080,
         SIG "\x21\x11\x00\x0c"
             "\xc0\x00\x02\x07"
             "\x7f\x00\x00\x01"
             "\xc8\x22\x1f\x90",
         28},
        {LG_PPOUT_V2, "::ffff:192.0.2.7", "::ffff:127.0.0.1", 51234, 8080,
         SIG "\x21\x11\x00\x0c"
             "\xc0\x00\x02\x07"
             "\x7f\x00\x00\x01"
             "\xc8\x22\x1f\x90",
         28},
        {LG_PPOUT_V2, "2001:db8::7", "::1", 1, 443,
         SIG "\x21\x21\x00\x24"
             "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07"
             "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
             "\x00\x01\x01\xbb",
         52},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        struct sockaddr_storage s = addr(cases[i].src, cases[i].sport);
        struct sockaddr_storage d = addr(cases[i].dst, cases[i].dport);
        uint8_t out[LG_PPOUT_MAX];
        size_t n =
            lg_ppout_build(cases[i].v, (struct sockaddr *)&s, (struct sockaddr *)&d, NULL, out);

        cr_assert_eq(n, cases[i].len, "case %zu: length %zu", i, n);
        cr_assert(memcmp(out, cases[i].want, n) == 0, "case %zu: %.*s", i, (int)n, out);
    }
}

Test(ppout, local_header_for_own_connections)
{
    uint8_t out[LG_PPOUT_MAX];
    struct sockaddr_storage s = addr("127.0.0.1", 1);
    struct sockaddr_storage unix_end = {.ss_family = AF_UNIX};

    cr_assert_eq(lg_ppout_local(LG_PPOUT_V1, out), 15);
    cr_assert(memcmp(out, "PROXY UNKNOWN\r\n", 15) == 0);
    cr_assert_eq(lg_ppout_local(LG_PPOUT_V2, out), 16);
    cr_assert(memcmp(out, SIG "\x20\x00\x00\x00", 16) == 0);
    cr_assert_eq(lg_ppout_local(LG_PPOUT_OFF, out), 0);
    /* an end that is not an IP address: the receiver keeps the connection's own addresses */
    cr_assert_eq(
        lg_ppout_build(LG_PPOUT_V1, (struct sockaddr *)&s, (struct sockaddr *)&unix_end, NULL, out),
        15);
    cr_assert(memcmp(out, "PROXY UNKNOWN\r\n", 15) == 0);
}

#define V4_PROXY(len) SIG "\x21\x11\x00" len "\xc0\x00\x02\x07\x7f\x00\x00\x01\xc8\x22\x1f\x90"

/*
 * v2 TLVs (proxy-protocol.txt 2.2): PP2_TYPE_AUTHORITY (0x02) with the client's server name,
 * PP2_TYPE_SSL (0x20: client flags, verify, PP2_SUBTYPE_SSL_VERSION 0x21) when lifeguard
 * terminated its TLS; none in v1. Every header is read back by lifeguard's own PROXY parser,
 * which skips the TLVs and finds the same client.
 */
Test(ppout, v2_tlvs_name_the_server_and_the_tls)
{
    static const char long_name[LG_PPOUT_AUTHORITY_MAX + 2] = {[0 ... LG_PPOUT_AUTHORITY_MAX] =
                                                                   'a'};
    static const struct {
        lg_ppout_t v;
        lg_ppout_tls_t tls;
        const char *want;
        size_t len;
    } cases[] = {
        /* passthrough by SNI: the name only */
        {LG_PPOUT_V2,
         {.authority = "a.example"},
         V4_PROXY("\x18") "\x02\x00\x09"
                          "a.example",
         40},
        /* passthrough without SNI: nothing */
        {LG_PPOUT_V2, {.authority = ""}, V4_PROXY("\x0c"), 28},
        /* TLS terminated, no client certificate: verify non-zero */
        {LG_PPOUT_V2,
         {.authority = "a.example", .version = "TLSv1.3", .verify = 1},
         V4_PROXY("\x2a") "\x02\x00\x09"
                          "a.example"
                          "\x20\x00\x0f\x01\x00\x00\x00\x01\x21\x00\x07TLSv1.3",
         58},
        /* TLS without SNI, a client certificate verified on this connection */
        {LG_PPOUT_V2,
         {.version = "TLSv1.2", .cert_conn = 1, .cert_sess = 1, .verify = 0},
         V4_PROXY("\x1e") "\x20\x00\x0f\x07\x00\x00\x00\x00\x21\x00\x07TLSv1.2",
         46},
        /* a name longer than any SNI is left out */
        {LG_PPOUT_V2, {.authority = long_name}, V4_PROXY("\x0c"), 28},
        {LG_PPOUT_V1,
         {.authority = "a.example", .version = "TLSv1.3"},
         "PROXY TCP4 192.0.2.7 127.0.0.1 51234 8080\r\n",
         43},
    };
    struct sockaddr_storage s = addr("192.0.2.7", 51234), d = addr("127.0.0.1", 8080);

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        uint8_t out[LG_PPOUT_MAX];
        size_t n = lg_ppout_build(cases[i].v, (struct sockaddr *)&s, (struct sockaddr *)&d,
                                  &cases[i].tls, out),
               hlen = 0;
        lg_pp_t pp;
        const char *why = NULL;

        cr_assert_eq(n, cases[i].len, "case %zu: length %zu", i, n);
        cr_assert(memcmp(out, cases[i].want, n) == 0, "case %zu", i);
        cr_assert_eq(lg_pp_parse(out, n, &pp, &hlen, &why), LG_OK, "case %zu: %s", i, why);
        cr_assert_eq(hlen, n, "case %zu", i);
        cr_assert(pp.has_src && pp.src.in4.sin_port == htons(51234), "case %zu", i);
        cr_assert_eq(pp.src.in4.sin_addr.s_addr, htonl(0xc0000207), "case %zu", i);
    }
}

/* The longest header fits LG_PPOUT_MAX: two IPv6 ends, a 255-byte name, a TLS version. */
Test(ppout, longest_v2_header_fits)
{
    char name[LG_PPOUT_AUTHORITY_MAX + 1];
    lg_ppout_tls_t tls = {.authority = name, .version = "TLSv1.3-padded!"};
    struct sockaddr_storage s = addr("2001:db8::7", 1), d = addr("2001:db8::8", 2);
    uint8_t out[LG_PPOUT_MAX + 1];
    size_t hlen = 0;
    lg_pp_t pp;
    const char *why = NULL;

    memset(name, 'n', LG_PPOUT_AUTHORITY_MAX);
    name[LG_PPOUT_AUTHORITY_MAX] = '\0';
    out[LG_PPOUT_MAX] = 0xa5;
    cr_assert_eq(
        lg_ppout_build(LG_PPOUT_V2, (struct sockaddr *)&s, (struct sockaddr *)&d, &tls, out),
        LG_PPOUT_MAX);
    cr_assert_eq(out[LG_PPOUT_MAX], 0xa5);
    cr_assert_eq(lg_pp_parse(out, LG_PPOUT_MAX, &pp, &hlen, &why), LG_OK, "%s", why);
    cr_assert_eq(hlen, LG_PPOUT_MAX);
}

/* A pool `app` (keys at line 8, column 5) with `keys` before its backends. */
static lg_config_t *load(const char *keys, lg_config_errors_t *e, char **path)
{
    char *dir = lg_test_tmpdir();
    lg_config_t *cf;

    *path = lg_test_write_file(dir, "pp.yaml",
                               lg_fmt("listeners:\n  web:\n    listen: 127.0.0.1:8080\n"
                                      "    routes:\n      - pool: app\n\npools:\n  app:\n%s"
                                      "    backends: [127.0.0.1:9001]\n",
                                      keys));
    cf = lg_config_load(*path, e);
    lg_test_rmtree(dir);
    return cf;
}

Test(ppout, config_values)
{
    static const struct {
        const char *keys;
        lg_ppout_t want;
        int keeps_idle;
    } cases[] = {
        {"", LG_PPOUT_OFF, 1},
        {"    proxy_protocol: off\n", LG_PPOUT_OFF, 1},
        {"    proxy_protocol: v1\n", LG_PPOUT_V1, 0},
        {"    proxy_protocol: v2\n", LG_PPOUT_V2, 0},
        {"    keepalive: {max_idle: 0}\n", LG_PPOUT_OFF, 0},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_config_errors_t e = {0};
        char *path;
        lg_config_t *cf = load(cases[i].keys, &e, &path);

        cr_assert_not_null(cf, "case %zu rejected: %s", i, e.n > 0 ? e.lines[0] : "");
        cr_assert_eq(cf->pools[0].proxy_protocol, cases[i].want, "case %zu", i);
        cr_assert_eq(lg_pool_keeps_idle(&cf->pools[0]), cases[i].keeps_idle, "case %zu", i);
        lg_config_free(cf);
        free(path);
    }
}

Test(ppout, config_errors)
{
    static const struct {
        const char *keys, *error;
    } cases[] = {
        {"    proxy_protocol: v3\n",
         ":9:21: error: pools.app.proxy_protocol: unknown value \"v3\" (did you mean \"v1\"?)"},
        {"    proxy_protocol: true\n", ":9:21: error: pools.app.proxy_protocol: unknown value "
                                       "\"true\" (expected one of: off, v1, v2)"},
        {"    proxy_protocol: [v1]\n",
         ":9:21: error: pools.app.proxy_protocol: expected a value, got a list"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_config_errors_t e = {0};
        char *path;
        lg_config_t *cf = load(cases[i].keys, &e, &path);
        char *want = lg_fmt("%s%s", path, cases[i].error);

        cr_assert_null(cf, "case %zu accepted", i);
        cr_assert_eq(e.n, 1, "case %zu: %zu errors, first: %s", i, e.n, e.n ? e.lines[0] : "");
        cr_assert_str_eq(e.lines[0], want, "case %zu: %s", i, e.lines[0]);
        lg_config_errors_free(&e);
        free(path);
    }
}
