/*
 * upstream.h - a worker's view of the backend pools: round-robin choice, non-blocking connects
 * and the keep-alive pool of idle upstream connections.
 */
#ifndef LG_UPSTREAM_H
#define LG_UPSTREAM_H

#include <stddef.h>

#include "config/config.h"
#include "event/loop.h"
#include "stream/stream.h"
#include "upstream/ppout.h"
#include "upstream/shm.h"

#define LG_STICKY_ID_LEN 16 /* hex digits of a sticky cookie's value */

typedef struct lg_backend lg_backend_t;
typedef struct lg_pool lg_pool_t;
typedef struct lg_upconn lg_upconn_t;
typedef struct lg_upstreams lg_upstreams_t;
typedef struct lg_qentry lg_qentry_t;

/*
 * A request waiting in its pool's queue for a backend slot (upstream/queue.h), embedded in the
 * exchange. The queue calls `dispatch` once it holds a slot of `be` for the request, or
 * `expire` when queue.timeout went by; either way the entry has left the queue.
 */
struct lg_qentry {
    lg_qentry_t *prev, *next; /* in the pool's FIFO; NULL when not waiting */
    lg_pool_t *pool;
    uint64_t ticket; /* its place among the requests waiting in every worker */
    uint64_t key;    /* balance: hash key of the request */
    lg_msec_t deadline;
    void (*dispatch)(lg_qentry_t *e, lg_backend_t *be);
    void (*expire)(lg_qentry_t *e);
};

/*
 * A connection to a backend (a stream): in use by one exchange, which times it, or idle in its
 * backend's pool.
 */
struct lg_upconn {
    lg_stream_t s;
    lg_timer_t timer; /* idle timeout, while pooled */
    lg_backend_t *be;
    void *owner;              /* the exchange using it; NULL while idle */
    lg_upconn_t *prev, *next; /* idle list of the backend */
    lg_posted_t posted;       /* frees it after the batch once closed */
    unsigned requests;        /* exchanges completed on it */
    unsigned addr_seq;        /* the address version of its member when it connected */
    unsigned connecting : 1;
    uint8_t pp[LG_PPOUT_MAX]; /* its PROXY header (proxy_protocol), written before the request */
    uint16_t pp_off, pp_len;  /* pool tls: pp[pp_off..pp_len) still to go in clear (uptls.c) */
};

/* A pool member: a backend written as an address, or one DNS slot of a host name. */
struct lg_backend {
    const lg_backend_conf_t *conf;
    lg_pool_t *pool;
    lg_be_state_t *state; /* shared with the master and the other workers */
    lg_upconn_t idle;     /* sentinel: most recently used first */
    unsigned nidle;
    atomic_uint *held;   /* slots this worker holds on it (qshm.h); NULL: pool not limited */
    unsigned sticky_seq; /* addr_seq sticky_id was made for, +1 (0: none yet) */
    char sticky_id[LG_STICKY_ID_LEN + 1]; /* its sticky cookie value (sticky.c) */
    struct ssl_session_st *tls_session;   /* pool tls: the last session, resumed next (uptls.c) */
};

struct lg_pool {
    const lg_pool_conf_t *conf;
    lg_upstreams_t *ups;
    size_t index; /* in the configuration, for the counters */
    lg_backend_t *backends;
    size_t nbackends;
    struct lg_bal *bal; /* the pool's balancer (balance.h) */
    /* the queue (queue.c), when a backend has max_connections */
    lg_qpool_t *q;       /* shared by every worker; NULL: the pool never queues */
    lg_qentry_t waiting; /* sentinel of this worker's FIFO */
    lg_posted_t kick;    /* look for a free slot after this batch */
    lg_msec_t q_timeout; /* queue.timeout, or timeouts.connect */
};

/* A worker's pools, and the timer queue of their idle connections. */
struct lg_upstreams {
    const unsigned char *secret; /* the key of sticky ids (lg_shm_t.secret) */
    lg_pool_t *pools;
    size_t npools;
    lg_timerq_t *idle_q; /* timeouts.upstream_idle */
    /* backend queues (queue.c); q NULL when no backend has max_connections */
    lg_qshm_t *q;
    size_t worker;      /* this worker's index in q */
    lg_io_t wake;       /* q->efd[worker]: a slot may have freed in another worker */
    lg_timerq_t tick_q; /* while requests wait: timeouts, and a look at the queue */
    lg_timer_t tick;
    unsigned nwaiting; /* requests waiting in this worker, every pool */
};

/*
 * Build the runtime pools of `cf` for this worker into `ups`; backend state lives in `shm`;
 * idle connections time out on `idle_q`.
 */
int lg_upstream_init(lg_upstreams_t *ups, const lg_config_t *cf, lg_shm_t *shm,
                     lg_timerq_t *idle_q);
lg_pool_t *lg_upstream_pool(lg_upstreams_t *ups, size_t index);

/*
 * The backend of `pool` the balancer chooses among the usable ones (up, not ejected), avoiding
 * `avoid` (may be NULL) when there is another; NULL when none is usable. `key` is the request's
 * hash for balance: hash (lg_bal_hash of the hash_key, or LG_BAL_NO_KEY when the request has
 * none: round robin), ignored otherwise.
 */
lg_backend_t *lg_upstream_pick(lg_pool_t *pool, const lg_backend_t *avoid, uint64_t key);
/*
 * Whether `be` may take a request now without the balancer (a sticky cookie names it): usable
 * with a free slot (max_connections), and not a backup while a primary is up.
 */
int lg_upstream_eligible(lg_backend_t *be);

/*
 * How logs name a member: its address, or "app:8000 (10.0.0.3:8000)" for a DNS member. The
 * text lives in a static buffer until the next call.
 */
const char *lg_backend_name(const lg_backend_t *be);

/*
 * Like lg_upstream_pick, among the backends with a free slot (active below max_connections),
 * and take the slot: the backend, whose active count now includes the caller, or NULL when no
 * usable backend has room. Never more than max_connections, even with workers racing.
 */
lg_backend_t *lg_upstream_take(lg_pool_t *pool, const lg_backend_t *avoid, uint64_t key);
/*
 * One more exchange on `be`, unless that would pass its max_connections: a compare-and-swap, so
 * that two workers racing for the last slot never both get it. 1 taken, 0 when it is full.
 */
int lg_backend_take(lg_backend_t *be);
/* Some backend of `pool` is usable (up, not ejected), whether it has room or not. */
int lg_upstream_usable(lg_pool_t *pool);
/* An exchange stops using `be` (taken by lg_upstream_take): waiting requests may get it. */
void lg_backend_release(lg_backend_t *be);
/*
 * Passive health: a connect failure, reset or timeout, or a good response. `fall` failures in
 * a row eject the backend for a cooldown that doubles at each ejection (from 5 s up to 5 min);
 * with active checks it returns only after a check passes once the cooldown is over.
 */
void lg_backend_failed(lg_backend_t *be, const char *why);
void lg_backend_ok(lg_backend_t *be);

/*
 * A connection to `be` for `owner`: an idle pooled one (*reused = 1) or a new non-blocking
 * connect (connecting set until the socket is writable). `handler` receives its events.
 * Returns NULL when the socket cannot even be created (errno kept), or with errno EDESTADDRREQ
 * when the member has no address any more (DNS removed it since the member was picked).
 */
lg_upconn_t *lg_upconn_get(lg_backend_t *be, void *owner, lg_io_handler_t handler, int *reused);
/*
 * Finish a pending connect, and the TLS handshake of a pool with `tls`: LG_OK, LG_AGAIN while
 * either waits for readiness, or LG_ERR (lg_upconn_failure in uptls.h says what failed; errno
 * the connect error).
 */
int lg_upconn_connected(lg_upconn_t *u);
/* Return a clean connection to its backend's idle pool (or close it when the pool is full). */
void lg_upconn_release(lg_upconn_t *u);
/* Close the socket now; the struct is freed after the current batch. */
void lg_upconn_close(lg_upconn_t *u);
/*
 * The client of the exchange using `u` left after the whole request reached the backend, which
 * works on it still: keep the connection, and the slot of u->be the exchange held, until the
 * backend answers (a byte), closes, or the timeout of `q` goes by; then close it and release
 * the slot. A backend's max_connections so counts what it really does (HAProxy's default).
 */
void lg_upconn_linger(lg_upconn_t *u, lg_timerq_t *q);

/* Close every idle pooled connection (a draining worker keeps none). */
void lg_upstream_close_idle(lg_upstreams_t *ups);

#endif
