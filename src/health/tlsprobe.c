/*
 * tlsprobe.c - health checks over TLS (see tlsprobe.h).
 */
#include "health/tlsprobe.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>

#include "core/lg.h"
#include "tls/client.h"

SSL *lg_tlsprobe_new(const lg_pool_conf_t *pool, const lg_backend_conf_t *be, int fd)
{
    SSL *ssl = lg_tls_client_new(pool->tls, be->addr.host, !be->addr.is_hostname, NULL);

    if (ssl != NULL && SSL_set_fd(ssl, fd) != 1)
        lg_tlsprobe_free(&ssl);
    /* One request, then closed: kernel TLS would buy a probe nothing. */
    if (ssl != NULL)
        SSL_clear_options(ssl, SSL_OP_ENABLE_KTLS);
    return ssl;
}

int lg_tlsprobe_handshake(SSL *ssl, char *why, size_t len)
{
    int r = SSL_do_handshake(ssl), code;
    long res = SSL_get_verify_result(ssl);
    unsigned long e = ERR_peek_last_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

    if (r == 1)
        return LG_OK;
    code = SSL_get_error(ssl, r);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
        return LG_AGAIN;
    ERR_clear_error();
    /* short: the backend's state keeps LG_SHM_REASON_LEN bytes for the status page */
    if (res != X509_V_OK && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE)
        reason = X509_verify_cert_error_string(res);
    snprintf(why, len, "TLS: %s", reason != NULL ? reason : "connection closed or reset");
    return LG_ERR;
}

/* The result of an SSL_read_ex or SSL_write_ex that returned `ok` with `n` bytes. */
static ssize_t io_result(SSL *ssl, int ok, size_t n)
{
    int code;

    if (ok == 1)
        return (ssize_t)n;
    code = SSL_get_error(ssl, 0);
    ERR_clear_error();
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
        return LG_AGAIN;
    if (code == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (errno == 0 || errno == EAGAIN)
        errno = EPROTO;
    return LG_ERR;
}

ssize_t lg_tlsprobe_read(SSL *ssl, void *buf, size_t len)
{
    size_t n = 0;
    int ok;

    errno = 0;
    ok = SSL_read_ex(ssl, buf, len, &n);
    return io_result(ssl, ok, n);
}

ssize_t lg_tlsprobe_write(SSL *ssl, const void *buf, size_t len)
{
    size_t n = 0;
    int ok;

    errno = 0;
    ok = SSL_write_ex(ssl, buf, len, &n);
    return io_result(ssl, ok, n);
}

void lg_tlsprobe_free(SSL **ssl)
{
    SSL_free(*ssl);
    *ssl = NULL;
}
