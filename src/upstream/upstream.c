/*
 * upstream.c - runtime pools, round robin, connects and the idle connection pool.
 */
#include "upstream/upstream.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/stats.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "stream/tls.h"
#include "upstream/balance.h"
#include "upstream/queue.h"
#include "upstream/uptls.h"

/* Passive ejection: 5 s, doubling per ejection up to 5 min. */
#define LG_EJECT_BASE_MS   5000
#define LG_EJECT_MAX_MS    300000
#define LG_EJECT_DOUBLINGS 6u
/*
 * Receive buffer of a backend connection; the kernel doubles it, so about 2 MiB of response
 * waits there at most. Left to autotuning it grows during the first fast reads of a response
 * (to 3.6-16 MiB measured, up to tcp_rmem's maximum), and all of it fills when the client then
 * reads slowly. Smaller costs throughput: 512 KiB lowered the 64 MiB body benchmark by 15%
 * (see "Slow clients" in docs/architecture.md).
 */
#define LG_UPSTREAM_RCVBUF (1024 * 1024)

/* The balancer of a pool: weights, and addresses as names so every worker hashes alike. */
static int pool_balancer(lg_pool_t *pool)
{
    size_t n = pool->nbackends;
    unsigned *weights = calloc(LG_MAX(n, (size_t)1), sizeof(*weights));
    char **names = calloc(LG_MAX(n, (size_t)1), sizeof(*names));
    int ok = weights != NULL && names != NULL;

    /* A host name's DNS slots are named "host:port#k": the same in every worker. */
    for (size_t m = 0, j = 0; ok && j < pool->conf->nbackends; j++) {
        const lg_backend_conf_t *b = &pool->conf->backends[j];

        for (size_t k = 0; ok && k < lg_backend_members(b); k++, m++) {
            weights[m] = b->weight;
            ok = asprintf(&names[m], b->addr.is_hostname ? "%s#%zu" : "%s", b->addr.text, k) >= 0;
        }
    }
    if (ok)
        pool->bal = lg_bal_new(pool->conf->balance, n, weights, (const char *const *)names);
    for (size_t m = 0; pool->bal != NULL && m < n; m++)
        if (lg_member_conf(pool->conf, m)->backup)
            lg_bal_set_backup(pool->bal, m);
    for (size_t m = 0; names != NULL && m < n; m++)
        free(names[m]);
    free(weights);
    free(names);
    return pool->bal != NULL ? LG_OK : LG_ERR;
}

int lg_upstream_init(lg_upstreams_t *ups, const lg_config_t *cf, lg_shm_t *shm, lg_timerq_t *idle_q)
{
    ups->idle_q = idle_q;
    ups->secret = shm->secret;
    ups->pools = calloc(cf->npools, sizeof(*ups->pools));
    if (ups->pools == NULL && cf->npools != 0)
        return LG_ERR;
    ups->npools = cf->npools;
    for (size_t i = 0; i < ups->npools; i++) {
        lg_pool_t *pool = &ups->pools[i];

        pool->conf = &cf->pools[i];
        pool->ups = ups;
        pool->index = i;
        pool->nbackends = lg_pool_members(pool->conf);
        pool->backends = calloc(pool->nbackends, sizeof(*pool->backends));
        if (pool->backends == NULL)
            return LG_ERR;
        if (pool_balancer(pool) != LG_OK)
            return LG_ERR;
        for (size_t j = 0; j < pool->nbackends; j++) {
            lg_backend_t *be = &pool->backends[j];

            be->conf = lg_member_conf(pool->conf, j);
            be->pool = pool;
            be->state = lg_shm_backend(shm, i, j);
            be->idle.next = be->idle.prev = &be->idle;
        }
        pool->q_timeout =
            pool->conf->queue_timeout ? pool->conf->queue_timeout : cf->timeouts.connect;
    }
    return LG_OK;
}

void lg_upstream_close_idle(lg_upstreams_t *ups)
{
    for (size_t i = 0; i < ups->npools; i++) {
        for (size_t j = 0; j < ups->pools[i].nbackends; j++) {
            lg_backend_t *be = &ups->pools[i].backends[j];

            while (be->idle.next != &be->idle)
                lg_upconn_close(be->idle.next);
        }
    }
}

lg_pool_t *lg_upstream_pool(lg_upstreams_t *ups, size_t index)
{
    return index < ups->npools ? &ups->pools[index] : NULL;
}

/*
 * Has an address, is up, and is not ejected (with active checks, an ejection ends only when a
 * check passes).
 */
static int usable(const lg_backend_t *be)
{
    uint64_t until = atomic_load_explicit(&be->state->ejected_until, memory_order_relaxed);

    if (!atomic_load_explicit(&be->state->in_use, memory_order_acquire) ||
        !atomic_load_explicit(&be->state->up, memory_order_relaxed))
        return 0;
    return until == 0 || (be->pool->conf->health_check.type == LG_CHECK_NONE && until <= lg_now);
}

/* Below its max_connections (summed over every worker). */
static int has_room(const lg_backend_t *be)
{
    return be->conf->max_connections == 0 ||
           atomic_load(&be->state->active) < be->conf->max_connections;
}

static int view_usable(void *ctx, size_t i)
{
    return usable(&((lg_pool_t *)ctx)->backends[i]);
}

static int view_open(void *ctx, size_t i)
{
    return has_room(&((lg_pool_t *)ctx)->backends[i]);
}

static uint32_t view_active(void *ctx, size_t i)
{
    return atomic_load_explicit(&((lg_pool_t *)ctx)->backends[i].state->active,
                                memory_order_relaxed);
}

/*
 * slow_start: the share of its weight the member has now, ramping from when it came up, or from
 * the end of its passive ejection (without active checks nobody clears ejected_until, and the
 * member is back once it is past).
 */
static uint32_t view_ramp(void *ctx, size_t i)
{
    const lg_backend_t *be = &((lg_pool_t *)ctx)->backends[i];
    uint64_t since = atomic_load_explicit(&be->state->up_since, memory_order_relaxed);
    uint64_t until = atomic_load_explicit(&be->state->ejected_until, memory_order_relaxed);

    if (until != 0 && until <= lg_now)
        since = LG_MAX(since, until);
    return lg_bal_ramp(since, lg_now, be->pool->conf->slow_start);
}

static lg_bal_view_t pool_view(lg_pool_t *pool)
{
    return (lg_bal_view_t){pool, view_usable, view_active,
                           pool->conf->slow_start != 0 ? view_ramp : NULL,
                           pool->q != NULL ? view_open : NULL};
}

lg_backend_t *lg_upstream_pick(lg_pool_t *pool, const lg_backend_t *avoid, uint64_t key)
{
    lg_bal_view_t view = pool_view(pool);
    long i = lg_bal_pick(pool->bal, &view, key, avoid != NULL ? avoid - pool->backends : -1);

    return i < 0 ? NULL : &pool->backends[i];
}

int lg_upstream_eligible(lg_backend_t *be)
{
    lg_bal_view_t view = pool_view(be->pool);

    return lg_bal_eligible(be->pool->bal, &view, (size_t)(be - be->pool->backends));
}

const char *lg_backend_name(const lg_backend_t *be)
{
    static char name[LG_ADDR_TEXT_MAX + LG_ADDR_STRLEN + 4];
    struct sockaddr_storage ss;
    socklen_t len;
    char ip[LG_ADDR_STRLEN];

    if (!be->conf->addr.is_hostname)
        return be->conf->addr.text;
    lg_be_addr(be->state, &ss, &len);
    lg_net_addr_text((const struct sockaddr *)&ss, ip, sizeof(ip));
    if (lg_format(name, sizeof(name), "%s (%s)", be->conf->addr.text, ip) != LG_OK)
        return be->conf->addr.text;
    return name;
}

int lg_backend_take(lg_backend_t *be)
{
    unsigned max = be->conf->max_connections;
    unsigned cur;

    if (max == 0) {
        atomic_fetch_add(&be->state->active, 1);
    } else {
        cur = atomic_load(&be->state->active);
        do {
            if (cur >= max)
                return 0;
        } while (!atomic_compare_exchange_weak(&be->state->active, &cur, cur + 1));
    }
    if (be->held != NULL)
        atomic_store_explicit(be->held, atomic_load_explicit(be->held, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    return 1;
}

lg_backend_t *lg_upstream_take(lg_pool_t *pool, const lg_backend_t *avoid, uint64_t key)
{
    /* A pick that loses the race for a slot picks again: each loss is another worker's gain. */
    for (size_t i = 0; i <= pool->nbackends; i++) {
        lg_backend_t *be = lg_upstream_pick(pool, avoid, key);

        if (be == NULL || lg_backend_take(be))
            return be;
    }
    return NULL;
}

int lg_upstream_usable(lg_pool_t *pool)
{
    for (size_t i = 0; i < pool->nbackends; i++)
        if (usable(&pool->backends[i]))
            return 1;
    return 0;
}

void lg_backend_release(lg_backend_t *be)
{
    if (be->held != NULL)
        atomic_store_explicit(be->held, atomic_load_explicit(be->held, memory_order_relaxed) - 1,
                              memory_order_relaxed);
    /* seq_cst: ordered before the look at the queue (see queue.c, "no lost wake-up") */
    atomic_fetch_sub(&be->state->active, 1);
    if (be->pool->q != NULL)
        lg_queue_released(be->pool);
}

void lg_backend_failed(lg_backend_t *be, const char *why)
{
    lg_be_state_t *st = be->state;
    unsigned fall = LG_MAX(be->pool->conf->health_check.fall, 1u);
    unsigned n, shift;
    lg_msec_t cooldown;

    lg_stats_add(&lg_stats_member(be->pool->index, (size_t)(be - be->pool->backends))->failures, 1);
    n = atomic_fetch_add_explicit(&st->fails, 1, memory_order_relaxed) + 1;
    if (n != fall)
        return; /* the worker that reaches `fall` ejects; the others only count */
    atomic_store_explicit(&st->fails, 0, memory_order_relaxed);
    shift = atomic_fetch_add(&st->ejections, 1); /* not inside LG_MIN: evaluated once */
    shift = LG_MIN(shift, LG_EJECT_DOUBLINGS);
    cooldown = LG_MIN((lg_msec_t)LG_EJECT_BASE_MS << shift, (lg_msec_t)LG_EJECT_MAX_MS);
    atomic_store(&st->ejected_until, lg_now + cooldown);
    lg_log(LG_LOG_WARN, "backend %s/%s ejected for %llu s after %u failures in a row (last: %s)",
           be->pool->conf->name, lg_backend_name(be), (unsigned long long)(cooldown / 1000), fall,
           why);
}

void lg_backend_ok(lg_backend_t *be)
{
    if (atomic_load_explicit(&be->state->fails, memory_order_relaxed) != 0)
        atomic_store_explicit(&be->state->fails, 0, memory_order_relaxed);
}

static void idle_unlink(lg_upconn_t *u)
{
    u->prev->next = u->next;
    u->next->prev = u->prev;
    u->prev = u->next = NULL;
    u->be->nidle--;
}

static void upconn_free(lg_posted_t *p)
{
    free(lg_container_of(p, lg_upconn_t, posted));
}

void lg_upconn_close(lg_upconn_t *u)
{
    if (lg_stream_closed(&u->s))
        return;
    if (u->prev != NULL)
        idle_unlink(u);
    lg_timer_del(&u->timer);
    lg_stream_close(&u->s);
    u->owner = NULL;
    u->posted.run = upconn_free;
    lg_loop_post(&u->posted);
}

/* An idle connection that becomes readable was closed by the backend (or sent junk). */
static void idle_event(lg_io_t *io, uint32_t ev)
{
    lg_upconn_t *u = (lg_upconn_t *)(void *)io;

    if (lg_stream_closed(&u->s))
        return;
    lg_stream_events(&u->s, ev);
    if (u->s.sock.flags & (LG_SOCK_RD | LG_SOCK_HUP)) {
        lg_debug("upstream %s: idle connection closed by the backend", lg_backend_name(u->be));
        lg_upconn_close(u);
    }
}

static void idle_timeout(lg_timer_t *t)
{
    lg_upconn_t *u = lg_container_of(t, lg_upconn_t, timer);

    lg_debug("upstream %s: closing an idle connection (timeouts.upstream_idle)",
             lg_backend_name(u->be));
    lg_upconn_close(u);
}

/* The backend answered the request whose client left (or closed, or failed): its slot frees. */
static void linger_end(lg_upconn_t *u, const char *why)
{
    lg_backend_t *be = u->be;

    lg_debug("upstream %s: %s; its slot frees", lg_backend_name(be), why);
    lg_upconn_close(u);
    lg_backend_release(be);
}

static void linger_event(lg_io_t *io, uint32_t ev)
{
    lg_upconn_t *u = (lg_upconn_t *)(void *)io;
    char byte;

    if (lg_stream_closed(&u->s))
        return;
    lg_stream_events(&u->s, ev);
    if (u->s.sock.flags & (LG_SOCK_HUP | LG_SOCK_ERR))
        linger_end(u, "the connection of a client that left closed");
    else if ((u->s.sock.flags & LG_SOCK_RD) && lg_stream_read(&u->s, &byte, 1) != LG_AGAIN)
        linger_end(u, "the backend answered a client that left"); /* a TLS ticket is no answer */
}

static void linger_timeout(lg_timer_t *t)
{
    linger_end(lg_container_of(t, lg_upconn_t, timer), "no answer for a client that left");
}

void lg_upconn_linger(lg_upconn_t *u, lg_timerq_t *q)
{
    u->owner = NULL;
    u->s.sock.io.handler = linger_event;
    u->timer.handler = linger_timeout;
    lg_timer_set(q, &u->timer);
    lg_debug("upstream %s: the client left while the backend works on its request: the slot "
             "stays taken until it answers",
             lg_backend_name(u->be));
    linger_event(&u->s.sock.io, 0); /* an answer may have come already */
}

/*
 * A response that ended exactly at the end of a read leaves the readable flag set without
 * telling whether more bytes wait. Only then is the socket peeked, so the common case costs
 * no system call.
 */
static int drained(lg_upconn_t *u)
{
    char byte;

    if (!(u->s.sock.flags & LG_SOCK_RD))
        return 1;
    if (lg_stream_tls_pending(&u->s))
        return 0;
    if (recv(u->s.sock.io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN) {
        u->s.sock.flags &= ~(uint32_t)LG_SOCK_RD;
        return 1;
    }
    return 0;
}

void lg_upconn_release(lg_upconn_t *u)
{
    lg_backend_t *be = u->be;
    const char *why = NULL;

    u->owner = NULL;
    u->requests++;
    if (be->pool->conf->keepalive_max_idle == 0)
        why = "keepalive.max_idle is 0";
    else if (be->pool->conf->proxy_protocol != LG_PPOUT_OFF)
        why = "its PROXY header names one client (proxy_protocol)";
    else if (u->s.sock.flags & (LG_SOCK_EOF | LG_SOCK_ERR | LG_SOCK_HUP))
        why = "closed by the backend";
    else if (!drained(u))
        why = "bytes after the response";
    if (why != NULL) {
        lg_debug("upstream %s: closing the connection: %s", lg_backend_name(be), why);
        lg_upconn_close(u);
        return;
    }
    if (be->nidle >= be->pool->conf->keepalive_max_idle) {
        lg_debug("upstream %s: closing the oldest idle connection (keepalive.max_idle %u)",
                 lg_backend_name(be), be->pool->conf->keepalive_max_idle);
        lg_upconn_close(be->idle.prev);
    }
    u->s.sock.io.handler = idle_event;
    u->timer.handler = idle_timeout;
    lg_timer_set(be->pool->ups->idle_q, &u->timer);
    u->next = be->idle.next;
    u->prev = &be->idle;
    be->idle.next->prev = u;
    be->idle.next = u;
    be->nidle++;
}

lg_upconn_t *lg_upconn_get(lg_backend_t *be, void *owner, lg_io_handler_t handler, int *reused)
{
    unsigned seq = atomic_load_explicit(&be->state->addr_seq, memory_order_acquire);
    struct sockaddr_storage ss;
    socklen_t sslen;
    lg_upconn_t *u;
    int fd, one = 1, rcvbuf = LG_UPSTREAM_RCVBUF;

    while (be->idle.next != &be->idle) {
        u = be->idle.next;
        idle_unlink(u);
        if (u->addr_seq != seq) {
            lg_debug("upstream %s: closing an idle connection to its former address",
                     lg_backend_name(be));
            lg_upconn_close(u); /* DNS gave this member another address since */
            continue;
        }
        lg_timer_del(&u->timer);
        u->owner = owner;
        u->s.sock.io.handler = handler;
        *reused = 1;
        return u;
    }
    *reused = 0;
    lg_be_addr(be->state, &ss, &sslen);
    if (sslen == 0) { /* DNS took the member's address after it was picked */
        errno = EDESTADDRREQ;
        return NULL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        lg_log(LG_LOG_ERR, "socket() for %s failed (%d: %s)", be->conf->addr.text, errno,
               strerror(errno));
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    u = calloc(1, sizeof(*u));
    if (u == NULL)
        goto out_close;
    lg_stream_plain(&u->s, fd, handler);
    u->be = be;
    u->owner = owner;
    u->addr_seq = seq;
    if (connect(fd, (const struct sockaddr *)&ss, sslen) < 0) {
        if (errno != EINPROGRESS)
            goto out_free;
        u->connecting = 1;
    } else {
        u->s.sock.flags |= LG_SOCK_WR;
        u->connecting = be->pool->conf->tls != NULL; /* the handshake is still to come */
    }
    if (lg_loop_add(&u->s.sock.io, LG_EV_CONN) != LG_OK)
        goto out_free;
    return u;

out_free:
    free(u);
out_close : {
    int err = errno;

    close(fd);
    errno = err;
}
    return NULL;
}

int lg_upconn_connected(lg_upconn_t *u)
{
    int err = 0, r;
    socklen_t len = sizeof(err);

    if (u->s.sock.flags & LG_STREAM_HANDSHAKE) {
        r = lg_uptls_handshake(u);
    } else {
        if (!(u->s.sock.flags & (LG_SOCK_WR | LG_SOCK_HUP)))
            return LG_AGAIN;
        if (getsockopt(u->s.sock.io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            errno = err;
            u->s.sock.flags |= LG_SOCK_ERR;
            return LG_ERR;
        }
        r = u->be->pool->conf->tls != NULL ? lg_uptls_start(u) : LG_OK;
    }
    if (r == LG_OK)
        u->connecting = 0;
    return r;
}
