/*
 * test_admin.c - what operators see of lifeguard through the real binary: the admin listener
 * (/healthz, /metrics checked by promtool, /status.json, /status), counters that equal the
 * requests sent (also across a reload), backend state following health checks, the access log
 * (json and nginx's combined format, reopened on SIGUSR1 without losing or repeating a line) and
 * the error log's line prefix.
 *
 * Every test runs its own lifeguard and origins on port 0, with its own temp dirs, so tests may
 * run in parallel. Counters are updated by the workers when a request finishes, which may be a
 * moment after the client read the response: every counter is polled (bounded) until it reaches
 * the expected value, then required to be exactly that value.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lg_test.h"
#include "proxy_common.h"

/* Health checks fast enough for every transition to happen within a second or so. */
#define AD_HC "{type: http, path: /healthz, interval: 200ms, timeout: 150ms, rise: 2, fall: 2}"

/* ---- configs */

/*
 * lg_yaml_single(port) with `workers`, the access log `access` ("off", or a path) in `format`,
 * and the admin listener on port 0.
 */
static lg_yaml_t *ad_conf(unsigned workers, const char *access, const char *format, int port)
{
    lg_yaml_t *conf = lg_yaml_single(port);

    lg_yaml_setf(conf, "workers", "%u", workers);
    lg_yaml_set(conf, "log.access", access);
    lg_yaml_set(conf, "log.access_format", format);
    lg_yaml_set(conf, "admin.listen", "127.0.0.1:0");
    return conf;
}

/* ad_conf() whose pool app has http health checks (AD_HC) and a second backend port_b. */
static lg_yaml_t *ad_conf_checked(unsigned workers, int port_a, int port_b)
{
    lg_yaml_t *conf = ad_conf(workers, "off", "combined", port_a);

    lg_yaml_set(conf, "pools.app.health_check", AD_HC);
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", port_b);
    return conf;
}

/* The YAML of ad_conf(). */
static char *ad_single(unsigned workers, const char *access, const char *format, int port)
{
    return lg_yaml_text(ad_conf(workers, access, format, port));
}

/* ---- small helpers */

static int ad_admin(lg_proc_t *lg)
{
    return lg_proc_admin_port(lg);
}

/* GET `path` from the admin listener: 200 required, the body returned. */
static char *ad_get(int aport, const char *path)
{
    lg_http_response_t *r = lg_http_get(aport, path, NULL);

    lgt_assert_status(r, 200);
    cr_assert_not_null(r->body);
    return r->body;
}

/* `n` GETs of `path` through `c` (keep-alive), each answered `status`; bytes read added up. */
static void ad_requests(lg_client_t *c, int n, const char *path, int status, uint64_t *bytes)
{
    for (int i = 0; i < n; i++) {
        lg_http_response_t *r = lg_client_request(c, "GET", path, NULL, NULL, 0);

        lgt_assert_status(r, status);
        cr_assert_not(r->closed, "keep-alive connection closed after %s", path);
        if (bytes != NULL)
            *bytes += strlen(r->head) + r->body_len;
    }
}

/* `n` GETs of `path`, each on a new connection (Connection: close). */
static void ad_oneshots(int port, int n, const char *path, int status, uint64_t *bytes)
{
    for (int i = 0; i < n; i++) {
        lg_http_response_t *r = lg_http_get(port, path, NULL);

        lgt_assert_status(r, status);
        if (bytes != NULL)
            *bytes += strlen(r->head) + r->body_len;
    }
}

/* Number of lines (newline-terminated) of a file; 0 when it does not exist. */
static size_t ad_file_lines(const char *path)
{
    char *s = lg_test_read_file(path, NULL);
    size_t n = 0;

    for (const char *p = s; p != NULL && *p != '\0'; p++)
        n += *p == '\n';
    free(s);
    return n;
}

/* The lines of `text` (harness-owned copies, without the newline); count in *n. */
static char **ad_split_lines(const char *text, size_t *n)
{
    size_t cap = 16, count = 0;
    char **v = lg_test_keep(malloc(cap * sizeof(*v)), NULL);

    while (text != NULL && *text != '\0') {
        const char *eol = strchr(text, '\n');
        size_t len = eol != NULL ? (size_t)(eol - text) : strlen(text);

        if (count == cap) {
            char **nv;

            cap *= 2;
            nv = malloc(cap * sizeof(*nv));
            cr_assert_not_null(nv);
            memcpy(nv, v, count * sizeof(*v));
            lg_test_release(v);
            v = lg_test_keep(nv, NULL);
        }
        v[count++] = lg_fmt("%.*s", (int)len, text);
        text = eol != NULL ? eol + 1 : text + len;
    }
    *n = count;
    return v;
}

/* Wait up to `timeout_ms` for `path` to have `want` lines; returns the count seen last. */
static size_t ad_wait_lines(const char *path, size_t want, int timeout_ms)
{
    size_t n = 0;
    int ok;

    LG_WAIT_FOR(ok, (n = ad_file_lines(path)) >= want, timeout_ms);
    (void)ok;
    return n;
}

/* 1 when an open file descriptor of `pid` is the file `path` (by its name in /proc). */
static int ad_pid_has_file(pid_t pid, const char *path)
{
    char dir[64], link[PATH_MAX], *fdpath;
    DIR *d;
    struct dirent *de;
    int found = 0;

    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    if ((d = opendir(dir)) == NULL)
        return 0;
    while (!found && (de = readdir(d)) != NULL) {
        ssize_t n;

        if (de->d_name[0] == '.')
            continue;
        fdpath = lg_fmt("%s/%s", dir, de->d_name);
        n = readlink(fdpath, link, sizeof(link) - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, path) == 0;
        }
    }
    closedir(d);
    return found;
}

/* ---- Prometheus text format: one sample */

static double ad_metric(const char *body, const char *name, const char *labels)
{
    return lg_metric(body, name, labels);
}

/* Poll /metrics until the sample equals `want` (bounded), then require it. */
static void ad_expect_metric(int aport, const char *name, const char *labels, double want)
{
    double v = NAN;
    int ok;

    LG_WAIT_FOR(ok, (v = ad_metric(ad_get(aport, "/metrics"), name, labels)) == want,
                lg_test_timeout_ms());
    cr_assert(ok, "%s{%s} is %g, expected %g", name, labels, v, want);
}

/* ---- a strict JSON reader (RFC 8259, UTF-8 checked), enough for flat log lines */

typedef struct jp {
    const unsigned char *p, *end, *start;
    int depth;
    char err[128];
} jp_t;

typedef struct jfield {
    char *key;
    char *value; /* strings decoded, anything else as written */
    int is_string;
} jfield_t;

static int jp_fail(jp_t *j, const char *what)
{
    if (j->err[0] == '\0')
        snprintf(j->err, sizeof(j->err), "%s at offset %td", what, j->p - j->start);
    return -1;
}

static void jp_ws(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jp_lit(jp_t *j, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return jp_fail(j, "bad literal");
    j->p += n;
    return 0;
}

static int jp_digits(jp_t *j)
{
    const unsigned char *s = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s ? 0 : jp_fail(j, "digit expected");
}

static int jp_number(jp_t *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (jp_digits(j) < 0)
        return -1;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (jp_digits(j) < 0)
            return -1;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (jp_digits(j) < 0)
            return -1;
    }
    return 0;
}

static int jp_hex4(jp_t *j, unsigned *cp)
{
    *cp = 0;
    for (int i = 0; i < 4; i++, j->p++) {
        unsigned c = j->p < j->end ? *j->p : 0, d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return jp_fail(j, "bad \\u escape");
        *cp = *cp << 4 | d;
    }
    return 0;
}

static size_t jp_utf8_put(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence at p (not ASCII), 0 when invalid. */
static size_t jp_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], cp;
    size_t n;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* A string; *out (if not NULL) gets it decoded (harness-owned). */
static int jp_string(jp_t *j, char **out)
{
    unsigned char *o = NULL;
    size_t n = 0;

    if (j->p >= j->end || *j->p != '"')
        return jp_fail(j, "string expected");
    j->p++;
    if (out != NULL)
        o = lg_test_keep(malloc((size_t)(j->end - j->p) + 1), NULL);
    for (;;) {
        unsigned c;

        if (j->p >= j->end)
            return jp_fail(j, "unterminated string");
        c = *j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c < 0x20)
            return jp_fail(j, "control character in a string");
        if (c == '\\') {
            unsigned cp;

            if (++j->p >= j->end)
                return jp_fail(j, "unterminated escape");
            c = *j->p++;
            switch (c) {
            case '"':
            case '\\':
            case '/':
                cp = c;
                break;
            case 'b':
                cp = '\b';
                break;
            case 'f':
                cp = '\f';
                break;
            case 'n':
                cp = '\n';
                break;
            case 'r':
                cp = '\r';
                break;
            case 't':
                cp = '\t';
                break;
            case 'u':
                if (jp_hex4(j, &cp) < 0)
                    return -1;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return jp_fail(j, "lone low surrogate");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;

                    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                        return jp_fail(j, "lone high surrogate");
                    j->p += 2;
                    if (jp_hex4(j, &lo) < 0)
                        return -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return jp_fail(j, "bad surrogate pair");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                break;
            default:
                return jp_fail(j, "bad escape");
            }
            if (o != NULL)
                n += jp_utf8_put(o + n, cp);
            continue;
        }
        if (c >= 0x80) {
            size_t len = jp_utf8_len(j->p, j->end);

            if (len == 0)
                return jp_fail(j, "invalid UTF-8");
            if (o != NULL)
                memcpy(o + n, j->p, len);
            n += len;
            j->p += len;
            continue;
        }
        if (o != NULL)
            o[n] = (unsigned char)c;
        n++;
        j->p++;
    }
    if (o != NULL) {
        o[n] = '\0';
        *out = (char *)o;
    }
    return 0;
}

static int jp_value(jp_t *j, jfield_t *fields, size_t max, size_t *nfields);

/* An object; with `fields`, its members are recorded (the top level of a log line). */
static int jp_object(jp_t *j, jfield_t *fields, size_t max, size_t *nfields)
{
    j->p++;
    jp_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        const unsigned char *vs;

        jp_ws(j);
        if (jp_string(j, fields != NULL ? &key : NULL) < 0)
            return -1;
        jp_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return jp_fail(j, "':' expected");
        j->p++;
        jp_ws(j);
        vs = j->p;
        if (fields != NULL) {
            jfield_t *f;

            for (size_t i = 0; i < *nfields; i++) {
                if (strcmp(fields[i].key, key) == 0)
                    return jp_fail(j, "duplicate key");
            }
            if (*nfields == max)
                return jp_fail(j, "too many keys");
            f = &fields[(*nfields)++];
            f->key = key;
            f->is_string = j->p < j->end && *j->p == '"';
            if (f->is_string) {
                if (jp_string(j, &f->value) < 0)
                    return -1;
            } else {
                if (jp_value(j, NULL, 0, NULL) < 0)
                    return -1;
                f->value = lg_fmt("%.*s", (int)(j->p - vs), (const char *)vs);
            }
        } else if (jp_value(j, NULL, 0, NULL) < 0) {
            return -1;
        }
        jp_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return 0;
        }
        return jp_fail(j, "',' or '}' expected");
    }
}

static int jp_value(jp_t *j, jfield_t *fields, size_t max, size_t *nfields)
{
    int rc;

    jp_ws(j);
    if (j->p >= j->end)
        return jp_fail(j, "value expected");
    if (++j->depth > 64)
        return jp_fail(j, "too deep");
    switch (*j->p) {
    case '{':
        rc = jp_object(j, fields, max, nfields);
        break;
    case '[':
        j->p++;
        jp_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            rc = 0;
            break;
        }
        for (;;) {
            if ((rc = jp_value(j, NULL, 0, NULL)) < 0)
                break;
            jp_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                break;
            }
            rc = jp_fail(j, "',' or ']' expected");
            break;
        }
        break;
    case '"':
        rc = jp_string(j, NULL);
        break;
    case 't':
        rc = jp_lit(j, "true");
        break;
    case 'f':
        rc = jp_lit(j, "false");
        break;
    case 'n':
        rc = jp_lit(j, "null");
        break;
    default:
        rc = jp_number(j);
        break;
    }
    j->depth--;
    return rc;
}

/*
 * Validate `text` as exactly one JSON value (whitespace around allowed). When it is an object and
 * `fields` is given, its members go there. Returns NULL when valid, else what is wrong.
 */
static const char *ad_json_check(const char *text, size_t len, jfield_t *fields, size_t max,
                                 size_t *nfields)
{
    jp_t j = {(const unsigned char *)text, (const unsigned char *)text + len,
              (const unsigned char *)text, 0, ""};
    size_t dummy = 0;

    if (nfields == NULL)
        nfields = &dummy;
    *nfields = 0;
    jp_ws(&j);
    if (fields != NULL && (j.p >= j.end || *j.p != '{'))
        return "not an object";
    if (jp_value(&j, fields, max, nfields) < 0)
        return lg_fmt("%s", j.err);
    jp_ws(&j);
    if (j.p != j.end)
        return "text after the value";
    return NULL;
}

/* The member `key` of a parsed line, or NULL. */
static const jfield_t *ad_jfield(const jfield_t *f, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].key, key) == 0)
            return &f[i];
    }
    return NULL;
}

/* The string member `key` (required to be a string). */
static const char *ad_jstr(const jfield_t *f, size_t n, const char *key)
{
    const jfield_t *x = ad_jfield(f, n, key);

    cr_assert_not_null(x, "no \"%s\" in the log line", key);
    cr_assert(x->is_string, "\"%s\" is not a string: %s", key, x->value);
    return x->value;
}

/* The integer member `key` (required to be a number without fraction or exponent). */
static long long ad_jint(const jfield_t *f, size_t n, const char *key)
{
    const jfield_t *x = ad_jfield(f, n, key);
    char *end;
    long long v;

    cr_assert_not_null(x, "no \"%s\" in the log line", key);
    cr_assert_not(x->is_string, "\"%s\" is a string, not a number: %s", key, x->value);
    v = strtoll(x->value, &end, 10);
    cr_assert(*end == '\0' && end != x->value, "\"%s\" is not an integer: %s", key, x->value);
    return v;
}

/* 1 when `s` matches the POSIX extended regex `re`. */
static int ad_match(const char *re, const char *s)
{
    regex_t rx;
    int rc;

    cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0, "bad regex %s", re);
    rc = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return rc;
}

/* ---- 1: /healthz, 404, 405 */

Test(admin, healthz_unknown_path_and_methods)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, "off", "combined", o->port));
    int aport = ad_admin(lg);
    lg_http_response_t *r;

    r = lg_http_get(aport, "/healthz", NULL);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "ok\n");
    cr_assert(strncmp(lg_http_header(r, "Content-Type"), "text/plain", 10) == 0);

    /* HEAD: the same head, no body */
    r = lg_http_request(aport, "HEAD", "/healthz", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->body_len, 0);
    cr_assert_eq(r->content_length, 3);

    /* a query string does not change the path */
    r = lg_http_get(aport, "/healthz?probe=1", NULL);
    lgt_assert_status(r, 200);
    cr_assert_str_eq(r->body, "ok\n");

    const char *unknown[] = {"/nope", "/healthz/x", "/metricsx", "/status.json/", "/favicon.ico"};

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        r = lg_http_get(aport, unknown[i], NULL);
        lgt_assert_status(r, 404);
    }

    const char *paths[] = {"/healthz", "/metrics", "/status.json", "/status"};
    const char *methods[] = {"POST", "PUT", "DELETE"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
            r = lg_http_request(aport, methods[m], paths[i], NULL, "x", 1);
            lgt_assert_status(r, 405);
        }
    }

    /* the admin listener still answers, and none of this was client traffic */
    r = lg_http_get(aport, "/healthz", NULL);
    lgt_assert_status(r, 200);
    cr_assert_eq(
        ad_metric(ad_get(aport, "/metrics"), "lifeguard_connections_total", "listener=\"web\""), 0);
    lg_lifeguard_finish(lg, NULL);
}

/* RFC 9110 15.5.6: "The origin server MUST generate an Allow header field in a 405 response". */
Test(admin, method_not_allowed_has_allow_header)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, "off", "combined", o->port));
    int aport = ad_admin(lg);
    lg_http_response_t *r = lg_http_request(aport, "POST", "/healthz", NULL, "x", 1);
    const char *allow;

    lgt_assert_status(r, 405);
    allow = lg_http_header(r, "Allow");
    cr_expect_not_null(allow, "405 without an Allow header; head: %s", r->head);
    if (allow != NULL) {
        cr_expect(strstr(allow, "GET") != NULL && strstr(allow, "HEAD") != NULL, "Allow: %s",
                  allow);
    }
    lg_lifeguard_finish(lg, NULL);
}

/* ---- 2: /metrics passes promtool */

/* Run `promtool check metrics` on `body`: its exit status; *out gets everything it printed. */
static int ad_promtool(const char *dir, const char *body, char **out)
{
    const char *tool = access("/usr/bin/promtool", X_OK) == 0 ? "/usr/bin/promtool" : "promtool";
    char *file = lg_test_keep(lg_test_write_file(dir, "metrics.txt", body), NULL);
    FILE *f = popen(lg_fmt("%s check metrics < '%s' 2>&1", tool, file), "r");
    char buf[4096], *all = "";
    size_t n;
    int st;

    cr_assert_not_null(f, "popen(promtool) failed");
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        all = lg_fmt("%s%.*s", all, (int)n, buf);
    st = pclose(f);
    *out = all;
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

Test(admin, metrics_pass_promtool, .timeout = 60)
{
    lg_proc_t *a = lg_origin_start("--name a");
    lg_proc_t *b = lg_origin_start("--name b");
    lg_proc_t *c = lg_origin_start("--name c");
    char *dir = lg_test_tempdir();
    /* a port with nothing behind it: a third pool whose requests fail (502) */
    int dead = lg_test_free_port();
    lg_yaml_t *conf = ad_conf_checked(2, a->port, b->port);
    lg_proc_t *lg;
    int port, aport, ok;
    lg_client_t *cl;
    lg_http_response_t *r;
    char *body, *out;
    const char *ctype;

    lg_yaml_set(conf, "listeners.web.routes", NULL);
    lg_yaml_add(conf, "listeners.web.routes", "{path_prefix: /b/, pool: second}");
    lg_yaml_add(conf, "listeners.web.routes", "{path_prefix: /dead/, pool: dead}");
    lg_yaml_add(conf, "listeners.web.routes", "{pool: app}");
    lg_yaml_set(conf, "listeners.api.listen", "127.0.0.1:0");
    lg_yaml_add(conf, "listeners.api.routes", "{pool: second}");
    lg_yaml_set(conf, "pools.second.health_check.type", "none");
    lg_yaml_add(conf, "pools.second.backends", "127.0.0.1:%d", c->port);
    lg_yaml_set(conf, "pools.dead.retries", "0");
    lg_yaml_set(conf, "pools.dead.health_check.type", "none");
    lg_yaml_add(conf, "pools.dead.backends", "127.0.0.1:%d", dead);
    lg = lg_yaml_start(conf);
    port = lg_proc_port(lg, "web");
    aport = ad_admin(lg);

    /* before any traffic: already a valid exposition */
    body = ad_get(aport, "/metrics");
    cr_assert_eq(ad_promtool(dir, body, &out), 0, "promtool: %s\n%s", out, body);
    cr_assert_str_eq(out, "", "promtool reported problems:\n%s", out);

    /* traffic of every class but 1xx, on both listeners and all three pools */
    cl = lg_client_connect(port);
    ad_requests(cl, 5, "/", 200, NULL);
    ad_requests(cl, 2, "/status/302", 302, NULL);
    ad_requests(cl, 3, "/status/404", 404, NULL);
    ad_requests(cl, 2, "/status/500", 500, NULL);
    ad_requests(cl, 4, "/b/size/100", 200, NULL);
    lg_client_close(cl);
    ad_oneshots(lg_proc_port(lg, "api"), 3, "/status/201", 201, NULL);
    ad_oneshots(port, 2, "/dead/x", 502, NULL);
    ad_oneshots(port, 1, "/status/503", 503, NULL);

    ad_expect_metric(aport, "lifeguard_requests_total",
                     "listener=\"web\",code=\"5xx\",protocol=\"HTTP/1.1\"", 5);
    ad_expect_metric(aport, "lifeguard_requests_total",
                     "listener=\"api\",code=\"2xx\",protocol=\"HTTP/1.1\"", 3);
    r = lg_http_get(aport, "/metrics", NULL);
    lgt_assert_status(r, 200);
    ctype = lg_http_header(r, "Content-Type");
    cr_assert_not_null(ctype);
    cr_assert(strncmp(ctype, "text/plain", 10) == 0 && strstr(ctype, "version=0.0.4") != NULL,
              "Content-Type: %s", ctype);
    body = r->body;
    cr_assert_eq(ad_promtool(dir, body, &out), 0, "promtool: %s\n%s", out, body);
    cr_assert_str_eq(out, "", "promtool reported problems:\n%s", out);

    /* what the traffic should show */
    cr_assert_eq(ad_metric(body, "lifeguard_requests_total",
                           "listener=\"web\",code=\"2xx\",protocol=\"HTTP/1.1\""),
                 9);
    cr_assert_eq(ad_metric(body, "lifeguard_requests_total",
                           "listener=\"web\",code=\"3xx\",protocol=\"HTTP/1.1\""),
                 2);
    cr_assert_eq(ad_metric(body, "lifeguard_requests_total",
                           "listener=\"web\",code=\"4xx\",protocol=\"HTTP/1.1\""),
                 3);
    cr_assert_eq(ad_metric(body, "lifeguard_request_duration_seconds_count", "pool=\"second\""), 7);
    cr_assert_eq(ad_metric(body, "lifeguard_request_duration_seconds_count", "pool=\"dead\""), 2);
    cr_assert_eq(ad_metric(body, "lifeguard_backend_failures_total",
                           lg_fmt("pool=\"dead\",backend=\"127.0.0.1:%d\",host=\"127.0.0.1:%d\"",
                                  dead, dead)),
                 2);
    cr_assert_eq(ad_metric(body, "lifeguard_backend_up",
                           lg_fmt("pool=\"app\",backend=\"127.0.0.1:%d\",host=\"127.0.0.1:%d\"",
                                  a->port, a->port)),
                 1);
    cr_assert_eq(ad_metric(body, "lifeguard_workers", ""), 2);
    cr_assert_eq(ad_metric(body, "lifeguard_config_generation", ""), 1);

    /* a backend that went down: still valid */
    lg_proc_stop(b);
    LG_WAIT_FOR(ok,
                ad_metric(ad_get(aport, "/metrics"), "lifeguard_backend_up",
                          lg_fmt("pool=\"app\",backend=\"127.0.0.1:%d\",host=\"127.0.0.1:%d\"",
                                 b->port, b->port)) == 0,
                lg_test_timeout_ms());
    cr_assert(ok, "backend b not down in /metrics");
    body = ad_get(aport, "/metrics");
    cr_assert_eq(ad_promtool(dir, body, &out), 0, "promtool: %s\n%s", out, body);
    cr_assert_str_eq(out, "", "promtool reported problems:\n%s", out);
    lg_lifeguard_finish(lg, lg_fmt("connect() to 127.0.0.1:%d failed", dead));
}

/* ---- 3: counters equal the requests sent */

/* The series of one listener/pool/backend that the traffic below moves. */
typedef struct ad_counts {
    double c2, c4, c5, conns, be2, be4, be5, dur, sent;
} ad_counts_t;

static ad_counts_t ad_read_counts(const char *body, int oport)
{
    const char *be =
        lg_fmt("pool=\"app\",backend=\"127.0.0.1:%d\",host=\"127.0.0.1:%d\"", oport, oport);
    ad_counts_t k;

    k.c2 = ad_metric(body, "lifeguard_requests_total",
                     "listener=\"web\",code=\"2xx\",protocol=\"HTTP/1.1\"");
    k.c4 = ad_metric(body, "lifeguard_requests_total",
                     "listener=\"web\",code=\"4xx\",protocol=\"HTTP/1.1\"");
    k.c5 = ad_metric(body, "lifeguard_requests_total",
                     "listener=\"web\",code=\"5xx\",protocol=\"HTTP/1.1\"");
    k.conns = ad_metric(body, "lifeguard_connections_total", "listener=\"web\"");
    k.be2 = ad_metric(body, "lifeguard_backend_requests_total", lg_fmt("%s,code=\"2xx\"", be));
    k.be4 = ad_metric(body, "lifeguard_backend_requests_total", lg_fmt("%s,code=\"4xx\"", be));
    k.be5 = ad_metric(body, "lifeguard_backend_requests_total", lg_fmt("%s,code=\"5xx\"", be));
    k.dur = ad_metric(body, "lifeguard_request_duration_seconds_count", "pool=\"app\"");
    k.sent = ad_metric(body, "lifeguard_sent_bytes_total", "listener=\"web\"");
    return k;
}

static int ad_counts_eq(const ad_counts_t *a, const ad_counts_t *b)
{
    return a->c2 == b->c2 && a->c4 == b->c4 && a->c5 == b->c5 && a->conns == b->conns &&
           a->be2 == b->be2 && a->be4 == b->be4 && a->be5 == b->be5 && a->dur == b->dur &&
           a->sent == b->sent;
}

static char *ad_counts_text(const ad_counts_t *k)
{
    return lg_fmt("2xx %g 4xx %g 5xx %g conns %g backend 2xx %g 4xx %g 5xx %g duration_count %g "
                  "sent_bytes %g",
                  k->c2, k->c4, k->c5, k->conns, k->be2, k->be4, k->be5, k->dur, k->sent);
}

/* Poll /metrics until the counters are `want` (bounded), then require them. */
static void ad_expect_counts(int aport, int oport, const ad_counts_t *want)
{
    ad_counts_t got = {0};
    int ok;

    LG_WAIT_FOR(ok,
                (got = ad_read_counts(ad_get(aport, "/metrics"), oport), ad_counts_eq(&got, want)),
                lg_test_timeout_ms());
    cr_assert(ok, "counters: %s\nexpected: %s", ad_counts_text(&got), ad_counts_text(want));
}

/*
 * 37 x 200, 5 x 404 and 3 x 503 from the origin over 2 keep-alive connections and 10 new ones:
 * the counts of the test's traffic, `bytes` (what the client read) added to *sent.
 */
static void ad_traffic(int port, uint64_t *sent)
{
    lg_client_t *a = lg_client_connect(port), *b = lg_client_connect(port);

    ad_requests(a, 10, "/", 200, sent);
    ad_requests(b, 5, "/size/1000", 200, sent);
    ad_requests(a, 3, "/status/404", 404, sent);
    ad_requests(b, 2, "/status/503", 503, sent);
    ad_oneshots(port, 7, "/size/10", 200, sent);
    ad_requests(a, 10, "/", 200, sent);
    ad_requests(b, 5, "/echo", 200, sent);
    ad_oneshots(port, 2, "/status/404", 404, sent);
    ad_oneshots(port, 1, "/status/503", 503, sent);
    lg_client_close(a);
    lg_client_close(b);
}

static const ad_counts_t ad_one_traffic = {37, 5, 3, 12, 37, 5, 3, 45, 0};

Test(admin, counters_equal_requests_sent, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(2, "off", "combined", o->port));
    int port = lg_proc_port(lg, "web"), aport = ad_admin(lg);
    ad_counts_t want = ad_one_traffic, zero = {0};
    uint64_t sent = 0;
    lg_client_t *idle;
    char *json;

    /* every series exists, at zero, before any traffic */
    ad_expect_counts(aport, o->port, &zero);

    ad_traffic(port, &sent);
    want.sent = (double)sent;
    ad_expect_counts(aport, o->port, &want);
    ad_expect_metric(aport, "lifeguard_requests_total",
                     "listener=\"web\",code=\"1xx\",protocol=\"HTTP/1.1\"", 0);
    ad_expect_metric(aport, "lifeguard_requests_total",
                     "listener=\"web\",code=\"3xx\",protocol=\"HTTP/1.1\"", 0);
    ad_expect_metric(aport, "lifeguard_request_duration_seconds_bucket", "pool=\"app\",le=\"+Inf\"",
                     45);
    ad_expect_metric(aport, "lifeguard_no_backend_total", "pool=\"app\"", 0);
    ad_expect_metric(aport, "lifeguard_retries_total", "pool=\"app\"", 0);

    /* the same numbers in /status.json */
    json = ad_get(aport, "/status.json");
    cr_assert_null(ad_json_check(json, strlen(json), NULL, 0, NULL), "invalid JSON: %s", json);
    cr_assert(strstr(json, "\"requests\": {\"1xx\": 0, \"2xx\": 37, \"3xx\": 0, \"4xx\": 5, "
                           "\"5xx\": 3}") != NULL,
              "%s", json);
    cr_assert(strstr(json, "\"connections_total\": 12") != NULL, "%s", json);

    /* an open connection is active, and counted once */
    idle = lg_client_connect(port);
    ad_requests(idle, 1, "/", 200, NULL);
    ad_expect_metric(aport, "lifeguard_connections_active", "listener=\"web\"", 1);
    ad_expect_metric(aport, "lifeguard_connections_total", "listener=\"web\"", 13);
    lg_client_close(idle);
    ad_expect_metric(aport, "lifeguard_connections_active", "listener=\"web\"", 0);

    /* nothing else moves them: admin requests are not client traffic */
    for (int i = 0; i < 5; i++)
        ad_get(aport, "/metrics");
    lg_sleep_ms(300);
    ad_expect_metric(aport, "lifeguard_connections_total", "listener=\"web\"", 13);
    ad_expect_metric(aport, "lifeguard_requests_total",
                     "listener=\"web\",code=\"2xx\",protocol=\"HTTP/1.1\"", 38);
    lg_lifeguard_finish(lg, NULL);
}

/* Every counter of `now` is at least the one of `before`. */
static int ad_counts_geq(const ad_counts_t *now, const ad_counts_t *before)
{
    return now->c2 >= before->c2 && now->c4 >= before->c4 && now->c5 >= before->c5 &&
           now->conns >= before->conns && now->be2 >= before->be2 && now->be4 >= before->be4 &&
           now->be5 >= before->be5 && now->dur >= before->dur && now->sent >= before->sent;
}

Test(admin, counters_survive_a_reload, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(2, "off", "combined", o->port));
    int port = lg_proc_port(lg, "web"), aport = ad_admin(lg);
    ad_counts_t want = ad_one_traffic, last;
    uint64_t sent = 0, deadline;
    size_t mark;
    lg_client_t *idle;
    int drained = 0, polls = 0;
    char *body;

    ad_traffic(port, &sent);
    /* a keep-alive connection left open on the old generation: it drains */
    idle = lg_client_connect(port);
    ad_requests(idle, 1, "/", 200, &sent);
    want.c2 += 1;
    want.be2 += 1;
    want.dur += 1;
    want.conns += 1;
    want.sent = (double)sent;
    ad_expect_counts(aport, o->port, &want);
    cr_assert_eq(ad_metric(ad_get(aport, "/metrics"), "lifeguard_reloads_total", ""), 0);
    cr_assert_eq(ad_metric(ad_get(aport, "/metrics"), "lifeguard_config_generation", ""), 1);

    /*
     * Reload with the same file and watch every counter until the old generation drained. The
     * old worker keeps the idle connection until its next request, which it answers with
     * `Connection: close` (docs/architecture.md): that request is made during the drain.
     */
    mark = lg_proc_log_mark(lg);
    last = want;
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    deadline = lg_now_ms() + (uint64_t)lg_test_timeout_ms();
    while (!drained && lg_now_ms() < deadline) {
        ad_counts_t now;

        if (idle != NULL && lg_proc_wait_log(lg, mark, "generation 1 drains", 0)) {
            lg_http_response_t *r = lg_client_request(idle, "GET", "/", NULL, NULL, 0);

            lgt_assert_status(r, 200);
            sent += strlen(r->head) + r->body_len;
            cr_assert(lg_client_wait_close(idle, lg_test_timeout_ms()),
                      "the old generation kept a connection");
            lg_client_close(idle);
            idle = NULL;
            want.c2 += 1;
            want.be2 += 1;
            want.dur += 1;
            want.sent = (double)sent;
        }
        drained = lg_proc_wait_log(lg, mark, "generation 1 drained", 0);
        now = ad_read_counts(ad_get(aport, "/metrics"), o->port);
        polls++;
        cr_assert(ad_counts_geq(&now, &last),
                  "a counter went back during the reload: %s\nbefore: %s", ad_counts_text(&now),
                  ad_counts_text(&last));
        last = now;
    }
    cr_assert_null(idle, "no \"generation 1 drains\" in the log");
    cr_assert(drained, "generation 1 did not drain");

    /* after the drain: the same numbers, folded into the totals */
    body = ad_get(aport, "/metrics");
    last = ad_read_counts(body, o->port);
    cr_assert(ad_counts_eq(&last, &want), "after the drain: %s\nexpected: %s (%d polls)",
              ad_counts_text(&last), ad_counts_text(&want), polls);
    cr_assert_eq(ad_metric(body, "lifeguard_reloads_total", ""), 1);
    cr_assert_eq(ad_metric(body, "lifeguard_config_generation", ""), 2);
    cr_assert_eq(ad_metric(body, "lifeguard_workers", ""), 2);
    cr_assert_eq(ad_metric(body, "lifeguard_connections_active", "listener=\"web\""), 0);

    /* the new generation adds to them */
    ad_traffic(lg_proc_port(lg, "web"), &sent);
    want.c2 += 37;
    want.c4 += 5;
    want.c5 += 3;
    want.conns += 12;
    want.be2 += 37;
    want.be4 += 5;
    want.be5 += 3;
    want.dur += 45;
    want.sent = (double)sent;
    ad_expect_counts(aport, o->port, &want);
    ad_expect_metric(aport, "lifeguard_request_duration_seconds_bucket", "pool=\"app\",le=\"+Inf\"",
                     want.dur);
    body = ad_get(aport, "/status.json");
    cr_assert_null(ad_json_check(body, strlen(body), NULL, 0, NULL), "invalid JSON: %s", body);
    cr_assert(strstr(body, "\"generation\": 2") != NULL, "%s", body);
    cr_assert(strstr(body, "\"reloads\": 1") != NULL, "%s", body);
    cr_assert(strstr(body, lg_fmt("\"requests\": {\"1xx\": 0, \"2xx\": %.0f, \"3xx\": 0, "
                                  "\"4xx\": %.0f, \"5xx\": %.0f}",
                                  want.c2, want.c4, want.c5)) != NULL,
              "%s", body);
    lg_lifeguard_finish(lg, NULL);
}

/* ---- 4: backend state */

/*
 * The text of the backend object with "address": "ADDR" in /status.json (from its '{' to its
 * '}'), or NULL.
 */
static char *ad_backend_object(const char *json, const char *addr)
{
    const char *p = json;

    while ((p = strstr(p, "\"address\"")) != NULL) {
        const char *v = p + 9, *start, *q;
        size_t alen = strlen(addr);
        int depth = 0, in_str = 0;

        while (*v == ' ' || *v == ':')
            v++;
        if (!(*v == '"' && strncmp(v + 1, addr, alen) == 0 && v[1 + alen] == '"')) {
            p = v;
            continue;
        }
        for (start = p; start > json && *start != '{'; start--)
            ;
        for (q = start; *q != '\0'; q++) {
            if (in_str) {
                if (*q == '\\' && q[1] != '\0')
                    q++;
                else if (*q == '"')
                    in_str = 0;
            } else if (*q == '"') {
                in_str = 1;
            } else if (*q == '{') {
                depth++;
            } else if (*q == '}' && --depth == 0) {
                return lg_fmt("%.*s", (int)(q - start + 1), start);
            }
        }
        return NULL;
    }
    return NULL;
}

/* The "state" of backend ADDR in /status.json, or "" when it is not there. */
static const char *ad_backend_state(int aport, const char *addr)
{
    char *json = ad_get(aport, "/status.json");
    char *obj;
    jfield_t f[32];
    size_t n;
    const char *err = ad_json_check(json, strlen(json), NULL, 0, NULL);

    cr_assert_null(err, "/status.json is not valid JSON (%s): %s", err, json);
    obj = ad_backend_object(json, addr);
    if (obj == NULL)
        return "";
    err = ad_json_check(obj, strlen(obj), f, 32, &n);
    cr_assert_null(err, "backend object: %s: %s", err, obj);
    return ad_jstr(f, n, "state");
}

Test(admin, backend_down_in_metrics_and_status_json, .timeout = 60)
{
    lg_proc_t *a = lg_origin_start("--name a");
    lg_proc_t *b = lg_origin_start("--name b");
    int bport = b->port;
    lg_proc_t *lg = lg_yaml_start(ad_conf_checked(1, a->port, bport));
    int aport = ad_admin(lg), ok;
    const char *la =
        lg_fmt("pool=\"app\",backend=\"127.0.0.1:%d\",host=\"127.0.0.1:%d\"", a->port, a->port);
    const char *lb =
        lg_fmt("pool=\"app\",backend=\"127.0.0.1:%d\",host=\"127.0.0.1:%d\"", bport, bport);
    const char *addr_a = lg_fmt("127.0.0.1:%d", a->port), *addr_b = lg_fmt("127.0.0.1:%d", bport);
    const char *st = "";
    char *body;

    /* both up (their first checks passed before the workers started) */
    ad_expect_metric(aport, "lifeguard_backend_up", la, 1);
    ad_expect_metric(aport, "lifeguard_backend_up", lb, 1);
    ad_expect_metric(aport, "lifeguard_backend_check_success", lb, 1);
    cr_assert_str_eq(ad_backend_state(aport, addr_a), "up");
    cr_assert_str_eq(ad_backend_state(aport, addr_b), "up");

    /* b stops: down in both, a stays up */
    lg_proc_stop(b);
    LG_WAIT_FOR(ok, ad_metric(ad_get(aport, "/metrics"), "lifeguard_backend_up", lb) == 0,
                lg_test_timeout_ms());
    cr_assert(ok, "lifeguard_backend_up of b is not 0");
    LG_WAIT_FOR(ok, strcmp(st = ad_backend_state(aport, addr_b), "down") == 0,
                lg_test_timeout_ms());
    cr_assert(ok, "state of b is \"%s\", not \"down\"", st);
    body = ad_get(aport, "/metrics");
    cr_assert_eq(ad_metric(body, "lifeguard_backend_check_success", lb), 0);
    cr_assert_eq(ad_metric(body, "lifeguard_backend_up", la), 1);
    cr_assert_str_eq(ad_backend_state(aport, addr_a), "up");
    /* and the traffic goes to a */
    for (int i = 0; i < 4; i++) {
        lg_http_response_t *r = lg_http_get(lg_proc_port(lg, "web"), "/", NULL);

        lgt_assert_status(r, 200);
        cr_assert_str_eq(r->body, "a\n");
    }

    /* b comes back on its port: up again */
    b = lg_origin_startf("--name b --listen 127.0.0.1:%d", bport);
    LG_WAIT_FOR(ok, ad_metric(ad_get(aport, "/metrics"), "lifeguard_backend_up", lb) == 1,
                lg_test_timeout_ms());
    cr_assert(ok, "lifeguard_backend_up of b is not back to 1");
    LG_WAIT_FOR(ok, strcmp(st = ad_backend_state(aport, addr_b), "up") == 0, lg_test_timeout_ms());
    cr_assert(ok, "state of b is \"%s\", not \"up\"", st);
    lg_lifeguard_finish(lg, NULL);
}

/* Slow responses land in the buckets above their duration, and in the sum. */
Test(admin, duration_histogram_counts_slow_responses, .timeout = 30)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, "off", "combined", o->port));
    int port = lg_proc_port(lg, "web"), aport = ad_admin(lg);
    lg_client_t *c = lg_client_connect(port);
    char *body;
    double v;

    ad_requests(c, 2, "/", 200, NULL);
    ad_requests(c, 3, "/delay/150", 200, NULL);
    lg_client_close(c);
    ad_expect_metric(aport, "lifeguard_request_duration_seconds_count", "pool=\"app\"", 5);
    body = ad_get(aport, "/metrics");
    /* 150 ms or more: never in a bucket up to 0.1 s, always in those from 0.25 s on... */
    v = ad_metric(body, "lifeguard_request_duration_seconds_bucket", "pool=\"app\",le=\"0.1\"");
    cr_assert_leq(v, 2, "%g requests of 100 ms or less:\n%s", v, body);
    v = ad_metric(body, "lifeguard_request_duration_seconds_bucket", "pool=\"app\",le=\"10\"");
    cr_assert_eq(v, 5, "%s", body);
    cr_assert_eq(
        ad_metric(body, "lifeguard_request_duration_seconds_bucket", "pool=\"app\",le=\"+Inf\""),
        5);
    /* ...and the sum is in seconds */
    v = ad_metric(body, "lifeguard_request_duration_seconds_sum", "pool=\"app\"");
    cr_assert(v >= 0.45 && v < 30, "sum %g s for 3 x 150 ms:\n%s", v, body);
    /* the buckets are cumulative */
    {
        static const char *const le[] = {"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                         "0.5",   "1",     "2.5",  "5",     "10",   "+Inf"};
        double prev = 0;

        for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
            v = ad_metric(body, "lifeguard_request_duration_seconds_bucket",
                          lg_fmt("pool=\"app\",le=\"%s\"", le[i]));
            cr_assert(v >= prev, "bucket le=%s is %g, below the one before (%g)", le[i], v, prev);
            prev = v;
        }
    }
    lg_lifeguard_finish(lg, NULL);
}

/* ---- 5: the status page */

Test(admin, status_page_is_html)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, "off", "combined", o->port));
    int aport = ad_admin(lg);
    lg_http_response_t *r = lg_http_get(aport, "/status", NULL);
    const char *ct;
    char *json;

    lgt_assert_status(r, 200);
    ct = lg_http_header(r, "Content-Type");
    cr_assert_not_null(ct);
    cr_assert(strncasecmp(ct, "text/html", 9) == 0, "Content-Type: %s", ct);
    cr_assert(strcasestr(r->body, "<html") != NULL);
    cr_assert(strstr(r->body, "status.json") != NULL, "the page does not fetch status.json");
    cr_assert_eq(r->content_length, (long long)r->body_len);

    r = lg_http_request(aport, "HEAD", "/status", NULL, NULL, 0);
    lgt_assert_status(r, 200);
    cr_assert_eq(r->body_len, 0);

    /* what the page reads is JSON with the listener and the pool */
    r = lg_http_get(aport, "/status.json", NULL);
    lgt_assert_status(r, 200);
    cr_assert(strncmp(lg_http_header(r, "Content-Type"), "application/json", 16) == 0);
    json = r->body;
    cr_assert_null(ad_json_check(json, strlen(json), NULL, 0, NULL), "invalid JSON: %s", json);
    cr_assert(strstr(json, "\"web\"") != NULL && strstr(json, "\"app\"") != NULL, "%s", json);
    cr_assert_str_eq(ad_backend_state(aport, lg_fmt("127.0.0.1:%d", o->port)), "up");
    lg_lifeguard_finish(lg, NULL);
}

/* ---- 6: the json access log */

/* Wait for `want` lines in `path`, then require exactly that many; the lines. */
static char **ad_log_lines(const char *path, size_t want, size_t *n)
{
    size_t got = ad_wait_lines(path, want, lg_test_timeout_ms());
    char *text;

    /* lines that should not be there would come with the same flush */
    cr_assert_eq(got, want, "%zu lines in %s, expected %zu:\n%s", got, path, want,
                 lg_test_read_file(path, NULL));
    text = lg_test_keep(lg_test_read_file(path, NULL), NULL);
    cr_assert_not_null(text);
    cr_assert(text[strlen(text) - 1] == '\n', "the last line is not complete");
    return ad_split_lines(text, n);
}

typedef struct ad_req {
    const char *method, *path, *headers;
    int status;
    const char *rid;     /* the X-Request-Id the origin saw (filled in), or given */
    const char *referer; /* as sent, or NULL */
    const char *ua;      /* as sent, or NULL */
} ad_req_t;

Test(admin, access_log_json, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start(NULL);
    char *dir = lg_test_tempdir();
    const char *path = lg_fmt("%s/access.log", dir);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, path, "json", o->port));
    int port = lg_proc_port(lg, "web");
    const char *ua = "agent \"quoted\" back\\slash\ttab caf\xc3\xa9";
    ad_req_t reqs[] = {
        {"GET", "/", NULL, 200, NULL, NULL, NULL},
        {"GET", "/echo?a=1&b=%22", "User-Agent: curl/8.0\r\nReferer: http://ref.test/p?q=1", 200,
         NULL, "http://ref.test/p?q=1", "curl/8.0"},
        {"GET", "/echo", "X-Request-Id: client-id-0123456789", 200, "client-id-0123456789", NULL,
         NULL},
        {"GET", "/status/404", NULL, 404, NULL, NULL, NULL},
        {"POST", "/echo", lg_fmt("User-Agent: %s\r\nReferer: r\"q\\", ua), 200, NULL, "r\"q\\", ua},
        {"HEAD", "/size/100", NULL, 200, NULL, NULL, NULL},
        {"GET", "/status/503", NULL, 503, NULL, NULL, NULL},
        {"DELETE", "/x/echo", "X-Request-Id: abc", 200, "abc", NULL, NULL},
        {"GET", "/delay/150", NULL, 200, NULL, NULL, NULL},
    };
    size_t nreq = sizeof(reqs) / sizeof(reqs[0]), n;
    lg_client_t *c = lg_client_connect(port);
    char **lines;

    for (size_t i = 0; i < nreq; i++) {
        lg_http_response_t *r =
            lg_client_request(c, reqs[i].method, reqs[i].path, reqs[i].headers,
                              strcmp(reqs[i].method, "POST") == 0 ? "body" : NULL, 4);
        lgt_assert_status(r, reqs[i].status);
        if (strstr(reqs[i].path, "/echo") != NULL) {
            char *seen = lg_echo_header(r->body, "X-Request-Id");

            cr_assert_not_null(seen, "the origin got no X-Request-Id: %s", r->body);
            cr_assert_eq(lg_echo_header_count(r->body, "X-Request-Id"), 1, "%s", r->body);
            if (reqs[i].rid != NULL)
                cr_assert_str_eq(seen, reqs[i].rid, "the client's X-Request-Id was replaced");
            else
                cr_assert(ad_match("^[0-9a-f]{32}$", seen), "generated X-Request-Id \"%s\"", seen);
            reqs[i].rid = seen;
        }
    }
    lg_client_close(c);

    lines = ad_log_lines(path, nreq, &n);
    for (size_t i = 0; i < n; i++) {
        jfield_t f[32];
        size_t nf;
        const char *err = ad_json_check(lines[i], strlen(lines[i]), f, 32, &nf);
        static const char *const keys[] = {"time",       "client",      "method",    "path",
                                           "protocol",   "status",      "bytes",     "duration_ms",
                                           "upstream",   "upstream_ms", "pool",      "listener",
                                           "request_id", "referer",     "user_agent"};
        const char *rid;

        cr_assert_null(err, "line %zu is not JSON (%s): %s", i + 1, err, lines[i]);
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            cr_assert_not_null(ad_jfield(f, nf, keys[k]), "no \"%s\": %s", keys[k], lines[i]);
        cr_assert(ad_match("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+"
                           "-][0-9]{2}:?[0-9]{2})$",
                           ad_jstr(f, nf, "time")),
                  "time: %s", lines[i]);
        cr_assert_str_eq(ad_jstr(f, nf, "client"), "127.0.0.1");
        cr_assert_str_eq(ad_jstr(f, nf, "method"), reqs[i].method, "%s", lines[i]);
        cr_assert_str_eq(ad_jstr(f, nf, "path"), reqs[i].path, "%s", lines[i]);
        cr_assert_str_eq(ad_jstr(f, nf, "protocol"), "HTTP/1.1");
        cr_assert_eq(ad_jint(f, nf, "status"), reqs[i].status, "%s", lines[i]);
        /* body bytes, like the combined format's $body_bytes_sent: none for HEAD */
        if (strcmp(reqs[i].method, "HEAD") == 0)
            cr_assert_eq(ad_jint(f, nf, "bytes"), 0, "%s", lines[i]);
        else
            cr_assert_gt(ad_jint(f, nf, "bytes"), 0, "%s", lines[i]);
        cr_assert_geq(ad_jint(f, nf, "duration_ms"), 0);
        if (strncmp(reqs[i].path, "/delay/", 7) == 0) {
            /* the origin waited 150 ms before its response head */
            cr_assert_geq(ad_jint(f, nf, "duration_ms"), 150, "%s", lines[i]);
            cr_assert_geq(ad_jint(f, nf, "upstream_ms"), 150, "%s", lines[i]);
        }
        cr_assert_str_eq(ad_jstr(f, nf, "upstream"), lg_fmt("127.0.0.1:%d", o->port));
        cr_assert_geq(ad_jint(f, nf, "upstream_ms"), 0, "%s", lines[i]);
        cr_assert_leq(ad_jint(f, nf, "upstream_ms"), ad_jint(f, nf, "duration_ms"));
        cr_assert_str_eq(ad_jstr(f, nf, "pool"), "app");
        cr_assert_str_eq(ad_jstr(f, nf, "listener"), "web");
        rid = ad_jstr(f, nf, "request_id");
        if (reqs[i].rid != NULL)
            cr_assert_str_eq(rid, reqs[i].rid, "request_id of %s: %s", reqs[i].path, lines[i]);
        else
            cr_assert(ad_match("^[0-9a-f]{32}$", rid), "request_id \"%s\"", rid);
        /* what the client sent, decoded back exactly */
        cr_assert_str_eq(ad_jstr(f, nf, "referer"), reqs[i].referer ? reqs[i].referer : "", "%s",
                         lines[i]);
        cr_assert_str_eq(ad_jstr(f, nf, "user_agent"), reqs[i].ua ? reqs[i].ua : "", "%s",
                         lines[i]);
    }
    lg_lifeguard_finish(lg, NULL);
}

/*
 * A header value with bytes that are not UTF-8 (obs-text, which HTTP allows): the line must still
 * be JSON (RFC 8259 8.1: UTF-8), or `json.loads` and every strict reader rejects the whole line.
 */
Test(admin, access_log_json_stays_valid_with_non_utf8_header, .timeout = 30)
{
    lg_proc_t *o = lg_origin_start(NULL);
    char *dir = lg_test_tempdir();
    const char *path = lg_fmt("%s/access.log", dir);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, path, "json", o->port));
    int port = lg_proc_port(lg, "web");
    lg_http_response_t *r;
    size_t n;
    char **lines;
    const char *err;

    r = lg_http_get(port, "/", "User-Agent: bad \xff\xfe latin1 caf\xe9\r\nReferer: \xc3\x28");
    lgt_assert_status(r, 200);
    lines = ad_log_lines(path, 1, &n);
    err = ad_json_check(lines[0], strlen(lines[0]), NULL, 0, NULL);
    cr_expect_null(err, "the line is not JSON (%s): %s", err, lines[0]);
    lg_lifeguard_finish(lg, NULL);
}

/* ---- 7: the combined format */

/* nginx's combined line, as the brief's regex with POSIX classes. */
#define AD_COMBINED                                                                                \
    "^[^[:space:]]+ - - \\[[^]]+\\] \"[A-Z]+ [^[:space:]]+ HTTP/1\\.[01]\" [0-9]{3} [0-9]+ "       \
    "\"[^\"]*\" \"[^\"]*\"$"
/* The same with its fields as groups. */
#define AD_COMBINED_GROUPS                                                                         \
    "^([^[:space:]]+) - - \\[([^]]+)\\] \"([A-Z]+) ([^[:space:]]+) (HTTP/1\\.[01])\" ([0-9]{3}) "  \
    "([0-9]+) \"([^\"]*)\" \"([^\"]*)\"$"

typedef struct ad_combined {
    char *client, *time, *method, *target, *protocol, *referer, *ua;
    int status;
    long long bytes;
} ad_combined_t;

/* Split a combined line into its fields; 0 when it does not match. */
static int ad_combined_parse(const char *line, ad_combined_t *out)
{
    regex_t rx;
    regmatch_t m[10];
    int ok;

    cr_assert_eq(regcomp(&rx, AD_COMBINED_GROUPS, REG_EXTENDED), 0);
    ok = regexec(&rx, line, 10, m, 0) == 0;
    regfree(&rx);
    if (!ok)
        return 0;
#define AD_G(i) lg_fmt("%.*s", (int)(m[i].rm_eo - m[i].rm_so), line + m[i].rm_so)
    out->client = AD_G(1);
    out->time = AD_G(2);
    out->method = AD_G(3);
    out->target = AD_G(4);
    out->protocol = AD_G(5);
    out->status = atoi(AD_G(6));
    out->bytes = atoll(AD_G(7));
    out->referer = AD_G(8);
    out->ua = AD_G(9);
#undef AD_G
    return 1;
}

typedef struct ad_creq {
    const char *raw; /* the whole request, sent alone on a new connection */
    const char *method, *target, *protocol;
    int status;
    const char *referer, *ua; /* as logged */
    int head;                 /* a HEAD request */
} ad_creq_t;

/* Send each request on its own connection (in order) and read its response. */
static void ad_send_raw(int port, const ad_creq_t *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lg_client_t *c = lg_client_connect(port);
        lg_http_response_t *r;

        cr_assert_not_null(c);
        cr_assert_eq(lg_client_send(c, reqs[i].raw, strlen(reqs[i].raw)), 0);
        r = lg_client_read(c, reqs[i].head ? LG_READ_HEAD : 0);
        lgt_assert_status(r, reqs[i].status);
        lg_client_close(c);
    }
}

Test(admin, access_log_combined_matches_nginx, .timeout = 30)
{
    lg_proc_t *o = lg_origin_start(NULL);
    char *dir = lg_test_tempdir();
    const char *path = lg_fmt("%s/access.log", dir);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, path, "combined", o->port));
    int port = lg_proc_port(lg, "web");
    const ad_creq_t reqs[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET", "/", "HTTP/1.1", 200, "-",
         "-", 0},
        {"GET /status/404?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)"
         "\r\nReferer: http://example.test/a?b=c\r\nConnection: close\r\n\r\n",
         "GET", "/status/404?x=1", "HTTP/1.1", 404, "http://example.test/a?b=c",
         "Mozilla/5.0 (X11; Linux x86_64)", 0},
        {"HEAD /size/10 HTTP/1.0\r\n\r\n", "HEAD", "/size/10", "HTTP/1.0", 200, "-", "-", 1},
        {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nUser-Agent: t/1\r\n"
         "Connection: close\r\n\r\nabc",
         "POST", "/echo", "HTTP/1.1", 200, "-", "t/1", 0},
        {"DELETE /status/503 HTTP/1.0\r\n\r\n", "DELETE", "/status/503", "HTTP/1.0", 503, "-", "-",
         0},
    };
    size_t nreq = sizeof(reqs) / sizeof(reqs[0]), n;
    char **lines;

    ad_send_raw(port, reqs, nreq);
    lines = ad_log_lines(path, nreq, &n);
    for (size_t i = 0; i < n; i++) {
        ad_combined_t f;

        cr_assert(ad_match(AD_COMBINED, lines[i]), "not nginx's combined: %s", lines[i]);
        cr_assert(ad_combined_parse(lines[i], &f));
        cr_assert_str_eq(f.client, "127.0.0.1");
        /* $time_local: 26/Nov/2026:21:40:00 +0000 */
        cr_assert(ad_match("^[0-9]{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/[0-9]{4}:"
                           "[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$",
                           f.time),
                  "time: %s", f.time);
        cr_assert_str_eq(f.method, reqs[i].method, "%s", lines[i]);
        cr_assert_str_eq(f.target, reqs[i].target, "%s", lines[i]);
        cr_assert_str_eq(f.protocol, reqs[i].protocol, "%s", lines[i]);
        cr_assert_eq(f.status, reqs[i].status, "%s", lines[i]);
        cr_assert_str_eq(f.referer, reqs[i].referer, "%s", lines[i]);
        cr_assert_str_eq(f.ua, reqs[i].ua, "%s", lines[i]);
    }
    lg_lifeguard_finish(lg, NULL);
}

/*
 * nginx's combined format logs $body_bytes_sent: the response body only, not its head (that is
 * $bytes_sent). Log tools (goaccess, awstats) count traffic from it.
 */
Test(admin, access_log_combined_bytes_is_body_bytes_sent, .timeout = 30)
{
    lg_proc_t *o = lg_origin_start("--name alpha");
    char *dir = lg_test_tempdir();
    const char *path = lg_fmt("%s/access.log", dir);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, path, "combined", o->port));
    int port = lg_proc_port(lg, "web");
    const ad_creq_t reqs[] = {
        {"GET /size/1000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET", "/size/1000",
         "HTTP/1.1", 200, "-", "-", 0},
        {"GET /status/404 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET", "/status/404",
         "HTTP/1.1", 404, "-", "-", 0},
        {"HEAD /size/1000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HEAD", "/size/1000",
         "HTTP/1.1", 200, "-", "-", 1},
    };
    const long long body[] = {1000, 6 /* "alpha\n" */, 0};
    size_t n;
    char **lines;

    ad_send_raw(port, reqs, 3);
    lines = ad_log_lines(path, 3, &n);
    for (size_t i = 0; i < n; i++) {
        ad_combined_t f;

        cr_assert(ad_combined_parse(lines[i], &f), "not nginx's combined: %s", lines[i]);
        cr_expect_eq(f.bytes, body[i], "logged %lld bytes for a %lld-byte body: %s", f.bytes,
                     body[i], lines[i]);
    }
    lg_lifeguard_finish(lg, NULL);
}

/*
 * nginx escapes '"', '\' and bytes below 0x20 or above 0x7e as \xHH in its default log escaping,
 * so that a quoted field never contains a quote: a User-Agent or Referer with '"' must leave the
 * line matching the combined regex.
 */
Test(admin, access_log_combined_escapes_quotes_like_nginx, .timeout = 30)
{
    lg_proc_t *o = lg_origin_start(NULL);
    char *dir = lg_test_tempdir();
    const char *path = lg_fmt("%s/access.log", dir);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(1, path, "combined", o->port));
    int port = lg_proc_port(lg, "web");
    const ad_creq_t reqs[] = {
        {"GET /q HTTP/1.1\r\nHost: a\r\nUser-Agent: say \"hi\" \\o/\r\n"
         "Referer: http://x.test/\"a\r\nConnection: close\r\n\r\n",
         "GET", "/q", "HTTP/1.1", 200, "http://x.test/\\x22a", "say \\x22hi\\x22 \\x5Co/", 0},
        {"GET /t HTTP/1.1\r\nHost: a\r\nUser-Agent: tab\there caf\xc3\xa9\r\n"
         "Connection: close\r\n\r\n",
         "GET", "/t", "HTTP/1.1", 200, "-", "tab\\x09here caf\\xC3\\xA9", 0},
    };
    size_t n;
    char **lines;

    ad_send_raw(port, reqs, 2);
    lines = ad_log_lines(path, 2, &n);
    for (size_t i = 0; i < n; i++) {
        ad_combined_t f;

        if (!ad_combined_parse(lines[i], &f)) {
            cr_expect_fail("not nginx's combined: %s", lines[i]);
            continue;
        }
        cr_expect_str_eq(f.referer, reqs[i].referer, "%s", lines[i]);
        cr_expect_str_eq(f.ua, reqs[i].ua, "%s", lines[i]);
    }
    lg_lifeguard_finish(lg, NULL);
}

/* ---- 8: rotation */

Test(admin, access_log_reopened_on_sigusr1, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start(NULL);
    char *dir = lg_test_tempdir();
    const char *path = lg_fmt("%s/access.log", dir), *rotated = lg_fmt("%s/access.log.1", dir);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(2, path, "combined", o->port));
    int port = lg_proc_port(lg, "web"), ok;
    const int n1 = 40, n2 = 30;
    pid_t workers[8];
    size_t nw, n, mark;
    char **lines;
    int *seen = lg_test_keep(calloc((size_t)(n1 + n2), sizeof(int)), NULL);

    LG_WAIT_FOR(ok, (nw = lg_pid_children(lg->pid, workers, 8)) == 2, lg_test_timeout_ms());
    cr_assert(ok, "lifeguard has %zu workers, not 2", nw);
    /* the first batch, partly still in the workers' buffers when the file is renamed */
    for (int i = 0; i < n1; i++)
        ad_oneshots(port, 1, lg_fmt("/r/%d", i), 200, NULL);
    cr_assert_eq(rename(path, rotated), 0);
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(lg_proc_signal(lg, SIGUSR1), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "logs reopened", lg_test_timeout_ms()),
              "the master did not reopen");
    /* every worker has the new file open and no longer the renamed one */
    for (size_t w = 0; w < nw; w++) {
        LG_WAIT_FOR(ok, ad_pid_has_file(workers[w], path) && !ad_pid_has_file(workers[w], rotated),
                    2000);
        cr_assert(ok, "worker %d did not reopen its access log", (int)workers[w]);
    }
    for (int i = n1; i < n1 + n2; i++)
        ad_oneshots(port, 1, lg_fmt("/r/%d", i), 200, NULL);

    /* the new lines in the new file within a flush, the old ones all in the renamed file */
    lines = ad_log_lines(path, (size_t)n2, &n);
    for (size_t i = 0; i < n; i++) {
        ad_combined_t f;
        int k;

        cr_assert(ad_combined_parse(lines[i], &f), "not combined: %s", lines[i]);
        cr_assert_eq(sscanf(f.target, "/r/%d", &k), 1, "%s", lines[i]);
        cr_assert(k >= n1 && k < n1 + n2, "request %d logged in the new file", k);
        seen[k]++;
    }
    lines = ad_log_lines(rotated, (size_t)n1, &n);
    for (size_t i = 0; i < n; i++) {
        ad_combined_t f;
        int k;

        cr_assert(ad_combined_parse(lines[i], &f), "not combined: %s", lines[i]);
        cr_assert_eq(sscanf(f.target, "/r/%d", &k), 1, "%s", lines[i]);
        cr_assert(k >= 0 && k < n1, "request %d logged in the renamed file", k);
        seen[k]++;
    }
    for (int k = 0; k < n1 + n2; k++)
        cr_assert_eq(seen[k], 1, "request /r/%d logged %d times", k, seen[k]);

    /* and a second rotation works the same */
    cr_assert_eq(rename(path, lg_fmt("%s/access.log.2", dir)), 0);
    cr_assert_eq(lg_proc_signal(lg, SIGUSR1), 0);
    LG_WAIT_FOR(ok, ad_file_lines(path) == 0 && access(path, F_OK) == 0, lg_test_timeout_ms());
    cr_assert(ok, "no new access.log after the second SIGUSR1");
    for (size_t w = 0; w < nw; w++) {
        LG_WAIT_FOR(ok, ad_pid_has_file(workers[w], path), lg_test_timeout_ms());
        cr_assert(ok, "worker %d did not reopen its access log", (int)workers[w]);
    }
    ad_oneshots(port, 3, "/again", 200, NULL);
    ad_log_lines(path, 3, &n);
    cr_assert_eq(ad_file_lines(lg_fmt("%s/access.log.2", dir)), (size_t)n2);
    lg_lifeguard_finish(lg, NULL);
}

/* ---- 9: the error log's prefix */

Test(admin, error_log_lines_name_level_and_process, .timeout = 30)
{
    lg_proc_t *o = lg_origin_start(NULL);
    lg_proc_t *lg = lg_lifeguard_start(ad_single(2, "off", "combined", o->port));
    int port = lg_proc_port(lg, "web"), status, nworker_lines = 0, bad;
    const char *prefix = "^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} "
                         "\\[(error|warn|info|debug)\\] [0-9]+#(m|w[0-9]+): [^[:space:]]";
    pid_t wpid[2] = {0, 0};
    char **lines;
    size_t n;
    char *log;
    lg_client_t *c;

    /* a worker logs at info: a request that does not parse */
    c = lg_client_connect(port);
    cr_assert_eq(lg_client_sendf(c, "GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n"), 0);
    lgt_assert_status(lg_client_read(c, 0), 400);
    lg_client_close(c);
    cr_assert(lg_proc_wait_log(lg, 0, "client sent an invalid request", lg_test_timeout_ms()));

    /* a graceful stop: every worker logs its exit */
    status = lg_proc_stop_with(lg, SIGQUIT, lg_test_timeout_ms());
    cr_assert_eq(status, 0);
    cr_assert_eq(lg->strays, 0);
    log = lg_proc_log(lg);
    lines = ad_split_lines(log, &n);
    cr_assert_gt(n, 0);

    /* the pids of worker 0 and 1, from the master's "worker N started, pid P" */
    for (size_t i = 0; i < n; i++) {
        const char *s = strstr(lines[i], "generation 1: worker ");
        unsigned w;
        int pid;

        if (s != NULL && sscanf(s, "generation 1: worker %u started, pid %d", &w, &pid) == 2 &&
            w < 2)
            wpid[w] = pid;
    }
    cr_assert(wpid[0] > 0 && wpid[1] > 0, "no \"worker N started\" lines:\n%s", log);

    for (size_t i = 0; i < n; i++) {
        const char *h = strchr(lines[i], ']');
        int pid;
        char who[16];

        cr_assert(ad_match(prefix, lines[i]), "line without the prefix: %s", lines[i]);
        cr_assert_not_null(h);
        cr_assert_eq(sscanf(h + 2, "%d#%15[^:]", &pid, who), 2, "%s", lines[i]);
        if (strcmp(who, "m") == 0) {
            cr_assert_eq(pid, lg->pid, "a #m line from pid %d: %s", pid, lines[i]);
        } else {
            unsigned w = (unsigned)atoi(who + 1);

            cr_assert(w < 2, "%s", lines[i]);
            cr_assert_eq(pid, wpid[w], "#w%u with pid %d, worker %u is %d: %s", w, pid, w, wpid[w],
                         lines[i]);
            nworker_lines++;
        }
    }
    /* the master's own lines, at info */
    cr_assert(strstr(log, lg_fmt("[info] %d#m: admin: listening on 127.0.0.1:", lg->pid)) != NULL,
              "%s", log);
    cr_assert(strstr(log, lg_fmt("[info] %d#m: listener web: listening on", lg->pid)) != NULL, "%s",
              log);
    /* each worker's, with its id */
    for (int w = 0; w < 2; w++)
        cr_assert(strstr(log, lg_fmt("[info] %d#w%d: worker %d of generation 1 exiting", wpid[w], w,
                                     w)) != NULL,
                  "no exit line of worker %d:\n%s", w, log);
    cr_assert(ad_match(lg_fmt("\\[info\\] (%d#w0|%d#w1): client sent an invalid request", wpid[0],
                              wpid[1]),
                       log),
              "%s", log);
    cr_assert_geq(nworker_lines, 3);
    bad = lg_log_has_unexpected_errors(log, NULL);
    cr_assert_eq(bad, 0, "%d unexpected error lines", bad);
}

/*
 * Prometheus's own convention for configuration reloads: a counter by result and the time of
 * the last successful load (the start counts as one).
 */
Test(admin, config_reload_metrics, .timeout = 60)
{
    lg_proc_t *o = lg_origin_start(NULL);
    const char *yaml = ad_single(1, "off", "combined", o->port);
    double before = (double)time(NULL), started, reloaded;
    lg_proc_t *lg = lg_lifeguard_start(yaml);
    int aport = ad_admin(lg);
    const char *at = "lifeguard_config_last_reload_success_timestamp_seconds";
    char *body = ad_get(aport, "/metrics");
    size_t mark;

    cr_assert_eq(ad_metric(body, "lifeguard_config_reloads_total", "result=\"ok\""), 0);
    cr_assert_eq(ad_metric(body, "lifeguard_config_reloads_total", "result=\"failed\""), 0);
    started = ad_metric(body, at, "");
    cr_assert(started >= before && started <= (double)time(NULL) + 1, "%s is %f, started at %f", at,
              started, before);

    /* a broken file: counted as failed, the time stays */
    mark = lg_proc_log_mark(lg);
    lg_proc_write_config(lg, "workers: [\n");
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reload failed: generation 1 keeps serving",
                               lg_test_timeout_ms()));
    ad_expect_metric(aport, "lifeguard_config_reloads_total", "result=\"failed\"", 1);
    body = ad_get(aport, "/metrics");
    cr_assert_eq(ad_metric(body, "lifeguard_config_reloads_total", "result=\"ok\""), 0);
    cr_assert_eq(ad_metric(body, at, ""), started);

    /* a good one: counted as ok, the time moves on */
    lg_sleep_ms(20);
    mark = lg_proc_log_mark(lg);
    lg_proc_write_config(lg, yaml);
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2", lg_test_timeout_ms()));
    ad_expect_metric(aport, "lifeguard_config_reloads_total", "result=\"ok\"", 1);
    body = ad_get(aport, "/metrics");
    cr_assert_eq(ad_metric(body, "lifeguard_config_reloads_total", "result=\"failed\""), 1);
    reloaded = ad_metric(body, at, "");
    cr_assert_gt(reloaded, started, "%s did not move on: %f, then %f", at, started, reloaded);
    cr_assert_leq(reloaded, (double)time(NULL) + 1);
    lg_lifeguard_finish(lg, "reload failed");
}
