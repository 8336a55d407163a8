/*
 * lg_test_http.c - raw HTTP/1.1 clients for the tests: connect to 127.0.0.1, send bytes, read
 * complete responses (Content-Length, chunked, or until close), never waiting longer than the
 * client's timeout for the next byte.
 *
 * The response reader is strict (CRLF line ends, a valid status line) so that a test sees
 * LG_HTTP_BAD when a proxy sends something a real client could misread.
 */
#include "lg_test.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define LG_CLIENT_BUF_MIN (16 * 1024)
#define LG_CLIENT_READ    (64 * 1024) /* room asked for before every recv */
#define LG_HEAD_MAX       (1024 * 1024)
#define LG_LINE_MAX       (64 * 1024)
#define LG_SEND_BLOCK     (64 * 1024)
#define LG_DEFAULT_CHUNK  8192

enum { LG_FILL_EOF = 0, LG_FILL_ERR = -1, LG_FILL_TIMEOUT = -2 };

struct lg_client {
    int fd;
    SSL *ssl; /* a TLS connection (lg_client_connect_tls), else NULL */
    SSL_CTX *ctx;
    int port;
    int timeout_ms;
    char *buf; /* received, not yet consumed: buf[start..end) */
    size_t start, end, cap;
    int eof; /* the server closed its side */
    int err; /* errno of a failed recv */
};

static ssize_t lg_tls_io(lg_client_t *c, char *p, size_t len, int writing);

/* ---- responses */

static void lg_resp_destroy(void *p)
{
    lg_http_response_t *r = p;
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->reason);
    free(r->head);
    free(r->body);
    free(r->trailers);
    free(r);
}

static lg_http_response_t *lg_resp_new(int error)
{
    lg_http_response_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        abort();
    r->error = error;
    r->content_length = -1;
    r->trailers = strdup("");
    r->head = strdup("");
    r->reason = strdup("");
    return lg_test_keep(r, lg_resp_destroy);
}

void lg_http_response_free(lg_http_response_t *r)
{
    lg_test_release(r);
}

const char *lg_http_header(const lg_http_response_t *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

size_t lg_http_header_count(const lg_http_response_t *r, const char *name)
{
    size_t i, n = 0;

    for (i = 0; i < r->nheaders; i++)
        n += strcasecmp(r->headers[i].name, name) == 0;
    return n;
}

const char *lg_http_error_name(int error)
{
    switch (error) {
    case LG_HTTP_OK:
        return "ok";
    case LG_HTTP_CONNECT:
        return "connect failed";
    case LG_HTTP_SEND:
        return "send failed";
    case LG_HTTP_TIMEOUT:
        return "timeout";
    case LG_HTTP_EOF:
        return "closed before the response was complete";
    case LG_HTTP_RESET:
        return "connection reset";
    case LG_HTTP_BAD:
        return "invalid response";
    default:
        return "?";
    }
}

/* ---- client connection */

static void lg_client_destroy(void *p)
{
    lg_client_t *c = p;

    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

/* Non-blocking connect to 127.0.0.1:port within timeout_ms; fd or -1 (errno set). */
static int lg_connect_nb(int port, int timeout_ms)
{
    struct sockaddr_in sin;
    struct pollfd pf;
    int fd, err = 0, one = 1;
    socklen_t el = sizeof(err);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        if (errno != EINPROGRESS)
            goto out_close;
        pf.fd = fd;
        pf.events = POLLOUT;
        if (poll(&pf, 1, timeout_ms) <= 0) {
            errno = ETIMEDOUT;
            goto out_close;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
            errno = err ? err : ECONNREFUSED;
            goto out_close;
        }
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;

out_close:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

lg_client_t *lg_client_connect(int port)
{
    lg_client_t *c;
    int fd;

    signal(SIGPIPE, SIG_IGN);
    fd = lg_connect_nb(port, lg_test_timeout_ms());
    if (fd < 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->fd = fd;
    c->port = port;
    c->timeout_ms = lg_test_timeout_ms();
    c->cap = LG_CLIENT_BUF_MIN;
    c->buf = malloc(c->cap);
    if (c->buf == NULL)
        abort();
    return lg_test_keep(c, lg_client_destroy);
}

/*
 * One TLS read or write on a non-blocking socket, shaped like recv/send: bytes (> 0), 0 at the
 * peer's close, -1 with errno EAGAIN (poll and call again) or another errno.
 */
static ssize_t lg_tls_io(lg_client_t *c, char *p, size_t len, int writing)
{
    size_t n = 0;
    int ok = writing ? SSL_write_ex(c->ssl, p, len, &n) : SSL_read_ex(c->ssl, p, len, &n);

    if (ok == 1)
        return (ssize_t)n;
    switch (SSL_get_error(c->ssl, 0)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0)
            return 0; /* closed without close_notify */
        return -1;
    default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

static char lg_tls_why[256];

const char *lg_client_tls_error(void)
{
    return lg_tls_why;
}

/* The handshake of a new TLS client connection, within the test timeout. */
static int lg_tls_handshake(lg_client_t *c)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)c->timeout_ms;

    for (;;) {
        int r = SSL_connect(c->ssl), code;
        struct pollfd pf = {.fd = c->fd};

        if (r == 1)
            return 0;
        code = SSL_get_error(c->ssl, r);
        if (code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE) {
            unsigned long e = ERR_peek_last_error();

            snprintf(lg_tls_why, sizeof(lg_tls_why), "%s",
                     e != 0 ? ERR_reason_error_string(e) : "connection closed");
            ERR_clear_error();
            return -1;
        }
        pf.events = code == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        if (lg_now_ms() >= deadline || poll(&pf, 1, (int)(deadline - lg_now_ms())) <= 0) {
            snprintf(lg_tls_why, sizeof(lg_tls_why), "handshake timed out");
            return -1;
        }
    }
}

/* The client side of a TLS connection per `o` on the connected `c->fd`: 0 or -1. */
static int lg_tls_setup(lg_client_t *c, const lg_tls_opts_t *o)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL)
        return -1;
    if (o->max_version != 0)
        SSL_CTX_set_max_proto_version(c->ctx, o->max_version);
    if (o->ca != NULL) {
        if (SSL_CTX_load_verify_locations(c->ctx, o->ca, NULL) != 1)
            return -1;
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    if (o->cert != NULL && (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert) != 1 ||
                            SSL_CTX_use_PrivateKey_file(c->ctx, o->key, SSL_FILETYPE_PEM) != 1))
        return -1;
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return -1;
    if (o->sni != NULL) {
        SSL_set_tlsext_host_name(c->ssl, o->sni);
        if (o->ca != NULL)
            SSL_set1_host(c->ssl, o->sni);
    }
    return lg_tls_handshake(c);
}

lg_client_t *lg_client_connect_tls(int port, const lg_tls_opts_t *o)
{
    lg_client_t *c = lg_client_connect(port);

    lg_tls_why[0] = '\0';
    if (c == NULL)
        return NULL;
    if (lg_tls_setup(c, o) != 0) {
        if (lg_tls_why[0] == '\0')
            snprintf(lg_tls_why, sizeof(lg_tls_why), "client setup failed");
        lg_client_close(c);
        return NULL;
    }
    return c;
}

int lg_tcp_connect_timeout(int port, int timeout_ms)
{
    int fd = lg_connect_nb(port, timeout_ms);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int flags, err;

    signal(SIGPIPE, SIG_IGN);
    if (fd < 0)
        return -1;
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

int lg_tcp_connect(int port)
{
    return lg_tcp_connect_timeout(port, lg_test_timeout_ms());
}

int lg_test_free_port_on(int type, const char *ip)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd, port = -1;

    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int lg_test_listen(int backlog, int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

#define LG_FULL_FILLERS  3   /* connections that fill an accept queue of backlog 0 */
#define LG_FULL_PROBE_MS 300 /* how long a connect to it is given to show that it hangs */

int lg_test_full_listener(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int fd = lg_test_listen(0, port), probe;

    cr_assert_geq(fd, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)*port);
    for (int i = 0; i < LG_FULL_FILLERS; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

        cr_assert_geq(c, 0);
        connect(c, (struct sockaddr *)&sin, sizeof(sin));
    }
    lg_sleep_ms(100);
    probe = lg_tcp_connect_timeout(*port, LG_FULL_PROBE_MS);
    if (probe >= 0) {
        close(probe);
        close(fd);
        cr_skip_test("cannot make a connect hang on this kernel (accept queue not full)");
    }
    return fd;
}

int lg_test_free_port(void)
{
    int port = lg_test_free_port_on(SOCK_STREAM, "127.0.0.1");

    cr_assert_gt(port, 0, "no free port on 127.0.0.1: %s", strerror(errno));
    return port;
}

int lg_client_fd(lg_client_t *c)
{
    return c ? c->fd : -1;
}

void lg_client_set_timeout(lg_client_t *c, int ms)
{
    if (c != NULL)
        c->timeout_ms = ms;
}

void lg_client_shutdown(lg_client_t *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL)
        SSL_shutdown(c->ssl); /* close_notify first */
    shutdown(c->fd, SHUT_WR);
}

void lg_client_close(lg_client_t *c)
{
    if (c != NULL)
        lg_test_release(c);
}

void lg_client_reset(lg_client_t *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    if (c == NULL)
        return;
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    lg_client_close(c);
}

int lg_client_send(lg_client_t *c, const void *data, size_t len)
{
    const char *p = data;

    if (c == NULL) {
        errno = ENOTCONN;
        return -1;
    }
    while (len > 0) {
        ssize_t n = c->ssl != NULL ? lg_tls_io(c, (char *)(uintptr_t)p, len, 1)
                                   : send(c->fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = c->fd, .events = POLLOUT};

            if (poll(&pf, 1, c->timeout_ms) <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            continue;
        }
        return -1;
    }
    return 0;
}

int lg_client_sendf(lg_client_t *c, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n, rc;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    rc = lg_client_send(c, s, (size_t)n);
    free(s);
    return rc;
}

int lg_client_send_pattern(lg_client_t *c, uint64_t off, uint64_t len)
{
    static char block[LG_SEND_BLOCK];

    while (len > 0) {
        size_t n = len < sizeof(block) ? (size_t)len : sizeof(block);

        lg_pattern_fill(block, off, n);
        if (lg_client_send(c, block, n) < 0)
            return -1;
        off += n;
        len -= n;
    }
    return 0;
}

int lg_client_send_chunked_pattern(lg_client_t *c, uint64_t len, size_t chunk)
{
    uint64_t off = 0;

    if (chunk == 0)
        chunk = LG_DEFAULT_CHUNK;
    while (off < len) {
        size_t n = len - off < chunk ? (size_t)(len - off) : chunk;

        if (lg_client_sendf(c, "%zx\r\n", n) < 0 || lg_client_send_pattern(c, off, n) < 0 ||
            lg_client_send(c, "\r\n", 2) < 0)
            return -1;
        off += n;
    }
    return lg_client_send(c, "0\r\n\r\n", 5);
}

int lg_client_send_pipelined(lg_client_t *c, const char *const *requests, size_t n)
{
    size_t i, len = 0;
    char *all, *p;
    int rc;

    for (i = 0; i < n; i++)
        len += strlen(requests[i]);
    all = malloc(len + 1);
    if (all == NULL)
        abort();
    for (p = all, i = 0; i < n; i++) {
        size_t l = strlen(requests[i]);

        memcpy(p, requests[i], l);
        p += l;
    }
    rc = lg_client_send(c, all, len);
    free(all);
    return rc;
}

/*
 * Receive more bytes into the client's buffer: 1 when some arrived, LG_FILL_EOF,
 * LG_FILL_ERR (c->err) or LG_FILL_TIMEOUT.
 */
static int lg_fill(lg_client_t *c, int timeout_ms)
{
    if (c->start == c->end)
        c->start = c->end = 0;
    if (c->cap - c->end < LG_CLIENT_READ) {
        if (c->start > 0) {
            memmove(c->buf, c->buf + c->start, c->end - c->start);
            c->end -= c->start;
            c->start = 0;
        }
        if (c->cap - c->end < LG_CLIENT_READ) {
            size_t cap = c->cap ? c->cap * 2 : LG_CLIENT_BUF_MIN;
            char *b;

            while (cap - c->end < LG_CLIENT_READ)
                cap *= 2;
            b = realloc(c->buf, cap);
            if (b == NULL)
                abort();
            c->buf = b;
            c->cap = cap;
        }
    }
    for (;;) {
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        ssize_t n;
        int rc;

        if (c->eof)
            return LG_FILL_EOF;
        if (c->err)
            return LG_FILL_ERR;
        /* decrypted bytes may wait in the TLS object with nothing on the socket */
        rc = c->ssl != NULL && SSL_has_pending(c->ssl) ? 1 : poll(&pf, 1, timeout_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            return LG_FILL_TIMEOUT;
        n = c->ssl != NULL ? lg_tls_io(c, c->buf + c->end, c->cap - c->end, 0)
                           : recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
        if (n > 0) {
            c->end += (size_t)n;
            return 1;
        }
        if (n == 0) {
            c->eof = 1;
            return LG_FILL_EOF;
        }
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            continue;
        c->err = errno;
        return LG_FILL_ERR;
    }
}

static int lg_fill_error(int rc)
{
    return rc == LG_FILL_EOF ? LG_HTTP_EOF : rc == LG_FILL_ERR ? LG_HTTP_RESET : LG_HTTP_TIMEOUT;
}

static char *lg_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d == NULL)
        abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void lg_trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* Parse the head h[0..len) (ends in CRLF CRLF) into r. Returns 0 or -1 (not valid HTTP/1.x). */
static int lg_parse_head(lg_http_response_t *r, const char *h, size_t len)
{
    const char *end = h + len - 2, *p = h, *eol, *q;
    size_t cap = 0;

    free(r->head);
    r->head = lg_strndup(h, len);
    for (q = h; q < h + len; q++)
        if (*q == '\n' && (q == h || q[-1] != '\r'))
            return -1;
    eol = strstr(r->head, "\r\n") - r->head + h;
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ' ||
        p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
        (eol - p > 12 && p[12] != ' '))
        return -1;
    r->minor = p[7] - '0';
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    free(r->reason);
    r->reason = lg_strndup(p + (eol - p > 12 ? 13 : 12), (size_t)(eol - p > 12 ? eol - p - 13 : 0));
    for (p = eol + 2; p < end; p = eol + 2) {
        const char *colon, *v, *ve;
        size_t i;

        eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p)
            return -1;
        for (q = p; q < colon; q++)
            if (*q == ' ' || *q == '\t')
                return -1;
        v = colon + 1;
        ve = eol;
        lg_trim(&v, &ve);
        if (r->nheaders == cap) {
            lg_http_header_t *hv;

            cap = cap ? cap * 2 : 16;
            hv = realloc(r->headers, cap * sizeof(*hv));
            if (hv == NULL)
                abort();
            r->headers = hv;
        }
        i = r->nheaders++;
        r->headers[i].name = lg_strndup(p, (size_t)(colon - p));
        r->headers[i].value = lg_strndup(v, (size_t)(ve - v));
    }
    return 0;
}

static void lg_resp_clear_head(lg_http_response_t *r)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    r->headers = NULL;
    r->nheaders = 0;
    r->status = 0;
}

struct lg_sink {
    lg_http_response_t *r;
    int store;
    size_t cap;
};

static void lg_sink_put(struct lg_sink *s, const char *p, size_t n)
{
    lg_http_response_t *r = s->r;

    r->body_sum = lg_checksum(r->body_sum, p, n);
    if (s->store) {
        if (r->body_len + n + 1 > s->cap) {
            size_t cap = s->cap ? s->cap : 4096;
            char *b;

            while (cap < r->body_len + n + 1)
                cap *= 2;
            b = realloc(r->body, cap);
            if (b == NULL)
                abort();
            r->body = b;
            s->cap = cap;
        }
        memcpy(r->body + r->body_len, p, n);
        r->body[r->body_len + n] = '\0';
    }
    r->body_len += n;
}

/* Take up to `want` buffered bytes (filling first if none): 1 ok, else an LG_FILL_ code. */
static int lg_take(lg_client_t *c, struct lg_sink *s, uint64_t *want)
{
    size_t n;

    if (c->start == c->end) {
        int rc = lg_fill(c, c->timeout_ms);

        if (rc <= 0)
            return rc;
    }
    n = c->end - c->start;
    if (n > *want)
        n = (size_t)*want;
    lg_sink_put(s, c->buf + c->start, n);
    c->start += n;
    *want -= n;
    return 1;
}

/* One CRLF-terminated line, without the CRLF, into line and len: LG_HTTP_OK or the error. */
static int lg_read_line(lg_client_t *c, const char **line, size_t *len)
{
    for (;;) {
        char *e = memmem(c->buf + c->start, c->end - c->start, "\r\n", 2);
        int rc;

        if (e != NULL) {
            *line = c->buf + c->start;
            *len = (size_t)(e - *line);
            c->start += *len + 2;
            return LG_HTTP_OK;
        }
        if (c->end - c->start > LG_LINE_MAX)
            return LG_HTTP_BAD;
        rc = lg_fill(c, c->timeout_ms);
        if (rc <= 0)
            return lg_fill_error(rc);
    }
}

static int lg_read_chunked(lg_client_t *c, struct lg_sink *s)
{
    lg_http_response_t *r = s->r;

    for (;;) {
        const char *line;
        size_t len, i;
        uint64_t size = 0;
        int rc = lg_read_line(c, &line, &len);

        if (rc != LG_HTTP_OK)
            return rc;
        for (i = 0; i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'; i++) {
            char ch = line[i];
            int v = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;

            if (v < 0 || i >= 15)
                return LG_HTTP_BAD;
            size = size * 16 + (uint64_t)v;
        }
        if (i == 0)
            return LG_HTTP_BAD;
        if (size == 0)
            break;
        while (size > 0) {
            rc = lg_take(c, s, &size);
            if (rc != 1)
                return lg_fill_error(rc);
        }
        rc = lg_read_line(c, &line, &len);
        if (rc != LG_HTTP_OK)
            return rc;
        if (len != 0)
            return LG_HTTP_BAD;
    }
    for (;;) { /* trailers, then the empty line */
        const char *line;
        size_t len, old;
        int rc = lg_read_line(c, &line, &len);
        char *t;

        if (rc != LG_HTTP_OK)
            return rc;
        if (len == 0)
            return LG_HTTP_OK;
        old = strlen(r->trailers);
        t = realloc(r->trailers, old + len + 3);
        if (t == NULL)
            abort();
        memcpy(t + old, line, len);
        memcpy(t + old + len, "\r\n", 3);
        r->trailers = t;
    }
}

lg_http_response_t *lg_client_read(lg_client_t *c, unsigned flags)
{
    lg_http_response_t *r = lg_resp_new(LG_HTTP_OK);
    struct lg_sink sink = {.r = r, .store = !(flags & LG_READ_DISCARD), .cap = 0};
    const char *te, *cl;
    int rc;

    if (c == NULL) {
        r->error = LG_HTTP_CONNECT;
        return r;
    }
    r->body_sum = LG_CHECKSUM_INIT;
    for (;;) {
        char *e;
        size_t hl;

        while ((e = memmem(c->buf + c->start, c->end - c->start, "\r\n\r\n", 4)) == NULL) {
            if (c->end - c->start > LG_HEAD_MAX) {
                r->error = LG_HTTP_BAD;
                break;
            }
            rc = lg_fill(c, c->timeout_ms);
            if (rc <= 0) {
                r->error = lg_fill_error(rc);
                break;
            }
        }
        if (e == NULL) { /* keep what came for the test to look at */
            free(r->head);
            r->head = lg_strndup(c->buf + c->start, c->end - c->start);
            c->start = c->end;
            goto out;
        }
        hl = (size_t)(e + 4 - (c->buf + c->start));
        rc = lg_parse_head(r, c->buf + c->start, hl);
        c->start += hl;
        if (rc < 0) {
            r->error = LG_HTTP_BAD;
            goto out;
        }
        if (r->status < 200 && r->status != 101 && !(flags & LG_READ_INTERIM)) {
            r->interim++;
            lg_resp_clear_head(r);
            continue;
        }
        break;
    }

    if (sink.store)
        r->body = strdup("");
    te = lg_http_header(r, "Transfer-Encoding");
    cl = lg_http_header(r, "Content-Length");
    if (cl != NULL) {
        char *end;

        r->content_length = strtoll(cl, &end, 10);
        if (*cl == '\0' || *end != '\0' || r->content_length < 0) {
            r->error = LG_HTTP_BAD;
            goto out;
        }
    }
    if (te != NULL) {
        size_t tl = strlen(te);

        r->chunked = tl >= 7 && strcasecmp(te + tl - 7, "chunked") == 0;
    }
    if ((flags & LG_READ_HEAD) || r->status < 200 || r->status == 204 || r->status == 304) {
        r->complete = 1;
    } else if (r->chunked) {
        r->error = lg_read_chunked(c, &sink);
        r->complete = r->error == LG_HTTP_OK;
    } else if (te == NULL && r->content_length >= 0) {
        uint64_t want = (uint64_t)r->content_length;

        while (want > 0) {
            rc = lg_take(c, &sink, &want);
            if (rc != 1) {
                r->error = lg_fill_error(rc);
                break;
            }
        }
        r->complete = want == 0;
    } else { /* delimited by close */
        uint64_t want = UINT64_MAX;

        for (;;) {
            rc = lg_take(c, &sink, &want);
            if (rc == LG_FILL_EOF) {
                r->complete = 1;
                break;
            }
            if (rc != 1) {
                r->error = lg_fill_error(rc);
                break;
            }
        }
    }
out:
    r->closed = c->eof;
    return r;
}

/* Does the CRLF-separated header block `h` have a field `name`? */
static int lg_has_header(const char *h, const char *name)
{
    size_t nl = strlen(name);
    const char *p = h;

    while (p != NULL && *p != '\0') {
        while (*p == '\r' || *p == '\n')
            p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return 1;
        p = strchr(p, '\n');
    }
    return 0;
}

static char *lg_build_request(lg_client_t *c, const char *method, const char *path,
                              const char *extra, const void *body, size_t body_len)
{
    char *req, host[48] = "", length[48] = "";
    const char *sep = "";
    size_t el;
    int n;

    if (extra == NULL)
        extra = "";
    el = strlen(extra);
    if (el > 0 && extra[el - 1] != '\n')
        sep = "\r\n";
    if (!lg_has_header(extra, "host"))
        snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", c->port);
    if (body != NULL && !lg_has_header(extra, "content-length") &&
        !lg_has_header(extra, "transfer-encoding"))
        snprintf(length, sizeof(length), "Content-Length: %zu\r\n", body_len);
    n = asprintf(&req, "%s %s HTTP/1.1\r\n%s%s%s%s\r\n", method, path, host, extra, sep, length);
    if (n < 0)
        abort();
    return req;
}

lg_http_response_t *lg_client_request(lg_client_t *c, const char *method, const char *path,
                                      const char *extra_headers, const void *body, size_t body_len)
{
    char *req;
    int rc;

    if (c == NULL)
        return lg_resp_new(LG_HTTP_CONNECT);
    req = lg_build_request(c, method, path, extra_headers, body, body_len);
    rc = lg_client_send(c, req, strlen(req));
    free(req);
    if (rc == 0 && body != NULL && body_len > 0)
        rc = lg_client_send(c, body, body_len);
    if (rc < 0) {
        /* the server may have answered (and closed) early: read what it said */
        lg_http_response_t *r = lg_client_read(c, 0);

        if (r->status == 0)
            r->error = LG_HTTP_SEND;
        return r;
    }
    return lg_client_read(c, strcmp(method, "HEAD") == 0 ? LG_READ_HEAD : 0);
}

char *lg_client_read_until_close(lg_client_t *c, size_t *len)
{
    size_t n;
    char *all;

    if (c == NULL) {
        if (len != NULL)
            *len = 0;
        return lg_test_keep(strdup(""), NULL);
    }
    while (lg_fill(c, c->timeout_ms) > 0)
        ;
    n = c->end - c->start;
    all = lg_strndup(c->buf + c->start, n);
    c->start = c->end;
    if (len != NULL)
        *len = n;
    return lg_test_keep(all, NULL);
}

int lg_client_wait_close(lg_client_t *c, int timeout_ms)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    if (c == NULL)
        return 1;
    for (;;) {
        uint64_t now = lg_now_ms();
        int rc;

        c->start = c->end;
        if (c->eof || c->err)
            return 1;
        if (now >= deadline)
            return 0;
        rc = lg_fill(c, (int)(deadline - now));
        if (rc == LG_FILL_EOF || rc == LG_FILL_ERR)
            return 1;
        if (rc == LG_FILL_TIMEOUT)
            return 0;
    }
}

/* ---- one-shot helpers */

lg_http_response_t *lg_http_request(int port, const char *method, const char *path,
                                    const char *extra_headers, const void *body, size_t body_len)
{
    lg_client_t *c = lg_client_connect(port);
    lg_http_response_t *r;
    char *extra;

    if (c == NULL)
        return lg_resp_new(LG_HTTP_CONNECT);
    if (extra_headers == NULL)
        extra_headers = "";
    if (lg_has_header(extra_headers, "connection")) {
        extra = strdup(extra_headers);
    } else {
        size_t el = strlen(extra_headers);

        if (asprintf(&extra, "%s%sConnection: close\r\n", extra_headers,
                     el > 0 && extra_headers[el - 1] != '\n' ? "\r\n" : "") < 0)
            abort();
    }
    r = lg_client_request(c, method, path, extra, body, body_len);
    free(extra);
    lg_client_close(c);
    return r;
}

lg_http_response_t *lg_http_get(int port, const char *path, const char *extra_headers)
{
    return lg_http_request(port, "GET", path, extra_headers, NULL, 0);
}

void lg_http_pipeline(int port, const char *const *requests, size_t n, lg_http_response_t **out)
{
    lg_client_t *c = lg_client_connect(port);
    size_t i;

    if (c == NULL || lg_client_send_pipelined(c, requests, n) < 0) {
        for (i = 0; i < n; i++)
            out[i] = lg_resp_new(c == NULL ? LG_HTTP_CONNECT : LG_HTTP_SEND);
        lg_client_close(c);
        return;
    }
    for (i = 0; i < n; i++)
        out[i] = lg_client_read(c, strncmp(requests[i], "HEAD ", 5) == 0 ? LG_READ_HEAD : 0);
    lg_client_close(c);
}

/* ---- lg-origin specifics */

int lg_origin_stats(int port, lg_origin_stats_t *st)
{
    lg_http_response_t *r = lg_http_get(port, "/stats", NULL);
    int rc = -1;

    memset(st, 0, sizeof(*st));
    if (r->status == 200 && r->body != NULL &&
        sscanf(r->body, "connections=%ld requests=%ld active=%ld", &st->connections, &st->requests,
               &st->active) == 3)
        rc = 0;
    lg_http_response_free(r);
    return rc;
}

uint64_t lg_pattern_checksum(uint64_t len)
{
    static char pattern[LG_PATTERN_PERIOD + LG_SEND_BLOCK];
    uint64_t sum = LG_CHECKSUM_INIT, off = 0;

    if (pattern[0] == '\0')
        lg_pattern_fill(pattern, 0, sizeof(pattern));
    while (off < len) {
        size_t n = len - off < LG_SEND_BLOCK ? (size_t)(len - off) : LG_SEND_BLOCK;

        sum = lg_checksum(sum, pattern + off % LG_PATTERN_PERIOD, n);
        off += n;
    }
    return sum;
}

char *lg_echo_field(const char *echo, const char *key)
{
    size_t kl = strlen(key);
    const char *p = echo;

    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');

        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
            size_t n = eol ? (size_t)(eol - p - (ptrdiff_t)kl - 1) : strlen(p + kl + 1);

            return lg_test_keep(lg_strndup(p + kl + 1, n), NULL);
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* The value of the index-th echoed header `name`, or NULL; *count gets how many there are. */
static char *lg_echo_find(const char *echo, const char *name, size_t *count)
{
    size_t nl = strlen(name);
    const char *p = echo;
    char *first = NULL;

    *count = 0;
    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');

        if (strncmp(p, "header ", 7) == 0 && strncasecmp(p + 7, name, nl) == 0 &&
            p[7 + nl] == ':') {
            const char *v = p + 8 + nl, *ve = eol ? eol : v + strlen(v);

            if (++*count == 1) {
                lg_trim(&v, &ve);
                first = lg_strndup(v, (size_t)(ve - v));
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    return first;
}

char *lg_echo_header(const char *echo, const char *name)
{
    size_t n;

    return lg_test_keep(lg_echo_find(echo, name, &n), NULL);
}

size_t lg_echo_header_count(const char *echo, const char *name)
{
    size_t n;

    free(lg_echo_find(echo, name, &n));
    return n;
}
