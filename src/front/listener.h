/*
 * listener.h - accepting client connections on a listening socket shared by every worker.
 */
#ifndef LG_LISTENER_H
#define LG_LISTENER_H

#include "core/sock.h"
#include "front/conn.h"
#include "worker/ctx.h"

struct lg_listener {
    lg_sock_t sock;
    lg_worker_t *w;
    const lg_listener_conf_t *conf;
    const lg_front_t *front; /* what its connections speak */
    size_t index;            /* in the configuration, for the counters */
    lg_posted_t posted;      /* accept more after this batch (budget spent) */
    lg_timer_t retry;        /* accept again after EMFILE/ENFILE */
    struct lg_listener *next_paused;
    unsigned paused : 1; /* max_connections reached */
    unsigned closed : 1; /* draining: the socket is closed, nothing may touch it */
};

/* Start accepting on `fd` (a listening socket inherited from the master) for `lconf`. */
int lg_listener_open(lg_listener_t *ls, lg_worker_t *w, int fd, const lg_listener_conf_t *lconf);

/*
 * Take every connection already queued, then close (draining). With EPOLLEXCLUSIVE the wakeup
 * for a queued connection may have gone to this worker alone: what is taken here is served.
 */
void lg_listener_close(lg_listener_t *ls);

/* Accept again on listeners paused at max_connections, while slots are free. */
void lg_listener_resume(lg_worker_t *w);

#endif
