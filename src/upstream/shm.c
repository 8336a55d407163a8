/*
 * shm.c - the shared member state of a generation (see shm.h).
 */
#include "upstream/shm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "core/log.h"
#include "event/loop.h"

static size_t region_size(size_t n)
{
    return LG_MAX(n, (size_t)1) * sizeof(lg_be_state_t);
}

void *lg_shm_map(size_t size, const char *what)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        lg_log(LG_LOG_ERR, "mmap() of %zu bytes for %s failed (%d: %s)", size, what, errno,
               strerror(errno));
        return NULL;
    }
    return p;
}

size_t lg_pool_members(const lg_pool_conf_t *p)
{
    size_t n = 0;

    for (size_t j = 0; j < p->nbackends; j++)
        n += lg_backend_members(&p->backends[j]);
    return n;
}

size_t *lg_member_index(const lg_config_t *cf, size_t *n)
{
    size_t *first = calloc(LG_MAX(cf->npools, (size_t)1), sizeof(*first));

    *n = 0;
    if (first == NULL) {
        lg_log(LG_LOG_ERR, "calloc() of %zu pool indexes failed: out of memory", cf->npools);
        return NULL;
    }
    for (size_t i = 0; i < cf->npools; i++) {
        first[i] = *n;
        *n += lg_pool_members(&cf->pools[i]);
    }
    return first;
}

const lg_backend_conf_t *lg_member_conf(const lg_pool_conf_t *p, size_t m)
{
    for (size_t j = 0; j < p->nbackends; j++) {
        size_t k = lg_backend_members(&p->backends[j]);

        if (m < k)
            return &p->backends[j];
        m -= k;
    }
    return NULL;
}

void lg_be_addr(lg_be_state_t *s, struct sockaddr_storage *ss, socklen_t *len)
{
    unsigned before, after;

    do {
        before = atomic_load_explicit(&s->addr_seq, memory_order_acquire);
        memcpy(ss, &s->addr, sizeof(*ss));
        *len = s->addrlen;
        atomic_thread_fence(memory_order_acquire);
        after = atomic_load_explicit(&s->addr_seq, memory_order_relaxed);
    } while ((before & 1) || before != after);
}

void lg_be_set_addr(lg_be_state_t *s, const struct sockaddr *sa, socklen_t len, int checked)
{
    atomic_store_explicit(&s->in_use, 0, memory_order_release);
    atomic_fetch_add_explicit(&s->addr_seq, 1, memory_order_release);
    atomic_thread_fence(memory_order_release);
    memset(&s->addr, 0, sizeof(s->addr));
    if (len > 0)
        memcpy(&s->addr, sa, len);
    s->addrlen = len;
    atomic_fetch_add_explicit(&s->addr_seq, 1, memory_order_release);
    /* a new address is a new member: checked before it gets traffic */
    atomic_store(&s->up, 0);
    atomic_store(&s->fails, 0);
    atomic_store(&s->ejections, 0);
    atomic_store(&s->ejected_until, 0);
    s->ok_streak = s->fail_streak = 0;
    s->last_check = 0;
    strcpy(s->reason, checked ? "not checked yet" : "not checked");
    if (len > 0 && !checked)
        lg_be_came_up(s);
    if (len > 0)
        atomic_store_explicit(&s->in_use, 1, memory_order_release);
}

void lg_be_came_up(lg_be_state_t *s)
{
    atomic_store(&s->up_since, s->ramp ? (uint64_t)lg_now : 0);
    s->ramp = 1;
    atomic_store(&s->up, 1);
}

/* Member `k` of backend `addr` of pool `pool` in the previous generation, or NULL. */
static lg_be_state_t *find(const lg_shm_t *prev, const lg_config_t *prevcf, const char *pool,
                           const char *addr, size_t k)
{
    for (size_t i = 0; prev != NULL && i < prevcf->npools; i++) {
        const lg_pool_conf_t *p = &prevcf->pools[i];
        size_t m = 0;

        if (strcmp(p->name, pool) != 0)
            continue;
        for (size_t j = 0; j < p->nbackends; j++) {
            if (strcmp(p->backends[j].addr.text, addr) == 0)
                return lg_shm_backend(prev, i, m + k);
            m += lg_backend_members(&p->backends[j]);
        }
    }
    return NULL;
}

static void carry(lg_be_state_t *s, const lg_be_state_t *old)
{
    memcpy(&s->addr, &old->addr, sizeof(s->addr));
    s->addrlen = old->addrlen;
    atomic_store(&s->in_use, atomic_load(&old->in_use));
    atomic_store(&s->up, atomic_load(&old->up));
    atomic_store(&s->ejections, atomic_load(&old->ejections));
    atomic_store(&s->ejected_until, atomic_load(&old->ejected_until));
    atomic_store(&s->up_since, atomic_load(&old->up_since));
    s->ramp = old->ramp;
    s->ok_streak = old->ok_streak;
    s->fail_streak = old->fail_streak;
    s->last_check = old->last_check;
    memcpy(s->reason, old->reason, sizeof(s->reason));
}

/*
 * A carried member whose pool has no active check (any more) is up: no check would ever bring a
 * member that a check had marked down back, and a pool without checks starts its members up.
 */
static void carry_checked(lg_be_state_t *s, const lg_be_state_t *old, int checked)
{
    carry(s, old);
    if (checked || s->addrlen == 0 || atomic_load(&s->up))
        return;
    strcpy(s->reason, "not checked");
    s->ok_streak = s->fail_streak = 0;
    lg_be_came_up(s);
}

/* The sticky cookies' key: the previous generation's, or new random bytes at start. */
static int secret(lg_shm_t *shm, const lg_shm_t *prev)
{
    if (prev != NULL) {
        memcpy(shm->secret, prev->secret, sizeof(shm->secret));
        return LG_OK;
    }
    if (getrandom(shm->secret, sizeof(shm->secret), 0) != (ssize_t)sizeof(shm->secret)) {
        lg_log(LG_LOG_ERR, "getrandom() of %zu bytes failed (%d: %s)", sizeof(shm->secret), errno,
               strerror(errno));
        return LG_ERR;
    }
    return LG_OK;
}

lg_shm_t *lg_shm_new(const lg_config_t *cf, const lg_shm_t *prev, const lg_config_t *prevcf)
{
    lg_shm_t *shm = calloc(1, sizeof(*shm));
    size_t n;
    int err;

    if (shm == NULL)
        return NULL;
    shm->first = lg_member_index(cf, &n);
    if (shm->first == NULL)
        goto out_free;
    shm->n = n;
    shm->npools = cf->npools;
    if (secret(shm, prev) != LG_OK)
        goto out_free;
    shm->states = lg_shm_map(region_size(n), "backend state");
    if (shm->states == NULL)
        goto out_free;
    shm->queue = lg_qshm_new(cf, n, &err);
    if (err) {
        munmap(shm->states, region_size(n));
        goto out_free;
    }
    for (size_t i = 0; i < cf->npools; i++) {
        const lg_pool_conf_t *p = &cf->pools[i];
        int checked = p->health_check.type != LG_CHECK_NONE;
        size_t m = 0;

        for (size_t j = 0; j < p->nbackends; j++) {
            const lg_backend_conf_t *b = &p->backends[j];

            for (size_t k = 0; k < lg_backend_members(b); k++, m++) {
                lg_be_state_t *s = lg_shm_backend(shm, i, m);
                const lg_be_state_t *old = find(prev, prevcf, p->name, b->addr.text, k);

                s->ramp = prev != NULL; /* a backend added by a reload ramps up */
                if (old != NULL)
                    carry_checked(s, old, checked);
                else if (!b->addr.is_hostname)
                    lg_be_set_addr(s, (const struct sockaddr *)&b->addr.sa, b->addr.salen, checked);
                else
                    lg_be_set_addr(s, NULL, 0, checked);
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
    lg_qshm_free(shm->queue);
    free(shm->first);
    free(shm);
}
