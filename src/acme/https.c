/*
 * https.c - the HTTPS client of the ACME client (see https.h).
 *
 * A request goes resolve (a host name not in /etc/hosts: one A query) -> connect and TLS
 * handshake -> send -> receive until the response is complete (or the server closes) -> done,
 * posted to run after the batch.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acme/https.h"
#include "core/fmt.h"
#include "core/lg.h"
#include "core/log.h"
#include "health/dns.h"

#define LG_ACME_HTTPS_PORT 443
#define LG_ACME_READ_CHUNK 16384
#define LG_ACME_HEAD_MAX   4096 /* bytes of the request head */

enum { R_IDLE, R_DNS, R_TLS, R_SEND, R_RECV, R_DONE };

static struct sockaddr_storage dns_server;
static socklen_t dns_server_len;
static unsigned dns_next_id = 1;

void lg_acme_https_resolver(const struct sockaddr_storage *dns, socklen_t len)
{
    dns_server = *dns;
    dns_server_len = len;
    dns_next_id = (unsigned)getpid() & 0xFFFF;
}

SSL_CTX *lg_acme_https_ctx(const char *ca)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        (ca != NULL ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
                    : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
        lg_log(LG_LOG_ERR, "acme: the TLS client context (CA %s) failed: %s",
               ca != NULL ? ca : "system store", ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

static void req_close(lg_acme_req_t *r)
{
    SSL_CTX_free(r->ctx);
    r->ctx = NULL;
    if (r->ssl != NULL) {
        SSL_free(r->ssl);
        r->ssl = NULL;
    }
    if (r->io.fd >= 0) {
        lg_loop_del(&r->io);
        close(r->io.fd);
        r->io.fd = -1;
    }
    free(r->out);
    r->out = NULL;
}

void lg_acme_https_clear(lg_acme_req_t *r)
{
    req_close(r);
    free(r->rsp.body);
    r->rsp = (lg_acme_rsp_t){0};
    r->state = R_IDLE;
}

static void req_posted(lg_posted_t *p)
{
    lg_acme_req_t *r = (lg_acme_req_t *)(void *)((char *)p - offsetof(lg_acme_req_t, post));

    r->state = R_IDLE;
    r->done(r, r->why[0] != '\0' ? r->why : NULL);
}

/* The end, good or bad: the socket goes, `done` runs after the batch. */
static void req_end(lg_acme_req_t *r)
{
    req_close(r);
    r->state = R_DONE;
    r->post.run = req_posted;
    lg_loop_post(&r->post);
}

static void req_fail(lg_acme_req_t *r, const char *fmt, const char *a, int err)
    __attribute__((format(printf, 2, 0)));
static void req_fail(lg_acme_req_t *r, const char *fmt, const char *a, int err)
{
    char what[LG_ACME_WHY_MAX];

    lg_format(what, sizeof(what), fmt, a);
    if (err != 0)
        lg_format(r->why, sizeof(r->why), "%s (%d: %s)", what, err, strerror(err));
    else
        lg_format(r->why, sizeof(r->why), "%s", what);
    free(r->rsp.body);
    r->rsp = (lg_acme_rsp_t){0};
    req_end(r);
}

/* Append to a header buffer, NUL-terminated, cutting what does not fit. */
static void hdr_append(char *dst, size_t cap, const char *at, size_t len)
{
    size_t used = strlen(dst), n = LG_MIN(len, cap - 1 - used);

    memcpy(dst + used, at, n);
    dst[used + n] = '\0';
}

static int on_field(llhttp_t *p, const char *at, size_t len)
{
    lg_acme_req_t *r = p->data;

    if (r->field_len + len >= sizeof(r->field)) {
        r->field_cut = 1;
        return 0;
    }
    memcpy(r->field + r->field_len, at, len);
    r->field_len += len;
    r->field[r->field_len] = '\0';
    return 0;
}

static int on_value(llhttp_t *p, const char *at, size_t len)
{
    lg_acme_req_t *r = p->data;
    char ra[16] = "";

    if (r->field_cut)
        return 0;
    if (strcasecmp(r->field, "replay-nonce") == 0)
        hdr_append(r->rsp.nonce, sizeof(r->rsp.nonce), at, len);
    else if (strcasecmp(r->field, "location") == 0)
        hdr_append(r->rsp.location, sizeof(r->rsp.location), at, len);
    else if (strcasecmp(r->field, "content-type") == 0)
        hdr_append(r->rsp.ctype, sizeof(r->rsp.ctype), at, len);
    else if (strcasecmp(r->field, "retry-after") == 0) {
        hdr_append(ra, sizeof(ra), at, len);
        r->rsp.retry_after = (lg_msec_t)strtoul(ra, NULL, 10) * 1000;
    }
    return 0;
}

static int on_value_complete(llhttp_t *p)
{
    lg_acme_req_t *r = p->data;

    r->field_len = 0;
    r->field_cut = 0;
    r->field[0] = '\0';
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    lg_acme_req_t *r = p->data;

    if (r->rsp.len + len > LG_ACME_RSP_MAX)
        return -1;
    memcpy(r->rsp.body + r->rsp.len, at, len);
    r->rsp.len += len;
    r->rsp.body[r->rsp.len] = '\0';
    return 0;
}

static int on_complete(llhttp_t *p)
{
    lg_acme_req_t *r = p->data;

    r->rsp.status = p->status_code;
    return HPE_PAUSED;
}

static const llhttp_settings_t rsp_settings = {
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_header_value_complete = on_value_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* The TLS session over the connecting socket: SNI and the verified name (or IP address). */
static int req_tls(lg_acme_req_t *r)
{
    r->ssl = SSL_new(r->ctx);
    if (r->ssl == NULL || SSL_set_fd(r->ssl, r->io.fd) != 1)
        return LG_ERR;
    if (!r->addr.is_hostname)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(r->ssl), r->host) == 1 ? LG_OK : LG_ERR;
    return SSL_set_tlsext_host_name(r->ssl, r->host) == 1 && SSL_set1_host(r->ssl, r->host) == 1
               ? LG_OK
               : LG_ERR;
}

static void req_connect(lg_acme_req_t *r, const struct sockaddr_storage *a)
{
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len =
        a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

    if (r->io.fd >= 0) { /* the resolver's socket */
        lg_loop_del(&r->io);
        close(r->io.fd);
        r->io.fd = -1;
    }
    if (fd < 0) {
        req_fail(r, "socket() for %s failed", r->addr.text, errno);
        return;
    }
    if (connect(fd, (const struct sockaddr *)a, len) < 0 && errno != EINPROGRESS) {
        int err = errno;

        close(fd);
        req_fail(r, "connect() to %s failed", r->addr.text, err);
        return;
    }
    r->io.fd = fd;
    r->state = R_TLS;
    if (req_tls(r) != LG_OK || lg_loop_add(&r->io, LG_EV_CONN) != LG_OK)
        req_fail(r, "TLS setup for %s failed", r->addr.text, 0);
}

/* A name: /etc/hosts (IPv4 first), else an A query to the resolver. */
static void req_resolve(lg_acme_req_t *r)
{
    struct sockaddr_storage a;
    int fd = -1, rc;

    r->dns_id = dns_next_id;
    dns_next_id = (dns_next_id + 1) & 0xFFFF;
    rc = lg_dns_a_start(r->host, r->addr.port, &dns_server, dns_server_len, r->dns_id, &a, &fd);
    if (rc > 0) {
        req_connect(r, &a);
        return;
    }
    if (rc < 0) {
        req_fail(r, "DNS query for %s failed", r->host, errno);
        return;
    }
    r->io.fd = fd;
    r->state = R_DNS;
    if (lg_loop_add(&r->io, EPOLLIN | EPOLLET) != LG_OK)
        req_fail(r, "epoll_ctl() for %s failed", r->host, 0);
}

/* The resolver's answer: connect to its first address. */
static void req_dns(lg_acme_req_t *r)
{
    struct sockaddr_storage a;
    unsigned rcode = 0;
    int rc = lg_dns_a_read(r->io.fd, r->dns_id, r->addr.port, &a, &rcode);

    if (rc == 1)
        req_connect(r, &a);
    else if (rc == 0)
        req_fail(r, "no IPv4 address for %s", r->host, 0);
    else if (rc == LG_ERR)
        req_fail(r, "DNS answer for %s failed", r->host, errno);
}

/* What the TLS layer said; LG_AGAIN when it waits for the socket. */
static int req_ssl_error(lg_acme_req_t *r, int rc, const char *what)
{
    int e = SSL_get_error(r->ssl, rc);
    long v = SSL_get_verify_result(r->ssl);
    unsigned long q = ERR_peek_last_error();

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return LG_AGAIN;
    if (v != X509_V_OK)
        req_fail(r, "the certificate of %s is not trusted", r->addr.text, 0);
    else
        req_fail(r, what, r->addr.text, e == SSL_ERROR_SYSCALL ? errno : 0);
    if (v != X509_V_OK || q != 0)
        snprintf(r->why + strlen(r->why), sizeof(r->why) - strlen(r->why), ": %s",
                 v != X509_V_OK ? X509_verify_cert_error_string(v) : ERR_reason_error_string(q));
    ERR_clear_error();
    return LG_ERR;
}

static int req_send(lg_acme_req_t *r)
{
    while (r->sent < r->out_len) {
        int n = SSL_write(r->ssl, r->out + r->sent, (int)(r->out_len - r->sent));

        if (n <= 0)
            return req_ssl_error(r, n, "SSL_write() to %s failed");
        r->sent += (size_t)n;
    }
    r->state = R_RECV;
    return LG_OK;
}

/* The bytes received so far: feed the parser; the end of the response ends the request. */
static int req_parse(lg_acme_req_t *r, const char *buf, size_t len, int eof)
{
    llhttp_errno_t e = eof ? llhttp_finish(&r->parser) : llhttp_execute(&r->parser, buf, len);

    if (e == HPE_PAUSED || (e == HPE_OK && r->rsp.status != 0)) {
        req_end(r);
        return LG_OK;
    }
    if (e == HPE_OK && !eof)
        return LG_AGAIN;
    if (r->rsp.len >= LG_ACME_RSP_MAX)
        req_fail(r, "the response of %s is larger than 64 KiB", r->addr.text, 0);
    else
        req_fail(r, "the response of %s is not valid HTTP", r->addr.text, 0);
    return LG_ERR;
}

static void req_recv(lg_acme_req_t *r)
{
    char buf[LG_ACME_READ_CHUNK];

    for (;;) {
        int n = SSL_read(r->ssl, buf, sizeof(buf));
        int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(r->ssl, n);

        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
            req_parse(r, NULL, 0, 1);
            return;
        }
        if (n <= 0) {
            req_ssl_error(r, n, "SSL_read() from %s failed");
            return;
        }
        if (req_parse(r, buf, (size_t)n, 0) != LG_AGAIN)
            return;
    }
}

/* Edge-triggered: each state runs until the socket would block, then the next one at once. */
static void req_event(lg_io_t *io, uint32_t ev)
{
    lg_acme_req_t *r = (lg_acme_req_t *)(void *)io;
    int rc;

    if (r->state == R_DNS) {
        req_dns(r);
        return;
    }
    if (r->state == R_TLS && (ev & (EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof(err);

        getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        req_fail(r, "connect() to %s failed", r->addr.text, err != 0 ? err : ECONNRESET);
        return;
    }
    if (r->state == R_TLS) {
        rc = SSL_connect(r->ssl);
        if (rc != 1) {
            req_ssl_error(r, rc, "TLS handshake with %s failed");
            return;
        }
        r->state = R_SEND;
    }
    if (r->state == R_SEND && req_send(r) != LG_OK)
        return;
    if (r->state == R_RECV)
        req_recv(r);
}

/* "https://host[:port]/path": r->host, r->addr; the path and authority out. */
static int url_split(lg_acme_req_t *r, const char *url, const char **path, size_t *alen)
{
    static const char scheme[] = "https://";
    const char *a = url + sizeof(scheme) - 1, *slash, *colon, *bracket, *why;
    char hostport[LG_ADDR_TEXT_MAX];

    if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0)
        return LG_ERR;
    slash = strchr(a, '/');
    *alen = slash != NULL ? (size_t)(slash - a) : strlen(a);
    *path = slash != NULL ? slash : "/";
    colon = memrchr(a, ':', *alen);
    bracket = memrchr(a, ']', *alen);
    if (lg_format(hostport, sizeof(hostport), colon != NULL && colon > bracket ? "%.*s" : "%.*s:%d",
                  (int)*alen, a, LG_ACME_HTTPS_PORT) != LG_OK ||
        lg_parse_addr(hostport, LG_ADDR_HOSTNAME, &r->addr, &why) != LG_OK)
        return LG_ERR;
    memcpy(r->host, r->addr.host, sizeof(r->host));
    return LG_OK;
}

static char *req_format(const char *method, const char *path, const char *auth, size_t alen,
                        const char *body, size_t *len)
{
    size_t blen = body != NULL ? strlen(body) : 0, cap = LG_ACME_HEAD_MAX + strlen(path) + blen;
    char *out = malloc(cap);
    int n;

    if (out == NULL)
        return NULL;
    n = snprintf(out, cap,
                 "%s %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: lifeguard/" LG_VERSION
                 "\r\nAccept: */*\r\nConnection: close\r\n",
                 method, path, (int)alen, auth);
    if (body != NULL)
        n += snprintf(out + n, cap - (size_t)n,
                      "Content-Type: application/jose+json\r\nContent-Length: %zu\r\n", blen);
    n += snprintf(out + n, cap - (size_t)n, "\r\n%s", body != NULL ? body : "");
    *len = (size_t)n;
    return out;
}

void lg_acme_https_send(lg_acme_req_t *r, SSL_CTX *ctx, const char *method, const char *url,
                        const char *body)
{
    const char *path;
    size_t alen;

    lg_acme_https_clear(r);
    r->io.handler = req_event;
    r->ctx = ctx;
    SSL_CTX_up_ref(ctx);
    r->why[0] = '\0';
    r->sent = 0;
    r->deadline = lg_now + LG_ACME_REQ_TIMEOUT_MS;
    if (url == NULL || url_split(r, url, &path, &alen) != LG_OK) {
        req_fail(r, "\"%s\" is not a usable https URL", url != NULL ? url : "", 0);
        return;
    }
    r->out = req_format(method, path, url + 8, alen, body, &r->out_len);
    r->rsp.body = malloc(LG_ACME_RSP_MAX + 1);
    if (r->out == NULL || r->rsp.body == NULL) {
        req_fail(r, "%s: out of memory", url, 0);
        return;
    }
    r->rsp.body[0] = '\0';
    llhttp_init(&r->parser, HTTP_RESPONSE, &rsp_settings);
    r->parser.data = r;
    r->field_len = 0;
    r->field_cut = 0;
    if (r->addr.is_hostname)
        req_resolve(r);
    else
        req_connect(r, &r->addr.sa);
}

void lg_acme_https_check(lg_acme_req_t *r)
{
    if (r->state != R_IDLE && r->state != R_DONE && lg_now >= r->deadline)
        req_fail(r, "%s timed out", r->addr.text, 0);
}
