/*
 * uptls.c - pools.NAME.tls: TLS to the backends. Only the file is checked here (cert and key
 * together, a name to verify for every backend); src/tls/upctx.c reads the CA, certificate and
 * key a loaded file names and reports at the positions kept in lg_pool_tls_conf_t.
 */
#include <string.h>

#include "config/config-int.h"

static lg_conf_pos_t conf_pos(const lg_ynode_t *n)
{
    return (lg_conf_pos_t){n->line, n->col};
}

static const lg_conf_field_t conf_pool_tls_fields[] = {
    LG_CONF_ROW("verify", LG_CONF_ENUM, lg_pool_tls_conf_t, verify, 0, 0, .names = lg_conf_onoff),
    LG_CONF_ROW("ca", LG_CONF_STRING, lg_pool_tls_conf_t, ca, 0, 0),
    LG_CONF_ROW("server_name", LG_CONF_STRING, lg_pool_tls_conf_t, server_name, 0, 0),
    LG_CONF_ROW("cert", LG_CONF_STRING, lg_pool_tls_conf_t, client.cert, 0, 0),
    LG_CONF_ROW("key", LG_CONF_STRING, lg_pool_tls_conf_t, client.key, 0, 0),
    LG_CONF_ROW("ktls", LG_CONF_ENUM, lg_pool_tls_conf_t, ktls, 0, 0, .names = lg_conf_ktls),
    LG_CONF_END,
};

LG_CONF_FITS(conf_pool_tls_fields);

/* The value's position of key `name` when it was given, else `dflt`. */
static lg_conf_pos_t seen_pos(const lg_conf_seen_t *seen, const char *name, lg_conf_pos_t dflt)
{
    const lg_conf_seen_t *s = lg_conf_seen(conf_pool_tls_fields, seen, name);

    return s != NULL ? conf_pos(s->val) : dflt;
}

void lg_conf_pool_tls(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    lg_pool_conf_t *p = base;
    lg_pool_tls_conf_t *t;

    LG_UNUSED(f);
    if (!v->is_null && v->kind != LG_YNODE_MAP) {
        lg_conf_perr(c, v, "expected a mapping (verify, ca, server_name, cert, key, ktls), got %s",
                     lg_conf_kind(v));
        return;
    }
    t = lg_arena_calloc(c->arena, 1, sizeof(*t));
    if (t == NULL)
        return;
    t->verify = 1;
    t->client.ocsp = LG_OCSP_OFF;
    t->pos = conf_pos(key);
    lg_conf_walk(c, key, v, conf_pool_tls_fields, t, seen);
    t->ca_pos = seen_pos(seen, "ca", t->pos);
    t->client.pos = t->pos;
    t->client.cert_pos = seen_pos(seen, "cert", t->pos);
    t->client.key_pos = seen_pos(seen, "key", t->pos);
    if ((t->client.cert == NULL) != (t->client.key == NULL))
        lg_conf_perr(c, key, "%s needs %s too: a client certificate is a pair",
                     t->client.cert != NULL ? "cert" : "key",
                     t->client.cert != NULL ? "key" : "cert");
    p->tls = t;
}

/*
 * With verify on, each backend needs a name to check its certificate against: server_name, or
 * its own host name. An IP literal has none (certificates with IP SANs are rare and fragile).
 */
void lg_conf_pool_tls_check(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_pool_conf_t *p)
{
    const lg_pool_tls_conf_t *t = p->tls;

    if (t == NULL || !t->verify || t->server_name != NULL)
        return;
    for (size_t i = 0; i < p->nbackends; i++) {
        const lg_addr_t *a = &p->backends[i].addr;

        if (a->text[0] == '\0' || a->is_hostname)
            continue;
        lg_conf_key_err(c, key, "tls",
                        "backend %s is an IP address, so there is no name to verify its "
                        "certificate against: set server_name (the name in its certificate) "
                        "or verify: off",
                        lg_conf_q(c, a->text));
        return;
    }
}
