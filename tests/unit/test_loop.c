/*
 * test_loop.c - the worker's event loop (src/event/loop.c): timers fire in deadline order and
 * never before their duration by the loop's own clock, re-arming moves a timer to the tail, the
 * table holds 16 queues; posted work runs after the batch, in order, once, and what it posts
 * waits for the next round; fd handlers get their events; a closed connection is freed after
 * the batch (the proxy's deferred free); lg_loop_once runs one bounded round and counts what
 * it did. The loop is per process: every test starts with lg_loop_init() and criterion runs
 * each test in a process of its own.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/lg.h"
#include "event/loop.h"
#include "lg_test.h"

/* ---- what ran, in order, with the loop's clock when it ran */

#define MAX_SEEN 64

static struct {
    int id;
    lg_msec_t at;
} seen[MAX_SEEN];
static size_t nseen;

static void note(int id)
{
    cr_assert_lt(nseen, MAX_SEEN);
    seen[nseen].id = id;
    seen[nseen].at = lg_now;
    nseen++;
}

/* Position of `id` in seen[], -1 when it did not run. */
static int seen_at(int id)
{
    for (size_t i = 0; i < nseen; i++)
        if (seen[i].id == id)
            return (int)i;
    return -1;
}

static size_t seen_count(int id)
{
    size_t n = 0;

    for (size_t i = 0; i < nseen; i++)
        n += seen[i].id == id;
    return n;
}

static void assert_seen(const int *want, size_t n)
{
    cr_assert_eq(nseen, n, "%zu callbacks ran, expected %zu", nseen, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(seen[i].id, want[i], "callback %zu: %d ran, expected %d", i, seen[i].id,
                     want[i]);
}

/*
 * A fresh loop with a guard timer that stops it after the harness's bound on every wait
 * (lg_test_timeout_ms): a test whose expected events never come ends with "guard" in seen[]
 * instead of hanging. The guard takes one of the 16 queue slots.
 */
#define GUARD (-1)

static lg_timerq_t q_guard;
static lg_timer_t guard;

static void guard_fired(lg_timer_t *t)
{
    LG_UNUSED(t);
    note(GUARD);
    lg_loop_stop();
}

static void loop_start(void)
{
    cr_assert_eq(lg_loop_init(), LG_OK);
    nseen = 0;
    cr_assert_eq(lg_timerq_init(&q_guard, (lg_msec_t)lg_test_timeout_ms()), LG_OK);
    guard.handler = guard_fired;
    lg_timer_set(&q_guard, &guard);
}

static void loop_run(void)
{
    lg_loop_run();
    cr_assert_eq(seen_at(GUARD), -1, "the loop waited %d ms for an event that never came",
                 lg_test_timeout_ms());
}

/* ---- timers that note their id, and stop the loop once `timers_want` of them fired */

/* Zeroed before it is first armed: lg_timer_set() reads the links to unlink it first. */
typedef struct ttimer {
    lg_timer_t t;
    int id;
    lg_msec_t armed, dur; /* lg_now when armed, the duration of its queue */
    lg_msec_t fired;
} ttimer_t;

static size_t timers_fired, timers_want;

static void ttimer_fired(lg_timer_t *t)
{
    ttimer_t *tt = lg_container_of(t, ttimer_t, t);

    cr_assert(!lg_timer_armed(t), "timer %d is still armed in its handler", tt->id);
    tt->fired = lg_now;
    note(tt->id);
    if (++timers_fired == timers_want)
        lg_loop_stop();
}

static void ttimer_arm(lg_timerq_t *q, lg_msec_t dur, ttimer_t *tt, int id)
{
    tt->id = id;
    tt->t.handler = ttimer_fired;
    tt->armed = lg_now;
    tt->dur = dur;
    lg_timer_set(q, &tt->t);
}

/* Fired, and not before its duration by the loop's clock. */
static void assert_not_early(const ttimer_t *tt)
{
    cr_assert_neq(seen_at(tt->id), -1, "timer %d did not fire", tt->id);
    cr_assert_geq(tt->fired, tt->armed + tt->dur, "timer %d fired at %llu, armed at %llu for %llu",
                  tt->id, (unsigned long long)tt->fired, (unsigned long long)tt->armed,
                  (unsigned long long)tt->dur);
}

/* `a`'s deadline is earlier than `b`'s: `a` fired in an earlier iteration, or in the same one
 * (a late wake-up may expire both at once) but never in a later one. */
static void assert_fired_before(const ttimer_t *a, const ttimer_t *b)
{
    cr_assert_leq(a->fired, b->fired, "timer %d (deadline %llu) fired after timer %d (%llu)", a->id,
                  (unsigned long long)(a->armed + a->dur), b->id,
                  (unsigned long long)(b->armed + b->dur));
    if (a->fired < b->fired)
        cr_assert_lt(seen_at(a->id), seen_at(b->id));
}

Test(loop_timers, fire_in_deadline_order_never_early)
{
    lg_timerq_t q30, q10, q20;
    ttimer_t a = {0}, b = {0}, c = {0}, d = {0};

    loop_start();
    /* registered out of deadline order: the loop must wait for the soonest of every queue */
    cr_assert_eq(lg_timerq_init(&q30, 30), LG_OK);
    cr_assert_eq(lg_timerq_init(&q10, 10), LG_OK);
    cr_assert_eq(lg_timerq_init(&q20, 20), LG_OK);
    ttimer_arm(&q30, 30, &a, 1);
    ttimer_arm(&q20, 20, &c, 3);
    ttimer_arm(&q20, 20, &d, 4);
    ttimer_arm(&q10, 10, &b, 2);
    timers_want = 4;
    loop_run();

    cr_assert_eq(nseen, 4);
    assert_not_early(&a);
    assert_not_early(&b);
    assert_not_early(&c);
    assert_not_early(&d);
    assert_fired_before(&b, &c);
    assert_fired_before(&c, &a);
    /* one queue, one deadline: the order they were armed in */
    cr_assert_lt(seen_at(3), seen_at(4));
}

/* Re-arming moves a timer to the tail of its queue (or into another queue) with a new deadline. */
Test(loop_timers, rearm_moves_to_tail)
{
    lg_timerq_t q10, q20;
    ttimer_t a = {0}, b = {0}, c = {0}, x = {0};

    loop_start();
    /* q10 first: should a slow wake-up expire both queues, q10's timers still come first */
    cr_assert_eq(lg_timerq_init(&q10, 10), LG_OK);
    cr_assert_eq(lg_timerq_init(&q20, 20), LG_OK);
    ttimer_arm(&q10, 10, &a, 1);
    ttimer_arm(&q10, 10, &b, 2);
    ttimer_arm(&q10, 10, &c, 3);
    ttimer_arm(&q10, 10, &x, 4);
    ttimer_arm(&q10, 10, &a, 1); /* a again: now after c and x */
    ttimer_arm(&q20, 20, &x, 4); /* x moves to the other queue */
    timers_want = 4;
    loop_run();

    assert_seen((const int[]){2, 3, 1, 4}, 4);
    assert_not_early(&a);
    assert_not_early(&x);
}

/* A refreshed timer (an idle timeout pushed back by activity) fires a duration after the refresh.
 */
static ttimer_t refreshed;
static lg_timerq_t q_refresh;

static void refresh(lg_timer_t *t)
{
    ttimer_fired(t);
    ttimer_arm(&q_refresh, 20, &refreshed, refreshed.id);
}

Test(loop_timers, refresh_pushes_the_deadline_back)
{
    lg_timerq_t q5;
    ttimer_t step = {0};

    loop_start();
    /* q5 first: should a slow wake-up expire both, the refresh runs before the old deadline */
    cr_assert_eq(lg_timerq_init(&q5, 5), LG_OK);
    cr_assert_eq(lg_timerq_init(&q_refresh, 20), LG_OK);
    ttimer_arm(&q_refresh, 20, &refreshed, 1);
    ttimer_arm(&q5, 5, &step, 2);
    step.t.handler = refresh;
    timers_want = 2;
    loop_run();

    assert_seen((const int[]){2, 1}, 2);
    cr_assert_eq(refreshed.armed, step.fired);
    assert_not_early(&refreshed);
}

Test(loop_timers, del_of_unarmed_timer_is_harmless)
{
    lg_timerq_t q10;
    lg_timer_t never = {0};
    ttimer_t x = {0}, y = {0};

    loop_start();
    cr_assert_eq(lg_timerq_init(&q10, 10), LG_OK);
    lg_timer_del(&never);
    lg_timer_del(&never);
    cr_assert(!lg_timer_armed(&never));

    ttimer_arm(&q10, 10, &x, 1);
    ttimer_arm(&q10, 10, &y, 2);
    cr_assert(lg_timer_armed(&x.t));
    lg_timer_del(&x.t);
    lg_timer_del(&x.t);
    cr_assert(!lg_timer_armed(&x.t));
    timers_want = 1;
    loop_run();

    assert_seen((const int[]){2}, 1);
    cr_assert(!lg_timer_armed(&y.t));
    lg_timer_del(&y.t); /* fired, so no longer armed */
}

/* The master retimes its kill queue from the handler of its one timer. */
static lg_timerq_t q_retime;
static int retime_in_handler = LG_ERR;

static void retime_fired(lg_timer_t *t)
{
    retime_in_handler = lg_timerq_retime(&q_retime, 40);
    ttimer_fired(t);
}

Test(loop_timers, retime_only_an_empty_queue)
{
    ttimer_t t = {0};

    loop_start();
    cr_assert_eq(lg_timerq_init(&q_retime, 3600 * 1000), LG_OK);
    cr_assert_eq(lg_timerq_retime(&q_retime, 10), LG_OK);
    ttimer_arm(&q_retime, 10, &t, 1);
    cr_assert_eq(t.t.deadline, lg_now + 10);

    cr_assert_eq(lg_timerq_retime(&q_retime, 50), LG_ERR, "retimed under an armed timer");
    lg_timer_set(&q_retime, &t.t);
    cr_assert_eq(t.t.deadline, lg_now + 10, "the refused retime changed the duration");

    lg_timer_del(&t.t);
    cr_assert_eq(lg_timerq_retime(&q_retime, 5), LG_OK);
    ttimer_arm(&q_retime, 5, &t, 1);
    t.t.handler = retime_fired;
    timers_want = 1;
    loop_run();

    assert_not_early(&t);
    cr_assert_eq(retime_in_handler, LG_OK, "the queue of a timer that fired is not empty");
    ttimer_arm(&q_retime, 40, &t, 1);
    cr_assert_eq(t.t.deadline, lg_now + 40);
}

Test(loop_timers, seventeenth_queue_is_refused)
{
    lg_timerq_t q[LG_LOOP_MAXQUEUE + 1];

    cr_assert_eq(lg_loop_init(), LG_OK);
    memset(q, 0, sizeof(q));
    for (size_t i = 0; i < LG_LOOP_MAXQUEUE; i++)
        cr_assert_eq(lg_timerq_init(&q[i], 10), LG_OK, "queue %zu refused", i + 1);
    cr_assert_eq(lg_timerq_init(&q[LG_LOOP_MAXQUEUE], 10), LG_ERR);
    cr_assert(lg_timerq_ready(&q[LG_LOOP_MAXQUEUE - 1]));
    cr_assert(!lg_timerq_ready(&q[LG_LOOP_MAXQUEUE]), "a refused queue reads as registered");

    /* a new loop (a forked worker) starts with an empty table */
    cr_assert_eq(lg_loop_init(), LG_OK);
    cr_assert_eq(lg_timerq_init(&q[LG_LOOP_MAXQUEUE], 10), LG_OK);
}

/* ---- posted work */

typedef struct tpost {
    lg_posted_t p;
    int id;
    void (*then)(struct tpost *self); /* after noting its id */
} tpost_t;

static void tpost_run(lg_posted_t *p)
{
    tpost_t *tp = lg_container_of(p, tpost_t, p);

    note(tp->id);
    if (tp->then != NULL)
        tp->then(tp);
}

static void tpost_make(tpost_t *tp, int id, void (*then)(tpost_t *))
{
    memset(tp, 0, sizeof(*tp));
    tp->p.run = tpost_run;
    tp->id = id;
    tp->then = then;
}

static void stop_loop(tpost_t *tp)
{
    LG_UNUSED(tp);
    lg_loop_stop();
}

/* A socket pair whose end [0] is registered with `handler`; the peer [1] is the test's. */
typedef struct tfd {
    lg_io_t io;
    int peer;
    int id;
    uint32_t events; /* every event the handler got */
    char got[16];    /* what it read */
} tfd_t;

static void tfd_open(tfd_t *f, int id, lg_io_handler_t handler)
{
    int sv[2];

    memset(f, 0, sizeof(*f));
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    f->io.fd = sv[0];
    f->io.handler = handler;
    f->peer = sv[1];
    f->id = id;
    cr_assert_eq(lg_loop_add(&f->io, LG_EV_CONN), LG_OK);
}

static void tfd_send(tfd_t *f, const char *text)
{
    cr_assert_eq(write(f->peer, text, strlen(text)), (ssize_t)strlen(text));
}

static tpost_t post_a, post_b, post_c;

/* Reads what came, notes its id; the first one posts a, b, a again, c. */
static void posting_handler(lg_io_t *io, uint32_t ev)
{
    tfd_t *f = (tfd_t *)(void *)io;

    f->events |= ev;
    if (read(io->fd, f->got, sizeof(f->got) - 1) <= 0)
        return;
    note(f->id);
    if (f->id == 1) {
        lg_loop_post(&post_a.p);
        lg_loop_post(&post_b.p);
        lg_loop_post(&post_a.p);
        lg_loop_post(&post_c.p);
    }
}

Test(loop_posted, runs_after_the_batch_in_order_once)
{
    tfd_t f1, f2;

    loop_start();
    tpost_make(&post_a, 10, NULL);
    tpost_make(&post_b, 11, NULL);
    tpost_make(&post_c, 12, stop_loop);
    tfd_open(&f1, 1, posting_handler);
    tfd_open(&f2, 2, posting_handler);
    tfd_send(&f1, "one");
    tfd_send(&f2, "two"); /* both ready: one batch */
    loop_run();

    cr_assert_eq(nseen, 5);
    cr_assert_lt(seen_at(1), 2);
    cr_assert_lt(seen_at(2), 2);
    cr_assert_eq(seen[2].id, 10);
    cr_assert_eq(seen[3].id, 11);
    cr_assert_eq(seen[4].id, 12);
    cr_assert_eq(seen_count(10), 1, "an item posted twice ran %zu times", seen_count(10));
    cr_assert_str_eq(f1.got, "one");
    cr_assert_str_eq(f2.got, "two");
}

static tpost_t post_first, post_second, post_later;

/* Posts post_later and itself: both wait for the round after the current one. */
static void repost(tpost_t *tp)
{
    if (seen_count(tp->id) > 1)
        return;
    lg_loop_post(&post_later.p);
    lg_loop_post(&tp->p);
}

Test(loop_posted, work_posted_by_posted_work_runs_next_round)
{
    loop_start();
    tpost_make(&post_first, 1, repost);
    tpost_make(&post_second, 2, NULL);
    tpost_make(&post_later, 3, stop_loop);
    lg_loop_post(&post_first.p);
    lg_loop_post(&post_second.p);
    loop_run();

    assert_seen((const int[]){1, 2, 3, 1}, 4);
}

/* ---- fd handlers */

static void echo_handler(lg_io_t *io, uint32_t ev)
{
    tfd_t *f = (tfd_t *)(void *)io;

    f->events |= ev;
    if ((ev & EPOLLIN) && f->got[0] == '\0' && read(io->fd, f->got, sizeof(f->got) - 1) > 0) {
        note(f->id);
        close(f->peer); /* next: the peer's close */
        return;
    }
    if (ev & EPOLLRDHUP) {
        note(f->id + 1);
        lg_loop_stop();
    }
}

Test(loop_io, socket_handler_gets_its_events)
{
    tfd_t f;

    loop_start();
    tfd_open(&f, 1, echo_handler);
    tfd_send(&f, "ping");
    loop_run();

    assert_seen((const int[]){1, 2}, 2);
    cr_assert_str_eq(f.got, "ping");
    cr_assert(f.events & EPOLLOUT, "registered for output, never told it is writable");
    cr_assert(f.events & EPOLLRDHUP);
    close(f.io.fd);
}

static void counter_handler(lg_io_t *io, uint32_t ev)
{
    uint64_t v = 0;

    cr_assert(ev & EPOLLIN);
    cr_assert_eq(read(io->fd, &v, sizeof(v)), (ssize_t)sizeof(v));
    note((int)v);
}

/* The eventfd's handler gets its count; the deleted one stays silent until a timer stops the
 * loop (a stopped loop does not run again: lg_loop_run returns at once until lg_loop_init). */
Test(loop_io, eventfd_handler_and_del)
{
    lg_io_t ev = {.handler = counter_handler}, gone = {.handler = counter_handler};
    uint64_t three = 3, seven = 7;
    lg_timerq_t q20;
    ttimer_t stop = {0};

    loop_start();
    cr_assert_eq(lg_timerq_init(&q20, 20), LG_OK);
    ev.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    gone.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert(ev.fd >= 0 && gone.fd >= 0);
    cr_assert_eq(lg_loop_add(&ev, EPOLLIN | EPOLLET), LG_OK);
    cr_assert_eq(lg_loop_add(&gone, EPOLLIN | EPOLLET), LG_OK);
    lg_loop_del(&gone);
    cr_assert_eq(write(gone.fd, &seven, sizeof(seven)), (ssize_t)sizeof(seven));
    cr_assert_eq(write(ev.fd, &three, sizeof(three)), (ssize_t)sizeof(three));
    ttimer_arm(&q20, 20, &stop, 4);
    timers_want = 1;
    loop_run();

    assert_seen((const int[]){3, 4}, 2);
    cr_assert_eq(lg_loop_add(&(lg_io_t){.fd = -1}, LG_EV_CONN), LG_ERR);
    close(ev.fd);
    close(gone.fd);
}

/* ---- deferred free: what the proxy does with a connection closed during a batch */

enum { HANDLED = 100, IGNORED = 200, FREED = 300 };

typedef struct tconn {
    lg_io_t io;
    int id;
    int closed; /* fd closed, struct still valid until the posted free */
    int freed;  /* stands for free(): nothing may touch it afterwards */
    lg_posted_t posted;
    struct tconn *other;
} tconn_t;

static size_t nfreed;

static void tconn_free(lg_posted_t *p)
{
    tconn_t *c = lg_container_of(p, tconn_t, posted);

    cr_assert(c->closed, "posted free of a connection that is open");
    cr_assert(!c->freed, "connection %d freed twice", c->id);
    c->freed = 1;
    note(FREED + c->id);
    if (++nfreed == 2)
        lg_loop_stop();
}

static void tconn_close(tconn_t *c)
{
    if (c->closed)
        return;
    close(c->io.fd);
    c->closed = 1;
    lg_loop_post(&c->posted);
}

/* The first handler of the batch closes both connections (a tunnel's two sides). */
static void tconn_event(lg_io_t *io, uint32_t ev)
{
    tconn_t *c = (tconn_t *)(void *)io;

    LG_UNUSED(ev);
    cr_assert(!c->freed, "event handler ran on freed connection %d", c->id);
    if (c->closed) {
        note(IGNORED + c->id);
        return;
    }
    note(HANDLED + c->id);
    lg_loop_post(&c->posted); /* "continue after the batch", then closed: runs once, frees */
    tconn_close(c);
    tconn_close(c->other);
}

Test(loop_posted, closed_connection_is_freed_after_the_batch)
{
    tconn_t c[2];
    int peer[2], sv[2], first, second;

    loop_start();
    memset(c, 0, sizeof(c));
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        c[i].io.fd = sv[0];
        c[i].io.handler = tconn_event;
        c[i].id = i;
        c[i].posted.run = tconn_free;
        c[i].other = &c[1 - i];
        peer[i] = sv[1];
        cr_assert_eq(lg_loop_add(&c[i].io, LG_EV_CONN), LG_OK);
        cr_assert_eq(write(peer[i], "x", 1), 1);
    }
    loop_run();

    cr_assert_eq(nseen, 4);
    first = seen[0].id - HANDLED;
    second = 1 - first;
    cr_assert(first == 0 || first == 1, "the batch began with %d", seen[0].id);
    assert_seen((const int[]){HANDLED + first, IGNORED + second, FREED + first, FREED + second}, 4);
    close(peer[0]);
    close(peer[1]);
}

/* ---- one round at a time (lg_loop_once, for drivers such as fuzz/fuzz_h2.c) */

/* Reads what came and notes its id. */
static void reading_handler(lg_io_t *io, uint32_t ev)
{
    tfd_t *f = (tfd_t *)(void *)io;

    f->events |= ev;
    if ((ev & EPOLLIN) && read(io->fd, f->got, sizeof(f->got) - 1) > 0)
        note(f->id);
}

/*
 * A round handles what is ready and says how much it did: events, posted items, timers. With
 * nothing ready it returns 0 without waiting past max_wait_ms (the guard is far away), and it
 * runs again after lg_loop_stop(), which only ends lg_loop_run.
 */
Test(loop_once, counts_what_it_did_and_is_bounded)
{
    lg_timerq_t q20;
    ttimer_t t = {0};
    tpost_t p;
    tfd_t f;

    loop_start();
    tfd_open(&f, 1, reading_handler);
    cr_assert_geq(lg_loop_once(0), 1); /* the new socket is writable: its handler runs */
    cr_assert_eq(lg_loop_once(0), 0, "a round with nothing ready did something");
    lg_loop_stop();

    tfd_send(&f, "x");
    tpost_make(&p, 2, NULL);
    lg_loop_post(&p.p);
    cr_assert_eq(lg_loop_once(0), 2, "one event and one posted item");
    assert_seen((const int[]){1, 2}, 2);
    cr_assert_str_eq(f.got, "x");
    cr_assert_eq(lg_loop_once(0), 0);

    /* a timer due before max_wait_ms: the round waits for it, not longer */
    cr_assert_eq(lg_timerq_init(&q20, 20), LG_OK);
    ttimer_arm(&q20, 20, &t, 3);
    while (seen_at(3) < 0 && seen_at(GUARD) < 0)
        cr_assert_geq(lg_loop_once(lg_test_timeout_ms()), 0);
    cr_assert_eq(seen_at(GUARD), -1, "the timer did not fire");
    assert_not_early(&t);
    close(f.io.fd);
    close(f.peer);
}
