/*
 * test_cidr.c - CIDR networks (core/cidr.c): what parses and into what, every kind of bad input
 * with its message, sets of networks matched against IPv4, IPv6 and IPv4-mapped clients, and a
 * route's allow/deny rule (exchange/access.c) on top of them.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/cidr.h"
#include "exchange/access.h"

/* A socket address of the client `ip` (IPv4 or IPv6 text). */
static struct sockaddr_storage client(const char *ip)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        cr_assert_fail("bad test address %s", ip);
    return ss;
}

/* The network parsed back to text: "10.0.0.0/8 v4". */
static void cidr_text(const lg_cidr_t *c, char *buf, size_t len)
{
    unsigned char b[16];
    char ip[INET6_ADDRSTRLEN];

    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(c->net.hi >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(c->net.lo >> (56 - 8 * i));
    }
    inet_ntop(c->v4 ? AF_INET : AF_INET6, c->v4 ? b + 12 : b, ip, sizeof(ip));
    snprintf(buf, len, "%s/%u %s", ip, c->prefix, c->v4 ? "v4" : "v6");
}

Test(cidr, parses_networks_and_bare_addresses)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"10.0.0.0/8", "10.0.0.0/8 v4"},
        {"10.1.2.3", "10.1.2.3/32 v4"},
        {"10.1.2.3/32", "10.1.2.3/32 v4"},
        {"0.0.0.0/0", "0.0.0.0/0 v4"},
        {"192.168.1.128/25", "192.168.1.128/25 v4"},
        {"2001:db8::/32", "2001:db8::/32 v6"},
        {"2001:DB8::/32", "2001:db8::/32 v6"},
        {"::1", "::1/128 v6"},
        {"::/0", "::/0 v6"},
        {"fe80::/10", "fe80::/10 v6"},
        {"2001:db8:0:1::/64", "2001:db8:0:1::/64 v6"},
        /* IPv4-mapped entries are the IPv4 network they map */
        {"::ffff:10.0.0.0/104", "10.0.0.0/8 v4"},
        {"::ffff:127.0.0.1", "127.0.0.1/32 v4"},
        {"::ffff:0:0/96", "0.0.0.0/0 v4"},
        /* shorter than /96 it also covers other IPv6 addresses: it stays IPv6 */
        {"::/80", "::/80 v6"},
    };
    char why[LG_CIDR_WHY_MAX], text[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lg_cidr_t c;

        cr_assert_eq(lg_cidr_parse(cases[i].in, &c, why), 0, "%s: %s", cases[i].in, why);
        cidr_text(&c, text, sizeof(text));
        cr_assert_str_eq(text, cases[i].out, "%s", cases[i].in);
    }
}

/* Every kind of bad input, with the exact message a user sees. */
Test(cidr, refuses_bad_input_with_a_reason)
{
    static const char hint[] = "not an IP address or network (write 10.0.0.1, 10.0.0.0/8 or "
                               "2001:db8::/32)";
    static const char v4len[] = "the prefix length must be a number from 0 to 32";
    static const char v6len[] = "the prefix length must be a number from 0 to 128";
    static const struct {
        const char *in, *reason; /* reason NULL: `want` is the whole message */
        const char *want;
    } cases[] = {
        {"10.0.0.1/8", NULL, "10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?"},
        {"192.168.1.1/24", NULL, "192.168.1.1/24 has host bits set: did you mean 192.168.1.0/24?"},
        {"10.0.0.1/0", NULL, "10.0.0.1/0 has host bits set: did you mean 0.0.0.0/0?"},
        {"2001:db8::1/32", NULL, "2001:db8::1/32 has host bits set: did you mean 2001:db8::/32?"},
        {"2001:db8:0:1:8000::/64", NULL,
         "2001:db8:0:1:8000::/64 has host bits set: did you mean 2001:db8:0:1::/64?"},
        {"2001:db8:0:1:c000::/65", NULL,
         "2001:db8:0:1:c000::/65 has host bits set: did you mean 2001:db8:0:1:8000::/65?"},
        {"::ffff:10.0.0.1/104", NULL,
         "::ffff:10.0.0.1/104 has host bits set: did you mean ::ffff:10.0.0.0/104?"},
        {"", "missing the address (write 10.0.0.0/8 or 2001:db8::/32)", NULL},
        {"/8", "missing the address (write 10.0.0.0/8 or 2001:db8::/32)", NULL},
        {"localhost", hint, NULL},
        {"example.com/24", hint, NULL},
        {"10.0.0", hint, NULL},
        {"10.0.0.256", hint, NULL},
        {"10.0.0.0.0", hint, NULL},
        {"010.0.0.0/8", hint, NULL},
        {" 10.0.0.0/8", hint, NULL},
        {"10.0.0.0 /8", hint, NULL},
        {"10.0.0.0/8 ", v4len, NULL},
        {"[::1]", hint, NULL},
        {"[::1]/128", hint, NULL},
        {"fe80::1%eth0", hint, NULL},
        {"2001:db8:::/48", hint, NULL},
        {"1::2::3", hint, NULL},
        {"10.0.0.0/", v4len, NULL},
        {"10.0.0.0/33", v4len, NULL},
        {"10.0.0.0/-1", v4len, NULL},
        {"10.0.0.0/+8", v4len, NULL},
        {"10.0.0.0/08", v4len, NULL},
        {"10.0.0.0/8/8", v4len, NULL},
        {"10.0.0.0/0x8", v4len, NULL},
        {"10.0.0.0/99999999999999999999", v4len, NULL},
        {"::/129", v6len, NULL},
        {"::/1280", v6len, NULL},
        {"::/", v6len, NULL},
        {"10.0.0.0/8\x01", v4len, NULL},
    };
    char why[LG_CIDR_WHY_MAX];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lg_cidr_t c;
        char want[LG_CIDR_WHY_MAX], shown[80];

        cr_assert_eq(lg_cidr_parse(cases[i].in, &c, why), -1, "%s was accepted", cases[i].in);
        if (cases[i].want != NULL) {
            cr_assert_str_eq(why, cases[i].want);
            continue;
        }
        snprintf(shown, sizeof(shown), "%s", cases[i].in);
        for (char *p = shown; *p != '\0'; p++)
            *p = *p > 0x20 && *p < 0x7f ? *p : '?';
        snprintf(want, sizeof(want), "invalid network \"%s\": %s", shown, cases[i].reason);
        cr_assert_str_eq(why, want, "%s", cases[i].in);
    }
}

/* A long text is refused and quoted cut, never copied past a buffer. */
Test(cidr, refuses_long_text)
{
    char in[300], why[LG_CIDR_WHY_MAX];
    lg_cidr_t c;

    memset(in, '1', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    cr_assert_eq(lg_cidr_parse(in, &c, why), -1);
    cr_assert(strstr(why, "...\": too long for an address") != NULL, "%s", why);
    cr_assert_lt(strlen(why), LG_CIDR_WHY_MAX);
}

/* A set of the NULL-terminated networks `nets` (memory kept by the test). */
static lg_cidr_set_t set_of(const char *const *nets)
{
    static lg_cidr_range_t mem[8][32];
    static size_t next;
    lg_cidr_t c[32];
    char why[LG_CIDR_WHY_MAX];
    lg_cidr_set_t set;
    size_t n = 0;

    for (; nets[n] != NULL; n++)
        cr_assert_eq(lg_cidr_parse(nets[n], &c[n], why), 0, "%s: %s", nets[n], why);
    cr_assert_lt(next, 8);
    lg_cidr_set_build(&set, mem[next++], c, n);
    return set;
}

static int has(const lg_cidr_set_t *set, const char *ip)
{
    struct sockaddr_storage ss = client(ip);

    return lg_cidr_set_has(set, (struct sockaddr *)&ss);
}

Test(cidr, set_matches_v4_v6_and_mapped_clients)
{
    lg_cidr_set_t set =
        set_of((const char *const[]){"10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1", NULL});
    static const struct {
        const char *ip;
        int in;
    } cases[] = {
        {"10.0.0.0", 1},
        {"10.255.255.255", 1},
        {"9.255.255.255", 0},
        {"11.0.0.0", 0},
        {"192.168.1.7", 1},
        {"192.168.1.6", 0},
        {"192.168.1.8", 0},
        {"::ffff:10.1.2.3", 1}, /* a mapped client is IPv4 */
        {"::ffff:192.168.1.7", 1},
        {"::ffff:11.0.0.1", 0},
        {"2001:db8::", 1},
        {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1},
        {"2001:db9::", 0},
        {"2001:db7:ffff::", 0},
        {"::1", 1},
        {"::2", 0},
        {"::", 0},
        {"::a00:1", 0}, /* ::10.0.0.1 (IPv4-compatible) is IPv6 */
    };

    cr_assert_eq(set.n4, 2);
    cr_assert_eq(set.n6, 2);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(has(&set, cases[i].ip), cases[i].in, "%s", cases[i].ip);
}

/* The two spaces are apart: ::/0 is every IPv6 client, 0.0.0.0/0 every IPv4 one. */
Test(cidr, families_are_apart)
{
    lg_cidr_set_t v6 = set_of((const char *const[]){"::/0", NULL});
    lg_cidr_set_t v4 = set_of((const char *const[]){"0.0.0.0/0", NULL});
    lg_cidr_set_t mapped = set_of((const char *const[]){"::ffff:0:0/96", NULL});
    struct sockaddr un = {.sa_family = AF_UNIX};

    cr_assert(has(&v6, "2001:db8::1") && has(&v6, "::"));
    cr_assert(!has(&v6, "127.0.0.1") && !has(&v6, "::ffff:127.0.0.1"));
    cr_assert(has(&v4, "0.0.0.0") && has(&v4, "255.255.255.255") && has(&v4, "::ffff:1.2.3.4"));
    cr_assert(!has(&v4, "::1"));
    cr_assert(has(&mapped, "8.8.8.8") && !has(&mapped, "::1"));
    cr_assert_eq(lg_cidr_set_has(&v4, &un), 0);
}

/* Overlapping and adjacent networks are merged; a lookup still finds every address. */
Test(cidr, overlapping_networks_merge)
{
    lg_cidr_set_t set = set_of((const char *const[]){
        "10.0.0.0/16", "10.0.1.0/24", "10.1.0.0/16", "10.0.0.7", "10.3.0.0/16", "0.0.0.0/32",
        "255.255.255.255", "ffff::/16", "ffff:ffff::/32", "::/128", NULL});

    /* 10.0/16 + 10.1/16 are one range; 10.3/16 another; 0.0.0.0 and 255.255.255.255 alone */
    cr_assert_eq(set.n4, 4);
    cr_assert_eq(set.n6, 2);
    cr_assert(has(&set, "10.0.255.255") && has(&set, "10.1.0.0") && has(&set, "10.1.255.255"));
    cr_assert(!has(&set, "10.2.0.0") && has(&set, "10.3.0.0") && !has(&set, "10.4.0.0"));
    cr_assert(has(&set, "0.0.0.0") && !has(&set, "0.0.0.1") && has(&set, "255.255.255.255"));
    cr_assert(has(&set, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") && has(&set, "::"));
    cr_assert(!has(&set, "fffe::") && !has(&set, "::1"));
}

/* Many entries: every address of each network in, the neighbours out (binary search edges). */
Test(cidr, many_entries)
{
    static lg_cidr_range_t mem[256];
    lg_cidr_t c[256];
    char why[LG_CIDR_WHY_MAX], text[32];
    lg_cidr_set_t set;

    for (int i = 0; i < 256; i++) {
        snprintf(text, sizeof(text), "10.%d.0.0/24", i);
        cr_assert_eq(lg_cidr_parse(text, &c[255 - i], why), 0);
    }
    lg_cidr_set_build(&set, mem, c, 256);
    cr_assert_eq(set.n4, 256);
    for (int i = 0; i < 256; i++) {
        snprintf(text, sizeof(text), "10.%d.0.%d", i, i);
        cr_assert(has(&set, text), "%s", text);
        snprintf(text, sizeof(text), "10.%d.1.0", i);
        cr_assert(!has(&set, text), "%s", text);
    }
    cr_assert(!has(&set, "9.255.255.255") && !has(&set, "11.0.0.0"));
}

/* A route's rule: deny first and wins, then allow (when present) lists who gets in. */
Test(access, allow_and_deny)
{
    lg_cidr_set_t allow = set_of((const char *const[]){"10.0.0.0/8", "2001:db8::/32", NULL});
    lg_cidr_set_t deny = set_of((const char *const[]){"10.0.0.5", "192.168.0.0/16", NULL});
    lg_route_conf_t none = {0}, allow_only = {.allow = &allow}, deny_only = {.deny = &deny},
                    both = {.allow = &allow, .deny = &deny};
    static const struct {
        const char *ip;
        int none, allow_only, deny_only, both;
    } cases[] = {
        {"10.0.0.1", 1, 1, 1, 1},        {"10.0.0.5", 1, 1, 0, 0},
        {"192.168.1.1", 1, 0, 0, 0},     {"8.8.8.8", 1, 0, 1, 0},
        {"::ffff:10.0.0.5", 1, 1, 0, 0}, {"::ffff:10.0.0.6", 1, 1, 1, 1},
        {"2001:db8::1", 1, 1, 1, 1},     {"::1", 1, 0, 1, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss = client(cases[i].ip);
        const struct sockaddr *sa = (const struct sockaddr *)&ss;

        cr_assert_eq(lg_access_allows(&none, sa), cases[i].none, "%s", cases[i].ip);
        cr_assert_eq(lg_access_allows(&allow_only, sa), cases[i].allow_only, "%s", cases[i].ip);
        cr_assert_eq(lg_access_allows(&deny_only, sa), cases[i].deny_only, "%s", cases[i].ip);
        cr_assert_eq(lg_access_allows(&both, sa), cases[i].both, "%s", cases[i].ip);
    }
}
