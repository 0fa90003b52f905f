/* Direct-convolution micro-kernel, AVX2+FMA: up to 2 output pixels x 32 output
 * channels (4 blocks of 8) per call, ur = 1..2; the 4-block chunks of
 * stride-2 1x1 layers with C/g <= 64 (conv_direct.c), whose rows of whole
 * 2-pixel tiles run as one asm loop (ckd_avx2_row2x32_s2).  See
 * conv_direct_ukernels.h for the template and the calling convention. */
#if defined(__x86_64__)
#define CKD_AVX2_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_DEFINE(1, 4)
CKD_DEFINE(2, 4)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_2x32__avx2_fma = {
    "2x32__avx2_fma", 4, 2,
    {NULL, ckd_int_1, ckd_int_2},
    {NULL, ckd_gat_1, ckd_gat_2},
};
#else
typedef int ck_conv_direct_ukernel_2x32__avx2_fma_unused;
#endif
