/*
 * tls_client.c - TLS load client for bench/tls.sh (OpenSSL, the same library the proxies use).
 *
 *   tls_client hs   HOST:PORT SECONDS CONNS new|resume
 *   tls_client bulk HOST:PORT SECONDS PATH
 *   tls_client idle HOST:PORT N [h1|h2|h2c]
 *
 * hs: CONNS connections at a time from one epoll loop, each doing a TLS handshake, one
 * "GET / HTTP/1.1" with "Connection: close", reading the response until the server closes, then
 * closing and starting again, until SECONDS have passed. "new" never offers a session (every
 * handshake is a full one); "resume" offers the newest session ticket its slot received (the
 * first handshake of each slot is full). Prints
 *   RESULT handshakes=N reused=R errors=E seconds=S
 * bulk: one keep-alive connection, "GET PATH" again and again for SECONDS, each response read
 * whole (Content-Length) through SSL_read into a 64 KiB buffer and dropped. Prints
 *   RESULT requests=N bytes=B errors=E seconds=S
 * idle: N connections opened one after the other (handshake, one keep-alive "GET /", response
 * read), then held idle; prints "ready ok=N failed=F seconds=S" and holds them until SIGTERM or
 * SIGINT, then prints "done ok=N closed_by_peer=C" (C: those the server closed meanwhile).
 * h1 (the default) speaks HTTP/1.1 over TLS; h2 offers ALPN "h2" only and speaks HTTP/2 over
 * TLS; h2c speaks HTTP/2 with prior knowledge over plain TCP (bench/h2.sh). An HTTP/2 connection
 * counts as ok when the preface and SETTINGS exchange is complete both ways (each side has ACKed
 * the other's SETTINGS) and the response to one "GET /" (stream 1) has ended with status 200.
 * No certificate verification (the benchmark makes its own self-signed certificates); TLS 1.3
 * with OpenSSL's default groups (X25519 first), as curl or a browser would negotiate.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;
static SSL_CTX *ctx;
static const char close_req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int tcp_connect(int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0), one = 1;

    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!nonblock) { /* a server that stops answering fails the call instead of hanging it */
        struct timeval tv = {.tv_sec = 10};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---------------------------------------------------------------- hs: handshakes per second */
struct slot {
    int fd;
    int stage; /* 0 handshake, 1 write request, 2 read until close */
    int got200;
    SSL *ssl;
    SSL_SESSION *sess;
};

static long done_n, reused_n, err_n;

static int slot_start(struct slot *s, int ep, int resume)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET};

    s->fd = tcp_connect(1);
    if (s->fd < 0)
        return -1;
    s->ssl = SSL_new(ctx);
    SSL_set_fd(s->ssl, s->fd);
    SSL_set_connect_state(s->ssl);
    if (resume && s->sess)
        SSL_set_session(s->ssl, s->sess);
    s->stage = 0;
    s->got200 = 0;
    ev.data.ptr = s;
    return epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void slot_end(struct slot *s, int ok, int resume)
{
    if (ok) {
        done_n++;
        reused_n += SSL_session_reused(s->ssl);
        if (resume) {
            SSL_SESSION *n = SSL_get1_session(s->ssl);
            if (n && SSL_SESSION_is_resumable(n)) {
                SSL_SESSION_free(s->sess);
                s->sess = n;
            } else {
                SSL_SESSION_free(n);
            }
        }
    } else {
        err_n++;
    }
    /* the server closed first: without this SSL_free would mark the session not resumable */
    SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(s->ssl);
    close(s->fd);
    s->ssl = NULL;
}

/* Runs the slot as far as it goes; 1 when its connection is finished (ok or not), 0 to wait. */
static int slot_step(struct slot *s, int *ok)
{
    char buf[16384];
    int r;

    for (;;) {
        if (s->stage == 0)
            r = SSL_do_handshake(s->ssl);
        else if (s->stage == 1)
            r = SSL_write(s->ssl, close_req, (int)sizeof close_req - 1);
        else
            r = SSL_read(s->ssl, buf, sizeof buf);
        if (r > 0) {
            if (s->stage == 2 && !s->got200)
                s->got200 = r >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0;
            if (s->stage < 2)
                s->stage++;
            continue;
        }
        switch (SSL_get_error(s->ssl, r)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return 0;
        case SSL_ERROR_ZERO_RETURN:
            *ok = s->stage == 2 && s->got200;
            return 1;
        default:
            *ok = s->stage == 2 && s->got200 && ERR_peek_error() == 0;
            ERR_clear_error();
            return 1;
        }
    }
}

static int run_hs(double secs, int conns, int resume)
{
    struct slot *slots = calloc((size_t)conns, sizeof *slots);
    struct epoll_event evs[256];
    int ep = epoll_create1(0), i, n, ok, active = 0;
    double t0 = now(), end = t0 + secs;

    for (i = 0; i < conns; i++)
        if (slot_start(&slots[i], ep, resume) == 0)
            active++;
    while (active > 0) {
        n = epoll_wait(ep, evs, 256, 1000);
        for (i = 0; i < n; i++) {
            struct slot *s = evs[i].data.ptr;
            if (!s->ssl || !slot_step(s, &ok))
                continue;
            slot_end(s, ok, resume);
            if (now() >= end || slot_start(s, ep, resume) != 0)
                active--;
        }
        if (now() > end + 10) /* a stuck connection: give up on it */
            break;
    }
    printf("RESULT handshakes=%ld reused=%ld errors=%ld seconds=%.3f\n", done_n, reused_n, err_n,
           now() - t0);
    return 0;
}

/* ---------------------------------------------------------------- blocking helpers */
static SSL *open_tls(void)
{
    int fd = tcp_connect(0);
    SSL *ssl;

    if (fd < 0)
        return NULL;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

/* Sends GET PATH (keep-alive) and reads the whole 200 response; its body length, or -1. */
static long long get(SSL *ssl, const char *path, char *buf, int size)
{
    char req[512], *hend, *cl;
    int have = 0, r;
    long long left;

    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    if (SSL_write(ssl, req, (int)strlen(req)) <= 0)
        return -1;
    for (;;) {
        r = SSL_read(ssl, buf + have, size - 1 - have);
        if (r <= 0)
            return -1;
        have += r;
        buf[have] = '\0';
        hend = strstr(buf, "\r\n\r\n");
        if (hend)
            break;
        if (have >= size - 1)
            return -1;
    }
    cl = strcasestr(buf, "\r\ncontent-length:");
    if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || !cl || cl > hend)
        return -1;
    left = strtoll(cl + 17, NULL, 10);
    long long body = left;
    left -= have - (hend + 4 - buf);
    while (left > 0) {
        r = SSL_read(ssl, buf, size);
        if (r <= 0)
            return -1;
        left -= r;
    }
    return body;
}

static int run_bulk(double secs, const char *path)
{
    static char buf[65536];
    long long bytes = 0, b;
    long reqs = 0, errs = 0;
    double t0 = now();
    SSL *ssl = open_tls();

    while (ssl && now() - t0 < secs) {
        b = get(ssl, path, buf, sizeof buf);
        if (b < 0) {
            errs++;
            break;
        }
        bytes += b;
        reqs++;
    }
    printf("RESULT requests=%ld bytes=%lld errors=%ld seconds=%.3f\n", reqs, bytes,
           errs + (ssl == NULL), now() - t0);
    return 0;
}

/* ---------------------------------------------------------------- HTTP/2 (idle h2, h2c) */
struct conn {
    int fd;
    SSL *ssl;               /* NULL for h2c */
    unsigned char pend[64]; /* while idle: the start of a frame not read whole yet */
    int npend;
};

static int conn_write(struct conn *c, const void *p, int n)
{
    return c->ssl ? SSL_write(c->ssl, p, n) : (int)send(c->fd, p, (size_t)n, MSG_NOSIGNAL);
}

static int conn_read(struct conn *c, void *p, int n)
{
    return c->ssl ? SSL_read(c->ssl, p, n) : (int)recv(c->fd, p, (size_t)n, 0);
}

enum { F_DATA = 0, F_HEADERS = 1, F_SETTINGS = 4, F_GOAWAY = 7 };
enum { FL_ACK = 0x1, FL_END_STREAM = 0x1, FL_PADDED = 0x8, FL_PRIORITY = 0x20 };

/* The preface, an empty SETTINGS, a connection WINDOW_UPDATE to 15 MiB as Chrome sends, and
 * "GET /" on stream 1 (HPACK: :method GET, :path /, :scheme from the static table; :authority
 * "localhost" as a literal without indexing). */
static int h2_request(struct conn *c)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    unsigned char out[128],
        hdr[] = {0x82, 0x84, 0x86, 0x01, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'};
    int n = (int)sizeof preface - 1;

    memcpy(out, preface, (size_t)n);
    memcpy(out + n, "\0\0\0\x04\0\0\0\0\0", 9); /* SETTINGS, no parameters */
    n += 9;
    memcpy(out + n, "\0\0\x04\x08\0\0\0\0\0\0\xef\0\x01", 13); /* WINDOW_UPDATE +0xef0001 */
    n += 13;
    hdr[2] = c->ssl ? 0x87 : 0x86; /* :scheme https or http */
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = (unsigned char)sizeof hdr;
    out[n++] = F_HEADERS;
    out[n++] = 0x5; /* END_STREAM | END_HEADERS */
    memcpy(out + n, "\0\0\0\x01", 4);
    n += 4;
    memcpy(out + n, hdr, sizeof hdr);
    n += (int)sizeof hdr;
    return conn_write(c, out, n) == n ? 0 : -1;
}

/* One frame of stream 1 or 0 (the others are ignored); updates *state: bit 0 the server's
 * SETTINGS seen and ACKed, bit 1 our SETTINGS ACKed, bit 2 status 200, bit 3 the response ended.
 * -1 on GOAWAY or a failed write. */
static int h2_frame(struct conn *c, const unsigned char *f, unsigned len, int *state)
{
    static const unsigned char ack[] = {0, 0, 0, F_SETTINGS, FL_ACK, 0, 0, 0, 0};
    unsigned type = f[3], flags = f[4],
             sid =
                 ((unsigned)f[5] & 0x7f) << 24 | (unsigned)f[6] << 16 | (unsigned)f[7] << 8 | f[8];
    const unsigned char *p = f + 9;

    if (type == F_GOAWAY)
        return -1;
    if (type == F_SETTINGS && (flags & FL_ACK))
        *state |= 2;
    else if (type == F_SETTINGS) {
        if (conn_write(c, ack, (int)sizeof ack) != (int)sizeof ack)
            return -1;
        *state |= 1;
    }
    if (sid != 1 || (type != F_HEADERS && type != F_DATA))
        return 0;
    if (type == F_HEADERS) {
        p += (flags & FL_PADDED ? 1 : 0) + (flags & FL_PRIORITY ? 5 : 0);
        if (p < f + 9 + len && *p == 0x88) /* :status 200 from the static table */
            *state |= 4;
    }
    if (flags & FL_END_STREAM)
        *state |= 8;
    return 0;
}

/* The exchange on a new connection; 0 when complete (the connection is then idle), else -1. */
static int h2_exchange(struct conn *c)
{
    static unsigned char buf[65536];
    int have = 0, r, state = 0;
    unsigned len;

    if (h2_request(c) != 0)
        return -1;
    while (state != 15) {
        r = conn_read(c, buf + have, (int)sizeof buf - have);
        if (r <= 0)
            return -1;
        have += r;
        while (have >= 9 &&
               have >= 9 + (int)(len = (unsigned)buf[0] << 16 | (unsigned)buf[1] << 8 | buf[2])) {
            if (h2_frame(c, buf, len, &state) != 0)
                return -1;
            memmove(buf, buf + 9 + len, (size_t)have - 9 - len);
            have -= 9 + (int)len;
        }
        if (have == (int)sizeof buf)
            return -1; /* a frame larger than the default SETTINGS_MAX_FRAME_SIZE */
    }
    return 0;
}

/*
 * While idle, an HTTP/2 client still reads its connections, as a browser's network stack does:
 * frames the server sends (SETTINGS, WINDOW_UPDATE, PING, GOAWAY) are taken and SETTINGS
 * acknowledged (h2_frame); one round of poll over every connection.
 */
static void h2_idle_round(struct conn *held, int n)
{
    static struct pollfd pf[65536];
    unsigned char buf[4096];

    for (int i = 0; i < n && i < 65536; i++)
        pf[i] = (struct pollfd){.fd = held[i].fd, .events = POLLIN};
    if (poll(pf, (nfds_t)n, 200) <= 0)
        return;
    for (int i = 0; i < n && i < 65536; i++) {
        struct conn *c = &held[i];
        int r, have, state = 0;
        unsigned len;

        if (!(pf[i].revents & POLLIN) || c->fd < 0)
            continue;
        memcpy(buf, c->pend, (size_t)c->npend);
        r = conn_read(c, buf + c->npend, (int)sizeof buf - c->npend);
        if (r <= 0)
            continue; /* closed by the server: counted at the end */
        have = c->npend + r;
        while (have >= 9 &&
               have >= 9 + (int)(len = (unsigned)buf[0] << 16 | (unsigned)buf[1] << 8 | buf[2])) {
            h2_frame(c, buf, len, &state);
            memmove(buf, buf + 9 + len, (size_t)have - 9 - len);
            have -= 9 + (int)len;
        }
        c->npend = have <= (int)sizeof c->pend ? have : 0;
        memcpy(c->pend, buf, (size_t)c->npend);
    }
}

/* A new connection that has done one request: h1 and h2 over TLS, h2c over TCP; 0 or -1. */
static int idle_open(struct conn *c, const char *proto)
{
    static char buf[65536];
    const unsigned char *alpn;
    unsigned alen;

    c->ssl = NULL;
    c->fd = -1;
    if (strcmp(proto, "h2c") == 0) {
        c->fd = tcp_connect(0);
        return c->fd < 0 ? -1 : h2_exchange(c);
    }
    c->ssl = open_tls();
    if (!c->ssl)
        return -1;
    c->fd = SSL_get_fd(c->ssl);
    if (strcmp(proto, "h1") == 0)
        return get(c->ssl, "/", buf, sizeof buf) >= 0 ? 0 : -1;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
    if (alen != 2 || memcmp(alpn, "h2", 2) != 0)
        return -1;
    return h2_exchange(c);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    stop = sig;
}

static int run_idle(int n, const char *proto)
{
    struct conn *held = calloc((size_t)n, sizeof *held);
    int i, ok = 0, failed = 0, closed = 0;
    double t0 = now();
    struct rlimit rl;

    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    for (i = 0; i < n && !stop; i++) {
        if (idle_open(&held[ok], proto) == 0) {
            ok++;
            continue;
        }
        failed++;
        if (held[ok].ssl)
            SSL_free(held[ok].ssl);
        if (held[ok].fd >= 0)
            close(held[ok].fd);
    }
    printf("ready ok=%d failed=%d seconds=%.3f\n", ok, failed, now() - t0);
    fflush(stdout);
    while (!stop)
        if (strcmp(proto, "h1") == 0)
            pause();
        else
            h2_idle_round(held, ok);
    for (i = 0; i < ok; i++) {
        struct pollfd pf = {.fd = held[i].fd, .events = POLLRDHUP};
        closed += poll(&pf, 1, 0) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
    }
    printf("done ok=%d closed_by_peer=%d\n", ok - closed, closed);
    return 0;
}

int main(int argc, char **argv)
{
    char host[64], *colon;

    if (argc < 4 || !(colon = strrchr(argv[2], ':')) || colon - argv[2] >= (long)sizeof host) {
        fprintf(stderr, "usage: tls_client hs|bulk|idle HOST:PORT ...\n");
        return 2;
    }
    memcpy(host, argv[2], (size_t)(colon - argv[2]));
    host[colon - argv[2]] = '\0';
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    if (strcmp(argv[1], "hs") == 0 && argc == 6)
        return run_hs(atof(argv[3]), atoi(argv[4]), strcmp(argv[5], "resume") == 0);
    if (strcmp(argv[1], "bulk") == 0 && argc == 5)
        return run_bulk(atof(argv[3]), argv[4]);
    if (strcmp(argv[1], "idle") == 0 && (argc == 4 || argc == 5)) {
        const char *proto = argc == 5 ? argv[4] : "h1";

        if (strcmp(proto, "h2") == 0)
            SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3);
        else if (strcmp(proto, "h1") != 0 && strcmp(proto, "h2c") != 0)
            return 2;
        return run_idle(atoi(argv[3]), proto);
    }
    fprintf(stderr, "tls_client: bad arguments\n");
    return 2;
}
