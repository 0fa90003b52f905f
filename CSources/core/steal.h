/* Work stealing over statically partitioned item ranges (core/steal.c).
 *
 * A parallel loop first gives each of its T threads a contiguous range of
 * work items, as a static schedule would.  A thread runs its own range front
 * to back; when it is empty, the thread takes items from the back of the
 * other threads' ranges, one at a time, until every range is empty.
 *
 * On a quiet machine this is the static schedule (each thread finishes its
 * own range, nothing is stolen; one uncontended atomic per item).  When one
 * core is slowed -- another tenant on a shared host, an SMT sibling, a
 * thread that started late, or fewer threads than asked for -- the others
 * take over the end of its range instead of waiting for it at the barrier.
 * Items are taken from the back so a thief starts where the owner would
 * have ended, away from the data the owner is working on.
 *
 * Each range is one atomic word (front and back index, 32 bits each) on its
 * own cache line; item counts must be < 2^31 (ck_steal_fits).  At most
 * CK_STEAL_MAX_RANGES ranges (callers keep them on the stack): with more
 * threads than that, thread t starts on range t mod R, and the threads
 * sharing a range all take from its front. */
#ifndef CONVKIT_STEAL_H
#define CONVKIT_STEAL_H

#include <stdatomic.h>
#include <stdint.h>

/** One thread's remaining items [front, back), packed as front << 32 | back. */
typedef struct ck_steal_range {
    _Alignas(64) _Atomic uint64_t fb;
} ck_steal_range;

/** The most ranges a loop uses (2 KiB of stack). */
#define CK_STEAL_MAX_RANGES 32

/** The number of ranges for T threads. */
static inline int ck_steal_nranges(int T) { return T < CK_STEAL_MAX_RANGES ? T : CK_STEAL_MAX_RANGES; }

/** Whether n items can be scheduled by stealing (n < 2^31). */
static inline int ck_steal_fits(int64_t n) { return n >= 0 && n < ((int64_t)1 << 31); }

/** Set range r to the items [lo, hi) (0 <= lo <= hi < 2^31). */
void ck_steal_set(ck_steal_range *r, int64_t lo, int64_t hi);

/** The next item for thread tid from R ranges: the front of range tid mod R
 *  (its own), then the back of the following ranges in turn.  *cursor is the
 *  thread's own state: 0 before its first call.  Returns -1 when all ranges
 *  are empty. */
int64_t ck_steal_next(ck_steal_range *r, int R, int tid, int *cursor);

/** Set the R ranges to equal consecutive shares of the items [0, n)
 *  (0 <= n < 2^31): range t gets [n t / R, n (t + 1) / R). */
void ck_steal_split(ck_steal_range *r, int R, int64_t n);

#endif
