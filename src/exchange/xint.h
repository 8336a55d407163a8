/*
 * xint.h - what the exchange's files share (exchange.c: start, routing, logs, release;
 * xfer.c: connect, relay, response head; xfail.c: backend failures and retries).
 */
#ifndef LG_XINT_H
#define LG_XINT_H

#include "exchange/exchange.h"
#include "http/tmpl.h"

/*
 * The one exit: end the exchange `how` (upstream side given back first) and tell the front;
 * LG_XEND_REPLY answers the fixed page of `status`.
 */
void lg_x_end(lg_exchange_t *x, lg_xend_how_t how, int status);

/*
 * End the exchange with the own reply `r` (a redirect, a respond route, a 429 with Retry-After):
 * `r` and what it points to need only last until this returns. `x` may be freed by then.
 */
void lg_x_reply(lg_exchange_t *x, const lg_reply_t *r);

/*
 * The template variables of request `rq` (its target normalised, x->rid set) from client `ip`:
 * spans into the head, `ip` and the exchange, valid while they are.
 */
void lg_x_tmpl_vars(const lg_exchange_t *x, const lg_req_head_t *rq, const char *ip,
                    lg_tmpl_vars_t *v);

/*
 * The request_headers of x's route for request `rq` from client `ip`, their variables' values
 * in *vals (valid while rq is); NULL when there are none (xrules.c).
 */
const lg_hdr_rules_t *lg_x_req_rules(const lg_exchange_t *x, const lg_req_head_t *rq,
                                     const char *ip, lg_rule_vals_t *vals);
/* Keep what the route's response_headers use of routed request `rq`; freed at release. */
void lg_x_rules_keep(lg_exchange_t *x, const lg_req_head_t *rq);
void lg_x_rules_release(lg_exchange_t *x);
/* Apply the route's response_headers to own reply *m (values kept in m->vals). */
void lg_x_reply_rules(const lg_exchange_t *x, lg_reply_msg_t *m);
/* Answer x's request with its route's redirect or respond (answer.c); the exchange ends. */
void lg_x_answer(lg_exchange_t *x, const lg_req_head_t *rq);

/*
 * http-01 (xacme.c): the key authorization of the challenge request `rq` (target normalised)
 * into keyauth (LG_ACME_KEYAUTH_MAX bytes) and its length; 0 when `rq` is not a GET or HEAD of
 * /.well-known/acme-challenge/TOKEN for a token under way. The reply ends the exchange.
 */
size_t lg_x_acme_find(const lg_req_head_t *rq, char *keyauth);
void lg_x_acme_reply(lg_exchange_t *x, const char *keyauth, size_t len);

/*
 * Put the PROXY header of x's client in front of what goes on x->u, a new connection of a pool
 * with proxy_protocol (xppout.c). LG_ERR: the address the client reached is unknown (logged).
 */
int lg_x_proxy_header(lg_exchange_t *x);

/* Note why a tunnel is ending, unless an earlier cause was noted. */
static inline void lg_x_why(lg_exchange_t *x, uint8_t why)
{
    if (x->why == LG_XWHY_NONE)
        x->why = why;
}

/* The access log line of a tcp relay that ended (relaylog.c). */
void lg_x_relay_log(const lg_exchange_t *x);

/* The address of x's backend ("1.2.3.4:80") into buf (LG_ADDR_STRLEN), "" without one. */
void lg_x_upstream_text(const lg_exchange_t *x, char *buf, size_t len);

/* Make the response parser ready for a (next) response head. */
void lg_x_response_parser_reset(lg_exchange_t *x);

/* Give back the upstream side: the connection (closed), the pumps' pipes, backend buffers. */
void lg_x_drop_upstream(lg_exchange_t *x);

/* Take a connection to x->be (pooled or new) and drive the exchange. */
void lg_x_connect(lg_exchange_t *x);

/*
 * A backend of x's pool with a free slot for this exchange, avoiding `avoid` when possible, its
 * slot taken (lg_upstream_take); logged at debug. NULL when none has room.
 */
lg_backend_t *lg_x_pick(lg_exchange_t *x, const lg_backend_t *avoid, const char *what);

/*
 * No backend of x's pool has a free slot: wait in the pool's queue (xqueue.c). The exchange
 * goes on by lg_x_connect once dispatched, or ends with 503 (queue full, queue.timeout).
 */
void lg_x_wait(lg_exchange_t *x);
/*
 * No member of x->pool could be picked: LG_AGAIN when some are usable but full (the request
 * must wait: lg_x_wait), else LG_ERR, ended with 503 (none is up).
 */
int lg_x_unpicked(lg_exchange_t *x);

/*
 * The backend failed before a response reached the client: retry on a fresh connection or
 * another backend when that is safe, else end with `status` (see xfail.c).
 */
void lg_x_upstream_fail(lg_exchange_t *x, int status, const char *what, int err);

/* The upstream timer of x expired (connect, response head, or a stalled relay). */
void lg_x_upstream_timeout(lg_exchange_t *x);

/* The request's chunked body is malformed or too large (400/413), or the response's (502). */
void lg_x_request_body_bad(lg_exchange_t *x);
void lg_x_response_body_bad(lg_exchange_t *x);

/*
 * The rate limit of x's route (xlimit.c): LG_OK when the request may go on, LG_ERR when its key
 * has no token left (ended with 429 and a Retry-After).
 */
int lg_x_rate_limit(lg_exchange_t *x, const lg_req_head_t *rq);

/* Read and parse the response head: LG_OK once the body relay starts, LG_AGAIN, LG_ERR (ended). */
int lg_x_response_read(lg_exchange_t *x);

/*
 * Route x's request (xroute.c): x->route (NULL: none matched; the caller answers 404 once the
 * request is taken), the path stripped for the backend (strip_prefix), a Content-Length over
 * the route's max_body_size refused. Returns 0 or the status to answer (400, 413, 414).
 */
int lg_x_route(lg_exchange_t *x, const lg_xreq_t *rq);
/* limits.max_body_size for x: its route's, else the global one (0: unlimited). */
uint64_t lg_x_body_limit(const lg_exchange_t *x);
/* Other backends x may try when connecting fails: its route's retries, else its pool's. */
unsigned lg_x_retries(const lg_exchange_t *x);
/* The queue for x's timer measuring `timing`: its route's own timeout, else `dflt`. */
lg_timerq_t *lg_x_timerq(lg_exchange_t *x, uint8_t timing, lg_timerq_t *dflt);

#endif
