/*
 * master.c - the master process: worker generations, signals, reload.
 *
 * The master keeps the listening sockets (lsock.c), the watchers of the backends (src/health/)
 * and the admin listener in its own event loop. Signals arrive through a signalfd in that loop;
 * no work happens in a signal handler.
 *
 *   HUP   reload: parse the file; if it is broken, log and keep serving; if it is valid, open the
 *         new listeners, close the removed ones, fork the new generation, drain the old one
 *   QUIT  graceful stop: every worker drains, then the master exits 0
 *   TERM, INT   stop at once
 *   USR1  reopen the logs (master and workers)
 *   CHLD  reap; a worker of the current generation that died is replaced, with a growing delay
 *         when it keeps dying
 */
#include "master/master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme.h"
#include "admin/admin.h"
#include "admin/metrics.h"
#include "core/log.h"
#include "event/loop.h"
#include "health/check.h"
#include "health/dns.h"
#include "master/lsock.h"
#include "master/nofile.h"
#include "master/worker.h"
#include "policy/ratelimit.h"
#include "tls/ocsp.h"
#include "tls/ticket.h"
#include "tls/tls.h"
#include "upstream/shm.h"

/* A worker that dies sooner than this after its start is restarted after a delay. */
#define LG_RESPAWN_QUICK_MS  1000
#define LG_RESPAWN_DELAY_MIN 100
#define LG_RESPAWN_DELAY_MAX 10000
#define LG_NSEC_PER_SEC      1e9
/* After the drain deadline, a worker that has not exited yet is killed this much later. */
#define LG_KILL_GRACE_MS 2000
/* A worker told to stop (TERM) at that point is killed if it is still there this much later. */
#define LG_TERM_GRACE_MS 1000

typedef struct slot {
    pid_t pid;            /* 0 when not running */
    lg_msec_t started;    /* when it was forked */
    lg_msec_t delay;      /* current respawn delay, grows while it keeps dying quickly */
    lg_msec_t respawn_at; /* > 0: start a worker in this slot at that time */
} slot_t;

/* One configuration and the workers that serve it. */
typedef struct generation {
    unsigned id;
    lg_config_t *cf;
    int *fds;          /* listening socket of each listener, owned by the master's socket table */
    lg_shm_t *shm;     /* backend state shared with this generation's workers */
    lg_stats_t *stats; /* their counters */
    lg_rl_table_t *rl; /* rate limit buckets (NULL: no route has a rate_limit) */
    slot_t *slots;
    unsigned alive;
    int draining;
    int term_sent;           /* told to stop after the drain deadline: KILL comes next */
    struct generation *next; /* older generations, still draining */
} generation_t;

static struct {
    generation_t *cur;
    generation_t *pending; /* loaded, waiting for its backends' first checks */
    int reload_queued;     /* a HUP came while a generation was pending */
    generation_t *old;
    unsigned reloads, reload_failures, restarts;
    double reload_ok_at; /* wall clock (s) of the last successful load, the first one included */
    lg_msec_t started;
    unsigned next_gen;
    int sigfd;
    sigset_t sigs;
    int stopping;    /* 1: graceful, 2: fast */
    int pid_written; /* the pid file is ours to remove at exit */
    lg_io_t sig_io;
    lg_timerq_t q_kill; /* drain deadline + grace for a stop or an old generation */
    lg_timer_t kill_timer;
    lg_timerq_t q_respawn; /* ticks while a delayed respawn waits */
    lg_timer_t respawn_timer;
} m;

static void spawn(generation_t *g, unsigned i);

/* The wall clock in seconds, as Prometheus timestamps are. */
static double wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / LG_NSEC_PER_SEC;
}

/* ---- pid file */

/*
 * Write the master's pid. A pid_file the configuration names must be written; the default one
 * may be unwritable (a read-only container without /tmp): lifeguard then serves anyway and
 * says that `lifeguard -s` will not find it.
 */
static int pid_file_write(const lg_config_t *cf)
{
    const char *path = cf->pid_file;
    FILE *f;

    if (path == NULL)
        return LG_OK;
    f = fopen(path, "w");
    if (f == NULL && path == cf->pid_file_default) {
        lg_log(LG_LOG_WARN,
               "open() \"%s\" failed (%d: %s): no pid file, `lifeguard -s` needs pid_file set "
               "to a writable path",
               path, errno, strerror(errno));
        return LG_OK;
    }
    if (f == NULL) {
        lg_log(LG_LOG_ERR, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return LG_ERR;
    }
    m.pid_written = 1;
    fprintf(f, "%d\n", getpid());
    if (fclose(f) != 0) {
        lg_log(LG_LOG_ERR, "write() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return LG_ERR;
    }
    return LG_OK;
}

/* ---- generations and workers */

/* What the admin pages show: the serving generation first, then those still draining. */
static void admin_view(lg_admin_view_t *v)
{
    generation_t *g = m.cur;

    for (; g != NULL && v->ngens < LG_NELEMS(v->gens); g = (g == m.cur ? m.old : g->next)) {
        lg_admin_gen_t *a = &v->gens[v->ngens++];

        a->cf = g->cf;
        a->shm = g->shm;
        a->stats = g->stats;
        a->fds = g->fds;
        a->id = g->id;
        v->workers += g->alive;
    }
    v->serving = m.cur != NULL ? m.cur->alive : 0;
    v->reloads = m.reloads;
    v->reload_failures = m.reload_failures;
    v->reload_ok_at = m.reload_ok_at;
    v->worker_restarts = m.restarts;
    v->started = m.started;
}

static void generation_free(generation_t *g)
{
    lg_stats_free(g->stats);
    lg_shm_free(g->shm);
    lg_rl_free(g->rl);
    lg_config_free(g->cf);
    free(g->fds);
    free(g->slots);
    free(g);
}

static generation_t *generation_new(lg_config_t *cf)
{
    generation_t *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->cf = cf;
    g->fds = calloc(cf->nlisteners, sizeof(*g->fds));
    g->slots = calloc(cf->workers, sizeof(*g->slots));
    if (g->fds == NULL || g->slots == NULL) {
        free(g->fds);
        free(g->slots);
        free(g);
        return NULL;
    }
    g->id = ++m.next_gen;
    return g;
}

static void spawn(generation_t *g, unsigned i)
{
    pid_t master = getpid();
    pid_t pid = fork();

    if (pid < 0) {
        lg_log(LG_LOG_ERR, "fork() failed (%d: %s)", errno, strerror(errno));
        return;
    }
    if (pid == 0) {
        /* No worker outlives the master. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* the master died before prctl() took effect (it may be PID 1 itself, in a container) */
        if (getppid() != master)
            _exit(1);
        close(m.sigfd);
        _exit(lg_worker_run(g->cf, g->fds, g->shm, g->stats, i, g->id));
    }
    g->slots[i].pid = pid;
    g->slots[i].started = lg_now;
    g->alive++;
    lg_log(LG_LOG_INFO, "generation %u: worker %u started, pid %d", g->id, i, pid);
}

static void signal_generation(generation_t *g, int signo)
{
    for (unsigned i = 0; i < g->cf->workers; i++) {
        if (g->slots[i].pid > 0)
            kill(g->slots[i].pid, signo);
    }
}

/* Start the workers whose respawn delay is over; tick again while some still wait. */
static void respawn_tick(lg_timer_t *t)
{
    generation_t *g = m.cur;
    int waiting = 0;

    for (unsigned i = 0; g != NULL && i < g->cf->workers && !m.stopping; i++) {
        slot_t *s = &g->slots[i];

        if (s->respawn_at == 0)
            continue;
        if (s->respawn_at <= lg_now) {
            s->respawn_at = 0;
            spawn(g, i);
        } else {
            waiting = 1;
        }
    }
    if (waiting)
        lg_timer_set(&m.q_respawn, t);
}

/*
 * A worker of the current generation died: start another at once, or after a delay that
 * doubles (up to 10 s) while workers keep dying within a second of their start.
 */
static void replace(generation_t *g, unsigned i)
{
    slot_t *s = &g->slots[i];

    if (lg_now - s->started >= LG_RESPAWN_QUICK_MS) {
        m.restarts++;
        s->delay = 0;
        spawn(g, i);
        return;
    }
    m.restarts++;
    s->delay = s->delay == 0 ? LG_RESPAWN_DELAY_MIN : LG_MIN(s->delay * 2, LG_RESPAWN_DELAY_MAX);
    lg_log(LG_LOG_WARN, "generation %u: worker %u keeps dying, restarting in %llu ms", g->id, i,
           (unsigned long long)s->delay);
    s->respawn_at = lg_now + s->delay;
    if (!lg_timer_armed(&m.respawn_timer))
        lg_timer_set(&m.q_respawn, &m.respawn_timer);
}

static void worker_exited(generation_t *g, unsigned i, int status)
{
    pid_t pid = g->slots[i].pid;
    int clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                (m.stopping == 2 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

    g->slots[i].pid = 0;
    g->alive--;
    lg_qshm_worker_gone(g->shm->queue, g->shm->states, i); /* the slots it held, its queue */
    if (g != m.cur || m.stopping) {
        lg_log(clean ? LG_LOG_INFO : LG_LOG_WARN, "generation %u: worker %u (pid %d) %s", g->id, i,
               pid, clean ? "exited" : "ended abnormally");
        return;
    }
    if (WIFSIGNALED(status))
        lg_log(LG_LOG_ERR, "generation %u: worker %u (pid %d) killed by signal %d", g->id, i, pid,
               WTERMSIG(status));
    else
        lg_log(LG_LOG_ERR, "generation %u: worker %u (pid %d) exited with status %d", g->id, i, pid,
               WEXITSTATUS(status));
    replace(g, i);
}

static void reap(void)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        generation_t *g = m.cur != NULL ? m.cur : m.old;

        for (; g != NULL; g = (g == m.cur ? m.old : g->next)) {
            for (unsigned i = 0; i < g->cf->workers; i++) {
                if (g->slots[i].pid == pid) {
                    worker_exited(g, i, status);
                    goto next;
                }
            }
        }
    next:;
    }
    /* Old generations whose workers are all gone are forgotten. */
    for (generation_t **gp = &m.old; *gp != NULL;) {
        generation_t *g = *gp;

        if (g->alive == 0) {
            lg_admin_gen_t a = {g->cf, g->shm, g->stats, NULL, g->id};

            lg_metrics_retire(&a);
            lg_log(LG_LOG_INFO, "generation %u drained", g->id);
            *gp = g->next;
            generation_free(g);
        } else {
            gp = &g->next;
        }
    }
}

static unsigned workers_alive(void)
{
    unsigned n = m.cur != NULL ? m.cur->alive : 0;

    for (generation_t *g = m.old; g != NULL; g = g->next)
        n += g->alive;
    return n;
}

/*
 * Past the drain deadline: whatever still runs of the old generations (or of a stop) is told
 * to stop with TERM, which a worker answers by writing out its access log and exiting; what
 * still runs LG_TERM_GRACE_MS later is killed.
 */
static int stop_late(generation_t *g)
{
    int first = !g->term_sent;

    lg_log(LG_LOG_WARN, "generation %u: %u workers still running after the drain deadline, %s them",
           g->id, g->alive, first ? "stopping" : "killing");
    signal_generation(g, first ? SIGTERM : SIGKILL);
    g->term_sent = 1;
    return first;
}

static void kill_late(lg_timer_t *t)
{
    int again = 0;

    for (generation_t *g = m.old; g != NULL; g = g->next) {
        if (g->alive > 0)
            again |= stop_late(g);
    }
    if (m.stopping && m.cur != NULL && m.cur->alive > 0)
        again |= stop_late(m.cur);
    if (again) {
        lg_timerq_retime(&m.q_kill, LG_TERM_GRACE_MS); /* its one timer just fired */
        lg_timer_set(&m.q_kill, t);
    }
}

static void arm_kill_timer(const lg_config_t *cf)
{
    lg_timer_del(&m.kill_timer); /* the queue's only timer: it may be retimed once empty */
    lg_timerq_retime(&m.q_kill, cf->timeouts.drain + LG_KILL_GRACE_MS);
    lg_timer_set(&m.q_kill, &m.kill_timer);
}

/* ---- reload and stop */

static void reload(void);

/*
 * The pending generation's new backends all had their first check: fork its workers, then
 * tell the generation before it to drain.
 */
static void generation_ready(void)
{
    generation_t *g = m.pending, *prev = m.cur;

    m.pending = NULL;
    if (g == NULL)
        return;
    if (m.stopping) {
        generation_free(g);
        return;
    }
    lg_nofile_raise(g->cf);
    for (unsigned i = 0; i < g->cf->workers; i++)
        spawn(g, i);
    m.cur = g;
    m.reload_ok_at = wall_seconds();
    if (lg_admin_configure(g->cf, admin_view) != LG_OK)
        lg_log(LG_LOG_ERR, "admin listener on %s not opened: the admin pages are unavailable",
               g->cf->admin.addr.text);
    lg_acme_apply(g->cf); /* failures logged: acme certificates keep their placeholder */
    if (prev == NULL) {
        lg_log(LG_LOG_INFO, "lifeguard %s started: generation %u with %u workers", LG_VERSION,
               g->id, g->cf->workers);
    } else {
        prev->draining = 1;
        signal_generation(prev, SIGQUIT);
        prev->next = m.old;
        m.old = prev;
        arm_kill_timer(prev->cf);
        m.reloads++;
        lg_log(LG_LOG_INFO, "reloaded: generation %u serves with %u workers, generation %u drains",
               g->id, g->cf->workers, prev->id);
    }
    if (m.reload_queued) {
        m.reload_queued = 0;
        reload();
    }
}

/*
 * Watch the backends of `g` (DNS lookups, health checks) in place of those watched before;
 * `ready` is called once every new backend had its first check. On failure (logged where it
 * happened) nothing is watched any more.
 */
static int watchers_start(const generation_t *g, void (*ready)(void))
{
    if (lg_dns_start(g->cf, g->shm) == LG_OK && lg_health_start(g->cf, g->shm, ready) == LG_OK)
        return LG_OK;
    lg_dns_stop();
    lg_health_stop();
    return LG_ERR;
}

/* Load `cf` as the next generation: sockets, shared state, first checks; workers follow. */
static int generation_load(lg_config_t *cf)
{
    generation_t *g = generation_new(cf);
    const generation_t *prev = m.cur;

    if (g == NULL) {
        lg_config_free(cf);
        return LG_ERR;
    }
    g->shm = lg_shm_new(cf, prev != NULL ? prev->shm : NULL, prev != NULL ? prev->cf : NULL);
    g->stats = lg_stats_new(cf);
    if (g->shm == NULL || g->stats == NULL || lg_rl_new(cf, &g->rl) != LG_OK ||
        lg_lsock_update(cf, g->fds) != LG_OK) {
        generation_free(g);
        return LG_ERR;
    }
    m.pending = g;
    if (watchers_start(g, generation_ready) != LG_OK) {
        m.pending = NULL;
        generation_free(g);
        /* the serving generation's backends were watched by what just stopped: watch again */
        if (prev != NULL && watchers_start(prev, generation_ready) != LG_OK)
            lg_log(LG_LOG_ERR, "generation %u: backends no longer checked nor resolved", prev->id);
        return LG_ERR;
    }
    return LG_OK;
}

static void reload(void)
{
    lg_config_errors_t errs = {0};
    generation_t *prev = m.cur;
    lg_config_t *cf;

    if (m.pending != NULL) {
        m.reload_queued = 1; /* done once the pending generation runs */
        return;
    }
    lg_log(LG_LOG_INFO, "reloading %s", prev->cf->file);
    cf = lg_config_load(prev->cf->file, &errs);
    if (cf != NULL && lg_tls_load(cf, &errs) != LG_OK) {
        lg_config_free(cf);
        cf = NULL;
    }
    if (cf == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            lg_log(LG_LOG_ERR, "reload failed: %s", errs.lines[i]);
        lg_log(LG_LOG_ERR, "reload failed: generation %u keeps serving", prev->id);
        lg_config_errors_free(&errs);
        m.reload_failures++;
        return;
    }
    if (cf->log.level != lg_log_level || strcmp(cf->log.error, prev->cf->log.error) != 0) {
        lg_log_level = cf->log.level;
        lg_log_open(cf->log.error);
    }
    if (generation_load(cf) != LG_OK) {
        lg_log(LG_LOG_ERR, "reload failed: generation %u keeps serving", prev->id);
        m.reload_failures++;
    }
}

static void stop(int graceful)
{
    if (m.stopping == 2 || (m.stopping && graceful))
        return;
    m.stopping = graceful ? 1 : 2;
    lg_log(LG_LOG_INFO, "%s", graceful ? "graceful stop: draining every worker" : "stopping");
    /* Nobody will accept any more: new connections are refused rather than left queued. */
    lg_lsock_close_all();
    for (generation_t *g = m.old; g != NULL; g = g->next)
        signal_generation(g, graceful ? SIGQUIT : SIGTERM);
    if (m.cur != NULL) {
        signal_generation(m.cur, graceful ? SIGQUIT : SIGTERM);
        arm_kill_timer(m.cur->cf);
    }
}

static void signal_event(lg_io_t *io, uint32_t ev)
{
    struct signalfd_siginfo si;

    LG_UNUSED(ev);
    while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap();
            break;
        case SIGHUP:
            if (!m.stopping)
                reload();
            break;
        case SIGQUIT:
            stop(1);
            break;
        case SIGTERM:
        case SIGINT:
            stop(0);
            break;
        case SIGUSR1:
            if (m.cur == NULL)
                break;
            lg_log_open(m.cur->cf->log.error);
            signal_generation(m.cur, SIGUSR1);
            lg_log(LG_LOG_INFO, "logs reopened");
            break;
        default:
            break;
        }
    }
    if (m.stopping && workers_alive() == 0)
        lg_loop_stop();
}

static int signals_init(void)
{
    sigemptyset(&m.sigs);
    sigaddset(&m.sigs, SIGTERM);
    sigaddset(&m.sigs, SIGINT);
    sigaddset(&m.sigs, SIGQUIT);
    sigaddset(&m.sigs, SIGHUP);
    sigaddset(&m.sigs, SIGUSR1);
    sigaddset(&m.sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &m.sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    m.sigfd = signalfd(-1, &m.sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m.sigfd < 0) {
        lg_log(LG_LOG_ERR, "signalfd() failed (%d: %s)", errno, strerror(errno));
        return LG_ERR;
    }
    m.sig_io.fd = m.sigfd;
    m.sig_io.handler = signal_event;
    return lg_loop_add(&m.sig_io, EPOLLIN | EPOLLET);
}

int lg_master_run(lg_config_t *cf)
{
    generation_t *g;

    if (lg_loop_init() != LG_OK || signals_init() != LG_OK ||
        lg_timerq_init(&m.q_kill, cf->timeouts.drain + LG_KILL_GRACE_MS) != LG_OK ||
        lg_timerq_init(&m.q_respawn, LG_RESPAWN_DELAY_MIN) != LG_OK ||
        lg_tls_tickets_start(cf) != LG_OK || lg_tls_ocsp_start(cf) != LG_OK ||
        lg_tls_acme_start(cf) != LG_OK)
        return 1;
    m.kill_timer.handler = kill_late;
    m.respawn_timer.handler = respawn_tick;
    m.started = lg_now;
    if (pid_file_write(cf) != LG_OK || generation_load(cf) != LG_OK)
        return 1;

    lg_loop_run();

    lg_health_stop();
    lg_dns_stop();
    lg_admin_close();
    if (m.pid_written && m.cur != NULL && m.cur->cf->pid_file != NULL)
        unlink(m.cur->cf->pid_file);
    lg_log(LG_LOG_INFO, "lifeguard stopped");
    while (m.old != NULL) {
        g = m.old;
        m.old = g->next;
        generation_free(g);
    }
    if (m.cur != NULL)
        generation_free(m.cur);
    if (m.pending != NULL)
        generation_free(m.pending);
    return 0;
}
