/*
 * tmpl.h - templates: text with variables such as "https://{host}{uri}", compiled once when the
 * configuration is loaded and expanded per request (redirect targets, header rule values).
 *
 * A variable is "{name}" with a name of lower-case letters and '_'; the name must be one of
 * lg_var_t (an unknown one is an error at load). Any other '{' is text. A template never holds
 * a control byte other than HTAB, and an expansion whose result would hold one (a variable's
 * value with CR, LF or NUL) fails: nothing derived from a request can add a line to a head.
 */
#ifndef LG_TMPL_H
#define LG_TMPL_H

#include <stddef.h>
#include <stdint.h>

#include "http/field.h"

typedef enum lg_var {
    LG_VAR_HOST,       /* the request's host, without port */
    LG_VAR_URI,        /* path and query, normalised (what routing saw) */
    LG_VAR_PATH,       /* the path alone */
    LG_VAR_QUERY,      /* the query without '?', "" when none */
    LG_VAR_SCHEME,     /* http | https: how the client reached lifeguard */
    LG_VAR_CLIENT_IP,  /* the client's address, no port */
    LG_VAR_REQUEST_ID, /* X-Request-Id as received, or the one lifeguard made */
    LG_VAR_COUNT,
} lg_var_t;

/* One piece of a template: text (lit != NULL, pointing into the source) or a variable. */
typedef struct lg_tmpl_part {
    const char *lit;
    uint32_t len;
    uint8_t var; /* lg_var_t, when lit is NULL */
} lg_tmpl_part_t;

typedef struct lg_tmpl {
    const lg_tmpl_part_t *parts;
    size_t nparts;
    unsigned vars; /* bit (1u << LG_VAR_x) for every variable used: what a caller must keep */
} lg_tmpl_t;

/* The values of one request's variables (spans into its head or the exchange). */
typedef struct lg_tmpl_vars {
    lg_span_t v[LG_VAR_COUNT];
} lg_tmpl_vars_t;

/* Why a template was refused, and where: `at` and `len` delimit the fault in the source. */
typedef struct lg_tmpl_err {
    const char *why; /* static: "unknown variable", "control character" */
    size_t at, len;
} lg_tmpl_err_t;

/* The parts that the template text s[0..len) needs at most: the size of the caller's array. */
size_t lg_tmpl_max_parts(const char *s, size_t len);

/*
 * Split s[0..len) into `parts` (room for lg_tmpl_max_parts() of them) and describe it in *t.
 * The parts point into s, which must outlive the template. LG_OK, or LG_ERR with *err filled.
 */
int lg_tmpl_compile(const char *s, size_t len, lg_tmpl_part_t *parts, lg_tmpl_t *t,
                    lg_tmpl_err_t *err);

/*
 * Write the template with the values `v` into out[0..cap) and its length into *n. LG_ERR when it
 * does not fit or when a value holds a control byte other than HTAB (nothing is to be written).
 */
int lg_tmpl_expand(const lg_tmpl_t *t, const lg_tmpl_vars_t *v, char *out, size_t cap, size_t *n);

/* "host", "uri", ...: a variable's name as written between braces. */
const char *lg_var_name(lg_var_t var);

#endif
