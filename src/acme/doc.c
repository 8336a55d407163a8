/*
 * doc.c - reading the ACME server's JSON documents (see doc.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/doc.h"
#include "core/lg.h"

#define LG_ACME_DOC_MAX 65536 /* a larger document is not one we read */

static json_t *load(const char *body, size_t len)
{
    if (body == NULL || len > LG_ACME_DOC_MAX)
        return NULL;
    return json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
}

/* A string member of `o` copied, or NULL when absent or not a string. */
static char *str_dup(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL ? strdup(s) : NULL;
}

static int str_copy(const json_t *o, const char *key, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));

    if (s == NULL || strlen(s) >= cap)
        return LG_ERR;
    memcpy(out, s, strlen(s) + 1);
    return LG_OK;
}

/* Append "fmt" to out (cap bytes, *used filled), cutting what does not fit. */
static void put(char *out, size_t cap, size_t *used, const char *a, const char *b)
{
    int n;

    if (*used + 1 >= cap)
        return;
    n = snprintf(out + *used, cap - *used, "%s%s", a, b);
    *used = n < 0 ? *used : LG_MIN(cap - 1, *used + (size_t)n);
}

/* type: detail of one problem object; LG_ERR when it has neither. */
static int problem_json(const json_t *p, char *out, size_t cap, size_t *used)
{
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *detail = json_string_value(json_object_get(p, "detail"));

    if (!json_is_object(p) || (type == NULL && detail == NULL))
        return LG_ERR;
    put(out, cap, used, type != NULL ? type : "about:blank", ": ");
    put(out, cap, used, detail != NULL ? detail : "(no detail)", "");
    return LG_OK;
}

/* The whole problem with its subproblems, one line. */
static int problem_line(const json_t *p, char *out, size_t cap)
{
    const json_t *subs = json_object_get(p, "subproblems"), *sp;
    size_t used = 0, i;

    out[0] = '\0';
    if (problem_json(p, out, cap, &used) != LG_OK)
        return LG_ERR;
    json_array_foreach(subs, i, sp)
    {
        const char *id =
            json_string_value(json_object_get(json_object_get(sp, "identifier"), "value"));

        put(out, cap, &used, "; ", id != NULL ? id : "?");
        put(out, cap, &used, ": ", "");
        if (problem_json(sp, out, cap, &used) != LG_OK)
            put(out, cap, &used, "(unreadable)", "");
    }
    return LG_OK;
}

int lg_acme_problem(const char *body, size_t len, char *out, size_t cap)
{
    json_t *j = load(body, len);
    int rc = j != NULL ? problem_line(j, out, cap) : LG_ERR;

    json_decref(j);
    if (rc != LG_OK)
        snprintf(out, cap, "no problem document");
    return rc;
}

int lg_acme_dir_parse(const char *body, size_t len, lg_acme_dir_t *d)
{
    json_t *j = load(body, len);

    *d = (lg_acme_dir_t){0};
    if (j != NULL) {
        d->new_nonce = str_dup(j, "newNonce");
        d->new_account = str_dup(j, "newAccount");
        d->new_order = str_dup(j, "newOrder");
        json_decref(j);
    }
    if (d->new_nonce != NULL && d->new_account != NULL && d->new_order != NULL)
        return LG_OK;
    lg_acme_dir_free(d);
    return LG_ERR;
}

void lg_acme_dir_free(lg_acme_dir_t *d)
{
    free(d->new_nonce);
    free(d->new_account);
    free(d->new_order);
    *d = (lg_acme_dir_t){0};
}

int lg_acme_order_parse(const char *body, size_t len, lg_acme_order_doc_t *o)
{
    json_t *j = load(body, len), *authz, *a;
    size_t i;
    int rc = LG_ERR;

    *o = (lg_acme_order_doc_t){0};
    authz = json_object_get(j, "authorizations");
    if (j == NULL || str_copy(j, "status", o->status, sizeof(o->status)) != LG_OK ||
        !json_is_array(authz) || json_array_size(authz) > LG_ACME_AUTHZ_MAX)
        goto out;
    o->finalize = str_dup(j, "finalize");
    o->certificate = str_dup(j, "certificate");
    o->authz = calloc(json_array_size(authz) + 1, sizeof(*o->authz));
    if (o->finalize == NULL || o->authz == NULL)
        goto out;
    json_array_foreach(authz, i, a)
    {
        if (!json_is_string(a) || (o->authz[o->nauthz++] = strdup(json_string_value(a))) == NULL)
            goto out;
    }
    if (json_object_get(j, "error") != NULL)
        problem_line(json_object_get(j, "error"), o->problem, sizeof(o->problem));
    rc = LG_OK;
out:
    json_decref(j);
    if (rc != LG_OK)
        lg_acme_order_doc_free(o);
    return rc;
}

void lg_acme_order_doc_free(lg_acme_order_doc_t *o)
{
    for (size_t i = 0; i < o->nauthz; i++)
        free(o->authz[i]);
    free(o->authz);
    free(o->finalize);
    free(o->certificate);
    *o = (lg_acme_order_doc_t){0};
}

int lg_acme_authz_parse(const char *body, size_t len, const char *type, lg_acme_authz_doc_t *a)
{
    json_t *j = load(body, len), *ch, *c;
    size_t i;
    int rc = LG_ERR;

    *a = (lg_acme_authz_doc_t){0};
    ch = json_object_get(j, "challenges");
    if (j == NULL || str_copy(j, "status", a->status, sizeof(a->status)) != LG_OK ||
        (a->name = str_dup(json_object_get(j, "identifier"), "value")) == NULL)
        goto out;
    json_array_foreach(ch, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));

        if (t == NULL || strcmp(t, type) != 0)
            continue;
        a->url = str_dup(c, "url");
        a->token = str_dup(c, "token");
        if (json_object_get(c, "error") != NULL)
            problem_line(json_object_get(c, "error"), a->problem, sizeof(a->problem));
        rc = a->url != NULL && a->token != NULL ? LG_OK : LG_ERR;
        break;
    }
    if (a->url == NULL && strcmp(a->status, "valid") == 0)
        rc = LG_OK; /* already validated (an earlier order): no challenge needed */
out:
    json_decref(j);
    if (rc != LG_OK)
        lg_acme_authz_doc_free(a);
    return rc;
}

void lg_acme_authz_doc_free(lg_acme_authz_doc_t *a)
{
    free(a->name);
    free(a->url);
    free(a->token);
    *a = (lg_acme_authz_doc_t){0};
}
