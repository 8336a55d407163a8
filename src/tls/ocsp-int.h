/*
 * ocsp-int.h - between the master's OCSP fetches (ocsp_fetch.c) and what they send and check
 * (ocsp_resp.c).
 */
#ifndef LG_TLS_OCSP_INT_H
#define LG_TLS_OCSP_INT_H

#include "event/loop.h"
#include "tls/tls-int.h"

/* What to ask whom about one certificate. Owns its strings and references. */
typedef struct lg_ocsp_target {
    char *name;      /* the certificate's file, for logs */
    char *url;       /* NULL: nothing to fetch */
    char *authority; /* "host[:port]" as in the URL: the Host header */
    char *path;      /* "/" when the URL has none */
    lg_addr_t addr;  /* host and port; a literal IP has its sockaddr set */
    X509 *leaf, *issuer;
    STACK_OF(X509) * chain; /* where the responder's certificate may be found */
} lg_ocsp_target_t;

/* A response that passed every check. */
typedef struct lg_ocsp_result {
    unsigned char *der; /* re-encoded from what was parsed; OPENSSL_free() */
    size_t len;
    int64_t expires;      /* wall clock (s) of nextUpdate, 0 when the response gives none */
    lg_msec_t refresh_ms; /* when to fetch again */
    int revoked;
    char next_update[32]; /* "2026-12-04T10:00:00Z", or "none" */
} lg_ocsp_result_t;

/*
 * 1 when `c` has an issuer in its chain and an http:// OCSP responder in its AIA; otherwise 0,
 * and an https:// responder is logged (skipped: lifeguard fetches over HTTP only).
 */
int lg_ocsp_target_usable(const lg_tls_cert_t *c);
/* Fill `tg` for `c` (references taken); LG_ERR (logged) when out of memory or a bad URL. */
int lg_ocsp_target_init(lg_ocsp_target_t *tg, const lg_tls_cert_t *c);
void lg_ocsp_target_free(lg_ocsp_target_t *tg);

/* The HTTP request (head and DER OCSP request, malloc'd) asking about tg's certificate. */
unsigned char *lg_ocsp_request(const lg_ocsp_target_t *tg, size_t *len);

/*
 * Check the HTTP response `rsp` (`len` bytes, the whole of it) of the responder: 200, a DER
 * OCSP response, successful, signed by the issuer or its delegated responder, about tg's
 * certificate, good or revoked, thisUpdate/nextUpdate in range. LG_OK with `r` filled, or
 * LG_ERR with why it was refused in `why`.
 */
int lg_ocsp_check(const lg_ocsp_target_t *tg, const unsigned char *rsp, size_t len,
                  lg_ocsp_result_t *r, char *why, size_t wlen);

#endif
