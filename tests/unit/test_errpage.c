/*
 * test_errpage.c - lifeguard's own replies (src/http/errpage.c): the fields each kind of reply
 * carries, and their HTTP/1.1 form byte for byte (Date aside).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/lg.h"
#include "http/errpage.h"

/* The fields of m as "Name: value\n" lines, then "|" and the body. */
static const char *fields_text(const lg_reply_msg_t *m, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++)
        n += (size_t)snprintf(out + n, cap - n, "%.*s: %.*s\n", (int)m->f[i].name.len,
                              m->f[i].name.p, (int)m->f[i].value.len, m->f[i].value.p);
    snprintf(out + n, cap - n, "|%.*s", (int)m->body.len, m->body.p);
    return out;
}

/* Every reply says which server wrote it, as a field a route's rules may remove or set. */
#define S "Server: lifeguard\n"

Test(errpage, fields_of_each_kind_of_reply)
{
    static const struct {
        lg_reply_t r;
        const char *want;
    } cases[] = {
        {{.status = 404},
         S "Content-Type: text/plain; charset=utf-8\nContent-Length: 14\n|404 Not Found\n"},
        {{.status = 503},
         S "Content-Type: text/plain; charset=utf-8\nContent-Length: 24\nRetry-After: 1\n"
           "|503 Service Unavailable\n"},
        {{.status = 429, .retry_after = 7},
         S "Content-Type: text/plain; charset=utf-8\nContent-Length: 22\nRetry-After: 7\n"
           "|429 Too Many Requests\n"},
        {{.status = 308, .location = {"https://a.test/x", 16}},
         S "Content-Type: text/plain; charset=utf-8\nContent-Length: 23\n"
           "Location: https://a.test/x\n|308 Permanent Redirect\n"},
        {{.status = 200, .body = {"pong\n", 5}, .content_type = {"text/x-pong", 11}},
         S "Content-Type: text/x-pong\nContent-Length: 5\n|pong\n"},
        {{.status = 200, .body = {"", 0}},
         S "Content-Type: text/plain; charset=utf-8\nContent-Length: 0\n|"},
        {{.status = 204, .body = {"ignored", 7}}, S "|"},
        {{.status = 299}, S "Content-Type: text/plain; charset=utf-8\nContent-Length: 5\n|299 \n"},
    };
    char text[512];
    lg_reply_msg_t m;

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_reply_msg(&cases[i].r, &m);
        cr_assert_str_eq(fields_text(&m, text, sizeof(text)), cases[i].want, "status %d",
                         cases[i].r.status);
    }
}

Test(errpage, http11_form)
{
    lg_reply_t r = {.status = 301, .location = {"/new", 4}, .body = {"", 0}};
    lg_reply_msg_t m;
    char buf[512];
    const char *date;
    size_t n;

    lg_reply_msg(&r, &m);
    cr_assert_eq(lg_reply_msg_add(&m, (lg_span_t){"X-Extra", 7}, (lg_span_t){"1", 1}), LG_OK);
    n = lg_reply_h1(&m, 1, 0, buf, sizeof(buf));
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    date = strstr(buf, "Date: ");
    cr_assert_not_null(date);
    cr_assert(strncmp(buf, "HTTP/1.1 301 Moved Permanently\r\nDate: ", (size_t)(date + 6 - buf)) ==
                  0,
              "%s", buf);
    cr_assert_str_eq(
        strstr(date, "\r\n"),
        "\r\nServer: lifeguard\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 0\r\nLocation: /new\r\nX-Extra: 1\r\nConnection: keep-alive\r\n\r\n");
    /* HEAD: the same head without the body; too small a buffer: 0, nothing cut */
    r = (lg_reply_t){.status = 200, .body = {"hello", 5}};
    lg_reply_msg(&r, &m);
    n = lg_reply_h1(&m, 0, 1, buf, sizeof(buf));
    cr_assert(n > 21 && memcmp(buf + n - 21, "Connection: close\r\n\r\n", 21) == 0);
    cr_assert_eq(lg_reply_h1(&m, 0, 0, buf, sizeof(buf)), n + 5);
    cr_assert_eq(lg_reply_h1(&m, 0, 0, buf, n + 4), 0);
}

Test(errpage, fields_are_bounded)
{
    lg_reply_t r = {.status = 404};
    lg_reply_msg_t m;
    size_t added = 0;

    lg_reply_msg(&r, &m);
    while (lg_reply_msg_add(&m, (lg_span_t){"X", 1}, (lg_span_t){"y", 1}) == LG_OK)
        added++;
    cr_assert_eq(m.n, LG_REPLY_FIELDS_MAX);
    cr_assert_eq(added, LG_REPLY_FIELDS_MAX - 3);
}
