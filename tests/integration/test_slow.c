/*
 * test_slow.c - slow clients must never hurt the backend or the other clients.
 *
 * A client that sends its body slowly is timed by timeouts.client_body alone (408, and the
 * backend is not blamed); a backend that does not answer a request it fully received is still a
 * 504 and a failure; a client that reads a large response slowly pins a bounded amount of kernel
 * memory on the backend connection; and slowloris, slow bodies and slow readers together leave
 * a monitor client served and no backend ejected (checked in /status.json).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_test.h"
#include "proxy_common.h"

#define GET_BIG "GET /size/256m HTTP/1.1\r\nHost: x\r\n\r\n"

/*
 * lifeguard in front of one origin, with an admin listener and the given timeouts (a YAML flow
 * map). Passive health only: health_check.fall (3) failures eject the backend.
 */
static lg_proc_t *slow_start(int port, const char *timeouts)
{
    lg_yaml_t *conf = lg_yaml_single(port);

    lg_yaml_set(conf, "admin.listen", "127.0.0.1:0");
    lg_yaml_set(conf, "timeouts", timeouts);
    lg_yaml_set(conf, "pools.app.retries", "0");
    return lg_yaml_start(conf);
}

/* The backend object of the only backend in /status.json (its text, harness-owned). */
static char *backend_json(lg_proc_t *lg)
{
    lg_http_response_t *r = lg_http_get(lg_proc_admin_port(lg), "/status.json", NULL);
    char *b;

    lgt_assert_status(r, 200);
    b = strstr(r->body, "\"address\"");
    cr_assert_not_null(b, "no backend in /status.json: %s", r->body);
    return lg_fmt("%s", b);
}

/* The backend is up, was never ejected and no failure was counted against it. */
static void assert_backend_untouched(lg_proc_t *lg)
{
    char *b = backend_json(lg);

    cr_expect(strstr(b, "\"state\": \"up\"") != NULL, "backend not up: %s", b);
    cr_expect(strstr(b, "\"failures\": 0,") != NULL, "failures counted: %s", b);
    cr_expect(strstr(b, "\"ejections\": 0,") != NULL, "backend ejected: %s", b);
}

/* One GET / on the monitor's keep-alive connection; 1 when it was a complete 200. */
static int monitor_ok(lg_client_t **m, int port)
{
    lg_http_response_t *r = lg_client_request(*m, "GET", "/", NULL, NULL, 0);
    int ok = r->error == LG_HTTP_OK && r->status == 200 && r->complete;

    if (r->error != LG_HTTP_OK || r->closed) {
        lg_client_close(*m);
        *m = lg_client_connect(port);
    }
    lg_http_response_free(r);
    return ok;
}

/* Send one byte without waiting; 0 when the peer is gone. */
static int send_byte(int fd, char ch)
{
    return send(fd, &ch, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 ||
           (errno == EAGAIN || errno == EWOULDBLOCK);
}

/*
 * Slow POST bodies: upstream_response is far shorter than the pauses of the clients, yet they
 * all get their answer, the monitor keeps getting 200 and the backend is never blamed.
 */
Test(slow, slow_bodies_never_eject_the_backend, .timeout = 60)
{
    enum { NSLOW = 4, BODY = 4, PAUSE_MS = 300 };
    lg_proc_t *o = lg_origin_start("--name app");
    lg_proc_t *lg = slow_start(o->port, "{upstream_response: 100ms, client_body: 10s}");
    int port = lg_proc_port(lg, "web");
    lg_client_t *slow[NSLOW], *m = lg_client_connect(port);
    int asked = 0, served = 0;

    for (int i = 0; i < NSLOW; i++) {
        slow[i] = lg_client_connect(port);
        cr_assert_eq(lg_client_sendf(slow[i],
                                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
                                     BODY),
                     0);
    }
    for (int b = 0; b < BODY; b++) {
        uint64_t until = lg_now_ms() + PAUSE_MS;

        while (lg_now_ms() < until) { /* the monitor is served meanwhile */
            asked++;
            served += monitor_ok(&m, port);
            lg_sleep_ms(20);
        }
        for (int i = 0; i < NSLOW; i++)
            cr_assert_eq(lg_client_send(slow[i], "x", 1), 0, "slow client %d cut off", i);
    }
    for (int i = 0; i < NSLOW; i++) {
        lg_http_response_t *r = lg_client_read(slow[i], 0);

        lgt_assert_status(r, 200);
        cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "4", "%s", r->body);
    }
    cr_assert_gt(asked, 0);
    cr_assert_eq(served, asked, "monitor: %d of %d requests served", served, asked);
    assert_backend_untouched(lg);
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(o);
}

/* A body that stops coming: 408 after client_body, the connection closed, no backend failure. */
Test(slow, stalled_body_gets_408, .timeout = 60)
{
    static const char *const heads[] = {
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    };
    lg_proc_t *o = lg_origin_start("--name app");
    lg_proc_t *lg = slow_start(o->port, "{upstream_response: 10s, client_body: 300ms}");
    int port = lg_proc_port(lg, "web");

    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        lg_client_t *c = lg_client_connect(port);
        lg_http_response_t *r;

        cr_assert_eq(lg_client_send(c, heads[i], strlen(heads[i])), 0);
        r = lg_client_read(c, 0);
        cr_assert_eq(r->status, 408, "case %zu: status %d (%s)", i, r->status,
                     lg_http_error_name(r->error));
        cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()), "case %zu: left open", i);
        lg_client_close(c);
    }
    cr_assert_eq(lgt_wait_origin_active(o->port, 0, lg_test_timeout_ms()), 0,
                 "the backend connections were not closed");
    cr_assert_eq(lg_log_count(lg_proc_log(lg), "client timed out sending the request body"), 2);
    assert_backend_untouched(lg);
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(o);
}

/* A backend that got the whole request and does not answer is a 504 and a failure: ejected. */
Test(slow, unanswered_full_request_is_504_and_counts, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--name app");
    lg_proc_t *lg = slow_start(o->port, "{upstream_response: 200ms, client_body: 10s}");
    int port = lg_proc_port(lg, "web");
    char *b;

    for (int i = 0; i < 3; i++) {
        lg_http_response_t *r = lg_http_request(port, "POST", "/hang", NULL, "abcd", 4);

        lgt_assert_status(r, 504);
    }
    b = backend_json(lg);
    cr_assert(strstr(b, "\"failures\": 3,") != NULL, "3 timeouts, not 3 failures: %s", b);
    cr_assert(strstr(b, "\"ejections\": 1,") != NULL, "not ejected after 3 timeouts: %s", b);
    cr_assert_eq(lg_log_count(lg_proc_log(lg), "timed out waiting for the response head"), 3);
    lg_lifeguard_finish(lg, "timed out waiting for the response head");
    lg_proc_stop(o);
}

/*
 * Bytes waiting in the receive queue of the established connection to 127.0.0.1:rport (only
 * lifeguard connects to that origin), -1 when there is none. ss(8) asks the kernel with a filter:
 * /proc/net/tcp lists every socket of the machine and takes seconds on a busy one.
 */
static long rx_queue_to(int rport)
{
    char *cmd = lg_fmt("ss -tnH state established '( dport = :%d )'", rport);
    FILE *f = popen(cmd, "r");
    long rxq = -1;

    cr_assert_not_null(f, "%s", cmd);
    if (fscanf(f, "%ld", &rxq) != 1)
        rxq = -1;
    pclose(f);
    return rxq;
}

/* The part of a response after its head that `got` bytes hold, checked against the pattern. */
static size_t check_body_prefix(const char *got, size_t len)
{
    const char *end = memmem(got, len, "\r\n\r\n", 4);
    size_t body;

    cr_assert_not_null(end, "no response head in %zu bytes", len);
    cr_assert(strncmp(got, "HTTP/1.1 200", 12) == 0, "%.*s", (int)(end - got), got);
    body = len - (size_t)(end + 4 - got);
    for (size_t i = 0; i < body; i++)
        cr_assert_eq(end[4 + i], lg_pattern_byte(i), "body byte %zu differs", i);
    return body;
}

/*
 * A client reading a 256 MiB response at ~1.6 MB/s: the backend connection's receive queue
 * stays about 2 MiB (it grew to 3.6-27 MiB with the kernel's autotuning), the bytes are right.
 */
Test(slow, slow_reader_pins_bounded_backend_buffer, .timeout = 60)
{
    enum { READ = 16384, TICK_MS = 10, TICKS = 150, SAMPLE = 10, BOUND = 5 << 19 /* 2.5 MiB */ };
    lg_fix_t f = lg_fix_start("--name app --quiet", NULL);
    int fd = lg_tcp_connect(f.port), small = 65536;
    static char got[READ * TICKS];
    size_t len = 0;
    long rxq, worst = -1;

    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    cr_assert_eq(send(fd, GET_BIG, strlen(GET_BIG), MSG_NOSIGNAL), (ssize_t)strlen(GET_BIG));
    for (int i = 0; i < TICKS; i++) {
        ssize_t n = recv(fd, got + len, READ, 0);

        cr_assert_gt(n, 0, "the response stopped after %zu bytes", len);
        len += (size_t)n;
        if (i % SAMPLE == SAMPLE - 1) {
            rxq = rx_queue_to(f.origin->port);
            worst = rxq > worst ? rxq : worst;
        }
        lg_sleep_ms(TICK_MS);
    }
    cr_assert_gt(check_body_prefix(got, len), 0);
    cr_assert_geq(worst, 0, "no connection to the backend was seen");
    cr_assert_leq(worst, BOUND, "%ld bytes wait on the backend connection", worst);
    close(fd);
    lg_fix_finish(&f, NULL);
    lg_proc_stop(f.origin);
}

/* The three slow attacks at once, bounded in connections and time. */
typedef struct attack {
    lg_client_t *loris[20]; /* a request head, one byte per tick, never finished */
    lg_client_t *body[10];  /* a 40-byte POST body, one byte per tick */
    int read_fd[4];         /* GET of 256 MiB, 4 KiB read per tick */
    size_t read_len[4];
} attack_t;

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void attack_start(attack_t *a, int port)
{
    for (size_t i = 0; i < NELEM(a->loris); i++) {
        a->loris[i] = lg_client_connect(port);
        cr_assert_eq(lg_client_sendf(a->loris[i], "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "), 0);
    }
    for (size_t i = 0; i < NELEM(a->body); i++) {
        a->body[i] = lg_client_connect(port);
        cr_assert_eq(
            lg_client_sendf(a->body[i],
                            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"),
            0);
    }
    for (size_t i = 0; i < NELEM(a->read_fd); i++) {
        int small = 65536;

        a->read_fd[i] = lg_tcp_connect(port);
        cr_assert_geq(a->read_fd[i], 0);
        setsockopt(a->read_fd[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        cr_assert_eq(send(a->read_fd[i], GET_BIG, strlen(GET_BIG), MSG_NOSIGNAL),
                     (ssize_t)strlen(GET_BIG));
        a->read_len[i] = 0;
    }
}

/* One tick of every attacker: the slowloris byte (ignored once cut off), the body byte. */
static void attack_tick(attack_t *a, int tick)
{
    char sink[4096];

    for (size_t i = 0; i < NELEM(a->loris); i++)
        send_byte(lg_client_fd(a->loris[i]), 'a');
    if (tick < 40) {
        for (size_t i = 0; i < NELEM(a->body); i++)
            cr_assert(send_byte(lg_client_fd(a->body[i]), 'b'), "slow body %zu cut off", i);
    }
    for (size_t i = 0; i < NELEM(a->read_fd); i++) {
        ssize_t n = recv(a->read_fd[i], sink, sizeof(sink), MSG_DONTWAIT);

        if (n > 0)
            a->read_len[i] += (size_t)n;
    }
}

/*
 * slowloris, slow bodies and slow readers with short timeouts (client_header 1s, client_body 1s,
 * upstream_response 200ms): the monitor gets every answer, the slowloris heads get 408, the
 * slow bodies get their answer, the readers their bytes, and the backend is never blamed.
 */
Test(slow, slow_attacks_leave_others_served, .timeout = 90)
{
    enum { TICK_MS = 50, TICKS = 60 };
    lg_proc_t *o = lg_origin_start("--name app --quiet");
    lg_proc_t *lg = slow_start(o->port, "{client_header: 1s, client_body: 1s, "
                                        "upstream_response: 200ms}");
    int port = lg_proc_port(lg, "web");
    lg_client_t *m = lg_client_connect(port);
    static attack_t a;
    int asked = 0, served = 0;

    attack_start(&a, port);
    for (int tick = 0; tick < TICKS; tick++) {
        attack_tick(&a, tick);
        asked++;
        served += monitor_ok(&m, port);
        lg_sleep_ms(TICK_MS);
    }
    cr_assert_eq(served, asked, "monitor: %d of %d requests served", served, asked);
    for (size_t i = 0; i < NELEM(a.loris); i++) {
        lg_http_response_t *r = lg_client_read(a.loris[i], 0);

        cr_assert_eq(r->status, 408, "slowloris %zu: status %d (%s)", i, r->status,
                     lg_http_error_name(r->error));
    }
    for (size_t i = 0; i < NELEM(a.body); i++) {
        lg_http_response_t *r = lg_client_read(a.body[i], 0);

        lgt_assert_status(r, 200);
        cr_assert_str_eq(lg_echo_field(r->body, "body-length"), "40", "%s", r->body);
    }
    for (size_t i = 0; i < NELEM(a.read_fd); i++) {
        cr_assert_gt(a.read_len[i], 0, "slow reader %zu got nothing", i);
        close(a.read_fd[i]);
    }
    assert_backend_untouched(lg);
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(o);
}
