/*
 * exchange.h - one request and its response, whatever front carried the request.
 *
 * A front (front/h1.c for HTTP/1.1, front/h2*.c for HTTP/2 streams, front/tcp.c for relays)
 * makes an exchange for each request and hands it the scanned request head. The exchange routes it,
 * picks a backend, holds the upstream connection, writes the rebuilt head and relays both
 * bodies with two pumps (splice when both streams can, copy otherwise), retrying another backend
 * when that is safe. It ends through ONE exit, exchange_end(), which tells the front how it
 * ended (lg_xend_t); it never closes the client's connection: that is the front's call.
 *
 * The client side of the bodies is a stream the front gives (x->client) and the buffer where
 * client bytes wait (*x->cin). For HTTP/1.1 that is the connection itself, so bodies move from
 * socket to socket. An HTTP/2 stream gives its own view (front/h2.h): readiness bits cleared
 * while no DATA waits or its response buffer is full, and lg_exchange_run() called again when
 * that changes.
 *
 * Memory: the front embeds the exchange in its own per-request struct and owns it; after the end
 * the front calls lg_exchange_release() once (which counts and logs the request) and frees it.
 */
#ifndef LG_EXCHANGE_H
#define LG_EXCHANGE_H

#include <llhttp.h>
#include <stdint.h>

#include "core/buf.h"
#include "exchange/pump.h"
#include "http/errpage.h"
#include "http/head.h"
#include "http/rules.h"
#include "stream/stream.h"
#include "upstream/upstream.h"
#include "worker/ctx.h"

#define LG_RID_MAX  (LG_REQUEST_ID_MAX + 1) /* an X-Request-Id and its NUL */
#define LG_LOGS_MAX 1024                    /* request fields kept for the access log */

typedef struct lg_exchange lg_exchange_t;

/* What an exchange's timer measures. */
enum {
    LG_XT_CONNECT,  /* timeouts.connect */
    LG_XT_BODY,     /* timeouts.client_body: the client sends a body the backend takes */
    LG_XT_UPSTREAM, /* timeouts.upstream_response: the response head, or a stalled relay */
    LG_XT_TUNNEL,   /* timeouts.tunnel: a tcp relay or an upgraded connection, idle */
};

/*
 * How a tunnel ended (x->why), for the access line of a tcp connection: the first side to close
 * is the cause, a timeout overrides it.
 */
enum {
    LG_XWHY_NONE,    /* no cause noted: a relay ends so only when no backend is usable */
    LG_XWHY_CLIENT,  /* the client closed (FIN) or reset first */
    LG_XWHY_BACKEND, /* the backend closed (FIN) or reset first */
    LG_XWHY_TIMEOUT, /* timeouts.tunnel went by without a byte either way */
    LG_XWHY_CONNECT, /* no connection to a backend could be made */
};

typedef enum lg_xend_how {
    LG_XEND_DONE,  /* the response went out whole (a tunnel: both ways closed) */
    LG_XEND_REPLY, /* no response byte reached the client: the front writes `reply` */
    LG_XEND_CLOSE, /* the client side must be cut: response cut short, client gone, tunnel failed */
} lg_xend_how_t;

typedef struct lg_xend {
    lg_xend_how_t how;
    const lg_reply_t *reply; /* REPLY: what to answer (valid during the call to `ended`) */
} lg_xend_t;

/* A response head for the front to pass on to its client. */
typedef struct lg_xrsp {
    const lg_rsp_head_t *head; /* scanned */
    int status;
    lg_body_t mode;       /* in: the backend's framing; out: what the client gets (e.g. DECHUNK) */
    uint64_t length;      /* LG_BODY_LENGTH */
    unsigned upgrade : 1; /* a 101 the client asked for: relay both ways after it */

    /* a Set-Cookie value the front adds (sticky), or len 0 */
    lg_span_t set_cookie;
} lg_xrsp_t;

/* What an exchange needs from its front; one table per front kind. */
typedef struct lg_xfront {
    /*
     * Pass on a response head: an interim one (1xx but 101), a 101 (r->upgrade) or the final
     * one. The front writes what its client gets into x->chead (an HTTP/1.1 head; an HTTP/2
     * front its HEADERS frame) and, for a final head, sets r->mode to the body framing its
     * client gets. LG_ERR: it cannot (the exchange ends with 502).
     */
    int (*response_head)(lg_exchange_t *x, lg_xrsp_t *r);
    /* The one exit: the exchange is over (called once); the front decides what follows. */
    void (*ended)(lg_exchange_t *x, const lg_xend_t *end);
    /* Call lg_exchange_run(x) again after this batch (a pump spent its budget). */
    void (*again)(lg_exchange_t *x);
} lg_xfront_t;

/* A request the front has read and checked, for lg_exchange_request. */
typedef struct lg_xreq {
    lg_req_head_t *head; /* scanned (head.h); its target is normalised by the exchange */
    uint32_t head_len;   /* bytes of the head at (*x->cin)->pos, consumed by the exchange */
    lg_body_t body;      /* LG_BODY_NONE, LENGTH, CHUNKED, or ENCODE (no length: sent chunked) */
    uint64_t length;     /* Content-Length */
    unsigned has_length : 1;
    unsigned head_only : 1;  /* HEAD: the response has no body */
    unsigned idempotent : 1; /* may be sent again to another backend */
    unsigned http2 : 1;      /* it came as HTTP/2 (for the logs) */
} lg_xreq_t;

struct lg_exchange {
    lg_worker_t *w;
    const lg_xfront_t *front;
    void *front_data; /* the front's per-request state */
    lg_stream_t *client;
    lg_buf_t **cin; /* client bytes: the request body starts at (*cin)->pos */
    const lg_listener_conf_t *ls;
    size_t ls_index;
    const struct sockaddr *peer;
    struct ssl_st *tls; /* the client's TLS session, set by the front (NULL: plain) */
    int client_fd;      /* the client's socket (HTTP/2: its connection's), set by the front */
    const struct sockaddr *local; /* the address the client reached, when a PROXY header named
                                     it (NULL: client_fd's own), set by the front */
    const char *sni;              /* TLS passthrough: the server name routed on, set by the front */
    lg_upconn_t *u;
    const lg_route_conf_t *route; /* the route the request matched (NULL: none, or a relay) */
    struct lg_x_kept *kept;       /* what response header rules need of the request (xrules.c) */
    lg_pool_t *pool;
    lg_backend_t *be;

    /* the member the request's sticky cookie names (upstream/sticky.h), or NULL */
    lg_backend_t *sticky;

    lg_timer_t timer; /* on one of the queues below, as `timing` says (xfer.c) */
    lg_buf_t *uhead;  /* rebuilt request head, kept until the response starts (for a retry) */
    lg_buf_t *rbuf;   /* bytes from the backend */
    lg_buf_t *chead;  /* head (or error page) for the client */
    lg_pump_t up, down;
    lg_qentry_t qe;             /* waiting for a backend slot (upstream/queue.h) */
    uint64_t key;               /* balance: hash key of the request */
    lg_msec_t start;            /* when the request head was complete */
    lg_msec_t rsp_at;           /* when the response head arrived */
    uint64_t head_in, head_out; /* bytes of the request head read, of heads we wrote */
    int status;                 /* answered with (0: no response) */
    uint32_t own_body;          /* body bytes of a response of our own */
    char rid[LG_RID_MAX];       /* X-Request-Id (received or made) */
    char logs[LG_LOGS_MAX];     /* for the access log: method, target, referer, user agent */
    uint16_t log_target, log_referer, log_agent; /* offsets in logs[] */
    uint8_t http_major, http_minor;              /* of the request, for logs */
    uint32_t parsed;                             /* bytes of rbuf already given to llhttp */
    uint8_t tries;          /* other backends still to try when a connect fails */
    uint8_t timing;         /* LG_XT_*: what x->timer measures */
    uint8_t why;            /* LG_XWHY_*: how a tunnel ended */
    unsigned routed : 1;    /* the request was accepted: its head consumed, a body pump runs */
    unsigned ended : 1;     /* exchange_end was called */
    unsigned dropped : 1;   /* the upstream side was given back (lg_x_drop_upstream) */
    unsigned head_done : 1; /* llhttp paused at the end of a response head */
    unsigned head_only : 1; /* HEAD request: the response has no body */
    unsigned idempotent : 1;
    unsigned reused : 1;      /* the upstream connection came from the idle pool */
    unsigned retried : 1;     /* a retry on a fresh connection was made */
    unsigned req_done : 1;    /* request completely written to the backend */
    unsigned req_aborted : 1; /* the backend stopped taking the request body */
    unsigned rsp_started : 1; /* a byte of response arrived */
    unsigned rsp_head : 1;    /* the response flows: final head passed on, or a relay (none) */
    unsigned rsp_done : 1;
    unsigned tunnel : 1;  /* bytes as they are, both ways: a tcp relay, or after a 101 */
    unsigned upgrade : 1; /* the client asked to switch protocols (WebSocket) */
    unsigned slot : 1;    /* x->be counts this exchange in its active connections */
    llhttp_t rsp;         /* last: lg_exchange_init clears everything before it */
};

/*
 * Make `x` ready for a request arriving on `client` (bytes in *cin) from `peer` on listener
 * `ls` (index `ls_index`); `front` is told how it ends, `front_data` is the front's.
 */
void lg_exchange_init(lg_exchange_t *x, lg_worker_t *w, const lg_xfront_t *front, void *front_data,
                      lg_stream_t *client, lg_buf_t **cin, const lg_listener_conf_t *ls,
                      size_t ls_index, const struct sockaddr *peer);

/*
 * Take the request `rq` (its head at (*x->cin)->pos): normalise the target, route, pick a
 * backend, rebuild the head and start. Every outcome, 404 and 503 included, comes through the
 * front's `ended`, possibly before this returns.
 */
void lg_exchange_request(lg_exchange_t *x, const lg_xreq_t *rq);

/* Relay bytes both ways to a backend of `pool` (a tcp listener); ends as above. */
void lg_exchange_relay(lg_exchange_t *x, size_t pool);

/* Drive the exchange as far as readiness allows: on any event of either side. */
void lg_exchange_run(lg_exchange_t *x);

/*
 * Count and log the request, close the upstream connection if still held and give back buffers
 * and pipes. Called once by the front, after the end or to abort (the client went away).
 */
void lg_exchange_release(lg_exchange_t *x);

/*
 * The response_headers of x's route for a response (the backend's or lifeguard's own), with
 * their variables' values in *vals; NULL when the route has none (or x was not routed).
 */
const lg_hdr_rules_t *lg_x_rsp_rules(const lg_exchange_t *x, lg_rule_vals_t *vals);

/*
 * The fields and body of the own reply `r` to x's request, for the front to write in its framing
 * (the route's response header rules apply here). Fronts call it for every own reply, errors
 * before routing included.
 */
void lg_exchange_reply_msg(const lg_exchange_t *x, const lg_reply_t *r, lg_reply_msg_t *m);

/* Keep the request line of a head the front refused (400, 431, ...) for the logs. */
void lg_exchange_log_refused(lg_exchange_t *x, const char *head, size_t len);

/* What an error line says about the exchange: pool, client, request line (as nginx does). */
const char *lg_exchange_context(const lg_exchange_t *x, char *buf, size_t len);

#endif
