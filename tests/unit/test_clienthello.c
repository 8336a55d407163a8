/*
 * test_clienthello.c - the server name of a ClientHello (tls/clienthello.c): real hellos of
 * openssl s_client and curl (fuzz/corpus/clienthello), every truncation of them, hellos split
 * over several records, and a table of built hellos whose lengths lie or whose names are bad.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/clienthello.h"

#define CORPUS LG_SOURCE_DIR "/fuzz/corpus/clienthello/"

typedef struct bytes {
    uint8_t p[LG_HELLO_MAX + 64];
    size_t n;
} bytes_t;

static void load(const char *name, bytes_t *b)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), CORPUS "%s", name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    b->n = fread(b->p, 1, sizeof(b->p), f);
    fclose(f);
}

static void put(bytes_t *b, const void *p, size_t n)
{
    cr_assert_leq(b->n + n, sizeof(b->p));
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put16(bytes_t *b, size_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    put(b, x, 2);
}

/* A TLS 1.2-style client_hello message (handshake header included) with extensions `ext`. */
static void hello_msg(bytes_t *m, const bytes_t *ext, int with_ext)
{
    static const uint8_t fixed[2 + 32 + 1 + 2 + 2 + 2] = {
        3, 3, [34] = 0, [35] = 0, [36] = 2, [37] = 0x13, [38] = 0x01, [39] = 1, [40] = 0};
    size_t body = sizeof(fixed) + (with_ext ? 2 + ext->n : 0);
    uint8_t head[4] = {1, (uint8_t)(body >> 16), (uint8_t)(body >> 8), (uint8_t)body};

    m->n = 0;
    put(m, head, 4);
    put(m, fixed, sizeof(fixed));
    if (with_ext) {
        put16(m, ext->n);
        put(m, ext->p, ext->n);
    }
}

/* `msg` in handshake records of at most `frag` bytes each. */
static void records(bytes_t *out, const bytes_t *msg, size_t frag)
{
    out->n = 0;
    for (size_t off = 0; off < msg->n; off += frag) {
        size_t k = msg->n - off < frag ? msg->n - off : frag;
        uint8_t head[3] = {22, 3, 1};

        put(out, head, 3);
        put16(out, k);
        put(out, msg->p + off, k);
    }
}

/* A server_name extension with the host_name entries `names` (NULL-terminated). */
static void sni_ext(bytes_t *e, const char *const *names, const size_t *lens)
{
    size_t list = 0, i;

    for (i = 0; names[i] != NULL; i++)
        list += 3 + lens[i];
    put16(e, 0);
    put16(e, list + 2);
    put16(e, list);
    for (i = 0; names[i] != NULL; i++) {
        put(e, "\0", 1);
        put16(e, lens[i]);
        put(e, names[i], lens[i]);
    }
}

static lg_hello_result_t run(const bytes_t *in, char *name)
{
    memset(name, 'x', LG_HELLO_NAME_MAX + 1);
    return lg_hello_sni(in->p, in->n, name);
}

Test(clienthello, real_hellos)
{
    static const struct {
        const char *file, *name;
        lg_hello_result_t r;
    } t[] = {
        {"openssl_sni", "a.example", LG_HELLO_SNI},
        {"openssl_tls12", "b.example", LG_HELLO_SNI},
        {"curl_sni", "www.b.example", LG_HELLO_SNI},
        {"openssl_nosni", NULL, LG_HELLO_NONE},
    };
    char name[LG_HELLO_NAME_MAX + 1];
    bytes_t in, msg, split;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        load(t[i].file, &in);
        cr_assert_eq(run(&in, name), t[i].r, "%s", t[i].file);
        if (t[i].name != NULL)
            cr_assert_str_eq(name, t[i].name);
        for (size_t n = 0; n < in.n; n++)
            cr_assert_eq(lg_hello_sni(in.p, n, name), LG_HELLO_MORE, "%s cut at %zu", t[i].file, n);
        /* the same hello in records of 100 bytes, then of 1 byte (TLS allows both) */
        msg.n = 0;
        put(&msg, in.p + 5, in.n - 5);
        for (size_t frag = 100; frag > 0; frag = frag == 100 ? 1 : 0) {
            records(&split, &msg, frag);
            cr_assert_eq(run(&split, name), t[i].r, "%s in records of %zu", t[i].file, frag);
            if (t[i].name != NULL)
                cr_assert_str_eq(name, t[i].name);
            cr_assert_eq(lg_hello_sni(split.p, split.n - 1, name), LG_HELLO_MORE);
        }
        /* what the client sends after the hello does not matter */
        put(&in, "\x14\x03\x03\x00\x01\x01", 6);
        cr_assert_eq(run(&in, name), t[i].r, "%s followed by more", t[i].file);
    }
}

Test(clienthello, not_tls)
{
    char name[LG_HELLO_NAME_MAX + 1];

    cr_assert_eq(lg_hello_sni((const uint8_t *)"GET / HTTP/1.1\r\n", 16, name), LG_HELLO_NOT_TLS);
    cr_assert_eq(lg_hello_sni((const uint8_t *)"G", 1, name), LG_HELLO_NOT_TLS);
    cr_assert_eq(lg_hello_sni((const uint8_t *)"\x16\x02", 2, name), LG_HELLO_NOT_TLS, "SSLv2");
    cr_assert_eq(lg_hello_sni((const uint8_t *)"\x16", 1, name), LG_HELLO_MORE);
    cr_assert_eq(lg_hello_sni((const uint8_t *)"", 0, name), LG_HELLO_MORE);
}

/* Built hellos: one server_name extension with these names, and what comes of it. */
Test(clienthello, names)
{
    static char n255[256], n256[257];
    static const struct {
        const char *names[3];
        size_t lens[3];
        lg_hello_result_t r;
        const char *want;
    } t[] = {
        {{"Api.Example.COM.", NULL}, {16}, LG_HELLO_SNI, "api.example.com"},
        {{"a_b-1.x", NULL}, {7}, LG_HELLO_SNI, "a_b-1.x"},
        {{n255, NULL}, {255}, LG_HELLO_SNI, n255},
        {{n256, NULL}, {256}, LG_HELLO_BAD, NULL},
        {{"", NULL}, {0}, LG_HELLO_BAD, NULL},
        {{".", NULL}, {1}, LG_HELLO_BAD, NULL},
        {{"a..", NULL}, {3}, LG_HELLO_BAD, NULL},
        {{".a", NULL}, {2}, LG_HELLO_BAD, NULL},
        {{"a..b", NULL}, {4}, LG_HELLO_BAD, NULL},
        {{"a\0b.example", NULL}, {11}, LG_HELLO_BAD, NULL},
        {{"a b.example", NULL}, {11}, LG_HELLO_BAD, NULL},
        {{"a\"b", NULL}, {3}, LG_HELLO_BAD, NULL},
        {{"a.example", "b.example", NULL}, {9, 9}, LG_HELLO_BAD, NULL},
    };
    char name[LG_HELLO_NAME_MAX + 1];
    bytes_t ext, msg, in;

    memset(n255, 'a', 255);
    memset(n256, 'b', 256);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ext.n = 0;
        put(&ext, "\x00\x0b\x00\x02\x01\x00", 6); /* ec_point_formats first */
        sni_ext(&ext, t[i].names, t[i].lens);
        hello_msg(&msg, &ext, 1);
        records(&in, &msg, 16384);
        cr_assert_eq(run(&in, name), t[i].r, "case %zu", i);
        if (t[i].want != NULL)
            cr_assert_str_eq(name, t[i].want, "case %zu", i);
    }
}

/* Built hellos whose structure is broken: each is malformed, none is read past its end. */
Test(clienthello, lying_lengths)
{
    static const char *const one[] = {"a.example", NULL};
    static const size_t len9[] = {9};
    char name[LG_HELLO_NAME_MAX + 1];
    bytes_t ext, msg, in, good;

    ext.n = 0;
    sni_ext(&ext, one, len9);
    hello_msg(&msg, &ext, 1);
    records(&good, &msg, 16384);
    cr_assert_eq(run(&good, name), LG_HELLO_SNI);
    /* offsets in `good`: record 0..4, handshake 5..8, version 9, random 11, session id 43,
       suites 44, compression 48, extensions 50, server_name 52: type, len 54, list 56, entry 58 */
    static const struct {
        size_t at;
        uint8_t v;
        const char *what;
    } t[] = {
        {5, 2, "handshake type server_hello"},
        {43, 33, "session id over 32"},
        {43, 200, "session id past the message"},
        {45, 1, "cipher suites of odd length"},
        {48, 0, "no compression method"},
        {51, 0, "extensions shorter than what follows"},
        {51, 255, "extensions past the message"},
        {55, 255, "server_name past the extensions"},
        {55, 0, "empty server_name, its bytes left over"},
        {57, 255, "name list past the extension"},
        {57, 11, "name list shorter than the extension"},
        {58, 1, "name type not host_name"},
        {60, 255, "host name past the list"},
        {60, 8, "host name shorter than the list"},
        {60, 0, "empty host name"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        in = good;
        in.p[t[i].at] = t[i].v;
        cr_assert_eq(run(&in, name), LG_HELLO_BAD, "%s", t[i].what);
    }
    in = good; /* a handshake length longer than its record: more records expected */
    in.p[8] = (uint8_t)(in.p[8] + 1);
    cr_assert_eq(run(&in, name), LG_HELLO_MORE);
    put(&in, "\x17\x03\x03\x00\x01\x00", 6);
    cr_assert_eq(run(&in, name), LG_HELLO_BAD, "application data before the hello is whole");
    in = good;
    in.p[3] = 0x40, in.p[4] = 0x01; /* a record over 16384 bytes */
    cr_assert_eq(run(&in, name), LG_HELLO_BAD);
    in = good;
    in.p[6] = 0x01; /* a hello over 64 KiB cannot fit one record's worth */
    cr_assert_eq(run(&in, name), LG_HELLO_BAD);
    memcpy(in.p, "\x16\x03\x01\x00\x00", 5);
    in.n = 5; /* an empty handshake record */
    cr_assert_eq(run(&in, name), LG_HELLO_BAD);
    hello_msg(&msg, &ext, 0);
    records(&in, &msg, 16384);
    cr_assert_eq(run(&in, name), LG_HELLO_NONE, "no extensions at all");
    ext.n = 0;
    sni_ext(&ext, one, len9);
    sni_ext(&ext, one, len9);
    hello_msg(&msg, &ext, 1);
    records(&in, &msg, 16384);
    cr_assert_eq(run(&in, name), LG_HELLO_BAD, "two server_name extensions");
}

/* Whatever the bytes, a result comes without reading past `len` (ASan checks) or hanging. */
Test(clienthello, window_is_bounded)
{
    char name[LG_HELLO_NAME_MAX + 1];
    uint8_t *big = calloc(1, LG_HELLO_MAX * 2);

    cr_assert_not_null(big);
    memcpy(big, "\x16\x03\x01\x40\x00\x01\x00\x3f\xfc", 9); /* a 16 KiB record, hello of 16380 */
    cr_assert_eq(lg_hello_sni(big, LG_HELLO_MAX * 2, name), LG_HELLO_BAD, "zeros: no suites");
    memcpy(big, "\x16\x03\x01\x40\x00\x01\x00\x40\x00", 9); /* needs a second record: too big */
    cr_assert_eq(lg_hello_sni(big, 9, name), LG_HELLO_MORE);
    cr_assert_eq(lg_hello_sni(big, LG_HELLO_MAX, name), LG_HELLO_BAD);
    free(big);
}
