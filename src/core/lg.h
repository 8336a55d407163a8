/*
 * lg.h - definitions every lifeguard module shares: return codes and small macros.
 */
#ifndef LG_LG_H
#define LG_LG_H

#include <stddef.h>
#include <stdint.h>

#define LG_OK    0
#define LG_ERR   (-1)
#define LG_AGAIN (-2)

#define LG_NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define LG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LG_MAX(a, b) ((a) > (b) ? (a) : (b))
#define LG_UNUSED(x) ((void)(x))

#define lg_likely(x)   __builtin_expect(!!(x), 1)
#define lg_unlikely(x) __builtin_expect(!!(x), 0)

/* The struct that contains member `m` at address `p`. */
#define lg_container_of(p, type, m) ((type *)((char *)(p)-offsetof(type, m)))

/* Milliseconds, used for every duration and deadline. */
typedef uint64_t lg_msec_t;

#endif
