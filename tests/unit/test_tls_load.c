/*
 * test_tls_load.c - what lg_tls_load() reports, as `lifeguard -t`, the start and a reload show
 * it: every problem with a certificate, key, cipher list or client CA as FILE:LINE:COL of the
 * key that names it, the PEM path and OpenSSL's reason; an expired certificate is a warning.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "lg_test.h"
#include "lg_test_tls.h"

/* Load `tls` (listener web, http) and expect exactly the lines `want` after "FILE". */
static void expect_tls_errors(const char *tls, const char *const *want)
{
    const char *path = lg_test_tls_conf("web", "http", tls);
    lg_config_errors_t e = {0};
    lg_config_t *cf = lg_config_load(path, &e);
    size_t n = 0;

    cr_assert_not_null(cf, "%s", e.n > 0 ? e.lines[0] : "?");
    cr_assert_eq(lg_tls_load(cf, &e), LG_ERR, "the certificates were accepted");
    while (want[n] != NULL)
        n++;
    for (size_t i = 0; i < e.n || i < n; i++) {
        const char *got = i < e.n ? e.lines[i] : "(none)";
        const char *exp = i < n ? lg_fmt("%s%s", path, want[i]) : "(none)";

        cr_expect_str_eq(got, exp, "line %zu:\n got  %s\n want %s", i, got, exp);
    }
    lg_config_errors_free(&e);
    lg_config_free(cf);
}

static const char *pki(const char *name)
{
    return lg_test_pki(name);
}

Test(tls_load, missing_files)
{
    expect_tls_errors(
        "      certificates:\n"
        "        - cert: /nonexistent/site.pem\n"
        "          key: /nonexistent/site.key\n",
        (const char *const[]){":9:17: error: listeners.web.tls.certificates[0].cert: open() "
                              "\"/nonexistent/site.pem\" failed (2: No such file or directory)",
                              NULL});
    expect_tls_errors(
        lg_fmt("      certificates:\n"
               "        - cert: %s\n"
               "          key: /nonexistent/site.key\n",
               pki("ec.pem")),
        (const char *const[]){":10:16: error: listeners.web.tls.certificates[0].key: open() "
                              "\"/nonexistent/site.key\" failed (2: No such file or directory)",
                              NULL});
}

Test(tls_load, key_that_does_not_match_and_files_of_the_wrong_kind)
{
    expect_tls_errors(lg_fmt("      certificates:\n%s", lg_test_cert_entry("rsa", "exact")),
                      (const char *const[]){
                          lg_fmt(":10:16: error: listeners.web.tls.certificates[0].key: \"%s\" is "
                                 "not the key of the certificate \"%s\" (OpenSSL: key values "
                                 "mismatch)",
                                 pki("exact.key"), pki("rsa.pem")),
                          NULL});
    expect_tls_errors(lg_fmt("      certificates:\n"
                             "        - cert: %s\n"
                             "          key: %s\n",
                             pki("ec.key"), pki("ec.pem")),
                      (const char *const[]){
                          lg_fmt(":9:17: error: listeners.web.tls.certificates[0].cert: \"%s\": no "
                                 "PEM certificate found (OpenSSL: no start line)",
                                 pki("ec.key")),
                          NULL});
    expect_tls_errors(lg_fmt("      certificates:\n"
                             "        - cert: %s\n"
                             "          key: %s\n",
                             pki("ec.pem"), pki("ec.pem")),
                      (const char *const[]){
                          lg_fmt(":10:16: error: listeners.web.tls.certificates[0].key: \"%s\": no "
                                 "usable PEM private key found (OpenSSL: unsupported); a key "
                                 "protected by a passphrase is not supported",
                                 pki("ec.pem")),
                          NULL});
}

Test(tls_load, chain_in_the_wrong_order)
{
    expect_tls_errors(
        lg_fmt("      certificates:\n%s", lg_test_cert_entry("wrongorder", "ec")),
        (const char *const[]){
            lg_fmt(":9:17: error: listeners.web.tls.certificates[0].cert: \"%s\": the chain is out "
                   "of order: certificate 2 (\"CN=lifeguard test CA\") did not issue certificate 1 "
                   "(issued by \"CN=lifeguard test intermediate\"); put the leaf first, then each "
                   "issuer",
                   pki("wrongorder.pem")),
            NULL});
}

Test(tls_load, ciphers_client_ca_and_every_error_at_once)
{
    expect_tls_errors(
        lg_fmt("      certificates:\n%s%s"
               "      ciphers: NOPE:NEITHER\n"
               "      client_auth:\n"
               "        ca: /nonexistent/ca.pem\n",
               lg_test_cert_entry("ec", NULL), lg_test_cert_entry("rsa", "ec")),
        (const char *const[]){
            ":13:16: error: listeners.web.tls.ciphers: NOPE:NEITHER: no usable cipher (OpenSSL: "
            "no cipher match)",
            ":15:13: error: listeners.web.tls.client_auth.ca: open() \"/nonexistent/ca.pem\" "
            "failed (2: No such file or directory)",
            lg_fmt(":12:16: error: listeners.web.tls.certificates[1].key: \"%s\" is not the key "
                   "of the certificate \"%s\" (OpenSSL: key type mismatch)",
                   pki("ec.key"), pki("rsa.pem")),
            NULL});
    expect_tls_errors(lg_fmt("      certificates:\n%s"
                             "      client_auth:\n"
                             "        ca: %s\n",
                             lg_test_cert_entry("ec", NULL), pki("ec.key")),
                      (const char *const[]){
                          lg_fmt(":12:13: error: listeners.web.tls.client_auth.ca: \"%s\": no PEM "
                                 "CA certificate found (OpenSSL: no start line)",
                                 pki("ec.key")),
                          NULL});
}

Test(tls_load, expired_certificate_is_a_warning)
{
    const char *dir = lg_test_tempdir(), *log = lg_fmt("%s/error.log", dir);
    const char *tls = lg_fmt("      certificates:\n%s%s", lg_test_cert_entry("ec", NULL),
                             lg_test_cert_entry("expired", NULL));
    const char *path = lg_test_tls_conf("web", "http", tls);
    lg_config_errors_t e = {0};
    lg_config_t *cf = lg_config_load(path, &e);
    char *text;

    cr_assert_not_null(cf);
    cr_assert_eq(lg_log_open(log), LG_OK);
    cr_assert_eq(lg_tls_load(cf, &e), LG_OK, "%s", e.n > 0 ? e.lines[0] : "?");
    lg_log_open("stderr");
    text = lg_test_read_file(log, NULL);
    cr_assert_not_null(strstr(text, lg_fmt("[warn] %d#m: %s:11:17: warning: "
                                           "listeners.web.tls.certificates[1].cert: \"%s\" "
                                           "expired on Jan  1 00:00:00 2021 GMT: clients will "
                                           "refuse it\n",
                                           (int)getpid(), path, pki("expired.pem"))),
                       "%s", text);
    cr_assert_null(strstr(text, "BEGIN"), "key material in the log");
    free(text);
    lg_config_free(cf);
}

Test(tls_load, check_command_reports_them)
{
    char *out = NULL;
    int rc = lg_lifeguard_run(
        lg_test_tls_yaml("web", "http",
                         lg_fmt("      certificates:\n%s", lg_test_cert_entry("rsa", "ec"))),
        "-t", &out);

    cr_assert_eq(rc, 1, "%s", out);
    cr_assert_not_null(strstr(out, lg_fmt(":10:16: error: listeners.web.tls.certificates[0].key: "
                                          "\"%s\" is not the key of the certificate \"%s\"",
                                          pki("ec.key"), pki("rsa.pem"))),
                       "%s", out);
    rc = lg_lifeguard_run(
        lg_test_tls_yaml("web", "http",
                         lg_fmt("      certificates:\n%s", lg_test_cert_entry("ec", NULL))),
        "-t", &out);
    cr_assert_eq(rc, 0, "%s", out);
}

Test(tls_load, ocsp_file_that_is_not_a_response_or_not_about_the_certificate)
{
    expect_tls_errors(lg_fmt("      certificates:\n%s          ocsp: %s\n",
                             lg_test_cert_entry("ec", NULL), pki("ec.key")),
                      (const char *const[]){
                          lg_fmt(":11:17: error: listeners.web.tls.certificates[0].ocsp: \"%s\": "
                                 "not a DER OCSP response (OpenSSL: nested asn1 error)",
                                 pki("ec.key")),
                          NULL});
    expect_tls_errors(lg_fmt("      certificates:\n%s          ocsp: %s\n",
                             lg_test_cert_entry("rsa", NULL), pki("ec.ocsp")),
                      (const char *const[]){
                          lg_fmt(":11:17: error: listeners.web.tls.certificates[0].ocsp: \"%s\" is "
                                 "not about the certificate \"%s\"",
                                 pki("ec.ocsp"), pki("rsa.pem")),
                          NULL});
}

Test(tls_load, key_below_the_security_level_cannot_be_served)
{
    expect_tls_errors(lg_fmt("      certificates:\n%s%s", lg_test_cert_entry("ec", NULL),
                             lg_test_cert_entry("weak", NULL)),
                      (const char *const[]){
                          lg_fmt(":11:17: error: listeners.web.tls.certificates[1].cert: \"%s\" "
                                 "cannot be served (OpenSSL: ee key too small)",
                                 pki("weak.pem")),
                          NULL});
}
