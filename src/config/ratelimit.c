/*
 * ratelimit.c - a route's rate_limit mapping: the key requests are counted by (client_ip or
 * header:NAME), the rate (N/s or N/m) and the burst (default: N). The buckets themselves are in
 * src/policy/ratelimit.c.
 */
#include <string.h>

#include "config/config-int.h"

#define LG_RL_RATE_MAX  1000000u /* per second or per minute: at least 1 token per microsecond */
#define LG_RL_BURST_MAX 1000000u
#define LG_USEC_SECOND  UINT64_C(1000000)
#define LG_SEC_MINUTE   60u

static const char conf_rl_example[] = "a mapping such as {key: client_ip, rate: 100/s, burst: 50}";

/* key: client_ip | header:NAME */
static void conf_rl_key(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                        const lg_conf_field_t *f)
{
    static const char header[] = "header:";
    lg_rate_limit_conf_t *rl = base;
    size_t plen = sizeof(header) - 1;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "client_ip or header:NAME") != LG_OK)
        return;
    if (strcmp(v->str, "client_ip") == 0) {
        rl->key = LG_RL_KEY_CLIENT_IP;
    } else if (strncmp(v->str, header, plen) != 0) {
        lg_conf_perr(c, v, "unknown value %s (expected client_ip or header:NAME)",
                     lg_conf_q(c, v->str));
    } else if (!lg_conf_is_token(v->str + plen)) {
        lg_conf_perr(c, v, "invalid header name %s", lg_conf_q(c, v->str + plen));
    } else {
        rl->key = LG_RL_KEY_HEADER;
        rl->header = lg_arena_strndup(c->arena, v->str + plen, v->len - plen);
    }
}

/* rate: N/s | N/m, N from 1 to LG_RL_RATE_MAX */
static void conf_rl_rate(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                         const lg_conf_field_t *f)
{
    lg_rate_limit_conf_t *rl = base;
    const char *slash;
    char num[24];
    uint64_t n;
    size_t len;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a rate such as 100/s or 30/m") != LG_OK)
        return;
    slash = strchr(v->str, '/');
    len = slash != NULL ? (size_t)(slash - v->str) : 0;
    if (slash == NULL || len == 0 || len >= sizeof(num)) {
        lg_conf_perr(c, v, "invalid rate %s: expected N/s or N/m, such as 100/s",
                     lg_conf_q(c, v->str));
        return;
    }
    memcpy(num, v->str, len);
    num[len] = '\0';
    if (strcmp(slash, "/s") != 0 && strcmp(slash, "/m") != 0) {
        lg_conf_perr(c, v, "invalid rate %s: unknown unit (use /s or /m)", lg_conf_q(c, v->str));
        return;
    }
    if (lg_conf_parse_uint(num, &n) != LG_OK || n < 1 || n > LG_RL_RATE_MAX) {
        lg_conf_perr(c, v, "invalid rate %s: the number must be a whole number from 1 to %u",
                     lg_conf_q(c, v->str), LG_RL_RATE_MAX);
        return;
    }
    rl->rate = (unsigned)n;
    rl->per_sec = slash[1] == 'm' ? LG_SEC_MINUTE : 1;
}

static const lg_conf_field_t conf_rl_fields[] = {
    LG_CONF_FN("key", conf_rl_key),
    LG_CONF_FN("rate", conf_rl_rate, .flags = LG_CONF_REQUIRED),
    LG_CONF_ROW("burst", LG_CONF_UINT, lg_rate_limit_conf_t, burst, 1, LG_RL_BURST_MAX),
    LG_CONF_END,
};

void lg_conf_rate_limit(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                        const lg_conf_field_t *f)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    lg_route_conf_t *r = base;
    lg_rate_limit_conf_t *rl;

    LG_UNUSED(f);
    if (lg_conf_want_items(c, key, v, LG_YNODE_MAP, "needs a rate, such as {rate: 100/s}",
                           conf_rl_example) != LG_OK)
        return;
    if ((rl = lg_arena_calloc(c->arena, 1, sizeof(*rl))) == NULL)
        return;
    lg_conf_walk(c, key, v, conf_rl_fields, rl, seen);
    if (rl->rate == 0)
        return; /* reported */
    if (rl->burst == 0)
        rl->burst = rl->rate; /* N requests at once, as "N in any period" reads */
    rl->interval_us = rl->per_sec * LG_USEC_SECOND / rl->rate;
    r->rate_limit = rl;
}

LG_CONF_FITS(conf_rl_fields);
