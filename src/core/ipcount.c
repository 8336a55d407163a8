/*
 * ipcount.c - a count per client address in an open-addressing hash table (see ipcount.h).
 */
#include "core/ipcount.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "core/lg.h"

#define LG_IPCOUNT_MIN 64 /* slots of a table that is not empty */

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static size_t home(const lg_ipcount_t *t, lg_ip128_t ip, int v4)
{
    return (size_t)(mix(mix(ip.lo ^ t->seed) ^ ip.hi ^ (uint64_t)v4) & (t->cap - 1));
}

/* The slot of (ip, v4), or the empty slot where it would go. The table must not be full. */
static size_t find(const lg_ipcount_t *t, lg_ip128_t ip, int v4)
{
    size_t i = home(t, ip, v4);

    while (t->slots[i].count != 0 &&
           (t->slots[i].ip.lo != ip.lo || t->slots[i].ip.hi != ip.hi || t->slots[i].v4 != v4))
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* Move every entry into a table of `cap` slots; LG_ERR (table unchanged) without memory. */
static int resize(lg_ipcount_t *t, size_t cap)
{
    lg_ipcount_t nt = {calloc(cap, sizeof(*nt.slots)), cap, t->n, t->seed};

    if (nt.slots == NULL)
        return LG_ERR;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].count != 0)
            nt.slots[find(&nt, t->slots[i].ip, t->slots[i].v4)] = t->slots[i];
    }
    free(t->slots);
    *t = nt;
    return LG_OK;
}

/* A table's first slots: its hash gets a random key (the clock's if the kernel has none). */
static void seed(lg_ipcount_t *t)
{
    struct timespec ts;

    if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) == sizeof(t->seed))
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t->seed = mix((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)t);
}

int lg_ipcount_take(lg_ipcount_t *t, const struct sockaddr *sa, unsigned max)
{
    lg_ip128_t ip;
    size_t i;
    int v4;

    if (lg_ip_key(sa, &ip, &v4) != LG_OK)
        return LG_OK;
    if (t->slots == NULL)
        seed(t);
    if ((t->n + 1) * 2 > t->cap && resize(t, LG_MAX(t->cap * 2, LG_IPCOUNT_MIN)) != LG_OK &&
        t->n + 1 >= t->cap)
        return LG_ERR; /* past half full is only slower; a full table cannot take one more */
    i = find(t, ip, v4);
    if (t->slots[i].count >= max)
        return LG_AGAIN;
    if (t->slots[i].count++ == 0) {
        t->slots[i].ip = ip;
        t->slots[i].v4 = (uint8_t)v4;
        t->n++;
    }
    return LG_OK;
}

/* Empty slot `i`, moving back the entries after it that would no longer be found. */
static void remove_at(lg_ipcount_t *t, size_t i)
{
    size_t mask = t->cap - 1, j = i;

    for (;;) {
        j = (j + 1) & mask;
        if (t->slots[j].count == 0)
            break;
        size_t k = home(t, t->slots[j].ip, t->slots[j].v4);

        /* an entry whose home lies cyclically in (i, j] is still found: leave it */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i].count = 0;
    t->n--;
}

void lg_ipcount_put(lg_ipcount_t *t, const struct sockaddr *sa)
{
    lg_ip128_t ip;
    size_t i;
    int v4;

    if (t->cap == 0 || lg_ip_key(sa, &ip, &v4) != LG_OK)
        return;
    i = find(t, ip, v4);
    if (t->slots[i].count == 0 || --t->slots[i].count != 0)
        return;
    remove_at(t, i);
    if (t->n * 8 < t->cap && t->cap > LG_IPCOUNT_MIN)
        resize(t, t->cap / 2); /* without memory it stays as large: still correct */
}

unsigned lg_ipcount_get(const lg_ipcount_t *t, const struct sockaddr *sa)
{
    lg_ip128_t ip;
    int v4;

    if (t->cap == 0 || lg_ip_key(sa, &ip, &v4) != LG_OK)
        return 0;
    return t->slots[find(t, ip, v4)].count;
}

void lg_ipcount_free(lg_ipcount_t *t)
{
    free(t->slots);
    *t = (lg_ipcount_t){NULL, 0, 0, 0};
}
