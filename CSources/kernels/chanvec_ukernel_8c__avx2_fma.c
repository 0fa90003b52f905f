/* AVX2+FMA channel-vector kernels: depthwise convolution and pooling on one
 * 8-channel block.  One ymm holds the 8 channels of a pixel, so the filter tap
 * is a plain vector (no broadcasts) and interior pixels need no bounds checks;
 * four output pixels are computed together so each weight vector is loaded
 * once per four FMAs.  Partial blocks (NHWC channel tails) use masked loads
 * and stores so nothing outside the tensor is touched. */
#if defined(__x86_64__)
#include "chanvec_kernels.h"
#include <immintrin.h>
#include <math.h>

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
        if (R == 3 && S == 3 && r0 == 0 && r1 == 3 && full) {
            /* 3x3 (MobileNet's case): all nine taps held in registers, loops unrolled */
            const __m256 w00 = _mm256_loadu_ps(w), w01 = _mm256_loadu_ps(w + 8), w02 = _mm256_loadu_ps(w + 16);
            const __m256 w10 = _mm256_loadu_ps(w + 24), w11 = _mm256_loadu_ps(w + 32), w12 = _mm256_loadu_ps(w + 40);
            const __m256 w20 = _mm256_loadu_ps(w + 48), w21 = _mm256_loadu_ps(w + 56), w22 = _mm256_loadu_ps(w + 64);
            const int64_t dx = g->dw * g->x_pix, dy = g->dh * g->x_row;
            for (; q + 2 <= q_hi; q += 2) {
                const float *x0 = x + h0 * g->x_row + (q * g->sw - g->pl) * g->x_pix;
                const float *x1 = x0 + xs;
                __m256 a0 = _mm256_fmadd_ps(w00, _mm256_loadu_ps(x0), bias);
                __m256 a1 = _mm256_fmadd_ps(w00, _mm256_loadu_ps(x1), bias);
                a0 = _mm256_fmadd_ps(w01, _mm256_loadu_ps(x0 + dx), a0);
                a1 = _mm256_fmadd_ps(w01, _mm256_loadu_ps(x1 + dx), a1);
                a0 = _mm256_fmadd_ps(w02, _mm256_loadu_ps(x0 + 2 * dx), a0);
                a1 = _mm256_fmadd_ps(w02, _mm256_loadu_ps(x1 + 2 * dx), a1);
                a0 = _mm256_fmadd_ps(w10, _mm256_loadu_ps(x0 + dy), a0);
                a1 = _mm256_fmadd_ps(w10, _mm256_loadu_ps(x1 + dy), a1);
                a0 = _mm256_fmadd_ps(w11, _mm256_loadu_ps(x0 + dy + dx), a0);
                a1 = _mm256_fmadd_ps(w11, _mm256_loadu_ps(x1 + dy + dx), a1);
                a0 = _mm256_fmadd_ps(w12, _mm256_loadu_ps(x0 + dy + 2 * dx), a0);
                a1 = _mm256_fmadd_ps(w12, _mm256_loadu_ps(x1 + dy + 2 * dx), a1);
                a0 = _mm256_fmadd_ps(w20, _mm256_loadu_ps(x0 + 2 * dy), a0);
                a1 = _mm256_fmadd_ps(w20, _mm256_loadu_ps(x1 + 2 * dy), a1);
                a0 = _mm256_fmadd_ps(w21, _mm256_loadu_ps(x0 + 2 * dy + dx), a0);
                a1 = _mm256_fmadd_ps(w21, _mm256_loadu_ps(x1 + 2 * dy + dx), a1);
                a0 = _mm256_fmadd_ps(w22, _mm256_loadu_ps(x0 + 2 * dy + 2 * dx), a0);
                a1 = _mm256_fmadd_ps(w22, _mm256_loadu_ps(x1 + 2 * dy + 2 * dx), a1);
                float *yp = yrow + q * g->y_pix;
                if (rrow) {
                    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(rrow + q * g->y_pix));
                    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(rrow + (q + 1) * g->y_pix));
                }
                _mm256_storeu_ps(yp, act_vec(a0, act));
                _mm256_storeu_ps(yp + g->y_pix, act_vec(a1, act));
            }
        }
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

CK_AVX2_INLINE void pool_body(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1, int is_max,
                              int cip, int64_t pb, int64_t pr, int full, __m256i m) {
    for (int64_t p = p0; p < p1; p++) {
        const int64_t h0 = p * g->sh - g->pt;
        int64_t r0 = 0, r1 = g->R, pr0 = 0, pr1 = g->R;
        while (r0 < g->R && h0 + r0 * g->dh < 0) r0++;
        while (r1 > r0 && h0 + (r1 - 1) * g->dh >= g->H) r1--;
        while (pr0 < g->R && h0 + pr0 * g->dh < -g->pt) pr0++;
        while (pr1 > pr0 && h0 + (pr1 - 1) * g->dh >= g->H + pb) pr1--;
        /* interior columns (whole window inside the input): no clipping, and the
         * divisor is R*S either way; the 2x2 and 3x3 windows are unrolled */
        int64_t q_lo = (g->pl + g->sw - 1) / g->sw;
        const int64_t last = g->W - 1 + g->pl - (g->S - 1) * g->dw;
        int64_t q_hi = last < 0 ? 0 : last / g->sw + 1;
        if (q_hi > g->Q) q_hi = g->Q;
        if (q_lo > q_hi || r0 != 0 || r1 != g->R || !full || (g->S != 2 && g->S != 3) || g->R > 3) q_lo = q_hi = 0;
        for (int64_t q = q_lo; q < q_hi; q++) {
            const float *xp = x + h0 * g->x_row + (q * g->sw - g->pl) * g->x_pix;
            const int64_t dx = g->dw * g->x_pix;
            __m256 acc = _mm256_loadu_ps(xp);
            for (int64_t r = 0; r < g->R; r++) {
                const float *xr = xp + r * g->dh * g->x_row;
                const __m256 v0 = r ? _mm256_loadu_ps(xr) : acc, v1 = _mm256_loadu_ps(xr + dx);
                if (is_max) {
                    acc = r ? _mm256_max_ps(acc, _mm256_max_ps(v0, v1)) : _mm256_max_ps(v0, v1);
                    if (g->S == 3) acc = _mm256_max_ps(acc, _mm256_loadu_ps(xr + 2 * dx));
                } else {
                    acc = r ? _mm256_add_ps(acc, _mm256_add_ps(v0, v1)) : _mm256_add_ps(v0, v1);
                    if (g->S == 3) acc = _mm256_add_ps(acc, _mm256_loadu_ps(xr + 2 * dx));
                }
            }
            /* the window holds R*S real elements: both divisor rules agree when it is
             * fully inside the input, but division (not multiply by 1/n) matches the
             * reference's rounding */
            if (!is_max) acc = _mm256_div_ps(acc, _mm256_set1_ps((float)(g->R * g->S)));
            _mm256_storeu_ps(y + p * g->y_row + q * g->y_pix, acc);
        }
        for (int64_t q = 0; q < g->Q; q++) {
            if (q == q_lo && q_hi > q_lo) { q = q_hi - 1; continue; }
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
