/*
 * test_request_head.c - what the backend receives, byte for byte, for the request heads of
 * issue 12: the largest Content-Length, paths that would escape a path_prefix when compared raw,
 * request lines, Host and header names and values, h2c and 101 answers. The backend is a raw
 * socket of the test (lg_test_raw.h) that keeps the exact bytes; a refused request must reach no
 * backend at all.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "lg_test.h"
#include "lg_test_raw.h"
#include "proxy_common.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define WAIT_MS   5000
#define NONE_MS   200 /* a refused request: no connection to the backend within this */
#define OK_CLOSE  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
#define NUL_REQ   "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n" /* strlen() stops at the NUL */
#define RID       "X-Request-Id: t\r\n" /* fixed, so the rebuilt head is known to the byte */

/* What lifeguard adds for a client on 127.0.0.1 with Host h. */
#define FWD "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n"

/* A raw backend: its listening socket; its port in *port. */
static int backend_listen(int *port)
{
    int lfd = lg_raw_listen(port);

    cr_assert_geq(lfd, 0);
    return lfd;
}

/* A client that sent `len` bytes of `req`. */
static lg_client_t *client_send(int port, const char *req, size_t len)
{
    lg_client_t *c = lg_client_connect(port);

    cr_assert_not_null(c);
    lg_client_set_timeout(c, WAIT_MS);
    cr_assert_eq(lg_client_send(c, req, len), 0);
    return c;
}

/* Send `req` (len bytes) on a new connection, for an answer lifeguard gives itself. */
static lg_http_response_t *exchange(int port, const char *req, size_t len)
{
    lg_client_t *c = client_send(port, req, len);
    lg_http_response_t *r = lg_client_read(c, 0);

    lg_client_close(c);
    return r;
}

/*
 * The next connection to the backend `lfd` must carry exactly `want`: a head, then the
 * `body_len` bytes that end it, and nothing more by then. Returns that connection.
 */
static lg_raw_t *backend_receives(int lfd, const char *want, size_t body_len)
{
    lg_raw_t *be = lg_raw_accept(lfd, WAIT_MS);
    char *m;

    cr_assert_not_null(be, "lifeguard did not connect to the backend; expected:\n%s", want);
    m = lg_raw_read_message(be, body_len, NULL, WAIT_MS);
    cr_assert_not_null(m, "the backend received %zu bytes: %.*s", be->len, (int)be->len, be->buf);
    cr_assert_str_eq(m, want, "the backend received:\n%s\nexpected:\n%s", m, want);
    cr_assert_eq(lg_raw_pending(be), 0, "and then: %.*s", (int)be->len, be->buf);
    return be;
}

/*
 * `req` through lifeguard to the backend `lfd`, which must receive exactly `want` (its head and
 * body_len bytes) and answers `rsp`; the client's response (1xx returned, with `flags`).
 */
static lg_http_response_t *through(int port, int lfd, const char *req, const char *want,
                                   size_t body_len, const char *rsp)
{
    lg_client_t *c = client_send(port, req, strlen(req));
    lg_raw_t *be = backend_receives(lfd, want, body_len);
    lg_http_response_t *r;

    cr_assert_eq(lg_raw_write(be, rsp, strlen(rsp)), 0);
    r = lg_client_read(c, LG_READ_INTERIM);
    lg_raw_close(be);
    lg_client_close(c);
    return r;
}

/* `req` through lifeguard to a raw backend: the client gets 200, the backend exactly `want`. */
static void forwarded_as(const char *req, const char *want)
{
    int bport, lfd = backend_listen(&bport);
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(bport));

    lgt_assert_status(through(lg_proc_port(lg, "web"), lfd, req, want, 0, OK_CLOSE), 200);
    lg_lifeguard_finish(lg, NULL);
}

/* One listener: path_prefix /internal/ to pool `internal`, everything else to `public`. */
static lg_proc_t *start_two_pools(int internal_port, int public_port)
{
    lg_yaml_t *conf = lg_yaml_single(public_port);

    lg_yaml_set(conf, "listeners.web.routes", NULL);
    lg_yaml_add(conf, "listeners.web.routes", "{path_prefix: /internal/, pool: internal}");
    lg_yaml_add(conf, "listeners.web.routes", "{pool: public}");
    lg_yaml_set(conf, "pools.app", NULL);
    lg_yaml_set(conf, "pools.internal.health_check.type", "none");
    lg_yaml_add(conf, "pools.internal.backends", "127.0.0.1:%d", internal_port);
    lg_yaml_set(conf, "pools.public.health_check.type", "none");
    lg_yaml_add(conf, "pools.public.backends", "127.0.0.1:%d", public_port);
    return lg_yaml_start(conf);
}

/* ---- defect 2: Content-Length up to 2^63-1, formatted whole */

Test(request_head, largest_content_length_reaches_the_backend_whole)
{
    int bport, lfd = backend_listen(&bport);
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(bport));
    static const char req[] =
        "POST /up HTTP/1.1\r\nHost: h\r\n" RID "Content-Length: 9223372036854775807\r\n\r\nabc";

    /* the body never ends: the head, then the 3 bytes sent, and the backend answers early */
    through(lg_proc_port(lg, "web"), lfd, req,
            "POST /up HTTP/1.1\r\nHost: h\r\n" RID FWD
            "Content-Length: 9223372036854775807\r\n\r\nabc",
            3, OK_CLOSE);
    lg_lifeguard_finish(lg, NULL);
}

Test(request_head, content_length_above_2_63_is_400)
{
    int bport, lfd = backend_listen(&bport);
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(bport));
    int port = lg_proc_port(lg, "web");
    static const char *const bad[] = {
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\nabc",
    };

    for (size_t i = 0; i < NELEMS(bad); i++)
        lgt_assert_status(exchange(port, bad[i], strlen(bad[i])), 400);
    cr_assert_null(lg_raw_accept(lfd, NONE_MS), "a refused request reached the backend");
    lg_lifeguard_finish(lg, NULL);
}

/* ---- defect 5: route on the normalised path, forward the normalised path */

Test(request_head, normalised_path_is_routed_and_forwarded)
{
    int iport, pport, internal = backend_listen(&iport), pub = backend_listen(&pport);
    lg_proc_t *lg = start_two_pools(iport, pport);
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

        lgt_assert_status(through(port, internal, req,
                                  "GET /internal/x HTTP/1.1\r\nHost: h\r\n" RID FWD "\r\n", 0,
                                  OK_CLOSE),
                          200);
    }
    /* absolute-form: the authority becomes Host, written after the other headers */
    lgt_assert_status(through(port, internal, absolute,
                              "GET /internal/x HTTP/1.1\r\n" RID "Host: h\r\n" FWD "\r\n", 0,
                              OK_CLOSE),
                      200);
    cr_assert_null(lg_raw_accept(pub, NONE_MS), "an /internal/ request went to the public pool");
    lg_lifeguard_finish(lg, NULL);
}

Test(request_head, escapes_are_made_canonical)
{
    forwarded_as("GET /a%3fb/caf\xc3\xa9/%7e?q=%2f..%2F&x HTTP/1.1\r\nHost: h\r\n" RID "\r\n",
                 "GET /a%3Fb/caf%C3%A9/~?q=%2f..%2F&x HTTP/1.1\r\nHost: h\r\n" RID FWD "\r\n");
}

/* ---- defects 5 and 6: what is refused with 400, before any backend sees it */

Test(request_head, refused_heads_reach_no_backend)
{
    int bport, lfd = backend_listen(&bport);
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(bport));
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
        {NUL_REQ, sizeof(NUL_REQ) - 1},
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
    cr_assert_null(lg_raw_accept(lfd, NONE_MS), "a refused request reached the backend");
    lg_lifeguard_finish(lg, NULL);
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
    int bport, lfd = backend_listen(&bport);
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(bport));
    lg_http_response_t *r = through(
        lg_proc_port(lg, "web"), lfd,
        lg_fmt("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: %s\r\n" RID "\r\n",
               req_upgrade),
        lg_fmt("GET /ws HTTP/1.1\r\nHost: h\r\n" RID FWD
               "Upgrade: %s\r\nConnection: upgrade\r\n\r\n",
               want_sent),
        0,
        lg_fmt("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: %s\r\n\r\n",
               rsp_upgrade));

    lg_lifeguard_finish(lg, "sent an invalid response head");
    return r->status;
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
    int bport, lfd = backend_listen(&bport);
    lg_proc_t *lg = lg_yaml_start(lg_yaml_single(bport));
    lg_http_response_t *r =
        through(lg_proc_port(lg, "web"), lfd, "GET / HTTP/1.1\r\nHost: h\r\n" RID "\r\n",
                "GET / HTTP/1.1\r\nHost: h\r\n" RID FWD "\r\n", 0,
                "HTTP/1.1 200 OK\r\x02Set-Cookie: a=1\r\nContent-Length: 2\r\n"
                "Connection: close\r\n\r\nok");

    lgt_assert_status(r, 502);
    cr_assert_null(lg_http_header(r, "Set-Cookie"));
    lg_lifeguard_finish(lg, "sent an invalid response head");
}
