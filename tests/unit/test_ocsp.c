/*
 * test_ocsp.c - ocsp: auto without the network: how the master checks a responder's HTTP
 * answer (lg_ocsp_check, table-driven over what must be refused), and how workers staple what
 * the shared region holds (a handshake in memory), until it expires. The responses are those
 * make_ocsp_pki.sh has the intermediate sign (valid 1 day) about its good and revoked leaves,
 * and the one of make_pki.sh about its ec leaf, which its responder does not know.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "lg_test.h"
#include "lg_test_tls.h"
#include "tls/ocsp-int.h"

#define SEC_PER_HOUR 3600
#define ANY_PORT     9 /* in the certificates' AIA, never asked here */

static const char *dir;

static void pki(void)
{
    dir = lg_test_ocsp_pki(ANY_PORT);
}

/* Listener certificates: 0 good, 1 revoked, 2 the ec leaf of make_pki.sh. */
static lg_config_t *load(void)
{
    return lg_test_tls_load("web", "http",
                            lg_fmt("      certificates:\n"
                                   "        - {cert: %s/good.pem, key: %s/good.key}\n"
                                   "        - {cert: %s/revoked.pem, key: %s/revoked.key}\n%s",
                                   dir, dir, dir, dir, lg_test_cert_entry("ec", NULL)));
}

static char *response(const char *name, size_t *len)
{
    char *der = lg_test_read_file(name[0] == '/' ? name : lg_fmt("%s/%s", dir, name), len);

    cr_assert_not_null(der, "%s", name);
    return der;
}

/* A target about certificate `i` of the listener. */
static lg_ocsp_target_t target(lg_config_t *cf, size_t i)
{
    const lg_tls_cert_t *c = &lg_test_tls_ctx(cf)->certs[i];

    return (lg_ocsp_target_t){
        .name = "t", .leaf = c->x509, .chain = c->chain, .issuer = sk_X509_value(c->chain, 0)};
}

static const char *http(const char *head, const char *body, size_t blen, size_t *len)
{
    char *out = lg_fmt("%s%*s", head, (int)blen, "");

    memcpy(out + strlen(head), body, blen);
    *len = strlen(head) + blen;
    return out;
}

Test(ocsp, response_from_the_issuer_is_good_with_its_next_update, .init = pki)
{
    lg_config_t *cf = load();
    lg_ocsp_target_t tg = target(cf, 0);
    size_t dlen, len;
    char *der = response("good.ocsp", &dlen);
    const char *rsp = http(lg_fmt("HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"
                                  "Content-Length: %zu\r\n\r\n",
                                  dlen),
                           der, dlen, &len);
    char why[256] = "";
    lg_ocsp_result_t r;

    cr_assert_eq(lg_ocsp_check(&tg, (const unsigned char *)rsp, len, &r, why, sizeof(why)), LG_OK,
                 "%s", why);
    cr_assert_eq(r.len, dlen);
    cr_assert_eq(memcmp(r.der, der, dlen), 0);
    cr_assert_eq(r.revoked, 0);
    cr_assert_eq(r.refresh_ms, SEC_PER_HOUR * 1000); /* a day left: the longest interval */
    cr_assert_gt(r.expires, (int64_t)time(NULL) + 23 * SEC_PER_HOUR);
    cr_assert_eq(strlen(r.next_update), strlen("2026-12-10T00:00:00Z"), "%s", r.next_update);
    OPENSSL_free(r.der);
    free(der);

    /* revoked: accepted, to be stapled as it is */
    tg = target(cf, 1);
    der = response("revoked.ocsp", &dlen);
    rsp = http("HTTP/1.0 200 OK\r\n\r\n", der, dlen, &len);
    cr_assert_eq(lg_ocsp_check(&tg, (const unsigned char *)rsp, len, &r, why, sizeof(why)), LG_OK,
                 "%s", why);
    cr_assert_eq(r.revoked, 1);
    OPENSSL_free(r.der);
    free(der);
    lg_config_free(cf);
}

typedef struct refusal {
    const char *head; /* %zu: the body's length */
    const char *body; /* a response file, NULL: not DER */
    size_t cert;      /* of load() */
    const char *why;
} refusal_t;

Test(ocsp, responses_refused_and_why, .init = pki)
{
    static const refusal_t cases[] = {
        {"HTTP/1.0 404 Not Found\r\n\r\n", "good.ocsp", 0, "HTTP status 404"},
        {"SMTP 200\r\n\r\n", "good.ocsp", 0, "not an HTTP response"},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0", "good.ocsp", 0, "not an HTTP response"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "good.ocsp", 0,
         "a Transfer-Encoding answer to HTTP/1.0"},
        {"HTTP/1.0 200 OK\r\nContent-Length: 9999\r\n\r\n", "good.ocsp", 0,
         "body bytes where Content-Length says 9999"},
        {"HTTP/1.0 200 OK\r\n\r\n", NULL, 0, "not a DER OCSP response (OpenSSL: "},
        {"HTTP/1.0 200 OK\r\n\r\n", "good.ocsp", 1, "the response is not about this certificate"},
        {"HTTP/1.0 200 OK\r\n\r\n", "/ec.ocsp", 2, "certificate status \"unknown\""},
    };
    lg_config_t *cf = load();
    size_t dlen, len;

    for (size_t i = 0; i < LG_NELEMS(cases); i++) {
        const refusal_t *c = &cases[i];
        lg_ocsp_target_t tg = target(cf, c->cert);
        char *der = c->body == NULL
                        ? NULL
                        : response(c->body[0] == '/' ? lg_test_pki(c->body + 1) : c->body, &dlen);
        const char *rsp = der != NULL ? http(c->head, der, dlen, &len)
                                      : http(c->head, "\x30\x03garbage", 9, &len);
        char why[256] = "";
        lg_ocsp_result_t r;

        cr_assert_eq(lg_ocsp_check(&tg, (const unsigned char *)rsp, len, &r, why, sizeof(why)),
                     LG_ERR, "case %zu", i);
        cr_assert_not_null(strstr(why, c->why), "case %zu: %s", i, why);
        cr_assert_null(r.der);
        free(der);
    }
    lg_config_free(cf);
}

Test(ocsp, workers_staple_the_region_until_the_response_expires, .init = pki)
{
    lg_config_t *cf = load();
    lg_tls_ctx_t *t = lg_test_tls_ctx(cf);
    unsigned char key[LG_OCSP_KEY_LEN] = "test_ocsp.c: a key of its own";
    size_t dlen;
    char *der = response("good.ocsp", &dlen);
    int fresh, slot;
    lg_hs_result_t r;
    const lg_hs_client_t ec = {.status_request = 1, .sigalgs = "ECDSA+SHA256"};

    cr_assert_eq(lg_tls_staple_create(), LG_OK);
    slot = lg_tls_staple_take(key, &fresh);
    cr_assert_geq(slot, 0);
    cr_assert_eq(fresh, 1);
    t->certs[0].ocsp_slot = slot + 1;

    /* nothing fetched yet: nothing stapled */
    lg_test_handshake(t, &ec, &r);
    cr_assert(r.ok);
    cr_assert_eq(r.stapled, -1);
    SSL_SESSION_free(r.session);

    lg_tls_staple_write(slot, (const unsigned char *)der, dlen, (int64_t)time(NULL) + 60);
    lg_test_handshake(t, &ec, &r);
    cr_assert_eq(r.stapled, (long)dlen);
    SSL_SESSION_free(r.session);

    /* past its nextUpdate: no longer stapled, even before the master empties the slot */
    lg_tls_staple_write(slot, (const unsigned char *)der, dlen, (int64_t)time(NULL) - 1);
    lg_test_handshake(t, &ec, &r);
    cr_assert_eq(r.stapled, -1);
    SSL_SESSION_free(r.session);

    /* the same certificate again: the slot and its response are shared, not made anew */
    cr_assert_eq(lg_tls_staple_take(key, &fresh), slot);
    cr_assert_eq(fresh, 0);
    cr_assert_eq(lg_tls_staple_drop(slot), 0);
    cr_assert_eq(lg_tls_staple_drop(slot), 1);
    t->certs[0].ocsp_slot = 0;
    free(der);
    lg_config_free(cf);
}
