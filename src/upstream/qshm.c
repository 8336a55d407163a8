/*
 * qshm.c - the shared queue state of a generation (see qshm.h).
 */
#include "upstream/qshm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"
#include "upstream/shm.h"

static int any_limited(const lg_config_t *cf)
{
    for (size_t i = 0; i < cf->npools; i++)
        if (lg_pool_limited(&cf->pools[i]))
            return 1;
    return 0;
}

static size_t round_up(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

lg_qshm_t *lg_qshm_new(const lg_config_t *cf, size_t nmembers, int *err)
{
    lg_qshm_t *q;
    size_t pools, slots, held;

    *err = 0;
    if (!any_limited(cf))
        return NULL;
    *err = 1;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->npools = cf->npools;
    q->nworkers = cf->workers;
    q->nmembers = nmembers;
    pools = round_up(q->npools * sizeof(lg_qpool_t));
    slots = round_up(q->npools * q->nworkers * sizeof(lg_qslot_t));
    held = round_up(LG_MAX(q->nworkers * nmembers, (size_t)1) * sizeof(atomic_uint));
    q->size = pools + slots + held;
    q->efd = calloc(q->nworkers, sizeof(*q->efd));
    if (q->efd == NULL || (q->region = lg_shm_map(q->size, "backend queues")) == NULL) {
        free(q->efd);
        free(q);
        return NULL;
    }
    q->pools = q->region;
    q->slots = (lg_qslot_t *)((char *)q->region + pools);
    q->held = (atomic_uint *)(void *)((char *)q->region + pools + slots);
    for (size_t w = 0; w < q->nworkers; w++)
        q->efd[w] = -1;
    for (size_t w = 0; w < q->nworkers; w++) {
        q->efd[w] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (q->efd[w] < 0) {
            lg_log(LG_LOG_ERR, "eventfd() for the backend queues failed (%d: %s)", errno,
                   strerror(errno));
            lg_qshm_free(q);
            return NULL;
        }
    }
    *err = 0;
    return q;
}

void lg_qshm_free(lg_qshm_t *q)
{
    if (q == NULL)
        return;
    for (size_t w = 0; w < q->nworkers; w++)
        if (q->efd[w] >= 0)
            close(q->efd[w]);
    munmap(q->region, q->size);
    free(q->efd);
    free(q);
}

void lg_qshm_wake(const lg_qshm_t *q, size_t w)
{
    uint64_t one = 1;

    /* EAGAIN: the counter is full, so the worker has a wake-up pending anyway */
    while (write(q->efd[w], &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

void lg_qshm_worker_gone(lg_qshm_t *q, lg_be_state_t *states, size_t w)
{
    if (q == NULL || w >= q->nworkers)
        return;
    for (size_t m = 0; m < q->nmembers; m++) {
        atomic_uint *held = &q->held[w * q->nmembers + m];
        unsigned n = atomic_exchange(held, 0);

        if (n != 0)
            atomic_fetch_sub(&states[m].active, n);
    }
    for (size_t p = 0; p < q->npools; p++) {
        lg_qslot_t *s = lg_qshm_slot(q, p, w);
        unsigned n = atomic_exchange(&s->waiting, 0);

        atomic_store(&s->head, 0);
        if (n != 0)
            atomic_fetch_sub(&q->pools[p].queued, n);
    }
    for (size_t k = 0; k < q->nworkers; k++)
        if (k != w)
            lg_qshm_wake(q, k);
}
