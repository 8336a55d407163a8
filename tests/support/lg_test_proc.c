/*
 * lg_test_proc.c - the processes under test (lg-origin, lifeguard), their logs, /proc lookups.
 *
 * No orphans: every child runs in its own process group (lifeguard's workers inherit it), gets
 * PR_SET_PDEATHSIG(SIGKILL), and its group is registered with a guardian, a process forked once
 * per test process that holds one end of a socketpair. When the test process ends in any way
 * (even SIGKILL from criterion's timeout) the guardian reads EOF and SIGKILLs every group still
 * registered. At a normal exit an atexit handler first stops the processes properly.
 *
 * Between fork() and exec() the child only makes async-signal-safe calls: the test process may
 * have threads (criterion's).
 */
#include "lg_test.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LG_GUARD_MAX      1024 /* process groups one guardian can watch */
#define LG_PROC_MAX_ARGS  64
#define LG_POLL_MS        5
#define LG_LOG_POLL_MS    10
#define LG_STRAY_WAIT_MS  1000 /* how long a group may outlive its leader before it is killed */
#define LG_EXIT_STOP_MS   2000 /* SIGTERM grace for processes a test left running */
#define LG_NAME_MAX       128
#define LG_MAX_LISTENERS  64
#define LG_FD_HIGH        10 /* dup target above 0..2 while the child rearranges its fds */
#define LG_UNKNOWN_STATUS 255

struct lg_proc_priv {
    lg_proc_t pub;  /* first: a lg_proc_t * is a struct lg_proc_priv * */
    int registered; /* its group is registered with the guardian */
    int group_done; /* strays counted and killed */
};

static struct lg_proc_priv **lg_procs;
static size_t lg_nprocs, lg_procs_cap;
static int lg_guard_fd = -1;

/* ---- guardian */

static void lg_guardian(int fd)
{
    static pid_t groups[LG_GUARD_MAX];
    size_t n = 0, i;

    for (;;) {
        int32_t v;
        ssize_t r = recv(fd, &v, sizeof(v), 0);

        if (r == (ssize_t)sizeof(v)) {
            if (v > 0 && n < LG_GUARD_MAX) {
                groups[n++] = v;
            } else if (v < 0) {
                for (i = 0; i < n; i++) {
                    if (groups[i] == -v) {
                        groups[i] = groups[--n];
                        break;
                    }
                }
            }
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        break; /* EOF: the test process is gone */
    }
    for (i = 0; i < n; i++)
        kill(-groups[i], SIGKILL);
    _exit(0);
}

static void lg_guard_start(void)
{
    int sv[2], null_fd;
    pid_t pid;

    if (lg_guard_fd >= 0)
        return;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        cr_assert_fail("socketpair() failed: %s", strerror(errno));
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid = fork();
    if (pid < 0)
        cr_assert_fail("fork() failed: %s", strerror(errno));
    if (pid == 0) {
        sigset_t all;
        int fd = fcntl(sv[1], F_DUPFD, LG_FD_HIGH);
        int nfd = fcntl(null_fd, F_DUPFD, LG_FD_HIGH);

        /* only EOF (or SIGKILL) ends it; own group, so a kill of the test's group spares it */
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        setpgid(0, 0);
        dup2(nfd, 0);
        dup2(nfd, 1);
        dup2(nfd, 2);
        dup2(fd, 3);
        close_range(4, ~0U, 0);
        lg_guardian(3);
    }
    close(null_fd);
    close(sv[1]);
    lg_guard_fd = sv[0];
}

static void lg_guard_send(int32_t v)
{
    if (lg_guard_fd >= 0)
        send(lg_guard_fd, &v, sizeof(v), MSG_NOSIGNAL);
}

/* ---- spawning */

static void lg_proc_cleanup(void);

/* fork + exec argv with stdout and stderr on the given fds and stdin on /dev/null. */
static pid_t lg_spawn(char *const argv[], int out_fd, int err_fd)
{
    pid_t parent = getpid(), pid;
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    sigset_t none;

    sigemptyset(&none);
    /* the harness writes to sockets the server may have closed: never die of SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    lg_guard_start();
    pid = fork();
    if (pid == 0) {
        int i, in = fcntl(null_fd, F_DUPFD, LG_FD_HIGH);
        int out = fcntl(out_fd, F_DUPFD, LG_FD_HIGH);
        int err = fcntl(err_fd, F_DUPFD, LG_FD_HIGH);

        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(127);
        close_range(3, ~0U, 0);
        for (i = 1; i < NSIG; i++)
            signal(i, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], argv);
        _exit(127);
    }
    close(null_fd);
    if (pid < 0)
        return -1;
    setpgid(pid, pid); /* both sides, against the race; fails harmlessly after exec */
    lg_guard_send((int32_t)pid);
    return pid;
}

static struct lg_proc_priv *lg_proc_new(const char *what)
{
    struct lg_proc_priv *pp = calloc(1, sizeof(*pp));
    lg_proc_t *p;

    if (pp == NULL)
        abort();
    if (lg_procs_cap == 0)
        atexit(lg_proc_cleanup);
    if (lg_nprocs == lg_procs_cap) {
        size_t cap = lg_procs_cap ? lg_procs_cap * 2 : 16;
        struct lg_proc_priv **v = realloc(lg_procs, cap * sizeof(*v));

        if (v == NULL)
            abort();
        lg_procs = v;
        lg_procs_cap = cap;
    }
    lg_procs[lg_nprocs++] = pp;
    p = &pp->pub;
    p->pid = -1;
    p->port = -1;
    p->dir = lg_test_tmpdir();
    if (asprintf(&p->log_path, "%s/%s", p->dir,
                 strcmp(what, "origin") == 0 ? "origin.log" : "error.log") < 0 ||
        asprintf(&p->out_path, "%s/%s", p->dir, "access.log") < 0)
        abort();
    return pp;
}

static int lg_open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd < 0)
        cr_assert_fail("open(%s) failed: %s", path, strerror(errno));
    return fd;
}

static const char *lg_program(const char *env, const char *built)
{
    const char *e = getenv(env);

    return e != NULL && *e != '\0' ? e : built;
}

static void lg_record_status(lg_proc_t *p, int wstatus)
{
    p->exited = 1;
    if (WIFEXITED(wstatus))
        p->status = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        p->status = 128 + WTERMSIG(wstatus);
    else
        p->status = LG_UNKNOWN_STATUS;
}

static int lg_reap(lg_proc_t *p, int block)
{
    int wstatus;
    pid_t r;

    if (p->exited || p->pid <= 0)
        return 1;
    do {
        r = waitpid(p->pid, &wstatus, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == p->pid) {
        lg_record_status(p, wstatus);
        return 1;
    }
    if (r < 0) { /* someone else reaped it */
        p->exited = 1;
        p->status = LG_UNKNOWN_STATUS;
        return 1;
    }
    return 0;
}

/* Fail the test with the process's log; stops the process first. */
static void lg_proc_fail(lg_proc_t *p, const char *what, const char *why)
{
    char *log;

    lg_proc_stop_with(p, SIGKILL, 0);
    log = lg_test_read_file(p->log_path, NULL);
    lg_test_keep(log, NULL);
    cr_assert_fail("%s did not start: %s (status %d); its log %s:\n%s", what, why,
                   p->exited ? p->status : -1, p->log_path, log ? log : "(none)");
}

lg_proc_t *lg_origin_start(const char *args)
{
    lg_proc_t *p = lg_server_start(lg_program("LG_TEST_ORIGIN", LG_ORIGIN), args);

    p->is_origin = 1;
    return p;
}

lg_proc_t *lg_server_start(const char *program, const char *args)
{
    struct lg_proc_priv *pp = lg_proc_new("origin");
    lg_proc_t *p = &pp->pub;
    char *argv[LG_PROC_MAX_ARGS], *copy, *save = NULL, *tok, line[256];
    size_t argc = 0, got = 0;
    int pfd[2], err_fd;
    uint64_t deadline;

    copy = lg_test_keep(strdup(args ? args : ""), NULL);
    argv[argc++] = (char *)program;
    for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
        if (argc >= LG_PROC_MAX_ARGS - 1)
            cr_assert_fail("too many arguments for %s", program);
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    if (pipe2(pfd, O_CLOEXEC) < 0)
        cr_assert_fail("pipe2() failed: %s", strerror(errno));
    err_fd = lg_open_log(p->log_path);
    p->pid = lg_spawn(argv, pfd[1], err_fd);
    pp->registered = p->pid > 0;
    close(pfd[1]);
    close(err_fd);
    if (p->pid < 0)
        cr_assert_fail("fork() failed: %s", strerror(errno));

    /* read "listening HOST:PORT\n" */
    deadline = lg_now_ms() + (uint64_t)lg_test_timeout_ms();
    while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL) {
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        uint64_t now = lg_now_ms();
        ssize_t n;

        if (now >= deadline || poll(&pf, 1, (int)(deadline - now)) <= 0)
            break;
        n = read(pfd[0], line + got, sizeof(line) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(pfd[0]);
    line[got] = '\0';
    if (strncmp(line, "listening ", 10) != 0 || strchr(line, '\n') == NULL ||
        strrchr(line, ':') == NULL) {
        lg_reap(p, 0);
        lg_proc_fail(p, program, got ? "unexpected first line" : "no output");
    }
    p->port = atoi(strrchr(line, ':') + 1);
    if (p->port <= 0)
        lg_proc_fail(p, program, "bad port");
    return p;
}

lg_proc_t *lg_origin_startf(const char *fmt, ...)
{
    va_list ap;
    char *args;

    va_start(ap, fmt);
    if (vasprintf(&args, fmt, ap) < 0)
        abort();
    va_end(ap);
    lg_test_keep(args, NULL);
    return lg_origin_start(args);
}

/* ---- lifeguard */

/*
 * The listener names of a block-style YAML config (keys one level under top-level `listeners:`)
 * and whether `admin:` has a `listen:`.
 */
static size_t lg_yaml_listeners(const char *yaml, char names[][LG_NAME_MAX], size_t max, int *admin)
{
    enum { SEC_NONE, SEC_LISTENERS, SEC_ADMIN } sec = SEC_NONE;
    const char *line = yaml;
    size_t n = 0;
    int child_indent = -1;

    *admin = 0;
    while (line != NULL && *line != '\0') {
        const char *eol = strchr(line, '\n'), *s = line, *colon;
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        int indent = 0;

        while (s < line + len && *s == ' ') {
            s++;
            indent++;
        }
        if (s < line + len && *s != '#' && *s != '\r') {
            colon = memchr(s, ':', (size_t)(line + len - s));
            if (indent == 0) {
                sec = SEC_NONE;
                child_indent = -1;
                if (colon != NULL && colon - s == 9 && memcmp(s, "listeners", 9) == 0)
                    sec = SEC_LISTENERS;
                if (colon != NULL && colon - s == 5 && memcmp(s, "admin", 5) == 0) {
                    sec = SEC_ADMIN;
                    /* flow style: admin: {listen: ...} */
                    if (memmem(colon, (size_t)(line + len - colon), "listen", 6) != NULL)
                        *admin = 1;
                }
            } else if (sec == SEC_LISTENERS && colon != NULL) {
                if (child_indent < 0)
                    child_indent = indent;
                if (indent == child_indent && n < max) {
                    const char *k = s, *ke = colon;

                    while (ke > k && ke[-1] == ' ')
                        ke--;
                    if (*k == '"' || *k == '\'') {
                        k++;
                        if (ke > k && (ke[-1] == '"' || ke[-1] == '\''))
                            ke--;
                    }
                    if (ke > k && (size_t)(ke - k) < LG_NAME_MAX) {
                        memcpy(names[n], k, (size_t)(ke - k));
                        names[n][ke - k] = '\0';
                        n++;
                    }
                }
            } else if (sec == SEC_ADMIN && colon != NULL && colon - s == 6 &&
                       memcmp(s, "listen", 6) == 0) {
                *admin = 1;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return n;
}

/* The port in the last "NEEDLE HOST:PORT" of `log`, not preceded by `not_after`; -1. */
static int lg_log_port(const char *log, const char *needle, const char *not_after)
{
    const char *s = log, *found = NULL;
    size_t nl = strlen(needle), na = not_after ? strlen(not_after) : 0;

    while ((s = strstr(s, needle)) != NULL) {
        if (na == 0 || (size_t)(s - log) < na || memcmp(s - na, not_after, na) != 0)
            found = s + nl;
        s += nl;
    }
    if (found != NULL) {
        const char *e = found, *colon = NULL;

        while (*e != '\0' && *e != '\n' && *e != ' ') {
            if (*e == ':')
                colon = e;
            e++;
        }
        if (colon != NULL)
            return atoi(colon + 1);
    }
    return -1;
}

static int lg_listener_port(const char *log, const char *name)
{
    char needle[LG_NAME_MAX + 32];

    snprintf(needle, sizeof(needle), "listener %s: listening on ", name);
    return lg_log_port(log, needle, NULL);
}

/*
 * `yaml` with "pid_file: DIR/lifeguard.pid" added when it does not mention pid_file: the
 * default (/run/lifeguard.pid for root) would be shared by every lifeguard on the machine.
 */
static const char *lg_with_pid_file(const lg_proc_t *p, const char *yaml)
{
    size_t len = strlen(yaml);

    if (strstr(yaml, "pid_file") != NULL)
        return yaml;
    return lg_fmt("%s%spid_file: %s/lifeguard.pid\n", yaml,
                  len > 0 && yaml[len - 1] != '\n' ? "\n" : "", p->dir);
}

lg_proc_t *lg_lifeguard_start(const char *yaml)
{
    static char names[LG_MAX_LISTENERS][LG_NAME_MAX];
    struct lg_proc_priv *pp = lg_proc_new("lifeguard");
    lg_proc_t *p = &pp->pub;
    char *argv[4];
    size_t n, i;
    int admin, out_fd, err_fd;
    uint64_t deadline;

    p->config_path = lg_test_write_file(p->dir, "lifeguard.yaml", lg_with_pid_file(p, yaml));
    argv[0] = (char *)lg_program("LG_TEST_BINARY", LG_BINARY);
    argv[1] = "-c";
    argv[2] = p->config_path;
    argv[3] = NULL;
    n = lg_yaml_listeners(yaml, names, LG_MAX_LISTENERS, &admin);
    out_fd = lg_open_log(p->out_path);
    err_fd = lg_open_log(p->log_path);
    p->pid = lg_spawn(argv, out_fd, err_fd);
    pp->registered = p->pid > 0;
    close(out_fd);
    close(err_fd);
    if (p->pid < 0)
        cr_assert_fail("fork() failed: %s", strerror(errno));

    deadline = lg_now_ms() + (uint64_t)lg_test_timeout_ms();
    for (;;) {
        char *log = lg_test_read_file(p->log_path, NULL);
        int ready = log != NULL;

        for (i = 0; ready && i < n; i++)
            ready = lg_listener_port(log, names[i]) > 0;
        if (ready && admin)
            ready = lg_log_port(log, "admin: listening on ", "listener ") > 0;
        if (ready) {
            if (n > 0)
                p->port = lg_listener_port(log, names[0]);
            free(log);
            return p;
        }
        free(log);
        if (lg_reap(p, 0))
            lg_proc_fail(p, "lifeguard", "it exited");
        if (lg_now_ms() >= deadline)
            lg_proc_fail(p, "lifeguard", "its listeners were not reported in time");
        lg_sleep_ms(LG_LOG_POLL_MS);
    }
}

lg_proc_t *lg_lifeguard_startf(const char *fmt, ...)
{
    va_list ap;
    char *yaml;

    va_start(ap, fmt);
    if (vasprintf(&yaml, fmt, ap) < 0)
        abort();
    va_end(ap);
    lg_test_keep(yaml, NULL);
    return lg_lifeguard_start(yaml);
}

int lg_lifeguard_run(const char *yaml, const char *args, char **output)
{
    struct lg_proc_priv *pp = lg_proc_new("lifeguard");
    lg_proc_t *p = &pp->pub;
    char *argv[LG_PROC_MAX_ARGS], *copy, *save = NULL, *tok;
    size_t argc = 0;
    int fd, status;

    p->config_path = lg_test_write_file(p->dir, "lifeguard.yaml", yaml);
    copy = lg_test_keep(strdup(args ? args : ""), NULL);
    argv[argc++] = (char *)lg_program("LG_TEST_BINARY", LG_BINARY);
    for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
        if (argc >= LG_PROC_MAX_ARGS - 3)
            cr_assert_fail("too many lifeguard arguments");
        argv[argc++] = tok;
    }
    argv[argc++] = "-c";
    argv[argc++] = p->config_path;
    argv[argc] = NULL;
    fd = lg_open_log(p->log_path);
    p->pid = lg_spawn(argv, fd, fd);
    pp->registered = p->pid > 0;
    close(fd);
    if (p->pid < 0)
        cr_assert_fail("fork() failed: %s", strerror(errno));
    status = lg_proc_wait_exit(p, lg_test_timeout_ms());
    if (status < 0) {
        lg_proc_stop_with(p, SIGKILL, 0);
        status = -1;
    } else {
        lg_proc_stop(p); /* reaps the group */
    }
    if (output != NULL)
        *output = lg_proc_log(p);
    return status;
}

/* ---- control */

int lg_proc_port(lg_proc_t *p, const char *listener)
{
    char *log;
    int port;

    if (p->is_origin)
        return p->port;
    log = lg_test_read_file(p->log_path, NULL);
    port = log ? lg_listener_port(log, listener) : -1;
    free(log);
    if (port <= 0)
        cr_assert_fail("lifeguard logged no \"listener %s: listening on\" line", listener);
    return port;
}

int lg_proc_admin_port(lg_proc_t *p)
{
    char *log = lg_test_read_file(p->log_path, NULL);
    int port = log ? lg_log_port(log, "admin: listening on ", "listener ") : -1;

    free(log);
    if (port <= 0)
        cr_assert_fail("lifeguard logged no \"admin: listening on\" line");
    return port;
}

int lg_proc_signal(lg_proc_t *p, int sig)
{
    if (p->pid <= 0 || lg_reap(p, 0))
        return -1;
    return kill(p->pid, sig);
}

int lg_proc_alive(lg_proc_t *p)
{
    return !lg_reap(p, 0);
}

int lg_proc_wait_exit(lg_proc_t *p, int timeout_ms)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    for (;;) {
        if (lg_reap(p, 0))
            return p->status;
        if (lg_now_ms() >= deadline)
            return -1;
        lg_sleep_ms(LG_POLL_MS);
    }
}

/*
 * Read /proc/PID/stat: state, ppid and process group. Returns 0, or -1 when the process is gone.
 * The command name may hold spaces and parentheses: the fields start after the last ')'.
 */
static int lg_stat(const char *pid, char *state, int *ppid, int *pgrp)
{
    char path[300], buf[512], *rp;
    int rc = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fgets(buf, sizeof(buf), f) != NULL && (rp = strrchr(buf, ')')) != NULL &&
        sscanf(rp + 1, " %c %d %d", state, ppid, pgrp) == 3)
        rc = 0;
    fclose(f);
    return rc;
}

static int lg_state_live(char state)
{
    return state != 'Z' && state != 'X';
}

/* Live (non-zombie) processes whose process group is `pgid`. */
static int lg_group_count(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char state;
        int ppid, pgrp;

        if (de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
            lg_stat(de->d_name, &state, &ppid, &pgrp) == 0 && pgrp == pgid && lg_state_live(state))
            n++;
    }
    closedir(d);
    return n;
}

/* After the leader exited: give the rest of its group a moment, then count and kill it. */
static void lg_group_finish(struct lg_proc_priv *pp)
{
    lg_proc_t *p = &pp->pub;
    uint64_t deadline;
    int n;

    if (pp->group_done || p->pid <= 0)
        return;
    pp->group_done = 1;
    deadline = lg_now_ms() + LG_STRAY_WAIT_MS;
    while ((n = lg_group_count(p->pid)) > 0 && lg_now_ms() < deadline)
        lg_sleep_ms(LG_LOG_POLL_MS);
    if (n > 0) {
        p->strays = n;
        kill(-p->pid, SIGKILL);
    }
    if (pp->registered) {
        lg_guard_send((int32_t)-p->pid);
        pp->registered = 0;
    }
}

int lg_proc_stop_with(lg_proc_t *p, int sig, int timeout_ms)
{
    struct lg_proc_priv *pp = (struct lg_proc_priv *)p;

    if (p->pid <= 0)
        return -1;
    if (!lg_reap(p, 0)) {
        kill(p->pid, sig);
        if (lg_proc_wait_exit(p, timeout_ms) < 0) {
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            lg_reap(p, 1);
        }
    }
    lg_group_finish(pp);
    return p->status;
}

int lg_proc_stop(lg_proc_t *p)
{
    return lg_proc_stop_with(p, SIGTERM, lg_test_timeout_ms());
}

void lg_proc_write_config(lg_proc_t *p, const char *yaml)
{
    char *tmp = lg_fmt("%s.tmp", p->config_path);

    free(lg_test_write_file(p->dir, "lifeguard.yaml.tmp", lg_with_pid_file(p, yaml)));
    if (rename(tmp, p->config_path) < 0)
        cr_assert_fail("rename(%s) failed: %s", tmp, strerror(errno));
}

/* ---- logs */

char *lg_proc_log(lg_proc_t *p)
{
    char *log = lg_test_read_file(p->log_path, NULL);

    return lg_test_keep(log ? log : strdup(""), NULL);
}

char *lg_proc_access_log(lg_proc_t *p)
{
    char *log = lg_test_read_file(p->out_path, NULL);

    return lg_test_keep(log ? log : strdup(""), NULL);
}

size_t lg_proc_log_mark(lg_proc_t *p)
{
    size_t len = 0;

    free(lg_test_read_file(p->log_path, &len));
    return len;
}

int lg_proc_wait_log(lg_proc_t *p, size_t mark, const char *needle, int timeout_ms)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    for (;;) {
        size_t len = 0;
        char *log = lg_test_read_file(p->log_path, &len);
        int found = log != NULL && len >= mark && strstr(log + mark, needle) != NULL;
        int gone;

        free(log);
        if (found)
            return 1;
        gone = lg_reap(p, 0);
        if (lg_now_ms() >= deadline)
            return 0;
        if (gone) {
            /* it may have written the line just before exiting: look once more */
            log = lg_test_read_file(p->log_path, &len);
            found = log != NULL && len >= mark && strstr(log + mark, needle) != NULL;
            free(log);
            return found;
        }
        lg_sleep_ms(LG_LOG_POLL_MS);
    }
}

void lg_proc_dump_log(lg_proc_t *p)
{
    char *log = lg_test_read_file(p->log_path, NULL);

    fprintf(stderr, "---- %s (pid %d)\n%s---- end of %s\n", p->log_path, (int)p->pid,
            log ? log : "(none)\n", p->log_path);
    free(log);
}

static int lg_line_is_error(const char *s, size_t len)
{
    static const char *const markers[] = {
        "[error]",        "ERROR: AddressSanitizer",  "ERROR: LeakSanitizer",
        "runtime error:", "WARNING: ThreadSanitizer",
    };
    size_t i;

    for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
        if (memmem(s, len, markers[i], strlen(markers[i])) != NULL)
            return 1;
    return 0;
}

int lg_log_has_unexpected_errors(const char *log, ...)
{
    const char *allowed[LG_PROC_MAX_ARGS], *line = log, *a;
    size_t nallowed = 0, i;
    int bad = 0;
    va_list ap;

    va_start(ap, log);
    while ((a = va_arg(ap, const char *)) != NULL)
        if (nallowed < LG_PROC_MAX_ARGS)
            allowed[nallowed++] = a;
    va_end(ap);
    while (line != NULL && *line != '\0') {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);

        if (lg_line_is_error(line, len)) {
            int ok = 0;

            for (i = 0; i < nallowed && !ok; i++)
                ok = memmem(line, len, allowed[i], strlen(allowed[i])) != NULL;
            if (!ok) {
                fprintf(stderr, "unexpected error line: %.*s\n", (int)len, line);
                bad++;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return bad;
}

int lg_log_count(const char *log, const char *needle)
{
    const char *line = log;
    int n = 0;

    while (line != NULL && *line != '\0') {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);

        if (memmem(line, len, needle, strlen(needle)) != NULL)
            n++;
        line = eol ? eol + 1 : NULL;
    }
    return n;
}

/* ---- /proc */

long lg_pid_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

size_t lg_pid_children(pid_t pid, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    size_t n = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char state;
        int ppid, pgrp;

        if (de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
            lg_stat(de->d_name, &state, &ppid, &pgrp) == 0 && ppid == pid && lg_state_live(state)) {
            if (n < max)
                out[n] = (pid_t)atoi(de->d_name);
            n++;
        }
    }
    closedir(d);
    return n < max ? n : max;
}

int lg_pid_fd_count(pid_t pid)
{
    char path[64];
    struct dirent *de;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int lg_pid_alive(pid_t pid)
{
    char name[24], state;
    int ppid, pgrp;

    snprintf(name, sizeof(name), "%d", (int)pid);
    return lg_stat(name, &state, &ppid, &pgrp) == 0 && lg_state_live(state);
}

/* ---- exit */

static int lg_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Stop what the test left running, remove the temp dirs (unless LG_TEST_KEEP), free. */
static void lg_proc_cleanup(void)
{
    const char *keep = getenv("LG_TEST_KEEP");
    size_t i;

    for (i = 0; i < lg_nprocs; i++) {
        lg_proc_t *p = &lg_procs[i]->pub;

        if (p->pid > 0)
            lg_proc_stop_with(p, SIGTERM, LG_EXIT_STOP_MS);
    }
    for (i = 0; i < lg_nprocs; i++) {
        lg_proc_t *p = &lg_procs[i]->pub;
        char *log = lg_test_read_file(p->log_path, NULL);

        /* a sanitizer report of a process the test never looked at must not go unseen */
        if (log != NULL &&
            (strstr(log, "ERROR: AddressSanitizer") != NULL ||
             strstr(log, "ERROR: LeakSanitizer") != NULL || strstr(log, "runtime error:") != NULL))
            lg_proc_dump_log(p);
        free(log);
        if (keep != NULL && *keep != '\0' && strcmp(keep, "0") != 0)
            fprintf(stderr, "kept %s\n", p->dir);
        else
            nftw(p->dir, lg_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(p->dir);
        free(p->log_path);
        free(p->out_path);
        free(p->config_path);
        free(lg_procs[i]);
    }
    free(lg_procs);
    lg_procs = NULL;
    lg_nprocs = lg_procs_cap = 0;
}
