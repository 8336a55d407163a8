/*
 * status_page.h - the /status page, src/admin/status.html compiled in (cmake/embed.cmake).
 */
#ifndef LG_STATUS_PAGE_H
#define LG_STATUS_PAGE_H

#include <stddef.h>

extern const char lg_status_html[];
extern const size_t lg_status_html_len;

#endif
