/* AVX2+FMA channel-vector kernels: depthwise convolution and pooling on one
 * 8-channel block.  One ymm holds the 8 channels of a pixel, so the filter tap
 * is a plain vector (no broadcasts) and interior pixels need no bounds checks.
 * Depthwise 3x3 (stride 1 and 2, MobileNet's case) has its own path: eight
 * output pixels of a row at once (eight independent FMA chains), each input
 * vector loaded once per row and shared by its taps, padding columns folded
 * into masked edge steps; other shapes compute four output pixels together so
 * each weight vector is loaded once per four FMAs.  Pooling with 2x2 and 3x3
 * windows reduces each input column over the window rows once and shares it
 * between overlapping windows.  Partial blocks (NHWC channel tails) use masked
 * loads and stores so nothing outside the tensor is touched. */
#if defined(__x86_64__)
#include "chanvec_kernels.h"
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define CK_AVX2 __attribute__((target("avx2,fma")))
#define CK_AVX2_INLINE static inline __attribute__((target("avx2,fma"), always_inline))

CK_AVX2_INLINE __m256 ld(const float *p, int full, __m256i m) { return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m); }
CK_AVX2_INLINE void st(float *p, __m256 v, int full, __m256i m) {
    if (full) _mm256_storeu_ps(p, v); else _mm256_maskstore_ps(p, m, v);
}

CK_AVX2_INLINE __m256 act_vec(__m256 v, ck_activation act) {
    switch (act.kind) {
    case CK_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
    case CK_ACT_RELU6: return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.f));
    case CK_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_mul_ps(v, _mm256_set1_ps(act.alpha));
        return _mm256_blendv_ps(neg, v, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ));
    }
    default: return v;
    }
}

/* 3x3, dilation 1, full block: N output pixels of one output row at stride SW
 * (compile-time constants, so everything unrolls into registers).  Input rows
 * [0, nr) from xr are used (the caller drops the rows that fall in the
 * padding); each input vector of a row is loaded once and fed to every
 * output/tap pair it serves (stride 1: N+2 loads for 3N FMAs), with the row's
 * three weight vectors in registers and N independent accumulator chains.
 * EDGE: the window's first and last input columns are loaded under masks mf,
 * ml (all-zero mask = padding column: reads nothing, gives 0), so the left and
 * right output columns of a padded row go through the same code. */
CK_AVX2_INLINE void dw3_step(const int N, const int SW, const int EDGE, const float *xr, int64_t x_row, int64_t x_pix,
                             int nr, const float *wr, __m256 bias, const float *rp, float *yp, int64_t y_pix,
                             ck_activation act, __m256i mf, __m256i ml) {
    __m256 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < N; j++) acc[j] = bias;
    for (int r = 0; r < nr; r++, xr += x_row, wr += 24) {
        const __m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8), w2 = _mm256_loadu_ps(wr + 16);
#pragma GCC unroll 17
        for (int i = 0; i < (N - 1) * SW + 3; i++) {
            __m256 v = EDGE && i == 0                   ? _mm256_maskload_ps(xr, mf)
                             : EDGE && i == (N - 1) * SW + 2 ? _mm256_maskload_ps(xr + i * x_pix, ml)
                                                              : _mm256_loadu_ps(xr + i * x_pix);
            /* keep v in a register: without this GCC folds the load into each FMA that uses it
             * (up to 3 loads of the same vector, each a split load on 16-byte-aligned buffers) */
            __asm__("" : "+x"(v));
            if (i % SW == 0 && i / SW < N) acc[i / SW] = _mm256_fmadd_ps(w0, v, acc[i / SW]);
            if (i >= 1 && (i - 1) % SW == 0 && (i - 1) / SW < N) acc[(i - 1) / SW] = _mm256_fmadd_ps(w1, v, acc[(i - 1) / SW]);
            if (i >= 2 && (i - 2) % SW == 0 && (i - 2) / SW < N) acc[(i - 2) / SW] = _mm256_fmadd_ps(w2, v, acc[(i - 2) / SW]);
        }
    }
    if (rp) {
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) acc[j] = _mm256_add_ps(acc[j], _mm256_loadu_ps(rp + j * y_pix));
    }
#pragma GCC unroll 8
    for (int j = 0; j < N; j++) _mm256_storeu_ps(yp + j * y_pix, act_vec(acc[j], act));
}

/* N outputs from column q: the plain step when the window [c0, c0 + (N-1)*SW + 2]
 * is inside [0, W), else the EDGE step (the caller guarantees c0 >= -1 and the
 * last column <= W, so only one padding column can sit at either end). */
#define DW3_STEP(N)                                                                                                   \
    do {                                                                                                              \
        const int64_t c0 = q * SW - g->pl, c1 = c0 + ((N) - 1) * SW + 2;                                              \
        const float *xq = xr0 + c0 * xp;                                                                              \
        const float *rq = rrow ? rrow + q * yp : NULL;                                                                \
        if (c0 >= 0 && c1 < g->W)                                                                                     \
            dw3_step((N), SW, 0, xq, xrs, xp, nr, wr0, bias, rq, yrow + q * yp, yp, act, ones, ones);                 \
        else                                                                                                          \
            dw3_step((N), SW, 1, xq, xrs, xp, nr, wr0, bias, rq, yrow + q * yp, yp, act,                              \
                     c0 < 0 ? _mm256_setzero_si256() : ones, c1 >= g->W ? _mm256_setzero_si256() : ones);           \
        q += (N);                                                                                                     \
    } while (0)

/* One output row of the 3x3 dilation-1 full-block case at stride SW: the
 * columns whose window overhangs the input by at most one column go through
 * dw3_step 8 at a time, the rest in one step; any others (padding >= 2) tap-clipped. */
CK_AVX2_INLINE void dw3_row(const int SW, const int64_t PIX, const ck_chanvec_geom *g, const float *x, const float *w,
                            __m256 bias, const float *rrow, float *yrow, int64_t h0, ck_activation act) {
    int r0 = 0, r1 = 3;
    while (r0 < 3 && h0 + r0 < 0) r0++;
    while (r1 > r0 && h0 + r1 - 1 >= g->H) r1--;
    const int nr = r1 - r0;
    const float *xr0 = x + (h0 + r0) * g->x_row;
    const float *wr0 = w + r0 * 24;
    /* PIX: the pixel stride when known at compile time (NCHW8c), else 0 */
    const int64_t xp = PIX ? PIX : g->x_pix, yp = PIX ? PIX : g->y_pix, xrs = g->x_row;
    const __m256i ones = _mm256_set1_epi32(-1);
    /* step columns [qa, qb): q*SW - pl >= -1 and q*SW - pl + 2 <= W */
    int64_t qa = g->pl <= 1 ? 0 : (g->pl - 1 + SW - 1) / SW;
    int64_t qb = g->W + g->pl - 2 < 0 ? 0 : (g->W + g->pl - 2) / SW + 1;
    if (qb > g->Q) qb = g->Q;
    if (qa > qb) qa = qb;
    int64_t q = 0;
    for (;;) {
        for (; q < g->Q && (q < qa || q >= qb); q++) {
            /* column too far in the padding: clip the taps to [0, W) */
            const int64_t w0 = q * SW - g->pl;
            const int s0 = w0 < 0 ? (int)-w0 : 0, s1 = w0 + 3 > g->W ? (int)(g->W - w0) : 3;
            __m256 acc = bias;
            for (int r = 0; r < nr; r++)
                for (int s = s0; s < s1; s++)
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(wr0 + (r * 3 + s) * 8),
                                          _mm256_loadu_ps(xr0 + r * xrs + (w0 + s) * xp), acc);
            if (rrow) acc = _mm256_add_ps(acc, _mm256_loadu_ps(rrow + q * yp));
            _mm256_storeu_ps(yrow + q * yp, act_vec(acc, act));
        }
        if (q >= g->Q) break;
        while (q + 8 <= qb) DW3_STEP(8);
        switch (qb - q) { /* the rest (a whole 7-wide row, say) in one step */
        case 7: DW3_STEP(7); break;
        case 6: DW3_STEP(6); break;
        case 5: DW3_STEP(5); break;
        case 4: DW3_STEP(4); break;
        case 3: DW3_STEP(3); break;
        case 2: DW3_STEP(2); break;
        case 1: DW3_STEP(1); break;
        default: break;
        }
    }
}
#undef DW3_STEP

/* Rows [p0, p1) of the 3x3 case, one out-of-line function per stride and pixel
 * stride (compact code whose speed does not shift with unrelated edits). */
#define DW3_ROWS_FN(NAME, SW, PIX)                                                                                   \
    static __attribute__((target("avx2,fma"), noinline, aligned(64))) void NAME(                                    \
        const ck_chanvec_geom *g, const float *x, const float *w, const float *b, const float *res, float *y,        \
        int64_t p0, int64_t p1, ck_activation act) {                                                                 \
        const __m256 bias = b ? _mm256_loadu_ps(b) : _mm256_setzero_ps();                                            \
        for (int64_t p = p0; p < p1; p++)                                                                            \
            dw3_row(SW, PIX, g, x, w, bias, res ? res + p * g->y_row : NULL, y + p * g->y_row, p * g->sh - g->pt,    \
                    act);                                                                                            \
    }
DW3_ROWS_FN(dw3_rows_s1_c8, 1, 8)
DW3_ROWS_FN(dw3_rows_s2_c8, 2, 8)
DW3_ROWS_FN(dw3_rows_s1, 1, 0)
DW3_ROWS_FN(dw3_rows_s2, 2, 0)
#undef DW3_ROWS_FN

CK_AVX2_INLINE void dw_body(const ck_chanvec_geom *g, const float *x, const float *w, const float *b, const float *res,
                            float *y, int64_t p0, int64_t p1, ck_activation act, int full, __m256i m) {
    const __m256 bias = b ? _mm256_loadu_ps(b) : _mm256_setzero_ps();
    const int64_t S = g->S, R = g->R;
    /* interior output columns: every tap s lands inside [0, W) */
    int64_t q_lo = (g->pl + g->sw - 1) / g->sw;
    int64_t last = g->W - 1 + g->pl - (S - 1) * g->dw;
    int64_t q_hi = last < 0 ? 0 : last / g->sw + 1;
    if (q_hi > g->Q) q_hi = g->Q;
    if (q_lo > q_hi) q_lo = q_hi;
    if (R == 3 && S == 3 && g->dh == 1 && g->dw == 1 && full && (g->sw == 1 || g->sw == 2)) {
        if (g->x_pix == 8 && g->y_pix == 8) { /* NCHW8c: pixel strides known at compile time */
            if (g->sw == 1) dw3_rows_s1_c8(g, x, w, b, res, y, p0, p1, act);
            else dw3_rows_s2_c8(g, x, w, b, res, y, p0, p1, act);
        } else {
            if (g->sw == 1) dw3_rows_s1(g, x, w, b, res, y, p0, p1, act);
            else dw3_rows_s2(g, x, w, b, res, y, p0, p1, act);
        }
        return;
    }
    for (int64_t p = p0; p < p1; p++) {
        int64_t r0 = 0, r1 = R;
        const int64_t h0 = p * g->sh - g->pt;
        while (r0 < R && h0 + r0 * g->dh < 0) r0++;
        while (r1 > r0 && h0 + (r1 - 1) * g->dh >= g->H) r1--;
        float *yrow = y + p * g->y_row;
        const float *rrow = res ? res + p * g->y_row : NULL;
        /* border columns, with per-tap checks */
        for (int64_t q = 0; q < g->Q; q++) {
            if (q == q_lo && q_hi > q_lo) { q = q_hi - 1; continue; }
            __m256 acc = bias;
            for (int64_t r = r0; r < r1; r++) {
                const float *xr = x + (h0 + r * g->dh) * g->x_row;
                for (int64_t s = 0; s < S; s++) {
                    const int64_t iw = q * g->sw - g->pl + s * g->dw;
                    if (iw < 0 || iw >= g->W) continue;
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + (r * S + s) * 8), ld(xr + iw * g->x_pix, full, m), acc);
                }
            }
            if (rrow) acc = _mm256_add_ps(acc, ld(rrow + q * g->y_pix, full, m));
            st(yrow + q * g->y_pix, act_vec(acc, act), full, m);
        }
        /* interior columns, four at a time */
        int64_t q = q_lo;
        const int64_t xs = g->sw * g->x_pix;
        for (; q + 4 <= q_hi; q += 4) {
            __m256 a0 = bias, a1 = bias, a2 = bias, a3 = bias;
            for (int64_t r = r0; r < r1; r++) {
                const float *xp = x + (h0 + r * g->dh) * g->x_row + (q * g->sw - g->pl) * g->x_pix;
                const float *wr = w + r * S * 8;
                for (int64_t s = 0; s < S; s++) {
                    const __m256 wv = _mm256_loadu_ps(wr + s * 8);
                    const float *xs0 = xp + s * g->dw * g->x_pix;
                    a0 = _mm256_fmadd_ps(wv, ld(xs0, full, m), a0);
                    a1 = _mm256_fmadd_ps(wv, ld(xs0 + xs, full, m), a1);
                    a2 = _mm256_fmadd_ps(wv, ld(xs0 + 2 * xs, full, m), a2);
                    a3 = _mm256_fmadd_ps(wv, ld(xs0 + 3 * xs, full, m), a3);
                }
            }
            float *yp = yrow + q * g->y_pix;
            if (rrow) {
                const float *rp = rrow + q * g->y_pix;
                a0 = _mm256_add_ps(a0, ld(rp, full, m));
                a1 = _mm256_add_ps(a1, ld(rp + g->y_pix, full, m));
                a2 = _mm256_add_ps(a2, ld(rp + 2 * g->y_pix, full, m));
                a3 = _mm256_add_ps(a3, ld(rp + 3 * g->y_pix, full, m));
            }
            st(yp, act_vec(a0, act), full, m);
            st(yp + g->y_pix, act_vec(a1, act), full, m);
            st(yp + 2 * g->y_pix, act_vec(a2, act), full, m);
            st(yp + 3 * g->y_pix, act_vec(a3, act), full, m);
        }
        for (; q < q_hi; q++) {
            __m256 acc = bias;
            for (int64_t r = r0; r < r1; r++) {
                const float *xp = x + (h0 + r * g->dh) * g->x_row + (q * g->sw - g->pl) * g->x_pix;
                for (int64_t s = 0; s < S; s++)
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + (r * S + s) * 8), ld(xp + s * g->dw * g->x_pix, full, m), acc);
            }
            if (rrow) acc = _mm256_add_ps(acc, ld(rrow + q * g->y_pix, full, m));
            st(yrow + q * g->y_pix, act_vec(acc, act), full, m);
        }
    }
}

CK_AVX2_INLINE __m256i lane_mask(int nc) {
    int v[8];
    for (int i = 0; i < 8; i++) v[i] = i < nc ? -1 : 0;
    return _mm256_loadu_si256((const __m256i *)v);
}

CK_AVX2 void ck_f32_dwconv_ukernel_8c__avx2_fma(const ck_chanvec_geom *g, const float *x, const float *w, const float *b,
                                                const float *res, float *y, int64_t p0, int64_t p1, ck_activation act) {
    if (!ck_chanvec_act_in_kernel(act)) act.kind = CK_ACT_NONE; /* caller applies sigmoid/tanh */
    if (g->nc == 8) dw_body(g, x, w, b, res, y, p0, p1, act, 1, _mm256_setzero_si256());
    else dw_body(g, x, w, b, res, y, p0, p1, act, 0, lane_mask(g->nc));
}

CK_AVX2_INLINE __m256 pool_op(const int MAX, __m256 a, __m256 b) { return MAX ? _mm256_max_ps(a, b) : _mm256_add_ps(a, b); }

/* Pooling, window fully inside the input, R x S in {2,3}, dilation 1, stride SW
 * (all compile-time): N outputs of a row.  Each input column is reduced over the
 * R rows once and shared by the outputs whose windows overlap it (3x3 stride 2:
 * 6 loads per output instead of 9).  Average divides (like the reference) by
 * R*S, the element count of a window that is inside the input. */
CK_AVX2_INLINE void pool_step(const int N, const int R, const int S, const int SW, const int MAX, const float *xp,
                              int64_t x_row, int64_t x_pix, float *yp, int64_t y_pix) {
    __m256 acc[8];
#pragma GCC unroll 17
    for (int i = 0; i < (N - 1) * SW + S; i++) {
        __m256 col = _mm256_loadu_ps(xp + i * x_pix);
#pragma GCC unroll 3
        for (int r = 1; r < R; r++) col = pool_op(MAX, col, _mm256_loadu_ps(xp + r * x_row + i * x_pix));
#pragma GCC unroll 3
        for (int s = 0; s < S; s++) {
            const int j = (i - s) / SW;
            if (i - s < 0 || (i - s) % SW || j >= N) continue;
            acc[j] = s == 0 ? col : pool_op(MAX, acc[j], col);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < N; j++)
        _mm256_storeu_ps(yp + j * y_pix, MAX ? acc[j] : _mm256_div_ps(acc[j], _mm256_set1_ps((float)(R * S))));
}

/* One output row's interior columns [q, q_hi) through pool_step, 8 then 1 at a time. */
CK_AVX2_INLINE void pool_row(const int R, const int S, const int SW, const int MAX, const int64_t PIX,
                             const ck_chanvec_geom *g, const float *x, float *yrow, int64_t h0, int64_t q, int64_t q_hi) {
    const int64_t xp = PIX ? PIX : g->x_pix, yp = PIX ? PIX : g->y_pix;
    const float *xr = x + h0 * g->x_row;
    for (; q + 8 <= q_hi; q += 8) pool_step(8, R, S, SW, MAX, xr + (q * SW - g->pl) * xp, g->x_row, xp, yrow + q * yp, yp);
    for (; q < q_hi; q++) pool_step(1, R, S, SW, MAX, xr + (q * SW - g->pl) * xp, g->x_row, xp, yrow + q * yp, yp);
}

#define POOL_ROW_SW(R, S, MAX, PIX)                                                                                  \
    (g->sw == 1 ? pool_row(R, S, 1, MAX, PIX, g, x, yrow, h0, q_lo, q_hi)                                            \
                : pool_row(R, S, 2, MAX, PIX, g, x, yrow, h0, q_lo, q_hi))
#define POOL_ROW_RS(MAX, PIX)                                                                                        \
    (g->R == 3 ? POOL_ROW_SW(3, 3, MAX, PIX) : POOL_ROW_SW(2, 2, MAX, PIX))

/* A row's interior columns (whole window inside the input, no clipping) when
 * the unrolled kernel covers the shape; returns 0 if not. */
CK_AVX2_INLINE int pool_row_fast(const ck_chanvec_geom *g, const float *x, float *yrow, int64_t h0, int64_t q_lo,
                                 int64_t q_hi, int is_max) {
    if (!(g->R == g->S && (g->R == 2 || g->R == 3) && g->dh == 1 && g->dw == 1 && (g->sw == 1 || g->sw == 2)))
        return 0;
    if (g->x_pix == 8 && g->y_pix == 8) {
        if (is_max) POOL_ROW_RS(1, 8);
        else POOL_ROW_RS(0, 8);
    } else {
        if (is_max) POOL_ROW_RS(1, 0);
        else POOL_ROW_RS(0, 0);
    }
    return 1;
}
#undef POOL_ROW_SW
#undef POOL_ROW_RS

/* Interior columns [q, q_hi) of a row for any other window (global pooling of a
 * 7x7 map among them): four independent accumulator chains. */
CK_AVX2_INLINE void pool_row_any(const int MAX, const ck_chanvec_geom *g, const float *x, float *yrow, int64_t h0,
                                 int64_t q, int64_t q_hi) {
    const __m256 init = MAX ? _mm256_set1_ps(-INFINITY) : _mm256_setzero_ps();
    const int64_t dx = g->dw * g->x_pix, dy = g->dh * g->x_row, S = g->S;
    if (g->x_pix == 8 && dx == 8 && dy == S * 8) {
        /* the window is R*S consecutive vectors (a whole NCHW8c plane for global pooling) */
        const int64_t n = g->R * S;
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (; q < q_hi; q++) {
            const float *xp = x + h0 * g->x_row + (q * g->sw - g->pl) * 8;
            __m256 a0 = init, a1 = init, a2 = init, a3 = init;
            /* A window that is not 32-byte aligned (a malloc'd buffer at 16 mod 32, say)
             * is summed as the aligned vectors A_0..A_n that cover it, so no load splits
             * a cache line: vector k is lanes o..7 of A_k and lanes 0..o-1 of A_k+1, so
             * the reduction is A_0[lanes >= o] + A_1 + ... + A_n-1 + A_n[lanes < o],
             * rotated by o lanes at the end.  The partial ends are masked loads (nothing
             * outside the window is read). */
            const int o = (int)(((uintptr_t)xp / sizeof(float)) & 7);
            const float *base = xp;
            int64_t m = n;
            if (o) {
                const __m256i hi = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(o - 1)), lo = _mm256_xor_si256(hi, _mm256_set1_epi32(-1));
                __m256 e0 = _mm256_maskload_ps(xp - o, hi), en = _mm256_maskload_ps(xp - o + 8 * n, lo);
                if (MAX) {
                    e0 = _mm256_blendv_ps(init, e0, _mm256_castsi256_ps(hi));
                    en = _mm256_blendv_ps(init, en, _mm256_castsi256_ps(lo));
                }
                a1 = e0;
                a2 = en;
                base = xp - o + 8;
                m = n - 1;
            }
            int64_t i = 0;
            for (; i + 8 <= m; i += 8) {
                a0 = pool_op(MAX, a0, pool_op(MAX, _mm256_loadu_ps(base + i * 8), _mm256_loadu_ps(base + i * 8 + 32)));
                a1 = pool_op(MAX, a1, pool_op(MAX, _mm256_loadu_ps(base + i * 8 + 8), _mm256_loadu_ps(base + i * 8 + 40)));
                a2 = pool_op(MAX, a2, pool_op(MAX, _mm256_loadu_ps(base + i * 8 + 16), _mm256_loadu_ps(base + i * 8 + 48)));
                a3 = pool_op(MAX, a3, pool_op(MAX, _mm256_loadu_ps(base + i * 8 + 24), _mm256_loadu_ps(base + i * 8 + 56)));
            }
            for (; i < m; i++) a0 = pool_op(MAX, a0, _mm256_loadu_ps(base + i * 8));
            __m256 acc = pool_op(MAX, pool_op(MAX, a0, a1), pool_op(MAX, a2, a3));
            if (o) acc = _mm256_permutevar8x32_ps(acc, _mm256_and_si256(_mm256_add_epi32(lane, _mm256_set1_epi32(o)), _mm256_set1_epi32(7)));
            if (!MAX) acc = _mm256_div_ps(acc, _mm256_set1_ps((float)n));
            _mm256_storeu_ps(yrow + q * g->y_pix, acc);
        }
        return;
    }
    for (; q < q_hi; q++) {
        const float *xp = x + h0 * g->x_row + (q * g->sw - g->pl) * g->x_pix;
        __m256 a0 = init, a1 = init, a2 = init, a3 = init;
        for (int64_t r = 0; r < g->R; r++, xp += dy) {
            int64_t s = 0;
            for (; s + 4 <= S; s += 4) {
                a0 = pool_op(MAX, a0, _mm256_loadu_ps(xp + s * dx));
                a1 = pool_op(MAX, a1, _mm256_loadu_ps(xp + (s + 1) * dx));
                a2 = pool_op(MAX, a2, _mm256_loadu_ps(xp + (s + 2) * dx));
                a3 = pool_op(MAX, a3, _mm256_loadu_ps(xp + (s + 3) * dx));
            }
            if (s < S) a0 = pool_op(MAX, a0, _mm256_loadu_ps(xp + s * dx));
            if (s + 1 < S) a1 = pool_op(MAX, a1, _mm256_loadu_ps(xp + (s + 1) * dx));
            if (s + 2 < S) a2 = pool_op(MAX, a2, _mm256_loadu_ps(xp + (s + 2) * dx));
        }
        __m256 acc = pool_op(MAX, pool_op(MAX, a0, a1), pool_op(MAX, a2, a3));
        /* division (not multiply by 1/n) matches the reference's rounding */
        if (!MAX) acc = _mm256_div_ps(acc, _mm256_set1_ps((float)(g->R * S)));
        _mm256_storeu_ps(yrow + q * g->y_pix, acc);
    }
}

CK_AVX2_INLINE void pool_body(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1, int is_max,
                              int cip, int64_t pb, int64_t pr, int full, __m256i m) {
    if (full && g->Q == 1 && g->W == g->S && g->pl == 0 && g->pt == 0 && g->x_pix == 8 && g->dw == 1 && g->dh == 1 &&
        g->x_row == g->S * 8 && p1 > p0 && (p1 - 1) * g->sh + g->R <= g->H) {
        /* every window is whole contiguous rows (global pooling over stacked NCHW8c
         * planes): no per-row setup */
        for (int64_t p = p0; p < p1; p++) {
            if (is_max) pool_row_any(1, g, x, y + p * g->y_row, p * g->sh, 0, 1);
            else pool_row_any(0, g, x, y + p * g->y_row, p * g->sh, 0, 1);
        }
        return;
    }
    /* interior columns: whole window inside [0, W) */
    int64_t q_lo = (g->pl + g->sw - 1) / g->sw;
    const int64_t last = g->W - 1 + g->pl - (g->S - 1) * g->dw;
    int64_t q_hi = last < 0 ? 0 : last / g->sw + 1;
    if (q_hi > g->Q) q_hi = g->Q;
    if (q_lo > q_hi || !full) q_lo = q_hi = 0;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t h0 = p * g->sh - g->pt;
        int64_t r0 = 0, r1 = g->R, pr0 = 0, pr1 = g->R;
        while (r0 < g->R && h0 + r0 * g->dh < 0) r0++;
        while (r1 > r0 && h0 + (r1 - 1) * g->dh >= g->H) r1--;
        while (pr0 < g->R && h0 + pr0 * g->dh < -g->pt) pr0++;
        while (pr1 > pr0 && h0 + (pr1 - 1) * g->dh >= g->H + pb) pr1--;
        float *yrow = y + p * g->y_row;
        /* interior columns of a row whose window rows are all inside: no clipping,
         * and the divisor is R*S under either rule */
        int64_t qa = q_lo, qb = q_hi;
        if (r0 != 0 || r1 != g->R) qa = qb = 0;
        else if (!pool_row_fast(g, x, yrow, h0, qa, qb, is_max)) {
            if (is_max) pool_row_any(1, g, x, yrow, h0, qa, qb);
            else pool_row_any(0, g, x, yrow, h0, qa, qb);
        }
        for (int64_t q = 0; q < g->Q; q++) {
            if (q == qa && qb > qa) { q = qb - 1; continue; }
            const int64_t w0 = q * g->sw - g->pl;
            int64_t s0 = 0, s1 = g->S, ps0 = 0, ps1 = g->S;
            while (s0 < g->S && w0 + s0 * g->dw < 0) s0++;
            while (s1 > s0 && w0 + (s1 - 1) * g->dw >= g->W) s1--;
            while (ps0 < g->S && w0 + ps0 * g->dw < -g->pl) ps0++;
            while (ps1 > ps0 && w0 + (ps1 - 1) * g->dw >= g->W + pr) ps1--;
            __m256 acc = is_max ? _mm256_set1_ps(-INFINITY) : _mm256_setzero_ps();
            for (int64_t r = r0; r < r1; r++) {
                const float *xr = x + (h0 + r * g->dh) * g->x_row + w0 * g->x_pix;
                for (int64_t s = s0; s < s1; s++) {
                    const __m256 v = ld(xr + s * g->dw * g->x_pix, full, m);
                    acc = is_max ? _mm256_max_ps(acc, v) : _mm256_add_ps(acc, v);
                }
            }
            const int64_t real = (r1 - r0) * (s1 - s0);
            if (real <= 0) acc = _mm256_setzero_ps();
            else if (!is_max) acc = _mm256_div_ps(acc, _mm256_set1_ps((float)(cip ? (pr1 - pr0) * (ps1 - ps0) : real)));
            st(y + p * g->y_row + q * g->y_pix, acc, full, m);
        }
    }
}

CK_AVX2 void ck_f32_pool_ukernel_8c__avx2(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1,
                                          int is_max, int count_include_pad, int64_t pb, int64_t pr) {
    if (g->nc == 8) pool_body(g, x, y, p0, p1, is_max, count_include_pad, pb, pr, 1, _mm256_setzero_si256());
    else pool_body(g, x, y, p0, p1, is_max, count_include_pad, pb, pr, 0, lane_mask(g->nc));
}
#endif
