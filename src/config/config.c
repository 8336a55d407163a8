/*
 * config.c - the schema: walk the YAML node tree and fill an lg_config_t, defaults first.
 *
 * Every mapping with fixed keys is described by a table of conf_field_t (name, type, where the
 * value goes, its range); one walker reads any such mapping, so unknown keys, duplicate keys,
 * missing required keys and type errors are found the same way at every level. Named maps
 * (listeners, pools) go through conf_named(). Nothing stops at the first error: each check
 * reports and the walk goes on, so a user sees every problem of a file at once.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config-int.h"
#include "core/fmt.h"

#define LG_CONF_MAX_FIELDS  12  /* keys of the largest mapping */
#define LG_CONF_NAME_MAX    64  /* listener and pool names */
#define LG_CONF_PATH_MAX    256 /* "pools.app.health_check.timeout" in messages */
#define LG_CONF_QUOTE_MAX   64  /* bytes of a value quoted in a message */
#define LG_CONF_QUOTE_BUF   (LG_CONF_QUOTE_MAX * 4 + 16) /* escaped, quoted, "..." */
#define LG_CONF_SUGGEST_MAX 64   /* names compared for a "did you mean" hint */
#define LG_CONF_WORD_MAX    64   /* longest word compared for a hint */
#define LG_CONF_MSG_MAX     1024 /* one message, before the "PATH: " prefix */

#define LG_WORKERS_MAX 256
#define LG_WEIGHT_MAX  1000
#define LG_RETRIES_MAX 10
#define LG_CHECKS_MAX  100 /* rise, fall */
#define LG_IDLE_MAX    100000
#define LG_CONNS_MAX   1000000
#define LG_STATUS_MIN  100
#define LG_STATUS_MAX  599
#define LG_MSEC_SECOND UINT64_C(1000)
#define LG_MSEC_MINUTE (60 * LG_MSEC_SECOND)
#define LG_MSEC_HOUR   (60 * LG_MSEC_MINUTE)
#define LG_MSEC_DAY    (24 * LG_MSEC_HOUR)
#define LG_KIB         UINT64_C(1024)
#define LG_MIB         (1024 * LG_KIB)

typedef struct conf_ctx conf_ctx_t;
typedef struct conf_field conf_field_t;

/* Where a key of a fixed mapping was found: its key and value nodes, or NULLs when absent. */
typedef struct conf_seen {
    const lg_ynode_t *key;
    const lg_ynode_t *val;
} conf_seen_t;

/* A handler for a value that is more than a number, a duration, a size, a name or a string. */
typedef void (*conf_fn_t)(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *val, void *base,
                          const conf_field_t *f);

typedef enum conf_type {
    CONF_UINT = 0, /* unsigned, width 4 or 8, in [min, max] */
    CONF_DURATION, /* lg_msec_t in [min, max] */
    CONF_SIZE,     /* size_t or uint64_t in [min, max] */
    CONF_ENUM,     /* an enum: index of the value in `names` */
    CONF_STRING,   /* char *, non-empty, no control characters */
    CONF_ADDR,     /* lg_addr_t, parsed with the LG_ADDR_* flags in `aux` */
    CONF_SECTION,  /* a nested mapping of `sub` fields, same base */
    CONF_CUSTOM,   /* `fn` does it */
    CONF_LATER,    /* only recorded; the caller handles it after the walk */
} conf_type_t;

#define CONF_REQUIRED 0x1u

struct conf_field {
    const char *name;
    conf_type_t type;
    size_t off;   /* where the value goes, from the base the table is walked with */
    size_t width; /* sizeof that member */
    uint64_t min;
    uint64_t max;
    const char *const *names; /* CONF_ENUM, NULL-terminated, in enum order */
    const conf_field_t *sub;  /* CONF_SECTION */
    conf_fn_t fn;             /* CONF_CUSTOM */
    unsigned aux;             /* CONF_ADDR: LG_ADDR_* flags */
    unsigned flags;           /* CONF_REQUIRED */
};

/* An address written in the file, for the duplicate checks. */
typedef struct conf_addr_ref {
    const lg_addr_t *addr;
    const lg_ynode_t *node;
    const char *owner; /* listener name; NULL for admin and for backends */
} conf_addr_ref_t;

struct conf_ctx {
    lg_config_t *cf;
    lg_arena_t *arena;   /* the configuration's, freed with it */
    lg_arena_t *scratch; /* the tree's and temporary arrays, freed at the end of the load */
    lg_conf_errs_t *errs;
    char path[LG_CONF_PATH_MAX]; /* the key being read, "pools.app.backends[0]" */
    size_t plen;
    const lg_pool_conf_t **pools_by_name; /* sorted, for pool references */
    conf_addr_ref_t *listens;             /* every listen address, for duplicates */
    size_t nlistens;
    char quote[6][LG_CONF_QUOTE_BUF]; /* conf_q() and conf_owner() results, used in turn */
    unsigned qnext;
};

/*
 * Table rows. CONF_ROW: the value goes to member `m` of struct `st` (the base the table is walked
 * with) and must lie in [lo, hi] where a range applies; more designators may follow. CONF_FN: a
 * handler does the work. CONF_END closes a table.
 */
#define CONF_ROW(key, kind, st, m, lo, hi, ...)                                                    \
    {                                                                                              \
        .name = key, .type = kind, .off = offsetof(st, m), .width = sizeof(((st *)0)->m),          \
        .min = lo, .max = hi, __VA_ARGS__                                                          \
    }
#define CONF_FN(key, handler, ...)                                                                 \
    {                                                                                              \
        .name = key, .type = CONF_CUSTOM, .fn = handler, __VA_ARGS__                               \
    }
#define CONF_END                                                                                   \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* ---- messages */

/* `s` in double quotes, escaped and cut for a one-line message. Six results can be live. */
static const char *conf_q(conf_ctx_t *c, const char *s)
{
    char *out = c->quote[c->qnext++ % LG_NELEMS(c->quote)];
    size_t o = 0, i;

    out[o++] = '"';
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)s[i];

        /* Cut at a character boundary, and in any case before the buffer is full. */
        if ((i >= LG_CONF_QUOTE_MAX && (ch & 0xC0) != 0x80) || o + 8 >= LG_CONF_QUOTE_BUF) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7F) {
            o += (size_t)snprintf(out + o, 5, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static const char *conf_kind(const lg_ynode_t *n)
{
    if (n->kind == LG_YNODE_MAP)
        return "a mapping";
    if (n->kind == LG_YNODE_SEQ)
        return "a list";
    return n->is_null ? "nothing" : "a single value";
}

/* An error at node `at`; with `prefix`, the message starts with the key path ("pools.app: "). */
static void conf_verr(conf_ctx_t *c, const lg_ynode_t *at, int prefix, const char *fmt, va_list ap)
{
    char msg[LG_CONF_MSG_MAX];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (prefix && c->plen > 0)
        lg_conf_err_add(c->errs, at->line, at->col, "%s: %s", c->path, msg);
    else
        lg_conf_err_add(c->errs, at->line, at->col, "%s", msg);
}

__attribute__((format(printf, 3, 4))) static void conf_err(conf_ctx_t *c, const lg_ynode_t *at,
                                                           const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conf_verr(c, at, 0, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void conf_perr(conf_ctx_t *c, const lg_ynode_t *at,
                                                            const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conf_verr(c, at, 1, fmt, ap);
    va_end(ap);
}

/* Append ".name" (or "name" at the top, or "[i]" with name NULL) to the path; returns the mark. */
static size_t conf_path_push(conf_ctx_t *c, const char *name, size_t index)
{
    size_t mark = c->plen, room = sizeof(c->path) - c->plen, i;
    int r;

    if (name == NULL)
        r = snprintf(c->path + c->plen, room, "[%zu]", index);
    else
        r = snprintf(c->path + c->plen, room, "%s%.*s", c->plen ? "." : "", LG_CONF_NAME_MAX, name);
    if (r > 0)
        c->plen = LG_MIN(c->plen + (size_t)r, sizeof(c->path) - 1);
    /* Names from the file may be invalid (and reported); keep the path printable. */
    for (i = mark; i < c->plen; i++)
        if ((unsigned char)c->path[i] < 0x20 || c->path[i] == 0x7F)
            c->path[i] = '?';
    return mark;
}

static void conf_path_pop(conf_ctx_t *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

/* An error about key `name` of the mapping being read, at `at`, as "PATH.name: ...". */
__attribute__((format(printf, 4, 5))) static void
conf_key_err(conf_ctx_t *c, const lg_ynode_t *at, const char *name, const char *fmt, ...)
{
    size_t mark = conf_path_push(c, name, 0);
    va_list ap;

    va_start(ap, fmt);
    conf_verr(c, at, 1, fmt, ap);
    va_end(ap);
    conf_path_pop(c, mark);
}

/* ---- "did you mean": edit distance with transpositions, case-insensitive */

static size_t conf_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j, best;
    size_t d[LG_CONF_WORD_MAX + 1][LG_CONF_WORD_MAX + 1];

    if (la > LG_CONF_WORD_MAX || lb > LG_CONF_WORD_MAX)
        return SIZE_MAX;
    for (i = 0; i <= la; i++)
        d[i][0] = i;
    for (j = 0; j <= lb; j++)
        d[0][j] = j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);

            best = LG_MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);
            best = LG_MIN(best, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]))
                best = LG_MIN(best, d[i - 2][j - 2] + 1);
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* Keep `cand` in *best when it is closer to `word` than the best so far and close enough. */
static void conf_closest(const char *word, const char *cand, const char **best, size_t *bestd)
{
    size_t d = conf_distance(word, cand), limit = strlen(word) <= 3 ? 1 : 2;

    if (d <= limit && d < *bestd) {
        *best = cand;
        *bestd = d;
    }
}

/* ---- scalars */

/* `v` must be a non-empty scalar; otherwise say what was expected. */
static int conf_want_scalar(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                            const char *what)
{
    if (v == NULL || v->is_null) {
        conf_perr(c, key != NULL ? key : v, "missing value (expected %s)", what);
        return LG_ERR;
    }
    if (v->kind != LG_YNODE_SCALAR) {
        conf_perr(c, v, "expected %s, got %s", what, conf_kind(v));
        return LG_ERR;
    }
    return LG_OK;
}

static int conf_parse_uint(const char *s, uint64_t *out)
{
    uint64_t n = 0;

    if (*s == '\0')
        return LG_ERR;
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s) || n > (UINT64_MAX - 9) / 10)
            return LG_ERR;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *out = n;
    return LG_OK;
}

static void conf_fmt_duration(char *buf, size_t size, uint64_t ms)
{
    if (ms != 0 && ms % LG_MSEC_HOUR == 0)
        snprintf(buf, size, "%" PRIu64 "h", ms / LG_MSEC_HOUR);
    else if (ms != 0 && ms % LG_MSEC_MINUTE == 0)
        snprintf(buf, size, "%" PRIu64 "m", ms / LG_MSEC_MINUTE);
    else if (ms != 0 && ms % LG_MSEC_SECOND == 0)
        snprintf(buf, size, "%" PRIu64 "s", ms / LG_MSEC_SECOND);
    else
        snprintf(buf, size, "%" PRIu64 "ms", ms);
}

static void conf_fmt_size(char *buf, size_t size, uint64_t n)
{
    if (n != 0 && n % LG_MIB == 0)
        snprintf(buf, size, "%" PRIu64 "m", n / LG_MIB);
    else if (n != 0 && n % LG_KIB == 0)
        snprintf(buf, size, "%" PRIu64 "k", n / LG_KIB);
    else
        snprintf(buf, size, "%" PRIu64, n);
}

/* Store an unsigned value into a member of width 4 or 8. */
static void conf_store(void *base, const conf_field_t *f, uint64_t v)
{
    char *p = (char *)base + f->off;
    uint32_t v32 = (uint32_t)v;

    if (f->width == sizeof(v32))
        memcpy(p, &v32, sizeof(v32));
    else
        memcpy(p, &v, sizeof(v));
}

static void conf_store_ptr(void *base, size_t off, void *ptr)
{
    memcpy((char *)base + off, &ptr, sizeof(ptr));
}

/* A copy of the string value, or NULL (reported) when it is empty or holds control bytes. */
static char *conf_string(conf_ctx_t *c, const lg_ynode_t *v)
{
    size_t i;

    if (v->len == 0) {
        conf_perr(c, v, "must not be empty");
        return NULL;
    }
    for (i = 0; i < v->len; i++) {
        if ((unsigned char)v->str[i] < 0x20 || v->str[i] == 0x7F) {
            conf_perr(c, v, "must not contain control characters");
            return NULL;
        }
    }
    return lg_arena_strndup(c->arena, v->str, v->len);
}

/* A duration or a size in [f->min, f->max]. */
static void conf_amount(conf_ctx_t *c, const lg_ynode_t *v, void *base, const conf_field_t *f)
{
    int is_size = f->type == CONF_SIZE;
    char lo[32], hi[32];
    const char *why = NULL;
    uint64_t n;
    int rc;

    rc = is_size ? lg_parse_size(v->str, &n, &why) : lg_parse_duration(v->str, &n, &why);
    if (rc != LG_OK) {
        conf_perr(c, v, "invalid %s %s: %s", is_size ? "size" : "duration", conf_q(c, v->str), why);
        return;
    }
    if (n < f->min || n > f->max) {
        if (is_size) {
            conf_fmt_size(lo, sizeof(lo), f->min);
            conf_fmt_size(hi, sizeof(hi), f->max);
        } else {
            conf_fmt_duration(lo, sizeof(lo), f->min);
            conf_fmt_duration(hi, sizeof(hi), f->max);
        }
        conf_perr(c, v, "must be from %s to %s, got %s", lo, hi, conf_q(c, v->str));
        return;
    }
    conf_store(base, f, n);
}

#define LG_CONF_LIST_MORE ", ..."

/*
 * Append ", name" (or "name" first) to a list of choices for a message; a name that does not
 * fit ends the list with ", ..." instead (room for it is kept), never with a cut name.
 */
static void conf_list_add(char *list, size_t size, size_t *o, const char *name)
{
    size_t room = size - sizeof(LG_CONF_LIST_MORE);

    if (*o > room)
        return; /* already ended */
    if (lg_format_append(list, room, o, "%s%s", *o ? ", " : "", name) != LG_OK) {
        memcpy(list + *o, LG_CONF_LIST_MORE, sizeof(LG_CONF_LIST_MORE));
        *o = room + 1;
    }
}

/* "one of: a, b, c" for an enum, with a hint when the value is close to one of them. */
static void conf_bad_choice(conf_ctx_t *c, const lg_ynode_t *v, const char *const *names)
{
    char list[LG_CONF_MSG_MAX / 2];
    const char *best = NULL;
    size_t bestd = SIZE_MAX, o = 0, i;

    for (i = 0; names[i] != NULL; i++) {
        conf_closest(v->str, names[i], &best, &bestd);
        conf_list_add(list, sizeof(list), &o, names[i]);
    }
    if (best != NULL)
        conf_perr(c, v, "unknown value %s (did you mean \"%s\"?)", conf_q(c, v->str), best);
    else
        conf_perr(c, v, "unknown value %s (expected one of: %s)", conf_q(c, v->str), list);
}

static const char *conf_what(const conf_field_t *f)
{
    switch (f->type) {
    case CONF_UINT:
        return "a number";
    case CONF_DURATION:
        return "a duration such as 10s";
    case CONF_SIZE:
        return "a size such as 16k";
    case CONF_ENUM:
        return "a value";
    case CONF_ADDR:
        return "an address such as 127.0.0.1:8080";
    default:
        return "a string";
    }
}

static void conf_walk(conf_ctx_t *c, const lg_ynode_t *owner, const lg_ynode_t *map,
                      const conf_field_t *fields, void *base, conf_seen_t *seen);

/* Read value `v` of field `f` (key node `key`) into `base`. */
static void conf_field(conf_ctx_t *c, const conf_field_t *f, const lg_ynode_t *key,
                       const lg_ynode_t *v, void *base)
{
    conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const char *why = NULL;
    uint64_t n;
    size_t i;
    char *s;

    switch (f->type) {
    case CONF_SECTION:
        conf_walk(c, key, v, f->sub, base, seen);
        return;
    case CONF_CUSTOM:
        f->fn(c, key, v, base, f);
        return;
    case CONF_LATER:
        return;
    default:
        break;
    }
    if (conf_want_scalar(c, key, v, conf_what(f)) != LG_OK)
        return;
    switch (f->type) {
    case CONF_UINT:
        if (conf_parse_uint(v->str, &n) != LG_OK || n < f->min || n > f->max)
            conf_perr(c, v, "must be a whole number from %" PRIu64 " to %" PRIu64 ", got %s",
                      f->min, f->max, conf_q(c, v->str));
        else
            conf_store(base, f, n);
        break;
    case CONF_DURATION:
    case CONF_SIZE:
        conf_amount(c, v, base, f);
        break;
    case CONF_ENUM:
        for (i = 0; f->names[i] != NULL; i++)
            if (strcmp(v->str, f->names[i]) == 0)
                break;
        if (f->names[i] != NULL)
            conf_store(base, f, i);
        else
            conf_bad_choice(c, v, f->names);
        break;
    case CONF_STRING:
        s = conf_string(c, v);
        if (s != NULL)
            conf_store_ptr(base, f->off, s);
        break;
    case CONF_ADDR:
        if (lg_parse_addr(v->str, f->aux, (lg_addr_t *)((char *)base + f->off), &why) != LG_OK)
            conf_perr(c, v, "invalid address %s: %s", conf_q(c, v->str), why);
        break;
    default:
        break;
    }
}

/* A key must be a plain, non-empty string. */
static int conf_key_ok(conf_ctx_t *c, const lg_ynode_t *key)
{
    if (key->kind != LG_YNODE_SCALAR) {
        conf_err(c, key, "a key must be a plain string, not %s", conf_kind(key));
        return LG_ERR;
    }
    if (key->is_null || key->len == 0) {
        conf_err(c, key, "empty key");
        return LG_ERR;
    }
    return LG_OK;
}

static void conf_unknown_key(conf_ctx_t *c, const lg_ynode_t *key, const conf_field_t *fields)
{
    char list[LG_CONF_MSG_MAX / 2];
    const char *best = NULL;
    size_t bestd = SIZE_MAX, o = 0, i;

    for (i = 0; fields[i].name != NULL; i++) {
        conf_closest(key->str, fields[i].name, &best, &bestd);
        conf_list_add(list, sizeof(list), &o, fields[i].name);
    }
    if (best != NULL)
        conf_err(c, key, "unknown key %s (did you mean \"%s\"?)", conf_q(c, key->str), best);
    else
        conf_err(c, key, "unknown key %s (expected one of: %s)", conf_q(c, key->str), list);
}

/*
 * Read mapping `map` (the value of key `owner`, NULL at the top) with the field table `fields`
 * into `base`. A missing or null mapping counts as empty: every default stays. `seen` gets the
 * key and value of every field present, by field index.
 */
static void conf_walk(conf_ctx_t *c, const lg_ynode_t *owner, const lg_ynode_t *map,
                      const conf_field_t *fields, void *base, conf_seen_t *seen)
{
    const lg_ynode_t *key, *val;
    size_t i, k, mark;

    memset(seen, 0, LG_CONF_MAX_FIELDS * sizeof(*seen));
    if (map != NULL && !map->is_null && map->kind != LG_YNODE_MAP) {
        conf_perr(c, map, "expected a mapping, got %s", conf_kind(map));
        return;
    }
    for (i = 0; map != NULL && i + 1 < map->nkids; i += 2) {
        key = map->kids[i];
        val = map->kids[i + 1];
        if (key->is_alias || conf_key_ok(c, key) != LG_OK)
            continue;
        for (k = 0; fields[k].name != NULL; k++)
            if (strcmp(key->str, fields[k].name) == 0)
                break;
        if (fields[k].name == NULL) {
            conf_unknown_key(c, key, fields);
            continue;
        }
        if (seen[k].key != NULL) {
            conf_err(c, key, "duplicate key %s (first at line %u)", conf_q(c, key->str),
                     seen[k].key->line);
            continue;
        }
        seen[k] = (conf_seen_t){key, val};
        if (val->is_alias)
            continue;
        mark = conf_path_push(c, fields[k].name, 0);
        conf_field(c, &fields[k], key, val, base);
        conf_path_pop(c, mark);
    }
    for (k = 0; fields[k].name != NULL; k++)
        if ((fields[k].flags & CONF_REQUIRED) && seen[k].key == NULL)
            conf_perr(c, owner != NULL ? owner : map, "missing required key \"%s\"",
                      fields[k].name);
}

/*
 * `v` (the value of `key`) must be a list or mapping (`kind`) with at least one entry: else
 * report `empty` (at the value, or at the key when the value is missing) or "expected WHAT".
 */
static int conf_want_items(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                           lg_ynode_kind_t kind, const char *empty, const char *what)
{
    if (v == NULL || v->is_null || (v->kind == kind && v->nkids == 0)) {
        conf_perr(c, v != NULL && !v->is_null ? v : key, "%s", empty);
        return LG_ERR;
    }
    if (v->kind != kind) {
        conf_perr(c, v, "expected %s, got %s", what, conf_kind(v));
        return LG_ERR;
    }
    return LG_OK;
}

/* The seen entry of field `name`, or NULL when the key was absent. */
static const conf_seen_t *conf_seen(const conf_field_t *fields, const conf_seen_t *seen,
                                    const char *name)
{
    size_t k;

    for (k = 0; fields[k].name != NULL; k++)
        if (strcmp(fields[k].name, name) == 0)
            return seen[k].key != NULL ? &seen[k] : NULL;
    return NULL;
}

/* The value of the first key `name` of mapping `map`, or NULL. */
static const lg_ynode_t *conf_map_get(const lg_ynode_t *map, const char *name)
{
    size_t i;

    for (i = 0; map->kind == LG_YNODE_MAP && i + 1 < map->nkids; i += 2)
        if (map->kids[i]->kind == LG_YNODE_SCALAR && strcmp(map->kids[i]->str, name) == 0)
            return map->kids[i + 1];
    return NULL;
}

/* ---- duplicates */

typedef struct conf_name_ref {
    const lg_ynode_t *key;
    size_t index;
} conf_name_ref_t;

static int conf_name_cmp(const void *pa, const void *pb)
{
    const conf_name_ref_t *a = pa, *b = pb;
    int r = strcmp(a->key->str, b->key->str);

    if (r != 0)
        return r;
    return a->index < b->index ? -1 : a->index > b->index;
}

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
    const conf_addr_ref_t *a = pa, *b = pb;
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
static const char *conf_owner(conf_ctx_t *c, const conf_addr_ref_t *r, int path)
{
    char *out = c->quote[c->qnext++ % LG_NELEMS(c->quote)];
    size_t size = sizeof(c->quote[0]), i;

    if (r->owner == NULL)
        return path ? "admin.listen" : "the admin listener";
    if (!path) {
        snprintf(out, size, "listener %s", conf_q(c, r->owner));
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
static void conf_check_listens(conf_ctx_t *c)
{
    conf_addr_ref_t *v = c->listens;
    size_t g, e, i, run, n = c->nlistens;
    const conf_addr_ref_t *first, *wild, *other;

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
                conf_err(c, v[i].node, "%s: address %s is already used by %s (line %u)",
                         conf_owner(c, &v[i], 1), v[i].addr->text, conf_owner(c, other, 0),
                         other->node->line);
            else
                conf_err(c, v[i].node, "%s: address %s overlaps %s of %s (line %u)",
                         conf_owner(c, &v[i], 1), v[i].addr->text, other->addr->text,
                         conf_owner(c, other, 0), other->node->line);
        }
    }
}

static int conf_backend_ref_cmp(const void *pa, const void *pb)
{
    const conf_addr_ref_t *a = pa, *b = pb;
    int r = conf_addr_cmp(a->addr, b->addr);

    if (r != 0)
        return r;
    return conf_before(a->node, b->node) ? -1 : conf_before(b->node, a->node);
}

/* ---- custom values */

static void conf_workers(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                         const conf_field_t *f)
{
    lg_config_t *cf = base;
    uint64_t n;

    LG_UNUSED(f);
    if (conf_want_scalar(c, key, v, "a number or \"auto\"") != LG_OK)
        return;
    if (strcmp(v->str, "auto") == 0)
        return; /* the default */
    if (conf_parse_uint(v->str, &n) != LG_OK || n < 1 || n > LG_WORKERS_MAX) {
        conf_perr(c, v, "must be a whole number from 1 to %d or \"auto\", got %s", LG_WORKERS_MAX,
                  conf_q(c, v->str));
        return;
    }
    cf->workers = (unsigned)n;
}

static void conf_log_access(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                            const conf_field_t *f)
{
    lg_config_t *cf = base;

    LG_UNUSED(f);
    if (conf_want_scalar(c, key, v, "stdout, off or a file path") != LG_OK)
        return;
    cf->log.access = strcmp(v->str, "off") == 0 ? NULL : conf_string(c, v);
}

/* A URL path: starts with "/", no spaces or control characters. */
static void conf_url_path(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                          const conf_field_t *f)
{
    size_t i;

    if (conf_want_scalar(c, key, v, "a path starting with \"/\"") != LG_OK)
        return;
    if (v->str[0] != '/') {
        conf_perr(c, v, "must start with \"/\", got %s", conf_q(c, v->str));
        return;
    }
    for (i = 0; i < v->len; i++) {
        if ((unsigned char)v->str[i] <= ' ' || v->str[i] == 0x7F) {
            conf_perr(c, v, "must not contain spaces or control characters, got %s",
                      conf_q(c, v->str));
            return;
        }
    }
    conf_store_ptr(base, f->off, lg_arena_strndup(c->arena, v->str, v->len));
}

/* A Host to match: an exact name or "*.suffix", stored lower-case. */
static void conf_route_host(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                            const conf_field_t *f)
{
    lg_route_conf_t *r = base;
    const char *name;
    struct in_addr ip;
    size_t i;
    char *s;

    LG_UNUSED(f);
    if (conf_want_scalar(c, key, v, "a host name such as api.example.com") != LG_OK)
        return;
    r->host_wildcard = strncmp(v->str, "*.", 2) == 0;
    name = v->str + (r->host_wildcard ? 2 : 0);
    if (strchr(v->str, ':') != NULL) {
        conf_perr(c, v, "invalid host %s: leave out the port (the host alone is matched)",
                  conf_q(c, v->str));
        return;
    }
    if (!lg_conf_valid_hostname(name, strlen(name)) &&
        (r->host_wildcard || inet_pton(AF_INET, name, &ip) != 1)) {
        conf_perr(c, v,
                  "invalid host %s: expected a name such as api.example.com or "
                  "*.example.com",
                  conf_q(c, v->str));
        return;
    }
    s = lg_arena_strndup(c->arena, v->str, v->len);
    for (i = 0; s != NULL && s[i] != '\0'; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    r->host = s;
}

static int conf_pool_cmp(const void *pa, const void *pb)
{
    const lg_pool_conf_t *const *a = pa, *const *b = pb;

    return strcmp((*a)->name, (*b)->name);
}

/* A reference to a pool by name: stored as its index into cf->pools. */
static void conf_pool_ref(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                          const conf_field_t *f)
{
    lg_pool_conf_t probe = {.name = NULL}, *pp = &probe;
    const lg_pool_conf_t **found;
    const char *best = NULL;
    size_t bestd = SIZE_MAX, i, index;

    if (conf_want_scalar(c, key, v, "a pool name") != LG_OK)
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
        conf_closest(v->str, c->cf->pools[i].name, &best, &bestd);
    if (best != NULL)
        conf_perr(c, v, "unknown pool %s (did you mean \"%s\"?)", conf_q(c, v->str), best);
    else
        conf_perr(c, v, "unknown pool %s", conf_q(c, v->str));
}

/* An RFC 9110 token: a header or cookie name. */
static int conf_is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return 0;
    return 1;
}

static void conf_hash_key(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                          const conf_field_t *f)
{
    static const struct {
        const char *prefix;
        lg_hash_key_t key;
    } kinds[] = {{"header:", LG_HASH_HEADER}, {"cookie:", LG_HASH_COOKIE}};
    lg_pool_conf_t *p = base;
    size_t i, plen;

    LG_UNUSED(f);
    if (conf_want_scalar(c, key, v, "client_ip, uri, header:NAME or cookie:NAME") != LG_OK)
        return;
    if (strcmp(v->str, "client_ip") == 0) {
        p->hash_key = LG_HASH_CLIENT_IP;
        return;
    }
    if (strcmp(v->str, "uri") == 0) {
        p->hash_key = LG_HASH_URI;
        return;
    }
    for (i = 0; i < LG_NELEMS(kinds); i++) {
        plen = strlen(kinds[i].prefix);
        if (strncmp(v->str, kinds[i].prefix, plen) != 0)
            continue;
        if (!conf_is_token(v->str + plen)) {
            conf_perr(c, v, "invalid %.*s name %s", (int)plen - 1, kinds[i].prefix,
                      conf_q(c, v->str + plen));
            return;
        }
        p->hash_key = kinds[i].key;
        p->hash_key_name = lg_arena_strndup(c->arena, v->str + plen, v->len - plen);
        return;
    }
    conf_perr(c, v, "unknown value %s (expected client_ip, uri, header:NAME or cookie:NAME)",
              conf_q(c, v->str));
}

static int conf_parse_status(const char *s, const char **end, unsigned *out)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < 3 && isdigit((unsigned char)s[i]); i++)
        n = n * 10 + (unsigned)(s[i] - '0');
    if (i != 3 || isdigit((unsigned char)s[i]) || n < LG_STATUS_MIN || n > LG_STATUS_MAX)
        return LG_ERR;
    *out = n;
    *end = s + i;
    return LG_OK;
}

/* "200" or "200-399". */
static void conf_expect_status(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                               void *base, const conf_field_t *f)
{
    lg_health_check_conf_t *hc = base;
    unsigned lo, hi;
    const char *end;

    LG_UNUSED(f);
    if (conf_want_scalar(c, key, v, "a status such as 200 or a range such as 200-399") != LG_OK)
        return;
    if (conf_parse_status(v->str, &end, &lo) != LG_OK)
        goto bad;
    hi = lo;
    if (*end == '-' && conf_parse_status(end + 1, &end, &hi) != LG_OK)
        goto bad;
    if (*end != '\0')
        goto bad;
    if (lo > hi) {
        conf_perr(c, v, "empty status range %s: the first code must not be above the second",
                  conf_q(c, v->str));
        return;
    }
    hc->expect_min = lo;
    hc->expect_max = hi;
    return;

bad:
    conf_perr(c, v,
              "invalid status %s: expected a code from 100 to 599 such as 200, or a "
              "range such as 200-399",
              conf_q(c, v->str));
}

static const char *const conf_check_types[] = {"tcp", "http", "none", NULL};

static const conf_field_t conf_check_fields[] = {
    CONF_ROW("type", CONF_ENUM, lg_health_check_conf_t, type, 0, 0, .names = conf_check_types),
    CONF_ROW("path", CONF_CUSTOM, lg_health_check_conf_t, path, 0, 0, .fn = conf_url_path),
    CONF_ROW("host", CONF_STRING, lg_health_check_conf_t, host, 0, 0),
    CONF_FN("expect_status", conf_expect_status),
    CONF_ROW("interval", CONF_DURATION, lg_health_check_conf_t, interval, 10, LG_MSEC_HOUR),
    CONF_ROW("timeout", CONF_DURATION, lg_health_check_conf_t, timeout, 1, LG_MSEC_HOUR),
    CONF_ROW("rise", CONF_UINT, lg_health_check_conf_t, rise, 1, LG_CHECKS_MAX),
    CONF_ROW("fall", CONF_UINT, lg_health_check_conf_t, fall, 1, LG_CHECKS_MAX),
    CONF_END,
};

static void conf_health_check(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                              const conf_field_t *f)
{
    static const char *const http_only[] = {"path", "host", "expect_status"};
    lg_health_check_conf_t *hc = &((lg_pool_conf_t *)base)->health_check;
    conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const conf_seen_t *s;
    char t[32], iv[32];
    size_t i;

    LG_UNUSED(f);
    conf_walk(c, key, v, conf_check_fields, hc, seen);
    for (i = 0; hc->type != LG_CHECK_HTTP && i < LG_NELEMS(http_only); i++) {
        s = conf_seen(conf_check_fields, seen, http_only[i]);
        if (s != NULL)
            conf_key_err(c, s->key, http_only[i], "only used with \"type: http\"");
    }
    /* A timeout nobody wrote never makes a short interval invalid: it is min(1s, interval). */
    s = conf_seen(conf_check_fields, seen, "timeout");
    if (s == NULL || s->val->is_alias) {
        hc->timeout = LG_MIN(hc->timeout, hc->interval);
    } else if (hc->timeout > hc->interval) {
        conf_fmt_duration(t, sizeof(t), hc->timeout);
        conf_fmt_duration(iv, sizeof(iv), hc->interval);
        conf_key_err(c, s->val, "timeout",
                     "the timeout (%s) must not be longer than the interval (%s)", t, iv);
    }
}

/* ---- pools */

static const conf_field_t conf_backend_fields[] = {
    CONF_ROW("address", CONF_ADDR, lg_backend_conf_t, addr, 0, 0, .aux = LG_ADDR_HOSTNAME,
             .flags = CONF_REQUIRED),
    CONF_ROW("weight", CONF_UINT, lg_backend_conf_t, weight, 1, LG_WEIGHT_MAX),
    CONF_END,
};

/* A list of backends: "ADDRESS" or {address: ADDRESS, weight: N}; no address twice. */
static void conf_backends(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                          const conf_field_t *f)
{
    static const conf_field_t addr_only =
        CONF_ROW("address", CONF_ADDR, lg_backend_conf_t, addr, 0, 0, .aux = LG_ADDR_HOSTNAME);
    conf_seen_t seen[LG_CONF_MAX_FIELDS];
    lg_pool_conf_t *p = base;
    conf_addr_ref_t *refs;
    const conf_seen_t *s;
    lg_backend_conf_t *be;
    const lg_ynode_t *item;
    size_t i, n = 0, mark, first;

    LG_UNUSED(f);
    if (conf_want_items(c, key, v, LG_YNODE_SEQ, "a pool needs at least one backend",
                        "a list of backends") != LG_OK)
        return;
    p->backends = lg_arena_calloc(c->arena, v->nkids, sizeof(*p->backends));
    refs = lg_arena_calloc(c->scratch, v->nkids, sizeof(*refs));
    if (p->backends == NULL || refs == NULL)
        return;
    for (i = 0; i < v->nkids; i++) {
        item = v->kids[i];
        be = &p->backends[i];
        be->weight = 1;
        be->pos = (lg_conf_pos_t){item->line, item->col};
        if (item->is_alias)
            continue;
        mark = conf_path_push(c, NULL, i);
        if (item->kind == LG_YNODE_MAP) {
            conf_walk(c, item, item, conf_backend_fields, be, seen);
            s = conf_seen(conf_backend_fields, seen, "address");
        } else {
            conf_field(c, &addr_only, item, item, be);
            s = NULL;
        }
        conf_path_pop(c, mark);
        if (be->addr.text[0] == '\0')
            continue;
        refs[n] = (conf_addr_ref_t){&be->addr, s != NULL ? s->val : item, NULL};
        be->addr_pos = (lg_conf_pos_t){refs[n].node->line, refs[n].node->col};
        n++;
    }
    p->nbackends = v->nkids;
    qsort(refs, n, sizeof(*refs), conf_backend_ref_cmp);
    for (i = 1, first = 0; i < n; i++) {
        if (conf_addr_cmp(refs[first].addr, refs[i].addr) != 0)
            first = i;
        else
            conf_perr(c, refs[i].node, "duplicate backend %s (first at line %u)",
                      refs[i].addr->text, refs[first].node->line);
    }
}

static const char *const conf_balances[] = {"round_robin", "weighted", "least_conn",
                                            "p2c",         "hash",     NULL};

static const conf_field_t conf_keepalive_fields[] = {
    CONF_ROW("max_idle", CONF_UINT, lg_pool_conf_t, keepalive_max_idle, 0, LG_IDLE_MAX),
    CONF_END,
};

static const conf_field_t conf_pool_fields[] = {
    CONF_ROW("balance", CONF_ENUM, lg_pool_conf_t, balance, 0, 0, .names = conf_balances),
    CONF_FN("hash_key", conf_hash_key),
    CONF_FN("backends", conf_backends, .flags = CONF_REQUIRED),
    CONF_ROW("resolve_interval", CONF_DURATION, lg_pool_conf_t, resolve_interval, LG_MSEC_SECOND,
             LG_MSEC_DAY),
    CONF_FN("health_check", conf_health_check),
    {.name = "keepalive", .type = CONF_SECTION, .sub = conf_keepalive_fields},
    CONF_ROW("retries", CONF_UINT, lg_pool_conf_t, retries, 0, LG_RETRIES_MAX),
    CONF_END,
};

static void conf_pool(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *elem)
{
    lg_pool_conf_t *p = elem;
    conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const conf_seen_t *s;

    p->balance = LG_BALANCE_ROUND_ROBIN;
    p->hash_key = LG_HASH_CLIENT_IP;
    p->resolve_interval = 5 * LG_MSEC_SECOND;
    p->health_check = (lg_health_check_conf_t){
        .type = LG_CHECK_HTTP,
        .path = lg_arena_strndup(c->arena, "/healthz", strlen("/healthz")),
        .expect_min = 200,
        .expect_max = 399,
        .interval = 2 * LG_MSEC_SECOND,
        .timeout = LG_MSEC_SECOND,
        .rise = 2,
        .fall = 3,
    };
    p->keepalive_max_idle = 64;
    p->retries = 1;
    conf_walk(c, key, v, conf_pool_fields, p, seen);
    s = conf_seen(conf_pool_fields, seen, "hash_key");
    if (s != NULL && p->balance != LG_BALANCE_HASH)
        conf_key_err(c, s->key, "hash_key", "only used with \"balance: hash\"");
}

/* ---- listeners */

static void conf_routes(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                        const conf_field_t *f);

static const char *const conf_modes[] = {"http", "tcp", NULL};

static const conf_field_t conf_listener_fields[] = {
    CONF_ROW("listen", CONF_ADDR, lg_listener_conf_t, addr, 0, 0,
             .aux = LG_ADDR_PORT0 | LG_ADDR_ANYHOST, .flags = CONF_REQUIRED),
    CONF_ROW("mode", CONF_ENUM, lg_listener_conf_t, mode, 0, 0, .names = conf_modes),
    CONF_FN("routes", conf_routes),
    CONF_ROW("pool", CONF_CUSTOM, lg_listener_conf_t, pool, 0, 0, .fn = conf_pool_ref),
    CONF_END,
};

static const conf_field_t conf_route_fields[] = {
    CONF_FN("host", conf_route_host),
    CONF_ROW("path_prefix", CONF_CUSTOM, lg_route_conf_t, path_prefix, 0, 0, .fn = conf_url_path),
    CONF_ROW("pool", CONF_CUSTOM, lg_route_conf_t, pool, 0, 0, .fn = conf_pool_ref,
             .flags = CONF_REQUIRED),
    CONF_END,
};

static void conf_routes(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                        const conf_field_t *f)
{
    conf_seen_t seen[LG_CONF_MAX_FIELDS];
    lg_listener_conf_t *l = base;
    const lg_ynode_t *item;
    size_t i, mark;

    LG_UNUSED(f);
    if (conf_want_items(c, key, v, LG_YNODE_SEQ, "needs at least one route", "a list of routes") !=
        LG_OK)
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
        mark = conf_path_push(c, NULL, i);
        conf_walk(c, item, item, conf_route_fields, &l->routes[i], seen);
        conf_path_pop(c, mark);
    }
}

static void conf_listener(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *elem)
{
    lg_listener_conf_t *l = elem;
    conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const conf_seen_t *routes, *pool, *listen;

    conf_walk(c, key, v, conf_listener_fields, l, seen);
    routes = conf_seen(conf_listener_fields, seen, "routes");
    pool = conf_seen(conf_listener_fields, seen, "pool");
    listen = conf_seen(conf_listener_fields, seen, "listen");
    if (l->mode == LG_MODE_HTTP) {
        if (pool != NULL)
            conf_key_err(c, pool->key, "pool",
                         "only used with \"mode: tcp\" (http listeners use \"routes\")");
        if (routes == NULL)
            conf_perr(c, key, "missing required key \"routes\"");
    } else {
        if (routes != NULL)
            conf_key_err(c, routes->key, "routes",
                         "not used with \"mode: tcp\" (a tcp listener has one \"pool\")");
        if (pool == NULL)
            conf_perr(c, key, "missing required key \"pool\" (mode: tcp)");
    }
    if (listen != NULL)
        l->listen_pos = (lg_conf_pos_t){listen->val->line, listen->val->col};
    if (listen != NULL && l->addr.text[0] != '\0')
        c->listens[c->nlistens++] = (conf_addr_ref_t){&l->addr, listen->val, l->name};
}

/* ---- named maps: listeners and pools */

typedef void (*conf_elem_fn_t)(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                               void *elem);

/* What a named map holds: element size, where the name and position go, how to read one. */
typedef struct conf_named_desc {
    const char *what;
    const char *empty;    /* the message when there is none */
    const char *expected; /* what the value must be */
    size_t esize;
    size_t name_off;
    size_t pos_off;
    conf_elem_fn_t each;
} conf_named_desc_t;

static const conf_named_desc_t conf_pools_desc = {"pool",
                                                  "at least one pool is needed",
                                                  "a mapping of names to pools",
                                                  sizeof(lg_pool_conf_t),
                                                  offsetof(lg_pool_conf_t, name),
                                                  offsetof(lg_pool_conf_t, pos),
                                                  conf_pool};

static const conf_named_desc_t conf_listeners_desc = {"listener",
                                                      "at least one listener is needed",
                                                      "a mapping of names to listeners",
                                                      sizeof(lg_listener_conf_t),
                                                      offsetof(lg_listener_conf_t, name),
                                                      offsetof(lg_listener_conf_t, pos),
                                                      conf_listener};

/* Report a name that is not "letters, digits, '_', '-' and '.'" (the element is still read). */
static void conf_check_name(conf_ctx_t *c, const lg_ynode_t *key)
{
    size_t i;

    for (i = 0; i < key->len; i++)
        if (!isalnum((unsigned char)key->str[i]) && strchr("_-.", key->str[i]) == NULL)
            break;
    if (i < key->len || key->len > LG_CONF_NAME_MAX)
        conf_err(c, key, "invalid name %s: use up to %d letters, digits, '_', '-' and '.'",
                 conf_q(c, key->str), LG_CONF_NAME_MAX);
}

/*
 * A mapping of names to elements described by `d`; each element gets its name and position, then
 * d->each reads it. A name used twice is reported and its second element skipped. Returns the
 * array (in file order) and its length.
 */
static void *conf_named(conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                        const conf_named_desc_t *d, size_t *count)
{
    size_t npairs, i, first, mark, n = 0;
    lg_conf_pos_t pos;
    conf_name_ref_t *refs;
    char *elems, *elem, *name;
    int *dup;

    *count = 0;
    if (conf_want_items(c, key, v, LG_YNODE_MAP, d->empty, d->expected) != LG_OK)
        return NULL;
    npairs = v->nkids / 2;
    elems = lg_arena_calloc(c->arena, npairs, d->esize);
    refs = lg_arena_calloc(c->scratch, npairs, sizeof(*refs));
    dup = lg_arena_calloc(c->scratch, npairs, sizeof(*dup));
    if (elems == NULL || refs == NULL || dup == NULL)
        return NULL;
    /* Sort the names to find the ones used twice without comparing every pair. */
    for (i = 0; i < npairs; i++)
        refs[i] = (conf_name_ref_t){v->kids[2 * i], i};
    qsort(refs, npairs, sizeof(*refs), conf_name_cmp);
    for (i = 1, first = 0; i < npairs; i++) {
        if (strcmp(refs[i].key->str, refs[first].key->str) != 0 ||
            refs[i].key->kind != LG_YNODE_SCALAR || refs[i].key->is_null) {
            first = i;
            continue;
        }
        conf_err(c, refs[i].key, "duplicate %s name %s (first at line %u)", d->what,
                 conf_q(c, refs[i].key->str), refs[first].key->line);
        dup[refs[i].index] = 1;
    }
    for (i = 0; i < npairs; i++) {
        const lg_ynode_t *k = v->kids[2 * i];

        if (dup[i] || k->is_alias || conf_key_ok(c, k) != LG_OK)
            continue;
        conf_check_name(c, k);
        elem = elems + n * d->esize;
        name = lg_arena_strndup(c->arena, k->str, k->len);
        pos = (lg_conf_pos_t){k->line, k->col};
        conf_store_ptr(elem, d->name_off, name);
        memcpy(elem + d->pos_off, &pos, sizeof(pos));
        mark = conf_path_push(c, k->str, 0);
        if (!v->kids[2 * i + 1]->is_alias)
            d->each(c, k, v->kids[2 * i + 1], elem);
        conf_path_pop(c, mark);
        n++;
    }
    *count = n;
    return elems;
}

/* ---- the top level */

static const char *const conf_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const conf_formats[] = {"combined", "json", NULL};

static const conf_field_t conf_log_fields[] = {
    CONF_ROW("level", CONF_ENUM, lg_config_t, log.level, 0, 0, .names = conf_levels),
    CONF_ROW("error", CONF_STRING, lg_config_t, log.error, 0, 0),
    CONF_FN("access", conf_log_access),
    CONF_ROW("access_format", CONF_ENUM, lg_config_t, log.format, 0, 0, .names = conf_formats),
    CONF_END,
};

static const conf_field_t conf_admin_fields[] = {
    CONF_ROW("listen", CONF_ADDR, lg_config_t, admin.addr, 0, 0,
             .aux = LG_ADDR_PORT0 | LG_ADDR_ANYHOST),
    CONF_END,
};

#define CONF_TIMEOUT(key, lo)                                                                      \
    CONF_ROW(#key, CONF_DURATION, lg_config_t, timeouts.key, lo, LG_MSEC_DAY)

static const conf_field_t conf_timeout_fields[] = {
    CONF_TIMEOUT(client_header, 1),
    CONF_TIMEOUT(client_body, 1),
    CONF_TIMEOUT(client_idle, 1),
    CONF_TIMEOUT(connect, 1),
    CONF_TIMEOUT(upstream_response, 1),
    CONF_TIMEOUT(upstream_idle, 1),
    CONF_TIMEOUT(drain, 0),
    CONF_END,
};

static const conf_field_t conf_limit_fields[] = {
    CONF_ROW("max_connections", CONF_UINT, lg_config_t, limits.max_connections, 1, LG_CONNS_MAX),
    CONF_ROW("max_header_size", CONF_SIZE, lg_config_t, limits.max_header_size, LG_KIB, LG_MIB),
    CONF_ROW("max_body_size", CONF_SIZE, lg_config_t, limits.max_body_size, 0, UINT64_MAX),
    CONF_END,
};

static const conf_field_t conf_root_fields[] = {
    CONF_FN("workers", conf_workers),
    CONF_ROW("pid_file", CONF_STRING, lg_config_t, pid_file, 0, 0),
    CONF_ROW("resolver", CONF_ADDR, lg_config_t, resolver, 0, 0),
    {.name = "log", .type = CONF_SECTION, .sub = conf_log_fields},
    {.name = "admin", .type = CONF_SECTION, .sub = conf_admin_fields},
    {.name = "timeouts", .type = CONF_SECTION, .sub = conf_timeout_fields},
    {.name = "limits", .type = CONF_SECTION, .sub = conf_limit_fields},
    {.name = "listeners", .type = CONF_LATER, .flags = CONF_REQUIRED},
    {.name = "pools", .type = CONF_LATER, .flags = CONF_REQUIRED},
    CONF_END,
};

/* conf_walk() keeps what it saw in an array of LG_CONF_MAX_FIELDS per table. */
#define CONF_FITS(table)                                                                           \
    _Static_assert(LG_NELEMS(table) - 1 <= LG_CONF_MAX_FIELDS, #table " has too many keys")
CONF_FITS(conf_root_fields);
CONF_FITS(conf_log_fields);
CONF_FITS(conf_admin_fields);
CONF_FITS(conf_timeout_fields);
CONF_FITS(conf_limit_fields);
CONF_FITS(conf_listener_fields);
CONF_FITS(conf_route_fields);
CONF_FITS(conf_pool_fields);
CONF_FITS(conf_backend_fields);
CONF_FITS(conf_check_fields);
CONF_FITS(conf_keepalive_fields);

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

static void conf_defaults(conf_ctx_t *c)
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
    cf->timeouts.drain = 30 * LG_MSEC_SECOND;
    cf->limits.max_connections = 10000;
    cf->limits.max_header_size = 16 * LG_KIB;
    cf->limits.max_body_size = 0;
}

static void conf_root(conf_ctx_t *c, const lg_ynode_t *root)
{
    conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const conf_seen_t *pools, *listeners;
    lg_config_t *cf = c->cf;
    size_t i, mark, npairs;

    if (root->is_alias)
        return;
    if (root->is_null) {
        lg_conf_err_add(c->errs, 0, 0, "empty configuration");
        return;
    }
    if (root->kind != LG_YNODE_MAP) {
        conf_err(c, root,
                 "the top level must be a mapping (keys such as listeners and pools), "
                 "got %s",
                 conf_kind(root));
        return;
    }
    conf_defaults(c);
    conf_walk(c, NULL, root, conf_root_fields, cf, seen);
    cf->admin.enabled = cf->admin.addr.text[0] != '\0';

    pools = conf_seen(conf_root_fields, seen, "pools");
    if (pools != NULL && !pools->val->is_alias) {
        mark = conf_path_push(c, "pools", 0);
        cf->pools = conf_named(c, pools->key, pools->val, &conf_pools_desc, &cf->npools);
        conf_path_pop(c, mark);
        c->pools_by_name = lg_arena_calloc(c->scratch, cf->npools + 1, sizeof(*c->pools_by_name));
        for (i = 0; c->pools_by_name != NULL && i < cf->npools; i++)
            c->pools_by_name[i] = &cf->pools[i];
        if (c->pools_by_name != NULL)
            qsort(c->pools_by_name, cf->npools, sizeof(*c->pools_by_name), conf_pool_cmp);
    }
    listeners = conf_seen(conf_root_fields, seen, "listeners");
    if (listeners != NULL && !listeners->val->is_alias) {
        npairs = listeners->val->kind == LG_YNODE_MAP ? listeners->val->nkids / 2 : 0;
        c->listens = lg_arena_calloc(c->scratch, npairs + 1, sizeof(*c->listens));
        if (c->listens == NULL)
            return;
        mark = conf_path_push(c, "listeners", 0);
        cf->listeners =
            conf_named(c, listeners->key, listeners->val, &conf_listeners_desc, &cf->nlisteners);
        conf_path_pop(c, mark);
        if (cf->admin.enabled)
            c->listens[c->nlistens++] = (conf_addr_ref_t){
                &cf->admin.addr,
                conf_map_get(conf_seen(conf_root_fields, seen, "admin")->val, "listen"), NULL};
        conf_check_listens(c);
    }
}

/* ---- public API */

lg_config_t *lg_config_load(const char *path, lg_config_errors_t *errs)
{
    lg_config_errors_t discard = {0};
    lg_conf_errs_t el = {0};
    conf_ctx_t c = {.errs = &el};
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
    if (cf != NULL)
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
