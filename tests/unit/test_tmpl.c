/*
 * test_tmpl.c - templates (src/http/tmpl.c): what compiles, what is refused and where, and
 * that an expansion never writes a value holding a control byte.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/lg.h"
#include "http/tmpl.h"

#define PARTS_MAX 32

static const lg_tmpl_vars_t vars = {{
    [LG_VAR_HOST] = {"example.com", 11},
    [LG_VAR_URI] = {"/a/b?x=1", 8},
    [LG_VAR_PATH] = {"/a/b", 4},
    [LG_VAR_QUERY] = {"x=1", 3},
    [LG_VAR_SCHEME] = {"https", 5},
    [LG_VAR_CLIENT_IP] = {"192.0.2.7", 9},
    [LG_VAR_REQUEST_ID] = {"", 0},
}};

static const struct {
    const char *src;
    const char *out; /* NULL: refused at compile */
    unsigned vars;
    const char *why;
    size_t at, len;
} cases[] = {
    {"", "", 0, NULL, 0, 0},
    {"plain text", "plain text", 0, NULL, 0, 0},
    {"https://{host}{uri}", "https://example.com/a/b?x=1", 1u << LG_VAR_HOST | 1u << LG_VAR_URI,
     NULL, 0, 0},
    {"{scheme}://{host}/new{path}?{query}", "https://example.com/new/a/b?x=1",
     1u << LG_VAR_SCHEME | 1u << LG_VAR_HOST | 1u << LG_VAR_PATH | 1u << LG_VAR_QUERY, NULL, 0, 0},
    {"ip={client_ip};rid={request_id}",
     "ip=192.0.2.7;rid=", 1u << LG_VAR_CLIENT_IP | 1u << LG_VAR_REQUEST_ID, NULL, 0, 0},
    {"{host}{host}", "example.comexample.com", 1u << LG_VAR_HOST, NULL, 0, 0},
    /* braces that are not a variable token are text */
    {"{\"a\": 1}", "{\"a\": 1}", 0, NULL, 0, 0},
    {"{ host }", "{ host }", 0, NULL, 0, 0},
    {"{Host}", "{Host}", 0, NULL, 0, 0},
    {"{}", "{}", 0, NULL, 0, 0},
    {"{host", "{host", 0, NULL, 0, 0},
    {"{{host}}", "{example.com}", 1u << LG_VAR_HOST, NULL, 0, 0},
    {"max-age=63072000; includeSubDomains", "max-age=63072000; includeSubDomains", 0, NULL, 0, 0},
    {"a\tb", "a\tb", 0, NULL, 0, 0},
    /* refused */
    {"x{hots}y", NULL, 0, "unknown variable", 1, 6},
    {"{remote_addr}", NULL, 0, "unknown variable", 0, 13},
    {"a\r\nInjected: 1", NULL, 0, "control character", 1, 1},
    {"a\nb", NULL, 0, "control character", 1, 1},
    {"del\x7f", NULL, 0, "control character", 3, 1},
};

Test(tmpl, table)
{
    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        lg_tmpl_part_t parts[PARTS_MAX];
        lg_tmpl_err_t err = {0};
        lg_tmpl_t t;
        char out[256];
        size_t n = 0, len = strlen(cases[i].src);
        int rc;

        cr_assert_leq(lg_tmpl_max_parts(cases[i].src, len), PARTS_MAX);
        rc = lg_tmpl_compile(cases[i].src, len, parts, &t, &err);
        if (cases[i].out == NULL) {
            cr_expect_eq(rc, LG_ERR, "%s: compiled", cases[i].src);
            cr_expect_str_eq(err.why, cases[i].why, "%s", cases[i].src);
            cr_expect_eq(err.at, cases[i].at, "%s: at %zu", cases[i].src, err.at);
            cr_expect_eq(err.len, cases[i].len, "%s: len %zu", cases[i].src, err.len);
            continue;
        }
        cr_assert_eq(rc, LG_OK, "%s: %s", cases[i].src, err.why);
        cr_expect_leq(t.nparts, lg_tmpl_max_parts(cases[i].src, len), "%s", cases[i].src);
        cr_expect_eq(t.vars, cases[i].vars, "%s: vars %x", cases[i].src, t.vars);
        cr_assert_eq(lg_tmpl_expand(&t, &vars, out, sizeof(out), &n), LG_OK, "%s", cases[i].src);
        cr_expect_eq(n, strlen(cases[i].out), "%s", cases[i].src);
        cr_expect_eq(memcmp(out, cases[i].out, n), 0, "%s: %.*s", cases[i].src, (int)n, out);
    }
}

/* A value with CR, LF, NUL or DEL is never written, whatever the rest. */
Test(tmpl, value_with_control_bytes_refused)
{
    static const char *const bad[] = {"a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "x\x7f"};
    lg_tmpl_part_t parts[PARTS_MAX];
    lg_tmpl_err_t err;
    lg_tmpl_vars_t v = vars;
    lg_tmpl_t t;
    char out[256];
    size_t n = 7;

    cr_assert_eq(lg_tmpl_compile("id={request_id}", 15, parts, &t, &err), LG_OK);
    for (size_t i = 0; i < LG_NELEMS(bad); i++) {
        v.v[LG_VAR_REQUEST_ID] = (lg_span_t){bad[i], strlen(bad[i])};
        cr_expect_eq(lg_tmpl_expand(&t, &v, out, sizeof(out), &n), LG_ERR, "%zu", i);
    }
    v.v[LG_VAR_REQUEST_ID] = (lg_span_t){"nul\0x", 5};
    cr_expect_eq(lg_tmpl_expand(&t, &v, out, sizeof(out), &n), LG_ERR);
    v.v[LG_VAR_REQUEST_ID] = (lg_span_t){"tab\tok", 6};
    cr_expect_eq(lg_tmpl_expand(&t, &v, out, sizeof(out), &n), LG_OK);
    cr_expect_eq(n, 9);
}

/* Too small a buffer: refused, never cut. */
Test(tmpl, does_not_fit)
{
    lg_tmpl_part_t parts[PARTS_MAX];
    lg_tmpl_err_t err;
    lg_tmpl_t t;
    char out[32];
    size_t n = 0;

    cr_assert_eq(lg_tmpl_compile("https://{host}{uri}", 19, parts, &t, &err), LG_OK);
    cr_expect_eq(lg_tmpl_expand(&t, &vars, out, 27, &n), LG_OK); /* exactly */
    cr_expect_eq(n, 27);
    cr_expect_eq(lg_tmpl_expand(&t, &vars, out, 26, &n), LG_ERR);
    cr_expect_eq(lg_tmpl_expand(&t, &vars, out, 10, &n), LG_ERR);
}
