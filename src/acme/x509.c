/*
 * x509.c - CSR, tls-alpn-01 certificate, chain checks (see x509.h).
 */
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/jws.h"
#include "acme/x509.h"
#include "core/lg.h"

#define LG_ACME_ID_OID     "1.3.6.1.5.5.7.1.31" /* id-pe-acmeIdentifier, RFC 8737 */
#define LG_ACME_ALPN_DAYS  7
#define LG_ACME_SAN_MAX    (100 * 260)
#define LG_SECONDS_PER_DAY 86400L

/* "DNS:a,DNS:b" of names; malloc'd. */
static char *san_list(char *const *names, size_t n)
{
    char *s = malloc(LG_ACME_SAN_MAX);
    size_t used = 0;

    if (s == NULL)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(s + used, LG_ACME_SAN_MAX - used, "%sDNS:%s", i ? "," : "", names[i]);

        if (k < 0 || used + (size_t)k >= LG_ACME_SAN_MAX) {
            free(s);
            return NULL;
        }
        used += (size_t)k;
    }
    return s;
}

/* The subjectAltName extension of names. */
static X509_EXTENSION *san_ext(char *const *names, size_t n)
{
    char *s = san_list(names, n);
    X509_EXTENSION *e = s != NULL ? X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, s) : NULL;

    free(s);
    return e;
}

char *lg_acme_csr(EVP_PKEY *key, char *const *names, size_t n)
{
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *san = san_ext(names, n);
    X509_NAME *subj = X509_NAME_new();
    unsigned char *der = NULL;
    char *out = NULL;
    int len = -1;

    if (req != NULL && exts != NULL && san != NULL && subj != NULL && n > 0 &&
        X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)names[0], -1,
                                   -1, 0) == 1 &&
        X509_REQ_set_subject_name(req, subj) == 1 && X509_REQ_set_pubkey(req, key) == 1 &&
        sk_X509_EXTENSION_push(exts, san) > 0) {
        san = NULL; /* the stack owns it */
        if (X509_REQ_add_extensions(req, exts) == 1 && X509_REQ_sign(req, key, EVP_sha256()) > 0)
            len = i2d_X509_REQ(req, &der);
    }
    if (len > 0)
        out = lg_acme_b64url_dup(der, (size_t)len);
    OPENSSL_free(der);
    X509_EXTENSION_free(san);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(subj);
    X509_REQ_free(req);
    return out;
}

/* The critical acmeIdentifier extension: an OCTET STRING of SHA-256(keyauth), DER-wrapped. */
static X509_EXTENSION *acme_id_ext(const char *keyauth)
{
    unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned mdlen = 0;
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *outer = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj(LG_ACME_ID_OID, 1);
    X509_EXTENSION *e = NULL;
    int len;

    if (inner != NULL && outer != NULL && oid != NULL &&
        EVP_Digest(keyauth, strlen(keyauth), md, &mdlen, EVP_sha256(), NULL) == 1 &&
        ASN1_OCTET_STRING_set(inner, md, (int)mdlen) == 1 &&
        (len = i2d_ASN1_OCTET_STRING(inner, &der)) > 0 &&
        ASN1_OCTET_STRING_set(outer, der, len) == 1)
        e = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, outer);
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(inner);
    ASN1_OCTET_STRING_free(outer);
    ASN1_OBJECT_free(oid);
    return e;
}

static int to_der(X509 *x, EVP_PKEY *k, unsigned char **cert, size_t *cert_len, unsigned char **key,
                  size_t *key_len)
{
    int cl = i2d_X509(x, cert), kl = i2d_PrivateKey(k, key);

    *cert_len = cl > 0 ? (size_t)cl : 0;
    *key_len = kl > 0 ? (size_t)kl : 0;
    return cl > 0 && kl > 0 ? LG_OK : LG_ERR;
}

int lg_acme_alpn_cert(const char *name, const char *keyauth, unsigned char **cert, size_t *cert_len,
                      unsigned char **key, size_t *key_len)
{
    char *const names[] = {(char *)name};
    EVP_PKEY *k = lg_acme_key_new();
    X509 *x = X509_new();
    X509_EXTENSION *san = san_ext(names, 1), *id = acme_id_ext(keyauth);
    X509_NAME *subj = X509_get_subject_name(x);
    int rc = LG_ERR;

    *cert = *key = NULL;
    if (k != NULL && x != NULL && san != NULL && id != NULL && X509_set_version(x, 2) == 1 &&
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1 &&
        X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
        X509_gmtime_adj(X509_getm_notAfter(x), LG_ACME_ALPN_DAYS * LG_SECONDS_PER_DAY) != NULL &&
        X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1,
                                   0) == 1 &&
        X509_set_issuer_name(x, subj) == 1 && X509_set_pubkey(x, k) == 1 &&
        X509_add_ext(x, san, -1) == 1 && X509_add_ext(x, id, -1) == 1 &&
        X509_sign(x, k, EVP_sha256()) > 0)
        rc = to_der(x, k, cert, cert_len, key, key_len);
    X509_EXTENSION_free(san);
    X509_EXTENSION_free(id);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

/* The leaf of `chain` parsed; its dates out. */
static X509 *leaf_parse(const char *chain, size_t len, int64_t *nb, int64_t *na)
{
    BIO *b = BIO_new_mem_buf(chain, (int)len);
    X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    if (x != NULL) {
        *nb = asn1_unix(X509_get0_notBefore(x));
        *na = asn1_unix(X509_get0_notAfter(x));
    }
    return x;
}

int lg_acme_chain_check(const char *chain, size_t chain_len, const char *key, size_t key_len,
                        char *const *names, size_t n, int64_t *not_before, int64_t *not_after,
                        char *why, size_t wlen)
{
    X509 *x = leaf_parse(chain, chain_len, not_before, not_after);
    EVP_PKEY *k = lg_acme_key_parse(key, key_len);
    int rc = LG_ERR;

    if (x == NULL)
        snprintf(why, wlen, "the certificate does not parse");
    else if (k == NULL)
        snprintf(why, wlen, "the private key does not parse");
    else if (X509_check_private_key(x, k) != 1)
        snprintf(why, wlen, "the certificate is not for the private key");
    else
        rc = LG_OK;
    for (size_t i = 0; rc == LG_OK && i < n; i++) {
        if (X509_check_host(x, names[i], 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) != 1) {
            snprintf(why, wlen, "the certificate does not cover %s", names[i]);
            rc = LG_ERR;
        }
    }
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

char *lg_acme_key_pem(EVP_PKEY *key, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long n;

    if (b != NULL && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1 &&
        (n = BIO_get_mem_data(b, &data)) > 0 && (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(b);
    return out;
}

EVP_PKEY *lg_acme_key_parse(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    ERR_clear_error();
    return k;
}
