/*
 * test_ktls.c - whether kernel TLS is offered: the words of the kernel's ULP list (read from
 * $LIFEGUARD_KTLS_ULP_FILE here), and which listeners try it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tls/ktls.h"

static const struct ulp_case {
    const char *text; /* the file's content; NULL: no file */
    int yes;
} ulp_cases[] = {
    {"mptcp\n", 0}, {"tls\n", 1}, {"mptcp tls\n", 1}, {"tls mptcp", 1}, {"tlsx espintcp\n", 0},
    {"ktls\n", 0},  {"", 0},      {NULL, 0},
};

/* Point lifeguard at a file with `text` (or at none). */
static void ulp_file(const char *text)
{
    char path[] = "/tmp/lg-ulp-XXXXXX";
    int fd = mkstemp(path);
    FILE *f;

    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    cr_assert_not_null(f);
    if (text != NULL)
        fputs(text, f);
    fclose(f);
    setenv("LIFEGUARD_KTLS_ULP_FILE", path, 1);
    if (text == NULL)
        unlink(path);
}

Test(ktls, kernel_support_is_the_word_tls_in_the_ulp_list)
{
    for (size_t i = 0; i < sizeof(ulp_cases) / sizeof(ulp_cases[0]); i++) {
        ulp_file(ulp_cases[i].text);
        cr_expect_eq(lg_ktls_kernel(), ulp_cases[i].yes, "ulp list \"%s\"",
                     ulp_cases[i].text != NULL ? ulp_cases[i].text : "(no file)");
        if (ulp_cases[i].text != NULL)
            unlink(getenv("LIFEGUARD_KTLS_ULP_FILE"));
    }
}

Test(ktls, a_listener_tries_it_with_auto_openssl_and_the_kernel)
{
    lg_tls_conf_t tls = {.ktls = LG_KTLS_AUTO};
    lg_listener_conf_t l = {.name = "web", .tls = &tls};

    ulp_file("mptcp tls\n");
    cr_assert_eq(lg_ktls_listener(&l), lg_ktls_openssl());
    tls.ktls = LG_KTLS_OFF;
    cr_assert_eq(lg_ktls_listener(&l), 0);
    unlink(getenv("LIFEGUARD_KTLS_ULP_FILE"));
    ulp_file("mptcp\n");
    tls.ktls = LG_KTLS_AUTO;
    cr_assert_eq(lg_ktls_listener(&l), 0);
    unlink(getenv("LIFEGUARD_KTLS_ULP_FILE"));
}

Test(ktls, version_line)
{
    char line[64];

    ulp_file("tls\n");
    lg_ktls_version(line, sizeof(line));
    cr_assert_str_eq(line, lg_ktls_openssl() ? "kernel TLS: kernel yes, OpenSSL yes"
                                             : "kernel TLS: kernel yes, OpenSSL no");
    unlink(getenv("LIFEGUARD_KTLS_ULP_FILE"));
}
