/*
 * fuzz_clienthello.c - libFuzzer target for the ClientHello reader of TLS passthrough
 * (src/tls/clienthello.c), which reads the first bytes of any client of a tcp listener with
 * routes by SNI.
 *
 * The input is the bytes a client sent first. Properties checked (abort() on a violation):
 *   - the result is one of lg_hello_result_t; nothing is read past the input (ASan);
 *   - a name found is 1..255 bytes of lower-case letters, digits, '-', '_' and '.', without a
 *     trailing dot, NUL-terminated;
 *   - a result for a whole hello does not depend on later bytes: the input one byte shorter
 *     gives the same result and name, or LG_HELLO_MORE;
 *   - the same input as a server_name extension's data alone (lg_hello_server_name, what the
 *     tls-alpn-01 answer reads from OpenSSL) gives LG_HELLO_SNI with such a name, or
 *     LG_HELLO_BAD.
 *
 * Build by hand: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc
 * fuzz/fuzz_clienthello.c src/tls/clienthello.c -o fuzz_clienthello; run: ./fuzz_clienthello
 * fuzz/corpus/clienthello
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/clienthello.h"

static void fz_check_name(const char *name)
{
    size_t n = strnlen(name, LG_HELLO_NAME_MAX + 1);

    if (n == 0 || n > LG_HELLO_NAME_MAX || name[n - 1] == '.')
        abort();
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
              ch == '.'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[LG_HELLO_NAME_MAX + 1], shorter[LG_HELLO_NAME_MAX + 1];
    lg_hello_result_t r, r2;

    r = lg_hello_sni(data, size, name);
    if (r > LG_HELLO_BAD)
        abort();
    if (r == LG_HELLO_SNI)
        fz_check_name(name);
    if ((r == LG_HELLO_SNI || r == LG_HELLO_NONE) && size > 0 && size <= LG_HELLO_MAX) {
        r2 = lg_hello_sni(data, size - 1, shorter);
        if (r2 != LG_HELLO_MORE && (r2 != r || (r == LG_HELLO_SNI && strcmp(name, shorter) != 0)))
            abort();
    }
    r = lg_hello_server_name(data, size, name);
    if (r == LG_HELLO_SNI)
        fz_check_name(name);
    else if (r != LG_HELLO_BAD)
        abort();
    return 0;
}
