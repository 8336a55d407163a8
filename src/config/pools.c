/*
 * pools.c - the pools section: the tables of a pool, its backends, its health check and its
 * keepalive, the handlers of the values that are more than a table row (backend list, hash key,
 * expected status), and the checks between a pool's keys (hash_key needs balance: hash, http-only
 * check keys, a health-check timeout no longer than its interval and its default).
 */
#include <ctype.h>
#include <string.h>

#include "config/config-int.h"

#define LG_WEIGHT_MAX  1000
#define LG_RETRIES_MAX 10
#define LG_CHECKS_MAX  100 /* rise, fall */
#define LG_IDLE_MAX    100000
#define LG_STATUS_MIN  100
#define LG_STATUS_MAX  599
#define LG_MAXCONN_MAX 1000000
#define LG_QUEUE_MAX   1000000

int lg_conf_is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return 0;
    return 1;
}

static void conf_hash_key(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                          const lg_conf_field_t *f)
{
    static const struct {
        const char *prefix;
        lg_hash_key_t key;
    } kinds[] = {{"header:", LG_HASH_HEADER}, {"cookie:", LG_HASH_COOKIE}};
    lg_pool_conf_t *p = base;
    size_t i, plen;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "client_ip, uri, header:NAME or cookie:NAME") != LG_OK)
        return;
    if (strcmp(v->str, "client_ip") == 0) {
        p->hash_key = LG_HASH_CLIENT_IP;
        return;
    }
    if (strcmp(v->str, "uri") == 0) {
        p->hash_key = LG_HASH_URI;
        return;
    }
    for (i = 0; i < LG_NELEMS(kinds); i++) {
        plen = strlen(kinds[i].prefix);
        if (strncmp(v->str, kinds[i].prefix, plen) != 0)
            continue;
        if (!lg_conf_is_token(v->str + plen)) {
            lg_conf_perr(c, v, "invalid %.*s name %s", (int)plen - 1, kinds[i].prefix,
                         lg_conf_q(c, v->str + plen));
            return;
        }
        p->hash_key = kinds[i].key;
        p->hash_key_name = lg_arena_strndup(c->arena, v->str + plen, v->len - plen);
        return;
    }
    lg_conf_perr(c, v, "unknown value %s (expected client_ip, uri, header:NAME or cookie:NAME)",
                 lg_conf_q(c, v->str));
}

static int conf_parse_status(const char *s, const char **end, unsigned *out)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < 3 && isdigit((unsigned char)s[i]); i++)
        n = n * 10 + (unsigned)(s[i] - '0');
    if (i != 3 || isdigit((unsigned char)s[i]) || n < LG_STATUS_MIN || n > LG_STATUS_MAX)
        return LG_ERR;
    *out = n;
    *end = s + i;
    return LG_OK;
}

/* "200" or "200-399". */
static void conf_expect_status(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                               void *base, const lg_conf_field_t *f)
{
    lg_health_check_conf_t *hc = base;
    unsigned lo, hi;
    const char *end;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a status such as 200 or a range such as 200-399") != LG_OK)
        return;
    if (conf_parse_status(v->str, &end, &lo) != LG_OK)
        goto bad;
    hi = lo;
    if (*end == '-' && conf_parse_status(end + 1, &end, &hi) != LG_OK)
        goto bad;
    if (*end != '\0')
        goto bad;
    if (lo > hi) {
        lg_conf_perr(c, v, "empty status range %s: the first code must not be above the second",
                     lg_conf_q(c, v->str));
        return;
    }
    hc->expect_min = lo;
    hc->expect_max = hi;
    return;

bad:
    lg_conf_perr(c, v,
                 "invalid status %s: expected a code from 100 to 599 such as 200, or a "
                 "range such as 200-399",
                 lg_conf_q(c, v->str));
}

static const char *const conf_check_types[] = {"tcp", "http", "none", NULL};

static const lg_conf_field_t conf_check_fields[] = {
    LG_CONF_ROW("type", LG_CONF_ENUM, lg_health_check_conf_t, type, 0, 0,
                .names = conf_check_types),
    LG_CONF_ROW("path", LG_CONF_CUSTOM, lg_health_check_conf_t, path, 0, 0, .fn = lg_conf_url_path),
    LG_CONF_ROW("host", LG_CONF_STRING, lg_health_check_conf_t, host, 0, 0),
    LG_CONF_FN("expect_status", conf_expect_status),
    LG_CONF_ROW("interval", LG_CONF_DURATION, lg_health_check_conf_t, interval, 10, LG_MSEC_HOUR),
    LG_CONF_ROW("timeout", LG_CONF_DURATION, lg_health_check_conf_t, timeout, 1, LG_MSEC_HOUR),
    LG_CONF_ROW("rise", LG_CONF_UINT, lg_health_check_conf_t, rise, 1, LG_CHECKS_MAX),
    LG_CONF_ROW("fall", LG_CONF_UINT, lg_health_check_conf_t, fall, 1, LG_CHECKS_MAX),
    LG_CONF_END,
};

static void conf_health_check(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                              void *base, const lg_conf_field_t *f)
{
    static const char *const http_only[] = {"path", "host", "expect_status"};
    lg_health_check_conf_t *hc = &((lg_pool_conf_t *)base)->health_check;
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const lg_conf_seen_t *s;
    char t[32], iv[32];
    size_t i;

    LG_UNUSED(f);
    lg_conf_walk(c, key, v, conf_check_fields, hc, seen);
    for (i = 0; hc->type != LG_CHECK_HTTP && i < LG_NELEMS(http_only); i++) {
        s = lg_conf_seen(conf_check_fields, seen, http_only[i]);
        if (s != NULL)
            lg_conf_key_err(c, s->key, http_only[i], "only used with \"type: http\"");
    }
    /* A timeout nobody wrote never makes a short interval invalid: it is min(1s, interval). */
    s = lg_conf_seen(conf_check_fields, seen, "timeout");
    if (s == NULL || s->val->is_alias) {
        hc->timeout = LG_MIN(hc->timeout, hc->interval);
    } else if (hc->timeout > hc->interval) {
        lg_conf_fmt_duration(t, sizeof(t), hc->timeout);
        lg_conf_fmt_duration(iv, sizeof(iv), hc->interval);
        lg_conf_key_err(c, s->val, "timeout",
                        "the timeout (%s) must not be longer than the interval (%s)", t, iv);
    }
}

static const lg_conf_field_t conf_backend_fields[] = {
    LG_CONF_ROW("address", LG_CONF_ADDR, lg_backend_conf_t, addr, 0, 0, .aux = LG_ADDR_HOSTNAME,
                .flags = LG_CONF_REQUIRED),
    LG_CONF_ROW("weight", LG_CONF_UINT, lg_backend_conf_t, weight, 1, LG_WEIGHT_MAX),
    LG_CONF_ROW("max_connections", LG_CONF_UINT, lg_backend_conf_t, max_connections, 0,
                LG_MAXCONN_MAX),
    LG_CONF_ROW("backup", LG_CONF_ENUM, lg_backend_conf_t, backup, 0, 0, .names = lg_conf_bool),
    LG_CONF_END,
};

/* A list of backends: "ADDRESS" or {address: ADDRESS, weight: N}; no address twice. */
static void conf_backends(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                          const lg_conf_field_t *f)
{
    static const lg_conf_field_t addr_only = LG_CONF_ROW("address", LG_CONF_ADDR, lg_backend_conf_t,
                                                         addr, 0, 0, .aux = LG_ADDR_HOSTNAME);
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    lg_pool_conf_t *p = base;
    lg_conf_addr_ref_t *refs;
    const lg_conf_seen_t *s;
    lg_backend_conf_t *be;
    const lg_ynode_t *item;
    size_t i, n = 0, mark;

    LG_UNUSED(f);
    if (lg_conf_want_items(c, key, v, LG_YNODE_SEQ, "a pool needs at least one backend",
                           "a list of backends") != LG_OK)
        return;
    p->backends = lg_arena_calloc(c->arena, v->nkids, sizeof(*p->backends));
    refs = lg_arena_calloc(c->scratch, v->nkids, sizeof(*refs));
    if (p->backends == NULL || refs == NULL)
        return;
    for (i = 0; i < v->nkids; i++) {
        item = v->kids[i];
        be = &p->backends[i];
        be->weight = 1;
        be->pos = (lg_conf_pos_t){item->line, item->col};
        if (item->is_alias)
            continue;
        mark = lg_conf_path_push(c, NULL, i);
        if (item->kind == LG_YNODE_MAP) {
            lg_conf_walk(c, item, item, conf_backend_fields, be, seen);
            s = lg_conf_seen(conf_backend_fields, seen, "address");
        } else {
            lg_conf_field(c, &addr_only, item, item, be);
            s = NULL;
        }
        lg_conf_path_pop(c, mark);
        if (be->addr.text[0] == '\0')
            continue;
        refs[n] = (lg_conf_addr_ref_t){&be->addr, s != NULL ? s->val : item, NULL};
        be->addr_pos = (lg_conf_pos_t){refs[n].node->line, refs[n].node->col};
        n++;
    }
    p->nbackends = v->nkids;
    lg_conf_check_backends(c, refs, n);
}

static const char *const conf_balances[] = {"round_robin", "weighted", "least_conn",
                                            "p2c",         "hash",     NULL};

static const lg_conf_field_t conf_keepalive_fields[] = {
    LG_CONF_ROW("max_idle", LG_CONF_UINT, lg_pool_conf_t, keepalive_max_idle, 0, LG_IDLE_MAX),
    LG_CONF_END,
};

static const lg_conf_field_t conf_queue_fields[] = {
    LG_CONF_ROW("max", LG_CONF_UINT, lg_pool_conf_t, queue_max, 0, LG_QUEUE_MAX),
    LG_CONF_ROW("timeout", LG_CONF_DURATION, lg_pool_conf_t, queue_timeout, 1, LG_MSEC_HOUR),
    LG_CONF_END,
};

static const char *const conf_ppout[] = {"off", "v1", "v2", NULL};

static const lg_conf_field_t conf_pool_fields[] = {
    LG_CONF_ROW("balance", LG_CONF_ENUM, lg_pool_conf_t, balance, 0, 0, .names = conf_balances),
    LG_CONF_FN("hash_key", conf_hash_key),
    LG_CONF_FN("backends", conf_backends, .flags = LG_CONF_REQUIRED),
    LG_CONF_ROW("resolve_interval", LG_CONF_DURATION, lg_pool_conf_t, resolve_interval,
                LG_MSEC_SECOND, LG_MSEC_DAY),
    LG_CONF_FN("health_check", conf_health_check),
    {.name = "keepalive", .type = LG_CONF_SECTION, .sub = conf_keepalive_fields},
    LG_CONF_ROW("retries", LG_CONF_UINT, lg_pool_conf_t, retries, 0, LG_RETRIES_MAX),
    {.name = "queue", .type = LG_CONF_SECTION, .sub = conf_queue_fields},
    LG_CONF_ROW("slow_start", LG_CONF_DURATION, lg_pool_conf_t, slow_start, 0, LG_MSEC_HOUR),
    LG_CONF_FN("sticky", lg_conf_sticky),
    LG_CONF_ROW("proxy_protocol", LG_CONF_ENUM, lg_pool_conf_t, proxy_protocol, 0, 0,
                .names = conf_ppout),
    LG_CONF_FN("tls", lg_conf_pool_tls),
    LG_CONF_END,
};

int lg_pool_keeps_idle(const lg_pool_conf_t *p)
{
    return p->keepalive_max_idle != 0 && p->proxy_protocol == LG_PPOUT_OFF;
}

int lg_pool_limited(const lg_pool_conf_t *p)
{
    for (size_t j = 0; j < p->nbackends; j++)
        if (p->backends[j].max_connections != 0)
            return 1;
    return 0;
}

static void conf_pool(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *elem)
{
    lg_pool_conf_t *p = elem;
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const lg_conf_seen_t *s;

    p->balance = LG_BALANCE_ROUND_ROBIN;
    p->hash_key = LG_HASH_CLIENT_IP;
    p->resolve_interval = 5 * LG_MSEC_SECOND;
    p->health_check = (lg_health_check_conf_t){
        .type = LG_CHECK_HTTP,
        .path = lg_arena_strndup(c->arena, "/healthz", strlen("/healthz")),
        .expect_min = 200,
        .expect_max = 399,
        .interval = 2 * LG_MSEC_SECOND,
        .timeout = LG_MSEC_SECOND,
        .rise = 2,
        .fall = 3,
    };
    p->keepalive_max_idle = 64;
    p->retries = 1;
    p->queue_max = 1000;
    lg_conf_walk(c, key, v, conf_pool_fields, p, seen);
    s = lg_conf_seen(conf_pool_fields, seen, "hash_key");
    if (s != NULL && p->balance != LG_BALANCE_HASH)
        lg_conf_key_err(c, s->key, "hash_key", "only used with \"balance: hash\"");
    s = lg_conf_seen(conf_pool_fields, seen, "queue");
    if (s != NULL && !lg_pool_limited(p))
        lg_conf_key_err(c, s->key, "queue", "only used with backends that have max_connections");
    s = lg_conf_seen(conf_pool_fields, seen, "tls");
    if (s != NULL)
        lg_conf_pool_tls_check(c, s->key, p);
}

const lg_conf_named_desc_t lg_conf_pools_desc = {"pool",
                                                 "at least one pool is needed",
                                                 "a mapping of names to pools",
                                                 sizeof(lg_pool_conf_t),
                                                 offsetof(lg_pool_conf_t, name),
                                                 offsetof(lg_pool_conf_t, pos),
                                                 conf_pool};

LG_CONF_FITS(conf_pool_fields);
LG_CONF_FITS(conf_backend_fields);
LG_CONF_FITS(conf_check_fields);
LG_CONF_FITS(conf_keepalive_fields);
LG_CONF_FITS(conf_queue_fields);
