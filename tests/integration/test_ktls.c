/*
 * test_ktls.c - kernel TLS (ktls: auto | off) with the real binary, our TLS client and lg-origin.
 *
 * What runs depends on the kernel, which the test reads itself ("tls" in
 * /proc/sys/net/ipv4/tcp_available_ulp; network namespaces and containers share the kernel, so
 * they change nothing): without kTLS, `ktls: auto` runs in user space and says so (-V, the
 * listener's start line, the metrics), and a kernel that refuses the keys (made to be tried with
 * $LIFEGUARD_KTLS_ULP_FILE) leaves each connection in user space, counted; with kTLS, a 64 MiB
 * body each way goes through the kernel and the metrics say both directions were taken. The same
 * for the backend connections of a pool with tls (pools.NAME.tls.ktls): a front lifeguard whose
 * pool speaks TLS to a second one (a tls listener in front of lg-origin), large bodies both ways
 * intact, its start line and its per-pool series. A test that needs the other kind of kernel is
 * skipped with the reason.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lg_test.h"
#include "lg_test_tls.h"
#include "proxy_common.h"

#define ULP_FILE "/proc/sys/net/ipv4/tcp_available_ulp"

/* 1 when this kernel offers kTLS: "tls" among the words of the ULP file. */
static int kernel_ktls(void)
{
    char *ulp = lg_test_read_file(ULP_FILE, NULL);
    int yes = 0;

    for (char *w = ulp != NULL ? strtok(ulp, " \t\n") : NULL; w != NULL; w = strtok(NULL, " \t\n"))
        yes |= strcmp(w, "tls") == 0;
    free(ulp);
    return yes;
}

/* lg-origin behind a tls listener `web` (ktls: `ktls`) and an admin listener. */
static lg_fix_t ktls_start(const char *ktls)
{
    lg_proc_t *origin = lg_origin_start("--name ktls");
    lg_yaml_t *c = lg_yaml_single(origin->port);

    lg_yaml_add(c, "listeners.web.tls.certificates", "{cert: %s, key: %s}", lg_test_pki("ec.pem"),
                lg_test_pki("ec.key"));
    lg_yaml_set(c, "listeners.web.tls.ktls", ktls);
    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    return lg_fix_start_conf(origin, c);
}

/* The kTLS series of listener web once the handshakes are counted: tx, rx and fallbacks. */
static void ktls_metrics(lg_fix_t *f, double tx, double rx, double fallback)
{
    const char *body = "";
    int ok;

    LG_WAIT_FOR(
        ok,
        (body = lg_http_get(lg_proc_admin_port(f->lg), "/metrics", NULL)->body,
         lg_metric(body, "lifeguard_tls_handshakes_total", "listener=\"web\",result=\"ok\"") >= 1),
        5000);
    cr_assert(ok, "no handshake counted:\n%s", body);
    cr_assert_eq(
        lg_metric(body, "lifeguard_tls_ktls_connections_total", "listener=\"web\",dir=\"tx\""), tx,
        "%s", body);
    cr_assert_eq(
        lg_metric(body, "lifeguard_tls_ktls_connections_total", "listener=\"web\",dir=\"rx\""), rx,
        "%s", body);
    cr_assert_eq(lg_metric(body, "lifeguard_tls_ktls_fallbacks_total", "listener=\"web\""),
                 fallback, "%s", body);
}

Test(ktls, version_says_what_the_kernel_and_openssl_have)
{
    char *out = NULL;

    cr_assert_eq(lg_lifeguard_run("workers: 1\n", "-V", &out), 0, "%s", out);
    cr_assert_not_null(
        strstr(out, lg_fmt("\nkernel TLS: kernel %s, OpenSSL yes\n", kernel_ktls() ? "yes" : "no")),
        "%s", out);
}

/*
 * Start with `ktls`, expect the listener's start line to contain `said`, move `size` bytes each
 * way on one connection, and expect the kTLS series to say tx, rx and fallback.
 */
static void ktls_case(const char *ktls, const char *said, unsigned long long size, double tx,
                      double rx, double fallback)
{
    lg_fix_t f = ktls_start(ktls);
    lg_tls_opts_t o = {.sni = "www.example.com", .ca = lg_test_pki("ca.pem")};
    lg_client_t *c;

    cr_assert_not_null(strstr(lg_proc_log(f.lg), lg_fmt("listener web: kernel TLS %s", said)), "%s",
                       lg_proc_log(f.lg));
    c = lg_client_connect_tls(f.port, &o);
    cr_assert_not_null(c, "TLS connection failed: %s", lg_client_tls_error());
    lgt_bodies_both_ways(c, size);
    lg_client_close(c);
    ktls_metrics(&f, tx, rx, fallback);
    lg_fix_finish(&f, NULL);
}

/* ktls: auto on a kernel without kTLS: said at start, user space, nothing counted. */
Test(ktls, auto_without_kernel_support_runs_in_user_space, .timeout = 60)
{
    if (kernel_ktls())
        cr_skip_test(
            "kernel has kTLS: ktls: auto would use it (see body_64mib_through_the_kernel)");
    ktls_case("auto", "is unavailable (no \"tls\" in " ULP_FILE "): TLS runs in user space\n",
              1 * MIB, 0, 0, 0);
}

/* ktls: off never tries, whatever the kernel has. */
Test(ktls, off_runs_in_user_space, .timeout = 60)
{
    ktls_case("off", "off (ktls: off): TLS runs in user space\n", 1 * MIB, 0, 0, 0);
}

/*
 * lifeguard made to believe the kernel has kTLS: OpenSSL gets the socket and asks the kernel for
 * the "tls" upper layer protocol after the handshake, the kernel refuses, and the connection
 * goes on in user space (through OpenSSL's own socket BIO, without read-ahead), counted once.
 */
Test(ktls, refused_by_the_kernel_falls_back_to_user_space, .timeout = 60)
{
    if (kernel_ktls())
        cr_skip_test("kernel has kTLS: it would take the keys rather than refuse them");
    setenv("LIFEGUARD_KTLS_ULP_FILE",
           lg_test_write_file(lg_test_tempdir(), "tcp_available_ulp", "mptcp tls\n"), 1);
    ktls_case("auto", "on: ", 8 * MIB, 0, 0, 1);
}

/* Where the kernel has kTLS: 64 MiB each way through the kernel's record crypto, and splice. */
Test(ktls, body_64mib_through_the_kernel, .timeout = 300)
{
    if (!kernel_ktls())
        cr_skip_test("kernel has no kTLS: no \"tls\" in " ULP_FILE " (modprobe tls; containers "
                     "and network namespaces share the host's kernel)");
    ktls_case("auto", "on: ", 64 * MIB, 1, 1, 0);
}

/* ---- TLS pools: the front's backend connections (pools.app.tls.ktls) */

/* The kTLS series of pool `app` of `front`, and the TLS handshakes its backend `b` served. */
typedef struct pool_ktls {
    double tx, rx, fallback, handshakes;
} pool_ktls_t;

static pool_ktls_t pool_ktls_metrics(lg_proc_t *front, lg_proc_t *b)
{
    const char *fb = lg_http_get(lg_proc_admin_port(front), "/metrics", NULL)->body;
    const char *bb = lg_http_get(lg_proc_admin_port(b), "/metrics", NULL)->body;

    return (pool_ktls_t){
        lg_metric(fb, "lifeguard_tls_ktls_connections_total", "pool=\"app\",dir=\"tx\""),
        lg_metric(fb, "lifeguard_tls_ktls_connections_total", "pool=\"app\",dir=\"rx\""),
        lg_metric(fb, "lifeguard_tls_ktls_fallbacks_total", "pool=\"app\""),
        lg_metric(bb, "lifeguard_tls_handshakes_total", "listener=\"web\",result=\"ok\""),
    };
}

/*
 * The TLS backend (ktls_start with ktls: off, so that only the front's side varies), then the
 * front: plain listener web, pool app with tls and `ktls`, admin on. Expect the pool's start line
 * to contain `said`, move `size` bytes each way through one client connection, and return the
 * series. The connections the backend served are the ones the front made.
 */
static pool_ktls_t pool_ktls_case(const char *ktls, const char *said, unsigned long long size)
{
    lg_fix_t b = ktls_start("off");
    lg_yaml_t *c = lg_yaml_single(b.port);
    lg_fix_t f;
    lg_client_t *cl;
    pool_ktls_t m;

    lg_yaml_setf(c, "pools.app.tls", "{ca: %s, server_name: www.example.com, ktls: %s}",
                 lg_test_pki("ca.pem"), ktls);
    lg_yaml_set(c, "admin.listen", "127.0.0.1:0");
    f = lg_fix_start_conf(NULL, c);
    cr_assert_not_null(strstr(lg_proc_log(f.lg), lg_fmt("pool app: kernel TLS %s", said)), "%s",
                       lg_proc_log(f.lg));
    cl = lg_client_connect(f.port);
    cr_assert_not_null(cl);
    lgt_bodies_both_ways(cl, size);
    lg_client_close(cl);
    m = pool_ktls_metrics(f.lg, b.lg);
    cr_assert_geq(m.handshakes, 1, "the backend served no TLS connection");
    lg_fix_finish(&f, NULL);
    lg_fix_finish(&b, NULL);
    return m;
}

/* Nothing tried, nothing counted: the series are there, at 0. */
static void pool_expect_user_space(pool_ktls_t m)
{
    cr_assert(m.tx == 0 && m.rx == 0 && m.fallback == 0, "tx %g rx %g fallback %g", m.tx, m.rx,
              m.fallback);
}

/* ktls: auto on a kernel without kTLS: said at start, user space, bytes intact both ways. */
Test(ktls, pool_auto_without_kernel_support_runs_in_user_space, .timeout = 120)
{
    if (kernel_ktls())
        cr_skip_test("kernel has kTLS: ktls: auto would use it (see "
                     "pool_body_64mib_through_the_kernel)");
    pool_expect_user_space(pool_ktls_case(
        "auto", "is unavailable (no \"tls\" in " ULP_FILE "): TLS runs in user space\n", 8 * MIB));
}

/* ktls: off on a pool never tries, whatever the kernel has. */
Test(ktls, pool_off_runs_in_user_space, .timeout = 120)
{
    pool_expect_user_space(
        pool_ktls_case("off", "off (ktls: off): TLS runs in user space\n", 8 * MIB));
}

/*
 * A pool made to believe the kernel has kTLS: OpenSSL gets each backend socket (no read-ahead)
 * and asks the kernel after the handshake, the kernel refuses, and the connection goes on in user
 * space with the bytes intact: every backend connection counted as a fallback, none as taken.
 */
Test(ktls, pool_refused_by_the_kernel_falls_back_to_user_space, .timeout = 120)
{
    pool_ktls_t m;

    if (kernel_ktls())
        cr_skip_test("kernel has kTLS: it would take the keys rather than refuse them");
    setenv("LIFEGUARD_KTLS_ULP_FILE",
           lg_test_write_file(lg_test_tempdir(), "tcp_available_ulp", "mptcp tls\n"), 1);
    m = pool_ktls_case("auto", "on: ", 8 * MIB);
    cr_assert(m.tx == 0 && m.rx == 0, "tx %g rx %g", m.tx, m.rx);
    cr_assert_eq(m.fallback, m.handshakes, "%g fallbacks for %g backend connections", m.fallback,
                 m.handshakes);
}

/*
 * Where the kernel has kTLS: 64 MiB each way through the kernel on the backend connections. The
 * kernel takes the sending keys of each; receiving ones only where OpenSSL hands them over (not
 * every OpenSSL does for TLS 1.3), and each connection without them is a fallback.
 */
Test(ktls, pool_body_64mib_through_the_kernel, .timeout = 300)
{
    pool_ktls_t m;

    if (!kernel_ktls())
        cr_skip_test("kernel has no kTLS: no \"tls\" in " ULP_FILE " (modprobe tls; containers "
                     "and network namespaces share the host's kernel)");
    m = pool_ktls_case("auto", "on: ", 64 * MIB);
    cr_assert(m.tx == m.handshakes && m.fallback == m.handshakes - m.rx,
              "tx %g rx %g fallback %g for %g backend connections", m.tx, m.rx, m.fallback,
              m.handshakes);
}
