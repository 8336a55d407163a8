/*
 * uptls.c - TLS on upstream connections (see uptls.h).
 */
#include "upstream/uptls.h"

#include <errno.h>
#include <stdio.h>

#include "admin/stats.h"
#include "core/log.h"
#include "stream/tls.h"
#include "tls/client.h"

/* "TLS handshake failed (" REASON ") with" */
#define LG_UPTLS_WHAT_MAX (LG_TLS_FAILURE_MAX + 32)

static char failure[LG_UPTLS_WHAT_MAX];
static const lg_upconn_t *failed; /* the connection `failure` is about */

/*
 * The PROXY header of a pool with proxy_protocol goes on the socket in clear before the
 * handshake (what HAProxy's accept-proxy with ssl reads): LG_OK once all of it went, LG_AGAIN
 * until the socket takes the rest, LG_ERR (errno kept).
 */
static int header_flush(lg_upconn_t *u)
{
    struct iovec iov = {u->pp + u->pp_off, (size_t)(u->pp_len - u->pp_off)};
    ssize_t n;

    if (iov.iov_len == 0)
        return LG_OK;
    n = lg_sock_writev(&u->s.sock, &iov, 1);
    if (n < 0) {
        int err = errno;

        snprintf(failure, sizeof(failure), "sending the PROXY header to");
        failed = u;
        errno = err;
        return LG_ERR;
    }
    u->pp_off = (uint16_t)(u->pp_off + n);
    return u->pp_off == u->pp_len ? LG_OK : LG_AGAIN;
}

/*
 * The header, then the TLS stream. With kernel TLS (tls.ktls: auto, available) OpenSSL gets the
 * socket itself, without read-ahead, so that it can hand the keys to the kernel after the
 * handshake (stream/tls.h).
 */
int lg_uptls_start(lg_upconn_t *u)
{
    const lg_pool_tls_conf_t *t = u->be->pool->conf->tls;
    const lg_addr_t *a = &u->be->conf->addr;
    SSL *ssl;
    int r = header_flush(u);

    if (r != LG_OK)
        return r;
    ssl = lg_tls_client_new(t, a->host, !a->is_hostname, &u->be->tls_session);
    if (ssl == NULL || lg_stream_tls_client(&u->s, ssl, lg_tls_client_ktls(t)) != LG_OK) {
        snprintf(failure, sizeof(failure), "TLS setup failed (out of memory) with");
        failed = u;
        errno = 0;
        return LG_ERR;
    }
    return lg_uptls_handshake(u);
}

/*
 * Which directions the kernel took the keys for, on a pool that tries kernel TLS: the stream
 * splices those (LG_STREAM_SPLICE_RD/WR), as a listener's does.
 */
static void ktls_count(const lg_upconn_t *u)
{
    unsigned k = lg_stream_tls_ktls(&u->s);

    if (lg_tls_client_ktls(u->be->pool->conf->tls))
        lg_stats_ktls(&lg_stats_pool(u->be->pool->index)->ktls, (k & LG_KTLS_TX) != 0,
                      (k & LG_KTLS_RX) != 0);
}

int lg_uptls_handshake(lg_upconn_t *u)
{
    char reason[LG_TLS_ERR_MAX], why[LG_TLS_FAILURE_MAX];
    int r = lg_stream_handshake(&u->s);

    if (r == LG_OK)
        ktls_count(u);
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
