/* Depthwise convolution backward (groups == C == K), vectorised across
 * channels: every pass works on 8-channel blocks, one vector of 8 lanes per
 * pixel ([pixel][8] planes, tail lanes zero).  NCHW tensors are converted to
 * NCHW8c in the workspace (ck_convert_layout, as the forward depthwise does);
 * NHWC blocks are packed per task into the thread's scratch.
 *
 * data (dx): stride 1: a gather (depthwise convolution of dy with the flipped
 *   taps) on a zero-bordered copy of the dy block, four output pixels per
 *   step; other strides: a scatter-add of w[r][s]*dy[p][q] into a zeroed
 *   padded dx block, then the valid window is copied out.
 * weights (dw, db): per (image, block) task, padded copy of the x block, then
 *   sum_{p,q} dy*x per tap (3x3: the nine accumulators in registers), float
 *   partial sums per output row added in double; per-task partials are summed
 *   over images in order, so the result does not depend on the thread count.
 * Threads: OpenMP over the N * ceil(C/8) (image, block) tasks, static split.
 * Kernels: dw_backward_kernels.h, portable and AVX2+FMA (run-time dispatch). */
#include "backward_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef struct dwb_geom {
    int64_t P, Q, R, S, sh, sw, dh, dw, ldb;
} dwb_geom;

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));

/* portable instantiation */
#define DWB_ATTR __attribute__((unused))
#define DWB_FN(name) name##_generic
#define DWB_LD(p) (*(const v8u *)(const void *)(p))
#define DWB_ST(p, v) (*(v8u *)(void *)(p) = (v))
#define DWB_FMA(a, b, c) ((a) * (b) + (c))
#define DWB_ZERO ((v8){0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f})
#include "dw_backward_kernels.h"
#undef DWB_ATTR
#undef DWB_FN
#undef DWB_FMA

#if defined(__x86_64__)
#define DWB_ATTR __attribute__((target("avx2,fma"), unused))
#define DWB_FN(name) name##_avx2
#define DWB_FMA(a, b, c) ((v8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#include "dw_backward_kernels.h"
#undef DWB_ATTR
#undef DWB_FN
#undef DWB_FMA
#endif

typedef struct dwb_ctx {
    const ck_conv2d_desc *d;
    int64_t P, Q, CB, HW, PQ;
    int64_t Hx, Wx;          /* padded x rows/cols the forward reads */
    int64_t mh, mw;          /* data: zero border of the dy copy, ceil((R-1)*dh/sh) and ceil((S-1)*dw/sw) */
    int64_t part_floats;     /* weights: per-task partials (doubles, counted as 2 floats) */
    int64_t thread_floats;   /* per-thread scratch */
} dwb_ctx;

static int64_t up16(int64_t v) { return (v + 15) / 16 * 16; }

static void dwb_ctx_init(dwb_ctx *c, const ck_conv2d_desc *d, int64_t P, int64_t Q) {
    memset(c, 0, sizeof *c);
    c->d = d;
    c->P = P;
    c->Q = Q;
    c->CB = (d->c + 7) / 8;
    c->HW = d->h * d->w;
    c->PQ = P * Q;
    c->Hx = (P - 1) * d->stride_h + (d->r - 1) * d->dilation_h + 1;
    c->Wx = (Q - 1) * d->stride_w + (d->s - 1) * d->dilation_w + 1;
    c->mh = ((d->r - 1) * d->dilation_h + d->stride_h - 1) / d->stride_h;
    c->mw = ((d->s - 1) * d->dilation_w + d->stride_w - 1) / d->stride_w;
    c->part_floats = up16(2 * d->n * c->CB * (d->r * d->s + 1) * 8);
    int64_t a = (c->Hx * c->Wx + c->HW) * 8;
    const int64_t b = ((P + 2 * c->mh) * (Q + 2 * c->mw) + c->HW) * 8;
    if (b > a) a = b;
    c->thread_floats = up16(c->PQ * 8) + up16(a);
}

static int dwb_threads(const ck_plan *pl, const dwb_ctx *c) {
    const ck_conv2d_desc *d = c->d;
    int64_t T = pl->threads;
    const int64_t tasks = d->n * c->CB;
    if (T > tasks) T = tasks;
    if ((double)d->n * (double)d->c * (double)c->PQ * (double)(d->r * d->s) < 32768.0) T = 1;
    return T < 1 ? 1 : (int)T;
}

int ck_dw_backward_size(const ck_plan *pl, int64_t *floats) {
    const ck_conv2d_desc *d = &pl->d.conv_bwd.conv;
    if (d->layout != CK_LAYOUT_NCHW && d->layout != CK_LAYOUT_NHWC) return 0;
    if (d->r > 16 || d->s > 16) return 0; /* the gather's tap lists */
    dwb_ctx c;
    dwb_ctx_init(&c, d, pl->out_h, pl->out_w);
    const double total = (double)c.part_floats + 2.0 /* room to align the double partials */ +
                         (double)pl->threads * (double)c.thread_floats;
    if (total * 4.0 > (double)pl->workspace_limit) return 0;
    *floats = (int64_t)total;
    return 1;
}

/* The caller's workspace is only float-aligned; the per-task partials are
 * doubles, so start them on an 8-byte boundary (the size has 2 floats spare). */
static float *dwb_align(float *ws) { return (uintptr_t)ws % 8 ? ws + 1 : ws; }

static int use_avx2(void) {
#if defined(__x86_64__)
    return ck_dispatch_isa() == CK_ISA_AVX2_FMA;
#else
    return 0;
#endif
}

/* Block packing, one run of npix pixels of channels [c0, c0 + nc):
 * pack:   dst[i*8 + j] = src[j*cs + i*ps] (tail lanes zero)
 * unpack: dst[j*cs + i*ps] = src[i*8 + j] (j < nc)
 * NHWC: cs = 1, ps = C; NCHW: cs = the plane size, ps = 1 (AVX2: 8x8
 * transposes). */
static void pack_generic(const float *src, int64_t cs, int64_t ps, int64_t npix, int nc, float *dst) {
    for (int64_t i = 0; i < npix; i++) {
        float *o = dst + i * 8;
        int j = 0;
        for (; j < nc; j++) o[j] = src[j * cs + i * ps];
        for (; j < 8; j++) o[j] = 0.f;
    }
}

static void unpack_generic(const float *src, int64_t npix, int nc, float *dst, int64_t cs, int64_t ps) {
    for (int64_t i = 0; i < npix; i++)
        for (int j = 0; j < nc; j++) dst[j * cs + i * ps] = src[i * 8 + j];
}

#if defined(__x86_64__)
#define DWB_AVX2_INLINE static inline __attribute__((target("avx2,fma"), always_inline))
DWB_AVX2_INLINE void transpose8(__m256 *r) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

__attribute__((target("avx2,fma"))) static void pack_avx2(const float *src, int64_t cs, int64_t ps, int64_t npix,
                                                           int nc, float *dst) {
    int64_t i = 0;
    if (ps == 1) {
        if (nc == 8)
            for (; i + 8 <= npix; i += 8) {
                __m256 r[8];
                for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(src + j * cs + i);
                transpose8(r);
                for (int k = 0; k < 8; k++) _mm256_storeu_ps(dst + (i + k) * 8, r[k]);
            }
        else
            for (; i + 8 <= npix; i += 8) {
                __m256 r[8];
                for (int j = 0; j < 8; j++) r[j] = j < nc ? _mm256_loadu_ps(src + j * cs + i) : _mm256_setzero_ps();
                transpose8(r);
                for (int k = 0; k < 8; k++) _mm256_storeu_ps(dst + (i + k) * 8, r[k]);
            }
    } else if (nc == 8) {
        for (; i < npix; i++) _mm256_storeu_ps(dst + i * 8, _mm256_loadu_ps(src + i * ps));
    }
    if (i < npix) pack_generic(src + i * ps, cs, ps, npix - i, nc, dst + i * 8);
}

__attribute__((target("avx2,fma"))) static void unpack_avx2(const float *src, int64_t npix, int nc, float *dst,
                                                             int64_t cs, int64_t ps) {
    int64_t i = 0;
    if (ps == 1) {
        for (; i + 8 <= npix; i += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(src + (i + k) * 8);
            transpose8(r);
            if (nc == 8)
                for (int j = 0; j < 8; j++) _mm256_storeu_ps(dst + j * cs + i, r[j]);
            else
                for (int j = 0; j < nc; j++) _mm256_storeu_ps(dst + j * cs + i, r[j]);
        }
    } else if (nc == 8) {
        for (; i < npix; i++) _mm256_storeu_ps(dst + i * ps, _mm256_loadu_ps(src + i * 8));
    }
    if (i < npix) unpack_generic(src + i * 8, npix - i, nc, dst + i * ps, cs, ps);
}
#endif

static void pack8(int avx2, const float *src, int64_t cs, int64_t ps, int64_t npix, int nc, float *dst) {
#if defined(__x86_64__)
    if (avx2) { pack_avx2(src, cs, ps, npix, nc, dst); return; }
#endif
    (void)avx2;
    pack_generic(src, cs, ps, npix, nc, dst);
}

static void unpack8(int avx2, const float *src, int64_t npix, int nc, float *dst, int64_t cs, int64_t ps) {
#if defined(__x86_64__)
    if (avx2) { unpack_avx2(src, npix, nc, dst, cs, ps); return; }
#endif
    (void)avx2;
    unpack_generic(src, npix, nc, dst, cs, ps);
}

/* Where block (n, cb) of a tensor with `pix` pixels per image lives: its
 * first element and the channel/pixel strides for pack8/unpack8. */
static void block_at(const ck_conv2d_desc *d, int64_t pix, int64_t n, int64_t c0, int64_t *off, int64_t *cs,
                     int64_t *ps) {
    if (d->layout == CK_LAYOUT_NCHW) {
        *off = (n * d->c + c0) * pix;
        *cs = pix;
        *ps = 1;
    } else {
        *off = n * pix * d->c + c0;
        *cs = 1;
        *ps = d->c;
    }
}

static ck_status dwb_data(const ck_plan *pl, const float *dy, const float *w, float *dx, float *ws) {
    const ck_conv2d_desc *d = &pl->d.conv_bwd.conv;
    dwb_ctx c;
    dwb_ctx_init(&c, d, pl->out_h, pl->out_w);
    const int64_t C = d->c, H = d->h, W = d->w, RS = d->r * d->s, CB = c.CB, PQ = c.PQ, HW = c.HW, Q = c.Q;
    float *wbuf = ws; /* weights [cb][rs][8] in the partials' space */
    float *scratch = ws + c.part_floats;
    if (CB * RS * 8 > c.part_floats) return ck_fail(CK_ERR_INTERNAL, "depthwise backward: workspace layout");
    for (int64_t cb = 0; cb < CB; cb++)
        for (int64_t rs = 0; rs < RS; rs++)
            for (int j = 0; j < 8; j++) {
                const int64_t ch = cb * 8 + j;
                wbuf[(cb * RS + rs) * 8 + j] = ch < C ? w[ch * RS + rs] : 0.f;
            }
    const int T = dwb_threads(pl, &c), avx2 = use_avx2();
    const int64_t tasks = d->n * CB;
    const dwb_geom g = {c.P, Q, d->r, d->s, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, 0};
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        float *dyt = scratch + (int64_t)t * c.thread_floats, *buf = dyt + up16(PQ * 8);
        for (int64_t task = tasks * t / T; task < tasks * (t + 1) / T; task++) {
            const int64_t n = task / CB, cb = task % CB, c0 = cb * 8;
            const int nc = (int)(C - c0 < 8 ? C - c0 : 8);
            const float *wb = wbuf + cb * RS * 8;
            int64_t yo, ycs, yps, xo, xcs, xps;
            block_at(d, PQ, n, c0, &yo, &ycs, &yps);
            block_at(d, HW, n, c0, &xo, &xcs, &xps);
            /* zero-bordered dy copy after the [H][W][8] output block; rows packed in
             * place when they are whole 8x8 transposes (or NHWC), else the whole
             * plane is packed first and its rows copied */
            const int64_t ldp = Q + 2 * c.mw;
            float *out = buf, *dyp = buf + HW * 8;
            memset(dyp, 0, (size_t)(c.mh * ldp * 8) * sizeof(float));
            memset(dyp + (c.mh + c.P) * ldp * 8, 0, (size_t)(c.mh * ldp * 8) * sizeof(float));
            const int by_row = yps != 1 || Q % 8 == 0;
            if (!by_row) pack8(avx2, dy + yo, ycs, yps, PQ, nc, dyt);
            for (int64_t p = 0; p < c.P; p++) {
                float *o = dyp + (p + c.mh) * ldp * 8;
                if (c.mw) {
                    memset(o, 0, (size_t)(c.mw * 8) * sizeof(float));
                    memset(o + (c.mw + Q) * 8, 0, (size_t)(c.mw * 8) * sizeof(float));
                }
                if (by_row) pack8(avx2, dy + yo + p * Q * yps, ycs, yps, Q, nc, o + c.mw * 8);
                else memcpy(o + c.mw * 8, dyt + p * Q * 8, (size_t)(Q * 8) * sizeof(float));
            }
            /* one dx row at a time (stays in L1 until unpacked) when rows are whole
             * 8x8 transposes or NHWC, else the whole plane then one unpack */
            const int out_rows = xps != 1 || W % 8 == 0;
            const int64_t step = out_rows ? 1 : H;
            for (int64_t ih = 0; ih < H; ih += step) {
                const int64_t u0 = d->pad_top + ih, u1 = u0 + step;
#if defined(__x86_64__)
                if (avx2)
                    dwb_data_gather_avx2(&g, dyp, c.mh, c.mw, ldp, wb, out, W, u0, u1, d->pad_left, d->pad_left + W);
                else
#endif
                    dwb_data_gather_generic(&g, dyp, c.mh, c.mw, ldp, wb, out, W, u0, u1, d->pad_left,
                                            d->pad_left + W);
                unpack8(avx2, out, step * W, nc, dx + xo + ih * W * xps, xcs, xps);
            }
        }
    }
    return CK_OK;
}

static ck_status dwb_weights(const ck_plan *pl, const float *x, const float *dy, float *dw, float *db, float *ws) {
    const ck_conv2d_desc *d = &pl->d.conv_bwd.conv;
    dwb_ctx c;
    dwb_ctx_init(&c, d, pl->out_h, pl->out_w);
    const int64_t N = d->n, C = d->c, H = d->h, W = d->w, RS = d->r * d->s, CB = c.CB, PQ = c.PQ, HW = c.HW;
    ws = dwb_align(ws);
    double *part = (double *)(void *)ws;
    float *scratch = ws + c.part_floats;
    const int T = dwb_threads(pl, &c), avx2 = use_avx2();
    const int64_t tasks = N * CB, pt = d->pad_top, pl_ = d->pad_left;
    const dwb_geom g = {c.P, c.Q, d->r, d->s, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, c.Wx};
    /* band rows: dy band + its x rows within ~96 KB */
    int64_t B = (24576 / 8 - (d->r - 1) * d->dilation_h * c.Wx) / (c.Q + d->stride_h * c.Wx);
    if (B < 1) B = 1;
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        float *dyt = scratch + (int64_t)t * c.thread_floats, *xp = dyt + up16(PQ * 8);
        for (int64_t task = tasks * t / T; task < tasks * (t + 1) / T; task++) {
            const int64_t n = task / CB, cb = task % CB, c0 = cb * 8;
            const int nc = (int)(C - c0 < 8 ? C - c0 : 8);
            int64_t yo, ycs, yps, xo, xcs, xps;
            block_at(d, PQ, n, c0, &yo, &ycs, &yps);
            block_at(d, HW, n, c0, &xo, &xcs, &xps);
            /* bands of B output rows: the band's dy rows and the padded x rows they
             * read are packed next to each other (cache-resident) before the
             * kernel runs on them; x rows that are not whole 8x8 transposes (NCHW,
             * W not a multiple of 8) are copied from the plane packed once */
            float *xs = xp + c.Hx * c.Wx * 8;
            int64_t v_lo = pl_, v_hi = pl_ + W;
            if (v_hi > c.Wx) v_hi = c.Wx;
            const int x_rows = xps != 1 || (v_hi - v_lo) % 8 == 0;
            if (!x_rows) pack8(avx2, x + xo, xcs, xps, HW, nc, xs);
            double *acc = part + task * (RS + 1) * 8, *bacc = acc + RS * 8;
            for (int64_t i = 0; i < (RS + 1) * 8; i++) acc[i] = 0.0;
            for (int64_t p0 = 0; p0 < c.P; p0 += B) {
                const int64_t p1 = p0 + B < c.P ? p0 + B : c.P;
                /* a band of dy is contiguous in both layouts */
                pack8(avx2, dy + yo + p0 * c.Q * yps, ycs, yps, (p1 - p0) * c.Q, nc, dyt);
                const int64_t ua = p0 * d->stride_h, ub = (p1 - 1) * d->stride_h + (d->r - 1) * d->dilation_h + 1;
                for (int64_t u = ua; u < ub; u++) {
                    float *row = xp + (u - ua) * c.Wx * 8;
                    const int64_t ih = u - pt;
                    if (ih < 0 || ih >= H || v_lo >= v_hi) {
                        memset(row, 0, (size_t)(c.Wx * 8) * sizeof(float));
                        continue;
                    }
                    if (v_lo > 0) memset(row, 0, (size_t)(v_lo * 8) * sizeof(float));
                    if (x_rows) pack8(avx2, x + xo + ih * W * xps, xcs, xps, v_hi - v_lo, nc, row + v_lo * 8);
                    else memcpy(row + v_lo * 8, xs + ih * W * 8, (size_t)((v_hi - v_lo) * 8) * sizeof(float));
                    if (v_hi < c.Wx) memset(row + v_hi * 8, 0, (size_t)((c.Wx - v_hi) * 8) * sizeof(float));
                }
                dwb_geom gb = g;
                gb.P = p1 - p0;
#if defined(__x86_64__)
                if (avx2) dwb_weights_plane_avx2(&gb, dyt, xp, acc, bacc);
                else
#endif
                    dwb_weights_plane_generic(&gb, dyt, xp, acc, bacc);
            }
        }
    }
    /* sum over images in order */
    for (int64_t ch = 0; ch < C; ch++) {
        const int64_t cb = ch / 8, j = ch % 8;
        for (int64_t rs = 0; rs <= RS; rs++) {
            if (rs == RS && !db) break;
            double s = 0.0;
            for (int64_t n = 0; n < N; n++) s += part[((n * CB + cb) * (RS + 1) + rs) * 8 + j];
            if (rs < RS) dw[ch * RS + rs] = (float)s;
            else db[ch] = (float)s;
        }
    }
    return CK_OK;
}

ck_status ck_dw_backward_data(const ck_plan *pl, const float *dy, const float *w, float *dx, float *ws) {
    return dwb_data(pl, dy, w, dx, ws);
}

ck_status ck_dw_backward_weights(const ck_plan *pl, const float *x, const float *dy, float *dw, float *db, float *ws) {
    return dwb_weights(pl, x, dy, dw, db, ws);
}
