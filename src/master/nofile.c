/*
 * nofile.c - the open-file limit (see nofile.h).
 */
#include "master/nofile.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"

#define LG_FDS_PER_CONN 4
#define LG_FDS_SPARE    64

static rlim_t warned; /* the largest need already reported as short */

void lg_nofile_raise(const lg_config_t *cf)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cf->limits.max_connections * LG_FDS_PER_CONN + LG_FDS_SPARE;
    unsigned long long w = (unsigned long long)want;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : LG_MIN(want, rl.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        lg_log(LG_LOG_ERR, "setrlimit(RLIMIT_NOFILE, %llu) failed (%d: %s)",
               (unsigned long long)rl.rlim_cur, errno, strerror(errno));
        return;
    }
    if (rl.rlim_cur >= want || want <= warned)
        return;
    warned = want;
    lg_log(LG_LOG_WARN,
           "open files limited to %llu (the hard limit), max_connections %u needs %llu: raise "
           "it with \"ulimit -n %llu\" before starting lifeguard, \"LimitNOFILE=%llu\" in its "
           "systemd unit or \"docker run --ulimit nofile=%llu:%llu\" (Compose: ulimits), or "
           "lower limits.max_connections",
           (unsigned long long)rl.rlim_cur, cf->limits.max_connections, w, w, w, w, w);
}
