/*
 * test_reload.c - what users see of the master: reloads under load without a single failed
 * request (keep-alive and Connection: close clients, worker count and listeners changing), a
 * long response across a reload, a broken file on reload, a killed worker replaced, graceful
 * (QUIT) and fast (TERM) stops, `lifeguard -s` with a pid file or the default one, and no zombie
 * or orphan left.
 *
 * The load generator is a set of threads, one per client connection, with blocking sockets and
 * 2 s send/receive timeouts: each sends GET / in a loop and counts completed 2xx responses and
 * every failure (non-2xx, reset, EOF before a complete response, timeout). A response with
 * `Connection: close` is read to the end, the client waits for the server's close, then
 * reconnects: that is not a failure. The threads never call the harness (not thread-safe) nor
 * criterion's assertions; the main thread checks their counters after joining them.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg_test.h"

#define MIB (1024ULL * 1024ULL)

/* ---- configuration */

#define RL_CLIENTS      50
#define RL_RELOADS      20
#define RL_RELOAD_EVERY 500  /* ms between reloads */
#define RL_IO_TIMEOUT   2000 /* ms: a client waiting longer for a byte counts a failure */
#define RL_MAX_FAILS    32   /* failures described in detail */
#define RL_MAX_KIDS     256
#define RL_NOBODY       65534 /* uid and gid of nobody (Debian) */

/* What a config may hold besides listener `web` on 127.0.0.1:0 routing everything to `app`. */
typedef struct rl_conf {
    unsigned workers;
    int origin;      /* port of lg-origin */
    int api_port;    /* > 0: second listener `api` on this port */
    int api_port0;   /* second listener `api` on 127.0.0.1:0 */
    int v2_route;    /* route /v2/ of `web` to a second pool `app2` */
    const char *pid; /* pid_file, or NULL */
    int broken;      /* the backend of `app` has an unknown key, "wieght" (a broken file) */
} rl_conf_t;

static char *rl_config(const rl_conf_t *c)
{
    lg_yaml_t *conf = lg_yaml_single(c->origin);

    lg_yaml_setf(conf, "workers", "%u", c->workers);
    if (c->pid != NULL)
        lg_yaml_set(conf, "pid_file", c->pid);
    lg_yaml_set(conf, "timeouts.drain", "5s");
    if (c->v2_route) {
        lg_yaml_set(conf, "listeners.web.routes", NULL);
        lg_yaml_add(conf, "listeners.web.routes", "{path_prefix: /v2/, pool: app2}");
        lg_yaml_add(conf, "listeners.web.routes", "{pool: app}");
        lg_yaml_set(conf, "pools.app2.health_check.type", "none");
        lg_yaml_add(conf, "pools.app2.backends", "127.0.0.1:%d", c->origin);
    }
    if (c->api_port > 0 || c->api_port0) {
        lg_yaml_setf(conf, "listeners.api.listen", "127.0.0.1:%d", c->api_port0 ? 0 : c->api_port);
        lg_yaml_add(conf, "listeners.api.routes", "{pool: app}");
    }
    if (c->broken) {
        lg_yaml_set(conf, "pools.app.backends", NULL);
        lg_yaml_add(conf, "pools.app.backends", "{address: 127.0.0.1:%d, wieght: 1}", c->origin);
    }
    return lg_yaml_text(conf);
}

/* "LINE:COL" of the first `needle` in `text` (both from 1), as lifeguard's messages say it. */
static char *rl_place(const char *text, const char *needle)
{
    const char *at = strstr(text, needle), *bol = text;
    int line = 1;

    cr_assert_not_null(at, "no %s in:\n%s", needle, text);
    for (const char *p = text; p < at; p++)
        if (*p == '\n') {
            line++;
            bol = p + 1;
        }
    return lg_fmt("%d:%d", line, (int)(at - bol) + 1);
}

static lg_proc_t *rl_start(const rl_conf_t *c)
{
    return lg_lifeguard_start(rl_config(c));
}

/* ---- small helpers */

/* Zombie children of `pid` (state Z in /proc/N/stat). */
static int rl_zombies(pid_t pid)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[512], *rp, state;
        int ppid;
        FILE *f;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(buf, sizeof(buf), f) != NULL && (rp = strrchr(buf, ')')) != NULL &&
            sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == pid && state == 'Z')
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

/* The pids the log says generation `gen` started (the latest pid of each worker slot). */
static size_t rl_gen_pids(const char *log, unsigned gen, pid_t *out, size_t max)
{
    char *needle = lg_fmt("generation %u: worker ", gen);
    const char *s = log;
    size_t n = 0;

    while ((s = strstr(s, needle)) != NULL) {
        unsigned slot;
        int pid;

        s += strlen(needle);
        if (sscanf(s, "%u started, pid %d", &slot, &pid) == 2 && slot < max) {
            out[slot] = pid;
            if (slot + 1 > n)
                n = slot + 1;
        }
    }
    return n;
}

/* G of the last "reloaded: generation G serves" line; 1 when there is none. */
static int rl_last_gen(const char *log)
{
    const char *s = log, *needle = "reloaded: generation ";
    int gen = 1;

    while ((s = strstr(s, needle)) != NULL) {
        s += strlen(needle);
        gen = atoi(s);
    }
    return gen;
}

static int rl_pid_in(pid_t pid, const pid_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == pid)
            return 1;
    return 0;
}

/*
 * After the old generations drained: exactly the workers generation `gen` started are the
 * master's children, and none of its children is a zombie.
 */
static void rl_assert_only_generation(lg_proc_t *lg, unsigned gen, unsigned workers)
{
    pid_t kids[RL_MAX_KIDS], want[RL_MAX_KIDS];
    size_t n = 0, nw;
    int ok;

    /* drain 5 s + the master's kill grace 2 s bound how long an old worker may live */
    LG_WAIT_FOR(ok, (n = lg_pid_children(lg->pid, kids, RL_MAX_KIDS)) == workers, 9000);
    if (!ok)
        lg_proc_dump_log(lg);
    cr_assert(ok, "the master has %zu children, expected the %u workers of generation %u", n,
              workers, gen);
    nw = rl_gen_pids(lg_proc_log(lg), gen, want, RL_MAX_KIDS);
    cr_assert_eq(nw, workers, "generation %u started %zu worker slots", gen, nw);
    for (size_t i = 0; i < n; i++)
        cr_assert(rl_pid_in(kids[i], want, nw), "child %d of the master is not of generation %u",
                  (int)kids[i], gen);
    LG_WAIT_FOR(ok, rl_zombies(lg->pid) == 0, lg_test_timeout_ms());
    cr_assert(ok, "%d zombie children of the master", rl_zombies(lg->pid));
}

/* Stop lifeguard with `sig`; require exit status 0, no stray process, no unexpected error. */
static void rl_finish(lg_proc_t *lg, int sig, const char *allowed)
{
    int status = lg_proc_stop_with(lg, sig, lg_test_timeout_ms());
    int bad = lg_log_has_unexpected_errors(lg_proc_log(lg), allowed, NULL);

    if (status != 0 || lg->strays != 0 || bad != 0)
        lg_proc_dump_log(lg);
    cr_expect_eq(status, 0, "lifeguard exit status %d", status);
    cr_expect_eq(lg->strays, 0, "%d stray processes after lifeguard stopped", lg->strays);
    cr_expect_eq(bad, 0, "%d unexpected error lines in lifeguard's log", bad);
}

static void rl_assert_200(lg_http_response_t *r, const char *what)
{
    cr_assert_eq(r->error, LG_HTTP_OK, "%s: %s (status %d)", what, lg_http_error_name(r->error),
                 r->status);
    cr_assert_eq(r->status, 200, "%s: status %d", what, r->status);
    cr_assert(r->complete, "%s: incomplete response", what);
}

/* 1 when a TCP connection to the port is accepted by the kernel. */
static int rl_can_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    if (fd < 0)
        return 0;
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* ---- the load generator */

enum {
    F_CONNECT,
    F_SEND,
    F_TIMEOUT,
    F_EOF,
    F_RESET,
    F_STATUS,
    F_BAD,
    F_NOCLOSE, /* `Connection: close` answered, then the server did not close */
    F_KINDS
};

static const char *const rl_fail_names[F_KINDS] = {
    "connect", "send",    "timeout",      "eof-before-complete-response",
    "reset",   "non-2xx", "bad-response", "no-close-after-Connection:-close"};

typedef struct rl_fail {
    uint64_t at_ms; /* since the load started */
    int client;
    int kind;
    int err;
    int status;
    size_t got;     /* bytes of the response received */
    unsigned nreq;  /* requests this connection had completed before */
    char head[120]; /* start of what was received */
} rl_fail_t;

typedef struct rl_load {
    int port;
    int close_mode; /* every request with Connection: close */
    uint64_t start_ms;
    uint64_t hard_stop_ms;
    atomic_int stop;
    atomic_long ok;
    atomic_long fails[F_KINDS];
    atomic_long conns;        /* connections opened */
    atomic_long server_close; /* keep-alive connections the server ended with Connection: close */
    atomic_ullong last_ok_ms;
    atomic_ullong max_gap_ms;  /* longest time without any completed response */
    atomic_ullong max_lat_ms;  /* slowest response: from connect (or send) to its end */
    atomic_ullong max_lat_at;  /* when it ended, since the load started */
    atomic_ullong max_conn_ms; /* slowest connect() */
    atomic_ullong max_gap_at;  /* when the longest gap ended, since the load started */
    long per_client[RL_CLIENTS];
    pthread_mutex_t lock;
    rl_fail_t fail[RL_MAX_FAILS];
    size_t nfail;
    pthread_t threads[RL_CLIENTS];
} rl_load_t;

typedef struct rl_client {
    rl_load_t *L;
    int id;
} rl_client_t;

static rl_client_t rl_clients[RL_CLIENTS];

static void rl_note_ok(rl_load_t *L, uint64_t began)
{
    uint64_t now = lg_now_ms(), last = atomic_exchange(&L->last_ok_ms, now);
    uint64_t gap = now > last ? now - last : 0, max = atomic_load(&L->max_gap_ms);
    uint64_t lat = now - began, maxl = atomic_load(&L->max_lat_ms);

    if (gap > max) {
        pthread_mutex_lock(&L->lock);
        if (gap > atomic_load(&L->max_gap_ms)) {
            atomic_store(&L->max_gap_ms, gap);
            atomic_store(&L->max_gap_at, now - L->start_ms);
        }
        pthread_mutex_unlock(&L->lock);
    }
    if (lat > maxl) {
        pthread_mutex_lock(&L->lock);
        if (lat > atomic_load(&L->max_lat_ms)) {
            atomic_store(&L->max_lat_ms, lat);
            atomic_store(&L->max_lat_at, now - L->start_ms);
        }
        pthread_mutex_unlock(&L->lock);
    }
    atomic_fetch_add(&L->ok, 1);
}

static void rl_note_fail(rl_load_t *L, int id, int kind, int err, int status, const char *buf,
                         size_t got, unsigned nreq)
{
    atomic_fetch_add(&L->fails[kind], 1);
    pthread_mutex_lock(&L->lock);
    if (L->nfail < RL_MAX_FAILS) {
        rl_fail_t *f = &L->fail[L->nfail++];
        size_t i, n = got < sizeof(f->head) - 1 ? got : sizeof(f->head) - 1;

        f->at_ms = lg_now_ms() - L->start_ms;
        f->client = id;
        f->kind = kind;
        f->err = err;
        f->status = status;
        f->got = got;
        f->nreq = nreq;
        for (i = 0; i < n; i++)
            f->head[i] = buf[i] == '\r' || buf[i] == '\n' ? '|' : buf[i];
        f->head[n] = '\0';
    }
    pthread_mutex_unlock(&L->lock);
}

/* The failure kind of each lg_load_exchange() result but LG_LOAD_OK. */
static const int rl_load_kind[] = {[LG_LOAD_SEND] = F_SEND,
                                   [LG_LOAD_TIMEOUT] = F_TIMEOUT,
                                   [LG_LOAD_EOF] = F_EOF,
                                   [LG_LOAD_RESET] = F_RESET,
                                   [LG_LOAD_BAD] = F_BAD};

/* After a response with Connection: close: the server must close, with no byte after it. */
static void rl_expect_close(rl_load_t *L, int id, int fd, const lg_load_response_t *r,
                            unsigned nreq)
{
    char extra[64];
    ssize_t n;

    do {
        n = recv(fd, extra, sizeof(extra), 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        rl_note_fail(L, id, F_BAD, 0, r->status, r->buf, r->got, nreq);
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        rl_note_fail(L, id, F_NOCLOSE, errno, r->status, r->buf, r->got, nreq);
}

/*
 * One client: connect, GET / (with Connection: close in close mode), read the response; on
 * `Connection: close` wait for the server's close and reconnect.
 */
static void *rl_client_main(void *arg)
{
    rl_client_t *cl = arg;
    rl_load_t *L = cl->L;
    lg_load_response_t r;
    char req[256];
    int reqlen, fd = -1;
    unsigned nreq = 0; /* completed on this connection */

    reqlen = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", L->port,
                      L->close_mode ? "Connection: close\r\n" : "");
    while (!atomic_load(&L->stop) && lg_now_ms() < L->hard_stop_ms) {
        uint64_t began = lg_now_ms();
        int kind;

        if (fd < 0) {
            uint64_t t = lg_now_ms(), max = atomic_load(&L->max_conn_ms);

            fd = lg_tcp_connect_timeout(L->port, RL_IO_TIMEOUT);
            t = lg_now_ms() - t;
            while (t > max && !atomic_compare_exchange_weak(&L->max_conn_ms, &max, t))
                ;
            if (fd < 0) {
                rl_note_fail(L, cl->id, F_CONNECT, errno, 0, "", 0, 0);
                lg_sleep_ms(10);
                continue;
            }
            atomic_fetch_add(&L->conns, 1);
            nreq = 0;
        }
        kind = lg_load_exchange(fd, req, (size_t)reqlen, &r);
        if (kind != LG_LOAD_OK) {
            rl_note_fail(L, cl->id, rl_load_kind[kind], r.err, r.status, r.buf, r.got, nreq);
            goto drop;
        }
        if (r.status < 200 || r.status > 299) {
            rl_note_fail(L, cl->id, F_STATUS, 0, r.status, r.buf, r.got, nreq);
        } else {
            rl_note_ok(L, began);
            L->per_client[cl->id]++;
        }
        nreq++;
        if (L->close_mode && !r.server_close) {
            rl_note_fail(L, cl->id, F_BAD, 0, r.status, r.buf, r.got, nreq);
            goto drop;
        }
        if (!r.server_close)
            continue;
        /* the server closes: wait for it (no byte may follow), then reconnect */
        if (!L->close_mode)
            atomic_fetch_add(&L->server_close, 1);
        rl_expect_close(L, cl->id, fd, &r, nreq);
    drop:
        close(fd);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static rl_load_t *rl_load_start(int port, int close_mode, unsigned max_ms)
{
    rl_load_t *L = lg_test_keep(calloc(1, sizeof(*L)), NULL);

    L->port = port;
    L->close_mode = close_mode;
    L->start_ms = lg_now_ms();
    L->hard_stop_ms = L->start_ms + max_ms;
    atomic_store(&L->last_ok_ms, L->start_ms);
    pthread_mutex_init(&L->lock, NULL);
    for (int i = 0; i < RL_CLIENTS; i++) {
        rl_clients[i].L = L;
        rl_clients[i].id = i;
        cr_assert_eq(pthread_create(&L->threads[i], NULL, rl_client_main, &rl_clients[i]), 0);
    }
    return L;
}

static long rl_load_stop(rl_load_t *L)
{
    long failed = 0;

    atomic_store(&L->stop, 1);
    for (int i = 0; i < RL_CLIENTS; i++)
        pthread_join(L->threads[i], NULL);
    for (int k = 0; k < F_KINDS; k++)
        failed += atomic_load(&L->fails[k]);
    fprintf(stderr,
            "load (%s): %ld ok, %ld failed, %ld connections, %ld closed by the server, longest "
            "gap %llu ms (ended at %llu ms), slowest response %llu ms (ended at %llu ms), slowest "
            "connect %llu ms, %llu ms\n",
            L->close_mode ? "Connection: close" : "keep-alive", atomic_load(&L->ok), failed,
            atomic_load(&L->conns), atomic_load(&L->server_close),
            (unsigned long long)atomic_load(&L->max_gap_ms),
            (unsigned long long)atomic_load(&L->max_gap_at),
            (unsigned long long)atomic_load(&L->max_lat_ms),
            (unsigned long long)atomic_load(&L->max_lat_at),
            (unsigned long long)atomic_load(&L->max_conn_ms),
            (unsigned long long)(lg_now_ms() - L->start_ms));
    if (failed > 0) {
        for (int k = 0; k < F_KINDS; k++)
            if (atomic_load(&L->fails[k]) > 0)
                fprintf(stderr, "  %s: %ld\n", rl_fail_names[k], atomic_load(&L->fails[k]));
        for (size_t i = 0; i < L->nfail; i++) {
            const rl_fail_t *f = &L->fail[i];

            fprintf(stderr,
                    "  at %llu ms client %d: %s (errno %d %s) status %d, %zu bytes received "
                    "after %u requests on the connection: \"%s\"\n",
                    (unsigned long long)f->at_ms, f->client, rl_fail_names[f->kind], f->err,
                    f->err ? strerror(f->err) : "", f->status, f->got, f->nreq, f->head);
        }
    }
    return failed;
}

/* ---- 1, 2: reload storms under load */

/*
 * The config of reload i (1..RL_RELOADS): workers 2, 3, 1, 2, ...; listener `api` is added by
 * reloads 1, 6, 11, 16 and removed by the next one; route /v2/ likewise by 3, 8, 13, 18.
 */
static rl_conf_t rl_storm_conf(int origin, int api_port, int i)
{
    rl_conf_t c = {.workers = 1 + (unsigned)(i % 3), .origin = origin};

    if (i % 5 == 1)
        c.api_port = api_port;
    if (i % 5 == 3)
        c.v2_route = 1;
    return c;
}

static void rl_reload_storm(int close_mode)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c0 = {.workers = 2, .origin = o->port};
    lg_proc_t *lg = rl_start(&c0);
    int port = lg_proc_port(lg, "web"), api_port = lg_test_free_port();
    uint64_t t0, reload_at[RL_RELOADS + 1];
    unsigned workers = c0.workers;
    long failed, ok;
    rl_load_t *L;
    int i, okw;

    rl_assert_200(lg_http_get(port, "/", NULL), "before the load");
    L = rl_load_start(port, close_mode, 30000);
    lg_sleep_ms(300);
    t0 = lg_now_ms();
    for (i = 1; i <= RL_RELOADS; i++) {
        rl_conf_t c = rl_storm_conf(o->port, api_port, i);
        size_t mark = lg_proc_log_mark(lg);
        uint64_t next = t0 + (uint64_t)i * RL_RELOAD_EVERY;

        lg_proc_write_config(lg, rl_config(&c));
        reload_at[i] = lg_now_ms() - L->start_ms;
        cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
        okw = lg_proc_wait_log(
            lg, mark,
            lg_fmt("reloaded: generation %d serves with %u workers, generation %d drains", i + 1,
                   c.workers, i),
            3000);
        if (!okw)
            lg_proc_dump_log(lg);
        cr_assert(okw, "reload %d was not reported", i);
        workers = c.workers;
        if (c.api_port > 0) {
            /* the listener added by this reload serves at once */
            cr_assert(lg_proc_wait_log(
                          lg, mark, lg_fmt("listener api: listening on 127.0.0.1:%d", api_port), 0),
                      "reload %d did not open listener api", i);
            rl_assert_200(lg_http_get(api_port, "/", NULL), "new listener api");
        } else if (i % 5 == 2) {
            /* ... and is gone after the next one */
            cr_assert(
                lg_proc_wait_log(lg, mark, lg_fmt("closing listener on 127.0.0.1:%d", api_port), 0),
                "reload %d did not close listener api", i);
            LG_WAIT_FOR(okw, !rl_can_connect(api_port), lg_test_timeout_ms());
            cr_assert(okw, "removed listener api still accepts connections");
        }
        if (c.v2_route)
            rl_assert_200(lg_http_get(port, "/v2/x", NULL), "new route /v2/");
        while (lg_now_ms() < next)
            lg_sleep_ms(5);
    }
    /* a little more load on the last generation alone */
    lg_sleep_ms(300);
    failed = rl_load_stop(L);
    ok = atomic_load(&L->ok);
    if (failed > 0) {
        fprintf(stderr, "reloads sent at (ms since the load started):");
        for (i = 1; i <= RL_RELOADS; i++)
            fprintf(stderr, " %llu", (unsigned long long)reload_at[i]);
        fprintf(stderr, "\n");
        lg_proc_dump_log(lg);
    }
    cr_expect_eq(failed, 0, "%ld requests failed across %d reloads (%ld succeeded)", failed,
                 RL_RELOADS, ok);
    cr_expect_gt(ok, 1000, "only %ld requests completed in %d ms", ok,
                 RL_RELOADS * RL_RELOAD_EVERY);
    for (i = 0; i < RL_CLIENTS; i++)
        cr_expect_gt(L->per_client[i], 0, "client %d completed no request", i);

    /* the listening port never changed */
    cr_assert_eq(lg_proc_port(lg, "web"), port);
    rl_assert_200(lg_http_get(port, "/", NULL), "after the reloads");
    /* every old generation drained, only the last one's workers remain, no zombie */
    rl_assert_only_generation(lg, RL_RELOADS + 1, workers);
    for (i = 1; i <= RL_RELOADS; i++)
        cr_expect(lg_proc_wait_log(lg, 0, lg_fmt("generation %d drained", i), 0),
                  "generation %d never drained", i);
    cr_expect_eq(lg_log_count(lg_proc_log(lg), "drain deadline"), 0,
                 "an old worker needed the drain deadline");
    rl_finish(lg, SIGTERM, NULL);
}

Test(reload, storm_under_keepalive_load, .timeout = 90)
{
    rl_reload_storm(0);
}

Test(reload, storm_under_connection_close_load, .timeout = 90)
{
    rl_reload_storm(1);
}

/*
 * Reloads in quick succession: the second one drains workers the first one just forked. A worker
 * told to drain (QUIT) or to reopen its logs (USR1) before it is fully up must still drain or
 * reopen, never die of the signal's default action.
 */
Test(reload, back_to_back_reloads, .timeout = 90)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 3, .origin = o->port};
    lg_proc_t *lg = rl_start(&c);
    int port = lg_proc_port(lg, "web"), gen = 1, rounds = 10;
    char *log;

    for (int i = 0; i < rounds; i++) {
        size_t mark = lg_proc_log_mark(lg);
        int second = i % 2 == 0 ? SIGHUP : SIGUSR1, ok;

        cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
        if (second == SIGHUP)
            usleep(300); /* mostly read on its own, not merged with the first one */
        cr_assert_eq(lg_proc_signal(lg, second), 0);
        cr_assert(lg_proc_wait_log(lg, mark, lg_fmt("reloaded: generation %d serves", gen + 1),
                                   lg_test_timeout_ms()),
                  "round %d: generation %d not reported", i, gen + 1);
        if (second == SIGUSR1)
            cr_assert(lg_proc_wait_log(lg, mark, "logs reopened", lg_test_timeout_ms()));
        lg_sleep_ms(100);
        /* the two HUPs may have been merged into one reload */
        LG_WAIT_FOR(ok, rl_last_gen(lg_proc_log(lg)) >= gen + 1, 1000);
        gen = rl_last_gen(lg_proc_log(lg));
    }
    rl_assert_200(lg_http_get(port, "/", NULL), "after the reloads");
    rl_assert_only_generation(lg, (unsigned)gen, 3);
    log = lg_proc_log(lg);
    if (lg_log_count(log, "ended abnormally") + lg_log_count(log, "killed by signal") > 0)
        lg_proc_dump_log(lg);
    cr_expect_eq(lg_log_count(log, "ended abnormally"), 0,
                 "%d workers of an old generation died instead of draining",
                 lg_log_count(log, "ended abnormally"));
    cr_expect_eq(lg_log_count(log, "killed by signal"), 0,
                 "%d workers died of a signal (USR1 right after a reload)",
                 lg_log_count(log, "killed by signal"));
    rl_finish(lg, SIGTERM, NULL);
}

/* ---- 3: a long response across a reload */

Test(reload, streaming_response_survives_reload, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 2, .origin = o->port};
    lg_proc_t *lg = rl_start(&c);
    int port = lg_proc_port(lg, "web");
    int fd = lg_tcp_connect(port);
    const uint64_t total = 200 * MIB;
    uint64_t body = 0, sum = LG_CHECKSUM_INIT;
    char *buf = lg_test_keep(malloc(1 << 20), NULL), *hend;
    size_t got = 0, mark;
    long long clen = -1;
    int reloaded = 0, slow_reads = 0;
    ssize_t n;

    cr_assert_geq(fd, 0);
    cr_assert_gt(dprintf(fd, "GET /size/200m HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", port), 0);
    /* the head */
    for (;;) {
        n = recv(fd, buf + got, 4096 - got, 0);
        cr_assert_gt(n, 0, "no response head (%s)", n < 0 ? strerror(errno) : "EOF");
        got += (size_t)n;
        buf[got] = '\0';
        if ((hend = strstr(buf, "\r\n\r\n")) != NULL)
            break;
        cr_assert_lt(got, 4096);
    }
    cr_assert(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s", buf);
    cr_assert_not_null(strcasestr(buf, "\r\nContent-Length: 209715200\r\n"), "%s", buf);
    clen = (long long)total;
    sum = lg_checksum(sum, hend + 4, got - (size_t)(hend + 4 - buf));
    body = got - (size_t)(hend + 4 - buf);

    mark = lg_proc_log_mark(lg);
    while (body < total) {
        /* slowly at first: 32 KiB every 20 ms; the reload happens after ~0.5 s of that, and
         * the slow reading goes on ~1 s after it; then at full speed */
        size_t want = slow_reads < 75 ? 32 * 1024 : 1 << 20;

        if ((uint64_t)want > total - body)
            want = (size_t)(total - body);
        n = recv(fd, buf, want, 0);
        cr_assert_gt(n, 0, "the response ended at %llu of %llu body bytes (%s)",
                     (unsigned long long)body, (unsigned long long)total,
                     n < 0 ? strerror(errno) : "EOF");
        sum = lg_checksum(sum, buf, (size_t)n);
        body += (uint64_t)n;
        if (slow_reads < 75) {
            slow_reads++;
            lg_sleep_ms(20);
            if (slow_reads == 25) {
                cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
                reloaded = lg_proc_wait_log(lg, mark, "reloaded: generation 2 serves", 3000);
                cr_assert(reloaded, "the reload was not reported");
            }
        }
    }
    cr_assert(reloaded);
    cr_assert_eq(body, (uint64_t)clen);
    cr_assert_eq(sum, lg_pattern_checksum(total), "the body's checksum differs");
    /*
     * The stream was promised keep-alive before the reload. Now the draining worker either
     * closes the idle connection, or answers the next request on it with Connection: close and
     * closes; either way generation 1 then drains, long before timeouts.drain.
     */
    {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        struct timeval tv = {.tv_sec = 3};
        size_t len = 0;
        int drained;

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (poll(&pf, 1, 300) == 1 && recv(fd, buf, 1, MSG_PEEK) == 0) {
            fprintf(stderr, "stream: the draining worker closed the idle connection\n");
        } else {
            cr_assert_gt(dprintf(fd, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", port), 0);
            while (len < 4095 && (n = recv(fd, buf + len, 4095 - len, 0)) > 0)
                len += (size_t)n;
            buf[len] = '\0';
            cr_assert(n == 0,
                      "the draining worker did not close the connection after the next "
                      "response (%s); received:\n%s",
                      n < 0 ? strerror(errno) : "too much", buf);
            cr_assert(strncmp(buf, "HTTP/1.1 200 ", 13) == 0,
                      "the next request on the connection got:\n%s", buf);
            cr_assert_not_null(strcasestr(buf, "\r\nConnection: close\r\n"),
                               "the next request was not answered with Connection: close:\n%s",
                               buf);
        }
        close(fd);
        drained = lg_proc_wait_log(lg, mark, "generation 1 drained", 3000);
        if (!drained)
            lg_proc_dump_log(lg);
        cr_assert(drained, "generation 1 did not drain within 3 s of the end of the stream");
    }
    rl_assert_200(lg_http_get(port, "/", NULL), "after the stream");
    rl_finish(lg, SIGTERM, NULL);
}

/* ---- 4: a broken file on reload */

Test(reload, broken_file_keeps_serving, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 2, .origin = o->port};
    lg_proc_t *lg = rl_start(&c);
    int port = lg_proc_port(lg, "web");
    pid_t before[8], after[8];
    size_t nb = 0, na, mark;
    char *log, *broken;
    lg_client_t *kc;
    int ok;

    c.broken = 1;
    LG_WAIT_FOR(ok, (nb = lg_pid_children(lg->pid, before, 8)) == 2, lg_test_timeout_ms());
    cr_assert(ok, "%zu workers", nb);
    kc = lg_client_connect(port);
    rl_assert_200(lg_client_request(kc, "GET", "/", NULL, NULL, 0), "keep-alive before");
    rl_assert_200(lg_http_get(port, "/", NULL), "before the broken reload");

    mark = lg_proc_log_mark(lg);
    broken = rl_config(&c);
    lg_proc_write_config(lg, broken);
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reload failed: generation 1 keeps serving",
                               lg_test_timeout_ms()));
    log = lg_proc_log(lg) + mark;
    /* the error names the line and column where the unknown key starts */
    cr_assert_not_null(strstr(log, lg_fmt("reload failed: %s:%s: error: unknown key \"wieght\"",
                                          lg->config_path, rl_place(broken, "wieght"))),
                       "no error naming %s:%s in:\n%s", lg->config_path, rl_place(broken, "wieght"),
                       log);
    cr_assert_null(strstr(log, "reloaded:"), "%s", log);
    cr_assert_null(strstr(log, "generation 2"), "a new generation started:\n%s", log);
    /* the same workers serve, on the same connection too */
    rl_assert_200(lg_client_request(kc, "GET", "/", NULL, NULL, 0), "keep-alive after");
    rl_assert_200(lg_http_get(port, "/", NULL), "after the broken reload");
    na = lg_pid_children(lg->pid, after, 8);
    cr_assert_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        cr_assert(rl_pid_in(after[i], before, nb), "worker %d is new", (int)after[i]);

    /* a YAML syntax error: the flow sequence opened at 1:10 is not closed; libyaml notices at
     * 2:4 (the ':' after "log") */
    mark = lg_proc_log_mark(lg);
    lg_proc_write_config(lg, lg_fmt("workers: [2\n%s", strchr(rl_config(&c), '\n') + 1));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reload failed: generation 1 keeps serving",
                               lg_test_timeout_ms()));
    log = lg_proc_log(lg) + mark;
    cr_assert_not_null(
        strstr(log, lg_fmt("reload failed: %s:2:4: error: syntax error", lg->config_path)), "%s",
        log);
    rl_assert_200(lg_http_get(port, "/", NULL), "after the syntax error");

    /* the file fixed: the next reload works and is generation 2 */
    c.broken = 0;
    mark = lg_proc_log_mark(lg);
    lg_proc_write_config(lg, rl_config(&c));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2 serves with 2 workers",
                               lg_test_timeout_ms()));
    rl_assert_200(lg_http_get(port, "/", NULL), "after the good reload");
    lg_client_close(kc);
    rl_assert_only_generation(lg, 2, 2);
    rl_finish(lg, SIGTERM, "reload failed:");
}

/* ---- 5: a killed worker */

Test(reload, killed_worker_is_replaced, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 2, .origin = o->port};
    lg_proc_t *lg = rl_start(&c);
    int port = lg_proc_port(lg, "web");
    pid_t kids[8], victim, now[8];
    size_t n, mark;
    char *line;
    int ok;

    LG_WAIT_FOR(ok, lg_pid_children(lg->pid, kids, 8) == 2, lg_test_timeout_ms());
    cr_assert(ok);
    victim = kids[0];
    lg_sleep_ms(1100); /* older than the master's "keeps dying" threshold */
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(kill(victim, SIGKILL), 0);
    line = lg_fmt("(pid %d) killed by signal 9", (int)victim);
    cr_assert(lg_proc_wait_log(lg, mark, line, lg_test_timeout_ms()), "no \"%s\" in the log", line);
    LG_WAIT_FOR(ok, (n = lg_pid_children(lg->pid, now, 8)) == 2 && !rl_pid_in(victim, now, n),
                1000);
    cr_assert(ok, "the killed worker was not replaced within 1 s");
    for (size_t i = 0; i < n; i++) {
        if (!rl_pid_in(now[i], kids, 2))
            cr_assert(lg_proc_wait_log(lg, mark, lg_fmt("started, pid %d", (int)now[i]), 0),
                      "new worker %d not in the log", (int)now[i]);
    }
    for (int i = 0; i < 20; i++)
        rl_assert_200(lg_http_get(port, "/", NULL), "after the kill");
    cr_assert_eq(rl_zombies(lg->pid), 0);
    rl_finish(lg, SIGTERM, "killed by signal 9");
}

Test(reload, single_worker_killed_serves_the_queued_request, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 1, .origin = o->port};
    lg_proc_t *lg = rl_start(&c);
    int port = lg_proc_port(lg, "web");
    pid_t kids[4];
    lg_client_t *cl;
    lg_http_response_t *r;
    uint64_t t0, took;
    int ok;

    LG_WAIT_FOR(ok, lg_pid_children(lg->pid, kids, 4) == 1, lg_test_timeout_ms());
    cr_assert(ok);
    rl_assert_200(lg_http_get(port, "/", NULL), "before the kill");
    lg_sleep_ms(1100);
    t0 = lg_now_ms();
    cr_assert_eq(kill(kids[0], SIGKILL), 0);
    /* no worker now: the connection waits in the master's listen queue for the new one */
    cl = lg_client_connect(port);
    cr_assert_not_null(cl);
    lg_client_set_timeout(cl, 3000);
    r = lg_client_request(cl, "GET", "/", "Connection: close", NULL, 0);
    took = lg_now_ms() - t0;
    rl_assert_200(r, "request sent right after the kill");
    fprintf(stderr, "the first request after the kill took %llu ms\n", (unsigned long long)took);
    cr_assert(lg_proc_wait_log(lg, 0, "generation 1: worker 0 (pid", 0));
    rl_finish(lg, SIGTERM, "killed by signal 9");
}

/* ---- 6, 7: graceful and fast stop */

Test(reload, quit_waits_for_slow_request, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 2, .origin = o->port};
    lg_proc_t *lg = rl_start(&c);
    int port = lg_proc_port(lg, "web"), status, fd;
    lg_client_t *cl = lg_client_connect(port);
    lg_http_response_t *r;
    uint64_t t_quit, t_exit;
    size_t mark = lg_proc_log_mark(lg);
    char b[256];
    ssize_t n;

    cr_assert_not_null(cl);
    cr_assert_eq(
        lg_client_sendf(cl, "GET /delay/1500 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", port), 0);
    lg_sleep_ms(200);
    t_quit = lg_now_ms();
    cr_assert_eq(lg_proc_signal(lg, SIGQUIT), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "graceful stop", lg_test_timeout_ms()));

    /* new connections are refused, or closed without an answer */
    lg_sleep_ms(100); /* let the workers take the QUIT */
    fd = lg_tcp_connect(port);
    if (fd >= 0) {
        struct timeval tv = {.tv_sec = 3};

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        dprintf(fd, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
        n = recv(fd, b, sizeof(b), 0);
        cr_assert(n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK),
                  "a connection made after QUIT %s",
                  n > 0 ? "was answered" : "was left hanging (neither refused nor closed)");
        close(fd);
    }

    /* the slow request still completes */
    lg_client_set_timeout(cl, 5000);
    r = lg_client_read(cl, 0);
    rl_assert_200(r, "the request in flight at QUIT");
    status = lg_proc_wait_exit(lg, lg_test_timeout_ms());
    t_exit = lg_now_ms();
    if (status != 0)
        lg_proc_dump_log(lg);
    cr_assert_eq(status, 0, "master exit status %d after QUIT", status);
    cr_assert_geq(t_exit - t_quit, 1200, "the master exited before the slow request was done");
    /* it exited because the last request was done, not at the drain deadline (5 s) */
    cr_assert_null(strstr(lg_proc_log(lg) + mark, "drain deadline"),
                   "the master waited for the drain deadline; the response had \"Connection: "
                   "%s\":\n%s",
                   lg_http_header(r, "Connection") ? lg_http_header(r, "Connection") : "(none)",
                   lg_proc_log(lg) + mark);
    rl_finish(lg, SIGTERM, NULL);
}

Test(reload, term_stops_at_once, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 2, .origin = o->port};
    lg_proc_t *lg = rl_start(&c);
    int port = lg_proc_port(lg, "web"), status;
    lg_client_t *cl = lg_client_connect(port);
    lg_http_response_t *r;
    uint64_t t0;

    /* an idle keep-alive connection and one waiting for a slow answer */
    rl_assert_200(lg_client_request(cl, "GET", "/", NULL, NULL, 0), "keep-alive");
    lg_client_t *slow = lg_client_connect(port);
    cr_assert_eq(lg_client_sendf(slow, "GET /delay/5000 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    lg_sleep_ms(100);
    t0 = lg_now_ms();
    cr_assert_eq(lg_proc_signal(lg, SIGTERM), 0);
    status = lg_proc_wait_exit(lg, lg_test_timeout_ms());
    cr_assert_geq(status, 0, "the master still runs after TERM");
    cr_assert_eq(status, 0, "master exit status %d", status);
    fprintf(stderr, "TERM: exited after %llu ms\n", (unsigned long long)(lg_now_ms() - t0));
    cr_assert(lg_client_wait_close(cl, lg_test_timeout_ms()), "the idle connection stayed open");
    /* at once: the slow request (5 s at the origin) was not waited for, it got no answer */
    lg_client_set_timeout(slow, lg_test_timeout_ms());
    r = lg_client_read(slow, 0);
    cr_assert(r->status == 0 && (r->error == LG_HTTP_EOF || r->error == LG_HTTP_RESET),
              "the slow request got %d (%s) after TERM", r->status, lg_http_error_name(r->error));
    rl_finish(lg, SIGTERM, NULL);
}

/* ---- 8: lifeguard -s */

Test(reload, signal_command_with_pid_file, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    char *dir = lg_test_tempdir();
    char *pid_path = lg_fmt("%s/lifeguard.pid", dir), *out, *pidtext;
    rl_conf_t c = {.workers = 2, .origin = o->port, .pid = pid_path};
    lg_proc_t *lg = rl_start(&c);
    int port = lg_proc_port(lg, "web"), rc, ok;
    size_t mark;

    pidtext = lg_test_keep(lg_test_read_file(pid_path, NULL), NULL);
    cr_assert_not_null(pidtext, "no pid file %s", pid_path);
    cr_assert_eq(atoi(pidtext), lg->pid, "pid file holds \"%s\"", pidtext);

    /* reload */
    mark = lg_proc_log_mark(lg);
    rc = lg_lifeguard_run(rl_config(&c), "-s reload", &out);
    cr_assert_eq(rc, 0, "lifeguard -s reload: %d: %s", rc, out);
    cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2 serves with 2 workers",
                               lg_test_timeout_ms()));
    rl_assert_200(lg_http_get(port, "/", NULL), "after -s reload");
    rl_assert_only_generation(lg, 2, 2);

    /* quit: graceful stop, exit 0, the pid file is removed */
    rc = lg_lifeguard_run(rl_config(&c), "-s quit", &out);
    cr_assert_eq(rc, 0, "lifeguard -s quit: %d: %s", rc, out);
    cr_assert_eq(lg_proc_wait_exit(lg, 5000), 0);
    LG_WAIT_FOR(ok, access(pid_path, F_OK) != 0, lg_test_timeout_ms());
    cr_assert(ok, "the pid file is left after the master exited");
    rl_finish(lg, SIGTERM, NULL);

    /* stop with no master: the pid file is gone */
    rc = lg_lifeguard_run(rl_config(&c), "-s stop", &out);
    cr_assert_neq(rc, 0, "lifeguard -s stop without a pid file succeeded: %s", out);
    cr_assert_not_null(strstr(out, pid_path), "the error does not name the pid file: %s", out);
}

/*
 * A wrapper for LG_TEST_BINARY that runs lifeguard as nobody with XDG_RUNTIME_DIR=`run`. The
 * harness's temp dirs are 0700: it opens the one of the config (the last argument) to others.
 */
static char *rl_nobody_wrapper(const char *dir, const char *run)
{
    char *path = lg_test_write_file(
        dir, "as-nobody.sh",
        lg_fmt(
            "#!/bin/sh\n"
            "for last; do :; done\n"
            "chmod o+x \"$(dirname \"$last\")\"\n"
            "exec setpriv --reuid=%d --regid=%d --clear-groups env XDG_RUNTIME_DIR=%s %s \"$@\"\n",
            RL_NOBODY, RL_NOBODY, run, LG_BINARY));

    cr_assert_eq(chmod(path, 0755), 0);
    return lg_test_keep(path, NULL);
}

/*
 * With no pid_file key, the master writes the default pid file and `lifeguard -s` finds it. As
 * root the default is /run/lifeguard.pid, which every lifeguard on the machine shares, so this
 * runs as nobody, whose default is $XDG_RUNTIME_DIR/lifeguard.pid (the unit tests cover root's).
 */
Test(reload, signal_command_with_the_default_pid_file, .timeout = 60)
{
    lg_proc_t *o, *lg;
    char *dir, *run, *pid_path, *pidtext, *out, *yaml;
    rl_conf_t c = {.workers = 1};
    int rc, ok;
    size_t mark;

    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0)
        cr_skip_test("needs root and setpriv (util-linux) to run lifeguard as another user");
    o = lg_origin_start("--quiet");
    c.origin = o->port;
    dir = lg_test_tempdir();
    run = lg_test_tempdir();
    cr_assert_eq(chown(run, RL_NOBODY, RL_NOBODY), 0, "chown(%s): %s", run, strerror(errno));
    pid_path = lg_fmt("%s/lifeguard.pid", run);
    setenv("LG_TEST_BINARY", rl_nobody_wrapper(dir, run), 1);
    /* the comment keeps the harness from adding a pid_file */
    yaml = lg_fmt("# no pid_file: the default\n%s", rl_config(&c));

    lg = lg_lifeguard_start(yaml);
    pidtext = lg_test_keep(lg_test_read_file(pid_path, NULL), NULL);
    cr_assert_not_null(pidtext, "no pid file %s", pid_path);
    cr_assert_eq(atoi(pidtext), lg->pid, "pid file holds \"%s\"", pidtext);

    mark = lg_proc_log_mark(lg);
    rc = lg_lifeguard_run(yaml, "-s reload", &out);
    cr_assert_eq(rc, 0, "lifeguard -s reload: %d: %s", rc, out);
    cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2 serves with 1 workers",
                               lg_test_timeout_ms()),
              "%s", lg_proc_log(lg));
    rl_assert_200(lg_http_get(lg_proc_port(lg, "web"), "/", NULL), "after -s reload");

    rc = lg_lifeguard_run(yaml, "-s quit", &out);
    cr_assert_eq(rc, 0, "lifeguard -s quit: %d: %s", rc, out);
    cr_assert_eq(lg_proc_wait_exit(lg, 5000), 0);
    LG_WAIT_FOR(ok, access(pid_path, F_OK) != 0, lg_test_timeout_ms());
    cr_assert(ok, "the pid file is left after the master exited");
    unsetenv("LG_TEST_BINARY");
    rl_finish(lg, SIGTERM, NULL);
}

/*
 * The default pid file may be unwritable (a read-only container without /tmp): lifeguard serves
 * anyway and warns that `lifeguard -s` will not find it. Here XDG_RUNTIME_DIR is a directory
 * that nobody cannot write.
 */
Test(reload, unwritable_default_pid_file_only_warns, .timeout = 60)
{
    lg_proc_t *o, *lg;
    char *dir, *run, *yaml;
    rl_conf_t c = {.workers = 1};

    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0)
        cr_skip_test("needs root and setpriv (util-linux) to run lifeguard as another user");
    o = lg_origin_start("--quiet");
    c.origin = o->port;
    dir = lg_test_tempdir();
    run = lg_test_tempdir(); /* root's, mode 0700 */
    setenv("LG_TEST_BINARY", rl_nobody_wrapper(dir, run), 1);
    yaml = lg_fmt("# no pid_file: the default\n%s", rl_config(&c));

    lg = lg_lifeguard_start(yaml);
    cr_assert_eq(lg_log_count(lg_proc_log(lg), "no pid file"), 1, "%s", lg_proc_log(lg));
    cr_assert_not_null(strstr(lg_proc_log(lg),
                              lg_fmt("open() \"%s/lifeguard.pid\" failed (13: Permission denied): "
                                     "no pid file, `lifeguard -s` needs pid_file set to a writable "
                                     "path",
                                     run)),
                       "%s", lg_proc_log(lg));
    rl_assert_200(lg_http_get(lg_proc_port(lg, "web"), "/", NULL), "without a pid file");
    unsetenv("LG_TEST_BINARY");
    rl_finish(lg, SIGTERM, NULL);
}

Test(reload, signal_command_errors, .timeout = 60)
{
    char *dir = lg_test_tempdir();
    char *pid_path = lg_fmt("%s/stale.pid", dir), *out;
    rl_conf_t c = {.workers = 1, .origin = 9, .pid = pid_path};
    pid_t dead = fork();
    int rc, st;

    /* a stale pid file: the pid of a process that has exited */
    cr_assert_geq(dead, 0);
    if (dead == 0)
        _exit(0);
    cr_assert_eq(waitpid(dead, &st, 0), dead);
    free(lg_test_write_file(dir, "stale.pid", lg_fmt("%d\n", (int)dead)));
    rc = lg_lifeguard_run(rl_config(&c), "-s stop", &out);
    cr_assert_neq(rc, 0, "-s stop with a stale pid file succeeded: %s", out);
    cr_assert_not_null(strstr(out, pid_path), "the error does not name the pid file: %s", out);
    cr_assert_not_null(strstr(out, lg_fmt("%d", (int)dead)), "the error does not name the pid: %s",
                       out);
    cr_assert_null(strstr(out, "usage"), "%s", out);

    /* a pid file that holds no pid */
    free(lg_test_write_file(dir, "stale.pid", "garbage\n"));
    rc = lg_lifeguard_run(rl_config(&c), "-s reload", &out);
    cr_assert_neq(rc, 0, "-s reload with a garbage pid file succeeded: %s", out);
    cr_assert_not_null(strstr(out, pid_path), "%s", out);

    /* an unknown signal name */
    c.pid = pid_path;
    rc = lg_lifeguard_run(rl_config(&c), "-s restart", &out);
    cr_assert_neq(rc, 0, "-s restart succeeded: %s", out);
    cr_assert_not_null(strstr(out, "restart"), "%s", out);
}

/* ---- 9: no orphan: workers die with the master */

Test(reload, workers_die_with_the_master, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 3, .origin = o->port};
    lg_proc_t *lg = rl_start(&c);
    pid_t kids[8];
    size_t n;
    int ok;

    LG_WAIT_FOR(ok, (n = lg_pid_children(lg->pid, kids, 8)) == 3, lg_test_timeout_ms());
    cr_assert(ok);
    cr_assert_eq(lg_proc_signal(lg, SIGKILL), 0);
    for (size_t i = 0; i < n; i++) {
        LG_WAIT_FOR(ok, !lg_pid_alive(kids[i]), lg_test_timeout_ms());
        cr_assert(ok, "worker %d outlived the master", (int)kids[i]);
    }
    lg_proc_wait_exit(lg, 1000);
    lg_proc_stop(lg);
    cr_assert_eq(lg->strays, 0);
}

/* ---- port 0 listeners across a reload */

/*
 * Two listeners written as 127.0.0.1:0 are two sockets with two ports; a reload with the same
 * file keeps both, and both keep serving.
 */
Test(reload, two_port0_listeners_keep_their_sockets, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    rl_conf_t c = {.workers = 2, .origin = o->port, .api_port0 = 1};
    lg_proc_t *lg = rl_start(&c);
    int web = lg_proc_port(lg, "web"), api = lg_proc_port(lg, "api");
    size_t mark = lg_proc_log_mark(lg);
    lg_client_t *cl;

    cr_assert_neq(web, api);
    rl_assert_200(lg_http_get(web, "/", NULL), "web before");
    rl_assert_200(lg_http_get(api, "/", NULL), "api before");
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2", lg_test_timeout_ms()));
    lg_sleep_ms(300); /* the new workers are up (or dead) */
    cr_assert_eq(lg_proc_port(lg, "web"), web);
    cr_assert_eq(lg_proc_port(lg, "api"), api);
    for (int i = 0; i < 2; i++) {
        int port = i == 0 ? web : api;
        lg_http_response_t *r;

        cl = lg_client_connect(port);
        cr_assert_not_null(cl, "port %d refuses connections after the reload", port);
        lg_client_set_timeout(cl, 2000);
        r = lg_client_request(cl, "GET", "/", "Connection: close", NULL, 0);
        if (r->error != LG_HTTP_OK)
            lg_proc_dump_log(lg);
        rl_assert_200(r,
                      i == 0 ? "listener web after the reload" : "listener api after the reload");
        lg_client_close(cl);
    }
    rl_assert_only_generation(lg, 2, 2);
    rl_finish(lg, SIGTERM, NULL);
}
