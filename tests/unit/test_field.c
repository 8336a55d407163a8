/*
 * test_field.c - the span comparisons of src/http/field.c: lg_span_is is exact (methods and
 * HTTP/2 field names are case-sensitive), lg_span_eq ignores case against a lower-case literal.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "http/field.h"

typedef struct span_case {
    const char *span; /* compared over its strlen */
    const char *lit;
    int is; /* lg_span_is */
    int eq; /* lg_span_eq */
} span_case_t;

static const span_case_t cases[] = {
    {"GET", "GET", 1, 1},         {"get", "get", 1, 1},       {"GET", "get", 0, 1},
    {"GETX", "GET", 0, 0},        {"GE", "GET", 0, 0},        {"", "", 1, 1},
    {"", "host", 0, 0},           {"cookie", "cookie", 1, 1}, {"Cookie", "cookie", 0, 1},
    {"OPTIONS", "options", 0, 1},
};

Test(field, span_is_exact_and_span_eq_ignores_case)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const span_case_t *c = &cases[i];
        lg_span_t s = {c->span, strlen(c->span)};

        cr_expect_eq(lg_span_is(s, c->lit) != 0, c->is, "lg_span_is(\"%s\", \"%s\")", c->span,
                     c->lit);
        cr_expect_eq(lg_span_eq(s, c->lit) != 0, c->eq, "lg_span_eq(\"%s\", \"%s\")", c->span,
                     c->lit);
    }
}

Test(field, span_is_reads_only_the_span)
{
    const char buf[] = "HEADER";
    lg_span_t head = {buf, 4};

    cr_expect(lg_span_is(head, "HEAD"));
    cr_expect(!lg_span_is(head, "HEADER"));
}
