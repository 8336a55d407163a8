/*
 * arena.c - a bump allocator over a chain of chunks. A configuration and its strings live in one
 * arena so that a whole generation is freed with a single call and nothing leaks on error paths.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-int.h"

#define LG_ARENA_CHUNK_SIZE (16 * 1024)
#define LG_ARENA_ALIGN      alignof(max_align_t)

typedef struct lg_arena_chunk {
    struct lg_arena_chunk *next;
    size_t used;
    size_t size;
    max_align_t data[];
} lg_arena_chunk_t;

struct lg_arena {
    lg_arena_chunk_t *head;
    int failed;
};

lg_arena_t *lg_arena_new(void)
{
    return calloc(1, sizeof(lg_arena_t));
}

void *lg_arena_alloc(lg_arena_t *a, size_t size)
{
    lg_arena_chunk_t *ch = a->head;
    size_t csize;
    void *p;

    if (size > SIZE_MAX / 2)
        goto fail;
    size = (size + LG_ARENA_ALIGN - 1) & ~(LG_ARENA_ALIGN - 1);
    if (ch == NULL || ch->size - ch->used < size) {
        csize = LG_MAX(size, (size_t)LG_ARENA_CHUNK_SIZE);
        ch = malloc(sizeof(*ch) + csize);
        if (ch == NULL)
            goto fail;
        ch->used = 0;
        ch->size = csize;
        /* A chunk made for one big block goes behind the head, so the head keeps its room. */
        if (a->head != NULL && csize > LG_ARENA_CHUNK_SIZE) {
            ch->next = a->head->next;
            a->head->next = ch;
        } else {
            ch->next = a->head;
            a->head = ch;
        }
    }
    p = (char *)ch->data + ch->used;
    ch->used += size;
    memset(p, 0, size);
    return p;

fail:
    a->failed = 1;
    return NULL;
}

void *lg_arena_calloc(lg_arena_t *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        a->failed = 1;
        return NULL;
    }
    return lg_arena_alloc(a, n * size);
}

char *lg_arena_strndup(lg_arena_t *a, const char *s, size_t n)
{
    char *p = lg_arena_alloc(a, n + 1);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

int lg_arena_failed(const lg_arena_t *a)
{
    return a->failed;
}

void lg_arena_free(lg_arena_t *a)
{
    lg_arena_chunk_t *ch, *next;

    if (a == NULL)
        return;
    for (ch = a->head; ch != NULL; ch = next) {
        next = ch->next;
        free(ch);
    }
    free(a);
}
