/*
 * config.h - the parsed configuration: an immutable tree with every default filled in.
 *
 * lg_config_load() turns a YAML file into a struct lg_config or a list of errors, each one line
 * "FILE:LINE:COL: error: MESSAGE". It parses and validates only: it opens no socket and resolves
 * no host name. The whole tree lives in one allocation arena freed by lg_config_free().
 *
 * Hostile files are bounded: at most 1 MiB, UTF-8 without NUL bytes, nesting at most 64 deep,
 * one document, and no YAML aliases (rejected with an error, so nothing is ever expanded).
 * docs/configuration.md is the user's reference for every key.
 */
#ifndef LG_CONFIG_H
#define LG_CONFIG_H

#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/cidr.h"
#include "core/lg.h"
#include "core/log.h"
#include "http/tmpl.h"

/* Longest host part (a DNS name is at most 253 characters) and whole address text. */
#define LG_ADDR_HOST_MAX 256
#define LG_ADDR_TEXT_MAX 264

/*
 * An address as written (`text`) and, when it is an IP literal, as a sockaddr. The strings are
 * stored inside the struct, so an lg_addr_t can be copied by assignment and owns nothing.
 */
typedef struct lg_addr {
    char text[LG_ADDR_TEXT_MAX]; /* as written: "0.0.0.0:8080", "[::1]:80", ":8080", "app:80" */
    char host[LG_ADDR_HOST_MAX]; /* host part without brackets; "" for ":port" */
    uint16_t port;               /* may be 0 for listeners (ephemeral port, logged at start) */
    int is_hostname;             /* 1: `host` is a name to resolve; `sa` is unset */
    struct sockaddr_storage sa;  /* ":port" is 0.0.0.0:port */
    socklen_t salen;
} lg_addr_t;

/* Flags for lg_parse_addr(): what the caller accepts besides "IP:PORT" with a port >= 1. */
#define LG_ADDR_HOSTNAME 0x1u /* "name:port" (backends); is_hostname is set, nothing resolved */
#define LG_ADDR_PORT0    0x2u /* port 0 = ephemeral (listeners) */
#define LG_ADDR_ANYHOST  0x4u /* ":port" = every IPv4 address (listeners) */

typedef enum lg_access_format {
    LG_ACCESS_COMBINED = 0,
    LG_ACCESS_JSON,
} lg_access_format_t;

typedef enum lg_listener_mode {
    LG_MODE_HTTP = 0,
    LG_MODE_TCP,
} lg_listener_mode_t;

typedef enum lg_balance {
    LG_BALANCE_ROUND_ROBIN = 0,
    LG_BALANCE_WEIGHTED,
    LG_BALANCE_LEAST_CONN,
    LG_BALANCE_P2C,
    LG_BALANCE_HASH,
} lg_balance_t;

/* pools.NAME.proxy_protocol: the PROXY header sent first on every backend connection. */
typedef enum lg_ppout {
    LG_PPOUT_OFF = 0,
    LG_PPOUT_V1, /* text */
    LG_PPOUT_V2, /* binary */
} lg_ppout_t;

typedef enum lg_hash_key {
    LG_HASH_CLIENT_IP = 0,
    LG_HASH_URI,
    LG_HASH_HEADER, /* hash_key_name holds the header name */
    LG_HASH_COOKIE, /* hash_key_name holds the cookie name */
} lg_hash_key_t;

typedef enum lg_check_type {
    LG_CHECK_TCP = 0,
    LG_CHECK_HTTP,
    LG_CHECK_NONE,
} lg_check_type_t;

/* Where a key or value was written, for messages that point at the file. */
typedef struct lg_conf_pos {
    unsigned line;
    unsigned col;
} lg_conf_pos_t;

typedef struct lg_health_check_conf {
    lg_check_type_t type; /* default: http */
    char *path;           /* default "/healthz" */
    char *host;           /* Host header; default: the backend's host */
    unsigned expect_min;  /* default 200 */
    unsigned expect_max;  /* default 399 */
    lg_msec_t interval;   /* default 2s */
    lg_msec_t timeout;    /* default 1s */
    unsigned rise;        /* default 2 */
    unsigned fall;        /* default 3 */
} lg_health_check_conf_t;

typedef struct lg_backend_conf {
    lg_addr_t addr;
    unsigned weight;          /* 1..1000, default 1 */
    unsigned backup;          /* 1: takes traffic only while no other backend of the pool is up */
    unsigned max_connections; /* concurrent exchanges, all workers; 0 (default): unlimited */
    lg_conf_pos_t pos;
    lg_conf_pos_t addr_pos; /* of the address itself (`lifeguard -t` warnings) */
} lg_backend_conf_t;

typedef enum lg_samesite {
    LG_SAMESITE_LAX = 0,
    LG_SAMESITE_STRICT,
    LG_SAMESITE_NONE,
} lg_samesite_t;

/* pools.NAME.sticky: a cookie naming the backend that served (src/upstream/sticky.c). */
typedef struct lg_sticky_conf {
    char *cookie;           /* its name; NULL: no stickiness */
    char *path;             /* Path attribute, default "/" */
    lg_msec_t max_age;      /* Max-Age in seconds; 0 (default): a session cookie */
    lg_samesite_t samesite; /* default lax */
    unsigned httponly;      /* default 1 */
} lg_sticky_conf_t;

typedef struct lg_pool_conf {
    char *name;
    lg_balance_t balance;   /* default round_robin */
    lg_hash_key_t hash_key; /* default client_ip */
    char *hash_key_name;    /* for header:/cookie:, else NULL */
    lg_backend_conf_t *backends;
    size_t nbackends;           /* >= 1 */
    lg_msec_t resolve_interval; /* default 5s */
    lg_health_check_conf_t health_check;
    unsigned keepalive_max_idle; /* default 64; 0 disables upstream keep-alive */
    unsigned retries;            /* default 1 */
    lg_msec_t slow_start;        /* a backend that comes up ramps to full weight over this; 0 off */
    lg_sticky_conf_t sticky;
    unsigned queue_max;           /* requests waiting for a backend slot, all workers; 1000 */
    lg_msec_t queue_timeout;      /* how long one waits; 0 (default): timeouts.connect */
    lg_ppout_t proxy_protocol;    /* default off; not off: upstream connections are never pooled */
    struct lg_pool_tls_conf *tls; /* TLS to the backends; NULL: plain */
    lg_conf_pos_t pos;
} lg_pool_conf_t;

/* Upstream connections of `p` go back to an idle pool (keepalive.max_idle, no proxy_protocol). */
int lg_pool_keeps_idle(const lg_pool_conf_t *p);

/* Some backend of `p` has max_connections: requests may wait in its queue. */
int lg_pool_limited(const lg_pool_conf_t *p);

typedef enum lg_rl_key {
    LG_RL_KEY_CLIENT_IP = 0,
    LG_RL_KEY_HEADER, /* lg_rate_limit_conf_t.header names the header */
} lg_rl_key_t;

struct lg_rl_table; /* src/policy/ratelimit.h: the buckets of a generation */

/* routes[].rate_limit: a token bucket per key value (docs/configuration.md, "rate_limit"). */
typedef struct lg_rate_limit_conf {
    lg_rl_key_t key;      /* default client_ip */
    char *header;         /* LG_RL_KEY_HEADER: the header's name */
    unsigned rate;        /* tokens per `per_sec` seconds, >= 1 */
    unsigned per_sec;     /* 1 (rate: N/s) or 60 (N/m) */
    unsigned burst;       /* bucket size, >= 1; default `rate` */
    uint64_t interval_us; /* one token comes back every this many microseconds */
    /* set by the master for a generation (lg_rl_new); NULL and 0 in `lifeguard -t` */
    struct lg_rl_table *table;
    size_t id; /* this route's counters in `table` */
} lg_rate_limit_conf_t;

/* A route's `headers` condition: the request has a field `name` whose value is `value`. */
typedef struct lg_route_header {
    char *name;  /* a token, compared case-insensitively */
    char *value; /* compared exactly (the request's value without its OWS); may be "" */
    size_t name_len, value_len;
} lg_route_header_t;

#define LG_ROUTE_HEADERS_MAX  32         /* `headers` conditions of one route */
#define LG_ROUTE_RETRIES_POOL UINT_MAX   /* retries not set on the route: the pool's */
#define LG_ROUTE_BODY_GLOBAL  UINT64_MAX /* limits.max_body_size not set: the global one */
#define LG_ROUTE_TIMEOUTS_MAX 32         /* distinct values of the routes' timeouts in a file */

/* A route's answer without a backend (config/answer.c): `redirect` or `respond`. */
typedef struct lg_answer_conf {
    unsigned redirect; /* 1: redirect (to, status); 0: respond (status, body, content_type) */
    unsigned status;   /* redirect: 301|302|303|307|308 (302); respond: 200-599 (200) */
    lg_tmpl_t to;      /* redirect: the Location template */
    char *body;        /* respond: "" by default, at most LG_RESPOND_BODY_MAX bytes */
    size_t body_len;
    char *content_type; /* respond: NULL = text/plain; charset=utf-8 */
} lg_answer_conf_t;

#define LG_RESPOND_BODY_MAX 8192 /* a respond body fits one buffer, next to its head */

struct lg_hdr_rules; /* http/rules.h */

typedef struct lg_route_conf {
    char *host;               /* NULL = any; lower-case; "*.example.com" when wildcard */
    int host_wildcard;        /* 1: match any name ending in host+1 (".example.com") */
    char *path_prefix;        /* NULL = any */
    size_t pool;              /* index into lg_config.pools (unused when answer is set) */
    lg_answer_conf_t *answer; /* NULL: to a pool; else answered by lifeguard */
    char **methods;           /* NULL = any; tokens compared exactly ("GET" matches no HEAD) */
    size_t nmethods;
    lg_route_header_t *headers; /* all must match; NULL = none */
    size_t nheaders;
    unsigned strip_prefix; /* 1: path_prefix is removed from the path the backend gets */
    struct {
        lg_msec_t connect;           /* 0: timeouts.connect */
        lg_msec_t upstream_response; /* 0: timeouts.upstream_response */
    } timeouts;
    struct {
        uint64_t max_body_size; /* LG_ROUTE_BODY_GLOBAL: limits.max_body_size; 0 = unlimited */
    } limits;
    unsigned retries;                            /* LG_ROUTE_RETRIES_POOL: the pool's */
    lg_rate_limit_conf_t *rate_limit;            /* NULL: not limited */
    const struct lg_hdr_rules *request_headers;  /* NULL: none */
    const struct lg_hdr_rules *response_headers; /* NULL: none */
    lg_conf_pos_t pos;

    /* access control by client address (exchange/access.h); NULL: no such list */
    const lg_cidr_set_t *allow; /* only these clients get in, others get 403 */
    const lg_cidr_set_t *deny;  /* these get 403, listed in allow or not */
} lg_route_conf_t;

/* TLS protocol versions, in order; a bit each in lg_tls_conf_t.versions. */
typedef enum lg_tls_version {
    LG_TLS_1_0 = 0, /* refused at load */
    LG_TLS_1_1,     /* refused at load */
    LG_TLS_1_2,
    LG_TLS_1_3,
} lg_tls_version_t;

typedef enum lg_ocsp_mode {
    LG_OCSP_AUTO = 0, /* fetch from the responder named in the certificate (AIA) */
    LG_OCSP_OFF,
    LG_OCSP_FILE, /* staple the DER response in ocsp_file */
} lg_ocsp_mode_t;

typedef enum lg_unknown_sni {
    LG_SNI_DEFAULT = 0, /* the first certificate */
    LG_SNI_REJECT,      /* unrecognized_name alert */
} lg_unknown_sni_t;

typedef enum lg_client_verify {
    LG_VERIFY_REQUIRED = 0, /* no valid client certificate: handshake failure */
    LG_VERIFY_OPTIONAL,     /* asked for; a missing or invalid one leaves the subject empty */
} lg_client_verify_t;

typedef enum lg_ktls {
    LG_KTLS_AUTO = 0, /* kernel TLS when the kernel has it */
    LG_KTLS_OFF,
} lg_ktls_t;

/*
 * One entry of tls.certificates: a PEM leaf and its chain, and its private key; or (acme set)
 * the names of a certificate obtained and renewed by the master's ACME client (src/acme).
 */
typedef struct lg_tls_cert_conf {
    char *cert;  /* NULL for an acme entry */
    char *key;   /* NULL for an acme entry */
    char **acme; /* acme: [names]: lower case DNS names, no wildcard; NULL: cert and key */
    size_t nacme;
    lg_ocsp_mode_t ocsp;                       /* default auto */
    char *ocsp_file;                           /* LG_OCSP_FILE */
    lg_conf_pos_t pos;                         /* of the list entry */
    lg_conf_pos_t cert_pos, key_pos, ocsp_pos; /* of the values, for load errors */
} lg_tls_cert_conf_t;

struct lg_tls_ctx; /* src/tls: the listener's server context, built by lg_tls_load() */

/* pools.NAME.tls: TLS to the backends (docs/configuration.md, "pools: tls"). */
typedef struct lg_pool_tls_conf {
    unsigned verify;           /* default 1: the chain against `ca` and the name */
    char *ca;                  /* PEM file of trusted CAs; NULL: the system store */
    char *server_name;         /* SNI and verified name; NULL: each backend's host name */
    lg_tls_cert_conf_t client; /* client certificate: cert and key, both NULL when none */
    lg_ktls_t ktls;            /* default auto: kernel TLS on backend connections when available */
    lg_conf_pos_t pos;         /* of the `tls` key */
    lg_conf_pos_t ca_pos;
    struct ssl_ctx_st *ctx; /* the client context, built by lg_tls_load(); freed with the config */
} lg_pool_tls_conf_t;

/* listeners.NAME.tls: TLS termination (docs/configuration.md, "tls"). */
typedef struct lg_tls_conf {
    lg_tls_cert_conf_t *certs; /* >= 1; the first is the default */
    size_t ncerts;
    unsigned versions;            /* bits 1 << LG_TLS_1_x; default 1.2 and 1.3 */
    char *ciphers;                /* TLS 1.2 list, OpenSSL syntax; default LG_TLS_CIPHERS */
    lg_unknown_sni_t unknown_sni; /* default: default */
    struct {
        char *ca; /* NULL: no client certificate asked for */
        lg_client_verify_t verify;
        lg_conf_pos_t ca_pos;
    } client_auth;
    unsigned session_tickets;      /* 1 (default) or 0 */
    lg_msec_t ticket_key_rotation; /* default 12h */
    lg_ktls_t ktls;                /* default auto */
    lg_conf_pos_t pos;             /* of the `tls` key */
    lg_conf_pos_t ciphers_pos;     /* of the ciphers value (or the `tls` key) */
    struct lg_tls_ctx *ctx;        /* NULL until lg_tls_load(); freed with the config */
} lg_tls_conf_t;

/* Mozilla's "intermediate" TLS 1.2 ciphers (guideline 5.7), the default of tls.ciphers. */
#define LG_TLS_CIPHERS                                                                             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"       \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

#define LG_HTTP2_DEFAULT 2u /* http2 not set: on with tls, off without */

/* acme.challenge: how the ACME server checks that we hold a name. */
typedef enum lg_acme_challenge {
    LG_ACME_HTTP01 = 0, /* answered on every http listener (the CA connects to port 80) */
    LG_ACME_TLSALPN01,  /* answered by TLS listeners, ALPN acme-tls/1 (the CA uses port 443) */
} lg_acme_challenge_t;

/* acme: automatic certificates (RFC 8555; docs/configuration.md, "acme"). */
typedef struct lg_acme_conf {
    char *directory; /* default LG_ACME_DIRECTORY (Let's Encrypt production) */
    char *email;     /* contact of the account; NULL: none */
    char *storage;   /* directory of the account key and certificates; default LG_ACME_STORAGE */
    char *ca;        /* PEM file trusted for the ACME server; NULL: the system store */
    lg_acme_challenge_t challenge; /* default http-01 */
    lg_msec_t renew_before;        /* default 720h */
    lg_conf_pos_t pos;             /* of the `acme` key */
} lg_acme_conf_t;

#define LG_ACME_DIRECTORY "https://acme-v02.api.letsencrypt.org/directory"
#define LG_ACME_STORAGE   "/var/lib/lifeguard/acme"

typedef struct lg_listener_conf {
    char *name;
    lg_addr_t addr;
    lg_listener_mode_t mode; /* default http */
    lg_route_conf_t *routes; /* http: >= 1; tcp: 0 (pool) or by SNI (host: the sni, NULL: any) */
    size_t nroutes;
    size_t pool;        /* tcp mode: index into lg_config.pools */
    lg_tls_conf_t *tls; /* NULL: plain */
    unsigned http2;     /* 1: HTTP/2 too (ALPN h2 with tls, else h2c prior knowledge) */
    /* proxy_protocol.trusted; NULL: no PROXY header expected (front/ppin.h) */
    const lg_cidr_set_t *proxy_trusted;
    lg_conf_pos_t pos;
    lg_conf_pos_t listen_pos; /* of the `listen` value, for a failing bind() */
} lg_listener_conf_t;

typedef struct lg_config {
    char *file;       /* the path it was loaded from */
    unsigned workers; /* "auto" resolved to the CPU count at load time; >= 1 */
    char *pid_file;   /* default: lg_config_default_pid_file() */
    /* the default, same pointer as pid_file while the file does not set one */
    const char *pid_file_default;

    struct {
        lg_log_level_t level;      /* default info */
        char *error;               /* "stderr" (default) or a path */
        char *access;              /* "stdout" (default), a path, or NULL for off */
        lg_access_format_t format; /* default combined */
    } log;

    struct {
        int enabled; /* 0 when admin.listen is absent */
        lg_addr_t addr;
    } admin;

    /* DNS server for hostname backends; text "" when not set (nameserver of /etc/resolv.conf) */
    lg_addr_t resolver;

    struct {
        lg_msec_t client_header;     /* 10s */
        lg_msec_t client_body;       /* 60s: between two reads of a request body */
        lg_msec_t client_idle;       /* 75s */
        lg_msec_t connect;           /* 3s */
        lg_msec_t upstream_response; /* 60s */
        lg_msec_t upstream_idle;     /* 60s */
        lg_msec_t tunnel;            /* 1h: idle tcp relay or upgraded connection */
        lg_msec_t drain;             /* 30s */
    } timeouts;

    struct {
        unsigned max_connections;        /* 10000, per worker */
        size_t max_header_size;          /* 16k; 1k..1m */
        uint64_t max_body_size;          /* 0 = unlimited */
        unsigned max_concurrent_streams; /* 128: HTTP/2 streams open at once per connection */
        unsigned max_connections_per_ip; /* 0 = unlimited; per worker, per client address */
    } limits;

    lg_listener_conf_t *listeners;
    size_t nlisteners; /* >= 1 */
    lg_pool_conf_t *pools;
    size_t npools;
    lg_acme_conf_t *acme; /* NULL: no acme section (then no certificate may be an acme entry) */

    void *arena; /* owns every string and array above */
    /*
     * Set by a module that attached resources of its own to this configuration (src/tls: the
     * listeners' server contexts); lg_config_free() calls it before freeing the arena.
     */
    void (*release)(struct lg_config *cf);
} lg_config_t;

/* The list of problems found in a file, one formatted line each. */
typedef struct lg_config_errors {
    char **lines; /* "FILE:LINE:COL: error: MESSAGE" */
    size_t n;
} lg_config_errors_t;

/*
 * Load and validate `path`. On success returns a new config (free with lg_config_free) and
 * leaves `errs` empty. On failure returns NULL and fills `errs` with every problem found, in
 * file order, at most 100 lines plus one that counts the rest (free with lg_config_errors_free;
 * `errs` may be NULL to discard them). Problems with the file as a whole (cannot open, empty,
 * too large) are "FILE: error: MESSAGE". Never crashes or hangs on hostile input.
 */
lg_config_t *lg_config_load(const char *path, lg_config_errors_t *errs);
void lg_config_free(lg_config_t *cf);
void lg_config_errors_free(lg_config_errors_t *errs);
/*
 * Add "FILE:LINE:COL: error: MESSAGE" to `errs` for a check made after the load (src/tls reads
 * the certificates a loaded file names). Out of memory: the line is lost, never a crash.
 */
void lg_config_error_add(lg_config_errors_t *errs, const lg_config_t *cf, lg_conf_pos_t pos,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The pid file of a file that names none, for the effective user `euid`: /run/lifeguard.pid for
 * root, else $XDG_RUNTIME_DIR/lifeguard.pid (`xdg` when it is an absolute path), else
 * /tmp/lifeguard-UID.pid. So `lifeguard -s reload` run by the same user finds the master.
 * Writes it into buf; LG_ERR when it does not fit.
 */
int lg_config_default_pid_file(unsigned euid, const char *xdg, char *buf, size_t len);

/* Total number of backends over every pool (for `lifeguard -t`). */
size_t lg_config_nbackends(const lg_config_t *cf);

/*
 * The distinct values of every route's timeouts (connect and upstream_response overrides),
 * ascending, into out[LG_ROUTE_TIMEOUTS_MAX] (a loaded file has no more): each needs a timer
 * queue of its own in a worker. Returns how many.
 */
size_t lg_config_route_timeouts(const lg_config_t *cf, lg_msec_t *out);

/*
 * Parsers for the scalar types, shared with anything else that reads them. Each returns LG_OK
 * and stores the value, or LG_ERR with a static reason in *why (and leaves *out unspecified for
 * lg_parse_addr, untouched for the others). Durations: a whole number and ms|s|m|h; sizes: a
 * whole number and an optional k|m|g (KiB, MiB, GiB, any case); addresses: see LG_ADDR_*.
 */
int lg_parse_duration(const char *s, lg_msec_t *out, const char **why); /* 500ms 10s 2m 1h */
int lg_parse_size(const char *s, uint64_t *out, const char **why);      /* 512 16k 1m 1g */
int lg_parse_addr(const char *s, unsigned flags, lg_addr_t *out, const char **why); /* LG_ADDR_* */

#endif
