/*
 * The master's ACME client (src/acme) against a real pebble: the client runs in this test's
 * process on the real event loop, given a configuration built in memory (the `acme` section is
 * parsed by the serving half of #18; test_acme.c drives the real binary once both are merged).
 * Each Test runs in its own process (criterion), so each one is a fresh master.
 */
#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme.h"
#include "acme/client.h"
#include "core/log.h"
#include "event/loop.h"
#include "lg_test.h"

#define RENEW_BEFORE_MS (720ull * 3600 * 1000)

typedef struct fixture {
    lg_config_t cf;
    lg_acme_conf_t ac;
    lg_listener_conf_t lc;
    lg_tls_conf_t tc;
    lg_tls_cert_conf_t cc;
    char *names[2];
    char *storage, *log;
} fixture_t;

static fixture_t *fixture(const lg_pebble_t *pb, const char *dir, lg_acme_challenge_t ch)
{
    fixture_t *f = lg_test_keep(calloc(1, sizeof(*f)), NULL);
    const char *why;

    f->names[0] = "acme.example.com";
    f->names[1] = "www.acme.example.com";
    f->storage = lg_fmt("%s/acme", dir);
    f->log = lg_fmt("%s/error.log", dir);
    f->ac = (lg_acme_conf_t){.directory = (char *)lg_pebble_directory(pb, "pebble.test"),
                             .email = "ops@example.com",
                             .storage = f->storage,
                             .ca = pb->ca,
                             .challenge = ch,
                             .renew_before = RENEW_BEFORE_MS};
    f->cc = (lg_tls_cert_conf_t){.acme = f->names, .nacme = 2};
    f->tc = (lg_tls_conf_t){.certs = &f->cc, .ncerts = 1};
    f->lc = (lg_listener_conf_t){.name = "https", .tls = &f->tc};
    f->cf.listeners = &f->lc;
    f->cf.nlisteners = 1;
    f->cf.acme = &f->ac;
    /* pebble.test: a name only pebble-challtestsrv resolves (the client's DNS query path) */
    cr_assert_eq(lg_parse_addr(lg_fmt("127.0.0.1:%d", pb->dns_port), 0, &f->cf.resolver, &why),
                 LG_OK);
    cr_assert_eq(lg_log_open(f->log), LG_OK);
    cr_assert_eq(lg_acme_region_create(), LG_OK); /* as the master does before its first load */
    cr_assert_eq(lg_loop_init(), LG_OK);
    return f;
}

/* Run the loop until the log has `needle` (1) or the timeout (0). */
static int run_until(const fixture_t *f, const char *needle)
{
    uint64_t deadline = lg_now_ms() + 2 * (uint64_t)lg_test_timeout_ms();

    while (lg_now_ms() < deadline) {
        char *log;
        int found;

        lg_loop_once(100);
        log = lg_test_read_file(f->log, NULL);
        found = log != NULL && strstr(log, needle) != NULL;
        free(log);
        if (found)
            return 1;
    }
    return 0;
}

static char *log_text(const fixture_t *f)
{
    return lg_test_keep(lg_test_read_file(f->log, NULL), NULL);
}

static int slot_of(fixture_t *f)
{
    return lg_acme_cert_slot((const char *const *)f->names, 2, 0);
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "%s missing", path);
    return st.st_mode & 07777;
}

/* A managed name served by a certificate obtained here, with no error. */
static void count_name(const lg_acme_name_view_t *v, void *arg)
{
    *(int *)arg += v->expiry > (int64_t)time(NULL) && v->renewed != 0 && v->error[0] == '\0';
}

/* First issuance: account, order, (always valid) authorizations, finalize, download, store. */
static fixture_t *issue(lg_pebble_t *pb, const char *dir, lg_acme_challenge_t ch)
{
    fixture_t *f = fixture(pb, dir, ch);

    cr_assert_eq(lg_acme_apply(&f->cf), LG_OK);
    cr_assert(run_until(f, "certificate obtained"), "no certificate: %s", log_text(f));
    return f;
}

/* The first certificate with either challenge (pebble takes any: always valid). */
static void first_issuance(lg_acme_challenge_t ch)
{
    lg_test_skip_without_pebble();
    lg_pebble_t *pb = lg_pebble_start(1, 1, 1);
    const char *dir = lg_test_tempdir();
    fixture_t *f = issue(pb, dir, ch);
    const char *crt = lg_fmt("%s/certs/acme.example.com.crt", f->storage);
    char *out;

    int names = 0;

    cr_expect_eq(lg_acme_orders(LG_ACME_VALID), 1);
    lg_acme_each(count_name, &names);
    cr_expect_eq(names, 2, "what metrics and /status show");
    cr_expect_neq(lg_acme_cert_seq(slot_of(f)), 0, "not published");
    cr_expect(strstr(log_text(f), "[error]") == NULL && strstr(log_text(f), "[warn]") == NULL, "%s",
              log_text(f));
    cr_expect_eq(mode_of(f->storage), 0700);
    cr_expect_eq(mode_of(lg_fmt("%s/account.key", f->storage)), 0600);
    cr_expect_eq(mode_of(lg_fmt("%s/certs/acme.example.com.key", f->storage)), 0600);
    cr_expect_eq(lg_run_capture(lg_fmt("openssl verify -CAfile %s -untrusted %s %s 2>&1",
                                       lg_pebble_root(pb), crt, crt),
                                &out),
                 0, "%s", out);
    cr_expect_eq(
        lg_run_capture(lg_fmt("openssl x509 -in %s -noout -ext subjectAltName", crt), &out), 0);
    cr_expect(strstr(out, "DNS:acme.example.com") && strstr(out, "DNS:www.acme.example.com"), "%s",
              out);
}

Test(acme_client, first_issuance_http01_stored_and_verified_by_pebble_root)
{
    first_issuance(LG_ACME_HTTP01);
}

Test(acme_client, first_issuance_tlsalpn01_stored_and_verified_by_pebble_root)
{
    first_issuance(LG_ACME_TLSALPN01);
}

/* A first master (a child process) obtains the certificate into dir and exits; its log is
 * moved aside, so that the next master's log holds only its own lines. */
static void issue_in_child(lg_pebble_t *pb, const char *dir)
{
    pid_t child = fork();
    int status = -1;

    if (child == 0) {
        issue(pb, dir, LG_ACME_HTTP01);
        _exit(0);
    }
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert_eq(status, 0, "first issuance failed: %s",
                 lg_test_read_file(lg_fmt("%s/error.log", dir), NULL));
    cr_assert_eq(rename(lg_fmt("%s/error.log", dir), lg_fmt("%s/first.log", dir)), 0);
}

Test(acme_client, restart_serves_storage_without_contacting_pebble)
{
    lg_test_skip_without_pebble();
    lg_pebble_t *pb = lg_pebble_start(1, 1, 1);
    const char *dir = lg_test_tempdir();
    fixture_t *f;

    issue_in_child(pb, dir);
    lg_pebble_stop(pb);
    f = fixture(pb, dir, LG_ACME_HTTP01);
    cr_assert_eq(lg_acme_apply(&f->cf), LG_OK);
    for (int i = 0; i < 20; i++)
        lg_loop_once(100); /* a few ticks: nothing is due */
    cr_expect(strstr(log_text(f), "acme: acme.example.com: serving the stored certificate"), "%s",
              log_text(f));
    cr_expect_neq(lg_acme_cert_seq(slot_of(f)), 0, "not published");
    cr_expect(strstr(log_text(f), "ordering") == NULL, "%s", log_text(f));
    cr_expect(strstr(log_text(f), "[error]") == NULL && strstr(log_text(f), "[warn]") == NULL, "%s",
              log_text(f));
}

/* notAfter of the PEM certificate in `path` (Unix s). */
static int64_t not_after_of(const char *path)
{
    FILE *fp = fopen(path, "r");
    X509 *x = fp != NULL ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
    struct tm tm;

    cr_assert_not_null(x, "%s", path);
    cr_assert_eq(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), 1);
    X509_free(x);
    fclose(fp);
    return (int64_t)timegm(&tm);
}

Test(acme_client, stored_certificate_within_renew_before_is_renewed_once)
{
    lg_test_skip_without_pebble();
    lg_pebble_t *pb = lg_pebble_start(1, 1, 1);
    const char *dir = lg_test_tempdir();
    const char *crt = lg_fmt("%s/acme/certs/acme.example.com.crt", dir);
    char *before, *after;
    fixture_t *f;

    issue_in_child(pb, dir);
    before = lg_test_keep(lg_test_read_file(crt, NULL), NULL);
    f = fixture(pb, dir, LG_ACME_HTTP01);
    /* due now: it expires within renew_before (an hour more than it has left) */
    f->ac.renew_before = (lg_msec_t)(not_after_of(crt) - (int64_t)time(NULL) + 3600) * 1000;
    cr_assert_eq(lg_acme_apply(&f->cf), LG_OK);
    cr_expect_neq(lg_acme_cert_seq(slot_of(f)), 0, "the stored certificate serves meanwhile");
    cr_assert(run_until(f, "certificate obtained"), "%s", log_text(f));
    for (int i = 0; i < 20; i++)
        lg_loop_once(100); /* a few ticks: the new one is not due */
    cr_expect(strstr(log_text(f), "serving the stored certificate, renewed in 0 s"), "%s",
              log_text(f));
    cr_expect(strstr(log_text(f), "within renew_before"), "no warning: %s", log_text(f));
    cr_expect_eq(lg_acme_orders(LG_ACME_VALID), 1, "renewed again and again: %s", log_text(f));
    after = lg_test_keep(lg_test_read_file(crt, NULL), NULL);
    cr_expect(after != NULL && strcmp(before, after) != 0, "the stored certificate is the old one");
}

Test(acme_client, refused_challenge_logs_the_problem_and_keeps_the_placeholder)
{
    lg_test_skip_without_pebble();
    /* validation for real, on a port nothing listens on */
    lg_pebble_t *pb = lg_pebble_start(0, lg_test_free_port(), lg_test_free_port());
    fixture_t *f = fixture(pb, lg_test_tempdir(), LG_ACME_HTTP01);

    cr_assert_eq(lg_acme_apply(&f->cf), LG_OK);
    cr_assert(run_until(f, "order failed"), "%s", log_text(f));
    cr_expect(strstr(log_text(f), "urn:ietf:params:acme:error:connection"), "%s", log_text(f));
    cr_expect(strstr(log_text(f), "the placeholder keeps serving, next try in 60 s"), "%s",
              log_text(f));
    cr_expect_eq(lg_acme_orders(LG_ACME_INVALID), 1);
    cr_expect_eq(lg_acme_cert_seq(slot_of(f)), 0, "something was published");
}

Test(acme_client, corrupt_storage_is_reported_and_replaced)
{
    lg_test_skip_without_pebble();
    lg_pebble_t *pb = lg_pebble_start(1, 1, 1);
    const char *dir = lg_test_tempdir();
    const char *storage = lg_fmt("%s/acme", dir);
    fixture_t *f;
    char *out;

    cr_assert_eq(mkdir(storage, 0700), 0);
    cr_assert_eq(mkdir(lg_fmt("%s/certs", storage), 0700), 0);
    lg_test_write_file(storage, "account.key", "-----BEGIN PRIVATE KEY-----\ngarbage\n");
    lg_test_write_file(storage, "certs/acme.example.com.crt", "not a certificate\n");
    lg_test_write_file(storage, "certs/acme.example.com.key", "not a key\n");
    f = issue(pb, dir, LG_ACME_HTTP01);
    cr_expect(strstr(log_text(f), lg_fmt("acme: account key %s/account.key is not a readable "
                                         "P-256 key: replaced by a new one",
                                         storage)),
              "%s", log_text(f));
    cr_expect(strstr(log_text(f), lg_fmt("the stored certificate %s/certs/acme.example.com.crt is "
                                         "unusable (the certificate does not parse)",
                                         storage)),
              "%s", log_text(f));
    cr_expect_eq(
        lg_run_capture(lg_fmt("openssl pkey -in %s/account.key -noout 2>&1", storage), &out), 0,
        "%s", out);
    cr_expect_eq(lg_run_capture(lg_fmt("openssl x509 -in %s/certs/acme.example.com.crt -noout "
                                       "2>&1",
                                       storage),
                                &out),
                 0, "%s", out);
}
