/*
 * pump.c - body relay between two streams (see pump.h).
 */
#include "exchange/pump.h"

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "core/lg.h"

/* Bodies with at least this much left in the socket go through a pipe instead of a buffer. */
#define LG_SPLICE_MIN (64 * 1024)
/* At most this much waits in a pipe while its destination is not writable. */
#define LG_PIPE_BLOCKED (64 * 1024)
/* ENCODE: room kept in a read for the framing of its chunk ("ffffffff" CRLF ... CRLF) and the
 * last chunk ("0" CRLF CRLF) that the source's end may add. */
#define LG_ENCODE_SLACK 17
#define LG_ENCODE_LAST  "0\r\n\r\n"
/* Reads or splices per run before yielding to other connections. */
#define LG_PUMP_ROUNDS 16

/* DECHUNK with a trailer sink: keep a field that may be forwarded (the decoder bounds them). */
static int trailer_keep(lg_pump_t *p, const lg_chunk_ev_t *ev)
{
    lg_buf_t *t = *p->trailers;

    if (t == NULL && (t = *p->trailers = lg_buf_get()) == NULL)
        return LG_PUMP_ENOMEM;
    if (lg_buf_room(t) < ev->len + ev->vlen + 4)
        return LG_OK; /* a trailer section near its bound: what does not fit is dropped */
    memcpy(t->data + t->last, ev->p, ev->len);
    memcpy(t->data + t->last + ev->len, ": ", 2);
    memcpy(t->data + t->last + ev->len + 2, ev->v, ev->vlen);
    memcpy(t->data + t->last + ev->len + 2 + ev->vlen, "\r\n", 2);
    t->last += (uint32_t)(ev->len + ev->vlen + 4);
    return LG_OK;
}

/*
 * Chunked: decode the `n` new bytes at (*buf)->last, after the `keep` bytes of an incomplete
 * line, and write lifeguard's framing (or the data alone) in place after the pending bytes.
 * What the decoder does not take (an incomplete line, or what follows the body) is moved down
 * to follow the output. Every event writes at most the bytes it took, so the output never
 * overtakes the input.
 */
static int chunk_feed(lg_pump_t *p, uint32_t n)
{
    lg_buf_t *b = *p->buf;
    char *out = b->data + b->pos + p->pending;
    const char *in = out; /* the kept bytes follow the pending ones, then the new bytes */
    size_t len = p->keep + n, off = 0, rest;
    lg_chunk_evt_t t = LG_CHUNK_NEED;
    lg_chunk_ev_t ev;

    while (!p->done && (t = lg_chunk_next(&p->chunk, in + off, len - off, &ev)) > 0) {
        off += ev.used;
        p->moved += ev.used;
        if (t == LG_CHUNK_SIZE) {
            p->body += ev.size;
            if (lg_pump_over_limit(p))
                return LG_PUMP_EBAD;
        }
        p->done = t == LG_CHUNK_END;
        if (t == LG_CHUNK_TRAILER && !ev.drop && p->trailers != NULL && trailer_keep(p, &ev))
            return LG_PUMP_ENOMEM;
        out += lg_chunk_emit(t, &ev, out, p->mode == LG_BODY_CHUNKED);
    }
    if (t == LG_CHUNK_BAD)
        return LG_PUMP_EBAD;
    rest = len - off;
    memmove(out, in + off, rest);
    p->pending = (uint32_t)(out - (b->data + b->pos));
    p->keep = p->done ? 0 : (uint32_t)rest;
    b->last = (uint32_t)(out + rest - b->data);
    return LG_OK;
}

/* ENCODE: the `n` new bytes at (*buf)->last become one chunk, framed in place. */
static int encode_feed(lg_pump_t *p, uint32_t n)
{
    lg_buf_t *b = *p->buf;
    char size[12];
    int h = snprintf(size, sizeof(size), "%x\r\n", n);

    p->body += n;
    if (lg_pump_over_limit(p))
        return LG_PUMP_EBAD; /* limits.max_body_size: answered 413 */
    /* the data, its size line and CRLF, and the last chunk must fit (reads keep room for it) */
    if (h < 0 || lg_buf_room(b) < (size_t)n + (size_t)h + 2 + sizeof(LG_ENCODE_LAST) - 1)
        return LG_PUMP_ENOMEM;
    memmove(b->data + b->last + h, b->data + b->last, n);
    memcpy(b->data + b->last, size, (size_t)h);
    memcpy(b->data + b->last + (uint32_t)h + n, "\r\n", 2);
    b->last += (uint32_t)h + n + 2;
    p->pending += (uint32_t)h + n + 2;
    p->moved += n;
    return LG_OK;
}

/* ENCODE: the source ended: the last chunk (room for it was kept by every read). */
static void encode_end(lg_pump_t *p)
{
    lg_buf_t *b = *p->buf;

    memcpy(b->data + b->last, LG_ENCODE_LAST, sizeof(LG_ENCODE_LAST) - 1);
    b->last += sizeof(LG_ENCODE_LAST) - 1;
    p->pending += sizeof(LG_ENCODE_LAST) - 1;
    p->done = 1;
}

/* Account for `n` new bytes at (*buf)->last (already in memory); updates `last`. */
static int feed(lg_pump_t *p, uint32_t n)
{
    lg_buf_t *b = *p->buf;
    uint32_t take;

    switch (p->mode) {
    case LG_BODY_LENGTH:
        take = (uint32_t)LG_MIN((uint64_t)n, p->left);
        p->left -= take;
        p->pending += take;
        p->moved += take;
        p->done = p->left == 0;
        b->last += n;
        return LG_OK;
    case LG_BODY_EOF:
        p->pending += n;
        p->moved += n;
        b->last += n;
        return LG_OK;
    case LG_BODY_ENCODE:
        return encode_feed(p, n);
    default:
        break;
    }
    return chunk_feed(p, n);
}

int lg_pump_start(lg_pump_t *p, lg_body_t mode, uint64_t length, uint32_t avail)
{
    p->mode = (uint8_t)mode;
    p->left = length;
    p->pending = 0;
    p->moved = 0;
    p->body = 0;
    p->out = 0;
    p->keep = 0;
    p->done = mode == LG_BODY_NONE || (mode == LG_BODY_LENGTH && length == 0);
    p->progress = 0;
    if (mode == LG_BODY_CHUNKED || mode == LG_BODY_DECHUNK)
        lg_chunk_init(&p->chunk);
    if (avail == 0 || p->done)
        return LG_OK;
    (*p->buf)->last -= avail;
    return feed(p, avail);
}

void lg_pump_release(lg_pump_t *p)
{
    lg_pipe_put(&p->pipe);
}

/* Write the head and the pending body bytes. LG_OK when all are out. */
static int flush(lg_pump_t *p)
{
    lg_buf_t *b = *p->buf;
    struct iovec iov[3];
    int cnt = 0;
    ssize_t n;

    if (p->pre_len > 0) {
        iov[cnt].iov_base = (void *)(uintptr_t)p->pre;
        iov[cnt++].iov_len = p->pre_len;
    }
    if (p->head != NULL && lg_buf_len(p->head) > 0) {
        iov[cnt].iov_base = p->head->data + p->head->pos;
        iov[cnt++].iov_len = lg_buf_len(p->head);
    }
    if (p->pending > 0) {
        iov[cnt].iov_base = b->data + b->pos;
        iov[cnt++].iov_len = p->pending;
    }
    if (cnt == 0) {
        if (b != NULL && b->pos == b->last)
            lg_buf_put(p->buf); /* e.g. a last read of chunked framing only, decoded to nothing */
        return LG_OK;
    }
    if (!(p->dst->sock.flags & LG_SOCK_WR))
        return LG_AGAIN;
    n = lg_stream_writev(p->dst, iov, cnt);
    if (n < 0)
        return LG_PUMP_EDST;
    p->progress = 1;
    p->out += (uint64_t)n;
    if (p->pre_len > 0) {
        uint32_t h = (uint32_t)LG_MIN((size_t)n, (size_t)p->pre_len);

        p->pre += h;
        p->pre_len -= h;
        n -= (ssize_t)h;
    }
    if (p->head != NULL) {
        size_t h = LG_MIN((size_t)n, lg_buf_len(p->head));

        p->head->pos += (uint32_t)h;
        n -= (ssize_t)h;
    }
    b = *p->buf;
    if (n > 0) {
        b->pos += (uint32_t)n;
        p->pending -= (uint32_t)n;
    }
    if (b != NULL && b->pos == b->last)
        lg_buf_put(p->buf);
    return (p->pending > 0 || p->pre_len > 0 || (p->head != NULL && lg_buf_len(p->head) > 0))
               ? LG_AGAIN
               : LG_OK;
}

/*
 * Move body bytes through the pipe: out to the destination, then in from the source while the
 * pipe has room, so both sockets stay busy. LG_OK when something moved, LG_AGAIN when neither
 * side could move.
 */
static int splice_step(lg_pump_t *p)
{
    lg_pipe_t *pp = p->pipe;
    int moved = 0;
    size_t cap;
    ssize_t n;

    if (pp->pending > 0 && (p->dst->sock.flags & LG_SOCK_WR)) {
        n = lg_sock_splice_out(&p->dst->sock, pp->rfd, pp->pending);
        if (n < 0)
            return LG_PUMP_EDST;
        pp->pending -= (size_t)n;
        p->out += (uint64_t)n;
        moved = n > 0;
    }
    /* A destination that does not take more (a slow reader) gets only a little kept for it. */
    cap = (p->dst->sock.flags & LG_SOCK_WR) ? pp->size : LG_MIN(pp->size, (size_t)LG_PIPE_BLOCKED);
    if (!p->done &&
        (p->src->sock.flags & (LG_SOCK_RD | LG_STREAM_SPLICE_RD)) ==
            (LG_SOCK_RD | LG_STREAM_SPLICE_RD) &&
        pp->pending < cap) {
        size_t room = cap - pp->pending;

        n = lg_sock_splice_in(&p->src->sock, pp->wfd,
                              p->mode == LG_BODY_LENGTH ? (size_t)LG_MIN(p->left, (uint64_t)room)
                                                        : room);
        if (n == LG_AGAIN) {
            /* With bytes in the pipe, EAGAIN may mean a full pipe rather than an empty socket:
             * try again once the pipe is empty, where EAGAIN is unambiguous. */
            if (pp->pending > 0)
                p->src->sock.flags |= LG_SOCK_RD;
        } else if (n == 0 && p->mode == LG_BODY_EOF) {
            p->done = 1; /* the source closed: that is the end of a close-delimited body */
            moved = 1;
        } else if (n <= 0 && !(n == LG_ERR && lg_stream_splice_refused(p->src))) {
            return LG_PUMP_ESRC;
        } else if (n < 0) {
            moved = 1; /* a record that is not data: the pipe drains, then reads take over */
        } else {
            pp->pending += (size_t)n;
            p->moved += (uint64_t)n;
            if (p->mode == LG_BODY_LENGTH) {
                p->left -= (uint64_t)n;
                p->done = p->left == 0;
            }
            moved = 1;
        }
    }
    p->progress |= (uint8_t)moved;
    return moved ? LG_OK : LG_AGAIN;
}

static int read_step(lg_pump_t *p)
{
    lg_buf_t *b = *p->buf;
    size_t want;
    ssize_t n;

    if (!(p->src->sock.flags & LG_SOCK_RD))
        return LG_AGAIN;
    if (b == NULL) {
        b = *p->buf = lg_buf_get();
        if (b == NULL)
            return LG_PUMP_ENOMEM;
    } else {
        lg_buf_compact(b);
    }
    want = lg_buf_room(b);
    if (p->mode == LG_BODY_LENGTH)
        want = (size_t)LG_MIN((uint64_t)want, p->left);
    if (p->mode == LG_BODY_ENCODE) {
        if (want <= LG_ENCODE_SLACK)
            return LG_AGAIN; /* the destination must take what waits first */
        want -= LG_ENCODE_SLACK;
    }
    n = lg_stream_read(p->src, b->data + b->last, want);
    if (n == LG_AGAIN) {
        if (b->pos == b->last)
            lg_buf_put(p->buf);
        return LG_AGAIN;
    }
    if (n == 0 && p->mode == LG_BODY_EOF) {
        p->done = 1;
        if (b->pos == b->last)
            lg_buf_put(p->buf);
        return LG_OK;
    }
    if (n == 0 && p->mode == LG_BODY_ENCODE) {
        encode_end(p);
        return LG_OK;
    }
    if (n <= 0)
        return LG_PUMP_ESRC;
    p->progress = 1;
    return feed(p, (uint32_t)n);
}

int lg_pump_run(lg_pump_t *p)
{
    for (int round = 0; round < LG_PUMP_ROUNDS; round++) {
        int r = flush(p);

        if (r != LG_OK)
            return r;
        if (p->pipe != NULL && p->pipe->pending == 0 && !p->done &&
            !(p->src->sock.flags & LG_STREAM_SPLICE_RD))
            lg_pipe_put(&p->pipe); /* the source stopped splicing (kernel TLS): read it */
        if (p->pipe != NULL && !(p->done && p->pipe->pending == 0)) {
            r = splice_step(p);
            if (r != LG_OK)
                return r;
            continue;
        }
        if (p->done) {
            lg_pipe_put(&p->pipe);
            return LG_OK;
        }
        /* bytes that need no inspection: large Content-Length bodies, tunnels, EOF bodies */
        if (p->pipe == NULL && lg_stream_can_splice(p->src, p->dst) &&
            ((p->mode == LG_BODY_LENGTH && p->left >= LG_SPLICE_MIN) || p->mode == LG_BODY_EOF)) {
            p->pipe = lg_pipe_get();
            if (p->pipe != NULL)
                continue;
        }
        if (p->pipe == NULL) {
            r = read_step(p);
            if (r != LG_OK)
                return r;
        }
    }
    return LG_PUMP_YIELD;
}
