/*
 * metrics.h - the series the admin pages show: every counter and state value, keyed by metric
 * family and labels, as /metrics writes them (Prometheus text format) and /status.json reads
 * them.
 *
 * Counters of traffic are summed over the worker slots of every live generation plus the
 * totals of the generations that ended (lg_metrics_retire), so a reload never makes a counter
 * go back; state (health, active connections, reloads) is read from the serving generation.
 */
#ifndef LG_METRICS_H
#define LG_METRICS_H

#include "admin/admin.h"
#include "admin/out.h"
#include "core/net.h"

/* Labels a series adds one more label to; the longest is a member's: the pool name (64 bytes
 * at most, LG_CONF_NAME_MAX in config-int.h) and its host as configured, both escaped (each byte
 * may double), and its address. */
#define LG_LABEL_BASE (2 * 64 + LG_ADDR_STRLEN + 2 * LG_ADDR_TEXT_MAX + 32)
/* a series' labels: a base, then code= or le= (and protocol=) */
#define LG_LABELS_MAX (LG_LABEL_BASE + 48)

/* Metric families, in the order /metrics writes them. */
enum lg_metric_family {
    LG_M_REQUESTS,
    LG_M_BYTES_IN,
    LG_M_BYTES_OUT,
    LG_M_CONNS,
    LG_M_CONNS_ACTIVE,
    LG_M_CONNS_REFUSED,
    LG_M_CONNS_DROPPED,
    LG_M_TLS_HANDSHAKES,
    LG_M_TLS_RESUMED,
    LG_M_TLS_FAILURES,
    LG_M_TLS_CERT_EXPIRY,
    LG_M_ACME_EXPIRY,
    LG_M_ACME_ORDERS,
    LG_M_ACME_RENEWED,
    LG_M_KTLS,
    LG_M_KTLS_FALLBACK,
    LG_M_H2_STREAMS,
    LG_M_H2_ASLEEP,
    LG_M_H2_GOAWAY,
    LG_M_H2_RESETS,
    LG_M_BE_REQUESTS,
    LG_M_BE_FAILURES,
    LG_M_BE_UP,
    LG_M_BE_ACTIVE,
    LG_M_BE_EJECTIONS,
    LG_M_BE_CHECK,
    LG_M_DURATION,
    LG_M_RETRIES,
    LG_M_NO_BACKEND,
    LG_M_QUEUE_LENGTH,
    LG_M_QUEUED,
    LG_M_QUEUE_TIMEOUTS,
    LG_M_QUEUE_FULL,
    LG_M_RATE_LIMITED,
    LG_M_RL_EVICTED,
    LG_M_RL_KEYS,
    LG_M_RELOADS,
    LG_M_CONFIG_RELOADS,
    LG_M_CONFIG_RELOAD_OK_AT,
    LG_M_GENERATION,
    LG_M_RESTARTS,
    LG_M_WORKERS,
    LG_M_INFO,
    LG_M_COUNT
};

typedef struct lg_series {
    int fam;
    const char *suffix; /* "_bucket", "_sum", "_count" or "" */
    char labels[LG_LABELS_MAX];
    double v;
} lg_series_t;

/* Every series of one moment. */
typedef struct lg_metrics {
    lg_series_t *s;
    size_t n, cap;
} lg_metrics_t;

/* "1xx" .. "5xx", the `code` label of a status class. */
extern const char *const lg_class_names[LG_CLASSES];
/* "HTTP/1.1" (HTTP/1.0 too), "HTTP/2.0": the `protocol` label of lifeguard_requests_total. */
extern const char *const lg_proto_names[LG_PROTOS];

/* Every series now into `t` (emptied first): retired totals, live counters, current state. */
void lg_metrics_build(lg_metrics_t *t, const lg_admin_view_t *v);
void lg_metrics_free(lg_metrics_t *t);
/* A generation ends: its counters are added to the totals, so none goes backwards. */
void lg_metrics_retire(const lg_admin_gen_t *g);
/* The value of one series, 0 when there is none. */
double lg_metrics_get(const lg_metrics_t *t, int fam, const char *suffix, const char *labels);
/* The sum of a family's series. */
double lg_metrics_sum(const lg_metrics_t *t, int fam);
/* The Prometheus text form of `t`. */
void lg_metrics_text(lg_out_t *o, const lg_metrics_t *t);

/* A member's labels (pool, backend address, host as configured); 0 when it has no address. */
int lg_metrics_labels(const lg_admin_gen_t *g, size_t p, size_t m, char *buf, size_t len);
/*
 * `s` made safe inside a quoted JSON string or Prometheus label value: backslash and quote
 * escaped, a newline as \n, other control characters replaced.
 */
const char *lg_metrics_esc(const char *s, char *buf, size_t len);

#endif
