/*
 * acme-int.h - between the ACME client's scheduling (client.c) and its orders (order.c).
 */
#ifndef LG_ACME_INT_H
#define LG_ACME_INT_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdint.h>

#include "acme/acme.h"
#include "acme/doc.h"
#include "acme/https.h"
#include "acme/jws.h"

/* The account, one per (directory, storage): what every order signs with. */
typedef struct lg_acme_acct {
    char *directory, *storage, *email; /* copies of the acme section */
    lg_acme_challenge_t challenge;
    lg_msec_t renew_before;
    SSL_CTX *ctx;  /* trusts acme.ca or the system store */
    EVP_PKEY *key; /* account.key */
    char thumb[LG_ACME_THUMB_LEN + 1];
    lg_acme_dir_t dir;              /* new_nonce NULL until the directory was read */
    char *kid;                      /* the account URL; NULL until registered */
    struct lg_acme_mc *registering; /* the order reading the directory or registering */
    char nonce[LG_ACME_NONCE_MAX];  /* one unused nonce, "" when none */
} lg_acme_acct_t;

/* One managed certificate: the names of an acme entry, its slot, its order under way. */
typedef struct lg_acme_mc {
    lg_acme_req_t req; /* first: the request under way */
    char **names;      /* sorted as written in the entry; names[0] is the storage name */
    size_t n;
    int slot;
    int used;                        /* named by the serving configuration */
    int running;                     /* an order is under way */
    int step;                        /* order.c: what the request under way is */
    int64_t not_before, not_after;   /* of the certificate served; 0 when none */
    int64_t due;                     /* wall s: when to order next */
    int64_t renewed;                 /* wall s of the last certificate obtained; 0 when none */
    lg_msec_t retry;                 /* the backoff after the last failure, 0 after a success */
    char error[LG_ACME_PROBLEM_MAX]; /* the last failure, "" since a success */
    /* the order under way (order.c) */
    lg_msec_t wake; /* when waiting: run `wait_step` then */
    int wait_step;
    int bad_nonce;       /* the request under way was already retried after a badNonce */
    char *url, *payload; /* the signed request under way, for a retry */
    char *order_url;
    lg_acme_order_doc_t order;
    size_t authz; /* index into order.authz */
    lg_acme_authz_doc_t az;
    char *published;    /* the token (http-01) or name (tls-alpn-01) published, NULL: none */
    EVP_PKEY *cert_key; /* the key of the certificate being ordered */
    lg_acme_acct_t *acct;
} lg_acme_mc_t;

/* order.c: start an order for `mc` (not running); its end calls lg_acme_order_end. */
void lg_acme_order_start(lg_acme_mc_t *mc);
/* order.c: from the tick, when an order waits (polling) and its time came. */
void lg_acme_order_wake(lg_acme_mc_t *mc);
/* order.c: forget what the order under way holds (challenges unpublished). */
void lg_acme_order_clear(lg_acme_mc_t *mc);

/*
 * client.c: the order of `mc` ended: with the new certificate (chain and key PEM, already
 * checked), or failed for `why` (NULL with a certificate).
 */
void lg_acme_order_end(lg_acme_mc_t *mc, const char *chain, size_t chain_len, const char *key,
                       size_t key_len, const char *why, int invalid);

#endif
