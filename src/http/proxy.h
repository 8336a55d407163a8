/*
 * proxy.h - the HTTP/1.1 reverse proxy of a worker: listeners, client connections and the
 * exchange that relays one request to a backend and its response back.
 */
#ifndef LG_PROXY_H
#define LG_PROXY_H

#include "config/config.h"
#include "core/sock.h"
#include "event/loop.h"
#include "upstream/shm.h"

typedef struct lg_listener {
    lg_sock_t sock;
    const lg_listener_conf_t *conf;
    size_t index;       /* in the configuration, for the counters */
    lg_posted_t posted; /* accept more after this batch (budget spent) */
    lg_timer_t retry;   /* accept again after EMFILE/ENFILE */
    struct lg_listener *next_paused;
    unsigned paused : 1; /* max_connections reached */
    unsigned closed : 1; /* draining: the socket is closed, nothing may touch it */
} lg_listener_t;

/* Set up buffers, pipes, timer queues and pools of this worker from `cf` (state in `shm`). */
int lg_proxy_init(const lg_config_t *cf, lg_shm_t *shm);
/* Start accepting on `fd` (a listening socket inherited from the master) for `conf`. */
int lg_proxy_listen(lg_listener_t *ls, int fd, const lg_listener_conf_t *conf);

/*
 * Drain: stop accepting (close `ls`, `n` listeners), close idle upstream connections, answer
 * the next response of every client connection with "Connection: close" and close it after;
 * the loop stops once no client connection is left. Returns the number still open.
 */
unsigned lg_proxy_drain(lg_listener_t *ls, size_t n);

#endif
