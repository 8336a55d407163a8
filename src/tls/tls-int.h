/*
 * tls-int.h - internals of src/tls shared by its files: a loaded certificate, the SNI name
 * index, the listener context, and the helpers that word load errors.
 */
#ifndef LG_TLS_INT_H
#define LG_TLS_INT_H

#include <openssl/decoder.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config/config.h"
#include "tls/tls.h"

/* Key types one name can have a certificate of (RSA, RSA-PSS, EC, Ed25519, Ed448). */
#define LG_TLS_KINDS 5

/* One entry of tls.certificates, read and checked. */
typedef struct lg_tls_cert {
    X509 *x509;
    EVP_PKEY *pkey;
    STACK_OF(X509) * chain; /* the certificates after the leaf in the PEM file; may be empty */
    int kind;               /* EVP_PKEY_get_base_id() of the key */
    unsigned char *ocsp;    /* DER OCSP response to staple (ocsp: PATH), or NULL */
    size_t ocsp_len;
    const lg_tls_cert_conf_t *conf;
} lg_tls_cert_t;

/* A name of the SNI index: lower case, "*.example.com" for a wildcard. */
typedef struct lg_tls_name {
    char *name;
    uint32_t cert; /* index into lg_tls_ctx.certs */
} lg_tls_name_t;

/* The certificates served for one name: at most one per key type, in file order. */
typedef struct lg_tls_set {
    uint32_t cert[LG_TLS_KINDS];
    size_t n;
} lg_tls_set_t;

struct lg_tls_ctx {
    SSL_CTX *ssl;
    const lg_config_t *cf;
    const lg_listener_conf_t *l;
    lg_tls_cert_t *certs;
    size_t ncerts;
    lg_tls_name_t *names; /* sorted by name, then certificate */
    size_t nnames;
    lg_tls_set_t dflt;         /* served without SNI or for an unknown name, loaded in `ssl` */
    int ticket_slot;           /* in the master's ticket region; -1: none yet */
    const unsigned char *alpn; /* wire-format list offered, NULL: no ALPN (tcp listeners) */
    size_t alpn_len;
    int ktls;
};

/* A chain certificate decoded during a load, by its DER bytes. */
typedef struct lg_tls_seen {
    unsigned char *der;
    long len;
    X509 *x509;
} lg_tls_seen_t;

/* One load: where errors go and which listener is being built. */
typedef struct lg_tls_load {
    lg_config_t *cf;
    lg_config_errors_t *errs;
    const lg_listener_conf_t *l;
    int failed;
    OSSL_DECODER_CTX *decoder; /* of private keys, made once per load (cert.c) */
    EVP_PKEY *decoded;         /* where it puts a key */
    lg_tls_seen_t *seen;       /* chain certificates decoded so far (cert.c) */
    size_t nseen;
} lg_tls_load_t;

/* An error at `pos` about "listeners.NAME.tls.KEY" (`key` is the rest of the path). */
void lg_tls_err(lg_tls_load_t *ld, lg_conf_pos_t pos, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same as a warning, logged. */
void lg_tls_warn(lg_tls_load_t *ld, lg_conf_pos_t pos, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The reason of the last OpenSSL error, lower case, and the error queue emptied. */
const char *lg_tls_reason(char *buf, size_t len);

/*
 * The whole file `path` in a memory BIO (regular files up to 1 MiB), or NULL after reporting
 * why at `pos` of `key` (cert.c).
 */
BIO *lg_tls_read(lg_tls_load_t *ld, const char *path, lg_conf_pos_t pos, const char *key);
/* Read and check certificate entry `i` of the listener into `out` (cert.c). */
int lg_tls_cert_load(lg_tls_load_t *ld, size_t i, lg_tls_cert_t *out);
/* What a load keeps between entries (the key decoder, the chain certificates seen). */
void lg_tls_load_done(lg_tls_load_t *ld);
void lg_tls_cert_free(lg_tls_cert_t *c);
/* `name` in RFC 2253 form into buf ("" when it does not fit); returns buf. */
const char *lg_tls_name_text(const X509_NAME *name, char *buf, size_t len);

/* Read and check the OCSP response of entry `i` (ocsp: PATH) into c->ocsp (ocsp.c). */
int lg_tls_ocsp_load(lg_tls_load_t *ld, size_t i, lg_tls_cert_t *c);
/* Staple the responses read, when there are any. */
void lg_tls_ocsp_attach(lg_tls_ctx_t *t);

/* Build the SNI index of t->certs and t->dflt (sni.c). LG_ERR when out of memory. */
int lg_tls_sni_build(lg_tls_ctx_t *t);
/* The certificates for `name` (exact, then wildcard, case-insensitive); 0 when none. */
size_t lg_tls_sni_find(const lg_tls_ctx_t *t, const char *name, lg_tls_set_t *out);
void lg_tls_sni_free(lg_tls_ctx_t *t);

/* Give `t` its ticket key slot when the region exists, and set the callback (ticket.c). */
void lg_tls_tickets_attach(lg_tls_ctx_t *t);

#endif
