/* Direct-convolution micro-kernel, AVX2+FMA: up to 4 output pixels x 24 output
 * channels (3 block(s) of 8) per call, ur = 1..4 instantiated for tails.  Used
 * for the last chunk when a group has an odd number (>= 3) of output-channel
 * blocks (K = 24, 40, ...): 12 accumulators, 3 weight loads + 4 broadcasts per
 * 12 FMAs, where 6x16 + 12x8 would run the odd block through the
 * broadcast-bound 12x8 tile (~1.5x slower per FMA on 1x1 layers).  See
 * conv_direct_ukernels.h for the template (with clang, the channel steps are
 * asm blocks) and the calling convention. */
#if defined(__x86_64__)
#define CKD_AVX2_TEMPLATE 1
#include "conv_direct_ukernels.h"

CKD_DEFINE(1, 3)
CKD_DEFINE(2, 3)
CKD_DEFINE(3, 3)
CKD_DEFINE(4, 3)

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_4x24__avx2_fma = {
    "4x24__avx2_fma", 3, 4,
    {NULL, ckd_int_1, ckd_int_2, ckd_int_3, ckd_int_4},
    {NULL, ckd_gat_1, ckd_gat_2, ckd_gat_3, ckd_gat_4},
};
#else
typedef int ck_conv_direct_ukernel_4x24__avx2_fma_unused;
#endif
