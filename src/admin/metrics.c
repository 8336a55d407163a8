/*
 * metrics.c - the series of the admin pages, and their Prometheus text form (see metrics.h).
 */
#include "admin/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "acme/client.h"
#include "core/fmt.h"
#include "event/loop.h"
#include "policy/ratelimit.h"
#include "tls/obs.h"

static const struct family {
    const char *name, *type, *help;
} families[LG_M_COUNT] = {
    {"lifeguard_requests_total", "counter",
     "Requests answered, by listener, status class and protocol"},
    {"lifeguard_received_bytes_total", "counter", "Bytes received from clients"},
    {"lifeguard_sent_bytes_total", "counter", "Bytes sent to clients"},
    {"lifeguard_connections_total", "counter", "Client connections accepted"},
    {"lifeguard_connections_active", "gauge", "Client connections open now"},
    {"lifeguard_connections_refused_total", "counter",
     "Client connections closed at accept, by reason (per_ip: limits.max_connections_per_ip; "
     "proxy_untrusted: not in proxy_protocol.trusted)"},
    {"lifeguard_connections_dropped_total", "counter",
     "Client connections closed before their first request or relay, by reason (proxy_header: "
     "PROXY header malformed or not in time; client_hello: TLS passthrough ClientHello malformed, "
     "cut or not in time; no_route: no route takes the ClientHello)"},
    {"lifeguard_tls_handshakes_total", "counter", "TLS handshakes, by listener and result"},
    {"lifeguard_tls_resumed_total", "counter",
     "TLS handshakes that resumed a session (counted in result=\"ok\" too)"},
    {"lifeguard_tls_handshake_failures_total", "counter", "Failed TLS handshakes, by reason"},
    {"lifeguard_tls_certificate_expiry_timestamp_seconds", "gauge",
     "When each loaded certificate expires (notAfter, Unix time)"},
    {"lifeguard_acme_certificate_expiry_timestamp_seconds", "gauge",
     "When the certificate obtained by ACME for each managed name expires (0: placeholder)"},
    {"lifeguard_acme_orders_total", "counter",
     "ACME orders ended, by result (invalid: refused by the server; error: failed otherwise)"},
    {"lifeguard_acme_last_renewal_timestamp_seconds", "gauge",
     "When a certificate was last obtained by ACME for each managed name (Unix time)"},
    {"lifeguard_tls_ktls_connections_total", "counter",
     "TLS connections whose keys the kernel took (kernel TLS), by listener or pool (backend "
     "connections) and direction (tx: sending)"},
    {"lifeguard_tls_ktls_fallbacks_total", "counter",
     "TLS connections left in user space in a direction: kernel TLS tried, the kernel refused"},
    {"lifeguard_http2_streams_active", "gauge", "HTTP/2 streams open now"},
    {"lifeguard_http2_connections_asleep", "gauge",
     "Idle HTTP/2 connections whose session was given back (rebuilt on their next byte)"},
    {"lifeguard_http2_goaway_total", "counter", "GOAWAY frames sent to HTTP/2 clients"},
    {"lifeguard_http2_resets_total", "counter",
     "HTTP/2 streams reset, by who reset them (client or lifeguard)"},
    {"lifeguard_backend_requests_total", "counter", "Responses from each backend, by class"},
    {"lifeguard_backend_failures_total", "counter",
     "Connect failures, resets, timeouts and malformed responses of each backend"},
    {"lifeguard_backend_up", "gauge", "1 when the backend may take traffic (health checks)"},
    {"lifeguard_backend_active_connections", "gauge", "Requests in progress on each backend"},
    {"lifeguard_backend_ejections_total", "counter",
     "Passive ejections of each backend after consecutive failures"},
    {"lifeguard_backend_check_success", "gauge", "1 when the last active check passed"},
    {"lifeguard_request_duration_seconds", "histogram",
     "Time from request head to the end of the response, by pool"},
    {"lifeguard_retries_total", "counter", "Requests retried on another connection or backend"},
    {"lifeguard_no_backend_total", "counter", "Requests answered 503: no backend was usable"},
    {"lifeguard_queue_length", "gauge",
     "Requests waiting now for a backend below its max_connections, by pool"},
    {"lifeguard_queued_total", "counter",
     "Requests that waited in the queue for a backend slot, by pool"},
    {"lifeguard_queue_timeouts_total", "counter",
     "Requests answered 503 after waiting queue.timeout, by pool"},
    {"lifeguard_queue_full_total", "counter",
     "Requests answered 503 at once: queue.max requests were waiting, by pool"},
    {"lifeguard_rate_limited_total", "counter",
     "Requests answered 429 by the rate_limit of a route (1 is the listener's first)"},
    {"lifeguard_rate_limit_evictions_total", "counter",
     "Keys pushed out of a full rate limit table while their bucket was refilling"},
    {"lifeguard_rate_limit_keys", "gauge",
     "Keys whose rate limit bucket is still refilling: the fill of the rate limit table"},
    {"lifeguard_reloads_total", "counter", "Successful configuration reloads"},
    {"lifeguard_config_reloads_total", "counter", "Configuration reloads, by result"},
    {"lifeguard_config_last_reload_success_timestamp_seconds", "gauge",
     "When the configuration was last loaded successfully (the start counts)"},
    {"lifeguard_config_generation", "gauge", "Generation number of the serving configuration"},
    {"lifeguard_worker_restarts_total", "counter", "Workers restarted after dying"},
    {"lifeguard_workers", "gauge", "Worker processes running, all generations"},
    {"lifeguard_build_info", "gauge", "Versions, as labels"},
};

static lg_metrics_t retired; /* totals of generations that ended */

static void table_add(lg_metrics_t *t, int fam, const char *suffix, const char *labels, double v)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->s[i].fam == fam && strcmp(t->s[i].suffix, suffix) == 0 &&
            strcmp(t->s[i].labels, labels) == 0) {
            t->s[i].v += v;
            return;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        lg_series_t *s = realloc(t->s, cap * sizeof(*s));

        if (s == NULL)
            return;
        t->s = s;
        t->cap = cap;
    }
    t->s[t->n].fam = fam;
    t->s[t->n].suffix = suffix;
    if (lg_format(t->s[t->n].labels, sizeof(t->s[t->n].labels), "%s", labels) != LG_OK)
        return; /* never a series under a cut name */
    t->s[t->n++].v = v;
}

double lg_metrics_get(const lg_metrics_t *t, int fam, const char *suffix, const char *labels)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->s[i].fam == fam && strcmp(t->s[i].suffix, suffix) == 0 &&
            strcmp(t->s[i].labels, labels) == 0)
            return t->s[i].v;
    }
    return 0;
}

double lg_metrics_sum(const lg_metrics_t *t, int fam)
{
    double sum = 0;

    for (size_t i = 0; i < t->n; i++)
        sum += t->s[i].fam == fam ? t->s[i].v : 0;
    return sum;
}

void lg_metrics_free(lg_metrics_t *t)
{
    free(t->s);
    t->s = NULL;
    t->n = t->cap = 0;
}

const char *const lg_class_names[LG_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
const char *const lg_proto_names[LG_PROTOS] = {"HTTP/1.1", "HTTP/2.0"};

const char *lg_metrics_esc(const char *s, char *buf, size_t len)
{
    size_t n = 0;

    for (; *s != '\0' && n + 3 < len; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)ch;
        } else if (ch == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else {
            buf[n++] = ch < 0x20 ? '?' : (char)ch;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* The member's labels: its address now, and the backend as configured. */
int lg_metrics_labels(const lg_admin_gen_t *g, size_t p, size_t m, char *buf, size_t len)
{
    const lg_pool_conf_t *pc = &g->cf->pools[p];
    lg_be_state_t *st = lg_shm_backend(g->shm, p, m);
    struct sockaddr_storage ss;
    socklen_t sl;
    char addr[LG_ADDR_STRLEN];

    if (!atomic_load(&st->in_use))
        return 0;
    lg_be_addr(st, &ss, &sl);
    lg_net_addr_text((const struct sockaddr *)&ss, addr, sizeof(addr));
    char e1[LG_ADDR_TEXT_MAX * 2], e2[LG_ADDR_TEXT_MAX * 2];

    return lg_format(buf, len, "pool=\"%s\",backend=\"%s\",host=\"%s\"",
                     lg_metrics_esc(pc->name, e1, sizeof(e1)), addr,
                     lg_metrics_esc(lg_member_conf(pc, m)->addr.text, e2, sizeof(e2))) == LG_OK;
}

static void hist_series(lg_metrics_t *t, const char pool_label[LG_LABEL_BASE], const uint64_t *hist,
                        uint64_t sum_ms)
{
    static const uint64_t bounds[LG_HIST_N - 1] = LG_HIST_BOUNDS;
    char labels[LG_LABELS_MAX];
    uint64_t cum = 0;
    int r;

    for (size_t b = 0; b < LG_HIST_N; b++) {
        cum += hist[b];
        if (b < LG_HIST_N - 1)
            r = lg_format(labels, sizeof(labels), "%s,le=\"%g\"", pool_label,
                          (double)bounds[b] / 1000.0);
        else
            r = lg_format(labels, sizeof(labels), "%s,le=\"+Inf\"", pool_label);
        if (r == LG_OK)
            table_add(t, LG_M_DURATION, "_bucket", labels, (double)cum);
    }
    table_add(t, LG_M_DURATION, "_sum", pool_label, (double)sum_ms / 1000.0);
    table_add(t, LG_M_DURATION, "_count", pool_label, (double)cum);
}

/*
 * The kernel TLS series of the connections of a listener or a pool (`side`: listener="NAME" or
 * pool="NAME"): the directions the kernel took, and the fallbacks.
 */
static void ktls_series(lg_metrics_t *t, const char *side, const lg_stats_ktls_t *k)
{
    char labels[LG_LABELS_MAX];

    if (lg_format(labels, sizeof(labels), "%s,dir=\"tx\"", side) == LG_OK)
        table_add(t, LG_M_KTLS, "", labels, (double)k->tx);
    if (lg_format(labels, sizeof(labels), "%s,dir=\"rx\"", side) == LG_OK)
        table_add(t, LG_M_KTLS, "", labels, (double)k->rx);
    table_add(t, LG_M_KTLS_FALLBACK, "", side, (double)k->fallback);
}

/* The handshake counters of a listener with tls. */
static void tls_series(lg_metrics_t *t, const char *name, const lg_stats_listener_t *sl)
{
    char labels[LG_LABELS_MAX];
    uint64_t failed = 0;

    for (int r = 0; r < LG_TLS_FAIL_N; r++) {
        failed += sl->tls_failed[r];
        if (lg_format(labels, sizeof(labels), "listener=\"%s\",reason=\"%s\"", name,
                      lg_tls_fail_names[r]) == LG_OK)
            table_add(t, LG_M_TLS_FAILURES, "", labels, (double)sl->tls_failed[r]);
    }
    if (lg_format(labels, sizeof(labels), "listener=\"%s\",result=\"ok\"", name) == LG_OK)
        table_add(t, LG_M_TLS_HANDSHAKES, "", labels, (double)sl->tls_ok);
    if (lg_format(labels, sizeof(labels), "listener=\"%s\",result=\"failed\"", name) == LG_OK)
        table_add(t, LG_M_TLS_HANDSHAKES, "", labels, (double)failed);
    if (lg_format(labels, sizeof(labels), "listener=\"%s\"", name) == LG_OK) {
        table_add(t, LG_M_TLS_RESUMED, "", labels, (double)sl->tls_resumed);
        ktls_series(t, labels, &sl->ktls);
    }
}

/* Requests by class and protocol (HTTP/2 only where the listener speaks it). */
static void request_series(lg_metrics_t *t, const lg_listener_conf_t *lc,
                           const lg_stats_listener_t *sl)
{
    char labels[LG_LABELS_MAX];

    for (int p = 0; p < (lc->http2 ? LG_PROTOS : 1); p++) {
        for (int c = 0; c < LG_CLASSES; c++) {
            if (lg_format(labels, sizeof(labels), "listener=\"%s\",code=\"%s\",protocol=\"%s\"",
                          lc->name, lg_class_names[c], lg_proto_names[p]) == LG_OK)
                table_add(t, LG_M_REQUESTS, "", labels, (double)sl->status[p][c]);
        }
    }
}

/* The HTTP/2 counters of a listener that speaks it. */
static void h2_series(lg_metrics_t *t, const char *name, const lg_stats_listener_t *sl)
{
    char labels[LG_LABELS_MAX];

    if (lg_format(labels, sizeof(labels), "listener=\"%s\"", name) == LG_OK)
        table_add(t, LG_M_H2_GOAWAY, "", labels, (double)sl->h2_goaway);
    if (lg_format(labels, sizeof(labels), "listener=\"%s\",by=\"client\"", name) == LG_OK)
        table_add(t, LG_M_H2_RESETS, "", labels, (double)sl->h2_resets_client);
    if (lg_format(labels, sizeof(labels), "listener=\"%s\",by=\"lifeguard\"", name) == LG_OK)
        table_add(t, LG_M_H2_RESETS, "", labels, (double)sl->h2_resets_sent);
}

/* Connections closed at accept, by reason. */
static void refused_series(lg_metrics_t *t, const char *name, const lg_stats_listener_t *sl)
{
    char labels[LG_LABELS_MAX];

    if (lg_format(labels, sizeof(labels), "listener=\"%s\",reason=\"per_ip\"", name) == LG_OK)
        table_add(t, LG_M_CONNS_REFUSED, "", labels, (double)sl->conns_refused_per_ip);
    if (lg_format(labels, sizeof(labels), "listener=\"%s\",reason=\"proxy_untrusted\"", name) ==
        LG_OK)
        table_add(t, LG_M_CONNS_REFUSED, "", labels, (double)sl->conns_refused_untrusted);
}

/* Connections a PROXY header or a TLS passthrough ClientHello closed, on listeners reading them. */
static void dropped_series(lg_metrics_t *t, const lg_listener_conf_t *l,
                           const lg_stats_listener_t *sl)
{
    const struct {
        int on;
        const char *reason;
        uint64_t n;
    } rows[] = {
        {l->proxy_trusted != NULL, "proxy_header", sl->conns_bad_proxy},
        {l->mode == LG_MODE_TCP && l->nroutes > 0, "client_hello", sl->conns_bad_hello},
        {l->mode == LG_MODE_TCP && l->nroutes > 0, "no_route", sl->conns_no_route},
    };
    char labels[LG_LABELS_MAX];

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].on && lg_format(labels, sizeof(labels), "listener=\"%s\",reason=\"%s\"",
                                    l->name, rows[i].reason) == LG_OK)
            table_add(t, LG_M_CONNS_DROPPED, "", labels, (double)rows[i].n);
}

/* The rate limit buckets of a generation, or NULL when none of its routes is limited. */
static const lg_rl_table_t *rl_table(const lg_config_t *cf)
{
    for (size_t l = 0; l < cf->nlisteners; l++)
        for (size_t r = 0; r < cf->listeners[l].nroutes; r++)
            if (cf->listeners[l].routes[r].rate_limit != NULL)
                return cf->listeners[l].routes[r].rate_limit->table;
    return NULL;
}

/* Requests each limited route answered 429, and the keys its table pushed out. */
static void ratelimit_series(lg_metrics_t *t, const lg_config_t *cf)
{
    const lg_rl_table_t *tab = rl_table(cf);
    char labels[LG_LABELS_MAX];

    for (size_t l = 0; tab != NULL && l < cf->nlisteners; l++) {
        for (size_t r = 0; r < cf->listeners[l].nroutes; r++) {
            const lg_rate_limit_conf_t *rl = cf->listeners[l].routes[r].rate_limit;

            if (rl != NULL && lg_format(labels, sizeof(labels), "listener=\"%s\",route=\"%zu\"",
                                        cf->listeners[l].name, r + 1) == LG_OK)
                table_add(t, LG_M_RATE_LIMITED, "", labels,
                          (double)atomic_load(&tab->counters[rl->id].limited));
        }
    }
    if (tab != NULL)
        table_add(t, LG_M_RL_EVICTED, "", "", (double)atomic_load(&tab->evicted));
}

/* The counters of traffic of one generation: those lg_metrics_retire keeps in the totals. */
static void traffic_series(lg_metrics_t *t, const lg_admin_gen_t *g)
{
    char labels[LG_LABELS_MAX], ml[LG_LABEL_BASE], pl[LG_LABEL_BASE];

    for (size_t l = 0; l < g->cf->nlisteners; l++) {
        lg_stats_listener_t sl;
        const char *name = g->cf->listeners[l].name;

        lg_stats_sum_listener(g->stats, l, &sl);
        request_series(t, &g->cf->listeners[l], &sl);
        if (g->cf->listeners[l].http2)
            h2_series(t, name, &sl);
        if (lg_format(labels, sizeof(labels), "listener=\"%s\"", name) != LG_OK)
            continue;
        table_add(t, LG_M_BYTES_IN, "", labels, (double)sl.bytes_in);
        table_add(t, LG_M_BYTES_OUT, "", labels, (double)sl.bytes_out);
        table_add(t, LG_M_CONNS, "", labels, (double)sl.conns_total);
        refused_series(t, name, &sl);
        dropped_series(t, &g->cf->listeners[l], &sl);
        if (g->cf->listeners[l].tls != NULL)
            tls_series(t, name, &sl);
    }
    for (size_t p = 0; p < g->cf->npools; p++) {
        const lg_pool_conf_t *pc = &g->cf->pools[p];
        lg_stats_pool_t sp;

        lg_stats_sum_pool(g->stats, p, &sp);
        if (lg_format(pl, sizeof(pl), "pool=\"%s\"", pc->name) != LG_OK)
            continue;
        table_add(t, LG_M_RETRIES, "", pl, (double)sp.retries);
        table_add(t, LG_M_NO_BACKEND, "", pl, (double)sp.no_backend);
        if (pc->tls != NULL)
            ktls_series(t, pl, &sp.ktls);
        if (lg_pool_limited(pc)) {
            table_add(t, LG_M_QUEUED, "", pl, (double)sp.queued);
            table_add(t, LG_M_QUEUE_TIMEOUTS, "", pl, (double)sp.queue_timeouts);
            table_add(t, LG_M_QUEUE_FULL, "", pl, (double)sp.queue_full);
        }
        hist_series(t, pl, sp.hist, sp.time_sum_ms);
        for (size_t m = 0; m < lg_pool_members(pc); m++) {
            lg_stats_member_t sm;

            if (!lg_metrics_labels(g, p, m, ml, sizeof(ml)))
                continue;
            lg_stats_sum_member(g->stats, p, m, &sm);
            for (int c = 0; c < LG_CLASSES; c++) {
                if (lg_format(labels, sizeof(labels), "%s,code=\"%s\"", ml, lg_class_names[c]) ==
                    LG_OK)
                    table_add(t, LG_M_BE_REQUESTS, "", labels, (double)sm.status[c]);
            }
            table_add(t, LG_M_BE_FAILURES, "", ml, (double)sm.failures);
        }
    }
    ratelimit_series(t, g->cf);
}

/* A certificate's labels (listener, name, key type); 0 when they do not fit. */
static int cert_labels(const char *listener, const lg_tls_cert_desc_t *d, char *buf, size_t len)
{
    return lg_format(buf, len, "listener=\"%s\",name=\"%s\",key=\"%s\"", listener, d->name,
                     d->key) == LG_OK;
}

/*
 * The expiry of every certificate of the serving generation. Two of one name and key type in one
 * listener: the first, which is the one served, gives the series.
 */
static void cert_series(lg_metrics_t *t, const lg_config_t *cf)
{
    char labels[LG_LABELS_MAX];
    lg_tls_cert_desc_t d;

    for (size_t l = 0; l < cf->nlisteners; l++) {
        const lg_tls_conf_t *tc = cf->listeners[l].tls;

        for (size_t i = 0; tc != NULL && tc->ctx != NULL && i < lg_tls_cert_count(tc->ctx); i++) {
            lg_tls_cert_describe(tc->ctx, i, &d);
            if (cert_labels(cf->listeners[l].name, &d, labels, sizeof(labels)) &&
                lg_metrics_get(t, LG_M_TLS_CERT_EXPIRY, "", labels) == 0)
                table_add(t, LG_M_TLS_CERT_EXPIRY, "", labels, (double)d.not_after);
        }
    }
}

static void acme_name(const lg_acme_name_view_t *v, void *arg)
{
    char labels[LG_LABELS_MAX], e[LG_LABELS_MAX];

    if (lg_format(labels, sizeof(labels), "name=\"%s\"", lg_metrics_esc(v->name, e, sizeof(e))) !=
        LG_OK)
        return;
    table_add(arg, LG_M_ACME_EXPIRY, "", labels, (double)v->expiry);
    if (v->renewed != 0)
        table_add(arg, LG_M_ACME_RENEWED, "", labels, (double)v->renewed);
}

/* The certificates of the ACME client (src/acme): per managed name, and orders by result. */
static void acme_series(lg_metrics_t *t)
{
    static const char *const results[LG_ACME_RESULTS] = {"result=\"valid\"", "result=\"invalid\"",
                                                         "result=\"error\""};

    lg_acme_each(acme_name, t);
    for (int r = 0; r < LG_ACME_RESULTS; r++)
        table_add(t, LG_M_ACME_ORDERS, "", results[r], (double)lg_acme_orders(r));
}

/* Requests waiting for a backend slot, in every live generation (a draining one too). */
static void queue_series(lg_metrics_t *t, const lg_admin_view_t *v)
{
    char labels[LG_LABELS_MAX];

    for (size_t i = 0; i < v->ngens; i++) {
        const lg_qshm_t *q = v->gens[i].shm->queue;

        for (size_t p = 0; q != NULL && p < v->gens[i].cf->npools; p++) {
            if (!lg_pool_limited(&v->gens[i].cf->pools[p]) ||
                lg_format(labels, sizeof(labels), "pool=\"%s\"", v->gens[i].cf->pools[p].name) !=
                    LG_OK)
                continue;
            table_add(t, LG_M_QUEUE_LENGTH, "", labels, atomic_load(&q->pools[p].queued));
        }
    }
}

/* Gauges and shared-state values: the serving generation only (plus active connections). */
static void state_series(lg_metrics_t *t, const lg_admin_view_t *v)
{
    const lg_admin_gen_t *g = &v->gens[0];
    char labels[LG_LABELS_MAX];

    for (size_t i = 0; i < v->ngens; i++) {
        for (size_t l = 0; l < v->gens[i].cf->nlisteners; l++) {
            lg_stats_listener_t sl;

            lg_stats_sum_listener(v->gens[i].stats, l, &sl);
            if (lg_format(labels, sizeof(labels), "listener=\"%s\"",
                          v->gens[i].cf->listeners[l].name) != LG_OK)
                continue;
            table_add(t, LG_M_CONNS_ACTIVE, "", labels, (double)(int64_t)sl.conns_active);
            if (v->gens[i].cf->listeners[l].http2) {
                table_add(t, LG_M_H2_STREAMS, "", labels, (double)(int64_t)sl.h2_streams_active);
                table_add(t, LG_M_H2_ASLEEP, "", labels, (double)(int64_t)sl.h2_asleep);
            }
        }
    }
    queue_series(t, v);
    for (size_t p = 0; p < g->cf->npools; p++) {
        const lg_pool_conf_t *pc = &g->cf->pools[p];

        for (size_t m = 0; m < lg_pool_members(pc); m++) {
            lg_be_state_t *st = lg_shm_backend(g->shm, p, m);

            if (!lg_metrics_labels(g, p, m, labels, sizeof(labels)))
                continue;
            table_add(t, LG_M_BE_UP, "", labels, atomic_load(&st->up));
            table_add(t, LG_M_BE_ACTIVE, "", labels, atomic_load(&st->active));
            table_add(t, LG_M_BE_EJECTIONS, "", labels, atomic_load(&st->ejections));
            if (pc->health_check.type != LG_CHECK_NONE && st->last_check != 0)
                table_add(t, LG_M_BE_CHECK, "", labels, strcmp(st->reason, "ok") == 0);
        }
    }
    cert_series(t, g->cf);
    if (g->cf->acme != NULL)
        acme_series(t);
    if (rl_table(g->cf) != NULL)
        table_add(t, LG_M_RL_KEYS, "", "", (double)lg_rl_keys(rl_table(g->cf), lg_now));
    table_add(t, LG_M_RELOADS, "", "", v->reloads);
    table_add(t, LG_M_CONFIG_RELOADS, "", "result=\"ok\"", v->reloads);
    table_add(t, LG_M_CONFIG_RELOADS, "", "result=\"failed\"", v->reload_failures);
    table_add(t, LG_M_CONFIG_RELOAD_OK_AT, "", "", v->reload_ok_at);
    table_add(t, LG_M_GENERATION, "", "", g->id);
    table_add(t, LG_M_RESTARTS, "", "", v->worker_restarts);
    table_add(t, LG_M_WORKERS, "", "", v->workers);
    table_add(t, LG_M_INFO, "", "version=\"" LG_VERSION "\"", 1);
}

void lg_metrics_retire(const lg_admin_gen_t *g)
{
    traffic_series(&retired, g);
}

/* Every series now: retired totals, the live generations' counters, current state. */
void lg_metrics_build(lg_metrics_t *t, const lg_admin_view_t *v)
{
    t->n = 0;
    for (size_t i = 0; i < retired.n; i++)
        table_add(t, retired.s[i].fam, retired.s[i].suffix, retired.s[i].labels, retired.s[i].v);
    for (size_t i = 0; i < v->ngens; i++)
        traffic_series(t, &v->gens[i]);
    state_series(t, v);
}

void lg_metrics_text(lg_out_t *o, const lg_metrics_t *t)
{
    for (int f = 0; f < LG_M_COUNT; f++) {
        int header = 0;

        for (size_t i = 0; i < t->n; i++) {
            const lg_series_t *s = &t->s[i];

            if (s->fam != f)
                continue;
            if (!header) {
                lg_outf(o, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                        families[f].name, families[f].type);
                header = 1;
            }
            if (s->labels[0] != '\0')
                lg_outf(o, "%s%s{%s} %.15g\n", families[f].name, s->suffix, s->labels, s->v);
            else
                lg_outf(o, "%s%s %.15g\n", families[f].name, s->suffix, s->v);
        }
    }
}
