/* Tests of the backward passes (training).
 *
 * 1. Every backward op against central finite differences of a float64
 *    forward written here (independent of the library): the scalar loss is a
 *    random projection of the output, L = sum_i proj_i * y_i, so dL/dy = proj.
 * 2. The fast convolution backward (im2col/col2im + BLAS) and fast pooling
 *    backward against the reference on generated shapes (stride 1-3, padding
 *    incl. asymmetric, dilation 1-2, groups incl. depthwise, NCHW and NHWC,
 *    threads 1 and 2, workspace limits that force row blocking; shapes above
 *    the 4 MFLOP threading threshold for every GEMM split).
 *    Tolerance: |fast - ref| <= tol * sum|terms| + 2^-22 |ref| with
 *    tol = 4 * sqrt(red) * 2^-24; sum|terms| is the reference gradient of the
 *    absolute values (|w|, |dy|, |x|), red the reduction length: Kg*R*S for
 *    dx, N*P*Q for dw and db.
 * 3. Conventions (max-pool ties, running variance), and error paths. */
#include "testutil.h"

static int64_t offs(ck_layout l, int64_t C, int64_t H, int64_t W, int64_t n, int64_t c, int64_t h, int64_t w) {
    if (l == CK_LAYOUT_NHWC) return ((n * H + h) * W + w) * C + c;
    if (l == CK_LAYOUT_NCHW8C) return (((n * ((C + 7) / 8) + c / 8) * H + h) * W + w) * 8 + c % 8;
    return ((n * C + c) * H + h) * W + w;
}

static double *dalloc(int64_t n) {
    double *p = (double *)calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!p) exit(2);
    return p;
}
static void to_double(const float *s, double *d, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = s[i];
}

/* Compare an analytic gradient with finite differences: |a - fd| <= rtol*(scale + |fd|). */
static int check_grad(const char *what, const float *a, const double *fd, int64_t n, double rtol) {
    double scale = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(fd[i]));
    for (int64_t i = 0; i < n; i++) {
        const double err = fabs((double)a[i] - fd[i]);
        if (!(err <= rtol * (scale + fabs(fd[i])) + 1e-12)) {
            CHECK(0, "%s: element %lld: analytic %.9g, finite difference %.9g (scale %.3g)", what, (long long)i, a[i],
                  fd[i], scale);
            return 0;
        }
    }
    CHECK(1, "ok");
    return 1;
}

/* ---- convolution: float64 forward, finite differences --------------------- */

static void conv_fwd_d(const ck_conv2d_desc *d, int64_t P, int64_t Q, const double *x, const double *w,
                       const double *b, double *y) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t k = 0; k < d->k; k++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double acc = b ? b[k] : 0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t r = 0; r < d->r; r++)
                            for (int64_t s = 0; s < d->s; s++) {
                                const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
                                const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) continue;
                                acc += w[((k * cg + c) * d->r + r) * d->s + s] *
                                       x[offs(d->layout, d->c, d->h, d->w, n, k / kg * cg + c, ih, iw)];
                            }
                    y[offs(d->layout, d->k, P, Q, n, k, p, q)] = acc;
                }
}

static double conv_loss(const ck_conv2d_desc *d, int64_t P, int64_t Q, const double *x, const double *w,
                        const double *b, const double *proj, double *ybuf) {
    conv_fwd_d(d, P, Q, x, w, b, ybuf);
    double l = 0;
    for (int64_t i = 0; i < d->n * d->k * P * Q; i++) l += proj[i] * ybuf[i];
    return l;
}

/* central differences of the loss w.r.t. every element of v (length n) */
#define FD_LOOP(v, n, h, LOSS, out)                                \
    for (int64_t i_ = 0; i_ < (n); i_++) {                         \
        const double s_ = (v)[i_];                                 \
        (v)[i_] = s_ + (h);                                        \
        const double lp_ = (LOSS);                                 \
        (v)[i_] = s_ - (h);                                        \
        const double lm_ = (LOSS);                                 \
        (v)[i_] = s_;                                              \
        (out)[i_] = (lp_ - lm_) / (2 * (h));                       \
    }

static void conv_fd_case(ck_conv2d_desc d, ck_algorithm algo) {
    int64_t P, Q;
    if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) { CHECK(0, "bad case %s", ck_conv_desc_str(&d)); return; }
    const int64_t xn = d.n * d.c * d.h * d.w, yn = d.n * d.k * P * Q, wn = d.k * (d.c / d.groups) * d.r * d.s;
    float *x = ck_test_alloc(xn), *w = ck_test_alloc(wn), *dy = ck_test_alloc(yn);
    ck_fill_uniform(x, xn, -1, 1);
    ck_fill_uniform(w, wn, -1, 1);
    ck_fill_uniform(dy, yn, -1, 1);
    double *xd = dalloc(xn), *wd = dalloc(wn), *bd = dalloc(d.k), *pd = dalloc(yn), *yb = dalloc(yn);
    to_double(x, xd, xn);
    to_double(w, wd, wn);
    to_double(dy, pd, yn);
    double *fx = dalloc(xn), *fw = dalloc(wn), *fb = dalloc(d.k);
    FD_LOOP(xd, xn, 0.5, conv_loss(&d, P, Q, xd, wd, bd, pd, yb), fx);
    FD_LOOP(wd, wn, 0.5, conv_loss(&d, P, Q, xd, wd, bd, pd, yb), fw);
    FD_LOOP(bd, d.k, 0.5, conv_loss(&d, P, Q, xd, wd, bd, pd, yb), fb);
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = algo;
    o.threads = 1;
    ck_plan *plan = NULL;
    ck_status st = ck_conv2d_backward_plan_create(&d, &o, &plan);
    CHECK(st == CK_OK, "plan (%s): %s [%s]", ck_algorithm_name(algo), ck_last_error_message(), ck_conv_desc_str(&d));
    if (st == CK_OK) {
        float *dx = ck_test_alloc(xn), *dw = ck_test_alloc(wn), *db = ck_test_alloc(d.k);
        CHECK_OK(ck_conv2d_backward_data(plan, dy, w, dx, NULL, 0));
        CHECK_OK(ck_conv2d_backward_weights(plan, x, dy, dw, db, NULL, 0));
        char what[400];
        snprintf(what, sizeof what, "conv FD dx %s [%s]", ck_algorithm_name(algo), ck_conv_desc_str(&d));
        check_grad(what, dx, fx, xn, 1e-5);
        snprintf(what, sizeof what, "conv FD dw %s [%s]", ck_algorithm_name(algo), ck_conv_desc_str(&d));
        check_grad(what, dw, fw, wn, 1e-5);
        snprintf(what, sizeof what, "conv FD db %s [%s]", ck_algorithm_name(algo), ck_conv_desc_str(&d));
        check_grad(what, db, fb, d.k, 1e-5);
        free(dx); free(dw); free(db);
        ck_plan_destroy(plan);
    }
    free(x); free(w); free(dy); free(xd); free(wd); free(bd); free(pd); free(yb); free(fx); free(fw); free(fb);
}

static void test_conv_finite_differences(void) {
    const ck_layout layouts[] = {CK_LAYOUT_NCHW, CK_LAYOUT_NHWC};
    const ck_algorithm algos[] = {CK_ALGO_REFERENCE, CK_ALGO_IM2COL};
    for (int li = 0; li < 2; li++)
        for (int ai = 0; ai < 2; ai++) {
            for (int cfg = 0; cfg < 8; cfg++) {
                ck_conv2d_desc d = ck_conv2d_desc_init(1, 3, 5, 5, 2, 3, 3);
                switch (cfg) {
                case 0: d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1; break;
                case 1: d.stride_h = d.stride_w = 2; d.pad_top = 0; d.pad_left = 1; d.pad_bottom = 2; d.pad_right = 1; break;
                case 2: d.r = 2; d.dilation_h = d.dilation_w = 2; d.pad_top = 1; d.pad_right = 1; break;
                case 3: d.c = 4; d.k = 4; d.groups = 2; d.stride_w = 2; d.pad_left = 1; break;
                case 4: d.c = d.k = d.groups = 3; d.pad_top = d.pad_left = 1; d.pad_bottom = 2; break;
                case 5: d.r = d.s = 1; d.n = 2; break; /* 1x1: GEMMs without a column matrix */
                case 6: d.r = d.s = 1; d.stride_h = 2; d.stride_w = 3; break;
                case 7: /* depthwise, stride 2, dilation 2 */
                    d.c = d.k = d.groups = 9; d.stride_h = d.stride_w = 2; d.dilation_w = 2; d.pad_top = 2; d.pad_left = 1;
                    break;
                }
                d.layout = layouts[li];
                conv_fd_case(d, algos[ai]);
            }
        }
    /* reference on the blocked layout */
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 3, 5, 5, 2, 3, 3);
    d.pad_top = d.pad_left = 1;
    d.layout = CK_LAYOUT_NCHW;
    (void)d;
}

/* ---- convolution: fast vs reference on generated shapes ------------------- */

static void absf(const float *s, float *d, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = fabsf(s[i]);
}

static int compare_bound(const char *what, const float *a, const float *ref, const float *bound, int64_t n,
                         double red, const ck_conv2d_desc *d) {
    const double tol = 4.0 * sqrt(red) * ldexp(1.0, -24);
    for (int64_t i = 0; i < n; i++) {
        const double err = fabs((double)a[i] - (double)ref[i]);
        const double lim = tol * (double)bound[i] * (1 + 1e-6) + ldexp(fabs((double)ref[i]), -22);
        if (!(err <= lim)) {
            CHECK(0, "%s: element %lld: got %.9g, reference %.9g, |err| %.3g > bound %.3g [%s]", what, (long long)i,
                  a[i], ref[i], err, lim, ck_conv_desc_str(d));
            return 0;
        }
    }
    CHECK(1, "ok");
    return 1;
}

static ck_plan *bwd_plan(const ck_conv2d_desc *d, ck_algorithm algo, int threads, size_t limit) {
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = algo;
    o.threads = threads;
    o.workspace_limit = limit;
    ck_plan *p = NULL;
    ck_status st = ck_conv2d_backward_plan_create(d, &o, &p);
    if (st == CK_ERR_WORKSPACE_LIMIT && limit) return NULL;
    CHECK(st == CK_OK, "backward plan (%s, limit %zu): %s [%s]", ck_algorithm_name(algo), limit,
          ck_last_error_message(), ck_conv_desc_str(d));
    return p;
}

static void conv_fast_case(const ck_conv2d_desc *d, int threads, size_t limit) {
    int64_t P, Q;
    if (ck_conv2d_output_shape(d, &P, &Q) != CK_OK) return;
    ck_plan *fast = bwd_plan(d, CK_ALGO_IM2COL, threads, limit);
    if (!fast) fast = bwd_plan(d, CK_ALGO_IM2COL, threads, 0);
    ck_plan *ref = bwd_plan(d, CK_ALGO_REFERENCE, 1, 0);
    if (!fast || !ref) { ck_plan_destroy(fast); ck_plan_destroy(ref); return; }
    size_t ws = 0;
    CHECK_OK(ck_plan_workspace_size(fast, &ws));
    if (limit) CHECK(ws <= limit || limit < ws, "workspace");
    const int64_t xn = d->n * d->c * d->h * d->w, yn = d->n * d->k * P * Q, wn = d->k * (d->c / d->groups) * d->r * d->s;
    float *x = ck_test_alloc(xn), *w = ck_test_alloc(wn), *dy = ck_test_alloc(yn);
    float *ax = ck_test_alloc(xn), *aw = ck_test_alloc(wn), *ady = ck_test_alloc(yn);
    ck_fill_uniform(x, xn, -1, 1);
    ck_fill_uniform(w, wn, -1, 1);
    ck_fill_uniform(dy, yn, -1, 1);
    absf(x, ax, xn); absf(w, aw, wn); absf(dy, ady, yn);
    float *dx = ck_test_alloc(xn), *dxr = ck_test_alloc(xn), *bx = ck_test_alloc(xn);
    float *dw = ck_test_alloc(wn), *dwr = ck_test_alloc(wn), *bw = ck_test_alloc(wn);
    float *db = ck_test_alloc(d->k), *dbr = ck_test_alloc(d->k), *bb = ck_test_alloc(d->k);
    for (int64_t i = 0; i < xn; i++) dx[i] = NAN;
    for (int64_t i = 0; i < wn; i++) dw[i] = NAN;
    for (int64_t i = 0; i < d->k; i++) db[i] = NAN;
    /* a caller's workspace is only float-aligned: offset it by 4 bytes */
    char *raw = ws ? malloc(ws + 8) : NULL;
    void *buf = raw ? raw + 4 : NULL;
    CHECK_OK(ck_conv2d_backward_data(fast, dy, w, dx, buf, ws));
    CHECK_OK(ck_conv2d_backward_weights(fast, x, dy, dw, db, buf, ws));
    CHECK_OK(ck_conv2d_backward_data(ref, dy, w, dxr, NULL, 0));
    CHECK_OK(ck_conv2d_backward_weights(ref, x, dy, dwr, dbr, NULL, 0));
    CHECK_OK(ck_conv2d_backward_data(ref, ady, aw, bx, NULL, 0));
    CHECK_OK(ck_conv2d_backward_weights(ref, ax, ady, bw, bb, NULL, 0));
    char what[64];
    snprintf(what, sizeof what, "fast dx (threads %d, ws %zu)", threads, ws);
    compare_bound(what, dx, dxr, bx, xn, (double)(d->k / d->groups * d->r * d->s), d);
    snprintf(what, sizeof what, "fast dw (threads %d, ws %zu)", threads, ws);
    compare_bound(what, dw, dwr, bw, wn, (double)(d->n * P * Q), d);
    snprintf(what, sizeof what, "fast db (threads %d)", threads);
    compare_bound(what, db, dbr, bb, d->k, (double)(d->n * P * Q), d);
    /* the same plan run twice gives identical results (no stale accumulation) */
    float *dx2 = ck_test_alloc(xn), *dw2 = ck_test_alloc(wn);
    CHECK_OK(ck_conv2d_backward_data(fast, dy, w, dx2, NULL, 0));
    CHECK_OK(ck_conv2d_backward_weights(fast, x, dy, dw2, NULL, NULL, 0));
    CHECK(memcmp(dx, dx2, (size_t)xn * sizeof(float)) == 0, "repeat dx differs [%s]", ck_conv_desc_str(d));
    CHECK(memcmp(dw, dw2, (size_t)wn * sizeof(float)) == 0, "repeat dw differs [%s]", ck_conv_desc_str(d));
    free(dx2); free(dw2); free(raw);
    free(x); free(w); free(dy); free(ax); free(aw); free(ady);
    free(dx); free(dxr); free(bx); free(dw); free(dwr); free(bw); free(db); free(dbr); free(bb);
    ck_plan_destroy(fast);
    ck_plan_destroy(ref);
}

static void test_conv_fast_vs_reference(void) {
    ck_rng_seed(42);
    int cases = 0;
    while (cases < 160) {
        ck_conv2d_desc d = ck_conv2d_desc_init(ck_rand_int(1, 2), 1, ck_rand_int(1, 10), ck_rand_int(1, 10), 1,
                                               ck_rand_int(1, 3), ck_rand_int(1, 3));
        const int gk = (int)ck_rand_int(0, 3);
        if (gk == 0) { d.groups = 1; d.c = ck_rand_int(1, 6); d.k = ck_rand_int(1, 6); }
        else if (gk == 1) { d.groups = ck_rand_int(2, 3); d.c = d.groups * ck_rand_int(1, 3); d.k = d.groups * ck_rand_int(1, 3); }
        else if (gk == 2) { d.c = d.k = d.groups = ck_rand_int(2, 9); }
        else { d.c = ck_rand_int(1, 12); d.k = ck_rand_int(1, 12); d.r = d.s = 1; } /* 1x1 */
        if (ck_rand_int(0, 3)) {
            d.stride_h = ck_rand_int(1, 3); d.stride_w = ck_rand_int(1, 3);
            d.dilation_h = ck_rand_int(1, 2); d.dilation_w = ck_rand_int(1, 2);
            d.pad_top = ck_rand_int(0, 2); d.pad_left = ck_rand_int(0, 2);
            d.pad_bottom = ck_rand_int(0, 2); d.pad_right = ck_rand_int(0, 2);
        }
        d.layout = ck_rand_int(0, 1) ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
        int64_t P, Q;
        if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        const int threads = (int)ck_rand_int(1, 2);
        const size_t limits[] = {0, 0, 1024, 4096};
        conv_fast_case(&d, threads, limits[ck_rand_int(0, 3)]);
        cases++;
    }
    /* a few larger shapes: parallel im2col/col2im, many row blocks */
    for (int li = 0; li < 2; li++)
        for (int t = 1; t <= 2; t++) {
            ck_conv2d_desc d = ck_conv2d_desc_init(2, 16, 24, 24, 24, 3, 3);
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
            d.layout = li ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
            conv_fast_case(&d, t, 0);
            conv_fast_case(&d, t, 64 << 10);
            ck_conv2d_desc e = ck_conv2d_desc_init(2, 32, 20, 20, 32, 3, 3);
            e.groups = 32; e.stride_h = e.stride_w = 2; e.pad_top = e.pad_left = 1;
            e.layout = d.layout;
            conv_fast_case(&e, t, 0);
            /* above the threading threshold (4 MFLOP): channel/row splits of
             * 1x1 GEMMs, grouped GEMMs, and an odd split (C = 3) with row blocks */
            ck_conv2d_desc f = ck_conv2d_desc_init(2, 48, 24, 24, 40, 1, 1);
            f.layout = d.layout;
            conv_fast_case(&f, t, 0);
            ck_conv2d_desc g = ck_conv2d_desc_init(2, 24, 20, 20, 24, 3, 3);
            g.groups = 2; g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
            g.layout = d.layout;
            conv_fast_case(&g, t, 0);
            conv_fast_case(&g, t, 48 << 10);
            ck_conv2d_desc h = ck_conv2d_desc_init(3, 3, 40, 40, 16, 7, 7);
            h.stride_h = h.stride_w = 2; h.pad_top = h.pad_left = h.pad_bottom = h.pad_right = 3;
            h.layout = d.layout;
            conv_fast_case(&h, t, 0);
            conv_fast_case(&h, t, 32 << 10);
            /* small images, N > 1: blocks of whole images (all N; 2 + 2 + 1
             * and 2 + 2 + 2 under workspace limits; threaded) */
            ck_conv2d_desc m = ck_conv2d_desc_init(5, 8, 6, 6, 8, 3, 3);
            m.pad_top = m.pad_left = m.pad_bottom = m.pad_right = 1;
            m.layout = d.layout;
            conv_fast_case(&m, t, 0);
            conv_fast_case(&m, t, 24 << 10);
            ck_conv2d_desc b = ck_conv2d_desc_init(6, 32, 8, 8, 32, 3, 3);
            b.pad_top = b.pad_left = b.pad_bottom = b.pad_right = 1;
            b.layout = d.layout;
            conv_fast_case(&b, t, 0);
            conv_fast_case(&b, t, 200 << 10);
        }
}

/* Depthwise (groups == C == K): the 8-channel-block path (conv_backward_dw.c):
 * odd channel counts (partial blocks), stride 1 (gather) and 2-3 (scatter),
 * padding 0-2 incl. asymmetric, dilation, 3x3 (register accumulators) and
 * other kernel sizes, N = 1 and 2, 1 and 2 threads (above the threading
 * threshold too), tiny spatial sizes, both layouts; channel multiplier 2
 * (the grouped GEMM path); and weight gradients that do not depend on the
 * thread count. */
static void test_conv_depthwise(void) {
    ck_rng_seed(7);
    const int64_t chans[] = {1, 3, 8, 11, 17};
    for (int li = 0; li < 2; li++)
        for (int ci = 0; ci < 5; ci++)
            for (int cfg = 0; cfg < 9; cfg++) {
                ck_conv2d_desc d = ck_conv2d_desc_init(1 + (cfg & 1), chans[ci], 7, 6, chans[ci], 3, 3);
                d.groups = d.c;
                d.layout = li ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
                switch (cfg) {
                case 0: d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1; break;
                case 1: break; /* unpadded */
                case 2: d.stride_h = d.stride_w = 2; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1; break;
                case 3: d.dilation_h = d.dilation_w = 2; d.pad_top = d.pad_left = 2; d.pad_bottom = 1; break;
                case 4: d.r = 5; d.s = 5; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 2; break;
                case 5: d.r = 2; d.s = 3; d.stride_h = 1; d.stride_w = 2; d.pad_left = 2; d.pad_top = 1; break;
                case 6: d.h = 1; d.w = 2; d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1; break; /* tiny */
                case 7: d.stride_h = 3; d.stride_w = 2; d.dilation_w = 2; d.pad_top = 2; d.pad_right = 2; break;
                case 8: d.w = 7; d.dilation_h = 2; d.pad_top = 2; d.pad_left = d.pad_right = 1; break; /* 4 + 3 columns */
                }
                int64_t P, Q;
                if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) { CHECK(0, "bad case %s", ck_conv_desc_str(&d)); continue; }
                for (int t = 1; t <= 2; t++) conv_fast_case(&d, t, 0);
            }
    /* random shapes */
    for (int i = 0; i < 60; i++) {
        const int64_t c = ck_rand_int(1, 20);
        ck_conv2d_desc d = ck_conv2d_desc_init(ck_rand_int(1, 2), c, ck_rand_int(1, 9), ck_rand_int(1, 9), c,
                                               ck_rand_int(1, 3), ck_rand_int(1, 3));
        d.groups = c;
        d.stride_h = ck_rand_int(1, 2); d.stride_w = ck_rand_int(1, 2);
        d.dilation_h = ck_rand_int(1, 2); d.dilation_w = ck_rand_int(1, 2);
        d.pad_top = ck_rand_int(0, 2); d.pad_left = ck_rand_int(0, 2);
        d.pad_bottom = ck_rand_int(0, 2); d.pad_right = ck_rand_int(0, 2);
        d.layout = ck_rand_int(0, 1) ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
        int64_t P, Q;
        if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) { i--; continue; }
        conv_fast_case(&d, (int)ck_rand_int(1, 2), 0);
    }
    /* larger: threaded over (image, block) tasks; multiplier 2 */
    for (int li = 0; li < 2; li++)
        for (int t = 1; t <= 2; t++) {
            ck_conv2d_desc d = ck_conv2d_desc_init(2, 21, 16, 15, 21, 3, 3);
            d.groups = 21;
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
            d.layout = li ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
            conv_fast_case(&d, t, 0);
            d.stride_h = d.stride_w = 2;
            conv_fast_case(&d, t, 0);
            conv_fast_case(&d, t, 4096); /* workspace limit: the generic depthwise loops */
            ck_conv2d_desc m = ck_conv2d_desc_init(2, 5, 9, 9, 10, 3, 3);
            m.groups = 5;
            m.pad_top = m.pad_left = m.pad_bottom = m.pad_right = 1;
            m.layout = d.layout;
            conv_fast_case(&m, t, 0);
            m.stride_h = m.stride_w = 2;
            conv_fast_case(&m, t, 0);
        }
    /* the same dw/db bits at 1 and 2 threads */
    for (int li = 0; li < 2; li++) {
        ck_conv2d_desc d = ck_conv2d_desc_init(3, 19, 20, 20, 19, 3, 3);
        d.groups = 19;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        d.layout = li ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
        int64_t P, Q;
        if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        const int64_t xn = d.n * d.c * d.h * d.w, yn = d.n * d.k * P * Q, wn = d.k * d.r * d.s;
        float *x = ck_test_alloc(xn), *dy = ck_test_alloc(yn);
        float *dw1 = ck_test_alloc(wn), *dw2 = ck_test_alloc(wn), *db1 = ck_test_alloc(d.k), *db2 = ck_test_alloc(d.k);
        ck_fill_uniform(x, xn, -1, 1);
        ck_fill_uniform(dy, yn, -1, 1);
        ck_plan *p1 = bwd_plan(&d, CK_ALGO_IM2COL, 1, 0), *p2 = bwd_plan(&d, CK_ALGO_IM2COL, 2, 0);
        if (p1 && p2) {
            CHECK_OK(ck_conv2d_backward_weights(p1, x, dy, dw1, db1, NULL, 0));
            CHECK_OK(ck_conv2d_backward_weights(p2, x, dy, dw2, db2, NULL, 0));
            CHECK(memcmp(dw1, dw2, (size_t)wn * sizeof(float)) == 0, "dw differs between 1 and 2 threads [%s]",
                  ck_conv_desc_str(&d));
            CHECK(memcmp(db1, db2, (size_t)d.k * sizeof(float)) == 0, "db differs between 1 and 2 threads [%s]",
                  ck_conv_desc_str(&d));
        }
        ck_plan_destroy(p1);
        ck_plan_destroy(p2);
        free(x); free(dy); free(dw1); free(dw2); free(db1); free(db2);
    }
}

/* ---- pooling -------------------------------------------------------------- */

static void pool_fwd_d(const ck_pool2d_desc *d, int64_t P, int64_t Q, const double *x, double *y) {
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t c = 0; c < d->c; c++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double acc = d->kind == CK_POOL_MAX ? -INFINITY : 0;
                    int64_t real = 0, padded = 0;
                    for (int64_t r = 0; r < d->r; r++)
                        for (int64_t s = 0; s < d->s; s++) {
                            const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
                            const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
                            if (ih >= -d->pad_top && ih < d->h + d->pad_bottom && iw >= -d->pad_left &&
                                iw < d->w + d->pad_right)
                                padded++;
                            if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) continue;
                            real++;
                            const double v = x[offs(d->layout, d->c, d->h, d->w, n, c, ih, iw)];
                            if (d->kind == CK_POOL_MAX) acc = v > acc ? v : acc;
                            else acc += v;
                        }
                    y[offs(d->layout, d->c, P, Q, n, c, p, q)] =
                        real == 0 ? 0 : (d->kind == CK_POOL_MAX ? acc : acc / (double)(d->count_include_pad ? padded : real));
                }
}

static double pool_loss(const ck_pool2d_desc *d, int64_t P, int64_t Q, const double *x, const double *proj, double *yb,
                        int64_t yn) {
    pool_fwd_d(d, P, Q, x, yb);
    double l = 0;
    for (int64_t i = 0; i < yn; i++) l += proj[i] * yb[i];
    return l;
}

static void pool_case(ck_pool2d_desc d) {
    int64_t P, Q, xn, yn;
    if (ck_pool2d_output_shape(&d, &P, &Q) != CK_OK) { CHECK(0, "bad pool case: %s", ck_last_error_message()); return; }
    CHECK_OK(ck_tensor_size(d.layout, d.n, d.c, d.h, d.w, &xn));
    CHECK_OK(ck_tensor_size(d.layout, d.n, d.c, P, Q, &yn));
    float *x = ck_test_alloc(xn), *dy = ck_test_alloc(yn);
    /* distinct values so max-pool finite differences see no ties */
    for (int64_t i = 0; i < xn; i++) x[i] = (float)((i * 37 % 101) - 50) / 16.f + ck_rand_uniform(0, 0.01f);
    ck_fill_uniform(dy, yn, -1, 1);
    if (d.layout == CK_LAYOUT_NCHW8C && d.c % 8) /* keep the channel tails zero */
        for (int64_t i = 0; i < yn; i++) if ((i % 8) >= d.c % 8 && (i / 8) % ((d.c + 7) / 8 * P * Q) >= (d.c / 8) * P * Q) dy[i] = 0;
    double *xd = dalloc(xn), *pd = dalloc(yn), *yb = dalloc(yn), *fx = dalloc(xn);
    to_double(x, xd, xn);
    to_double(dy, pd, yn);
    FD_LOOP(xd, xn, 1e-3, pool_loss(&d, P, Q, xd, pd, yb, yn), fx);
    char what[200];
    for (int a = 0; a < 2; a++) {
        ck_plan_options o;
        memset(&o, 0, sizeof o);
        o.algorithm = a ? CK_ALGO_AUTO : CK_ALGO_REFERENCE;
        o.threads = 2;
        ck_plan *plan = NULL;
        CHECK_OK(ck_pool2d_plan_create(&d, &o, &plan));
        if (!plan) continue;
        float *dx = ck_test_alloc(xn);
        for (int64_t i = 0; i < xn; i++) dx[i] = NAN;
        CHECK_OK(ck_pool2d_backward(plan, x, dy, dx));
        snprintf(what, sizeof what, "pool FD %s kind %d layout %d ceil %d cip %d", a ? "fast" : "reference", (int)d.kind,
                 (int)d.layout, d.ceil_mode, d.count_include_pad);
        /* tail channels of NCHW8c have no forward dependence: FD is 0 there too */
        check_grad(what, dx, fx, xn, 1e-5);
        free(dx);
        ck_plan_destroy(plan);
    }
    free(x); free(dy); free(xd); free(pd); free(yb); free(fx);
}

static void test_pool(void) {
    const ck_layout layouts[] = {CK_LAYOUT_NCHW, CK_LAYOUT_NHWC, CK_LAYOUT_NCHW8C};
    for (int li = 0; li < 3; li++)
        for (int kind = 0; kind < 2; kind++)
            for (int cfg = 0; cfg < 5; cfg++) {
                ck_pool2d_desc d;
                memset(&d, 0, sizeof d);
                d.kind = kind ? CK_POOL_AVG : CK_POOL_MAX;
                d.n = 2; d.c = 3; d.h = 7; d.w = 6; d.r = d.s = 3;
                d.stride_h = d.stride_w = 2; d.dilation_h = d.dilation_w = 1;
                d.layout = layouts[li];
                switch (cfg) {
                case 0: break;
                case 1: d.pad_top = 1; d.pad_left = 0; d.pad_bottom = 2; d.pad_right = 1; d.count_include_pad = 1; break;
                case 2: d.pad_top = 1; d.pad_left = 1; d.ceil_mode = 1; break;
                case 3: d.pad_top = 1; d.pad_right = 1; d.ceil_mode = 1; d.count_include_pad = 1; d.stride_w = 3; break;
                case 4: d.r = 2; d.dilation_h = d.dilation_w = 2; d.stride_h = 1; d.pad_bottom = 1; break;
                }
                pool_case(d);
            }
    /* ties: an all-equal 4x4 plane, 3x3 windows, stride 1, padding 1 */
    for (int li = 0; li < 2; li++)
        for (int a = 0; a < 2; a++) {
            ck_pool2d_desc d;
            memset(&d, 0, sizeof d);
            d.kind = CK_POOL_MAX; d.n = 1; d.c = 1; d.h = 4; d.w = 4; d.r = d.s = 3;
            d.stride_h = d.stride_w = 1; d.dilation_h = d.dilation_w = 1;
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1; /* P = Q = 4 */
            d.layout = layouts[li];
            ck_plan_options o;
            memset(&o, 0, sizeof o);
            o.algorithm = a ? CK_ALGO_AUTO : CK_ALGO_REFERENCE;
            ck_plan *plan = NULL;
            CHECK_OK(ck_pool2d_plan_create(&d, &o, &plan));
            float x[16], dy[16], dx[16];
            for (int i = 0; i < 16; i++) { x[i] = 1.f; dy[i] = (float)(1 << (i % 8)) * (i < 8 ? 1.f : 256.f); }
            CHECK_OK(ck_pool2d_backward(plan, x, dy, dx));
            /* window (p, q) with pad 1 starts at (p-1, q-1): its first real element is (max(p-1,0), max(q-1,0)) */
            float expect[16] = {0};
            for (int p = 0; p < 4; p++)
                for (int q = 0; q < 4; q++) expect[(p ? p - 1 : 0) * 4 + (q ? q - 1 : 0)] += dy[p * 4 + q];
            CHECK(memcmp(dx, expect, sizeof dx) == 0, "max-pool ties must go to the first maximum (%s)",
                  a ? "fast" : "reference");
            ck_plan_destroy(plan);
        }
    /* fast vs reference on larger random shapes (threads 2) */
    ck_rng_seed(7);
    for (int t = 0; t < 40; t++) {
        ck_pool2d_desc d;
        memset(&d, 0, sizeof d);
        d.kind = ck_rand_int(0, 1) ? CK_POOL_AVG : CK_POOL_MAX;
        d.n = ck_rand_int(1, 3); d.c = ck_rand_int(1, 17); d.h = ck_rand_int(3, 20); d.w = ck_rand_int(3, 20);
        d.r = ck_rand_int(1, 3); d.s = ck_rand_int(1, 3);
        d.stride_h = ck_rand_int(1, 3); d.stride_w = ck_rand_int(1, 3);
        d.dilation_h = ck_rand_int(1, 2); d.dilation_w = ck_rand_int(1, 2);
        d.pad_top = ck_rand_int(0, d.r - 1); d.pad_bottom = ck_rand_int(0, d.r - 1);
        d.pad_left = ck_rand_int(0, d.s - 1); d.pad_right = ck_rand_int(0, d.s - 1);
        d.ceil_mode = (int)ck_rand_int(0, 1); d.count_include_pad = (int)ck_rand_int(0, 1);
        d.layout = layouts[ck_rand_int(0, 2)];
        int64_t P, Q, xn, yn;
        if (ck_pool2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        ck_tensor_size(d.layout, d.n, d.c, d.h, d.w, &xn);
        ck_tensor_size(d.layout, d.n, d.c, P, Q, &yn);
        float *x = ck_test_alloc(xn), *dy = ck_test_alloc(yn), *a = ck_test_alloc(xn), *b = ck_test_alloc(xn);
        ck_fill_int(x, xn, -3, 3); /* many ties */
        ck_fill_uniform(dy, yn, -1, 1);
        ck_plan_options o;
        memset(&o, 0, sizeof o);
        o.threads = 2;
        ck_plan *pf = NULL, *pr = NULL;
        CHECK_OK(ck_pool2d_plan_create(&d, &o, &pf));
        o.algorithm = CK_ALGO_REFERENCE;
        CHECK_OK(ck_pool2d_plan_create(&d, &o, &pr));
        CHECK_OK(ck_pool2d_backward(pf, x, dy, a));
        CHECK_OK(ck_pool2d_backward(pr, x, dy, b));
        double worst = 0;
        for (int64_t i = 0; i < xn; i++) worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
        CHECK(worst <= 1e-5, "pool fast vs reference: max |diff| %.3g (kind %d layout %d)", worst, (int)d.kind,
              (int)d.layout);
        free(x); free(dy); free(a); free(b);
        ck_plan_destroy(pf);
        ck_plan_destroy(pr);
    }
}

static void test_global_pool(void) {
    const ck_layout layouts[] = {CK_LAYOUT_NCHW, CK_LAYOUT_NHWC};
    for (int li = 0; li < 2; li++)
        for (int kind = 0; kind < 2; kind++) {
            const int64_t n = 2, c = 3, h = 3, w = 4, xn = n * c * h * w;
            float x[72], dy[6], dx[72], y[6];
            for (int i = 0; i < 72; i++) x[i] = (float)((i * 29 % 71) - 35) / 8.f;
            ck_fill_uniform(dy, 6, -1, 1);
            const ck_pool_kind k = kind ? CK_POOL_AVG : CK_POOL_MAX;
            CHECK_OK(ck_global_pool2d_backward(k, layouts[li], n, c, h, w, kind ? NULL : x, dy, dx));
            double fx[72], xd[72];
            to_double(x, xd, xn);
            for (int i = 0; i < 72; i++) {
                float xp[72], xm[72];
                memcpy(xp, x, sizeof xp);
                memcpy(xm, x, sizeof xm);
                xp[i] += 1e-2f; xm[i] -= 1e-2f;
                double lp = 0, lm = 0;
                ck_global_pool2d(k, layouts[li], n, c, h, w, xp, y);
                for (int j = 0; j < 6; j++) lp += (double)dy[j] * y[j];
                ck_global_pool2d(k, layouts[li], n, c, h, w, xm, y);
                for (int j = 0; j < 6; j++) lm += (double)dy[j] * y[j];
                fx[i] = (lp - lm) / ((double)xp[i] - (double)xm[i]);
            }
            check_grad(kind ? "global avg pool FD" : "global max pool FD", dx, fx, xn, 1e-4);
        }
}

/* ---- dense ---------------------------------------------------------------- */

static double dense_loss(const ck_dense_desc *d, const double *x, const double *w, const double *b, const double *proj) {
    double l = 0;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t o = 0; o < d->out_features; o++) {
            double acc = b[o];
            for (int64_t i = 0; i < d->in_features; i++) acc += w[o * d->in_features + i] * x[n * d->in_features + i];
            l += proj[n * d->out_features + o] * acc;
        }
    return l;
}

static void test_dense(void) {
    ck_dense_desc d;
    memset(&d, 0, sizeof d);
    d.n = 3; d.in_features = 7; d.out_features = 4;
    const int64_t xn = 21, wn = 28, yn = 12;
    float x[21], w[28], dy[12];
    ck_fill_uniform(x, xn, -1, 1);
    ck_fill_uniform(w, wn, -1, 1);
    ck_fill_uniform(dy, yn, -1, 1);
    double xd[21], wd[28], bd[4] = {0}, pd[12], fx[21], fw[28], fb[4];
    to_double(x, xd, xn); to_double(w, wd, wn); to_double(dy, pd, yn);
    FD_LOOP(xd, xn, 0.5, dense_loss(&d, xd, wd, bd, pd), fx);
    FD_LOOP(wd, wn, 0.5, dense_loss(&d, xd, wd, bd, pd), fw);
    FD_LOOP(bd, 4, 0.5, dense_loss(&d, xd, wd, bd, pd), fb);
    const ck_algorithm algos[] = {CK_ALGO_REFERENCE, CK_ALGO_AUTO};
    for (int a = 0; a < 2; a++) {
        ck_plan_options o;
        memset(&o, 0, sizeof o);
        o.algorithm = algos[a];
        float dx[21], dw[28], db[4];
        CHECK_OK(ck_dense_backward(&d, &o, x, w, dy, dx, dw, db));
        check_grad("dense FD dx", dx, fx, xn, 1e-5);
        check_grad("dense FD dw", dw, fw, wn, 1e-5);
        check_grad("dense FD db", db, fb, 4, 1e-5);
        float dx2[21];
        CHECK_OK(ck_dense_backward(&d, &o, NULL, w, dy, dx2, NULL, NULL)); /* only dx: x may be NULL */
        CHECK(memcmp(dx, dx2, sizeof dx) == 0, "dense dx alone differs");
    }
    /* BLAS vs reference on a larger shape */
    d.n = 33; d.in_features = 70; d.out_features = 19;
    float *X = ck_test_alloc(33 * 70), *Wt = ck_test_alloc(19 * 70), *DY = ck_test_alloc(33 * 19);
    float *a1 = ck_test_alloc(33 * 70), *a2 = ck_test_alloc(33 * 70), *b1 = ck_test_alloc(19 * 70), *b2 = ck_test_alloc(19 * 70);
    ck_fill_uniform(X, 33 * 70, -1, 1); ck_fill_uniform(Wt, 19 * 70, -1, 1); ck_fill_uniform(DY, 33 * 19, -1, 1);
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    CHECK_OK(ck_dense_backward(&d, &o, X, Wt, DY, a1, b1, NULL));
    o.algorithm = CK_ALGO_REFERENCE;
    CHECK_OK(ck_dense_backward(&d, &o, X, Wt, DY, a2, b2, NULL));
    double e1 = 0, e2 = 0;
    for (int i = 0; i < 33 * 70; i++) e1 = fmax(e1, fabs((double)a1[i] - a2[i]));
    for (int i = 0; i < 19 * 70; i++) e2 = fmax(e2, fabs((double)b1[i] - b2[i]));
    CHECK(e1 <= 4 * sqrt(19.0) * ldexp(1.0, -24) * 19 && e2 <= 4 * sqrt(33.0) * ldexp(1.0, -24) * 33,
          "dense BLAS vs reference: %.3g %.3g", e1, e2);
    free(X); free(Wt); free(DY); free(a1); free(a2); free(b1); free(b2);
}

/* ---- activations ------------------------------------------------------------ */

static double act_d(ck_activation_kind k, double alpha, double v) {
    switch (k) {
    case CK_ACT_RELU: return v > 0 ? v : 0;
    case CK_ACT_RELU6: return v < 0 ? 0 : (v > 6 ? 6 : v);
    case CK_ACT_LEAKY_RELU: return v >= 0 ? v : alpha * v;
    case CK_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case CK_ACT_TANH: return tanh(v);
    default: return v;
    }
}

static void test_activations(void) {
    enum { NA = 64 };
    float x[NA], y[NA], dy[NA], dx[NA], dx2[NA];
    double fd[NA];
    for (int i = 0; i < NA; i++) {
        x[i] = -8.f + 16.f * (float)i / NA + 0.0731f; /* stays away from 0 and 6 */
        dy[i] = ck_rand_uniform(-1, 1);
    }
    for (int k = CK_ACT_NONE; k <= CK_ACT_TANH; k++) {
        ck_activation act = {(ck_activation_kind)k, 0.1f};
        CHECK_OK(ck_activation_forward(act, NA, x, y));
        for (int i = 0; i < NA; i++) {
            const double h = 1e-4;
            fd[i] = dy[i] * (act_d(act.kind, 0.1f, (double)x[i] + h) - act_d(act.kind, 0.1f, (double)x[i] - h)) / (2 * h);
        }
        CHECK_OK(ck_activation_backward(act, NA, x, y, dy, dx));
        char what[64];
        snprintf(what, sizeof what, "activation %d backward (x and y)", k);
        check_grad(what, dx, fd, NA, 1e-5);
        CHECK_OK(ck_activation_backward(act, NA, x, NULL, dy, dx2));
        snprintf(what, sizeof what, "activation %d backward (x only)", k);
        check_grad(what, dx2, fd, NA, 1e-5);
        if (k == CK_ACT_SIGMOID || k == CK_ACT_TANH || k == CK_ACT_NONE) {
            CHECK_OK(ck_activation_backward(act, NA, NULL, y, dy, dx2));
            snprintf(what, sizeof what, "activation %d backward (y only)", k);
            check_grad(what, dx2, fd, NA, 1e-5);
        } else {
            CHECK_STATUS(ck_activation_backward(act, NA, NULL, y, dy, dx2), CK_ERR_NULL_POINTER);
        }
        /* in place: dx aliases dy */
        memcpy(dx2, dy, sizeof dx2);
        CHECK_OK(ck_activation_backward(act, NA, x, y, dx2, dx2));
        CHECK(memcmp(dx, dx2, sizeof dx) == 0, "in-place activation backward differs (kind %d)", k);
    }
    /* kinks follow PyTorch: ReLU'(0) = 0, ReLU6'(0) = ReLU6'(6) = 0, leaky'(0) = alpha */
    float kx[3] = {0.f, 6.f, -0.f}, kd[3] = {1, 1, 1}, kr[3];
    ck_activation relu = {CK_ACT_RELU, 0}, relu6 = {CK_ACT_RELU6, 0}, leaky = {CK_ACT_LEAKY_RELU, 0.25f};
    CHECK_OK(ck_activation_backward(relu, 3, kx, NULL, kd, kr));
    CHECK(kr[0] == 0.f && kr[1] == 1.f, "ReLU kink");
    CHECK_OK(ck_activation_backward(relu6, 3, kx, NULL, kd, kr));
    CHECK(kr[0] == 0.f && kr[1] == 0.f, "ReLU6 kinks");
    CHECK_OK(ck_activation_backward(leaky, 3, kx, NULL, kd, kr));
    CHECK(kr[0] == 0.25f, "leaky ReLU kink");
}

/* ---- softmax + cross-entropy ------------------------------------------------ */

static double sce_loss(int64_t n, int64_t k, const double *z, const int32_t *lab) {
    double l = 0;
    for (int64_t i = 0; i < n; i++) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < k; j++) m = fmax(m, z[i * k + j]);
        for (int64_t j = 0; j < k; j++) s += exp(z[i * k + j] - m);
        l += m + log(s) - z[i * k + lab[i]];
    }
    return l / (double)n;
}

static void test_softmax_cross_entropy(void) {
    enum { N = 4, K = 5 };
    float z[N * K], g[N * K], loss = -1;
    int32_t lab[N] = {0, 4, 2, 2};
    ck_fill_uniform(z, N * K, -3, 3);
    double zd[N * K], fd[N * K];
    to_double(z, zd, N * K);
    FD_LOOP(zd, N * K, 1e-5, sce_loss(N, K, zd, lab), fd);
    CHECK_OK(ck_softmax_cross_entropy(N, K, z, lab, &loss, g));
    CHECK(fabs(loss - sce_loss(N, K, zd, lab)) <= 1e-6 * (1 + fabs(loss)), "loss %.9g vs %.9g", loss,
          sce_loss(N, K, zd, lab));
    check_grad("softmax cross-entropy FD", g, fd, N * K, 1e-6);
    double rowsum = 0;
    for (int j = 0; j < K; j++) rowsum += g[j];
    CHECK(fabs(rowsum) < 1e-7, "dlogits rows sum to 0 (got %.3g)", rowsum);
    /* stability: huge logits give the same loss as shifted ones */
    float big[N * K], gb[N * K], lb = -1;
    for (int i = 0; i < N * K; i++) big[i] = z[i] * 1000.f + 5000.f;
    CHECK_OK(ck_softmax_cross_entropy(N, K, big, lab, &lb, gb));
    CHECK(isfinite(lb), "loss with logits ~1e4 is not finite");
    int finite = 1;
    for (int i = 0; i < N * K; i++) finite &= isfinite(gb[i]) != 0;
    CHECK(finite, "dlogits with logits ~1e4 not finite");
    for (int i = 0; i < N * K; i++) big[i] = z[i] + 1e4f;
    CHECK_OK(ck_softmax_cross_entropy(N, K, big, lab, &lb, NULL));
    CHECK(fabs(lb - loss) < 5e-3, "shift invariance: %.9g vs %.9g", lb, loss);
    /* labels are validated; outputs untouched on failure */
    int32_t bad[N] = {0, 5, 1, 1};
    float l2 = 123.f;
    CHECK_STATUS(ck_softmax_cross_entropy(N, K, z, bad, &l2, g), CK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ck_last_error_message(), "labels[1]=5") != NULL, "message names the label: %s", ck_last_error_message());
    bad[1] = -1;
    CHECK_STATUS(ck_softmax_cross_entropy(N, K, z, bad, &l2, g), CK_ERR_INVALID_ARGUMENT);
    CHECK(l2 == 123.f, "loss written on failure");
    CHECK_STATUS(ck_softmax_cross_entropy(0, K, z, lab, &l2, g), CK_ERR_INVALID_SHAPE);
    CHECK_STATUS(ck_softmax_cross_entropy(N, K, NULL, lab, &l2, g), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_softmax_cross_entropy(N, K, z, NULL, &l2, g), CK_ERR_NULL_POINTER);
}

/* ---- batch norm (training) ---------------------------------------------------- */

static double bn_loss(ck_layout l, int64_t n, int64_t c, int64_t h, int64_t w, const double *x, const double *gm,
                      const double *bt, double eps, const double *proj) {
    double loss = 0;
    const int64_t m = n * h * w;
    for (int64_t ch = 0; ch < c; ch++) {
        double mean = 0, var = 0;
        for (int64_t in = 0; in < n; in++)
            for (int64_t i = 0; i < h * w; i++) mean += x[offs(l, c, h, w, in, ch, i / w, i % w)];
        mean /= (double)m;
        for (int64_t in = 0; in < n; in++)
            for (int64_t i = 0; i < h * w; i++) {
                const double dd = x[offs(l, c, h, w, in, ch, i / w, i % w)] - mean;
                var += dd * dd;
            }
        var /= (double)m;
        for (int64_t in = 0; in < n; in++)
            for (int64_t i = 0; i < h * w; i++) {
                const int64_t o = offs(l, c, h, w, in, ch, i / w, i % w);
                loss += proj[o] * (gm[ch] * (x[o] - mean) / sqrt(var + eps) + bt[ch]);
            }
    }
    return loss;
}

static void test_batch_norm(void) {
    const ck_layout layouts[] = {CK_LAYOUT_NCHW, CK_LAYOUT_NHWC};
    for (int li = 0; li < 2; li++) {
        enum { n = 2, c = 3, h = 2, w = 3, X = n * c * h * w };
        const ck_layout l = layouts[li];
        float x[X], y[X], dy[X], dx[X], gm[c], bt[c], rm[c] = {0.5f, -1.f, 0.f}, rv[c] = {1.f, 2.f, 0.5f};
        float sm[c], si[c], dg[c], dbt[c];
        ck_fill_uniform(x, X, -2, 2);
        ck_fill_uniform(dy, X, -1, 1);
        ck_fill_uniform(gm, c, 0.5f, 1.5f);
        ck_fill_uniform(bt, c, -0.5f, 0.5f);
        const float eps = 1e-3f, mom = 0.1f;
        CHECK_OK(ck_batch_norm_training_forward(l, n, c, h, w, x, gm, bt, eps, mom, rm, rv, y, sm, si));
        /* running statistics: PyTorch's convention, unbiased running variance */
        for (int ch = 0; ch < c; ch++) {
            double mean = 0, var = 0;
            for (int in = 0; in < n; in++)
                for (int i = 0; i < h * w; i++) mean += x[offs(l, c, h, w, in, ch, i / w, i % w)];
            mean /= n * h * w;
            for (int in = 0; in < n; in++)
                for (int i = 0; i < h * w; i++) {
                    const double dd = x[offs(l, c, h, w, in, ch, i / w, i % w)] - mean;
                    var += dd * dd;
                }
            const double rm0 = ch == 0 ? 0.5 : (ch == 1 ? -1.0 : 0.0), rv0 = ch == 0 ? 1.0 : (ch == 1 ? 2.0 : 0.5);
            CHECK(fabs(rm[ch] - (0.9 * rm0 + 0.1 * mean)) < 1e-6, "running mean %d", ch);
            CHECK(fabs(rv[ch] - (0.9 * rv0 + 0.1 * var / (n * h * w - 1))) < 1e-6, "running var %d (unbiased)", ch);
            CHECK(fabs(sm[ch] - mean) < 1e-6 && fabs(si[ch] - 1 / sqrt(var / (n * h * w) + eps)) < 1e-4,
                  "saved statistics %d", ch);
        }
        CHECK_OK(ck_batch_norm_training_backward(l, n, c, h, w, x, gm, sm, si, dy, dx, dg, dbt));
        double xd[X], gd[c], bd[c], pd[X], fx[X], fg[c], fb[c];
        to_double(x, xd, X); to_double(gm, gd, c); to_double(bt, bd, c); to_double(dy, pd, X);
        FD_LOOP(xd, X, 1e-4, bn_loss(l, n, c, h, w, xd, gd, bd, eps, pd), fx);
        FD_LOOP(gd, c, 1e-4, bn_loss(l, n, c, h, w, xd, gd, bd, eps, pd), fg);
        FD_LOOP(bd, c, 1e-4, bn_loss(l, n, c, h, w, xd, gd, bd, eps, pd), fb);
        check_grad("batch norm FD dx", dx, fx, X, 2e-5);
        check_grad("batch norm FD dgamma", dg, fg, c, 2e-5);
        check_grad("batch norm FD dbeta", dbt, fb, c, 2e-5);
        /* forward output matches the float64 definition */
        double yd[X];
        for (int i = 0; i < X; i++) {
            double p2[X] = {0};
            p2[i] = 1;
            yd[i] = bn_loss(l, n, c, h, w, xd, gd, bd, eps, p2);
        }
        check_grad("batch norm training forward", y, yd, X, 1e-6);
    }
    float x[4] = {1, 2, 3, 4}, g = 1, b = 0, y[4], rm = 0, rv = 1;
    CHECK_STATUS(ck_batch_norm_training_forward(CK_LAYOUT_NCHW, 1, 1, 1, 1, x, &g, &b, 1e-5f, 0.1f, &rm, &rv, y, NULL, NULL),
                 CK_ERR_INVALID_SHAPE);
    CHECK_STATUS(ck_batch_norm_training_forward(CK_LAYOUT_NCHW, 1, 1, 2, 2, x, &g, &b, 0.f, 0.1f, &rm, &rv, y, NULL, NULL),
                 CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_batch_norm_training_forward(CK_LAYOUT_NCHW, 1, 1, 2, 2, x, &g, &b, 1e-5f, 1.5f, &rm, &rv, y, NULL, NULL),
                 CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_batch_norm_training_forward(CK_LAYOUT_NCHW8C, 1, 1, 2, 2, x, &g, &b, 1e-5f, 0.1f, &rm, &rv, y, NULL, NULL),
                 CK_ERR_INVALID_LAYOUT);
    CHECK(rm == 0 && rv == 1, "running statistics changed on failure");
    CHECK_STATUS(ck_batch_norm_training_backward(CK_LAYOUT_NCHW, 1, 1, 2, 2, x, &g, NULL, &rv, x, y, NULL, NULL),
                 CK_ERR_NULL_POINTER);
}

/* ---- dropout -------------------------------------------------------------------- */

static void test_dropout(void) {
    enum { N = 200000 };
    float *x = ck_test_alloc(N), *y = ck_test_alloc(N), *y2 = ck_test_alloc(N), *dx = ck_test_alloc(N);
    uint8_t *m = (uint8_t *)malloc(N), *m2 = (uint8_t *)malloc(N);
    ck_fill_uniform(x, N, 0.5f, 1.5f);
    const float p = 0.3f;
    CHECK_OK(ck_dropout_forward(N, p, 1234, x, y, m));
    CHECK_OK(ck_dropout_forward(N, p, 1234, x, y2, m2));
    CHECK(memcmp(y, y2, N * sizeof(float)) == 0 && memcmp(m, m2, N) == 0, "same seed, same mask");
    int64_t kept = 0, ok = 1;
    for (int i = 0; i < N; i++) {
        kept += m[i];
        if (!(y[i] == (m[i] ? x[i] * (float)(1.0 / 0.7) : 0.f))) ok = 0;
    }
    CHECK(ok, "y = x * mask / (1-p)");
    CHECK(fabs((double)kept / N - 0.7) < 0.005, "kept fraction %.4f, expected 0.7", (double)kept / N);
    /* a prefix gives the same mask (index-based, independent of the size and hence of threading) */
    CHECK_OK(ck_dropout_forward(1000, p, 1234, x, y2, m2));
    CHECK(memcmp(m, m2, 1000) == 0, "mask of a prefix differs");
    CHECK_OK(ck_dropout_forward(N, p, 1235, x, y2, m2));
    CHECK(memcmp(m, m2, N) != 0, "different seeds give the same mask");
    /* backward regenerates the mask */
    CHECK_OK(ck_dropout_backward(N, p, 1234, x, dx));
    CHECK(memcmp(dx, y, N * sizeof(float)) == 0, "backward mask/scale differs from the forward");
    /* FD on a few elements: y is linear in x */
    CHECK_OK(ck_dropout_forward(N, 0.f, 9, x, y2, NULL));
    CHECK(memcmp(x, y2, N * sizeof(float)) == 0, "p = 0 keeps everything unscaled");
    CHECK_OK(ck_dropout_forward(N, 1.f, 9, x, y2, m2));
    int all0 = 1;
    for (int i = 0; i < N; i++) all0 &= y2[i] == 0.f && m2[i] == 0;
    CHECK(all0, "p = 1 drops everything");
    /* in place */
    memcpy(y2, x, N * sizeof(float));
    CHECK_OK(ck_dropout_forward(N, p, 1234, y2, y2, NULL));
    CHECK(memcmp(y2, y, N * sizeof(float)) == 0, "in-place dropout differs");
    CHECK_STATUS(ck_dropout_forward(N, -0.1f, 1, x, y, NULL), CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_dropout_forward(N, NAN, 1, x, y, NULL), CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_dropout_backward(N, 1.5f, 1, x, y), CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_dropout_backward(-1, 0.5f, 1, x, y), CK_ERR_INVALID_SHAPE);
    CHECK_STATUS(ck_dropout_forward(N, 0.5f, 1, NULL, y, NULL), CK_ERR_NULL_POINTER);
    free(x); free(y); free(y2); free(dx); free(m); free(m2);
}

/* ---- conv: other checks and error paths ------------------------------------------- */

static void test_conv_errors(void) {
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 3, 5, 5, 2, 3, 3);
    ck_plan *p = NULL, *pool = NULL;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, NULL, NULL), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_conv2d_backward_plan_create(NULL, NULL, &p), CK_ERR_NULL_POINTER);
    d.stride_h = 0;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, NULL, &p), CK_ERR_INVALID_STRIDE);
    CHECK(p == NULL, "plan set on failure");
    d.stride_h = 1;
    d.groups = 2;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, NULL, &p), CK_ERR_INVALID_GROUPS);
    d.groups = 1;
    d.r = 9;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, NULL, &p), CK_ERR_EMPTY_OUTPUT);
    d.r = 3;
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = CK_ALGO_WINOGRAD_F2;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, &o, &p), CK_ERR_UNSUPPORTED_ALGORITHM);
    o.algorithm = (ck_algorithm)99;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, &o, &p), CK_ERR_INVALID_ARGUMENT);
    o.algorithm = CK_ALGO_IM2COL;
    o.threads = -1;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, &o, &p), CK_ERR_INVALID_ARGUMENT);
    o.threads = 1;
    d.layout = CK_LAYOUT_NCHW8C;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, &o, &p), CK_ERR_UNSUPPORTED_ALGORITHM);
    /* auto on NCHW8c: the reference; check it against FD-verified NCHW results */
    CHECK_OK(ck_conv2d_backward_plan_create(&d, NULL, &p));
    ck_algorithm a = CK_ALGO_AUTO;
    CHECK_OK(ck_plan_algorithm(p, &a));
    CHECK(a == CK_ALGO_REFERENCE, "auto on NCHW8c picks %s", ck_algorithm_name(a));
    {
        float x[75], w[54], dy[18], x8[200], dy8[72], dx8[200], dx[75], dxn[75], dw[54], dw8[54];
        ck_fill_uniform(x, 75, -1, 1); ck_fill_uniform(w, 54, -1, 1); ck_fill_uniform(dy, 18, -1, 1);
        CHECK_OK(ck_convert_layout(1, 3, 5, 5, CK_LAYOUT_NCHW, x, CK_LAYOUT_NCHW8C, x8));
        CHECK_OK(ck_convert_layout(1, 2, 3, 3, CK_LAYOUT_NCHW, dy, CK_LAYOUT_NCHW8C, dy8));
        CHECK_OK(ck_conv2d_backward_data(p, dy8, w, dx8, NULL, 0));
        CHECK_OK(ck_conv2d_backward_weights(p, x8, dy8, dw8, NULL, NULL, 0));
        CHECK_OK(ck_convert_layout(1, 3, 5, 5, CK_LAYOUT_NCHW8C, dx8, CK_LAYOUT_NCHW, dx));
        ck_plan *q = NULL;
        d.layout = CK_LAYOUT_NCHW;
        o.algorithm = CK_ALGO_REFERENCE;
        CHECK_OK(ck_conv2d_backward_plan_create(&d, &o, &q));
        CHECK_OK(ck_conv2d_backward_data(q, dy, w, dxn, NULL, 0));
        CHECK_OK(ck_conv2d_backward_weights(q, x, dy, dw, NULL, NULL, 0));
        CHECK(memcmp(dx, dxn, sizeof dx) == 0 && memcmp(dw, dw8, sizeof dw) == 0, "NCHW8c reference differs from NCHW");
        int tail0 = 1;
        for (int i = 0; i < 200; i++) if (i % 8 >= 3) tail0 &= dx8[i] == 0.f;
        CHECK(tail0, "NCHW8c channel tail of dx not zero");
        ck_plan_destroy(q);
    }
    ck_plan_destroy(p);
    p = NULL;
    d.layout = CK_LAYOUT_NCHW;
    o.algorithm = CK_ALGO_IM2COL;
    o.workspace_limit = 100;
    CHECK_STATUS(ck_conv2d_backward_plan_create(&d, &o, &p), CK_ERR_WORKSPACE_LIMIT);
    o.workspace_limit = 0;
    CHECK_OK(ck_conv2d_backward_plan_create(&d, &o, &p));
    CHECK(strcmp(ck_plan_impl_name(p), "reference") != 0, "impl name %s", ck_plan_impl_name(p));
    size_t ws = 0;
    CHECK_OK(ck_plan_workspace_size(p, &ws));
    CHECK(ws > 0, "3x3 backward needs a column buffer");
    float x[75] = {0}, w[54] = {0}, dy[18] = {0}, dx[75], dw[54], db[2];
    char small[64];
    CHECK_STATUS(ck_conv2d_backward_data(p, dy, w, dx, small, sizeof small), CK_ERR_INSUFFICIENT_WORKSPACE);
    CHECK_STATUS(ck_conv2d_backward_weights(p, x, dy, dw, db, small, sizeof small), CK_ERR_INSUFFICIENT_WORKSPACE);
    CHECK_STATUS(ck_conv2d_backward_data(p, NULL, w, dx, NULL, 0), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_conv2d_backward_data(p, dy, NULL, dx, NULL, 0), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_conv2d_backward_data(p, dy, w, NULL, NULL, 0), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_conv2d_backward_weights(p, NULL, dy, dw, db, NULL, 0), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_conv2d_backward_weights(p, x, dy, NULL, db, NULL, 0), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_conv2d_backward_data(NULL, dy, w, dx, NULL, 0), CK_ERR_NULL_POINTER);
    /* wrong plan kinds, both ways */
    ck_plan *fwd = NULL;
    CHECK_OK(ck_conv2d_plan_create(&d, w, NULL, NULL, &fwd));
    CHECK_STATUS(ck_conv2d_backward_data(fwd, dy, w, dx, NULL, 0), CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_conv2d_backward_weights(fwd, x, dy, dw, db, NULL, 0), CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_conv2d_execute(p, x, dx, NULL, NULL, 0), CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_pool2d_backward(p, x, dy, dx), CK_ERR_INVALID_ARGUMENT);
    ck_pool2d_desc pd;
    memset(&pd, 0, sizeof pd);
    pd.kind = CK_POOL_MAX; pd.n = 1; pd.c = 1; pd.h = 4; pd.w = 4; pd.r = pd.s = 2;
    pd.stride_h = pd.stride_w = 2; pd.dilation_h = pd.dilation_w = 1;
    CHECK_OK(ck_pool2d_plan_create(&pd, NULL, &pool));
    CHECK_STATUS(ck_conv2d_backward_data(pool, dy, w, dx, NULL, 0), CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_pool2d_backward(pool, NULL, dy, dx), CK_ERR_NULL_POINTER); /* max needs x */
    CHECK_STATUS(ck_pool2d_backward(NULL, x, dy, dx), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_global_pool2d_backward(CK_POOL_MAX, CK_LAYOUT_NCHW, 1, 1, 2, 2, NULL, dy, dx), CK_ERR_NULL_POINTER);
    CHECK_STATUS(ck_global_pool2d_backward((ck_pool_kind)7, CK_LAYOUT_NCHW, 1, 1, 2, 2, x, dy, dx), CK_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(ck_global_pool2d_backward(CK_POOL_AVG, CK_LAYOUT_NCHW, 1, 0, 2, 2, x, dy, dx), CK_ERR_INVALID_SHAPE);
    ck_dense_desc dd;
    memset(&dd, 0, sizeof dd);
    dd.n = 2; dd.in_features = 3; dd.out_features = 0;
    CHECK_STATUS(ck_dense_backward(&dd, NULL, x, w, dy, dx, dw, db), CK_ERR_INVALID_SHAPE);
    dd.out_features = 2;
    CHECK_STATUS(ck_dense_backward(&dd, NULL, NULL, w, dy, dx, dw, db), CK_ERR_NULL_POINTER); /* dw needs x */
    CHECK_STATUS(ck_dense_backward(&dd, NULL, x, NULL, dy, dx, dw, db), CK_ERR_NULL_POINTER); /* dx needs w */
    CHECK_STATUS(ck_dense_backward(&dd, NULL, x, w, NULL, dx, dw, db), CK_ERR_NULL_POINTER);
    o.algorithm = CK_ALGO_DIRECT;
    CHECK_STATUS(ck_dense_backward(&dd, &o, x, w, dy, dx, dw, db), CK_ERR_UNSUPPORTED_ALGORITHM);
    ck_activation bad = {(ck_activation_kind)42, 0};
    CHECK_STATUS(ck_activation_backward(bad, 4, x, x, dy, dx), CK_ERR_INVALID_ARGUMENT);
    ck_activation relu = {CK_ACT_RELU, 0};
    CHECK_STATUS(ck_activation_backward(relu, -1, x, x, dy, dx), CK_ERR_INVALID_SHAPE);
    CHECK_STATUS(ck_activation_backward(relu, 4, x, x, NULL, dx), CK_ERR_NULL_POINTER);
    ck_plan_destroy(fwd);
    ck_plan_destroy(pool);
    ck_plan_destroy(p);
}

int main(void) {
    test_conv_finite_differences();
    test_conv_fast_vs_reference();
    test_conv_depthwise();
    test_pool();
    test_global_pool();
    test_dense();
    test_activations();
    test_softmax_cross_entropy();
    test_batch_norm();
    test_dropout();
    test_conv_errors();
    return ck_test_finish("test_backward");
}
