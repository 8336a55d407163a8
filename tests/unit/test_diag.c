/*
 * test_diag.c - the context of error lines (src/http/diag.c): the request line of a refused
 * request split for the logs, and nginx's ", client: ..., request: ..." ending.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "http/diag.h"

Test(diag, request_line_split)
{
    static const struct {
        const char *line, *method, *target;
    } cases[] = {
        {"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/a?b"},
        {"CONNECT example.com:443 HTTP/1.1\r\n", "CONNECT", "example.com:443"},
        {"GET /no-version\r\n", "GET", "/no-version"},
        {"GET /cut-short", "GET", "/cut-short"},
        {"GET /bare-lf HTTP/1.1\nHost: x\n", "GET", "/bare-lf"},
        {"GARBAGE\r\n", "GARBAGE", ""},
        {" /x HTTP/1.1\r\n", "", "/x"},
        {"\r\n", "", ""},
        {"", "", ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lg_span_t m, t;

        lg_diag_request_line(cases[i].line, strlen(cases[i].line), &m, &t);
        cr_assert_eq(m.len, strlen(cases[i].method), "case %zu: method length %zu", i, m.len);
        cr_assert_eq(t.len, strlen(cases[i].target), "case %zu: target length %zu", i, t.len);
        cr_assert(memcmp(m.p, cases[i].method, m.len) == 0, "case %zu", i);
        cr_assert(memcmp(t.p, cases[i].target, t.len) == 0, "case %zu", i);
    }
}

Test(diag, context_names_pool_client_and_request)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    char buf[LG_DIAG_MAX];
    lg_diag_req_t r = {"app", (struct sockaddr *)&a, "GET", "/a\"b", 1, 1};

    cr_assert_str_eq(lg_diag_context(&r, buf, sizeof(buf)),
                     ", pool: app, client: 127.0.0.1, request: \"GET /a\\x22b HTTP/1.1\"");
    r.major = r.minor = 0; /* the version did not parse */
    cr_assert_str_eq(lg_diag_context(&r, buf, sizeof(buf)),
                     ", pool: app, client: 127.0.0.1, request: \"GET /a\\x22b\"");
    r.pool = NULL;
    r.method = ""; /* a tcp listener's connection */
    cr_assert_str_eq(lg_diag_context(&r, buf, sizeof(buf)), ", client: 127.0.0.1");
}
