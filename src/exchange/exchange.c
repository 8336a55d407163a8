/*
 * exchange.c - an exchange's start (routing, backend pick, rebuilt head), its logs and its
 * release. The relay itself is in xfer.c, the response head in response.c, failures in xfail.c.
 */
#include "exchange/xint.h"

#include <errno.h>
#include <string.h>

#include "acme/acme.h"
#include "admin/stats.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "exchange/access.h"
#include "http/accesslog.h"
#include "http/diag.h"
#include "tls/tls.h"
#include "upstream/balance.h"
#include "upstream/queue.h"
#include "upstream/sticky.h"

#define LG_RID_BYTES 16

static int on_response_head(llhttp_t *p);
static int on_bodiless_response_end(llhttp_t *p);

static const llhttp_settings_t rsp_settings = {
    .on_headers_complete = on_response_head,
    .on_message_complete = on_bodiless_response_end,
};

/* Responses without a body are told to llhttp here (it gets 204/304 with a length wrong). */
static int on_response_head(llhttp_t *p)
{
    lg_exchange_t *x = p->data;

    x->head_done = 1;
    if (p->status_code < 200 || p->status_code == 204 || p->status_code == 304 || x->head_only)
        return 1; /* no body: llhttp goes on to message complete, which pauses */
    return HPE_PAUSED;
}

/* After a bodiless response (see above): stop there, what follows is not this response's. */
static int on_bodiless_response_end(llhttp_t *p)
{
    LG_UNUSED(p);
    return HPE_PAUSED;
}

void lg_x_response_parser_reset(lg_exchange_t *x)
{
    llhttp_init(&x->rsp, HTTP_RESPONSE, &rsp_settings);
    x->rsp.data = x;
    x->head_done = 0;
}

void lg_exchange_init(lg_exchange_t *x, lg_worker_t *w, const lg_xfront_t *front, void *front_data,
                      lg_stream_t *client, lg_buf_t **cin, const lg_listener_conf_t *ls,
                      size_t ls_index, const struct sockaddr *peer)
{
    memset(x, 0, offsetof(lg_exchange_t, rsp));
    x->w = w;
    x->front = front;
    x->front_data = front_data;
    x->client = client;
    x->cin = cin;
    x->ls = ls;
    x->ls_index = ls_index;
    x->peer = peer;
    x->start = lg_now;
}

/* Keep method, target, referer and user agent for the access log and error lines. */
static void log_spans(lg_exchange_t *x, const lg_span_t f[4])
{
    uint16_t *off[4] = {NULL, &x->log_target, &x->log_referer, &x->log_agent};
    size_t n = 0;

    for (int i = 0; i < 4; i++) {
        size_t len = LG_MIN(f[i].len, sizeof(x->logs) / 4 - 1);

        if (off[i] != NULL)
            *off[i] = (uint16_t)n;
        memcpy(x->logs + n, f[i].p, len);
        n += len;
        x->logs[n++] = '\0';
    }
}

/*
 * Keep method and target (error lines name them) and, for the access log only, referer and user
 * agent: looking those up walks the head twice more, which a request need not pay when no
 * access log is written.
 */
static void log_fields(lg_exchange_t *x, const lg_req_head_t *rq)
{
    lg_span_t f[4] = {rq->method, rq->target, {"", 0}, {"", 0}};

    if (lg_alog_enabled()) {
        f[2] = lg_req_head_header(rq, "referer");
        f[3] = lg_req_head_header(rq, "user-agent");
    }
    log_spans(x, f);
}

void lg_exchange_log_refused(lg_exchange_t *x, const char *head, size_t len)
{
    lg_span_t f[4] = {{"", 0}, {"", 0}, {"", 0}, {"", 0}};

    if (x->logs[0] != '\0')
        return;
    lg_diag_request_line(head, len, &f[0], &f[1]);
    log_spans(x, f);
}

/* A new X-Request-Id: 128 random bits in hex. */
static void request_id_make(lg_worker_t *w, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < LG_RID_BYTES; i += 8) {
        /* xorshift64*: fast, and seeded per worker from the kernel's randomness */
        w->rid_state ^= w->rid_state >> 12;
        w->rid_state ^= w->rid_state << 25;
        w->rid_state ^= w->rid_state >> 27;
        uint64_t r = w->rid_state * 0x2545F4914F6CDD1DULL;

        for (int j = 0; j < 8; j++) {
            out[2 * (i + j)] = hex[(r >> (8 * j + 4)) & 0xf];
            out[2 * (i + j) + 1] = hex[(r >> (8 * j)) & 0xf];
        }
    }
    out[2 * LG_RID_BYTES] = '\0';
}

/* The client's X-Request-Id (trimmed, at most LG_REQUEST_ID_MAX bytes), or a new one. */
static void request_id(lg_exchange_t *x, const lg_req_head_t *rq)
{
    size_t len = rq->request_id.len;

    if (len == 0) {
        request_id_make(x->w, x->rid);
        return;
    }
    memcpy(x->rid, rq->request_id.p, len);
    x->rid[len] = '\0';
}

/* One access log line for the finished request. */
static void access_log(const lg_exchange_t *x)
{
    char ip[LG_IP_STRLEN], up[LG_ADDR_STRLEN], proto[16];
    lg_alog_entry_t e;

    lg_net_ip_text(x->peer, ip, sizeof(ip));
    lg_x_upstream_text(x, up, sizeof(up));
    if (x->http_major == 0 ||
        lg_format(proto, sizeof(proto), "HTTP/%u.%u", x->http_major, x->http_minor) != LG_OK)
        memcpy(proto, "-", 2); /* the request line did not parse */
    e.client = ip;
    e.method = x->logs;
    e.target = x->logs + x->log_target;
    e.protocol = proto;
    e.referer = x->logs + x->log_referer;
    e.user_agent = x->logs + x->log_agent;
    e.request_id = x->rid;
    e.listener = x->ls->name;
    e.pool = x->pool != NULL ? x->pool->conf->name : "";
    e.upstream = up;
    e.status = x->status;
    e.body_bytes = x->down.moved + x->own_body;
    e.duration_ms = lg_now - x->start;
    e.upstream_ms = x->rsp_at != 0 ? (int64_t)(x->rsp_at - x->start) : -1;
    e.tls = x->tls;
    lg_alog_write(&e);
}

/* Count the finished request: status class, response time, bytes; log it. */
static void account(const lg_exchange_t *x)
{
    lg_stats_listener_t *sl = lg_stats_listener(x->ls_index);
    size_t pool = x->pool != NULL ? x->pool->index : SIZE_MAX;
    size_t member = x->be != NULL ? (size_t)(x->be - x->pool->backends) : SIZE_MAX;

    lg_stats_add(&sl->bytes_in, x->head_in + x->up.moved);
    lg_stats_add(&sl->bytes_out, x->head_out + x->down.moved);
    if (x->ls->mode == LG_MODE_TCP && lg_alog_enabled())
        lg_x_relay_log(x);
    if (x->status == 0)
        return;
    lg_stats_request(x->ls_index, pool, member, x->status, lg_now - x->start, x->http_major == 2);
    if (lg_alog_enabled())
        access_log(x);
}

void lg_x_drop_upstream(lg_exchange_t *x)
{
    if (x->dropped)
        return;
    x->dropped = 1;
    lg_timer_del(&x->timer);
    lg_queue_cancel(&x->qe);
    if (x->u != NULL) {
        lg_upconn_close(x->u);
        x->u = NULL;
    }
    lg_pump_release(&x->up);
    lg_pump_release(&x->down);
    lg_buf_put(&x->uhead);
    lg_buf_put(&x->rbuf);
    if (x->slot) { /* the backend's slot frees with the upstream side, not with the client */
        x->slot = 0;
        lg_backend_release(x->be);
    }
}

/*
 * The client left while the backend works on its whole request: with max_connections, the slot
 * stays taken until the backend answers (lg_upconn_linger), so the next request never makes it
 * work on more than its limit. Without a limit the connection closes at once (nginx's default):
 * the backend may notice and stop.
 */
static void linger(lg_exchange_t *x)
{
    if (x->ended || x->u == NULL || !x->slot || !x->req_done || x->rsp_started || x->tunnel ||
        x->be->conf->max_connections == 0)
        return;
    lg_upconn_linger(x->u, lg_x_timerq(x, LG_XT_UPSTREAM, &x->w->q.upstream));
    x->u = NULL;
    x->slot = 0;
}

void lg_exchange_release(lg_exchange_t *x)
{
    account(x);
    linger(x);
    lg_x_drop_upstream(x);
    x->be = NULL;
    lg_buf_put(&x->chead);
    lg_x_rules_release(x);
}

void lg_exchange_reply_msg(const lg_exchange_t *x, const lg_reply_t *r, lg_reply_msg_t *m)
{
    lg_reply_msg(r, m);
    lg_x_reply_rules(x, m);
}

const char *lg_exchange_context(const lg_exchange_t *x, char *buf, size_t len)
{
    lg_diag_req_t r = {x->pool != NULL ? x->pool->conf->name : NULL,
                       x->peer,
                       x->logs,
                       x->logs + x->log_target,
                       x->http_major,
                       x->http_minor};

    return lg_diag_context(&r, buf, len);
}

lg_backend_t *lg_x_pick(lg_exchange_t *x, const lg_backend_t *avoid, const char *what)
{
    /* a sticky backend that is full is passed over like one that is down (re-sticks) */
    int sticky = avoid == NULL && x->sticky != NULL && lg_upstream_eligible(x->sticky) &&
                 lg_backend_take(x->sticky);
    lg_backend_t *be = sticky ? x->sticky : lg_upstream_take(x->pool, avoid, x->key);
    char why[LG_DIAG_WHY_MAX];

    if (lg_debug_on())
        lg_debug("pool %s: backend %s picked%s (%s)", x->pool->conf->name,
                 be != NULL ? lg_backend_name(be) : "(none usable with a free slot)", what,
                 sticky ? "sticky cookie" : lg_diag_pick(x->pool->conf, x->key, why, sizeof(why)));
    return be;
}

/*
 * A backend of `pool` for the exchange: LG_OK (x->be holds a slot), LG_AGAIN (usable backends
 * are all at their max_connections, or requests wait before this one: it must queue) or LG_ERR
 * (ended with 503: no backend is usable).
 */
static int pick_first(lg_exchange_t *x, size_t pool)
{
    x->pool = lg_upstream_pool(&x->w->ups, pool);
    x->tries = (uint8_t)LG_MIN(lg_x_retries(x), (unsigned)UINT8_MAX);
    x->be = lg_queue_busy(x->pool) ? NULL : lg_x_pick(x, NULL, "");
    if (x->be != NULL) {
        x->slot = 1;
        return LG_OK;
    }
    return lg_x_unpicked(x);
}

int lg_x_unpicked(lg_exchange_t *x)
{
    if (lg_upstream_usable(x->pool))
        return LG_AGAIN;
    lg_log(LG_LOG_ERR, "no backend of pool %s is up", x->pool->conf->name);
    lg_stats_add(&lg_stats_pool(x->pool->index)->no_backend, 1);
    lg_x_end(x, LG_XEND_REPLY, 503);
    return LG_ERR;
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

/* Rebuild the request head for the backend into x->uhead: LG_OK or LG_ERR (ended). */
static int head_rebuild(lg_exchange_t *x, const lg_xreq_t *rq, const char *ip)
{
    lg_req_build_t rb = {0};
    lg_rule_vals_t vals;
    lg_tls_info_t tls;
    size_t n;

    rb.client_ip = ip;
    rb.proto = x->tls != NULL ? "https" : "http";
    if (x->tls != NULL && x->ls->tls != NULL && x->ls->tls->client_auth.ca != NULL) {
        lg_tls_session_info(x->tls, &tls); /* the verified subject, escaped for a header */
        rb.client_cert = tls.subject;
    }
    /* a request that waits for a slot has no backend yet: the pool's first names the host */
    rb.default_host = x->be != NULL ? x->be->conf->addr.text : x->pool->conf->backends[0].addr.text;
    rb.chunked = rq->body == LG_BODY_CHUNKED || rq->body == LG_BODY_ENCODE;
    rb.has_length = rq->has_length;
    rb.length = rq->length;
    rb.close = !lg_pool_keeps_idle(x->pool->conf);
    rb.request_id = rq->head->request_id.len == 0 ? x->rid : NULL;
    rb.upgrade = x->upgrade;
    rb.rules = lg_x_req_rules(x, rq->head, ip, &vals);
    rb.vals = &vals;
    if ((x->uhead = lg_buf_get()) == NULL) {
        lg_x_end(x, LG_XEND_CLOSE, 0);
        return LG_ERR;
    }
    n = lg_req_head_build(rq->head, &rb, x->uhead->data, lg_buf_size());
    if (n == 0) {
        lg_x_end(x, LG_XEND_REPLY, 431);
        return LG_ERR;
    }
    x->uhead->last = (uint32_t)n;
    x->up.head = x->uhead;
    return LG_OK;
}

/*
 * The normalised target is written into chead's memory, unused (empty) until a response head
 * is appended there; it is given back once the request head is rebuilt, so an exchange still
 * holds at most three buffers. Returns 0 or the status to answer with.
 */
static int target_normalise(lg_exchange_t *x, lg_req_head_t *rq)
{
    if (x->chead == NULL && (x->chead = lg_buf_get()) == NULL)
        return 503;
    return lg_req_head_target(rq, x->chead->data, lg_buf_size());
}

void lg_exchange_request(lg_exchange_t *x, const lg_xreq_t *rq)
{
    char ip[LG_IP_STRLEN], keyauth[LG_ACME_KEYAUTH_MAX];
    size_t acme = 0;
    int status, picked;

    x->start = lg_now;
    x->head_in = rq->head_len;
    x->head_only = rq->head_only;
    x->idempotent = rq->idempotent;
    x->http_major = rq->http2 ? 2 : 1;
    x->http_minor = rq->http2 ? 0 : (uint8_t)rq->head->http_minor;
    status = target_normalise(x, rq->head);
    if (status == 0 && (acme = lg_x_acme_find(rq->head, keyauth)) == 0)
        status = lg_x_route(x, rq); /* before the body limit: the route may have its own */
    if (status != 0) {
        lg_x_end(x, LG_XEND_REPLY, status);
        return;
    }
    request_id(x, rq->head);
    log_fields(x, rq->head); /* for the access log and the context of error lines */
    /* From here the head is consumed and the body (if any) belongs to the pump. */
    x->routed = 1;
    (*x->cin)->pos += rq->head_len;
    x->up.src = x->client;
    x->up.buf = x->cin;
    x->up.limit = lg_x_body_limit(x);
    if (lg_pump_start(&x->up, rq->body, rq->length, (uint32_t)lg_buf_len(*x->cin)) != LG_OK) {
        lg_x_request_body_bad(x); /* before anything went to a backend */
        return;
    }
    if (acme > 0) {
        lg_x_acme_reply(x, keyauth, acme); /* http-01: before any route's rules */
        return;
    }
    if (x->route == NULL) {
        lg_x_end(x, LG_XEND_REPLY, 404);
        return;
    }
    if (lg_x_access(x) != LG_OK || lg_x_rate_limit(x, rq->head) != LG_OK)
        return;
    if (x->route->answer != NULL) {
        lg_x_answer(x, rq->head); /* redirect or respond: no backend */
        return;
    }
    lg_net_ip_text(x->peer, ip, sizeof(ip));
    x->pool = lg_upstream_pool(&x->w->ups, x->route->pool);
    if (x->pool->conf->balance == LG_BALANCE_HASH)
        x->key = hash_key(x->pool->conf, rq->head, ip);
    x->sticky = lg_sticky_find(x->pool, rq->head);
    picked = pick_first(x, x->route->pool);
    if (picked == LG_ERR)
        return;
    x->upgrade = rq->head->upgrade && rq->body == LG_BODY_NONE;
    if (head_rebuild(x, rq, ip) != LG_OK)
        return;
    lg_buf_put(&x->chead); /* it held the normalised target; the response takes one again */
    lg_x_response_parser_reset(x);
    x->parsed = 0;
    if (picked == LG_AGAIN)
        lg_x_wait(x);
    else
        lg_x_connect(x);
}

void lg_exchange_relay(lg_exchange_t *x, size_t pool)
{
    char ip[LG_IP_STRLEN];
    int picked;

    x->start = lg_now;
    x->tunnel = 1;
    x->routed = 1;
    x->rsp_head = 1; /* a relay has no response head: bytes flow as soon as connected */
    lg_net_ip_text(x->peer, ip, sizeof(ip));
    x->key = lg_bal_hash(ip, strlen(ip));
    picked = pick_first(x, pool);
    if (picked == LG_ERR)
        return;
    x->up.src = x->client;
    x->up.buf = x->cin;
    x->down.dst = x->client;
    x->down.buf = &x->rbuf;
    /* bytes the front read already (a ClientHello routed on) go first */
    lg_pump_start(&x->up, LG_BODY_EOF, 0, *x->cin != NULL ? (uint32_t)lg_buf_len(*x->cin) : 0);
    lg_pump_start(&x->down, LG_BODY_EOF, 0, 0);
    if (picked == LG_AGAIN)
        lg_x_wait(x);
    else
        lg_x_connect(x);
}
