/*
 * test_h2_front.c - the HTTP/2 front's own behaviours seen by real clients (nghttp, curl) on an
 * h2c listener: the backend's chunked trailers reach the client as trailing HEADERS; a body
 * without content-length goes to the backend chunked and is held to max_body_size; a reload
 * sends GOAWAY and lets the open stream finish; a host field that names another authority than
 * :authority is refused.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "lg_test.h"

/* lg-origin behind listener `web` with http2: on. */
#define H2C_START() lg_fix_start(NULL, "listeners.web.http2", "on", NULL)

/* The file's text so far ("" when absent), kept until the end of the test. */
static char *slurp(const char *path)
{
    char *text = lg_test_keep(lg_test_read_file(path, NULL), NULL);

    return text != NULL ? text : "";
}

static char *run(const char *cmd)
{
    char *out = NULL;

    lg_run_capture(cmd, &out);
    return out != NULL ? out : "";
}

Test(h2_front, chunked_trailers_become_trailing_headers, .timeout = 60)
{
    lg_fix_t f = H2C_START();
    char *out =
        run(lg_fmt("nghttp -v 'http://127.0.0.1:%d/size/100?chunked=1&trailer=1' 2>&1", f.port));
    const char *trailer = strstr(out, "recv (stream_id=13) x-origin-trailer: ok");
    const char *data = strstr(out, "recv DATA frame");

    cr_assert_not_null(data, "no DATA:\n%s", out);
    cr_assert_not_null(trailer, "the trailer did not arrive:\n%s", out);
    cr_assert_gt(trailer, data, "the trailer came before the body:\n%s", out);
    cr_assert_not_null(strstr(trailer, "; END_STREAM | END_HEADERS"),
                       "the trailing HEADERS do not end the stream:\n%s", out);
    /* the same response to an HTTP/1.1 client keeps its trailer in the chunked body */
    out = run(lg_fmt("curl -s --raw 'http://127.0.0.1:%d/size/10?chunked=1&trailer=1'", f.port));
    cr_assert_not_null(strstr(out, "0\r\nX-Origin-Trailer: ok\r\n\r\n"), "%s", out);
    lg_fix_finish(&f, NULL);
}

/* A body without content-length (curl -T -) is sent chunked, and max_body_size still holds. */
Test(h2_front, unframed_body_is_chunked_and_limited, .timeout = 60)
{
    lg_fix_t f =
        lg_fix_start(NULL, "listeners.web.http2", "on", "limits.max_body_size", "64k", NULL);
    const char *url = lg_fmt("http://127.0.0.1:%d/echo", f.port);
    char *out;

    out = run(lg_fmt("head -c 50000 /dev/zero | curl -s --http2-prior-knowledge -T - %s", url));
    cr_assert_not_null(strstr(out, "header Transfer-Encoding: chunked\n"), "%s", out);
    cr_assert_not_null(strstr(out, "body-length 50000\n"), "%s", out);
    out = run(lg_fmt("head -c 200000 /dev/zero | curl -s --http2-prior-knowledge -T - "
                     "-o /dev/null -w '%%{http_version} %%{http_code}' %s",
                     url));
    cr_assert_str_eq(out, "2 413");
    lg_fix_finish(&f, NULL);
}

/* A reload: GOAWAY (NO_ERROR) naming the open stream, which still gets its whole response. */
Test(h2_front, reload_sends_goaway_and_finishes_the_open_stream, .timeout = 60)
{
    lg_fix_t f = H2C_START();
    char *dir = lg_test_tempdir(), *out;
    const char *log = lg_fmt("%s/nghttp.out", dir);
    lg_origin_stats_t st;
    int ok;

    /* in the background, its output away from run()'s pipe (which would wait for it) */
    run(lg_fmt("(nghttp -v http://127.0.0.1:%d/delay/2000 > %s 2>&1; echo done >> %s) "
               "</dev/null >/dev/null 2>&1 &",
               f.port, log, log));
    LG_WAIT_FOR(ok, strstr(slurp(log), "send HEADERS frame") != NULL, lg_test_timeout_ms());
    cr_assert(ok, "nghttp did not start");
    /* the stream has reached the backend (nghttp's log says only that it was sent) */
    LG_WAIT_FOR(ok, lg_origin_stats(f.origin->port, &st) == 0 && st.active == 1,
                lg_test_timeout_ms());
    cr_assert(ok, "the request did not reach the origin:\n%s", slurp(log));
    cr_assert_eq(lg_proc_signal(f.lg, SIGHUP), 0);
    LG_WAIT_FOR(ok, strstr(out = slurp(log), "done\n") != NULL, lg_test_timeout_ms());
    cr_assert(ok, "nghttp did not finish:\n%s", out);
    /* nghttp's request is stream 13 (it opens idle streams 3..11 for its priority tree) */
    cr_assert_not_null(strstr(out, "recv GOAWAY frame"), "%s\nlifeguard:\n%s", out,
                       lg_proc_log(f.lg));
    cr_assert_not_null(strstr(out, "(last_stream_id=13, error_code=NO_ERROR(0x00)"), "%s", out);
    cr_assert_not_null(strstr(out, "recv (stream_id=13) :status: 200"), "%s", out);
    cr_assert_not_null(strstr(out, "recv DATA frame <length=7, flags=0x01, stream_id=13>"), "%s",
                       out);
    /* and the new workers serve */
    out = run(lg_fmt("curl -s --http2-prior-knowledge -o /dev/null -w '%%{http_version} "
                     "%%{http_code}' http://127.0.0.1:%d/",
                     f.port));
    cr_assert_str_eq(out, "2 200");
    lg_fix_finish(&f, NULL);
}

/* RFC 9113 8.3.1: a host field must name the :authority (nghttp sends both when asked). */
Test(h2_front, host_other_than_authority_is_refused, .timeout = 60)
{
    lg_fix_t f = H2C_START();
    char *out = run(lg_fmt("timeout 20 nghttp -v -H ':authority: a.example' -H 'host: b.example' "
                           "http://127.0.0.1:%d/ 2>&1",
                           f.port));

    cr_assert_not_null(strstr(out, "recv (stream_id=13) :status: 400"), "%s", out);
    cr_assert_not_null(strstr(out, "recv DATA frame <length=16, flags=0x01, stream_id=13>"),
                       "the answer does not end the stream:\n%s", out);
    lg_fix_finish(&f, NULL);
}
