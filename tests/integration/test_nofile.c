/*
 * test_nofile.c - the open-file limit: lifeguard raises its soft RLIMIT_NOFILE to what
 * max_connections needs (4 per connection and 64 more) up to the hard limit, and when the hard
 * limit is too low says once how to raise it. The test lowers the limits of its own process
 * (criterion runs each test in a process of its own), which lifeguard inherits.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

#include "proxy_common.h"

/* The soft and hard "Max open files" of a process, from /proc/PID/limits. */
static void nf_limits(pid_t pid, long *soft, long *hard)
{
    char *text = lg_test_keep(lg_test_read_file(lg_fmt("/proc/%d/limits", pid), NULL), NULL);
    const char *line;

    cr_assert_not_null(text);
    line = strstr(text, "Max open files");
    cr_assert_not_null(line, "%s", text);
    cr_assert_eq(sscanf(line, "Max open files %ld %ld", soft, hard), 2, "%s", line);
}

/* Lower the limits of this test's process (a hard limit can only go down without privileges). */
static void nf_set(rlim_t soft, rlim_t hard)
{
    struct rlimit rl;

    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < hard)
        cr_skip_test("the hard open-file limit is %lu, below the %lu this test needs",
                     (unsigned long)rl.rlim_max, (unsigned long)hard);
    rl.rlim_cur = soft;
    rl.rlim_max = hard;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit(%lu, %lu)", (unsigned long)soft,
                 (unsigned long)hard);
}

static lg_proc_t *nf_start(int origin, unsigned max_connections)
{
    lg_yaml_t *conf = lg_yaml_single(origin);

    lg_yaml_setf(conf, "limits.max_connections", "%u", max_connections);
    return lg_yaml_start(conf);
}

/* Enough room under the hard limit: the soft limit becomes what is needed, nothing is said. */
Test(nofile, soft_limit_raised_to_the_need, .timeout = 30)
{
    lg_proc_t *o = lg_origin_start("--quiet"), *lg;
    long soft, hard;

    nf_set(256, 4096);
    lg = nf_start(o->port, 100); /* needs 100 * 4 + 64 = 464 */
    nf_limits(lg->pid, &soft, &hard);
    cr_assert_eq(soft, 464, "master: soft limit %ld", soft);
    cr_assert_eq(hard, 4096);
    nf_limits(lgt_worker(lg), &soft, &hard);
    cr_assert_eq(soft, 464, "worker: soft limit %ld", soft);
    lgt_assert_status(lg_http_get(lg_proc_port(lg, "web"), "/", NULL), 200);
    cr_assert_eq(lg_log_count(lg_proc_log(lg), "open files"), 0, "%s", lg_proc_log(lg));
    lg_lifeguard_finish(lg, NULL);
}

/* A hard limit too low: raised to it, and one warning that says what to do (not per reload). */
Test(nofile, low_hard_limit_is_reported_once, .timeout = 30)
{
    lg_proc_t *o = lg_origin_start("--quiet"), *lg;
    long soft, hard;
    const char *log;
    size_t mark;

    nf_set(256, 1024);
    lg = nf_start(o->port, 1000); /* needs 4064 */
    nf_limits(lg->pid, &soft, &hard);
    cr_assert_eq(soft, 1024, "master: soft limit %ld", soft);
    nf_limits(lgt_worker(lg), &soft, &hard);
    cr_assert_eq(soft, 1024, "worker: soft limit %ld", soft);
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2", 5000));
    lgt_assert_status(lg_http_get(lg_proc_port(lg, "web"), "/", NULL), 200);
    log = lg_proc_log(lg);
    cr_assert_eq(lg_log_count(log, lg_fmt("[warn] %d#m: open files limited to 1024 (the hard "
                                          "limit), max_connections 1000 needs 4064: raise it "
                                          "with \"ulimit -n 4064\" before starting lifeguard, "
                                          "\"LimitNOFILE=4064\" in its systemd unit or \"docker "
                                          "run --ulimit nofile=4064:4064\"",
                                          lg->pid)),
                 1, "%s", log);
    cr_assert_eq(lg_log_count(log, "open files"), 1, "%s", log);
    lg_lifeguard_finish(lg, NULL);
}
