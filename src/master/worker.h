/*
 * worker.h - a worker process: one event loop serving the listeners it inherited.
 */
#ifndef LG_WORKER_H
#define LG_WORKER_H

#include "config/config.h"
#include "admin/stats.h"
#include "upstream/shm.h"

/*
 * Serve `cf` on the listening sockets `fds` (one per listener, in order) until the master
 * says stop: SIGQUIT drains (finish what is in flight, at most timeouts.drain), SIGTERM and
 * SIGINT end the process at once (after writing out the buffered access log), SIGUSR1 reopens
 * the logs. Returns the exit status.
 */
int lg_worker_run(const lg_config_t *cf, const int *fds, lg_shm_t *shm, lg_stats_t *stats,
                  unsigned id, unsigned generation);

#endif
