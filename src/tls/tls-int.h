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
    int ocsp_slot;     /* ocsp: auto: 1 + its slot of fetched responses (staple.c), 0: none */
    int acme_slot;     /* an acme entry's slot in the ACME region (acme.c); -1: none yet */
    uint32_t acme_seq; /* the slot's counter of the certificate installed; 0: the placeholder */
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
    const lg_pool_conf_t *pool; /* set while a pool's client context is built (upctx.c) */
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
/*
 * Read and check the certificate and key of `cc` into `out` (no OCSP), naming them `ckey` and
 * `kkey` in messages: what lg_tls_cert_load does for one entry, and a pool's client certificate.
 */
int lg_tls_pair_load(lg_tls_load_t *ld, const lg_tls_cert_conf_t *cc, const char *ckey,
                     const char *kkey, lg_tls_cert_t *out);
/* The PEM CA certificates of `path` (free with sk_X509_pop_free), or NULL after reporting why. */
STACK_OF(X509) *
    lg_tls_read_cas(lg_tls_load_t *ld, const char *path, lg_conf_pos_t pos, const char *key);
/* Build the client context of every pool with `tls` (upctx.c); LG_ERR when one failed. */
int lg_tls_pools_load(lg_tls_load_t *ld);
/* Free them (upctx.c). */
void lg_tls_pools_release(lg_config_t *cf);
/* What a load keeps between entries (the key decoder, the chain certificates seen). */
void lg_tls_load_done(lg_tls_load_t *ld);
void lg_tls_cert_free(lg_tls_cert_t *c);
/* `t` as "Jan  1 00:00:00 2021 GMT" into buf[len] ("" when it cannot); returns buf. */
const char *lg_tls_time_text(const ASN1_TIME *t, char *buf, size_t len);
/* `name` in RFC 2253 form into buf ("" when it does not fit); returns buf. */
const char *lg_tls_name_text(const X509_NAME *name, char *buf, size_t len);

/* Read and check the OCSP response of entry `i` (ocsp: PATH) into c->ocsp (ocsp.c). */
int lg_tls_ocsp_load(lg_tls_load_t *ld, size_t i, lg_tls_cert_t *c);
/* Staple the responses read, when there are any. */
void lg_tls_ocsp_attach(lg_tls_ctx_t *t);

/*
 * The region of fetched OCSP responses (staple.c; see ocsp.h). A slot per leaf certificate
 * (key: SHA-256 of its DER), written by the master, read by workers under a sequence counter.
 */
#define LG_OCSP_SLOTS   1024
#define LG_OCSP_DER_MAX 4096 /* largest response kept */
#define LG_OCSP_KEY_LEN 32
/* Map the region if it is not mapped yet. */
int lg_tls_staple_create(void);
/* 1 once it is mapped (in the master that runs, and in its workers). */
int lg_tls_staple_ready(void);
/*
 * Master: one more user of the slot of `key` (made when there is none; a slot nobody uses any
 * more is taken back when the region is full). *fresh: it had no user before. -1 when full.
 */
int lg_tls_staple_take(const unsigned char *key, int *fresh);
/* Master: one user less; 1 when it was the last. */
int lg_tls_staple_drop(int i);
/* Master: make `der` (len bytes, 0: nothing) the response of slot `i`, valid until `expires`. */
void lg_tls_staple_write(int i, const unsigned char *der, size_t len, int64_t expires);
/* The nextUpdate (wall clock s, 0: none) of slot `i`'s response, -1 when it has none. */
int64_t lg_tls_staple_expires(int i);
/* Copy slot `i`'s response into buf (LG_OCSP_DER_MAX bytes); 0 when none or expired. */
size_t lg_tls_staple_read(int i, unsigned char *buf);

/*
 * Master, region mapped: fetch the OCSP response of `c` (ocsp: auto) from the responder in its
 * AIA from now on, unless it is already fetched for another configuration (ocsp_fetch.c).
 */
void lg_tls_ocsp_watch(lg_tls_cert_t *c);
/* Look responder names up with the resolver `cf` names (or /etc/resolv.conf's) from now on. */
void lg_tls_ocsp_resolver(const lg_config_t *cf);
/* `c` is freed: its fetches stop when no configuration names its certificate any more. */
void lg_tls_ocsp_release(lg_tls_cert_t *c);

/* Build the SNI index of t->certs and t->dflt (sni.c). LG_ERR when out of memory. */
int lg_tls_sni_build(lg_tls_ctx_t *t);
/* The certificates for `name` (exact, then wildcard, case-insensitive); 0 when none. */
size_t lg_tls_sni_find(const lg_tls_ctx_t *t, const char *name, lg_tls_set_t *out);
void lg_tls_sni_free(lg_tls_ctx_t *t);

/*
 * acme entries (acme.c). Load: a self-signed placeholder for entry `i` into `out`. Attach
 * (master, the ACME region made): each acme entry of `t` gets its slot and, when the slot has
 * one, the certificate published there. Refresh (a worker, at a handshake choosing `c`): install
 * what the slot holds when it changed since; 1 when `c` got a new certificate.
 */
int lg_tls_acme_load(lg_tls_load_t *ld, size_t i, lg_tls_cert_t *out);
void lg_tls_acme_attach(lg_tls_ctx_t *t);
int lg_tls_acme_refresh(const lg_tls_ctx_t *t, lg_tls_cert_t *c);

/*
 * tls-alpn-01 (alpn01.c): the ClientHello callback that answers a challenge offered with ALPN
 * acme-tls/1, set on `t`; and whether `ssl` is such a handshake (ALPN then selects acme-tls/1).
 */
void lg_tls_alpn01_attach(lg_tls_ctx_t *t);
int lg_tls_alpn01_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                         const unsigned char *in, unsigned inlen);

/* Give `t` its ticket key slot when the region exists, and set the callback (ticket.c). */
void lg_tls_tickets_attach(lg_tls_ctx_t *t);

#endif
