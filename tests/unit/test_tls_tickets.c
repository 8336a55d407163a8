/*
 * test_tls_tickets.c - session resumption by tickets whose keys live in the master's shared
 * region (src/tls/ticket.c): TLS 1.2 and 1.3 resume, a ticket still resumes after a rotation
 * (and is renewed), not after its key is gone, across a reload of the same listener, never on
 * another listener, and never with session_tickets: off.
 */
#include <criterion/criterion.h>

#include "event/loop.h"
#include "lg_test.h"
#include "lg_test_tls.h"
#include "tls/ticket.h"

#define ROTATION_MS (12ull * 3600 * 1000) /* the default ticket_key_rotation */

static lg_config_t *load_web(const char *name, const char *more)
{
    return lg_test_tls_load(
        name, "http", lg_fmt("      certificates:\n%s%s", lg_test_cert_entry("ec", NULL), more));
}

/* A full handshake; the session it left the client. */
static SSL_SESSION *first(lg_tls_ctx_t *t, int version)
{
    lg_hs_result_t r;

    lg_test_handshake(t, &(lg_hs_client_t){.version = version}, &r);
    cr_assert(r.ok);
    cr_assert_eq(r.info.resumed, 0);
    cr_assert_not_null(r.session);
    return r.session;
}

/* Whether `s` resumes on `t`; *next gets the new session (the renewed ticket), if asked. */
static int resumes(lg_tls_ctx_t *t, int version, SSL_SESSION *s, SSL_SESSION **next)
{
    lg_hs_result_t r;

    lg_test_handshake(t, &(lg_hs_client_t){.version = version, .session = s}, &r);
    cr_assert(r.ok);
    if (next != NULL)
        *next = r.session;
    else
        SSL_SESSION_free(r.session);
    return r.info.resumed;
}

Test(tls_tickets, resume_across_rotations_tls12_and_tls13)
{
    cr_assert_eq(lg_tls_tickets_create(), LG_OK);
    for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        lg_config_t *cf = load_web(lg_fmt("web%x", v), "");
        lg_tls_ctx_t *t = lg_test_tls_ctx(cf);
        SSL_SESSION *s = first(t, v), *renewed;
        lg_msec_t now = lg_clock_ms();

        cr_assert(resumes(t, v, s, NULL), "version %x: not resumed", v);
        /* One rotation: the old key still decrypts, and a ticket of the new key is sent. */
        lg_tls_tickets_rotate(now += ROTATION_MS);
        cr_assert(resumes(t, v, s, &renewed), "version %x: not resumed after a rotation", v);
        /* Two more: the first ticket's key is gone; the renewed one is two periods old. */
        lg_tls_tickets_rotate(now += ROTATION_MS);
        lg_tls_tickets_rotate(now += ROTATION_MS);
        cr_assert_not(resumes(t, v, s, NULL), "version %x: resumed with a dropped key", v);
        cr_assert(resumes(t, v, renewed, NULL), "version %x: renewed ticket refused", v);
        SSL_SESSION_free(s);
        SSL_SESSION_free(renewed);
        lg_config_free(cf);
    }
}

Test(tls_tickets, no_rotation_before_its_period)
{
    lg_config_t *cf;
    SSL_SESSION *s;
    lg_msec_t now;

    cr_assert_eq(lg_tls_tickets_create(), LG_OK);
    cf = load_web("web", "      ticket_key_rotation: 1h\n");
    s = first(lg_test_tls_ctx(cf), TLS1_3_VERSION);
    now = lg_clock_ms();
    for (int i = 0; i < 10; i++)
        lg_tls_tickets_rotate(now + 3600 * 1000 - 1);
    lg_tls_tickets_rotate(now + 3600 * 1000);
    lg_tls_tickets_rotate(now + 2 * 3600 * 1000);
    cr_assert(resumes(lg_test_tls_ctx(cf), TLS1_3_VERSION, s, NULL), "rotated early");
    lg_tls_tickets_rotate(now + 3 * 3600 * 1000);
    cr_assert_not(resumes(lg_test_tls_ctx(cf), TLS1_3_VERSION, s, NULL));
    SSL_SESSION_free(s);
    lg_config_free(cf);
}

Test(tls_tickets, keys_survive_a_reload_and_stay_per_listener)
{
    lg_config_t *old, *reloaded, *other;
    SSL_SESSION *s;

    cr_assert_eq(lg_tls_tickets_create(), LG_OK);
    old = load_web("web", "");
    s = first(lg_test_tls_ctx(old), TLS1_3_VERSION);
    /* The configuration is loaded again, as a reload does, and the old one freed. */
    reloaded = load_web("web", "      ciphers: ECDHE+AESGCM\n");
    lg_config_free(old);
    other = load_web("api", "");
    cr_assert(resumes(lg_test_tls_ctx(reloaded), TLS1_3_VERSION, s, NULL), "not after reload");
    cr_assert_not(resumes(lg_test_tls_ctx(other), TLS1_3_VERSION, s, NULL),
                  "a session of listener web resumed on listener api");
    SSL_SESSION_free(s);
    lg_config_free(reloaded);
    lg_config_free(other);
}

Test(tls_tickets, session_tickets_off_and_no_region)
{
    lg_config_t *off, *noregion;
    SSL_SESSION *s;

    /* Without the master's region (lifeguard -t), nothing resumes and nothing fails. */
    noregion = load_web("web", "");
    s = first(lg_test_tls_ctx(noregion), TLS1_2_VERSION);
    cr_assert_not(resumes(lg_test_tls_ctx(noregion), TLS1_2_VERSION, s, NULL));
    SSL_SESSION_free(s);
    cr_assert_eq(lg_tls_tickets_create(), LG_OK);
    off = load_web("web", "      session_tickets: off\n");
    for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        s = first(lg_test_tls_ctx(off), v);
        cr_assert_not(resumes(lg_test_tls_ctx(off), v, s, NULL), "version %x resumed", v);
        SSL_SESSION_free(s);
    }
    lg_config_free(off);
    lg_config_free(noregion);
}
