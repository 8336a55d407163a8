/*
 * staple.c - the OCSP responses fetched by the master (ocsp: auto), in a region it maps once
 * and every worker it forks reads (see ocsp.h).
 *
 * A slot belongs to one leaf certificate (by the SHA-256 of its DER), whatever configuration
 * names it, so a reload finds the responses already fetched. The master alone writes a slot:
 * it makes the sequence counter odd, writes, makes it even again. A reader copies the response
 * and retries while the counter was odd or moved, so it never staples half a response.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/log.h"
#include "core/seqlock.h"
#include "tls/tls-int.h"

typedef struct staple_slot {
    _Atomic uint32_t seq; /* odd while the master writes */
    uint32_t len;         /* bytes of der; 0: nothing to staple */
    int64_t expires;      /* wall clock (s) of the response's nextUpdate; 0: none given */
    unsigned char key[LG_OCSP_KEY_LEN];
    uint32_t used; /* the slot belongs to `key` */
    unsigned char der[LG_OCSP_DER_MAX];
} staple_slot_t;

static staple_slot_t *st_slots;
/* Certificates of loaded configurations on each slot: the master's count, not shared. */
static uint32_t st_users[LG_OCSP_SLOTS];

int lg_tls_staple_create(void)
{
    void *p;

    if (st_slots != NULL)
        return LG_OK;
    p = mmap(NULL, LG_OCSP_SLOTS * sizeof(staple_slot_t), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        lg_log(LG_LOG_ERR, "mmap() of the OCSP responses failed (%d: %s)", errno, strerror(errno));
        return LG_ERR;
    }
    st_slots = p;
    return LG_OK;
}

int lg_tls_staple_ready(void)
{
    return st_slots != NULL;
}

int lg_tls_staple_take(const unsigned char *key, int *fresh)
{
    int i, free_slot = -1, unused = -1;

    for (i = 0; i < LG_OCSP_SLOTS; i++) {
        staple_slot_t *s = &st_slots[i];

        if (s->used && memcmp(s->key, key, LG_OCSP_KEY_LEN) == 0) {
            *fresh = st_users[i]++ == 0;
            return i;
        }
        if (!s->used && free_slot < 0)
            free_slot = i;
        if (s->used && st_users[i] == 0 && unused < 0)
            unused = i;
    }
    /* A certificate no configuration names any more gives its slot up. */
    i = free_slot >= 0 ? free_slot : unused;
    if (i < 0)
        return -1;
    lg_tls_staple_write(i, NULL, 0, 0);
    memcpy(st_slots[i].key, key, LG_OCSP_KEY_LEN);
    st_slots[i].used = 1;
    st_users[i] = 1;
    *fresh = 1;
    return i;
}

int lg_tls_staple_drop(int i)
{
    return --st_users[i] == 0;
}

void lg_tls_staple_write(int i, const unsigned char *der, size_t len, int64_t expires)
{
    staple_slot_t *s = &st_slots[i];

    lg_seq_write_begin(&s->seq);
    if (len > 0)
        memcpy(s->der, der, len);
    s->len = (uint32_t)len;
    s->expires = expires;
    lg_seq_write_end(&s->seq);
}

int64_t lg_tls_staple_expires(int i)
{
    return st_slots[i].len > 0 ? st_slots[i].expires : -1;
}

size_t lg_tls_staple_read(int i, unsigned char *buf)
{
    const staple_slot_t *s = &st_slots[i];
    uint32_t seq, len;
    int64_t expires;

    do {
        seq = lg_seq_read_begin(&s->seq);
        len = s->len;
        expires = s->expires;
        if (len <= LG_OCSP_DER_MAX)
            memcpy(buf, s->der, len);
    } while (!lg_seq_read_ok(&s->seq, seq));
    if (len > LG_OCSP_DER_MAX || (expires != 0 && expires <= (int64_t)time(NULL)))
        return 0;
    return len;
}
