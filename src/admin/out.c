/*
 * out.c - a growing text buffer (see out.h).
 */
#include "admin/out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void lg_outf(lg_out_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        char *p;

        va_start(ap, fmt);
        n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = (o->cap + (size_t)n + 1) * 2;
        p = realloc(o->p, o->cap);
        if (p == NULL) {
            free(o->p);
            o->p = NULL;
            o->len = o->cap = 0;
            return;
        }
        o->p = p;
    }
}
