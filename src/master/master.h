/*
 * master.h - the master process: listening sockets, workers, signals.
 */
#ifndef LG_MASTER_H
#define LG_MASTER_H

#include "config/config.h"

/* Run lifeguard with `cf` (which it takes over and frees) in the foreground; returns the exit
 * status. */
int lg_master_run(lg_config_t *cf);

#endif
