/*
 * field.h - the syntax of HTTP/1.1 fields (RFC 9110 5.1, 5.5, 5.6; RFC 9112 5): tokens, field
 * values, comma-separated lists, and the few values lifeguard reads itself. Pure functions over
 * spans of the caller's bytes; nothing allocates.
 */
#ifndef LG_FIELD_H
#define LG_FIELD_H

#include <stddef.h>
#include <stdint.h>

typedef struct lg_span {
    const char *p;
    size_t len;
} lg_span_t;

/* OWS: SP or HTAB. */
static inline int lg_is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Case-insensitive comparison of a span with a NUL-terminated lower-case string. */
int lg_span_eq(lg_span_t s, const char *lower);
/* Exact (case-sensitive) comparison of a span with a NUL-terminated string: methods, pseudo-
 * header and HTTP/2 field names (already lower case on the wire). */
int lg_span_is(lg_span_t s, const char *lit);
/* p[0..e) without leading and trailing SP and HTAB (OWS). */
lg_span_t lg_span_trim(const char *p, const char *e);

/* RFC 9110 tchar: a character of a token (a method, a field name, a coding, a protocol). */
int lg_is_tchar(unsigned char ch);
/* The value of a hex digit, or -1. */
int lg_hex_value(char ch);
/* A token: one or more tchar (a method, a field name, a protocol name). */
int lg_field_is_token(lg_span_t s);
/* A field value: visible characters, obs-text, SP, HTAB; no NUL, CR, LF or other control. */
int lg_field_value_valid(lg_span_t v);
/*
 * The next non-empty element of the list at *p (before e), without its OWS; *p moves past it.
 * Returns 0 when no element is left.
 */
int lg_field_list_next(const char **p, const char *e, lg_span_t *elem);
/* RFC 3986 host [":" port]: reg-name or IPv4, or an IP literal in brackets; the port digits only.
 */
int lg_field_host_valid(lg_span_t v);
/* HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3), whatever the digits. */
int lg_field_is_http_version(lg_span_t v);
/* An Upgrade protocol: token ["/" token]. */
int lg_field_is_protocol(lg_span_t t);
/* A Content-Length lifeguard carries: 1*DIGIT, at most 2^63-1 (leading zeros allowed). */
int lg_field_length_valid(lg_span_t v);

#endif
