/*
 * rsp_head.c - scanning and rebuilding HTTP/1.1 response heads (see head.h).
 */
#include <ctype.h>
#include <strings.h>

#include "core/lg.h"
#include "http/field.h"
#include "http/head-int.h"

/*
 * `HTTP/1.x SP 3DIGIT [SP reason]`, the reason without control characters but HTAB: llhttp 8.1
 * ends a status line at a CR followed by any byte, where this scan (and many clients) reads on
 * to the LF, so the two would disagree about which lines are headers. The status is 100 to 599
 * (RFC 9110 15: others are invalid): llhttp takes `000` or `099`, which one client reads as a
 * final response, another as an interim one, another as an error.
 */
static int status_line_valid(const char *head, lg_span_t rest)
{
    lg_span_t reason = {rest.p + 4, rest.len > 4 ? rest.len - 4 : 0};

    if (rest.p - head != LG_VERSION_LEN + 1 || memcmp(head, "HTTP/1.", 7) != 0 ||
        !isdigit((unsigned char)head[7]))
        return 0;
    if (rest.len < 3 || rest.p[0] < '1' || rest.p[0] > '5' || !isdigit((unsigned char)rest.p[1]) ||
        !isdigit((unsigned char)rest.p[2]))
        return 0;
    return (rest.len == 3 || rest.p[3] == ' ') && lg_field_value_valid(reason);
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
    if (!status_line_valid(head, rs->status_rest))
        return LG_ERR;

    cur = nl + 1;
    while ((r = lg_hdr_next(&cur, end, &h)) > 0) {
        lg_hdr_kind_t kind = lg_hdr_kind(h.name.p, h.name.len);

        if (!lg_hdr_valid(&h) ||
            (kind == LG_H_CONNECTION && lg_conn_tokens(&rs->conn, h.value) != LG_OK))
            return LG_ERR;
        if (kind == LG_H_CONTENT_LENGTH && !lg_field_length_valid(h.value))
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
    while (lg_hdr_next(&cur, end, &h) > 0) {
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

/* Whether a `kind` header of the head head[0..len) lists `elem` (case-insensitive). */
static int list_has(const char *head, size_t len, lg_hdr_kind_t kind, lg_span_t elem)
{
    lg_list_walk_t w;
    lg_span_t t;

    lg_list_walk_init(&w, head, len, kind);
    while (lg_list_walk_next(&w, &t)) {
        if (t.len == elem.len && strncasecmp(t.p, elem.p, t.len) == 0)
            return 1;
    }
    return 0;
}

int lg_rsp_upgrade_agreed(const lg_rsp_head_t *rs, const char *req, size_t req_len)
{
    lg_list_walk_t w;
    lg_span_t t;
    int named = 0;

    lg_list_walk_init(&w, rs->head, rs->len, LG_H_UPGRADE);
    while (lg_list_walk_next(&w, &t)) {
        if (lg_is_h2c(t) || !list_has(req, req_len, LG_H_UPGRADE, t))
            return 0;
        named = 1;
    }
    return named;
}

/*
 * A 1xx or a 204 has no content, and RFC 9110 8.6 forbids it a Content-Length: HTTP/2 clients
 * (nghttp2, curl) reset the stream over one (even `Content-Length: 0` in a 103), and HTTP/1.1
 * clients that honour it wait for a body that never comes. So it is never passed on.
 */
static int length_forbidden(const lg_rsp_head_t *rs)
{
    const char *s = rs->status_rest.p;

    return s[0] == '1' || (s[0] == '2' && s[1] == '0' && s[2] == '4');
}

/* Fields that concern one connection only, never passed on as they came (RFC 9110 7.6.1). */
static int hop_by_hop(const lg_rsp_head_t *rs, lg_hdr_kind_t kind, lg_span_t name)
{
    switch (kind) {
    case LG_H_CONNECTION:
    case LG_H_KEEP_ALIVE:
    case LG_H_PROXY_CONNECTION:
    case LG_H_TE:
    case LG_H_HTTP2_SETTINGS:
    case LG_H_TRANSFER_ENCODING:
    case LG_H_UPGRADE:
        return 1;
    case LG_H_CONTENT_LENGTH:
        return length_forbidden(rs);
    default:
        return lg_named_by_connection(&rs->conn, name);
    }
}

int lg_rsp_head_next(const lg_rsp_head_t *rs, const char **cur, lg_hdr_t *h)
{
    const char *end = rs->head + rs->len;

    if (*cur == NULL)
        *cur = memchr(rs->head, '\n', rs->len) + 1;
    while (lg_hdr_next(cur, end, h) > 0)
        if (!hop_by_hop(rs, lg_hdr_kind(h->name.p, h->name.len), h->name))
            return 1;
    return 0;
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
    while (lg_hdr_next(&cur, end, &h) > 0) {
        lg_hdr_kind_t kind = lg_hdr_kind(h.name.p, h.name.len);

        /* Transfer-Encoding is written below, as the body is relayed */
        if ((!hop_by_hop(rs, kind, h.name) && !rules_drop(b->rules, h.name)) ||
            (kind == LG_H_UPGRADE && b->upgrade))
            put(&o, h.line, h.line_len);
    }
    put_rules(&o, b->rules, b->vals);
    if (b->keep_chunked || (b->keep_codings && rs->te != LG_TE_CHUNKED && rs->te != LG_TE_NONE))
        put_te(&o, rs, b->keep_chunked);
    if (b->set_cookie.len > 0) {
        put_str(&o, "Set-Cookie: ");
        put_span(&o, b->set_cookie);
        put_str(&o, "\r\n");
    }
    if (b->upgrade)
        put_str(&o, "Connection: upgrade\r\n");
    else if (b->close)
        put_str(&o, "Connection: close\r\n");
    else if (b->keep_alive)
        put_str(&o, "Connection: keep-alive\r\n");
    put_str(&o, "\r\n");
    return o.full ? 0 : (size_t)(o.p - buf);
}
