/*
 * xppout.c - the PROXY header a pool with proxy_protocol sends first on a new upstream
 * connection: the client's address and the one it connected to (upstream/ppout.h).
 */
#include "exchange/xint.h"

#include <errno.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/log.h"
#include "http/diag.h"
#include "tls/clienthello.h"

/*
 * The client's TLS as the v2 header's TLVs tell it: the server name it asked for (lifeguard's
 * TLS, or the ClientHello a passthrough route read) and, when lifeguard terminated its TLS, the
 * version and what became of its certificate (verify: 0 only for one presented and verified).
 * A name is passed on as the passthrough reader gives it: checked, lower case, without a
 * trailing dot (`name`, LG_HELLO_NAME_MAX + 1 bytes); OpenSSL takes any bytes but NUL.
 */
static void pp_tls(const lg_exchange_t *x, lg_ppout_tls_t *t, char *name)
{
    const char *sni;
    X509 *peer;

    t->authority = x->sni;
    if (x->tls == NULL)
        return;
    sni = SSL_get_servername(x->tls, TLSEXT_NAMETYPE_host_name);
    if (sni != NULL && lg_hello_host((const uint8_t *)sni, strlen(sni), name) == LG_HELLO_SNI)
        t->authority = name;
    t->version = SSL_get_version(x->tls);
    peer = SSL_get0_peer_certificate(x->tls);
    t->cert_sess = peer != NULL;
    t->cert_conn = peer != NULL && !SSL_session_reused(x->tls);
    t->verify = peer != NULL ? (uint32_t)SSL_get_verify_result(x->tls) : 1;
}

/*
 * The header goes in the pump's first write, with the request head (or a relay's first bytes),
 * or, to a pool with tls, in clear before the handshake (uptls.c), as HAProxy's send-proxy with
 * ssl does; it lives in the connection, which is never reused by another client. Behind a
 * balancer that sent a PROXY header, its destination is passed on (as HAProxy does), not
 * lifeguard's address.
 */
int lg_x_proxy_header(lg_exchange_t *x)
{
    struct sockaddr_storage own;
    socklen_t len = sizeof(own);
    const struct sockaddr *local = x->local;
    lg_ppout_tls_t tls = {0};
    char name[LG_HELLO_NAME_MAX + 1];
    size_t n;
    char ctx[LG_DIAG_MAX];
    int err;

    if (local == NULL && getsockname(x->client_fd, (struct sockaddr *)&own, &len) < 0) {
        err = errno;
        lg_log(LG_LOG_ERR, "getsockname() of the client connection failed (%d: %s)%s", err,
               strerror(err), lg_exchange_context(x, ctx, sizeof(ctx)));
        return LG_ERR;
    }
    if (local == NULL)
        local = (const struct sockaddr *)&own;
    pp_tls(x, &tls, name);
    n = lg_ppout_build(x->pool->conf->proxy_protocol, x->peer, local, &tls, x->u->pp);
    if (x->pool->conf->tls != NULL) {
        x->u->pp_len = (uint16_t)n;
        return LG_OK;
    }
    x->up.pre = x->u->pp;
    x->up.pre_len = (uint32_t)n;
    return LG_OK;
}
