/*
 * shm.c - the shared backend state of a generation (see shm.h).
 */
#include "upstream/shm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/log.h"

static size_t region_size(size_t n)
{
    return LG_MAX(n, (size_t)1) * sizeof(lg_be_state_t);
}

/* The state of `pool`/`addr` in the previous generation, or NULL. */
static lg_be_state_t *find(const lg_shm_t *prev, const lg_config_t *prevcf, const char *pool,
                           const char *addr)
{
    for (size_t i = 0; prev != NULL && i < prevcf->npools; i++) {
        const lg_pool_conf_t *p = &prevcf->pools[i];

        if (strcmp(p->name, pool) != 0)
            continue;
        for (size_t j = 0; j < p->nbackends; j++) {
            if (strcmp(p->backends[j].addr.text, addr) == 0)
                return lg_shm_backend(prev, i, j);
        }
    }
    return NULL;
}

lg_shm_t *lg_shm_new(const lg_config_t *cf, const lg_shm_t *prev, const lg_config_t *prevcf)
{
    lg_shm_t *shm = calloc(1, sizeof(*shm));
    size_t n = 0;

    if (shm == NULL)
        return NULL;
    shm->first = calloc(LG_MAX(cf->npools, (size_t)1), sizeof(*shm->first));
    if (shm->first == NULL)
        goto out_free;
    for (size_t i = 0; i < cf->npools; i++) {
        shm->first[i] = n;
        n += cf->pools[i].nbackends;
    }
    shm->n = n;
    shm->npools = cf->npools;
    shm->states =
        mmap(NULL, region_size(n), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm->states == MAP_FAILED) {
        lg_log(LG_LOG_ERR, "mmap() of %zu bytes of shared memory failed", region_size(n));
        goto out_free;
    }
    for (size_t i = 0; i < cf->npools; i++) {
        const lg_pool_conf_t *p = &cf->pools[i];

        for (size_t j = 0; j < p->nbackends; j++) {
            lg_be_state_t *s = lg_shm_backend(shm, i, j);
            const lg_be_state_t *old = find(prev, prevcf, p->name, p->backends[j].addr.text);

            if (old != NULL) {
                atomic_store(&s->up, atomic_load(&old->up));
                atomic_store(&s->ejections, atomic_load(&old->ejections));
                atomic_store(&s->ejected_until, atomic_load(&old->ejected_until));
                s->ok_streak = old->ok_streak;
                s->fail_streak = old->fail_streak;
                s->last_check = old->last_check;
                memcpy(s->reason, old->reason, sizeof(s->reason));
            } else {
                atomic_store(&s->up, p->health_check.type == LG_CHECK_NONE);
                strcpy(s->reason,
                       p->health_check.type == LG_CHECK_NONE ? "not checked" : "not checked yet");
            }
        }
    }
    return shm;

out_free:
    free(shm->first);
    free(shm);
    return NULL;
}

void lg_shm_free(lg_shm_t *shm)
{
    if (shm == NULL)
        return;
    munmap(shm->states, region_size(shm->n));
    free(shm->first);
    free(shm);
}
