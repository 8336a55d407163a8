/*
 * status_page.h - the /status page: src/admin/status.html, turned into a C array at build time by
 * cmake/embed.cmake (the generated status_html.c in the build directory defines these).
 *
 * The page is self-contained (inline CSS and JavaScript, no other request than status.json,
 * which it fetches relative to its own URL every second). Serve it as is with
 * `Content-Type: text/html; charset=utf-8` and `Cache-Control: no-cache`.
 */
#ifndef LG_STATUS_PAGE_H
#define LG_STATUS_PAGE_H

#include <stddef.h>

extern const char lg_status_html[];     /* the page's bytes, then a NUL */
extern const size_t lg_status_html_len; /* its length in bytes, without the NUL */

#endif
