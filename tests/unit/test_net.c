/*
 * test_net.c - address formatting (src/core/net.c), used for X-Forwarded-For and the logs.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "core/net.h"

static const char *ip4(const char *text)
{
    static char out[LG_IP_STRLEN];
    struct sockaddr_in sin = {.sin_family = AF_INET};
    size_t n;

    cr_assert_eq(inet_pton(AF_INET, text, &sin.sin_addr), 1);
    n = lg_net_ip_text((struct sockaddr *)&sin, out, sizeof(out));
    cr_assert_eq(n, strlen(out));
    return out;
}

Test(net, ipv4_text)
{
    static const char *const cases[] = {"0.0.0.0",   "255.255.255.255", "10.0.100.7",
                                        "127.0.0.1", "1.20.199.9",      "100.10.1.250"};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_str_eq(ip4(cases[i]), cases[i]);
}

Test(net, ipv6_and_addr_text)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
    char out[LG_ADDR_STRLEN];

    cr_assert_eq(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);
    lg_net_ip_text((struct sockaddr *)&sin6, out, sizeof(out));
    cr_assert_str_eq(out, "2001:db8::1");
    lg_net_addr_text((struct sockaddr *)&sin6, out, sizeof(out));
    cr_assert_str_eq(out, "[2001:db8::1]:8080");
}
