/*
 * test_config_acme.c - the top-level `acme` section and `acme: [names]` certificate entries
 * (src/config/acme.c, src/config/tls.c): defaults, every key read, and every bad value
 * reported at its FILE:LINE:COL; `lg_tls_load` builds an acme entry without any network.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/lg.h"
#include "lg_test.h"
#include "tls/tls.h"

/* A tls listener whose certificate entries start at line 6 (`-` at column 9). */
#define HEAD                                                                                       \
    "listeners:\n  web:\n    listen: 127.0.0.1:8443\n    routes: [{respond: {status: 200}}]\n"     \
    "    tls:\n      certificates:\n"
#define ACME "acme:\n  storage: /nonexistent/acme\n"

/* Load HEAD + `text`, and the certificates too (lg_tls_load): NULL with the errors in *e. */
static lg_config_t *load(const char *text, lg_config_errors_t *e)
{
    char *dir = lg_test_tmpdir();
    char *path = lg_test_write_file(dir, "acme.yaml", lg_fmt("%s%s", HEAD, text));
    lg_config_t *cf = lg_config_load(path, e);

    if (cf != NULL && lg_tls_load(cf, e) != LG_OK) {
        lg_config_free(cf);
        cf = NULL;
    }
    lg_test_rmtree(dir);
    free(path);
    return cf;
}

Test(config_acme, defaults_and_names)
{
    lg_config_errors_t e = {0};
    lg_config_t *cf = load("        - acme: [WWW.Example.com, example.com.]\n" ACME, &e);
    const lg_tls_cert_conf_t *c;

    cr_assert_not_null(cf, "rejected: %s", e.n > 0 ? e.lines[0] : "");
    cr_assert_not_null(cf->acme);
    cr_assert_str_eq(cf->acme->directory, LG_ACME_DIRECTORY);
    cr_assert_str_eq(cf->acme->storage, "/nonexistent/acme");
    cr_assert_null(cf->acme->email);
    cr_assert_null(cf->acme->ca);
    cr_assert_eq(cf->acme->challenge, LG_ACME_HTTP01);
    cr_assert_eq(cf->acme->renew_before, 720 * 3600 * 1000ull);
    c = &cf->listeners[0].tls->certs[0];
    cr_assert_eq(c->nacme, 2);
    cr_assert_str_eq(c->acme[0], "www.example.com", "lower case");
    cr_assert_str_eq(c->acme[1], "example.com", "without the root's dot");
    cr_assert_null(c->cert);
    cr_assert_not_null(cf->listeners[0].tls->ctx, "the placeholder context is built");
    lg_config_free(cf);
}

Test(config_acme, every_key)
{
    lg_config_errors_t e = {0};
    lg_config_t *cf = load("        - acme: [a.example]\n"
                           "          ocsp: off\n"
                           "acme:\n"
                           "  directory: https://127.0.0.1:14000/dir\n"
                           "  email: ops@example.com\n"
                           "  storage: /var/lib/x\n"
                           "  ca: /etc/pebble.pem\n"
                           "  challenge: tls-alpn-01\n"
                           "  renew_before: 48h\n",
                           &e);

    cr_assert_not_null(cf, "rejected: %s", e.n > 0 ? e.lines[0] : "");
    cr_assert_str_eq(cf->acme->directory, "https://127.0.0.1:14000/dir");
    cr_assert_str_eq(cf->acme->email, "ops@example.com");
    cr_assert_str_eq(cf->acme->storage, "/var/lib/x");
    cr_assert_str_eq(cf->acme->ca, "/etc/pebble.pem");
    cr_assert_eq(cf->acme->challenge, LG_ACME_TLSALPN01);
    cr_assert_eq(cf->acme->renew_before, 48 * 3600 * 1000ull);
    cr_assert_eq(cf->listeners[0].tls->certs[0].ocsp, LG_OCSP_OFF);
    lg_config_free(cf);
}

/* The other tests put the acme section after the listeners; before them is as good. */
Test(config_acme, acme_section_before_the_listeners)
{
    lg_config_errors_t e = {0};
    char *dir = lg_test_tmpdir();
    char *path =
        lg_test_write_file(dir, "a.yaml", lg_fmt("%s%s        - acme: [a.example]\n", ACME, HEAD));
    lg_config_t *cf = lg_config_load(path, &e);

    cr_assert_not_null(cf, "rejected: %s", e.n > 0 ? e.lines[0] : "");
    cr_assert_eq(cf->listeners[0].tls->certs[0].nacme, 1);
    lg_config_free(cf);
    lg_test_rmtree(dir);
    free(path);
}

typedef struct bad_case {
    const char *text; /* after HEAD (entries at line 7) */
    const char *want; /* the first error, after "FILE" */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"        - acme: [a.example]\n",
     ":7:11: error: listeners.web.tls.certificates[0].acme: needs the top-level \"acme\" "
     "section (the ACME server and account, docs/configuration.md)"},
    {"        - acme: [\"*.example.com\"]\n" ACME,
     ":7:18: error: listeners.web.tls.certificates[0].acme[0]: \"*.example.com\": a wildcard "
     "certificate needs the dns-01 challenge, which lifeguard does not answer (http-01 and "
     "tls-alpn-01 prove one name each); list the names, or use a cert and key entry"},
    {"        - acme: [a.example, A.example]\n" ACME,
     ":7:29: error: listeners.web.tls.certificates[0].acme[1]: \"a.example\" is listed twice"},
    {"        - acme: [a_b.example]\n" ACME,
     ":7:18: error: listeners.web.tls.certificates[0].acme[0]: invalid name \"a_b.example\": "
     "expected a DNS name such as www.example.com"},
    {"        - acme: [10.0.0.1]\n" ACME,
     ":7:18: error: listeners.web.tls.certificates[0].acme[0]: invalid name \"10.0.0.1\": "
     "expected a DNS name such as www.example.com"},
    {"        - acme: []\n" ACME,
     ":7:17: error: listeners.web.tls.certificates[0].acme: needs at least one name"},
    {"        - acme: a.example\n" ACME,
     ":7:17: error: listeners.web.tls.certificates[0].acme: expected a list of names such as "
     "[example.com, www.example.com], got a single value"},
    {"        - acme: [a.example]\n          cert: /x.pem\n" ACME,
     ":8:11: error: listeners.web.tls.certificates[0].cert: an entry has either cert and key "
     "or acme: the ACME server issues the certificate of an acme entry (remove cert, or "
     "acme)"},
    {"        - acme: [a.example]\n          ocsp: /x.der\n" ACME,
     ":8:17: error: listeners.web.tls.certificates[0].ocsp: an acme entry takes ocsp: auto or "
     "off; a response file would not follow its certificate through renewals"},
    {"        - acme: [a.example]\n" ACME "  directory: http://acme.example/dir\n",
     ":10:14: error: acme.directory: expected the https URL of the ACME directory, such as "
     "https://acme-v02.api.letsencrypt.org/directory, got \"http://acme.example/dir\" (RFC "
     "8555 requires https)"},
    {"        - acme: [a.example]\n" ACME "  email: ops.example.com\n",
     ":10:10: error: acme.email: expected an e-mail address such as ops@example.com, got "
     "\"ops.example.com\""},
    {"        - acme: [a.example]\n" ACME "  challenge: dns-01\n",
     ":10:14: error: acme.challenge: unknown value \"dns-01\" (expected one of: http-01, "
     "tls-alpn-01)"},
    {"        - acme: [a.example]\n" ACME "  renew_before: 30s\n",
     ":10:17: error: acme.renew_before: must be from 1m to 87600h, got \"30s\""},
    {"        - acme: [a.example]\n" ACME "  renwe_before: 1h\n",
     ":10:3: error: unknown key \"renwe_before\" (did you mean \"renew_before\"?)"},
    {"        - acme: [a.example]\nacme: [x]\n",
     ":8:7: error: acme: expected a mapping (directory, email, storage, ...), got a list"},
};

/* Each case alone: its first error line, path and position included. */
Test(config_acme, bad_values)
{
    char *dir = lg_test_tmpdir();

    for (size_t i = 0; i < LG_NELEMS(bad_cases); i++) {
        const bad_case_t *bc = &bad_cases[i];
        char *path = lg_test_write_file(dir, "acme.yaml", lg_fmt("%s%s", HEAD, bc->text));
        lg_config_errors_t e = {0};
        lg_config_t *cf = lg_config_load(path, &e);

        cr_assert_null(cf, "accepted:\n%s", bc->text);
        cr_assert_geq(e.n, 1);
        cr_expect_str_eq(e.lines[0], lg_fmt("%s%s", path, bc->want),
                         "case %zu\n got  %s\n want %s%s", i, e.lines[0], path, bc->want);
        lg_config_errors_free(&e);
        free(path);
    }
    lg_test_rmtree(dir);
}
