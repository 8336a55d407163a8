/*
 * main.c - command line: check the configuration, signal a running master, or start one.
 */
#include <errno.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config/config.h"
#include "core/log.h"
#include "master/master.h"
#include "upstream/dns.h"

#define LG_DEFAULT_CONF "conf/lifeguard.yaml"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lifeguard [-c FILE]            run in the foreground (default %s)\n"
            "       lifeguard -t [-c FILE]         check the configuration\n"
            "       lifeguard -s SIGNAL [-c FILE]  reload | stop | quit | reopen\n"
            "       lifeguard -V                   versions\n"
            "       lifeguard -h                   this help\n",
            LG_DEFAULT_CONF);
}

static void versions(void)
{
    printf("lifeguard %s\n", LG_VERSION);
    printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
    printf("llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
    printf("libyaml %s\n", yaml_get_version_string());
}

static lg_config_t *load(const char *path)
{
    lg_config_errors_t errs = {0};
    lg_config_t *cf = lg_config_load(path, &errs);

    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    lg_config_errors_free(&errs);
    return cf;
}

/* `-t`: a backend name that does not resolve now is a warning, not an error (Docker start order).
 */
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
    const char *path = LG_DEFAULT_CONF;
    const char *sig = NULL;
    int test = 0, opt, rc;
    lg_config_t *cf;

    while ((opt = getopt(argc, argv, "c:ts:Vh")) != -1) {
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
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    cf = load(path);
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
