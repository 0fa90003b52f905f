/* Shared helpers for ConvKit's libFuzzer harnesses (Fuzz/c/fuzz_*.c): a byte
 * reader that turns the fuzzer's input into integers, with a "palette" of
 * values that are known to be interesting for size arithmetic. */
#ifndef CK_FUZZ_COMMON_H
#define CK_FUZZ_COMMON_H

#include "convkit.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n, i;
} fz_reader;

static inline uint8_t fz_u8(fz_reader *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static inline uint64_t fz_u64(fz_reader *r) {
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | fz_u8(r);
    return v;
}
/* An int64 biased towards boundary values: small values, negatives, powers of
 * two around 2^31/2^32/2^40/2^62, INT64_MIN/MAX, or raw 64-bit values. */
static inline int64_t fz_i64(fz_reader *r) {
    uint8_t sel = fz_u8(r);
    switch (sel % 16) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: return (int64_t)(fz_u8(r) % 9); /* 0..8 */
    case 7: return -(int64_t)(fz_u8(r) % 4);                                               /* 0..-3 */
    case 8: return (int64_t)fz_u8(r) * 7;                                                  /* up to 1785 */
    case 9: { int s = fz_u8(r) % 64; return (int64_t)((uint64_t)1 << s); }
    case 10: { int s = fz_u8(r) % 64; return (int64_t)(((uint64_t)1 << s) - 1); }
    case 11: { int s = fz_u8(r) % 63; return (int64_t)(((uint64_t)1 << s) + 1); }
    case 12: return INT64_MAX - (int64_t)(fz_u8(r) % 4);
    case 13: return INT64_MIN + (int64_t)(fz_u8(r) % 4);
    case 14: return (int64_t)fz_u64(r);
    default: return (int64_t)(fz_u8(r) % 3) + CK_MAX_ELEMENTS - 1; /* around the element cap */
    }
}
static inline int fz_range(fz_reader *r, int lo, int hi) { return lo + (int)(fz_u8(r) % (unsigned)(hi - lo + 1)); }

#define FZ_ABORT(...)                                                                                               \
    do {                                                                                                            \
        fprintf(stderr, "FUZZ FINDING %s:%d: ", __FILE__, __LINE__);                                                \
        fprintf(stderr, __VA_ARGS__);                                                                               \
        fprintf(stderr, "\n");                                                                                      \
        abort();                                                                                                    \
    } while (0)

/* A status must be one of the documented codes. */
static inline void fz_check_status(ck_status st, const char *what) {
    switch (st) {
    case CK_OK: case CK_ERR_NULL_POINTER: case CK_ERR_INVALID_SHAPE: case CK_ERR_INVALID_STRIDE:
    case CK_ERR_INVALID_PADDING: case CK_ERR_INVALID_DILATION: case CK_ERR_INVALID_GROUPS: case CK_ERR_EMPTY_OUTPUT:
    case CK_ERR_SIZE_OVERFLOW: case CK_ERR_INVALID_LAYOUT: case CK_ERR_INVALID_ARGUMENT:
    case CK_ERR_UNSUPPORTED_ALGORITHM: case CK_ERR_UNSUPPORTED_ISA: case CK_ERR_UNSUPPORTED:
    case CK_ERR_OUT_OF_MEMORY: case CK_ERR_INSUFFICIENT_WORKSPACE: case CK_ERR_WORKSPACE_LIMIT:
        break;
    default: FZ_ABORT("%s returned undocumented status %d", what, (int)st);
    }
    if (st == CK_ERR_INTERNAL) FZ_ABORT("%s returned CK_ERR_INTERNAL: %s", what, ck_last_error_message());
    if (st != CK_OK && ck_last_error_message()[0] == '\0') FZ_ABORT("%s failed (%s) without a message", what, ck_status_string(st));
}

#endif
