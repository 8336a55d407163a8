/*
 * test_request_head.c - what the backend receives, byte for byte, for the request heads of
 * issue 12: the largest Content-Length, paths that would escape a path_prefix when compared raw,
 * request lines, Host and header names and values, h2c and 101 answers. A recording backend
 * (lg_test_record.h) keeps the exact bytes; a refused request must reach no backend at all.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "lg_test.h"
#include "lg_test_record.h"
#include "proxy_common.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define RID       "X-Request-Id: t\r\n" /* fixed, so the rebuilt head is known to the byte */

/* What lifeguard adds for a client on 127.0.0.1 with Host h. */
#define FWD "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n"

/* Send `req` (len bytes) on a new connection; the response. */
static lg_http_response_t *exchange(int port, const char *req, size_t len)
{
    lg_client_t *c = lg_client_connect(port);
    lg_http_response_t *r;

    cr_assert_not_null(c);
    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_send(c, req, len), 0);
    r = lg_client_read(c, 0);
    lg_client_close(c);
    return r;
}

/* The request `i` the recorder got must be exactly `want`. */
static void assert_received(lg_recorder_t *rec, size_t i, const char *want)
{
    size_t len = 0;
    const char *got = lg_recorder_request(rec, i, lg_test_timeout_ms(), &len);

    cr_assert_not_null(got, "the backend received no request %zu; expected:\n%s", i, want);
    cr_assert(len == strlen(want) && memcmp(got, want, len) == 0,
              "the backend received:\n%.*s\nexpected:\n%s", (int)len, got, want);
}

/* `req` through lifeguard to a recording backend: the client gets 200, the backend `want`. */
static void forwarded_as(const char *req, const char *want)
{
    lg_recorder_t *rec = lg_recorder_start(NULL);
    lg_proc_t *lg = lgt_start_single(lg_recorder_port(rec), "", "");

    lgt_assert_status(exchange(lg_proc_port(lg, "web"), req, strlen(req)), 200);
    assert_received(rec, 0, want);
    cr_assert_eq(lg_recorder_count(rec), 1, "the backend received more than one request");
    lgt_finish(lg, NULL);
}

/* One listener: path_prefix /internal/ to pool `internal`, everything else to `public`. */
static lg_proc_t *start_two_pools(int internal_port, int public_port)
{
    return lg_lifeguard_startf(LGT_HEAD "listeners:\n"
                                        "  web:\n"
                                        "    listen: 127.0.0.1:0\n"
                                        "    routes:\n"
                                        "      - path_prefix: /internal/\n"
                                        "        pool: internal\n"
                                        "      - pool: public\n"
                                        "pools:\n"
                                        "  internal:\n"
                                        "    health_check: {type: none}\n"
                                        "    backends:\n"
                                        "      - address: 127.0.0.1:%d\n"
                                        "  public:\n"
                                        "    health_check: {type: none}\n"
                                        "    backends:\n"
                                        "      - address: 127.0.0.1:%d\n",
                               internal_port, public_port);
}

/* ---- defect 2: Content-Length up to 2^63-1, formatted whole */

Test(request_head, largest_content_length_reaches_the_backend_whole)
{
    lg_recorder_t *rec = lg_recorder_start(NULL);
    lg_proc_t *lg = lgt_start_single(lg_recorder_port(rec), "", "");
    int port = lg_proc_port(lg, "web");
    static const char req[] =
        "POST /up HTTP/1.1\r\nHost: h\r\n" RID "Content-Length: 9223372036854775807\r\n\r\nabc";

    exchange(port, req, strlen(req));
    assert_received(rec, 0,
                    "POST /up HTTP/1.1\r\nHost: h\r\n" RID FWD
                    "Content-Length: 9223372036854775807\r\n\r\n");
    lgt_finish(lg, NULL);
}

Test(request_head, content_length_above_2_63_is_400)
{
    lg_recorder_t *rec = lg_recorder_start(NULL);
    lg_proc_t *lg = lgt_start_single(lg_recorder_port(rec), "", "");
    int port = lg_proc_port(lg, "web");
    static const char *const bad[] = {
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\nabc",
    };

    for (size_t i = 0; i < NELEMS(bad); i++)
        lgt_assert_status(exchange(port, bad[i], strlen(bad[i])), 400);
    cr_assert_eq(lg_recorder_count(rec), 0, "a refused request reached the backend");
    lgt_finish(lg, NULL);
}

/* ---- defect 5: route on the normalised path, forward the normalised path */

Test(request_head, normalised_path_is_routed_and_forwarded)
{
    lg_recorder_t *internal = lg_recorder_start(NULL), *pub = lg_recorder_start(NULL);
    lg_proc_t *lg = start_two_pools(lg_recorder_port(internal), lg_recorder_port(pub));
    int port = lg_proc_port(lg, "web");
    static const char *const targets[] = {
        "/internal/x",
        "//internal/x",
        "/./internal/x",
        "/a/../internal/x",
        "/%69nternal/x",
        "/%2e/internal//x",
        "/a/%2E%2e/internal/./x",
        "///internal/y/../x",
        "/INTERNAL/../%69%6E%74%65%72%6E%61%6C/x",
    };
    static const char absolute[] = "GET http://h//internal/./x HTTP/1.1\r\nHost: h\r\n" RID "\r\n";

    for (size_t i = 0; i < NELEMS(targets); i++) {
        const char *req = lg_fmt("GET %s HTTP/1.1\r\nHost: h\r\n" RID "\r\n", targets[i]);

        lgt_assert_status(exchange(port, req, strlen(req)), 200);
        assert_received(internal, i, "GET /internal/x HTTP/1.1\r\nHost: h\r\n" RID FWD "\r\n");
    }
    /* absolute-form: the authority becomes Host, written after the other headers */
    lgt_assert_status(exchange(port, absolute, strlen(absolute)), 200);
    assert_received(internal, NELEMS(targets),
                    "GET /internal/x HTTP/1.1\r\n" RID "Host: h\r\n" FWD "\r\n");
    cr_assert_eq(lg_recorder_count(pub), 0, "an /internal/ request went to the public pool");
    lgt_finish(lg, NULL);
}

Test(request_head, escapes_are_made_canonical)
{
    forwarded_as("GET /a%3fb/caf\xc3\xa9/%7e?q=%2f..%2F&x HTTP/1.1\r\nHost: h\r\n" RID "\r\n",
                 "GET /a%3Fb/caf%C3%A9/~?q=%2f..%2F&x HTTP/1.1\r\nHost: h\r\n" RID FWD "\r\n");
}

/* ---- defects 5 and 6: what is refused with 400, before any backend sees it */

Test(request_head, refused_heads_reach_no_backend)
{
    lg_recorder_t *rec = lg_recorder_start(NULL);
    lg_proc_t *lg = lgt_start_single(lg_recorder_port(rec), "", "");
    int port = lg_proc_port(lg, "web");
    static const struct {
        const char *req;
        size_t len; /* 0: strlen */
    } bad[] = {
        /* paths */
        {"GET /%2e%2e/internal/x HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /..%2finternal/x HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /a/../../x HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /internal%2Fx HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /x%00 HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /x%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /x#f HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        /* request lines */
        {"GET  /x HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET /x\tHTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET x HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        /* Host */
        {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: \r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 0},
        /* names and values */
        {"GET / HTTP/1.1\r\nHost: h\r\nX Y: 1\r\n\r\n", 0},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\n\r\n"
         "0\r\n\r\n",
         0},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent_Length: 5\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
         0},
        {"GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 10.0.0.1\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 38},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01"
         "b\r\n\r\n",
         0},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 0},
    };

    for (size_t i = 0; i < NELEMS(bad); i++) {
        size_t len = bad[i].len != 0 ? bad[i].len : strlen(bad[i].req);
        lg_http_response_t *r = exchange(port, bad[i].req, len);

        cr_expect_eq(r->status, 400, "%d for case %zu: %.*s", r->status, i, (int)len, bad[i].req);
    }
    cr_assert_eq(lg_recorder_count(rec), 0, "a refused request reached the backend");
    lgt_finish(lg, NULL);
}

Test(request_head, options_star_is_forwarded)
{
    forwarded_as("OPTIONS * HTTP/1.1\r\nHost: h\r\n" RID "\r\n",
                 "OPTIONS * HTTP/1.1\r\nHost: h\r\n" RID FWD "\r\n");
}

/* ---- defect 7: h2c and HTTP2-Settings never forwarded; a 101 only to what was asked */

Test(request_head, h2c_upgrade_is_a_plain_request)
{
    forwarded_as("GET /h HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                 "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n" RID "\r\n",
                 "GET /h HTTP/1.1\r\nHost: h\r\n" RID FWD "\r\n");
}

/* A backend that switches to `rsp_upgrade` when asked for `req_upgrade`: the client's status. */
static int switch_status(const char *req_upgrade, const char *rsp_upgrade, const char *want_sent)
{
    lg_recorder_t *rec = lg_recorder_start(lg_fmt("HTTP/1.1 101 Switching Protocols\r\n"
                                                  "Connection: upgrade\r\nUpgrade: %s\r\n\r\n",
                                                  rsp_upgrade));
    lg_proc_t *lg = lgt_start_single(lg_recorder_port(rec), "", "");
    const char *req = lg_fmt("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
                             "Upgrade: %s\r\n" RID "\r\n",
                             req_upgrade);
    lg_client_t *c = lg_client_connect(lg_proc_port(lg, "web"));
    lg_http_response_t *r;
    int status;

    cr_assert_not_null(c);
    lg_client_set_timeout(c, 5000);
    cr_assert_eq(lg_client_send(c, req, strlen(req)), 0);
    r = lg_client_read(c, LG_READ_INTERIM);
    status = r->status;
    assert_received(rec, 0,
                    lg_fmt("GET /ws HTTP/1.1\r\nHost: h\r\n" RID FWD
                           "Upgrade: %s\r\nConnection: upgrade\r\n\r\n",
                           want_sent));
    lg_client_close(c);
    lgt_finish(lg, "sent an invalid response head");
    return status;
}

Test(request_head, switching_to_the_protocol_asked_for)
{
    cr_assert_eq(switch_status("websocket", "WebSocket", "websocket"), 101);
}

Test(request_head, switching_to_another_protocol_is_502)
{
    cr_assert_eq(switch_status("websocket", "foo", "websocket"), 502);
}

Test(request_head, switching_to_h2c_is_502)
{
    cr_assert_eq(switch_status("h2c, websocket", "h2c", "websocket"), 502);
}

/* ---- the response head: a status line llhttp 8.1 ends early is a 502 */

Test(request_head, status_line_with_a_bare_cr_is_502)
{
    lg_recorder_t *rec = lg_recorder_start("HTTP/1.1 200 OK\r\x02Set-Cookie: a=1\r\n"
                                           "Content-Length: 2\r\nConnection: close\r\n\r\nok");
    lg_proc_t *lg = lgt_start_single(lg_recorder_port(rec), "", "");
    static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\n" RID "\r\n";
    lg_http_response_t *r = exchange(lg_proc_port(lg, "web"), req, strlen(req));

    lgt_assert_status(r, 502);
    cr_assert_null(lg_http_header(r, "Set-Cookie"));
    lgt_finish(lg, "sent an invalid response head");
}
