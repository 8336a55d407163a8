/*
 * test_rules.c - header rules of a route (src/config/headers.c, src/http/rules.c): what the
 * configuration refuses and where, and what the rebuilt request and response heads hold once
 * rules set, add and remove fields (duplicates, any case, values that cannot be written).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/head.h"
#include "http/rules.h"
#include "lg_test.h"

#define OUT_CAP  4096
#define PATH_CAP 1024

/* A config whose one route has request_headers `rq` and response_headers `rs` (flow YAML). */
static const char *conf_text(const char *rq, const char *rs)
{
    return lg_fmt("listeners:\n"
                  "  web:\n"
                  "    listen: 127.0.0.1:8080\n"
                  "    routes:\n"
                  "      - pool: app\n"
                  "        request_headers: %s\n"
                  "        response_headers: %s\n"
                  "pools:\n"
                  "  app:\n"
                  "    backends: [127.0.0.1:9001]\n",
                  rq, rs);
}

/* Load `text`; NULL with the error lines joined in *errs when refused. */
static lg_config_t *load(const char *text, char **errs)
{
    char *dir = lg_test_tempdir(), *path = lg_test_write_file(dir, "rules.yaml", text);
    lg_config_errors_t e;
    lg_config_t *cf = lg_config_load(path, &e);

    *errs = lg_fmt("%s", "");
    for (size_t i = 0; i < e.n; i++)
        *errs = lg_fmt("%s%s\n", *errs, strstr(e.lines[i], ".yaml") + 5);
    lg_config_errors_free(&e);
    free(path);
    return cf;
}

static const lg_route_conf_t *load_route(const char *rq, const char *rs)
{
    char *errs;
    lg_config_t *cf = load(conf_text(rq, rs), &errs);

    cr_assert_not_null(cf, "refused:\n%s", errs);
    lg_test_keep(cf, (void (*)(void *))lg_config_free);
    return &cf->listeners[0].routes[0];
}

/* ---- load-time errors: every line names FILE:LINE:COL and the key path */

#define RQ    ":6:"
#define RS    ":7:"
#define P     "error: listeners.web.routes[0]."
#define NONE  "{remove: [x]}" /* a valid value for the other direction */
#define KNOWN "(known: {host}, {uri}, {path}, {query}, {scheme}, {client_ip}, {request_id})"

Test(rules_conf, errors)
{
    static const struct {
        const char *rq, *rs, *error;
    } cases[] = {
        {"{set: {Content-Length: '5'}}", NONE,
         RQ "33: " P "request_headers.set: header \"Content-Length\" may not be named: a framing "
            "or hop-by-hop header: lifeguard writes it for each connection"},
        {NONE, "{add: {transfer-encoding: chunked}}",
         RS "34: " P "response_headers.add: header \"transfer-encoding\" may not be named: a "
            "framing or hop-by-hop header: lifeguard writes it for each connection"},
        {"{add: {Connection: close}}", NONE,
         RQ "33: " P "request_headers.add: header \"Connection\" may not be named: a framing or "
            "hop-by-hop header: lifeguard writes it for each connection"},
        {NONE, "{remove: [Keep-Alive]}",
         RS "37: " P "response_headers.remove: header \"Keep-Alive\" may not be named: a framing "
            "or hop-by-hop header: lifeguard writes it for each connection"},
        {"{remove: [TE]}", NONE,
         RQ "36: " P "request_headers.remove: header \"TE\" may not be named: a framing or "
            "hop-by-hop header: lifeguard writes it for each connection"},
        {"{set: {Trailer: x}}", NONE,
         RQ "33: " P "request_headers.set: header \"Trailer\" may not be named: a framing or "
            "hop-by-hop header: lifeguard writes it for each connection"},
        {NONE, "{set: {Upgrade: websocket}}",
         RS "34: " P "response_headers.set: header \"Upgrade\" may not be named: a framing or "
            "hop-by-hop header: lifeguard writes it for each connection"},
        {"{add: {Proxy-Connection: x}}", NONE,
         RQ "33: " P "request_headers.add: header \"Proxy-Connection\" may not be named: a "
            "framing or hop-by-hop header: lifeguard writes it for each connection"},
        {"{add: {Content_Length: '1'}}", NONE,
         RQ "33: " P "request_headers.add: header \"Content_Length\" may not be named: a "
            "CGI-style server reads it as a header lifeguard manages ('_' for '-')"},
        {"{set: {X-Forwarded-For: 1.2.3.4}}", NONE,
         RQ "33: " P "request_headers.set: header \"X-Forwarded-For\" may not be named: "
            "lifeguard writes this header of the request itself"},
        {"{remove: [x-forwarded-proto]}", NONE,
         RQ "36: " P "request_headers.remove: header \"x-forwarded-proto\" may not be named: "
            "lifeguard writes this header of the request itself"},
        {"{remove: [X-Client-Cert-Subject]}", NONE,
         RQ "36: " P "request_headers.remove: header \"X-Client-Cert-Subject\" may not be named: "
            "lifeguard writes this header of the request itself"},
        {"{add: {X-Request-Id: '{request_id}'}}", NONE,
         RQ "33: " P "request_headers.add: header \"X-Request-Id\" may not be named: lifeguard "
            "writes this header of the request itself"},
        {"{add: {Host: a.example}}", NONE,
         RQ "33: " P "request_headers.add: header \"Host\" may not be named: a request has "
            "exactly one Host: only \"set\" may name it"},
        {"{remove: [host]}", NONE,
         RQ "36: " P "request_headers.remove: header \"host\" may not be named: a request has "
            "exactly one Host: only \"set\" may name it"},
        {"{set: {Host: 'a b'}}", NONE,
         RQ "33: " P "request_headers: header \"Host\": \"a b\" is not a valid host[:port]"},
        {"{set: {\"X A\": v}}", NONE,
         RQ "33: " P "request_headers.set: header \"X A\" may not be named: not a header name "
            "(letters, digits and !#$%&'*+-.^_`|~)"},
        /* inside the value, quoted or not (a flow mapping cannot hold a plain "{") */
        {"{set: {X-A: \"x{hots}y\"}}", NONE,
         RQ "40: " P "request_headers.set: unknown variable \"{hots}\" in \"x{hots}y\" " KNOWN},
        {"{set: {X-A: 'ab{remote_addr}'}}", NONE,
         RQ "41: " P "request_headers.set: unknown variable \"{remote_addr}\" in "
            "\"ab{remote_addr}\" " KNOWN},
        {NONE, "{add: {X-A: \"ab\\r\\nX-B: 1\"}}",
         RS "42: " P "response_headers.add: control character \"\\x0d\" at byte 3 of "
            "\"ab\\x0d\\x0aX-B: 1\""},
        /* a field value never starts or ends with whitespace (RFC 9110 5.5, RFC 9113 8.2.1) */
        {NONE, "{set: {X-A: 'v '}}",
         RS "34: " P "response_headers.set: header \"X-A\": a value cannot start or end with "
            "a space or tab (HTTP/1.1 recipients drop it, in HTTP/2 it makes the message "
            "malformed)"},
        {"{add: {X-A: \"\\t{host}\"}}", NONE,
         RQ "33: " P "request_headers.add: header \"X-A\": a value cannot start or end with "
            "a space or tab (HTTP/1.1 recipients drop it, in HTTP/2 it makes the message "
            "malformed)"},
        {"{set: {X-A: }}", NONE,
         RQ "33: " P "request_headers.set: header \"X-A\": expected a value (\"\" for an empty "
            "one)"},
        {"{set: {X-A: [1]}}", NONE,
         RQ "38: " P "request_headers.set: header \"X-A\": expected a value (\"\" for an empty "
            "one)"},
        /* the shape */
        {"{}", NONE, RQ "26: " P "request_headers: needs set, add or remove"},
        {"[X-A]", NONE,
         RQ "26: " P "request_headers: expected a mapping with set, add or remove, got a list"},
        {"{set: {}}", NONE, RQ "32: " P "request_headers.set: needs at least one header"},
        {"{add: [X-A]}", NONE,
         RQ "32: " P "request_headers.add: expected a mapping of header names to values, such as "
            "{X-Env: prod}, got a list"},
        {"{remove: X-A}", NONE,
         RQ "35: " P "request_headers.remove: expected a list of header names, such as "
            "[X-Debug], got a single value"},
        {"{delete: [X-A]}", NONE,
         RQ "27: error: unknown key \"delete\" (expected one of: set, add, remove)"},
        /* one name twice: in one list, or both set and removed */
        {"{set: {X-A: 1, x-a: 2}}", NONE,
         RQ "41: " P "request_headers: header \"x-a\" is named twice (set at line 6, then set)"},
        {"{set: {X-A: 1}, remove: [X-a]}", NONE,
         RQ "51: " P "request_headers: header \"X-a\" is named twice (set at line 6, then "
            "remove)"},
        {"{remove: [X-A, X-A]}", NONE,
         RQ "41: " P "request_headers: header \"X-A\" is named twice (remove at line 6, then "
            "remove)"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *errs;

        cr_assert_null(load(conf_text(cases[i].rq, cases[i].rs), &errs), "case %zu accepted", i);
        cr_assert_str_eq(errs, lg_fmt("%s\n", cases[i].error), "case %zu:\n%s", i, errs);
    }
}

/* What may be named: Host with set, the forwarding headers in responses, set and add together. */
Test(rules_conf, accepted)
{
    const lg_route_conf_t *r =
        load_route("{set: {Host: 'api.internal:8080', X-Env: prod}, add: {X-Env: two, Via: lg}, "
                   "remove: [X-Debug]}",
                   "{set: {X-Forwarded-For: x, Host: h}, add: {X-Request-Id: '{request_id}'}, "
                   "remove: [Server, X-Powered-By]}");

    cr_assert_not_null(r->request_headers->host);
    cr_assert_eq(r->request_headers->n, 4); /* Host is kept apart */
    cr_assert_eq(r->request_headers->vars, 0);
    cr_assert_eq(r->response_headers->n, 5);
    cr_assert_null(r->response_headers->host);
    cr_assert_eq(r->response_headers->vars, 1u << LG_VAR_REQUEST_ID);
    cr_assert_str_eq(r->response_headers->v[0].lname, "x-forwarded-for");
}

/* ---- the rebuilt heads */

static const lg_rule_vals_t vals = {
    .v = {{
        [LG_VAR_HOST] = {"shop.example", 12},
        [LG_VAR_URI] = {"/a?b=1", 6},
        [LG_VAR_PATH] = {"/a", 2},
        [LG_VAR_QUERY] = {"b=1", 3},
        [LG_VAR_SCHEME] = {"https", 5},
        [LG_VAR_CLIENT_IP] = {"10.0.0.7", 8},
        [LG_VAR_REQUEST_ID] = {"r1", 2},
    }},
};

/* Request `head` rebuilt with the request rules of `rq` and values `v`. */
static char *request_with(const char *rq, const char *head, const lg_rule_vals_t *v)
{
    static char out[OUT_CAP];
    char path[PATH_CAP];
    lg_req_build_t b = {.client_ip = "10.0.0.7", .proto = "http", .default_host = "b:1"};
    lg_req_head_t h;
    size_t n;

    b.rules = load_route(rq, "{remove: [x]}")->request_headers;
    b.vals = v;
    cr_assert_eq(lg_req_head_scan(&h, head, strlen(head), 1), 0, "rejected: %s", head);
    cr_assert_eq(lg_req_head_target(&h, path, sizeof(path)), 0);
    n = lg_req_head_build(&h, &b, out, sizeof(out) - 1);
    cr_assert_gt(n, 0);
    out[n] = '\0';
    return out;
}

Test(rules_heads, request_set_add_remove_any_case_and_duplicates)
{
    char *out = request_with("{set: {X-Env: prod}, add: {X-Dup: three, Via: '{client_ip} {uri}'}, "
                             "remove: [x-debug]}",
                             "GET /a?b=1 HTTP/1.1\r\nHost: shop.example\r\nX-ENV: dev\r\n"
                             "X-Dup: one\r\nx-env: test\r\nX-Debug: 1\r\nx-dup: two\r\n"
                             "X-DEBUG: 2\r\n\r\n",
                             &vals);

    cr_assert_str_eq(out, "GET /a?b=1 HTTP/1.1\r\nHost: shop.example\r\nX-Dup: one\r\n"
                          "x-dup: two\r\nX-Env: prod\r\nX-Dup: three\r\nVia: 10.0.0.7 /a?b=1\r\n"
                          "X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\n"
                          "X-Forwarded-Host: shop.example\r\n\r\n");
}

/* Host: set when the value is a valid Host, else the request's stays; X-Forwarded-Host keeps it. */
/*
 * A client's field whose name is a ruled one with '_' for '-' (X_Debug for X-Debug) is dropped
 * too: a CGI-style backend (WSGI, PHP-FPM, Rack) reads both as HTTP_X_DEBUG, so keeping it would
 * undo the remove, or give the backend the client's value beside the one a set wrote.
 */
Test(rules_heads, request_cgi_aliases_of_ruled_names)
{
    char *out = request_with("{set: {X-Env: prod}, remove: [x-debug]}",
                             "GET / HTTP/1.1\r\nHost: shop.example\r\nX_Debug: 1\r\n"
                             "x_env: dev\r\nX_Other: kept\r\n\r\n",
                             &vals);

    cr_assert_str_eq(out, "GET / HTTP/1.1\r\nHost: shop.example\r\nX_Other: kept\r\n"
                          "X-Env: prod\r\nX-Forwarded-For: 10.0.0.7\r\n"
                          "X-Forwarded-Proto: http\r\nX-Forwarded-Host: shop.example\r\n\r\n");
}

Test(rules_heads, request_host)
{
    static const struct {
        const char *rule, *host;
    } cases[] = {
        {"api.internal", "api.internal"},
        {"'{host}:8443'", "shop.example:8443"},
        {"'[::1]:80'", "[::1]:80"},
        {"'{path}'", "shop.example"},    /* "/a" is no host: the request's stays */
        {"'{host} x'", "shop.example"},  /* nor one with a space */
        {"'a{client_ip}'", "a10.0.0.7"}, /* a reg-name */
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *out =
            request_with(lg_fmt("{set: {Host: %s}}", cases[i].rule),
                         "GET /a?b=1 HTTP/1.1\r\nHost: shop.example\r\nX-A: 1\r\n\r\n", &vals);

        cr_assert_not_null(strstr(out, lg_fmt("\r\nHost: %s\r\n", cases[i].host)), "%s", out);
        cr_assert_eq(lg_log_count(out, "Host: "), 2, "%s", out); /* Host + X-Forwarded-Host */
        cr_assert_not_null(strstr(out, "X-Forwarded-Host: shop.example\r\n"), "%s", out);
    }
}

/* A value holding CR or LF once expanded, or using a variable without a value, is left out. */
Test(rules_heads, unwritable_values_are_left_out)
{
    lg_rule_vals_t bad = vals;
    char *out;

    bad.v.v[LG_VAR_REQUEST_ID] = (lg_span_t){"x\r\nInjected: 1", 14};
    bad.absent = 1u << LG_VAR_URI;
    out = request_with("{set: {X-Rid: 'id={request_id}', X-Uri: '{uri}', X-Ok: '{host}'}}",
                       "GET / HTTP/1.1\r\nHost: a\r\nX-Rid: old\r\n\r\n", &bad);
    cr_assert_null(strstr(out, "Injected"), "%s", out);
    cr_assert_null(strstr(out, "X-Rid"), "%s", out); /* set drops the old one in any case */
    cr_assert_null(strstr(out, "X-Uri"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\nX-Ok: shop.example\r\n"), "%s", out);
}

/* A head that does not fit with its rules is refused whole (0), never cut. */
Test(rules_heads, no_room_is_refused)
{
    const lg_hdr_rules_t *r =
        load_route("{add: {X-Long: '{uri}{uri}{uri}'}}", "{remove: [x]}")->request_headers;
    static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    lg_req_build_t b = {.client_ip = "1", .proto = "http", .rules = r, .vals = &vals};
    char out[OUT_CAP];
    lg_req_head_t h;
    size_t n;

    cr_assert_eq(lg_req_head_scan(&h, head, strlen(head), 1), 0);
    n = lg_req_head_build(&h, &b, out, sizeof(out));
    cr_assert_not_null(strstr(out, "X-Long: /a?b=1/a?b=1/a?b=1\r\n"));
    for (size_t cap = n - 30; cap < n; cap++)
        cr_assert_eq(lg_req_head_build(&h, &b, out, cap), 0, "%zu bytes", cap);
    cr_assert_eq(lg_req_head_build(&h, &b, out, n), n);
}

/* Response `head` rebuilt for an HTTP/1.1 client with the response rules of `rs`. */
static char *response_with(const char *rs, const char *head)
{
    static char out[OUT_CAP];
    lg_rsp_build_t b = {.keep_chunked = 1};
    lg_rsp_head_t h;
    size_t n;

    b.rules = load_route("{remove: [x]}", rs)->response_headers;
    b.vals = &vals;
    cr_assert_eq(lg_rsp_head_scan(&h, head, strlen(head)), LG_OK, "rejected: %s", head);
    n = lg_rsp_head_build(&h, &b, out, sizeof(out) - 1);
    cr_assert_gt(n, 0);
    out[n] = '\0';
    return out;
}

Test(rules_heads, response_set_add_remove)
{
    char *out = response_with("{set: {Strict-Transport-Security: max-age=63072000, "
                              "content-type: text/x}, add: {Set-Cookie: 'rid={request_id}'}, "
                              "remove: [server, X-Powered-By]}",
                              "HTTP/1.1 200 OK\r\nServer: app/1.0\r\nContent-Type: text/html\r\n"
                              "Set-Cookie: a=1\r\nX-Powered-By: php\r\nSERVER: again\r\n"
                              "CONTENT-TYPE: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");

    cr_assert_str_eq(out, "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\n"
                          "Strict-Transport-Security: max-age=63072000\r\ncontent-type: text/x\r\n"
                          "Set-Cookie: rid=r1\r\nTransfer-Encoding: chunked\r\n\r\n");
}

/* The same fields for HTTP/2: lower-case names, values expanded one after the other. */
Test(rules_heads, http2_fields)
{
    const lg_hdr_rules_t *r =
        load_route("{remove: [x]}", "{set: {X-Frame-Options: DENY}, remove: [Server], "
                                    "add: {X-Where: '{scheme}://{host}{uri}', X-Empty: ''}}")
            ->response_headers;
    static const char *const want[][2] = {
        {"x-frame-options", "DENY"},
        {"x-where", "https://shop.example/a?b=1"},
        {"x-empty", ""},
    };
    char buf[64], *p = buf;
    lg_rule_field_t f;
    size_t i = 0, n = 0;

    cr_assert(lg_hdr_rules_drop(r, (lg_span_t){"SERVER", 6}));
    cr_assert(lg_hdr_rules_drop(r, (lg_span_t){"x-frame-options", 15}));
    cr_assert_not(lg_hdr_rules_drop(r, (lg_span_t){"X-Where", 7}));
    while (lg_hdr_rules_next(r, &vals, &i, &p, buf + sizeof(buf), &f)) {
        cr_assert_lt(n, LG_NELEMS(want));
        cr_assert_str_eq(f.rule->lname, want[n][0]);
        cr_assert_eq(f.value.len, strlen(want[n][1]), "%zu: %.*s", n, (int)f.value.len, f.value.p);
        cr_assert_eq(memcmp(f.value.p, want[n][1], f.value.len), 0);
        n++;
    }
    cr_assert_eq(n, LG_NELEMS(want));
}

/*
 * Own replies (lg_hdr_rules_fit): fields that fit `room` are all written, in file order; when
 * they do not, the longest go first (the later of two alike), never a shorter later one.
 */
Test(rules_heads, own_reply_fields_fit_longest_left_out)
{
    /* lines: A 5+4+18 = 27, B 5+4+1 = 10, C 5+4+6 = 15, D 5+4+18 = 27 (values 18, 1, 6, 18) */
    const lg_hdr_rules_t *r =
        load_route("{remove: [x]}", "{set: {X-AAA: '{uri}{uri}{uri}', X-BBB: b, X-CCC: '{uri}'}, "
                                    "add: {X-DDD: '{uri}{uri}{uri}'}, remove: [Server]}")
            ->response_headers;
    static const struct {
        size_t room, nf;
        const char *want; /* the fields' names' last letters, in order */
    } cases[] = {
        {79, 8, "ABCD"}, {1000, 8, "ABCD"}, {78, 8, "ABC"}, {52, 8, "ABC"},
        {51, 8, "BC"},   {25, 8, "BC"},     {24, 8, "B"},   {10, 8, "B"},
        {9, 8, ""},      {0, 8, ""},        {79, 2, "AB"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_rule_field_t f[8];
        size_t nf = cases[i].nf;
        char *vals_out = lg_hdr_rules_fit(r, &vals, cases[i].room, f, &nf), got[8] = "";

        cr_assert_not_null(vals_out);
        for (size_t k = 0; k < nf; k++) {
            got[k] = f[k].rule->name.p[4];
            cr_assert_eq(f[k].value.len, got[k] == 'B' ? 1 : got[k] == 'C' ? 6 : 18);
        }
        cr_assert_str_eq(got, cases[i].want, "room %zu", cases[i].room);
        free(vals_out);
    }
}
