/*
 * xref.c - the checks that look across the file rather than at one value: references from
 * listeners and routes to pools (by name, with a "did you mean"), backends listed twice in a
 * pool, and listen addresses that cannot be bound together (the same address twice, or a
 * wildcard and another address of its family on one port).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config-int.h"

#define LG_CONF_SUGGEST_MAX 64 /* names compared for a "did you mean" hint */

/* Both IP literals or both names; then the address (names case-insensitively), then the port. */
static int conf_addr_cmp(const lg_addr_t *a, const lg_addr_t *b)
{
    const struct sockaddr_in *a4 = (const void *)&a->sa, *b4 = (const void *)&b->sa;
    const struct sockaddr_in6 *a6 = (const void *)&a->sa, *b6 = (const void *)&b->sa;
    int r;

    if (a->is_hostname != b->is_hostname)
        return a->is_hostname - b->is_hostname;
    if (a->is_hostname) {
        r = strcasecmp(a->host, b->host);
    } else if (a->sa.ss_family != b->sa.ss_family) {
        r = a->sa.ss_family - b->sa.ss_family;
    } else if (a->sa.ss_family == AF_INET) {
        r = memcmp(&a4->sin_addr, &b4->sin_addr, sizeof(a4->sin_addr));
    } else {
        r = memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
    }
    if (r != 0)
        return r;
    return a->port - b->port;
}

static int conf_before(const lg_ynode_t *a, const lg_ynode_t *b)
{
    return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* Same family and port, sorted so a wildcard address comes first; then by file position. */
static int conf_addr_ref_cmp(const void *pa, const void *pb)
{
    const lg_conf_addr_ref_t *a = pa, *b = pb;
    int r;

    if (a->addr->sa.ss_family != b->addr->sa.ss_family)
        return a->addr->sa.ss_family - b->addr->sa.ss_family;
    if (a->addr->port != b->addr->port)
        return a->addr->port - b->addr->port;
    r = conf_addr_cmp(a->addr, b->addr);
    if (r != 0)
        return r;
    return conf_before(a->node, b->node) ? -1 : conf_before(b->node, a->node);
}

static int conf_is_wildcard(const lg_addr_t *a)
{
    static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
    const struct sockaddr_in *a4 = (const void *)&a->sa;
    const struct sockaddr_in6 *a6 = (const void *)&a->sa;

    if (a->sa.ss_family == AF_INET)
        return a4->sin_addr.s_addr == htonl(INADDR_ANY);
    return memcmp(&a6->sin6_addr, &any6, sizeof(any6)) == 0;
}

/* "listener \"web\"" or "the admin listener", for messages; or the key path of the address. */
static const char *conf_owner(lg_conf_ctx_t *c, const lg_conf_addr_ref_t *r, int path)
{
    char *out = c->quote[c->qnext++ % LG_NELEMS(c->quote)];
    size_t size = sizeof(c->quote[0]), i;

    if (r->owner == NULL)
        return path ? "admin.listen" : "the admin listener";
    if (!path) {
        snprintf(out, size, "listener %s", lg_conf_q(c, r->owner));
        return out;
    }
    snprintf(out, size, "listeners.%.*s.listen", LG_CONF_NAME_MAX, r->owner);
    for (i = 0; out[i] != '\0'; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7F)
            out[i] = '?';
    return out;
}

/*
 * Listen addresses that cannot be bound together: the same address and port twice, or a
 * wildcard (0.0.0.0, ::, ":port") and another address of its family on the same port. Port 0
 * never clashes. Sorted, so a file with many listeners costs O(n log n); each clash is reported
 * on the later of the two.
 */
void lg_conf_check_listens(lg_conf_ctx_t *c)
{
    lg_conf_addr_ref_t *v = c->listens;
    size_t g, e, i, run, n = c->nlistens;
    const lg_conf_addr_ref_t *first, *wild, *other;

    qsort(v, n, sizeof(*v), conf_addr_ref_cmp);
    for (g = 0; g < n; g = e) {
        for (e = g + 1; e < n && v[e].addr->sa.ss_family == v[g].addr->sa.ss_family &&
                        v[e].addr->port == v[g].addr->port;
             e++) {
        }
        if (v[g].addr->port == 0)
            continue;
        first = &v[g];
        wild = conf_is_wildcard(v[g].addr) ? &v[g] : NULL;
        for (i = g; i < e; i++)
            if (conf_before(v[i].node, first->node))
                first = &v[i];
        for (i = g, run = g; i < e; i++) {
            if (conf_addr_cmp(v[i].addr, v[run].addr) != 0)
                run = i;
            other = run != i ? &v[run] : NULL;
            if (conf_is_wildcard(v[i].addr) && first != &v[i])
                other = first;
            else if (wild != NULL && conf_before(wild->node, v[i].node) &&
                     (other == NULL || conf_before(wild->node, other->node)))
                other = wild;
            if (other == NULL)
                continue;
            if (conf_addr_cmp(other->addr, v[i].addr) == 0)
                lg_conf_err(c, v[i].node, "%s: address %s is already used by %s (line %u)",
                            conf_owner(c, &v[i], 1), v[i].addr->text, conf_owner(c, other, 0),
                            other->node->line);
            else
                lg_conf_err(c, v[i].node, "%s: address %s overlaps %s of %s (line %u)",
                            conf_owner(c, &v[i], 1), v[i].addr->text, other->addr->text,
                            conf_owner(c, other, 0), other->node->line);
        }
    }
}

static int conf_backend_ref_cmp(const void *pa, const void *pb)
{
    const lg_conf_addr_ref_t *a = pa, *b = pb;
    int r = conf_addr_cmp(a->addr, b->addr);

    if (r != 0)
        return r;
    return conf_before(a->node, b->node) ? -1 : conf_before(b->node, a->node);
}

static int conf_pool_cmp(const void *pa, const void *pb)
{
    const lg_pool_conf_t *const *a = pa, *const *b = pb;

    return strcmp((*a)->name, (*b)->name);
}

void lg_conf_index_pools(lg_conf_ctx_t *c)
{
    const lg_config_t *cf = c->cf;
    size_t i;

    c->pools_by_name = lg_arena_calloc(c->scratch, cf->npools + 1, sizeof(*c->pools_by_name));
    for (i = 0; c->pools_by_name != NULL && i < cf->npools; i++)
        c->pools_by_name[i] = &cf->pools[i];
    if (c->pools_by_name != NULL)
        qsort(c->pools_by_name, cf->npools, sizeof(*c->pools_by_name), conf_pool_cmp);
}

/* A reference to a pool by name: stored as its index into cf->pools. */
void lg_conf_pool_ref(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f)
{
    lg_pool_conf_t probe = {.name = NULL}, *pp = &probe;
    const lg_pool_conf_t **found;
    const char *best = NULL;
    size_t bestd = SIZE_MAX, i, index;

    if (lg_conf_want_scalar(c, key, v, "a pool name") != LG_OK)
        return;
    probe.name = (char *)v->str;
    found = c->pools_by_name == NULL ? NULL
                                     : bsearch(&pp, c->pools_by_name, c->cf->npools,
                                               sizeof(*c->pools_by_name), conf_pool_cmp);
    if (found != NULL) {
        index = (size_t)(*found - c->cf->pools);
        memcpy((char *)base + f->off, &index, sizeof(index));
        return;
    }
    for (i = 0; i < c->cf->npools && i < LG_CONF_SUGGEST_MAX; i++)
        lg_conf_closest(v->str, c->cf->pools[i].name, &best, &bestd);
    if (best != NULL)
        lg_conf_perr(c, v, "unknown pool %s (did you mean \"%s\"?)", lg_conf_q(c, v->str), best);
    else
        lg_conf_perr(c, v, "unknown pool %s", lg_conf_q(c, v->str));
}

void lg_conf_check_backends(lg_conf_ctx_t *c, lg_conf_addr_ref_t *refs, size_t n)
{
    size_t i, first;

    qsort(refs, n, sizeof(*refs), conf_backend_ref_cmp);
    for (i = 1, first = 0; i < n; i++) {
        if (conf_addr_cmp(refs[first].addr, refs[i].addr) != 0)
            first = i;
        else
            lg_conf_perr(c, refs[i].node, "duplicate backend %s (first at line %u)",
                         refs[i].addr->text, refs[first].node->line);
    }
}
