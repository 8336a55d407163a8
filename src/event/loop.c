/*
 * loop.c - epoll, timer queues and posted work for one worker process.
 */
#include "event/loop.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define LG_LOOP_EVENTS 512

lg_msec_t lg_now;

static int epfd = -1;
static int stopping;
static lg_posted_t *posted_head;
static lg_posted_t **posted_tail = &posted_head;
static lg_timerq_t *queues[LG_LOOP_MAXQUEUE];
static size_t nqueues;

lg_msec_t lg_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (lg_msec_t)ts.tv_sec * 1000 + (lg_msec_t)ts.tv_nsec / 1000000;
}

int lg_loop_init(void)
{
    /* A worker starts from the master's loop: forget it, registrations and timers included. */
    if (epfd >= 0)
        close(epfd);
    stopping = 0;
    posted_head = NULL;
    posted_tail = &posted_head;
    nqueues = 0;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        lg_log(LG_LOG_ERR, "epoll_create1() failed (%d: %s)", errno, strerror(errno));
        return LG_ERR;
    }
    lg_now = lg_clock_ms();
    return LG_OK;
}

int lg_loop_add(lg_io_t *io, uint32_t events)
{
    struct epoll_event ev;

    ev.events = events;
    ev.data.ptr = io;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0) {
        lg_log(LG_LOG_ERR, "epoll_ctl(ADD, %d) failed (%d: %s)", io->fd, errno, strerror(errno));
        return LG_ERR;
    }
    return LG_OK;
}

void lg_loop_del(lg_io_t *io)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

void lg_loop_stop(void)
{
    stopping = 1;
}

void lg_loop_post(lg_posted_t *p)
{
    if (p->queued)
        return;
    p->queued = 1;
    p->next = NULL;
    *posted_tail = p;
    posted_tail = &p->next;
}

/* Run what was posted before this call; what those items post waits for the next round. */
static int run_posted(void)
{
    lg_posted_t *p = posted_head;
    int ran = 0;

    posted_head = NULL;
    posted_tail = &posted_head;
    while (p != NULL) {
        lg_posted_t *next = p->next;

        p->queued = 0;
        p->run(p);
        p = next;
        ran++;
    }
    return ran;
}

int lg_timerq_init(lg_timerq_t *q, lg_msec_t duration)
{
    if (nqueues == LG_LOOP_MAXQUEUE) {
        lg_log(LG_LOG_ERR, "timer queue table full (%d queues): a new one would never fire",
               LG_LOOP_MAXQUEUE);
        return LG_ERR;
    }
    q->head.prev = q->head.next = &q->head;
    q->duration = duration;
    queues[nqueues++] = q;
    return LG_OK;
}

int lg_timerq_retime(lg_timerq_t *q, lg_msec_t duration)
{
    if (q->head.next != &q->head)
        return LG_ERR;
    q->duration = duration;
    return LG_OK;
}

void lg_timer_del(lg_timer_t *t)
{
    if (t->next == NULL)
        return;
    t->prev->next = t->next;
    t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

void lg_timer_set(lg_timerq_t *q, lg_timer_t *t)
{
    lg_timer_del(t);
    t->deadline = lg_now + q->duration;
    t->prev = q->head.prev;
    t->next = &q->head;
    q->head.prev->next = t;
    q->head.prev = t;
}

/* Milliseconds until the earliest deadline, 0 if posted work waits, -1 if nothing is armed. */
static int next_timeout(void)
{
    lg_msec_t soonest = UINT64_MAX;

    if (posted_head != NULL)
        return 0;
    for (size_t i = 0; i < nqueues; i++) {
        lg_timer_t *first = queues[i]->head.next;

        if (first != &queues[i]->head && first->deadline < soonest)
            soonest = first->deadline;
    }
    if (soonest == UINT64_MAX)
        return -1;
    if (soonest <= lg_now)
        return 0;
    return (int)LG_MIN(soonest - lg_now, (lg_msec_t)INT32_MAX);
}

static int expire_timers(void)
{
    int fired = 0;

    for (size_t i = 0; i < nqueues; i++) {
        lg_timer_t *head = &queues[i]->head;

        while (head->next != head && head->next->deadline <= lg_now) {
            lg_timer_t *t = head->next;

            lg_timer_del(t);
            t->handler(t);
            fired++;
        }
    }
    return fired;
}

int lg_loop_once(int max_wait_ms)
{
    struct epoll_event events[LG_LOOP_EVENTS];
    int wait = next_timeout();
    int n;

    if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms))
        wait = max_wait_ms;
    n = epoll_wait(epfd, events, LG_LOOP_EVENTS, wait);
    if (n < 0) {
        if (errno != EINTR) {
            lg_log(LG_LOG_ERR, "epoll_wait() failed (%d: %s)", errno, strerror(errno));
            return -1;
        }
        n = 0;
    }
    lg_now = lg_clock_ms();
    for (int i = 0; i < n; i++) {
        lg_io_t *io = events[i].data.ptr;

        io->handler(io, events[i].events);
    }
    n += run_posted();
    n += expire_timers();
    /* Timers may close connections too: free them before waiting again. */
    return n + run_posted();
}

void lg_loop_run(void)
{
    while (!stopping && lg_loop_once(-1) >= 0)
        ;
}
