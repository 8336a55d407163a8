/*
 * errpage.h - the small, fixed responses lifeguard writes itself.
 */
#ifndef LG_ERRPAGE_H
#define LG_ERRPAGE_H

#include <stddef.h>

/* Seconds a 503 asks the client to wait (Retry-After). */
#define LG_RETRY_AFTER_SEC 1

/*
 * Seconds of the Retry-After of an own reply: `asked` for a 429 (at least 1), LG_RETRY_AFTER_SEC
 * for a 503, 0 (none) otherwise.
 */
unsigned lg_retry_after(int status, unsigned asked);
/*
 * Write the response for `status` into buf (without its body when answering HEAD), with the
 * Retry-After of lg_retry_after(status, retry_after); returns its length, 0 if it does not fit.
 */
size_t lg_errpage(int status, unsigned retry_after, int keep_alive, int head_only, char *buf,
                  size_t cap);
const char *lg_status_reason(int status);

#endif
