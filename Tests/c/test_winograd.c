/* Winograd F(2x2), F(4x4), F(6x6) (3x3 kernels): accuracy against a float64
 * direct reference with the bound
 *   |y - y_ref| <= tol * (sum |w*x| + |b| + |res|)
 * (F2: 4*sqrt(9C)*2^-24, F4: 2e-5, F6: 5e-5), on zero-mean, post-ReLU and
 * all-positive data, large C, generated edge shapes, both layouts, fused
 * epilogues, 1 and 2 threads, blocked workspaces, the NCHW8c layout (odd
 * channel counts, output channel tail must be zero); and the declines.
 * Prints the worst observed error ratio err / (sum|w*x| + |b| + |res|) per
 * tile size. */
#include "testutil.h"

enum { DATA_ZERO_MEAN, DATA_POST_RELU, DATA_POSITIVE };
static const char *data_name[] = {"zero-mean", "post-relu", "positive"};

static double worst_ratio[3];     /* per tile size: max err/scale */
static double worst_of_tol[3];    /* per tile size: max err/(tol*scale) */

static int algo_index(ck_algorithm a) { return a == CK_ALGO_WINOGRAD_F2 ? 0 : a == CK_ALGO_WINOGRAD_F4 ? 1 : 2; }

static double act_d(ck_activation a, double v) {
    switch (a.kind) {
    case CK_ACT_RELU: return v > 0 ? v : 0;
    case CK_ACT_RELU6: return v < 0 ? 0 : (v > 6 ? 6 : v);
    case CK_ACT_LEAKY_RELU: return v >= 0 ? v : a.alpha * v;
    case CK_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case CK_ACT_TANH: return tanh(v);
    default: return v;
    }
}

static int64_t off(ck_layout l, int64_t C, int64_t H, int64_t W, int64_t n, int64_t c, int64_t h, int64_t w) {
    if (l == CK_LAYOUT_NCHW8C) return (((n * ((C + 7) / 8) + c / 8) * H + h) * W + w) * 8 + c % 8;
    return l == CK_LAYOUT_NHWC ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
}

/* Element count of the buffer (NCHW8c pads C to a multiple of 8). */
static int64_t buf_count(ck_layout l, int64_t N, int64_t C, int64_t H, int64_t W) {
    return N * (l == CK_LAYOUT_NCHW8C ? (C + 7) / 8 * 8 : C) * H * W;
}

/* Set the NCHW8c channel tail (lanes c >= C of the last block) to v. */
static void set_tail(float *buf, ck_layout l, int64_t N, int64_t C, int64_t H, int64_t W, float v) {
    if (l != CK_LAYOUT_NCHW8C || C % 8 == 0) return;
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++)
                for (int64_t c = C; c < (C + 7) / 8 * 8; c++) buf[off(l, C, H, W, n, c, h, w)] = v;
}

/* Count NCHW8c tail entries that are not exactly zero. */
static int64_t bad_tail(const float *buf, ck_layout l, int64_t N, int64_t C, int64_t H, int64_t W) {
    int64_t bad = 0;
    if (l != CK_LAYOUT_NCHW8C || C % 8 == 0) return 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++)
                for (int64_t c = C; c < (C + 7) / 8 * 8; c++) bad += buf[off(l, C, H, W, n, c, h, w)] != 0.f;
    return bad;
}

/* Run one case; returns 0 on success.  limit: workspace limit (0 = default). */
static int run_case(const ck_conv2d_desc *d, ck_algorithm algo, int data, int threads, int use_res, size_t limit,
                    int pass_ws) {
    int64_t P, Q;
    if (ck_conv2d_output_shape(d, &P, &Q) != CK_OK) { CHECK(0, "bad test shape %s", ck_conv_desc_str(d)); return 1; }
    const int64_t xn = buf_count(d->layout, d->n, d->c, d->h, d->w), wn = d->k * d->c * 9,
                  yn = buf_count(d->layout, d->n, d->k, P, Q);
    float *x = ck_test_alloc(xn), *w = ck_test_alloc(wn), *b = ck_test_alloc(d->k), *y = ck_test_alloc(yn);
    float *res = use_res ? ck_test_alloc(yn) : NULL;
    switch (data) {
    case DATA_ZERO_MEAN: ck_fill_uniform(x, xn, -1.f, 1.f); ck_fill_uniform(w, wn, -1.f, 1.f); break;
    case DATA_POST_RELU:
        ck_fill_uniform(x, xn, -1.f, 1.f);
        for (int64_t i = 0; i < xn; i++) x[i] = x[i] > 0 ? x[i] : 0;
        ck_fill_uniform(w, wn, -1.f, 1.f);
        break;
    default: ck_fill_uniform(x, xn, 0.f, 1.f); ck_fill_uniform(w, wn, 0.f, 1.f); break;
    }
    ck_fill_uniform(b, d->k, -1.f, 1.f);
    if (res) ck_fill_uniform(res, yn, -1.f, 1.f);
    set_tail(x, d->layout, d->n, d->c, d->h, d->w, 0.f); /* a valid NCHW8c tensor */
    if (res) set_tail(res, d->layout, d->n, d->k, P, Q, 0.f);
    for (int64_t i = 0; i < yn; i++) y[i] = NAN;

    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = algo;
    o.threads = threads;
    o.flags = algo == CK_ALGO_WINOGRAD_F6 ? CK_PLAN_FAST_MATH : 0;
    o.workspace_limit = limit;
    ck_plan *plan = NULL;
    ck_status st = ck_conv2d_plan_create(d, w, b, &o, &plan);
    int bad = 0;
    CHECK(st == CK_OK, "%s create: %s (%s) for %s", ck_algorithm_name(algo), ck_status_string(st),
          ck_last_error_message(), ck_conv_desc_str(d));
    if (st == CK_OK) {
        size_t wsz = 0;
        ck_plan_workspace_size(plan, &wsz);
        if (limit) CHECK(wsz <= limit, "workspace %zu above limit %zu", wsz, limit);
        void *ws = pass_ws && wsz ? malloc(wsz) : NULL;
        CHECK_OK(ck_conv2d_execute(plan, x, y, res, ws, wsz));
        free(ws);
        const double tols[3] = {4.0 * sqrt(9.0 * (double)d->c) * ldexp(1.0, -24), 2e-5, 5e-5};
        const int ai = algo_index(algo);
        const double tol = tols[ai];
        const int64_t tail = bad_tail(y, d->layout, d->n, d->k, P, Q);
        CHECK(tail == 0, "%s: %lld NCHW8c output channel-tail entries are not zero; %s", ck_algorithm_name(algo),
              (long long)tail, ck_conv_desc_str(d));
        bad |= tail != 0;
        const int smooth = d->activation.kind == CK_ACT_SIGMOID || d->activation.kind == CK_ACT_TANH;
        /* Winograd's rounding error at an output comes from every input of its
         * (m+2)x(m+2) tile, not only from its 3x3 window: where the window is
         * (nearly) all zeros but the tile is not (post-ReLU data, padding) the
         * per-output bound tol*sum|w*x| alone would demand exact zeros.  So the
         * scale gets a floor of 1/8 of a typical window's sum|w*x|:
         * sum_{c,r,s}|w[k]| * mean|x| / 8.  It only matters for sparse windows. */
        double mean_abs_x = 0;
        {
            const int64_t xl = d->n * d->c * d->h * d->w; /* logical elements */
            for (int64_t i = 0; i < xl; i++) mean_abs_x += fabs((double)x[off(d->layout, d->c, d->h, d->w, i / (d->c * d->h * d->w), (i / (d->h * d->w)) % d->c, (i / d->w) % d->h, i % d->w)]);
            mean_abs_x /= (double)xl;
        }
        for (int64_t n = 0; n < d->n && !bad; n++)
            for (int64_t k = 0; k < d->k && !bad; k++)
                for (int64_t p = 0; p < P && !bad; p++)
                    for (int64_t q = 0; q < Q && !bad; q++) {
                        double acc = d->has_bias ? b[k] : 0, sc = d->has_bias ? fabs(b[k]) : 0, wsum = 0;
                        for (int64_t i = 0; i < d->c * 9; i++) wsum += fabs((double)w[k * d->c * 9 + i]);
                        for (int64_t c = 0; c < d->c; c++)
                            for (int r = 0; r < 3; r++) {
                                const int64_t ih = p - d->pad_top + r;
                                if (ih < 0 || ih >= d->h) continue;
                                for (int s = 0; s < 3; s++) {
                                    const int64_t iw = q - d->pad_left + s;
                                    if (iw < 0 || iw >= d->w) continue;
                                    const double v = (double)w[(k * d->c + c) * 9 + r * 3 + s] *
                                                     (double)x[off(d->layout, d->c, d->h, d->w, n, c, ih, iw)];
                                    acc += v;
                                    sc += fabs(v);
                                }
                            }
                        const int64_t oo = off(d->layout, d->k, P, Q, n, k, p, q);
                        if (res) { acc += res[oo]; sc += fabs(res[oo]); }
                        const double ref = act_d(d->activation, acc);
                        const double err = fabs((double)y[oo] - ref);
                        const double floor_sc = wsum * mean_abs_x / 8;
                        if (sc < floor_sc) sc = floor_sc;
                        const double bound = tol * sc + (smooth ? ldexp(fabs(ref), -22) : 0) + 1e-30;
                        if (sc > 0) {
                            if (err / sc > worst_ratio[ai]) worst_ratio[ai] = err / sc;
                            if (err / (tol * sc) > worst_of_tol[ai]) worst_of_tol[ai] = err / (tol * sc);
                        }
                        if (!(err <= bound)) {
                            CHECK(0, "%s %s threads %d res %d: y[n%lld k%lld p%lld q%lld] = %.9g, ref %.9g, err %.3g > bound %.3g; %s",
                                  ck_algorithm_name(algo), data_name[data], threads, use_res, (long long)n, (long long)k,
                                  (long long)p, (long long)q, (double)y[oo], ref, err, bound, ck_conv_desc_str(d));
                            bad = 1;
                        }
                    }
        ck_test_checks++;
        ck_plan_destroy(plan);
    } else bad = 1;
    free(x); free(w); free(b); free(y); free(res);
    return bad;
}

static const ck_algorithm algos[3] = {CK_ALGO_WINOGRAD_F2, CK_ALGO_WINOGRAD_F4, CK_ALGO_WINOGRAD_F6};

static void test_data_kinds(void) {
    /* moderate C, several tiles with edges, all three data kinds, both layouts */
    for (int a = 0; a < 3; a++)
        for (int data = 0; data < 3; data++)
            for (int layout = 0; layout < 2; layout++) {
                ck_conv2d_desc d = ck_conv2d_desc_init(1, 32, 13, 11, 24, 3, 3);
                d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
                d.layout = (ck_layout)layout;
                d.has_bias = 1;
                run_case(&d, algos[a], data, 1, 0, 0, 0);
            }
}

static void test_large_c(void) {
    for (int a = 0; a < 3; a++)
        for (int data = 0; data < 3; data++) {
            ck_conv2d_desc d = ck_conv2d_desc_init(1, 512, 6, 6, 16, 3, 3);
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
            d.layout = data == 1 ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
            d.has_bias = 1;
            run_case(&d, algos[a], data, 2, 0, 0, 0);
        }
    /* C = 1024 zero-mean once, F4 */
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 1024, 4, 4, 9, 3, 3);
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
    run_case(&d, CK_ALGO_WINOGRAD_F4, DATA_ZERO_MEAN, 1, 0, 0, 0);
}

static void test_generated(int count) {
    ck_rng_seed(12345);
    for (int i = 0; i < count; i++) {
        ck_conv2d_desc d;
        int64_t P, Q;
        do {
            d = ck_conv2d_desc_init(ck_rand_int(1, 3), ck_rand_int(1, 19), ck_rand_int(1, 17), ck_rand_int(1, 17),
                                    ck_rand_int(1, 19), 3, 3);
            d.pad_top = ck_rand_int(0, 2);
            d.pad_left = ck_rand_int(0, 2);
            d.pad_bottom = ck_rand_int(0, 2);
            d.pad_right = ck_rand_int(0, 2);
        } while (d.h + d.pad_top + d.pad_bottom < 3 || d.w + d.pad_left + d.pad_right < 3);
        ck_conv2d_output_shape(&d, &P, &Q);
        d.layout = (ck_layout)ck_rand_int(0, 2); /* NCHW, NHWC, NCHW8C */
        d.has_bias = (int)ck_rand_int(0, 1);
        d.activation.kind = (ck_activation_kind)ck_rand_int(0, 5);
        d.activation.alpha = 0.1f;
        const int use_res = (int)ck_rand_int(0, 1);
        const int threads = (int)ck_rand_int(1, 2);
        const int data = (int)ck_rand_int(0, 2);
        const ck_algorithm algo = algos[i % 3];
        /* sometimes force several small blocks */
        size_t limit = 0;
        if (ck_rand_int(0, 3) == 0) {
            const int alpha = algo == CK_ALGO_WINOGRAD_F2 ? 4 : algo == CK_ALGO_WINOGRAD_F4 ? 6 : 8;
            const int64_t Kp = (d.k + 15) / 16 * 16;
            limit = (size_t)(alpha * alpha) * (size_t)((d.c + 15) / 16 * 16 + Kp) * 4 * (size_t)ck_rand_int(1, 8) + 128;
        }
        run_case(&d, algo, data, threads, use_res, limit, (int)ck_rand_int(0, 1));
    }
}

static void test_blocked_bigger(void) {
    /* many tiles, tiny workspace limit: lots of blocks, with row tails */
    for (int a = 0; a < 3; a++) {
        ck_conv2d_desc d = ck_conv2d_desc_init(2, 9, 23, 29, 17, 3, 3);
        d.pad_top = 2; d.pad_left = 0; d.pad_bottom = 1; d.pad_right = 2;
        d.has_bias = 1;
        d.activation.kind = CK_ACT_RELU;
        d.layout = a == 1 ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
        run_case(&d, algos[a], DATA_ZERO_MEAN, 2, 1, 40000, 1);
    }
}

/* The blocked NCHW8c layout: channel counts that are not multiples of 8 (the
 * input tail is read, the output tail must come out as zeros), tiny and odd
 * spatial sizes, asymmetric padding, residual, every activation, 1 and 2
 * threads, small blocks; every tile size. */
static void test_nchw8c(void) {
    static const int shapes[][7] = {
        /* N, C, H, W, K, pad_top/left, pad_bottom/right */
        {1, 3, 5, 7, 5, 1, 1},   {2, 13, 9, 6, 11, 0, 2},  {1, 8, 16, 16, 16, 1, 1}, {1, 1, 1, 1, 1, 1, 1},
        {3, 17, 2, 3, 9, 2, 1},  {1, 9, 11, 13, 23, 1, 0}, {2, 24, 7, 7, 20, 1, 1},  {1, 5, 3, 3, 7, 0, 0},
        {1, 40, 14, 10, 33, 2, 2}, {2, 7, 1, 9, 3, 1, 2},
    };
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const int *s = shapes[i];
            ck_conv2d_desc d = ck_conv2d_desc_init(s[0], s[1], s[2], s[3], s[4], 3, 3);
            d.pad_top = s[5]; d.pad_left = (s[5] + (int)i) % 3;
            d.pad_bottom = s[6]; d.pad_right = (s[6] + 1) % 3;
            int64_t P, Q;
            if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) { d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1; }
            d.layout = CK_LAYOUT_NCHW8C;
            d.has_bias = (int)(i % 2 == 0);
            d.activation.kind = (ck_activation_kind)((i + (size_t)a) % 6);
            d.activation.alpha = 0.1f;
            const int data = (int)((i + (size_t)a) % 3);
            size_t limit = 0;
            if (i % 4 == 3) {
                const int alpha = a == 0 ? 4 : a == 1 ? 6 : 8;
                limit = (size_t)(alpha * alpha) * (size_t)((d.c + 15) / 16 * 16 + (d.k + 15) / 16 * 16) * 4 * 3 + 128;
            }
            run_case(&d, algos[a], data, 1 + (int)(i % 2), (int)(i % 3 != 1), limit, (int)(i % 2));
        }
    /* large C with a channel tail, post-ReLU data */
    for (int a = 0; a < 3; a++) {
        ck_conv2d_desc d = ck_conv2d_desc_init(1, 261, 6, 5, 19, 3, 3);
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        d.layout = CK_LAYOUT_NCHW8C;
        d.has_bias = 1;
        d.activation.kind = CK_ACT_RELU;
        run_case(&d, algos[a], DATA_POST_RELU, 2, 1, 0, 0);
    }
}

static void test_declines(void) {
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.flags = CK_PLAN_FAST_MATH;
    for (int a = 0; a < 3; a++) {
        ck_conv2d_desc d = ck_conv2d_desc_init(1, 8, 10, 10, 8, 3, 3);
        CHECK_OK(ck_conv2d_algorithm_applicable(&d, algos[a], &o));
        ck_conv2d_desc e = d; e.stride_h = 2;
        CHECK_STATUS(ck_conv2d_algorithm_applicable(&e, algos[a], &o), CK_ERR_UNSUPPORTED_ALGORITHM);
        CHECK(strstr(ck_last_error_message(), "stride") != NULL, "message: %s", ck_last_error_message());
        e = d; e.r = e.s = 5;
        CHECK_STATUS(ck_conv2d_algorithm_applicable(&e, algos[a], &o), CK_ERR_UNSUPPORTED_ALGORITHM);
        CHECK(strstr(ck_last_error_message(), "3x3") != NULL, "message: %s", ck_last_error_message());
        e = d; e.dilation_w = 2;
        CHECK_STATUS(ck_conv2d_algorithm_applicable(&e, algos[a], &o), CK_ERR_UNSUPPORTED_ALGORITHM);
        CHECK(strstr(ck_last_error_message(), "dilation") != NULL, "message: %s", ck_last_error_message());
        e = d; e.groups = 2;
        CHECK_STATUS(ck_conv2d_algorithm_applicable(&e, algos[a], &o), CK_ERR_UNSUPPORTED_ALGORITHM);
        CHECK(strstr(ck_last_error_message(), "groups") != NULL, "message: %s", ck_last_error_message());
        e = d; e.layout = CK_LAYOUT_NCHW8C;
        CHECK_OK(ck_conv2d_algorithm_applicable(&e, algos[a], &o));
        ck_plan_options lo = o;
        lo.workspace_limit = 256;
        CHECK_STATUS(ck_conv2d_algorithm_applicable(&d, algos[a], &lo), CK_ERR_WORKSPACE_LIMIT);
        float w[8 * 8 * 9] = {0};
        ck_plan *p = NULL;
        lo.algorithm = algos[a];
        CHECK_STATUS(ck_conv2d_plan_create(&d, w, NULL, &lo, &p), CK_ERR_WORKSPACE_LIMIT);
        CHECK(p == NULL, "plan set on failure");
    }
    /* F6 without fast math */
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 8, 10, 10, 8, 3, 3);
    memset(&o, 0, sizeof o);
    CHECK_STATUS(ck_conv2d_algorithm_applicable(&d, CK_ALGO_WINOGRAD_F6, &o), CK_ERR_UNSUPPORTED_ALGORITHM);
    CHECK(strstr(ck_last_error_message(), "FAST_MATH") != NULL, "message: %s", ck_last_error_message());
    float w[8 * 8 * 9] = {0};
    ck_plan *p = NULL;
    o.algorithm = CK_ALGO_WINOGRAD_F6;
    CHECK_STATUS(ck_conv2d_plan_create(&d, w, NULL, &o, &p), CK_ERR_UNSUPPORTED_ALGORITHM);
    /* CK_PLAN_NO_WINOGRAD: explicit request refused, auto avoids it */
    o.algorithm = CK_ALGO_WINOGRAD_F4;
    o.flags = CK_PLAN_NO_WINOGRAD;
    CHECK_STATUS(ck_conv2d_algorithm_applicable(&d, CK_ALGO_WINOGRAD_F4, &o), CK_ERR_UNSUPPORTED_ALGORITHM);
    o.algorithm = CK_ALGO_AUTO;
    if (ck_conv2d_plan_create(&d, w, NULL, &o, &p) == CK_OK) {
        ck_algorithm got;
        ck_plan_algorithm(p, &got);
        CHECK(got < CK_ALGO_WINOGRAD_F2 || got > CK_ALGO_WINOGRAD_F6, "auto picked %s despite NO_WINOGRAD",
              ck_algorithm_name(got));
        ck_plan_destroy(p);
    }
}

int main(void) {
    for (int a = 0; a < 3; a++) {
        ck_conv2d_desc d = ck_conv2d_desc_init(1, 4, 8, 8, 4, 3, 3);
        ck_plan_options o;
        memset(&o, 0, sizeof o);
        o.algorithm = algos[a];
        o.flags = CK_PLAN_FAST_MATH;
        float w[4 * 4 * 9] = {0};
        ck_plan *p = NULL;
        if (ck_conv2d_plan_create(&d, w, NULL, &o, &p) == CK_OK) {
            printf("%s impl: %s\n", ck_algorithm_name(algos[a]), ck_plan_impl_name(p));
            ck_plan_destroy(p);
        }
    }
    test_declines();
    test_data_kinds();
    test_large_c();
    test_blocked_bigger();
    test_nchw8c();
    test_generated(90);
    printf("worst error ratio err/(sum|w*x|+|b|+|res|):  F2 %.3g (%.3f of tol)  F4 %.3g (%.3f of tol)  F6 %.3g (%.3f of tol)\n",
           worst_ratio[0], worst_of_tol[0], worst_ratio[1], worst_of_tol[1], worst_ratio[2], worst_of_tol[2]);
    return ck_test_finish("test_winograd");
}
