/*
 * fuzz_response_head.c - libFuzzer target for the response head: parsed as a worker parses a
 * backend's answer (llhttp strict, then lg_rsp_head_scan), rebuilt for the client with
 * lg_rsp_head_build under build options taken from the input, and the ROUND-TRIP property
 * checked: the rebuilt head parses strictly again to the same status, the same end-to-end
 * headers in the same order and the same framing (Transfer-Encoding is dropped only when asked,
 * for an HTTP/1.0 client; Content-Length always on a 1xx or a 204), and lifeguard's own scan
 * accepts it. A violation abort()s.
 */
#include "fuzz_common.h"

#define FZ_OUT_CAP (FZ_HEAD_MAX + 4096)

/* The options the worker picks from the client and the response (response_head in proxy.c);
 * what depends on the client (HEAD, HTTP/1.0, keep-alive) is taken from bits of the length. */
static void fz_build_opts(const fz_head_t *h, const lg_rsp_head_t *rs, lg_rsp_build_t *b)
{
    unsigned status = h->p.status_code;
    int bodiless = status == 204 || status == 304 || ((h->len >> 3) & 1);
    int chunked = !bodiless && (rs->te == LG_TE_CHUNKED || rs->te == LG_TE_CODED);

    memset(b, 0, sizeof(*b));
    if (status == 101) {
        b->upgrade = 1;
        return;
    }
    if (status < 200)
        return;
    b->keep_chunked = chunked && (h->len & 1);
    b->keep_codings = !bodiless;
    b->close = (h->len >> 1) & 1;
    b->keep_alive = !b->close && ((h->len >> 2) & 1);
}

static void fz_check(const fz_head_t *h1, const lg_rsp_head_t *rs1, const lg_rsp_build_t *b,
                     const char *out, size_t n)
{
    static fz_head_t h2;
    lg_rsp_head_t rs2;

    if (!fz_parse(&h2, HTTP_RESPONSE, out, n) || h2.len != n)
        abort();
    if (h2.p.status_code != h1->p.status_code || h2.p.http_major != 1 || h2.p.http_minor != 1)
        abort();
    /* chunked exactly when it goes out chunked; the length line as the backend sent it, but
     * none on a 1xx or a 204 (RFC 9110 8.6) */
    if (!(h2.p.flags & F_CHUNKED) != !b->keep_chunked)
        abort();
    if (h1->p.status_code < 200 || h1->p.status_code == 204) {
        if (h2.p.flags & F_CONTENT_LENGTH)
            abort();
    } else if ((h1->p.flags & F_CONTENT_LENGTH) != (h2.p.flags & F_CONTENT_LENGTH) ||
               h1->p.content_length != h2.p.content_length) {
        abort();
    }
    fz_same_e2e(h1, &rs1->conn, &h2, b->upgrade);
    if (lg_rsp_head_scan(&rs2, out, n) != LG_OK)
        abort();
    if ((b->close && !rs2.conn.close) || (b->upgrade && !rs2.conn.upgrade))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_head_t h1;
    static char out[FZ_OUT_CAP];
    const char *head = (const char *)data;
    lg_rsp_head_t rs;
    lg_rsp_build_t b;
    size_t n;

    if (!fz_parse(&h1, HTTP_RESPONSE, head, size) || h1.len > FZ_HEAD_MAX)
        return 0;
    if (lg_rsp_head_scan(&rs, head, h1.len) != LG_OK)
        return 0; /* 502 in the worker */
    fz_build_opts(&h1, &rs, &b);
    n = lg_rsp_head_build(&rs, &b, out, sizeof(out));
    if (n == 0)
        return 0;
    fz_check(&h1, &rs, &b, out, n);
    return 0;
}
