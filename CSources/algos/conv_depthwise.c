/* Depthwise convolution (groups == C): memory-bound, so it is vectorised
 * across channels — one 8-channel block of a pixel per vector — in the layouts
 * where channels are contiguous (NCHW8c natively, NHWC directly).  NCHW input
 * is converted to NCHW8c in the workspace and back (counted in the workspace
 * size).  Channel multiplier m = K/C > 1 is served by a plain loop (correct,
 * not tuned: MobileNets use m = 1). */
#include "internal.h"
#include "../kernels/chanvec_kernels.h"
#include <stdlib.h>
#include <string.h>

typedef struct dw_state {
    float *w;     /* [ceil(C/8)][R*S][8], zero tail */
    float *b;     /* [ceil(C/8)*8] or NULL */
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
    if (st->mult > 1) {
        p->impl_name = "depthwise/multiplier-loop";
        return ck_copy_weights(p, w, d->k * RS, b, d->k);
    }
    const int64_t cb = (d->c + 7) / 8;
    st->w = ck_malloc((size_t)(cb * RS * 8) * sizeof(float));
    if (!st->w) return ck_fail(CK_ERR_OUT_OF_MEMORY, "packing depthwise weights");
    memset(st->w, 0, (size_t)(cb * RS * 8) * sizeof(float));
    for (int64_t c = 0; c < d->c; c++)
        for (int64_t t = 0; t < RS; t++) st->w[((c / 8) * RS + t) * 8 + c % 8] = w[c * RS + t];
    if (b) {
        st->b = ck_malloc((size_t)(cb * 8) * sizeof(float));
        if (!st->b) return ck_fail(CK_ERR_OUT_OF_MEMORY, "packing depthwise bias");
        memset(st->b, 0, (size_t)(cb * 8) * sizeof(float));
        memcpy(st->b, b, (size_t)d->c * sizeof(float));
    }
#if defined(__x86_64__)
    if (ck_dispatch_isa() == CK_ISA_AVX2_FMA) {
        st->kernel = ck_f32_dwconv_ukernel_8c__avx2_fma;
        p->impl_name = "depthwise/avx2_fma";
    } else
#endif
#if defined(__aarch64__)
    if (ck_dispatch_isa() == CK_ISA_NEON) {
        st->kernel = ck_f32_dwconv_ukernel_8c__neon;
        p->impl_name = "depthwise/neon";
    } else
#endif
    {
        st->kernel = ck_f32_dwconv_ukernel_8c__scalar;
        p->impl_name = "depthwise/scalar";
    }
    if (d->layout == CK_LAYOUT_NCHW) {
        /* NCHW in/out are staged through NCHW8c copies in the workspace */
        int64_t xin, yout;
        CK_CHECK(ck_tensor_size(CK_LAYOUT_NCHW8C, d->n, d->c, d->h, d->w, &xin));
        CK_CHECK(ck_tensor_size(CK_LAYOUT_NCHW8C, d->n, d->k, p->out_h, p->out_w, &yout));
        p->workspace_size = (size_t)(xin + yout * 2) * sizeof(float);
    }
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

/* Channel multiplier > 1: straightforward loop (float accumulation). */
static void dw_mult_loop(const ck_plan *p, const float *x, float *y, const float *res) {
    const ck_conv2d_desc *d = &p->d.conv;
    const int64_t P = p->out_h, Q = p->out_w, m = d->k / d->c;
    const int nt = p->threads;
#pragma omp parallel for collapse(2) num_threads(nt) schedule(static)
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t k = 0; k < d->k; k++) {
            const int64_t c = k / m;
            const float *wk = p->weights + k * d->r * d->s;
            for (int64_t oh = 0; oh < P; oh++)
                for (int64_t ow = 0; ow < Q; ow++) {
                    float acc = p->bias ? p->bias[k] : 0.f;
                    for (int64_t r = 0; r < d->r; r++) {
                        const int64_t ih = oh * d->stride_h - d->pad_top + r * d->dilation_h;
                        if (ih < 0 || ih >= d->h) continue;
                        for (int64_t s = 0; s < d->s; s++) {
                            const int64_t iw = ow * d->stride_w - d->pad_left + s * d->dilation_w;
                            if (iw < 0 || iw >= d->w) continue;
                            acc += wk[r * d->s + s] * x[ck_offset(d->layout, d->c, d->h, d->w, n, c, ih, iw)];
                        }
                    }
                    const int64_t o = ck_offset(d->layout, d->k, P, Q, n, k, oh, ow);
                    if (res) acc += res[o];
                    y[o] = ck_activate(d->activation, acc);
                }
        }
    if (d->layout == CK_LAYOUT_NCHW8C && d->k % 8) /* the blocked layout's channel tail stays zero */
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = d->k; k < (d->k + 7) / 8 * 8; k++)
                for (int64_t oh = 0; oh < P; oh++)
                    for (int64_t ow = 0; ow < Q; ow++) y[ck_offset(d->layout, d->k, P, Q, n, k, oh, ow)] = 0.f;
}

static void dw_run_blocked(const ck_plan *p, ck_layout layout, const float *x, float *y, const float *res) {
    const ck_conv2d_desc *d = &p->d.conv;
    const dw_state *st = p->algo_state;
    const int64_t C = d->c, H = d->h, W = d->w, P = p->out_h, Q = p->out_w;
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
#pragma omp parallel for collapse(2) num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t t = 0; t < tasks; t++)
        for (int64_t ch = 0; ch < chunks; ch++) {
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

static ck_status dw_execute(const ck_plan *p, const float *x, float *y, const float *res, void *ws) {
    const ck_conv2d_desc *d = &p->d.conv;
    const dw_state *st = p->algo_state;
    if (st->mult > 1) {
        dw_mult_loop(p, x, y, res);
        return CK_OK;
    }
    if (d->layout != CK_LAYOUT_NCHW) {
        dw_run_blocked(p, d->layout, x, y, res);
        return CK_OK;
    }
    int64_t xin, yout;
    CK_CHECK(ck_tensor_size(CK_LAYOUT_NCHW8C, d->n, d->c, d->h, d->w, &xin));
    CK_CHECK(ck_tensor_size(CK_LAYOUT_NCHW8C, d->n, d->k, p->out_h, p->out_w, &yout));
    float *xb = ws, *yb = xb + xin, *rb = yb + yout;
    CK_CHECK(ck_convert_layout(d->n, d->c, d->h, d->w, CK_LAYOUT_NCHW, x, CK_LAYOUT_NCHW8C, xb));
    if (res) CK_CHECK(ck_convert_layout(d->n, d->k, p->out_h, p->out_w, CK_LAYOUT_NCHW, res, CK_LAYOUT_NCHW8C, rb));
    dw_run_blocked(p, CK_LAYOUT_NCHW8C, xb, yb, res ? rb : NULL);
    return ck_convert_layout(d->n, d->k, p->out_h, p->out_w, CK_LAYOUT_NCHW8C, yb, CK_LAYOUT_NCHW, y);
}

const ck_conv_algo ck_conv_algo_depthwise = {CK_ALGO_DEPTHWISE, dw_applicable, dw_create, dw_execute, dw_destroy};
