/* Direct SIMD convolution (placeholder: declines every shape until implemented). */
#include "internal.h"
static ck_status applicable(const ck_conv2d_desc *d, const ck_plan_options *o) {
    (void)d; (void)o;
    return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "direct: not implemented yet");
}
const ck_conv_algo ck_conv_algo_direct = {CK_ALGO_DIRECT, applicable, NULL, NULL, NULL};
