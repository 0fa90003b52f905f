/* Winograd F(m x m, 3 x 3): portable transforms and GEMM panel kernel (any m,
 * driven by the sparse transform matrices in the geometry).  Channels are
 * processed 8 at a time so the compiler can vectorise the lane loops. */
#include "winograd_kernels.h"

#define L 8

void ck_wino_input__scalar(const ck_wino_geom *g, const float *x, int64_t t, float *V, int64_t vs) {
    const int a = g->alpha;
    int64_t n, th, tw;
    ck_wino_tile_pos(g, t, &n, &th, &tw);
    const int64_t ih0 = th * g->m - g->pad_top, iw0 = tw * g->m - g->pad_left;
    const int64_t C = g->C, H = g->H, W = g->W;
    float d[CK_WINO_MAX_ALPHA * CK_WINO_MAX_ALPHA][L], tmp[CK_WINO_MAX_ALPHA * CK_WINO_MAX_ALPHA][L];
    for (int64_t c0 = 0; c0 < C; c0 += L) {
        const int cl = (int)(C - c0 < L ? C - c0 : L);
        for (int i = 0; i < a; i++) {
            const int64_t ih = ih0 + i;
            for (int j = 0; j < a; j++) {
                const int64_t iw = iw0 + j;
                float *dv = d[i * a + j];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                    for (int l = 0; l < L; l++) dv[l] = 0.f;
                    continue;
                }
                if (g->layout == CK_LAYOUT_NCHW8C) {
                    const float *p = x + (((n * ((C + 7) / 8) + c0 / L) * H + ih) * W + iw) * L;
                    for (int l = 0; l < cl; l++) dv[l] = p[l];
                } else if (g->layout == CK_LAYOUT_NHWC) {
                    const float *p = x + ((n * H + ih) * W + iw) * C + c0;
                    for (int l = 0; l < cl; l++) dv[l] = p[l];
                } else {
                    const float *p = x + ((n * C + c0) * H + ih) * W + iw;
                    for (int l = 0; l < cl; l++) dv[l] = p[l * H * W];
                }
                for (int l = cl; l < L; l++) dv[l] = 0.f;
            }
        }
        /* tmp = B^T d (columns), then V = tmp B (rows) */
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) {
                float acc[L] = {0};
                for (int e = 0; e < g->bt.n[i]; e++) {
                    const float cf = g->bt.c[i][e];
                    const float *src = d[g->bt.idx[i][e] * a + j];
                    for (int l = 0; l < L; l++) acc[l] += cf * src[l];
                }
                for (int l = 0; l < L; l++) tmp[i * a + j][l] = acc[l];
            }
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) {
                float acc[L] = {0};
                for (int e = 0; e < g->bt.n[j]; e++) {
                    const float cf = g->bt.c[j][e];
                    const float *src = tmp[i * a + g->bt.idx[j][e]];
                    for (int l = 0; l < L; l++) acc[l] += cf * src[l];
                }
                float *dst = V + (int64_t)(i * a + j) * vs + c0;
                for (int l = 0; l < cl; l++) dst[l] = acc[l];
            }
    }
}

void ck_wino_output__scalar(const ck_wino_geom *g, const float *M, int64_t ms, int64_t t, const float *residual,
                            float *y) {
    const int a = g->alpha, m = g->m;
    int64_t n, th, tw;
    ck_wino_tile_pos(g, t, &n, &th, &tw);
    const int64_t p0 = th * m, q0 = tw * m;
    const int64_t K = g->K, P = g->P, Q = g->Q;
    float tmp[CK_WINO_MAX_ALPHA * CK_WINO_MAX_ALPHA][L];
    for (int64_t k0 = 0; k0 < K; k0 += L) {
        const int kl = (int)(K - k0 < L ? K - k0 : L);
        /* tmp (m x alpha) = A^T Mt */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < a; j++) {
                float acc[L] = {0};
                for (int e = 0; e < g->at.n[i]; e++) {
                    const float cf = g->at.c[i][e];
                    const float *src = M + (int64_t)(g->at.idx[i][e] * a + j) * ms + k0;
                    for (int l = 0; l < L; l++) acc[l] += cf * src[l];
                }
                for (int l = 0; l < L; l++) tmp[i * a + j][l] = acc[l];
            }
        for (int i = 0; i < m; i++) {
            const int64_t p = p0 + i;
            if (p >= P) break;
            for (int j = 0; j < m; j++) {
                const int64_t q = q0 + j;
                if (q >= Q) break;
                float acc[L];
                for (int l = 0; l < L; l++) acc[l] = g->bias[k0 + l];
                for (int e = 0; e < g->at.n[j]; e++) {
                    const float cf = g->at.c[j][e];
                    const float *src = tmp[i * a + g->at.idx[j][e]];
                    for (int l = 0; l < L; l++) acc[l] += cf * src[l];
                }
                if (g->layout == CK_LAYOUT_NCHW8C) {
                    /* [N][K/8][P][Q][8]: the channel tail is written as zeros */
                    const int64_t o = (((n * ((K + 7) / 8) + k0 / L) * P + p) * Q + q) * L;
                    for (int l = 0; l < L; l++) {
                        float v = acc[l];
                        if (residual) v += residual[o + l];
                        y[o + l] = l < kl ? ck_activate(g->act, v) : 0.f;
                    }
                } else if (g->layout == CK_LAYOUT_NHWC) {
                    const int64_t o = ((n * P + p) * Q + q) * K + k0;
                    for (int l = 0; l < kl; l++) {
                        float v = acc[l];
                        if (residual) v += residual[o + l];
                        y[o + l] = ck_activate(g->act, v);
                    }
                } else {
                    const int64_t o = ((n * K + k0) * P + p) * Q + q;
                    for (int l = 0; l < kl; l++) {
                        float v = acc[l];
                        if (residual) v += residual[o + l * P * Q];
                        y[o + l * P * Q] = ck_activate(g->act, v);
                    }
                }
            }
        }
    }
}

void ck_wino_gemm__scalar(int64_t rows, int64_t C, const float *A, int64_t lda, const float *Bp, float *Mo,
                          int64_t ldm) {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        float acc[4][CK_WINO_NR] = {{0}};
        const float *a0 = A + r * lda;
        for (int64_t c = 0; c < C; c++) {
            const float *b = Bp + c * CK_WINO_NR;
            for (int i = 0; i < 4; i++) {
                const float av = a0[i * lda + c];
                for (int l = 0; l < CK_WINO_NR; l++) acc[i][l] += av * b[l];
            }
        }
        for (int i = 0; i < 4; i++)
            for (int l = 0; l < CK_WINO_NR; l++) Mo[(r + i) * ldm + l] = acc[i][l];
    }
    for (; r < rows; r++) {
        float acc[CK_WINO_NR] = {0};
        const float *a0 = A + r * lda;
        for (int64_t c = 0; c < C; c++) {
            const float *b = Bp + c * CK_WINO_NR;
            const float av = a0[c];
            for (int l = 0; l < CK_WINO_NR; l++) acc[l] += av * b[l];
        }
        for (int l = 0; l < CK_WINO_NR; l++) Mo[r * ldm + l] = acc[l];
    }
}
