/*
 * admin.c - the admin listener in the master (see admin.h).
 *
 * Requests are tiny and rare: one request per connection, answered from a buffer built at
 * once, written as the socket allows, then the connection is closed. Counters are summed over
 * the worker slots of every live generation plus the totals of the generations that ended
 * (lg_admin_retire), keyed by metric and labels, so a reload never makes a counter go back.
 */
#include "admin/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/status_page.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "core/sock.h"
#include "event/loop.h"

#define LG_ADMIN_REQ_MAX    4096
#define LG_ADMIN_TIMEOUT_MS 10000
/* Labels a series adds one more label to; the longest is a member's: the pool name (64 bytes
 * at most, LG_CONF_NAME_MAX in config-int.h) and its host as configured, both escaped (each byte
 * may double), and its address. */
#define LG_LABEL_BASE (2 * 64 + LG_ADDR_STRLEN + 2 * LG_ADDR_TEXT_MAX + 32)
#define LG_LABELS_MAX (LG_LABEL_BASE + 32) /* a series' labels: a base, then code= or le= */

/* ---- metric families */

enum {
    F_REQUESTS,
    F_BYTES_IN,
    F_BYTES_OUT,
    F_CONNS,
    F_CONNS_ACTIVE,
    F_BE_REQUESTS,
    F_BE_FAILURES,
    F_BE_UP,
    F_BE_ACTIVE,
    F_BE_EJECTIONS,
    F_BE_CHECK,
    F_DURATION,
    F_RETRIES,
    F_NO_BACKEND,
    F_RELOADS,
    F_CONFIG_RELOADS,
    F_CONFIG_RELOAD_OK_AT,
    F_GENERATION,
    F_RESTARTS,
    F_WORKERS,
    F_INFO,
    F_COUNT
};

static const struct family {
    const char *name, *type, *help;
    int folded; /* a counter of traffic: kept across generations by lg_admin_retire */
} families[F_COUNT] = {
    {"lifeguard_requests_total", "counter", "Requests answered, by listener and status class", 1},
    {"lifeguard_received_bytes_total", "counter", "Bytes received from clients", 1},
    {"lifeguard_sent_bytes_total", "counter", "Bytes sent to clients", 1},
    {"lifeguard_connections_total", "counter", "Client connections accepted", 1},
    {"lifeguard_connections_active", "gauge", "Client connections open now", 0},
    {"lifeguard_backend_requests_total", "counter", "Responses from each backend, by class", 1},
    {"lifeguard_backend_failures_total", "counter",
     "Connect failures, resets, timeouts and malformed responses of each backend", 1},
    {"lifeguard_backend_up", "gauge", "1 when the backend may take traffic (health checks)", 0},
    {"lifeguard_backend_active_connections", "gauge", "Requests in progress on each backend", 0},
    {"lifeguard_backend_ejections_total", "counter",
     "Passive ejections of each backend after consecutive failures", 0},
    {"lifeguard_backend_check_success", "gauge", "1 when the last active check passed", 0},
    {"lifeguard_request_duration_seconds", "histogram",
     "Time from request head to the end of the response, by pool", 1},
    {"lifeguard_retries_total", "counter", "Requests retried on another connection or backend", 1},
    {"lifeguard_no_backend_total", "counter", "Requests answered 503: no backend was usable", 1},
    {"lifeguard_reloads_total", "counter", "Successful configuration reloads", 0},
    {"lifeguard_config_reloads_total", "counter", "Configuration reloads, by result", 0},
    {"lifeguard_config_last_reload_success_timestamp_seconds", "gauge",
     "When the configuration was last loaded successfully (the start counts)", 0},
    {"lifeguard_config_generation", "gauge", "Generation number of the serving configuration", 0},
    {"lifeguard_worker_restarts_total", "counter", "Workers restarted after dying", 0},
    {"lifeguard_workers", "gauge", "Worker processes running, all generations", 0},
    {"lifeguard_build_info", "gauge", "Versions, as labels", 0},
};

typedef struct series {
    int fam;
    const char *suffix; /* "_bucket", "_sum", "_count" or "" */
    char labels[LG_LABELS_MAX];
    double v;
} series_t;

typedef struct table {
    series_t *s;
    size_t n, cap;
} table_t;

static table_t retired; /* totals of generations that ended */

static void table_add(table_t *t, int fam, const char *suffix, const char *labels, double v)
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
        series_t *s = realloc(t->s, cap * sizeof(*s));

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

static double table_get(const table_t *t, int fam, const char *suffix, const char *labels)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->s[i].fam == fam && strcmp(t->s[i].suffix, suffix) == 0 &&
            strcmp(t->s[i].labels, labels) == 0)
            return t->s[i].v;
    }
    return 0;
}

static const char *const class_names[LG_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/*
 * `s` made safe inside a quoted JSON string or Prometheus label value: backslash and quote
 * escaped, a newline as \n, other control characters replaced.
 */
static const char *esc(const char *s, char *buf, size_t len)
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
static int member_labels(const lg_admin_gen_t *g, size_t p, size_t m, char *buf, size_t len)
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
                     esc(pc->name, e1, sizeof(e1)), addr,
                     esc(lg_member_conf(pc, m)->addr.text, e2, sizeof(e2))) == LG_OK;
}

static void hist_series(table_t *t, const char pool_label[LG_LABEL_BASE], const uint64_t *hist,
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
            table_add(t, F_DURATION, "_bucket", labels, (double)cum);
    }
    table_add(t, F_DURATION, "_sum", pool_label, (double)sum_ms / 1000.0);
    table_add(t, F_DURATION, "_count", pool_label, (double)cum);
}

/* The folded (traffic) counters of one generation. */
static void traffic_series(table_t *t, const lg_admin_gen_t *g)
{
    char labels[LG_LABELS_MAX], ml[LG_LABEL_BASE], pl[LG_LABEL_BASE];

    for (size_t l = 0; l < g->cf->nlisteners; l++) {
        lg_stats_listener_t sl;
        const char *name = g->cf->listeners[l].name;

        lg_stats_sum_listener(g->stats, l, &sl);
        for (int c = 0; c < LG_CLASSES; c++) {
            if (lg_format(labels, sizeof(labels), "listener=\"%s\",code=\"%s\"", name,
                          class_names[c]) == LG_OK)
                table_add(t, F_REQUESTS, "", labels, (double)sl.status[c]);
        }
        if (lg_format(labels, sizeof(labels), "listener=\"%s\"", name) != LG_OK)
            continue;
        table_add(t, F_BYTES_IN, "", labels, (double)sl.bytes_in);
        table_add(t, F_BYTES_OUT, "", labels, (double)sl.bytes_out);
        table_add(t, F_CONNS, "", labels, (double)sl.conns_total);
    }
    for (size_t p = 0; p < g->cf->npools; p++) {
        const lg_pool_conf_t *pc = &g->cf->pools[p];
        lg_stats_pool_t sp;

        lg_stats_sum_pool(g->stats, p, &sp);
        if (lg_format(pl, sizeof(pl), "pool=\"%s\"", pc->name) != LG_OK)
            continue;
        table_add(t, F_RETRIES, "", pl, (double)sp.retries);
        table_add(t, F_NO_BACKEND, "", pl, (double)sp.no_backend);
        hist_series(t, pl, sp.hist, sp.time_sum_ms);
        for (size_t m = 0; m < lg_pool_members(pc); m++) {
            lg_stats_member_t sm;

            if (!member_labels(g, p, m, ml, sizeof(ml)))
                continue;
            lg_stats_sum_member(g->stats, p, m, &sm);
            for (int c = 0; c < LG_CLASSES; c++) {
                if (lg_format(labels, sizeof(labels), "%s,code=\"%s\"", ml, class_names[c]) ==
                    LG_OK)
                    table_add(t, F_BE_REQUESTS, "", labels, (double)sm.status[c]);
            }
            table_add(t, F_BE_FAILURES, "", ml, (double)sm.failures);
        }
    }
}

/* Gauges and shared-state values: the serving generation only (plus active connections). */
static void state_series(table_t *t, const lg_admin_view_t *v)
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
            table_add(t, F_CONNS_ACTIVE, "", labels, (double)(int64_t)sl.conns_active);
        }
    }
    for (size_t p = 0; p < g->cf->npools; p++) {
        const lg_pool_conf_t *pc = &g->cf->pools[p];

        for (size_t m = 0; m < lg_pool_members(pc); m++) {
            lg_be_state_t *st = lg_shm_backend(g->shm, p, m);

            if (!member_labels(g, p, m, labels, sizeof(labels)))
                continue;
            table_add(t, F_BE_UP, "", labels, atomic_load(&st->up));
            table_add(t, F_BE_ACTIVE, "", labels, atomic_load(&st->active));
            table_add(t, F_BE_EJECTIONS, "", labels, atomic_load(&st->ejections));
            if (pc->health_check.type != LG_CHECK_NONE && st->last_check != 0)
                table_add(t, F_BE_CHECK, "", labels, strcmp(st->reason, "ok") == 0);
        }
    }
    table_add(t, F_RELOADS, "", "", v->reloads);
    table_add(t, F_CONFIG_RELOADS, "", "result=\"ok\"", v->reloads);
    table_add(t, F_CONFIG_RELOADS, "", "result=\"failed\"", v->reload_failures);
    table_add(t, F_CONFIG_RELOAD_OK_AT, "", "", v->reload_ok_at);
    table_add(t, F_GENERATION, "", "", g->id);
    table_add(t, F_RESTARTS, "", "", v->worker_restarts);
    table_add(t, F_WORKERS, "", "", v->workers);
    table_add(t, F_INFO, "", "version=\"" LG_VERSION "\"", 1);
}

void lg_admin_retire(const lg_admin_gen_t *g)
{
    traffic_series(&retired, g);
}

/* Every series now: retired totals, the live generations' counters, current state. */
static void build(table_t *t, const lg_admin_view_t *v)
{
    t->n = 0;
    for (size_t i = 0; i < retired.n; i++)
        table_add(t, retired.s[i].fam, retired.s[i].suffix, retired.s[i].labels, retired.s[i].v);
    for (size_t i = 0; i < v->ngens; i++)
        traffic_series(t, &v->gens[i]);
    state_series(t, v);
}

/* ---- output buffers */

typedef struct out {
    char *p;
    size_t len, cap;
} out_t;

static void outf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void outf(out_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = (o->cap + (size_t)n + 1) * 2;
        if ((o->p = realloc(o->p, o->cap)) == NULL) {
            o->len = o->cap = 0;
            return;
        }
    }
}

static void metrics(out_t *o, const table_t *t)
{
    for (int f = 0; f < F_COUNT; f++) {
        int header = 0;

        for (size_t i = 0; i < t->n; i++) {
            const series_t *s = &t->s[i];

            if (s->fam != f)
                continue;
            if (!header) {
                outf(o, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                     families[f].name, families[f].type);
                header = 1;
            }
            if (s->labels[0] != '\0')
                outf(o, "%s%s{%s} %.15g\n", families[f].name, s->suffix, s->labels, s->v);
            else
                outf(o, "%s%s %.15g\n", families[f].name, s->suffix, s->v);
        }
    }
}

/* ---- /status.json */

static void json_classes(out_t *o, const table_t *t, int fam, const char labels[LG_LABEL_BASE])
{
    char l[LG_LABELS_MAX];

    outf(o, "{");
    for (int c = 0; c < LG_CLASSES; c++) {
        int found = lg_format(l, sizeof(l), "%s,code=\"%s\"", labels, class_names[c]) == LG_OK;

        outf(o, "%s\"%s\": %.0f", c ? ", " : "", class_names[c],
             found ? table_get(t, fam, "", l) : 0.0);
    }
    outf(o, "}");
}

static void json_latency(out_t *o, const uint64_t *hist)
{
    outf(o, "{\"p50\": %.2f, \"p99\": %.2f}", lg_hist_quantile(hist, 0.5),
         lg_hist_quantile(hist, 0.99));
}

static const char *member_state(const lg_pool_conf_t *pc, lg_be_state_t *st)
{
    if (!atomic_load(&st->in_use))
        return "unresolved";
    if (!atomic_load(&st->up))
        return st->last_check == 0 ? "unchecked" : "down";
    if (atomic_load(&st->ejected_until) != 0 &&
        (pc->health_check.type != LG_CHECK_NONE || atomic_load(&st->ejected_until) > lg_now))
        return "ejected";
    return "up";
}

/* The address a listener is bound to (its real port when configured with port 0). */
static void listen_addr(const lg_admin_gen_t *g, size_t l, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (g->fds != NULL && getsockname(g->fds[l], (struct sockaddr *)&ss, &sl) == 0)
        lg_net_addr_text((const struct sockaddr *)&ss, buf, len);
    else
        lg_format(buf, len, "%s", g->cf->listeners[l].addr.text); /* sized for it */
}

static void status_json(out_t *o, const table_t *t, const lg_admin_view_t *v)
{
    const lg_admin_gen_t *g = &v->gens[0];
    char labels[LG_LABEL_BASE], bound[LG_ADDR_TEXT_MAX];
    double active = 0;

    for (size_t i = 0; i < t->n; i++)
        active += t->s[i].fam == F_CONNS_ACTIVE ? t->s[i].v : 0;
    outf(o,
         "{\"version\": \"%s\", \"generation\": %u, \"uptime_seconds\": %.3f, \"reloads\": %u, "
         "\"worker_restarts\": %u, \"workers\": %u, \"connections_active\": %.0f,\n"
         "\"listeners\": [",
         LG_VERSION, g->id, (double)(lg_now - v->started) / 1000.0, v->reloads, v->worker_restarts,
         v->workers, active);
    for (size_t l = 0; l < g->cf->nlisteners; l++) {
        const lg_listener_conf_t *lc = &g->cf->listeners[l];

        if (lg_format(labels, sizeof(labels), "listener=\"%s\"", lc->name) != LG_OK)
            labels[0] = '\0'; /* no series: zeros, never another listener's */
        listen_addr(g, l, bound, sizeof(bound));
        outf(o, "%s\n {\"name\": \"%s\", \"address\": \"%s\", \"mode\": \"%s\", \"requests\": ",
             l ? "," : "", lc->name, bound, lc->mode == LG_MODE_TCP ? "tcp" : "http");
        json_classes(o, t, F_REQUESTS, labels);
        outf(o,
             ", \"bytes_in\": %.0f, \"bytes_out\": %.0f, \"connections_active\": %.0f, "
             "\"connections_total\": %.0f}",
             table_get(t, F_BYTES_IN, "", labels), table_get(t, F_BYTES_OUT, "", labels),
             table_get(t, F_CONNS_ACTIVE, "", labels), table_get(t, F_CONNS, "", labels));
    }
    outf(o, "],\n\"pools\": [");
    for (size_t p = 0; p < g->cf->npools; p++) {
        static const char *const balances[] = {"round_robin", "weighted", "least_conn", "p2c",
                                               "hash"};
        const lg_pool_conf_t *pc = &g->cf->pools[p];
        lg_stats_pool_t sp;
        size_t shown = 0;

        lg_stats_sum_pool(g->stats, p, &sp);
        if (lg_format(labels, sizeof(labels), "pool=\"%s\"", pc->name) != LG_OK)
            labels[0] = '\0';
        outf(o,
             "%s\n {\"name\": \"%s\", \"balance\": \"%s\", \"retries\": %.0f, "
             "\"no_backend\": %.0f, \"latency_ms\": ",
             p ? "," : "", pc->name, balances[pc->balance], table_get(t, F_RETRIES, "", labels),
             table_get(t, F_NO_BACKEND, "", labels));
        json_latency(o, sp.hist);
        outf(o, ", \"backends\": [");
        for (size_t m = 0; m < lg_pool_members(pc); m++) {
            lg_be_state_t *st = lg_shm_backend(g->shm, p, m);
            const lg_backend_conf_t *bc = lg_member_conf(pc, m);
            struct sockaddr_storage ss;
            socklen_t sl;
            char addr[LG_ADDR_TEXT_MAX], host[LG_ADDR_TEXT_MAX * 2], reason[LG_SHM_REASON_LEN * 2];
            lg_stats_member_t sm;
            int labeled;

            if (bc->addr.is_hostname && !atomic_load(&st->in_use) && m % LG_DNS_SLOTS != 0)
                continue; /* one row for a name without addresses, none for spare slots */
            lg_be_addr(st, &ss, &sl);
            if (atomic_load(&st->in_use))
                lg_net_addr_text((const struct sockaddr *)&ss, addr, sizeof(addr));
            else
                lg_format(addr, sizeof(addr), "%s", bc->addr.text); /* sized for it */
            lg_stats_sum_member(g->stats, p, m, &sm);
            outf(o,
                 "%s\n  {\"address\": \"%s\", \"host\": \"%s\", \"state\": \"%s\", "
                 "\"weight\": %u, \"active\": %u, \"requests\": ",
                 shown++ ? "," : "", addr, esc(bc->addr.text, host, sizeof(host)),
                 member_state(pc, st), bc->weight, atomic_load(&st->active));
            labeled = member_labels(g, p, m, labels, sizeof(labels));
            if (labeled)
                json_classes(o, t, F_BE_REQUESTS, labels);
            else
                outf(o, "{}");
            outf(o, ", \"failures\": %.0f, \"ejections\": %u, \"latency_ms\": ",
                 labeled ? table_get(t, F_BE_FAILURES, "", labels) : 0.0,
                 atomic_load(&st->ejections));
            json_latency(o, sm.hist);
            if (pc->health_check.type == LG_CHECK_NONE || st->last_check == 0)
                outf(o, ", \"check\": null}");
            else
                outf(o, ", \"check\": {\"result\": \"%s\", \"seconds_ago\": %.1f}}",
                     esc(st->reason, reason, sizeof(reason)),
                     (double)(lg_now - st->last_check) / 1000.0);
        }
        outf(o, "]}");
    }
    outf(o, "]}\n");
}

/* ---- the listener and its connections */

typedef struct aconn {
    lg_sock_t sock;
    lg_timer_t timer;
    lg_posted_t free_later;
    size_t got;
    out_t out;
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

    outf(&a->out,
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
    table_t t = {0};
    out_t body = {0};
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
    build(&t, &v);
    if (strcmp(path, "/metrics") == 0) {
        metrics(&body, &t);
        respond(a, 200, "text/plain; version=0.0.4; charset=utf-8", body.p, body.len, head);
    } else {
        status_json(&body, &t, &v);
        respond(a, 200, "application/json", body.p, body.len, head);
    }
    free(body.p);
    free(t.s);
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
