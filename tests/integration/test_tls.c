/*
 * test_tls.c - TLS termination with the real binary and real clients: our TLS client
 * (lg_client_connect_tls), curl and openssl s_client. Requests, keep-alive and pipelining,
 * large bodies both ways, WebSocket and tcp relays over TLS, X-Forwarded-Proto and the client
 * certificate's subject, plain HTTP and garbage on a TLS port, a handshake that never ends,
 * and session resumption across a reload.
 */
#include <criterion/criterion.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_test.h"
#include "lg_test_tls.h"
#include "proxy_common.h"

#define BODY (8ULL << 20)

/* One origin behind an http listener `web` with the PKI's ec certificate, plus `extra` pairs. */
static lg_fix_t tls_start(const char *extra_path, const char *extra_value)
{
    lg_proc_t *origin = lg_origin_start("--name tls");
    lg_yaml_t *c = lg_yaml_single(origin->port);

    lg_yaml_add(c, "listeners.web.tls.certificates", "{cert: %s, key: %s}", lg_test_pki("ec.pem"),
                lg_test_pki("ec.key"));
    if (extra_path != NULL)
        lg_yaml_set(c, extra_path, extra_value);
    return lg_fix_start_conf(origin, c);
}

static lg_tls_opts_t opts(void)
{
    lg_tls_opts_t o = {.sni = "www.example.com", .ca = lg_test_pki("ca.pem")};

    return o;
}

static lg_client_t *tls_connect(int port)
{
    lg_tls_opts_t o = opts();
    lg_client_t *c = lg_client_connect_tls(port, &o);

    cr_assert_not_null(c, "TLS connection failed: %s", lg_client_tls_error());
    return c;
}

Test(tls, request_is_forwarded_as_https)
{
    lg_fix_t f = tls_start(NULL, NULL);
    lg_client_t *c = tls_connect(f.port);
    lg_http_response_t *r =
        lg_client_request(c, "GET", "/echo", "X-Client-Cert-Subject: CN=forged", NULL, 0);

    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_header(r->body, "X-Forwarded-Proto"), "https", "%s", r->body);
    cr_assert_null(strstr(r->body, "forged"), "a client's own subject reached the backend");
    lg_fix_finish(&f, NULL);
}

/* Keep-alive and pipelining work over TLS as over TCP: one connection, answers in order. */
Test(tls, keepalive_and_pipelining)
{
    lg_fix_t f = tls_start(NULL, NULL);
    lg_client_t *c = tls_connect(f.port);
    static const char *const reqs[] = {
        "GET /size/3 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /size/5 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /size/7 HTTP/1.1\r\nHost: x\r\n\r\n",
    };

    for (int i = 0; i < 3; i++)
        lgt_assert_status(lg_client_request(c, "GET", "/", NULL, NULL, 0), 200);
    cr_assert_eq(lg_client_send_pipelined(c, reqs, 3), 0);
    for (int i = 0; i < 3; i++) {
        lg_http_response_t *r = lg_client_read(c, 0);

        lgt_assert_status(r, 200);
        cr_assert_eq(r->body_len, (size_t)(3 + 2 * i), "response %d out of order", i);
    }
    lg_fix_finish(&f, NULL);
}

/* Bodies stream both ways through the TLS object (no splice), checked byte for byte. */
Test(tls, large_bodies_both_ways, .timeout = 120)
{
    lg_fix_t f = tls_start(NULL, NULL);

    lgt_bodies_both_ways(tls_connect(f.port), BODY);
    lg_fix_finish(&f, NULL);
}

/* A WebSocket upgrade over TLS: the 101, then bytes both ways through the tunnel. */
Test(tls, websocket_over_tls)
{
    lg_fix_t f = tls_start(NULL, NULL);
    lg_client_t *c = tls_connect(f.port);
    lg_http_response_t *r;
    char *rest;

    cr_assert_eq(lg_client_sendf(c, "GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\n\r\nearly"),
                 0);
    r = lg_client_read(c, LG_READ_HEAD);
    lgt_assert_status(r, 101);
    cr_assert_eq(lg_client_send(c, " and more", 9), 0);
    lg_client_shutdown(c);
    rest = lg_client_read_until_close(c, NULL);
    cr_assert_str_eq(rest, "early and more");
    lg_fix_finish(&f, NULL);
}

/* Plain HTTP on a TLS port gets a plain-text 400 that says so, then a close; logged as a 400. */
Test(tls, plain_http_gets_a_400_that_explains)
{
    lg_fix_t f = tls_start("log.access", "stdout");
    lg_client_t *c = lg_client_connect(f.port);
    lg_http_response_t *r = lg_client_request(c, "GET", "/", NULL, NULL, 0);

    lgt_assert_status(r, 400);
    cr_assert_not_null(strstr(r->body, "plain HTTP was sent to an HTTPS port"), "%s", r->body);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    cr_assert(lg_proc_wait_log(f.lg, 0, "client sent plain HTTP to the TLS listener web",
                               lg_test_timeout_ms()));
    cr_assert_eq(lg_proc_stop(f.lg), 0); /* the access log is written on the way out */
    cr_assert_not_null(strstr(lg_proc_access_log(f.lg), "\"-\" 400 55 "), "%s",
                       lg_proc_access_log(f.lg));
    lg_fix_finish(&f, NULL);
}

/* Bytes that are no ClientHello: a close, an info line with OpenSSL's reason; serving goes on. */
Test(tls, garbage_is_closed_and_logged)
{
    lg_fix_t f = tls_start(NULL, NULL);
    lg_client_t *c = lg_client_connect(f.port);

    cr_assert_eq(lg_client_send(c, "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x7f", 10), 0);
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()));
    cr_assert(lg_proc_wait_log(
        f.lg, 0, "TLS handshake with 127.0.0.1 on listener web failed:", lg_test_timeout_ms()));
    lgt_assert_status(lg_client_request(tls_connect(f.port), "GET", "/", NULL, NULL, 0), 200);
    lg_fix_finish(&f, NULL);
}

/* A handshake that never finishes is closed at timeouts.client_header. */
Test(tls, a_silent_client_is_closed_at_client_header)
{
    lg_fix_t f = tls_start("timeouts.client_header", "1s");
    lg_client_t *c = lg_client_connect(f.port);

    cr_assert_eq(lg_client_send(c, "\x16\x03\x01", 3), 0); /* a record header, then nothing */
    cr_assert(lg_client_wait_close(c, lg_test_timeout_ms()), "still open");
    cr_assert(
        lg_proc_wait_log(f.lg, 0, "client timed out in the TLS handshake", lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* curl, a third-party client, verifies the chain and the name. */
Test(tls, curl_verifies_and_gets_an_answer)
{
    lg_fix_t f = tls_start(NULL, NULL);
    char *out = NULL;
    int rc = lg_run_capture(
        lg_fmt("curl -sS --cacert %s --resolve www.example.com:%d:127.0.0.1 "
               "-w ' %%{http_code} %%{ssl_verify_result}' https://www.example.com:%d/",
               lg_test_pki("ca.pem"), f.port, f.port),
        &out);

    cr_assert_eq(rc, 0, "curl failed: %s", out);
    cr_assert_str_eq(out, "tls\n 200 0");
    lg_fix_finish(&f, NULL);
}

/* ---- client certificates */

static lg_fix_t mtls_start(const char *verify)
{
    return tls_start("listeners.web.tls.client_auth",
                     lg_fmt("{ca: %s, verify: %s}", lg_test_pki("ca.pem"), verify));
}

static lg_client_t *mtls_connect(int port, const char *name)
{
    lg_tls_opts_t o = opts();

    if (name != NULL) {
        o.cert = lg_test_pki(lg_fmt("%s.pem", name));
        o.key = lg_test_pki(lg_fmt("%s.key", name));
    }
    return lg_client_connect_tls(port, &o);
}

/* The subject the backend sees, "" when the header is absent; NULL when the request failed. */
static const char *subject_seen(lg_client_t *c)
{
    lg_http_response_t *r;
    const char *s;

    if (c == NULL)
        return NULL;
    r = lg_client_request(c, "GET", "/echo", "X-Client-Cert-Subject: CN=forged", NULL, 0);
    if (r == NULL || r->status != 200)
        return NULL;
    s = lg_echo_header(r->body, "X-Client-Cert-Subject");
    return s != NULL ? s : "";
}

Test(tls, client_certificate_required)
{
    lg_fix_t f = mtls_start("required");
    const char *s = subject_seen(mtls_connect(f.port, "client"));

    cr_assert_not_null(s, "a verified client was refused");
    cr_assert_not_null(strstr(s, "CN=client one"), "subject: %s", s);
    /* TLS 1.3 sends the refusal after the client's Finished: the first request then fails */
    cr_assert_null(subject_seen(mtls_connect(f.port, NULL)), "no certificate, yet served");
    cr_assert_null(subject_seen(mtls_connect(f.port, "rogue")), "an unknown issuer, yet served");
    lg_fix_finish(&f, NULL);
}

Test(tls, client_certificate_optional)
{
    lg_fix_t f = mtls_start("optional");
    const char *s = subject_seen(mtls_connect(f.port, "client"));

    cr_assert_not_null(strstr(s, "CN=client one"), "subject: %s", s);
    cr_assert_str_eq(subject_seen(mtls_connect(f.port, NULL)), "", "no certificate: no subject");
    lg_fix_finish(&f, NULL);
}

/* ---- tcp listeners with tls: TLS offload for any protocol */

Test(tls, tcp_listener_offloads_tls)
{
    lg_proc_t *origin = lg_origin_start("--name raw");
    lg_yaml_t *c = lg_yaml_new();
    lg_fix_t f;
    lg_client_t *cl;
    lg_http_response_t *r;

    lg_yaml_set(c, "listeners.web.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.web.mode", "tcp");
    lg_yaml_set(c, "listeners.web.pool", "app");
    lg_yaml_add(c, "listeners.web.tls.certificates", "{cert: %s, key: %s}", lg_test_pki("rsa.pem"),
                lg_test_pki("rsa.key"));
    lg_yaml_set(c, "pools.app.health_check", "{type: none}");
    lg_yaml_add(c, "pools.app.backends", "{address: 127.0.0.1:%d}", origin->port);
    f = lg_fix_start_conf(origin, c);
    cl = tls_connect(f.port);
    r = lg_client_request(cl, "GET", "/echo", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    /* the backend got the client's bytes as they were: no header added by lifeguard */
    cr_assert_null(lg_echo_header(r->body, "X-Forwarded-For"), "%s", r->body);
    lg_fix_finish(&f, NULL);
}

/* ---- session resumption: keys from the master survive a reload */

/*
 * openssl s_client once, resuming from the session file `in` (NULL: none) and saving the
 * session it ends with to `out`, with a request whose answer closes the connection (so that a
 * TLS 1.3 ticket, sent after the handshake, is always read); whether it "Reused".
 */
static int s_client_reused(int port, const char *version, const char *in, const char *out)
{
    char *text = NULL;

    lg_run_capture(
        lg_fmt("printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | "
               "openssl s_client -ign_eof -connect 127.0.0.1:%d -servername "
               "www.example.com -CAfile %s -%s %s%s -sess_out %s 2>&1",
               port, lg_test_pki("ca.pem"), version, in != NULL ? "-sess_in " : "",
               in != NULL ? in : "", out),
        &text);
    cr_assert_not_null(strstr(text, "Verify return code: 0 (ok)"), "%s", text);
    return strstr(text, "Reused,") != NULL;
}

/*
 * Each resumed connection gets a fresh session to resume the next one with (TLS 1.3 clients
 * use a ticket once), and the master's ticket keys survive a reload.
 */
Test(tls, sessions_resume_across_a_reload, .timeout = 60)
{
    static const char *const versions[] = {"tls1_2", "tls1_3"};
    lg_fix_t f = tls_start(NULL, NULL);
    char *dir = lg_test_tempdir();

    for (size_t i = 0; i < LG_NELEMS(versions); i++) {
        const char *v = versions[i], *sess[5];
        size_t mark;

        for (int k = 0; k < 5; k++)
            sess[k] = lg_fmt("%s/%s.%d.sess", dir, v, k);
        cr_assert_not(s_client_reused(f.port, v, NULL, sess[0]), "a first handshake reused");
        /* TLS 1.3: each ticket once, the next from the resumed connection; TLS 1.2: one ticket */
        for (int k = 1; k < 4; k++) {
            const char *in = i == 1 ? sess[k - 1] : sess[0];

            cr_assert(s_client_reused(f.port, v, in, i == 1 ? sess[k] : sess[0]),
                      "%s: resumption %d in a row failed", v, k);
        }
        mark = lg_proc_log_mark(f.lg);
        cr_assert_eq(lg_proc_signal(f.lg, SIGHUP), 0);
        cr_assert(lg_proc_wait_log(f.lg, mark, "reloaded: generation", lg_test_timeout_ms()));
        cr_assert(s_client_reused(f.port, v, i == 1 ? sess[3] : sess[0], sess[4]),
                  "%s: not resumed after a reload", v);
    }
    lg_fix_finish(&f, NULL);
}
