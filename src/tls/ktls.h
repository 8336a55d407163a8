/*
 * ktls.h - kernel TLS (kTLS): whether this machine can use it, and what lifeguard says about it.
 *
 * kTLS needs two things: OpenSSL built with it (Debian's 3.0 is: OPENSSL_NO_KTLS is not
 * defined) and a kernel with the "tls" upper layer protocol (CONFIG_TLS, module tls), listed in
 * /proc/sys/net/ipv4/tcp_available_ulp once loaded. When a listener or a pool with tls has
 * `ktls: auto` and both are there, its context gets SSL_OP_ENABLE_KTLS and its streams give OpenSSL
 * the socket (not our BIO), so that after each handshake OpenSSL hands the keys to the kernel, each
 * direction on its own; the kernel may still refuse one (a cipher it lacks, a record read past the
 * handshake) and that direction stays in user space (counted, see stream/tls.h:
 * lg_stream_tls_ktls).
 */
#ifndef LG_KTLS_H
#define LG_KTLS_H

#include "config/config.h"

/* Where the kernel lists its upper layer protocols; $LIFEGUARD_KTLS_ULP_FILE replaces it (tests
 * use it to make lifeguard try kTLS on a kernel that will refuse it). */
#define LG_KTLS_ULP_FILE "/proc/sys/net/ipv4/tcp_available_ulp"

/* 1 when the kernel offers kTLS ("tls" in the ULP file), 0 otherwise. */
int lg_ktls_kernel(void);

/* 1 when the OpenSSL lifeguard was built with has kTLS support. */
int lg_ktls_openssl(void);

/*
 * Whether `l` (a listener with tls) tries kTLS: ktls: auto, OpenSSL and the kernel have it. At the
 * process's first load each listener says which, at info level ("listener NAME: kernel TLS ...").
 */
int lg_ktls_listener(const lg_listener_conf_t *l);

/* The same for `p`, a pool with tls (its backend connections): "pool NAME: kernel TLS ...". */
int lg_ktls_pool(const lg_pool_conf_t *p);

/* Stop saying it (after the first load: reloads do not repeat it). */
void lg_ktls_said(void);

/* The line of `lifeguard -V`: "kernel TLS: kernel yes|no, OpenSSL yes|no". */
void lg_ktls_version(char *buf, size_t len);

#endif
