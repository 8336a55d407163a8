/*
 * ocsp_fetch.c - the master's fetches of OCSP responses (ocsp: auto; see ocsp.h).
 *
 * One fetch per slot of the response region, for as long as a loaded configuration names its
 * certificate. A 1 s tick starts the fetches that are due, gives up on those past
 * LG_OCSP_TIMEOUT_MS and empties responses past their nextUpdate. A fetch goes
 * resolve (a name not in /etc/hosts: one A query to the resolver) -> connect -> send
 * (HTTP/1.0 POST, Connection: close) -> receive until the responder closes -> check
 * (ocsp_resp.c) -> the region. Fetches live in a static table, never freed while the master
 * runs, so an event of this batch for a fetch that just ended finds it idle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "event/loop.h"
#include "health/dns.h"
#include "tls/ocsp-int.h"
#include "tls/ocsp.h"

#define LG_OCSP_TICK_MS      1000
#define LG_OCSP_TIMEOUT_MS   10000
#define LG_OCSP_RETRY_MIN_MS 10000
#define LG_OCSP_RETRY_MAX_MS 300000
#define LG_OCSP_RESP_MAX     65536 /* HTTP response bytes read at most */
#define LG_OCSP_WHY_MAX      512
#define LG_OCSP_PARALLEL     16 /* fetches under way at once, at most */

enum { F_IDLE, F_DNS, F_SEND, F_RECV };

typedef struct fetch {
    lg_io_t io; /* first: its socket's events come back as the fetch; fd -1 when idle */
    int state;  /* F_* */
    int slot;
    lg_ocsp_target_t tg; /* what to ask whom; tg.url NULL: not fetched */
    unsigned dns_id;
    lg_msec_t next, deadline, retry;
    unsigned char *req; /* the whole HTTP request */
    size_t req_len, sent;
    unsigned char *rsp; /* LG_OCSP_RESP_MAX bytes while receiving */
    size_t rsp_len;
} fetch_t;

static fetch_t fx[LG_OCSP_SLOTS];
static lg_timerq_t fx_q;
static lg_timer_t fx_timer;
static struct sockaddr_storage fx_dns;
static socklen_t fx_dns_len;
static unsigned fx_next_id;

static void fetch_event(lg_io_t *io, uint32_t ev);

static void fetch_close(fetch_t *f)
{
    if (f->io.fd >= 0) {
        lg_loop_del(&f->io);
        close(f->io.fd);
        f->io.fd = -1;
    }
}

/* The attempt is over: socket and buffers go, the fetch is idle. */
static void fetch_end(fetch_t *f)
{
    fetch_close(f);
    free(f->req);
    free(f->rsp);
    f->req = f->rsp = NULL;
    f->req_len = f->sent = f->rsp_len = 0;
    f->state = F_IDLE;
}

/* The attempt failed for `why`: the response fetched before (if any) stays until it expires. */
static void fetch_fail(fetch_t *f, const char *why)
{
    f->retry = f->retry == 0 ? LG_OCSP_RETRY_MIN_MS : LG_MIN(f->retry * 2, LG_OCSP_RETRY_MAX_MS);
    f->next = lg_now + f->retry;
    lg_log(LG_LOG_WARN, "ocsp: %s: fetch from %s failed (%s): %s, next try in %llu s", f->tg.name,
           f->tg.url, why,
           lg_tls_staple_expires(f->slot) >= 0 ? "the last response is still stapled"
                                               : "nothing is stapled",
           (unsigned long long)(f->retry / 1000));
    fetch_end(f);
}

static void fetch_fail_errno(fetch_t *f, const char *call, int err)
{
    char why[LG_OCSP_WHY_MAX];

    snprintf(why, sizeof(why), "%s %s failed (%d: %s)", call, f->tg.authority, err, strerror(err));
    fetch_fail(f, why);
}

/* The responder closed: check what it said and keep it, or fail. */
static void fetch_done(fetch_t *f)
{
    char why[LG_OCSP_WHY_MAX];
    lg_ocsp_result_t r;

    if (lg_ocsp_check(&f->tg, f->rsp, f->rsp_len, &r, why, sizeof(why)) != LG_OK) {
        fetch_fail(f, why);
        return;
    }
    lg_tls_staple_write(f->slot, r.der, r.len, r.expires);
    f->retry = 0;
    f->next = lg_now + r.refresh_ms;
    lg_log(r.revoked ? LG_LOG_WARN : LG_LOG_INFO,
           "ocsp: %s: response fetched from %s: %s, next update %s, refreshed in %llu s",
           f->tg.name, f->tg.url, r.revoked ? "certificate revoked" : "good", r.next_update,
           (unsigned long long)(r.refresh_ms / 1000));
    OPENSSL_free(r.der);
    fetch_end(f);
}

/* Connect to `addr` and send the request from the event handler. */
static void fetch_connect(fetch_t *f, const struct sockaddr_storage *addr)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len =
        addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

    fetch_close(f); /* the resolver's socket */
    if (fd < 0) {
        fetch_fail_errno(f, "socket() for", errno);
        return;
    }
    if (connect(fd, (const struct sockaddr *)addr, len) < 0 && errno != EINPROGRESS) {
        int err = errno;

        close(fd);
        fetch_fail_errno(f, "connect() to", err);
        return;
    }
    f->io.fd = fd;
    f->state = F_SEND;
    if (lg_loop_add(&f->io, LG_EV_CONN) != LG_OK)
        fetch_fail(f, "epoll_ctl() failed");
}

/* A name: /etc/hosts (an IPv4 address first), else an A query to the resolver. */
static void fetch_resolve(fetch_t *f)
{
    struct sockaddr_storage a;
    int fd = -1, rc;

    f->dns_id = fx_next_id;
    fx_next_id = (fx_next_id + 1) & 0xFFFF;
    rc = lg_dns_a_start(f->tg.addr.host, f->tg.addr.port, &fx_dns, fx_dns_len, f->dns_id, &a, &fd);
    if (rc > 0) {
        fetch_connect(f, &a);
        return;
    }
    if (rc < 0 && errno == EINVAL) {
        fetch_fail(f, "not a valid DNS name");
        return;
    }
    if (rc < 0) {
        fetch_fail_errno(f, "DNS query for", errno);
        return;
    }
    f->io.fd = fd;
    f->state = F_DNS;
    if (lg_loop_add(&f->io, EPOLLIN | EPOLLET) != LG_OK)
        fetch_fail(f, "epoll_ctl() failed");
}

static void fetch_start(fetch_t *f)
{
    f->req = lg_ocsp_request(&f->tg, &f->req_len);
    f->rsp = malloc(LG_OCSP_RESP_MAX);
    if (f->req == NULL || f->rsp == NULL) {
        fetch_fail(f, "out of memory");
        return;
    }
    f->deadline = lg_now + LG_OCSP_TIMEOUT_MS;
    if (f->tg.addr.is_hostname)
        fetch_resolve(f);
    else
        fetch_connect(f, &f->tg.addr.sa);
}

/* The resolver's answer: connect to its first address. */
static void fetch_dns(fetch_t *f)
{
    struct sockaddr_storage a;
    char why[LG_OCSP_WHY_MAX];
    unsigned rcode = 0;
    int rc = lg_dns_a_read(f->io.fd, f->dns_id, f->tg.addr.port, &a, &rcode);

    if (rc == 1) {
        fetch_connect(f, &a);
    } else if (rc == 0) {
        snprintf(why, sizeof(why), "no IPv4 address for %s (DNS rcode %u)", f->tg.addr.host, rcode);
        fetch_fail(f, why);
    } else if (rc == LG_ERR) {
        fetch_fail_errno(f, "DNS answer for", errno);
    }
}

/* Connected: send what is left of the request; LG_AGAIN until all of it is out. */
static int fetch_send(fetch_t *f)
{
    while (f->sent < f->req_len) {
        ssize_t n = send(f->io.fd, f->req + f->sent, f->req_len - f->sent, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == ENOTCONN))
            return LG_AGAIN;
        if (n < 0) {
            fetch_fail_errno(f, "send() to", errno);
            return LG_ERR;
        }
        f->sent += (size_t)n;
    }
    f->state = F_RECV;
    return LG_OK;
}

/* Read until the responder closes (or the response is too large). */
static void fetch_recv(fetch_t *f)
{
    for (;;) {
        ssize_t n;

        if (f->rsp_len == LG_OCSP_RESP_MAX) {
            fetch_fail(f, "response larger than 64 KiB");
            return;
        }
        n = recv(f->io.fd, f->rsp + f->rsp_len, LG_OCSP_RESP_MAX - f->rsp_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            fetch_fail_errno(f, "recv() from", errno);
            return;
        }
        if (n == 0) {
            fetch_done(f);
            return;
        }
        f->rsp_len += (size_t)n;
    }
}

/* Edge-triggered: each state runs until EAGAIN, then the next state gets its turn at once. */
static void fetch_event(lg_io_t *io, uint32_t ev)
{
    fetch_t *f = (fetch_t *)(void *)io;
    int err = 0;
    socklen_t len = sizeof(err);

    if (f->state == F_DNS) {
        fetch_dns(f);
        return;
    }
    if (f->state == F_SEND && (ev & (EPOLLERR | EPOLLHUP))) {
        getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        fetch_fail_errno(f, "connect() to", err != 0 ? err : ECONNRESET);
        return;
    }
    if (f->state == F_SEND && fetch_send(f) != LG_OK)
        return;
    if (f->state == F_RECV)
        fetch_recv(f);
}

/* A response past its nextUpdate is of no use to a client: staple nothing, say it once. */
static void fetch_expire(fetch_t *f, int64_t wall)
{
    int64_t expires = lg_tls_staple_expires(f->slot);

    if (expires <= 0 || expires > wall)
        return;
    lg_tls_staple_write(f->slot, NULL, 0, 0);
    lg_log(LG_LOG_WARN,
           "ocsp: %s: the stapled response expired (nextUpdate passed): nothing is stapled until "
           "a fetch succeeds",
           f->tg.name);
}

/* Start due fetches (LG_OCSP_PARALLEL at a time: 1,000 certificates do not open 1,000 sockets). */
static void fetch_tick(lg_timer_t *t)
{
    int64_t wall = (int64_t)time(NULL);
    int busy = 0;

    for (int i = 0; i < LG_OCSP_SLOTS; i++) {
        fetch_t *f = &fx[i];

        if (f->tg.url == NULL)
            continue;
        fetch_expire(f, wall);
        if (f->state != F_IDLE && lg_now >= f->deadline)
            fetch_fail(f, "timed out");
        else if (f->state == F_IDLE && lg_now >= f->next && busy < LG_OCSP_PARALLEL)
            fetch_start(f);
        busy += f->state != F_IDLE;
    }
    lg_timer_set(&fx_q, t);
}

void lg_tls_ocsp_resolver(const lg_config_t *cf)
{
    fx_dns_len = lg_dns_server(cf, &fx_dns);
}

void lg_tls_ocsp_watch(lg_tls_cert_t *c)
{
    unsigned char key[LG_OCSP_KEY_LEN];
    unsigned klen = 0;
    int fresh, i;

    if (c->x509 == NULL || c->ocsp_slot != 0 || !lg_ocsp_target_usable(c) ||
        X509_digest(c->x509, EVP_sha256(), key, &klen) != 1 || klen != sizeof(key))
        return;
    i = lg_tls_staple_take(key, &fresh);
    if (i < 0) {
        lg_log(LG_LOG_WARN, "ocsp: %s: no slot left (%d certificates fetched): not stapled",
               c->conf->cert, LG_OCSP_SLOTS);
        return;
    }
    c->ocsp_slot = i + 1;
    if (!fresh)
        return; /* fetched for a configuration loaded before */
    fx[i].slot = i;
    fx[i].io.fd = -1;
    fx[i].io.handler = fetch_event;
    fx[i].retry = 0;
    fx[i].next = lg_now;
    if (lg_ocsp_target_init(&fx[i].tg, c) != LG_OK)
        lg_ocsp_target_free(&fx[i].tg);
}

void lg_tls_ocsp_release(lg_tls_cert_t *c)
{
    int i = c->ocsp_slot - 1;

    c->ocsp_slot = 0;
    if (i < 0 || !lg_tls_staple_drop(i))
        return;
    fetch_end(&fx[i]);
    lg_ocsp_target_free(&fx[i].tg);
}

int lg_tls_ocsp_start(lg_config_t *cf)
{
    if (lg_tls_staple_create() != LG_OK)
        return LG_ERR;
    fx_next_id = (unsigned)getpid() & 0xFFFF;
    for (size_t i = 0; i < cf->nlisteners; i++) {
        const lg_tls_conf_t *tc = cf->listeners[i].tls;

        if (tc != NULL && tc->ctx != NULL)
            lg_tls_ocsp_attach(tc->ctx);
    }
    if (!lg_timerq_ready(&fx_q) && lg_timerq_init(&fx_q, LG_OCSP_TICK_MS) != LG_OK)
        return LG_ERR;
    fx_timer.handler = fetch_tick;
    if (!lg_timer_armed(&fx_timer))
        lg_timer_set(&fx_q, &fx_timer); /* the first fetches: in a tick, once the loop runs */
    return LG_OK;
}
