/*
 * lg_test_tls.h - TLS test support: certificates made with the openssl command by
 * tests/support/make_pki.sh (its comment lists the files; never committed), configurations
 * with a tls section built by lg_tls_load(), and handshakes in memory between an OpenSSL client
 * and lifeguard's server SSL over a BIO pair.
 */
#ifndef LG_TEST_TLS_H
#define LG_TEST_TLS_H

#include <openssl/ssl.h>

#include "config/config.h"
#include "tls/tls.h"

#define LG_ALERT_NONE     (-1)
#define LG_ALERT_BAD_NAME 112 /* unrecognized_name */
#define LG_ALERT_VERSION  70  /* protocol_version */

/*
 * The path of file `name` of the test PKI ("ec.pem", "ca.pem", ...), harness-owned. The PKI is
 * made once into the build directory (build/test-pki) and shared by every test process; a
 * failure to make it fails the test.
 */
const char *lg_test_pki(const char *name);

/*
 * A temp dir (harness-owned) made by make_ocsp_pki.sh: leaves whose AIA names an OCSP responder
 * on 127.0.0.1:`port` and localhost:`port`, their responder index and DER responses.
 */
const char *lg_test_ocsp_pki(int port);

/* A certificates entry for the PKI's NAME.pem and KEY.key (key NULL: NAME.key), indented. */
const char *lg_test_cert_entry(const char *name, const char *key);
/*
 * The text of a configuration with one listener `name` of `mode` (http or tcp, on 127.0.0.1:0)
 * whose tls mapping is `tls` (lines indented by 6), harness-owned.
 */
const char *lg_test_tls_yaml(const char *name, const char *mode, const char *tls);
/*
 * That configuration as a file (in a temp dir); its path, harness-owned.
 */
const char *lg_test_tls_conf(const char *name, const char *mode, const char *tls);
/* That file loaded and built by lg_tls_load(); the test fails with the errors otherwise. */
lg_config_t *lg_test_tls_load(const char *name, const char *mode, const char *tls);
/* The context of the first listener. */
lg_tls_ctx_t *lg_test_tls_ctx(lg_config_t *cf);

/* What the client of a handshake does. */
typedef struct lg_hs_client {
    const char *sni;
    const char *sigalgs; /* NULL: OpenSSL's */
    int version;         /* 0: any, else the only one offered (TLS1_1_VERSION, ...) */
    const unsigned char *alpn;
    unsigned alpn_len;
    const char *cert;     /* client certificate: NAME of NAME.pem and NAME.key in the PKI */
    SSL_SESSION *session; /* to resume */
    int status_request;   /* ask for the certificate's OCSP status */
    int no_verify;        /* accept any server certificate (a self-signed placeholder) */
} lg_hs_client_t;

typedef struct lg_hs_result {
    int ok;
    int alert;          /* the first alert the client received, or LG_ALERT_NONE */
    lg_tls_info_t info; /* info.sni points into `sni` */
    char sni[256];
    char leaf_cn[256];    /* the certificate the client was served */
    int leaf_kind;        /* its key type, EVP_PKEY_EC or EVP_PKEY_RSA */
    long stapled;         /* bytes of the OCSP response stapled, -1 when none */
    SSL_SESSION *session; /* the client's, to resume with; free with SSL_SESSION_free */
    char alpn[32];        /* the protocol agreed, as the client saw it; "" when none */
    char leaf_sans[256];  /* the served certificate's DNS names, "a,b" */
    int self_signed;      /* the served certificate is its own issuer */
} lg_hs_result_t;

/*
 * One handshake with a server SSL from lg_tls_session_new(t); both sides run until both are
 * done or one fails (bounded), then one byte goes to the client (which reads TLS 1.3 tickets).
 */
void lg_test_handshake(lg_tls_ctx_t *t, const lg_hs_client_t *c, lg_hs_result_t *r);

#endif
