/*
 * test_balance_policy.c - backup backends, slow_start and sticky cookies through the real binary
 * with real lg-origin backends (each answers `GET /` with its one-letter name) and real clients
 * (the harness for HTTP/1.1, curl for h2c). Backends are stopped by PID and restarted on the
 * port they had; health checks are fast so that every transition comes within a second.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "lg_test.h"
#include "lg_test_tls.h"

/* a timeout generous enough that checks pass on a machine loaded by parallel tests */
#define BP_HC "{type: http, path: /healthz, interval: 300ms, timeout: 280ms, rise: 2, fall: 2}"

/* lg-origin named `name` on port `port` (a restart), or on port 0. */
static lg_proc_t *bp_origin(const char *name, int port)
{
    if (port == 0)
        return lg_origin_startf("--name %s", name);
    return lg_origin_startf("--name %s --listen 127.0.0.1:%d", name, port);
}

/* One worker, listener `web` (h2c as well) to pool `app` with fast checks and `keys` ("k: v"). */
static lg_yaml_t *bp_conf(const char *const *keys)
{
    lg_yaml_t *conf = lg_yaml_new();

    lg_yaml_set(conf, "workers", "1");
    lg_yaml_set(conf, "listeners.web.listen", "127.0.0.1:0");
    lg_yaml_set(conf, "listeners.web.http2", "on");
    lg_yaml_add(conf, "listeners.web.routes", "{pool: app}");
    lg_yaml_set(conf, "pools.app.health_check", BP_HC);
    for (size_t i = 0; keys != NULL && keys[i] != NULL; i += 2)
        lg_yaml_set(conf, lg_fmt("pools.app.%s", keys[i]), keys[i + 1]);
    return conf;
}

/* The origin that answered a 200 whose body is "N\n". */
static char bp_name_of(const lg_http_response_t *r)
{
    cr_assert_eq(r->status, 200, "status %d: %s", r->status, r->head != NULL ? r->head : "");
    cr_assert(r->body_len == 2 && r->body[1] == '\n', "body \"%s\"", r->body);
    return r->body[0];
}

static void bp_wait_log(lg_proc_t *lg, size_t mark, const char *needle)
{
    if (!lg_proc_wait_log(lg, mark, needle, lg_test_timeout_ms())) {
        lg_proc_dump_log(lg);
        cr_assert_fail("no \"%s\" in the log", needle);
    }
}

/* Stop origin `o` (by its PID) and wait until lifeguard's checks say it is down. */
static int bp_stop(lg_proc_t *lg, lg_proc_t *o)
{
    size_t mark = lg_proc_log_mark(lg);
    int port = o->port;

    cr_assert_eq(lg_proc_stop(o), 0);
    bp_wait_log(lg, mark, lg_fmt("backend app/127.0.0.1:%d is down", port));
    return port;
}

/* Start origin `name` again on `port` and wait until lifeguard's checks say it is up. */
static lg_proc_t *bp_restart(lg_proc_t *lg, const char *name, int port)
{
    size_t mark = lg_proc_log_mark(lg);
    lg_proc_t *o = bp_origin(name, port);

    bp_wait_log(lg, mark, lg_fmt("backend app/127.0.0.1:%d is up", port));
    return o;
}

/* `n` requests on one keep-alive connection (with `headers`): how many each origin answered. */
static void bp_count(int port, int n, const char *headers, int counts[128])
{
    lg_client_t *c = lg_client_connect(port);

    memset(counts, 0, 128 * sizeof(*counts));
    for (int i = 0; i < n; i++) {
        lg_http_response_t *r = lg_client_request(c, "GET", "/", headers, NULL, 0);

        counts[bp_name_of(r) & 127]++;
        if (r->closed)
            c = lg_client_connect(port);
    }
    lg_client_close(c);
}

/* ---- h2c (nghttp: curl 7.88 fails with "Error in the HTTP2 framing layer" when it reuses an
 * h2c prior-knowledge connection, whatever the server) */

#define BP_H2_MAX 32

/* What `n` h2c responses on one connection were: who answered, their set-cookie values. */
typedef struct bp_h2 {
    int n;
    char names[BP_H2_MAX];
    const char *cookie[BP_H2_MAX]; /* "NAME=VALUE" of set-cookie, or NULL */
} bp_h2_t;

/* "NAME=VALUE" of a Set-Cookie value "NAME=VALUE; Path=/; ...", or NULL. */
static const char *bp_cookie_pair(const char *set_cookie)
{
    if (set_cookie == NULL)
        return NULL;
    return lg_fmt("%.*s", (int)strcspn(set_cookie, ";\r\n"), set_cookie);
}

/* The value of field `name` of the response on stream `id` in nghttp -v output, or NULL. */
static const char *bp_h2_field(const char *out, int id, const char *name)
{
    const char *key = lg_fmt("recv (stream_id=%d) %s: ", id, name), *p = strstr(out, key);

    return p != NULL ? lg_fmt("%.*s", (int)strcspn(p + strlen(key), "\n"), p + strlen(key)) : NULL;
}

/* `n` GETs of / over h2c on one connection (nghttp), with `cookie` ("NAME=VALUE") if not NULL. */
static bp_h2_t bp_h2(int port, int n, const char *cookie)
{
    const char *urls = "";
    bp_h2_t h = {0};
    char *out = NULL;
    int rc;

    cr_assert(n <= BP_H2_MAX);
    for (int i = 0; i < n; i++)
        urls = lg_fmt("%s http://127.0.0.1:%d/?n=%d", urls, port,
                      i); /* distinct: nghttp fetches each once */
    rc = lg_run_capture(lg_fmt("nghttp -nv %s %s 2>&1",
                               cookie != NULL ? lg_fmt("-H 'cookie: %s'", cookie) : "", urls),
                        &out);
    cr_assert_eq(rc, 0, "nghttp failed (%d): %s", rc, out);
    /* nghttp numbers its request streams 13, 15, ... (after its priority streams) */
    for (int id = 13; h.n < n; id += 2) {
        const char *status = bp_h2_field(out, id, ":status");
        const char *name = bp_h2_field(out, id, "x-origin");

        cr_assert(status != NULL && strcmp(status, "200") == 0, "stream %d:\n%s", id, out);
        cr_assert(name != NULL && strlen(name) == 1, "stream %d:\n%s", id, out);
        h.cookie[h.n] = bp_cookie_pair(bp_h2_field(out, id, "set-cookie"));
        h.names[h.n++] = name[0];
    }
    return h;
}

/* ---- backup */

Test(balance_policy, backup_only_while_no_primary_is_up, .timeout = 90)
{
    lg_proc_t *a = bp_origin("a", 0), *b = bp_origin("b", 0), *z = bp_origin("z", 0);
    lg_yaml_t *conf = bp_conf(NULL);
    lg_proc_t *lg;
    int port, aport, bport, n[128];
    bp_h2_t h;

    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", a->port);
    lg_yaml_add(conf, "pools.app.backends", "{address: 127.0.0.1:%d, backup: true}", z->port);
    lg_yaml_add(conf, "pools.app.backends", "{address: 127.0.0.1:%d, backup: false}", b->port);
    lg = lg_yaml_start(conf);
    port = lg_proc_port(lg, "web");

    bp_count(port, 20, NULL, n);
    cr_assert(n['z'] == 0 && n['a'] > 0 && n['b'] > 0, "primaries up: a %d, b %d, z %d", n['a'],
              n['b'], n['z']);
    aport = bp_stop(lg, a);
    bp_count(port, 20, NULL, n);
    cr_assert_eq(n['b'], 20, "one primary up: a %d, b %d, z %d", n['a'], n['b'], n['z']);
    bport = bp_stop(lg, b);
    bp_count(port, 20, NULL, n);
    cr_assert_eq(n['z'], 20, "no primary up: z %d", n['z']);
    /* over HTTP/2 too */
    h = bp_h2(port, 5, NULL);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(h.names[i], 'z', "h2c response %d from %c", i, h.names[i]);
    a = bp_restart(lg, "a", aport);
    bp_count(port, 20, NULL, n);
    cr_assert_eq(n['a'], 20, "a primary is back: a %d, z %d", n['a'], n['z']);
    b = bp_restart(lg, "b", bport);
    bp_count(port, 20, NULL, n);
    cr_assert(n['z'] == 0 && n['a'] > 0 && n['b'] > 0, "both back: a %d, b %d, z %d", n['a'],
              n['b'], n['z']);
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(a);
    lg_proc_stop(b);
    lg_proc_stop(z);
}

/* ---- sticky */

/* Three origins a, b, c in a round-robin pool with sticky: {cookie: LGSRV}. */
static lg_proc_t *bp_sticky_start(lg_proc_t *o[3])
{
    static const char *const keys[] = {"sticky", "{cookie: LGSRV}", NULL};
    lg_yaml_t *conf = bp_conf(keys);

    for (int i = 0; i < 3; i++) {
        o[i] = bp_origin((const char[]){(char)('a' + i), '\0'}, 0);
        lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", o[i]->port);
    }
    return lg_yaml_start(conf);
}

/*
 * A first response's cookie: LGSRV=<16 lower-case hex digits>, nothing of the address: not the
 * address in hex (either byte order) nor an unkeyed hash of the member. (Decimal digits of the
 * address or a port may appear by chance in 16 random hex digits: "127" does once in 300.)
 */
static void bp_check_cookie(const char *pair, const lg_proc_t *const o[3])
{
    cr_assert_not_null(pair, "no cookie set");
    cr_assert_eq(strlen(pair), strlen("LGSRV=") + 16, "%s", pair);
    cr_assert(strncmp(pair, "LGSRV=", 6) == 0, "%s", pair);
    for (const char *p = pair + 6; *p != '\0'; p++)
        cr_assert(isxdigit((unsigned char)*p) && !isupper((unsigned char)*p), "%s", pair);
    cr_assert_null(strstr(pair, "7f000001"), "%s", pair);
    cr_assert_null(strstr(pair, "0100007f"), "%s", pair);
    for (int i = 0; i < 3; i++) {
        const char *member = lg_fmt("app/127.0.0.1:%d", o[i]->port);
        unsigned char md[SHA256_DIGEST_LENGTH];
        char hex[17];

        SHA256((const unsigned char *)member, strlen(member), md);
        for (int j = 0; j < 8; j++)
            snprintf(hex + 2 * j, 3, "%02x", md[j]);
        cr_assert_str_neq(pair + 6, hex, "the cookie is SHA-256(\"%s\")", member);
    }
}

/* HTTP/1.1: a new connection, GET / with `cookie` (or none); who answered and the cookie set. */
static char bp_h1(int port, const char *cookie, const char **set)
{
    lg_http_response_t *r =
        lg_http_get(port, "/", cookie != NULL ? lg_fmt("Cookie: %s", cookie) : NULL);
    char name = bp_name_of(r);

    *set = bp_cookie_pair(lg_http_header(r, "Set-Cookie"));
    cr_assert_leq(lg_http_header_count(r, "Set-Cookie"), 1, "%s", r->head);
    if (*set != NULL) {
        const char *full = lg_http_header(r, "Set-Cookie");

        cr_assert_str_eq(full, lg_fmt("%s; Path=/; HttpOnly; SameSite=Lax", *set), "%s", r->head);
    }
    return name;
}

/*
 * The cookie of a first response sticks: 20 requests with it (HTTP/1.1, each on a new
 * connection, then h2c on one connection) reach the same backend and get no new cookie. When
 * that backend stops, the request goes elsewhere with a new cookie, which then sticks.
 */
Test(balance_policy, sticky_cookie_holds_then_moves, .timeout = 90)
{
    lg_proc_t *o[3];
    lg_proc_t *lg = bp_sticky_start(o);
    int port = lg_proc_port(lg, "web"), stopped;
    const char *cookie, *set;
    char first, again;
    bp_h2_t h;

    first = bp_h1(port, NULL, &cookie);
    bp_check_cookie(cookie, (const lg_proc_t *const *)o);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(bp_h1(port, cookie, &set), first, "HTTP/1.1 request %d", i);
        cr_assert_null(set, "a cookie set again: %s", set);
    }
    h = bp_h2(port, 20, cookie);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(h.names[i], first, "h2c request %d from %c", i, h.names[i]);
        cr_assert_null(h.cookie[i], "h2c: a cookie set again: %s", h.cookie[i]);
    }
    /* h2c without a cookie gets one too, and it names who answered */
    h = bp_h2(port, 3, NULL);
    for (int i = 0; i < 3; i++) {
        bp_check_cookie(h.cookie[i], (const lg_proc_t *const *)o);
        cr_assert_eq(bp_h1(port, h.cookie[i], &set), h.names[i], "h2c cookie %s", h.cookie[i]);
    }

    stopped = bp_stop(lg, o[first - 'a']);
    again = bp_h1(port, cookie, &set);
    cr_assert_neq(again, first, "the stopped backend answered");
    bp_check_cookie(set, (const lg_proc_t *const *)o);
    cr_assert_str_neq(set, cookie, "the same cookie for another backend");
    h = bp_h2(port, 10, set);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(h.names[i], again, "h2c request %d after the move from %c", i, h.names[i]);
    h = bp_h2(port, 1, cookie);
    cr_assert_neq(h.names[0], first);
    cr_assert_not_null(h.cookie[0], "h2c: no new cookie after the move");
    /* an HTTP/1.0 client: the same */
    {
        lg_client_t *c = lg_client_connect(port);
        lg_http_response_t *r;

        lg_client_sendf(c, "GET / HTTP/1.0\r\nCookie: %s\r\n\r\n", set);
        r = lg_client_read(c, 0);
        cr_assert_eq(bp_name_of(r), again, "HTTP/1.0 with the cookie");
        cr_assert_null(lg_http_header(r, "Set-Cookie"), "%s", r->head);
        lg_client_close(c);
        c = lg_client_connect(port);
        lg_client_sendf(c, "GET / HTTP/1.0\r\n\r\n");
        r = lg_client_read(c, 0);
        bp_check_cookie(bp_cookie_pair(lg_http_header(r, "Set-Cookie")),
                        (const lg_proc_t *const *)o);
        lg_client_close(c);
    }
    o[first - 'a'] = bp_restart(lg, (const char[]){first, '\0'}, stopped);
    /* back up: the old cookie is honoured again */
    cr_assert_eq(bp_h1(port, cookie, &set), first);
    cr_assert_null(set);
    lg_lifeguard_finish(lg, NULL);
    for (int i = 0; i < 3; i++)
        lg_proc_stop(o[i]);
}

/* A forged or malformed cookie is ignored: balanced as usual, and a valid cookie is set. */
Test(balance_policy, forged_sticky_cookie_is_ignored, .timeout = 60)
{
    lg_proc_t *o[3];
    lg_proc_t *lg = bp_sticky_start(o);
    int port = lg_proc_port(lg, "web");
    const char *cookie, *set;
    char first = bp_h1(port, NULL, &cookie), upper[64];
    const char *forged[] = {
        "LGSRV=0123456789abcdef", /* well formed, no backend's */
        upper,                    /* a real id in upper case */
        lg_fmt("%s0", cookie),    /* a real id and one more digit */
        "LGSRV=127.0.0.1",
        "LGSRV=%0d%0aX-Injected:%201",
    };

    for (size_t i = 0; cookie[i] != '\0' && i < sizeof(upper); i++)
        upper[i] = i < 6 ? cookie[i] : (char)toupper((unsigned char)cookie[i]);
    upper[strlen(cookie)] = '\0';
    for (size_t k = 0; k < sizeof(forged) / sizeof(forged[0]); k++) {
        int seen[128] = {0}, names = 0;

        for (int i = 0; i < 6; i++) {
            char n = bp_h1(port, forged[k], &set);

            bp_check_cookie(set, (const lg_proc_t *const *)o);
            names += !seen[n & 127]++;
        }
        cr_assert_geq(names, 2, "cookie %s: every request to one backend", forged[k]);
    }
    cr_assert_eq(bp_h1(port, cookie, &set), first);
    lg_lifeguard_finish(lg, NULL);
    for (int i = 0; i < 3; i++)
        lg_proc_stop(o[i]);
}

/* ---- slow_start */

/*
 * Two origins, round robin, slow_start 6s. At start both take half at once (no ramp at start);
 * after b is stopped and started again, its share of the next 60 requests is small, and after
 * the ramp it is half again. Shares only, never how long anything took: 60 requests taking up to
 * 2 s still leave b under 40% (its ramp reaches 40% of its weight at 2 s).
 */
Test(balance_policy, slow_start_ramps_a_backend_that_comes_back, .timeout = 90)
{
    static const char *const keys[] = {"slow_start", "6s", NULL};
    lg_proc_t *a = bp_origin("a", 0), *b = bp_origin("b", 0);
    lg_yaml_t *conf = bp_conf(keys);
    lg_proc_t *lg;
    int port, bport, n[128];

    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", a->port);
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", b->port);
    lg = lg_yaml_start(conf);
    port = lg_proc_port(lg, "web");

    bp_count(port, 60, NULL, n);
    cr_assert(n['b'] >= 25 && n['b'] <= 35, "at start: b %d of 60", n['b']);
    bport = bp_stop(lg, b);
    b = bp_restart(lg, "b", bport);
    bp_count(port, 60, NULL, n);
    fprintf(stderr, "slow_start: b %d of 60 just after it came up\n", n['b']);
    cr_assert(n['b'] >= 1 && n['b'] < 16, "just up: b %d of 60", n['b']);
    lg_sleep_ms(6500); /* the ramp is over: the shares are even again */
    bp_count(port, 60, NULL, n);
    cr_assert(n['b'] >= 25 && n['b'] <= 35, "ramped: b %d of 60", n['b']);
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(a);
    lg_proc_stop(b);
}

/* Over TLS the cookie is Secure, on HTTP/1.1 and on HTTP/2 (ALPN h2), by curl. */
Test(balance_policy, sticky_cookie_is_secure_over_tls, .timeout = 60)
{
    static const char *const keys[] = {"sticky", "{cookie: LGSRV, max_age: 1h}", NULL};
    lg_proc_t *o = bp_origin("a", 0);
    lg_yaml_t *conf = bp_conf(keys);
    static const char *const versions[] = {"--http1.1", "--http2"};
    lg_proc_t *lg;
    int port;

    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", o->port);
    lg_yaml_add(conf, "listeners.web.tls.certificates", "{cert: %s, key: %s}",
                lg_test_pki("ec.pem"), lg_test_pki("ec.key"));
    lg = lg_yaml_start(conf);
    port = lg_proc_port(lg, "web");
    for (size_t v = 0; v < 2; v++) {
        char *out = NULL;
        int rc = lg_run_capture(lg_fmt("curl -sS %s -D - --cacert %s --resolve "
                                       "www.example.com:%d:127.0.0.1 https://www.example.com:%d/",
                                       versions[v], lg_test_pki("ca.pem"), port, port),
                                &out);
        const char *sc = strcasestr(out, "\nset-cookie: ");

        cr_assert_eq(rc, 0, "curl %s failed: %s", versions[v], out);
        cr_assert_not_null(sc, "%s: no cookie:\n%s", versions[v], out);
        sc = strstr(sc, "; Path=");
        cr_assert(
            sc != NULL &&
                strncmp(sc, "; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure\r\n", 56) == 0,
            "%s:\n%s", versions[v], out);
    }
    lg_lifeguard_finish(lg, NULL);
    lg_proc_stop(o);
}
