/*
 * rules.h - header rules of a route (request_headers, response_headers): `set` replaces every
 * field of a name (or adds one), `add` appends one more, `remove` drops every field of a name;
 * names compare case-insensitively. Values are templates (tmpl.h) compiled at load.
 *
 * Safety: a rule never names a framing or hop-by-hop header, nor (in requests) one that
 * lifeguard writes itself: lg_hdr_rule_refused() says why at load. A value whose expansion would
 * hold a control byte (a variable's value with CR, LF or NUL) is never written: that field is
 * left out (logged at debug), never written in part.
 *
 * The rules live in the configuration's arena; nothing here allocates.
 */
#ifndef LG_RULES_H
#define LG_RULES_H

#include <stddef.h>

#include "core/net.h"
#include "http/field.h"
#include "http/tmpl.h"

/* Room for a Host that rules set: a host name (253 bytes) and a port, with some to spare. */
#define LG_RULE_HOST_MAX 320

typedef enum lg_rule_op {
    LG_RULE_SET = 0,
    LG_RULE_ADD,
    LG_RULE_REMOVE,
} lg_rule_op_t;

typedef struct lg_hdr_rule {
    lg_span_t name;    /* as written (an HTTP/1.1 head keeps its case) */
    const char *lname; /* lower case (HTTP/2 fields) */
    lg_tmpl_t value;   /* set and add */
    lg_rule_op_t op;
} lg_hdr_rule_t;

/* The rules of one direction of a route. */
typedef struct lg_hdr_rules {
    const lg_hdr_rule_t *v; /* in file order: set, add and remove rules */
    size_t n;
    const lg_tmpl_t *host; /* request rules: `set: {Host: ...}` (see lg_hdr_rules_host), or NULL */
    unsigned vars;         /* every variable the values use (1u << LG_VAR_x) */
} lg_hdr_rules_t;

/*
 * The values one message's rules expand with. A variable in `absent` has no value (the request
 * it came from is gone and it was too long to keep): a field that uses it is left out.
 */
typedef struct lg_rule_vals {
    lg_tmpl_vars_t v;
    unsigned absent;
    char ip[LG_IP_STRLEN]; /* room for {client_ip} when the caller must make it */
} lg_rule_vals_t;

/* One field a rule writes: the rule (its name in both cases) and the expanded value. */
typedef struct lg_rule_field {
    const lg_hdr_rule_t *rule;
    lg_span_t value;
} lg_rule_field_t;

/*
 * Why rules of a request (`request` 1) or a response may not name `name` with `op`: a static
 * sentence, or NULL when they may. Refused: names that are not tokens; Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive, TE, Trailer, Upgrade, Proxy-Connection and
 * HTTP2-Settings (and names a CGI-style server reads as one of them, '_' for '-'); in requests
 * the fields lifeguard writes (X-Forwarded-For/-Proto/-Host, X-Request-Id,
 * X-Client-Cert-Subject), and Host except with set.
 */
const char *lg_hdr_rule_refused(lg_span_t name, int request, lg_rule_op_t op);

/*
 * A field of the message named `name` is replaced (set) or removed by the rules. Names compare
 * as a CGI-style server reads them (any case, '_' for '-'): a client's X_Debug goes with a rule
 * on X-Debug, else such a backend would see the client's value where the rule meant none.
 */
int lg_hdr_rules_drop(const lg_hdr_rules_t *r, lg_span_t name);

/*
 * Append a "Name: value" CRLF line for every set and add rule to out[0..cap), names as written;
 * returns the bytes written, or SIZE_MAX when they do not fit. A field that cannot be written is
 * left out.
 */
size_t lg_hdr_rules_lines(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, char *out,
                          size_t cap);

/*
 * The same fields one at a time (HTTP/2, own replies): the next one after rule *i (start at 0)
 * in *f, its value expanded at *p (before `end`; *p moves past it). 1, or 0 when none is left.
 * A field that does not fit or cannot be written is left out.
 */
int lg_hdr_rules_next(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, size_t *i, char **p,
                      const char *end, lg_rule_field_t *f);

/*
 * Own replies: the fields of r chosen so that their lines (name, ": ", value, CRLF) take at most
 * `room` bytes, at most nf of them, in file order, into f[]; *nf is set to their count. When
 * they do not all fit, the longest are left out (logged), one by one until the others fit: a
 * long value (a {uri}) never pushes out a later, shorter field (HSTS). Returns the malloc'd
 * storage of the values, which the caller frees; NULL (no field) when there is no memory
 * (logged).
 */
char *lg_hdr_rules_fit(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, size_t room,
                       lg_rule_field_t *f, size_t *nf);

/*
 * The Host that request rules set, expanded into out[0..cap) (LG_RULE_HOST_MAX): its length, or
 * 0 when there is no such rule or its value is not a valid Host (the request's own Host stays).
 */
size_t lg_hdr_rules_host(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, char *out,
                         size_t cap);

#endif
