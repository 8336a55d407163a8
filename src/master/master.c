/*
 * master.c - the master process.
 *
 * It opens every listening socket once and keeps it, forks the workers, and turns signals into
 * actions through a signalfd, so no work ever happens inside a signal handler. A worker that
 * dies is replaced. TERM and INT stop everything at once; QUIT does too for now (graceful
 * draining arrives with reload).
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
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "master/worker.h"

typedef struct master {
    lg_config_t *cf;
    int *fds;    /* one listening socket per listener */
    pid_t *pids; /* one per worker slot; 0 when empty */
    int sigfd;
    sigset_t sigs;
    int stopping;
} master_t;

/* Write our pid to pid_file (for `lifeguard -s`); removed again at exit. */
static int pid_file_write(const char *path)
{
    FILE *f;

    if (path == NULL)
        return LG_OK;
    f = fopen(path, "w");
    if (f == NULL) {
        lg_log(LG_LOG_ERR, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return LG_ERR;
    }
    fprintf(f, "%d\n", getpid());
    if (fclose(f) != 0) {
        lg_log(LG_LOG_ERR, "write() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return LG_ERR;
    }
    return LG_OK;
}

static int open_listeners(master_t *m)
{
    lg_config_t *cf = m->cf;

    m->fds = calloc(cf->nlisteners, sizeof(*m->fds));
    if (m->fds == NULL)
        return LG_ERR;
    for (size_t i = 0; i < cf->nlisteners; i++) {
        const lg_listener_conf_t *l = &cf->listeners[i];
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char text[LG_ADDR_STRLEN];

        m->fds[i] =
            lg_net_listen((const struct sockaddr *)&l->addr.sa, l->addr.salen, l->addr.text);
        if (m->fds[i] < 0)
            return LG_ERR;
        /* With port 0 the kernel chose: say which, so that clients (and tests) can find it. */
        getsockname(m->fds[i], (struct sockaddr *)&ss, &len);
        lg_net_addr_text((const struct sockaddr *)&ss, text, sizeof(text));
        lg_log(LG_LOG_INFO, "listener %s: listening on %s", l->name, text);
    }
    return LG_OK;
}

static pid_t spawn_worker(master_t *m, unsigned id)
{
    pid_t pid = fork();

    if (pid < 0) {
        lg_log(LG_LOG_ERR, "fork() failed (%d: %s)", errno, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* No worker outlives the master. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(1);
        close(m->sigfd);
        sigprocmask(SIG_UNBLOCK, &m->sigs, NULL);
        _exit(lg_worker_run(m->cf, m->fds, id) == LG_OK ? 0 : 1);
    }
    lg_log(LG_LOG_INFO, "worker %u started, pid %d", id, pid);
    return pid;
}

static void reap(master_t *m)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (unsigned i = 0; i < m->cf->workers; i++) {
            if (m->pids[i] != pid)
                continue;
            m->pids[i] = 0;
            if (m->stopping)
                break;
            if (WIFSIGNALED(status))
                lg_log(LG_LOG_ERR, "worker %u (pid %d) killed by signal %d, restarting", i, pid,
                       WTERMSIG(status));
            else
                lg_log(LG_LOG_ERR, "worker %u (pid %d) exited with status %d, restarting", i, pid,
                       WEXITSTATUS(status));
            m->pids[i] = spawn_worker(m, i);
            if (m->pids[i] < 0)
                m->pids[i] = 0;
        }
    }
}

static unsigned workers_alive(const master_t *m)
{
    unsigned n = 0;

    for (unsigned i = 0; i < m->cf->workers; i++)
        n += m->pids[i] > 0;
    return n;
}

static void stop_workers(master_t *m)
{
    m->stopping = 1;
    for (unsigned i = 0; i < m->cf->workers; i++) {
        if (m->pids[i] > 0)
            kill(m->pids[i], SIGTERM);
    }
}

int lg_master_run(lg_config_t *cf)
{
    master_t m = {.cf = cf, .sigfd = -1};
    struct signalfd_siginfo si;

    sigemptyset(&m.sigs);
    sigaddset(&m.sigs, SIGTERM);
    sigaddset(&m.sigs, SIGINT);
    sigaddset(&m.sigs, SIGQUIT);
    sigaddset(&m.sigs, SIGHUP);
    sigaddset(&m.sigs, SIGUSR1);
    sigaddset(&m.sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &m.sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    m.sigfd = signalfd(-1, &m.sigs, SFD_CLOEXEC);
    if (m.sigfd < 0) {
        lg_log(LG_LOG_ERR, "signalfd() failed (%d: %s)", errno, strerror(errno));
        return 1;
    }
    if (open_listeners(&m) != LG_OK || pid_file_write(cf->pid_file) != LG_OK)
        return 1;
    m.pids = calloc(cf->workers, sizeof(*m.pids));
    if (m.pids == NULL)
        return 1;
    for (unsigned i = 0; i < cf->workers; i++) {
        m.pids[i] = spawn_worker(&m, i);
        if (m.pids[i] < 0)
            return 1;
    }
    lg_log(LG_LOG_INFO, "lifeguard %s started with %u workers", LG_VERSION, cf->workers);

    while (!m.stopping || workers_alive(&m) > 0) {
        ssize_t n = read(m.sigfd, &si, sizeof(si));

        if (n != (ssize_t)sizeof(si)) {
            if (n < 0 && errno == EINTR)
                continue;
            lg_log(LG_LOG_ERR, "read() from signalfd failed (%d: %s)", errno, strerror(errno));
            stop_workers(&m);
            break;
        }
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap(&m);
            break;
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            if (!m.stopping)
                lg_log(LG_LOG_INFO, "signal %u received, stopping", si.ssi_signo);
            stop_workers(&m);
            break;
        default:
            lg_log(LG_LOG_INFO, "signal %u ignored for now", si.ssi_signo);
            break;
        }
    }
    if (cf->pid_file != NULL)
        unlink(cf->pid_file);
    lg_log(LG_LOG_INFO, "lifeguard stopped");
    return 0;
}
