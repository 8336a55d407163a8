/*
 * test_sni.c - TLS passthrough: a tcp listener with routes reads the ClientHello without
 * terminating TLS and relays the connection to the pool of the route of its server name. The
 * backends are lifeguards that terminate TLS themselves, each with its own certificate of the
 * test PKI and its own answer; curl and openssl s_client verify which one they reached.
 */
#include <stdio.h>
#include <string.h>

#include "lg_test_tls.h"
#include "proxy_common.h"

/* A lifeguard that terminates TLS with the PKI's NAME.pem and answers "backend ID". */
static lg_proc_t *tls_backend(const char *pem, const char *id)
{
    lg_yaml_t *c = lg_yaml_new();

    lg_yaml_set(c, "listeners.web.listen", "127.0.0.1:0");
    lg_yaml_add(c, "listeners.web.tls.certificates", "{cert: %s, key: %s}",
                lg_test_pki(lg_fmt("%s.pem", pem)), lg_test_pki(lg_fmt("%s.key", pem)));
    lg_yaml_add(c, "listeners.web.routes", "{respond: {status: 200, body: \"backend %s\\n\"}}", id);
    return lg_yaml_start(c);
}

typedef struct sni_fix {
    lg_proc_t *be[3]; /* a: www.example.com (ec), b: *.example.org (wild), c: api.example.org */
    lg_proc_t *lg;
    int port;   /* listener pass: a by name, b by wildcard, c for everything else */
    int strict; /* listener strict: a by name only, no catch-all */
} sni_fix_t;

static sni_fix_t sni_start(const char *key, const char *value)
{
    static const char *const pem[] = {"ec", "wild", "exact"}, *const id[] = {"a", "b", "c"};
    lg_yaml_t *c = lg_yaml_new();
    sni_fix_t f;

    for (int i = 0; i < 3; i++) {
        f.be[i] = tls_backend(pem[i], id[i]);
        lg_yaml_set(c, lg_fmt("pools.%s.health_check", id[i]), "{type: none}");
        lg_yaml_add(c, lg_fmt("pools.%s.backends", id[i]), "127.0.0.1:%d",
                    lg_proc_port(f.be[i], "web"));
    }
    lg_yaml_set(c, "log.access", "stdout");
    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.pass.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.pass.mode", "tcp");
    lg_yaml_add(c, "listeners.pass.routes", "{sni: WWW.example.com, pool: a}");
    lg_yaml_add(c, "listeners.pass.routes", "{sni: \"*.example.org\", pool: b}");
    lg_yaml_add(c, "listeners.pass.routes", "{pool: c}");
    lg_yaml_set(c, "listeners.strict.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.strict.mode", "tcp");
    lg_yaml_add(c, "listeners.strict.routes", "{sni: www.example.com, pool: a}");
    if (key != NULL)
        lg_yaml_set(c, key, value);
    f.lg = lg_yaml_start(c);
    f.port = lg_proc_port(f.lg, "pass");
    f.strict = lg_proc_port(f.lg, "strict");
    return f;
}

static void sni_finish(sni_fix_t *f)
{
    lg_lifeguard_finish(f->lg, NULL);
    for (int i = 0; i < 3; i++)
        lg_lifeguard_finish(f->be[i], NULL);
}

/* lifeguard_connections_dropped_total of a listener for `reason`. */
static double dropped(const sni_fix_t *f, const char *listener, const char *reason)
{
    lg_http_response_t *r = lg_http_get(lg_proc_admin_port(f->lg), "/metrics", NULL);

    cr_assert_eq(r->status, 200);
    return lg_metric(r->body, "lifeguard_connections_dropped_total",
                     lg_fmt("listener=\"%s\",reason=\"%s\"", listener, reason));
}

/* curl to https://NAME:PORT/ with the test CA: its output (body), "" when it failed. */
static char *curl_get(const char *name, int port)
{
    char *out;
    int rc = lg_run_capture(lg_fmt("curl -sS --max-time 10 --cacert %s --resolve %s:%d:127.0.0.1 "
                                   "https://%s:%d/ 2>&1",
                                   lg_test_pki("ca.pem"), name, port, name, port),
                            &out);

    return rc == 0 ? out : lg_fmt("curl failed (%d): %s", rc, out);
}

/* The subject of the certificate openssl s_client sees with `sni_args`. */
static char *s_client_subject(int port, const char *sni_args)
{
    char *out;

    lg_run_capture(lg_fmt("openssl s_client -connect 127.0.0.1:%d %s </dev/null 2>/dev/null | "
                          "grep '^subject='",
                          port, sni_args),
                   &out);
    return out;
}

Test(sni, routes_by_server_name_exact_wildcard_and_catch_all, .timeout = 60)
{
    sni_fix_t f = sni_start(NULL, NULL);
    const char *log;
    int ok;

    /* curl verifies the chain and the name: each backend's own certificate reached it */
    cr_assert_str_eq(curl_get("www.example.com", f.port), "backend a\n");
    cr_assert_str_eq(curl_get("x.example.org", f.port), "backend b\n");
    cr_assert_str_eq(curl_get("api.example.org", f.port), "backend b\n", "wildcard before c");
    cr_assert_str_eq(curl_get("www.example.com", f.strict), "backend a\n");
    /* names in any case, with the trailing dot; no name at all, or an unknown one: catch-all */
    cr_assert(strstr(s_client_subject(f.port, "-servername WWW.Example.COM."), "CN = ec test"),
              "%s", s_client_subject(f.port, "-servername WWW.Example.COM."));
    cr_assert(strstr(s_client_subject(f.port, "-servername Y.EXAMPLE.ORG"), "CN = wild test"));
    cr_assert(strstr(s_client_subject(f.port, "-noservername"), "CN = exact test"), "%s",
              s_client_subject(f.port, "-noservername"));
    cr_assert(strstr(s_client_subject(f.port, "-servername other.example.net"), "CN = exact"));
    /* the access line of a passthrough names the server name it was routed on */
    LG_WAIT_FOR(ok,
                strstr(log = lg_proc_access_log(f.lg), " pass b/127.0.0.1:") != NULL &&
                    strstr(log, "sni=x.example.org") != NULL &&
                    strstr(log, "sni=www.example.com\n") != NULL,
                lg_test_timeout_ms());
    cr_assert(ok, "%s", lg_proc_access_log(f.lg));
    sni_finish(&f);
}

/* No route for the name, or no name, and no catch-all: closed, logged. */
Test(sni, no_route_is_closed_and_logged, .timeout = 60)
{
    sni_fix_t f = sni_start(NULL, NULL);

    cr_assert(strstr(curl_get("x.example.org", f.strict), "curl failed"));
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "listener strict has no route for the server name "
                               "x.example.org from client 127.0.0.1: closed",
                               lg_test_timeout_ms()));
    cr_assert_eq(s_client_subject(f.strict, "-noservername")[0], '\0');
    cr_assert(lg_proc_wait_log(f.lg, 0, "listener strict has no route for no server name",
                               lg_test_timeout_ms()));
    cr_assert_eq(dropped(&f, "strict", "no_route"), 2);
    cr_assert_eq(dropped(&f, "strict", "client_hello"), 0);
    sni_finish(&f);
}

/* Bytes that are not TLS go to the catch-all as they are (backend c answers them as plain HTTP
   on its TLS port); without a catch-all they are closed. */
Test(sni, non_tls_bytes_go_to_the_catch_all_or_are_closed, .timeout = 60)
{
    sni_fix_t f = sni_start(NULL, NULL);
    lg_client_t *cl = lg_client_connect(f.port);
    size_t len = 0;
    char *all;

    cr_assert_eq(lg_client_sendf(cl, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    all = lg_client_read_until_close(cl, &len);
    cr_assert(all != NULL && strstr(all, "HTTP/1.1 400") == all, "%s", all ? all : "(null)");
    cr_assert(lg_proc_wait_log(f.be[2], 0, "client sent plain HTTP to the TLS listener web",
                               lg_test_timeout_ms()));
    lg_client_close(cl);
    cl = lg_client_connect(f.strict);
    cr_assert_eq(lg_client_sendf(cl, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    all = lg_client_read_until_close(cl, &len);
    cr_assert_eq(len, 0, "%s", all);
    cr_assert(lg_proc_wait_log(f.lg, 0, "listener strict has no route for not TLS",
                               lg_test_timeout_ms()));
    lg_client_close(cl);
    sni_finish(&f);
}

/* Malformed hellos are closed (the connection only: the worker goes on serving). */
Test(sni, malformed_hellos_are_closed, .timeout = 60)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        /* a hello whose session id length runs past the message */
        {"\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03"
         "0123456789abcdef0123456789abcdef"
         "\xff\x00\x00\x00",
         47},
        /* server_name with a NUL in the name */
        {"\x16\x03\x01\x00\x3d\x01\x00\x00\x39\x03\x03"
         "0123456789abcdef0123456789abcdef"
         "\x00\x00\x02\x13\x01\x01\x00\x00\x0e\x00\x00\x00\x0a\x00\x08\x00\x00\x05"
         "a\0b.x",
         66},
        /* a record that is not a handshake after an incomplete hello */
        {"\x16\x03\x01\x00\x04\x01\x00\x01\x00\x17\x03\x03\x00\x01\x00", 15},
    };
    sni_fix_t f = sni_start(NULL, NULL);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t mark = lg_proc_log_mark(f.lg), len = 0;
        lg_client_t *cl = lg_client_connect(f.port);
        char *all;

        cr_assert_eq(lg_client_send(cl, bad[i].bytes, bad[i].len), 0);
        all = lg_client_read_until_close(cl, &len);
        cr_assert_eq(len, 0, "case %zu: %s", i, all);
        cr_assert(lg_proc_wait_log(f.lg, mark, "sent a malformed ClientHello to the listener pass",
                                   lg_test_timeout_ms()),
                  "case %zu", i);
        lg_client_close(cl);
    }
    cr_assert_str_eq(curl_get("www.example.com", f.port), "backend a\n");
    cr_assert_eq(dropped(&f, "pass", "client_hello"), (double)(sizeof(bad) / sizeof(bad[0])));
    cr_assert_eq(dropped(&f, "pass", "no_route"), 0);
    sni_finish(&f);
}

/*
 * A hello that does not finish arriving is closed at timeouts.client_header; one whose client
 * goes away is dropped. Both lines name the client and the listener.
 */
Test(sni, a_slow_hello_is_closed_at_client_header, .timeout = 60)
{
    sni_fix_t f = sni_start("timeouts.client_header", "1s");
    lg_client_t *cl = lg_client_connect(f.port);

    cr_assert_eq(lg_client_send(cl, "\x16\x03\x01\x01\x00\x01\x00", 7), 0);
    cr_assert_eq(lg_client_wait_close(cl, lg_test_timeout_ms()), 1);
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "client 127.0.0.1 sent no complete ClientHello within "
                               "timeouts.client_header to the listener pass: closed",
                               lg_test_timeout_ms()));
    lg_client_close(cl);
    cl = lg_client_connect(f.port);
    cr_assert_eq(lg_client_send(cl, "\x16\x03\x01\x01\x00\x01\x00", 7), 0);
    lg_client_close(cl);
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "client 127.0.0.1 closed the connection to the listener pass "
                               "before a complete ClientHello",
                               lg_test_timeout_ms()),
              "%s", lg_proc_log(f.lg));
    cr_assert_eq(dropped(&f, "pass", "client_hello"), 2, "the timeout and the client gone");
    cr_assert_str_eq(curl_get("x.example.org", f.port), "backend b\n");
    sni_finish(&f);
}

/* What the hello reader took goes first, the rest is relayed (spliced) both ways: a plain HTTP
   client sent to an lg-origin catch-all uploads and downloads megabytes intact. */
Test(sni, bytes_read_first_and_the_rest_arrive_intact, .timeout = 120)
{
    lg_proc_t *o = lg_origin_start("--name o");
    lg_yaml_t *c = lg_yaml_new();
    const uint64_t up = 8 * MIB, down = 32 * MIB;
    lg_http_response_t *r;
    lg_client_t *cl;
    lg_proc_t *lg;

    lg_yaml_set(c, "listeners.pass.listen", "127.0.0.1:0");
    lg_yaml_set(c, "listeners.pass.mode", "tcp");
    lg_yaml_add(c, "listeners.pass.routes", "{sni: x.example, pool: o}");
    lg_yaml_add(c, "listeners.pass.routes", "{pool: o}");
    lg_yaml_set(c, "pools.o.health_check", "{type: none}");
    lg_yaml_add(c, "pools.o.backends", "127.0.0.1:%d", o->port);
    lg = lg_yaml_start(c);
    cl = lg_client_connect(lg_proc_port(lg, "pass"));
    lg_client_set_timeout(cl, 60000);
    cr_assert_eq(lg_client_sendf(cl,
                                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n",
                                 (unsigned long long)up),
                 0);
    cr_assert_eq(lg_client_send_pattern(cl, 0, up), 0);
    r = lg_client_read(cl, 0);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), lg_fmt("%llu", (unsigned long long)up));
    cr_assert_str_eq(lg_echo_field(r->body, "body-fnv1a64"), lgt_hex(lg_pattern_checksum(up)));
    r = lg_client_request(cl, "GET", lg_fmt("/size/%llu", (unsigned long long)down), NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->body_len, down);
    cr_assert_eq(r->body_sum, lg_pattern_checksum(down));
    lg_client_close(cl);
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(o);
}
