/* Direct-convolution micro-kernel, portable C: up to 4 output pixels x 32
 * output channels (nbk <= 4 blocks of 8) per call, ur and nbk at run time.
 * The same function serves the interior and the gather entry points: the
 * interior call is turned into pixel coordinates and every tap is checked, so
 * it is correct for any shape (this is the fallback path). */
#include "conv_direct_ukernels.h"

#define CKS_UR 4
#define CKS_NBK 4

static void ckd_scalar(const ck_direct_ukernel_params *p, int gather) {
    const int ur = p->ur, nbk = p->nbk;
    float acc[CKS_UR][CKS_NBK * 8];
    int64_t ih[CKS_UR], iw[CKS_UR], yo[CKS_UR];
    for (int j = 0; j < ur; j++) {
        if (gather) {
            ih[j] = p->ih[j];
            iw[j] = p->iw[j];
            yo[j] = p->yoff[j];
        } else {
            ih[j] = p->ih0;
            iw[j] = p->iw0 + j * p->sw;
            yo[j] = (int64_t)j * 8;
        }
    }
    const int64_t ykb = p->y_kb_stride;
    for (int j = 0; j < ur; j++)
        for (int i = 0; i < nbk; i++)
            for (int k = 0; k < 8; k++)
                acc[j][i * 8 + k] = p->first ? (p->bias ? p->bias[i * 8 + k] : 0.f) : p->y[yo[j] + i * ykb + k];
    const int64_t W8 = p->W * 8, wrs = p->w_tap_stride;
    /* interior calls promise rows outside [r0, r1) are out of the input */
    const int64_t r0 = gather ? 0 : p->r0, r1 = gather ? p->R : p->r1;
    for (int64_t cb = 0; cb < p->ncb; cb++) {
        const int nc = cb == p->ncb - 1 ? (int)p->nc_last : 8;
        const float *xc = p->x + cb * p->x_cb_stride;
        const float *wc = p->w + cb * p->w_cb_stride;
        for (int64_t r = r0; r < r1; r++)
            for (int64_t s = 0; s < p->S; s++) {
                const float *ws = wc + (r * p->S + s) * wrs;
                for (int j = 0; j < ur; j++) {
                    const int64_t iy = ih[j] + r * p->dh, ix = iw[j] + s * p->dw;
                    if (iy < 0 || iy >= p->H || ix < 0 || ix >= p->W) continue;
                    const float *xp = xc + iy * W8 + ix * 8;
                    for (int c = 0; c < nc; c++) {
                        const float xv = xp[c];
                        const float *wv = ws + c * nbk * 8;
                        for (int k = 0; k < nbk * 8; k++) acc[j][k] += xv * wv[k];
                    }
                }
            }
    }
    for (int j = 0; j < ur; j++)
        for (int i = 0; i < nbk; i++)
            for (int k = 0; k < 8; k++) {
                float v = acc[j][i * 8 + k];
                const int64_t o = yo[j] + i * ykb + k;
                if (p->last) {
                    if (p->res) v += p->res[o];
                    switch (p->act) {
                    case CK_ACT_RELU: v = v > 0.f ? v : 0.f; break;
                    case CK_ACT_RELU6: v = v < 0.f ? 0.f : (v > 6.f ? 6.f : v); break;
                    case CK_ACT_LEAKY_RELU: v = v >= 0.f ? v : p->alpha * v; break;
                    default: break;
                    }
                }
                p->y[o] = v;
            }
}

static void ckd_scalar_interior(const ck_direct_ukernel_params *p) {
    const int64_t nrep = p->nrep > 1 ? p->nrep : 1, nrows = p->nrows > 1 ? p->nrows : 1;
    ck_direct_ukernel_params t = *p;
    for (int64_t row = 0; row < nrows; row++) {
        t.x = p->x + row * p->x_row_stride;
        for (int64_t i = 0; i < nrep; i++) {
            t.iw0 = p->iw0 + i * p->ur * p->sw;
            t.y = p->y + row * p->y_row_stride + i * p->ur * 8;
            t.res = p->res ? p->res + row * p->y_row_stride + i * p->ur * 8 : NULL;
            ckd_scalar(&t, 0);
        }
    }
}
static void ckd_scalar_gather(const ck_direct_ukernel_params *p) { ckd_scalar(p, 1); }

const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_4x32__scalar = {
    "4x32__scalar", CKS_NBK, CKS_UR,
    {NULL, ckd_scalar_interior, ckd_scalar_interior, ckd_scalar_interior, ckd_scalar_interior},
    {NULL, ckd_scalar_gather, ckd_scalar_gather, ckd_scalar_gather, ckd_scalar_gather},
};
