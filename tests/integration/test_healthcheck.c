/*
 * test_healthcheck.c - `lifeguard healthcheck -c FILE`, the container's HEALTHCHECK: it finds
 * the admin listener in the file (a wildcard address reached on the loopback), exits 0 while a
 * running lifeguard answers /healthz with 200 and 1 once it is stopped, and says in one line why
 * it is unhealthy: the status, a refused connect, a timeout, an answer that is not HTTP, a file
 * without an admin listener or with errors.
 *
 * The running lifeguard listens on an ephemeral admin port; the file given to the health check
 * is a second one naming that port, as a user's file names a fixed one.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_test.h"
#include "proxy_common.h"

/* A valid file with admin.listen `admin` (NULL for none); nothing listens on its backend. */
static char *hc_config(const char *admin)
{
    lg_yaml_t *conf = lg_yaml_single(9);

    if (admin != NULL)
        lg_yaml_set(conf, "admin.listen", admin);
    return lg_yaml_text(conf);
}

/* `lifeguard healthcheck -c FILE` on `yaml`: its exit status, its output in *out. */
static int hc_run(const char *yaml, char **out)
{
    return lg_lifeguard_run(yaml, "healthcheck", out);
}

/* The output is one line, whatever the outcome. */
static void hc_assert_one_line(const char *out)
{
    size_t len = strlen(out);

    cr_assert(len > 0 && out[len - 1] == '\n' && strchr(out, '\n') == out + len - 1,
              "not one line: \"%s\"", out);
}

/* ---- against the real lifeguard, on each kind of admin address */

typedef struct hc_addr_case {
    const char *listen;   /* admin.listen host of both files */
    const char *loopback; /* where the check connects */
} hc_addr_case_t;

static const hc_addr_case_t hc_addr_cases[] = {
    {"127.0.0.1", "127.0.0.1"},
    {"0.0.0.0", "127.0.0.1"},
    {"[::1]", "[::1]"},
    {"[::]", "[::1]"},
};

static void hc_check_admin_listen(const hc_addr_case_t *c)
{
    lg_proc_t *p = lg_lifeguard_start(hc_config(lg_fmt("\"%s:0\"", c->listen)));
    int port = lg_proc_admin_port(p);
    const char *yaml = hc_config(lg_fmt("\"%s:%d\"", c->listen, port));
    char *out;

    cr_assert_eq(hc_run(yaml, &out), 0, "admin on %s:%d, running: %s", c->listen, port, out);
    cr_assert_str_eq(out, "healthy\n");

    cr_assert_eq(lg_proc_stop(p), 0);
    cr_assert_eq(hc_run(yaml, &out), 1, "admin on %s:%d, stopped: %s", c->listen, port, out);
    cr_assert_str_eq(out, lg_fmt("unhealthy: connect() to %s:%d failed (111: Connection refused)\n",
                                 c->loopback, port));
    cr_assert_eq(lg_log_has_unexpected_errors(lg_proc_log(p), NULL), 0);
}

Test(healthcheck, follows_admin_listen)
{
    for (size_t i = 0; i < sizeof(hc_addr_cases) / sizeof(hc_addr_cases[0]); i++)
        hc_check_admin_listen(&hc_addr_cases[i]);
}

/* ---- against a fake admin listener that answers what each case says */

typedef struct hc_fake {
    int fd;           /* listening on 127.0.0.1:0 */
    const char *body; /* what to answer; NULL: nothing, wait until the client closes */
    char request[1024];
    pthread_t thread;
} hc_fake_t;

/* Accept one connection, read the request head, answer `body` (then close) or stay silent. */
static void *hc_fake_serve(void *arg)
{
    hc_fake_t *f = arg;
    struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
    struct timeval tv = {.tv_sec = lg_test_timeout_ms() / 1000};
    size_t have = 0;
    ssize_t n;
    int c;

    if (poll(&pfd, 1, lg_test_timeout_ms()) != 1 || (c = accept(f->fd, NULL, NULL)) < 0)
        return NULL;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (have < sizeof(f->request) - 1 && strstr(f->request, "\r\n\r\n") == NULL) {
        n = recv(c, f->request + have, sizeof(f->request) - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    if (f->body != NULL)
        send(c, f->body, strlen(f->body), MSG_NOSIGNAL);
    else
        while (recv(c, f->request + have, sizeof(f->request) - 1 - have, 0) > 0)
            ; /* until the health check gives up and closes */
    close(c);
    return NULL;
}

static int hc_fake_start(hc_fake_t *f, const char *body)
{
    int port;

    memset(f, 0, sizeof(*f));
    f->body = body;
    f->fd = lg_test_listen(4, &port);
    cr_assert(f->fd >= 0);
    cr_assert_eq(pthread_create(&f->thread, NULL, hc_fake_serve, f), 0);
    return port;
}

static void hc_fake_stop(hc_fake_t *f)
{
    pthread_join(f->thread, NULL);
    close(f->fd);
}

typedef struct hc_answer_case {
    const char *body; /* NULL: no answer at all */
    int status;
    const char *line; /* the output, "%d" standing for the port */
} hc_answer_case_t;

static const hc_answer_case_t hc_answer_cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", 0, "healthy\n"},
    {"HTTP/1.1 200\r\n\r\n", 0, "healthy\n"},
    {"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 1,
     "unhealthy: /healthz answered 503\n"},
    {"HTTP/1.0 204 No Content\r\n\r\n", 1, "unhealthy: /healthz answered 204\n"},
    {"HTTP/1.1 404 Not Found\r\n\r\n", 1, "unhealthy: /healthz answered 404\n"},
    {"SSH-2.0-OpenSSH_9.2\r\n", 1,
     "unhealthy: 127.0.0.1:%d answered something that is not an HTTP/1.x status line\n"},
    {"HTTP/1.1 2000 OK\r\n\r\n", 1,
     "unhealthy: 127.0.0.1:%d answered something that is not an HTTP/1.x status line\n"},
    {"HTTP/1.1 20", 1,
     "unhealthy: 127.0.0.1:%d closed the connection in the middle of the status line\n"},
    {"", 1, "unhealthy: 127.0.0.1:%d closed the connection without answering\n"},
    {NULL, 1, "unhealthy: no answer from 127.0.0.1:%d within 3000 ms\n"},
};

static void hc_check_answer(const hc_answer_case_t *c)
{
    hc_fake_t f;
    int port = hc_fake_start(&f, c->body);
    char *out;
    int rc = hc_run(hc_config(lg_fmt("127.0.0.1:%d", port)), &out);

    hc_fake_stop(&f);
    cr_assert_eq(rc, c->status, "answer \"%s\": exit %d, %s", c->body, rc, out);
    cr_assert_str_eq(out, lg_fmt(c->line, port));
    cr_assert(strncmp(f.request, "GET /healthz HTTP/1.1\r\n", 23) == 0, "request: %s", f.request);
    cr_assert(strstr(f.request, lg_fmt("\r\nHost: 127.0.0.1:%d\r\n", port)) != NULL, "request: %s",
              f.request);
}

Test(healthcheck, says_why)
{
    for (size_t i = 0; i < sizeof(hc_answer_cases) / sizeof(hc_answer_cases[0]); i++)
        hc_check_answer(&hc_answer_cases[i]);
}

/* ---- files with nothing to check */

typedef struct hc_file_case {
    const char *raw;   /* the whole file, or NULL: */
    const char *admin; /* hc_config() with this admin.listen (NULL: none) */
    const char *starts;
    const char *contains;
} hc_file_case_t;

static const hc_file_case_t hc_file_cases[] = {
    {NULL, NULL, "no admin listener in /",
     "/lifeguard.yaml: set admin.listen to enable the health check\n"},
    {NULL, "127.0.0.1:0", "unhealthy: admin.listen in /",
     "/lifeguard.yaml is port 0 (chosen at each start): set a fixed port"},
    {"listeners: [\n", NULL, "unhealthy: /", "/lifeguard.yaml:2:1: error: "},
};

Test(healthcheck, file_without_a_check)
{
    for (size_t i = 0; i < sizeof(hc_file_cases) / sizeof(hc_file_cases[0]); i++) {
        const hc_file_case_t *c = &hc_file_cases[i];
        const char *yaml = c->raw != NULL ? c->raw : hc_config(c->admin);
        char *out;

        cr_assert_eq(hc_run(yaml, &out), 1, "%s", out);
        hc_assert_one_line(out);
        cr_assert(strncmp(out, c->starts, strlen(c->starts)) == 0, "output: %s", out);
        cr_assert(strstr(out, c->contains) != NULL, "output: %s", out);
    }
}

/* A file with several errors names the first and counts the others. */
Test(healthcheck, counts_the_other_errors)
{
    char *out;

    cr_assert_eq(hc_run("workerz: 1\nlogz: {}\nlisteners: {}\npools: {}\n", &out), 1);
    hc_assert_one_line(out);
    cr_assert(strstr(out, "/lifeguard.yaml:1:1: error: ") != NULL, "output: %s", out);
    cr_assert(strstr(out, " more: lifeguard -t -c /") != NULL, "output: %s", out);
}
