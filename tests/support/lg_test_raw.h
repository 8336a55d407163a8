/*
 * lg_test_raw.h - raw byte peers for the integration tests: a scripted backend that records
 * exactly the bytes lifeguard sends it (and answers what the test writes), and raw reads of
 * what a client receives. No HTTP parsing beyond finding the end of a head, so what a test
 * compares is what went over the wire.
 *
 * Everything runs in the test's own thread, one step at a time: the kernel's socket buffers
 * hold what the other side sent meanwhile. Every wait is bounded by its timeout. Sockets and
 * buffers are harness-owned (closed and freed at exit); lg_raw_close() closes earlier.
 */
#ifndef LG_TEST_RAW_H
#define LG_TEST_RAW_H

#include <stddef.h>

typedef struct lg_raw {
    int fd;
    char *buf; /* bytes received and not yet taken */
    size_t len, cap;
    int eof; /* the peer closed (or reset) */
} lg_raw_t;

/* A listening socket on 127.0.0.1:0 (port in *port); the fd is closed at exit. */
int lg_raw_listen(int *port);
/* The next connection on a listening socket within timeout_ms; NULL when none came. */
lg_raw_t *lg_raw_accept(int lfd, int timeout_ms);
/* A connection to 127.0.0.1:port (the client side); NULL on failure. */
lg_raw_t *lg_raw_connect(int port);
/*
 * Take one message: a head up to and including CRLF CRLF, then exactly `body_len` more bytes.
 * Returns it NUL-terminated (harness-owned), head length in *head_len; NULL when they did not
 * all arrive within timeout_ms (what did arrive stays in r->buf, r->len bytes).
 */
char *lg_raw_read_message(lg_raw_t *r, size_t body_len, size_t *head_len, int timeout_ms);
/* Everything until the peer closes or timeout_ms passes; NUL-terminated, harness-owned. */
char *lg_raw_read_all(lg_raw_t *r, size_t *len, int timeout_ms);
/* Send every byte. 0, or -1. */
int lg_raw_write(lg_raw_t *r, const void *data, size_t len);
/* Wait up to timeout_ms for the peer to close, discarding what comes: 1 closed, 0 not. */
int lg_raw_wait_close(lg_raw_t *r, int timeout_ms);
/* Bytes received and not taken, after reading what is already there (no wait). */
size_t lg_raw_pending(lg_raw_t *r);
void lg_raw_close(lg_raw_t *r);

#endif
