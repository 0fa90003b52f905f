/* Depthwise convolution (groups == C): memory-bound, so it is vectorised
 * across channels — one 8-channel block of a pixel per vector — in the layouts
 * where channels are contiguous (NCHW8c natively, NHWC directly).  NCHW input
 * is converted to NCHW8c in the workspace and back (counted in the workspace
 * size).  Channel multiplier m = K/C > 1: output channel k reads input channel
 * k / m, so the input is first expanded into the workspace as a K-channel
 * tensor (x'[k] = x[k / m]; NHWC for NHWC input, else NCHW8c) and the same
 * multiplier-1 kernels run on it — one extra memory pass, the convolution
 * itself stays vectorised across output channels. */
#include "internal.h"
#include "steal.h"
#include "../kernels/chanvec_kernels.h"
#include <stdlib.h>
#include <string.h>

typedef struct dw_state {
    float *w;     /* [ceil(K/8)][R*S][8], zero tail */
    float *b;     /* [ceil(K/8)*8] or NULL */
    ck_dw_kernel_fn kernel;
    int64_t mult;
} dw_state;

static ck_status dw_applicable(const ck_conv2d_desc *d, const ck_plan_options *o) {
    (void)o;
    if (d->groups != d->c)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "depthwise: needs groups == C (got groups=%lld, C=%lld)",
                       (long long)d->groups, (long long)d->c);
    return CK_OK;
}

static ck_status dw_create(ck_plan *p, const float *w, const float *b) {
    const ck_conv2d_desc *d = &p->d.conv;
    dw_state *st = calloc(1, sizeof *st);
    if (!st) return ck_fail(CK_ERR_OUT_OF_MEMORY, "allocating depthwise state");
    p->algo_state = st;
    st->mult = d->k / d->c;
    const int64_t RS = d->r * d->s;
    /* weights [K][1][R][S] packed per 8 output channels (K == C when m == 1) */
    const int64_t kb = (d->k + 7) / 8;
    st->w = ck_malloc((size_t)(kb * RS * 8) * sizeof(float));
    if (!st->w) return ck_fail(CK_ERR_OUT_OF_MEMORY, "packing depthwise weights");
    memset(st->w, 0, (size_t)(kb * RS * 8) * sizeof(float));
    for (int64_t k = 0; k < d->k; k++)
        for (int64_t t = 0; t < RS; t++) st->w[((k / 8) * RS + t) * 8 + k % 8] = w[k * RS + t];
    if (b) {
        st->b = ck_malloc((size_t)(kb * 8) * sizeof(float));
        if (!st->b) return ck_fail(CK_ERR_OUT_OF_MEMORY, "packing depthwise bias");
        memset(st->b, 0, (size_t)(kb * 8) * sizeof(float));
        memcpy(st->b, b, (size_t)d->k * sizeof(float));
    }
#if defined(__x86_64__)
    if (ck_dispatch_isa() == CK_ISA_AVX2_FMA) {
        st->kernel = ck_f32_dwconv_ukernel_8c__avx2_fma;
        p->impl_name = st->mult > 1 ? "depthwise/expand+avx2_fma" : "depthwise/avx2_fma";
    } else
#endif
#if defined(__aarch64__)
    if (ck_dispatch_isa() == CK_ISA_NEON) {
        st->kernel = ck_f32_dwconv_ukernel_8c__neon;
        p->impl_name = st->mult > 1 ? "depthwise/expand+neon" : "depthwise/neon";
    } else
#endif
    {
        st->kernel = ck_f32_dwconv_ukernel_8c__scalar;
        p->impl_name = st->mult > 1 ? "depthwise/expand+scalar" : "depthwise/scalar";
    }
    /* workspace: the NCHW8c copy of an NCHW input, or the K-channel expansion
     * (m > 1); plus NCHW8c output and residual for NCHW tensors */
    int64_t xin = 0, yout = 0;
    if (d->layout == CK_LAYOUT_NCHW || st->mult > 1)
        CK_CHECK(ck_tensor_size(d->layout == CK_LAYOUT_NHWC ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW8C, d->n, d->k, d->h,
                                d->w, &xin));
    if (d->layout == CK_LAYOUT_NCHW) CK_CHECK(ck_tensor_size(CK_LAYOUT_NCHW8C, d->n, d->k, p->out_h, p->out_w, &yout));
    p->workspace_size = (size_t)(xin + yout * 2) * sizeof(float);
    return CK_OK;
}

static void dw_destroy(ck_plan *p) {
    dw_state *st = p->algo_state;
    if (!st) return;
    ck_free(st->w);
    ck_free(st->b);
    free(st);
    p->algo_state = NULL;
}

/* Channel multiplier m > 1: the K-channel expansion x'[n][k] = x[n][k / m]
 * (NHWC -> NHWC, NCHW or NCHW8c -> NCHW8c with a zero channel tail). */
static void dw_expand(const ck_plan *p, const float *x, float *xe) {
    const ck_conv2d_desc *d = &p->d.conv;
    const int64_t C = d->c, K = d->k, m = K / C, HW = d->h * d->w;
    const int nt = p->threads;
    (void)nt; /* unused without OpenMP */
    if (d->layout == CK_LAYOUT_NHWC) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t px = 0; px < d->n * HW; px++) {
            const float *src = x + px * C;
            float *dst = xe + px * K;
            for (int64_t k = 0; k < K; k++) dst[k] = src[k / m];
        }
        return;
    }
    const int64_t KB = (K + 7) / 8, CB = (C + 7) / 8;
    const int blocked = d->layout == CK_LAYOUT_NCHW8C;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t t = 0; t < d->n * KB; t++) {
        const int64_t n = t / KB, kb = t % KB;
        float *dst = xe + t * HW * 8;
        const float *src[8];
        int64_t step = blocked ? 8 : 1;
        for (int l = 0; l < 8; l++) {
            const int64_t k = kb * 8 + l, c = k / m;
            src[l] = k >= K ? NULL
                     : blocked ? x + ((n * CB + c / 8) * HW) * 8 + c % 8
                               : x + (n * C + c) * HW;
        }
        for (int64_t px = 0; px < HW; px++)
            for (int l = 0; l < 8; l++) dst[px * 8 + l] = src[l] ? src[l][px * step] : 0.f;
    }
}

/* The multiplier-1 convolution of a K-channel input (C == K, or the expansion). */
static void dw_run_blocked(const ck_plan *p, ck_layout layout, const float *x, float *y, const float *res) {
    const ck_conv2d_desc *d = &p->d.conv;
    const dw_state *st = p->algo_state;
    const int64_t C = d->k, H = d->h, W = d->w, P = p->out_h, Q = p->out_w;
    const int64_t cb = (C + 7) / 8, RS = d->r * d->s;
    const int nhwc = layout == CK_LAYOUT_NHWC;
    ck_chanvec_geom g0 = {.H = H, .W = W, .P = P, .Q = Q,
                          .x_pix = nhwc ? C : 8, .x_row = nhwc ? W * C : W * 8,
                          .y_pix = nhwc ? C : 8, .y_row = nhwc ? Q * C : Q * 8,
                          .R = d->r, .S = d->s, .sh = d->stride_h, .sw = d->stride_w, .pt = d->pad_top,
                          .pl = d->pad_left, .dh = d->dilation_h, .dw = d->dilation_w, .nc = 8};
    /* Enough row chunks that every thread has work even with few channel blocks;
     * tiny layers (a few microseconds) stay on the calling thread, where a parallel
     * region would cost more than it saves. */
    int64_t tasks = d->n * cb;
    const double macs = (double)tasks * 8.0 * (double)(P * Q) * (double)RS;
    const int nt = macs < 65536.0 ? 1 : p->threads;
    int64_t chunks = tasks >= 4 * nt ? 1 : (4 * nt + tasks - 1) / tasks;
    if (chunks > P) chunks = P;
    const int post_act = !ck_chanvec_act_in_kernel(d->activation);
    /* items (image x channel block, row chunk): each thread starts on an
     * equal consecutive share and then takes the items left in the others'
     * (work stealing, core/steal.h), so a core slowed by another tenant, or
     * a thread that woke late, does not hold up the call.  Clang, one
     * process alternating the two schedules, 2 threads, NCHW8c, 3x3, p25 of
     * 100 runs: C32 112x112 94 -> 72 us, C96 56x56 79 -> 64 us, C960 7x7
     * the same.  With 2^31 items or more the shares stay static. */
    const int64_t nitems = tasks * chunks;
    const int R = ck_steal_nranges(nt);
    const int steal = ck_steal_fits(nitems);
    ck_steal_range ranges[CK_STEAL_MAX_RANGES];
    if (steal) ck_steal_split(ranges, R, nitems);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int tid = 0, nth = 1, cur = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        nth = omp_get_num_threads();
#endif
        const int64_t hi = nitems * (tid + 1) / nth;
        for (int64_t item = nitems * tid / nth;; item++) {
            if (steal) {
                item = ck_steal_next(ranges, R, tid, &cur);
                if (item < 0) break;
            } else if (item >= hi) {
                break;
            }
            const int64_t t = item / chunks, ch = item % chunks;
            const int64_t n = t / cb, b = t % cb;
            const int64_t p0 = P * ch / chunks, p1 = P * (ch + 1) / chunks;
            ck_chanvec_geom g = g0;
            const float *xb;
            float *yb;
            const float *rb;
            if (nhwc) {
                g.nc = (int)(C - b * 8 < 8 ? C - b * 8 : 8);
                xb = x + n * H * W * C + b * 8;
                yb = y + n * P * Q * C + b * 8;
                rb = res ? res + n * P * Q * C + b * 8 : NULL;
            } else {
                /* blocked layout: compute all 8 lanes; tail weights, bias and inputs are 0, so
                 * the tail stays 0 (the post-pass below skips it: sigmoid(0) != 0) */
                g.nc = 8;
                xb = x + (n * cb + b) * H * W * 8;
                yb = y + (n * cb + b) * P * Q * 8;
                rb = res ? res + (n * cb + b) * P * Q * 8 : NULL;
            }
            st->kernel(&g, xb, st->w + b * RS * 8, st->b ? st->b + b * 8 : NULL, rb, yb, p0, p1, d->activation);
            const int valid = (int)(C - b * 8 < 8 ? C - b * 8 : 8);
            if (post_act)
                for (int64_t pp = p0; pp < p1; pp++)
                    for (int64_t q = 0; q < Q; q++)
                        for (int l = 0; l < valid; l++) {
                            float *v = yb + pp * g.y_row + q * g.y_pix + l;
                            *v = ck_activate(d->activation, *v);
                        }
        }
    }
}

static ck_status dw_execute(const ck_plan *p, const float *x, float *y, const float *res, void *ws) {
    const ck_conv2d_desc *d = &p->d.conv;
    const dw_state *st = p->algo_state;
    const ck_layout run = d->layout == CK_LAYOUT_NHWC ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW8C;
    int64_t xin = 0, yout;
    if (st->mult > 1 || d->layout == CK_LAYOUT_NCHW) CK_CHECK(ck_tensor_size(run, d->n, d->k, d->h, d->w, &xin));
    float *xb = ws;
    if (st->mult > 1) {
        dw_expand(p, x, xb);
        x = xb;
    }
    if (d->layout != CK_LAYOUT_NCHW) {
        dw_run_blocked(p, run, x, y, res);
        return CK_OK;
    }
    CK_CHECK(ck_tensor_size(CK_LAYOUT_NCHW8C, d->n, d->k, p->out_h, p->out_w, &yout));
    float *yb = xb + xin, *rb = yb + yout;
    if (st->mult == 1) CK_CHECK(ck_convert_layout(d->n, d->c, d->h, d->w, CK_LAYOUT_NCHW, x, CK_LAYOUT_NCHW8C, xb));
    if (res) CK_CHECK(ck_convert_layout(d->n, d->k, p->out_h, p->out_w, CK_LAYOUT_NCHW, res, CK_LAYOUT_NCHW8C, rb));
    dw_run_blocked(p, CK_LAYOUT_NCHW8C, xb, yb, res ? rb : NULL);
    return ck_convert_layout(d->n, d->k, p->out_h, p->out_w, CK_LAYOUT_NCHW8C, yb, CK_LAYOUT_NCHW, y);
}

const ck_conv_algo ck_conv_algo_depthwise = {CK_ALGO_DEPTHWISE, dw_applicable, dw_create, dw_execute, dw_destroy};
