/*
 * freelist.h - a per-worker list of same-sized objects kept for reuse.
 *
 * Connections and exchanges come and go at request rate; keeping up to `keep` of them spares
 * malloc and free on the request path, and a burst's excess goes back to malloc (the caller's
 * trim then returns it to the system). A free object's first bytes hold the list link.
 */
#ifndef LG_FREELIST_H
#define LG_FREELIST_H

#include <stdlib.h>
#include <string.h>

typedef struct lg_freelist {
    void *head;
    unsigned n;    /* objects on the list */
    unsigned keep; /* at most this many are kept */
    size_t size;   /* of every object */
} lg_freelist_t;

static inline void lg_freelist_init(lg_freelist_t *fl, size_t size, unsigned keep)
{
    fl->head = NULL;
    fl->n = 0;
    fl->keep = keep;
    fl->size = size < sizeof(void *) ? sizeof(void *) : size;
}

/* An object of fl->size bytes, uninitialised; NULL when memory is exhausted. */
static inline void *lg_freelist_get(lg_freelist_t *fl)
{
    void *p = fl->head;

    if (p == NULL)
        return malloc(fl->size);
    memcpy(&fl->head, p, sizeof(void *));
    fl->n--;
    return p;
}

/* Keep `p` for reuse, or free it when enough are kept: then returns 1 (memory went back). */
static inline int lg_freelist_put(lg_freelist_t *fl, void *p)
{
    if (fl->n >= fl->keep) {
        free(p);
        return 1;
    }
    memcpy(p, &fl->head, sizeof(void *));
    fl->head = p;
    fl->n++;
    return 0;
}

#endif
