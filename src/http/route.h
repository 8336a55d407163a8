/*
 * route.h - choosing a route of a listener for a request's host and path.
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

/*
 * The first route of `ls` matching `host` (a Host value: case-insensitive, port ignored,
 * "*.suffix" matches names ending in ".suffix") and `path` (prefix). NULL when none matches.
 */
const lg_route_conf_t *lg_route_match(const lg_listener_conf_t *ls, lg_span_t host, lg_span_t path);

#endif
