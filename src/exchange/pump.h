/*
 * pump.h - moving one message body from one stream to another.
 *
 * A pump first writes the head waiting in `head` together with the body bytes already in
 * `*buf` (one writev), then moves the rest of the body: Content-Length bodies large enough and
 * close-delimited bodies (tunnels too) through a pipe with splice(2) when both streams can splice
 * (plain sockets), chunked bodies and everything else through
 * `*buf`. Chunked bodies are decoded strictly (http/chunk.h) and re-encoded in place: the
 * destination gets lifeguard's own framing, never the source's bytes between the data; for an
 * HTTP/1.0 client the body is decoded only. A body whose source has no framing (an HTTP/2
 * request without content-length) is chunked in place as it is read (LG_BODY_ENCODE). A pump holds
 * a buffer only while bytes wait in it.
 */
#ifndef LG_PUMP_H
#define LG_PUMP_H

#include <stdint.h>

#include "core/buf.h"
#include "core/pipe.h"
#include "http/chunk.h"
#include "stream/stream.h"

typedef enum lg_body {
    LG_BODY_NONE = 0, /* no body: the pump only writes the head */
    LG_BODY_LENGTH,   /* Content-Length */
    LG_BODY_CHUNKED,  /* chunked, decoded and re-encoded */
    LG_BODY_DECHUNK,  /* chunked, decoded (for HTTP/1.0 clients) */
    LG_BODY_EOF,      /* until the source closes */
    LG_BODY_ENCODE,   /* until the source closes, sent chunked (a body of unknown length) */
} lg_body_t;

/* Results of lg_pump_run besides LG_OK (finished) and LG_AGAIN (waiting for readiness). */
#define LG_PUMP_YIELD  (-3) /* budget spent with work left: run again after this batch */
#define LG_PUMP_ESRC   (-4) /* the source failed or ended early */
#define LG_PUMP_EDST   (-5) /* writing to the destination failed */
#define LG_PUMP_EBAD   (-6) /* the body's chunked framing is malformed */
#define LG_PUMP_ENOMEM (-7)

typedef struct lg_pump {
    lg_stream_t *src, *dst;
    lg_buf_t **buf; /* where body bytes wait: the pump may take and release it */
    lg_buf_t *head; /* bytes to write before the body; not released by the pump */
    /* bytes to write before the head (a new upstream connection's PROXY header), not owned */
    const uint8_t *pre;
    uint32_t pre_len;
    /* DECHUNK: where the trailer fields that may be forwarded go, as "name: value" CRLF lines
       (NULL: dropped); the owner releases it */
    lg_buf_t **trailers;
    lg_pipe_t *pipe;
    lg_chunk_t chunk; /* chunked bodies: the decoder */
    uint64_t left;    /* LENGTH: body bytes not yet read from the source */
    uint64_t moved;   /* body bytes read from the source so far */
    uint64_t limit;   /* > 0: a chunked (or ENCODE) body longer than this fails: LG_PUMP_EBAD */
    uint64_t body;    /* chunked: body bytes the chunk sizes announced; ENCODE: read so far */
    uint64_t out;     /* bytes written to the destination (head and body) */
    uint32_t pending; /* body bytes at (*buf)->pos waiting to be written */
    uint32_t keep;    /* chunked: an incomplete line after the pending bytes, not yet decoded */
    uint8_t mode;     /* lg_body_t */
    uint8_t done;     /* every body byte has been read from the source */
    uint8_t progress; /* set whenever bytes move; the owner clears it */
} lg_pump_t;

/*
 * Start a pump whose body begins at (*buf)->pos, where `avail` bytes have already arrived
 * (they may run past the body: what follows stays in the buffer, after the body).
 */
int lg_pump_start(lg_pump_t *p, lg_body_t mode, uint64_t length, uint32_t avail);
int lg_pump_run(lg_pump_t *p);
/* Give back the pipe (the buffer belongs to the owner). */
void lg_pump_release(lg_pump_t *p);

/* A chunked body went past `limit` (the caller answers 413 rather than 400). */
static inline int lg_pump_over_limit(const lg_pump_t *p)
{
    return p->limit != 0 && p->body > p->limit;
}

#endif
