/*
 * acme.c - the top-level `acme` section (the ACME server and account: directory, email,
 * storage, ca, challenge, renew_before) and the `acme: [names]` entries of a listener's
 * tls.certificates (tls.c reads the entry, this file its names). Nothing here reaches the
 * network: `lifeguard -t` checks a file with acme entries offline.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "acme/acme.h"
#include "config/config-int.h"

#define LG_ACME_RENEW_DEFAULT (720 * LG_MSEC_HOUR) /* 30 days, as certbot and Caddy */
#define LG_ACME_RENEW_MIN     LG_MSEC_MINUTE
#define LG_ACME_RENEW_MAX     (3650 * LG_MSEC_DAY) /* above any validity: renew at every start */
#define LG_ACME_HTTPS         "https://"

static const char *const conf_challenges[] = {"http-01", "tls-alpn-01", NULL};

/* directory: the https URL of the ACME server's directory object (RFC 8555 7.1.1). */
static void conf_directory(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                           const lg_conf_field_t *f)
{
    lg_acme_conf_t *a = base;
    size_t pre = strlen(LG_ACME_HTTPS);

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "the https URL of the ACME directory") != LG_OK)
        return;
    if (strncasecmp(v->str, LG_ACME_HTTPS, pre) != 0 || v->len == pre ||
        strchr(v->str, ' ') != NULL) {
        lg_conf_perr(c, v,
                     "expected the https URL of the ACME directory, such as %s, got %s "
                     "(RFC 8555 requires https)",
                     LG_ACME_DIRECTORY, lg_conf_q(c, v->str));
        return;
    }
    a->directory = lg_conf_string(c, v);
}

/* email: the account's contact, an address "user@host" (sent as mailto:). */
static void conf_email(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                       const lg_conf_field_t *f)
{
    lg_acme_conf_t *a = base;
    const char *at;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "an e-mail address") != LG_OK)
        return;
    at = strchr(v->str, '@');
    if (at == NULL || at == v->str || strchr(at + 1, '@') != NULL ||
        !lg_conf_valid_hostname(at + 1, strlen(at + 1)) || strpbrk(v->str, " ,;:<>\"") != NULL) {
        lg_conf_perr(c, v, "expected an e-mail address such as ops@example.com, got %s",
                     lg_conf_q(c, v->str));
        return;
    }
    a->email = lg_conf_string(c, v);
}

static const lg_conf_field_t conf_acme_fields[] = {
    LG_CONF_FN("directory", conf_directory),
    LG_CONF_FN("email", conf_email),
    LG_CONF_ROW("storage", LG_CONF_STRING, lg_acme_conf_t, storage, 0, 0),
    LG_CONF_ROW("ca", LG_CONF_STRING, lg_acme_conf_t, ca, 0, 0),
    LG_CONF_ROW("challenge", LG_CONF_ENUM, lg_acme_conf_t, challenge, 0, 0,
                .names = conf_challenges),
    LG_CONF_ROW("renew_before", LG_CONF_DURATION, lg_acme_conf_t, renew_before, LG_ACME_RENEW_MIN,
                LG_ACME_RENEW_MAX),
    LG_CONF_END,
};

LG_CONF_FITS(conf_acme_fields);

void lg_conf_acme(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                  const lg_conf_field_t *f)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    lg_config_t *cf = base;
    lg_acme_conf_t *a;

    LG_UNUSED(f);
    a = lg_arena_alloc(c->arena, sizeof(*a));
    if (a == NULL)
        return;
    cf->acme = a; /* even when wrong: the acme entries are not reported as lacking it */
    if (!v->is_null && v->kind != LG_YNODE_MAP) {
        lg_conf_perr(c, v, "expected a mapping (directory, email, storage, ...), got %s",
                     lg_conf_kind(v));
        return;
    }
    a->directory = lg_arena_strndup(c->arena, LG_ACME_DIRECTORY, strlen(LG_ACME_DIRECTORY));
    a->storage = lg_arena_strndup(c->arena, LG_ACME_STORAGE, strlen(LG_ACME_STORAGE));
    a->challenge = LG_ACME_HTTP01;
    a->renew_before = LG_ACME_RENEW_DEFAULT;
    a->pos = (lg_conf_pos_t){key->line, key->col};
    lg_conf_walk(c, key, v, conf_acme_fields, a, seen);
}

/*
 * One name of an acme entry into names[*n], lower case: a DNS name an ACME server can check
 * by http-01 or tls-alpn-01 (no wildcard, no IP address, no '_'), listed once.
 */
static void conf_acme_name(lg_conf_ctx_t *c, const lg_ynode_t *v, char **names, size_t *n)
{
    size_t len, i;
    char *s;

    if (lg_conf_want_scalar(c, NULL, v, "a DNS name such as www.example.com") != LG_OK)
        return;
    len = v->len - (v->len > 1 && v->str[v->len - 1] == '.');
    if (v->str[0] == '*') {
        lg_conf_perr(c, v,
                     "%s: a wildcard certificate needs the dns-01 challenge, which lifeguard "
                     "does not answer (http-01 and tls-alpn-01 prove one name each); list the "
                     "names, or use a cert and key entry",
                     lg_conf_q(c, v->str));
        return;
    }
    if (!lg_conf_valid_hostname(v->str, v->len) || memchr(v->str, '_', len) != NULL) {
        lg_conf_perr(c, v, "invalid name %s: expected a DNS name such as www.example.com",
                     lg_conf_q(c, v->str));
        return;
    }
    s = lg_arena_strndup(c->arena, v->str, len);
    if (s == NULL)
        return;
    for (i = 0; i < len; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    for (i = 0; i < *n; i++) {
        if (strcmp(names[i], s) == 0) {
            lg_conf_perr(c, v, "%s is listed twice", lg_conf_q(c, s));
            return;
        }
    }
    names[(*n)++] = s;
}

void lg_conf_cert_acme(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                       const lg_conf_field_t *f)
{
    lg_tls_cert_conf_t *cert = base;
    size_t i, mark;

    LG_UNUSED(f);
    if (lg_conf_want_items(c, key, v, LG_YNODE_SEQ, "needs at least one name",
                           "a list of names such as [example.com, www.example.com]") != LG_OK)
        return;
    if (v->nkids > LG_ACME_NAMES_MAX) {
        lg_conf_perr(c, v, "%zu names: a certificate has at most %d", v->nkids, LG_ACME_NAMES_MAX);
        return;
    }
    if (c->cf->acme == NULL)
        lg_conf_perr(c, key,
                     "needs the top-level \"acme\" section (the ACME server and account, "
                     "docs/configuration.md)");
    cert->acme = lg_arena_calloc(c->arena, v->nkids, sizeof(*cert->acme));
    if (cert->acme == NULL)
        return;
    for (i = 0; i < v->nkids; i++) {
        mark = lg_conf_path_push(c, NULL, i);
        if (!v->kids[i]->is_alias)
            conf_acme_name(c, v->kids[i], cert->acme, &cert->nacme);
        lg_conf_path_pop(c, mark);
    }
    if (cert->nacme == 0)
        cert->acme = NULL;
}
