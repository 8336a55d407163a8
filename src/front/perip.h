/*
 * perip.h - limits.max_connections_per_ip: client connections per source address, per worker.
 *
 * A new connection from an address that already has that many open on this worker is closed
 * at accept, before any byte is read (no TLS handshake, no response), counted in its listener's
 * `lifeguard_connections_refused_total{reason="per_ip"}` and logged at info at most once a
 * second. The counts are the worker's (core/ipcount.h); with N workers an address may hold up
 * to N times the limit, as with limits.max_connections.
 */
#ifndef LG_PERIP_H
#define LG_PERIP_H

#include <sys/socket.h>

#include "worker/ctx.h"

/*
 * A connection from `peer` was accepted on `ls`: LG_OK to serve it (counted until
 * lg_perip_release), LG_ERR when it is refused (counted, maybe logged): the caller closes it.
 * Always LG_OK when the limit is 0 (unlimited).
 */
int lg_perip_admit(lg_listener_t *ls, const struct sockaddr *peer);

/*
 * A connection from `peer` on `ls` is closed at accept because of `why`: logged at info, one
 * line a second at most for all refusals at accept of the worker, with how many were not.
 */
void lg_perip_refused_log(lg_listener_t *ls, const struct sockaddr *peer, const char *why);

/* An admitted connection from `peer` is gone (or could not be set up). */
void lg_perip_release(lg_worker_t *w, const struct sockaddr *peer);

#endif
