/*
 * diag.h - what error and debug lines say about the request they concern, so that an operator
 * can find it: nginx ends its upstream errors with ", client: ..., request: \"GET / HTTP/1.1\"";
 * lifeguard says ", pool: app, client: 127.0.0.1, request: \"GET / HTTP/1.1\"".
 */
#ifndef LG_DIAG_H
#define LG_DIAG_H

#include <stddef.h>
#include <sys/socket.h>

#include "config/config.h"
#include "http/head.h"

/* Room for a context: pool name, client address, an escaped request line cut to fit. */
#define LG_DIAG_MAX 1024

/* The request as the context names it; strings may be empty, never NULL (except pool). */
typedef struct lg_diag_req {
    const char *pool; /* NULL without a route */
    const struct sockaddr *client;
    const char *method; /* "" without a request line (a tcp listener's connection) */
    const char *target;
    unsigned major, minor; /* HTTP version; 0.0 when the request line did not parse */
} lg_diag_req_t;

/* ", pool: app, client: 127.0.0.1, request: \"GET / HTTP/1.1\"" into buf (len bytes); buf. */
const char *lg_diag_context(const lg_diag_req_t *r, char *buf, size_t len);

/* Room for the reason of a pick. */
#define LG_DIAG_WHY_MAX 160

/*
 * The debug line of a routing decision: which route of listener `ls` (of `cf`) matched the
 * request's host and path, what it matches and its pool; or that none did (`r` NULL: 404).
 */
void lg_diag_routed(const lg_config_t *cf, const lg_listener_conf_t *ls, const lg_route_conf_t *r,
                    lg_span_t host, lg_span_t path);

/*
 * Why the balancer of `pc` picked as it did, for a request whose hash key is `key`:
 * "round_robin", or "hash of header x-user", or "round robin: no header x-user in the request".
 */
const char *lg_diag_pick(const lg_pool_conf_t *pc, uint64_t key, char *buf, size_t len);

/* A debug line about the client connection from `peer`: "client 127.0.0.1:5000: MESSAGE". */
void lg_diag_conn(const struct sockaddr *peer, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The method and target of the request line at the start of `p` (len bytes), for the logs of
 * a request refused before it was accepted: split at spaces, whatever they hold (nginx logs
 * such a line as received). Spans into `p`; empty when absent.
 */
void lg_diag_request_line(const char *p, size_t len, lg_span_t *method, lg_span_t *target);

#endif
