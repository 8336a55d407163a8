/*
 * pipe.h - pipes for splice(2) from a per-process pool.
 *
 * A pipe is taken when a body is about to be spliced and given back only once it is empty, so
 * a pooled pipe never carries bytes from one connection into another.
 */
#ifndef LG_PIPE_H
#define LG_PIPE_H

#include <stddef.h>

typedef struct lg_pipe {
    struct lg_pipe *next; /* free-list link */
    int rfd, wfd;
    size_t size;    /* capacity the kernel granted */
    size_t pending; /* bytes in the pipe now */
} lg_pipe_t;

/* Ask for pipes of `size` bytes (F_SETPIPE_SZ, best effort) and keep at most `keep` idle. */
void lg_pipe_init(size_t size, size_t keep);
/* An empty pipe, or NULL when pipes cannot be made (the caller falls back to copying). */
lg_pipe_t *lg_pipe_get(void);
/* Give `*p` back (closed instead when it still holds bytes) and set `*p` to NULL. */
void lg_pipe_put(lg_pipe_t **p);

#endif
