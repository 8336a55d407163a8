/*
 * test_acme_serve.c - the serving side of acme entries with the real binary, before any
 * certificate is obtained (nothing in this build publishes one; the unit tests test_tls_acme and
 * test_acme_region publish in process): the self-signed placeholder served for the configured
 * names (openssl s_client), SNI choosing it among file certificates, ALPN acme-tls/1 alone
 * refused without a challenge, and /.well-known/acme-challenge/ requests with no challenge
 * under way routed as any request, on HTTP/1.1 and HTTP/2.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "lg_test_tls.h"
#include "proxy_common.h"

typedef struct acme_fix {
    lg_proc_t *origin;
    lg_proc_t *lg;
    int plain;  /* http, redirect to https for every request */
    int secure; /* tls: the ec file certificate (default), then acme: [a.test, b.test] */
} acme_fix_t;

static acme_fix_t acme_start(void)
{
    lg_yaml_t *c = lg_yaml_new();
    acme_fix_t f;

    f.origin = lg_origin_start("--name backend");
    lg_yaml_set(c, "log.access", "stdout");
    lg_yaml_add(c, "pools.app.backends", "127.0.0.1:%d", lg_proc_port(f.origin, NULL));
    lg_yaml_set(c, "listeners.plain.listen", "127.0.0.1:0");
    lg_yaml_add(c, "listeners.plain.routes",
                "{redirect: {to: \"https://{host}{uri}\", status: 308}}");
    lg_yaml_set(c, "listeners.secure.listen", "127.0.0.1:0");
    lg_yaml_add(c, "listeners.secure.tls.certificates", "{cert: %s, key: %s}",
                lg_test_pki("ec.pem"), lg_test_pki("ec.key"));
    lg_yaml_add(c, "listeners.secure.tls.certificates", "{acme: [a.test, B.test]}");
    lg_yaml_add(c, "listeners.secure.routes", "{pool: app}");
    lg_yaml_set(c, "acme.directory", "https://127.0.0.1:9/directory");
    lg_yaml_set(c, "acme.storage", lg_fmt("%s/acme", lg_test_tempdir()));
    f.lg = lg_yaml_start(c);
    f.plain = lg_proc_port(f.lg, "plain");
    f.secure = lg_proc_port(f.lg, "secure");
    return f;
}

static void acme_finish(acme_fix_t *f)
{
    lg_lifeguard_finish(f->lg, NULL);
    lg_proc_stop(f->origin);
}

/* openssl s_client's ALPN and alert lines with `args`, and the served certificate's fields. */
static char *s_client(int port, const char *args)
{
    char *out;

    lg_run_capture(
        lg_fmt(
            "out=$(openssl s_client -connect 127.0.0.1:%d %s </dev/null 2>&1); "
            "echo \"$out\" | grep -E 'ALPN|alert'; "
            "echo \"$out\" | openssl x509 -noout -subject -issuer -ext subjectAltName 2>/dev/null",
            port, args),
        &out);
    return out;
}

Test(acme_serve, placeholder_served_for_the_configured_names)
{
    acme_fix_t f = acme_start();
    char *out = s_client(f.secure, "-servername B.test -showcerts");

    cr_assert(strstr(out, "subject=CN = lifeguard ACME placeholder") != NULL, "%s", out);
    cr_assert(strstr(out, "issuer=CN = lifeguard ACME placeholder") != NULL, "self-signed: %s",
              out);
    cr_assert(strstr(out, "DNS:a.test, DNS:b.test") != NULL, "%s", out);
    out = s_client(f.secure, "-servername www.example.com");
    cr_assert(strstr(out, "subject=CN = ec test leaf") != NULL, "the file certificate: %s", out);
    out = s_client(f.secure, "");
    cr_assert(strstr(out, "subject=CN = ec test leaf") != NULL, "the default: %s", out);
    cr_assert_eq(lg_log_count(lg_proc_log(f.lg), "listener secure: a self-signed placeholder "
                                                 "serves a.test, b.test until a certificate is "
                                                 "obtained"),
                 1);
    acme_finish(&f);
}

Test(acme_serve, acme_tls_1_without_a_challenge)
{
    acme_fix_t f = acme_start();
    char *out = s_client(f.secure, "-servername a.test -alpn acme-tls/1");

    cr_assert(strstr(out, "no application protocol") != NULL, "refused: %s", out);
    out = s_client(f.secure, "-servername a.test -alpn acme-tls/1,http/1.1");
    cr_assert(strstr(out, "ALPN protocol: http/1.1") != NULL, "%s", out);
    cr_assert(strstr(out, "subject=CN = lifeguard ACME placeholder") != NULL, "%s", out);
    acme_finish(&f);
}

/* curl ARGS URL: "STATUS BODY" */
static char *curl(const char *args, const char *url)
{
    char *out;

    lg_run_capture(
        lg_fmt("curl -sk --max-time 10 %s -w '%%{http_code} %%{http_version}' '%s'", args, url),
        &out);
    return out;
}

Test(acme_serve, unknown_token_is_routed)
{
    acme_fix_t f = acme_start();
    const char *path = "/.well-known/acme-challenge/Zm9vYmFy_-0";

    cr_assert_str_eq(curl("-o /dev/null", lg_fmt("http://127.0.0.1:%d%s", f.plain, path)),
                     "308 1.1", "the plain listener's redirect applies");
    cr_assert_str_eq(curl("--http1.1", lg_fmt("https://127.0.0.1:%d%s", f.secure, path)),
                     "backend\n200 1.1");
    cr_assert_str_eq(curl("--http2", lg_fmt("https://127.0.0.1:%d%s", f.secure, path)),
                     "backend\n200 2");
    cr_assert_str_eq(
        curl("--http1.1", lg_fmt("https://127.0.0.1:%d/.well-known/acme-challenge/a.b", f.secure)),
        "backend\n200 1.1", "not a token (not base64url): routed");
    cr_assert_str_eq(
        curl("--http1.1",
             lg_fmt("https://127.0.0.1:%d/.well-known/acme-challenge/%0129d", f.secure, 0)),
        "backend\n200 1.1", "a token over 128 bytes: routed");
    acme_finish(&f);
}

Test(acme_serve, reload_keeps_serving_the_placeholder)
{
    acme_fix_t f = acme_start();
    size_t mark = lg_proc_log_mark(f.lg);
    char *out;

    cr_assert_eq(lg_proc_signal(f.lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(f.lg, mark, "reloaded: generation 2 serves", 5000));
    out = s_client(f.secure, "-servername a.test");
    cr_assert(strstr(out, "subject=CN = lifeguard ACME placeholder") != NULL, "%s", out);
    cr_assert(strstr(out, "DNS:a.test, DNS:b.test") != NULL, "%s", out);
    /* said once per master life, not for every generation */
    cr_assert_eq(lg_log_count(lg_proc_log(f.lg), "a self-signed placeholder serves a.test, "
                                                 "b.test until a certificate is obtained"),
                 1, "%s", lg_proc_log(f.lg));
    acme_finish(&f);
}
