/* Direct convolution (CK_ALGO_DIRECT) against the reference plan, for the ISA
 * the dispatcher picks (run again with CONVKIT_MAX_ISA=scalar for the
 * portable path).  Generated shapes: every C and K modulo 8, kernel sizes
 * 1..11, strides 1..4, asymmetric padding, dilation 1..3, supported and
 * declined groups, tiny/odd spatial sizes, batch 1..3, all layouts, bias,
 * every activation, residual, threads 1 and 2.
 *
 * Tolerance: |y - y_ref| <= tol * (sum|w*x| + |b| + |res|) with
 * tol = 4 * sqrt(C/g * R * S) * 2^-24; exact equality on small-integer data;
 * the blocked layout's output channel tail must be exactly zero.
 *
 * The sweep runs three times: with the default AVX2 3-block tile and with
 * CONVKIT_DIRECT_TILE3=4x24 and =3x24 (both compilers default to 4x24), so
 * both tiles are checked with either compiler. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

static int g_cases = 0;

typedef struct tcase {
    ck_conv2d_desc d;
    int threads;
    int use_res;
    int integer;
} tcase;

static float *alloc_tensor(ck_layout l, int64_t n, int64_t c, int64_t h, int64_t w, int64_t *count) {
    ck_tensor_size(l, n, c, h, w, count);
    return ck_test_alloc(*count);
}

/* fill a tensor's real elements (blocked tails stay zero) */
static void fill_tensor(const ck_conv2d_desc *d, float *t, int64_t n, int64_t c, int64_t h, int64_t w, int integer) {
    for (int64_t in = 0; in < n; in++)
        for (int64_t ic = 0; ic < c; ic++)
            for (int64_t ih = 0; ih < h; ih++)
                for (int64_t iw = 0; iw < w; iw++) {
                    int64_t o;
                    switch (d->layout) {
                    case CK_LAYOUT_NHWC: o = ((in * h + ih) * w + iw) * c + ic; break;
                    case CK_LAYOUT_NCHW8C: o = (((in * ((c + 7) / 8) + ic / 8) * h + ih) * w + iw) * 8 + ic % 8; break;
                    default: o = ((in * c + ic) * h + ih) * w + iw; break;
                    }
                    t[o] = integer ? (float)ck_rand_int(-3, 3) : ck_rand_uniform(-1.f, 1.f);
                }
}

static void run_case(const tcase *tc) {
    const ck_conv2d_desc *d = &tc->d;
    g_cases++;
    int64_t P, Q, xn, yn;
    if (ck_conv2d_output_shape(d, &P, &Q) != CK_OK) {
        fprintf(stderr, "bad generated case: %s\n", ck_conv_desc_str(d));
        exit(2);
    }
    float *x = alloc_tensor(d->layout, d->n, d->c, d->h, d->w, &xn);
    float *y = alloc_tensor(d->layout, d->n, d->k, P, Q, &yn);
    float *yr = alloc_tensor(d->layout, d->n, d->k, P, Q, &yn);
    float *ya = alloc_tensor(d->layout, d->n, d->k, P, Q, &yn);
    float *res = tc->use_res ? alloc_tensor(d->layout, d->n, d->k, P, Q, &yn) : NULL;
    const int64_t wn = d->k * (d->c / d->groups) * d->r * d->s;
    float *w = ck_test_alloc(wn), *b = ck_test_alloc(d->k), *xa = ck_test_alloc(xn), *wa = ck_test_alloc(wn);
    fill_tensor(d, x, d->n, d->c, d->h, d->w, tc->integer);
    if (res) fill_tensor(d, res, d->n, d->k, P, Q, tc->integer);
    for (int64_t i = 0; i < wn; i++) w[i] = tc->integer ? (float)ck_rand_int(-2, 2) : ck_rand_uniform(-1.f, 1.f);
    for (int64_t i = 0; i < d->k; i++) b[i] = tc->integer ? (float)ck_rand_int(-4, 4) : ck_rand_uniform(-1.f, 1.f);
    for (int64_t i = 0; i < xn; i++) xa[i] = fabsf(x[i]);
    for (int64_t i = 0; i < wn; i++) wa[i] = fabsf(w[i]);
    /* garbage in y: the plan must overwrite everything, tails included */
    for (int64_t i = 0; i < yn; i++) y[i] = 1234.5f;

    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = CK_ALGO_DIRECT;
    o.threads = tc->threads;
    ck_plan *pd = NULL, *pr = NULL, *pa = NULL;
    ck_status st = ck_conv2d_plan_create(d, w, b, &o, &pd);
    CHECK(st == CK_OK, "direct plan for %s: %s", ck_conv_desc_str(d), ck_last_error_message());
    if (st != CK_OK) goto done;
    o.algorithm = CK_ALGO_REFERENCE;
    o.threads = 1;
    CHECK_OK(ck_conv2d_plan_create(d, w, b, &o, &pr));
    ck_conv2d_desc da = *d;
    da.has_bias = 0;
    da.activation.kind = CK_ACT_NONE;
    CHECK_OK(ck_conv2d_plan_create(&da, wa, NULL, &o, &pa));
    if (!pr || !pa) goto done;
    /* odd cases use the caller's workspace, even ones let the plan allocate */
    size_t wsb = 0;
    ck_plan_workspace_size(pd, &wsb);
    void *ws = (g_cases & 1) && wsb ? malloc(wsb) : NULL;
    CHECK_OK(ck_conv2d_execute(pd, x, y, res, ws, ws ? wsb : 0));
    free(ws);
    CHECK_OK(ck_conv2d_execute(pr, x, yr, res, NULL, 0));
    CHECK_OK(ck_conv2d_execute(pa, xa, ya, NULL, NULL, 0));

    const double tol = 4.0 * sqrt((double)(d->c / d->groups * d->r * d->s)) * ldexp(1.0, -24);
    int bad = 0;
    for (int64_t n = 0; n < d->n && bad < 3; n++)
        for (int64_t k = 0; k < (d->layout == CK_LAYOUT_NCHW8C ? (d->k + 7) / 8 * 8 : d->k) && bad < 3; k++)
            for (int64_t p = 0; p < P && bad < 3; p++)
                for (int64_t q = 0; q < Q && bad < 3; q++) {
                    int64_t off;
                    switch (d->layout) {
                    case CK_LAYOUT_NHWC: off = ((n * P + p) * Q + q) * d->k + k; break;
                    case CK_LAYOUT_NCHW8C: off = (((n * ((d->k + 7) / 8) + k / 8) * P + p) * Q + q) * 8 + k % 8; break;
                    default: off = ((n * d->k + k) * P + p) * Q + q; break;
                    }
                    if (k >= d->k) {
                        if (y[off] != 0.f) {
                            bad++;
                            CHECK(0, "channel tail k=%lld (n%lld p%lld q%lld) is %g, not 0: %s threads%d res%d",
                                  (long long)k, (long long)n, (long long)p, (long long)q, y[off],
                                  ck_conv_desc_str(d), tc->threads, tc->use_res);
                        }
                        continue;
                    }
                    const double bound = tol * ((double)ya[off] + fabs((double)b[k]) * d->has_bias +
                                                (res ? fabs((double)res[off]) : 0.0)) + 1e-30;
                    const double err = fabs((double)y[off] - (double)yr[off]);
                    const int okv = tc->integer ? y[off] == yr[off] : (err <= bound || (isnan(y[off]) && isnan(yr[off])));
                    if (!okv) {
                        bad++;
                        CHECK(0, "%s n%lld k%lld p%lld q%lld: direct %.9g ref %.9g err %.3g bound %.3g: %s threads%d res%d int%d [%s]",
                              tc->integer ? "inexact" : "out of tolerance", (long long)n, (long long)k, (long long)p,
                              (long long)q, y[off], yr[off], err, bound, ck_conv_desc_str(d), tc->threads, tc->use_res,
                              tc->integer, ck_plan_impl_name(pd));
                    }
                }
    CHECK(bad == 0, "case above failed");
done:
    ck_plan_destroy(pd);
    ck_plan_destroy(pr);
    ck_plan_destroy(pa);
    free(x); free(y); free(yr); free(ya); free(res); free(w); free(b); free(xa); free(wa);
}

static ck_conv2d_desc mk(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s) {
    return ck_conv2d_desc_init(n, c, h, w, k, r, s);
}

static void randomise_rest(tcase *tc, int i) {
    tc->d.layout = (ck_layout)(i % 3);
    tc->d.has_bias = (i / 3) % 2;
    tc->d.activation.kind = (ck_activation_kind)((i / 2) % 6);
    tc->d.activation.alpha = 0.1f;
    tc->threads = 1 + (i / 5) % 2;
    tc->use_res = (i / 7) % 2;
    tc->integer = 0;
}

static void sweep(void) {
    ck_rng_seed(20240601);
    int i = 0;
    tcase tc;

    /* 1. every C and K modulo 8 (3x3, padded, odd spatial size) */
    static const int64_t chans[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 24, 32};
    const int nch = (int)(sizeof chans / sizeof chans[0]);
    for (int a = 0; a < nch; a++) {
        for (int bi = 0; bi < 3; bi++) {
            memset(&tc, 0, sizeof tc);
            const int64_t K = chans[(a * 5 + bi * 7) % nch];
            tc.d = mk(1 + (a + bi) % 2, chans[a], 5 + bi, 6, K, 3, 3);
            tc.d.pad_top = tc.d.pad_left = tc.d.pad_bottom = tc.d.pad_right = 1;
            randomise_rest(&tc, i++);
            run_case(&tc);
        }
        memset(&tc, 0, sizeof tc);
        tc.d = mk(1, 9, 4, 5, chans[a], 1, 1); /* every K with 1x1 */
        randomise_rest(&tc, i++);
        run_case(&tc);
    }
    /* 2. kernel sizes 1..11, strides 1..4, dilation 1..3, asymmetric padding */
    for (int r = 1; r <= 11; r++)
        for (int v = 0; v < 3; v++) {
            memset(&tc, 0, sizeof tc);
            const int64_t s = v == 0 ? r : 1 + (r * 3 + v) % 11;
            const int64_t dil = 1 + (r + v) % 3, str = 1 + (r + 2 * v) % 4;
            const int64_t pt = (r + v) % 3, pl = v % 2, pb = (r * v) % 4, pr = (v + 1) % 3;
            int64_t H = dil * (r - 1) + 1 + str * 2 + v, W = dil * (s - 1) + 1 + str * 3 + (r % 3);
            H -= pt + pb; W -= pl + pr;
            if (H < 1) H = 1;
            if (W < 1) W = 1;
            tc.d = mk(1 + v % 2, 3 + 5 * v, H, W, 5 + 4 * v, r, s);
            tc.d.stride_h = str; tc.d.stride_w = 1 + (str + v) % 4;
            tc.d.dilation_h = dil; tc.d.dilation_w = 1 + (dil + v) % 3;
            tc.d.pad_top = pt; tc.d.pad_left = pl; tc.d.pad_bottom = pb; tc.d.pad_right = pr;
            int64_t P, Q;
            if (ck_conv2d_output_shape(&tc.d, &P, &Q) != CK_OK) {
                /* make it valid: enough padding */
                tc.d.pad_bottom = tc.d.dilation_h * (r - 1);
                tc.d.pad_right = tc.d.dilation_w * (s - 1);
            }
            randomise_rest(&tc, i++);
            run_case(&tc);
        }
    /* 3. tiny and odd spatial sizes, batch 1..3, padding larger than the input */
    static const int64_t hw[][2] = {{1, 1}, {1, 7}, {7, 1}, {13, 5}, {7, 7}, {2, 3}, {5, 13}};
    for (int a = 0; a < 7; a++)
        for (int v = 0; v < 2; v++) {
            memset(&tc, 0, sizeof tc);
            tc.d = mk(1 + (a + v) % 3, 8 + 8 * v + a % 3, hw[a][0], hw[a][1], 16 + 8 * v + a, 3, 3);
            tc.d.pad_top = tc.d.pad_bottom = 1 + v;
            tc.d.pad_left = 1;
            tc.d.pad_right = 2 - v;
            randomise_rest(&tc, i++);
            run_case(&tc);
            memset(&tc, 0, sizeof tc);
            tc.d = mk(1 + v, 16, hw[a][0], hw[a][1], 32, 1, 1); /* 1x1 fast case, long rows */
            randomise_rest(&tc, i++);
            run_case(&tc);
        }
    /* 4. groups: supported (C/g, K/g multiples of 8) and declined */
    static const int64_t grp[][3] = {{2, 16, 16}, {2, 16, 32}, {4, 32, 32}, {3, 24, 48}, {2, 32, 16}};
    for (int a = 0; a < 5; a++) {
        memset(&tc, 0, sizeof tc);
        tc.d = mk(1 + a % 2, grp[a][1], 6, 5, grp[a][2], 3, 3);
        tc.d.groups = grp[a][0];
        tc.d.pad_top = tc.d.pad_left = 1;
        tc.d.stride_w = 1 + a % 2;
        randomise_rest(&tc, i++);
        run_case(&tc);
    }
    {
        ck_plan_options o;
        memset(&o, 0, sizeof o);
        o.algorithm = CK_ALGO_DIRECT;
        static const int64_t bad[][3] = {{2, 6, 6}, {8, 8, 8}, {2, 16, 6}, {4, 8, 32}};
        for (int a = 0; a < 4; a++) {
            ck_conv2d_desc d = mk(1, bad[a][1], 5, 5, bad[a][2], 3, 3);
            d.groups = bad[a][0];
            float w[512] = {0};
            ck_plan *p = NULL;
            CHECK_STATUS(ck_conv2d_plan_create(&d, w, NULL, &o, &p), CK_ERR_UNSUPPORTED_ALGORITHM);
            CHECK(p == NULL, "declined plan left non-NULL");
            CHECK(strstr(ck_last_error_message(), "direct") != NULL, "message should name direct: '%s'",
                  ck_last_error_message());
            CHECK_STATUS(ck_conv2d_algorithm_applicable(&d, CK_ALGO_DIRECT, &o), CK_ERR_UNSUPPORTED_ALGORITHM);
        }
    }
    /* 5. every activation x layout x residual x threads on one padded strided shape */
    for (int act = 0; act < 6; act++)
        for (int l = 0; l < 3; l++)
            for (int rt = 0; rt < 4; rt++) {
                memset(&tc, 0, sizeof tc);
                tc.d = mk(2, 11, 9, 10, 19, 3, 3);
                tc.d.stride_h = 2; tc.d.pad_top = 1; tc.d.pad_bottom = 2; tc.d.pad_left = 2;
                tc.d.layout = (ck_layout)l;
                tc.d.has_bias = 1;
                tc.d.activation.kind = (ck_activation_kind)act;
                tc.d.activation.alpha = 0.25f;
                tc.use_res = rt % 2;
                tc.threads = 1 + rt / 2;
                run_case(&tc);
            }
    /* 6. random combinations */
    for (int a = 0; a < 60; a++) {
        memset(&tc, 0, sizeof tc);
        const int64_t r = ck_rand_int(1, 5), s = ck_rand_int(1, 5);
        tc.d = mk(ck_rand_int(1, 3), ck_rand_int(1, 20), ck_rand_int(1, 12), ck_rand_int(1, 14), ck_rand_int(1, 40), r, s);
        tc.d.stride_h = ck_rand_int(1, 3); tc.d.stride_w = ck_rand_int(1, 3);
        tc.d.dilation_h = ck_rand_int(1, 2); tc.d.dilation_w = ck_rand_int(1, 3);
        tc.d.pad_top = ck_rand_int(0, 2); tc.d.pad_bottom = ck_rand_int(0, 2);
        tc.d.pad_left = ck_rand_int(0, 2); tc.d.pad_right = ck_rand_int(0, 3);
        int64_t P, Q;
        if (ck_conv2d_output_shape(&tc.d, &P, &Q) != CK_OK) {
            tc.d.pad_bottom += tc.d.dilation_h * (r - 1);
            tc.d.pad_right += tc.d.dilation_w * (s - 1);
        }
        randomise_rest(&tc, (int)ck_rand_int(0, 1000));
        tc.integer = a % 4 == 0;
        run_case(&tc);
    }
    /* 7. bit-exactness on small-integer data (includes a deep reduction: C=64 3x3) */
    static const int64_t ex[][7] = {{1, 64, 9, 9, 40, 3, 3}, {2, 13, 7, 11, 9, 5, 5}, {1, 3, 15, 15, 20, 7, 7},
                                    {1, 32, 6, 6, 64, 1, 1}, {1, 5, 12, 12, 8, 11, 11}};
    for (int a = 0; a < 5; a++)
        for (int l = 0; l < 3; l++) {
            memset(&tc, 0, sizeof tc);
            tc.d = mk(ex[a][0], ex[a][1], ex[a][2], ex[a][3], ex[a][4], ex[a][5], ex[a][6]);
            tc.d.pad_top = tc.d.pad_left = ex[a][5] / 2;
            tc.d.pad_bottom = tc.d.pad_right = ex[a][5] > 1 ? 1 : 0;
            tc.d.stride_h = tc.d.stride_w = 1 + a % 2;
            tc.d.layout = (ck_layout)l;
            tc.d.has_bias = 1;
            tc.d.activation.kind = (ck_activation_kind)(a % 4);
            tc.d.activation.alpha = 0.5f;
            tc.use_res = l != 1;
            tc.threads = 1 + l % 2;
            tc.integer = 1;
            run_case(&tc);
        }
    /* 8. a mid-size layer that exercises cache chunks over C and several K chunks */
    for (int l = 0; l < 3; l++) {
        memset(&tc, 0, sizeof tc);
        tc.d = mk(1, 72, 10, 11, 44, 3, 3);
        tc.d.pad_top = tc.d.pad_left = tc.d.pad_bottom = tc.d.pad_right = 1;
        tc.d.layout = (ck_layout)l;
        tc.d.has_bias = 1;
        tc.d.activation.kind = CK_ACT_RELU;
        tc.use_res = 1;
        tc.threads = 2;
        run_case(&tc);
    }
    /* 8a. cache chunks over C with the larger budgets: 7x7 with C=40, 3x3 with
     * C=136, 1x1 with C=272 (several passes of the accumulator tile) */
    static const int64_t cc[][6] = {{40, 9, 9, 24, 7, 3}, {136, 6, 7, 16, 3, 1}, {272, 5, 5, 24, 1, 0}};
    for (int a = 0; a < 3; a++)
        for (int l = 0; l < 3; l++) {
            memset(&tc, 0, sizeof tc);
            tc.d = mk(1, cc[a][0], cc[a][1], cc[a][2], cc[a][3], cc[a][4], cc[a][4]);
            tc.d.pad_top = tc.d.pad_left = tc.d.pad_bottom = tc.d.pad_right = cc[a][5];
            randomise_rest(&tc, a * 3 + l);
            tc.d.layout = (ck_layout)l;
            tc.integer = l == 0;
            run_case(&tc);
        }
    /* 8b. output blocks cut into one part per thread, then chunks of 3 and 2
     * blocks (AVX2); odd block counts; few pixels (one pixel block) */
    static const int64_t pc[][5] = {{16, 7, 7, 80, 3}, {24, 7, 7, 72, 3}, {16, 5, 6, 136, 1}, {40, 4, 4, 104, 3}};
    for (int a = 0; a < 4; a++)
        for (int t = 1; t <= 2; t++) {
            memset(&tc, 0, sizeof tc);
            tc.d = mk(1 + a % 2, pc[a][0], pc[a][1], pc[a][2], pc[a][3], pc[a][4], pc[a][4]);
            tc.d.pad_top = tc.d.pad_left = tc.d.pad_bottom = tc.d.pad_right = pc[a][4] / 2;
            randomise_rest(&tc, a * 2 + t);
            tc.threads = t;
            tc.integer = a == 1;
            run_case(&tc);
        }
    /* 9. strided unpadded 1x1 (NCHW/NHWC: the sampled input pixels are packed
     * first; NCHW8c: read in place with the stride):
     * strides 2..4 (unequal too), odd sizes, batch, groups, every layout,
     * residual, activations, threads; plus a padded strided 1x1 (not packed) */
    static const int64_t s1[][8] = {
        /* n, c, h, w, k, sh, sw, groups */
        {1, 64, 14, 14, 128, 2, 2, 1}, {2, 13, 9, 7, 21, 2, 2, 1}, {1, 8, 11, 13, 8, 3, 2, 1},
        {1, 1, 5, 9, 6, 2, 4, 1},      {3, 24, 6, 5, 40, 2, 1, 1}, {2, 32, 7, 9, 16, 2, 2, 2},
        {1, 17, 1, 9, 9, 1, 3, 1},     {1, 40, 15, 15, 72, 4, 4, 1},
        /* stride 2, rows of 12 and 18 output pixels: whole 6-pixel tiles
         * (the 6x16 tile's stride-2 step) */
        {1, 16, 7, 36, 16, 2, 2, 1},   {2, 24, 5, 24, 40, 2, 2, 1},
        /* 4-block chunks (3x32 tiles on AVX2 NCHW8c): K = 32 (one), 64 (two),
         * 128 (3,3,3,3,4 at 1 thread, 4,4 a thread at 2); C with a partial
         * last block; rows of 18 and 5 output pixels (3-pixel tiles and tails) */
        {1, 13, 9, 11, 32, 2, 2, 1},   {2, 16, 7, 36, 64, 2, 2, 1},   {1, 64, 10, 10, 128, 2, 2, 1},
        {1, 24, 6, 9, 32, 3, 2, 1},
    };
    for (int a = 0; a < (int)(sizeof s1 / sizeof s1[0]); a++)
        for (int l = 0; l < 3; l++) {
            memset(&tc, 0, sizeof tc);
            tc.d = mk(s1[a][0], s1[a][1], s1[a][2], s1[a][3], s1[a][4], 1, 1);
            tc.d.stride_h = s1[a][5]; tc.d.stride_w = s1[a][6];
            tc.d.groups = s1[a][7];
            randomise_rest(&tc, a * 3 + l);
            tc.d.layout = (ck_layout)l;
            tc.integer = a % 3 == 0;
            run_case(&tc);
        }
    /* strided 1x1 on NCHW8c at 2 threads: pixel blocks of whole rows, even
     * between the threads (resnet18.l2.1x1s2 itself: 28 rows as 4 blocks of
     * 7; 13 rows, 2 output chunks) */
    static const int64_t s2t[][5] = {{1, 64, 56, 56, 128}, {1, 16, 26, 26, 48}, {1, 24, 21, 17, 40}};
    for (int a = 0; a < 3; a++) {
        memset(&tc, 0, sizeof tc);
        tc.d = mk(s2t[a][0], s2t[a][1], s2t[a][2], s2t[a][3], s2t[a][4], 1, 1);
        tc.d.stride_h = tc.d.stride_w = 2;
        randomise_rest(&tc, 40 + a);
        tc.d.layout = CK_LAYOUT_NCHW8C;
        tc.threads = 2;
        tc.integer = a == 1;
        run_case(&tc);
    }
    /* 6-block chunks (2x48 tiles on AVX2; strided 1x1 read in place, i.e.
     * NCHW8c or padded, with an even output row or one of >= 25 pixels; the
     * NCHW/NHWC runs take the packed stride-1 path): K = 48 (one chunk),
     * 128 (6,5,5: the resnet18.l2.1x1s2 layer itself at 1 thread), 80 (5,5),
     * 96 at stride 3;
     * a partial last input block (C = 13, 27); rows of 27 pixels (a 1-pixel
     * tail tile); several passes over C (C = 272); groups; 2 threads with
     * 6,5,5 in each thread's part (K = 256); every layout.  Since short2
     * (conv_direct.c) every case here but C = 272 has C/g <= 64 and runs
     * 4-block chunks of 2x32 tiles; the 6- and 5-block chunks of C/g > 64
     * are swept by the 5-block sweep's second pass below */
    static const int64_t s6[][9] = {
        /* n, c, h, w, k, sh, sw, groups, threads */
        {1, 16, 8, 12, 48, 2, 2, 1, 1},   {1, 64, 56, 56, 128, 2, 2, 1, 1}, {2, 13, 9, 20, 80, 2, 2, 1, 1},
        {1, 24, 6, 54, 128, 2, 2, 1, 1},  {1, 27, 9, 12, 96, 3, 3, 1, 1},   {1, 272, 4, 12, 48, 2, 2, 1, 1},
        {1, 32, 6, 12, 96, 2, 2, 2, 1},   {1, 16, 8, 12, 256, 2, 2, 1, 2},  {1, 40, 7, 50, 128, 2, 2, 1, 2},
    };
    for (int a = 0; a < (int)(sizeof s6 / sizeof s6[0]); a++)
        for (int l = 0; l < 3; l++) {
            if (a == 1 && l != CK_LAYOUT_NCHW8C) continue; /* the big one once */
            memset(&tc, 0, sizeof tc);
            tc.d = mk(s6[a][0], s6[a][1], s6[a][2], s6[a][3], s6[a][4], 1, 1);
            tc.d.stride_h = s6[a][5]; tc.d.stride_w = s6[a][6];
            tc.d.groups = s6[a][7];
            randomise_rest(&tc, 50 + a * 3 + l);
            tc.d.layout = (ck_layout)l;
            tc.threads = (int)s6[a][8];
            tc.integer = a % 2 == 0;
            run_case(&tc);
        }
    for (int l = 0; l < 2; l++) {
        /* padded strided 1x1 with 6-block chunks (NCHW8c, and NCHW, which
         * is not packed when padded): border pixels through the 2x48 gather
         * kernels (output rows of 6 pixels) */
        memset(&tc, 0, sizeof tc);
        tc.d = mk(1, 16, 8, 11, 48, 1, 1);
        tc.d.stride_h = tc.d.stride_w = 2;
        tc.d.pad_top = tc.d.pad_right = 1;
        randomise_rest(&tc, 7 + l);
        tc.d.layout = l ? CK_LAYOUT_NCHW : CK_LAYOUT_NCHW8C;
        run_case(&tc);
    }
    /* 5-block chunks (2x40 tiles on AVX2): the blocks of a strided 1x1
     * layer cut into 6- and 5-block chunks where they can be.  K = 40 (one
     * chunk), 88 (6,5), 136 (6,6,5), 200 (25 blocks: 5,5,5,5,5), and
     * with a last 3-block chunk: 104 (13 blocks: 5,5,3), 72 (6,3), 112
     * (6,5,3); 56 (7 blocks: 4,3); stride 3 (K = 40), a partial last
     * input block (C = 13), rows of 27 pixels (a 1-pixel tail tile),
     * padding (the 2x40 gather kernels; NCHW is not packed when padded),
     * several passes over C (C = 272), groups, and 2 threads with parts of
     * 10 blocks (5,5 each, K = 160) and of 11 (6,5; K = 176).  With C/g <=
     * 64 these layers run 4-block chunks of 2x32 tiles instead (the 2x32
     * row kernel, its prefetch, tails and gather kernels), so the sweep
     * runs twice: as listed, and with C/g raised by 72 (the 6- and
     * 5-block chunks) */
    static const int64_t s5[][10] = {
        /* n, c, h, w, k, stride, pad, groups, threads, layout */
        {1, 16, 8, 12, 40, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},   {2, 13, 9, 20, 88, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},
        {1, 24, 6, 54, 136, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},  {1, 32, 8, 12, 104, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},
        {1, 16, 6, 12, 200, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},  {1, 16, 8, 11, 40, 2, 1, 1, 1, CK_LAYOUT_NCHW8C},
        {1, 16, 8, 11, 88, 2, 1, 1, 1, CK_LAYOUT_NCHW},     {1, 272, 4, 12, 40, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},
        {1, 32, 6, 12, 80, 2, 0, 2, 1, CK_LAYOUT_NCHW8C},   {1, 16, 8, 12, 160, 2, 0, 1, 2, CK_LAYOUT_NCHW8C},
        {1, 24, 14, 28, 176, 2, 0, 1, 2, CK_LAYOUT_NCHW8C}, {1, 16, 9, 16, 40, 3, 0, 1, 1, CK_LAYOUT_NCHW8C},
        {1, 24, 8, 12, 72, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},   {1, 16, 7, 14, 112, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},
        {1, 16, 6, 12, 56, 2, 0, 1, 1, CK_LAYOUT_NCHW8C},
    };
    for (int wide = 0; wide < 2; wide++)
        for (int a = 0; a < (int)(sizeof s5 / sizeof s5[0]); a++) {
            const int64_t c = s5[a][1] + (wide && s5[a][1] / s5[a][7] <= 64 ? 72 * s5[a][7] : 0);
            memset(&tc, 0, sizeof tc);
            tc.d = mk(s5[a][0], c, s5[a][2], s5[a][3], s5[a][4], 1, 1);
            tc.d.stride_h = tc.d.stride_w = s5[a][5];
            tc.d.pad_top = tc.d.pad_right = s5[a][6];
            tc.d.groups = s5[a][7];
            randomise_rest(&tc, 90 + a);
            tc.d.layout = (ck_layout)s5[a][9];
            tc.threads = (int)s5[a][8];
            tc.integer = (a + wide) % 2 == 1;
            run_case(&tc);
        }
    for (int a = 0; a < 2; a++) {
        /* padded strided 1x1 (not packed; border pixels through the gather
         * kernels, of the 4x24 and of the 3x32 tile) */
        memset(&tc, 0, sizeof tc);
        tc.d = mk(1, 16, 8, 9, a ? 32 : 24, 1, 1);
        tc.d.stride_h = tc.d.stride_w = 2;
        tc.d.pad_top = tc.d.pad_right = 1;
        randomise_rest(&tc, 5 + a);
        tc.d.layout = a ? CK_LAYOUT_NCHW8C : tc.d.layout;
        run_case(&tc);
    }
    /* 10. unpadded small-C layers (segments follow the rows; LeNet c1,
     * AlexNet conv1-like), rows longer and shorter than the micro-tile */
    static const int64_t sc[][8] = {
        /* n, c, h, w, k, r(=s), stride, dilation */
        {1, 1, 32, 32, 6, 5, 1, 1}, {2, 3, 27, 31, 20, 11, 4, 1}, {1, 1, 9, 40, 16, 3, 1, 2},
        {1, 2, 30, 18, 9, 5, 2, 1}, {1, 4, 6, 6, 24, 3, 1, 1},
    };
    for (int a = 0; a < 5; a++)
        for (int l = 0; l < 3; l++) {
            memset(&tc, 0, sizeof tc);
            tc.d = mk(sc[a][0], sc[a][1], sc[a][2], sc[a][3], sc[a][4], sc[a][5], sc[a][5]);
            tc.d.stride_h = tc.d.stride_w = sc[a][6];
            tc.d.dilation_h = tc.d.dilation_w = sc[a][7];
            randomise_rest(&tc, a * 3 + l + 1);
            tc.d.layout = (ck_layout)l;
            tc.integer = a % 2 == 0;
            run_case(&tc);
        }
    /* 11. padded small-C layers (aligned segments; on AVX2 the border columns
     * run down the zero-padded edge strips): ResNet conv1-like, dilation,
     * asymmetric padding, tiny rows, batch 2, 1 and 2 threads, residual */
    static const int64_t psc[][11] = {
        /* n, c, h, w, k, r(=s), stride, pad t/l, pad b/r, dilation, threads */
        {2, 3, 23, 29, 64, 7, 2, 3, 3, 1, 2}, {1, 1, 17, 15, 24, 5, 1, 2, 2, 1, 1},
        {1, 5, 12, 19, 40, 3, 1, 1, 1, 1, 2}, {1, 3, 11, 13, 16, 3, 2, 1, 1, 2, 1},
        {1, 8, 9, 26, 8, 5, 3, 2, 0, 1, 2},   {1, 2, 5, 6, 24, 7, 1, 3, 3, 1, 1},
        {2, 3, 40, 9, 72, 3, 1, 0, 2, 1, 2},
    };
    for (int a = 0; a < 7; a++)
        for (int l = 0; l < 3; l++) {
            memset(&tc, 0, sizeof tc);
            tc.d = mk(psc[a][0], psc[a][1], psc[a][2], psc[a][3], psc[a][4], psc[a][5], psc[a][5]);
            tc.d.stride_h = tc.d.stride_w = psc[a][6];
            tc.d.pad_top = tc.d.pad_left = psc[a][7];
            tc.d.pad_bottom = tc.d.pad_right = psc[a][8];
            tc.d.dilation_h = tc.d.dilation_w = psc[a][9];
            randomise_rest(&tc, a * 3 + l + 2);
            tc.d.layout = (ck_layout)l;
            tc.threads = (int)psc[a][10];
            tc.use_res = (a + l) % 2;
            tc.integer = a % 3 == 0;
            run_case(&tc);
        }
    /* 12. stride-1 1x1 with C <= 64 and 2-block output chunks (4x16 tiles
     * on AVX2, 6x16 on NEON; mobilenetv2.pw112-like): pixel counts leaving
     * every tail modulo 4 and 6, C not a multiple of 8, K = 16 and K = 40
     * (a 3-block chunk, then a 2-block one), batch, every layout, residual,
     * both thread counts; and wider K with C/g of 17-64, whose blocks are
     * all 2-block chunks (a 3-block one last for odd counts): K = 64, 56
     * (2,2,3), 48, 104 (13 blocks), 256 (resnet50.1x1expand-like) */
    static const int64_t p5[][5] = {
        /* n, c, h, w, k */
        {1, 32, 11, 9, 16}, {2, 16, 7, 8, 16}, {1, 64, 5, 7, 16}, {1, 24, 13, 3, 16}, {1, 13, 6, 6, 16},
        {1, 40, 9, 11, 40}, {3, 8, 2, 3, 16}, {1, 32, 5, 5, 16}, {1, 48, 4, 7, 16},  {1, 24, 9, 11, 64},
        {1, 64, 5, 7, 56},  {1, 17, 6, 7, 48}, {2, 40, 4, 5, 104}, {1, 64, 7, 9, 256},
    };
    for (int a = 0; a < (int)(sizeof p5 / sizeof p5[0]); a++)
        for (int l = 0; l < 3; l++)
            for (int t = 1; t <= 2; t++) {
                memset(&tc, 0, sizeof tc);
                tc.d = mk(p5[a][0], p5[a][1], p5[a][2], p5[a][3], p5[a][4], 1, 1);
                randomise_rest(&tc, a * 6 + l * 2 + t);
                tc.d.layout = (ck_layout)l;
                tc.threads = t;
                tc.use_res = (a + l + t) % 2;
                tc.integer = (a + t) % 2;
                run_case(&tc);
            }
    /* 13. the 4x16 row kernel (ckd_avx2_row4x16_s1: stride-1 1x1, C/g of
     * 17-64 in whole blocks) in each of its variants: with and without
     * bias, every activation (NONE, RELU and RELU6 in the asm epilogue,
     * LEAKY through the C template), with and without residual; rows
     * leaving a tail modulo 4.  Then 4-pixel tails of 6x16 tiles (the same
     * row kernel) in a layer whose channels take two passes (C = 512, 16
     * pixels: the second pass starts from y), and likewise 2-pixel tails
     * of 3x32 tiles at stride 2 (the 2x32 row kernel, C = 256) */
    static const int64_t p6[][5] = {
        /* n, c, h, w, k */
        {1, 32, 5, 9, 16}, {1, 64, 3, 8, 32}, {2, 24, 3, 11, 48},
    };
    static const ck_activation_kind acts[] = {CK_ACT_NONE, CK_ACT_RELU, CK_ACT_RELU6, CK_ACT_LEAKY_RELU};
    for (int a = 0; a < (int)(sizeof p6 / sizeof p6[0]); a++)
        for (int v = 0; v < 16; v++) {
            memset(&tc, 0, sizeof tc);
            tc.d = mk(p6[a][0], p6[a][1], p6[a][2], p6[a][3], p6[a][4], 1, 1);
            tc.d.has_bias = v & 1;
            tc.d.activation.kind = acts[(v >> 1) & 3];
            tc.d.activation.alpha = 0.125f;
            tc.d.layout = (ck_layout)((a + v) % 3);
            tc.use_res = (v >> 3) & 1;
            tc.threads = 1 + (a + v) % 2;
            /* integer data for RELU6: sums of up to 64 products of -3..3
             * reach the clamp, uniform (-1, 1) data rarely does */
            tc.integer = v % 3 == 0 || tc.d.activation.kind == CK_ACT_RELU6;
            run_case(&tc);
        }
    for (int v = 0; v < 12; v++) {
        memset(&tc, 0, sizeof tc);
        if (v < 6) {
            tc.d = mk(1, 512, 2, 8, 16, 1, 1); /* 16 pixels: tiles of 6, 6 and 4 */
        } else {
            /* the 2x32 row kernel on the 2-pixel tails of 3x32 tiles
             * (stride 2, 5-pixel rows, 4 output blocks) over two passes */
            tc.d = mk(1, 256, 4, 10, 32, 1, 1);
            tc.d.stride_h = tc.d.stride_w = 2;
        }
        tc.d.has_bias = v % 2;
        tc.d.activation.kind = v < 2 ? CK_ACT_NONE : v < 4 ? CK_ACT_RELU : CK_ACT_RELU6;
        tc.d.layout = (ck_layout)(v % 3);
        tc.use_res = v % 3 == 1;
        tc.threads = 1 + v % 2;
        tc.integer = v % 2;
        run_case(&tc);
    }
}

/* The edge strips of padded small-C layers are an optimisation: under a
 * workspace limit too small for them the plan still succeeds (gather path,
 * no workspace in NCHW8c) and, on integer data, gives the same outputs. */
static void test_edge_strips_respect_workspace_limit(void) {
    ck_conv2d_desc d = mk(1, 3, 21, 25, 24, 7, 7);
    d.stride_h = d.stride_w = 2;
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 3;
    d.has_bias = 1;
    d.layout = CK_LAYOUT_NCHW8C;
    int64_t P, Q, xn, yn;
    CHECK_OK(ck_conv2d_output_shape(&d, &P, &Q));
    float *x = alloc_tensor(d.layout, 1, 3, 21, 25, &xn), *y1 = alloc_tensor(d.layout, 1, 24, P, Q, &yn);
    float *y2 = alloc_tensor(d.layout, 1, 24, P, Q, &yn), *w = ck_test_alloc(24 * 3 * 49), *b = ck_test_alloc(24);
    fill_tensor(&d, x, 1, 3, 21, 25, 1);
    ck_fill_int(w, 24 * 3 * 49, -2, 2);
    ck_fill_int(b, 24, -4, 4);
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = CK_ALGO_DIRECT;
    o.threads = 2;
    ck_plan *pa = NULL, *pb = NULL;
    CHECK_OK(ck_conv2d_plan_create(&d, w, b, &o, &pa));
    o.workspace_limit = 1;
    CHECK_OK(ck_conv2d_plan_create(&d, w, b, &o, &pb));
    if (pa && pb) {
        size_t wa = 0, wb = 0;
        ck_plan_workspace_size(pa, &wa);
        ck_plan_workspace_size(pb, &wb);
        CHECK(wb == 0, "under a 1-byte limit the NCHW8c plan needs no workspace (got %zu)", wb);
        void *ws = wa ? malloc(wa) : NULL;
        CHECK_OK(ck_conv2d_execute(pa, x, y1, NULL, ws, wa));
        CHECK_OK(ck_conv2d_execute(pb, x, y2, NULL, NULL, 0));
        int64_t diff = 0;
        for (int64_t i = 0; i < yn; i++) diff += y1[i] != y2[i];
        CHECK(diff == 0, "edge strips (workspace %zu) and gathers differ in %lld outputs", wa, (long long)diff);
        free(ws);
    }
    ck_plan_destroy(pa);
    ck_plan_destroy(pb);
    free(x); free(y1); free(y2); free(w); free(b);
}

/* Stride-1 1x1 layers with short tiles run their tiles in descending order
 * when the output lies just above the input modulo 4 KiB (see
 * direct_reverse_tiles): whatever the placement of the caller's buffers, the
 * results (integer data, with and without residual, 1 and 2 threads) must be
 * the reference's exactly.  x, y and res are carved from one allocation at
 * chosen byte distances, so both tile orders are taken. */
static void test_tile_order_any_buffer_placement(void) {
    static const int64_t dist[] = {0, 32, 64, 128, 192, 256, 2048, 4000, 4064};
    static const int64_t shapes[][4] = {{32, 16, 16, 16}, {20, 16, 9, 13}, {8, 8, 16, 16}, {32, 8, 1, 37}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int64_t C = shapes[si][0], K = shapes[si][1], H = shapes[si][2], W = shapes[si][3];
        ck_conv2d_desc d = mk(1, C, H, W, K, 1, 1);
        d.has_bias = 1;
        d.activation.kind = CK_ACT_RELU;
        d.layout = CK_LAYOUT_NCHW8C;
        int64_t xn, yn;
        ck_tensor_size(d.layout, 1, C, H, W, &xn);
        ck_tensor_size(d.layout, 1, K, H, W, &yn);
        const int64_t span = xn + 2 * yn + 3 * 1024 + 64;
        float *buf = ck_test_alloc(span), *yr = ck_test_alloc(yn), *w = ck_test_alloc(K * C), *b = ck_test_alloc(K);
        ck_fill_int(w, K * C, -2, 2);
        ck_fill_int(b, K, -4, 4);
        ck_plan_options o;
        memset(&o, 0, sizeof o);
        o.algorithm = CK_ALGO_REFERENCE;
        ck_plan *pr = NULL, *pd[2] = {NULL, NULL};
        CHECK_OK(ck_conv2d_plan_create(&d, w, b, &o, &pr));
        o.algorithm = CK_ALGO_DIRECT;
        for (int t = 0; t < 2; t++) {
            o.threads = t + 1;
            CHECK_OK(ck_conv2d_plan_create(&d, w, b, &o, &pd[t]));
        }
        for (size_t di = 0; di < sizeof dist / sizeof dist[0] && pr && pd[0] && pd[1]; di++)
            for (int use_res = 0; use_res < 2; use_res++) {
                float *x = buf;
                /* y starts dist bytes past a 4 KiB multiple beyond x's end */
                const int64_t yoff = (xn + 1023) / 1024 * 1024 + dist[di] / 4;
                float *y = buf + yoff, *res = use_res ? y + (yn + 1023) / 1024 * 1024 + 16 : NULL;
                fill_tensor(&d, x, 1, C, H, W, 1);
                if (res) fill_tensor(&d, res, 1, K, H, W, 1);
                CHECK_OK(ck_conv2d_execute(pr, x, yr, res, NULL, 0));
                for (int t = 0; t < 2; t++) {
                    for (int64_t i = 0; i < yn; i++) y[i] = 1234.5f;
                    CHECK_OK(ck_conv2d_execute(pd[t], x, y, res, NULL, 0));
                    int64_t diff = 0;
                    for (int64_t i = 0; i < yn; i++) diff += y[i] != yr[i];
                    CHECK(diff == 0, "1x1 C%lld K%lld %lldx%lld, output %lld bytes above the input mod 4 KiB, res%d, "
                          "threads %d: %lld outputs differ from the reference", (long long)C, (long long)K,
                          (long long)H, (long long)W, (long long)dist[di], use_res, t + 1, (long long)diff);
                }
            }
        ck_plan_destroy(pr);
        ck_plan_destroy(pd[0]);
        ck_plan_destroy(pd[1]);
        free(buf); free(yr); free(w); free(b);
    }
}

/* The plans of layer d at 1 and 2 threads are named want_avx2[0] and
 * want_avx2[1] on AVX2, and "direct/<isa> " and the tiles elsewhere. */
static void check_tile_names(ck_conv2d_desc d, const char *layer, const char *const want_avx2[2]) {
    ck_cpu_info info;
    ck_get_cpu_info(&info);
    d.layout = CK_LAYOUT_NCHW8C;
    const int64_t wn = d.k * d.c;
    float *w = ck_test_alloc(wn);
    ck_fill_int(w, wn, -2, 2);
    for (int t = 0; t < 2; t++) {
        ck_plan_options o;
        memset(&o, 0, sizeof o);
        o.algorithm = CK_ALGO_DIRECT;
        o.threads = t + 1;
        ck_plan *p = NULL;
        CHECK_OK(ck_conv2d_plan_create(&d, w, NULL, &o, &p));
        if (!p) continue;
        const char *name = ck_plan_impl_name(p);
        if (info.dispatched_isa == CK_ISA_AVX2_FMA)
            CHECK(strcmp(name, want_avx2[t]) == 0, "%s at %d thread(s): plan name '%s', want '%s'", layer, t + 1, name,
                  want_avx2[t]);
        else {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "direct/%s ", info.dispatched_isa == CK_ISA_NEON ? "neon" : "scalar");
            CHECK(strncmp(name, prefix, strlen(prefix)) == 0 && strlen(name) > strlen(prefix) + 2,
                  "plan name '%s' should be '%s' and the tiles", name, prefix);
        }
        ck_plan_destroy(p);
    }
    free(w);
}

/* The plan name lists the interior register tiles of its output chunks.
 * Pinned on AVX2 for resnet18.l2.1x1s2 (C/g <= 64): 4-block chunks of
 * 2x32 tiles at 1 and 2 threads; for C128 28x28 K256 stride 2: 6- and
 * 5-block chunks (2x48 and 2x40 tiles); and for
 * mobilenetv2.pw112 (C = 32, K = 16, 1x1) and resnet50.1x1expand (C = 64,
 * K = 256): 4x16 tiles at 1 and 2 threads. */
static void test_tile_names(void) {
    ck_conv2d_desc d = mk(1, 64, 56, 56, 128, 1, 1);
    d.stride_h = d.stride_w = 2;
    static const char *const want_s2[2] = {"direct/avx2_fma 2x32", "direct/avx2_fma 2x32"};
    check_tile_names(d, "resnet18.l2.1x1s2", want_s2);
    d = mk(1, 128, 28, 28, 256, 1, 1);
    d.stride_h = d.stride_w = 2;
    static const char *const want_s2w[2] = {"direct/avx2_fma 2x48+2x40", "direct/avx2_fma 2x48+2x40"};
    check_tile_names(d, "C128 28x28 K256 stride 2", want_s2w);
    static const char *const want_pw[2] = {"direct/avx2_fma 4x16", "direct/avx2_fma 4x16"};
    check_tile_names(mk(1, 32, 112, 112, 16, 1, 1), "mobilenetv2.pw112", want_pw);
    check_tile_names(mk(1, 64, 56, 56, 256, 1, 1), "resnet50.1x1expand", want_pw);
}

int main(void) {
    ck_cpu_info info;
    ck_get_cpu_info(&info);
    printf("test_direct: dispatched ISA %s\n", ck_isa_name(info.dispatched_isa));
    sweep();
    static const char *tiles[] = {"4x24", "3x24"};
    for (int t = 0; t < 2; t++) {
        setenv("CONVKIT_DIRECT_TILE3", tiles[t], 1);
        printf("test_direct: CONVKIT_DIRECT_TILE3=%s\n", tiles[t]);
        sweep();
    }
    unsetenv("CONVKIT_DIRECT_TILE3");
    test_edge_strips_respect_workspace_limit();
    test_tile_order_any_buffer_placement();
    test_tile_names();
    printf("test_direct: %d generated cases\n", g_cases);
    return ck_test_finish("test_direct");
}
