/*
 * test_acme_region.c - the shared region of src/acme/acme.h: certificate slots keyed by their
 * set of names, publication read back in another process, a reader in a forked process never
 * seeing half a publication, http-01 tokens and tls-alpn-01 certificates with their bounds.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acme/acme.h"

#define ROUNDS 20000 /* publications the writer makes while the reader checks */

static void region(void)
{
    cr_assert_eq(lg_acme_region_create(), LG_OK);
    cr_assert(lg_acme_region_ready());
}

Test(acme_region, slot_by_set_of_names_any_order_and_case)
{
    const char *ab[] = {"a.example", "B.example"}, *ba[] = {"b.example", "A.EXAMPLE"};
    const char *abb[] = {"a.example", "b.example", "b.example"}, *a[] = {"a.example"};
    int s;

    cr_assert_eq(lg_acme_cert_slot(ab, 2, 1), -1, "no region: no slot");
    region();
    cr_assert_eq(lg_acme_cert_slot(a, 1, 0), -1, "not created");
    s = lg_acme_cert_slot(ab, 2, 1);
    cr_assert_geq(s, 0);
    cr_assert_eq(lg_acme_cert_slot(ba, 2, 0), s);
    cr_assert_eq(lg_acme_cert_slot(abb, 3, 1), s, "a name twice is the same set");
    cr_assert_neq(lg_acme_cert_slot(a, 1, 1), s);
    cr_assert_eq(lg_acme_cert_slot(a, 0, 1), -1);
}

Test(acme_region, full_region_gives_no_slot)
{
    char name[32];
    const char *n[] = {name};
    int i;

    region();
    for (i = 0; i < LG_ACME_CERT_SLOTS; i++) {
        snprintf(name, sizeof(name), "n%d.example", i);
        cr_assert_eq(lg_acme_cert_slot(n, 1, 1), i);
    }
    snprintf(name, sizeof(name), "one-more.example");
    cr_assert_eq(lg_acme_cert_slot(n, 1, 1), -1);
}

/* What a slot serves is said once per sequence: the placeholder (0), then each certificate. */
Test(acme_region, each_state_of_a_slot_is_said_once)
{
    const char *ab[] = {"a.example", "b.example"}, *c[] = {"c.example"};
    int s, t;

    cr_assert_eq(lg_acme_cert_said(0, 0), 0, "no region: nothing to remember");
    region();
    s = lg_acme_cert_slot(ab, 2, 1);
    t = lg_acme_cert_slot(c, 1, 1);
    cr_assert_eq(lg_acme_cert_said(s, 0), 0, "the placeholder, first generation");
    cr_assert_eq(lg_acme_cert_said(s, 0), 1, "the placeholder, after a reload");
    cr_assert_eq(lg_acme_cert_said(t, 0), 0, "another set of names");
    cr_assert_eq(lg_acme_cert_said(s, 2), 0, "a certificate was published");
    cr_assert_eq(lg_acme_cert_said(s, 2), 1);
    cr_assert_eq(lg_acme_cert_said(s, 4), 0, "then renewed");
    cr_assert_eq(lg_acme_cert_said(-1, 0), 0);
    cr_assert_eq(lg_acme_cert_said(LG_ACME_CERT_SLOTS, 0), 0);
}

Test(acme_region, publication_is_read_in_a_forked_process)
{
    const char *n[] = {"a.example"};
    char chain[LG_ACME_CHAIN_MAX], key[LG_ACME_KEY_MAX];
    size_t clen, klen;
    uint32_t seq;
    int s, status;
    pid_t pid;

    region();
    s = lg_acme_cert_slot(n, 1, 1);
    cr_assert_eq(lg_acme_cert_seq(s), 0);
    cr_assert_eq(lg_acme_cert_read(s, chain, &clen, key, &klen, &seq), LG_ERR, "nothing yet");
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* the child waits for the parent's publication, then reads it */
        for (int i = 0; i < 5000 && lg_acme_cert_seq(s) == 0; i++)
            usleep(1000);
        _exit(lg_acme_cert_read(s, chain, &clen, key, &klen, &seq) == LG_OK && clen == 5 &&
                      memcmp(chain, "CHAIN", 5) == 0 && klen == 3 && memcmp(key, "KEY", 3) == 0 &&
                      seq == lg_acme_cert_seq(s) && seq != 0
                  ? 0
                  : 1);
    }
    cr_assert_eq(lg_acme_cert_publish(s, "CHAIN", 5, "KEY", 3, 1234), LG_OK);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child read something else");
    cr_assert_eq(lg_acme_cert_seq(s), 2);
}

Test(acme_region, oversized_publication_refused)
{
    static char big[LG_ACME_CHAIN_MAX + 1];
    const char *n[] = {"a.example"};
    int s;

    region();
    s = lg_acme_cert_slot(n, 1, 1);
    cr_assert_eq(lg_acme_cert_publish(s, big, sizeof(big), "K", 1, 0), LG_ERR);
    cr_assert_eq(lg_acme_cert_publish(s, "C", 1, big, LG_ACME_KEY_MAX + 1, 0), LG_ERR);
    cr_assert_eq(lg_acme_cert_publish(s, "C", 0, "K", 1, 0), LG_ERR);
    cr_assert_eq(lg_acme_cert_publish(-1, "C", 1, "K", 1, 0), LG_ERR);
    cr_assert_eq(lg_acme_cert_seq(s), 0, "nothing published");
}

/* Publication `i`: every byte of chain and key is one letter, the lengths depend on it. */
static void round_make(int i, char *chain, size_t *clen, char *key, size_t *klen)
{
    char c = (char)('A' + i % 26);

    *clen = 1000 + (size_t)(i % 26) * 500;
    *klen = 100 + (size_t)(i % 26) * 100;
    memset(chain, c, *clen);
    memset(key, c, *klen);
}

/* A copy is whole: one letter throughout, the lengths of that letter's publication. */
static int round_whole(const char *chain, size_t clen, const char *key, size_t klen)
{
    char want[LG_ACME_CHAIN_MAX], wkey[LG_ACME_KEY_MAX];
    size_t wc, wk;

    round_make(chain[0] - 'A', want, &wc, wkey, &wk);
    return clen == wc && klen == wk && memcmp(chain, want, wc) == 0 && memcmp(key, wkey, wk) == 0;
}

Test(acme_region, reader_never_sees_half_a_publication)
{
    const char *n[] = {"a.example"};
    static char chain[LG_ACME_CHAIN_MAX], key[LG_ACME_KEY_MAX];
    size_t clen, klen;
    uint32_t seq;
    int s, status, i;
    pid_t pid;

    region();
    s = lg_acme_cert_slot(n, 1, 1);
    round_make(0, chain, &clen, key, &klen);
    cr_assert_eq(lg_acme_cert_publish(s, chain, clen, key, klen, 0), LG_OK);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int bad = 0, reads = 0;

        while (lg_acme_cert_seq(s) < 2 * ROUNDS && !bad && reads < 50 * ROUNDS) {
            bad = lg_acme_cert_read(s, chain, &clen, key, &klen, &seq) != LG_OK ||
                  !round_whole(chain, clen, key, klen) || (seq & 1u);
            reads++;
        }
        _exit(bad);
    }
    for (i = 1; i < ROUNDS; i++) {
        round_make(i, chain, &clen, key, &klen);
        cr_assert_eq(lg_acme_cert_publish(s, chain, clen, key, klen, i), LG_OK);
    }
    cr_assert_eq(lg_acme_cert_publish(s, chain, clen, key, klen, i), LG_OK);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the reader saw a torn copy");
}

static const char *token_n(char *buf, int i)
{
    snprintf(buf, 16, "t%d", i);
    return buf;
}

Test(acme_region, http01_tokens)
{
    char out[LG_ACME_KEYAUTH_MAX], tok[LG_ACME_TOKEN_MAX + 2], longka[LG_ACME_KEYAUTH_MAX + 1];
    int i;

    cr_assert_eq(lg_acme_http01_add("tok", "tok.thumb"), LG_ERR, "no region");
    cr_assert_eq(lg_acme_http01_find("tok", 3, out), 0);
    region();
    cr_assert_eq(lg_acme_http01_add("tok", "tok.thumb"), LG_OK);
    cr_assert_eq(lg_acme_http01_find("tok", 3, out), strlen("tok.thumb"));
    cr_assert_str_eq(out, "tok.thumb");
    cr_assert_eq(lg_acme_http01_find("to", 2, out), 0, "a prefix is another token");
    cr_assert_eq(lg_acme_http01_find("tokk", 4, out), 0);
    cr_assert_eq(lg_acme_http01_add("tok", "tok.other"), LG_OK, "replaced");
    cr_assert_eq(lg_acme_http01_find("tok", 3, out), strlen("tok.other"));
    cr_assert_str_eq(out, "tok.other");
    lg_acme_http01_del("tok");
    cr_assert_eq(lg_acme_http01_find("tok", 3, out), 0);

    memset(tok, 'a', sizeof(tok));
    tok[LG_ACME_TOKEN_MAX + 1] = '\0';
    cr_assert_eq(lg_acme_http01_add(tok, "x"), LG_ERR, "token too long");
    memset(longka, 'k', sizeof(longka) - 1);
    longka[sizeof(longka) - 1] = '\0';
    cr_assert_eq(lg_acme_http01_add("t", longka), LG_ERR, "key authorization too long");
    longka[sizeof(longka) - 2] = '\0';
    cr_assert_eq(lg_acme_http01_add("t", longka), LG_OK, "the longest that fits");
    cr_assert_eq(lg_acme_http01_find("t", 1, out), LG_ACME_KEYAUTH_MAX - 1);
    lg_acme_http01_del("t");
    for (i = 0; i < LG_ACME_TOKENS; i++)
        cr_assert_eq(lg_acme_http01_add(token_n(tok, i), "ka"), LG_OK);
    cr_assert_eq(lg_acme_http01_add("one-more", "ka"), LG_ERR, "full");
    lg_acme_http01_del(token_n(tok, 7));
    cr_assert_eq(lg_acme_http01_add("one-more", "ka"), LG_OK, "a slot freed is taken again");
}

Test(acme_region, alpn01_certificates)
{
    unsigned char cert[LG_ACME_ALPN_DER_MAX], key[LG_ACME_ALPN_DER_MAX];
    static unsigned char big[LG_ACME_ALPN_DER_MAX + 1];
    size_t clen, klen;

    region();
    cr_assert_eq(lg_acme_alpn01_find("a.example", cert, &clen, key, &klen), LG_ERR);
    cr_assert_eq(lg_acme_alpn01_add("A.example", (const unsigned char *)"CERT", 4,
                                    (const unsigned char *)"KY", 2),
                 LG_OK);
    cr_assert_eq(lg_acme_alpn01_find("a.EXAMPLE", cert, &clen, key, &klen), LG_OK);
    cr_assert(clen == 4 && memcmp(cert, "CERT", 4) == 0 && klen == 2 && memcmp(key, "KY", 2) == 0);
    cr_assert_eq(lg_acme_alpn01_find("b.example", cert, &clen, key, &klen), LG_ERR);
    cr_assert_eq(lg_acme_alpn01_add("b.example", big, sizeof(big), big, 1), LG_ERR);
    lg_acme_alpn01_del("a.example");
    cr_assert_eq(lg_acme_alpn01_find("a.example", cert, &clen, key, &klen), LG_ERR);
}
