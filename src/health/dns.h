/*
 * dns.h - DNS discovery of host-name backends, run by the master in its event loop.
 *
 * Every backend written as a host name is resolved at once and then every resolve_interval of
 * its pool: /etc/hosts first, else A and AAAA queries over UDP to `resolver` (or the first
 * nameserver of /etc/resolv.conf), never blocking the loop. Each address becomes a pool member
 * (a DNS slot in the generation's shared memory, at most LG_DNS_SLOTS per name): an address
 * that stays keeps its slot and its health, a new one is checked before it gets traffic, one
 * that disappears stops getting traffic. A name that does not resolve is a warning, not an
 * error: the pool fills when it resolves (the Docker case of an app starting after the proxy).
 */
#ifndef LG_DNS_H
#define LG_DNS_H

#include "config/config.h"
#include "upstream/shm.h"

/* Resolve the host-name backends of `cf` into `shm` from now on, replacing what ran before. */
int lg_dns_start(const lg_config_t *cf, lg_shm_t *shm);
void lg_dns_stop(void);

/* A name that does not resolve: `why` is e.g. "NXDOMAIN from 10.0.0.2" (valid for the call). */
typedef void (*lg_dns_report_t)(const lg_backend_conf_t *be, const char *why, void *arg);

/*
 * For `lifeguard -t`: resolve every host-name backend of `cf` once, with the same lookups as the
 * master (/etc/hosts, then the resolver), all at once, each within the lookup timeout, and call
 * `report` for each one that has no address. Makes and runs an event loop of its own: call it
 * only in a process that has none. Returns LG_OK, or LG_ERR when the check could not run.
 */
int lg_dns_check(const lg_config_t *cf, lg_dns_report_t report, void *arg);

/*
 * Parse a DNS response `msg` (`len` bytes) to query `id`: the A/AAAA addresses with `port`
 * go to out[0..max) and the response code (0 NOERROR, 3 NXDOMAIN, 5 REFUSED...) to *rcode.
 * Returns how many addresses (0 with any rcode but NOERROR), or -1 when the message is not a
 * valid answer to that query. Exposed for the unit tests.
 */
int lg_dns_parse(const unsigned char *msg, size_t len, unsigned id, uint16_t port,
                 struct sockaddr_storage *out, int max, unsigned *rcode);
/* The DNS server asked: `resolver`, else the first nameserver of /etc/resolv.conf, else
 * 127.0.0.1:53, into *out; returns its length. */
socklen_t lg_dns_server(const lg_config_t *cf, struct sockaddr_storage *out);
/* The addresses /etc/hosts gives `name` (case-insensitive), with `port`, into out[0..max). */
int lg_dns_hosts(const char *name, uint16_t port, struct sockaddr_storage *out, int max);
/* Write a query for `name` (type 1 = A, 28 = AAAA) into buf; returns its length or 0. */
size_t lg_dns_query(unsigned char *buf, size_t cap, unsigned id, const char *name, unsigned type);

/*
 * One A lookup for a client of the master (OCSP fetches, the ACME client), in two halves.
 * lg_dns_a_start: `name` in /etc/hosts (an IPv4 address first) gives *addr with `port` and
 * returns 1; else an A query with `id` goes to `server` from a new non-blocking UDP socket,
 * *fd, and it returns 0 (wait for *fd to be readable); -1 on failure (errno; EINVAL: not a
 * valid DNS name). lg_dns_a_read, when *fd is readable: 1 with the first address in *addr,
 * 0 when the answer has none (its response code in *rcode), LG_AGAIN when no answer to this
 * query came yet, -1 when recv() failed (errno). The caller closes the socket.
 */
int lg_dns_a_start(const char *name, uint16_t port, const struct sockaddr_storage *server,
                   socklen_t server_len, unsigned id, struct sockaddr_storage *addr, int *fd);
int lg_dns_a_read(int fd, unsigned id, uint16_t port, struct sockaddr_storage *addr,
                  unsigned *rcode);

#endif
