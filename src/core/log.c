/*
 * log.c - the error log. Lines are formatted into one stack buffer and written with a single
 * write(2) so that lines from several processes sharing the file never interleave.
 */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/lg.h"

#define LG_LOG_LINE_MAX 2048

lg_log_level_t lg_log_level = LG_LOG_INFO;

static int log_fd = STDERR_FILENO;
static int log_worker = -1;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *lg_log_level_name(lg_log_level_t level)
{
    return level_names[level];
}

const char *lg_log_reason(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg);
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

void lg_log_set_worker(int id)
{
    log_worker = id;
}

int lg_log_open(const char *path)
{
    int fd;

    if (strcmp(path, "stderr") == 0) {
        fd = STDERR_FILENO;
    } else {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            lg_log(LG_LOG_ERR, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
            return LG_ERR;
        }
    }
    if (log_fd != STDERR_FILENO && log_fd != fd)
        close(log_fd);
    log_fd = fd;
    return LG_OK;
}

void lg_log_write(lg_log_level_t level, const char *fmt, ...)
{
    char line[LG_LOG_LINE_MAX];
    struct tm tm;
    time_t now = time(NULL);
    size_t n;
    int r;
    va_list ap;

    localtime_r(&now, &tm);
    n = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
    if (log_worker < 0)
        r = snprintf(line + n, sizeof(line) - n, " [%s] %d#m: ", level_names[level], getpid());
    else
        r = snprintf(line + n, sizeof(line) - n, " [%s] %d#w%d: ", level_names[level], getpid(),
                     log_worker);
    n += (size_t)r;
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (r < 0)
        r = 0;
    n = LG_MIN(n + (size_t)r, sizeof(line) - 2);
    line[n++] = '\n';
    while (write(log_fd, line, n) < 0 && errno == EINTR) {
    }
}
