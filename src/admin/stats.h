/*
 * stats.h - traffic counters: one slot per worker in the generation's shared memory.
 *
 * Each worker adds to its own slot only (one writer, no lock, no atomic read-modify-write on
 * the request path); the master sums the slots of every worker when /metrics or /status.json
 * is asked for. Counters of a generation that ends are folded into the master's totals, so
 * they never go backwards across reloads.
 */
#ifndef LG_STATS_H
#define LG_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "tls/obs.h"

/* Response time histogram bounds, in milliseconds (the last bucket is +Inf). */
#define LG_HIST_BOUNDS                                                                             \
    {                                                                                              \
        1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000                                   \
    }
#define LG_HIST_N  13 /* 12 bounds + Inf */
#define LG_CLASSES 5  /* 1xx .. 5xx */
#define LG_PROTOS  2  /* requests by protocol: HTTP/1.x, HTTP/2 */

/* Kernel TLS of the connections that tried it (a listener's, or a pool's to its backends). */
typedef struct lg_stats_ktls {
    uint64_t tx, rx;   /* handshakes whose keys the kernel took, per direction */
    uint64_t fallback; /* the kernel refused a direction: user space there */
} lg_stats_ktls_t;

/* Counters of a listener in one worker slot. */
typedef struct lg_stats_listener {
    uint64_t status[LG_PROTOS][LG_CLASSES];
    uint64_t bytes_in, bytes_out;
    uint64_t conns_total;
    uint64_t conns_refused_per_ip;      /* closed at accept: limits.max_connections_per_ip */
    uint64_t conns_refused_untrusted;   /* closed at accept: not in proxy_protocol.trusted */
    uint64_t conns_bad_proxy;           /* closed: PROXY header malformed or not in time */
    uint64_t conns_bad_hello;           /* TLS passthrough: ClientHello malformed, late, cut */
    uint64_t conns_no_route;            /* TLS passthrough: no route takes the hello */
    uint64_t conns_active;              /* a gauge: the slot's writer adds and subtracts */
    uint64_t tls_ok;                    /* handshakes that succeeded (listeners with tls) */
    uint64_t tls_resumed;               /* of those, resumed from a session ticket */
    uint64_t tls_failed[LG_TLS_FAIL_N]; /* handshakes that failed, by reason */
    lg_stats_ktls_t ktls;               /* connections that tried kernel TLS */
    uint64_t h2_streams_active;         /* a gauge: HTTP/2 streams open */
    uint64_t h2_asleep;                 /* a gauge: HTTP/2 sessions asleep (front/h2_sleep.c) */
    uint64_t h2_goaway;                 /* GOAWAY frames sent */
    uint64_t h2_resets_client;          /* RST_STREAM received */
    uint64_t h2_resets_sent;            /* RST_STREAM sent */
} lg_stats_listener_t;

/* Counters of a pool member (a backend address or a DNS slot). */
typedef struct lg_stats_member {
    uint64_t status[LG_CLASSES];
    uint64_t failures; /* connect failures, resets, timeouts, malformed responses */
    uint64_t hist[LG_HIST_N];
    uint64_t time_sum_ms;
} lg_stats_member_t;

typedef struct lg_stats_pool {
    uint64_t retries;
    uint64_t no_backend;     /* 503: nothing usable */
    uint64_t queued;         /* requests that waited for a backend slot (max_connections) */
    uint64_t queue_timeouts; /* of those, 503 after queue.timeout */
    uint64_t queue_full;     /* 503 at once: queue.max requests were waiting */
    lg_stats_ktls_t ktls;    /* pool tls: backend connections that tried kernel TLS */
    uint64_t hist[LG_HIST_N];
    uint64_t time_sum_ms;
} lg_stats_pool_t;

/* The shape of a generation's counters. */
typedef struct lg_stats {
    void *region; /* nworkers slots */
    size_t nworkers, nlisteners, npools, nmembers;
    size_t slot_size;
    size_t *pool_first; /* first member of each pool */
} lg_stats_t;

lg_stats_t *lg_stats_new(const lg_config_t *cf);
void lg_stats_free(lg_stats_t *st);

/* ---- worker side: lg_stats_bind once, then the record functions */
void lg_stats_bind(lg_stats_t *st, unsigned worker);
lg_stats_listener_t *lg_stats_listener(size_t listener);
lg_stats_pool_t *lg_stats_pool(size_t pool);
lg_stats_member_t *lg_stats_member(size_t pool, size_t member);
/*
 * A finished request: `status` 100..599, `ms` from its head to the end of its response, `h2`
 * whether it came over HTTP/2.
 */
void lg_stats_request(size_t listener, size_t pool, size_t member, int status, uint64_t ms, int h2);

static inline void lg_stats_add(uint64_t *c, uint64_t n)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* A connection that tried kernel TLS ended its handshake: the kernel took `tx` and `rx`. */
static inline void lg_stats_ktls(lg_stats_ktls_t *k, int tx, int rx)
{
    lg_stats_add(&k->tx, tx != 0);
    lg_stats_add(&k->rx, rx != 0);
    lg_stats_add(&k->fallback, !tx || !rx);
}

/* ---- master side: the sum over every worker slot */
void lg_stats_sum_listener(const lg_stats_t *st, size_t l, lg_stats_listener_t *out);
void lg_stats_sum_pool(const lg_stats_t *st, size_t p, lg_stats_pool_t *out);
void lg_stats_sum_member(const lg_stats_t *st, size_t p, size_t m, lg_stats_member_t *out);

/* The value below which `q` (0..1) of the histogram's observations fall, in ms (interpolated). */
double lg_hist_quantile(const uint64_t *hist, double q);

#endif
