/*
 * doc.h - what the ACME server's JSON says (RFC 8555 section 7): the directory, orders,
 * authorizations and problem documents, read with jansson into plain structs. Every function
 * takes the bytes as received (any length, any content) and never trusts them: a missing or
 * mistyped member is LG_ERR, strings are copied and bounded.
 */
#ifndef LG_ACME_DOC_H
#define LG_ACME_DOC_H

#include <stddef.h>

#define LG_ACME_PROBLEM_MAX 1024 /* bytes of a problem document made into one log line */
#define LG_ACME_STATUS_MAX  16
#define LG_ACME_AUTHZ_MAX   100 /* authorizations of one order (one per name) */

typedef struct lg_acme_dir {
    char *new_nonce, *new_account, *new_order; /* malloc'd; all three set on LG_OK */
} lg_acme_dir_t;

typedef struct lg_acme_order_doc {
    char status[LG_ACME_STATUS_MAX]; /* pending, ready, processing, valid, invalid */
    char **authz;                    /* URLs, malloc'd */
    size_t nauthz;
    char *finalize;                    /* malloc'd */
    char *certificate;                 /* malloc'd; NULL until valid */
    char problem[LG_ACME_PROBLEM_MAX]; /* its "error", "" when none */
} lg_acme_order_doc_t;

typedef struct lg_acme_authz_doc {
    char status[LG_ACME_STATUS_MAX];   /* pending, valid, invalid, ... */
    char *name;                        /* identifier.value, malloc'd */
    char *url, *token;                 /* of the challenge of the type asked for; malloc'd */
    char problem[LG_ACME_PROBLEM_MAX]; /* that challenge's "error", "" when none */
} lg_acme_authz_doc_t;

int lg_acme_dir_parse(const char *body, size_t len, lg_acme_dir_t *d);
void lg_acme_dir_free(lg_acme_dir_t *d);

int lg_acme_order_parse(const char *body, size_t len, lg_acme_order_doc_t *o);
void lg_acme_order_doc_free(lg_acme_order_doc_t *o);

/* The challenge of `type` ("http-01", "tls-alpn-01") is taken; LG_ERR when the authorization
 * offers none (or is not one). */
int lg_acme_authz_parse(const char *body, size_t len, const char *type, lg_acme_authz_doc_t *a);
void lg_acme_authz_doc_free(lg_acme_authz_doc_t *a);

/*
 * A problem document (RFC 7807, RFC 8555 section 6.7) as one line into out (cap bytes):
 * "TYPE: DETAIL" and each subproblem "; IDENTIFIER: TYPE: DETAIL". Returns LG_OK, or LG_ERR
 * (out holds "no problem document") when `body` is not one.
 */
int lg_acme_problem(const char *body, size_t len, char *out, size_t cap);

#endif
