/* Channel-vector kernels: depthwise convolution and pooling over one block of
 * up to 8 channels that sit contiguously at each pixel (NCHW8c blocks, or an
 * 8-channel slice of an NHWC tensor).  The same kernel serves both layouts by
 * taking a pixel stride and a row stride; only these inner kernels are
 * ISA-specific, the drivers (algos/conv_depthwise.c, core/ops.c) share the
 * blocking and threading. */
#ifndef CK_CHANVEC_KERNELS_H
#define CK_CHANVEC_KERNELS_H

#include "internal.h"

/** Geometry of one channel block: where its pixels live. */
typedef struct ck_chanvec_geom {
    int64_t H, W, P, Q;               /* input and output spatial sizes */
    int64_t x_pix, x_row;             /* input strides (floats) between pixels / rows */
    int64_t y_pix, y_row;             /* output (and residual) strides */
    int64_t R, S, sh, sw, pt, pl, dh, dw;
    int nc;                           /* valid channels in this block (1..8) */
} ck_chanvec_geom;

/** Depthwise conv of one 8-channel block, output rows [p0, p1).  w: R*S vectors
 *  of 8 (zero beyond nc), b: 8 or NULL, res: residual (same strides as y) or NULL.
 *  The activation is applied for none/relu/relu6/leaky; sigmoid/tanh are left to
 *  the caller (flag returned by ck_chanvec_act_in_kernel). */
typedef void (*ck_dw_kernel_fn)(const ck_chanvec_geom *g, const float *x, const float *w, const float *b,
                                const float *res, float *y, int64_t p0, int64_t p1, ck_activation act);

/** Pooling of one 8-channel block, output rows [p0, p1). */
typedef void (*ck_pool_kernel_fn)(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1,
                                  int is_max, int count_include_pad, int64_t pb, int64_t pr);

void ck_f32_dwconv_ukernel_8c__scalar(const ck_chanvec_geom *g, const float *x, const float *w, const float *b,
                                      const float *res, float *y, int64_t p0, int64_t p1, ck_activation act);
void ck_f32_pool_ukernel_8c__scalar(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1,
                                    int is_max, int count_include_pad, int64_t pb, int64_t pr);
#if defined(__x86_64__)
void ck_f32_dwconv_ukernel_8c__avx2_fma(const ck_chanvec_geom *g, const float *x, const float *w, const float *b,
                                        const float *res, float *y, int64_t p0, int64_t p1, ck_activation act);
void ck_f32_pool_ukernel_8c__avx2(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1,
                                  int is_max, int count_include_pad, int64_t pb, int64_t pr);
#endif
#if defined(__aarch64__)
void ck_f32_dwconv_ukernel_8c__neon(const ck_chanvec_geom *g, const float *x, const float *w, const float *b,
                                    const float *res, float *y, int64_t p0, int64_t p1, ck_activation act);
void ck_f32_pool_ukernel_8c__neon(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1,
                                  int is_max, int count_include_pad, int64_t pb, int64_t pr);
#endif

/** Whether the kernels apply `act` themselves (else the caller runs ck_activate after). */
static inline int ck_chanvec_act_in_kernel(ck_activation act) {
    return act.kind == CK_ACT_NONE || act.kind == CK_ACT_RELU || act.kind == CK_ACT_RELU6 ||
           act.kind == CK_ACT_LEAKY_RELU;
}

#endif
