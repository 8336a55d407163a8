/*
 * buf.c - the buffer free list. Workers are single-threaded, so the list needs no lock.
 */
#include "core/buf.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Free buffers kept even when unused, so that a quiet worker still starts requests at once. */
#define LG_BUF_RESERVE 8

static lg_buf_t *free_list;
static size_t nfree;
static size_t low_water; /* fewest free buffers since the last trim */
static size_t buf_size = 16384;
static size_t map_size;

void lg_buf_init(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    map_size = (sizeof(lg_buf_t) + size + page - 1) / page * page;
    buf_size = map_size - sizeof(lg_buf_t);
}

size_t lg_buf_size(void)
{
    return buf_size;
}

lg_buf_t *lg_buf_get(void)
{
    lg_buf_t *b = free_list;

    if (b != NULL) {
        free_list = b->next;
        if (--nfree < low_water)
            low_water = nfree;
    } else {
        if (map_size == 0)
            lg_buf_init(buf_size);
        b = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED)
            return NULL;
    }
    b->pos = 0;
    b->last = 0;
    return b;
}

void lg_buf_put(lg_buf_t **bp)
{
    lg_buf_t *b = *bp;

    if (b == NULL)
        return;
    *bp = NULL;
    b->next = free_list;
    free_list = b;
    nfree++;
}

void lg_buf_trim(void)
{
    size_t surplus = low_water > LG_BUF_RESERVE ? low_water - LG_BUF_RESERVE : 0;

    while (surplus-- > 0 && free_list != NULL) {
        lg_buf_t *b = free_list;

        free_list = b->next;
        nfree--;
        munmap(b, map_size);
    }
    low_water = nfree;
}

void lg_buf_compact(lg_buf_t *b)
{
    size_t len = lg_buf_len(b);

    if (b->pos == 0)
        return;
    memmove(b->data, b->data + b->pos, len);
    b->pos = 0;
    b->last = (uint32_t)len;
}
