/*
 * h2_mem.c - where nghttp2's memory comes from.
 *
 * A session allocates about 25 KB in a few blocks (its state, a 16 KiB frame buffer, the HPACK
 * and stream tables) as soon as it is made. From the process heap those blocks would sit between
 * the small structs of other connections, and when a session sleeps (h2_sleep.c) the holes they
 * leave keep every page around them resident: about 4 KB per idle connection. Blocks of
 * H2_MEM_PAGED bytes and more get mappings of their own instead, given back whole when freed;
 * small ones stay on the heap. Each block starts with a header saying which it is.
 */
#include "front/h2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Blocks at least this large are mapped, not taken from the heap. */
#define H2_MEM_PAGED 1024

typedef struct h2_mem_head {
    size_t size;   /* bytes asked for */
    size_t mapped; /* 0: from malloc; else the mapping's length */
} h2_mem_head_t;

static void *mem_alloc(size_t size, int zero)
{
    size_t len = sizeof(h2_mem_head_t) + size;
    h2_mem_head_t *m;

    if (size >= H2_MEM_PAGED) {
        m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        m->mapped = len; /* fresh mappings are zeroed */
    } else {
        m = zero ? calloc(1, len) : malloc(len);
        if (m == NULL)
            return NULL;
        m->mapped = 0;
    }
    m->size = size;
    return m + 1;
}

static void *mem_malloc(size_t size, void *ud)
{
    LG_UNUSED(ud);
    return mem_alloc(size, 0);
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
    LG_UNUSED(ud);
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    return mem_alloc(n * size, 1);
}

static void mem_free(void *p, void *ud)
{
    h2_mem_head_t *m = (h2_mem_head_t *)p - 1;

    LG_UNUSED(ud);
    if (p == NULL)
        return;
    if (m->mapped != 0)
        munmap(m, m->mapped);
    else
        free(m);
}

static void *mem_realloc(void *p, size_t size, void *ud)
{
    void *q;

    if (p == NULL)
        return mem_malloc(size, ud);
    if ((q = mem_malloc(size, ud)) == NULL)
        return NULL;
    memcpy(q, p, LG_MIN(size, ((h2_mem_head_t *)p - 1)->size));
    mem_free(p, ud);
    return q;
}

nghttp2_mem lg_h2_mem = {NULL, mem_malloc, mem_free, mem_calloc, mem_realloc};
