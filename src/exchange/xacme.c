/*
 * xacme.c - the http-01 challenge (RFC 8555 8.3) on every http listener: GET or HEAD
 * /.well-known/acme-challenge/TOKEN, for a token of a challenge the master has under way
 * (acme.h, lg_acme_http01_find), is answered with the key authorization before routing, so no
 * redirect, access rule or rate limit of a route gets in the CA's way. Any other request, an
 * unknown token included, is routed as usual: a backend may run its own ACME client.
 */
#include "exchange/xint.h"

#include <string.h>

#include "acme/acme.h"

#define LG_ACME_PATH      "/.well-known/acme-challenge/"
#define LG_ACME_PATH_LEN  (sizeof(LG_ACME_PATH) - 1)
#define LG_ACME_CTYPE     "application/octet-stream"
#define LG_ACME_CTYPE_LEN (sizeof(LG_ACME_CTYPE) - 1)

/* A token as ACME servers make them: base64url characters only (RFC 8555 8.3), bounded. */
static int token_ok(const char *t, size_t len)
{
    if (len == 0 || len > LG_ACME_TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

size_t lg_x_acme_find(const lg_req_head_t *rq, char *keyauth)
{
    const char *tok;
    size_t len;

    if (rq->path.len <= LG_ACME_PATH_LEN ||
        memcmp(rq->path.p, LG_ACME_PATH, LG_ACME_PATH_LEN) != 0 ||
        !(lg_span_is(rq->method, "GET") || lg_span_is(rq->method, "HEAD")))
        return 0;
    tok = rq->path.p + LG_ACME_PATH_LEN; /* past the prefix only once the path is longer */
    len = rq->path.len - LG_ACME_PATH_LEN;
    return token_ok(tok, len) ? lg_acme_http01_find(tok, len, keyauth) : 0;
}

void lg_x_acme_reply(lg_exchange_t *x, const char *keyauth, size_t len)
{
    lg_reply_t r = {
        .status = 200, .content_type = {LG_ACME_CTYPE, LG_ACME_CTYPE_LEN}, .body = {keyauth, len}};

    lg_x_reply(x, &r);
}
