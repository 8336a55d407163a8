/*
 * fuzz_acme_doc.c - libFuzzer target for what the ACME client reads of the server's bytes
 * (src/acme/doc.c): the directory, an order, an authorization, a problem document.
 *
 * Each input is one response body. Properties checked (abort() on a violation):
 *   - every reader returns LG_OK or LG_ERR, and on LG_ERR leaves nothing allocated (its struct
 *     is all zero);
 *   - a directory read has its three URLs; an order's authorizations are strings, at most
 *     LG_ACME_AUTHZ_MAX; an authorization of a pending challenge has its URL and token;
 *   - the problem line is NUL-terminated inside its buffer, "no problem document" on LG_ERR,
 *     and the same line cut to a smaller buffer is a prefix of it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/doc.h"
#include "core/lg.h"

#define FZ_SMALL 24

static int all_zero(const void *p, size_t len)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < len; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static void check_problem(const char *body, size_t len)
{
    char line[LG_ACME_PROBLEM_MAX], small[FZ_SMALL];
    int rc = lg_acme_problem(body, len, line, sizeof(line));

    if ((rc != LG_OK && rc != LG_ERR) || memchr(line, '\0', sizeof(line)) == NULL)
        abort();
    if (rc == LG_ERR && strcmp(line, "no problem document") != 0)
        abort();
    if (lg_acme_problem(body, len, small, sizeof(small)) != rc ||
        strncmp(small, line, strlen(small)) != 0)
        abort();
}

static void check_docs(const char *body, size_t len)
{
    lg_acme_dir_t d;
    lg_acme_order_doc_t o;
    lg_acme_authz_doc_t a;

    if (lg_acme_dir_parse(body, len, &d) == LG_OK) {
        if (d.new_nonce == NULL || d.new_account == NULL || d.new_order == NULL)
            abort();
        lg_acme_dir_free(&d);
    } else if (!all_zero(&d, sizeof(d))) {
        abort();
    }
    if (lg_acme_order_parse(body, len, &o) == LG_OK) {
        if (o.finalize == NULL || o.nauthz > LG_ACME_AUTHZ_MAX)
            abort();
        for (size_t i = 0; i < o.nauthz; i++)
            if (o.authz[i] == NULL)
                abort();
        lg_acme_order_doc_free(&o);
    } else if (!all_zero(&o, sizeof(o))) {
        abort();
    }
    if (lg_acme_authz_parse(body, len, "http-01", &a) == LG_OK) {
        if (a.name == NULL ||
            (strcmp(a.status, "valid") != 0 && (a.url == NULL || a.token == NULL)))
            abort();
        lg_acme_authz_doc_free(&a);
    } else if (!all_zero(&a, sizeof(a))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_problem((const char *)data, size);
    check_docs((const char *)data, size);
    return 0;
}
