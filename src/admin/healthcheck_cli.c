/*
 * healthcheck_cli.c - `lifeguard healthcheck [-c FILE]`, the container's HEALTHCHECK.
 *
 * It reads the same file the master runs with, so the check follows admin.listen wherever the
 * user moves it. One request, one connection, nothing else: a non-blocking connect and poll()
 * under one deadline for the whole exchange, then only the status line is read (a liveness
 * check needs no body). Every outcome is one line, because Docker keeps the output of the last
 * checks in `docker inspect` and that line is what an operator reads there.
 */
#include "admin/healthcheck_cli.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "core/lg.h"
#include "core/net.h"
#include "event/loop.h"

/* Room for a status line; an answer that has no CRLF within it is not HTTP. */
#define HC_LINE_MAX 256
/* "HTTP/1.1 200" */
#define HC_STATUS_LINE_MIN 12

typedef struct hc {
    struct sockaddr_storage sa;
    socklen_t salen;
    char text[LG_ADDR_STRLEN]; /* "127.0.0.1:9901": messages and the Host header */
    lg_msec_t deadline;        /* of the whole exchange */
    int fd;
} hc_t;

/* Print "unhealthy: MESSAGE" on stderr; returns LG_ERR for the caller to pass up. */
static int unhealthy(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int unhealthy(const char *fmt, ...)
{
    va_list ap;

    fputs("unhealthy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return LG_ERR;
}

static int failed(const hc_t *hc, const char *call, const char *dir, int err)
{
    return unhealthy("%s %s %s failed (%d: %s)", call, dir, hc->text, err, strerror(err));
}

/* Where to connect: admin.listen, with a wildcard address replaced by the loopback. */
static void hc_target(hc_t *hc, const lg_addr_t *addr)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&hc->sa;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&hc->sa;

    memcpy(&hc->sa, &addr->sa, sizeof(hc->sa));
    hc->salen = addr->salen;
    if (hc->sa.ss_family == AF_INET && sin->sin_addr.s_addr == htonl(INADDR_ANY))
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (hc->sa.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
        sin6->sin6_addr = in6addr_loopback;
    lg_net_addr_text((const struct sockaddr *)&hc->sa, hc->text, sizeof(hc->text));
}

/*
 * Wait for `events` until the deadline: LG_OK when ready, else LG_ERR after printing why
 * ("WHAT 127.0.0.1:9901 within 3000 ms" when the time is up).
 */
static int hc_wait(hc_t *hc, short events, const char *what)
{
    struct pollfd pfd = {.fd = hc->fd, .events = events};
    lg_msec_t now;
    int n;

    for (;;) {
        now = lg_clock_ms();
        if (now >= hc->deadline)
            return unhealthy("%s %s within %d ms", what, hc->text, LG_HEALTHCHECK_TIMEOUT_MS);
        n = poll(&pfd, 1, (int)(hc->deadline - now));
        if (n > 0)
            return LG_OK;
        if (n < 0 && errno != EINTR)
            return unhealthy("poll() on %s failed (%d: %s)", hc->text, errno, strerror(errno));
    }
}

static int hc_connect(hc_t *hc)
{
    int err = 0;
    socklen_t len = sizeof(err);

    hc->fd = socket(hc->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (hc->fd < 0)
        return failed(hc, "socket()", "for", errno);
    if (connect(hc->fd, (const struct sockaddr *)&hc->sa, hc->salen) == 0)
        return LG_OK;
    /* interrupted, a non-blocking connect goes on as if in progress */
    if (errno != EINPROGRESS && errno != EINTR)
        return failed(hc, "connect()", "to", errno);
    if (hc_wait(hc, POLLOUT, "no connection to") != LG_OK)
        return LG_ERR;
    if (getsockopt(hc->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    return err != 0 ? failed(hc, "connect()", "to", err) : LG_OK;
}

static int hc_send(hc_t *hc)
{
    char req[LG_ADDR_STRLEN + 128];
    size_t off = 0, len;
    ssize_t n;

    len = (size_t)snprintf(req, sizeof(req),
                           "GET /healthz HTTP/1.1\r\nHost: %s\r\n"
                           "User-Agent: lifeguard-healthcheck\r\nConnection: close\r\n\r\n",
                           hc->text);
    while (off < len) {
        n = send(hc->fd, req + off, len - off, MSG_NOSIGNAL);
        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return failed(hc, "send()", "to", errno);
        if (hc_wait(hc, POLLOUT, "could not send the request to") != LG_OK)
            return LG_ERR;
    }
    return LG_OK;
}

/* The status code of "HTTP/1.x NNN[ reason]" (`len` bytes, CRLF excluded), or -1. */
static int hc_parse_status(const char *p, size_t len)
{
    int code = 0;

    if (len < HC_STATUS_LINE_MIN || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' ||
        p[8] != ' ' || (len > HC_STATUS_LINE_MIN && p[HC_STATUS_LINE_MIN] != ' '))
        return -1;
    for (size_t i = 9; i < HC_STATUS_LINE_MIN; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        code = code * 10 + (p[i] - '0');
    }
    return code >= 100 ? code : -1;
}

/* Read until the status line's CRLF; its code goes to *status. */
static int hc_read_status(hc_t *hc, int *status)
{
    char buf[HC_LINE_MAX];
    size_t have = 0;
    const char *eol = NULL;
    ssize_t n;

    while (eol == NULL && have < sizeof(buf)) {
        n = recv(hc->fd, buf + have, sizeof(buf) - have, 0);
        if (n > 0) {
            have += (size_t)n;
            eol = memmem(buf, have, "\r\n", 2);
            continue;
        }
        if (n == 0)
            return unhealthy("%s closed the connection %s", hc->text,
                             have == 0 ? "without answering" : "in the middle of the status line");
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return failed(hc, "recv()", "from", errno);
        if (hc_wait(hc, POLLIN, "no answer from") != LG_OK)
            return LG_ERR;
    }
    *status = eol != NULL ? hc_parse_status(buf, (size_t)(eol - buf)) : -1;
    if (*status < 0)
        return unhealthy("%s answered something that is not an HTTP/1.x status line", hc->text);
    return LG_OK;
}

/* A file that does not load: its first error, and how many more there are. */
static int hc_config_failed(const char *path, const lg_config_errors_t *errs)
{
    if (errs->n == 0)
        return unhealthy("%s: cannot load the configuration", path);
    if (errs->n == 1)
        return unhealthy("%s", errs->lines[0]);
    return unhealthy("%s (and %zu more: lifeguard -t -c %s lists them)", errs->lines[0],
                     errs->n - 1, path);
}

/* admin.listen of the file, or LG_ERR after saying why there is none to check. */
static int hc_load(hc_t *hc, const char *conf_path)
{
    lg_config_errors_t errs = {0};
    lg_config_t *cf = lg_config_load(conf_path, &errs);
    int rc = LG_OK;

    if (cf == NULL) {
        hc_config_failed(conf_path, &errs);
        lg_config_errors_free(&errs);
        return LG_ERR;
    }
    if (!cf->admin.enabled) {
        fprintf(stderr, "no admin listener in %s: set admin.listen to enable the health check\n",
                conf_path);
        rc = LG_ERR;
    } else if (cf->admin.addr.port == 0) {
        rc = unhealthy("admin.listen in %s is port 0 (chosen at each start): set a fixed port to "
                       "enable the health check",
                       conf_path);
    } else {
        hc_target(hc, &cf->admin.addr);
    }
    lg_config_free(cf);
    return rc;
}

int lg_healthcheck_main(const char *conf_path)
{
    hc_t hc = {.fd = -1};
    int status = 0, rc;

    if (hc_load(&hc, conf_path) != LG_OK)
        return 1;
    hc.deadline = lg_clock_ms() + LG_HEALTHCHECK_TIMEOUT_MS;
    rc = hc_connect(&hc);
    if (rc == LG_OK)
        rc = hc_send(&hc);
    if (rc == LG_OK)
        rc = hc_read_status(&hc, &status);
    if (hc.fd >= 0)
        close(hc.fd);
    if (rc != LG_OK)
        return 1;
    if (status != 200) {
        unhealthy("/healthz answered %d", status);
        return 1;
    }
    printf("healthy\n");
    return 0;
}
