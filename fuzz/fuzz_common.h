/*
 * fuzz_common.h - what the head fuzz targets share: llhttp set up as a worker sets it up
 * (strict, no lenient flag, paused at the end of the head), and the fields of a head as llhttp
 * saw them, so a rebuilt head can be compared with the one it came from.
 *
 * Header only (static functions), so that each fuzz/fuzz_*.c is one program.
 */
#ifndef LG_FUZZ_COMMON_H
#define LG_FUZZ_COMMON_H

#include <llhttp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/head.h"

#define FZ_MAX_FIELDS 512
#define FZ_HEAD_MAX   16384 /* limits.max_header_size by default: longer heads get 431 */

/* One header field, as llhttp reported it (pointers into the parsed bytes). */
typedef struct fz_field {
    lg_span_t name, value;
} fz_field_t;

/* A head as llhttp parsed it. */
typedef struct fz_head {
    llhttp_t p;
    size_t len; /* head length, up to and including the empty line */
    lg_span_t url;
    fz_field_t f[FZ_MAX_FIELDS];
    size_t n;
    int overflow; /* more fields than FZ_MAX_FIELDS */
} fz_head_t;

static void fz_extend(lg_span_t *s, const char *at, size_t len)
{
    if (s->len == 0)
        s->p = at;
    s->len += len; /* one execute over contiguous bytes: pieces are adjacent */
}

static int fz_on_url(llhttp_t *p, const char *at, size_t len)
{
    fz_extend(&((fz_head_t *)p->data)->url, at, len);
    return 0;
}

static int fz_on_field(llhttp_t *p, const char *at, size_t len)
{
    fz_head_t *h = p->data;

    if (h->n == FZ_MAX_FIELDS) {
        h->overflow = 1;
        return 0;
    }
    fz_extend(&h->f[h->n].name, at, len);
    return 0;
}

static int fz_on_value(llhttp_t *p, const char *at, size_t len)
{
    fz_head_t *h = p->data;

    if (h->n < FZ_MAX_FIELDS)
        fz_extend(&h->f[h->n].value, at, len);
    return 0;
}

static int fz_on_value_complete(llhttp_t *p)
{
    fz_head_t *h = p->data;

    if (h->n < FZ_MAX_FIELDS)
        h->n++;
    return 0;
}

static int fz_on_head(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED;
}

/* Parse the head at data[0..len) strictly; 1 when llhttp stopped at its end, 0 otherwise. */
static int fz_parse(fz_head_t *h, llhttp_type_t type, const char *data, size_t len)
{
    static llhttp_settings_t st;

    memset(h, 0, sizeof(*h));
    llhttp_settings_init(&st);
    st.on_url = fz_on_url;
    st.on_header_field = fz_on_field;
    st.on_header_value = fz_on_value;
    st.on_header_value_complete = fz_on_value_complete;
    st.on_headers_complete = fz_on_head;
    llhttp_init(&h->p, type, &st);
    h->p.data = h;
    if (llhttp_execute(&h->p, data, len) != HPE_PAUSED || h->overflow)
        return 0;
    h->len = (size_t)(llhttp_get_error_pos(&h->p) - data);
    return 1;
}

static int fz_span_same(lg_span_t a, lg_span_t b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static int fz_named_by(const lg_conn_hdrs_t *ch, lg_span_t name)
{
    for (unsigned i = 0; i < ch->ntokens; i++) {
        if (ch->tokens[i].len == name.len && strncasecmp(ch->tokens[i].p, name.p, name.len) == 0)
            return 1;
    }
    return 0;
}

/* The next end-to-end field of h from *i on (not managed by lifeguard, not named by
 * Connection, Upgrade too when `keep_upgrade`), or NULL. */
static const fz_field_t *fz_next_e2e(const fz_head_t *h, size_t *i, const lg_conn_hdrs_t *ch,
                                     int keep_upgrade)
{
    while (*i < h->n) {
        const fz_field_t *f = &h->f[(*i)++];
        lg_hdr_kind_t kind = lg_hdr_kind(f->name.p, f->name.len);

        if ((kind == LG_H_OTHER && (ch == NULL || !fz_named_by(ch, f->name))) ||
            (keep_upgrade && kind == LG_H_UPGRADE))
            return f;
    }
    return NULL;
}

/* Abort unless both heads carry the same end-to-end fields, in the same order. */
static void fz_same_e2e(const fz_head_t *a, const lg_conn_hdrs_t *ach, const fz_head_t *b,
                        int keep_upgrade)
{
    size_t i = 0, j = 0;
    const fz_field_t *x, *y;

    do {
        x = fz_next_e2e(a, &i, ach, keep_upgrade);
        y = fz_next_e2e(b, &j, NULL, keep_upgrade);
        if ((x == NULL) != (y == NULL))
            abort();
        if (x != NULL && (!fz_span_same(x->name, y->name) || !fz_span_same(x->value, y->value)))
            abort();
    } while (x != NULL);
}

#endif
