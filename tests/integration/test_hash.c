/*
 * test_hash.c - balance: hash with a header or cookie key: requests that carry the key stay on
 * one backend; requests without it are spread over every backend in turn (HAProxy's fallback to
 * round robin), instead of all landing on one.
 */
#include "proxy_common.h"

#define HS_BACKENDS 3
#define HS_REQUESTS 12

/* lifeguard in front of origins a, b, c with balance: hash on `key`. */
static lg_proc_t *hs_start(const lg_proc_t *const *o, const char *key)
{
    lg_yaml_t *conf = lg_yaml_single(o[0]->port);

    lg_yaml_set(conf, "pools.app.balance", "hash");
    lg_yaml_set(conf, "pools.app.hash_key", key);
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", o[1]->port);
    lg_yaml_add(conf, "pools.app.backends", "127.0.0.1:%d", o[2]->port);
    return lg_yaml_start(conf);
}

/* Which origin answered `headers` (0 for a, 1 for b, 2 for c). */
static int hs_who(int port, const char *headers)
{
    lg_http_response_t *r = lg_http_get(port, "/", headers);

    lgt_assert_status(r, 200);
    cr_assert(r->body_len >= 1 && r->body[0] >= 'a' && r->body[0] < 'a' + HS_BACKENDS, "body %s",
              r->body);
    return r->body[0] - 'a';
}

static const struct hs_case {
    const char *key;
    const char *with;    /* a request header that carries the key */
    const char *without; /* requests without the key: no such field, or an empty value */
    const char *empty;
} hs_cases[] = {
    {"header:X-User", "X-User: alice\r\n", "X-Other: alice\r\n", "X-User:\r\n"},
    {"cookie:uid", "Cookie: theme=dark; uid=alice\r\n", "Cookie: theme=dark\r\n",
     "Cookie: uid=\r\n"},
};

Test(hash, missing_key_goes_round_robin, .timeout = 60)
{
    const lg_proc_t *o[HS_BACKENDS] = {lg_origin_start("--name a"), lg_origin_start("--name b"),
                                       lg_origin_start("--name c")};

    for (size_t k = 0; k < sizeof(hs_cases) / sizeof(hs_cases[0]); k++) {
        const struct hs_case *hc = &hs_cases[k];
        lg_proc_t *lg = hs_start(o, hc->key);
        int port = lg_proc_port(lg, "web");
        int sticky = hs_who(port, hc->with);
        int seen[HS_BACKENDS] = {0}, empty[HS_BACKENDS] = {0};

        for (int i = 0; i < HS_REQUESTS; i++) {
            cr_assert_eq(hs_who(port, hc->with), sticky, "%s: a request with the key moved",
                         hc->key);
            seen[hs_who(port, hc->without)]++;
            empty[hs_who(port, hc->empty)]++;
        }
        for (int b = 0; b < HS_BACKENDS; b++) {
            cr_expect_eq(seen[b], HS_REQUESTS / HS_BACKENDS,
                         "%s: backend %c took %d of %d requests without the key", hc->key, 'a' + b,
                         seen[b], HS_REQUESTS);
            cr_expect_eq(empty[b], HS_REQUESTS / HS_BACKENDS,
                         "%s: backend %c took %d of %d requests with an empty key", hc->key,
                         'a' + b, empty[b], HS_REQUESTS);
        }
        lg_lifeguard_finish(lg, NULL);
    }
}
