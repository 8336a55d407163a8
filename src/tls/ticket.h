/*
 * ticket.h - session ticket keys shared by the master and every worker.
 *
 * The master maps one region (MAP_SHARED | MAP_ANONYMOUS) once, for its whole life, not per
 * generation: keys survive reloads, so a client resumes across `-s reload`. Each listener name
 * with session_tickets on has a slot of three keys (AES-256-CBC + HMAC-SHA256, from
 * getrandom(2), never written to disk): the newest encrypts, the two before it still decrypt,
 * and the master rotates the newest every ticket_key_rotation. Workers, forked after the region
 * exists, read a slot under its sequence counter (no locks); the ticket callback renews a
 * ticket that an older key decrypted.
 */
#ifndef LG_TLS_TICKET_H
#define LG_TLS_TICKET_H

#include "config/config.h"
#include "core/lg.h"

/* Listener names that can have ticket keys over the master's life. */
#define LG_TLS_TICKET_SLOTS 256

/*
 * Master, once, in its running loop: map the region (if not yet), give every tls listener of
 * `cf` (loaded before the region existed) its slot, and rotate the keys from a timer of its
 * own. Listeners of configurations loaded later get their slot in lg_tls_load(). LG_ERR
 * (logged) when the region cannot be mapped.
 */
int lg_tls_tickets_start(lg_config_t *cf);

/* Map the region if it is not mapped yet (lg_tls_tickets_start does it; tests call it alone). */
int lg_tls_tickets_create(void);

/* Put a new key in every slot whose newest key is `rotation` old at `now` (lg_clock_ms). */
void lg_tls_tickets_rotate(lg_msec_t now);

#endif
