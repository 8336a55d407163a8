/*
 * sticky.c - the sticky cookie's ids, what a request's cookie names and the Set-Cookie value
 * (see sticky.h).
 */
#include "upstream/sticky.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "core/fmt.h"
#include "core/net.h"
#include "core/log.h"

#define LG_STICKY_ID_BYTES (LG_STICKY_ID_LEN / 2)
#define LG_MSEC_PER_SEC    1000
/* "pool/member": a pool name (64 bytes at most) and lg_backend_name(), with room */
#define LG_STICKY_DATA_MAX (128 + LG_ADDR_TEXT_MAX + LG_ADDR_STRLEN)

const char *lg_sticky_id(lg_backend_t *be)
{
    static const char hex[] = "0123456789abcdef";
    unsigned seq = atomic_load_explicit(&be->state->addr_seq, memory_order_acquire) + 1;
    /* pool names have no '/': "pool/address" names one member of one pool unambiguously */
    char data[LG_STICKY_DATA_MAX];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (be->sticky_seq == seq)
        return be->sticky_id;
    if (lg_format(data, sizeof(data), "%s/%s", be->pool->conf->name, lg_backend_name(be)) !=
            LG_OK ||
        HMAC(EVP_sha256(), be->pool->ups->secret, LG_SHM_SECRET_LEN, (const unsigned char *)data,
             strlen(data), md, &mdlen) == NULL ||
        mdlen < LG_STICKY_ID_BYTES) {
        /* never seen with a working libcrypto: the id then matches no cookie (all x's) */
        lg_log(LG_LOG_ERR, "HMAC() for the sticky id of %s failed", data);
        memset(be->sticky_id, 'x', LG_STICKY_ID_LEN);
        be->sticky_id[LG_STICKY_ID_LEN] = '\0';
        return be->sticky_id;
    }
    for (size_t i = 0; i < LG_STICKY_ID_BYTES; i++) {
        be->sticky_id[2 * i] = hex[md[i] >> 4];
        be->sticky_id[2 * i + 1] = hex[md[i] & 0xf];
    }
    be->sticky_id[LG_STICKY_ID_LEN] = '\0';
    be->sticky_seq = seq;
    return be->sticky_id;
}

/* Exactly LG_STICKY_ID_LEN lower-case hex digits: the only values worth comparing. */
static int id_valid(lg_span_t v)
{
    if (v.len != LG_STICKY_ID_LEN)
        return 0;
    for (size_t i = 0; i < v.len; i++)
        if (!((v.p[i] >= '0' && v.p[i] <= '9') || (v.p[i] >= 'a' && v.p[i] <= 'f')))
            return 0;
    return 1;
}

lg_backend_t *lg_sticky_find(lg_pool_t *pool, const lg_req_head_t *rq)
{
    lg_span_t v;

    if (pool->conf->sticky.cookie == NULL)
        return NULL;
    v = lg_req_head_cookie(rq, pool->conf->sticky.cookie);
    if (!id_valid(v))
        return NULL;
    for (size_t i = 0; i < pool->nbackends; i++)
        if (memcmp(lg_sticky_id(&pool->backends[i]), v.p, LG_STICKY_ID_LEN) == 0)
            return &pool->backends[i];
    return NULL;
}

lg_span_t lg_sticky_set_cookie(lg_backend_t *served, const lg_backend_t *named, int tls, char *buf,
                               size_t cap)
{
    static const char *const samesite[] = {"Lax", "Strict", "None"};
    const lg_sticky_conf_t *sc = &served->pool->conf->sticky;
    lg_span_t none = {buf, 0};
    char age[32] = "";

    if (sc->cookie == NULL || served == named)
        return none;
    /* Max-Age=0 would delete the cookie: a max_age under a second is one second */
    if (sc->max_age != 0 &&
        lg_format(age, sizeof(age), "; Max-Age=%llu",
                  (unsigned long long)LG_MAX(sc->max_age / LG_MSEC_PER_SEC, (lg_msec_t)1)) != LG_OK)
        return none;
    if (lg_format(buf, cap, "%s=%s; Path=%s%s%s; SameSite=%s%s", sc->cookie, lg_sticky_id(served),
                  sc->path, age, sc->httponly ? "; HttpOnly" : "", samesite[sc->samesite],
                  tls ? "; Secure" : "") != LG_OK) {
        lg_log(LG_LOG_ERR, "pool %s: the sticky cookie does not fit in %zu bytes",
               served->pool->conf->name, cap);
        return none;
    }
    return (lg_span_t){buf, strlen(buf)};
}
