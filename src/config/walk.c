/*
 * walk.c - the generic schema walker and its messages: apply a table of lg_conf_field_t to a
 * YAML mapping (types, ranges, unknown keys with a "did you mean" hint, duplicate and missing
 * keys), read named maps (listeners, pools) and word every error with its key path. Nothing stops
 * at the first error: each check reports and the walk goes on, so a user sees every problem of a
 * file at once.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-int.h"
#include "core/fmt.h"

#define LG_CONF_WORD_MAX 64   /* longest word compared for a hint */
#define LG_CONF_MSG_MAX  1024 /* one message, before the "PATH: " prefix */

/* ---- messages */

/* `s` in double quotes, escaped and cut for a one-line message. Six results can be live. */
const char *lg_conf_q(lg_conf_ctx_t *c, const char *s)
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

const char *lg_conf_kind(const lg_ynode_t *n)
{
    if (n->kind == LG_YNODE_MAP)
        return "a mapping";
    if (n->kind == LG_YNODE_SEQ)
        return "a list";
    return n->is_null ? "nothing" : "a single value";
}

/* An error at node `at`; with `prefix`, the message starts with the key path ("pools.app: "). */
static void conf_verr(lg_conf_ctx_t *c, const lg_ynode_t *at, int prefix, const char *fmt,
                      va_list ap)
{
    char msg[LG_CONF_MSG_MAX];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (prefix && c->plen > 0)
        lg_conf_err_add(c->errs, at->line, at->col, "%s: %s", c->path, msg);
    else
        lg_conf_err_add(c->errs, at->line, at->col, "%s", msg);
}

void lg_conf_err(lg_conf_ctx_t *c, const lg_ynode_t *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conf_verr(c, at, 0, fmt, ap);
    va_end(ap);
}

void lg_conf_perr(lg_conf_ctx_t *c, const lg_ynode_t *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conf_verr(c, at, 1, fmt, ap);
    va_end(ap);
}

/* Append ".name" (or "name" at the top, or "[i]" with name NULL) to the path; returns the mark. */
size_t lg_conf_path_push(lg_conf_ctx_t *c, const char *name, size_t index)
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

void lg_conf_path_pop(lg_conf_ctx_t *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

/* An error about key `name` of the mapping being read, at `at`, as "PATH.name: ...". */
void lg_conf_key_err(lg_conf_ctx_t *c, const lg_ynode_t *at, const char *name, const char *fmt, ...)
{
    size_t mark = lg_conf_path_push(c, name, 0);
    va_list ap;

    va_start(ap, fmt);
    conf_verr(c, at, 1, fmt, ap);
    va_end(ap);
    lg_conf_path_pop(c, mark);
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
void lg_conf_closest(const char *word, const char *cand, const char **best, size_t *bestd)
{
    size_t d = conf_distance(word, cand), limit = strlen(word) <= 3 ? 1 : 2;

    if (d <= limit && d < *bestd) {
        *best = cand;
        *bestd = d;
    }
}

/* ---- scalars */

/* `v` must be a non-empty scalar; otherwise say what was expected. */
int lg_conf_want_scalar(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                        const char *what)
{
    if (v == NULL || v->is_null) {
        lg_conf_perr(c, key != NULL ? key : v, "missing value (expected %s)", what);
        return LG_ERR;
    }
    if (v->kind != LG_YNODE_SCALAR) {
        lg_conf_perr(c, v, "expected %s, got %s", what, lg_conf_kind(v));
        return LG_ERR;
    }
    return LG_OK;
}

int lg_conf_parse_uint(const char *s, uint64_t *out)
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

void lg_conf_fmt_duration(char *buf, size_t size, uint64_t ms)
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
static void conf_store(void *base, const lg_conf_field_t *f, uint64_t v)
{
    char *p = (char *)base + f->off;
    uint32_t v32 = (uint32_t)v;

    if (f->width == sizeof(v32))
        memcpy(p, &v32, sizeof(v32));
    else
        memcpy(p, &v, sizeof(v));
}

void lg_conf_store_ptr(void *base, size_t off, void *ptr)
{
    memcpy((char *)base + off, &ptr, sizeof(ptr));
}

/* A copy of the string value, or NULL (reported) when it is empty or holds control bytes. */
char *lg_conf_string(lg_conf_ctx_t *c, const lg_ynode_t *v)
{
    size_t i;

    if (v->len == 0) {
        lg_conf_perr(c, v, "must not be empty");
        return NULL;
    }
    for (i = 0; i < v->len; i++) {
        if ((unsigned char)v->str[i] < 0x20 || v->str[i] == 0x7F) {
            lg_conf_perr(c, v, "must not contain control characters");
            return NULL;
        }
    }
    return lg_arena_strndup(c->arena, v->str, v->len);
}

/* A duration or a size in [f->min, f->max]. */
static void conf_amount(lg_conf_ctx_t *c, const lg_ynode_t *v, void *base, const lg_conf_field_t *f)
{
    int is_size = f->type == LG_CONF_SIZE;
    char lo[32], hi[32];
    const char *why = NULL;
    uint64_t n;
    int rc;

    rc = is_size ? lg_parse_size(v->str, &n, &why) : lg_parse_duration(v->str, &n, &why);
    if (rc != LG_OK) {
        lg_conf_perr(c, v, "invalid %s %s: %s", is_size ? "size" : "duration", lg_conf_q(c, v->str),
                     why);
        return;
    }
    if (n < f->min || n > f->max) {
        if (is_size) {
            conf_fmt_size(lo, sizeof(lo), f->min);
            conf_fmt_size(hi, sizeof(hi), f->max);
        } else {
            lg_conf_fmt_duration(lo, sizeof(lo), f->min);
            lg_conf_fmt_duration(hi, sizeof(hi), f->max);
        }
        lg_conf_perr(c, v, "must be from %s to %s, got %s", lo, hi, lg_conf_q(c, v->str));
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
static void conf_bad_choice(lg_conf_ctx_t *c, const lg_ynode_t *v, const char *const *names)
{
    char list[LG_CONF_MSG_MAX / 2];
    const char *best = NULL;
    size_t bestd = SIZE_MAX, o = 0, i;

    for (i = 0; names[i] != NULL; i++) {
        lg_conf_closest(v->str, names[i], &best, &bestd);
        conf_list_add(list, sizeof(list), &o, names[i]);
    }
    if (best != NULL)
        lg_conf_perr(c, v, "unknown value %s (did you mean \"%s\"?)", lg_conf_q(c, v->str), best);
    else
        lg_conf_perr(c, v, "unknown value %s (expected one of: %s)", lg_conf_q(c, v->str), list);
}

static const char *conf_what(const lg_conf_field_t *f)
{
    switch (f->type) {
    case LG_CONF_UINT:
        return "a number";
    case LG_CONF_DURATION:
        return "a duration such as 10s";
    case LG_CONF_SIZE:
        return "a size such as 16k";
    case LG_CONF_ENUM:
        return "a value";
    case LG_CONF_ADDR:
        return "an address such as 127.0.0.1:8080";
    default:
        return "a string";
    }
}

/* Read value `v` of field `f` (key node `key`) into `base`. */
void lg_conf_field(lg_conf_ctx_t *c, const lg_conf_field_t *f, const lg_ynode_t *key,
                   const lg_ynode_t *v, void *base)
{
    lg_conf_seen_t seen[LG_CONF_MAX_FIELDS];
    const char *why = NULL;
    uint64_t n;
    size_t i;
    char *s;

    switch (f->type) {
    case LG_CONF_SECTION:
        lg_conf_walk(c, key, v, f->sub, base, seen);
        return;
    case LG_CONF_CUSTOM:
        f->fn(c, key, v, base, f);
        return;
    case LG_CONF_LATER:
        return;
    default:
        break;
    }
    if (lg_conf_want_scalar(c, key, v, conf_what(f)) != LG_OK)
        return;
    switch (f->type) {
    case LG_CONF_UINT:
        if (lg_conf_parse_uint(v->str, &n) != LG_OK || n < f->min || n > f->max)
            lg_conf_perr(c, v, "must be a whole number from %" PRIu64 " to %" PRIu64 ", got %s",
                         f->min, f->max, lg_conf_q(c, v->str));
        else
            conf_store(base, f, n);
        break;
    case LG_CONF_DURATION:
    case LG_CONF_SIZE:
        conf_amount(c, v, base, f);
        break;
    case LG_CONF_ENUM:
        for (i = 0; f->names[i] != NULL; i++)
            if (strcmp(v->str, f->names[i]) == 0)
                break;
        if (f->names[i] != NULL)
            conf_store(base, f, i);
        else
            conf_bad_choice(c, v, f->names);
        break;
    case LG_CONF_STRING:
        s = lg_conf_string(c, v);
        if (s != NULL)
            lg_conf_store_ptr(base, f->off, s);
        break;
    case LG_CONF_ADDR:
        if (lg_parse_addr(v->str, f->aux, (lg_addr_t *)((char *)base + f->off), &why) != LG_OK)
            lg_conf_perr(c, v, "invalid address %s: %s", lg_conf_q(c, v->str), why);
        break;
    default:
        break;
    }
}

/* A key must be a plain, non-empty string. */
static int conf_key_ok(lg_conf_ctx_t *c, const lg_ynode_t *key)
{
    if (key->kind != LG_YNODE_SCALAR) {
        lg_conf_err(c, key, "a key must be a plain string, not %s", lg_conf_kind(key));
        return LG_ERR;
    }
    if (key->is_null || key->len == 0) {
        lg_conf_err(c, key, "empty key");
        return LG_ERR;
    }
    return LG_OK;
}

static void conf_unknown_key(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_conf_field_t *fields)
{
    char list[LG_CONF_MSG_MAX / 2];
    const char *best = NULL;
    size_t bestd = SIZE_MAX, o = 0, i;

    for (i = 0; fields[i].name != NULL; i++) {
        lg_conf_closest(key->str, fields[i].name, &best, &bestd);
        conf_list_add(list, sizeof(list), &o, fields[i].name);
    }
    if (best != NULL)
        lg_conf_err(c, key, "unknown key %s (did you mean \"%s\"?)", lg_conf_q(c, key->str), best);
    else
        lg_conf_err(c, key, "unknown key %s (expected one of: %s)", lg_conf_q(c, key->str), list);
}

/*
 * Read mapping `map` (the value of key `owner`, NULL at the top) with the field table `fields`
 * into `base`. A missing or null mapping counts as empty: every default stays. `seen` gets the
 * key and value of every field present, by field index.
 */
void lg_conf_walk(lg_conf_ctx_t *c, const lg_ynode_t *owner, const lg_ynode_t *map,
                  const lg_conf_field_t *fields, void *base, lg_conf_seen_t *seen)
{
    const lg_ynode_t *key, *val;
    size_t i, k, mark;

    memset(seen, 0, LG_CONF_MAX_FIELDS * sizeof(*seen));
    if (map != NULL && !map->is_null && map->kind != LG_YNODE_MAP) {
        lg_conf_perr(c, map, "expected a mapping, got %s", lg_conf_kind(map));
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
            lg_conf_err(c, key, "duplicate key %s (first at line %u)", lg_conf_q(c, key->str),
                        seen[k].key->line);
            continue;
        }
        seen[k] = (lg_conf_seen_t){key, val};
        if (val->is_alias)
            continue;
        mark = lg_conf_path_push(c, fields[k].name, 0);
        lg_conf_field(c, &fields[k], key, val, base);
        lg_conf_path_pop(c, mark);
    }
    for (k = 0; fields[k].name != NULL; k++)
        if ((fields[k].flags & LG_CONF_REQUIRED) && seen[k].key == NULL)
            lg_conf_perr(c, owner != NULL ? owner : map, "missing required key \"%s\"",
                         fields[k].name);
}

/*
 * `v` (the value of `key`) must be a list or mapping (`kind`) with at least one entry: else
 * report `empty` (at the value, or at the key when the value is missing) or "expected WHAT".
 */
int lg_conf_want_items(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                       lg_ynode_kind_t kind, const char *empty, const char *what)
{
    if (v == NULL || v->is_null || (v->kind == kind && v->nkids == 0)) {
        lg_conf_perr(c, v != NULL && !v->is_null ? v : key, "%s", empty);
        return LG_ERR;
    }
    if (v->kind != kind) {
        lg_conf_perr(c, v, "expected %s, got %s", what, lg_conf_kind(v));
        return LG_ERR;
    }
    return LG_OK;
}

/* The seen entry of field `name`, or NULL when the key was absent. */
const lg_conf_seen_t *lg_conf_seen(const lg_conf_field_t *fields, const lg_conf_seen_t *seen,
                                   const char *name)
{
    size_t k;

    for (k = 0; fields[k].name != NULL; k++)
        if (strcmp(fields[k].name, name) == 0)
            return seen[k].key != NULL ? &seen[k] : NULL;
    return NULL;
}

/* The value of the first key `name` of mapping `map`, or NULL. */
const lg_ynode_t *lg_conf_map_get(const lg_ynode_t *map, const char *name)
{
    size_t i;

    for (i = 0; map->kind == LG_YNODE_MAP && i + 1 < map->nkids; i += 2)
        if (map->kids[i]->kind == LG_YNODE_SCALAR && strcmp(map->kids[i]->str, name) == 0)
            return map->kids[i + 1];
    return NULL;
}

/* ---- values more than one section uses */

/* A URL path: starts with "/", no spaces or control characters. */
void lg_conf_url_path(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f)
{
    size_t i;

    if (lg_conf_want_scalar(c, key, v, "a path starting with \"/\"") != LG_OK)
        return;
    if (v->str[0] != '/') {
        lg_conf_perr(c, v, "must start with \"/\", got %s", lg_conf_q(c, v->str));
        return;
    }
    for (i = 0; i < v->len; i++) {
        if ((unsigned char)v->str[i] <= ' ' || v->str[i] == 0x7F) {
            lg_conf_perr(c, v, "must not contain spaces or control characters, got %s",
                         lg_conf_q(c, v->str));
            return;
        }
    }
    lg_conf_store_ptr(base, f->off, lg_arena_strndup(c->arena, v->str, v->len));
}

/* ---- named maps: listeners and pools */

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

/* Report a name that is not "letters, digits, '_', '-' and '.'" (the element is still read). */
static void conf_check_name(lg_conf_ctx_t *c, const lg_ynode_t *key)
{
    size_t i;

    for (i = 0; i < key->len; i++)
        if (!isalnum((unsigned char)key->str[i]) && strchr("_-.", key->str[i]) == NULL)
            break;
    if (i < key->len || key->len > LG_CONF_NAME_MAX)
        lg_conf_err(c, key, "invalid name %s: use up to %d letters, digits, '_', '-' and '.'",
                    lg_conf_q(c, key->str), LG_CONF_NAME_MAX);
}

/*
 * A mapping of names to elements described by `d`; each element gets its name and position, then
 * d->each reads it. A name used twice is reported and its second element skipped. Returns the
 * array (in file order) and its length.
 */
void *lg_conf_named(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                    const lg_conf_named_desc_t *d, size_t *count)
{
    size_t npairs, i, first, mark, n = 0;
    lg_conf_pos_t pos;
    conf_name_ref_t *refs;
    char *elems, *elem, *name;
    int *dup;

    *count = 0;
    if (lg_conf_want_items(c, key, v, LG_YNODE_MAP, d->empty, d->expected) != LG_OK)
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
        lg_conf_err(c, refs[i].key, "duplicate %s name %s (first at line %u)", d->what,
                    lg_conf_q(c, refs[i].key->str), refs[first].key->line);
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
        lg_conf_store_ptr(elem, d->name_off, name);
        memcpy(elem + d->pos_off, &pos, sizeof(pos));
        mark = lg_conf_path_push(c, k->str, 0);
        if (!v->kids[2 * i + 1]->is_alias)
            d->each(c, k, v->kids[2 * i + 1], elem);
        lg_conf_path_pop(c, mark);
        n++;
    }
    *count = n;
    return elems;
}
