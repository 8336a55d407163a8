/*
 * x509.h - the certificates of the ACME client: the CSR sent to finalize, the tls-alpn-01
 * challenge certificate (RFC 8737), the check of a downloaded or stored chain, keys in PEM.
 */
#ifndef LG_ACME_X509_H
#define LG_ACME_X509_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/* The DER CSR for `names` (the first is the subject's CN) signed by `key`, base64url;
 * malloc'd, NULL on failure. */
char *lg_acme_csr(EVP_PKEY *key, char *const *names, size_t n);

/*
 * The tls-alpn-01 certificate for `name`: self-signed by a new P-256 key, SAN = name, the
 * critical acmeIdentifier extension (1.3.6.1.5.5.7.1.31) holding the SHA-256 of `keyauth`.
 * DER certificate and key malloc'd into *cert and *key. LG_OK or LG_ERR.
 */
int lg_acme_alpn_cert(const char *name, const char *keyauth, unsigned char **cert, size_t *cert_len,
                      unsigned char **key, size_t *key_len);

/*
 * Check a PEM chain (leaf first) and its PEM key: both parse, the leaf is for that key, it
 * covers every one of `names`. *not_before and *not_after get the leaf's dates (Unix s).
 * LG_OK, or LG_ERR with why in `why`.
 */
int lg_acme_chain_check(const char *chain, size_t chain_len, const char *key, size_t key_len,
                        char *const *names, size_t n, int64_t *not_before, int64_t *not_after,
                        char *why, size_t wlen);

/* `key` in PEM (PKCS#8), malloc'd and NUL-terminated; NULL on failure. */
char *lg_acme_key_pem(EVP_PKEY *key, size_t *len);
/* A PEM private key; NULL when it does not parse. */
EVP_PKEY *lg_acme_key_parse(const char *pem, size_t len);

#endif
