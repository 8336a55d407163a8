/*
 * errpage.c - lifeguard's own replies: the fields and body of an error page, a redirect or a
 * route's `respond`, and their HTTP/1.1 form (status line, Date, fields, framing).
 */
#include "http/errpage.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fmt.h"
#include "core/lg.h"

#define LG_DEFAULT_CTYPE "text/plain; charset=utf-8"

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {410, "Gone"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *lg_status_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "";
}

int lg_reply_msg_add(lg_reply_msg_t *m, lg_span_t name, lg_span_t value)
{
    if (m->n == LG_REPLY_FIELDS_MAX)
        return LG_ERR;
    m->f[m->n++] = (lg_reply_field_t){name, value};
    return LG_OK;
}

/* A field whose value is a number written into m->text at *used. */
static void add_number(lg_reply_msg_t *m, const char *name, uint64_t v, size_t *used)
{
    char *p = m->text + *used;
    size_t n;

    if (lg_format(p, sizeof(m->text) - *used, "%llu", (unsigned long long)v) != LG_OK)
        return; /* cannot happen: text has room for the fixed body and two numbers */
    n = strlen(p);
    *used += n + 1;
    lg_reply_msg_add(m, (lg_span_t){name, strlen(name)}, (lg_span_t){p, n});
}

void lg_reply_msg(const lg_reply_t *r, lg_reply_msg_t *m)
{
    size_t used = 0;
    uint32_t retry = r->retry_after;
    int bodiless = r->status == 204 || r->status == 304;

    m->status = r->status;
    m->reason = lg_status_reason(r->status);
    m->n = 0;
    m->vals = NULL;
    m->body = r->body;
    lg_reply_msg_add(m, (lg_span_t){"Server", 6}, (lg_span_t){"lifeguard", 9});
    if (r->body.p == NULL) {
        if (lg_format(m->text, sizeof(m->text), "%d %s\n", r->status, m->reason) != LG_OK)
            m->text[0] = '\0'; /* cannot happen: a status and a reason phrase fit */
        m->body = (lg_span_t){m->text, strlen(m->text)};
        used = m->body.len + 1;
    }
    if (bodiless) {
        m->body = (lg_span_t){"", 0}; /* RFC 9110 6.4.1: no content, and no length for a 204 */
    } else {
        if (r->content_type.len > 0)
            lg_reply_msg_add(m, (lg_span_t){"Content-Type", 12}, r->content_type);
        else
            lg_reply_msg_add(m, (lg_span_t){"Content-Type", 12},
                             (lg_span_t){LG_DEFAULT_CTYPE, sizeof(LG_DEFAULT_CTYPE) - 1});
        add_number(m, "Content-Length", m->body.len, &used);
    }
    if (r->location.len > 0)
        lg_reply_msg_add(m, (lg_span_t){"Location", 8}, r->location);
    if (retry == 0 && r->status == 503)
        retry = LG_RETRY_AFTER_SEC;
    if (retry != 0)
        add_number(m, "Retry-After", retry, &used);
}

void lg_reply_msg_done(lg_reply_msg_t *m)
{
    free(m->vals);
    m->vals = NULL;
}

size_t lg_reply_msg_fields_len(const lg_reply_msg_t *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++)
        n += m->f[i].name.len + m->f[i].value.len + 4;
    return n;
}

size_t lg_reply_h1(const lg_reply_msg_t *m, int keep_alive, int head_only, char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    size_t n = 0, d, body = head_only ? 0 : m->body.len;

    gmtime_r(&now, &tm);
    if (lg_format_append(buf, cap, &n, "HTTP/1.1 %d %s\r\nDate: ", m->status, m->reason) != LG_OK ||
        (d = strftime(buf + n, cap - n, "%a, %d %b %Y %H:%M:%S GMT\r\n", &tm)) == 0)
        return 0;
    n += d;
    for (size_t i = 0; i < m->n; i++)
        if (lg_format_append(buf, cap, &n, "%.*s: %.*s\r\n", (int)m->f[i].name.len, m->f[i].name.p,
                             (int)m->f[i].value.len, m->f[i].value.p) != LG_OK)
            return 0;
    if (lg_format_append(buf, cap, &n, "Connection: %s\r\n\r\n",
                         keep_alive ? "keep-alive" : "close") != LG_OK ||
        cap - n < body)
        return 0;
    if (body > 0)
        memcpy(buf + n, m->body.p, body);
    return n + body;
}
