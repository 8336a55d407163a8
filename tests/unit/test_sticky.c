/*
 * test_sticky.c - the sticky cookie (src/upstream/sticky.c): a backend's id is opaque (no part
 * of its address), stable in every worker and across a reload, new after a restart; only an
 * exact id names a backend; the Set-Cookie value and its attributes.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

#include "config/config.h"
#include "http/head.h"
#include "lg_test.h"
#include "upstream/sticky.h"
#include "upstream/upstream.h"

#define CONF                                                                                       \
    "listeners:\n  web:\n    listen: 127.0.0.1:0\n    routes:\n      - pool: app\n"                \
    "pools:\n  app:\n    health_check: {type: none}\n    sticky: {cookie: LGSRV%s}\n"              \
    "    backends: [127.0.0.1:9001, 127.0.0.1:9002, 127.0.0.1:9003]\n"

static lg_config_t *conf_load(const char *attrs)
{
    char *dir = lg_test_tempdir();
    char *path = lg_test_write_file(dir, "lifeguard.yaml", lg_fmt(CONF, attrs));
    lg_config_errors_t e = {0};
    lg_config_t *cf = lg_config_load(path, &e);

    cr_assert_not_null(cf, "the test's configuration does not load");
    return cf;
}

/* A worker's pool `app` over `shm`. */
static lg_pool_t *worker_pool(const lg_config_t *cf, lg_shm_t *shm)
{
    lg_upstreams_t *ups = calloc(1, sizeof(*ups));

    cr_assert_not_null(ups);
    cr_assert_eq(lg_upstream_init(ups, cf, shm, NULL), LG_OK);
    return lg_upstream_pool(ups, 0);
}

/* A request head carrying `cookie` (the whole Cookie value), scanned. */
static lg_req_head_t *request(const char *cookie)
{
    const char *text = lg_fmt("GET / HTTP/1.1\r\nHost: a\r\nCookie: %s\r\n\r\n", cookie);
    lg_req_head_t *rq = calloc(1, sizeof(*rq));

    cr_assert_not_null(rq);
    cr_assert_eq(lg_req_head_scan(rq, text, strlen(text), 1), 0, "%s", text);
    return rq;
}

Test(sticky, ids_are_opaque_distinct_and_stable)
{
    lg_config_t *cf = conf_load("");
    lg_shm_t *shm = lg_shm_new(cf, NULL, NULL);
    lg_shm_t *reloaded = lg_shm_new(cf, shm, cf);
    lg_shm_t *restarted = lg_shm_new(cf, NULL, NULL);
    lg_pool_t *w1 = worker_pool(cf, shm), *w2 = worker_pool(cf, shm);
    lg_pool_t *w3 = worker_pool(cf, reloaded), *w4 = worker_pool(cf, restarted);

    for (size_t i = 0; i < 3; i++) {
        const char *id = lg_sticky_id(&w1->backends[i]);

        cr_assert_eq(strlen(id), LG_STICKY_ID_LEN);
        for (size_t k = 0; k < LG_STICKY_ID_LEN; k++)
            cr_assert(isxdigit((unsigned char)id[k]) && !isupper((unsigned char)id[k]), "%s", id);
        cr_assert_null(strstr(id, "127"), "%s", id);
        cr_assert_null(strstr(id, lg_fmt("900%zu", i + 1)), "%s", id);
        cr_assert_str_eq(lg_sticky_id(&w2->backends[i]), id, "another worker");
        cr_assert_str_eq(lg_sticky_id(&w3->backends[i]), id, "after a reload");
        cr_assert_str_neq(lg_sticky_id(&w4->backends[i]), id, "after a restart");
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(lg_sticky_id(&w1->backends[j]), id);
    }
}

Test(sticky, only_an_exact_id_names_a_backend)
{
    lg_config_t *cf = conf_load("");
    lg_pool_t *p = worker_pool(cf, lg_shm_new(cf, NULL, NULL));
    char id[LG_STICKY_ID_LEN + 1], upper[LG_STICKY_ID_LEN + 1];

    strcpy(id, lg_sticky_id(&p->backends[1]));
    for (size_t k = 0; k <= LG_STICKY_ID_LEN; k++)
        upper[k] = (char)toupper((unsigned char)id[k]);
    cr_assert_eq(lg_sticky_find(p, request(lg_fmt("LGSRV=%s", id))), &p->backends[1]);
    cr_assert_eq(lg_sticky_find(p, request(lg_fmt("a=1; LGSRV=%s; b=2", id))), &p->backends[1]);

    const char *forged[] = {
        lg_fmt("LGSRV=%.15s", id),                              /* short */
        lg_fmt("LGSRV=%s0", id),                                /* long */
        lg_fmt("LGSRV=%s", upper),                              /* not our spelling */
        lg_fmt("LGSRV=\"%s\"", id),                             /* quoted */
        lg_fmt("LGSRV=%.15s%c", id, id[15] == '0' ? '1' : '0'), /* one digit off */
        "LGSRV=0123456789abcdef",                               /* well formed, nobody's */
        "LGSRV=127.0.0.1:9002",                                 /* an address */
        "LGSRV=../../etc/passwd%00",                            /* junk */
        lg_fmt("lgsrv=%s", id),                                 /* cookie names are exact */
        lg_fmt("XLGSRV=%s", id),                                /* another cookie */
        "LGSRV=",                                               /* empty */
    };
    for (size_t k = 0; k < LG_NELEMS(forged); k++)
        cr_assert_null(lg_sticky_find(p, request(forged[k])), "%s was taken", forged[k]);
}

Test(sticky, set_cookie_value_and_attributes)
{
    lg_config_t *cf = conf_load("");
    lg_pool_t *p = worker_pool(cf, lg_shm_new(cf, NULL, NULL));
    lg_config_t *cf2 = conf_load(", path: /shop, max_age: 90m, samesite: none, httponly: false");
    lg_pool_t *p2 = worker_pool(cf2, lg_shm_new(cf2, NULL, NULL));
    char buf[LG_STICKY_COOKIE_MAX];
    lg_span_t v;

    v = lg_sticky_set_cookie(&p->backends[0], NULL, 0, buf, sizeof(buf));
    cr_assert_str_eq(
        lg_fmt("%.*s", (int)v.len, v.p),
        lg_fmt("LGSRV=%s; Path=/; HttpOnly; SameSite=Lax", lg_sticky_id(&p->backends[0])));
    v = lg_sticky_set_cookie(&p->backends[2], &p->backends[0], 1, buf, sizeof(buf));
    cr_assert_str_eq(
        lg_fmt("%.*s", (int)v.len, v.p),
        lg_fmt("LGSRV=%s; Path=/; HttpOnly; SameSite=Lax; Secure", lg_sticky_id(&p->backends[2])));
    /* the cookie already names the backend that served: nothing to set */
    v = lg_sticky_set_cookie(&p->backends[2], &p->backends[2], 1, buf, sizeof(buf));
    cr_assert_eq(v.len, 0);
    v = lg_sticky_set_cookie(&p2->backends[1], NULL, 0, buf, sizeof(buf));
    cr_assert_str_eq(lg_fmt("%.*s", (int)v.len, v.p),
                     lg_fmt("LGSRV=%s; Path=/shop; Max-Age=5400; SameSite=None",
                            lg_sticky_id(&p2->backends[1])));
}
