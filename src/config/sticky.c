/*
 * sticky.c - pools.NAME.sticky: the cookie that keeps a client on the backend that served it
 * (src/upstream/sticky.c writes and reads it). Every value that goes into the Set-Cookie line
 * is checked here, so nothing written there can end the cookie or the header early.
 */
#include <string.h>

#include "config/config-int.h"

#define LG_MAX_AGE_MAX (400 * LG_MSEC_DAY) /* browsers cap Max-Age at 400 days (RFC 6265bis) */
/* so that a Set-Cookie value always fits LG_STICKY_COOKIE_MAX (upstream/sticky.h) */
#define LG_COOKIE_NAME_MAX 64
#define LG_COOKIE_PATH_MAX 256

static const char *const conf_samesites[] = {"lax", "strict", "none", NULL};

/* A cookie name: an RFC 9110 token. */
static void conf_cookie_name(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                             void *base, const lg_conf_field_t *f)
{
    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a cookie name") != LG_OK)
        return;
    if (v->len > LG_COOKIE_NAME_MAX) {
        lg_conf_perr(c, v, "cookie name too long: at most %d characters", LG_COOKIE_NAME_MAX);
        return;
    }
    if (!lg_conf_is_token(v->str)) {
        lg_conf_perr(c, v, "invalid cookie name %s: use letters, digits and !#$%%&'*+-.^_`|~",
                     lg_conf_q(c, v->str));
        return;
    }
    ((lg_sticky_conf_t *)base)->cookie = lg_arena_strndup(c->arena, v->str, v->len);
}

/* A cookie Path: "/" then visible ASCII without ';' or ',' (RFC 6265 path-value, stricter). */
static void conf_cookie_path(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                             void *base, const lg_conf_field_t *f)
{
    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a path starting with \"/\"") != LG_OK)
        return;
    if (v->len > LG_COOKIE_PATH_MAX) {
        lg_conf_perr(c, v, "cookie path too long: at most %d characters", LG_COOKIE_PATH_MAX);
        return;
    }
    for (size_t i = 0; i < v->len; i++) {
        unsigned char ch = (unsigned char)v->str[i];

        if ((i == 0 && ch != '/') || ch <= ' ' || ch >= 0x7F || ch == ';' || ch == ',') {
            lg_conf_perr(c, v,
                         "invalid cookie path %s: \"/\" then visible ASCII without ';' or ','",
                         lg_conf_q(c, v->str));
            return;
        }
    }
    ((lg_sticky_conf_t *)base)->path = lg_arena_strndup(c->arena, v->str, v->len);
}

static const lg_conf_field_t conf_sticky_fields[] = {
    LG_CONF_FN("cookie", conf_cookie_name, .flags = LG_CONF_REQUIRED),
    LG_CONF_FN("path", conf_cookie_path),
    LG_CONF_ROW("max_age", LG_CONF_DURATION, lg_sticky_conf_t, max_age, 0, LG_MAX_AGE_MAX),
    LG_CONF_ROW("samesite", LG_CONF_ENUM, lg_sticky_conf_t, samesite, 0, 0,
                .names = conf_samesites),
    LG_CONF_ROW("httponly", LG_CONF_ENUM, lg_sticky_conf_t, httponly, 0, 0, .names = lg_conf_bool),
    LG_CONF_END,
};

void lg_conf_sticky(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                    const lg_conf_field_t *f)
{
    lg_sticky_conf_t *s = &((lg_pool_conf_t *)base)->sticky;
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];

    LG_UNUSED(f);
    *s = (lg_sticky_conf_t){.samesite = LG_SAMESITE_LAX, .httponly = 1};
    lg_conf_walk(c, key, v, conf_sticky_fields, s, seen);
    if (s->path == NULL)
        s->path = lg_arena_strndup(c->arena, "/", 1);
}

LG_CONF_FITS(conf_sticky_fields);
