/*
 * lg_test.h - helpers for the integration tests: temp dirs, the real lifeguard binary, the test
 * origin (lg-origin), raw HTTP clients on 127.0.0.1 with timeouts, and log inspection. Configs
 * are built with lg_yaml_* rather than written out (keep YAML text for tests of YAML itself:
 * syntax errors, line:column messages); most data-path tests start with lg_fix_start() and end
 * with lg_fix_finish().
 *
 * Ownership: everything the harness returns (strings, responses, clients, processes) is owned by
 * the harness and released when the test process exits; the *_free/_close/_stop functions only
 * release earlier. Every process started here is killed (with its whole process group, so
 * lifeguard's workers too) when the test process ends, however it ends: normally, by a failed
 * assertion, or killed by criterion's timeout (a small guardian process watches for that).
 * Call the process functions from the test's main thread (the children use PR_SET_PDEATHSIG).
 *
 * The harness ignores SIGPIPE in the test process (a server may close a socket a test writes to).
 *
 * Every wait is bounded: by lg_test_timeout_ms() (10 s, or $LG_TEST_TIMEOUT_MS) unless a function
 * takes its own timeout. Set LG_TEST_KEEP=1 to keep the temp dirs (configs and logs) after a run.
 * $LG_TEST_BINARY and $LG_TEST_ORIGIN override the programs built with the tests.
 *
 * Criterion (2.4) counts every cr_log_warn() (and cr_log_error()) of a test and then exits 1
 * although every test passed: a test tolerates something with cr_log_info(), and a check it
 * cannot make is a failure (cr_assert), never a warning.
 */
#ifndef LG_TEST_H
#define LG_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lg_test_pattern.h"

/* ---- files, strings, time (lg_test_fs.c, lg_test_util.c) */

/* Make a fresh temp directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *lg_test_tmpdir(void);
/*
 * A fresh temp directory that is removed with everything in it when the test process exits
 * (kept with LG_TEST_KEEP=1); the path is harness-owned.
 */
char *lg_test_tempdir(void);
/*
 * Remove `dir` and everything in it (kept with LG_TEST_KEEP=1), then free the string: a free
 * function for lg_test_keep(lg_test_tmpdir(), lg_test_rmtree).
 */
void lg_test_rmtree(void *dir);
/* Write `text` (or `len` bytes of `data`) to dir/name; returns the malloc'd full path. */
char *lg_test_write_file(const char *dir, const char *name, const char *text);
char *lg_test_write_bytes(const char *dir, const char *name, const void *data, size_t len);
/* The whole file, NUL-terminated (length in *len if not NULL); NULL if it cannot be read. */
char *lg_test_read_file(const char *path, size_t *len);

/* asprintf() that never fails; the string is harness-owned. */
char *lg_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Keep `p` until exit, then call free_fn(p) (free() when NULL); returns p. */
void *lg_test_keep(void *p, void (*free_fn)(void *));
/* Release a kept pointer now (runs its free function). Unknown pointers are ignored. */
void lg_test_release(void *p);

/*
 * Run `cmd` with sh -c, its stdout (and what it redirects there) in *out (harness-owned,
 * NUL-terminated); returns its exit status, or -1 when it could not run.
 */
int lg_run_capture(const char *cmd, char **out);

/* Default bound of every wait: 10000 ms, or $LG_TEST_TIMEOUT_MS. */
int lg_test_timeout_ms(void);
uint64_t lg_now_ms(void); /* monotonic */
void lg_sleep_ms(unsigned ms);

/*
 * Evaluate `cond` every 10 ms until it is true or `timeout_ms` passed; `ok` (an int lvalue) gets
 * whether it became true:   int ok; LG_WAIT_FOR(ok, lg_proc_alive(p) == 0, 2000); cr_assert(ok);
 */
#define LG_WAIT_FOR(ok, cond, timeout_ms)                                                          \
    do {                                                                                           \
        uint64_t lg_wait_deadline_ = lg_now_ms() + (uint64_t)(timeout_ms);                         \
        while (!((ok) = !!(cond)) && lg_now_ms() < lg_wait_deadline_)                              \
            lg_sleep_ms(10);                                                                       \
    } while (0)

/* ---- processes (lg_test_proc.c) */

typedef struct lg_proc {
    pid_t pid;         /* lg-origin, or lifeguard's master */
    int port;          /* lg-origin: its port; lifeguard: the first listener's (see lg_proc_port) */
    char *dir;         /* temp dir of this process: config and logs */
    char *log_path;    /* its stderr: lifeguard's error log (log.error: stderr) */
    char *out_path;    /* its stdout: lifeguard's access log (log.access: stdout) */
    char *config_path; /* lifeguard: dir/lifeguard.yaml */
    int exited;        /* reaped */
    int status;        /* once exited: exit code, or 128 + signal number */
    int strays;        /* processes of its group still alive after it exited (then killed) */
    int is_origin;     /* started by lg_origin_start() */
} lg_proc_t;

/*
 * Start lg-origin with `args` split at spaces ("--name b --close-after 2"; NULL or "" for none),
 * listening on 127.0.0.1:0 unless args say --listen. Returns once it printed its port; a failure
 * to start fails the test.
 */
lg_proc_t *lg_origin_start(const char *args);
lg_proc_t *lg_origin_startf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Start `program` (a path) with `args` as lg_origin_start does; like lg-origin, it must print
 * "listening HOST:PORT" first (e.g. /usr/bin/python3 with a script of tests/support).
 */
lg_proc_t *lg_server_start(const char *program, const char *args);

/*
 * Write `yaml` to a fresh temp dir as lifeguard.yaml and run `lifeguard -c FILE` with stderr to
 * dir/error.log and stdout to dir/access.log. Returns when the log shows "listener NAME: listening
 * on HOST:PORT" for every key under the top-level `listeners:` (block style YAML) and "admin:
 * listening on" when `admin:` has `listen:`. Fails the test (with the log) if lifeguard exits or
 * does not get there within lg_test_timeout_ms(). Listen on 127.0.0.1:0 and ask lg_proc_port().
 * A YAML that does not mention pid_file gets "pid_file: DIR/lifeguard.pid" (here and in
 * lg_proc_write_config), so that parallel tests never share the default pid file; a comment
 * that mentions pid_file keeps the default.
 */
lg_proc_t *lg_lifeguard_start(const char *yaml);
lg_proc_t *lg_lifeguard_startf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Run `lifeguard ARGS -c FILE` to completion (e.g. args "-t") with `yaml` in a temp file; returns
 * its exit code (128 + signal if killed, -1 if it had to be killed after the timeout). *output,
 * if not NULL, gets stdout and stderr together (harness-owned).
 */
int lg_lifeguard_run(const char *yaml, const char *args, char **output);

/*
 * Port of the most recent "listener NAME: listening on" line (so it follows reloads); for
 * lg-origin its port whatever the name. Fails the test when there is none.
 */
int lg_proc_port(lg_proc_t *p, const char *listener);
/* Port of "admin: listening on"; fails the test when there is none. */
int lg_proc_admin_port(lg_proc_t *p);
/* Send a signal to the process (never to anything else). Returns 0 or -1. */
int lg_proc_signal(lg_proc_t *p, int sig);
/* 1 while the process runs (reaps it when it has exited). */
int lg_proc_alive(lg_proc_t *p);
/* Wait up to timeout_ms for it to exit; returns its status (see lg_proc_t) or -1 if still up. */
int lg_proc_wait_exit(lg_proc_t *p, int timeout_ms);
/*
 * SIGTERM, wait up to lg_test_timeout_ms(), then SIGKILL its group; reap it, kill what is left
 * of its group (counted in p->strays). Returns its status. Safe to call twice.
 */
int lg_proc_stop(lg_proc_t *p);
/* Same with another signal (SIGQUIT: graceful) and timeout. */
int lg_proc_stop_with(lg_proc_t *p, int sig, int timeout_ms);
/* Replace the config file (for reload tests: then lg_proc_signal(p, SIGHUP)). */
void lg_proc_write_config(lg_proc_t *p, const char *yaml);

/* The error log (stderr) so far, NUL-terminated, harness-owned; "" when empty. */
char *lg_proc_log(lg_proc_t *p);
/* The access log (stdout) so far. */
char *lg_proc_access_log(lg_proc_t *p);
/* Current size of the error log: pass it to lg_proc_wait_log() to look only at what follows. */
size_t lg_proc_log_mark(lg_proc_t *p);
/* Wait up to timeout_ms for `needle` in the error log after byte `mark`; 1 found, 0 not. */
int lg_proc_wait_log(lg_proc_t *p, size_t mark, const char *needle, int timeout_ms);
/* Print the error log to stderr (for a failing test's output). */
void lg_proc_dump_log(lg_proc_t *p);

/*
 * Number of unexpected error lines in `log`: lines with "[error]" (or a sanitizer report) that
 * contain none of the allowed substrings; each is printed to stderr. The list ends with NULL:
 *   cr_assert_eq(lg_log_has_unexpected_errors(log, "connect() to", NULL), 0);
 */
int lg_log_has_unexpected_errors(const char *log, ...) __attribute__((sentinel));
/* Number of lines of `log` that contain `needle`. */
int lg_log_count(const char *log, const char *needle);

/* ---- configs and the one-origin fixture (lg_test_yaml.c) */

/*
 * A lifeguard config built in C and rendered as block YAML, keys in the order they were first
 * set. Paths are keys joined with dots ("timeouts.client_header", "pools.app.retries"); a value
 * is a YAML scalar or flow text ("1s", "{type: none}", "\"*.test\""). Harness-owned.
 */
typedef struct lg_yaml lg_yaml_t;

/* workers: 1 and log {level: info, error: stderr, access: off}; no listener, no pool. */
lg_yaml_t *lg_yaml_new(void);
/*
 * lg_yaml_new() with one http listener `web` on 127.0.0.1:0 whose one route goes to pool `app`
 * (health_check type none) of the single backend 127.0.0.1:backend_port.
 */
lg_yaml_t *lg_yaml_single(int backend_port);
/* Set the key at `path` (creating the maps on the way) to `value`; NULL removes the key. */
void lg_yaml_set(lg_yaml_t *c, const char *path, const char *value);
void lg_yaml_setf(lg_yaml_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Append an item (a scalar or flow text) to the list at `path` (created when absent); or put it
 * first (a route tried before the others).
 */
void lg_yaml_add(lg_yaml_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lg_yaml_add_first(lg_yaml_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The YAML text (harness-owned). */
char *lg_yaml_text(const lg_yaml_t *c);
/* lg_lifeguard_start(lg_yaml_text(c)). */
lg_proc_t *lg_yaml_start(const lg_yaml_t *c);

/*
 * End of a test: stop lifeguard (SIGTERM), then expect a clean exit, no stray process and no
 * "[error]" line in its log except those containing one of the NULL-terminated `allowed`
 * (at most 7):  lg_lifeguard_finish(lg, NULL);  lg_lifeguard_finish(lg, "connect() to", "x");
 */
void lg_lifeguard_finish_v(lg_proc_t *lg, const char *const *allowed);
#define lg_lifeguard_finish(lg, ...)                                                               \
    lg_lifeguard_finish_v((lg), (const char *const[]){__VA_ARGS__, NULL})

/* The fixture of most data-path tests: one lg-origin behind lifeguard's listener `web`. */
typedef struct lg_fix {
    lg_proc_t *origin; /* lg-origin (NULL when the test brought no origin) */
    lg_proc_t *lg;     /* lifeguard */
    int port;          /* lifeguard's listener web */
} lg_fix_t;

/*
 * Start lg-origin with `origin_args` (lg_origin_start) and lifeguard with lg_yaml_single() of its
 * port, changed by the NULL-terminated pairs "path", "value" of lg_yaml_set():
 *   lg_fix_t f = lg_fix_start(NULL, NULL);
 *   lg_fix_t f = lg_fix_start("--name a", "timeouts.client_header", "1s", NULL);
 */
lg_fix_t lg_fix_start(const char *origin_args, ...) __attribute__((sentinel));
/* The fixture of an origin the test started (or NULL) and a config it built. */
lg_fix_t lg_fix_start_conf(lg_proc_t *origin, const lg_yaml_t *conf);
/* lg_lifeguard_finish() of its lifeguard, then stop its origin. */
void lg_fix_finish_v(lg_fix_t *f, const char *const *allowed);
#define lg_fix_finish(f, ...) lg_fix_finish_v((f), (const char *const[]){__VA_ARGS__, NULL})

/* ---- /proc (lg_test_proc.c) */

/* VmRSS of a process in KiB; -1 when it is gone. */
long lg_pid_rss_kib(pid_t pid);
/* Children of `pid` (by the ppid in /proc/N/stat, zombies excluded): up to max in out; count. */
size_t lg_pid_children(pid_t pid, pid_t *out, size_t max);
/* Number of open file descriptors of a process; -1 when it is gone. */
int lg_pid_fd_count(pid_t pid);
/* 1 when the process exists and is not a zombie. */
int lg_pid_alive(pid_t pid);

/* ---- HTTP clients (lg_test_http.c) */

enum lg_http_error {
    LG_HTTP_OK = 0,
    LG_HTTP_CONNECT, /* could not connect */
    LG_HTTP_SEND,    /* could not send the request */
    LG_HTTP_TIMEOUT, /* nothing arrived for the client's timeout */
    LG_HTTP_EOF,     /* the server closed before the response was complete */
    LG_HTTP_RESET,   /* the connection was reset (or another read error) */
    LG_HTTP_BAD,     /* not a valid HTTP/1.x response */
};

typedef struct lg_http_header {
    char *name;
    char *value; /* without surrounding whitespace */
} lg_http_header_t;

typedef struct lg_http_response {
    int error;    /* enum lg_http_error; status may still be set (e.g. LG_HTTP_EOF mid-body) */
    int status;   /* 0 when no valid status line arrived */
    int minor;    /* HTTP/1.minor */
    char *reason; /* reason phrase */
    char *head;   /* raw head as received, including the final CRLF CRLF (or what came) */
    size_t nheaders;
    lg_http_header_t *headers;
    char *body;               /* NUL-terminated; NULL with LG_READ_DISCARD */
    size_t body_len;          /* decoded body bytes received */
    uint64_t body_sum;        /* lg_checksum() of the decoded body */
    long long content_length; /* -1 when absent */
    int chunked;              /* Transfer-Encoding: chunked (takes precedence over length) */
    char *trailers;           /* chunked trailer lines as received ("" when none) */
    int complete;             /* the body ended as its framing says (or at EOF when delimited) */
    int closed;               /* the server closed the connection (EOF seen while reading) */
    int interim;              /* 1xx responses skipped before this one (100 Continue) */
} lg_http_response_t;

/* Flags of lg_client_read(). */
#define LG_READ_HEAD    0x01 /* response to a HEAD request: no body */
#define LG_READ_DISCARD 0x02 /* do not keep the body: only body_len and body_sum */
#define LG_READ_INTERIM 0x04 /* return a 1xx response instead of skipping it */

/* First value of header `name` (case-insensitive) or NULL; count of such headers. */
const char *lg_http_header(const lg_http_response_t *r, const char *name);
size_t lg_http_header_count(const lg_http_response_t *r, const char *name);
void lg_http_response_free(lg_http_response_t *r);
const char *lg_http_error_name(int error);

/* A client connection with its receive buffer. Every lg_client_* function accepts NULL (a failed
 * connect): reads then answer LG_HTTP_CONNECT, sends fail, lg_client_wait_close() says closed. */
typedef struct lg_client lg_client_t;

/* Connect to 127.0.0.1:port within the timeout; NULL on failure (errno set). */
lg_client_t *lg_client_connect(int port);
/* What a TLS client connection checks and presents (paths; NULL: none). */
typedef struct lg_tls_opts {
    const char *sni;        /* sent, and the name verified when `ca` is given */
    const char *ca;         /* verify the server's chain against this CA file */
    const char *cert, *key; /* a client certificate */
    int max_version;        /* 0, or the highest version offered (TLS1_2_VERSION, ...) */
} lg_tls_opts_t;
/*
 * A TLS connection to 127.0.0.1:port, handshake done; every lg_client_* call then speaks TLS.
 * NULL when the connect or the handshake failed (why: lg_client_tls_error()).
 */
lg_client_t *lg_client_connect_tls(int port, const lg_tls_opts_t *o);
const char *lg_client_tls_error(void);
int lg_client_fd(lg_client_t *c);
/* Inactivity timeout of every read and send on this client (ms). */
void lg_client_set_timeout(lg_client_t *c, int ms);
/* Send everything (waiting for the socket within the timeout). 0, or -1 with errno. */
int lg_client_send(lg_client_t *c, const void *data, size_t len);
int lg_client_sendf(lg_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send `len` pattern bytes starting at pattern offset `off` (a streamed request body). */
int lg_client_send_pattern(lg_client_t *c, uint64_t off, uint64_t len);
/* Send `len` pattern bytes in chunked encoding (chunks of `chunk` bytes), with the last chunk. */
int lg_client_send_chunked_pattern(lg_client_t *c, uint64_t len, size_t chunk);
/* Send `n` complete requests in a single write (pipelining). */
int lg_client_send_pipelined(lg_client_t *c, const char *const *requests, size_t n);
/* Read one response (see LG_READ_*). Never NULL; check ->error and ->status. */
lg_http_response_t *lg_client_read(lg_client_t *c, unsigned flags);
/*
 * Send a request on this (keep-alive) connection and read its response. Adds "Host:
 * 127.0.0.1:PORT" unless extra_headers has a Host, and Content-Length when body is not NULL
 * (unless extra_headers has Content-Length or Transfer-Encoding). extra_headers: NULL or lines
 * "Name: value" separated by CRLF (the last CRLF may be left out).
 */
lg_http_response_t *lg_client_request(lg_client_t *c, const char *method, const char *path,
                                      const char *extra_headers, const void *body, size_t body_len);
/* Everything until the server closes (or the timeout); harness-owned, NUL-terminated. */
char *lg_client_read_until_close(lg_client_t *c, size_t *len);
/* Wait up to timeout_ms for the server to close (EOF or reset), discarding data: 1 closed, 0 not.
 */
int lg_client_wait_close(lg_client_t *c, int timeout_ms);
/* Half-close: shutdown(SHUT_WR). */
void lg_client_shutdown(lg_client_t *c);
/* Close the connection; lg_client_reset() closes it with RST (SO_LINGER 0). */
void lg_client_close(lg_client_t *c);
void lg_client_reset(lg_client_t *c);

/* One-shot: new connection, the request with "Connection: close", the response. Never NULL. */
lg_http_response_t *lg_http_get(int port, const char *path, const char *extra_headers);
lg_http_response_t *lg_http_request(int port, const char *method, const char *path,
                                    const char *extra_headers, const void *body, size_t body_len);
/* Pipelining: new connection, n requests in one write, n responses into out[] (never NULL). */
void lg_http_pipeline(int port, const char *const *requests, size_t n, lg_http_response_t **out);

/*
 * A blocking TCP socket (TCP_NODELAY) to 127.0.0.1:port, connected within timeout_ms, whose
 * reads and sends time out after timeout_ms (SO_RCVTIMEO/SO_SNDTIMEO); -1 with errno set
 * (ETIMEDOUT when the connect did not complete). Harness-free: the caller closes the fd; safe
 * from any thread (load generators).
 */
int lg_tcp_connect_timeout(int port, int timeout_ms);
/* lg_tcp_connect_timeout() with lg_test_timeout_ms(). */
int lg_tcp_connect(int port);
/*
 * A port of `ip` (IPv4) for sockets of `type` (SOCK_STREAM, SOCK_DGRAM) that nobody uses right
 * now: bound to port 0, read, closed, so nothing listens there; -1 when it cannot be had.
 */
int lg_test_free_port_on(int type, const char *ip);
/*
 * A listening TCP socket on 127.0.0.1:0 with `backlog` (its port in *port); -1 with errno set.
 * Harness-free: the caller closes it (lg_raw_listen() is the harness-owned one).
 */
int lg_test_listen(int backlog, int *port);
/*
 * A listening socket on 127.0.0.1 (its port in *port) whose accept queue is full: SYNs to it
 * are dropped, so a connect hangs (timeouts.connect). Skips the test when the kernel still
 * completes a connect. The filler connections stay open; the caller closes the returned fd.
 */
int lg_test_full_listener(int *port);
/* A TCP port of 127.0.0.1 nobody listens on right now (a connect is refused); fails the test
 * when there is none. */
int lg_test_free_port(void);

/* ---- /metrics (lg_test_metrics.c) */

/*
 * The value of the sample `name` whose labels are exactly `labels` (`a="x",b="y"`, any order;
 * "" for none) in a /metrics body: NAN when there is none; fails the test when there are two.
 */
double lg_metric(const char *body, const char *name, const char *labels);

/* ---- dnsmasq as a DNS server on loopback (lg_test_dnsmasq.c) */

/* /usr/sbin/dnsmasq, or $LG_TEST_DNSMASQ. */
const char *lg_test_dnsmasq_path(void);
/* Skip the test when dnsmasq is not installed. */
void lg_test_skip_without_dnsmasq(void);
/*
 * The command line (harness-owned, NULL-terminated) of a dnsmasq in the foreground that logs to
 * stderr, answers on ip:port (UDP and TCP) from the "IP NAME" lines of the file `hosts` only,
 * plus option `extra` (NULL: none). It logs "read HOSTS" once it answers.
 */
char **lg_test_dnsmasq_argv(const char *ip, int port, const char *hosts, const char *extra);

/* ---- the exchange of a load generator (lg_test_load.c) */

/* How lg_load_exchange() ended. */
enum lg_load_kind {
    LG_LOAD_OK = 0,  /* a complete response, whatever its status */
    LG_LOAD_SEND,    /* the request could not be sent (err) */
    LG_LOAD_TIMEOUT, /* nothing arrived for the socket's SO_RCVTIMEO (err) */
    LG_LOAD_EOF,     /* the server closed before the response was complete */
    LG_LOAD_RESET,   /* another read error (err) */
    LG_LOAD_BAD,     /* no valid status line or Content-Length, too big, or bytes after it */
};

#define LG_LOAD_BUF 8192

typedef struct lg_load_response {
    int status;            /* 0 until a status line was read */
    int err;               /* errno of a failed send or read */
    int server_close;      /* the response says Connection: close */
    size_t got;            /* bytes received */
    size_t body;           /* offset of the body in buf, once the head is complete */
    char buf[LG_LOAD_BUF]; /* what was received, NUL-terminated */
} lg_load_response_t;

/*
 * Send `req` on the blocking socket fd (lg_tcp_connect_timeout) and read one response framed by
 * Content-Length, as lifeguard and lg-origin answer GET /; returns an lg_load_kind, with what
 * was received in *r. Never closes fd; thread-safe and allocation-free, for load threads.
 */
int lg_load_exchange(int fd, const char *req, size_t len, lg_load_response_t *r);

/* ---- lg-origin specifics (lg_test_http.c) */

typedef struct lg_origin_stats {
    long connections;  /* accepted, not counting connections used only for /stats */
    long requests;     /* received, not counting /stats */
    long active;       /* open now */
    long delayed;      /* /delay requests waiting now */
    long delayed_peak; /* the most /delay requests that ever waited at once */
} lg_origin_stats_t;

/* GET /stats directly from an origin. 0, or -1 when it did not answer. */
int lg_origin_stats(int port, lg_origin_stats_t *st);
/* lg_checksum() of the first `len` pattern bytes: what /size/LEN sends. */
uint64_t lg_pattern_checksum(uint64_t len);
/* A "key value" line of an /echo body ("method", "target", "body-length", ...) or NULL. */
char *lg_echo_field(const char *echo, const char *key);
/* Value of the first echoed header `name` (case-insensitive, trimmed) or NULL; and the count. */
char *lg_echo_header(const char *echo, const char *name);
size_t lg_echo_header_count(const char *echo, const char *name);

/* ---- pebble, the ACME test server, with pebble-challtestsrv as its DNS (lg_test_pebble.c) */

typedef struct lg_pebble {
    pid_t pid, dns_pid;
    int port;      /* the ACME directory: https://127.0.0.1:PORT/dir */
    int mgmt_port; /* management: /roots/0 */
    int dns_port;  /* pebble-challtestsrv: every name is 127.0.0.1 (UDP) */
    char *dir;     /* its config, certificate and log (harness-owned) */
    char *ca;      /* the certificate of its listeners: what acme.ca trusts */
    char *log;     /* path of its log */
} lg_pebble_t;

/* Skip the test when pebble or pebble-challtestsrv is not installed. */
void lg_test_skip_without_pebble(void);
/*
 * Start pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0, PEBBLE_VA_ALWAYS_VALID as
 * `always_valid`) on 127.0.0.1 free ports, validating http-01 on `http_port` and tls-alpn-01 on
 * `tls_port`, resolving every name to 127.0.0.1 through pebble-challtestsrv. Returns once its
 * directory answers; stopped (by PID) when the test ends or by lg_pebble_stop.
 */
lg_pebble_t *lg_pebble_start(int always_valid, int http_port, int tls_port);
void lg_pebble_stop(lg_pebble_t *p);
/* "https://HOST:PORT/dir" (harness-owned): HOST 127.0.0.1, localhost, or pebble.test (a name
 * only pebble-challtestsrv resolves); pebble's certificate covers all three. */
const char *lg_pebble_directory(const lg_pebble_t *p, const char *host);
/* pebble's root certificate (PEM) written to a file; its path (harness-owned). */
const char *lg_pebble_root(lg_pebble_t *p);

#endif
