/*
 * config.c - the public entry point: lg_config_load() reads the file into a node tree, fills the
 * defaults, walks the top-level table (workers, pid_file, log, admin, timeouts, limits) and then
 * the pools and listeners sections, and runs the listen-address clash check.
 *
 * The schema is spread by section: walk.c applies any table, pools.c and listeners.c hold their
 * sections' tables and handlers, xref.c the checks across sections.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config-int.h"

#define LG_WORKERS_MAX    256
#define LG_CONNS_MAX      1000000
#define LG_H2_STREAMS_MAX 65536 /* SETTINGS_MAX_CONCURRENT_STREAMS we accept to advertise */

/* ---- top-level values */

static void conf_workers(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                         const lg_conf_field_t *f)
{
    lg_config_t *cf = base;
    uint64_t n;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "a number or \"auto\"") != LG_OK)
        return;
    if (strcmp(v->str, "auto") == 0)
        return; /* the default */
    if (lg_conf_parse_uint(v->str, &n) != LG_OK || n < 1 || n > LG_WORKERS_MAX) {
        lg_conf_perr(c, v, "must be a whole number from 1 to %d or \"auto\", got %s",
                     LG_WORKERS_MAX, lg_conf_q(c, v->str));
        return;
    }
    cf->workers = (unsigned)n;
}

static void conf_log_access(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                            void *base, const lg_conf_field_t *f)
{
    lg_config_t *cf = base;

    LG_UNUSED(f);
    if (lg_conf_want_scalar(c, key, v, "stdout, off or a file path") != LG_OK)
        return;
    cf->log.access = strcmp(v->str, "off") == 0 ? NULL : lg_conf_string(c, v);
}

/* ---- the top level */

static const char *const conf_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const conf_formats[] = {"combined", "json", NULL};

static const lg_conf_field_t conf_log_fields[] = {
    LG_CONF_ROW("level", LG_CONF_ENUM, lg_config_t, log.level, 0, 0, .names = conf_levels),
    LG_CONF_ROW("error", LG_CONF_STRING, lg_config_t, log.error, 0, 0),
    LG_CONF_FN("access", conf_log_access),
    LG_CONF_ROW("access_format", LG_CONF_ENUM, lg_config_t, log.format, 0, 0,
                .names = conf_formats),
    LG_CONF_END,
};

static const lg_conf_field_t conf_admin_fields[] = {
    LG_CONF_ROW("listen", LG_CONF_ADDR, lg_config_t, admin.addr, 0, 0,
                .aux = LG_ADDR_PORT0 | LG_ADDR_ANYHOST),
    LG_CONF_END,
};

#define CONF_TIMEOUT(key, lo)                                                                      \
    LG_CONF_ROW(#key, LG_CONF_DURATION, lg_config_t, timeouts.key, lo, LG_MSEC_DAY)

static const lg_conf_field_t conf_timeout_fields[] = {
    CONF_TIMEOUT(client_header, 1),
    CONF_TIMEOUT(client_body, 1),
    CONF_TIMEOUT(client_idle, 1),
    CONF_TIMEOUT(connect, 1),
    CONF_TIMEOUT(upstream_response, 1),
    CONF_TIMEOUT(upstream_idle, 1),
    CONF_TIMEOUT(tunnel, 1),
    CONF_TIMEOUT(drain, 0),
    LG_CONF_END,
};

static const lg_conf_field_t conf_limit_fields[] = {
    LG_CONF_ROW("max_connections", LG_CONF_UINT, lg_config_t, limits.max_connections, 1,
                LG_CONNS_MAX),
    LG_CONF_ROW("max_header_size", LG_CONF_SIZE, lg_config_t, limits.max_header_size, LG_KIB,
                LG_MIB),
    LG_CONF_ROW("max_body_size", LG_CONF_SIZE, lg_config_t, limits.max_body_size, 0, UINT64_MAX),
    LG_CONF_ROW("max_concurrent_streams", LG_CONF_UINT, lg_config_t, limits.max_concurrent_streams,
                1, LG_H2_STREAMS_MAX),
    LG_CONF_ROW("max_connections_per_ip", LG_CONF_UINT, lg_config_t, limits.max_connections_per_ip,
                0, LG_CONNS_MAX),
    LG_CONF_END,
};

static const lg_conf_field_t conf_root_fields[] = {
    LG_CONF_FN("workers", conf_workers),
    LG_CONF_ROW("pid_file", LG_CONF_STRING, lg_config_t, pid_file, 0, 0),
    LG_CONF_ROW("resolver", LG_CONF_ADDR, lg_config_t, resolver, 0, 0),
    {.name = "log", .type = LG_CONF_SECTION, .sub = conf_log_fields},
    {.name = "admin", .type = LG_CONF_SECTION, .sub = conf_admin_fields},
    {.name = "timeouts", .type = LG_CONF_SECTION, .sub = conf_timeout_fields},
    {.name = "limits", .type = LG_CONF_SECTION, .sub = conf_limit_fields},
    {.name = "listeners", .type = LG_CONF_LATER, .flags = LG_CONF_REQUIRED},
    {.name = "pools", .type = LG_CONF_LATER}, /* none: every route answers itself */
    LG_CONF_FN("acme", lg_conf_acme),         /* read before the listeners that name it */
    LG_CONF_END,
};

LG_CONF_FITS(conf_root_fields);
LG_CONF_FITS(conf_log_fields);
LG_CONF_FITS(conf_admin_fields);
LG_CONF_FITS(conf_timeout_fields);
LG_CONF_FITS(conf_limit_fields);

static unsigned conf_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : (unsigned)LG_MIN(n, (long)LG_WORKERS_MAX);
}

int lg_config_default_pid_file(unsigned euid, const char *xdg, char *buf, size_t len)
{
    int r;

    if (euid == 0)
        r = snprintf(buf, len, "/run/lifeguard.pid");
    else if (xdg != NULL && xdg[0] == '/')
        r = snprintf(buf, len, "%s/lifeguard.pid", xdg);
    else
        r = snprintf(buf, len, "/tmp/lifeguard-%u.pid", euid);
    return r > 0 && (size_t)r < len ? LG_OK : LG_ERR;
}

static void conf_defaults(lg_conf_ctx_t *c)
{
    lg_config_t *cf = c->cf;
    char pid[PATH_MAX];

    if (lg_config_default_pid_file(geteuid(), getenv("XDG_RUNTIME_DIR"), pid, sizeof(pid)) == LG_OK)
        cf->pid_file_default = cf->pid_file = lg_arena_strndup(c->arena, pid, strlen(pid));
    cf->workers = conf_cpus();
    cf->log.level = LG_LOG_INFO;
    cf->log.error = lg_arena_strndup(c->arena, "stderr", strlen("stderr"));
    cf->log.access = lg_arena_strndup(c->arena, "stdout", strlen("stdout"));
    cf->log.format = LG_ACCESS_COMBINED;
    cf->timeouts.client_header = 10 * LG_MSEC_SECOND;
    cf->timeouts.client_body = 60 * LG_MSEC_SECOND;
    cf->timeouts.client_idle = 75 * LG_MSEC_SECOND;
    cf->timeouts.connect = 3 * LG_MSEC_SECOND;
    cf->timeouts.upstream_response = 60 * LG_MSEC_SECOND;
    cf->timeouts.upstream_idle = 60 * LG_MSEC_SECOND;
    cf->timeouts.tunnel = LG_MSEC_HOUR;
    cf->timeouts.drain = 30 * LG_MSEC_SECOND;
    cf->limits.max_connections = 10000;
    cf->limits.max_header_size = 16 * LG_KIB;
    cf->limits.max_body_size = 0;
    cf->limits.max_concurrent_streams = 128;
}

static void conf_root(lg_conf_ctx_t *c, const lg_ynode_t *root)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const lg_conf_seen_t *pools, *listeners;
    lg_config_t *cf = c->cf;
    size_t mark, npairs;

    if (root->is_alias)
        return;
    if (root->is_null) {
        lg_conf_err_add(c->errs, 0, 0, "empty configuration");
        return;
    }
    if (root->kind != LG_YNODE_MAP) {
        lg_conf_err(c, root,
                    "the top level must be a mapping (keys such as listeners and pools), "
                    "got %s",
                    lg_conf_kind(root));
        return;
    }
    conf_defaults(c);
    lg_conf_walk(c, NULL, root, conf_root_fields, cf, seen);
    cf->admin.enabled = cf->admin.addr.text[0] != '\0';

    pools = lg_conf_seen(conf_root_fields, seen, "pools");
    if (pools != NULL && !pools->val->is_alias) {
        mark = lg_conf_path_push(c, "pools", 0);
        cf->pools = lg_conf_named(c, pools->key, pools->val, &lg_conf_pools_desc, &cf->npools);
        lg_conf_path_pop(c, mark);
    }
    lg_conf_index_pools(c);
    listeners = lg_conf_seen(conf_root_fields, seen, "listeners");
    if (listeners != NULL && !listeners->val->is_alias) {
        npairs = listeners->val->kind == LG_YNODE_MAP ? listeners->val->nkids / 2 : 0;
        c->listens = lg_arena_calloc(c->scratch, npairs + 1, sizeof(*c->listens));
        if (c->listens == NULL)
            return;
        mark = lg_conf_path_push(c, "listeners", 0);
        cf->listeners = lg_conf_named(c, listeners->key, listeners->val, &lg_conf_listeners_desc,
                                      &cf->nlisteners);
        lg_conf_path_pop(c, mark);
        if (cf->admin.enabled)
            c->listens[c->nlistens++] = (lg_conf_addr_ref_t){
                &cf->admin.addr,
                lg_conf_map_get(lg_conf_seen(conf_root_fields, seen, "admin")->val, "listen"),
                NULL};
        lg_conf_check_listens(c);
        lg_conf_check_route_timeouts(c);
    }
}

/* ---- public API */

lg_config_t *lg_config_load(const char *path, lg_config_errors_t *errs)
{
    lg_config_errors_t discard = {0};
    lg_conf_errs_t el = {0};
    lg_conf_ctx_t c = {.errs = &el};
    lg_ynode_t *root;

    if (errs == NULL)
        errs = &discard;
    *errs = (lg_config_errors_t){0};
    c.arena = lg_arena_new();
    c.scratch = lg_arena_new();
    if (c.arena == NULL || c.scratch == NULL)
        goto out_oom;
    c.cf = lg_arena_alloc(c.arena, sizeof(*c.cf));
    if (c.cf == NULL)
        goto out_oom;
    c.cf->arena = c.arena;
    c.cf->file = lg_arena_strndup(c.arena, path, strlen(path));

    root = lg_conf_tree_load(path, c.scratch, &el);
    if (root != NULL)
        conf_root(&c, root);
    if (lg_arena_failed(c.arena) || lg_arena_failed(c.scratch))
        el.oom = 1;
    lg_arena_free(c.scratch);
    if (el.n > 0 || el.oom) {
        lg_conf_errs_finish(&el, path, errs);
        lg_arena_free(c.arena);
        lg_config_errors_free(&discard);
        return NULL;
    }
    lg_conf_errs_clear(&el);
    return c.cf;

out_oom:
    lg_arena_free(c.scratch);
    lg_arena_free(c.arena);
    el.oom = 1;
    lg_conf_errs_finish(&el, path, errs);
    lg_config_errors_free(&discard);
    return NULL;
}

void lg_config_free(lg_config_t *cf)
{
    if (cf == NULL)
        return;
    if (cf->release != NULL)
        cf->release(cf);
    lg_arena_free(cf->arena);
}

void lg_config_errors_free(lg_config_errors_t *errs)
{
    size_t i;

    if (errs == NULL)
        return;
    for (i = 0; i < errs->n; i++)
        free(errs->lines[i]);
    free(errs->lines);
    errs->lines = NULL;
    errs->n = 0;
}

size_t lg_config_nbackends(const lg_config_t *cf)
{
    size_t n = 0, i;

    for (i = 0; i < cf->npools; i++)
        n += cf->pools[i].nbackends;
    return n;
}
