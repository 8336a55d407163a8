/*
 * conn.c - the life of a client connection: accepted, run by its front, closed, freed.
 */
#include "front/conn.h"

#include <string.h>
#include <unistd.h>

#include "admin/stats.h"
#include "core/log.h"
#include "core/net.h"
#include "front/listener.h"
#include "front/perip.h"
#include "front/ppin.h"
#include "stream/tls.h"
#include "tls/obs.h"
#include "tls/tls.h"

static void conn_event(lg_io_t *io, uint32_t ev)
{
    lg_conn_t *c = (lg_conn_t *)(void *)io;

    if (lg_stream_closed(&c->s))
        return;
    lg_stream_events(&c->s, ev);
    c->front->event(c, ev);
}

static void conn_timeout(lg_timer_t *t)
{
    lg_conn_t *c = lg_container_of(t, lg_conn_t, timer);

    c->front->timeout(c);
}

/* Posted: the front's work after the batch, or the free of a closed connection. */
static void conn_posted(lg_posted_t *p)
{
    lg_conn_t *c = lg_container_of(p, lg_conn_t, posted);
    lg_worker_t *w = c->ls->w;

    if (!lg_stream_closed(&c->s)) {
        c->front->run(c);
        return;
    }
    if (lg_freelist_put(&w->free_conns[c->ls->front->kind], c))
        w->released = 1; /* (c is gone: the worker was read before) */
}

/* The connection's stream: plain, or TLS on a listener with `tls` (the handshake comes first). */
static int stream_open(lg_conn_t *c, int fd)
{
    const lg_tls_conf_t *tls = c->ls->conf->tls;
    SSL *ssl;

    if (tls == NULL) {
        lg_stream_plain(&c->s, fd, conn_event);
        return LG_OK;
    }
    if ((ssl = lg_tls_session_new(tls->ctx)) == NULL)
        return LG_ERR;
    return lg_stream_tls(&c->s, fd, conn_event, ssl, lg_tls_ktls(tls->ctx));
}

void lg_conn_accept(lg_listener_t *ls, int fd, const struct sockaddr *peer, socklen_t plen)
{
    lg_worker_t *w = ls->w;
    const lg_front_t *front = ls->front, *first = lg_ppin_front(ls);
    lg_conn_t *c = lg_freelist_get(&w->free_conns[front->kind]);

    if (c == NULL)
        goto out_close_fd;
    memset(c, 0, front->conn_size);
    c->timer.handler = conn_timeout;
    c->posted.run = conn_posted;
    c->ls = ls;
    c->front = first;
    memcpy(&c->peer, peer, LG_MIN((size_t)plen, sizeof(c->peer)));
    if (stream_open(c, fd) != LG_OK)
        goto out_free_conn;
    if (lg_loop_add(&c->s.sock.io, LG_EV_CONN) != LG_OK) {
        lg_stream_close(&c->s);
        lg_freelist_put(&w->free_conns[front->kind], c);
        goto out_uncount;
    }
    lg_worker_conn_opened(w);
    lg_stats_add(&lg_stats_listener(ls->index)->conns_total, 1);
    lg_stats_add(&lg_stats_listener(ls->index)->conns_active, 1);
    first->start(c);
    return;

out_free_conn:
    lg_freelist_put(&w->free_conns[front->kind], c);
out_close_fd:
    close(fd);
out_uncount:
    if (first == front)
        lg_perip_release(w, peer);
}

/* Which directions the kernel took the keys for, on a listener that tries kernel TLS. */
static void ktls_count(lg_conn_t *c, lg_stats_listener_t *sl)
{
    unsigned k = lg_stream_tls_ktls(&c->s);

    if (!lg_tls_ktls(c->ls->conf->tls->ctx))
        return;
    lg_stats_ktls(&sl->ktls, (k & LG_KTLS_TX) != 0, (k & LG_KTLS_RX) != 0);
}

/* Counted once per connection with tls, when its handshake ends: one increment each. */
int lg_conn_handshake_step(lg_conn_t *c)
{
    lg_stats_listener_t *sl;
    int r = lg_stream_handshake(&c->s);

    if (r == LG_AGAIN)
        return r;
    sl = lg_stats_listener(c->ls->index);
    if (r == LG_OK) {
        lg_stats_add(&sl->tls_ok, 1);
        if (SSL_session_reused(lg_stream_ssl(&c->s)))
            lg_stats_add(&sl->tls_resumed, 1);
        ktls_count(c, sl);
        if (!lg_tls_acme_challenge(lg_stream_ssl(&c->s)))
            return LG_OK;
        lg_conn_close(c); /* tls-alpn-01 answered: the handshake was all (RFC 8737) */
        return LG_ERR;
    }
    if (lg_stream_tls_plain_http(&c->s)) {
        lg_stats_add(&sl->tls_failed[LG_TLS_FAIL_PLAIN_HTTP], 1);
        return LG_ERR; /* the front answers in plain HTTP */
    }
    lg_stats_add(&sl->tls_failed[lg_tls_fail_reason(lg_stream_tls_error_code(&c->s))], 1);
    if (LG_LOG_INFO <= lg_log_level) {
        char ip[LG_IP_STRLEN], why[LG_TLS_ERR_MAX];

        lg_net_ip_text(&c->peer.sa, ip, sizeof(ip));
        lg_log(LG_LOG_INFO, "TLS handshake with %s on listener %s failed: %s", ip,
               c->ls->conf->name, lg_stream_tls_error(&c->s, why, sizeof(why)));
    }
    lg_conn_close(c);
    return LG_ERR;
}

void lg_conn_handshake_timeout(lg_conn_t *c)
{
    lg_log(LG_LOG_INFO, "client timed out in the TLS handshake (timeouts.client_header)");
    lg_stats_add(&lg_stats_listener(c->ls->index)->tls_failed[LG_TLS_FAIL_TIMEOUT], 1);
    lg_conn_close(c);
}

void lg_conn_close(lg_conn_t *c)
{
    if (lg_stream_closed(&c->s))
        return;
    c->front->release(c);
    lg_timer_del(&c->timer);
    lg_stream_close(&c->s);
    lg_stats_add(&lg_stats_listener(c->ls->index)->conns_active, (uint64_t)-1);
    if (lg_ppin_counted(c))
        lg_perip_release(c->ls->w, &c->peer.sa);
    lg_loop_post(&c->posted);
    lg_worker_conn_closed(c->ls->w);
}
