/*
 * ctx.c - the server context of a listener: protocol settings, certificates (checked by
 * cert.c, indexed by sni.c), the SNI and ALPN callbacks, client certificates, and what the
 * stream layer calls per connection (lg_tls_session_new, lg_tls_session_info).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/log.h"
#include "tls/ktls.h"
#include "tls/ticket.h"
#include "tls/tls-int.h"

#define LG_TLS_REASON_MAX 256

/* ALPN offered on http listeners, in wire format, in our order of preference. */
static const unsigned char tls_alpn_http[] = "\x08http/1.1";
static const unsigned char tls_alpn_h2[] = "\x02h2\x08http/1.1";
#define LG_TLS_ALPN_HTTP "http/1.1"

static const int tls_versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};

/* ---- callbacks */

/*
 * SNI: serve the certificates of the name asked for (exact, then wildcard). An unknown name, or
 * none, gets the default certificates, or an unrecognized_name alert with unknown_sni: reject.
 * An acme entry chosen first takes what the master published since (hot install), and is
 * always set on the connection: the context holds its certificate of the load.
 */
static int tls_servername(SSL *ssl, int *alert, void *arg)
{
    const lg_tls_ctx_t *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    lg_tls_set_t set;
    int acme = 0;
    size_t i;

    if (lg_tls_acme_challenge(ssl))
        return SSL_TLSEXT_ERR_OK; /* the tls-alpn-01 certificate is set (alpn01.c) */
    if (name == NULL || lg_tls_sni_find(t, name, &set) == 0) {
        if (t->l->tls->unknown_sni != LG_SNI_DEFAULT) {
            *alert = SSL_AD_UNRECOGNIZED_NAME;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
        set = t->dflt;
    }
    for (i = 0; i < set.n; i++) {
        acme |= t->certs[set.cert[i]].conf->acme != NULL;
        lg_tls_acme_refresh(t, &t->certs[set.cert[i]]);
    }
    if (!acme && set.n == t->dflt.n &&
        memcmp(set.cert, t->dflt.cert, set.n * sizeof(set.cert[0])) == 0)
        return SSL_TLSEXT_ERR_OK; /* already loaded from the context */
    SSL_certs_clear(ssl);
    for (i = 0; i < set.n; i++) {
        const lg_tls_cert_t *c = &t->certs[set.cert[i]];

        if (!SSL_use_cert_and_key(ssl, c->x509, c->pkey, c->chain, 1)) {
            *alert = SSL_AD_INTERNAL_ERROR;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* ALPN: our first protocol the client also offers; none in common is no ALPN, not an alert. */
static int tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                           const unsigned char *in, unsigned inlen, void *arg)
{
    const lg_tls_ctx_t *t = arg;
    unsigned char *sel;

    if (lg_tls_acme_challenge(ssl))
        return lg_tls_alpn01_select(ssl, out, outlen, in, inlen);
    if (t->alpn == NULL || SSL_select_next_proto(&sel, outlen, t->alpn, (unsigned)t->alpn_len, in,
                                                 inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* verify: optional: a missing or failing client certificate does not fail the handshake. */
static int tls_verify_optional(int ok, X509_STORE_CTX *x)
{
    LG_UNUSED(ok);
    LG_UNUSED(x);
    return 1;
}

/*
 * A client asking for a renegotiation on TLS 1.2 gets a no_renegotiation alert from OpenSSL
 * (SSL_OP_NO_RENEGOTIATION) and the connection goes on; this says so once per attempt, as a
 * renegotiation costs the server a full handshake (CVE-2011-1473) and only attackers and very
 * old clients ask for one.
 */
static void tls_info(const SSL *ssl, int where, int ret)
{
    const lg_tls_ctx_t *t;

    if (!(where & SSL_CB_WRITE_ALERT) || (ret & 0xff) != SSL_AD_NO_RENEGOTIATION)
        return;
    t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    lg_log(LG_LOG_INFO, "listener %s: a client asked for a TLS renegotiation: refused", t->l->name);
}

/* ---- building a context */

static void tls_protocol(lg_tls_load_t *ld, lg_tls_ctx_t *t)
{
    const lg_tls_conf_t *tc = ld->l->tls;
    char why[LG_TLS_REASON_MAX];
    unsigned char sid[EVP_MAX_MD_SIZE];
    unsigned sidlen = 0;
    int lo = -1, hi = -1;
    uint64_t opts =
        SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;

    for (int v = LG_TLS_1_2; v <= LG_TLS_1_3; v++) {
        if (tc->versions & (1u << v)) {
            lo = lo < 0 ? tls_versions[v] : lo;
            hi = tls_versions[v];
        }
    }
    SSL_CTX_set_min_proto_version(t->ssl, lo);
    SSL_CTX_set_max_proto_version(t->ssl, hi);
    if (!tc->session_tickets)
        opts |= SSL_OP_NO_TICKET;
    if (t->ktls)
        opts |= SSL_OP_ENABLE_KTLS;
    SSL_CTX_set_options(t->ssl, opts);
    SSL_CTX_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_dh_auto(t->ssl, 1);
    if (!SSL_CTX_set_cipher_list(t->ssl, tc->ciphers))
        lg_tls_err(ld, tc->ciphers_pos, "ciphers", "%s: no usable cipher (OpenSSL: %s)",
                   tc->ciphers, lg_tls_reason(why, sizeof(why)));
    /* No per-worker cache: resumption is by tickets only, which every worker can decrypt. */
    SSL_CTX_set_session_cache_mode(t->ssl, SSL_SESS_CACHE_OFF);
    if (!tc->session_tickets)
        SSL_CTX_set_num_tickets(t->ssl, 0);
    /* Sessions of one listener resume only there (and keep its client verification). */
    EVP_Digest(ld->l->name, strlen(ld->l->name), sid, &sidlen, EVP_sha256(), NULL);
    SSL_CTX_set_session_id_context(t->ssl, sid, LG_MIN(sidlen, SSL_MAX_SID_CTX_LENGTH));
    /* A ticket encrypted by the newest key decrypts for at least two more periods. */
    SSL_CTX_set_timeout(t->ssl, (long)(2 * tc->ticket_key_rotation / 1000));
    SSL_CTX_set_info_callback(t->ssl, tls_info);
    SSL_CTX_set_tlsext_servername_callback(t->ssl, tls_servername);
    SSL_CTX_set_tlsext_servername_arg(t->ssl, t);
    SSL_CTX_set_alpn_select_cb(t->ssl, tls_alpn_select, t); /* tcp listeners: acme-tls/1 only */
}

/* client_auth: the CAs that verify client certificates, also named to the client. */
static void tls_client_auth(lg_tls_load_t *ld, lg_tls_ctx_t *t)
{
    const lg_tls_conf_t *tc = ld->l->tls;
    STACK_OF(X509) * cas;

    if (tc->client_auth.ca == NULL)
        return;
    cas = lg_tls_read_cas(ld, tc->client_auth.ca, tc->client_auth.ca_pos, "client_auth.ca");
    if (cas == NULL)
        return;
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509_STORE_add_cert(SSL_CTX_get_cert_store(t->ssl), sk_X509_value(cas, i));
        SSL_CTX_add_client_CA(t->ssl, sk_X509_value(cas, i));
    }
    sk_X509_pop_free(cas, X509_free);
    ERR_clear_error();
    if (tc->client_auth.verify == LG_VERIFY_REQUIRED)
        SSL_CTX_set_verify(t->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else
        SSL_CTX_set_verify(t->ssl, SSL_VERIFY_PEER, tls_verify_optional);
}

/*
 * Load every certificate, then check that OpenSSL accepts each with these settings (key size
 * and signature strength for the security level), on a probe connection, and put the default
 * ones in the context.
 */
static void tls_certs(lg_tls_load_t *ld, lg_tls_ctx_t *t)
{
    const lg_tls_conf_t *tc = ld->l->tls;
    char why[LG_TLS_REASON_MAX], key[64];
    int bad = 0;
    SSL *probe;
    size_t i;

    t->certs = calloc(tc->ncerts, sizeof(*t->certs));
    if (t->certs == NULL) {
        lg_tls_err(ld, tc->pos, "certificates", "out of memory");
        return;
    }
    t->ncerts = tc->ncerts;
    for (i = 0; i < tc->ncerts; i++)
        bad |= lg_tls_cert_load(ld, i, &t->certs[i]) != LG_OK;
    if (bad)
        return;
    probe = SSL_new(t->ssl);
    if (probe == NULL) {
        lg_tls_err(ld, tc->pos, "certificates", "SSL_new() failed (OpenSSL: %s)",
                   lg_tls_reason(why, sizeof(why)));
        return;
    }
    for (i = 0; i < t->ncerts; i++) {
        const lg_tls_cert_t *c = &t->certs[i];

        snprintf(key, sizeof(key), "certificates[%zu].%s", i, c->conf->acme ? "acme" : "cert");
        if (!SSL_use_cert_and_key(probe, c->x509, c->pkey, c->chain, 1)) {
            lg_tls_err(ld, c->conf->cert_pos, key, "\"%s\" cannot be served (OpenSSL: %s)",
                       c->conf->acme ? c->conf->acme[0] : c->conf->cert,
                       lg_tls_reason(why, sizeof(why)));
            bad = 1;
        }
    }
    SSL_free(probe);
    if (bad)
        return;
    if (lg_tls_sni_build(t) != LG_OK) {
        lg_tls_err(ld, tc->pos, "certificates", "out of memory");
        return;
    }
    for (i = 0; i < t->dflt.n; i++) {
        const lg_tls_cert_t *c = &t->certs[t->dflt.cert[i]];

        if (!SSL_CTX_use_cert_and_key(t->ssl, c->x509, c->pkey, c->chain, 1))
            lg_tls_err(ld, c->conf->cert_pos, "certificates", "\"%s\": %s",
                       c->conf->acme ? c->conf->acme[0] : c->conf->cert,
                       lg_tls_reason(why, sizeof(why)));
    }
}

static void tls_ctx_free(lg_tls_ctx_t *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ssl);
    for (size_t i = 0; i < t->ncerts; i++)
        lg_tls_cert_free(&t->certs[i]);
    free(t->certs);
    lg_tls_sni_free(t);
    free(t);
}

static lg_tls_ctx_t *tls_ctx_new(lg_tls_load_t *ld)
{
    lg_tls_ctx_t *t = calloc(1, sizeof(*t));
    char why[LG_TLS_REASON_MAX];

    if (t == NULL || (t->ssl = SSL_CTX_new(TLS_server_method())) == NULL) {
        lg_tls_err(ld, ld->l->tls->pos, "certificates", "SSL_CTX_new() failed (OpenSSL: %s)",
                   lg_tls_reason(why, sizeof(why)));
        free(t);
        return NULL;
    }
    t->cf = ld->cf;
    t->l = ld->l;
    t->ticket_slot = -1;
    if (ld->l->mode == LG_MODE_HTTP && ld->l->http2) {
        t->alpn = tls_alpn_h2;
        t->alpn_len = sizeof(tls_alpn_h2) - 1;
    } else if (ld->l->mode == LG_MODE_HTTP) {
        t->alpn = tls_alpn_http;
        t->alpn_len = sizeof(tls_alpn_http) - 1;
    }
    t->ktls = lg_ktls_listener(ld->l);
    SSL_CTX_set_app_data(t->ssl, t);
    tls_protocol(ld, t);
    tls_client_auth(ld, t);
    tls_certs(ld, t);
    lg_tls_ocsp_attach(t);
    lg_tls_tickets_attach(t);
    lg_tls_acme_attach(t);
    lg_tls_alpn01_attach(t);
    return t;
}

static void tls_release(lg_config_t *cf)
{
    for (size_t i = 0; i < cf->nlisteners; i++) {
        if (cf->listeners[i].tls != NULL) {
            tls_ctx_free(cf->listeners[i].tls->ctx);
            cf->listeners[i].tls->ctx = NULL;
        }
    }
    lg_tls_pools_release(cf);
}

/* ---- public API */

int lg_tls_load(lg_config_t *cf, lg_config_errors_t *errs)
{
    lg_tls_load_t ld = {.cf = cf, .errs = errs};

    cf->release = tls_release;
    for (size_t i = 0; i < cf->nlisteners; i++) {
        if (cf->listeners[i].tls == NULL)
            continue;
        ld.l = &cf->listeners[i];
        cf->listeners[i].tls->ctx = tls_ctx_new(&ld);
        if (cf->listeners[i].tls->ctx == NULL)
            ld.failed = 1;
    }
    if (lg_tls_pools_load(&ld) != LG_OK)
        ld.failed = 1;
    lg_tls_load_done(&ld);
    lg_ktls_said();
    ERR_clear_error();
    return ld.failed ? LG_ERR : LG_OK;
}

SSL *lg_tls_session_new(lg_tls_ctx_t *t)
{
    SSL *ssl = SSL_new(t->ssl);
    char why[LG_TLS_REASON_MAX];

    if (ssl == NULL) {
        lg_log(LG_LOG_ERR, "listener %s: SSL_new() failed (OpenSSL: %s)", t->l->name,
               lg_tls_reason(why, sizeof(why)));
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

int lg_tls_ktls(const lg_tls_ctx_t *t)
{
    return t->ktls;
}

int lg_tls_alpn_h2(const SSL *ssl)
{
    const unsigned char *alpn = NULL;
    unsigned alen = 0;

    SSL_get0_alpn_selected(ssl, &alpn, &alen);
    return alen == 2 && memcmp(alpn, "h2", 2) == 0;
}

void lg_tls_session_info(const SSL *ssl, lg_tls_info_t *out)
{
    const unsigned char *alpn = NULL;
    unsigned alen = 0;
    X509 *peer;

    out->version = SSL_get_version(ssl);
    out->cipher = SSL_get_cipher_name(ssl);
    out->sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    out->resumed = SSL_session_reused(ssl);
    SSL_get0_alpn_selected(ssl, &alpn, &alen);
    out->alpn = lg_tls_alpn_h2(ssl) ? "h2"
                : alen == strlen(LG_TLS_ALPN_HTTP) && memcmp(alpn, LG_TLS_ALPN_HTTP, alen) == 0
                    ? LG_TLS_ALPN_HTTP
                    : NULL;
    out->subject[0] = '\0';
    peer = SSL_get0_peer_certificate(ssl);
    if (peer != NULL && SSL_get_verify_result(ssl) == X509_V_OK)
        lg_tls_name_text(X509_get_subject_name(peer), out->subject, sizeof(out->subject));
}
