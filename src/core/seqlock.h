/*
 * seqlock.h - a sequence counter guarding a record one process writes and others copy, in
 * shared memory (OCSP staples, session ticket keys, the ACME region).
 *
 * The writer makes the counter odd, writes, makes it even again. A reader waits for an even
 * counter, copies, and keeps the copy only if the counter did not move meanwhile:
 *
 *     do {
 *         s = lg_seq_read_begin(&r->seq);
 *         copy the fields;
 *     } while (!lg_seq_read_ok(&r->seq, s));
 *
 * No lock is held across processes, so a reader that dies leaves nothing behind.
 */
#ifndef LG_SEQLOCK_H
#define LG_SEQLOCK_H

#include <stdatomic.h>
#include <stdint.h>

static inline void lg_seq_write_begin(_Atomic uint32_t *seq)
{
    atomic_fetch_add_explicit(seq, 1, memory_order_acq_rel);
}

static inline void lg_seq_write_end(_Atomic uint32_t *seq)
{
    atomic_fetch_add_explicit(seq, 1, memory_order_release);
}

/* The counter once no write is under way. */
static inline uint32_t lg_seq_read_begin(const _Atomic uint32_t *seq)
{
    uint32_t s;

    while ((s = atomic_load_explicit(seq, memory_order_acquire)) & 1u)
        ;
    return s;
}

/* 1 when what was copied since lg_seq_read_begin() returned `s` is whole. */
static inline int lg_seq_read_ok(const _Atomic uint32_t *seq, uint32_t s)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(seq, memory_order_relaxed) == s;
}

#endif
