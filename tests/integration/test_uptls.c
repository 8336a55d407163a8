/*
 * test_uptls.c - TLS to the backends (pools.NAME.tls) with the real binary: a front lifeguard
 * whose pool speaks TLS to a second lifeguard, the TLS backend, with a tls listener (the test
 * PKI's ec certificate, www.example.com) in front of lg-origin. Verification with the right CA,
 * a wrong CA and a wrong name, verify off, the IP backend without a name refused at load, a
 * client certificate the backend requires, keep-alive reuse and session resumption counted by
 * the backend's own TLS metrics, and health checks over TLS.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lg_test.h"
#include "lg_test_raw.h"
#include "lg_test_tls.h"
#include "proxy_common.h"

#define NAME "www.example.com" /* a name of the backend's certificate */

/* The TLS backend: a lifeguard with a tls listener in front of lg-origin, and its admin. */
static lg_proc_t *tls_backend_idle(int client_auth, const char *client_idle)
{
    lg_proc_t *origin = lg_origin_start("--name tlsb");
    lg_yaml_t *c = lg_yaml_single(origin->port);

    lg_yaml_add(c, "listeners.web.tls.certificates", "{cert: %s, key: %s}", lg_test_pki("ec.pem"),
                lg_test_pki("ec.key"));
    if (client_auth)
        lg_yaml_setf(c, "listeners.web.tls.client_auth", "{ca: %s, verify: required}",
                     lg_test_pki("ca.pem"));
    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    if (client_idle != NULL)
        lg_yaml_set(c, "timeouts.client_idle", client_idle);
    return lg_yaml_start(c);
}

static lg_proc_t *tls_backend(int client_auth)
{
    return tls_backend_idle(client_auth, NULL);
}

/* The front: one worker, its pool `app` to the backend on `port` with tls mapping `tls`. */
static lg_yaml_t *front_conf(int port, const char *tls)
{
    lg_yaml_t *c = lg_yaml_single(port);

    lg_yaml_set(c, "workers", "1");
    lg_yaml_set(c, "pools.app.tls", tls);
    return c;
}

static lg_proc_t *front(int port, const char *tls)
{
    return lg_yaml_start(front_conf(port, tls));
}

/* The right CA and the name in the certificate. */
static const char *verified(void)
{
    return lg_fmt("{ca: %s, server_name: %s}", lg_test_pki("ca.pem"), NAME);
}

/* A backend metric of its listener `web` (the TLS handshakes it saw), 0 when absent. */
static double backend_metric(lg_proc_t *b, const char *name, const char *labels)
{
    lg_http_response_t *r = lg_http_get(lg_proc_admin_port(b), "/metrics", NULL);
    double v;

    cr_assert_eq(r->status, 200);
    v = lg_metric(r->body, name, labels);
    return isnan(v) ? 0 : v;
}

static double handshakes(lg_proc_t *b)
{
    return backend_metric(b, "lifeguard_tls_handshakes_total", "listener=\"web\",result=\"ok\"");
}

static double resumed(lg_proc_t *b)
{
    return backend_metric(b, "lifeguard_tls_resumed_total", "listener=\"web\"");
}

Test(uptls, verified_backend_answers_and_forwarded_headers_stay)
{
    lg_proc_t *b = tls_backend(0);
    lg_proc_t *f = front(lg_proc_port(b, "web"), verified());
    lg_http_response_t *r = lg_http_get(lg_proc_port(f, "web"), "/echo", "Host: shop.test");
    const char *xff;

    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_header(r->body, "Host"), "shop.test", "%s", r->body);
    xff = lg_echo_header(r->body, "X-Forwarded-For");
    cr_assert_not_null(xff, "%s", r->body);
    cr_assert_eq(strncmp(xff, "127.0.0.1", 9), 0, "X-Forwarded-For: %s", xff);
    /* the front's client spoke http, the TLS backend's https: the front's word is kept */
    cr_assert_not_null(lg_echo_header(r->body, "X-Forwarded-Proto"), "%s", r->body);
    lg_lifeguard_finish(f, NULL);
    lg_lifeguard_finish(b, NULL);
}

/* What the front logs and answers when the backend's certificate does not verify. */
static void expect_refused(const char *tls, const char *log_part)
{
    lg_proc_t *b = tls_backend(0);
    lg_proc_t *f = front(lg_proc_port(b, "web"), tls);
    lg_http_response_t *r = lg_http_get(lg_proc_port(f, "web"), "/", NULL);
    char *log;

    lgt_assert_status(r, 502);
    /* a backend failure like a refused connect: `fall` (3) of them in a row eject it */
    for (int i = 0; i < 2; i++)
        lg_http_get(lg_proc_port(f, "web"), "/", NULL);
    cr_assert(lg_proc_wait_log(f, 0, "ejected for 5 s after 3 failures", lg_test_timeout_ms()));
    log = lg_proc_log(f);
    cr_assert_not_null(strstr(log, "TLS handshake failed (certificate verify failed: "), "%s", log);
    cr_assert_not_null(strstr(log, log_part), "no \"%s\" in:\n%s", log_part, log);
    lg_lifeguard_finish(f, "TLS handshake failed");
    /* the backend saw a client that refused its certificate */
    lg_lifeguard_finish(b, NULL);
}

Test(uptls, wrong_ca_is_a_502_with_the_reason)
{
    expect_refused(lg_fmt("{ca: %s, server_name: %s}", lg_test_pki("rogue.pem"), NAME),
                   "unable to get local issuer certificate (depth ");
}

Test(uptls, wrong_name_is_a_502_with_the_name_expected)
{
    expect_refused(lg_fmt("{ca: %s, server_name: api.example.org}", lg_test_pki("ca.pem")),
                   "hostname mismatch (depth 0: subject \"CN=ec test leaf\", issuer \"CN=lifeguard "
                   "test intermediate\", expires ");
}

Test(uptls, verify_off_answers_without_a_ca)
{
    lg_proc_t *b = tls_backend(0);
    lg_proc_t *f = front(lg_proc_port(b, "web"), "{verify: off}");

    lgt_assert_status(lg_http_get(lg_proc_port(f, "web"), "/", NULL), 200);
    lg_lifeguard_finish(f, NULL);
    lg_lifeguard_finish(b, NULL);
}

Test(uptls, ip_backend_without_server_name_is_refused_at_load)
{
    char *out = NULL;
    int rc = lg_lifeguard_run(
        lg_yaml_text(front_conf(9, lg_fmt("{ca: %s}", lg_test_pki("ca.pem")))), "-t", &out);

    cr_assert_eq(rc, 1, "%s", out);
    cr_assert_not_null(
        strstr(out, "error: pools.app.tls: backend \"127.0.0.1:9\" is an IP address"), "%s", out);
    cr_assert_not_null(strstr(out, "set server_name"), "%s", out);
}

Test(uptls, missing_ca_file_is_refused_at_load)
{
    char *out = NULL;
    int rc = lg_lifeguard_run(
        lg_yaml_text(front_conf(9, "{ca: /nonexistent/ca.pem, server_name: " NAME "}")), "-t",
        &out);

    cr_assert_eq(rc, 1, "%s", out);
    cr_assert_not_null(strstr(out, "error: pools.app.tls.ca: "), "%s", out);
    cr_assert_not_null(strstr(out, "/nonexistent/ca.pem"), "%s", out);
}

/* A backend that requires a client certificate serves the front only when it presents one. */
Test(uptls, client_certificate_for_a_backend_that_requires_one)
{
    lg_proc_t *b = tls_backend(1);
    lg_proc_t *without = front(lg_proc_port(b, "web"), verified());
    lg_proc_t *with =
        front(lg_proc_port(b, "web"),
              lg_fmt("{ca: %s, server_name: %s, cert: %s, key: %s}", lg_test_pki("ca.pem"), NAME,
                     lg_test_pki("client.pem"), lg_test_pki("client.key")));
    lg_http_response_t *r = lg_http_get(lg_proc_port(with, "web"), "/echo", NULL);

    lgt_assert_status(r, 200);
    cr_assert_not_null(strstr(r->body, "CN=client one"), "the backend saw no client: %s", r->body);
    cr_assert_eq(lg_http_get(lg_proc_port(without, "web"), "/", NULL)->status, 502);
    /* TLS 1.3: the backend refuses after our Finished, with an alert the log names */
    cr_assert_not_null(strstr(lg_proc_log(without), "alert certificate required"), "%s",
                       lg_proc_log(without));
    lg_lifeguard_finish(with, NULL);
    lg_lifeguard_finish(without, "reading the response from", "sending the request to");
    lg_lifeguard_finish(b, NULL);
}

#define REQUESTS 6

/* Idle TLS connections are reused: the backend sees fewer handshakes than requests. */
Test(uptls, keepalive_reuses_tls_connections)
{
    lg_proc_t *b = tls_backend(0);
    lg_proc_t *f = front(lg_proc_port(b, "web"), verified());
    int ok;

    for (int i = 0; i < REQUESTS; i++)
        lgt_assert_status(lg_http_get(lg_proc_port(f, "web"), "/", NULL), 200);
    LG_WAIT_FOR(ok, handshakes(b) >= 1, lg_test_timeout_ms());
    cr_assert(ok, "the backend counted no handshake");
    cr_assert_lt(handshakes(b), REQUESTS, "%g handshakes for %d requests", handshakes(b), REQUESTS);
    lg_lifeguard_finish(f, NULL);
    lg_lifeguard_finish(b, NULL);
}

/* Without keep-alive every request is a new connection, and each after the first resumes. */
Test(uptls, new_connections_resume_the_session)
{
    lg_proc_t *b = tls_backend(0);
    lg_yaml_t *c = front_conf(lg_proc_port(b, "web"), verified());
    lg_proc_t *f;
    int ok;

    lg_yaml_set(c, "pools.app.keepalive.max_idle", "0");
    f = lg_yaml_start(c);
    for (int i = 0; i < REQUESTS; i++)
        lgt_assert_status(lg_http_get(lg_proc_port(f, "web"), "/", NULL), 200);
    LG_WAIT_FOR(ok, handshakes(b) >= REQUESTS, lg_test_timeout_ms());
    cr_assert(ok, "%g handshakes for %d requests without keep-alive", handshakes(b), REQUESTS);
    LG_WAIT_FOR(ok, resumed(b) >= REQUESTS - 1, lg_test_timeout_ms());
    cr_assert(ok, "%g of %g handshakes resumed", resumed(b), handshakes(b));
    lg_lifeguard_finish(f, NULL);
    lg_lifeguard_finish(b, NULL);
}

/* Health checks of a TLS pool go over TLS, verified like requests: up, or down with why. */
Test(uptls, health_checks_over_tls)
{
    static const struct {
        const char *server_name, *log;
    } cases[] = {
        {NAME, "is up"},
        {"api.example.org", "is not up yet: TLS: hostname mismatch"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_proc_t *b = tls_backend(0);
        lg_yaml_t *c =
            front_conf(lg_proc_port(b, "web"), lg_fmt("{ca: %s, server_name: %s}",
                                                      lg_test_pki("ca.pem"), cases[i].server_name));
        lg_proc_t *f;

        lg_yaml_set(c, "pools.app.health_check", "{type: http, path: /, interval: 1s}");
        f = lg_yaml_start(c);
        cr_assert(lg_proc_wait_log(f, 0, cases[i].log, lg_test_timeout_ms()),
                  "case %zu: no \"%s\" in:\n%s", i, cases[i].log, lg_proc_log(f));
        lg_lifeguard_finish(f, NULL);
        lg_lifeguard_finish(b, NULL);
    }
}

/* A tcp listener whose pool has tls originates TLS: plain bytes in, TLS to the backend. */
Test(uptls, tcp_listener_relays_into_tls)
{
    lg_proc_t *b = tls_backend(0);
    lg_yaml_t *c = lg_yaml_new();
    lg_proc_t *f;
    lg_http_response_t *r;

    lg_yaml_set(c, "listeners.l4.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.l4.mode", "tcp");
    lg_yaml_set(c, "listeners.l4.pool", "app");
    lg_yaml_setf(c, "pools.app.backends", "[127.0.0.1:%d]", lg_proc_port(b, "web"));
    lg_yaml_set(c, "pools.app.health_check.type", "none");
    lg_yaml_set(c, "pools.app.tls", verified());
    f = lg_yaml_start(c);
    r = lg_http_get(lg_proc_port(f, "l4"), "/echo", NULL);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_header(r->body, "X-Forwarded-Proto"), "https", "%s", r->body);
    lg_lifeguard_finish(f, NULL);
    lg_lifeguard_finish(b, NULL);
}

/* The backend closes an idle TLS connection (close_notify): the front drops it, no error. */
Test(uptls, idle_connection_closed_by_the_backend_is_dropped)
{
    lg_proc_t *b = tls_backend_idle(0, "300ms");
    lg_proc_t *f = front(lg_proc_port(b, "web"), verified());
    size_t mark;
    int ok;

    lgt_assert_status(lg_http_get(lg_proc_port(f, "web"), "/", NULL), 200);
    lg_sleep_ms(800); /* past the backend's client_idle */
    mark = lg_proc_log_mark(f);
    lgt_assert_status(lg_http_get(lg_proc_port(f, "web"), "/", NULL), 200);
    cr_assert_null(strstr(lg_proc_log(f) + mark, "retrying"), "the closed connection was used:\n%s",
                   lg_proc_log(f));
    LG_WAIT_FOR(ok, handshakes(b) >= 2, lg_test_timeout_ms());
    cr_assert_eq(handshakes(b), 2, "a new connection after the close");
    lg_lifeguard_finish(f, NULL);
    lg_lifeguard_finish(b, NULL);
}

/*
 * A backend that accepts but never answers the handshake: a 504 at timeouts.connect whose log
 * line says the handshake timed out (not the TCP connect, which succeeded), and the ejection
 * names the backend.
 */
Test(uptls, silent_backend_is_a_504_naming_the_handshake)
{
    int port, lfd = lg_raw_listen(&port); /* the kernel accepts; nobody ever answers */
    lg_yaml_t *c = front_conf(port, verified());
    lg_proc_t *f;
    char *log;

    lg_yaml_set(c, "pools.app.health_check.type", "none");
    lg_yaml_set(c, "timeouts.connect", "300ms");
    f = lg_yaml_start(c);
    for (int i = 0; i < 3; i++)
        lgt_assert_status(lg_http_get(lg_proc_port(f, "web"), "/", NULL), 504);
    cr_assert(lg_proc_wait_log(f, 0, "ejected for 5 s after 3 failures", lg_test_timeout_ms()));
    log = lg_proc_log(f);
    cr_assert_not_null(
        strstr(log, lg_fmt("TLS handshake (timeouts.connect) timed out with 127.0.0.1:%d", port)),
        "%s", log);
    cr_assert_null(strstr(log, "connect() to"), "the TCP connect did not fail:\n%s", log);
    cr_assert_not_null(strstr(log, lg_fmt("(last: TLS handshake (timeouts.connect) timed out with "
                                          "127.0.0.1:%d)",
                                          port)),
                       "%s", log);
    lg_lifeguard_finish(f, "timed out");
    LG_UNUSED(lfd); /* closed by the harness at exit */
}
