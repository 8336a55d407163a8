/*
 * test_slow_start.c - when a member's slow_start ramp begins (src/upstream/shm.c): not for the
 * members of the first generation, nor for those carried over by a reload (a ramp under way
 * goes on), but for a backend a reload adds, one that comes up again, and an address DNS gives
 * later.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "config/config.h"
#include "event/loop.h"
#include "lg_test.h"
#include "upstream/shm.h"

/* Pool `app` without active checks (members up at once) over 127.0.0.1 ports `ports`. */
static lg_config_t *conf_of(const char *ports)
{
    char *dir = lg_test_tempdir();
    char *path = lg_test_write_file(
        dir, "lifeguard.yaml",
        lg_fmt("listeners:\n  web:\n    listen: 127.0.0.1:0\n    routes:\n      - pool: app\n"
               "pools:\n  app:\n    slow_start: 10s\n    health_check: {type: none}\n"
               "    backends: [%s]\n",
               ports));
    lg_config_errors_t e = {0};
    lg_config_t *cf = lg_config_load(path, &e);

    cr_assert_not_null(cf, "the test's configuration does not load");
    return cf;
}

static uint64_t since(const lg_shm_t *shm, size_t m)
{
    return atomic_load(&lg_shm_backend(shm, 0, m)->up_since);
}

Test(slow_start, ramps_begin_when_a_member_comes_up_after_the_start)
{
    lg_config_t *first = conf_of("127.0.0.1:9001, 127.0.0.1:9002");
    lg_config_t *more = conf_of("127.0.0.1:9001, 127.0.0.1:9002, 127.0.0.1:9003");
    lg_shm_t *g1, *g2, *g3;
    lg_be_state_t *s;
    struct sockaddr_in sa = {.sin_family = AF_INET};

    lg_now = 50000;
    g1 = lg_shm_new(first, NULL, NULL);
    cr_assert_not_null(g1);
    for (size_t m = 0; m < 2; m++) {
        cr_assert_eq(atomic_load(&lg_shm_backend(g1, 0, m)->up), 1);
        cr_assert_eq(since(g1, m), 0, "a member at start ramps");
    }

    lg_now = 60000; /* a reload adds 9003: it ramps; the others keep their full weight */
    g2 = lg_shm_new(more, g1, first);
    cr_assert_eq(since(g2, 0), 0);
    cr_assert_eq(since(g2, 1), 0);
    cr_assert_eq(since(g2, 2), 60000);

    lg_now = 61000; /* another reload: 9003's ramp goes on from where it began */
    g3 = lg_shm_new(more, g2, more);
    cr_assert_eq(since(g3, 2), 60000);

    lg_now = 70000; /* 9001 gets an address again (as DNS does): it comes up, and ramps */
    s = lg_shm_backend(g3, 0, 0);
    sa.sin_port = htons(9001);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lg_be_set_addr(s, (const struct sockaddr *)&sa, sizeof(sa), 0);
    cr_assert_eq(atomic_load(&s->up), 1);
    cr_assert_eq(since(g3, 0), 70000);

    /* with active checks an address is down until a check brings it up (lg_be_came_up) */
    s = lg_shm_backend(g3, 0, 1);
    lg_be_set_addr(s, (const struct sockaddr *)&sa, sizeof(sa), 1);
    cr_assert_eq(atomic_load(&s->up), 0);
    lg_now = 71000;
    lg_be_came_up(s);
    cr_assert_eq(atomic_load(&s->up), 1);
    cr_assert_eq(since(g3, 1), 71000);
}

/* A member of the first generation that is down at its first verdict ramps when it comes up. */
Test(slow_start, first_verdict_is_the_start_later_ones_ramp)
{
    lg_config_t *cf = conf_of("127.0.0.1:9001");
    lg_shm_t *g = lg_shm_new(cf, NULL, NULL);
    lg_be_state_t *s = lg_shm_backend(g, 0, 0);

    /* as at the start of a pool with checks: down, no verdict yet */
    atomic_store(&s->up, 0);
    atomic_store(&s->up_since, 0);
    s->ramp = 0;
    lg_now = 1000;
    lg_be_came_up(s); /* its first verdict: up at full weight */
    cr_assert_eq(atomic_load(&s->up_since), 0);
    atomic_store(&s->up, 0); /* down, then up again */
    lg_now = 9000;
    lg_be_came_up(s);
    cr_assert_eq(atomic_load(&s->up_since), 9000);
}
