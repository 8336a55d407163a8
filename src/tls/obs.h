/*
 * obs.h - what the metrics, the access log and the admin pages say about TLS: why a handshake
 * failed, as one of a small fixed set of reasons (a bounded metric label), and what the loaded
 * certificates of a listener are (names, issuer, expiry).
 */
#ifndef LG_TLS_OBS_H
#define LG_TLS_OBS_H

#include <stddef.h>
#include <stdint.h>

#include "tls/tls.h"

/* Why a handshake failed; the `reason` label of lifeguard_tls_handshake_failures_total. */
typedef enum lg_tls_fail {
    LG_TLS_FAIL_NO_SHARED_CIPHER, /* no cipher, group or signature algorithm in common */
    LG_TLS_FAIL_PROTOCOL,         /* a protocol version lifeguard does not speak */
    LG_TLS_FAIL_UNKNOWN_SNI,      /* unknown_sni: reject refused the name asked for */
    LG_TLS_FAIL_BAD_CERTIFICATE,  /* client_auth: no client certificate, or it failed */
    LG_TLS_FAIL_CERT_REJECTED,    /* the client refused lifeguard's certificate (an alert) */
    LG_TLS_FAIL_PLAIN_HTTP,       /* plain HTTP sent to the TLS port */
    LG_TLS_FAIL_TIMEOUT,          /* not finished within timeouts.client_header */
    LG_TLS_FAIL_CLOSED,           /* the client closed or reset the connection */
    LG_TLS_FAIL_OTHER,            /* anything else (malformed, internal) */
    LG_TLS_FAIL_N
} lg_tls_fail_t;

/* "no_shared_cipher", "unsupported_protocol", ... (the label values, docs/configuration.md). */
extern const char *const lg_tls_fail_names[LG_TLS_FAIL_N];

/*
 * The reason for OpenSSL's packed error `err` of a failed server handshake (ERR_peek_last_error;
 * 0 when there was none: the connection was closed or reset).
 */
lg_tls_fail_t lg_tls_fail_reason(unsigned long err);

/* ---- certificates, for the master's admin pages */

#define LG_TLS_OBS_NAME_MAX 256

/* One certificate of a listener, as loaded. */
typedef struct lg_tls_cert_desc {
    const char *path;                 /* the cert file as configured */
    char name[LG_TLS_OBS_NAME_MAX];   /* its first DNS name (CN without subjectAltName) */
    char issuer[LG_TLS_OBS_NAME_MAX]; /* RFC 2253; "" when longer than this */
    char key[8];                      /* "rsa", "ec", "rsa-pss", "ed25519", "ed448" */
    int64_t not_before, not_after;    /* Unix time */
} lg_tls_cert_desc_t;

/* Number of certificates of the listener context `t`. */
size_t lg_tls_cert_count(const lg_tls_ctx_t *t);
/* Describe certificate `i` (file order) of `t`. */
void lg_tls_cert_describe(const lg_tls_ctx_t *t, size_t i, lg_tls_cert_desc_t *out);
/*
 * Call `fn` for each DNS name of certificate `i` the SNI index serves it for (its subject CN
 * when it has no subjectAltName).
 */
void lg_tls_cert_names(const lg_tls_ctx_t *t, size_t i, void (*fn)(void *arg, const char *name),
                       void *arg);

#endif
