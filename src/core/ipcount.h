/*
 * ipcount.h - a count per client address (a worker's open connections by address, for
 * limits.max_connections_per_ip).
 *
 * An open-addressing hash table (linear probing, backward-shift deletion: no tombstones) whose
 * entries are removed when their count drops to 0, so it holds one entry per address that has a
 * connection open: at most as many as the worker's connections. It grows at half full and
 * shrinks at an eighth, so its memory follows the number of addresses (24 bytes an entry, at
 * most about four times that per address). The hash is keyed by a random seed per table: a
 * client that picks its addresses (an IPv6 /64 holds many) cannot aim them at one chain.
 *
 * An IPv4 client and the same client seen through an IPv6 socket (::ffff:a.b.c.d) are one
 * address; IPv6 addresses count one by one (no grouping by /64).
 */
#ifndef LG_IPCOUNT_H
#define LG_IPCOUNT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/cidr.h"

typedef struct lg_ipcount_slot {
    lg_ip128_t ip;
    uint32_t count; /* 0: the slot is empty */
    uint8_t v4;
} lg_ipcount_slot_t;

/* All zero is an empty table, which allocates (and draws its hash key) at its first address. */
typedef struct lg_ipcount {
    lg_ipcount_slot_t *slots; /* NULL until the first address */
    size_t cap;               /* a power of two, or 0 */
    size_t n;                 /* addresses held */
    uint64_t seed;            /* the hash's random key */
} lg_ipcount_t;

/*
 * One more for the address of `sa`, unless it already has `max`: LG_OK (counted; also for an
 * address that is not IP, which is never counted), LG_AGAIN (at `max`: not counted), LG_ERR (out
 * of memory: not counted).
 */
int lg_ipcount_take(lg_ipcount_t *t, const struct sockaddr *sa, unsigned max);

/* One less for the address of `sa` (counted by lg_ipcount_take); its entry goes at 0. */
void lg_ipcount_put(lg_ipcount_t *t, const struct sockaddr *sa);

/* The count of the address of `sa` (0 when it has no entry). */
unsigned lg_ipcount_get(const lg_ipcount_t *t, const struct sockaddr *sa);

/* Give back its memory: the table is empty again. */
void lg_ipcount_free(lg_ipcount_t *t);

#endif
