/*
 * test_pools.c - backend pools through the real binary: active health checks (http, tcp,
 * expect_status), passive ejection, retries on another backend, 503 when no backend is left,
 * health state across a reload, and the balancers (weighted, hash by header, cookie and URI,
 * least_conn and p2c) seen by clients.
 *
 * Every origin answers `GET /` with its one-letter name, so the body tells which backend served.
 * The health checks are fast (interval 200ms, timeout 150ms, rise 2, fall 2) so that every
 * transition happens within a second. Backends that must come back are restarted on the port
 * they had (lg-origin --listen, SO_REUSEADDR).
 *
 * The load generator runs in threads with blocking sockets (3 s timeouts) and never calls the
 * harness (not thread-safe) nor criterion: each thread records every exchange (start and end
 * time, status, which origin answered) and the main thread checks them after joining.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lg_test.h"
#include "proxy_common.h"

/* ---- configuration */

#define PL_FALL 2
/* a timeout generous enough that checks pass on a machine loaded by parallel tests */
#define PL_HC "{type: http, path: /healthz, interval: 300ms, timeout: 280ms, rise: 2, fall: 2}"

#define PL_COOLDOWN_MS 5000 /* ms, the first passive ejection */

/*
 * A config with listener `web` routing everything to pool `app` of the backends
 * 127.0.0.1:ports[0..n), whose other keys are the NULL-terminated pairs "key", "value"
 * (balance, retries, health_check...).
 */
static lg_yaml_t *pl_conf(unsigned workers, const int *ports, size_t n, ...)
{
    lg_yaml_t *conf = lg_yaml_new();
    const char *key;
    va_list ap;

    lg_yaml_setf(conf, "workers", "%u", workers);
    lg_yaml_set(conf, "listeners.web.listen", "127.0.0.1:0");
    lg_yaml_add(conf, "listeners.web.routes", "{pool: app}");
    va_start(ap, n);
    while ((key = va_arg(ap, const char *)) != NULL)
        lg_yaml_set(conf, lg_fmt("pools.app.%s", key), va_arg(ap, const char *));
    va_end(ap);
    for (size_t i = 0; i < n; i++)
        lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", ports[i]);
    return conf;
}

/* Route path_prefix `prefix` of `web` to pool `pool`, before the catch-all route to `app`. */
static void pl_route(lg_yaml_t *conf, const char *prefix, const char *pool)
{
    lg_yaml_add_first(conf, "listeners.web.routes", "{path_prefix: %s, pool: %s}", prefix, pool);
}

/* Pool `name` with health_check `hc` and the single backend 127.0.0.1:port. */
static void pl_pool(lg_yaml_t *conf, const char *name, const char *hc, int port)
{
    lg_yaml_set(conf, lg_fmt("pools.%s.health_check", name), hc);
    lg_yaml_add(conf, lg_fmt("pools.%s.backends", name), "127.0.0.1:%d", port);
}

/* lg-origin named `name` on a given port (a restart), or on port 0 when port is 0. */
static lg_proc_t *pl_origin(const char *name, int port)
{
    if (port == 0)
        return lg_origin_startf("--name %s", name);
    return lg_origin_startf("--name %s --listen 127.0.0.1:%d", name, port);
}

/* ---- log helpers */

/* "backend app/127.0.0.1:PORT" */
static char *pl_be(const char *pool, int port)
{
    return lg_fmt("backend %s/127.0.0.1:%d ", pool, port);
}

/* Offset just past the first occurrence of `needle` at or after `from`; 0 when absent. */
static size_t pl_find(const char *log, size_t from, const char *needle)
{
    const char *s = strstr(log + from, needle);

    return s == NULL ? 0 : (size_t)(s - log) + strlen(needle);
}

/* Lines containing `needle` at or after byte `from`. */
static int pl_count_from(const char *log, size_t from, const char *needle)
{
    size_t len = strlen(log);

    return lg_log_count(from < len ? log + from : "", needle);
}

/* Lines of `log` that contain both `a` and `b`. */
static int pl_count_both(const char *log, const char *a, const char *b)
{
    int n = 0;

    for (const char *line = log; line != NULL && *line != '\0';) {
        const char *eol = strchr(line, '\n');
        size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);

        n += memmem(line, len, a, strlen(a)) != NULL && memmem(line, len, b, strlen(b)) != NULL;
        line = eol != NULL ? eol + 1 : NULL;
    }
    return n;
}

/* The first whole line of `log` that contains `needle` ("" when none). */
static char *pl_line(const char *log, const char *needle)
{
    const char *s = strstr(log, needle), *b, *e;

    if (s == NULL)
        return "";
    for (b = s; b > log && b[-1] != '\n'; b--)
        ;
    e = strchr(s, '\n');
    return lg_fmt("%.*s", (int)(e != NULL ? e - b : (long)strlen(b)), b);
}

/*
 * Wait for `needle` after `mark` (bounded by lg_test_timeout_ms() only: how soon it comes is not
 * what the tests check); on failure dump the log and fail. Returns the offset past it.
 */
static size_t pl_expect_log(lg_proc_t *lg, size_t mark, const char *needle)
{
    size_t at;

    if (!lg_proc_wait_log(lg, mark, needle, lg_test_timeout_ms())) {
        lg_proc_dump_log(lg);
        cr_assert_fail("no \"%s\" in the log", needle);
    }
    at = pl_find(lg_proc_log(lg), mark, needle);
    cr_assert_neq(at, 0);
    return at;
}

/*
 * Wait until generation 1 started its first worker, which the master does only once every
 * backend had its first check; then each of the NULL-terminated lines must be in the log
 * exactly once, before that point.
 */
static __attribute__((sentinel)) void pl_expect_first_verdicts(lg_proc_t *lg, ...)
{
    size_t started = pl_expect_log(lg, 0, "generation 1: worker 0 started");
    const char *log = lg_proc_log(lg), *needle;
    va_list ap;

    va_start(ap, lg);
    while ((needle = va_arg(ap, const char *)) != NULL) {
        size_t at = pl_find(log, 0, needle);

        cr_expect_eq(lg_log_count(log, needle), 1, "\"%s\" is not once in the log", needle);
        cr_expect(at != 0 && at < started, "\"%s\" not logged before the first worker started",
                  needle);
    }
    va_end(ap);
}

/* ---- the client side in the main thread (harness clients) */

/* The name of the origin that answered a 200 whose body must be "N\n". */
static char pl_name_of(const lg_http_response_t *r)
{
    lgt_assert_status(r, 200);
    cr_assert_eq(r->body_len, 2, "body \"%s\"", r->body);
    cr_assert_eq(r->body[1], '\n', "body \"%s\"", r->body);
    return r->body[0];
}

/* New connection, GET path with `headers`, 200 required: the origin's name. */
static char pl_get_name(int port, const char *path, const char *headers)
{
    return pl_name_of(lg_http_get(port, path, headers));
}

/* ---- load generator (threads; raw blocking sockets; no harness, no criterion) */

#define PL_THREADS    2
#define PL_MAX_EV     200000 /* per thread */
#define PL_IO_TIMEOUT 3000   /* ms */

enum { PK_OK, PK_CONNECT, PK_IO, PK_BAD, PK_STATUS, PK_KINDS };

static const char *const pl_kind_names[PK_KINDS] = {"ok", "connect", "io (reset, eof, timeout)",
                                                    "bad response", "status"};

typedef struct pl_ev {
    uint32_t start, end; /* ms since the load began */
    int16_t status;
    char name;     /* first byte of a 200 body: the origin */
    uint8_t kind;  /* PK_* */
    uint8_t fresh; /* on a new client connection (Connection: close) */
    uint8_t reused;
} pl_ev_t;

typedef struct pl_load pl_load_t;

typedef struct pl_thread {
    pl_load_t *L;
    pl_ev_t *ev;
    size_t n;
    pthread_t tid;
} pl_thread_t;

struct pl_load {
    int port;
    uint64_t t0;
    atomic_int stop;
    pl_thread_t th[PL_THREADS];
};

static void pl_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/*
 * GET / on *fd (a new connection when -1) and read the response, which lifeguard and lg-origin
 * always frame with Content-Length. With `close`, ask Connection: close. *fd is closed and set
 * to -1 whenever the connection cannot be reused. Returns PK_*.
 */
static int pl_exchange(int *fd, int port, int close_it, int *status, char *name)
{
    lg_load_response_t r;
    char req[256];
    int n, kind;

    *status = 0;
    *name = '?';
    if (*fd < 0 && (*fd = lg_tcp_connect_timeout(port, PL_IO_TIMEOUT)) < 0)
        return PK_CONNECT;
    n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: pools.test\r\n%s\r\n",
                 close_it ? "Connection: close\r\n" : "");
    kind = lg_load_exchange(*fd, req, (size_t)n, &r);
    *status = r.status;
    if (kind != LG_LOAD_OK) {
        pl_close(fd);
        return kind == LG_LOAD_BAD ? PK_BAD : PK_IO;
    }
    if (r.got - r.body == 2 && r.buf[r.body + 1] == '\n')
        *name = r.buf[r.body];
    if (close_it || r.server_close)
        pl_close(fd);
    return *status == 200 ? PK_OK : PK_STATUS;
}

/*
 * One client: a keep-alive connection that makes 20 requests and is then replaced, and every
 * third request on a new connection with Connection: close. A short pause between requests
 * keeps the load steady (a few thousand requests per second) on a 2-core machine.
 */
static void *pl_thread_main(void *arg)
{
    pl_thread_t *t = arg;
    pl_load_t *L = t->L;
    int ka = -1;
    unsigned j = 0, on_ka = 0;

    while (!atomic_load(&L->stop) && t->n < PL_MAX_EV) {
        pl_ev_t *e = &t->ev[t->n++];
        int fresh = j++ % 3 == 0, one = -1, status;
        char name;

        if (!fresh && on_ka >= 20) {
            pl_close(&ka);
            on_ka = 0;
        }
        e->fresh = (uint8_t)fresh;
        e->reused = (uint8_t)(!fresh && ka >= 0);
        e->start = (uint32_t)(lg_now_ms() - L->t0);
        e->kind = (uint8_t)pl_exchange(fresh ? &one : &ka, L->port, fresh, &status, &name);
        e->end = (uint32_t)(lg_now_ms() - L->t0);
        e->status = (int16_t)status;
        e->name = name;
        if (!fresh)
            on_ka = ka >= 0 ? on_ka + 1 : 0;
        pl_close(&one);
        usleep(300);
    }
    pl_close(&ka);
    return NULL;
}

static pl_load_t *pl_load_start(int port)
{
    pl_load_t *L = lg_test_keep(calloc(1, sizeof(*L)), NULL);

    L->port = port;
    L->t0 = lg_now_ms();
    for (int i = 0; i < PL_THREADS; i++) {
        L->th[i].L = L;
        L->th[i].ev = lg_test_keep(calloc(PL_MAX_EV, sizeof(pl_ev_t)), NULL);
        cr_assert_eq(pthread_create(&L->th[i].tid, NULL, pl_thread_main, &L->th[i]), 0);
    }
    return L;
}

static void pl_load_stop(pl_load_t *L)
{
    atomic_store(&L->stop, 1);
    for (int i = 0; i < PL_THREADS; i++)
        pthread_join(L->th[i].tid, NULL);
}

/* ms since the load began */
static uint32_t pl_at(const pl_load_t *L)
{
    return (uint32_t)(lg_now_ms() - L->t0);
}

typedef struct pl_sum {
    long total, ok, fail;
    long by_kind[PK_KINDS];
    long names[128]; /* 200 responses by origin name */
} pl_sum_t;

/* Sum of the exchanges that started in [from, to) ms. */
static pl_sum_t pl_sum(const pl_load_t *L, uint32_t from, uint32_t to)
{
    pl_sum_t s;

    memset(&s, 0, sizeof(s));
    for (int i = 0; i < PL_THREADS; i++) {
        for (size_t k = 0; k < L->th[i].n; k++) {
            const pl_ev_t *e = &L->th[i].ev[k];

            if (e->start < from || e->start >= to)
                continue;
            s.total++;
            s.by_kind[e->kind]++;
            if (e->kind == PK_OK) {
                s.ok++;
                s.names[(unsigned char)e->name & 127]++;
            } else {
                s.fail++;
            }
        }
    }
    return s;
}

/* Print every failed exchange (up to 20) to stderr, for a failing test's output. */
static void pl_print_failures(const pl_load_t *L)
{
    int shown = 0;

    for (int i = 0; i < PL_THREADS; i++) {
        for (size_t k = 0; k < L->th[i].n && shown < 20; k++) {
            const pl_ev_t *e = &L->th[i].ev[k];

            if (e->kind == PK_OK)
                continue;
            fprintf(stderr,
                    "  failed exchange: thread %d, %u..%u ms, %s, status %d, %s client "
                    "connection\n",
                    i, e->start, e->end, pl_kind_names[e->kind], e->status,
                    e->fresh    ? "new"
                    : e->reused ? "reused"
                                : "new keep-alive");
            shown++;
        }
    }
}

/* The end (ms since the load began) of the last exchange that failed; 0 when none did. */
static uint32_t pl_last_failure(const pl_load_t *L)
{
    uint32_t last = 0;

    for (int i = 0; i < PL_THREADS; i++)
        for (size_t k = 0; k < L->th[i].n; k++)
            if (L->th[i].ev[k].kind != PK_OK && L->th[i].ev[k].end > last)
                last = L->th[i].ev[k].end;
    return last;
}

/* Start (ms) of the first 200 from origin `name` that started at or after `from`; 0 if none. */
static uint32_t pl_first_from(const pl_load_t *L, char name, uint32_t from)
{
    uint32_t first = 0;

    for (int i = 0; i < PL_THREADS; i++) {
        for (size_t k = 0; k < L->th[i].n; k++) {
            const pl_ev_t *e = &L->th[i].ev[k];

            if (e->kind == PK_OK && e->name == name && e->start >= from &&
                (first == 0 || e->start < first))
                first = e->start;
        }
    }
    return first;
}

/* ---- 1, 2, 3: a backend stops (and comes back) under load */

/* Two origins a and b behind round_robin with fast http checks and `retries`. */
static lg_proc_t *pl_start_ab(lg_proc_t *a, lg_proc_t *b, unsigned retries)
{
    int ports[2] = {a->port, b->port};

    return lg_yaml_start(pl_conf(1, ports, 2, "balance", "round_robin", "retries",
                                 lg_fmt("%u", retries), "health_check", PL_HC, NULL));
}

/* The down line of backend app/PORT after `mark`; returns the offset past it. */
static size_t pl_wait_down(lg_proc_t *lg, size_t mark, int port)
{
    return pl_expect_log(lg, mark, lg_fmt("%sis down: ", pl_be("app", port)));
}

Test(pools, stopped_backend_under_load_fails_no_request, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *b = pl_origin("b", 0);
    lg_proc_t *lg = pl_start_ab(a, b, 1);
    int port = lg_proc_port(lg, "web"), bport = b->port;
    const char *log;
    pl_load_t *L;
    pl_sum_t before, after, all;
    uint32_t t_kill, t_down;
    size_t mark, down_at;

    L = pl_load_start(port);
    lg_sleep_ms(1000);
    mark = lg_proc_log_mark(lg);
    t_kill = pl_at(L);
    cr_assert_eq(lg_proc_stop(b), 0);
    down_at = pl_wait_down(lg, mark, bport);
    t_down = pl_at(L);
    while (pl_at(L) < t_kill + 2000)
        lg_sleep_ms(20);
    pl_load_stop(L);

    log = lg_proc_log(lg);
    all = pl_sum(L, 0, UINT32_MAX);
    before = pl_sum(L, 0, t_kill);
    after = pl_sum(L, t_down, UINT32_MAX);
    fprintf(stderr,
            "stop under load: %ld requests (a %ld, b %ld), killed at %u ms, down seen at %u ms, "
            "%ld after it (a %ld), %d refused connects logged, %d exchanges moved on, %d "
            "keep-alive retries\n",
            all.total, all.names['a'], all.names['b'], t_kill, t_down, after.total,
            after.names['a'], lg_log_count(log, lg_fmt("connect() to 127.0.0.1:%d ", bport)),
            lg_log_count(log, "trying another backend"), lg_log_count(log, "retrying"));
    if (all.fail != 0)
        pl_print_failures(L);
    cr_expect_eq(all.fail, 0, "%ld of %ld requests failed with retries: 1", all.fail, all.total);
    cr_expect_gt(before.names['a'], 50, "a served %ld before the stop", before.names['a']);
    cr_expect_gt(before.names['b'], 50, "b served %ld before the stop", before.names['b']);
    cr_expect_gt(after.total, 100, "only %ld requests after the down line", after.total);
    cr_expect_eq(after.names['a'], after.total, "after the down line: %ld of %ld from a",
                 after.names['a'], after.total);

    /* the transition line, as the operator reads it, at warn level */
    {
        char *down = pl_line(log, lg_fmt("%sis down: ", pl_be("app", bport)));

        cr_expect(strstr(down, "[warn]") != NULL, "down line: %s", down);
        cr_expect(strstr(down, lg_fmt("%sis down: connection refused (2 of 2)",
                                      pl_be("app", bport))) != NULL,
                  "down line: %s", down);
        cr_expect_eq(lg_log_count(log, lg_fmt("%sis down", pl_be("app", bport))), 1);
    }
    /* lifeguard stopped trying b once it was down (or ejected before) */
    cr_expect_eq(pl_count_from(log, down_at, lg_fmt("connect() to 127.0.0.1:%d ", bport)), 0,
                 "connects to the down backend after its down line");
    cr_expect_eq(pl_count_from(log, 0, lg_fmt("%sis up", pl_be("app", bport))), 1,
                 "b went up more than once");
    /*
     * b's failures as lifeguard saw them: refused connects, and exchanges b dropped as it stopped
     * (a connection it accepted, or the fresh one of a keep-alive retry, closed or reset when it
     * exited, before any response byte). Each moved the request on to a: no other error.
     */
    cr_expect_eq(lg_log_count(log, "trying another backend"),
                 pl_count_both(log, "trying another backend", lg_fmt("127.0.0.1:%d", bport)),
                 "a retry away from a backend other than b");
    if (all.fail != 0 || after.names['a'] != after.total)
        lg_proc_dump_log(lg);
    lg_lifeguard_finish(lg, "connect() to", "trying another backend");
}

Test(pools, restarted_backend_gets_traffic_back, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *b = pl_origin("b", 0);
    lg_proc_t *lg = pl_start_ab(a, b, 1);
    int port = lg_proc_port(lg, "web"), bport = b->port;
    pl_load_t *L;
    pl_sum_t all, tail, early, late;
    uint32_t t_restart, t_first_b;
    size_t mark, up_at;
    const char *log;

    L = pl_load_start(port);
    lg_sleep_ms(500);
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_stop(b), 0);
    mark = pl_wait_down(lg, mark, bport);
    lg_sleep_ms(300);

    t_restart = pl_at(L);
    b = pl_origin("b", bport);
    up_at = pl_expect_log(lg, mark, lg_fmt("%sis up (2 of 2 checks passed)", pl_be("app", bport)));
    lg_sleep_ms(1000);
    pl_load_stop(L);

    log = lg_proc_log(lg);
    all = pl_sum(L, 0, UINT32_MAX);
    tail = pl_sum(L, pl_at(L) - 800, UINT32_MAX);
    t_first_b = pl_first_from(L, 'b', t_restart);
    early = pl_sum(L, 0, t_restart);
    late = pl_sum(L, t_restart, UINT32_MAX);
    fprintf(stderr,
            "restart: %ld requests, b restarted at %u ms, first answer of b at %u ms (+%u ms); "
            "last 800 ms: a %ld, b %ld\n",
            all.total, t_restart, t_first_b, t_first_b - t_restart, tail.names['a'],
            tail.names['b']);
    if (all.fail != 0)
        pl_print_failures(L);
    /*
     * The stop itself may cost a 502 (the gap stopped_backend_under_load_fails_no_request
     * checks); from the restart on, nothing may fail.
     */
    cr_expect_leq(early.fail, 2, "%ld requests failed around the stop", early.fail);
    cr_expect_eq(early.fail, early.by_kind[PK_STATUS], "failures other than 502 at the stop");
    cr_expect_eq(late.fail, 0, "%ld of %ld requests failed after the restart", late.fail,
                 late.total);
    cr_assert_neq(t_first_b, 0, "b never answered after its restart");
    /* back to round robin between both */
    cr_expect_gt(tail.names['b'], tail.total / 3, "b %ld of %ld at the end", tail.names['b'],
                 tail.total);
    cr_expect_gt(tail.names['a'], tail.total / 3, "a %ld of %ld at the end", tail.names['a'],
                 tail.total);
    {
        char *up = pl_line(log + mark, lg_fmt("%sis up", pl_be("app", bport)));

        cr_expect(strstr(up, "[info]") != NULL, "up line: %s", up);
    }
    /* restarting b made one up line, and it was not ejected again */
    cr_expect_eq(pl_count_from(log, mark, lg_fmt("%sis up", pl_be("app", bport))), 1);
    cr_expect_eq(pl_count_from(log, up_at, lg_fmt("connect() to 127.0.0.1:%d ", bport)), 0);
    lg_lifeguard_finish(lg, "connect() to", "upstream closed the connection before responding");
}

Test(pools, without_retries_failures_stop_once_down, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *b = pl_origin("b", 0);
    lg_proc_t *lg = pl_start_ab(a, b, 0);
    int port = lg_proc_port(lg, "web"), bport = b->port;
    pl_load_t *L;
    pl_sum_t all, after;
    uint32_t t_kill, t_down, last_fail;
    size_t mark, down_at;

    L = pl_load_start(port);
    lg_sleep_ms(800);
    mark = lg_proc_log_mark(lg);
    t_kill = pl_at(L);
    cr_assert_eq(lg_proc_stop(b), 0);
    down_at = pl_wait_down(lg, mark, bport);
    t_down = pl_at(L);
    while (pl_at(L) < t_down + 1500)
        lg_sleep_ms(20);
    pl_load_stop(L);

    all = pl_sum(L, 0, UINT32_MAX);
    after = pl_sum(L, t_down, UINT32_MAX);
    last_fail = pl_last_failure(L);
    fprintf(stderr,
            "no retries: %ld requests, %ld failed (status %ld, io %ld), killed at %u ms, down "
            "seen at %u ms, last failure at %u ms\n",
            all.total, all.fail, all.by_kind[PK_STATUS], all.by_kind[PK_IO], t_kill, t_down,
            last_fail);
    pl_print_failures(L);
    /* the failures are 502s, and only a few: `fall` consecutive ones eject b */
    cr_expect_eq(all.fail, all.by_kind[PK_STATUS], "failures other than a status");
    cr_expect_leq(all.fail, 2 * PL_FALL + 2, "%ld failures before b was taken out", all.fail);
    cr_expect(last_fail == 0 || last_fail < t_down, "a failure at %u ms, after the down line",
              last_fail);
    cr_expect_eq(after.fail, 0);
    cr_expect_eq(after.names['a'], after.total);
    cr_expect_gt(after.total, 100);
    cr_expect_eq(pl_count_from(lg_proc_log(lg), down_at, lg_fmt("127.0.0.1:%d ", bport)), 0,
                 "b was still used after its down line");
    lg_lifeguard_finish(lg, "connect() to", "reading the response from",
                        "upstream closed the connection before responding");
}

/* ---- 4: no backend left */

Test(pools, all_backends_down_gives_503_then_back, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *b = pl_origin("b", 0);
    lg_proc_t *lg = pl_start_ab(a, b, 1);
    int port = lg_proc_port(lg, "web"), aport = a->port, bport = b->port;
    lg_http_response_t *r;
    lg_client_t *c;
    size_t mark;
    char seen[2] = {0, 0};

    /* a fresh start serves at once: the workers started after the first checks */
    for (int i = 0; i < 4; i++) {
        char n = pl_get_name(port, "/", NULL);

        cr_assert(n == 'a' || n == 'b');
        seen[n - 'a'] = 1;
    }
    cr_expect(seen[0] && seen[1]);

    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_stop(a), 0);
    cr_assert_eq(lg_proc_stop(b), 0);
    pl_wait_down(lg, mark, aport);
    pl_wait_down(lg, mark, bport);

    r = lg_http_get(port, "/", NULL);
    lgt_assert_status(r, 503);
    cr_assert_not_null(lg_http_header(r, "Retry-After"), "no Retry-After: %s", r->head);
    cr_expect_gt(atoi(lg_http_header(r, "Retry-After")), 0, "%s", r->head);
    /* on a keep-alive connection too, and it stays usable */
    c = lg_client_connect(port);
    for (int i = 0; i < 3; i++) {
        r = lg_client_request(c, "GET", "/x", NULL, NULL, 0);
        lgt_assert_status(r, 503);
        cr_assert_not_null(lg_http_header(r, "Retry-After"));
        if (r->closed)
            c = lg_client_connect(port);
    }

    mark = lg_proc_log_mark(lg);
    a = pl_origin("a", aport);
    b = pl_origin("b", bport);
    pl_expect_log(lg, mark, lg_fmt("%sis up (2 of 2 checks passed)", pl_be("app", aport)));
    pl_expect_log(lg, mark, lg_fmt("%sis up (2 of 2 checks passed)", pl_be("app", bport)));
    seen[0] = seen[1] = 0;
    for (int i = 0; i < 4; i++) {
        char n = pl_name_of(lg_client_request(c, "GET", "/", NULL, NULL, 0));

        cr_assert(n == 'a' || n == 'b');
        seen[n - 'a'] = 1;
    }
    cr_expect(seen[0] && seen[1]);
    cr_expect_eq(lg_log_count(lg_proc_log(lg), "connect() to"), 0,
                 "a backend known down was connected to");
    lg_lifeguard_finish(lg, "no backend of pool app is up");
}

/* ---- 5: reload */

Test(pools, health_state_survives_a_reload, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *b = pl_origin("b", 0), *d = pl_origin("d", 0);
    int ports[4] = {a->port, b->port, lg_test_free_port(), d->port};
    int bport = b->port, cport = ports[2], dport = d->port;
    lg_yaml_t *conf2 =
        pl_conf(1, ports, 4, "balance", "round_robin", "retries", "0", "health_check", PL_HC, NULL);
    lg_proc_t *lg = lg_yaml_start(pl_conf(1, ports, 2, "balance", "round_robin", "retries", "0",
                                          "health_check", PL_HC, NULL));
    int port = lg_proc_port(lg, "web");
    const char *log;
    size_t mark, gen2_at;
    long names[128] = {0};

    pl_expect_first_verdicts(lg, lg_fmt("%sis up (1 of 1 checks passed)", pl_be("app", bport)),
                             NULL);
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_stop(b), 0);
    pl_wait_down(lg, mark, bport);

    /*
     * Generation 2: a new route, and two new backends: c with nothing listening and d alive.
     * b stays down, c never gets traffic, d only after its first check.
     */
    mark = lg_proc_log_mark(lg);
    pl_route(conf2, "/v2/", "app");
    lg_proc_write_config(lg, lg_yaml_text(conf2));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    gen2_at = pl_expect_log(lg, mark, "reloaded: generation 2 serves");
    log = lg_proc_log(lg);
    {
        size_t d_up =
            pl_find(log, mark, lg_fmt("%sis up (1 of 1 checks passed)", pl_be("app", dport)));
        size_t c_not =
            pl_find(log, mark, lg_fmt("%sis not up yet: connection refused", pl_be("app", cport)));

        cr_expect_neq(d_up, 0, "no up line for the new backend d");
        cr_expect_lt(d_up, gen2_at, "d went up after generation 2 started serving");
        cr_expect_neq(c_not, 0, "no \"not up yet\" line for the new backend c");
        cr_expect_lt(c_not, gen2_at, "c was checked after generation 2 started serving");
    }
    for (int i = 0; i < 120; i++) {
        lg_http_response_t *r = lg_http_get(port, i % 2 ? "/v2/x" : "/", NULL);

        names[(unsigned char)pl_name_of(r) & 127]++;
    }
    fprintf(stderr, "after the reload: a %ld, d %ld, b %ld, c %ld\n", names['a'], names['d'],
            names['b'], names['c']);
    cr_expect_eq(names['a'] + names['d'], 120);
    cr_expect_gt(names['d'], 30, "the new live backend got %ld of 120", names['d']);

    /* Generation 3: the same file again; nothing changes state. */
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    pl_expect_log(lg, mark, "reloaded: generation 3 serves");
    for (int i = 0; i < 40; i++) {
        char n = pl_get_name(port, "/", NULL);

        cr_expect(n == 'a' || n == 'd', "origin %c answered", n);
    }

    log = lg_proc_log(lg);
    cr_expect_eq(lg_log_count(log, "connect() to"), 0, "a connect failed (to b or c)");
    cr_expect_eq(pl_count_from(log, 0, lg_fmt("%sis up", pl_be("app", bport))), 1,
                 "b went up again across a reload");
    cr_expect_eq(pl_count_from(log, 0, lg_fmt("%sis down", pl_be("app", bport))), 1,
                 "b went down again across a reload");
    cr_expect_eq(pl_count_from(log, 0, lg_fmt("%sis up", pl_be("app", cport))), 0);
    cr_expect_eq(pl_count_from(log, 0, lg_fmt("%sis up", pl_be("app", dport))), 1,
                 "d went up more than once");
    cr_expect_eq(pl_count_from(log, 0, lg_fmt("%sis not up yet", pl_be("app", cport))), 1,
                 "c was taken as new again in generation 3");
    lg_lifeguard_finish(lg, NULL);
}

/* ---- 6: balancers */

/*
 * Three origins a, b, c; returns lifeguard with pool `app` made of them, balance `balance` with
 * hash_key `hash_key` (or NULL) and fast http checks.
 */
static lg_proc_t *pl_start_abc(unsigned workers, const char *balance, const char *hash_key,
                               lg_proc_t **o)
{
    lg_yaml_t *conf;
    int ports[3];

    o[0] = pl_origin("a", 0);
    o[1] = pl_origin("b", 0);
    o[2] = pl_origin("c", 0);
    for (int i = 0; i < 3; i++)
        ports[i] = o[i]->port;
    conf = pl_conf(workers, ports, 3, "balance", balance, "health_check", PL_HC, NULL);
    if (hash_key != NULL)
        lg_yaml_set(conf, "pools.app.hash_key", hash_key);
    return lg_yaml_start(conf);
}

Test(pools, weighted_three_to_one, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *b = pl_origin("b", 0);
    lg_yaml_t *conf = pl_conf(2, NULL, 0, "balance", "weighted", "health_check", PL_HC, NULL);
    lg_proc_t *lg;
    lg_client_t *c;
    long names[128] = {0};
    int port;

    lg_yaml_add(conf, "pools.app.backends", "{address: 127.0.0.1:%d, weight: 3}", a->port);
    lg_yaml_add(conf, "pools.app.backends", "{address: 127.0.0.1:%d, weight: 1}", b->port);
    lg = lg_yaml_start(conf);
    port = lg_proc_port(lg, "web");
    c = lg_client_connect(port);

    /* half on new connections (either worker), half on one keep-alive connection */
    for (int i = 0; i < 400; i++) {
        lg_http_response_t *r =
            i % 2 ? lg_http_get(port, "/", NULL) : lg_client_request(c, "GET", "/", NULL, NULL, 0);

        names[(unsigned char)pl_name_of(r) & 127]++;
        if (r->closed)
            c = lg_client_connect(port);
    }
    fprintf(stderr, "weighted 3:1: a %ld, b %ld\n", names['a'], names['b']);
    cr_expect_eq(names['a'] + names['b'], 400);
    cr_expect(names['a'] >= 270 && names['a'] <= 330, "a got %ld of 400", names['a']);
    cr_expect(names['b'] >= 70 && names['b'] <= 130, "b got %ld of 400", names['b']);
    lg_lifeguard_finish(lg, NULL);
}

Test(pools, round_robin_spreads_evenly, .timeout = 60)
{
    lg_proc_t *o[3];
    lg_proc_t *lg = pl_start_abc(1, "round_robin", NULL, o);
    int port = lg_proc_port(lg, "web");
    long names[128] = {0};

    for (int i = 0; i < 300; i++)
        names[(unsigned char)pl_get_name(port, "/", NULL) & 127]++;
    fprintf(stderr, "round robin: a %ld, b %ld, c %ld\n", names['a'], names['b'], names['c']);
    cr_expect_eq(names['a'], 100);
    cr_expect_eq(names['b'], 100);
    cr_expect_eq(names['c'], 100);
    lg_lifeguard_finish(lg, NULL);
}

/*
 * For 30 keys, 4 requests each (new connections and one keep-alive connection, so both
 * workers): every key always reaches the same origin, and the keys use all three origins.
 * `headers_fmt` makes the request headers of key i (a format with one %d).
 */
static void pl_check_sticky(int port, const char *path_fmt, const char *headers_fmt,
                            const char *what)
{
    lg_client_t *c = lg_client_connect(port);
    long per[128] = {0};
    int used = 0;

    for (int k = 0; k < 30; k++) {
        const char *path = lg_fmt(path_fmt, k);
        const char *hdr = headers_fmt != NULL ? lg_fmt(headers_fmt, k) : NULL;
        char first = 0;

        for (int i = 0; i < 4; i++) {
            lg_http_response_t *r = i % 2 ? lg_http_get(port, path, hdr)
                                          : lg_client_request(c, "GET", path, hdr, NULL, 0);
            char n = pl_name_of(r);

            if (r->closed)
                c = lg_client_connect(port);
            if (first == 0)
                first = n;
            cr_expect_eq(n, first, "%s key %d: origin %c, then %c", what, k, first, n);
        }
        per[(unsigned char)first & 127]++;
    }
    for (int i = 'a'; i <= 'c'; i++)
        used += per[i] != 0;
    fprintf(stderr, "hash %s: a %ld, b %ld, c %ld keys\n", what, per['a'], per['b'], per['c']);
    cr_expect_eq(used, 3, "30 %s keys used %d of 3 origins", what, used);
}

Test(pools, hash_by_header_is_sticky, .timeout = 60)
{
    lg_proc_t *o[3];
    lg_proc_t *lg = pl_start_abc(2, "hash", "header:X-User", o);
    int port = lg_proc_port(lg, "web");
    char first = 0;

    pl_check_sticky(port, "/", "X-User: user-%d", "header");
    /* the header name is case-insensitive */
    for (int i = 0; i < 8; i++) {
        char n = pl_get_name(port, "/", i % 2 ? "x-user: user-7" : "X-USER: user-7");

        if (first == 0)
            first = n;
        cr_expect_eq(n, first);
    }
    cr_expect_eq(first, pl_get_name(port, "/", "X-User: user-7"));
    /*
     * Without the header: round robin (HAProxy's fallback), in each of the two workers; over 9
     * requests one worker serves at least 5, so every origin answers some.
     */
    {
        int seen[3] = {0, 0, 0};

        for (int i = 0; i < 9; i++)
            seen[pl_get_name(port, lg_fmt("/other/%d", i), NULL) - 'a'] = 1;
        cr_expect_eq(seen[0] + seen[1] + seen[2], 3,
                     "requests without X-User went to %d of 3 origins",
                     seen[0] + seen[1] + seen[2]);
    }
    lg_lifeguard_finish(lg, NULL);
}

Test(pools, hash_by_cookie_is_sticky, .timeout = 60)
{
    lg_proc_t *o[3];
    lg_proc_t *lg = pl_start_abc(2, "hash", "cookie:sid", o);
    int port = lg_proc_port(lg, "web");

    pl_check_sticky(port, "/", "Cookie: sid=s%d", "cookie");
    /* the same sid among other cookies (and one whose name ends in sid) goes to the same one */
    for (int k = 0; k < 10; k++) {
        char want = pl_get_name(port, "/", lg_fmt("Cookie: sid=s%d", k));

        cr_expect_eq(pl_get_name(port, "/", lg_fmt("Cookie: theme=dark; sid=s%d; lang=en", k)),
                     want, "key s%d among other cookies", k);
        cr_expect_eq(pl_get_name(port, "/", lg_fmt("Cookie: xsid=zz%d; sid=s%d", k, k)), want,
                     "key s%d after a cookie named xsid", k);
        cr_expect_eq(pl_get_name(port, "/", lg_fmt("Cookie: a=1\r\nX-Y: 1\r\nCookie: sid=s%d", k)),
                     want, "key s%d in a second Cookie header", k);
    }
    lg_lifeguard_finish(lg, NULL);
}

Test(pools, hash_by_uri_is_sticky, .timeout = 60)
{
    lg_proc_t *o[3];
    lg_proc_t *lg = pl_start_abc(2, "hash", "uri", o);
    int port = lg_proc_port(lg, "web");

    pl_check_sticky(port, "/item/%d", NULL, "uri");
    lg_lifeguard_finish(lg, NULL);
}

/*
 * least_conn and p2c with two backends: while a holds three slow requests, quick requests go to
 * b. a is alone at first (b's port has nothing listening) so that the slow ones all land on a.
 */
static void pl_check_least_busy(const char *balance)
{
    lg_proc_t *a = pl_origin("a", 0);
    int ports[2] = {a->port, lg_test_free_port()}, bport = ports[1];
    lg_proc_t *lg =
        lg_yaml_start(pl_conf(1, ports, 2, "balance", balance, "health_check", PL_HC, NULL));
    int port = lg_proc_port(lg, "web");
    lg_client_t *slow[5];
    lg_origin_stats_t st;
    lg_proc_t *b;
    long active;

    for (int i = 0; i < 3; i++) {
        slow[i] = lg_client_connect(port);
        cr_assert_eq(lg_client_sendf(slow[i], "GET /delay/6000 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    }
    active = lgt_wait_origin_active(a->port, 3, lg_test_timeout_ms());
    cr_assert_eq(active, 3, "a has %ld connections, expected the 3 slow requests", active);

    b = pl_origin("b", bport);
    pl_expect_log(lg, 0, lg_fmt("%sis up (2 of 2 checks passed)", pl_be("app", bport)));
    for (int i = 0; i < 20; i++)
        cr_expect_eq(pl_get_name(port, "/", NULL), 'b', "%s: quick request %d went to a", balance,
                     i);
    /* two more slow ones: b has fewer in flight than a, so both go to b */
    for (int i = 3; i < 5; i++) {
        slow[i] = lg_client_connect(port);
        cr_assert_eq(lg_client_sendf(slow[i], "GET /delay/4000 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        lgt_wait_origin_active(b->port, i - 2, lg_test_timeout_ms());
    }
    cr_assert_eq(lg_origin_stats(b->port, &st), 0);
    cr_expect_eq(st.active, 2, "%s: b has %ld connections in flight", balance, st.active);
    for (int i = 0; i < 20; i++)
        cr_expect_eq(pl_get_name(port, "/", NULL), 'b', "%s: quick request %d went to a (3 vs 2)",
                     balance, i);
    /* the picks above were made against 3 in flight on a: they still are */
    cr_assert_eq(lg_origin_stats(a->port, &st), 0);
    cr_assert_eq(st.active, 3, "the first slow requests ended during the test (a has %ld)",
                 st.active);
    for (int i = 0; i < 5; i++) {
        lg_client_set_timeout(slow[i], 10000);
        cr_expect_eq(pl_name_of(lg_client_read(slow[i], 0)), i < 3 ? 'a' : 'b');
    }
    lg_lifeguard_finish(lg, NULL);
}

Test(pools, least_conn_avoids_the_busy_backend, .timeout = 60)
{
    pl_check_least_busy("least_conn");
}

Test(pools, p2c_avoids_the_busy_backend, .timeout = 60)
{
    pl_check_least_busy("p2c");
}

/* ---- 7, 8: check types and expected statuses */

/*
 * Routes /alt/, /edge/, /over/ of `conf` to pools of the single backend 127.0.0.1:port whose
 * checks expect 500, get 399, get 400; start lifeguard.
 */
static lg_proc_t *pl_start_alt_edge_over(lg_yaml_t *conf, int port)
{
    static const char *const pools[][2] = {
        {"alt", "{path: /status/500, expect_status: 500, interval: 200ms, timeout: 150ms}"},
        {"edge", "{path: /status/399, interval: 200ms, timeout: 150ms}"},
        {"over", "{path: /status/400, interval: 200ms, timeout: 150ms}"},
    };

    for (int i = 0; i < 3; i++) {
        pl_route(conf, lg_fmt("/%s/", pools[i][0]), pools[i][0]);
        pl_pool(conf, pools[i][0], pools[i][1], port);
    }
    return lg_yaml_start(conf);
}

/* A listening socket that never accepts nor answers: a tcp check passes, an http one cannot. */
static int pl_mute_listener(int *port)
{
    int fd = lg_test_listen(4096, port); /* room for every check of the test */

    cr_assert_geq(fd, 0);
    return fd;
}

Test(pools, tcp_check_marks_closed_ports_down, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *c;
    int ports[2] = {a->port, lg_test_free_port()}, aport = a->port, cport = ports[1], mport;
    int mute = pl_mute_listener(&mport);
    const char *hc = "{type: tcp, interval: 200ms, timeout: 150ms, rise: 2, fall: 2}";
    lg_yaml_t *conf = pl_conf(1, ports, 2, "retries", "0", "health_check", hc, NULL);
    lg_proc_t *lg;
    int port;
    size_t mark;

    pl_route(conf, "/mute/", "mute");
    pl_pool(conf, "mute", hc, mport);
    pl_pool(conf, "mute_http", "{type: http, interval: 200ms, timeout: 150ms}", mport);
    lg = lg_yaml_start(conf);
    port = lg_proc_port(lg, "web");
    /* the first verdicts came before the workers */
    pl_expect_first_verdicts(lg, lg_fmt("%sis up (1 of 1 checks passed)", pl_be("app", aport)),
                             lg_fmt("%sis not up yet: connection refused", pl_be("app", cport)),
                             lg_fmt("%sis up (1 of 1 checks passed)", pl_be("mute", mport)),
                             lg_fmt("%sis not up yet: timed out", pl_be("mute_http", mport)), NULL);
    cr_expect_eq(lg_log_count(lg_proc_log(lg), lg_fmt("%sis up", pl_be("mute_http", mport))), 0,
                 "a socket that never answers passed an http check");
    for (int i = 0; i < 10; i++)
        cr_expect_eq(pl_get_name(port, "/", NULL), 'a');

    /* the closed port opens: up after `rise` passes, then it takes its share */
    mark = lg_proc_log_mark(lg);
    c = pl_origin("c", cport);
    pl_expect_log(lg, mark, lg_fmt("%sis up (2 of 2 checks passed)", pl_be("app", cport)));
    {
        long names[128] = {0};

        for (int i = 0; i < 10; i++)
            names[(unsigned char)pl_get_name(port, "/", NULL) & 127]++;
        cr_expect_eq(names['a'], 5);
        cr_expect_eq(names['c'], 5);
    }

    /* and the open one closes: down after `fall` failures */
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_stop(a), 0);
    pl_expect_log(lg, mark, lg_fmt("%sis down: connection refused (2 of 2)", pl_be("app", aport)));
    for (int i = 0; i < 10; i++)
        cr_expect_eq(pl_get_name(port, "/", NULL), 'c');
    cr_expect_eq(lg_log_count(lg_proc_log(lg), "connect() to"), 0);
    close(mute);
    (void)c;
    lg_lifeguard_finish(lg, NULL);
}

Test(pools, expect_status_decides, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0);
    int aport = a->port;
    lg_yaml_t *conf = pl_conf(1, &aport, 1, "health_check",
                              "{type: http, path: /status/500, interval: 200ms, timeout: 150ms, "
                              "rise: 2, fall: 2}",
                              NULL);
    lg_proc_t *lg = pl_start_alt_edge_over(conf, aport);
    int port = lg_proc_port(lg, "web");
    lg_http_response_t *r;
    size_t mark;

    pl_expect_first_verdicts(lg, lg_fmt("%sis not up yet: status 500", pl_be("app", aport)),
                             lg_fmt("%sis up (1 of 1 checks passed)", pl_be("alt", aport)),
                             lg_fmt("%sis up (1 of 1 checks passed)", pl_be("edge", aport)),
                             lg_fmt("%sis not up yet: status 400", pl_be("over", aport)), NULL);
    r = lg_http_get(port, "/", NULL);
    lgt_assert_status(r, 503);
    cr_expect_not_null(lg_http_header(r, "Retry-After"));
    lgt_assert_status(lg_http_get(port, "/over/x", NULL), 503);
    cr_expect_eq(pl_get_name(port, "/alt/x", NULL), 'a');
    cr_expect_eq(pl_get_name(port, "/edge/x", NULL), 'a');

    /* reloads change the check path: up once /healthz answers, down again on /status/500 */
    mark = lg_proc_log_mark(lg);
    lg_yaml_set(conf, "pools.app.health_check",
                "{path: /healthz, interval: 200ms, timeout: 150ms, rise: 2}");
    lg_proc_write_config(lg, lg_yaml_text(conf));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    pl_expect_log(lg, mark, lg_fmt("%sis up (2 of 2 checks passed)", pl_be("app", aport)));
    cr_expect_eq(pl_get_name(port, "/", NULL), 'a');

    mark = lg_proc_log_mark(lg);
    lg_yaml_set(conf, "pools.app.health_check",
                "{path: /status/500, interval: 200ms, timeout: 150ms, fall: 2}");
    lg_proc_write_config(lg, lg_yaml_text(conf));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    pl_expect_log(lg, mark, lg_fmt("%sis down: status 500 (2 of 2)", pl_be("app", aport)));
    r = lg_http_get(port, "/", NULL);
    lgt_assert_status(r, 503);
    cr_expect_not_null(lg_http_header(r, "Retry-After"));
    lg_lifeguard_finish(lg, "no backend of pool");
}

/* A reload that turns the checks of a down backend off makes it up: nothing would check it again.
 */
Test(pools, checks_turned_off_by_a_reload_bring_a_down_backend_up, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0);
    int aport = a->port;
    lg_yaml_t *conf =
        pl_conf(1, &aport, 1, "health_check",
                "{type: http, path: /status/500, interval: 200ms, timeout: 150ms}", NULL);
    lg_proc_t *lg = lg_yaml_start(conf);
    int port = lg_proc_port(lg, "web");
    size_t mark = lg_proc_log_mark(lg);

    pl_expect_log(lg, 0, lg_fmt("%sis not up yet: status 500", pl_be("app", aport)));
    lgt_assert_status(lg_http_get(port, "/", NULL), 503);
    lg_yaml_set(conf, "pools.app.health_check", "{type: none}");
    lg_proc_write_config(lg, lg_yaml_text(conf));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    pl_expect_log(lg, mark, "reloaded: generation 2 serves");
    /* until its worker has its stop signal, generation 1 may still accept (and answer 503) */
    pl_expect_log(lg, mark, "generation 1 drained");
    cr_expect_eq(pl_get_name(port, "/", NULL), 'a', "the unchecked backend stayed down");
    lg_lifeguard_finish(lg, "no backend of pool");
}

/* ---- passive ejection */

/* Without active checks: b is ejected after `fall` refused connects and returns at the end of
 * its 5 s cooldown, not before even though it listens again. */
Test(pools, ejection_without_checks_ends_with_the_cooldown, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *b = pl_origin("b", 0);
    int ports[2] = {a->port, b->port}, bport = b->port;
    lg_proc_t *lg = lg_yaml_start(
        pl_conf(1, ports, 2, "retries", "1", "health_check", "{type: none, fall: 2}", NULL));
    int port = lg_proc_port(lg, "web");
    uint64_t t_eject, dt, deadline;
    long names[128] = {0};
    size_t mark = lg_proc_log_mark(lg);
    int i, back;

    cr_assert_eq(lg_proc_stop(b), 0);
    /* no earlier than the ejection: every "since the ejection" below is a lower bound */
    t_eject = lg_now_ms();
    /* a few requests: two of them try b and are retried on a */
    for (i = 0; i < 6; i++)
        cr_expect_eq(pl_get_name(port, "/", NULL), 'a');
    pl_expect_log(lg, mark,
                  lg_fmt("%sejected for 5 s after 2 failures in a row (last: Connection refused)",
                         pl_be("app", bport)));
    b = pl_origin("b", bport);
    /* b listens again, but stays out until the cooldown is over */
    while (lg_now_ms() - t_eject < PL_COOLDOWN_MS) {
        char n = pl_get_name(port, "/", NULL);

        names[(unsigned char)n & 127]++;
        /* answered within the cooldown for sure: the request came before its end */
        if (lg_now_ms() - t_eject < PL_COOLDOWN_MS)
            cr_expect_eq(n, 'a', "b answered %llu ms after its ejection",
                         (unsigned long long)(lg_now_ms() - t_eject));
        lg_sleep_ms(50);
    }
    deadline = t_eject + PL_COOLDOWN_MS + (uint64_t)lg_test_timeout_ms();
    while (!(back = pl_get_name(port, "/", NULL) == 'b') && lg_now_ms() < deadline)
        lg_sleep_ms(50);
    dt = lg_now_ms() - t_eject;
    fprintf(stderr, "ejection without checks: b back %llu ms after its ejection line\n",
            (unsigned long long)dt);
    cr_expect(back, "b did not come back after its 5 s cooldown");
    cr_expect_eq(lg_log_count(lg_proc_log(lg), lg_fmt("connect() to 127.0.0.1:%d ", bport)), 2);
    lg_lifeguard_finish(lg, "connect() to");
}

/* A passive ejection is health state too: it carries over a reload. */
Test(pools, ejection_survives_a_reload, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0), *b = pl_origin("b", 0);
    int ports[2] = {a->port, b->port}, bport = b->port;
    lg_yaml_t *conf =
        pl_conf(1, ports, 2, "retries", "1", "health_check", "{type: none, fall: 2}", NULL);
    lg_proc_t *lg = lg_yaml_start(conf);
    int port = lg_proc_port(lg, "web");
    size_t mark = lg_proc_log_mark(lg);

    cr_assert_eq(lg_proc_stop(b), 0);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(pl_get_name(port, "/", NULL), 'a');
    pl_expect_log(lg, mark, lg_fmt("%sejected for 5 s after 2 failures", pl_be("app", bport)));

    mark = lg_proc_log_mark(lg);
    pl_route(conf, "/v2/", "app");
    lg_proc_write_config(lg, lg_yaml_text(conf));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    mark = pl_expect_log(lg, mark, "reloaded: generation 2 serves");
    for (int i = 0; i < 20; i++)
        cr_expect_eq(pl_get_name(port, i % 2 ? "/v2/" : "/", NULL), 'a');
    cr_expect_eq(pl_count_from(lg_proc_log(lg), mark, lg_fmt("127.0.0.1:%d", bport)), 0,
                 "generation 2 tried the ejected backend");
    lg_lifeguard_finish(lg, "connect() to");
}

/*
 * With active checks: a backend that passes its checks but resets requests is ejected after
 * `fall` failures, comes back after the cooldown once a check passed, and the next ejection
 * lasts twice as long.
 */
Test(pools, ejection_with_checks_ends_after_a_pass_and_doubles, .timeout = 60)
{
    lg_proc_t *a = pl_origin("a", 0);
    int aport = a->port;
    lg_proc_t *lg = lg_yaml_start(pl_conf(1, &aport, 1, "health_check", PL_HC, NULL));
    int port = lg_proc_port(lg, "web");
    size_t mark = lg_proc_log_mark(lg);
    uint64_t t_eject, dt;
    lg_http_response_t *r;

    /* no earlier than the ejection: every "since the ejection" below is a lower bound */
    t_eject = lg_now_ms();
    lgt_assert_status(lg_http_get(port, "/reset", NULL), 502);
    lgt_assert_status(lg_http_get(port, "/reset", NULL), 502);
    pl_expect_log(lg, mark,
                  lg_fmt("%sejected for 5 s after 2 failures in a row", pl_be("app", aport)));
    r = lg_http_get(port, "/", NULL);
    lgt_assert_status(r, 503);
    cr_expect_not_null(lg_http_header(r, "Retry-After"));
    /* still out while the checks pass: the cooldown runs first */
    lg_sleep_ms(3500);
    r = lg_http_get(port, "/", NULL);
    if (lg_now_ms() - t_eject < PL_COOLDOWN_MS) /* answered within the cooldown for sure */
        lgt_assert_status(r, 503);
    else
        cr_log_info("the request 3.5 s after the ejection came too late to tell");
    pl_expect_log(lg, mark,
                  lg_fmt("%sis back after its ejection: check passed", pl_be("app", aport)));
    dt = lg_now_ms() - t_eject;
    cr_expect_geq(dt, 4500, "back %llu ms after the ejection", (unsigned long long)dt);
    cr_expect_eq(pl_get_name(port, "/", NULL), 'a');

    mark = lg_proc_log_mark(lg);
    lgt_assert_status(lg_http_get(port, "/reset", NULL), 502);
    lgt_assert_status(lg_http_get(port, "/reset", NULL), 502);
    pl_expect_log(lg, mark,
                  lg_fmt("%sejected for 10 s after 2 failures in a row", pl_be("app", aport)));
    lgt_assert_status(lg_http_get(port, "/", NULL), 503);
    /* no down line: the active checks kept passing */
    cr_expect_eq(lg_log_count(lg_proc_log(lg), "is down"), 0);
    lg_lifeguard_finish(lg, "reading the response from", "sending the request to",
                        "no backend of pool", "upstream closed the connection before responding");
}

/* ---- a backend that accepts and closes without answering */

typedef struct pl_closer {
    int fd, port;
    atomic_int stop;
    atomic_long accepted;
    pthread_t tid;
} pl_closer_t;

static void *pl_closer_main(void *arg)
{
    pl_closer_t *cl = arg;
    char buf[4096];

    while (!atomic_load(&cl->stop)) {
        int c = accept(cl->fd, NULL, NULL);
        struct timeval tv = {.tv_sec = 1};

        if (c < 0)
            continue;
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)recv(c, buf, sizeof(buf), 0); /* the request head, then FIN without a response */
        close(c);
        atomic_fetch_add(&cl->accepted, 1);
    }
    return NULL;
}

static void pl_closer_stop(void *p)
{
    pl_closer_t *cl = p;

    atomic_store(&cl->stop, 1);
    shutdown(cl->fd, SHUT_RDWR); /* wakes accept() */
    pthread_join(cl->tid, NULL);
    close(cl->fd);
    free(cl);
}

static pl_closer_t *pl_closer_start(void)
{
    pl_closer_t *cl = calloc(1, sizeof(*cl));

    cr_assert_not_null(cl);
    cl->fd = pl_mute_listener(&cl->port);
    cr_assert_eq(pthread_create(&cl->tid, NULL, pl_closer_main, cl), 0);
    return lg_test_keep(cl, pl_closer_stop);
}

/*
 * A backend that stops (or crashes) while lifeguard connects to it accepts the connection and
 * closes it without answering. An idempotent request without a body that got no byte of
 * response goes to another backend (`retries: 1`), as nginx's proxy_next_upstream "error
 * timeout" does: the client never sees the 502.
 */
Test(pools, closed_before_any_response_goes_to_another_backend, .timeout = 60)
{
    pl_closer_t *cl = pl_closer_start();
    lg_proc_t *a = pl_origin("a", 0);
    int ports[2] = {cl->port, a->port};
    lg_proc_t *lg = lg_yaml_start(
        pl_conf(1, ports, 2, "retries", "1", "health_check", "{type: none, fall: 10}", NULL));
    int port = lg_proc_port(lg, "web");

    for (int i = 0; i < 6; i++) {
        lg_http_response_t *r = lg_http_get(port, "/", NULL);

        cr_expect_eq(r->status, 200, "GET %d: %d from the closing backend with retries: 1", i,
                     r->status);
    }
    cr_expect_geq(atomic_load(&cl->accepted), 1, "the closing backend was never tried");
    lg_lifeguard_finish(lg, "upstream closed the connection before responding");
}
