/*
 * cert.c - one entry of tls.certificates: read the PEM leaf and chain and the private key,
 * check that the key matches the leaf and that each certificate of the chain was issued by the
 * next one; an expired (or not yet valid) certificate is a warning. Messages name the key of
 * the file, the PEM path and OpenSSL's reason, never key material.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "tls/tls-int.h"

#define LG_TLS_FILE_MAX   (1024 * 1024) /* a PEM file larger than this is refused */
#define LG_TLS_REASON_MAX 256
#define LG_TLS_MSG_MAX    1024
#define LG_TLS_KEY_MAX    128 /* "certificates[123].cert" */
#define LG_TLS_DATE_MAX   64

/* ---- messages */

const char *lg_tls_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    lg_log_reason(r != NULL ? r : "unknown reason", buf, len);
    ERR_clear_error();
    return buf;
}

static void tls_vmsg(lg_tls_load_t *ld, lg_conf_pos_t pos, const char *key, int warn,
                     const char *fmt, va_list ap)
{
    char msg[LG_TLS_MSG_MAX];

    const char *section = ld->pool != NULL ? "pools" : "listeners";
    const char *name = ld->pool != NULL ? ld->pool->name : ld->l->name;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (warn) {
        lg_log(LG_LOG_WARN, "%s:%u:%u: warning: %s.%s.tls.%s: %s", ld->cf->file, pos.line, pos.col,
               section, name, key, msg);
        return;
    }
    lg_config_error_add(ld->errs, ld->cf, pos, "%s.%s.tls.%s: %s", section, name, key, msg);
    ld->failed = 1;
}

void lg_tls_err(lg_tls_load_t *ld, lg_conf_pos_t pos, const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tls_vmsg(ld, pos, key, 0, fmt, ap);
    va_end(ap);
}

void lg_tls_warn(lg_tls_load_t *ld, lg_conf_pos_t pos, const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tls_vmsg(ld, pos, key, 1, fmt, ap);
    va_end(ap);
}

const char *lg_tls_name_text(const X509_NAME *name, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = b != NULL ? X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) : -1;

    buf[0] = '\0';
    if (n >= 0 && (size_t)n < len && BIO_read(b, buf, n) == n)
        buf[n] = '\0';
    else
        buf[0] = '\0';
    BIO_free(b);
    return buf;
}

/* ---- files */

BIO *lg_tls_read(lg_tls_load_t *ld, const char *path, lg_conf_pos_t pos, const char *key)
{
    struct stat st;
    char *data;
    ssize_t r;
    BIO *b;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        lg_tls_err(ld, pos, key, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > LG_TLS_FILE_MAX) {
        lg_tls_err(ld, pos, key, "\"%s\" is not a regular file of at most 1 MiB", path);
        close(fd);
        return NULL;
    }
    data = malloc((size_t)st.st_size + 1);
    r = data != NULL ? read(fd, data, (size_t)st.st_size) : -1;
    close(fd);
    if (r != (ssize_t)st.st_size) {
        lg_tls_err(ld, pos, key, "read() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        free(data);
        return NULL;
    }
    b = BIO_new(BIO_s_secmem()); /* cleared when freed: it may hold a private key */
    if (b == NULL || BIO_write(b, data, (int)r) != (int)r) {
        lg_tls_err(ld, pos, key, "\"%s\": out of memory", path);
        BIO_free(b);
        b = NULL;
    }
    OPENSSL_cleanse(data, (size_t)r);
    free(data);
    return b;
}

/* A key protected by a passphrase is refused: nobody is there to type it. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    LG_UNUSED(buf);
    LG_UNUSED(size);
    LG_UNUSED(rwflag);
    LG_UNUSED(u);
    return -1;
}

/* The leaf and the chain after it. */
/* `der` is already decoded in this load: a new reference to it, else NULL. */
static X509 *tls_chain_seen(const lg_tls_load_t *ld, const unsigned char *der, long len)
{
    for (size_t i = 0; i < ld->nseen; i++) {
        if (ld->seen[i].len == len && memcmp(ld->seen[i].der, der, (size_t)len) == 0) {
            X509_up_ref(ld->seen[i].x509);
            return ld->seen[i].x509;
        }
    }
    return NULL;
}

/* Remember `x`, decoded from *der (which it takes), for the files that follow. */
static void tls_chain_keep(lg_tls_load_t *ld, unsigned char **der, long len, X509 *x)
{
    lg_tls_seen_t *seen = realloc(ld->seen, (ld->nseen + 1) * sizeof(*seen));

    if (seen == NULL)
        return;
    ld->seen = seen;
    seen[ld->nseen++] = (lg_tls_seen_t){*der, len, x};
    X509_up_ref(x);
    *der = NULL;
}

/*
 * The next certificate of a chain; blocks of other kinds are skipped. An intermediate named by
 * many files is decoded once per load: decoding a certificate's public key costs OpenSSL 3.0
 * as much as a private key (see tls_read_key). NULL at the end (PEM_R_NO_START_LINE queued).
 */
static X509 *tls_chain_next(lg_tls_load_t *ld, BIO *b)
{
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    long len = 0;
    X509 *x = NULL;

    while (x == NULL && PEM_read_bio(b, &name, &header, &der, &len)) {
        if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0) {
            x = tls_chain_seen(ld, der, len);
            p = der;
            if (x == NULL && (x = d2i_X509(NULL, &p, len)) != NULL)
                tls_chain_keep(ld, &der, len, x);
            if (x == NULL)
                break;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(der, (size_t)len); /* it may have been a private key */
        name = header = NULL;
        der = NULL;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_clear_free(der, (size_t)len);
    return x;
}

static int tls_read_certs(lg_tls_load_t *ld, const char *key, const lg_tls_cert_conf_t *cc,
                          lg_tls_cert_t *out)
{
    char why[LG_TLS_REASON_MAX];
    BIO *b = lg_tls_read(ld, cc->cert, cc->cert_pos, key);
    X509 *x;

    if (b == NULL)
        return LG_ERR;
    out->x509 = PEM_read_bio_X509(b, NULL, tls_no_passphrase, NULL);
    out->chain = sk_X509_new_null();
    if (out->x509 == NULL || out->chain == NULL) {
        lg_tls_err(ld, cc->cert_pos, key, "\"%s\": no PEM certificate found (OpenSSL: %s)",
                   cc->cert, lg_tls_reason(why, sizeof(why)));
        BIO_free(b);
        return LG_ERR;
    }
    while ((x = tls_chain_next(ld, b)) != NULL) {
        if (!sk_X509_push(out->chain, x)) {
            X509_free(x);
            break;
        }
    }
    /* The end of the file ends the loop with "no start line"; anything else is damage. */
    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        lg_tls_err(ld, cc->cert_pos, key,
                   "\"%s\": a certificate of the chain is damaged (OpenSSL: %s)", cc->cert,
                   lg_tls_reason(why, sizeof(why)));
        BIO_free(b);
        return LG_ERR;
    }
    ERR_clear_error();
    BIO_free(b);
    return LG_OK;
}

static int tls_read_key(lg_tls_load_t *ld, const char *key, const lg_tls_cert_conf_t *cc,
                        lg_tls_cert_t *out)
{
    char why[LG_TLS_REASON_MAX];
    BIO *b = lg_tls_read(ld, cc->key, cc->key_pos, key);

    if (b == NULL)
        return LG_ERR;
    /*
     * One decoder context for every key of the load: making one per key, as
     * PEM_read_bio_PrivateKey() does, lists every decoder of every provider each time and
     * costs OpenSSL 3.0 about 2 ms a key (2 s for 1,000 certificates).
     */
    if (ld->decoder == NULL) {
        ld->decoder = OSSL_DECODER_CTX_new_for_pkey(&ld->decoded, "PEM", NULL, NULL,
                                                    EVP_PKEY_KEYPAIR, NULL, NULL);
        if (ld->decoder != NULL)
            OSSL_DECODER_CTX_set_pem_password_cb(ld->decoder, tls_no_passphrase, NULL);
    }
    ld->decoded = NULL;
    if (ld->decoder != NULL && OSSL_DECODER_from_bio(ld->decoder, b))
        out->pkey = ld->decoded;
    ld->decoded = NULL;
    BIO_free(b);
    if (out->pkey == NULL) {
        lg_tls_err(ld, cc->key_pos, key,
                   "\"%s\": no usable PEM private key found (OpenSSL: %s); a key protected by a "
                   "passphrase is not supported",
                   cc->key, lg_tls_reason(why, sizeof(why)));
        return LG_ERR;
    }
    out->kind = EVP_PKEY_get_base_id(out->pkey);
    return LG_OK;
}

/* ---- checks */

/* Each certificate of the file must be issued by the one after it. */
static int tls_check_order(lg_tls_load_t *ld, const char *key, const lg_tls_cert_t *c)
{
    char subject[LG_TLS_MSG_MAX / 4], issuer[LG_TLS_MSG_MAX / 4];
    int n = sk_X509_num(c->chain);

    for (int i = 0; i < n; i++) {
        X509 *child = i == 0 ? c->x509 : sk_X509_value(c->chain, i - 1);
        X509 *parent = sk_X509_value(c->chain, i);

        if (X509_check_issued(parent, child) == X509_V_OK)
            continue;
        lg_tls_err(ld, c->conf->cert_pos, key,
                   "\"%s\": the chain is out of order: certificate %d (\"%s\") did not issue "
                   "certificate %d (issued by \"%s\"); put the leaf first, then each issuer",
                   c->conf->cert, i + 2,
                   lg_tls_name_text(X509_get_subject_name(parent), subject, sizeof(subject)), i + 1,
                   lg_tls_name_text(X509_get_issuer_name(child), issuer, sizeof(issuer)));
        return LG_ERR;
    }
    return LG_OK;
}

const char *lg_tls_time_text(const ASN1_TIME *t, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = b != NULL && ASN1_TIME_print(b, t) ? BIO_read(b, buf, (int)len - 1) : 0;

    buf[n > 0 ? n : 0] = '\0';
    BIO_free(b);
    return buf;
}

/* Expired or not yet valid: a warning (clients will refuse it, but lifeguard still serves). */
static void tls_check_dates(lg_tls_load_t *ld, const char *key, const lg_tls_cert_t *c)
{
    char date[LG_TLS_DATE_MAX];
    const ASN1_TIME *t;
    const char *what;

    if (X509_cmp_current_time(X509_get0_notAfter(c->x509)) < 0) {
        t = X509_get0_notAfter(c->x509);
        what = "expired on";
    } else if (X509_cmp_current_time(X509_get0_notBefore(c->x509)) > 0) {
        t = X509_get0_notBefore(c->x509);
        what = "is not valid before";
    } else {
        return;
    }
    lg_tls_warn(ld, c->conf->cert_pos, key, "\"%s\" %s %s: clients will refuse it", c->conf->cert,
                what, lg_tls_time_text(t, date, sizeof(date)));
}

int lg_tls_pair_load(lg_tls_load_t *ld, const lg_tls_cert_conf_t *cc, const char *ckey,
                     const char *kkey, lg_tls_cert_t *out)
{
    char why[LG_TLS_REASON_MAX];

    out->conf = cc;
    if (tls_read_certs(ld, ckey, cc, out) != LG_OK || tls_read_key(ld, kkey, cc, out) != LG_OK)
        return LG_ERR;
    if (X509_check_private_key(out->x509, out->pkey) != 1) {
        lg_tls_err(ld, cc->key_pos, kkey,
                   "\"%s\" is not the key of the certificate \"%s\" (OpenSSL: %s)", cc->key,
                   cc->cert, lg_tls_reason(why, sizeof(why)));
        return LG_ERR;
    }
    if (tls_check_order(ld, ckey, out) != LG_OK)
        return LG_ERR;
    tls_check_dates(ld, ckey, out);
    return LG_OK;
}

int lg_tls_cert_load(lg_tls_load_t *ld, size_t i, lg_tls_cert_t *out)
{
    char ckey[LG_TLS_KEY_MAX], kkey[LG_TLS_KEY_MAX];

    if (ld->l->tls->certs[i].acme != NULL)
        return lg_tls_acme_load(ld, i, out);
    snprintf(ckey, sizeof(ckey), "certificates[%zu].cert", i);
    snprintf(kkey, sizeof(kkey), "certificates[%zu].key", i);
    if (lg_tls_pair_load(ld, &ld->l->tls->certs[i], ckey, kkey, out) != LG_OK)
        return LG_ERR;
    return lg_tls_ocsp_load(ld, i, out);
}

STACK_OF(X509) *
    lg_tls_read_cas(lg_tls_load_t *ld, const char *path, lg_conf_pos_t pos, const char *key)
{
    char why[LG_TLS_REASON_MAX];
    STACK_OF(X509) * cas;
    BIO *b = lg_tls_read(ld, path, pos, key);
    X509 *x;

    if (b == NULL)
        return NULL;
    cas = sk_X509_new_null();
    while (cas != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(cas, x))
            X509_free(x);
    }
    BIO_free(b);
    if (cas == NULL || sk_X509_num(cas) == 0) {
        lg_tls_err(ld, pos, key, "\"%s\": no PEM CA certificate found (OpenSSL: %s)", path,
                   lg_tls_reason(why, sizeof(why)));
        sk_X509_free(cas);
        return NULL;
    }
    ERR_clear_error(); /* the end of the file */
    return cas;
}

void lg_tls_cert_free(lg_tls_cert_t *c)
{
    lg_tls_ocsp_release(c);
    X509_free(c->x509);
    EVP_PKEY_free(c->pkey);
    sk_X509_pop_free(c->chain, X509_free);
    OPENSSL_free(c->ocsp);
    *c = (lg_tls_cert_t){0};
}

void lg_tls_load_done(lg_tls_load_t *ld)
{
    OSSL_DECODER_CTX_free(ld->decoder);
    ld->decoder = NULL;
    for (size_t i = 0; i < ld->nseen; i++) {
        X509_free(ld->seen[i].x509);
        OPENSSL_free(ld->seen[i].der);
    }
    free(ld->seen);
    ld->seen = NULL;
    ld->nseen = 0;
}
