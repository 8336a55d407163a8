/*
 * worker.c - the worker's main: set up the proxy and run the loop.
 */
#include "master/worker.h"

#include <stdlib.h>

#include "core/log.h"
#include "event/loop.h"
#include "http/proxy.h"

int lg_worker_run(const lg_config_t *cf, const int *fds, unsigned id)
{
    lg_listener_t *ls;

    lg_log_set_worker((int)id);
    if (lg_loop_init() != LG_OK || lg_proxy_init(cf) != LG_OK)
        return LG_ERR;
    ls = calloc(cf->nlisteners, sizeof(*ls));
    if (ls == NULL) {
        lg_log(LG_LOG_ERR, "out of memory starting worker %u", id);
        return LG_ERR;
    }
    for (size_t i = 0; i < cf->nlisteners; i++) {
        if (lg_proxy_listen(&ls[i], fds[i], &cf->listeners[i]) != LG_OK)
            return LG_ERR;
    }
    lg_loop_run();
    return LG_OK;
}
