/*
 * ocsp.c - OCSP stapling from a file (ocsp: PATH): the DER response is read and checked at load
 * (a successful response that covers this certificate; one past its nextUpdate is a warning),
 * and stapled when a client asks for the certificate's status. With ocsp: auto the master
 * fetches the response (ocsp_fetch.c) into a shared slot (staple.c), whose current bytes are
 * stapled.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/ocsp.h>

#include "tls/tls-int.h"

#define LG_TLS_REASON_MAX 256
#define LG_TLS_KEY_MAX    128

/* The response must be about `c`'s leaf, when its issuer is in the chain to tell. */
static int ocsp_covers(const lg_tls_cert_t *c, OCSP_RESPONSE *resp, int *stale)
{
    OCSP_BASICRESP *basic = OCSP_response_get1_basic(resp);
    ASN1_GENERALIZEDTIME *next = NULL;
    OCSP_CERTID *id;
    int status, reason, found;

    *stale = 0;
    if (basic == NULL)
        return 0;
    if (sk_X509_num(c->chain) == 0) {
        OCSP_BASICRESP_free(basic);
        return 1;
    }
    id = OCSP_cert_to_id(NULL, c->x509, sk_X509_value(c->chain, 0));
    found = id != NULL && OCSP_resp_find_status(basic, id, &status, &reason, NULL, NULL, &next);
    if (found && next != NULL && X509_cmp_current_time(next) < 0)
        *stale = 1;
    OCSP_CERTID_free(id);
    OCSP_BASICRESP_free(basic);
    return found;
}

int lg_tls_ocsp_load(lg_tls_load_t *ld, size_t i, lg_tls_cert_t *c)
{
    const lg_tls_cert_conf_t *cc = c->conf;
    char key[LG_TLS_KEY_MAX], why[LG_TLS_REASON_MAX];
    OCSP_RESPONSE *resp;
    int n, stale, rc = LG_ERR;
    BIO *b;

    if (cc->ocsp != LG_OCSP_FILE)
        return LG_OK;
    snprintf(key, sizeof(key), "certificates[%zu].ocsp", i);
    b = lg_tls_read(ld, cc->ocsp_file, cc->ocsp_pos, key);
    if (b == NULL)
        return LG_ERR;
    resp = d2i_OCSP_RESPONSE_bio(b, NULL);
    BIO_free(b);
    if (resp == NULL) {
        lg_tls_err(ld, cc->ocsp_pos, key, "\"%s\": not a DER OCSP response (OpenSSL: %s)",
                   cc->ocsp_file, lg_tls_reason(why, sizeof(why)));
    } else if (OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        lg_tls_err(ld, cc->ocsp_pos, key, "\"%s\": the responder answered \"%s\"", cc->ocsp_file,
                   OCSP_response_status_str(OCSP_response_status(resp)));
    } else if (!ocsp_covers(c, resp, &stale)) {
        lg_tls_err(ld, cc->ocsp_pos, key, "\"%s\" is not about the certificate \"%s\"",
                   cc->ocsp_file, cc->cert);
    } else if ((n = i2d_OCSP_RESPONSE(resp, &c->ocsp)) > 0) {
        c->ocsp_len = (size_t)n;
        if (stale)
            lg_tls_warn(ld, cc->ocsp_pos, key,
                        "\"%s\" is past its nextUpdate: clients may refuse it", cc->ocsp_file);
        rc = LG_OK;
    }
    OCSP_RESPONSE_free(resp);
    return rc;
}

/* The DER response of certificate `c` to staple into a copy for OpenSSL; NULL when none. */
static unsigned char *ocsp_current(const lg_tls_cert_t *c, size_t *len)
{
    unsigned char buf[LG_OCSP_DER_MAX];

    if (c->ocsp != NULL) {
        *len = c->ocsp_len;
        return OPENSSL_memdup(c->ocsp, c->ocsp_len);
    }
    if (c->ocsp_slot == 0 || (*len = lg_tls_staple_read(c->ocsp_slot - 1, buf)) == 0)
        return NULL;
    return OPENSSL_memdup(buf, *len);
}

/* Status request: staple the response of the certificate chosen for this connection. */
static int ocsp_staple(SSL *ssl, void *arg)
{
    const lg_tls_ctx_t *t = arg;
    const X509 *x = SSL_get_certificate(ssl);
    unsigned char *copy;
    size_t len;

    for (size_t i = 0; x != NULL && i < t->ncerts; i++) {
        if (t->certs[i].x509 != x)
            continue;
        copy = ocsp_current(&t->certs[i], &len);
        if (copy != NULL && SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)len))
            return SSL_TLSEXT_ERR_OK;
        OPENSSL_free(copy);
        break;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

void lg_tls_ocsp_attach(lg_tls_ctx_t *t)
{
    int staple = 0;

    if (lg_tls_staple_ready())
        lg_tls_ocsp_resolver(t->cf);
    for (size_t i = 0; i < t->ncerts; i++) {
        /* An acme entry's certificate changes under way: not stapled (docs/tls.md). */
        int autom = t->certs[i].conf->ocsp == LG_OCSP_AUTO && t->certs[i].conf->acme == NULL;

        if (autom && lg_tls_staple_ready())
            lg_tls_ocsp_watch(&t->certs[i]);
        staple |= t->certs[i].ocsp != NULL || autom;
    }
    if (staple) {
        SSL_CTX_set_tlsext_status_cb(t->ssl, ocsp_staple);
        SSL_CTX_set_tlsext_status_arg(t->ssl, t);
    }
}
