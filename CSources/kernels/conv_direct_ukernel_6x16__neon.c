/* Direct-convolution micro-kernel, NEON (aarch64): up to 6 output pixels x 16
 * output channels (2 blocks of 8, four float32x4 per pixel) per call, ur = 1..6
 * instantiated for tails.  See conv_direct_ukernels.h for the template and the
 * calling convention. */
#if defined(__aarch64__)
#define CKD_NEON_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_NEON_DEFINE(1, 2)
CKD_NEON_DEFINE(2, 2)
CKD_NEON_DEFINE(3, 2)
CKD_NEON_DEFINE(4, 2)
CKD_NEON_DEFINE(5, 2)
CKD_NEON_DEFINE(6, 2)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_6x16__neon = {
    "6x16__neon", 2, 6,
    {NULL, ckd_int_1, ckd_int_2, ckd_int_3, ckd_int_4, ckd_int_5, ckd_int_6},
    {NULL, ckd_gat_1, ckd_gat_2, ckd_gat_3, ckd_gat_4, ckd_gat_5, ckd_gat_6},
};
#else
typedef int ck_conv_direct_ukernel_6x16__neon_unused;
#endif
