/*
 * h1.h - the HTTP/1.1 front: a client connection that reads request heads, hands each request
 * to an exchange, and writes responses (the backend's, passed on by the exchange, or its own).
 *
 * A connection is in one of five states, each with its own work in h1_run():
 *   IDLE      between requests: no buffer, no exchange; timer client_header (new) or client_idle
 *   HEAD      reading a request head into `in`; timer client_header
 *   EXCHANGE  an exchange relays to and from a backend; it runs its own timers
 *   REPLY     writing a response of our own (an error), then keep-alive or close
 *   LINGER    response sent, write side shut, discarding what the client still sends
 * Requests are served one at a time, in order (pipelined ones wait in `in`).
 *
 * Memory: an idle connection holds only its h1_conn_t. During an exchange it holds at most
 * three buffers (request bytes, response bytes, the rebuilt head of one direction) and two
 * pipes, so it is bounded by 3 x buffer size (max(max_header_size, 16k) + 4k) plus the pipes.
 */
#ifndef LG_H1_H
#define LG_H1_H

#include <llhttp.h>

#include "exchange/exchange.h"
#include "front/conn.h"

enum { H1_IDLE, H1_HEAD, H1_EXCHANGE, H1_REPLY, H1_LINGER };

/* One request on an HTTP/1.1 connection: the exchange and what only HTTP/1.1 needs. */
typedef struct h1_txn {
    lg_exchange_t x;
    uint32_t parsed;        /* bytes of `in` (from pos) already given to llhttp */
    unsigned head_done : 1; /* llhttp paused at the end of the request head */
    unsigned client_ka : 1; /* the client wants to keep the connection */
    unsigned http10 : 1;
    llhttp_t req;
} h1_txn_t;

/* In c.fflags: close once the current response is out. */
#define H1_CLOSE_AFTER 0x01
/* In c.fflags: a plain listener with http2: the HTTP/2 preface may still come (h2c). */
#define H1_H2C 0x02

/* c.state is one of H1_IDLE...H1_LINGER. */
typedef struct h1_conn {
    lg_conn_t c; /* first */
    h1_txn_t *txn;
    lg_buf_t *in; /* request bytes: head, body, pipelined requests */
} h1_conn_t;

/* The exchange's view of this front (h1_reply.c). */
extern const lg_xfront_t lg_h1_xfront;

/* Answer the current request with the own reply `r` and end it; keep-alive if safe. */
void lg_h1_answer(h1_conn_t *hc, const lg_reply_t *r);
/* The same with the fixed error page of `status`. */
void lg_h1_reply(h1_conn_t *hc, int status);
/* Continue writing our own reply. */
void lg_h1_reply_flush(h1_conn_t *hc);
/* Discard what the client still sends after our last response. */
void lg_h1_linger_read(h1_conn_t *hc);
/* Between requests: wait for (or parse) the next one. */
void lg_h1_keepalive(h1_conn_t *hc);
/* Give back the current request (counted and logged). */
void lg_h1_txn_free(h1_conn_t *hc);

#endif
