/*
 * errors.c - the list of configuration errors: collected while the file is walked (in whatever
 * order the checks run), then sorted into file order and formatted as "FILE:LINE:COL: error: MSG".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-int.h"

void lg_conf_err_add(lg_conf_errs_t *e, unsigned line, unsigned col, const char *fmt, ...)
{
    lg_conf_err_t *v;
    va_list ap;
    char *msg;
    int r;

    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;

        v = realloc(e->v, cap * sizeof(*v));
        if (v == NULL) {
            e->oom = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    va_start(ap, fmt);
    r = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (r < 0) {
        e->oom = 1;
        return;
    }
    e->v[e->n] = (lg_conf_err_t){.line = line, .col = col, .seq = e->n, .msg = msg};
    e->n++;
}

static int conf_err_cmp(const void *pa, const void *pb)
{
    const lg_conf_err_t *a = pa, *b = pb;

    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void lg_conf_errs_clear(lg_conf_errs_t *e)
{
    size_t i;

    for (i = 0; i < e->n; i++)
        free(e->v[i].msg);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

void lg_conf_errs_finish(lg_conf_errs_t *e, const char *file, lg_config_errors_t *out)
{
    size_t i, n, shown;
    char **lines;
    int r;

    qsort(e->v, e->n, sizeof(*e->v), conf_err_cmp);
    shown = LG_MIN(e->n, (size_t)LG_CONF_MAX_ERRORS);
    /* One more line for "too many errors", one for "out of memory" if that could not be added. */
    lines = calloc(shown + 2, sizeof(*lines));
    if (lines == NULL)
        goto out;
    n = 0;
    for (i = 0; i < shown; i++) {
        const lg_conf_err_t *er = &e->v[i];

        if (er->line == 0)
            r = asprintf(&lines[n], "%s: error: %s", file, er->msg);
        else
            r = asprintf(&lines[n], "%s:%u:%u: error: %s", file, er->line, er->col, er->msg);
        if (r >= 0)
            n++;
    }
    if (e->n > shown && asprintf(&lines[n], "%s: error: too many errors: %zu more not shown", file,
                                 e->n - shown) >= 0)
        n++;
    if (e->oom && asprintf(&lines[n], "%s: error: out of memory", file) >= 0)
        n++;
    out->lines = lines;
    out->n = n;
out:
    lg_conf_errs_clear(e);
}

void lg_config_error_add(lg_config_errors_t *errs, const lg_config_t *cf, lg_conf_pos_t pos,
                         const char *fmt, ...)
{
    char **lines = realloc(errs->lines, (errs->n + 1) * sizeof(*lines));
    char *msg = NULL;
    va_list ap;
    int r;

    if (lines == NULL)
        return;
    errs->lines = lines;
    va_start(ap, fmt);
    r = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    if (asprintf(&lines[errs->n], "%s:%u:%u: error: %s", cf->file, pos.line, pos.col, msg) >= 0)
        errs->n++;
    free(msg);
}
