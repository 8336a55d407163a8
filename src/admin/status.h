/*
 * status.h - the /status.json document, which the /status page (status.html) renders: the
 * serving generation's listeners and pools, each backend's state, check and latency.
 */
#ifndef LG_STATUS_H
#define LG_STATUS_H

#include "admin/metrics.h"

/* The document for view `v`, whose series are in `t` (lg_metrics_build). */
void lg_status_json(lg_out_t *o, const lg_metrics_t *t, const lg_admin_view_t *v);

#endif
