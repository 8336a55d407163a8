/*
 * lg_test_tls.c - TLS test support (lg_test_tls.h). The PKI is made by make_pki.sh into a temp
 * dir next to its final place, then renamed there, so tests running in parallel never see half
 * of it.
 */
#include "lg_test_tls.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lg_test.h"

#define LG_PKI_DIR   LG_BUILD_DIR "/test-pki"
#define LG_HS_ROUNDS 64 /* a handshake is a few flights; this bounds a stuck one */

/* ---- certificates and configurations */

static void pki_make(void)
{
    struct stat st;
    char *tmp;

    if (stat(LG_PKI_DIR "/rogue.pem", &st) == 0)
        return;
    tmp = lg_fmt("%s.%d", LG_PKI_DIR, (int)getpid());
    cr_assert_eq(mkdir(tmp, 0700), 0, "mkdir %s", tmp);
    cr_assert_eq(system(lg_fmt("sh %s/tests/support/make_pki.sh %s", LG_SOURCE_DIR, tmp)), 0,
                 "make_pki.sh failed: see %s/openssl.log", tmp);
    /* Another process may have won the race: then its PKI is used and this one removed. */
    if (rename(tmp, LG_PKI_DIR) != 0)
        lg_test_rmtree(strdup(tmp));
}

const char *lg_test_pki(const char *name)
{
    pki_make();
    return lg_fmt("%s/%s", LG_PKI_DIR, name);
}

const char *lg_test_ocsp_pki(int port)
{
    const char *dir = lg_test_tempdir();
    char *pki = lg_fmt("%s", lg_test_pki("int.pem"));

    *strrchr(pki, '/') = '\0';
    cr_assert_eq(system(lg_fmt("sh %s/tests/support/make_ocsp_pki.sh %s %s %d", LG_SOURCE_DIR, dir,
                               pki, port)),
                 0, "make_ocsp_pki.sh failed: see %s/openssl.log", dir);
    return dir;
}

const char *lg_test_cert_entry(const char *name, const char *key)
{
    return lg_fmt("        - cert: %s\n          key: %s\n", lg_test_pki(lg_fmt("%s.pem", name)),
                  lg_test_pki(lg_fmt("%s.key", key != NULL ? key : name)));
}

const char *lg_test_tls_yaml(const char *name, const char *mode, const char *tls)
{
    const char *routes =
        strcmp(mode, "tcp") == 0 ? "    pool: app\n" : "    routes:\n      - pool: app\n";

    return lg_fmt("listeners:\n"
                  "  %s:\n"
                  "    listen: 127.0.0.1:0\n"
                  "    mode: %s\n"
                  "%s"
                  "    tls:\n"
                  "%s"
                  "pools:\n"
                  "  app:\n"
                  "    backends:\n"
                  "      - address: 127.0.0.1:9001\n",
                  name, mode, routes, tls);
}

const char *lg_test_tls_conf(const char *name, const char *mode, const char *tls)
{
    return lg_test_keep(
        lg_test_write_file(lg_test_tempdir(), "lifeguard.yaml", lg_test_tls_yaml(name, mode, tls)),
        NULL);
}

lg_config_t *lg_test_tls_load(const char *name, const char *mode, const char *tls)
{
    const char *path = lg_test_tls_conf(name, mode, tls);
    lg_config_errors_t e = {0};
    lg_config_t *cf = lg_config_load(path, &e);

    cr_assert_not_null(cf, "%s", e.n > 0 ? e.lines[0] : "?");
    cr_assert_eq(lg_tls_load(cf, &e), LG_OK, "%s", e.n > 0 ? e.lines[0] : "?");
    cr_assert_not_null(cf->listeners[0].tls->ctx);
    return cf;
}

lg_tls_ctx_t *lg_test_tls_ctx(lg_config_t *cf)
{
    return cf->listeners[0].tls->ctx;
}

/* ---- handshakes */

static void hs_info(const SSL *ssl, int where, int ret)
{
    lg_hs_result_t *r = SSL_get_app_data(ssl);

    /* close_notify ends every connection that went well: not an alert a test looks for */
    if ((where & SSL_CB_READ_ALERT) && r->alert == LG_ALERT_NONE &&
        (ret & 0xff) != SSL3_AD_CLOSE_NOTIFY)
        r->alert = ret & 0xff;
}

static void hs_client_ctx(SSL_CTX *cctx, int version)
{
    SSL_CTX_load_verify_locations(cctx, lg_test_pki("ca.pem"), NULL);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    if (version == 0)
        return;
    SSL_CTX_set_min_proto_version(cctx, version);
    SSL_CTX_set_max_proto_version(cctx, version);
    if (version < TLS1_2_VERSION) {
        SSL_CTX_set_security_level(cctx, 0); /* so that this client may offer it at all */
        SSL_CTX_set_cipher_list(cctx, "DEFAULT:@SECLEVEL=0");
    }
}

static SSL *hs_client_new(const lg_hs_client_t *c, lg_hs_result_t *r)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *cl;

    cr_assert_not_null(cctx);
    hs_client_ctx(cctx, c->version);
    if (c->no_verify)
        SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
    cl = SSL_new(cctx);
    SSL_CTX_free(cctx);
    SSL_set_connect_state(cl);
    SSL_set_app_data(cl, r);
    SSL_set_info_callback(cl, hs_info);
    if (c->sni != NULL)
        SSL_set_tlsext_host_name(cl, c->sni);
    if (c->sigalgs != NULL)
        cr_assert_eq(SSL_set1_sigalgs_list(cl, c->sigalgs), 1);
    if (c->alpn != NULL)
        SSL_set_alpn_protos(cl, c->alpn, c->alpn_len);
    if (c->cert != NULL) {
        cr_assert_eq(
            SSL_use_certificate_file(cl, lg_test_pki(lg_fmt("%s.pem", c->cert)), SSL_FILETYPE_PEM),
            1);
        cr_assert_eq(
            SSL_use_PrivateKey_file(cl, lg_test_pki(lg_fmt("%s.key", c->cert)), SSL_FILETYPE_PEM),
            1);
    }
    if (c->session != NULL)
        SSL_set_session(cl, c->session);
    if (c->status_request)
        SSL_set_tlsext_status_type(cl, TLSEXT_STATUSTYPE_ocsp);
    return cl;
}

/* 1 when done, 0 to go on, -1 when it failed */
static int hs_step(SSL *ssl, int *done)
{
    int rc, err;

    if (*done)
        return 1;
    rc = SSL_do_handshake(ssl);
    if (rc == 1)
        return *done = 1;
    err = SSL_get_error(ssl, rc);
    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* The DNS names of the served leaf, and whether it issued itself. */
static void hs_leaf_names(X509 *leaf, lg_hs_result_t *r)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;

    r->leaf_sans[0] = '\0';
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        int n;

        if (g->type != GEN_DNS || used >= sizeof(r->leaf_sans))
            continue;
        n = snprintf(r->leaf_sans + used, sizeof(r->leaf_sans) - used, "%s%.*s",
                     used > 0 ? "," : "", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        used += n > 0 ? (size_t)n : 0;
    }
    GENERAL_NAMES_free(sans);
    r->self_signed = X509_check_issued(leaf, leaf) == X509_V_OK;
}

static void hs_collect(SSL *cl, SSL *sv, lg_hs_result_t *r)
{
    const unsigned char *ocsp = NULL, *alpn = NULL;
    unsigned alen = 0;
    char byte;
    X509 *leaf;

    cr_assert_eq(SSL_write(sv, "x", 1), 1);
    cr_assert_eq(SSL_read(cl, &byte, 1), 1);
    lg_tls_session_info(sv, &r->info);
    if (r->info.sni != NULL)
        snprintf(r->sni, sizeof(r->sni), "%s", r->info.sni);
    r->info.sni = r->info.sni != NULL ? r->sni : NULL;
    leaf = SSL_get0_peer_certificate(cl);
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, r->leaf_cn,
                              sizeof(r->leaf_cn));
    r->leaf_kind = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
    hs_leaf_names(leaf, r);
    SSL_get0_alpn_selected(cl, &alpn, &alen);
    snprintf(r->alpn, sizeof(r->alpn), "%.*s", (int)alen, alpn != NULL ? (const char *)alpn : "");
    r->stapled = SSL_get_tlsext_status_ocsp_resp(cl, &ocsp);
    r->session = SSL_get1_session(cl);
    /* A connection freed without close_notify makes its session not resumable. */
    SSL_shutdown(cl);
    SSL_shutdown(sv);
}

void lg_test_handshake(lg_tls_ctx_t *t, const lg_hs_client_t *c, lg_hs_result_t *r)
{
    SSL *cl, *sv = lg_tls_session_new(t);
    int cdone = 0, sdone = 0, rc = 0, rs = 0, i;
    char byte;
    BIO *a, *b;

    memset(r, 0, sizeof(*r));
    r->alert = LG_ALERT_NONE;
    cl = hs_client_new(c, r);
    cr_assert_not_null(sv);
    cr_assert_eq(BIO_new_bio_pair(&a, 0, &b, 0), 1);
    SSL_set_bio(sv, a, a);
    SSL_set_bio(cl, b, b);
    for (i = 0; i < LG_HS_ROUNDS && (!cdone || !sdone) && rc >= 0 && rs >= 0; i++) {
        rc = hs_step(cl, &cdone);
        rs = hs_step(sv, &sdone);
    }
    /* A server that failed after the client finished (TLS 1.3): the client reads the alert. */
    if (rs < 0 || rc < 0)
        SSL_read(cl, &byte, 1);
    r->ok = cdone && sdone && rs >= 0;
    if (r->ok)
        hs_collect(cl, sv, r);
    SSL_free(cl);
    SSL_free(sv);
    ERR_clear_error();
}
