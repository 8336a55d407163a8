/*
 * test_tls_acme.c - acme entries on the serving side (src/tls/acme.c, alpn01.c), in process: the
 * self-signed placeholder made at load and chosen by SNI from the configured names, the hot
 * install of what the master publishes in the region (the next handshake gets it; a bad
 * publication keeps the previous certificate), a load that starts with the slot's certificate,
 * and tls-alpn-01 (ALPN acme-tls/1 with and without a challenge under way).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "acme/acme.h"
#include "core/lg.h"
#include "lg_test.h"
#include "lg_test_tls.h"
#include "tls/tls-int.h"

#define PLACEHOLDER_CN    "lifeguard ACME placeholder"
#define ALERT_NO_PROTOCOL 120 /* no_application_protocol */

static const unsigned char alpn_acme[] = "\x0a"
                                         "acme-tls/1";
static const unsigned char alpn_acme_http[] = "\x0a"
                                              "acme-tls/1"
                                              "\x08"
                                              "http/1.1";

/* Listener web (http) with the certificate entries `certs`, and an acme section. */
static lg_config_t *load(const char *certs)
{
    const char *yaml =
        lg_fmt("%sacme:\n  storage: /nonexistent/acme\n",
               lg_test_tls_yaml("web", "http", lg_fmt("      certificates:\n%s", certs)));
    const char *path = lg_test_keep(lg_test_write_file(lg_test_tempdir(), "acme.yaml", yaml), NULL);
    lg_config_errors_t e = {0};
    lg_config_t *cf = lg_config_load(path, &e);

    cr_assert_not_null(cf, "%s", e.n > 0 ? e.lines[0] : "?");
    cr_assert_eq(lg_tls_load(cf, &e), LG_OK, "%s", e.n > 0 ? e.lines[0] : "?");
    return cf;
}

static void handshake(lg_config_t *cf, const char *sni, int verify, lg_hs_result_t *r)
{
    lg_hs_client_t c = {.sni = sni, .no_verify = !verify};

    lg_test_handshake(lg_test_tls_ctx(cf), &c, r);
    SSL_SESSION_free(r->session);
}

/* Publish the PKI's NAME.pem and KEY.key in the slot of `names`. */
static void publish(const char *const *names, size_t n, const char *name, const char *key)
{
    size_t clen, klen;
    char *chain = lg_test_read_file(lg_test_pki(lg_fmt("%s.pem", name)), &clen);
    char *pem = lg_test_read_file(lg_test_pki(lg_fmt("%s.key", key)), &klen);
    int slot = lg_acme_cert_slot(names, n, 1);

    cr_assert_geq(slot, 0);
    cr_assert_eq(lg_acme_cert_publish(slot, chain, clen, pem, klen, 0), LG_OK);
    free(chain);
    free(pem);
}

Test(tls_acme, placeholder_for_the_configured_names)
{
    lg_config_t *cf =
        load(lg_fmt("%s        - acme: [a.example, B.example]\n", lg_test_cert_entry("ec", NULL)));
    lg_hs_result_t r;

    handshake(cf, "b.example", 0, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.leaf_cn, PLACEHOLDER_CN);
    cr_assert_str_eq(r.leaf_sans, "a.example,b.example");
    cr_assert(r.self_signed);
    cr_assert_eq(r.leaf_kind, EVP_PKEY_EC);
    handshake(cf, "www.example.com", 1, &r);
    cr_assert(r.ok, "the file certificate still serves its names");
    cr_assert_str_eq(r.leaf_cn, "ec test leaf");
    handshake(cf, NULL, 1, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.leaf_cn, "ec test leaf", "the first entry is the default");
    lg_config_free(cf);

    cf = load("        - acme: [a.example]\n");
    handshake(cf, NULL, 0, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.leaf_cn, PLACEHOLDER_CN, "an acme entry first is the default");
    lg_config_free(cf);
}

Test(tls_acme, hot_install_for_the_next_handshake)
{
    const char *names[] = {"www.example.com"};
    lg_config_t *cf;
    lg_hs_result_t r;
    int slot;

    cr_assert_eq(lg_acme_region_create(), LG_OK);
    cf = load("        - acme: [www.example.com]\n");
    handshake(cf, "www.example.com", 0, &r);
    cr_assert_str_eq(r.leaf_cn, PLACEHOLDER_CN);

    publish(names, 1, "ec", "ec");
    handshake(cf, "www.example.com", 1, &r);
    cr_assert(r.ok, "the published certificate verifies");
    cr_assert_str_eq(r.leaf_cn, "ec test leaf");
    handshake(cf, NULL, 1, &r);
    cr_assert_str_eq(r.leaf_cn, "ec test leaf", "without SNI too (the default entry)");

    slot = lg_acme_cert_slot(names, 1, 0);
    cr_assert_eq(lg_acme_cert_publish(slot, "damaged", 7, "nokey", 5, 0), LG_OK);
    handshake(cf, "www.example.com", 1, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.leaf_cn, "ec test leaf", "a bad publication keeps the previous one");
    publish(names, 1, "rsa", "ec");
    handshake(cf, "www.example.com", 1, &r);
    cr_assert_str_eq(r.leaf_cn, "ec test leaf", "a key of another certificate too");

    publish(names, 1, "rsa", "rsa");
    handshake(cf, "www.example.com", 1, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.leaf_cn, "rsa test leaf", "the next publication is installed");
    cr_assert_eq(r.leaf_kind, EVP_PKEY_RSA);
    lg_config_free(cf);
}

Test(tls_acme, a_load_starts_with_the_published_certificate)
{
    const char *names[] = {"www.example.com", "example.com"};
    lg_config_t *cf;
    lg_tls_ctx_t *t;
    char cn[64];

    cr_assert_eq(lg_acme_region_create(), LG_OK);
    publish(names, 2, "ec", "ec");
    cf = load("        - acme: [example.com, www.example.com]\n");
    t = lg_test_tls_ctx(cf);
    cr_assert_neq(t->certs[0].acme_seq, 0, "installed at load, before any handshake");
    X509_NAME_get_text_by_NID(X509_get_subject_name(t->certs[0].x509), NID_commonName, cn,
                              sizeof(cn));
    cr_assert_str_eq(cn, "ec test leaf");
    lg_config_free(cf);
}

/* The PKI's rsa leaf and key as the DER challenge certificate of `name`. */
static void challenge(const char *name)
{
    unsigned char *cert = NULL, *key = NULL;
    BIO *b = BIO_new_file(lg_test_pki("rsa.pem"), "r");
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    EVP_PKEY *pk;
    int clen, klen;

    BIO_free(b);
    b = BIO_new_file(lg_test_pki("rsa.key"), "r");
    pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    clen = i2d_X509(x, &cert);
    klen = i2d_PrivateKey(pk, &key);
    cr_assert(clen > 0 && klen > 0);
    cr_assert_eq(lg_acme_alpn01_add(name, cert, (size_t)clen, key, (size_t)klen), LG_OK);
    OPENSSL_free(cert);
    OPENSSL_free(key);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void alpn_handshake(lg_config_t *cf, const char *sni, const unsigned char *alpn,
                           unsigned len, lg_hs_result_t *r)
{
    lg_hs_client_t c = {.sni = sni, .no_verify = 1, .alpn = alpn, .alpn_len = len};

    lg_test_handshake(lg_test_tls_ctx(cf), &c, r);
    SSL_SESSION_free(r->session);
}

Test(tls_acme, tls_alpn01)
{
    lg_config_t *cf;
    lg_hs_result_t r;

    cr_assert_eq(lg_acme_region_create(), LG_OK);
    cf = load("        - acme: [a.example]\n");
    alpn_handshake(cf, "a.example", alpn_acme, sizeof(alpn_acme) - 1, &r);
    cr_assert_not(r.ok, "acme-tls/1 alone without a challenge");
    cr_assert_eq(r.alert, ALERT_NO_PROTOCOL);
    alpn_handshake(cf, "a.example", alpn_acme_http, sizeof(alpn_acme_http) - 1, &r);
    cr_assert(r.ok, "acme-tls/1 and http/1.1 without a challenge: http/1.1");
    cr_assert_str_eq(r.alpn, "http/1.1");
    cr_assert_str_eq(r.leaf_cn, PLACEHOLDER_CN);

    challenge("A.example");
    alpn_handshake(cf, "a.example", alpn_acme, sizeof(alpn_acme) - 1, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.alpn, "acme-tls/1");
    cr_assert_str_eq(r.leaf_cn, "rsa test leaf", "the challenge certificate");
    alpn_handshake(cf, "a.example", alpn_acme_http, sizeof(alpn_acme_http) - 1, &r);
    cr_assert_str_eq(r.alpn, "acme-tls/1");
    alpn_handshake(cf, "b.example", alpn_acme, sizeof(alpn_acme) - 1, &r);
    cr_assert_eq(r.alert, ALERT_NO_PROTOCOL, "no challenge for that name");
    alpn_handshake(cf, "a.example", alpn_acme_http + sizeof(alpn_acme) - 1, 9, &r);
    cr_assert(r.ok);
    cr_assert_str_eq(r.alpn, "http/1.1", "a hello without acme-tls/1 is any handshake");
    cr_assert_str_eq(r.leaf_cn, PLACEHOLDER_CN);
    lg_acme_alpn01_del("a.example");
    alpn_handshake(cf, "a.example", alpn_acme, sizeof(alpn_acme) - 1, &r);
    cr_assert_eq(r.alert, ALERT_NO_PROTOCOL, "the challenge is over");
    lg_config_free(cf);
}

Test(tls_acme, tls_alpn01_without_the_client_certificate_a_listener_requires)
{
    lg_config_t *cf;
    lg_hs_result_t r;

    cr_assert_eq(lg_acme_region_create(), LG_OK);
    cf = load(lg_fmt("        - acme: [a.example]\n"
                     "      client_auth:\n"
                     "        ca: %s\n"
                     "        verify: required\n",
                     lg_test_pki("ca.pem")));
    alpn_handshake(cf, "a.example", alpn_acme_http, sizeof(alpn_acme_http) - 1, &r);
    cr_assert_not(r.ok, "no client certificate: refused as before");
    challenge("a.example");
    alpn_handshake(cf, "a.example", alpn_acme, sizeof(alpn_acme) - 1, &r);
    cr_assert(r.ok, "the CA has no client certificate");
    cr_assert_str_eq(r.alpn, "acme-tls/1");
    lg_config_free(cf);
}
