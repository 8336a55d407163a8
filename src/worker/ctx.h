/*
 * ctx.h - the state of one worker, passed to every layer of its data path.
 *
 * Nothing of a worker's data path lives in file statics: configuration, the draining flag,
 * timer queues, free lists and the pools are here, reached from each object (a connection
 * through its listener, an exchange directly). The event loop and the buffer and pipe free
 * lists are the process's own (one loop per process, like nginx's posted queues); counters
 * go to the worker's slot bound by lg_stats_bind.
 */
#ifndef LG_CTX_H
#define LG_CTX_H

#include <stdint.h>

#include "config/config.h"
#include "core/freelist.h"
#include "core/ipcount.h"
#include "event/loop.h"
#include "upstream/shm.h"
#include "upstream/upstream.h"
#include "worker/rqueues.h"

typedef struct lg_listener lg_listener_t;

/* The fronts whose connections a worker keeps free lists of (front/conn.h). */
enum { LG_FRONT_H1, LG_FRONT_TCP, LG_FRONT_KINDS };

/* The timer queues of the data path: each is one duration (loop.h). */
typedef struct lg_worker_queues {
    lg_timerq_t client_header; /* a request head must arrive (new connection too) */
    lg_timerq_t client_body;   /* the client's request body stalls */
    lg_timerq_t client_idle;   /* keep-alive idle, and our own replies */
    lg_timerq_t linger;        /* lingering close */
    lg_timerq_t connect;       /* backend connects */
    lg_timerq_t upstream;      /* upstream_response: response head, and relays that stall */
    lg_timerq_t tunnel;        /* an idle tcp relay or upgraded connection */
    lg_timerq_t upstream_idle; /* pooled backend connections */
    lg_timerq_t accept_retry;  /* accept after EMFILE/ENFILE */
    lg_timerq_t trim;          /* give memory back after a burst */
} lg_worker_queues_t;

typedef struct lg_worker {
    const lg_config_t *conf;
    unsigned id; /* index among the generation's workers (set before lg_worker_init) */
    lg_worker_queues_t q;
    lg_route_queues_t rq; /* the routes' own connect and upstream_response timeouts */
    lg_upstreams_t ups;
    lg_listener_t *listeners;
    size_t nlisteners;
    lg_listener_t *paused; /* listeners waiting for a connection slot (max_connections) */
    unsigned nconns;       /* client connections open */
    lg_ipcount_t per_ip;   /* of those, by client address (limits.max_connections_per_ip) */
    struct {
        lg_msec_t at;   /* when a refusal at accept was last logged (front/perip.h) */
        uint64_t quiet; /* refusals since, not logged (one line a second at most) */
    } per_ip_log;
    lg_freelist_t free_conns[LG_FRONT_KINDS];
    lg_freelist_t free_h1_txns;
    lg_freelist_t free_h2_streams;
    struct h2_sess *h2_sessions; /* HTTP/2 connections (front/h2.h), told when a drain begins */
    lg_timer_t trim_timer;
    uint64_t rid_state;    /* X-Request-Id generator */
    unsigned draining : 1; /* reload or graceful stop: no new requests on old connections */
    unsigned released : 1; /* memory went back to malloc since the last trim */
} lg_worker_t;

/*
 * Set up `w` for `cf`: buffers, pipes, timer queues, free lists, the access log and the pools
 * (backend state in `shm`). LG_ERR when it cannot (logged).
 */
int lg_worker_init(lg_worker_t *w, const lg_config_t *cf, lg_shm_t *shm);

/*
 * Start accepting on the listening sockets `fds` (one per configured listener, inherited from
 * the master).
 */
int lg_worker_listen(lg_worker_t *w, const int *fds);

/*
 * Drain: stop accepting, close idle upstream connections, send GOAWAY on HTTP/2 connections, answer
 * the next response of every client connection with "Connection: close" and close it after; the
 * loop stops once no client connection is left. Returns the number still open.
 */
unsigned lg_worker_drain(lg_worker_t *w);

/* A connection slot came free or is taken (max_connections, stopping when drained). */
void lg_worker_conn_opened(lg_worker_t *w);
void lg_worker_conn_closed(lg_worker_t *w);

#endif
