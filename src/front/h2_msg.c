/*
 * h2_msg.c - HTTP/2 messages and HTTP/1.1 heads: a request's fields become the HTTP/1.1 head
 * the exchange scans and routes like any other; a backend's response head becomes HEADERS; our
 * own answers (errors, redirects, respond routes) are HEADERS + DATA. The exchange's view of this
 * front (lg_h2_xfront).
 */
#include "front/h2.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "http/errpage.h"

/* Appends that never write past the end; `full` records that something did not fit. */
typedef struct h2_out {
    char *p, *end;
    int full;
} h2_out_t;

static void put(h2_out_t *o, const void *s, size_t n)
{
    if ((size_t)(o->end - o->p) < n) {
        o->full = 1;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_str(h2_out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* ---- request: fields in, HTTP/1.1 head out */

static int pseudo_index(const uint8_t *name, size_t len)
{
    static const char *const names[H2_PSEUDO] = {":method", ":path", ":authority"};

    for (int i = 0; i < H2_PSEUDO; i++)
        if (lg_span_is((lg_span_t){(const char *)name, len}, names[i]))
            return i;
    return -1; /* :scheme (we know it), :protocol (not enabled) */
}

/* content-length, already checked by nghttp2 (digits, one value, matching the DATA). */
static void content_length(h2_stream_t *st, const uint8_t *v, size_t len)
{
    uint64_t n = 0;

    for (size_t i = 0; i < len && v[i] >= '0' && v[i] <= '9' && n < UINT64_MAX / 10 - 9; i++)
        n = n * 10 + (uint64_t)(v[i] - '0');
    st->length = n;
    st->has_length = 1;
}

int lg_h2_field(h2_stream_t *st, const uint8_t *name, size_t nlen, const uint8_t *value,
                size_t vlen)
{
    lg_buf_t *b = st->hbuf;
    h2_out_t o;
    int k;

    if (b == NULL && (b = st->hbuf = lg_buf_get()) == NULL)
        return LG_ERR;
    o = (h2_out_t){b->data + b->last, b->data + lg_buf_size(), 0};
    if (nlen > 0 && name[0] == ':') {
        if ((k = pseudo_index(name, nlen)) == H2_METHOD)
            st->x.head_only = lg_span_is((lg_span_t){(const char *)value, vlen}, "HEAD") != 0;
        if (k >= 0) {
            st->ps[k] = (h2_span_t){b->last, (uint32_t)vlen};
            put(&o, value, vlen);
        }
    } else {
        if (lg_span_is((lg_span_t){(const char *)name, nlen}, "content-length"))
            content_length(st, value, vlen);
        put(&o, name, nlen);
        put(&o, ": ", 2);
        put(&o, value, vlen);
        put(&o, "\r\n", 2);
    }
    if (o.full) {
        st->too_large = 1; /* cannot happen within max_header_size: the buffer is larger */
        return LG_OK;
    }
    b->last = (uint32_t)(o.p - b->data);
    if (nlen > 0 && name[0] == ':')
        st->fields_at = b->last; /* pseudo-header fields come first (nghttp2 checks it) */
    return LG_OK;
}

/* The next "name: value\r\n" line of hbuf from *cur; 0 at the end. */
static int line_next(const char **cur, const char *end, lg_span_t *name, lg_span_t *value)
{
    const char *p = *cur, *sep, *eol;

    if (p >= end || (eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL ||
        (sep = memmem(p, (size_t)(eol - p), ": ", 2)) == NULL)
        return 0;
    *name = (lg_span_t){p, (size_t)(sep - p)};
    *value = (lg_span_t){sep + 2, (size_t)(eol - sep - 2)};
    *cur = eol + 2;
    return 1;
}

/* The fields other than pseudo-headers and cookie; LG_ERR: a host that is not :authority. */
static int head_fields(const h2_stream_t *st, h2_out_t *o)
{
    const lg_buf_t *hb = st->hbuf;
    const h2_span_t *a = &st->ps[H2_AUTHORITY];
    const char *cur = hb->data + st->fields_at, *end = hb->data + hb->last;
    lg_span_t n, v;

    while (line_next(&cur, end, &n, &v)) {
        if (lg_span_is(n, "cookie"))
            continue;
        if (lg_span_is(n, "host") && a->len > 0) {
            if (v.len != a->len || strncasecmp(v.p, hb->data + a->off, v.len) != 0)
                return LG_ERR; /* RFC 9113 8.3.1: they must name the same origin */
            continue;
        }
        put(o, n.p, n.len + v.len + 4);
    }
    return LG_OK;
}

/* RFC 9113 8.2.3: cookie crumbs are joined into one field for HTTP/1.1. */
static void head_cookies(const h2_stream_t *st, h2_out_t *o)
{
    const lg_buf_t *hb = st->hbuf;
    const char *cur = hb->data + st->fields_at, *end = hb->data + hb->last;
    lg_span_t n, v;
    int first = 1;

    while (line_next(&cur, end, &n, &v)) {
        if (!lg_span_is(n, "cookie"))
            continue;
        put_str(o, first ? "cookie: " : "; ");
        put(o, v.p, v.len);
        first = 0;
    }
    if (!first)
        put_str(o, "\r\n");
}

/*
 * A method llhttp 8 takes on an HTTP/1.1 request line (but PRI, the HTTP/2 preface's), so that a
 * request gets the same answer over both protocols: nghttp2 lets any token through, `get` or
 * `FOO`, which HTTP/1.1 clients get a 400 for. A backend that reads methods without regard to
 * case would take `head` for HEAD and send no body where lifeguard waits for one.
 */
static int method_known(const char *p, size_t len)
{
#define LG_H2_METHOD(num, name, string)                                                            \
    if ((num) != HTTP_PRI && lg_span_is((lg_span_t){p, len}, #string))                             \
        return 1;
    HTTP_METHOD_MAP(LG_H2_METHOD)
#undef LG_H2_METHOD
    return 0;
}

/* The request's HTTP/1.1 head into st->req; 0 or the status to answer with. */
static int head_build(h2_stream_t *st)
{
    const lg_buf_t *hb = st->hbuf;
    const h2_span_t *ps = st->ps;
    h2_out_t o;

    if (hb == NULL || ps[H2_METHOD].len == 0 || ps[H2_PATH].len == 0)
        return 400; /* cannot happen: nghttp2 lets only CONNECT through without :path */
    if (!method_known(hb->data + ps[H2_METHOD].off, ps[H2_METHOD].len))
        return 400;
    if ((st->req = lg_buf_get()) == NULL)
        return 503;
    o = (h2_out_t){st->req->data, st->req->data + lg_buf_size(), 0};
    put(&o, hb->data + ps[H2_METHOD].off, ps[H2_METHOD].len);
    put(&o, " ", 1);
    put(&o, hb->data + ps[H2_PATH].off, ps[H2_PATH].len);
    put_str(&o, " HTTP/1.1\r\n");
    if (ps[H2_AUTHORITY].len > 0) {
        put_str(&o, "host: ");
        put(&o, hb->data + ps[H2_AUTHORITY].off, ps[H2_AUTHORITY].len);
        put_str(&o, "\r\n");
    }
    if (head_fields(st, &o) != LG_OK)
        return 400;
    head_cookies(st, &o);
    put_str(&o, "\r\n");
    if (o.full)
        return 431;
    st->req->last = (uint32_t)(o.p - st->req->data);
    return 0;
}

static int method_idempotent(lg_span_t m)
{
    static const char *const safe[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};

    for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
        if (lg_span_is(m, safe[i]))
            return 1;
    return 0;
}

static void stream_reply(h2_stream_t *st, int status);

/* A request refused before it reached an exchange's routing: answered, counted, logged. */
static void refuse(h2_stream_t *st, int status)
{
    lg_exchange_t *x = &st->x;

    if (st->req != NULL)
        lg_exchange_log_refused(x, st->req->data + st->req->pos, lg_buf_len(st->req));
    x->head_in = st->hsize;
    st->ended = 1;
    lg_h2_active(st->h, -1);
    stream_reply(st, status);
}

void lg_h2_request(h2_stream_t *st, int end_stream)
{
    lg_exchange_t *x = &st->x;
    lg_req_head_t rq;
    lg_xreq_t xr = {0};
    int status;

    st->started = 1;
    st->h->requests++;
    lg_h2_active(st->h, 1);
    x->start = lg_now;
    x->http_major = 2;
    if (st->too_large)
        status = 431;
    else if (st->hbuf != NULL &&
             lg_span_is((lg_span_t){st->hbuf->data + st->ps[H2_METHOD].off, st->ps[H2_METHOD].len},
                        "CONNECT"))
        status = 405; /* no tunnels over streams */
    else
        status = head_build(st);
    lg_buf_put(&st->hbuf);
    if (status == 0)
        status = lg_req_head_scan(&rq, st->req->data, lg_buf_len(st->req), 1);
    if (status != 0) {
        refuse(st, status);
        return;
    }
    xr.head = &rq;
    xr.head_len = (uint32_t)lg_buf_len(st->req);
    xr.head_only = lg_span_is(rq.method, "HEAD") != 0;
    xr.idempotent = method_idempotent(rq.method) != 0;
    xr.has_length = st->has_length;
    xr.length = st->length;
    xr.http2 = 1;
    if (end_stream || (st->has_length && st->length == 0))
        xr.body = LG_BODY_NONE;
    else
        xr.body = st->has_length ? LG_BODY_LENGTH : LG_BODY_ENCODE;
    lg_exchange_request(x, &xr);
}

/* ---- responses */

/* Submit a response (or, with `final` 0, an interim 1xx) with the given fields. */
static int submit(h2_stream_t *st, const nghttp2_nv *nva, size_t n, int final, int body)
{
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = lg_h2_data_read};
    int rv;

    if (!final)
        return nghttp2_submit_headers(st->h->ng, NGHTTP2_FLAG_NONE, st->id, NULL, nva, n, NULL) == 0
                   ? LG_OK
                   : LG_ERR;
    st->answered = 1;
    if (!body)
        st->out_eof = 1;
    rv = nghttp2_submit_response(st->h->ng, st->id, nva, n, body ? &prd : NULL);
    lg_h2_post(st->h);
    return rv == 0 ? LG_OK : LG_ERR;
}

static nghttp2_nv nv(const char *name, size_t nlen, const char *value, size_t vlen)
{
    return (nghttp2_nv){(uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, nlen, vlen,
                        NGHTTP2_NV_FLAG_NONE};
}

/* A field whose name is copied in lower case (as HTTP/2 wants it) at *np, moved past it. */
static nghttp2_nv nv_lower(char **np, lg_span_t name, lg_span_t value)
{
    char *p = *np;

    for (size_t i = 0; i < name.len; i++)
        p[i] = (char)tolower((unsigned char)name.p[i]);
    *np += name.len;
    return nv(p, name.len, value.p, value.len);
}

/*
 * The fields that the route's response_headers set and add, at nva + *n (room for rules->n),
 * their values expanded into *vbuf (taken from the free list; the caller gives it back).
 * LG_ERR: no buffer (the response is not sent without the fields its route adds).
 */
static int rule_fields(h2_stream_t *st, const lg_hdr_rules_t *rules, const lg_rule_vals_t *vals,
                       nghttp2_nv *nva, size_t *n, lg_buf_t **vbuf)
{
    lg_rule_field_t f;
    size_t i = 0;
    char *p;

    if ((*vbuf = lg_buf_get()) == NULL)
        return LG_ERR;
    p = (*vbuf)->data;
    while (lg_hdr_rules_next(rules, vals, &i, &p, (*vbuf)->data + lg_buf_size(), &f)) {
        nva[(*n)++] = nv(f.rule->lname, f.rule->name.len, f.value.p, f.value.len);
        st->x.head_out += f.rule->name.len + f.value.len + 4;
    }
    return LG_OK;
}

/*
 * The backend's head as HEADERS: its end-to-end fields, names in lower case, the fields of the
 * route's header rules, and `cookie` as a set-cookie field when it is not empty.
 */
static int response_fields(h2_stream_t *st, const lg_rsp_head_t *rs, int status, int final,
                           int body, lg_span_t cookie)
{
    lg_rule_vals_t vals;
    const lg_hdr_rules_t *rules = final ? lg_x_rsp_rules(&st->x, &vals) : NULL;
    size_t n = 0, nrules = rules != NULL ? rules->n : 0;
    const char *cur = NULL;
    char code[4], *names = malloc(rs->len + 1), *np = names;
    nghttp2_nv *nva = malloc(sizeof(*nva) * (rs->len / 4 + 3 + nrules));
    lg_buf_t *vbuf = NULL;
    lg_hdr_t h;
    int r = LG_ERR;

    if (names == NULL || nva == NULL)
        goto out;
    code[0] = (char)('0' + status / 100);
    code[1] = (char)('0' + status / 10 % 10);
    code[2] = (char)('0' + status % 10);
    nva[n++] = nv(":status", 7, code, 3);
    while (lg_rsp_head_next(rs, &cur, &h)) {
        if (rules != NULL && lg_hdr_rules_drop(rules, h.name))
            continue;
        nva[n++] = nv_lower(&np, h.name, h.value);
        st->x.head_out += h.name.len + h.value.len + 4;
    }
    if (rules != NULL && rule_fields(st, rules, &vals, nva, &n, &vbuf) != LG_OK)
        goto out;
    if (cookie.len > 0) {
        nva[n++] = nv("set-cookie", 10, cookie.p, cookie.len);
        st->x.head_out += cookie.len + 14;
    }
    r = submit(st, nva, n, final, body);
out:
    lg_buf_put(&vbuf);
    free(names);
    free(nva);
    return r;
}

int lg_h2_trailers(h2_stream_t *st)
{
    const lg_buf_t *t = st->trl;
    const char *cur = t->data + t->pos, *end = t->data + t->last;
    nghttp2_nv *nva = malloc(sizeof(*nva) * (lg_buf_len(t) / 4 + 1));
    char *names = malloc(lg_buf_len(t) + 1), *np = names;
    size_t n = 0;
    lg_span_t name, value;
    int r = LG_ERR;

    if (nva != NULL && names != NULL) {
        while (line_next(&cur, end, &name, &value))
            nva[n++] = nv_lower(&np, name, value);
        r = n > 0 && nghttp2_submit_trailer(st->h->ng, st->id, nva, n) == 0 ? LG_OK : LG_ERR;
    }
    free(nva);
    free(names);
    return r;
}

static int h2_response_head(lg_exchange_t *x, lg_xrsp_t *r)
{
    h2_stream_t *st = x->front_data;

    if (r->upgrade)
        return LG_ERR; /* never asked for: HTTP/2 requests carry no Upgrade */
    if (r->status < 200)
        return response_fields(st, r->head, r->status, 0, 0, r->set_cookie);
    if (r->head->te == LG_TE_CODED || r->head->te == LG_TE_CLOSE) {
        lg_log(LG_LOG_ERR,
               "upstream %s sent a transfer coding other than chunked, which "
               "HTTP/2 cannot carry",
               lg_backend_name(x->be));
        return LG_ERR; /* 502 */
    }
    if (r->mode == LG_BODY_CHUNKED) {
        r->mode = LG_BODY_DECHUNK;   /* HTTP/2 frames the body itself */
        x->down.trailers = &st->trl; /* and sends the trailers as HEADERS */
    }
    return response_fields(st, r->head, r->status, 1, r->mode != LG_BODY_NONE, r->set_cookie);
}

/* The :status and fields of an own reply, names in lower case (into `names`, room for all). */
static size_t reply_fields(const lg_reply_msg_t *m, char *code, char *names, nghttp2_nv *nva)
{
    size_t n = 0;

    code[0] = (char)('0' + m->status / 100);
    code[1] = (char)('0' + m->status / 10 % 10);
    code[2] = (char)('0' + m->status % 10);
    nva[n++] = nv(":status", 7, code, 3);
    for (size_t i = 0; i < m->n; i++)
        nva[n++] = nv_lower(&names, m->f[i].name, m->f[i].value);
    return n;
}

/* Our own answer (an error page, a redirect, a respond route): HEADERS, DATA from `rout`. */
static void stream_answer(h2_stream_t *st, const lg_reply_t *r)
{
    lg_exchange_t *x = &st->x;
    nghttp2_nv nva[LG_REPLY_FIELDS_MAX + 1];
    char code[3], *names = NULL;
    lg_reply_msg_t m;
    size_t nlen = 0, n;
    lg_buf_t *b;

    lg_exchange_reply_msg(x, r, &m);
    for (size_t i = 0; i < m.n; i++)
        nlen += m.f[i].name.len;
    if ((b = st->rout) == NULL && (b = st->rout = lg_buf_get()) == NULL)
        goto reset;
    if (m.body.len > lg_buf_size() || (names = malloc(nlen + 1)) == NULL)
        goto reset;
    memcpy(b->data, m.body.p, m.body.len);
    b->pos = 0;
    b->last = x->head_only ? 0 : (uint32_t)m.body.len;
    x->status = r->status;
    x->own_body = b->last;
    n = reply_fields(&m, code, names, nva);
    if (!st->in_eof)
        st->reset_after = 1; /* the rest of the request body is not wanted */
    if (b->last == 0)
        lg_buf_put(&st->rout);
    st->out_eof = 1; /* the whole body is in rout */
    if (submit(st, nva, n, 1, st->rout != NULL) != LG_OK)
        goto reset;
    free(names); /* nghttp2 copied the fields */
    lg_reply_msg_done(&m);
    return;
reset:
    free(names);
    lg_reply_msg_done(&m);
    nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
}

/* The fixed error page of `status` on the stream. */
static void stream_reply(h2_stream_t *st, int status)
{
    lg_reply_t r = {.status = status};

    stream_answer(st, &r);
}

static void h2_ended(lg_exchange_t *x, const lg_xend_t *end)
{
    h2_stream_t *st = x->front_data;

    st->ended = 1;
    lg_h2_active(st->h, -1);
    switch (end->how) {
    case LG_XEND_DONE:
        st->out_eof = 1;
        if (!st->in_eof)
            st->reset_after = 1;
        if (st->deferred) {
            st->deferred = 0;
            nghttp2_session_resume_data(st->h->ng, st->id);
        }
        break;
    case LG_XEND_REPLY:
        stream_answer(st, end->reply);
        break;
    default:
        nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        break;
    }
    lg_h2_post(st->h);
}

static void h2_again(lg_exchange_t *x)
{
    lg_h2_schedule(x->front_data);
}

const lg_xfront_t lg_h2_xfront = {
    .response_head = h2_response_head,
    .ended = h2_ended,
    .again = h2_again,
};
