/*
 * uptls.c - TLS on upstream connections (see uptls.h).
 */
#include "upstream/uptls.h"

#include <errno.h>
#include <stdio.h>

#include "core/log.h"
#include "stream/tls.h"
#include "tls/client.h"

/* "TLS handshake failed (" REASON ") with" */
#define LG_UPTLS_WHAT_MAX (LG_TLS_FAILURE_MAX + 32)

static char failure[LG_UPTLS_WHAT_MAX];
static const lg_upconn_t *failed; /* the connection `failure` is about */

int lg_uptls_start(lg_upconn_t *u)
{
    const lg_addr_t *a = &u->be->conf->addr;
    SSL *ssl =
        lg_tls_client_new(u->be->pool->conf->tls, a->host, !a->is_hostname, &u->be->tls_session);

    if (ssl == NULL || lg_stream_tls_client(&u->s, ssl, 0) != LG_OK) {
        snprintf(failure, sizeof(failure), "TLS setup failed (out of memory) with");
        failed = u;
        errno = 0;
        return LG_ERR;
    }
    return lg_uptls_handshake(u);
}

int lg_uptls_handshake(lg_upconn_t *u)
{
    char reason[LG_TLS_ERR_MAX], why[LG_TLS_FAILURE_MAX];
    int r = lg_stream_handshake(&u->s);

    if (r != LG_ERR)
        return r;
    if (lg_stream_tls_error_code(&u->s) == 0)
        snprintf(reason, sizeof(reason), "%s", "the connection was closed or reset");
    else
        lg_stream_tls_error(&u->s, reason, sizeof(reason));
    lg_tls_client_failure(lg_stream_ssl(&u->s), reason, why, sizeof(why));
    snprintf(failure, sizeof(failure), "TLS handshake failed (%s) with", why);
    failed = u;
    errno = 0;
    return LG_ERR;
}

const char *lg_upconn_failure(const lg_upconn_t *u)
{
    if (u != failed)
        return "connect() to";
    failed = NULL; /* told once: a later connection at the same address is another */
    return failure;
}
