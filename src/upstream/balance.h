/*
 * balance.h - choosing a backend of a pool: round_robin, weighted (smooth weighted round
 * robin), least_conn, p2c (power of two choices) and hash (Maglev lookup table).
 *
 * A balancer sees the members of one pool through lg_bal_view_t: for each member whether it
 * may take traffic now (health and ejection), its weight and its active connection count
 * (summed over all workers). It never allocates while picking; lg_bal_new sizes everything.
 * Every algorithm skips members that are not usable; when none is, the pick is -1 (503).
 *
 * A balancer belongs to one worker and one config generation: it is not thread-safe. The hash
 * algorithm is still consistent across them: balancers built from the same names and weights
 * map every key to the same member whatever process or generation built them.
 */
#ifndef LG_BALANCE_H
#define LG_BALANCE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct lg_bal lg_bal_t;

/* A member's share of its weight while it ramps up (slow_start), in thousandths. */
#define LG_BAL_RAMP_FULL  1000u
#define LG_BAL_RAMP_START 100u /* a member that just came up starts at 10% */

/*
 * How a balancer reads the current state of member i (0 <= i < n). A NULL `usable` means
 * every member is usable; a NULL `active` means every member has no connection; a NULL `ramp`
 * means every member has its full weight, else ramp(i) is the thousandths of its weight it has
 * now (LG_BAL_RAMP_FULL: all of it; see lg_bal_ramp).
 */
typedef struct lg_bal_view {
    void *ctx;
    int (*usable)(void *ctx, size_t i);
    uint32_t (*active)(void *ctx, size_t i);
    uint32_t (*ramp)(void *ctx, size_t i);
} lg_bal_view_t;

/*
 * A balancer for `n` members; NULL on allocation failure. `weights` (NULL: all 1; a 0 counts
 * as 1) are used by weighted, least_conn and p2c (connections per unit of weight) and hash
 * (share of the Maglev table); round_robin ignores them. `names` (NULL: the member indexes)
 * are stable member identities, e.g. the backend address text: the hash algorithm seeds a
 * member's table positions from its name, so a member keeps its keys across workers and
 * reloads even when the members are listed in another order. Both arrays are only read
 * during the call; the balancer keeps no pointer into them.
 */
lg_bal_t *lg_bal_new(lg_balance_t algo, size_t n, const unsigned *weights,
                     const char *const *names);

/*
 * Make member i a backup: the members of a pool are two tiers, and a pick considers the backups
 * only when no other member is usable (a pool of backups only is one tier: they all take
 * traffic). Every algorithm honours it; call it before the first pick.
 */
void lg_bal_set_backup(lg_bal_t *b, size_t i);

/*
 * Whether member i would be considered by a pick now: usable, and in the tier in use (a
 * backup only while no primary is usable). For a sticky cookie, which bypasses the algorithm.
 */
int lg_bal_eligible(const lg_bal_t *b, const lg_bal_view_t *v, size_t i);

/*
 * slow_start: the thousandths of its weight a member has `now`, when it came up at `since`
 * (0: up from the start, full weight) and ramps over `span` ms (0: no ramp). Linear from
 * LG_BAL_RAMP_START to LG_BAL_RAMP_FULL. The ramp acts on the effective weight of weighted and
 * round_robin (then by smooth weighted round robin over weights of 1), least_conn and p2c
 * (active connections per unit of effective weight), and on hash requests without a key; the
 * hash table itself ignores it (keys would move to and fro).
 */
uint32_t lg_bal_ramp(uint64_t since, uint64_t now, uint64_t span);

/* Frees the balancer and everything lg_bal_new allocated; NULL is a no-op. */
void lg_bal_free(lg_bal_t *b);

/* The key of a request that has none (no such header or cookie): lg_bal_hash never returns it. */
#define LG_BAL_NO_KEY 0

/*
 * The member to use: an index, or -1 when no member is usable. `key` is the request's hash
 * (hash algorithm only; see lg_bal_hash); LG_BAL_NO_KEY picks by weighted round robin instead,
 * as HAProxy does for a request without the key. `avoid` (or -1) is a member that just failed: it
 * is chosen only when it is the sole usable one. The hash algorithm rebuilds its table (no
 * allocation) during the first pick that sees a different set of usable members.
 */
long lg_bal_pick(lg_bal_t *b, const lg_bal_view_t *v, uint64_t key, long avoid);

/*
 * The 64-bit hash of a key (client address, URI, header or cookie value): FNV-1a with a final
 * avalanche, unseeded, so every process computes the same value. Never LG_BAL_NO_KEY.
 */
uint64_t lg_bal_hash(const void *data, size_t len);

#endif
