/*
 * test_ipcount.c - connections counted per client address (core/ipcount.c): the limit, entries
 * gone at 0, IPv4 and IPv4-mapped clients as one address, and a table that grows and shrinks
 * with the number of addresses while every count stays right (checked against a plain array).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/ipcount.h"

static struct sockaddr_storage v4(uint32_t ip)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_INET;
    ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(ip);
    return ss;
}

static struct sockaddr_storage v6(const char *text)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_INET6;
    cr_assert_eq(inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

Test(ipcount, limit_per_address)
{
    lg_ipcount_t t = {0};
    struct sockaddr_storage a = v4(0x7f000001), b = v4(0x7f000002);

    for (int i = 0; i < 3; i++)
        cr_assert_eq(lg_ipcount_take(&t, SA(a), 3), 0);
    cr_assert_eq(lg_ipcount_take(&t, SA(a), 3), -2, "a 4th is refused");
    cr_assert_eq(lg_ipcount_get(&t, SA(a)), 3, "a refusal is not counted");
    cr_assert_eq(lg_ipcount_take(&t, SA(b), 3), 0, "another address gets in");
    lg_ipcount_put(&t, SA(a));
    cr_assert_eq(lg_ipcount_take(&t, SA(a), 3), 0, "after one closed, the next one gets in");
    cr_assert_eq(t.n, 2);
    for (int i = 0; i < 3; i++)
        lg_ipcount_put(&t, SA(a));
    lg_ipcount_put(&t, SA(b));
    cr_assert_eq(t.n, 0, "entries go at 0");
    cr_assert_eq(lg_ipcount_get(&t, SA(a)), 0);
    lg_ipcount_put(&t, SA(a)); /* an address without an entry: nothing happens */
    cr_assert_eq(t.n, 0);
    lg_ipcount_free(&t);
}

Test(ipcount, mapped_client_is_its_ipv4_address)
{
    lg_ipcount_t t = {0};
    struct sockaddr_storage a = v4(0x0a000001), m = v6("::ffff:10.0.0.1"), c = v6("::a00:1");
    struct sockaddr un = {.sa_family = AF_UNIX};

    cr_assert_eq(lg_ipcount_take(&t, SA(a), 2), 0);
    cr_assert_eq(lg_ipcount_take(&t, SA(m), 2), 0);
    cr_assert_eq(lg_ipcount_take(&t, SA(m), 2), -2);
    cr_assert_eq(lg_ipcount_take(&t, SA(c), 2), 0, "::10.0.0.1 is an IPv6 address of its own");
    cr_assert_eq(lg_ipcount_take(&t, &un, 2), 0, "not an IP address: never limited");
    cr_assert_eq(t.n, 2);
    lg_ipcount_free(&t);
}

/*
 * 5,000 addresses (IPv6 ones of one /64 and IPv4 ones) taken and put in a shuffled order, the
 * counts checked against an array after each step; the table grows and comes back down.
 */
Test(ipcount, grows_and_shrinks_with_exact_counts)
{
    enum { N = 5000, ROUNDS = 40000 };
    static unsigned want[N];
    static struct sockaddr_storage addr[N];
    lg_ipcount_t t = {0};
    uint64_t r = 42;
    size_t peak = 0, live = 0;

    for (int i = 0; i < N; i++) {
        char text[64];

        snprintf(text, sizeof(text), "2001:db8:0:1::%x", i);
        addr[i] = i % 2 ? v6(text) : v4(0x0a000000u + (uint32_t)i);
    }
    for (int k = 0; k < ROUNDS; k++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        int i = (int)((r >> 33) % N);
        int take = k < ROUNDS / 2 ? (r >> 20) % 4 != 0 : (r >> 20) % 4 == 0;

        if (take) {
            int got = lg_ipcount_take(&t, SA(addr[i]), 4);

            cr_assert_eq(got, want[i] < 4 ? 0 : -2, "address %d at %u", i, want[i]);
            live += got == 0 && want[i] == 0;
            want[i] += got == 0;
        } else if (want[i] > 0) {
            lg_ipcount_put(&t, SA(addr[i]));
            live -= --want[i] == 0;
        }
        cr_assert_eq(t.n, live);
        peak = t.cap > peak ? t.cap : peak;
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(lg_ipcount_get(&t, SA(addr[i])), want[i], "address %d", i);
    for (int i = 0; i < N; i++)
        while (want[i]-- > 0)
            lg_ipcount_put(&t, SA(addr[i]));
    cr_assert_eq(t.n, 0);
    cr_assert_geq(peak, 4096, "it grew");
    cr_assert_leq(t.cap, 64, "and shrank back (%zu slots)", t.cap);
    lg_ipcount_free(&t);
}
