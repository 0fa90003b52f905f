/* The README's C example: a 3x3 convolution with bias and fused ReLU. */
#include <convkit.h>
#include <stdio.h>

int main(void) {
    const float image[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}; /* 1x1x4x4, NCHW */
    const float filter[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1};                           /* Sobel-x, 1x1x3x3 */
    const float bias[1] = {0.5f};
    float out[4];                                                                     /* 1x1x2x2 */

    ck_conv2d_desc desc = ck_conv2d_desc_init(1, 1, 4, 4, /*k*/ 1, /*r*/ 3, /*s*/ 3);
    desc.has_bias = 1;
    desc.activation.kind = CK_ACT_RELU;
    ck_plan_options opts = {.algorithm = CK_ALGO_AUTO, .threads = 1};

    ck_plan *plan = NULL;
    ck_status st = ck_conv2d_plan_create(&desc, filter, bias, &opts, &plan);
    if (st == CK_OK) st = ck_conv2d_execute(plan, image, out, NULL, NULL, 0); /* NULL workspace: allocated per call */
    if (st != CK_OK) {
        fprintf(stderr, "convkit: %s: %s\n", ck_status_string(st), ck_last_error_message());
        ck_plan_destroy(plan);
        return 1;
    }
    printf("%s: %g %g %g %g\n", ck_plan_impl_name(plan), out[0], out[1], out[2], out[3]); /* 8.5 8.5 8.5 8.5 */
    ck_plan_destroy(plan);

    /* Bad input is an error with a message, never a crash. */
    desc.groups = 3;
    st = ck_conv2d_plan_create(&desc, filter, bias, &opts, &plan);
    printf("groups=3: %s: %s\n", ck_status_string(st), ck_last_error_message());
    return st == CK_ERR_INVALID_GROUPS ? 0 : 1;
}
