/*
 * check.h - active health checks, run by the master in its event loop.
 *
 * Every backend of a pool whose health_check type is tcp or http is probed every `interval`:
 * a non-blocking connect (tcp), then "GET path" with a Host header whose status must fall in
 * expect_status (http), each within `timeout`. `rise` passes in a row bring a down backend up,
 * `fall` failures in a row take it down; a backend never checked before goes up on its first
 * pass. Verdicts are written to the generation's shared memory, transitions are logged:
 *   backend app/127.0.0.1:9001 is down: connection refused (3 of 3)
 * A passing check also ends a passive ejection whose cooldown is over, and a backend brought
 * back up by `rise` passes is no longer ejected either.
 */
#ifndef LG_CHECK_H
#define LG_CHECK_H

#include "config/config.h"
#include "upstream/shm.h"

/*
 * Check the backends of `cf` (state in `shm`) from now on, replacing what was checked before.
 * `ready` is called once, when every backend that had no verdict yet got its first one (at
 * once when there is none): the master forks a generation's workers only then, so a new
 * backend is checked before it gets traffic.
 */
int lg_health_start(const lg_config_t *cf, lg_shm_t *shm, void (*ready)(void));
/* Stop every check (closing their sockets). */
void lg_health_stop(void);

#endif
