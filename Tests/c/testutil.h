/* Shared helpers for ConvKit's C tests (each Tests/c/test_*.c is one program
 * registered with ctest).  Failures print the exact case and keep going; the
 * program exits non-zero if any check failed. */
#ifndef CK_TESTUTIL_H
#define CK_TESTUTIL_H

#include "convkit.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ck_test_failures = 0;
static int ck_test_checks = 0;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        ck_test_checks++;                                                                  \
        if (!(cond)) {                                                                     \
            ck_test_failures++;                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
        }                                                                                  \
    } while (0)

/* Expect a specific status; prints the library's message when it differs. */
#define CHECK_STATUS(expr, expected)                                                       \
    do {                                                                                   \
        ck_status ck__st = (expr);                                                         \
        CHECK(ck__st == (expected), "%s returned %d (%s: %s), expected %d (%s)", #expr,    \
              (int)ck__st, ck_status_string(ck__st), ck_last_error_message(),              \
              (int)(expected), ck_status_string(expected));                                \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, CK_OK)

static inline int ck_test_finish(const char *name) {
    if (ck_test_failures) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, ck_test_failures, ck_test_checks);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, ck_test_checks);
    return 0;
}

/* Deterministic xorshift generator so failures reproduce. */
static uint64_t ck_rng_state = 0x9E3779B97F4A7C15ull;
static inline void ck_rng_seed(uint64_t s) { ck_rng_state = s ? s : 0x9E3779B97F4A7C15ull; }
static inline uint64_t ck_rng_next(void) {
    uint64_t x = ck_rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return ck_rng_state = x;
}
/* Uniform in [lo, hi). */
static inline float ck_rand_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((ck_rng_next() >> 40) * (1.0 / 16777216.0));
}
/* Integer in [lo, hi]. */
static inline int64_t ck_rand_int(int64_t lo, int64_t hi) {
    return lo + (int64_t)(ck_rng_next() % (uint64_t)(hi - lo + 1));
}
static inline void ck_fill_uniform(float *p, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) p[i] = ck_rand_uniform(lo, hi);
}
/* Small integers in [lo, hi]: sums of products are exact in float32. */
static inline void ck_fill_int(float *p, int64_t n, int lo, int hi) {
    for (int64_t i = 0; i < n; i++) p[i] = (float)ck_rand_int(lo, hi);
}

static inline float *ck_test_alloc(int64_t n) {
    float *p = (float *)calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!p) { fprintf(stderr, "test allocation of %lld floats failed\n", (long long)n); exit(2); }
    return p;
}

/* Printable one-line description of a conv descriptor, for failure messages. */
static inline const char *ck_conv_desc_str(const ck_conv2d_desc *d) {
    static char buf[256];
    snprintf(buf, sizeof buf,
             "N%lld C%lld H%lld W%lld K%lld R%lld S%lld stride %lldx%lld pad t%lld l%lld b%lld r%lld dil %lldx%lld g%lld bias%d act%d layout%d",
             (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w, (long long)d->k, (long long)d->r,
             (long long)d->s, (long long)d->stride_h, (long long)d->stride_w, (long long)d->pad_top, (long long)d->pad_left,
             (long long)d->pad_bottom, (long long)d->pad_right, (long long)d->dilation_h, (long long)d->dilation_w,
             (long long)d->groups, d->has_bias, (int)d->activation.kind, (int)d->layout);
    return buf;
}

#endif
