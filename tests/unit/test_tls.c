/*
 * test_tls.c - src/tls: real handshakes in memory (an OpenSSL client and lifeguard's server SSL
 * over a BIO pair) against contexts built from a configuration file by lg_tls_load(): SNI,
 * RSA/ECDSA by signature algorithms, versions, ALPN, client certificates. Tickets are in
 * test_tls_tickets.c, load errors in test_tls_load.c.
 */
#include <criterion/criterion.h>

#include "lg_test.h"
#include "lg_test_tls.h"

/* ---- SNI */

typedef struct sni_case {
    const char *sni;
    const char *cn; /* the leaf served */
} sni_case_t;

Test(tls, sni_exact_before_wildcard_case_insensitive_default_first)
{
    static const sni_case_t cases[] = {
        {"www.example.com", "ec test leaf"},
        {"WWW.Example.COM", "ec test leaf"},
        {"www.example.com.", "ec test leaf"},   /* a trailing dot is not part of the name */
        {"api.example.org", "exact test leaf"}, /* listed after the wildcard: exact wins */
        {"API.EXAMPLE.ORG", "exact test leaf"},
        {"x.example.org", "wild test leaf"},
        {"a.b.example.org", "ec test leaf"}, /* a wildcard covers one label */
        {"example.org", "ec test leaf"},
        {"cn.example.net", "cn.example.net"}, /* no subjectAltName: the CN counts */
        {"unknown.test", "ec test leaf"},
        {NULL, "ec test leaf"},
    };
    lg_config_t *cf =
        lg_test_tls_load("web", "http",
                         lg_fmt("      certificates:\n%s%s%s%s", lg_test_cert_entry("ec", NULL),
                                lg_test_cert_entry("wild", NULL), lg_test_cert_entry("exact", NULL),
                                lg_test_cert_entry("cn", NULL)));
    lg_hs_result_t r;

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_test_handshake(lg_test_tls_ctx(cf), &(lg_hs_client_t){.sni = cases[i].sni}, &r);
        cr_assert(r.ok, "%s: handshake failed (alert %d)", cases[i].sni, r.alert);
        cr_assert_str_eq(r.leaf_cn, cases[i].cn, "SNI %s", cases[i].sni);
        if (cases[i].sni != NULL)
            cr_assert_str_eq(r.info.sni, cases[i].sni);
        else
            cr_assert_null(r.info.sni);
        SSL_SESSION_free(r.session);
    }
    lg_config_free(cf);
}

Test(tls, unknown_sni_reject_is_an_unrecognized_name_alert)
{
    static const char *const refused[] = {"unknown.test", "a.b.example.org", NULL};
    lg_config_t *cf =
        lg_test_tls_load("web", "http",
                         lg_fmt("      certificates:\n%s%s      unknown_sni: reject\n",
                                lg_test_cert_entry("ec", NULL), lg_test_cert_entry("wild", NULL)));
    lg_hs_result_t r;

    for (size_t i = 0; i < LG_NELEMS(refused); i++) {
        lg_test_handshake(lg_test_tls_ctx(cf), &(lg_hs_client_t){.sni = refused[i]}, &r);
        cr_assert_not(r.ok, "%s was accepted", refused[i]);
        cr_assert_eq(r.alert, LG_ALERT_BAD_NAME, "%s: alert %d", refused[i], r.alert);
    }
    lg_test_handshake(lg_test_tls_ctx(cf), &(lg_hs_client_t){.sni = "Z.example.org"}, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.leaf_cn, "wild test leaf");
    SSL_SESSION_free(r.session);
    lg_config_free(cf);
}

/* ---- RSA and ECDSA for one name */

typedef struct sigalg_case {
    const char *sni;
    int version;
    const char *sigalgs;
    int kind;
} sigalg_case_t;

Test(tls, rsa_or_ecdsa_by_the_client_signature_algorithms)
{
    static const char rsa[] = "RSA-PSS+SHA256:RSA+SHA256", ec[] = "ECDSA+SHA256";
    static const sigalg_case_t cases[] = {
        {NULL, TLS1_3_VERSION, ec, EVP_PKEY_EC},
        {NULL, TLS1_3_VERSION, rsa, EVP_PKEY_RSA},
        {NULL, TLS1_2_VERSION, ec, EVP_PKEY_EC},
        {NULL, TLS1_2_VERSION, rsa, EVP_PKEY_RSA},
        {"www.example.com", TLS1_3_VERSION, ec, EVP_PKEY_EC},
        {"www.example.com", TLS1_3_VERSION, rsa, EVP_PKEY_RSA},
        {"example.com", TLS1_2_VERSION, ec, EVP_PKEY_EC},
        {"example.com", TLS1_2_VERSION, rsa, EVP_PKEY_RSA},
    };
    /* Both as the default; then after another certificate, so that SNI switches to them. */
    lg_config_t *dflt =
        lg_test_tls_load("web", "http",
                         lg_fmt("      certificates:\n%s%s", lg_test_cert_entry("rsa", NULL),
                                lg_test_cert_entry("ec", NULL)));
    lg_config_t *sni =
        lg_test_tls_load("web", "http",
                         lg_fmt("      certificates:\n%s%s%s", lg_test_cert_entry("wild", NULL),
                                lg_test_cert_entry("ec", NULL), lg_test_cert_entry("rsa", NULL)));
    lg_hs_result_t r;

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        const sigalg_case_t *c = &cases[i];

        lg_test_handshake(
            lg_test_tls_ctx(c->sni == NULL ? dflt : sni),
            &(lg_hs_client_t){.sni = c->sni, .version = c->version, .sigalgs = c->sigalgs}, &r);
        cr_assert(r.ok, "case %zu failed (alert %d)", i, r.alert);
        cr_assert_eq(r.leaf_kind, c->kind, "case %zu: %s got key type %d", i, c->sigalgs,
                     r.leaf_kind);
        SSL_SESSION_free(r.session);
    }
    lg_config_free(dflt);
    lg_config_free(sni);
}

/* ---- versions */

Test(tls, versions_default_and_tls1_3_only)
{
    lg_config_t *both = lg_test_tls_load(
        "web", "http", lg_fmt("      certificates:\n%s", lg_test_cert_entry("ec", NULL)));
    lg_config_t *only13 =
        lg_test_tls_load("web", "http",
                         lg_fmt("      certificates:\n%s      versions: [tls1.3]\n",
                                lg_test_cert_entry("ec", NULL)));
    lg_hs_result_t r;

    lg_test_handshake(lg_test_tls_ctx(both), &(lg_hs_client_t){.version = TLS1_1_VERSION}, &r);
    cr_assert_not(r.ok, "a TLS 1.1 client was accepted");
    cr_assert_eq(r.alert, LG_ALERT_VERSION, "alert %d", r.alert);
    lg_test_handshake(lg_test_tls_ctx(both), &(lg_hs_client_t){.version = TLS1_2_VERSION}, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.info.version, "TLSv1.2");
    cr_assert_str_eq(r.info.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256", "server preference");
    SSL_SESSION_free(r.session);
    lg_test_handshake(lg_test_tls_ctx(both), &(lg_hs_client_t){0}, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.info.version, "TLSv1.3");
    SSL_SESSION_free(r.session);
    lg_test_handshake(lg_test_tls_ctx(only13), &(lg_hs_client_t){.version = TLS1_2_VERSION}, &r);
    cr_assert_not(r.ok, "a TLS 1.2 client was accepted by versions: [tls1.3]");
    cr_assert_eq(r.alert, LG_ALERT_VERSION);
    lg_config_free(both);
    lg_config_free(only13);
}

/* ---- ALPN */

/* ALPN: our preference (h2, then http/1.1 unless http2: off); nothing in common is no alert. */
typedef struct alpn_case {
    const char *mode;    /* the listener's mode line, with more keys after a newline */
    const char *offered; /* wire format; NULL: the client offers no ALPN */
    size_t offered_len;
    const char *agreed; /* NULL: none */
} alpn_case_t;

#define ALPN(s) s, sizeof(s) - 1

Test(tls, alpn_h2_http1_and_no_alert_for_other_protocols)
{
    static const alpn_case_t cases[] = {
        {"http", ALPN("\x02h2\x08http/1.1"), "h2"},
        {"http", ALPN("\x08http/1.1\x02h2"), "h2"}, /* the server's preference */
        {"http", ALPN("\x08http/1.1"), "http/1.1"},
        {"http", ALPN("\x03foo"), NULL},
        {"http", NULL, 0, NULL},
        {"http\n    http2: off", ALPN("\x02h2\x08http/1.1"), "http/1.1"},
        {"http\n    http2: off", ALPN("\x02h2\x03foo"), NULL},
        {"tcp", ALPN("\x02h2\x08http/1.1"), NULL}, /* a tcp listener agrees on no protocol */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const alpn_case_t *c = &cases[i];
        lg_config_t *cf = lg_test_tls_load(
            "web", c->mode, lg_fmt("      certificates:\n%s", lg_test_cert_entry("ec", NULL)));
        lg_hs_result_t r;

        lg_test_handshake(lg_test_tls_ctx(cf),
                          &(lg_hs_client_t){.alpn = (const unsigned char *)c->offered,
                                            .alpn_len = c->offered_len},
                          &r);
        cr_assert(r.ok, "case %zu: alert %d", i, r.alert);
        cr_assert_eq(r.alert, LG_ALERT_NONE, "case %zu", i);
        if (c->agreed == NULL)
            cr_assert_null(r.info.alpn, "case %zu: agreed on %s", i, r.info.alpn);
        else
            cr_assert_str_eq(r.info.alpn, c->agreed, "case %zu", i);
        SSL_SESSION_free(r.session);
        lg_config_free(cf);
    }
}

/* ---- client certificates */

typedef struct auth_case {
    const char *verify;
    const char *cert; /* NULL: none */
    int ok;
    const char *subject;
} auth_case_t;

Test(tls, client_auth_required_and_optional)
{
    static const auth_case_t cases[] = {
        {"required", "client", 1, "O=lifeguard tests,CN=client one"},
        {"required", NULL, 0, NULL},
        {"required", "rogue", 0, NULL},
        {"optional", "client", 1, "O=lifeguard tests,CN=client one"},
        {"optional", NULL, 1, ""},
        {"optional", "rogue", 1, ""}, /* not verified: no subject */
    };
    lg_hs_result_t r;

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        const auth_case_t *c = &cases[i];

        for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
            lg_config_t *cf = lg_test_tls_load(
                "web", "http",
                lg_fmt("      certificates:\n%s      client_auth:\n        ca: %s\n"
                       "        verify: %s\n",
                       lg_test_cert_entry("ec", NULL), lg_test_pki("ca.pem"), c->verify));

            lg_test_handshake(lg_test_tls_ctx(cf), &(lg_hs_client_t){.cert = c->cert, .version = v},
                              &r);
            cr_assert_eq(r.ok, c->ok, "case %zu (version %x): ok %d", i, v, r.ok);
            if (c->ok)
                cr_assert_str_eq(r.info.subject, c->subject, "case %zu", i);
            SSL_SESSION_free(r.session);
            lg_config_free(cf);
        }
    }
}

/* ---- OCSP stapling from a file */

Test(tls, ocsp_file_is_stapled_for_its_certificate)
{
    size_t len = 0;
    char *der = lg_test_read_file(lg_test_pki("ec.ocsp"), &len);
    lg_config_t *cf = lg_test_tls_load(
        "web", "http",
        lg_fmt("      certificates:\n%s          ocsp: %s\n%s", lg_test_cert_entry("ec", NULL),
               lg_test_pki("ec.ocsp"), lg_test_cert_entry("rsa", NULL)));
    lg_hs_result_t r;

    cr_assert_not_null(der);
    lg_test_handshake(lg_test_tls_ctx(cf),
                      &(lg_hs_client_t){.status_request = 1, .sigalgs = "ECDSA+SHA256"}, &r);
    cr_assert(r.ok);
    cr_assert_eq(r.stapled, (long)len, "stapled %ld bytes of %zu", r.stapled, len);
    SSL_SESSION_free(r.session);
    /* the RSA certificate of the same names has no response; a client that asks for none */
    lg_test_handshake(lg_test_tls_ctx(cf),
                      &(lg_hs_client_t){.status_request = 1, .sigalgs = "RSA-PSS+SHA256"}, &r);
    cr_assert(r.ok);
    cr_assert_eq(r.leaf_kind, EVP_PKEY_RSA);
    cr_assert_eq(r.stapled, -1);
    SSL_SESSION_free(r.session);
    lg_test_handshake(lg_test_tls_ctx(cf), &(lg_hs_client_t){.sigalgs = "ECDSA+SHA256"}, &r);
    cr_assert(r.ok);
    cr_assert_eq(r.stapled, -1);
    SSL_SESSION_free(r.session);
    free(der);
    lg_config_free(cf);
}
