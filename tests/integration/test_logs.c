/*
 * test_logs.c - what the error log tells an operator: errors that name their place (the
 * listener and FILE:LINE:COL of a failing bind, the pool, client and request line of a failing
 * backend connect, the ejection after the failure it counts).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_common.h"

/* A port nobody listens on right now (bind to 0, read it, close). */
static int lgs_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Position in `log` of the n-th (0-based) line containing `needle`; -1 when there is none. */
static long lgs_nth(const char *log, const char *needle, int n)
{
    const char *p = log;

    for (int i = 0; (p = strstr(p, needle)) != NULL; i++, p++) {
        if (i == n)
            return p - log;
    }
    return -1;
}

/* ---- errors that name their place */

Test(logs, failed_bind_names_listener_and_place, .timeout = 30)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;
    char *out;

    /* a port that is taken: the listener's bind() fails with EADDRINUSE */
    cr_assert_eq(bind(taken, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(taken, 1), 0);
    cr_assert_eq(getsockname(taken, (struct sockaddr *)&a, &len), 0);
    rc = lg_lifeguard_run(lg_fmt(LGT_HEAD "listeners:\n"
                                          "  web:\n"
                                          "    listen: 127.0.0.1:%d\n"
                                          "    routes:\n"
                                          "      - pool: app\n"
                                          "pools:\n"
                                          "  app:\n"
                                          "    backends: [127.0.0.1:9]\n",
                                 ntohs(a.sin_port)),
                          "", &out);
    close(taken);
    cr_assert_neq(rc, 0, "lifeguard started on a port in use: %s", out);
    cr_assert_not_null(
        strstr(out, lg_fmt("/lifeguard.yaml:5:13): bind() to 127.0.0.1:%d failed (98: Address "
                           "already in use)",
                           ntohs(a.sin_port))),
        "no line with the place of the listen address: %s", out);
    cr_assert_not_null(strstr(out, "[error] "), "%s", out);
    cr_assert_not_null(strstr(strstr(out, "[error] "), ": listener web ("), "%s", out);
}

/*
 * A refused connect names the pool, the client and the request line (nginx's habit), and the
 * ejection that the third failure in a row causes is logged after that failure.
 */
Test(logs, refused_connect_names_pool_client_request, .timeout = 30)
{
    int dead = lgs_free_port();
    lg_proc_t *lg = lgt_start_single(dead, "", "");
    int port = lg_proc_port(lg, "web");
    const char *log;
    long third, ejected;

    for (int i = 0; i < 3; i++)
        lgt_assert_status(lg_http_get(port, lg_fmt("/a%d?x=\"q\"", i), NULL), 502);
    lg_proc_wait_log(lg, 0, "ejected for", 2000);
    log = lg_proc_log(lg);
    for (int i = 0; i < 3; i++)
        cr_expect_not_null(
            strstr(log, lg_fmt("connect() to 127.0.0.1:%d failed (111: Connection "
                               "refused) while connecting to upstream, pool: app, "
                               "client: 127.0.0.1, request: \"GET /a%d?x=\\x22q\\x22 "
                               "HTTP/1.1\"\n",
                               dead, i)),
            "no connect() line for request %d:\n%s", i, log);
    third = lgs_nth(log, "connect() to", 2);
    ejected = lgs_nth(log, "ejected for 5 s after 3 failures", 0);
    cr_assert_geq(third, 0, "%s", log);
    cr_assert_geq(ejected, 0, "%s", log);
    cr_expect_gt(ejected, third, "the ejection is logged before the failure it counts:\n%s", log);
    lgt_finish(lg, "connect() to");
}

/* ---- access log lines of lifeguard's own replies */

/* Send `raw` on a new connection; the status of the answer. */
static int lgs_raw(int port, const char *raw, size_t len)
{
    lg_client_t *c = lg_client_connect(port);
    lg_http_response_t *r;

    cr_assert_eq(lg_client_send(c, raw, len), 0);
    r = lg_client_read(c, 0);
    lg_client_close(c);
    return r->status;
}

Test(logs, own_replies_log_method_and_path, .timeout = 30)
{
    static const struct {
        const char *head; /* the request line and headers; a 20 KiB header follows when big */
        int big;
        int status;
        const char *logged; /* in the JSON line */
    } cases[] = {
        {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0, 405,
         "\"method\":\"CONNECT\",\"path\":\"example.com:443\",\"protocol\":\"HTTP/1.1\",\"status\":"
         "405"},
        {"GET /big?q=1 HTTP/1.1\r\nHost: x\r\nX-Big: ", 1, 431,
         "\"method\":\"GET\",\"path\":\"/big?q=1\",\"protocol\":\"HTTP/1.1\",\"status\":431"},
        {"POST /bad HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 0, 400,
         "\"method\":\"POST\",\"path\":\"/bad\",\"protocol\":\"HTTP/1.1\",\"status\":400"},
    };
    lg_proc_t *o = lg_origin_start("--quiet");
    lg_proc_t *lg;
    char *log;

    lg = lg_lifeguard_startf("workers: 1\n"
                             "log: {level: info, error: stderr, access: stdout, "
                             "access_format: json}\n"
                             "listeners:\n"
                             "  web:\n"
                             "    listen: 127.0.0.1:0\n"
                             "    routes:\n"
                             "      - pool: app\n"
                             "pools:\n"
                             "  app:\n"
                             "    health_check: {type: none}\n"
                             "    backends:\n"
                             "      - address: 127.0.0.1:%d\n",
                             o->port);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *raw = cases[i].big ? lg_fmt("%s%0*d\r\n\r\n", cases[i].head, 20000, 0)
                                 : lg_fmt("%s", cases[i].head);

        cr_assert_eq(lgs_raw(lg_proc_port(lg, "web"), raw, strlen(raw)), cases[i].status,
                     "case %zu", i);
    }
    cr_assert_eq(lg_proc_stop(lg), 0); /* TERM: the access log is written on the way out */
    log = lg_proc_access_log(lg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_not_null(strstr(log, cases[i].logged), "no line with %s:\n%s", cases[i].logged,
                           log);
    lgt_finish(lg, NULL);
}
