/*
 * ppin.c - the PROXY protocol header before a connection's first byte (see ppin.h).
 */
#include "front/ppin.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "admin/stats.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "core/proxyproto.h"
#include "front/listener.h"
#include "front/perip.h"
#include "http/diag.h"

const lg_front_t *lg_ppin_front(const lg_listener_t *ls)
{
    return ls->conf->proxy_trusted != NULL ? &lg_front_ppin : ls->front;
}

int lg_ppin_admit(lg_listener_t *ls, const struct sockaddr *peer)
{
    if (ls->conf->proxy_trusted == NULL)
        return lg_perip_admit(ls, peer);
    if (lg_cidr_set_has(ls->conf->proxy_trusted, peer))
        return LG_OK;
    if (LG_LOG_INFO <= lg_log_level)
        lg_perip_refused_log(ls, peer, "not a trusted source of proxy_protocol");
    lg_stats_add(&lg_stats_listener(ls->index)->conns_refused_untrusted, 1);
    return LG_ERR;
}

/* Close with a reason, logged at info with the load balancer's address. */
static void ppin_fail(lg_conn_t *c, const char *why)
{
    lg_stats_add(&lg_stats_listener(c->ls->index)->conns_bad_proxy, 1);
    if (LG_LOG_INFO <= lg_log_level) {
        char ip[LG_IP_STRLEN];

        lg_net_ip_text(&c->peer.sa, ip, sizeof(ip));
        lg_log(LG_LOG_INFO, "listener %s: connection from %s closed: bad PROXY header: %s",
               c->ls->conf->name, ip, why);
    }
    lg_conn_close(c);
}

/* The header was read: its client becomes the connection's, the listener's front takes over. */
static void ppin_done(lg_conn_t *c, const lg_pp_t *pp)
{
    if (pp->has_src) {
        memcpy(&c->peer, &pp->src, sizeof(c->peer));
        memcpy(&c->local, &pp->dst, sizeof(c->local));
    }
    if (lg_perip_admit(c->ls, &c->peer.sa) != LG_OK) {
        lg_conn_close(c); /* not counted yet: ppin's close gives nothing back */
        return;
    }
    lg_timer_del(&c->timer);
    c->state = 0;
    c->fflags = 0;
    c->front = c->ls->front;
    c->front->start(c);
    if (!lg_stream_closed(&c->s))
        lg_conn_post(c); /* bytes after the header may be waiting: no new edge will say so */
}

/*
 * Peek at what arrived; once it holds a whole header, take exactly that many bytes. Waits
 * (without reading) for more while the bytes are the beginning of a header: epoll reports each
 * new arrival, and the header is short (LG_PP_MAX).
 */
static void ppin_read(lg_conn_t *c)
{
    uint8_t buf[LG_PP_MAX];
    const char *why;
    size_t hlen;
    ssize_t n;
    lg_pp_t pp;
    int r;

    do {
        n = recv(c->s.sock.io.fd, buf, sizeof(buf), MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n == 0) {
        /* a balancer's connect-only health check: closed with nothing sent, nothing to say */
        if (lg_debug_on())
            lg_diag_conn(&c->peer.sa, "closing: closed by the client before a PROXY header");
        lg_conn_close(c);
        return;
    }
    if (n < 0) {
        char why_recv[64];

        lg_format(why_recv, sizeof(why_recv), "recv() failed (%d: %s)", errno, strerror(errno));
        ppin_fail(c, why_recv);
        return;
    }
    r = lg_pp_parse(buf, (size_t)n, &pp, &hlen, &why);
    if (r == LG_AGAIN && (c->s.sock.flags & LG_SOCK_HUP)) {
        /* a peek shows the bytes, not the FIN after them: nothing more can come */
        ppin_fail(c, "the client closed its side before the end of the header");
        return;
    }
    if (r == LG_AGAIN)
        return;
    if (r == LG_ERR) {
        ppin_fail(c, why);
        return;
    }
    do {
        n = recv(c->s.sock.io.fd, buf, hlen, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)hlen) {
        ppin_fail(c, "the header could not be read again after a peek");
        return;
    }
    ppin_done(c, &pp);
}

static void ppin_start(lg_conn_t *c)
{
    lg_conn_timer(c, &c->ls->w->q.client_header);
}

static void ppin_event(lg_conn_t *c, uint32_t ev)
{
    LG_UNUSED(ev);
    ppin_read(c);
}

static void ppin_timeout(lg_conn_t *c)
{
    ppin_fail(c, "none complete within timeouts.client_header");
}

static void ppin_release(lg_conn_t *c)
{
    LG_UNUSED(c);
}

/* Runs in the memory of the listener's front (its kind), on the base struct only. */
const lg_front_t lg_front_ppin = {
    .name = "proxy_protocol",
    .kind = LG_FRONT_KINDS, /* never allocated as such */
    .conn_size = sizeof(lg_conn_t),
    .start = ppin_start,
    .event = ppin_event,
    .run = ppin_read,
    .timeout = ppin_timeout,
    .release = ppin_release,
};
