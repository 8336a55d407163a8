/*
 * test_dns.c - DNS messages (src/health/dns.c): the queries we send, and answers parsed
 * strictly, including compressed names, AAAA records, NXDOMAIN and hostile input.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "health/dns.h"

/* A real answer from dnsmasq: app.test A 127.0.0.2, id 0x1234, name compressed (c00c). */
static const char answer_hex[] = "1234858000010001000000000361707004746573740000010001"
                                 "c00c000100010000000000047f000002";

static size_t unhex(const char *hex, unsigned char *out)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        char byte[3] = {hex[2 * i], hex[2 * i + 1], 0};

        out[i] = (unsigned char)strtoul(byte, NULL, 16);
    }
    return n;
}

Test(dns, query_bytes)
{
    unsigned char q[512], want[64];
    size_t n = lg_dns_query(q, sizeof(q), 0x1234, "app.test", 1);
    size_t wn = unhex("1234010000010000000000000361707004746573740000010001", want);

    cr_assert_eq(n, wn);
    cr_assert_eq(memcmp(q, want, n), 0);
    cr_assert_eq(lg_dns_query(q, sizeof(q), 1, "a..b", 1), 0);
    cr_assert_gt(lg_dns_query(q, sizeof(q), 1, "app.test.", 28), 0);
}

Test(dns, parses_a_record_with_compression)
{
    unsigned rcode;
    unsigned char msg[128];
    struct sockaddr_storage out[4];
    size_t n = unhex(answer_hex, msg);
    struct sockaddr_in *sin = (struct sockaddr_in *)&out[0];

    cr_assert_eq(lg_dns_parse(msg, n, 0x1234, 8080, out, 4, &rcode), 1);
    cr_assert_eq(sin->sin_family, AF_INET);
    cr_assert_eq(ntohs(sin->sin_port), 8080);
    cr_assert_eq(ntohl(sin->sin_addr.s_addr), 0x7f000002);
}

Test(dns, rejects_what_is_not_our_answer)
{
    unsigned rcode;
    unsigned char msg[128];
    struct sockaddr_storage out[4];
    size_t n = unhex(answer_hex, msg);

    cr_assert_eq(lg_dns_parse(msg, n, 0x1235, 80, out, 4, &rcode), -1); /* another id */
    for (size_t cut = 0; cut < n; cut++)                                /* truncated anywhere */
        cr_assert_eq(lg_dns_parse(msg, cut, 0x1234, 80, out, 4, &rcode), -1);
    msg[2] &= 0x7f; /* a query, not a response */
    cr_assert_eq(lg_dns_parse(msg, n, 0x1234, 80, out, 4, &rcode), -1);
}

/* An answer with an error rcode has no address, and its rcode says why (NXDOMAIN, SERVFAIL...). */
Test(dns, error_rcodes_are_reported)
{
    static const unsigned rcodes[] = {1, 2, 3, 5, 9};
    unsigned char msg[128];
    struct sockaddr_storage out[4];
    size_t n = unhex(answer_hex, msg);
    unsigned rcode = 99;

    cr_assert_eq(lg_dns_parse(msg, n, 0x1234, 80, out, 4, &rcode), 1);
    cr_assert_eq(rcode, 0);
    for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
        msg[3] = (unsigned char)((msg[3] & 0xf0) | rcodes[i]);
        rcode = 99;
        cr_assert_eq(lg_dns_parse(msg, n, 0x1234, 80, out, 4, &rcode), 0);
        cr_assert_eq(rcode, rcodes[i]);
    }
}

Test(dns, random_garbage_never_crashes)
{
    unsigned rcode;
    unsigned char msg[512];
    struct sockaddr_storage out[8];

    srand(42);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof(msg));

        for (size_t i = 0; i < n; i++)
            msg[i] = (unsigned char)rand();
        if (n >= 3) {
            msg[0] = 0x12, msg[1] = 0x34, msg[2] |= 0x80;
        }
        cr_assert_leq(lg_dns_parse(msg, n, 0x1234, 80, out, 8, &rcode), 8);
    }
}
