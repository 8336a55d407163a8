/*
 * region.c - the shared region of src/acme/acme.h: certificate slots, http-01 tokens and
 * tls-alpn-01 certificates, mapped once by the master before it forks a worker and kept across
 * reloads (as the OCSP staples of src/tls/staple.c).
 *
 * The master alone writes an entry: it makes the entry's sequence counter odd, writes, makes it
 * even again. A reader copies what it needs and retries while the counter was odd or moved, so
 * it never uses half an entry. A certificate slot belongs to one set of names for the life of
 * the master (its key: the SHA-256 of the names sorted, lower case, one per line).
 */
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/evp.h>

#include "acme/acme.h"
#include "core/log.h"
#include "core/seqlock.h"

#define LG_ACME_KEY_LEN 32 /* SHA-256 of a set of names */

typedef struct cert_slot {
    _Atomic uint32_t seq; /* odd while the master writes; 0: never published */
    uint32_t used;        /* the slot belongs to `names` */
    uint32_t said;        /* master only: the seq whose certificate it last logged, +1 */
    unsigned char names[LG_ACME_KEY_LEN];
    uint32_t chain_len, key_len;
    int64_t not_after;
    char chain[LG_ACME_CHAIN_MAX];
    char key[LG_ACME_KEY_MAX];
} cert_slot_t;

typedef struct token_slot {
    _Atomic uint32_t seq;
    uint32_t used;
    uint32_t token_len, keyauth_len;
    char token[LG_ACME_TOKEN_MAX];
    char keyauth[LG_ACME_KEYAUTH_MAX];
} token_slot_t;

typedef struct alpn_slot {
    _Atomic uint32_t seq;
    uint32_t used;
    uint32_t name_len, cert_len, key_len;
    char name[LG_ACME_NAME_MAX];
    unsigned char cert[LG_ACME_ALPN_DER_MAX];
    unsigned char key[LG_ACME_ALPN_DER_MAX];
} alpn_slot_t;

typedef struct region {
    cert_slot_t certs[LG_ACME_CERT_SLOTS];
    token_slot_t tokens[LG_ACME_TOKENS];
    alpn_slot_t alpn[LG_ACME_ALPN_SLOTS];
} region_t;

static region_t *rg;
static int rg_full_said; /* the master said once that the certificate slots are full */

int lg_acme_region_create(void)
{
    void *p;

    if (rg != NULL)
        return LG_OK;
    p = mmap(NULL, sizeof(region_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        lg_log(LG_LOG_ERR, "mmap() of the ACME region failed (%d: %s)", errno, strerror(errno));
        return LG_ERR;
    }
    rg = p;
    return LG_OK;
}

int lg_acme_region_ready(void)
{
    return rg != NULL;
}

/* ---- certificates */

static int name_cmp(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* The key of a set of names: SHA-256 of them sorted, lower case, one per line. */
static int names_key(const char *const *names, size_t n, unsigned char *key)
{
    const char *sorted[LG_ACME_NAMES_MAX];
    EVP_MD_CTX *md;
    unsigned len = 0;
    int ok;

    if (n == 0 || n > LG_ACME_NAMES_MAX || (md = EVP_MD_CTX_new()) == NULL)
        return LG_ERR;
    memcpy(sorted, names, n * sizeof(*names));
    qsort(sorted, n, sizeof(*sorted), name_cmp);
    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        if (i > 0 && strcasecmp(sorted[i], sorted[i - 1]) == 0)
            continue; /* a name twice is the same set */
        for (const char *p = sorted[i]; ok && *p != '\0'; p++) {
            unsigned char c = (unsigned char)tolower((unsigned char)*p);

            ok = EVP_DigestUpdate(md, &c, 1);
        }
        ok = ok && EVP_DigestUpdate(md, "\n", 1);
    }
    ok = ok && EVP_DigestFinal_ex(md, key, &len) && len == LG_ACME_KEY_LEN;
    EVP_MD_CTX_free(md);
    return ok ? LG_OK : LG_ERR;
}

int lg_acme_cert_slot(const char *const *names, size_t n, int create)
{
    unsigned char key[LG_ACME_KEY_LEN];
    int i, free_slot = -1;

    if (rg == NULL || names_key(names, n, key) != LG_OK)
        return -1;
    for (i = 0; i < LG_ACME_CERT_SLOTS; i++) {
        if (rg->certs[i].used && memcmp(rg->certs[i].names, key, sizeof(key)) == 0)
            return i;
        if (!rg->certs[i].used && free_slot < 0)
            free_slot = i;
    }
    if (!create)
        return -1;
    if (free_slot < 0) {
        if (!rg_full_said)
            lg_log(LG_LOG_ERR,
                   "acme: more than %d managed certificates: the others keep their "
                   "placeholder",
                   LG_ACME_CERT_SLOTS);
        rg_full_said = 1;
        return -1;
    }
    memcpy(rg->certs[free_slot].names, key, sizeof(key));
    rg->certs[free_slot].used = 1;
    return free_slot;
}

int lg_acme_cert_publish(int slot, const char *chain, size_t chain_len, const char *key,
                         size_t key_len, int64_t not_after)
{
    cert_slot_t *s;

    if (rg == NULL || slot < 0 || slot >= LG_ACME_CERT_SLOTS)
        return LG_ERR;
    if (chain_len == 0 || chain_len > LG_ACME_CHAIN_MAX || key_len == 0 ||
        key_len > LG_ACME_KEY_MAX) {
        lg_log(LG_LOG_ERR,
               "acme: a certificate of %zu bytes with a key of %zu bytes cannot be "
               "published (at most %d and %d)",
               chain_len, key_len, LG_ACME_CHAIN_MAX, LG_ACME_KEY_MAX);
        return LG_ERR;
    }
    s = &rg->certs[slot];
    lg_seq_write_begin(&s->seq);
    memcpy(s->chain, chain, chain_len);
    memcpy(s->key, key, key_len);
    s->chain_len = (uint32_t)chain_len;
    s->key_len = (uint32_t)key_len;
    s->not_after = not_after;
    lg_seq_write_end(&s->seq);
    return LG_OK;
}

int lg_acme_cert_said(int slot, uint32_t seq)
{
    cert_slot_t *cs;

    if (rg == NULL || slot < 0 || slot >= LG_ACME_CERT_SLOTS)
        return 0;
    cs = &rg->certs[slot];
    if (cs->said == seq + 1)
        return 1;
    cs->said = seq + 1;
    return 0;
}

uint32_t lg_acme_cert_seq(int slot)
{
    uint32_t s;

    if (rg == NULL || slot < 0 || slot >= LG_ACME_CERT_SLOTS)
        return 0;
    s = atomic_load_explicit(&rg->certs[slot].seq, memory_order_acquire);
    return s & ~1u; /* under way: the one before, still whole */
}

int lg_acme_cert_read(int slot, char *chain, size_t *chain_len, char *key, size_t *key_len,
                      uint32_t *seq)
{
    const cert_slot_t *s;
    uint32_t q, clen, klen;

    if (rg == NULL || slot < 0 || slot >= LG_ACME_CERT_SLOTS)
        return LG_ERR;
    s = &rg->certs[slot];
    do {
        q = lg_seq_read_begin(&s->seq);
        clen = LG_MIN(s->chain_len, (uint32_t)LG_ACME_CHAIN_MAX);
        klen = LG_MIN(s->key_len, (uint32_t)LG_ACME_KEY_MAX);
        memcpy(chain, s->chain, clen);
        memcpy(key, s->key, klen);
    } while (!lg_seq_read_ok(&s->seq, q));
    if (q == 0)
        return LG_ERR;
    *chain_len = clen;
    *key_len = klen;
    *seq = q;
    return LG_OK;
}

/* ---- http-01 */

/* The slot holding token[len] (master: no write can be under way), or -1. */
static int token_slot(const char *token, size_t len)
{
    for (int i = 0; i < LG_ACME_TOKENS; i++) {
        const token_slot_t *s = &rg->tokens[i];

        if (s->used && s->token_len == len && memcmp(s->token, token, len) == 0)
            return i;
    }
    return -1;
}

int lg_acme_http01_add(const char *token, const char *keyauth)
{
    size_t tlen = strlen(token), klen = strlen(keyauth);
    token_slot_t *s;
    int i;

    if (rg == NULL || tlen == 0 || tlen > LG_ACME_TOKEN_MAX || klen >= LG_ACME_KEYAUTH_MAX)
        return LG_ERR;
    i = token_slot(token, tlen);
    for (int j = 0; i < 0 && j < LG_ACME_TOKENS; j++)
        if (!rg->tokens[j].used)
            i = j;
    if (i < 0)
        return LG_ERR;
    s = &rg->tokens[i];
    lg_seq_write_begin(&s->seq);
    memcpy(s->token, token, tlen);
    memcpy(s->keyauth, keyauth, klen);
    s->token_len = (uint32_t)tlen;
    s->keyauth_len = (uint32_t)klen;
    s->used = 1;
    lg_seq_write_end(&s->seq);
    return LG_OK;
}

void lg_acme_http01_del(const char *token)
{
    int i = rg != NULL ? token_slot(token, strlen(token)) : -1;

    if (i < 0)
        return;
    lg_seq_write_begin(&rg->tokens[i].seq);
    rg->tokens[i].used = 0;
    lg_seq_write_end(&rg->tokens[i].seq);
}

size_t lg_acme_http01_find(const char *token, size_t len, char *out)
{
    uint32_t q, klen;
    int match;

    if (rg == NULL || len == 0 || len > LG_ACME_TOKEN_MAX)
        return 0;
    for (int i = 0; i < LG_ACME_TOKENS; i++) {
        const token_slot_t *s = &rg->tokens[i];

        do {
            q = lg_seq_read_begin(&s->seq);
            match = s->used && s->token_len == len && memcmp(s->token, token, len) == 0;
            klen = match ? LG_MIN(s->keyauth_len, (uint32_t)LG_ACME_KEYAUTH_MAX - 1) : 0;
            memcpy(out, s->keyauth, klen);
        } while (!lg_seq_read_ok(&s->seq, q));
        if (match) {
            out[klen] = '\0';
            return klen;
        }
    }
    return 0;
}

/* ---- tls-alpn-01 */

static int alpn_slot(const char *name, size_t len)
{
    for (int i = 0; i < LG_ACME_ALPN_SLOTS; i++) {
        const alpn_slot_t *s = &rg->alpn[i];

        if (s->used && s->name_len == len && strncasecmp(s->name, name, len) == 0)
            return i;
    }
    return -1;
}

int lg_acme_alpn01_add(const char *name, const unsigned char *cert, size_t cert_len,
                       const unsigned char *key, size_t key_len)
{
    size_t nlen = strlen(name);
    alpn_slot_t *s;
    int i;

    if (rg == NULL || nlen == 0 || nlen > LG_ACME_NAME_MAX || cert_len == 0 ||
        cert_len > LG_ACME_ALPN_DER_MAX || key_len == 0 || key_len > LG_ACME_ALPN_DER_MAX)
        return LG_ERR;
    i = alpn_slot(name, nlen);
    for (int j = 0; i < 0 && j < LG_ACME_ALPN_SLOTS; j++)
        if (!rg->alpn[j].used)
            i = j;
    if (i < 0)
        return LG_ERR;
    s = &rg->alpn[i];
    lg_seq_write_begin(&s->seq);
    for (size_t k = 0; k < nlen; k++)
        s->name[k] = (char)tolower((unsigned char)name[k]);
    memcpy(s->cert, cert, cert_len);
    memcpy(s->key, key, key_len);
    s->name_len = (uint32_t)nlen;
    s->cert_len = (uint32_t)cert_len;
    s->key_len = (uint32_t)key_len;
    s->used = 1;
    lg_seq_write_end(&s->seq);
    return LG_OK;
}

void lg_acme_alpn01_del(const char *name)
{
    int i = rg != NULL ? alpn_slot(name, strlen(name)) : -1;

    if (i < 0)
        return;
    lg_seq_write_begin(&rg->alpn[i].seq);
    rg->alpn[i].used = 0;
    lg_seq_write_end(&rg->alpn[i].seq);
}

int lg_acme_alpn01_find(const char *name, unsigned char *cert, size_t *cert_len, unsigned char *key,
                        size_t *key_len)
{
    size_t len = name != NULL ? strlen(name) : 0;
    uint32_t q, clen, klen;
    int match;

    if (rg == NULL || len == 0 || len > LG_ACME_NAME_MAX)
        return LG_ERR;
    for (int i = 0; i < LG_ACME_ALPN_SLOTS; i++) {
        const alpn_slot_t *s = &rg->alpn[i];

        do {
            q = lg_seq_read_begin(&s->seq);
            match = s->used && s->name_len == len && strncasecmp(s->name, name, len) == 0;
            clen = match ? LG_MIN(s->cert_len, (uint32_t)LG_ACME_ALPN_DER_MAX) : 0;
            klen = match ? LG_MIN(s->key_len, (uint32_t)LG_ACME_ALPN_DER_MAX) : 0;
            memcpy(cert, s->cert, clen);
            memcpy(key, s->key, klen);
        } while (!lg_seq_read_ok(&s->seq, q));
        if (match) {
            *cert_len = clen;
            *key_len = klen;
            return LG_OK;
        }
    }
    return LG_ERR;
}
