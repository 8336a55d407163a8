/*
 * admin.c - the admin listener in the master (see admin.h): its socket and connections, and
 * which page answers which path. The pages are built by metrics.c (/metrics) and status.c
 * (/status.json); /status is the compiled-in status.html.
 *
 * Requests are tiny and rare: one request per connection, answered from a buffer built at
 * once, written as the socket allows, then the connection is closed.
 */
#include "admin/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/metrics.h"
#include "admin/status.h"
#include "admin/status_page.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "core/sock.h"
#include "event/loop.h"

#define LG_ADMIN_REQ_MAX    4096
#define LG_ADMIN_TIMEOUT_MS 10000

typedef struct aconn {
    lg_sock_t sock;
    lg_timer_t timer;
    lg_posted_t free_later;
    size_t got;
    lg_out_t out;
    size_t sent;
    char in[LG_ADMIN_REQ_MAX];
} aconn_t;

static lg_sock_t listener = {.io.fd = -1};
static char listen_key[LG_ADDR_STRLEN];
static void (*get_view)(lg_admin_view_t *v);
static lg_timerq_t q_admin;

static void aconn_free(lg_posted_t *p)
{
    aconn_t *a = lg_container_of(p, aconn_t, free_later);

    free(a->out.p);
    free(a);
}

static void aconn_close(aconn_t *a)
{
    if (a->sock.flags & LG_SOCK_CLOSED)
        return;
    lg_timer_del(&a->timer);
    close(a->sock.io.fd);
    a->sock.flags |= LG_SOCK_CLOSED;
    a->free_later.run = aconn_free;
    lg_loop_post(&a->free_later);
}

static void aconn_timeout(lg_timer_t *t)
{
    aconn_close(lg_container_of(t, aconn_t, timer));
}

/* The whole response (head, and body unless HEAD) into a->out, to be written. */
static void respond(aconn_t *a, int status, const char *type, const char *body, size_t blen,
                    int head)
{
    const char *reason = status == 200   ? "OK"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                                         : "Service Unavailable";

    lg_outf(&a->out,
            "HTTP/1.1 %d %s\r\nServer: lifeguard\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "%sCache-Control: no-store\r\nConnection: close\r\n\r\n%.*s",
            status, reason, type, blen, status == 405 ? "Allow: GET, HEAD\r\n" : "",
            head ? 0 : (int)blen, body);
    a->sent = 0;
}

static void handle(aconn_t *a)
{
    char method[8], path[256];
    lg_admin_view_t v;
    lg_metrics_t t = {0};
    lg_out_t body = {0};
    int head;

    if (sscanf(a->in, "%7s %255s HTTP/1.", method, path) != 2) {
        respond(a, 404, "text/plain", "bad request\n", 12, 0);
        return;
    }
    head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        respond(a, 405, "text/plain", "only GET and HEAD\n", 18, 0);
        return;
    }
    path[strcspn(path, "?")] = '\0';
    if (strcmp(path, "/healthz") == 0) {
        /* healthy while the serving generation has workers (not while they crash-loop) */
        memset(&v, 0, sizeof(v));
        get_view(&v);
        if (v.serving > 0)
            respond(a, 200, "text/plain", "ok\n", 3, head);
        else
            respond(a, 503, "text/plain", "no worker running\n", 18, head);
        return;
    }
    if (strcmp(path, "/status") == 0 || strcmp(path, "/") == 0) {
        respond(a, 200, "text/html; charset=utf-8", lg_status_html, lg_status_html_len, head);
        return;
    }
    if (strcmp(path, "/metrics") != 0 && strcmp(path, "/status.json") != 0) {
        respond(a, 404, "text/plain", "not found\n", 10, head);
        return;
    }
    memset(&v, 0, sizeof(v));
    get_view(&v);
    lg_metrics_build(&t, &v);
    if (strcmp(path, "/metrics") == 0) {
        lg_metrics_text(&body, &t);
        respond(a, 200, "text/plain; version=0.0.4; charset=utf-8", body.p, body.len, head);
    } else {
        lg_status_json(&body, &t, &v);
        respond(a, 200, "application/json", body.p, body.len, head);
    }
    free(body.p);
    lg_metrics_free(&t);
}

static void aconn_event(lg_io_t *io, uint32_t ev)
{
    aconn_t *a = (aconn_t *)(void *)io;

    if (a->sock.flags & LG_SOCK_CLOSED)
        return;
    lg_sock_events(&a->sock, ev);
    while (a->out.p == NULL && (a->sock.flags & LG_SOCK_RD)) {
        ssize_t n = lg_sock_read(&a->sock, a->in + a->got, sizeof(a->in) - 1 - a->got);

        if (n == LG_AGAIN)
            return;
        if (n <= 0 || a->got + (size_t)n >= sizeof(a->in) - 1) {
            aconn_close(a);
            return;
        }
        a->got += (size_t)n;
        a->in[a->got] = '\0';
        if (strstr(a->in, "\r\n\r\n") != NULL || strstr(a->in, "\n\n") != NULL)
            handle(a);
    }
    while (a->out.p != NULL && a->sent < a->out.len && (a->sock.flags & LG_SOCK_WR)) {
        struct iovec iov = {a->out.p + a->sent, a->out.len - a->sent};
        ssize_t n = lg_sock_writev(&a->sock, &iov, 1);

        if (n < 0) {
            aconn_close(a);
            return;
        }
        a->sent += (size_t)n;
    }
    if (a->out.p != NULL && a->sent == a->out.len)
        aconn_close(a);
}

static void accept_event(lg_io_t *io, uint32_t ev)
{
    LG_UNUSED(ev);
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        aconn_t *a;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        a = calloc(1, sizeof(*a));
        if (a == NULL) {
            close(fd);
            continue;
        }
        a->sock.io.fd = fd;
        a->sock.io.handler = aconn_event;
        a->timer.handler = aconn_timeout;
        lg_timer_set(&q_admin, &a->timer);
        if (lg_loop_add(&a->sock.io, LG_EV_CONN) != LG_OK) {
            close(fd);
            free(a);
        }
    }
}

void lg_admin_close(void)
{
    if (listener.io.fd >= 0) {
        close(listener.io.fd);
        listener.io.fd = -1;
        listen_key[0] = '\0';
    }
}

int lg_admin_configure(const lg_config_t *cf, void (*view)(lg_admin_view_t *v))
{
    char key[LG_ADDR_STRLEN], text[LG_ADDR_STRLEN];
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd;

    get_view = view;
    if (!lg_timerq_ready(&q_admin) && lg_timerq_init(&q_admin, LG_ADMIN_TIMEOUT_MS) != LG_OK)
        return LG_ERR;
    if (!cf->admin.enabled) {
        lg_admin_close();
        return LG_OK;
    }
    if (lg_net_addr_text((const struct sockaddr *)&cf->admin.addr.sa, key, sizeof(key)) != LG_OK)
        return LG_ERR;
    if (listener.io.fd >= 0 && strcmp(key, listen_key) == 0)
        return LG_OK;
    fd = lg_net_listen((const struct sockaddr *)&cf->admin.addr.sa, cf->admin.addr.salen,
                       cf->admin.addr.text, NULL);
    if (fd < 0)
        return LG_ERR;
    lg_admin_close();
    listener.io.fd = fd;
    listener.io.handler = accept_event;
    memcpy(listen_key, key, sizeof(listen_key)); /* same size */
    getsockname(fd, (struct sockaddr *)&ss, &len);
    lg_net_addr_text((const struct sockaddr *)&ss, text, sizeof(text));
    lg_log(LG_LOG_INFO, "admin: listening on %s", text);
    return lg_loop_add(&listener.io, EPOLLIN | EPOLLET);
}
