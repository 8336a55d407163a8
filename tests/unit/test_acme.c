/*
 * Unit tests of the ACME client's pieces: base64url, JWK thumbprint (RFC 7638's example), the
 * JWS verified by OpenSSL against the JWK it carries, the server's documents (problem,
 * directory, order, authorization), the CSR and the tls-alpn-01 certificate (RFC 8737).
 */
#include <criterion/criterion.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "acme/doc.h"
#include "acme/jws.h"
#include "acme/x509.h"
#include "core/lg.h"

/* base64url (no padding) decoded into a malloc'd buffer. */
static unsigned char *unb64url(const char *s, size_t *len)
{
    size_t n = strlen(s), padded = (n + 3) / 4 * 4;
    char *t = calloc(padded + 1, 1);
    unsigned char *out = calloc(padded, 1);
    int k;

    for (size_t i = 0; i < padded; i++)
        t[i] = i >= n ? '=' : s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    k = EVP_DecodeBlock(out, (unsigned char *)t, (int)padded);
    cr_assert_geq(k, 0, "not base64url: %s", s);
    *len = (size_t)k - (padded - n);
    free(t);
    return out;
}

Test(acme, base64url)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"", 0, ""},
        {"f", 1, "Zg"},
        {"fo", 2, "Zm8"},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg"},
        {"\xfb\xff", 2, "-_8"},
        {"\xff\xff\xfe", 3, "___-"},
    };
    char out[16];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(
            lg_acme_b64url((const unsigned char *)cases[i].in, cases[i].len, out, sizeof(out)),
            strlen(cases[i].out));
        cr_expect_str_eq(out, cases[i].out);
    }
    cr_expect_eq(lg_acme_b64url((const unsigned char *)"foo", 3, out, 4), 0, "too small");
}

Test(acme, thumbprint_of_rfc7638_example)
{
    json_t *jwk = json_pack(
        "{s:s, s:s, s:s}", "kty", "RSA", "e", "AQAB", "n",
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
        "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
        "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw");
    char thumb[LG_ACME_THUMB_LEN + 1];

    cr_assert_eq(lg_acme_thumbprint(jwk, thumb), LG_OK);
    cr_expect_str_eq(thumb, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    json_decref(jwk);
}

/* The public key a P-256 JWK describes. */
static EVP_PKEY *key_of_jwk(const json_t *jwk)
{
    size_t xl, yl;
    unsigned char *x = unb64url(json_string_value(json_object_get(jwk, "x")), &xl);
    unsigned char *y = unb64url(json_string_value(json_object_get(jwk, "y")), &yl);
    unsigned char point[65] = {0x04};
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;

    cr_assert_eq(xl, 32);
    cr_assert_eq(yl, 32);
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    params = OSSL_PARAM_BLD_to_param(b);
    cr_assert_eq(EVP_PKEY_fromdata_init(ctx), 1);
    cr_assert_eq(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    free(x);
    free(y);
    return k;
}

/* Verify the raw r||s signature over "protected.payload" with `pub`. */
static int verify(EVP_PKEY *pub, const char *prot, const char *payload, const char *sig64)
{
    size_t len, dlen;
    unsigned char *raw = unb64url(sig64, &len), *der = NULL;
    char *input = malloc(strlen(prot) + strlen(payload) + 2);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok;

    cr_assert_eq(len, 64, "ES256 signatures are 64 bytes (r || s)");
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
    dlen = (size_t)i2d_ECDSA_SIG(sig, &der);
    sprintf(input, "%s.%s", prot, payload);
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
         EVP_DigestVerify(md, der, dlen, (unsigned char *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(md);
    ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    free(raw);
    free(input);
    return ok;
}

static json_t *decode_json(const char *b64)
{
    size_t len;
    unsigned char *s = unb64url(b64, &len);
    json_t *j = json_loadb((char *)s, len, 0, NULL);

    free(s);
    return j;
}

Test(acme, jws_verifies_against_its_jwk_and_kid_replaces_it)
{
    EVP_PKEY *key = lg_acme_key_new(), *pub;
    char *text = lg_acme_jws(key, NULL, "nonce-1", "https://ca.test/new-acct", "{\"a\":1}");
    json_t *jws = json_loads(text, 0, NULL), *prot, *jwk = lg_acme_jwk(key);
    const char *p64 = json_string_value(json_object_get(jws, "protected"));
    const char *pay64 = json_string_value(json_object_get(jws, "payload"));
    size_t len;
    unsigned char *payload = unb64url(pay64, &len);

    prot = decode_json(p64);
    cr_assert_not_null(prot);
    cr_expect_str_eq(json_string_value(json_object_get(prot, "alg")), "ES256");
    cr_expect_str_eq(json_string_value(json_object_get(prot, "nonce")), "nonce-1");
    cr_expect_str_eq(json_string_value(json_object_get(prot, "url")), "https://ca.test/new-acct");
    cr_expect(json_equal(json_object_get(prot, "jwk"), jwk));
    cr_expect_null(json_object_get(prot, "kid"));
    cr_expect(len == 7 && memcmp(payload, "{\"a\":1}", 7) == 0);
    pub = key_of_jwk(json_object_get(prot, "jwk"));
    cr_expect(verify(pub, p64, pay64, json_string_value(json_object_get(jws, "signature"))));
    cr_expect(!verify(pub, p64, "e30", json_string_value(json_object_get(jws, "signature"))),
              "a changed payload still verifies");
    json_decref(prot);
    json_decref(jws);
    free(text);
    free(payload);

    text = lg_acme_jws(key, "https://ca.test/acct/1", "nonce-2", "https://ca.test/order", "");
    jws = json_loads(text, 0, NULL);
    prot = decode_json(json_string_value(json_object_get(jws, "protected")));
    cr_expect_str_eq(json_string_value(json_object_get(prot, "kid")), "https://ca.test/acct/1");
    cr_expect_null(json_object_get(prot, "jwk"));
    cr_expect_str_eq(json_string_value(json_object_get(jws, "payload")), "", "POST-as-GET");
    cr_expect(verify(pub, json_string_value(json_object_get(jws, "protected")), "",
                     json_string_value(json_object_get(jws, "signature"))));
    json_decref(prot);
    json_decref(jws);
    json_decref(jwk);
    free(text);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
}

Test(acme, problem_documents)
{
    static const struct {
        const char *body;
        int rc;
        const char *line;
    } cases[] = {
        {"{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"bad CSR\"}", LG_OK,
         "urn:ietf:params:acme:error:malformed: bad CSR"},
        {"{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"no\","
         "\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:caa\",\"detail\":\"CAA\","
         "\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"}},{\"type\":7}]}",
         LG_OK,
         "urn:ietf:params:acme:error:rejectedIdentifier: no; a.test: "
         "urn:ietf:params:acme:error:caa: CAA; ?: (unreadable)"},
        {"{\"detail\":\"only a detail\"}", LG_OK, "about:blank: only a detail"},
        {"{\"type\":\"urn:x\"}", LG_OK, "urn:x: (no detail)"},
        {"{}", LG_ERR, "no problem document"},
        {"[1,2]", LG_ERR, "no problem document"},
        {"<html>", LG_ERR, "no problem document"},
        {"{\"type\":\"a\",\"type\":\"b\"}", LG_ERR, "no problem document"},
        {"", LG_ERR, "no problem document"},
    };
    char out[LG_ACME_PROBLEM_MAX], small[16];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(lg_acme_problem(cases[i].body, strlen(cases[i].body), out, sizeof(out)),
                     cases[i].rc, "%s", cases[i].body);
        cr_expect_str_eq(out, cases[i].line);
    }
    cr_expect_eq(lg_acme_problem(cases[0].body, strlen(cases[0].body), small, sizeof(small)),
                 LG_OK);
    cr_expect_str_eq(small, "urn:ietf:params", "cut to the buffer");
}

Test(acme, directory_order_and_authorization)
{
    static const char dir[] = "{\"newNonce\":\"https://c/nonce\",\"newAccount\":\"https://c/acct\","
                              "\"newOrder\":\"https://c/order\",\"meta\":{}}";
    static const char order[] = "{\"status\":\"invalid\",\"authorizations\":[\"https://c/a/1\","
                                "\"https://c/a/2\"],\"finalize\":\"https://c/f\",\"error\":"
                                "{\"type\":\"urn:t\",\"detail\":\"d\"}}";
    static const char authz[] = "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
                                "\"value\":\"a.test\"},\"challenges\":[{\"type\":\"dns-01\","
                                "\"url\":\"https://c/c/0\",\"token\":\"t0\"},{\"type\":\"http-01\","
                                "\"url\":\"https://c/c/1\",\"token\":\"t1\"}]}";
    static const char valid[] = "{\"status\":\"valid\",\"identifier\":{\"value\":\"a.test\"},"
                                "\"challenges\":[]}";
    lg_acme_dir_t d;
    lg_acme_order_doc_t o;
    lg_acme_authz_doc_t a;

    cr_assert_eq(lg_acme_dir_parse(dir, strlen(dir), &d), LG_OK);
    cr_expect_str_eq(d.new_order, "https://c/order");
    lg_acme_dir_free(&d);
    cr_expect_eq(lg_acme_dir_parse("{\"newNonce\":\"x\"}", 15, &d), LG_ERR);
    cr_assert_eq(lg_acme_order_parse(order, strlen(order), &o), LG_OK);
    cr_expect_eq(o.nauthz, 2);
    cr_expect_str_eq(o.authz[1], "https://c/a/2");
    cr_expect_str_eq(o.problem, "urn:t: d");
    cr_expect_null(o.certificate);
    lg_acme_order_doc_free(&o);
    cr_expect_eq(lg_acme_order_parse("{\"status\":\"valid\",\"authorizations\":[1]}", 38, &o),
                 LG_ERR);
    cr_assert_eq(lg_acme_authz_parse(authz, strlen(authz), "http-01", &a), LG_OK);
    cr_expect_str_eq(a.token, "t1");
    cr_expect_str_eq(a.name, "a.test");
    lg_acme_authz_doc_free(&a);
    cr_expect_eq(lg_acme_authz_parse(authz, strlen(authz), "tls-alpn-01", &a), LG_ERR);
    cr_expect_eq(lg_acme_authz_parse(valid, strlen(valid), "tls-alpn-01", &a), LG_OK,
                 "a valid authorization needs no challenge");
    lg_acme_authz_doc_free(&a);
}

Test(acme, tls_alpn01_certificate_carries_the_key_authorization_digest)
{
    unsigned char *cert, *key, md[32];
    size_t clen, klen;
    const unsigned char *p;
    X509 *x;
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    X509_EXTENSION *e;
    const ASN1_OCTET_STRING *v;
    unsigned char want[34] = {0x04, 0x20};

    cr_assert_eq(lg_acme_alpn_cert("a.test", "tok.thumb", &cert, &clen, &key, &klen), LG_OK);
    p = cert;
    x = d2i_X509(NULL, &p, (long)clen);
    cr_assert_not_null(x);
    cr_expect_eq(X509_check_host(x, "a.test", 0, 0, NULL), 1);
    e = X509_get_ext(x, X509_get_ext_by_OBJ(x, oid, -1));
    cr_assert_not_null(e, "no acmeIdentifier extension");
    cr_expect(X509_EXTENSION_get_critical(e));
    v = X509_EXTENSION_get_data(e);
    EVP_Digest("tok.thumb", 9, md, NULL, EVP_sha256(), NULL);
    memcpy(want + 2, md, 32);
    cr_expect(ASN1_STRING_length(v) == 34 && memcmp(ASN1_STRING_get0_data(v), want, 34) == 0,
              "not the DER OCTET STRING of SHA-256(keyauth)");
    X509_free(x);
    ASN1_OBJECT_free(oid);
    OPENSSL_free(cert);
    OPENSSL_free(key);
}

Test(acme, csr_names_and_chain_check)
{
    char *names[] = {"a.test", "b.test"};
    EVP_PKEY *k = lg_acme_key_new(), *other = lg_acme_key_new();
    char *csr64 = lg_acme_csr(k, names, 2), *pem, *other_pem, why[256];
    size_t len, plen, olen;
    unsigned char *der = unb64url(csr64, &len);
    const unsigned char *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    STACK_OF(X509_EXTENSION) * exts;
    GENERAL_NAMES *san;
    int64_t nb, na;

    cr_assert_not_null(req);
    cr_expect_eq(X509_REQ_verify(req, k), 1);
    exts = X509_REQ_get_extensions(req);
    san = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    cr_assert_not_null(san);
    cr_expect_eq(sk_GENERAL_NAME_num(san), 2);
    GENERAL_NAMES_free(san);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);

    pem = lg_acme_key_pem(k, &plen);
    other_pem = lg_acme_key_pem(other, &olen);
    cr_expect_eq(lg_acme_chain_check("junk", 4, pem, plen, names, 2, &nb, &na, why, sizeof(why)),
                 LG_ERR);
    cr_expect_str_eq(why, "the certificate does not parse");
    cr_expect_not_null(lg_acme_key_parse(other_pem, olen));
    cr_expect_null(lg_acme_key_parse("junk", 4));
    X509_REQ_free(req);
    free(der);
    free(csr64);
    free(pem);
    free(other_pem);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}
