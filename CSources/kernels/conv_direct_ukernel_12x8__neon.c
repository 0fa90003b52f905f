/* Direct-convolution micro-kernel, NEON (aarch64): up to 12 output pixels x 8
 * output channels (1 block of 8, two float32x4 per pixel) per call, ur = 1..12
 * instantiated for tails.  Used for the last output-channel block when K/8 is
 * odd.  See conv_direct_ukernels.h for the template and the calling
 * convention. */
#if defined(__aarch64__)
#define CKD_NEON_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_NEON_DEFINE(1, 1)
CKD_NEON_DEFINE(2, 1)
CKD_NEON_DEFINE(3, 1)
CKD_NEON_DEFINE(4, 1)
CKD_NEON_DEFINE(5, 1)
CKD_NEON_DEFINE(6, 1)
CKD_NEON_DEFINE(7, 1)
CKD_NEON_DEFINE(8, 1)
CKD_NEON_DEFINE(9, 1)
CKD_NEON_DEFINE(10, 1)
CKD_NEON_DEFINE(11, 1)
CKD_NEON_DEFINE(12, 1)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_12x8__neon = {
    "12x8__neon", 1, 12,
    {NULL, ckd_int_1, ckd_int_2, ckd_int_3, ckd_int_4, ckd_int_5, ckd_int_6, ckd_int_7, ckd_int_8, ckd_int_9,
     ckd_int_10, ckd_int_11, ckd_int_12},
    {NULL, ckd_gat_1, ckd_gat_2, ckd_gat_3, ckd_gat_4, ckd_gat_5, ckd_gat_6, ckd_gat_7, ckd_gat_8, ckd_gat_9,
     ckd_gat_10, ckd_gat_11, ckd_gat_12},
};
#else
typedef int ck_conv_direct_ukernel_12x8__neon_unused;
#endif
