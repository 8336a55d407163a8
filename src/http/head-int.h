/*
 * head-int.h - what the request (head.c) and response (rsp_head.c) halves of head scanning
 * and rebuilding share: the output cursor and the walk over header lines.
 */
#ifndef LG_HEAD_INT_H
#define LG_HEAD_INT_H

#include <string.h>
#include <strings.h>

#include "http/field.h"
#include "http/head.h"
#include "http/rules.h"

/* Decimal digits of the largest value of a uint64_t (18446744073709551615). */
#define LG_U64_DIGITS  20
#define LG_VERSION_LEN 8 /* "HTTP/1.1" */

/* Output cursor: appends never write past `end`; `full` records that something did not fit. */
typedef struct out {
    char *p, *end;
    int full;
} out_t;

static inline void put(out_t *o, const char *s, size_t n)
{
    if (o->full || (size_t)(o->end - o->p) < n) {
        o->full = 1;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static inline void put_str(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static inline void put_span(out_t *o, lg_span_t s)
{
    put(o, s.p, s.len);
}

/* A number in decimal, in a buffer sized for the largest one. */
static inline void put_u64(out_t *o, uint64_t v)
{
    char digits[LG_U64_DIGITS];
    size_t i = sizeof(digits);

    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(o, digits + i, sizeof(digits) - i);
}

/* The fields that header rules set and add (none when `r` is NULL). */
static inline void put_rules(out_t *o, const lg_hdr_rules_t *r, const lg_rule_vals_t *vals)
{
    size_t n;

    if (r == NULL || o->full)
        return;
    n = lg_hdr_rules_lines(r, vals, o->p, (size_t)(o->end - o->p));
    if (n == SIZE_MAX)
        o->full = 1;
    else
        o->p += n;
}

/* A field of the message that header rules replace or remove (none when `r` is NULL). */
static inline int rules_drop(const lg_hdr_rules_t *r, lg_span_t name)
{
    return r != NULL && lg_hdr_rules_drop(r, name);
}

/* The elements of every header of one kind of a head, in order (Upgrade lists, say). */
typedef struct list_walk {
    const char *cur, *end; /* header lines left */
    const char *p, *e;     /* what is left of the current value */
    lg_hdr_kind_t kind;
} lg_list_walk_t;

/*
 * Next header line at *cur (before `end`, the position after the final CRLF CRLF).
 * Returns 1 with `h` filled, 0 at the empty line that ends the head, -1 when the line breaks a
 * rule llhttp 8 does not enforce: a bare LF, obsolete folding, whitespace before the colon.
 */
int lg_hdr_next(const char **cur, const char *end, lg_hdr_t *h);
/* The name is a token and the value has no control character but HTAB (per header: inline). */
static inline int lg_hdr_valid(const lg_hdr_t *h)
{
    return lg_field_is_token(h->name) && lg_field_value_valid(h->value);
}

void lg_list_walk_init(lg_list_walk_t *w, const char *head, size_t len, lg_hdr_kind_t kind);
int lg_list_walk_next(lg_list_walk_t *w, lg_span_t *elem);
/* Collect the tokens of one Connection header value (LG_ERR: too many). */
int lg_conn_tokens(lg_conn_hdrs_t *ch, lg_span_t v);
/* The header `name` is listed in Connection (hop-by-hop for this message); per header: inline. */
static inline int lg_named_by_connection(const lg_conn_hdrs_t *ch, lg_span_t name)
{
    for (unsigned i = 0; i < ch->ntokens; i++) {
        if (ch->tokens[i].len == name.len && strncasecmp(ch->tokens[i].p, name.p, name.len) == 0)
            return 1;
    }
    return 0;
}
/* The upgrade token is h2c (never passed on). */
int lg_is_h2c(lg_span_t t);

#endif
