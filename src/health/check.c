/*
 * check.c - active health checks in the master's loop (see check.h).
 *
 * One probe per checked backend. A 100 ms tick starts the probes that are due and fails those
 * past their timeout, so any number of pools with any intervals share one timer queue. A probe
 * closes its socket when it finishes; a stale event for it in the same batch finds it idle and
 * is ignored, and the next attempt starts only from the tick, after the batch.
 */
#include "health/check.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "core/sock.h"
#include "event/loop.h"
#include "health/tlsprobe.h"
#include "health/watch.h"
#include "upstream/ppout.h"

#define LG_CHECK_TICK_MS 100
#define LG_CHECK_RSP_MAX 128 /* enough for "HTTP/1.1 NNN" */
#define LG_CHECK_REQ_MAX 1024
/* "pool/address": a pool name has at most 64 bytes (LG_CONF_NAME_MAX, config-int.h), then '/', the
 * address, NUL */
#define LG_CHECK_NAME_MAX (64 + 1 + LG_ADDR_TEXT_MAX + 1)

typedef struct probe {
    lg_watch_item_t w; /* first: its socket's events come back as the probe */
    const lg_pool_conf_t *pool;
    const lg_backend_conf_t *be;
    lg_be_state_t *st;
    int sent;          /* the request went out (http): what comes now is the response */
    SSL *ssl;          /* pool tls: the TLS of the attempt under way, NULL before it starts */
    int initial;       /* no verdict yet: counts towards `ready` */
    unsigned addr_seq; /* the member's address version being checked */
    size_t got;
    char rsp[LG_CHECK_RSP_MAX];
    char name[LG_CHECK_NAME_MAX]; /* "pool/address" as configured */
    char dname[LG_CHECK_NAME_MAX + LG_ADDR_STRLEN + 4];
} probe_t;

static void probe_step(void *item);

static lg_watch_t checks = LG_WATCH("health checks", probe_t, LG_CHECK_TICK_MS, probe_step);
static size_t initial_left;
static void (*ready_cb)(void);

static void initial_done(probe_t *p)
{
    void (*cb)(void) = ready_cb;

    if (!p->initial)
        return;
    p->initial = 0;
    if (--initial_left == 0 && cb != NULL) {
        ready_cb = NULL;
        cb();
    }
}

/* "pool/127.0.0.1:9001", or "pool/app:8000 (10.0.0.3:8000)" for a member found by DNS. */
static const char *probe_name(probe_t *p)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char ip[LG_ADDR_STRLEN];

    if (!p->be->addr.is_hostname)
        return p->name;
    lg_be_addr(p->st, &ss, &len);
    lg_net_addr_text((const struct sockaddr *)&ss, ip, sizeof(ip));
    if (lg_format(p->dname, sizeof(p->dname), "%s (%s)", p->name, ip) != LG_OK)
        return p->name;
    return p->dname;
}

/* Record the verdict of one attempt, log a transition, schedule the next attempt. */
static void probe_finish(probe_t *p, int ok, const char *reason)
{
    const lg_health_check_conf_t *hc = &p->pool->health_check;
    lg_be_state_t *st = p->st;
    int first = st->last_check == 0;
    unsigned up = atomic_load(&st->up);

    lg_tlsprobe_free(&p->ssl);
    lg_watch_close(&p->w);
    if (atomic_load(&st->addr_seq) != p->addr_seq) {
        /* DNS gave the member another address meanwhile: this verdict is not about it */
        p->w.next = lg_now;
        return;
    }
    p->w.next = lg_now + hc->interval;
    st->last_check = lg_now;
    if (lg_format(st->reason, sizeof(st->reason), "%s", reason) != LG_OK)
        memcpy(st->reason, "unknown", sizeof("unknown")); /* never a cut reason */
    if (ok) {
        st->fail_streak = 0;
        st->ok_streak++;
        if (!up && (first || st->ok_streak >= hc->rise)) {
            /* `rise` passes in a row also end a passive ejection from while it was failing */
            atomic_store(&st->ejected_until, 0);
            atomic_store(&st->fails, 0);
            lg_be_came_up(st);
            lg_log(LG_LOG_INFO, "backend %s is up (%u of %u checks passed)", probe_name(p),
                   LG_MIN(st->ok_streak, hc->rise), first ? 1 : hc->rise);
        }
        if (atomic_load(&st->ejected_until) != 0 && atomic_load(&st->ejected_until) <= lg_now) {
            atomic_store(&st->ejected_until, 0);
            atomic_store(&st->fails, 0);
            lg_be_came_up(st);
            lg_log(LG_LOG_INFO, "backend %s is back after its ejection: check passed",
                   probe_name(p));
        }
    } else {
        st->ok_streak = 0;
        st->fail_streak++;
        if ((up || first) && st->fail_streak >= hc->fall) {
            atomic_store(&st->up, 0);
            lg_log(LG_LOG_WARN, "backend %s is down: %s (%u of %u)", probe_name(p), reason,
                   st->fail_streak, hc->fall);
        } else if (first) {
            lg_log(LG_LOG_WARN, "backend %s is not up yet: %s", probe_name(p), reason);
        }
    }
    st->ramp = 1; /* past its first verdict: coming up from now on starts a slow_start ramp */
    initial_done(p);
}

static void probe_fail_errno(probe_t *p, int err)
{
    char reason[LG_SHM_REASON_LEN];

    probe_finish(p, 0, lg_log_reason(strerror(err), reason, sizeof(reason)));
}

/* `n` bytes of `want` went out in one write: LG_OK, else the probe failed. */
static int probe_sent(probe_t *p, ssize_t n, size_t want)
{
    if (n == (ssize_t)want)
        return LG_OK;
    probe_fail_errno(p, errno != 0 ? errno : EMSGSIZE);
    return LG_ERR;
}

/*
 * The LOCAL PROXY header of a pool with proxy_protocol (a connection of lifeguard's own, which
 * names no client) in clear, alone: before the TLS handshake of a pool with tls, as backends that
 * take PROXY then TLS (HAProxy's accept-proxy ssl) read it.
 */
static int probe_send_header(probe_t *p)
{
    uint8_t pp[LG_PPOUT_MAX];
    struct iovec iov = {pp, lg_ppout_local(p->pool->proxy_protocol, pp)};

    errno = 0;
    return iov.iov_len == 0 ? LG_OK
                            : probe_sent(p, lg_sock_writev(&p->w.sock, &iov, 1), iov.iov_len);
}

/*
 * Write the check's request: an http check's GET, after the LOCAL PROXY header of a pool with
 * proxy_protocol (in the same write; with tls the header went before the handshake and the GET
 * goes through TLS); a tcp check of a plain pool with proxy_protocol sends the header alone.
 * LG_OK when it all went out in the one write (else the probe failed).
 */
static int probe_send(probe_t *p)
{
    const lg_health_check_conf_t *hc = &p->pool->health_check;
    const char *host = hc->host != NULL ? hc->host : p->be->addr.text;
    uint8_t pp[LG_PPOUT_MAX];
    char req[LG_CHECK_REQ_MAX];
    int fits = hc->type != LG_CHECK_HTTP ||
               lg_format(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lifeguard-health-check\r\n"
                         "Connection: close\r\n\r\n",
                         hc->path, host) == LG_OK;
    struct iovec iov[2] = {{pp, p->ssl != NULL ? 0 : lg_ppout_local(p->pool->proxy_protocol, pp)},
                           {req, 0}};
    ssize_t n;

    if (!fits) {
        probe_fail_errno(p, EMSGSIZE);
        return LG_ERR;
    }
    if (hc->type == LG_CHECK_HTTP)
        iov[1].iov_len = strlen(req);
    errno = 0;
    n = p->ssl != NULL ? lg_tlsprobe_write(p->ssl, req, iov[1].iov_len)
                       : lg_sock_writev(&p->w.sock, iov, 2);
    if (probe_sent(p, n, iov[0].iov_len + iov[1].iov_len) != LG_OK)
        return LG_ERR;
    p->sent = 1;
    p->got = 0;
    return LG_OK;
}

/* Bytes of the response, through TLS for a pool with `tls` (the socket's RD cleared when none). */
static ssize_t probe_recv(probe_t *p, char *buf, size_t len)
{
    ssize_t n;

    if (p->ssl == NULL)
        return lg_sock_read(&p->w.sock, buf, len);
    n = lg_tlsprobe_read(p->ssl, buf, len);
    if (n == LG_AGAIN)
        p->w.sock.flags &= ~(uint32_t)LG_SOCK_RD;
    return n;
}

/*
 * The TLS handshake of a pool with `tls`, once connected: LG_OK when it is done (or there is
 * none), LG_AGAIN while it waits, LG_ERR when the probe failed.
 */
static int probe_handshake(probe_t *p)
{
    char why[LG_TLSPROBE_REASON_MAX];
    int r;

    if (p->pool->tls == NULL)
        return LG_OK;
    if (p->ssl == NULL && probe_send_header(p) != LG_OK)
        return LG_ERR;
    if (p->ssl == NULL && (p->ssl = lg_tlsprobe_new(p->pool, p->be, p->w.sock.io.fd)) == NULL) {
        probe_finish(p, 0, "out of memory for TLS");
        return LG_ERR;
    }
    r = lg_tlsprobe_handshake(p->ssl, why, sizeof(why));
    if (r == LG_ERR)
        probe_finish(p, 0, why);
    return r;
}

/* Enough of the response to judge: "HTTP/1.x NNN". */
static void probe_read(probe_t *p)
{
    const lg_health_check_conf_t *hc = &p->pool->health_check;

    while (p->w.sock.flags & LG_SOCK_RD) {
        ssize_t n = probe_recv(p, p->rsp + p->got, sizeof(p->rsp) - 1 - p->got);
        unsigned status;
        char reason[LG_SHM_REASON_LEN];

        if (n == LG_AGAIN)
            return;
        if (n < 0) {
            probe_fail_errno(p, errno);
            return;
        }
        p->got += (size_t)n;
        p->rsp[p->got] = '\0';
        if (p->got >= 12 || n == 0) {
            if (sscanf(p->rsp, "HTTP/1.%*1[01] %3u", &status) != 1) {
                probe_finish(p, 0, n == 0 ? "closed before responding" : "invalid response");
                return;
            }
            if (status >= hc->expect_min && status <= hc->expect_max) {
                probe_finish(p, 1, "ok");
            } else {
                probe_finish(p, 0,
                             lg_format(reason, sizeof(reason), "status %u", status) == LG_OK
                                 ? reason
                                 : "unexpected status");
            }
            return;
        }
    }
}

static void probe_event(lg_io_t *io, uint32_t ev)
{
    probe_t *p = (probe_t *)(void *)io;
    int err = 0;
    socklen_t len = sizeof(err);

    if (!p->w.busy)
        return;
    lg_sock_events(&p->w.sock, ev);
    if (!p->sent) {
        if (!(p->w.sock.flags & (LG_SOCK_WR | LG_SOCK_HUP)))
            return;
        if (getsockopt(p->w.sock.io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            probe_fail_errno(p, err);
            return;
        }
        if (probe_handshake(p) != LG_OK)
            return;
        if (p->pool->health_check.type == LG_CHECK_TCP) {
            if (p->pool->proxy_protocol == LG_PPOUT_OFF || p->ssl != NULL || probe_send(p) == LG_OK)
                probe_finish(p, 1, "ok");
            return;
        }
        probe_send(p);
    }
    if (p->w.busy && p->sent)
        probe_read(p);
}

static void probe_start(probe_t *p)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    p->addr_seq = atomic_load(&p->st->addr_seq);
    lg_be_addr(p->st, &ss, &len);
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        p->w.next = lg_now + p->pool->health_check.interval;
        lg_log(LG_LOG_ERR, "socket() for the check of %s failed (%d: %s)", probe_name(p), errno,
               strerror(errno));
        return;
    }
    lg_watch_open(&p->w, fd, probe_event, p->pool->health_check.timeout);
    p->sent = 0;
    if (connect(fd, (const struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
        probe_fail_errno(p, errno);
        return;
    }
    if (lg_loop_add(&p->w.sock.io, LG_EV_CONN) != LG_OK)
        probe_fail_errno(p, errno);
}

/* A DNS slot without an address is not checked; a new address is checked at once. */
static void probe_step(void *item)
{
    probe_t *p = item;

    if (!atomic_load(&p->st->in_use)) {
        lg_tlsprobe_free(&p->ssl);
        lg_watch_close(&p->w);
    } else if (p->w.busy && lg_now >= p->w.deadline)
        probe_finish(p, 0, "timed out");
    else if (!p->w.busy && (lg_now >= p->w.next || p->st->last_check == 0))
        probe_start(p);
}

void lg_health_stop(void)
{
    /* the TLS of probes under way: lg_watch_stop closes their sockets and frees the set */
    for (size_t i = 0; checks.set != NULL && i < lg_watch_count(checks.set); i++)
        lg_tlsprobe_free(&((probe_t *)lg_watch_item(checks.set, i))->ssl);
    lg_watch_stop(&checks);
    ready_cb = NULL;
    initial_left = 0;
}

/* One probe for every member of every checked pool of `cf`, due now. */
static void probes_fill(lg_watch_set_t *s, const lg_config_t *cf, lg_shm_t *shm)
{
    size_t k = 0;

    for (size_t i = 0; i < cf->npools; i++) {
        const lg_pool_conf_t *pool = &cf->pools[i];

        if (pool->health_check.type == LG_CHECK_NONE)
            continue;
        for (size_t j = 0; j < lg_pool_members(pool); j++) {
            probe_t *p = lg_watch_item(s, k++);

            p->pool = pool;
            p->be = lg_member_conf(pool, j);
            p->st = lg_shm_backend(shm, i, j);
            p->w.next = lg_now; /* everything is checked at once, then every interval */
            /* DNS slots fill later: the generation does not wait for them */
            p->initial = p->st->last_check == 0 && atomic_load(&p->st->in_use);
            initial_left += (size_t)p->initial;
            if (lg_format(p->name, sizeof(p->name), "%s/%s", pool->name, p->be->addr.text) != LG_OK)
                lg_log(LG_LOG_ERR, "health check name of %s cut", p->name);
        }
    }
}

int lg_health_start(const lg_config_t *cf, lg_shm_t *shm, void (*ready)(void))
{
    lg_watch_set_t *s = NULL;
    size_t n = 0;
    int need;

    lg_health_stop();
    for (size_t i = 0; i < cf->npools; i++) {
        if (cf->pools[i].health_check.type != LG_CHECK_NONE)
            n += lg_pool_members(&cf->pools[i]);
    }
    if (n > 0 && (s = lg_watch_set_new(&checks, n)) == NULL)
        return LG_ERR;
    if (s != NULL)
        probes_fill(s, cf, shm);
    need = initial_left > 0;
    ready_cb = need ? ready : NULL;
    /* The first round starts now, not at the next tick. */
    if (lg_watch_run(&checks, s) != LG_OK) {
        lg_health_stop();
        return LG_ERR;
    }
    if (!need)
        ready();
    return LG_OK;
}
