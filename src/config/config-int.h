/*
 * config-int.h - internals of the configuration module, shared by its .c files only: the
 * allocation arena, the error list, the YAML node tree, and the schema walk (field tables, the
 * load context, messages) that walk.c implements and the section files use.
 */
#ifndef LG_CONFIG_INT_H
#define LG_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Limits that keep a hostile file from costing more than a little time and memory. */
#define LG_CONF_MAX_FILE_SIZE (1024 * 1024) /* bytes */
#define LG_CONF_MAX_DEPTH     64            /* nested mappings and sequences */
#define LG_CONF_MAX_ERRORS    100           /* lines reported; the rest are counted */

/*
 * Arena: a chain of chunks freed all at once. lg_arena_alloc() returns zeroed memory aligned for
 * any type, or NULL when out of memory (the arena stays usable and remembers the failure).
 */
typedef struct lg_arena lg_arena_t;

lg_arena_t *lg_arena_new(void);
void *lg_arena_alloc(lg_arena_t *a, size_t size);
void *lg_arena_calloc(lg_arena_t *a, size_t n, size_t size);
char *lg_arena_strndup(lg_arena_t *a, const char *s, size_t n);
int lg_arena_failed(const lg_arena_t *a);
void lg_arena_free(lg_arena_t *a);

/*
 * Error list: messages with their 1-based position (line 0 = the file as a whole). They are
 * collected in any order and sorted into file order by lg_conf_errs_finish().
 */
typedef struct lg_conf_err {
    unsigned line;
    unsigned col;
    size_t seq; /* order of arrival, to keep errors at one position stable */
    char *msg;
} lg_conf_err_t;

typedef struct lg_conf_errs {
    lg_conf_err_t *v;
    size_t n;
    size_t cap;
    int oom; /* an error could not be stored: reported as "out of memory" */
} lg_conf_errs_t;

void lg_conf_err_add(lg_conf_errs_t *e, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sort into file order and format "FILE:LINE:COL: error: MSG" lines into `out`; empties `e`. */
void lg_conf_errs_finish(lg_conf_errs_t *e, const char *file, lg_config_errors_t *out);
void lg_conf_errs_clear(lg_conf_errs_t *e);

/*
 * A host name a resolver accepts: dot-separated labels of letters, digits, '-' and '_', at most
 * 253 characters, and not all digits in the last label (that is a mistyped IPv4 address).
 */
int lg_conf_valid_hostname(const char *s, size_t len);

/*
 * YAML node tree: what libyaml's events describe, with positions, held in an arena. A mapping
 * keeps its keys and values alternately in `kids` (key 0, value 0, key 1, ...).
 */
typedef enum lg_ynode_kind {
    LG_YNODE_SCALAR = 0,
    LG_YNODE_MAP,
    LG_YNODE_SEQ,
} lg_ynode_kind_t;

typedef struct lg_ynode lg_ynode_t;

struct lg_ynode {
    lg_ynode_kind_t kind;
    unsigned line;   /* 1-based */
    unsigned col;    /* 1-based, in characters */
    int is_null;     /* plain scalar "", "~" or "null" */
    int is_alias;    /* a refused alias (already reported): a null placeholder, not read */
    int quoted;      /* '...' or "...": the scalar's text starts at col + 1 */
    const char *str; /* scalar text, NUL-terminated */
    size_t len;
    lg_ynode_t **kids;
    size_t nkids; /* a mapping has nkids / 2 pairs */
};

/*
 * Read `path` (size-capped, regular files only) and parse it into a tree. Returns the root, or
 * NULL after adding every error found to `errs`. Aliases are reported and left in the tree as
 * placeholders (is_alias), so the schema walk can report the file's other errors; nesting is
 * capped.
 */
lg_ynode_t *lg_conf_tree_load(const char *path, lg_arena_t *a, lg_conf_errs_t *errs);

/* ---- the schema walk (walk.c) */

#define LG_CONF_MAX_FIELDS 24  /* keys of the largest mapping */
#define LG_CONF_NAME_MAX   64  /* listener and pool names */
#define LG_CONF_PATH_MAX   256 /* "pools.app.health_check.timeout" in messages */
#define LG_CONF_QUOTE_MAX  64  /* bytes of a value quoted in a message */
#define LG_CONF_QUOTE_BUF  (LG_CONF_QUOTE_MAX * 4 + 16) /* escaped, quoted, "..." */

#define LG_MSEC_SECOND UINT64_C(1000)
#define LG_MSEC_MINUTE (60 * LG_MSEC_SECOND)
#define LG_MSEC_HOUR   (60 * LG_MSEC_MINUTE)
#define LG_MSEC_DAY    (24 * LG_MSEC_HOUR)
#define LG_KIB         UINT64_C(1024)
#define LG_MIB         (1024 * LG_KIB)

typedef struct lg_conf_ctx lg_conf_ctx_t;
typedef struct lg_conf_field lg_conf_field_t;

/* Where a key of a fixed mapping was found: its key and value nodes, or NULLs when absent. */
typedef struct lg_conf_seen {
    const lg_ynode_t *key;
    const lg_ynode_t *val;
} lg_conf_seen_t;

/* A handler for a value that is more than a number, a duration, a size, a name or a string. */
typedef void (*lg_conf_fn_t)(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *val,
                             void *base, const lg_conf_field_t *f);

typedef enum lg_conf_type {
    LG_CONF_UINT = 0, /* unsigned, width 4 or 8, in [min, max] */
    LG_CONF_DURATION, /* lg_msec_t in [min, max] */
    LG_CONF_SIZE,     /* size_t or uint64_t in [min, max] */
    LG_CONF_ENUM,     /* an enum: index of the value in `names` */
    LG_CONF_STRING,   /* char *, non-empty, no control characters */
    LG_CONF_ADDR,     /* lg_addr_t, parsed with the LG_ADDR_* flags in `aux` */
    LG_CONF_SECTION,  /* a nested mapping of `sub` fields, same base */
    LG_CONF_CUSTOM,   /* `fn` does it */
    LG_CONF_LATER,    /* only recorded; the caller handles it after the walk */
} lg_conf_type_t;

#define LG_CONF_REQUIRED 0x1u

struct lg_conf_field {
    const char *name;
    lg_conf_type_t type;
    size_t off;   /* where the value goes, from the base the table is walked with */
    size_t width; /* sizeof that member */
    uint64_t min;
    uint64_t max;
    const char *const *names;   /* LG_CONF_ENUM, NULL-terminated, in enum order */
    const lg_conf_field_t *sub; /* LG_CONF_SECTION */
    lg_conf_fn_t fn;            /* LG_CONF_CUSTOM */
    unsigned aux;               /* LG_CONF_ADDR: LG_ADDR_* flags */
    unsigned flags;             /* LG_CONF_REQUIRED */
};

/*
 * Table rows. LG_CONF_ROW: the value goes to member `m` of struct `st` (the base the table is
 * walked with) and must lie in [lo, hi] where a range applies; more designators may follow.
 * LG_CONF_FN: a handler does the work. LG_CONF_END closes a table.
 */
#define LG_CONF_ROW(key, kind, st, m, lo, hi, ...)                                                 \
    {                                                                                              \
        .name = key, .type = kind, .off = offsetof(st, m), .width = sizeof(((st *)0)->m),          \
        .min = lo, .max = hi, __VA_ARGS__                                                          \
    }
#define LG_CONF_FN(key, handler, ...)                                                              \
    {                                                                                              \
        .name = key, .type = LG_CONF_CUSTOM, .fn = handler, __VA_ARGS__                            \
    }
#define LG_CONF_END                                                                                \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* lg_conf_walk() keeps what it saw in an array of LG_CONF_MAX_FIELDS per table. */
#define LG_CONF_FITS(table)                                                                        \
    _Static_assert(LG_NELEMS(table) - 1 <= LG_CONF_MAX_FIELDS, #table " has too many keys")

/* An address written in the file, for the duplicate checks. */
typedef struct lg_conf_addr_ref {
    const lg_addr_t *addr;
    const lg_ynode_t *node;
    const char *owner; /* listener name; NULL for admin and for backends */
} lg_conf_addr_ref_t;

/* One load: the configuration being filled, the key path being read, what the checks collect. */
struct lg_conf_ctx {
    lg_config_t *cf;
    lg_arena_t *arena;   /* the configuration's, freed with it */
    lg_arena_t *scratch; /* the tree's and temporary arrays, freed at the end of the load */
    lg_conf_errs_t *errs;
    char path[LG_CONF_PATH_MAX]; /* the key being read, "pools.app.backends[0]" */
    size_t plen;
    const lg_pool_conf_t **pools_by_name; /* sorted, for pool references */
    lg_conf_addr_ref_t *listens;          /* every listen address, for duplicates */
    size_t nlistens;
    char quote[6][LG_CONF_QUOTE_BUF]; /* lg_conf_q() and conf_owner() results, used in turn */
    unsigned qnext;
};

/* `s` in double quotes, escaped and cut for a one-line message. Six results can be live. */
const char *lg_conf_q(lg_conf_ctx_t *c, const char *s);
/* "a mapping", "a list", "nothing" or "a single value", for "expected X, got Y". */
const char *lg_conf_kind(const lg_ynode_t *n);
/* An error at node `at`; lg_conf_perr() starts the message with the key path ("pools.app: "). */
void lg_conf_err(lg_conf_ctx_t *c, const lg_ynode_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lg_conf_perr(lg_conf_ctx_t *c, const lg_ynode_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error about key `name` of the mapping being read, at `at`, as "PATH.name: ...". */
void lg_conf_key_err(lg_conf_ctx_t *c, const lg_ynode_t *at, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Append ".name" (or "[index]" with name NULL) to the key path; returns the mark to pop to. */
size_t lg_conf_path_push(lg_conf_ctx_t *c, const char *name, size_t index);
void lg_conf_path_pop(lg_conf_ctx_t *c, size_t mark);
/* Keep `cand` in *best when it is closer to `word` than the best so far and close enough. */
void lg_conf_closest(const char *word, const char *cand, const char **best, size_t *bestd);

/* `v` must be a non-empty scalar; otherwise report "expected WHAT" and return LG_ERR. */
int lg_conf_want_scalar(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                        const char *what);
/* `v` must be a non-empty list or mapping (`kind`): else report `empty` or "expected WHAT". */
int lg_conf_want_items(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                       lg_ynode_kind_t kind, const char *empty, const char *what);
int lg_conf_parse_uint(const char *s, uint64_t *out);
/* A duration in its largest exact unit ("2s", "1500ms"), for messages. */
void lg_conf_fmt_duration(char *buf, size_t size, uint64_t ms);
void lg_conf_store_ptr(void *base, size_t off, void *ptr);
/* A copy of the string value, or NULL (reported) when it is empty or holds control bytes. */
char *lg_conf_string(lg_conf_ctx_t *c, const lg_ynode_t *v);
/* LG_CONF_CUSTOM handler for a URL path: starts with "/", no spaces or control characters. */
void lg_conf_url_path(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f);

/* Read value `v` of field `f` (key node `key`) into `base`. */
void lg_conf_field(lg_conf_ctx_t *c, const lg_conf_field_t *f, const lg_ynode_t *key,
                   const lg_ynode_t *v, void *base);
/*
 * Read mapping `map` (the value of key `owner`, NULL at the top) with the field table `fields`
 * into `base`. A missing or null mapping counts as empty: every default stays. `seen` (of
 * LG_CONF_MAX_FIELDS) gets the key and value of every field present, by field index.
 */
void lg_conf_walk(lg_conf_ctx_t *c, const lg_ynode_t *owner, const lg_ynode_t *map,
                  const lg_conf_field_t *fields, void *base, lg_conf_seen_t *seen);
/* The seen entry of field `name`, or NULL when the key was absent. */
const lg_conf_seen_t *lg_conf_seen(const lg_conf_field_t *fields, const lg_conf_seen_t *seen,
                                   const char *name);
/* The value of the first key `name` of mapping `map`, or NULL. */
const lg_ynode_t *lg_conf_map_get(const lg_ynode_t *map, const char *name);

/* ---- named maps: listeners (listeners.c) and pools (pools.c) */

typedef void (*lg_conf_elem_fn_t)(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                                  void *elem);

/* What a named map holds: element size, where the name and position go, how to read one. */
typedef struct lg_conf_named_desc {
    const char *what;
    const char *empty;    /* the message when there is none */
    const char *expected; /* what the value must be */
    size_t esize;
    size_t name_off;
    size_t pos_off;
    lg_conf_elem_fn_t each;
} lg_conf_named_desc_t;

extern const lg_conf_named_desc_t lg_conf_pools_desc;
extern const lg_conf_named_desc_t lg_conf_listeners_desc;

/*
 * A mapping of names to elements described by `d`; each element gets its name and position, then
 * d->each reads it. A name used twice is reported and its second element skipped. Returns the
 * array (in file order) and its length.
 */
void *lg_conf_named(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                    const lg_conf_named_desc_t *d, size_t *count);

/* An RFC 9110 token: a header or cookie name. */
int lg_conf_is_token(const char *s);

/* ---- routes[].rate_limit (ratelimit.c) */

/* LG_CONF_CUSTOM handler of a route's `rate_limit` mapping: allocates and fills r->rate_limit. */
void lg_conf_rate_limit(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                        const lg_conf_field_t *f);

/* ---- listeners.NAME.tls (tls.c) */

/* LG_CONF_CUSTOM handler of a listener's `tls` mapping: allocates and fills l->tls. */
void lg_conf_tls(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                 const lg_conf_field_t *f);

/* ---- acme (acme.c) */

/* LG_CONF_CUSTOM handler of the top-level `acme` mapping: allocates and fills cf->acme. */
void lg_conf_acme(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                  const lg_conf_field_t *f);
/* LG_CONF_CUSTOM handler of a certificate entry's `acme` list of names (needs cf->acme). */
void lg_conf_cert_acme(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                       const lg_conf_field_t *f);

/* ---- a route's matches and overrides (routes.c) */

extern const char *const lg_conf_bool[]; /* false | true, as 0 | 1 (an LG_CONF_ENUM's names) */
extern const lg_conf_field_t lg_conf_route_timeout_fields[];
extern const lg_conf_field_t lg_conf_route_limit_fields[];
#define LG_ROUTE_RETRIES_MAX 10 /* as pools.NAME.retries */
/* What a route inherits until its keys say otherwise (before its walk). */
void lg_conf_route_defaults(lg_route_conf_t *r);
/*
 * LG_CONF_CUSTOM handler of a route's `path_prefix`: a URL path already in the normal form of
 * request paths (http/path.h), since one in any other form never matches.
 */
void lg_conf_path_prefix(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                         const lg_conf_field_t *f);
/* LG_CONF_CUSTOM handlers of a route's `methods` (list) and `headers` (mapping). */
void lg_conf_route_methods(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                           const lg_conf_field_t *f);
void lg_conf_route_headers(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                           const lg_conf_field_t *f);
/* After a route's walk: strip_prefix (`strip`: its seen entry, or NULL) needs a path_prefix. */
void lg_conf_route_check(lg_conf_ctx_t *c, const lg_route_conf_t *r, const lg_conf_seen_t *strip);
/* After the listeners: at most LG_ROUTE_TIMEOUTS_MAX distinct durations in routes' timeouts. */
void lg_conf_check_route_timeouts(lg_conf_ctx_t *c);

/* ---- a route's request_headers and response_headers (headers.c) */

/* LG_CONF_CUSTOM handlers: the rules of one direction, into lg_route_conf_t. */
void lg_conf_request_headers(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                             void *base, const lg_conf_field_t *f);
void lg_conf_response_headers(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v,
                              void *base, const lg_conf_field_t *f);

/* ---- a route's redirect and respond (answer.c) */

/*
 * Compile the template value `v` (http/tmpl.h) into *t, its text and parts in the arena:
 * LG_OK, or LG_ERR reported where the fault is inside v (an unknown {variable}, a control
 * character).
 */
int lg_conf_tmpl(lg_conf_ctx_t *c, const lg_ynode_t *v, lg_tmpl_t *t);
/* LG_CONF_CUSTOM handlers of a route's `redirect` and `respond`: they fill r->answer. */
void lg_conf_redirect(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f);
void lg_conf_respond(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                     const lg_conf_field_t *f);
/* LG_CONF_CUSTOM handler of a route's host (http) or sni (tcp): exact or "*.suffix" (listeners.c).
 */
void lg_conf_route_host(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                        const lg_conf_field_t *f);
/* After a route's walk: it needs a pool (`pool`: its seen entry, NULL if absent) or an answer. */
void lg_conf_route_target(lg_conf_ctx_t *c, const lg_ynode_t *item, const lg_route_conf_t *r,
                          const lg_conf_seen_t *pool);

/* ---- checks across the file (xref.c) */

/* Sort cf->pools by name into c->pools_by_name, for lg_conf_pool_ref(). */
void lg_conf_index_pools(lg_conf_ctx_t *c);
/* LG_CONF_CUSTOM handler for a reference to a pool by name: stored as its index into cf->pools. */
void lg_conf_pool_ref(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f);
/* Report each backend address of one pool that repeats an earlier one; sorts `refs`. */
void lg_conf_check_backends(lg_conf_ctx_t *c, lg_conf_addr_ref_t *refs, size_t n);
/* Report listen addresses (c->listens) that cannot be bound together; sorts c->listens. */
void lg_conf_check_listens(lg_conf_ctx_t *c);

/* ---- lists of IP networks (cidrs.c) */

/* LG_CONF_CUSTOM handler of a list of CIDR networks: an lg_cidr_set_t * stored at f->off. */
void lg_conf_cidrs(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                   const lg_conf_field_t *f);

/* on | off, as 1 | 0 (an LG_CONF_ENUM's names) */
extern const char *const lg_conf_onoff[];
extern const char *const lg_conf_ktls[]; /* auto, off: listeners' and pools' tls.ktls */

/* An RFC 9110 token: a header or cookie name (pools.c). */
int lg_conf_is_token(const char *s);

/* ---- pools.NAME.sticky (sticky.c) */

/* LG_CONF_CUSTOM handler of a pool's `sticky` mapping: fills p->sticky. */
void lg_conf_sticky(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                    const lg_conf_field_t *f);

/* ---- pools.NAME.tls (uptls.c) */

/* LG_CONF_CUSTOM handler of a pool's `tls` mapping: fills p->tls. */
void lg_conf_pool_tls(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_ynode_t *v, void *base,
                      const lg_conf_field_t *f);
/* The checks between `tls` (key node `key`) and the backends of `p`, once both are read. */
void lg_conf_pool_tls_check(lg_conf_ctx_t *c, const lg_ynode_t *key, const lg_pool_conf_t *p);

#endif
