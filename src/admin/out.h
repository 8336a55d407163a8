/*
 * out.h - a growing text buffer for the admin responses (the pages are built whole, then sent).
 */
#ifndef LG_OUT_H
#define LG_OUT_H

#include <stddef.h>

typedef struct lg_out {
    char *p; /* NULL until the first write; free() it */
    size_t len, cap;
} lg_out_t;

/* Append printf-style output; out of memory empties the buffer (the page is then not sent). */
void lg_outf(lg_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
