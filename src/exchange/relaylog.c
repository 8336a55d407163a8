/*
 * relaylog.c - the access log line of a tcp relay, written when the connection ends: who the
 * client was, where it went, bytes each way, how long, and how it ended.
 */
#include "exchange/xint.h"

#include <netinet/in.h>

#include "core/net.h"
#include "http/accesslog.h"

/* How the relay ended, in the words of its log line. */
static const char *end_text(const lg_exchange_t *x)
{
    static const char *const text[] = {
        [LG_XWHY_NONE] = "no backend",           [LG_XWHY_CLIENT] = "closed by client",
        [LG_XWHY_BACKEND] = "closed by backend", [LG_XWHY_TIMEOUT] = "timeout",
        [LG_XWHY_CONNECT] = "connect failed",
    };

    return text[x->why];
}

static unsigned peer_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
}

void lg_x_upstream_text(const lg_exchange_t *x, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl;

    buf[0] = '\0';
    if (x->be == NULL)
        return;
    lg_be_addr(x->be->state, &ss, &sl);
    lg_net_addr_text((const struct sockaddr *)&ss, buf, len);
}

void lg_x_relay_log(const lg_exchange_t *x)
{
    char ip[LG_IP_STRLEN], up[LG_ADDR_STRLEN];
    lg_alog_tcp_t e;

    lg_net_ip_text(x->peer, ip, sizeof(ip));
    lg_x_upstream_text(x, up, sizeof(up));
    e.client = ip;
    e.client_port = peer_port(x->peer);
    e.listener = x->ls->name;
    e.pool = x->pool != NULL ? x->pool->conf->name : "";
    e.upstream = up;
    e.bytes_in = x->up.moved;
    e.bytes_out = x->down.moved;
    e.duration_ms = lg_now - x->start;
    e.end = end_text(x);
    e.tls = x->tls;
    e.sni = x->sni != NULL ? x->sni : "";
    lg_alog_write_tcp(&e);
}
