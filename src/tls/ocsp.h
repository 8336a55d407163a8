/*
 * ocsp.h - OCSP stapling of fetched responses (ocsp: auto).
 *
 * The master fetches the response of every certificate with ocsp: auto from the HTTP responder
 * named in the certificate's Authority Information Access, in its own event loop (the host name
 * through the resolver of src/health/dns.c, a POST of the DER request with the issuer from the
 * certificate's chain), and uses it only once it verified it: signed by the issuer or by a
 * responder the issuer delegated to, about this certificate, status good or revoked (stapled as
 * it is, as HAProxy and Apache do), thisUpdate and nextUpdate in range. It refreshes it at half
 * its remaining validity (at least 5 min, at most 1 h later), retries a failed fetch with a
 * backoff (10 s doubling to 5 min) and serves the last good response meanwhile, until it
 * expires: then it staples nothing and says so.
 *
 * Responses live in a region the master maps once (like the session ticket keys): a slot per
 * certificate, kept across reloads, so a new generation staples what is fetched already.
 */
#ifndef LG_TLS_OCSP_H
#define LG_TLS_OCSP_H

#include "config/config.h"

/*
 * Master, once, in its running loop: map the region, fetch for the certificates of `cf`
 * (loaded before the region existed) and start the timer that drives the fetches.
 * Configurations loaded later join in lg_tls_load(). LG_ERR (logged) when it cannot run.
 */
int lg_tls_ocsp_start(lg_config_t *cf);

#endif
