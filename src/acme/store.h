/*
 * store.h - acme.storage: the account key and the certificates, kept across restarts.
 *
 *   STORAGE/                 mode 0700, made when missing
 *   STORAGE/account.key      the account's P-256 key (PEM), 0600, made once
 *   STORAGE/certs/NAME.crt   the chain (leaf first) of the certificate whose first name is NAME
 *   STORAGE/certs/NAME.key   its private key (PEM), 0600
 *
 * Files are written to a temporary name and renamed, so a crash never leaves half a file.
 */
#ifndef LG_ACME_STORE_H
#define LG_ACME_STORE_H

#include <openssl/evp.h>
#include <stddef.h>

/*
 * The account key of `dir`: read, or made and written when missing; an unreadable one is
 * logged with its path and replaced (a new account is then registered). NULL (logged) when the
 * directory or the key cannot be made.
 */
EVP_PKEY *lg_acme_store_account(const char *dir);

/* Read STORAGE/certs/NAME.crt and .key (malloc'd, NUL-terminated). LG_ERR when either is
 * missing or unreadable (nothing allocated). */
int lg_acme_store_load(const char *dir, const char *name, char **chain, size_t *chain_len,
                       char **key, size_t *key_len);

/* Write both files (key 0600) atomically. LG_ERR (logged) on failure. */
int lg_acme_store_save(const char *dir, const char *name, const char *chain, size_t chain_len,
                       const char *key, size_t key_len);

/* The path of the certificate file of `name` into buf, for logs. */
void lg_acme_store_path(const char *dir, const char *name, const char *ext, char *buf, size_t len);

#endif
