/*
 * fuzz_request_head.c - libFuzzer target for the request head: parsed as a worker parses it
 * (llhttp strict, then lg_req_head_scan and lg_req_head_target), rebuilt with
 * lg_req_head_build, and the ROUND-TRIP property checked: a head lifeguard accepts, once
 * rebuilt, parses strictly again to the same method, the same normalised target, the same
 * end-to-end headers in the same order, the same Host and the same framing; lifeguard's own
 * checks accept it again and leave its target as it is. A violation abort()s.
 */
#include "fuzz_common.h"

#define FZ_OUT_CAP (FZ_HEAD_MAX + 4096) /* the worker's buffer: max_header_size + 4 KiB */

static const char default_host[] = "backend:80";

/* The build options the worker derives from the parse (lg_exchange_request in
 * src/exchange/exchange.c). */
static void fz_build_opts(const fz_head_t *h, const lg_req_head_t *rq, lg_req_build_t *b)
{
    int chunked = rq->te == LG_TE_CHUNKED; /* lifeguard's verdict, not llhttp's */
    int has_length = (h->p.flags & F_CONTENT_LENGTH) != 0;

    memset(b, 0, sizeof(*b));
    b->client_ip = "192.0.2.1";
    b->proto = "http";
    b->default_host = default_host;
    b->chunked = chunked;
    b->has_length = has_length;
    b->length = h->p.content_length;
    b->close = (h->len & 1) != 0;
    b->request_id = rq->request_id.len == 0 ? "0123456789abcdef0123456789abcdef" : NULL;
    b->upgrade = rq->upgrade && !chunked && !(has_length && h->p.content_length > 0);
}

/* The rebuilt head must be accepted again, unchanged in meaning. */
static void fz_check(const fz_head_t *h1, const lg_req_head_t *rq1, const lg_req_build_t *b,
                     const char *out, size_t n)
{
    static fz_head_t h2;
    static char path2[FZ_OUT_CAP];
    lg_req_head_t rq2;

    if (!fz_parse(&h2, HTTP_REQUEST, out, n) || h2.len != n)
        abort(); /* not a complete head, or a head that ends early */
    if (h2.p.method != h1->p.method || h2.p.http_major != 1 || h2.p.http_minor != 1)
        abort();
    if (!fz_span_same(h2.url, rq1->path))
        abort();
    /* the framing lifeguard chose, and nothing else, is what the rebuilt head says */
    if (!(h2.p.flags & F_CHUNKED) != !b->chunked ||
        !(h2.p.flags & F_CONTENT_LENGTH) != !(b->has_length && !b->chunked) ||
        (b->has_length && h2.p.content_length != b->length))
        abort();
    fz_same_e2e(h1, &rq1->conn, &h2, 0);
    if (lg_req_head_scan(&rq2, out, n, 1) != 0 ||
        lg_req_head_target(&rq2, path2, sizeof(path2)) != 0)
        abort(); /* lifeguard refuses what it wrote */
    if (!fz_span_same(rq2.path, rq1->path) || rq2.upgrade != (unsigned)b->upgrade)
        abort(); /* the target is not in normal form, or the upgrade changed */
    if (rq1->host.len != 0 ? !fz_span_same(rq2.host, rq1->host)
                           : !lg_span_eq(rq2.host, default_host))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_head_t h1;
    static char path[FZ_OUT_CAP], out[FZ_OUT_CAP];
    const char *head = (const char *)data;
    lg_req_head_t rq;
    lg_req_build_t b;
    size_t n;

    if (!fz_parse(&h1, HTTP_REQUEST, head, size) || h1.len > FZ_HEAD_MAX)
        return 0;
    if (h1.p.http_major != 1 || h1.p.method == HTTP_CONNECT)
        return 0; /* 505, 400 and 405 in the worker */
    if (lg_req_head_scan(&rq, head, h1.len, h1.p.http_minor) != 0 ||
        lg_req_head_target(&rq, path, sizeof(path)) != 0)
        return 0;
    fz_build_opts(&h1, &rq, &b);
    n = lg_req_head_build(&rq, &b, out, sizeof(out));
    if (n == 0)
        return 0; /* 431: did not fit */
    fz_check(&h1, &rq, &b, out, n);
    return 0;
}
