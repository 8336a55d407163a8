/*
 * buf.h - fixed-size I/O buffers from a per-process free list.
 *
 * Every buffer of a worker has the same capacity (lg_buf_init), so a released buffer is reused
 * as is. Bytes live in data[pos..last); a connection holds a buffer only while it has bytes in
 * it and gives it back as soon as it is empty, so idle connections hold none.
 *
 * Buffers are mapped pages of their own, and lg_buf_trim() (called every second) unmaps the
 * free buffers that went unused since the last call: after a burst the memory goes back to the
 * system within seconds, while a steady load never maps or unmaps anything.
 */
#ifndef LG_BUF_H
#define LG_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct lg_buf {
    struct lg_buf *next; /* free-list link; meaningless while the buffer is held */
    uint32_t pos;        /* first unread byte */
    uint32_t last;       /* one past the last byte */
    char data[];
} lg_buf_t;

/* Set the capacity of every buffer (before the first lg_buf_get). */
void lg_buf_init(size_t size);
size_t lg_buf_size(void);

/* Take an empty buffer; NULL when memory is exhausted (the caller fails one connection). */
lg_buf_t *lg_buf_get(void);
/* Give `*b` back and set `*b` to NULL; a NULL `*b` is allowed. */
void lg_buf_put(lg_buf_t **b);

static inline size_t lg_buf_len(const lg_buf_t *b)
{
    return b->last - b->pos;
}

static inline size_t lg_buf_room(const lg_buf_t *b)
{
    return lg_buf_size() - b->last;
}

/* Unmap the free buffers that no lg_buf_get needed since the previous call. */
void lg_buf_trim(void);

/* Move the unread bytes to the start of the buffer so that the room after them is largest. */
void lg_buf_compact(lg_buf_t *b);

#endif
