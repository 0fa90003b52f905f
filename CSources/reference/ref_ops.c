/* Reference pooling and dense layers: the oracle.  Plain loops, float64 sums. */
#include "internal.h"
#include <math.h>

void ck_ref_pool2d(const ck_pool2d_desc *d, int64_t P, int64_t Q, const float *x, float *y) {
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t c = 0; c < d->c; c++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double acc = d->kind == CK_POOL_MAX ? -INFINITY : 0.0;
                    int64_t real = 0, padded = 0;
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
                            const double v = x[ck_offset(d->layout, d->c, d->h, d->w, n, c, ih, iw)];
                            if (d->kind == CK_POOL_MAX) { if (v > acc) acc = v; }
                            else acc += v;
                        }
                    }
                    float out;
                    if (real == 0) out = 0.f; /* a window that holds no input element (only possible with dilation) */
                    else if (d->kind == CK_POOL_MAX) out = (float)acc;
                    else out = (float)(acc / (double)(d->count_include_pad ? padded : real));
                    y[ck_offset(d->layout, d->c, P, Q, n, c, p, q)] = out;
                }
    if (d->layout == CK_LAYOUT_NCHW8C && d->c % 8) {
        /* keep the blocked layout's channel tail zero */
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t c = d->c; c < (d->c + 7) / 8 * 8; c++)
                for (int64_t p = 0; p < P; p++)
                    for (int64_t q = 0; q < Q; q++) y[ck_offset(d->layout, d->c, P, Q, n, c, p, q)] = 0.f;
    }
}

void ck_ref_dense(const ck_dense_desc *d, const float *x, const float *w, const float *b, float *y) {
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t o = 0; o < d->out_features; o++) {
            double acc = b ? (double)b[o] : 0.0;
            for (int64_t i = 0; i < d->in_features; i++)
                acc += (double)w[o * d->in_features + i] * (double)x[n * d->in_features + i];
            y[n * d->out_features + o] = ck_activate(d->activation, (float)acc);
        }
}
