/*
 * listener.c - accept loop, max_connections pause, and closing on drain.
 */
#include "front/listener.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "front/ppin.h"

#define LG_ACCEPT_BUDGET 64

/* Take one queued connection; LG_OK, LG_AGAIN when the queue is empty, LG_ERR on failure. */
static int accept_one(lg_listener_t *ls)
{
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    int fd;

    do {
        fd = accept4(ls->sock.io.fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
    if (fd < 0)
        return errno == EAGAIN ? LG_AGAIN : LG_ERR;
    if (lg_ppin_admit(ls, (struct sockaddr *)&peer) != LG_OK)
        close(fd); /* before any byte: max_connections_per_ip, proxy_protocol's trusted */
    else
        lg_conn_accept(ls, fd, (struct sockaddr *)&peer, plen);
    return LG_OK;
}

static void pause_accept(lg_listener_t *ls)
{
    lg_worker_t *w = ls->w;

    if (ls->paused)
        return;
    lg_log(LG_LOG_WARN, "max_connections (%u) reached, pausing accept",
           w->conf->limits.max_connections);
    ls->paused = 1;
    ls->next_paused = w->paused;
    w->paused = ls;
}

static void accept_run(lg_listener_t *ls)
{
    if (ls->closed)
        return;
    for (int i = 0; i < LG_ACCEPT_BUDGET; i++) {
        int r;

        if (ls->w->nconns >= ls->w->conf->limits.max_connections) {
            pause_accept(ls);
            return;
        }
        r = accept_one(ls);
        if (r == LG_AGAIN)
            return;
        if (r == LG_ERR) {
            lg_log(LG_LOG_ERR, "accept4() on %s failed (%d: %s)", ls->conf->addr.text, errno,
                   strerror(errno));
            /* EMFILE, ENFILE, ENOBUFS: the queue stays, accepting resumes after a pause */
            lg_timer_set(&ls->w->q.accept_retry, &ls->retry);
            return;
        }
    }
    lg_loop_post(&ls->posted);
}

static void accept_event(lg_io_t *io, uint32_t ev)
{
    LG_UNUSED(ev);
    accept_run((lg_listener_t *)(void *)io);
}

static void accept_posted(lg_posted_t *p)
{
    lg_listener_t *ls = lg_container_of(p, lg_listener_t, posted);

    if (!ls->paused)
        accept_run(ls);
}

static void accept_retry(lg_timer_t *t)
{
    accept_run(lg_container_of(t, lg_listener_t, retry));
}

void lg_listener_close(lg_listener_t *ls)
{
    lg_loop_del(&ls->sock.io);
    lg_timer_del(&ls->retry);
    while (ls->w->nconns < ls->w->conf->limits.max_connections && accept_one(ls) == LG_OK)
        ;
    close(ls->sock.io.fd);
    ls->closed = 1;
}

void lg_listener_resume(lg_worker_t *w)
{
    while (w->paused != NULL && w->nconns < w->conf->limits.max_connections) {
        lg_listener_t *ls = w->paused;

        w->paused = ls->next_paused;
        ls->paused = 0;
        lg_loop_post(&ls->posted);
    }
}

int lg_listener_open(lg_listener_t *ls, lg_worker_t *w, int fd, const lg_listener_conf_t *lconf)
{
    memset(ls, 0, sizeof(*ls));
    ls->sock.io.fd = fd;
    ls->sock.io.handler = accept_event;
    ls->w = w;
    ls->conf = lconf;
    ls->front = lconf->mode == LG_MODE_TCP ? &lg_front_tcp : &lg_front_h1;
    ls->index = (size_t)(lconf - w->conf->listeners);
    ls->posted.run = accept_posted;
    ls->retry.handler = accept_retry;
    if (lg_loop_add(&ls->sock.io, LG_EV_LISTEN) != LG_OK)
        return LG_ERR;
    /* Connections queued before this worker started raise no new edge: look now. */
    lg_loop_post(&ls->posted);
    return LG_OK;
}
