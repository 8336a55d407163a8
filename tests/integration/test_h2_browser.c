/*
 * test_h2_browser.c - headless Chromium loads a page through a TLS listener and reports the
 * protocol of its navigation (performance.getEntries()[0].nextHopProtocol, written into the page
 * by lg-origin's /page script and read back with --dump-dom): "h2" by default, "http/1.1" with
 * `http2: off`. Skipped when Chromium is not installed (Debian package chromium, scripts/deps.sh
 * test).
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "lg_test.h"
#include "lg_test_tls.h"
#include "proxy_common.h"

#define CHROMIUM "/usr/bin/chromium"
#define SNI      "www.example.com"

/* lg-origin behind a TLS listener `web` with the PKI's ec certificate; `http2` unless NULL. */
static lg_fix_t browser_start(const char *http2)
{
    lg_proc_t *origin = lg_origin_start("--name page");
    lg_yaml_t *c = lg_yaml_single(origin->port);

    lg_yaml_add(c, "listeners.web.tls.certificates", "{cert: %s, key: %s}", lg_test_pki("ec.pem"),
                lg_test_pki("ec.key"));
    if (http2 != NULL)
        lg_yaml_set(c, "listeners.web.http2", http2);
    lg_yaml_set(c, "log.access", "stdout");
    return lg_fix_start_conf(origin, c);
}

/*
 * The DOM of https://www.example.com:PORT/page after its scripts ran, www.example.com mapped to
 * 127.0.0.1 (the test PKI is not in Chromium's trust store: certificate errors are ignored).
 * Bounded by `timeout`; Chromium's own processes end with it.
 */
static char *page_dom(int port)
{
    char *out = NULL;
    int rc = lg_run_capture(
        lg_fmt("timeout -k 5 60 " CHROMIUM " --headless --no-sandbox --disable-gpu "
               "--disable-quic --no-first-run --disable-extensions --user-data-dir=%s "
               "--ignore-certificate-errors --host-resolver-rules='MAP " SNI " 127.0.0.1' "
               "--dump-dom https://" SNI ":%d/page 2>/dev/null",
               lg_test_tempdir(), port),
        &out);

    cr_assert_eq(rc, 0, "chromium exited %d:\n%s", rc, out);
    return out;
}

static void skip_without_chromium(void)
{
    if (access(CHROMIUM, X_OK) != 0)
        cr_skip_test("chromium is not installed (Debian package chromium)");
}

Test(h2_browser, chromium_navigates_over_h2, .timeout = 120)
{
    static const struct {
        const char *http2;  /* the listener's setting (NULL: the default) */
        const char *shown;  /* what the page shows */
        const char *logged; /* the protocol of the access log line */
    } cases[] = {
        {NULL, "nextHopProtocol=h2", "HTTP/2.0"},
        {"off", "nextHopProtocol=http/1.1", "HTTP/1.1"},
    };

    skip_without_chromium();
    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_fix_t f = browser_start(cases[i].http2);
        char *dom = page_dom(f.port);

        cr_assert_not_null(strstr(dom, lg_fmt("<p id=\"protocol\">%s</p>", cases[i].shown)),
                           "http2: %s: the page shows\n%s", cases[i].http2 ? cases[i].http2 : "-",
                           dom);
        cr_assert_eq(lg_proc_stop(f.lg), 0);
        cr_assert_not_null(
            strstr(lg_proc_access_log(f.lg), lg_fmt("\"GET /page %s\" 200 ", cases[i].logged)),
            "access log:\n%s", lg_proc_access_log(f.lg));
        lg_fix_finish(&f, NULL);
    }
}
