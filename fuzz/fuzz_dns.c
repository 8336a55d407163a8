/*
 * fuzz_dns.c - libFuzzer target for the DNS reply parser (lg_dns_parse, src/health/dns.c).
 *
 * Each input is one UDP payload as the resolver would send it. The query id is taken from the
 * message itself, so the fuzzer gets past the id check and into the question and answer
 * sections (names, compression pointers, record lengths). The parser must never read past the
 * message, and what it returns must be what dns.h promises: -1, or that many addresses (at most
 * `max`), each IPv4 or IPv6 with the port asked for, and addresses only with rcode NOERROR.
 *
 * The same bytes, read as a host name, also check that the two halves agree: a query that
 * lg_dns_query() writes, answered the way a resolver answers it, parses to that one address.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "health/dns.h"

/* A UDP answer without EDNS is at most 512 bytes; the parser reads up to 1500 (LG_DNS_MSG_MAX). */
#define FUZZ_DNS_MAX_INPUT   1500
#define FUZZ_DNS_PORT        8080
#define FUZZ_DNS_NAME_MAX    255
#define FUZZ_DNS_ID          0x4242
#define FUZZ_DNS_RCODE_MAX   15 /* four bits in the header */
#define FUZZ_DNS_RCODE_UNSET 0xFFFF

/* An answer record: a pointer to the question's name (offset 12), A, IN, TTL 60, 192.0.2.1. */
static const unsigned char fuzz_dns_answer[] = {0xC0, 0x0C, 0, 1, 0,   1, 0, 0,
                                                0,    60,   0, 4, 192, 0, 2, 1};

/* An address as lg_dns_parse() promises it: IPv4 or IPv6, with the port asked for. */
static int fuzz_dns_addr_ok(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_port == htons(FUZZ_DNS_PORT);
    if (a->ss_family == AF_INET6)
        return ((const struct sockaddr_in6 *)a)->sin6_port == htons(FUZZ_DNS_PORT);
    return 0;
}

/* Query for the input as a name, answer it, parse the answer: exactly the address given. */
static void fuzz_dns_roundtrip(const uint8_t *data, size_t size)
{
    unsigned char msg[12 + FUZZ_DNS_NAME_MAX + 6 + sizeof(fuzz_dns_answer)];
    const struct sockaddr_in *sin;
    struct sockaddr_storage out[LG_DNS_SLOTS];
    char name[FUZZ_DNS_NAME_MAX + 1];
    unsigned rcode = FUZZ_DNS_RCODE_UNSET;
    size_t n;

    if (size > FUZZ_DNS_NAME_MAX || memchr(data, 0, size) != NULL)
        return;
    memcpy(name, data, size);
    name[size] = '\0';
    n = lg_dns_query(msg, sizeof(msg) - sizeof(fuzz_dns_answer), FUZZ_DNS_ID, name, 1);
    if (n == 0)
        return;     /* not a name lg_dns_query() writes */
    msg[2] |= 0x80; /* QR: a response */
    msg[7] = 1;     /* one answer */
    memcpy(msg + n, fuzz_dns_answer, sizeof(fuzz_dns_answer));
    if (lg_dns_parse(msg, n + sizeof(fuzz_dns_answer), FUZZ_DNS_ID, FUZZ_DNS_PORT, out,
                     LG_DNS_SLOTS, &rcode) != 1 ||
        rcode != 0)
        abort();
    sin = (const struct sockaddr_in *)&out[0];
    if (out[0].ss_family != AF_INET || memcmp(&sin->sin_addr, fuzz_dns_answer + 12, 4) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_storage out[LG_DNS_SLOTS];
    unsigned rcode = FUZZ_DNS_RCODE_UNSET;
    unsigned char *msg;
    unsigned id;
    int max, n;

    if (size > FUZZ_DNS_MAX_INPUT)
        return -1;
    /* an exact-size copy, so that ASan sees any read one byte past the message */
    msg = malloc(size > 0 ? size : 1);
    if (msg == NULL)
        abort();
    memcpy(msg, data, size);
    id = size >= 2 ? (unsigned)msg[0] << 8 | msg[1] : 0;
    /* vary the room left for addresses, as lookups that already hold some do */
    max = size >= 3 ? msg[size - 1] % (LG_DNS_SLOTS + 1) : LG_DNS_SLOTS;
    n = lg_dns_parse(msg, size, id, FUZZ_DNS_PORT, out, max, &rcode);
    if (n < -1 || n > max || (n > 0 && rcode != 0) || (n >= 0 && rcode > FUZZ_DNS_RCODE_MAX))
        abort();
    for (int i = 0; i < n; i++)
        if (!fuzz_dns_addr_ok(&out[i]))
            abort();
    free(msg);
    fuzz_dns_roundtrip(data, size);
    return 0;
}
