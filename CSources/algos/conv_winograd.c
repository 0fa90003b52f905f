/* Winograd convolution (placeholder: declines every shape until implemented). */
#include "internal.h"
static ck_status applicable(const ck_conv2d_desc *d, const ck_plan_options *o) {
    (void)d; (void)o;
    return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "winograd: not implemented yet");
}
const ck_conv_algo ck_conv_algo_winograd_f2 = {CK_ALGO_WINOGRAD_F2, applicable, NULL, NULL, NULL};
const ck_conv_algo ck_conv_algo_winograd_f4 = {CK_ALGO_WINOGRAD_F4, applicable, NULL, NULL, NULL};
const ck_conv_algo ck_conv_algo_winograd_f6 = {CK_ALGO_WINOGRAD_F6, applicable, NULL, NULL, NULL};
