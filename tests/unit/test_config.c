/*
 * test_config.c - the configuration module: scalar parsers, defaults, the shipped files and the
 * documentation's examples, one broken fixture per validation rule (whole error lines compared,
 * path and position included), and hostile files generated into a temp directory.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "lg_test.h"

#define FIXTURES LG_SOURCE_DIR "/tests/fixtures/config"

/* ---- helpers */

static char *fixture_path(const char *name)
{
    char *p;

    cr_assert(asprintf(&p, "%s/%s.yaml", FIXTURES, name) >= 0);
    return p;
}

static char *join_lines(const lg_config_errors_t *e)
{
    size_t len = 1, i;
    char *s;

    for (i = 0; i < e->n; i++)
        len += strlen(e->lines[i]) + 1;
    s = calloc(1, len);
    cr_assert_not_null(s);
    for (i = 0; i < e->n; i++) {
        strcat(s, e->lines[i]);
        strcat(s, "\n");
    }
    return s;
}

/* `e` must hold exactly the lines `want`, each prefixed by `path`. */
static void check_lines(const char *path, const lg_config_errors_t *e, const char *const *want)
{
    size_t n = 0, i;
    char *got = join_lines(e), *line;

    while (want[n] != NULL)
        n++;
    cr_assert_eq(e->n, n, "%s: expected %zu error lines, got %zu:\n%s", path, n, e->n, got);
    for (i = 0; i < n; i++) {
        cr_assert(asprintf(&line, "%s%s", path, want[i]) >= 0);
        cr_assert_str_eq(e->lines[i], line, "line %zu:\n got  %s\n want %s", i, e->lines[i], line);
        free(line);
    }
    free(got);
}

/* Number of lines of `e` that contain `needle`. */
static size_t count_lines(const lg_config_errors_t *e, const char *needle)
{
    size_t n = 0, i;

    for (i = 0; i < e->n; i++)
        n += strstr(e->lines[i], needle) != NULL;
    return n;
}

/* Load `path` and expect it to fail with exactly `want`. */
static void expect_errors_at(const char *path, const char *const *want)
{
    lg_config_errors_t e;
    lg_config_t *cf = lg_config_load(path, &e);

    cr_assert_null(cf, "%s: expected errors, the file was accepted", path);
    check_lines(path, &e, want);
    lg_config_errors_free(&e);
}

static void expect_errors(const char *name, const char *const *want)
{
    char *path = fixture_path(name);

    expect_errors_at(path, want);
    free(path);
}

#define FIXTURE(name, ...)                                                                         \
    Test(config_errors, name)                                                                      \
    {                                                                                              \
        expect_errors(#name, (const char *const[]){__VA_ARGS__, NULL});                            \
    }

/* Load a file that must be valid; the test fails with its errors otherwise. */
static lg_config_t *load_ok(const char *path)
{
    lg_config_errors_t e;
    lg_config_t *cf = lg_config_load(path, &e);
    char *got = join_lines(&e);

    cr_assert_not_null(cf, "%s was rejected:\n%s", path, got);
    cr_assert_eq(e.n, 0);
    free(got);
    return cf;
}

/*
 * Write `len` bytes as `name` into a fresh temp dir and load it: the load must fail. Returns
 * the path the error lines start with (the dir is already gone); free it and *e.
 */
static char *load_bad_data(const char *name, const void *data, size_t len, lg_config_errors_t *e)
{
    char *dir = lg_test_tmpdir(), *path = lg_test_write_bytes(dir, name, data, len);

    cr_assert_null(lg_config_load(path, e), "%s: expected errors, the file was accepted", path);
    lg_test_rmtree(dir);
    return path;
}

static void expect_data_errors(const char *name, const void *data, size_t len,
                               const char *const *want)
{
    lg_config_errors_t e;
    char *path = load_bad_data(name, data, len, &e);

    check_lines(path, &e, want);
    lg_config_errors_free(&e);
    free(path);
}

static void expect_text_errors(const char *name, const char *text, const char *const *want)
{
    expect_data_errors(name, text, strlen(text), want);
}

/* A small deterministic generator, so a failing input can be made again. */
static uint32_t rnd(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

static const char MINIMAL[] = "listeners:\n"
                              "  web:\n"
                              "    listen: 127.0.0.1:8080\n"
                              "    routes:\n"
                              "      - pool: app\n"
                              "pools:\n"
                              "  app:\n"
                              "    backends:\n"
                              "      - 127.0.0.1:9001\n";

/* The pid file of a config without pid_file is the default for whoever runs the test. */
static void assert_default_pid_file(const lg_config_t *cf)
{
    char want[4096];

    cr_assert_eq(
        lg_config_default_pid_file(geteuid(), getenv("XDG_RUNTIME_DIR"), want, sizeof(want)),
        LG_OK);
    cr_assert_str_eq(cf->pid_file, want);
}

/* ---- scalar parsers */

/* A parser of "NUMBER[UNIT]" values: lg_parse_duration and lg_parse_size share this shape. */
typedef int (*amount_parser_t)(const char *s, uint64_t *out, const char **why);

/* One input: the value it gives, or (why != NULL) the reason it is refused. */
typedef struct amount_case {
    const char *in;
    uint64_t out;
    const char *why;
} amount_case_t;

static void check_amounts(amount_parser_t parse, const amount_case_t *cases, size_t n)
{
    const char *why;
    uint64_t out;
    size_t i;

    for (i = 0; i < n; i++) {
        why = NULL;
        out = 42;
        if (cases[i].why == NULL) {
            cr_assert_eq(parse(cases[i].in, &out, &why), LG_OK, "%s: %s", cases[i].in, why);
            cr_assert_eq(out, cases[i].out, "%s", cases[i].in);
        } else {
            cr_assert_eq(parse(cases[i].in, &out, &why), LG_ERR, "%s accepted", cases[i].in);
            cr_assert_str_eq(why, cases[i].why, "%s", cases[i].in);
            cr_assert_eq(out, 42, "%s: a failed parse must not store", cases[i].in);
        }
    }
}

Test(config_scalar, durations)
{
    static const amount_case_t cases[] = {
        {"500ms", 500, NULL},
        {"0ms", 0, NULL},
        {"10s", 10000, NULL},
        {"2m", 120000, NULL},
        {"1h", 3600000, NULL},
        {"0s", 0, NULL},
        {"007s", 7000, NULL},
        {"18446744073709551615ms", UINT64_MAX, NULL},
        {"10", 0, "add a unit: ms, s, m, h"},
        {"", 0, "empty value"},
        {"-5s", 0, "must not be negative"},
        {"+5s", 0, "not a number"},
        {"s", 0, "not a number"},
        {"ten seconds", 0, "not a number"},
        {"1.5s", 0, "use a whole number (e.g. 1500ms, not 1.5s)"},
        {"10 s", 0, "unknown unit (use ms, s, m or h)"},
        {"10S", 0, "unknown unit (use ms, s, m or h)"},
        {"5d", 0, "unknown unit (use ms, s, m or h)"},
        {"10sec", 0, "unknown unit (use ms, s, m or h)"},
        {"18446744073709551616ms", 0, "too large"},
        {"18446744073709551615s", 0, "too large"},
        {"5124095576030432h", 0, "too large"},
    };

    check_amounts(lg_parse_duration, cases, sizeof(cases) / sizeof(cases[0]));
}

Test(config_scalar, sizes)
{
    static const amount_case_t cases[] = {
        {"512", 512, NULL},
        {"0", 0, NULL},
        {"16k", 16384, NULL},
        {"16K", 16384, NULL},
        {"1m", 1048576, NULL},
        {"1M", 1048576, NULL},
        {"1g", 1073741824, NULL},
        {"2G", 2147483648, NULL},
        {"17179869183g", 17179869183ULL << 30, NULL},
        {"", 0, "empty value"},
        {"-1", 0, "must not be negative"},
        {"k", 0, "not a number"},
        {"1.5m", 0, "use a whole number (e.g. 1500ms, not 1.5s)"},
        {"16kb", 0, "unknown suffix (use k, m or g)"},
        {"1t", 0, "unknown suffix (use k, m or g)"},
        {"16 k", 0, "unknown suffix (use k, m or g)"},
        {"99999999999999999999", 0, "too large"},
        {"17179869184g", 0, "too large"},
    };

    check_amounts(lg_parse_size, cases, sizeof(cases) / sizeof(cases[0]));
}

Test(config_scalar, addr_ipv4)
{
    const struct sockaddr_in *sin;
    const char *why = NULL;
    lg_addr_t a;

    cr_assert_eq(lg_parse_addr("10.1.2.3:8080", 0, &a, &why), LG_OK, "%s", why);
    sin = (const struct sockaddr_in *)&a.sa;
    cr_assert_eq(sin->sin_family, AF_INET);
    cr_assert_eq(ntohs(sin->sin_port), 8080);
    cr_assert_eq(ntohl(sin->sin_addr.s_addr), 0x0A010203u);
    cr_assert_eq(a.salen, sizeof(struct sockaddr_in));
    cr_assert_eq(a.port, 8080);
    cr_assert_eq(a.is_hostname, 0);
    cr_assert_str_eq(a.text, "10.1.2.3:8080");
    cr_assert_str_eq(a.host, "10.1.2.3");
}

Test(config_scalar, addr_ipv6)
{
    const struct sockaddr_in6 *sin6;
    struct in6_addr loop = IN6ADDR_LOOPBACK_INIT;
    const char *why = NULL;
    lg_addr_t a;

    cr_assert_eq(lg_parse_addr("[::1]:443", 0, &a, &why), LG_OK, "%s", why);
    sin6 = (const struct sockaddr_in6 *)&a.sa;
    cr_assert_eq(sin6->sin6_family, AF_INET6);
    cr_assert_eq(ntohs(sin6->sin6_port), 443);
    cr_assert_eq(memcmp(&sin6->sin6_addr, &loop, sizeof(loop)), 0);
    cr_assert_eq(a.salen, sizeof(struct sockaddr_in6));
    cr_assert_str_eq(a.host, "::1");
    cr_assert_str_eq(a.text, "[::1]:443");
    cr_assert_eq(lg_parse_addr("[2001:db8::10]:80", 0, &a, &why), LG_OK, "%s", why);
    cr_assert_str_eq(a.host, "2001:db8::10");
}

Test(config_scalar, addr_any_host_and_port0)
{
    const struct sockaddr_in *sin;
    const char *why = NULL;
    lg_addr_t a;

    cr_assert_eq(lg_parse_addr(":8080", LG_ADDR_ANYHOST, &a, &why), LG_OK, "%s", why);
    sin = (const struct sockaddr_in *)&a.sa;
    cr_assert_eq(sin->sin_family, AF_INET);
    cr_assert_eq(sin->sin_addr.s_addr, htonl(INADDR_ANY));
    cr_assert_eq(ntohs(sin->sin_port), 8080);
    cr_assert_str_eq(a.host, "");
    cr_assert_eq(lg_parse_addr("127.0.0.1:0", LG_ADDR_PORT0, &a, &why), LG_OK, "%s", why);
    cr_assert_eq(a.port, 0);
    cr_assert_eq(lg_parse_addr(":0", LG_ADDR_PORT0 | LG_ADDR_ANYHOST, &a, &why), LG_OK);
}

Test(config_scalar, addr_hostname)
{
    const char *why = NULL;
    lg_addr_t a;

    cr_assert_eq(lg_parse_addr("app:8000", LG_ADDR_HOSTNAME, &a, &why), LG_OK, "%s", why);
    cr_assert_eq(a.is_hostname, 1);
    cr_assert_str_eq(a.host, "app");
    cr_assert_eq(a.port, 8000);
    cr_assert_eq(a.salen, 0);
    cr_assert_eq(
        lg_parse_addr("my_service.default.svc.cluster.local.:80", LG_ADDR_HOSTNAME, &a, &why),
        LG_OK, "%s", why);
    cr_assert_eq(lg_parse_addr("db-1.internal:5432", LG_ADDR_HOSTNAME, &a, &why), LG_OK);
}

Test(config_scalar, bad_addrs)
{
    static const struct {
        const char *in;
        unsigned flags;
        const char *why;
    } bad[] = {
        {"", LG_ADDR_HOSTNAME, "empty address"},
        {"127.0.0.1", LG_ADDR_HOSTNAME, "missing port (write HOST:PORT)"},
        {"127.0.0.1:", LG_ADDR_HOSTNAME, "missing port"},
        {"127.0.0.1:http", LG_ADDR_HOSTNAME, "invalid port"},
        {"127.0.0.1:-1", LG_ADDR_HOSTNAME, "invalid port"},
        {"127.0.0.1:65536", LG_ADDR_HOSTNAME, "port must be 1..65535"},
        {"127.0.0.1:0", LG_ADDR_HOSTNAME, "port must be 1..65535"},
        {"127.0.0.1:99999999999999999999", LG_ADDR_PORT0, "port must be 0..65535"},
        {":80", LG_ADDR_HOSTNAME, "missing host (write HOST:PORT)"},
        {"::1:80", LG_ADDR_ANYHOST, "IPv6 addresses need brackets, e.g. [::1]:8080"},
        {"[::1]", 0, "missing port (write [ADDRESS]:PORT)"},
        {"[::1]80", 0, "invalid port"},
        {"[::1:80", 0, "missing ']' after the IPv6 address"},
        {"[]:80", 0, "invalid IPv6 address"},
        {"[127.0.0.1]:80", 0, "invalid IPv6 address"},
        {"256.0.0.1:80", LG_ADDR_HOSTNAME, "invalid IPv4 address"},
        {"1.2.3:80", LG_ADDR_HOSTNAME, "invalid IPv4 address"},
        {"-app:80", LG_ADDR_HOSTNAME, "invalid host name"},
        {"app-:80", LG_ADDR_HOSTNAME, "invalid host name"},
        {"a..b:80", LG_ADDR_HOSTNAME, "invalid host name"},
        {"a b:80", LG_ADDR_HOSTNAME, "invalid host name"},
        {"app:80", LG_ADDR_PORT0 | LG_ADDR_ANYHOST,
         "must be an IP address (e.g. 127.0.0.1:8080, [::1]:8080 or :8080), not a host name"},
    };
    char longname[300];
    const char *why;
    lg_addr_t a;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        cr_assert_eq(lg_parse_addr(bad[i].in, bad[i].flags, &a, &why), LG_ERR, "%s accepted",
                     bad[i].in);
        cr_assert_str_eq(why, bad[i].why, "%s", bad[i].in);
    }
    memset(longname, 'a', sizeof(longname));
    strcpy(longname + sizeof(longname) - 4, ":80");
    cr_assert_eq(lg_parse_addr(longname, LG_ADDR_HOSTNAME, &a, &why), LG_ERR);
    cr_assert_str_eq(why, "address too long");
    /* A text that fits but a host part that does not (found by fuzz_config, UBSan). */
    memset(longname, '2', 257);
    strcpy(longname + 257, ":80");
    cr_assert_eq(lg_parse_addr(longname, LG_ADDR_HOSTNAME, &a, &why), LG_ERR);
    cr_assert_str_eq(why, "host too long");
    longname[0] = '[';
    strcpy(longname + 257, "]:80");
    cr_assert_eq(lg_parse_addr(longname, 0, &a, &why), LG_ERR);
    cr_assert_str_eq(why, "host too long");
    /* A label longer than 63 characters. */
    memset(longname, 'a', 64);
    strcpy(longname + 64, ".com:80");
    cr_assert_eq(lg_parse_addr(longname, LG_ADDR_HOSTNAME, &a, &why), LG_ERR);
    cr_assert_str_eq(why, "invalid host name");
}

/* ---- defaults and values */

Test(config, minimal_file_gets_every_default)
{
    char *dir = lg_test_tmpdir(), *path = lg_test_write_file(dir, "minimal.yaml", MINIMAL);
    lg_config_t *cf = load_ok(path);
    const lg_pool_conf_t *p;
    const lg_listener_conf_t *l;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    cr_assert_str_eq(cf->file, path);
    cr_assert_eq(cf->workers, cpus < 1 ? 1 : cpus > 256 ? 256 : (unsigned)cpus);
    assert_default_pid_file(cf);
    cr_assert_eq(cf->log.level, LG_LOG_INFO);
    cr_assert_str_eq(cf->log.error, "stderr");
    cr_assert_str_eq(cf->log.access, "stdout");
    cr_assert_eq(cf->log.format, LG_ACCESS_COMBINED);
    cr_assert_eq(cf->admin.enabled, 0);
    cr_assert_eq(cf->timeouts.client_header, 10000);
    cr_assert_eq(cf->timeouts.client_body, 60000);
    cr_assert_eq(cf->timeouts.client_idle, 75000);
    cr_assert_eq(cf->timeouts.connect, 3000);
    cr_assert_eq(cf->timeouts.upstream_response, 60000);
    cr_assert_eq(cf->timeouts.upstream_idle, 60000);
    cr_assert_eq(cf->timeouts.tunnel, 3600000);
    cr_assert_eq(cf->timeouts.drain, 30000);
    cr_assert_eq(cf->limits.max_connections, 10000);
    cr_assert_eq(cf->limits.max_header_size, 16384);
    cr_assert_eq(cf->limits.max_body_size, 0);

    cr_assert_eq(cf->nlisteners, 1);
    l = &cf->listeners[0];
    cr_assert_str_eq(l->name, "web");
    cr_assert_eq(l->pos.line, 2);
    cr_assert_eq(l->pos.col, 3);
    cr_assert_eq(l->mode, LG_MODE_HTTP);
    cr_assert_str_eq(l->addr.text, "127.0.0.1:8080");
    cr_assert_eq(l->nroutes, 1);
    cr_assert_null(l->routes[0].host);
    cr_assert_eq(l->routes[0].host_wildcard, 0);
    cr_assert_null(l->routes[0].path_prefix);
    cr_assert_eq(l->routes[0].pool, 0);

    cr_assert_eq(cf->npools, 1);
    p = &cf->pools[0];
    cr_assert_str_eq(p->name, "app");
    cr_assert_eq(p->balance, LG_BALANCE_ROUND_ROBIN);
    cr_assert_eq(p->hash_key, LG_HASH_CLIENT_IP);
    cr_assert_null(p->hash_key_name);
    cr_assert_eq(p->nbackends, 1);
    cr_assert_eq(p->backends[0].weight, 1);
    cr_assert_eq(p->backends[0].addr.port, 9001);
    cr_assert_eq(p->backends[0].pos.line, 9);
    cr_assert_eq(p->resolve_interval, 5000);
    cr_assert_eq(p->health_check.type, LG_CHECK_HTTP);
    cr_assert_str_eq(p->health_check.path, "/healthz");
    cr_assert_null(p->health_check.host);
    cr_assert_eq(p->health_check.expect_min, 200);
    cr_assert_eq(p->health_check.expect_max, 399);
    cr_assert_eq(p->health_check.interval, 2000);
    cr_assert_eq(p->health_check.timeout, 1000);
    cr_assert_eq(p->health_check.rise, 2);
    cr_assert_eq(p->health_check.fall, 3);
    cr_assert_eq(p->keepalive_max_idle, 64);
    cr_assert_eq(p->retries, 1);
    cr_assert_eq(lg_config_nbackends(cf), 1);

    lg_config_free(cf);
    free(path);
    lg_test_rmtree(dir);
}

Test(config, every_key_is_read)
{
    char *path = fixture_path("full");
    lg_config_t *cf = load_ok(path);
    const lg_listener_conf_t *web = &cf->listeners[0], *db = &cf->listeners[1];
    const lg_pool_conf_t *app = &cf->pools[0], *api = &cf->pools[1];

    cr_assert_eq(cf->workers, 3);
    cr_assert_str_eq(cf->pid_file, "/tmp/lifeguard-test.pid");
    cr_assert_eq(cf->log.level, LG_LOG_DEBUG);
    cr_assert_str_eq(cf->log.error, "/var/log/lifeguard/error.log");
    cr_assert_null(cf->log.access, "access: off is NULL");
    cr_assert_eq(cf->log.format, LG_ACCESS_JSON);
    cr_assert_eq(cf->admin.enabled, 1);
    cr_assert_eq(cf->admin.addr.sa.ss_family, AF_INET6);
    cr_assert_eq(cf->admin.addr.port, 0);
    cr_assert_eq(cf->timeouts.client_header, 500);
    cr_assert_eq(cf->timeouts.client_idle, 120000);
    cr_assert_eq(cf->timeouts.connect, 1000);
    cr_assert_eq(cf->timeouts.upstream_response, 3600000);
    cr_assert_eq(cf->timeouts.upstream_idle, 90000);
    cr_assert_eq(cf->timeouts.tunnel, 7200000);
    cr_assert_eq(cf->timeouts.drain, 0);
    cr_assert_eq(cf->limits.max_connections, 20);
    cr_assert_eq(cf->limits.max_header_size, 8192);
    cr_assert_eq(cf->limits.max_body_size, 1ULL << 30);

    cr_assert_eq(cf->nlisteners, 2);
    cr_assert_str_eq(web->name, "web");
    cr_assert_str_eq(web->addr.text, ":0");
    cr_assert_eq(web->addr.sa.ss_family, AF_INET);
    cr_assert_eq(web->nroutes, 3);
    cr_assert_str_eq(web->routes[0].host, "api.example.com");
    cr_assert_eq(web->routes[0].host_wildcard, 0);
    cr_assert_str_eq(web->routes[0].path_prefix, "/api/");
    cr_assert_eq(web->routes[0].pool, 1);
    cr_assert_str_eq(web->routes[1].host, "*.example.com");
    cr_assert_eq(web->routes[1].host_wildcard, 1);
    cr_assert_eq(web->routes[1].pool, 0);
    cr_assert_eq(web->routes[2].pos.line, 32);
    cr_assert_eq(web->routes[2].pos.col, 9);
    cr_assert_str_eq(db->name, "db");
    cr_assert_eq(db->mode, LG_MODE_TCP);
    cr_assert_eq(db->pool, 1);
    cr_assert_eq(db->nroutes, 0);
    cr_assert_eq(db->addr.sa.ss_family, AF_INET6);

    cr_assert_eq(cf->npools, 2);
    cr_assert_eq(app->balance, LG_BALANCE_WEIGHTED);
    cr_assert_eq(app->nbackends, 2);
    cr_assert_eq(app->backends[0].weight, 5);
    cr_assert_eq(app->backends[1].weight, 1);
    cr_assert_str_eq(app->backends[1].addr.host, "::1");
    cr_assert_eq(app->resolve_interval, 30000);
    cr_assert_eq(app->health_check.type, LG_CHECK_HTTP);
    cr_assert_str_eq(app->health_check.path, "/ready");
    cr_assert_str_eq(app->health_check.host, "app.internal");
    cr_assert_eq(app->health_check.expect_min, 204);
    cr_assert_eq(app->health_check.expect_max, 204);
    cr_assert_eq(app->health_check.interval, 10000);
    cr_assert_eq(app->health_check.timeout, 250);
    cr_assert_eq(app->health_check.rise, 1);
    cr_assert_eq(app->health_check.fall, 10);
    cr_assert_eq(app->keepalive_max_idle, 0);
    cr_assert_eq(app->retries, 0);
    cr_assert_eq(api->balance, LG_BALANCE_HASH);
    cr_assert_eq(api->hash_key, LG_HASH_COOKIE);
    cr_assert_str_eq(api->hash_key_name, "session_id");
    cr_assert_eq(api->backends[0].addr.is_hostname, 1);
    cr_assert_str_eq(api->backends[0].addr.host, "app.internal");
    cr_assert_str_eq(api->backends[1].addr.host, "Other-Host");
    cr_assert_eq(api->health_check.type, LG_CHECK_NONE);
    cr_assert_eq(lg_config_nbackends(cf), 4);

    lg_config_free(cf);
    free(path);
}

Test(config, workers_auto_and_hash_keys)
{
    static const struct {
        const char *key;
        lg_hash_key_t kind;
        const char *name;
    } keys[] = {{"client_ip", LG_HASH_CLIENT_IP, NULL},
                {"uri", LG_HASH_URI, NULL},
                {"header:X-User-Id", LG_HASH_HEADER, "X-User-Id"},
                {"cookie:sid", LG_HASH_COOKIE, "sid"}};
    char *dir = lg_test_tmpdir(), *path, *text;
    lg_config_t *cf;
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cr_assert(asprintf(&text, "workers: auto\n%s    balance: hash\n    hash_key: \"%s\"\n",
                           MINIMAL, keys[i].key) >= 0);
        path = lg_test_write_file(dir, "hash.yaml", text);
        cf = load_ok(path);
        cr_assert_geq(cf->workers, 1);
        cr_assert_eq(cf->pools[0].hash_key, keys[i].kind, "%s", keys[i].key);
        if (keys[i].name == NULL)
            cr_assert_null(cf->pools[0].hash_key_name);
        else
            cr_assert_str_eq(cf->pools[0].hash_key_name, keys[i].name);
        lg_config_free(cf);
        free(path);
        free(text);
    }
    lg_test_rmtree(dir);
}

/* timeouts.client_body: read as a duration, with the range of the other timeouts. */
Test(config, client_body_timeout)
{
    char *dir = lg_test_tmpdir(), *path, *text;
    lg_config_t *cf;

    cr_assert(asprintf(&text, "timeouts:\n  client_body: 1500ms\n%s", MINIMAL) >= 0);
    path = lg_test_write_file(dir, "body.yaml", text);
    cf = load_ok(path);
    cr_assert_eq(cf->timeouts.client_body, 1500);
    cr_assert_eq(cf->timeouts.client_header, 10000, "the other timeouts keep their defaults");
    lg_config_free(cf);
    free(path);
    free(text);
    lg_test_rmtree(dir);
    cr_assert(asprintf(&text, "timeouts:\n  client_body: 0s\n%s", MINIMAL) >= 0);
    expect_text_errors(
        "body0.yaml", text,
        (const char *const[]){
            ":2:16: error: timeouts.client_body: must be from 1ms to 24h, got \"0s\"", NULL});
    free(text);
}

/* listeners.NAME.tls: defaults, and every key read into lg_tls_conf_t with its position */
Test(config, tls_section_defaults_and_every_key)
{
    static const char text[] = "listeners:\n"
                               "  web:\n"
                               "    listen: 127.0.0.1:8443\n"
                               "    routes:\n"
                               "      - pool: app\n"
                               "    tls:\n"
                               "      certificates:\n"
                               "        - cert: /c/a.pem\n"
                               "          key: /c/a.key\n"
                               "  full:\n"
                               "    listen: 127.0.0.1:8444\n"
                               "    mode: tcp\n"
                               "    pool: app\n"
                               "    tls:\n"
                               "      certificates:\n"
                               "        - {cert: /c/a.pem, key: /c/a.key, ocsp: off}\n"
                               "        - {cert: /c/b.pem, key: /c/b.key, ocsp: /c/b.der}\n"
                               "      versions: [tls1.3]\n"
                               "      ciphers: ECDHE+AESGCM\n"
                               "      unknown_sni: reject\n"
                               "      client_auth: {ca: /c/ca.pem, verify: optional}\n"
                               "      session_tickets: off\n"
                               "      ticket_key_rotation: 1h\n"
                               "      ktls: off\n"
                               "pools:\n"
                               "  app:\n"
                               "    backends:\n"
                               "      - address: 127.0.0.1:9001\n";
    char *dir = lg_test_tmpdir(), *path = lg_test_write_file(dir, "tls.yaml", text);
    lg_config_t *cf = load_ok(path);
    const lg_tls_conf_t *d = cf->listeners[0].tls, *f = cf->listeners[1].tls;

    cr_assert_not_null(d);
    cr_assert_eq(d->ncerts, 1);
    cr_assert_str_eq(d->certs[0].cert, "/c/a.pem");
    cr_assert_str_eq(d->certs[0].key, "/c/a.key");
    cr_assert_eq(d->certs[0].cert_pos.line, 8);
    cr_assert_eq(d->certs[0].cert_pos.col, 17);
    cr_assert_eq(d->certs[0].key_pos.line, 9);
    cr_assert_eq(d->certs[0].ocsp, LG_OCSP_AUTO);
    cr_assert_eq(d->versions, 1u << LG_TLS_1_2 | 1u << LG_TLS_1_3);
    cr_assert_str_eq(d->ciphers, LG_TLS_CIPHERS);
    cr_assert_eq(d->unknown_sni, LG_SNI_DEFAULT);
    cr_assert_null(d->client_auth.ca);
    cr_assert_eq(d->session_tickets, 1);
    cr_assert_eq(d->ticket_key_rotation, 12 * 3600 * 1000);
    cr_assert_eq(d->ktls, LG_KTLS_AUTO);
    cr_assert_null(d->ctx, "nothing is read before lg_tls_load()");

    cr_assert_eq(f->ncerts, 2);
    cr_assert_eq(f->certs[0].ocsp, LG_OCSP_OFF);
    cr_assert_eq(f->certs[1].ocsp, LG_OCSP_FILE);
    cr_assert_str_eq(f->certs[1].ocsp_file, "/c/b.der");
    cr_assert_eq(f->versions, 1u << LG_TLS_1_3);
    cr_assert_str_eq(f->ciphers, "ECDHE+AESGCM");
    cr_assert_eq(f->ciphers_pos.line, 19);
    cr_assert_eq(f->unknown_sni, LG_SNI_REJECT);
    cr_assert_str_eq(f->client_auth.ca, "/c/ca.pem");
    cr_assert_eq(f->client_auth.verify, LG_VERIFY_OPTIONAL);
    cr_assert_eq(f->session_tickets, 0);
    cr_assert_eq(f->ticket_key_rotation, 3600 * 1000);
    cr_assert_eq(f->ktls, LG_KTLS_OFF);
    cr_assert_null(cf->listeners[1].routes);
    lg_config_free(cf);
    free(path);
    lg_test_rmtree(dir);
}
Test(config, unused_pool_and_anchor_without_alias_are_fine)
{
    char *dir = lg_test_tmpdir(), *path, *text;
    lg_config_t *cf;

    cr_assert(asprintf(&text, "%s  spare: &spare\n    backends:\n      - 10.0.0.9:80\n", MINIMAL) >=
              0);
    path = lg_test_write_file(dir, "spare.yaml", text);
    cf = load_ok(path);
    cr_assert_eq(cf->npools, 2);
    lg_config_free(cf);
    free(path);
    free(text);
    lg_test_rmtree(dir);
}

/* Root's pid file is in /run; another user's in its runtime dir, or in /tmp by uid. */
Test(config, default_pid_file_for_root_and_other_users)
{
    static const struct {
        unsigned euid;
        const char *xdg, *want;
    } cases[] = {
        {0, NULL, "/run/lifeguard.pid"},
        {0, "/run/user/0", "/run/lifeguard.pid"}, /* root's service and root's shell agree */
        {1000, "/run/user/1000", "/run/user/1000/lifeguard.pid"},
        {1000, NULL, "/tmp/lifeguard-1000.pid"},
        {1000, "", "/tmp/lifeguard-1000.pid"},
        {10001, "relative/dir", "/tmp/lifeguard-10001.pid"},
    };
    char buf[64];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(lg_config_default_pid_file(cases[i].euid, cases[i].xdg, buf, sizeof(buf)),
                     LG_OK);
        cr_assert_str_eq(buf, cases[i].want, "uid %u, XDG_RUNTIME_DIR %s", cases[i].euid,
                         cases[i].xdg ? cases[i].xdg : "(unset)");
    }
    cr_assert_eq(lg_config_default_pid_file(1000,
                                            "/a/very/long/runtime/directory/name/that/is/"
                                            "longer/than/the/buffer",
                                            buf, sizeof(buf)),
                 LG_ERR);
}

/* The check timeout nobody wrote is min(1s, interval); one that was written is kept. */
Test(config, health_check_timeout_defaults_to_at_most_the_interval)
{
    static const struct {
        const char *check;
        lg_msec_t interval, timeout;
    } cases[] = {
        {"{interval: 300ms}", 300, 300},         {"{interval: 1s}", 1000, 1000},
        {"{interval: 5s}", 5000, 1000},          {"{interval: 300ms, timeout: 200ms}", 300, 200},
        {"{type: tcp, interval: 10ms}", 10, 10},
    };
    char *dir = lg_test_tmpdir(), *path, *text;
    lg_config_t *cf;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert(asprintf(&text, "%s    health_check: %s\n", MINIMAL, cases[i].check) >= 0);
        path = lg_test_write_file(dir, "check.yaml", text);
        cf = load_ok(path);
        cr_assert_eq(cf->pools[0].health_check.interval, cases[i].interval, "%s", cases[i].check);
        cr_assert_eq(cf->pools[0].health_check.timeout, cases[i].timeout, "%s", cases[i].check);
        lg_config_free(cf);
        free(path);
        free(text);
    }
    expect_text_errors("longer.yaml",
                       "listeners: {web: {listen: \"127.0.0.1:8080\", routes: [{pool: app}]}}\n"
                       "pools:\n"
                       "  app:\n"
                       "    backends: [\"127.0.0.1:9001\"]\n"
                       "    health_check: {interval: 300ms, timeout: 1s}\n",
                       (const char *const[]){":5:46: error: pools.app.health_check.timeout: the "
                                             "timeout (1s) must not be longer than the interval "
                                             "(300ms)",
                                             NULL});
    lg_test_rmtree(dir);
}

Test(config, errors_can_be_discarded)
{
    char *path = fixture_path("three_errors");

    cr_assert_null(lg_config_load(path, NULL));
    free(path);
}

/* ---- shipped files and documentation */

Test(config_files, default_config_is_the_documented_demo)
{
    lg_config_t *cf = load_ok(LG_SOURCE_DIR "/conf/lifeguard.yaml");

    cr_assert_eq(cf->nlisteners, 1);
    cr_assert_str_eq(cf->listeners[0].name, "web");
    cr_assert_str_eq(cf->listeners[0].addr.text, "0.0.0.0:8080");
    cr_assert_eq(cf->listeners[0].mode, LG_MODE_HTTP);
    cr_assert_eq(cf->listeners[0].nroutes, 1);
    cr_assert_null(cf->listeners[0].routes[0].host);
    cr_assert_null(cf->listeners[0].routes[0].path_prefix);
    cr_assert_eq(cf->npools, 1);
    cr_assert_str_eq(cf->pools[0].name, "app");
    cr_assert_eq(cf->pools[0].nbackends, 2);
    cr_assert_str_eq(cf->pools[0].backends[0].addr.text, "127.0.0.1:9001");
    cr_assert_str_eq(cf->pools[0].backends[1].addr.text, "127.0.0.1:9002");
    cr_assert_eq(cf->pools[0].health_check.type, LG_CHECK_HTTP);
    cr_assert_str_eq(cf->pools[0].health_check.path, "/healthz");
    cr_assert_eq(cf->admin.enabled, 1);
    cr_assert_str_eq(cf->admin.addr.text, "127.0.0.1:9901");
    assert_default_pid_file(cf);
    lg_config_free(cf);
}

/*
 * The builder of the integration tests (tests/support/lg_test_yaml.c): keys in the order first
 * set, lists in block style, a removed key gone; and what it builds for one origin is a valid
 * config.
 */
Test(config_files, test_builder_renders_and_loads)
{
    lg_yaml_t *y = lg_yaml_new();
    char *dir = lg_test_tmpdir(), *path;

    lg_yaml_set(y, "a.b", "1");
    lg_yaml_add(y, "a.l", "x");
    lg_yaml_add_first(y, "a.l", "w");
    lg_yaml_setf(y, "c", "{k: %d}", 2);
    lg_yaml_set(y, "a.b", NULL);
    lg_yaml_set(y, "d.e.f", "3");
    cr_assert_str_eq(lg_yaml_text(y), "workers: 1\n"
                                      "log:\n"
                                      "  level: info\n"
                                      "  error: stderr\n"
                                      "  access: off\n"
                                      "a:\n"
                                      "  l:\n"
                                      "    - w\n"
                                      "    - x\n"
                                      "c: {k: 2}\n"
                                      "d:\n"
                                      "  e:\n"
                                      "    f: 3\n");

    y = lg_yaml_single(8080);
    lg_yaml_set(y, "timeouts.client_header", "1s");
    lg_yaml_add_first(y, "listeners.web.routes", "{path_prefix: /v2/, pool: app}");
    path = lg_test_write_file(dir, "built.yaml", lg_yaml_text(y));
    lg_config_free(load_ok(path));
    free(path);
    lg_test_rmtree(dir);
}

Test(config_files, every_example_parses)
{
    static const char *const expected[] = {"docker.yaml",   "routing.yaml", "tcp.yaml",
                                           "weighted.yaml", "policy.yaml",  "tls-backend.yaml"};
    const char *dirpath = LG_SOURCE_DIR "/conf/examples";
    size_t n = 0, found = 0, i;
    struct dirent *de;
    lg_config_t *cf;
    char *path;
    DIR *d = opendir(dirpath);

    cr_assert_not_null(d, "%s: %s", dirpath, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        if (len < 5 || strcmp(de->d_name + len - 5, ".yaml") != 0)
            continue;
        cr_assert(asprintf(&path, "%s/%s", dirpath, de->d_name) >= 0);
        cf = load_ok(path);
        lg_config_free(cf);
        free(path);
        for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
            found += strcmp(de->d_name, expected[i]) == 0;
        n++;
    }
    closedir(d);
    cr_assert_eq(found, sizeof(expected) / sizeof(expected[0]), "an example is missing");
    cr_assert_geq(n, found);
}

Test(config_files, every_yaml_block_of_the_docs_parses)
{
    const char *doc = LG_SOURCE_DIR "/docs/configuration.md";
    char *dir = lg_test_tmpdir(), *text = NULL, *p, *end, *path, name[32];
    size_t len = 0, nblocks = 0;
    lg_config_t *cf;
    FILE *f = fopen(doc, "r");

    cr_assert_not_null(f, "%s: %s", doc, strerror(errno));
    cr_assert_gt(getdelim(&text, &len, '\0', f), 0);
    fclose(f);
    for (p = text; (p = strstr(p, "```yaml\n")) != NULL; p = end + 3) {
        p += strlen("```yaml\n");
        end = strstr(p, "```");
        cr_assert_not_null(end, "unterminated ```yaml block in %s", doc);
        snprintf(name, sizeof(name), "block%zu.yaml", nblocks++);
        path = lg_test_write_bytes(dir, name, p, (size_t)(end - p));
        cf = load_ok(path);
        lg_config_free(cf);
        free(path);
    }
    cr_assert_geq(nblocks, 3, "the reference should show complete examples");
    free(text);
    lg_test_rmtree(dir);
}

/* The error example of the reference is what lifeguard really prints for that file. */
Test(config_files, the_documented_error_example_is_true)
{
    const char *doc = LG_SOURCE_DIR "/docs/configuration.md";
    const char *fence = "```text\n", *marker = "For this file:\n\n```text\n";
    char *text = NULL, *file, *file_end, *out, *out_end, *line, *dir, *path;
    const char *want[16] = {NULL};
    size_t len = 0, n = 0;
    lg_config_errors_t e;
    FILE *f = fopen(doc, "r");

    cr_assert_not_null(f, "%s: %s", doc, strerror(errno));
    cr_assert_gt(getdelim(&text, &len, '\0', f), 0);
    fclose(f);
    file = strstr(text, marker);
    cr_assert_not_null(file, "no error example in %s", doc);
    file += strlen(marker);
    file_end = strstr(file, "```");
    out = strstr(file_end + 3, fence);
    cr_assert_not_null(out);
    out += strlen(fence);
    out_end = strstr(out, "```");
    cr_assert_not_null(out_end);
    *out_end = '\0';
    /* Each output line is "lifeguard.yaml:..."; the loader prints the path it was given. */
    for (line = strtok(out, "\n"); line != NULL && n < 15; line = strtok(NULL, "\n")) {
        cr_assert(strncmp(line, "lifeguard.yaml", 14) == 0, "%s", line);
        want[n++] = line + 14;
    }
    dir = lg_test_tmpdir();
    path = lg_test_write_bytes(dir, "lifeguard.yaml", file, (size_t)(file_end - file));
    cr_assert_null(lg_config_load(path, &e));
    check_lines(path, &e, want);
    lg_config_errors_free(&e);
    free(path);
    lg_test_rmtree(dir);
    free(text);
}

/* ---- one fixture per rule: the exact lines a user sees */

FIXTURE(unknown_key, ":1:1: error: unknown key \"workrs\" (did you mean \"workers\"?)",
        ":3:3: error: unknown key \"conect\" (did you mean \"connect\"?)")
FIXTURE(unknown_key_no_hint,
        ":2:3: error: unknown key \"colour\" (expected one of: max_connections, max_header_size, "
        "max_body_size, max_concurrent_streams, max_connections_per_ip)")
FIXTURE(duplicate_key, ":2:1: error: duplicate key \"workers\" (first at line 1)")
FIXTURE(duplicate_name, ":6:3: error: duplicate listener name \"web\" (first at line 2)",
        ":14:3: error: duplicate pool name \"app\" (first at line 11)")
FIXTURE(missing_required, ":1:1: error: missing required key \"listeners\"")
/* every message of the tls section, and the hint for mode: https */
FIXTURE(
    tls_bad,
    ":4:11: error: listeners.web.mode: unknown value \"https\": TLS is configured with a \"tls:\" "
    "section of the listener, and mode stays http (or tcp)",
    ":9:11: error: listeners.web.tls.certificates[0]: missing required key \"key\"",
    ":10:11: error: listeners.web.tls.certificates[1].key: an entry has either cert and key or "
    "acme: the ACME server issues the certificate of an acme entry (remove key, or acme)",
    ":11:11: error: listeners.web.tls.certificates[1].acme: needs the top-level \"acme\" section "
    "(the ACME server and account, docs/configuration.md)",
    ":12:18: error: listeners.web.tls.versions[0]: tls1.0 is refused: it is obsolete and insecure "
    "(RFC 8996); use tls1.2 and tls1.3",
    ":12:34: error: listeners.web.tls.versions[2]: tls1.3 is listed twice",
    ":12:42: error: listeners.web.tls.versions[3]: unknown value \"TLSv1.2\" (did you mean "
    "\"tls1.2\"?)",
    ":12:51: error: listeners.web.tls.versions[4]: tls1.1 is refused: it is obsolete and insecure "
    "(RFC 8996); use tls1.2 and tls1.3",
    ":13:16: error: listeners.web.tls.ciphers: must not be empty",
    ":14:20: error: listeners.web.tls.unknown_sni: unknown value \"refuse\" (expected one of: "
    "default, reject)",
    ":15:7: error: listeners.web.tls.client_auth: missing required key \"ca\"",
    ":16:17: error: listeners.web.tls.client_auth.verify: unknown value \"maybe\" (expected one "
    "of: required, optional)",
    ":17:24: error: listeners.web.tls.session_tickets: unknown value \"yes\" (expected one of: "
    "off, on)",
    ":18:28: error: listeners.web.tls.ticket_key_rotation: must be from 1m to 168h, got \"10s\"",
    ":19:13: error: listeners.web.tls.ktls: unknown value \"on\" (expected one of: auto, off)",
    ":25:21: error: listeners.api.tls.certificates: needs at least one certificate",
    ":26:17: error: listeners.api.tls.versions: expected a list such as [tls1.2, tls1.3], got a "
    "single value",
    ":27:7: error: unknown key \"ocsp\" (expected one of: certificates, versions, ciphers, "
    "unknown_sni, client_auth, session_tickets, ticket_key_rotation, ktls)",
    ":32:5: error: listeners.empty.tls: expected a mapping with \"certificates\", got nothing",
    ":41:17: error: listeners.nocerts.tls.certificates[0].ocsp: must not be empty",
    ":42:7: error: listeners.nocerts.tls.client_auth: expected a mapping with \"ca\" (and "
    "\"verify\"), got nothing",
    ":43:17: error: listeners.nocerts.tls.versions: needs at least one version (tls1.2, tls1.3)")

FIXTURE(missing_listen, ":2:3: error: listeners.web: missing required key \"listen\"")
FIXTURE(workers_range,
        ":1:10: error: workers: must be a whole number from 1 to 256 or \"auto\", got \"0\"")
FIXTURE(workers_word,
        ":1:10: error: workers: must be a whole number from 1 to 256 or \"auto\", got \"many\"")
FIXTURE(duration_no_unit,
        ":2:12: error: timeouts.connect: invalid duration \"10\": add a unit: ms, s, m, h")
FIXTURE(duration_bad,
        ":2:18: error: timeouts.client_header: invalid duration \"10 s\": unknown unit (use ms, s, "
        "m or h)",
        ":3:16: error: timeouts.client_idle: invalid duration \"-5s\": must not be negative",
        ":4:12: error: timeouts.connect: invalid duration \"soon\": not a number",
        ":5:22: error: timeouts.upstream_response: invalid duration \"1.5s\": use a whole number "
        "(e.g. 1500ms, not 1.5s)",
        ":6:18: error: timeouts.upstream_idle: invalid duration \"99999999999999999999h\": too "
        "large",
        ":7:10: error: timeouts.drain: invalid duration \"5d\": unknown unit (use ms, s, m or h)")
FIXTURE(duration_range, ":2:12: error: timeouts.connect: must be from 1ms to 24h, got \"0ms\"",
        ":4:16: error: timeouts.client_idle: must be from 1ms to 24h, got \"25h\"")
/* Every way timeouts.tunnel can be wrong, each named at its FILE:LINE:COL. */
Test(config_errors, tunnel_values)
{
    static const struct {
        const char *value, *error;
    } cases[] = {
        {"0s", ":2:11: error: timeouts.tunnel: must be from 1ms to 24h, got \"0s\""},
        {"25h", ":2:11: error: timeouts.tunnel: must be from 1ms to 24h, got \"25h\""},
        {"3600",
         ":2:11: error: timeouts.tunnel: invalid duration \"3600\": add a unit: ms, s, m, h"},
        {"1.5h", ":2:11: error: timeouts.tunnel: invalid duration \"1.5h\": use a whole number "
                 "(e.g. 1500ms, not 1.5s)"},
        {"forever", ":2:11: error: timeouts.tunnel: invalid duration \"forever\": not a number"},
        {"1d", ":2:11: error: timeouts.tunnel: invalid duration \"1d\": unknown unit (use ms, s, "
               "m or h)"},
        {"[1h]", ":2:11: error: timeouts.tunnel: expected a duration such as 10s, got a list"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *text = lg_fmt("timeouts:\n  tunnel: %s\n%s", cases[i].value, MINIMAL);

        expect_text_errors("tunnel.yaml", text, (const char *const[]){cases[i].error, NULL});
    }
}

/* A route's allow and deny lists, and limits.max_connections_per_ip: read, and defaults. */
Test(config, access_control_keys)
{
    char *dir = lg_test_tmpdir(), *path;
    lg_config_t *cf;
    const lg_route_conf_t *r;

    path = lg_test_write_file(dir, "access.yaml",
                              "limits:\n  max_connections_per_ip: 3\n"
                              "listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes:\n"
                              "      - {path_prefix: /a/, pool: app, allow: [10.0.0.0/8, "
                              "10.1.0.0/16, \"2001:db8::/32\", \"::1\"]}\n"
                              "      - {path_prefix: /d/, pool: app, deny: [192.168.0.7]}\n"
                              "      - pool: app\n"
                              "pools:\n  app:\n    backends:\n      - 127.0.0.1:9001\n");
    cf = load_ok(path);
    cr_assert_eq(cf->limits.max_connections_per_ip, 3);
    r = cf->listeners[0].routes;
    cr_assert_not_null(r[0].allow);
    cr_assert_null(r[0].deny);
    cr_assert_eq(r[0].allow->n4, 1, "10.1.0.0/16 is inside 10.0.0.0/8");
    cr_assert_eq(r[0].allow->n6, 2);
    cr_assert_null(r[1].allow);
    cr_assert_eq(r[1].deny->n4, 1);
    cr_assert_null(r[2].allow);
    cr_assert_null(r[2].deny);
    lg_config_free(cf);
    free(path);
    lg_test_rmtree(dir);
    cf = load_ok(path = fixture_path("full"));
    cr_assert_eq(cf->limits.max_connections_per_ip, 0, "0 (unlimited) by default");
    lg_config_free(cf);
    free(path);
}

/* Every way allow, deny and max_connections_per_ip can be wrong, each at its FILE:LINE:COL. */
Test(config_errors, access_control_values)
{
    static const struct {
        const char *route, *limits, *error;
    } cases[] = {
        {"allow: [10.0.0.1/8]", NULL,
         ":5:50: error: listeners.web.routes[0].allow[0]: 10.0.0.1/8 has host bits set: did you "
         "mean 10.0.0.0/8?"},
        {"deny: [10.0.0.0/8, \"2001:db8::1/32\"]", NULL,
         ":5:61: error: listeners.web.routes[0].deny[1]: 2001:db8::1/32 has host bits set: did "
         "you mean 2001:db8::/32?"},
        {"allow: [localhost]", NULL,
         ":5:50: error: listeners.web.routes[0].allow[0]: invalid network \"localhost\": not an "
         "IP address or network (write 10.0.0.1, 10.0.0.0/8 or 2001:db8::/32)"},
        {"allow: [10.0.0.0/33]", NULL,
         ":5:50: error: listeners.web.routes[0].allow[0]: invalid network \"10.0.0.0/33\": the "
         "prefix length must be a number from 0 to 32"},
        {"deny: [\"::/129\"]", NULL,
         ":5:49: error: listeners.web.routes[0].deny[0]: invalid network \"::/129\": the prefix "
         "length must be a number from 0 to 128"},
        {"allow: []", NULL,
         ":5:49: error: listeners.web.routes[0].allow: needs at least one address or network"},
        {"allow: 10.0.0.0/8", NULL,
         ":5:49: error: listeners.web.routes[0].allow: expected a list such as [10.0.0.0/8, "
         "2001:db8::/32], got a single value"},
        {"deny: {a: 1}", NULL,
         ":5:48: error: listeners.web.routes[0].deny: expected a list such as [10.0.0.0/8, "
         "2001:db8::/32], got a mapping"},
        {"allow: [[10.0.0.0/8]]", NULL,
         ":5:50: error: listeners.web.routes[0].allow[0]: expected an address or a network such "
         "as 10.0.0.0/8, got a list"},
        {"allow: [~]", NULL,
         ":5:50: error: listeners.web.routes[0].allow[0]: expected an address or a network such "
         "as 10.0.0.0/8, got nothing"},
        {"alow: [10.0.0.0/8]", NULL,
         ":5:42: error: unknown key \"alow\" (did you mean \"allow\"?)"},
        {NULL, "max_connections_per_ip: -1",
         ":2:27: error: limits.max_connections_per_ip: must be a whole number from 0 to 1000000, "
         "got \"-1\""},
        {NULL, "max_connections_per_ip: lots",
         ":2:27: error: limits.max_connections_per_ip: must be a whole number from 0 to 1000000, "
         "got \"lots\""},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *text = lg_fmt("limits:\n  %s\n"
                            "listeners:\n  web:\n    routes: [{path_prefix: /, pool: app, %s}]\n"
                            "    listen: 127.0.0.1:8080\n"
                            "pools:\n  app:\n    backends: [127.0.0.1:9001]\n",
                            cases[i].limits != NULL ? cases[i].limits : "max_connections: 10",
                            cases[i].route != NULL ? cases[i].route : "deny: [10.9.0.0/16]");

        expect_text_errors("access.yaml", text, (const char *const[]){cases[i].error, NULL});
    }
}

/*
 * A path_prefix that is not in the normal form of the paths it is compared with never matches:
 * a route with allow/deny or a rate limit written that way would let every request past it.
 */
Test(config_errors, path_prefix_not_normalised)
{
    static const struct {
        const char *prefix, *error;
    } cases[] = {
        {"/%61dmin/", ":4:28: error: listeners.web.routes[0].path_prefix: \"/%61dmin/\" never "
                      "matches: request paths are normalised before they are compared (see "
                      "docs/security.md); write \"/admin/\""},
        {"/caf%c3%a9/", ":4:28: error: listeners.web.routes[0].path_prefix: \"/caf%c3%a9/\" "
                        "never matches: request paths are normalised before they are compared "
                        "(see docs/security.md); write \"/caf%C3%A9/\""},
        {"//admin/", ":4:28: error: listeners.web.routes[0].path_prefix: \"//admin/\" never "
                     "matches: request paths are normalised before they are compared (see "
                     "docs/security.md); write \"/admin/\""},
        {"/a/../admin", ":4:28: error: listeners.web.routes[0].path_prefix: \"/a/../admin\" "
                        "never matches: request paths are normalised before they are compared "
                        "(see docs/security.md); write \"/admin\""},
        {"/a%2fb/", ":4:28: error: listeners.web.routes[0].path_prefix: \"/a%2fb/\" never "
                    "matches: a request path with it is refused (400)"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *text = lg_fmt("listeners:\n  web:\n    listen: 127.0.0.1:8080\n"
                            "    routes: [{path_prefix: \"%s\", pool: app, deny: [10.0.0.0/8]}]\n"
                            "pools:\n  app:\n    backends: [127.0.0.1:9001]\n",
                            cases[i].prefix);

        expect_text_errors("prefix.yaml", text, (const char *const[]){cases[i].error, NULL});
    }
}

/* A pools section for files whose routes all answer without one (the file needs a pool). */
#define POOLS "pools:\n  app:\n    backends:\n      - 127.0.0.1:9001\n"

/* A route with `redirect` or `respond`: every way to get them wrong, at FILE:LINE:COL. */
Test(config_errors, redirect_and_respond_values)
{
    static const struct {
        const char *route, *error;
    } cases[] = {
        {"{redirect: {to: \"https://{hots}{uri}\"}}",
         ":5:34: error: listeners.web.routes[0].redirect.to: unknown variable \"{hots}\" in "
         "\"https://{hots}{uri}\" (known: {host}, {uri}, {path}, {query}, {scheme}, {client_ip}, "
         "{request_id})"},
        {"{redirect: {to: \"/a\\u0001{uri}\"}}",
         ":5:28: error: listeners.web.routes[0].redirect.to: control character \"\\x01\" at "
         "byte 3 of \"/a\\x01{uri}\""},
        {"{redirect: {to: \"\"}}",
         ":5:25: error: listeners.web.routes[0].redirect.to: must not be empty"},
        {"{redirect: {status: 301}}",
         ":5:10: error: listeners.web.routes[0].redirect: missing required key \"to\""},
        {"{redirect: {to: /x, status: 300}}",
         ":5:37: error: listeners.web.routes[0].redirect.status: invalid redirect status \"300\": "
         "expected 301, 302, 303, 307 or 308"},
        {"{redirect: {to: /x, status: 304}}",
         ":5:37: error: listeners.web.routes[0].redirect.status: invalid redirect status \"304\": "
         "expected 301, 302, 303, 307 or 308"},
        {"{redirect: /x}",
         ":5:20: error: listeners.web.routes[0].redirect: expected a mapping, got a single value"},
        {"{redirect: {to: /x}, pool: app}",
         ":5:30: error: listeners.web.routes[0].pool: not used with redirect (the route answers "
         "without a backend)"},
        {"{respond: {}, pool: app}",
         ":5:23: error: listeners.web.routes[0].pool: not used with respond (the route answers "
         "without a backend)"},
        {"{redirect: {to: /x}, respond: {}}",
         ":5:30: error: listeners.web.routes[0].respond: a route answers with redirect or "
         "respond, not both"},
        {"{path_prefix: /a}", ":5:9: error: listeners.web.routes[0]: missing required key "
                              "\"pool\" (or an answer: redirect or respond)"},
        {"{respond: {status: 101}}",
         ":5:28: error: listeners.web.routes[0].respond.status: must be a whole number from 200 "
         "to 599, got \"101\""},
        {"{respond: {status: 600}}",
         ":5:28: error: listeners.web.routes[0].respond.status: must be a whole number from 200 "
         "to 599, got \"600\""},
        {"{respond: {status: 204, body: x}}",
         ":5:39: error: listeners.web.routes[0].respond.body: a 204 response has no body"},
        {"{respond: {body: [a]}}",
         ":5:26: error: listeners.web.routes[0].respond.body: expected the body as a string, got "
         "a list"},
        {"{respond: {content_type: \"\"}}",
         ":5:34: error: listeners.web.routes[0].respond.content_type: must not be empty"},
        {"{respond: {content_type: \"text/plain\\r\\nX: y\"}}",
         ":5:34: error: listeners.web.routes[0].respond.content_type: must not contain control "
         "characters"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *text = lg_fmt("listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes:\n"
                            "      - %s\n      - pool: app\n" POOLS,
                            cases[i].route);

        expect_text_errors("answer.yaml", text, (const char *const[]){cases[i].error, NULL});
    }
}

/* A respond body is bounded: LG_RESPOND_BODY_MAX bytes load, one more is refused. */
Test(config_errors, respond_body_size)
{
    char *body = lg_test_keep(malloc(LG_RESPOND_BODY_MAX + 2), NULL);
    lg_config_errors_t e;
    lg_config_t *cf;
    char *dir = lg_test_tempdir(), *path;

    memset(body, 'a', LG_RESPOND_BODY_MAX + 1);
    body[LG_RESPOND_BODY_MAX + 1] = '\0';
    expect_text_errors("big.yaml",
                       lg_fmt("listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes:\n"
                              "      - respond: {body: %s}\n%s",
                              body, POOLS),
                       (const char *const[]){":5:25: error: listeners.web.routes[0].respond.body: "
                                             "a body of 8193 bytes is too large (at most 8192)",
                                             NULL});
    body[LG_RESPOND_BODY_MAX] = '\0';
    path = lg_test_write_file(dir, "ok.yaml",
                              lg_fmt("listeners:\n  web:\n    listen: 127.0.0.1:8080\n"
                                     "    routes:\n      - respond: {body: %s}\n%s",
                                     body, POOLS));
    cf = lg_config_load(path, &e);
    cr_assert_not_null(cf);
    cr_assert_eq(cf->listeners[0].routes[0].answer->body_len, LG_RESPOND_BODY_MAX);
    lg_config_free(cf);
    free(path);
}

/* The defaults: redirect 302, respond 200 with an empty body and no content type of its own. */
Test(config, redirect_and_respond_defaults)
{
    char *dir = lg_test_tempdir();
    char *path = lg_test_write_file(dir, "ok.yaml",
                                    "listeners:\n  web:\n    listen: 127.0.0.1:8080\n"
                                    "    routes:\n      - redirect: {to: \"https://{host}{uri}\"}\n"
                                    "      - respond: {}\n"
                                    "      - respond: {status: 503, body: \"down\\n\", "
                                    "content_type: text/html}\n" POOLS);
    lg_config_t *cf = load_ok(path);
    const lg_route_conf_t *r = cf->listeners[0].routes;

    cr_assert(r[0].answer->redirect);
    cr_assert_eq(r[0].answer->status, 302);
    cr_assert_eq(r[0].answer->to.nparts, 3);
    cr_assert_eq(r[0].answer->to.vars, (1u << LG_VAR_HOST) | (1u << LG_VAR_URI));
    cr_assert_not(r[1].answer->redirect);
    cr_assert_eq(r[1].answer->status, 200);
    cr_assert_eq(r[1].answer->body_len, 0);
    cr_assert_null(r[1].answer->content_type);
    cr_assert_eq(r[2].answer->status, 503);
    cr_assert_str_eq(r[2].answer->body, "down\n");
    cr_assert_str_eq(r[2].answer->content_type, "text/html");
    lg_config_free(cf);
    free(path);
}

FIXTURE(size_bad,
        ":2:20: error: limits.max_header_size: invalid size \"16kb\": unknown suffix (use k, m or "
        "g)",
        ":3:18: error: limits.max_body_size: invalid size \"-1\": must not be negative")
FIXTURE(size_range, ":2:20: error: limits.max_header_size: must be from 1k to 1m, got \"512\"")
FIXTURE(enum_bad,
        ":2:10: error: log.level: unknown value \"verbose\" (expected one of: error, warn, info, "
        "debug)",
        ":3:18: error: log.access_format: unknown value \"jsn\" (did you mean \"json\"?)")
FIXTURE(listen_bad,
        ":3:13: error: listeners.a.listen: invalid address \"localhost:8080\": must be an IP "
        "address (e.g. 127.0.0.1:8080, [::1]:8080 or :8080), not a host name",
        ":7:13: error: listeners.b.listen: invalid address \"127.0.0.1:70000\": port must be "
        "0..65535",
        ":11:13: error: listeners.c.listen: invalid address \"::1:8080\": IPv6 addresses need "
        "brackets, e.g. [::1]:8080",
        ":15:13: error: listeners.d.listen: invalid address \"127.0.0.1\": missing port (write "
        "HOST:PORT)",
        ":19:13: error: listeners.e.listen: invalid address \"300.1.1.1:80\": invalid IPv4 address")
FIXTURE(backend_bad,
        ":9:9: error: pools.app.backends[0]: invalid address \"127.0.0.1:0\": port must be "
        "1..65535",
        ":10:9: error: pools.app.backends[1]: invalid address \":9001\": missing host (write "
        "HOST:PORT)",
        ":11:9: error: pools.app.backends[2]: invalid address \"[::1:9001\": missing ']' after "
        "the IPv6 address",
        ":12:18: error: pools.app.backends[3].address: invalid address \"bad_host-:80\": invalid "
        "host name",
        ":14:17: error: pools.app.backends[4].weight: must be a whole number from 1 to 1000, got "
        "\"1001\"")
FIXTURE(unknown_pool,
        ":5:15: error: listeners.web.routes[0].pool: unknown pool \"apps\" (did you mean "
        "\"app\"?)",
        ":9:11: error: listeners.db.pool: unknown pool \"database\"")
FIXTURE(mode_mismatch, ":2:3: error: listeners.web: missing required key \"routes\"",
        ":4:5: error: listeners.web.pool: only used with \"mode: tcp\" (http listeners use "
        "\"routes\")",
        ":5:3: error: listeners.db: missing required key \"pool\" (mode: tcp; or \"routes\" by "
        "SNI)")
FIXTURE(sni_routes_bad,
        ":5:5: error: listeners.both.pool: not used with \"routes\" (a tcp listener has one "
        "\"pool\", or routes by SNI)",
        ":10:5: error: listeners.terminate.routes: not used with \"tls\" (routes by SNI pass TLS "
        "through to the backends undecrypted; a tcp listener with tls terminates it and has one "
        "\"pool\")",
        ":22:14: error: listeners.keys.routes[0].sni: invalid sni \"*.-bad.example\": expected a "
        "name such as api.example.com or *.example.com",
        ":24:14: error: listeners.keys.routes[1].sni: invalid sni \"a.example:443\": leave out the "
        "port (the sni alone is matched)",
        ":26:9: error: unknown key \"host\" (expected one of: sni, pool)",
        ":28:9: error: listeners.keys.routes[3]: missing required key \"pool\"",
        ":30:15: error: listeners.keys.routes[4].pool: unknown pool \"nope\"",
        ":31:9: error: unknown key \"path_prefix\" (expected one of: sni, pool)",
        ":36:9: error: unknown key \"sni\" (expected one of: host, path_prefix, pool, redirect, "
        "respond, methods, headers, strip_prefix, timeouts, limits, retries, allow, deny, "
        "rate_limit, request_headers, response_headers)")
FIXTURE(empty_lists, ":4:13: error: listeners.web.routes: needs at least one route",
        ":7:5: error: pools.app.backends: a pool needs at least one backend")
FIXTURE(empty_maps, ":1:12: error: listeners: at least one listener is needed",
        ":2:1: error: pools: at least one pool is needed")
FIXTURE(duplicate_listen,
        ":9:13: error: listeners.b.listen: address :80 is already used by listener \"a\" (line 5)",
        ":13:13: error: listeners.c.listen: address 127.0.0.1:80 overlaps 0.0.0.0:80 of listener "
        "\"a\" (line 5)",
        ":17:13: error: listeners.d.listen: address 127.0.0.1:9901 is already used by the admin "
        "listener (line 2)")
FIXTURE(duplicate_backend,
        ":11:18: error: pools.app.backends: duplicate backend 127.0.0.1:9001 (first at line 9)",
        ":12:9: error: pools.app.backends: duplicate backend APP:80 (first at line 10)")
FIXTURE(route_bad,
        ":5:15: error: listeners.web.routes[0].host: invalid host \"api.example.com:8080\": leave "
        "out the port (the host alone is matched)",
        ":7:15: error: listeners.web.routes[1].host: invalid host \"*.-bad.com\": expected a name "
        "such as api.example.com or *.example.com",
        ":9:22: error: listeners.web.routes[2].path_prefix: must start with \"/\", got \"api/\"",
        ":11:9: error: listeners.web.routes[3]: missing required key \"pool\" (or an answer: "
        "redirect or respond)")
FIXTURE(hash_key, ":8:5: error: pools.a.hash_key: only used with \"balance: hash\"",
        ":13:15: error: pools.b.hash_key: invalid header name \"\"",
        ":18:15: error: pools.c.hash_key: unknown value \"session\" (expected client_ip, uri, "
        "header:NAME or cookie:NAME)")
FIXTURE(health_check_bad, ":12:7: error: pools.a.health_check.path: only used with \"type: http\"",
        ":14:16: error: pools.a.health_check.timeout: the timeout (2s) must not be longer than "
        "the interval (1s)",
        ":19:13: error: pools.b.health_check.path: must start with \"/\", got \"healthz\"",
        ":20:22: error: pools.b.health_check.expect_status: empty status range \"399-200\": the "
        "first code must not be above the second",
        ":21:13: error: pools.b.health_check.rise: must be a whole number from 1 to 100, got "
        "\"0\"",
        ":26:22: error: pools.c.health_check.expect_status: invalid status \"2xx\": expected a "
        "code from 100 to 599 such as 200, or a range such as 200-399")
FIXTURE(type_mismatch, ":1:11: error: timeouts: expected a mapping, got a single value",
        ":3:3: error: listeners: expected a mapping of names to listeners, got a list",
        ":7:7: error: pools.app.backends: expected a list of backends, got a mapping")
FIXTURE(missing_value, ":1:1: error: pid_file: missing value (expected a string)",
        ":3:3: error: timeouts.connect: missing value (expected a duration such as 10s)")
FIXTURE(empty_string, ":1:11: error: pid_file: must not be empty",
        ":3:10: error: log.error: must not be empty",
        ":4:11: error: log.access: must not contain control characters")
FIXTURE(invalid_name,
        ":2:3: error: invalid name \"my web\": use up to 64 letters, digits, '_', '-' and '.'")
FIXTURE(key_not_string, ":1:3: error: a key must be a plain string, not a list")
FIXTURE(syntax_error, ":4:4: error: syntax error: did not find expected key (while parsing a "
                      "block mapping at line 2, column 3)")
FIXTURE(top_level_list, ":1:1: error: the top level must be a mapping (keys such as listeners "
                        "and pools), got a list")
FIXTURE(top_level_scalar, ":1:1: error: the top level must be a mapping (keys such as listeners "
                          "and pools), got a single value")
FIXTURE(two_documents, ":2:1: error: only one YAML document is allowed in the file")
/* A refused alias does not hide the other problems of the file, nor adds any of its own. */
FIXTURE(alias,
        ":1:1: error: unknown key \"defaults\" (expected one of: workers, pid_file, resolver, log, "
        "admin, timeouts, limits, listeners, pools, acme)",
        ":12:19: error: YAML aliases are not supported: write out the value of \"*check\" in full",
        ":13:14: error: pools.app.retries: must be a whole number from 0 to 10, got \"lots\"",
        ":14:5: error: unknown key \"backends2\" (did you mean \"backends\"?)",
        ":14:16: error: YAML aliases are not supported: write out the value of \"*list\" in full",
        ":17:46: error: YAML aliases are not supported: write out the value of \"*check\" in full")
/* libyaml's own words for these two mistakes say nothing of the fix: a hint does. */
FIXTURE(star_unquoted, ":5:15: error: syntax error: *.example.com is read as a YAML alias (quote "
                       "a value that starts with \"*\", as in \"*.example.com\")")
FIXTURE(tab_indent, ":5:1: error: syntax error: YAML does not allow tabs for indentation (indent "
                    "with spaces)")
FIXTURE(nul_escape, ":1:11: error: value contains a NUL character")
FIXTURE(control_char, ":1:11: error: pid_file: must not contain control characters")
FIXTURE(empty, ": error: empty configuration")
FIXTURE(comments_only, ": error: empty configuration")
FIXTURE(null_document, ": error: empty configuration")

/* Errors come in file order although pools are checked before the listeners that use them. */
FIXTURE(three_errors,
        ":5:15: error: listeners.web.routes[0].pool: unknown pool \"api\" (did you mean "
        "\"app\"?)",
        ":8:14: error: pools.app.balance: unknown value \"fastest\" (expected one of: "
        "round_robin, weighted, least_conn, p2c, hash)",
        ":12:12: error: timeouts.connect: invalid duration \"3\": add a unit: ms, s, m, h")

Test(config_errors, wildcard_after_specific_address_overlaps)
{
    expect_text_errors("overlap.yaml",
                       "listeners:\n"
                       "  a:\n"
                       "    listen: 127.0.0.1:80\n"
                       "    mode: tcp\n"
                       "    pool: p\n"
                       "  b:\n"
                       "    listen: \"[::]:80\"\n"
                       "    mode: tcp\n"
                       "    pool: p\n"
                       "  c:\n"
                       "    listen: :80\n"
                       "    mode: tcp\n"
                       "    pool: p\n"
                       "pools:\n"
                       "  p:\n"
                       "    backends: [\"10.0.0.1:80\"]\n",
                       (const char *const[]){":11:13: error: listeners.c.listen: address :80 "
                                             "overlaps 127.0.0.1:80 of listener \"a\" (line 3)",
                                             NULL});
}

Test(config_errors, too_many_errors_are_counted)
{
    size_t i, n = 250;
    char *text = calloc(n, 32), *p = text, *path;
    lg_config_errors_t e;

    cr_assert_not_null(text);
    for (i = 0; i < n; i++)
        p += sprintf(p, "unknown%zu: 1\n", i);
    path = load_bad_data("many.yaml", text, strlen(text), &e);
    cr_assert_eq(e.n, 101);
    cr_assert(strstr(e.lines[0], ":1:1: error: unknown key \"unknown0\"") != NULL, "%s",
              e.lines[0]);
    cr_assert(strstr(e.lines[1], ":1:1: error: missing required key \"listeners\"") != NULL);
    cr_assert(strstr(e.lines[99], ":99:1: error: unknown key \"unknown98\"") != NULL, "%s",
              e.lines[99]);
    cr_assert(strstr(e.lines[100], ": error: too many errors: 151 more not shown") != NULL, "%s",
              e.lines[100]);
    lg_config_errors_free(&e);
    free(text);
    free(path);
}

/* ---- hostile files */

Test(config_hostile, missing_file)
{
    char *dir = lg_test_tmpdir(), *path;

    cr_assert(asprintf(&path, "%s/nope.yaml", dir) >= 0);
    expect_errors_at(
        path, (const char *const[]){": error: cannot open: No such file or directory", NULL});
    free(path);
    lg_test_rmtree(dir);
}

Test(config_hostile, directory)
{
    char *dir = lg_test_tmpdir();

    expect_errors_at(dir, (const char *const[]){": error: cannot read: Is a directory", NULL});
    lg_test_rmtree(dir);
}

Test(config_hostile, fifo_is_refused_without_blocking)
{
    char *dir = lg_test_tmpdir(), *path;

    cr_assert(asprintf(&path, "%s/fifo.yaml", dir) >= 0);
    cr_assert_eq(mkfifo(path, 0600), 0);
    expect_errors_at(path, (const char *const[]){": error: cannot read: not a regular file", NULL});
    free(path);
    lg_test_rmtree(dir);
}

/* The file is never read: fstat() says it is too large. */
Test(config_hostile, ten_mib_file)
{
    size_t size = 10 * 1024 * 1024;
    char *data = malloc(size);

    cr_assert_not_null(data);
    memset(data, '#', size);
    expect_data_errors(
        "big.yaml", data, size,
        (const char *const[]){": error: file too large: the limit is 1048576 bytes", NULL});
    free(data);
}

Test(config_hostile, file_at_the_limit_is_read)
{
    size_t size = 1024 * 1024;
    char *data = malloc(size + 1);

    cr_assert_not_null(data);
    memset(data, '#', size + 1);
    /* Exactly 1 MiB of comment is read, and is empty; one byte more is too large. */
    expect_data_errors("limit.yaml", data, size,
                       (const char *const[]){": error: empty configuration", NULL});
    expect_data_errors(
        "over.yaml", data, size + 1,
        (const char *const[]){": error: file too large: the limit is 1048576 bytes", NULL});
    free(data);
}

Test(config_hostile, nul_byte_and_invalid_utf8)
{
    static const char nul[] = "workers: 2\nlog:\n  level: in\0fo\n";

    expect_data_errors(
        "nul.yaml", nul, sizeof(nul) - 1,
        (const char *const[]){":3:12: error: NUL byte in the file (is it a binary file?)", NULL});
    expect_text_errors("latin1.yaml", "workers: 2\n# caf\xe9\n",
                       (const char *const[]){":2:6: error: invalid UTF-8 (byte 0xe9)", NULL});
    expect_text_errors("overlong.yaml", "workers: 2 # \xc0\xaf\n",
                       (const char *const[]){":1:14: error: invalid UTF-8 (byte 0xc0)", NULL});
    expect_text_errors("surrogate.yaml", "pid_file: /run/\xed\xa0\x80\n",
                       (const char *const[]){":1:16: error: invalid UTF-8 (byte 0xed)", NULL});
    expect_text_errors("utf16.yaml", "\xff\xfew\0o\0",
                       (const char *const[]){":1:1: error: invalid UTF-8 (byte 0xff)", NULL});
}

Test(config_hostile, utf8_text_is_fine_and_columns_count_characters)
{
    /* "é" is two bytes but one column: the error points at column 10, not 11. */
    expect_text_errors("utf8.yaml", "# café\nlog:\n  level: é\n",
                       (const char *const[]){":2:1: error: missing required key \"listeners\"",
                                             ":3:10: error: log.level: unknown value \"é\" "
                                             "(expected one of: error, warn, info, debug)",
                                             NULL});
}

Test(config_hostile, binary_garbage)
{
    uint64_t seed = 42;
    lg_config_errors_t e;
    size_t i, round;
    char data[4096], *path;

    for (round = 0; round < 50; round++) {
        for (i = 0; i < sizeof(data); i++)
            data[i] = (char)rnd(&seed);
        path = load_bad_data("garbage.yaml", data, sizeof(data), &e);
        cr_assert_geq(e.n, 1);
        cr_assert(strncmp(e.lines[0], path, strlen(path)) == 0, "%s", e.lines[0]);
        cr_assert(strstr(e.lines[0], ": error: ") != NULL, "%s", e.lines[0]);
        lg_config_errors_free(&e);
        free(path);
    }
}

Test(config_hostile, deep_nesting)
{
    size_t depth = 100000;
    char *data = malloc(depth + 16);

    cr_assert_not_null(data);
    memcpy(data, "workers: ", 9);
    memset(data + 9, '[', depth);
    /* The mapping is level 1, so the 64th '[' (column 73) is the 65th level. */
    expect_data_errors(
        "deep.yaml", data, depth + 9,
        (const char *const[]){":1:73: error: nesting too deep (more than 64 levels)", NULL});
    free(data);
}

Test(config_hostile, billion_laughs)
{
    char text[4096], *p = text, *path;
    lg_config_errors_t e;
    int i, j;

    p += sprintf(p, "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (i = 1; i < 10; i++) {
        p += sprintf(p, "%c: &%c [", 'a' + i, 'a' + i);
        for (j = 0; j < 9; j++)
            p += sprintf(p, "%s*%c", j ? "," : "", 'a' + i - 1);
        p += sprintf(p, "]\n");
    }
    path = load_bad_data("lol.yaml", text, strlen(text), &e);
    /*
     * Every alias is reported (9 per line over 9 lines), nothing is expanded; so are the ten
     * unknown keys and the missing listeners.
     */
    cr_assert_eq(e.n, 92);
    cr_assert_eq(count_lines(&e, "error: YAML aliases are not supported"), 81);
    cr_assert_eq(count_lines(&e, "lol.yaml:2:8: error: YAML aliases are not supported: write "
                                 "out the value of \"*a\" in full"),
                 1);
    lg_config_errors_free(&e);
    free(path);
}

Test(config_hostile, huge_flat_mapping)
{
    size_t n = 300000, i;
    char *data = malloc(n * 2 + 16), *p = data;

    cr_assert_not_null(data);
    p += sprintf(p, "a: {");
    for (i = 0; i < n; i++)
        p += sprintf(p, "x,");
    p += sprintf(p, "}\n");
    expect_text_errors(
        "flat.yaml", data,
        (const char *const[]){":1:262146: error: too many values (more than 262144)", NULL});
    free(data);
}

Test(config_hostile, many_duplicate_names_stay_fast)
{
    size_t n = 20000, i;
    char *data = malloc(n * 48 + 64), *p = data, *path;
    lg_config_errors_t e;

    cr_assert_not_null(data);
    p += sprintf(p, "pools:\n");
    for (i = 0; i < n; i++)
        p += sprintf(p, "  p: {backends: [\"10.0.0.1:80\", \"10.0.0.1:80\"]}\n");
    path = load_bad_data("dups.yaml", data, strlen(data), &e);
    cr_assert_eq(e.n, 101);
    lg_config_errors_free(&e);
    free(path);
    free(data);
}

/*
 * Random edits of the default configuration: whatever they break, loading returns either a
 * config or well-formed error lines, and never crashes (the ASan build checks memory too).
 */
Test(config_hostile, mutations_of_the_default_config)
{
    static const char alphabet[] = " :-[]{},#&*!|>'\"\n\t\\%@`?0123456789abcxyz.";
    const char *src = LG_SOURCE_DIR "/conf/lifeguard.yaml";
    char *dir = lg_test_tmpdir(), *orig = NULL, *buf, *path;
    size_t len = 0, n, round, k, pos;
    uint64_t seed = 7;
    lg_config_errors_t e;
    lg_config_t *cf;
    FILE *f = fopen(src, "r");
    ssize_t r;

    cr_assert_not_null(f);
    r = getdelim(&orig, &len, '\0', f);
    fclose(f);
    cr_assert_gt(r, 0);
    len = (size_t)r;
    buf = malloc(len + 1);
    cr_assert_not_null(buf);
    for (round = 0; round < 1000; round++) {
        memcpy(buf, orig, len);
        n = len;
        for (k = 0; k < 1 + rnd(&seed) % 4; k++) {
            pos = rnd(&seed) % n;
            switch (rnd(&seed) % 3) {
            case 0: /* replace */
                buf[pos] = alphabet[rnd(&seed) % (sizeof(alphabet) - 1)];
                break;
            case 1: /* delete */
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
                break;
            default: /* duplicate a byte */
                if (n <= len) {
                    memmove(buf + pos + 1, buf + pos, n - pos);
                    n++;
                }
                break;
            }
        }
        path = lg_test_write_bytes(dir, "mutant.yaml", buf, n);
        cf = lg_config_load(path, &e);
        if (cf != NULL) {
            cr_assert_eq(e.n, 0);
            cr_assert_geq(cf->nlisteners, 1);
            cr_assert_geq(lg_config_nbackends(cf), 1);
            lg_config_free(cf);
        } else {
            cr_assert_geq(e.n, 1, "rejected without a reason");
            for (k = 0; k < e.n; k++) {
                cr_assert(strncmp(e.lines[k], path, strlen(path)) == 0, "%s", e.lines[k]);
                cr_assert(strstr(e.lines[k], ": error: ") != NULL, "%s", e.lines[k]);
                cr_assert(strchr(e.lines[k], '\n') == NULL, "one line: %s", e.lines[k]);
            }
        }
        lg_config_errors_free(&e);
        free(path);
    }
    free(buf);
    free(orig);
    lg_test_rmtree(dir);
}

/* MINIMAL with its one backend entry `backend` (flow YAML), and `queue` (or none). */
static char *queue_pool_yaml(const char *backend, const char *queue)
{
    const char *entry = strstr(MINIMAL, "      - 127.0.0.1:9001\n");

    return lg_fmt("%.*s      - %s\n%s%s%s", (int)(entry - MINIMAL), MINIMAL, backend,
                  queue != NULL ? "    queue: " : "", queue != NULL ? queue : "",
                  queue != NULL ? "\n" : "");
}

/* max_connections and queue: defaults, and the values written. */
Test(config, backend_max_connections_and_queue)
{
    static const struct {
        const char *backend, *queue;
        unsigned max_connections, queue_max;
        lg_msec_t queue_timeout;
    } cases[] = {
        {"127.0.0.1:9001", NULL, 0, 1000, 0},
        {"{address: 127.0.0.1:9001, max_connections: 2}", NULL, 2, 1000, 0},
        {"{address: 127.0.0.1:9001, max_connections: 100}", "{max: 0}", 100, 0, 0},
        {"{address: 127.0.0.1:9001, max_connections: 1}", "{max: 50, timeout: 500ms}", 1, 50, 500},
        {"{address: app.internal:80, max_connections: 1000000}", "{timeout: 1h}", 1000000, 1000,
         3600000},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *dir = lg_test_tmpdir();
        char *path =
            lg_test_write_file(dir, "q.yaml", queue_pool_yaml(cases[i].backend, cases[i].queue));
        lg_config_t *cf = load_ok(path);

        cr_assert_eq(cf->pools[0].backends[0].max_connections, cases[i].max_connections, "%zu", i);
        cr_assert_eq(cf->pools[0].queue_max, cases[i].queue_max, "%zu", i);
        cr_assert_eq(cf->pools[0].queue_timeout, cases[i].queue_timeout, "%zu", i);
        cr_assert_eq(lg_pool_limited(&cf->pools[0]), cases[i].max_connections != 0, "%zu", i);
        lg_config_free(cf);
        lg_test_rmtree(dir);
        free(path);
    }
}

/* Every way max_connections and queue can be wrong, each named at its FILE:LINE:COL. */
Test(config_errors, max_connections_and_queue)
{
    static const char ok[] = "{address: 127.0.0.1:9001, max_connections: 2}";
    static const struct {
        const char *backend, *queue, *error;
    } cases[] = {
        {"{address: 127.0.0.1:9001, max_connections: -1}", NULL,
         ":9:52: error: pools.app.backends[0].max_connections: must be a whole number from 0 to "
         "1000000, got \"-1\""},
        {"{address: 127.0.0.1:9001, max_connections: 1000001}", NULL,
         ":9:52: error: pools.app.backends[0].max_connections: must be a whole number from 0 to "
         "1000000, got \"1000001\""},
        {"{address: 127.0.0.1:9001, max_connections: many}", NULL,
         ":9:52: error: pools.app.backends[0].max_connections: must be a whole number from 0 to "
         "1000000, got \"many\""},
        {"{address: 127.0.0.1:9001, max_conections: 2}", NULL,
         ":9:35: error: unknown key \"max_conections\" (did you mean \"max_connections\"?)"},
        {ok, "{max: -5}",
         ":10:18: error: pools.app.queue.max: must be a whole number from 0 to 1000000, got "
         "\"-5\""},
        {ok, "{timeout: 0s}",
         ":10:22: error: pools.app.queue.timeout: must be from 1ms to 1h, got "
         "\"0s\""},
        {ok, "{timeout: 5}",
         ":10:22: error: pools.app.queue.timeout: invalid duration \"5\": add a unit: ms, s, m, "
         "h"},
        {ok, "{size: 10}", ":10:13: error: unknown key \"size\" (expected one of: max, timeout)"},
        {ok, "100", ":10:12: error: pools.app.queue: expected a mapping, got a single value"},
        {"127.0.0.1:9001", "{max: 10}",
         ":10:5: error: pools.app.queue: only used with backends that have max_connections"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++)
        expect_text_errors("queue.yaml", queue_pool_yaml(cases[i].backend, cases[i].queue),
                           (const char *const[]){cases[i].error, NULL});
}

/* listeners.NAME.proxy_protocol: the trusted sources read into a set; none by default. */
Test(config, proxy_protocol_trusted)
{
    char *dir = lg_test_tmpdir(), *path;
    lg_config_t *cf;

    path = lg_test_write_file(dir, "pp.yaml",
                              "listeners:\n  lb:\n    listen: 127.0.0.1:8080\n"
                              "    proxy_protocol: {trusted: [10.0.0.0/8, 127.0.0.1, \"::1\"]}\n"
                              "    routes: [{pool: app}]\n"
                              "  direct:\n    listen: 127.0.0.1:8081\n    routes: [{pool: app}]\n"
                              "pools:\n  app:\n    backends: [127.0.0.1:9001]\n");
    cf = load_ok(path);
    cr_assert_not_null(cf->listeners[0].proxy_trusted);
    cr_assert_eq(cf->listeners[0].proxy_trusted->n4, 2);
    cr_assert_eq(cf->listeners[0].proxy_trusted->n6, 1);
    cr_assert_null(cf->listeners[1].proxy_trusted, "no PROXY header without the key");
    lg_config_free(cf);
    free(path);
    lg_test_rmtree(dir);
}

/* Every way proxy_protocol can be wrong, each at its FILE:LINE:COL. */
Test(config_errors, proxy_protocol_values)
{
    static const struct {
        const char *value, *error;
    } cases[] = {
        {"on",
         ":4:21: error: listeners.web.proxy_protocol: expected a mapping, got a single value"},
        {"{}", ":4:5: error: listeners.web.proxy_protocol: missing required key \"trusted\""},
        {"{trusted: []}",
         ":4:31: error: listeners.web.proxy_protocol.trusted: needs at least one address or "
         "network"},
        {"{trusted: 10.0.0.0/8}",
         ":4:31: error: listeners.web.proxy_protocol.trusted: expected a list such as "
         "[10.0.0.0/8, 2001:db8::/32], got a single value"},
        {"{trusted: [10.0.0.1/8]}",
         ":4:32: error: listeners.web.proxy_protocol.trusted[0]: 10.0.0.1/8 has host bits set: "
         "did you mean 10.0.0.0/8?"},
        {"{trusted: [lb.example.com]}",
         ":4:32: error: listeners.web.proxy_protocol.trusted[0]: invalid network "
         "\"lb.example.com\": not an IP address or network (write 10.0.0.1, 10.0.0.0/8 or "
         "2001:db8::/32)"},
        {"{trusted: [10.0.0.0/8], version: 2}",
         ":4:45: error: unknown key \"version\" (expected one of: trusted)"},
    };

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        char *text = lg_fmt("listeners:\n  web:\n    listen: 127.0.0.1:8080\n"
                            "    proxy_protocol: %s\n    routes: [{pool: app}]\n"
                            "pools:\n  app:\n    backends: [127.0.0.1:9001]\n",
                            cases[i].value);

        expect_text_errors("pp.yaml", text, (const char *const[]){cases[i].error, NULL});
    }
}

/* TLS passthrough: tcp routes by SNI, read whatever the order of `routes` and `mode`. */
Test(config, tcp_routes_by_sni)
{
    char *dir = lg_test_tmpdir(), *path;
    const lg_listener_conf_t *l;
    lg_config_t *cf;

    path = lg_test_write_file(dir, "sni.yaml",
                              "listeners:\n  pass:\n    listen: 127.0.0.1:8443\n    routes:\n"
                              "      - {sni: A.Example.COM., pool: a}\n"
                              "      - {sni: \"*.Internal.example\", pool: b}\n"
                              "      - pool: b\n"
                              "    mode: tcp\n"
                              "pools:\n  a:\n    backends: [127.0.0.1:9001]\n"
                              "  b:\n    backends: [127.0.0.1:9002]\n");
    cf = load_ok(path);
    l = &cf->listeners[0];
    cr_assert_eq(l->mode, LG_MODE_TCP);
    cr_assert_eq(l->nroutes, 3);
    cr_assert_str_eq(l->routes[0].host, "a.example.com", "lower-case, trailing dot dropped");
    cr_assert_eq(l->routes[0].host_wildcard, 0);
    cr_assert_eq(l->routes[0].pool, 0);
    cr_assert_str_eq(l->routes[1].host, "*.internal.example");
    cr_assert_eq(l->routes[1].host_wildcard, 1);
    cr_assert_eq(l->routes[1].pool, 1);
    cr_assert_null(l->routes[2].host, "the catch-all");
    cr_assert_eq(l->routes[2].pool, 1);
    lg_config_free(cf);
    free(path);
    lg_test_rmtree(dir);
}
