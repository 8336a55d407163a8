/*
 * tcp.c - the tcp front: each connection is one relay exchange to a backend of the listener's
 * pool (hash balancing keys on the client address); both directions are relayed until each
 * side has closed, half-closes passed on. Idle for timeouts.tunnel, it is closed. Each connection
 * that reached the relay writes one access log line when it ends (exchange/relaylog.c).
 * A listener with routes first reads the ClientHello to pick the pool (TLS passthrough, sni.h).
 */
#include "front/conn.h"

#include "exchange/exchange.h"
#include "admin/stats.h"
#include "core/log.h"
#include "core/net.h"
#include "front/listener.h"
#include "front/sni.h"
#include "stream/tls.h"

typedef struct tcp_conn {
    lg_conn_t c;  /* first */
    lg_buf_t *in; /* client bytes waiting for the backend */
    lg_exchange_t x;
    char sni[LG_HELLO_NAME_MAX + 1]; /* TLS passthrough: the server name routed on, or "" */
} tcp_conn_t;

static void tcp_ended(lg_exchange_t *x, const lg_xend_t *end)
{
    LG_UNUSED(end); /* however it ended, the connection closes: no protocol to answer in */
    lg_conn_close(x->front_data);
}

static void tcp_again(lg_exchange_t *x)
{
    lg_conn_post(x->front_data);
}

static const lg_xfront_t tcp_xfront = {
    .response_head = NULL, /* a relay has no response head */
    .ended = tcp_ended,
    .again = tcp_again,
};

enum { TCP_HANDSHAKE, TCP_HELLO, TCP_RELAY };

/* The relay starts once the stream carries bytes (a TLS handshake first: TLS offload). */
static void relay_start(lg_conn_t *c, size_t pool)
{
    tcp_conn_t *tc = (tcp_conn_t *)c;

    lg_timer_del(&c->timer);
    c->state = TCP_RELAY;
    lg_exchange_init(&tc->x, c->ls->w, &tcp_xfront, c, &c->s, &tc->in, c->ls->conf, c->ls->index,
                     &c->peer.sa);
    tc->x.tls = lg_stream_ssl(&c->s);
    tc->x.client_fd = c->s.sock.io.fd;
    tc->x.local = lg_conn_local(c);
    tc->x.sni = tc->sni;
    lg_exchange_relay(&tc->x, pool);
}

/* TLS passthrough: the pool is the route of the ClientHello's server name. */
static void hello_run(lg_conn_t *c)
{
    tcp_conn_t *tc = (tcp_conn_t *)c;
    size_t pool;

    c->state = TCP_HELLO;
    switch (lg_sni_route(c, &tc->in, tc->sni, &pool)) {
    case LG_OK:
        relay_start(c, pool);
        return;
    case LG_AGAIN:
        return;
    default:
        lg_conn_close(c);
        return;
    }
}

static void tcp_run(lg_conn_t *c)
{
    if (c->state == TCP_RELAY) {
        lg_exchange_run(&((tcp_conn_t *)c)->x);
        return;
    }
    if (c->state == TCP_HELLO) {
        hello_run(c);
        return;
    }
    switch (lg_conn_handshake(c)) {
    case LG_OK:
        if (c->ls->conf->nroutes > 0)
            hello_run(c);
        else
            relay_start(c, c->ls->conf->pool);
        return;
    case LG_AGAIN:
        return;
    default:
        if (lg_stream_closed(&c->s))
            return; /* logged and closed */
        lg_log(LG_LOG_INFO, "client sent plain HTTP to the TLS listener %s", c->ls->conf->name);
        lg_conn_close(c); /* no HTTP to answer in on a tcp listener */
        return;
    }
}

static void tcp_start(lg_conn_t *c)
{
    c->state = TCP_HANDSHAKE;
    lg_conn_timer(c, &c->ls->w->q.client_header);
    tcp_run(c);
}

static void tcp_event(lg_conn_t *c, uint32_t ev)
{
    LG_UNUSED(ev);
    tcp_run(c);
}

/* The connection's own timer bounds the handshake or the ClientHello; the exchange, the relay. */
static void tcp_timeout(lg_conn_t *c)
{
    char ip[LG_IP_STRLEN];

    if (c->state != TCP_HELLO) {
        lg_conn_handshake_timeout(c);
        return;
    }
    lg_stats_add(&lg_stats_listener(c->ls->index)->conns_bad_hello, 1);
    lg_net_ip_text(&c->peer.sa, ip, sizeof(ip));
    lg_log(LG_LOG_INFO,
           "client %s sent no complete ClientHello within timeouts.client_header to the "
           "listener %s: closed",
           ip, c->ls->conf->name);
    lg_conn_close(c);
}

static void tcp_release(lg_conn_t *c)
{
    tcp_conn_t *tc = (tcp_conn_t *)c;

    if (c->state == TCP_RELAY)
        lg_exchange_release(&tc->x);
    lg_buf_put(&tc->in);
}

const lg_front_t lg_front_tcp = {
    .name = "tcp",
    .kind = LG_FRONT_TCP,
    .conn_size = sizeof(tcp_conn_t),
    .start = tcp_start,
    .event = tcp_event,
    .run = tcp_run,
    .timeout = tcp_timeout,
    .release = tcp_release,
};
