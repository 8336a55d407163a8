/*
 * h2.h - the HTTP/2 front: one client connection carrying many streams, each an exchange.
 *
 * nghttp2 does the framing, HPACK, flow control and the protocol's state machines; this front
 * moves bytes between the connection's stream and the nghttp2 session and maps each request
 * stream to an exchange, exactly as the HTTP/1.1 front does with its one request at a time:
 *
 *   bytes in  -> nghttp2_session_mem_recv -> callbacks: a stream's header fields become an
 *                HTTP/1.1 head (scanned by the same code as HTTP/1.1 heads) given to an exchange;
 *                DATA waits in the stream's `rin` for the exchange's request pump
 *   bytes out <- nghttp2_session_send <- frames, and DATA taken from the stream's `rout`, where
 *                the exchange's response pump writes the body
 *
 * The exchange sees the client as a stream of its own (h2_stream_t.vs) whose readiness bits are
 * the flow-control state: readable while DATA waits, writable while `rout` has room. Request
 * DATA is acknowledged (WINDOW_UPDATE) only once the pump has taken it, and a response is
 * framed only as fast as the client's window allows, so neither side makes lifeguard buffer
 * more than one buffer per stream and direction.
 *
 * A connection starts as HTTP/1.1 (h1.c) and is handed over by lg_h2_start when TLS agreed on
 * "h2" or a plain listener with `http2: on` sees the connection preface; the h2 front then runs
 * it in the same memory (h2_conn_t fits in h1_conn_t), its session state allocated apart.
 */
#ifndef LG_H2_H
#define LG_H2_H

#include <nghttp2/nghttp2.h>

#include "exchange/exchange.h"
#include "front/conn.h"

typedef struct h2_sess h2_sess_t;

/* The pseudo-header fields a request head is made of (RFC 9113 8.3.1). */
enum { H2_METHOD, H2_PATH, H2_AUTHORITY, H2_PSEUDO };

/*
 * Request DATA not yet taken by the pump, up to a stream's window: the protocol's initial 65,535
 * bytes, which a client may send before it sees our SETTINGS. Allocated while bytes wait.
 */
#define H2_WINDOW 65535
typedef struct h2_rin {
    uint32_t pos, last;
    char data[H2_WINDOW];
} h2_rin_t;

/* A value in a stream's hbuf. */
typedef struct h2_span {
    uint32_t off, len;
} h2_span_t;

/* One request stream: its exchange and the bytes waiting between nghttp2 and the exchange. */
typedef struct h2_stream {
    lg_exchange_t x;
    h2_sess_t *h;
    struct h2_stream *prev, *next; /* the session's streams */
    struct h2_stream *ready_next;  /* the session's streams to run after this batch */
    lg_stream_t vs;                /* x.client: the exchange's view of this stream */
    lg_stream_impl_t impl;         /* vs.impl */
    lg_buf_t *hbuf;                /* header fields as they arrive, until the request starts */
    lg_buf_t *req;                 /* *x.cin: the request head, then the pump's body bytes */
    h2_rin_t *rin;                 /* request DATA not yet taken by the pump */
    lg_buf_t *rout;                /* response body written by the pump, not yet framed */
    lg_buf_t *trl;                 /* the backend's chunked trailers, sent after the DATA */
    h2_span_t ps[H2_PSEUDO];       /* pseudo-header values in hbuf */
    uint32_t fields_at;            /* where in hbuf the other fields start, as HTTP/1.1 lines */
    uint64_t length;               /* content-length, when has_length */
    int32_t id;
    uint32_t hsize;           /* the header list's size as SETTINGS_MAX_HEADER_LIST_SIZE */
    uint32_t discarded;       /* request DATA received after the request was answered */
    unsigned has_length : 1;  /* the request has a content-length */
    unsigned in_eof : 1;      /* the client's END_STREAM arrived */
    unsigned out_eof : 1;     /* every response byte is in `rout` (or sent) */
    unsigned answered : 1;    /* a response (HEADERS) was submitted */
    unsigned deferred : 1;    /* nghttp2 waits for `rout` to fill (NGHTTP2_ERR_DEFERRED) */
    unsigned started : 1;     /* the exchange runs (request given to it) */
    unsigned ended : 1;       /* ... and has ended */
    unsigned too_large : 1;   /* the header list went over limits.max_header_size */
    unsigned ready : 1;       /* on the ready list */
    unsigned reset_after : 1; /* the rest of the request body is not wanted: discarded, then
                                 RST_STREAM(NO_ERROR) past H2_DISCARD_MAX once the response
                                 is out */
    unsigned out_done : 1;    /* the response's END_STREAM was sent */
} h2_stream_t;

/* Where a session is in going to sleep (h2_sleep.c). */
enum { H2_AWAKE, H2_ASKED, H2_ACKED, H2_ASLEEP, H2_WAKING };
/* The client's settings a sleeping session keeps. */
#define H2_SLEEP_SETTINGS 7
/* The connection's receive window: bounds what all streams' DATA may hold together. */
#define H2_CONN_WINDOW (1 << 20)

/* The session of an HTTP/2 connection. */
struct h2_sess {
    struct h2_conn *hc;
    nghttp2_session *ng; /* NULL while asleep */
    lg_worker_t *w;
    lg_buf_t *in;  /* bytes read from the client, not yet given to nghttp2 */
    lg_buf_t *out; /* frames for the client, not yet written */
    h2_stream_t *streams, *ready;
    h2_sess_t *prev, *next;             /* the worker's sessions (a drain tells each one) */
    uint32_t nstreams;                  /* streams with a struct (open, or closing) */
    uint32_t nactive;                   /* streams whose exchange runs */
    uint32_t empty_data;                /* DATA frames with neither bytes nor END_STREAM */
    uint32_t requests;                  /* streams that carried a request */
    uint32_t reset_tokens;              /* client RST_STREAMs allowed now (a token bucket) */
    lg_msec_t reset_at;                 /* when reset_tokens was last refilled */
    lg_msec_t active;                   /* when bytes last moved */
    uint32_t remote[H2_SLEEP_SETTINGS]; /* asleep: the client's settings */
    int32_t send_window;                /* asleep: what we may send before a WINDOW_UPDATE */
    uint8_t sleep;                      /* H2_AWAKE ... */
    uint8_t data_out;                   /* DATA was framed since the idle timer was set */
    int32_t last_id;                    /* the highest stream id the client opened */
    uint32_t fatal_code;                /* with fatal: the GOAWAY's error code */
    unsigned fatal : 1;                 /* a callback found the client at fault (lg_h2_fatal) */
    unsigned goaway : 1;                /* a GOAWAY was submitted: no new streams */
};

typedef struct h2_conn {
    lg_conn_t c; /* first */
    h2_sess_t *h;
} h2_conn_t;

/* The connection preface a client sends first (RFC 9113 3.4). */
#define LG_H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define LG_H2_PREFACE_LEN 24

/*
 * Hand the connection `c` (started by the h1 front, no request under way) to the h2 front.
 * `in` holds what the client sent so far (the preface for h2c), or NULL; it is taken. LG_OK,
 * or LG_ERR when it could not: the connection was closed.
 */
int lg_h2_start(lg_conn_t *c, lg_buf_t *in);

/* A drain began: every HTTP/2 connection of the worker sends GOAWAY and ends after its streams. */
void lg_h2_drain(lg_worker_t *w);

/*
 * Sleep (h2_sleep.c): a connection idle for a second, with nothing open, gives its nghttp2
 * session back and keeps what a new one needs (the client's settings, the windows); it wakes on
 * its next byte, its timer or a drain.
 */
/* Once a second: ask the idle sessions of the worker to sleep. */
void lg_h2_sleep_tick(lg_worker_t *w);

/* ---- between the files of the front (h2.c: connection; h2_stream.c: streams) */

/*
 * A request opens stream `id`: LG_OK, or LG_ERR when the id is not above every id before (one
 * used before the session slept: nghttp2 forgot them): GOAWAY PROTOCOL_ERROR.
 */
int lg_h2_stream_id_check(h2_sess_t *h, int32_t id);
/* nghttp2's allocator: its blocks in pages apart from the heap (h2_mem.c). */
extern nghttp2_mem lg_h2_mem;
/* Give back the pages of nghttp2's blocks that stayed empty since the last call (once a second);
   the number given back. */
unsigned lg_h2_mem_trim(void);
/* A new nghttp2 session for h (our SETTINGS and window queued): LG_OK or LG_ERR. */
int lg_h2_session_new(h2_sess_t *h);
/* Sleep, step 2: the client acknowledged our SETTINGS. */
void lg_h2_sleep_acked(h2_sess_t *h);
/* A stream began: a session on its way to sleep stays awake. */
void lg_h2_sleep_stirred(h2_sess_t *h);
/* After a run: sleep now if the client acknowledged and nothing is left to do. */
void lg_h2_sleep_maybe(h2_sess_t *h);
/* A sleeping session gets a new nghttp2 session (LG_OK at once when awake); LG_ERR: close. */
int lg_h2_wake(h2_sess_t *h);
/* A frame header (RFC 9113 4.1) at p for `len` payload bytes; returns where the payload goes. */
uint8_t *lg_h2_frame_head(uint8_t *p, size_t len, uint8_t type, int32_t stream);
/* A 32-bit value in network order at p; returns what follows it. */
uint8_t *lg_h2_put32(uint8_t *p, uint32_t v);
/* Waking: the bytes of a frame at data to drop (the replay's answers), 0 to send it. */
size_t lg_h2_waking_drop(const uint8_t *data, size_t len);
/* The callbacks of a stream's life (h2_stream.c), for h2.c's session set-up. */
void lg_h2_stream_callbacks(nghttp2_session_callbacks *cb);
/* Run the exchanges of the ready streams. */
void lg_h2_run_ready(h2_sess_t *h);
/* Give back a stream (its exchange counted and logged). */
void lg_h2_stream_free(h2_stream_t *st);
/* The connection has work: run it after this batch. */
void lg_h2_post(h2_sess_t *h);
/* A stream's exchange started or ended: the connection's idle timer may change. */
void lg_h2_active(h2_sess_t *h, int delta);
/* Room for `need` more bytes of frames in h->out; NULL when not now (write first). */
lg_buf_t *lg_h2_out(h2_sess_t *h, size_t need);
/* The client reset a stream: LG_OK, or LG_ERR past the rate allowed (rapid reset: fatal). */
int lg_h2_reset_received(h2_sess_t *h);
/* nghttp2 ended the session with GOAWAY `code` (the client broke the protocol or a limit). */
void lg_h2_goaway_log(h2_sess_t *h, uint32_t code);
/*
 * A callback found the client at fault (`why`, logged): it returns NGHTTP2_ERR_CALLBACK_FAILURE,
 * nghttp2 stops, and the connection ends with a GOAWAY carrying `code`.
 */
void lg_h2_fatal(h2_sess_t *h, uint32_t code, const char *why);
/* The exchange's view of this front (h2_msg.c). */
extern const lg_xfront_t lg_h2_xfront;
/*
 * The request's header fields are all in (END_HEADERS): build its HTTP/1.1 head and give it to
 * the exchange, or answer it (h2_msg.c). `end_stream`: the request has no body.
 */
void lg_h2_request(h2_stream_t *st, int end_stream);
/* A field of the request head (h2_msg.c): LG_OK or LG_ERR (no memory). */
int lg_h2_field(h2_stream_t *st, const uint8_t *name, size_t nlen, const uint8_t *value,
                size_t vlen);
/* nghttp2's source of a response body: the bytes in the stream's `rout` (h2_stream.c). */
ssize_t lg_h2_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud);
/* Submit the trailer fields in st->trl (HEADERS with END_STREAM after the DATA, h2_msg.c). */
int lg_h2_trailers(h2_stream_t *st);
/* Run the stream's exchange after this batch. */
void lg_h2_schedule(h2_stream_t *st);

#endif
