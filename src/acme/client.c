/*
 * client.c - the master's ACME client: which certificates it manages and when it orders them.
 *
 * A managed certificate (an `acme: [names]` entry) lives in mcs[] at the index of its slot of
 * the shared region, for as long as the master runs: an event of this batch for an order that
 * just ended always finds its memory. A tick starts the orders that are due, at most
 * LG_ACME_PARALLEL at once, fails requests past their deadline and wakes polling orders.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/acme-int.h"
#include "acme/client.h"
#include "acme/store.h"
#include "acme/x509.h"
#include "core/lg.h"
#include "core/log.h"
#include "health/dns.h"

#define LG_ACME_TICK_MS      500
#define LG_ACME_PARALLEL     4 /* orders under way at once */
#define LG_ACME_RETRY_MIN_MS 60000
#define LG_ACME_RETRY_MAX_MS 3600000
#define LG_ACME_MS_PER_S     1000
#define LG_ACME_DATE_MAX     32

static lg_acme_mc_t mcs[LG_ACME_CERT_SLOTS];
static lg_acme_acct_t acct;
static lg_timerq_t tick_q;
static lg_timer_t tick;
static uint64_t orders[LG_ACME_RESULTS];

/*
 * When to renew: renew_before ahead of notAfter. A certificate just obtained that is already
 * within renew_before (it lives less than that) is renewed when a third of its life is left
 * instead, so that a short-lived certificate is not ordered again and again.
 */
static void schedule(lg_acme_mc_t *mc, lg_msec_t renew_before, int fresh)
{
    int64_t life = mc->not_after - mc->not_before, wall = (int64_t)time(NULL);
    int64_t before = (int64_t)(renew_before / LG_ACME_MS_PER_S);

    if (fresh && mc->not_after - wall <= before) {
        lg_log(LG_LOG_WARN,
               "acme: %s: the new certificate lives %lld s, within renew_before (%lld s): "
               "renewed when a third of its life is left",
               mc->names[0], (long long)life, (long long)before);
        before = life / 3;
    }
    mc->due = mc->not_after - before;
}

/* A chain and key checked for mc's names: served from now on. */
static int serve(lg_acme_mc_t *mc, const char *chain, size_t clen, const char *key, size_t klen,
                 char *why, size_t wlen)
{
    int64_t nb, na;

    if (lg_acme_chain_check(chain, clen, key, klen, mc->names, mc->n, &nb, &na, why, wlen) != LG_OK)
        return LG_ERR;
    if (lg_acme_cert_publish(mc->slot, chain, clen, key, klen, na) != LG_OK) {
        snprintf(why, wlen, "too large to publish");
        return LG_ERR;
    }
    mc->not_before = nb;
    mc->not_after = na;
    return LG_OK;
}

/* First sight of a certificate: serve what storage holds when it is valid, else order now. */
static void load_stored(lg_acme_mc_t *mc, const lg_acme_conf_t *ac)
{
    char *chain, *key, why[LG_ACME_WHY_MAX], path[LG_ACME_URL_MAX];
    size_t clen, klen;
    int64_t wall = (int64_t)time(NULL);

    mc->due = wall;
    if (lg_acme_store_load(ac->storage, mc->names[0], &chain, &clen, &key, &klen) != LG_OK) {
        lg_log(LG_LOG_INFO, "acme: %s: no certificate in %s: ordering one", mc->names[0],
               ac->storage);
        return;
    }
    if (serve(mc, chain, clen, key, klen, why, sizeof(why)) != LG_OK) {
        lg_acme_store_path(ac->storage, mc->names[0], "crt", path, sizeof(path));
        lg_log(LG_LOG_ERR,
               "acme: %s: the stored certificate %s is unusable (%s): replaced by a "
               "new order",
               mc->names[0], path, why);
    } else if (mc->not_after <= wall) {
        lg_log(LG_LOG_WARN, "acme: %s: the stored certificate expired: ordering a new one",
               mc->names[0]);
    } else {
        schedule(mc, ac->renew_before, 0);
        lg_log(LG_LOG_INFO, "acme: %s: serving the stored certificate, renewed in %lld s",
               mc->names[0], (long long)(mc->due > wall ? mc->due - wall : 0));
    }
    free(chain);
    OPENSSL_clear_free(key, klen);
}

/* "2026-12-04T10:00:00Z" */
static const char *utc(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)t);
    return buf;
}

void lg_acme_order_end(lg_acme_mc_t *mc, const char *chain, size_t chain_len, const char *key,
                       size_t key_len, const char *why, int invalid)
{
    char refused[LG_ACME_WHY_MAX], date[LG_ACME_DATE_MAX];
    int64_t wall = (int64_t)time(NULL);

    mc->running = 0;
    if (why == NULL && serve(mc, chain, chain_len, key, key_len, refused, sizeof(refused)) != LG_OK)
        why = refused;
    if (why != NULL) {
        orders[invalid ? LG_ACME_INVALID : LG_ACME_ERROR]++;
        snprintf(mc->error, sizeof(mc->error), "%s", why);
        mc->retry =
            mc->retry == 0 ? LG_ACME_RETRY_MIN_MS : LG_MIN(mc->retry * 2, LG_ACME_RETRY_MAX_MS);
        mc->due = wall + (int64_t)(mc->retry / LG_ACME_MS_PER_S);
        lg_log(LG_LOG_WARN, "acme: %s: order failed: %s; %s, next try in %llu s", mc->names[0], why,
               mc->not_after != 0 ? "the previous certificate keeps serving"
                                  : "the placeholder keeps serving",
               (unsigned long long)(mc->retry / LG_ACME_MS_PER_S));
        return;
    }
    orders[LG_ACME_VALID]++;
    mc->error[0] = '\0';
    mc->retry = 0;
    mc->renewed = wall;
    lg_acme_store_save(acct.storage, mc->names[0], chain, chain_len, key, key_len);
    schedule(mc, acct.renew_before, 1);
    lg_log(LG_LOG_INFO,
           "acme: %s: certificate obtained (%zu names), valid until %s, renewed in "
           "%lld s",
           mc->names[0], mc->n, utc(mc->not_after, date, sizeof(date)),
           (long long)(mc->due - wall));
}

static void acme_tick(lg_timer_t *t)
{
    int64_t wall = (int64_t)time(NULL);
    int busy = 0;

    for (int i = 0; i < LG_ACME_CERT_SLOTS; i++)
        busy += mcs[i].running;
    for (int i = 0; i < LG_ACME_CERT_SLOTS; i++) {
        lg_acme_mc_t *mc = &mcs[i];

        if (mc->running) {
            lg_acme_https_check(&mc->req);
            lg_acme_order_wake(mc);
        } else if (mc->used && wall >= mc->due && busy < LG_ACME_PARALLEL) {
            lg_log(LG_LOG_INFO, "acme: %s: ordering a certificate from %s", mc->names[0],
                   acct.directory);
            lg_acme_order_start(mc);
            busy += mc->running;
        }
    }
    lg_timer_set(&tick_q, t);
}

static void acct_reset(void)
{
    lg_acme_dir_free(&acct.dir);
    EVP_PKEY_free(acct.key);
    SSL_CTX_free(acct.ctx);
    free(acct.directory);
    free(acct.storage);
    free(acct.email);
    free(acct.kid);
    acct = (lg_acme_acct_t){0};
}

/* The account of cf's acme section: kept while directory and storage stay the same. */
static int acct_setup(const lg_config_t *cf)
{
    const lg_acme_conf_t *ac = cf->acme;
    struct sockaddr_storage dns;
    socklen_t dlen = lg_dns_server(cf, &dns);
    SSL_CTX *ctx = lg_acme_https_ctx(ac->ca);
    json_t *jwk;

    if (ctx == NULL)
        return LG_ERR;
    lg_acme_https_resolver(&dns, dlen);
    if (acct.directory == NULL || strcmp(acct.directory, ac->directory) != 0 ||
        strcmp(acct.storage, ac->storage) != 0) {
        acct_reset();
        acct.directory = strdup(ac->directory);
        acct.storage = strdup(ac->storage);
        acct.key = lg_acme_store_account(ac->storage);
        jwk = acct.key != NULL ? lg_acme_jwk(acct.key) : NULL;
        if (acct.directory == NULL || acct.storage == NULL || jwk == NULL ||
            lg_acme_thumbprint(jwk, acct.thumb) != LG_OK) {
            json_decref(jwk);
            SSL_CTX_free(ctx);
            acct_reset();
            return LG_ERR;
        }
        json_decref(jwk);
    }
    SSL_CTX_free(acct.ctx);
    acct.ctx = ctx;
    free(acct.email);
    acct.email = ac->email != NULL ? strdup(ac->email) : NULL;
    acct.challenge = ac->challenge;
    acct.renew_before = ac->renew_before;
    return LG_OK;
}

/* An acme entry of the configuration: its slot, and its certificate at first sight. */
static void manage(const lg_tls_cert_conf_t *cc, const lg_acme_conf_t *ac)
{
    int slot = lg_acme_cert_slot((const char *const *)cc->acme, cc->nacme, 1);
    lg_acme_mc_t *mc;

    if (slot < 0 || slot >= LG_ACME_CERT_SLOTS)
        return;
    mc = &mcs[slot];
    mc->used = 1;
    if (mc->names != NULL && !mc->running && mc->not_after != 0)
        schedule(mc, ac->renew_before, 0); /* a reload may have changed renew_before */
    if (mc->names != NULL)
        return;
    mc->names = calloc(cc->nacme, sizeof(*mc->names));
    for (size_t i = 0; mc->names != NULL && i < cc->nacme; i++)
        mc->names[i] = strdup(cc->acme[i]);
    mc->n = cc->nacme;
    mc->slot = slot;
    mc->acct = &acct;
    mc->req.io.fd = -1;
    load_stored(mc, ac);
}

int lg_acme_apply(const lg_config_t *cf)
{
    for (int i = 0; i < LG_ACME_CERT_SLOTS; i++)
        mcs[i].used = 0;
    if (cf->acme == NULL)
        return LG_OK;
    if (acct_setup(cf) != LG_OK) {
        lg_log(LG_LOG_ERR, "acme: the client cannot run: acme certificates keep their placeholder");
        return LG_ERR;
    }
    for (size_t i = 0; i < cf->nlisteners; i++) {
        const lg_tls_conf_t *tc = cf->listeners[i].tls;

        for (size_t j = 0; tc != NULL && j < tc->ncerts; j++)
            if (tc->certs[j].acme != NULL)
                manage(&tc->certs[j], cf->acme);
    }
    if (!lg_timerq_ready(&tick_q) && lg_timerq_init(&tick_q, LG_ACME_TICK_MS) != LG_OK)
        return LG_ERR;
    tick.handler = acme_tick;
    if (!lg_timer_armed(&tick))
        lg_timer_set(&tick_q, &tick);
    return LG_OK;
}

void lg_acme_each(lg_acme_each_t each, void *arg)
{
    for (int i = 0; i < LG_ACME_CERT_SLOTS; i++) {
        const lg_acme_mc_t *mc = &mcs[i];

        for (size_t k = 0; mc->used && k < mc->n; k++) {
            lg_acme_name_view_t v = {mc->names[k], mc->not_after, mc->renewed, mc->error};

            each(&v, arg);
        }
    }
}

uint64_t lg_acme_orders(int result)
{
    return result >= 0 && result < LG_ACME_RESULTS ? orders[result] : 0;
}
