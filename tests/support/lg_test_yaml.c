/*
 * lg_test_yaml.c - lifeguard configs built in C (a small tree of keys rendered as block YAML),
 * and the fixture of one origin behind one listener. Everything is harness-owned (lg_test_keep).
 */
#include "lg_test.h"
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest key of a path ("listeners.web.routes"): more is a mistake of the test. */
#define LG_YAML_KEY_MAX 64
/* At most this many allowed substrings in lg_lifeguard_finish(). */
#define LG_FINISH_MAX_ALLOWED 8

typedef struct lg_yaml_node lg_yaml_node_t;

struct lg_yaml_node {
    const char *key;       /* NULL for a list item */
    const char *value;     /* a scalar or flow text; NULL for a map or a list */
    int list;              /* the children are list items */
    lg_yaml_node_t *child; /* first child, in insertion order */
    lg_yaml_node_t *next;  /* next sibling */
};

struct lg_yaml {
    lg_yaml_node_t root;
};

static lg_yaml_node_t *lg_yaml_node_new(const char *key, const char *value)
{
    lg_yaml_node_t *n = lg_test_keep(calloc(1, sizeof(*n)), NULL);

    cr_assert_not_null(n);
    n->key = key;
    n->value = value;
    return n;
}

static void lg_yaml_append(lg_yaml_node_t *parent, lg_yaml_node_t *n)
{
    lg_yaml_node_t **at = &parent->child;

    while (*at != NULL)
        at = &(*at)->next;
    *at = n;
}

/*
 * The node at `path` (keys separated by dots) under the root; created (as an empty map) when
 * `create`, else NULL when absent. *parent_out gets its parent.
 */
static lg_yaml_node_t *lg_yaml_find(lg_yaml_t *c, const char *path, int create,
                                    lg_yaml_node_t **parent_out)
{
    lg_yaml_node_t *parent = &c->root, *n = NULL;
    const char *p = path;

    while (*p != '\0') {
        size_t len = strcspn(p, ".");
        char key[LG_YAML_KEY_MAX];

        cr_assert(len > 0 && len < sizeof(key), "bad config path \"%s\"", path);
        memcpy(key, p, len);
        key[len] = '\0';
        for (n = parent->child; n != NULL; n = n->next)
            if (n->key != NULL && strcmp(n->key, key) == 0)
                break;
        if (n == NULL) {
            if (!create)
                return NULL;
            n = lg_yaml_node_new(lg_fmt("%s", key), NULL);
            lg_yaml_append(parent, n);
        }
        p += len + (p[len] == '.');
        if (*p != '\0')
            parent = n;
    }
    if (parent_out != NULL)
        *parent_out = parent;
    return n;
}

lg_yaml_t *lg_yaml_new(void)
{
    lg_yaml_t *c = lg_test_keep(calloc(1, sizeof(*c)), NULL);

    cr_assert_not_null(c);
    lg_yaml_set(c, "workers", "1");
    lg_yaml_set(c, "log.level", "info");
    lg_yaml_set(c, "log.error", "stderr");
    lg_yaml_set(c, "log.access", "off");
    return c;
}

lg_yaml_t *lg_yaml_single(int backend_port)
{
    lg_yaml_t *c = lg_yaml_new();

    lg_yaml_set(c, "listeners.web.listen", "127.0.0.1:0");
    lg_yaml_add(c, "listeners.web.routes", "{pool: app}");
    lg_yaml_set(c, "pools.app.health_check.type", "none");
    lg_yaml_add(c, "pools.app.backends", "127.0.0.1:%d", backend_port);
    return c;
}

void lg_yaml_set(lg_yaml_t *c, const char *path, const char *value)
{
    lg_yaml_node_t *parent, *n = lg_yaml_find(c, path, value != NULL, &parent);
    lg_yaml_node_t **at;

    if (value != NULL) {
        n->value = lg_fmt("%s", value);
        n->child = NULL;
        n->list = 0;
        return;
    }
    if (n == NULL)
        return;
    for (at = &parent->child; *at != n; at = &(*at)->next)
        ;
    *at = n->next;
}

void lg_yaml_setf(lg_yaml_t *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    cr_assert(vasprintf(&s, fmt, ap) >= 0);
    va_end(ap);
    lg_yaml_set(c, path, lg_test_keep(s, NULL));
}

/* Add an item made of fmt and ap to the list at `path`: first with `front`, else last. */
static void lg_yaml_item(lg_yaml_t *c, const char *path, int front, const char *fmt, va_list ap)
{
    lg_yaml_node_t *n = lg_yaml_find(c, path, 1, NULL), *item;
    char *s;

    cr_assert(n->value == NULL && (n->list || n->child == NULL), "%s is not a list", path);
    n->list = 1;
    cr_assert(vasprintf(&s, fmt, ap) >= 0);
    item = lg_yaml_node_new(NULL, lg_test_keep(s, NULL));
    if (front) {
        item->next = n->child;
        n->child = item;
    } else {
        lg_yaml_append(n, item);
    }
}

void lg_yaml_add(lg_yaml_t *c, const char *path, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    lg_yaml_item(c, path, 0, fmt, ap);
    va_end(ap);
}

void lg_yaml_add_first(lg_yaml_t *c, const char *path, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    lg_yaml_item(c, path, 1, fmt, ap);
    va_end(ap);
}

/* Append the children of `n` indented by `indent` spaces to *out. */
static void lg_yaml_render(const lg_yaml_node_t *n, int indent, char **out)
{
    const lg_yaml_node_t *k;

    for (k = n->child; k != NULL; k = k->next) {
        if (k->key == NULL)
            *out = lg_fmt("%s%*s- %s\n", *out, indent, "", k->value);
        else if (k->value != NULL)
            *out = lg_fmt("%s%*s%s: %s\n", *out, indent, "", k->key, k->value);
        else if (k->child == NULL)
            *out = lg_fmt("%s%*s%s: %s\n", *out, indent, "", k->key, k->list ? "[]" : "{}");
        else {
            *out = lg_fmt("%s%*s%s:\n", *out, indent, "", k->key);
            lg_yaml_render(k, indent + 2, out);
        }
    }
}

char *lg_yaml_text(const lg_yaml_t *c)
{
    char *out = lg_fmt("%s", "");

    lg_yaml_render(&c->root, 0, &out);
    return out;
}

lg_proc_t *lg_yaml_start(const lg_yaml_t *c)
{
    return lg_lifeguard_start(lg_yaml_text(c));
}

/* Apply the NULL-terminated "path", "value" pairs of `ap` to `c`. */
static void lg_yaml_set_pairs(lg_yaml_t *c, va_list ap)
{
    const char *path;

    while ((path = va_arg(ap, const char *)) != NULL)
        lg_yaml_set(c, path, va_arg(ap, const char *));
}

lg_fix_t lg_fix_start(const char *origin_args, ...)
{
    lg_proc_t *origin = lg_origin_start(origin_args);
    lg_yaml_t *c = lg_yaml_single(origin->port);
    va_list ap;

    va_start(ap, origin_args);
    lg_yaml_set_pairs(c, ap);
    va_end(ap);
    return lg_fix_start_conf(origin, c);
}

lg_fix_t lg_fix_start_conf(lg_proc_t *origin, const lg_yaml_t *conf)
{
    lg_fix_t f;

    f.origin = origin;
    f.lg = lg_yaml_start(conf);
    f.port = lg_proc_port(f.lg, "web");
    return f;
}

void lg_lifeguard_finish_v(lg_proc_t *lg, const char *const *allowed)
{
    const char *a[LG_FINISH_MAX_ALLOWED] = {NULL};
    size_t i;
    int status, bad;

    for (i = 0; allowed != NULL && allowed[i] != NULL && i < LG_FINISH_MAX_ALLOWED - 1; i++)
        a[i] = allowed[i];
    status = lg_proc_stop(lg);
    bad = lg_log_has_unexpected_errors(lg_proc_log(lg), a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                                       NULL);
    if (bad != 0 || status != 0 || lg->strays != 0)
        lg_proc_dump_log(lg);
    cr_expect_eq(status, 0, "lifeguard exit status %d", status);
    cr_expect_eq(lg->strays, 0, "%d stray processes after lifeguard stopped", lg->strays);
    cr_expect_eq(bad, 0, "%d unexpected error lines in lifeguard's log", bad);
}

void lg_fix_finish_v(lg_fix_t *f, const char *const *allowed)
{
    lg_lifeguard_finish_v(f->lg, allowed);
    if (f->origin != NULL)
        lg_proc_stop(f->origin);
}
