/*
 * headers.c - a route's request_headers and response_headers: {set: {Name: value}, add: {Name:
 * value}, remove: [Name...]} read into header rules (http/rules.h), values compiled as templates
 * into the configuration's arena. Refused names, unknown variables and control characters are
 * reported at the name or inside the value.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "config/config-int.h"
#include "http/rules.h"

/* The rules of one direction being read, with the node that named each (for messages). */
typedef struct rules_build {
    lg_hdr_rule_t *v;
    const lg_ynode_t **at;
    size_t n, cap;
    int request;
} rules_build_t;

/*
 * Compile value node v of the rule named by `name` into *t (the text copied to the arena). A
 * value that starts or ends with whitespace is refused: an HTTP/1.1 recipient drops it, and an
 * HTTP/2 field with it is malformed (RFC 9113 8.2.1).
 */
static int value_compile(lg_conf_ctx_t *c, const lg_ynode_t *name, const lg_ynode_t *v,
                         lg_tmpl_t *t)
{
    if (v->kind != LG_YNODE_SCALAR || v->is_null) {
        lg_conf_perr(c, v->is_null ? name : v,
                     "header %s: expected a value (\"\" for an empty one)",
                     lg_conf_q(c, name->str));
        return LG_ERR;
    }
    if (v->len > 0 && (lg_is_ows(v->str[0]) || lg_is_ows(v->str[v->len - 1]))) {
        lg_conf_perr(c, name,
                     "header %s: a value cannot start or end with a space or tab (HTTP/1.1 "
                     "recipients drop it, in HTTP/2 it makes the message malformed)",
                     lg_conf_q(c, name->str));
        return LG_ERR;
    }
    return lg_conf_tmpl(c, v, t);
}

/* A rule of `op` for name node `name` (and value node `v` for set and add), appended to b. */
static void rule_add(lg_conf_ctx_t *c, rules_build_t *b, lg_rule_op_t op, const lg_ynode_t *name,
                     const lg_ynode_t *v)
{
    lg_hdr_rule_t *rl = &b->v[b->n];
    const char *why;
    char *lname;

    if (name->kind != LG_YNODE_SCALAR || name->is_null) {
        lg_conf_perr(c, name, "expected a header name, got %s", lg_conf_kind(name));
        return;
    }
    why = lg_hdr_rule_refused((lg_span_t){name->str, name->len}, b->request, op);
    if (why != NULL) {
        lg_conf_perr(c, name, "header %s may not be named: %s", lg_conf_q(c, name->str), why);
        return;
    }
    if (v != NULL && value_compile(c, name, v, &rl->value) != LG_OK)
        return;
    rl->name.p = lg_arena_strndup(c->arena, name->str, name->len);
    rl->name.len = name->len;
    rl->lname = lname = lg_arena_strndup(c->arena, name->str, name->len);
    for (size_t i = 0; lname != NULL && i < name->len; i++)
        lname[i] = (char)tolower((unsigned char)lname[i]);
    rl->op = op;
    b->at[b->n++] = name;
}

/* set: / add: a mapping of names to values. */
static void rules_map(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                      rules_build_t *b, lg_rule_op_t op)
{
    if (lg_conf_want_items(c, key, v, LG_YNODE_MAP, "needs at least one header",
                           "a mapping of header names to values, such as {X-Env: prod}") != LG_OK)
        return;
    for (size_t i = 0; i + 1 < v->nkids && b->n < b->cap; i += 2)
        rule_add(c, b, op, v->kids[i], v->kids[i + 1]);
}

static void conf_set(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                     const lg_conf_field_t *f)
{
    LG_UNUSED(f);
    rules_map(c, key, v, base, LG_RULE_SET);
}

static void conf_add(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                     const lg_conf_field_t *f)
{
    LG_UNUSED(f);
    rules_map(c, key, v, base, LG_RULE_ADD);
}

/* remove: a list of names. */
static void conf_remove(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                        const lg_conf_field_t *f)
{
    rules_build_t *b = base;

    LG_UNUSED(f);
    if (lg_conf_want_items(c, key, v, LG_YNODE_SEQ, "needs at least one header",
                           "a list of header names, such as [X-Debug]") != LG_OK)
        return;
    for (size_t i = 0; i < v->nkids && b->n < b->cap; i++)
        rule_add(c, b, LG_RULE_REMOVE, v->kids[i], NULL);
}

static const lg_conf_field_t conf_rules_fields[] = {
    LG_CONF_FN("set", conf_set),
    LG_CONF_FN("add", conf_add),
    LG_CONF_FN("remove", conf_remove),
    LG_CONF_END,
};

LG_CONF_FITS(conf_rules_fields);

/* The rules the mapping v can hold at most: one per name it lists. */
static size_t rules_count(const lg_ynode_t *v)
{
    size_t n = 0;

    for (size_t i = 0; v->kind == LG_YNODE_MAP && i + 1 < v->nkids; i += 2)
        n += v->kids[i + 1]->kind == LG_YNODE_MAP ? v->kids[i + 1]->nkids / 2
                                                  : v->kids[i + 1]->nkids;
    return n;
}

static const char *const op_names[] = {"set", "add", "remove"};

/*
 * A name twice in one of set, add, remove (a mistake: the second would hide the first), or both
 * set and removed (which one is meant?). Set and add, or add and remove, of one name are fine.
 */
static void rules_conflicts(lg_conf_ctx_t *c, const rules_build_t *b)
{
    for (size_t j = 1; j < b->n; j++) {
        for (size_t i = 0; i < j; i++) {
            const lg_hdr_rule_t *x = &b->v[i], *y = &b->v[j];

            if (x->name.len != y->name.len || strncasecmp(x->name.p, y->name.p, x->name.len) != 0)
                continue;
            if (x->op == y->op || (x->op != LG_RULE_ADD && y->op != LG_RULE_ADD)) {
                lg_conf_perr(c, b->at[j], "header %s is named twice (%s at line %u, then %s)",
                             lg_conf_q(c, b->at[j]->str), op_names[x->op], b->at[i]->line,
                             op_names[y->op]);
                break;
            }
        }
    }
}

/* A request's `set: {Host: ...}` goes apart, and a literal one must be a valid Host. */
static void rules_host(lg_conf_ctx_t *c, rules_build_t *b, lg_hdr_rules_t *r)
{
    for (size_t i = 0; b->request && i < b->n; i++) {
        const lg_tmpl_t *t = &b->v[i].value;
        lg_span_t lit =
            t->nparts == 1 ? (lg_span_t){t->parts[0].lit, t->parts[0].len} : (lg_span_t){"", 0};
        lg_tmpl_t *host;

        if (!lg_span_eq(b->v[i].name, "host"))
            continue;
        if ((host = lg_arena_alloc(c->arena, sizeof(*host))) == NULL)
            return;
        *host = *t; /* the rule's place is taken by the next ones */
        r->host = host;
        if (t->vars == 0 && (lit.len == 0 || !lg_field_host_valid(lit)))
            lg_conf_perr(c, b->at[i], "header \"Host\": %s is not a valid host[:port]",
                         lg_conf_q(c, lg_arena_strndup(c->scratch, lit.p, lit.len)));
        memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof(*b->v));
        b->n--;
        return;
    }
}

static void conf_rules(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                       const lg_hdr_rules_t **out, int request)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    rules_build_t b = {.request = request};
    lg_hdr_rules_t *r;

    if (lg_conf_want_items(c, key, v, LG_YNODE_MAP, "needs set, add or remove",
                           "a mapping with set, add or remove") != LG_OK)
        return;
    b.cap = rules_count(v);
    b.v = lg_arena_calloc(c->arena, b.cap + 1, sizeof(*b.v));
    b.at = lg_arena_calloc(c->scratch, b.cap + 1, sizeof(*b.at));
    r = lg_arena_calloc(c->arena, 1, sizeof(*r));
    if (b.v == NULL || b.at == NULL || r == NULL)
        return;
    lg_conf_walk(c, key, v, conf_rules_fields, &b, seen);
    rules_conflicts(c, &b);
    rules_host(c, &b, r);
    for (size_t i = 0; i < b.n; i++)
        r->vars |= b.v[i].value.vars;
    r->vars |= r->host != NULL ? r->host->vars : 0;
    r->v = b.v;
    r->n = b.n;
    *out = r;
}

void lg_conf_request_headers(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                             void *base, const lg_conf_field_t *f)
{
    LG_UNUSED(f);
    conf_rules(c, key, v, &((lg_route_conf_t *)base)->request_headers, 1);
}

void lg_conf_response_headers(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                              void *base, const lg_conf_field_t *f)
{
    LG_UNUSED(f);
    conf_rules(c, key, v, &((lg_route_conf_t *)base)->response_headers, 0);
}
