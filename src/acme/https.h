/*
 * https.h - the master's HTTPS client for the ACME server: one request per connection
 * (HTTP/1.1, Connection: close), non-blocking in the master's loop, the server verified
 * against acme.ca (or the system store) and the URL's host, the response parsed with llhttp
 * (Content-Length, chunked or until close), at most LG_ACME_RSP_MAX bytes of body, within
 * LG_ACME_REQ_TIMEOUT_MS. Host names are resolved as the OCSP fetches do: /etc/hosts, else an
 * A query to the resolver.
 *
 * A request lives in memory its owner keeps for as long as the master runs (never freed while
 * an event of this batch may name it). Its end is reported by `done`, run after the batch of
 * events (posted), so `done` may start the next request on the same lg_acme_req_t.
 */
#ifndef LG_ACME_HTTPS_H
#define LG_ACME_HTTPS_H

#include <llhttp.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config/config.h"
#include "event/loop.h"

#define LG_ACME_RSP_MAX        65536
#define LG_ACME_REQ_TIMEOUT_MS 30000
#define LG_ACME_NONCE_MAX      128
#define LG_ACME_URL_MAX        1024
#define LG_ACME_WHY_MAX        512

typedef struct lg_acme_rsp {
    int status;
    char nonce[LG_ACME_NONCE_MAX];  /* Replay-Nonce, "" when none */
    char location[LG_ACME_URL_MAX]; /* Location, "" when none */
    char ctype[64];                 /* Content-Type, "" when none */
    lg_msec_t retry_after;          /* Retry-After in ms (seconds form only), 0 when none */
    char *body;                     /* NUL-terminated; owned by the request */
    size_t len;
} lg_acme_rsp_t;

typedef struct lg_acme_req lg_acme_req_t;
/* The request ended: `why` NULL and r->rsp filled, or why it failed (r->rsp empty). */
typedef void (*lg_acme_done_t)(lg_acme_req_t *r, const char *why);

struct lg_acme_req {
    lg_io_t io; /* first: its socket's events come back as the request; fd -1 when idle */
    int state;
    SSL *ssl;
    SSL_CTX *ctx; /* borrowed from the owner for the request */
    char host[LG_ADDR_HOST_MAX];
    lg_addr_t addr;
    unsigned dns_id;
    char *out; /* the whole request */
    size_t out_len, sent;
    llhttp_t parser;
    char field[32];
    size_t field_len;
    int field_cut;
    lg_acme_rsp_t rsp;
    lg_msec_t deadline;
    char why[LG_ACME_WHY_MAX];
    lg_posted_t post;
    lg_acme_done_t done;
    void *arg; /* the owner's */
};

/* Once: the resolver used for host names. */
void lg_acme_https_resolver(const struct sockaddr_storage *dns, socklen_t len);

/* A client context trusting `ca` (PEM file), or the system store when NULL; NULL (logged). */
SSL_CTX *lg_acme_https_ctx(const char *ca);

/*
 * Send `method` `url` (https only) with `body` (NULL: none; else as application/jose+json)
 * on `r` (idle). The end is reported through r->done, never from this call: a URL that is not
 * usable is reported as a failure too.
 */
void lg_acme_https_send(lg_acme_req_t *r, SSL_CTX *ctx, const char *method, const char *url,
                        const char *body);

/* From the owner's tick: fail the request when it passed its deadline. */
void lg_acme_https_check(lg_acme_req_t *r);

/* Forget the response (its body); the request is idle again. */
void lg_acme_https_clear(lg_acme_req_t *r);

#endif
