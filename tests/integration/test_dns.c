/*
 * test_dns.c - DNS discovery of host-name backends through the real binary: a real DNS server
 * (dnsmasq, serving the A/AAAA records of a hosts file that the test rewrites and re-reads with
 * SIGHUP), real lg-origins on 127.0.0.1:P, 127.0.0.2:P... (same port, different loopback
 * addresses, so the body says which member answered) and lifeguard with `resolver:` pointing at
 * dnsmasq (on a loopback address of its own, 127.53.X.Y, see dns_ip) and `resolve_interval: 1s`.
 *
 * Covered: members following the records (added, removed, replaced in the same slot) without a
 * failed request, a name without records at start (503, then filled), a resolver that stops
 * answering or dies (addresses kept, then updated again when it is back), health checks gating
 * a new address (also when the change lands while a check of the slot's old address is in
 * flight), a reload, AAAA records, the limit of 8 members per name, and a resolver that answers
 * REFUSED (dnsmasq without --local=/test/ and no upstream), the reasons the log gives (NXDOMAIN,
 * REFUSED, timed out, with the resolver's address) and `lifeguard -t` warning about backend
 * names that do not resolve.
 *
 * The client loop (traffic_*) sends requests back to back, alternately on new connections and on
 * one keep-alive connection, and counts every answer that is not the expected status.
 *
 * dnsmasq (Debian package dnsmasq-base, scripts/deps.sh) runs as a child of the test process with
 * PR_SET_PDEATHSIG(SIGKILL) and --user=root (a change of user would clear the death signal), so
 * it dies with the test however the test ends; it is also killed by pid at the end of each test.
 * The test is skipped when /usr/sbin/dnsmasq (or $LG_TEST_DNSMASQ) is missing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "lg_test.h"
#include "proxy_common.h"

#define DNS_NAME        "app.test"
#define DNS_START_TRIES 20
/*
 * Bound of "the members follow the records" (resolve_interval 1s, a check or two): only a guard
 * against waiting forever, how soon they follow is not what the tests check.
 */
#define FOLLOW_MS lg_test_timeout_ms()

/* ---- the DNS server */

typedef struct dns_server {
    pid_t pid;
    char ip[16]; /* its own loopback address (dns_ip) */
    int port;
    int local; /* --local=/test/: NXDOMAIN / NODATA instead of REFUSED for unknown names */
    char *dir;
    char *hosts; /* dir/hosts: the records, "IP NAME" lines */
    char *log;   /* dir/dnsmasq-N.log: its stderr */
    int reads;   /* "read HOSTS" lines seen in the log so far */
} dns_server_t;

/* 1 when a TCP socket can bind ip:port (IPv4 or IPv6 literal) right now. */
static int tcp_port_free(const char *ip, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, ok, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &s4->sin_addr);
        len = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
    close(fd);
    return ok;
}

/*
 * Ask dnsmasq `d` for the A records of `name`: the answer's rcode (0 NOERROR, 3 NXDOMAIN,
 * 5 REFUSED...) with the answer count in *an, or -1 when nothing came within timeout_ms.
 */
static int dns_ask(const dns_server_t *d, const char *name, int timeout_ms, int *an)
{
    unsigned char q[512], r[1500];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
    size_t n = 12;
    const char *label = name;
    uint64_t deadline = lg_now_ms() + (uint64_t)timeout_ms;
    int fd, rc = -1;
    unsigned id = (unsigned)(lg_now_ms() & 0xFFFF);

    memset(q, 0, 12);
    q[0] = (unsigned char)(id >> 8);
    q[1] = (unsigned char)id;
    q[2] = 0x01;
    q[5] = 1;
    while (*label != '\0') {
        const char *dot = strchr(label, '.');
        size_t len = dot ? (size_t)(dot - label) : strlen(label);

        q[n++] = (unsigned char)len;
        memcpy(q + n, label, len);
        n += len;
        label += len + (dot != NULL);
    }
    memcpy(q + n, "\0\0\1\0\1", 5); /* root, type A, class IN */
    n += 5;
    inet_pton(AF_INET, d->ip, &sin.sin_addr);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || send(fd, q, n, 0) < 0)
        goto out;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        uint64_t now = lg_now_ms();
        ssize_t got;

        if (now >= deadline || poll(&pf, 1, (int)(deadline - now)) <= 0)
            break;
        got = recv(fd, r, sizeof(r), 0);
        if (got < 0 && errno != EINTR)
            break;
        if (got >= 12 && r[0] == q[0] && r[1] == q[1]) {
            rc = r[3] & 0x0F;
            if (an != NULL)
                *an = r[6] << 8 | r[7];
            break;
        }
    }
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static void dns_kill(dns_server_t *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        d->pid = -1;
    }
}

/*
 * At exit (dns_server_t is kept): whatever happened, dnsmasq does not survive the test; its dir
 * goes, and what dns_start_opt allocated (hosts and log are lg_fmt's).
 */
static void dns_free(void *p)
{
    dns_server_t *d = p;

    dns_kill(d);
    lg_test_rmtree(d->dir);
    free(d);
}

static void dns_write_hosts(dns_server_t *d, const char *records)
{
    char *tmp = lg_fmt("%s.tmp", d->hosts);
    FILE *f = fopen(tmp, "w");

    cr_assert_not_null(f, "fopen(%s): %s", tmp, strerror(errno));
    fputs(records, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, d->hosts), 0, "rename(): %s", strerror(errno));
}

static int dns_log_reads(dns_server_t *d)
{
    char *log = lg_test_read_file(d->log, NULL);
    int n = log ? lg_log_count(log, lg_fmt("read %s ", d->hosts)) : 0;

    free(log);
    return n;
}

static void dns_dump_log(dns_server_t *d)
{
    char *log = lg_test_read_file(d->log, NULL);

    fprintf(stderr, "---- dnsmasq log %s\n%s----\n", d->log, log ? log : "(none)\n");
    free(log);
}

/* Start dnsmasq on `port`: 0 when it answers queries, -1 when it exited (port taken...). */
static int dns_spawn(dns_server_t *d, int port, int attempt)
{
    pid_t parent = getpid();
    char *log = lg_fmt("%s/dnsmasq-%d.log", d->dir, attempt);
    char **argv = lg_test_dnsmasq_argv(d->ip, port, d->hosts, d->local ? "--local=/test/" : NULL);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ok, st;
    pid_t pid;

    cr_assert_geq(fd, 0, "open(%s): %s", log, strerror(errno));
    pid = fork();
    cr_assert_geq(pid, 0, "fork(): %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd);
    d->pid = pid;
    d->port = port;
    d->log = log;
    /* up when it answers; gone when it exited */
    LG_WAIT_FOR(ok, dns_ask(d, "probe.test", 100, NULL) >= 0 || waitpid(pid, &st, WNOHANG) == pid,
                5000);
    if (ok && dns_ask(d, "probe.test", 200, NULL) >= 0) {
        d->reads = dns_log_reads(d);
        return 0;
    }
    if (waitpid(pid, &st, WNOHANG) == 0)
        kill(pid, SIGKILL), waitpid(pid, &st, 0);
    d->pid = -1;
    return -1;
}

/*
 * The loopback address of this test process's dnsmasq: 127.53.X.Y from the pid, an address that
 * no socket of anyone else uses. dnsmasq listens on TCP as well as UDP at address:port, and on
 * 127.0.0.1 the port of a killed dnsmasq may soon be the source port of a TCP connection (every
 * connect() on loopback takes an ephemeral port of 127.0.0.1, and the tests make thousands):
 * dnsmasq could not come back there (EADDRINUSE). connect() never picks a source address in
 * 127.53/16, and only another test process with the same low 16 bits of the pid binds there.
 */
static void dns_ip(dns_server_t *d)
{
    unsigned pid = (unsigned)getpid();

    snprintf(d->ip, sizeof(d->ip), "127.53.%u.%u", (pid >> 8) & 0xFF, pid & 0xFF);
}

/*
 * dnsmasq serving `records` ("127.0.0.1 app.test\n" lines; "" for none) on a free UDP port of
 * its own loopback address (dns_ip). local: answer NXDOMAIN/NODATA for names of .test it does not
 * know (else REFUSED, as dnsmasq does without upstream servers).
 */
static dns_server_t *dns_start_opt(const char *records, int local)
{
    dns_server_t *d = calloc(1, sizeof(*d));

    cr_assert_not_null(d);
    d->pid = -1;
    d->local = local;
    dns_ip(d);
    d->dir = lg_test_tmpdir();
    d->hosts = lg_fmt("%s/hosts", d->dir);
    dns_write_hosts(d, records);
    lg_test_keep(d, dns_free);
    for (int attempt = 0; attempt < DNS_START_TRIES; attempt++) {
        /* the port is free now; another test may take it before dnsmasq binds: then retry */
        int port = lg_test_free_port_on(SOCK_DGRAM, d->ip);

        if (port > 0 && dns_spawn(d, port, attempt) == 0)
            return d;
    }
    dns_dump_log(d);
    cr_assert_fail("dnsmasq did not start in %d attempts", DNS_START_TRIES);
    return NULL;
}

static dns_server_t *dns_start(const char *records)
{
    return dns_start_opt(records, 1);
}

/* Replace the records and make dnsmasq re-read them (SIGHUP); returns once it has. */
static void dns_set(dns_server_t *d, const char *records)
{
    int ok;

    dns_write_hosts(d, records);
    cr_assert_eq(kill(d->pid, SIGHUP), 0, "kill(dnsmasq): %s", strerror(errno));
    LG_WAIT_FOR(ok, dns_log_reads(d) > d->reads, 3000);
    if (!ok)
        dns_dump_log(d);
    cr_assert(ok, "dnsmasq did not re-read %s after SIGHUP", d->hosts);
    d->reads = dns_log_reads(d);
}

/*
 * Restart dnsmasq (killed before) on its old address and port, which nobody else binds (dns_ip);
 * a few tries all the same, against a socket bound to the wildcard address for a moment.
 */
static void dns_restart_same_port(dns_server_t *d, const char *records)
{
    dns_write_hosts(d, records);
    for (int attempt = 0; attempt < 5; attempt++) {
        if (dns_spawn(d, d->port, 100 + attempt) == 0)
            return;
        lg_sleep_ms(100);
    }
    dns_dump_log(d);
    cr_assert_fail("dnsmasq did not start again on %s:%d", d->ip, d->port);
}

/* ---- origins on several loopback addresses with the same port */

/*
 * Start lg-origin `names[i]` on ips[i]:P for the n entries (names[i] NULL: leave ips[i]:P free,
 * nobody listening there); the first must be 127.0.0.1 with a name. Returns P. The port is
 * chosen by the first origin (127.0.0.1:0); if it is taken on another address, start over.
 */
static int origins_start(size_t n, const char *const *ips, const char *const *names,
                         lg_proc_t **out)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        lg_proc_t *first = lg_origin_startf("--quiet --name %s", names[0]);
        int port = first->port, ok = 1;

        for (size_t i = 1; i < n && ok; i++)
            ok = tcp_port_free(ips[i], port);
        if (!ok) {
            lg_proc_stop(first);
            continue;
        }
        out[0] = first;
        for (size_t i = 1; i < n; i++) {
            out[i] = NULL;
            if (names[i] != NULL)
                out[i] = lg_origin_startf("--quiet --name %s --listen %s%s%s:%d", names[i],
                                          strchr(ips[i], ':') ? "[" : "", ips[i],
                                          strchr(ips[i], ':') ? "]" : "", port);
        }
        return port;
    }
    cr_assert_fail("no port free on every origin address");
    return -1;
}

/* ---- lifeguard */

/*
 * lg_yaml_single() whose pool `app` has the single backend app.test:port, re-resolved every
 * second through dnsmasq `d`; `check` is the pool's health_check. The caller may add more.
 */
static lg_yaml_t *dns_conf(dns_server_t *d, int workers, int port, const char *check)
{
    lg_yaml_t *conf = lg_yaml_single(port);

    lg_yaml_setf(conf, "workers", "%d", workers);
    lg_yaml_setf(conf, "resolver", "%s:%d", d->ip, d->port);
    lg_yaml_set(conf, "pools.app.resolve_interval", "1s");
    lg_yaml_set(conf, "pools.app.health_check", check);
    lg_yaml_set(conf, "pools.app.backends", NULL);
    lg_yaml_add(conf, "pools.app.backends", DNS_NAME ":%d", port);
    return conf;
}

static lg_proc_t *start_lifeguard(dns_server_t *d, int workers, int port, const char *check)
{
    return lg_yaml_start(dns_conf(d, workers, port, check));
}

#define NO_CHECK   "{type: none}"
#define HTTP_CHECK "{type: http, interval: 300ms, timeout: 200ms}"

/* ---- the client loop: every request counted, failures remembered */

typedef struct traffic {
    lg_proc_t *lg;
    int port;
    lg_client_t *ka; /* a keep-alive client connection, reopened when lifeguard closes it */
    long requests, failures, by_status[6];
    long retried; /* keep-alive connections closed before the request was answered, retried */
    long retries_allowed;
    char failed[600]; /* the first few failures, with their time of day (to read the log) */
    char last[16];    /* origin name of the last response, "" after a failure */
} traffic_t;

static traffic_t traffic_new(lg_proc_t *lg)
{
    traffic_t t;

    memset(&t, 0, sizeof(t));
    t.lg = lg;
    t.port = lg_proc_port(lg, "web");
    return t;
}

/* "HH:MM:SS.mmm" now, as lifeguard's log has it (local time). */
static void time_of_day(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    snprintf(buf, cap, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000);
}

/* 1 when `name` is one of the comma-separated `list`. */
static int name_in(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list;;) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        if (e == NULL)
            return 0;
        p = e + 1;
    }
}

/*
 * One request (alternately on a new connection and on the keep-alive connection); returns the
 * name of the origin that answered 200, or NULL (then counted as a failure unless it is the
 * `expect` status, e.g. 503 while the pool is empty).
 */
static const char *traffic_one(traffic_t *t, int expect)
{
    lg_http_response_t *r;
    int keepalive = t->requests % 2 == 1;

    if (keepalive && t->ka == NULL)
        t->ka = lg_client_connect(t->port);
    r = keepalive ? lg_client_request(t->ka, "GET", "/", NULL, NULL, 0)
                  : lg_http_get(t->port, "/", NULL);
    if (keepalive && r->status == 0 && (r->error == LG_HTTP_EOF || r->error == LG_HTTP_RESET) &&
        (r->head == NULL || r->head[0] == '\0')) {
        /* An idle keep-alive connection closed as the request went out (a worker draining on a
         * reload): nothing was answered, so a client retries on a new connection (RFC 9112 9.3.1).
         */
        t->retried++;
        lg_http_response_free(r);
        lg_client_close(t->ka);
        t->ka = lg_client_connect(t->port);
        r = lg_client_request(t->ka, "GET", "/", NULL, NULL, 0);
    }
    t->requests++;
    t->last[0] = '\0';
    if (r->error == LG_HTTP_OK && r->status >= 100 && r->status < 600)
        t->by_status[r->status / 100]++;
    if (r->error == LG_HTTP_OK && r->status == 200 && r->complete && r->body_len > 1 &&
        r->body_len < sizeof(t->last)) {
        memcpy(t->last, r->body, r->body_len - 1); /* "one\n" */
        t->last[r->body_len - 1] = '\0';
    } else if (!(r->error == LG_HTTP_OK && r->status == expect)) {
        if (t->failures++ < 4) {
            size_t used = strlen(t->failed);
            char now[32];

            time_of_day(now, sizeof(now));
            snprintf(t->failed + used, sizeof(t->failed) - used,
                     "\n  %s request %ld (%s): error %s, status %d", now, t->requests,
                     keepalive ? "keep-alive" : "new connection", lg_http_error_name(r->error),
                     r->status);
        }
    }
    if (keepalive && (r->error != LG_HTTP_OK || r->closed)) {
        lg_client_close(t->ka);
        t->ka = NULL;
    }
    lg_http_response_free(r);
    return t->last[0] ? t->last : NULL;
}

/* No failed request so far (nor a retried one, unless allowed); else the log too. */
static void traffic_assert_no_failure(const traffic_t *t)
{
    if (t->failures != 0 || t->retried > t->retries_allowed)
        lg_proc_dump_log(t->lg);
    cr_assert_eq(t->failures, 0, "%ld of %ld requests failed; the first:%s", t->failures,
                 t->requests, t->failed);
    cr_assert_leq(t->retried, t->retries_allowed,
                  "%ld keep-alive connections closed before their request was answered",
                  t->retried);
}

/*
 * Send requests until the last `window` answers are exactly the set `want` ("one,two": each of
 * them, alternating strictly when there are two; "two": only two) or timeout_ms passed. Returns
 * how long it took (ms), -1 on timeout. `seen` gets the names of the last window, for messages.
 */
static long traffic_until(traffic_t *t, const char *want, int window, int timeout_ms, char *seen,
                          size_t seen_cap)
{
    char ring[32][16];
    int have = 0;
    uint64_t start = lg_now_ms();

    cr_assert_leq(window, 32);
    while (lg_now_ms() - start < (uint64_t)timeout_ms) {
        const char *who = traffic_one(t, 200);
        int ok = 1;

        snprintf(ring[have % window], sizeof(ring[0]), "%s", who ? who : "(failed)");
        have++;
        if (have < window)
            continue;
        for (int i = 0; i < window && ok; i++) {
            const char *a = ring[(have - window + i) % window];

            ok = name_in(want, a);
            /* several names: consecutive answers differ (round robin) */
            if (ok && i > 0 && strchr(want, ',') != NULL)
                ok = strcmp(a, ring[(have - window + i - 1) % window]) != 0;
        }
        /* and every wanted name is there */
        for (const char *w = want; ok && *w != '\0';) {
            const char *end = strchr(w, ',');
            size_t len = end ? (size_t)(end - w) : strlen(w);
            int found = 0;

            for (int i = 0; i < window; i++)
                found |= strlen(ring[i]) == len && strncmp(ring[i], w, len) == 0;
            ok = found;
            w += len + (end != NULL);
        }
        if (ok)
            return (long)(lg_now_ms() - start);
    }
    seen[0] = '\0';
    for (int i = 0; i < window && i < have; i++) {
        size_t used = strlen(seen);

        snprintf(seen + used, seen_cap - used, "%s%s", i ? " " : "",
                 ring[(have - (have < window ? have : window) + i) % window]);
    }
    return -1;
}

/* Requests for duration_ms; every answer must come from one of `want` (comma-separated). */
static void traffic_only(traffic_t *t, const char *want, int duration_ms)
{
    uint64_t end = lg_now_ms() + (uint64_t)duration_ms;

    while (lg_now_ms() < end) {
        const char *who = traffic_one(t, 200);

        if (who != NULL)
            cr_assert(name_in(want, who), "answer from %s, expected only %s (request %ld)", who,
                      want, t->requests);
    }
}

#define ASSERT_FOLLOWS(t, want, window)                                                            \
    do {                                                                                           \
        char seen_[600];                                                                           \
        long took_ = traffic_until((t), (want), (window), FOLLOW_MS, seen_, sizeof(seen_));        \
        cr_assert_geq(took_, 0, "answers did not become {%s} within %d ms; last: %s", (want),      \
                      FOLLOW_MS, seen_);                                                           \
    } while (0)

/* The line of the error log (after byte `mark`) that contains `needle`, or NULL. */
static char *log_line(lg_proc_t *lg, size_t mark, const char *needle)
{
    char *log = lg_proc_log(lg), *hit, *start, *end;

    if (strlen(log) < mark || (hit = strstr(log + mark, needle)) == NULL)
        return NULL;
    for (start = hit; start > log && start[-1] != '\n'; start--) {
    }
    end = strchr(hit, '\n');
    return lg_fmt("%.*s", (int)(end ? end - start : (long)strlen(start)), start);
}

/* Wait for a warning containing `needle` after `mark`; fails the test without one. */
static void assert_warning(lg_proc_t *lg, size_t mark, const char *needle, int timeout_ms)
{
    char *line;

    cr_assert(lg_proc_wait_log(lg, mark, needle, timeout_ms), "no \"%s\" in the log:\n%s", needle,
              lg_proc_log(lg));
    line = log_line(lg, mark, needle);
    cr_assert(line != NULL && strstr(line, "[warn] ") != NULL, "not a warning: %s", line);
}

static void finish(lg_proc_t *lg, dns_server_t *d, const char *allowed)
{
    lg_lifeguard_finish(lg, allowed);
    dns_kill(d);
}

/* ---- tests */

/*
 * One record, then two, then only the second: the members follow within the bound, round robin
 * alternates between them, and not one request fails on the way.
 */
Test(dns, members_follow_the_records, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1", "127.0.0.2"}, *names[] = {"one", "two"};
    lg_proc_t *o[2];
    int port;
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;
    char *log;

    lg_test_skip_without_dnsmasq();
    port = origins_start(2, ips, names, o);
    d = dns_start("127.0.0.1 " DNS_NAME "\n");
    lg = start_lifeguard(d, 1, port, NO_CHECK);
    cr_assert(lg_proc_wait_log(
                  lg, 0, lg_fmt("pool app: " DNS_NAME ":%d resolves to 127.0.0.1:%d\n", port, port),
                  3000),
              "%s", lg_proc_log(lg));
    t = traffic_new(lg);
    ASSERT_FOLLOWS(&t, "one", 10);

    dns_set(d, "127.0.0.1 " DNS_NAME "\n127.0.0.2 " DNS_NAME "\n");
    ASSERT_FOLLOWS(&t, "one,two", 10);
    traffic_only(&t, "one,two", 500);
    cr_assert(lg_proc_wait_log(lg, 0,
                               lg_fmt("pool app: " DNS_NAME
                                      ":%d resolves to 127.0.0.1:%d, 127.0.0.2:%d\n",
                                      port, port, port),
                               1000),
              "%s", lg_proc_log(lg));

    dns_set(d, "127.0.0.2 " DNS_NAME "\n");
    ASSERT_FOLLOWS(&t, "two", 20);
    traffic_only(&t, "two", 1500); /* and it stays so over more lookups */
    traffic_assert_no_failure(&t);
    cr_assert_geq(t.requests, 50);

    log = lg_proc_log(lg);
    cr_assert_not_null(
        strstr(log, lg_fmt("pool app: " DNS_NAME ":%d resolves to 127.0.0.2:%d\n", port, port)),
        "%s", log);
    /* an unchanged answer logs nothing: one line per change */
    cr_assert_eq(lg_log_count(log, "resolves to"), 3, "%s", log);
    cr_assert_eq(lg_log_count(log, "cannot resolve"), 0, "%s", log);
    finish(lg, d, NULL);
}

/*
 * No record at start: lifeguard starts anyway, warns once, answers 503; the record appears and
 * the pool fills; the record goes away again and the pool empties.
 */
Test(dns, name_without_address_at_start, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1"}, *names[] = {"one"};
    lg_proc_t *o[1];
    int port, web, ok;
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;
    lg_http_response_t *r;
    size_t mark;
    char *log;

    lg_test_skip_without_dnsmasq();
    port = origins_start(1, ips, names, o);
    d = dns_start("");
    lg = start_lifeguard(d, 1, port, NO_CHECK);
    web = lg_proc_port(lg, "web");
    assert_warning(lg, 0,
                   lg_fmt("pool app: " DNS_NAME ":%d has no address: NXDOMAIN from %s:%d\n", port,
                          d->ip, d->port),
                   3000);
    r = lg_http_get(web, "/", NULL);
    lgt_assert_status(r, 503);

    /* more lookups with the same empty answer: 503 all along, and no new warning */
    t = traffic_new(lg);
    {
        uint64_t end = lg_now_ms() + 2500;

        while (lg_now_ms() < end) {
            cr_assert_null(traffic_one(&t, 503));
            lg_sleep_ms(20);
        }
    }
    traffic_assert_no_failure(&t);
    log = lg_proc_log(lg);
    cr_assert_eq(lg_log_count(log, "has no address"), 1, "%s", log);
    cr_assert_eq(lg_log_count(log, "cannot resolve"), 0, "%s", log);

    mark = lg_proc_log_mark(lg);
    dns_set(d, "127.0.0.1 " DNS_NAME "\n");
    LG_WAIT_FOR(ok, traffic_one(&t, 503) != NULL, FOLLOW_MS);
    cr_assert(ok, "no 200 within %d ms of the record; %s", FOLLOW_MS, lg_proc_log(lg));
    t.by_status[5] = 0;
    ASSERT_FOLLOWS(&t, "one", 20);
    cr_assert(lg_proc_wait_log(
                  lg, mark,
                  lg_fmt("pool app: " DNS_NAME ":%d resolves to 127.0.0.1:%d\n", port, port), 100),
              "%s", lg_proc_log(lg));
    cr_assert_eq(t.by_status[5], 0, "a 5xx after the pool filled");

    /* the record goes away: the member goes, 503 again, warned again */
    mark = lg_proc_log_mark(lg);
    dns_set(d, "");
    LG_WAIT_FOR(ok, traffic_one(&t, 503) == NULL && t.by_status[5] > 0, FOLLOW_MS);
    cr_assert(ok, "still answered within %d ms of the record's removal", FOLLOW_MS);
    cr_assert(
        lg_proc_wait_log(lg, mark, lg_fmt(DNS_NAME ":%d has no address: NXDOMAIN", port), 1000),
        "%s", lg_proc_log(lg));
    traffic_assert_no_failure(&t);
    finish(lg, d, "no backend of pool app is up");
}

/*
 * The resolver stops answering (SIGSTOP), then dies (SIGKILL): the members stay and serve, the log
 * says why; a resolver back on the same port updates the members again.
 */
Test(dns, resolver_down_keeps_addresses, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1", "127.0.0.2"}, *names[] = {"one", "two"};
    lg_proc_t *o[2];
    int port;
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;
    size_t mark;
    char *line;

    lg_test_skip_without_dnsmasq();
    port = origins_start(2, ips, names, o);
    d = dns_start("127.0.0.1 " DNS_NAME "\n127.0.0.2 " DNS_NAME "\n");
    lg = start_lifeguard(d, 1, port, NO_CHECK);
    cr_assert(lg_proc_wait_log(lg, 0, "resolves to", 3000), "%s", lg_proc_log(lg));
    t = traffic_new(lg);
    ASSERT_FOLLOWS(&t, "one,two", 10);

    /* no answer at all: the lookup times out (2 s) */
    mark = lg_proc_log_mark(lg);
    cr_assert_eq(kill(d->pid, SIGSTOP), 0);
    {
        uint64_t end = lg_now_ms() + 5000;
        char *needle = lg_fmt("pool app: cannot resolve " DNS_NAME
                              ":%d: timed out waiting for %s:%d (addresses kept)\n",
                              port, d->ip, d->port);

        while (lg_now_ms() < end && !lg_proc_wait_log(lg, mark, needle, 0))
            traffic_only(&t, "one,two", 100);
        assert_warning(lg, mark, needle, 0);
    }
    ASSERT_FOLLOWS(&t, "one,two", 10);
    traffic_only(&t, "one,two", 1500);

    /* gone: the port refuses (ICMP), or times out; either way the addresses are kept */
    dns_kill(d);
    mark = lg_proc_log_mark(lg);
    {
        uint64_t end = lg_now_ms() + 4000;
        char *needle = lg_fmt("pool app: cannot resolve " DNS_NAME ":%d: ", port);

        while (lg_now_ms() < end && !lg_proc_wait_log(lg, mark, needle, 0))
            traffic_only(&t, "one,two", 100);
        assert_warning(lg, mark, needle, 0);
        line = log_line(lg, mark, needle);
        cr_assert_not_null(strstr(line, " (addresses kept)"), "%s", line);
    }
    ASSERT_FOLLOWS(&t, "one,two", 10);
    traffic_only(&t, "one,two", 1500);
    traffic_assert_no_failure(&t);
    cr_assert_eq(lg_log_count(lg_proc_log(lg), "resolves to"), 1, "%s", lg_proc_log(lg));

    /* back, with one record less: lookups resume and the members follow */
    dns_restart_same_port(d, "127.0.0.2 " DNS_NAME "\n");
    ASSERT_FOLLOWS(&t, "two", 20);
    traffic_only(&t, "two", 1000);
    traffic_assert_no_failure(&t);
    finish(lg, d, NULL);
}

/*
 * With health checks: a new address whose origin does not run is never up and never gets a
 * request; once its origin starts, it is checked up and shares the traffic.
 */
Test(dns, new_address_is_checked_before_traffic, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1", "127.0.0.2"}, *names[] = {"one", NULL};
    lg_proc_t *o[2];
    int port, ok;
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;
    char *log, *up2;

    lg_test_skip_without_dnsmasq();
    port = origins_start(2, ips, names, o);
    d = dns_start("127.0.0.1 " DNS_NAME "\n");
    lg = start_lifeguard(d, 1, port, HTTP_CHECK);
    cr_assert(
        lg_proc_wait_log(
            lg, 0, lg_fmt("backend app/" DNS_NAME ":%d (127.0.0.1:%d) is up", port, port), 3000),
        "%s", lg_proc_log(lg));
    t = traffic_new(lg);
    LG_WAIT_FOR(ok, traffic_one(&t, 503) != NULL, 2000);
    cr_assert(ok);
    t.by_status[5] = 0;

    dns_set(d, "127.0.0.1 " DNS_NAME "\n127.0.0.2 " DNS_NAME "\n");
    cr_assert(lg_proc_wait_log(
                  lg, 0, lg_fmt("resolves to 127.0.0.1:%d, 127.0.0.2:%d\n", port, port), 2500),
              "%s", lg_proc_log(lg));
    /* several checks of 127.0.0.2 fail meanwhile; every request goes to one */
    traffic_only(&t, "one", 3000);
    traffic_assert_no_failure(&t);
    cr_assert_eq(t.by_status[5], 0);
    log = lg_proc_log(lg);
    up2 = lg_fmt("(127.0.0.2:%d) is up", port);
    cr_assert_null(strstr(log, up2), "%s", log);
    cr_assert_gt(lg_log_count(log, lg_fmt("(127.0.0.2:%d)", port)), 0,
                 "no check of the new address logged: %s", log);

    /* its origin starts: checked up, then it shares the traffic */
    o[1] = lg_origin_startf("--quiet --name two --listen 127.0.0.2:%d", port);
    cr_assert(lg_proc_wait_log(lg, 0, up2, 3000), "%s", lg_proc_log(lg));
    ASSERT_FOLLOWS(&t, "one,two", 10);
    traffic_assert_no_failure(&t);
    cr_assert_eq(t.by_status[5], 0);
    finish(lg, d, NULL);
}

/*
 * The address changes (one record replaced by another): the new address reuses the freed member
 * slot. With two workers and warm keep-alive connections to the old address, no request may reach
 * the old origin once the change is logged (idle connections of the slot belong to the old
 * address).
 */
Test(dns, replaced_address_gets_no_more_traffic, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1", "127.0.0.2"}, *names[] = {"one", "two"};
    lg_proc_t *o[2];
    int port, web;
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;
    lg_client_t *c[6];
    lg_origin_stats_t st;
    size_t mark;

    lg_test_skip_without_dnsmasq();
    port = origins_start(2, ips, names, o);
    d = dns_start("127.0.0.1 " DNS_NAME "\n");
    lg = start_lifeguard(d, 2, port, NO_CHECK);
    web = lg_proc_port(lg, "web");
    cr_assert(lg_proc_wait_log(lg, 0, "resolves to", 3000), "%s", lg_proc_log(lg));
    t = traffic_new(lg);
    ASSERT_FOLLOWS(&t, "one", 10);
    /* concurrent requests, so that each worker keeps several idle connections to one */
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < 6; i++) {
            c[i] = lg_client_connect(web);
            cr_assert_not_null(c[i]);
            cr_assert_eq(lg_client_sendf(c[i], "GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        }
        for (size_t i = 0; i < 6; i++) {
            lg_http_response_t *r = lg_client_read(c[i], 0);

            lgt_assert_status(r, 200);
            cr_assert_str_eq(r->body, "one\n");
            lg_client_close(c[i]);
        }
    }

    cr_assert_eq(lg_origin_stats(port, &st), 0);
    cr_assert_geq(st.active, 2, "no idle connections from lifeguard to one");
    /* requests in flight at one when its address goes away */
    for (size_t i = 0; i < 2; i++) {
        c[i] = lg_client_connect(web);
        cr_assert_eq(lg_client_sendf(c[i], "GET /delay/2500 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    }

    mark = lg_proc_log_mark(lg);
    dns_set(d, "127.0.0.2 " DNS_NAME "\n");
    {
        uint64_t end = lg_now_ms() + FOLLOW_MS;
        char *needle = lg_fmt("resolves to 127.0.0.2:%d\n", port);

        while (lg_now_ms() < end && !lg_proc_wait_log(lg, mark, needle, 0))
            traffic_only(&t, "one,two", 50);
        cr_assert(lg_proc_wait_log(lg, mark, needle, 0), "%s", lg_proc_log(lg));
    }
    lg_sleep_ms(100); /* requests that had picked the old address are done */
    traffic_only(&t, "two", 2000);
    cr_assert_geq(t.requests, 50);
    traffic_assert_no_failure(&t);
    /* the requests in flight at one when its address went away complete there */
    for (size_t i = 0; i < 2; i++) {
        lg_http_response_t *r = lg_client_read(c[i], 0);

        lgt_assert_status(r, 200);
        cr_assert_str_eq(r->body, "one\n");
    }
    finish(lg, d, NULL);
}

/* A and AAAA records of one name: an IPv4 and an IPv6 member. */
Test(dns, a_and_aaaa_records, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1", "::1"}, *names[] = {"one", "six"};
    lg_proc_t *o[2];
    int port;
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;
    char *log;

    lg_test_skip_without_dnsmasq();
    if (!tcp_port_free("::1", 0))
        cr_skip_test("no IPv6 loopback");
    port = origins_start(2, ips, names, o);
    d = dns_start("127.0.0.1 " DNS_NAME "\n::1 " DNS_NAME "\n");
    lg = start_lifeguard(d, 1, port, HTTP_CHECK);
    cr_assert(lg_proc_wait_log(lg, 0, lg_fmt("(127.0.0.1:%d) is up", port), 3000), "%s",
              lg_proc_log(lg));
    cr_assert(lg_proc_wait_log(lg, 0, lg_fmt("([::1]:%d) is up", port), 3000), "%s",
              lg_proc_log(lg));
    t = traffic_new(lg);
    ASSERT_FOLLOWS(&t, "one,six", 10);
    traffic_assert_no_failure(&t);
    log = lg_proc_log(lg);
    cr_assert(strstr(log, lg_fmt("resolves to 127.0.0.1:%d, [::1]:%d\n", port, port)) != NULL ||
                  strstr(log, lg_fmt("resolves to [::1]:%d, 127.0.0.1:%d\n", port, port)) != NULL,
              "%s", log);
    finish(lg, d, NULL);
}

/* Ten records: eight members (the limit), each of them serving. */
Test(dns, at_most_eight_members, .timeout = 60)
{
    const char *ips[10], *names[10];
    lg_proc_t *o[10];
    char *records = "", *log, *line;
    int port, distinct = 0;
    int hits[10] = {0};
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;

    lg_test_skip_without_dnsmasq();
    for (int i = 0; i < 10; i++) {
        ips[i] = lg_fmt("127.0.0.%d", i + 1);
        names[i] = lg_fmt("o%d", i + 1);
        records = lg_fmt("%s%s " DNS_NAME "\n", records, ips[i]);
    }
    port = origins_start(10, ips, names, o);
    d = dns_start(records);
    lg = start_lifeguard(d, 1, port, NO_CHECK);
    cr_assert(lg_proc_wait_log(lg, 0, "resolves to", 3000), "%s", lg_proc_log(lg));
    log = lg_proc_log(lg);
    line = strstr(log, "resolves to");
    {
        int commas = 0;

        for (const char *p = line; *p != '\0' && *p != '\n'; p++)
            commas += *p == ',';
        cr_assert_eq(commas, 7, "not 8 addresses: %.300s", line);
    }
    t = traffic_new(lg);
    for (int i = 0; i < 80; i++) {
        const char *who = traffic_one(&t, 200);

        if (who != NULL)
            hits[atoi(who + 1) - 1]++;
    }
    traffic_assert_no_failure(&t);
    for (int i = 0; i < 10; i++) {
        distinct += hits[i] > 0;
        /* a member in the log line serves; one not in it does not */
        cr_assert_eq(hits[i] > 0, strstr(line, lg_fmt(" %s:%d", ips[i], port)) != NULL,
                     "o%d: %d answers; %.300s", i + 1, hits[i], line);
    }
    cr_assert_eq(distinct, 8);
    finish(lg, d, NULL);
}

/*
 * A resolver that answers REFUSED (dnsmasq without upstream servers does, for names it does not
 * know and for AAAA of names it knows only A records of): lifeguard starts, answers 503, warns,
 * and fills the pool from the A answer once there is one (the refused AAAA does not spoil it).
 */
Test(dns, refusing_resolver, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1"}, *names[] = {"one"};
    lg_proc_t *o[1];
    int port, web;
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;
    int an = -1;

    lg_test_skip_without_dnsmasq();
    port = origins_start(1, ips, names, o);
    d = dns_start_opt("", 0);
    cr_assert_eq(dns_ask(d, DNS_NAME, 1000, &an), 5, "this dnsmasq does not refuse");
    lg = start_lifeguard(d, 1, port, NO_CHECK);
    web = lg_proc_port(lg, "web");
    /* the reason and the resolver; no "addresses kept": there were none */
    assert_warning(lg, 0,
                   lg_fmt("pool app: cannot resolve " DNS_NAME ":%d: REFUSED from %s:%d\n", port,
                          d->ip, d->port),
                   3000);
    lgt_assert_status(lg_http_get(web, "/", NULL), 503);

    dns_set(d, "127.0.0.1 " DNS_NAME "\n");
    t = traffic_new(lg);
    {
        int ok;

        LG_WAIT_FOR(ok, traffic_one(&t, 503) != NULL, FOLLOW_MS);
        cr_assert(ok, "%s", lg_proc_log(lg));
    }
    t.by_status[5] = 0;
    ASSERT_FOLLOWS(&t, "one", 20);
    traffic_only(&t, "one", 1500);
    traffic_assert_no_failure(&t);
    cr_assert_eq(t.by_status[5], 0);
    finish(lg, d, "no backend of pool app is up");
}

/*
 * The record of a checked address is replaced by one whose origin does not run, and the lookup
 * that brings the change is answered while a check of the OLD address is in flight: the new
 * address takes the freed member slot, and the old address's check result must not count for it.
 * The new address must never be up nor get a request: 503 (no backend up), never a 502.
 *
 * The timing is made certain: checks of `one` take 250 ms (path /delay/250); dnsmasq re-reads the
 * new records and is stopped (SIGSTOP) so that lifeguard's next query waits in its socket; once a
 * check is open at `one` (its /stats says active 1; keep-alive to backends is off, so that is the
 * check) dnsmasq is continued and answers at once.
 */
Test(dns, replaced_address_is_checked_before_traffic, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1", "127.0.0.2"}, *names[] = {"one", NULL};
    lg_proc_t *o[2];
    int port, ok, hits = 0;
    dns_server_t *d;
    lg_yaml_t *conf;
    lg_proc_t *lg;
    traffic_t t;
    char *up1, *up2, *to2;

    lg_test_skip_without_dnsmasq();
    port = origins_start(2, ips, names, o);
    d = dns_start("127.0.0.1 " DNS_NAME "\n");
    conf = dns_conf(d, 1, port,
                    "{type: http, path: /delay/250, interval: 300ms, timeout: 300ms, rise: 1}");
    lg_yaml_set(conf, "pools.app.keepalive.max_idle", "0");
    lg = lg_yaml_start(conf);
    up1 = lg_fmt("(127.0.0.1:%d) is up", port);
    up2 = lg_fmt("(127.0.0.2:%d) is up", port);
    to2 = lg_fmt("resolves to 127.0.0.2:%d\n", port);
    t = traffic_new(lg);
    for (int round = 0; round < 3; round++) {
        size_t mark = lg_proc_log_mark(lg);
        lg_origin_stats_t st;
        uint64_t end;
        int held = 0;

        cr_assert(lg_proc_wait_log(lg, 0, up1, 3000), "%s", lg_proc_log(lg));
        LG_WAIT_FOR(ok, traffic_one(&t, 503) != NULL, 3000);
        cr_assert(ok, "one never answered (round %d)", round);
        traffic_assert_no_failure(&t);

        /* the next answer says 127.0.0.2, but only when we let dnsmasq go on */
        dns_set(d, "127.0.0.2 " DNS_NAME "\n");
        cr_assert_eq(kill(d->pid, SIGSTOP), 0);
        if (lg_proc_wait_log(lg, mark, to2, 0)) {
            /* tolerated (hits counts the rounds that made it); a warning would exit 1 */
            cr_log_info("round %d: a lookup came between the re-read and SIGSTOP", round);
            kill(d->pid, SIGCONT);
        } else {
            /* a lookup is sent within resolve_interval and waits (its timeout is 2 s) */
            lg_sleep_ms(1150);
            LG_WAIT_FOR(ok, lg_origin_stats(port, &st) == 0 && st.active >= 1, 700);
            cr_assert_eq(kill(d->pid, SIGCONT), 0);
            cr_assert(ok, "no check of one in flight within 700 ms");
            held = 1;
            hits++;
        }
        cr_assert(lg_proc_wait_log(lg, mark, to2, 2500), "%s", lg_proc_log(lg));
        /* the swap came from the held lookup, not from one sent after it timed out */
        cr_assert(!held || !lg_proc_wait_log(lg, mark, "timed out waiting for", 0),
                  "round %d: the stopped lookup timed out:\n%s", round, lg_proc_log(lg));

        /* the check of one ends (ok) while the slot holds 127.0.0.2, nobody listening there */
        t.by_status[5] = 0;
        end = lg_now_ms() + 700;
        while (lg_now_ms() < end) {
            const char *who = traffic_one(&t, 503);

            cr_assert_null(who, "round %d: %s answered after its address was replaced", round, who);
        }
        if (strstr(lg_proc_log(lg), up2) != NULL) {
            lg_proc_dump_log(lg);
            cr_assert_fail("round %d: 127.0.0.2, where nothing listens, was marked up (by the "
                           "check of the address the member had before) and got %ld requests "
                           "that failed",
                           round, t.failures);
        }
        traffic_assert_no_failure(&t);

        mark = lg_proc_log_mark(lg);
        dns_set(d, "127.0.0.1 " DNS_NAME "\n");
        cr_assert(lg_proc_wait_log(lg, mark, lg_fmt("resolves to 127.0.0.1:%d\n", port), 2500),
                  "%s", lg_proc_log(lg));
        cr_assert(lg_proc_wait_log(lg, mark, up1, 3000), "%s", lg_proc_log(lg));
    }
    cr_assert_gt(hits, 0, "the swap never landed during a check");
    finish(lg, d, "no backend of pool app is up");
}

/*
 * A reload (SIGHUP) with host-name backends: the members and their health carry over (no
 * request fails, nothing is resolved "again" in the log), and the new generation's lookups go on
 * following the records.
 */
Test(dns, reload_keeps_members, .timeout = 60)
{
    const char *ips[] = {"127.0.0.1", "127.0.0.2"}, *names[] = {"one", "two"};
    lg_proc_t *o[2];
    int port;
    dns_server_t *d;
    lg_proc_t *lg;
    traffic_t t;
    size_t mark;
    char *log;

    lg_test_skip_without_dnsmasq();
    port = origins_start(2, ips, names, o);
    d = dns_start("127.0.0.1 " DNS_NAME "\n127.0.0.2 " DNS_NAME "\n");
    lg = start_lifeguard(d, 1, port, HTTP_CHECK);
    /* the generation does not wait for DNS members: they serve once resolved and checked */
    cr_assert(lg_proc_wait_log(lg, 0, lg_fmt("(127.0.0.1:%d) is up", port), 3000), "%s",
              lg_proc_log(lg));
    cr_assert(lg_proc_wait_log(lg, 0, lg_fmt("(127.0.0.2:%d) is up", port), 3000), "%s",
              lg_proc_log(lg));
    t = traffic_new(lg);
    ASSERT_FOLLOWS(&t, "one,two", 10);
    traffic_assert_no_failure(&t);

    mark = lg_proc_log_mark(lg);
    t.retries_allowed = 1; /* the old worker closes the idle keep-alive connection */
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    {
        uint64_t end = lg_now_ms() + 5000;

        while (lg_now_ms() < end && !lg_proc_wait_log(lg, mark, "reloaded: generation 2", 0))
            traffic_only(&t, "one,two", 50);
        cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2", 0), "%s", lg_proc_log(lg));
    }
    traffic_only(&t, "one,two", 1500);
    traffic_assert_no_failure(&t);
    log = lg_proc_log(lg);
    cr_assert_eq(lg_log_count(log, "resolves to"), 1, "%s", log);
    cr_assert_eq(lg_log_count(log, "is up"), 2, "%s", log);

    dns_set(d, "127.0.0.2 " DNS_NAME "\n");
    ASSERT_FOLLOWS(&t, "two", 20);
    traffic_only(&t, "two", 1000);
    traffic_assert_no_failure(&t);
    finish(lg, d, NULL);
}

/*
 * `lifeguard -t` with the backends of `backends` (list items, indented by 6) and dnsmasq `d`.
 * Written out, not built: the tests check the line and column of each backend in the file.
 */
static int check_config(dns_server_t *d, const char *backends, char **out)
{
    return lg_lifeguard_run(lg_fmt("workers: 1\n"
                                   "log: {level: info, error: stderr, access: off}\n"
                                   "resolver: %s:%d\n"
                                   "listeners:\n"
                                   "  web:\n"
                                   "    listen: 127.0.0.1:0\n"
                                   "    routes:\n"
                                   "      - pool: app\n"
                                   "pools:\n"
                                   "  app:\n"
                                   "    backends:\n"
                                   "%s",
                                   d->ip, d->port, backends),
                            "-t", out);
}

/*
 * `-t` resolves every backend name once through the configured resolver: a typo is a warning
 * that points at the name in the file and says what the resolver answered; names that resolve
 * (by DNS or /etc/hosts) say nothing; the file is still valid (exit 0).
 */
Test(dns, check_warns_about_names_that_do_not_resolve, .timeout = 60)
{
    dns_server_t *d;
    char *out;
    int rc;

    lg_test_skip_without_dnsmasq();
    d = dns_start("127.0.0.1 " DNS_NAME "\n");
    rc = check_config(d,
                      "      - " DNS_NAME ":80\n"
                      "      - nosuchhost.test:80\n"
                      "      - localhost:80\n"
                      "      - {address: \"other.test:81\", weight: 2}\n",
                      &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_not_null(
        strstr(out, lg_fmt("/lifeguard.yaml:13:9: warning: \"nosuchhost.test\" does not resolve "
                           "(NXDOMAIN from %s:%d)\n",
                           d->ip, d->port)),
        "%s", out);
    cr_assert_not_null(
        strstr(out, lg_fmt("/lifeguard.yaml:15:19: warning: \"other.test\" does not resolve "
                           "(NXDOMAIN from %s:%d)\n",
                           d->ip, d->port)),
        "%s", out);
    cr_assert_eq(lg_log_count(out, "warning:"), 2, "%s", out);
    cr_assert_lt(strstr(out, "nosuchhost.test"), strstr(out, "other.test"), "not in file order");
    cr_assert_not_null(strstr(out, "configuration ok: 1 listeners, 1 pools, 4 backends\n"), "%s",
                       out);
    dns_kill(d);
}

/* A resolver that does not answer: `-t` says so after the lookup timeout, and still exits 0. */
Test(dns, check_with_a_silent_resolver, .timeout = 60)
{
    dns_server_t *d;
    char *out;
    int rc;

    lg_test_skip_without_dnsmasq();
    d = dns_start("127.0.0.1 " DNS_NAME "\n");
    cr_assert_eq(kill(d->pid, SIGSTOP), 0);
    rc = check_config(d, "      - " DNS_NAME ":80\n", &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_not_null(
        strstr(out, lg_fmt("/lifeguard.yaml:12:9: warning: \"" DNS_NAME "\" does not resolve "
                           "(timed out waiting for %s:%d)\n",
                           d->ip, d->port)),
        "%s", out);
    cr_assert_not_null(strstr(out, "configuration ok:"), "%s", out);
    dns_kill(d);
}
