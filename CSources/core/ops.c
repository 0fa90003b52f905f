/* Plans for transposed convolution, pooling and dense layers, and the
 * element-wise / normalisation ops (validated per call: they carry no
 * shape-dependent state worth planning). */
#include "internal.h"
#include "../kernels/eltwise_kernels.h"
#include "../kernels/chanvec_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(CK_HAVE_OPENBLAS)
#include <cblas.h>
#endif

/* ---- transposed convolution ------------------------------------------ */

static ck_status ck_deconv_validate(const ck_conv_transpose2d_desc *d, int64_t *P, int64_t *Q) {
    CK_CHECK_PTR(d, "desc");
    CK_CHECK(ck_check_shape4("input", d->n, d->c, d->h, d->w));
    if (d->k < 1) return ck_fail(CK_ERR_INVALID_SHAPE, "output channels K=%lld must be >= 1", (long long)d->k);
    if (d->r < 1 || d->s < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "kernel size %lldx%lld: both must be >= 1", (long long)d->r, (long long)d->s);
    if (d->stride_h < 1 || d->stride_w < 1) return ck_fail(CK_ERR_INVALID_STRIDE, "stride must be >= 1");
    if (d->dilation_h < 1 || d->dilation_w < 1) return ck_fail(CK_ERR_INVALID_DILATION, "dilation must be >= 1");
    if (d->pad_top < 0 || d->pad_left < 0 || d->pad_bottom < 0 || d->pad_right < 0)
        return ck_fail(CK_ERR_INVALID_PADDING, "padding must be >= 0");
    if (d->output_padding_h < 0 || d->output_padding_w < 0 ||
        (d->output_padding_h >= d->stride_h && d->output_padding_h >= d->dilation_h) ||
        (d->output_padding_w >= d->stride_w && d->output_padding_w >= d->dilation_w))
        return ck_fail(CK_ERR_INVALID_PADDING,
                       "output padding %lldx%lld must be >= 0 and smaller than the stride or the dilation",
                       (long long)d->output_padding_h, (long long)d->output_padding_w);
    if (d->groups < 1 || d->c % d->groups || d->k % d->groups)
        return ck_fail(CK_ERR_INVALID_GROUPS, "channels C=%lld and K=%lld must be divisible by groups=%lld",
                       (long long)d->c, (long long)d->k, (long long)d->groups);
    CK_CHECK(ck_check_layout(d->layout, true));
    CK_CHECK(ck_check_activation(d->activation));
    if (d->h > CK_MAX_ELEMENTS || d->w > CK_MAX_ELEMENTS || d->stride_h > CK_MAX_ELEMENTS ||
        d->stride_w > CK_MAX_ELEMENTS || d->r > CK_MAX_ELEMENTS || d->s > CK_MAX_ELEMENTS ||
        d->dilation_h > CK_MAX_ELEMENTS || d->dilation_w > CK_MAX_ELEMENTS || d->pad_top > CK_MAX_ELEMENTS ||
        d->pad_bottom > CK_MAX_ELEMENTS || d->pad_left > CK_MAX_ELEMENTS || d->pad_right > CK_MAX_ELEMENTS)
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "transposed convolution parameters exceed the size limit");
    /* All terms are <= 2^40 so the products below fit in int64 (checked by ck_mul_checked). */
    int64_t a, b;
    CK_CHECK(ck_mul_checked(d->h - 1, d->stride_h, &a, "output height"));
    CK_CHECK(ck_mul_checked(d->dilation_h, d->r - 1, &b, "output height"));
    int64_t p = a - d->pad_top - d->pad_bottom + b + d->output_padding_h + 1;
    CK_CHECK(ck_mul_checked(d->w - 1, d->stride_w, &a, "output width"));
    CK_CHECK(ck_mul_checked(d->dilation_w, d->s - 1, &b, "output width"));
    int64_t q = a - d->pad_left - d->pad_right + b + d->output_padding_w + 1;
    if (p < 1 || q < 1)
        return ck_fail(CK_ERR_EMPTY_OUTPUT, "transposed convolution output %lldx%lld is empty (padding too large)",
                       (long long)p, (long long)q);
    int64_t t;
    CK_CHECK(ck_count4(d->n, d->k, p, q, &t, "output size"));
    CK_CHECK(ck_count4(d->c, d->k / d->groups, d->r, d->s, &t, "weight size"));
    if (P) *P = p;
    if (Q) *Q = q;
    return CK_OK;
}

ck_status ck_conv_transpose2d_output_shape(const ck_conv_transpose2d_desc *d, int64_t *p, int64_t *q) {
    ck_clear_error();
    CK_CHECK_PTR(p, "p");
    CK_CHECK_PTR(q, "q");
    return ck_deconv_validate(d, p, q);
}

ck_status ck_conv_transpose2d_plan_create(const ck_conv_transpose2d_desc *d, const float *w, const float *b,
                                          const ck_plan_options *options, ck_plan **out) {
    ck_clear_error();
    CK_CHECK_PTR(out, "plan");
    *out = NULL;
    ck_plan_options o;
    CK_CHECK(ck_plan_options_resolve(options, &o));
    int64_t P, Q;
    CK_CHECK(ck_deconv_validate(d, &P, &Q));
    CK_CHECK_PTR(w, "weights");
    if (d->has_bias) CK_CHECK_PTR(b, "bias (has_bias is set)");
    if (o.algorithm != CK_ALGO_AUTO && o.algorithm != CK_ALGO_REFERENCE)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "transposed convolution supports algorithms auto and reference, not '%s'",
                       ck_algorithm_name(o.algorithm));
    ck_plan *p = calloc(1, sizeof *p);
    if (!p) return ck_fail(CK_ERR_OUT_OF_MEMORY, "allocating a plan");
    ck_plan_init_common(p, CK_OP_CONV_TRANSPOSE2D, &o);
    p->algorithm = CK_ALGO_REFERENCE;
    p->d.deconv = *d;
    p->out_h = P;
    p->out_w = Q;
    ck_status st = ck_copy_weights(p, w, d->c * (d->k / d->groups) * d->r * d->s, d->has_bias ? b : NULL, d->k);
    if (st != CK_OK) { ck_plan_destroy(p); return st; }
    *out = p;
    return CK_OK;
}

ck_status ck_conv_transpose2d_execute(const ck_plan *p, const float *x, float *y, void *ws, size_t ws_bytes) {
    ck_clear_error();
    CK_CHECK_PTR(p, "plan");
    if (p->op != CK_OP_CONV_TRANSPOSE2D) return ck_fail(CK_ERR_INVALID_ARGUMENT, "plan is not a conv_transpose2d plan");
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    (void)ws; (void)ws_bytes;
    ck_ref_conv_transpose2d(&p->d.deconv, p->out_h, p->out_w, x, p->weights, p->bias, y);
    return CK_OK;
}

/* ---- pooling ---------------------------------------------------------- */

static ck_status ck_pool_validate(const ck_pool2d_desc *d, int64_t *P, int64_t *Q) {
    CK_CHECK_PTR(d, "desc");
    if (d->kind != CK_POOL_MAX && d->kind != CK_POOL_AVG)
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "unknown pooling kind %d", (int)d->kind);
    CK_CHECK(ck_check_shape4("input", d->n, d->c, d->h, d->w));
    if (d->r < 1 || d->s < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "pooling window %lldx%lld: both must be >= 1", (long long)d->r, (long long)d->s);
    if (d->stride_h < 1 || d->stride_w < 1) return ck_fail(CK_ERR_INVALID_STRIDE, "stride must be >= 1");
    if (d->dilation_h < 1 || d->dilation_w < 1) return ck_fail(CK_ERR_INVALID_DILATION, "dilation must be >= 1");
    CK_CHECK(ck_check_layout(d->layout, true));
    int64_t eh, ew;
    if (__builtin_mul_overflow(d->dilation_h, d->r - 1, &eh) || __builtin_mul_overflow(d->dilation_w, d->s - 1, &ew))
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "pooling window extent overflows");
    if (d->pad_top < 0 || d->pad_left < 0 || d->pad_bottom < 0 || d->pad_right < 0 || d->pad_top > eh ||
        d->pad_bottom > eh || d->pad_left > ew || d->pad_right > ew)
        return ck_fail(CK_ERR_INVALID_PADDING,
                       "pooling padding (top %lld, left %lld, bottom %lld, right %lld) must be >= 0 and smaller than the window %llux%llu",
                       (long long)d->pad_top, (long long)d->pad_left, (long long)d->pad_bottom, (long long)d->pad_right,
                       (unsigned long long)eh + 1u, (unsigned long long)ew + 1u);
    int64_t p, q;
    CK_CHECK(ck_out_size(d->h, d->r, 1, d->pad_top, d->pad_bottom, d->dilation_h, "height", &p));
    CK_CHECK(ck_out_size(d->w, d->s, 1, d->pad_left, d->pad_right, d->dilation_w, "width", &q));
    /* p-1, q-1 are now the numerators; divide with floor or ceil. */
    int64_t nh = p - 1, nw = q - 1;
    if (d->ceil_mode) {
        /* ceil(n / s) without forming n + s - 1 (overflows for huge strides) */
        int64_t ph = nh / d->stride_h + (nh % d->stride_h != 0), qw = nw / d->stride_w + (nw % d->stride_w != 0), st;
        p = ph + 1;
        q = qw + 1;
        /* the last window must start inside the input or the top/left padding
         * (h + pad_top and w + pad_left cannot overflow: ck_out_size checked them) */
        if (__builtin_mul_overflow(ph, d->stride_h, &st) || st >= d->h + d->pad_top) p--;
        if (__builtin_mul_overflow(qw, d->stride_w, &st) || st >= d->w + d->pad_left) q--;
    } else {
        p = nh / d->stride_h + 1;
        q = nw / d->stride_w + 1;
    }
    int64_t t;
    CK_CHECK(ck_count4(d->n, d->c, p, q, &t, "output size"));
    if (P) *P = p;
    if (Q) *Q = q;
    return CK_OK;
}

ck_status ck_pool2d_output_shape(const ck_pool2d_desc *d, int64_t *p, int64_t *q) {
    ck_clear_error();
    CK_CHECK_PTR(p, "p");
    CK_CHECK_PTR(q, "q");
    return ck_pool_validate(d, p, q);
}

ck_status ck_pool2d_plan_create(const ck_pool2d_desc *d, const ck_plan_options *options, ck_plan **out) {
    ck_clear_error();
    CK_CHECK_PTR(out, "plan");
    *out = NULL;
    ck_plan_options o;
    CK_CHECK(ck_plan_options_resolve(options, &o));
    int64_t P, Q;
    CK_CHECK(ck_pool_validate(d, &P, &Q));
    if (o.algorithm != CK_ALGO_AUTO && o.algorithm != CK_ALGO_REFERENCE)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "pooling supports algorithms auto and reference, not '%s'",
                       ck_algorithm_name(o.algorithm));
    ck_plan *p = calloc(1, sizeof *p);
    if (!p) return ck_fail(CK_ERR_OUT_OF_MEMORY, "allocating a plan");
    ck_plan_init_common(p, CK_OP_POOL2D, &o);
    p->algorithm = o.algorithm == CK_ALGO_REFERENCE ? CK_ALGO_REFERENCE : CK_ALGO_AUTO;
    p->impl_name = "reference";
    if (p->algorithm == CK_ALGO_AUTO) {
#if defined(__x86_64__)
        p->impl_name = ck_dispatch_isa() == CK_ISA_AVX2_FMA ? "pool/avx2" : "pool/scalar";
#elif defined(__aarch64__)
        p->impl_name = ck_dispatch_isa() == CK_ISA_NEON ? "pool/neon" : "pool/scalar";
#else
        p->impl_name = "pool/scalar";
#endif
    }
    p->d.pool = *d;
    p->out_h = P;
    p->out_w = Q;
    *out = p;
    return CK_OK;
}

/* Fast pooling: channel-vector kernels over 8-channel blocks (NHWC, NCHW8c),
 * or one channel at a time for NCHW; OpenMP over images x blocks x row chunks. */
static void ck_pool_fast(const ck_plan *pl, const float *x, float *y) {
    const ck_pool2d_desc *d = &pl->d.pool;
    const int64_t C = d->c, H = d->h, W = d->w, P = pl->out_h, Q = pl->out_w;
    ck_pool_kernel_fn kern = ck_f32_pool_ukernel_8c__scalar;
#if defined(__x86_64__)
    if (ck_dispatch_isa() == CK_ISA_AVX2_FMA) kern = ck_f32_pool_ukernel_8c__avx2;
#endif
#if defined(__aarch64__)
    if (ck_dispatch_isa() == CK_ISA_NEON) kern = ck_f32_pool_ukernel_8c__neon;
#endif
    const int nchw = d->layout == CK_LAYOUT_NCHW, nhwc = d->layout == CK_LAYOUT_NHWC;
    const int64_t blocks = nchw ? C : (C + 7) / 8;
    if (nchw) kern = ck_f32_pool_ukernel_8c__scalar; /* one lane per plane */
    ck_chanvec_geom g0 = {.H = H, .W = W, .P = P, .Q = Q,
                          .x_pix = nchw ? 1 : (nhwc ? C : 8), .x_row = nchw ? W : (nhwc ? W * C : W * 8),
                          .y_pix = nchw ? 1 : (nhwc ? C : 8), .y_row = nchw ? Q : (nhwc ? Q * C : Q * 8),
                          .R = d->r, .S = d->s, .sh = d->stride_h, .sw = d->stride_w, .pt = d->pad_top,
                          .pl = d->pad_left, .dh = d->dilation_h, .dw = d->dilation_w, .nc = nchw ? 1 : 8};
    if (d->layout == CK_LAYOUT_NCHW8C && P == 1 && Q == 1 && d->r == H && d->s == W && d->pad_top == 0 &&
        d->pad_left == 0 && d->pad_bottom == 0 && d->pad_right == 0) {
        /* global pooling in NCHW8c: the N*C/8 planes are contiguous, so they are
         * one H*(N*C/8) x W image pooled with stride H (one kernel call, not one per
         * plane: the per-call cost would dominate the ~50-vector windows) */
        ck_chanvec_geom g = g0;
        g.H = H * d->n * blocks;
        g.P = d->n * blocks;
        g.sh = H;
        kern(&g, x, y, 0, g.P, d->kind == CK_POOL_MAX, d->count_include_pad, 0, 0);
        return;
    }
    const int64_t tasks = d->n * blocks;
    /* tiny layers (global pooling of a 7x7 map: microseconds) run on the calling
     * thread: starting a parallel region would cost more than the work */
    const double work = (double)tasks * (double)(P * Q) * (double)(d->r * d->s) * (nchw ? 1 : 8);
    const int nt = work < 262144.0 ? 1 : pl->threads;
    int64_t chunks = tasks >= 4 * nt ? 1 : (4 * nt + tasks - 1) / tasks;
    if (chunks > P) chunks = P;
    const int64_t items = tasks * chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t it = 0; it < items; it++) {
        const int64_t t = it / chunks, ch = it % chunks;
        const int64_t n = t / blocks, b = t % blocks;
        ck_chanvec_geom g = g0;
        const float *xb;
        float *yb;
        if (nchw) {
            xb = x + (n * C + b) * H * W;
            yb = y + (n * C + b) * P * Q;
        } else if (nhwc) {
            g.nc = (int)(C - b * 8 < 8 ? C - b * 8 : 8);
            xb = x + n * H * W * C + b * 8;
            yb = y + n * P * Q * C + b * 8;
        } else {
            xb = x + (n * blocks + b) * H * W * 8;
            yb = y + (n * blocks + b) * P * Q * 8;
        }
        kern(&g, xb, yb, P * ch / chunks, P * (ch + 1) / chunks, d->kind == CK_POOL_MAX, d->count_include_pad,
             d->pad_bottom, d->pad_right);
    }
}

ck_status ck_pool2d_execute(const ck_plan *p, const float *x, float *y) {
    ck_clear_error();
    CK_CHECK_PTR(p, "plan");
    if (p->op != CK_OP_POOL2D) return ck_fail(CK_ERR_INVALID_ARGUMENT, "plan is not a pool2d plan");
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    if (p->algorithm == CK_ALGO_REFERENCE) ck_ref_pool2d(&p->d.pool, p->out_h, p->out_w, x, y);
    else ck_pool_fast(p, x, y);
    return CK_OK;
}

/* NCHW8c outputs keep their channel tail (channels C..ceil(C/8)*8-1) zero. */
static void ck_zero_blocked_tail(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w, float *y) {
    if (layout != CK_LAYOUT_NCHW8C || c % 8 == 0) return;
    for (int64_t in = 0; in < n; in++)
        for (int64_t ic = c; ic < (c + 7) / 8 * 8; ic++)
            for (int64_t ih = 0; ih < h; ih++)
                for (int64_t iw = 0; iw < w; iw++) y[ck_offset(layout, c, h, w, in, ic, ih, iw)] = 0.f;
}

ck_status ck_global_pool2d(ck_pool_kind kind, ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                           const float *x, float *y) {
    ck_clear_error();
    if (kind != CK_POOL_MAX && kind != CK_POOL_AVG) return ck_fail(CK_ERR_INVALID_ARGUMENT, "unknown pooling kind %d", (int)kind);
    CK_CHECK(ck_check_layout(layout, true));
    CK_CHECK(ck_check_shape4("input", n, c, h, w));
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    for (int64_t in = 0; in < n; in++)
        for (int64_t ic = 0; ic < c; ic++) {
            double acc = kind == CK_POOL_MAX ? -INFINITY : 0.0;
            for (int64_t ih = 0; ih < h; ih++)
                for (int64_t iw = 0; iw < w; iw++) {
                    double v = x[ck_offset(layout, c, h, w, in, ic, ih, iw)];
                    if (kind == CK_POOL_MAX) { if (v > acc) acc = v; }
                    else acc += v;
                }
            y[ck_offset(layout, c, 1, 1, in, ic, 0, 0)] = (float)(kind == CK_POOL_MAX ? acc : acc / (double)(h * w));
        }
    ck_zero_blocked_tail(layout, n, c, 1, 1, y);
    return CK_OK;
}

ck_status ck_maxout(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w, int64_t gs, const float *x,
                    float *y) {
    ck_clear_error();
    CK_CHECK(ck_check_layout(layout, false));
    CK_CHECK(ck_check_shape4("input", n, c, h, w));
    if (gs < 1 || c % gs)
        return ck_fail(CK_ERR_INVALID_GROUPS, "channels C=%lld are not divisible by the maxout group size %lld",
                       (long long)c, (long long)gs);
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    const int64_t co = c / gs;
    for (int64_t in = 0; in < n; in++)
        for (int64_t j = 0; j < co; j++)
            for (int64_t ih = 0; ih < h; ih++)
                for (int64_t iw = 0; iw < w; iw++) {
                    float m = -INFINITY;
                    for (int64_t t = 0; t < gs; t++) {
                        float v = x[ck_offset(layout, c, h, w, in, j * gs + t, ih, iw)];
                        if (v > m) m = v;
                    }
                    y[ck_offset(layout, co, h, w, in, j, ih, iw)] = m;
                }
    return CK_OK;
}

/* ---- dense ------------------------------------------------------------ */

ck_status ck_dense_plan_create(const ck_dense_desc *d, const float *w, const float *b, const ck_plan_options *options,
                               ck_plan **out) {
    ck_clear_error();
    CK_CHECK_PTR(out, "plan");
    *out = NULL;
    CK_CHECK_PTR(d, "desc");
    ck_plan_options o;
    CK_CHECK(ck_plan_options_resolve(options, &o));
    if (d->n < 1 || d->in_features < 1 || d->out_features < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "dense shape n=%lld in=%lld out=%lld: all must be >= 1", (long long)d->n,
                       (long long)d->in_features, (long long)d->out_features);
    CK_CHECK(ck_check_activation(d->activation));
    int64_t t;
    CK_CHECK(ck_mul_checked(d->in_features, d->out_features, &t, "dense weight size"));
    CK_CHECK(ck_mul_checked(d->n, d->in_features, &t, "dense input size"));
    CK_CHECK(ck_mul_checked(d->n, d->out_features, &t, "dense output size"));
    CK_CHECK_PTR(w, "weights");
    if (d->has_bias) CK_CHECK_PTR(b, "bias (has_bias is set)");
    ck_algorithm algo = o.algorithm;
#if defined(CK_HAVE_OPENBLAS) || defined(CK_HAVE_ACCELERATE)
    if (algo == CK_ALGO_AUTO) algo = CK_ALGO_IM2COL;
#else
    if (algo == CK_ALGO_AUTO) algo = CK_ALGO_REFERENCE;
    if (algo == CK_ALGO_IM2COL) return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "built without BLAS");
#endif
    if (algo != CK_ALGO_REFERENCE && algo != CK_ALGO_IM2COL)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "dense supports algorithms auto, reference and im2col (BLAS), not '%s'",
                       ck_algorithm_name(algo));
    ck_plan *p = calloc(1, sizeof *p);
    if (!p) return ck_fail(CK_ERR_OUT_OF_MEMORY, "allocating a plan");
    ck_plan_init_common(p, CK_OP_DENSE, &o);
    p->algorithm = algo;
    p->impl_name = algo == CK_ALGO_IM2COL ? "dense/blas" : "reference";
    p->d.dense = *d;
    ck_status st = ck_copy_weights(p, w, d->in_features * d->out_features, d->has_bias ? b : NULL, d->out_features);
    if (st != CK_OK) { ck_plan_destroy(p); return st; }
    *out = p;
    return CK_OK;
}

ck_status ck_dense_execute(const ck_plan *p, const float *x, float *y) {
    ck_clear_error();
    CK_CHECK_PTR(p, "plan");
    if (p->op != CK_OP_DENSE) return ck_fail(CK_ERR_INVALID_ARGUMENT, "plan is not a dense plan");
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    const ck_dense_desc *d = &p->d.dense;
    if (p->algorithm == CK_ALGO_REFERENCE) {
        ck_ref_dense(d, x, p->weights, p->bias, y);
        return CK_OK;
    }
#if defined(CK_HAVE_OPENBLAS) || defined(CK_HAVE_ACCELERATE)
    if (d->n == 1) /* batch 1 is a matrix-vector product (bandwidth-bound; gemv streams W once) */
        ck_sgemv_mt(p->threads, 0, d->out_features, d->in_features, 1.0f, p->weights, d->in_features, x, 0.0f, y, 1);
    else
        ck_sgemm_mt(p->threads, 0, 1, d->n, d->out_features, d->in_features, 1.0f, x, d->in_features, p->weights,
                    d->in_features, 0.0f, y, d->out_features);
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t o = 0; o < d->out_features; o++) {
            float v = y[n * d->out_features + o] + (p->bias ? p->bias[o] : 0.f);
            y[n * d->out_features + o] = ck_activate(d->activation, v);
        }
    return CK_OK;
#else
    return ck_fail(CK_ERR_INTERNAL, "BLAS dense plan without BLAS");
#endif
}

/* ---- element-wise and normalisation ----------------------------------- */

ck_status ck_activation_forward(ck_activation act, int64_t count, const float *x, float *y) {
    ck_clear_error();
    CK_CHECK(ck_check_activation(act));
    if (count < 0 || count > CK_MAX_ELEMENTS) return ck_fail(CK_ERR_INVALID_SHAPE, "count=%lld out of range", (long long)count);
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    ck_eltwise_get()->act(count, x, act, y);
    return CK_OK;
}

ck_status ck_softmax(int32_t log_softmax, ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                     const float *x, float *y) {
    ck_clear_error();
    CK_CHECK(ck_check_layout(layout, false));
    CK_CHECK(ck_check_shape4("input", n, c, h, w));
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    for (int64_t in = 0; in < n; in++)
        for (int64_t ih = 0; ih < h; ih++)
            for (int64_t iw = 0; iw < w; iw++) {
                double m = -INFINITY;
                for (int64_t ic = 0; ic < c; ic++) {
                    double v = x[ck_offset(layout, c, h, w, in, ic, ih, iw)];
                    if (v > m) m = v;
                }
                double sum = 0;
                for (int64_t ic = 0; ic < c; ic++) sum += exp((double)x[ck_offset(layout, c, h, w, in, ic, ih, iw)] - m);
                const double lse = log(sum);
                for (int64_t ic = 0; ic < c; ic++) {
                    const int64_t o = ck_offset(layout, c, h, w, in, ic, ih, iw);
                    const double z = (double)x[o] - m;
                    y[o] = (float)(log_softmax ? z - lse : exp(z) / sum);
                }
            }
    return CK_OK;
}

ck_status ck_batch_norm_inference(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w, const float *x,
                                  const float *gamma, const float *beta, const float *mean, const float *var, float eps,
                                  ck_activation act, float *y) {
    ck_clear_error();
    CK_CHECK(ck_check_layout(layout, true));
    CK_CHECK(ck_check_shape4("input", n, c, h, w));
    CK_CHECK(ck_check_activation(act));
    if (!(eps > 0.f) || !isfinite(eps)) return ck_fail(CK_ERR_INVALID_ARGUMENT, "epsilon=%g must be > 0 and finite", (double)eps);
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(gamma, "gamma");
    CK_CHECK_PTR(beta, "beta");
    CK_CHECK_PTR(mean, "mean");
    CK_CHECK_PTR(var, "var");
    CK_CHECK_PTR(y, "y");
    for (int64_t ic = 0; ic < c; ic++)
        if (!(var[ic] >= 0.f)) return ck_fail(CK_ERR_INVALID_ARGUMENT, "variance of channel %lld is negative or NaN", (long long)ic);
    /* y = act(x * scale + shift), scale and shift folded once per channel (in
     * double, then rounded), applied by the element-wise kernels per layout */
    const int64_t cb = (c + 7) / 8, cp = layout == CK_LAYOUT_NCHW8C ? cb * 8 : c, hw = h * w;
    float *scale = malloc((size_t)cp * 2 * sizeof(float));
    if (!scale) return ck_fail(CK_ERR_OUT_OF_MEMORY, "batch norm: allocating %lld channel constants", (long long)cp);
    float *shift = scale + cp;
    for (int64_t ic = 0; ic < cp; ic++) {
        const double sc = ic < c ? (double)gamma[ic] / sqrt((double)var[ic] + (double)eps) : 0.0;
        scale[ic] = (float)sc;
        shift[ic] = ic < c ? (float)((double)beta[ic] - sc * (double)mean[ic]) : 0.f;
    }
    const ck_eltwise_kernels *k = ck_eltwise_get();
    for (int64_t in = 0; in < n; in++) {
        if (layout == CK_LAYOUT_NCHW)
            for (int64_t ic = 0; ic < c; ic++)
                k->affine1(hw, x + (in * c + ic) * hw, scale[ic], shift[ic], act, y + (in * c + ic) * hw);
        else if (layout == CK_LAYOUT_NHWC)
            k->affine(hw, c, x + in * hw * c, scale, shift, act, y + in * hw * c);
        else
            for (int64_t b = 0; b < cb; b++)
                k->affine(hw, 8, x + (in * cb + b) * hw * 8, scale + b * 8, shift + b * 8, act,
                          y + (in * cb + b) * hw * 8);
    }
    free(scale);
    ck_zero_blocked_tail(layout, n, c, h, w, y);
    return CK_OK;
}

ck_status ck_lrn(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w, int64_t size, float alpha, float beta,
                 float k, const float *x, float *y) {
    ck_clear_error();
    CK_CHECK(ck_check_layout(layout, false));
    CK_CHECK(ck_check_shape4("input", n, c, h, w));
    if (size < 1) return ck_fail(CK_ERR_INVALID_ARGUMENT, "LRN size=%lld must be >= 1", (long long)size);
    if (!isfinite(alpha) || !isfinite(beta) || !isfinite(k))
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "LRN alpha, beta and k must be finite");
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    if (x == y) return ck_fail(CK_ERR_INVALID_ARGUMENT, "LRN cannot run in place (x == y)");
    const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
    for (int64_t in = 0; in < n; in++)
        for (int64_t ih = 0; ih < h; ih++)
            for (int64_t iw = 0; iw < w; iw++)
                for (int64_t ic = 0; ic < c; ic++) {
                    double sq = 0;
                    for (int64_t j = ic - lo; j <= ic + hi; j++) {
                        if (j < 0 || j >= c) continue;
                        double v = x[ck_offset(layout, c, h, w, in, j, ih, iw)];
                        sq += v * v;
                    }
                    const int64_t o = ck_offset(layout, c, h, w, in, ic, ih, iw);
                    y[o] = (float)((double)x[o] / pow((double)k + (double)alpha / (double)size * sq, (double)beta));
                }
    return CK_OK;
}

ck_status ck_add(int64_t count, const float *a, const float *b, ck_activation act, float *y) {
    ck_clear_error();
    CK_CHECK(ck_check_activation(act));
    if (count < 0 || count > CK_MAX_ELEMENTS) return ck_fail(CK_ERR_INVALID_SHAPE, "count=%lld out of range", (long long)count);
    CK_CHECK_PTR(a, "a");
    CK_CHECK_PTR(b, "b");
    CK_CHECK_PTR(y, "y");
    ck_eltwise_get()->add(count, a, b, act, y);
    return CK_OK;
}

ck_status ck_concat_channels(ck_layout layout, int64_t n, int64_t h, int64_t w, int64_t count,
                             const float *const *inputs, const int64_t *channels, float *y) {
    ck_clear_error();
    CK_CHECK(ck_check_layout(layout, false));
    if (count < 1) return ck_fail(CK_ERR_INVALID_ARGUMENT, "concat of %lld tensors: need at least one", (long long)count);
    CK_CHECK_PTR(inputs, "inputs");
    CK_CHECK_PTR(channels, "channels");
    CK_CHECK_PTR(y, "y");
    int64_t total = 0;
    for (int64_t i = 0; i < count; i++) {
        if (!inputs[i]) return ck_fail(CK_ERR_NULL_POINTER, "inputs[%lld] is NULL", (long long)i);
        if (channels[i] < 1 || channels[i] > CK_MAX_ELEMENTS)
            return ck_fail(CK_ERR_INVALID_SHAPE, "channels[%lld]=%lld must be >= 1", (long long)i, (long long)channels[i]);
        total += channels[i];
    }
    CK_CHECK(ck_check_shape4("output", n, total, h, w));
    int64_t base = 0;
    for (int64_t i = 0; i < count; i++) {
        const int64_t ci = channels[i];
        for (int64_t in = 0; in < n; in++)
            for (int64_t ic = 0; ic < ci; ic++)
                for (int64_t ih = 0; ih < h; ih++)
                    for (int64_t iw = 0; iw < w; iw++)
                        y[ck_offset(layout, total, h, w, in, base + ic, ih, iw)] =
                            inputs[i][ck_offset(layout, ci, h, w, in, ic, ih, iw)];
        base += ci;
    }
    return CK_OK;
}
