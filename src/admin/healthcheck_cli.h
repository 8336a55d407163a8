/*
 * healthcheck_cli.h - `lifeguard healthcheck [-c FILE]`: asks the admin listener named in the
 * configuration for /healthz, as a container's HEALTHCHECK does (traefik healthcheck).
 */
#ifndef LG_HEALTHCHECK_CLI_H
#define LG_HEALTHCHECK_CLI_H

/* Whole budget of one check: connect, send, and the status line back. */
#define LG_HEALTHCHECK_TIMEOUT_MS 3000

/*
 * Load `conf_path` with the configuration loader, find admin.listen (a wildcard address,
 * 0.0.0.0 or [::], is reached on the loopback, 127.0.0.1 or ::1), send `GET /healthz` and wait
 * at most LG_HEALTHCHECK_TIMEOUT_MS for the status line. Returns the process exit status: 0 when
 * /healthz answered 200 (prints "healthy" on stdout), 1 otherwise (prints one line on stderr
 * saying why: the refused connect, the status, the timeout, the file's first error, or that the
 * file has no admin listener). Starts nothing and writes no file.
 */
int lg_healthcheck_main(const char *conf_path);

#endif
