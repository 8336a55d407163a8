/*
 * xlimit.c - the rate limit of the route a request matched: a 429 with Retry-After when the
 * request's key has no token left. The buckets are src/policy/ratelimit.c's.
 */
#include "exchange/xint.h"

#include <netinet/in.h>

#include "core/log.h"
#include "policy/ratelimit.h"

/*
 * What a request is counted by: the client's address (its bytes), or the value of a header;
 * requests without the header (or with it empty) all count against the one bucket of "".
 */
static lg_span_t limit_key(const lg_exchange_t *x, const lg_rate_limit_conf_t *rl,
                           const lg_req_head_t *rq)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)x->peer;
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)x->peer;

    if (rl->key == LG_RL_KEY_HEADER)
        return lg_req_head_header(rq, rl->header);
    if (x->peer->sa_family == AF_INET6)
        return (lg_span_t){(const char *)&in6->sin6_addr, sizeof(in6->sin6_addr)};
    return (lg_span_t){(const char *)&in->sin_addr, sizeof(in->sin_addr)};
}

int lg_x_rate_limit(lg_exchange_t *x, const lg_req_head_t *rq)
{
    const lg_rate_limit_conf_t *rl = x->route->rate_limit;
    lg_reply_t r = {.status = 429};
    lg_span_t key;
    uint64_t wait;

    if (rl == NULL || rl->table == NULL)
        return LG_OK;
    key = limit_key(x, rl, rq);
    wait = lg_rl_take(rl, lg_rl_hash(rl->table, rl->id, key.p, key.len), lg_now);
    if (wait == 0)
        return LG_OK;
    r.retry_after = lg_rl_seconds(wait);
    atomic_fetch_add_explicit(&rl->table->counters[rl->id].limited, 1, memory_order_relaxed);
    if (lg_debug_on())
        lg_debug("route %zu of listener %s: rate limit reached, 429 with Retry-After: %u",
                 (size_t)(x->route - x->ls->routes) + 1, x->ls->name, r.retry_after);
    lg_x_reply(x, &r);
    return LG_ERR;
}
