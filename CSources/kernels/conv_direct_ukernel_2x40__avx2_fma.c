/* Direct-convolution micro-kernel, AVX2+FMA: up to 2 output pixels x 40
 * output channels (5 blocks of 8) per call, ur = 1..2 instantiated for tails.
 * 10 accumulators + 2 broadcasts + 1 weight (13 ymm registers): 5 weight
 * loads + 2 broadcasts per 10 FMAs, each input pixel reused for 40 output
 * channels.  It takes the 5-block chunks of strided 1x1 layers, whose block
 * counts are cut into 6- and 5-block chunks (conv_direct.c): 10
 * accumulators leave slack over the FMA latency that the 8 of a 2x32 tile
 * lack.  See conv_direct_ukernels.h for the template (with both compilers,
 * the 1x1 channel steps are asm blocks) and the calling convention. */
#if defined(__x86_64__)
#define CKD_AVX2_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_DEFINE(1, 5)
CKD_DEFINE(2, 5)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_2x40__avx2_fma = {
    "2x40__avx2_fma", 5, 2,
    {NULL, ckd_int_1, ckd_int_2},
    {NULL, ckd_gat_1, ckd_gat_2},
};
#else
typedef int ck_conv_direct_ukernel_2x40__avx2_fma_unused;
#endif
