/* Direct-convolution micro-kernel, AVX2+FMA: up to 3 output pixels x 32 output
 * channels (4 blocks of 8) per call, ur = 1..3 instantiated for tails.
 * 12 accumulators + 3 broadcasts + 1 weight (all 16 ymm registers): 4 weight
 * loads + 3 broadcasts per 12 FMAs, and each input pixel is reused for 32
 * output channels.  Used for 4-block chunks of 1x1 layers (see
 * conv_direct.c), where the 2-block chunks it replaces read the input
 * twice as often per FMA.  See conv_direct_ukernels.h for the template (with
 * both compilers, the 1x1 channel steps are asm blocks) and the calling
 * convention. */
#if defined(__x86_64__)
#define CKD_AVX2_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_DEFINE(1, 4)
CKD_DEFINE(2, 4)
CKD_DEFINE(3, 4)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_3x32__avx2_fma = {
    "3x32__avx2_fma", 4, 3,
    {NULL, ckd_int_1, ckd_int_2, ckd_int_3},
    {NULL, ckd_gat_1, ckd_gat_2, ckd_gat_3},
};
#else
typedef int ck_conv_direct_ukernel_3x32__avx2_fma_unused;
#endif
