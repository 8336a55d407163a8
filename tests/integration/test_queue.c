/*
 * test_queue.c - backend protection through the real binary: a backend's max_connections holds
 * across workers, and the requests beyond it wait in the pool's queue (HTTP/1.1, HTTP/1.0 and
 * HTTP/2 clients), are answered 503 when the queue is full or after queue.timeout (with
 * Retry-After), and leave the counts right when their client goes away (a closed connection, a
 * reset HTTP/2 stream) or when a reload drains them.
 *
 * The backend is lg-origin: /delay/MS holds a request MS milliseconds, and its /stats says how
 * many /delay requests it held at once at most (delayed_peak), measured at the backend.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "lg_test.h"
#include "proxy_common.h"

#define Q_CLIENTS 20

/*
 * Listener `web` (HTTP/2 by prior knowledge too) and the admin listener; pool `app` is the one
 * backend at `port` with max_connections `max`, its queue `queue` (flow YAML, or NULL).
 */
static lg_yaml_t *q_conf(unsigned workers, int port, unsigned max, const char *queue)
{
    lg_yaml_t *conf = lg_yaml_single(port);

    lg_yaml_setf(conf, "workers", "%u", workers);
    lg_yaml_set(conf, "listeners.web.http2", "on");
    lg_yaml_set(conf, "admin.listen", "127.0.0.1:0");
    lg_yaml_set(conf, "pools.app.backends", NULL);
    lg_yaml_add(conf, "pools.app.backends", "{address: 127.0.0.1:%d, max_connections: %u}", port,
                max);
    if (queue != NULL)
        lg_yaml_set(conf, "pools.app.queue", queue);
    return conf;
}

static lg_fix_t q_start(unsigned workers, unsigned max, const char *queue)
{
    lg_proc_t *origin = lg_origin_start(NULL);

    return lg_fix_start_conf(origin, q_conf(workers, origin->port, max, queue));
}

static double q_metric(lg_fix_t *f, const char *name, const char *labels)
{
    lg_http_response_t *r = lg_http_get(lg_proc_admin_port(f->lg), "/metrics", NULL);

    lgt_assert_status(r, 200);
    return lg_metric(r->body, name, labels);
}

/* Wait (bounded) until the metric with `labels` equals `want`, then require it. */
static void q_expect_labels(lg_fix_t *f, const char *name, const char *labels, double want)
{
    double v = NAN;
    int ok;

    LG_WAIT_FOR(ok, (v = q_metric(f, name, labels)) == want, lg_test_timeout_ms());
    cr_assert(ok, "%s{%s} is %g, expected %g", name, labels, v, want);
}

static void q_expect(lg_fix_t *f, const char *name, double want)
{
    q_expect_labels(f, name, "pool=\"app\"", want);
}

/* Wait until the one backend counts `want` requests in progress. */
static void q_expect_active(lg_fix_t *f, double want)
{
    int port = f->origin->port;

    q_expect_labels(
        f, "lifeguard_backend_active_connections",
        lg_fmt("pool=\"app\",backend=\"127.0.0.1:%d\",host=\"127.0.0.1:%d\"", port, port), want);
}

static lg_origin_stats_t q_origin(lg_fix_t *f)
{
    lg_origin_stats_t st;

    cr_assert_eq(lg_origin_stats(f->origin->port, &st), 0);
    return st;
}

/* Wait until the origin holds `n` /delay requests. */
static void q_wait_delayed(lg_fix_t *f, long n)
{
    lg_origin_stats_t st = {0, 0, 0, -1, 0};
    int ok;

    LG_WAIT_FOR(ok, lg_origin_stats(f->origin->port, &st) == 0 && st.delayed == n,
                lg_test_timeout_ms());
    cr_assert(ok, "the origin holds %ld /delay requests, expected %ld", st.delayed, n);
}

/* A client that sent GET `path` and has not read the response yet. */
static lg_client_t *q_send(lg_fix_t *f, const char *path)
{
    lg_client_t *c = lg_client_connect(f->port);

    cr_assert_not_null(c);
    cr_assert_eq(lg_client_sendf(c, "GET %s HTTP/1.1\r\nHost: q.test\r\n\r\n", path), 0);
    return c;
}

/* A client whose GET `path` (a /delay) holds the backend's one slot. */
static lg_client_t *q_hold(lg_fix_t *f, const char *path)
{
    lg_client_t *c = q_send(f, path);

    q_wait_delayed(f, 1);
    return c;
}

static void q_read_status(lg_client_t *c, int status)
{
    lg_http_response_t *r = lg_client_read(c, 0);

    lgt_assert_status(r, status);
    lg_client_close(c);
}

/*
 * tests/support/h2_cancel.py with `args`: a stream reset 0.3 s after it was sent, then another
 * on the same connection, which must end with 200.
 */
static void q_h2_cancel(lg_fix_t *f, const char *args)
{
    char *out;

    cr_assert_eq(lg_run_capture(lg_fmt("timeout 30 /usr/bin/python3 %s/tests/support/h2_cancel.py "
                                       "--port %d --wait 0.3 %s 2>&1",
                                       LG_SOURCE_DIR, f->port, args),
                                &out),
                 0, "%s", out);
    cr_assert(strstr(out, "after=200") != NULL, "%s", out);
}

/* The backend never held two /delay requests at once, and lifeguard counts none in progress. */
static void q_assert_one_at_once(lg_fix_t *f)
{
    long peak = q_origin(f).delayed_peak;

    cr_assert_eq(peak, 1, "the backend held %ld requests at once", peak);
    q_expect_active(f, 0);
}

/*
 * The test: max_connections 2, two workers, 20 concurrent slow requests. The backend
 * never holds more than 2 at once, yet it did hold 2 (the limit is not a lock), and all 20 end
 * with 200.
 */
Test(queue, max_connections_holds_across_workers)
{
    lg_fix_t f = q_start(2, 2, "{max: 100, timeout: 20s}");
    lg_client_t *c[Q_CLIENTS];
    lg_origin_stats_t st;

    for (size_t i = 0; i < Q_CLIENTS; i++)
        c[i] = q_send(&f, "/delay/150");
    for (size_t i = 0; i < Q_CLIENTS; i++) {
        lg_client_set_timeout(c[i], 30000);
        q_read_status(c[i], 200);
    }
    st = q_origin(&f);
    cr_assert_eq(st.requests, Q_CLIENTS);
    cr_assert_eq(st.delayed_peak, 2, "the backend held %ld requests at once", st.delayed_peak);
    cr_assert_geq(q_metric(&f, "lifeguard_queued_total", "pool=\"app\""), Q_CLIENTS - 2);
    q_expect(&f, "lifeguard_queue_length", 0);
    lg_fix_finish(&f, NULL);
}

/* HTTP/2 streams of one connection wait like requests of many, and go in order. */
Test(queue, http2_streams_wait_for_a_slot)
{
    lg_fix_t f = q_start(1, 1, NULL);
    char *out;
    lg_origin_stats_t st;

    cr_assert_eq(lg_run_capture(lg_fmt("timeout 30 nghttp -n -s -m 8 http://127.0.0.1:%d/delay/100 "
                                       "2>&1",
                                       f.port),
                                &out),
                 0, "%s", out);
    cr_assert_eq(lg_log_count(out, " 200 "), 8, "%s", out);
    st = q_origin(&f);
    cr_assert_eq(st.requests, 8);
    cr_assert_eq(st.delayed_peak, 1, "the backend held %ld requests at once", st.delayed_peak);
    lg_fix_finish(&f, NULL);
}

/*
 * queue.max requests wait (here one, an HTTP/1.0 request without Host); the next is answered
 * 503 with Retry-After at once, and the waiting one is served when the slot frees.
 */
Test(queue, full_queue_answers_503_at_once)
{
    lg_fix_t f = q_start(1, 1, "{max: 1, timeout: 20s}");
    lg_client_t *a = q_hold(&f, "/delay/1000"), *b;
    lg_http_response_t *r;

    b = lg_client_connect(f.port);
    cr_assert_eq(lg_client_sendf(b, "GET /echo HTTP/1.0\r\n\r\n"), 0);
    q_expect(&f, "lifeguard_queue_length", 1);
    r = lg_http_get(f.port, "/", NULL);
    lgt_assert_status(r, 503);
    cr_assert_not_null(lg_http_header(r, "Retry-After"));
    q_read_status(a, 200);
    r = lg_client_read(b, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "version"), "HTTP/1.1");
    q_expect(&f, "lifeguard_queue_full_total", 1);
    q_expect(&f, "lifeguard_queued_total", 1);
    cr_assert_eq(lg_log_count(lg_proc_log(f.lg), "queue of pool app is full (queue.max 1)"), 1);
    lg_fix_finish(&f, NULL);
}

/* A request that waited queue.timeout is answered 503 with Retry-After; the holder is served. */
Test(queue, queue_timeout_answers_503_with_retry_after)
{
    lg_fix_t f = q_start(1, 1, "{timeout: 300ms}");
    lg_client_t *a = q_hold(&f, "/delay/3000");
    lg_http_response_t *r;

    r = lg_http_get(f.port, "/", NULL);
    lgt_assert_status(r, 503);
    cr_assert_not_null(lg_http_header(r, "Retry-After"));
    q_expect(&f, "lifeguard_queue_timeouts_total", 1);
    q_expect(&f, "lifeguard_queue_length", 0);
    cr_assert_eq(lg_log_count(lg_proc_log(f.lg), "within queue.timeout"), 1);
    q_read_status(a, 200);
    lg_fix_finish(&f, NULL);
}

/*
 * A client that goes away while its request waits leaves the queue and no slot behind: the
 * next request gets the backend as soon as it is free (not after the 3 s queue.timeout: a
 * leaked count would make it wait for a slot that never frees, then answer 503).
 */
Test(queue, client_gone_while_queued_leaves_counts_right)
{
    lg_fix_t f = q_start(2, 1, "{timeout: 3s}");
    lg_client_t *a = q_hold(&f, "/delay/500"), *b;

    b = q_send(&f, "/?gone");
    q_expect(&f, "lifeguard_queue_length", 1);
    lg_client_reset(b);
    q_expect(&f, "lifeguard_queue_length", 0);
    q_read_status(a, 200);
    lgt_assert_status(lg_http_get(f.port, "/delay/10", NULL), 200);
    cr_assert_eq(q_origin(&f).requests, 2, "the request of the client that left was sent");
    cr_assert_eq(q_metric(&f, "lifeguard_queue_timeouts_total", "pool=\"app\""), 0);
    lg_fix_finish(&f, NULL);
}

/*
 * A client that leaves after its whole request reached the backend keeps the backend's slot
 * taken until the backend answers (it still works on the request): the next request waits
 * instead of making the backend hold two at once, then is served.
 */
Test(queue, client_gone_after_sending_keeps_the_slot_until_the_backend_answers)
{
    lg_proc_t *origin = lg_origin_start(NULL);
    lg_yaml_t *conf = q_conf(1, origin->port, 1, "{timeout: 10s}");
    lg_fix_t f;
    lg_client_t *a, *b;
    size_t mark;

    lg_yaml_set(conf, "log.level", "debug");
    f = lg_fix_start_conf(origin, conf);
    a = q_hold(&f, "/delay/700");
    mark = lg_proc_log_mark(f.lg);
    lg_client_close(a);
    cr_assert(lg_proc_wait_log(f.lg, mark, "the slot stays taken", lg_test_timeout_ms()),
              "the worker did not keep the slot of the request whose client left");
    b = q_send(&f, "/delay/10");
    lg_client_set_timeout(b, 10000);
    q_read_status(b, 200);
    q_assert_one_at_once(&f);
    lg_fix_finish(&f, NULL);
}

/* The same for an HTTP/2 stream reset once its request reached the backend. */
Test(queue, http2_stream_reset_after_sending_keeps_the_slot)
{
    lg_fix_t f = q_start(1, 1, "{timeout: 10s}");

    q_h2_cancel(&f, "--first /delay/700 --then /delay/10");
    q_assert_one_at_once(&f);
    lg_fix_finish(&f, NULL);
}

/* An HTTP/2 stream reset while it waits leaves the queue; the next stream is served. */
Test(queue, http2_stream_reset_while_queued)
{
    lg_fix_t f = q_start(1, 1, "{timeout: 5s}");
    lg_client_t *a = q_hold(&f, "/delay/800");

    q_h2_cancel(&f, "");
    q_read_status(a, 200);
    q_expect(&f, "lifeguard_queue_length", 0);
    cr_assert_eq(q_origin(&f).requests, 2, "only the holder and stream 3 reach the backend");
    lg_fix_finish(&f, NULL);
}

/*
 * A reload while a request waits (/status.json shows it): the old generation serves its queue
 * before it exits.
 */
Test(queue, reload_drains_the_old_queue)
{
    lg_fix_t f = q_start(1, 1, "{timeout: 20s}");
    lg_client_t *a = q_hold(&f, "/delay/1000"), *b;
    size_t mark = lg_proc_log_mark(f.lg);
    lg_http_response_t *status;

    b = q_send(&f, "/?waiting");
    q_expect(&f, "lifeguard_queue_length", 1);
    status = lg_http_get(lg_proc_admin_port(f.lg), "/status.json", NULL);
    lgt_assert_status(status, 200);
    cr_assert(strstr(status->body, "\"queue\": {\"length\": 1, \"queued\": 1, \"timeouts\": 0, "
                                   "\"full\": 0}") != NULL,
              "%s", status->body);
    cr_assert_eq(lg_proc_signal(f.lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(f.lg, mark, "reloaded: generation 2", lg_test_timeout_ms()));
    q_read_status(a, 200);
    q_read_status(b, 200);
    cr_assert(
        lg_proc_wait_log(f.lg, mark, "worker 0 of generation 1 exiting", lg_test_timeout_ms()));
    lgt_assert_status(lg_http_get(f.port, "/", NULL), 200);
    lg_fix_finish(&f, NULL);
}

/*
 * A worker that dies holding a backend slot does not keep it: the master gives it back, so the
 * next request is served, not left to wait for a slot nobody will free (then 503 after 2 s).
 */
Test(queue, dead_worker_gives_its_slots_back)
{
    lg_fix_t f = q_start(1, 1, "{timeout: 2s}");
    lg_client_t *a = q_hold(&f, "/delay/8000");
    size_t mark = lg_proc_log_mark(f.lg);
    pid_t worker;

    cr_assert_eq(lg_pid_children(f.lg->pid, &worker, 1), 1);
    cr_assert_eq(kill(worker, SIGKILL), 0);
    cr_assert(lg_proc_wait_log(f.lg, mark, "worker 0 started", lg_test_timeout_ms()));
    lg_client_close(a);
    lgt_assert_status(lg_http_get(f.port, "/", NULL), 200);
    lg_fix_finish(&f, "killed by signal 9");
}

/*
 * A full primary is not a down one: the request waits for it rather than going to the backup
 * (which would defeat both keys), and is served by the primary once its slot frees.
 */
Test(queue, full_primary_does_not_spill_to_the_backup)
{
    lg_proc_t *origin = lg_origin_start(NULL), *backup = lg_origin_start("--name backup");
    lg_yaml_t *conf = q_conf(1, origin->port, 1, "{timeout: 20s}");
    lg_fix_t f;
    lg_client_t *a, *b;
    lg_http_response_t *r;

    lg_yaml_add(conf, "pools.app.backends", "{address: 127.0.0.1:%d, backup: true}", backup->port);
    f = lg_fix_start_conf(origin, conf);
    a = q_hold(&f, "/delay/600");
    b = q_send(&f, "/");
    q_expect(&f, "lifeguard_queue_length", 1);
    q_read_status(a, 200);
    r = lg_client_read(b, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "origin\n", "served by %s", r->body);
    lg_fix_finish(&f, NULL);
    lg_proc_stop(backup);
}
