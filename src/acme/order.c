/*
 * order.c - one certificate obtained by RFC 8555's flow, one request at a time:
 *
 *   directory -> newAccount (once per account) -> newOrder -> for each authorization: read it,
 *   publish the challenge (http-01 token or tls-alpn-01 certificate), POST {} to the challenge,
 *   poll the authorization -> finalize with a CSR -> poll the order -> download the chain.
 *
 * Every signed request takes the account's one spare nonce (a newNonce fetch first when there
 * is none); every response leaves its Replay-Nonce as the spare; a badNonce is retried once.
 * A response is read after the batch of events (https.h), so the next request starts from it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme-int.h"
#include "acme/x509.h"
#include "core/lg.h"
#include "core/log.h"

#define LG_ACME_POLL_MS      1000 /* between polls, when the server does not say */
#define LG_ACME_POLL_MAX_MS  60000
#define LG_ACME_BAD_NONCE    "urn:ietf:params:acme:error:badNonce"
#define LG_ACME_HTTP_ERROR   400
#define LG_ACME_KEYAUTH_SIZE (LG_ACME_TOKEN_MAX + LG_ACME_THUMB_LEN + 2)

enum {
    ST_DIR,
    ST_NONCE,
    ST_ACCOUNT,
    ST_ORDER,
    ST_AUTHZ,
    ST_CHALLENGE,
    ST_POLL_AUTHZ,
    ST_FINALIZE,
    ST_POLL_ORDER,
    ST_DOWNLOAD,
    ST_WAIT, /* no request: polling later */
};

static const char *const step_name[] = {
    "directory", "newNonce",      "newAccount", "newOrder", "authorization",
    "challenge", "authorization", "finalize",   "order",    "certificate download",
    "wait",
};

static void order_done(lg_acme_req_t *r, const char *why);

/* The order ends in failure: `fmt` (up to three %s) says why. */
static void order_fail(lg_acme_mc_t *mc, int invalid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void order_fail(lg_acme_mc_t *mc, int invalid, const char *fmt, ...)
{
    char why[LG_ACME_PROBLEM_MAX + 2 * LG_ACME_WHY_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    lg_acme_order_clear(mc);
    lg_acme_order_end(mc, NULL, 0, NULL, 0, why, invalid);
}

static void send_req(lg_acme_mc_t *mc, const char *method, const char *url, const char *body,
                     int step)
{
    mc->step = step;
    mc->req.done = order_done;
    lg_acme_https_send(&mc->req, mc->acct->ctx, method, url, body);
}

/* Sign the request under way (mc->url, mc->payload) with the spare nonce, or fetch one first. */
static void post_send(lg_acme_mc_t *mc, int step)
{
    lg_acme_acct_t *a = mc->acct;
    char *jws;

    if (a->dir.new_nonce == NULL) { /* a reload changed the directory or storage meanwhile */
        order_fail(mc, 0, "%s: the acme section changed during the order", step_name[step]);
        return;
    }
    if (a->nonce[0] == '\0') {
        mc->wait_step = step;
        send_req(mc, "GET", a->dir.new_nonce, NULL, ST_NONCE);
        return;
    }
    jws = lg_acme_jws(a->key, step == ST_ACCOUNT ? NULL : a->kid, a->nonce, mc->url, mc->payload);
    a->nonce[0] = '\0';
    if (jws == NULL) {
        order_fail(mc, 0, "%s: signing failed", step_name[step]);
        return;
    }
    send_req(mc, "POST", mc->url, jws, step);
    free(jws);
}

/* A signed POST of `payload` ("" for POST-as-GET) to `url`. */
static void post(lg_acme_mc_t *mc, const char *url, const char *payload, int step)
{
    free(mc->url);
    free(mc->payload);
    mc->url = strdup(url);
    mc->payload = strdup(payload);
    mc->bad_nonce = 0;
    if (mc->url == NULL || mc->payload == NULL) {
        order_fail(mc, 0, "%s: out of memory", step_name[step]);
        return;
    }
    post_send(mc, step);
}

static void wait_then(lg_acme_mc_t *mc, lg_msec_t retry_after, int step)
{
    mc->step = ST_WAIT;
    mc->wait_step = step;
    mc->wake =
        lg_now + (retry_after != 0 ? LG_MIN(retry_after, LG_ACME_POLL_MAX_MS) : LG_ACME_POLL_MS);
}

static void next_authz(lg_acme_mc_t *mc);

/* The challenge of the authorization read: publish it, then tell the server to check. */
static void challenge(lg_acme_mc_t *mc)
{
    char keyauth[LG_ACME_KEYAUTH_SIZE];
    unsigned char *cert = NULL, *key = NULL;
    size_t clen = 0, klen = 0;
    int rc;

    if (strlen(mc->az.token) >= LG_ACME_TOKEN_MAX) {
        order_fail(mc, 0, "%s: the challenge token is too long", mc->az.name);
        return;
    }
    snprintf(keyauth, sizeof(keyauth), "%s.%s", mc->az.token, mc->acct->thumb);
    if (mc->acct->challenge == LG_ACME_HTTP01) {
        rc = lg_acme_http01_add(mc->az.token, keyauth);
        mc->published = rc == LG_OK ? strdup(mc->az.token) : NULL;
    } else {
        rc = lg_acme_alpn_cert(mc->az.name, keyauth, &cert, &clen, &key, &klen);
        rc = rc == LG_OK ? lg_acme_alpn01_add(mc->az.name, cert, clen, key, klen) : LG_ERR;
        mc->published = rc == LG_OK ? strdup(mc->az.name) : NULL;
        OPENSSL_free(cert);
        OPENSSL_clear_free(key, klen);
    }
    if (rc != LG_OK) {
        order_fail(mc, 0, "%s: the challenge could not be published", mc->az.name);
        return;
    }
    post(mc, mc->az.url, "{}", ST_CHALLENGE);
}

static void unpublish(lg_acme_mc_t *mc)
{
    if (mc->published == NULL)
        return;
    if (mc->acct->challenge == LG_ACME_HTTP01)
        lg_acme_http01_del(mc->published);
    else
        lg_acme_alpn01_del(mc->published);
    free(mc->published);
    mc->published = NULL;
}

/* An authorization read (first time or polled). */
static void authz_read(lg_acme_mc_t *mc, const lg_acme_rsp_t *r)
{
    static const char *const type[] = {"http-01", "tls-alpn-01"};

    lg_acme_authz_doc_free(&mc->az);
    if (lg_acme_authz_parse(r->body, r->len, type[mc->acct->challenge], &mc->az) != LG_OK) {
        order_fail(mc, 0, "authorization %s: unreadable or no %s challenge offered",
                   mc->order.authz[mc->authz], type[mc->acct->challenge]);
        return;
    }
    if (strcmp(mc->az.status, "valid") == 0) {
        unpublish(mc);
        mc->authz++;
        next_authz(mc);
    } else if (strcmp(mc->az.status, "pending") == 0 && mc->step == ST_AUTHZ) {
        challenge(mc);
    } else if (strcmp(mc->az.status, "pending") == 0) {
        wait_then(mc, r->retry_after, ST_POLL_AUTHZ);
    } else {
        order_fail(mc, 1, "%s: authorization %s", mc->az.name,
                   mc->az.problem[0] != '\0' ? mc->az.problem : mc->az.status);
    }
}

static void finalize(lg_acme_mc_t *mc)
{
    char *csr, *payload;

    EVP_PKEY_free(mc->cert_key);
    mc->cert_key = lg_acme_key_new();
    csr = mc->cert_key != NULL ? lg_acme_csr(mc->cert_key, mc->names, mc->n) : NULL;
    payload = csr != NULL ? malloc(strlen(csr) + sizeof("{\"csr\":\"\"}")) : NULL;
    if (payload == NULL) {
        free(csr);
        order_fail(mc, 0, "the CSR could not be made");
        return;
    }
    sprintf(payload, "{\"csr\":\"%s\"}", csr);
    post(mc, mc->order.finalize, payload, ST_FINALIZE);
    free(csr);
    free(payload);
}

static void next_authz(lg_acme_mc_t *mc)
{
    if (mc->authz < mc->order.nauthz)
        post(mc, mc->order.authz[mc->authz], "", ST_AUTHZ);
    else
        finalize(mc);
}

/* The order as the server returned it (newOrder, finalize, polled). */
static void order_read(lg_acme_mc_t *mc, const lg_acme_rsp_t *r)
{
    lg_acme_order_doc_free(&mc->order);
    if (lg_acme_order_parse(r->body, r->len, &mc->order) != LG_OK) {
        order_fail(mc, 0, "%s: the order is unreadable", step_name[mc->step]);
        return;
    }
    if (strcmp(mc->order.status, "invalid") == 0)
        order_fail(mc, 1, "the order is invalid: %s",
                   mc->order.problem[0] != '\0' ? mc->order.problem : "no problem document");
    else if (mc->step == ST_ORDER)
        next_authz(mc);
    else if (strcmp(mc->order.status, "valid") == 0 && mc->order.certificate != NULL)
        post(mc, mc->order.certificate, "", ST_DOWNLOAD);
    else if (strcmp(mc->order.status, "processing") == 0 || strcmp(mc->order.status, "ready") == 0)
        wait_then(mc, r->retry_after, ST_POLL_ORDER);
    else
        order_fail(mc, 0, "the order is %s after finalize", mc->order.status);
}

static void download(lg_acme_mc_t *mc, const lg_acme_rsp_t *r)
{
    char why[LG_ACME_WHY_MAX];
    size_t klen = 0;
    char *key = lg_acme_key_pem(mc->cert_key, &klen);
    int64_t nb, na;

    if (key == NULL || lg_acme_chain_check(r->body, r->len, key, klen, mc->names, mc->n, &nb, &na,
                                           why, sizeof(why)) != LG_OK) {
        free(key);
        order_fail(mc, 0, "the downloaded certificate is refused: %s",
                   key == NULL ? "no key" : why);
        return;
    }
    lg_acme_order_end(mc, r->body, r->len, key, klen, NULL, 0);
    OPENSSL_clear_free(key, klen);
    lg_acme_order_clear(mc);
}

static void account_read(lg_acme_mc_t *mc, const lg_acme_rsp_t *r)
{
    lg_acme_acct_t *a = mc->acct;

    a->registering = NULL;
    if (r->location[0] == '\0' || (a->kid = strdup(r->location)) == NULL) {
        order_fail(mc, 0, "newAccount: no account URL (Location) in the response");
        return;
    }
    lg_log(LG_LOG_INFO, "acme: account %s at %s", a->kid, a->directory);
    lg_acme_order_start(mc);
}

static void dir_read(lg_acme_mc_t *mc, const lg_acme_rsp_t *r)
{
    lg_acme_acct_t *a = mc->acct;
    char payload[LG_ACME_URL_MAX];

    lg_acme_dir_free(&a->dir);
    if (lg_acme_dir_parse(r->body, r->len, &a->dir) != LG_OK) {
        order_fail(mc, 0, "directory %s: not an ACME directory", a->directory);
        return;
    }
    if (a->email != NULL)
        snprintf(payload, sizeof(payload),
                 "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:%s\"]}", a->email);
    else
        snprintf(payload, sizeof(payload), "{\"termsOfServiceAgreed\":true}");
    post(mc, a->dir.new_account, payload, ST_ACCOUNT);
}

/* An error status: retry a badNonce once, else fail with the problem document. */
static void error_read(lg_acme_mc_t *mc, const lg_acme_rsp_t *r)
{
    char problem[LG_ACME_PROBLEM_MAX], status[16];

    lg_acme_problem(r->body, r->len, problem, sizeof(problem));
    if (strncmp(problem, LG_ACME_BAD_NONCE ":", sizeof(LG_ACME_BAD_NONCE)) == 0 && !mc->bad_nonce) {
        mc->bad_nonce = 1;
        post_send(mc, mc->step);
        return;
    }
    snprintf(status, sizeof(status), "HTTP %d", r->status);
    order_fail(mc, 0, "%s: %s: %s", step_name[mc->step], status, problem);
}

static void order_done(lg_acme_req_t *req, const char *why)
{
    lg_acme_mc_t *mc = (lg_acme_mc_t *)(void *)req;
    const lg_acme_rsp_t *r = &req->rsp;

    if (why != NULL) {
        order_fail(mc, 0, "%s: %s", step_name[mc->step], why);
        return;
    }
    if (r->nonce[0] != '\0')
        memcpy(mc->acct->nonce, r->nonce, sizeof(r->nonce));
    if (r->status >= LG_ACME_HTTP_ERROR) {
        error_read(mc, r);
        return;
    }
    switch (mc->step) {
    case ST_DIR:
        dir_read(mc, r);
        break;
    case ST_NONCE:
        post_send(mc, mc->wait_step);
        break;
    case ST_ACCOUNT:
        account_read(mc, r);
        break;
    case ST_ORDER:
        free(mc->order_url);
        mc->order_url = r->location[0] != '\0' ? strdup(r->location) : NULL;
        order_read(mc, r);
        break;
    case ST_AUTHZ:
    case ST_POLL_AUTHZ:
        authz_read(mc, r);
        break;
    case ST_CHALLENGE:
        wait_then(mc, r->retry_after, ST_POLL_AUTHZ);
        break;
    case ST_FINALIZE:
    case ST_POLL_ORDER:
        order_read(mc, r);
        break;
    default:
        download(mc, r);
        break;
    }
}

/* {"identifiers":[{"type":"dns","value":NAME},...]} */
static char *order_payload(const lg_acme_mc_t *mc)
{
    json_t *ids = json_array(), *o;
    char *s;

    for (size_t i = 0; i < mc->n; i++)
        json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value", mc->names[i]));
    o = json_pack("{s:o}", "identifiers", ids);
    s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

void lg_acme_order_start(lg_acme_mc_t *mc)
{
    lg_acme_acct_t *a = mc->acct;
    char *payload;

    if (a->kid == NULL && a->registering != NULL && a->registering != mc)
        return; /* another order registers the account: this one starts at a later tick */
    mc->running = 1;
    if (a->kid == NULL) {
        a->registering = mc;
        send_req(mc, "GET", a->directory, NULL, ST_DIR);
        return;
    }
    payload = order_payload(mc);
    if (payload == NULL) {
        order_fail(mc, 0, "newOrder: out of memory");
        return;
    }
    post(mc, a->dir.new_order, payload, ST_ORDER);
    free(payload);
}

void lg_acme_order_wake(lg_acme_mc_t *mc)
{
    if (mc->step != ST_WAIT || lg_now < mc->wake)
        return;
    if (mc->wait_step == ST_POLL_AUTHZ)
        post(mc, mc->order.authz[mc->authz], "", ST_POLL_AUTHZ);
    else
        post(mc, mc->order_url != NULL ? mc->order_url : "", "", ST_POLL_ORDER);
}

void lg_acme_order_clear(lg_acme_mc_t *mc)
{
    unpublish(mc);
    lg_acme_https_clear(&mc->req); /* the last response's buffer: none kept between orders */
    if (mc->acct != NULL && mc->acct->registering == mc)
        mc->acct->registering = NULL;
    free(mc->url);
    free(mc->payload);
    free(mc->order_url);
    mc->url = mc->payload = mc->order_url = NULL;
    lg_acme_order_doc_free(&mc->order);
    lg_acme_authz_doc_free(&mc->az);
    EVP_PKEY_free(mc->cert_key);
    mc->cert_key = NULL;
    mc->authz = 0;
    mc->step = ST_DIR;
}
