/* Direct-convolution micro-kernel, AVX2+FMA: up to 2 output pixels x 48
 * output channels (6 blocks of 8) per call, ur = 1..2 instantiated for tails.
 * 12 accumulators + 2 broadcasts + 1 weight (15 ymm registers): 6 weight
 * loads + 2 broadcasts per 12 FMAs, and each input pixel is reused for 48
 * output channels.  See conv_direct_ukernels.h for the template (with
 * both compilers, the 1x1 channel steps are asm blocks) and the calling
 * convention. */
#if defined(__x86_64__)
#define CKD_AVX2_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_DEFINE(1, 6)
CKD_DEFINE(2, 6)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_2x48__avx2_fma = {
    "2x48__avx2_fma", 6, 2,
    {NULL, ckd_int_1, ckd_int_2},
    {NULL, ckd_gat_1, ckd_gat_2},
};
#else
typedef int ck_conv_direct_ukernel_2x48__avx2_fma_unused;
#endif
