/*
 * jws.h - the account's signatures (RFC 7515 flattened JSON serialization, ES256, as RFC 8555
 * section 6.2 asks), its JWK and thumbprint (RFC 7638), and base64url.
 */
#ifndef LG_ACME_JWS_H
#define LG_ACME_JWS_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

#define LG_ACME_THUMB_LEN 43 /* base64url of a SHA-256 digest, no padding */

/* base64url without padding of in[0..len) into out (cap bytes, NUL-terminated); its length,
 * or 0 when out is too small. */
size_t lg_acme_b64url(const unsigned char *in, size_t len, char *out, size_t cap);
/* The same into a malloc'd string; NULL when out of memory. */
char *lg_acme_b64url_dup(const unsigned char *in, size_t len);

/* A new P-256 key (account or certificate); NULL (logged) on failure. */
EVP_PKEY *lg_acme_key_new(void);

/* The public JWK of a P-256 key: {"crv","kty","x","y"}; NULL when not such a key. */
json_t *lg_acme_jwk(EVP_PKEY *key);

/* RFC 7638 thumbprint of `jwk` (holding only its required members: they are hashed in
 * lexicographic order, no spaces) into out
 * (LG_ACME_THUMB_LEN + 1 bytes). LG_OK or LG_ERR. */
int lg_acme_thumbprint(const json_t *jwk, char *out);

/*
 * The flattened JWS of `payload` ("" for POST-as-GET) for `url` with `nonce`: signed with
 * `key`, identified by `kid` (the account URL) or, when kid is NULL, by its JWK (newAccount).
 * Returns a malloc'd JSON text, or NULL (out of memory, signing failed).
 */
char *lg_acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
                  const char *payload);

#endif
