/* Private declarations shared by the backward passes (backward/) and their
 * references (reference/ref_backward.c).  Not installed. */
#ifndef CK_BACKWARD_INTERNAL_H
#define CK_BACKWARD_INTERNAL_H

#include "../core/internal.h"

/* Reference convolution backward (float64 accumulation, any layout). */
void ck_ref_conv2d_backward_data(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *dy, const float *w,
                                 float *dx);
void ck_ref_conv2d_backward_weights(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *x, const float *dy,
                                    float *dw, float *db);
/* Reference pooling backward (gather form, float64; any layout). */
void ck_ref_pool2d_backward(const ck_pool2d_desc *d, int64_t P, int64_t Q, const float *x, const float *dy,
                            float *dx);
/* Reference dense backward (float64); any of dx, dw, db may be NULL. */
void ck_ref_dense_backward(const ck_dense_desc *d, const float *x, const float *w, const float *dy, float *dx,
                           float *dw, float *db);

/* Depthwise backward on 8-channel blocks (conv_backward_dw.c), NCHW/NHWC,
 * groups == C == K.  ck_dw_backward_size: 1 and the workspace floats if the
 * path serves the plan within its workspace limit, else 0.  The passes need
 * that many floats of workspace; db may be NULL. */
int ck_dw_backward_size(const ck_plan *pl, int64_t *floats);
ck_status ck_dw_backward_data(const ck_plan *pl, const float *dy, const float *w, float *dx, float *ws);
ck_status ck_dw_backward_weights(const ck_plan *pl, const float *x, const float *dy, float *dw, float *db, float *ws);

/* The forward window of output (p, q) of a pooling plane: the arg-max (first
 * maximum in r-major scan; *ah = -1 if the window holds no input element),
 * and the average's divisor (0 if no input element).  x_at(ih, iw) is read
 * through `x` with pixel stride xs and row stride xr. */
static inline void ck_pool_window(const ck_pool2d_desc *d, const float *x, int64_t xr, int64_t xs, int64_t p,
                                  int64_t q, int64_t *ah, int64_t *aw, int64_t *divisor) {
    int64_t real = 0, padded = 0, bh = -1, bw = -1;
    float best = 0.f;
    for (int64_t r = 0; r < d->r; r++) {
        const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
        const int in_h = ih >= 0 && ih < d->h;
        const int pad_h = ih >= -d->pad_top && ih < d->h + d->pad_bottom;
        for (int64_t s = 0; s < d->s; s++) {
            const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
            const int in_w = iw >= 0 && iw < d->w;
            const int pad_w = iw >= -d->pad_left && iw < d->w + d->pad_right;
            if (pad_h && pad_w) padded++;
            if (!(in_h && in_w)) continue;
            real++;
            if (d->kind == CK_POOL_MAX && x) {
                const float v = x[ih * xr + iw * xs];
                if (bh < 0 ? !(v != v) : v > best) { best = v; bh = ih; bw = iw; }
            }
        }
    }
    *ah = bh;
    *aw = bw;
    *divisor = real == 0 ? 0 : (d->count_include_pad ? padded : real);
}

#endif
