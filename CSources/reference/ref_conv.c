/* Reference convolution and transposed convolution: the oracle.  Plain loops,
 * float64 accumulation, any layout via ck_offset.  Kept obviously right. */
#include "internal.h"

void ck_ref_conv2d(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *x, const float *w,
                   const float *b, const float *residual, float *y) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t k = 0; k < d->k; k++) {
            const int64_t g = k / kg;
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double acc = b ? (double)b[k] : 0.0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t r = 0; r < d->r; r++) {
                            const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
                            if (ih < 0 || ih >= d->h) continue;
                            for (int64_t s = 0; s < d->s; s++) {
                                const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (iw < 0 || iw >= d->w) continue;
                                acc += (double)w[((k * cg + c) * d->r + r) * d->s + s] *
                                       (double)x[ck_offset(d->layout, d->c, d->h, d->w, n, g * cg + c, ih, iw)];
                            }
                        }
                    const int64_t o = ck_offset(d->layout, d->k, P, Q, n, k, p, q);
                    if (residual) acc += (double)residual[o];
                    y[o] = ck_activate(d->activation, (float)acc);
                }
        }
    if (d->layout == CK_LAYOUT_NCHW8C && d->k % 8) {
        /* keep the blocked layout's channel tail zero */
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = d->k; k < (d->k + 7) / 8 * 8; k++)
                for (int64_t p = 0; p < P; p++)
                    for (int64_t q = 0; q < Q; q++) y[ck_offset(d->layout, d->k, P, Q, n, k, p, q)] = 0.f;
    }
}

/* Transposed convolution as the scatter form of its definition:
 * y[n, g*Kg + k, ih*sh - pt + r*dh, iw*sw - pl + s*dw] += x[n, g*Cg + c, ih, iw] * w[g*Cg + c, k, r, s]. */
void ck_ref_conv_transpose2d(const ck_conv_transpose2d_desc *d, int64_t P, int64_t Q, const float *x,
                             const float *w, const float *b, float *y) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t k = 0; k < d->k; k++) {
            const int64_t g = k / kg, kk = k % kg;
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double acc = b ? (double)b[k] : 0.0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t r = 0; r < d->r; r++) {
                            /* p = ih*sh - pt + r*dh  =>  ih = (p + pt - r*dh) / sh when divisible */
                            const int64_t th = p + d->pad_top - r * d->dilation_h;
                            if (th < 0 || th % d->stride_h) continue;
                            const int64_t ih = th / d->stride_h;
                            if (ih >= d->h) continue;
                            for (int64_t s = 0; s < d->s; s++) {
                                const int64_t tw = q + d->pad_left - s * d->dilation_w;
                                if (tw < 0 || tw % d->stride_w) continue;
                                const int64_t iw = tw / d->stride_w;
                                if (iw >= d->w) continue;
                                acc += (double)w[(((g * cg + c) * kg + kk) * d->r + r) * d->s + s] *
                                       (double)x[ck_offset(d->layout, d->c, d->h, d->w, n, g * cg + c, ih, iw)];
                            }
                        }
                    y[ck_offset(d->layout, d->k, P, Q, n, k, p, q)] = ck_activate(d->activation, (float)acc);
                }
        }
    if (d->layout == CK_LAYOUT_NCHW8C && d->k % 8) {
        /* keep the blocked layout's channel tail zero */
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t k = d->k; k < (d->k + 7) / 8 * 8; k++)
                for (int64_t p = 0; p < P; p++)
                    for (int64_t q = 0; q < Q; q++) y[ck_offset(d->layout, d->k, P, Q, n, k, p, q)] = 0.f;
    }
}
