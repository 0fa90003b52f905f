/* Consumer of an installed ConvKit (find_package(ConvKit)): a 2x2 max pooling
 * and a 3x3 vertical-edge convolution, checked against hand-computed values. */
#include <convkit.h>
#include <stdio.h>

static int fail(const char *what, ck_status st) {
    fprintf(stderr, "%s: %s: %s\n", what, ck_status_string(st), ck_last_error_message());
    return 1;
}

int main(void) {
    printf("ConvKit %s via find_package\n", ck_version());

    /* Vertical edge detector on a 6x6 image: left half 10, right half 0. */
    float img[36], edge[9] = {1, 0, -1, 1, 0, -1, 1, 0, -1}, out[16];
    for (int i = 0; i < 36; i++) img[i] = (i % 6) < 3 ? 10.f : 0.f;
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 1, 6, 6, 1, 3, 3);
    ck_plan *plan = NULL;
    ck_status st = ck_conv2d_plan_create(&d, edge, NULL, NULL, &plan);
    if (st != CK_OK) return fail("ck_conv2d_plan_create", st);
    st = ck_conv2d_execute(plan, img, out, NULL, NULL, 0);
    ck_plan_destroy(plan);
    if (st != CK_OK) return fail("ck_conv2d_execute", st);
    static const float row[4] = {0, 30, 30, 0};
    for (int i = 0; i < 16; i++)
        if (out[i] != row[i % 4]) { fprintf(stderr, "edge[%d] = %g, expected %g\n", i, (double)out[i], (double)row[i % 4]); return 1; }

    /* 2x2 stride-2 max pooling. */
    float x[16] = {1, 4, 2, 11, 6, 13, 8, 3, 10, 0, 17, 7, 9, 2, 3, 5}, y[4];
    static const float want[4] = {13, 11, 10, 17};
    ck_pool2d_desc pd = {0};
    pd.kind = CK_POOL_MAX;
    pd.n = 1; pd.c = 1; pd.h = 4; pd.w = 4; pd.r = 2; pd.s = 2;
    pd.stride_h = pd.stride_w = 2;
    pd.dilation_h = pd.dilation_w = 1;
    pd.layout = CK_LAYOUT_NCHW;
    st = ck_pool2d_plan_create(&pd, NULL, &plan);
    if (st != CK_OK) return fail("ck_pool2d_plan_create", st);
    st = ck_pool2d_execute(plan, x, y);
    ck_plan_destroy(plan);
    if (st != CK_OK) return fail("ck_pool2d_execute", st);
    for (int i = 0; i < 4; i++)
        if (y[i] != want[i]) { fprintf(stderr, "pool[%d] = %g, expected %g\n", i, (double)y[i], (double)want[i]); return 1; }

    printf("edge detector and max pooling: OK\n");
    return 0;
}
