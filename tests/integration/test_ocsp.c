/*
 * test_ocsp.c - ocsp: auto with the real binary: the master fetches the response from an
 * `openssl ocsp` responder named in the certificate's AIA (a literal address, and "localhost"
 * from /etc/hosts), workers staple it (checked with `openssl s_client -status`), the last good
 * response stays stapled when the responder is gone and across a reload (no new fetch), a
 * revoked status is stapled as revoked (as HAProxy and Apache do), and a response the issuer
 * did not sign is refused.
 *
 * The certificates are made at test time (make_ocsp_pki.sh) with the responder's port in their
 * AIA. `openssl ocsp -port` takes a number only, so the responder listens on every address;
 * only 127.0.0.1 and localhost ever talk to it.
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
#include "lg_test_tls.h"

typedef struct responder {
    pid_t pid;
    int port;
    const char *dir; /* the leaves, the index and the responder's log */
} responder_t;

/* Leaves whose AIA names a free port of 127.0.0.1 (make_ocsp_pki.sh). */
static void responder_pki(responder_t *r)
{
    r->port = lg_test_free_port();
    r->dir = lg_test_ocsp_pki(r->port);
}

/* `text` is in the file `path`. */
static int file_has(const char *path, const char *text)
{
    char *s = lg_test_read_file(path, NULL);
    int has = s != NULL && strstr(s, text) != NULL;

    free(s);
    return has;
}

/* Run argv with its output in `log`; returns once `ready` is in the log, -1 if it exited. */
static pid_t spawn(char *const argv[], const char *log, const char *ready)
{
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ok, st, gone = 0;
    pid_t parent = getpid(), pid;

    cr_assert_geq(fd, 0, "open(%s): %s", log, strerror(errno));
    pid = fork();
    cr_assert_geq(pid, 0, "fork(): %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd);
    LG_WAIT_FOR(ok, file_has(log, ready) || (gone = waitpid(pid, &st, WNOHANG) == pid),
                lg_test_timeout_ms());
    cr_assert(ok, "%s did not start: see %s", argv[0], log);
    return gone ? -1 : pid;
}

/*
 * `openssl ocsp` answering for the intermediate, its responses signed by signer.pem/.key and
 * valid for `minutes`.
 */
static void responder_start_for(responder_t *r, const char *signer, int minutes)
{
    char *argv[] = {
        "openssl",  "ocsp",
        "-index",   lg_fmt("%s/index.txt", r->dir),
        "-port",    lg_fmt("%d", r->port),
        "-CA",      (char *)lg_test_pki("int.pem"),
        "-rsigner", (char *)lg_test_pki(lg_fmt("%s.pem", signer)),
        "-rkey",    (char *)lg_test_pki(lg_fmt("%s.key", signer)),
        "-nmin",    lg_fmt("%d", minutes),
        NULL,
    };

    r->pid = spawn(argv, lg_fmt("%s/responder.log", r->dir), "waiting for OCSP client");
    cr_assert_gt(r->pid, 0, "openssl ocsp exited: see %s/responder.log", r->dir);
}

/* The same, valid for a day. */
static void responder_start(responder_t *r, const char *signer)
{
    responder_start_for(r, signer, 24 * 60);
}

static void responder_stop(responder_t *r)
{
    int st;

    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, &st, 0);
        r->pid = 0;
    }
}

/* lifeguard with the good and the revoked leaf (ocsp: auto, the default, said explicitly). */
static lg_proc_t *lifeguard(const responder_t *r)
{
    const char *certs = lg_fmt("      certificates:\n"
                               "        - {cert: %s/good.pem, key: %s/good.key, ocsp: auto}\n"
                               "        - {cert: %s/revoked.pem, key: %s/revoked.key}\n",
                               r->dir, r->dir, r->dir, r->dir);

    return lg_lifeguard_start(lg_test_tls_yaml("web", "http", certs));
}

/* What `openssl s_client -status` says of the OCSP response for `sni` (harness-owned). */
static const char *staple(lg_proc_t *lg, const char *sni)
{
    FILE *p = popen(lg_fmt("timeout 10 openssl s_client -connect 127.0.0.1:%d -servername %s "
                           "-status </dev/null 2>&1",
                           lg_proc_port(lg, "web"), sni),
                    "r");
    char buf[65536];
    size_t n;

    cr_assert_not_null(p);
    n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    pclose(p);
    return lg_fmt("%s", buf);
}

static void expect_status(lg_proc_t *lg, const char *sni, const char *status)
{
    const char *out = staple(lg, sni);

    cr_assert_not_null(strstr(out, "OCSP Response Status: successful"), "%s: %s", sni, out);
    cr_assert_not_null(strstr(out, lg_fmt("Cert Status: %s", status)), "%s: %s", sni, out);
}

Test(ocsp, fetched_stapled_kept_when_the_responder_is_gone_and_across_reload, .timeout = 90)
{
    responder_t r = {0};
    lg_proc_t *lg;
    const char *log;
    size_t mark;

    responder_pki(&r);
    responder_start(&r, "int");
    lg = lifeguard(&r);
    cr_assert(lg_proc_wait_log(lg, 0, "good.pem: response fetched from", lg_test_timeout_ms()),
              "%s", lg_proc_log(lg));
    cr_assert(lg_proc_wait_log(lg, 0, "revoked.pem: response fetched from", lg_test_timeout_ms()),
              "%s", lg_proc_log(lg));
    log = lg_proc_log(lg);
    cr_assert_not_null(strstr(log, lg_fmt("ocsp: %s/good.pem: response fetched from "
                                          "http://127.0.0.1:%d/: good, next update ",
                                          r.dir, r.port)),
                       "%s", log);
    cr_assert_not_null(strstr(log, lg_fmt("ocsp: %s/revoked.pem: response fetched from "
                                          "http://localhost:%d/status: certificate revoked",
                                          r.dir, r.port)),
                       "%s", log);
    expect_status(lg, "good.ocsp.test", "good");
    expect_status(lg, "revoked.ocsp.test", "revoked");

    /* the responder is gone: the last good response is still stapled */
    responder_stop(&r);
    expect_status(lg, "good.ocsp.test", "good");

    /* a new generation staples what the master has, without fetching again */
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2 serves", lg_test_timeout_ms()));
    expect_status(lg, "good.ocsp.test", "good");
    expect_status(lg, "revoked.ocsp.test", "revoked");
    log = lg_proc_log(lg);
    cr_assert_eq(lg_log_count(log, "response fetched from"), 2, "%s", log);
    cr_assert_eq(lg_log_count(log, "failed ("), 0, "%s", log);
    lg_lifeguard_finish(lg, "connect() to");
}

Test(ocsp, response_not_signed_for_the_issuer_is_not_stapled, .timeout = 90)
{
    responder_t r = {0};
    lg_proc_t *lg;
    const char *log, *out;

    responder_pki(&r);
    responder_start(&r, "ca"); /* the root signs: not the issuer, nor delegated by it */
    lg = lifeguard(&r);
    cr_assert(lg_proc_wait_log(lg, 0, "good.pem: fetch from", lg_test_timeout_ms()), "%s",
              lg_proc_log(lg));
    log = lg_proc_log(lg);
    cr_assert_not_null(strstr(log, lg_fmt("ocsp: %s/good.pem: fetch from http://127.0.0.1:%d/ "
                                          "failed (it does not verify against the issuer "
                                          "(OpenSSL: ",
                                          r.dir, r.port)),
                       "%s", log);
    cr_assert_not_null(strstr(log, "nothing is stapled, next try in 10 s"), "%s", log);
    out = staple(lg, "good.ocsp.test");
    cr_assert_not_null(strstr(out, "OCSP response: no response sent"), "%s", out);
    responder_stop(&r);
    lg_lifeguard_finish(lg, "connect() to");
}

/* dnsmasq on a free port of 127.0.0.1 that says ocsp.test is 127.0.0.1; its port. */
static int resolver_start(const responder_t *r, pid_t *pid)
{
    const char *hosts =
        lg_test_keep(lg_test_write_file(r->dir, "hosts", "127.0.0.1 ocsp.test\n"), NULL);

    /* it binds UDP and TCP: a port free for one may be taken for the other, so try again */
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = lg_test_free_port_on(SOCK_DGRAM, "127.0.0.1");
        cr_assert_gt(port, 0);
        *pid = spawn(lg_test_dnsmasq_argv("127.0.0.1", port, hosts, NULL),
                     lg_fmt("%s/dnsmasq-%d.log", r->dir, attempt), "read ");
        if (*pid > 0)
            return port;
    }
    cr_assert_fail("dnsmasq did not start: see %s", r->dir);
    return -1;
}

Test(ocsp, responder_down_at_start_then_up_and_its_name_resolved, .timeout = 90)
{
    responder_t r = {0};
    lg_proc_t *lg;
    const char *log, *out;
    pid_t dns;
    int st;

    lg_test_skip_without_dnsmasq();
    responder_pki(&r);
    lg = lg_lifeguard_start(
        lg_fmt("resolver: 127.0.0.1:%d\n%s", resolver_start(&r, &dns),
               lg_test_tls_yaml("web", "http",
                                lg_fmt("      certificates:\n"
                                       "        - {cert: %s/named.pem, key: %s/named.key}\n",
                                       r.dir, r.dir))));
    /* nobody answers yet: nothing stapled, tried again later */
    cr_assert(lg_proc_wait_log(lg, 0, "named.pem: fetch from", lg_test_timeout_ms()), "%s",
              lg_proc_log(lg));
    log = lg_proc_log(lg);
    cr_assert_not_null(
        strstr(log, lg_fmt("ocsp: %s/named.pem: fetch from http://ocsp.test:%d/named "
                           "failed (connect() to ocsp.test:%d failed (111: ",
                           r.dir, r.port, r.port)),
        "%s", log);
    cr_assert_not_null(strstr(log, "nothing is stapled, next try in 10 s"), "%s", log);
    out = staple(lg, "named.ocsp.test");
    cr_assert_not_null(strstr(out, "OCSP response: no response sent"), "%s", out);

    responder_start(&r, "int");
    cr_assert(lg_proc_wait_log(lg, 0, "named.pem: response fetched from", 20000), "%s",
              lg_proc_log(lg));
    expect_status(lg, "named.ocsp.test", "good");
    responder_stop(&r);
    kill(dns, SIGTERM);
    waitpid(dns, &st, 0);
    lg_lifeguard_finish(lg, "connect() to");
}

Test(ocsp, refreshed_at_half_validity_and_not_stapled_once_expired, .timeout = 180)
{
    responder_t r = {0};
    lg_proc_t *lg;
    const char *log, *out;

    responder_pki(&r);
    responder_start_for(&r, "int", 1); /* a minute: refreshed after 30 s */
    lg = lifeguard(&r);
    cr_assert(lg_proc_wait_log(lg, 0, "good.pem: response fetched from", lg_test_timeout_ms()),
              "%s", lg_proc_log(lg));
    log = lg_proc_log(lg);
    cr_assert_not_null(strstr(log, "good, next update "), "%s", log);
    /* half of the minute left when it arrived (the responder's clock may be a second ahead) */
    cr_assert(strstr(log, ", refreshed in 30 s") != NULL || strstr(log, ", refreshed in 29 s"),
              "%s", log);
    expect_status(lg, "good.ocsp.test", "good");

    /* the refresh fails: the response stays until its nextUpdate, then nothing is stapled */
    responder_stop(&r);
    cr_assert(lg_proc_wait_log(lg, 0, "good.pem: fetch from", 45000), "%s", lg_proc_log(lg));
    log = lg_proc_log(lg);
    cr_assert_not_null(strstr(log, lg_fmt("good.pem: fetch from http://127.0.0.1:%d/ failed "
                                          "(connect() to 127.0.0.1:%d failed (111: Connection "
                                          "refused)): the last response is still stapled, next "
                                          "try in 10 s",
                                          r.port, r.port)),
                       "%s", log);
    expect_status(lg, "good.ocsp.test", "good");
    cr_assert(lg_proc_wait_log(lg, 0,
                               lg_fmt("ocsp: %s/good.pem: the stapled response expired "
                                      "(nextUpdate passed): nothing is stapled until a fetch "
                                      "succeeds",
                                      r.dir),
                               45000),
              "%s", lg_proc_log(lg));
    out = staple(lg, "good.ocsp.test");
    cr_assert_not_null(strstr(out, "OCSP response: no response sent"), "%s", out);
    lg_lifeguard_finish(lg, "connect() to");
}
