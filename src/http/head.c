/*
 * head.c - scanning and rebuilding HTTP/1.1 heads (see head.h).
 */
#include "http/head.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/lg.h"

#define LG_HTTP_400 400
#define LG_HTTP_501 501

/* Output cursor: appends never write past `end`; `full` records that something did not fit. */
typedef struct out {
    char *p, *end;
    int full;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->full || (size_t)(o->end - o->p) < n) {
        o->full = 1;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_str(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_span(out_t *o, lg_span_t s)
{
    put(o, s.p, s.len);
}

int lg_span_eq(lg_span_t s, const char *lower)
{
    size_t n = strlen(lower);

    return s.len == n && strncasecmp(s.p, lower, n) == 0;
}

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static lg_span_t trim(const char *p, const char *e)
{
    lg_span_t s;

    while (p < e && is_ows(*p))
        p++;
    while (e > p && is_ows(e[-1]))
        e--;
    s.p = p;
    s.len = (size_t)(e - p);
    return s;
}

lg_hdr_kind_t lg_hdr_kind(const char *n, size_t len)
{
    switch (len) {
    case 2:
        return strncasecmp(n, "te", 2) == 0 ? LG_H_TE : LG_H_OTHER;
    case 4:
        return strncasecmp(n, "host", 4) == 0 ? LG_H_HOST : LG_H_OTHER;
    case 7:
        return strncasecmp(n, "upgrade", 7) == 0 ? LG_H_UPGRADE : LG_H_OTHER;
    case 12:
        return strncasecmp(n, "x-request-id", 12) == 0 ? LG_H_REQUEST_ID : LG_H_OTHER;
    case 10:
        if (strncasecmp(n, "connection", 10) == 0)
            return LG_H_CONNECTION;
        return strncasecmp(n, "keep-alive", 10) == 0 ? LG_H_KEEP_ALIVE : LG_H_OTHER;
    case 14:
        return strncasecmp(n, "content-length", 14) == 0 ? LG_H_CONTENT_LENGTH : LG_H_OTHER;
    case 15:
        return strncasecmp(n, "x-forwarded-for", 15) == 0 ? LG_H_XFF : LG_H_OTHER;
    case 16:
        if (strncasecmp(n, "x-forwarded-host", 16) == 0)
            return LG_H_XFH;
        if (strncasecmp(n, "proxy-connection", 16) == 0)
            return LG_H_PROXY_CONNECTION;
        return LG_H_OTHER;
    case 17:
        if (strncasecmp(n, "transfer-encoding", 17) == 0)
            return LG_H_TRANSFER_ENCODING;
        return strncasecmp(n, "x-forwarded-proto", 17) == 0 ? LG_H_XFP : LG_H_OTHER;
    default:
        return LG_H_OTHER;
    }
}

/*
 * Next header line at *cur (before `end`, the position after the final CRLF CRLF).
 * Returns 1 with `h` filled, 0 at the empty line that ends the head, -1 when the line breaks a
 * rule llhttp 8 does not enforce: a bare LF, obsolete folding, whitespace before the colon.
 */
static int hdr_next(const char **cur, const char *end, lg_hdr_t *h)
{
    const char *p = *cur;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *colon;

    if (nl == NULL || nl == p || nl[-1] != '\r')
        return -1;
    *cur = nl + 1;
    if (nl - 1 == p)
        return 0;
    if (is_ows(*p))
        return -1;
    colon = memchr(p, ':', (size_t)(nl - p));
    if (colon == NULL || colon == p || is_ows(colon[-1]))
        return -1;
    h->line = p;
    h->line_len = (size_t)(nl + 1 - p);
    h->name.p = p;
    h->name.len = (size_t)(colon - p);
    h->value = trim(colon + 1, nl - 1);
    return 1;
}

/* Collect the tokens of one Connection header value. */
static int conn_tokens(lg_conn_hdrs_t *ch, lg_span_t v)
{
    const char *p = v.p, *e = v.p + v.len;

    while (p < e) {
        const char *comma = memchr(p, ',', (size_t)(e - p));
        const char *te = comma != NULL ? comma : e;
        lg_span_t t = trim(p, te);

        p = te + 1;
        if (t.len == 0)
            continue;
        if (lg_span_eq(t, "close")) {
            ch->close = 1;
        } else if (lg_span_eq(t, "keep-alive")) {
            ch->keep_alive = 1;
        } else if (lg_span_eq(t, "upgrade")) {
            ch->upgrade = 1;
        } else {
            if (ch->ntokens == LG_HEAD_MAX_CONN_TOKENS)
                return LG_ERR;
            ch->tokens[ch->ntokens++] = t;
        }
    }
    return LG_OK;
}

static int named_by_connection(const lg_conn_hdrs_t *ch, lg_span_t name)
{
    for (unsigned i = 0; i < ch->ntokens; i++) {
        if (ch->tokens[i].len == name.len && strncasecmp(ch->tokens[i].p, name.p, name.len) == 0)
            return 1;
    }
    return 0;
}

/* RFC 3986 host[:port]: reg-name, IPv4 or IP-literal characters only (no space, '/', '@'). */
static int host_valid(lg_span_t v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.p[i];

        if (!isalnum(ch) && (ch == '\0' || strchr("-._~!$&'()*+,;=%:[]", ch) == NULL))
            return 0;
    }
    return 1;
}

/* Split "http://authority/path?q" into host and path; returns -1 on userinfo. */
static int absolute_form(lg_req_head_t *rq)
{
    const char *p = rq->target.p, *e = p + rq->target.len;
    const char *a;

    if (rq->target.len > 7 && strncasecmp(p, "http://", 7) == 0)
        a = p + 7;
    else if (rq->target.len > 8 && strncasecmp(p, "https://", 8) == 0)
        a = p + 8;
    else
        return 0;
    p = a;
    while (p < e && *p != '/' && *p != '?' && *p != '#')
        p++;
    rq->host.p = a;
    rq->host.len = (size_t)(p - a);
    if (p == a || !host_valid(rq->host))
        return -1; /* empty, or userinfo ('@') and other characters a host cannot hold */
    rq->path.p = p;
    rq->path.len = (size_t)(e - p);
    return 1;
}

/*
 * A request's framing is decided here, not by llhttp 8 (which misses "chunked<TAB>"): plain
 * chunked is relayed, other codings are 501, a list not ending in chunked is 400 (RFC 9112 6.3).
 */
static int te_status(lg_te_framing_t te)
{
    if (te == LG_TE_CODED)
        return LG_HTTP_501;
    return te == LG_TE_CLOSE || te == LG_TE_BAD ? LG_HTTP_400 : 0;
}

int lg_req_head_scan(lg_req_head_t *rq, const char *head, size_t len, unsigned http_minor)
{
    const char *end = head + len;
    const char *nl = memchr(head, '\n', len);
    const char *sp1, *sp2, *cur;
    unsigned nhost = 0;
    int absolute, r;
    lg_te_t te = {0};
    lg_hdr_t h;

    memset(rq, 0, sizeof(*rq));
    rq->head = head;
    rq->len = len;
    rq->http_minor = http_minor;
    if (nl == NULL || nl == head || nl[-1] != '\r')
        return LG_HTTP_400;
    sp1 = memchr(head, ' ', (size_t)(nl - head));
    sp2 = memrchr(head, ' ', (size_t)(nl - head));
    if (sp1 == NULL || sp2 == sp1)
        return LG_HTTP_400;
    rq->method.p = head;
    rq->method.len = (size_t)(sp1 - head);
    rq->target.p = sp1 + 1;
    rq->target.len = (size_t)(sp2 - sp1 - 1);
    rq->path = rq->target;
    absolute = absolute_form(rq);
    if (absolute < 0)
        return LG_HTTP_400;

    cur = nl + 1;
    while ((r = hdr_next(&cur, end, &h)) > 0) {
        switch (lg_hdr_kind(h.name.p, h.name.len)) {
        case LG_H_HOST:
            if (++nhost > 1 || !host_valid(h.value))
                return LG_HTTP_400;
            if (!absolute)
                rq->host = h.value;
            break;
        case LG_H_CONNECTION:
            if (conn_tokens(&rq->conn, h.value) != LG_OK)
                return LG_HTTP_400;
            break;
        case LG_H_REQUEST_ID:
            if (rq->request_id.len == 0)
                rq->request_id = h.value;
            break;
        case LG_H_UPGRADE:
            rq->upgrade = h.value;
            break;
        case LG_H_TRANSFER_ENCODING:
            lg_te_add(&te, h.value.p, h.value.len);
            break;
        default:
            break;
        }
    }
    if (r < 0 || cur != end)
        return LG_HTTP_400;
    if (http_minor == 1 && nhost == 0)
        return LG_HTTP_400;
    if (!rq->conn.upgrade || http_minor == 0)
        rq->upgrade.len = 0; /* Upgrade means something only with Connection: upgrade */
    rq->te = lg_te_framing(&te);
    return te_status(rq->te);
}

/* X-Forwarded-For: every value the client sent, in order, then the client's address. */
static void put_forwarded_for(out_t *o, const lg_req_head_t *rq, const char *client_ip)
{
    const char *cur = memchr(rq->head, '\n', rq->len) + 1;
    const char *end = rq->head + rq->len;
    lg_hdr_t h;

    put_str(o, "X-Forwarded-For: ");
    while (hdr_next(&cur, end, &h) > 0) {
        if (lg_hdr_kind(h.name.p, h.name.len) == LG_H_XFF && h.value.len > 0) {
            put_span(o, h.value);
            put_str(o, ", ");
        }
    }
    put_str(o, client_ip);
    put_str(o, "\r\n");
}

size_t lg_req_head_build(const lg_req_head_t *rq, const lg_req_build_t *b, char *buf, size_t cap)
{
    out_t o = {buf, buf + cap, 0};
    const char *cur = memchr(rq->head, '\n', rq->len) + 1;
    const char *end = rq->head + rq->len;
    int absolute = rq->path.p != rq->target.p;
    lg_hdr_t h;

    put_span(&o, rq->method);
    put_str(&o, " ");
    if (rq->path.len == 0 || rq->path.p[0] == '?')
        put_str(&o, "/");
    put_span(&o, rq->path);
    put_str(&o, " HTTP/1.1\r\n");

    while (hdr_next(&cur, end, &h) > 0) {
        switch (lg_hdr_kind(h.name.p, h.name.len)) {
        case LG_H_HOST:
            if (!absolute)
                put(&o, h.line, h.line_len);
            break;
        case LG_H_OTHER:
        case LG_H_REQUEST_ID:
            if (!named_by_connection(&rq->conn, h.name))
                put(&o, h.line, h.line_len);
            break;
        default:
            /* hop-by-hop, framing and X-Forwarded-*: written below */
            break;
        }
    }
    if (absolute || rq->host.len == 0) {
        put_str(&o, "Host: ");
        if (rq->host.len != 0)
            put_span(&o, rq->host);
        else
            put_str(&o, b->default_host);
        put_str(&o, "\r\n");
    }
    put_forwarded_for(&o, rq, b->client_ip);
    put_str(&o, "X-Forwarded-Proto: ");
    put_str(&o, b->proto);
    put_str(&o, "\r\n");
    if (rq->host.len != 0) {
        put_str(&o, "X-Forwarded-Host: ");
        put_span(&o, rq->host);
        put_str(&o, "\r\n");
    }
    if (b->chunked) {
        put_str(&o, "Transfer-Encoding: chunked\r\n");
    } else if (b->has_length) {
        char num[32];

        snprintf(num, sizeof(num), "Content-Length: %llu\r\n", (unsigned long long)b->length);
        put_str(&o, num);
    }
    if (b->upgrade) {
        put_str(&o, "Upgrade: ");
        put_span(&o, rq->upgrade);
        put_str(&o, "\r\nConnection: upgrade\r\n");
    } else if (b->close) {
        put_str(&o, "Connection: close\r\n");
    }
    if (b->request_id != NULL) {
        put_str(&o, "X-Request-Id: ");
        put_str(&o, b->request_id);
        put_str(&o, "\r\n");
    }
    put_str(&o, "\r\n");
    return o.full ? 0 : (size_t)(o.p - buf);
}

int lg_rsp_head_scan(lg_rsp_head_t *rs, const char *head, size_t len)
{
    const char *end = head + len;
    const char *nl = memchr(head, '\n', len);
    const char *sp, *cur;
    lg_te_t te = {0};
    lg_hdr_t h;
    int r;

    memset(rs, 0, sizeof(*rs));
    rs->head = head;
    rs->len = len;
    if (nl == NULL || nl == head || nl[-1] != '\r')
        return LG_ERR;
    sp = memchr(head, ' ', (size_t)(nl - head));
    if (sp == NULL)
        return LG_ERR;
    rs->status_rest.p = sp + 1;
    rs->status_rest.len = (size_t)(nl - 1 - (sp + 1));

    cur = nl + 1;
    while ((r = hdr_next(&cur, end, &h)) > 0) {
        lg_hdr_kind_t kind = lg_hdr_kind(h.name.p, h.name.len);

        if (kind == LG_H_CONNECTION && conn_tokens(&rs->conn, h.value) != LG_OK)
            return LG_ERR;
        if (kind == LG_H_TRANSFER_ENCODING)
            lg_te_add(&te, h.value.p, h.value.len);
    }
    rs->te = lg_te_framing(&te);
    return (r < 0 || cur != end || rs->te == LG_TE_BAD) ? LG_ERR : LG_OK;
}

/* Transfer-Encoding as lifeguard relays the body: the codings other than a final chunked, then
 * "chunked" when the body goes out chunked. */
static void put_te(out_t *o, const lg_rsp_head_t *rs, int chunked)
{
    const char *cur = memchr(rs->head, '\n', rs->len) + 1;
    const char *end = rs->head + rs->len;
    const char *sep = "";
    lg_hdr_t h;

    put_str(o, "Transfer-Encoding: ");
    while (hdr_next(&cur, end, &h) > 0) {
        const char *c = h.value.p, *el;
        size_t n;

        if (lg_hdr_kind(h.name.p, h.name.len) != LG_H_TRANSFER_ENCODING)
            continue;
        while (lg_te_next(&c, h.value.p + h.value.len, &el, &n)) {
            if (rs->te != LG_TE_CLOSE && n == 7 && strncasecmp(el, "chunked", 7) == 0)
                continue;
            put_str(o, sep);
            put(o, el, n);
            sep = ", ";
        }
    }
    if (chunked) {
        put_str(o, sep);
        put_str(o, "chunked");
    }
    put_str(o, "\r\n");
}

size_t lg_rsp_head_build(const lg_rsp_head_t *rs, const lg_rsp_build_t *b, char *buf, size_t cap)
{
    out_t o = {buf, buf + cap, 0};
    const char *cur = memchr(rs->head, '\n', rs->len) + 1;
    const char *end = rs->head + rs->len;
    lg_hdr_t h;

    put_str(&o, "HTTP/1.1 ");
    put_span(&o, rs->status_rest);
    put_str(&o, "\r\n");
    while (hdr_next(&cur, end, &h) > 0) {
        switch (lg_hdr_kind(h.name.p, h.name.len)) {
        case LG_H_CONNECTION:
        case LG_H_KEEP_ALIVE:
        case LG_H_PROXY_CONNECTION:
        case LG_H_TE:
        case LG_H_TRANSFER_ENCODING: /* written below, as the body is relayed */
            break;
        case LG_H_UPGRADE:
            if (b->upgrade)
                put(&o, h.line, h.line_len);
            break;
        case LG_H_CONTENT_LENGTH:
            put(&o, h.line, h.line_len);
            break;
        default:
            if (!named_by_connection(&rs->conn, h.name))
                put(&o, h.line, h.line_len);
            break;
        }
    }
    if (b->keep_chunked || (b->keep_codings && rs->te != LG_TE_CHUNKED && rs->te != LG_TE_NONE))
        put_te(&o, rs, b->keep_chunked);
    if (b->upgrade)
        put_str(&o, "Connection: upgrade\r\n");
    else if (b->close)
        put_str(&o, "Connection: close\r\n");
    else if (b->keep_alive)
        put_str(&o, "Connection: keep-alive\r\n");
    put_str(&o, "\r\n");
    return o.full ? 0 : (size_t)(o.p - buf);
}

lg_span_t lg_req_head_header(const lg_req_head_t *rq, const char *name)
{
    const char *cur = memchr(rq->head, '\n', rq->len) + 1;
    const char *end = rq->head + rq->len;
    lg_span_t none = {rq->head, 0};
    lg_hdr_t h;

    while (hdr_next(&cur, end, &h) > 0) {
        if (lg_span_eq(h.name, name))
            return h.value;
    }
    return none;
}

lg_span_t lg_req_head_cookie(const lg_req_head_t *rq, const char *name)
{
    const char *cur = memchr(rq->head, '\n', rq->len) + 1;
    const char *end = rq->head + rq->len;
    size_t nlen = strlen(name);
    lg_span_t none = {rq->head, 0};
    lg_hdr_t h;

    while (hdr_next(&cur, end, &h) > 0) {
        const char *p, *e;

        if (!lg_span_eq(h.name, "cookie"))
            continue;
        /* "a=1; b=2": pairs separated by ';', names compared exactly */
        for (p = h.value.p, e = h.value.p + h.value.len; p < e;) {
            const char *semi = memchr(p, ';', (size_t)(e - p));
            lg_span_t pair = trim(p, semi != NULL ? semi : e);

            p = semi != NULL ? semi + 1 : e;
            if (pair.len > nlen && pair.p[nlen] == '=' && memcmp(pair.p, name, nlen) == 0) {
                lg_span_t v = {pair.p + nlen + 1, pair.len - nlen - 1};

                return v;
            }
        }
    }
    return none;
}
