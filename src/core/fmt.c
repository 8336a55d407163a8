/*
 * fmt.c - formatting that reports truncation (see fmt.h).
 */
#include "core/fmt.h"

#include <stdio.h>
#include <string.h>

#include "core/lg.h"

int lg_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, size, fmt, ap);

    return n < 0 || (size_t)n >= size ? LG_ERR : LG_OK;
}

int lg_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = lg_vformat(buf, size, fmt, ap);
    va_end(ap);
    return r;
}

int lg_format_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (*len >= size)
        return LG_ERR;
    va_start(ap, fmt);
    r = lg_vformat(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (r == LG_OK)
        *len += strlen(buf + *len);
    return r;
}
