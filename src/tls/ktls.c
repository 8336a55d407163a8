/*
 * ktls.c - whether kernel TLS can be used, and saying so (see ktls.h).
 */
#include "tls/ktls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/opensslconf.h>

#include "core/log.h"

#define LG_KTLS_ULP_MAX 256

static int said;

/* The ULP file lists names separated by spaces ("mptcp tls"): look for the word "tls". */
int lg_ktls_kernel(void)
{
    const char *path = getenv("LIFEGUARD_KTLS_ULP_FILE");
    char ulp[LG_KTLS_ULP_MAX] = "";
    FILE *f = fopen(path != NULL && path[0] != '\0' ? path : LG_KTLS_ULP_FILE, "r");

    if (f == NULL)
        return 0;
    if (fgets(ulp, sizeof(ulp), f) == NULL)
        ulp[0] = '\0';
    fclose(f);
    for (char *w = strtok(ulp, " \t\n"); w != NULL; w = strtok(NULL, " \t\n")) {
        if (strcmp(w, "tls") == 0)
            return 1;
    }
    return 0;
}

int lg_ktls_openssl(void)
{
#ifdef OPENSSL_NO_KTLS
    return 0;
#else
    return 1;
#endif
}

/* Whether kTLS is tried with `mode`; at the first load, said at info for "KIND NAME". */
static int ktls_decide(lg_ktls_t mode, const char *kind, const char *name)
{
    const char *why = NULL;

    if (mode == LG_KTLS_OFF)
        why = "off (ktls: off): TLS runs in user space";
    else if (!lg_ktls_openssl())
        why = "is unavailable (OpenSSL was built without it): TLS runs in user space";
    else if (!lg_ktls_kernel())
        why = "is unavailable (no \"tls\" in " LG_KTLS_ULP_FILE "): TLS runs in user space";
    if (!said)
        lg_log(LG_LOG_INFO, "%s %s: kernel TLS %s", kind, name,
               why != NULL ? why : "on: the kernel takes the keys after each handshake");
    return why == NULL;
}

int lg_ktls_listener(const lg_listener_conf_t *l)
{
    return ktls_decide(l->tls->ktls, "listener", l->name);
}

int lg_ktls_pool(const lg_pool_conf_t *p)
{
    return ktls_decide(p->tls->ktls, "pool", p->name);
}

void lg_ktls_said(void)
{
    said = 1;
}

void lg_ktls_version(char *buf, size_t len)
{
    snprintf(buf, len, "kernel TLS: kernel %s, OpenSSL %s", lg_ktls_kernel() ? "yes" : "no",
             lg_ktls_openssl() ? "yes" : "no");
}
