/*
 * ticket.c - session ticket keys in a region the master maps once (see ticket.h), their
 * rotation, and the ticket key callback that workers run.
 *
 * A slot is written by the master only; a writer makes its sequence counter odd, writes, makes
 * it even again. A reader copies the keys and retries while the counter was odd or moved.
 */
#include "tls/ticket.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "core/seqlock.h"
#include "event/loop.h"
#include "tls/tls-int.h"

#define LG_TICKET_KEYS     3 /* the newest encrypts; all three decrypt */
#define LG_TICKET_NAME_LEN 16
#define LG_TICKET_AES_LEN  32
#define LG_TICKET_HMAC_LEN 32
#define LG_TICKET_TICK_MS  1000 /* how often the master looks for a slot to rotate */
#define LG_TICKET_NAME_MAX 64   /* listener names are at most this long */

typedef struct ticket_key {
    unsigned char name[LG_TICKET_NAME_LEN];
    unsigned char aes[LG_TICKET_AES_LEN];
    unsigned char hmac[LG_TICKET_HMAC_LEN];
} ticket_key_t;

typedef struct ticket_slot {
    _Atomic uint32_t seq; /* odd while the master writes */
    uint32_t used;
    char listener[LG_TICKET_NAME_MAX + 1];
    lg_msec_t rotation;
    lg_msec_t rotated_at; /* lg_clock_ms() of the newest key */
    uint32_t newest;      /* index in keys */
    ticket_key_t keys[LG_TICKET_KEYS];
} ticket_slot_t;

/* The master's region, inherited by every worker it forks. */
static ticket_slot_t *tk_slots;
static lg_timerq_t tk_q;
static lg_timer_t tk_timer;

static int tk_random(void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t r = getrandom(p, len, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            lg_log(LG_LOG_ERR, "getrandom() failed (%d: %s)", errno, strerror(errno));
            return LG_ERR;
        }
        p += r;
        len -= (size_t)r;
    }
    return LG_OK;
}

/* Write key `k` of slot `s` (and make it the newest when `newest`), under the counter. */
static void tk_write(ticket_slot_t *s, uint32_t k, int newest, lg_msec_t now)
{
    ticket_key_t key;

    if (tk_random(&key, sizeof(key)) != LG_OK)
        return; /* the old keys stay: resumption keeps working */
    lg_seq_write_begin(&s->seq);
    s->keys[k] = key;
    if (newest) {
        s->newest = k;
        s->rotated_at = now;
    }
    lg_seq_write_end(&s->seq);
    OPENSSL_cleanse(&key, sizeof(key));
}

int lg_tls_tickets_create(void)
{
    void *p;

    if (tk_slots != NULL)
        return LG_OK;
    p = mmap(NULL, LG_TLS_TICKET_SLOTS * sizeof(ticket_slot_t), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        lg_log(LG_LOG_ERR, "mmap() of the session ticket keys failed (%d: %s)", errno,
               strerror(errno));
        return LG_ERR;
    }
    /* Never in a core dump. */
    madvise(p, LG_TLS_TICKET_SLOTS * sizeof(ticket_slot_t), MADV_DONTDUMP);
    tk_slots = p;
    return LG_OK;
}

/* The slot of listener `name` (made, with fresh keys, when it has none yet); -1 when full. */
static int tk_slot(const char *name, lg_msec_t rotation)
{
    lg_msec_t now = lg_clock_ms();
    int i, free_slot = -1;

    for (i = 0; i < LG_TLS_TICKET_SLOTS; i++) {
        if (tk_slots[i].used && strcmp(tk_slots[i].listener, name) == 0) {
            tk_slots[i].rotation = rotation;
            return i;
        }
        if (!tk_slots[i].used && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0) {
        lg_log(LG_LOG_WARN,
               "listener %s: no session ticket slot left (%d listener names used): its sessions "
               "are not resumed",
               name, LG_TLS_TICKET_SLOTS);
        return -1;
    }
    ticket_slot_t *s = &tk_slots[free_slot];

    snprintf(s->listener, sizeof(s->listener), "%s", name);
    s->rotation = rotation;
    for (uint32_t k = 0; k < LG_TICKET_KEYS; k++)
        tk_write(s, k, k == 0, now);
    s->used = 1;
    return free_slot;
}

/* A consistent copy of slot `i`'s keys. */
static void tk_read(int i, ticket_key_t *keys, uint32_t *newest)
{
    const ticket_slot_t *s = &tk_slots[i];
    uint32_t seq;

    do {
        seq = lg_seq_read_begin(&s->seq);
        memcpy(keys, s->keys, sizeof(s->keys));
        *newest = s->newest;
    } while (!lg_seq_read_ok(&s->seq, seq));
}

static int tk_set_keys(EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, const ticket_key_t *k,
                       unsigned char *iv, int enc)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    if (!EVP_MAC_CTX_set_params(hctx, params))
        return -1;
    if (!EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv, enc))
        return -1;
    return 0;
}

/*
 * OpenSSL's ticket key callback: encrypt with the newest key (1), decrypt with any of the three
 * (2: a fresh ticket is sent; 1 only for TLS 1.2 with the newest key, whose ticket stays good),
 * or 0 for an unknown key (a full handshake). TLS 1.3 clients use a ticket once (RFC 8446
 * C.4, as browsers do), so a resumed TLS 1.3 connection always gets a new one: without it
 * such a client would resume only every other time.
 */
static int tk_callback(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
                       EVP_MAC_CTX *hctx, int enc)
{
    const lg_tls_ctx_t *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    ticket_key_t keys[LG_TICKET_KEYS];
    uint32_t newest, k;
    int rc = 0;

    if (t == NULL || t->ticket_slot < 0 || tk_slots == NULL)
        return 0;
    tk_read(t->ticket_slot, keys, &newest);
    if (enc) {
        memcpy(name, keys[newest].name, LG_TICKET_NAME_LEN);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) == 1 &&
            tk_set_keys(cctx, hctx, &keys[newest], iv, 1) == 0)
            rc = 1;
        else
            rc = -1;
    } else {
        for (k = 0; k < LG_TICKET_KEYS; k++) {
            if (memcmp(name, keys[k].name, LG_TICKET_NAME_LEN) != 0)
                continue;
            if (tk_set_keys(cctx, hctx, &keys[k], iv, 0) != 0)
                rc = -1;
            else
                rc = k == newest && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
            break;
        }
    }
    OPENSSL_cleanse(keys, sizeof(keys));
    return rc;
}

void lg_tls_tickets_attach(lg_tls_ctx_t *t)
{
    const lg_tls_conf_t *tc = t->l->tls;

    if (!tc->session_tickets)
        return;
    SSL_CTX_set_tlsext_ticket_key_evp_cb(t->ssl, tk_callback);
    if (tk_slots != NULL)
        t->ticket_slot = tk_slot(t->l->name, tc->ticket_key_rotation);
}

void lg_tls_tickets_rotate(lg_msec_t now)
{
    for (int i = 0; tk_slots != NULL && i < LG_TLS_TICKET_SLOTS; i++) {
        ticket_slot_t *s = &tk_slots[i];

        if (s->used && now - s->rotated_at >= s->rotation)
            tk_write(s, (s->newest + 1) % LG_TICKET_KEYS, 1, now);
    }
}

static void tk_tick(lg_timer_t *t)
{
    lg_tls_tickets_rotate(lg_now);
    lg_timer_set(&tk_q, t);
}

int lg_tls_tickets_start(lg_config_t *cf)
{
    if (lg_tls_tickets_create() != LG_OK)
        return LG_ERR;
    for (size_t i = 0; i < cf->nlisteners; i++)
        if (cf->listeners[i].tls != NULL && cf->listeners[i].tls->ctx != NULL)
            lg_tls_tickets_attach(cf->listeners[i].tls->ctx);
    if (!lg_timerq_ready(&tk_q) && lg_timerq_init(&tk_q, LG_TICKET_TICK_MS) != LG_OK)
        return LG_ERR;
    tk_timer.handler = tk_tick;
    if (!lg_timer_armed(&tk_timer))
        lg_timer_set(&tk_q, &tk_timer);
    return LG_OK;
}
