/*
 * scalar.c - parsers for the scalar types of the configuration: durations, sizes and addresses.
 * They are strict (no sign, no spaces, no fractions) and each failure has a reason a user can act
 * on; the reasons are static strings.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config-int.h"

#define LG_MAX_PORT    65535
#define LG_DNS_NAME    253 /* longest DNS name, without the trailing dot */
#define LG_DNS_LABEL   63
#define LG_PORT_DIGITS 5

typedef struct lg_unit {
    const char *name;
    uint64_t mult;
} lg_unit_t;

/* The units a kind of value accepts and what to say when the unit is missing or unknown. */
typedef struct lg_unit_set {
    const lg_unit_t *units;
    size_t nunits;
    int icase;
    const char *no_unit;
    const char *bad_unit;
} lg_unit_set_t;

static const lg_unit_t lg_duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}};

static const lg_unit_t lg_size_units[] = {
    {"", 1}, {"k", 1024}, {"m", 1024 * 1024}, {"g", 1024 * 1024 * 1024}};

static const lg_unit_set_t lg_durations = {lg_duration_units, LG_NELEMS(lg_duration_units), 0,
                                           "add a unit: ms, s, m, h",
                                           "unknown unit (use ms, s, m or h)"};

static const lg_unit_set_t lg_sizes = {lg_size_units, LG_NELEMS(lg_size_units), 1, NULL,
                                       "unknown suffix (use k, m or g)"};

/*
 * Decimal digits followed by one of the units of `set`. No sign, no fraction, no spaces; fails
 * on overflow. The reason for a failure is stored in *why.
 */
static int lg_parse_unit(const char *s, const lg_unit_set_t *set, uint64_t *out, const char **why)
{
    uint64_t n = 0;
    unsigned d;
    size_t i;

    if (*s == '\0') {
        *why = "empty value";
        return LG_ERR;
    }
    if (*s == '-') {
        *why = "must not be negative";
        return LG_ERR;
    }
    if (!isdigit((unsigned char)*s)) {
        *why = "not a number";
        return LG_ERR;
    }
    for (; isdigit((unsigned char)*s); s++) {
        d = (unsigned)(*s - '0');
        if (n > (UINT64_MAX - d) / 10) {
            *why = "too large";
            return LG_ERR;
        }
        n = n * 10 + d;
    }
    if (*s == '.') {
        *why = "use a whole number (e.g. 1500ms, not 1.5s)";
        return LG_ERR;
    }
    for (i = 0; i < set->nunits; i++) {
        if ((set->icase ? strcasecmp(s, set->units[i].name) : strcmp(s, set->units[i].name)) != 0)
            continue;
        if (n > UINT64_MAX / set->units[i].mult) {
            *why = "too large";
            return LG_ERR;
        }
        *out = n * set->units[i].mult;
        return LG_OK;
    }
    *why = *s == '\0' ? set->no_unit : set->bad_unit;
    return LG_ERR;
}

int lg_parse_duration(const char *s, lg_msec_t *out, const char **why)
{
    return lg_parse_unit(s, &lg_durations, out, why);
}

int lg_parse_size(const char *s, uint64_t *out, const char **why)
{
    return lg_parse_unit(s, &lg_sizes, out, why);
}

/* A DNS name as Docker and resolvers accept it: labels of letters, digits, '-' and '_'. */
int lg_conf_valid_hostname(const char *s, size_t len)
{
    size_t label = 0, i;
    int numeric_label = 1;

    if (len > 0 && s[len - 1] == '.')
        len--; /* a fully qualified name */
    if (len == 0 || len > LG_DNS_NAME)
        return 0;
    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > LG_DNS_LABEL || s[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
        if (label == 0) {
            if (s[i] == '-')
                return 0;
            numeric_label = 1;
        }
        if (!isdigit((unsigned char)s[i]))
            numeric_label = 0;
        label++;
    }
    /* A name whose last label is all digits is a mistyped IPv4 address, not a host name. */
    return !numeric_label;
}

static int lg_parse_port(const char *s, unsigned flags, uint16_t *out, const char **why)
{
    unsigned long n = 0;
    size_t i;

    if (*s == '\0') {
        *why = "missing port";
        return LG_ERR;
    }
    for (i = 0; s[i] != '\0'; i++) {
        if (!isdigit((unsigned char)s[i])) {
            *why = "invalid port";
            return LG_ERR;
        }
        if (i < LG_PORT_DIGITS + 1)
            n = n * 10 + (unsigned long)(s[i] - '0');
    }
    if (n > LG_MAX_PORT) {
        *why = (flags & LG_ADDR_PORT0) ? "port must be 0..65535" : "port must be 1..65535";
        return LG_ERR;
    }
    if (n == 0 && !(flags & LG_ADDR_PORT0)) {
        *why = "port must be 1..65535";
        return LG_ERR;
    }
    *out = (uint16_t)n;
    return LG_OK;
}

/*
 * Split "host:port" or "[v6]:port" into its host part (`*host`, `*hlen`, without brackets) and
 * its port text (`*port`); `*v6` says the host was bracketed. Only the punctuation is checked.
 */
static int lg_addr_split(const char *s, const char **host, size_t *hlen, const char **port, int *v6,
                         const char **why)
{
    const char *colon;

    if (s[0] == '[') {
        colon = strchr(s, ']');
        if (colon == NULL) {
            *why = "missing ']' after the IPv6 address";
            return LG_ERR;
        }
        *host = s + 1;
        *hlen = (size_t)(colon - *host);
        if (colon[1] != ':') {
            *why = colon[1] == '\0' ? "missing port (write [ADDRESS]:PORT)" : "invalid port";
            return LG_ERR;
        }
        *port = colon + 2;
        *v6 = 1;
        return LG_OK;
    }
    colon = strrchr(s, ':');
    if (colon == NULL) {
        *why = "missing port (write HOST:PORT)";
        return LG_ERR;
    }
    if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
        *why = "IPv6 addresses need brackets, e.g. [::1]:8080";
        return LG_ERR;
    }
    *host = s;
    *hlen = (size_t)(colon - s);
    *port = colon + 1;
    *v6 = 0;
    return LG_OK;
}

/*
 * Turn out->host (`hlen` bytes, bracketed when `v6`) into a sockaddr with out->port: the wildcard
 * for an empty host (LG_ADDR_ANYHOST), an IP literal, or a host name (LG_ADDR_HOSTNAME), which is
 * only checked for syntax and marked is_hostname.
 */
static int lg_addr_host(lg_addr_t *out, size_t hlen, int v6, unsigned flags, const char **why)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->sa;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->sa;

    if (hlen == 0 && !v6) {
        if (!(flags & LG_ADDR_ANYHOST)) {
            *why = "missing host (write HOST:PORT)";
            return LG_ERR;
        }
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons(out->port);
        out->salen = sizeof(*sin);
        return LG_OK;
    }
    if (v6) {
        if (inet_pton(AF_INET6, out->host, &sin6->sin6_addr) != 1) {
            *why = "invalid IPv6 address";
            return LG_ERR;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(out->port);
        out->salen = sizeof(*sin6);
        return LG_OK;
    }
    if (inet_pton(AF_INET, out->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(out->port);
        out->salen = sizeof(*sin);
        return LG_OK;
    }
    if (strspn(out->host, "0123456789.") == hlen) {
        *why = "invalid IPv4 address";
        return LG_ERR;
    }
    if (!lg_conf_valid_hostname(out->host, hlen)) {
        *why = "invalid host name";
        return LG_ERR;
    }
    if (!(flags & LG_ADDR_HOSTNAME)) {
        *why = "must be an IP address (e.g. 127.0.0.1:8080, [::1]:8080 or :8080), not a host name";
        return LG_ERR;
    }
    out->is_hostname = 1;
    return LG_OK;
}

/*
 * "host:port", "[v6]:port", ":port" (with LG_ADDR_ANYHOST) or "name:port" (with
 * LG_ADDR_HOSTNAME). IP literals fill `sa`; host names are only checked for syntax.
 */
int lg_parse_addr(const char *s, unsigned flags, lg_addr_t *out, const char **why)
{
    size_t len = strlen(s), hlen;
    const char *host, *port;
    int v6;

    memset(out, 0, sizeof(*out));
    if (len == 0) {
        *why = "empty address";
        return LG_ERR;
    }
    if (len >= LG_ADDR_TEXT_MAX) {
        *why = "address too long";
        return LG_ERR;
    }
    if (lg_addr_split(s, &host, &hlen, &port, &v6, why) != LG_OK)
        return LG_ERR;
    if (hlen >= sizeof(out->host)) {
        /* the whole text fits in LG_ADDR_TEXT_MAX, the host part alone may not */
        *why = "host too long";
        return LG_ERR;
    }
    if (lg_parse_port(port, flags, &out->port, why) != LG_OK)
        return LG_ERR;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    memcpy(out->text, s, len + 1);
    return lg_addr_host(out, hlen, v6, flags, why);
}
