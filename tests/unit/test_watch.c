/*
 * test_watch.c - the life of a watcher's set (src/health/watch.c), in a real event loop:
 * every item is stepped at once and then every tick, a set that is replaced or stopped has
 * its sockets closed and is stepped no more, and a tick that cannot get a timer queue fails
 * the start.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/loop.h"
#include "health/watch.h"

#define TICK_MS 10
#define ROUNDS  3

typedef struct item {
    lg_watch_item_t w;
    int steps;
} item_t;

static size_t stepped; /* steps of every item, all sets together */

static void count_step(void *it)
{
    item_t *i = it;

    i->steps++;
    stepped++;
}

/* Stops the loop once the item was stepped ROUNDS times. */
static void stop_step(void *it)
{
    count_step(it);
    if (((item_t *)it)->steps == ROUNDS)
        lg_loop_stop();
}

static int fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* A set of `n` items, item 0 busy on a socket whose number goes to *fd. */
static lg_watch_set_t *busy_set(lg_watch_t *w, size_t n, int *fd)
{
    lg_watch_set_t *s = lg_watch_set_new(w, n);

    cr_assert_not_null(s);
    cr_assert_eq(lg_watch_count(s), n);
    *fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(*fd, 0);
    lg_watch_open(lg_watch_item(s, 0), *fd, NULL, 1000);
    return s;
}

Test(watch, steps_every_item_at_once_then_every_tick)
{
    lg_watch_t w = LG_WATCH("test items", item_t, TICK_MS, stop_step);
    lg_watch_set_t *s;

    cr_assert_eq(lg_loop_init(), LG_OK);
    s = lg_watch_set_new(&w, 4);
    cr_assert_not_null(s);
    cr_assert_eq(lg_watch_run(&w, s), LG_OK);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(((item_t *)lg_watch_item(s, i))->steps, 1, "item %zu stepped at once", i);
    lg_loop_run();
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(((item_t *)lg_watch_item(s, i))->steps, ROUNDS);
    lg_watch_set_free(lg_watch_detach(&w));
}

Test(watch, a_replaced_set_is_closed_and_stepped_no_more)
{
    lg_watch_t w = LG_WATCH("test items", item_t, TICK_MS, count_step);
    lg_watch_t stopper = LG_WATCH("stopper", item_t, TICK_MS, stop_step);
    lg_watch_set_t *old, *cur;
    int old_fd, cur_fd;

    cr_assert_eq(lg_loop_init(), LG_OK);
    old = busy_set(&w, 2, &old_fd);
    cr_assert_eq(lg_watch_run(&w, old), LG_OK);
    cr_assert_eq(stepped, 2);
    cur = busy_set(&w, 3, &cur_fd);
    cr_assert_eq(lg_watch_run(&w, cur), LG_OK);
    cr_assert_not(fd_open(old_fd), "the replaced set's socket is closed");
    cr_assert(fd_open(cur_fd));
    /* run a few ticks: only the three items of the running set are stepped */
    cr_assert_eq(lg_watch_run(&stopper, lg_watch_set_new(&stopper, 1)), LG_OK);
    lg_loop_run();
    cr_assert_eq(stepped, 2 + 3 * ROUNDS + ROUNDS);
    lg_watch_stop(&w);
    cr_assert_not(fd_open(cur_fd), "a stopped set's socket is closed");
    cr_assert_null(w.set);
    lg_watch_set_free(lg_watch_detach(&stopper));
}

Test(watch, detach_hands_back_the_set_with_its_sockets_closed)
{
    lg_watch_t w = LG_WATCH("test items", item_t, TICK_MS, count_step);
    lg_watch_set_t *s;
    int fd;

    cr_assert_eq(lg_loop_init(), LG_OK);
    s = busy_set(&w, 1, &fd);
    cr_assert_eq(lg_watch_run(&w, s), LG_OK);
    cr_assert_eq(lg_watch_detach(&w), s);
    cr_assert_not(fd_open(fd));
    cr_assert_not(((item_t *)lg_watch_item(s, 0))->w.busy);
    cr_assert_null(lg_watch_detach(&w), "nothing runs any more");
    lg_watch_set_free(s);
}

Test(watch, no_timer_queue_left_fails_the_start)
{
    static lg_timerq_t others[LG_LOOP_MAXQUEUE];
    lg_watch_t w = LG_WATCH("test items", item_t, TICK_MS, count_step);

    cr_assert_eq(lg_loop_init(), LG_OK);
    for (size_t i = 0; i < LG_LOOP_MAXQUEUE; i++)
        cr_assert_eq(lg_timerq_init(&others[i], TICK_MS), LG_OK);
    cr_assert_eq(lg_watch_run(&w, lg_watch_set_new(&w, 2)), LG_ERR);
    cr_assert_null(w.set);
    cr_assert_eq(stepped, 0, "nothing was stepped");
}
