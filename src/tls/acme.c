/*
 * acme.c - the certificates of `acme: [names]` entries on the serving side: a self-signed
 * placeholder made at load so the listener works at once, the entry's slot in the ACME region
 * (src/acme/acme.h), and the hot install of what the master publishes there.
 *
 * A worker looks at the slot's counter whenever a handshake chooses the entry (tls_servername
 * in ctx.c); when it moved, the published chain and key are decoded and replace the entry's
 * for the next handshakes. Connections under way keep theirs (each SSL holds references to its
 * certificate and key). A publication that cannot be used is logged and the previous
 * certificate stays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "acme/acme.h"
#include "core/log.h"
#include "tls/tls-int.h"

#define LG_ACME_PLACEHOLDER_DAYS 7 /* a placeholder is replaced long before; clients refuse it */
#define LG_ACME_SERIAL_LEN       16
#define LG_ACME_REASON_MAX       256
#define LG_ACME_DATE_MAX         64
#define LG_ACME_KEYNAME_MAX      64 /* "certificates[12].acme" */
#define LG_ACME_CN               "lifeguard ACME placeholder"

/* ---- the placeholder */

static int placeholder_sans(X509 *x, const lg_tls_cert_conf_t *cc)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    int ok = gens != NULL;

    for (size_t i = 0; ok && i < cc->nacme; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();

        ok = g != NULL && s != NULL && ASN1_STRING_set(s, cc->acme[i], -1);
        if (ok) {
            GENERAL_NAME_set0_value(g, GEN_DNS, s);
            s = NULL;
            ok = sk_GENERAL_NAME_push(gens, g) > 0;
        }
        if (!ok) {
            ASN1_IA5STRING_free(s);
            GENERAL_NAME_free(g);
        }
    }
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) == 1;
    GENERAL_NAMES_free(gens);
    return ok;
}

/* Self-signed, P-256, the entry's names as SANs, valid from an hour ago for a few days. */
static X509 *placeholder_make(const lg_tls_cert_conf_t *cc, EVP_PKEY *pk)
{
    unsigned char serial[LG_ACME_SERIAL_LEN];
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    X509_NAME *name;
    int ok;

    ok =
        x != NULL && X509_set_version(x, X509_VERSION_3) && RAND_bytes(serial, sizeof(serial)) == 1;
    serial[0] &= 0x7f; /* a positive serial number */
    ok = ok && (bn = BN_bin2bn(serial, sizeof(serial), NULL)) != NULL &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
         X509_time_adj_ex(X509_getm_notAfter(x), LG_ACME_PLACEHOLDER_DAYS, 0, NULL) != NULL;
    name = ok ? X509_get_subject_name(x) : NULL;
    ok = ok &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)LG_ACME_CN, -1,
                                    -1, 0) &&
         X509_set_issuer_name(x, name) && X509_set_pubkey(x, pk) && placeholder_sans(x, cc) &&
         X509_sign(x, pk, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* ---- what the master publishes */

/* The names of entry `c` for messages: "a.example, b.example" cut to fit. */
static const char *acme_names(const lg_tls_cert_t *c, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < c->conf->nacme && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i > 0 ? ", " : "", c->conf->acme[i]);

        used += n > 0 ? (size_t)n : 0;
    }
    return buf;
}

/* The PEM chain (leaf first) and key into *out; NULL when they do not make a pair. */
static const char *acme_decode(const char *chain, size_t clen, const char *key, size_t klen,
                               lg_tls_cert_t *out)
{
    BIO *b = BIO_new_mem_buf(chain, (int)clen);
    X509 *x;

    out->x509 = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    out->chain = sk_X509_new_null();
    while (out->x509 != NULL && out->chain != NULL &&
           (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(out->chain, x))
            X509_free(x);
    BIO_free(b);
    if (out->x509 == NULL || out->chain == NULL)
        return "no PEM certificate";
    ERR_clear_error(); /* the end of the chain */
    b = BIO_new_mem_buf(key, (int)klen);
    out->pkey = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (out->pkey == NULL)
        return "no PEM private key";
    if (X509_check_private_key(out->x509, out->pkey) != 1)
        return "the key is not the certificate's";
    out->kind = EVP_PKEY_get_base_id(out->pkey);
    return NULL;
}

/*
 * Read slot c->acme_slot and make it c's certificate: 1 when it replaced the one before, 0
 * when the slot has none or what it holds cannot be used (logged once per publication).
 */
static int acme_install(const lg_tls_ctx_t *t, lg_tls_cert_t *c, int say)
{
    char why[LG_ACME_REASON_MAX], names[LG_ACME_REASON_MAX], date[LG_ACME_DATE_MAX];
    char *buf = malloc(LG_ACME_CHAIN_MAX + LG_ACME_KEY_MAX);
    lg_tls_cert_t got = {0};
    size_t clen, klen;
    const char *bad;
    uint32_t seq;

    if (buf == NULL)
        return 0; /* the next handshake tries again */
    if (lg_acme_cert_read(c->acme_slot, buf, &clen, buf + LG_ACME_CHAIN_MAX, &klen, &seq) !=
        LG_OK) {
        free(buf);
        return 0;
    }
    bad = acme_decode(buf, clen, buf + LG_ACME_CHAIN_MAX, klen, &got);
    OPENSSL_cleanse(buf, LG_ACME_CHAIN_MAX + LG_ACME_KEY_MAX);
    free(buf);
    c->acme_seq = seq;
    if (bad != NULL) {
        lg_log(LG_LOG_ERR,
               "listener %s: the certificate published for %s cannot be used: %s "
               "(OpenSSL: %s); the previous one stays",
               t->l->name, acme_names(c, names, sizeof(names)), bad,
               lg_tls_reason(why, sizeof(why)));
        lg_tls_cert_free(&got);
        return 0;
    }
    X509_free(c->x509);
    EVP_PKEY_free(c->pkey);
    sk_X509_pop_free(c->chain, X509_free);
    c->x509 = got.x509;
    c->pkey = got.pkey;
    c->chain = got.chain;
    c->kind = got.kind;
    if (say)
        lg_log(LG_LOG_INFO, "listener %s: certificate for %s installed (valid until %s)",
               t->l->name, acme_names(c, names, sizeof(names)),
               lg_tls_time_text(X509_get0_notAfter(c->x509), date, sizeof(date)));
    return 1;
}

int lg_tls_acme_refresh(const lg_tls_ctx_t *t, lg_tls_cert_t *c)
{
    if (c->conf->acme == NULL || c->acme_slot < 0 || lg_acme_cert_seq(c->acme_slot) == c->acme_seq)
        return 0;
    return acme_install(t, c, 1);
}

/*
 * Master: the slot of entry `c` once the region exists, and its current certificate if any.
 * What it serves (placeholder or certificate) is logged once per certificate, not again for
 * each generation a reload makes.
 */
static void acme_attach_one(const lg_tls_ctx_t *t, lg_tls_cert_t *c)
{
    char names[LG_ACME_REASON_MAX];
    uint32_t seq;
    int said;

    if (c->acme_slot >= 0 || !lg_acme_region_ready())
        return;
    c->acme_slot = lg_acme_cert_slot((const char *const *)c->conf->acme, c->conf->nacme, 1);
    if (c->acme_slot < 0)
        return; /* the region is full: logged once, the placeholder stays */
    seq = lg_acme_cert_seq(c->acme_slot);
    said = lg_acme_cert_said(c->acme_slot, seq);
    if (seq != c->acme_seq && acme_install(t, c, !said))
        return;
    if (!said)
        lg_log(LG_LOG_INFO,
               "listener %s: a self-signed placeholder serves %s until a certificate is obtained",
               t->l->name, acme_names(c, names, sizeof(names)));
}

void lg_tls_acme_attach(lg_tls_ctx_t *t)
{
    for (size_t i = 0; i < t->ncerts; i++)
        if (t->certs[i].conf->acme != NULL)
            acme_attach_one(t, &t->certs[i]);
}

int lg_tls_acme_load(lg_tls_load_t *ld, size_t i, lg_tls_cert_t *out)
{
    const lg_tls_cert_conf_t *cc = &ld->l->tls->certs[i];
    char why[LG_ACME_REASON_MAX], key[LG_ACME_KEYNAME_MAX];

    out->conf = cc;
    out->acme_slot = -1;
    out->pkey = EVP_EC_gen("P-256");
    out->x509 = out->pkey != NULL ? placeholder_make(cc, out->pkey) : NULL;
    out->chain = sk_X509_new_null();
    out->kind = EVP_PKEY_EC;
    if (out->x509 == NULL || out->chain == NULL) {
        snprintf(key, sizeof(key), "certificates[%zu].acme", i);
        lg_tls_err(ld, cc->pos, key, "the placeholder certificate cannot be made (OpenSSL: %s)",
                   lg_tls_reason(why, sizeof(why)));
        return LG_ERR;
    }
    return LG_OK;
}

int lg_tls_acme_start(lg_config_t *cf)
{
    if (lg_acme_region_create() != LG_OK)
        return LG_ERR;
    for (size_t i = 0; i < cf->nlisteners; i++)
        if (cf->listeners[i].tls != NULL && cf->listeners[i].tls->ctx != NULL)
            lg_tls_acme_attach(cf->listeners[i].tls->ctx);
    return LG_OK;
}
