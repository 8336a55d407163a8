/*
 * store.c - the files of acme.storage (see store.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acme/acme.h"
#include "acme/jws.h"
#include "acme/store.h"
#include "acme/x509.h"
#include "core/fmt.h"
#include "core/lg.h"
#include "core/log.h"

#define LG_ACME_DIR_MODE  0700
#define LG_ACME_FILE_MODE 0600
#define LG_ACME_FILE_MAX  65536 /* a stored file larger than this is not ours */

void lg_acme_store_path(const char *dir, const char *name, const char *ext, char *buf, size_t len)
{
    if (lg_format(buf, len, "%s/certs/%s.%s", dir, name, ext) != LG_OK)
        buf[0] = '\0';
}

/* mkdir -p with mode 0700 for what it makes. */
static int make_dir(const char *path)
{
    char p[PATH_MAX];

    if (lg_format(p, sizeof(p), "%s", path) != LG_OK)
        return LG_ERR;
    for (char *s = p + 1;; s++) {
        char c = *s;

        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, LG_ACME_DIR_MODE) < 0 && errno != EEXIST) {
            lg_log(LG_LOG_ERR, "acme: mkdir() of %s failed (%d: %s)", p, errno, strerror(errno));
            return LG_ERR;
        }
        *s = c;
        if (c == '\0')
            return LG_OK;
    }
}

/* The whole file, NUL-terminated; NULL when missing (errno ENOENT), unreadable or too large. */
static char *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = fd >= 0 ? malloc(LG_ACME_FILE_MAX + 1) : NULL;
    size_t n = 0;
    ssize_t k = 1;

    while (buf != NULL && n <= LG_ACME_FILE_MAX && k > 0) {
        k = read(fd, buf + n, LG_ACME_FILE_MAX + 1 - n);
        if (k < 0 && errno == EINTR)
            k = 1;
        else if (k > 0)
            n += (size_t)k;
    }
    if (fd >= 0)
        close(fd);
    if (buf != NULL && (k < 0 || n > LG_ACME_FILE_MAX)) {
        free(buf);
        buf = NULL;
    }
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* Write `data` to path.tmp (mode 0600), fsync, rename over path. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX];
    int fd;
    size_t off = 0;

    if (lg_format(tmp, sizeof(tmp), "%s.tmp", path) != LG_OK)
        return LG_ERR;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, LG_ACME_FILE_MODE);
    while (fd >= 0 && off < len) {
        ssize_t k = write(fd, data + off, len - off);

        if (k < 0 && errno != EINTR)
            break;
        off += k > 0 ? (size_t)k : 0;
    }
    if (fd < 0 || off < len || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        lg_log(LG_LOG_ERR, "acme: writing %s failed (%d: %s)", path, errno, strerror(errno));
        if (fd >= 0 && off < len)
            close(fd);
        unlink(tmp);
        return LG_ERR;
    }
    return LG_OK;
}

/* A new account key, written to `path`. */
static EVP_PKEY *account_new(const char *path)
{
    EVP_PKEY *k = lg_acme_key_new();
    size_t len = 0;
    char *pem = k != NULL ? lg_acme_key_pem(k, &len) : NULL;

    if (pem == NULL || write_atomic(path, pem, len) != LG_OK) {
        EVP_PKEY_free(k);
        k = NULL;
    } else {
        lg_log(LG_LOG_INFO, "acme: account key %s created", path);
    }
    free(pem);
    return k;
}

static int is_p256(EVP_PKEY *k)
{
    char group[32];
    size_t len = 0;

    return EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_group_name(k, group, sizeof(group), &len) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

EVP_PKEY *lg_acme_store_account(const char *dir)
{
    char path[PATH_MAX];
    size_t len = 0;
    char *pem;
    EVP_PKEY *k = NULL;

    if (make_dir(dir) != LG_OK || lg_format(path, sizeof(path), "%s/account.key", dir) != LG_OK)
        return NULL;
    chmod(dir, LG_ACME_DIR_MODE);
    errno = 0;
    pem = read_all(path, &len);
    if (pem == NULL && errno == ENOENT)
        return account_new(path);
    if (pem != NULL)
        k = lg_acme_key_parse(pem, len);
    free(pem);
    if (k != NULL && is_p256(k))
        return k;
    EVP_PKEY_free(k);
    lg_log(LG_LOG_ERR, "acme: account key %s is not a readable P-256 key: replaced by a new one",
           path);
    return account_new(path);
}

int lg_acme_store_load(const char *dir, const char *name, char **chain, size_t *chain_len,
                       char **key, size_t *key_len)
{
    char path[PATH_MAX];

    lg_acme_store_path(dir, name, "crt", path, sizeof(path));
    *chain = read_all(path, chain_len);
    lg_acme_store_path(dir, name, "key", path, sizeof(path));
    *key = read_all(path, key_len);
    if (*chain != NULL && *key != NULL)
        return LG_OK;
    free(*chain);
    free(*key);
    *chain = *key = NULL;
    return LG_ERR;
}

int lg_acme_store_save(const char *dir, const char *name, const char *chain, size_t chain_len,
                       const char *key, size_t key_len)
{
    char path[PATH_MAX];

    if (lg_format(path, sizeof(path), "%s/certs", dir) != LG_OK || make_dir(path) != LG_OK)
        return LG_ERR;
    lg_acme_store_path(dir, name, "key", path, sizeof(path));
    if (write_atomic(path, key, key_len) != LG_OK)
        return LG_ERR;
    lg_acme_store_path(dir, name, "crt", path, sizeof(path));
    return write_atomic(path, chain, chain_len);
}
