/*
 * watch.c - the life of a watcher's set (see watch.h).
 */
#include "health/watch.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"

struct lg_watch_set {
    unsigned char *items; /* n items of item_size bytes */
    size_t n, item_size;
    lg_posted_t free_later;
};

lg_watch_set_t *lg_watch_set_new(const lg_watch_t *w, size_t n)
{
    lg_watch_set_t *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->items = calloc(n, w->item_size)) == NULL) {
        lg_log(LG_LOG_ERR, "calloc() of %zu %s failed: out of memory", n, w->what);
        free(s);
        return NULL;
    }
    s->n = n;
    s->item_size = w->item_size;
    return s;
}

void *lg_watch_item(lg_watch_set_t *s, size_t i)
{
    return s->items + i * s->item_size;
}

size_t lg_watch_count(const lg_watch_set_t *s)
{
    return s->n;
}

void lg_watch_set_free(lg_watch_set_t *s)
{
    if (s == NULL)
        return;
    free(s->items);
    free(s);
}

void lg_watch_open(lg_watch_item_t *it, int fd, lg_io_handler_t handler, lg_msec_t timeout)
{
    it->sock.io.fd = fd;
    it->sock.io.handler = handler;
    it->sock.flags = 0;
    it->busy = 1;
    it->deadline = lg_now + timeout;
}

void lg_watch_close(lg_watch_item_t *it)
{
    if (it->busy) {
        close(it->sock.io.fd);
        it->busy = 0;
    }
}

/* Step every item of the running set; a step that replaces or stops the set ends the round. */
static void tick(lg_timer_t *t)
{
    lg_watch_t *w = lg_container_of(t, lg_watch_t, tick_timer);
    lg_watch_set_t *s = w->set;

    for (size_t i = 0; s != NULL && w->set == s && i < s->n; i++)
        w->step(lg_watch_item(s, i));
    if (w->set == s && s != NULL)
        lg_timer_set(&w->q_tick, t);
}

lg_watch_set_t *lg_watch_detach(lg_watch_t *w)
{
    lg_watch_set_t *s = w->set;

    lg_timer_del(&w->tick_timer);
    w->set = NULL;
    for (size_t i = 0; s != NULL && i < s->n; i++)
        lg_watch_close(lg_watch_item(s, i));
    return s;
}

static void set_free_later(lg_posted_t *p)
{
    lg_watch_set_free(lg_container_of(p, lg_watch_set_t, free_later));
}

void lg_watch_stop(lg_watch_t *w)
{
    lg_watch_set_t *s = lg_watch_detach(w);

    if (s == NULL)
        return;
    /* Events of this batch may still point at the items: free them after it. */
    s->free_later.run = set_free_later;
    lg_loop_post(&s->free_later);
}

int lg_watch_run(lg_watch_t *w, lg_watch_set_t *s)
{
    lg_watch_stop(w);
    if (s == NULL)
        return LG_OK;
    if (!lg_timerq_ready(&w->q_tick) && lg_timerq_init(&w->q_tick, w->tick_ms) != LG_OK) {
        lg_watch_set_free(s);
        return LG_ERR;
    }
    w->tick_timer.handler = tick;
    w->set = s;
    tick(&w->tick_timer);
    return LG_OK;
}
