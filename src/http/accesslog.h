/*
 * accesslog.h - the access log of a worker: one line per request, `combined` (exactly nginx's
 * format, which log tools parse) or `json` (with duration, upstream, pool, request id, and the
 * TLS version, cipher, SNI, resumption and client subject of TLS requests), and one line per tcp
 * connection when it ends (lg_alog_write_tcp), buffered
 * and written by one write(2) per flush (when the buffer is half full, and every second), reopened
 * on SIGUSR1 so that logrotate works.
 */
#ifndef LG_ACCESSLOG_H
#define LG_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "tls/tls.h"

/* What a line says about one request; strings may be empty, never NULL. */
typedef struct lg_alog_entry {
    const char *client; /* IP address */
    const char *method;
    const char *target;   /* as received */
    const char *protocol; /* "HTTP/1.1" */
    const char *referer;
    const char *user_agent;
    const char *request_id;
    const char *listener;
    const char *pool;     /* "" without a route */
    const char *upstream; /* backend address, "" without one */
    int status;
    uint64_t body_bytes; /* body bytes sent, as nginx's $body_bytes_sent */
    uint64_t duration_ms;
    int64_t upstream_ms; /* -1 without a backend response */
    const SSL *tls; /* the client's TLS session (json: tls_* fields, looked up then); NULL: plain */
} lg_alog_entry_t;

/* What the line of a tcp connection says (written when it ends); strings never NULL. */
typedef struct lg_alog_tcp {
    const char *client; /* IP address */
    unsigned client_port;
    const char *listener;
    const char *pool;
    const char *upstream; /* backend address, "" when none was connected to */
    uint64_t bytes_in;    /* from the client */
    uint64_t bytes_out;   /* to the client */
    uint64_t duration_ms;
    const char *end; /* how it ended: "closed by client", "timeout", ... */
    const SSL *tls;  /* TLS offload: the client's session (json: tls_* fields); NULL: plain */
    const char *sni; /* TLS passthrough: the server name routed on; "" when none */
} lg_alog_tcp_t;

/* Open the access log of `cf` (log.access: "stdout", a path, or NULL for off). */
int lg_alog_open(const lg_config_t *cf);
int lg_alog_enabled(void);
/* Write out what is buffered, then reopen the file (SIGUSR1). */
void lg_alog_reopen(void);
void lg_alog_flush(void);
void lg_alog_write(const lg_alog_entry_t *e);
/*
 * A tcp connection's line. Text (access_format combined, as HAProxy's tcplog): `CLIENT:PORT
 * [TIME] LISTENER POOL/BACKEND DURATION_MS BYTES_IN BYTES_OUT "END"`, then ` sni=NAME` after a
 * TLS passthrough routed on a server name; json: one object with "type":"tcp" (and "sni").
 */
void lg_alog_write_tcp(const lg_alog_tcp_t *e);

/*
 * `str` escaped for a quoted field into `out` (`cap` bytes, cut to fit); returns its length.
 * combined (json 0), as nginx does: '"', '\', control bytes and bytes from 0x7f as \xHH.
 * json: '"' and '\' escaped, control bytes and bytes that are not valid UTF-8 as \u00HH, so
 * that every line stays valid JSON.
 */
size_t lg_alog_escape(char *out, size_t cap, const char *str, int json);

#endif
