/* Backward passes of pooling, dense, activations, softmax + cross-entropy,
 * batch normalisation (training mode) and dropout.  Reductions accumulate in
 * float64; element-wise loops use OpenMP above a size threshold (results do
 * not depend on the thread count). */
#include "backward_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(CK_HAVE_OPENBLAS)
#include <cblas.h>
#define CK_OPSB_HAVE_BLAS 1
#elif defined(CK_HAVE_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define CK_OPSB_HAVE_BLAS 1
#endif

#define CK_OPSB_PAR_MIN ((int64_t)1 << 15)

static ck_status count_ok(int64_t count) {
    if (count < 0 || count > CK_MAX_ELEMENTS)
        return ck_fail(CK_ERR_INVALID_SHAPE, "count=%lld out of range [0, 2^40]", (long long)count);
    return CK_OK;
}

/* Floats a tensor occupies in `layout` (NCHW8c pads channels to 8). */
static int64_t tensor_floats(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w) {
    return n * (layout == CK_LAYOUT_NCHW8C ? (c + 7) / 8 * 8 : c) * h * w;
}

/* ---- pooling ---------------------------------------------------------- */

/* Fast path: scatter per (n, c) plane; OpenMP over planes (one writer each). */
static void pool_backward_fast(const ck_plan *pl, const float *x, const float *dy, float *dx) {
    const ck_pool2d_desc *d = &pl->d.pool;
    const int64_t N = d->n, C = d->c, H = d->h, W = d->w, P = pl->out_h, Q = pl->out_w;
    const int64_t total = tensor_floats(d->layout, N, C, H, W);
    const int nt = total >= CK_OPSB_PAR_MIN ? pl->threads : 1;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t i = 0; i < (total + 16383) / 16384; i++) {
        const int64_t a = i * 16384, e = a + 16384 < total ? a + 16384 : total;
        memset(dx + a, 0, (size_t)(e - a) * sizeof(float));
    }
    /* strides of a plane in x/dx (xs, xr) and dy (ys, yr) */
    int64_t xs, ys;
    if (d->layout == CK_LAYOUT_NCHW) xs = ys = 1;
    else if (d->layout == CK_LAYOUT_NHWC) xs = ys = C;
    else xs = ys = 8;
    const int64_t xr = W * xs, yr = Q * ys;
    const int64_t planes = N * C;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t pc = 0; pc < planes; pc++) {
        const int64_t n = pc / C, c = pc % C;
        const int64_t xb = ck_offset(d->layout, C, H, W, n, c, 0, 0), yb = ck_offset(d->layout, C, P, Q, n, c, 0, 0);
        float *dxp = dx + xb;
        const float *xp = x ? x + xb : NULL, *dyp = dy + yb;
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++) {
                const float g = dyp[p * yr + q * ys];
                int64_t ah, aw, div;
                if (d->kind == CK_POOL_MAX) {
                    ck_pool_window(d, xp, xr, xs, p, q, &ah, &aw, &div);
                    if (ah >= 0) dxp[ah * xr + aw * xs] += g;
                    continue;
                }
                ck_pool_window(d, NULL, xr, xs, p, q, &ah, &aw, &div);
                if (div == 0) continue;
                const float v = (float)((double)g / (double)div);
                for (int64_t r = 0; r < d->r; r++) {
                    const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t s = 0; s < d->s; s++) {
                        const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
                        if (iw < 0 || iw >= W) continue;
                        dxp[ih * xr + iw * xs] += v;
                    }
                }
            }
    }
}

ck_status ck_pool2d_backward(const ck_plan *p, const float *x, const float *dy, float *dx) {
    ck_clear_error();
    CK_CHECK_PTR(p, "plan");
    if (p->op != CK_OP_POOL2D)
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "plan is not a pool2d plan (create it with ck_pool2d_plan_create)");
    const ck_pool2d_desc *d = &p->d.pool;
    if (d->kind == CK_POOL_MAX) CK_CHECK_PTR(x, "x (max pooling needs the forward input)");
    CK_CHECK_PTR(dy, "dy");
    CK_CHECK_PTR(dx, "dx");
    if (p->algorithm == CK_ALGO_REFERENCE) ck_ref_pool2d_backward(d, p->out_h, p->out_w, x, dy, dx);
    else pool_backward_fast(p, x, dy, dx);
    return CK_OK;
}

ck_status ck_global_pool2d_backward(ck_pool_kind kind, ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                                    const float *x, const float *dy, float *dx) {
    ck_clear_error();
    if (kind != CK_POOL_MAX && kind != CK_POOL_AVG)
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "unknown pooling kind %d", (int)kind);
    CK_CHECK(ck_check_layout(layout, true));
    CK_CHECK(ck_check_shape4("input", n, c, h, w));
    if (kind == CK_POOL_MAX) CK_CHECK_PTR(x, "x (global max pooling needs the forward input)");
    CK_CHECK_PTR(dy, "dy");
    CK_CHECK_PTR(dx, "dx");
    memset(dx, 0, (size_t)tensor_floats(layout, n, c, h, w) * sizeof(float));
    const double inv = 1.0 / (double)(h * w);
    for (int64_t in = 0; in < n; in++)
        for (int64_t ic = 0; ic < c; ic++) {
            const float g = dy[ck_offset(layout, c, 1, 1, in, ic, 0, 0)];
            if (kind == CK_POOL_AVG) {
                const float v = (float)((double)g * inv);
                for (int64_t ih = 0; ih < h; ih++)
                    for (int64_t iw = 0; iw < w; iw++) dx[ck_offset(layout, c, h, w, in, ic, ih, iw)] = v;
                continue;
            }
            int64_t best = -1;
            float m = 0.f;
            for (int64_t ih = 0; ih < h; ih++)
                for (int64_t iw = 0; iw < w; iw++) {
                    const int64_t o = ck_offset(layout, c, h, w, in, ic, ih, iw);
                    const float v = x[o];
                    if (best < 0 ? !(v != v) : v > m) { m = v; best = o; }
                }
            if (best >= 0) dx[best] = g;
        }
    return CK_OK;
}

/* ---- dense -------------------------------------------------------------- */

ck_status ck_dense_backward(const ck_dense_desc *d, const ck_plan_options *options, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db) {
    ck_clear_error();
    CK_CHECK_PTR(d, "desc");
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    if (options) o = *options;
    if (o.threads < 0) return ck_fail(CK_ERR_INVALID_ARGUMENT, "threads=%d must be >= 0 (0 = all cores)", o.threads);
    if ((int)o.algorithm < 0 || (int)o.algorithm >= CK_ALGO_COUNT)
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "unknown algorithm value %d", (int)o.algorithm);
    if (d->n < 1 || d->in_features < 1 || d->out_features < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "dense shape n=%lld in=%lld out=%lld: all must be >= 1", (long long)d->n,
                       (long long)d->in_features, (long long)d->out_features);
    int64_t t;
    CK_CHECK(ck_mul_checked(d->n, d->in_features, &t, "dense input size"));
    CK_CHECK(ck_mul_checked(d->n, d->out_features, &t, "dense output size"));
    CK_CHECK(ck_mul_checked(d->in_features, d->out_features, &t, "dense weight size"));
    CK_CHECK_PTR(dy, "dy");
    if (dx) CK_CHECK_PTR(w, "w (needed for dx)");
    if (dw) CK_CHECK_PTR(x, "x (needed for dw)");
    ck_algorithm algo = o.algorithm;
#if defined(CK_OPSB_HAVE_BLAS)
    if (algo == CK_ALGO_AUTO) algo = CK_ALGO_IM2COL;
#else
    if (algo == CK_ALGO_AUTO) algo = CK_ALGO_REFERENCE;
    if (algo == CK_ALGO_IM2COL) return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "dense backward: built without BLAS");
#endif
    if (algo != CK_ALGO_REFERENCE && algo != CK_ALGO_IM2COL)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM,
                       "dense backward supports algorithms auto, reference and im2col (BLAS), not '%s'",
                       ck_algorithm_name(algo));
    if (algo == CK_ALGO_REFERENCE) {
        ck_ref_dense_backward(d, x, w, dy, dx, dw, db);
        return CK_OK;
    }
#if defined(CK_OPSB_HAVE_BLAS)
    const int64_t N = d->n, NI = d->in_features, NO = d->out_features;
    if (N > 2147483647 || NI > 2147483647 || NO > 2147483647)
        return ck_fail(CK_ERR_UNSUPPORTED, "dense backward: a GEMM dimension exceeds BLAS's 32-bit int");
    const int nt = ck_resolve_threads(o.threads);
    if (dx) ck_sgemm_mt(nt, 0, 0, N, NI, NO, 1.f, dy, NO, w, NI, 0.f, dx, NI);
    if (dw) ck_sgemm_mt(nt, 1, 0, NO, NI, N, 1.f, dy, NO, x, NI, 0.f, dw, NI);
    if (db)
        for (int64_t oo = 0; oo < NO; oo++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++) acc += (double)dy[n * NO + oo];
            db[oo] = (float)acc;
        }
    return CK_OK;
#else
    return ck_fail(CK_ERR_INTERNAL, "dense backward: BLAS path without BLAS");
#endif
}

/* ---- activations ---------------------------------------------------------- */

ck_status ck_activation_backward(ck_activation act, int64_t count, const float *x, const float *y, const float *dy,
                                 float *dx) {
    ck_clear_error();
    CK_CHECK(ck_check_activation(act));
    CK_CHECK(count_ok(count));
    CK_CHECK_PTR(dy, "dy");
    CK_CHECK_PTR(dx, "dx");
    switch (act.kind) {
    case CK_ACT_RELU:
    case CK_ACT_RELU6:
    case CK_ACT_LEAKY_RELU: CK_CHECK_PTR(x, "x (ReLU-family backward needs the forward input)"); break;
    case CK_ACT_SIGMOID:
    case CK_ACT_TANH:
        if (!x && !y) return ck_fail(CK_ERR_NULL_POINTER, "x and y are both NULL (sigmoid/tanh backward needs one)");
        break;
    case CK_ACT_NONE:
    default: break;
    }
    const float alpha = act.alpha;
    const int nt = count >= CK_OPSB_PAR_MIN ? ck_max_threads() : 1;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t i = 0; i < count; i++) {
        const float g = dy[i];
        float r;
        switch (act.kind) {
        case CK_ACT_RELU: r = x[i] > 0.f ? g : 0.f; break;
        case CK_ACT_RELU6: r = (x[i] > 0.f && x[i] < 6.f) ? g : 0.f; break;
        case CK_ACT_LEAKY_RELU: r = x[i] > 0.f ? g : alpha * g; break;
        case CK_ACT_SIGMOID: {
            const float s = y ? y[i] : 1.f / (1.f + expf(-x[i]));
            r = g * s * (1.f - s);
            break;
        }
        case CK_ACT_TANH: {
            const float t = y ? y[i] : tanhf(x[i]);
            r = g * (1.f - t * t);
            break;
        }
        case CK_ACT_NONE:
        default: r = g; break;
        }
        dx[i] = r;
    }
    return CK_OK;
}

/* ---- softmax + cross-entropy ------------------------------------------------ */

ck_status ck_softmax_cross_entropy(int64_t n, int64_t classes, const float *logits, const int32_t *labels, float *loss,
                                   float *dlogits) {
    ck_clear_error();
    if (n < 1 || classes < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "softmax cross-entropy shape n=%lld classes=%lld: both must be >= 1",
                       (long long)n, (long long)classes);
    int64_t t;
    CK_CHECK(ck_mul_checked(n, classes, &t, "logits size"));
    CK_CHECK_PTR(logits, "logits");
    CK_CHECK_PTR(labels, "labels");
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || (int64_t)labels[i] >= classes)
            return ck_fail(CK_ERR_INVALID_ARGUMENT, "labels[%lld]=%d is outside [0, %lld)", (long long)i, (int)labels[i],
                           (long long)classes);
    double total = 0.0;
    const double invn = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * classes;
        double m = -INFINITY;
        for (int64_t j = 0; j < classes; j++)
            if ((double)z[j] > m) m = z[j];
        if (!isfinite(m)) m = 0.0; /* all -inf or NaN row: let the result show it */
        double sum = 0.0;
        for (int64_t j = 0; j < classes; j++) sum += exp((double)z[j] - m);
        const double lse = m + log(sum);
        total += lse - (double)z[labels[i]];
        if (dlogits) {
            float *g = dlogits + i * classes;
            for (int64_t j = 0; j < classes; j++) {
                const double sm = exp((double)z[j] - lse);
                g[j] = (float)((sm - (j == labels[i] ? 1.0 : 0.0)) * invn);
            }
        }
    }
    if (loss) *loss = (float)(total * invn);
    return CK_OK;
}

/* ---- batch normalisation (training) ---------------------------------------- */

/* Channel c of an NCHW/NHWC tensor as `outer` runs of `inner` elements:
 * element (o, j) at base + o*ostride + j*istride. */
typedef struct bn_view {
    int64_t outer, inner, ostride, istride, cstride;
} bn_view;

static bn_view bn_make_view(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w) {
    bn_view v;
    if (layout == CK_LAYOUT_NCHW) {
        v.outer = n; v.inner = h * w; v.ostride = c * h * w; v.istride = 1; v.cstride = h * w;
    } else {
        v.outer = 1; v.inner = n * h * w; v.ostride = 0; v.istride = c; v.cstride = 1;
    }
    return v;
}

static ck_status bn_common(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w) {
    CK_CHECK(ck_check_layout(layout, false));
    CK_CHECK(ck_check_shape4("input", n, c, h, w));
    return CK_OK;
}

ck_status ck_batch_norm_training_forward(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w, const float *x,
                                         const float *gamma, const float *beta, float eps, float momentum,
                                         float *running_mean, float *running_var, float *y, float *save_mean,
                                         float *save_invstd) {
    ck_clear_error();
    CK_CHECK(bn_common(layout, n, c, h, w));
    if (!(eps > 0.f) || !isfinite(eps))
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "epsilon=%g must be > 0 and finite", (double)eps);
    if (!(momentum >= 0.f && momentum <= 1.f))
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "momentum=%g must be in [0, 1]", (double)momentum);
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(gamma, "gamma");
    CK_CHECK_PTR(beta, "beta");
    CK_CHECK_PTR(y, "y");
    const int64_t m = n * h * w;
    if (running_var && m < 2)
        return ck_fail(CK_ERR_INVALID_SHAPE,
                       "batch norm training needs N*H*W >= 2 values per channel for the unbiased running variance (got %lld)",
                       (long long)m);
    const bn_view v = bn_make_view(layout, n, c, h, w);
    const int nt = m * c >= CK_OPSB_PAR_MIN ? ck_max_threads() : 1;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        const float *xc = x + ch * v.cstride;
        float *yc = y + ch * v.cstride;
        double sum = 0.0;
        for (int64_t o = 0; o < v.outer; o++)
            for (int64_t j = 0; j < v.inner; j++) sum += (double)xc[o * v.ostride + j * v.istride];
        const double mean = sum / (double)m;
        double sq = 0.0;
        for (int64_t o = 0; o < v.outer; o++)
            for (int64_t j = 0; j < v.inner; j++) {
                const double dd = (double)xc[o * v.ostride + j * v.istride] - mean;
                sq += dd * dd;
            }
        const double var = sq / (double)m;
        const double invstd = 1.0 / sqrt(var + (double)eps);
        const double scale = (double)gamma[ch] * invstd, shift = (double)beta[ch] - scale * mean;
        for (int64_t o = 0; o < v.outer; o++)
            for (int64_t j = 0; j < v.inner; j++) {
                const int64_t i = o * v.ostride + j * v.istride;
                yc[i] = (float)(scale * (double)xc[i] + shift);
            }
        if (running_mean)
            running_mean[ch] = (float)((1.0 - (double)momentum) * (double)running_mean[ch] + (double)momentum * mean);
        if (running_var)
            running_var[ch] = (float)((1.0 - (double)momentum) * (double)running_var[ch] +
                                      (double)momentum * var * (double)m / (double)(m - 1));
        if (save_mean) save_mean[ch] = (float)mean;
        if (save_invstd) save_invstd[ch] = (float)invstd;
    }
    return CK_OK;
}

ck_status ck_batch_norm_training_backward(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w, const float *x,
                                          const float *gamma, const float *save_mean, const float *save_invstd,
                                          const float *dy, float *dx, float *dgamma, float *dbeta) {
    ck_clear_error();
    CK_CHECK(bn_common(layout, n, c, h, w));
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(save_mean, "save_mean");
    CK_CHECK_PTR(save_invstd, "save_invstd");
    CK_CHECK_PTR(dy, "dy");
    if (dx) CK_CHECK_PTR(gamma, "gamma (needed for dx)");
    const int64_t m = n * h * w;
    const bn_view v = bn_make_view(layout, n, c, h, w);
    const int nt = m * c >= CK_OPSB_PAR_MIN ? ck_max_threads() : 1;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        const float *xc = x + ch * v.cstride, *gc = dy + ch * v.cstride;
        const double mean = save_mean[ch], invstd = save_invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t o = 0; o < v.outer; o++)
            for (int64_t j = 0; j < v.inner; j++) {
                const int64_t i = o * v.ostride + j * v.istride;
                const double g = gc[i];
                sdy += g;
                sdyx += g * ((double)xc[i] - mean) * invstd;
            }
        if (dbeta) dbeta[ch] = (float)sdy;
        if (dgamma) dgamma[ch] = (float)sdyx;
        if (dx) {
            float *dc = dx + ch * v.cstride;
            const double k = (double)gamma[ch] * invstd / (double)m;
            for (int64_t o = 0; o < v.outer; o++)
                for (int64_t j = 0; j < v.inner; j++) {
                    const int64_t i = o * v.ostride + j * v.istride;
                    const double xhat = ((double)xc[i] - mean) * invstd;
                    dc[i] = (float)(k * ((double)m * (double)gc[i] - sdy - xhat * sdyx));
                }
        }
    }
    return CK_OK;
}

/* ---- dropout ---------------------------------------------------------------- */

/* splitmix64 finaliser: the i-th output of splitmix64 seeded with `seed` is
 * mix(seed + (i+1)*golden), a counter-based generator. */
static inline uint64_t ck_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline int ck_dropout_keep(uint64_t seed, int64_t i, double p) {
    const uint64_t z = ck_mix64(seed + ((uint64_t)i + 1u) * 0x9E3779B97F4A7C15ull);
    return (double)(z >> 40) * (1.0 / 16777216.0) >= p;
}

static ck_status dropout_check(int64_t count, float p) {
    CK_CHECK(count_ok(count));
    if (!(p >= 0.f && p <= 1.f)) return ck_fail(CK_ERR_INVALID_ARGUMENT, "dropout probability p=%g must be in [0, 1]", (double)p);
    return CK_OK;
}

ck_status ck_dropout_forward(int64_t count, float p, uint64_t seed, const float *x, float *y, uint8_t *mask) {
    ck_clear_error();
    CK_CHECK(dropout_check(count, p));
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    const double pd = p;
    const float scale = p < 1.f ? (float)(1.0 / (1.0 - pd)) : 0.f;
    const int nt = count >= CK_OPSB_PAR_MIN ? ck_max_threads() : 1;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t i = 0; i < count; i++) {
        const int keep = ck_dropout_keep(seed, i, pd);
        y[i] = keep ? x[i] * scale : 0.f;
        if (mask) mask[i] = (uint8_t)keep;
    }
    return CK_OK;
}

ck_status ck_dropout_backward(int64_t count, float p, uint64_t seed, const float *dy, float *dx) {
    ck_clear_error();
    CK_CHECK(dropout_check(count, p));
    CK_CHECK_PTR(dy, "dy");
    CK_CHECK_PTR(dx, "dx");
    const double pd = p;
    const float scale = p < 1.f ? (float)(1.0 / (1.0 - pd)) : 0.f;
    const int nt = count >= CK_OPSB_PAR_MIN ? ck_max_threads() : 1;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t i = 0; i < count; i++) dx[i] = ck_dropout_keep(seed, i, pd) ? dy[i] * scale : 0.f;
    return CK_OK;
}
