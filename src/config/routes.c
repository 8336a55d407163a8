/*
 * routes.c - what a route matches besides host and path (methods, headers) and what it changes
 * for its requests (strip_prefix, timeouts, limits, retries); the table of the route itself is
 * in listeners.c, but for its path_prefix, which must be in the normal form of request paths to
 * ever match. Also the bound on the routes' timeouts: each distinct value is a timer queue
 * of its own in every worker.
 */
#include <string.h>
#include <strings.h>

#include "config/config-int.h"
#include "http/field.h"
#include "http/path.h"

const char *const lg_conf_bool[] = {"false", "true", NULL};

/* Normalising can write each byte of a path as a three-byte escape. */
#define LG_PREFIX_GROWTH 3

void lg_conf_path_prefix(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                         const lg_conf_field_t *f)
{
    const char *prefix;
    char *norm;
    size_t cap, n;

    lg_conf_url_path(c, key, v, base, f);
    if ((prefix = ((lg_route_conf_t *)base)->path_prefix) == NULL)
        return;
    cap = strlen(prefix) * LG_PREFIX_GROWTH + 1;
    if ((norm = lg_arena_alloc(c->scratch, cap)) == NULL)
        return;
    if (lg_path_normalize(prefix, strlen(prefix), norm, cap, &n) != 0) {
        lg_conf_perr(c, v, "%s never matches: a request path with it is refused (400)",
                     lg_conf_q(c, prefix));
    } else if (n != strlen(prefix) || memcmp(norm, prefix, n) != 0) {
        norm[n] = '\0';
        lg_conf_perr(c, v,
                     "%s never matches: request paths are normalised before they are compared "
                     "(see docs/security.md); write %s",
                     lg_conf_q(c, prefix), lg_conf_q(c, norm));
    }
}

const lg_conf_field_t lg_conf_route_timeout_fields[] = {
    LG_CONF_ROW("connect", LG_CONF_DURATION, lg_route_conf_t, timeouts.connect, 1, LG_MSEC_DAY),
    LG_CONF_ROW("upstream_response", LG_CONF_DURATION, lg_route_conf_t, timeouts.upstream_response,
                1, LG_MSEC_DAY),
    LG_CONF_END,
};

const lg_conf_field_t lg_conf_route_limit_fields[] = {
    LG_CONF_ROW("max_body_size", LG_CONF_SIZE, lg_route_conf_t, limits.max_body_size, 0,
                LG_ROUTE_BODY_GLOBAL - 1),
    LG_CONF_END,
};

LG_CONF_FITS(lg_conf_route_timeout_fields);
LG_CONF_FITS(lg_conf_route_limit_fields);

void lg_conf_route_defaults(lg_route_conf_t *r)
{
    r->retries = LG_ROUTE_RETRIES_POOL;
    r->limits.max_body_size = LG_ROUTE_BODY_GLOBAL;
}

/* One method of `methods`: a token in upper case (methods are case-sensitive), not repeated. */
static char *conf_method(lg_conf_ctx_t *c, const lg_ynode_t *v, char **seen, size_t n)
{
    lg_span_t s = {v->str, v->len};
    size_t i;

    if (lg_conf_want_scalar(c, NULL, v, "a method such as GET") != LG_OK)
        return NULL;
    if (!lg_field_is_token(s)) {
        lg_conf_perr(c, v,
                     "invalid method %s: a method is a token (letters, digits, !#$%%&'*+-.^_`|~)",
                     lg_conf_q(c, v->str));
        return NULL;
    }
    for (i = 0; i < v->len; i++) {
        if (v->str[i] >= 'a' && v->str[i] <= 'z') {
            lg_conf_perr(c, v,
                         "invalid method %s: methods are case-sensitive and written in upper "
                         "case (GET, POST)",
                         lg_conf_q(c, v->str));
            return NULL;
        }
    }
    for (i = 0; i < n; i++) {
        if (seen[i] != NULL && strcmp(seen[i], v->str) == 0) {
            lg_conf_perr(c, v, "%s is listed twice", lg_conf_q(c, v->str));
            return NULL;
        }
    }
    return lg_arena_strndup(c->arena, v->str, v->len);
}

void lg_conf_route_methods(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                           const lg_conf_field_t *f)
{
    lg_route_conf_t *r = base;
    size_t i, mark;

    LG_UNUSED(f);
    if (lg_conf_want_items(c, key, v, LG_YNODE_SEQ, "needs at least one method",
                           "a list of methods such as [GET, HEAD]") != LG_OK)
        return;
    r->methods = lg_arena_calloc(c->arena, v->nkids, sizeof(*r->methods));
    if (r->methods == NULL)
        return;
    r->nmethods = v->nkids;
    for (i = 0; i < v->nkids; i++) {
        if (v->kids[i]->is_alias)
            continue;
        mark = lg_conf_path_push(c, NULL, i);
        r->methods[i] = conf_method(c, v->kids[i], r->methods, i);
        lg_conf_path_pop(c, mark);
    }
}

/* The value of one `headers` condition: compared with the request's, which has no OWS around. */
static int conf_header_value(lg_conf_ctx_t *c, const lg_ynode_t *v)
{
    lg_span_t s = {v->str, v->len};

    if (v->kind != LG_YNODE_SCALAR || v->is_null) {
        lg_conf_perr(c, v, "expected a header value (\"\" for an empty one), got %s",
                     lg_conf_kind(v));
        return LG_ERR;
    }
    if (!lg_field_value_valid(s) || strlen(v->str) != v->len) {
        lg_conf_perr(c, v, "invalid value %s: no CR, LF, NUL or other control character",
                     lg_conf_q(c, v->str));
        return LG_ERR;
    }
    if (v->len > 0 && (lg_is_ows(v->str[0]) || lg_is_ows(v->str[v->len - 1]))) {
        lg_conf_perr(c, v,
                     "invalid value %s: a request's value is compared without surrounding "
                     "spaces, so this one would never match",
                     lg_conf_q(c, v->str));
        return LG_ERR;
    }
    return LG_OK;
}

/* One `headers` condition NAME: VALUE, the name a token not listed before (in any case). */
static void conf_header(lg_conf_ctx_t *c, const lg_ynode_t *k, const lg_ynode_t *v,
                        lg_route_conf_t *r)
{
    lg_span_t name = {k->str, k->len};
    lg_route_header_t *h = &r->headers[r->nheaders];
    size_t i, mark = lg_conf_path_push(c, k->str, 0);

    if (!lg_field_is_token(name)) {
        lg_conf_perr(c, k, "invalid header name %s: a name is a token (letters, digits, -, _ ...)",
                     lg_conf_q(c, k->str));
        goto out;
    }
    for (i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, k->str) == 0) {
            lg_conf_perr(c, k, "header %s is listed twice (names are case-insensitive)",
                         lg_conf_q(c, k->str));
            goto out;
        }
    }
    if (v->is_alias || conf_header_value(c, v) != LG_OK)
        goto out;
    h->name = lg_arena_strndup(c->arena, k->str, k->len);
    h->value = lg_arena_strndup(c->arena, v->str, v->len);
    h->name_len = k->len;
    h->value_len = v->len;
    r->nheaders++;
out:
    lg_conf_path_pop(c, mark);
}

void lg_conf_route_headers(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                           const lg_conf_field_t *f)
{
    lg_route_conf_t *r = base;
    size_t i, n;

    LG_UNUSED(f);
    if (lg_conf_want_items(c, key, v, LG_YNODE_MAP, "needs at least one header",
                           "a mapping of header names to values, such as {X-Canary: \"1\"}") !=
        LG_OK)
        return;
    n = v->nkids / 2;
    if (n > LG_ROUTE_HEADERS_MAX) {
        lg_conf_perr(c, v, "at most %d headers, got %zu", LG_ROUTE_HEADERS_MAX, n);
        return;
    }
    r->headers = lg_arena_calloc(c->arena, n, sizeof(*r->headers));
    for (i = 0; r->headers != NULL && i < n; i++) {
        const lg_ynode_t *k = v->kids[2 * i];

        if (k->kind != LG_YNODE_SCALAR || k->is_null || k->is_alias || k->len == 0) {
            lg_conf_err(c, k, "a header name must be a plain string");
            continue;
        }
        conf_header(c, k, v->kids[2 * i + 1], r);
    }
}

void lg_conf_route_check(lg_conf_ctx_t *c, const lg_route_conf_t *r, const lg_conf_seen_t *strip)
{
    if (strip == NULL || !r->strip_prefix)
        return;
    if (r->path_prefix == NULL)
        lg_conf_key_err(c, strip->key, "strip_prefix",
                        "needs a path_prefix (the part of the path to remove)");
    else if (strchr(r->path_prefix, '?') != NULL)
        lg_conf_key_err(
            c, strip->key, "strip_prefix",
            "cannot strip a path_prefix with a query (\"?\"): only the path is removed");
}

/* Add `ms` (unless 0 or known) to the ascending set out[0..*n); LG_ERR when it is full. */
static int timeout_add(lg_msec_t *out, size_t *n, lg_msec_t ms)
{
    size_t i = 0;

    if (ms == 0)
        return LG_OK;
    while (i < *n && out[i] < ms)
        i++;
    if (i < *n && out[i] == ms)
        return LG_OK;
    if (*n == LG_ROUTE_TIMEOUTS_MAX)
        return LG_ERR;
    memmove(out + i + 1, out + i, (*n - i) * sizeof(*out));
    out[i] = ms;
    (*n)++;
    return LG_OK;
}

/*
 * The distinct values of the routes' timeouts, in file order, until one does not fit: that
 * route, or NULL (the whole set is in out[0..*n)).
 */
static const lg_route_conf_t *route_timeouts(const lg_config_t *cf, lg_msec_t *out, size_t *n,
                                             const lg_listener_conf_t **owner)
{
    *n = 0;
    for (size_t l = 0; l < cf->nlisteners; l++) {
        for (size_t i = 0; i < cf->listeners[l].nroutes; i++) {
            const lg_route_conf_t *r = &cf->listeners[l].routes[i];

            *owner = &cf->listeners[l];
            if (timeout_add(out, n, r->timeouts.connect) != LG_OK ||
                timeout_add(out, n, r->timeouts.upstream_response) != LG_OK)
                return r;
        }
    }
    return NULL;
}

size_t lg_config_route_timeouts(const lg_config_t *cf, lg_msec_t *out)
{
    const lg_listener_conf_t *owner;
    size_t n;

    route_timeouts(cf, out, &n, &owner);
    return n;
}

void lg_conf_check_route_timeouts(lg_conf_ctx_t *c)
{
    lg_msec_t set[LG_ROUTE_TIMEOUTS_MAX];
    const lg_listener_conf_t *owner = NULL;
    const lg_route_conf_t *r = route_timeouts(c->cf, set, &(size_t){0}, &owner);

    if (r != NULL)
        lg_conf_err_add(c->errs, r->pos.line, r->pos.col,
                        "listeners.%s.routes[%zu].timeouts: more than %d different durations in "
                        "the routes' timeouts (each one is a timer queue of its own): use fewer",
                        owner->name, (size_t)(r - owner->routes), LG_ROUTE_TIMEOUTS_MAX);
}
