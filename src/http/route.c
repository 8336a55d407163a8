/*
 * route.c - route matching, first match wins: host, path prefix, methods, headers.
 */
#include "http/route.h"
#include "http/head-int.h"

#include <string.h>
#include <strings.h>

lg_span_t lg_route_host(lg_span_t h)
{
    const char *colon;

    if (h.len == 0)
        return h;
    if (h.p[0] == '[') {
        const char *close = memchr(h.p, ']', h.len);

        if (close != NULL)
            h.len = (size_t)(close + 1 - h.p);
        return h;
    }
    colon = memchr(h.p, ':', h.len);
    if (colon != NULL)
        h.len = (size_t)(colon - h.p);
    /* "example.com." names the same host as "example.com" */
    if (h.len > 1 && h.p[h.len - 1] == '.')
        h.len--;
    return h;
}

int lg_route_host_matches(const lg_route_conf_t *r, lg_span_t host)
{
    size_t n;

    if (r->host_wildcard) {
        const char *suffix = r->host + 1; /* ".example.com" */

        n = strlen(suffix);
        return host.len > n && strncasecmp(host.p + host.len - n, suffix, n) == 0;
    }
    n = strlen(r->host);
    return host.len == n && strncasecmp(host.p, r->host, n) == 0;
}

/* The request's method is one of the route's, exactly (methods are case-sensitive). */
static int method_matches(const lg_route_conf_t *r, lg_span_t m)
{
    for (size_t i = 0; i < r->nmethods; i++) {
        if (strlen(r->methods[i]) == m.len && memcmp(r->methods[i], m.p, m.len) == 0)
            return 1;
    }
    return 0;
}

/*
 * Every `headers` condition of the route is met by some field of the request: same name (any
 * case), same value once its OWS is trimmed. A name that comes several times needs one match.
 */
static int headers_match(const lg_route_conf_t *r, const lg_req_head_t *rq)
{
    const char *cur = memchr(rq->head, '\n', rq->len) + 1;
    const char *end = rq->head + rq->len;
    uint32_t want = (uint32_t)((UINT64_C(1) << r->nheaders) - 1), met = 0;
    lg_hdr_t h;

    while (met != want && lg_hdr_next(&cur, end, &h) > 0) {
        for (size_t i = 0; i < r->nheaders; i++) {
            const lg_route_header_t *c = &r->headers[i];

            if (h.name.len == c->name_len && h.value.len == c->value_len &&
                strncasecmp(h.name.p, c->name, c->name_len) == 0 &&
                memcmp(h.value.p, c->value, c->value_len) == 0)
                met |= UINT32_C(1) << i;
        }
    }
    return met == want;
}

const lg_route_conf_t *lg_route_match(const lg_listener_conf_t *ls, const lg_req_head_t *rq)
{
    lg_span_t h = lg_route_host(rq->host);

    for (size_t i = 0; i < ls->nroutes; i++) {
        const lg_route_conf_t *r = &ls->routes[i];

        if (r->host != NULL && !lg_route_host_matches(r, h))
            continue;
        if (r->path_prefix != NULL) {
            size_t n = strlen(r->path_prefix);

            if (rq->path.len < n || memcmp(rq->path.p, r->path_prefix, n) != 0)
                continue;
        }
        if (r->methods != NULL && !method_matches(r, rq->method))
            continue;
        if (r->nheaders != 0 && !headers_match(r, rq))
            continue;
        return r;
    }
    return NULL;
}
