/*
 * test_upstream.c - the keep-alive pool of backend connections (src/upstream/upstream.c):
 * connections to a real listening socket on 127.0.0.1, taken, given back, reused, limited by
 * keepalive.max_idle, dropped when the backend closes them or sends stray bytes, when their
 * member's address changes, at timeouts.upstream_idle, and all at once on drain; none to a
 * member DNS left without an address.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/loop.h"
#include "lg_test.h"
#include "upstream/upstream.h"

typedef struct fixture {
    int lfd; /* the backend's listening socket */
    int port;
    lg_config_t *cf;
    lg_shm_t *shm;
    lg_upstreams_t ups;
    lg_timerq_t idle_q, stop_q;
    lg_timer_t stop;
} fixture_t;

static fixture_t f;

static void listen_any(void)
{
    f.lfd = lg_test_listen(64, &f.port);
    cr_assert(f.lfd >= 0);
}

/* A worker's pools for one backend on f.port with `max_idle` and upstream_idle `idle`. */
static void setup_pool(unsigned max_idle, const char *idle)
{
    char *dir = lg_test_tempdir();
    char *path;
    lg_config_errors_t e = {0};

    listen_any();
    path = lg_test_write_file(
        dir, "lifeguard.yaml",
        lg_fmt("timeouts:\n  upstream_idle: %s\nlisteners:\n  web:\n    listen: 127.0.0.1:0\n"
               "    routes:\n      - pool: app\npools:\n  app:\n    keepalive:\n      max_idle: "
               "%u\n    health_check:\n      type: none\n    backends:\n"
               "      - address: 127.0.0.1:%d\n",
               idle, max_idle, f.port));
    f.cf = lg_config_load(path, &e);
    cr_assert_not_null(f.cf, "the test's configuration does not load");
    f.shm = lg_shm_new(f.cf, NULL, NULL);
    cr_assert_not_null(f.shm);
    cr_assert_eq(lg_loop_init(), LG_OK);
    cr_assert_eq(lg_timerq_init(&f.idle_q, f.cf->timeouts.upstream_idle), LG_OK);
    cr_assert_eq(lg_upstream_init(&f.ups, f.cf, f.shm, &f.idle_q), LG_OK);
}

static void teardown(void)
{
    if (f.lfd > 0)
        close(f.lfd);
}

static void fixture_default(void)
{
    setup_pool(2, "60s");
}

static lg_backend_t *backend(void)
{
    return &lg_upstream_pool(&f.ups, 0)->backends[0];
}

/* What an exchange does with its connection's events first: remember the readiness. */
static void fold_events(lg_io_t *io, uint32_t ev)
{
    lg_stream_events(&((lg_upconn_t *)(void *)io)->s, ev);
}

/* A connection from the pool, connected, and the backend's end of it. */
static lg_upconn_t *take(int *reused, int *peer)
{
    lg_upconn_t *u = lg_upconn_get(backend(), &f, fold_events, reused);

    cr_assert_not_null(u, "lg_upconn_get failed (%d)", errno);
    if (!*reused) {
        struct pollfd p = {.fd = u->s.sock.io.fd, .events = POLLOUT};

        cr_assert_eq(poll(&p, 1, lg_test_timeout_ms()), 1, "the connect did not complete");
        fold_events(&u->s.sock.io, EPOLLOUT); /* as the loop would report it */
        cr_assert_eq(lg_upconn_connected(u), LG_OK);
        *peer = accept(f.lfd, NULL, NULL);
        cr_assert(*peer >= 0);
    }
    return u;
}

static void stop_loop(lg_timer_t *t)
{
    LG_UNUSED(t);
    lg_loop_stop();
}

/* Run the loop for `ms` (events and timers of the pool happen meanwhile). */
static void run_for(lg_msec_t ms)
{
    cr_assert_eq(lg_timerq_init(&f.stop_q, ms), LG_OK);
    f.stop.handler = stop_loop;
    lg_timer_set(&f.stop_q, &f.stop);
    lg_loop_run();
}

/*
 * The backend end `peer` sees its connection closed: EOF, or a reset when lifeguard closed it
 * with the backend's bytes unread.
 */
static void assert_closed_by_proxy(int peer)
{
    struct pollfd p = {.fd = peer, .events = POLLIN};
    char byte;
    ssize_t n;

    cr_assert_eq(poll(&p, 1, lg_test_timeout_ms()), 1, "the pooled connection stayed open");
    n = recv(peer, &byte, 1, 0);
    cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "expected a close, recv gave %zd", n);
}

TestSuite(upstream, .init = fixture_default, .fini = teardown);

Test(upstream, a_released_connection_is_reused)
{
    int reused = -1, peer = -1, again = -1, unused;
    lg_upconn_t *u = take(&reused, &peer), *v;

    cr_assert_eq(reused, 0, "the first connection must be new");
    lg_upconn_release(u);
    cr_assert_eq(backend()->nidle, 1);
    v = take(&again, &unused);
    cr_assert_eq(again, 1, "the idle connection was not reused");
    cr_assert_eq(v, u);
    cr_assert_eq(v->requests, 1, "one exchange was counted on it");
    cr_assert_eq(backend()->nidle, 0);
}

Test(upstream, max_idle_closes_the_oldest)
{
    int r, peers[3];
    lg_upconn_t *u[3];

    for (int i = 0; i < 3; i++)
        u[i] = take(&r, &peers[i]);
    for (int i = 0; i < 3; i++)
        lg_upconn_release(u[i]);
    cr_assert_eq(backend()->nidle, 2, "keepalive.max_idle is 2");
    assert_closed_by_proxy(peers[0]);
    /* the most recently used one comes first */
    cr_assert_eq(take(&r, &peers[0]), u[2]);
    cr_assert_eq(r, 1);
}

Test(upstream, an_idle_connection_closed_by_the_backend_is_dropped)
{
    int r, peer;
    lg_upconn_t *u = take(&r, &peer);

    lg_upconn_release(u);
    close(peer);
    run_for(200);
    cr_assert_eq(backend()->nidle, 0, "the closed connection stayed in the pool");
    take(&r, &peer);
    cr_assert_eq(r, 0, "a connection the backend closed was handed out");
}

Test(upstream, stray_bytes_after_a_response_are_never_pooled)
{
    int r, peer;
    lg_upconn_t *u = take(&r, &peer);

    cr_assert_eq(send(peer, "X", 1, 0), 1);
    run_for(100); /* the byte arrives: the socket is readable */
    lg_upconn_release(u);
    cr_assert_eq(backend()->nidle, 0);
    assert_closed_by_proxy(peer);
}

Test(upstream, a_new_address_retires_idle_connections)
{
    int r, peer;
    lg_upconn_t *u = take(&r, &peer);
    struct sockaddr_storage ss;
    socklen_t len;

    lg_upconn_release(u);
    lg_be_addr(backend()->state, &ss, &len);
    lg_be_set_addr(backend()->state, (struct sockaddr *)&ss, len, 0); /* same address, new seq */
    take(&r, &peer);
    cr_assert_eq(r, 0, "a connection to the member's former address was reused");
}

/*
 * DNS can take a member's address between an exchange's pick and its connect: no socket is
 * made for an empty address, and the caller learns why (it picks another member).
 */
Test(upstream, a_member_without_an_address_gets_no_connection)
{
    int r;

    lg_be_set_addr(backend()->state, NULL, 0, 0);
    errno = 0;
    cr_assert_null(lg_upconn_get(backend(), &f, fold_events, &r));
    cr_assert_eq(errno, EDESTADDRREQ, "errno %d", errno);
}

Test(upstream, close_idle_empties_every_pool)
{
    int r, peers[2];
    lg_upconn_t *u0 = take(&r, &peers[0]), *u1 = take(&r, &peers[1]);

    lg_upconn_release(u0);
    lg_upconn_release(u1);
    lg_upstream_close_idle(&f.ups);
    cr_assert_eq(backend()->nidle, 0);
    assert_closed_by_proxy(peers[0]);
    assert_closed_by_proxy(peers[1]);
}

static void fixture_no_keepalive(void)
{
    setup_pool(0, "60s");
}

Test(upstream, max_idle_0_closes_on_release, .init = fixture_no_keepalive)
{
    int r, peer;

    lg_upconn_release(take(&r, &peer));
    cr_assert_eq(backend()->nidle, 0);
    assert_closed_by_proxy(peer);
}

static void fixture_short_idle(void)
{
    setup_pool(4, "100ms");
}

Test(upstream, upstream_idle_closes_a_pooled_connection, .init = fixture_short_idle)
{
    int r, peer;

    lg_upconn_release(take(&r, &peer));
    cr_assert_eq(backend()->nidle, 1);
    run_for(400);
    cr_assert_eq(backend()->nidle, 0, "the idle connection outlived timeouts.upstream_idle");
    assert_closed_by_proxy(peer);
}
