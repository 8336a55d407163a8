/*
 * errpage.h - the responses lifeguard writes itself ("own replies"): small fixed error pages,
 * and the answers of routes without a backend (redirect, respond).
 *
 * An own reply is described once (lg_reply_t), turned into its fields and body once
 * (lg_reply_msg(), which both fronts call through the exchange so that route rules can add to
 * the fields), and written by each front in its own framing: an HTTP/1.1 head + body
 * (lg_reply_h1()) or HTTP/2 HEADERS + DATA (front/h2_msg.c).
 */
#ifndef LG_ERRPAGE_H
#define LG_ERRPAGE_H

#include <stddef.h>
#include <stdint.h>

#include "http/field.h"

/* Seconds a 503 asks the client to wait (Retry-After) when the reply names none. */
#define LG_RETRY_AFTER_SEC 1

/* Fields an own reply carries at most (lifeguard's 5 + room for a route's response rules). */
#define LG_REPLY_FIELDS_MAX 32
/* Bytes of an HTTP/1.1 own reply's head besides its fields: status line, Date, Connection. */
#define LG_REPLY_FRAME_MAX 128

/*
 * What to answer. The spans point to memory that stays valid while the front writes the reply
 * (the call to its `ended`): the configuration, or the caller's stack.
 */
typedef struct lg_reply {
    int status;
    lg_span_t location;     /* Location (len 0: none) */
    lg_span_t content_type; /* len 0: text/plain; charset=utf-8 */
    lg_span_t body;         /* p NULL: the fixed text "<status> <reason>\n" */
    uint32_t retry_after; /* Retry-After in seconds (0: none, but a 503 says LG_RETRY_AFTER_SEC) */
} lg_reply_t;

typedef struct lg_reply_field {
    lg_span_t name; /* as written in HTTP/1.1 ("Content-Type"); HTTP/2 lower-cases it */
    lg_span_t value;
} lg_reply_field_t;

/*
 * An own reply ready to write: status, end-to-end fields (Server, Content-Type, Content-Length,
 * Location, Retry-After, and what a route's response rules add; not Date and Connection, which
 * are the front's), and body.
 * Self-contained: the digits and the fixed text live in `text`, so it may be copied.
 */
typedef struct lg_reply_msg {
    int status;
    const char *reason;
    lg_reply_field_t f[LG_REPLY_FIELDS_MAX];
    size_t n;
    lg_span_t body;
    char text[128];
    char *vals; /* malloc'd values of the route's response rules (NULL: none) */
} lg_reply_msg_t;

/* Describe the reply `r` as fields and body into *m; lg_reply_msg_done() once it is written. */
void lg_reply_msg(const lg_reply_t *r, lg_reply_msg_t *m);
/* Free what *m holds (its rules' values). */
void lg_reply_msg_done(lg_reply_msg_t *m);
/* The bytes of *m's field lines ("Name: value" CRLF each). */
size_t lg_reply_msg_fields_len(const lg_reply_msg_t *m);

/* Append a field to *m: LG_OK, or LG_ERR when it holds LG_REPLY_FIELDS_MAX already. */
int lg_reply_msg_add(lg_reply_msg_t *m, lg_span_t name, lg_span_t value);

/*
 * Write *m as an HTTP/1.1 response into buf (with Date, Connection: keep-alive or close;
 * without the body when answering HEAD); returns its length, 0 if it does not fit.
 */
size_t lg_reply_h1(const lg_reply_msg_t *m, int keep_alive, int head_only, char *buf, size_t cap);

/* The reason phrase of a status ("" for one without a standard phrase). */
const char *lg_status_reason(int status);

#endif
