/*
 * tmpl.c - templates with {variables} (tmpl.h).
 */
#include "http/tmpl.h"

#include <string.h>

#include "core/lg.h"

static const char *const var_names[LG_VAR_COUNT] = {
    "host", "uri", "path", "query", "scheme", "client_ip", "request_id",
};

const char *lg_var_name(lg_var_t var)
{
    return (unsigned)var < LG_VAR_COUNT ? var_names[var] : "?";
}

/* A control byte other than HTAB: never in a head value. */
static int is_ctl(unsigned char ch)
{
    return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/* The length of "{name}" at s (name: [a-z_]+), 0 when s does not start such a token. */
static size_t var_token(const char *s, size_t len)
{
    size_t i = 1;

    while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
        i++;
    return i > 1 && i < len && s[i] == '}' ? i + 1 : 0;
}

size_t lg_tmpl_max_parts(const char *s, size_t len)
{
    size_t n = 1;

    for (size_t i = 0; i < len; i++)
        n += s[i] == '{' ? 2 : 0; /* a variable and the text after it */
    return n;
}

static int var_lookup(const char *name, size_t len)
{
    for (int i = 0; i < LG_VAR_COUNT; i++)
        if (strlen(var_names[i]) == len && memcmp(var_names[i], name, len) == 0)
            return i;
    return -1;
}

int lg_tmpl_compile(const char *s, size_t len, lg_tmpl_part_t *parts, lg_tmpl_t *t,
                    lg_tmpl_err_t *err)
{
    size_t i = 0, lit = 0, n = 0, tok;
    int var;

    memset(t, 0, sizeof(*t));
    for (; i < len; i++) {
        if (is_ctl((unsigned char)s[i])) {
            *err = (lg_tmpl_err_t){"control character", i, 1};
            return LG_ERR;
        }
        if (s[i] != '{' || (tok = var_token(s + i, len - i)) == 0)
            continue;
        if ((var = var_lookup(s + i + 1, tok - 2)) < 0) {
            *err = (lg_tmpl_err_t){"unknown variable", i, tok};
            return LG_ERR;
        }
        if (i > lit)
            parts[n++] = (lg_tmpl_part_t){s + lit, (uint32_t)(i - lit), 0};
        parts[n++] = (lg_tmpl_part_t){NULL, 0, (uint8_t)var};
        t->vars |= 1u << var;
        i += tok - 1;
        lit = i + 1;
    }
    if (len > lit)
        parts[n++] = (lg_tmpl_part_t){s + lit, (uint32_t)(len - lit), 0};
    t->parts = parts;
    t->nparts = n;
    return LG_OK;
}

int lg_tmpl_expand(const lg_tmpl_t *t, const lg_tmpl_vars_t *v, char *out, size_t cap, size_t *n)
{
    size_t at = 0;

    for (size_t i = 0; i < t->nparts; i++) {
        const lg_tmpl_part_t *p = &t->parts[i];
        lg_span_t val = p->lit != NULL ? (lg_span_t){p->lit, p->len} : v->v[p->var];

        if (val.len > cap - at)
            return LG_ERR;
        for (size_t j = 0; p->lit == NULL && j < val.len; j++)
            if (is_ctl((unsigned char)val.p[j]))
                return LG_ERR;
        if (val.len > 0)
            memcpy(out + at, val.p, val.len);
        at += val.len;
    }
    *n = at;
    return LG_OK;
}
