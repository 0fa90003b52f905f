/* libFuzzer harness: descriptor validation and plan creation with hostile
 * field values (huge, negative, overflow-prone).  Every call must return a
 * documented status and never crash, overflow (UBSan) or over-allocate; a plan
 * that is created must report consistent properties.  Weights are only
 * allocated when the (overflow-checked) weight count is small; otherwise NULL
 * is passed and creation must fail.  Nothing is executed here (see fuzz_exec). */
#include "fuzz_common.h"

#define FZ_MAX_WEIGHTS (1 << 16)

static float fz_buf[FZ_MAX_WEIGHTS + 64];

/* Weight count a*b*c*d if every factor is >= 1 and the product is <= limit, else -1. */
static int64_t small_count(int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t v[4] = {a, b, c, d}, t = 1;
    for (int i = 0; i < 4; i++) {
        if (v[i] < 1 || v[i] > FZ_MAX_WEIGHTS) return -1;
        t *= v[i];
        if (t > FZ_MAX_WEIGHTS) return -1;
    }
    return t;
}

static void fz_options(fz_reader *r, ck_plan_options *o) {
    memset(o, 0, sizeof *o);
    o->algorithm = (ck_algorithm)(fz_u8(r) % (CK_ALGO_COUNT + 2)) - 1; /* includes -1 and CK_ALGO_COUNT */
    o->threads = fz_range(r, 0, 3) == 3 ? -1 : 1;
    o->flags = fz_u8(r) % 5;                       /* includes an unknown flag bit */
    uint8_t lim = fz_u8(r);
    o->workspace_limit = lim < 128 ? 0 : lim < 250 ? (size_t)(lim - 128) * 512 : SIZE_MAX - lim;
}

static void check_plan(ck_plan *p, const char *what, size_t limit) {
    size_t ws = 0;
    ck_algorithm a;
    int32_t th;
    if (ck_plan_workspace_size(p, &ws) != CK_OK) FZ_ABORT("%s: workspace_size failed on a valid plan", what);
    if (ck_plan_algorithm(p, &a) != CK_OK) FZ_ABORT("%s: algorithm failed on a valid plan", what);
    if (ck_plan_threads(p, &th) != CK_OK || th < 1) FZ_ABORT("%s: threads failed on a valid plan", what);
    if (!ck_plan_impl_name(p)) FZ_ABORT("%s: impl name NULL", what);
    size_t cap = limit ? limit : (size_t)16 << 20; /* the documented default */
    if (ws > cap) FZ_ABORT("%s: workspace %zu above the limit %zu", what, ws, cap);
}

static void fuzz_conv(fz_reader *r) {
    ck_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.n = fz_i64(r); d.c = fz_i64(r); d.h = fz_i64(r); d.w = fz_i64(r); d.k = fz_i64(r);
    d.r = fz_i64(r); d.s = fz_i64(r);
    d.stride_h = fz_i64(r); d.stride_w = fz_i64(r);
    d.pad_top = fz_i64(r); d.pad_left = fz_i64(r); d.pad_bottom = fz_i64(r); d.pad_right = fz_i64(r);
    d.dilation_h = fz_i64(r); d.dilation_w = fz_i64(r);
    d.groups = fz_i64(r);
    d.has_bias = fz_u8(r) & 1;
    d.activation.kind = (ck_activation_kind)(fz_u8(r) % 8) - 1;
    d.activation.alpha = 0.1f;
    d.layout = (ck_layout)(fz_u8(r) % 5) - 1;
    ck_plan_options o;
    fz_options(r, &o);

    int64_t p = 0, q = 0, cnt = 0;
    double fl;
    ck_status vs = ck_conv2d_output_shape(&d, &p, &q);
    fz_check_status(vs, "conv2d_output_shape");
    if (vs == CK_OK && (p < 1 || q < 1 || p > CK_MAX_ELEMENTS || q > CK_MAX_ELEMENTS))
        FZ_ABORT("conv2d_output_shape accepted with P=%lld Q=%lld", (long long)p, (long long)q);
    fz_check_status(ck_conv2d_flops(&d, &fl), "conv2d_flops");
    fz_check_status(ck_tensor_size(d.layout, d.n, d.c, d.h, d.w, &cnt), "tensor_size");
    for (int a = -1; a <= CK_ALGO_COUNT; a++) {
        ck_status st = ck_conv2d_algorithm_applicable(&d, (ck_algorithm)a, &o);
        fz_check_status(st, "conv2d_algorithm_applicable");
        if (st == CK_OK && vs != CK_OK) FZ_ABORT("algorithm %d applicable to an invalid descriptor", a);
    }
    int64_t wc = d.groups >= 1 && d.c >= 1 ? small_count(d.k, d.c / d.groups, d.r, d.s) : -1;
    const float *w = wc > 0 ? fz_buf : NULL;
    const float *b = d.k >= 1 && d.k <= FZ_MAX_WEIGHTS ? fz_buf : NULL;
    ck_plan *plan = (ck_plan *)(uintptr_t)1;
    ck_status st = ck_conv2d_plan_create(&d, w, b, &o, &plan);
    fz_check_status(st, "conv2d_plan_create");
    if (st == CK_OK) {
        if (!plan) FZ_ABORT("conv2d_plan_create OK without a plan");
        if (vs != CK_OK) FZ_ABORT("conv2d_plan_create accepted an invalid descriptor (%s)", ck_status_string(vs));
        check_plan(plan, "conv2d", o.workspace_limit);
        /* an execute with NULL buffers must be refused, not crash */
        ck_status es = ck_conv2d_execute(plan, NULL, NULL, NULL, NULL, 0);
        if (es != CK_ERR_NULL_POINTER) FZ_ABORT("conv2d_execute(NULL x) returned %d", (int)es);
        ck_plan_destroy(plan);
    } else if (plan != NULL) {
        FZ_ABORT("conv2d_plan_create failed but left *plan non-NULL");
    }
}

static void fuzz_deconv(fz_reader *r) {
    ck_conv_transpose2d_desc d;
    memset(&d, 0, sizeof d);
    d.n = fz_i64(r); d.c = fz_i64(r); d.h = fz_i64(r); d.w = fz_i64(r); d.k = fz_i64(r);
    d.r = fz_i64(r); d.s = fz_i64(r);
    d.stride_h = fz_i64(r); d.stride_w = fz_i64(r);
    d.pad_top = fz_i64(r); d.pad_left = fz_i64(r); d.pad_bottom = fz_i64(r); d.pad_right = fz_i64(r);
    d.dilation_h = fz_i64(r); d.dilation_w = fz_i64(r);
    d.output_padding_h = fz_i64(r); d.output_padding_w = fz_i64(r);
    d.groups = fz_i64(r);
    d.has_bias = fz_u8(r) & 1;
    d.activation.kind = (ck_activation_kind)(fz_u8(r) % 8) - 1;
    d.layout = (ck_layout)(fz_u8(r) % 5) - 1;
    ck_plan_options o;
    fz_options(r, &o);
    int64_t p = 0, q = 0;
    ck_status vs = ck_conv_transpose2d_output_shape(&d, &p, &q);
    fz_check_status(vs, "conv_transpose2d_output_shape");
    if (vs == CK_OK && (p < 1 || q < 1)) FZ_ABORT("conv_transpose2d_output_shape accepted P=%lld Q=%lld", (long long)p, (long long)q);
    int64_t wc = d.groups >= 1 && d.k >= 1 ? small_count(d.c, d.k / d.groups, d.r, d.s) : -1;
    const float *w = wc > 0 ? fz_buf : NULL;
    const float *b = d.k >= 1 && d.k <= FZ_MAX_WEIGHTS ? fz_buf : NULL;
    ck_plan *plan = NULL;
    ck_status st = ck_conv_transpose2d_plan_create(&d, w, b, &o, &plan);
    fz_check_status(st, "conv_transpose2d_plan_create");
    if (st == CK_OK) {
        if (vs != CK_OK) FZ_ABORT("conv_transpose2d_plan_create accepted an invalid descriptor");
        check_plan(plan, "conv_transpose2d", o.workspace_limit);
        ck_plan_destroy(plan);
    }
}

static void fuzz_pool(fz_reader *r) {
    ck_pool2d_desc d;
    memset(&d, 0, sizeof d);
    d.kind = (ck_pool_kind)(fz_u8(r) % 4) - 1;
    d.n = fz_i64(r); d.c = fz_i64(r); d.h = fz_i64(r); d.w = fz_i64(r);
    d.r = fz_i64(r); d.s = fz_i64(r);
    d.stride_h = fz_i64(r); d.stride_w = fz_i64(r);
    d.pad_top = fz_i64(r); d.pad_left = fz_i64(r); d.pad_bottom = fz_i64(r); d.pad_right = fz_i64(r);
    d.dilation_h = fz_i64(r); d.dilation_w = fz_i64(r);
    d.count_include_pad = fz_u8(r) & 1;
    d.ceil_mode = fz_u8(r) & 1;
    d.layout = (ck_layout)(fz_u8(r) % 5) - 1;
    ck_plan_options o;
    fz_options(r, &o);
    int64_t p = 0, q = 0;
    ck_status vs = ck_pool2d_output_shape(&d, &p, &q);
    fz_check_status(vs, "pool2d_output_shape");
    if (vs == CK_OK && (p < 1 || q < 1)) FZ_ABORT("pool2d_output_shape accepted P=%lld Q=%lld", (long long)p, (long long)q);
    ck_plan *plan = NULL;
    ck_status st = ck_pool2d_plan_create(&d, &o, &plan);
    fz_check_status(st, "pool2d_plan_create");
    if (st == CK_OK) {
        if (vs != CK_OK) FZ_ABORT("pool2d_plan_create accepted an invalid descriptor");
        check_plan(plan, "pool2d", o.workspace_limit);
        ck_plan_destroy(plan);
    }
}

static void fuzz_dense(fz_reader *r) {
    ck_dense_desc d;
    memset(&d, 0, sizeof d);
    d.n = fz_i64(r); d.in_features = fz_i64(r); d.out_features = fz_i64(r);
    d.has_bias = fz_u8(r) & 1;
    d.activation.kind = (ck_activation_kind)(fz_u8(r) % 8) - 1;
    ck_plan_options o;
    fz_options(r, &o);
    int64_t wc = small_count(d.in_features, d.out_features, 1, 1);
    const float *w = wc > 0 ? fz_buf : NULL;
    const float *b = d.out_features >= 1 && d.out_features <= FZ_MAX_WEIGHTS ? fz_buf : NULL;
    ck_plan *plan = NULL;
    ck_status st = ck_dense_plan_create(&d, w, b, &o, &plan);
    fz_check_status(st, "dense_plan_create");
    if (st == CK_OK) {
        check_plan(plan, "dense", o.workspace_limit);
        ck_plan_destroy(plan);
    }
}

static void fuzz_misc(fz_reader *r) {
    int64_t n = fz_i64(r), c = fz_i64(r), h = fz_i64(r), w = fz_i64(r), cnt = 0;
    ck_layout l = (ck_layout)(fz_u8(r) % 5) - 1;
    ck_status st = ck_tensor_size(l, n, c, h, w, &cnt);
    fz_check_status(st, "tensor_size");
    if (st == CK_OK && (cnt < 1 || cnt > CK_MAX_ELEMENTS + 8 * CK_MAX_ELEMENTS)) FZ_ABORT("tensor_size gave %lld", (long long)cnt);
    /* ops validated per call: with NULL data they must fail cleanly */
    fz_check_status(ck_global_pool2d(CK_POOL_MAX, l, n, c, h, w, NULL, NULL), "global_pool2d");
    fz_check_status(ck_maxout(l, n, c, h, w, fz_i64(r), NULL, NULL), "maxout");
    fz_check_status(ck_softmax(0, l, n, c, h, w, NULL, NULL), "softmax");
    fz_check_status(ck_lrn(l, n, c, h, w, fz_i64(r), 1e-4f, 0.75f, 2.0f, NULL, NULL), "lrn");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_reader r = {data, size, 0};
    switch (fz_u8(&r) % 5) {
    case 0: fuzz_conv(&r); break;
    case 1: fuzz_deconv(&r); break;
    case 2: fuzz_pool(&r); break;
    case 3: fuzz_dense(&r); break;
    default: fuzz_misc(&r); break;
    }
    return 0;
}
