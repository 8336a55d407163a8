/*
 * path.c - request path normalisation (see path.h).
 *
 * One pass over the path writes the output: each input byte (or escape) becomes one output
 * character, written raw or as an upper-case escape, and every '/' that ends a segment first
 * looks at that segment: "." is dropped, ".." drops itself and the segment before it, an empty
 * one (a second slash) is merged away.
 */
#include "http/path.h"

#include <stdint.h>
#include <string.h>

#include "http/field.h"

#define LG_HTTP_400 400
#define LG_HTTP_414 414
#define LG_ESC_LEN  3 /* "%XX" */

typedef struct norm {
    char *out;
    size_t cap, o;
    size_t seg; /* where the current segment starts in out */
} norm_t;

/* The value of the escape at p[0..2) ("4a" of "%4a"), or -1 when it is malformed. */
static int escape_value(const char *p, const char *end)
{
    int hi, lo;

    if (end - p < 2 || (hi = lg_hex_value(p[0])) < 0 || (lo = lg_hex_value(p[1])) < 0)
        return -1;
    return hi << 4 | lo;
}

static int is_ctl(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

static int is_unreserved(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* RFC 3986 pchar, but for escapes: unreserved, sub-delims, ':' and '@'. */
static int is_pchar(unsigned char ch)
{
    return is_unreserved(ch) || (ch != '\0' && strchr("!$&'()*+,;=:@", ch) != NULL);
}

static int emit(norm_t *n, const char *s, size_t len)
{
    if (n->cap - n->o < len)
        return LG_HTTP_414;
    memcpy(n->out + n->o, s, len);
    n->o += len;
    return 0;
}

static int emit_escape(norm_t *n, unsigned char v)
{
    static const char hex[] = "0123456789ABCDEF";
    char esc[LG_ESC_LEN] = {'%', hex[v >> 4], hex[v & 0xf]};

    return emit(n, esc, sizeof(esc));
}

/* The segment out[seg..o) is complete: drop it when it is "." or "..", with its parent. */
static int segment_end(norm_t *n)
{
    size_t len = n->o - n->seg;
    const char *s = n->out + n->seg;

    if (len == 1 && s[0] == '.') {
        n->o = n->seg;
    } else if (len == 2 && s[0] == '.' && s[1] == '.') {
        if (n->seg == 1)
            return LG_HTTP_400; /* above the root */
        n->o = n->seg - 1;
        while (n->out[n->o - 1] != '/')
            n->o--;
        n->seg = n->o;
    }
    return 0;
}

static int slash(norm_t *n)
{
    int r = segment_end(n);

    if (r != 0 || n->out[n->o - 1] == '/')
        return r; /* merged */
    r = emit(n, "/", 1);
    n->seg = n->o;
    return r;
}

/* One byte of the path (or the escape it starts); returns the bytes used, or -status. */
static long path_byte(norm_t *n, const char *p, const char *end)
{
    unsigned char ch = (unsigned char)*p;
    int v, r;

    if (ch == '/')
        return (r = slash(n)) != 0 ? -r : 1;
    if (ch == '%') {
        if ((v = escape_value(p + 1, end)) < 0 || v == '/' || is_ctl((unsigned char)v))
            return -LG_HTTP_400;
        if (is_unreserved((unsigned char)v)) {
            char dec = (char)v;

            r = emit(n, &dec, 1);
        } else {
            r = emit_escape(n, (unsigned char)v);
        }
        return r != 0 ? -r : LG_ESC_LEN;
    }
    if (is_ctl(ch) || ch == ' ' || ch == '#')
        return -LG_HTTP_400;
    r = is_pchar(ch) ? emit(n, (const char *)p, 1) : emit_escape(n, ch);
    return r != 0 ? -r : 1;
}

/* The query after '?': copied as it is; no control character, space, '#' or bad escape. */
static int query_copy(norm_t *n, const char *p, const char *end)
{
    for (const char *q = p; q < end; q++) {
        unsigned char ch = (unsigned char)*q;

        if (is_ctl(ch) || ch == ' ' || ch == '#')
            return LG_HTTP_400;
        if (ch == '%' && escape_value(q + 1, end) < 0)
            return LG_HTTP_400;
    }
    return emit(n, p, (size_t)(end - p));
}

/* Normalise p[0..end), a path after its root '/' (and maybe "?query"), as "/..." into n. */
static int normalize(const char *p, const char *end, char *out, size_t cap, size_t *outlen)
{
    const char *qm = memchr(p, '?', (size_t)(end - p));
    const char *pend = qm != NULL ? qm : end;
    norm_t n = {out, cap, 0, 1};
    int r;

    if ((r = emit(&n, "/", 1)) != 0)
        return r;
    while (p < pend) {
        long used = path_byte(&n, p, pend);

        if (used < 0)
            return (int)-used;
        p += used;
    }
    if ((r = segment_end(&n)) != 0 || (qm != NULL && (r = query_copy(&n, qm, end)) != 0))
        return r;
    *outlen = n.o;
    return 0;
}

int lg_path_normalize(const char *in, size_t len, char *out, size_t cap, size_t *outlen)
{
    if (len > 0 && in[0] != '/' && in[0] != '?')
        return LG_HTTP_400;
    if (len > 0 && in[0] == '/')
        return normalize(in + 1, in + len, out, cap, outlen);
    return normalize(in, in + len, out, cap, outlen);
}

int lg_path_strip(const char *path, size_t len, size_t n, char *out, size_t cap, size_t *outlen)
{
    const char *p = path + n, *end = path + len;

    if (p < end && *p == '/')
        p++;
    return normalize(p, end, out, cap, outlen);
}
