/*
 * fmt.h - formatting into a fixed buffer, never cut silently.
 *
 * A buffer that holds a formatted value is sized for the largest value it can hold; these
 * functions say when it was not, and the caller treats that as the error it is rather than
 * send or compare a cut string (a cut Content-Length line lost its CRLF once: issue 12).
 */
#ifndef LG_FMT_H
#define LG_FMT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * snprintf into buf[0..size): LG_OK, or LG_ERR when the output did not fit or could not be
 * formatted (buf then holds a NUL-terminated prefix when size > 0; never use it as the value).
 */
int lg_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int lg_vformat(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Append at buf + *len, same contract; *len advances only on LG_OK. */
int lg_format_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
