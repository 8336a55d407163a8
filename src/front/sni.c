/*
 * sni.c - TLS passthrough routing (see sni.h).
 */
#include "front/sni.h"

#include <errno.h>
#include <string.h>

#include "admin/stats.h"
#include "core/log.h"
#include "core/net.h"
#include "front/listener.h"
#include "http/route.h"

/* The first route taking `r` (and `sni` when r is LG_HELLO_SNI); NULL when none does. */
static const lg_route_conf_t *pick(const lg_listener_conf_t *l, lg_hello_result_t r,
                                   const char *sni)
{
    lg_span_t name = {sni, strlen(sni)};

    for (size_t i = 0; i < l->nroutes; i++) {
        const lg_route_conf_t *rt = &l->routes[i];

        if (rt->host == NULL || (r == LG_HELLO_SNI && lg_route_host_matches(rt, name)))
            return rt;
    }
    return NULL;
}

/* Read more of the hello: LG_OK when bytes came, LG_AGAIN, LG_ERR (logged). */
static int read_more(lg_conn_t *c, lg_buf_t *b)
{
    ssize_t n = lg_stream_read(&c->s, b->data + b->last, LG_HELLO_MAX - lg_buf_len(b));
    char ip[LG_IP_STRLEN];
    int err = errno;

    if (n > 0) {
        b->last += (uint32_t)n;
        return LG_OK;
    }
    if (n == LG_AGAIN)
        return LG_AGAIN;
    lg_stats_add(&lg_stats_listener(c->ls->index)->conns_bad_hello, 1);
    lg_net_ip_text(&c->peer.sa, ip, sizeof(ip));
    if (n < 0)
        lg_log(LG_LOG_INFO, "recv() from client %s on the listener %s failed (%d: %s)", ip,
               c->ls->conf->name, err, strerror(err));
    else
        lg_log(LG_LOG_INFO,
               "client %s closed the connection to the listener %s before a complete ClientHello",
               ip, c->ls->conf->name);
    return LG_ERR;
}

int lg_sni_route(lg_conn_t *c, lg_buf_t **in, char sni[LG_HELLO_NAME_MAX + 1], size_t *pool)
{
    const lg_route_conf_t *rt;
    char ip[LG_IP_STRLEN];
    lg_hello_result_t r;
    int rc;

    if (*in == NULL && (*in = lg_buf_get()) == NULL)
        return LG_ERR;
    sni[0] = '\0';
    while ((r = lg_hello_sni((const uint8_t *)(*in)->data + (*in)->pos, lg_buf_len(*in), sni)) ==
           LG_HELLO_MORE) {
        if ((rc = read_more(c, *in)) == LG_AGAIN && lg_buf_len(*in) == 0)
            lg_buf_put(in); /* an idle connection holds no buffer */
        if (rc != LG_OK)
            return rc;
    }
    if (r != LG_HELLO_SNI)
        sni[0] = '\0';
    rt = r == LG_HELLO_BAD ? NULL : pick(c->ls->conf, r, sni);
    if (rt != NULL) {
        *pool = rt->pool;
        return LG_OK;
    }
    lg_net_ip_text(&c->peer.sa, ip, sizeof(ip));
    lg_stats_add(r == LG_HELLO_BAD ? &lg_stats_listener(c->ls->index)->conns_bad_hello
                                   : &lg_stats_listener(c->ls->index)->conns_no_route,
                 1);
    if (r == LG_HELLO_BAD)
        lg_log(LG_LOG_INFO, "client %s sent a malformed ClientHello to the listener %s: closed", ip,
               c->ls->conf->name);
    else
        lg_log(LG_LOG_INFO, "listener %s has no route for %s%s from client %s: closed",
               c->ls->conf->name, r == LG_HELLO_SNI ? "the server name " : "",
               r == LG_HELLO_SNI ? sni : lg_hello_result_text(r), ip);
    return LG_ERR;
}
