/*
 * lg_test_pattern.h - the body pattern and the checksum shared by lg-origin and the test harness.
 *
 * Header only (static inline) so that lg-origin stays a standalone program without a library.
 *
 * Pattern: byte i (counted from 0) of every body lg-origin generates is lg_pattern_byte(i), a
 * lower-case letter. The pattern repeats every LG_PATTERN_PERIOD bytes; the period is a prime, so
 * a body that was cut, shifted or had bytes duplicated by any amount that is not a multiple of
 * 4093 bytes gets another checksum.
 *
 * Checksum: 64-bit FNV-1a over the bytes, offset basis 0xcbf29ce484222325, prime 0x100000001b3,
 * printed by /echo as 16 lower-case hex digits. Start with LG_CHECKSUM_INIT and feed the bytes in
 * as many pieces as convenient.
 */
#ifndef LG_TEST_PATTERN_H
#define LG_TEST_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define LG_PATTERN_PERIOD 4093u
#define LG_CHECKSUM_INIT  0xcbf29ce484222325ULL
#define LG_CHECKSUM_PRIME 0x100000001b3ULL

/* Byte `i` of the body pattern. */
static inline char lg_pattern_byte(uint64_t i)
{
    uint64_t j = i % LG_PATTERN_PERIOD;

    return (char)('a' + (j + j / 26) % 26);
}

/* Fill dst[0..len) with the pattern bytes that start at body offset `off`. */
static inline void lg_pattern_fill(char *dst, uint64_t off, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        dst[i] = lg_pattern_byte(off + i);
}

/* Continue the FNV-1a 64 checksum `h` over data[0..len). */
static inline uint64_t lg_checksum(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= LG_CHECKSUM_PRIME;
    }
    return h;
}

#endif
