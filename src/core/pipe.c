/*
 * pipe.c - the pipe pool.
 */
#include "core/pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/lg.h"
#include "core/log.h"

static lg_pipe_t *free_list;
static size_t nfree;
static size_t want_size = 1 << 20;
static size_t keep_max = 64;

void lg_pipe_init(size_t size, size_t keep)
{
    want_size = size;
    keep_max = keep;
}

static void pipe_close(lg_pipe_t *p)
{
    close(p->rfd);
    close(p->wfd);
    free(p);
}

lg_pipe_t *lg_pipe_get(void)
{
    lg_pipe_t *p = free_list;
    int fds[2];
    int got;

    if (p != NULL) {
        free_list = p->next;
        nfree--;
        return p;
    }
    p = malloc(sizeof(*p));
    if (p == NULL)
        return NULL;
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        lg_log(LG_LOG_WARN, "pipe2() failed (%d: %s)", errno, strerror(errno));
        free(p);
        return NULL;
    }
    p->rfd = fds[0];
    p->wfd = fds[1];
    p->pending = 0;
    /* A larger pipe moves more per splice call; the kernel may refuse (pipe-max-size). */
    got = fcntl(p->wfd, F_SETPIPE_SZ, (int)want_size);
    if (got < 0)
        got = fcntl(p->wfd, F_GETPIPE_SZ);
    p->size = got > 0 ? (size_t)got : 65536;
    return p;
}

void lg_pipe_put(lg_pipe_t **pp)
{
    lg_pipe_t *p = *pp;

    if (p == NULL)
        return;
    *pp = NULL;
    if (p->pending != 0 || nfree >= keep_max) {
        pipe_close(p);
        return;
    }
    p->next = free_list;
    free_list = p;
    nfree++;
}
