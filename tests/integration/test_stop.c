/*
 * test_stop.c - no access log line is lost when lifeguard stops: TERM, INT (to the master, or
 * to the whole process group as Ctrl-C does), `lifeguard -s stop`, and a graceful stop that
 * reaches the drain deadline. The workers buffer their access log (one write per second or per
 * 32 KiB), so every line answered before the stop must be written on the way out.
 */
#include <signal.h>

#include "proxy_common.h"

#define ST_REQUESTS 6 /* as in the report: 0 of 6 lines were written */
#define ST_ROUNDS   4 /* each stop is repeated: a lost line is often a race */

typedef enum { ST_TERM, ST_INT, ST_INT_GROUP, ST_COMMAND } st_how_t;

/* One origin, `workers`, the access log on stdout, timeouts.drain `drain`. */
static lg_yaml_t *st_conf(int origin, int workers, const char *drain)
{
    lg_yaml_t *conf = lg_yaml_single(origin);

    lg_yaml_setf(conf, "workers", "%d", workers);
    lg_yaml_set(conf, "log.access", "stdout");
    lg_yaml_set(conf, "timeouts.drain", drain);
    return conf;
}

static const char *st_yaml(int origin, const char *pid_file, const char *drain)
{
    lg_yaml_t *conf = st_conf(origin, 2, drain);

    lg_yaml_set(conf, "pid_file", pid_file);
    return lg_yaml_text(conf);
}

/* ST_REQUESTS requests answered 200, each on its own connection (both workers serve some). */
static void st_requests(int port, int round)
{
    for (int i = 0; i < ST_REQUESTS; i++) {
        lg_http_response_t *r = lg_http_get(port, lg_fmt("/stop/%d/%d", round, i), NULL);

        lgt_assert_status(r, 200);
    }
}

static void st_stop(lg_proc_t *lg, const char *yaml, st_how_t how)
{
    char *out = NULL;
    int rc;

    switch (how) {
    case ST_TERM:
        cr_assert_eq(lg_proc_signal(lg, SIGTERM), 0);
        break;
    case ST_INT:
        cr_assert_eq(lg_proc_signal(lg, SIGINT), 0);
        break;
    case ST_INT_GROUP:
        /* Ctrl-C: the terminal signals every process of the group, workers included */
        cr_assert_eq(kill(-lg->pid, SIGINT), 0);
        break;
    case ST_COMMAND:
        rc = lg_lifeguard_run(yaml, "-s stop", &out);
        cr_assert_eq(rc, 0, "lifeguard -s stop: %d: %s", rc, out);
        break;
    }
}

static void st_run(st_how_t how, const char *name)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    char *dir = lg_test_tempdir();

    for (int round = 0; round < ST_ROUNDS; round++) {
        const char *yaml = st_yaml(o->port, lg_fmt("%s/lifeguard.pid", dir), "5s");
        lg_proc_t *lg = lg_lifeguard_start(yaml);
        int status, lines;

        st_requests(lg_proc_port(lg, "web"), round);
        st_stop(lg, yaml, how);
        status = lg_proc_wait_exit(lg, lg_test_timeout_ms());
        cr_assert_eq(status, 0, "%s, round %d: exit status %d", name, round, status);
        lines = lg_log_count(lg_proc_access_log(lg), lg_fmt("\"GET /stop/%d/", round));
        cr_expect_eq(lines, ST_REQUESTS, "%s, round %d: %d of %d access log lines written", name,
                     round, lines, ST_REQUESTS);
        lg_lifeguard_finish(lg, NULL);
    }
}

Test(stop, term_writes_every_access_log_line, .timeout = 120)
{
    st_run(ST_TERM, "TERM");
}

Test(stop, int_writes_every_access_log_line, .timeout = 120)
{
    st_run(ST_INT, "INT to the master");
}

Test(stop, ctrl_c_writes_every_access_log_line, .timeout = 120)
{
    st_run(ST_INT_GROUP, "INT to the process group");
}

Test(stop, stop_command_writes_every_access_log_line, .timeout = 120)
{
    st_run(ST_COMMAND, "lifeguard -s stop");
}

/*
 * A graceful stop with a request that outlasts timeouts.drain: the worker is stopped at the
 * deadline, and the lines of the requests it answered before are written all the same.
 */
Test(stop, drain_deadline_writes_every_access_log_line, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    char *dir = lg_test_tempdir();
    lg_proc_t *lg = lg_lifeguard_start(st_yaml(o->port, lg_fmt("%s/lifeguard.pid", dir), "1s"));
    int port = lg_proc_port(lg, "web"), status, lines;
    lg_client_t *slow = lg_client_connect(port);
    size_t mark;

    st_requests(port, 0);
    cr_assert_eq(lg_client_sendf(slow, "GET /delay/20000 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    lg_sleep_ms(100);
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_signal(lg, SIGQUIT), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "drain deadline", lg_test_timeout_ms()),
              "the slow request did not reach the drain deadline");
    status = lg_proc_wait_exit(lg, lg_test_timeout_ms());
    cr_assert_eq(status, 0, "exit status %d", status);
    lines = lg_log_count(lg_proc_access_log(lg), "\"GET /stop/0/");
    cr_expect_eq(lines, ST_REQUESTS, "%d of %d access log lines written", lines, ST_REQUESTS);
    lg_lifeguard_finish(lg, NULL);
}

/*
 * A worker that does not exit by itself at the drain deadline (here: stopped with SIGSTOP) is
 * first told to stop with TERM, which it answers by writing its access log and exiting; SIGKILL
 * would come only a second later.
 */
Test(stop, late_worker_is_told_to_stop_before_it_is_killed, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start("--quiet");
    lg_proc_t *lg = lg_yaml_start(st_conf(o->port, 1, "1s"));
    pid_t worker = lgt_worker(lg);
    int status, lines;

    st_requests(lg_proc_port(lg, "web"), 0);
    cr_assert_eq(kill(worker, SIGSTOP), 0);
    cr_assert_eq(lg_proc_signal(lg, SIGQUIT), 0);
    cr_assert(lg_proc_wait_log(lg, 0, "still running after the drain deadline, stopping them",
                               lg_test_timeout_ms()));
    cr_assert_eq(kill(worker, SIGCONT), 0);
    status = lg_proc_wait_exit(lg, lg_test_timeout_ms());
    cr_assert_eq(status, 0, "exit status %d", status);
    cr_expect_eq(lg_log_count(lg_proc_log(lg), "killing them"), 0, "%s", lg_proc_log(lg));
    cr_expect_eq(lg_log_count(lg_proc_log(lg), "ended abnormally"), 0, "%s", lg_proc_log(lg));
    lines = lg_log_count(lg_proc_access_log(lg), "\"GET /stop/0/");
    cr_expect_eq(lines, ST_REQUESTS, "%d of %d access log lines written", lines, ST_REQUESTS);
    lg_lifeguard_finish(lg, NULL);
}

/*
 * More connections end at once than the worker keeps structs for (256): the rest go back to
 * malloc, and the worker survives it (it once read a freed struct there).
 */
Test(stop, a_burst_of_connections_ending_at_once, .timeout = 60)
{
    enum { N = 400 };
    lg_fix_t f = lg_fix_start(NULL, NULL);
    lg_client_t *c[N];
    pid_t before[4], after[4];
    int ok;

    LG_WAIT_FOR(ok, lg_pid_children(f.lg->pid, before, 4) == 1, lg_test_timeout_ms());
    cr_assert(ok, "expected 1 worker");
    for (int i = 0; i < N; i++) {
        lg_http_response_t *r;

        c[i] = lg_client_connect(f.port);
        r = lg_client_request(c[i], "GET", "/", NULL, NULL, 0);
        lgt_assert_status(r, 200);
        lg_http_response_free(r);
    }
    for (int i = 0; i < N; i++)
        lg_client_close(c[i]);
    lgt_assert_status(lg_http_get(f.port, "/", NULL), 200);
    cr_assert_eq(lg_pid_children(f.lg->pid, after, 4), 1);
    cr_assert_eq(after[0], before[0], "the worker was replaced:\n%s", lg_proc_log(f.lg));
    lg_fix_finish(&f, NULL);
}
