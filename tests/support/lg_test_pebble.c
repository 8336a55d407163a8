/*
 * lg_test_pebble.c - pebble (Debian's ACME test server) and pebble-challtestsrv for the ACME
 * tests: a certificate of its own for its listeners, free ports picked again when one is taken.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg_test.h"

#define LG_PEBBLE        "/usr/bin/pebble"
#define LG_CHALLTESTSRV  "/usr/bin/pebble-challtestsrv"
#define LG_PEBBLE_TRIES  5
#define LG_PEBBLE_POLL   50
#define LG_PEBBLE_UP_MS  300 /* a challtestsrv still alive this long has bound its ports */
#define LG_PEBBLE_MAXARG 24

void lg_test_skip_without_pebble(void)
{
    if (access(LG_PEBBLE, X_OK) != 0 || access(LG_CHALLTESTSRV, X_OK) != 0)
        cr_skip_test("pebble is not installed (Debian package pebble, scripts/deps.sh test)");
}

static pid_t spawn(char *const argv[], char *const env[], const char *log)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test that crashes leaves no pebble behind */

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv(env[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void reap(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = 0;
}

static int exited(pid_t pid)
{
    return waitpid(pid, NULL, WNOHANG) == pid;
}

/* pebble-challtestsrv answering every A query with 127.0.0.1; its DNS port, or 0. */
static int dns_start(lg_pebble_t *p)
{
    for (int t = 0; t < LG_PEBBLE_TRIES; t++) {
        int port = lg_test_free_port_on(SOCK_DGRAM, "127.0.0.1"), mgmt = lg_test_free_port();
        char *argv[] = {LG_CHALLTESTSRV,
                        "-dns01",
                        lg_fmt("127.0.0.1:%d", port),
                        "-defaultIPv4",
                        "127.0.0.1",
                        "-defaultIPv6",
                        "",
                        "-http01",
                        "",
                        "-https01",
                        "",
                        "-tlsalpn01",
                        "",
                        "-management",
                        lg_fmt("127.0.0.1:%d", mgmt),
                        NULL};

        p->dns_pid = spawn(argv, NULL, lg_fmt("%s/challtestsrv.log", p->dir));
        lg_sleep_ms(LG_PEBBLE_UP_MS);
        if (!exited(p->dns_pid))
            return port;
        p->dns_pid = 0;
    }
    return 0;
}

static void pebble_config(lg_pebble_t *p, int http_port, int tls_port)
{
    lg_test_write_file(p->dir, "pebble.json",
                       lg_fmt("{\"pebble\": {\"listenAddress\": \"127.0.0.1:%d\", "
                              "\"managementListenAddress\": \"127.0.0.1:%d\", "
                              "\"certificate\": \"%s/cert.pem\", \"privateKey\": \"%s/key.pem\", "
                              "\"httpPort\": %d, \"tlsPort\": %d, \"ocspResponderURL\": \"\", "
                              "\"externalAccountBindingRequired\": false}}\n",
                              p->port, p->mgmt_port, p->dir, p->dir, http_port, tls_port));
}

/* Wait for "ACME directory available" in its log: 1, or 0 when pebble exited (port taken). */
static int pebble_ready(lg_pebble_t *p)
{
    uint64_t deadline = lg_now_ms() + (uint64_t)lg_test_timeout_ms();

    while (lg_now_ms() < deadline) {
        char *log = lg_test_read_file(p->log, NULL);
        int up = log != NULL && strstr(log, "ACME directory available") != NULL;

        free(log);
        if (up)
            return 1;
        if (exited(p->pid))
            return 0;
        lg_sleep_ms(LG_PEBBLE_POLL);
    }
    return 0;
}

static void pebble_free(void *arg)
{
    lg_pebble_t *p = arg;

    reap(&p->pid);
    reap(&p->dns_pid);
    free(p);
}

lg_pebble_t *lg_pebble_start(int always_valid, int http_port, int tls_port)
{
    lg_pebble_t *p = lg_test_keep(calloc(1, sizeof(*p)), pebble_free);
    char *out,
        *env[] = {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0",
                  always_valid ? "PEBBLE_VA_ALWAYS_VALID=1" : "PEBBLE_VA_ALWAYS_VALID=0", NULL};
    int dns;

    p->dir = lg_test_tempdir();
    p->ca = lg_fmt("%s/cert.pem", p->dir);
    p->log = lg_fmt("%s/pebble.log", p->dir);
    cr_assert_eq(
        lg_run_capture(lg_fmt("cd %s && openssl req -x509 -newkey ec -pkeyopt "
                              "ec_paramgen_curve:P-256 -nodes -keyout key.pem -out "
                              "cert.pem -days 30 -subj /CN=pebble -addext "
                              "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:pebble.test 2>&1",
                              p->dir),
                       &out),
        0, "openssl: %s", out);
    dns = p->dns_port = dns_start(p);
    cr_assert_gt(dns, 0, "pebble-challtestsrv did not start (see %s)", p->dir);
    for (int t = 0; t < LG_PEBBLE_TRIES; t++) {
        char *argv[] = {LG_PEBBLE,
                        "-config",
                        lg_fmt("%s/pebble.json", p->dir),
                        "-dnsserver",
                        lg_fmt("127.0.0.1:%d", dns),
                        NULL};

        p->port = lg_test_free_port();
        p->mgmt_port = lg_test_free_port();
        pebble_config(p, http_port, tls_port);
        p->pid = spawn(argv, env, p->log);
        if (pebble_ready(p))
            return p;
        reap(&p->pid);
    }
    cr_assert_fail("pebble did not start: %s", lg_test_read_file(p->log, NULL));
    return NULL;
}

void lg_pebble_stop(lg_pebble_t *p)
{
    reap(&p->pid);
}

const char *lg_pebble_directory(const lg_pebble_t *p, const char *host)
{
    return lg_fmt("https://%s:%d/dir", host, p->port);
}

const char *lg_pebble_root(lg_pebble_t *p)
{
    char *out, *path = lg_fmt("%s/root.pem", p->dir);

    cr_assert_eq(lg_run_capture(lg_fmt("curl -sSf --cacert %s -o %s https://127.0.0.1:%d/roots/0 "
                                       "2>&1",
                                       p->ca, path, p->mgmt_port),
                                &out),
                 0, "curl /roots/0: %s", out);
    return path;
}
