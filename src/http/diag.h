/*
 * diag.h - what error and debug lines say about the request they concern, so that an operator
 * can find it: nginx ends its upstream errors with ", client: ..., request: \"GET / HTTP/1.1\"";
 * lifeguard says ", pool: app, client: 127.0.0.1, request: \"GET / HTTP/1.1\"".
 */
#ifndef LG_DIAG_H
#define LG_DIAG_H

#include <stddef.h>
#include <sys/socket.h>

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

/*
 * The method and target of the request line at the start of `p` (len bytes), for the logs of
 * a request refused before it was accepted: split at spaces, whatever they hold (nginx logs
 * such a line as received). Spans into `p`; empty when absent.
 */
void lg_diag_request_line(const char *p, size_t len, lg_span_t *method, lg_span_t *target);

#endif
