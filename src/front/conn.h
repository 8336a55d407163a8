/*
 * conn.h - a client connection, whatever protocol its front speaks.
 *
 * Every front (h1, tcp; TLS passthrough later) embeds an lg_conn_t first in its own
 * connection struct; an h1 connection may be handed to the h2 front (ALPN h2, or the HTTP/2
 * preface on a plain listener with http2), which then runs it in the same memory. The base carries
 * what every client connection has: its stream, one timer, one posted item, the listener and the
 * peer address. Only the front closes its connection, with lg_conn_close; the memory goes back to
 * the worker's free list after the event batch.
 */
#ifndef LG_CONN_H
#define LG_CONN_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "stream/stream.h"
#include "worker/ctx.h"

typedef struct lg_conn lg_conn_t;

/* What a front does with its connections; one table per front kind. */
typedef struct lg_front {
    const char *name;
    unsigned kind;    /* index of the worker's connection free list */
    size_t conn_size; /* of the front's struct, which starts with lg_conn_t */
    /* A new connection, zeroed past the base and registered in the loop. */
    void (*start)(lg_conn_t *c);
    /* Epoll events (already folded into c->s's flags). */
    void (*event)(lg_conn_t *c, uint32_t ev);
    /* Work posted with lg_conn_post, after the batch. */
    void (*run)(lg_conn_t *c);
    /* c->timer expired. */
    void (*timeout)(lg_conn_t *c);
    /* The connection closes: give back what the front holds (exchange, buffers). */
    void (*release)(lg_conn_t *c);
} lg_front_t;

struct lg_conn {
    lg_stream_t s; /* first: the loop's lg_io_t */
    lg_timer_t timer;
    lg_posted_t posted;      /* front->run after the batch; frees the connection once closed */
    lg_listener_t *ls;       /* its worker, and the front that accepted it (listener.h) */
    const lg_front_t *front; /* the front running it now */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } peer, local;  /* local: where a PROXY header says the client connected (family 0: none) */
    uint8_t state;  /* the front's: where the connection is in its protocol */
    uint8_t fflags; /* the front's: flags (they fit in the padding here) */
};

extern const lg_front_t lg_front_h1, lg_front_tcp, lg_front_h2;

/* The address the client reached as its PROXY header named it; NULL: the socket's own. */
static inline const struct sockaddr *lg_conn_local(const lg_conn_t *c)
{
    return c->local.sa.sa_family != 0 ? &c->local.sa : NULL;
}

/*
 * A connection for the accepted `fd` on `ls`, started by the listener's front; on failure
 * closes fd and gives back the address's count (front/perip.h). lg_conn_close gives it back too.
 */
void lg_conn_accept(lg_listener_t *ls, int fd, const struct sockaddr *peer, socklen_t plen);

/*
 * Advance the stream's handshake (at once LG_OK for plain or established streams): LG_OK,
 * LG_AGAIN (wait for readiness; the front's timer bounds it), or LG_ERR: the handshake failed,
 * logged at info and the connection closed, except for plain HTTP sent to a TLS listener,
 * which the front answers (lg_stream_tls_plain_http) and closes itself. The end of a handshake
 * is counted in the listener's counters (ok, resumed, or failed by reason).
 */
int lg_conn_handshake_step(lg_conn_t *c);

static inline int lg_conn_handshake(lg_conn_t *c)
{
    return (c->s.sock.flags & LG_STREAM_HANDSHAKE) ? lg_conn_handshake_step(c) : LG_OK;
}

/* The handshake did not finish within timeouts.client_header: logged, counted, closed. */
void lg_conn_handshake_timeout(lg_conn_t *c);

/* Close now: the front releases what it holds, the struct is freed after the batch. */
void lg_conn_close(lg_conn_t *c);

/* Run the front again after this batch (a budget spent, bytes already buffered). */
static inline void lg_conn_post(lg_conn_t *c)
{
    lg_loop_post(&c->posted);
}

static inline void lg_conn_timer(lg_conn_t *c, lg_timerq_t *q)
{
    lg_timer_set(q, &c->timer);
}

#endif
