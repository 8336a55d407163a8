/*
 * origin.c - lg-origin, the HTTP/1.1 origin server behind lifeguard in the integration tests and
 * the benchmarks.
 *
 *   lg-origin [--listen 127.0.0.1:0] [--name NAME] [--close-after N] [--malformed]
 *             [--bad-framing] [--quiet]
 *
 * On start it prints exactly one line to stdout, "listening 127.0.0.1:PORT" (the real port when 0
 * was asked for), then serves until SIGTERM or SIGINT (exit status 0). SIGUSR1 prints the counters
 * to stderr. Diagnostics (bad requests, accept errors) go to stderr unless --quiet.
 *
 * Endpoints (the path decides; the endpoint may follow any number of leading path segments, so
 * /api/v1/echo behaves as /echo and routes with a path prefix reach every endpoint):
 *   /, anything unknown  200 text/plain "NAME\n" (NAME from --name, default "origin")
 *   /healthz             200 "ok\n"
 *   /status/N            status N (200..599) with body "NAME\n"; no body for 204 and 304
 *   /size/N              200 with N bytes of lg_pattern_byte() (N may end in k, m or g: KiB...)
 *   /echo                200 text/plain describing the request, one "key value" line each:
 *                          method GET
 *                          target /echo?x=1          (raw request target)
 *                          version HTTP/1.1
 *                          remote 127.0.0.1:54321
 *                          header Host: 127.0.0.1:80 (every header line exactly as received)
 *                          trailer X-Sum: 1          (chunked trailer lines, as received)
 *                          body-length 12
 *                          body-fnv1a64 0123456789abcdef  (lg_checksum() of the body, 16 hex)
 *                          body-sha256 e3b0c442...        (SHA-256 of the body, 64 hex)
 *   /delay/MS            waits MS milliseconds (timer; others are served meanwhile), then as /
 *   /close               as /, with "Connection: close", then closes
 *   /reset               closes with RST (SO_LINGER 0) without answering
 *   /partial             head with Content-Length: 100000, 1000 body bytes, then closes (FIN)
 *   /hang                never answers; closes when the client does
 *   /stats               200 "connections=N requests=M active=K delayed=D delayed_peak=P\n":
 *                        accepted TCP connections, requests received and connections open now,
 *                        the three not counting /stats requests nor connections that carried
 *                        only /stats requests; /delay requests waiting now and the most that
 *                        ever waited at once (what a proxy's max_connections lets through)
 *   /upgrade             with an Upgrade header: 101 Switching Protocols, then echoes every byte
 *   /page                200 text/html whose inline script writes "nextHopProtocol=PROTO" (the
 *                        protocol of the page's own navigation) into <p id="protocol">
 * Query flags on every response with a body: chunked=1 sends it chunked (varied chunk sizes;
 * close-delimited for HTTP/1.0), close=1 sends it without a length and closes after it,
 * trailer=1 (with chunked=1) ends the chunked body with the trailer "X-Origin-Trailer: ok".
 * On /size/N, offset=O starts the body at pattern byte O (distinct bodies of the same length).
 * HEAD gets the same head as GET without the body.
 *
 * Requests: strict HTTP/1.1 parsing (CRLF only, no obs-fold, Host required in 1.1, exactly one of
 * Content-Length / Transfer-Encoding: chunked); bodies are streamed and discarded (or summed for
 * /echo), never stored; pipelined requests are answered in order; "Expect: 100-continue" gets
 * "HTTP/1.1 100 Continue" before the body is read. Bad requests get 400/431/501/505 and a close.
 * Keep-alive by default for HTTP/1.1; HTTP/1.0 only with "Connection: keep-alive".
 *
 * Flags: --close-after N closes each connection after its Nth response (which carries
 * "Connection: close"); --malformed answers every request with "HTTP/1.1 abc\r\n\r\n" and closes;
 * --bad-framing sends every response with both Content-Length and Transfer-Encoding: chunked.
 *
 * Inside: one thread, one edge-triggered epoll loop. Every connection reads and writes until
 * EAGAIN or its per-wakeup budget (then it goes on the pending list, served after the next
 * non-blocking epoll_wait). Per connection at most one 64 KiB input and one 64 KiB output buffer,
 * both returned to a free list whenever they are empty, so idle connections hold no buffer.
 */
#include "lg_test_pattern.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OR_BUF_SIZE       (64 * 1024) /* input and output buffer; also the request head limit */
#define OR_BUF_CACHE      256         /* free buffers kept for reuse */
#define OR_HEAD_ROOM      1024        /* free output space needed before a request is parsed */
#define OR_CHUNK_OVERHEAD 32          /* hex size, CRLF and CRLF around one chunk, rounded up */
#define OR_MAX_HEADERS    256
#define OR_TRAILER_MAX    (16 * 1024)
#define OR_NAME_MAX       128
#define OR_RUN_BUDGET     32 /* rounds per connection per wakeup before yielding */
#define OR_ACCEPT_BUDGET  256
#define OR_MAX_EVENTS     512
#define OR_LINGER_MS      2000 /* how long a closing connection discards input, awaiting EOF */
#define OR_DELAY_MAX_MS   3600000ULL
#define OR_SIZE_MAX       (1ULL << 50)
#define OR_PARTIAL_LENGTH 100000
#define OR_PARTIAL_SENT   1000
#define OR_MAX_DIGITS     18 /* Content-Length digits; 10^18 fits in 64 bits */
#define OR_MAX_HEX_DIGITS 15 /* chunk-size digits */
#define OR_VERSION_LEN    8  /* "HTTP/1.1" */

enum conn_state {
    ST_HEAD,        /* waiting for and parsing a request head */
    ST_BODY,        /* consuming the request body */
    ST_RESPOND,     /* producing the response body into the output buffer */
    ST_DELAY,       /* /delay: timer pending */
    ST_HANG,        /* /hang: never answers, discards input until the client closes */
    ST_TUNNEL,      /* after 101: echoes every byte */
    ST_FLUSH_CLOSE, /* last response produced: flush, shut the write side down, linger */
    ST_LINGER,      /* write side shut down: discard input until EOF or the linger timer */
};

enum action {
    ACT_NAME,
    ACT_HEALTHZ,
    ACT_STATUS,
    ACT_SIZE,
    ACT_ECHO,
    ACT_DELAY,
    ACT_CLOSE,
    ACT_RESET,
    ACT_PARTIAL,
    ACT_HANG,
    ACT_STATS,
    ACT_UPGRADE,
    ACT_PAGE,
    ACT_BAD, /* endpoint recognised but its argument is not: 400 */
};

enum body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

enum chunk_state {
    CH_SIZE,      /* chunk-size hex digits */
    CH_EXT,       /* chunk extensions, skipped up to CR */
    CH_SIZE_LF,   /* LF after the chunk-size line */
    CH_DATA,      /* chunk data */
    CH_DATA_CR,   /* CR after the data */
    CH_DATA_LF,   /* LF after the data */
    CH_TRAILER,   /* start of a trailer line or of the final empty line */
    CH_TRAILER_X, /* inside a trailer line */
    CH_TRAILER_LF,
    CH_END_LF, /* LF of the final empty line */
    CH_DONE,
};

/* Connection flags: independent facts about a connection. */
#define CF_READABLE   0x01 /* the socket may have input (cleared on EAGAIN or a short read) */
#define CF_WRITABLE   0x02 /* the socket may take output (cleared on EAGAIN or a short write) */
#define CF_EOF        0x04 /* the client sent FIN */
#define CF_PENDING    0x08 /* on the pending list: budget exhausted, continue after epoll_wait */
#define CF_DEAD       0x10 /* closed; freed after the current batch */
#define CF_STATS_ONLY 0x20 /* every request so far was /stats: not counted in /stats */
#define CF_CLOSE      0x40 /* close after the current response */
#define CF_RDHUP      0x80 /* epoll reported EPOLLRDHUP: a FIN is queued behind the data */

/* Query flags. */
#define QF_CHUNKED 0x01
#define QF_CLOSE   0x02
#define QF_TRAILER 0x04
#define QF_BAD     0x08 /* a query flag with a bad value */

/* Response flags for respond(). */
#define RF_NO_BODY 0x01 /* 204/304: neither body nor framing header */
#define RF_CLOSE   0x02 /* close after this response */
#define RF_PARTIAL 0x04 /* declare OR_PARTIAL_LENGTH bytes, send fewer */
#define RF_HTML    0x08 /* Content-Type: text/html */

/* The request being received. Reset for every request. */
struct req {
    enum action act;
    uint64_t arg; /* status, size or delay */
    unsigned minor;
    unsigned qflags;
    int is_head;
    int keepalive;
    int expect_continue;
    const char *upgrade; /* the Upgrade value; points into `echo`-independent storage below */
    char upgrade_val[64];
    enum body_kind body;
    uint64_t left; /* BODY_LENGTH: bytes still to come; BODY_CHUNKED: in the current chunk */
    enum chunk_state cstate;
    unsigned cdigits;
    size_t trailer_len;
    uint64_t body_len;
    uint64_t body_sum;
    uint64_t pattern_off; /* /size: offset=O */
    EVP_MD_CTX *sha;      /* /echo: SHA-256 of the body */
    char *echo;           /* /echo: the response body being built (malloc'd) */
    size_t echo_len;
    size_t echo_cap;
};

/* The response body being produced. */
struct prod {
    const char *mem; /* NULL: the pattern */
    uint64_t off;
    uint64_t left;
    unsigned seq; /* index into chunk_sizes */
    int chunked;
    int trailer; /* chunked: end with a trailer field */
};

struct conn {
    int fd;
    unsigned flags;
    enum conn_state state;
    struct conn *pend_prev, *pend_next;
    struct conn *all_prev, *all_next;
    struct conn *dead_next;
    size_t timer_idx; /* position in the timer heap, SIZE_MAX when not there */
    uint64_t deadline;

    char *in;
    size_t in_start, in_end;
    size_t scan; /* head scanning: bytes after in_start already searched for LF */
    size_t line; /* head scanning: offset (from in_start) of the current line */
    char *out;
    size_t out_start, out_end;

    unsigned nreq;  /* requests received on this connection */
    unsigned nresp; /* responses finished on this connection */
    struct req r;
    struct prod p;
    char small[96]; /* body of /stats */
};

/* ---- global state */

static const char *o_name = "origin";
static size_t o_name_len = 6;
static char *o_name_line; /* the body of "/": NAME and a line feed */
static unsigned long o_close_after;
static int o_malformed;
static int o_bad_framing;
static int o_quiet;

static int o_epfd = -1;
static int o_lfd = -1;
static int o_sigfd = -1;
static uint64_t o_now; /* monotonic milliseconds, updated after every epoll_wait */

static uint64_t o_accepted, o_requests, o_active, o_stats_only, o_stats_only_active;
static uint64_t o_delayed, o_delayed_peak; /* /delay requests waiting now, the most at once */

static struct conn *o_pending; /* circular list through pend_prev/pend_next */
static struct conn *o_all;     /* every open connection */
static struct conn *o_dead;    /* closed in this batch */
static struct conn **o_timers; /* min-heap by deadline */
static size_t o_ntimers, o_timers_cap;
static char *o_buf_free[OR_BUF_CACHE];
static size_t o_buf_nfree;

/* The pattern, one period plus a whole buffer, so any slice up to OR_BUF_SIZE is contiguous. */
static char o_pattern[LG_PATTERN_PERIOD + OR_BUF_SIZE];

/* Epoll tags for the two non-connection descriptors. */
static char o_tag_listen, o_tag_signal;

/* /page: a browser shows the protocol its navigation used (tests/integration/test_h2_browser.c) */
static const char o_page[] =
    "<!doctype html>\n<title>lg-origin</title>\n<p id=\"protocol\">?</p>\n<script>\n"
    "document.getElementById('protocol').textContent =\n"
    "    'nextHopProtocol=' + performance.getEntries()[0].nextHopProtocol;\n</script>\n";

static const size_t chunk_sizes[] = {1, 10, 100, 1000, 4096, 7, 16384, 333, 8000, 2, 32768, 555};

static void conn_close(struct conn *c);
static void conn_run(struct conn *c);

static void olog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void olog(const char *fmt, ...)
{
    va_list ap;

    if (o_quiet)
        return;
    fprintf(stderr, "lg-origin %s: ", o_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Out of memory (or a digest failure, which is one): nothing sensible is left to do. */
static void fatal(const char *what)
{
    fprintf(stderr, "lg-origin: %s\n", what);
    exit(1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- buffers: 64 KiB each, kept on a free list when a connection no longer needs one */

static char *buf_get(void)
{
    char *b;

    if (o_buf_nfree > 0)
        return o_buf_free[--o_buf_nfree];
    b = malloc(OR_BUF_SIZE);
    if (b == NULL) {
        fprintf(stderr, "lg-origin: out of memory\n");
        exit(1);
    }
    return b;
}

static void buf_put(char **b)
{
    if (*b == NULL)
        return;
    if (o_buf_nfree < OR_BUF_CACHE)
        o_buf_free[o_buf_nfree++] = *b;
    else
        free(*b);
    *b = NULL;
}

/* ---- timers: a binary min-heap of connections by deadline */

static void timer_swap(size_t a, size_t b)
{
    struct conn *t = o_timers[a];

    o_timers[a] = o_timers[b];
    o_timers[b] = t;
    o_timers[a]->timer_idx = a;
    o_timers[b]->timer_idx = b;
}

static void timer_sift(size_t i)
{
    while (i > 0 && o_timers[(i - 1) / 2]->deadline > o_timers[i]->deadline) {
        timer_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < o_ntimers && o_timers[l]->deadline < o_timers[m]->deadline)
            m = l;
        if (r < o_ntimers && o_timers[r]->deadline < o_timers[m]->deadline)
            m = r;
        if (m == i)
            return;
        timer_swap(i, m);
        i = m;
    }
}

static void timer_del(struct conn *c)
{
    size_t i = c->timer_idx;

    if (i == SIZE_MAX)
        return;
    c->timer_idx = SIZE_MAX;
    if (i != --o_ntimers) {
        o_timers[i] = o_timers[o_ntimers];
        o_timers[i]->timer_idx = i;
        timer_sift(i);
    }
}

static void timer_set(struct conn *c, uint64_t delay_ms)
{
    timer_del(c);
    if (o_ntimers == o_timers_cap) {
        size_t cap = o_timers_cap ? o_timers_cap * 2 : 64;
        struct conn **t = realloc(o_timers, cap * sizeof(*t));

        if (t == NULL) {
            fprintf(stderr, "lg-origin: out of memory\n");
            exit(1);
        }
        o_timers = t;
        o_timers_cap = cap;
    }
    c->deadline = o_now + delay_ms;
    c->timer_idx = o_ntimers;
    o_timers[o_ntimers++] = c;
    timer_sift(c->timer_idx);
}

/* ---- lists */

static void pending_add(struct conn *c)
{
    if (c->flags & CF_PENDING)
        return;
    c->flags |= CF_PENDING;
    if (o_pending == NULL) {
        c->pend_prev = c->pend_next = c;
        o_pending = c;
    } else {
        c->pend_next = o_pending;
        c->pend_prev = o_pending->pend_prev;
        c->pend_prev->pend_next = c;
        o_pending->pend_prev = c;
    }
}

static void pending_del(struct conn *c)
{
    if (!(c->flags & CF_PENDING))
        return;
    c->flags &= ~(unsigned)CF_PENDING;
    if (c->pend_next == c) {
        o_pending = NULL;
    } else {
        c->pend_prev->pend_next = c->pend_next;
        c->pend_next->pend_prev = c->pend_prev;
        if (o_pending == c)
            o_pending = c->pend_next;
    }
    c->pend_prev = c->pend_next = NULL;
}

/* ---- output helpers: the caller made sure there is room (OR_HEAD_ROOM before every head) */

static void out_need(struct conn *c)
{
    if (c->out == NULL) {
        c->out = buf_get();
        c->out_start = c->out_end = 0;
    }
}

static void out_compact(struct conn *c)
{
    if (c->out_start == 0)
        return;
    memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
    c->out_end -= c->out_start;
    c->out_start = 0;
}

static size_t out_room(struct conn *c)
{
    out_need(c);
    if (OR_BUF_SIZE - c->out_end < OR_HEAD_ROOM)
        out_compact(c);
    return OR_BUF_SIZE - c->out_end;
}

static void out_put(struct conn *c, const void *p, size_t n)
{
    memcpy(c->out + c->out_end, p, n);
    c->out_end += n;
}

static void out_str(struct conn *c, const char *s)
{
    out_put(c, s, strlen(s));
}

static size_t fmt_u64(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

static size_t fmt_hex(char *dst, uint64_t v, size_t width)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = hex[v & 0xf];
        v >>= 4;
    } while (v > 0 || n < width);
    for (i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

static void out_u64(struct conn *c, uint64_t v)
{
    c->out_end += fmt_u64(c->out + c->out_end, v);
}

/* ---- /echo text, built while the request arrives */

static void echo_put(struct req *r, const char *p, size_t n)
{
    if (r->echo_len + n > r->echo_cap) {
        size_t cap = r->echo_cap ? r->echo_cap : 1024;
        char *e;

        while (cap < r->echo_len + n)
            cap *= 2;
        e = realloc(r->echo, cap);
        if (e == NULL) {
            fprintf(stderr, "lg-origin: out of memory\n");
            exit(1);
        }
        r->echo = e;
        r->echo_cap = cap;
    }
    memcpy(r->echo + r->echo_len, p, n);
    r->echo_len += n;
}

static void echo_str(struct req *r, const char *s)
{
    echo_put(r, s, strlen(s));
}

/* The "body-sha256 HEX" line of /echo, once the body is complete. */
static void echo_sha256(struct req *r)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;

    if (EVP_DigestFinal_ex(r->sha, md, &len) != 1)
        fatal("EVP_DigestFinal_ex() failed");
    echo_str(r, "body-sha256 ");
    for (unsigned i = 0; i < len; i++) {
        char hex[3];

        fmt_hex(hex, md[i], 2);
        echo_put(r, hex, 2);
    }
    echo_str(r, "\n");
}

static void req_reset(struct req *r)
{
    free(r->echo);
    EVP_MD_CTX_free(r->sha);
    memset(r, 0, sizeof(*r));
}

/* ---- responses */

static const char *reason_phrase(unsigned status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Status";
    }
}

/* A response is finished (head and body produced): next request or close. */
static void response_done(struct conn *c)
{
    c->nresp++;
    req_reset(&c->r);
    c->p.mem = NULL;
    c->p.left = 0;
    c->state = (c->flags & CF_CLOSE) ? ST_FLUSH_CLOSE : ST_HEAD;
}

/*
 * Write the response head into the output buffer and set up the body producer: `mem` (NULL for
 * the pattern) and `len` bytes. The head decides the framing from the request (HEAD, HTTP/1.0,
 * chunked=1, close=1) and the origin flags (--malformed, --bad-framing, --close-after).
 */
static void respond(struct conn *c, unsigned status, const char *mem, uint64_t len, unsigned rf)
{
    struct req *r = &c->r;
    int chunked = 0, delimited = 0;

    if (!r->keepalive || (rf & RF_CLOSE) || (c->flags & CF_EOF) ||
        (o_close_after && c->nresp + 1 >= o_close_after))
        c->flags |= CF_CLOSE;
    out_room(c);
    if (o_malformed) {
        out_str(c, "HTTP/1.1 abc\r\n\r\n");
        c->flags |= CF_CLOSE;
        response_done(c);
        return;
    }
    if (!(rf & (RF_NO_BODY | RF_PARTIAL))) {
        if (o_bad_framing || (r->qflags & QF_CHUNKED))
            chunked = 1;
        if ((r->qflags & QF_CLOSE) || (chunked && r->minor == 0 && !o_bad_framing)) {
            chunked = 0;
            delimited = 1;
            c->flags |= CF_CLOSE;
        }
    }
    out_str(c, "HTTP/1.1 ");
    out_u64(c, status);
    out_str(c, " ");
    out_str(c, reason_phrase(status));
    out_str(c, "\r\n");
    if (!(rf & RF_NO_BODY)) {
        out_str(c, (rf & RF_HTML) ? "Content-Type: text/html\r\n" : "Content-Type: text/plain\r\n");
        if (rf & RF_PARTIAL) {
            out_str(c, "Content-Length: ");
            out_u64(c, OR_PARTIAL_LENGTH);
            out_str(c, "\r\n");
        } else if (o_bad_framing) {
            out_str(c, "Content-Length: ");
            out_u64(c, len);
            out_str(c, "\r\nTransfer-Encoding: chunked\r\n");
        } else if (chunked) {
            out_str(c, "Transfer-Encoding: chunked\r\n");
        } else if (!delimited) {
            out_str(c, "Content-Length: ");
            out_u64(c, len);
            out_str(c, "\r\n");
        }
    }
    out_str(c, "X-Origin: ");
    out_put(c, o_name, o_name_len);
    out_str(c, "\r\n");
    if (c->flags & CF_CLOSE)
        out_str(c, "Connection: close\r\n");
    else if (r->minor == 0)
        out_str(c, "Connection: keep-alive\r\n");
    out_str(c, "\r\n");
    if (o_bad_framing)
        c->flags |= CF_CLOSE;

    if (r->is_head || (rf & RF_NO_BODY)) {
        response_done(c);
        return;
    }
    c->p.mem = mem;
    c->p.off = 0;
    c->p.left = len;
    c->p.seq = 0;
    c->p.chunked = chunked;
    c->p.trailer = chunked && (r->qflags & QF_TRAILER);
    c->state = ST_RESPOND;
}

static void respond_name(struct conn *c, unsigned status, unsigned rf)
{
    respond(c, status, o_name_line, o_name_len + 1, rf);
}

/* An error response ends the connection; the request's query flags no longer apply. */
static void respond_error(struct conn *c, unsigned status, const char *why)
{
    int is_head = c->r.is_head;
    unsigned minor = c->r.minor;
    int n;

    olog("%u %s: %s", status, reason_phrase(status), why);
    req_reset(&c->r);
    c->r.is_head = is_head;
    c->r.minor = minor;
    n = snprintf(c->small, sizeof(c->small), "%s\n", reason_phrase(status));
    respond(c, status, c->small, (uint64_t)n, RF_CLOSE);
}

/*
 * Produce the response body into the output buffer until it is full or the body is done.
 * Returns 1 when it made progress.
 */
static int produce(struct conn *c)
{
    struct prod *p = &c->p;
    int progress = 0;

    for (;;) {
        size_t room = out_room(c), n;

        if (p->chunked) {
            if (room < OR_CHUNK_OVERHEAD + 1)
                break;
            if (p->left == 0) {
                out_str(c, p->trailer ? "0\r\nX-Origin-Trailer: ok\r\n\r\n" : "0\r\n\r\n");
                response_done(c);
                return 1;
            }
            n = chunk_sizes[p->seq++ % (sizeof(chunk_sizes) / sizeof(chunk_sizes[0]))];
            n = (size_t)(n < p->left ? n : p->left);
            if (n > room - OR_CHUNK_OVERHEAD)
                n = room - OR_CHUNK_OVERHEAD;
            c->out_end += fmt_hex(c->out + c->out_end, n, 1);
            out_str(c, "\r\n");
        } else {
            if (p->left == 0) {
                response_done(c);
                return 1;
            }
            if (room == 0)
                break;
            n = (size_t)(room < p->left ? room : p->left);
        }
        if (p->mem != NULL)
            out_put(c, p->mem + p->off, n);
        else
            out_put(c, o_pattern + p->off % LG_PATTERN_PERIOD, n);
        p->off += n;
        p->left -= n;
        if (p->chunked)
            out_str(c, "\r\n");
        progress = 1;
    }
    return progress;
}

/* ---- request head */

static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* Does the comma-separated token list v[0..len) contain `tok` (case-insensitive)? */
static int list_has(const char *v, size_t len, const char *tok)
{
    const char *end = v + len;

    while (v < end) {
        const char *s, *e;

        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        s = v;
        while (v < end && *v != ',')
            v++;
        e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s && name_is(s, (size_t)(e - s), tok))
            return 1;
    }
    return 0;
}

/* Parse a decimal number with an optional k/m/g suffix; the whole of s[0..len) must match. */
static int parse_num(const char *s, size_t len, int suffix, uint64_t max, uint64_t *out)
{
    uint64_t v = 0, mul = 1;
    size_t i;

    if (suffix && len > 1) {
        switch (s[len - 1]) {
        case 'k':
        case 'K':
            mul = 1ULL << 10;
            len--;
            break;
        case 'm':
        case 'M':
            mul = 1ULL << 20;
            len--;
            break;
        case 'g':
        case 'G':
            mul = 1ULL << 30;
            len--;
            break;
        default:
            break;
        }
    }
    if (len == 0 || len > OR_MAX_DIGITS)
        return -1;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max / mul)
        return -1;
    *out = v * mul;
    return 0;
}

/* Match one endpoint against the path suffix s[0..len). Returns 1 and sets r->act on a match. */
static int route_one(struct req *r, const char *s, size_t len)
{
    static const struct {
        const char *path;
        enum action act;
    } exact[] = {
        {"/healthz", ACT_HEALTHZ}, {"/echo", ACT_ECHO},       {"/close", ACT_CLOSE},
        {"/reset", ACT_RESET},     {"/partial", ACT_PARTIAL}, {"/hang", ACT_HANG},
        {"/stats", ACT_STATS},     {"/upgrade", ACT_UPGRADE}, {"/page", ACT_PAGE},
    };
    static const struct {
        const char *prefix;
        enum action act;
        int suffix;
        uint64_t max;
    } numbered[] = {
        {"/status/", ACT_STATUS, 0, 599},
        {"/size/", ACT_SIZE, 1, OR_SIZE_MAX},
        {"/delay/", ACT_DELAY, 0, OR_DELAY_MAX_MS},
    };
    size_t i;

    for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        if (len == strlen(exact[i].path) && memcmp(s, exact[i].path, len) == 0) {
            r->act = exact[i].act;
            return 1;
        }
    }
    for (i = 0; i < sizeof(numbered) / sizeof(numbered[0]); i++) {
        size_t pl = strlen(numbered[i].prefix);

        if (len > pl && memcmp(s, numbered[i].prefix, pl) == 0) {
            r->act = numbered[i].act;
            if (parse_num(s + pl, len - pl, numbered[i].suffix, numbered[i].max, &r->arg) < 0 ||
                (r->act == ACT_STATUS && r->arg < 200))
                r->act = ACT_BAD;
            return 1;
        }
    }
    return 0;
}

/* Choose the endpoint from the request target: the path, and then each of its suffixes. */
static void route(struct req *r, const char *t, size_t len)
{
    const char *end = t + len, *path = t, *q, *s;
    size_t scheme = 0;

    /* absolute-form: skip the scheme and the authority */
    if (len > 7 && strncasecmp(t, "http://", 7) == 0)
        scheme = 7;
    else if (len > 8 && strncasecmp(t, "https://", 8) == 0)
        scheme = 8;
    if (scheme > 0) {
        path = memchr(t + scheme, '/', len - scheme);
        if (path == NULL)
            path = end;
    }
    q = memchr(path, '?', (size_t)(end - path));
    if (q != NULL) {
        const char *a = q + 1;

        while (a < end) {
            const char *e = memchr(a, '&', (size_t)(end - a));

            if (e == NULL)
                e = end;
            if (e - a == 9 && memcmp(a, "chunked=1", 9) == 0)
                r->qflags |= QF_CHUNKED;
            else if (e - a == 7 && memcmp(a, "close=1", 7) == 0)
                r->qflags |= QF_CLOSE;
            else if (e - a == 9 && memcmp(a, "trailer=1", 9) == 0)
                r->qflags |= QF_TRAILER;
            else if (e - a > 7 && memcmp(a, "offset=", 7) == 0 &&
                     parse_num(a + 7, (size_t)(e - a - 7), 0, OR_SIZE_MAX, &r->pattern_off) < 0)
                r->qflags |= QF_BAD;
            a = e + 1;
        }
        end = q;
    }
    r->act = ACT_NAME;
    for (s = path; s != NULL && s < end; s = memchr(s + 1, '/', (size_t)(end - s - 1))) {
        if (route_one(r, s, (size_t)(end - s)))
            return;
    }
}

/*
 * Parse the complete request head h[0..len) (every line ends in CRLF, checked by head_scan()).
 * Returns 0, or the error status with *why set.
 */
static unsigned parse_head(struct conn *c, const char *h, size_t len, const char **why)
{
    struct req *r = &c->r;
    const char *end = h + len, *p = h, *eol, *sp, *target;
    size_t tlen, nheaders = 0;
    unsigned nhost = 0;
    int has_cl = 0, has_te = 0, conn_close = 0, conn_keep = 0;
    uint64_t cl = 0;

    eol = memchr(p, '\r', (size_t)(end - p));
    if (eol[1] != '\n')
        return *why = "bare CR", 400;
    /* method */
    for (sp = p; sp < eol && is_tchar((unsigned char)*sp); sp++)
        ;
    if (sp == p || sp >= eol || *sp != ' ')
        return *why = "bad method", 400;
    r->is_head = (sp - p == 4 && memcmp(p, "HEAD", 4) == 0);
    target = sp + 1;
    for (sp = target; sp < eol && (unsigned char)*sp > 0x20 && (unsigned char)*sp < 0x7f; sp++)
        ;
    tlen = (size_t)(sp - target);
    if (tlen == 0 || sp >= eol || *sp != ' ')
        return *why = "bad request target", 400;
    sp++;
    if (eol - sp != OR_VERSION_LEN || memcmp(sp, "HTTP/", 5) != 0 || sp[5] < '0' || sp[5] > '9' ||
        sp[6] != '.' || sp[7] < '0' || sp[7] > '9')
        return *why = "bad http version", 400;
    if (sp[5] != '1')
        return *why = "unsupported http version", 505;
    r->minor = (unsigned)(sp[7] - '0');
    if (r->minor > 1)
        r->minor = 1;
    route(r, target, tlen);
    if (r->act == ACT_ECHO) {
        char peer[INET6_ADDRSTRLEN + 8] = "?";
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char host[INET6_ADDRSTRLEN], serv[8];

        if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0 &&
            getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            snprintf(peer, sizeof(peer), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
                     serv);
        echo_str(r, "method ");
        echo_put(r, p, (size_t)(target - 1 - p));
        echo_str(r, "\ntarget ");
        echo_put(r, target, tlen);
        echo_str(r, "\nversion ");
        echo_put(r, sp, OR_VERSION_LEN);
        echo_str(r, "\nremote ");
        echo_str(r, peer);
        echo_str(r, "\n");
    }

    /* header fields */
    for (p = eol + 2; p < end; p = eol + 2) {
        const char *name = p, *colon, *v, *ve, *q;
        size_t nlen, vlen;

        eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == p) {
            if (p + 2 != end)
                return *why = "bare CR", 400;
            break;
        }
        if (++nheaders > OR_MAX_HEADERS)
            return *why = "too many header fields", 431;
        if (*p == ' ' || *p == '\t')
            return *why = "obsolete line folding", 400;
        for (colon = p; colon < eol && is_tchar((unsigned char)*colon); colon++)
            ;
        if (colon == p || colon >= eol || *colon != ':')
            return *why = "bad header field name", 400;
        nlen = (size_t)(colon - name);
        for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
            ;
        for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
            ;
        for (q = v; q < ve; q++) {
            unsigned char ch = (unsigned char)*q;

            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return *why = "control character in header field value", 400;
        }
        /* a bare CR would have ended the line early: the rest must be exactly LF */
        if (eol + 1 >= end || eol[1] != '\n')
            return *why = "bare CR", 400;
        vlen = (size_t)(ve - v);
        if (name_is(name, nlen, "content-length")) {
            uint64_t n;

            if (parse_num(v, vlen, 0, UINT64_MAX, &n) < 0)
                return *why = "bad content-length", 400;
            if (has_cl && n != cl)
                return *why = "conflicting content-length", 400;
            has_cl = 1;
            cl = n;
        } else if (name_is(name, nlen, "transfer-encoding")) {
            if (has_te)
                return *why = "repeated transfer-encoding", 400;
            if (!name_is(v, vlen, "chunked"))
                return *why = "unsupported transfer-encoding", 501;
            has_te = 1;
        } else if (name_is(name, nlen, "host")) {
            nhost++;
        } else if (name_is(name, nlen, "connection")) {
            conn_close |= list_has(v, vlen, "close");
            conn_keep |= list_has(v, vlen, "keep-alive");
        } else if (name_is(name, nlen, "expect")) {
            if (!name_is(v, vlen, "100-continue"))
                return *why = "unsupported expectation", 417;
            r->expect_continue = r->minor == 1;
        } else if (name_is(name, nlen, "upgrade")) {
            if (vlen >= sizeof(r->upgrade_val))
                return *why = "upgrade value too long", 400;
            memcpy(r->upgrade_val, v, vlen);
            r->upgrade_val[vlen] = '\0';
            r->upgrade = r->upgrade_val;
        }
        if (r->echo != NULL) {
            echo_str(r, "header ");
            echo_put(r, p, (size_t)(eol - p));
            echo_str(r, "\n");
        }
    }

    r->keepalive = r->minor == 1 ? !conn_close : (conn_keep && !conn_close);
    if (nhost > 1 || (r->minor == 1 && nhost == 0))
        return *why = "missing or repeated host", 400;
    if (has_te && has_cl)
        return *why = "both content-length and transfer-encoding", 400;
    if (has_te && r->minor == 0)
        return *why = "transfer-encoding in http/1.0", 400;
    if (has_te) {
        r->body = BODY_CHUNKED;
        r->cstate = CH_SIZE;
    } else if (cl > 0) {
        r->body = BODY_LENGTH;
        r->left = cl;
    }
    r->body_sum = LG_CHECKSUM_INIT;
    if (r->act == ACT_ECHO) {
        r->sha = EVP_MD_CTX_new();
        if (r->sha == NULL || EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1)
            fatal("EVP_DigestInit_ex() failed");
    }
    return 0;
}

/*
 * Look for the end of the request head in the input buffer. Returns its length (including the
 * empty line), 0 when more input is needed, or -1 for a malformed or oversized head (the error
 * response is already set up).
 */
static long head_scan(struct conn *c)
{
    char *base;
    size_t avail;

    if (c->line == 0) {
        /* RFC 9112 2.2: ignore empty lines before the request line */
        while (c->in_end - c->in_start >= 2 && c->in[c->in_start] == '\r' &&
               c->in[c->in_start + 1] == '\n')
            c->in_start += 2;
        c->scan = 0;
    }
    base = c->in + c->in_start;
    avail = c->in_end - c->in_start;
    while (c->scan < avail) {
        char *nl = memchr(base + c->scan, '\n', avail - c->scan);
        size_t pos;

        if (nl == NULL) {
            c->scan = avail;
            break;
        }
        pos = (size_t)(nl - base);
        if (pos == 0 || base[pos - 1] != '\r') {
            respond_error(c, 400, "bare LF in request head");
            return -1;
        }
        if (pos - 1 == c->line) {
            if (pos == 1) {
                respond_error(c, 400, "empty request line");
                return -1;
            }
            return (long)(pos + 1);
        }
        c->line = c->scan = pos + 1;
    }
    if (avail == OR_BUF_SIZE) {
        respond_error(c, 431, "request head too large");
        return -1;
    }
    return 0;
}

/* The request (head and body) has been received: start the response. */
static void dispatch(struct conn *c)
{
    struct req *r = &c->r;
    int n;

    c->state = ST_HEAD;
    switch (r->act) {
    case ACT_NAME:
        respond_name(c, 200, 0);
        break;
    case ACT_CLOSE:
        respond_name(c, 200, RF_CLOSE);
        break;
    case ACT_HEALTHZ:
        respond(c, 200, "ok\n", 3, 0);
        break;
    case ACT_STATUS:
        respond_name(c, (unsigned)r->arg, (r->arg == 204 || r->arg == 304) ? RF_NO_BODY : 0);
        break;
    case ACT_SIZE:
        if (r->qflags & QF_BAD) {
            respond_error(c, 400, "bad offset");
            break;
        }
        respond(c, 200, NULL, r->arg, 0);
        c->p.off = r->pattern_off;
        break;
    case ACT_PARTIAL:
        respond(c, 200, NULL, OR_PARTIAL_SENT, RF_PARTIAL | RF_CLOSE);
        break;
    case ACT_ECHO: {
        char line[96];

        n = snprintf(line, sizeof(line), "body-length %llu\nbody-fnv1a64 ",
                     (unsigned long long)r->body_len);
        n += (int)fmt_hex(line + n, r->body_sum, 16);
        line[n++] = '\n';
        echo_put(r, line, (size_t)n);
        echo_sha256(r);
        respond(c, 200, r->echo, r->echo_len, 0);
        break;
    }
    case ACT_DELAY:
        c->state = ST_DELAY;
        if (++o_delayed > o_delayed_peak)
            o_delayed_peak = o_delayed;
        timer_set(c, r->arg);
        break;
    case ACT_STATS: {
        uint64_t active = o_active - o_stats_only_active;

        n = snprintf(c->small, sizeof(c->small),
                     "connections=%llu requests=%llu active=%llu delayed=%llu delayed_peak=%llu\n",
                     (unsigned long long)(o_accepted - o_stats_only),
                     (unsigned long long)o_requests, (unsigned long long)active,
                     (unsigned long long)o_delayed, (unsigned long long)o_delayed_peak);
        respond(c, 200, c->small, (uint64_t)n, 0);
        break;
    }
    case ACT_PAGE:
        respond(c, 200, o_page, sizeof(o_page) - 1, RF_HTML);
        break;
    case ACT_UPGRADE:
        if (r->upgrade == NULL) {
            respond_error(c, 400, "/upgrade without an upgrade header");
            break;
        }
        out_room(c);
        out_str(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ");
        out_str(c, r->upgrade);
        out_str(c, "\r\n\r\n");
        c->nresp++;
        c->state = ST_TUNNEL;
        break;
    case ACT_BAD:
        respond_error(c, 400, "bad endpoint argument");
        break;
    case ACT_RESET:
    case ACT_HANG:
        break; /* handled when the head arrived */
    }
}

/* Count a request for /stats: /stats requests and connections used only for them are left out. */
static void count_request(struct conn *c)
{
    if (c->r.act == ACT_STATS) {
        if (c->nreq == 0) {
            c->flags |= CF_STATS_ONLY;
            o_stats_only++;
            o_stats_only_active++;
        }
    } else {
        o_requests++;
        if (c->flags & CF_STATS_ONLY) {
            c->flags &= ~(unsigned)CF_STATS_ONLY;
            o_stats_only--;
            o_stats_only_active--;
        }
    }
    c->nreq++;
}

/* Close with RST: SO_LINGER with a zero timeout makes close() abort the connection. */
static void conn_reset(struct conn *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    conn_close(c);
}

/*
 * A complete head is at in_start. Parse it, consume it and move to the next state.
 * Returns -1 when the connection was closed.
 */
static int head_done(struct conn *c, size_t len)
{
    const char *why = NULL;
    unsigned status;

    req_reset(&c->r);
    status = parse_head(c, c->in + c->in_start, len, &why);
    c->in_start += len;
    c->scan = c->line = 0;
    count_request(c);
    if (status != 0) {
        respond_error(c, status, why);
        return 0;
    }
    if (c->r.act == ACT_RESET) {
        conn_reset(c);
        return -1;
    }
    if (c->r.act == ACT_HANG) {
        c->state = ST_HANG;
        return 0;
    }
    if (c->r.act == ACT_UPGRADE && c->r.body != BODY_NONE) {
        respond_error(c, 400, "/upgrade with a body");
        return 0;
    }
    if (c->r.expect_continue) {
        out_room(c);
        out_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (c->r.body == BODY_NONE)
        dispatch(c);
    else
        c->state = ST_BODY;
    return 0;
}

static void body_data(struct conn *c, const char *p, size_t n)
{
    c->r.body_len += n;
    if (c->r.act == ACT_ECHO) {
        c->r.body_sum = lg_checksum(c->r.body_sum, p, n);
        if (EVP_DigestUpdate(c->r.sha, p, n) != 1)
            fatal("EVP_DigestUpdate() failed");
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * Consume request body bytes from the input buffer. Returns 1 when the body is complete, 0 when
 * more is needed, -1 on a framing error (the error response is set up).
 */
static int body_consume(struct conn *c)
{
    struct req *r = &c->r;
    const char *p = c->in + c->in_start, *end = c->in + c->in_end;
    int rc = 0;

    if (r->body == BODY_LENGTH) {
        size_t n = (size_t)((uint64_t)(end - p) < r->left ? (uint64_t)(end - p) : r->left);

        body_data(c, p, n);
        r->left -= n;
        c->in_start += n;
        return r->left == 0;
    }
    while (p < end && rc == 0) {
        char ch = *p;
        int v;

        switch (r->cstate) {
        case CH_SIZE:
            v = hexval(ch);
            if (v >= 0) {
                if (++r->cdigits > OR_MAX_HEX_DIGITS)
                    goto bad;
                r->left = r->left * 16 + (uint64_t)v;
            } else if (r->cdigits == 0) {
                goto bad;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                r->cstate = CH_EXT;
            } else if (ch == '\r') {
                r->cstate = CH_SIZE_LF;
            } else {
                goto bad;
            }
            p++;
            break;
        case CH_EXT:
            if (ch == '\r')
                r->cstate = CH_SIZE_LF;
            else if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f)
                goto bad;
            p++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                goto bad;
            r->cstate = r->left == 0 ? CH_TRAILER : CH_DATA;
            p++;
            break;
        case CH_DATA: {
            size_t n = (size_t)((uint64_t)(end - p) < r->left ? (uint64_t)(end - p) : r->left);

            body_data(c, p, n);
            r->left -= n;
            p += n;
            if (r->left == 0)
                r->cstate = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (ch != '\r')
                goto bad;
            r->cstate = CH_DATA_LF;
            p++;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                goto bad;
            r->cstate = CH_SIZE;
            r->cdigits = 0;
            p++;
            break;
        case CH_TRAILER:
            if (ch == '\r') {
                r->cstate = CH_END_LF;
            } else {
                if (!is_tchar((unsigned char)ch))
                    goto bad;
                if (r->echo != NULL)
                    echo_str(r, "trailer ");
                r->cstate = CH_TRAILER_X;
                continue; /* the byte belongs to the line */
            }
            p++;
            break;
        case CH_TRAILER_X:
            if (ch == '\r') {
                if (r->echo != NULL)
                    echo_str(r, "\n");
                r->cstate = CH_TRAILER_LF;
            } else if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f) {
                goto bad;
            } else {
                if (++r->trailer_len > OR_TRAILER_MAX)
                    goto bad;
                if (r->echo != NULL)
                    echo_put(r, p, 1);
            }
            p++;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n')
                goto bad;
            r->cstate = CH_TRAILER;
            p++;
            break;
        case CH_END_LF:
            if (ch != '\n')
                goto bad;
            r->cstate = CH_DONE;
            rc = 1;
            p++;
            break;
        case CH_DONE:
            rc = 1;
            break;
        }
    }
    c->in_start = (size_t)(p - c->in);
    return rc;

bad:
    c->in_start = (size_t)(p - c->in);
    respond_error(c, 400, "bad chunked encoding");
    return -1;
}

/* ---- connection I/O */

static void conn_close(struct conn *c)
{
    if (c->flags & CF_DEAD)
        return;
    c->flags |= CF_DEAD;
    if (c->state == ST_DELAY)
        o_delayed--;
    pending_del(c);
    timer_del(c);
    close(c->fd);
    c->fd = -1;
    o_active--;
    if (c->flags & CF_STATS_ONLY)
        o_stats_only_active--;
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        o_all = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    c->dead_next = o_dead;
    o_dead = c;
}

static void conn_free(struct conn *c)
{
    buf_put(&c->in);
    buf_put(&c->out);
    req_reset(&c->r);
    free(c);
}

/* Write the output buffer. Returns 1 on progress, 0 on EAGAIN, -1 on error. */
static int conn_flush(struct conn *c)
{
    size_t len = c->out_end - c->out_start;
    ssize_t n;

    do {
        n = send(c->fd, c->out + c->out_start, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->flags &= ~(unsigned)CF_WRITABLE;
            return 0;
        }
        return -1;
    }
    c->out_start += (size_t)n;
    if (c->out_start == c->out_end)
        c->out_start = c->out_end = 0;
    if ((size_t)n < len)
        c->flags &= ~(unsigned)CF_WRITABLE;
    return 1;
}

/*
 * Read into the input buffer. A short read means the socket was drained at that moment; with
 * edge-triggered epoll any later arrival raises a new event, so it is safe to wait for that
 * instead of reading again until EAGAIN (as nginx does). Except for a FIN that came with the
 * data: its EPOLLRDHUP was already reported, so then we read on until recv() returns 0.
 * Returns 1 on progress (bytes or EOF), 0 when nothing could be read, -1 on error.
 */
static int conn_read(struct conn *c)
{
    size_t room;
    ssize_t n;

    if (c->in == NULL) {
        c->in = buf_get();
        c->in_start = c->in_end = 0;
    }
    if (c->in_start == c->in_end)
        c->in_start = c->in_end = 0;
    if (c->in_end == OR_BUF_SIZE && c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
    room = OR_BUF_SIZE - c->in_end;
    if (room == 0)
        return 0;
    do {
        n = recv(c->fd, c->in + c->in_end, room, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->flags &= ~(unsigned)CF_READABLE;
            return 0;
        }
        return -1;
    }
    if (n == 0) {
        c->flags |= CF_EOF;
        c->flags &= ~(unsigned)CF_READABLE;
        return 1;
    }
    c->in_end += (size_t)n;
    if ((size_t)n < room && !(c->flags & CF_RDHUP))
        c->flags &= ~(unsigned)CF_READABLE;
    return 1;
}

/*
 * Act on buffered input according to the state. Returns 1 on progress, 0 when blocked, -1 when
 * the connection was closed.
 */
static int conn_input(struct conn *c)
{
    long len;
    int rc;

    switch (c->state) {
    case ST_HEAD:
        if (c->in == NULL || c->in_start == c->in_end) {
            if (c->flags & CF_EOF) {
                c->state = ST_FLUSH_CLOSE;
                return 1;
            }
            return 0;
        }
        if (out_room(c) < OR_HEAD_ROOM)
            return 0; /* earlier responses must drain first */
        len = head_scan(c);
        if (len < 0)
            return 1;
        if (len == 0) {
            if (c->flags & CF_EOF) {
                c->state = ST_FLUSH_CLOSE;
                return 1;
            }
            return 0;
        }
        return head_done(c, (size_t)len) < 0 ? -1 : 1;
    case ST_BODY:
        if (c->in == NULL || c->in_start == c->in_end) {
            if (c->flags & CF_EOF) {
                c->state = ST_FLUSH_CLOSE;
                return 1;
            }
            return 0;
        }
        rc = body_consume(c);
        if (rc == 1)
            dispatch(c);
        return 1;
    case ST_TUNNEL: {
        size_t n = c->in ? c->in_end - c->in_start : 0, room;

        if (n == 0) {
            if (c->flags & CF_EOF) {
                c->state = ST_FLUSH_CLOSE;
                return 1;
            }
            return 0;
        }
        room = out_room(c);
        if (room == 0)
            return 0;
        n = n < room ? n : room;
        out_put(c, c->in + c->in_start, n);
        c->in_start += n;
        return 1;
    }
    case ST_HANG:
    case ST_LINGER:
        if (c->in != NULL)
            c->in_start = c->in_end = 0;
        if (c->flags & CF_EOF) {
            conn_close(c);
            return -1;
        }
        return 0;
    case ST_RESPOND:
    case ST_DELAY:
    case ST_FLUSH_CLOSE:
        return 0;
    }
    return 0;
}

static int wants_read(struct conn *c)
{
    if (c->flags & (CF_EOF | CF_DEAD))
        return 0;
    if (c->state == ST_FLUSH_CLOSE)
        return 0;
    return c->in == NULL || c->in_end < OR_BUF_SIZE || c->in_start > 0;
}

/* Release the buffers an idle connection does not need. */
static void conn_idle(struct conn *c)
{
    if (c->in != NULL && c->in_start == c->in_end) {
        c->scan = c->line = 0;
        buf_put(&c->in);
        c->in_start = c->in_end = 0;
    }
    if (c->out != NULL && c->out_start == c->out_end && c->state != ST_RESPOND) {
        buf_put(&c->out);
        c->out_start = c->out_end = 0;
    }
}

/*
 * Drive a connection as far as it goes: parse input, produce output, write, read. Runs until
 * nothing moves (waits for the next edge) or OR_RUN_BUDGET rounds (then yields via the pending
 * list so that one busy connection cannot starve the others).
 */
static void conn_run(struct conn *c)
{
    int round;

    pending_del(c);
    for (round = 0; round < OR_RUN_BUDGET; round++) {
        int progress = 0, rc;

        rc = conn_input(c);
        if (rc < 0)
            return;
        progress |= rc;
        if (c->state == ST_RESPOND)
            progress |= produce(c);
        if (c->out != NULL && c->out_end > c->out_start && (c->flags & CF_WRITABLE)) {
            rc = conn_flush(c);
            if (rc < 0) {
                conn_close(c);
                return;
            }
            progress |= rc;
        }
        if (c->state == ST_FLUSH_CLOSE && (c->out == NULL || c->out_end == c->out_start)) {
            if (c->flags & CF_EOF) {
                conn_close(c);
                return;
            }
            shutdown(c->fd, SHUT_WR);
            c->state = ST_LINGER;
            timer_set(c, OR_LINGER_MS);
            progress = 1;
        }
        if ((c->flags & CF_READABLE) && wants_read(c)) {
            rc = conn_read(c);
            if (rc < 0) {
                conn_close(c);
                return;
            }
            progress |= rc;
        }
        if (!progress) {
            conn_idle(c);
            return;
        }
    }
    pending_add(c);
}

static void conn_timer(struct conn *c)
{
    if (c->state == ST_DELAY) {
        o_delayed--;
        c->state = ST_HEAD;
        respond_name(c, 200, 0);
        conn_run(c);
    } else {
        conn_close(c);
    }
}

/* ---- accepting */

static void accept_all(void)
{
    int i;

    for (i = 0; i < OR_ACCEPT_BUDGET; i++) {
        struct epoll_event ev;
        struct conn *c;
        int fd, one = 1;

        fd = accept4(o_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                olog("accept4() failed (%d: %s)", errno, strerror(errno));
            return;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            olog("out of memory for a connection");
            return;
        }
        c->fd = fd;
        c->timer_idx = SIZE_MAX;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(o_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            olog("epoll_ctl() failed (%d: %s)", errno, strerror(errno));
            close(fd);
            free(c);
            continue;
        }
        c->all_next = o_all;
        if (o_all)
            o_all->all_prev = c;
        o_all = c;
        o_accepted++;
        o_active++;
    }
}

/* ---- start-up */

static void usage(void)
{
    fprintf(stderr, "usage: lg-origin [--listen HOST:PORT] [--name NAME] [--close-after N] "
                    "[--malformed] [--bad-framing] [--quiet]\n");
    exit(2);
}

static int listen_on(const char *spec)
{
    struct addrinfo hints, *res = NULL;
    char host[256], *port;
    int fd, one = 1, rc;

    if (strlen(spec) >= sizeof(host))
        return -1;
    strcpy(host, spec);
    port = strrchr(host, ':');
    if (port == NULL)
        return -1;
    *port++ = '\0';
    if (host[0] == '[' && port - host >= 3 && port[-2] == ']') {
        port[-2] = '\0';
        memmove(host, host + 1, strlen(host + 1) + 1);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "lg-origin: bad listen address %s: %s\n", spec, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
        fprintf(stderr, "lg-origin: listen on %s failed (%d: %s)\n", spec, errno, strerror(errno));
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void print_listening(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN], serv[8];

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        fprintf(stderr, "lg-origin: getsockname() failed\n");
        exit(1);
    }
    if (ss.ss_family == AF_INET6)
        printf("listening [%s]:%s\n", host, serv);
    else
        printf("listening %s:%s\n", host, serv);
    fflush(stdout);
}

static void handle_signals(int *quit)
{
    struct signalfd_siginfo si;

    while (read(o_sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1)
            fprintf(stderr, "lg-origin %s: connections=%llu requests=%llu active=%llu\n", o_name,
                    (unsigned long long)o_accepted, (unsigned long long)o_requests,
                    (unsigned long long)o_active);
        else
            *quit = 1;
    }
}

int main(int argc, char **argv)
{
    static struct epoll_event events[OR_MAX_EVENTS];
    const char *listen_spec = "127.0.0.1:0";
    struct epoll_event ev;
    struct rlimit rl;
    sigset_t set;
    int i, quit = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_spec = argv[++i];
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            const char *s;

            o_name = argv[++i];
            o_name_len = strlen(o_name);
            if (o_name_len == 0 || o_name_len > OR_NAME_MAX)
                usage();
            for (s = o_name; *s; s++)
                if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
                    usage();
        } else if (strcmp(argv[i], "--close-after") == 0 && i + 1 < argc) {
            char *end;

            o_close_after = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || o_close_after == 0)
                usage();
        } else if (strcmp(argv[i], "--malformed") == 0) {
            o_malformed = 1;
        } else if (strcmp(argv[i], "--bad-framing") == 0) {
            o_bad_framing = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o_quiet = 1;
        } else {
            usage();
        }
    }

    lg_pattern_fill(o_pattern, 0, sizeof(o_pattern));
    o_name_line = malloc(o_name_len + 1);
    if (o_name_line == NULL)
        return 1;
    memcpy(o_name_line, o_name, o_name_len);
    o_name_line[o_name_len] = '\n';
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    o_sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    o_lfd = listen_on(listen_spec);
    o_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (o_sigfd < 0 || o_lfd < 0 || o_epfd < 0)
        return 1;
    ev.events = EPOLLIN;
    ev.data.ptr = &o_tag_listen;
    epoll_ctl(o_epfd, EPOLL_CTL_ADD, o_lfd, &ev);
    ev.data.ptr = &o_tag_signal;
    epoll_ctl(o_epfd, EPOLL_CTL_ADD, o_sigfd, &ev);
    print_listening(o_lfd);

    o_now = now_ms();
    while (!quit) {
        int n, timeout = -1;

        if (o_pending != NULL)
            timeout = 0;
        else if (o_ntimers > 0)
            timeout = o_timers[0]->deadline > o_now ? (int)(o_timers[0]->deadline - o_now) : 0;
        n = epoll_wait(o_epfd, events, OR_MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "lg-origin: epoll_wait() failed (%d: %s)\n", errno, strerror(errno));
            return 1;
        }
        o_now = now_ms();
        for (i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            struct conn *c;

            if (tag == &o_tag_listen) {
                accept_all();
                continue;
            }
            if (tag == &o_tag_signal) {
                handle_signals(&quit);
                continue;
            }
            c = tag;
            if (c->flags & CF_DEAD)
                continue;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->flags |= CF_READABLE;
            if (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->flags |= CF_RDHUP;
            if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                c->flags |= CF_WRITABLE;
            conn_run(c);
        }
        while (o_ntimers > 0 && o_timers[0]->deadline <= o_now) {
            struct conn *c = o_timers[0];

            timer_del(c);
            conn_timer(c);
        }
        if (o_pending != NULL) {
            /* every connection that used up its budget gets another one */
            struct conn *c, *last = o_pending->pend_prev;

            do {
                c = o_pending;
                conn_run(c);
            } while (c != last && o_pending != NULL);
        }
        while (o_dead != NULL) {
            struct conn *c = o_dead;

            o_dead = c->dead_next;
            conn_free(c);
        }
    }

    while (o_all != NULL)
        conn_close(o_all);
    while (o_dead != NULL) {
        struct conn *c = o_dead;

        o_dead = c->dead_next;
        conn_free(c);
    }
    while (o_buf_nfree > 0)
        free(o_buf_free[--o_buf_nfree]);
    free(o_timers);
    free(o_name_line);
    close(o_lfd);
    close(o_epfd);
    close(o_sigfd);
    return 0;
}
