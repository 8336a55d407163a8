/*
 * tls_client.c - TLS load client for bench/tls.sh (OpenSSL, the same library the proxies use).
 *
 *   tls_client hs   HOST:PORT SECONDS CONNS new|resume
 *   tls_client bulk HOST:PORT SECONDS PATH
 *   tls_client idle HOST:PORT N
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
 * SIGINT, then prints "done ok=N".
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

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    stop = sig;
}

static int run_idle(int n)
{
    static char buf[65536];
    SSL **held = calloc((size_t)n, sizeof *held);
    int i, ok = 0, failed = 0;
    double t0 = now();
    struct rlimit rl;

    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    for (i = 0; i < n && !stop; i++) {
        held[ok] = open_tls();
        if (held[ok] && get(held[ok], "/", buf, sizeof buf) >= 0)
            ok++;
        else
            failed++;
    }
    printf("ready ok=%d failed=%d seconds=%.3f\n", ok, failed, now() - t0);
    fflush(stdout);
    while (!stop)
        pause();
    printf("done ok=%d\n", ok);
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
    if (strcmp(argv[1], "idle") == 0 && argc == 4)
        return run_idle(atoi(argv[3]));
    fprintf(stderr, "tls_client: bad arguments\n");
    return 2;
}
