/*
 * lg_test_util.c - harness-owned allocations, formatting and time for the tests.
 *
 * Everything the harness hands out is registered here and released at exit, so that a test that
 * does not free (the usual case) leaks nothing under LeakSanitizer.
 */
#include "lg_test.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define LG_TEST_DEFAULT_TIMEOUT_MS 10000

struct lg_keep {
    void *p;
    void (*free_fn)(void *);
};

static struct lg_keep *lg_keeps;
static size_t lg_nkeeps, lg_keeps_cap;

static void lg_keep_cleanup(void)
{
    while (lg_nkeeps > 0) {
        struct lg_keep *k = &lg_keeps[--lg_nkeeps];

        k->free_fn(k->p);
    }
    free(lg_keeps);
    lg_keeps = NULL;
    lg_keeps_cap = 0;
}

void *lg_test_keep(void *p, void (*free_fn)(void *))
{
    if (p == NULL)
        return NULL;
    if (lg_keeps_cap == 0)
        atexit(lg_keep_cleanup);
    if (lg_nkeeps == lg_keeps_cap) {
        size_t cap = lg_keeps_cap ? lg_keeps_cap * 2 : 64;
        struct lg_keep *k = realloc(lg_keeps, cap * sizeof(*k));

        if (k == NULL)
            abort();
        lg_keeps = k;
        lg_keeps_cap = cap;
    }
    lg_keeps[lg_nkeeps].p = p;
    lg_keeps[lg_nkeeps].free_fn = free_fn ? free_fn : free;
    lg_nkeeps++;
    return p;
}

void lg_test_release(void *p)
{
    size_t i;

    if (p == NULL)
        return;
    /* most releases are of recent allocations: search from the end */
    for (i = lg_nkeeps; i-- > 0;) {
        if (lg_keeps[i].p == p) {
            struct lg_keep k = lg_keeps[i];

            memmove(&lg_keeps[i], &lg_keeps[i + 1], (lg_nkeeps - i - 1) * sizeof(*lg_keeps));
            lg_nkeeps--;
            k.free_fn(k.p);
            return;
        }
    }
}

char *lg_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return lg_test_keep(s, NULL);
}

int lg_test_timeout_ms(void)
{
    static int ms;

    if (ms == 0) {
        const char *e = getenv("LG_TEST_TIMEOUT_MS");

        ms = e != NULL ? atoi(e) : 0;
        if (ms <= 0)
            ms = LG_TEST_DEFAULT_TIMEOUT_MS;
    }
    return ms;
}

uint64_t lg_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void lg_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int lg_run_capture(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    int status;

    if (buf == NULL)
        abort();
    if (p == NULL) {
        buf[0] = '\0';
        *out = lg_test_keep(buf, NULL);
        return -1;
    }
    for (;;) {
        size_t n;

        if (cap - len < 1024 && (buf = realloc(buf, cap *= 2)) == NULL)
            abort();
        n = fread(buf + len, 1, cap - len - 1, p);
        if (n == 0)
            break;
        len += n;
    }
    buf[len] = '\0';
    *out = lg_test_keep(buf, NULL);
    status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
