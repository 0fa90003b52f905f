/* Convolution descriptors, validation and plans. */
#include "internal.h"
#include <stdlib.h>
#include <string.h>

ck_conv2d_desc ck_conv2d_desc_init(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s) {
    ck_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.n = n; d.c = c; d.h = h; d.w = w; d.k = k; d.r = r; d.s = s;
    d.stride_h = d.stride_w = 1;
    d.dilation_h = d.dilation_w = 1;
    d.groups = 1;
    d.layout = CK_LAYOUT_NCHW;
    d.activation.kind = CK_ACT_NONE;
    return d;
}

/* Shared output-size arithmetic: floor((n + pb + pe - d*(f-1) - 1)/s) + 1,
 * computed with overflow checks. */
ck_status ck_out_size(int64_t n, int64_t f, int64_t s, int64_t pb, int64_t pe, int64_t d,
                             const char *axis, int64_t *out) {
    int64_t ext, span;
    if (__builtin_mul_overflow(d, f - 1, &ext) || __builtin_add_overflow(n, pb, &span) ||
        __builtin_add_overflow(span, pe, &span))
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "%s: size arithmetic overflows", axis);
    int64_t num = span - ext - 1;
    if (num < 0)
        return ck_fail(CK_ERR_EMPTY_OUTPUT,
                       "%s: output size <= 0 (input %lld + padding %lld+%lld is smaller than the dilated kernel %llu)",
                       axis, (long long)n, (long long)pb, (long long)pe, (unsigned long long)ext + 1u);
    *out = num / s + 1;
    return CK_OK;
}

ck_status ck_conv2d_validate(const ck_conv2d_desc *d, int64_t *P, int64_t *Q) {
    CK_CHECK_PTR(d, "desc");
    if (d->n < 1 || d->c < 1 || d->h < 1 || d->w < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "input shape N=%lld C=%lld H=%lld W=%lld: every dimension must be >= 1",
                       (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w);
    if (d->k < 1) return ck_fail(CK_ERR_INVALID_SHAPE, "output channels K=%lld must be >= 1", (long long)d->k);
    if (d->r < 1 || d->s < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "kernel size %lldx%lld: both must be >= 1", (long long)d->r, (long long)d->s);
    if (d->stride_h < 1 || d->stride_w < 1)
        return ck_fail(CK_ERR_INVALID_STRIDE, "stride %lldx%lld: both must be >= 1", (long long)d->stride_h,
                       (long long)d->stride_w);
    if (d->dilation_h < 1 || d->dilation_w < 1)
        return ck_fail(CK_ERR_INVALID_DILATION, "dilation %lldx%lld: both must be >= 1", (long long)d->dilation_h,
                       (long long)d->dilation_w);
    if (d->pad_top < 0 || d->pad_left < 0 || d->pad_bottom < 0 || d->pad_right < 0)
        return ck_fail(CK_ERR_INVALID_PADDING, "padding (top %lld, left %lld, bottom %lld, right %lld) must be >= 0",
                       (long long)d->pad_top, (long long)d->pad_left, (long long)d->pad_bottom, (long long)d->pad_right);
    if (d->groups < 1) return ck_fail(CK_ERR_INVALID_GROUPS, "groups=%lld must be >= 1", (long long)d->groups);
    if (d->c % d->groups)
        return ck_fail(CK_ERR_INVALID_GROUPS, "input channels C=%lld are not divisible by groups=%lld", (long long)d->c,
                       (long long)d->groups);
    if (d->k % d->groups)
        return ck_fail(CK_ERR_INVALID_GROUPS, "output channels K=%lld are not divisible by groups=%lld", (long long)d->k,
                       (long long)d->groups);
    CK_CHECK(ck_check_layout(d->layout, true));
    CK_CHECK(ck_check_activation(d->activation));
    int64_t p, q, t;
    CK_CHECK(ck_out_size(d->h, d->r, d->stride_h, d->pad_top, d->pad_bottom, d->dilation_h, "height", &p));
    CK_CHECK(ck_out_size(d->w, d->s, d->stride_w, d->pad_left, d->pad_right, d->dilation_w, "width", &q));
    CK_CHECK(ck_count4(d->n, d->c, d->h, d->w, &t, "input size"));
    CK_CHECK(ck_count4(d->n, d->k, p, q, &t, "output size"));
    CK_CHECK(ck_count4(d->k, d->c / d->groups, d->r, d->s, &t, "weight size"));
    if (P) *P = p;
    if (Q) *Q = q;
    return CK_OK;
}

ck_status ck_conv2d_output_shape(const ck_conv2d_desc *d, int64_t *p, int64_t *q) {
    ck_clear_error();
    CK_CHECK_PTR(p, "p");
    CK_CHECK_PTR(q, "q");
    return ck_conv2d_validate(d, p, q);
}

ck_status ck_conv2d_flops(const ck_conv2d_desc *d, double *flops) {
    ck_clear_error();
    CK_CHECK_PTR(flops, "flops");
    int64_t p, q;
    CK_CHECK(ck_conv2d_validate(d, &p, &q));
    *flops = 2.0 * (double)d->n * (double)d->k * (double)(d->c / d->groups) * (double)d->r * (double)d->s *
             (double)p * (double)q;
    return CK_OK;
}

/* Order in which CK_ALGO_AUTO tries algorithms: the first applicable wins.
 * The depthwise kernels are tried only for C == K > 1: a 1-channel
 * "depthwise" shape is an ordinary convolution, and a channel multiplier > 1
 * runs the untuned multiplier loop (LeNet c1 C=1 -> K=6 was 6x slower there
 * than direct).  Winograd only with at least 16 input and output channels:
 * below that its transforms cost more than they save (and direct keeps small
 * integer examples exact).  (The Swift planner refines this by measurement.) */
static ck_algorithm ck_auto_choice(const ck_conv2d_desc *d, const ck_plan_options *o) {
    static const ck_algorithm order[] = {CK_ALGO_DEPTHWISE, CK_ALGO_WINOGRAD_F4, CK_ALGO_DIRECT, CK_ALGO_IM2COL};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const ck_conv_algo *a = ck_conv_algo_get(order[i]);
        if (!a) continue;
        if ((order[i] >= CK_ALGO_WINOGRAD_F2 && order[i] <= CK_ALGO_WINOGRAD_F6) && (o->flags & CK_PLAN_NO_WINOGRAD))
            continue;
        if (order[i] == CK_ALGO_DEPTHWISE && (d->c == 1 || d->k != d->c)) continue;
        if (order[i] == CK_ALGO_WINOGRAD_F4 && (d->c / d->groups < 16 || d->k / d->groups < 16)) continue;
        if (a->applicable(d, o) == CK_OK) return order[i];
    }
    return CK_ALGO_REFERENCE;
}

ck_status ck_conv2d_algorithm_applicable(const ck_conv2d_desc *d, ck_algorithm algo, const ck_plan_options *options) {
    ck_clear_error();
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    if (options) o = *options;
    o.algorithm = algo;
    CK_CHECK(ck_plan_options_resolve(&o, &o));
    CK_CHECK(ck_conv2d_validate(d, NULL, NULL));
    if (algo == CK_ALGO_AUTO) return CK_OK;
    const ck_conv_algo *a = ck_conv_algo_get(algo);
    if (!a) return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "algorithm '%s' has no convolution driver", ck_algorithm_name(algo));
    if (algo >= CK_ALGO_WINOGRAD_F2 && algo <= CK_ALGO_WINOGRAD_F6 && (o.flags & CK_PLAN_NO_WINOGRAD))
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "algorithm '%s' requested but the options forbid Winograd",
                       ck_algorithm_name(algo));
    return a->applicable(d, &o);
}

void ck_plan_init_common(ck_plan *p, ck_op_kind op, const ck_plan_options *o) {
    memset(p, 0, sizeof *p);
    p->op = op;
    p->algorithm = o->algorithm;
    p->threads = ck_resolve_threads(o->threads);
    p->flags = o->flags;
    p->workspace_limit = o->workspace_limit ? o->workspace_limit : CK_DEFAULT_WORKSPACE_LIMIT;
    p->impl_name = "reference";
}

ck_status ck_conv2d_plan_create(const ck_conv2d_desc *desc, const float *weights, const float *bias,
                                const ck_plan_options *options, ck_plan **out) {
    ck_clear_error();
    CK_CHECK_PTR(out, "plan");
    *out = NULL;
    ck_plan_options o;
    CK_CHECK(ck_plan_options_resolve(options, &o));
    int64_t P, Q;
    CK_CHECK(ck_conv2d_validate(desc, &P, &Q));
    CK_CHECK_PTR(weights, "weights");
    if (desc->has_bias) CK_CHECK_PTR(bias, "bias (has_bias is set)");

    ck_algorithm algo = o.algorithm;
    if (algo == CK_ALGO_AUTO) algo = ck_auto_choice(desc, &o);
    else CK_CHECK(ck_conv2d_algorithm_applicable(desc, algo, &o));
    const ck_conv_algo *a = ck_conv_algo_get(algo);
    if (!a) return ck_fail(CK_ERR_INTERNAL, "no driver for algorithm %d", (int)algo);

    ck_plan *p = calloc(1, sizeof *p);
    if (!p) return ck_fail(CK_ERR_OUT_OF_MEMORY, "allocating a plan");
    ck_plan_init_common(p, CK_OP_CONV2D, &o);
    p->algorithm = algo;
    p->d.conv = *desc;
    p->out_h = P;
    p->out_w = Q;
    p->algo = a;
    ck_status st = a->create(p, weights, desc->has_bias ? bias : NULL);
    if (st != CK_OK) {
        ck_plan_destroy(p);
        return st;
    }
    if (p->workspace_size > p->workspace_limit) {
        size_t need = p->workspace_size;
        ck_plan_destroy(p);
        return ck_fail(CK_ERR_WORKSPACE_LIMIT, "algorithm '%s' needs %zu bytes of workspace, above the limit of %zu",
                       ck_algorithm_name(algo), need, o.workspace_limit ? o.workspace_limit : CK_DEFAULT_WORKSPACE_LIMIT);
    }
    *out = p;
    return CK_OK;
}

/* Resolve the caller's workspace: NULL means allocate for this call. */
ck_status ck_workspace_acquire(const ck_plan *p, void *ws, size_t ws_bytes, void **use, void **owned) {
    *owned = NULL;
    *use = ws;
    if (p->workspace_size == 0) return CK_OK;
    if (ws) {
        if (ws_bytes < p->workspace_size)
            return ck_fail(CK_ERR_INSUFFICIENT_WORKSPACE, "workspace of %zu bytes given, the plan needs %zu", ws_bytes,
                           p->workspace_size);
        return CK_OK;
    }
    *owned = ck_malloc(p->workspace_size);
    if (!*owned) return ck_fail(CK_ERR_OUT_OF_MEMORY, "allocating %zu bytes of workspace", p->workspace_size);
    *use = *owned;
    return CK_OK;
}

ck_status ck_conv2d_execute(const ck_plan *p, const float *x, float *y, const float *residual, void *ws,
                            size_t ws_bytes) {
    ck_clear_error();
    CK_CHECK_PTR(p, "plan");
    if (p->op != CK_OP_CONV2D) return ck_fail(CK_ERR_INVALID_ARGUMENT, "plan is not a conv2d plan");
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(y, "y");
    void *use, *owned;
    CK_CHECK(ck_workspace_acquire(p, ws, ws_bytes, &use, &owned));
    ck_status st = p->algo->execute(p, x, y, residual, use);
    ck_free(owned);
    return st;
}

void ck_plan_destroy(ck_plan *p) {
    if (!p) return;
    if (p->algo && p->algo->destroy) p->algo->destroy(p);
    free(p->weights);
    free(p->bias);
    free(p);
}

ck_status ck_plan_workspace_size(const ck_plan *p, size_t *bytes) {
    ck_clear_error();
    CK_CHECK_PTR(p, "plan");
    CK_CHECK_PTR(bytes, "bytes");
    *bytes = p->workspace_size;
    return CK_OK;
}

ck_status ck_plan_algorithm(const ck_plan *p, ck_algorithm *algo) {
    ck_clear_error();
    CK_CHECK_PTR(p, "plan");
    CK_CHECK_PTR(algo, "algo");
    *algo = p->algorithm;
    return CK_OK;
}

const char *ck_plan_impl_name(const ck_plan *p) { return p && p->impl_name ? p->impl_name : ""; }

ck_status ck_plan_threads(const ck_plan *p, int32_t *threads) {
    ck_clear_error();
    CK_CHECK_PTR(p, "plan");
    CK_CHECK_PTR(threads, "threads");
    *threads = p->threads;
    return CK_OK;
}

/* ---- the reference algorithm as a conv driver ------------------------ */

ck_status ck_copy_weights(ck_plan *p, const float *w, int64_t wcount, const float *b, int64_t bcount) {
    p->weights = malloc((size_t)wcount * sizeof(float));
    if (!p->weights) return ck_fail(CK_ERR_OUT_OF_MEMORY, "copying %lld weights", (long long)wcount);
    memcpy(p->weights, w, (size_t)wcount * sizeof(float));
    if (b) {
        p->bias = malloc((size_t)bcount * sizeof(float));
        if (!p->bias) return ck_fail(CK_ERR_OUT_OF_MEMORY, "copying %lld biases", (long long)bcount);
        memcpy(p->bias, b, (size_t)bcount * sizeof(float));
    }
    return CK_OK;
}

static ck_status ref_applicable(const ck_conv2d_desc *d, const ck_plan_options *o) {
    (void)d; (void)o;
    return CK_OK;
}
static ck_status ref_create(ck_plan *p, const float *w, const float *b) {
    const ck_conv2d_desc *d = &p->d.conv;
    p->impl_name = "reference";
    return ck_copy_weights(p, w, d->k * (d->c / d->groups) * d->r * d->s, b, d->k);
}
static ck_status ref_execute(const ck_plan *p, const float *x, float *y, const float *res, void *ws) {
    (void)ws;
    ck_ref_conv2d(&p->d.conv, p->out_h, p->out_w, x, p->weights, p->bias, res, y);
    return CK_OK;
}
const ck_conv_algo ck_conv_algo_reference = {CK_ALGO_REFERENCE, ref_applicable, ref_create, ref_execute, NULL};
