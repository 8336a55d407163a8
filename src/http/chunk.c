/*
 * chunk.c - the chunked transfer coding: strict decoder, encoder, Transfer-Encoding lists
 * (see chunk.h).
 */
#include "http/chunk.h"

#include <string.h>
#include <strings.h>

#include "core/lg.h"

/* Sizes are kept below 2^63: one more hex digit on this would reach it. */
#define LG_CHUNK_SIZE_SHIFT_MAX (UINT64_C(0x7fffffffffffffff) >> 4)

enum { S_SIZE, S_DATA, S_DATA_END, S_TRAILER, S_DONE, S_FAILED };

/* Trailer fields never forwarded: framing, routing, connection, authentication, content
 * processing and response control data (RFC 9110 6.5.1), and what lifeguard itself adds. */
static const char *const dropped[] = {
    "transfer-encoding",
    "content-length",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "http2-settings",
    "content-encoding",
    "content-type",
    "content-range",
    "expect",
    "range",
    "max-forwards",
    "cache-control",
    "pragma",
    "authorization",
    "proxy-authorization",
    "proxy-authenticate",
    "www-authenticate",
    "cookie",
    "set-cookie",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "x-request-id",
    "location",
    "age",
    "expires",
    "date",
    "vary",
    "retry-after",
};

static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int is_ws(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && is_ws(*p))
        p++;
    return p;
}

static const char *token_end(const char *p, const char *e)
{
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    return p;
}

/* The end of a quoted-string starting at p ('"'), or NULL when it is not one. */
static const char *quoted_end(const char *p, const char *e)
{
    if (p == e || *p != '"')
        return NULL;
    for (p++; p < e; p++) {
        unsigned char ch = (unsigned char)*p;

        if (ch == '"')
            return p + 1;
        if (ch == '\\') {
            if (++p == e)
                return NULL;
            ch = (unsigned char)*p;
            if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
                return NULL;
        } else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
            return NULL;
        }
    }
    return NULL;
}

/* token / quoted-string at p: its end, or NULL. */
static const char *word_end(const char *p, const char *e)
{
    const char *q = token_end(p, e);

    return q > p ? q : quoted_end(p, e);
}

/*
 * Parameters after a token: *( BWS ";" BWS name [ BWS "=" BWS word ] ) up to e. `need_value`:
 * every parameter has a value (transfer-parameter) rather than optionally (chunk-ext).
 */
static int params_valid(const char *p, const char *e, int need_value)
{
    while (p < e) {
        const char *q;

        p = skip_ws(p, e);
        if (p == e || *p != ';')
            return 0;
        p = skip_ws(p + 1, e);
        q = token_end(p, e);
        if (q == p)
            return 0;
        p = skip_ws(q, e);
        if (p < e && *p == '=') {
            p = word_end(skip_ws(p + 1, e), e);
            if (p == NULL)
                return 0;
        } else if (need_value) {
            return 0;
        } else {
            p = q; /* BWS before the next ';' is read by the loop */
        }
    }
    return 1;
}

static lg_chunk_evt_t bad(lg_chunk_t *d, const char *why)
{
    d->state = S_FAILED;
    d->why = why;
    return LG_CHUNK_BAD;
}

void lg_chunk_init(lg_chunk_t *d)
{
    memset(d, 0, sizeof(*d));
    d->state = S_SIZE;
}

/*
 * Find the CRLF that ends the line at `in`. Returns 1 with *n = the line's length without
 * CRLF, LG_CHUNK_NEED (0) when incomplete, LG_CHUNK_BAD.
 */
static int line_end(lg_chunk_t *d, const char *in, size_t len, size_t *n)
{
    size_t start = d->seen > 0 && d->seen <= len ? d->seen - 1 : 0;
    const char *lf = memchr(in + start, '\n', len - start);
    size_t end = lf != NULL ? (size_t)(lf - in) : len;
    const char *cr = memchr(in + start, '\r', end - start);

    if (lf == NULL) {
        if (cr != NULL && cr != in + len - 1)
            return bad(d, "CR not followed by LF");
        if (len > LG_CHUNK_LINE_MAX)
            return bad(d, "line too long");
        d->seen = (uint32_t)len;
        return LG_CHUNK_NEED;
    }
    if (cr == NULL || cr != lf - 1)
        return bad(d, cr == NULL ? "bare LF" : "CR not followed by LF");
    if (end - 1 > LG_CHUNK_LINE_MAX)
        return bad(d, "line too long");
    d->seen = 0;
    *n = end - 1;
    return 1;
}

/* chunk-size [ chunk-ext ] of n bytes at `in`. */
static lg_chunk_evt_t size_line(lg_chunk_t *d, const char *in, size_t n, lg_chunk_ev_t *ev)
{
    const char *p = in, *e = in + n;
    uint64_t size = 0;
    int v;

    if (p == e || hex_value(*p) < 0)
        return bad(d, "chunk size is not hexadecimal");
    for (; p < e && (v = hex_value(*p)) >= 0; p++) {
        if (size > LG_CHUNK_SIZE_SHIFT_MAX)
            return bad(d, "chunk size too large");
        size = size << 4 | (uint64_t)v;
    }
    if (!params_valid(p, e, 0))
        return bad(d, "invalid chunk extension");
    ev->size = size;
    if (size == 0) {
        d->state = S_TRAILER;
        return LG_CHUNK_LAST;
    }
    d->left = size;
    d->state = S_DATA;
    return LG_CHUNK_SIZE;
}

/* "-" and "_" alike, so that a CGI-style name cannot slip past the list. */
static int name_is(const char *p, size_t len, const char *lower)
{
    for (size_t i = 0; i < len; i++, lower++) {
        char ch = p[i] == '_' ? '-' : (char)(p[i] | 0x20);

        if (*lower == '\0' || ch != *lower)
            return 0;
    }
    return *lower == '\0';
}

static int trailer_dropped(const char *p, size_t len)
{
    if (len > 3 && name_is(p, 3, "if-"))
        return 1;
    for (size_t i = 0; i < LG_NELEMS(dropped); i++) {
        if (name_is(p, len, dropped[i]))
            return 1;
    }
    return 0;
}

/* A trailer line of n bytes at `in` (n == 0: the end of the body). */
static lg_chunk_evt_t trailer_line(lg_chunk_t *d, const char *in, size_t n, lg_chunk_ev_t *ev)
{
    const char *e = in + n, *colon, *v;

    if (n == 0) {
        d->state = S_DONE;
        return LG_CHUNK_END;
    }
    if (is_ws(*in))
        return bad(d, "obsolete line folding in the trailer");
    colon = token_end(in, e);
    if (colon == in || colon == e || *colon != ':')
        return bad(d, "invalid trailer field name");
    v = skip_ws(colon + 1, e);
    while (e > v && is_ws(e[-1]))
        e--;
    for (const char *p = v; p < e; p++) {
        unsigned char ch = (unsigned char)*p;

        if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
            return bad(d, "invalid character in a trailer field value");
    }
    ev->p = in;
    ev->len = (size_t)(colon - in);
    ev->v = v;
    ev->vlen = (size_t)(e - v);
    ev->sp = v > colon + 1;
    ev->drop = trailer_dropped(in, ev->len) != 0;
    return LG_CHUNK_TRAILER;
}

/* A size or trailer line, taken whole. */
static lg_chunk_evt_t line(lg_chunk_t *d, const char *in, size_t len, lg_chunk_ev_t *ev)
{
    int trailer = d->state == S_TRAILER;
    size_t n = 0;
    int r = line_end(d, in, len, &n);

    if (r == LG_CHUNK_NEED && trailer && d->trailers + len > LG_CHUNK_TRAILERS_MAX)
        return bad(d, "trailer section too large");
    if (r != 1)
        return (lg_chunk_evt_t)r;
    ev->used = n + 2;
    if (!trailer)
        return size_line(d, in, n, ev);
    d->trailers += (uint32_t)(n + 2);
    if (d->trailers > LG_CHUNK_TRAILERS_MAX)
        return bad(d, "trailer section too large");
    return trailer_line(d, in, n, ev);
}

lg_chunk_evt_t lg_chunk_next(lg_chunk_t *d, const char *in, size_t len, lg_chunk_ev_t *ev)
{
    ev->used = 0; /* each event sets the fields it has */
    switch (d->state) {
    case S_SIZE:
    case S_TRAILER:
        return line(d, in, len, ev);
    case S_DATA:
        if (len == 0)
            return LG_CHUNK_NEED;
        ev->p = in;
        ev->len = ev->used = (size_t)LG_MIN((uint64_t)len, d->left);
        d->left -= ev->len;
        if (d->left == 0)
            d->state = S_DATA_END;
        return LG_CHUNK_DATA;
    case S_DATA_END:
        if (len == 0)
            return LG_CHUNK_NEED;
        if (in[0] != '\r' || (len > 1 && in[1] != '\n'))
            return bad(d, "chunk data not followed by CRLF");
        if (len < 2)
            return LG_CHUNK_NEED;
        ev->used = 2;
        d->state = S_SIZE;
        return LG_CHUNK_DATA_END;
    case S_DONE:
        return LG_CHUNK_NEED;
    default:
        return LG_CHUNK_BAD;
    }
}

/* The size line: hex without leading zeros, CRLF. */
static size_t put_size(char *out, uint64_t size)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;

    do {
        tmp[n++] = hex[size & 0xf];
        size >>= 4;
    } while (size != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    memcpy(out + n, "\r\n", 2);
    return n + 2;
}

size_t lg_chunk_emit(lg_chunk_evt_t t, const lg_chunk_ev_t *ev, char *out, int reencode)
{
    size_t n;

    if (t == LG_CHUNK_DATA) {
        memmove(out, ev->p, ev->len);
        return ev->len;
    }
    if (!reencode)
        return 0;
    switch (t) {
    case LG_CHUNK_SIZE:
        return put_size(out, ev->size);
    case LG_CHUNK_LAST:
        memcpy(out, "0\r\n", 3);
        return 3;
    case LG_CHUNK_TRAILER:
        if (ev->drop)
            return 0;
        /* name ":" [SP] value CRLF: each piece lands at or before where it was read */
        memmove(out, ev->p, ev->len);
        n = ev->len;
        out[n++] = ':';
        if (ev->sp)
            out[n++] = ' ';
        memmove(out + n, ev->v, ev->vlen);
        n += ev->vlen;
        memcpy(out + n, "\r\n", 2);
        return n + 2;
    case LG_CHUNK_DATA_END:
    case LG_CHUNK_END:
        memcpy(out, "\r\n", 2);
        return 2;
    default:
        return 0;
    }
}

/* ---- Transfer-Encoding */

int lg_te_next(const char **cur, const char *end, const char **elem, size_t *len)
{
    const char *p = *cur;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma != NULL ? comma : end;
        const char *s = skip_ws(p, e);

        p = comma != NULL ? comma + 1 : end;
        while (e > s && is_ws(e[-1]))
            e--;
        if (e > s) {
            *cur = p;
            *elem = s;
            *len = (size_t)(e - s);
            return 1;
        }
    }
    *cur = end;
    return 0;
}

void lg_te_add(lg_te_t *te, const char *v, size_t len)
{
    const char *cur = v, *end = v + len, *el;
    size_t n;

    te->fields++;
    while (lg_te_next(&cur, end, &el, &n)) {
        const char *name_end = token_end(el, el + n);
        int chunked = (size_t)(name_end - el) == 7 && strncasecmp(el, "chunked", 7) == 0;

        te->codings++;
        if (name_end == el || !params_valid(name_end, el + n, 1) || (chunked && name_end != el + n))
            te->bad = 1;
        te->nchunked += chunked != 0;
        te->last_chunked = chunked != 0;
    }
}

lg_te_framing_t lg_te_framing(const lg_te_t *te)
{
    if (te->fields == 0)
        return LG_TE_NONE;
    if (te->bad || te->codings == 0 || te->nchunked > 1)
        return LG_TE_BAD;
    if (!te->last_chunked)
        return LG_TE_CLOSE;
    return te->codings == 1 ? LG_TE_CHUNKED : LG_TE_CODED;
}
