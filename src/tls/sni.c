/*
 * sni.c - the name index of a listener's certificates: every DNS name of each certificate's
 * subjectAltName (the subject's CN only when there is none; an acme entry's configured names),
 * lower case, in one array sorted by name and then by file order. A lookup is a binary search
 * for the exact name, then for the wildcard of its parent ("a.example.com" ->
 * "*.example.com"): O(log n), so 1,000 certificates cost nothing per handshake. The run of
 * entries of one name gives at most one certificate per key type, so an RSA and an ECDSA
 * certificate for one name are both served and the client's signature algorithms choose.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "tls/tls-int.h"

#define LG_SNI_NAME_MAX 255 /* longest DNS name, and longest SNI looked up */

typedef struct sni_list {
    lg_tls_name_t *v;
    size_t n, cap;
} sni_list_t;

static int sni_cmp(const void *pa, const void *pb)
{
    const lg_tls_name_t *a = pa, *b = pb;
    int r = strcmp(a->name, b->name);

    if (r != 0)
        return r;
    return a->cert < b->cert ? -1 : a->cert > b->cert;
}

/* Add `len` bytes of `s` as a name of certificate `cert`; names with odd bytes are skipped. */
static int sni_add(sni_list_t *l, const unsigned char *s, size_t len, uint32_t cert)
{
    char *name;
    size_t i;

    if (len == 0 || len > LG_SNI_NAME_MAX)
        return LG_OK;
    for (i = 0; i < len; i++)
        if (!isalnum(s[i]) && strchr("-._*", s[i]) == NULL)
            return LG_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        lg_tls_name_t *v = realloc(l->v, cap * sizeof(*v));

        if (v == NULL)
            return LG_ERR;
        l->v = v;
        l->cap = cap;
    }
    name = malloc(len + 1);
    if (name == NULL)
        return LG_ERR;
    for (i = 0; i < len; i++)
        name[i] = (char)tolower(s[i]);
    name[len] = '\0';
    l->v[l->n++] = (lg_tls_name_t){name, cert};
    return LG_OK;
}

/* The DNS names of `x`, or its CN when it has none. */
static int sni_names(sni_list_t *l, X509 *x, uint32_t cert)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    const X509_NAME *subj = X509_get_subject_name(x);
    size_t before = l->n;
    int rc = LG_OK, i;

    for (i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans) && rc == LG_OK; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

        if (g->type == GEN_DNS)
            rc = sni_add(l, ASN1_STRING_get0_data(g->d.dNSName),
                         (size_t)ASN1_STRING_length(g->d.dNSName), cert);
    }
    GENERAL_NAMES_free(sans);
    if (rc == LG_OK && l->n == before) {
        i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
        if (i >= 0) {
            const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));

            rc = sni_add(l, ASN1_STRING_get0_data(cn), (size_t)ASN1_STRING_length(cn), cert);
        }
    }
    return rc;
}

/*
 * The names of entry `c`: those of its `acme` list (its certificate changes under way, the
 * names do not), else those of its certificate.
 */
static int sni_entry_names(sni_list_t *l, const lg_tls_cert_t *c, uint32_t cert)
{
    int rc = LG_OK;

    if (c->conf->acme == NULL)
        return sni_names(l, c->x509, cert);
    for (size_t i = 0; i < c->conf->nacme && rc == LG_OK; i++)
        rc = sni_add(l, (const unsigned char *)c->conf->acme[i], strlen(c->conf->acme[i]), cert);
    return rc;
}

/* The certificates of the run of `name` starting at index `i`: the first of each key type. */
static size_t sni_set(const lg_tls_ctx_t *t, size_t i, lg_tls_set_t *out)
{
    const char *name = t->names[i].name;
    size_t k;

    out->n = 0;
    for (; i < t->nnames && strcmp(t->names[i].name, name) == 0; i++) {
        int kind = t->certs[t->names[i].cert].kind;

        for (k = 0; k < out->n; k++)
            if (t->certs[out->cert[k]].kind == kind)
                break;
        if (k == out->n && out->n < LG_TLS_KINDS)
            out->cert[out->n++] = t->names[i].cert;
    }
    return out->n;
}

/* Index of the first entry named `name`, or t->nnames. */
static size_t sni_lower_bound(const lg_tls_ctx_t *t, const char *name)
{
    size_t lo = 0, hi = t->nnames;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(t->names[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->nnames && strcmp(t->names[lo].name, name) == 0 ? lo : t->nnames;
}

int lg_tls_sni_build(lg_tls_ctx_t *t)
{
    sni_list_t l = {0};
    size_t i;

    for (i = 0; i < t->ncerts; i++) {
        if (sni_entry_names(&l, &t->certs[i], (uint32_t)i) != LG_OK) {
            t->names = l.v;
            t->nnames = l.n;
            return LG_ERR;
        }
    }
    qsort(l.v, l.n, sizeof(*l.v), sni_cmp);
    t->names = l.v;
    t->nnames = l.n;
    /* The default: what the first certificate's first name gets (itself, and its twin of the
     * other key type), or the first certificate alone when it has no name. */
    t->dflt = (lg_tls_set_t){.cert = {0}, .n = 1};
    for (i = 0; i < t->nnames; i++)
        if (t->names[i].cert == 0)
            break;
    if (i < t->nnames)
        sni_set(t, sni_lower_bound(t, t->names[i].name), &t->dflt);
    return LG_OK;
}

size_t lg_tls_sni_find(const lg_tls_ctx_t *t, const char *name, lg_tls_set_t *out)
{
    char low[LG_SNI_NAME_MAX + 3]; /* "*." + the parent */
    size_t len = strlen(name), i;
    const char *dot;

    if (len > 1 && name[len - 1] == '.')
        len--; /* a fully qualified name: certificates name hosts without the root's dot */
    if (len == 0 || len > LG_SNI_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[len] = '\0';
    i = sni_lower_bound(t, low);
    if (i < t->nnames)
        return sni_set(t, i, out);
    dot = strchr(low, '.');
    if (dot == NULL || dot == low || dot[1] == '\0')
        return 0;
    memmove(low + 1, dot, len - (size_t)(dot - low) + 1);
    low[0] = '*';
    i = sni_lower_bound(t, low);
    return i < t->nnames ? sni_set(t, i, out) : 0;
}

void lg_tls_sni_free(lg_tls_ctx_t *t)
{
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i].name);
    free(t->names);
    t->names = NULL;
    t->nnames = 0;
}
