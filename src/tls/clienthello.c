/*
 * clienthello.c - the server name of a TLS ClientHello (see clienthello.h). Every read goes
 * through a cursor that knows how many bytes its container holds.
 */
#include "tls/clienthello.h"

#include <string.h>

#define REC_HEAD       5
#define REC_MAX        16384    /* TLSPlaintext.length <= 2^14 */
#define TYPE_HS        22       /* ContentType handshake */
#define HS_HELLO       1        /* HandshakeType client_hello */
#define EXT_SNI        0        /* ExtensionType server_name */
#define NAME_HOST      0        /* NameType host_name */
#define HELLO_FIXED    (2 + 32) /* legacy_version, random */
#define SESSION_ID_MAX 32

typedef struct cur {
    const uint8_t *p;
    size_t n; /* bytes left */
} cur_t;

/* An unsigned integer of `w` bytes (1..3), big-endian; -1 when fewer bytes are left. */
static long get_uint(cur_t *c, size_t w)
{
    long v = 0;

    if (c->n < w)
        return -1;
    for (size_t i = 0; i < w; i++)
        v = v << 8 | c->p[i];
    c->p += w;
    c->n -= w;
    return v;
}

/* A vector whose length takes `w` bytes, in `out`; -1 when it runs past its container. */
static int get_vec(cur_t *c, size_t w, cur_t *out)
{
    long len = get_uint(c, w);

    if (len < 0 || (size_t)len > c->n)
        return -1;
    out->p = c->p;
    out->n = (size_t)len;
    c->p += len;
    c->n -= (size_t)len;
    return 0;
}

static int skip(cur_t *c, size_t k)
{
    if (c->n < k)
        return -1;
    c->p += k;
    c->n -= k;
    return 0;
}

lg_hello_result_t lg_hello_host(const uint8_t *p, size_t len, char *name)
{
    cur_t host = {p, len};
    size_t i, n;

    n = host.n;
    if (n > 0 && host.p[n - 1] == '.')
        n--; /* "example.com." names example.com; "." alone names nothing */
    if (n == 0 || n > LG_HELLO_NAME_MAX)
        return LG_HELLO_BAD;
    for (i = 0; i < n; i++) {
        uint8_t b = host.p[i];

        if (b >= 'A' && b <= 'Z')
            b = (uint8_t)(b - 'A' + 'a');
        else if (b == '.' && (i == 0 || i == n - 1 || name[i - 1] == '.'))
            return LG_HELLO_BAD; /* an empty label */
        else if (!((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_' ||
                   b == '.'))
            return LG_HELLO_BAD;
        name[i] = (char)b;
    }
    name[n] = '\0';
    return LG_HELLO_SNI;
}

/* The host name of a server_name extension's data: exactly one host_name entry. */
static lg_hello_result_t server_name(cur_t data, char *name)
{
    cur_t list, host;

    if (get_vec(&data, 2, &list) != 0 || data.n != 0 || get_uint(&list, 1) != NAME_HOST ||
        get_vec(&list, 2, &host) != 0 || list.n != 0)
        return LG_HELLO_BAD;
    return lg_hello_host(host.p, host.n, name);
}

lg_hello_result_t lg_hello_server_name(const uint8_t *data, size_t len, char *name)
{
    return server_name((cur_t){data, len}, name);
}

/* The body of a complete client_hello message. */
static lg_hello_result_t hello_body(cur_t c, char *name)
{
    cur_t v, exts, data;
    lg_hello_result_t r = LG_HELLO_NONE;
    long type;

    if (skip(&c, HELLO_FIXED) != 0 || get_vec(&c, 1, &v) != 0 || v.n > SESSION_ID_MAX ||
        get_vec(&c, 2, &v) != 0 || v.n < 2 || v.n % 2 != 0 || get_vec(&c, 1, &v) != 0 || v.n < 1)
        return LG_HELLO_BAD;
    if (c.n == 0)
        return LG_HELLO_NONE; /* no extensions at all (TLS 1.2 allows it) */
    if (get_vec(&c, 2, &exts) != 0 || c.n != 0)
        return LG_HELLO_BAD;
    while (exts.n > 0) {
        type = get_uint(&exts, 2);
        if (type < 0 || get_vec(&exts, 2, &data) != 0)
            return LG_HELLO_BAD;
        if (type != EXT_SNI)
            continue;
        if (r != LG_HELLO_NONE)
            return LG_HELLO_BAD; /* a second server_name extension */
        r = server_name(data, name);
        if (r == LG_HELLO_BAD)
            return r;
    }
    return r;
}

/*
 * Join the fragments of the handshake records at the start of `in` until the client_hello
 * message is whole; its body in `body`. A message in the first record is read in place; the
 * fragments of several are copied into `hs`. LG_HELLO_SNI here means "whole".
 */
static lg_hello_result_t join_records(const uint8_t *in, size_t len, uint8_t *hs, cur_t *body)
{
    size_t off = 0, have = 0, rec;
    const uint8_t *data = NULL;
    long msg_len = -1;
    cur_t head;

    while (msg_len < 0 || have < (size_t)msg_len + 4) {
        if (len - off < REC_HEAD)
            return len >= LG_HELLO_MAX ? LG_HELLO_BAD : LG_HELLO_MORE;
        rec = (size_t)in[off + 3] << 8 | in[off + 4];
        if (in[off] != TYPE_HS || in[off + 1] != 3 || rec == 0 || rec > REC_MAX)
            return LG_HELLO_BAD;
        if (len - off - REC_HEAD < rec)
            return off + REC_HEAD + rec > LG_HELLO_MAX ? LG_HELLO_BAD : LG_HELLO_MORE;
        if (data == NULL) {
            data = in + REC_HEAD;
        } else {
            if (data != hs)
                memcpy(hs, data, have);
            data = hs;
            memcpy(hs + have, in + off + REC_HEAD, rec);
        }
        have += rec;
        off += REC_HEAD + rec;
        if (msg_len < 0 && have >= 4) {
            head = (cur_t){data, have};
            if (get_uint(&head, 1) != HS_HELLO)
                return LG_HELLO_BAD;
            msg_len = get_uint(&head, 3);
            if ((size_t)msg_len + 4 + REC_HEAD > LG_HELLO_MAX)
                return LG_HELLO_BAD; /* could never be whole within one record's worth */
        }
    }
    *body = (cur_t){data + 4, (size_t)msg_len};
    return LG_HELLO_SNI;
}

lg_hello_result_t lg_hello_sni(const uint8_t *in, size_t len, char *name)
{
    uint8_t hs[LG_HELLO_MAX];
    lg_hello_result_t r;
    cur_t body;

    if (len > LG_HELLO_MAX)
        len = LG_HELLO_MAX;
    if (len >= 1 && in[0] != TYPE_HS)
        return LG_HELLO_NOT_TLS;
    if (len >= 2 && in[1] != 3)
        return LG_HELLO_NOT_TLS;
    r = join_records(in, len, hs, &body);
    return r == LG_HELLO_SNI ? hello_body(body, name) : r;
}

const char *lg_hello_result_text(lg_hello_result_t r)
{
    static const char *const text[] = {
        [LG_HELLO_SNI] = "server name",
        [LG_HELLO_NONE] = "no server name",
        [LG_HELLO_MORE] = "incomplete ClientHello",
        [LG_HELLO_NOT_TLS] = "not TLS",
        [LG_HELLO_BAD] = "malformed ClientHello",
    };

    return (unsigned)r < sizeof(text) / sizeof(text[0]) ? text[r] : "?";
}
