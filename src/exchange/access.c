/*
 * access.c - allow and deny lists of a route (see access.h).
 */
#include "exchange/access.h"

#include "core/log.h"
#include "core/net.h"
#include "exchange/xint.h"

int lg_access_allows(const lg_route_conf_t *r, const struct sockaddr *peer)
{
    if (r->deny != NULL && lg_cidr_set_has(r->deny, peer))
        return 0;
    return r->allow == NULL || lg_cidr_set_has(r->allow, peer);
}

int lg_x_access(lg_exchange_t *x)
{
    char ip[LG_IP_STRLEN];

    if (lg_access_allows(x->route, x->peer))
        return LG_OK;
    if (lg_debug_on()) {
        lg_net_ip_text(x->peer, ip, sizeof(ip));
        lg_debug("client %s refused by the route's %s list (line %u): 403", ip,
                 x->route->deny != NULL && lg_cidr_set_has(x->route->deny, x->peer) ? "deny"
                                                                                    : "allow",
                 x->route->pos.line);
    }
    lg_x_end(x, LG_XEND_REPLY, 403);
    return LG_ERR;
}
