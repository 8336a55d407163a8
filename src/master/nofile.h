/*
 * nofile.h - the open-file limit the configuration needs.
 */
#ifndef LG_NOFILE_H
#define LG_NOFILE_H

#include "config/config.h"

/*
 * A connection can hold a client socket, an upstream socket and two pipe ends: raise the soft
 * RLIMIT_NOFILE to what max_connections needs (every worker inherits it), up to the hard
 * limit. When the hard limit is too low, say once (per larger need) how to raise it: `ulimit
 * -n`, systemd's `LimitNOFILE=`, `docker run --ulimit nofile=`.
 */
void lg_nofile_raise(const lg_config_t *cf);

#endif
