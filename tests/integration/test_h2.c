/*
 * test_h2.c - the HTTP/2 front (#15) seen by real third-party clients: curl over TLS (ALPN h2)
 * and with prior knowledge on a plain listener (h2c), nghttp with 100 streams on one
 * connection, and Python's h2 (tests/support/h2_streams.py) with 100 concurrent streams whose
 * bodies are checked by SHA-256 both ways. Asserts what users see: the protocol the client got,
 * status, headers and bytes; what the backend (lg-origin /echo) received; the access log line
 * and the metrics. Negotiation: `http2: off` on TLS gives HTTP/1.1, a plain listener without
 * `http2` refuses the preface, and HTTP/1.1 keeps working on an h2c port.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg_test.h"
#include "lg_test_tls.h"
#include "proxy_common.h"

#define SNI         "www.example.com"
#define SMALL_BODY  "name=lifeguard&protocol=h2"
#define LARGE_BODY  (10ULL * MIB)
#define LARGE_REPLY (64ULL * MIB)
#define STREAMS     100

/* The two ways a client reaches the HTTP/2 front. */
typedef struct h2_way {
    const char *name;
    int tls;          /* TLS listener (ALPN) or plain listener with http2: on (h2c) */
    const char *flag; /* curl's option for HTTP/2 there */
} h2_way_t;

static const h2_way_t ways[] = {
    {"tls", 1, "--http2"},
    {"h2c", 0, "--http2-prior-knowledge"},
};

/*
 * lg-origin "--name h2" behind listener `web` (TLS with the PKI's ec certificate when `tls`),
 * `http2` set to `http2` unless NULL (the default), access log on stdout, an admin listener;
 * and key `path` set to `value` unless path is NULL.
 */
static lg_fix_t h2_start_with(int tls, const char *http2, const char *path, const char *value)
{
    lg_proc_t *origin = lg_origin_start("--name h2");
    lg_yaml_t *c = lg_yaml_single(origin->port);

    if (tls)
        lg_yaml_add(c, "listeners.web.tls.certificates", "{cert: %s, key: %s}",
                    lg_test_pki("ec.pem"), lg_test_pki("ec.key"));
    if (http2 != NULL)
        lg_yaml_set(c, "listeners.web.http2", http2);
    lg_yaml_set(c, "log.access", "stdout");
    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    if (path != NULL)
        lg_yaml_set(c, path, value);
    return lg_fix_start_conf(origin, c);
}

static lg_fix_t h2_start(int tls, const char *http2)
{
    return h2_start_with(tls, http2, NULL, NULL);
}

/* h2_start() for way `w`: TLS with the default (h2 by ALPN), or plain with http2: on. */
static lg_fix_t way_start(const h2_way_t *w)
{
    return h2_start(w->tls, w->tls ? NULL : "on");
}

/* What one curl run showed. */
typedef struct curl_result {
    int rc;        /* curl's exit code */
    char *version; /* %{http_version}: "2", "1.1" */
    int status;    /* %{http_code} */
    char *head;    /* the response head (-D) */
    char *body;    /* the response body, NUL-terminated */
    size_t body_len;
    char *err;       /* curl's stderr */
    char *body_path; /* where the body is */
} curl_result_t;

/* The file's text (kept until exit or lg_test_release), "" when it cannot be read. */
static char *file_text(const char *path, size_t *len)
{
    char *text = lg_test_keep(lg_test_read_file(path, len), NULL);

    if (text == NULL && len != NULL)
        *len = 0;
    return text != NULL ? text : "";
}

/* The base URL of listener `port` as a client of `tls` names it. */
static char *base_url(int tls, int port)
{
    return tls ? lg_fmt("https://" SNI ":%d", port) : lg_fmt("http://127.0.0.1:%d", port);
}

/*
 * Run curl with `opts` (shell words; may redirect stdin) on `path` of listener `port`; a TLS
 * listener is reached as https://www.example.com:PORT (resolved to 127.0.0.1, verified with
 * the PKI's CA). Bounded by --max-time.
 */
static curl_result_t *curl_run(int tls, int port, const char *opts, const char *path)
{
    curl_result_t *r = lg_test_keep(calloc(1, sizeof(*r)), NULL);
    char *dir = lg_test_tempdir(), *out = NULL;
    const char *tls_opts =
        tls ? lg_fmt("--cacert %s --resolve " SNI ":%d:127.0.0.1 ", lg_test_pki("ca.pem"), port)
            : "";

    r->body_path = lg_fmt("%s/body", dir);
    r->rc =
        lg_run_capture(lg_fmt("curl -sS --max-time 120 %s%s -D %s/head -o %s "
                              "-w '%%{http_version} %%{http_code}' '%s%s' 2>%s/err",
                              tls_opts, opts, dir, r->body_path, base_url(tls, port), path, dir),
                       &out);
    r->version = lg_fmt("%.*s", (int)strcspn(out, " "), out);
    r->status = strchr(out, ' ') != NULL ? atoi(strchr(out, ' ') + 1) : 0;
    r->head = file_text(lg_fmt("%s/head", dir), NULL);
    r->body = file_text(r->body_path, &r->body_len);
    r->err = file_text(lg_fmt("%s/err", dir), NULL);
    return r;
}

/* curl completed with `version` and `status`. */
static void assert_curl(const curl_result_t *r, const char *version, int status)
{
    cr_assert_eq(r->rc, 0, "curl exited %d: %s", r->rc, r->err);
    cr_assert_str_eq(r->version, version, "HTTP version %s, expected %s; head:\n%s", r->version,
                     version, r->head);
    cr_assert_eq(r->status, status, "status %d, expected %d; head:\n%s", r->status, status,
                 r->head);
}

/* "%064x" of the SHA-256 of data[0..len). */
static char *sha256_hex(const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    char *hex = lg_fmt("%64s", "");

    cr_assert_eq(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

/* `len` random bytes in a new temp file; its path, and their SHA-256 in *sha. */
static char *random_file(size_t len, char **sha)
{
    unsigned char *data = malloc(len + 1);
    FILE *f = fopen("/dev/urandom", "rb");
    char *path;

    cr_assert(data != NULL && f != NULL);
    cr_assert_eq(fread(data, 1, len, f), len);
    fclose(f);
    path = lg_test_write_bytes(lg_test_tempdir(), "upload", data, len);
    *sha = sha256_hex(data, len);
    free(data);
    return path;
}

/* The /metrics body of the fixture's admin listener. */
static char *metrics(lg_fix_t *f)
{
    lg_http_response_t *r = lg_http_get(lg_proc_admin_port(f->lg), "/metrics", NULL);

    lgt_assert_status(r, 200);
    return r->body;
}

/* Wait (bounded) until the sample equals `want`, then require it. */
static void expect_metric(lg_fix_t *f, const char *name, const char *labels, double want)
{
    double v = NAN;
    int ok;

    LG_WAIT_FOR(ok, (v = lg_metric(metrics(f), name, labels)) == want, lg_test_timeout_ms());
    cr_assert(ok, "%s{%s} is %g, expected %g:\n%s", name, labels, v, want, metrics(f));
}

/* Stop lifeguard (the access log is complete then) and return its access log. */
static char *stopped_access_log(lg_fix_t *f)
{
    cr_assert_eq(lg_proc_stop(f->lg), 0, "lifeguard did not exit cleanly");
    return lg_proc_access_log(f->lg);
}

/* ---- negotiation and mapping */

/*
 * A GET over HTTP/2 both ways: the client got HTTP/2 with the status, headers and body; the
 * backend got an HTTP/1.1 request with Host from :authority and the cookie crumbs joined; the
 * access log says HTTP/2.0.
 */
Test(h2, curl_gets_http2_with_alpn_and_with_prior_knowledge, .timeout = 60)
{
    for (size_t i = 0; i < LG_NELEMS(ways); i++) {
        const h2_way_t *w = &ways[i];
        lg_fix_t f = way_start(w);
        curl_result_t *r =
            curl_run(w->tls, f.port,
                     lg_fmt("%s -H 'Cookie: a=1' -H 'Cookie: b=2' -H 'X-Test: value'", w->flag),
                     "/echo?x=1");
        const char *authority = w->tls ? lg_fmt(SNI ":%d", f.port) : lg_fmt("127.0.0.1:%d", f.port);

        assert_curl(r, "2", 200);
        cr_assert_not_null(strstr(r->head, "\r\nx-origin: h2\r\n"), "%s: head:\n%s", w->name,
                           r->head);
        cr_assert_not_null(strstr(r->head, "\r\ncontent-type: text/plain\r\n"), "%s", r->head);
        cr_assert_str_eq(lg_echo_field(r->body, "method"), "GET");
        cr_assert_str_eq(lg_echo_field(r->body, "target"), "/echo?x=1");
        cr_assert_str_eq(lg_echo_field(r->body, "version"), "HTTP/1.1", "%s", r->body);
        cr_assert_str_eq(lg_echo_header(r->body, "Host"), authority, "%s", r->body);
        cr_assert_eq(lg_echo_header_count(r->body, "Host"), 1, "%s", r->body);
        cr_assert_eq(lg_echo_header_count(r->body, "Cookie"), 1, "%s", r->body);
        cr_assert_str_eq(lg_echo_header(r->body, "Cookie"), "a=1; b=2", "%s", r->body);
        cr_assert_str_eq(lg_echo_header(r->body, "X-Test"), "value", "%s", r->body);
        cr_assert_str_eq(lg_echo_header(r->body, "X-Forwarded-Proto"), w->tls ? "https" : "http",
                         "%s", r->body);
        cr_assert_null(strstr(r->body, "header :"), "a pseudo-header reached the backend:\n%s",
                       r->body);
        /* the backend's Connection: close is hop-by-hop: not in the HTTP/2 response */
        r = curl_run(w->tls, f.port, w->flag, "/close");
        assert_curl(r, "2", 200);
        cr_assert_str_eq(r->body, "h2\n");
        cr_assert_null(strcasestr(r->head, "\r\nconnection:"), "%s", r->head);
        cr_assert_not_null(strstr(stopped_access_log(&f), "\"GET /echo?x=1 HTTP/2.0\" 200 "),
                           "%s: access log:\n%s", w->name, lg_proc_access_log(f.lg));
        lg_fix_finish(&f, NULL);
    }
}

/* `http2: off` on a TLS listener: ALPN offers only http/1.1, so curl --http2 gets HTTP/1.1. */
Test(h2, http2_off_on_tls_gives_http11)
{
    lg_fix_t f = h2_start(1, "off");
    curl_result_t *r = curl_run(1, f.port, "--http2", "/echo");

    assert_curl(r, "1.1", 200);
    cr_assert_str_eq(lg_echo_field(r->body, "version"), "HTTP/1.1");
    cr_assert_not_null(strstr(stopped_access_log(&f), "\"GET /echo HTTP/1.1\" 200 "), "%s",
                       lg_proc_access_log(f.lg));
    lg_fix_finish(&f, NULL);
}

/* A plain listener without `http2`: the HTTP/2 preface is no request; HTTP/1.1 works. */
Test(h2, plain_listener_without_http2_refuses_prior_knowledge)
{
    lg_fix_t f = h2_start(0, NULL);
    curl_result_t *r = curl_run(0, f.port, "--http2-prior-knowledge", "/");

    cr_assert(r->rc != 0 || strcmp(r->version, "2") != 0,
              "HTTP/2 with prior knowledge on a listener without http2: %s %d", r->version,
              r->status);
    assert_curl(curl_run(0, f.port, "--http1.1", "/"), "1.1", 200);
    lg_fix_finish(&f, NULL);
}

/*
 * An h2c port still speaks HTTP/1.1, and `Upgrade: h2c` (curl --http2 on http://) is served as
 * HTTP/1.1 without the Upgrade and HTTP2-Settings headers reaching the backend.
 */
Test(h2, h2c_port_serves_http11_and_ignores_upgrade)
{
    lg_fix_t f = h2_start(0, "on");
    curl_result_t *r = curl_run(0, f.port, "--http1.1", "/echo");

    assert_curl(r, "1.1", 200);
    cr_assert_str_eq(lg_echo_field(r->body, "version"), "HTTP/1.1");
    r = curl_run(0, f.port, "--http2", "/echo");
    assert_curl(r, "1.1", 200);
    cr_assert_null(lg_echo_header(r->body, "Upgrade"), "%s", r->body);
    cr_assert_null(lg_echo_header(r->body, "HTTP2-Settings"), "%s", r->body);
    assert_curl(curl_run(0, f.port, "--http2-prior-knowledge", "/"), "2", 200);
    lg_fix_finish(&f, NULL);
}

/* ---- bodies */

/* One upload: curl options (with the body), its SHA-256 and length, the backend's framing. */
typedef struct upload {
    const char *name;
    const char *opts;
    const char *sha;
    size_t len;
    const char *framing; /* "length" (Content-Length) or "chunked" */
} upload_t;

static void check_upload(const h2_way_t *w, lg_fix_t *f, const upload_t *u)
{
    curl_result_t *r = curl_run(w->tls, f->port, lg_fmt("%s %s", w->flag, u->opts), "/echo");

    assert_curl(r, "2", 200);
    cr_assert_str_eq(lg_echo_field(r->body, "body-length"), lg_fmt("%zu", u->len), "%s %s:\n%s",
                     w->name, u->name, r->body);
    cr_assert_str_eq(lg_echo_field(r->body, "body-sha256"), u->sha, "%s %s: body corrupted",
                     w->name, u->name);
    if (strcmp(u->framing, "chunked") == 0) {
        cr_assert_str_eq(lg_echo_header(r->body, "Transfer-Encoding"), "chunked", "%s %s:\n%s",
                         w->name, u->name, r->body);
        cr_assert_null(lg_echo_header(r->body, "Content-Length"), "%s", r->body);
    } else {
        cr_assert_str_eq(lg_echo_header(r->body, "Content-Length"), lg_fmt("%zu", u->len),
                         "%s %s:\n%s", w->name, u->name, r->body);
        cr_assert_null(lg_echo_header(r->body, "Transfer-Encoding"), "%s", r->body);
    }
}

/*
 * POST bodies reach the backend intact (SHA-256 at the backend): small, 10 MiB with a
 * content-length, and 10 MiB from curl's stdin without one (sent to the backend chunked).
 */
Test(h2, request_bodies_reach_the_backend_intact, .timeout = 240)
{
    char *sha;
    const char *file = random_file(LARGE_BODY, &sha);
    const upload_t uploads[] = {
        {"small", "--data-binary '" SMALL_BODY "'", sha256_hex(SMALL_BODY, strlen(SMALL_BODY)),
         strlen(SMALL_BODY), "length"},
        {"10 MiB", lg_fmt("--data-binary @%s", file), sha, LARGE_BODY, "length"},
        {"10 MiB from stdin", lg_fmt("-X POST -T - < %s", file), sha, LARGE_BODY, "chunked"},
    };

    for (size_t i = 0; i < LG_NELEMS(ways); i++) {
        lg_fix_t f = way_start(&ways[i]);

        for (size_t k = 0; k < LG_NELEMS(uploads); k++)
            check_upload(&ways[i], &f, &uploads[k]);
        lg_fix_finish(&f, NULL);
    }
}

/* A 64 MiB response arrives whole and in order (lg-origin's pattern, checksummed). */
Test(h2, large_response_arrives_intact, .timeout = 240)
{
    for (size_t i = 0; i < LG_NELEMS(ways); i++) {
        lg_fix_t f = way_start(&ways[i]);
        curl_result_t *r = curl_run(ways[i].tls, f.port, ways[i].flag, "/size/64m");

        assert_curl(r, "2", 200);
        cr_assert_eq(r->body_len, LARGE_REPLY, "%s: %zu bytes", ways[i].name, r->body_len);
        cr_assert_eq(lg_checksum(LG_CHECKSUM_INIT, r->body, r->body_len),
                     lg_pattern_checksum(LARGE_REPLY), "%s: body corrupted", ways[i].name);
        cr_assert_not_null(strstr(r->head, lg_fmt("\r\ncontent-length: %llu\r\n", LARGE_REPLY)),
                           "%s", r->head);
        lg_test_release(r->body);
        lg_fix_finish(&f, NULL);
    }
}

/*
 * A chunked response with a trailer: the client gets the body without chunk framing (no
 * transfer-encoding) and the trailer as trailing HEADERS (curl writes them after the head).
 */
Test(h2, chunked_response_and_its_trailer_reach_the_client, .timeout = 60)
{
    for (size_t i = 0; i < LG_NELEMS(ways); i++) {
        lg_fix_t f = way_start(&ways[i]);
        curl_result_t *r =
            curl_run(ways[i].tls, f.port, ways[i].flag, "/size/100000?chunked=1&trailer=1");

        assert_curl(r, "2", 200);
        cr_assert_eq(r->body_len, 100000, "%s: %zu bytes", ways[i].name, r->body_len);
        cr_assert_eq(lg_checksum(LG_CHECKSUM_INIT, r->body, r->body_len),
                     lg_pattern_checksum(100000), "%s: body corrupted", ways[i].name);
        cr_assert_null(strcasestr(r->head, "transfer-encoding"), "%s", r->head);
        cr_assert_not_null(strstr(r->head, "\r\nx-origin-trailer: ok\r\n"), "%s: head:\n%s",
                           ways[i].name, r->head);
        lg_fix_finish(&f, NULL);
    }
}

/* Responses without a body: HEAD keeps the GET's content-length, 204 and 304 have none. */
Test(h2, responses_without_a_body, .timeout = 60)
{
    static const struct {
        const char *opts, *path;
        int status;
        const char *header; /* in the head (NULL: none checked) */
    } cases[] = {
        {"-I", "/size/1000", 200, "\r\ncontent-length: 1000\r\n"},
        {"", "/status/204", 204, NULL},
        {"", "/status/304", 304, NULL},
    };

    for (size_t i = 0; i < LG_NELEMS(ways); i++) {
        lg_fix_t f = way_start(&ways[i]);

        for (size_t k = 0; k < LG_NELEMS(cases); k++) {
            curl_result_t *r = curl_run(
                ways[i].tls, f.port, lg_fmt("%s %s", ways[i].flag, cases[k].opts), cases[k].path);

            assert_curl(r, "2", cases[k].status);
            /* with -I curl writes the head as the output: nothing may follow it */
            cr_assert_str_eq(r->body, strcmp(cases[k].opts, "-I") == 0 ? r->head : "",
                             "%s %s: a body came", ways[i].name, cases[k].path);
            if (cases[k].header != NULL)
                cr_assert_not_null(strstr(r->head, cases[k].header), "%s %s: head:\n%s",
                                   ways[i].name, cases[k].path, r->head);
        }
        lg_fix_finish(&f, NULL);
    }
}

/* ---- metrics */

/* A curl in the background: kill_curl stops it by its id at exit if it is still that curl. */
static void kill_curl(void *pid)
{
    char *comm = lg_test_read_file(lg_fmt("/proc/%d/comm", (int)(intptr_t)pid), NULL);

    if (comm != NULL && strcmp(comm, "curl\n") == 0)
        kill((pid_t)(intptr_t)pid, SIGKILL);
    free(comm);
}

/*
 * Requests are counted by protocol; the streams gauge shows a stream in progress (a /delay
 * request) and goes back to 0 once it ended.
 */
Test(h2, metrics_count_http2_requests_and_open_streams, .timeout = 60)
{
    lg_fix_t f = h2_start(0, "on");
    char *dir = lg_test_tempdir(), *out = NULL;
    int ok;

    for (int i = 0; i < 3; i++)
        assert_curl(curl_run(0, f.port, "--http2-prior-knowledge", "/"), "2", 200);
    for (int i = 0; i < 2; i++)
        assert_curl(curl_run(0, f.port, "--http1.1", "/"), "1.1", 200);
    expect_metric(&f, "lifeguard_requests_total",
                  "listener=\"web\",code=\"2xx\",protocol=\"HTTP/2.0\"", 3);
    expect_metric(&f, "lifeguard_requests_total",
                  "listener=\"web\",code=\"2xx\",protocol=\"HTTP/1.1\"", 2);
    expect_metric(&f, "lifeguard_http2_streams_active", "listener=\"web\"", 0);

    cr_assert_eq(lg_run_capture(lg_fmt("curl -sS --max-time 30 --http2-prior-knowledge "
                                       "-o %s/body 'http://127.0.0.1:%d/delay/3000' "
                                       ">/dev/null 2>&1 & echo $!",
                                       dir, f.port),
                                &out),
                 0);
    lg_test_keep((void *)(intptr_t)atoi(out), kill_curl);
    expect_metric(&f, "lifeguard_http2_streams_active", "listener=\"web\"", 1);
    LG_WAIT_FOR(ok, strcmp(file_text(lg_fmt("%s/body", dir), NULL), "h2\n") == 0, 10000);
    cr_assert(ok, "the delayed request did not complete");
    expect_metric(&f, "lifeguard_http2_streams_active", "listener=\"web\"", 0);
    expect_metric(&f, "lifeguard_requests_total",
                  "listener=\"web\",code=\"2xx\",protocol=\"HTTP/2.0\"", 4);
    lg_fix_finish(&f, NULL);
}

/* ---- many streams on one connection */

/* Lines of nghttp's statistics for a 200 of `path`. */
static int nghttp_ok_lines(const char *out, const char *path)
{
    int n = 0;

    for (const char *line = out; line != NULL && *line != '\0';) {
        const char *eol = strchr(line, '\n');
        char *one = lg_fmt("%.*s", (int)(eol ? eol - line : (long)strlen(line)), line);
        char code[8], size[16], uri[256];
        int id;

        if (sscanf(one, "%d %*s %*s %*s %7s %15s %255s", &id, code, size, uri) == 4 &&
            strcmp(code, "200") == 0 && strcmp(uri, path) == 0)
            n++;
        line = eol ? eol + 1 : NULL;
    }
    return n;
}

/* nghttp: 100 concurrent requests on one connection, all answered, one connection counted. */
Test(h2, nghttp_100_streams_on_one_connection, .timeout = 120)
{
    for (size_t i = 0; i < LG_NELEMS(ways); i++) {
        lg_fix_t f = way_start(&ways[i]);
        char *out = NULL;
        int rc = lg_run_capture(lg_fmt("timeout -k 5 60 nghttp -n -s -m %d %s -H ':authority: " SNI
                                       ":%d' "
                                       "%s://127.0.0.1:%d/size/100k 2>&1",
                                       STREAMS, ways[i].tls ? "-y" : "", f.port,
                                       ways[i].tls ? "https" : "http", f.port),
                                &out);

        cr_assert_eq(rc, 0, "%s: nghttp exited %d:\n%s", ways[i].name, rc, out);
        cr_assert_eq(nghttp_ok_lines(out, "/size/100k"), STREAMS, "%s:\n%s", ways[i].name, out);
        expect_metric(&f, "lifeguard_connections_total", "listener=\"web\"", 1);
        cr_assert_eq(
            lg_log_count(stopped_access_log(&f), "\"GET /size/100k HTTP/2.0\" 200 102400 "),
            STREAMS, "%s: access log:\n%s", ways[i].name, lg_proc_access_log(f.lg));
        lg_fix_finish(&f, NULL);
    }
}

/* Run tests/support/h2_streams.py against listener `port` reached by way `w`; its output. */
static char *run_h2_streams(const h2_way_t *w, int port, const char *args)
{
    char *out = NULL;
    int rc = lg_run_capture(
        lg_fmt("timeout -k 5 180 /usr/bin/python3 %s/tests/support/h2_streams.py --port %d %s %s "
               "2>&1",
               LG_SOURCE_DIR, port, args,
               w->tls ? lg_fmt("--tls --sni " SNI " --ca %s", lg_test_pki("ca.pem")) : ""),
        &out);

    cr_assert_eq(rc, 0, "%s: h2_streams.py exited %d:\n%s", w->name, rc, out);
    return out;
}

/*
 * Python's h2: 100 concurrent uploads of distinct random bodies (0..1 MiB, half without a
 * content-length) and 100 concurrent downloads of distinct bodies on one connection, each
 * checked by SHA-256 (tests/support/h2_streams.py).
 */
Test(h2, python_h2_100_streams_hashed_both_ways, .timeout = 240)
{
    for (size_t i = 0; i < LG_NELEMS(ways); i++) {
        lg_fix_t f = way_start(&ways[i]);
        char *out = run_h2_streams(&ways[i], f.port, lg_fmt("--streams %d", STREAMS));

        cr_assert_not_null(strstr(out, lg_fmt("ok streams=%d max_open=%d ", 2 * STREAMS, STREAMS)),
                           "%s", out);
        expect_metric(&f, "lifeguard_connections_total", "listener=\"web\"", 1);
        cr_assert_eq(lg_log_count(stopped_access_log(&f), " HTTP/2.0\" 200 "), 2 * STREAMS,
                     "%s: access log:\n%s", ways[i].name, lg_proc_access_log(f.lg));
        lg_fix_finish(&f, NULL);
    }
}

/*
 * limits.max_concurrent_streams is advertised: a client that honours SETTINGS runs 100 streams
 * at most 10 at a time, and every one succeeds.
 */
Test(h2, python_h2_honours_max_concurrent_streams, .timeout = 120)
{
    lg_fix_t f = h2_start_with(1, NULL, "limits.max_concurrent_streams", "10");
    char *out = run_h2_streams(&ways[0], f.port,
                               lg_fmt("--streams %d --expect-open 10 --max-size 65536", STREAMS));

    cr_assert_not_null(strstr(out, lg_fmt("ok streams=%d max_open=10 ", 2 * STREAMS)), "%s", out);
    lg_fix_finish(&f, NULL);
}
