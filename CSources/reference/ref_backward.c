/* Reference backward passes: the oracle for the fast backward paths.  Plain
 * loops in gather form (each output element computed on its own), float64
 * accumulation, any layout via ck_offset.  Kept obviously right. */
#include "../backward/backward_internal.h"
#include <math.h>

/* dx[n,c,ih,iw] = sum over k of c's group and (r, s) whose window position
 * (p, q) = ((ih + pt - r*dh)/sh, (iw + pl - s*dw)/sw) is integral and in range. */
void ck_ref_conv2d_backward_data(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *dy, const float *w,
                                 float *dx) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t c = 0; c < d->c; c++) {
            const int64_t g = c / cg, cc = c % cg;
            for (int64_t ih = 0; ih < d->h; ih++)
                for (int64_t iw = 0; iw < d->w; iw++) {
                    double acc = 0.0;
                    for (int64_t kk = 0; kk < kg; kk++) {
                        const int64_t k = g * kg + kk;
                        for (int64_t r = 0; r < d->r; r++) {
                            const int64_t th = ih + d->pad_top - r * d->dilation_h;
                            if (th < 0 || th % d->stride_h) continue;
                            const int64_t p = th / d->stride_h;
                            if (p >= P) continue;
                            for (int64_t s = 0; s < d->s; s++) {
                                const int64_t tw = iw + d->pad_left - s * d->dilation_w;
                                if (tw < 0 || tw % d->stride_w) continue;
                                const int64_t q = tw / d->stride_w;
                                if (q >= Q) continue;
                                acc += (double)w[((k * cg + cc) * d->r + r) * d->s + s] *
                                       (double)dy[ck_offset(d->layout, d->k, P, Q, n, k, p, q)];
                            }
                        }
                    }
                    dx[ck_offset(d->layout, d->c, d->h, d->w, n, c, ih, iw)] = (float)acc;
                }
        }
    if (d->layout == CK_LAYOUT_NCHW8C && d->c % 8)
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t c = d->c; c < (d->c + 7) / 8 * 8; c++)
                for (int64_t ih = 0; ih < d->h; ih++)
                    for (int64_t iw = 0; iw < d->w; iw++) dx[ck_offset(d->layout, d->c, d->h, d->w, n, c, ih, iw)] = 0.f;
}

void ck_ref_conv2d_backward_weights(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *x, const float *dy,
                                    float *dw, float *db) {
    const int64_t cg = d->c / d->groups, kg = d->k / d->groups;
    for (int64_t k = 0; k < d->k; k++) {
        const int64_t g = k / kg;
        for (int64_t c = 0; c < cg; c++)
            for (int64_t r = 0; r < d->r; r++)
                for (int64_t s = 0; s < d->s; s++) {
                    double acc = 0.0;
                    for (int64_t n = 0; n < d->n; n++)
                        for (int64_t p = 0; p < P; p++) {
                            const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
                            if (ih < 0 || ih >= d->h) continue;
                            for (int64_t q = 0; q < Q; q++) {
                                const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (iw < 0 || iw >= d->w) continue;
                                acc += (double)dy[ck_offset(d->layout, d->k, P, Q, n, k, p, q)] *
                                       (double)x[ck_offset(d->layout, d->c, d->h, d->w, n, g * cg + c, ih, iw)];
                            }
                        }
                    dw[((k * cg + c) * d->r + r) * d->s + s] = (float)acc;
                }
        if (db) {
            double acc = 0.0;
            for (int64_t n = 0; n < d->n; n++)
                for (int64_t p = 0; p < P; p++)
                    for (int64_t q = 0; q < Q; q++) acc += (double)dy[ck_offset(d->layout, d->k, P, Q, n, k, p, q)];
            db[k] = (float)acc;
        }
    }
}

/* Gather: every output window (p, q) that contains input (ih, iw) contributes
 * (for a given window the row offset r and column offset s are unique). */
void ck_ref_pool2d_backward(const ck_pool2d_desc *d, int64_t P, int64_t Q, const float *x, const float *dy,
                            float *dx) {
    const int64_t C = d->c, H = d->h, W = d->w;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t c = 0; c < C; c++) {
            /* plane view of x: element (ih, iw) at base + ih*xr + iw*xs */
            const int64_t base = ck_offset(d->layout, C, H, W, n, c, 0, 0);
            const int64_t xs = W > 1 ? ck_offset(d->layout, C, H, W, n, c, 0, 1) - base : 1;
            const int64_t xr = H > 1 ? ck_offset(d->layout, C, H, W, n, c, 1, 0) - base : W * xs;
            for (int64_t ih = 0; ih < H; ih++)
                for (int64_t iw = 0; iw < W; iw++) {
                    double acc = 0.0;
                    for (int64_t r = 0; r < d->r; r++) {
                        const int64_t th = ih + d->pad_top - r * d->dilation_h;
                        if (th < 0 || th % d->stride_h) continue;
                        const int64_t p = th / d->stride_h;
                        if (p >= P) continue;
                        for (int64_t s = 0; s < d->s; s++) {
                            const int64_t tw = iw + d->pad_left - s * d->dilation_w;
                            if (tw < 0 || tw % d->stride_w) continue;
                            const int64_t q = tw / d->stride_w;
                            if (q >= Q) continue;
                            int64_t ah, aw, div;
                            ck_pool_window(d, x ? x + base : NULL, xr, xs, p, q, &ah, &aw, &div);
                            const double g = dy[ck_offset(d->layout, C, P, Q, n, c, p, q)];
                            if (d->kind == CK_POOL_MAX) {
                                if (ah == ih && aw == iw) acc += g;
                            } else if (div > 0) {
                                acc += g / (double)div;
                            }
                        }
                    }
                    dx[base + ih * xr + iw * xs] = (float)acc;
                }
        }
    if (d->layout == CK_LAYOUT_NCHW8C && C % 8)
        for (int64_t n = 0; n < d->n; n++)
            for (int64_t c = C; c < (C + 7) / 8 * 8; c++)
                for (int64_t ih = 0; ih < H; ih++)
                    for (int64_t iw = 0; iw < W; iw++) dx[ck_offset(d->layout, C, H, W, n, c, ih, iw)] = 0.f;
}

void ck_ref_dense_backward(const ck_dense_desc *d, const float *x, const float *w, const float *dy, float *dx,
                           float *dw, float *db) {
    const int64_t N = d->n, I = d->in_features, O = d->out_features;
    if (dx)
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < I; i++) {
                double acc = 0.0;
                for (int64_t o = 0; o < O; o++) acc += (double)dy[n * O + o] * (double)w[o * I + i];
                dx[n * I + i] = (float)acc;
            }
    if (dw)
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++) {
                double acc = 0.0;
                for (int64_t n = 0; n < N; n++) acc += (double)dy[n * O + o] * (double)x[n * I + i];
                dw[o * I + i] = (float)acc;
            }
    if (db)
        for (int64_t o = 0; o < O; o++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++) acc += (double)dy[n * O + o];
            db[o] = (float)acc;
        }
}
