/*
 * tls.h - the TLS stream: OpenSSL on a non-blocking socket, with the readiness discipline of
 * stream.h.
 *
 * The socket's own readiness is kept apart (`raw`), and OpenSSL reads and writes it through a
 * BIO of ours that keeps sock.h's rules: no system call on a socket whose flag is clear, a
 * short read clears RD. So the stream's RD means "the socket may have bytes, or the TLS object
 * holds decrypted ones" and a read burst ends without an EAGAIN round trip, as on a plain
 * socket. A read that needs the socket writable (or a write that needs it readable) waits for
 * that readiness instead. Bytes are copied through the TLS object, except with kernel TLS: a
 * direction whose keys the kernel took has LG_STREAM_SPLICE_WR (sending) or _RD (receiving,
 * while OpenSSL holds no decrypted byte), see docs/tls.md.
 */
#ifndef LG_STREAM_TLS_H
#define LG_STREAM_TLS_H

#include <openssl/ssl.h>

#include "stream/stream.h"

/*
 * Make `s` a server-side TLS stream on the connected socket `fd` (events to `handler`) with
 * `ssl`, which it owns from here (freed by lg_stream_close, also on failure). LG_OK or LG_ERR.
 * The handshake runs in lg_stream_handshake(). With `ktls` (SSL_OP_ENABLE_KTLS set on `ssl`,
 * the kernel has it) OpenSSL gets the socket itself, so that it can hand the keys to the
 * kernel: when both directions are then in the kernel, the stream may splice; otherwise it
 * works as without (only without our BIO's exact readiness: one EAGAIN ends a read burst).
 */
int lg_stream_tls(lg_stream_t *s, int fd, lg_io_handler_t handler, SSL *ssl, int ktls);

#define LG_KTLS_TX 1u /* the kernel encrypts what the stream sends */
#define LG_KTLS_RX 2u /* the kernel decrypts what the stream receives */

/* After the handshake: LG_KTLS_TX | LG_KTLS_RX as the kernel took the keys; 0 for user space. */
unsigned lg_stream_tls_ktls(const lg_stream_t *s);

/*
 * Make the connected plain stream `s` (a backend connection) a client-side TLS stream with
 * `ssl` (in connect state, owned from here as above), keeping its fd, handler and the socket
 * readiness seen so far. On LG_ERR `s` is still the plain stream. The handshake runs in
 * lg_stream_handshake(), as for a server stream.
 */
int lg_stream_tls_client(lg_stream_t *s, SSL *ssl, int ktls);

/* Decrypted bytes wait in the TLS object of `s` (0 for another stream). */
int lg_stream_tls_pending(const lg_stream_t *s);

/*
 * Free the record buffers of TLS streams that have not read or written for `quiet` ms (called
 * every second): an idle connection (keep-alive, a quiet WebSocket, a slow backend) holds none.
 * At most 64 streams keep theirs between uses at any time (the most recently active ones).
 * Returns how many streams gave theirs back.
 */
unsigned lg_stream_tls_trim(lg_msec_t quiet);

/* The TLS object of a TLS stream, NULL for another stream (logs: version, cipher, SNI). */
SSL *lg_stream_ssl(const lg_stream_t *s);

/* The handshake failed because the client spoke plain HTTP (nginx answers those with a 400). */
int lg_stream_tls_plain_http(const lg_stream_t *s);

/* Why the handshake, or a later read or write, failed, for the log ("" when nothing did). */
const char *lg_stream_tls_error(const lg_stream_t *s, char *buf, size_t len);

/* Room for what lg_stream_tls_error() writes. */
#define LG_TLS_ERR_MAX 160

/* OpenSSL's packed error of the failed handshake (ERR_GET_REASON), 0 when there was none. */
unsigned long lg_stream_tls_error_code(const lg_stream_t *s);

#endif
