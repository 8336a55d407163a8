/*
 * tlsprobe.h - a health check over TLS (pools with `tls`): the master's probe runs the same
 * client handshake as the workers' connections (tls/client.h: the pool's context, SNI, chain and
 * name verified) on its non-blocking socket, then its HTTP request and response through the TLS
 * object. OpenSSL reads and writes the socket itself: every call goes until it would block, so
 * the edge-triggered events of the probe's socket are enough to drive it.
 */
#ifndef LG_TLSPROBE_H
#define LG_TLSPROBE_H

#include <openssl/ssl.h>
#include <sys/types.h>

#include "config/config.h"

/* Room for a failure's reason: "TLS: " and OpenSSL's or the verification's reason. */
#define LG_TLSPROBE_REASON_MAX 128

/* A client SSL of `pool` for backend `be` on the connected socket `fd`; NULL when out of memory. */
SSL *lg_tlsprobe_new(const lg_pool_conf_t *pool, const lg_backend_conf_t *be, int fd);
/*
 * One handshake step: LG_OK done, LG_AGAIN waiting, LG_ERR failed with `why` filled, short
 * ("TLS: hostname mismatch") as the status page shows it.
 */
int lg_tlsprobe_handshake(SSL *ssl, char *why, size_t len);
/* As lg_sock_read / lg_sock_writev: bytes, 0 at the end, LG_AGAIN or LG_ERR (errno set). */
ssize_t lg_tlsprobe_read(SSL *ssl, void *buf, size_t len);
ssize_t lg_tlsprobe_write(SSL *ssl, const void *buf, size_t len);
/* Free *ssl (a close_notify is not waited for) and set it NULL. */
void lg_tlsprobe_free(SSL **ssl);

#endif
