/*
 * diag.c - the context of error and debug lines (see diag.h).
 */
#include "http/diag.h"

#include <stdio.h>
#include <string.h>

#include "core/net.h"
#include "http/accesslog.h"

/* An escaped method or target: at most 4 bytes of text per byte, cut to fit. */
#define LG_DIAG_FIELD 400

const char *lg_diag_context(const lg_diag_req_t *r, char *buf, size_t len)
{
    char ip[LG_IP_STRLEN], method[LG_DIAG_FIELD / 4], target[LG_DIAG_FIELD];
    int n = 0;

    lg_net_ip_text(r->client, ip, sizeof(ip));
    if (r->pool != NULL)
        n = snprintf(buf, len, ", pool: %s", r->pool);
    if (n < 0 || (size_t)n >= len)
        return buf;
    n += snprintf(buf + n, len - (size_t)n, ", client: %s", ip);
    if (r->method[0] == '\0' || n < 0 || (size_t)n >= len)
        return buf;
    lg_alog_escape(method, sizeof(method), r->method, 0);
    lg_alog_escape(target, sizeof(target), r->target, 0);
    if (r->major != 0)
        snprintf(buf + n, len - (size_t)n, ", request: \"%s %s HTTP/%u.%u\"", method, target,
                 r->major, r->minor);
    else
        snprintf(buf + n, len - (size_t)n, ", request: \"%s %s\"", method, target);
    return buf;
}

void lg_diag_request_line(const char *p, size_t len, lg_span_t *method, lg_span_t *target)
{
    const char *eol = memchr(p, '\n', len), *sp, *end;

    end = eol != NULL ? eol : p + len;
    if (end > p && end[-1] == '\r')
        end--;
    sp = memchr(p, ' ', (size_t)(end - p));
    *method = (lg_span_t){p, (size_t)((sp != NULL ? sp : end) - p)};
    *target = (lg_span_t){end, 0};
    if (sp == NULL)
        return;
    p = sp + 1;
    sp = memchr(p, ' ', (size_t)(end - p));
    *target = (lg_span_t){p, (size_t)((sp != NULL ? sp : end) - p)};
}
