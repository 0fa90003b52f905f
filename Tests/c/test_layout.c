/* Layouts: generated shapes (deterministic RNG) run in NCHW, NHWC and NCHW8c
 * must agree.  The reference ops accumulate in the same order in every layout,
 * so reference results must be bit-identical; CK_ALGO_AUTO (whatever fast
 * algorithm it picks) is compared against the reference with a tolerance.
 * Also: ck_convert_layout round trips, the zero channel tail of NCHW8c, and
 * ck_tensor_size. */
#include "testutil.h"

static const ck_layout LAYOUTS[3] = {CK_LAYOUT_NCHW, CK_LAYOUT_NHWC, CK_LAYOUT_NCHW8C};
static const char *const LNAME[3] = {"NCHW", "NHWC", "NCHW8c"};
#define POISON 777.25f

static int64_t tsize(ck_layout l, int64_t n, int64_t c, int64_t h, int64_t w) {
    int64_t cnt = 0;
    CHECK_OK(ck_tensor_size(l, n, c, h, w, &cnt));
    return cnt;
}

/* dst (layout l) from an NCHW source */
static float *to_layout(ck_layout l, int64_t n, int64_t c, int64_t h, int64_t w, const float *nchw) {
    float *t = ck_test_alloc(tsize(l, n, c, h, w));
    CHECK_OK(ck_convert_layout(n, c, h, w, CK_LAYOUT_NCHW, nchw, l, t));
    return t;
}

static float *poisoned(int64_t count) {
    float *p = ck_test_alloc(count);
    for (int64_t i = 0; i < count; i++) p[i] = POISON;
    return p;
}

/* Check the NCHW8c channel tail of y is zero, then convert to NCHW into out. */
static void from_layout(const char *what, ck_layout l, int64_t n, int64_t c, int64_t h, int64_t w, const float *y,
                        float *out) {
    if (l == CK_LAYOUT_NCHW8C && c % 8) {
        int bad = 0;
        const int64_t cb = (c + 7) / 8;
        for (int64_t in = 0; in < n && !bad; in++)
            for (int64_t ic = c; ic < cb * 8 && !bad; ic++)
                for (int64_t i = 0; i < h * w && !bad; i++) {
                    float v = y[(((in * cb + ic / 8) * h * w) + i) * 8 + ic % 8];
                    if (v != 0.f) {
                        bad = 1;
                        CHECK(0, "%s: NCHW8c channel tail (n%lld c%lld of %lld) is %g, not 0", what, (long long)in,
                              (long long)ic, (long long)c, (double)v);
                    }
                }
    }
    CHECK_OK(ck_convert_layout(n, c, h, w, l, y, CK_LAYOUT_NCHW, out));
}

static int compare(const char *what, const float *y, const float *ref, const float *absref, int64_t count, double tol) {
    for (int64_t i = 0; i < count; i++) {
        double lim = absref ? tol * (absref[i] + 1e-3) : tol * (1 + fabs(ref[i]));
        if (!(fabs((double)y[i] - (double)ref[i]) <= lim) && !(y[i] == ref[i])) {
            CHECK(0, "%s: [%lld] = %.9g, expected %.9g", what, (long long)i, (double)y[i], (double)ref[i]);
            return 0;
        }
    }
    ck_test_checks++;
    return 1;
}

/* ---- convolution ---------------------------------------------------------- */

static ck_status conv_run(const ck_conv2d_desc *d, ck_algorithm algo, const float *x, const float *w, const float *b,
                          const float *res, float *y, char *impl, size_t impl_len) {
    ck_plan_options o = {algo, 1 + (int32_t)(ck_rng_next() % 2), 0, 0};
    ck_plan *p = NULL;
    ck_status st = ck_conv2d_plan_create(d, w, b, &o, &p);
    if (st != CK_OK) return st;
    if (impl) snprintf(impl, impl_len, "%s", ck_plan_impl_name(p));
    st = ck_conv2d_execute(p, x, y, res, NULL, 0);
    ck_plan_destroy(p);
    return st;
}

static ck_conv2d_desc random_conv(void) {
    ck_conv2d_desc d = ck_conv2d_desc_init(ck_rand_int(1, 2), 1, ck_rand_int(1, 10), ck_rand_int(1, 10), 1,
                                           ck_rand_int(1, 3), ck_rand_int(1, 3));
    int64_t g = ck_rand_int(1, 3);
    if (ck_rand_int(0, 4) == 0) { /* depthwise */
        d.c = d.k = ck_rand_int(1, 12);
        g = d.c;
    } else {
        d.c = g * ck_rand_int(1, 5);
        d.k = g * ck_rand_int(1, 5);
    }
    d.groups = g;
    d.stride_h = ck_rand_int(1, 2);
    d.stride_w = ck_rand_int(1, 2);
    d.dilation_h = ck_rand_int(1, 2);
    d.dilation_w = ck_rand_int(1, 2);
    d.pad_top = ck_rand_int(0, 2);
    d.pad_left = ck_rand_int(0, 2);
    d.pad_bottom = ck_rand_int(0, 2);
    d.pad_right = ck_rand_int(0, 2);
    d.has_bias = (int32_t)ck_rand_int(0, 1);
    d.activation.kind = (ck_activation_kind)ck_rand_int(0, 5);
    d.activation.alpha = 0.1f;
    return d;
}

static void test_conv_layouts(int cases) {
    int done = 0;
    while (done < cases) {
        ck_conv2d_desc d = random_conv();
        int64_t P, Q;
        if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) continue; /* empty output: draw again */
        done++;
        const int use_res = (int)ck_rand_int(0, 1);
        const int64_t xn = d.n * d.c * d.h * d.w, yn = d.n * d.k * P * Q, wn = d.k * (d.c / d.groups) * d.r * d.s;
        float *x = ck_test_alloc(xn), *w = ck_test_alloc(wn), *b = ck_test_alloc(d.k), *res = ck_test_alloc(yn);
        ck_fill_uniform(x, xn, -1, 1);
        ck_fill_uniform(w, wn, -1, 1);
        ck_fill_uniform(b, d.k, -1, 1);
        ck_fill_uniform(res, yn, -1, 1);
        /* the reference in NCHW, and the magnitude sum (|x|, |w|, |b|, |res|, no activation) for tolerances */
        float *ref = ck_test_alloc(yn), *absref = ck_test_alloc(yn);
        CHECK_OK(conv_run(&d, CK_ALGO_REFERENCE, x, w, b, use_res ? res : NULL, ref, NULL, 0));
        {
            ck_conv2d_desc da = d;
            da.activation.kind = CK_ACT_NONE;
            float *ax = ck_test_alloc(xn), *aw = ck_test_alloc(wn), *ab = ck_test_alloc(d.k), *ares = ck_test_alloc(yn);
            for (int64_t i = 0; i < xn; i++) ax[i] = fabsf(x[i]);
            for (int64_t i = 0; i < wn; i++) aw[i] = fabsf(w[i]);
            for (int64_t i = 0; i < d.k; i++) ab[i] = fabsf(b[i]);
            for (int64_t i = 0; i < yn; i++) ares[i] = fabsf(res[i]);
            CHECK_OK(conv_run(&da, CK_ALGO_REFERENCE, ax, aw, ab, use_res ? ares : NULL, absref, NULL, 0));
            free(ax); free(aw); free(ab); free(ares);
        }
        float *back = ck_test_alloc(yn);
        for (int li = 0; li < 3; li++) {
            ck_layout l = LAYOUTS[li];
            d.layout = l;
            float *xl = to_layout(l, d.n, d.c, d.h, d.w, x);
            float *rl = to_layout(l, d.n, d.k, P, Q, res);
            const int64_t yl_n = tsize(l, d.n, d.k, P, Q);
            for (int a = 0; a < 2; a++) {
                const ck_algorithm algo = a ? CK_ALGO_AUTO : CK_ALGO_REFERENCE;
                float *yl = poisoned(yl_n);
                char impl[64] = "", what[512];
                if (getenv("CK_TEST_VERBOSE")) fprintf(stderr, "conv %s %s: %s\n", LNAME[li], ck_algorithm_name(algo), ck_conv_desc_str(&d));
                ck_status st = conv_run(&d, algo, xl, w, b, use_res ? rl : NULL, yl, impl, sizeof impl);
                snprintf(what, sizeof what, "conv %s %s (%s) res%d", LNAME[li], ck_algorithm_name(algo), impl, use_res);
                CHECK(st == CK_OK, "%s: %s: %s for %s", what, ck_status_string(st), ck_last_error_message(), ck_conv_desc_str(&d));
                if (st == CK_OK) {
                    from_layout(what, l, d.n, d.k, P, Q, yl, back);
                    /* reference: bit-identical in every layout; auto: within rounding */
                    if (!compare(what, back, ref, a ? absref : NULL, yn, a ? 1e-5 : 0.0))
                        fprintf(stderr, "  case: %s\n", ck_conv_desc_str(&d));
                }
                free(yl);
            }
            free(xl); free(rl);
        }
        free(x); free(w); free(b); free(res); free(ref); free(absref); free(back);
    }
}

/* ---- transposed convolution -------------------------------------------------- */

static void test_deconv_layouts(int cases) {
    int done = 0;
    while (done < cases) {
        ck_conv_transpose2d_desc d;
        memset(&d, 0, sizeof d);
        d.n = ck_rand_int(1, 2);
        d.groups = ck_rand_int(1, 2);
        d.c = d.groups * ck_rand_int(1, 5);
        d.k = d.groups * ck_rand_int(1, 5);
        d.h = ck_rand_int(1, 6); d.w = ck_rand_int(1, 6);
        d.r = ck_rand_int(1, 3); d.s = ck_rand_int(1, 3);
        d.stride_h = ck_rand_int(1, 3); d.stride_w = ck_rand_int(1, 3);
        d.dilation_h = ck_rand_int(1, 2); d.dilation_w = ck_rand_int(1, 2);
        d.pad_top = ck_rand_int(0, 1); d.pad_bottom = ck_rand_int(0, 1);
        d.pad_left = ck_rand_int(0, 1); d.pad_right = ck_rand_int(0, 1);
        d.output_padding_h = ck_rand_int(0, d.stride_h - 1);
        d.output_padding_w = ck_rand_int(0, d.stride_w - 1);
        d.has_bias = (int32_t)ck_rand_int(0, 1);
        d.activation.kind = (ck_activation_kind)ck_rand_int(0, 5);
        d.activation.alpha = 0.2f;
        int64_t P, Q;
        if (ck_conv_transpose2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        done++;
        const int64_t xn = d.n * d.c * d.h * d.w, yn = d.n * d.k * P * Q, wn = d.c * (d.k / d.groups) * d.r * d.s;
        float *x = ck_test_alloc(xn), *w = ck_test_alloc(wn), *b = ck_test_alloc(d.k);
        ck_fill_uniform(x, xn, -1, 1);
        ck_fill_uniform(w, wn, -1, 1);
        ck_fill_uniform(b, d.k, -1, 1);
        float *ref = ck_test_alloc(yn), *back = ck_test_alloc(yn);
        for (int li = 0; li < 3; li++) {
            d.layout = LAYOUTS[li];
            ck_plan *p = NULL;
            if (ck_conv_transpose2d_plan_create(&d, w, b, NULL, &p) != CK_OK) {
                CHECK(0, "deconv %s plan: %s", LNAME[li], ck_last_error_message());
                continue;
            }
            float *xl = to_layout(d.layout, d.n, d.c, d.h, d.w, x);
            float *yl = poisoned(tsize(d.layout, d.n, d.k, P, Q));
            CHECK_OK(ck_conv_transpose2d_execute(p, xl, yl, NULL, 0));
            char what[64];
            snprintf(what, sizeof what, "conv_transpose2d %s", LNAME[li]);
            from_layout(what, d.layout, d.n, d.k, P, Q, yl, li == 0 ? ref : back);
            if (li) compare(what, back, ref, NULL, yn, 0.0);
            ck_plan_destroy(p);
            free(xl); free(yl);
        }
        free(x); free(w); free(b); free(ref); free(back);
    }
}

/* ---- pooling -------------------------------------------------------------------- */

static void test_pool_layouts(int cases) {
    int done = 0;
    while (done < cases) {
        ck_pool2d_desc d;
        memset(&d, 0, sizeof d);
        d.kind = (ck_pool_kind)ck_rand_int(0, 1);
        d.n = ck_rand_int(1, 2); d.c = ck_rand_int(1, 13);
        d.h = ck_rand_int(1, 9); d.w = ck_rand_int(1, 9);
        d.r = ck_rand_int(1, 3); d.s = ck_rand_int(1, 3);
        d.stride_h = ck_rand_int(1, 3); d.stride_w = ck_rand_int(1, 3);
        d.dilation_h = ck_rand_int(1, 2); d.dilation_w = ck_rand_int(1, 2);
        const int64_t eh = d.dilation_h * (d.r - 1), ew = d.dilation_w * (d.s - 1);
        d.pad_top = ck_rand_int(0, eh); d.pad_bottom = ck_rand_int(0, eh);
        d.pad_left = ck_rand_int(0, ew); d.pad_right = ck_rand_int(0, ew);
        d.ceil_mode = (int32_t)ck_rand_int(0, 1);
        d.count_include_pad = (int32_t)ck_rand_int(0, 1);
        int64_t P, Q;
        if (ck_pool2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        done++;
        const int64_t xn = d.n * d.c * d.h * d.w, yn = d.n * d.c * P * Q;
        float *x = ck_test_alloc(xn), *ref = ck_test_alloc(yn), *back = ck_test_alloc(yn);
        ck_fill_uniform(x, xn, -1, 1);
        for (int li = 0; li < 3; li++) {
            d.layout = LAYOUTS[li];
            float *xl = to_layout(d.layout, d.n, d.c, d.h, d.w, x);
            for (int a = 0; a < 2; a++) {
                ck_plan_options o = {a ? CK_ALGO_AUTO : CK_ALGO_REFERENCE, 0, 0, 0};
                ck_plan *p = NULL;
                if (ck_pool2d_plan_create(&d, &o, &p) != CK_OK) {
                    CHECK(0, "pool %s plan: %s", LNAME[li], ck_last_error_message());
                    continue;
                }
                float *yl = poisoned(tsize(d.layout, d.n, d.c, P, Q));
                CHECK_OK(ck_pool2d_execute(p, xl, yl));
                char what[160];
                snprintf(what, sizeof what, "pool %s %s %s ceil%d incl%d (%s)", d.kind == CK_POOL_MAX ? "max" : "avg",
                         LNAME[li], a ? "auto" : "reference", d.ceil_mode, d.count_include_pad, ck_plan_impl_name(p));
                const int first = li == 0 && a == 0;
                from_layout(what, d.layout, d.n, d.c, P, Q, yl, first ? ref : back);
                if (!first && !compare(what, back, ref, NULL, yn, a ? 1e-6 : 0.0))
                    fprintf(stderr, "  case: N%lld C%lld H%lld W%lld R%lld S%lld stride %lldx%lld dil %lldx%lld pad t%lld l%lld b%lld r%lld\n",
                            (long long)d.n, (long long)d.c, (long long)d.h, (long long)d.w, (long long)d.r, (long long)d.s,
                            (long long)d.stride_h, (long long)d.stride_w, (long long)d.dilation_h, (long long)d.dilation_w,
                            (long long)d.pad_top, (long long)d.pad_left, (long long)d.pad_bottom, (long long)d.pad_right);
                ck_plan_destroy(p);
                free(yl);
            }
            free(xl);
        }
        free(x); free(ref); free(back);
    }
}

/* ---- the other layout-aware ops ----------------------------------------------- */

static void test_other_ops(int cases) {
    for (int t = 0; t < cases; t++) {
        const int64_t n = ck_rand_int(1, 2), c = ck_rand_int(1, 19), h = ck_rand_int(1, 5), w = ck_rand_int(1, 5);
        const int64_t xn = n * c * h * w;
        float *x = ck_test_alloc(xn), *ref = ck_test_alloc(xn), *back = ck_test_alloc(xn);
        ck_fill_uniform(x, xn, -3, 3);
        float *gamma = ck_test_alloc(c), *beta = ck_test_alloc(c), *mean = ck_test_alloc(c), *var = ck_test_alloc(c);
        ck_fill_uniform(gamma, c, -2, 2);
        ck_fill_uniform(beta, c, -1, 1);
        ck_fill_uniform(mean, c, -1, 1);
        ck_fill_uniform(var, c, 0, 2);
        ck_activation act = {(ck_activation_kind)ck_rand_int(0, 5), 0.1f};
        float gref[64], gback[64];

        for (int kind = 0; kind < 2; kind++) { /* global pooling: all three layouts */
            for (int li = 0; li < 3; li++) {
                ck_layout l = LAYOUTS[li];
                float *xl = to_layout(l, n, c, h, w, x);
                float *yl = poisoned(tsize(l, n, c, 1, 1));
                CHECK_OK(ck_global_pool2d((ck_pool_kind)kind, l, n, c, h, w, xl, yl));
                char what[64];
                snprintf(what, sizeof what, "global %s pool %s", kind ? "avg" : "max", LNAME[li]);
                from_layout(what, l, n, c, 1, 1, yl, li ? gback : gref);
                if (li) compare(what, gback, gref, NULL, n * c, 0.0);
                free(xl); free(yl);
            }
            /* against a direct computation */
            for (int64_t i = 0; i < n * c; i++) {
                double acc = kind ? 0 : -INFINITY;
                for (int64_t j = 0; j < h * w; j++) {
                    double v = x[i * h * w + j];
                    if (kind) acc += v; else if (v > acc) acc = v;
                }
                if (kind) acc /= (double)(h * w);
                CHECK(fabs(gref[i] - acc) <= 1e-6 * (1 + fabs(acc)), "global pool %d [%lld] = %g, expected %g", kind,
                      (long long)i, (double)gref[i], acc);
            }
        }

        for (int li = 0; li < 3; li++) { /* batch norm: all three layouts */
            ck_layout l = LAYOUTS[li];
            float *xl = to_layout(l, n, c, h, w, x);
            float *yl = poisoned(tsize(l, n, c, h, w));
            CHECK_OK(ck_batch_norm_inference(l, n, c, h, w, xl, gamma, beta, mean, var, 1e-3f, act, yl));
            char what[64];
            snprintf(what, sizeof what, "batch norm %s", LNAME[li]);
            from_layout(what, l, n, c, h, w, yl, li ? back : ref);
            if (li) compare(what, back, ref, NULL, xn, 0.0);
            free(xl); free(yl);
        }

        /* NCHW vs NHWC only (these ops reject NCHW8c) */
        for (int op = 0; op < 4; op++) {
            int64_t gs = 1;
            for (int64_t g = c; g >= 1; g--)
                if (c % g == 0 && g <= 4) { gs = g; break; }
            const int64_t oc = op == 2 ? c / gs : c;
            const int64_t on = n * oc * h * w;
            for (int li = 0; li < 2; li++) {
                ck_layout l = LAYOUTS[li];
                float *xl = to_layout(l, n, c, h, w, x);
                float *yl = poisoned(on);
                const char *name = op == 0 ? "softmax" : op == 1 ? "log softmax" : op == 2 ? "maxout" : "LRN";
                ck_status st;
                if (op <= 1) st = ck_softmax(op, l, n, c, h, w, xl, yl);
                else if (op == 2) st = ck_maxout(l, n, c, h, w, gs, xl, yl);
                else st = ck_lrn(l, n, c, h, w, 5, 1e-2f, 0.75f, 2.f, xl, yl);
                CHECK(st == CK_OK, "%s %s: %s", name, LNAME[li], ck_last_error_message());
                char what[64];
                snprintf(what, sizeof what, "%s %s", name, LNAME[li]);
                CHECK_OK(ck_convert_layout(n, oc, h, w, l, yl, CK_LAYOUT_NCHW, li ? back : ref));
                if (li) compare(what, back, ref, NULL, on, 0.0);
                free(xl); free(yl);
            }
            if (op == 0) /* softmax rows sum to 1 */
                for (int64_t in = 0; in < n; in++)
                    for (int64_t i = 0; i < h * w; i++) {
                        double s = 0;
                        for (int64_t ic = 0; ic < c; ic++) s += ref[(in * c + ic) * h * w + i];
                        CHECK(fabs(s - 1) < 1e-5, "softmax sum %.9g", s);
                    }
            /* NCHW8c is rejected, not misread */
            ck_status st;
            if (op <= 1) st = ck_softmax(op, CK_LAYOUT_NCHW8C, n, c, h, w, x, back);
            else if (op == 2) st = ck_maxout(CK_LAYOUT_NCHW8C, n, c, h, w, gs, x, back);
            else st = ck_lrn(CK_LAYOUT_NCHW8C, n, c, h, w, 5, 1e-2f, 0.75f, 2.f, x, back);
            CHECK(st == CK_ERR_INVALID_LAYOUT, "op %d accepted NCHW8c (status %d)", op, (int)st);
        }

        /* concat along channels: NCHW vs NHWC */
        {
            const int64_t c1 = ck_rand_int(1, 4), c2 = ck_rand_int(1, 4);
            float *a = ck_test_alloc(n * c1 * h * w), *b = ck_test_alloc(n * c2 * h * w);
            ck_fill_uniform(a, n * c1 * h * w, -1, 1);
            ck_fill_uniform(b, n * c2 * h * w, -1, 1);
            const int64_t chs[2] = {c1, c2};
            const int64_t on = n * (c1 + c2) * h * w;
            float *cref = ck_test_alloc(on), *cback = ck_test_alloc(on);
            for (int li = 0; li < 2; li++) {
                ck_layout l = LAYOUTS[li];
                float *al = to_layout(l, n, c1, h, w, a), *bl = to_layout(l, n, c2, h, w, b), *yl = poisoned(on);
                const float *ins[2] = {al, bl};
                CHECK_OK(ck_concat_channels(l, n, h, w, 2, ins, chs, yl));
                CHECK_OK(ck_convert_layout(n, c1 + c2, h, w, l, yl, CK_LAYOUT_NCHW, li ? cback : cref));
                free(al); free(bl); free(yl);
            }
            compare("concat NHWC vs NCHW", cback, cref, NULL, on, 0.0);
            /* NCHW result is the two tensors one after the other per image */
            int ok = 1;
            for (int64_t in = 0; in < n && ok; in++) {
                ok &= memcmp(cref + in * (c1 + c2) * h * w, a + in * c1 * h * w, (size_t)(c1 * h * w) * sizeof(float)) == 0;
                ok &= memcmp(cref + in * (c1 + c2) * h * w + c1 * h * w, b + in * c2 * h * w, (size_t)(c2 * h * w) * sizeof(float)) == 0;
            }
            CHECK(ok, "concat NCHW is not the per-image concatenation");
            free(a); free(b); free(cref); free(cback);
        }
        free(x); free(ref); free(back); free(gamma); free(beta); free(mean); free(var);
    }
}

/* ---- conversions and sizes ---------------------------------------------------- */

static void test_convert_and_size(int cases) {
    int64_t cnt = 0;
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NCHW, 2, 3, 4, 5, &cnt));
    CHECK(cnt == 120, "NCHW size %lld", (long long)cnt);
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NHWC, 2, 3, 4, 5, &cnt));
    CHECK(cnt == 120, "NHWC size %lld", (long long)cnt);
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NCHW8C, 2, 3, 4, 5, &cnt));
    CHECK(cnt == 2 * 8 * 4 * 5, "NCHW8c size %lld", (long long)cnt);
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NCHW8C, 1, 8, 1, 1, &cnt));
    CHECK(cnt == 8, "NCHW8c C=8 size %lld", (long long)cnt);
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NCHW8C, 1, 9, 2, 1, &cnt));
    CHECK(cnt == 32, "NCHW8c C=9 size %lld", (long long)cnt);
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NCHW, 1, (int64_t)1 << 20, 1 << 10, 1 << 10, &cnt));
    CHECK(cnt == (int64_t)1 << 40, "size at the element limit %lld", (long long)cnt);

    /* a hand-checked NCHW8c position: C=10, H=W=1 -> block 1 holds channels 8, 9 */
    float src[10], blk[16], nhwc[10];
    for (int i = 0; i < 10; i++) src[i] = (float)(i + 1);
    for (int i = 0; i < 16; i++) blk[i] = POISON;
    CHECK_OK(ck_convert_layout(1, 10, 1, 1, CK_LAYOUT_NCHW, src, CK_LAYOUT_NCHW8C, blk));
    CHECK(blk[0] == 1 && blk[7] == 8 && blk[8] == 9 && blk[9] == 10 && blk[10] == 0 && blk[15] == 0,
          "NCHW8c of 1..10: %g %g %g %g %g %g", (double)blk[0], (double)blk[7], (double)blk[8], (double)blk[9],
          (double)blk[10], (double)blk[15]);
    /* NCHW 1x2x2x2 -> NHWC by hand */
    static const float s2[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const float e2[8] = {1, 5, 2, 6, 3, 7, 4, 8};
    float d2[8];
    CHECK_OK(ck_convert_layout(1, 2, 2, 2, CK_LAYOUT_NCHW, s2, CK_LAYOUT_NHWC, d2));
    CHECK(memcmp(d2, e2, sizeof d2) == 0, "NCHW -> NHWC by hand");
    (void)nhwc;

    for (int t = 0; t < cases; t++) {
        const int64_t n = ck_rand_int(1, 3), c = ck_rand_int(1, 27), h = ck_rand_int(1, 6), w = ck_rand_int(1, 6);
        const int64_t xn = n * c * h * w;
        float *x = ck_test_alloc(xn);
        ck_fill_uniform(x, xn, -100, 100);
        float *blocked = poisoned(tsize(CK_LAYOUT_NCHW8C, n, c, h, w));
        float *nh = poisoned(xn), *back = poisoned(xn), *back2 = poisoned(xn);
        /* NCHW -> NCHW8c -> NCHW: exact, tail zero */
        CHECK_OK(ck_convert_layout(n, c, h, w, CK_LAYOUT_NCHW, x, CK_LAYOUT_NCHW8C, blocked));
        from_layout("convert NCHW -> NCHW8c", CK_LAYOUT_NCHW8C, n, c, h, w, blocked, back);
        CHECK(memcmp(back, x, (size_t)xn * sizeof(float)) == 0, "NCHW -> NCHW8c -> NCHW round trip (N%lld C%lld H%lld W%lld)",
              (long long)n, (long long)c, (long long)h, (long long)w);
        /* NCHW -> NHWC -> NCHW8c -> NHWC -> NCHW */
        float *blocked2 = poisoned(tsize(CK_LAYOUT_NCHW8C, n, c, h, w));
        CHECK_OK(ck_convert_layout(n, c, h, w, CK_LAYOUT_NCHW, x, CK_LAYOUT_NHWC, nh));
        CHECK_OK(ck_convert_layout(n, c, h, w, CK_LAYOUT_NHWC, nh, CK_LAYOUT_NCHW8C, blocked2));
        CHECK(memcmp(blocked, blocked2, (size_t)tsize(CK_LAYOUT_NCHW8C, n, c, h, w) * sizeof(float)) == 0,
              "NHWC -> NCHW8c differs from NCHW -> NCHW8c");
        float *nh2 = poisoned(xn);
        CHECK_OK(ck_convert_layout(n, c, h, w, CK_LAYOUT_NCHW8C, blocked2, CK_LAYOUT_NHWC, nh2));
        CHECK(memcmp(nh, nh2, (size_t)xn * sizeof(float)) == 0, "NCHW8c -> NHWC round trip");
        CHECK_OK(ck_convert_layout(n, c, h, w, CK_LAYOUT_NHWC, nh2, CK_LAYOUT_NCHW, back2));
        CHECK(memcmp(back2, x, (size_t)xn * sizeof(float)) == 0, "four-way round trip");
        /* same layout: a copy */
        float *same = poisoned(xn);
        CHECK_OK(ck_convert_layout(n, c, h, w, CK_LAYOUT_NCHW, x, CK_LAYOUT_NCHW, same));
        CHECK(memcmp(same, x, (size_t)xn * sizeof(float)) == 0, "NCHW -> NCHW copy");
        free(x); free(blocked); free(blocked2); free(nh); free(nh2); free(back); free(back2); free(same);
    }
}

int main(int argc, char **argv) {
    /* optional argument: a scale factor for the number of generated cases */
    const int scale = argc > 1 ? atoi(argv[1]) : 1;
    ck_rng_seed(20261122);
    test_convert_and_size(50 * scale);
    test_conv_layouts(150 * scale);
    test_deconv_layouts(60 * scale);
    test_pool_layouts(150 * scale);
    test_other_ops(40 * scale);
    return ck_test_finish("test_layout");
}
