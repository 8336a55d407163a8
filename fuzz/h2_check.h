/*
 * h2_check.h - for fuzz_h2.c: what lifeguard sends an HTTP/2 client, read frame by frame and
 * held to the rules a client relies on (RFC 9113), whatever the client sent:
 *
 *   - every frame is at most 128 KiB long (nghttp2 frames DATA by 16 KiB and splits header
 *     blocks into CONTINUATION frames);
 *   - on a stream, nothing but RST_STREAM, WINDOW_UPDATE and PRIORITY after END_STREAM, and
 *     nothing at all after RST_STREAM (8.1, 5.1: "closed");
 *   - a header block (HEADERS and its CONTINUATIONs, uninterrupted) decodes with HPACK and
 *     starts with :status; names are lower case; no connection-specific field (8.2.2); a
 *     second final HEADERS is trailers and ends the stream;
 *   - DATA never goes past the response's content-length, and a stream that ends with DATA
 *     carries none (HEAD, 304) or exactly content-length bytes (8.1.1): a body cut short must
 *     end with RST_STREAM; no DATA before the final HEADERS.
 *
 * Header only (static functions): fuzz_h2.c is one program.
 */
#ifndef FUZZ_H2_CHECK_H
#define FUZZ_H2_CHECK_H

#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HC_STREAMS 4096 /* client stream ids 1, 3, ... 8191: beyond, no stream state is kept */
#define HC_BUF     (1 << 17)

typedef struct hc_stream {
    uint64_t length, data; /* content-length (when has_length), DATA bytes so far */
    unsigned final : 1, has_length : 1, ended : 1, reset : 1;
    unsigned client_reset : 1; /* the client sent RST_STREAM on it */
} hc_stream_t;

typedef struct hc {
    nghttp2_hd_inflater *hd;
    uint8_t buf[HC_BUF]; /* a frame not yet whole */
    size_t len;
    uint8_t block[HC_BUF]; /* a header block not yet whole */
    size_t block_len;
    int32_t block_sid; /* the stream of the header block under way, 0: none */
    uint8_t block_flags;
    int broken; /* the HPACK context is gone (a block we could not hold): headers unchecked */
    int trace;  /* print each frame's header on stderr */
    int goaway; /* lifeguard sent GOAWAY, or the client did: streams may be left as they are */
    hc_stream_t st[HC_STREAMS];
} hc_t;

static void hc_fail(int32_t sid, const char *why)
{
    fprintf(stderr, "fuzz_h2: lifeguard sent the client an invalid HTTP/2 frame on stream %d: %s\n",
            sid, why);
    abort();
}

static hc_stream_t *hc_stream(hc_t *c, int32_t sid)
{
    return sid > 0 && (sid & 1) && sid / 2 < HC_STREAMS ? &c->st[sid / 2] : NULL;
}

static void hc_reset(hc_t *c)
{
    if (c->hd != NULL)
        nghttp2_hd_inflate_del(c->hd);
    if (nghttp2_hd_inflate_new(&c->hd) != 0)
        abort();
    c->len = c->block_len = 0;
    c->block_sid = 0;
    c->broken = 0;
    memset(c->st, 0, sizeof(c->st));
}

static int hc_connection_specific(const uint8_t *n, size_t len)
{
    static const char *const bad[] = {"connection", "keep-alive", "proxy-connection",
                                      "transfer-encoding", "upgrade"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (len == strlen(bad[i]) && memcmp(n, bad[i], len) == 0)
            return 1;
    return 0;
}

static uint64_t hc_number(const uint8_t *v, size_t len)
{
    uint64_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9' || n > UINT64_MAX / 10 - 10)
            return UINT64_MAX;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    return n;
}

/* One field of a response block on `s`; `first`: the block's first field. */
static void hc_field(int32_t sid, hc_stream_t *s, const nghttp2_nv *nv, int first, int trailers,
                     int *interim)
{
    for (size_t i = 0; i < nv->namelen; i++)
        if (nv->name[i] >= 'A' && nv->name[i] <= 'Z')
            hc_fail(sid, "an upper-case field name");
    if (hc_connection_specific(nv->name, nv->namelen) ||
        (nv->namelen == 2 && memcmp(nv->name, "te", 2) == 0))
        hc_fail(sid, "a connection-specific field");
    if (nv->namelen == 7 && memcmp(nv->name, ":status", 7) == 0) {
        if (!first || trailers)
            hc_fail(sid, ":status not first, or in trailers");
        *interim = nv->valuelen == 3 && nv->value[0] == '1';
        return;
    }
    /* a stream beyond HC_STREAMS has no state: its block may be trailers */
    if (first && !trailers && s != NULL)
        hc_fail(sid, "a response without :status first");
    if (nv->namelen > 0 && nv->name[0] == ':')
        hc_fail(sid, "a pseudo-header field other than :status");
    if (s != NULL && !trailers && !*interim && nv->namelen == 14 &&
        memcmp(nv->name, "content-length", 14) == 0) {
        s->length = hc_number(nv->value, nv->valuelen);
        s->has_length = 1;
    }
}

/* A whole header block for stream `sid`, with the flags of its HEADERS frame. */
static void hc_block(hc_t *c, int32_t sid, uint8_t flags, const uint8_t *in, size_t len)
{
    hc_stream_t *s = hc_stream(c, sid);
    int trailers = s != NULL && s->final, interim = 0, first = 1, final_flag;

    if (trailers && !(flags & NGHTTP2_FLAG_END_STREAM))
        hc_fail(sid, "a second final HEADERS (trailers) without END_STREAM");
    for (;;) {
        nghttp2_nv nv;
        int out = 0;
        ssize_t n = nghttp2_hd_inflate_hd2(c->hd, &nv, &out, in, len, 1);

        if (n < 0)
            hc_fail(sid, "a header block HPACK cannot decode");
        in += n;
        len -= (size_t)n;
        if (out & NGHTTP2_HD_INFLATE_EMIT) {
            hc_field(sid, s, &nv, first, trailers, &interim);
            first = 0;
        }
        if (out & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(c->hd);
            break;
        }
        if (n == 0 && len == 0)
            hc_fail(sid, "a header block that ends mid-field");
    }
    final_flag = !trailers && !interim;
    if (s == NULL)
        return;
    if (interim && (flags & NGHTTP2_FLAG_END_STREAM))
        hc_fail(sid, "an interim response that ends the stream");
    s->final |= final_flag;
}

/* The rules of one frame on its stream (every frame type but the header block's content). */
static void hc_stream_frame(hc_t *c, uint8_t type, uint8_t flags, int32_t sid, size_t len,
                            const uint8_t *p)
{
    hc_stream_t *s = hc_stream(c, sid);

    if (s == NULL || type == NGHTTP2_PRIORITY)
        return;
    if (s->reset)
        hc_fail(sid, "a frame after RST_STREAM");
    if (type == NGHTTP2_RST_STREAM) {
        s->reset = 1;
        return;
    }
    if (type == NGHTTP2_WINDOW_UPDATE)
        return;
    if (s->ended)
        hc_fail(sid, "a frame after END_STREAM");
    if (type == NGHTTP2_DATA) {
        size_t pad = (flags & NGHTTP2_FLAG_PADDED) && len > 0 ? (size_t)p[0] + 1 : 0;

        if (!s->final)
            hc_fail(sid, "DATA before the response's HEADERS");
        s->data += len >= pad ? len - pad : 0;
        if (s->has_length && s->data > s->length)
            hc_fail(sid, "more DATA than content-length");
        /* HEAD, 304: a content-length and no content (8.1.1) */
        if ((flags & NGHTTP2_FLAG_END_STREAM) && s->has_length && s->data != 0 &&
            s->data != s->length)
            hc_fail(sid, "a body shorter than content-length that ends the stream");
    }
    if (flags & NGHTTP2_FLAG_END_STREAM)
        s->ended = 1;
}

/* A header block fragment (HEADERS without its priority and padding, or CONTINUATION). */
static void hc_fragment(hc_t *c, int32_t sid, uint8_t flags, const uint8_t *p, size_t len)
{
    if (c->block_len + len > sizeof(c->block)) {
        c->broken = 1; /* bigger than we hold: the HPACK context is lost for this connection */
        c->block_len = 0;
    } else {
        memcpy(c->block + c->block_len, p, len);
        c->block_len += len;
    }
    if (!(flags & NGHTTP2_FLAG_END_HEADERS))
        return;
    if (!c->broken)
        hc_block(c, sid, c->block_flags, c->block, c->block_len);
    c->block_len = 0;
    c->block_sid = 0;
}

static void hc_frame(hc_t *c, uint8_t type, uint8_t flags, int32_t sid, const uint8_t *p,
                     size_t len)
{
    if (c->trace)
        fprintf(stderr, "fuzz_h2: to the client: type %u flags 0x%02x stream %d length %zu\n", type,
                flags, sid, len);
    if (c->block_sid != 0 && (type != NGHTTP2_CONTINUATION || sid != c->block_sid))
        hc_fail(sid, "a frame inside another stream's header block");
    if (type == NGHTTP2_CONTINUATION) {
        if (c->block_sid == 0)
            hc_fail(sid, "CONTINUATION without HEADERS");
        hc_fragment(c, sid, flags, p, len);
        return;
    }
    if (type == NGHTTP2_PUSH_PROMISE)
        hc_fail(sid, "PUSH_PROMISE (push is off)");
    if (type == NGHTTP2_GOAWAY)
        c->goaway = 1;
    hc_stream_frame(c, type, flags, sid, len, p);
    if (type == NGHTTP2_HEADERS) {
        size_t skip = 0, pad = 0;

        if ((flags & NGHTTP2_FLAG_PADDED) && len > 0)
            pad = p[skip++];
        if (flags & NGHTTP2_FLAG_PRIORITY)
            skip += 5;
        if (skip + pad > len)
            hc_fail(sid, "HEADERS shorter than its padding and priority");
        c->block_sid = sid;
        c->block_flags = flags;
        hc_fragment(c, sid, flags, p + skip, len - skip - pad);
    }
}

/* Bytes lifeguard sent the client, in any pieces. */
static void hc_feed(hc_t *c, const uint8_t *in, size_t n)
{
    while (n > 0) {
        size_t k = n < sizeof(c->buf) - c->len ? n : sizeof(c->buf) - c->len;
        size_t at = 0;

        memcpy(c->buf + c->len, in, k);
        c->len += k;
        in += k;
        n -= k;
        while (c->len - at >= 9) {
            const uint8_t *h = c->buf + at;
            size_t flen = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
            int32_t sid = (int32_t)((uint32_t)(h[5] & 0x7f) << 24 | (uint32_t)h[6] << 16 |
                                    (uint32_t)h[7] << 8 | h[8]);

            if (9 + flen > sizeof(c->buf))
                hc_fail(sid, "a frame longer than 128 KiB (lifeguard's frames are 16 KiB at most)");
            if (c->len - at < 9 + flen)
                break;
            hc_frame(c, h[3], h[4], sid, h + 9, flen);
            at += 9 + flen;
        }
        memmove(c->buf, c->buf + at, c->len - at);
        c->len -= at;
    }
}

/*
 * What the client sent (the fuzz input after the preface), frame by frame as far as it goes:
 * the streams it reset and whether it sent GOAWAY, which free lifeguard from ending them.
 */
static void hc_client_sent(hc_t *c, const uint8_t *p, size_t n)
{
    while (n >= 9) {
        size_t flen = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
        int32_t sid = (int32_t)((uint32_t)(p[5] & 0x7f) << 24 | (uint32_t)p[6] << 16 |
                                (uint32_t)p[7] << 8 | p[8]);
        hc_stream_t *s = hc_stream(c, sid);

        if (p[3] == NGHTTP2_GOAWAY)
            c->goaway = 1;
        if (p[3] == NGHTTP2_RST_STREAM && s != NULL)
            s->client_reset = 1;
        if (n - 9 < flen)
            return;
        p += 9 + flen;
        n -= 9 + flen;
    }
}

/*
 * Lifeguard is idle, the connection open, neither side sent GOAWAY: a response whose every
 * content-length byte went out must have ended (END_STREAM) or been reset; a client would wait
 * for it forever (the window cannot hold back an empty DATA frame with END_STREAM). Returns the
 * first such stream, 0 if none.
 */
static int32_t hc_unfinished(const hc_t *c)
{
    if (c->goaway)
        return 0;
    for (int32_t i = 0; i < HC_STREAMS; i++) {
        const hc_stream_t *s = &c->st[i];

        if (s->final && s->has_length && s->length > 0 && s->data == s->length && !s->ended &&
            !s->reset && !s->client_reset)
            return 2 * i + 1;
    }
    return 0;
}

#endif
