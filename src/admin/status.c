/*
 * status.c - the /status.json document (see status.h): the serving generation's listeners and
 * pools with their counters (all generations summed, as /metrics has them), the state of every
 * backend, and each tls listener's handshakes and certificates.
 */
#include "admin/status.h"

#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "acme/acme.h"
#include "acme/client.h"
#include "core/fmt.h"
#include "core/net.h"
#include "event/loop.h"
#include "tls/obs.h"

#define LG_SECONDS_PER_DAY 86400

/* a / b rounded down (towards minus infinity): -0.5 days left is -1, expired */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void json_classes(lg_out_t *o, const lg_metrics_t *t, int fam,
                         const char labels[LG_LABEL_BASE], int by_proto)
{
    char l[LG_LABELS_MAX];

    lg_outf(o, "{");
    for (int c = 0; c < LG_CLASSES; c++) {
        double n = 0;

        for (int p = 0; p < (by_proto ? LG_PROTOS : 1); p++) {
            int r = by_proto ? lg_format(l, sizeof(l), "%s,code=\"%s\",protocol=\"%s\"", labels,
                                         lg_class_names[c], lg_proto_names[p])
                             : lg_format(l, sizeof(l), "%s,code=\"%s\"", labels, lg_class_names[c]);

            if (r == LG_OK)
                n += lg_metrics_get(t, fam, "", l);
        }
        lg_outf(o, "%s\"%s\": %.0f", c ? ", " : "", lg_class_names[c], n);
    }
    lg_outf(o, "}");
}

static void json_latency(lg_out_t *o, const uint64_t *hist)
{
    lg_outf(o, "{\"p50\": %.2f, \"p99\": %.2f}", lg_hist_quantile(hist, 0.5),
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

/* A JSON list being written: where, and how many items so far. */
typedef struct json_list {
    lg_out_t *o;
    size_t n;
} json_list_t;

static void json_name(void *arg, const char *name)
{
    json_list_t *jl = arg;

    /* names of the SNI index are DNS names: nothing to escape */
    lg_outf(jl->o, "%s\"%s\"", jl->n++ ? ", " : "", name);
}

/* The certificates of a tls listener: names, key type, issuer, validity, days left. */
static void json_certs(lg_out_t *o, const lg_tls_ctx_t *ctx)
{
    char path[2 * LG_TLS_OBS_NAME_MAX], issuer[2 * LG_TLS_OBS_NAME_MAX], at[32];
    time_t now = time(NULL);
    lg_tls_cert_desc_t d;
    json_list_t jl = {o, 0};
    struct tm tm;

    for (size_t i = 0; i < lg_tls_cert_count(ctx); i++) {
        time_t na;

        lg_tls_cert_describe(ctx, i, &d);
        na = (time_t)d.not_after;
        if (gmtime_r(&na, &tm) == NULL || strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            at[0] = '\0';
        lg_outf(o, "%s\n   {\"file\": \"%s\", \"names\": [", i ? "," : "",
                lg_metrics_esc(d.path != NULL ? d.path : "", path, sizeof(path))); /* acme: none */
        jl.n = 0;
        lg_tls_cert_names(ctx, i, json_name, &jl);
        lg_outf(o,
                "], \"key\": \"%s\", \"issuer\": \"%s\", \"not_before\": %lld, "
                "\"not_after\": %lld, \"expires\": \"%s\", \"days_left\": %lld}",
                d.key, lg_metrics_esc(d.issuer, issuer, sizeof(issuer)), (long long)d.not_before,
                (long long)d.not_after, at,
                (long long)floor_div(d.not_after - (int64_t)now, LG_SECONDS_PER_DAY));
    }
}

/* A listener's "tls": null without tls, else its handshake counters and certificates. */
static void json_tls(lg_out_t *o, const lg_metrics_t *t, const lg_listener_conf_t *lc)
{
    char l[LG_LABELS_MAX];

    if (lc->tls == NULL) {
        lg_outf(o, "null");
        return;
    }
    lg_outf(o, "{\"handshakes\": {");
    for (int r = 0; r < 2; r++) {
        const char *res = r ? "failed" : "ok";
        int ok = lg_format(l, sizeof(l), "listener=\"%s\",result=\"%s\"", lc->name, res) == LG_OK;

        lg_outf(o, "\"%s\": %.0f, ", res, ok ? lg_metrics_get(t, LG_M_TLS_HANDSHAKES, "", l) : 0.0);
    }
    lg_outf(o, "\"resumed\": %.0f}, \"failures\": {",
            lg_format(l, sizeof(l), "listener=\"%s\"", lc->name) == LG_OK
                ? lg_metrics_get(t, LG_M_TLS_RESUMED, "", l)
                : 0.0);
    for (int r = 0; r < LG_TLS_FAIL_N; r++) {
        int ok = lg_format(l, sizeof(l), "listener=\"%s\",reason=\"%s\"", lc->name,
                           lg_tls_fail_names[r]) == LG_OK;

        lg_outf(o, "%s\"%s\": %.0f", r ? ", " : "", lg_tls_fail_names[r],
                ok ? lg_metrics_get(t, LG_M_TLS_FAILURES, "", l) : 0.0);
    }
    lg_outf(o, "}, \"certificates\": [");
    if (lc->tls->ctx != NULL)
        json_certs(o, lc->tls->ctx);
    lg_outf(o, "]}");
}

/* The document's head: the process, then the listeners of the serving generation. */
static void json_listeners(lg_out_t *o, const lg_metrics_t *t, const lg_admin_view_t *v)
{
    const lg_admin_gen_t *g = &v->gens[0];
    char labels[LG_LABEL_BASE], bound[LG_ADDR_TEXT_MAX];

    lg_outf(o,
            "{\"version\": \"%s\", \"generation\": %u, \"uptime_seconds\": %.3f, \"reloads\": %u, "
            "\"worker_restarts\": %u, \"workers\": %u, \"connections_active\": %.0f,\n"
            "\"listeners\": [",
            LG_VERSION, g->id, (double)(lg_now - v->started) / 1000.0, v->reloads,
            v->worker_restarts, v->workers, lg_metrics_sum(t, LG_M_CONNS_ACTIVE));
    for (size_t l = 0; l < g->cf->nlisteners; l++) {
        const lg_listener_conf_t *lc = &g->cf->listeners[l];

        if (lg_format(labels, sizeof(labels), "listener=\"%s\"", lc->name) != LG_OK)
            labels[0] = '\0'; /* no series: zeros, never another listener's */
        listen_addr(g, l, bound, sizeof(bound));
        lg_outf(o, "%s\n {\"name\": \"%s\", \"address\": \"%s\", \"mode\": \"%s\", \"requests\": ",
                l ? "," : "", lc->name, bound, lc->mode == LG_MODE_TCP ? "tcp" : "http");
        json_classes(o, t, LG_M_REQUESTS, labels, 1);
        lg_outf(o,
                ", \"bytes_in\": %.0f, \"bytes_out\": %.0f, \"connections_active\": %.0f, "
                "\"connections_total\": %.0f, \"tls\": ",
                lg_metrics_get(t, LG_M_BYTES_IN, "", labels),
                lg_metrics_get(t, LG_M_BYTES_OUT, "", labels),
                lg_metrics_get(t, LG_M_CONNS_ACTIVE, "", labels),
                lg_metrics_get(t, LG_M_CONNS, "", labels));
        json_tls(o, t, lc);
        lg_outf(o, "}");
    }
    lg_outf(o, "]");
}

/* Member `m` of pool `p`, after `shown` rows of its pool; 0 when it has no row. */
static int json_member(lg_out_t *o, const lg_metrics_t *t, const lg_admin_gen_t *g, size_t p,
                       size_t m, size_t shown)
{
    const lg_pool_conf_t *pc = &g->cf->pools[p];
    lg_be_state_t *st = lg_shm_backend(g->shm, p, m);
    const lg_backend_conf_t *bc = lg_member_conf(pc, m);
    struct sockaddr_storage ss;
    socklen_t sl;
    char addr[LG_ADDR_TEXT_MAX], host[LG_ADDR_TEXT_MAX * 2], reason[LG_SHM_REASON_LEN * 2];
    char labels[LG_LABEL_BASE];
    lg_stats_member_t sm;
    int labeled;

    if (bc->addr.is_hostname && !atomic_load(&st->in_use) && m % LG_DNS_SLOTS != 0)
        return 0; /* one row for a name without addresses, none for spare slots */
    lg_be_addr(st, &ss, &sl);
    if (atomic_load(&st->in_use))
        lg_net_addr_text((const struct sockaddr *)&ss, addr, sizeof(addr));
    else
        lg_format(addr, sizeof(addr), "%s", bc->addr.text); /* sized for it */
    lg_stats_sum_member(g->stats, p, m, &sm);
    lg_outf(o,
            "%s\n  {\"address\": \"%s\", \"host\": \"%s\", \"state\": \"%s\", "
            "\"weight\": %u, \"active\": %u, \"requests\": ",
            shown ? "," : "", addr, lg_metrics_esc(bc->addr.text, host, sizeof(host)),
            member_state(pc, st), bc->weight, atomic_load(&st->active));
    labeled = lg_metrics_labels(g, p, m, labels, sizeof(labels));
    if (labeled)
        json_classes(o, t, LG_M_BE_REQUESTS, labels, 0);
    else
        lg_outf(o, "{}");
    lg_outf(o, ", \"failures\": %.0f, \"ejections\": %u, \"latency_ms\": ",
            labeled ? lg_metrics_get(t, LG_M_BE_FAILURES, "", labels) : 0.0,
            atomic_load(&st->ejections));
    json_latency(o, sm.hist);
    if (pc->health_check.type == LG_CHECK_NONE || st->last_check == 0)
        lg_outf(o, ", \"check\": null}");
    else
        lg_outf(o, ", \"check\": {\"result\": \"%s\", \"seconds_ago\": %.1f}}",
                lg_metrics_esc(st->reason, reason, sizeof(reason)),
                (double)(lg_now - st->last_check) / 1000.0);
    return 1;
}

/* The pool's queue (max_connections): waiting now, and how many waited, timed out, were refused. */
static void json_queue(lg_out_t *o, const lg_metrics_t *t, const lg_pool_conf_t *pc,
                       const char *labels)
{
    if (!lg_pool_limited(pc)) {
        lg_outf(o, ", \"queue\": null");
        return;
    }
    lg_outf(o,
            ", \"queue\": {\"length\": %.0f, \"queued\": %.0f, \"timeouts\": %.0f, "
            "\"full\": %.0f}",
            lg_metrics_get(t, LG_M_QUEUE_LENGTH, "", labels),
            lg_metrics_get(t, LG_M_QUEUED, "", labels),
            lg_metrics_get(t, LG_M_QUEUE_TIMEOUTS, "", labels),
            lg_metrics_get(t, LG_M_QUEUE_FULL, "", labels));
}

static void json_pool(lg_out_t *o, const lg_metrics_t *t, const lg_admin_gen_t *g, size_t p)
{
    static const char *const balances[] = {"round_robin", "weighted", "least_conn", "p2c", "hash"};
    const lg_pool_conf_t *pc = &g->cf->pools[p];
    char labels[LG_LABEL_BASE];
    lg_stats_pool_t sp;
    size_t shown = 0;

    lg_stats_sum_pool(g->stats, p, &sp);
    if (lg_format(labels, sizeof(labels), "pool=\"%s\"", pc->name) != LG_OK)
        labels[0] = '\0';
    lg_outf(o,
            "%s\n {\"name\": \"%s\", \"balance\": \"%s\", \"retries\": %.0f, "
            "\"no_backend\": %.0f, \"latency_ms\": ",
            p ? "," : "", pc->name, balances[pc->balance],
            lg_metrics_get(t, LG_M_RETRIES, "", labels),
            lg_metrics_get(t, LG_M_NO_BACKEND, "", labels));
    json_latency(o, sp.hist);
    json_queue(o, t, pc, labels);
    lg_outf(o, ", \"backends\": [");
    for (size_t m = 0; m < lg_pool_members(pc); m++)
        shown += (size_t)json_member(o, t, g, p, m, shown);
    lg_outf(o, "]}");
}

static void json_acme_name(const lg_acme_name_view_t *n, void *arg)
{
    lg_out_t *o = arg;
    char name[LG_ACME_NAME_MAX * 2], error[LG_ACME_ERROR_MAX * 2];

    lg_outf(o, "%s\n {\"name\": \"%s\", \"expires\": %lld, \"renewed\": %lld, \"error\": \"%s\"}",
            o->len > 0 && o->p[o->len - 1] == '[' ? "" : ",",
            lg_metrics_esc(n->name, name, sizeof(name)), (long long)n->expiry,
            (long long)n->renewed, lg_metrics_esc(n->error, error, sizeof(error)));
}

void lg_status_json(lg_out_t *o, const lg_metrics_t *t, const lg_admin_view_t *v)
{
    json_listeners(o, t, v);
    lg_outf(o, ",\n\"pools\": [");
    for (size_t p = 0; p < v->gens[0].cf->npools; p++)
        json_pool(o, t, &v->gens[0], p);
    /* the names of acme certificates (src/acme): expiry (0: placeholder), last failure */
    lg_outf(o, "],\n\"acme\": [");
    lg_acme_each(json_acme_name, o);
    lg_outf(o, "]}\n");
}
