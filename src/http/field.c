/*
 * field.c - the syntax of HTTP/1.1 fields (see field.h).
 */
#include "http/field.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int lg_span_eq(lg_span_t s, const char *lower)
{
    size_t n = strlen(lower);

    return s.len == n && strncasecmp(s.p, lower, n) == 0;
}

int lg_span_is(lg_span_t s, const char *lit)
{
    size_t n = strlen(lit);

    return s.len == n && memcmp(s.p, lit, n) == 0;
}

lg_span_t lg_span_trim(const char *p, const char *e)
{
    lg_span_t s;

    while (p < e && lg_is_ows(*p))
        p++;
    while (e > p && lg_is_ows(e[-1]))
        e--;
    s.p = p;
    s.len = (size_t)(e - p);
    return s;
}

int lg_is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

int lg_hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int lg_field_is_token(lg_span_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (!lg_is_tchar((unsigned char)s.p[i]))
            return 0;
    }
    return s.len > 0;
}

/* A field value holds visible characters, obs-text, SP and HTAB: no NUL, CR, LF or other CTL. */
int lg_field_value_valid(lg_span_t v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.p[i];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 0;
    }
    return 1;
}

/* Next element of a comma-separated list at *p (before e), trimmed; 0 when none is left. */
int lg_field_list_next(const char **p, const char *e, lg_span_t *elem)
{
    while (*p < e) {
        const char *comma = memchr(*p, ',', (size_t)(e - *p));
        const char *te = comma != NULL ? comma : e;

        *elem = lg_span_trim(*p, te);
        *p = te < e ? te + 1 : e;
        if (elem->len > 0)
            return 1;
    }
    return 0;
}

/* host = IP-literal / reg-name (IPv4 is a reg-name here); port = *DIGIT (RFC 3986 3.2.2-3). */
int lg_field_host_valid(lg_span_t v)
{
    size_t i = 0;

    if (v.len > 0 && v.p[0] == '[') {
        const char *close = memchr(v.p, ']', v.len);

        if (close == NULL)
            return 0;
        for (i = 1; v.p + i < close; i++)
            if (!isxdigit((unsigned char)v.p[i]) && v.p[i] != ':' && v.p[i] != '.')
                return 0; /* IPv6 (IPvFuture is refused) */
        i++;
    } else {
        for (; i < v.len && v.p[i] != ':'; i++) {
            unsigned char ch = (unsigned char)v.p[i];

            if (!isalnum(ch) && (ch == '\0' || strchr("-._~!$&'()*+,;=%", ch) == NULL))
                return 0;
        }
    }
    if (i < v.len && v.p[i++] != ':')
        return 0; /* something after an IP literal other than a port */
    for (; i < v.len; i++)
        if (!isdigit((unsigned char)v.p[i]))
            return 0;
    return 1;
}

int lg_field_is_http_version(lg_span_t v)
{
    return v.len == sizeof("HTTP/1.1") - 1 && memcmp(v.p, "HTTP/", 5) == 0 &&
           isdigit((unsigned char)v.p[5]) && v.p[6] == '.' && isdigit((unsigned char)v.p[7]);
}

/* A protocol of an Upgrade list: token ["/" token]. */
int lg_field_is_protocol(lg_span_t t)
{
    const char *slash = memchr(t.p, '/', t.len);
    lg_span_t name = t, version;

    if (slash == NULL)
        return lg_field_is_token(name);
    name.len = (size_t)(slash - t.p);
    version.p = slash + 1;
    version.len = t.len - name.len - 1;
    return lg_field_is_token(name) && lg_field_is_token(version);
}

/* A Content-Length lifeguard can carry: 1*DIGIT up to 2^63-1, as llhttp checked the rest. */
int lg_field_length_valid(lg_span_t v)
{
    uint64_t n = 0;

    for (size_t i = 0; i < v.len; i++) {
        unsigned d = (unsigned)(v.p[i] - '0');

        if (d > 9 || n > ((uint64_t)INT64_MAX - d) / 10)
            return 0;
        n = n * 10 + d;
    }
    return v.len > 0;
}
