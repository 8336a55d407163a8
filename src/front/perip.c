/*
 * perip.c - limits.max_connections_per_ip at accept (see perip.h).
 */
#include "front/perip.h"

#include "admin/stats.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "front/listener.h"

#define LG_PERIP_LOG_MS 1000 /* one info line a second at most, whatever the flood */

void lg_perip_refused_log(lg_listener_t *ls, const struct sockaddr *peer, const char *why)
{
    lg_worker_t *w = ls->w;
    char ip[LG_IP_STRLEN], more[64] = "";

    if (w->per_ip_log.at != 0 && lg_now - w->per_ip_log.at < LG_PERIP_LOG_MS) {
        w->per_ip_log.quiet++;
        return;
    }
    lg_net_ip_text(peer, ip, sizeof(ip));
    if (w->per_ip_log.quiet != 0)
        lg_format(more, sizeof(more), " (and %llu more since the last such line)",
                  (unsigned long long)w->per_ip_log.quiet);
    lg_log(LG_LOG_INFO, "listener %s: connection from %s closed: %s%s", ls->conf->name, ip, why,
           more);
    w->per_ip_log.at = lg_now;
    w->per_ip_log.quiet = 0;
}

int lg_perip_admit(lg_listener_t *ls, const struct sockaddr *peer)
{
    lg_worker_t *w = ls->w;
    int r;

    if (w->conf->limits.max_connections_per_ip == 0)
        return LG_OK;
    r = lg_ipcount_take(&w->per_ip, peer, w->conf->limits.max_connections_per_ip);
    if (r == LG_OK)
        return LG_OK;
    if (r == LG_ERR)
        lg_log(LG_LOG_ERR, "out of memory counting connections per address: connection closed");
    else if (LG_LOG_INFO <= lg_log_level) {
        char why[64];

        lg_format(why, sizeof(why), "max_connections_per_ip (%u) already open",
                  w->conf->limits.max_connections_per_ip);
        lg_perip_refused_log(ls, peer, why);
    }
    lg_stats_add(&lg_stats_listener(ls->index)->conns_refused_per_ip, 1);
    return LG_ERR;
}

void lg_perip_release(lg_worker_t *w, const struct sockaddr *peer)
{
    if (w->conf->limits.max_connections_per_ip != 0)
        lg_ipcount_put(&w->per_ip, peer);
}
