/*
 * h2_mem.c - where nghttp2's memory comes from.
 *
 * A session allocates about 25 KB in a few blocks (its state, a 16 KiB frame buffer, the HPACK
 * and stream tables) as soon as it is made. From the process heap those blocks would sit between
 * the small structs of other connections, and when a session sleeps (h2_sleep.c) the holes they
 * leave keep every page around them resident: about 4 KB per idle connection. So no block of
 * nghttp2's is on the heap: one larger than SLAB_MAX gets a mapping of its own, given back whole
 * when freed; a smaller one a place in a page of same-sized blocks, each page given back once
 * its last block has been freed for a second (lg_h2_mem_trim, from the worker's trim timer:
 * a page emptied and refilled at request rate costs no system call). Each block
 * starts with a header saying which it is.
 */
#include "front/h2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* With a sanitizer every block comes from the heap, where its checks see them. */
#if defined(__SANITIZE_ADDRESS__)
#define H2_MEM_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H2_MEM_HEAP 1
#endif
#endif
#ifndef H2_MEM_HEAP
#define H2_MEM_HEAP 0
#endif

#define SLAB_PAGE    4096u
#define SLAB_HEAD    64u   /* the page header's room: blocks start 16-aligned after it */
#define SLAB_CLASSES 6     /* blocks of 32, 64, ..., 1024 bytes, header included */
#define SLAB_MAX     1024u /* larger blocks are mappings of their own */

typedef struct h2_mem_head {
    size_t size;   /* bytes asked for */
    size_t mapped; /* H2_MEM_MALLOC, H2_MEM_SLAB, or the mapping's length */
} h2_mem_head_t;

enum { H2_MEM_MALLOC, H2_MEM_SLAB };

/* A page of same-sized blocks: its header, then the blocks. */
typedef struct slab_page {
    struct slab_page *prev, *next; /* the class's pages that have a free block */
    void *free;                    /* free blocks, linked through their first word */
    unsigned used, cls;
    unsigned listed : 1;
    unsigned stale : 1; /* empty at the last trim */
} slab_page_t;

_Static_assert(sizeof(slab_page_t) <= SLAB_HEAD, "the page header fits its room");

/* Per process, like the buffer free lists (core/buf.h): a worker is one thread. */
static slab_page_t *slab_partial[SLAB_CLASSES];

static unsigned slab_class(size_t len)
{
    unsigned cls = 0;

    while ((32u << cls) < len)
        cls++;
    return cls;
}

static void slab_list(slab_page_t *pg)
{
    pg->prev = NULL;
    pg->next = slab_partial[pg->cls];
    if (pg->next != NULL)
        pg->next->prev = pg;
    slab_partial[pg->cls] = pg;
    pg->listed = 1;
}

static void slab_unlist(slab_page_t *pg)
{
    if (pg->prev != NULL)
        pg->prev->next = pg->next;
    else
        slab_partial[pg->cls] = pg->next;
    if (pg->next != NULL)
        pg->next->prev = pg->prev;
    pg->listed = 0;
}

/* A new page of class `cls`, every block free. */
static slab_page_t *slab_page_new(unsigned cls)
{
    slab_page_t *pg =
        mmap(NULL, SLAB_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t bs = 32u << cls;

    if (pg == MAP_FAILED)
        return NULL;
    pg->cls = cls;
    pg->used = 0;
    pg->stale = 0;
    pg->free = NULL;
    for (size_t off = SLAB_PAGE - bs; off >= SLAB_HEAD; off -= bs) {
        void **b = (void **)(void *)((char *)pg + off);

        *b = pg->free;
        pg->free = b;
    }
    slab_list(pg);
    return pg;
}

static void *slab_alloc(size_t len)
{
    unsigned cls = slab_class(len);
    slab_page_t *pg = slab_partial[cls];
    void **b;

    if (pg == NULL && (pg = slab_page_new(cls)) == NULL)
        return NULL;
    b = pg->free;
    pg->free = *b;
    pg->used++;
    pg->stale = 0;
    if (pg->free == NULL)
        slab_unlist(pg); /* full */
    return b;
}

/* A block goes back to its page (an empty one stays until lg_h2_mem_trim). */
static void slab_free(void *p)
{
    slab_page_t *pg = (slab_page_t *)((uintptr_t)p & ~(uintptr_t)(SLAB_PAGE - 1));

    *(void **)p = pg->free;
    pg->free = p;
    pg->used--;
    if (!pg->listed)
        slab_list(pg);
}

unsigned lg_h2_mem_trim(void)
{
    unsigned n = 0;

    for (unsigned cls = 0; cls < SLAB_CLASSES; cls++) {
        slab_page_t *pg = slab_partial[cls], *next;

        for (; pg != NULL; pg = next) {
            next = pg->next;
            if (pg->used != 0)
                continue;
            if (!pg->stale) {
                pg->stale = 1; /* unused since now: goes at the next trim if still so */
                continue;
            }
            slab_unlist(pg);
            munmap(pg, SLAB_PAGE);
            n++;
        }
    }
    return n;
}

static void *mem_alloc(size_t size, int zero)
{
    size_t len = sizeof(h2_mem_head_t) + size;
    h2_mem_head_t *m;

    if (H2_MEM_HEAP) {
        if ((m = zero ? calloc(1, len) : malloc(len)) == NULL)
            return NULL;
        m->mapped = H2_MEM_MALLOC;
    } else if (len <= SLAB_MAX) {
        if ((m = slab_alloc(len)) == NULL)
            return NULL;
        if (zero)
            memset(m, 0, len);
        m->mapped = H2_MEM_SLAB;
    } else {
        m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        m->mapped = len; /* fresh mappings are zeroed */
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
    h2_mem_head_t *m;

    LG_UNUSED(ud);
    if (p == NULL)
        return;
    m = (h2_mem_head_t *)p - 1;
    if (m->mapped == H2_MEM_MALLOC)
        free(m);
    else if (m->mapped == H2_MEM_SLAB)
        slab_free(m);
    else
        munmap(m, m->mapped);
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
