/*
 * client.h - what the ACME client tells the admin pages (metrics, /status).
 */
#ifndef LG_ACME_CLIENT_H
#define LG_ACME_CLIENT_H

#include <stdint.h>

#include "acme/doc.h"

#define LG_ACME_ERROR_MAX LG_ACME_PROBLEM_MAX /* bytes of lg_acme_name_view_t.error */

/* One managed name: the certificate serving it, when it was obtained, the last failure. */
typedef struct lg_acme_name_view {
    const char *name;
    int64_t expiry;    /* notAfter (Unix s) of the certificate served; 0: placeholder */
    int64_t renewed;   /* when this process last obtained it (Unix s); 0: never */
    const char *error; /* the last failure, "" since a success */
} lg_acme_name_view_t;

typedef void (*lg_acme_each_t)(const lg_acme_name_view_t *v, void *arg);

/* Call `each` for every name the serving configuration manages, in slot order. */
void lg_acme_each(lg_acme_each_t each, void *arg);

enum { LG_ACME_VALID, LG_ACME_INVALID, LG_ACME_ERROR, LG_ACME_RESULTS };
/* Orders ended since start, by result: valid, invalid (the server refused), error. */
uint64_t lg_acme_orders(int result);

#endif
