/* Work stealing over statically partitioned item ranges: see steal.h. */
#include "steal.h"

void ck_steal_set(ck_steal_range *r, int64_t lo, int64_t hi) {
    atomic_store_explicit(&r->fb, (uint64_t)lo << 32 | (uint64_t)hi, memory_order_relaxed);
}

int64_t ck_steal_next(ck_steal_range *r, int R, int tid, int *cursor) {
    while (*cursor < R) {
        const int v = (tid % R + *cursor) % R;
        const int own = *cursor == 0;
        _Atomic uint64_t *a = &r[v].fb;
        uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
        for (;;) {
            const int64_t front = (int64_t)(cur >> 32), back = (int64_t)(cur & 0xffffffffu);
            if (front >= back) break;
            /* the owner advances the front, a thief pulls the back in; the
             * compare-exchange fails (and reloads cur) when the other end
             * moved meanwhile */
            const uint64_t next = own ? (uint64_t)(front + 1) << 32 | (uint64_t)back
                                      : (uint64_t)front << 32 | (uint64_t)(back - 1);
            if (atomic_compare_exchange_weak_explicit(a, &cur, next, memory_order_relaxed, memory_order_relaxed))
                return own ? front : back - 1;
        }
        (*cursor)++;
    }
    return -1;
}

void ck_steal_split(ck_steal_range *r, int R, int64_t n) {
    for (int t = 0; t < R; t++) ck_steal_set(&r[t], n * t / R, n * (t + 1) / R);
}
