/*
 * jws.c - ES256 signatures of the ACME requests, the account's JWK and its thumbprint.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <stdlib.h>
#include <string.h>

#include "acme/jws.h"
#include "core/lg.h"
#include "core/log.h"

#define LG_ES256_HALF 32 /* bytes of r, of s, of a P-256 coordinate */

size_t lg_acme_b64url(const unsigned char *in, size_t len, char *out, size_t cap)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, need = len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);

    if (need + 1 > cap)
        return 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;

        v |= i + 1 < len ? (unsigned)in[i + 1] << 8 : 0;
        v |= i + 2 < len ? in[i + 2] : 0;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = abc[v >> 6 & 63];
        if (i + 2 < len)
            out[o++] = abc[v & 63];
    }
    out[o] = '\0';
    return o;
}

char *lg_acme_b64url_dup(const unsigned char *in, size_t len)
{
    size_t cap = len / 3 * 4 + 5;
    char *s = malloc(cap);

    if (s != NULL)
        lg_acme_b64url(in, len, s, cap);
    return s;
}

EVP_PKEY *lg_acme_key_new(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    if (k == NULL)
        lg_log(LG_LOG_ERR, "acme: EVP_EC_gen(P-256) failed");
    return k;
}

/* One coordinate of the public point, as base64url of its 32 bytes. */
static json_t *coordinate(EVP_PKEY *key, const char *param)
{
    unsigned char b[LG_ES256_HALF];
    char s[2 * LG_ES256_HALF];
    BIGNUM *bn = NULL;
    int ok = EVP_PKEY_get_bn_param(key, param, &bn) == 1 &&
             BN_bn2binpad(bn, b, sizeof(b)) == (int)sizeof(b) &&
             lg_acme_b64url(b, sizeof(b), s, sizeof(s)) > 0;

    BN_free(bn);
    return ok ? json_string(s) : NULL;
}

json_t *lg_acme_jwk(EVP_PKEY *key)
{
    json_t *x, *y;

    if (!EVP_PKEY_is_a(key, "EC"))
        return NULL;
    x = coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X);
    y = coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y);
    if (x == NULL || y == NULL) {
        json_decref(x);
        json_decref(y);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "crv", "P-256", "kty", "EC", "x", x, "y", y);
}

int lg_acme_thumbprint(const json_t *jwk, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char *canon = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    int ok = canon != NULL &&
             EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) == 1 &&
             lg_acme_b64url(md, mdlen, out, LG_ACME_THUMB_LEN + 1) == LG_ACME_THUMB_LEN;

    free(canon);
    return ok ? LG_OK : LG_ERR;
}

/* ES256 of `msg`: the DER ECDSA signature OpenSSL makes, as JWS wants it (r || s), base64url. */
static char *sign(EVP_PKEY *key, const char *msg)
{
    unsigned char der[EVP_MAX_MD_SIZE + 16], raw[2 * LG_ES256_HALF];
    const unsigned char *p = der;
    size_t dlen = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *sig = NULL;
    const BIGNUM *r, *s;
    char *out = NULL;

    if (md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(md, der, &dlen, (const unsigned char *)msg, strlen(msg)) == 1 &&
        (sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) != NULL) {
        ECDSA_SIG_get0(sig, &r, &s);
        if (BN_bn2binpad(r, raw, LG_ES256_HALF) == LG_ES256_HALF &&
            BN_bn2binpad(s, raw + LG_ES256_HALF, LG_ES256_HALF) == LG_ES256_HALF)
            out = lg_acme_b64url_dup(raw, sizeof(raw));
    }
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return out;
}

/* The protected header: alg, nonce, url, and kid or jwk; base64url of its JSON text. */
static char *protected_header(EVP_PKEY *key, const char *kid, const char *nonce, const char *url)
{
    json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce, "url", url);
    char *text, *b64 = NULL;

    if (h == NULL)
        return NULL;
    if (kid != NULL)
        json_object_set_new(h, "kid", json_string(kid));
    else
        json_object_set_new(h, "jwk", lg_acme_jwk(key));
    text = json_dumps(h, JSON_COMPACT);
    if (text != NULL)
        b64 = lg_acme_b64url_dup((const unsigned char *)text, strlen(text));
    free(text);
    json_decref(h);
    return b64;
}

char *lg_acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
                  const char *payload)
{
    char *prot = protected_header(key, kid, nonce, url);
    char *pay = lg_acme_b64url_dup((const unsigned char *)payload, strlen(payload));
    char *input = NULL, *sig = NULL, *out = NULL;
    json_t *j = NULL;

    if (prot != NULL && pay != NULL && (input = malloc(strlen(prot) + strlen(pay) + 2)) != NULL) {
        sprintf(input, "%s.%s", prot, pay);
        sig = sign(key, input);
    }
    if (sig != NULL)
        j = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload", pay, "signature", sig);
    if (j != NULL)
        out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    free(prot);
    free(pay);
    free(input);
    free(sig);
    return out;
}
