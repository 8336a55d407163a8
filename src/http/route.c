/*
 * route.c - route matching, first match wins.
 */
#include "http/route.h"

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

static int host_matches(const lg_route_conf_t *r, lg_span_t host)
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

const lg_route_conf_t *lg_route_match(const lg_listener_conf_t *ls, lg_span_t host, lg_span_t path)
{
    lg_span_t h = lg_route_host(host);

    for (size_t i = 0; i < ls->nroutes; i++) {
        const lg_route_conf_t *r = &ls->routes[i];

        if (r->host != NULL && !host_matches(r, h))
            continue;
        if (r->path_prefix != NULL) {
            size_t n = strlen(r->path_prefix);

            if (path.len < n || memcmp(path.p, r->path_prefix, n) != 0)
                continue;
        }
        return r;
    }
    return NULL;
}
