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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "core/sock.h"
#include "event/loop.h"

#define LG_CHECK_TICK_MS 100
#define LG_CHECK_RSP_MAX 128 /* enough for "HTTP/1.1 NNN" */
#define LG_CHECK_REQ_MAX 1024
/* "pool/address": a pool name has at most 64 bytes (LG_CONF_NAME_MAX, config-int.h), then '/', the
 * address, NUL */
#define LG_CHECK_NAME_MAX (64 + 1 + LG_ADDR_TEXT_MAX + 1)

enum { P_IDLE, P_CONNECTING, P_SENT };

typedef struct probe {
    lg_sock_t sock;
    const lg_pool_conf_t *pool;
    const lg_backend_conf_t *be;
    lg_be_state_t *st;
    lg_msec_t next;     /* start of the next attempt */
    lg_msec_t deadline; /* end of the current attempt */
    int state;
    int initial;       /* no verdict yet: counts towards `ready` */
    unsigned addr_seq; /* the member's address version being checked */
    size_t got;
    char rsp[LG_CHECK_RSP_MAX];
    char name[LG_CHECK_NAME_MAX]; /* "pool/address" as configured */
    char dname[LG_CHECK_NAME_MAX + LG_ADDR_STRLEN + 4];
} probe_t;

/* The probes of one configuration; freed after the batch when replaced. */
typedef struct probe_set {
    probe_t *probes;
    size_t n;
    lg_posted_t free_later;
} probe_set_t;

static probe_set_t *set;
static lg_timerq_t q_tick;
static lg_timer_t tick_timer;
static size_t initial_left;
static void (*ready_cb)(void);

static void probe_close(probe_t *p)
{
    if (p->state != P_IDLE) {
        close(p->sock.io.fd);
        p->state = P_IDLE;
    }
}

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

/* Record the verdict of one attempt, log a transition, schedule the next attempt. */
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

static void probe_finish(probe_t *p, int ok, const char *reason)
{
    const lg_health_check_conf_t *hc = &p->pool->health_check;
    lg_be_state_t *st = p->st;
    int first = st->last_check == 0;
    unsigned up = atomic_load(&st->up);

    probe_close(p);
    if (atomic_load(&st->addr_seq) != p->addr_seq) {
        /* DNS gave the member another address meanwhile: this verdict is not about it */
        p->next = lg_now;
        return;
    }
    p->next = lg_now + hc->interval;
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
            atomic_store(&st->up, 1);
            lg_log(LG_LOG_INFO, "backend %s is up (%u of %u checks passed)", probe_name(p),
                   LG_MIN(st->ok_streak, hc->rise), first ? 1 : hc->rise);
        }
        if (atomic_load(&st->ejected_until) != 0 && atomic_load(&st->ejected_until) <= lg_now) {
            atomic_store(&st->ejected_until, 0);
            atomic_store(&st->fails, 0);
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
    initial_done(p);
}

static void probe_fail_errno(probe_t *p, int err)
{
    char reason[LG_SHM_REASON_LEN];

    probe_finish(p, 0, lg_log_reason(strerror(err), reason, sizeof(reason)));
}

static void probe_send(probe_t *p)
{
    const lg_health_check_conf_t *hc = &p->pool->health_check;
    const char *host = hc->host != NULL ? hc->host : p->be->addr.text;
    char req[LG_CHECK_REQ_MAX];
    int fits = lg_format(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lifeguard-health-check\r\n"
                         "Connection: close\r\n\r\n",
                         hc->path, host) == LG_OK;
    struct iovec iov = {req, strlen(req)};

    errno = 0;
    if (!fits || lg_sock_writev(&p->sock, &iov, 1) != (ssize_t)iov.iov_len) {
        probe_fail_errno(p, errno != 0 ? errno : EMSGSIZE);
        return;
    }
    p->state = P_SENT;
    p->got = 0;
}

/* Enough of the response to judge: "HTTP/1.x NNN". */
static void probe_read(probe_t *p)
{
    const lg_health_check_conf_t *hc = &p->pool->health_check;

    while (p->sock.flags & LG_SOCK_RD) {
        ssize_t n = lg_sock_read(&p->sock, p->rsp + p->got, sizeof(p->rsp) - 1 - p->got);
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

    if (p->state == P_IDLE)
        return;
    lg_sock_events(&p->sock, ev);
    if (p->state == P_CONNECTING) {
        if (!(p->sock.flags & (LG_SOCK_WR | LG_SOCK_HUP)))
            return;
        if (getsockopt(p->sock.io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            probe_fail_errno(p, err);
            return;
        }
        if (p->pool->health_check.type == LG_CHECK_TCP) {
            probe_finish(p, 1, "ok");
            return;
        }
        probe_send(p);
    }
    if (p->state == P_SENT)
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
    p->deadline = lg_now + p->pool->health_check.timeout;
    if (fd < 0) {
        p->next = lg_now + p->pool->health_check.interval;
        lg_log(LG_LOG_ERR, "socket() for the check of %s failed (%d: %s)", probe_name(p), errno,
               strerror(errno));
        return;
    }
    p->sock.io.fd = fd;
    p->sock.io.handler = probe_event;
    p->sock.flags = 0;
    p->state = P_CONNECTING;
    if (connect(fd, (const struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
        probe_fail_errno(p, errno);
        return;
    }
    if (lg_loop_add(&p->sock.io, LG_EV_CONN) != LG_OK)
        probe_fail_errno(p, errno);
}

static void tick(lg_timer_t *t)
{
    for (size_t i = 0; set != NULL && i < set->n; i++) {
        probe_t *p = &set->probes[i];

        /* A DNS slot without an address is not checked; a new address is checked at once. */
        if (!atomic_load(&p->st->in_use))
            probe_close(p);
        else if (p->state != P_IDLE && lg_now >= p->deadline)
            probe_finish(p, 0, "timed out");
        else if (p->state == P_IDLE && (lg_now >= p->next || p->st->last_check == 0))
            probe_start(p);
    }
    lg_timer_set(&q_tick, t);
}

static void set_free(lg_posted_t *pt)
{
    probe_set_t *s = lg_container_of(pt, probe_set_t, free_later);

    free(s->probes);
    free(s);
}

void lg_health_stop(void)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++)
        probe_close(&set->probes[i]);
    /* Events of this batch may still point at the probes: free them after it. */
    set->free_later.run = set_free;
    lg_loop_post(&set->free_later);
    set = NULL;
    ready_cb = NULL;
    initial_left = 0;
}

int lg_health_start(const lg_config_t *cf, lg_shm_t *shm, void (*ready)(void))
{
    probe_set_t *s = calloc(1, sizeof(*s));
    size_t n = 0;
    int need;

    lg_health_stop();
    if (s == NULL)
        return LG_ERR;
    for (size_t i = 0; i < cf->npools; i++) {
        if (cf->pools[i].health_check.type != LG_CHECK_NONE)
            n += lg_pool_members(&cf->pools[i]);
    }
    s->probes = calloc(LG_MAX(n, (size_t)1), sizeof(*s->probes));
    if (s->probes == NULL) {
        free(s);
        return LG_ERR;
    }
    for (size_t i = 0; i < cf->npools; i++) {
        const lg_pool_conf_t *pool = &cf->pools[i];

        if (pool->health_check.type == LG_CHECK_NONE)
            continue;
        for (size_t j = 0; j < lg_pool_members(pool); j++) {
            probe_t *p = &s->probes[s->n++];

            p->pool = pool;
            p->be = lg_member_conf(pool, j);
            p->st = lg_shm_backend(shm, i, j);
            p->next = lg_now; /* everything is checked at once, then every interval */
            /* DNS slots fill later: the generation does not wait for them */
            p->initial = p->st->last_check == 0 && atomic_load(&p->st->in_use);
            initial_left += (size_t)p->initial;
            if (lg_format(p->name, sizeof(p->name), "%s/%s", pool->name, p->be->addr.text) != LG_OK)
                lg_log(LG_LOG_ERR, "health check name of %s cut", p->name);
        }
    }
    set = s;
    if (!lg_timerq_ready(&q_tick)) {
        lg_timerq_init(&q_tick, LG_CHECK_TICK_MS);
        tick_timer.handler = tick;
    }
    need = initial_left > 0;
    ready_cb = need ? ready : NULL;
    /* The first round starts now, not at the next tick. */
    if (s->n > 0)
        tick(&tick_timer);
    if (!need)
        ready();
    return LG_OK;
}
