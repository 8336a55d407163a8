/*
 * test_answers.c - routes that answer without a backend: `redirect` (every status, the
 * variables expanded into an exact Location, first match wins against pool routes, the
 * HTTP -> HTTPS one-liner) and `respond` (body, content type, HEAD, 204), over HTTP/1.1,
 * HTTP/1.0, h2c and TLS h2; a request body to such a route and keep-alive after it; the
 * access log line and the request counters; a rate_limit on such a route.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lg_test.h"
#include "lg_test_tls.h"

#define SNI "www.example.com"

/* The target every redirect route of answers_start() writes: every variable, some twice. */
#define TO "{scheme}://{host}/to{path}?q={query}&u={uri}"

/*
 * lg-origin behind listener `web` (http2: on, so h2c too) whose routes are: /pool/ to the
 * pool, then a redirect /rNNN/ for each status, /ping answered "pong", /nothing answered
 * 204, /pool/ again as a redirect (never reached: the first match wins), and last the
 * catch-all pool route. Access log as JSON on stdout, an admin listener.
 */
static lg_fix_t answers_start(void)
{
    static const char *const codes[] = {"301", "302", "303", "307", "308"};
    lg_proc_t *origin = lg_origin_start("--name app");
    lg_yaml_t *c = lg_yaml_single(origin->port);

    /* each put first, in reverse: lg_yaml_single's catch-all route to the pool stays last */
    lg_yaml_add_first(c, "listeners.web.routes", "{path_prefix: /pool/, redirect: {to: /never}}");
    lg_yaml_add_first(c, "listeners.web.routes", "{path_prefix: /nothing, respond: {status: 204}}");
    lg_yaml_add_first(
        c, "listeners.web.routes",
        "{path_prefix: /ping, respond: {body: \"pong\\n\", content_type: text/x-pong}}");
    for (size_t i = LG_NELEMS(codes); i-- > 0;)
        lg_yaml_add_first(c, "listeners.web.routes",
                          "{path_prefix: /r%s/, redirect: {to: \"" TO "\", status: %s}}", codes[i],
                          codes[i]);
    lg_yaml_add_first(c, "listeners.web.routes", "{path_prefix: /pool/, pool: app}");
    lg_yaml_set(c, "listeners.web.http2", "on");
    lg_yaml_set(c, "log.access", "stdout");
    lg_yaml_set(c, "log.access_format", "json");
    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    return lg_fix_start_conf(origin, c);
}

static char *run(const char *cmd)
{
    char *out = NULL;

    lg_run_capture(cmd, &out);
    return out != NULL ? out : "";
}

/* A response that must have `status` and the Location `loc` (NULL: none). */
static void expect(const lg_http_response_t *r, int status, const char *loc)
{
    const char *got = lg_http_header(r, "Location");

    cr_assert_eq(r->error, LG_HTTP_OK, "%s", lg_http_error_name(r->error));
    cr_assert_eq(r->status, status, "status %d, want %d:\n%s", r->status, status, r->head);
    if (loc == NULL) {
        cr_assert_null(got, "%s", r->head);
        return;
    }
    cr_assert_not_null(got, "no Location:\n%s", r->head);
    cr_assert_str_eq(got, loc);
    cr_assert_eq(lg_http_header_count(r, "Location"), 1);
}

Test(answers, redirect_statuses_expand_every_variable, .timeout = 60)
{
    static const struct {
        int status;
        const char *reason;
    } cases[] = {
        {301, "Moved Permanently"},  {302, "Found"},
        {303, "See Other"},          {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
    };
    lg_fix_t f = answers_start();
    lg_client_t *cl = lg_client_connect(f.port);

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        int s = cases[i].status;
        lg_http_response_t *r =
            lg_client_request(cl, i % 2 ? "POST" : "GET", lg_fmt("/r%d/a%%20b/./c?x=1&y", s),
                              "Host: Shop.Example:8080", "", 0);

        expect(r, s,
               lg_fmt("http://Shop.Example/to/r%d/a%%20b/c?q=x=1&y&u=/r%d/a%%20b/c?x=1&y", s, s));
        cr_assert_str_eq(r->reason, cases[i].reason);
        cr_assert_eq(r->closed, 0, "keep-alive ends after a %d", s);
    }
    /* no query: {query} is empty */
    expect(lg_client_request(cl, "GET", "/r308/p", "Host: h.test", NULL, 0), 308,
           "http://h.test/to/r308/p?q=&u=/r308/p");
    lg_client_close(cl);
    lg_fix_finish(&f, NULL);
}

/* The first route that matches answers: a pool route before a redirect, a redirect before the
 * catch-all pool route; what goes to the pool still reaches the backend. */
Test(answers, first_match_wins_between_redirect_and_pool, .timeout = 60)
{
    lg_fix_t f = answers_start();
    lg_http_response_t *r;

    r = lg_http_get(f.port, "/pool/x", NULL);
    expect(r, 200, NULL);
    cr_assert_str_eq(lg_http_header(r, "X-Origin"), "app");
    expect(lg_http_get(f.port, "/r302/x", "Host: a.test"), 302,
           "http://a.test/to/r302/x?q=&u=/r302/x");
    r = lg_http_get(f.port, "/elsewhere", NULL);
    expect(r, 200, NULL);
    cr_assert_str_eq(lg_http_header(r, "X-Origin"), "app");
    lg_fix_finish(&f, NULL);
}

/*
 * HTTP/1.0: the redirect closes (no keep-alive asked); without a Host, {host} has nothing to
 * name: 500, never a Location such as "http:///"; nor is a Location over 8 KiB written.
 */
Test(answers, http10_redirect_and_no_host, .timeout = 60)
{
    lg_fix_t f = answers_start();
    lg_client_t *cl = lg_client_connect(f.port);
    lg_http_response_t *r;

    lg_client_sendf(cl, "GET /r301/old?k=v HTTP/1.0\r\nHost: v10.test\r\n\r\n");
    r = lg_client_read(cl, 0);
    expect(r, 301, "http://v10.test/to/r301/old?q=k=v&u=/r301/old?k=v");
    cr_assert(lg_client_wait_close(cl, lg_test_timeout_ms()));
    cl = lg_client_connect(f.port);
    lg_client_sendf(cl, "GET /r301/old HTTP/1.0\r\n\r\n");
    r = lg_client_read(cl, 0);
    expect(r, 500, NULL);
    cr_assert(lg_proc_wait_log(f.lg, 0,
                               "redirect target cannot be written (the request names no host)",
                               lg_test_timeout_ms()));
    /* a Location over 8 KiB is not written either */
    r = lg_http_get(f.port, lg_fmt("/r302/%05000d", 0), "Host: long.test");
    expect(r, 500, NULL);
    cr_assert(lg_proc_wait_log(f.lg, 0, "redirect target cannot be written (too long",
                               lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

Test(answers, respond_body_content_type_head_and_204, .timeout = 60)
{
    lg_fix_t f = answers_start();
    lg_client_t *cl = lg_client_connect(f.port);
    lg_http_response_t *r;

    r = lg_client_request(cl, "GET", "/ping", NULL, NULL, 0);
    expect(r, 200, NULL);
    cr_assert_str_eq(r->body, "pong\n");
    cr_assert_str_eq(lg_http_header(r, "Content-Type"), "text/x-pong");
    cr_assert_eq(r->content_length, 5);
    r = lg_client_request(cl, "HEAD", "/ping", NULL, NULL, 0);
    expect(r, 200, NULL);
    cr_assert_eq(r->content_length, 5);
    cr_assert_eq(r->body_len, 0);
    /* nothing of a body came after the HEAD answer: the next response is read whole */
    r = lg_client_request(cl, "GET", "/nothing", NULL, NULL, 0);
    expect(r, 204, NULL);
    cr_assert_null(lg_http_header(r, "Content-Length"), "%s", r->head);
    cr_assert_null(lg_http_header(r, "Content-Type"), "%s", r->head);
    r = lg_client_request(cl, "GET", "/ping", NULL, NULL, 0);
    cr_assert_str_eq(r->body, "pong\n");
    cr_assert_eq(r->closed, 0);
    lg_client_close(cl);
    lg_fix_finish(&f, NULL);
}

/*
 * POST /ping with Content-Length `length` and the body bytes `sent`, head and body in one write:
 * the answer must be "pong" with Connection `conn`.
 */
static void post_ping(lg_client_t *cl, size_t length, const char *sent, const char *conn)
{
    lg_http_response_t *r;

    cr_assert_eq(lg_client_sendf(cl,
                                 "POST /ping HTTP/1.1\r\nHost: k.test\r\nContent-Length: %zu\r\n"
                                 "\r\n%s",
                                 length, sent),
                 0);
    r = lg_client_read(cl, 0);
    expect(r, 200, NULL);
    cr_assert_str_eq(r->body, "pong\n");
    cr_assert_str_eq(lg_http_header(r, "Connection"), conn);
}

/*
 * A POST with a body to a respond route, sent whole in one write, then more requests on the
 * same connection: the body was read with the head and dropped, the connection stays.
 */
Test(answers, post_body_then_keepalive, .timeout = 60)
{
    lg_fix_t f = answers_start();
    lg_client_t *cl = lg_client_connect(f.port);
    const char *body = "field=value&other=thing";
    lg_http_response_t *r;

    post_ping(cl, strlen(body), body, "keep-alive");
    r = lg_client_request(cl, "GET", "/r307/next", "Host: k.test", NULL, 0);
    expect(r, 307, "http://k.test/to/r307/next?q=&u=/r307/next");
    r = lg_client_request(cl, "GET", "/pool/after", NULL, NULL, 0);
    expect(r, 200, NULL);
    cr_assert_eq(r->closed, 0);
    lg_client_close(cl);
    lg_fix_finish(&f, NULL);
}

/*
 * A body still on its way when the route answers (as for a 404): the answer says
 * Connection: close and the connection ends after it, whatever the client still sends.
 */
Test(answers, unread_body_closes_after_the_answer, .timeout = 60)
{
    lg_fix_t f = answers_start();
    lg_client_t *cl = lg_client_connect(f.port);

    post_ping(cl, 100000, "partial", "close");
    lg_client_send_pattern(cl, 0, 1000);
    cr_assert(lg_client_wait_close(cl, lg_test_timeout_ms()));
    lg_fix_finish(&f, NULL);
}

/* The same answers over h2c (prior knowledge): fields in HEADERS, the body as DATA. */
Test(answers, h2c_redirect_and_respond, .timeout = 60)
{
    lg_fix_t f = answers_start();
    char *out = run(lg_fmt("curl -sS --http2-prior-knowledge -D - "
                           "'http://127.0.0.1:%d/r303/h2?z=9' -H 'Host: two.test'",
                           f.port));

    cr_assert_not_null(strstr(out, "HTTP/2 303 \r\n"), "%s", out);
    cr_assert_not_null(
        strstr(out, "\r\nlocation: http://two.test/to/r303/h2?q=z=9&u=/r303/h2?z=9\r\n"), "%s",
        out);
    out = run(lg_fmt("curl -sS --http2-prior-knowledge -D - http://127.0.0.1:%d/ping", f.port));
    cr_assert_not_null(strstr(out, "HTTP/2 200 \r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\ncontent-type: text/x-pong\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\ncontent-length: 5\r\n"), "%s", out);
    cr_assert(strlen(out) > 5 && strcmp(out + strlen(out) - 7, "\r\npong\n") == 0, "%s", out);
    out = run(lg_fmt("curl -sS --http2-prior-knowledge -I http://127.0.0.1:%d/ping", f.port));
    cr_assert_not_null(strstr(out, "HTTP/2 200 \r\n"), "%s", out);
    out = run(lg_fmt("curl -sS --http2-prior-knowledge -d 'a=b' http://127.0.0.1:%d/ping", f.port));
    cr_assert_str_eq(out, "pong\n");
    lg_fix_finish(&f, NULL);
}

/* Each answer has its access log line (status, bytes, no pool, no upstream) and is counted. */
Test(answers, access_log_and_metrics, .timeout = 60)
{
    lg_fix_t f = answers_start();
    int aport = lg_proc_admin_port(f.lg), ok;
    const char *line = "\"method\":\"GET\",\"path\":\"/r308/logged\",\"protocol\":\"HTTP/1.1\","
                       "\"status\":308,\"bytes\":23,";
    const char *pong = "\"path\":\"/ping\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":5,";
    char *log;

    expect(lg_http_get(f.port, "/r308/logged", "Host: l.test"), 308,
           "http://l.test/to/r308/logged?q=&u=/r308/logged");
    expect(lg_http_get(f.port, "/ping", NULL), 200, NULL);
    LG_WAIT_FOR(ok, strstr(lg_proc_access_log(f.lg), pong) != NULL, lg_test_timeout_ms());
    log = lg_proc_access_log(f.lg);
    cr_assert(ok, "%s", log);
    cr_assert_not_null(strstr(log, line), "%s", log);
    cr_assert_eq(lg_log_count(log, "\"upstream\":\"\",\"upstream_ms\":-1,\"pool\":\"\""), 2, "%s",
                 log);
    LG_WAIT_FOR(ok,
                lg_metric(lg_http_get(aport, "/metrics", NULL)->body, "lifeguard_requests_total",
                          "listener=\"web\",code=\"3xx\",protocol=\"HTTP/1.1\"") == 1,
                lg_test_timeout_ms());
    cr_assert(ok);
    cr_assert_eq(lg_metric(lg_http_get(aport, "/metrics", NULL)->body, "lifeguard_requests_total",
                           "listener=\"web\",code=\"2xx\",protocol=\"HTTP/1.1\""),
                 1);
    lg_fix_finish(&f, NULL);
}

/*
 * The usual HTTP -> HTTPS redirect in one line on a plain listener, next to a TLS listener
 * (h2 by ALPN) whose own redirect says {scheme} https.
 */
Test(answers, http_to_https_one_liner_and_tls_h2, .timeout = 60)
{
    lg_proc_t *origin = lg_origin_start("--name app");
    lg_yaml_t *c = lg_yaml_single(origin->port);
    lg_fix_t f;
    char *out;
    int plain;

    lg_yaml_add(c, "listeners.web.tls.certificates", "{cert: %s, key: %s}", lg_test_pki("ec.pem"),
                lg_test_pki("ec.key"));
    lg_yaml_add_first(c, "listeners.web.routes",
                      "{path_prefix: /s/, redirect: {to: \"{scheme}://{host}/x{uri}\"}}");
    lg_yaml_set(c, "listeners.plain.listen", "127.0.0.1:0");
    lg_yaml_add(c, "listeners.plain.routes",
                "{redirect: {to: \"https://{host}{uri}\", status: 308}}");
    f = lg_fix_start_conf(origin, c);
    plain = lg_proc_port(f.lg, "plain");
    out = run(lg_fmt(
        "curl -sS -D - -o /dev/null 'http://127.0.0.1:%d/a/b?c=d' -H 'Host: " SNI ":80'", plain));
    cr_assert_not_null(strstr(out, "HTTP/1.1 308 Permanent Redirect\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\nLocation: https://" SNI "/a/b?c=d\r\n"), "%s", out);
    out = run(lg_fmt("curl -sS -D - -o /dev/null --cacert %s --resolve " SNI
                     ":%d:127.0.0.1 'https://" SNI ":%d/s/t?u=1'",
                     lg_test_pki("ca.pem"), f.port, f.port));
    cr_assert_not_null(strstr(out, "HTTP/2 302 \r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\nlocation: https://" SNI "/x/s/t?u=1\r\n"), "%s", out);
    lg_fix_finish(&f, NULL);
}

/* A route's rate_limit holds for its answers too: past the burst, 429 with Retry-After. */
Test(answers, rate_limit_applies_to_a_respond_route, .timeout = 60)
{
    lg_proc_t *origin = lg_origin_start("--name app");
    lg_yaml_t *c = lg_yaml_single(origin->port);
    lg_fix_t f;
    lg_http_response_t *r;

    lg_yaml_add_first(c, "listeners.web.routes",
                      "{path_prefix: /ping, respond: {body: pong}, "
                      "rate_limit: {rate: 1/m, burst: 2}}");
    f = lg_fix_start_conf(origin, c);
    expect(lg_http_get(f.port, "/ping", NULL), 200, NULL);
    expect(lg_http_get(f.port, "/ping", NULL), 200, NULL);
    r = lg_http_get(f.port, "/ping", NULL);
    expect(r, 429, NULL);
    cr_assert_not_null(lg_http_header(r, "Retry-After"), "%s", r->head);
    cr_assert_gt(atoi(lg_http_header(r, "Retry-After")), 0);
    lg_fix_finish(&f, NULL);
}

/* A file whose routes all answer themselves needs no pools: a pure redirector, reloadable. */
Test(answers, a_file_without_pools, .timeout = 60)
{
    lg_proc_t *lg =
        lg_lifeguard_start("workers: 2\n"
                           "listeners:\n"
                           "  plain:\n"
                           "    listen: 127.0.0.1:0\n"
                           "    routes:\n"
                           "      - {path_prefix: /ping, respond: {body: \"pong\\n\"}}\n"
                           "      - redirect: {to: \"https://{host}{uri}\", status: "
                           "308}\n");
    int port = lg_proc_port(lg, "plain");
    char *out;

    out = run(
        lg_fmt("curl -sS -D - -o /dev/null 'http://127.0.0.1:%d/a?b=1' -H 'Host: x.test'", port));
    cr_assert_not_null(strstr(out, "HTTP/1.1 308 Permanent Redirect\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\nLocation: https://x.test/a?b=1\r\n"), "%s", out);
    cr_assert_str_eq(run(lg_fmt("curl -sS http://127.0.0.1:%d/ping", port)), "pong\n");
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, 0, "reloaded: generation 2", lg_test_timeout_ms()), "%s",
              lg_proc_log(lg));
    cr_assert_str_eq(run(lg_fmt("curl -sS http://127.0.0.1:%d/ping", port)), "pong\n");
    lg_lifeguard_finish(lg, NULL);
}
