/*
 * obs.c - handshake failure reasons and certificate descriptions (see obs.h).
 */
#include "tls/obs.h"

#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "tls/tls-int.h"

const char *const lg_tls_fail_names[LG_TLS_FAIL_N] = {
    [LG_TLS_FAIL_NO_SHARED_CIPHER] = "no_shared_cipher",
    [LG_TLS_FAIL_PROTOCOL] = "unsupported_protocol",
    [LG_TLS_FAIL_UNKNOWN_SNI] = "unknown_sni",
    [LG_TLS_FAIL_BAD_CERTIFICATE] = "bad_certificate",
    [LG_TLS_FAIL_CERT_REJECTED] = "certificate_rejected",
    [LG_TLS_FAIL_PLAIN_HTTP] = "plain_http",
    [LG_TLS_FAIL_TIMEOUT] = "timeout",
    [LG_TLS_FAIL_CLOSED] = "closed",
    [LG_TLS_FAIL_OTHER] = "other",
};

/* OpenSSL's reasons (library SSL) for each of ours; the rest are "other". */
static const struct {
    int reason;
    lg_tls_fail_t fail;
} reasons[] = {
    {SSL_R_NO_SHARED_CIPHER, LG_TLS_FAIL_NO_SHARED_CIPHER},
    {SSL_R_NO_SHARED_GROUPS, LG_TLS_FAIL_NO_SHARED_CIPHER},
    {SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS, LG_TLS_FAIL_NO_SHARED_CIPHER},
    {SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM, LG_TLS_FAIL_NO_SHARED_CIPHER},
    {SSL_R_NO_CIPHERS_AVAILABLE, LG_TLS_FAIL_NO_SHARED_CIPHER},
    {SSL_R_UNSUPPORTED_PROTOCOL, LG_TLS_FAIL_PROTOCOL},
    {SSL_R_VERSION_TOO_LOW, LG_TLS_FAIL_PROTOCOL},
    {SSL_R_VERSION_TOO_HIGH, LG_TLS_FAIL_PROTOCOL},
    {SSL_R_INAPPROPRIATE_FALLBACK, LG_TLS_FAIL_PROTOCOL},
    {SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, LG_TLS_FAIL_PROTOCOL},
    /* the servername callback refusing a name (unknown_sni: reject) is its only fatal return */
    {SSL_R_CALLBACK_FAILED, LG_TLS_FAIL_UNKNOWN_SNI},
    {SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, LG_TLS_FAIL_BAD_CERTIFICATE},
    {SSL_R_CERTIFICATE_VERIFY_FAILED, LG_TLS_FAIL_BAD_CERTIFICATE},
    {SSL_R_NO_CERTIFICATES_RETURNED, LG_TLS_FAIL_BAD_CERTIFICATE},
    {SSL_R_SSLV3_ALERT_BAD_CERTIFICATE, LG_TLS_FAIL_CERT_REJECTED},
    {SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE, LG_TLS_FAIL_CERT_REJECTED},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED, LG_TLS_FAIL_CERT_REJECTED},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED, LG_TLS_FAIL_CERT_REJECTED},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN, LG_TLS_FAIL_CERT_REJECTED},
    {SSL_R_TLSV1_ALERT_UNKNOWN_CA, LG_TLS_FAIL_CERT_REJECTED},
    {SSL_R_UNEXPECTED_EOF_WHILE_READING, LG_TLS_FAIL_CLOSED},
    {SSL_R_HTTP_REQUEST, LG_TLS_FAIL_PLAIN_HTTP},
    {SSL_R_HTTPS_PROXY_REQUEST, LG_TLS_FAIL_PLAIN_HTTP},
};

lg_tls_fail_t lg_tls_fail_reason(unsigned long err)
{
    if (err == 0)
        return LG_TLS_FAIL_CLOSED;
    if (ERR_GET_LIB(err) != ERR_LIB_SSL)
        return LG_TLS_FAIL_OTHER;
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].reason == ERR_GET_REASON(err))
            return reasons[i].fail;
    }
    return LG_TLS_FAIL_OTHER;
}

/* ---- certificates */

size_t lg_tls_cert_count(const lg_tls_ctx_t *t)
{
    return t->ncerts;
}

static int64_t asn1_unix(const ASN1_TIME *a)
{
    struct tm tm;

    if (ASN1_TIME_to_tm(a, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

static const char *key_name(int kind)
{
    switch (kind) {
    case EVP_PKEY_RSA:
        return "rsa";
    case EVP_PKEY_RSA_PSS:
        return "rsa-pss";
    case EVP_PKEY_EC:
        return "ec";
    case EVP_PKEY_ED25519:
        return "ed25519";
    case EVP_PKEY_ED448:
        return "ed448";
    default:
        return "other";
    }
}

/* The first name in the SNI index (sorted) that serves certificate `i`. */
static void first_name(void *arg, const char *name)
{
    char *out = arg;

    if (out[0] == '\0')
        snprintf(out, LG_TLS_OBS_NAME_MAX, "%s", name); /* index names are at most 255 bytes */
}

void lg_tls_cert_describe(const lg_tls_ctx_t *t, size_t i, lg_tls_cert_desc_t *out)
{
    const lg_tls_cert_t *c = &t->certs[i];

    out->path = c->conf->cert;
    out->name[0] = '\0';
    lg_tls_cert_names(t, i, first_name, out->name);
    lg_tls_name_text(X509_get_issuer_name(c->x509), out->issuer, sizeof(out->issuer));
    snprintf(out->key, sizeof(out->key), "%s", key_name(c->kind));
    out->not_before = asn1_unix(X509_get0_notBefore(c->x509));
    out->not_after = asn1_unix(X509_get0_notAfter(c->x509));
}

void lg_tls_cert_names(const lg_tls_ctx_t *t, size_t i, void (*fn)(void *arg, const char *name),
                       void *arg)
{
    for (size_t n = 0; n < t->nnames; n++) {
        if (t->names[n].cert == i)
            fn(arg, t->names[n].name);
    }
}
