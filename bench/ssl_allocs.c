/*
 * ssl_allocs.c - list OpenSSL's live allocations in a running server by call site, for the
 * analysis of bytes per idle TLS connection (docs/benchmarks.md, bench/tls-notes.md).
 *
 *   cc -O1 -fPIC -shared -o ssl_allocs.so bench/ssl_allocs.c -lcrypto
 *   LD_PRELOAD=$PWD/ssl_allocs.so build/lifeguard -c CONF      (nginx, haproxy -db alike)
 *   gdb -p WORKER -batch -ex 'call (long)ssl_allocs_dump("/tmp/before")'
 *   ... hold N idle connections (tls_client idle 127.0.0.1:PORT N) ...
 *   gdb -p WORKER -batch -ex 'call (long)ssl_allocs_dump("/tmp/after")'
 *   bench/ssl_allocs_diff.py /tmp/before /tmp/after N
 *
 * Every allocation OpenSSL makes goes through CRYPTO_set_mem_functions() (set before the first
 * one, from this library's constructor) and is kept in a table with its size, OpenSSL's
 * file:line and the first caller outside the CRYPTO_*alloc wrappers. ssl_allocs_dump() writes
 * one line per live allocation: "file:line TAB caller TAB size TAB heap bytes" (heap bytes:
 * malloc's chunk, header included). For single-threaded processes (one worker, one thread).
 * The table's pages add to the process's RSS: read RSS from a run without this library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_SIZE  (1u << 21) /* live allocations at most (a power of two) */
#define BACKTRACE   8
#define MALLOC_HEAD 8 /* glibc's chunk header on 64-bit */
#define GONE        ((void *)1)

typedef struct entry {
    void *p; /* NULL: never used; GONE: freed */
    size_t n;
    const char *file;
    int line;
    void *caller;
} entry_t;

static entry_t *table;

static size_t slot(const void *p)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> 43) & (TABLE_SIZE - 1);
}

static int is_wrapper(const char *name)
{
    static const char *const wrappers[] = {
        "CRYPTO_malloc",  "CRYPTO_zalloc", "CRYPTO_realloc",       "CRYPTO_strdup",
        "CRYPTO_strndup", "CRYPTO_memdup", "CRYPTO_clear_realloc", "CRYPTO_secure_zalloc"};

    for (size_t i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++)
        if (strcmp(name, wrappers[i]) == 0)
            return 1;
    return 0;
}

/* The first return address past this library and OpenSSL's allocation wrappers. */
static void *caller(void)
{
    void *bt[BACKTRACE];
    int n = backtrace(bt, BACKTRACE);

    for (int i = 2; i < n; i++) {
        Dl_info di;

        if (dladdr(bt[i], &di) && di.dli_sname != NULL && is_wrapper(di.dli_sname))
            continue;
        return bt[i];
    }
    return NULL;
}

static void put(void *p, size_t n, const char *file, int line)
{
    size_t i = slot(p);

    for (size_t k = 0; k < TABLE_SIZE; k++, i = (i + 1) & (TABLE_SIZE - 1)) {
        if (table[i].p == NULL || table[i].p == GONE) {
            table[i] = (entry_t){p, n, file, line, caller()};
            return;
        }
    }
}

static void drop(void *p)
{
    size_t i = slot(p);

    for (size_t k = 0; k < TABLE_SIZE && table[i].p != NULL; k++, i = (i + 1) & (TABLE_SIZE - 1)) {
        if (table[i].p == p) {
            table[i].p = GONE;
            return;
        }
    }
}

static void *hook_malloc(size_t n, const char *file, int line)
{
    void *p = malloc(n);

    if (p != NULL)
        put(p, n, file, line);
    return p;
}

static void *hook_realloc(void *old, size_t n, const char *file, int line)
{
    void *p;

    if (old != NULL)
        drop(old);
    p = realloc(old, n);
    if (p != NULL)
        put(p, n, file, line);
    return p;
}

static void hook_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (p != NULL)
        drop(p);
    free(p);
}

__attribute__((constructor)) static void ssl_allocs_init(void)
{
    table = calloc(TABLE_SIZE, sizeof(*table));
    if (table == NULL || !CRYPTO_set_mem_functions(hook_malloc, hook_realloc, hook_free))
        fprintf(stderr, "ssl_allocs: cannot hook OpenSSL's allocations\n");
}

/* Write the live allocations to `path`; returns how many, -1 when the file cannot be made. */
long ssl_allocs_dump(const char *path)
{
    FILE *out = fopen(path, "w");
    long live = 0;

    if (out == NULL)
        return -1;
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        const entry_t *e = &table[i];
        Dl_info di = {0};
        const char *where = "?";
        long off = 0;

        if (e->p == NULL || e->p == GONE)
            continue;
        if (e->caller != NULL && dladdr(e->caller, &di)) {
            const char *base = di.dli_fname != NULL ? strrchr(di.dli_fname, '/') : NULL;

            where = di.dli_sname != NULL ? di.dli_sname : base != NULL ? base + 1 : "?";
            off = (char *)e->caller - (char *)(di.dli_sname != NULL ? di.dli_saddr : di.dli_fbase);
        }
        fprintf(out, "%s:%d\t%s+0x%lx\t%zu\t%zu\n", e->file != NULL ? e->file : "-", e->line, where,
                off, e->n, malloc_usable_size(e->p) + MALLOC_HEAD);
        live++;
    }
    fclose(out);
    return live;
}
