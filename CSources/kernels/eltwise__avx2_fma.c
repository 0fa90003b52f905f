/* Element-wise kernels, AVX2+FMA (see eltwise_kernels.h). */
#if defined(__x86_64__)
#define CK_ELT_ATTR __attribute__((target("avx2,fma")))
#define CK_ELT_NAME(x) ck_elt_##x##__avx2_fma
#include "eltwise_ukernels.h"

const ck_eltwise_kernels ck_eltwise_avx2_fma = {ck_elt_act__avx2_fma, ck_elt_add__avx2_fma, ck_elt_affine1__avx2_fma,
                                                ck_elt_affine__avx2_fma};
#else
typedef int ck_eltwise_avx2_fma_unused;
#endif
