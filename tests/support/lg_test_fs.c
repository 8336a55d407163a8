/*
 * lg_test_fs.c - temp directories and files for tests.
 */
#include "lg_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *lg_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (asprintf(&path, "%s/lg-test-XXXXXX", base) < 0)
        abort();
    if (mkdtemp(path) == NULL)
        abort();
    return path;
}

char *lg_test_write_bytes(const char *dir, const char *name, const void *data, size_t len)
{
    char *path;
    FILE *f;

    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        abort();
    return path;
}

char *lg_test_write_file(const char *dir, const char *name, const char *text)
{
    return lg_test_write_bytes(dir, name, text, strlen(text));
}

char *lg_test_read_file(const char *path, size_t *len)
{
    char *data = NULL;
    size_t n = 0, cap = 0;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            char *d;

            cap = cap ? cap * 2 : 8192;
            d = realloc(data, cap);
            if (d == NULL)
                abort();
            data = d;
        }
        got = fread(data + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    data[n] = '\0';
    if (len != NULL)
        *len = n;
    return data;
}

static int lg_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void lg_test_rmtree(void *dir)
{
    if (getenv("LG_TEST_KEEP") == NULL)
        nftw(dir, lg_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

char *lg_test_tempdir(void)
{
    return lg_test_keep(lg_test_tmpdir(), lg_test_rmtree);
}
