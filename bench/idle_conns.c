/*
 * idle_conns.c - hold many idle keep-alive connections open, for bench/run.sh.
 *
 *   idle_conns HOST:PORT N [RATE [MAX_INFLIGHT [PATH]]]
 *
 * Opens N TCP connections to HOST:PORT at about RATE new connections per second (default 5000),
 * non-blocking, from one epoll loop, with at most MAX_INFLIGHT (default 64) connections waiting
 * for their response at any time, so that the server sees a steady trickle even when the machine
 * is busy and never a burst (a burst measures peak memory, not the cost of an idle connection). On
 * each connection it sends one keep-alive "GET PATH HTTP/1.1" (PATH defaults to /) and reads the
 * whole response (Content-Length or chunked), then leaves the connection open and idle. When every
 * connection has either got its response or failed, it prints
 *
 *   ready ok=N failed=F seconds=S
 *
 * on stdout (flushed; after 60 s it is printed anyway, with the connections still waiting counted
 * as pending), then holds the connections until SIGTERM, SIGINT or SIGUSR1, and exits
 * after printing "done ok=N closed_by_peer=C" (connections the server closed while idle).
 * The soft RLIMIT_NOFILE is raised to the hard limit when N needs it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_SENT, ST_IDLE, ST_DEAD };

#define HEAD_MAX 2048 /* response heads from the proxies are a few hundred bytes */

struct conn {
    int fd;
    uint8_t state;
    uint16_t have;  /* bytes of the response head buffered so far */
    long long left; /* body bytes still expected once the head is complete */
    char head[HEAD_MAX + 1];
};

static char rbuf[65536];

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Feed received bytes to connection c. Returns 1 when the response is complete, 0 when more is
 * needed, -1 on a bad or unsupported response. */
static int feed(struct conn *c, const char *p, size_t r)
{
    char *hend, *cl;
    size_t take;

    if (c->have == UINT16_MAX) { /* head done: counting body bytes */
        c->left -= (long long)r;
        return c->left <= 0;
    }
    take = r < (size_t)(HEAD_MAX - c->have) ? r : (size_t)(HEAD_MAX - c->have);
    memcpy(c->head + c->have, p, take);
    c->have = (uint16_t)(c->have + take);
    c->head[c->have] = '\0';
    hend = strstr(c->head, "\r\n\r\n");
    if (!hend)
        return c->have == HEAD_MAX ? -1 : 0;
    hend += 4;
    if (strncmp(c->head, "HTTP/1.1 200 ", 13) != 0) {
        fprintf(stderr, "idle_conns: unexpected response: %.40s\n", c->head);
        return -1;
    }
    cl = strcasestr(c->head, "\r\nContent-Length:");
    if (!cl || cl > hend) {
        fprintf(stderr, "idle_conns: response without Content-Length\n");
        return -1;
    }
    /* body bytes already here: those in head[] past hend plus those of p not copied */
    c->left =
        strtoll(cl + 17, NULL, 10) - (long long)(c->head + c->have - hend) - (long long)(r - take);
    c->have = UINT16_MAX;
    return c->left <= 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64], req[512];
    const char *colon;
    int n, rate, inflight_max, reqlen, ep, sfd, opened = 0, ok = 0, failed = 0, closed_idle = 0;
    int ready = 0;
    struct conn *conns;
    struct rlimit rl;
    sigset_t mask;
    double t0;

    if (argc < 3 || !(colon = strrchr(argv[1], ':')) || (size_t)(colon - argv[1]) >= sizeof(host)) {
        fprintf(stderr, "usage: idle_conns HOST:PORT N [RATE [MAX_INFLIGHT [PATH]]]\n");
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "idle_conns: bad address %s\n", argv[1]);
        return 2;
    }
    n = atoi(argv[2]);
    rate = argc > 3 ? atoi(argv[3]) : 5000;
    inflight_max = argc > 4 ? atoi(argv[4]) : 64;
    if (n <= 0 || rate <= 0 || inflight_max <= 0)
        return 2;
    reqlen = snprintf(req, sizeof(req),
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lg-bench-idle\r\n\r\n",
                      argc > 5 ? argv[5] : "/", argv[1]);
    if (reqlen <= 0 || (size_t)reqlen >= sizeof(req))
        return 2;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)n + 64) {
            fprintf(stderr, "idle_conns: RLIMIT_NOFILE %llu is too small for %d connections\n",
                    (unsigned long long)rl.rlim_cur, n);
            return 1;
        }
    }
    conns = calloc((size_t)n, sizeof(*conns));
    ep = epoll_create1(EPOLL_CLOEXEC);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (!conns || ep < 0 || sfd < 0) {
        perror("idle_conns: setup");
        return 1;
    }
    {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};

        epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    }

    t0 = now();
    for (;;) {
        struct epoll_event evs[256];
        int want, k;

        /* open connections up to the rate */
        want = (int)((now() - t0) * rate) + 1;
        if (want > n)
            want = n;
        while (opened < want && opened - ok - failed < inflight_max) {
            struct conn *c = &conns[opened];
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLET,
                                     .data.u64 = (uint64_t)opened};
            int one = 1;

            c->left = -1;
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            opened++;
            if (c->fd < 0) {
                c->state = ST_DEAD;
                failed++;
                continue;
            }
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                close(c->fd);
                c->state = ST_DEAD;
                failed++;
                continue;
            }
            c->state = ST_CONNECTING;
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        }
        if (!ready && opened == n && (ok + failed == n || now() - t0 > 60)) {
            ready = 1;
            printf("ready ok=%d failed=%d pending=%d seconds=%.3f\n", ok, failed,
                   n - ok - failed - closed_idle, now() - t0);
            fflush(stdout);
        }

        k = epoll_wait(ep, evs, 256, opened < n ? 1 : 1000);
        for (int i = 0; i < k; i++) {
            struct conn *c;
            uint64_t id = evs[i].data.u64;

            if (id == UINT64_MAX) {
                struct signalfd_siginfo si;

                if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                    printf("done ok=%d closed_by_peer=%d\n", ok - closed_idle, closed_idle);
                    fflush(stdout);
                    return 0;
                }
                continue;
            }
            c = &conns[id];
            if (c->state == ST_CONNECTING && (evs[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t el = sizeof(err);

                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || send(c->fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen) {
                    close(c->fd);
                    c->state = ST_DEAD;
                    failed++;
                    continue;
                }
                c->state = ST_SENT;
            }
            if (c->state == ST_SENT || c->state == ST_IDLE) {
                for (;;) {
                    ssize_t r = recv(c->fd, rbuf, sizeof(rbuf), 0);

                    if (r < 0 && errno == EAGAIN)
                        break;
                    if (r <= 0) {
                        close(c->fd);
                        if (c->state == ST_IDLE)
                            closed_idle++;
                        else
                            failed++;
                        c->state = ST_DEAD;
                        break;
                    }
                    if (c->state == ST_IDLE)
                        continue; /* unexpected bytes on an idle connection: ignore */
                    switch (feed(c, rbuf, (size_t)r)) {
                    case 1:
                        c->state = ST_IDLE;
                        ok++;
                        break;
                    case -1:
                        close(c->fd);
                        c->state = ST_DEAD;
                        failed++;
                        break;
                    }
                    if (c->state == ST_DEAD)
                        break;
                }
            }
        }
    }
}
