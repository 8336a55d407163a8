/*
 * test_ratelimit.c - routes' rate_limit through the real binary: one bucket per key shared by
 * both workers (a flood of 1,000 requests in a second at 100/s with burst 10 gets about 110
 * through, and the backend sees exactly those), another client's key untouched, 429 with
 * Retry-After on HTTP/1.1, HTTP/1.0 and HTTP/2, header keys (requests without the header share
 * one bucket), the counter in /metrics, and buckets starting full after a reload.
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/lg.h"
#include "proxy_common.h"

#define RL_RATE    100 /* per second */
#define RL_BURST   10
#define RL_FLOOD   1000 /* requests of the flooding client, spread over RL_SPAN_MS */
#define RL_SPAN_MS 1000
#define RL_CONNS   8 /* its keep-alive connections at once */
/*
 * Requests per connection: a new connection now and then, as clients do. A worker busy with a
 * request leaves the next arrival to the other (EPOLLEXCLUSIVE), so both take some of them.
 */
#define RL_PER_CONN 5
#define RL_OTHER    10 /* requests of the other client, one every RL_OTHER_MS */
#define RL_OTHER_MS 80

/* lifeguard (2 workers, debug log, admin) whose one route to the origin has `rate_limit`. */
static lg_proc_t *rl_start(const lg_proc_t *origin, const char *rate_limit, int http2)
{
    lg_yaml_t *conf = lg_yaml_single(origin->port);

    lg_yaml_set(conf, "workers", "2");
    lg_yaml_set(conf, "log.level", "debug");
    lg_yaml_set(conf, "admin.listen", "127.0.0.1:0");
    if (http2)
        lg_yaml_set(conf, "listeners.web.http2", "on");
    lg_yaml_set(conf, "listeners.web.routes", NULL);
    lg_yaml_add(conf, "listeners.web.routes", "{pool: app, rate_limit: %s}", rate_limit);
    return lg_yaml_start(conf);
}

/* A blocking keep-alive connection from `src` (127.0.0.x) to 127.0.0.1:port; -1 on failure. */
static int rl_connect_from(const char *src, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 10};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0)
        return -1;
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto fail;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

/* A client: `total` requests from `src` on `conns` connections, request i sent at i * gap_us. */
typedef struct rl_client {
    int port;
    const char *src;
    int conns, total;
    uint64_t gap_us;
    uint64_t t0_us;         /* when request 0 is due */
    atomic_int ok, limited; /* 200s, 429s */
    atomic_int retry_ok;    /* 429s with "Retry-After: 1" */
    atomic_int failed;      /* anything else: no answer, another status */
    uint64_t *sent_us;      /* when request i was sent (0: never) */
    atomic_int next_conn;
} rl_client_t;

static uint64_t rl_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One connection's share: requests k, k + conns, k + 2 * conns, ... each at its time. */
static void *rl_conn_run(void *arg)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: rl.test\r\n\r\n";
    rl_client_t *c = arg;
    int k = atomic_fetch_add(&c->next_conn, 1);
    int fd = rl_connect_from(c->src, c->port);
    lg_load_response_t *r = malloc(sizeof(*r));

    for (int i = k, n = 0; fd >= 0 && r != NULL && i < c->total; i += c->conns, n++) {
        uint64_t due = c->t0_us + (uint64_t)i * c->gap_us, now = rl_usec();

        if (due > now)
            usleep((useconds_t)(due - now));
        if (n > 0 && n % RL_PER_CONN == 0) {
            close(fd);
            if ((fd = rl_connect_from(c->src, c->port)) < 0) {
                atomic_fetch_add(&c->failed, 1);
                break;
            }
        }
        c->sent_us[i] = rl_usec();
        if (lg_load_exchange(fd, req, sizeof(req) - 1, r) != LG_LOAD_OK || r->server_close) {
            atomic_fetch_add(&c->failed, 1);
            break;
        }
        if (r->status == 200) {
            atomic_fetch_add(&c->ok, 1);
        } else if (r->status == 429) {
            atomic_fetch_add(&c->limited, 1);
            atomic_fetch_add(&c->retry_ok, strstr(r->buf, "\r\nRetry-After: 1\r\n") != NULL);
        } else {
            atomic_fetch_add(&c->failed, 1);
        }
    }
    if (fd >= 0)
        close(fd);
    free(r);
    return NULL;
}

/* Start the client's connections (threads) into th[]. */
static void rl_client_start(rl_client_t *c, pthread_t *th, uint64_t t0_us)
{
    c->t0_us = t0_us;
    c->sent_us = lg_test_keep(calloc((size_t)c->total, sizeof(*c->sent_us)), NULL);
    cr_assert_not_null(c->sent_us);
    for (int i = 0; i < c->conns; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, rl_conn_run, c), 0);
}

static int rl_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * How many of the client's requests a token bucket of `burst` refilled at `rate` per second
 * lets through, at the moments they were sent: what the flood should get, however its threads
 * kept to their schedule (a stalled client lets tokens overflow, a late one bunches requests).
 */
static int rl_bucket_model(rl_client_t *c, double rate, double burst, double *seconds)
{
    double tokens = burst;
    int passed = 0;

    qsort(c->sent_us, (size_t)c->total, sizeof(*c->sent_us), rl_cmp_u64);
    for (int i = 0; i < c->total; i++) {
        if (i > 0)
            tokens += (double)(c->sent_us[i] - c->sent_us[i - 1]) * rate / 1e6;
        tokens = tokens > burst ? burst : tokens;
        if (tokens >= 1) {
            tokens -= 1;
            passed++;
        }
    }
    *seconds = (double)(c->sent_us[c->total - 1] - c->sent_us[0]) / 1e6;
    return passed;
}

static void rl_client_join(rl_client_t *c, pthread_t *th)
{
    for (int i = 0; i < c->conns; i++)
        pthread_join(th[i], NULL);
}

/* The /metrics sample of route 1 of listener web. */
static double rl_limited_metric(lg_proc_t *lg)
{
    lg_http_response_t *r = lg_http_get(lg_proc_admin_port(lg), "/metrics", NULL);

    lgt_assert_status(r, 200);
    return lg_metric(r->body, "lifeguard_rate_limited_total", "listener=\"web\",route=\"1\"");
}

/*
 * 1,000 requests from 127.0.0.1 within a second on 8 connections, while 127.0.0.2 sends 10:
 * the flood gets burst + rate * seconds through (about 110), whichever worker took each
 * connection, and the other client all of its requests.
 */
Test(ratelimit, one_bucket_per_key_shared_by_the_workers, .timeout = 120)
{
    lg_proc_t *origin = lg_origin_start(NULL);
    lg_proc_t *lg =
        rl_start(origin, lg_fmt("{key: client_ip, rate: %d/s, burst: %d}", RL_RATE, RL_BURST), 0);
    rl_client_t flood = {.port = lg_proc_port(lg, "web"),
                         .src = "127.0.0.1",
                         .conns = RL_CONNS,
                         .total = RL_FLOOD,
                         .gap_us = RL_SPAN_MS * 1000u / RL_FLOOD};
    rl_client_t other = {.port = flood.port,
                         .src = "127.0.0.2",
                         .conns = 1,
                         .total = RL_OTHER,
                         .gap_us = RL_OTHER_MS * 1000u};
    pthread_t fth[RL_CONNS], oth[1];
    uint64_t t0 = rl_usec() + 50000; /* every connection is open by then */
    lg_origin_stats_t st;
    double seconds, expect;
    int w0, w1;
    char *log;

    rl_client_start(&flood, fth, t0);
    rl_client_start(&other, oth, t0);
    rl_client_join(&flood, fth);
    rl_client_join(&other, oth);

    expect = rl_bucket_model(&flood, RL_RATE, RL_BURST, &seconds); /* 110 in one second */
    cr_log_info("flood: %d passed, %d limited over %.3f s (expected %.1f)", flood.ok, flood.limited,
                seconds, expect);
    cr_assert_eq(flood.failed, 0, "%d requests of the flood failed", flood.failed);
    cr_assert_eq(flood.ok + flood.limited, RL_FLOOD);
    cr_assert(flood.ok >= expect * 0.9 && flood.ok <= expect * 1.1,
              "%d requests passed in %.3f s; %d/s with burst %d lets %.1f through", flood.ok,
              seconds, RL_RATE, RL_BURST, expect);
    cr_assert_eq(flood.retry_ok, flood.limited, "every 429 says Retry-After: 1");
    cr_assert_eq(other.ok, RL_OTHER, "the other client got %d of %d through (%d limited)", other.ok,
                 RL_OTHER, other.limited);

    /* what passed reached the backend, nothing else; the 429s are counted */
    cr_assert_eq(lg_origin_stats(origin->port, &st), 0);
    cr_assert_eq(st.requests, flood.ok + other.ok);
    cr_assert_eq(rl_limited_metric(lg), flood.limited);
    /* both workers answered some of the flood: the bucket is theirs together */
    log = lg_proc_log(lg);
    w0 = lg_log_count(log, "#w0: route 1 of listener web: rate limit reached");
    w1 = lg_log_count(log, "#w1: route 1 of listener web: rate limit reached");
    cr_log_info("429s by worker: %d and %d", w0, w1);
    cr_assert(w0 > 0 && w1 > 0, "one worker took every connection: nothing shows the sharing");
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(origin);
}

/* How a request of the table below is sent. */
enum { RL_KEEP, RL_HTTP10, RL_H2 };

/* A request with `headers` sent `how`: its status and Retry-After ("" when none). */
static int rl_send(int port, lg_client_t *keep, int how, const char *headers, char **retry)
{
    lg_http_response_t *r;
    const char *ra;
    char *out = NULL, *p;
    int status = 0;

    if (how == RL_H2) {
        lg_run_capture(lg_fmt("curl -s --http2-prior-knowledge -o /dev/null -D - %s "
                              "http://127.0.0.1:%d/",
                              headers[0] != '\0'
                                  ? lg_fmt("-H '%.*s'", (int)strcspn(headers, "\r"), headers)
                                  : "",
                              port),
                       &out);
        cr_assert(out != NULL && sscanf(out, "HTTP/2 %d", &status) == 1, "curl: %s", out);
        p = strstr(out, "retry-after: ");
        *retry = p != NULL ? lg_fmt("%.*s", (int)strcspn(p + 13, "\r\n"), p + 13) : "";
        return status;
    }
    if (how == RL_HTTP10) {
        keep = lg_client_connect(port);
        cr_assert_eq(lg_client_sendf(keep, "GET / HTTP/1.0\r\n%s\r\n", headers), 0);
        r = lg_client_read(keep, 0);
    } else {
        r = lg_client_request(keep, "GET", "/", headers, NULL, 0);
    }
    cr_assert_eq(r->error, LG_HTTP_OK, "%s: %s", headers, lg_http_error_name(r->error));
    ra = lg_http_header(r, "Retry-After");
    *retry = ra != NULL ? lg_fmt("%s", ra) : "";
    if (how == RL_KEEP)
        cr_assert(!r->closed, "a 429 keeps the connection, as a 404 does: %s", r->head);
    return r->status;
}

/*
 * key: header:X-User at 1/m with a burst of 2: each user has two requests, then 429 with
 * Retry-After: 60 on every protocol; requests without the header (or with it empty) share one
 * bucket; a 429 leaves the keep-alive connection open for the next request.
 */
Test(ratelimit, header_key_on_every_protocol, .timeout = 60)
{
    static const struct {
        int how;
        const char *headers;
        int status;
        const char *retry;
    } rows[] = {
        {RL_KEEP, "X-User: alice\r\n", 200, ""},
        {RL_H2, "X-User: alice\r\n", 200, ""},
        {RL_KEEP, "X-User: alice\r\n", 429, "60"},
        {RL_HTTP10, "X-User: alice\r\n", 429, "60"},
        {RL_H2, "X-User: alice\r\n", 429, "60"},
        {RL_KEEP, "X-User: bob\r\n", 200, ""},
        {RL_HTTP10, "X-User: bob\r\n", 200, ""},
        {RL_KEEP, "X-User: bob\r\n", 429, "60"},
        {RL_KEEP, "", 200, ""},
        {RL_HTTP10, "X-Other: alice\r\n", 200, ""},
        {RL_KEEP, "X-User:\r\n", 429, "60"},
        {RL_H2, "", 429, "60"},
        {RL_KEEP, "X-User: carol\r\n", 200, ""},
    };
    lg_proc_t *origin = lg_origin_start(NULL);
    lg_proc_t *lg = rl_start(origin, "{key: \"header:X-User\", rate: 1/m, burst: 2}", 1);
    int port = lg_proc_port(lg, "web"), limited = 0;
    lg_client_t *keep = lg_client_connect(port);
    lg_origin_stats_t st;

    for (size_t i = 0; i < LG_NELEMS(rows); i++) {
        char *retry;
        int status = rl_send(port, keep, rows[i].how, rows[i].headers, &retry);

        cr_assert_eq(status, rows[i].status, "row %zu (%s): status %d", i, rows[i].headers, status);
        cr_assert_str_eq(retry, rows[i].retry, "row %zu: Retry-After", i);
        limited += status == 429;
    }
    cr_assert_eq(lg_origin_stats(origin->port, &st), 0);
    cr_assert_eq(st.requests, (long)LG_NELEMS(rows) - limited, "only what passed reached it");
    cr_assert_eq(rl_limited_metric(lg), limited);
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(origin);
}

/* GET / from this host: its status. */
static int rl_get(int port)
{
    lg_http_response_t *r = lg_http_get(port, "/", NULL);

    cr_assert_eq(r->error, LG_HTTP_OK, "%s", lg_http_error_name(r->error));
    return r->status;
}

/*
 * A reload makes a new generation with new buckets: a client limited before gets its burst
 * again (docs/configuration.md says so), and the 429s counted before stay counted.
 */
Test(ratelimit, reload_starts_with_full_buckets, .timeout = 60)
{
    lg_proc_t *origin = lg_origin_start(NULL);
    lg_proc_t *lg = rl_start(origin, "{rate: 1/m, burst: 1}", 0);
    int port = lg_proc_port(lg, "web");
    size_t mark;

    cr_assert_eq(rl_get(port), 200);
    cr_assert_eq(rl_get(port), 429);
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "generation 1 drained", lg_test_timeout_ms()),
              "no reload");
    cr_assert_eq(rl_get(port), 200, "the new generation's bucket starts full");
    cr_assert_eq(rl_get(port), 429);
    cr_assert_eq(rl_limited_metric(lg), 2, "the first generation's 429 is still counted");
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(origin);
}
