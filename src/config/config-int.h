/*
 * config-int.h - internals of the configuration module, shared by its .c files only: the
 * allocation arena, the error list and the YAML node tree that the schema walk reads.
 */
#ifndef LG_CONFIG_INT_H
#define LG_CONFIG_INT_H

#include <stddef.h>

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

#endif
