/*
 * test_path.c - request path normalisation (src/http/path.c): what routing sees and what the
 * backend receives, for the paths that escape a path_prefix when they are compared raw.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "http/path.h"

#define OUT_CAP 256

typedef struct path_case {
    const char *in;
    int status;      /* 0, 400 or 414 */
    const char *out; /* with status 0 */
} path_case_t;

static const path_case_t cases[] = {
    /* already normal */
    {"/", 0, "/"},
    {"/a/b", 0, "/a/b"},
    {"/a/b/", 0, "/a/b/"},
    {"/a?x=1&y=/../z", 0, "/a?x=1&y=/../z"}, /* the query is kept as it is */
    {"", 0, "/"},                            /* absolute-form without a path */
    {"?q=1", 0, "/?q=1"},
    /* merged slashes */
    {"//internal/", 0, "/internal/"},
    {"/a///b//", 0, "/a/b/"},
    /* dot segments, RFC 3986 5.2.4 */
    {"/./internal/", 0, "/internal/"},
    {"/a/../internal/", 0, "/internal/"},
    {"/a/b/../../internal", 0, "/internal"},
    {"/a/.", 0, "/a/"},
    {"/a/..", 0, "/"},
    {"/a/./b/.", 0, "/a/b/"},
    {"/a//../b", 0, "/b"}, /* merged first, as nginx does */
    {"/a/...", 0, "/a/..."},
    {"/a/.b/..c", 0, "/a/.b/..c"},
    {"/..", 400, NULL},
    {"/../internal", 400, NULL},
    {"/a/../../internal", 400, NULL},
    {"/./..", 400, NULL},
    /* escapes of unreserved characters are decoded, before dot segments */
    {"/%69nternal/", 0, "/internal/"},
    {"/%7Euser/%2D%2e%5F", 0, "/~user/-._"},
    {"/a/%2e%2e/internal", 0, "/internal"},
    {"/a/%2E/b", 0, "/a/b"},
    {"/a/.%2e/b", 0, "/b"},
    {"/%2e%2e/", 400, NULL},
    {"/%2e/", 0, "/"},
    /* other escapes keep their value, with upper-case hex */
    {"/a%3fb", 0, "/a%3Fb"},
    {"/a%3Fb%3f", 0, "/a%3Fb%3F"},
    {"/100%25", 0, "/100%25"},
    {"/%c3%a9", 0, "/%C3%A9"},
    /* encoded slash, NUL and other controls */
    {"/a%2fb", 400, NULL},
    {"/a%2Fb", 400, NULL},
    {"/..%2f", 400, NULL},
    {"/a%00", 400, NULL},
    {"/a%0d%0aX:%20y", 400, NULL},
    {"/a%7f", 400, NULL},
    {"/a%1F", 400, NULL},
    /* malformed escapes, in the path and in the query */
    {"/%zz", 400, NULL},
    {"/%4", 400, NULL},
    {"/%", 400, NULL},
    {"/%4g", 400, NULL},
    {"/?q=%zz", 400, NULL},
    {"/?q=%4", 400, NULL},
    {"/?q=%41%e9", 0, "/?q=%41%e9"},
    /* bytes a URI does not hold raw are encoded; controls, space and '#' are refused */
    {"/caf\xc3\xa9", 0, "/caf%C3%A9"},
    {"/\xff", 0, "/%FF"},
    {"/a|b{c}\\d^e`f\"<>", 0, "/a%7Cb%7Bc%7D%5Cd%5Ee%60f%22%3C%3E"},
    {"/a:b@c!$&'()*+,;=", 0, "/a:b@c!$&'()*+,;="},
    {"/a#frag", 400, NULL},
    {"/a b", 400, NULL},
    {"/a\tb", 400, NULL},
    {"/a\x01", 400, NULL},
    {"/a?b#c", 400, NULL},
    {"/a?b c", 400, NULL},
    {"/a?\x7f", 400, NULL},
    /* the query keeps raw non-ASCII bytes, as they were */
    {"/a?q=\xc3\xa9", 0, "/a?q=\xc3\xa9"},
    /* not origin-form */
    {"a/b", 400, NULL},
    {"*", 400, NULL},
};

Test(path, normalises_every_case)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const path_case_t *c = &cases[i];
        char out[OUT_CAP];
        size_t n = 0;
        int status = lg_path_normalize(c->in, strlen(c->in), out, sizeof(out), &n);

        cr_expect_eq(status, c->status, "\"%s\": status %d, expected %d", c->in, status, c->status);
        if (status == 0 && c->status == 0) {
            out[n] = '\0';
            cr_expect_str_eq(out, c->out, "\"%s\"", c->in);
        }
    }
}

/* What lifeguard forwards normalises to itself: a second proxy or the backend changes nothing. */
Test(path, normal_form_is_stable)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char once[OUT_CAP], twice[OUT_CAP];
        size_t n1, n2;

        if (cases[i].status != 0)
            continue;
        cr_assert_eq(lg_path_normalize(cases[i].in, strlen(cases[i].in), once, OUT_CAP, &n1), 0);
        cr_assert_eq(lg_path_normalize(once, n1, twice, OUT_CAP, &n2), 0, "\"%.*s\"", (int)n1,
                     once);
        cr_expect(n1 == n2 && memcmp(once, twice, n1) == 0, "\"%.*s\" became \"%.*s\"", (int)n1,
                  once, (int)n2, twice);
    }
}

Test(path, output_that_does_not_fit_is_414)
{
    char out[8];
    size_t n;

    cr_assert_eq(lg_path_normalize("/abcdefgh", 9, out, sizeof(out), &n), 414);
    cr_assert_eq(lg_path_normalize("/\xff\xff\xff", 4, out, sizeof(out), &n), 414);
    cr_assert_eq(lg_path_normalize("/abcdefg", 8, out, sizeof(out), &n), 0);
    cr_assert_eq(n, 8);
}
