/* Direct-convolution micro-kernel, AVX2+FMA: up to 4 output pixels x 16 output
 * channels (2 blocks of 8) per call, ur = 1..4 instantiated for tails; the
 * 2-block chunks of stride-1 1x1 layers with C/g of 17-64 (conv_direct.c),
 * whose rows of whole 4-pixel tiles run as one asm loop
 * (ckd_avx2_row4x16_s1).  See conv_direct_ukernels.h for the template and
 * the calling convention. */
#if defined(__x86_64__)
#define CKD_AVX2_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_DEFINE(1, 2)
CKD_DEFINE(2, 2)
CKD_DEFINE(3, 2)
CKD_DEFINE(4, 2)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_4x16__avx2_fma = {
    "4x16__avx2_fma", 2, 4,
    {NULL, ckd_int_1, ckd_int_2, ckd_int_3, ckd_int_4},
    {NULL, ckd_gat_1, ckd_gat_2, ckd_gat_3, ckd_gat_4},
};
#else
typedef int ck_conv_direct_ukernel_4x16__avx2_fma_unused;
#endif
