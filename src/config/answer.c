/*
 * answer.c - a route's answers without a backend: `redirect: {to, status}` and
 * `respond: {status, body, content_type}`, the template values they hold (shared with other
 * keys through lg_conf_tmpl), and the check that a route has a pool or an answer, not both.
 */
#include <string.h>

#include "config/config-int.h"

/* The redirect statuses, as written in the file. */
static const char *const conf_redirect_codes[] = {"301", "302", "303", "307", "308", NULL};

#define LG_REDIRECT_DEFAULT 302 /* as Caddy's redir: temporary, the method may change */
#define LG_RESPOND_DEFAULT  200

int lg_conf_tmpl(lg_conf_ctx_t *c, const lg_ynode_t *v, lg_tmpl_t *t)
{
    lg_tmpl_part_t *parts;
    lg_tmpl_err_t err;
    lg_ynode_t at = *v;
    char *s, fault[LG_CONF_QUOTE_MAX];

    if ((s = lg_arena_strndup(c->arena, v->str, v->len)) == NULL ||
        (parts = lg_arena_calloc(c->arena, lg_tmpl_max_parts(s, v->len), sizeof(*parts))) == NULL)
        return LG_ERR;
    if (lg_tmpl_compile(s, v->len, parts, t, &err) == LG_OK)
        return LG_OK;
    if (err.len > sizeof(fault) - 1)
        err.len = sizeof(fault) - 1;
    memcpy(fault, s + err.at, err.len);
    fault[err.len] = '\0';
    at.col += (unsigned)v->quoted + (unsigned)err.at; /* the fault itself, in the file */
    if (strcmp(err.why, "unknown variable") == 0)
        lg_conf_perr(c, &at,
                     "unknown variable %s in %s (known: {host}, {uri}, {path}, {query}, "
                     "{scheme}, {client_ip}, {request_id})",
                     lg_conf_q(c, fault), lg_conf_q(c, s));
    else
        lg_conf_perr(c, &at, "%s %s at byte %zu of %s", err.why, lg_conf_q(c, fault), err.at + 1,
                     lg_conf_q(c, s));
    return LG_ERR;
}

static void conf_redirect_to(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                             void *base, const lg_conf_field_t *f)
{
    lg_answer_conf_t *a = base;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a target such as \"https://{host}{uri}\"") != LG_OK)
        return;
    if (v->len == 0)
        lg_conf_perr(c, v, "must not be empty");
    else
        lg_conf_tmpl(c, v, &a->to);
}

static void conf_redirect_status(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                                 void *base, const lg_conf_field_t *f)
{
    lg_answer_conf_t *a = base;
    uint64_t n;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a redirect status such as 308") != LG_OK)
        return;
    for (size_t i = 0; conf_redirect_codes[i] != NULL; i++)
        if (strcmp(v->str, conf_redirect_codes[i]) == 0 &&
            lg_conf_parse_uint(v->str, &n) == LG_OK) {
            a->status = (unsigned)n;
            return;
        }
    lg_conf_perr(c, v, "invalid redirect status %s: expected 301, 302, 303, 307 or 308",
                 lg_conf_q(c, v->str));
}

/* Any text, newlines included, up to LG_RESPOND_BODY_MAX bytes; "" (or nothing) is empty. */
static void conf_respond_body(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                              void *base, const lg_conf_field_t *f)
{
    lg_answer_conf_t *a = base;

    LG_UNUSED(f);
    LG_UNUSED(key);
    if (v->kind != LG_YNODE_SCALAR) {
        lg_conf_perr(c, v, "expected the body as a string, got %s", lg_conf_kind(v));
        return;
    }
    if (v->len > LG_RESPOND_BODY_MAX) {
        lg_conf_perr(c, v, "a body of %zu bytes is too large (at most %d)", v->len,
                     LG_RESPOND_BODY_MAX);
        return;
    }
    a->body = lg_arena_strndup(c->arena, v->is_null ? "" : v->str, v->is_null ? 0 : v->len);
    a->body_len = v->is_null ? 0 : v->len;
}

static const lg_conf_field_t conf_redirect_fields[] = {
    LG_CONF_FN("to", conf_redirect_to, .flags = LG_CONF_REQUIRED),
    LG_CONF_FN("status", conf_redirect_status),
    LG_CONF_END,
};

static const lg_conf_field_t conf_respond_fields[] = {
    LG_CONF_ROW("status", LG_CONF_UINT, lg_answer_conf_t, status, 200, 599),
    LG_CONF_FN("body", conf_respond_body),
    LG_CONF_ROW("content_type", LG_CONF_STRING, lg_answer_conf_t, content_type, 0, 0),
    LG_CONF_END,
};

/* redirect or respond (`redirect` says which): a mapping read into the route's answer. */
static void conf_answer(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                        lg_route_conf_t *r, unsigned redirect)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    lg_answer_conf_t *a;

    if (r->answer != NULL) {
        lg_conf_perr(c, key, "a route answers with redirect or respond, not both");
        return;
    }
    if ((a = lg_arena_calloc(c->arena, 1, sizeof(*a))) == NULL)
        return;
    a->redirect = redirect;
    a->status = redirect ? LG_REDIRECT_DEFAULT : LG_RESPOND_DEFAULT;
    a->body = "";
    lg_conf_walk(c, key, v, redirect ? conf_redirect_fields : conf_respond_fields, a, seen);
    if (!redirect && (a->status == 204 || a->status == 304) && a->body_len > 0)
        lg_conf_key_err(c, lg_conf_seen(conf_respond_fields, seen, "body")->val, "body",
                        "a %u response has no body", a->status);
    r->answer = a;
}

void lg_conf_redirect(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f)
{
    LG_UNUSED(f);
    conf_answer(c, key, v, base, 1);
}

void lg_conf_respond(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                     const lg_conf_field_t *f)
{
    LG_UNUSED(f);
    conf_answer(c, key, v, base, 0);
}

void lg_conf_route_target(lg_conf_ctx_t *c, const lg_ynode_t *item, const lg_route_conf_t *r,
                          const lg_conf_seen_t *pool)
{
    if (r->answer == NULL && pool == NULL)
        lg_conf_perr(c, item, "missing required key \"pool\" (or an answer: redirect or respond)");
    else if (r->answer != NULL && pool != NULL)
        lg_conf_key_err(c, pool->key, "pool",
                        "not used with %s (the route answers without a backend)",
                        r->answer->redirect ? "redirect" : "respond");
}

LG_CONF_FITS(conf_redirect_fields);
LG_CONF_FITS(conf_respond_fields);
