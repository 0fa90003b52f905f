/* Winograd F(m x m, 3 x 3) kernels: per-tile input/output transforms and the
 * transform-domain GEMM micro-kernel, one implementation per ISA.  The shared
 * driver is algos/conv_winograd.c.
 *
 * Data layouts (all row-major, floats):
 *   V  [xi][tile][C]          transformed input tiles of one block; xi stride vs
 *   U  [xi][Kp/16][C][16]     transformed weights, packed in 16-column panels
 *                             (own micro-kernel) -- or [xi][C][Kp] for BLAS
 *   M  [xi][tile][Kp]         products; xi stride ms
 * with xi = i*alpha + j in [0, alpha^2) and Kp = K rounded up to 16. */
#ifndef CK_WINOGRAD_KERNELS_H
#define CK_WINOGRAD_KERNELS_H

#include "internal.h"

#define CK_WINO_MAX_ALPHA 8
#define CK_WINO_NR 16 /* GEMM panel width (output channels) */
#define CK_WINO_MR 6  /* GEMM micro-tile height (tiles) */

/** A small matrix stored by rows as (column index, coefficient) lists of its
 *  non-zero entries, so transforms skip the many zeros. */
typedef struct ck_wino_sparse {
    int rows;
    int n[CK_WINO_MAX_ALPHA];
    int idx[CK_WINO_MAX_ALPHA][CK_WINO_MAX_ALPHA];
    float c[CK_WINO_MAX_ALPHA][CK_WINO_MAX_ALPHA];
} ck_wino_sparse;

/** Everything the per-tile kernels need about a plan. */
typedef struct ck_wino_geom {
    int m, alpha;
    ck_wino_sparse bt; /* B^T: alpha x alpha */
    ck_wino_sparse at; /* A^T: m x alpha */
    int64_t C, H, W, K, Kp, P, Q;
    int64_t pad_top, pad_left;
    int64_t tiles_h, tiles_w;
    ck_layout layout;
    ck_activation act;
    const float *bias; /* Kp floats (zeros when the conv has no bias) */
} ck_wino_geom;

/** Transform the input tile with global index t (n, tile row, tile column)
 *  for all C channels: V[xi * vs + c] for xi < alpha^2. Out-of-image input
 *  reads as zero. */
typedef void (*ck_wino_input_fn)(const ck_wino_geom *g, const float *x, int64_t t, float *V, int64_t vs);

/** Output transform of tile t for all K channels from M[xi * ms + k], with
 *  bias, residual (may be NULL) and the activation fused; writes only outputs
 *  inside P x Q. */
typedef void (*ck_wino_output_fn)(const ck_wino_geom *g, const float *M, int64_t ms, int64_t t,
                                  const float *residual, float *y);

/** Panel GEMM: Mo[r*ldm + 0..15] = sum_c A[r*lda + c] * Bp[c*16 + 0..15] for r < rows. */
typedef void (*ck_wino_gemm_fn)(int64_t rows, int64_t C, const float *A, int64_t lda, const float *Bp, float *Mo,
                                int64_t ldm);

void ck_wino_input__scalar(const ck_wino_geom *g, const float *x, int64_t t, float *V, int64_t vs);
void ck_wino_output__scalar(const ck_wino_geom *g, const float *M, int64_t ms, int64_t t, const float *residual,
                            float *y);
void ck_wino_gemm__scalar(int64_t rows, int64_t C, const float *A, int64_t lda, const float *Bp, float *Mo,
                          int64_t ldm);

#if defined(__x86_64__)
void ck_wino_input__avx2_fma(const ck_wino_geom *g, const float *x, int64_t t, float *V, int64_t vs);
void ck_wino_output__avx2_fma(const ck_wino_geom *g, const float *M, int64_t ms, int64_t t, const float *residual,
                              float *y);
void ck_wino_gemm__avx2_fma(int64_t rows, int64_t C, const float *A, int64_t lda, const float *Bp, float *Mo,
                            int64_t ldm);
#endif

#if defined(__aarch64__)
void ck_wino_gemm__neon(int64_t rows, int64_t C, const float *A, int64_t lda, const float *Bp, float *Mo,
                        int64_t ldm);
#endif

/** Decompose a global tile index. */
static inline void ck_wino_tile_pos(const ck_wino_geom *g, int64_t t, int64_t *n, int64_t *th, int64_t *tw) {
    *tw = t % g->tiles_w;
    int64_t r = t / g->tiles_w;
    *th = r % g->tiles_h;
    *n = r / g->tiles_h;
}

#endif
