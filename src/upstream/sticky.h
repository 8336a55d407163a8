/*
 * sticky.h - pools.NAME.sticky: a cookie that keeps a client on the backend that served it.
 *
 * The cookie's value is an opaque id of the backend: the first 64 bits, in lower-case hex, of
 * HMAC-SHA256 over the pool's name and the member's address, keyed with a secret the master
 * draws at start and keeps across reloads (lg_shm_t.secret). It tells a client nothing about
 * the address, it cannot be forged for a backend that does not exist, and it stays the same
 * across reloads and in every worker; a restart of lifeguard re-sticks each client once. A
 * member found by DNS gets a new id when its address changes.
 *
 * An incoming value is used only when it is exactly LG_STICKY_ID_LEN lower-case hex digits that
 * equal a member's id; anything else is ignored, and the request is balanced as usual.
 */
#ifndef LG_STICKY_H
#define LG_STICKY_H

#include <stddef.h>

#include "core/lg.h"
#include "http/head.h"
#include "upstream/upstream.h"

/*
 * Longest Set-Cookie value: the name (at most 64 bytes, config/sticky.c), "=", the id, Path (at
 * most 256 bytes) and the other attributes with room to spare.
 */
#define LG_STICKY_COOKIE_MAX 512

/*
 * The member of `pool` the request's sticky cookie names, or NULL (the pool has no sticky
 * cookie, the request none, a malformed value, or no member with that id). Whether it is up is
 * the caller's to ask (lg_upstream_eligible).
 */
lg_backend_t *lg_sticky_find(lg_pool_t *pool, const lg_req_head_t *rq);

/*
 * The Set-Cookie value that sticks the client to `served`, the backend that answered, written
 * into buf[0..cap): when its pool has a sticky cookie and the request's cookie named another
 * member or none (`named`, may be NULL). `tls`: the request came over TLS (the cookie is
 * Secure). Returns the value, or an empty span when no cookie is to be set.
 */
lg_span_t lg_sticky_set_cookie(lg_backend_t *served, const lg_backend_t *named, int tls, char *buf,
                               size_t cap);

/* The id of `be` (LG_STICKY_ID_LEN hex digits), made again when its address changed. */
const char *lg_sticky_id(lg_backend_t *be);

#endif
