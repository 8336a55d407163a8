/*
 * tls.h - TLS termination: the server context of each listener with a `tls` section, built when
 * the configuration is loaded, and what the stream layer needs from it.
 *
 * lg_tls_load() reads every certificate, key, client CA and OCSP file the configuration names,
 * checks them (key matches certificate, chain in order; an expired certificate is a warning),
 * and builds one SSL_CTX per listener: protocol versions, ciphers with server preference, no
 * renegotiation, no compression, released buffers, SNI (exact names before wildcards, the
 * first certificate as default, RSA and ECDSA for one name picked by the client's signature
 * algorithms), ALPN http/1.1 on http listeners, client certificates, session tickets with keys
 * from the master's shared region (ticket.h). The contexts hang off the configuration
 * (lg_tls_conf_t.ctx) and are freed with it, so a forked worker finds them in its config.
 */
#ifndef LG_TLS_H
#define LG_TLS_H

#include <openssl/ssl.h>

#include "config/config.h"

typedef struct lg_tls_ctx lg_tls_ctx_t;

/*
 * Build the server context of every listener of `cf` that has `tls`. Problems are added to
 * `errs` as "FILE:LINE:COL: error: KEY: "PEM PATH": what (OpenSSL: reason)" at the key that
 * names the file; warnings (an expired certificate) are logged at warn level in the same form.
 * Returns LG_OK, or LG_ERR when `errs` got a line (the caller frees `cf`, which frees what was
 * built). Key material is never printed. Runs in the master: at start, for `-t` and on reload.
 */
int lg_tls_load(lg_config_t *cf, lg_config_errors_t *errs);

/*
 * A new server-side SSL for one accepted connection of the listener whose context is `t`
 * (lg_tls_conf_t.ctx), in accept state; the caller attaches the socket (SSL_set_fd) and frees
 * it with SSL_free. NULL when out of memory (logged).
 */
SSL *lg_tls_session_new(lg_tls_ctx_t *t);

/* 1 when kernel TLS will be tried on this listener's connections (ktls: auto and available). */
int lg_tls_ktls(const lg_tls_ctx_t *t);

/* Longest client subject kept (RFC 2253 form; a longer one is left out, never cut). */
#define LG_TLS_SUBJECT_MAX 1024

/* What the access log and the backend learn of a finished handshake. */
typedef struct lg_tls_info {
    const char *version; /* "TLSv1.3" */
    const char *cipher;  /* "TLS_AES_128_GCM_SHA256" */
    const char *sni;     /* the name the client asked for; NULL when it sent none */
    const char *alpn; /* "h2", "http/1.1"; NULL when none was agreed (points into a static list) */
    int resumed;      /* 1: resumed from a session ticket */
    /*
     * The verified client certificate's subject, RFC 2253 with control and non-ASCII bytes
     * escaped (safe in a header); "" when there is none, it did not verify (verify: optional)
     * or it is longer than LG_TLS_SUBJECT_MAX - 1.
     */
    char subject[LG_TLS_SUBJECT_MAX];
} lg_tls_info_t;

/*
 * Master, once the loop runs: map the ACME region (src/acme/acme.h) and give the acme entries
 * of `cf`'s listeners their slots. LG_ERR (logged) when the region cannot be mapped.
 */
int lg_tls_acme_start(lg_config_t *cf);

/*
 * 1 when the handshake of `ssl` answered a tls-alpn-01 challenge (ALPN acme-tls/1, RFC 8737):
 * the connection is closed at once, no application byte is read.
 */
int lg_tls_acme_challenge(const SSL *ssl);

/* The client and we agreed on HTTP/2 (ALPN "h2"). */
int lg_tls_alpn_h2(const SSL *ssl);

/* Fill `out` for the established session `ssl`. The strings live as long as `ssl`. */
void lg_tls_session_info(const SSL *ssl, lg_tls_info_t *out);

#endif
