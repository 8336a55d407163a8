/*
 * head.h - reading and rebuilding HTTP/1.1 message heads.
 *
 * llhttp validates the grammar first; these functions then walk the head once more to catch
 * what llhttp 8 lets through (bare LF at the end of the head, whitespace before a colon,
 * obsolete line folding), to collect the facts routing needs, and to write the head that goes
 * to the other side: hop-by-hop headers removed, X-Forwarded-* added, one framing header.
 * They never allocate; every span points into the caller's head bytes.
 */
#ifndef LG_HEAD_H
#define LG_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/lg.h"
#include "http/chunk.h"
#include "http/field.h"

#define LG_HEAD_MAX_CONN_TOKENS 16

struct lg_hdr_rules; /* http/rules.h */
struct lg_rule_vals;

/* One header line of a head. */
/*
 * The longest X-Request-Id taken from a client: the first field that is not empty and not
 * longer is kept (and logged whole); with none, lifeguard makes its own.
 */
#define LG_REQUEST_ID_MAX 63

typedef struct lg_hdr {
    const char *line; /* the whole line, CRLF included */
    size_t line_len;
    lg_span_t name;
    lg_span_t value; /* without surrounding whitespace */
} lg_hdr_t;

typedef enum lg_hdr_kind {
    LG_H_OTHER = 0,
    LG_H_HOST,
    LG_H_CONNECTION,
    LG_H_KEEP_ALIVE,
    LG_H_PROXY_CONNECTION,
    LG_H_TE,
    LG_H_UPGRADE,
    LG_H_TRANSFER_ENCODING,
    LG_H_CONTENT_LENGTH,
    LG_H_XFF,
    LG_H_XFP,
    LG_H_XFH,
    LG_H_REQUEST_ID,
    LG_H_HTTP2_SETTINGS,
    LG_H_CLIENT_CERT, /* X-Client-Cert-Subject: lifeguard's to write, never the client's */
} lg_hdr_kind_t;

/* What the head says about the connection, shared by requests and responses. */
typedef struct lg_conn_hdrs {
    lg_span_t tokens[LG_HEAD_MAX_CONN_TOKENS]; /* names listed in Connection */
    unsigned ntokens;
    unsigned close : 1;      /* "Connection: close" */
    unsigned keep_alive : 1; /* "Connection: keep-alive" */
    unsigned upgrade : 1;    /* "Connection: upgrade" */
} lg_conn_hdrs_t;

typedef struct lg_req_head {
    const char *head; /* start line; the head ends at head + len with an empty line */
    size_t len;
    lg_span_t method;
    lg_span_t path;   /* origin-form target (absolute-form reduced to path?query); normalised by
                         lg_req_head_target() */
    lg_span_t host;   /* Host value, or the authority of an absolute-form target; may be empty */
    lg_span_t target; /* as received */
    lg_span_t request_id; /* X-Request-Id as received; len 0 when absent or too long */
    unsigned upgrade;     /* Connection: upgrade and Upgrade names a protocol other than h2c */
    unsigned absolute;    /* absolute-form target: `host` is its authority */
    unsigned http_minor;
    lg_te_framing_t te; /* LG_TE_NONE or LG_TE_CHUNKED once the scan accepted the head */
    lg_conn_hdrs_t conn;
} lg_req_head_t;

typedef struct lg_rsp_head {
    const char *head;
    size_t len;
    lg_span_t status_rest; /* "200 OK" without the CRLF */
    lg_te_framing_t te;    /* what Transfer-Encoding says (never LG_TE_BAD once accepted) */
    lg_conn_hdrs_t conn;
} lg_rsp_head_t;

/* What to add when a request head is rebuilt for the backend. */
typedef struct lg_req_build {
    const char *client_ip;
    const char *proto;        /* "http" or "https" */
    const char *default_host; /* sent as Host when the request has none (HTTP/1.0) */
    int chunked;              /* body framing: chunked ... */
    int has_length;           /* ... or Content-Length: length */
    uint64_t length;
    int close;               /* ask the backend to close after the response */
    const char *request_id;  /* added as X-Request-Id when the request had none (or NULL) */
    const char *client_cert; /* X-Client-Cert-Subject: the verified subject (or NULL) */
    int upgrade;             /* pass Upgrade on, with Connection: upgrade (WebSocket) */
    const struct lg_hdr_rules *rules; /* the route's request_headers (or NULL) ... */
    const struct lg_rule_vals *vals;  /* ... and the values of their variables */
} lg_req_build_t;

/* How a response head is rebuilt for the client. */
typedef struct lg_rsp_build {
    int keep_chunked; /* the body goes chunked: "Transfer-Encoding: [codings, ]chunked" */
    int keep_codings; /* the body is relayed: name the codings other than chunked, if any */
    int close;        /* "Connection: close" */
    int keep_alive;   /* "Connection: keep-alive" (HTTP/1.0 client kept open) */
    int upgrade;      /* a 101: keep Upgrade, say "Connection: upgrade" */
    const struct lg_hdr_rules *rules; /* the route's response_headers (or NULL) ... */
    const struct lg_rule_vals *vals;  /* ... and the values of their variables */

    /* a Set-Cookie value to add (sticky), or len 0 */
    lg_span_t set_cookie;
} lg_rsp_build_t;

lg_hdr_kind_t lg_hdr_kind(const char *name, size_t len);

/*
 * Scan a request head of `len` bytes (ending with CRLF CRLF, grammar checked by llhttp).
 * Returns 0, or the HTTP status to answer with (400, 501) when the head is unacceptable:
 * a request line that is not exactly `method SP target SP HTTP/1.x`; a target that is not
 * origin-form, absolute-form (http/https, no userinfo) or "*" with OPTIONS; a header name that
 * is not a token, or that a CGI-style server reads as a framing, hop-by-hop or X-Forwarded-*
 * header once '_' is taken for '-' (Transfer_Encoding); a value with a control character other
 * than HTAB; no Host (HTTP/1.1), an empty or invalid one, or two; a Content-Length above
 * 2^63-1; an invalid Upgrade list; a transfer coding other than chunked (501).
 */
int lg_req_head_scan(lg_req_head_t *rq, const char *head, size_t len, unsigned http_minor);
/*
 * Normalise the target of a scanned request into out[0..cap) (path.h) and point rq->path at
 * it: routing and the rebuilt head use that path. Returns 0, 400 or 414 (see lg_path_normalize).
 */
int lg_req_head_target(lg_req_head_t *rq, char *out, size_t cap);
/*
 * Remove the first n bytes of the normalised path (a route's path_prefix: strip_prefix) into
 * out[0..cap) and point rq->path at the result, which is what the backend gets; the target the
 * logs show is rq->target, untouched. Returns 0, 400 or 414 (see lg_path_strip).
 */
int lg_req_head_strip(lg_req_head_t *rq, size_t n, char *out, size_t cap);
/*
 * Write the head for the backend into out[0..cap) (after lg_req_head_target()); returns its
 * length, 0 if it does not fit. Upgrade (with b->upgrade) lists every protocol asked but h2c;
 * HTTP2-Settings is never written. The rules b->rules (rules.h) drop and add fields, and may
 * set the Host the backend gets (X-Forwarded-Host keeps the client's).
 */
size_t lg_req_head_build(const lg_req_head_t *rq, const lg_req_build_t *b, char *out, size_t cap);

/*
 * Scan a response head; returns LG_OK or LG_ERR (the backend's answer is malformed: the same
 * rules for header names and values, and Content-Length, as requests).
 */
int lg_rsp_head_scan(lg_rsp_head_t *rs, const char *head, size_t len);
size_t lg_rsp_head_build(const lg_rsp_head_t *rs, const lg_rsp_build_t *b, char *out, size_t cap);
/*
 * The next field of a scanned response head that goes on end to end (hop-by-hop fields and
 * those named by Connection skipped): 1 and `*h`, or 0 at the end. `*cur` starts NULL.
 */
int lg_rsp_head_next(const lg_rsp_head_t *rs, const char **cur, lg_hdr_t *h);
/*
 * Whether a 101 may be passed on: its Upgrade names at least one protocol, and each one is in
 * the Upgrade of the request head req[0..req_len) that the backend received.
 */
int lg_rsp_upgrade_agreed(const lg_rsp_head_t *rs, const char *req, size_t req_len);

/* The value of the first header `name` (case-insensitive) of a scanned request, or len 0. */
lg_span_t lg_req_head_header(const lg_req_head_t *rq, const char *name);
/* The value of cookie `name` in the request's Cookie headers, or len 0. */
lg_span_t lg_req_head_cookie(const lg_req_head_t *rq, const char *name);

#endif
