/*
 * watch.h - the life of a master-side watcher's set: health checks (check.c) and DNS lookups
 * (dns.c) each keep one item per watched backend of the serving configuration.
 *
 * A watcher makes a set of items for a generation (lg_watch_set_new), fills them, and runs it
 * (lg_watch_run): the set it replaces is stopped, and one tick (shared by every item, whatever
 * its interval) calls the watcher's `step` on each item, at once and then every `tick_ms`. A
 * step starts an attempt (lg_watch_open: the item is busy on its socket) or gives up on one past
 * its deadline; the item's event handler ends it (lg_watch_close) when the answer is in. What
 * must outlive a generation (health, addresses) lives in its shared memory, which carries it
 * over (shm.c), never in the items. Stopping closes every open socket and frees the set after
 * the current batch of events, since events of this batch may still point at its items.
 */
#ifndef LG_WATCH_H
#define LG_WATCH_H

#include <stddef.h>

#include "core/lg.h"
#include "core/sock.h"
#include "event/loop.h"

/* The head of every item (its first member: the socket's handler casts back to the item). */
typedef struct lg_watch_item {
    lg_sock_t sock;     /* open while busy */
    int busy;           /* an attempt is under way */
    lg_msec_t next;     /* start of the next attempt */
    lg_msec_t deadline; /* end of the current attempt */
} lg_watch_item_t;

typedef struct lg_watch_set lg_watch_set_t;

/* One watcher: what it watches (set with LG_WATCH) and its running set. */
typedef struct lg_watch {
    const char *what;         /* "health checks", for messages */
    size_t item_size;         /* sizeof its item, which starts with an lg_watch_item_t */
    lg_msec_t tick_ms;        /* how often every item is stepped */
    void (*step)(void *item); /* start or end an attempt as its times say */
    lg_watch_set_t *set;      /* running, NULL when stopped */
    lg_timerq_t q_tick;
    lg_timer_t tick_timer;
} lg_watch_t;

/* A watcher of items of `type`, stepped by `step` every `tick_ms`. */
#define LG_WATCH(what_, type, tick_ms_, step_)                                                     \
    {                                                                                              \
        .what = (what_), .item_size = sizeof(type), .tick_ms = (tick_ms_), .step = (step_)         \
    }

/* `n` (> 0) zeroed items, not running; NULL when out of memory (logged). */
lg_watch_set_t *lg_watch_set_new(const lg_watch_t *w, size_t n);
/* Item `i` of `s`, and how many there are. */
void *lg_watch_item(lg_watch_set_t *s, size_t i);
size_t lg_watch_count(const lg_watch_set_t *s);
/* Free a set that is not running (after lg_watch_detach, or never run). */
void lg_watch_set_free(lg_watch_set_t *s);

/*
 * Make `s` the running set of `w` (NULL: nothing to watch), stopping the one before, and step
 * its items at once. LG_ERR when the tick's timer queue cannot be registered (logged by the
 * loop): `s` is freed and nothing runs.
 */
int lg_watch_run(lg_watch_t *w, lg_watch_set_t *s);
/* Stop the running set: sockets closed now, memory freed after the current batch. */
void lg_watch_stop(lg_watch_t *w);
/* Stop the running set and hand it back to the caller (for a loop that has ended). */
lg_watch_set_t *lg_watch_detach(lg_watch_t *w);

/* An attempt starts on `fd` (now the item's), due to end `timeout` ms from now. */
void lg_watch_open(lg_watch_item_t *it, int fd, lg_io_handler_t handler, lg_msec_t timeout);
/* An attempt is over: close the item's socket (a stale event then finds it idle). */
void lg_watch_close(lg_watch_item_t *it);

#endif
