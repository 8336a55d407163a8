/*
 * diag.c - the context of error and debug lines (see diag.h).
 */
#include "http/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/net.h"
#include "http/accesslog.h"
#include "upstream/balance.h"

/* An escaped method or target: at most 4 bytes of text per byte, cut to fit. */
#define LG_DIAG_FIELD 400

/* `s` as a C string in buf, cut to fit. */
static const char *span_str(lg_span_t s, char *buf, size_t len)
{
    snprintf(buf, len, "%.*s", (int)LG_MIN(s.len, len - 1), s.p != NULL ? s.p : "");
    return buf;
}

/* "host api.example.com, path_prefix /api/", or "catch-all". */
static const char *route_text(const lg_route_conf_t *r, char *buf, size_t len)
{
    if (r->host == NULL && r->path_prefix == NULL)
        snprintf(buf, len, "catch-all");
    else if (r->path_prefix == NULL)
        snprintf(buf, len, "host %s", r->host);
    else if (r->host == NULL)
        snprintf(buf, len, "path_prefix %s", r->path_prefix);
    else
        snprintf(buf, len, "host %s, path_prefix %s", r->host, r->path_prefix);
    return buf;
}

void lg_diag_routed(const lg_config_t *cf, const lg_listener_conf_t *ls, const lg_route_conf_t *r,
                    lg_span_t host, lg_span_t path)
{
    char h[LG_DIAG_FIELD], p[LG_DIAG_FIELD], what[LG_ADDR_HOST_MAX + LG_DIAG_FIELD];

    lg_alog_escape(h, sizeof(h), span_str(host, what, sizeof(what)), 0);
    lg_alog_escape(p, sizeof(p), span_str(path, what, sizeof(what)), 0);
    if (r == NULL)
        lg_debug("no route of listener %s matches host \"%s\", path %s", ls->name, h, p);
    else
        lg_debug("route %zu of listener %s (%s) matches host \"%s\", path %s: %s%s",
                 (size_t)(r - ls->routes) + 1, ls->name, route_text(r, what, sizeof(what)), h, p,
                 r->answer == NULL ? "pool " : "",
                 r->answer == NULL     ? cf->pools[r->pool].name
                 : r->answer->redirect ? "redirect"
                                       : "respond");
}

const char *lg_diag_pick(const lg_pool_conf_t *pc, uint64_t key, char *buf, size_t len)
{
    static const char *const algos[] = {"round_robin", "weighted", "least_conn", "p2c", "hash"};
    static const char *const keys[] = {"the client address", "the uri", "header", "cookie"};
    const char *name = pc->hash_key_name != NULL ? pc->hash_key_name : "";
    const char *sep = name[0] != '\0' ? " " : "";

    if (pc->balance != LG_BALANCE_HASH)
        snprintf(buf, len, "%s", algos[pc->balance]);
    else if (key == LG_BAL_NO_KEY)
        snprintf(buf, len, "round robin: no %s%s%s in the request", keys[pc->hash_key], sep, name);
    else
        snprintf(buf, len, "hash of %s%s%s", keys[pc->hash_key], sep, name);
    return buf;
}

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

void lg_diag_conn(const struct sockaddr *peer, const char *fmt, ...)
{
    char addr[LG_ADDR_STRLEN], msg[LG_DIAG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lg_net_addr_text(peer, addr, sizeof(addr));
    lg_debug("client %s: %s", addr, msg);
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
