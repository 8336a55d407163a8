/*
 * fuzz_h2.c - libFuzzer target for the HTTP/2 front (src/front/h2*.c) driven as a client would.
 *
 * One real worker, set up once as lg_worker_run sets it up (lg_worker_init, lg_worker_listen)
 * from a configuration loaded through lg_config_load: a plain listener with `http2: on`,
 * max_header_size 1k and max_concurrent_streams 8 (so that the limits are within the fuzzer's
 * reach), and one pool whose backend is a listening socket of this program on 127.0.0.1:0.
 *
 * Each input is one client connection. The first two bytes choose the circumstances, the rest
 * is what the client sends after the connection preface (which the target writes first).
 * Byte 0:
 *
 *   - bits 0-1: the backend. 0 answers every request head with a short 200, 1 with a 200
 *     whose chunked body (256 KiB) outgrows every window, 2 with a chunked 200 and trailers,
 *     3 closes without answering (the exchange fails: 502). Some request paths choose the
 *     answer themselves (fz_by_path: /204, /304, /100, /101, /close, /bad, /hop, /hang).
 *   - bits 2-4: how the client bytes arrive: all at once, or pieces of 1, 7, 9, 64, 512, 4096
 *     or 16384 bytes, one piece per round of the loop.
 *   - bit 5: the worker drains (every HTTP/2 connection gets GOAWAY) once half is sent.
 *   - bit 6: the client half-closes after its last byte (shutdown(SHUT_WR)) instead of staying
 *     open until the worker is idle.
 *   - bit 7: the client reads nothing until it has sent everything: lifeguard's writes fill the
 *     socket.
 *
 * Byte 1:
 *
 *   - bit 0: once half is sent, the clock jumps past every timeout (fz_time_jump: the timers of
 *     the worker's queues fire as if the loop woke up two hours late).
 *   - bit 1: the same once everything is sent and the worker is idle.
 *   - bit 2: the jumps are short: 1.5 s, within every timeout but past the worker's
 *     once-a-second trim, which runs (idle HTTP/2 connections may go to sleep).
 *
 * What the client receives is read as a client would and checked (h2_check.h): lifeguard must
 * speak valid HTTP/2 whatever it was sent (no frame on a stream it ended or reset, responses
 * that start with :status and carry no connection-specific field, DATA that matches
 * content-length).
 *
 * The client end is one end of a socketpair handed to the listener's front with lg_conn_accept,
 * as an accept would; the loop runs one round at a time (lg_loop_once, never waiting) while this
 * program plays the backend and reads what lifeguard answers. When everything is idle the client
 * and the backend close, and the loop must become idle again with no client connection and no
 * HTTP/2 session left (a connection that never ends, or a loop that never rests, aborts). All
 * memory goes back to the worker's free lists, so LeakSanitizer sees what the front loses.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/stats.h"
#include "config/config.h"
#include "core/log.h"
#include "event/loop.h"
#include "front/h2.h"
#include "front/listener.h"
#include "http/accesslog.h"
#include "upstream/shm.h"
#include "worker/ctx.h"

#include "h2_check.h"

/* Inputs beyond this add nothing but time: windows and buffers are 64 KiB. */
#define FZ_MAX_INPUT (256 * 1024)
/* Rounds of the loop an input may take while the client sends, and to settle after. */
#define FZ_ROUNDS_SEND  20000
#define FZ_ROUNDS_CLOSE 20000
/* Rounds in a row with nothing done that make the worker idle. */
#define FZ_IDLE_ROUNDS 3
#define FZ_BACKENDS    64
#define FZ_BIG_BODY    (256 * 1024)

enum { FZ_BE_SHORT, FZ_BE_BIG, FZ_BE_TRAILERS, FZ_BE_CLOSE };

/* A clock jump beyond every configured timeout (the longest, tunnel, is 1 h by default). */
#define FZ_JUMP_MS (2 * 3600 * 1000)
/* A short one: past the trim's second, within every timeout (the shortest, connect, is 3 s). */
#define FZ_SHORT_JUMP_MS 1500

/* What the two first bytes of an input say (see the top of this file). */
typedef struct fz_ctl {
    size_t piece;
    unsigned drain : 1, half_close : 1, jump_mid : 1, jump_end : 1, short_jump : 1;
} fz_ctl_t;

/* A connection the backend accepted: how far it is in the request heads it was sent. */
typedef struct fz_be {
    int fd;
    unsigned crlf;   /* bytes of "\r\n\r\n" matched so far */
    const char *out; /* the answer being written */
    size_t out_len, out_pos;
    size_t big_left; /* FZ_BE_BIG: body bytes still to write */
    int last_chunk;  /* FZ_BE_BIG: the last chunk is still to write */
    int close_after; /* close once the answer is out (a body delimited by the close) */
    char line[64];   /* the start of the request line of the head being read */
    unsigned line_len;
    int line_done;
} fz_be_t;

/*
 * Answers the request path chooses, whatever the mode (the client's bytes reach them): statuses
 * without a body, an interim response, an upgrade nobody asked for, a body delimited by the
 * close, a response lifeguard must refuse, fields HTTP/2 must not carry.
 */
static const struct {
    const char *path, *rsp;
    int close_after;
} fz_by_path[] = {
    {" /204", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", 0},
    {" /304", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 9\r\n\r\n", 0},
    {" /100",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
     0},
    {" /101",
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0},
    {" /close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close", 1},
    {" /bad", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 0},
    {" /hop",
     "HTTP/1.1 200 OK\r\nConnection: X-Foo, keep-alive\r\nX-Foo: 1\r\nKeep-Alive: 5\r\n"
     "Proxy-Connection: x\r\nUpgrade: h2c\r\nTE: trailers\r\nX-UPPER-Case: V\r\n"
     "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     0},
    {" /hang", NULL, 0}, /* never answers: a clock jump times it out (504) */
};

static struct {
    lg_config_t *cf;
    lg_shm_t *shm;
    lg_stats_t *stats;
    lg_worker_t w;
    int lfd; /* the listener's socket (nothing connects to it) */
    int bfd; /* the backend's listening socket */
    fz_be_t be[FZ_BACKENDS];
    unsigned mode;
    int deaf;       /* the client reads nothing */
    uint64_t jumps; /* clock jumps so far (fz_time_jump) */
    int closed;     /* the client read the end of the connection */
    hc_t check;     /* what the client received, checked frame by frame (h2_check.h) */
} fz;

static const char rsp_short[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\n"
                                "Set-Cookie: b=2\r\n\r\nok";
static const char rsp_big[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
static const char rsp_trailers[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                   "Trailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n";
static char chunk[4096 + 16];
static size_t chunk_len;

static void fz_die(const char *what)
{
    fprintf(stderr, "fuzz_h2: %s (%d: %s)\n", what, errno, strerror(errno));
    abort();
}

static int fz_listen_any(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        fz_die("a listening socket on 127.0.0.1");
    *port = ntohs(a.sin_port);
    return fd;
}

static lg_config_t *fz_config(int backend_port)
{
    const char *log = getenv("FUZZ_H2_LOG"); /* where the logs go (default: nowhere) */
    char text[1024], path[64];
    lg_config_errors_t errs = {0};
    lg_config_t *cf;
    int fd, n;

    if (log == NULL)
        log = "/dev/null";
    fd = memfd_create("fuzz_h2.yaml", MFD_CLOEXEC);
    n = snprintf(text, sizeof(text),
                 "workers: 1\n"
                 "log:\n  level: debug\n  error: %s\n  access: %s\n"
                 "  access_format: json\n"
                 "limits:\n  max_header_size: 1k\n  max_body_size: 32k\n"
                 "  max_concurrent_streams: 8\n"
                 "listeners:\n  web:\n    listen: 127.0.0.1:0\n    http2: on\n"
                 "    routes:\n      - host: h2.test\n        pool: app\n"
                 "      - path_prefix: /api/\n        pool: app\n      - pool: app\n"
                 "pools:\n  app:\n    health_check:\n      type: none\n"
                 "    keepalive:\n      max_idle: 4\n    retries: 0\n"
                 "    backends:\n      - address: 127.0.0.1:%d\n",
                 log, log, backend_port);

    if (fd < 0 || write(fd, text, (size_t)n) != n)
        fz_die("writing the configuration");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    cf = lg_config_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "fuzz_h2: %s\n", errs.lines[i]);
    lg_config_errors_free(&errs);
    close(fd);
    return cf;
}

/* The worker, once for the whole run: what lg_worker_run does, without signals. */
static void fz_setup(void)
{
    int port, lport;

    signal(SIGPIPE, SIG_IGN); /* as the master does: a closed peer is an EPIPE */
    fz.bfd = fz_listen_any(&port);
    fz.lfd = fz_listen_any(&lport);
    if ((fz.cf = fz_config(port)) == NULL)
        fz_die("the configuration does not load");
    lg_log_open(fz.cf->log.error);
    lg_log_level = fz.cf->log.level;
    if ((fz.shm = lg_shm_new(fz.cf, NULL, NULL)) == NULL ||
        (fz.stats = lg_stats_new(fz.cf)) == NULL)
        fz_die("shared memory");
    lg_stats_bind(fz.stats, 0);
    if (lg_loop_init() != LG_OK || lg_worker_init(&fz.w, fz.cf, fz.shm) != LG_OK ||
        lg_worker_listen(&fz.w, &fz.lfd) != LG_OK)
        fz_die("the worker does not start");
    for (size_t i = 0; i < FZ_BACKENDS; i++)
        fz.be[i].fd = -1;
    chunk_len = 4096 + 8;
    memcpy(chunk, "1000\r\n", 6);
    memset(chunk + 6, 'x', 4096);
    memcpy(chunk + 6 + 4096, "\r\n", 2);
}

/* A request head ended on backend connection `b`: start the answer the mode says. */
static void fz_be_answer(fz_be_t *b)
{
    static const char *const rsp[] = {rsp_short, rsp_big, rsp_trailers};
    static const size_t rsp_len[] = {sizeof(rsp_short) - 1, sizeof(rsp_big) - 1,
                                     sizeof(rsp_trailers) - 1};

    if (fz.mode == FZ_BE_CLOSE) {
        close(b->fd);
        b->fd = -1;
        return;
    }
    if (b->out != NULL)
        return; /* one answer at a time; what a pipelining proxy would not do anyway */
    for (size_t i = 0; i < LG_NELEMS(fz_by_path); i++) {
        size_t n = strlen(fz_by_path[i].path);

        if (b->line_len >= n && memmem(b->line, b->line_len, fz_by_path[i].path, n) != NULL) {
            b->out = fz_by_path[i].rsp;
            b->out_len = b->out != NULL ? strlen(b->out) : 0;
            b->out_pos = 0;
            b->close_after = fz_by_path[i].close_after;
            return;
        }
    }
    b->out = rsp[fz.mode];
    b->out_len = rsp_len[fz.mode];
    b->out_pos = 0;
    b->big_left = fz.mode == FZ_BE_BIG ? FZ_BIG_BODY : 0;
}

/* Write what `b` has to say; returns whether a byte moved. */
static int fz_be_write(fz_be_t *b)
{
    int moved = 0;

    while (b->fd >= 0 && b->out != NULL) {
        ssize_t n = write(b->fd, b->out + b->out_pos, b->out_len - b->out_pos);

        if (n <= 0)
            return moved; /* full, or lifeguard closed: reads will tell */
        moved = 1;
        b->out_pos += (size_t)n;
        if (b->out_pos < b->out_len)
            continue;
        b->out_pos = 0;
        if (b->big_left > 0) {
            b->big_left -= 4096;
            b->last_chunk = b->big_left == 0;
            b->out = chunk;
            b->out_len = chunk_len;
        } else if (b->last_chunk) {
            b->last_chunk = 0;
            b->out = "0\r\n\r\n";
            b->out_len = 5;
        } else {
            b->out = NULL;
            if (b->close_after) {
                close(b->fd);
                b->fd = -1;
            }
        }
    }
    return moved;
}

/* Read what lifeguard sent `b`; an empty line ends a head (bodies may fake one: so be it). */
static int fz_be_read(fz_be_t *b)
{
    char buf[8192];
    int moved = 0;
    ssize_t n;

    while (b->fd >= 0 && (n = read(b->fd, buf, sizeof(buf))) > 0) {
        moved = 1;
        for (ssize_t i = 0; i < n && b->fd >= 0; i++) {
            b->crlf = buf[i] == "\r\n\r\n"[b->crlf] ? b->crlf + 1 : (buf[i] == '\r');
            if (!b->line_done && buf[i] == '\r')
                b->line_done = 1;
            else if (!b->line_done && b->line_len < sizeof(b->line))
                b->line[b->line_len++] = buf[i];
            if (b->crlf == 4) {
                fz_be_answer(b);
                b->crlf = b->line_len = 0;
                b->line_done = 0;
            }
        }
    }
    if (b->fd >= 0 && n == 0) {
        close(b->fd);
        b->fd = -1;
        moved = 1;
    }
    return moved;
}

/* One turn of the backend: accept, read, answer. Returns whether anything happened. */
static int fz_backend(void)
{
    int moved = 0, fd;

    while ((fd = accept4(fz.bfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        size_t i;

        moved = 1;
        for (i = 0; i < FZ_BACKENDS && fz.be[i].fd >= 0; i++)
            ;
        if (i == FZ_BACKENDS) {
            close(fd);
            continue;
        }
        memset(&fz.be[i], 0, sizeof(fz.be[i]));
        fz.be[i].fd = fd;
    }
    for (size_t i = 0; i < FZ_BACKENDS; i++) {
        moved |= fz_be_read(&fz.be[i]);
        moved |= fz_be_write(&fz.be[i]);
    }
    return moved;
}

static void fz_backend_close(void)
{
    for (size_t i = 0; i < FZ_BACKENDS; i++) {
        if (fz.be[i].fd >= 0)
            close(fz.be[i].fd);
        fz.be[i].fd = -1;
    }
}

/* What lifeguard answered the client: read and dropped (the client's window is its own). */
static int fz_client_read(int fd)
{
    uint8_t buf[16384];
    int moved = 0;
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        hc_feed(&fz.check, buf, (size_t)n);
        moved = 1;
    }
    if (n == 0 && !fz.closed) {
        fz.closed = 1; /* lifeguard closed the connection */
        moved = 1;
    }
    return moved;
}

/* One round of the worker and of this program's ends; whether anything happened. */
static int fz_round(int cfd)
{
    int r = lg_loop_once(0);

    if (r < 0)
        fz_die("the loop failed");
    r |= fz_backend();
    if (cfd >= 0 && !fz.deaf)
        r |= fz_client_read(cfd);
    return r != 0;
}

/* Run until idle (FZ_IDLE_ROUNDS rounds with nothing done) or `max` rounds: whether idle. */
static int fz_settle(int cfd, unsigned max)
{
    unsigned quiet = 0;

    for (unsigned i = 0; i < max; i++) {
        quiet = fz_round(cfd) ? 0 : quiet + 1;
        if (quiet == FZ_IDLE_ROUNDS)
            return 1;
    }
    return 0;
}

/* A new client connection on the listener, as accept would hand it; the client's end. */
static int fz_client(void)
{
    struct sockaddr_in peer = {
        .sin_family = AF_INET, .sin_port = htons(40000), .sin_addr.s_addr = htonl(0x7f000001)};
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        fz_die("socketpair()");
    lg_conn_accept(&fz.w.listeners[0], sv[1], (struct sockaddr *)&peer, sizeof(peer));
    return sv[0];
}

/*
 * The clock jumps past every timeout: each queue's timers fire, queue after queue, as the loop's
 * expire_timers does when it wakes up late (the worker's once-a-second trim too, and what it
 * does with idle connections); timers the handlers arm are due after the jump. A short jump is
 * FZ_SHORT_JUMP_MS: what is due by then fires, and the trim runs (idle connections may sleep).
 */
static void fz_time_jump(int is_short)
{
    lg_timerq_t *const qs[] = {&fz.w.q.client_header, &fz.w.q.client_body,   &fz.w.q.client_idle,
                               &fz.w.q.linger,        &fz.w.q.connect,       &fz.w.q.upstream,
                               &fz.w.q.tunnel,        &fz.w.q.upstream_idle, &fz.w.q.trim};

    /* a long jump goes further than any before: timers armed during one are due at the next */
    lg_now = lg_clock_ms() + (is_short ? FZ_SHORT_JUMP_MS : FZ_JUMP_MS * ++fz.jumps);
    for (size_t i = 0; i < LG_NELEMS(qs); i++) {
        lg_timer_t *head = &qs[i]->head;

        while (head->next != head && head->next->deadline <= lg_now) {
            lg_timer_t *t = head->next;

            lg_timer_del(t);
            t->handler(t);
        }
    }
    if (is_short && lg_timer_armed(&fz.w.trim_timer)) {
        lg_timer_del(&fz.w.trim_timer); /* armed after a long jump: due far away */
        fz.w.trim_timer.handler(&fz.w.trim_timer);
    }
}

/* Send `data` in pieces (0: as much as the socket takes), a round each; halfway, what ctl says. */
static void fz_send(int cfd, const uint8_t *data, size_t size, const fz_ctl_t *ctl)
{
    size_t sent = 0;
    int half = 0;

    for (unsigned i = 0; i < FZ_ROUNDS_SEND && sent < size; i++) {
        size_t want = ctl->piece == 0 ? size - sent : LG_MIN(ctl->piece, size - sent);
        ssize_t n = write(cfd, data + sent, want);

        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN)
            return; /* lifeguard closed the connection */
        fz_round(cfd);
        if (!half && sent >= size / 2) {
            half = 1;
            if (ctl->drain)
                lg_h2_drain(&fz.w);
            if (ctl->jump_mid)
                fz_time_jump(ctl->short_jump);
        }
    }
}

/* The worker is idle and the connection open: every response that was sent whole has ended. */
static void fz_check_ended(void)
{
    int32_t sid = hc_unfinished(&fz.check);

    if (sid == 0)
        return;
    fprintf(stderr,
            "fuzz_h2: stream %d: lifeguard sent the whole response body (content-length) but "
            "never ended the stream (no END_STREAM, no RST_STREAM) and is idle\n",
            sid);
    abort();
}

/* Everything closed: no connection, session, stream or exchange may be left, nor counted. */
static void fz_check_closed(void)
{
    const lg_stats_listener_t *sl = lg_stats_listener(0);
    const lg_be_state_t *st = lg_upstream_pool(&fz.w.ups, 0)->backends[0].state;
    unsigned active = atomic_load(&st->active);

    if (fz.w.nconns == 0 && fz.w.h2_sessions == NULL && sl->conns_active == 0 &&
        sl->h2_streams_active == 0 && active == 0)
        return;
    fprintf(stderr,
            "fuzz_h2: left after everything closed: %u client connections, HTTP/2 sessions: %s, "
            "conns_active %llu, h2_streams_active %llu, exchanges on the backend %u\n",
            fz.w.nconns, fz.w.h2_sessions != NULL ? "some" : "none",
            (unsigned long long)sl->conns_active, (unsigned long long)sl->h2_streams_active,
            active);
    abort();
}

/* Between inputs nothing may remain of the last one, backend failures included. */
static void fz_reset_backend_state(void)
{
    lg_be_state_t *st = lg_upstream_pool(&fz.w.ups, 0)->backends[0].state;

    atomic_store(&st->fails, 0);
    atomic_store(&st->ejections, 0);
    atomic_store(&st->ejected_until, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t pieces[] = {0, 1, 7, 9, 64, 512, 4096, 16384};
    fz_ctl_t ctl;
    int cfd;

    if (size < 2 || size > FZ_MAX_INPUT)
        return -1;
    if (fz.cf == NULL)
        fz_setup();
    fz.mode = data[0] & 3;
    fz.deaf = (data[0] >> 7) & 1;
    ctl = (fz_ctl_t){.piece = pieces[(data[0] >> 2) & 7],
                     .drain = (data[0] >> 5) & 1,
                     .half_close = (data[0] >> 6) & 1,
                     .jump_mid = data[1] & 1,
                     .jump_end = (data[1] >> 1) & 1,
                     .short_jump = (data[1] >> 2) & 1};
    hc_reset(&fz.check);
    hc_client_sent(&fz.check, data + 2, size - 2);
    fz.closed = 0;
    fz.check.trace = getenv("FUZZ_H2_TRACE") != NULL;
    cfd = fz_client();
    if (write(cfd, LG_H2_PREFACE, LG_H2_PREFACE_LEN) != LG_H2_PREFACE_LEN)
        fz_die("writing the preface");
    fz_send(cfd, data + 2, size - 2, &ctl);
    if (ctl.half_close)
        shutdown(cfd, SHUT_WR);
    fz.deaf = 0; /* it reads now: what waited may go */
    if (fz_settle(cfd, FZ_ROUNDS_SEND) && !fz.closed)
        fz_check_ended();
    if (ctl.jump_end) {
        fz_time_jump(ctl.short_jump);
        fz_settle(cfd, FZ_ROUNDS_SEND);
    }
    close(cfd);
    fz_backend_close();
    if (!fz_settle(-1, FZ_ROUNDS_CLOSE)) {
        fprintf(stderr, "fuzz_h2: the worker is still busy %d rounds after everything closed\n",
                FZ_ROUNDS_CLOSE);
        abort();
    }
    fz_check_closed();
    fz_reset_backend_state();
    lg_alog_flush();
    return 0;
}
