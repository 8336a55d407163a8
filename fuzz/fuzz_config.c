/*
 * fuzz_config.c - libFuzzer target for the YAML configuration loader (src/config).
 *
 * Each input is a whole configuration file. It is written to an anonymous memory file (memfd)
 * and loaded through /proc/self/fd/N, so the loader runs its real path (open, fstat, read, the
 * size and text checks, libyaml, the schema walk) without touching the disk. Whatever the bytes,
 * lg_config_load() must return a config or a list of errors: no crash, no leak (both are freed
 * here, so LeakSanitizer sees anything left behind), no hang (libFuzzer's -timeout).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

/* Inputs beyond this add nothing but time: the loader's own limit (1 MiB) is tested elsewhere. */
#define FUZZ_CONFIG_MAX_INPUT (64 * 1024)

static int memfd = -1;
static char memfd_path[64];

/* One memfd for the whole run, rewritten for each input. */
static void fuzz_config_file(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_config.yaml", MFD_CLOEXEC);
        if (memfd < 0) {
            perror("memfd_create()");
            abort();
        }
        snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) < 0 || (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
        perror("writing the memfd");
        abort();
    }
}

/* What config.h promises of a loaded config: every index points into its array. */
static int fuzz_config_consistent(const lg_config_t *cf)
{
    size_t i, j;

    if (cf->nlisteners == 0 || cf->workers == 0)
        return 0;
    for (i = 0; i < cf->npools; i++)
        if (cf->pools[i].nbackends == 0)
            return 0;
    for (i = 0; i < cf->nlisteners; i++) {
        const lg_listener_conf_t *l = &cf->listeners[i];

        if (l->mode == LG_MODE_TCP && l->pool >= cf->npools)
            return 0;
        for (j = 0; l->mode == LG_MODE_HTTP && j < l->nroutes; j++)
            if (l->routes[j].pool >= cf->npools)
                return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lg_config_errors_t errs = {0};
    lg_config_t *cf;

    if (size > FUZZ_CONFIG_MAX_INPUT)
        return -1; /* not added to the corpus */
    fuzz_config_file(data, size);
    cf = lg_config_load(memfd_path, &errs);
    if (cf != NULL) {
        if (!fuzz_config_consistent(cf) || errs.n != 0)
            abort();
        lg_config_free(cf);
    } else if (errs.n == 0) {
        abort(); /* a refusal always says why */
    }
    lg_config_errors_free(&errs);
    return 0;
}
