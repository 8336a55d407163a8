/*
 * log.h - the error log: one line per event, "2026/11/26 21:40:00 [error] 1234#w0: message".
 */
#ifndef LG_LOG_H
#define LG_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum lg_log_level {
    LG_LOG_ERR = 0,
    LG_LOG_WARN,
    LG_LOG_INFO,
    LG_LOG_DEBUG,
} lg_log_level_t;

extern lg_log_level_t lg_log_level;

/* Open `path` ("stderr" or a file, appended) as the error log. Returns LG_OK or LG_ERR. */
int lg_log_open(const char *path);
/* Name this process in every line: -1 for the master, else the worker index. */
void lg_log_set_worker(int id);
const char *lg_log_level_name(lg_log_level_t level);
/* `msg` as a log line reads it, lower case first ("Connection refused" -> "connection refused"). */
const char *lg_log_reason(const char *msg, char *buf, size_t len);

void lg_log_write(lg_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The level is checked first: the arguments are not even evaluated when it is higher. */
#define lg_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= lg_log_level)                                                               \
            lg_log_write((level), __VA_ARGS__);                                                    \
    } while (0)

/* log.level: debug; what an operator needs to follow routing, balancing and connections. */
#define lg_debug(...) lg_log(LG_LOG_DEBUG, __VA_ARGS__)
/* For debug lines that need work before formatting: `if (lg_debug_on()) ...`. */
#define lg_debug_on() (LG_LOG_DEBUG <= lg_log_level)

#endif
