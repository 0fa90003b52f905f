/* Depthwise convolution (placeholder: declines every shape until implemented). */
#include "internal.h"
static ck_status applicable(const ck_conv2d_desc *d, const ck_plan_options *o) {
    (void)d; (void)o;
    return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "depthwise: not implemented yet");
}
const ck_conv_algo ck_conv_algo_depthwise = {CK_ALGO_DEPTHWISE, applicable, NULL, NULL, NULL};
