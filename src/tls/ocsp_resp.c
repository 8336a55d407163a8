/*
 * ocsp_resp.c - what the master's OCSP fetches send and how they check what comes back
 * (see ocsp-int.h): the responder URL from the certificate, the request, the HTTP response,
 * the OCSP response's signature, subject, status and times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "tls/ocsp-int.h"

#define LG_OCSP_HTTP_PORT     80
#define LG_OCSP_SKEW_S        300  /* clocks may differ this much from the responder's */
#define LG_OCSP_REFRESH_MIN_S 300  /* a good response is fetched again 5 min at the soonest */
#define LG_OCSP_REFRESH_MAX_S 3600 /* and 1 h at the latest */
#define LG_OCSP_HEAD_MAX      512
#define LG_OCSP_REASON_MAX    256
#define LG_OCSP_STATUS_OFF    9 /* "HTTP/1.x " */
#define LG_SEC_PER_DAY        86400

static const char http_scheme[] = "http://";

/* The first OCSP responder URL of `x`'s AIA that is http (1), else whether one is https. */
static char *ocsp_url(X509 *x, int *https)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(x);
    char *url = NULL;

    *https = 0;
    for (int i = 0; i < sk_OPENSSL_STRING_num(urls) && url == NULL; i++) {
        const char *u = sk_OPENSSL_STRING_value(urls, i);

        if (strncasecmp(u, http_scheme, sizeof(http_scheme) - 1) == 0)
            url = strdup(u);
        else if (strncasecmp(u, "https://", 8) == 0)
            *https = 1;
    }
    X509_email_free(urls);
    return url;
}

int lg_ocsp_target_usable(const lg_tls_cert_t *c)
{
    int https, ok;
    char *url;

    if (sk_X509_num(c->chain) == 0) {
        lg_debug("ocsp: %s: no issuer in the file: nothing to fetch", c->conf->cert);
        return 0;
    }
    url = ocsp_url(c->x509, &https);
    if (url == NULL && https)
        lg_log(LG_LOG_WARN,
               "ocsp: %s: the OCSP responder is https, lifeguard fetches over http "
               "only: not stapled",
               c->conf->cert);
    else if (url == NULL)
        lg_debug("ocsp: %s: no OCSP responder in the certificate", c->conf->cert);
    ok = url != NULL;
    free(url);
    return ok;
}

/* Split tg->url into authority, path and address. */
static int target_url(lg_ocsp_target_t *tg)
{
    const char *a = tg->url + sizeof(http_scheme) - 1, *slash = strchr(a, '/');
    size_t alen = slash != NULL ? (size_t)(slash - a) : strlen(a);
    const char *colon, *bracket, *why;
    char hostport[LG_ADDR_TEXT_MAX];

    tg->authority = strndup(a, alen);
    tg->path = strdup(slash != NULL ? slash : "/");
    if (tg->authority == NULL || tg->path == NULL)
        return LG_ERR;
    colon = strrchr(tg->authority, ':');
    bracket = strrchr(tg->authority, ']');
    if (snprintf(hostport, sizeof(hostport), colon != NULL && colon > bracket ? "%s" : "%s:%d",
                 tg->authority, LG_OCSP_HTTP_PORT) >= (int)sizeof(hostport) ||
        lg_parse_addr(hostport, LG_ADDR_HOSTNAME, &tg->addr, &why) != LG_OK) {
        lg_log(LG_LOG_WARN, "ocsp: %s: OCSP responder \"%s\" is not a usable URL: not stapled",
               tg->name, tg->url);
        return LG_ERR;
    }
    return LG_OK;
}

int lg_ocsp_target_init(lg_ocsp_target_t *tg, const lg_tls_cert_t *c)
{
    int https;

    *tg = (lg_ocsp_target_t){0};
    tg->name = strdup(c->conf->cert);
    tg->url = ocsp_url(c->x509, &https);
    tg->chain = X509_chain_up_ref(c->chain);
    if (tg->name == NULL || tg->url == NULL || tg->chain == NULL) {
        lg_log(LG_LOG_ERR, "ocsp: %s: out of memory: not stapled", c->conf->cert);
        return LG_ERR;
    }
    tg->leaf = c->x509;
    tg->issuer = sk_X509_value(c->chain, 0);
    X509_up_ref(tg->leaf);
    X509_up_ref(tg->issuer);
    return target_url(tg);
}

void lg_ocsp_target_free(lg_ocsp_target_t *tg)
{
    free(tg->name);
    free(tg->url);
    free(tg->authority);
    free(tg->path);
    X509_free(tg->leaf);
    X509_free(tg->issuer);
    sk_X509_pop_free(tg->chain, X509_free);
    *tg = (lg_ocsp_target_t){0};
}

unsigned char *lg_ocsp_request(const lg_ocsp_target_t *tg, size_t *len)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_cert_to_id(NULL, tg->leaf, tg->issuer);
    unsigned char *der = NULL, *out = NULL;
    char head[LG_OCSP_HEAD_MAX + LG_ADDR_TEXT_MAX];
    int dlen = -1, hlen;

    if (req != NULL && id != NULL && OCSP_request_add0_id(req, id) != NULL) {
        id = NULL; /* the request's now */
        dlen = i2d_OCSP_REQUEST(req, &der);
    }
    if (dlen > 0) {
        hlen =
            snprintf(head, sizeof(head),
                     "POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/ocsp-request\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n",
                     strlen(tg->path) < LG_OCSP_HEAD_MAX / 2 ? tg->path : "/", tg->authority, dlen);
        out = malloc((size_t)hlen + (size_t)dlen);
        if (out != NULL) {
            memcpy(out, head, (size_t)hlen);
            memcpy(out + hlen, der, (size_t)dlen);
            *len = (size_t)hlen + (size_t)dlen;
        }
    }
    OPENSSL_free(der);
    OCSP_CERTID_free(id);
    OCSP_REQUEST_free(req);
    return out;
}

/* The body of a complete "200" HTTP/1.x response, or NULL with why not. */
static const unsigned char *http_body(const unsigned char *rsp, size_t len, size_t *blen, char *why,
                                      size_t wlen)
{
    const unsigned char *end = memmem(rsp, len, "\r\n\r\n", 4);
    char head[LG_OCSP_HEAD_MAX * 4];
    size_t hlen;
    const char *cl;

    if (end == NULL || (hlen = (size_t)(end - rsp)) >= sizeof(head) ||
        memcmp(rsp, "HTTP/1.", 7) != 0) {
        snprintf(why, wlen, "not an HTTP response");
        return NULL;
    }
    memcpy(head, rsp, hlen);
    head[hlen] = '\0';
    if (strncmp(head + LG_OCSP_STATUS_OFF, "200", 3) != 0) {
        snprintf(why, wlen, "HTTP status %.3s", head + LG_OCSP_STATUS_OFF);
        return NULL;
    }
    if (strcasestr(head, "\r\ntransfer-encoding:") != NULL) {
        snprintf(why, wlen, "a Transfer-Encoding answer to HTTP/1.0");
        return NULL;
    }
    *blen = len - hlen - 4;
    cl = strcasestr(head, "\r\ncontent-length:");
    if (cl != NULL) {
        cl += strlen("\r\ncontent-length:");
        cl += strspn(cl, " \t");
    }
    if (cl != NULL && strtoull(cl, NULL, 10) != *blen) {
        snprintf(why, wlen, "%zu body bytes where Content-Length says %.*s", *blen,
                 (int)strcspn(cl, "\r"), cl);
        return NULL;
    }
    return end + 4;
}

/* Signed by the issuer, or by a responder certificate the issuer made for OCSP signing. */
static int resp_signed(const lg_ocsp_target_t *tg, OCSP_BASICRESP *basic, char *why, size_t wlen)
{
    X509_STORE *store = X509_STORE_new();
    char reason[LG_OCSP_REASON_MAX];
    int ok;

    /* The issuer is the anchor: the root above it need not be known. */
    ok = store != NULL && X509_STORE_add_cert(store, tg->issuer) == 1 &&
         X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) == 1 &&
         OCSP_basic_verify(basic, tg->chain, store, OCSP_NOEXPLICIT) == 1;
    if (!ok)
        snprintf(why, wlen, "it does not verify against the issuer (OpenSSL: %s)",
                 lg_tls_reason(reason, sizeof(reason)));
    X509_STORE_free(store);
    return ok;
}

/* The status of tg's certificate in `basic`, its times checked, into `r`. */
static int resp_status(const lg_ocsp_target_t *tg, OCSP_BASICRESP *basic, lg_ocsp_result_t *r,
                       char *why, size_t wlen)
{
    OCSP_CERTID *id = OCSP_cert_to_id(NULL, tg->leaf, tg->issuer);
    ASN1_GENERALIZEDTIME *this_upd = NULL, *next_upd = NULL;
    int status = -1, reason, found, day = 0, sec = 0;
    char text[LG_OCSP_REASON_MAX];
    int64_t left;
    struct tm tm;

    found = id != NULL &&
            OCSP_resp_find_status(basic, id, &status, &reason, NULL, &this_upd, &next_upd) == 1;
    OCSP_CERTID_free(id);
    if (!found) {
        snprintf(why, wlen, "the response is not about this certificate");
        return LG_ERR;
    }
    if (OCSP_check_validity(this_upd, next_upd, LG_OCSP_SKEW_S, -1) != 1) {
        snprintf(why, wlen, "thisUpdate or nextUpdate out of range (OpenSSL: %s)",
                 lg_tls_reason(text, sizeof(text)));
        return LG_ERR;
    }
    if (status != V_OCSP_CERTSTATUS_GOOD && status != V_OCSP_CERTSTATUS_REVOKED) {
        snprintf(why, wlen, "certificate status \"%s\"", OCSP_cert_status_str(status));
        return LG_ERR;
    }
    r->revoked = status == V_OCSP_CERTSTATUS_REVOKED;
    snprintf(r->next_update, sizeof(r->next_update), "none");
    left = LG_OCSP_REFRESH_MAX_S * 2;
    if (next_upd != NULL && ASN1_TIME_diff(&day, &sec, NULL, next_upd) == 1 &&
        ASN1_TIME_to_tm(next_upd, &tm) == 1) {
        left = (int64_t)day * LG_SEC_PER_DAY + sec;
        r->expires = (int64_t)time(NULL) + left;
        strftime(r->next_update, sizeof(r->next_update), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    /* Half the validity left, within bounds, but always before it ends. */
    left = LG_MAX(left, 2);
    r->refresh_ms =
        (lg_msec_t)LG_MIN(LG_MAX(left / 2, LG_OCSP_REFRESH_MIN_S), LG_OCSP_REFRESH_MAX_S);
    if ((int64_t)r->refresh_ms >= left)
        r->refresh_ms = (lg_msec_t)(left / 2);
    r->refresh_ms *= 1000;
    return LG_OK;
}

int lg_ocsp_check(const lg_ocsp_target_t *tg, const unsigned char *rsp, size_t len,
                  lg_ocsp_result_t *r, char *why, size_t wlen)
{
    const unsigned char *body;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *basic = NULL;
    char reason[LG_OCSP_REASON_MAX];
    size_t blen;
    int n, rc = LG_ERR;

    *r = (lg_ocsp_result_t){0};
    if ((body = http_body(rsp, len, &blen, why, wlen)) == NULL)
        return LG_ERR;
    resp = d2i_OCSP_RESPONSE(NULL, &body, (long)blen);
    if (resp == NULL)
        snprintf(why, wlen, "not a DER OCSP response (OpenSSL: %s)",
                 lg_tls_reason(reason, sizeof(reason)));
    else if (OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL)
        snprintf(why, wlen, "the responder answered \"%s\"",
                 OCSP_response_status_str(OCSP_response_status(resp)));
    else if ((basic = OCSP_response_get1_basic(resp)) == NULL)
        snprintf(why, wlen, "not a basic OCSP response");
    else if (resp_signed(tg, basic, why, wlen) && resp_status(tg, basic, r, why, wlen) == LG_OK)
        rc = LG_OK;
    if (rc == LG_OK && ((n = i2d_OCSP_RESPONSE(resp, &r->der)) <= 0 || n > LG_OCSP_DER_MAX)) {
        snprintf(why, wlen, "a response of %d bytes (at most %d are kept)", n, LG_OCSP_DER_MAX);
        OPENSSL_free(r->der);
        r->der = NULL;
        rc = LG_ERR;
    }
    if (rc == LG_OK)
        r->len = (size_t)n;
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    return rc;
}
