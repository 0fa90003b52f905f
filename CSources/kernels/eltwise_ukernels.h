/* Template for eltwise_kernels.h: define CK_ELT_ATTR (function attributes) and
 * CK_ELT_NAME(x) (symbol suffix), then include once. */
#include "eltwise_kernels.h"

#define CK_ELT_LOOP(N, EXPR)                                                                                         \
    switch (act.kind) {                                                                                              \
    case CK_ACT_NONE:                                                                                                \
        _Pragma("omp simd") for (int64_t i = 0; i < (N); i++) y[i] = (EXPR);                                         \
        break;                                                                                                       \
    case CK_ACT_RELU:                                                                                                \
        _Pragma("omp simd") for (int64_t i = 0; i < (N); i++) {                                                      \
            const float v = (EXPR);                                                                                  \
            y[i] = v > 0.f ? v : 0.f;                                                                                \
        }                                                                                                            \
        break;                                                                                                       \
    case CK_ACT_RELU6:                                                                                               \
        _Pragma("omp simd") for (int64_t i = 0; i < (N); i++) {                                                      \
            const float v = (EXPR);                                                                                  \
            y[i] = v < 0.f ? 0.f : (v > 6.f ? 6.f : v);                                                              \
        }                                                                                                            \
        break;                                                                                                       \
    case CK_ACT_LEAKY_RELU: {                                                                                        \
        const float alpha = act.alpha;                                                                               \
        _Pragma("omp simd") for (int64_t i = 0; i < (N); i++) {                                                      \
            const float v = (EXPR);                                                                                  \
            y[i] = v >= 0.f ? v : alpha * v;                                                                         \
        }                                                                                                            \
        break;                                                                                                       \
    }                                                                                                                \
    default:                                                                                                         \
        for (int64_t i = 0; i < (N); i++) y[i] = ck_activate(act, (EXPR));                                          \
    }

CK_ELT_ATTR static void CK_ELT_NAME(act)(int64_t n, const float *x, ck_activation act, float *y) {
    CK_ELT_LOOP(n, x[i])
}

CK_ELT_ATTR static void CK_ELT_NAME(add)(int64_t n, const float *a, const float *b, ck_activation act, float *y) {
    CK_ELT_LOOP(n, a[i] + b[i])
}

CK_ELT_ATTR static void CK_ELT_NAME(affine1)(int64_t n, const float *x, float s, float t, ck_activation act,
                                              float *y) {
    CK_ELT_LOOP(n, x[i] * s + t)
}

CK_ELT_ATTR static void CK_ELT_NAME(affine)(int64_t npix, int64_t period, const float *x, const float *s,
                                             const float *t, ck_activation act, float *y0) {
    for (int64_t p = 0; p < npix; p++) {
        const float *xp = x + p * period;
        float *y = y0 + p * period;
        CK_ELT_LOOP(period, xp[i] * s[i] + t[i])
    }
}

#undef CK_ELT_LOOP
