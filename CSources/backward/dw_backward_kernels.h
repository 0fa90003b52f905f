/* Depthwise backward kernels on one 8-channel block (one vector of 8 lanes per
 * pixel), included twice by conv_backward_dw.c: once portable (DWB_FN suffix
 * _generic) and, on x86-64, once behind target("avx2,fma") (suffix _avx2).
 * No include guard on purpose.  Every buffer is an 8-lane plane [pixel][8];
 * tail lanes hold zeros, so all 8 lanes are always computed.
 *
 * Padded coordinates: input row u = ih + pad_top, column v = iw + pad_left;
 * output (p, q) tap (r, s) reads (u, v) = (p*sh + r*dh, q*sw + s*dw). */

/* dx gather: out[u][v] (padded input coordinates u = ih + pad_top,
 * v = iw + pad_left; rows [u0, u1), columns [v0, v1)) = sum over the taps
 * (r, s) with u - r*dh = p*sh and v - s*dw = q*sw of w[r][s]*dy[p][q],
 * written to dst (pixel stride 8, row stride ldd, origin at (u0, v0)).  dy is
 * read from a zero-bordered copy dyp (origin at (mh, mw), row stride ldp) so
 * the taps need no bounds checks.  Columns run by phase v mod sw (the valid
 * s are fixed per phase and consecutive columns of a phase read consecutive
 * q), four output pixels at a time; no multiply by a skipped tap. */
DWB_ATTR static void DWB_FN(dwb_data_gather)(const dwb_geom *g, const float *dyp, int64_t mh, int64_t mw, int64_t ldp,
                                             const float *wb, float *dst, int64_t ldd, int64_t u0, int64_t u1,
                                             int64_t v0, int64_t v1) {
    const int64_t R = g->R, S = g->S, sh = g->sh, sw = g->sw, dh = g->dh, dw = g->dw;
    if (R == 3 && S == 3 && sh == 1 && sw == 1 && dw == 1) {
        /* 3x3, stride 1, column dilation 1: per row of taps, the six dy vectors
         * q-2 .. q+3 feed the 12 FMAs of four output pixels */
        const int64_t vr = v0 + (v1 - v0) / 4 * 4;
        for (int64_t u = u0; u < u1; u++) {
            float *out = dst + (u - u0) * ldd * 8;
            for (int64_t v = v0; v < vr; v += 4) {
                v8 a0 = DWB_ZERO, a1 = DWB_ZERO, a2 = DWB_ZERO, a3 = DWB_ZERO;
                for (int r = 0; r < 3; r++) {
                    const float *x = dyp + ((u - r * dh + mh) * ldp + v + mw) * 8;
                    const v8 w0 = DWB_LD(wb + r * 24), w1 = DWB_LD(wb + r * 24 + 8), w2 = DWB_LD(wb + r * 24 + 16);
                    const v8 xm2 = DWB_LD(x - 16), xm1 = DWB_LD(x - 8), x0 = DWB_LD(x), x1 = DWB_LD(x + 8);
                    const v8 x2 = DWB_LD(x + 16), x3 = DWB_LD(x + 24);
                    a0 = DWB_FMA(w0, x0, a0);
                    a1 = DWB_FMA(w0, x1, a1);
                    a2 = DWB_FMA(w0, x2, a2);
                    a3 = DWB_FMA(w0, x3, a3);
                    a0 = DWB_FMA(w1, xm1, a0);
                    a1 = DWB_FMA(w1, x0, a1);
                    a2 = DWB_FMA(w1, x1, a2);
                    a3 = DWB_FMA(w1, x2, a3);
                    a0 = DWB_FMA(w2, xm2, a0);
                    a1 = DWB_FMA(w2, xm1, a1);
                    a2 = DWB_FMA(w2, x0, a2);
                    a3 = DWB_FMA(w2, x1, a3);
                }
                float *o = out + (v - v0) * 8;
                DWB_ST(o, a0);
                DWB_ST(o + 8, a1);
                DWB_ST(o + 16, a2);
                DWB_ST(o + 24, a3);
            }
            for (int64_t v = vr; v < v1; v++) { /* the last < 4 columns */
                v8 a0 = DWB_ZERO, a1 = DWB_ZERO, a2 = DWB_ZERO;
                const float *x = dyp + ((u + mh) * ldp + v + mw) * 8;
                for (int j = 0; j < 3; j++) {
                    a0 = DWB_FMA(DWB_LD(wb + j * 8), DWB_LD(x - j * 8), a0);
                    a1 = DWB_FMA(DWB_LD(wb + 24 + j * 8), DWB_LD(x - (dh * ldp + j) * 8), a1);
                    a2 = DWB_FMA(DWB_LD(wb + 48 + j * 8), DWB_LD(x - (2 * dh * ldp + j) * 8), a2);
                }
                DWB_ST(out + (v - v0) * 8, a0 + a1 + a2);
            }
        }
        return;
    }
    const float *rows[16];
    int64_t rr[16], sv[16], q0[16];
    for (int64_t u = u0; u < u1; u++) {
        /* valid rows: r with (u - r*dh) divisible by sh */
        int nr = 0;
        for (int64_t r = 0; r < R; r++) {
            const int64_t num = u - r * dh;
            if (num % sh) continue;
            rows[nr] = dyp + (num / sh + mh) * ldp * 8;
            rr[nr++] = r;
        }
        float *out = dst + (u - u0) * ldd * 8;
        for (int64_t ph = 0; ph < sw; ph++) {
            int64_t vs = v0 + ((ph - v0 % sw) % sw + sw) % sw;
            if (vs >= v1) continue;
            const int64_t cnt = (v1 - vs + sw - 1) / sw;
            int ns = 0;
            for (int64_t s = 0; s < S; s++) {
                const int64_t num = vs - s * dw;
                if (num % sw) continue;
                sv[ns] = s;
                q0[ns++] = num / sw + mw;
            }
            float *o = out + (vs - v0) * 8;
            int64_t k = 0;
            for (; k + 4 <= cnt; k += 4) {
                v8 a0 = DWB_ZERO, a1 = DWB_ZERO, a2 = DWB_ZERO, a3 = DWB_ZERO;
                for (int i = 0; i < nr; i++)
                    for (int j = 0; j < ns; j++) {
                        const v8 wv = DWB_LD(wb + (rr[i] * S + sv[j]) * 8);
                        const float *x = rows[i] + (q0[j] + k) * 8;
                        a0 = DWB_FMA(wv, DWB_LD(x), a0);
                        a1 = DWB_FMA(wv, DWB_LD(x + 8), a1);
                        a2 = DWB_FMA(wv, DWB_LD(x + 16), a2);
                        a3 = DWB_FMA(wv, DWB_LD(x + 24), a3);
                    }
                float *ok = o + k * sw * 8;
                DWB_ST(ok, a0);
                DWB_ST(ok + sw * 8, a1);
                DWB_ST(ok + 2 * sw * 8, a2);
                DWB_ST(ok + 3 * sw * 8, a3);
            }
            for (; k < cnt; k++) {
                v8 a0 = DWB_ZERO;
                for (int i = 0; i < nr; i++)
                    for (int j = 0; j < ns; j++)
                        a0 = DWB_FMA(DWB_LD(wb + (rr[i] * S + sv[j]) * 8), DWB_LD(rows[i] + (q0[j] + k) * 8), a0);
                DWB_ST(o + k * sw * 8, a0);
            }
        }
    }
}

/* dw (+ db) of one plane: acc[(r*S + s)*8 + lane] += sum_{p,q} dy[p][q] *
 * xp[p*sh + r*dh][q*sw + s*dw] (xp: padded input, row stride ldb pixels),
 * bacc[lane] += sum dy.  Float partial sums per output row, added in double. */
DWB_ATTR static void DWB_FN(dwb_weights_plane)(const dwb_geom *g, const float *dyb, const float *xp, double *acc,
                                               double *bacc) {
    const int64_t P = g->P, Q = g->Q, R = g->R, S = g->S, sh = g->sh, sw = g->sw, dh = g->dh, dw = g->dw, ldb = g->ldb;
    if (R == 3 && S == 3) {
        for (int64_t p = 0; p < P; p++) {
            const float *gr = dyb + p * Q * 8;
            const float *x0 = xp + p * sh * ldb * 8, *x1 = x0 + dh * ldb * 8, *x2 = x1 + dh * ldb * 8;
            v8 c00 = DWB_ZERO, c01 = DWB_ZERO, c02 = DWB_ZERO, c10 = DWB_ZERO, c11 = DWB_ZERO, c12 = DWB_ZERO;
            v8 c20 = DWB_ZERO, c21 = DWB_ZERO, c22 = DWB_ZERO, bs = DWB_ZERO;
            const int64_t d1 = dw * 8, d2 = 2 * dw * 8;
            for (int64_t q = 0; q < Q; q++) {
                const v8 gv = DWB_LD(gr + q * 8);
                const int64_t o = q * sw * 8;
                bs = bs + gv;
                c00 = DWB_FMA(gv, DWB_LD(x0 + o), c00);
                c01 = DWB_FMA(gv, DWB_LD(x0 + o + d1), c01);
                c02 = DWB_FMA(gv, DWB_LD(x0 + o + d2), c02);
                c10 = DWB_FMA(gv, DWB_LD(x1 + o), c10);
                c11 = DWB_FMA(gv, DWB_LD(x1 + o + d1), c11);
                c12 = DWB_FMA(gv, DWB_LD(x1 + o + d2), c12);
                c20 = DWB_FMA(gv, DWB_LD(x2 + o), c20);
                c21 = DWB_FMA(gv, DWB_LD(x2 + o + d1), c21);
                c22 = DWB_FMA(gv, DWB_LD(x2 + o + d2), c22);
            }
            const v8 cs[9] = {c00, c01, c02, c10, c11, c12, c20, c21, c22};
            for (int t = 0; t < 9; t++)
                for (int j = 0; j < 8; j++) acc[t * 8 + j] += (double)cs[t][j];
            for (int j = 0; j < 8; j++) bacc[j] += (double)bs[j];
        }
        return;
    }
    for (int64_t p = 0; p < P; p++) {
        const float *gr = dyb + p * Q * 8;
        v8 bs = DWB_ZERO;
        for (int64_t q = 0; q < Q; q++) bs = bs + DWB_LD(gr + q * 8);
        for (int j = 0; j < 8; j++) bacc[j] += (double)bs[j];
        for (int64_t r = 0; r < R; r++) {
            const float *xr = xp + (p * sh + r * dh) * ldb * 8;
            for (int64_t s = 0; s < S; s++) {
                const float *xs = xr + s * dw * 8;
                v8 a0 = DWB_ZERO, a1 = DWB_ZERO;
                int64_t q = 0;
                for (; q + 2 <= Q; q += 2) {
                    a0 = DWB_FMA(DWB_LD(gr + q * 8), DWB_LD(xs + q * sw * 8), a0);
                    a1 = DWB_FMA(DWB_LD(gr + q * 8 + 8), DWB_LD(xs + (q + 1) * sw * 8), a1);
                }
                if (q < Q) a0 = DWB_FMA(DWB_LD(gr + q * 8), DWB_LD(xs + q * sw * 8), a0);
                a0 = a0 + a1;
                double *ac = acc + (r * S + s) * 8;
                for (int j = 0; j < 8; j++) ac[j] += (double)a0[j];
            }
        }
    }
}
