/*
 * bulk_get.c - large-body throughput client for bench/run.sh.
 *
 *   bulk_get HOST:PORT PATH SECONDS [--verify]
 *
 * Sends "GET PATH HTTP/1.1" on one keep-alive connection, one request at a time, again and again
 * until SECONDS have passed (the request in flight then completes), and prints one line:
 *
 *   requests=N bytes=B seconds=S reconnects=R errors=E
 *
 * B counts body bytes of completed responses, S is the wall time from the first request to the
 * end of the last response. The response must be 200 with a Content-Length. The body is
 * discarded in the kernel with recv(MSG_TRUNC) (TCP drops the data without copying it), so the
 * client costs as little CPU as possible and the proxy, not the client, is measured; wrk reads
 * with 8 KiB buffers and cannot go past ~0.6 GB/s on one core here. With --verify the first body
 * is read into memory and checked against lg-origin's pattern (see tests/support/lg_test_pattern.h)
 * and the program exits 1 on a mismatch.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX       16384
#define DROP_MAX       (4u << 20)
#define PATTERN_PERIOD 4093u

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static char pattern_byte(uint64_t i)
{
    uint64_t j = i % PATTERN_PERIOD;

    return (char)('a' + (j + j / 26) % 26);
}

/* One request/response. Returns body length, or -1 on error (errno-ish message printed),
 * -2 when the connection was closed before any response byte (reconnect and retry). */
static long long one_request(int fd, const char *req, size_t reqlen, int verify)
{
    static char head[HEAD_MAX + 1];
    static char *vbuf;
    size_t have = 0;
    char *end = NULL;
    long long clen = -1, body_have, left;
    uint64_t off = 0;

    if (send_all(fd, req, reqlen) < 0)
        return -2;
    while (!end) {
        ssize_t r;

        if (have == HEAD_MAX) {
            fprintf(stderr, "bulk_get: response head too large\n");
            return -1;
        }
        r = recv(fd, head + have, HEAD_MAX - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return have == 0 ? -2 : -1;
        have += (size_t)r;
        head[have] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (strncmp(head, "HTTP/1.1 200 ", 13) != 0) {
        fprintf(stderr, "bulk_get: unexpected status line: %.40s\n", head);
        return -1;
    }
    for (char *line = strstr(head, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            clen = strtoll(line + 17, NULL, 10);
    }
    if (clen < 0) {
        fprintf(stderr, "bulk_get: response without Content-Length\n");
        return -1;
    }
    body_have = (long long)(head + have - (end + 4));
    if (body_have > clen) {
        fprintf(stderr, "bulk_get: more bytes than Content-Length\n");
        return -1;
    }
    if (verify) {
        vbuf = malloc((size_t)clen + 1);
        if (!vbuf)
            return -1;
        memcpy(vbuf, end + 4, (size_t)body_have);
        off = (uint64_t)body_have;
    }
    left = clen - body_have;
    while (left > 0) {
        size_t want = left > (long long)DROP_MAX ? DROP_MAX : (size_t)left;
        ssize_t r = verify ? recv(fd, vbuf + off, want, 0) : recv(fd, NULL, want, MSG_TRUNC);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "bulk_get: connection ended %lld bytes before the end of the body\n",
                    left);
            return -1;
        }
        left -= r;
        off += (uint64_t)r;
    }
    if (verify) {
        for (long long i = 0; i < clen; i++) {
            if (vbuf[i] != pattern_byte((uint64_t)i)) {
                fprintf(stderr, "bulk_get: body byte %lld is wrong\n", i);
                free(vbuf);
                return -1;
            }
        }
        free(vbuf);
    }
    return clen;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char req[1024], host[64];
    const char *colon;
    double secs, t0, deadline;
    long long requests = 0, bytes = 0, reconnects = 0, errors = 0;
    int verify = argc > 4 && strcmp(argv[4], "--verify") == 0;
    int fd, n;

    if (argc < 4 || !(colon = strrchr(argv[1], ':')) || (size_t)(colon - argv[1]) >= sizeof(host)) {
        fprintf(stderr, "usage: bulk_get HOST:PORT PATH SECONDS [--verify]\n");
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "bulk_get: bad address %s\n", argv[1]);
        return 2;
    }
    secs = atof(argv[3]);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lg-bench\r\n\r\n",
                 argv[2], argv[1]);
    if (n <= 0 || (size_t)n >= sizeof(req))
        return 2;
    fd = dial(&sa);
    if (fd < 0) {
        perror("bulk_get: connect");
        return 1;
    }
    t0 = now();
    deadline = t0 + secs;
    do {
        long long got = one_request(fd, req, (size_t)n, verify);

        if (got == -2 && reconnects < 100) { /* closed while idle: reconnect */
            close(fd);
            reconnects++;
            fd = dial(&sa);
            if (fd < 0) {
                perror("bulk_get: connect");
                errors++;
                break;
            }
            continue;
        }
        if (got < 0) {
            errors++;
            break;
        }
        requests++;
        bytes += got;
        if (verify)
            break;
    } while (now() < deadline);
    printf("requests=%lld bytes=%lld seconds=%.6f reconnects=%lld errors=%lld\n", requests, bytes,
           now() - t0, reconnects, errors);
    close(fd);
    return errors ? 1 : 0;
}
