/* Element-wise kernels: activation, add (+activation) and a per-channel affine
 * map (+activation) over contiguous runs — the fast paths behind
 * ck_activation_forward, ck_add and ck_batch_norm_inference (core/ops.c).
 * One template (eltwise_ukernels.h) instantiated twice: portable (vectorised
 * by the compiler for the build's baseline ISA, e.g. SSE2 or NEON) and
 * AVX2+FMA (per-function target attribute), chosen at run time.  The
 * activation switch is hoisted out of the loops; ReLU, ReLU6, leaky ReLU and
 * none are vector loops with exactly ck_activate's semantics (NaN -> 0 for
 * ReLU/ReLU6), sigmoid and tanh call ck_activate per element. */
#ifndef CK_ELTWISE_KERNELS_H
#define CK_ELTWISE_KERNELS_H

#include "internal.h"

typedef struct ck_eltwise_kernels {
    /** y[i] = act(x[i]), i < n (y may be x). */
    void (*act)(int64_t n, const float *x, ck_activation act, float *y);
    /** y[i] = act(a[i] + b[i]) (y may be a or b). */
    void (*add)(int64_t n, const float *a, const float *b, ck_activation act, float *y);
    /** y[i] = act(x[i] * s + t) with scalar s, t (one NCHW plane). */
    void (*affine1)(int64_t n, const float *x, float s, float t, ck_activation act, float *y);
    /** y[p*period + j] = act(x[p*period + j] * s[j] + t[j]), p < npix, j < period
     *  (NCHW8c blocks: period 8; NHWC pixels: period C). */
    void (*affine)(int64_t npix, int64_t period, const float *x, const float *s, const float *t, ck_activation act,
                   float *y);
} ck_eltwise_kernels;

extern const ck_eltwise_kernels ck_eltwise_portable;
#if defined(__x86_64__)
extern const ck_eltwise_kernels ck_eltwise_avx2_fma;
#endif

/** The kernels for the dispatched ISA. */
const ck_eltwise_kernels *ck_eltwise_get(void);

#endif
