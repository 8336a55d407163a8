/*
 * test_h2_mem.c - nghttp2's allocator (src/front/h2_mem.c): blocks of every size keep their
 * bytes, come zeroed from calloc, aligned to 16, keep their start through realloc; pages of
 * small blocks go back to the system once they stay empty across a trim, and not before. Under
 * AddressSanitizer every block comes from the heap and nothing is kept to give back.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "front/h2.h"

#define N 2000

static size_t size_of(size_t i)
{
    static const size_t sizes[] = {1, 24, 40, 100, 200, 500, 1000, 1008, 1009, 3000, 17000};

    return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

static int asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return 1;
#endif
#endif
    return 0;
}

Test(h2_mem, blocks_keep_their_bytes_and_pages_go_back_after_a_quiet_trim)
{
    static unsigned char *p[N];
    nghttp2_mem *m = &lg_h2_mem;

    for (size_t i = 0; i < N; i++) {
        size_t n = size_of(i);

        p[i] = i % 2 ? m->calloc(1, n, m->mem_user_data) : m->malloc(n, m->mem_user_data);
        cr_assert_not_null(p[i]);
        cr_assert_eq((uintptr_t)p[i] % 16, 0, "block %zu not aligned", i);
        for (size_t k = 0; i % 2 && k < n; k++)
            cr_assert_eq(p[i][k], 0, "calloc'd block %zu byte %zu", i, k);
        memset(p[i], (int)(i & 0xff), n);
    }
    for (size_t i = 0; i < N; i += 3) { /* grow a third of them: the bytes follow */
        size_t n = size_of(i);

        p[i] = m->realloc(p[i], n * 2 + 1, m->mem_user_data);
        cr_assert_not_null(p[i]);
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(p[i][k], i & 0xff, "realloc'd block %zu byte %zu", i, k);
    }
    for (size_t i = 0; i < N; i++) {
        for (size_t k = 0; k < size_of(i); k++)
            cr_assert_eq(p[i][k], i & 0xff, "block %zu byte %zu", i, k);
        m->free(p[i], m->mem_user_data);
    }
    m->free(NULL, m->mem_user_data);
    /* empty pages stay one trim (a request rate that empties and refills them maps nothing) */
    cr_assert_eq(lg_h2_mem_trim(), 0);
    if (asan())
        cr_assert_eq(lg_h2_mem_trim(), 0); /* nothing kept: the heap has them */
    else
        cr_assert_gt(lg_h2_mem_trim(), 0, "no page went back");
    cr_assert_eq(lg_h2_mem_trim(), 0);
}
