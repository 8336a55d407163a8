/*
 * proxy.c - client connections and the exchange with a backend.
 *
 * A client connection is in one of five states, each with its own work in conn_run():
 *   IDLE      between requests: no buffer, no exchange; timer client_header (new) or client_idle
 *   HEAD      reading a request head into c->in; timer client_header
 *   EXCHANGE  relaying to and from a backend; timer client_body while the client is still
 *             sending a body the backend takes, else the upstream timer (see txn_timers)
 *   REPLY     writing a response of our own (an error), then keep-alive or close
 *   LINGER    response sent, write side shut, discarding what the client still sends
 *
 * An exchange (lg_txn_t) lives from the first byte of a request to the end of its response. It
 * owns the upstream connection and two pumps: `up` (request body, client -> backend, written
 * after the rebuilt head) and `down` (response body, backend -> client). Both run whenever
 * either socket reports readiness, so early responses and full-duplex bodies just work.
 *
 * Memory: an idle connection holds only its lg_http_conn_t. During an exchange it holds at most
 * three buffers (request bytes, response bytes, the rebuilt head of one direction) and two
 * pipes, so it is bounded by 3 x buffer size (max(max_header_size, 16k) + 4k) plus the pipes.
 */
#include "http/proxy.h"

#include <errno.h>
#include <llhttp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "core/pipe.h"
#include "http/accesslog.h"
#include "http/diag.h"
#include "http/errpage.h"
#include "http/head.h"
#include "http/pump.h"
#include "http/route.h"
#include "admin/stats.h"
#include "upstream/balance.h"
#include "upstream/upstream.h"

#define LG_ACCEPT_BUDGET   64
#define LG_ACCEPT_RETRY_MS 100
#define LG_LINGER_MS       5000
#define LG_BUF_MIN         16384
/* Room for what the rebuilt head adds (X-Forwarded-*, framing) beyond max_header_size. */
#define LG_BUF_SLACK  4096
#define LG_TRIM_MS    1000
#define LG_FREE_KEEP  256 /* connection and exchange structs kept for reuse */
#define LG_PIPE_SIZE  (1 << 20)
#define LG_PIPE_KEEP  32
#define LG_LINGER_BUF 4096
#define LG_RID_MAX    64   /* an X-Request-Id longer than this is cut in the log */
#define LG_LOGS_MAX   1024 /* request fields kept for the access log */
#define LG_RID_BYTES  16

enum { C_IDLE, C_HEAD, C_EXCHANGE, C_REPLY, C_LINGER };

typedef struct lg_txn lg_txn_t;

typedef struct lg_http_conn {
    lg_sock_t sock;
    lg_timer_t timer;
    lg_posted_t posted; /* continue after the batch; frees the connection once closed */
    lg_listener_t *ls;
    lg_txn_t *txn;
    lg_buf_t *in; /* request bytes: head, body, pipelined requests */
    struct lg_http_conn *next_free;
    uint8_t state;
    uint8_t close_after; /* close once the current response is out */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } peer;
} lg_http_conn_t;

struct lg_txn {
    lg_http_conn_t *c;
    lg_upconn_t *u;
    lg_pool_t *pool;
    lg_backend_t *be;
    lg_buf_t *uhead; /* rebuilt request head, kept until the response starts (for a retry) */
    lg_buf_t *rbuf;  /* bytes from the backend */
    lg_buf_t *chead; /* head (or error page) for the client */
    lg_pump_t up, down;
    lg_txn_t *next_free;
    uint64_t key;               /* balance: hash key of the request */
    lg_msec_t start;            /* when the request head was complete */
    uint64_t head_in, head_out; /* bytes of the request head read, of heads we wrote */
    int status;                 /* answered with (0: no response) */
    uint32_t own_body;          /* body bytes of a response of our own */
    lg_msec_t rsp_at;           /* when the response head arrived */
    char rid[LG_RID_MAX];       /* X-Request-Id (received or made) */
    char logs[LG_LOGS_MAX];     /* for the access log: method, target, referer, user agent */
    uint16_t log_target, log_referer, log_agent; /* offsets in logs[] */
    uint32_t parsed;         /* bytes of c->in (from pos) or rbuf already given to llhttp */
    uint8_t tries;           /* other backends still to try when a connect fails */
    unsigned head_done : 1;  /* llhttp paused at the end of a head */
    unsigned dispatched : 1; /* the request head was accepted and routed */
    unsigned head_only : 1;  /* HEAD request: the response has no body */
    unsigned client_ka : 1;  /* the client wants to keep the connection */
    unsigned http10 : 1;
    unsigned idempotent : 1;
    unsigned reused : 1;      /* the upstream connection came from the idle pool */
    unsigned retried : 1;     /* a retry on a fresh connection was made */
    unsigned req_done : 1;    /* request completely written to the backend */
    unsigned req_aborted : 1; /* the backend stopped taking the request body */
    unsigned rsp_started : 1; /* a byte of response arrived */
    unsigned rsp_head : 1;    /* the final response head was forwarded */
    unsigned rsp_done : 1;
    unsigned tunnel : 1;  /* bytes as they are, both ways: tcp listener, or after a 101 */
    unsigned upgrade : 1; /* the client asked to switch protocols (WebSocket) */
    llhttp_t req, rsp;    /* last: txn_new clears everything before them */
};

static const lg_config_t *conf;
static lg_timerq_t q_client_header, q_client_body, q_client_idle, q_linger, q_accept_retry, q_trim;
static lg_timer_t trim_timer;
static llhttp_settings_t req_settings, rsp_settings;
static unsigned nconns;
static int draining;
static uint64_t rid_state;
static lg_listener_t *paused_listeners;
static lg_http_conn_t *free_conns;
static lg_txn_t *free_txns;
static unsigned nfree_conns, nfree_txns;
static int released; /* memory went back to malloc since the last trim */

static void conn_run(lg_http_conn_t *c);
static void conn_close(lg_http_conn_t *c);
static void client_close(lg_http_conn_t *c);
static void reply_error(lg_http_conn_t *c, int status);
static void txn_process(lg_txn_t *t);
static void upstream_connect(lg_txn_t *t);

/* ---- exchanges */

static int on_request_head(llhttp_t *p)
{
    lg_txn_t *t = p->data;

    t->head_done = 1;
    return HPE_PAUSED;
}

/* Responses without a body are told to llhttp here (it gets 204/304 with a length wrong). */
static int on_response_head(llhttp_t *p)
{
    lg_txn_t *t = p->data;

    t->head_done = 1;
    if (p->status_code < 200 || p->status_code == 204 || p->status_code == 304 || t->head_only)
        return 1; /* no body: llhttp goes on to message complete, which pauses */
    return HPE_PAUSED;
}

/* After a bodiless response (see above): stop there, what follows is not this response's. */
static int on_bodiless_response_end(llhttp_t *p)
{
    LG_UNUSED(p);
    return HPE_PAUSED;
}

static lg_txn_t *txn_new(lg_http_conn_t *c)
{
    lg_txn_t *t = free_txns;

    if (t != NULL) {
        free_txns = t->next_free;
        nfree_txns--;
    } else if ((t = malloc(sizeof(*t))) == NULL)
        return NULL;
    memset(t, 0, offsetof(lg_txn_t, req));
    t->start = lg_now;
    t->next_free = NULL;
    t->c = c;
    llhttp_init(&t->req, HTTP_REQUEST, &req_settings);
    t->req.data = t;
    return t;
}

/* One access log line for the finished request. */
static void txn_log(lg_txn_t *t)
{
    char ip[LG_IP_STRLEN], up[LG_ADDR_STRLEN] = "", proto[16];
    lg_alog_entry_t e;

    lg_net_ip_text(&t->c->peer.sa, ip, sizeof(ip));
    if (t->be != NULL) {
        struct sockaddr_storage ss;
        socklen_t len;

        lg_be_addr(t->be->state, &ss, &len);
        lg_net_addr_text((const struct sockaddr *)&ss, up, sizeof(up));
    }
    if (t->req.http_major == 0 || lg_format(proto, sizeof(proto), "HTTP/%u.%u", t->req.http_major,
                                            t->req.http_minor) != LG_OK)
        memcpy(proto, "-", 2); /* the request line did not parse */
    e.client = ip;
    e.method = t->logs;
    e.target = t->logs + t->log_target;
    e.protocol = proto;
    e.referer = t->logs + t->log_referer;
    e.user_agent = t->logs + t->log_agent;
    e.request_id = t->rid;
    e.listener = t->c->ls->conf->name;
    e.pool = t->pool != NULL ? t->pool->conf->name : "";
    e.upstream = up;
    e.status = t->status;
    e.body_bytes = t->down.moved + t->own_body;
    e.duration_ms = lg_now - t->start;
    e.upstream_ms = t->rsp_at != 0 ? (int64_t)(t->rsp_at - t->start) : -1;
    lg_alog_write(&e);
}

/* Keep method, target, referer and user agent for the access log and error lines. */
static void txn_log_spans(lg_txn_t *t, const lg_span_t f[4])
{
    uint16_t *off[4] = {NULL, &t->log_target, &t->log_referer, &t->log_agent};
    size_t n = 0;

    for (int i = 0; i < 4; i++) {
        size_t len = LG_MIN(f[i].len, sizeof(t->logs) / 4 - 1);

        if (off[i] != NULL)
            *off[i] = (uint16_t)n;
        memcpy(t->logs + n, f[i].p, len);
        n += len;
        t->logs[n++] = '\0';
    }
}

/*
 * Keep method and target (error lines name them) and, for the access log only, referer and user
 * agent: looking those up walks the head twice more, which a request need not pay when no
 * access log is written.
 */
static void txn_log_fields(lg_txn_t *t, const lg_req_head_t *rq)
{
    lg_span_t f[4] = {rq->method, rq->target, {"", 0}, {"", 0}};

    if (lg_alog_enabled()) {
        f[2] = lg_req_head_header(rq, "referer");
        f[3] = lg_req_head_header(rq, "user-agent");
    }
    txn_log_spans(t, f);
}

/* A request answered before it was accepted (400, 405, 408, 431, ...): what its line said. */
static void txn_log_request_line(lg_txn_t *t, const lg_buf_t *in)
{
    lg_span_t f[4] = {{"", 0}, {"", 0}, {"", 0}, {"", 0}};

    lg_diag_request_line(in->data + in->pos, lg_buf_len(in), &f[0], &f[1]);
    txn_log_spans(t, f);
}

/* A new X-Request-Id: 128 random bits in hex. */
static void request_id_make(char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < LG_RID_BYTES; i += 8) {
        /* xorshift64*: fast, and seeded per worker from the kernel's randomness */
        rid_state ^= rid_state >> 12;
        rid_state ^= rid_state << 25;
        rid_state ^= rid_state >> 27;
        uint64_t r = rid_state * 0x2545F4914F6CDD1DULL;

        for (int j = 0; j < 8; j++) {
            out[2 * (i + j)] = hex[(r >> (8 * j + 4)) & 0xf];
            out[2 * (i + j) + 1] = hex[(r >> (8 * j)) & 0xf];
        }
    }
    out[2 * LG_RID_BYTES] = '\0';
}

/* Count the finished request: status class, response time, bytes; log it. */
static void txn_account(lg_txn_t *t)
{
    lg_stats_listener_t *sl = lg_stats_listener(t->c->ls->index);
    size_t pool = t->pool != NULL ? t->pool->index : SIZE_MAX;
    size_t member = t->be != NULL ? (size_t)(t->be - t->pool->backends) : SIZE_MAX;

    lg_stats_add(&sl->bytes_in, t->head_in + t->up.moved);
    lg_stats_add(&sl->bytes_out, t->head_out + t->down.moved);
    if (t->status == 0)
        return;
    lg_stats_request(t->c->ls->index, pool, member, t->status, lg_now - t->start);
    if (lg_alog_enabled())
        txn_log(t);
}

/* Release everything the exchange holds; the upstream connection is closed unless handed off. */
static void txn_free(lg_txn_t *t)
{
    txn_account(t);
    if (t->u != NULL) {
        lg_upconn_close(t->u);
        t->u = NULL;
    }
    if (t->be != NULL) {
        lg_backend_release(t->be);
        t->be = NULL;
    }
    lg_pump_release(&t->up);
    lg_pump_release(&t->down);
    lg_buf_put(&t->uhead);
    lg_buf_put(&t->rbuf);
    lg_buf_put(&t->chead);
    t->c->txn = NULL;
    if (nfree_txns >= LG_FREE_KEEP) {
        free(t); /* a burst is over: give the memory back (trim) */
        released = 1;
        return;
    }
    t->next_free = free_txns;
    free_txns = t;
    nfree_txns++;
}

static void client_timer_set(lg_http_conn_t *c, lg_timerq_t *q)
{
    lg_timer_set(q, &c->timer);
}

/* Between requests: drop the empty buffer, wait for the next one (or parse a pipelined one). */
static void conn_keepalive(lg_http_conn_t *c)
{
    if (c->in != NULL && lg_buf_len(c->in) == 0)
        lg_buf_put(&c->in);
    c->state = C_IDLE;
    client_timer_set(c, &q_client_idle);
    if (c->in != NULL || (c->sock.flags & LG_SOCK_RD))
        lg_loop_post(&c->posted);
}

/* Why the client connection closes after this exchange, for the debug log. */
static const char *close_reason(const lg_txn_t *t)
{
    if (draining)
        return "draining (reload or graceful stop)";
    if (t->tunnel)
        return "the tunnel ended";
    if (!t->client_ka)
        return t->http10 ? "HTTP/1.0 without keep-alive" : "the client sent Connection: close";
    if (!t->up.done)
        return "the request body was not read whole";
    if (!t->rsp_head)
        return "after an error answered by lifeguard";
    return "the response ends with the connection";
}

/* The exchange is over (response out): keep the client connection or close it. */
static void txn_done(lg_txn_t *t)
{
    lg_http_conn_t *c = t->c;

    /* Draining: a response that promised keep-alive is honoured; the next one closes. */
    if (c->close_after) {
        if (lg_debug_on())
            lg_diag_conn(&c->peer.sa, "closing after the response: %s", close_reason(t));
        client_close(c);
        return;
    }
    txn_free(t);
    conn_keepalive(c);
}

/*
 * The backend's Connection header and version let the connection stay open. Where the body
 * ends is our framing's call (down.mode), not llhttp's: llhttp 8.1 takes "chunked<TAB>" for a
 * close-delimited body.
 */
static int backend_keeps_alive(const lg_txn_t *t)
{
    if (t->rsp.http_minor >= 1)
        return !(t->rsp.flags & F_CONNECTION_CLOSE);
    return (t->rsp.flags & F_CONNECTION_KEEP_ALIVE) != 0;
}

/* NULL when the upstream connection may go back to the idle pool; else why not. */
static const char *upstream_unreusable(const lg_txn_t *t)
{
    if (!t->req_done || t->req_aborted)
        return "the request was not sent whole";
    if (t->down.mode == LG_BODY_EOF)
        return "the response ended with the connection";
    if (!backend_keeps_alive(t))
        return "the backend does not keep it alive";
    if (t->rbuf != NULL && lg_buf_len(t->rbuf) != 0)
        return "bytes after the response";
    return NULL;
}

static void txn_finish(lg_txn_t *t)
{
    const char *why = upstream_unreusable(t);

    if (why == NULL) {
        lg_upconn_release(t->u);
    } else {
        lg_debug("upstream %s: closing the connection: %s", lg_backend_name(t->be), why);
        lg_upconn_close(t->u);
    }
    t->u = NULL;
    txn_done(t);
}

static int retry_allowed(const lg_txn_t *t)
{
    return t->reused && !t->retried && !t->rsp_started && t->idempotent &&
           t->up.mode == LG_BODY_NONE;
}

/* The debug line of a pick: which backend and why. */
static void pick_debug(const lg_txn_t *t, const lg_backend_t *be, const char *what)
{
    char why[LG_DIAG_WHY_MAX];

    lg_debug("pool %s: backend %s picked%s (%s)", t->pool->conf->name,
             be != NULL ? lg_backend_name(be) : "(none usable)", what,
             lg_diag_pick(t->pool->conf, t->key, why, sizeof(why)));
}

/* A backend of the exchange's pool for a new exchange. */
static lg_backend_t *txn_pick(lg_txn_t *t)
{
    lg_backend_t *be = lg_upstream_pick(t->pool, NULL, t->key);

    pick_debug(t, be, "");
    return be;
}

/* What an error line says about the exchange: pool, client, request line (as nginx does). */
static const char *txn_context(const lg_txn_t *t, char *buf, size_t len)
{
    lg_diag_req_t r = {t->pool != NULL ? t->pool->conf->name : NULL,
                       &t->c->peer.sa,
                       t->logs,
                       t->logs + t->log_target,
                       t->req.http_major,
                       t->req.http_minor};

    return lg_diag_context(&r, buf, len);
}

/* The line for a backend failure, before the ejection it may cause is logged. */
static void upstream_fail_log(const lg_txn_t *t, const char *what, int err, int retrying)
{
    char ctx[LG_DIAG_MAX];
    const char *phase = t->u->connecting ? " while connecting to upstream" : "";

    txn_context(t, ctx, sizeof(ctx));
    if (err != 0)
        lg_log(LG_LOG_ERR, "%s %s failed (%d: %s)%s%s%s", what, lg_backend_name(t->be), err,
               strerror(err), phase, ctx, retrying ? ", trying another backend" : "");
    else
        lg_log(LG_LOG_ERR, "%s %s%s%s", what, lg_backend_name(t->be), ctx,
               retrying ? ", trying another backend" : "");
}

/*
 * The backend failed before a response reached the client. A reused keep-alive connection
 * that the backend had closed is retried once on a fresh connection (idempotent requests
 * without a body); a failed connect moves on to another backend while tries remain; otherwise
 * the client gets `status`.
 */
static void upstream_fail(lg_txn_t *t, int status, const char *what, int err)
{
    lg_upconn_t *u = t->u;
    int connect_failed = u->connecting, safe;
    lg_backend_t *next;

    if (retry_allowed(t)) {
        lg_log(LG_LOG_INFO, "keep-alive connection to %s closed by the backend (%s), retrying",
               lg_backend_name(t->be), what);
        t->retried = 1;
        lg_stats_add(&lg_stats_pool(t->pool->index)->retries, 1);
        goto retry;
    }
    /*
     * Another backend may take the request when nothing was sent yet (the body waits in the
     * buffer until the connect completes), or when an idempotent request without a body got
     * no response byte at all (the backend closed or reset: it may be going away).
     */
    safe = connect_failed || (!t->rsp_started && t->idempotent && t->up.mode == LG_BODY_NONE);
    next = safe && t->tries > 0 ? lg_upstream_pick(t->pool, t->be, t->key) : NULL;
    if (next == t->be)
        next = NULL;
    upstream_fail_log(t, what, err, next != NULL);
    lg_backend_failed(t->be, err != 0 ? strerror(err) : what);
    if (next == NULL) {
        if (t->tunnel)
            conn_close(t->c); /* no HTTP to answer with */
        else
            reply_error(t->c, status);
        return;
    }
    pick_debug(t, next, " for a retry");
    t->tries--;
    lg_stats_add(&lg_stats_pool(t->pool->index)->retries, 1);
    lg_backend_release(t->be);
    lg_backend_acquire(next);
    t->be = next;
retry:
    lg_upconn_close(u);
    t->u = NULL;
    if (t->uhead != NULL)
        t->uhead->pos = 0;
    t->req_done = 0;
    upstream_connect(t);
}

static void upstream_timeout(lg_timer_t *timer)
{
    lg_upconn_t *u = lg_container_of(timer, lg_upconn_t, timer);
    lg_txn_t *t = u->owner;

    if (u->connecting) {
        upstream_fail(t, 504, "connect() to", ETIMEDOUT);
    } else if (!t->rsp_head) {
        char ctx[LG_DIAG_MAX];

        lg_log(LG_LOG_ERR, "upstream %s timed out %s%s", lg_backend_name(t->be),
               t->req_done ? "waiting for the response head" : "taking the request body",
               txn_context(t, ctx, sizeof(ctx)));
        lg_backend_failed(t->be, "response timed out");
        reply_error(t->c, 504);
    } else if (!(t->c->sock.flags & LG_SOCK_WR)) { /* a slow reader: not the backend's doing */
        lg_log(LG_LOG_INFO, "client stopped reading the response (upstream_response timeout)");
        conn_close(t->c);
    } else {
        lg_log(LG_LOG_ERR, "upstream %s timed out relaying the response", lg_backend_name(t->be));
        conn_close(t->c);
    }
}

static void upstream_event(lg_io_t *io, uint32_t ev)
{
    lg_upconn_t *u = (lg_upconn_t *)(void *)io;

    if (u->sock.flags & LG_SOCK_CLOSED)
        return;
    lg_sock_events(&u->sock, ev);
    if (u->owner != NULL)
        txn_process(u->owner);
}

static void upstream_connect(lg_txn_t *t)
{
    int reused;
    lg_upconn_t *u = lg_upconn_get(t->be, t, upstream_event, &reused);

    if (u == NULL) {
        int err = errno;
        char ctx[LG_DIAG_MAX];

        lg_log(LG_LOG_ERR, "connect() to %s failed (%d: %s) while connecting to upstream%s",
               lg_backend_name(t->be), err, strerror(err), txn_context(t, ctx, sizeof(ctx)));
        reply_error(t->c, 502);
        return;
    }
    t->u = u;
    t->reused = reused != 0;
    lg_debug("upstream %s: %s connection (exchanges on it before: %u)", lg_backend_name(t->be),
             reused ? "reusing an idle keep-alive" : "new", u->requests);
    t->up.dst = &u->sock;
    t->down.src = &u->sock;
    u->timer.handler = upstream_timeout;
    lg_timer_set(u->connecting ? &lg_q_connect : &lg_q_upstream_response, &u->timer);
    txn_process(t);
}

/*
 * The request's chunked body is malformed (400) or over max_body_size (413): answered with
 * close while no response started, else the client connection is closed. The upstream
 * connection, which may hold part of the body, is closed either way, never reused.
 */
static void request_body_bad(lg_txn_t *t)
{
    lg_http_conn_t *c = t->c;
    int over = lg_pump_over_limit(&t->up);

    lg_log(LG_LOG_INFO, "client sent %s chunked body%s%s", over ? "a too large" : "an invalid",
           over ? "" : ": ", over ? "" : t->up.chunk.why);
    if (t->rsp_head) {
        conn_close(c);
        return;
    }
    c->close_after = 1;
    reply_error(c, over ? 413 : 400);
}

/*
 * The backend's chunked body is malformed: 502 while nothing of the response reached the
 * client, else the client connection is closed (it sees a response cut short, never a clean
 * end). The upstream connection is closed either way, never reused.
 */
static void response_body_bad(lg_txn_t *t)
{
    lg_log(LG_LOG_ERR, "upstream %s sent an invalid chunked body: %s", lg_backend_name(t->be),
           t->down.chunk.why);
    lg_backend_failed(t->be, "invalid chunked body");
    if (t->down.out == 0)
        reply_error(t->c, 502);
    else
        conn_close(t->c);
}

/* Append the response head rebuilt with `rb` to t->chead; its length, 0 if it cannot. */
static size_t chead_append(lg_txn_t *t, const lg_rsp_head_t *rs, const lg_rsp_build_t *rb)
{
    size_t n;

    if (t->chead == NULL && (t->chead = lg_buf_get()) == NULL)
        return 0;
    n = lg_rsp_head_build(rs, rb, t->chead->data + t->chead->last, lg_buf_room(t->chead));
    t->chead->last += (uint32_t)n;
    return n;
}

/*
 * The final response head (rbuf[pos .. pos+hlen)) is in t->chead: the backend answered, the
 * rebuilt request head goes back, and the down pump relays the body in `mode`.
 */
static int response_start(lg_txn_t *t, uint32_t hlen, lg_body_t mode, uint64_t length)
{
    lg_buf_t *b = t->rbuf;

    t->status = t->rsp.status_code;
    t->rsp_at = lg_now;
    b->pos += hlen;
    t->rsp_head = 1;
    t->up.head = NULL; /* the rebuilt request head was written whole: it goes back now */
    lg_buf_put(&t->uhead);
    lg_backend_ok(t->be);
    t->down.dst = &t->c->sock;
    t->down.buf = &t->rbuf;
    t->down.head = t->chead;
    return lg_pump_start(&t->down, mode, length, (uint32_t)lg_buf_len(b));
}

/* A 1xx response: forwarded at once to an HTTP/1.1 client, then the final one is awaited. */
static int interim_response(lg_txn_t *t, const lg_rsp_head_t *rs)
{
    lg_rsp_build_t b = {0};
    lg_http_conn_t *c = t->c;

    if (!t->http10) {
        if (chead_append(t, rs, &b) == 0)
            return LG_ERR;
        if (c->sock.flags & LG_SOCK_WR) {
            struct iovec iov = {t->chead->data + t->chead->pos, lg_buf_len(t->chead)};
            ssize_t w = lg_sock_writev(&c->sock, &iov, 1);

            if (w > 0)
                t->chead->pos += (uint32_t)w;
        }
    }
    llhttp_init(&t->rsp, HTTP_RESPONSE, &rsp_settings);
    t->rsp.data = t;
    t->head_done = 0;
    return LG_OK;
}

/*
 * A 101 to a request that asked to upgrade (WebSocket): forward it, then relay both ways as a
 * tunnel; frames the client sent after its request are already in c->in.
 */
static int switch_protocols(lg_txn_t *t, const lg_rsp_head_t *rs, uint32_t hlen)
{
    lg_rsp_build_t rb = {.upgrade = 1};
    lg_http_conn_t *c = t->c;
    size_t n;

    if (!lg_rsp_upgrade_agreed(rs, t->uhead->data, t->uhead->last))
        return LG_ERR; /* a protocol the client did not ask for */
    n = chead_append(t, rs, &rb);
    if (n == 0)
        return LG_ERR;
    t->head_out += n;
    t->tunnel = 1;
    c->close_after = 1;
    response_start(t, hlen, LG_BODY_EOF, 0);
    t->req_done = 0;
    lg_pump_start(&t->up, LG_BODY_EOF, 0, c->in != NULL ? (uint32_t)lg_buf_len(c->in) : 0);
    lg_loop_post(&c->posted); /* the client's side may have bytes waiting already */
    return LG_OK;
}

/*
 * The final response head is in rbuf[pos .. pos+hlen): rebuild it and start the body. LG_OK,
 * LG_AGAIN after a 1xx, LG_ERR (the head is unacceptable), LG_PUMP_EBAD (the body's first
 * bytes were malformed: already answered).
 */
static int response_head(lg_txn_t *t, uint32_t hlen)
{
    lg_http_conn_t *c = t->c;
    lg_buf_t *b = t->rbuf;
    lg_rsp_build_t rb = {0};
    lg_rsp_head_t rs;
    lg_body_t mode;
    uint64_t length = 0;
    size_t n;

    if (lg_rsp_head_scan(&rs, b->data + b->pos, hlen) != LG_OK)
        return LG_ERR;
    if (t->rsp.status_code == 101)
        return t->upgrade ? switch_protocols(t, &rs, hlen) : LG_ERR;
    if (t->rsp.status_code < 200) {
        b->pos += hlen;
        t->parsed = 0;
        return interim_response(t, &rs) == LG_OK ? LG_AGAIN : LG_ERR;
    }
    if (t->head_only || t->rsp.status_code == 204 || t->rsp.status_code == 304)
        mode = LG_BODY_NONE;
    else if (rs.te == LG_TE_CHUNKED || rs.te == LG_TE_CODED)
        mode = t->http10 ? LG_BODY_DECHUNK : LG_BODY_CHUNKED;
    else if (rs.te == LG_TE_CLOSE)
        mode = LG_BODY_EOF; /* RFC 9112 6.3: a list not ending in chunked */
    else if (t->rsp.flags & F_CONTENT_LENGTH)
        mode = LG_BODY_LENGTH, length = t->rsp.content_length;
    else
        mode = LG_BODY_EOF;

    c->close_after =
        !t->client_ka || !t->up.done || mode == LG_BODY_EOF || mode == LG_BODY_DECHUNK || draining;
    rb.keep_chunked = mode == LG_BODY_CHUNKED;
    rb.keep_codings = mode != LG_BODY_NONE;
    rb.close = c->close_after;
    rb.keep_alive = !c->close_after && t->http10;
    n = chead_append(t, &rs, &rb);
    if (n == 0)
        return LG_ERR;
    t->head_out += n;
    if (response_start(t, hlen, mode, length) == LG_OK)
        return LG_OK;
    response_body_bad(t);
    return LG_PUMP_EBAD;
}

/*
 * Read and parse the response head. LG_OK once the final head is forwarded to the pump,
 * LG_AGAIN when waiting, LG_ERR when the exchange was ended here (error already answered).
 */
static int response_read(lg_txn_t *t)
{
    lg_upconn_t *u = t->u;
    const char *why;

    for (;;) {
        lg_buf_t *b = t->rbuf;

        if (b != NULL && t->parsed < lg_buf_len(b)) {
            const char *start = b->data + b->pos + t->parsed;
            size_t n = lg_buf_len(b) - t->parsed;
            llhttp_errno_t err = llhttp_execute(&t->rsp, start, n);

            if (err == HPE_PAUSED && t->head_done) {
                uint32_t hlen = (uint32_t)(llhttp_get_error_pos(&t->rsp) - (b->data + b->pos));
                int r = response_head(t, hlen);

                if (r == LG_OK)
                    return LG_OK;
                if (r == LG_AGAIN)
                    continue; /* after a 1xx */
                if (r == LG_PUMP_EBAD)
                    return LG_ERR; /* answered */
                why = "upstream sent an invalid response head:";
                goto fail;
            }
            if (err != HPE_OK) {
                lg_log(LG_LOG_ERR, "upstream %s sent an invalid response: %s",
                       lg_backend_name(t->be), llhttp_get_error_reason(&t->rsp));
                reply_error(t->c, 502);
                return LG_ERR;
            }
            t->parsed += (uint32_t)n;
        }
        if (!(u->sock.flags & LG_SOCK_RD))
            return LG_AGAIN;
        if (b == NULL) {
            if ((b = t->rbuf = lg_buf_get()) == NULL) {
                why = "out of memory reading the response from";
                goto fail;
            }
        } else if (lg_buf_room(b) == 0) {
            if (b->pos == 0) {
                why = "upstream sent a response head larger than the buffer:";
                goto fail;
            }
            lg_buf_compact(b);
        }
        {
            ssize_t n = lg_sock_read(&u->sock, b->data + b->last, lg_buf_room(b));

            if (n == LG_AGAIN) {
                if (lg_buf_len(b) == 0)
                    lg_buf_put(&t->rbuf);
                return LG_AGAIN;
            }
            if (n <= 0) {
                upstream_fail(t, 502,
                              n == 0 ? "upstream closed the connection before responding:"
                                     : "reading the response from",
                              n == 0 ? 0 : errno);
                return LG_ERR;
            }
            t->rsp_started = 1;
            b->last += (uint32_t)n;
        }
    }

fail:
    upstream_fail(t, 502, why, 0);
    return LG_ERR;
}

/* Run a pump; a spent budget (more to do, no new event coming) continues after the batch. */
static int pump(lg_http_conn_t *c, lg_pump_t *p)
{
    int r = lg_pump_run(p);

    if (r != LG_PUMP_YIELD)
        return r;
    lg_loop_post(&c->posted);
    return LG_AGAIN;
}

/*
 * Arm the timer of the side the exchange waits for. While the client is still sending a request
 * body that the backend takes as it comes, only client_body runs, refreshed whenever the body
 * moves: a slow client never counts against the backend. Once the body is all read, or the
 * backend stops taking it, or a response is being relayed (tunnels too), upstream_response runs,
 * refreshed whenever either body moves; before the response head its expiry is a backend failure.
 */
static void txn_timers(lg_txn_t *t)
{
    lg_upconn_t *u = t->u;
    int moved = t->up.progress | t->down.progress;

    t->up.progress = t->down.progress = 0;
    if (t->up.done || t->tunnel || (t->rsp_head && !t->rsp_done) || !(u->sock.flags & LG_SOCK_WR)) {
        lg_timer_del(&t->c->timer);
        if (moved || !lg_timer_armed(&u->timer))
            lg_timer_set(&lg_q_upstream_response, &u->timer);
    } else {
        lg_timer_del(&u->timer);
        if (moved || !lg_timer_armed(&t->c->timer))
            client_timer_set(t->c, &q_client_body);
    }
}

/*
 * Drive the exchange as far as readiness allows. Called on any event of either socket; every
 * step checks the readiness flags first, so a call with nothing to do costs no system call.
 */
static void txn_process(lg_txn_t *t)
{
    lg_http_conn_t *c = t->c;
    lg_upconn_t *u = t->u;
    int r;

    if (u->connecting) {
        if (!(u->sock.flags & (LG_SOCK_WR | LG_SOCK_HUP)))
            return;
        if (lg_upconn_connected(u) != LG_OK) {
            upstream_fail(t, 502, "connect() to", errno);
            return;
        }
        lg_timer_del(&u->timer); /* txn_timers() arms the one that applies now */
    }

    if (!t->req_done) {
        r = pump(c, &t->up);
        switch (r) {
        case LG_OK:
            t->req_done = 1;
            if (t->tunnel)
                shutdown(u->sock.io.fd, SHUT_WR); /* pass the client's half-close on */
            break;
        case LG_AGAIN:
            break;
        case LG_PUMP_EDST:
            if (!t->rsp_started) {
                upstream_fail(t, 502, "sending the request to", errno);
                return;
            }
            t->req_done = 1;
            t->req_aborted = 1;
            c->close_after = 1;
            break;
        case LG_PUMP_EBAD:
            request_body_bad(t);
            return;
        default: /* the client went away mid-body, or no memory */
            lg_log(LG_LOG_INFO, "client closed the connection while sending the request body");
            conn_close(c);
            return;
        }
    }

    if (!t->rsp_head && (r = response_read(t)) != LG_OK) {
        if (r == LG_AGAIN) /* else the exchange was ended there */
            txn_timers(t);
        return;
    }

    r = pump(c, &t->down);
    switch (r) {
    case LG_OK:
        if (!t->rsp_done && t->tunnel)
            shutdown(c->sock.io.fd, SHUT_WR); /* and the backend's */
        t->rsp_done = 1;
        break;
    case LG_AGAIN:
        break;
    case LG_PUMP_EDST:
        lg_log(LG_LOG_INFO, "client closed the connection while receiving the response");
        conn_close(c);
        return;
    case LG_PUMP_EBAD:
        response_body_bad(t);
        return;
    default:
        lg_log(LG_LOG_ERR, "upstream %s closed the connection while sending the response",
               lg_backend_name(t->be));
        conn_close(c);
        return;
    }
    txn_timers(t);
    if (t->rsp_done && t->req_done)
        txn_finish(t);
}

/* ---- requests */

static int method_idempotent(uint8_t m)
{
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_TRACE ||
           m == HTTP_PUT || m == HTTP_DELETE;
}

/* Check the request head; returns 0 or the status to answer with. */
static int request_check(lg_txn_t *t, lg_req_head_t *rq, uint32_t hlen, lg_body_t *mode)
{
    lg_http_conn_t *c = t->c;
    int status;

    if (hlen > conf->limits.max_header_size)
        return 431;
    if (t->req.http_major != 1) /* 0: an HTTP/0.9 line, or a tab taken for part of the target */
        return t->req.http_major == 0 ? 400 : 505;
    if (t->req.method == HTTP_CONNECT)
        return 405;
    status = lg_req_head_scan(rq, c->in->data + c->in->pos, hlen, t->req.http_minor);
    if (status != 0)
        return status;
    /*
     * The normalised target is written into chead's memory, unused (empty) until a response
     * head is appended there; dispatch() gives it back once the request head is rebuilt, so an
     * exchange still holds at most three buffers.
     */
    if (t->chead == NULL && (t->chead = lg_buf_get()) == NULL)
        return 503;
    status = lg_req_head_target(rq, t->chead->data, lg_buf_size());
    if (status != 0)
        return status;
    *mode = LG_BODY_NONE;
    if (rq->te == LG_TE_CHUNKED) {
        *mode = LG_BODY_CHUNKED;
        /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing: close after. */
        if (t->http10)
            t->client_ka = 0;
    } else if ((t->req.flags & F_CONTENT_LENGTH) && t->req.content_length > 0) {
        *mode = LG_BODY_LENGTH;
        if (conf->limits.max_body_size != 0 && t->req.content_length > conf->limits.max_body_size)
            return 413;
    }
    return 0;
}

/*
 * What balance: hash hashes: the configured key; LG_BAL_NO_KEY when the request has no such
 * header or cookie (it goes by round robin, as in HAProxy).
 */
static uint64_t hash_key(const lg_pool_conf_t *pc, const lg_req_head_t *rq, const char *ip)
{
    lg_span_t v = {ip, strlen(ip)};

    switch (pc->hash_key) {
    case LG_HASH_URI:
        v = rq->path;
        break;
    case LG_HASH_HEADER:
        v = lg_req_head_header(rq, pc->hash_key_name);
        break;
    case LG_HASH_COOKIE:
        v = lg_req_head_cookie(rq, pc->hash_key_name);
        break;
    default:
        break;
    }
    if (v.len == 0)
        return LG_BAL_NO_KEY;
    return lg_bal_hash(v.p, v.len);
}

/* The request head is c->in[pos .. pos+hlen): check it, route it, start the exchange. */
static void dispatch(lg_txn_t *t, uint32_t hlen)
{
    lg_http_conn_t *c = t->c;
    const lg_route_conf_t *route;
    lg_req_head_t rq;
    lg_req_build_t rb = {0};
    lg_body_t mode = LG_BODY_NONE;
    char ip[LG_IP_STRLEN];
    lg_pool_t *pool;
    int status;
    size_t n;

    t->start = lg_now;
    t->head_in = hlen;
    t->head_only = t->req.method == HTTP_HEAD;
    t->http10 = t->req.http_minor == 0;
    t->client_ka = llhttp_should_keep_alive(&t->req) != 0;
    t->idempotent = method_idempotent(t->req.method) != 0;
    lg_timer_del(&c->timer);
    c->state = C_EXCHANGE;

    status = request_check(t, &rq, hlen, &mode);
    if (status != 0) {
        reply_error(c, status);
        return;
    }
    if (rq.request_id.len == 0) {
        request_id_make(t->rid);
    } else {
        size_t len = LG_MIN(rq.request_id.len, sizeof(t->rid) - 1);

        memcpy(t->rid, rq.request_id.p, len);
        t->rid[len] = '\0';
    }
    txn_log_fields(t, &rq); /* for the access log and the context of error lines */
    /* From here the head is consumed and the body (if any) belongs to the pump. */
    t->dispatched = 1;
    c->in->pos += hlen;
    t->up.src = &c->sock;
    t->up.buf = &c->in;
    t->up.limit = conf->limits.max_body_size;
    if (lg_pump_start(&t->up, mode, t->req.content_length, (uint32_t)lg_buf_len(c->in)) != LG_OK) {
        request_body_bad(t); /* before anything went to a backend */
        return;
    }

    route = lg_route_match(c->ls->conf, rq.host, rq.path);
    if (lg_debug_on())
        lg_diag_routed(conf, c->ls->conf, route, rq.host, rq.path);
    if (route == NULL) {
        reply_error(c, 404);
        return;
    }
    pool = t->pool = lg_upstream_pool(route->pool);
    lg_net_ip_text(&c->peer.sa, ip, sizeof(ip));
    if (pool->conf->balance == LG_BALANCE_HASH)
        t->key = hash_key(pool->conf, &rq, ip);
    t->be = txn_pick(t);
    if (t->be == NULL) {
        lg_log(LG_LOG_ERR, "no backend of pool %s is up", pool->conf->name);
        lg_stats_add(&lg_stats_pool(pool->index)->no_backend, 1);
        reply_error(c, 503);
        return;
    }
    lg_backend_acquire(t->be);
    t->tries = (uint8_t)LG_MIN(pool->conf->retries, (unsigned)UINT8_MAX);

    rb.client_ip = ip;
    rb.proto = "http";
    rb.default_host = t->be->conf->addr.text;
    rb.chunked = mode == LG_BODY_CHUNKED;
    rb.has_length = (t->req.flags & F_CONTENT_LENGTH) != 0;
    rb.length = t->req.content_length;
    rb.close = pool->conf->keepalive_max_idle == 0;
    rb.request_id = rq.request_id.len == 0 ? t->rid : NULL;
    t->upgrade = rq.upgrade && mode == LG_BODY_NONE;
    rb.upgrade = t->upgrade;
    if ((t->uhead = lg_buf_get()) == NULL) {
        conn_close(c);
        return;
    }
    n = lg_req_head_build(&rq, &rb, t->uhead->data, lg_buf_size());
    if (n == 0) {
        reply_error(c, 431);
        return;
    }
    t->uhead->last = (uint32_t)n;
    t->up.head = t->uhead;
    lg_buf_put(&t->chead); /* it held the normalised target; the response takes one again */

    llhttp_init(&t->rsp, HTTP_RESPONSE, &rsp_settings);
    t->rsp.data = t;
    t->head_done = 0;
    t->parsed = 0;
    upstream_connect(t);
}

/* The answer to a request llhttp refused: 505 for a well-formed version other than 1.x. */
static int parse_error_status(const lg_buf_t *b, llhttp_errno_t err)
{
    const char *p = b->data + b->pos, *eol = memchr(p, '\r', lg_buf_len(b)), *sp;
    lg_span_t version;

    if (err != HPE_INVALID_VERSION || eol == NULL ||
        (sp = memrchr(p, ' ', (size_t)(eol - p))) == NULL)
        return 400;
    version.p = sp + 1;
    version.len = (size_t)(eol - version.p);
    return lg_field_is_http_version(version) ? 505 : 400;
}

/*
 * RFC 9112 2.2: empty lines (CRLF) before a request line are ignored, as a client may send one
 * after a body. LG_AGAIN while only empty lines (or a CR) have arrived.
 */
static int skip_empty_lines(lg_buf_t *b)
{
    while (lg_buf_len(b) >= 2 && b->data[b->pos] == '\r' && b->data[b->pos + 1] == '\n')
        b->pos += 2;
    if (lg_buf_len(b) == 0 || (lg_buf_len(b) == 1 && b->data[b->pos] == '\r'))
        return LG_AGAIN;
    return LG_OK;
}

/* Parse what c->in holds of a request head. LG_OK: dispatched or answered; LG_AGAIN: more. */
static int head_parse(lg_http_conn_t *c)
{
    lg_txn_t *t = c->txn;
    lg_buf_t *b = c->in;
    const char *start;
    size_t len;
    llhttp_errno_t err;

    if (t->parsed == 0 && skip_empty_lines(b) == LG_AGAIN)
        return LG_AGAIN;
    start = b->data + b->pos + t->parsed;
    len = lg_buf_len(b) - t->parsed;
    err = llhttp_execute(&t->req, start, len);

    if (err == HPE_PAUSED && t->head_done) {
        dispatch(t, (uint32_t)(llhttp_get_error_pos(&t->req) - (b->data + b->pos)));
        return LG_OK;
    }
    if (err != HPE_OK) {
        lg_log(LG_LOG_INFO, "client sent an invalid request: %s", llhttp_get_error_reason(&t->req));
        reply_error(c, parse_error_status(b, err));
        return LG_OK;
    }
    t->parsed += (uint32_t)len;
    if (lg_buf_len(b) >= conf->limits.max_header_size) {
        reply_error(c, 431);
        return LG_OK;
    }
    return LG_AGAIN;
}

/* Read and parse a request head (state IDLE or HEAD). */
static void head_read(lg_http_conn_t *c)
{
    for (;;) {
        lg_buf_t *b = c->in;
        ssize_t n;

        if (b != NULL && lg_buf_len(b) > 0) {
            if (c->txn == NULL) {
                if ((c->txn = txn_new(c)) == NULL) {
                    conn_close(c);
                    return;
                }
                c->state = C_HEAD;
                client_timer_set(c, &q_client_header);
            }
            if (c->txn->parsed < lg_buf_len(b) && head_parse(c) == LG_OK)
                return;
        }
        if (!(c->sock.flags & LG_SOCK_RD))
            return;
        if (b == NULL) {
            if ((b = c->in = lg_buf_get()) == NULL) {
                conn_close(c);
                return;
            }
        } else if (lg_buf_room(b) == 0) {
            lg_buf_compact(b);
        }
        n = lg_sock_read(&c->sock, b->data + b->last, lg_buf_room(b));
        if (n == LG_AGAIN) {
            if (lg_buf_len(b) == 0)
                lg_buf_put(&c->in);
            return;
        }
        if (n <= 0) {
            if (c->state == C_HEAD)
                lg_log(LG_LOG_INFO, "client closed the connection while sending a request head");
            else if (lg_debug_on())
                lg_diag_conn(&c->peer.sa, "closed by the client between requests");
            conn_close(c);
            return;
        }
        b->last += (uint32_t)n;
    }
}

/* ---- responses of our own, closing */

static void reply_flush(lg_http_conn_t *c)
{
    lg_txn_t *t = c->txn;
    struct iovec iov;
    ssize_t n;

    if (!(c->sock.flags & LG_SOCK_WR))
        return;
    iov.iov_base = t->chead->data + t->chead->pos;
    iov.iov_len = lg_buf_len(t->chead);
    n = lg_sock_writev(&c->sock, &iov, 1);
    if (n < 0) {
        conn_close(c);
        return;
    }
    t->chead->pos += (uint32_t)n;
    if (lg_buf_len(t->chead) == 0)
        txn_done(t);
}

/*
 * Answer the current request with `status` and end its exchange (closing any upstream
 * connection). The connection stays open only when the whole request was read and the error
 * is about the backend or the route, never about the request itself.
 */
static void reply_error(lg_http_conn_t *c, int status)
{
    lg_txn_t *t = c->txn;
    size_t n;

    if (!t->dispatched && t->logs[0] == '\0' && c->in != NULL)
        txn_log_request_line(t, c->in);
    if (t->u != NULL) {
        lg_upconn_close(t->u);
        t->u = NULL;
    }
    lg_pump_release(&t->up);
    lg_pump_release(&t->down);
    lg_buf_put(&t->rbuf);
    lg_buf_put(&t->uhead);
    if (draining || !t->dispatched || !t->client_ka || !t->up.done || status < 404 ||
        status == 405 || status == 413 || status == 431 || status >= 505 || status == 501)
        c->close_after = 1;
    else if (c->in != NULL)
        c->in->pos += t->up.pending; /* a body read whole but not forwarded */
    t->up.pending = 0;
    if (t->chead == NULL && (t->chead = lg_buf_get()) == NULL) {
        conn_close(c);
        return;
    }
    t->chead->pos = t->chead->last = 0;
    n = lg_errpage(status, !c->close_after, t->head_only, t->chead->data, lg_buf_size());
    t->chead->last = (uint32_t)n;
    t->head_out += n;
    t->status = status;
    {
        const char *end = memmem(t->chead->data, n, "\r\n\r\n", 4);

        t->own_body = end != NULL ? (uint32_t)(n - (size_t)(end + 4 - t->chead->data)) : 0;
    }
    c->state = C_REPLY;
    client_timer_set(c, &q_client_idle);
    reply_flush(c);
}

/* Discard what the client still sends after our last response, so no RST destroys it. */
static void linger_read(lg_http_conn_t *c)
{
    char sink[LG_LINGER_BUF];

    while (c->sock.flags & LG_SOCK_RD) {
        ssize_t n = lg_sock_read(&c->sock, sink, sizeof(sink));

        if (n == 0 || n == LG_ERR) {
            conn_close(c);
            return;
        }
    }
}

/*
 * Close after a response, ending the exchange: lingering when the client may still be sending
 * (bytes buffered or readable, or a request body not read to its end).
 */
static void client_close(lg_http_conn_t *c)
{
    lg_txn_t *t = c->txn;
    int unread = (c->in != NULL && lg_buf_len(c->in) > 0) || (c->sock.flags & LG_SOCK_RD) ||
                 (t != NULL && t->dispatched && !t->up.done);

    if (c->txn != NULL)
        txn_free(c->txn);
    if (!unread || shutdown(c->sock.io.fd, SHUT_WR) < 0) {
        conn_close(c);
        return;
    }
    lg_buf_put(&c->in);
    c->state = C_LINGER;
    client_timer_set(c, &q_linger);
    linger_read(c);
}

static void conn_put(lg_http_conn_t *c)
{
    if (nfree_conns >= LG_FREE_KEEP) {
        free(c);
        released = 1;
        return;
    }
    c->next_free = free_conns;
    free_conns = c;
    nfree_conns++;
}

static void conn_free(lg_posted_t *p)
{
    lg_http_conn_t *c = lg_container_of(p, lg_http_conn_t, posted);

    if (!(c->sock.flags & LG_SOCK_CLOSED)) {
        conn_run(c);
        return;
    }
    conn_put(c);
}

static void listeners_resume(void)
{
    while (paused_listeners != NULL && nconns < conf->limits.max_connections) {
        lg_listener_t *ls = paused_listeners;

        paused_listeners = ls->next_paused;
        ls->paused = 0;
        lg_loop_post(&ls->posted);
    }
}

/* Close now: the exchange (and its upstream connection) is dropped, the struct freed later. */
static void conn_close(lg_http_conn_t *c)
{
    if (c->sock.flags & LG_SOCK_CLOSED)
        return;
    if (c->txn != NULL)
        txn_free(c->txn);
    lg_buf_put(&c->in);
    lg_timer_del(&c->timer);
    close(c->sock.io.fd);
    c->sock.flags |= LG_SOCK_CLOSED;
    nconns--;
    lg_stats_add(&lg_stats_listener(c->ls->index)->conns_active, (uint64_t)-1);
    lg_loop_post(&c->posted);
    if (draining && nconns == 0)
        lg_loop_stop();
    listeners_resume();
}

static void conn_timeout(lg_timer_t *timer)
{
    lg_http_conn_t *c = lg_container_of(timer, lg_http_conn_t, timer);

    if (c->state == C_EXCHANGE) { /* client_body: the upstream connection closes, no failure */
        lg_log(LG_LOG_INFO, "client timed out sending the request body");
        if (c->txn->rsp_head)
            conn_close(c);
        else
            reply_error(c, 408);
        return;
    }

    if (c->state == C_HEAD && c->txn != NULL && c->in != NULL && lg_buf_len(c->in) > 0) {
        lg_log(LG_LOG_INFO, "client timed out sending the request head");
        c->close_after = 1;
        {
            reply_error(c, 408);
            return;
        }
    }
    if (lg_debug_on()) {
        static const char *const why[] = {
            [C_IDLE] = "nothing received within timeouts.client_idle (client_header when new)",
            [C_HEAD] = "no request head within timeouts.client_header",
            [C_EXCHANGE] = "timed out",
            [C_REPLY] = "the client did not take our reply within timeouts.client_idle",
            [C_LINGER] = "lingering close over",
        };

        lg_diag_conn(&c->peer.sa, "closing: %s", why[c->state]);
    }
    conn_close(c);
}

static void conn_run(lg_http_conn_t *c)
{
    switch (c->state) {
    case C_IDLE:
    case C_HEAD: {
        head_read(c);
        return;
    }
    case C_EXCHANGE: {
        txn_process(c->txn);
        return;
    }
    case C_REPLY: {
        reply_flush(c);
        return;
    }
    default: {
        linger_read(c);
        return;
    }
    }
}

static void client_event(lg_io_t *io, uint32_t ev)
{
    lg_http_conn_t *c = (lg_http_conn_t *)(void *)io;

    if (c->sock.flags & LG_SOCK_CLOSED)
        return;
    lg_sock_events(&c->sock, ev);
    /*
     * The client closed while its request is being answered. Like nginx, that aborts the
     * exchange, unless pipelined requests wait in the buffer (a half-close after sending).
     */
    if (c->state == C_EXCHANGE && !c->txn->tunnel && (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
        c->txn->up.done && (c->in == NULL || lg_buf_len(c->in) == 0)) {
        lg_log(LG_LOG_INFO, "client closed the connection while waiting for the response");
        {
            conn_close(c);
            return;
        }
    }
    conn_run(c);
}

/* ---- listeners */

/*
 * A tcp listener's connection: a backend of its pool (hash balancing keys on the client
 * address), then both directions relayed until each side has closed, half-closes passed on.
 * Idle for timeouts.upstream_response, it is closed.
 */
static void tunnel_start(lg_http_conn_t *c)
{
    lg_txn_t *t = txn_new(c);
    char ip[LG_IP_STRLEN];

    if (t == NULL) {
        conn_close(c);
        return;
    }
    c->txn = t;
    c->state = C_EXCHANGE;
    c->close_after = 1;
    t->tunnel = 1;
    t->dispatched = 1;
    t->rsp_head = 1; /* nothing to parse */
    t->pool = lg_upstream_pool(c->ls->conf->pool);
    lg_net_ip_text(&c->peer.sa, ip, sizeof(ip));
    t->key = lg_bal_hash(ip, strlen(ip));
    t->be = txn_pick(t);
    if (t->be == NULL) {
        lg_log(LG_LOG_ERR, "no backend of pool %s is up", t->pool->conf->name);
        lg_stats_add(&lg_stats_pool(t->pool->index)->no_backend, 1);
        conn_close(c);
        return;
    }
    lg_backend_acquire(t->be);
    t->tries = (uint8_t)LG_MIN(t->pool->conf->retries, (unsigned)UINT8_MAX);
    t->up.src = &c->sock;
    t->up.buf = &c->in;
    t->down.dst = &c->sock;
    t->down.buf = &t->rbuf;
    lg_pump_start(&t->up, LG_BODY_EOF, 0, 0);
    lg_pump_start(&t->down, LG_BODY_EOF, 0, 0);
    upstream_connect(t);
}

static void conn_new(lg_listener_t *ls, int fd, const struct sockaddr *peer, socklen_t plen)
{
    lg_http_conn_t *c = free_conns;

    if (c != NULL) {
        free_conns = c->next_free;
        nfree_conns--;
    } else if ((c = malloc(sizeof(*c))) == NULL)
        goto out_close;
    memset(c, 0, sizeof(*c));
    c->sock.io.fd = fd;
    c->sock.io.handler = client_event;
    c->timer.handler = conn_timeout;
    c->posted.run = conn_free;
    c->ls = ls;
    memcpy(&c->peer, peer, LG_MIN((size_t)plen, sizeof(c->peer)));
    c->state = C_IDLE;
    if (lg_loop_add(&c->sock.io, LG_EV_CONN) != LG_OK) {
        conn_put(c);
        goto out_close;
    }
    nconns++;
    lg_stats_add(&lg_stats_listener(ls->index)->conns_total, 1);
    lg_stats_add(&lg_stats_listener(ls->index)->conns_active, 1);
    if (ls->conf->mode == LG_MODE_TCP) {
        tunnel_start(c);
        return;
    }
    client_timer_set(c, &q_client_header);
    return;

out_close:
    close(fd);
}

static void accept_run(lg_listener_t *ls)
{
    if (ls->closed)
        return;
    for (int i = 0; i < LG_ACCEPT_BUDGET; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd;

        if (nconns >= conf->limits.max_connections) {
            if (!ls->paused) {
                lg_log(LG_LOG_WARN, "max_connections (%u) reached, pausing accept",
                       conf->limits.max_connections);
                ls->paused = 1;
                ls->next_paused = paused_listeners;
                paused_listeners = ls;
            }
            return;
        }
        fd = accept4(ls->sock.io.fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            lg_log(LG_LOG_ERR, "accept4() on %s failed (%d: %s)", ls->conf->addr.text, errno,
                   strerror(errno));
            /* EMFILE, ENFILE, ENOBUFS: the queue stays, accepting resumes after a pause */
            lg_timer_set(&q_accept_retry, &ls->retry);
            return;
        }
        conn_new(ls, fd, (struct sockaddr *)&peer, plen);
    }
    lg_loop_post(&ls->posted);
}

static void accept_event(lg_io_t *io, uint32_t ev)
{
    LG_UNUSED(ev);
    accept_run((lg_listener_t *)(void *)io);
}

static void accept_posted(lg_posted_t *p)
{
    lg_listener_t *ls = lg_container_of(p, lg_listener_t, posted);

    if (!ls->paused)
        accept_run(ls);
}

/*
 * Take every connection already queued, then close. With EPOLLEXCLUSIVE the wakeup for a
 * queued connection may have gone to this worker alone: leaving it in the queue would leave it
 * waiting for the next arrival. What is taken here is served, with Connection: close.
 */
static void listener_close(lg_listener_t *ls)
{
    lg_loop_del(&ls->sock.io);
    lg_timer_del(&ls->retry);
    while (nconns < conf->limits.max_connections) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd =
            accept4(ls->sock.io.fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break;
        }
        conn_new(ls, fd, (struct sockaddr *)&peer, plen);
    }
    close(ls->sock.io.fd);
    ls->closed = 1;
}

static void accept_retry(lg_timer_t *t)
{
    accept_run(lg_container_of(t, lg_listener_t, retry));
}

int lg_proxy_listen(lg_listener_t *ls, int fd, const lg_listener_conf_t *lconf)
{
    memset(ls, 0, sizeof(*ls));
    ls->sock.io.fd = fd;
    ls->sock.io.handler = accept_event;
    ls->conf = lconf;
    ls->index = (size_t)(lconf - conf->listeners);
    ls->posted.run = accept_posted;
    ls->retry.handler = accept_retry;
    if (lg_loop_add(&ls->sock.io, LG_EV_LISTEN) != LG_OK)
        return LG_ERR;
    /* Connections queued before this worker started raise no new edge: look now. */
    lg_loop_post(&ls->posted);
    return LG_OK;
}

unsigned lg_proxy_drain(lg_listener_t *ls, size_t n)
{
    draining = 1;
    for (size_t i = 0; i < n; i++)
        listener_close(&ls[i]);
    paused_listeners = NULL;
    lg_upstream_close_idle();
    if (nconns == 0)
        lg_loop_stop();
    return nconns;
}

/* Every second: give back the buffers a past burst left unused. */
static void trim(lg_timer_t *t)
{
    lg_buf_trim();
    lg_alog_flush();
    if (released) {
        released = 0;
        malloc_trim(0); /* what a burst of connections left in the heap */
    }
    lg_timer_set(&q_trim, t);
}

int lg_proxy_init(const lg_config_t *cf, lg_shm_t *shm)
{
    conf = cf;
    if (getrandom(&rid_state, sizeof(rid_state), 0) != sizeof(rid_state) || rid_state == 0)
        rid_state = (uint64_t)lg_clock_ms() * 0x9E3779B97F4A7C15ULL | 1;
    if (lg_alog_open(cf) != LG_OK)
        return LG_ERR;
    lg_buf_init(LG_MAX(cf->limits.max_header_size, (size_t)LG_BUF_MIN) + LG_BUF_SLACK);
    lg_pipe_init(LG_PIPE_SIZE, LG_PIPE_KEEP);
    lg_timerq_init(&q_client_header, cf->timeouts.client_header);
    lg_timerq_init(&q_client_body, cf->timeouts.client_body);
    lg_timerq_init(&q_client_idle, cf->timeouts.client_idle);
    lg_timerq_init(&q_linger, LG_LINGER_MS);
    lg_timerq_init(&q_accept_retry, LG_ACCEPT_RETRY_MS);
    lg_timerq_init(&q_trim, LG_TRIM_MS);
    trim_timer.handler = trim;
    lg_timer_set(&q_trim, &trim_timer);

    llhttp_settings_init(&req_settings);
    req_settings.on_headers_complete = on_request_head;
    llhttp_settings_init(&rsp_settings);
    rsp_settings.on_headers_complete = on_response_head;
    rsp_settings.on_message_complete = on_bodiless_response_end;
    return lg_upstream_init(cf, shm);
}
