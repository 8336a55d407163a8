/*
 * lg_test_dnsmasq.c - how the tests run dnsmasq as a DNS server on loopback (lg_test.h).
 */
#include "lg_test.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *lg_test_dnsmasq_path(void)
{
    const char *p = getenv("LG_TEST_DNSMASQ");

    return p != NULL && *p != '\0' ? p : "/usr/sbin/dnsmasq";
}

void lg_test_skip_without_dnsmasq(void)
{
    if (access(lg_test_dnsmasq_path(), X_OK) != 0)
        cr_skip_test("%s not found (Debian package dnsmasq-base, scripts/deps.sh)",
                     lg_test_dnsmasq_path());
}

char **lg_test_dnsmasq_argv(const char *ip, int port, const char *hosts, const char *extra)
{
    char *argv[] = {
        (char *)lg_test_dnsmasq_path(),
        "--no-daemon",
        "--user=root", /* no change of user: it would clear PR_SET_PDEATHSIG */
        "--conf-file=/dev/null",
        "--pid-file=",
        "--log-facility=-",
        lg_fmt("--port=%d", port),
        lg_fmt("--listen-address=%s", ip),
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        lg_fmt("--addn-hosts=%s", hosts),
        (char *)extra,
        NULL,
    };
    char **out = lg_test_keep(malloc(sizeof(argv)), NULL);

    cr_assert_not_null(out);
    memcpy(out, argv, sizeof(argv));
    return out;
}
