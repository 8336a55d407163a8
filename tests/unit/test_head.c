/*
 * test_head.c - scanning and rebuilding heads (src/http/head.c) and route matching
 * (src/http/route.c): what the backend and the client receive, byte for byte.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http/head.h"
#include "http/route.h"

#define OUT_CAP  4096
#define PATH_CAP 1024

static const lg_req_build_t plain = {
    .client_ip = "10.0.0.7",
    .proto = "http",
    .default_host = "127.0.0.1:9001",
};

/* Scan `head` as an HTTP/1.`minor` request and rebuild it with `b`; returns the new head. */
static char *rebuild(const char *head, unsigned minor, const lg_req_build_t *b)
{
    static char out[OUT_CAP];
    char path[PATH_CAP];
    lg_req_head_t rq;
    size_t n;

    cr_assert_eq(lg_req_head_scan(&rq, head, strlen(head), minor), 0, "rejected: %s", head);
    cr_assert_eq(lg_req_head_target(&rq, path, sizeof(path)), 0, "target rejected: %s", head);
    n = lg_req_head_build(&rq, b, out, sizeof(out) - 1);
    cr_assert_gt(n, 0);
    out[n] = '\0';
    return out;
}

static int scan_status(const char *head, unsigned minor)
{
    lg_req_head_t rq;

    return lg_req_head_scan(&rq, head, strlen(head), minor);
}

Test(head, adds_forwarded_headers_and_keeps_host)
{
    cr_assert_str_eq(
        rebuild("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", 1, &plain),
        "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n"
        "X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: example.com\r\n\r\n");
}

Test(head, removes_hop_by_hop_and_connection_named_headers)
{
    cr_assert_str_eq(rebuild("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\n"
                             "X-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: close\r\n"
                             "TE: trailers\r\nUpgrade: websocket\r\nX-Kept: 2\r\n\r\n",
                             1, &plain),
                     "GET / HTTP/1.1\r\nHost: h\r\nX-Kept: 2\r\nX-Forwarded-For: 10.0.0.7\r\n"
                     "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
}

Test(head, connection_never_removes_host)
{
    cr_assert(strstr(rebuild("GET / HTTP/1.1\r\nConnection: Host\r\nHost: h\r\n\r\n", 1, &plain),
                     "\r\nHost: h\r\n") != NULL);
}

Test(head, appends_to_every_forwarded_for_value)
{
    cr_assert(strstr(rebuild("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n"
                             "X-Forwarded-For: 2.2.2.2, 3.3.3.3\r\nX-Forwarded-Proto: https\r\n"
                             "X-Forwarded-Host: evil\r\n\r\n",
                             1, &plain),
                     "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.7\r\n"
                     "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n") != NULL);
}

Test(head, exactly_one_framing_header)
{
    lg_req_build_t b = plain;

    b.chunked = 1;
    cr_assert(
        strstr(rebuild("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 1, &b),
               "Transfer-Encoding: chunked\r\n\r\n") != NULL);
    b.chunked = 0;
    b.has_length = 1;
    b.length = 42;
    cr_assert(strstr(rebuild("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n", 1, &b),
                     "X-Forwarded-Host: h\r\nContent-Length: 42\r\n\r\n") != NULL);
}

Test(head, absolute_form_becomes_origin_form)
{
    cr_assert_str_eq(
        rebuild("GET http://Example.com:8080?q=1 HTTP/1.1\r\nHost: other\r\n\r\n", 1, &plain),
        "GET /?q=1 HTTP/1.1\r\nHost: Example.com:8080\r\n"
        "X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: Example.com:8080\r\n\r\n");
}

Test(head, http10_without_host_gets_the_backend_address)
{
    cr_assert_str_eq(rebuild("GET / HTTP/1.0\r\n\r\n", 0, &plain),
                     "GET / HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nX-Forwarded-For: 10.0.0.7\r\n"
                     "X-Forwarded-Proto: http\r\n\r\n");
}

Test(head, rejects_what_llhttp_lets_through)
{
    cr_assert_eq(scan_status("GET / HTTP/1.1\r\nHost: h\r\n\n", 1), 400);    /* bare LF */
    cr_assert_eq(scan_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 1), 400); /* space */
    cr_assert_eq(scan_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 1), 400);
    cr_assert_eq(scan_status("GET / HTTP/1.1\r\n\r\n", 1), 400); /* no Host */
    cr_assert_eq(scan_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 1), 400);
    cr_assert_eq(scan_status("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 1), 400);
    cr_assert_eq(scan_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n"
                             "\r\n",
                             1),
                 501);
    cr_assert_eq(scan_status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 1), 400);
    cr_assert_eq(scan_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 1), 400);
    cr_assert_eq(scan_status("GET http://a%20b/ HTTP/1.1\r\nHost: h\r\n\r\n", 1), 0);
    cr_assert_eq(scan_status("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 1), 0);
    cr_assert_eq(scan_status("GET / HTTP/1.0\r\n\r\n", 0), 0);
}

Test(head, response_rebuilt_for_the_client)
{
    static const char rsp[] = "HTTP/1.0 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
                              "Content-Length: 3\r\nKeep-Alive: timeout=4\r\nServer: s\r\n\r\n";
    lg_rsp_build_t b = {.close = 1};
    lg_rsp_head_t rs;
    char out[OUT_CAP];
    size_t n;

    cr_assert_eq(lg_rsp_head_scan(&rs, rsp, strlen(rsp)), 0);
    n = lg_rsp_head_build(&rs, &b, out, sizeof(out) - 1);
    out[n] = '\0';
    cr_assert_str_eq(out, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: s\r\n"
                          "Connection: close\r\n\r\n");
}

Test(head, response_chunked_kept_or_dropped)
{
    static const char rsp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    lg_rsp_build_t keep = {.keep_chunked = 1}, drop = {.close = 1};
    lg_rsp_head_t rs;
    char out[OUT_CAP];
    size_t n;

    cr_assert_eq(lg_rsp_head_scan(&rs, rsp, strlen(rsp)), 0);
    n = lg_rsp_head_build(&rs, &keep, out, sizeof(out) - 1);
    out[n] = '\0';
    cr_assert_str_eq(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    n = lg_rsp_head_build(&rs, &drop, out, sizeof(out) - 1);
    out[n] = '\0';
    cr_assert_str_eq(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
}

Test(head, build_reports_a_head_that_does_not_fit)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    lg_req_head_t rq;
    char out[40];

    cr_assert_eq(lg_req_head_scan(&rq, req, strlen(req), 1), 0);
    cr_assert_eq(lg_req_head_build(&rq, &plain, out, sizeof(out)), 0);
}

/* ---- routes */

static lg_route_conf_t routes[] = {
    {.host = "api.example.com", .path_prefix = "/v1/", .pool = 0},
    {.host = "*.example.com", .host_wildcard = 1, .pool = 1},
    {.path_prefix = "/static/", .pool = 2},
    {.pool = 3},
};
static const lg_listener_conf_t listener = {.routes = routes, .nroutes = 4};

static size_t route_of(const char *host, const char *path)
{
    lg_req_head_t rq = {.host = {host, strlen(host)}, .path = {path, strlen(path)}};
    const lg_route_conf_t *r = lg_route_match(&listener, &rq);

    cr_assert_not_null(r);
    return r->pool;
}

Test(route, first_match_wins)
{
    cr_assert_eq(route_of("api.example.com", "/v1/users"), 0);
    cr_assert_eq(route_of("api.example.com", "/v2/users"), 1);
    cr_assert_eq(route_of("www.example.com", "/static/a.css"), 1);
    cr_assert_eq(route_of("other.org", "/static/a.css"), 2);
    cr_assert_eq(route_of("other.org", "/"), 3);
}

Test(route, host_case_port_and_trailing_dot_ignored)
{
    cr_assert_eq(route_of("API.Example.COM:8080", "/v1/x"), 0);
    cr_assert_eq(route_of("api.example.com.", "/v1/x"), 0);
    cr_assert_eq(route_of("[::1]:80", "/"), 3);
}

Test(route, wildcard_needs_a_subdomain)
{
    cr_assert_eq(route_of("example.com", "/"), 3);
    cr_assert_eq(route_of("a.b.example.com", "/"), 1);
    cr_assert_eq(route_of("badexample.com", "/"), 3);
}

Test(route, no_match_is_null)
{
    lg_route_conf_t only = {.host = "a.example", .pool = 0};
    lg_listener_conf_t ls = {.routes = &only, .nroutes = 1};
    lg_req_head_t rq = {.host = {"b.example", 9}, .path = {"/", 1}};

    cr_assert_null(lg_route_match(&ls, &rq));
}

Test(head, header_and_cookie_lookup_for_hash_keys)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\nX-User: alice\r\n"
                              "Cookie: theme=dark; sid=abc123\r\nCookie: lang=en\r\n\r\n";
    lg_req_head_t rq;
    lg_span_t v;

    cr_assert_eq(lg_req_head_scan(&rq, req, strlen(req), 1), 0);
    v = lg_req_head_header(&rq, "x-user");
    cr_assert(v.len == 5 && memcmp(v.p, "alice", 5) == 0);
    v = lg_req_head_cookie(&rq, "sid");
    cr_assert(v.len == 6 && memcmp(v.p, "abc123", 6) == 0);
    v = lg_req_head_cookie(&rq, "lang");
    cr_assert(v.len == 2 && memcmp(v.p, "en", 2) == 0);
    cr_assert_eq(lg_req_head_cookie(&rq, "si").len, 0);
    cr_assert_eq(lg_req_head_header(&rq, "x-none").len, 0);
}

/* ---- issue 12: lengths, request line, header names and values, upgrades */

Test(head, largest_content_length_is_written_whole)
{
    lg_req_build_t b = plain;

    b.has_length = 1;
    b.length = 9223372036854775807ULL;
    cr_assert_str_eq(rebuild("POST /u HTTP/1.1\r\nHost: h\r\n"
                             "Content-Length: 9223372036854775807\r\n\r\n",
                             1, &b),
                     "POST /u HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.7\r\n"
                     "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n"
                     "Content-Length: 9223372036854775807\r\n\r\n");
    b.length = UINT64_MAX; /* the builder itself never cuts a number */
    cr_assert(strstr(rebuild("POST /u HTTP/1.1\r\nHost: h\r\n\r\n", 1, &b),
                     "\r\nContent-Length: 18446744073709551615\r\n\r\n") != NULL);
}

typedef struct scan_case {
    const char *head;
    int status;
} scan_case_t;

static const scan_case_t scan_cases[] = {
    /* Content-Length: up to 2^63-1 */
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", 0},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 00000000000000000000042\r\n\r\n", 0},
    /* request line: exactly method SP target SP version */
    {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET /\tHTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
    {"GET / x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
    {"GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 0},
    {"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    /* Host */
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost:   \r\n\r\n", 400},
    {"GET / HTTP/1.0\r\nHost:\r\n\r\n", 400},
    {"GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400},
    /* header names are tokens */
    {"GET / HTTP/1.1\r\nHost: h\r\nX Y: 1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX\"Y: 1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX/Y: 1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX-Y_Z!#$%&'*+.^`|~: 1\r\n\r\n", 0},
    /* names a CGI-style server reads as a framing, hop-by-hop or forwarding header */
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent_Length: 5\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\ncontent_length: 5\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nConnection_: 5\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: h\r\nKeep_Alive: 5\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nProxy_Connection: close\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 1.2.3.4\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded_Host: evil\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX_Request_Id: 1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nHTTP2_Settings: AAAA\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX_Custom: 1\r\n\r\n", 0},
    /* values: no control characters but HTAB */
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01"
     "b\r\n\r\n",
     400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n", 0},
    /* Upgrade lists */
    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: a b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket/13, x\r\n\r\n", 0},
};

Test(head, scan_answers_every_case)
{
    for (size_t i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++) {
        int status = scan_status(scan_cases[i].head, 1);

        cr_expect_eq(status, scan_cases[i].status, "%d, expected %d: %s", status,
                     scan_cases[i].status, scan_cases[i].head);
    }
}

Test(head, value_with_nul_is_rejected)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    lg_req_head_t rq;

    cr_assert_eq(lg_req_head_scan(&rq, req, sizeof(req) - 1, 1), 400);
}

Test(head, target_is_normalised_and_absolute_form_reduced)
{
    cr_assert_str_eq(rebuild("GET //a/./b/../%69nternal/%c3%a9?x=/../%4a HTTP/1.1\r\nHost: h\r\n"
                             "\r\n",
                             1, &plain),
                     "GET /a/internal/%C3%A9?x=/../%4a HTTP/1.1\r\nHost: h\r\n"
                     "X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\n"
                     "X-Forwarded-Host: h\r\n\r\n");
    cr_assert(strncmp(rebuild("GET http://h//x/../y HTTP/1.1\r\nHost: h\r\n\r\n", 1, &plain),
                      "GET /y HTTP/1.1\r\nHost: h\r\n", 26) == 0);
    cr_assert(strncmp(rebuild("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 1, &plain),
                      "OPTIONS * HTTP/1.1\r\n", 20) == 0);
}

static int target_status(const char *head)
{
    char path[PATH_CAP];
    lg_req_head_t rq;

    cr_assert_eq(lg_req_head_scan(&rq, head, strlen(head), 1), 0, "%s", head);
    return lg_req_head_target(&rq, path, sizeof(path));
}

Test(head, target_refused)
{
    cr_assert_eq(target_status("GET /a%2fb HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    cr_assert_eq(target_status("GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    cr_assert_eq(target_status("GET /../x HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    cr_assert_eq(target_status("GET http://h/%2e%2e/x HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

Test(head, h2c_and_http2_settings_never_forwarded)
{
    lg_req_build_t b = plain;
    lg_req_head_t rq;
    static const char h2c[] = "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                              "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";

    /* h2c alone: a plain request */
    cr_assert_eq(lg_req_head_scan(&rq, h2c, strlen(h2c), 1), 0);
    cr_assert_eq(rq.upgrade, 0);
    cr_assert_str_eq(rebuild(h2c, 1, &plain),
                     "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.7\r\n"
                     "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
    /* h2c among others: dropped from the list */
    b.upgrade = 1;
    cr_assert_str_eq(rebuild("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
                             "Upgrade: H2C, websocket\r\nUpgrade: foo/2\r\n"
                             "HTTP2-Settings: AAAA\r\n\r\n",
                             1, &b),
                     "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.7\r\n"
                     "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n"
                     "Upgrade: websocket, foo/2\r\nConnection: upgrade\r\n\r\n");
}

static int agreed(const char *rsp, const char *req)
{
    lg_rsp_head_t rs;

    cr_assert_eq(lg_rsp_head_scan(&rs, rsp, strlen(rsp)), 0);
    return lg_rsp_upgrade_agreed(&rs, req, strlen(req));
}

Test(head, switching_protocols_only_to_one_asked_for)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket, foo/2\r\n"
                              "Connection: upgrade\r\n\r\n";

    cr_assert(agreed("HTTP/1.1 101 S\r\nUpgrade: WebSocket\r\n\r\n", req));
    cr_assert(agreed("HTTP/1.1 101 S\r\nUpgrade: foo/2\r\n\r\n", req));
    cr_assert_not(agreed("HTTP/1.1 101 S\r\nUpgrade: h2c\r\n\r\n", req));
    cr_assert_not(agreed("HTTP/1.1 101 S\r\nUpgrade: foo\r\n\r\n", req));
    cr_assert_not(agreed("HTTP/1.1 101 S\r\nUpgrade: websocket, tls\r\n\r\n", req));
    cr_assert_not(agreed("HTTP/1.1 101 S\r\nConnection: upgrade\r\n\r\n", req));
}

Test(head, response_rules)
{
    static const char *bad[] = {
        "HTTP/1.1 200 OK\r\nX Y: 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
        /* llhttp 8.1 ends the status line at this CR: "Connection: x" would be a header */
        "HTTP/1.1 200 OK\r\x02Connection: x\r\nX: 1\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        /* RFC 9110 15: a status outside 100..599 is invalid */
        "HTTP/1.1 000 X\r\n\r\n",
        "HTTP/1.1 099 X\r\n\r\n",
        "HTTP/1.1 600 X\r\n\r\n",
        "HTTP/1.1 999 X\r\n\r\n",
    };
    static const char rsp[] = "HTTP/1.1 200 OK\r\nHTTP2-Settings: AAAA\r\nContent-Length: "
                              "9223372036854775807\r\n\r\n";
    lg_rsp_build_t b = {0};
    lg_rsp_head_t rs;
    char out[OUT_CAP];
    size_t n;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(lg_rsp_head_scan(&rs, bad[i], strlen(bad[i])), LG_ERR, "%s", bad[i]);
    cr_assert_eq(lg_rsp_head_scan(&rs, rsp, strlen(rsp)), 0);
    n = lg_rsp_head_build(&rs, &b, out, sizeof(out) - 1);
    out[n] = '\0';
    cr_assert_str_eq(out, "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n");
    cr_assert_eq(lg_rsp_head_scan(&rs, "HTTP/1.1 200\r\n\r\n", 16), 0);
    cr_assert_eq(lg_rsp_head_scan(&rs, "HTTP/1.0 599 \tx\xff\r\n\r\n", 20), 0);
}

/* Transfer-Encoding decides the request's framing (issue 12, defect 4): never a guess. */
Test(head, request_transfer_encoding_forms)
{
    static const struct {
        const char *te;
        int status;
    } cases[] = {
        {"Transfer-Encoding: chunked\r\n", 0},
        {"Transfer-Encoding: chunked\t\r\n", 0},
        {"Transfer-Encoding: Chunked\r\n", 0},
        {"Transfer-Encoding: \tCHUNKED \r\n", 0},
        {"Transfer-Encoding: chunked , \r\n", 0},
        {"Transfer-Encoding: gzip, chunked\r\n", 501},
        {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501},
        {"Transfer-Encoding: gzip\r\n", 400},
        {"Transfer-Encoding: chunked, gzip\r\n", 400},
        {"Transfer-Encoding: chunked, chunked\r\n", 400},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
        {"Transfer-Encoding: chunked;q=1\r\n", 400},
        {"Transfer-Encoding: \r\n", 400},
        {"Transfer-Encoding: \"chunked\"\r\n", 400},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char head[256];
        lg_req_head_t rq;
        int status;

        snprintf(head, sizeof(head), "POST / HTTP/1.1\r\nHost: h\r\n%s\r\n", cases[i].te);
        status = lg_req_head_scan(&rq, head, strlen(head), 1);
        cr_assert_eq(status, cases[i].status, "case %zu (%s): %d", i, cases[i].te, status);
        if (status == 0)
            cr_assert_eq(rq.te, LG_TE_CHUNKED, "case %zu", i);
    }
}

/* A response's codings are re-emitted by lifeguard, as the body goes out. */
Test(head, response_transfer_encoding_rebuilt)
{
    static const struct {
        const char *te;
        lg_te_framing_t framing;
        lg_rsp_build_t b;
        const char *want; /* the Transfer-Encoding line sent, or "" */
    } cases[] = {
        {"chunked\t",
         LG_TE_CHUNKED,
         {.keep_chunked = 1, .keep_codings = 1},
         "Transfer-Encoding: chunked\r\n"},
        {"Chunked", LG_TE_CHUNKED, {.keep_codings = 1}, ""}, /* decoded for HTTP/1.0 */
        {"gzip , chunked",
         LG_TE_CODED,
         {.keep_chunked = 1, .keep_codings = 1},
         "Transfer-Encoding: gzip, chunked\r\n"},
        {"gzip, chunked", LG_TE_CODED, {.keep_codings = 1}, "Transfer-Encoding: gzip\r\n"},
        {"gzip", LG_TE_CLOSE, {.keep_codings = 1}, "Transfer-Encoding: gzip\r\n"},
        {"chunked,gzip", LG_TE_CLOSE, {.keep_codings = 1}, "Transfer-Encoding: chunked, gzip\r\n"},
        {"gzip", LG_TE_CLOSE, {0}, ""}, /* no body (HEAD, 204, 304) */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rsp[256], out[OUT_CAP], want[256];
        lg_rsp_head_t rs;
        size_t n;

        snprintf(rsp, sizeof(rsp), "HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\nX-A: 1\r\n\r\n",
                 cases[i].te);
        cr_assert_eq(lg_rsp_head_scan(&rs, rsp, strlen(rsp)), LG_OK, "case %zu", i);
        cr_assert_eq(rs.te, cases[i].framing, "case %zu", i);
        n = lg_rsp_head_build(&rs, &cases[i].b, out, sizeof(out) - 1);
        out[n] = '\0';
        snprintf(want, sizeof(want), "HTTP/1.1 200 OK\r\nX-A: 1\r\n%s\r\n", cases[i].want);
        cr_assert_str_eq(out, want, "case %zu", i);
    }
}

Test(head, malformed_response_transfer_encoding_is_refused)
{
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chu nked\r\n\r\n",
    };
    lg_rsp_head_t rs;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(lg_rsp_head_scan(&rs, bad[i], strlen(bad[i])), LG_ERR, "case %zu", i);
}

/* Host syntax (RFC 3986 host [":" port]) and the HTTP-version form, one row each. */
Test(head, host_and_version_syntax)
{
    static const struct {
        const char *text;
        int host_ok, version_ok;
    } rows[] = {
        {"example.com", 1, 0}, {"example.com:8080", 1, 0},
        {"t:", 1, 0},          {"127.0.0.1:80", 1, 0},
        {"[::1]", 1, 0},       {"[::1]:443", 1, 0},
        {"t:8x", 0, 0},        {"t:80:80", 0, 0},
        {"[::1", 0, 0},        {"[::1]x", 0, 0},
        {"[v1.x]", 0, 0},      {"u@t", 0, 0},
        {"t/x", 0, 0},         {"t evil", 0, 0},
        {"HTTP/1.1", 0, 1},    {"HTTP/3.0", 0, 1},
        {"HTTP/1.10", 0, 0},   {"HTTP/1", 0, 0},
        {"http/1.1", 0, 0},    {"HTTP/a.1", 0, 0},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        lg_span_t v = {rows[i].text, strlen(rows[i].text)};

        if (strncmp(rows[i].text, "HTTP", 4) != 0 && strncmp(rows[i].text, "http", 4) != 0)
            cr_expect_eq(lg_field_host_valid(v), rows[i].host_ok, "host %s", rows[i].text);
        cr_expect_eq(lg_field_is_http_version(v), rows[i].version_ok, "version %s", rows[i].text);
    }
}
