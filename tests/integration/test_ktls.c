/*
 * test_ktls.c - kernel TLS (ktls: auto | off) with the real binary, our TLS client and lg-origin.
 *
 * What runs depends on the kernel, which the test reads itself ("tls" in
 * /proc/sys/net/ipv4/tcp_available_ulp; network namespaces and containers share the kernel, so
 * they change nothing): without kTLS, `ktls: auto` runs in user space and says so (-V, the
 * listener's start line, the metrics), and a kernel that refuses the keys (made to be tried with
 * $LIFEGUARD_KTLS_ULP_FILE) leaves each connection in user space, counted; with kTLS, a 64 MiB
 * body each way goes through the kernel and the metrics say both directions were taken. A test
 * that needs the other kind of kernel is skipped with the reason.
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
