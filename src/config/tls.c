/*
 * tls.c - the tls section of a listener: its table, the certificate list, the protocol versions
 * (tls1.0 and tls1.1 refused), client_auth and the defaults. Only the file is checked here:
 * certificates and keys are read by src/tls (lg_tls_load), which reports at the positions kept
 * in lg_tls_conf_t.
 */
#include <string.h>

#include "config/config-int.h"

#define LG_TICKET_ROTATION_DEFAULT (12 * LG_MSEC_HOUR)
#define LG_TICKET_ROTATION_MIN     LG_MSEC_MINUTE
#define LG_TICKET_ROTATION_MAX     (7 * LG_MSEC_DAY)

static const char *const conf_versions[] = {"tls1.0", "tls1.1", "tls1.2", "tls1.3", NULL};
static const char *const conf_unknown_sni[] = {"default", "reject", NULL};
static const char *const conf_verify[] = {"required", "optional", NULL};
const char *const lg_conf_ktls[] = {"auto", "off", NULL};

static lg_conf_pos_t conf_pos(const lg_ynode_t *n)
{
    return (lg_conf_pos_t){n->line, n->col};
}

/* ocsp: auto | off | PATH of a DER OCSP response to staple. */
static void conf_ocsp(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f)
{
    lg_tls_cert_conf_t *cert = base;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "auto, off or the path of a DER OCSP response") != LG_OK)
        return;
    cert->ocsp_pos = conf_pos(v);
    if (strcmp(v->str, "auto") == 0) {
        cert->ocsp = LG_OCSP_AUTO;
    } else if (strcmp(v->str, "off") == 0) {
        cert->ocsp = LG_OCSP_OFF;
    } else {
        cert->ocsp = LG_OCSP_FILE;
        cert->ocsp_file = lg_conf_string(c, v);
    }
}

static const lg_conf_field_t conf_cert_fields[] = {
    LG_CONF_ROW("cert", LG_CONF_STRING, lg_tls_cert_conf_t, cert, 0, 0, .flags = LG_CONF_REQUIRED),
    LG_CONF_ROW("key", LG_CONF_STRING, lg_tls_cert_conf_t, key, 0, 0, .flags = LG_CONF_REQUIRED),
    LG_CONF_FN("ocsp", conf_ocsp),
    LG_CONF_END,
};

/* cert or key next to acme: the entry is one or the other. */
static void conf_acme_file(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                           const lg_conf_field_t *f)
{
    LG_UNUSED(v);
    LG_UNUSED(base);
    lg_conf_perr(c, key,
                 "an entry has either cert and key or acme: the ACME server issues the "
                 "certificate of an acme entry (remove %s, or acme)",
                 f->name);
}

/*
 * ocsp of an acme entry: auto (the default) or off. A response file would not follow the
 * certificate through its renewals.
 */
static void conf_acme_ocsp(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                           const lg_conf_field_t *f)
{
    conf_ocsp(c, key, v, base, f);
    if (((lg_tls_cert_conf_t *)base)->ocsp == LG_OCSP_FILE)
        lg_conf_perr(c, v,
                     "an acme entry takes ocsp: auto or off; a response file would not follow "
                     "its certificate through renewals");
}

static const lg_conf_field_t conf_acme_cert_fields[] = {
    LG_CONF_FN("acme", lg_conf_cert_acme, .flags = LG_CONF_REQUIRED),
    LG_CONF_FN("cert", conf_acme_file),
    LG_CONF_FN("key", conf_acme_file),
    LG_CONF_FN("ocsp", conf_acme_ocsp),
    LG_CONF_END,
};

static void conf_certificates(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                              void *base, const lg_conf_field_t *f)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const lg_conf_seen_t *cert, *pkey;
    lg_tls_conf_t *t = base;
    const lg_ynode_t *item;
    size_t i, mark;

    LG_UNUSED(f);
    if (lg_conf_want_items(c, key, v, LG_YNODE_SEQ, "needs at least one certificate",
                           "a list of certificates (cert and key, or acme)") != LG_OK)
        return;
    t->certs = lg_arena_calloc(c->arena, v->nkids, sizeof(*t->certs));
    if (t->certs == NULL)
        return;
    t->ncerts = v->nkids;
    for (i = 0; i < v->nkids; i++) {
        item = v->kids[i];
        t->certs[i].pos = t->certs[i].cert_pos = t->certs[i].key_pos = conf_pos(item);
        if (item->is_alias)
            continue;
        mark = lg_conf_path_push(c, NULL, i);
        if (item->kind == LG_YNODE_MAP && lg_conf_map_get(item, "acme") != NULL) {
            lg_conf_walk(c, item, item, conf_acme_cert_fields, &t->certs[i], seen);
            lg_conf_path_pop(c, mark);
            continue;
        }
        lg_conf_walk(c, item, item, conf_cert_fields, &t->certs[i], seen);
        lg_conf_path_pop(c, mark);
        cert = lg_conf_seen(conf_cert_fields, seen, "cert");
        pkey = lg_conf_seen(conf_cert_fields, seen, "key");
        if (cert != NULL)
            t->certs[i].cert_pos = conf_pos(cert->val);
        if (pkey != NULL)
            t->certs[i].key_pos = conf_pos(pkey->val);
    }
}

/* versions: a list of tls1.2 and tls1.3; tls1.0 and tls1.1 are named and refused. */
static void conf_tls_versions(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                              void *base, const lg_conf_field_t *f)
{
    static const lg_conf_field_t one = {.name = "versions",
                                        .type = LG_CONF_ENUM,
                                        .width = sizeof(unsigned),
                                        .names = conf_versions};
    lg_tls_conf_t *t = base;
    unsigned bits = 0, ver;
    size_t i, mark;

    LG_UNUSED(f);
    if (lg_conf_want_items(c, key, v, LG_YNODE_SEQ, "needs at least one version (tls1.2, tls1.3)",
                           "a list such as [tls1.2, tls1.3]") != LG_OK)
        return;
    for (i = 0; i < v->nkids; i++) {
        ver = LG_NELEMS(conf_versions);
        mark = lg_conf_path_push(c, NULL, i);
        if (!v->kids[i]->is_alias)
            lg_conf_field(c, &one, NULL, v->kids[i], &ver);
        if (ver <= LG_TLS_1_1)
            lg_conf_perr(c, v->kids[i],
                         "%s is refused: it is obsolete and insecure (RFC 8996); use tls1.2 "
                         "and tls1.3",
                         conf_versions[ver]);
        else if (ver < LG_NELEMS(conf_versions) && (bits & (1u << ver)))
            lg_conf_perr(c, v->kids[i], "%s is listed twice", conf_versions[ver]);
        else if (ver < LG_NELEMS(conf_versions))
            bits |= 1u << ver;
        lg_conf_path_pop(c, mark);
    }
    if (bits != 0)
        t->versions = bits;
}

static void conf_ciphers(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                         const lg_conf_field_t *f)
{
    lg_tls_conf_t *t = base;
    char *s;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a cipher list such as \"ECDHE+AESGCM:ECDHE+CHACHA20\"") !=
        LG_OK)
        return;
    s = lg_conf_string(c, v);
    if (s == NULL)
        return;
    t->ciphers = s;
    t->ciphers_pos = conf_pos(v);
}

static const lg_conf_field_t conf_client_auth_fields[] = {
    LG_CONF_ROW("ca", LG_CONF_STRING, lg_tls_conf_t, client_auth.ca, 0, 0,
                .flags = LG_CONF_REQUIRED),
    LG_CONF_ROW("verify", LG_CONF_ENUM, lg_tls_conf_t, client_auth.verify, 0, 0,
                .names = conf_verify),
    LG_CONF_END,
};

static void conf_client_auth(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                             void *base, const lg_conf_field_t *f)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const lg_conf_seen_t *ca;
    lg_tls_conf_t *t = base;

    LG_UNUSED(f);
    if (v->is_null) {
        lg_conf_perr(c, key, "expected a mapping with \"ca\" (and \"verify\"), got nothing");
        return;
    }
    lg_conf_walk(c, key, v, conf_client_auth_fields, t, seen);
    ca = lg_conf_seen(conf_client_auth_fields, seen, "ca");
    if (ca != NULL)
        t->client_auth.ca_pos = conf_pos(ca->val);
}

static const lg_conf_field_t conf_tls_fields[] = {
    LG_CONF_FN("certificates", conf_certificates, .flags = LG_CONF_REQUIRED),
    LG_CONF_FN("versions", conf_tls_versions),
    LG_CONF_FN("ciphers", conf_ciphers),
    LG_CONF_ROW("unknown_sni", LG_CONF_ENUM, lg_tls_conf_t, unknown_sni, 0, 0,
                .names = conf_unknown_sni),
    LG_CONF_FN("client_auth", conf_client_auth),
    LG_CONF_ROW("session_tickets", LG_CONF_ENUM, lg_tls_conf_t, session_tickets, 0, 0,
                .names = lg_conf_onoff),
    LG_CONF_ROW("ticket_key_rotation", LG_CONF_DURATION, lg_tls_conf_t, ticket_key_rotation,
                LG_TICKET_ROTATION_MIN, LG_TICKET_ROTATION_MAX),
    LG_CONF_ROW("ktls", LG_CONF_ENUM, lg_tls_conf_t, ktls, 0, 0, .names = lg_conf_ktls),
    LG_CONF_END,
};

LG_CONF_FITS(conf_tls_fields);
LG_CONF_FITS(conf_cert_fields);
LG_CONF_FITS(conf_acme_cert_fields);
LG_CONF_FITS(conf_client_auth_fields);

/* listeners.NAME.tls: a mapping; every key but certificates has a default. */
void lg_conf_tls(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                 const lg_conf_field_t *f)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    lg_listener_conf_t *l = base;
    lg_tls_conf_t *t;

    LG_UNUSED(f);
    if (v->is_null || v->kind != LG_YNODE_MAP) {
        lg_conf_perr(c, v->is_null ? key : v, "expected a mapping with \"certificates\", got %s",
                     lg_conf_kind(v));
        return;
    }
    t = lg_arena_alloc(c->arena, sizeof(*t));
    if (t == NULL)
        return;
    t->versions = 1u << LG_TLS_1_2 | 1u << LG_TLS_1_3;
    t->ciphers = lg_arena_strndup(c->arena, LG_TLS_CIPHERS, strlen(LG_TLS_CIPHERS));
    t->session_tickets = 1;
    t->ticket_key_rotation = LG_TICKET_ROTATION_DEFAULT;
    t->pos = t->ciphers_pos = conf_pos(key);
    lg_conf_walk(c, key, v, conf_tls_fields, t, seen);
    l->tls = t;
}
