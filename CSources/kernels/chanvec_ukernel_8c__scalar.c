/* Portable channel-vector kernels (depthwise conv, pooling): the fallback and
 * the definition the SIMD kernels must match. */
#include "chanvec_kernels.h"
#include <math.h>

void ck_f32_dwconv_ukernel_8c__scalar(const ck_chanvec_geom *g, const float *x, const float *w, const float *b,
                                      const float *res, float *y, int64_t p0, int64_t p1, ck_activation act) {
    const int in_kernel = ck_chanvec_act_in_kernel(act);
    for (int64_t p = p0; p < p1; p++)
        for (int64_t q = 0; q < g->Q; q++) {
            float acc[8];
            for (int l = 0; l < 8; l++) acc[l] = b ? b[l] : 0.f;
            for (int64_t r = 0; r < g->R; r++) {
                const int64_t ih = p * g->sh - g->pt + r * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                for (int64_t s = 0; s < g->S; s++) {
                    const int64_t iw = q * g->sw - g->pl + s * g->dw;
                    if (iw < 0 || iw >= g->W) continue;
                    const float *xv = x + ih * g->x_row + iw * g->x_pix;
                    const float *wv = w + (r * g->S + s) * 8;
                    for (int l = 0; l < g->nc; l++) acc[l] += wv[l] * xv[l];
                }
            }
            float *yv = y + p * g->y_row + q * g->y_pix;
            const float *rv = res ? res + p * g->y_row + q * g->y_pix : NULL;
            for (int l = 0; l < g->nc; l++) {
                float v = acc[l] + (rv ? rv[l] : 0.f);
                yv[l] = in_kernel ? ck_activate(act, v) : v;
            }
        }
}

void ck_f32_pool_ukernel_8c__scalar(const ck_chanvec_geom *g, const float *x, float *y, int64_t p0, int64_t p1,
                                    int is_max, int count_include_pad, int64_t pb, int64_t pr) {
    for (int64_t p = p0; p < p1; p++)
        for (int64_t q = 0; q < g->Q; q++) {
            float acc[8];
            int64_t real = 0, padded = 0;
            for (int l = 0; l < 8; l++) acc[l] = is_max ? -INFINITY : 0.f;
            for (int64_t r = 0; r < g->R; r++) {
                const int64_t ih = p * g->sh - g->pt + r * g->dh;
                const int in_h = ih >= 0 && ih < g->H, pad_h = ih >= -g->pt && ih < g->H + pb;
                for (int64_t s = 0; s < g->S; s++) {
                    const int64_t iw = q * g->sw - g->pl + s * g->dw;
                    const int in_w = iw >= 0 && iw < g->W, pad_w = iw >= -g->pl && iw < g->W + pr;
                    if (pad_h && pad_w) padded++;
                    if (!(in_h && in_w)) continue;
                    real++;
                    const float *xv = x + ih * g->x_row + iw * g->x_pix;
                    for (int l = 0; l < g->nc; l++) {
                        if (is_max) acc[l] = xv[l] > acc[l] ? xv[l] : acc[l];
                        else acc[l] += xv[l];
                    }
                }
            }
            float *yv = y + p * g->y_row + q * g->y_pix;
            const float div = (float)(count_include_pad ? padded : real);
            for (int l = 0; l < g->nc; l++) yv[l] = real == 0 ? 0.f : (is_max ? acc[l] : acc[l] / div);
        }
}
