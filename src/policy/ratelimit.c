/*
 * ratelimit.c - the shared token buckets of a generation (see ratelimit.h).
 */
#include "policy/ratelimit.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "core/log.h"
#include "event/loop.h"
#include "upstream/shm.h"

#define LG_RL_TAT_BITS   48
#define LG_RL_TAT_MASK   ((UINT64_C(1) << LG_RL_TAT_BITS) - 1)
#define LG_RL_CLAIMS     4 /* tries to take a slot for a new key before letting it through */
#define LG_USEC_PER_MSEC UINT64_C(1000)
#define LG_USEC_PER_SEC  UINT64_C(1000000)
#define LG_CACHE_LINE    64

/* ---- SipHash-2-4 (Aumasson and Bernstein), the reference algorithm */

#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_rounds(uint64_t v[4], int n)
{
    for (int i = 0; i < n; i++) {
        v[0] += v[1];
        v[1] = SIP_ROTL(v[1], 13) ^ v[0];
        v[0] = SIP_ROTL(v[0], 32);
        v[2] += v[3];
        v[3] = SIP_ROTL(v[3], 16) ^ v[2];
        v[0] += v[3];
        v[3] = SIP_ROTL(v[3], 21) ^ v[0];
        v[2] += v[1];
        v[1] = SIP_ROTL(v[1], 17) ^ v[2];
        v[2] = SIP_ROTL(v[2], 32);
    }
}

uint64_t lg_siphash(const uint64_t k[2], const void *data, size_t len)
{
    uint64_t v[4] = {k[0] ^ 0x736f6d6570736575ULL, k[1] ^ 0x646f72616e646f6dULL,
                     k[0] ^ 0x6c7967656e657261ULL, k[1] ^ 0x7465646279746573ULL};
    const unsigned char *p = data;
    uint64_t m, last = (uint64_t)len << 56;
    size_t i, full = len & ~(size_t)7;

    for (i = 0; i < full; i += 8) {
        memcpy(&m, p + i, sizeof(m));
        m = le64toh(m);
        v[3] ^= m;
        sip_rounds(v, 2);
        v[0] ^= m;
    }
    for (; i < len; i++)
        last |= (uint64_t)p[i] << (8 * (i - full));
    v[3] ^= last;
    sip_rounds(v, 2);
    v[0] ^= last;
    v[2] ^= 0xff;
    sip_rounds(v, 4);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- the table */

static size_t counters_off(void)
{
    return (sizeof(lg_rl_table_t) + LG_CACHE_LINE - 1) / LG_CACHE_LINE * LG_CACHE_LINE;
}

lg_rl_table_t *lg_rl_map(size_t nroutes)
{
    size_t slots_off = counters_off() + nroutes * sizeof(lg_rl_counter_t);
    size_t size = slots_off + LG_RL_SLOTS * sizeof(lg_rl_slot_t);
    lg_rl_table_t *t = lg_shm_map(size, "rate limit buckets");

    if (t == NULL)
        return NULL;
    if (getrandom(t->sip, sizeof(t->sip), 0) != (ssize_t)sizeof(t->sip)) {
        lg_log(LG_LOG_ERR, "getrandom() of the rate limit hash key failed (%d: %s)", errno,
               strerror(errno));
        munmap(t, size);
        return NULL;
    }
    t->size = size;
    t->epoch = lg_clock_ms();
    t->counters = (lg_rl_counter_t *)(void *)((char *)t + counters_off());
    t->slots = (lg_rl_slot_t *)(void *)((char *)t + slots_off);
    return t;
}

int lg_rl_new(lg_config_t *cf, lg_rl_table_t **out)
{
    size_t n = 0;

    *out = NULL;
    for (size_t l = 0; l < cf->nlisteners; l++)
        for (size_t r = 0; r < cf->listeners[l].nroutes; r++)
            n += cf->listeners[l].routes[r].rate_limit != NULL;
    if (n == 0)
        return LG_OK;
    if ((*out = lg_rl_map(n)) == NULL)
        return LG_ERR;
    n = 0;
    for (size_t l = 0; l < cf->nlisteners; l++) {
        for (size_t r = 0; r < cf->listeners[l].nroutes; r++) {
            lg_rate_limit_conf_t *rl = cf->listeners[l].routes[r].rate_limit;

            if (rl != NULL) {
                rl->table = *out;
                rl->id = n++;
            }
        }
    }
    return LG_OK;
}

void lg_rl_free(lg_rl_table_t *t)
{
    if (t != NULL)
        munmap(t, t->size);
}

uint64_t lg_rl_hash(const lg_rl_table_t *t, size_t id, const void *data, size_t len)
{
    uint64_t k[2] = {t->sip[0] ^ (uint64_t)id, t->sip[1]};
    uint64_t h = lg_siphash(k, data, len);

    return h != 0 ? h : 1;
}

/* ---- buckets */

uint64_t lg_rl_gcra(uint64_t *tat, uint64_t now, uint64_t interval, unsigned burst)
{
    uint64_t next = LG_MAX(*tat, now) + interval;
    uint64_t window = interval * burst;

    if (next - now > window)
        return next - now - window;
    *tat = next;
    return 0;
}

unsigned lg_rl_seconds(uint64_t wait_us)
{
    uint64_t s = (wait_us + LG_USEC_PER_SEC - 1) / LG_USEC_PER_SEC;

    return (unsigned)LG_MIN(LG_MAX(s, UINT64_C(1)), (uint64_t)UINT32_MAX);
}

/* The TAT in a slot's state for key `h`: 0 (a full bucket) when another key wrote it. */
static uint64_t state_tat(uint64_t state, uint64_t h)
{
    return (state >> LG_RL_TAT_BITS) == (h >> LG_RL_TAT_BITS) ? state & LG_RL_TAT_MASK : 0;
}

static uint64_t state_make(uint64_t h, uint64_t tat)
{
    return (h >> LG_RL_TAT_BITS << LG_RL_TAT_BITS) | (tat & LG_RL_TAT_MASK);
}

static uint64_t table_usec(const lg_rl_table_t *t, lg_msec_t now)
{
    return now > t->epoch ? (now - t->epoch) * LG_USEC_PER_MSEC : 0;
}

/*
 * The slot of key `h`: where it is, or one of its window taken for it (the fullest bucket);
 * NULL when other workers kept taking the slots it wanted. Two workers may take two slots for
 * one new key at the same moment: the first in the window is used, the other fills up unused.
 */
static lg_rl_slot_t *slot_of(lg_rl_table_t *t, uint64_t h, uint64_t now)
{
    for (int claim = 0; claim < LG_RL_CLAIMS; claim++) {
        lg_rl_slot_t *victim = NULL;
        uint64_t victim_key = 0, victim_tat = UINT64_MAX;

        for (unsigned i = 0; i < LG_RL_PROBE; i++) {
            lg_rl_slot_t *s = &t->slots[(h + i) & (LG_RL_SLOTS - 1)];
            uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
            uint64_t tat = k == 0 ? 0 : state_tat(atomic_load(&s->state), k);

            if (k == h)
                return s;
            if (tat < victim_tat) {
                victim = s;
                victim_key = k;
                victim_tat = tat;
            }
        }
        if (atomic_compare_exchange_strong(&victim->key, &victim_key, h)) {
            if (victim_tat > now)
                atomic_fetch_add_explicit(&t->evicted, 1, memory_order_relaxed);
            return victim; /* its state is another key's: a full bucket for this one */
        }
    }
    return NULL;
}

uint64_t lg_rl_take(const lg_rate_limit_conf_t *rl, uint64_t h, lg_msec_t now)
{
    uint64_t us = table_usec(rl->table, now), old, tat, wait;
    lg_rl_slot_t *s = slot_of(rl->table, h, us);

    if (s == NULL)
        return 0;
    old = atomic_load(&s->state);
    do {
        tat = state_tat(old, h);
        wait = lg_rl_gcra(&tat, us, rl->interval_us, rl->burst);
        if (wait != 0)
            return wait;
    } while (!atomic_compare_exchange_weak(&s->state, &old, state_make(h, tat)));
    return 0;
}

size_t lg_rl_keys(const lg_rl_table_t *t, lg_msec_t now)
{
    uint64_t us = table_usec(t, now);
    size_t n = 0;

    for (size_t i = 0; i < LG_RL_SLOTS; i++) {
        uint64_t k = atomic_load_explicit(&t->slots[i].key, memory_order_relaxed);

        n += k != 0 &&
             state_tat(atomic_load_explicit(&t->slots[i].state, memory_order_relaxed), k) > us;
    }
    return n;
}
