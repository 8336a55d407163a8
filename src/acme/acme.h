/*
 * acme.h - automatic certificates (RFC 8555): what the master's ACME client and the workers
 * that serve its results share.
 *
 * The master runs the ACME client in its own event loop (client side: src/acme/ files other
 * than region.c). Everything a worker needs from it lives in one shared region the master maps
 * once at start, before any worker is forked, and keeps across reloads (like the OCSP staples
 * of src/tls/staple.c):
 *
 *   - certificate slots: one per managed certificate, i.e. per distinct set of names of an
 *     `acme: [names]` entry of tls.certificates, keyed by that set (sorted, lower case); the
 *     current chain and private key in PEM, its notAfter, and a sequence counter. A worker
 *     compares the counter with the one of the certificate it loaded and, when it moved, reads
 *     and installs the new one for the next handshakes (hot install: no reload, connections
 *     under way keep the certificate they started with). Until a slot has a certificate the
 *     listener serves the self-signed placeholder made at load.
 *   - http-01 tokens: token -> key authorization, answered on every http listener at
 *     /.well-known/acme-challenge/TOKEN before routing.
 *   - tls-alpn-01 certificates: name -> the DER certificate (with the acmeIdentifier
 *     extension) and DER key to serve to a ClientHello offering ALPN acme-tls/1 for that name.
 *
 * Writers are the master alone. Each entry has a sequence counter: odd while the master writes,
 * even otherwise; a reader copies the bytes and retries while the counter was odd or moved, so
 * it never uses half an entry (the seqlock of staple.c).
 */
#ifndef LG_ACME_H
#define LG_ACME_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define LG_ACME_CERT_SLOTS   256   /* managed certificates at once */
#define LG_ACME_CHAIN_MAX    16384 /* PEM bytes of a chain (leaf first) */
#define LG_ACME_KEY_MAX      4096  /* PEM bytes of a private key */
#define LG_ACME_TOKENS       256   /* http-01 challenges under way at once */
#define LG_ACME_TOKEN_MAX    128   /* bytes of a token (base64url) */
#define LG_ACME_KEYAUTH_MAX  256   /* bytes of a key authorization (token "." thumbprint) */
#define LG_ACME_ALPN_SLOTS   64    /* tls-alpn-01 challenges under way at once */
#define LG_ACME_ALPN_DER_MAX 4096  /* DER bytes of a challenge certificate, and of its key */
#define LG_ACME_NAME_MAX     255   /* longest DNS name */
#define LG_ACME_NAMES_MAX    100   /* names of one certificate (Let's Encrypt's limit) */

/* ---- region (src/acme/region.c): master and workers */

/* Master, once, before the first configuration's workers are forked. LG_ERR (logged). */
int lg_acme_region_create(void);
/* 1 once the region exists (in a worker: it was made before the fork). */
int lg_acme_region_ready(void);

/*
 * The slot of the certificate for `names` (n of them, any order and case; the set is the key),
 * taking a free one when `create` and none has it yet. Returns the slot, or -1 (none, or the
 * region is full: logged once). Master only (it also runs lg_tls_load, which records the slot
 * of each acme entry so a worker never searches).
 */
int lg_acme_cert_slot(const char *const *names, size_t n, int create);

/*
 * Master: publish a new certificate for `slot`: the PEM chain (leaf first) and PEM private key,
 * and the leaf's notAfter (Unix seconds). LG_ERR when a size is over its maximum (logged).
 */
int lg_acme_cert_publish(int slot, const char *chain, size_t chain_len, const char *key,
                         size_t key_len, int64_t not_after);

/*
 * Any process: the slot's sequence counter (even), 0 while it never had a certificate. A worker
 * calls this per handshake (one atomic load) to see whether a newer certificate is there.
 */
uint32_t lg_acme_cert_seq(int slot);

/*
 * Master: 1 when it already logged what slot `slot` serves at sequence `seq` (0: the
 * placeholder), else 0, and it is now taken as logged. A reload attaches the same slots again;
 * this keeps their info lines to one per certificate per master life.
 */
int lg_acme_cert_said(int slot, uint32_t seq);

/*
 * Any process: copy the slot's current certificate into `chain` (LG_ACME_CHAIN_MAX bytes) and
 * `key` (LG_ACME_KEY_MAX bytes); lengths into *chain_len and *key_len, its counter into *seq.
 * Returns LG_OK, or LG_ERR when the slot has no certificate.
 */
int lg_acme_cert_read(int slot, char *chain, size_t *chain_len, char *key, size_t *key_len,
                      uint32_t *seq);

/* Master: answer http-01 `token` with `keyauth` until deleted. LG_ERR when full or too long. */
int lg_acme_http01_add(const char *token, const char *keyauth);
void lg_acme_http01_del(const char *token);

/*
 * Worker: the key authorization of `token` (len bytes, not NUL-terminated) into `out`
 * (LG_ACME_KEYAUTH_MAX bytes, NUL-terminated). Returns its length, or 0 when the token is not
 * one under way (the request is then routed as any other).
 */
size_t lg_acme_http01_find(const char *token, size_t len, char *out);

/* Master: serve this certificate and key (DER) to acme-tls/1 handshakes for `name`. */
int lg_acme_alpn01_add(const char *name, const unsigned char *cert, size_t cert_len,
                       const unsigned char *key, size_t key_len);
void lg_acme_alpn01_del(const char *name);

/*
 * Worker: copy the tls-alpn-01 certificate and key for `name` (DER, LG_ACME_ALPN_DER_MAX bytes
 * each). Returns LG_OK, or LG_ERR when no challenge for that name is under way.
 */
int lg_acme_alpn01_find(const char *name, unsigned char *cert, size_t *cert_len, unsigned char *key,
                        size_t *key_len);

/* ---- the ACME client (master) */

/*
 * Master, in its running loop, after every successful load of a configuration (start and each
 * reload) that is now serving: manage the certificates of its acme entries. On the first call
 * it reads `storage` (the account key, certificates: valid ones are published at once, with no
 * ACME call), then orders what is missing or due within renew_before, renews on a timer,
 * retries failures with a backoff, and keeps serving the previous certificate meanwhile.
 * Entries no configuration names any more stop being renewed. LG_ERR (logged) when it cannot
 * run at all (the configuration still serves, with placeholders).
 */
int lg_acme_apply(const lg_config_t *cf);

#endif
