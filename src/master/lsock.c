/*
 * lsock.c - the master's listening sockets (see lsock.h).
 */
#include "master/lsock.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"

#define LG_CONF_PLACE_MAX (PATH_MAX + 128) /* "listener NAME (FILE:LINE:COL)" */

/* A listening socket and the address it was opened for. */
typedef struct lsock {
    char key[LG_ADDR_STRLEN + 256];
    int fd;
} lsock_t;

static lsock_t *table; /* the open sockets, one per listener of the last configuration loaded */
static size_t ntable;

/*
 * Listeners share a socket across reloads when they are written for the same address and
 * port. A port-0 listener gets whatever port the kernel chose: it keeps its socket by name.
 */
static int sock_key(const lg_listener_conf_t *l, char *key, size_t len)
{
    char text[LG_ADDR_STRLEN];

    if (lg_net_addr_text((const struct sockaddr *)&l->addr.sa, text, sizeof(text)) != LG_OK)
        return LG_ERR;
    if (l->addr.port == 0)
        return lg_format(key, len, "%s@%s", l->name, text);
    return lg_format(key, len, "%s", text);
}

static int sock_find(const lsock_t *socks, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (socks[i].fd >= 0 && strcmp(socks[i].key, key) == 0)
            return (int)i;
    }
    return -1;
}

int lg_lsock_update(const lg_config_t *cf, int *fds)
{
    lsock_t *socks = calloc(cf->nlisteners, sizeof(*socks));
    size_t i;

    if (socks == NULL)
        return LG_ERR;
    for (i = 0; i < cf->nlisteners; i++) {
        const lg_listener_conf_t *l = &cf->listeners[i];
        int old;

        if (sock_key(l, socks[i].key, sizeof(socks[i].key)) != LG_OK) {
            lg_log(LG_LOG_ERR, "listener %s: its address does not fit a socket key", l->name);
            goto out_undo;
        }
        old = sock_find(table, ntable, socks[i].key);
        if (old >= 0) {
            socks[i].fd = table[old].fd;
        } else {
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            char text[LG_ADDR_STRLEN], who[LG_CONF_PLACE_MAX];

            snprintf(who, sizeof(who), "listener %s (%s:%u:%u)", l->name, cf->file,
                     l->listen_pos.line, l->listen_pos.col);
            socks[i].fd = lg_net_listen((const struct sockaddr *)&l->addr.sa, l->addr.salen,
                                        l->addr.text, who);
            if (socks[i].fd < 0)
                goto out_undo;
            /* With port 0 the kernel chose: say which, so that clients (and tests) find it. */
            getsockname(socks[i].fd, (struct sockaddr *)&ss, &len);
            lg_net_addr_text((const struct sockaddr *)&ss, text, sizeof(text));
            lg_log(LG_LOG_INFO, "listener %s: listening on %s", l->name, text);
        }
        fds[i] = socks[i].fd;
    }
    for (size_t j = 0; j < ntable; j++) {
        if (sock_find(socks, cf->nlisteners, table[j].key) < 0) {
            lg_log(LG_LOG_INFO, "closing listener on %s", table[j].key);
            close(table[j].fd);
        }
    }
    free(table);
    table = socks;
    ntable = cf->nlisteners;
    return LG_OK;

out_undo:
    while (i-- > 0) {
        if (sock_find(table, ntable, socks[i].key) < 0)
            close(socks[i].fd);
    }
    free(socks);
    return LG_ERR;
}

void lg_lsock_close_all(void)
{
    for (size_t i = 0; i < ntable; i++)
        close(table[i].fd);
    free(table);
    table = NULL;
    ntable = 0;
}
