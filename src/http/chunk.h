/*
 * chunk.h - the chunked transfer coding (RFC 9112 7.1): a strict incremental decoder, the
 * encoder that writes lifeguard's own framing, and the Transfer-Encoding list that decides
 * whether a message is chunked at all.
 *
 * The decoder turns bytes into events, one per call: a chunk begins (its size), chunk data
 * (a span of the input), the CRLF after the data, the last chunk, a trailer field (name and
 * value, and whether it may be forwarded), the end. Lines (chunk-size and extensions, trailer
 * fields) are taken whole: while a line is incomplete the decoder takes nothing and the caller
 * gives the same bytes again, followed by new ones. Every grammar rule is enforced: 1*HEXDIG
 * sizes below 2^63, chunk extensions `*( BWS ";" BWS token [ BWS "=" BWS ( token /
 * quoted-string ) ] )`, CRLF everywhere (no bare LF, no CR followed by anything else),
 * trailer fields `token ":" OWS field-value OWS` without obs-fold. Nothing is allocated.
 *
 * lg_chunk_emit() writes the form lifeguard sends for an event: its own size line (hex, no
 * leading zero, no extension), the data, CRLF, `0` CRLF, the trailer fields that do not touch
 * framing, routing or authentication, the final CRLF. It never writes more than the event took
 * from the input, so the output may overwrite the input in place (out <= the event's bytes).
 */
#ifndef LG_CHUNK_H
#define LG_CHUNK_H

#include <stddef.h>
#include <stdint.h>

/* Longest line (chunk-size with extensions, or one trailer field) and trailer section. */
#define LG_CHUNK_LINE_MAX     8192
#define LG_CHUNK_TRAILERS_MAX 16384

typedef enum lg_chunk_evt {
    LG_CHUNK_BAD = -1, /* malformed: lg_chunk_t.why says how; the decoder stays failed */
    LG_CHUNK_NEED = 0, /* nothing more can be taken: give the bytes again with more */
    LG_CHUNK_SIZE,     /* a chunk of ev.size (> 0) data bytes begins */
    LG_CHUNK_DATA,     /* ev.p[0 .. ev.len): chunk data */
    LG_CHUNK_DATA_END, /* the CRLF after a chunk's data */
    LG_CHUNK_LAST,     /* the last chunk: trailer fields follow */
    LG_CHUNK_TRAILER,  /* a trailer field ev.p (name) / ev.v (value); ev.drop: not forwarded */
    LG_CHUNK_END,      /* the empty line that ends the body */
} lg_chunk_evt_t;

typedef struct lg_chunk_ev {
    uint64_t size;     /* SIZE */
    const char *p;     /* DATA: the bytes; TRAILER: the field name */
    size_t len;        /* length of p */
    const char *v;     /* TRAILER: the value, without surrounding whitespace */
    size_t vlen;       /* length of v */
    size_t used;       /* input bytes this event took */
    unsigned sp : 1;   /* TRAILER: whitespace followed the colon (re-emitted as one space) */
    unsigned drop : 1; /* TRAILER: a field that must not be forwarded in a trailer */
} lg_chunk_ev_t;

typedef struct lg_chunk {
    uint64_t left;     /* data bytes of the current chunk not yet delivered */
    uint32_t seen;     /* bytes of the current (incomplete) line already scanned */
    uint32_t trailers; /* bytes of the trailer section so far */
    uint8_t state;
    const char *why; /* after LG_CHUNK_BAD: what was wrong (a static string) */
} lg_chunk_t;

void lg_chunk_init(lg_chunk_t *d);
/*
 * The next event from in[0 .. len). ev->used is the number of bytes it took (0 for NEED, when
 * the caller keeps in[0 .. len) and calls again with it followed by new bytes). After END the
 * decoder takes nothing more: what follows the body is the caller's.
 */
lg_chunk_evt_t lg_chunk_next(lg_chunk_t *d, const char *in, size_t len, lg_chunk_ev_t *ev);
/*
 * Write what lifeguard sends for event `t` at out: the re-encoded framing when `reencode`,
 * else the data alone (a decoded body). Returns the bytes written, never more than ev->used;
 * out may overlap the event's input when it does not lie after it.
 */
size_t lg_chunk_emit(lg_chunk_evt_t t, const lg_chunk_ev_t *ev, char *out, int reencode);

/* ---- Transfer-Encoding */

/* What the Transfer-Encoding fields of a head say, added up field by field. */
typedef struct lg_te {
    unsigned fields;           /* Transfer-Encoding fields seen */
    unsigned codings;          /* transfer codings listed, over every field */
    unsigned nchunked;         /* how many of them are "chunked" */
    unsigned last_chunked : 1; /* the last coding listed so far is "chunked" */
    unsigned bad : 1;          /* an element is not a transfer-coding, or chunked has parameters */
} lg_te_t;

typedef enum lg_te_framing {
    LG_TE_NONE = 0, /* no Transfer-Encoding */
    LG_TE_CHUNKED,  /* exactly "chunked" */
    LG_TE_CODED,    /* other codings, then chunked last ("gzip, chunked") */
    LG_TE_CLOSE,    /* the list does not end in chunked: a response is close-delimited */
    LG_TE_BAD,      /* malformed, or chunked applied twice */
} lg_te_framing_t;

/* Add the value of one Transfer-Encoding field (whitespace around elements is optional). */
void lg_te_add(lg_te_t *te, const char *v, size_t len);
lg_te_framing_t lg_te_framing(const lg_te_t *te);
/*
 * The next non-empty element of a list value at *cur (before end), trimmed; 0 at the end.
 * Used to re-emit the codings other than chunked.
 */
int lg_te_next(const char **cur, const char *end, const char **elem, size_t *len);

#endif
