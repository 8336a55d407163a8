/*
 * tree.c - read a configuration file and turn libyaml's events into a small node tree with
 * positions, refusing what a configuration never needs and a hostile file could abuse:
 * non-regular files, files over LG_CONF_MAX_FILE_SIZE, NUL bytes and invalid UTF-8, nesting
 * deeper than LG_CONF_MAX_DEPTH, more than LG_CONF_MAX_NODES values, several documents, and
 * aliases (so there is no "billion laughs" expansion to bound: a file of N bytes makes at most
 * LG_CONF_MAX_NODES nodes, and the schema walk visits each node once).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/config-int.h"

#define LG_CONF_MAX_NODES (256 * 1024)
#define LG_CONF_HINT_MAX  64 /* bytes of a value quoted in a hint */

/* A mapping or sequence being built: its node and the children seen so far. */
typedef struct conf_frame {
    lg_ynode_t *node;
    lg_ynode_t **kids;
    size_t n;
    size_t cap;
} conf_frame_t;

typedef struct conf_builder {
    lg_arena_t *arena;
    lg_conf_errs_t *errs;
    const unsigned char *buf; /* the file, to turn byte offsets into positions */
    size_t len;
    conf_frame_t stack[LG_CONF_MAX_DEPTH];
    size_t depth;
    size_t nodes;
    size_t ndocs;
    lg_ynode_t *root;
    int failed; /* an error that invalidates the tree was reported */
} conf_builder_t;

/*
 * Read the whole file into a malloc'd, NUL-terminated buffer. O_NONBLOCK keeps a FIFO from
 * blocking the open; anything but a regular file is refused before a byte is read.
 */
static char *conf_read_file(const char *path, size_t *len, lg_conf_errs_t *errs)
{
    struct stat st;
    size_t n = 0;
    ssize_t r;
    char *buf;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        lg_conf_err_add(errs, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        lg_conf_err_add(errs, 0, 0, "cannot stat: %s", strerror(errno));
        goto out_close;
    }
    if (S_ISDIR(st.st_mode)) {
        lg_conf_err_add(errs, 0, 0, "cannot read: %s", strerror(EISDIR));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        lg_conf_err_add(errs, 0, 0, "cannot read: not a regular file");
        goto out_close;
    }
    if (st.st_size > LG_CONF_MAX_FILE_SIZE)
        goto out_too_large;
    buf = malloc(LG_CONF_MAX_FILE_SIZE + 1);
    if (buf == NULL) {
        lg_conf_err_add(errs, 0, 0, "out of memory");
        goto out_close;
    }
    /* Read one byte past the limit: the file may have grown since fstat(). */
    while (n <= LG_CONF_MAX_FILE_SIZE) {
        r = read(fd, buf + n, LG_CONF_MAX_FILE_SIZE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            lg_conf_err_add(errs, 0, 0, "cannot read: %s", strerror(errno));
            goto out_free;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > LG_CONF_MAX_FILE_SIZE) {
        free(buf);
        goto out_too_large;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;

out_free:
    free(buf);
    goto out_close;
out_too_large:
    lg_conf_err_add(errs, 0, 0, "file too large: the limit is %d bytes", LG_CONF_MAX_FILE_SIZE);
out_close:
    close(fd);
    return NULL;
}

/*
 * The 1-based line and column (in characters) of byte `off`, counting line breaks the way libyaml
 * does ("\r\n", "\r" and "\n"), so these positions agree with libyaml's marks.
 */
static void conf_offset_pos(const unsigned char *buf, size_t off, unsigned *line, unsigned *col)
{
    size_t i;

    *line = 1;
    *col = 1;
    for (i = 0; i < off; i++) {
        if (buf[i] == '\n' || (buf[i] == '\r' && buf[i + 1] != '\n')) {
            (*line)++;
            *col = 1;
        } else if (buf[i] != '\r' && (buf[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* Length of the UTF-8 sequence at s[0..n), or 0 when it is not valid UTF-8 (RFC 3629). */
static size_t conf_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    /* The second byte is narrowed for overlong forms, surrogates and code points > U+10FFFF. */
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Refuse NUL bytes and invalid UTF-8 with the position of the first bad byte. */
static int conf_check_text(const unsigned char *buf, size_t len, lg_conf_errs_t *errs)
{
    unsigned line, col;
    size_t i = 0, n;

    while (i < len) {
        if (buf[i] == '\0') {
            conf_offset_pos(buf, i, &line, &col);
            lg_conf_err_add(errs, line, col, "NUL byte in the file (is it a binary file?)");
            return LG_ERR;
        }
        n = conf_utf8_len(buf + i, len - i);
        if (n == 0) {
            conf_offset_pos(buf, i, &line, &col);
            lg_conf_err_add(errs, line, col, "invalid UTF-8 (byte 0x%02x)", buf[i]);
            return LG_ERR;
        }
        i += n;
    }
    return LG_OK;
}

/* Byte offset of 1-based `line` and `col` (characters), the inverse of conf_offset_pos(). */
static size_t conf_pos_offset(const unsigned char *buf, size_t len, unsigned line, unsigned col)
{
    size_t i = 0;

    for (unsigned l = 1; l < line && i < len; i++)
        if (buf[i] == '\n' || (buf[i] == '\r' && buf[i + 1] != '\n'))
            l++;
    for (unsigned c = 1; c < col && i < len; c++)
        for (i++; i < len && (buf[i] & 0xC0) == 0x80; i++) {
        }
    return i;
}

/*
 * Two mistakes that libyaml reports in its own terms get a message that says what to do: a
 * plain value starting with "*" (host: *.example.com) is read as an alias, and a tab where a
 * token should start is indentation with a tab. Returns 1 when `b` got such a message.
 */
static int conf_syntax_hint(conf_builder_t *b, const yaml_parser_t *p)
{
    unsigned line = (unsigned)p->problem_mark.line + 1, col = (unsigned)p->problem_mark.column + 1;
    size_t off = conf_pos_offset(b->buf, b->len, line, col), end;

    if (p->problem != NULL &&
        (strstr(p->problem, "tab character") != NULL ||
         (off < b->len && b->buf[off] == '\t' &&
          strcmp(p->problem, "found character that cannot start any token") == 0))) {
        lg_conf_err_add(b->errs, line, col,
                        "syntax error: YAML does not allow tabs for indentation "
                        "(indent with spaces)");
        return 1;
    }
    if (p->context == NULL || strcmp(p->context, "while scanning an alias") != 0)
        return 0;
    line = (unsigned)p->context_mark.line + 1;
    col = (unsigned)p->context_mark.column + 1;
    off = conf_pos_offset(b->buf, b->len, line, col);
    for (end = off;
         end < b->len && end - off < LG_CONF_HINT_MAX && !strchr(" \t\r\n,]}#\"", b->buf[end]);
         end++) {
    }
    lg_conf_err_add(b->errs, line, col,
                    "syntax error: %.*s is read as a YAML alias (quote a value that starts with "
                    "\"*\", as in \"%.*s\")",
                    (int)(end - off), b->buf + off, (int)(end - off), b->buf + off);
    return 1;
}

static void conf_syntax_error(conf_builder_t *b, const yaml_parser_t *p)
{
    unsigned line, col;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        lg_conf_err_add(b->errs, 0, 0, "out of memory");
        break;
    case YAML_READER_ERROR:
        conf_offset_pos(b->buf, LG_MIN(p->problem_offset, b->len), &line, &col);
        lg_conf_err_add(b->errs, line, col, "syntax error: %s", p->problem);
        break;
    default:
        if (conf_syntax_hint(b, p))
            break;
        line = (unsigned)p->problem_mark.line + 1;
        col = (unsigned)p->problem_mark.column + 1;
        if (p->context != NULL)
            lg_conf_err_add(b->errs, line, col, "syntax error: %s (%s at line %u, column %u)",
                            p->problem ? p->problem : "unknown problem", p->context,
                            (unsigned)p->context_mark.line + 1,
                            (unsigned)p->context_mark.column + 1);
        else
            lg_conf_err_add(b->errs, line, col, "syntax error: %s",
                            p->problem ? p->problem : "unknown problem");
        break;
    }
    b->failed = 1;
}

static lg_ynode_t *conf_node(conf_builder_t *b, lg_ynode_kind_t kind, const yaml_event_t *ev)
{
    lg_ynode_t *n;

    if (++b->nodes > LG_CONF_MAX_NODES) {
        lg_conf_err_add(b->errs, (unsigned)ev->start_mark.line + 1,
                        (unsigned)ev->start_mark.column + 1, "too many values (more than %d)",
                        LG_CONF_MAX_NODES);
        b->failed = 1;
        return NULL;
    }
    n = lg_arena_alloc(b->arena, sizeof(*n));
    if (n == NULL) {
        b->failed = 1;
        return NULL;
    }
    n->kind = kind;
    n->line = (unsigned)ev->start_mark.line + 1;
    n->col = (unsigned)ev->start_mark.column + 1;
    n->str = "";
    return n;
}

/* Append `n` to the open container, or make it the root. */
static int conf_attach(conf_builder_t *b, lg_ynode_t *n)
{
    conf_frame_t *f;
    lg_ynode_t **kids;

    if (b->depth == 0) {
        b->root = n;
        return LG_OK;
    }
    f = &b->stack[b->depth - 1];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;

        kids = realloc(f->kids, cap * sizeof(*kids));
        if (kids == NULL) {
            lg_conf_err_add(b->errs, 0, 0, "out of memory");
            b->failed = 1;
            return LG_ERR;
        }
        f->kids = kids;
        f->cap = cap;
    }
    f->kids[f->n++] = n;
    return LG_OK;
}

static int conf_scalar(conf_builder_t *b, const yaml_event_t *ev)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length, i;
    lg_ynode_t *n;

    n = conf_node(b, LG_YNODE_SCALAR, ev);
    if (n == NULL)
        return LG_ERR;
    if (strlen(s) != len) {
        /* "\0" in a double-quoted scalar: every consumer would silently cut the value. */
        lg_conf_err_add(b->errs, n->line, n->col, "value contains a NUL character");
        b->failed = 1;
    }
    n->str = lg_arena_strndup(b->arena, s, len);
    if (n->str == NULL)
        return LG_ERR;
    n->len = len;
    n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    if (ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        for (i = 0; i < LG_NELEMS(nulls); i++)
            if (strcmp(s, nulls[i]) == 0)
                n->is_null = 1;
    return conf_attach(b, n);
}

static int conf_open(conf_builder_t *b, lg_ynode_kind_t kind, const yaml_event_t *ev)
{
    lg_ynode_t *n;

    if (b->depth == LG_CONF_MAX_DEPTH) {
        lg_conf_err_add(b->errs, (unsigned)ev->start_mark.line + 1,
                        (unsigned)ev->start_mark.column + 1,
                        "nesting too deep (more than %d levels)", LG_CONF_MAX_DEPTH);
        b->failed = 1;
        return LG_ERR;
    }
    n = conf_node(b, kind, ev);
    if (n == NULL || conf_attach(b, n) != LG_OK)
        return LG_ERR;
    b->stack[b->depth++] = (conf_frame_t){.node = n};
    return LG_OK;
}

static int conf_close(conf_builder_t *b)
{
    conf_frame_t *f = &b->stack[--b->depth];
    int rc = LG_OK;

    f->node->nkids = f->n;
    if (f->n > 0) {
        f->node->kids = lg_arena_calloc(b->arena, f->n, sizeof(*f->kids));
        if (f->node->kids != NULL)
            memcpy(f->node->kids, f->kids, f->n * sizeof(*f->kids));
        else
            rc = LG_ERR;
    }
    free(f->kids);
    f->kids = NULL;
    return rc;
}

/* Handle one event; LG_AGAIN asks for the next one, LG_OK means the stream is complete. */
static int conf_event(conf_builder_t *b, const yaml_event_t *ev)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    lg_ynode_t *n;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->ndocs > 1) {
            lg_conf_err_add(b->errs, line, col, "only one YAML document is allowed in the file");
            b->failed = 1;
            return LG_ERR;
        }
        return LG_AGAIN;
    case YAML_ALIAS_EVENT:
        lg_conf_err_add(b->errs, line, col,
                        "YAML aliases are not supported: write out the value of \"*%s\" in full",
                        (const char *)ev->data.alias.anchor);
        /*
         * A placeholder keeps the structure and the schema walk skips it: the other errors of
         * the file are still reported, and none about the value that is not there.
         */
        n = conf_node(b, LG_YNODE_SCALAR, ev);
        if (n == NULL)
            return LG_ERR;
        n->is_null = 1;
        n->is_alias = 1;
        return conf_attach(b, n) == LG_OK ? LG_AGAIN : LG_ERR;
    case YAML_SCALAR_EVENT:
        return conf_scalar(b, ev) == LG_OK ? LG_AGAIN : LG_ERR;
    case YAML_SEQUENCE_START_EVENT:
        return conf_open(b, LG_YNODE_SEQ, ev) == LG_OK ? LG_AGAIN : LG_ERR;
    case YAML_MAPPING_START_EVENT:
        return conf_open(b, LG_YNODE_MAP, ev) == LG_OK ? LG_AGAIN : LG_ERR;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return conf_close(b) == LG_OK ? LG_AGAIN : LG_ERR;
    case YAML_STREAM_END_EVENT:
        return LG_OK;
    default:
        return LG_AGAIN;
    }
}

lg_ynode_t *lg_conf_tree_load(const char *path, lg_arena_t *a, lg_conf_errs_t *errs)
{
    conf_builder_t b = {.arena = a, .errs = errs};
    yaml_parser_t parser;
    yaml_event_t ev;
    size_t len = 0;
    char *buf;
    int rc = LG_AGAIN;

    buf = conf_read_file(path, &len, errs);
    if (buf == NULL)
        return NULL;
    b.buf = (const unsigned char *)buf;
    b.len = len;
    if (conf_check_text(b.buf, len, errs) != LG_OK)
        goto out_free;
    if (!yaml_parser_initialize(&parser)) {
        lg_conf_err_add(errs, 0, 0, "out of memory");
        goto out_free;
    }
    yaml_parser_set_input_string(&parser, b.buf, len);
    do {
        if (!yaml_parser_parse(&parser, &ev)) {
            conf_syntax_error(&b, &parser);
            break;
        }
        rc = conf_event(&b, &ev);
        yaml_event_delete(&ev);
    } while (rc == LG_AGAIN);
    yaml_parser_delete(&parser);
    while (b.depth > 0)
        free(b.stack[--b.depth].kids);
    if (lg_arena_failed(a) && !b.failed)
        lg_conf_err_add(errs, 0, 0, "out of memory");
    if (b.failed || lg_arena_failed(a))
        goto out_free;
    if (b.root == NULL)
        lg_conf_err_add(errs, 0, 0, "empty configuration");
    free(buf);
    return b.root;

out_free:
    free(buf);
    return NULL;
}
