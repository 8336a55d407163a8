/*
 * test_chunk.c - the chunked decoder and encoder (src/http/chunk.c): every valid form is
 * re-encoded to lifeguard's framing byte for byte, every malformed form is refused, whatever
 * the sizes of the pieces the bytes arrive in; and the Transfer-Encoding lists.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http/chunk.h"

#define BUF_CAP 65536

typedef struct run {
    int result; /* 1 complete, 0 incomplete, -1 malformed */
    char out[BUF_CAP];
    size_t out_len;
    size_t rest; /* bytes after the body, left in place after the output */
    const char *why;
} run_t;

/*
 * Decode `len` bytes arriving `piece` at a time, in place as the pump does: the output grows at
 * the front of one buffer, an incomplete line is kept after it, new bytes are appended.
 */
static void run(run_t *r, const char *in, size_t len, size_t piece, int reencode)
{
    lg_chunk_t d;
    size_t olen = 0, keep = 0, given = 0;
    int done = 0;

    memset(r, 0, sizeof(*r));
    lg_chunk_init(&d);
    while (given < len && !done) {
        size_t n = piece < len - given ? piece : len - given, off = 0;
        char *base = r->out + olen, *out = base;
        lg_chunk_evt_t t = LG_CHUNK_NEED;
        lg_chunk_ev_t ev;

        cr_assert_lt(olen + keep + n, sizeof(r->out));
        memcpy(base + keep, in + given, n);
        given += n;
        while (!done && (t = lg_chunk_next(&d, base + off, keep + n - off, &ev)) > 0) {
            off += ev.used;
            done = t == LG_CHUNK_END;
            out += lg_chunk_emit(t, &ev, out, reencode);
            cr_assert_leq(out - base, (ptrdiff_t)off, "output overtook the input");
        }
        if (t == LG_CHUNK_BAD) {
            r->result = -1;
            r->why = d.why;
            return;
        }
        memmove(out, base + off, keep + n - off);
        olen = (size_t)(out - r->out);
        keep = keep + n - off;
    }
    memcpy(r->out + olen + keep, in + given, len - given); /* what follows, never given */
    r->result = done;
    r->out_len = olen;
    r->rest = keep + (len - given);
}

/* ---- valid bodies: what lifeguard sends for them */

static const struct {
    const char *in, *reencoded, *data;
} valid[] = {
    {"5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"0\r\n\r\n", "0\r\n\r\n", ""},
    {"0005\r\nhello\r\n000\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"A\r\n0123456789\r\n0\r\n\r\n", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
    {"1\r\na\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
     "1\r\na\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n", "a0123456789abcdef"},
    /* extensions are dropped, whatever their form */
    {"5;a=b;c\r\nhello\r\n0;last\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"5 ; a = b\t;\tc\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"5;q=\"a;b\\\"c, \\\\\"\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"5;q=\"\x80\xff\"\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
    /* trailers: OWS re-emitted as one space, values trimmed */
    {"3\r\nabc\r\n0\r\nX-Sum: 12\r\nX-T:\tv w  \r\nX-N:1\r\nX-E:\r\n\r\n",
     "3\r\nabc\r\n0\r\nX-Sum: 12\r\nX-T: v w\r\nX-N:1\r\nX-E:\r\n\r\n", "abc"},
    {"0\r\nX-O: \x80\xfe\r\n\r\n", "0\r\nX-O: \x80\xfe\r\n\r\n", ""},
    /* trailers that touch framing, routing or authentication are dropped */
    {"1\r\nx\r\n0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nHost: evil\r\n"
     "Connection: close\r\nTrailer: X\r\nTransfer_Encoding: gzip\r\nIf-Match: *\r\n"
     "Set-Cookie: a=b\r\nAuthorization: x\r\nX-Forwarded-For: 1.2.3.4\r\nX-Kept: 1\r\n"
     "CONTENT-TYPE: a/b\r\nTE: trailers\r\nUpgrade: h2c\r\n\r\n",
     "1\r\nx\r\n0\r\nX-Kept: 1\r\n\r\n", "x"},
};

Test(chunk, valid_bodies_are_reencoded_in_every_split)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        size_t len = strlen(valid[i].in);

        for (size_t piece = 1; piece <= len; piece++) {
            run_t *r = malloc(sizeof(*r));

            run(r, valid[i].in, len, piece, 1);
            cr_assert_eq(r->result, 1, "case %zu piece %zu: %s", i, piece, r->why);
            cr_assert_eq(r->out_len, strlen(valid[i].reencoded), "case %zu piece %zu", i, piece);
            cr_assert_eq(memcmp(r->out, valid[i].reencoded, r->out_len), 0,
                         "case %zu piece %zu: got %.*s", i, piece, (int)r->out_len, r->out);
            run(r, valid[i].in, len, piece, 0);
            cr_assert_eq(r->result, 1);
            cr_assert_eq(r->out_len, strlen(valid[i].data), "case %zu piece %zu", i, piece);
            cr_assert_eq(memcmp(r->out, valid[i].data, r->out_len), 0, "case %zu", i);
            free(r);
        }
    }
}

Test(chunk, what_follows_the_body_is_left_alone)
{
    static const char in[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    run_t *r = malloc(sizeof(*r));

    for (size_t piece = 1; piece < sizeof(in); piece++) {
        run(r, in, sizeof(in) - 1, piece, 1);
        cr_assert_eq(r->result, 1);
        cr_assert_eq(r->out_len, 13);
        cr_assert_eq(r->rest, strlen("GET / HTTP/1.1\r\n"), "piece %zu: rest %zu", piece, r->rest);
        cr_assert_eq(memcmp(r->out + r->out_len, "GET / HTTP/1.1\r\n", r->rest), 0);
    }
    free(r);
}

Test(chunk, incomplete_bodies_wait)
{
    static const char *const partial[] = {
        "",
        "5",
        "5\r",
        "5\r\nhel",
        "5\r\nhello",
        "5\r\nhello\r",
        "5\r\nhello\r\n0",
        "5\r\nhello\r\n0\r\n",
        "5\r\nhello\r\n0\r\nX-A: 1\r\n",
        "5\r\nhello\r\n0\r\n\r",
        "7fffffffffffffff\r\nabc",
    };

    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
        run_t *r = malloc(sizeof(*r));

        run(r, partial[i], strlen(partial[i]), 1, 1);
        cr_assert_eq(r->result, 0, "case %zu (%s): %d %s", i, partial[i], r->result, r->why);
        free(r);
    }
}

/* ---- malformed bodies: refused, whatever the split */

static const struct {
    const char *in;
    size_t len; /* 0: strlen */
} malformed[] = {
    /* the forms of the audit (issue 12, defect 1) */
    {"5\rXhello\r\n0\r\n\r\n", 0},         /* chunk-size line ended by CR and any byte */
    {"5\r\nhelloXX0\r\n\r\n", 0},          /* two bytes other than CRLF after the data */
    {"5\r\nhello\r\n0\r\n\n", 0},          /* bare LF ending the trailer section */
    {"8000000000000000\r\nx\r\n", 0},      /* 2^63 */
    {"10000000000000005\r\nhello\r\n", 0}, /* 2^64 + 5 */
    {"fffffffffffffffffff\r\nx\r\n", 0},
    {"0\r\nX-A : 1\r\n\r\n", 0}, /* whitespace before the colon */
    {"0\r\nX-A\t: 1\r\n\r\n", 0},
    {"0\r\nX-A: 1\r\n 2\r\n\r\n", 0}, /* obs-fold */
    {"0\r\nX-A: 1\r\n\t2\r\n\r\n", 0},
    /* line ends */
    {"5\nhello\r\n0\r\n\r\n", 0},
    {"5\r\nhello\n0\r\n\r\n", 0},
    {"5\r\nhello\r0\r\n\r\n", 0},
    {"5\r\nhello\r\n0\n\r\n", 0},
    {"5\r\nhello\r\n0\r\r\n\r\n", 0},
    {"5\r\nhello\r\n0\r\nX-A: 1\n\r\n", 0},
    {"5\r\nhello\r\n0\r\nX-A: 1\r\r\n\r\n", 0},
    {"5\r\nhello\r\n0\r\n\rX", 0},
    {"\r\nhello\r\n", 0},
    {"\n", 0},
    /* sizes */
    {" 5\r\nhello\r\n0\r\n\r\n", 0},
    {"5 \r\nhello\r\n0\r\n\r\n", 0},
    {"5\t\r\nhello\r\n0\r\n\r\n", 0},
    {"0x5\r\nhello\r\n0\r\n\r\n", 0},
    {"-5\r\nhello\r\n0\r\n\r\n", 0},
    {"+5\r\nhello\r\n0\r\n\r\n", 0},
    {"zz\r\nhello\r\n0\r\n\r\n", 0},
    {"5g\r\nhello\r\n0\r\n\r\n", 0},
    {"5\r\nhelloXX\r\n0\r\n\r\n", 0},  /* data longer than the size */
    {"5\r\nhell\r\n0\r\n\r\n\r\n", 0}, /* shorter: "\r\n0\r\n" is data, then "\r\n" is not CRLF */
    {"\x00\r\n", 3},
    /* extensions */
    {"5;\r\nhello\r\n0\r\n\r\n", 0},
    {"5;a b\r\nhello\r\n0\r\n\r\n", 0},
    {"5;a=\r\nhello\r\n0\r\n\r\n", 0},
    {"5;=b\r\nhello\r\n0\r\n\r\n", 0},
    {"5;a=b c\r\nhello\r\n0\r\n\r\n", 0},
    {"5;a=b \r\nhello\r\n0\r\n\r\n", 0},
    {"5;a=\"open\r\nhello\r\n0\r\n\r\n", 0},
    {"5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n", 0},
    {"5;a=\"x\\\x01\"\r\nhello\r\n0\r\n\r\n", 0},
    {"5;a@b\r\nhello\r\n0\r\n\r\n", 0},
    {"5,a\r\nhello\r\n0\r\n\r\n", 0},
    {"5;a=b\x7f\r\nhello\r\n0\r\n\r\n", 0},
    /* trailer fields */
    {"0\r\nXA\r\n\r\n", 0},
    {"0\r\n: v\r\n\r\n", 0},
    {"0\r\nX A: v\r\n\r\n", 0},
    {"0\r\nX(A): v\r\n\r\n", 0},
    {"0\r\nX-A: a\x01b\r\n\r\n", 0},
    {"0\r\nX-A: a\x7f\r\n\r\n", 0},
    {"0\r\nX-A: a\rb\r\n\r\n", 0},
    {"0\r\nX-A: a\x00b\r\n\r\n", 14},
};

Test(chunk, malformed_bodies_are_refused_in_every_split)
{
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        size_t len = malformed[i].len != 0 ? malformed[i].len : strlen(malformed[i].in);

        for (size_t piece = 1; piece <= len; piece++) {
            for (int reencode = 0; reencode < 2; reencode++) {
                run_t *r = malloc(sizeof(*r));

                run(r, malformed[i].in, len, piece, reencode);
                cr_assert_eq(r->result, -1, "case %zu (%s) piece %zu: accepted (%d)", i,
                             malformed[i].in, piece, r->result);
                cr_assert_not_null(r->why);
                free(r);
            }
        }
    }
}

Test(chunk, the_largest_size_is_accepted)
{
    lg_chunk_t d;
    lg_chunk_ev_t ev;
    static const char line[] = "7fffffffffffffff;x\r\n";
    char out[32];

    lg_chunk_init(&d);
    cr_assert_eq(lg_chunk_next(&d, line, strlen(line), &ev), LG_CHUNK_SIZE);
    cr_assert_eq(ev.size, UINT64_C(0x7fffffffffffffff));
    cr_assert_eq(ev.used, strlen(line));
    cr_assert_eq(lg_chunk_emit(LG_CHUNK_SIZE, &ev, out, 1), 18);
    cr_assert_eq(memcmp(out, "7fffffffffffffff\r\n", 18), 0);
}

Test(chunk, long_lines_are_refused)
{
    size_t n = LG_CHUNK_LINE_MAX + 16;
    char *in = malloc(n + 64);
    run_t *r = malloc(sizeof(*r));

    /* an extension without end: refused once the line passes the limit, without its CRLF */
    memcpy(in, "5;a=", 4);
    memset(in + 4, 'b', n - 4);
    run(r, in, n, 1000, 1);
    cr_assert_eq(r->result, -1);
    cr_assert_str_eq(r->why, "line too long");
    /* a trailer section over its limit, in fields that are each fine */
    {
        size_t len = 3;

        memcpy(in, "0\r\n", 3);
        free(in);
        in = malloc(LG_CHUNK_TRAILERS_MAX + 256);
        memcpy(in, "0\r\n", 3);
        while (len < LG_CHUNK_TRAILERS_MAX + 100)
            len += (size_t)sprintf(in + len, "X-F%05zu: v\r\n", len);
        memcpy(in + len, "\r\n", 2);
        run(r, in, len + 2, 4096, 1);
        cr_assert_eq(r->result, -1);
        cr_assert_str_eq(r->why, "trailer section too large");
    }
    free(r);
    free(in);
}

Test(chunk, nothing_is_taken_after_the_end_or_a_failure)
{
    lg_chunk_t d;
    lg_chunk_ev_t ev;

    lg_chunk_init(&d);
    cr_assert_eq(lg_chunk_next(&d, "0\r\n", 3, &ev), LG_CHUNK_LAST);
    cr_assert_eq(lg_chunk_next(&d, "\r\n", 2, &ev), LG_CHUNK_END);
    cr_assert_eq(lg_chunk_next(&d, "5\r\n", 3, &ev), LG_CHUNK_NEED);
    cr_assert_eq(ev.used, 0);
    lg_chunk_init(&d);
    cr_assert_eq(lg_chunk_next(&d, "x\r\n", 3, &ev), LG_CHUNK_BAD);
    cr_assert_eq(lg_chunk_next(&d, "0\r\n", 3, &ev), LG_CHUNK_BAD);
}

/* ---- Transfer-Encoding lists (issue 12, defect 4) */

static const struct {
    const char *fields[3];
    lg_te_framing_t want;
} te_cases[] = {
    {{"chunked"}, LG_TE_CHUNKED},
    {{"Chunked"}, LG_TE_CHUNKED},
    {{"CHUNKED"}, LG_TE_CHUNKED},
    {{"chunked\t"}, LG_TE_CHUNKED},
    {{"\tchunked "}, LG_TE_CHUNKED},
    {{"chunked , "}, LG_TE_CHUNKED},
    {{", chunked"}, LG_TE_CHUNKED},
    {{"chunked,"}, LG_TE_CHUNKED},
    {{"gzip, chunked"}, LG_TE_CODED},
    {{"gzip;q=\"1,\"x"}, LG_TE_BAD}, /* a quoted comma splits the element: refused */
    {{"gzip", "chunked"}, LG_TE_CODED},
    {{"gzip;level=9 , chunked"}, LG_TE_CODED},
    {{"gzip"}, LG_TE_CLOSE},
    {{"identity"}, LG_TE_CLOSE},
    {{"chunked, gzip"}, LG_TE_CLOSE},
    {{"chunked", "gzip"}, LG_TE_CLOSE},
    {{"chunked, chunked"}, LG_TE_BAD},
    {{"chunked", "chunked"}, LG_TE_BAD},
    {{"chunked", "Chunked"}, LG_TE_BAD},
    {{""}, LG_TE_BAD},
    {{" , ,"}, LG_TE_BAD},
    {{"chunked;q=1"}, LG_TE_BAD},
    {{"chunked;"}, LG_TE_BAD},
    {{"gzip;q"}, LG_TE_BAD},
    {{"\"chunked\""}, LG_TE_BAD},
    {{"chunked x"}, LG_TE_BAD},
    {{"chunked\x0b"}, LG_TE_BAD},
    {{"chunked\x0c"}, LG_TE_BAD},
    {{"xchunked"}, LG_TE_CLOSE},
    {{NULL}, LG_TE_NONE},
};

Test(chunk, transfer_encoding_lists)
{
    for (size_t i = 0; i < sizeof(te_cases) / sizeof(te_cases[0]); i++) {
        lg_te_t te = {0};

        for (int f = 0; f < 3 && te_cases[i].fields[f] != NULL; f++)
            lg_te_add(&te, te_cases[i].fields[f], strlen(te_cases[i].fields[f]));
        cr_assert_eq(lg_te_framing(&te), te_cases[i].want, "case %zu (%s): %d, expected %d", i,
                     te_cases[i].fields[0] ? te_cases[i].fields[0] : "none", lg_te_framing(&te),
                     te_cases[i].want);
    }
}
