/*
 * worker.c - the worker's main: signals, the proxy, the loop, draining.
 */
#include "master/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/log.h"
#include "event/loop.h"
#include "http/accesslog.h"
#include "worker/ctx.h"

/* The process's worker: its data path state, and what only the process main needs. */
static struct {
    lg_worker_t w;
    lg_io_t sig_io;
    lg_timerq_t q_drain;
    lg_timer_t drain_timer;
} me;

static void drain_deadline(lg_timer_t *t)
{
    LG_UNUSED(t);
    lg_log(LG_LOG_WARN, "drain deadline (timeouts.drain) reached, closing what is left");
    lg_loop_stop();
}

static void drain_start(void)
{
    unsigned open;

    if (me.w.draining)
        return;
    open = lg_worker_drain(&me.w);
    lg_log(LG_LOG_INFO, "draining %u connections", open);
    lg_timer_set(&me.q_drain, &me.drain_timer);
}

static void logs_reopen(void)
{
    lg_log_open(me.w.conf->log.error);
    lg_alog_reopen();
}

static void signal_event(lg_io_t *io, uint32_t ev)
{
    struct signalfd_siginfo si;

    LG_UNUSED(ev);
    while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGQUIT)
            drain_start();
        else if (si.ssi_signo == SIGUSR1)
            logs_reopen();
        else
            lg_loop_stop(); /* TERM, INT: stop now; the access log is flushed on the way out */
    }
}

/*
 * QUIT, USR1, TERM and INT arrive through a signalfd in the loop, so that a stop, however
 * asked for (Ctrl-C reaches every process of the group), still writes the buffered access log.
 */
static int signals_init(void)
{
    sigset_t mine;

    sigemptyset(&mine);
    sigaddset(&mine, SIGQUIT);
    sigaddset(&mine, SIGUSR1);
    sigaddset(&mine, SIGTERM);
    sigaddset(&mine, SIGINT);
    me.sig_io.fd = signalfd(-1, &mine, SFD_NONBLOCK | SFD_CLOEXEC);
    if (me.sig_io.fd < 0) {
        lg_log(LG_LOG_ERR, "signalfd() failed (%d: %s)", errno, strerror(errno));
        return LG_ERR;
    }
    me.sig_io.handler = signal_event;
    signal(SIGHUP, SIG_IGN);
    /* One call: a signal already pending must never meet its default action. */
    sigprocmask(SIG_SETMASK, &mine, NULL);
    return lg_loop_add(&me.sig_io, EPOLLIN | EPOLLET);
}

int lg_worker_run(const lg_config_t *cf, const int *fds, lg_shm_t *shm, lg_stats_t *stats,
                  unsigned id, unsigned generation)
{
    lg_stats_bind(stats, id);
    lg_log_set_worker((int)id);
    me.w.id = id;
    if (lg_loop_init() != LG_OK || signals_init() != LG_OK ||
        lg_worker_init(&me.w, cf, shm) != LG_OK ||
        lg_timerq_init(&me.q_drain, cf->timeouts.drain) != LG_OK)
        return 1;
    me.drain_timer.handler = drain_deadline;
    if (lg_worker_listen(&me.w, fds) != LG_OK)
        return 1;
    lg_loop_run();
    lg_alog_flush();
    lg_log(LG_LOG_INFO, "worker %u of generation %u exiting", id, generation);
    return 0;
}
