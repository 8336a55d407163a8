/*
 * main.c - command line: check the configuration, signal a running master, or start one.
 */
#include <errno.h>
#include <getopt.h>
#include <llhttp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "admin/healthcheck_cli.h"
#include "config/config.h"
#include "core/log.h"
#include "health/dns.h"
#include "master/master.h"
#include "tls/ktls.h"
#include "tls/tls.h"

/*
 * The whole command line; lifeguard(8) (dist/lifeguard.8.in) says the same at more length.
 * LG_CONF_PATH, the file read without -c, is a CMake cache variable (nginx's --conf-path).
 */
static void usage(FILE *out)
{
    fprintf(out,
            "usage: lifeguard [-c FILE]                run in the foreground: master and workers\n"
            "       lifeguard -t [-c FILE]             check the configuration, then exit\n"
            "       lifeguard -s SIGNAL [-c FILE]      signal the running master, then exit\n"
            "       lifeguard healthcheck [-c FILE]    ask the admin listener's /healthz: exit 0 "
            "if healthy, 1 if not\n"
            "       lifeguard -V | --version           versions of lifeguard and its libraries\n"
            "       lifeguard -h | --help              this help\n"
            "\n"
            "  -c FILE    the configuration (default: %s)\n"
            "  -t         report every error as FILE:LINE:COL: error: MESSAGE, and backend names\n"
            "             that do not resolve as warnings; exit 0 when the file is valid\n"
            "  -s SIGNAL  reload  read the configuration again (SIGHUP); a broken file changes "
            "nothing\n"
            "             stop    stop at once (SIGTERM)\n"
            "             quit    stop after the requests in flight (SIGQUIT)\n"
            "             reopen  reopen the log files (SIGUSR1)\n"
            "             the master is found through pid_file: by default /run/lifeguard.pid "
            "as root,\n"
            "             else $XDG_RUNTIME_DIR/lifeguard.pid or /tmp/lifeguard-UID.pid\n"
            "\n"
            "Exit status: 0 ok, 1 invalid configuration or failure, 2 usage error. "
            "See lifeguard(8).\n",
            LG_CONF_PATH);
}

static void versions(void)
{
    char ktls[64];

    printf("lifeguard %s\n", LG_VERSION);
    printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
    lg_ktls_version(ktls, sizeof(ktls));
    printf("%s\n", ktls);
    printf("llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
    printf("libyaml %s\n", yaml_get_version_string());
    printf("nghttp2 %s\n", nghttp2_version(0)->version_str);
}

/* The file, and with `certs` the certificates it names (for -t and to run, not to signal). */
static lg_config_t *load(const char *path, int certs)
{
    lg_config_errors_t errs = {0};
    lg_config_t *cf = lg_config_load(path, &errs);

    if (cf != NULL && certs && lg_tls_load(cf, &errs) != LG_OK) {
        lg_config_free(cf);
        cf = NULL;
    }
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    lg_config_errors_free(&errs);
    return cf;
}

/* `-t`: a backend name that does not resolve is a warning: it may resolve later (Docker). */
static void warn_unresolved(const lg_backend_conf_t *be, const char *why, void *arg)
{
    const lg_config_t *cf = arg;

    fprintf(stderr, "%s:%u:%u: warning: \"%s\" does not resolve (%s)\n", cf->file,
            be->addr_pos.line, be->addr_pos.col, be->addr.host, why);
}

static int signal_master(const lg_config_t *cf, const char *name)
{
    static const struct {
        const char *name;
        int signo;
    } sigs[] = {{"reload", SIGHUP}, {"stop", SIGTERM}, {"quit", SIGQUIT}, {"reopen", SIGUSR1}};
    FILE *f;
    long pid = 0;

    for (size_t i = 0; i < LG_NELEMS(sigs); i++) {
        if (strcmp(name, sigs[i].name) != 0)
            continue;
        if (cf->pid_file == NULL) {
            fprintf(stderr, "lifeguard: %s: set pid_file (the default path is too long)\n",
                    cf->file);
            return 1;
        }
        f = fopen(cf->pid_file, "r");
        if (f == NULL) {
            fprintf(stderr, "lifeguard: cannot open pid file \"%s\": %s (is lifeguard running?)\n",
                    cf->pid_file, strerror(errno));
            return 1;
        }
        if (fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
            fclose(f);
            fprintf(stderr, "lifeguard: pid file \"%s\" holds no valid pid\n", cf->pid_file);
            return 1;
        }
        fclose(f);
        if (kill((pid_t)pid, sigs[i].signo) < 0) {
            fprintf(stderr, "lifeguard: kill(%ld, %s) failed: %s (stale pid file \"%s\"?)\n", pid,
                    name, strerror(errno), cf->pid_file);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "lifeguard: unknown signal \"%s\" (reload, stop, quit or reopen)\n", name);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *path = LG_CONF_PATH;
    const char *sig = NULL;
    int test = 0, opt, rc;
    lg_config_t *cf;

    while ((opt = getopt_long(argc, argv, "c:ts:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 's':
            sig = optarg;
            break;
        case 'V':
            versions();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind == argc - 1 && !test && sig == NULL && strcmp(argv[optind], "healthcheck") == 0)
        return lg_healthcheck_main(path);
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    cf = load(path, sig == NULL);
    if (cf == NULL)
        return 1;
    if (test) {
        if (lg_dns_check(cf, warn_unresolved, cf) != LG_OK)
            fprintf(stderr, "lifeguard: backend names were not checked\n");
        printf("configuration ok: %zu listeners, %zu pools, %zu backends\n", cf->nlisteners,
               cf->npools, lg_config_nbackends(cf));
        lg_config_free(cf);
        return 0;
    }
    if (sig != NULL) {
        rc = signal_master(cf, sig);
        lg_config_free(cf);
        return rc;
    }
    lg_log_level = cf->log.level;
    if (lg_log_open(cf->log.error) != LG_OK)
        return 1;
    return lg_master_run(cf);
}
