/* Element-wise kernels for the build's baseline ISA (see eltwise_kernels.h). */
#define CK_ELT_ATTR
#define CK_ELT_NAME(x) ck_elt_##x##__portable
#include "eltwise_ukernels.h"

const ck_eltwise_kernels ck_eltwise_portable = {ck_elt_act__portable, ck_elt_add__portable,
                                                ck_elt_affine1__portable, ck_elt_affine__portable};

const ck_eltwise_kernels *ck_eltwise_get(void) {
#if defined(__x86_64__)
    if (ck_dispatch_isa() == CK_ISA_AVX2_FMA) return &ck_eltwise_avx2_fma;
#endif
    return &ck_eltwise_portable;
}
