/* Tests of the im2col + GEMM convolution (CK_ALGO_IM2COL) against the
 * reference plan.
 *
 * Tolerance: |y - y_ref| <= tol * (sum|w*x| + |b| + |residual|) + 2^-21*|y_ref|
 * with tol = 4*sqrt(Kred)*2^-24, Kred = (C/g)*R*S.  The check is applied
 * after the activation: every activation ConvKit has (ReLU, ReLU6, leaky ReLU
 * with the test's alpha 0.1, sigmoid, tanh) has slope <= 1, so the
 * pre-activation bound still holds after it; the small relative term covers
 * the activation's own rounding (sigmoid/tanh evaluated in float on inputs
 * that differ in the last bits).  The absolute sum is computed by a separate
 * plain loop in this file. */
#include "testutil.h"

static int64_t offs(ck_layout l, int64_t C, int64_t H, int64_t W, int64_t n, int64_t c, int64_t h, int64_t w) {
    return l == CK_LAYOUT_NHWC ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
}

/* sum |w*x| + |b| + |res| for every output element (float64). */
static void abs_reference(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *x, const float *w,
                          const float *b, const float *res, double *out) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t k = 0; k < d->k; k++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double acc = b ? fabs((double)b[k]) : 0.0;
                    const int64_t g = k / kg;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t r = 0; r < d->r; r++) {
                            const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
                            if (ih < 0 || ih >= d->h) continue;
                            for (int64_t s = 0; s < d->s; s++) {
                                const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (iw < 0 || iw >= d->w) continue;
                                acc += fabs((double)w[((k * cg + c) * d->r + r) * d->s + s] *
                                            (double)x[offs(d->layout, d->c, d->h, d->w, n, g * cg + c, ih, iw)]);
                            }
                        }
                    const int64_t o = offs(d->layout, d->k, P, Q, n, k, p, q);
                    if (res) acc += fabs((double)res[o]);
                    out[o] = acc;
                }
}

typedef struct tensors {
    int64_t P, Q, xn, yn, wn;
    float *x, *w, *b, *res;
} tensors;

static void make_tensors(const ck_conv2d_desc *d, int with_res, int integer, tensors *t) {
    if (ck_conv2d_output_shape(d, &t->P, &t->Q) != CK_OK) {
        fprintf(stderr, "bad test case %s: %s\n", ck_conv_desc_str(d), ck_last_error_message());
        exit(2);
    }
    t->xn = d->n * d->c * d->h * d->w;
    t->yn = d->n * d->k * t->P * t->Q;
    t->wn = d->k * (d->c / d->groups) * d->r * d->s;
    t->x = ck_test_alloc(t->xn);
    t->w = ck_test_alloc(t->wn);
    t->b = d->has_bias ? ck_test_alloc(d->k) : NULL;
    t->res = with_res ? ck_test_alloc(t->yn) : NULL;
    if (integer) {
        ck_fill_int(t->x, t->xn, -3, 3);
        ck_fill_int(t->w, t->wn, -3, 3);
        if (t->b) ck_fill_int(t->b, d->k, -3, 3);
        if (t->res) ck_fill_int(t->res, t->yn, -3, 3);
    } else {
        ck_fill_uniform(t->x, t->xn, -1.f, 1.f);
        ck_fill_uniform(t->w, t->wn, -1.f, 1.f);
        if (t->b) ck_fill_uniform(t->b, d->k, -1.f, 1.f);
        if (t->res) ck_fill_uniform(t->res, t->yn, -1.f, 1.f);
    }
}

static void free_tensors(tensors *t) {
    free(t->x); free(t->w); free(t->b); free(t->res);
}

/* Run one plan; NULL on failure (reported). */
static float *run(const ck_conv2d_desc *d, const tensors *t, ck_algorithm algo, int threads, size_t ws_limit,
                  size_t *ws_out) {
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = algo;
    o.threads = threads;
    o.workspace_limit = ws_limit;
    ck_plan *plan = NULL;
    ck_status st = ck_conv2d_plan_create(d, t->w, t->b, &o, &plan);
    CHECK(st == CK_OK, "plan_create(%s, threads %d, limit %zu) failed: %s: %s [%s]", ck_algorithm_name(algo),
          threads, ws_limit, ck_status_string(st), ck_last_error_message(), ck_conv_desc_str(d));
    if (st != CK_OK) return NULL;
    size_t ws = 0;
    CHECK_OK(ck_plan_workspace_size(plan, &ws));
    if (ws_out) *ws_out = ws;
    if (ws_limit) CHECK(ws <= ws_limit, "workspace %zu above the limit %zu [%s]", ws, ws_limit, ck_conv_desc_str(d));
    float *y = ck_test_alloc(t->yn);
    for (int64_t i = 0; i < t->yn; i++) y[i] = NAN; /* every output must be written */
    /* give the plan an explicit workspace every other time */
    void *buf = ws ? malloc(ws) : NULL;
    st = ck_conv2d_execute(plan, t->x, y, t->res, buf, ws);
    CHECK(st == CK_OK, "execute(%s) failed: %s: %s [%s]", ck_algorithm_name(algo), ck_status_string(st),
          ck_last_error_message(), ck_conv_desc_str(d));
    free(buf);
    ck_plan_destroy(plan);
    if (st != CK_OK) { free(y); return NULL; }
    return y;
}

static int compare_tol(const ck_conv2d_desc *d, const tensors *t, const float *y, const float *yref, const char *what) {
    double *bound = (double *)malloc((size_t)t->yn * sizeof(double));
    if (!bound) exit(2);
    abs_reference(d, t->P, t->Q, t->x, t->w, t->b, t->res, bound);
    const double kred = (double)(d->c / d->groups * d->r * d->s);
    const double tol = 4.0 * sqrt(kred) * ldexp(1.0, -24);
    int bad = 0;
    for (int64_t i = 0; i < t->yn && !bad; i++) {
        const double err = fabs((double)y[i] - (double)yref[i]);
        const double lim = tol * bound[i] + ldexp(fabs((double)yref[i]), -21);
        if (!(err <= lim)) {
            bad = 1;
            CHECK(err <= lim, "%s: element %lld: got %.9g, reference %.9g, |err| %.3g > bound %.3g [%s]", what,
                  (long long)i, y[i], yref[i], err, lim, ck_conv_desc_str(d));
        }
    }
    if (!bad) CHECK(1, "ok");
    free(bound);
    return !bad;
}

static int compare_exact(const ck_conv2d_desc *d, int64_t n, const float *a, const float *b, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (!(a[i] == b[i])) {
            CHECK(a[i] == b[i], "%s: element %lld: %.9g != %.9g [%s]", what, (long long)i, a[i], b[i],
                  ck_conv_desc_str(d));
            return 0;
        }
    CHECK(1, "ok");
    return 1;
}

static ck_activation act_of(int kind, float alpha) {
    ck_activation a;
    a.kind = (ck_activation_kind)kind;
    a.alpha = alpha;
    return a;
}

/* A random small case; `alpha` for leaky ReLU. */
static ck_conv2d_desc random_case(float alpha, int *with_res, int *threads) {
    for (;;) {
        ck_conv2d_desc d;
        memset(&d, 0, sizeof d);
        const int gsel = (int)ck_rand_int(0, 5);
        int64_t g = gsel <= 2 ? 1 : (gsel == 3 ? 2 : 3);
        int64_t cg = ck_rand_int(1, 5), kg = ck_rand_int(1, 5);
        if (gsel == 5) { /* depthwise */
            g = ck_rand_int(2, 6);
            cg = kg = 1;
        }
        d.n = ck_rand_int(1, 3);
        d.c = g * cg;
        d.k = g * kg;
        d.groups = g;
        d.h = ck_rand_int(1, 11);
        d.w = ck_rand_int(1, 11);
        const int ksel = (int)ck_rand_int(0, 9);
        d.r = ksel == 9 ? 7 : ck_rand_int(1, 5);
        d.s = ksel == 9 ? 7 : ck_rand_int(1, 5);
        d.stride_h = ck_rand_int(1, 3);
        d.stride_w = ck_rand_int(1, 3);
        d.dilation_h = ck_rand_int(1, 2);
        d.dilation_w = ck_rand_int(1, 2);
        d.pad_top = ck_rand_int(0, 3);
        d.pad_left = ck_rand_int(0, 3);
        d.pad_bottom = ck_rand_int(0, 3);
        d.pad_right = ck_rand_int(0, 3);
        if (ck_rand_int(0, 6) == 0) { /* force the no-im2col 1x1 path */
            d.r = d.s = 1;
            d.stride_h = d.stride_w = 1;
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 0;
        }
        d.has_bias = (int32_t)ck_rand_int(0, 1);
        d.activation = act_of((int)ck_rand_int(0, 5), alpha);
        d.layout = ck_rand_int(0, 1) ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
        *with_res = (int)ck_rand_int(0, 1);
        *threads = (int)ck_rand_int(1, 2);
        int64_t P, Q;
        if (ck_conv2d_output_shape(&d, &P, &Q) == CK_OK) return d;
    }
}

/* 1. generated sweep, float data, tolerance check */
static void test_sweep(int cases) {
    ck_rng_seed(12345);
    int nhwc = 0, grouped = 0, dw = 0, direct1x1 = 0;
    for (int i = 0; i < cases; i++) {
        int with_res, threads;
        ck_conv2d_desc d = random_case(0.1f, &with_res, &threads);
        tensors t;
        make_tensors(&d, with_res, 0, &t);
        float *yref = run(&d, &t, CK_ALGO_REFERENCE, 1, 0, NULL);
        size_t ws = 0;
        float *y = run(&d, &t, CK_ALGO_IM2COL, threads, 0, &ws);
        if (y && yref) compare_tol(&d, &t, y, yref, "sweep");
        const int is1x1 = d.r == 1 && d.s == 1 && d.stride_h == 1 && d.stride_w == 1 && d.pad_top == 0 &&
                          d.pad_left == 0 && d.pad_bottom == 0 && d.pad_right == 0;
        if (y) CHECK(is1x1 ? ws == 0 : ws > 0, "workspace %zu for %s", ws, ck_conv_desc_str(&d));
        nhwc += d.layout == CK_LAYOUT_NHWC;
        grouped += d.groups > 1;
        dw += d.groups > 1 && d.groups == d.c && d.c == d.k;
        direct1x1 += is1x1;
        free(y); free(yref);
        free_tensors(&t);
    }
    printf("sweep: %d cases (%d NHWC, %d grouped, %d depthwise, %d 1x1-direct)\n", cases, nhwc, grouped, dw,
           direct1x1);
}

/* 2. small-integer data: bit-for-bit equal to the reference */
static void test_exact(int cases) {
    ck_rng_seed(777);
    for (int i = 0; i < cases; i++) {
        int with_res, threads;
        ck_conv2d_desc d = random_case(0.5f, &with_res, &threads); /* alpha 0.5: leaky stays exact */
        tensors t;
        make_tensors(&d, with_res, 1, &t);
        float *yref = run(&d, &t, CK_ALGO_REFERENCE, 1, 0, NULL);
        float *y = run(&d, &t, CK_ALGO_IM2COL, threads, 0, NULL);
        if (y && yref) compare_exact(&d, t.yn, y, yref, "exact (integer data)");
        free(y); free(yref);
        free_tensors(&t);
    }
}

static ck_conv2d_desc mk(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s, int64_t st,
                         int64_t pad, int64_t g, ck_layout layout) {
    ck_conv2d_desc d = ck_conv2d_desc_init(n, c, h, w, k, r, s);
    d.stride_h = d.stride_w = st;
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = pad;
    d.groups = g;
    d.layout = layout;
    return d;
}

/* 3. column blocks under a tiny workspace limit; the limit failure; exact fit
 *    of one row.  Blocked and full-buffer results are compared bit-for-bit on
 *    small-integer data (exact arithmetic, so a difference would be a
 *    coverage bug) and within tolerance on float data: OpenBLAS itself rounds
 *    differently for different GEMM sizes (it switches to its small-matrix
 *    kernels) and thread counts, so float bits are not comparable. */
static void test_blocks(void) {
    ck_rng_seed(4242);
    const ck_conv2d_desc shapes[] = {
        mk(2, 6, 13, 11, 8, 3, 3, 1, 1, 1, CK_LAYOUT_NCHW), mk(2, 6, 13, 11, 8, 3, 3, 1, 1, 1, CK_LAYOUT_NHWC),
        mk(1, 6, 12, 9, 9, 3, 5, 2, 2, 3, CK_LAYOUT_NCHW),  mk(3, 6, 12, 9, 9, 3, 5, 2, 2, 3, CK_LAYOUT_NHWC),
        mk(2, 5, 9, 9, 5, 3, 3, 1, 1, 5, CK_LAYOUT_NCHW),   mk(2, 5, 9, 9, 5, 3, 3, 1, 1, 5, CK_LAYOUT_NHWC),
        mk(1, 4, 10, 7, 6, 1, 1, 2, 0, 1, CK_LAYOUT_NCHW),  mk(2, 4, 10, 7, 6, 1, 1, 2, 0, 2, CK_LAYOUT_NHWC),
    };
    for (int integer = 1; integer >= 0; integer--)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            ck_conv2d_desc d = shapes[i];
            d.has_bias = 1;
            d.activation = act_of(CK_ACT_RELU6, 0.f);
            tensors t;
            make_tensors(&d, 1, integer, &t);
            const size_t row_bytes = (size_t)(d.c * d.r * d.s * t.Q) * sizeof(float);
            size_t ws_full = 0, ws_small = 0;
            float *ys[4];
            const char *names[4] = {"full buffer", "one-row blocks", "2.5-row limit", "one-row blocks, 2 threads"};
            float *yref = run(&d, &t, CK_ALGO_REFERENCE, 1, 0, NULL);
            ys[0] = run(&d, &t, CK_ALGO_IM2COL, 1, 0, &ws_full);
            ys[1] = run(&d, &t, CK_ALGO_IM2COL, 1, row_bytes, &ws_small);
            CHECK(ws_small == row_bytes, "one-row limit: workspace %zu, expected %zu [%s]", ws_small, row_bytes,
                  ck_conv_desc_str(&d));
            CHECK(ws_full > ws_small, "full workspace %zu should exceed the one-row block %zu", ws_full, ws_small);
            ys[2] = run(&d, &t, CK_ALGO_IM2COL, 1, row_bytes * 5 / 2, &ws_small);
            CHECK(ws_small <= row_bytes * 2, "2.5-row limit: workspace %zu [%s]", ws_small, ck_conv_desc_str(&d));
            ys[3] = run(&d, &t, CK_ALGO_IM2COL, 2, row_bytes, NULL);
            for (int j = 0; j < 4; j++) {
                if (!ys[j] || !yref) continue;
                if (integer) compare_exact(&d, t.yn, ys[j], yref, names[j]);
                else compare_tol(&d, &t, ys[j], yref, names[j]);
            }

            /* below one row: a clear failure */
            ck_plan_options o;
            memset(&o, 0, sizeof o);
            o.algorithm = CK_ALGO_IM2COL;
            o.workspace_limit = row_bytes - 4;
            ck_plan *plan = NULL;
            CHECK_STATUS(ck_conv2d_plan_create(&d, t.w, t.b, &o, &plan), CK_ERR_WORKSPACE_LIMIT);
            CHECK(plan == NULL, "no plan on failure");
            CHECK(strstr(ck_last_error_message(), "workspace") != NULL, "message names the workspace: '%s'",
                  ck_last_error_message());
            /* too small a caller workspace at execute */
            o.workspace_limit = 0;
            if (ck_conv2d_plan_create(&d, t.w, t.b, &o, &plan) == CK_OK) {
                float *y = ck_test_alloc(t.yn);
                char small[16];
                CHECK_STATUS(ck_conv2d_execute(plan, t.x, y, t.res, small, sizeof small),
                             CK_ERR_INSUFFICIENT_WORKSPACE);
                free(y);
                ck_plan_destroy(plan);
            }
            free(yref);
            for (int j = 0; j < 4; j++) free(ys[j]);
            free_tensors(&t);
        }
}

/* 4. 1x1 stride-1 unpadded convolutions need no workspace (both layouts, groups) */
static void test_1x1(void) {
    ck_rng_seed(99);
    const ck_layout layouts[2] = {CK_LAYOUT_NCHW, CK_LAYOUT_NHWC};
    for (int li = 0; li < 2; li++)
        for (int64_t g = 1; g <= 3; g++) {
            ck_conv2d_desc d = mk(2, 4 * g, 7, 5, 3 * g, 1, 1, 1, 0, g, layouts[li]);
            d.has_bias = 1;
            d.activation = act_of(CK_ACT_LEAKY_RELU, 0.1f);
            tensors t;
            make_tensors(&d, 1, 0, &t);
            size_t ws = 99;
            float *y = run(&d, &t, CK_ALGO_IM2COL, 2, 0, &ws);
            float *yref = run(&d, &t, CK_ALGO_REFERENCE, 1, 0, NULL);
            CHECK(ws == 0, "1x1 workspace %zu, expected 0 [%s]", ws, ck_conv_desc_str(&d));
            if (y && yref) compare_tol(&d, &t, y, yref, "1x1");
            free(y); free(yref);
            free_tensors(&t);
            /* a 1x1 with stride 2 goes through im2col and has a workspace */
            d.stride_h = d.stride_w = 2;
            make_tensors(&d, 0, 0, &t);
            y = run(&d, &t, CK_ALGO_IM2COL, 1, 0, &ws);
            CHECK(ws > 0, "1x1 stride-2 workspace should be > 0 [%s]", ck_conv_desc_str(&d));
            free(y);
            free_tensors(&t);
        }
}

/* 5. threads 1 and 2 (on shapes big enough for the GEMMs to be split between
 *    the threads): bit-for-bit identical on small-integer data (exact
 *    arithmetic, so any difference is a coverage/race bug), and both within
 *    tolerance on float data.  Float results are not compared bitwise: each
 *    thread's slice of a GEMM is narrower, and OpenBLAS handles its edge
 *    columns with other kernels, which round differently (measured: a few
 *    elements differ in the last bits). */
static void test_threads(void) {
    ck_rng_seed(2024);
    const ck_conv2d_desc shapes[] = {
        /* big enough that im2col and the epilogue also run on 2 OpenMP threads */
        mk(1, 32, 24, 24, 64, 3, 3, 1, 1, 1, CK_LAYOUT_NCHW), mk(2, 32, 24, 24, 48, 3, 3, 1, 1, 1, CK_LAYOUT_NHWC),
        mk(1, 64, 24, 24, 64, 1, 1, 1, 0, 1, CK_LAYOUT_NCHW), mk(2, 64, 20, 20, 64, 1, 1, 1, 0, 1, CK_LAYOUT_NHWC),
        mk(1, 24, 17, 17, 24, 3, 3, 2, 1, 24, CK_LAYOUT_NCHW), mk(1, 24, 17, 17, 36, 3, 3, 1, 1, 3, CK_LAYOUT_NHWC),
        mk(1, 48, 40, 40, 48, 3, 3, 1, 1, 48, CK_LAYOUT_NCHW), mk(1, 48, 40, 40, 48, 3, 3, 1, 1, 48, CK_LAYOUT_NHWC),
        /* parallel epilogue (1x1, short reduction) and parallel grouped NCHW im2col */
        mk(1, 16, 64, 64, 48, 1, 1, 1, 0, 1, CK_LAYOUT_NCHW), mk(1, 16, 64, 64, 40, 1, 1, 1, 0, 1, CK_LAYOUT_NHWC),
        mk(1, 32, 48, 48, 32, 3, 3, 1, 1, 2, CK_LAYOUT_NCHW),
    };
    for (int integer = 1; integer >= 0; integer--)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            ck_conv2d_desc d = shapes[i];
            d.has_bias = 1;
            d.activation = act_of(integer ? CK_ACT_RELU : CK_ACT_TANH, 0.f);
            tensors t;
            make_tensors(&d, 1, integer, &t);
            float *y1 = run(&d, &t, CK_ALGO_IM2COL, 1, 0, NULL);
            float *y2 = run(&d, &t, CK_ALGO_IM2COL, 2, 0, NULL);
            float *yref = run(&d, &t, CK_ALGO_REFERENCE, 1, 0, NULL);
            if (integer) {
                if (y1 && y2) compare_exact(&d, t.yn, y1, y2, "threads 1 vs 2 (integer data)");
                if (y2 && yref) compare_exact(&d, t.yn, y2, yref, "threads 2 vs reference (integer data)");
            } else {
                if (y1 && yref) compare_tol(&d, &t, y1, yref, "threads 1");
                if (y2 && yref) compare_tol(&d, &t, y2, yref, "threads 2");
            }
            free(y1); free(y2); free(yref);
            free_tensors(&t);
        }
}

/* 6. NCHW8c declined; auto picks im2col when the faster algorithms decline */
static void test_selection(void) {
    ck_conv2d_desc d = mk(1, 8, 9, 9, 8, 3, 3, 1, 1, 1, CK_LAYOUT_NCHW8C);
    CHECK_STATUS(ck_conv2d_algorithm_applicable(&d, CK_ALGO_IM2COL, NULL), CK_ERR_UNSUPPORTED_ALGORITHM);
    CHECK(strstr(ck_last_error_message(), "NCHW8c") != NULL, "decline message names the layout: '%s'",
          ck_last_error_message());
    float w[8 * 8 * 9] = {0};
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = CK_ALGO_IM2COL;
    ck_plan *plan = NULL;
    CHECK_STATUS(ck_conv2d_plan_create(&d, w, NULL, &o, &plan), CK_ERR_UNSUPPORTED_ALGORITHM);
    CHECK(plan == NULL, "no plan for NCHW8c");

    /* Auto tries depthwise, winograd-f4, direct, then im2col (core/conv.c). */
    const ck_conv2d_desc shapes[] = {
        mk(1, 6, 9, 9, 9, 3, 5, 2, 1, 3, CK_LAYOUT_NHWC), mk(2, 5, 11, 8, 7, 2, 3, 3, 2, 1, CK_LAYOUT_NCHW),
        mk(1, 16, 9, 9, 16, 3, 3, 1, 1, 1, CK_LAYOUT_NCHW),
    };
    const ck_algorithm before[] = {CK_ALGO_DEPTHWISE, CK_ALGO_WINOGRAD_F4, CK_ALGO_DIRECT};
    int verified = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        ck_conv2d_desc s = shapes[i];
        if (i == 0) s.dilation_h = 2;
        CHECK_OK(ck_conv2d_algorithm_applicable(&s, CK_ALGO_IM2COL, NULL));
        int faster = 0;
        for (size_t j = 0; j < 3; j++) faster |= ck_conv2d_algorithm_applicable(&s, before[j], NULL) == CK_OK;
        tensors t;
        make_tensors(&s, 0, 0, &t);
        ck_plan_options ao;
        memset(&ao, 0, sizeof ao);
        ck_plan *p = NULL;
        CHECK_OK(ck_conv2d_plan_create(&s, t.w, t.b, &ao, &p));
        if (p) {
            ck_algorithm got;
            CHECK_OK(ck_plan_algorithm(p, &got));
            if (!faster) {
                CHECK(got == CK_ALGO_IM2COL, "auto picked '%s', expected im2col [%s]", ck_algorithm_name(got),
                      ck_conv_desc_str(&s));
                CHECK(strncmp(ck_plan_impl_name(p), "im2col/", 7) == 0, "impl name '%s'", ck_plan_impl_name(p));
                verified++;
            } else {
                CHECK(got != CK_ALGO_IM2COL && got != CK_ALGO_REFERENCE, "auto picked '%s' though a faster one applies",
                      ck_algorithm_name(got));
            }
            ck_plan_destroy(p);
        }
        free_tensors(&t);
    }
    printf("selection: auto->im2col verified on %d of 3 shapes (others taken by a faster algorithm)\n", verified);

    /* Depthwise kernels only for C == K > 1, Winograd only from 16 channels
     * (core/conv.c): LeNet c1 (C=1 -> K=6) and a 1-channel 3x3 go to direct, a
     * channel multiplier of 2 (which direct declines) to im2col. */
    struct { ck_conv2d_desc d; ck_algorithm want; } rule[] = {
        {mk(1, 1, 32, 32, 6, 5, 5, 1, 0, 1, CK_LAYOUT_NCHW), CK_ALGO_DIRECT},
        {mk(1, 4, 9, 9, 8, 3, 3, 1, 1, 4, CK_LAYOUT_NCHW), CK_ALGO_IM2COL},
        {mk(1, 1, 4, 4, 1, 3, 3, 1, 1, 1, CK_LAYOUT_NCHW), CK_ALGO_DIRECT},
        {mk(1, 8, 9, 9, 8, 3, 3, 1, 1, 8, CK_LAYOUT_NCHW), CK_ALGO_DEPTHWISE},
        {mk(1, 12, 9, 9, 12, 3, 3, 2, 1, 12, CK_LAYOUT_NCHW8C), CK_ALGO_DEPTHWISE},
        {mk(1, 16, 9, 9, 16, 3, 3, 1, 1, 1, CK_LAYOUT_NCHW8C), CK_ALGO_WINOGRAD_F4},
    };
    for (size_t i = 0; i < sizeof rule / sizeof rule[0]; i++) {
        tensors t;
        make_tensors(&rule[i].d, 0, 0, &t);
        ck_plan_options ao;
        memset(&ao, 0, sizeof ao);
        ck_plan *p = NULL;
        CHECK_OK(ck_conv2d_plan_create(&rule[i].d, t.w, t.b, &ao, &p));
        if (p) {
            ck_algorithm got;
            CHECK_OK(ck_plan_algorithm(p, &got));
            CHECK(got == rule[i].want, "auto picked '%s', expected '%s' [%s]", ck_algorithm_name(got),
                  ck_algorithm_name(rule[i].want), ck_conv_desc_str(&rule[i].d));
            ck_plan_destroy(p);
        }
        free_tensors(&t);
    }
}

int main(void) {
    ck_conv2d_desc probe = ck_conv2d_desc_init(1, 1, 3, 3, 1, 1, 1);
    if (ck_conv2d_algorithm_applicable(&probe, CK_ALGO_IM2COL, NULL) != CK_OK) {
        printf("test_im2col: im2col not available in this build (%s): skipped\n", ck_last_error_message());
        return 0;
    }
    test_sweep(300);
    test_exact(60);
    test_blocks();
    test_1x1();
    test_threads();
    test_selection();
    return ck_test_finish("test_im2col");
}
