/*
 * test_tls_reload.c - the real binary with a tls listener: certificates are read at start and
 * on every reload; a reload whose certificate is broken is reported as FILE:LINE:COL with the
 * PEM path and OpenSSL's reason, and the old generation keeps serving; the missing kernel TLS
 * is said once.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lg_test.h"
#include "lg_test_tls.h"

static const char *web(const char *cert, const char *key)
{
    return lg_test_tls_yaml("web", "http",
                            lg_fmt("      certificates:\n%s", lg_test_cert_entry(cert, key)));
}

Test(tls_reload, broken_certificate_keeps_the_old_generation, .timeout = 60)
{
    lg_proc_t *lg = lg_lifeguard_start(web("ec", NULL));
    size_t mark = lg_proc_log_mark(lg);
    const char *log;
    char *ulp;

    lg_proc_write_config(lg, web("rsa", "exact"));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reload failed: generation 1 keeps serving", 5000));
    log = lg_proc_log(lg) + mark;
    cr_assert_not_null(
        strstr(log, lg_fmt("reload failed: %s:10:16: error: listeners.web.tls.certificates[0].key: "
                           "\"%s\" is not the key of the certificate \"%s\" (OpenSSL: key values "
                           "mismatch)\n",
                           lg->config_path, lg_test_pki("exact.key"), lg_test_pki("rsa.pem"))),
        "%s", log);
    cr_assert_null(strstr(log, "generation 2"), "%s", log);

    mark = lg_proc_log_mark(lg);
    lg_proc_write_config(lg, web("rsa", NULL));
    cr_assert_eq(lg_proc_signal(lg, SIGHUP), 0);
    cr_assert(lg_proc_wait_log(lg, mark, "reloaded: generation 2 serves", 5000));
    cr_assert_eq(lg_proc_stop(lg), 0);
    log = lg_proc_log(lg);
    /* a kernel without the "tls" upper layer protocol: said once, not per load */
    ulp = lg_test_read_file("/proc/sys/net/ipv4/tcp_available_ulp", NULL);
    cr_assert_eq(lg_log_count(log, "kernel TLS is unavailable"),
                 ulp != NULL && strstr(ulp, "tls") != NULL ? 0 : 1, "%s", log);
    free(ulp);
    cr_assert_eq(lg_log_has_unexpected_errors(log, "reload failed:", "connect() to", NULL), 0);
}
