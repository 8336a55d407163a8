/*
 * head.c - scanning and rebuilding HTTP/1.1 request heads, and the header walk that response
 * heads (rsp_head.c) share (see head.h).
 */
#include "http/head.h"
#include "http/head-int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/lg.h"
#include "http/field.h"
#include "http/path.h"

#define LG_HTTP_400 400
#define LG_HTTP_501 501
/* Longer than any name lg_hdr_kind() knows: never read as one of them, whatever its '_'. */
#define LG_KIND_NAME_MAX 32

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
        if (strncasecmp(n, "content-length", 14) == 0)
            return LG_H_CONTENT_LENGTH;
        return strncasecmp(n, "http2-settings", 14) == 0 ? LG_H_HTTP2_SETTINGS : LG_H_OTHER;
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
    case 21:
        return strncasecmp(n, "x-client-cert-subject", 21) == 0 ? LG_H_CLIENT_CERT : LG_H_OTHER;
    default:
        return LG_H_OTHER;
    }
}

/*
 * Next header line at *cur (before `end`, the position after the final CRLF CRLF).
 * Returns 1 with `h` filled, 0 at the empty line that ends the head, -1 when the line breaks a
 * rule llhttp 8 does not enforce: a bare LF, obsolete folding, whitespace before the colon.
 */
int lg_hdr_next(const char **cur, const char *end, lg_hdr_t *h)
{
    const char *p = *cur;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *colon;

    if (nl == NULL || nl == p || nl[-1] != '\r')
        return -1;
    *cur = nl + 1;
    if (nl - 1 == p)
        return 0;
    if (lg_is_ows(*p))
        return -1;
    colon = memchr(p, ':', (size_t)(nl - p));
    if (colon == NULL || colon == p || lg_is_ows(colon[-1]))
        return -1;
    h->line = p;
    h->line_len = (size_t)(nl + 1 - p);
    h->name.p = p;
    h->name.len = (size_t)(colon - p);
    h->value = lg_span_trim(colon + 1, nl - 1);
    return 1;
}

/*
 * A name that a CGI-style server (WSGI, PHP-FPM, Rack) reads as one of the framing, hop-by-hop
 * or forwarding headers, because it maps '-' and '_' alike: Transfer_Encoding arrives there as
 * HTTP_TRANSFER_ENCODING, next to (or instead of) the framing lifeguard chose.
 */
static int name_aliases_managed(lg_span_t name)
{
    char mapped[LG_KIND_NAME_MAX];

    if (name.len >= sizeof(mapped) || memchr(name.p, '_', name.len) == NULL)
        return 0;
    for (size_t i = 0; i < name.len; i++)
        mapped[i] = name.p[i] == '_' ? '-' : name.p[i];
    return lg_hdr_kind(mapped, name.len) != LG_H_OTHER;
}

void lg_list_walk_init(lg_list_walk_t *w, const char *head, size_t len, lg_hdr_kind_t kind)
{
    w->cur = memchr(head, '\n', len) + 1;
    w->end = head + len;
    w->p = w->e = w->end; /* no value yet */
    w->kind = kind;
}

int lg_list_walk_next(lg_list_walk_t *w, lg_span_t *elem)
{
    lg_hdr_t h;

    while (!lg_field_list_next(&w->p, w->e, elem)) {
        do {
            if (lg_hdr_next(&w->cur, w->end, &h) <= 0)
                return 0;
        } while (lg_hdr_kind(h.name.p, h.name.len) != w->kind);
        w->p = h.value.p;
        w->e = h.value.p + h.value.len;
    }
    return 1;
}

/* Collect the tokens of one Connection header value. */
int lg_conn_tokens(lg_conn_hdrs_t *ch, lg_span_t v)
{
    const char *p = v.p, *e = v.p + v.len;
    lg_span_t t;

    while (lg_field_list_next(&p, e, &t)) {
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
    if (p == a || !lg_field_host_valid(rq->host))
        return -1; /* empty, or userinfo ('@') and other characters a host cannot hold */
    rq->path.p = p;
    rq->path.len = (size_t)(e - p);
    return 1;
}

/* "h2c" asks for HTTP/2 over cleartext: never passed on (RFC 9113 3.1 deprecates it). */
int lg_is_h2c(lg_span_t t)
{
    return lg_span_eq(t, "h2c");
}

/* Check one Upgrade value; `wanted` is set when it names a protocol other than h2c. */
static int upgrade_protocols(lg_span_t v, unsigned *wanted)
{
    const char *p = v.p, *e = v.p + v.len;
    lg_span_t t;

    while (lg_field_list_next(&p, e, &t)) {
        if (!lg_field_is_protocol(t))
            return LG_ERR;
        if (!lg_is_h2c(t))
            *wanted = 1;
    }
    return LG_OK;
}

/*
 * The request line is exactly `method SP request-target SP HTTP/1.x`: llhttp 8 lets a second
 * space before the target, or a tab before the version, through.
 */
static int request_line(lg_req_head_t *rq, const char *nl)
{
    const char *sp1 = memchr(rq->head, ' ', (size_t)(nl - rq->head));
    const char *sp2, *version;

    if (sp1 == NULL)
        return LG_ERR;
    rq->method.p = rq->head;
    rq->method.len = (size_t)(sp1 - rq->head);
    sp2 = memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1));
    if (!lg_field_is_token(rq->method) || sp2 == NULL || sp2 == sp1 + 1)
        return LG_ERR;
    rq->target.p = sp1 + 1;
    rq->target.len = (size_t)(sp2 - sp1 - 1);
    for (size_t i = 0; i < rq->target.len; i++) {
        unsigned char ch = (unsigned char)rq->target.p[i];

        if (ch <= ' ' || ch == 0x7f)
            return LG_ERR;
    }
    version = sp2 + 1;
    if (nl - 1 - version != LG_VERSION_LEN || memcmp(version, "HTTP/1.", 7) != 0 ||
        !isdigit((unsigned char)version[7]))
        return LG_ERR;
    return LG_OK;
}

/* origin-form, absolute-form (its path taken as origin-form), or "*" for OPTIONS only. */
static int target_form(lg_req_head_t *rq)
{
    int absolute = absolute_form(rq);

    if (absolute != 0) {
        rq->absolute = absolute > 0;
        return absolute > 0 ? LG_OK : LG_ERR;
    }
    if (rq->target.len == 1 && rq->target.p[0] == '*')
        return lg_span_is(rq->method, "OPTIONS") ? LG_OK : LG_ERR;
    return rq->target.p[0] == '/' ? LG_OK : LG_ERR;
}

/* One header line of a request: checked, and what routing and the rebuild need collected. */
static int req_header(lg_req_head_t *rq, const lg_hdr_t *h, unsigned *nhost, lg_te_t *te)
{
    if (!lg_hdr_valid(h) || name_aliases_managed(h->name))
        return LG_HTTP_400;
    switch (lg_hdr_kind(h->name.p, h->name.len)) {
    case LG_H_HOST:
        if (++*nhost > 1 || h->value.len == 0 || !lg_field_host_valid(h->value))
            return LG_HTTP_400;
        if (!rq->absolute)
            rq->host = h->value;
        break;
    case LG_H_CONNECTION:
        if (lg_conn_tokens(&rq->conn, h->value) != LG_OK)
            return LG_HTTP_400;
        break;
    case LG_H_REQUEST_ID:
        if (rq->request_id.len == 0 && h->value.len <= LG_REQUEST_ID_MAX)
            rq->request_id = h->value;
        break;
    case LG_H_UPGRADE:
        if (upgrade_protocols(h->value, &rq->upgrade) != LG_OK)
            return LG_HTTP_400;
        break;
    case LG_H_CONTENT_LENGTH:
        if (!lg_field_length_valid(h->value))
            return LG_HTTP_400;
        break;
    case LG_H_TRANSFER_ENCODING:
        lg_te_add(te, h->value.p, h->value.len);
        break;
    default:
        break;
    }
    return 0;
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
    const char *cur;
    unsigned nhost = 0;
    int r, status;
    lg_te_t te = {0};
    lg_hdr_t h;

    memset(rq, 0, sizeof(*rq));
    rq->head = head;
    rq->len = len;
    rq->http_minor = http_minor;
    if (nl == NULL || nl == head || nl[-1] != '\r' || request_line(rq, nl) != LG_OK)
        return LG_HTTP_400;
    rq->path = rq->target;
    if (target_form(rq) != LG_OK)
        return LG_HTTP_400;

    cur = nl + 1;
    while ((r = lg_hdr_next(&cur, end, &h)) > 0) {
        if ((status = req_header(rq, &h, &nhost, &te)) != 0)
            return status;
    }
    if (r < 0 || cur != end)
        return LG_HTTP_400;
    if (http_minor == 1 && nhost == 0)
        return LG_HTTP_400;
    if (!rq->conn.upgrade || http_minor == 0)
        rq->upgrade = 0; /* Upgrade means something only with Connection: upgrade */
    rq->te = lg_te_framing(&te);
    return te_status(rq->te);
}

int lg_req_head_target(lg_req_head_t *rq, char *out, size_t cap)
{
    size_t n;
    int status;

    if (rq->path.len == 1 && rq->path.p[0] == '*')
        return 0; /* OPTIONS * */
    status = lg_path_normalize(rq->path.p, rq->path.len, out, cap, &n);
    if (status == 0) {
        rq->path.p = out;
        rq->path.len = n;
    }
    return status;
}

int lg_req_head_strip(lg_req_head_t *rq, size_t n, char *out, size_t cap)
{
    size_t len;
    int status = lg_path_strip(rq->path.p, rq->path.len, n, out, cap, &len);

    if (status == 0) {
        rq->path.p = out;
        rq->path.len = len;
    }
    return status;
}

/* X-Forwarded-For: every value the client sent, in order, then the client's address. */
static void put_forwarded_for(out_t *o, const lg_req_head_t *rq, const char *client_ip)
{
    const char *cur = memchr(rq->head, '\n', rq->len) + 1;
    const char *end = rq->head + rq->len;
    lg_hdr_t h;

    put_str(o, "X-Forwarded-For: ");
    while (lg_hdr_next(&cur, end, &h) > 0) {
        if (lg_hdr_kind(h.name.p, h.name.len) == LG_H_XFF && h.value.len > 0) {
            put_span(o, h.value);
            put_str(o, ", ");
        }
    }
    put_str(o, client_ip);
    put_str(o, "\r\n");
}

/* "NAME: VALUE" CRLF, when there is a value (not NULL, not empty). */
static void put_field(out_t *o, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    put_str(o, name);
    put_str(o, ": ");
    put_str(o, value);
    put_str(o, "\r\n");
}

/* Upgrade: every protocol the client asked for but h2c, in order. */
static void put_upgrade(out_t *o, const lg_req_head_t *rq)
{
    const char *sep = "Upgrade: ";
    lg_list_walk_t w;
    lg_span_t t;

    lg_list_walk_init(&w, rq->head, rq->len, LG_H_UPGRADE);
    while (lg_list_walk_next(&w, &t)) {
        if (lg_is_h2c(t))
            continue;
        put_str(o, sep);
        put_span(o, t);
        sep = ", ";
    }
    put_str(o, "\r\n");
}

/*
 * Host: the one a rule sets (valid, else ignored), the request's at its place, or here (the
 * authority of an absolute-form target; the backend's address for an HTTP/1.0 request without).
 */
static void put_host(out_t *o, const lg_req_head_t *rq, const lg_req_build_t *b, lg_span_t set)
{
    if (set.len == 0 && !rq->absolute && rq->host.len != 0)
        return; /* the request's own line, kept in place */
    put_str(o, "Host: ");
    if (set.len != 0)
        put_span(o, set);
    else if (rq->host.len != 0)
        put_span(o, rq->host);
    else
        put_str(o, b->default_host);
    put_str(o, "\r\n");
}

size_t lg_req_head_build(const lg_req_head_t *rq, const lg_req_build_t *b, char *buf, size_t cap)
{
    out_t o = {buf, buf + cap, 0};
    const char *cur = memchr(rq->head, '\n', rq->len) + 1;
    const char *end = rq->head + rq->len;
    char host[LG_RULE_HOST_MAX];
    lg_span_t set = {host, 0};
    lg_hdr_t h;

    if (b->rules != NULL)
        set.len = lg_hdr_rules_host(b->rules, b->vals, host, sizeof(host));
    put_span(&o, rq->method);
    put_str(&o, " ");
    put_span(&o, rq->path);
    put_str(&o, " HTTP/1.1\r\n");

    while (lg_hdr_next(&cur, end, &h) > 0) {
        switch (lg_hdr_kind(h.name.p, h.name.len)) {
        case LG_H_HOST:
            if (!rq->absolute && set.len == 0)
                put(&o, h.line, h.line_len);
            break;
        case LG_H_REQUEST_ID:
            /* Only the id lifeguard logs (the first that is not empty nor too long; with none,
             * lifeguard's own goes below): a second one would let the backend log another. And
             * never hop-by-hop, as Host: `Connection: X-Request-Id` would leave the backend none.
             */
            if (rq->request_id.len != 0 && h.value.p == rq->request_id.p)
                put(&o, h.line, h.line_len);
            break;
        case LG_H_OTHER:
            if (!lg_named_by_connection(&rq->conn, h.name) && !rules_drop(b->rules, h.name))
                put(&o, h.line, h.line_len);
            break;
        default:
            /* hop-by-hop, framing, X-Forwarded-*, X-Client-Cert-Subject: written below */
            break;
        }
    }
    put_host(&o, rq, b, set);
    put_rules(&o, b->rules, b->vals);
    put_forwarded_for(&o, rq, b->client_ip);
    put_field(&o, "X-Forwarded-Proto", b->proto);
    if (rq->host.len != 0) {
        put_str(&o, "X-Forwarded-Host: ");
        put_span(&o, rq->host);
        put_str(&o, "\r\n");
    }
    if (b->chunked) {
        put_str(&o, "Transfer-Encoding: chunked\r\n");
    } else if (b->has_length) {
        put_str(&o, "Content-Length: ");
        put_u64(&o, b->length);
        put_str(&o, "\r\n");
    }
    if (b->upgrade) {
        put_upgrade(&o, rq);
        put_str(&o, "Connection: upgrade\r\n");
    } else if (b->close) {
        put_str(&o, "Connection: close\r\n");
    }
    put_field(&o, "X-Request-Id", b->request_id);
    put_field(&o, "X-Client-Cert-Subject", b->client_cert);
    put_str(&o, "\r\n");
    return o.full ? 0 : (size_t)(o.p - buf);
}

lg_span_t lg_req_head_header(const lg_req_head_t *rq, const char *name)
{
    const char *cur = memchr(rq->head, '\n', rq->len) + 1;
    const char *end = rq->head + rq->len;
    lg_span_t none = {rq->head, 0};
    lg_hdr_t h;

    while (lg_hdr_next(&cur, end, &h) > 0) {
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

    while (lg_hdr_next(&cur, end, &h) > 0) {
        const char *p, *e;

        if (!lg_span_eq(h.name, "cookie"))
            continue;
        /* "a=1; b=2": pairs separated by ';', names compared exactly */
        for (p = h.value.p, e = h.value.p + h.value.len; p < e;) {
            const char *semi = memchr(p, ';', (size_t)(e - p));
            lg_span_t pair = lg_span_trim(p, semi != NULL ? semi : e);

            p = semi != NULL ? semi + 1 : e;
            if (pair.len > nlen && pair.p[nlen] == '=' && memcmp(pair.p, name, nlen) == 0) {
                lg_span_t v = {pair.p + nlen + 1, pair.len - nlen - 1};

                return v;
            }
        }
    }
    return none;
}
