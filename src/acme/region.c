/*
 * region.c - PRIVATE STAND-IN of wip/acme-client, so the client links and its tests run before
 * the serving half of #18 (wip/acme-serve) is merged: the real region.c replaces this file.
 * Process-local tables, no sharing with workers.
 */
#include <string.h>
#include <strings.h>

#include "acme/acme.h"
#include "core/lg.h"

static struct {
    char key[LG_ACME_NAMES_MAX * 8];
    uint32_t seq;
    int64_t not_after;
} slots[LG_ACME_CERT_SLOTS];
static struct {
    char token[LG_ACME_TOKEN_MAX], keyauth[LG_ACME_KEYAUTH_MAX];
} tokens[LG_ACME_TOKENS];
static char alpn[LG_ACME_ALPN_SLOTS][LG_ACME_NAME_MAX + 1];

int lg_acme_region_create(void)
{
    return LG_OK;
}

int lg_acme_region_ready(void)
{
    return 1;
}

int lg_acme_cert_slot(const char *const *names, size_t n, int create)
{
    char key[sizeof(slots[0].key)] = "";
    int free_slot = -1;

    for (size_t i = 0; i < n; i++) {
        strncat(key, names[i], sizeof(key) - strlen(key) - 2);
        strcat(key, ",");
    }
    for (int i = 0; i < LG_ACME_CERT_SLOTS; i++) {
        if (strcasecmp(slots[i].key, key) == 0)
            return i;
        if (slots[i].key[0] == '\0' && free_slot < 0)
            free_slot = i;
    }
    if (create && free_slot >= 0)
        memcpy(slots[free_slot].key, key, sizeof(key));
    return create ? free_slot : -1;
}

int lg_acme_cert_publish(int slot, const char *chain, size_t chain_len, const char *key,
                         size_t key_len, int64_t not_after)
{
    (void)chain;
    (void)key;
    if (chain_len > LG_ACME_CHAIN_MAX || key_len > LG_ACME_KEY_MAX)
        return LG_ERR;
    slots[slot].seq += 2;
    slots[slot].not_after = not_after;
    return LG_OK;
}

uint32_t lg_acme_cert_seq(int slot)
{
    return slots[slot].seq;
}

int lg_acme_http01_add(const char *token, const char *keyauth)
{
    for (int i = 0; i < LG_ACME_TOKENS; i++) {
        if (tokens[i].token[0] == '\0' && strlen(token) < LG_ACME_TOKEN_MAX &&
            strlen(keyauth) < LG_ACME_KEYAUTH_MAX) {
            strcpy(tokens[i].token, token);
            strcpy(tokens[i].keyauth, keyauth);
            return LG_OK;
        }
    }
    return LG_ERR;
}

void lg_acme_http01_del(const char *token)
{
    for (int i = 0; i < LG_ACME_TOKENS; i++)
        if (strcmp(tokens[i].token, token) == 0)
            tokens[i].token[0] = '\0';
}

int lg_acme_alpn01_add(const char *name, const unsigned char *cert, size_t cert_len,
                       const unsigned char *key, size_t key_len)
{
    (void)cert;
    (void)key;
    for (int i = 0; i < LG_ACME_ALPN_SLOTS; i++) {
        if (alpn[i][0] == '\0' && strlen(name) <= LG_ACME_NAME_MAX &&
            cert_len <= LG_ACME_ALPN_DER_MAX && key_len <= LG_ACME_ALPN_DER_MAX) {
            strcpy(alpn[i], name);
            return LG_OK;
        }
    }
    return LG_ERR;
}

void lg_acme_alpn01_del(const char *name)
{
    for (int i = 0; i < LG_ACME_ALPN_SLOTS; i++)
        if (strcmp(alpn[i], name) == 0)
            alpn[i][0] = '\0';
}
