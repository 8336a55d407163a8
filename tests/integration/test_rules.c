/*
 * test_rules.c - a route's request_headers and response_headers seen by real clients (curl over
 * HTTP/1.1, HTTP/1.0 and h2c, and a raw client) and by the backend: set, add and remove both
 * ways over duplicate fields in any case, the variables' values, a Host set for the backend, and
 * the response rules on lifeguard's own replies of the route (502, 504, 413), not on a 404.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/lg.h"
#include "lg_test.h"
#include "lg_test_raw.h"

#define WAIT_MS 5000
#define HSTS    "Strict-Transport-Security: max-age=63072000"

#define REQ_RULES                                                                                  \
    "{set: {X-Env: prod, Host: backend.internal}, add: {Via: lifeguard, "                          \
    "X-Vars: '{client_ip} {request_id} {host} {uri}'}, remove: [X-Debug]}"
#define RSP_RULES                                                                                  \
    "{set: {Strict-Transport-Security: max-age=63072000, Content-Type: text/x-set}, "              \
    "add: {X-Uri: '{uri}'}, remove: [Server, X-Origin]}"

static char *run(const char *cmd)
{
    char *out = NULL;

    lg_run_capture(cmd, &out);
    return out != NULL ? out : "";
}

/* Lines of `text` that hold `field` ("Name: value"), the name in any case. */
static int field_count(const char *text, const char *field)
{
    int n = 0;

    for (const char *p = text; (p = strcasestr(p, field)) != NULL; p++)
        n += p == text || p[-1] == '\n';
    return n;
}

/* lg-origin behind one route with both rule sets, on an h2c-capable listener. */
static lg_fix_t start_rules(void)
{
    lg_proc_t *origin = lg_origin_start(NULL);
    lg_yaml_t *c = lg_yaml_single(origin->port);

    lg_yaml_set(c, "listeners.web.http2", "on");
    lg_yaml_set(c, "listeners.web.routes",
                "[{pool: app, request_headers: " REQ_RULES ", response_headers: " RSP_RULES "}]");
    return lg_fix_start_conf(origin, c);
}

/* The request rules reach the backend from every kind of client; the variables' values. */
Test(rules, request_rules_reach_the_backend, .timeout = 60)
{
    lg_fix_t f = start_rules();
    static const struct {
        const char *curl; /* options */
        const char *vars; /* X-Vars the backend gets */
        const char *xfh;  /* X-Forwarded-Host */
    } cases[] = {
        {"--http1.1", "127.0.0.1 rid-1 127.0.0.1 /echo?a=1", "127.0.0.1"},
        {"--http2-prior-knowledge", "127.0.0.1 rid-1 127.0.0.1 /echo?a=1", "127.0.0.1"},
        /* HTTP/1.0 without Host: {host} is empty, the rule's Host is still sent */
        {"--http1.0 -H 'Host:'", "127.0.0.1 rid-1  /echo?a=1", NULL},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *echo = run(lg_fmt("curl -s %s -H 'X-Debug: 1' -H 'x-debug: 2' -H 'X-Env: dev' "
                                "-H 'x-env: test' -H 'X-Request-Id: rid-1' "
                                "'http://127.0.0.1:%d/echo?a=1'",
                                cases[i].curl, f.port));

        cr_assert_not_null(strstr(echo, "target /echo?a=1\n"), "%s: %s", cases[i].curl, echo);
        cr_assert_eq(lg_echo_header_count(echo, "X-Debug"), 0, "%s: %s", cases[i].curl, echo);
        cr_assert_eq(lg_echo_header_count(echo, "X-Env"), 1, "%s: %s", cases[i].curl, echo);
        cr_assert_str_eq(lg_echo_header(echo, "X-Env"), "prod");
        cr_assert_str_eq(lg_echo_header(echo, "Via"), "lifeguard");
        cr_assert_eq(lg_echo_header_count(echo, "Host"), 1, "%s", echo);
        cr_assert_str_eq(lg_echo_header(echo, "Host"), "backend.internal");
        cr_assert_str_eq(lg_echo_header(echo, "X-Vars"), cases[i].vars, "%s", cases[i].curl);
        if (cases[i].xfh != NULL)
            cr_assert_str_eq(lg_echo_header(echo, "X-Forwarded-Host"),
                             lg_fmt("%s:%d", cases[i].xfh, f.port));
        else
            cr_assert_null(lg_echo_header(echo, "X-Forwarded-Host"));
    }
    lg_fix_finish(&f, NULL);
}

/*
 * An X-Request-Id over 63 bytes is not taken (it was once cut for the log and {request_id} while
 * the backend got it whole): lifeguard makes its own, and the backend's X-Request-Id and
 * {request_id} are that one; 63 bytes are taken as they are. Over HTTP/1.1 and HTTP/2.
 */
Test(rules, request_id_over_63_bytes_is_replaced, .timeout = 60)
{
    lg_fix_t f = start_rules();
    const char *a63 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char *const curls[] = {"--http1.1", "--http2-prior-knowledge"};

    for (size_t i = 0; i < LG_NELEMS(curls); i++) {
        char *kept = run(lg_fmt("curl -s %s -H 'X-Request-Id: %s' 'http://127.0.0.1:%d/echo?a=1'",
                                curls[i], a63, f.port));
        char *made = run(lg_fmt("curl -s %s -H 'X-Request-Id: %sb' 'http://127.0.0.1:%d/echo?a=1'",
                                curls[i], a63, f.port));
        const char *id = lg_echo_header(made, "X-Request-Id");

        cr_assert_str_eq(lg_echo_header(kept, "X-Vars"),
                         lg_fmt("127.0.0.1 %s 127.0.0.1 /echo?a=1", a63), "%s: %s", curls[i], kept);
        cr_assert_eq(strlen(id), 32, "%s: not an id of lifeguard's: %s", curls[i], made);
        cr_assert_str_eq(lg_echo_header(made, "X-Vars"),
                         lg_fmt("127.0.0.1 %s 127.0.0.1 /echo?a=1", id), "%s: %s", curls[i], made);
    }
    lg_fix_finish(&f, NULL);
}

/*
 * A client cannot slip a ruled field past the rules by writing '_' for '-' (X_Debug, x_env):
 * a CGI-style backend reads such a name as the ruled one.
 */
Test(rules, cgi_aliases_of_ruled_names_are_dropped, .timeout = 60)
{
    lg_fix_t f = start_rules();
    static const char *const curls[] = {"--http1.1", "--http2-prior-knowledge"};

    for (size_t i = 0; i < LG_NELEMS(curls); i++) {
        char *echo = run(lg_fmt("curl -s %s -H 'X_Debug: 1' -H 'x_env: dev' -H 'X_Other: kept' "
                                "'http://127.0.0.1:%d/echo'",
                                curls[i], f.port));

        cr_assert_not_null(strstr(echo, "target /echo\n"), "%s: %s", curls[i], echo);
        cr_assert_eq(lg_echo_header_count(echo, "X_Debug"), 0, "%s: %s", curls[i], echo);
        cr_assert_eq(lg_echo_header_count(echo, "X_Env"), 0, "%s: %s", curls[i], echo);
        cr_assert_str_eq(lg_echo_header(echo, "X-Env"), "prod", "%s: %s", curls[i], echo);
        cr_assert_str_eq(lg_echo_header(echo, "X_Other"), "kept", "%s: %s", curls[i], echo);
    }
    lg_fix_finish(&f, NULL);
}

/* The response rules over the origin's fields, on HTTP/1.1, HTTP/1.0 and HTTP/2. */
Test(rules, response_rules_reach_the_client, .timeout = 60)
{
    lg_fix_t f = start_rules();
    static const char *const curls[] = {"--http1.1", "--http1.0", "--http2-prior-knowledge"};

    for (size_t i = 0; i < LG_NELEMS(curls); i++) {
        char *out = run(lg_fmt("curl -si %s 'http://127.0.0.1:%d/echo?a=1'", curls[i], f.port));

        cr_assert_eq(field_count(out, HSTS), 1, "%s: %s", curls[i], out);
        cr_assert_eq(field_count(out, "Content-Type: "), 1, "%s: %s", curls[i], out);
        cr_assert_eq(field_count(out, "Content-Type: text/x-set"), 1, "%s: %s", curls[i], out);
        cr_assert_eq(field_count(out, "X-Uri: /echo?a=1"), 1, "%s: %s", curls[i], out);
        cr_assert_eq(field_count(out, "X-Origin: "), 0, "%s: %s", curls[i], out);
        cr_assert_eq(field_count(out, "Content-Length: "), 1, "%s: %s", curls[i], out);
        cr_assert_not_null(strstr(out, "\nmethod GET\n"), "%s: no body: %s", curls[i], out);
    }
    lg_fix_finish(&f, NULL);
}

/*
 * A raw backend shows both ways byte for byte: what the rules make of a request, and of a
 * response with repeated fields (Server twice, X-Origin in two cases, an HSTS of its own).
 */
Test(rules, both_ways_over_repeated_fields, .timeout = 60)
{
    static const char rsp[] = "HTTP/1.1 200 OK\r\nServer: app/1\r\nX-Origin: a\r\n"
                              "Strict-Transport-Security: max-age=0\r\nx-origin: b\r\n"
                              "SERVER: again\r\nContent-Length: 2\r\n\r\nok";
    int bport, lfd = lg_raw_listen(&bport);
    lg_yaml_t *c = lg_yaml_single(bport);
    lg_client_t *cl;
    lg_raw_t *be;
    lg_proc_t *lg;
    char *head;
    lg_http_response_t *r;

    cr_assert_geq(lfd, 0);
    lg_yaml_set(c, "listeners.web.routes",
                "[{pool: app, request_headers: " REQ_RULES ", response_headers: " RSP_RULES "}]");
    lg = lg_yaml_start(c);
    cl = lg_client_connect(lg_proc_port(lg, "web"));
    cr_assert_not_null(cl);
    lg_client_set_timeout(cl, WAIT_MS);
    cr_assert_eq(lg_client_sendf(cl, "GET /p?q=1 HTTP/1.1\r\nHost: shop.test\r\nX-DEBUG: 1\r\n"
                                     "X-Env: a\r\nX-Keep: 1\r\nx-env: b\r\nX-Request-Id: r-9\r\n"
                                     "Connection: close\r\n\r\n"),
                 0);
    be = lg_raw_accept(lfd, WAIT_MS);
    cr_assert_not_null(be);
    head = lg_raw_read_message(be, 0, NULL, WAIT_MS);
    cr_assert_not_null(head);
    cr_assert_str_eq(head, "GET /p?q=1 HTTP/1.1\r\nX-Keep: 1\r\nX-Request-Id: r-9\r\n"
                           "Host: backend.internal\r\nX-Env: prod\r\nVia: lifeguard\r\n"
                           "X-Vars: 127.0.0.1 r-9 shop.test /p?q=1\r\n"
                           "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
                           "X-Forwarded-Host: shop.test\r\n\r\n");
    cr_assert_eq(lg_raw_write(be, rsp, strlen(rsp)), 0);
    r = lg_client_read(cl, 0);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(r->body, "ok");
    cr_assert_eq(lg_http_header_count(r, "Server"), 0, "%s", r->head);
    cr_assert_eq(lg_http_header_count(r, "X-Origin"), 0, "%s", r->head);
    cr_assert_eq(lg_http_header_count(r, "Strict-Transport-Security"), 1, "%s", r->head);
    cr_assert_str_eq(lg_http_header(r, "Strict-Transport-Security"), "max-age=63072000");
    cr_assert_str_eq(lg_http_header(r, "Content-Type"), "text/x-set");
    cr_assert_str_eq(lg_http_header(r, "X-Uri"), "/p?q=1");
    lg_lifeguard_finish(lg, NULL);
}

/*
 * lifeguard's own replies on a route carry its response rules (HSTS present, Server gone): a
 * 502 (backend refused), a 504 (backend too slow), a 413 (body too large), a redirect and a
 * respond answer, over HTTP/1.x and HTTP/2. A 404 has no route, so no rules.
 */
Test(rules, own_replies_of_the_route, .timeout = 90)
{
    lg_proc_t *origin = lg_origin_start(NULL);
    lg_yaml_t *c = lg_yaml_single(origin->port);
    static const struct {
        const char *curl, *path, *input;
        int status;
    } cases[] = {
        {"--http1.1", "/down/x", NULL, 502},
        {"--http2-prior-knowledge", "/down/x", NULL, 502},
        {"--http1.1", "/app/delay/5000", NULL, 504},
        {"--http2-prior-knowledge", "/app/delay/5000", NULL, 504},
        {"--http1.1", "/app/echo", "head -c 5000 /dev/zero |", 413},
        {"--http2-prior-knowledge", "/app/echo", "head -c 5000 /dev/zero |", 413},
        {"--http1.1", "/old/x?a=1", NULL, 301},
        {"--http2-prior-knowledge", "/old/x?a=1", NULL, 301},
        {"--http1.0", "/ping", NULL, 200},
        {"--http2-prior-knowledge", "/ping", NULL, 200},
    };
    lg_fix_t f;
    char *out;

    lg_yaml_set(c, "listeners.web.http2", "on");
    lg_yaml_set(c, "timeouts.upstream_response", "300ms");
    lg_yaml_set(c, "limits.max_body_size", "1k");
    lg_yaml_set(c, "pools.down.health_check.type", "none");
    lg_yaml_add(c, "pools.down.backends", "127.0.0.1:%d", lg_test_free_port());
    lg_yaml_set(c, "listeners.web.routes",
                lg_fmt("[{path_prefix: /down/, pool: down, response_headers: %s}, "
                       "{path_prefix: /app/, pool: app, response_headers: %s}, "
                       "{path_prefix: /old/, redirect: {to: '/new{uri}', status: 301}, "
                       "response_headers: %s}, "
                       "{path_prefix: /ping, respond: {body: pong}, response_headers: %s}]",
                       RSP_RULES, RSP_RULES, RSP_RULES, RSP_RULES));
    f = lg_fix_start_conf(origin, c);
    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        const char *what = lg_fmt("%s %s", cases[i].curl, cases[i].path);

        out = run(lg_fmt("%s curl -si %s %s 'http://127.0.0.1:%d%s'",
                         cases[i].input != NULL ? cases[i].input : "", cases[i].curl,
                         cases[i].input != NULL ? "-T -" : "", f.port, cases[i].path));
        cr_assert_not_null(strstr(out, lg_fmt(" %d", cases[i].status)), "%s: %s", what, out);
        cr_assert_eq(field_count(out, HSTS), 1, "%s: %s", what, out);
        cr_assert_eq(field_count(out, "Server: "), 0, "%s: %s", what, out);
        cr_assert_eq(field_count(out, "Content-Type: text/x-set"), 1, "%s: %s", what, out);
        cr_assert_eq(field_count(out, lg_fmt("X-Uri: %s", cases[i].path)), 1, "%s: %s", what, out);
        if (cases[i].status == 301)
            cr_assert_eq(field_count(out, "Location: /new/old/x?a=1"), 1, "%s: %s", what, out);
        if (cases[i].status == 200)
            cr_assert_not_null(strstr(out, "\r\n\r\npong"), "%s: %s", what, out);
    }
    out = run(lg_fmt("curl -si 'http://127.0.0.1:%d/other'", f.port));
    cr_assert_not_null(strstr(out, " 404"), "%s", out);
    cr_assert_eq(field_count(out, "Strict-Transport-Security: "), 0, "%s", out);
    cr_assert_eq(field_count(out, "Server: lifeguard"), 1, "%s", out);
    lg_fix_finish(&f, "connect() to", "timed out");
}

/*
 * A long {uri} on an own reply: with the default limits the X-Uri field (2041 bytes) and the
 * HSTS after it are both written (a fixed 2 KiB room once left HSTS out); when X-Uri does not
 * fit limits.max_header_size it is the one left out (logged), and HSTS still comes; over
 * HTTP/1.1 and HTTP/2.
 */
Test(rules, long_uri_never_pushes_a_later_rule_off_an_own_reply, .timeout = 90)
{
    static const struct {
        const char *max_header_size;
        int x_uri; /* X-Uri written */
    } limits[] = {{"16k", 1}, {"2k", 0}};
    static const char *const protos[] = {"--http1.1", "--http2-prior-knowledge"};
    char uri[1021];

    memset(uri, 'a', sizeof(uri) - 1);
    memcpy(uri, "/ping?", 6);
    uri[sizeof(uri) - 1] = '\0';
    for (size_t l = 0; l < LG_NELEMS(limits); l++) {
        lg_proc_t *origin = lg_origin_start(NULL);
        lg_yaml_t *c = lg_yaml_single(origin->port);
        lg_fix_t f;

        lg_yaml_set(c, "listeners.web.http2", "on");
        lg_yaml_set(c, "limits.max_header_size", limits[l].max_header_size);
        lg_yaml_set(c, "log.level", "debug"); /* a client can make the line: it is a debug one */
        lg_yaml_set(c, "listeners.web.routes",
                    "[{path_prefix: /ping, respond: {body: pong}, response_headers: "
                    "{add: {X-Uri: '{uri} {uri}'}, set: {Strict-Transport-Security: "
                    "max-age=63072000}}}]");
        f = lg_fix_start_conf(origin, c);
        for (size_t i = 0; i < LG_NELEMS(protos); i++) {
            char *out = run(lg_fmt("curl -si %s 'http://127.0.0.1:%d%s'", protos[i], f.port, uri));
            const char *what = lg_fmt("%s %s", limits[l].max_header_size, protos[i]);

            cr_assert_not_null(strstr(out, "\r\n\r\npong"), "%s: %s", what, out);
            cr_assert_eq(field_count(out, HSTS), 1, "%s: %s", what, out);
            cr_assert_eq(field_count(out, lg_fmt("X-Uri: %s %s\r\n", uri, uri)), limits[l].x_uri,
                         "%s: %s", what, out);
            cr_assert_eq(field_count(out, "X-Uri:"), limits[l].x_uri, "%s: %s", what, out);
        }
        cr_assert_eq(lg_log_count(lg_proc_log(f.lg), "header rule X-Uri: its field (2050 bytes) "
                                                     "does not fit an own reply"),
                     limits[l].x_uri ? 0 : 2, "%s", lg_proc_log(f.lg));
        lg_fix_finish(&f, NULL);
    }
}

/*
 * The head of an own HTTP/1.1 reply goes into one buffer beside its body: rule fields as long
 * as limits.max_header_size allows (five {uri} of 3,400 bytes: {uri} is kept up to 4 KiB for
 * response rules), next to a respond body of 8,000 bytes, must still leave room for that body
 * (they once made the reply too big to write: the client got no answer at all).
 */
Test(rules, long_rule_fields_leave_room_for_the_respond_body, .timeout = 60)
{
    lg_proc_t *origin = lg_origin_start(NULL);
    lg_yaml_t *c = lg_yaml_single(origin->port);
    char body[8001], uri[3401];
    char *out;
    int written = 0;
    lg_fix_t f;

    memset(body, 'b', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    memset(uri, 'a', sizeof(uri) - 1);
    memcpy(uri, "/ping?", 6);
    uri[sizeof(uri) - 1] = '\0';
    lg_yaml_set(c, "limits.max_header_size", "17k");
    lg_yaml_setf(
        c, "listeners.web.routes",
        "[{path_prefix: /ping, respond: {body: %s}, response_headers: {add: {X-A: '{uri}', "
        "X-B: '{uri}', X-C: '{uri}', X-D: '{uri}', X-E: '{uri}'}, "
        "set: {Strict-Transport-Security: max-age=63072000}}}]",
        body);
    f = lg_fix_start_conf(origin, c);
    out = run(lg_fmt("curl -si --http1.1 'http://127.0.0.1:%d%s'", f.port, uri));
    cr_assert_not_null(strstr(out, "HTTP/1.1 200"), "%.300s", out);
    cr_assert_not_null(strstr(out, lg_fmt("\r\n\r\n%s", body)), "the body is missing");
    cr_assert_eq(field_count(out, HSTS), 1, "%.300s", out);
    for (char name = 'A'; name <= 'E'; name++)
        written += field_count(out, lg_fmt("X-%c: %s\r\n", name, uri));
    cr_assert_eq(written, 4, "one {uri} field is left out, the others written");
    lg_fix_finish(&f, NULL);
}
