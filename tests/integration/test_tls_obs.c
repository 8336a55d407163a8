/*
 * test_tls_obs.c - what operators see of TLS, with real clients (curl, openssl s_client, raw
 * sockets) against the real binary: the TLS fields of the json access log (version, cipher,
 * SNI, resumption, client subject; none on plain requests), the handshake counters of /metrics
 * (ok, failed, resumed, each failure reason) and the certificates' expiry, and the same in
 * /status.json. JSON is read back with Debian's Python (json module), /metrics checked by
 * promtool.
 *
 * Counters are updated by the workers as handshakes end, which may be a moment after the
 * client is done: they are polled (bounded) until they reach the expected value, then
 * required to be exactly that.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "lg_test.h"
#include "lg_test_tls.h"

#define PY             "/usr/bin/python3"
#define CLIENT_TIMEOUT "timeout 10 "
#define DAY            86400

/* ---- running clients */

/* `text` with every "PORT" replaced by `port` and every "PKI/" by the test PKI's directory. */
static const char *subst(const char *text, int port)
{
    const char *pki = lg_test_pki("");
    char *out = lg_fmt("%s", "");
    const char *p = text;

    while (*p != '\0') {
        if (strncmp(p, "PORT", 4) == 0) {
            out = lg_fmt("%s%d", out, port);
            p += 4;
        } else if (strncmp(p, "PKI/", 4) == 0) {
            out = lg_fmt("%s%s", out, pki);
            p += 4;
        } else {
            out = lg_fmt("%s%c", out, *p++);
        }
    }
    return out;
}

/* Run `cmd` (sh, bounded), stdin from `input`; its output (stdout and stderr), its exit code in
 * *status when not NULL. */
static char *run_status(const char *cmd, const char *input, int *status)
{
    char *in = lg_test_write_file(lg_test_tempdir(), "stdin", input), buf[4096];
    FILE *f = popen(lg_fmt(CLIENT_TIMEOUT "%s <'%s' 2>&1", cmd, in), "r");
    char *out = lg_fmt("%s", "");
    size_t n;
    int st;

    cr_assert_not_null(f, "popen(%s) failed", cmd);
    while ((n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
        buf[n] = '\0';
        out = lg_fmt("%s%s", out, buf);
    }
    st = pclose(f);
    free(in);
    if (status != NULL)
        *status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static char *run(const char *cmd, const char *input)
{
    return run_status(cmd, input, NULL);
}

/* Python `expr` over `d`, the JSON document in `text` (or its lines as a list: `lines`). */
static char *py(const char *text, int lines, const char *expr)
{
    char *file = lg_test_write_file(lg_test_tempdir(), "doc.json", text);
    const char *load =
        lines ? "[json.loads(l) for l in open(sys.argv[1])]" : "json.load(open(sys.argv[1]))";
    char *out =
        run(lg_fmt(PY " -c \"import json, sys; d = %s; print(%s)\" %s", load, expr, file), "");

    free(file);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

/* ---- lifeguard with three listeners */

/*
 * web: ECDSA and RSA certificates for www.example.com and a wildcard, client certificates
 * optional; strict: unknown names refused, client certificates required, and an expired
 * certificate; plain: no tls. Access log json on stdout, the admin listener, 2 workers (the
 * counters are summed over their slots), client_header 1s (the handshake timeout).
 */
/* A tls listener `name` (listening on port 0 unless it is web) with the PKI's certificates
 * `certs` (NAME.pem and NAME.key each) and client certificates `verify`-ed. */
static void tls_listener(lg_yaml_t *c, const char *name, const char *const *certs,
                         const char *verify)
{
    const char *at = lg_fmt("listeners.%s", name);

    if (strcmp(name, "web") != 0) {
        lg_yaml_set(c, lg_fmt("%s.listen", at), "127.0.0.1:0");
        lg_yaml_add(c, lg_fmt("%s.routes", at), "{pool: app}");
    }
    for (; *certs != NULL; certs++)
        lg_yaml_add(c, lg_fmt("%s.tls.certificates", at), "{cert: %s, key: %s}",
                    lg_test_pki(lg_fmt("%s.pem", *certs)), lg_test_pki(lg_fmt("%s.key", *certs)));
    lg_yaml_setf(c, lg_fmt("%s.tls.client_auth", at), "{ca: %s, verify: %s}", lg_test_pki("ca.pem"),
                 verify);
}

static lg_proc_t *obs_start(int origin_port, const char *format)
{
    lg_yaml_t *c = lg_yaml_single(origin_port);

    lg_yaml_set(c, "workers", "2");
    lg_yaml_set(c, "log.access", "stdout");
    lg_yaml_set(c, "log.access_format", format);
    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    lg_yaml_set(c, "timeouts.client_header", "1s");
    tls_listener(c, "web", (const char *const[]){"ec", "rsa", "wild", NULL}, "optional");
    tls_listener(c, "strict", (const char *const[]){"ec", "expired", NULL}, "required");
    lg_yaml_set(c, "listeners.strict.tls.unknown_sni", "reject");
    lg_yaml_set(c, "listeners.plain.listen", "127.0.0.1:0");
    lg_yaml_add(c, "listeners.plain.routes", "{pool: app}");
    return lg_yaml_start(c);
}

/* ---- requests that succeed, and what the access log says of them */

#define CURL  "curl -sS -m 5 -o /dev/null -w status=%{http_code} --cacert PKI/ca.pem "
#define WWW   "--resolve www.example.com:PORT:127.0.0.1 https://www.example.com:PORT"
#define TLS13 "--tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256 "

static const struct ok_case {
    const char *tag;  /* the request's query: ?case=TAG finds its log line */
    const char *args; /* curl's, then the URL up to its path */
    const char *tls;  /* how its log line ends */
} ok_cases[] = {
    {"tls13", TLS13 WWW,
     ",\"tls_version\":\"TLSv1.3\",\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\",\"tls_sni\":"
     "\"www.example.com\",\"tls_resumed\":false,\"tls_client_subject\":\"\"}"},
    {"tls12_rsa", "--tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES256-GCM-SHA384 " WWW,
     ",\"tls_version\":\"TLSv1.2\",\"tls_cipher\":\"ECDHE-RSA-AES256-GCM-SHA384\",\"tls_sni\":"
     "\"www.example.com\",\"tls_resumed\":false,\"tls_client_subject\":\"\"}"},
    {"wildcard", TLS13 "--resolve a.example.org:PORT:127.0.0.1 https://a.example.org:PORT",
     ",\"tls_version\":\"TLSv1.3\",\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\",\"tls_sni\":"
     "\"a.example.org\",\"tls_resumed\":false,\"tls_client_subject\":\"\"}"},
    {"client_cert", TLS13 "--cert PKI/client.pem --key PKI/client.key " WWW,
     ",\"tls_version\":\"TLSv1.3\",\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\",\"tls_sni\":"
     "\"www.example.com\",\"tls_resumed\":false,\"tls_client_subject\":\"O=lifeguard "
     "tests,CN=client one\"}"},
    {"rogue_cert", TLS13 "--cert PKI/rogue.pem --key PKI/rogue.key " WWW,
     ",\"tls_version\":\"TLSv1.3\",\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\",\"tls_sni\":"
     "\"www.example.com\",\"tls_resumed\":false,\"tls_client_subject\":\"\"}"},
    {"no_sni", TLS13 "--insecure https://127.0.0.1:PORT",
     ",\"tls_version\":\"TLSv1.3\",\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\",\"tls_sni\":\"\","
     "\"tls_resumed\":false,\"tls_client_subject\":\"\"}"},
};

/* The access log line of the request with ?case=TAG; fails when there is not exactly one. */
static const char *log_line(lg_proc_t *lg, const char *tag)
{
    const char *needle = lg_fmt("\"path\":\"/?case=%s\"", tag);
    const char *log = lg_proc_access_log(lg), *at = NULL, *end;
    int ok;

    LG_WAIT_FOR(ok, (log = lg_proc_access_log(lg), at = strstr(log, needle)) != NULL, 5000);
    cr_assert(ok, "no access log line for case %s:\n%s", tag, log);
    cr_assert_null(strstr(at + 1, needle), "two lines for case %s:\n%s", tag, log);
    while (at > log && at[-1] != '\n')
        at--;
    end = strchr(at, '\n');
    cr_assert_not_null(end);
    return lg_fmt("%.*s", (int)(end - at), at);
}

/* A session ticket from a first connection, then a second one resuming it; both GET /. */
static void resume(int port, const char *tag)
{
    const char *sess = lg_fmt("%s/sess.pem", lg_test_tempdir());
    const char *cmd = subst(lg_fmt("openssl s_client -connect 127.0.0.1:PORT -servername "
                                   "www.example.com -CAfile PKI/ca.pem -ign_eof -sess_%%s %s",
                                   sess),
                            port);
    const char *req = "GET /?case=%s HTTP/1.0\r\nHost: www.example.com\r\n\r\n";
    char *out;

    out = run(lg_fmt(cmd, "out"), lg_fmt(req, lg_fmt("%s_full", tag)));
    cr_assert_not_null(strstr(out, "New, TLSv1.3"), "%s", out);
    cr_assert_not_null(strstr(out, "HTTP/1.1 200 OK"), "%s", out);
    out = run(lg_fmt(cmd, "in"), lg_fmt(req, tag));
    cr_assert_not_null(strstr(out, "Reused, TLSv1.3"), "%s", out);
    cr_assert_not_null(strstr(out, "HTTP/1.1 200 OK"), "%s", out);
}

/* ---- handshakes that fail, one per reason */

static const struct fail_case {
    const char *reason;
    const char *listener;
    const char *client; /* a command, or NULL: a raw TCP client sends `raw` and waits */
    const char *raw;
    const char *expect; /* in the command's output */
} fail_cases[] = {
    {"unsupported_protocol", "web",
     "openssl s_client -connect 127.0.0.1:PORT -tls1_1 -cipher DEFAULT:@SECLEVEL=0", NULL,
     "protocol version"},
    {"no_shared_cipher", "web",
     "openssl s_client -connect 127.0.0.1:PORT -tls1_2 -cipher AES128-SHA", NULL,
     "handshake failure"},
    {"certificate_rejected", "web",
     "curl -sS -m 5 --resolve www.example.com:PORT:127.0.0.1 https://www.example.com:PORT/", NULL,
     "curl: (60)"},
    {"plain_http", "web", "curl -sS -m 5 http://127.0.0.1:PORT/", NULL,
     "plain HTTP was sent to an HTTPS port"},
    {"unknown_sni", "strict",
     "openssl s_client -connect 127.0.0.1:PORT -servername nope.example.net", NULL,
     "unrecognized name"},
    {"bad_certificate", "strict",
     CURL "--resolve www.example.com:PORT:127.0.0.1 "
          "https://www.example.com:PORT/",
     NULL, "status=000"},
    {"closed", "web", NULL, "", NULL},
    {"timeout", "web", NULL, NULL, NULL},
    {"other", "web", NULL, "\x16\x05\x05\x01\x01zzzz", NULL}, /* a record of TLS "5.5" */
};

static void fail_one(const struct fail_case *k, int port)
{
    lg_client_t *c;
    char *out;

    if (k->client != NULL) {
        out = run(subst(k->client, port), "");
        cr_assert_not_null(strstr(out, k->expect), "%s: %s", k->reason, out);
        return;
    }
    c = lg_client_connect(port);
    cr_assert_not_null(c);
    if (k->raw == NULL) { /* nothing: lifeguard closes after client_header */
        cr_assert(lg_client_wait_close(c, 5000), "%s: not closed", k->reason);
        return;
    }
    if (k->raw[0] != '\0')
        cr_assert_eq(lg_client_send(c, k->raw, strlen(k->raw)), 0);
    else
        lg_client_shutdown(c);
    cr_assert(lg_client_wait_close(c, 5000), "%s: not closed", k->reason);
    lg_client_close(c);
}

/* ---- metrics */

/* Wait (bounded) until every line of `want` is in /metrics; then require each. */
static char *metrics_expect(int aport, const char *const *want, size_t n)
{
    lg_http_response_t *r = NULL;
    int ok = 0;

    for (uint64_t end = lg_now_ms() + 10000; !ok && lg_now_ms() < end; lg_sleep_ms(50)) {
        r = lg_http_get(aport, "/metrics", NULL);
        ok = r->status == 200;
        for (size_t i = 0; ok && i < n; i++)
            ok = strstr(r->body, want[i]) != NULL;
    }
    cr_assert_eq(r->status, 200);
    for (size_t i = 0; i < n; i++)
        cr_assert_not_null(strstr(r->body, want[i]), "not in /metrics: %s\n%s", want[i], r->body);
    return r->body;
}

/* notAfter of a PKI certificate as the openssl command prints it, in Unix time. */
static long long not_after(const char *name)
{
    char *out = run(lg_fmt("openssl x509 -noout -enddate -in %s", lg_test_pki(name)), "");
    struct tm tm = {0};

    cr_assert_not_null(strptime(out, "notAfter=%b %d %H:%M:%S %Y GMT", &tm), "%s", out);
    return (long long)timegm(&tm);
}

/* The requests of ok_cases, two s_client connections (one resumed) and a plain one; their log
 * lines. */
static void successes(lg_proc_t *lg, int web)
{
    char *out;

    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        out = run(subst(lg_fmt("%s%s/?case=%s", CURL, ok_cases[i].args, ok_cases[i].tag), web), "");
        cr_assert_eq(strcmp(out, "status=200"), 0, "%s: %s", ok_cases[i].tag, out);
    }
    resume(web, "resumed");
    out = run(lg_fmt("curl -sS -m 5 -o /dev/null -w status=%%{http_code} "
                     "http://127.0.0.1:%d/?case=plain",
                     lg_proc_port(lg, "plain")),
              "");
    cr_assert_eq(strcmp(out, "status=200"), 0, "%s", out);
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        const char *line = log_line(lg, ok_cases[i].tag), *k = ok_cases[i].tls;

        cr_assert(strlen(line) > strlen(k) && strcmp(line + strlen(line) - strlen(k), k) == 0,
                  "case %s: expected the line to end with\n%s\n%s", ok_cases[i].tag, k, line);
    }
    cr_assert_not_null(strstr(log_line(lg, "resumed_full"), ",\"tls_resumed\":false,"));
    cr_assert_not_null(strstr(log_line(lg, "resumed"), ",\"tls_resumed\":true,"));
    cr_assert_null(strstr(log_line(lg, "plain"), "tls_"), "plain requests have no TLS fields");
    /* every line is JSON (Python's parser), the TLS fields where they should be */
    cr_assert_str_eq(
        py(lg_proc_access_log(lg), 1,
           "sorted((l['path'], l.get('tls_sni'), l.get('tls_client_subject')) for l "
           "in d if l['path'] in ('/?case=client_cert', '/?case=plain'))"),
        "[('/?case=client_cert', 'www.example.com', 'O=lifeguard tests,CN=client one'), "
        "('/?case=plain', None, None)]");
}

/* /metrics after successes() and one failure of each fail_cases row. */
static void check_metrics(int aport)
{
    static const char *const certs[][4] = {
        {"web", "example.com", "ec", "ec.pem"},
        {"web", "example.com", "rsa", "rsa.pem"},
        {"web", "*.example.org", "ec", "wild.pem"},
        {"strict", "old.example.com", "ec", "expired.pem"},
    };
    const char *want[64], *body;
    size_t n = 0;
    int status;
    char *out;

    for (size_t i = 0; i < sizeof(fail_cases) / sizeof(fail_cases[0]); i++)
        want[n++] = lg_fmt("lifeguard_tls_handshake_failures_total{listener=\"%s\",reason=\"%s\"} "
                           "1\n",
                           fail_cases[i].listener, fail_cases[i].reason);
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        want[n++] = lg_fmt("lifeguard_tls_certificate_expiry_timestamp_seconds{listener=\"%s\","
                           "name=\"%s\",key=\"%s\"} %lld\n",
                           certs[i][0], certs[i][1], certs[i][2], not_after(certs[i][3]));
    /* 6 curl requests and 2 s_client connections; the failures */
    want[n++] = "lifeguard_tls_handshakes_total{listener=\"web\",result=\"ok\"} 8\n";
    want[n++] = "lifeguard_tls_handshakes_total{listener=\"web\",result=\"failed\"} 7\n";
    want[n++] = "lifeguard_tls_resumed_total{listener=\"web\"} 1\n";
    want[n++] = "lifeguard_tls_handshakes_total{listener=\"strict\",result=\"ok\"} 0\n";
    want[n++] = "lifeguard_tls_handshakes_total{listener=\"strict\",result=\"failed\"} 2\n";
    want[n++] =
        "lifeguard_tls_handshake_failures_total{listener=\"strict\",reason=\"timeout\"} 0\n";
    body = metrics_expect(aport, want, n);
    cr_assert_null(strstr(body, "listener=\"plain\",result="), "no TLS series for plain");
    out = run_status("promtool check metrics", body, &status);
    cr_assert_eq(status, 0, "promtool: %s", out);
}

/* /status.json: the same counters, and the certificates. */
static void check_status(int aport)
{
    long long before = (long long)time(NULL), na = not_after("ec.pem"), days;
    lg_http_response_t *r = lg_http_get(aport, "/status.json", NULL);
    long long after = (long long)time(NULL);

    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(py(r->body, 0,
                        "[(l['name'], l['tls'] and (l['tls']['handshakes'], "
                        "{k: v for k, v in l['tls']['failures'].items() if v})) "
                        "for l in d['listeners']]"),
                     "[('web', ({'ok': 8, 'failed': 7, 'resumed': 1}, {'no_shared_cipher': 1, "
                     "'unsupported_protocol': 1, 'certificate_rejected': 1, 'plain_http': 1, "
                     "'timeout': 1, 'closed': 1, 'other': 1})), ('strict', ({'ok': 0, 'failed': 2, "
                     "'resumed': 0}, {'unknown_sni': 1, 'bad_certificate': 1})), ('plain', None)]");
    cr_assert_str_eq(py(r->body, 0,
                        "[(c['names'], c['key'], c['issuer'], c['file'].split('/')[-1]) "
                        "for c in d['listeners'][0]['tls']['certificates']]"),
                     "[(['example.com', 'www.example.com'], 'ec', 'CN=lifeguard test "
                     "intermediate', 'ec.pem'), (['example.com', 'www.example.com'], 'rsa', "
                     "'CN=lifeguard test intermediate', 'rsa.pem'), (['*.example.org'], 'ec', "
                     "'CN=lifeguard test intermediate', 'wild.pem')]");
    cr_assert_eq(atoll(py(r->body, 0, "d['listeners'][0]['tls']['certificates'][0]['not_after']")),
                 na);
    days = atoll(py(r->body, 0, "d['listeners'][0]['tls']['certificates'][0]['days_left']"));
    cr_assert(days >= (na - after) / DAY && days <= (na - before) / DAY,
              "days_left %lld for notAfter %lld", days, na);
    cr_assert_str_eq(py(r->body, 0,
                        "[(c['names'], c['days_left'] < 0, c['expires']) "
                        "for c in d['listeners'][1]['tls']['certificates']][1]"),
                     "(['old.example.com'], True, '2021-01-01T00:00:00Z')");
}

Test(tls_obs, access_log_metrics_and_status, .timeout = 120)
{
    lg_proc_t *origin = lg_origin_start(NULL), *lg = obs_start(origin->port, "json");
    int web = lg_proc_port(lg, "web"), strict = lg_proc_port(lg, "strict");

    successes(lg, web);
    for (size_t i = 0; i < sizeof(fail_cases) / sizeof(fail_cases[0]); i++)
        fail_one(&fail_cases[i], strcmp(fail_cases[i].listener, "web") == 0 ? web : strict);
    check_metrics(lg_proc_admin_port(lg));
    check_status(lg_proc_admin_port(lg));
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(origin);
}

/* The combined format is nginx's whatever the listener: a TLS request adds nothing to it. */
Test(tls_obs, combined_format_unchanged_on_tls, .timeout = 60)
{
    lg_proc_t *origin = lg_origin_start(NULL), *lg = obs_start(origin->port, "combined");
    /* curl agrees on HTTP/2 (ALPN h2) */
    const char *tail = "\"GET /?case=combined HTTP/2.0\" 200 7 \"-\" \"curl/7.88.1\"\n";
    const char *log;
    char *out;
    int ok;

    out = run(subst(CURL "-A curl/7.88.1 " WWW "/?case=combined", lg_proc_port(lg, "web")), "");
    cr_assert_eq(strcmp(out, "status=200"), 0, "%s", out);
    LG_WAIT_FOR(ok, strstr(log = lg_proc_access_log(lg), "case=combined") != NULL, 5000);
    cr_assert(ok, "no access log line:\n%s", log);
    cr_assert(strlen(log) > strlen(tail) && strcmp(log + strlen(log) - strlen(tail), tail) == 0,
              "expected the line to end with\n%s%s", tail, log);
    cr_assert_null(strstr(log, "TLS"), "%s", log);
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(origin);
}
