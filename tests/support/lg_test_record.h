/*
 * lg_test_record.h - a recording backend for the integration tests: it keeps the exact bytes of
 * every request lifeguard sends it, so a test can assert what a backend received byte for byte.
 *
 * It runs as a thread of the test process (call it from the test's main thread), listening on
 * 127.0.0.1:0. It cuts what each connection receives into requests: a head (up to CRLF CRLF),
 * then its body when the head says "Content-Length: N" with N at most 1 MiB, or a chunked body up
 * to the first "0\r\n\r\n" (larger lengths: the head alone is a request). After each request it
 * writes the test's canned response, and closes when that response says "Connection: close".
 * Bytes a connection sends past what it recorded as requests (a smuggled second request, say)
 * are recorded as a further request once complete, or as a partial one at close.
 *
 * Everything returned is owned by the recorder and freed at exit; requests are NUL-terminated.
 */
#ifndef LG_TEST_RECORD_H
#define LG_TEST_RECORD_H

#include <stddef.h>

typedef struct lg_recorder lg_recorder_t;

/* The response written after every request (NULL: 200 with body "ok" and Connection: close). */
lg_recorder_t *lg_recorder_start(const char *response);
int lg_recorder_port(const lg_recorder_t *r);
/* Request `i` (0: the first, across connections, in the order completed), waiting up to
 * timeout_ms for it; NULL when it did not come. *len gets its length when not NULL. */
const char *lg_recorder_request(lg_recorder_t *r, size_t i, int timeout_ms, size_t *len);
/* Number of requests recorded so far. */
size_t lg_recorder_count(lg_recorder_t *r);
/* Stop the thread and close every socket (also done at exit). */
void lg_recorder_stop(lg_recorder_t *r);

#endif
