/*
 * rules.c - header rules of a route (rules.h): which names they may not touch, and the fields
 * they write into a message.
 */
#include "http/rules.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/lg.h"
#include "core/log.h"
#include "http/head.h"

/* Longer than any name lg_hdr_kind() knows (as in head.c). */
#define LG_RULE_KIND_NAME_MAX 32

/* "Trailer" is not one lifeguard reads, so lg_hdr_kind() does not know it. */
static int is_trailer(lg_span_t name)
{
    return lg_span_eq(name, "trailer");
}

static const char *refused_kind(lg_hdr_kind_t kind, int request, lg_rule_op_t op)
{
    switch (kind) {
    case LG_H_CONTENT_LENGTH:
    case LG_H_TRANSFER_ENCODING:
    case LG_H_CONNECTION:
    case LG_H_KEEP_ALIVE:
    case LG_H_PROXY_CONNECTION:
    case LG_H_TE:
    case LG_H_UPGRADE:
    case LG_H_HTTP2_SETTINGS:
        return "a framing or hop-by-hop header: lifeguard writes it for each connection";
    case LG_H_XFF:
    case LG_H_XFP:
    case LG_H_XFH:
    case LG_H_REQUEST_ID:
    case LG_H_CLIENT_CERT:
        return request ? "lifeguard writes this header of the request itself" : NULL;
    case LG_H_HOST:
        return request && op != LG_RULE_SET
                   ? "a request has exactly one Host: only \"set\" may name it"
                   : NULL;
    default:
        return NULL;
    }
}

const char *lg_hdr_rule_refused(lg_span_t name, int request, lg_rule_op_t op)
{
    char mapped[LG_RULE_KIND_NAME_MAX];
    lg_span_t m = {mapped, name.len};
    const char *why;
    int alias = 0;

    if (!lg_field_is_token(name))
        return "not a header name (letters, digits and !#$%&'*+-.^_`|~)";
    if (name.len >= sizeof(mapped))
        return NULL;
    for (size_t i = 0; i < name.len; i++) {
        mapped[i] = name.p[i] == '_' ? '-' : name.p[i];
        alias |= name.p[i] == '_';
    }
    why = is_trailer(m) ? "a framing or hop-by-hop header: lifeguard writes it for each connection"
                        : refused_kind(lg_hdr_kind(mapped, name.len), request, op);
    if (why != NULL && alias)
        return "a CGI-style server reads it as a header lifeguard manages ('_' for '-')";
    return why;
}

/* One byte of a name as a CGI-style server reads it: any case, '_' for '-'. */
static int cgi_byte(char ch)
{
    return ch == '_' ? '-' : tolower((unsigned char)ch);
}

/* Names a CGI-style server (WSGI, PHP-FPM, Rack) maps to one variable: X_Debug is X-Debug. */
static int cgi_name_eq(lg_span_t a, lg_span_t b)
{
    if (a.len != b.len)
        return 0;
    for (size_t i = 0; i < a.len; i++)
        if (cgi_byte(a.p[i]) != cgi_byte(b.p[i]))
            return 0;
    return 1;
}

int lg_hdr_rules_drop(const lg_hdr_rules_t *r, lg_span_t name)
{
    for (size_t i = 0; i < r->n; i++) {
        const lg_hdr_rule_t *rl = &r->v[i];

        if (rl->op != LG_RULE_ADD && cgi_name_eq(rl->name, name))
            return 1;
    }
    return 0;
}

/* The length of t expanded with v, for telling "no room" from "cannot be written". */
static size_t expanded_len(const lg_tmpl_t *t, const lg_tmpl_vars_t *v)
{
    size_t n = 0;

    for (size_t i = 0; i < t->nparts; i++)
        n += t->parts[i].lit != NULL ? t->parts[i].len : v->v[t->parts[i].var].len;
    return n;
}

/*
 * Expand rule value t into out[0..cap): LG_OK (*n bytes), LG_AGAIN when it does not fit, LG_ERR
 * when it must not be written (a control byte, or a variable without a value).
 */
static int value_expand(const lg_tmpl_t *t, lg_span_t name, const lg_rule_vals_t *vals, char *out,
                        size_t cap, size_t *n)
{
    if ((t->vars & vals->absent) == 0 && lg_tmpl_expand(t, &vals->v, out, cap, n) == LG_OK)
        return LG_OK;
    if ((t->vars & vals->absent) == 0 && expanded_len(t, &vals->v) > cap)
        return LG_AGAIN;
    if (lg_debug_on())
        lg_debug("header rule %.*s: a variable's value cannot be written (a control character, "
                 "or too long to keep), the field is left out",
                 (int)name.len, name.p);
    return LG_ERR;
}

size_t lg_hdr_rules_lines(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, char *out,
                          size_t cap)
{
    size_t at = 0, n;

    for (size_t i = 0; i < r->n; i++) {
        const lg_hdr_rule_t *rl = &r->v[i];
        size_t head = rl->name.len + 2;
        int rc;

        if (rl->op == LG_RULE_REMOVE)
            continue;
        if (cap - at < head + 2)
            return SIZE_MAX;
        rc = value_expand(&rl->value, rl->name, vals, out + at + head, cap - at - head - 2, &n);
        if (rc == LG_AGAIN)
            return SIZE_MAX;
        if (rc != LG_OK)
            continue;
        memcpy(out + at, rl->name.p, rl->name.len);
        memcpy(out + at + rl->name.len, ": ", 2);
        memcpy(out + at + head + n, "\r\n", 2);
        at += head + n + 2;
    }
    return at;
}

int lg_hdr_rules_next(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, size_t *i, char **p,
                      const char *end, lg_rule_field_t *f)
{
    size_t n;

    while (*i < r->n) {
        const lg_hdr_rule_t *rl = &r->v[(*i)++];

        if (rl->op == LG_RULE_REMOVE ||
            value_expand(&rl->value, rl->name, vals, *p, (size_t)(end - *p), &n) != LG_OK)
            continue;
        f->rule = rl;
        f->value = (lg_span_t){*p, n};
        *p += n;
        return 1;
    }
    return 0;
}

/* The bytes of rule i's line (name, ": ", value, CRLF), or 0 when it writes none. */
static size_t rule_line_len(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, size_t i)
{
    const lg_hdr_rule_t *rl = &r->v[i];

    if (rl->op == LG_RULE_REMOVE || (rl->value.vars & vals->absent) != 0)
        return 0;
    return rl->name.len + 4 + expanded_len(&rl->value, &vals->v);
}

/* Rule i comes before rule j in the order of leaving out: longer first, later on a tie. */
static int cut_before(size_t len_i, size_t i, size_t len_j, size_t j)
{
    return len_i > len_j || (len_i == len_j && i > j);
}

/*
 * The rules that fit `room`: those after the cut (cut_len, cut_i) in the order of leaving out;
 * the longest are cut one by one while the rest does not fit. Returns the bytes of their values.
 */
static size_t rules_cut(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, size_t room,
                        size_t *cut_len, size_t *cut_i)
{
    size_t total = 0, values = 0;

    for (size_t i = 0; i < r->n; i++)
        total += rule_line_len(r, vals, i);
    *cut_len = SIZE_MAX;
    *cut_i = SIZE_MAX;
    while (total > room) {
        size_t top = SIZE_MAX, top_len = 0;

        for (size_t i = 0; i < r->n; i++) {
            size_t len = rule_line_len(r, vals, i);

            if (len > 0 && cut_before(*cut_len, *cut_i, len, i) &&
                (top == SIZE_MAX || cut_before(len, i, top_len, top))) {
                top = i;
                top_len = len;
            }
        }
        lg_debug("header rule %.*s: its field (%zu bytes) does not fit an own reply within "
                 "limits.max_header_size, it is left out",
                 (int)r->v[top].name.len, r->v[top].name.p, top_len);
        total -= top_len;
        *cut_len = top_len;
        *cut_i = top;
    }
    for (size_t i = 0; i < r->n; i++) {
        size_t len = rule_line_len(r, vals, i);

        if (len > 0 && cut_before(*cut_len, *cut_i, len, i))
            values += len - r->v[i].name.len - 4;
    }
    return values;
}

char *lg_hdr_rules_fit(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, size_t room,
                       lg_rule_field_t *f, size_t *nf)
{
    size_t cut_len, cut_i, cap = rules_cut(r, vals, room, &cut_len, &cut_i), k = 0, n;
    char *out = malloc(cap > 0 ? cap : 1), *p = out;

    if (out == NULL) {
        lg_log(LG_LOG_ERR,
               "malloc() of %zu bytes failed: an own reply goes without its route's "
               "response header rules",
               cap);
        *nf = 0;
        return NULL;
    }
    for (size_t i = 0; i < r->n && k < *nf; i++) {
        const lg_hdr_rule_t *rl = &r->v[i];
        size_t len = rule_line_len(r, vals, i);

        if (len == 0 || !cut_before(cut_len, cut_i, len, i) ||
            value_expand(&rl->value, rl->name, vals, p, (size_t)(out + cap - p), &n) != LG_OK)
            continue;
        f[k].rule = rl;
        f[k++].value = (lg_span_t){p, n};
        p += n;
    }
    *nf = k;
    return out;
}

size_t lg_hdr_rules_host(const lg_hdr_rules_t *r, const lg_rule_vals_t *vals, char *out, size_t cap)
{
    size_t n;

    if (r->host == NULL ||
        value_expand(r->host, (lg_span_t){"Host", 4}, vals, out, cap, &n) != LG_OK)
        return 0;
    if (n == 0 || !lg_field_host_valid((lg_span_t){out, n})) {
        if (lg_debug_on())
            lg_debug("header rule Host: \"%.*s\" is not a valid Host, the request's stays", (int)n,
                     out);
        return 0;
    }
    return n;
}
