/*
 * clienthello.h - the server name (SNI) of a TLS ClientHello, read from the bytes a client sent
 * first, without terminating TLS (TLS passthrough: front/sni.c).
 *
 * The input is what arrived so far, starting at the first byte of the connection. The
 * handshake message may be split over several handshake records (TLS allows it); its fragments
 * are joined as long as the whole fits LG_HELLO_MAX input bytes. Every length field is checked
 * against the bytes that hold it: a field running past its container, bytes left over inside a
 * container, a second server_name extension or a second host_name entry, an empty name or label
 * ("a..b", ".a", "a.."; one trailing dot is dropped), a name over 255 bytes or with a byte
 * other than a letter, digit, '-', '_' or '.' make the hello bad (closed, never guessed at).
 */
#ifndef LG_CLIENTHELLO_H
#define LG_CLIENTHELLO_H

#include <stddef.h>
#include <stdint.h>

#define LG_HELLO_MAX      (16384 + 5) /* input read at most: one full TLS record */
#define LG_HELLO_NAME_MAX 255         /* RFC 6066: HostName <1..2^16-1>, DNS names <= 255 */

typedef enum lg_hello_result {
    LG_HELLO_SNI = 0, /* a complete ClientHello with a host name: in `name` */
    LG_HELLO_NONE,    /* a complete ClientHello without a server_name host name */
    LG_HELLO_MORE,    /* incomplete so far: read more (up to LG_HELLO_MAX bytes) */
    LG_HELLO_NOT_TLS, /* the first bytes are not a TLS handshake record */
    LG_HELLO_BAD,     /* malformed, or not complete within LG_HELLO_MAX bytes */
} lg_hello_result_t;

/*
 * Look at the first `len` bytes of a connection. On LG_HELLO_SNI `name` (LG_HELLO_NAME_MAX + 1
 * bytes) holds the host name, lower-case, without a trailing dot, NUL-terminated.
 */
lg_hello_result_t lg_hello_sni(const uint8_t *in, size_t len, char *name);

/*
 * The host name of a server_name extension's data alone (what OpenSSL's
 * SSL_client_hello_get0_ext gives), checked as in a whole hello: LG_HELLO_SNI with `name` set
 * as above, or LG_HELLO_BAD.
 */
lg_hello_result_t lg_hello_server_name(const uint8_t *data, size_t len, char *name);

/*
 * A host name as a server_name entry holds it (`len` bytes at `p`), checked the same way:
 * LG_HELLO_SNI with `name` set as above, or LG_HELLO_BAD (empty label, a byte no host name has).
 */
lg_hello_result_t lg_hello_host(const uint8_t *p, size_t len, char *name);

/* A word for a result, for logs ("no server name", "not TLS", ...). */
const char *lg_hello_result_text(lg_hello_result_t r);

#endif
