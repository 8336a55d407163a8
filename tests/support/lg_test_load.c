/*
 * lg_test_load.c - the exchange of the load generators (test_pools.c, test_reload.c): one
 * request on a blocking socket and its Content-Length-framed response, read strictly, from any
 * thread and without allocating.
 */
#include "lg_test.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* recv() once, retried on EINTR; on an error *kind says which (timeout or reset). */
static ssize_t lg_load_recv(int fd, lg_load_response_t *r, size_t len, int *kind)
{
    ssize_t n;

    do {
        n = recv(fd, r->buf + r->got, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        r->err = errno;
        *kind = errno == EAGAIN || errno == EWOULDBLOCK ? LG_LOAD_TIMEOUT : LG_LOAD_RESET;
    } else if (n > 0) {
        r->got += (size_t)n;
        r->buf[r->got] = '\0';
    }
    return n;
}

/* Value of header `name` in the head [h, e) into out (trimmed, cut to max - 1); 1 found. */
static int lg_load_header(const char *h, const char *e, const char *name, char *out, size_t max)
{
    size_t nl = strlen(name);
    const char *p = memchr(h, '\n', (size_t)(e - h));

    while (p != NULL && p + 1 < e) {
        const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(e - line));

        if (eol == NULL)
            break;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1, *ve = eol;
            size_t n;

            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            n = (size_t)(ve - v) < max - 1 ? (size_t)(ve - v) : max - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 1;
        }
        p = eol;
    }
    return 0;
}

/* Parse the head ending at hend: status, Content-Length (into *need, with the head), close. */
static int lg_load_head(lg_load_response_t *r, const char *hend, size_t *need)
{
    char v[64];

    r->body = (size_t)(hend + 4 - r->buf);
    if (sscanf(r->buf, "HTTP/1.%*1[01] %d ", &r->status) != 1)
        return LG_LOAD_BAD;
    if (lg_load_header(r->buf, hend + 2, "Transfer-Encoding", v, sizeof(v)) ||
        !lg_load_header(r->buf, hend + 2, "Content-Length", v, sizeof(v)))
        return LG_LOAD_BAD;
    *need = r->body + (size_t)strtoull(v, NULL, 10);
    r->server_close =
        lg_load_header(r->buf, hend + 2, "Connection", v, sizeof(v)) && strcasecmp(v, "close") == 0;
    return *need > sizeof(r->buf) - 1 ? LG_LOAD_BAD : LG_LOAD_OK;
}

int lg_load_exchange(int fd, const char *req, size_t len, lg_load_response_t *r)
{
    int kind = LG_LOAD_EOF;
    size_t need = 0;
    char *hend;

    memset(r, 0, offsetof(lg_load_response_t, buf));
    r->buf[0] = '\0';
    if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        r->err = errno;
        return LG_LOAD_SEND;
    }
    while ((hend = strstr(r->buf, "\r\n\r\n")) == NULL) {
        if (r->got == sizeof(r->buf) - 1)
            return LG_LOAD_BAD;
        if (lg_load_recv(fd, r, sizeof(r->buf) - 1 - r->got, &kind) <= 0)
            return kind;
    }
    if ((kind = lg_load_head(r, hend, &need)) != LG_LOAD_OK)
        return kind;
    while (r->got < need) {
        kind = LG_LOAD_EOF;
        if (lg_load_recv(fd, r, sizeof(r->buf) - 1 - r->got, &kind) <= 0)
            return kind;
    }
    return r->got > need ? LG_LOAD_BAD : LG_LOAD_OK; /* bytes nobody asked for */
}
