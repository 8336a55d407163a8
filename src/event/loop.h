/*
 * loop.h - the worker's event loop: one edge-triggered epoll set, timer queues and a list of
 * work posted to run after the current batch of events.
 *
 * Every file descriptor is registered once, for input and output, edge-triggered, and never
 * modified: handlers remember readiness themselves (see lg_io_t) and read or write until
 * EAGAIN, a short read, or their budget. That is what keeps epoll_ctl off the request path.
 */
#ifndef LG_LOOP_H
#define LG_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#include "core/lg.h"

typedef struct lg_io lg_io_t;
typedef void (*lg_io_handler_t)(lg_io_t *io, uint32_t events);

/* A registered file descriptor; embedded first in connections and listeners. */
struct lg_io {
    int fd;
    lg_io_handler_t handler;
};

/*
 * Timers. All timers of one queue share one duration, so appending keeps a queue sorted by
 * deadline: arming, disarming and expiry are all O(1) (a refreshed timer moves to the tail).
 */
typedef struct lg_timer lg_timer_t;
typedef void (*lg_timer_handler_t)(lg_timer_t *t);

struct lg_timer {
    lg_timer_t *prev, *next; /* NULL when not armed */
    lg_msec_t deadline;
    lg_timer_handler_t handler;
};

typedef struct lg_timerq {
    lg_timer_t head; /* sentinel of a circular list */
    lg_msec_t duration;
} lg_timerq_t;

/* Work to run once after the current batch of events (budgets, deferred frees). */
typedef struct lg_posted lg_posted_t;
struct lg_posted {
    lg_posted_t *next;
    void (*run)(lg_posted_t *p);
    int queued;
};

/* The current monotonic time in milliseconds, refreshed once per loop iteration. */
extern lg_msec_t lg_now;
lg_msec_t lg_clock_ms(void);

/* Make a new, empty loop (in a forked worker: drops everything of the parent's loop). */
int lg_loop_init(void);
/* Events a connection is registered for, once, for its whole life. */
#define LG_EV_CONN (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
/* Events of a listening socket shared by every worker (EPOLLEXCLUSIVE: one wakes per arrival). */
#define LG_EV_LISTEN (EPOLLIN | EPOLLET | EPOLLEXCLUSIVE)

int lg_loop_add(lg_io_t *io, uint32_t events);
void lg_loop_del(lg_io_t *io);
/* Run until lg_loop_stop(); returns when the stop flag is seen after a batch. */
void lg_loop_run(void);
void lg_loop_stop(void);
/*
 * One round of lg_loop_run: wait at most `max_wait_ms` (-1: until the next timer) for events,
 * handle them, run what was posted, expire timers. Returns the number of events handled, posted
 * items run and timers fired (0: nothing happened), -1 when epoll failed. For drivers that bound
 * the loop themselves (fuzz/fuzz_h2.c).
 */
int lg_loop_once(int max_wait_ms);

/* Queue `p` to run after this batch; posting a queued item again does nothing. */
void lg_loop_post(lg_posted_t *p);

/*
 * Register `q` with the loop (at most LG_LOOP_MAXQUEUE per process): LG_ERR, logged, when the
 * table is full, since a queue the loop does not watch would never fire.
 */
#define LG_LOOP_MAXQUEUE 64 /* a worker: 10 of its own, up to 32 for routes' timeouts */
int lg_timerq_init(lg_timerq_t *q, lg_msec_t duration);
/* Change the duration of an empty queue (LG_ERR while a timer is armed: order would break). */
int lg_timerq_retime(lg_timerq_t *q, lg_msec_t duration);

/* The queue was registered (modules that start more than once register theirs once). */
static inline int lg_timerq_ready(const lg_timerq_t *q)
{
    return q->head.next != NULL;
}
/* Arm (or re-arm, moving it to the tail) `t` to fire `q->duration` from now. */
void lg_timer_set(lg_timerq_t *q, lg_timer_t *t);
void lg_timer_del(lg_timer_t *t);

static inline int lg_timer_armed(const lg_timer_t *t)
{
    return t->next != NULL;
}

#endif
