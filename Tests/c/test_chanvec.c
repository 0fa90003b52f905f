/* Depthwise convolution and fast pooling (the channel-vector kernels) against
 * the reference, across generated shapes: channel counts around the vector
 * width, kernel 1..5, stride 1..3, asymmetric padding, dilation, all layouts,
 * bias / residual / every activation, channel multiplier 1 and > 1, threads 1
 * and 2.  Run under CONVKIT_MAX_ISA=scalar too (ctest does) for the scalar path. */
#include "testutil.h"

static const ck_layout layouts[3] = {CK_LAYOUT_NCHW, CK_LAYOUT_NHWC, CK_LAYOUT_NCHW8C};

static double worst_ratio = 0;

static void check_dw(ck_conv2d_desc d, int use_res, int threads, int int_data) {
    int64_t P, Q;
    if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) return;
    int64_t xn, yn;
    ck_tensor_size(d.layout, d.n, d.c, d.h, d.w, &xn);
    ck_tensor_size(d.layout, d.n, d.k, P, Q, &yn);
    const int64_t wn = d.k * d.r * d.s;
    float *x = ck_test_alloc(xn), *w = ck_test_alloc(wn), *b = ck_test_alloc(d.k), *res = ck_test_alloc(yn);
    float *y = ck_test_alloc(yn), *yr = ck_test_alloc(yn), *tmp = ck_test_alloc(xn);
    /* fill in NCHW then convert so the blocked tail stays zero */
    if (int_data) { ck_fill_int(tmp, d.n * d.c * d.h * d.w, -3, 3); ck_fill_int(w, wn, -3, 3); ck_fill_int(b, d.k, -3, 3); }
    else { ck_fill_uniform(tmp, d.n * d.c * d.h * d.w, -1, 1); ck_fill_uniform(w, wn, -1, 1); ck_fill_uniform(b, d.k, -1, 1); }
    ck_convert_layout(d.n, d.c, d.h, d.w, CK_LAYOUT_NCHW, tmp, d.layout, x);
    float *rtmp = ck_test_alloc(d.n * d.k * P * Q);
    if (int_data) ck_fill_int(rtmp, d.n * d.k * P * Q, -3, 3); else ck_fill_uniform(rtmp, d.n * d.k * P * Q, -1, 1);
    ck_convert_layout(d.n, d.k, P, Q, CK_LAYOUT_NCHW, rtmp, d.layout, res);
    for (int64_t i = 0; i < yn; i++) y[i] = 1234.5f; /* poison: the blocked tail must come back as 0 */
    ck_plan *pf = NULL, *pr = NULL;
    ck_plan_options of = {CK_ALGO_DEPTHWISE, threads, 0, 0}, orf = {CK_ALGO_REFERENCE, 1, 0, 0};
    ck_status s1 = ck_conv2d_plan_create(&d, w, b, &of, &pf);
    ck_status s2 = ck_conv2d_plan_create(&d, w, b, &orf, &pr);
    CHECK(s1 == CK_OK && s2 == CK_OK, "plan create %d/%d (%s) for %s", s1, s2, ck_last_error_message(), ck_conv_desc_str(&d));
    if (s1 == CK_OK && s2 == CK_OK) {
        CHECK_OK(ck_conv2d_execute(pf, x, y, use_res ? res : NULL, NULL, 0));
        CHECK_OK(ck_conv2d_execute(pr, x, yr, use_res ? res : NULL, NULL, 0));
        /* bound: tol * (sum |w x| + |b| + |res|); activations used here have slope <= 1 */
        const double tol = 4.0 * sqrt((double)(d.r * d.s)) / 16777216.0;
        int bad = 0;
        for (int64_t n = 0; n < d.n && !bad; n++)
            for (int64_t k = 0; k < (d.k + 7) / 8 * 8 && !bad; k++)
                for (int64_t p = 0; p < P && !bad; p++)
                    for (int64_t q = 0; q < Q && !bad; q++) {
                        if (k >= d.k) {
                            if (d.layout == CK_LAYOUT_NCHW8C) {
                                float v = y[((n * ((d.k + 7) / 8) + k / 8) * P + p) * Q * 8 + q * 8 + k % 8];
                                CHECK(v == 0.f, "blocked tail channel %lld = %g, want 0 for %s", (long long)k, v, ck_conv_desc_str(&d));
                                if (v != 0.f) bad = 1;
                            }
                            continue;
                        }
                        const int64_t m = d.k / d.c, c = k / m;
                        double absum = fabs(b[k]) + (use_res ? fabs(rtmp[((n * d.k + k) * P + p) * Q + q]) : 0);
                        for (int64_t r = 0; r < d.r; r++)
                            for (int64_t s = 0; s < d.s; s++) {
                                int64_t ih = p * d.stride_h - d.pad_top + r * d.dilation_h;
                                int64_t iw = q * d.stride_w - d.pad_left + s * d.dilation_w;
                                if (ih < 0 || iw < 0 || ih >= d.h || iw >= d.w) continue;
                                absum += fabs(w[(k * d.r + r) * d.s + s] * tmp[((n * d.c + c) * d.h + ih) * d.w + iw]);
                            }
                        int64_t o = 0;
                        switch (d.layout) {
                        case CK_LAYOUT_NCHW: o = ((n * d.k + k) * P + p) * Q + q; break;
                        case CK_LAYOUT_NHWC: o = ((n * P + p) * Q + q) * d.k + k; break;
                        default: o = ((n * ((d.k + 7) / 8) + k / 8) * P + p) * Q * 8 + q * 8 + k % 8;
                        }
                        const double err = fabs((double)y[o] - (double)yr[o]);
                        if (absum > 0 && err / absum > worst_ratio) worst_ratio = err / absum;
                        if (int_data) CHECK(y[o] == yr[o], "exact: got %g want %g at n%lld k%lld p%lld q%lld for %s", y[o], yr[o],
                                            (long long)n, (long long)k, (long long)p, (long long)q, ck_conv_desc_str(&d));
                        else CHECK(err <= tol * absum + 1e-30, "err %g > bound %g at n%lld k%lld p%lld q%lld for %s", err, tol * absum,
                                   (long long)n, (long long)k, (long long)p, (long long)q, ck_conv_desc_str(&d));
                        if (err > tol * absum + 1e-30 || (int_data && y[o] != yr[o])) bad = 1;
                    }
    }
    ck_plan_destroy(pf);
    ck_plan_destroy(pr);
    free(x); free(w); free(b); free(res); free(y); free(yr); free(tmp); free(rtmp);
}

/* xoff: the input starts xoff floats into its allocation (misaligned input) */
static void check_pool(ck_pool2d_desc d, int threads, int xoff) {
    int64_t P, Q;
    if (ck_pool2d_output_shape(&d, &P, &Q) != CK_OK) return;
    int64_t xn, yn;
    ck_tensor_size(d.layout, d.n, d.c, d.h, d.w, &xn);
    ck_tensor_size(d.layout, d.n, d.c, P, Q, &yn);
    float *tmp = ck_test_alloc(d.n * d.c * d.h * d.w), *xbuf = ck_test_alloc(xn + 8), *y = ck_test_alloc(yn), *yr = ck_test_alloc(yn);
    float *x = xbuf + xoff;
    ck_fill_uniform(tmp, d.n * d.c * d.h * d.w, -2, 2);
    ck_convert_layout(d.n, d.c, d.h, d.w, CK_LAYOUT_NCHW, tmp, d.layout, x);
    ck_plan *pf = NULL, *pr = NULL;
    ck_plan_options of = {CK_ALGO_AUTO, threads, 0, 0}, orf = {CK_ALGO_REFERENCE, 1, 0, 0};
    CHECK_OK(ck_pool2d_plan_create(&d, &of, &pf));
    CHECK_OK(ck_pool2d_plan_create(&d, &orf, &pr));
    if (pf && pr) {
        CHECK_OK(ck_pool2d_execute(pf, x, y));
        CHECK_OK(ck_pool2d_execute(pr, x, yr));
        int bad = 0;
        for (int64_t i = 0; i < yn && !bad; i++) {
            /* max is exact; average differs only by float vs double summation of <= R*S terms */
            double tol = d.kind == CK_POOL_MAX ? 0 : 1e-6 * (1 + fabs(yr[i]));
            if (fabs((double)y[i] - yr[i]) > tol) {
                bad = 1;
                CHECK(0, "pool kind %d N%lld C%lld H%lld W%lld win %lldx%lld s%lldx%lld pad %lld,%lld,%lld,%lld dil %lld ceil %d cip %d layout %d: "
                         "index %lld got %g want %g", d.kind, (long long)d.n, (long long)d.c, (long long)d.h, (long long)d.w,
                      (long long)d.r, (long long)d.s, (long long)d.stride_h, (long long)d.stride_w, (long long)d.pad_top,
                      (long long)d.pad_left, (long long)d.pad_bottom, (long long)d.pad_right, (long long)d.dilation_h, d.ceil_mode,
                      d.count_include_pad, d.layout, (long long)i, y[i], yr[i]);
            }
        }
    }
    ck_plan_destroy(pf);
    ck_plan_destroy(pr);
    free(tmp); free(xbuf); free(y); free(yr);
}

int main(void) {
    ck_rng_seed(12345);
    /* the worked example: pooling 4x4 -> 2x2 through the fast path */
    {
        const float img[16] = {1, 4, 2, 11, 6, 13, 8, 3, 10, 0, 17, 7, 9, 2, 3, 5};
        const float want_max[4] = {13, 11, 10, 17}, want_avg[4] = {6, 6, 5.25f, 8};
        for (int kind = 0; kind < 2; kind++) {
            ck_pool2d_desc d = {(ck_pool_kind)kind, 1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0, CK_LAYOUT_NHWC};
            ck_plan *p = NULL;
            float y[4];
            CHECK_OK(ck_pool2d_plan_create(&d, NULL, &p));
            CHECK_OK(ck_pool2d_execute(p, img, y));
            for (int i = 0; i < 4; i++) CHECK(y[i] == (kind ? want_avg[i] : want_max[i]), "pool example %d: %g", i, y[i]);
            ck_plan_destroy(p);
        }
    }
    const ck_activation acts[5] = {{CK_ACT_NONE, 0}, {CK_ACT_RELU, 0}, {CK_ACT_RELU6, 0}, {CK_ACT_LEAKY_RELU, 0.1f}, {CK_ACT_SIGMOID, 0}};
    int cases = 0;
    for (int it = 0; it < 260; it++) {
        const int64_t chans[] = {1, 3, 7, 8, 9, 15, 16, 17, 24, 33};
        ck_conv2d_desc d = ck_conv2d_desc_init(ck_rand_int(1, 2), chans[ck_rand_int(0, 9)], ck_rand_int(1, 12), ck_rand_int(1, 12), 0,
                                               ck_rand_int(1, 5), ck_rand_int(1, 5));
        const int64_t mult = it % 7 == 0 ? 2 : it % 11 == 0 ? 3 : 1;
        d.k = d.c * mult;
        d.groups = d.c;
        d.stride_h = ck_rand_int(1, 3);
        d.stride_w = it % 5 == 0 ? ck_rand_int(1, 3) : d.stride_h;
        d.pad_top = ck_rand_int(0, 2); d.pad_bottom = ck_rand_int(0, 2);
        d.pad_left = ck_rand_int(0, 2); d.pad_right = ck_rand_int(0, 2);
        d.dilation_h = d.dilation_w = it % 6 == 0 ? 2 : 1;
        d.has_bias = (int32_t)ck_rand_int(0, 1);
        d.activation = acts[ck_rand_int(0, 4)];
        d.layout = layouts[it % 3];
        int64_t P, Q;
        if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        check_dw(d, it % 4 == 0, 1 + it % 2, it % 9 == 0);
        cases++;
    }
    /* channel multiplier 2 and 4 on 3x3 / 5x5, stride 1 and 2, every layout,
     * residual, 2 threads (the K-channel expansion path) */
    for (int it = 0; it < 24; it++) {
        const int64_t cs[] = {1, 3, 5, 8, 12};
        ck_conv2d_desc d = ck_conv2d_desc_init(1 + it % 2, cs[it % 5], 6 + it % 7, 5 + it % 5, 0, 3 + 2 * (it % 2),
                                               3 + 2 * (it % 2));
        d.k = d.c * (it % 3 == 0 ? 4 : 2);
        d.groups = d.c;
        d.stride_h = d.stride_w = 1 + (it / 2) % 2;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1 + it % 2;
        d.has_bias = it % 4 != 0;
        d.activation = acts[it % 5];
        d.layout = layouts[it % 3];
        int64_t P, Q;
        if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        check_dw(d, it % 2 == 0, 1 + it % 2, 0);
        cases++;
    }
    /* MobileNet-like shapes (3x3, stride 1 and 2, ReLU6) with more spatial extent */
    for (int s = 1; s <= 2; s++)
        for (int li = 0; li < 3; li++) {
            ck_conv2d_desc d = ck_conv2d_desc_init(1, 32, 20, 19, 32, 3, 3);
            d.groups = 32; d.stride_h = d.stride_w = s;
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
            d.has_bias = 1; d.activation.kind = CK_ACT_RELU6;
            d.layout = layouts[li];
            check_dw(d, 0, 2, 0);
            cases++;
        }
    /* 3x3 dilation 1 (the unrolled fast path): stride 1 and 2, tiny to medium
     * widths (row steps of 8/4/2/1 outputs, padding columns folded into the
     * first/last step), asymmetric padding up to 2, residual, every activation,
     * both channel-vector layouts (NHWC with a channel stride != 8) and NCHW */
    {
        const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 13, 16, 17, 19, 26};
        const int64_t chans3[] = {8, 16, 24, 13, 32};
        for (int it = 0; it < 160; it++) {
            ck_conv2d_desc d = ck_conv2d_desc_init(ck_rand_int(1, 2), chans3[it % 5], sizes[ck_rand_int(0, 13)],
                                                   sizes[ck_rand_int(0, 13)], 0, 3, 3);
            d.k = d.c;
            d.groups = d.c;
            d.stride_h = d.stride_w = 1 + (it / 5) % 2;
            if (it % 11 == 0) d.stride_h = 3 - d.stride_w;
            d.pad_top = ck_rand_int(0, 2); d.pad_bottom = ck_rand_int(0, 2);
            d.pad_left = ck_rand_int(0, 2); d.pad_right = ck_rand_int(0, 2);
            if (it % 3 == 0) d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 1;
            d.has_bias = (int32_t)(it % 4 != 1);
            d.activation = acts[it % 5];
            d.layout = layouts[(it / 10) % 3];
            int64_t P, Q;
            if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK) continue;
            check_dw(d, it % 3 == 1, 1 + it % 2, it % 7 == 0);
            cases++;
        }
    }
    /* declines */
    {
        ck_conv2d_desc d = ck_conv2d_desc_init(1, 8, 5, 5, 8, 3, 3);
        d.groups = 2;
        CHECK_STATUS(ck_conv2d_algorithm_applicable(&d, CK_ALGO_DEPTHWISE, NULL), CK_ERR_UNSUPPORTED_ALGORITHM);
    }
    int pcases = 0;
    for (int it = 0; it < 300; it++) {
        ck_pool2d_desc d;
        memset(&d, 0, sizeof d);
        d.kind = (ck_pool_kind)(it % 2);
        d.n = ck_rand_int(1, 2); d.c = ck_rand_int(1, 19); d.h = ck_rand_int(1, 13); d.w = ck_rand_int(1, 13);
        d.r = ck_rand_int(1, 4); d.s = ck_rand_int(1, 4);
        d.stride_h = ck_rand_int(1, 3); d.stride_w = ck_rand_int(1, 3);
        d.dilation_h = d.dilation_w = it % 7 == 0 ? 2 : 1;
        const int64_t eh = d.dilation_h * (d.r - 1), ew = d.dilation_w * (d.s - 1);
        d.pad_top = ck_rand_int(0, eh); d.pad_bottom = ck_rand_int(0, eh);
        d.pad_left = ck_rand_int(0, ew); d.pad_right = ck_rand_int(0, ew);
        d.ceil_mode = (int32_t)ck_rand_int(0, 1);
        d.count_include_pad = (int32_t)ck_rand_int(0, 1);
        d.layout = layouts[it % 3];
        int64_t P, Q;
        if (ck_pool2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        check_pool(d, 1 + it % 2, 0);
        pcases++;
    }
    /* the unrolled pooling rows (2x2 and 3x3 windows, stride 1 and 2: 8 outputs
     * per step sharing column reductions), wider maps so the 8-wide steps run,
     * and global pooling (the window is the whole map) */
    for (int it = 0; it < 120; it++) {
        ck_pool2d_desc d;
        memset(&d, 0, sizeof d);
        d.kind = (ck_pool_kind)(it % 2);
        d.n = 1 + it % 2; d.c = (const int64_t[]){8, 16, 5, 24, 11}[it % 5];
        d.h = ck_rand_int(1, 30); d.w = ck_rand_int(1, 40);
        d.r = d.s = 2 + (it / 2) % 2;
        d.stride_h = d.stride_w = 1 + (it / 4) % 2;
        d.dilation_h = d.dilation_w = 1;
        d.pad_top = ck_rand_int(0, d.r - 1); d.pad_bottom = ck_rand_int(0, d.r - 1);
        d.pad_left = ck_rand_int(0, d.s - 1); d.pad_right = ck_rand_int(0, d.s - 1);
        d.ceil_mode = (int32_t)(it % 7 == 0);
        d.count_include_pad = (int32_t)(it % 3 == 0);
        d.layout = layouts[(it / 8) % 3];
        if (it % 10 == 9) { /* global */
            d.r = d.h = ck_rand_int(1, 9); d.s = d.w = ck_rand_int(1, 9);
            d.stride_h = d.stride_w = 1;
            d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 0;
            d.ceil_mode = 0;
        }
        int64_t P, Q;
        if (ck_pool2d_output_shape(&d, &P, &Q) != CK_OK) continue;
        check_pool(d, 1 + (it / 3) % 2, it % 8);
        pcases++;
    }
    /* global pooling in NCHW8c (the stacked-planes path) at input offsets 0, 16 and 4 bytes */
    for (int it = 0; it < 12; it++) {
        ck_pool2d_desc d;
        memset(&d, 0, sizeof d);
        d.kind = (ck_pool_kind)(it % 2);
        d.n = 1 + (it / 6); d.c = it % 4 < 2 ? 16 : 13;
        d.h = d.r = 7; d.w = d.s = 7 - (it / 6);
        d.stride_h = d.stride_w = d.dilation_h = d.dilation_w = 1;
        d.layout = CK_LAYOUT_NCHW8C;
        check_pool(d, 1 + it % 2, (int[]){0, 4, 1}[it % 3]);
        pcases++;
    }
    printf("depthwise cases: %d, pooling cases: %d, worst depthwise error ratio %.3g\n", cases, pcases, worst_ratio);
    return ck_test_finish("test_chanvec");
}
