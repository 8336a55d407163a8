/*
 * client.h - TLS to the backends: the client context of each pool with `tls` (built in the
 * master by lg_tls_load, like the listeners' server contexts, and inherited by the workers with
 * the configuration), the SSL of one upstream connection, and why its handshake failed.
 *
 * The context verifies the backend's chain against pools.NAME.tls.ca (default: the system
 * store) and its name against server_name (default: the backend's host name), offers the
 * client certificate when there is one, and keeps no session cache of its own: each new
 * session (a TLS 1.2 session, a TLS 1.3 ticket) goes to the slot the connection was made with,
 * the backend's in the worker (upstream/uptls.c), and the next connection resumes it.
 */
#ifndef LG_TLS_CLIENT_H
#define LG_TLS_CLIENT_H

#include <openssl/ssl.h>

#include "config/config.h"

/* Room for what lg_tls_client_failure() writes. */
#define LG_TLS_FAILURE_MAX 768

/*
 * A new client SSL of pool TLS settings `t` (t->ctx built) in connect state, for a backend
 * whose host is `host` ("" or an IP literal: no SNI, unless server_name is set). It resumes
 * `*cache` when set, and puts every new session it gets into `*cache` (the old one freed), so
 * `cache` must outlive it; `cache` NULL: no resumption. NULL when out of memory (logged).
 */
SSL *lg_tls_client_new(const lg_pool_tls_conf_t *t, const char *host, int host_is_ip,
                       SSL_SESSION **cache);

/* 1 when the connections of pool TLS settings `t` try kernel TLS (pools.NAME.tls.ktls). */
int lg_tls_client_ktls(const lg_pool_tls_conf_t *t);

/*
 * Why the handshake of `ssl` failed, into buf: the verification result with the certificate it
 * is about (subject, issuer, expiry) and the name expected, or OpenSSL's reason `reason` (from
 * the stream) when the chain was not to blame. Returns buf.
 */
const char *lg_tls_client_failure(const SSL *ssl, const char *reason, char *buf, size_t len);

#endif
