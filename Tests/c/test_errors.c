/* Error paths: every invalid input yields its own status and a non-empty
 * message naming the offending values; out-values are left alone on failure;
 * nothing crashes (run under ASan/UBSan by Scripts/test.sh). */
#include "testutil.h"
#include <limits.h>

/* Check the status, that the message is non-empty, and that it contains each
 * of the (up to 3) given substrings. */
static void expect_err_at(int line, const char *expr, ck_status got, ck_status want, const char *s1, const char *s2,
                          const char *s3) {
    const char *msg = ck_last_error_message();
    ck_test_checks++;
    int ok = got == want && msg && msg[0];
    const char *subs[3] = {s1, s2, s3};
    for (int i = 0; i < 3; i++)
        if (ok && subs[i] && !strstr(msg, subs[i])) ok = 0;
    if (!ok) {
        ck_test_failures++;
        fprintf(stderr, "FAIL line %d: %s returned %d (%s) with message \"%s\"; expected %d (%s) naming [%s] [%s] [%s]\n",
                line, expr, (int)got, ck_status_string(got), msg ? msg : "(null)", (int)want, ck_status_string(want),
                s1 ? s1 : "", s2 ? s2 : "", s3 ? s3 : "");
    }
}
#define EXPECT_ERR(expr, want) expect_err_at(__LINE__, #expr, (expr), (want), NULL, NULL, NULL)
#define EXPECT_ERR1(expr, want, a) expect_err_at(__LINE__, #expr, (expr), (want), (a), NULL, NULL)
#define EXPECT_ERR2(expr, want, a, b) expect_err_at(__LINE__, #expr, (expr), (want), (a), (b), NULL)
#define EXPECT_ERR3(expr, want, a, b, c) expect_err_at(__LINE__, #expr, (expr), (want), (a), (b), (c))

static float W[4096], X[4096], Y[4096], B[64];

static ck_conv2d_desc good_conv(void) {
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 4, 8, 8, 4, 3, 3);
    return d;
}

/* Create must fail with `want`; the plan out-value must come back NULL. */
static ck_status conv_create(const ck_conv2d_desc *d, const ck_plan_options *o) {
    ck_plan *p = (ck_plan *)(uintptr_t)1; /* poison: must be overwritten with NULL or a plan */
    ck_status st = ck_conv2d_plan_create(d, W, B, o, &p);
    if (st == CK_OK) ck_plan_destroy(p);
    else CHECK(p == NULL, "failed create left the plan out-value at %p", (void *)p);
    return st;
}

static void test_conv_descriptors(void) {
    ck_conv2d_desc d;
    ck_plan *p = NULL;

    /* NULL pointers */
    EXPECT_ERR1(ck_conv2d_plan_create(NULL, W, B, NULL, &p), CK_ERR_NULL_POINTER, "desc");
    d = good_conv();
    EXPECT_ERR1(ck_conv2d_plan_create(&d, NULL, B, NULL, &p), CK_ERR_NULL_POINTER, "weights");
    d.has_bias = 1;
    EXPECT_ERR1(ck_conv2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_NULL_POINTER, "bias");
    EXPECT_ERR1(ck_conv2d_plan_create(&d, W, B, NULL, NULL), CK_ERR_NULL_POINTER, "plan");
    d.has_bias = 0;
    CHECK_OK(ck_conv2d_plan_create(&d, W, NULL, NULL, &p)); /* bias ignored without has_bias */
    ck_plan_destroy(p);
    p = NULL;
    int64_t P = -7, Q = -7;
    EXPECT_ERR(ck_conv2d_output_shape(NULL, &P, &Q), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_conv2d_output_shape(&d, NULL, &Q), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_conv2d_flops(&d, NULL), CK_ERR_NULL_POINTER);

    /* zero / negative dimensions */
    d = good_conv(); d.n = 0;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_SHAPE, "N=0");
    d = good_conv(); d.c = -3;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_SHAPE, "C=-3");
    d = good_conv(); d.h = 0;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_SHAPE, "H=0");
    d = good_conv(); d.w = -1;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_SHAPE, "W=-1");
    d = good_conv(); d.k = 0;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_SHAPE, "K=0");
    d = good_conv(); d.r = 0;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_SHAPE, "0x3");
    d = good_conv(); d.s = -2;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_SHAPE, "3x-2");
    /* out-values untouched on failure */
    d = good_conv(); d.n = 0;
    P = Q = -7;
    EXPECT_ERR(ck_conv2d_output_shape(&d, &P, &Q), CK_ERR_INVALID_SHAPE);
    CHECK(P == -7 && Q == -7, "output_shape wrote %lld %lld on failure", (long long)P, (long long)Q);
    double flops = -1;
    EXPECT_ERR(ck_conv2d_flops(&d, &flops), CK_ERR_INVALID_SHAPE);
    CHECK(flops == -1, "flops written on failure");

    /* stride, padding, dilation */
    d = good_conv(); d.stride_h = 0;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_STRIDE, "0x1");
    d = good_conv(); d.stride_w = -1;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_STRIDE, "1x-1");
    d = good_conv(); d.pad_left = -1;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_PADDING, "left -1");
    d = good_conv(); d.pad_bottom = -5;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_PADDING, "bottom -5");
    d = good_conv(); d.dilation_h = 0;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_DILATION, "0x1");
    d = good_conv(); d.dilation_w = -2;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_DILATION, "1x-2");

    /* groups */
    d = good_conv(); d.groups = 0;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_GROUPS, "groups=0");
    d = good_conv(); d.c = 3; d.groups = 2; d.k = 4;
    EXPECT_ERR2(conv_create(&d, NULL), CK_ERR_INVALID_GROUPS, "C=3", "groups=2");
    d = good_conv(); d.c = 4; d.groups = 2; d.k = 3;
    EXPECT_ERR2(conv_create(&d, NULL), CK_ERR_INVALID_GROUPS, "K=3", "groups=2");

    /* empty output: kernel larger than the padded input */
    d = ck_conv2d_desc_init(1, 1, 5, 5, 1, 7, 3);
    EXPECT_ERR2(conv_create(&d, NULL), CK_ERR_EMPTY_OUTPUT, "height", "5");
    d = ck_conv2d_desc_init(1, 1, 5, 5, 1, 3, 4);
    d.dilation_w = 2; /* dilated extent 7 > 5 */
    EXPECT_ERR2(conv_create(&d, NULL), CK_ERR_EMPTY_OUTPUT, "width", "7");
    d = ck_conv2d_desc_init(1, 1, 5, 5, 1, 8, 8);
    d.pad_top = d.pad_bottom = 1; /* 5 + 2 < 8 */
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_EMPTY_OUTPUT, "height");

    /* size overflow */
    const int64_t big = (int64_t)1 << 20;
    d = ck_conv2d_desc_init(big, big, big, big, 1, 1, 1);
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_SIZE_OVERFLOW, "1048576");
    EXPECT_ERR(ck_conv2d_output_shape(&d, &P, &Q), CK_ERR_SIZE_OVERFLOW);
    d = ck_conv2d_desc_init(1, 1, INT64_MAX, 4, 1, 1, 1);
    d.pad_top = INT64_MAX;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_SIZE_OVERFLOW, "overflow");
    d = ck_conv2d_desc_init(1, 1, 4, 4, 1, INT64_MAX, 1);
    d.dilation_h = 4;
    EXPECT_ERR(conv_create(&d, NULL), CK_ERR_SIZE_OVERFLOW);
    d = ck_conv2d_desc_init(1, 1, 1, 1, big * 1024, 1, 1); /* output 2^30 channels fine... */
    d.n = big * 4;                                           /* ... times 2^22 images is not */
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_SIZE_OVERFLOW, "output");

    /* unknown enum values */
    d = good_conv(); d.layout = (ck_layout)7;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_LAYOUT, "7");
    d = good_conv(); d.layout = (ck_layout)-1;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_LAYOUT, "-1");
    d = good_conv(); d.activation.kind = (ck_activation_kind)99;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_ARGUMENT, "99");
    d = good_conv(); d.activation.kind = CK_ACT_LEAKY_RELU; d.activation.alpha = NAN;
    EXPECT_ERR1(conv_create(&d, NULL), CK_ERR_INVALID_ARGUMENT, "alpha");
    d = good_conv();
    ck_plan_options o = {(ck_algorithm)42, 0, 0, 0};
    EXPECT_ERR1(conv_create(&d, &o), CK_ERR_INVALID_ARGUMENT, "42");
    o.algorithm = (ck_algorithm)-1;
    EXPECT_ERR1(conv_create(&d, &o), CK_ERR_INVALID_ARGUMENT, "-1");
    o.algorithm = CK_ALGO_AUTO;
    o.threads = -2;
    EXPECT_ERR1(conv_create(&d, &o), CK_ERR_INVALID_ARGUMENT, "-2");
    o.threads = 0;
    o.flags = 0x80;
    EXPECT_ERR1(conv_create(&d, &o), CK_ERR_INVALID_ARGUMENT, "0x80");
    EXPECT_ERR(ck_conv2d_algorithm_applicable(&d, (ck_algorithm)42, NULL), CK_ERR_INVALID_ARGUMENT);

    /* explicitly requested algorithms that cannot serve the shape: never a
     * silent fallback */
    d = ck_conv2d_desc_init(1, 4, 16, 16, 8, 5, 5);
    d.stride_h = d.stride_w = 2; /* Winograd F(4x4,3x3) needs a 3x3 stride-1 kernel */
    o.flags = 0;
    o.algorithm = CK_ALGO_WINOGRAD_F4;
    EXPECT_ERR(conv_create(&d, &o), CK_ERR_UNSUPPORTED_ALGORITHM);
    EXPECT_ERR(ck_conv2d_algorithm_applicable(&d, CK_ALGO_WINOGRAD_F4, NULL), CK_ERR_UNSUPPORTED_ALGORITHM);
    o.algorithm = CK_ALGO_WINOGRAD_F2;
    EXPECT_ERR(conv_create(&d, &o), CK_ERR_UNSUPPORTED_ALGORITHM);
    o.algorithm = CK_ALGO_DEPTHWISE; /* groups = 1, C = 4: not depthwise */
    EXPECT_ERR(conv_create(&d, &o), CK_ERR_UNSUPPORTED_ALGORITHM);
    d = ck_conv2d_desc_init(1, 4, 16, 16, 8, 3, 3);
    o.algorithm = CK_ALGO_WINOGRAD_F4;
    o.flags = CK_PLAN_NO_WINOGRAD; /* Winograd requested but forbidden */
    EXPECT_ERR1(conv_create(&d, &o), CK_ERR_UNSUPPORTED_ALGORITHM, "winograd");
    o.flags = 0;
    o.algorithm = CK_ALGO_AUTO;
    CHECK_OK(conv_create(&d, &o)); /* auto always finds something */
    o.algorithm = CK_ALGO_REFERENCE;
    CHECK_OK(conv_create(&d, &o));
}

static void test_execute_errors(void) {
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 2, 6, 6, 2, 3, 3);
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
    ck_plan *conv = NULL, *pool = NULL, *dense = NULL, *deconv = NULL;
    CHECK_OK(ck_conv2d_plan_create(&d, W, NULL, NULL, &conv));
    if (!conv) return;

    EXPECT_ERR1(ck_conv2d_execute(NULL, X, Y, NULL, NULL, 0), CK_ERR_NULL_POINTER, "plan");
    EXPECT_ERR1(ck_conv2d_execute(conv, NULL, Y, NULL, NULL, 0), CK_ERR_NULL_POINTER, "x");
    EXPECT_ERR1(ck_conv2d_execute(conv, X, NULL, NULL, NULL, 0), CK_ERR_NULL_POINTER, "y");
    CHECK_OK(ck_conv2d_execute(conv, X, Y, NULL, NULL, 0));
    CHECK(ck_last_error_message()[0] == 0, "message not cleared by a successful call: %s", ck_last_error_message());

    /* plan queries */
    size_t ws = 0;
    EXPECT_ERR(ck_plan_workspace_size(NULL, &ws), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_plan_workspace_size(conv, NULL), CK_ERR_NULL_POINTER);
    ck_algorithm a;
    EXPECT_ERR(ck_plan_algorithm(NULL, &a), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_plan_algorithm(conv, NULL), CK_ERR_NULL_POINTER);
    int32_t th;
    EXPECT_ERR(ck_plan_threads(NULL, &th), CK_ERR_NULL_POINTER);
    CHECK(ck_plan_impl_name(NULL) != NULL, "impl name of NULL");
    ck_plan_destroy(NULL); /* no-op */

    /* too small a caller workspace (for any algorithm that needs one) */
    ck_conv2d_desc big = ck_conv2d_desc_init(1, 8, 16, 16, 8, 3, 3);
    big.pad_top = big.pad_left = big.pad_bottom = big.pad_right = 1;
    for (int algo = CK_ALGO_REFERENCE; algo < CK_ALGO_COUNT; algo++) {
        if (ck_conv2d_algorithm_applicable(&big, (ck_algorithm)algo, NULL) != CK_OK) continue;
        ck_plan_options o = {(ck_algorithm)algo, 1, 0, 0};
        ck_plan *p = NULL;
        if (ck_conv2d_plan_create(&big, W, NULL, &o, &p) != CK_OK) continue;
        CHECK_OK(ck_plan_workspace_size(p, &ws));
        if (ws > 0) {
            void *buf = malloc(ws);
            EXPECT_ERR1(ck_conv2d_execute(p, X, Y, NULL, buf, ws - 1), CK_ERR_INSUFFICIENT_WORKSPACE, "workspace");
            CHECK_OK(ck_conv2d_execute(p, X, Y, NULL, buf, ws));
            free(buf);
        }
        ck_plan_destroy(p);
    }

    /* wrong plan kind passed to another execute function */
    ck_pool2d_desc pd;
    memset(&pd, 0, sizeof pd);
    pd.kind = CK_POOL_MAX; pd.n = 1; pd.c = 2; pd.h = 6; pd.w = 6; pd.r = pd.s = 2;
    pd.stride_h = pd.stride_w = 2; pd.dilation_h = pd.dilation_w = 1;
    CHECK_OK(ck_pool2d_plan_create(&pd, NULL, &pool));
    ck_dense_desc dd = {1, 4, 3, 0, {CK_ACT_NONE, 0}};
    CHECK_OK(ck_dense_plan_create(&dd, W, NULL, NULL, &dense));
    ck_conv_transpose2d_desc td;
    memset(&td, 0, sizeof td);
    td.n = 1; td.c = 2; td.h = 3; td.w = 3; td.k = 2; td.r = td.s = 2;
    td.stride_h = td.stride_w = td.dilation_h = td.dilation_w = td.groups = 1;
    CHECK_OK(ck_conv_transpose2d_plan_create(&td, W, NULL, NULL, &deconv));
    EXPECT_ERR1(ck_conv2d_execute(pool, X, Y, NULL, NULL, 0), CK_ERR_INVALID_ARGUMENT, "conv2d");
    EXPECT_ERR(ck_conv2d_execute(dense, X, Y, NULL, NULL, 0), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ck_conv2d_execute(deconv, X, Y, NULL, NULL, 0), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR1(ck_pool2d_execute(conv, X, Y), CK_ERR_INVALID_ARGUMENT, "pool");
    EXPECT_ERR(ck_pool2d_execute(dense, X, Y), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR1(ck_dense_execute(conv, X, Y), CK_ERR_INVALID_ARGUMENT, "dense");
    EXPECT_ERR(ck_dense_execute(pool, X, Y), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR1(ck_conv_transpose2d_execute(conv, X, Y, NULL, 0), CK_ERR_INVALID_ARGUMENT, "conv_transpose2d");
    EXPECT_ERR(ck_conv_transpose2d_execute(pool, X, Y, NULL, 0), CK_ERR_INVALID_ARGUMENT);
    /* NULL plan / buffers for the other kinds */
    EXPECT_ERR(ck_pool2d_execute(NULL, X, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_pool2d_execute(pool, NULL, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_pool2d_execute(pool, X, NULL), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_dense_execute(NULL, X, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_dense_execute(dense, NULL, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_dense_execute(dense, X, NULL), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_conv_transpose2d_execute(NULL, X, Y, NULL, 0), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_conv_transpose2d_execute(deconv, NULL, Y, NULL, 0), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_conv_transpose2d_execute(deconv, X, NULL, NULL, 0), CK_ERR_NULL_POINTER);
    ck_plan_destroy(conv);
    ck_plan_destroy(pool);
    ck_plan_destroy(dense);
    ck_plan_destroy(deconv);
}

static ck_conv_transpose2d_desc good_deconv(void) {
    ck_conv_transpose2d_desc d;
    memset(&d, 0, sizeof d);
    d.n = 1; d.c = 4; d.h = 5; d.w = 5; d.k = 4; d.r = d.s = 3;
    d.stride_h = d.stride_w = 2;
    d.dilation_h = d.dilation_w = d.groups = 1;
    return d;
}

static void test_deconv_errors(void) {
    ck_plan *p = NULL;
    ck_conv_transpose2d_desc d = good_deconv();
    CHECK_OK(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p));
    ck_plan_destroy(p);
    EXPECT_ERR(ck_conv_transpose2d_plan_create(NULL, W, NULL, NULL, &p), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, NULL, NULL, NULL, &p), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, NULL), CK_ERR_NULL_POINTER);
    d.has_bias = 1;
    EXPECT_ERR1(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_NULL_POINTER, "bias");
    d = good_deconv(); d.h = 0;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_SHAPE);
    d = good_deconv(); d.k = -1;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_SHAPE);
    d = good_deconv(); d.stride_w = 0;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_STRIDE);
    d = good_deconv(); d.dilation_h = 0;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_DILATION);
    d = good_deconv(); d.pad_top = -1;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_PADDING);
    d = good_deconv(); d.output_padding_h = 2; /* >= stride 2 and >= dilation 1 */
    EXPECT_ERR1(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_PADDING, "2x0");
    d = good_deconv(); d.groups = 3;
    EXPECT_ERR1(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_GROUPS, "groups=3");
    d = good_deconv(); d.pad_top = d.pad_bottom = 10; /* (5-1)*2 - 20 + 2 + 1 < 1 */
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_EMPTY_OUTPUT);
    d = good_deconv(); d.h = (int64_t)1 << 40; d.stride_h = (int64_t)1 << 30;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_SIZE_OVERFLOW);
    d = good_deconv(); d.layout = (ck_layout)5;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_LAYOUT);
    d = good_deconv(); d.activation.kind = (ck_activation_kind)6;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_ARGUMENT);
    d = good_deconv();
    ck_plan_options o = {CK_ALGO_WINOGRAD_F6, 0, 0, 0};
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, &o, &p), CK_ERR_UNSUPPORTED_ALGORITHM);
    o.algorithm = (ck_algorithm)100;
    EXPECT_ERR(ck_conv_transpose2d_plan_create(&d, W, NULL, &o, &p), CK_ERR_INVALID_ARGUMENT);
    int64_t P = -7, Q = -7;
    d.k = 0;
    EXPECT_ERR(ck_conv_transpose2d_output_shape(&d, &P, &Q), CK_ERR_INVALID_SHAPE);
    CHECK(P == -7 && Q == -7, "deconv output_shape wrote on failure");
}

static ck_pool2d_desc good_pool(void) {
    ck_pool2d_desc d;
    memset(&d, 0, sizeof d);
    d.kind = CK_POOL_AVG; d.n = 1; d.c = 3; d.h = 8; d.w = 8; d.r = d.s = 2;
    d.stride_h = d.stride_w = 2; d.dilation_h = d.dilation_w = 1;
    return d;
}

static void test_pool_errors(void) {
    ck_plan *p = NULL;
    ck_pool2d_desc d = good_pool();
    CHECK_OK(ck_pool2d_plan_create(&d, NULL, &p));
    ck_plan_destroy(p);
    EXPECT_ERR(ck_pool2d_plan_create(NULL, NULL, &p), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_pool2d_plan_create(&d, NULL, NULL), CK_ERR_NULL_POINTER);
    d = good_pool(); d.kind = (ck_pool_kind)3;
    EXPECT_ERR1(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_ARGUMENT, "3");
    d = good_pool(); d.c = 0;
    EXPECT_ERR1(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_SHAPE, "C=0");
    d = good_pool(); d.r = 0;
    EXPECT_ERR(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_SHAPE);
    d = good_pool(); d.stride_h = 0;
    EXPECT_ERR(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_STRIDE);
    d = good_pool(); d.dilation_w = 0;
    EXPECT_ERR(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_DILATION);
    d = good_pool(); d.pad_left = -1;
    EXPECT_ERR(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_PADDING);
    /* padding must be smaller than the window: 1 is fine for 2x2, 2 is not */
    d = good_pool(); d.pad_top = 1;
    CHECK_OK(ck_pool2d_plan_create(&d, NULL, &p));
    ck_plan_destroy(p);
    d.pad_top = 2;
    EXPECT_ERR2(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_PADDING, "top 2", "2x2");
    d = good_pool(); d.pad_right = 3;
    EXPECT_ERR1(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_PADDING, "right 3");
    d = good_pool(); d.r = 9; /* window larger than the input */
    EXPECT_ERR(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_EMPTY_OUTPUT);
    d = good_pool(); d.layout = (ck_layout)9;
    EXPECT_ERR1(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_INVALID_LAYOUT, "9");
    d = good_pool(); d.n = d.c = d.h = d.w = (int64_t)1 << 20;
    EXPECT_ERR(ck_pool2d_plan_create(&d, NULL, &p), CK_ERR_SIZE_OVERFLOW);
    d = good_pool();
    ck_plan_options o = {CK_ALGO_IM2COL, 0, 0, 0};
    EXPECT_ERR1(ck_pool2d_plan_create(&d, &o, &p), CK_ERR_UNSUPPORTED_ALGORITHM, "im2col");
    o.algorithm = (ck_algorithm)8;
    EXPECT_ERR(ck_pool2d_plan_create(&d, &o, &p), CK_ERR_INVALID_ARGUMENT);
    o.algorithm = CK_ALGO_AUTO;
    o.threads = -1;
    EXPECT_ERR(ck_pool2d_plan_create(&d, &o, &p), CK_ERR_INVALID_ARGUMENT);

    /* global pooling and maxout */
    EXPECT_ERR(ck_global_pool2d((ck_pool_kind)2, CK_LAYOUT_NCHW, 1, 1, 2, 2, X, Y), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ck_global_pool2d(CK_POOL_MAX, (ck_layout)3, 1, 1, 2, 2, X, Y), CK_ERR_INVALID_LAYOUT);
    EXPECT_ERR(ck_global_pool2d(CK_POOL_MAX, CK_LAYOUT_NCHW, 1, 0, 2, 2, X, Y), CK_ERR_INVALID_SHAPE);
    EXPECT_ERR(ck_global_pool2d(CK_POOL_MAX, CK_LAYOUT_NCHW, 1, 1, 2, 2, NULL, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_global_pool2d(CK_POOL_MAX, CK_LAYOUT_NCHW, 1, 1, 2, 2, X, NULL), CK_ERR_NULL_POINTER);
    EXPECT_ERR2(ck_maxout(CK_LAYOUT_NCHW, 1, 6, 2, 2, 4, X, Y), CK_ERR_INVALID_GROUPS, "C=6", "4");
    EXPECT_ERR(ck_maxout(CK_LAYOUT_NCHW, 1, 6, 2, 2, 0, X, Y), CK_ERR_INVALID_GROUPS);
    EXPECT_ERR(ck_maxout(CK_LAYOUT_NCHW, 1, 6, 2, 2, 2, NULL, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_maxout(CK_LAYOUT_NCHW8C, 1, 6, 2, 2, 2, X, Y), CK_ERR_INVALID_LAYOUT);
    EXPECT_ERR(ck_maxout(CK_LAYOUT_NCHW, 1, 6, -2, 2, 2, X, Y), CK_ERR_INVALID_SHAPE);
}

static void test_dense_errors(void) {
    ck_plan *p = NULL;
    ck_dense_desc d = {2, 4, 3, 0, {CK_ACT_NONE, 0}};
    EXPECT_ERR(ck_dense_plan_create(NULL, W, NULL, NULL, &p), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_dense_plan_create(&d, NULL, NULL, NULL, &p), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_dense_plan_create(&d, W, NULL, NULL, NULL), CK_ERR_NULL_POINTER);
    d.has_bias = 1;
    EXPECT_ERR1(ck_dense_plan_create(&d, W, NULL, NULL, &p), CK_ERR_NULL_POINTER, "bias");
    d.has_bias = 0;
    d.in_features = 0;
    EXPECT_ERR1(ck_dense_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_SHAPE, "in=0");
    d.in_features = 4; d.n = -1;
    EXPECT_ERR1(ck_dense_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_SHAPE, "n=-1");
    d.n = 2; d.in_features = d.out_features = (int64_t)1 << 30;
    EXPECT_ERR(ck_dense_plan_create(&d, W, NULL, NULL, &p), CK_ERR_SIZE_OVERFLOW);
    d.in_features = 4; d.out_features = 3;
    d.activation.kind = (ck_activation_kind)-1;
    EXPECT_ERR(ck_dense_plan_create(&d, W, NULL, NULL, &p), CK_ERR_INVALID_ARGUMENT);
    d.activation.kind = CK_ACT_NONE;
    ck_plan_options o = {CK_ALGO_DIRECT, 0, 0, 0};
    EXPECT_ERR1(ck_dense_plan_create(&d, W, NULL, &o, &p), CK_ERR_UNSUPPORTED_ALGORITHM, "direct");
}

static void test_elementwise_errors(void) {
    ck_activation none = {CK_ACT_NONE, 0}, bad = {(ck_activation_kind)17, 0};
    const float g[4] = {1, 1, 1, 1}, z[4] = {0, 0, 0, 0}, neg[4] = {1, -1, 1, 1};
    /* activations, add */
    EXPECT_ERR1(ck_activation_forward(bad, 4, X, Y), CK_ERR_INVALID_ARGUMENT, "17");
    EXPECT_ERR(ck_activation_forward(none, -1, X, Y), CK_ERR_INVALID_SHAPE);
    EXPECT_ERR(ck_activation_forward(none, 4, NULL, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_activation_forward(none, 4, X, NULL), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_add(4, NULL, X, none, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_add(4, X, NULL, none, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_add(4, X, X, none, NULL), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_add(-4, X, X, none, Y), CK_ERR_INVALID_SHAPE);
    EXPECT_ERR(ck_add(4, X, X, bad, Y), CK_ERR_INVALID_ARGUMENT);
    /* softmax */
    EXPECT_ERR(ck_softmax(0, CK_LAYOUT_NCHW, 1, 0, 1, 1, X, Y), CK_ERR_INVALID_SHAPE);
    EXPECT_ERR(ck_softmax(0, (ck_layout)4, 1, 4, 1, 1, X, Y), CK_ERR_INVALID_LAYOUT);
    EXPECT_ERR(ck_softmax(0, CK_LAYOUT_NCHW, 1, 4, 1, 1, NULL, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_softmax(1, CK_LAYOUT_NCHW, 1, 4, 1, 1, X, NULL), CK_ERR_NULL_POINTER);
    /* batch norm */
    EXPECT_ERR1(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, z, z, g, 0.f, none, Y), CK_ERR_INVALID_ARGUMENT,
                "epsilon");
    EXPECT_ERR1(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, z, z, g, -1e-3f, none, Y), CK_ERR_INVALID_ARGUMENT,
                "-0.001");
    EXPECT_ERR(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, z, z, g, NAN, none, Y), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, z, z, g, INFINITY, none, Y), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR1(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, z, z, neg, 1e-5f, none, Y), CK_ERR_INVALID_ARGUMENT,
                "channel 1");
    EXPECT_ERR1(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, NULL, z, z, g, 1e-5f, none, Y), CK_ERR_NULL_POINTER,
                "gamma");
    EXPECT_ERR1(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, NULL, z, g, 1e-5f, none, Y), CK_ERR_NULL_POINTER,
                "beta");
    EXPECT_ERR1(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, z, NULL, g, 1e-5f, none, Y), CK_ERR_NULL_POINTER,
                "mean");
    EXPECT_ERR1(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, z, z, NULL, 1e-5f, none, Y), CK_ERR_NULL_POINTER,
                "var");
    EXPECT_ERR(ck_batch_norm_inference(CK_LAYOUT_NCHW, 0, 4, 1, 1, X, g, z, z, g, 1e-5f, none, Y), CK_ERR_INVALID_SHAPE);
    EXPECT_ERR(ck_batch_norm_inference(CK_LAYOUT_NCHW, 1, 4, 1, 1, X, g, z, z, g, 1e-5f, bad, Y), CK_ERR_INVALID_ARGUMENT);
    /* LRN */
    EXPECT_ERR1(ck_lrn(CK_LAYOUT_NCHW, 1, 4, 1, 1, 0, 1e-4f, 0.75f, 2.f, X, Y), CK_ERR_INVALID_ARGUMENT, "size=0");
    EXPECT_ERR(ck_lrn(CK_LAYOUT_NCHW, 1, 4, 1, 1, 5, NAN, 0.75f, 2.f, X, Y), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR1(ck_lrn(CK_LAYOUT_NCHW, 1, 4, 1, 1, 5, 1e-4f, 0.75f, 2.f, X, X), CK_ERR_INVALID_ARGUMENT, "in place");
    EXPECT_ERR(ck_lrn(CK_LAYOUT_NCHW8C, 1, 4, 1, 1, 5, 1e-4f, 0.75f, 2.f, X, Y), CK_ERR_INVALID_LAYOUT);
    EXPECT_ERR(ck_lrn(CK_LAYOUT_NCHW, 1, 4, 1, 1, 5, 1e-4f, 0.75f, 2.f, NULL, Y), CK_ERR_NULL_POINTER);
    /* concat */
    const float *in[2] = {X, NULL};
    const int64_t ch[2] = {1, 2}, chbad[2] = {1, 0};
    EXPECT_ERR1(ck_concat_channels(CK_LAYOUT_NCHW, 1, 2, 2, 2, in, ch, Y), CK_ERR_NULL_POINTER, "inputs[1]");
    in[1] = X;
    EXPECT_ERR1(ck_concat_channels(CK_LAYOUT_NCHW, 1, 2, 2, 0, in, ch, Y), CK_ERR_INVALID_ARGUMENT, "0");
    EXPECT_ERR1(ck_concat_channels(CK_LAYOUT_NCHW, 1, 2, 2, 2, in, chbad, Y), CK_ERR_INVALID_SHAPE, "channels[1]=0");
    EXPECT_ERR(ck_concat_channels(CK_LAYOUT_NCHW, 1, 2, 2, 2, NULL, ch, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_concat_channels(CK_LAYOUT_NCHW, 1, 2, 2, 2, in, NULL, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_concat_channels(CK_LAYOUT_NCHW, 1, 2, 2, 2, in, ch, NULL), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_concat_channels(CK_LAYOUT_NCHW, 0, 2, 2, 2, in, ch, Y), CK_ERR_INVALID_SHAPE);
    EXPECT_ERR(ck_concat_channels(CK_LAYOUT_NCHW8C, 1, 2, 2, 2, in, ch, Y), CK_ERR_INVALID_LAYOUT);
}

static void test_misc_errors(void) {
    int64_t count = -7;
    EXPECT_ERR1(ck_tensor_size((ck_layout)3, 1, 1, 1, 1, &count), CK_ERR_INVALID_LAYOUT, "3");
    EXPECT_ERR(ck_tensor_size(CK_LAYOUT_NCHW, 1, 0, 1, 1, &count), CK_ERR_INVALID_SHAPE);
    EXPECT_ERR(ck_tensor_size(CK_LAYOUT_NCHW, (int64_t)1 << 20, (int64_t)1 << 20, (int64_t)1 << 20, 1, &count),
               CK_ERR_SIZE_OVERFLOW);
    CHECK(count == -7, "tensor_size wrote on failure");
    EXPECT_ERR(ck_tensor_size(CK_LAYOUT_NCHW, 1, 1, 1, 1, NULL), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_convert_layout(1, 2, 2, 2, CK_LAYOUT_NCHW, NULL, CK_LAYOUT_NHWC, Y), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_convert_layout(1, 2, 2, 2, CK_LAYOUT_NCHW, X, CK_LAYOUT_NHWC, NULL), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_convert_layout(1, 2, 2, 2, (ck_layout)11, X, CK_LAYOUT_NHWC, Y), CK_ERR_INVALID_LAYOUT);
    EXPECT_ERR(ck_convert_layout(1, 2, 2, 2, CK_LAYOUT_NCHW, X, (ck_layout)11, Y), CK_ERR_INVALID_LAYOUT);
    EXPECT_ERR(ck_convert_layout(1, 2, -2, 2, CK_LAYOUT_NCHW, X, CK_LAYOUT_NHWC, Y), CK_ERR_INVALID_SHAPE);

    ck_algorithm a = (ck_algorithm)77;
    EXPECT_ERR2(ck_algorithm_from_name("fft", &a), CK_ERR_INVALID_ARGUMENT, "fft", "im2col");
    EXPECT_ERR(ck_algorithm_from_name("IM2COL", &a), CK_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ck_algorithm_from_name("", &a), CK_ERR_INVALID_ARGUMENT);
    CHECK(a == (ck_algorithm)77, "algorithm_from_name wrote on failure");
    EXPECT_ERR(ck_algorithm_from_name(NULL, &a), CK_ERR_NULL_POINTER);
    EXPECT_ERR(ck_algorithm_from_name("im2col", NULL), CK_ERR_NULL_POINTER);
    CHECK(strcmp(ck_algorithm_name((ck_algorithm)99), "unknown") == 0, "name of an unknown algorithm");
    EXPECT_ERR(ck_get_cpu_info(NULL), CK_ERR_NULL_POINTER);

    /* every status has its own description; unknown codes are named so */
    const ck_status all[] = {CK_OK, CK_ERR_NULL_POINTER, CK_ERR_INVALID_SHAPE, CK_ERR_INVALID_STRIDE, CK_ERR_INVALID_PADDING,
                             CK_ERR_INVALID_DILATION, CK_ERR_INVALID_GROUPS, CK_ERR_EMPTY_OUTPUT, CK_ERR_SIZE_OVERFLOW,
                             CK_ERR_INVALID_LAYOUT, CK_ERR_INVALID_ARGUMENT, CK_ERR_UNSUPPORTED_ALGORITHM,
                             CK_ERR_UNSUPPORTED_ISA, CK_ERR_UNSUPPORTED, CK_ERR_OUT_OF_MEMORY,
                             CK_ERR_INSUFFICIENT_WORKSPACE, CK_ERR_WORKSPACE_LIMIT, CK_ERR_INTERNAL};
    const int n = (int)(sizeof all / sizeof all[0]);
    for (int i = 0; i < n; i++) {
        const char *s = ck_status_string(all[i]);
        CHECK(s && s[0] && strcmp(s, "unknown status code") != 0, "status %d has no description", (int)all[i]);
        for (int j = 0; j < i; j++) CHECK(strcmp(s, ck_status_string(all[j])) != 0, "statuses %d and %d share a description", (int)all[i], (int)all[j]);
    }
    CHECK(strcmp(ck_status_string((ck_status)77), "unknown status code") == 0, "status 77: %s", ck_status_string((ck_status)77));
    CHECK(ck_last_error_message() != NULL, "message NULL");
}

int main(void) {
    for (int i = 0; i < 4096; i++) { W[i] = 0.01f * (float)(i % 7); X[i] = 0.1f * (float)(i % 5); }
    test_conv_descriptors();
    test_execute_errors();
    test_deconv_errors();
    test_pool_errors();
    test_dense_errors();
    test_elementwise_errors();
    test_misc_errors();
    return ck_test_finish("test_errors");
}
