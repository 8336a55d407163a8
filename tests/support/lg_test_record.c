/*
 * lg_test_record.c - the recording backend (see lg_test_record.h): one thread, one poll loop.
 */
#include "lg_test_record.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_test.h"

#define REC_MAX_CONNS   16
#define REC_MAX_REQS    256
#define REC_BODY_MAX    (1024 * 1024) /* a longer Content-Length: the head alone is recorded */
#define REC_READ        65536
#define REC_POLL_MS     20
#define REC_DEFAULT_RSP "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

typedef struct rec_conn {
    int fd;
    char *data; /* received and not yet cut into requests */
    size_t len;
} rec_conn_t;

typedef struct rec_req {
    char *data;
    size_t len;
} rec_req_t;

struct lg_recorder {
    int lfd, port, stop;
    char *response;
    pthread_t thread;
    pthread_mutex_t lock;
    rec_conn_t conns[REC_MAX_CONNS];
    rec_req_t reqs[REC_MAX_REQS];
    size_t nreqs;
};

static void rec_keep(lg_recorder_t *r, const char *p, size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL)
        abort();
    memcpy(copy, p, len);
    copy[len] = '\0';
    pthread_mutex_lock(&r->lock);
    if (r->nreqs < REC_MAX_REQS) {
        r->reqs[r->nreqs].data = copy;
        r->reqs[r->nreqs++].len = len;
        copy = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    free(copy);
}

/* Value of header `name` in head[0..hlen) as a number, or -1 when absent. */
static long long rec_header_number(const char *head, size_t hlen, const char *name)
{
    size_t nl = strlen(name);

    for (const char *p = head; p < head + hlen; p++) {
        if ((p == head || p[-1] == '\n') && strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return strtoll(p + nl + 1, NULL, 10);
    }
    return -1;
}

/* Length of the complete request at the start of c->data, or 0 when more must arrive. */
static size_t rec_request_len(const rec_conn_t *c)
{
    const char *end = memmem(c->data, c->len, "\r\n\r\n", 4);
    size_t hlen;
    long long cl;

    if (end == NULL)
        return 0;
    hlen = (size_t)(end + 4 - c->data);
    if (memmem(c->data, hlen, "chunked", 7) != NULL) {
        const char *last = memmem(c->data + hlen - 2, c->len - hlen + 2, "\r\n0\r\n\r\n", 7);

        return last != NULL ? (size_t)(last + 7 - c->data) : 0;
    }
    cl = rec_header_number(c->data, hlen, "content-length");
    if (cl <= 0 || cl > REC_BODY_MAX)
        return hlen;
    return c->len >= hlen + (size_t)cl ? hlen + (size_t)cl : 0;
}

static void rec_close(lg_recorder_t *r, rec_conn_t *c)
{
    if (c->len > 0)
        rec_keep(r, c->data, c->len); /* partial: what came after the last request */
    close(c->fd);
    free(c->data);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* Cut complete requests off c->data, answering each (and closing when the response says so). */
static void rec_serve(lg_recorder_t *r, rec_conn_t *c)
{
    size_t n;

    while ((n = rec_request_len(c)) > 0) {
        rec_keep(r, c->data, n);
        memmove(c->data, c->data + n, c->len - n);
        c->len -= n;
        if (write(c->fd, r->response, strlen(r->response)) < 0 ||
            strstr(r->response, "Connection: close") != NULL) {
            rec_close(r, c);
            return;
        }
    }
}

static void rec_read(lg_recorder_t *r, rec_conn_t *c)
{
    char *grown = realloc(c->data, c->len + REC_READ);
    ssize_t n;

    if (grown == NULL)
        abort();
    c->data = grown;
    n = read(c->fd, c->data + c->len, REC_READ);
    if (n <= 0) {
        rec_close(r, c);
        return;
    }
    c->len += (size_t)n;
    rec_serve(r, c);
}

static void rec_accept(lg_recorder_t *r)
{
    int fd = accept(r->lfd, NULL, NULL);

    if (fd < 0)
        return;
    for (size_t i = 0; i < REC_MAX_CONNS; i++) {
        if (r->conns[i].fd < 0) {
            r->conns[i].fd = fd;
            return;
        }
    }
    close(fd);
}

static void *rec_main(void *arg)
{
    lg_recorder_t *r = arg;

    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pfd[REC_MAX_CONNS + 1];
        size_t map[REC_MAX_CONNS + 1], n = 1;

        pfd[0].fd = r->lfd;
        pfd[0].events = POLLIN;
        for (size_t i = 0; i < REC_MAX_CONNS; i++) {
            if (r->conns[i].fd >= 0) {
                pfd[n].fd = r->conns[i].fd;
                pfd[n].events = POLLIN;
                map[n++] = i;
            }
        }
        if (poll(pfd, n, REC_POLL_MS) <= 0)
            continue;
        for (size_t k = 1; k < n; k++) {
            if (pfd[k].revents != 0)
                rec_read(r, &r->conns[map[k]]);
        }
        if (pfd[0].revents & POLLIN)
            rec_accept(r);
    }
    return NULL;
}

static void rec_free(void *p)
{
    lg_recorder_t *r = p;

    lg_recorder_stop(r);
    for (size_t i = 0; i < r->nreqs; i++)
        free(r->reqs[i].data);
    free(r->response);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

lg_recorder_t *lg_recorder_start(const char *response)
{
    lg_recorder_t *r = calloc(1, sizeof(*r));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sa);

    if (r == NULL || (r->response = strdup(response ? response : REC_DEFAULT_RSP)) == NULL)
        abort();
    for (size_t i = 0; i < REC_MAX_CONNS; i++)
        r->conns[i].fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(r->lfd, REC_MAX_CONNS) < 0 ||
        getsockname(r->lfd, (struct sockaddr *)&sa, &slen) < 0 ||
        pthread_create(&r->thread, NULL, rec_main, r) != 0)
        abort();
    r->port = ntohs(sa.sin_port);
    return lg_test_keep(r, rec_free);
}

int lg_recorder_port(const lg_recorder_t *r)
{
    return r->port;
}

size_t lg_recorder_count(lg_recorder_t *r)
{
    size_t n;

    pthread_mutex_lock(&r->lock);
    n = r->nreqs;
    pthread_mutex_unlock(&r->lock);
    return n;
}

const char *lg_recorder_request(lg_recorder_t *r, size_t i, int timeout_ms, size_t *len)
{
    int ok;

    LG_WAIT_FOR(ok, lg_recorder_count(r) > i, timeout_ms);
    if (!ok)
        return NULL;
    if (len != NULL)
        *len = r->reqs[i].len;
    return r->reqs[i].data;
}

void lg_recorder_stop(lg_recorder_t *r)
{
    if (r->lfd < 0)
        return;
    __atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
    pthread_join(r->thread, NULL);
    for (size_t i = 0; i < REC_MAX_CONNS; i++) {
        if (r->conns[i].fd >= 0)
            rec_close(r, &r->conns[i]);
    }
    close(r->lfd);
    r->lfd = -1;
}
