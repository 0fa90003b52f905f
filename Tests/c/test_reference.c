/* The reference ops through the public plan API, on hand-checked cases:
 * every worked example of the foundation issue (course material), the shape
 * arithmetic, and a small hand-computed case for every other op.  The conv
 * examples also run through every other algorithm that accepts the shape
 * (small integers: those sums are exact in float32). */
#include "testutil.h"

static const float IMG6[36] = {1, 4, 12, 11, 0, 2, 9, 15, 3, 0, 4, 17, 1, 4, 8, 6, 6, 10,
                               16, 10, 0, 11, 13, 6, 0, 2, 9, 3, 0, 8, 2, 14, 12, 5, 14, 1};
static const float FILT3[9] = {3, 0, 8, 1, 5, 10, 0, 2, 9};

static int close_to(double a, double b, double tol) { return fabs(a - b) <= tol * (1.0 + fabs(b)); }

/* Run a conv plan with `algo`; returns the status, writes y. */
static ck_status run_conv(const ck_conv2d_desc *d, ck_algorithm algo, const float *x, const float *w,
                          const float *b, const float *res, float *y) {
    ck_plan_options o = {algo, 1, 0, 0};
    ck_plan *p = NULL;
    ck_status st = ck_conv2d_plan_create(d, w, b, &o, &p);
    if (st != CK_OK) return st;
    ck_algorithm got = CK_ALGO_AUTO;
    CHECK_OK(ck_plan_algorithm(p, &got));
    if (algo != CK_ALGO_AUTO) CHECK(got == algo, "plan runs %s, %s was requested", ck_algorithm_name(got), ck_algorithm_name(algo));
    size_t ws = 0;
    CHECK_OK(ck_plan_workspace_size(p, &ws));
    void *buf = ws ? malloc(ws) : NULL;
    st = ck_conv2d_execute(p, x, y, res, buf, ws);
    free(buf);
    ck_plan_destroy(p);
    return st;
}

/* Check a conv case (NCHW) against `expected` (N*K*P*Q floats): exactly with the
 * reference, then with every other algorithm that declares itself applicable. */
static void conv_case(const char *name, const ck_conv2d_desc *d, const float *x, const float *w, const float *b,
                      const float *res, const float *expected, int64_t P, int64_t Q) {
    int64_t p = 0, q = 0;
    CHECK_OK(ck_conv2d_output_shape(d, &p, &q));
    CHECK(p == P && q == Q, "%s: output %lldx%lld, expected %lldx%lld", name, (long long)p, (long long)q, (long long)P,
          (long long)Q);
    if (p != P || q != Q) return;
    const int64_t n = d->n * d->k * P * Q;
    float *y = ck_test_alloc(n);
    for (int a = CK_ALGO_REFERENCE; a < CK_ALGO_COUNT; a++) {
        ck_algorithm algo = (ck_algorithm)a;
        if (algo != CK_ALGO_REFERENCE && ck_conv2d_algorithm_applicable(d, algo, NULL) != CK_OK) continue;
        for (int64_t i = 0; i < n; i++) y[i] = -12345.f;
        ck_status st = run_conv(d, algo, x, w, b, res, y);
        CHECK(st == CK_OK, "%s [%s]: %s: %s", name, ck_algorithm_name(algo), ck_status_string(st), ck_last_error_message());
        if (st != CK_OK) continue;
        /* float data in the examples is small integers: exact for every algorithm
         * except the Winograd transforms, which get a small tolerance */
        const double tol = (algo >= CK_ALGO_WINOGRAD_F2 && algo <= CK_ALGO_WINOGRAD_F6) ? 1e-4 : 0.0;
        int bad = 0;
        for (int64_t i = 0; i < n && bad < 5; i++)
            if (!(y[i] == expected[i] || (tol > 0 && close_to(y[i], expected[i], tol)))) {
                bad++;
                CHECK(0, "%s [%s]: y[%lld] = %.9g, expected %.9g", name, ck_algorithm_name(algo), (long long)i, (double)y[i],
                      (double)expected[i]);
            }
    }
    free(y);
}

/* ---- the worked examples ----------------------------------------------- */

static void test_course_image(void) {
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 1, 6, 6, 1, 3, 3);
    static const float valid[16] = {293, 200, 145, 341, 172, 248, 278, 352, 218, 225, 263, 306, 284, 264, 264, 201};
    conv_case("6x6 valid", &d, IMG6, FILT3, NULL, NULL, valid, 4, 4);

    d.stride_h = d.stride_w = 2;
    static const float s2[4] = {293, 145, 218, 263};
    conv_case("6x6 stride 2", &d, IMG6, FILT3, NULL, NULL, s2, 2, 2);

    d = ck_conv2d_desc_init(1, 1, 6, 6, 1, 3, 3);
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
    float y[36];
    int64_t p, q;
    CHECK_OK(ck_conv2d_output_shape(&d, &p, &q));
    CHECK(p == 6 && q == 6, "same padding: %lldx%lld", (long long)p, (long long)q);
    CHECK_OK(run_conv(&d, CK_ALGO_REFERENCE, IMG6, FILT3, NULL, NULL, y));
    static const float first[6] = {198, 198, 180, 103, 192, 44}, last[6] = {166, 264, 154, 204, 158, 19};
    for (int j = 0; j < 6; j++) {
        CHECK(y[j] == first[j], "same padding first row [%d] = %g, expected %g", j, (double)y[j], (double)first[j]);
        CHECK(y[30 + j] == last[j], "same padding last row [%d] = %g, expected %g", j, (double)y[30 + j], (double)last[j]);
    }
    /* inner 4x4 of "same" equals "valid" */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            CHECK(y[(i + 1) * 6 + j + 1] == valid[i * 4 + j], "same padding inner (%d,%d)", i, j);

    /* bias + residual + ReLU on the valid case: y = relu(valid - 250 + 1) */
    d = ck_conv2d_desc_init(1, 1, 6, 6, 1, 3, 3);
    d.has_bias = 1;
    d.activation.kind = CK_ACT_RELU;
    const float bias = -250.f;
    float res[16], want[16];
    for (int i = 0; i < 16; i++) { res[i] = 1.f; want[i] = valid[i] - 249.f > 0 ? valid[i] - 249.f : 0.f; }
    conv_case("6x6 valid + bias + residual + relu", &d, IMG6, FILT3, &bias, res, want, 4, 4);
}

static void test_small_examples(void) {
    /* 5x5 upper-triangular ones with [[1,1,1],[1,4,1],[1,1,1]] */
    float tri[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) tri[i * 5 + j] = j >= i ? 1.f : 0.f;
    static const float wt[9] = {1, 1, 1, 1, 4, 1, 1, 1, 1};
    static const float et[9] = {9, 11, 12, 3, 9, 11, 1, 3, 9};
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 1, 5, 5, 1, 3, 3);
    conv_case("5x5 upper triangular", &d, tri, wt, NULL, NULL, et, 3, 3);

    static const float a5[25] = {1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0};
    static const float wx[9] = {1, 0, 1, 0, 1, 0, 1, 0, 1};
    static const float ex[9] = {4, 3, 4, 2, 4, 3, 2, 3, 4};
    conv_case("5x5 example", &d, a5, wx, NULL, NULL, ex, 3, 3);

    /* dilation 2: the X filter samples (0,0), (0,4), (2,2), (4,0), (4,4) = 1+0+1+0+0 */
    d.dilation_h = d.dilation_w = 2;
    static const float ed[1] = {2};
    conv_case("5x5 example dilation 2", &d, a5, wx, NULL, NULL, ed, 1, 1);
}

static void test_edge_filters(void) {
    float img[36];
    for (int i = 0; i < 36; i++) img[i] = (i % 6) < 3 ? 10.f : 0.f;
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 1, 6, 6, 1, 3, 3);
    static const float vert[9] = {1, 0, -1, 1, 0, -1, 1, 0, -1};
    static const float sobel[9] = {1, 0, -1, 2, 0, -2, 1, 0, -1};
    static const float scharr[9] = {3, 0, -3, 10, 0, -10, 3, 0, -3};
    float e[16];
    /* vertical edge: columns 1 and 2 of the output straddle the edge: 3*10 - 0 */
    for (int i = 0; i < 16; i++) e[i] = (i % 4 == 1 || i % 4 == 2) ? 30.f : 0.f;
    conv_case("vertical edge", &d, img, vert, NULL, NULL, e, 4, 4);
    /* Sobel: (1+2+1)*10 = 40 at the edge */
    for (int i = 0; i < 16; i++) e[i] = (i % 4 == 1 || i % 4 == 2) ? 40.f : 0.f;
    conv_case("sobel on the edge image", &d, img, sobel, NULL, NULL, e, 4, 4);
    /* Scharr: (3+10+3)*10 = 160 */
    for (int i = 0; i < 16; i++) e[i] = (i % 4 == 1 || i % 4 == 2) ? 160.f : 0.f;
    conv_case("scharr on the edge image", &d, img, scharr, NULL, NULL, e, 4, 4);

    /* On the course image.  Top-left by hand: Sobel (1 + 2*9 + 1) - (12 + 2*3 + 8) = -6;
     * Scharr (3*1 + 10*9 + 3*1) - (3*12 + 10*3 + 3*8) = 6. */
    static const float sob_img[16] = {-6, 21, 12, -29, 8, 10, -10, -20, 16, -5, -15, 1, -12, 6, 3, -1};
    static const float sch_img[16] = {6, 123, 32, -155, -4, 22, -22, -76, 112, -19, -97, 23, -72, 14, 45, -23};
    conv_case("sobel on the course image", &d, IMG6, sobel, NULL, NULL, sob_img, 4, 4);
    conv_case("scharr on the course image", &d, IMG6, scharr, NULL, NULL, sch_img, 4, 4);
}

static void test_multichannel_and_groups(void) {
    /* 6x6x3 input with two 3x3x3 filters -> 4x4x2.  Channel c is constant c+1,
     * filter k is all k+1: every output is (k+1) * 9 * (1+2+3) = 54 (k+1). */
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 3, 6, 6, 2, 3, 3);
    float x[108], w[54], e[32];
    for (int i = 0; i < 108; i++) x[i] = (float)(i / 36 + 1);
    for (int i = 0; i < 54; i++) w[i] = (float)(i / 27 + 1);
    for (int i = 0; i < 32; i++) e[i] = 54.f * (float)(i / 16 + 1);
    conv_case("6x6x3 with two 3x3x3 filters", &d, x, w, NULL, NULL, e, 4, 4);

    /* depthwise (groups = C = K = 2), 2x2 kernels, bias and activations.
     * c0 = 1..9, w0 = [[1,0],[0,1]]: x[i][j] + x[i+1][j+1]; c1 = ones, w1 = ones: 4. */
    d = ck_conv2d_desc_init(1, 2, 3, 3, 2, 2, 2);
    d.groups = 2;
    d.has_bias = 1;
    float xd[18], wd[8] = {1, 0, 0, 1, 1, 1, 1, 1}, bd[2] = {1, -10};
    for (int i = 0; i < 9; i++) { xd[i] = (float)(i + 1); xd[9 + i] = 1.f; }
    static const float e_none[8] = {7, 9, 13, 15, -6, -6, -6, -6};
    static const float e_relu[8] = {7, 9, 13, 15, 0, 0, 0, 0};
    static const float e_leaky[8] = {7, 9, 13, 15, -3, -3, -3, -3};
    static const float e_relu6[8] = {6, 6, 6, 6, 0, 0, 0, 0};
    conv_case("depthwise + bias", &d, xd, wd, bd, NULL, e_none, 2, 2);
    d.activation.kind = CK_ACT_RELU;
    conv_case("depthwise + bias + relu", &d, xd, wd, bd, NULL, e_relu, 2, 2);
    d.activation.kind = CK_ACT_LEAKY_RELU;
    d.activation.alpha = 0.5f;
    conv_case("depthwise + bias + leaky relu 0.5", &d, xd, wd, bd, NULL, e_leaky, 2, 2);
    d.activation.kind = CK_ACT_RELU6;
    d.activation.alpha = 0.f;
    conv_case("depthwise + bias + relu6", &d, xd, wd, bd, NULL, e_relu6, 2, 2);

    /* groups = 2 with 2 input channels per group and 1 output per group (1x1):
     * k0 = c0 + c1, k1 = c2 - c3 */
    d = ck_conv2d_desc_init(1, 4, 1, 2, 2, 1, 1);
    d.groups = 2;
    static const float xg[8] = {1, 2, 10, 20, 5, 6, 1, 1};
    static const float wg[4] = {1, 1, 1, -1};
    static const float eg[4] = {11, 22, 4, 5};
    conv_case("grouped 1x1", &d, xg, wg, NULL, NULL, eg, 1, 2);
}

static void test_shapes(void) {
    /* AlexNet conv1: 227x227x3, 96 filters 11x11, stride 4 -> 55x55x96 */
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 3, 227, 227, 96, 11, 11);
    d.stride_h = d.stride_w = 4;
    d.has_bias = 1;
    int64_t p = 0, q = 0;
    CHECK_OK(ck_conv2d_output_shape(&d, &p, &q));
    CHECK(p == 55 && q == 55, "AlexNet conv1: %lldx%lld", (long long)p, (long long)q);
    const int64_t weights = d.k * (d.c / d.groups) * d.r * d.s;
    CHECK(weights == 34848, "AlexNet conv1 weights %lld", (long long)weights);
    CHECK(weights + d.k == 34944, "AlexNet conv1 parameters %lld", (long long)(weights + d.k));
    double flops = 0;
    CHECK_OK(ck_conv2d_flops(&d, &flops));
    CHECK(flops == 2.0 * 34848 * 55 * 55, "AlexNet conv1 flops %.0f", flops);
    /* 6x6x3 with two 3x3x3 filters -> 4x4x2 */
    d = ck_conv2d_desc_init(1, 3, 6, 6, 2, 3, 3);
    CHECK_OK(ck_conv2d_output_shape(&d, &p, &q));
    CHECK(p == 4 && q == 4 && d.k == 2, "6x6x3 * two 3x3x3: %lldx%lldx%lld", (long long)p, (long long)q, (long long)d.k);
    /* ten 3x3x3 filters with bias: 280 parameters */
    d = ck_conv2d_desc_init(1, 3, 32, 32, 10, 3, 3);
    CHECK(d.k * d.c * d.r * d.s + d.k == 280, "ten 3x3x3 filters");
    /* asymmetric padding, stride, dilation: floor((H + pt + pb - d(R-1) - 1)/s) + 1 */
    d = ck_conv2d_desc_init(1, 1, 10, 11, 1, 3, 2);
    d.pad_top = 2; d.pad_bottom = 0; d.pad_left = 1; d.pad_right = 3;
    d.stride_h = 3; d.stride_w = 2; d.dilation_h = 2; d.dilation_w = 3;
    CHECK_OK(ck_conv2d_output_shape(&d, &p, &q));
    CHECK(p == (10 + 2 + 0 - 4 - 1) / 3 + 1 && q == (11 + 1 + 3 - 3 - 1) / 2 + 1, "asymmetric shape %lldx%lld", (long long)p,
          (long long)q);
}

/* ---- transposed convolution -------------------------------------------- */

static ck_conv_transpose2d_desc deconv_desc(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s) {
    ck_conv_transpose2d_desc d;
    memset(&d, 0, sizeof d);
    d.n = n; d.c = c; d.h = h; d.w = w; d.k = k; d.r = r; d.s = s;
    d.stride_h = d.stride_w = d.dilation_h = d.dilation_w = d.groups = 1;
    d.layout = CK_LAYOUT_NCHW;
    return d;
}

static ck_status run_deconv(const ck_conv_transpose2d_desc *d, const float *x, const float *w, const float *b, float *y) {
    ck_plan_options o = {CK_ALGO_REFERENCE, 1, 0, 0};
    ck_plan *p = NULL;
    ck_status st = ck_conv_transpose2d_plan_create(d, w, b, &o, &p);
    if (st != CK_OK) return st;
    size_t ws = 0;
    CHECK_OK(ck_plan_workspace_size(p, &ws));
    st = ck_conv_transpose2d_execute(p, x, y, NULL, 0);
    ck_plan_destroy(p);
    return st;
}

static void expect_array(const char *name, const float *y, const float *e, int64_t n, double tol) {
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 5; i++)
        if (!(y[i] == e[i] || (tol > 0 && close_to(y[i], e[i], tol)))) {
            bad++;
            CHECK(0, "%s: [%lld] = %.9g, expected %.9g", name, (long long)i, (double)y[i], (double)e[i]);
        }
}

static void test_deconv_hand(void) {
    static const float x[4] = {1, 2, 3, 4};
    /* stride 1, 2x2 weights [[1,2],[3,4]]: the full convolution, 3x3 (sum = 10*10) */
    static const float w[4] = {1, 2, 3, 4};
    static const float e1[9] = {1, 4, 4, 6, 20, 16, 9, 24, 16};
    ck_conv_transpose2d_desc d = deconv_desc(1, 1, 2, 2, 1, 2, 2);
    float y[25];
    int64_t p, q;
    CHECK_OK(ck_conv_transpose2d_output_shape(&d, &p, &q));
    CHECK(p == 3 && q == 3, "deconv stride 1: %lldx%lld", (long long)p, (long long)q);
    CHECK_OK(run_deconv(&d, x, w, NULL, y));
    expect_array("deconv stride 1", y, e1, 9, 0);
    /* bias -5 and ReLU */
    d.has_bias = 1;
    d.activation.kind = CK_ACT_RELU;
    const float b = -5.f;
    static const float e1b[9] = {0, 0, 0, 1, 15, 11, 4, 19, 11};
    CHECK_OK(run_deconv(&d, x, w, &b, y));
    expect_array("deconv stride 1 + bias + relu", y, e1b, 9, 0);
    /* padding 1 crops one row/column on each side: only the centre, 20 */
    d = deconv_desc(1, 1, 2, 2, 1, 2, 2);
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
    CHECK_OK(ck_conv_transpose2d_output_shape(&d, &p, &q));
    CHECK(p == 1 && q == 1, "deconv pad 1: %lldx%lld", (long long)p, (long long)q);
    CHECK_OK(run_deconv(&d, x, w, NULL, y));
    CHECK(y[0] == 20.f, "deconv pad 1: %g", (double)y[0]);
    /* stride 2 with ones: each input pixel fills its own 2x2 block; output
     * padding 1 adds a zero row and column */
    static const float ones[4] = {1, 1, 1, 1};
    static const float e2[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    d = deconv_desc(1, 1, 2, 2, 1, 2, 2);
    d.stride_h = d.stride_w = 2;
    CHECK_OK(ck_conv_transpose2d_output_shape(&d, &p, &q));
    CHECK(p == 4 && q == 4, "deconv stride 2: %lldx%lld", (long long)p, (long long)q);
    CHECK_OK(run_deconv(&d, x, ones, NULL, y));
    expect_array("deconv stride 2", y, e2, 16, 0);
    d.output_padding_h = d.output_padding_w = 1;
    CHECK_OK(ck_conv_transpose2d_output_shape(&d, &p, &q));
    CHECK(p == 5 && q == 5, "deconv stride 2 output padding 1: %lldx%lld", (long long)p, (long long)q);
    CHECK_OK(run_deconv(&d, x, ones, NULL, y));
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            float want = (i < 4 && j < 4) ? e2[i * 4 + j] : 0.f;
            CHECK(y[i * 5 + j] == want, "deconv output padding (%d,%d) = %g, expected %g", i, j, (double)y[i * 5 + j], (double)want);
        }
}

/* <conv(x), y> == <x, convT(y)> with the same weights: transposed convolution
 * is the adjoint of convolution. */
static void adjoint_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s, int64_t stride,
                         int64_t pad, int64_t dil, int64_t groups, int64_t pad_extra) {
    ck_conv2d_desc cd = ck_conv2d_desc_init(n, c, h, w, k, r, s);
    cd.stride_h = stride; cd.stride_w = stride > 1 ? stride - 1 : 1; /* asymmetric strides */
    cd.pad_top = pad; cd.pad_left = pad; cd.pad_bottom = pad + pad_extra; cd.pad_right = pad;
    cd.dilation_h = dil; cd.dilation_w = dil;
    cd.groups = groups;
    int64_t P, Q;
    if (ck_conv2d_output_shape(&cd, &P, &Q) != CK_OK) { CHECK(0, "adjoint case %s invalid", ck_conv_desc_str(&cd)); return; }
    ck_conv_transpose2d_desc td = deconv_desc(n, k, P, Q, c, r, s);
    td.stride_h = cd.stride_h; td.stride_w = cd.stride_w;
    td.pad_top = cd.pad_top; td.pad_left = cd.pad_left; td.pad_bottom = cd.pad_bottom; td.pad_right = cd.pad_right;
    td.dilation_h = dil; td.dilation_w = dil;
    td.groups = groups;
    /* the output padding that restores H and W exactly */
    td.output_padding_h = (h + cd.pad_top + cd.pad_bottom - dil * (r - 1) - 1) % cd.stride_h;
    td.output_padding_w = (w + cd.pad_left + cd.pad_right - dil * (s - 1) - 1) % cd.stride_w;
    int64_t th, tw;
    CHECK_OK(ck_conv_transpose2d_output_shape(&td, &th, &tw));
    CHECK(th == h && tw == w, "adjoint: transposed output %lldx%lld, expected %lldx%lld for %s", (long long)th, (long long)tw,
          (long long)h, (long long)w, ck_conv_desc_str(&cd));
    if (th != h || tw != w) return;
    const int64_t xn = n * c * h * w, yn = n * k * P * Q, wn = k * (c / groups) * r * s;
    float *x = ck_test_alloc(xn), *y = ck_test_alloc(yn), *wt = ck_test_alloc(wn);
    float *cx = ck_test_alloc(yn), *ty = ck_test_alloc(xn);
    ck_fill_uniform(x, xn, -1, 1);
    ck_fill_uniform(y, yn, -1, 1);
    ck_fill_uniform(wt, wn, -1, 1);
    CHECK_OK(run_conv(&cd, CK_ALGO_REFERENCE, x, wt, NULL, NULL, cx));
    CHECK_OK(run_deconv(&td, y, wt, NULL, ty));
    double lhs = 0, rhs = 0, mag = 0;
    for (int64_t i = 0; i < yn; i++) { lhs += (double)cx[i] * y[i]; mag += fabs((double)cx[i] * y[i]); }
    for (int64_t i = 0; i < xn; i++) rhs += (double)x[i] * ty[i];
    CHECK(fabs(lhs - rhs) <= 1e-5 * (1 + mag), "adjoint identity: <conv x, y> = %.9g, <x, convT y> = %.9g for %s", lhs, rhs,
          ck_conv_desc_str(&cd));
    free(x); free(y); free(wt); free(cx); free(ty);
}

static void test_deconv_adjoint(void) {
    ck_rng_seed(42);
    adjoint_case(1, 1, 5, 5, 1, 3, 3, 1, 0, 1, 1, 0);
    adjoint_case(2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 0);
    adjoint_case(1, 2, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1);
    adjoint_case(1, 4, 10, 9, 6, 3, 3, 3, 2, 1, 2, 0);
    adjoint_case(2, 4, 9, 9, 4, 3, 3, 1, 2, 2, 4, 1);
    adjoint_case(1, 6, 11, 12, 4, 2, 3, 2, 0, 2, 2, 0);
    adjoint_case(1, 3, 8, 8, 6, 5, 5, 2, 2, 1, 3, 1);
    adjoint_case(1, 2, 6, 7, 2, 1, 1, 2, 0, 1, 1, 0);
}

/* ---- pooling ------------------------------------------------------------ */

static ck_pool2d_desc pool_desc(ck_pool_kind kind, int64_t h, int64_t w, int64_t r, int64_t s, int64_t stride) {
    ck_pool2d_desc d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.n = 1; d.c = 1; d.h = h; d.w = w; d.r = r; d.s = s;
    d.stride_h = d.stride_w = stride;
    d.dilation_h = d.dilation_w = 1;
    d.layout = CK_LAYOUT_NCHW;
    return d;
}

static void pool_case(const char *name, const ck_pool2d_desc *d, const float *x, const float *e, int64_t P, int64_t Q) {
    int64_t p = 0, q = 0;
    CHECK_OK(ck_pool2d_output_shape(d, &p, &q));
    CHECK(p == P && q == Q, "%s: output %lldx%lld, expected %lldx%lld", name, (long long)p, (long long)q, (long long)P,
          (long long)Q);
    if (p != P || q != Q) return;
    for (int a = 0; a < 2; a++) {
        ck_plan_options o = {a ? CK_ALGO_REFERENCE : CK_ALGO_AUTO, 1, 0, 0};
        ck_plan *plan = NULL;
        ck_status st = ck_pool2d_plan_create(d, &o, &plan);
        CHECK(st == CK_OK, "%s: plan: %s", name, ck_last_error_message());
        if (st != CK_OK) continue;
        float *y = ck_test_alloc(d->n * d->c * P * Q);
        CHECK_OK(ck_pool2d_execute(plan, x, y));
        char label[160];
        snprintf(label, sizeof label, "%s [%s]", name, a ? "reference" : "auto");
        expect_array(label, y, e, d->n * d->c * P * Q, 1e-6);
        free(y);
        ck_plan_destroy(plan);
    }
}

static void test_pooling(void) {
    static const float x4[16] = {1, 4, 2, 11, 6, 13, 8, 3, 10, 0, 17, 7, 9, 2, 3, 5};
    ck_pool2d_desc d = pool_desc(CK_POOL_MAX, 4, 4, 2, 2, 2);
    static const float emax[4] = {13, 11, 10, 17}, eavg[4] = {6, 6, 5.25f, 8};
    pool_case("max 2x2 stride 2", &d, x4, emax, 2, 2);
    d.kind = CK_POOL_AVG;
    pool_case("avg 2x2 stride 2", &d, x4, eavg, 2, 2);

    /* ceil_mode on 5x5 (x = 5i + j + 1), 2x2 stride 2: 3x3 instead of 2x2; the
     * last row/column windows hold a single input row/column. */
    float x5[25];
    for (int i = 0; i < 25; i++) x5[i] = (float)(i + 1);
    d = pool_desc(CK_POOL_MAX, 5, 5, 2, 2, 2);
    static const float emf[4] = {7, 9, 17, 19};
    pool_case("max 5x5 floor mode", &d, x5, emf, 2, 2);
    d.ceil_mode = 1;
    static const float emc[9] = {7, 9, 10, 17, 19, 20, 22, 24, 25};
    pool_case("max 5x5 ceil mode", &d, x5, emc, 3, 3);
    d.kind = CK_POOL_AVG;
    static const float eac[9] = {4, 6, 7.5f, 14, 16, 17.5f, 21.5f, 23.5f, 25};
    pool_case("avg 5x5 ceil mode", &d, x5, eac, 3, 3);
    d.count_include_pad = 1; /* no padding: the window is clipped to the input either way */
    pool_case("avg 5x5 ceil mode count_include_pad", &d, x5, eac, 3, 3);

    /* 3x3 average with padding 1 on [[1,2,3],[4,5,6],[7,8,9]] */
    static const float x3[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    d = pool_desc(CK_POOL_AVG, 3, 3, 3, 3, 1);
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
    static const float eexcl[9] = {3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7};
    static const float eincl[9] = {12.f / 9, 21.f / 9, 16.f / 9, 27.f / 9, 45.f / 9, 33.f / 9, 24.f / 9, 39.f / 9, 28.f / 9};
    pool_case("avg 3x3 pad 1 exclude pad", &d, x3, eexcl, 3, 3);
    d.count_include_pad = 1;
    pool_case("avg 3x3 pad 1 include pad", &d, x3, eincl, 3, 3);
    d.kind = CK_POOL_MAX;
    static const float emaxp[9] = {5, 6, 6, 8, 9, 9, 8, 9, 9};
    pool_case("max 3x3 pad 1", &d, x3, emaxp, 3, 3);

    /* asymmetric padding: top 1, right 1, 2x2 stride 1 -> 3x3; rows p-1..p, columns q..q+1 */
    d = pool_desc(CK_POOL_MAX, 3, 3, 2, 2, 1);
    d.pad_top = 1; d.pad_right = 1;
    static const float eam[9] = {2, 3, 3, 5, 6, 6, 8, 9, 9};
    pool_case("max asymmetric padding", &d, x3, eam, 3, 3);
    d.kind = CK_POOL_AVG;
    static const float eae[9] = {1.5f, 2.5f, 3, 3, 4, 4.5f, 6, 7, 7.5f};
    pool_case("avg asymmetric padding exclude pad", &d, x3, eae, 3, 3);
    d.count_include_pad = 1;
    static const float eai[9] = {0.75f, 1.25f, 0.75f, 3, 4, 2.25f, 6, 7, 3.75f};
    pool_case("avg asymmetric padding include pad", &d, x3, eai, 3, 3);

    /* global pooling and maxout */
    static const float xg[8] = {1, 2, 3, 4, -1, -5, 0, 2};
    float yg[2];
    CHECK_OK(ck_global_pool2d(CK_POOL_AVG, CK_LAYOUT_NCHW, 1, 2, 2, 2, xg, yg));
    CHECK(yg[0] == 2.5f && yg[1] == -1.f, "global avg = %g %g", (double)yg[0], (double)yg[1]);
    CHECK_OK(ck_global_pool2d(CK_POOL_MAX, CK_LAYOUT_NCHW, 1, 2, 2, 2, xg, yg));
    CHECK(yg[0] == 4.f && yg[1] == 2.f, "global max = %g %g", (double)yg[0], (double)yg[1]);

    static const float xm[8] = {1, 5, 3, 2, -1, -2, -3, 0}; /* NCHW 1x4x1x2 */
    static const float em[4] = {3, 5, -1, 0};
    float ym[8];
    CHECK_OK(ck_maxout(CK_LAYOUT_NCHW, 1, 4, 1, 2, 2, xm, ym));
    expect_array("maxout group 2", ym, em, 4, 0);
    CHECK_OK(ck_maxout(CK_LAYOUT_NCHW, 1, 4, 1, 2, 4, xm, ym));
    CHECK(ym[0] == 3.f && ym[1] == 5.f, "maxout group 4 = %g %g", (double)ym[0], (double)ym[1]);
    CHECK_OK(ck_maxout(CK_LAYOUT_NCHW, 1, 4, 1, 2, 1, xm, ym));
    expect_array("maxout group 1 (identity)", ym, xm, 8, 0);
}

/* ---- dense, activations, normalisation, element-wise --------------------- */

static void test_dense(void) {
    static const float w[6] = {1, 2, 3, -1, 0, 1};
    static const float b[2] = {0.5f, -10};
    static const float x[6] = {1, 1, 1, 2, 0, -1};
    static const float e_plain[4] = {6, 0, -1, -3};
    static const float e_bias[4] = {6.5f, -10, -0.5f, -13};
    static const float e_relu[4] = {6.5f, 0, 0, 0};
    const ck_algorithm algos[3] = {CK_ALGO_REFERENCE, CK_ALGO_AUTO, CK_ALGO_IM2COL};
    for (int a = 0; a < 3; a++) {
        for (int variant = 0; variant < 3; variant++) {
            ck_dense_desc d = {2, 3, 2, variant > 0, {variant == 2 ? CK_ACT_RELU : CK_ACT_NONE, 0.f}};
            ck_plan_options o = {algos[a], 1, 0, 0};
            ck_plan *p = NULL;
            ck_status st = ck_dense_plan_create(&d, w, b, &o, &p);
            if (st == CK_ERR_UNSUPPORTED_ALGORITHM && algos[a] == CK_ALGO_IM2COL) continue; /* built without BLAS */
            CHECK(st == CK_OK, "dense [%s] plan: %s", ck_algorithm_name(algos[a]), ck_last_error_message());
            if (st != CK_OK) continue;
            float y[4];
            CHECK_OK(ck_dense_execute(p, x, y));
            char label[64];
            snprintf(label, sizeof label, "dense [%s] variant %d", ck_algorithm_name(algos[a]), variant);
            expect_array(label, y, variant == 0 ? e_plain : variant == 1 ? e_bias : e_relu, 4, 0);
            ck_plan_destroy(p);
        }
    }
}

static void test_activations(void) {
    static const float x[7] = {-3, -1, -0.25f, 0, 0.5f, 2, 7};
    static const float relu[7] = {0, 0, 0, 0, 0.5f, 2, 7};
    static const float relu6[7] = {0, 0, 0, 0, 0.5f, 2, 6};
    static const float leaky[7] = {-0.3f, -0.1f, -0.025f, 0, 0.5f, 2, 7};
    float y[7], e[7];
    ck_activation a = {CK_ACT_NONE, 0};
    CHECK_OK(ck_activation_forward(a, 7, x, y));
    expect_array("identity", y, x, 7, 0);
    a.kind = CK_ACT_RELU;
    CHECK_OK(ck_activation_forward(a, 7, x, y));
    expect_array("relu", y, relu, 7, 0);
    a.kind = CK_ACT_RELU6;
    CHECK_OK(ck_activation_forward(a, 7, x, y));
    expect_array("relu6", y, relu6, 7, 0);
    a.kind = CK_ACT_LEAKY_RELU;
    a.alpha = 0.1f;
    CHECK_OK(ck_activation_forward(a, 7, x, y));
    expect_array("leaky relu 0.1", y, leaky, 7, 1e-6);
    a.alpha = 0;
    a.kind = CK_ACT_SIGMOID;
    CHECK_OK(ck_activation_forward(a, 7, x, y));
    for (int i = 0; i < 7; i++) e[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
    expect_array("sigmoid", y, e, 7, 1e-6);
    CHECK(y[3] == 0.5f, "sigmoid(0) = %g", (double)y[3]);
    a.kind = CK_ACT_TANH;
    CHECK_OK(ck_activation_forward(a, 7, x, y));
    for (int i = 0; i < 7; i++) e[i] = (float)tanh((double)x[i]);
    expect_array("tanh", y, e, 7, 1e-6);
    /* in place */
    float z[7];
    memcpy(z, x, sizeof z);
    a.kind = CK_ACT_RELU;
    CHECK_OK(ck_activation_forward(a, 7, z, z));
    expect_array("relu in place", z, relu, 7, 0);
    CHECK_OK(ck_activation_forward(a, 0, z, z)); /* empty is fine */
}

static void test_softmax(void) {
    /* NCHW 1x3x1x3: positions (1,2,3), (1000,1000,1000), (1000,0,-1000) */
    static const float x[9] = {1, 1000, 1000, 2, 1000, 0, 3, 1000, -1000};
    float y[9];
    CHECK_OK(ck_softmax(0, CK_LAYOUT_NCHW, 1, 3, 1, 3, x, y));
    static const float e[9] = {0.0900305732f, 1.f / 3, 1, 0.244728471f, 1.f / 3, 0, 0.665240956f, 1.f / 3, 0};
    expect_array("softmax", y, e, 9, 1e-6);
    for (int pos = 0; pos < 3; pos++) {
        double s = 0;
        for (int c = 0; c < 3; c++) {
            CHECK(isfinite(y[c * 3 + pos]), "softmax not finite at c%d pos%d", c, pos);
            s += y[c * 3 + pos];
        }
        CHECK(fabs(s - 1.0) < 1e-6, "softmax position %d sums to %.9g", pos, s);
    }
    CHECK_OK(ck_softmax(1, CK_LAYOUT_NCHW, 1, 3, 1, 3, x, y));
    const float l3 = -1.09861229f;
    static const float el[9] = {-2.40760596f, 0, 0, -1.40760596f, 0, -1000, -0.407605964f, 0, -2000};
    float el2[9];
    memcpy(el2, el, sizeof el2);
    el2[1] = el2[4] = el2[7] = l3;
    expect_array("log softmax", y, el2, 9, 1e-6);
    /* NHWC gives the same per-position result */
    static const float xh[9] = {1, 2, 3, 1000, 1000, 1000, 1000, 0, -1000};
    CHECK_OK(ck_softmax(0, CK_LAYOUT_NHWC, 1, 3, 1, 3, xh, y));
    float eh[9];
    for (int pos = 0; pos < 3; pos++)
        for (int c = 0; c < 3; c++) eh[pos * 3 + c] = e[c * 3 + pos];
    expect_array("softmax NHWC", y, eh, 9, 1e-6);
}

static void test_batch_norm(void) {
    /* NCHW 1x2x1x2; y = gamma (x - mean) / sqrt(var + eps) + beta */
    static const float x[4] = {1, 3, 0, 4};
    static const float gamma[2] = {2, 0.5f}, beta[2] = {1, -1}, mean[2] = {2, 1}, var[2] = {4, 0.25f};
    float y[4];
    ck_activation none = {CK_ACT_NONE, 0}, relu = {CK_ACT_RELU, 0};
    CHECK_OK(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 2, 1, 2, x, gamma, beta, mean, var, 1e-5f, none, y));
    static const float e[4] = {0, 2, -2, 2};
    for (int i = 0; i < 4; i++) CHECK(fabs(y[i] - e[i]) < 1e-4, "batch norm [%d] = %.9g, expected %g", i, (double)y[i], (double)e[i]);
    CHECK_OK(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 2, 1, 2, x, gamma, beta, mean, var, 1e-5f, relu, y));
    static const float er[4] = {0, 2, 0, 2};
    for (int i = 0; i < 4; i++) CHECK(fabs(y[i] - er[i]) < 1e-4, "batch norm relu [%d] = %.9g", i, (double)y[i]);
    /* epsilon matters when var = 0: gamma / sqrt(eps) */
    static const float z[2] = {0, 0};
    static const float one[1] = {1}, xo[1] = {1}, b0[1] = {0}, m0[1] = {0};
    CHECK_OK(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 1, 1, 1, xo, one, b0, m0, z, 0.25f, none, y));
    CHECK(fabs(y[0] - 2.0) < 1e-6, "batch norm var 0 eps 0.25: %g, expected 2", (double)y[0]);
}

static void test_lrn(void) {
    /* AlexNet: size 5, alpha 1e-4, beta 0.75, k 2 on channels 1..5 (1x5x1x1).
     * Centre channel: 3 / (2 + 1e-4/5 * (1+4+9+16+25))^0.75 = 3 / 2.0011^0.75;
     * channel 0 sees channels 0..2: 1 / (2 + 2e-5 * 14)^0.75. */
    static const float x[5] = {1, 2, 3, 4, 5};
    static const float e[5] = {0.594541132f, 1.18893961f, 1.78307520f, 2.37745143f, 2.97190339f};
    float y[5];
    CHECK_OK(ck_lrn(CK_LAYOUT_NCHW, 1, 5, 1, 1, 5, 1e-4f, 0.75f, 2.f, x, y));
    expect_array("LRN AlexNet", y, e, 5, 1e-6);
    /* size 1, alpha = size, beta 1, k 0: x / x^2 = 1/x */
    static const float e1[5] = {1, 0.5f, 1.f / 3, 0.25f, 0.2f};
    CHECK_OK(ck_lrn(CK_LAYOUT_NCHW, 1, 5, 1, 1, 1, 1.f, 1.f, 0.f, x, y));
    expect_array("LRN size 1", y, e1, 5, 1e-6);
}

static void test_add_concat(void) {
    static const float a[3] = {1, -2, 3}, b[3] = {-4, 1, 0.5f};
    static const float e_none[3] = {-3, -1, 3.5f}, e_relu[3] = {0, 0, 3.5f};
    float y[3];
    ck_activation none = {CK_ACT_NONE, 0}, relu = {CK_ACT_RELU, 0};
    CHECK_OK(ck_add(3, a, b, none, y));
    expect_array("add", y, e_none, 3, 0);
    CHECK_OK(ck_add(3, a, b, relu, y));
    expect_array("add + relu", y, e_relu, 3, 0);
    float t[3];
    memcpy(t, a, sizeof t);
    CHECK_OK(ck_add(3, t, b, relu, t));
    expect_array("add + relu in place", t, e_relu, 3, 0);

    /* concat a 1-channel and a 2-channel 1x2 tensor */
    static const float c0[2] = {1, 2}, c1[4] = {3, 4, 5, 6};
    const float *in[2] = {c0, c1};
    const int64_t ch[2] = {1, 2};
    float out[6];
    CHECK_OK(ck_concat_channels(CK_LAYOUT_NCHW, 1, 1, 2, 2, in, ch, out));
    static const float e_nchw[6] = {1, 2, 3, 4, 5, 6};
    expect_array("concat NCHW", out, e_nchw, 6, 0);
    static const float c1h[4] = {3, 5, 4, 6}; /* NHWC of c1 */
    const float *inh[2] = {c0, c1h};
    CHECK_OK(ck_concat_channels(CK_LAYOUT_NHWC, 1, 1, 2, 2, inh, ch, out));
    static const float e_nhwc[6] = {1, 3, 5, 2, 4, 6};
    expect_array("concat NHWC", out, e_nhwc, 6, 0);
    /* batch 2: each image's channels stay together */
    static const float d0[4] = {1, 2, 10, 20}, d1[4] = {3, 4, 30, 40}; /* N=2, C=1, 1x2 */
    const float *ind[2] = {d0, d1};
    const int64_t ch1[2] = {1, 1};
    float o2[8];
    CHECK_OK(ck_concat_channels(CK_LAYOUT_NCHW, 2, 1, 2, 2, ind, ch1, o2));
    static const float e2[8] = {1, 2, 3, 4, 10, 20, 30, 40};
    expect_array("concat batch 2", o2, e2, 8, 0);
}

static void test_info(void) {
    CHECK(strcmp(ck_version(), "0.1.0") >= 0 && strlen(ck_version()) >= 5, "version %s", ck_version());
    ck_cpu_info info;
    CHECK_OK(ck_get_cpu_info(&info));
    CHECK(info.logical_cores >= 1, "logical cores %d", info.logical_cores);
    CHECK(ck_max_threads() >= 1, "max threads %d", ck_max_threads());
    const char *cap = getenv("CONVKIT_MAX_ISA");
    if (cap && strcmp(cap, "scalar") == 0)
        CHECK(info.dispatched_isa == CK_ISA_SCALAR, "CONVKIT_MAX_ISA=scalar but dispatched %s", ck_isa_name(info.dispatched_isa));
    for (int a = 0; a < CK_ALGO_COUNT; a++) {
        ck_algorithm back;
        CHECK_OK(ck_algorithm_from_name(ck_algorithm_name((ck_algorithm)a), &back));
        CHECK(back == (ck_algorithm)a, "algorithm name round trip %d", a);
    }
}

int main(void) {
    test_info();
    test_course_image();
    test_small_examples();
    test_edge_filters();
    test_multichannel_and_groups();
    test_shapes();
    test_deconv_hand();
    test_deconv_adjoint();
    test_pooling();
    test_dense();
    test_activations();
    test_softmax();
    test_batch_norm();
    test_lrn();
    test_add_concat();
    return ck_test_finish("test_reference");
}
