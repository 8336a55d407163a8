/*
 * route.h - choosing a route of a listener for a request.
 */
#ifndef LG_ROUTE_H
#define LG_ROUTE_H

#include "config/config.h"
#include "http/head.h"

/*
 * The host part of a Host value, as routes match it: "a.example:8080" -> "a.example",
 * "[::1]:80" -> "[::1]", "example.com." -> "example.com".
 */
lg_span_t lg_route_host(lg_span_t host);

/* `host` (without port or trailing dot) matches the route's host, exact or "*.suffix" (set). */
int lg_route_host_matches(const lg_route_conf_t *r, lg_span_t host);

/*
 * The first route of `ls` matching the scanned request `rq` (its target normalised): its Host
 * (case-insensitive, port ignored, "*.suffix" matches names ending in ".suffix"), its path
 * (prefix), its method (one of those listed, exactly) and its header fields (each condition
 * met by one field of that name and value). NULL when none matches.
 */
const lg_route_conf_t *lg_route_match(const lg_listener_conf_t *ls, const lg_req_head_t *rq);

#endif
