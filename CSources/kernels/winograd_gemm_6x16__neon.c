/* Winograd transform-domain GEMM panel kernel, NEON (aarch64): 6 rows (tiles)
 * x 16 columns (one packed output-channel panel) per step, 24 float32x4
 * accumulators + 4 weight vectors + 1 input scalar in the 32 q registers;
 * leftover rows one at a time.  The input/output transforms on arm64 are the
 * portable ones (winograd_xform__scalar.c, 8-lane loops the compiler
 * vectorises).  See winograd_kernels.h for the layouts. */
#if defined(__aarch64__)
#include "winograd_kernels.h"
#include <arm_neon.h>

void ck_wino_gemm__neon(int64_t rows, int64_t C, const float *A, int64_t lda, const float *Bp, float *Mo,
                        int64_t ldm) {
    int64_t r = 0;
    for (; r + 6 <= rows; r += 6) {
        const float *a0 = A + r * lda;
        float32x4_t acc[6][4];
        for (int i = 0; i < 6; i++)
            for (int l = 0; l < 4; l++) acc[i][l] = vdupq_n_f32(0.f);
        const float *b = Bp;
        for (int64_t c = 0; c < C; c++, b += CK_WINO_NR) {
            const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8),
                              b3 = vld1q_f32(b + 12);
            _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) {
                const float av = a0[i * lda + c];
                acc[i][0] = vfmaq_n_f32(acc[i][0], b0, av);
                acc[i][1] = vfmaq_n_f32(acc[i][1], b1, av);
                acc[i][2] = vfmaq_n_f32(acc[i][2], b2, av);
                acc[i][3] = vfmaq_n_f32(acc[i][3], b3, av);
            }
        }
        _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) {
            float *o = Mo + (r + i) * ldm;
            vst1q_f32(o, acc[i][0]);
            vst1q_f32(o + 4, acc[i][1]);
            vst1q_f32(o + 8, acc[i][2]);
            vst1q_f32(o + 12, acc[i][3]);
        }
    }
    for (; r < rows; r++) {
        const float *a = A + r * lda;
        float32x4_t c0 = vdupq_n_f32(0.f), c1 = c0, c2 = c0, c3 = c0;
        const float *b = Bp;
        for (int64_t c = 0; c < C; c++, b += CK_WINO_NR) {
            const float av = a[c];
            c0 = vfmaq_n_f32(c0, vld1q_f32(b), av);
            c1 = vfmaq_n_f32(c1, vld1q_f32(b + 4), av);
            c2 = vfmaq_n_f32(c2, vld1q_f32(b + 8), av);
            c3 = vfmaq_n_f32(c3, vld1q_f32(b + 12), av);
        }
        float *o = Mo + r * ldm;
        vst1q_f32(o, c0);
        vst1q_f32(o + 4, c1);
        vst1q_f32(o + 8, c2);
        vst1q_f32(o + 12, c3);
    }
}
#else
typedef int ck_winograd_gemm_6x16__neon_unused;
#endif
