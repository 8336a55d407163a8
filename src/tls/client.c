/*
 * client.c - the client contexts of the pools with `tls` (see client.h).
 */
#include "tls/client.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "tls/ktls.h"
#include "tls/tls-int.h"

#define LG_TLS_REASON_MAX 256
#define LG_TLS_NAME_MAX   256
#define LG_TLS_DATE_MAX   64

/*
 * The first verification failure of the handshake under way, kept by the verify callback for
 * lg_tls_client_failure(): a worker runs one handshake step at a time, and the failure is
 * worded right after the step that failed, so one record per process is enough.
 */
static struct {
    const SSL *ssl;
    int err, depth;
    char subject[LG_TLS_NAME_MAX], issuer[LG_TLS_NAME_MAX], not_after[LG_TLS_DATE_MAX];
} vfail;

static int client_verify(int ok, X509_STORE_CTX *x)
{
    const SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    X509 *cert = X509_STORE_CTX_get_current_cert(x);

    if (ok || ssl == vfail.ssl)
        return ok;
    vfail.ssl = ssl;
    vfail.err = X509_STORE_CTX_get_error(x);
    vfail.depth = X509_STORE_CTX_get_error_depth(x);
    vfail.subject[0] = vfail.issuer[0] = vfail.not_after[0] = '\0';
    if (cert != NULL) {
        lg_tls_name_text(X509_get_subject_name(cert), vfail.subject, sizeof(vfail.subject));
        lg_tls_name_text(X509_get_issuer_name(cert), vfail.issuer, sizeof(vfail.issuer));
        lg_tls_time_text(X509_get0_notAfter(cert), vfail.not_after, sizeof(vfail.not_after));
    }
    return 0;
}

/* A new session (TLS 1.2) or ticket (TLS 1.3): it replaces the one in the connection's slot. */
static int client_new_session(SSL *ssl, SSL_SESSION *sess)
{
    SSL_SESSION **slot = SSL_get_app_data(ssl);

    if (slot == NULL)
        return 0;
    SSL_SESSION_free(*slot);
    *slot = sess;
    return 1; /* the slot keeps the reference */
}

/* The CAs and the client certificate of a pool; errors go to ld. */
static void client_trust(lg_tls_load_t *ld, SSL_CTX *ctx, const lg_pool_tls_conf_t *t)
{
    char why[LG_TLS_REASON_MAX];
    STACK_OF(X509) * cas;
    lg_tls_cert_t cert = {0};

    if (t->ca == NULL) {
        if (!SSL_CTX_set_default_verify_paths(ctx))
            lg_tls_err(ld, t->pos, "ca", "the system CA store cannot be loaded (OpenSSL: %s)",
                       lg_tls_reason(why, sizeof(why)));
    } else if ((cas = lg_tls_read_cas(ld, t->ca, t->ca_pos, "ca")) != NULL) {
        for (int i = 0; i < sk_X509_num(cas); i++)
            X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), sk_X509_value(cas, i));
        sk_X509_pop_free(cas, X509_free);
        ERR_clear_error();
    }
    if (t->client.cert == NULL || t->client.key == NULL)
        return;
    if (lg_tls_pair_load(ld, &t->client, "cert", "key", &cert) == LG_OK &&
        !SSL_CTX_use_cert_and_key(ctx, cert.x509, cert.pkey, cert.chain, 1))
        lg_tls_err(ld, t->client.cert_pos, "cert", "\"%s\": %s", t->client.cert,
                   lg_tls_reason(why, sizeof(why)));
    lg_tls_cert_free(&cert);
}

/*
 * The one place a pool's client context is made. With kernel TLS (ktls: auto, and the kernel and
 * OpenSSL have it) OpenSSL hands the keys of each backend connection to the kernel after its
 * handshake (the stream gives it the socket: uptls.c). NULL after reporting to ld.
 */
static SSL_CTX *client_ctx_new(lg_tls_load_t *ld, const lg_pool_tls_conf_t *t)
{
    char why[LG_TLS_REASON_MAX];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL) {
        lg_tls_err(ld, t->pos, "verify", "SSL_CTX_new() failed (OpenSSL: %s)",
                   lg_tls_reason(why, sizeof(why)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 (lg_ktls_pool(ld->pool) ? SSL_OP_ENABLE_KTLS : 0));
    SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       t->verify ? client_verify : NULL);
    /* Sessions live in the backends' slots (client_new_session), not in the context. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, client_new_session);
    client_trust(ld, ctx, t);
    return ctx;
}

int lg_tls_pools_load(lg_tls_load_t *ld)
{
    int failed = 0;

    for (size_t i = 0; i < ld->cf->npools; i++) {
        lg_pool_tls_conf_t *t = ld->cf->pools[i].tls;
        int was = ld->failed;

        if (t == NULL)
            continue;
        ld->pool = &ld->cf->pools[i];
        ld->failed = 0;
        t->ctx = client_ctx_new(ld, t);
        failed |= ld->failed || t->ctx == NULL;
        ld->failed = was;
    }
    ld->pool = NULL;
    return failed ? LG_ERR : LG_OK;
}

void lg_tls_pools_release(lg_config_t *cf)
{
    for (size_t i = 0; i < cf->npools; i++) {
        if (cf->pools[i].tls != NULL) {
            SSL_CTX_free(cf->pools[i].tls->ctx);
            cf->pools[i].tls->ctx = NULL;
        }
    }
}

SSL *lg_tls_client_new(const lg_pool_tls_conf_t *t, const char *host, int host_is_ip,
                       SSL_SESSION **cache)
{
    const char *name = t->server_name != NULL ? t->server_name : host_is_ip ? NULL : host;
    char why[LG_TLS_REASON_MAX];
    SSL *ssl = SSL_new(t->ctx);

    if (ssl == NULL || (name != NULL && !SSL_set_tlsext_host_name(ssl, name)) ||
        (t->verify && name != NULL && !SSL_set1_host(ssl, name))) {
        lg_log(LG_LOG_ERR, "TLS to backend %s: SSL_new() failed (OpenSSL: %s)", host,
               lg_tls_reason(why, sizeof(why)));
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_connect_state(ssl);
    SSL_set_app_data(ssl, cache);
    if (vfail.ssl == ssl)
        vfail.ssl = NULL; /* a record about a freed SSL at the same address */
    if (cache != NULL && *cache != NULL)
        SSL_set_session(ssl, *cache);
    return ssl;
}

int lg_tls_client_ktls(const lg_pool_tls_conf_t *t)
{
    return (SSL_CTX_get_options(t->ctx) & SSL_OP_ENABLE_KTLS) != 0;
}

const char *lg_tls_client_failure(const SSL *ssl, const char *reason, char *buf, size_t len)
{
    long res = SSL_get_verify_result(ssl);
    const char *host = X509_VERIFY_PARAM_get0_host(SSL_get0_param((SSL *)(uintptr_t)ssl), 0);

    if (res == X509_V_OK || vfail.ssl != ssl) {
        snprintf(buf, len, "%s", reason);
        return buf;
    }
    snprintf(buf, len,
             "certificate verify failed: %s (depth %d: subject \"%s\", issuer \"%s\", expires "
             "%s; expected name \"%s\")",
             X509_verify_cert_error_string(res), vfail.depth, vfail.subject, vfail.issuer,
             vfail.not_after, host != NULL ? host : "");
    vfail.ssl = NULL;
    return buf;
}
