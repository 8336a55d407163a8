/*
 * test_acme.c - automatic certificates with the real binary against a real pebble (with
 * pebble-challtestsrv resolving every name to 127.0.0.1): pebble validates the challenges on
 * lifeguard's own listeners (http-01 on the plain one, tls-alpn-01 on the TLS one), and the
 * certificate served afterwards is checked by curl against pebble's root. Lifeguard starts
 * first with a file certificate (its listeners on port 0), pebble is then started for those
 * ports, and a reload brings the acme entry (port-0 listeners keep their sockets by name).
 *
 * Needs both halves of #18 (the client, src/acme, and the serving side with the `acme`
 * section): a binary whose configuration does not know `acme` skips these tests.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lg_test.h"
#include "lg_test_tls.h"

#define NAME "acme.test"

typedef struct acme_fix {
    lg_proc_t *origin, *lg;
    lg_pebble_t *pb;
    lg_yaml_t *conf;
    const char *storage;
    int plain, secure;
} acme_fix_t;

/* The configuration: listeners plain and secure, and (acme) the entry and section. */
static lg_yaml_t *acme_conf(acme_fix_t *f, const char *challenge, int acme)
{
    lg_yaml_t *c = lg_yaml_new();

    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    lg_yaml_add(c, "pools.app.backends", "127.0.0.1:%d", lg_proc_port(f->origin, NULL));
    lg_yaml_set(c, "listeners.plain.listen", "127.0.0.1:0");
    lg_yaml_add(c, "listeners.plain.routes", "{pool: app}");
    lg_yaml_set(c, "listeners.secure.listen", "127.0.0.1:0");
    lg_yaml_add(c, "listeners.secure.tls.certificates", "{cert: %s, key: %s}",
                lg_test_pki("ec.pem"), lg_test_pki("ec.key"));
    lg_yaml_add(c, "listeners.secure.routes", "{pool: app}");
    if (!acme)
        return c;
    lg_yaml_add(c, "listeners.secure.tls.certificates", "{acme: [" NAME "]}");
    lg_yaml_set(c, "acme.directory", lg_pebble_directory(f->pb, "127.0.0.1"));
    lg_yaml_set(c, "acme.email", "ops@example.com");
    lg_yaml_set(c, "acme.storage", f->storage);
    lg_yaml_set(c, "acme.ca", f->pb->ca);
    lg_yaml_set(c, "acme.challenge", challenge);
    return c;
}

/* Skip when this binary does not parse the `acme` section (the serving half not merged). */
static void skip_without_acme_config(void)
{
    char *out;

    if (lg_lifeguard_run("listeners:\n  web:\n    listen: 127.0.0.1:0\n    routes:\n"
                         "      - {pool: app}\npools:\n  app:\n    backends: [127.0.0.1:9]\n"
                         "acme:\n  storage: /nonexistent\n",
                         "-t", &out) != 0)
        cr_skip_test("the acme section is not parsed by this build: %s", out);
}

/*
 * Lifeguard with a file certificate, then pebble validating on its ports (`always_valid` 0:
 * for real; `answer` 0: on a port nothing listens on), then the reload that adds the entry.
 */
static acme_fix_t acme_start(const char *challenge, int always_valid, int answer)
{
    acme_fix_t f = {0};

    lg_test_skip_without_pebble();
    skip_without_acme_config();
    f.storage = lg_fmt("%s/acme", lg_test_tempdir());
    f.origin = lg_origin_start("--name backend");
    f.lg = lg_yaml_start(acme_conf(&f, challenge, 0));
    f.plain = lg_proc_port(f.lg, "plain");
    f.secure = lg_proc_port(f.lg, "secure");
    f.pb = lg_pebble_start(always_valid, answer ? f.plain : lg_test_free_port(),
                           answer ? f.secure : lg_test_free_port());
    f.conf = acme_conf(&f, challenge, 1);
    lg_proc_write_config(f.lg, lg_yaml_text(f.conf));
    lg_proc_signal(f.lg, SIGHUP);
    return f;
}

/* curl to NAME on the secure listener, trusting pebble's root only: its exit code. */
static int curl_name(acme_fix_t *f, const char *root)
{
    char *out;

    return lg_run_capture(lg_fmt("curl -sS -o /dev/null --max-time 10 --cacert %s --resolve " NAME
                                 ":%d:127.0.0.1 https://" NAME ":%d/ 2>&1",
                                 root, f->secure, f->secure),
                          &out);
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "%s missing", path);
    return st.st_mode & 07777;
}

/* Issued by `challenge`, validated by pebble on lifeguard's listener, served, visible. */
static void issuance(const char *challenge)
{
    acme_fix_t f = acme_start(challenge, 0, 1);
    const char *root, *crt = lg_fmt("%s/certs/" NAME ".crt", f.storage);
    char *out;
    lg_http_response_t *r;

    cr_assert(
        lg_proc_wait_log(f.lg, 0, "acme: " NAME ": certificate obtained", 3 * lg_test_timeout_ms()),
        "no certificate: %s", lg_proc_log(f.lg));
    root = lg_pebble_root(f.pb);
    cr_expect_eq(
        lg_run_capture(lg_fmt("openssl verify -CAfile %s -untrusted %s %s 2>&1", root, crt, crt),
                       &out),
        0, "%s", out);
    cr_expect_eq(mode_of(f.storage), 0700);
    cr_expect_eq(mode_of(lg_fmt("%s/account.key", f.storage)), 0600);
    cr_expect_eq(mode_of(lg_fmt("%s/certs/" NAME ".key", f.storage)), 0600);
    cr_expect_eq(curl_name(&f, root), 0, "the obtained certificate is not served: %s",
                 lg_proc_log(f.lg));
    r = lg_http_get(lg_proc_admin_port(f.lg), "/metrics", NULL);
    cr_assert(r->status == 200 && r->body != NULL, "/metrics: %d", r->status);
    cr_expect(strstr(r->body, "lifeguard_acme_orders_total{result=\"valid\"} 1\n") != NULL, "%s",
              r->body);
    cr_expect(strstr(r->body, "lifeguard_acme_certificate_expiry_timestamp_seconds{name=\"" NAME
                              "\"}") != NULL,
              "%s", r->body);
    r = lg_http_get(lg_proc_admin_port(f.lg), "/status.json", NULL);
    cr_assert(r->status == 200 && r->body != NULL, "/status.json: %d: %s", r->status,
              lg_proc_log(f.lg));
    cr_expect(strstr(r->body, "\"acme\": [\n {\"name\": \"" NAME "\", \"expires\": ") != NULL, "%s",
              r->body);
    lg_lifeguard_finish(f.lg, NULL);
    lg_proc_stop(f.origin);
}

Test(acme, first_issuance_by_http01_is_served)
{
    issuance("http-01");
}

Test(acme, first_issuance_by_tlsalpn01_is_served)
{
    issuance("tls-alpn-01");
}

/* Wait for the first certificate, then stop lifeguard (not pebble): pebble's root. */
static const char *obtain_and_stop(acme_fix_t *f)
{
    const char *root;

    cr_assert(lg_proc_wait_log(f->lg, 0, "certificate obtained", 3 * lg_test_timeout_ms()), "%s",
              lg_proc_log(f->lg));
    root = lg_pebble_root(f->pb);
    lg_lifeguard_finish(f->lg, NULL);
    return root;
}

Test(acme, restart_serves_storage_without_pebble)
{
    acme_fix_t f = acme_start("http-01", 1, 1);
    const char *root = obtain_and_stop(&f);
    char *yaml = lg_yaml_text(f.conf);

    lg_pebble_stop(f.pb);
    f.lg = lg_lifeguard_start(yaml);
    f.secure = lg_proc_port(f.lg, "secure");
    cr_expect(lg_proc_wait_log(f.lg, 0, "acme: " NAME ": serving the stored certificate",
                               lg_test_timeout_ms()),
              "%s", lg_proc_log(f.lg));
    cr_expect_eq(curl_name(&f, root), 0, "%s", lg_proc_log(f.lg));
    cr_expect_eq(lg_log_count(lg_proc_log(f.lg), "ordering"), 0, "%s", lg_proc_log(f.lg));
    lg_lifeguard_finish(f.lg, NULL); /* and no error: pebble was never asked */
    lg_proc_stop(f.origin);
}

/* SHA-256 fingerprint of the certificate in `pem_cmd`'s output ("" when none). */
static char *fingerprint(const char *pem_cmd)
{
    char *out = NULL;

    lg_run_capture(lg_fmt("%s | openssl x509 -noout -fingerprint -sha256 2>/dev/null", pem_cmd),
                   &out);
    return out != NULL ? out : "";
}

/*
 * Reloaded with a renew_before longer than the certificate has left: a new one is ordered,
 * validated on the listener and installed in the running workers (forked before it existed),
 * and it is not renewed again and again.
 */
Test(acme, certificate_due_is_renewed_and_installed_in_running_workers)
{
    acme_fix_t f = acme_start("http-01", 0, 1);
    const char *crt = lg_fmt("%s/certs/" NAME ".crt", f.storage), *before;
    size_t mark;
    lg_http_response_t *r;

    cr_assert(lg_proc_wait_log(f.lg, 0, "certificate obtained", 3 * lg_test_timeout_ms()), "%s",
              lg_proc_log(f.lg));
    before = fingerprint(lg_fmt("cat %s", crt));
    cr_assert_neq(before[0], '\0');
    mark = lg_proc_log_mark(f.lg);
    lg_yaml_set(f.conf, "acme.renew_before", "87600h"); /* pebble's certificates live 5 years */
    lg_proc_write_config(f.lg, lg_yaml_text(f.conf));
    lg_proc_signal(f.lg, SIGHUP);
    cr_assert(lg_proc_wait_log(f.lg, mark, "certificate obtained", 3 * lg_test_timeout_ms()),
              "not renewed: %s", lg_proc_log(f.lg));
    cr_expect(lg_proc_wait_log(f.lg, mark, "within renew_before", lg_test_timeout_ms()),
              "no warning: %s", lg_proc_log(f.lg));
    cr_expect_str_neq(fingerprint(lg_fmt("cat %s", crt)), before, "storage kept the old one");
    cr_expect_str_eq(fingerprint(lg_fmt("openssl s_client -connect 127.0.0.1:%d -servername " NAME
                                        " </dev/null 2>/dev/null",
                                        f.secure)),
                     fingerprint(lg_fmt("cat %s", crt)), "the renewed one is not served");
    cr_expect_eq(curl_name(&f, lg_pebble_root(f.pb)), 0, "%s", lg_proc_log(f.lg));
    r = lg_http_get(lg_proc_admin_port(f.lg), "/metrics", NULL);
    cr_expect(r->body != NULL &&
                  strstr(r->body, "lifeguard_acme_orders_total{result=\"valid\"} 2\n") != NULL,
              "not exactly two orders: %s", r->body);
    lg_lifeguard_finish(f.lg, NULL);
    lg_proc_stop(f.origin);
}

/*
 * Storage damaged while lifeguard was stopped (a truncated account key, a certificate that is not
 * one): the master says which file, makes a new key, orders again and serves the result.
 */
Test(acme, corrupt_storage_is_reported_replaced_and_served)
{
    acme_fix_t f = acme_start("http-01", 1, 1);
    const char *root = obtain_and_stop(&f);
    char *yaml = lg_yaml_text(f.conf);

    lg_test_write_file(f.storage, "account.key", "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n");
    lg_test_write_file(f.storage, "certs/" NAME ".crt", "not a certificate\n");
    f.lg = lg_lifeguard_start(yaml);
    f.secure = lg_proc_port(f.lg, "secure");
    cr_assert(lg_proc_wait_log(f.lg, 0, "certificate obtained", 3 * lg_test_timeout_ms()), "%s",
              lg_proc_log(f.lg));
    cr_expect(lg_log_count(
                  lg_proc_log(f.lg),
                  lg_fmt("account key %s/account.key is not a readable P-256 key", f.storage)) == 1,
              "%s", lg_proc_log(f.lg));
    cr_expect(lg_log_count(lg_proc_log(f.lg),
                           lg_fmt("the stored certificate %s/certs/" NAME ".crt is unusable",
                                  f.storage)) == 1,
              "%s", lg_proc_log(f.lg));
    cr_expect_eq(curl_name(&f, root), 0, "%s", lg_proc_log(f.lg));
    lg_lifeguard_finish(f.lg, "is not a readable P-256 key", "is unusable");
    lg_proc_stop(f.origin);
}

Test(acme, refused_challenge_keeps_the_placeholder_and_logs_the_problem)
{
    acme_fix_t f = acme_start("http-01", 0, 0);

    cr_assert(lg_proc_wait_log(f.lg, 0, "acme: " NAME ": order failed", 3 * lg_test_timeout_ms()),
              "%s", lg_proc_log(f.lg));
    cr_expect_eq(lg_log_count(lg_proc_log(f.lg), "urn:ietf:params:acme:error:connection"), 1, "%s",
                 lg_proc_log(f.lg));
    cr_expect_eq(lg_log_count(lg_proc_log(f.lg), "the placeholder keeps serving"), 1);
    cr_expect_neq(curl_name(&f, lg_pebble_root(f.pb)), 0, "a certificate of pebble is served");
    lg_lifeguard_finish(f.lg, NULL);
    lg_proc_stop(f.origin);
}
