/* NEON channel-vector kernels (aarch64): depthwise convolution and pooling on
 * one 8-channel block, held as two float32x4 halves.  Same structure as the
 * AVX2 kernels: interior output columns need no bounds checks and are done
 * four at a time, so each weight vector pair is loaded once per eight FMAs.
 * NEON has no masked loads: partial blocks (NHWC channel tails) go through a
 * zero-padded 8-float staging buffer, so nothing outside the tensor is read
 * or written.  NEON is baseline on aarch64: no target attribute is needed. */
#if defined(__aarch64__)
#include "chanvec_kernels.h"
#include <arm_neon.h>
#include <math.h>
#include <string.h>

typedef struct v8 {
    float32x4_t lo, hi;
} v8;

#define CK_NEON_INLINE static inline __attribute__((always_inline))

CK_NEON_INLINE v8 ld(const float *p, int full, int nc) {
    v8 r;
    if (full) {
        r.lo = vld1q_f32(p);
        r.hi = vld1q_f32(p + 4);
    } else {
        float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(t, p, (size_t)nc * sizeof(float));
        r.lo = vld1q_f32(t);
        r.hi = vld1q_f32(t + 4);
    }
    return r;
}

CK_NEON_INLINE void st(float *p, v8 v, int full, int nc) {
    if (full) {
        vst1q_f32(p, v.lo);
        vst1q_f32(p + 4, v.hi);
    } else {
        float t[8];
        vst1q_f32(t, v.lo);
        vst1q_f32(t + 4, v.hi);
        memcpy(p, t, (size_t)nc * sizeof(float));
    }
}

CK_NEON_INLINE v8 dup8(float f) {
    v8 r = {vdupq_n_f32(f), vdupq_n_f32(f)};
    return r;
}
CK_NEON_INLINE v8 fma8(v8 acc, v8 a, v8 b) {
    acc.lo = vfmaq_f32(acc.lo, a.lo, b.lo);
    acc.hi = vfmaq_f32(acc.hi, a.hi, b.hi);
    return acc;
}
CK_NEON_INLINE v8 add8(v8 a, v8 b) {
    a.lo = vaddq_f32(a.lo, b.lo);
    a.hi = vaddq_f32(a.hi, b.hi);
    return a;
}

CK_NEON_INLINE float32x4_t act4(float32x4_t v, ck_activation act) {
    const float32x4_t zero = vdupq_n_f32(0.f);
    switch (act.kind) {
    case CK_ACT_RELU: return vmaxnmq_f32(v, zero);
    case CK_ACT_RELU6: return vminnmq_f32(vmaxnmq_f32(v, zero), vdupq_n_f32(6.f));
    case CK_ACT_LEAKY_RELU:
        return vbslq_f32(vcgeq_f32(v, zero), v, vmulq_f32(v, vdupq_n_f32(act.alpha)));
    default: return v;
    }
}
CK_NEON_INLINE v8 act8(v8 v, ck_activation act) {
    v.lo = act4(v.lo, act);
    v.hi = act4(v.hi, act);
    return v;
}

CK_NEON_INLINE void dw_body(const ck_chanvec_geom *g, const float *x, const float *w, const float *b, const float *res,
                            float *y, int64_t p0, int64_t p1, ck_activation act, int full, int nc) {
    const v8 bias = b ? ld(b, 1, 8) : dup8(0.f);
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
            v8 acc = bias;
            for (int64_t r = r0; r < r1; r++) {
                const float *xr = x + (h0 + r * g->dh) * g->x_row;
                for (int64_t s = 0; s < S; s++) {
                    const int64_t iw = q * g->sw - g->pl + s * g->dw;
                    if (iw < 0 || iw >= g->W) continue;
                    acc = fma8(acc, ld(w + (r * S + s) * 8, 1, 8), ld(xr + iw * g->x_pix, full, nc));
                }
            }
            if (rrow) acc = add8(acc, ld(rrow + q * g->y_pix, full, nc));
            st(yrow + q * g->y_pix, act8(acc, act), full, nc);
        }
        /* interior columns, four at a time */
        int64_t q = q_lo;
        const int64_t xs = g->sw * g->x_pix, yp1 = g->y_pix;
        for (; q + 4 <= q_hi; q += 4) {
            v8 a0 = bias, a1 = bias, a2 = bias, a3 = bias;
            for (int64_t r = r0; r < r1; r++) {
                const float *xp = x + (h0 + r * g->dh) * g->x_row + (q * g->sw - g->pl) * g->x_pix;
                const float *wr = w + r * S * 8;
                for (int64_t s = 0; s < S; s++) {
                    const v8 wv = ld(wr + s * 8, 1, 8);
                    const float *xs0 = xp + s * g->dw * g->x_pix;
                    a0 = fma8(a0, wv, ld(xs0, full, nc));
                    a1 = fma8(a1, wv, ld(xs0 + xs, full, nc));
                    a2 = fma8(a2, wv, ld(xs0 + 2 * xs, full, nc));
                    a3 = fma8(a3, wv, ld(xs0 + 3 * xs, full, nc));
                }
            }
            float *yp = yrow + q * yp1;
            if (rrow) {
                const float *rp = rrow + q * yp1;
                a0 = add8(a0, ld(rp, full, nc));
                a1 = add8(a1, ld(rp + yp1, full, nc));
                a2 = add8(a2, ld(rp + 2 * yp1, full, nc));
                a3 = add8(a3, ld(rp + 3 * yp1, full, nc));
            }
            st(yp, act8(a0, act), full, nc);
            st(yp + yp1, act8(a1, act), full, nc);
            st(yp + 2 * yp1, act8(a2, act), full, nc);
            st(yp + 3 * yp1, act8(a3, act), full, nc);
        }
        for (; q < q_hi; q++) {
            v8 acc = bias;
            for (int64_t r = r0; r < r1; r++) {
                const float *xp = x + (h0 + r * g->dh) * g->x_row + (q * g->sw - g->pl) * g->x_pix;
                for (int64_t s = 0; s < S; s++)
                    acc = fma8(acc, ld(w + (r * S + s) * 8, 1, 8), ld(xp + s * g->dw * g->x_pix, full, nc));
            }
            if (rrow) acc = add8(acc, ld(rrow + q * yp1, full, nc));
            st(yrow + q * yp1, act8(acc, act), full, nc);
        }
    }
}

void ck_f32_dwconv_ukernel_8c__neon(const ck_chanvec_geom *g, const float *x, const float *w, const float *b,
                                    const float *res, float *y, int64_t p0, int64_t p1, ck_activation act) {
    if (!ck_chanvec_act_in_kernel(act)) act.kind = CK_ACT_NONE; /* caller applies sigmoid/tanh */
    if (g->nc == 8) dw_body(g, x, w, b, res, y, p0, p1, act, 1, 8);
    else dw_body(g, x, w, b, res, y, p0, p1, act, 0, g->nc);
}

CK_NEON_INLINE void pool_body(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1, int is_max,
                              int cip, int64_t pb, int64_t pr, int full, int nc) {
    for (int64_t p = p0; p < p1; p++) {
        const int64_t h0 = p * g->sh - g->pt;
        int64_t r0 = 0, r1 = g->R, pr0 = 0, pr1 = g->R;
        while (r0 < g->R && h0 + r0 * g->dh < 0) r0++;
        while (r1 > r0 && h0 + (r1 - 1) * g->dh >= g->H) r1--;
        while (pr0 < g->R && h0 + pr0 * g->dh < -g->pt) pr0++;
        while (pr1 > pr0 && h0 + (pr1 - 1) * g->dh >= g->H + pb) pr1--;
        for (int64_t q = 0; q < g->Q; q++) {
            const int64_t w0 = q * g->sw - g->pl;
            int64_t s0 = 0, s1 = g->S, ps0 = 0, ps1 = g->S;
            while (s0 < g->S && w0 + s0 * g->dw < 0) s0++;
            while (s1 > s0 && w0 + (s1 - 1) * g->dw >= g->W) s1--;
            while (ps0 < g->S && w0 + ps0 * g->dw < -g->pl) ps0++;
            while (ps1 > ps0 && w0 + (ps1 - 1) * g->dw >= g->W + pr) ps1--;
            v8 acc = dup8(is_max ? -INFINITY : 0.f);
            for (int64_t r = r0; r < r1; r++) {
                const float *xr = x + (h0 + r * g->dh) * g->x_row + w0 * g->x_pix;
                for (int64_t s = s0; s < s1; s++) {
                    const v8 v = ld(xr + s * g->dw * g->x_pix, full, nc);
                    if (is_max) {
                        acc.lo = vmaxnmq_f32(acc.lo, v.lo);
                        acc.hi = vmaxnmq_f32(acc.hi, v.hi);
                    } else {
                        acc = add8(acc, v);
                    }
                }
            }
            const int64_t real = (r1 - r0) * (s1 - s0);
            if (real <= 0) {
                acc = dup8(0.f);
            } else if (!is_max) {
                const float32x4_t dv = vdupq_n_f32((float)(cip ? (pr1 - pr0) * (ps1 - ps0) : real));
                acc.lo = vdivq_f32(acc.lo, dv);
                acc.hi = vdivq_f32(acc.hi, dv);
            }
            st(y + p * g->y_row + q * g->y_pix, acc, full, nc);
        }
    }
}

void ck_f32_pool_ukernel_8c__neon(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1,
                                  int is_max, int count_include_pad, int64_t pb, int64_t pr) {
    if (g->nc == 8) pool_body(g, x, y, p0, p1, is_max, count_include_pad, pb, pr, 1, 8);
    else pool_body(g, x, y, p0, p1, is_max, count_include_pad, pb, pr, 0, g->nc);
}
#else
typedef int ck_chanvec_ukernel_8c__neon_unused;
#endif
