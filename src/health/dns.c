/*
 * dns.c - DNS discovery of host-name backends (see dns.h).
 *
 * One lookup per host-name backend. A 100 ms tick starts the lookups that are due and gives
 * up on those past LG_DNS_TIMEOUT_MS (the addresses they had stay). A lookup sends an A and an
 * AAAA query on one connected UDP socket and applies the answer when both came back.
 *
 * An answer without addresses (NXDOMAIN, or no A/AAAA record) empties the name's members; a
 * failure (timeout, SERVFAIL, REFUSED, an unusable answer, a socket error) keeps them. Either
 * way the log says why and which resolver said so. `lifeguard -t` runs the same lookups once,
 * in a loop of its own, and reports instead of applying (lg_dns_check).
 */
#include "health/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/fmt.h"
#include "core/log.h"
#include "core/net.h"
#include "core/sock.h"
#include "event/loop.h"
#include "health/watch.h"

#define LG_DNS_TICK_MS    100
#define LG_DNS_TIMEOUT_MS 2000
#define LG_DNS_MSG_MAX    1500
#define LG_DNS_TYPE_A     1
#define LG_DNS_TYPE_AAAA  28
#define LG_DNS_PORT       53
#define LG_HOSTS_LINE_MAX 1024
#define LG_DNS_WHY_MAX    (LG_ADDR_STRLEN + 96)
#define LG_DNS_NXDOMAIN   3
#define LG_DNS_NEVER      UINT64_MAX /* lg_dns_check(): a name is looked up once */

typedef struct lookup {
    lg_watch_item_t w; /* first: its socket's events come back as the lookup */
    const lg_pool_conf_t *pool;
    const lg_backend_conf_t *be;
    lg_be_state_t *slots; /* LG_DNS_SLOTS consecutive members */
    unsigned id;          /* the A query; the AAAA query is id + 1 */
    unsigned answered;    /* bit 0: A, bit 1: AAAA */
    unsigned rcode;       /* the first error rcode of the two answers (not NXDOMAIN), else 0 */
    int invalid;          /* an answer was not a valid answer to our query */
    int nxdomain;         /* an answer said the name does not exist */
    int naddrs;
    int empty;                /* the last answer had no address (warned once) */
    char why[LG_DNS_WHY_MAX]; /* lg_dns_check(): why the name has no address, "" if it has */
    struct sockaddr_storage addrs[LG_DNS_SLOTS];
} lookup_t;

static void lookup_step(void *item);

static lg_watch_t lookups = LG_WATCH("DNS lookups", lookup_t, LG_DNS_TICK_MS, lookup_step);
static struct sockaddr_storage server;
static socklen_t server_len;
static char server_text[LG_ADDR_STRLEN]; /* "10.0.0.2" (port 53) or "127.0.0.1:5353" */
static unsigned next_id;
static int checking;   /* lg_dns_check(): each name once, the reason kept instead of applied */
static size_t pending; /* lg_dns_check(): lookups not finished yet */

/* ---- messages */

size_t lg_dns_query(unsigned char *buf, size_t cap, unsigned id, const char *name, unsigned type)
{
    size_t n = 12;
    const char *label = name;

    if (cap < 12 + strlen(name) + 6)
        return 0;
    memset(buf, 0, 12);
    buf[0] = (unsigned char)(id >> 8);
    buf[1] = (unsigned char)id;
    buf[2] = 0x01; /* RD: recursion desired */
    buf[5] = 1;    /* one question */
    while (*label != '\0') {
        const char *dot = strchr(label, '.');
        size_t len = dot != NULL ? (size_t)(dot - label) : strlen(label);

        if (len == 0 || len > 63)
            return 0;
        buf[n++] = (unsigned char)len;
        memcpy(buf + n, label, len);
        n += len;
        label += len + (dot != NULL);
    }
    buf[n++] = 0;
    buf[n++] = (unsigned char)(type >> 8);
    buf[n++] = (unsigned char)type;
    buf[n++] = 0;
    buf[n++] = 1; /* class IN */
    return n;
}

/* Skip a (possibly compressed) name at *pos; -1 when it runs past the message. */
static int skip_name(const unsigned char *msg, size_t len, size_t *pos)
{
    while (*pos < len) {
        unsigned char c = msg[*pos];

        if (c == 0) {
            *pos += 1;
            return 0;
        }
        if ((c & 0xC0) == 0xC0) {
            *pos += 2;
            return *pos <= len ? 0 : -1;
        }
        *pos += 1 + (size_t)c;
    }
    return -1;
}

int lg_dns_parse(const unsigned char *msg, size_t len, unsigned id, uint16_t port,
                 struct sockaddr_storage *out, int max, unsigned *rcode)
{
    size_t pos = 12;
    unsigned qd, an;
    int n = 0;

    if (len < 12 || ((unsigned)msg[0] << 8 | msg[1]) != (id & 0xFFFF) || !(msg[2] & 0x80))
        return -1;
    *rcode = msg[3] & 0x0F;
    if (*rcode != 0)
        return 0; /* NXDOMAIN, SERVFAIL, REFUSED...: no answer section to read */
    qd = (unsigned)msg[4] << 8 | msg[5];
    an = (unsigned)msg[6] << 8 | msg[7];
    for (unsigned i = 0; i < qd; i++) {
        if (skip_name(msg, len, &pos) < 0 || pos + 4 > len)
            return -1;
        pos += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        unsigned type, rdlen;

        if (skip_name(msg, len, &pos) < 0 || pos + 10 > len)
            return -1;
        type = (unsigned)msg[pos] << 8 | msg[pos + 1];
        rdlen = (unsigned)msg[pos + 8] << 8 | msg[pos + 9];
        pos += 10;
        if (pos + rdlen > len)
            return -1;
        if (n < max && type == LG_DNS_TYPE_A && rdlen == 4) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&out[n++];

            memset(sin, 0, sizeof(out[0]));
            sin->sin_family = AF_INET;
            sin->sin_port = htons(port);
            memcpy(&sin->sin_addr, msg + pos, 4);
        } else if (n < max && type == LG_DNS_TYPE_AAAA && rdlen == 16) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out[n++];

            memset(sin6, 0, sizeof(out[0]));
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            memcpy(&sin6->sin6_addr, msg + pos, 16);
        }
        pos += rdlen;
    }
    return n;
}

/* ---- applying results */

static socklen_t addr_len(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    return a->ss_family == b->ss_family && memcmp(a, b, addr_len(a)) == 0;
}

/* Drop repeated addresses (a name may list one twice, in /etc/hosts for instance). */
static void dedupe(lookup_t *l)
{
    int n = 0;

    for (int a = 0; a < l->naddrs; a++) {
        int seen = 0;

        for (int b = 0; b < n && !seen; b++)
            seen = addr_eq(&l->addrs[a], &l->addrs[b]);
        if (!seen)
            memmove(&l->addrs[n++], &l->addrs[a], sizeof(l->addrs[0]));
    }
    l->naddrs = n;
}

/*
 * Slots whose address stays keep it (and their health); the others are freed or refilled.
 * `why` says why there is no address when the answer had none.
 */
static void apply(lookup_t *l, const char *why)
{
    int checked = l->pool->health_check.type != LG_CHECK_NONE;
    int keep[LG_DNS_SLOTS] = {0}, changed = 0;
    char list[LG_DNS_SLOTS * LG_ADDR_STRLEN] = "";

    dedupe(l);
    if (l->naddrs == 0 && !l->empty)
        lg_log(LG_LOG_WARN, "pool %s: %s has no address: %s", l->pool->name, l->be->addr.text, why);
    l->empty = l->naddrs == 0;

    for (int s = 0; s < LG_DNS_SLOTS; s++) {
        lg_be_state_t *st = &l->slots[s];

        if (!atomic_load(&st->in_use))
            continue;
        for (int a = 0; a < l->naddrs; a++) {
            if (addr_eq(&st->addr, &l->addrs[a]))
                keep[s] = a + 1;
        }
        if (keep[s] == 0) {
            lg_be_set_addr(st, NULL, 0, checked);
            changed = 1;
        }
    }
    for (int a = 0; a < l->naddrs; a++) {
        int present = 0, s;

        for (s = 0; s < LG_DNS_SLOTS; s++)
            present |= keep[s] == a + 1;
        if (present)
            continue;
        for (s = 0; s < LG_DNS_SLOTS && atomic_load(&l->slots[s].in_use); s++) {
        }
        if (s == LG_DNS_SLOTS)
            break;
        lg_be_set_addr(&l->slots[s], (const struct sockaddr *)&l->addrs[a], addr_len(&l->addrs[a]),
                       checked);
        changed = 1;
    }
    for (int s = 0; s < LG_DNS_SLOTS; s++) /* an address they get later is a coming up */
        l->slots[s].ramp |= !atomic_load(&l->slots[s].in_use);
    if (!changed)
        return;
    for (int a = 0; a < l->naddrs; a++) {
        char text[LG_ADDR_STRLEN];

        lg_net_addr_text((const struct sockaddr *)&l->addrs[a], text, sizeof(text));
        strcat(list, a > 0 ? ", " : "");
        strcat(list, text);
    }
    lg_log(LG_LOG_INFO, "pool %s: %s resolves to %s", l->pool->name, l->be->addr.text,
           l->naddrs > 0 ? list : "no address");
}

static int has_addrs(const lookup_t *l)
{
    for (int s = 0; s < LG_DNS_SLOTS; s++)
        if (atomic_load(&l->slots[s].in_use))
            return 1;
    return 0;
}

/*
 * The lookup is over: `why` is NULL when it found addresses, else the reason there are none.
 * `answer`: the resolver answered (its word replaces the members), else the lookup failed (the
 * members stay). lg_dns_check() keeps the reason instead, and stops its loop after the last name.
 */
static void lookup_end(lookup_t *l, const char *why, int answer)
{
    lg_watch_close(&l->w);
    l->w.next = lg_now + l->pool->resolve_interval;
    if (checking) {
        l->w.next = LG_DNS_NEVER;
        snprintf(l->why, sizeof(l->why), "%s", why != NULL ? why : "");
        if (--pending == 0)
            lg_loop_stop();
    } else if (answer) {
        apply(l, why);
    } else {
        lg_log(LG_LOG_WARN, "pool %s: cannot resolve %s: %s%s", l->pool->name, l->be->addr.text,
               why, has_addrs(l) ? " (addresses kept)" : "");
    }
}

/* A failed system call as a reason: "send() to 10.0.0.2 failed (111: Connection refused)". */
static void lookup_fail_errno(lookup_t *l, const char *call, int err)
{
    char why[LG_DNS_WHY_MAX];

    snprintf(why, sizeof(why), "%s %s failed (%d: %s)", call, server_text, err, strerror(err));
    lookup_end(l, why, 0);
}

static const char *rcode_name(unsigned rcode, char *buf, size_t len)
{
    static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                        "NXDOMAIN", "NOTIMP",  "REFUSED"};

    if (rcode < LG_NELEMS(names))
        return names[rcode];
    snprintf(buf, len, "rcode %u", rcode);
    return buf;
}

/*
 * Both answers are in. Addresses win (a refused AAAA does not spoil the A records); then an
 * error (the members stay); then NXDOMAIN or no record at all (the name has no address).
 */
static void lookup_answered(lookup_t *l)
{
    char why[LG_DNS_WHY_MAX], rc[24];

    if (l->naddrs > 0) {
        lookup_end(l, NULL, 1);
    } else if (l->rcode != 0 || l->invalid) {
        snprintf(why, sizeof(why), "%s from %s",
                 l->rcode != 0 ? rcode_name(l->rcode, rc, sizeof(rc)) : "invalid answer",
                 server_text);
        lookup_end(l, why, 0);
    } else {
        snprintf(why, sizeof(why), "%s from %s", l->nxdomain ? "NXDOMAIN" : "no A or AAAA record",
                 server_text);
        lookup_end(l, why, 1);
    }
}

int lg_dns_hosts(const char *name, uint16_t port, struct sockaddr_storage *out, int max)
{
    FILE *f = fopen("/etc/hosts", "r");
    char line[LG_HOSTS_LINE_MAX];
    int n = 0;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *save, *ip = strtok_r(line, " \t\r\n", &save), *host;
        lg_addr_t a;
        char text[LG_ADDR_TEXT_MAX + 8];
        const char *why;

        if (ip == NULL || ip[0] == '#')
            continue;
        while ((host = strtok_r(NULL, " \t\r\n", &save)) != NULL && host[0] != '#') {
            if (strcasecmp(host, name) != 0 || n == max)
                continue;
            if (lg_format(text, sizeof(text), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port) ==
                    LG_OK &&
                lg_parse_addr(text, 0, &a, &why) == LG_OK)
                memcpy(&out[n++], &a.sa, sizeof(a.sa));
        }
    }
    if (f != NULL)
        fclose(f);
    return n;
}

/* /etc/hosts knows the name: 1 with l->addrs filled. */
static int hosts_lookup(lookup_t *l)
{
    l->naddrs = lg_dns_hosts(l->be->addr.host, l->be->addr.port, l->addrs, LG_DNS_SLOTS);
    return l->naddrs > 0;
}

static void lookup_event(lg_io_t *io, uint32_t ev)
{
    lookup_t *l = (lookup_t *)(void *)io;
    unsigned char msg[LG_DNS_MSG_MAX];

    if (!l->w.busy)
        return;
    LG_UNUSED(ev);
    /* Datagrams: a short read says nothing about the next one, so read until EAGAIN. */
    for (;;) {
        ssize_t n = recv(l->w.sock.io.fd, msg, sizeof(msg), 0);
        unsigned id, rcode = 0;
        int got;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            lookup_fail_errno(l, "recv() from", errno);
            return;
        }
        if (n < 2)
            continue;
        id = (unsigned)msg[0] << 8 | msg[1];
        if (id != l->id && id != ((l->id + 1) & 0xFFFF))
            continue; /* not ours: ignore */
        got = lg_dns_parse(msg, (size_t)n, id, l->be->addr.port, l->addrs + l->naddrs,
                           LG_DNS_SLOTS - l->naddrs, &rcode);
        if (got < 0)
            l->invalid = 1;
        else
            l->naddrs += got;
        if (got >= 0 && rcode == LG_DNS_NXDOMAIN)
            l->nxdomain = 1;
        else if (got >= 0 && rcode != 0 && l->rcode == 0)
            l->rcode = rcode;
        l->answered |= id == l->id ? 1u : 2u;
        if (l->answered == 3) {
            lookup_answered(l);
            return;
        }
    }
}

static void lookup_start(lookup_t *l)
{
    unsigned char q[2][LG_DNS_MSG_MAX];
    size_t qlen[2];
    int fd;

    if (hosts_lookup(l)) {
        lookup_end(l, NULL, 1);
        return;
    }
    l->id = next_id;
    next_id = (next_id + 2) & 0xFFFF;
    qlen[0] = lg_dns_query(q[0], sizeof(q[0]), l->id, l->be->addr.host, LG_DNS_TYPE_A);
    qlen[1] =
        lg_dns_query(q[1], sizeof(q[1]), (l->id + 1) & 0xFFFF, l->be->addr.host, LG_DNS_TYPE_AAAA);
    if (qlen[0] == 0 || qlen[1] == 0) {
        lookup_end(l, "not a valid DNS name", 0);
        return;
    }
    fd = socket(server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&server, server_len) < 0 ||
        send(fd, q[0], qlen[0], 0) < 0 || send(fd, q[1], qlen[1], 0) < 0) {
        int err = errno;

        if (fd >= 0)
            close(fd);
        lookup_fail_errno(l, "send() to", err);
        return;
    }
    lg_watch_open(&l->w, fd, lookup_event, LG_DNS_TIMEOUT_MS);
    l->answered = 0;
    l->rcode = 0;
    l->invalid = 0;
    l->nxdomain = 0;
    l->naddrs = 0;
    if (lg_loop_add(&l->w.sock.io, EPOLLIN | EPOLLET) != LG_OK)
        lookup_end(l, "epoll_ctl() failed", 0);
}

static void lookup_step(void *item)
{
    lookup_t *l = item;
    char why[LG_DNS_WHY_MAX];

    if (l->w.busy && lg_now >= l->w.deadline) {
        snprintf(why, sizeof(why), "timed out waiting for %s", server_text);
        lookup_end(l, why, 0);
    } else if (!l->w.busy && lg_now >= l->w.next) {
        lookup_start(l);
    }
}

socklen_t lg_dns_server(const lg_config_t *cf, struct sockaddr_storage *out)
{
    FILE *f;
    char line[LG_HOSTS_LINE_MAX], ns[LG_HOSTS_LINE_MAX], text[LG_HOSTS_LINE_MAX + 16];
    lg_addr_t a;
    const char *why, *use = "127.0.0.1:53";

    if (cf->resolver.text[0] != '\0') {
        memcpy(out, &cf->resolver.sa, sizeof(*out));
        return cf->resolver.salen;
    }
    f = fopen("/etc/resolv.conf", "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, " nameserver %1023s", ns) == 1 &&
            lg_format(text, sizeof(text), strchr(ns, ':') ? "[%s]:%d" : "%s:%d", ns, LG_DNS_PORT) ==
                LG_OK) {
            use = text;
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    if (lg_parse_addr(use, 0, &a, &why) != LG_OK)
        lg_parse_addr("127.0.0.1:53", 0, &a, &why);
    memcpy(out, &a.sa, sizeof(*out));
    return a.salen;
}

/* The server in messages: the address alone when it listens on the usual port. */
static void server_text_init(void)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&server;

    /* sin_port and sin6_port are at the same place */
    if (ntohs(sin->sin_port) == LG_DNS_PORT)
        lg_net_ip_text((const struct sockaddr *)&server, server_text, sizeof(server_text));
    else
        lg_net_addr_text((const struct sockaddr *)&server, server_text, sizeof(server_text));
}

void lg_dns_stop(void)
{
    lg_watch_stop(&lookups);
}

/*
 * A lookup for every host-name backend of `cf`, due now, into *out (NULL when there is none).
 * With `shm` NULL (lg_dns_check) the lookups have no member slots.
 */
static int set_new(const lg_config_t *cf, lg_shm_t *shm, lg_watch_set_t **out)
{
    lg_watch_set_t *s;
    size_t n = 0, k = 0;

    *out = NULL;
    for (size_t i = 0; i < cf->npools; i++) {
        for (size_t j = 0; j < cf->pools[i].nbackends; j++)
            n += cf->pools[i].backends[j].addr.is_hostname;
    }
    if (n == 0)
        return LG_OK;
    if ((s = lg_watch_set_new(&lookups, n)) == NULL)
        return LG_ERR;
    server_len = lg_dns_server(cf, &server);
    server_text_init();
    next_id = (unsigned)getpid() & 0xFFFE;
    for (size_t i = 0; i < cf->npools; i++) {
        const lg_pool_conf_t *pool = &cf->pools[i];

        for (size_t m = 0, j = 0; j < pool->nbackends; j++) {
            const lg_backend_conf_t *b = &pool->backends[j];

            if (b->addr.is_hostname) {
                lookup_t *l = lg_watch_item(s, k++);

                l->pool = pool;
                l->be = b;
                l->slots = shm != NULL ? lg_shm_backend(shm, i, m) : NULL;
                l->w.next = lg_now;
            }
            m += lg_backend_members(b);
        }
    }
    *out = s;
    return LG_OK;
}

int lg_dns_start(const lg_config_t *cf, lg_shm_t *shm)
{
    lg_watch_set_t *s;

    lg_dns_stop();
    if (set_new(cf, shm, &s) != LG_OK)
        return LG_ERR;
    return lg_watch_run(&lookups, s);
}

int lg_dns_check(const lg_config_t *cf, lg_dns_report_t report, void *arg)
{
    lg_watch_set_t *s;

    if (set_new(cf, NULL, &s) != LG_OK)
        return LG_ERR;
    if (s == NULL)
        return LG_OK;
    if (lg_loop_init() != LG_OK) {
        lg_watch_set_free(s);
        return LG_ERR;
    }
    checking = 1;
    pending = lg_watch_count(s);
    if (lg_watch_run(&lookups, s) != LG_OK)
        return LG_ERR;
    if (pending > 0)
        lg_loop_run();
    s = lg_watch_detach(&lookups);
    for (size_t i = 0; i < lg_watch_count(s); i++) { /* in file order */
        const lookup_t *l = lg_watch_item(s, i);

        if (l->why[0] != '\0')
            report(l->be, l->why, arg);
    }
    lg_watch_set_free(s);
    return LG_OK;
}
