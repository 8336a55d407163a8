/*
 * lsock.h - the master's listening sockets, kept across reloads.
 *
 * Each socket is opened once and kept for as long as a configuration has a listener on its
 * address, so a connection queued on it is never lost: the workers of the new and of the old
 * generation share it (EPOLLEXCLUSIVE), never SO_REUSEPORT copies.
 */
#ifndef LG_LSOCK_H
#define LG_LSOCK_H

#include "config/config.h"

/*
 * Give every listener of `cf` a socket: the open one with the same address, or a new one.
 * On success the sockets no listener of `cf` uses are closed and `fds` is filled; on failure
 * everything opened here is closed again and the old table stays as it was.
 */
int lg_lsock_update(const lg_config_t *cf, int *fds);
/* Close every listening socket (a stop: nobody will accept any more). */
void lg_lsock_close_all(void);

#endif
