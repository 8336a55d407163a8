/*
 * alpn01.c - the tls-alpn-01 challenge (RFC 8737) on the serving side. A ClientHello offering
 * ALPN "acme-tls/1" for a name the master has a challenge certificate for (acme.h,
 * lg_acme_alpn01_find) gets that certificate and key and ALPN acme-tls/1; the handshake
 * completes and the front closes the connection without reading (lg_tls_acme_challenge). Without
 * a challenge for the name, acme-tls/1 is never selected: a hello offering only it gets a
 * no_application_protocol alert, one offering others goes on as any handshake.
 *
 * The callback runs at the ClientHello, before SNI and ALPN are processed, so it reads both
 * extensions itself; each length is checked against what holds it.
 */
#include <string.h>

#include <openssl/err.h>

#include "acme/acme.h"
#include "core/log.h"
#include "tls/clienthello.h"
#include "tls/tls-int.h"

#define LG_ACME_TLS_1     "acme-tls/1"
#define LG_ACME_TLS_1_LEN (sizeof(LG_ACME_TLS_1) - 1)

static const unsigned char alpn01_proto[] = "\x0a" LG_ACME_TLS_1;

/* The SSL ex_data slot marking a tls-alpn-01 handshake; made once, before workers fork. */
static int alpn01_idx = -1;
static char alpn01_mark;

/* 2-byte big-endian length at p. */
static size_t be16(const unsigned char *p)
{
    return (size_t)p[0] << 8 | p[1];
}

/*
 * The ALPN list of the hello: 1 when it offers acme-tls/1, with *others set when it offers
 * another protocol too; 0 when it does not offer it or the list is malformed.
 */
static int hello_offers(SSL *ssl, int *others)
{
    const unsigned char *p;
    size_t len, i, n;
    int offered = 0;

    *others = 0;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                   &len) ||
        len < 2 || be16(p) != len - 2)
        return 0;
    for (i = 2; i < len; i += 1 + n) {
        n = p[i];
        if (n == 0 || i + 1 + n > len)
            return 0;
        if (n == LG_ACME_TLS_1_LEN && memcmp(p + i + 1, LG_ACME_TLS_1, n) == 0)
            offered = 1;
        else
            *others = 1;
    }
    return offered;
}

_Static_assert(LG_ACME_NAME_MAX >= LG_HELLO_NAME_MAX, "a hello's name fits a challenge name");

/* The host name of the hello's server_name extension (strict, lower case) into name; 0: none. */
static int hello_sni(SSL *ssl, char *name)
{
    const unsigned char *p;
    size_t len;

    return SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) &&
           lg_hello_server_name(p, len, name) == LG_HELLO_SNI;
}

/* Serve the challenge certificate of `name` on `ssl`: LG_OK, or LG_ERR when there is none. */
static int alpn01_use(SSL *ssl, const char *name)
{
    unsigned char cert[LG_ACME_ALPN_DER_MAX], key[LG_ACME_ALPN_DER_MAX];
    const unsigned char *p;
    size_t clen, klen;
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    int ok;

    if (lg_acme_alpn01_find(name, cert, &clen, key, &klen) != LG_OK)
        return LG_ERR;
    p = cert;
    x = d2i_X509(NULL, &p, (long)clen);
    p = key;
    pk = x != NULL ? d2i_AutoPrivateKey(NULL, &p, (long)klen) : NULL;
    OPENSSL_cleanse(key, sizeof(key));
    ok = pk != NULL;
    if (ok) {
        SSL_certs_clear(ssl);
        ok = SSL_use_cert_and_key(ssl, x, pk, NULL, 1);
    }
    X509_free(x);
    EVP_PKEY_free(pk);
    if (!ok) {
        lg_log(LG_LOG_ERR, "tls-alpn-01 for %s: the challenge certificate cannot be used", name);
        ERR_clear_error();
        return LG_ERR;
    }
    return LG_OK;
}

static int alpn01_hello(SSL *ssl, int *alert, void *arg)
{
    char name[LG_ACME_NAME_MAX + 1];
    int others;

    LG_UNUSED(arg);
    if (!hello_offers(ssl, &others))
        return SSL_CLIENT_HELLO_SUCCESS;
    if (hello_sni(ssl, name) && alpn01_use(ssl, name) == LG_OK) {
        SSL_set_ex_data(ssl, alpn01_idx, &alpn01_mark);
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL); /* the CA has no client certificate */
        lg_log(LG_LOG_INFO, "tls-alpn-01: answering the challenge for %s", name);
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    if (others)
        return SSL_CLIENT_HELLO_SUCCESS;
    *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
    return SSL_CLIENT_HELLO_ERROR;
}

void lg_tls_alpn01_attach(lg_tls_ctx_t *t)
{
    if (alpn01_idx < 0)
        alpn01_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    SSL_CTX_set_client_hello_cb(t->ssl, alpn01_hello, t);
}

int lg_tls_acme_challenge(const SSL *ssl)
{
    return alpn01_idx >= 0 && SSL_get_ex_data(ssl, alpn01_idx) == &alpn01_mark;
}

int lg_tls_alpn01_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                         const unsigned char *in, unsigned inlen)
{
    unsigned char *sel;

    LG_UNUSED(ssl);
    if (SSL_select_next_proto(&sel, outlen, alpn01_proto, sizeof(alpn01_proto) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}
