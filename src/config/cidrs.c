/*
 * cidrs.c - a list of IP networks in the file (a route's allow and deny): each entry parsed by
 * core/cidr.c, the whole made into one set (sorted disjoint ranges) in the configuration's arena.
 */
#include "config/config-int.h"
#include "core/cidr.h"

/* One entry of the list into *out; LG_ERR when reported. */
static int conf_cidr(lg_conf_ctx_t *c, const lg_ynode_t *v, lg_cidr_t *out)
{
    char why[LG_CIDR_WHY_MAX];

    if (v->is_alias)
        return LG_ERR;
    if (v->kind != LG_YNODE_SCALAR || v->is_null) {
        lg_conf_perr(c, v, "expected an address or a network such as 10.0.0.0/8, got %s",
                     lg_conf_kind(v));
        return LG_ERR;
    }
    if (lg_cidr_parse(v->str, out, why) != LG_OK) {
        lg_conf_perr(c, v, "%s", why);
        return LG_ERR;
    }
    return LG_OK;
}

void lg_conf_cidrs(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                   const lg_conf_field_t *f)
{
    lg_cidr_range_t *ranges;
    lg_cidr_set_t *set;
    lg_cidr_t *cidrs;
    size_t i, mark, bad = 0;

    if (lg_conf_want_items(c, key, v, LG_YNODE_SEQ, "needs at least one address or network",
                           "a list such as [10.0.0.0/8, 2001:db8::/32]") != LG_OK)
        return;
    cidrs = lg_arena_calloc(c->scratch, v->nkids, sizeof(*cidrs));
    ranges = lg_arena_calloc(c->arena, v->nkids, sizeof(*ranges));
    set = lg_arena_alloc(c->arena, sizeof(*set));
    if (cidrs == NULL || ranges == NULL || set == NULL)
        return;
    for (i = 0; i < v->nkids; i++) {
        mark = lg_conf_path_push(c, NULL, i);
        bad += conf_cidr(c, v->kids[i], &cidrs[i]) != LG_OK;
        lg_conf_path_pop(c, mark);
    }
    if (bad != 0)
        return;
    lg_cidr_set_build(set, ranges, cidrs, v->nkids);
    lg_conf_store_ptr(base, f->off, set);
}
