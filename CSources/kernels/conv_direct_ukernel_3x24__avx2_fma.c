/* Direct-convolution micro-kernel, AVX2+FMA: up to 3 output pixels x 24 output
 * channels (3 blocks of 8) per call, ur = 1..3 instantiated for tails.  The
 * 3-block tile of clang builds for kernels larger than 1x1 (see
 * conv_direct.c): 9 accumulators + 3 weights + 1 broadcast (13 ymm
 * registers, 6 loads per 9 FMAs), which clang keeps in registers without the
 * asm the 4x24 tile needs there.  See conv_direct_ukernels.h
 * for the template and the calling convention. */
#if defined(__x86_64__)
#define CKD_AVX2_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_DEFINE(1, 3)
CKD_DEFINE(2, 3)
CKD_DEFINE(3, 3)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_3x24__avx2_fma = {
    "3x24__avx2_fma", 3, 3,
    {NULL, ckd_int_1, ckd_int_2, ckd_int_3},
    {NULL, ckd_gat_1, ckd_gat_2, ckd_gat_3},
};
#else
typedef int ck_conv_direct_ukernel_3x24__avx2_fma_unused;
#endif
