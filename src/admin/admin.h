/*
 * admin.h - the admin listener, served by the master: /healthz, /metrics (Prometheus text
 * format), /status.json and /status (a live page). It sees every generation's shared memory
 * and never touches client traffic.
 */
#ifndef LG_ADMIN_H
#define LG_ADMIN_H

#include "admin/stats.h"
#include "config/config.h"
#include "core/lg.h"
#include "upstream/shm.h"

/* One generation as the admin pages see it. */
typedef struct lg_admin_gen {
    const lg_config_t *cf;
    const lg_shm_t *shm;
    const lg_stats_t *stats;
    const int *fds; /* its listening sockets, NULL once retired */
    unsigned id;
} lg_admin_gen_t;

/* What the master tells the admin pages, asked for at each request. */
typedef struct lg_admin_view {
    lg_admin_gen_t gens[16]; /* [0] serves; the others drain (their counters still count) */
    size_t ngens;
    unsigned reloads;         /* successful */
    unsigned reload_failures; /* files refused, or generations that could not start */
    double reload_ok_at;      /* wall clock (s) of the last successful load, the first included */
    unsigned worker_restarts;
    unsigned workers; /* running, all generations */
    unsigned serving; /* running in the serving generation: /healthz fails at 0 */
    lg_msec_t started;
} lg_admin_view_t;

/*
 * Serve the admin pages on `cf`'s admin.listen (or stop when it is not set), keeping the
 * socket open across reloads when the address does not change. `view` fills a view on demand.
 */
int lg_admin_configure(const lg_config_t *cf, void (*view)(lg_admin_view_t *v));
void lg_admin_close(void);

#endif
