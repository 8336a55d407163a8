/*
 * ctx.c - a worker's data-path state: set up, listening, connection slots, draining, trim.
 */
#include "worker/ctx.h"

#include <malloc.h>
#include <stdlib.h>
#include <sys/random.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pipe.h"
#include "front/h1.h"
#include "front/h2.h"
#include "front/listener.h"
#include "http/accesslog.h"
#include "stream/tls.h"

#define LG_ACCEPT_RETRY_MS 100
#define LG_LINGER_MS       5000
#define LG_BUF_MIN         16384
/* Room for what the rebuilt head adds (X-Forwarded-*, framing) beyond max_header_size. */
#define LG_BUF_SLACK 4096
#define LG_TRIM_MS   1000
#define LG_FREE_KEEP 256 /* connection and exchange structs kept for reuse */
#define LG_PIPE_SIZE (1 << 20)
#define LG_PIPE_KEEP 32
/* A TLS connection quiet this long gives its record buffers back (see lg_stream_tls_trim). */
#define LG_TLS_QUIET_MS 1000

/* Every second: give back the buffers and structs a past burst left unused. */
static void trim(lg_timer_t *t)
{
    lg_worker_t *w = lg_container_of(t, lg_worker_t, trim_timer);

    lg_buf_trim();
    lg_h2_sleep_tick(w);
    lg_h2_mem_trim();
    if (lg_stream_tls_trim(LG_TLS_QUIET_MS) > 0)
        w->released = 1;
    lg_alog_flush();
    if (w->released) {
        w->released = 0;
        malloc_trim(0); /* what a burst of connections left in the heap */
    }
    lg_timer_set(&w->q.trim, t);
}

static int queues_init(lg_worker_queues_t *q, const lg_config_t *cf)
{
    const struct {
        lg_timerq_t *q;
        lg_msec_t ms;
    } all[] = {
        {&q->client_header, cf->timeouts.client_header},
        {&q->client_body, cf->timeouts.client_body},
        {&q->client_idle, cf->timeouts.client_idle},
        {&q->linger, LG_LINGER_MS},
        {&q->connect, cf->timeouts.connect},
        {&q->upstream, cf->timeouts.upstream_response},
        {&q->tunnel, cf->timeouts.tunnel},
        {&q->upstream_idle, cf->timeouts.upstream_idle},
        {&q->accept_retry, LG_ACCEPT_RETRY_MS},
        {&q->trim, LG_TRIM_MS},
    };

    for (size_t i = 0; i < LG_NELEMS(all); i++) {
        if (lg_timerq_init(all[i].q, all[i].ms) != LG_OK)
            return LG_ERR;
    }
    return LG_OK;
}

int lg_worker_init(lg_worker_t *w, const lg_config_t *cf, lg_shm_t *shm)
{
    w->conf = cf;
    if (getrandom(&w->rid_state, sizeof(w->rid_state), 0) != sizeof(w->rid_state) ||
        w->rid_state == 0)
        w->rid_state = (uint64_t)lg_clock_ms() * 0x9E3779B97F4A7C15ULL | 1;
    if (lg_alog_open(cf) != LG_OK || queues_init(&w->q, cf) != LG_OK ||
        lg_route_queues_init(&w->rq, cf) != LG_OK)
        return LG_ERR;
    lg_buf_init(LG_MAX(cf->limits.max_header_size, (size_t)LG_BUF_MIN) + LG_BUF_SLACK);
    lg_pipe_init(LG_PIPE_SIZE, LG_PIPE_KEEP);
    lg_freelist_init(&w->free_conns[LG_FRONT_H1], lg_front_h1.conn_size, LG_FREE_KEEP);
    lg_freelist_init(&w->free_conns[LG_FRONT_TCP], lg_front_tcp.conn_size, LG_FREE_KEEP);
    lg_freelist_init(&w->free_h1_txns, sizeof(h1_txn_t), LG_FREE_KEEP);
    lg_freelist_init(&w->free_h2_streams, sizeof(h2_stream_t), LG_FREE_KEEP);
    w->trim_timer.handler = trim;
    lg_timer_set(&w->q.trim, &w->trim_timer);
    return lg_upstream_init(&w->ups, cf, shm, &w->q.upstream_idle);
}

int lg_worker_listen(lg_worker_t *w, const int *fds)
{
    w->nlisteners = w->conf->nlisteners;
    w->listeners = calloc(w->nlisteners, sizeof(*w->listeners));
    if (w->listeners == NULL && w->nlisteners != 0) {
        lg_log(LG_LOG_ERR, "out of memory starting a worker");
        return LG_ERR;
    }
    for (size_t i = 0; i < w->nlisteners; i++) {
        if (lg_listener_open(&w->listeners[i], w, fds[i], &w->conf->listeners[i]) != LG_OK)
            return LG_ERR;
    }
    return LG_OK;
}

void lg_worker_conn_opened(lg_worker_t *w)
{
    w->nconns++;
}

void lg_worker_conn_closed(lg_worker_t *w)
{
    w->nconns--;
    if (w->draining && w->nconns == 0)
        lg_loop_stop();
    lg_listener_resume(w);
}

unsigned lg_worker_drain(lg_worker_t *w)
{
    w->draining = 1;
    for (size_t i = 0; i < w->nlisteners; i++)
        lg_listener_close(&w->listeners[i]);
    w->paused = NULL;
    lg_upstream_close_idle(&w->ups);
    lg_h2_drain(w);
    if (w->nconns == 0)
        lg_loop_stop();
    return w->nconns;
}
