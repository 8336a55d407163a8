/*
 * listeners.c - the listeners section: the tables of a listener and of its routes, the route's
 * Host match, and the checks between a listener's keys (http needs routes, tcp one pool or
 * routes by SNI).
 * The tls section's table is in tls.c.
 * Each listen address is recorded for the clash check of xref.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "config/config-int.h"

/* A Host (or tcp: SNI) to match: an exact name or "*.suffix", stored lower-case. */
void lg_conf_route_host(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                        const lg_conf_field_t *f)
{
    lg_route_conf_t *r = base;
    const char *name;
    struct in_addr ip;
    size_t i;
    char *s;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a host name such as api.example.com") != LG_OK)
        return;
    r->host_wildcard = strncmp(v->str, "*.", 2) == 0;
    name = v->str + (r->host_wildcard ? 2 : 0);
    if (strchr(v->str, ':') != NULL) {
        lg_conf_perr(c, v, "invalid %s %s: leave out the port (the %s alone is matched)", key->str,
                     lg_conf_q(c, v->str), key->str);
        return;
    }
    if (!lg_conf_valid_hostname(name, strlen(name)) &&
        (r->host_wildcard || inet_pton(AF_INET, name, &ip) != 1)) {
        lg_conf_perr(c, v,
                     "invalid %s %s: expected a name such as api.example.com or "
                     "*.example.com",
                     key->str, lg_conf_q(c, v->str));
        return;
    }
    /* A fully qualified name's trailing dot: requests' Host values are matched without it. */
    s = lg_arena_strndup(c->arena, v->str, v->len - (v->len > 1 && v->str[v->len - 1] == '.'));
    for (i = 0; s != NULL && s[i] != '\0'; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    r->host = s;
}

static const char *const conf_modes[] = {"http", "tcp", NULL};

/* mode: http | tcp; "https" (or "tls") is answered with where TLS is configured. */
static void conf_mode(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f)
{
    static const lg_conf_field_t row =
        LG_CONF_ROW("mode", LG_CONF_ENUM, lg_listener_conf_t, mode, 0, 0, .names = conf_modes);

    LG_UNUSED(f);
    if (v->kind == LG_YNODE_SCALAR && (strcmp(v->str, "https") == 0 || strcmp(v->str, "tls") == 0))
        lg_conf_perr(c, v,
                     "unknown value %s: TLS is configured with a \"tls:\" section of the "
                     "listener, and mode stays http (or tcp)",
                     lg_conf_q(c, v->str));
    else
        lg_conf_field(c, &row, key, v, base);
}

const char *const lg_conf_onoff[] = {"off", "on", NULL};

/* proxy_protocol: the sources allowed to send a PROXY header (front/ppin.h). */
static const lg_conf_field_t conf_proxy_protocol_fields[] = {
    LG_CONF_ROW("trusted", LG_CONF_CUSTOM, lg_listener_conf_t, proxy_trusted, 0, 0,
                .fn = lg_conf_cidrs, .flags = LG_CONF_REQUIRED),
    LG_CONF_END,
};

static const lg_conf_field_t conf_listener_fields[] = {
    LG_CONF_ROW("listen", LG_CONF_ADDR, lg_listener_conf_t, addr, 0, 0,
                .aux = LG_ADDR_PORT0 | LG_ADDR_ANYHOST, .flags = LG_CONF_REQUIRED),
    LG_CONF_FN("mode", conf_mode),
    {.name = "routes", .type = LG_CONF_LATER}, /* read once the mode is known */
    LG_CONF_ROW("pool", LG_CONF_CUSTOM, lg_listener_conf_t, pool, 0, 0, .fn = lg_conf_pool_ref),
    LG_CONF_FN("tls", lg_conf_tls),
    LG_CONF_ROW("http2", LG_CONF_ENUM, lg_listener_conf_t, http2, 0, 0, .names = lg_conf_onoff),
    {.name = "proxy_protocol", .type = LG_CONF_SECTION, .sub = conf_proxy_protocol_fields},
    LG_CONF_END,
};

static const lg_conf_field_t conf_route_fields[] = {
    LG_CONF_FN("host", lg_conf_route_host),
    LG_CONF_ROW("path_prefix", LG_CONF_CUSTOM, lg_route_conf_t, path_prefix, 0, 0,
                .fn = lg_conf_path_prefix),
    LG_CONF_ROW("pool", LG_CONF_CUSTOM, lg_route_conf_t, pool, 0, 0, .fn = lg_conf_pool_ref),
    LG_CONF_FN("redirect", lg_conf_redirect),
    LG_CONF_FN("respond", lg_conf_respond),
    LG_CONF_FN("methods", lg_conf_route_methods),
    LG_CONF_FN("headers", lg_conf_route_headers),
    LG_CONF_ROW("strip_prefix", LG_CONF_ENUM, lg_route_conf_t, strip_prefix, 0, 0,
                .names = lg_conf_bool),
    {.name = "timeouts", .type = LG_CONF_SECTION, .sub = lg_conf_route_timeout_fields},
    {.name = "limits", .type = LG_CONF_SECTION, .sub = lg_conf_route_limit_fields},
    LG_CONF_ROW("retries", LG_CONF_UINT, lg_route_conf_t, retries, 0, LG_ROUTE_RETRIES_MAX),
    LG_CONF_ROW("allow", LG_CONF_CUSTOM, lg_route_conf_t, allow, 0, 0, .fn = lg_conf_cidrs),
    LG_CONF_ROW("deny", LG_CONF_CUSTOM, lg_route_conf_t, deny, 0, 0, .fn = lg_conf_cidrs),
    LG_CONF_FN("rate_limit", lg_conf_rate_limit),
    LG_CONF_FN("request_headers", lg_conf_request_headers),
    LG_CONF_FN("response_headers", lg_conf_response_headers),
    LG_CONF_END,
};

/* A tcp listener's routes (TLS passthrough): the ClientHello's server name, and a pool. */
static const lg_conf_field_t conf_tcp_route_fields[] = {
    LG_CONF_FN("sni", lg_conf_route_host),
    LG_CONF_ROW("pool", LG_CONF_CUSTOM, lg_route_conf_t, pool, 0, 0, .fn = lg_conf_pool_ref),
    LG_CONF_END,
};

/* The routes of listener `l`, read with the table of its mode. */
static void conf_routes(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                        lg_listener_conf_t *l)
{
    const lg_conf_field_t *fields =
        l->mode == LG_MODE_TCP ? conf_tcp_route_fields : conf_route_fields;
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const lg_ynode_t *item;
    size_t i, mark;

    if (lg_conf_want_items(c, key, v, LG_YNODE_SEQ, "needs at least one route",
                           "a list of routes") != LG_OK)
        return;
    l->routes = lg_arena_calloc(c->arena, v->nkids, sizeof(*l->routes));
    if (l->routes == NULL)
        return;
    l->nroutes = v->nkids;
    for (i = 0; i < v->nkids; i++) {
        item = v->kids[i];
        l->routes[i].pos = (lg_conf_pos_t){item->line, item->col};
        if (item->is_alias)
            continue;
        mark = lg_conf_path_push(c, NULL, i);
        lg_conf_route_defaults(&l->routes[i]);
        lg_conf_walk(c, item, item, fields, &l->routes[i], seen);
        if (l->mode == LG_MODE_TCP && lg_conf_seen(fields, seen, "pool") == NULL)
            lg_conf_perr(c, item, "missing required key \"pool\"");
        if (l->mode == LG_MODE_HTTP) {
            lg_conf_route_check(c, &l->routes[i], lg_conf_seen(fields, seen, "strip_prefix"));
            lg_conf_route_target(c, item, &l->routes[i], lg_conf_seen(fields, seen, "pool"));
        }
        lg_conf_path_pop(c, mark);
    }
}

/* A tcp listener has one pool, or routes by SNI (TLS passthrough, which never terminates). */
static void conf_tcp_check(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_listener_conf_t *l,
                           const lg_conf_seen_t *routes, const lg_conf_seen_t *pool)
{
    if (routes != NULL && pool != NULL)
        lg_conf_key_err(c, pool->key, "pool",
                        "not used with \"routes\" (a tcp listener has one \"pool\", or routes "
                        "by SNI)");
    else if (routes == NULL && pool == NULL)
        lg_conf_perr(c, key, "missing required key \"pool\" (mode: tcp; or \"routes\" by SNI)");
    if (routes != NULL && l->tls != NULL)
        lg_conf_key_err(c, routes->key, "routes",
                        "not used with \"tls\" (routes by SNI pass TLS through to the backends "
                        "undecrypted; a tcp listener with tls terminates it and has one \"pool\")");
}

static void conf_listener(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *elem)
{
    lg_listener_conf_t *l = elem;
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const lg_conf_seen_t *routes, *pool, *listen, *http2;

    l->http2 = LG_HTTP2_DEFAULT;
    lg_conf_walk(c, key, v, conf_listener_fields, l, seen);
    routes = lg_conf_seen(conf_listener_fields, seen, "routes");
    pool = lg_conf_seen(conf_listener_fields, seen, "pool");
    listen = lg_conf_seen(conf_listener_fields, seen, "listen");
    if (routes != NULL) {
        size_t mark = lg_conf_path_push(c, "routes", 0);

        conf_routes(c, routes->key, routes->val, l);
        lg_conf_path_pop(c, mark);
    }
    if (l->mode == LG_MODE_HTTP) {
        if (pool != NULL)
            lg_conf_key_err(c, pool->key, "pool",
                            "only used with \"mode: tcp\" (http listeners use \"routes\")");
        if (routes == NULL)
            lg_conf_perr(c, key, "missing required key \"routes\"");
        if (l->http2 == LG_HTTP2_DEFAULT)
            l->http2 = l->tls != NULL; /* h2 by ALPN with TLS; h2c only when asked for */
    } else {
        if ((http2 = lg_conf_seen(conf_listener_fields, seen, "http2")) != NULL)
            lg_conf_key_err(c, http2->key, "http2",
                            "only used with \"mode: http\" (a tcp listener relays bytes)");
        l->http2 = 0;
        conf_tcp_check(c, key, l, routes, pool);
    }
    if (listen != NULL)
        l->listen_pos = (lg_conf_pos_t){listen->val->line, listen->val->col};
    if (listen != NULL && l->addr.text[0] != '\0')
        c->listens[c->nlistens++] = (lg_conf_addr_ref_t){&l->addr, listen->val, l->name};
}

const lg_conf_named_desc_t lg_conf_listeners_desc = {"listener",
                                                     "at least one listener is needed",
                                                     "a mapping of names to listeners",
                                                     sizeof(lg_listener_conf_t),
                                                     offsetof(lg_listener_conf_t, name),
                                                     offsetof(lg_listener_conf_t, pos),
                                                     conf_listener};

LG_CONF_FITS(conf_listener_fields);
LG_CONF_FITS(conf_route_fields);
LG_CONF_FITS(conf_tcp_route_fields);
