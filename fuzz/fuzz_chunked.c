/*
 * fuzz_chunked.c - libFuzzer target for the chunked decoder and encoder (src/http/chunk.c).
 *
 * The first two bytes seed the sizes of the pieces the rest arrives in; the rest is a chunked
 * body. Properties checked (abort() on a violation):
 *   - the verdict (complete, incomplete, malformed) and the bytes left after the body do not
 *     depend on the split nor on whether the body is re-encoded or only decoded;
 *   - no event writes past the input it took (the pump re-encodes in place);
 *   - decode(re-encode(x)) gives the same data as decode(x), and every trailer field of x that
 *     is forwarded, in order; re-encoding lifeguard's own encoding changes nothing.
 *
 * Build by hand: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_chunked.c
 * src/http/chunk.c -o fuzz_chunked; run: ./fuzz_chunked fuzz/corpus/chunked
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/chunk.h"

#define FZ_TRAILER_LOG (2 * LG_CHUNK_TRAILERS_MAX)

typedef struct fz_out {
    int result;     /* 1 complete, 0 incomplete, -1 malformed */
    char *buf;      /* output (in place), then what follows the body */
    size_t len;     /* output bytes */
    size_t rest;    /* bytes after the body (complete) or not taken (incomplete) */
    char *trailers; /* forwarded trailer fields: name NUL value NUL ... */
    size_t tlen;
} fz_out_t;

/* xorshift32: piece sizes from the seed, 1 to 64 bytes or, one time in 8, up to 4 KiB. */
static size_t next_piece(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (*s & 7) == 0 ? 1 + (*s >> 8) % 4096 : 1 + (*s >> 8) % 64;
}

static void log_trailer(fz_out_t *o, const lg_chunk_ev_t *ev)
{
    if (ev->drop || o->tlen + ev->len + ev->vlen + 2 > FZ_TRAILER_LOG)
        return;
    memcpy(o->trailers + o->tlen, ev->p, ev->len);
    o->tlen += ev->len;
    o->trailers[o->tlen++] = '\0';
    memcpy(o->trailers + o->tlen, ev->v, ev->vlen);
    o->tlen += ev->vlen;
    o->trailers[o->tlen++] = '\0';
}

/* Feed in[0 .. len) piece by piece, re-encoding or decoding in place as the pump does. */
static void run(fz_out_t *o, const uint8_t *in, size_t len, uint32_t seed, int reencode)
{
    lg_chunk_t d;
    size_t olen = 0, keep = 0, given = 0;
    int done = 0;

    memset(o, 0, sizeof(*o));
    o->buf = malloc(len + 1);
    o->trailers = malloc(FZ_TRAILER_LOG);
    if (o->buf == NULL || o->trailers == NULL)
        abort();
    lg_chunk_init(&d);
    while (given < len && !done) {
        size_t n = next_piece(&seed), off = 0;
        char *base = o->buf + olen, *out = base;
        lg_chunk_evt_t t = LG_CHUNK_NEED;
        lg_chunk_ev_t ev;

        n = n < len - given ? n : len - given;
        memcpy(base + keep, in + given, n);
        given += n;
        while (!done && (t = lg_chunk_next(&d, base + off, keep + n - off, &ev)) > 0) {
            if (ev.used > keep + n - off)
                abort(); /* took bytes it was not given */
            off += ev.used;
            done = t == LG_CHUNK_END;
            if (t == LG_CHUNK_TRAILER && reencode)
                log_trailer(o, &ev);
            out += lg_chunk_emit(t, &ev, out, reencode);
            if (out > base + off)
                abort(); /* the output overtook the input */
        }
        if (t == LG_CHUNK_BAD) {
            o->result = -1;
            return;
        }
        memmove(out, base + off, keep + n - off);
        olen = (size_t)(out - o->buf);
        keep = keep + n - off;
    }
    memcpy(o->buf + olen + keep, in + given, len - given);
    o->result = done;
    o->len = olen;
    o->rest = keep + (len - given);
}

static void done(fz_out_t *o)
{
    free(o->buf);
    free(o->trailers);
}

static int same(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_out_t enc, dec, dec2, enc2;
    uint32_t seed;

    if (size < 2)
        return 0;
    seed = ((uint32_t)data[0] << 8 | data[1]) * 2654435761u | 1;
    data += 2;
    size -= 2;

    run(&enc, data, size, seed, 1);
    run(&dec, data, size, seed ^ 0x5bd1e995u, 0);
    if (enc.result != dec.result)
        abort(); /* the verdict depends on the split or the mode */
    if (enc.result == 1) {
        if (enc.rest != dec.rest)
            abort();
        /* decode(re-encode(x)) == decode(x); re-encode(re-encode(x)) == re-encode(x) */
        run(&dec2, (const uint8_t *)enc.buf, enc.len, seed + 1, 0);
        run(&enc2, (const uint8_t *)enc.buf, enc.len, seed + 2, 1);
        if (dec2.result != 1 || dec2.rest != 0 || !same(dec2.buf, dec2.len, dec.buf, dec.len))
            abort();
        if (enc2.result != 1 || !same(enc2.buf, enc2.len, enc.buf, enc.len) ||
            !same(enc2.trailers, enc2.tlen, enc.trailers, enc.tlen))
            abort();
        done(&dec2);
        done(&enc2);
    }
    done(&enc);
    done(&dec);
    return 0;
}
