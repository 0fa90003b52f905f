/* Winograd F(m x m, 3 x 3): AVX2+FMA transforms (8 channels per vector) and
 * the 6x16 GEMM micro-kernel.  Any m, driven by the sparse transform matrices
 * in the geometry. */
#if defined(__x86_64__)
#include "winograd_kernels.h"
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))

/* The transform matrices of conv_winograd.c's make_matrices (Cook-Toom points
 * 0, +-1, +-2, +-1/2, inf), as compile-time constants: with the loops of xf()
 * fully unrolled every zero term disappears and +-1 terms become add/sub, so
 * each 1-D transform is straight-line code (the generic sparse-list loops
 * with run-time coefficients cost as much as the GEMM on 64-channel layers).
 * The results are bit-identical to the sparse-list evaluation. */
static const float BT2[8][8] = {{-1, 0, 1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, -1, 0, 1}};
static const float AT2[8][8] = {{1, 1, 1, 0}, {0, 1, -1, 1}};
static const float BT4[8][8] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},  {0, 4, -4, -1, 1, 0},
                                {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const float AT4[8][8] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
static const float BT6[8][8] = {{-1, 0, 5.25f, 0, -5.25f, 0, 1, 0},          {0, 1, 1, -4.25f, -4.25f, 1, 1, 0},
                                {0, -1, 1, 4.25f, -4.25f, -1, 1, 0},         {0, 0.5f, 0.25f, -2.5f, -1.25f, 2, 1, 0},
                                {0, -0.5f, 0.25f, 2.5f, -1.25f, -2, 1, 0},   {0, 2, 4, -2.5f, -5, 0.5f, 1, 0},
                                {0, -2, 4, 2.5f, -5, -0.5f, 1, 0},           {0, -1, 0, 5.25f, 0, -5.25f, 0, 1}};
static const float AT6[8][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                                {0, 1, -1, 2, -2, 0.5f, -0.5f, 0},
                                {0, 1, 1, 4, 4, 0.25f, 0.25f, 0},
                                {0, 1, -1, 8, -8, 0.125f, -0.125f, 0},
                                {0, 1, 1, 16, 16, 0.0625f, 0.0625f, 0},
                                {0, 1, -1, 32, -32, 0.03125f, -0.03125f, 1}};

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* o[i] = sum_j T[i][j] * s[j * ss] for i < rows, j < n (T constant). */
TGT static ALWAYS_INLINE void xf(const float T[8][8], const int rows, const int n, const __m256 *s, const int ss,
                                 __m256 *o) {
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++) {
        __m256 acc = _mm256_setzero_ps();
        int first = 1;
#pragma GCC unroll 8
        for (int j = 0; j < n; j++) {
            const float c = T[i][j];
            const __m256 v = s[j * ss];
            if (c == 0.f) continue;
            if (first) acc = c == 1.f ? v : c == -1.f ? _mm256_xor_ps(v, _mm256_set1_ps(-0.f)) : _mm256_mul_ps(_mm256_set1_ps(c), v);
            else acc = c == 1.f ? _mm256_add_ps(acc, v) : c == -1.f ? _mm256_sub_ps(acc, v) : _mm256_fmadd_ps(_mm256_set1_ps(c), v, acc);
            first = 0;
        }
        o[i] = acc;
    }
}

TGT static inline __m256i lane_mask(int cl) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cl), idx);
}

/* One 8-channel block of one tile: V[(i*a+j)*vs] = (B^T d B)[i][j], with
 * d[i][j] = x[xo + i*rs + j*8] for NCHW8c (zero where row i / column j is
 * outside the image: bits of rmask / cmask) or, when x is NULL, the
 * pre-loaded d.  A separate (not inlined) function per tile size, so the 36-64
 * store addresses are recomputed from dst per block instead of being kept as
 * that many pointers on the stack across the channel loop. */
TGT static ALWAYS_INLINE void in_block(const int m, const float BT[8][8], const float *x, int64_t xo, int64_t rs,
                                       unsigned rmask, unsigned cmask, const __m256 *d, float *dst, int64_t vs, int cl,
                                       __m256i mk) {
    const int a = m + 2;
    __m256 tmp[CK_WINO_MAX_ALPHA * CK_WINO_MAX_ALPHA];
    /* tmp = B^T d (columns), then V = tmp B (rows) */
#pragma GCC unroll 8
    for (int j = 0; j < a; j++) {
        __m256 col[CK_WINO_MAX_ALPHA], o[CK_WINO_MAX_ALPHA];
#pragma GCC unroll 8
        for (int i = 0; i < a; i++)
            col[i] = !x ? d[i * a + j]
                        : ((rmask >> i) & (cmask >> j) & 1u) ? _mm256_loadu_ps(x + (xo + i * rs + j * 8))
                                                             : _mm256_setzero_ps();
        xf(BT, a, a, col, 1, o);
#pragma GCC unroll 8
        for (int i = 0; i < a; i++) tmp[i * a + j] = o[i];
    }
#pragma GCC unroll 8
    for (int i = 0; i < a; i++) {
        __m256 o[CK_WINO_MAX_ALPHA];
        xf(BT, a, a, tmp + i * a, 1, o);
#pragma GCC unroll 8
        for (int j = 0; j < a; j++) {
            float *q = dst + (int64_t)(i * a + j) * vs;
            if (cl == 8) _mm256_storeu_ps(q, o[j]);
            else _mm256_maskstore_ps(q, mk, o[j]);
        }
    }
}

#define IN_BLOCK(M)                                                                                                  \
    TGT static __attribute__((noinline)) void in_block##M(const float *x, int64_t xo, int64_t rs, unsigned rmask,   \
                                                          unsigned cmask, const __m256 *d, float *dst, int64_t vs,   \
                                                          int cl, __m256i mk) {                                      \
        in_block(M, BT##M, x, xo, rs, rmask, cmask, d, dst, vs, cl, mk);                                             \
    }
IN_BLOCK(2)
IN_BLOCK(4)
IN_BLOCK(6)

TGT void ck_wino_input__avx2_fma(const ck_wino_geom *g, const float *x, int64_t t, float *V, int64_t vs) {
    const int m = g->m, a = g->alpha;
    void (*blockfn)(const float *, int64_t, int64_t, unsigned, unsigned, const __m256 *, float *, int64_t, int, __m256i) =
        m == 2 ? in_block2 : m == 4 ? in_block4 : in_block6;
    int64_t n, th, tw;
    ck_wino_tile_pos(g, t, &n, &th, &tw);
    const int64_t ih0 = th * m - g->pad_top, iw0 = tw * m - g->pad_left;
    const int64_t C = g->C, H = g->H, W = g->W, HW = H * W;
    const int nhwc = g->layout == CK_LAYOUT_NHWC, blk = g->layout == CK_LAYOUT_NCHW8C;
    const int use_gather = !nhwc && !blk && HW * 8 < ((int64_t)1 << 31);
    const __m256i gidx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)(use_gather ? HW : 0)));
    int rv[CK_WINO_MAX_ALPHA], cv[CK_WINO_MAX_ALPHA];
    unsigned rmask = 0, cmask = 0;
    for (int i = 0; i < a; i++) {
        rv[i] = ih0 + i >= 0 && ih0 + i < H;
        cv[i] = iw0 + i >= 0 && iw0 + i < W;
        rmask |= (unsigned)rv[i] << i;
        cmask |= (unsigned)cv[i] << i;
    }
    __m256 d[CK_WINO_MAX_ALPHA * CK_WINO_MAX_ALPHA];
    for (int64_t c0 = 0; c0 < C; c0 += 8) {
        const int cl = (int)(C - c0 < 8 ? C - c0 : 8);
        const __m256i mk = lane_mask(cl);
        if (blk) {
            /* [N][C/8][H][W][8]: one vector per pixel, channel tail already zero */
            const int64_t xo = (((n * ((C + 7) / 8) + c0 / 8) * H + ih0) * W + iw0) * 8; /* < 0 at the border */
            blockfn(x, xo, W * 8, rmask, cmask, NULL, V + c0, vs, cl, mk);
            continue;
        }
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) {
                __m256 v = _mm256_setzero_ps();
                if (rv[i] && cv[j]) {
                    const int64_t ih = ih0 + i, iw = iw0 + j;
                    if (nhwc) {
                        const float *p = x + ((n * H + ih) * W + iw) * C + c0;
                        v = cl == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mk);
                    } else {
                        const float *p = x + ((n * C + c0) * H + ih) * W + iw;
                        if (use_gather) {
                            v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, gidx, _mm256_castsi256_ps(mk), 4);
                        } else {
                            float buf[8] = {0};
                            for (int l = 0; l < cl; l++) buf[l] = p[l * HW];
                            v = _mm256_loadu_ps(buf);
                        }
                    }
                }
                d[i * a + j] = v;
            }
        blockfn(NULL, 0, 0, 0, 0, d, V + c0, vs, cl, mk);
    }
}

TGT static inline __m256 activate8(ck_activation act, __m256 v) {
    switch (act.kind) {
    case CK_ACT_NONE: return v;
    case CK_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
    case CK_ACT_RELU6: return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.f));
    case CK_ACT_LEAKY_RELU: {
        const __m256 ge = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ);
        return _mm256_blendv_ps(_mm256_mul_ps(v, _mm256_set1_ps(act.alpha)), v, ge);
    }
    default: {
        float b[8];
        _mm256_storeu_ps(b, v);
        for (int l = 0; l < 8; l++) b[l] = ck_activate(act, b[l]);
        return _mm256_loadu_ps(b);
    }
    }
}

/* One 8-channel block of one tile: out[i*m + j] = (A^T Mt A)[i][j] for all
 * m x m outputs, Mt[i][j] = M[(i*a+j)*ms].  Not inlined, for the same reason
 * as in_block. */
TGT static ALWAYS_INLINE void out_block(const int m, const float AT[8][8], const float *M, int64_t ms, __m256 *out) {
    const int a = m + 2;
    __m256 tmp[CK_WINO_MAX_ALPHA * CK_WINO_MAX_ALPHA];
#pragma GCC unroll 8
    for (int j = 0; j < a; j++) {
        __m256 col[CK_WINO_MAX_ALPHA], o[CK_WINO_MAX_ALPHA];
#pragma GCC unroll 8
        for (int i = 0; i < a; i++) col[i] = _mm256_loadu_ps(M + (int64_t)(i * a + j) * ms);
        xf(AT, m, a, col, 1, o);
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) tmp[i * a + j] = o[i];
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; i++) xf(AT, m, a, tmp + i * a, 1, out + i * m);
}

#define OUT_BLOCK(M_)                                                                                                \
    TGT static __attribute__((noinline)) void out_block##M_(const float *M, int64_t ms, __m256 *out) {               \
        out_block(M_, AT##M_, M, ms, out);                                                                           \
    }
OUT_BLOCK(2)
OUT_BLOCK(4)
OUT_BLOCK(6)

TGT static ALWAYS_INLINE void output_m(const int m, const ck_wino_geom *g, const float *M, int64_t ms, int64_t t,
                                       const float *residual, float *y) {
    void (*blockfn)(const float *, int64_t, __m256 *) = m == 2 ? out_block2 : m == 4 ? out_block4 : out_block6;
    int64_t n, th, tw;
    ck_wino_tile_pos(g, t, &n, &th, &tw);
    const int64_t p0 = th * m, q0 = tw * m;
    const int64_t K = g->K, P = g->P, Q = g->Q, PQ = P * Q;
    const int mi = (int)(P - p0 < m ? P - p0 : m), mj = (int)(Q - q0 < m ? Q - q0 : m);
    const int nhwc = g->layout == CK_LAYOUT_NHWC, blk = g->layout == CK_LAYOUT_NCHW8C;
    const int64_t KB = (K + 7) / 8;
    __m256 out[CK_WINO_MAX_ALPHA * CK_WINO_MAX_ALPHA];
    for (int64_t k0 = 0; k0 < K; k0 += 8) {
        const int kl = (int)(K - k0 < 8 ? K - k0 : 8);
        const __m256i mk = lane_mask(kl);
        blockfn(M + k0, ms, out);
        const __m256 bias = _mm256_loadu_ps(g->bias + k0);
        for (int i = 0; i < mi; i++) {
            const int64_t p = p0 + i;
            const __m256 *o = out + i * m;
            for (int j = 0; j < mj; j++) {
                const int64_t q = q0 + j;
                __m256 acc = _mm256_add_ps(o[j], bias);
                if (blk) {
                    /* [N][K/8][P][Q][8]: the channel tail is written as zeros */
                    const int64_t o = (((n * KB + k0 / 8) * P + p) * Q + q) * 8;
                    if (residual) acc = _mm256_add_ps(acc, _mm256_loadu_ps(residual + o));
                    acc = activate8(g->act, acc);
                    if (kl < 8) acc = _mm256_and_ps(acc, _mm256_castsi256_ps(mk));
                    _mm256_storeu_ps(y + o, acc);
                } else if (nhwc) {
                    const int64_t o = ((n * P + p) * Q + q) * K + k0;
                    if (kl == 8) {
                        if (residual) acc = _mm256_add_ps(acc, _mm256_loadu_ps(residual + o));
                        _mm256_storeu_ps(y + o, activate8(g->act, acc));
                    } else {
                        if (residual) acc = _mm256_add_ps(acc, _mm256_maskload_ps(residual + o, mk));
                        _mm256_maskstore_ps(y + o, mk, activate8(g->act, acc));
                    }
                } else {
                    const int64_t o = ((n * K + k0) * P + p) * Q + q;
                    float b[8];
                    if (residual) {
                        for (int l = 0; l < kl; l++) b[l] = residual[o + l * PQ];
                        for (int l = kl; l < 8; l++) b[l] = 0.f;
                        acc = _mm256_add_ps(acc, _mm256_loadu_ps(b));
                    }
                    _mm256_storeu_ps(b, activate8(g->act, acc));
                    for (int l = 0; l < kl; l++) y[o + l * PQ] = b[l];
                }
            }
        }
    }
}

TGT void ck_wino_output__avx2_fma(const ck_wino_geom *g, const float *M, int64_t ms, int64_t t,
                                  const float *residual, float *y) {
    switch (g->m) {
    case 2: output_m(2, g, M, ms, t, residual, y); break;
    case 4: output_m(4, g, M, ms, t, residual, y); break;
    default: output_m(6, g, M, ms, t, residual, y); break;
    }
}

/* R < 6 remaining rows: one pass over the B panel, R (constant after
 * inlining) rows of accumulators.  R <= 3 rows have too few independent FMA
 * chains to cover the FMA latency, so even and odd c go to two accumulator
 * sets, added at the end. */
TGT static inline __attribute__((always_inline)) void gemm_rows(const int R, int64_t C, const float *A, int64_t lda,
                                                                const float *Bp, float *Mo, int64_t ldm) {
    __m256 c0[5], c1[5], d0[3], d1[3];
#pragma GCC unroll 5
    for (int i = 0; i < R; i++) c0[i] = c1[i] = _mm256_setzero_ps();
#pragma GCC unroll 3
    for (int i = 0; i < 3; i++) d0[i] = d1[i] = _mm256_setzero_ps();
    int64_t c = 0;
    if (R <= 3) {
        for (; c + 2 <= C; c += 2) {
            const __m256 b0 = _mm256_loadu_ps(Bp + c * 16), b1 = _mm256_loadu_ps(Bp + c * 16 + 8);
            const __m256 e0 = _mm256_loadu_ps(Bp + c * 16 + 16), e1 = _mm256_loadu_ps(Bp + c * 16 + 24);
#pragma GCC unroll 3
            for (int i = 0; i < (R <= 3 ? R : 3); i++) {
                const __m256 av = _mm256_broadcast_ss(A + i * lda + c), aw = _mm256_broadcast_ss(A + i * lda + c + 1);
                c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
                c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
                d0[i] = _mm256_fmadd_ps(aw, e0, d0[i]);
                d1[i] = _mm256_fmadd_ps(aw, e1, d1[i]);
            }
        }
    }
    for (; c < C; c++) {
        const __m256 b0 = _mm256_loadu_ps(Bp + c * 16), b1 = _mm256_loadu_ps(Bp + c * 16 + 8);
#pragma GCC unroll 5
        for (int i = 0; i < R; i++) {
            const __m256 av = _mm256_broadcast_ss(A + i * lda + c);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
    }
#pragma GCC unroll 5
    for (int i = 0; i < R; i++) {
        if (R <= 3) {
            c0[i] = _mm256_add_ps(c0[i], d0[i < 3 ? i : 0]);
            c1[i] = _mm256_add_ps(c1[i], d1[i < 3 ? i : 0]);
        }
        _mm256_storeu_ps(Mo + i * ldm, c0[i]);
        _mm256_storeu_ps(Mo + i * ldm + 8, c1[i]);
    }
}

TGT static void gemm_tail(int64_t R, int64_t C, const float *A, int64_t lda, const float *Bp, float *Mo, int64_t ldm) {
    switch (R) {
    case 1: gemm_rows(1, C, A, lda, Bp, Mo, ldm); break;
    case 2: gemm_rows(2, C, A, lda, Bp, Mo, ldm); break;
    case 3: gemm_rows(3, C, A, lda, Bp, Mo, ldm); break;
    case 4: gemm_rows(4, C, A, lda, Bp, Mo, ldm); break;
    default: gemm_rows(5, C, A, lda, Bp, Mo, ldm); break;
    }
}

TGT void ck_wino_gemm__avx2_fma(int64_t rows, int64_t C, const float *A, int64_t lda, const float *Bp, float *Mo,
                                int64_t ldm) {
    /* rows = 6q + 1 or 6q + 2: the last 7 or 8 rows as two groups of 3-4
     * instead of 6 + a 1-2 row tail (few rows per FMA load pair) */
    const int64_t rem = rows % 6, main_rows = rows >= 6 && rem && rem < 3 ? rows - 6 - rem : rows / 6 * 6;
    int64_t r = 0;
    for (; r < main_rows; r += 6) {
        const float *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda, *a4 = a3 + lda, *a5 = a4 + lda;
        __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
               c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        const float *b = Bp;
        for (int64_t c = 0; c < C; c++, b += 16) {
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            __m256 av = _mm256_broadcast_ss(a0 + c);
            c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
            av = _mm256_broadcast_ss(a1 + c);
            c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
            av = _mm256_broadcast_ss(a2 + c);
            c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
            av = _mm256_broadcast_ss(a3 + c);
            c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
            av = _mm256_broadcast_ss(a4 + c);
            c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
            av = _mm256_broadcast_ss(a5 + c);
            c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
        }
        float *o = Mo + r * ldm;
        _mm256_storeu_ps(o, c00); _mm256_storeu_ps(o + 8, c01); o += ldm;
        _mm256_storeu_ps(o, c10); _mm256_storeu_ps(o + 8, c11); o += ldm;
        _mm256_storeu_ps(o, c20); _mm256_storeu_ps(o + 8, c21); o += ldm;
        _mm256_storeu_ps(o, c30); _mm256_storeu_ps(o + 8, c31); o += ldm;
        _mm256_storeu_ps(o, c40); _mm256_storeu_ps(o + 8, c41); o += ldm;
        _mm256_storeu_ps(o, c50); _mm256_storeu_ps(o + 8, c51);
    }
    if (rows - r > 6) {
        const int64_t h = (rows - r) / 2;
        gemm_tail(h, C, A + r * lda, lda, Bp, Mo + r * ldm, ldm);
        r += h;
    }
    if (r < rows) gemm_tail(rows - r, C, A + r * lda, lda, Bp, Mo + r * ldm, ldm);
}

#else
typedef int ck_wino_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
