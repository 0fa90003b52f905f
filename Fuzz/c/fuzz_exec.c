/* libFuzzer harness: execute plans on fuzzed SMALL shapes (every dimension
 * bounded so one input costs well under a millisecond) and compare each
 * algorithm that accepts the shape with the reference plan (float64
 * accumulation).  Tolerance per output element:
 *     |y - y_ref| <= tol(algo) * B + 1e-6,   B = sum|w*x| + |b| + |residual|
 * where B is computed by running the reference on |w|, |x|, |b|, |res| without
 * activation (all activations are 1-Lipschitz after scaling: leaky alpha <= 1).
 * tol = 1e-3 for direct/im2col/depthwise (a fuzzer-friendly bound, far looser
 * than the per-algorithm bounds of Tests/c), 1e-2 for Winograd F2/F4 and 5e-2
 * for F6 (fast math).  Winograd rounds tile-wide (a 4x4 or 6x6 output tile is
 * one transform), so an output whose own window is all zeros (bound 0) still
 * carries rounding from its tile neighbours: Winograd also gets a floor of
 * 1e-4 (F2/F4) or 1e-3 (F6) times the largest bound in the output.  Also checked: the NCHW8c channel tail matches the
 * reference, pooling (auto vs reference), dense (BLAS vs reference) and a
 * workspace supplied by the caller (exact size) vs workspace allocated by
 * ConvKit.  Any mismatch aborts with the case printed. */
#include "fuzz_common.h"
#include <math.h>

static float fz_val(fz_reader *r) { return (float)((int)fz_u8(r) - 128) / 32.0f; }

static void fill(fz_reader *r, float *p, int64_t n) {
    /* the first values come from the input, the rest from a generator seeded by it */
    uint32_t s = 0x9e3779b9u ^ (uint32_t)fz_u8(r) << 8 ^ fz_u8(r);
    for (int64_t i = 0; i < n; i++) {
        if (r->i < r->n && i < 16) { p[i] = fz_val(r); continue; }
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        p[i] = (float)((int)(s % 257) - 128) / 64.0f;
    }
}

static float *to_layout(ck_layout l, int64_t n, int64_t c, int64_t h, int64_t w, const float *nchw, int64_t *count) {
    if (ck_tensor_size(l, n, c, h, w, count) != CK_OK) FZ_ABORT("tensor_size failed on a small shape");
    float *out = calloc((size_t)*count, sizeof(float));
    if (ck_convert_layout(n, c, h, w, CK_LAYOUT_NCHW, nchw, l, out) != CK_OK) FZ_ABORT("convert_layout failed");
    return out;
}

static const char *desc_str(const ck_conv2d_desc *d) {
    static char buf[400];
    snprintf(buf, sizeof buf,
             "N%lld C%lld H%lld W%lld K%lld R%lld S%lld stride %lldx%lld pad %lld,%lld,%lld,%lld dil %lldx%lld g%lld "
             "bias %d act %d layout %d",
             (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w, (long long)d->k, (long long)d->r,
             (long long)d->s, (long long)d->stride_h, (long long)d->stride_w, (long long)d->pad_top,
             (long long)d->pad_left, (long long)d->pad_bottom, (long long)d->pad_right, (long long)d->dilation_h,
             (long long)d->dilation_w, (long long)d->groups, d->has_bias, (int)d->activation.kind, (int)d->layout);
    return buf;
}

static void fuzz_conv(fz_reader *r) {
    ck_conv2d_desc d = ck_conv2d_desc_init(fz_range(r, 1, 2), fz_range(r, 1, 12), fz_range(r, 1, 12),
                                           fz_range(r, 1, 12), fz_range(r, 1, 12), fz_range(r, 1, 5), fz_range(r, 1, 5));
    uint8_t shape = fz_u8(r);
    if (shape & 1) { d.r = d.s = 3; }                 /* the Winograd shape, often */
    if (shape & 2) d.stride_h = d.stride_w = fz_range(r, 1, 3);
    else { d.stride_h = fz_range(r, 1, 3); d.stride_w = fz_range(r, 1, 3); }
    d.pad_top = fz_range(r, 0, 3); d.pad_left = fz_range(r, 0, 3);
    d.pad_bottom = fz_range(r, 0, 3); d.pad_right = fz_range(r, 0, 3);
    if (shape & 4) { d.dilation_h = fz_range(r, 1, 3); d.dilation_w = fz_range(r, 1, 3); }
    uint8_t g = fz_u8(r) % 4;
    if (g == 1) { d.k = d.c; d.groups = d.c; }                        /* depthwise */
    else if (g == 2) { d.k = d.c * fz_range(r, 1, 3); d.groups = d.c; } /* channel multiplier */
    else if (g == 3) { int64_t gg = fz_range(r, 1, 4); d.c = gg * fz_range(r, 1, 4); d.k = gg * fz_range(r, 1, 4); d.groups = gg; }
    d.has_bias = fz_u8(r) & 1;
    d.activation.kind = (ck_activation_kind)(fz_u8(r) % 6);
    d.activation.alpha = 0.25f;
    d.layout = (ck_layout)(fz_u8(r) % 3);
    int with_res = fz_u8(r) & 1;
    uint8_t lim = fz_u8(r);
    size_t ws_limit = lim < 192 ? 0 : (size_t)(lim - 191) * 256; /* sometimes tiny: algorithms must block to fit */

    int64_t P, Q;
    if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) return; /* empty output etc.: fuzz_desc covers errors */

    int64_t xn = d.n * d.c * d.h * d.w, yn = d.n * d.k * P * Q, wn = d.k * (d.c / d.groups) * d.r * d.s;
    float *x = malloc(sizeof(float) * xn), *w = malloc(sizeof(float) * wn), *b = malloc(sizeof(float) * d.k);
    float *res = malloc(sizeof(float) * yn);
    fill(r, x, xn); fill(r, w, wn); fill(r, b, d.k); fill(r, res, yn);
    float *ax = malloc(sizeof(float) * xn), *aw = malloc(sizeof(float) * wn), *ab = malloc(sizeof(float) * d.k);
    float *ares = malloc(sizeof(float) * yn);
    for (int64_t i = 0; i < xn; i++) ax[i] = fabsf(x[i]);
    for (int64_t i = 0; i < wn; i++) aw[i] = fabsf(w[i]);
    for (int64_t i = 0; i < d.k; i++) ab[i] = fabsf(b[i]);
    for (int64_t i = 0; i < yn; i++) ares[i] = fabsf(res[i]);

    int64_t xc, yc, tmp;
    float *lx = to_layout(d.layout, d.n, d.c, d.h, d.w, x, &xc);
    float *lax = to_layout(d.layout, d.n, d.c, d.h, d.w, ax, &tmp);
    float *lres = to_layout(d.layout, d.n, d.k, P, Q, res, &yc);
    float *lares = to_layout(d.layout, d.n, d.k, P, Q, ares, &tmp);
    float *yref = calloc(yc, sizeof(float)), *ybound = calloc(yc, sizeof(float)), *y = malloc(sizeof(float) * yc);

    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = CK_ALGO_REFERENCE;
    o.threads = 1;
    ck_plan *ref = NULL, *bnd = NULL;
    if (ck_conv2d_plan_create(&d, w, b, &o, &ref) != CK_OK) FZ_ABORT("reference plan failed: %s [%s]", ck_last_error_message(), desc_str(&d));
    ck_conv2d_desc da = d;
    da.activation.kind = CK_ACT_NONE;
    if (ck_conv2d_plan_create(&da, aw, ab, &o, &bnd) != CK_OK) FZ_ABORT("bound plan failed");
    if (ck_conv2d_execute(ref, lx, yref, with_res ? lres : NULL, NULL, 0) != CK_OK) FZ_ABORT("reference execute failed");
    if (ck_conv2d_execute(bnd, lax, ybound, with_res ? lares : NULL, NULL, 0) != CK_OK) FZ_ABORT("bound execute failed");

    for (int a = CK_ALGO_AUTO; a < CK_ALGO_COUNT; a++) {
        if (a == CK_ALGO_REFERENCE) continue;
        o.algorithm = (ck_algorithm)a;
        o.flags = a == CK_ALGO_WINOGRAD_F6 ? CK_PLAN_FAST_MATH : 0;
        o.workspace_limit = ws_limit;
        ck_plan *p = NULL;
        ck_status st = ck_conv2d_plan_create(&d, w, b, &o, &p);
        fz_check_status(st, "conv2d_plan_create");
        ck_status ap = ck_conv2d_algorithm_applicable(&d, (ck_algorithm)a, &o);
        if (st == CK_OK && ap != CK_OK) FZ_ABORT("%s: plan created but applicable says %d", ck_algorithm_name(a), (int)ap);
        if (st != CK_OK) {
            if (st == CK_ERR_UNSUPPORTED_ALGORITHM || st == CK_ERR_UNSUPPORTED_ISA || st == CK_ERR_WORKSPACE_LIMIT) continue;
            FZ_ABORT("%s refused a valid small shape with %s: %s [%s]", ck_algorithm_name(a), ck_status_string(st),
                     ck_last_error_message(), desc_str(&d));
        }
        ck_algorithm used;
        ck_plan_algorithm(p, &used);
        double tol = (used >= CK_ALGO_WINOGRAD_F2 && used <= CK_ALGO_WINOGRAD_F4) ? 1e-2
                   : used == CK_ALGO_WINOGRAD_F6 ? 5e-2 : 1e-3;
        double floor_ = 0;
        if (used >= CK_ALGO_WINOGRAD_F2 && used <= CK_ALGO_WINOGRAD_F6) {
            for (int64_t i = 0; i < yc; i++) if (ybound[i] > floor_) floor_ = ybound[i];
            floor_ *= used == CK_ALGO_WINOGRAD_F6 ? 1e-3 : 1e-4;
        }
        size_t wsz = 0;
        ck_plan_workspace_size(p, &wsz);
        for (int pass = 0; pass < 2; pass++) {
            /* pass 0: ConvKit allocates the workspace; pass 1: an exact-size caller buffer (ASan sees overruns) */
            void *ws = pass == 1 && wsz ? malloc(wsz) : NULL;
            for (int64_t i = 0; i < yc; i++) y[i] = NAN;
            st = ck_conv2d_execute(p, lx, y, with_res ? lres : NULL, ws, wsz);
            free(ws);
            if (st != CK_OK) FZ_ABORT("%s execute failed: %s [%s]", ck_plan_impl_name(p), ck_last_error_message(), desc_str(&d));
            for (int64_t i = 0; i < yc; i++) {
                double e = fabs((double)y[i] - (double)yref[i]);
                if (!(e <= tol * ybound[i] + floor_ + 1e-6))
                    FZ_ABORT("%s (%s) differs from the reference at element %lld of %lld: %g vs %g (bound %g, tol %g) "
                             "ws_limit %zu residual %d pass %d [%s]",
                             ck_algorithm_name(used), ck_plan_impl_name(p), (long long)i, (long long)yc, y[i], yref[i],
                             ybound[i], tol, ws_limit, with_res, pass, desc_str(&d));
            }
        }
        ck_plan_destroy(p);
    }
    ck_plan_destroy(ref);
    ck_plan_destroy(bnd);
    free(x); free(w); free(b); free(res); free(ax); free(aw); free(ab); free(ares);
    free(lx); free(lax); free(lres); free(lares); free(yref); free(ybound); free(y);
}

static void fuzz_pool(fz_reader *r) {
    ck_pool2d_desc d;
    memset(&d, 0, sizeof d);
    d.kind = (ck_pool_kind)(fz_u8(r) % 2);
    d.n = fz_range(r, 1, 2); d.c = fz_range(r, 1, 12); d.h = fz_range(r, 1, 12); d.w = fz_range(r, 1, 12);
    d.r = fz_range(r, 1, 4); d.s = fz_range(r, 1, 4);
    d.stride_h = fz_range(r, 1, 3); d.stride_w = fz_range(r, 1, 3);
    d.pad_top = fz_range(r, 0, 2); d.pad_left = fz_range(r, 0, 2); d.pad_bottom = fz_range(r, 0, 2); d.pad_right = fz_range(r, 0, 2);
    d.dilation_h = fz_range(r, 1, 2); d.dilation_w = fz_range(r, 1, 2);
    d.count_include_pad = fz_u8(r) & 1;
    d.ceil_mode = fz_u8(r) & 1;
    d.layout = (ck_layout)(fz_u8(r) % 3);
    int64_t P, Q;
    if (ck_pool2d_output_shape(&d, &P, &Q) != CK_OK) return;
    int64_t xn = d.n * d.c * d.h * d.w, xc, yc;
    float *x = malloc(sizeof(float) * xn);
    fill(r, x, xn);
    float *lx = to_layout(d.layout, d.n, d.c, d.h, d.w, x, &xc);
    ck_tensor_size(d.layout, d.n, d.c, P, Q, &yc);
    float *y1 = calloc(yc, sizeof(float)), *y2 = calloc(yc, sizeof(float));
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    ck_plan *pa = NULL, *pr = NULL;
    if (ck_pool2d_plan_create(&d, &o, &pa) != CK_OK) FZ_ABORT("pool auto plan failed: %s", ck_last_error_message());
    o.algorithm = CK_ALGO_REFERENCE;
    if (ck_pool2d_plan_create(&d, &o, &pr) != CK_OK) FZ_ABORT("pool reference plan failed");
    if (ck_pool2d_execute(pa, lx, y1) != CK_OK || ck_pool2d_execute(pr, lx, y2) != CK_OK) FZ_ABORT("pool execute failed");
    for (int64_t i = 0; i < yc; i++)
        if (!(fabsf(y1[i] - y2[i]) <= 1e-5f * (1.0f + fabsf(y2[i]))))
            FZ_ABORT("pool kind %d auto vs reference at %lld: %g vs %g (N%lld C%lld H%lld W%lld R%lld S%lld layout %d)",
                     (int)d.kind, (long long)i, y1[i], y2[i], (long long)d.n, (long long)d.c, (long long)d.h,
                     (long long)d.w, (long long)d.r, (long long)d.s, (int)d.layout);
    ck_plan_destroy(pa); ck_plan_destroy(pr);
    free(x); free(lx); free(y1); free(y2);
}

static void fuzz_dense(fz_reader *r) {
    ck_dense_desc d;
    memset(&d, 0, sizeof d);
    d.n = fz_range(r, 1, 4); d.in_features = fz_range(r, 1, 64); d.out_features = fz_range(r, 1, 32);
    d.has_bias = fz_u8(r) & 1;
    d.activation.kind = (ck_activation_kind)(fz_u8(r) % 6);
    d.activation.alpha = 0.25f;
    int64_t xn = d.n * d.in_features, wn = d.in_features * d.out_features, yn = d.n * d.out_features;
    float *x = malloc(sizeof(float) * xn), *w = malloc(sizeof(float) * wn), *b = malloc(sizeof(float) * d.out_features);
    fill(r, x, xn); fill(r, w, wn); fill(r, b, d.out_features);
    float *y1 = calloc(yn, sizeof(float)), *y2 = calloc(yn, sizeof(float));
    double *bound = calloc(yn, sizeof(double));
    for (int64_t n = 0; n < d.n; n++)
        for (int64_t o = 0; o < d.out_features; o++) {
            double s = d.has_bias ? fabs(b[o]) : 0;
            for (int64_t i = 0; i < d.in_features; i++) s += fabs((double)w[o * d.in_features + i] * x[n * d.in_features + i]);
            bound[n * d.out_features + o] = s;
        }
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    ck_plan *pa = NULL, *pr = NULL;
    if (ck_dense_plan_create(&d, w, b, &o, &pa) != CK_OK) FZ_ABORT("dense auto plan failed: %s", ck_last_error_message());
    o.algorithm = CK_ALGO_REFERENCE;
    if (ck_dense_plan_create(&d, w, b, &o, &pr) != CK_OK) FZ_ABORT("dense reference plan failed");
    if (ck_dense_execute(pa, x, y1) != CK_OK || ck_dense_execute(pr, x, y2) != CK_OK) FZ_ABORT("dense execute failed");
    for (int64_t i = 0; i < yn; i++)
        if (!(fabs((double)y1[i] - y2[i]) <= 1e-3 * bound[i] + 1e-6))
            FZ_ABORT("dense auto vs reference at %lld: %g vs %g (n%lld in%lld out%lld act %d)", (long long)i, y1[i], y2[i],
                     (long long)d.n, (long long)d.in_features, (long long)d.out_features, (int)d.activation.kind);
    ck_plan_destroy(pa); ck_plan_destroy(pr);
    free(x); free(w); free(b); free(y1); free(y2); free(bound);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_reader r = {data, size, 0};
    uint8_t op = fz_u8(&r) % 8;
    if (op < 6) fuzz_conv(&r);
    else if (op == 6) fuzz_pool(&r);
    else fuzz_dense(&r);
    return 0;
}
