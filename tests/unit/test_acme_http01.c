/*
 * test_acme_http01.c - which requests the http-01 answer takes (src/exchange/xacme.c): GET or
 * HEAD of exactly /.well-known/acme-challenge/TOKEN, TOKEN base64url of at most
 * LG_ACME_TOKEN_MAX bytes and under way in the region; everything else is left to routing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "acme/acme.h"
#include "exchange/xint.h"

#define TOKEN   "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

typedef struct find_case {
    const char *method;
    const char *path; /* the normalised target */
    int found;
} find_case_t;

static const find_case_t find_cases[] = {
    {"GET", "/.well-known/acme-challenge/" TOKEN, 1},
    {"HEAD", "/.well-known/acme-challenge/" TOKEN, 1},
    {"POST", "/.well-known/acme-challenge/" TOKEN, 0},
    {"get", "/.well-known/acme-challenge/" TOKEN, 0},
    {"GET", "/.well-known/acme-challenge/" TOKEN "?x=1", 0},
    {"GET", "/.well-known/acme-challenge/" TOKEN "/", 0},
    {"GET", "/.well-known/acme-challenge/" TOKEN "x", 0},
    {"GET", "/.well-known/acme-challenge/", 0},
    {"GET", "/.well-known/acme-challenge", 0},
    {"GET", "/x/.well-known/acme-challenge/" TOKEN, 0},
    {"GET", "/.WELL-KNOWN/acme-challenge/" TOKEN, 0},
    {"GET", "/.well-known/acme-challenge/unknown", 0},
    {"GET", "/.well-known/acme-challenge/a.b", 0},
};

Test(acme_http01, requests_answered_and_left_to_routing)
{
    char out[LG_ACME_KEYAUTH_MAX];

    cr_assert_eq(lg_acme_region_create(), LG_OK);
    cr_assert_eq(lg_acme_http01_add(TOKEN, KEYAUTH), LG_OK);
    cr_assert_eq(lg_acme_http01_add("a.b", "dot"), LG_OK, "the region takes any bytes");
    for (size_t i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
        const find_case_t *k = &find_cases[i];
        lg_req_head_t rq = {.method = {k->method, strlen(k->method)},
                            .path = {k->path, strlen(k->path)}};
        size_t n = lg_x_acme_find(&rq, out);

        cr_expect_eq(n, k->found ? strlen(KEYAUTH) : 0, "%s %s: %zu", k->method, k->path, n);
        if (k->found && n > 0)
            cr_expect_str_eq(out, KEYAUTH);
    }
}

Test(acme_http01, token_length_bounded)
{
    char tok[LG_ACME_TOKEN_MAX + 2], path[LG_ACME_TOKEN_MAX + 64], out[LG_ACME_KEYAUTH_MAX];
    lg_req_head_t rq = {.method = {"GET", 3}};

    cr_assert_eq(lg_acme_region_create(), LG_OK);
    memset(tok, 'A', LG_ACME_TOKEN_MAX);
    tok[LG_ACME_TOKEN_MAX] = '\0';
    cr_assert_eq(lg_acme_http01_add(tok, "longest"), LG_OK);
    snprintf(path, sizeof(path), "/.well-known/acme-challenge/%s", tok);
    rq.path = (lg_span_t){path, strlen(path)};
    cr_assert_eq(lg_x_acme_find(&rq, out), strlen("longest"));
    strcat(path, "A");
    rq.path = (lg_span_t){path, strlen(path)};
    cr_assert_eq(lg_x_acme_find(&rq, out), 0, "one byte longer");
}
