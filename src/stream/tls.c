/*
 * tls.c - the TLS stream (see tls.h).
 */
#include "stream/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"

/* Pieces of a write up to this size in all are joined into one record (a TLS record's most). */
#define LG_TLS_JOIN_MAX 16384

typedef struct tls_stream {
    lg_stream_impl_t impl; /* first: the operations */
    SSL *ssl;
    lg_sock_t raw;                  /* the socket's own readiness, seen by the BIO */
    struct tls_stream *prev, *next; /* on the list of streams that may hold buffers */
    lg_msec_t active;               /* the last read, write or handshake step */
    unsigned held : 1;              /* on that list */
    unsigned handshaken : 1;        /* application bytes flow */
    unsigned read_wants_wr : 1;     /* SSL_read waits for the socket to be writable */
    unsigned write_wants_rd : 1;    /* SSL_write waits for the socket to be readable */
    unsigned plain_http : 1;        /* the handshake met a plain HTTP request */
    unsigned ktls : 2;              /* LG_KTLS_TX | LG_KTLS_RX: the kernel holds those keys */
    unsigned long code;             /* OpenSSL's packed error of a failed handshake, 0: none */
    int ssl_error;                  /* SSL_get_error() of a failed handshake without one */
} tls_stream_t;

static tls_stream_t *tls_of(const lg_stream_t *s)
{
    return (tls_stream_t *)s->impl;
}

/* At most this many TLS streams keep their record buffers (about 34 KiB each) between uses. */
#define LG_TLS_HELD_MAX 64

/*
 * Record buffers (16 KiB and more each way) are kept while a connection is active rather than
 * freed after each drained read and flushed write (SSL_MODE_RELEASE_BUFFERS), which cost a
 * malloc and a free of each per request; lg_stream_tls_trim() frees those of streams quiet for
 * a while. The streams that may hold buffers form one list per process, least recently active
 * first, like the buffer and pipe free lists (core/buf.h).
 */
static struct {
    tls_stream_t *head, *tail;
    unsigned n;
} held;

static void held_unlink(tls_stream_t *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        held.head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    else
        held.tail = t->prev;
    t->prev = t->next = NULL;
    t->held = 0;
    held.n--;
}

/* The least recently active stream gives its buffers back now. */
static void held_release_oldest(void)
{
    tls_stream_t *t = held.head;

    held_unlink(t);
    SSL_free_buffers(t->ssl); /* does nothing when bytes wait in them */
}

/* The stream is active now: it goes to the tail of the list. */
static void touch(tls_stream_t *t)
{
    t->active = lg_now;
    if (t->held) {
        if (t == held.tail)
            return;
        held_unlink(t);
    } else if (held.n >= LG_TLS_HELD_MAX) {
        held_release_oldest(); /* a burst of connections never holds more than this many */
    }
    t->prev = held.tail;
    if (held.tail != NULL)
        held.tail->next = t;
    else
        held.head = t;
    held.tail = t;
    t->held = 1;
    held.n++;
}

unsigned lg_stream_tls_trim(lg_msec_t quiet)
{
    unsigned n = 0;

    for (; held.head != NULL && held.head->active + quiet <= lg_now; n++)
        held_release_oldest();
    return n;
}

/* ---- the BIO: the socket through sock.h, so its flags stay exact */

static int bio_read(BIO *b, char *buf, int len)
{
    tls_stream_t *t = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    if (!(t->raw.flags & LG_SOCK_RD)) {
        BIO_set_retry_read(b);
        return -1;
    }
    n = lg_sock_read(&t->raw, buf, (size_t)len);
    if (n == LG_AGAIN) {
        BIO_set_retry_read(b);
        return -1;
    }
    return (int)n; /* 0: EOF; LG_ERR (-1): a failed read, errno kept */
}

static int bio_write(BIO *b, const char *buf, int len)
{
    tls_stream_t *t = BIO_get_data(b);
    struct iovec iov = {(void *)(uintptr_t)buf, (size_t)len};
    ssize_t n;

    BIO_clear_retry_flags(b);
    if (!(t->raw.flags & LG_SOCK_WR)) {
        BIO_set_retry_write(b);
        return -1;
    }
    n = lg_sock_writev(&t->raw, &iov, 1);
    if (n == 0) {
        BIO_set_retry_write(b);
        return -1;
    }
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    LG_UNUSED(b);
    LG_UNUSED(num);
    LG_UNUSED(ptr);
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nothing is buffered in the BIO */
}

static BIO_METHOD *bio_method(void)
{
    static BIO_METHOD *m;

    if (m == NULL && (m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "lg")) != NULL) {
        BIO_meth_set_read(m, bio_read);
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_ctrl(m, bio_ctrl);
    }
    return m;
}

/*
 * One BIO serves every TLS stream of the process (a BIO and its lock cost about 200 bytes a
 * connection, 1.5% of an idle one): a worker makes one OpenSSL call at a time, and the stream
 * making it points the BIO at itself first (io_ssl). The process keeps one reference, each
 * TLS object takes its own (SSL_set_bio).
 */
static BIO *shared_bio;

static BIO *bio_shared(void)
{
    BIO_METHOD *m;

    if (shared_bio == NULL && (m = bio_method()) != NULL && (shared_bio = BIO_new(m)) != NULL)
        BIO_set_init(shared_bio, 1);
    return shared_bio;
}

/* The TLS object of `t`, for a call that may read or write the socket. */
static SSL *io_ssl(tls_stream_t *t)
{
    if (shared_bio != NULL)
        BIO_set_data(shared_bio, t);
    return t->ssl;
}

/* ---- readiness */

/* The stream's RD and WR from the socket's and what the TLS object waits for. */
static void flags_update(lg_stream_t *s)
{
    tls_stream_t *t = tls_of(s);
    uint32_t raw = t->raw.flags, f = s->sock.flags & ~(uint32_t)(LG_SOCK_RD | LG_SOCK_WR);

    f |= raw & (LG_SOCK_HUP | LG_SOCK_ERR);
    /* Splice from the socket only while OpenSSL holds no decrypted byte (they come first). */
    f &= ~(uint32_t)LG_STREAM_SPLICE_RD;
    if ((t->ktls & LG_KTLS_RX) && !SSL_has_pending(t->ssl))
        f |= LG_STREAM_SPLICE_RD;
    if (t->handshaken) {
        if ((raw & LG_SOCK_RD) || SSL_has_pending(t->ssl) ||
            (t->read_wants_wr && (raw & LG_SOCK_WR)))
            f |= LG_SOCK_RD;
        if ((raw & LG_SOCK_WR) || (t->write_wants_rd && (raw & LG_SOCK_RD)))
            f |= LG_SOCK_WR;
    }
    s->sock.flags = f;
}

static void tls_events(lg_stream_t *s, uint32_t ev)
{
    lg_sock_events(&tls_of(s)->raw, ev);
    flags_update(s);
}

/* Keep OpenSSL's reason for a failed handshake, and whether it met plain HTTP. */
static void handshake_failed(tls_stream_t *t, int code)
{
    unsigned long e = ERR_peek_last_error();

    t->code = e;
    t->ssl_error = code;
    if (e != 0 && ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST)
        t->plain_http = 1;
    ERR_clear_error();
}

static int tls_handshake(lg_stream_t *s)
{
    tls_stream_t *t = tls_of(s);
    int r, code;

    if (t->handshaken)
        return LG_OK;
    touch(t);
    r = SSL_do_handshake(io_ssl(t));
    if (r == 1) {
        t->handshaken = 1;
        s->sock.flags &= ~(uint32_t)LG_STREAM_HANDSHAKE;
        /* A stapled OCSP response has been sent: OpenSSL would keep its copy (up to 4 KiB)
         * for the connection's life. Nothing sends it again (no renegotiation). */
        SSL_set_tlsext_status_ocsp_resp(t->ssl, NULL, 0);
        /* Which keys the kernel took (OpenSSL tried when SSL_OP_ENABLE_KTLS is set): what it
         * encrypts may be spliced in, what it decrypts spliced out (flags_update). */
        if (BIO_get_ktls_send(SSL_get_wbio(t->ssl))) {
            t->ktls |= LG_KTLS_TX;
            s->sock.flags |= LG_STREAM_SPLICE_WR;
        }
        if (BIO_get_ktls_recv(SSL_get_rbio(t->ssl)))
            t->ktls |= LG_KTLS_RX;
        flags_update(s);
        return LG_OK;
    }
    code = SSL_get_error(t->ssl, r);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
        t->raw.flags &= ~(uint32_t)(code == SSL_ERROR_WANT_READ ? LG_SOCK_RD : LG_SOCK_WR);
        return LG_AGAIN;
    }
    handshake_failed(t, code);
    s->sock.flags |= LG_SOCK_ERR;
    return LG_ERR;
}

static ssize_t tls_read(lg_stream_t *s, void *buf, size_t len)
{
    tls_stream_t *t = tls_of(s);
    size_t n = 0;
    int code;

    t->read_wants_wr = 0;
    touch(t);
    if (SSL_read_ex(io_ssl(t), buf, len, &n) == 1) {
        flags_update(s); /* RD stays while the socket or the TLS object may have more */
        return (ssize_t)n;
    }
    code = SSL_get_error(t->ssl, 0);
    switch (code) {
    case SSL_ERROR_WANT_WRITE:
        t->read_wants_wr = 1;
        /* fall through */
    case SSL_ERROR_WANT_READ:
        t->raw.flags &= ~(uint32_t)(code == SSL_ERROR_WANT_READ ? LG_SOCK_RD : LG_SOCK_WR);
        flags_update(s);
        s->sock.flags &= ~(uint32_t)LG_SOCK_RD;
        return LG_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        s->sock.flags |= LG_SOCK_EOF;
        return 0;
    default:
        t->code = ERR_peek_last_error(); /* an alert from the peer: lg_stream_tls_error() */
        ERR_clear_error();
        if (t->raw.flags & LG_SOCK_EOF) { /* closed without close_notify: an end all the same */
            s->sock.flags |= LG_SOCK_EOF;
            return 0;
        }
        s->sock.flags |= LG_SOCK_ERR;
        if (errno == 0 || errno == EAGAIN)
            errno = EPROTO;
        return LG_ERR;
    }
}

/* One SSL_write of buf[0..len) as far as it goes: bytes taken, or LG_ERR. */
static ssize_t tls_write(lg_stream_t *s, const char *buf, size_t len)
{
    tls_stream_t *t = tls_of(s);
    size_t off = 0;

    while (off < len) {
        size_t w = 0;
        int code;

        if (SSL_write_ex(io_ssl(t), buf + off, len - off, &w) == 1) {
            off += w;
            continue;
        }
        code = SSL_get_error(t->ssl, 0);
        if (code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ) {
            t->write_wants_rd = code == SSL_ERROR_WANT_READ;
            t->raw.flags &= ~(uint32_t)(t->write_wants_rd ? LG_SOCK_RD : LG_SOCK_WR);
            flags_update(s);
            s->sock.flags &= ~(uint32_t)LG_SOCK_WR;
            return (ssize_t)off;
        }
        t->code = ERR_peek_last_error();
        ERR_clear_error();
        s->sock.flags |= LG_SOCK_ERR;
        if (errno == 0 || errno == EAGAIN)
            errno = EPIPE;
        return LG_ERR;
    }
    return (ssize_t)off;
}

/*
 * Small pieces (a response head and the first body bytes) are joined first: one record and one
 * send() rather than one per piece. A retry after a short write presents the same bytes again
 * (the pump's buffers have not moved on), as OpenSSL requires.
 */
static ssize_t tls_writev(lg_stream_t *s, const struct iovec *iov, int iovcnt)
{
    static char joined[LG_TLS_JOIN_MAX];
    size_t len = 0;
    ssize_t total = 0;

    tls_of(s)->write_wants_rd = 0;
    touch(tls_of(s));
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (iovcnt > 1 && len <= sizeof(joined)) {
        len = 0;
        for (int i = 0; i < iovcnt; i++) {
            memcpy(joined + len, iov[i].iov_base, iov[i].iov_len);
            len += iov[i].iov_len;
        }
        return tls_write(s, joined, len);
    }
    for (int i = 0; i < iovcnt; i++) {
        ssize_t w = tls_write(s, iov[i].iov_base, iov[i].iov_len);

        if (w < 0)
            return LG_ERR;
        total += w;
        if ((size_t)w < iov[i].iov_len)
            break;
    }
    return total;
}

/* close_notify, then FIN. A close_notify that cannot go out at once is not waited for. */
static int tls_shutdown(lg_stream_t *s)
{
    tls_stream_t *t = tls_of(s);

    if (t->handshaken && !(s->sock.flags & LG_SOCK_ERR))
        SSL_shutdown(io_ssl(t));
    ERR_clear_error();
    return shutdown(s->sock.io.fd, SHUT_WR) == 0 ? LG_OK : LG_ERR;
}

static void tls_release(lg_stream_t *s)
{
    tls_stream_t *t = tls_of(s);

    if (t->held)
        held_unlink(t);
    /* OpenSSL makes the session of a connection freed without a close_notify unresumable: a
     * healthy connection that simply ends keeps it (a backend's, resumed by the next one). */
    if (t->handshaken && !(s->sock.flags & LG_SOCK_ERR))
        SSL_set_shutdown(t->ssl, SSL_get_shutdown(t->ssl) | SSL_SENT_SHUTDOWN);
    SSL_free(t->ssl);
    free(t);
}

/*
 * A kernel TLS socket refuses to splice a record that is not application data (an alert such as
 * close_notify, a KeyUpdate): Linux says EINVAL (some versions EIO). SSL_read takes it (recvmsg
 * with its record type) and acts on it; splicing resumes after it (flags_update).
 */
static int tls_splice_refused(lg_stream_t *s)
{
    tls_stream_t *t = tls_of(s);

    if (!(t->ktls & LG_KTLS_RX) || (errno != EINVAL && errno != EIO))
        return 0;
    s->sock.flags &= ~(uint32_t)(LG_SOCK_ERR | LG_STREAM_SPLICE_RD);
    s->sock.flags |= LG_SOCK_RD;
    t->raw.flags |= LG_SOCK_RD;
    return 1;
}

static const lg_stream_ops_t tls_ops = {
    .name = "tls",
    .handshake = tls_handshake,
    .read = tls_read,
    .writev = tls_writev,
    .shutdown = tls_shutdown,
    .events = tls_events,
    .release = tls_release,
    .splice_refused = tls_splice_refused,
};

/* OpenSSL reads and writes the socket through our BIO, or itself for kernel TLS. */
static int attach(tls_stream_t *t, int fd, int ktls)
{
    BIO *bio;

    if (ktls)
        return SSL_set_fd(t->ssl, fd) == 1 ? LG_OK : LG_ERR;
    bio = bio_shared();
    if (bio == NULL || !BIO_up_ref(bio))
        return LG_ERR;
    SSL_set_bio(t->ssl, bio, bio);
    return LG_OK;
}

static int tls_init(lg_stream_t *s, int fd, lg_io_handler_t handler, SSL *ssl, int ktls)
{
    tls_stream_t *t = calloc(1, sizeof(*t));

    if (t != NULL) {
        t->ssl = ssl;
        t->raw.io.fd = fd;
    }
    if (t == NULL || attach(t, fd, ktls) != LG_OK) {
        lg_log(LG_LOG_ERR, "out of memory for a TLS connection");
        free(t);
        SSL_free(ssl);
        return LG_ERR;
    }
    t->impl.ops = &tls_ops;
    /* Read ahead: one read takes what the socket has (not a record header, then its body), so a
     * short read tells the socket is drained, as on a plain socket; the rest waits in `ssl`.
     * Not with kernel TLS: the kernel takes the receive keys only when OpenSSL holds no part of
     * a record read past the handshake (OpenSSL then stays in user space for reading). */
    SSL_set_read_ahead(ssl, !ktls);
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_clear_mode(ssl, SSL_MODE_RELEASE_BUFFERS); /* freed when quiet: lg_stream_tls_trim */
    SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    s->sock.io.fd = fd;
    s->sock.io.handler = handler;
    /* no LG_STREAM_SPLICE: the bytes on the wire are not the stream's (unless kernel TLS) */
    s->sock.flags = LG_STREAM_HANDSHAKE;
    s->impl = &t->impl;
    return LG_OK;
}

int lg_stream_tls(lg_stream_t *s, int fd, lg_io_handler_t handler, SSL *ssl, int ktls)
{
    if (tls_init(s, fd, handler, ssl, ktls) != LG_OK)
        return LG_ERR;
    SSL_set_accept_state(ssl);
    return LG_OK;
}

int lg_stream_tls_client(lg_stream_t *s, SSL *ssl, int ktls)
{
    uint32_t raw = s->sock.flags & (LG_SOCK_RD | LG_SOCK_WR | LG_SOCK_EOF | LG_SOCK_HUP);

    if (tls_init(s, s->sock.io.fd, s->sock.io.handler, ssl, ktls) != LG_OK)
        return LG_ERR;
    tls_of(s)->raw.flags = raw; /* the readiness seen so far: no event repeats it */
    SSL_set_connect_state(ssl);
    return LG_OK;
}

int lg_stream_tls_pending(const lg_stream_t *s)
{
    return s->impl->ops == &tls_ops && SSL_has_pending(tls_of(s)->ssl);
}

SSL *lg_stream_ssl(const lg_stream_t *s)
{
    return s->impl->ops == &tls_ops ? tls_of(s)->ssl : NULL;
}

int lg_stream_tls_plain_http(const lg_stream_t *s)
{
    return s->impl->ops == &tls_ops && tls_of(s)->plain_http;
}

const char *lg_stream_tls_error(const lg_stream_t *s, char *buf, size_t len)
{
    const tls_stream_t *t = tls_of(s);

    if (s->impl->ops != &tls_ops || (t->code == 0 && t->ssl_error == 0))
        snprintf(buf, len, "%s", "");
    else if (t->code != 0)
        ERR_error_string_n(t->code, buf, len);
    else if (t->ssl_error == SSL_ERROR_SYSCALL || t->ssl_error == SSL_ERROR_ZERO_RETURN)
        snprintf(buf, len, "%s",
                 (t->raw.flags & LG_SOCK_EOF) ? "the client closed the connection"
                                              : "connection error");
    else
        snprintf(buf, len, "SSL error %d", t->ssl_error);
    return buf;
}

unsigned lg_stream_tls_ktls(const lg_stream_t *s)
{
    return s->impl->ops == &tls_ops ? tls_of(s)->ktls : 0;
}

unsigned long lg_stream_tls_error_code(const lg_stream_t *s)
{
    return s->impl->ops == &tls_ops ? tls_of(s)->code : 0;
}
