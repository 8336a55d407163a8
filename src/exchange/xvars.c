/*
 * xvars.c - the values of the template variables (http/tmpl.h) for a request.
 */
#include "exchange/xint.h"

#include <string.h>

#include "http/route.h"

void lg_x_tmpl_vars(const lg_exchange_t *x, const lg_req_head_t *rq, const char *ip,
                    lg_tmpl_vars_t *v)
{
    const char *q = memchr(rq->path.p, '?', rq->path.len);
    size_t plen = q != NULL ? (size_t)(q - rq->path.p) : rq->path.len;

    v->v[LG_VAR_HOST] = lg_route_host(rq->host);
    v->v[LG_VAR_URI] = rq->path;
    v->v[LG_VAR_PATH] = (lg_span_t){rq->path.p, plen};
    v->v[LG_VAR_QUERY] =
        q != NULL ? (lg_span_t){q + 1, rq->path.len - plen - 1} : (lg_span_t){"", 0};
    v->v[LG_VAR_SCHEME] = x->tls != NULL ? (lg_span_t){"https", 5} : (lg_span_t){"http", 4};
    v->v[LG_VAR_CLIENT_IP] = (lg_span_t){ip, strlen(ip)};
    v->v[LG_VAR_REQUEST_ID] = (lg_span_t){x->rid, strlen(x->rid)};
}
