/* Convolution backward passes: data gradient (a transposed convolution) and
 * weight/bias gradients, as plans (ck_conv2d_backward_plan_create).
 *
 * Fast path (CK_ALGO_IM2COL): GEMMs on column matrices, with the same column
 * layouts as the forward im2col algorithm (algos/conv_im2col_gemm.c).
 *
 * NCHW, per image, per block of output rows [p0, p0 + rows), cols = rows*Q:
 *   data:    col_g (Cg*R*S x cols) = W_g^T (Cg*R*S x Kg) . dY_g (Kg x cols)
 *            then col2im: scatter-add into dx; threads split the input
 *            channels (GEMM rows, col rows and dx planes: no races).
 *   weights: dW_g (Kg x Cg*R*S) += dY_g (Kg x cols) . col_g^T, col = im2col(x),
 *            accumulated over blocks and images by the GEMM (beta = 1);
 *            threads split the col rows (= the columns of dW_g).
 * NHWC, over blocks of global output rows t = n*P + p (contiguous in dy):
 *   data:    col (rows*Q x C*R*S, each pixel's columns [g][r][s][c])
 *            col_g = dY_g (M x Kg, ld K) . Wp_g (Kg x R*S*Cg), Wp packed per
 *            call; then col2im in gather form: OpenMP over input rows, each
 *            input pixel sums the column entries that read it (no races).
 *   weights: dWp_g (Kg x R*S*Cg) += dY_g^T . col_g, then unpacked to OIHW.
 * NCHW with N > 1 and small images (P*Q <= CK_BWD_BATCH_MAX_PQ): blocks of
 *   nb whole images side by side (block_rows = nb*P; dy packed to K x nb*P*Q
 *   after the column buffer), so the GEMMs get ~1024 columns instead of P*Q
 *   (ResNet layer 4 at 112x112 input: 16) and read W or write dW once per
 *   block instead of once per image.
 * 1x1, stride 1, unpadded: no column matrix, the GEMMs read/write x and dx.
 *
 * Workspace: [column buffer][packed weights (NHWC) | packed dy (NCHW image blocks)].  The column buffer is
 * blocked by output rows to fit the plan's workspace_limit (as the forward).
 * Threading: one pool, OpenMP's.  OpenBLAS is set to one thread and every
 * GEMM runs on a slice owned by one OpenMP thread (see gemm_threads): the
 * earlier scheme (threaded OpenBLAS between OpenMP im2col/col2im loops) had
 * the two pools spinning against each other and ran slower at 2 threads than
 * at 1 on this project's 2-core machine.  NCHW passes sync once per call;
 * NHWC ones once per GEMM and col2im block. */
#include "backward_internal.h"
#include <stdlib.h>
#include <string.h>

#if defined(CK_HAVE_OPENBLAS)
#include <cblas.h>
#define CK_BWD_HAVE_BLAS 1
#define CK_BWD_IMPL "conv-backward/im2col-openblas"
#elif defined(CK_HAVE_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define CK_BWD_HAVE_BLAS 1
#define CK_BWD_IMPL "conv-backward/im2col-accelerate"
#endif

/* NCHW, N > 1, P*Q at most this: blocks of whole images (see bwd_size_fast),
 * about CK_BWD_BATCH_COLS GEMM columns each. */
#define CK_BWD_BATCH_MAX_PQ 400
#define CK_BWD_BATCH_COLS 1024

static int is_direct_1x1(const ck_conv2d_desc *d) {
    return d->r == 1 && d->s == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_top == 0 && d->pad_left == 0 &&
           d->pad_bottom == 0 && d->pad_right == 0;
}

/* ---- plan ------------------------------------------------------------- */

/* Size the workspace of the fast path: column buffer blocked by output rows. */
static ck_status bwd_size_fast(ck_plan *p) {
    ck_conv2d_bwd_state *st = &p->d.conv_bwd;
    const ck_conv2d_desc *d = &st->conv;
    const int64_t RS = d->r * d->s, kred = d->c / d->groups * RS;
    const int nhwc = d->layout == CK_LAYOUT_NHWC;
    st->direct = is_direct_1x1(d);
    st->depthwise = d->groups > 1 && d->groups == d->c && d->groups == d->k;
    st->pack_floats = nhwc ? (d->k * kred + 15) / 16 * 16 : 0;
    int64_t dw_floats;
    if (st->depthwise && ck_dw_backward_size(p, &dw_floats)) {
        /* 8-channel-block path (conv_backward_dw.c) */
        st->depthwise = 2;
        st->pack_floats = 0;
        p->workspace_size = (size_t)dw_floats * sizeof(float);
        return CK_OK;
    }
    const size_t pack_bytes = (size_t)st->pack_floats * sizeof(float);
    if (pack_bytes > p->workspace_limit)
        return ck_fail(CK_ERR_WORKSPACE_LIMIT,
                       "conv backward (NHWC) needs %zu bytes of workspace for the repacked weights, above the limit of %zu",
                       pack_bytes, p->workspace_limit);
    st->col_floats = 0;
    st->block_rows = 0;
    if (!nhwc && !st->direct && !st->depthwise && d->n > 1 && p->out_h * p->out_w <= CK_BWD_BATCH_MAX_PQ) {
        /* small images: blocks of nb whole images side by side (block_rows =
         * nb*P), dy packed to K x nb*P*Q after the column buffer, so each GEMM
         * has nb*P*Q columns instead of P*Q */
        const int64_t PQ = p->out_h * p->out_w;
        int64_t nb = (CK_BWD_BATCH_COLS + PQ - 1) / PQ;
        if (nb > d->n) nb = d->n;
        const size_t per_image = (size_t)((d->c * RS + d->k) * PQ) * sizeof(float);
        if (p->workspace_limit > 128 && (size_t)nb * per_image > p->workspace_limit - 128)
            nb = (int64_t)((p->workspace_limit - 128) / per_image);
        if (nb >= 2) {
            const int64_t blocks = (d->n + nb - 1) / nb;
            nb = (d->n + blocks - 1) / blocks; /* equal blocks */
            st->block_rows = nb * p->out_h;
            st->col_floats = (d->c * RS * nb * PQ + 15) / 16 * 16;
            st->pack_floats = (d->k * nb * PQ + 15) / 16 * 16;
            p->workspace_size = (size_t)(st->col_floats + st->pack_floats) * sizeof(float);
            return CK_OK;
        }
    }
    if (!st->direct && !st->depthwise) {
        const int64_t P = p->out_h, Q = p->out_w;
        const int64_t total_rows = nhwc ? d->n * P : P;
        int64_t row_floats;
        CK_CHECK(ck_mul_checked(d->c * RS, Q, &row_floats, "conv backward column-matrix row"));
        const size_t budget = p->workspace_limit - pack_bytes;
        const size_t row_bytes = (size_t)row_floats * sizeof(float);
        if (row_bytes + 64 > budget)
            return ck_fail(CK_ERR_WORKSPACE_LIMIT,
                           "conv backward needs at least %zu bytes of workspace (one output row of the column matrix: "
                           "C*R*S=%lld x Q=%lld floats%s), above the limit of %zu bytes",
                           row_bytes + pack_bytes, (long long)(d->c * RS), (long long)Q,
                           nhwc ? ", plus the repacked weights" : "", p->workspace_limit);
        int64_t max_rows = (int64_t)((budget - 64) / row_bytes);
        if (max_rows > total_rows) max_rows = total_rows;
        const int64_t nblocks = (total_rows + max_rows - 1) / max_rows;
        st->block_rows = (total_rows + nblocks - 1) / nblocks;
        st->col_floats = (st->block_rows * row_floats + 15) / 16 * 16;
    }
    p->workspace_size = (size_t)(st->col_floats + st->pack_floats) * sizeof(float);
    return CK_OK;
}

ck_status ck_conv2d_backward_plan_create(const ck_conv2d_desc *desc, const ck_plan_options *options, ck_plan **out) {
    ck_clear_error();
    CK_CHECK_PTR(out, "plan");
    *out = NULL;
    ck_plan_options o;
    CK_CHECK(ck_plan_options_resolve(options, &o));
    int64_t P, Q;
    CK_CHECK(ck_conv2d_validate(desc, &P, &Q));
    ck_algorithm algo = o.algorithm;
    const int gemm_layout = desc->layout == CK_LAYOUT_NCHW || desc->layout == CK_LAYOUT_NHWC;
#if defined(CK_BWD_HAVE_BLAS)
    const int have_blas = 1;
#else
    const int have_blas = 0;
#endif
    if (algo == CK_ALGO_AUTO) {
        algo = have_blas && gemm_layout ? CK_ALGO_IM2COL : CK_ALGO_REFERENCE;
    } else if (algo == CK_ALGO_IM2COL) {
        if (!have_blas)
            return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "conv backward: im2col needs BLAS, which this build lacks");
        if (!gemm_layout)
            return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM,
                           "conv backward: im2col serves layouts NCHW and NHWC, not NCHW8c (convert with "
                           "ck_convert_layout or use the reference algorithm)");
    } else if (algo != CK_ALGO_REFERENCE) {
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM,
                       "conv backward supports algorithms auto, reference and im2col, not '%s'", ck_algorithm_name(algo));
    }
    ck_plan *p = calloc(1, sizeof *p);
    if (!p) return ck_fail(CK_ERR_OUT_OF_MEMORY, "allocating a plan");
    ck_plan_init_common(p, CK_OP_CONV2D_BACKWARD, &o);
    p->algorithm = algo;
    p->d.conv_bwd.conv = *desc;
    p->out_h = P;
    p->out_w = Q;
    if (algo == CK_ALGO_IM2COL) {
#if defined(CK_BWD_HAVE_BLAS)
        p->impl_name = CK_BWD_IMPL;
#endif
        p->d.conv_bwd.fast = 1;
        ck_status st = bwd_size_fast(p);
        if (p->d.conv_bwd.depthwise) p->impl_name = "conv-backward/depthwise";
        if (st != CK_OK) {
            ck_plan_destroy(p);
            return st;
        }
    }
    *out = p;
    return CK_OK;
}

static ck_status bwd_check_plan(const ck_plan *p) {
    CK_CHECK_PTR(p, "plan");
    if (p->op != CK_OP_CONV2D_BACKWARD)
        return ck_fail(CK_ERR_INVALID_ARGUMENT,
                       "plan is not a conv2d backward plan (create it with ck_conv2d_backward_plan_create)");
    return CK_OK;
}

#if defined(CK_BWD_HAVE_BLAS)

/* Loops over fewer floats than this run on the calling thread. */
#define CK_BWD_PAR_MIN_FLOATS ((int64_t)1 << 15)
static inline int par_threads(int nt, int64_t floats) { return floats >= CK_BWD_PAR_MIN_FLOATS ? nt : 1; }

static int blas_int_ok(int64_t v) { return v <= 2147483647; }

static ck_status bwd_blas_dims_ok(const ck_plan *p) {
    const ck_conv2d_bwd_state *st = &p->d.conv_bwd;
    const ck_conv2d_desc *d = &st->conv;
    const int64_t PQ = p->out_h * p->out_w, HW = d->h * d->w;
    const int64_t m = d->layout == CK_LAYOUT_NHWC ? (st->direct ? d->n * HW : st->block_rows * p->out_w) : PQ;
    if (!blas_int_ok(m) || !blas_int_ok(HW) || !blas_int_ok(d->c * d->r * d->s) || !blas_int_ok(d->k))
        return ck_fail(CK_ERR_UNSUPPORTED, "conv backward: a GEMM dimension exceeds BLAS's 32-bit int");
    return CK_OK;
}

/* Valid output-column range [*lo, *hi) for input column iw = q*sw + off in [0, W). */
static inline void valid_range(int64_t off, int64_t sw, int64_t W, int64_t Q, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t h = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
    if (l > Q) l = Q;
    if (h > Q) h = Q;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* NCHW im2col of one image, column-matrix rows [i0, i1) only (row i = (c*R + r)*S + s):
 * col[i*ld + (p - p0)*Q + q] (ld = rows*Q, or more when images sit side by side).  Runs on the calling thread (the callers split rows
 * between threads). */
static void im2col_nchw(const ck_conv2d_desc *d, int64_t Q, const float *x, int64_t p0, int64_t rows, int64_t i0,
                        int64_t i1, float *col, int64_t ld) {
    const int64_t R = d->r, S = d->s, H = d->h, W = d->w, sw = d->stride_w;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t s = i % S, r = (i / S) % R, c = i / (R * S);
        const int64_t off = s * d->dilation_w - d->pad_left;
        int64_t lo, hi;
        valid_range(off, sw, W, Q, &lo, &hi);
        for (int64_t pr = 0; pr < rows; pr++) {
            float *dst = col + i * ld + pr * Q;
            const int64_t ih = (p0 + pr) * d->stride_h - d->pad_top + r * d->dilation_h;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, (size_t)Q * sizeof(float));
                continue;
            }
            const float *src = x + (c * H + ih) * W + off;
            for (int64_t q = 0; q < lo; q++) dst[q] = 0.f;
            if (sw == 1) {
                if (hi > lo) memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
            } else {
                for (int64_t q = lo; q < hi; q++) dst[q] = src[q * sw];
            }
            for (int64_t q = hi; q < Q; q++) dst[q] = 0.f;
        }
    }
}

/* NCHW col2im of one image for input channels [c0, c1) (their dx planes
 * already zeroed): dx[c, ih, iw] += col[...].  Runs on the calling thread;
 * each channel's plane reads only its own column-matrix rows, so threads
 * owning disjoint channel ranges never share a write. */
static void col2im_nchw(const ck_conv2d_desc *d, int64_t Q, const float *col, int64_t ld, int64_t p0, int64_t rows,
                        int64_t c0, int64_t c1, float *dx) {
    const int64_t R = d->r, S = d->s, H = d->h, W = d->w, sw = d->stride_w;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t pr = 0; pr < rows; pr++) {
                const int64_t ih = (p0 + pr) * d->stride_h - d->pad_top + r * d->dilation_h;
                if (ih < 0 || ih >= H) continue;
                for (int64_t s = 0; s < S; s++) {
                    const float *src = col + ((c * R + r) * S + s) * ld + pr * Q;
                    const int64_t off = s * d->dilation_w - d->pad_left;
                    int64_t lo, hi;
                    valid_range(off, sw, W, Q, &lo, &hi);
                    float *dst = dx + (c * H + ih) * W + off;
                    if (sw == 1)
                        for (int64_t q = lo; q < hi; q++) dst[q] += src[q];
                    else
                        for (int64_t q = lo; q < hi; q++) dst[q * sw] += src[q];
                }
            }
}

/* NHWC im2col of global output rows [t0, t0 + rows): one column-matrix row
 * per output pixel, columns [g][r][s][c]. */
static void im2col_nhwc(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *x, int64_t t0, int64_t rows,
                        float *col, int nt) {
    const int64_t R = d->r, S = d->s, H = d->h, W = d->w, C = d->c, G = d->groups;
    const int64_t cg = C / G, kred = cg * R * S, ld = C * R * S, iters = rows * Q;
    nt = par_threads(nt, iters * ld);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < iters; it++) {
        const int64_t t = t0 + it / Q, q = it % Q, n = t / P, p = t % P;
        float *dst = col + it * ld;
        const float *img = x + n * H * W * C;
        for (int64_t r = 0; r < R; r++) {
            const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
            for (int64_t s = 0; s < S; s++) {
                const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
                float *dd = dst + (r * S + s) * cg;
                const int in = ih >= 0 && ih < H && iw >= 0 && iw < W;
                const float *src = in ? img + (ih * W + iw) * C : NULL;
                for (int64_t g = 0; g < G; g++)
                    for (int64_t c = 0; c < cg; c++) dd[g * kred + c] = in ? src[g * cg + c] : 0.f;
            }
        }
    }
}

/* NHWC col2im of global output rows [t0, t0 + rows) in gather form (dx
 * already zeroed): each input pixel adds the column entries that read it;
 * OpenMP over input rows, so every dx element has one writer. */
static void col2im_nhwc(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *col, int64_t t0, int64_t rows,
                        float *dx, int nt) {
    const int64_t R = d->r, S = d->s, H = d->h, W = d->w, C = d->c, G = d->groups;
    const int64_t cg = C / G, kred = cg * R * S, ld = C * R * S;
    const int64_t sh = d->stride_h, sw = d->stride_w, pt = d->pad_top, pl = d->pad_left;
    const int64_t n0 = t0 / P, n1 = (t0 + rows - 1) / P; /* images touched */
    const int64_t iters = (n1 - n0 + 1) * H;
    nt = par_threads(nt, rows * Q * ld);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < iters; it++) {
        const int64_t n = n0 + it / H, ih = it % H;
        /* this image's output rows inside the block */
        const int64_t pa = t0 > n * P ? t0 - n * P : 0;
        const int64_t pb = t0 + rows < (n + 1) * P ? t0 + rows - n * P : P;
        if (pa >= pb) continue;
        if (ih < pa * sh - pt || ih > (pb - 1) * sh - pt + (R - 1) * d->dilation_h) continue;
        for (int64_t iw = 0; iw < W; iw++) {
            float *dst = dx + ((n * H + ih) * W + iw) * C;
            for (int64_t r = 0; r < R; r++) {
                const int64_t th = ih + pt - r * d->dilation_h;
                if (th < 0 || th % sh) continue;
                const int64_t p = th / sh;
                if (p < pa || p >= pb) continue;
                for (int64_t s = 0; s < S; s++) {
                    const int64_t tw = iw + pl - s * d->dilation_w;
                    if (tw < 0 || tw % sw) continue;
                    const int64_t q = tw / sw;
                    if (q >= Q) continue;
                    const float *src = col + ((n * P + p - t0) * Q + q) * ld + (r * S + s) * cg;
                    if (G == 1)
                        for (int64_t c = 0; c < C; c++) dst[c] += src[c];
                    else
                        for (int64_t g = 0; g < G; g++)
                            for (int64_t c = 0; c < cg; c++) dst[g * cg + c] += src[g * kred + c];
                }
            }
        }
    }
}

static void zero_par(float *p, int64_t n, int nt) {
    nt = par_threads(nt, n);
    const int64_t chunk = 1 << 14, iters = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t i = 0; i < iters; i++) {
        const int64_t a = i * chunk, e = a + chunk < n ? a + chunk : n;
        memset(p + a, 0, (size_t)(e - a) * sizeof(float));
    }
}

/* ---- depthwise (groups == C == K): direct loops, no GEMMs ------------- */

/* dx: NCHW scatter per (n, c) plane (OpenMP over planes); NHWC gather per
 * input pixel with channel-vector inner loops (OpenMP over input rows). */
static void dw_data(const ck_plan *pl, const float *dy, const float *w, float *dx, float *pack) {
    const ck_conv2d_desc *d = &pl->d.conv_bwd.conv;
    const int64_t N = d->n, C = d->c, H = d->h, W = d->w, P = pl->out_h, Q = pl->out_w, R = d->r, S = d->s, RS = R * S;
    const int64_t sh = d->stride_h, sw = d->stride_w, pt = d->pad_top, plf = d->pad_left;
    const int nt = par_threads(pl->threads, N * C * (H * W + P * Q * RS));
    (void)nt; /* unused without OpenMP */
    if (d->layout == CK_LAYOUT_NCHW) {
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t pc = 0; pc < N * C; pc++) {
            const int64_t c = pc % C;
            float *dxp = dx + pc * H * W;
            const float *dyp = dy + pc * P * Q, *wc = w + c * RS;
            memset(dxp, 0, (size_t)(H * W) * sizeof(float));
            for (int64_t r = 0; r < R; r++)
                for (int64_t p = 0; p < P; p++) {
                    const int64_t ih = p * sh - pt + r * d->dilation_h;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t s = 0; s < S; s++) {
                        const int64_t off = s * d->dilation_w - plf;
                        int64_t lo, hi;
                        valid_range(off, sw, W, Q, &lo, &hi);
                        const float wv = wc[r * S + s], *src = dyp + p * Q;
                        float *dst = dxp + ih * W + off;
                        if (sw == 1)
                            for (int64_t q = lo; q < hi; q++) dst[q] += wv * src[q];
                        else
                            for (int64_t q = lo; q < hi; q++) dst[q * sw] += wv * src[q];
                    }
                }
        }
        return;
    }
    for (int64_t c = 0; c < C; c++)
        for (int64_t rs = 0; rs < RS; rs++) pack[rs * C + c] = w[c * RS + rs];
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < N * H; it++) {
        const int64_t n = it / H, ih = it % H;
        for (int64_t iw = 0; iw < W; iw++) {
            float *dst = dx + ((n * H + ih) * W + iw) * C;
            for (int64_t c = 0; c < C; c++) dst[c] = 0.f;
            for (int64_t r = 0; r < R; r++) {
                const int64_t th = ih + pt - r * d->dilation_h;
                if (th < 0 || th % sh) continue;
                const int64_t p = th / sh;
                if (p >= P) continue;
                for (int64_t s = 0; s < S; s++) {
                    const int64_t tw = iw + plf - s * d->dilation_w;
                    if (tw < 0 || tw % sw) continue;
                    const int64_t q = tw / sw;
                    if (q >= Q) continue;
                    const float *src = dy + ((n * P + p) * Q + q) * C, *wr = pack + (r * S + s) * C;
                    for (int64_t c = 0; c < C; c++) dst[c] += wr[c] * src[c];
                }
            }
        }
    }
}

/* dw: NCHW per channel (OpenMP over channels), row sums in float added in
 * float64; NHWC over channel chunks (one writer per channel) accumulating
 * [r][s][c] in the pack buffer, then unpacked to OIHW. */
static void dw_weights(const ck_plan *pl, const float *x, const float *dy, float *dw, float *pack) {
    const ck_conv2d_desc *d = &pl->d.conv_bwd.conv;
    const int64_t N = d->n, C = d->c, H = d->h, W = d->w, P = pl->out_h, Q = pl->out_w, R = d->r, S = d->s, RS = R * S;
    const int64_t sh = d->stride_h, sw = d->stride_w, pt = d->pad_top, plf = d->pad_left;
    int nt = par_threads(pl->threads, N * C * P * Q * RS);
    if (d->layout == CK_LAYOUT_NCHW) {
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t c = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++) {
                    const int64_t off = s * d->dilation_w - plf;
                    int64_t lo, hi;
                    valid_range(off, sw, W, Q, &lo, &hi);
                    double acc = 0.0;
                    for (int64_t n = 0; n < N; n++) {
                        const float *xp = x + (n * C + c) * H * W, *dyp = dy + (n * C + c) * P * Q;
                        for (int64_t p = 0; p < P; p++) {
                            const int64_t ih = p * sh - pt + r * d->dilation_h;
                            if (ih < 0 || ih >= H) continue;
                            const float *xr = xp + ih * W + off, *gr = dyp + p * Q;
                            float a8[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}; /* 8 independent chains */
                            int64_t q = lo;
                            if (sw == 1)
                                for (; q + 8 <= hi; q += 8)
                                    for (int j = 0; j < 8; j++) a8[j] += gr[q + j] * xr[q + j];
                            for (; q < hi; q++) a8[0] += gr[q] * xr[q * sw];
                            acc += (double)((a8[0] + a8[1]) + (a8[2] + a8[3])) + (double)((a8[4] + a8[5]) + (a8[6] + a8[7]));
                        }
                    }
                    dw[c * RS + r * S + s] = (float)acc;
                }
        return;
    }
    int64_t chunk = (C + 2 * nt - 1) / (2 * nt);
    chunk = (chunk + 7) / 8 * 8;
    const int64_t nchunks = (C + chunk - 1) / chunk;
    if (nt > nchunks) nt = (int)nchunks;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t ch = 0; ch < nchunks; ch++) {
        const int64_t c0 = ch * chunk, c1 = c0 + chunk < C ? c0 + chunk : C;
        for (int64_t rs = 0; rs < RS; rs++)
            for (int64_t c = c0; c < c1; c++) pack[rs * C + c] = 0.f;
        for (int64_t n = 0; n < N; n++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t r = 0; r < R; r++) {
                    const int64_t ih = p * sh - pt + r * d->dilation_h;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t q = 0; q < Q; q++) {
                        const float *g = dy + ((n * P + p) * Q + q) * C;
                        for (int64_t s = 0; s < S; s++) {
                            const int64_t iw = q * sw - plf + s * d->dilation_w;
                            if (iw < 0 || iw >= W) continue;
                            const float *xs = x + ((n * H + ih) * W + iw) * C;
                            float *acc = pack + (r * S + s) * C;
                            for (int64_t c = c0; c < c1; c++) acc[c] += g[c] * xs[c];
                        }
                    }
                }
    }
    for (int64_t c = 0; c < C; c++)
        for (int64_t rs = 0; rs < RS; rs++) dw[c * RS + rs] = pack[rs * C + c];
}

/* GEMM passes split their work between threads by a dimension of the GEMMs
 * (input channels, column-matrix rows or output pixels); each thread runs
 * single-threaded BLAS on its slice inside one OpenMP region, so there is one
 * thread pool (OpenMP's), no OpenBLAS pool spinning against it, and no
 * barrier between a slice's GEMM and its col2im.  Below this much work a
 * pass runs on the calling thread. */
#define CK_BWD_PAR_MIN_FLOPS 4e6

/* Threads for a GEMM pass of `flops` split over `parts` pieces. */
static int gemm_threads(int nt, double flops, int64_t parts) {
    if (flops < CK_BWD_PAR_MIN_FLOPS || nt < 1) return 1;
    if ((int64_t)nt > parts) nt = (int)(parts < 1 ? 1 : parts);
    return nt;
}

/* dy images [n0, n0 + m) (each K x PQ) side by side: dyp[k][j*PQ + i] = dy[n0 + j][k][i]. */
static void pack_dy(const float *dy, float *dyp, int64_t n0, int64_t m, int64_t K, int64_t PQ, int nt) {
    nt = par_threads(nt, m * K * PQ);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < m; j++)
            memcpy(dyp + (k * m + j) * PQ, dy + ((n0 + j) * K + k) * PQ, (size_t)PQ * sizeof(float));
}

static ck_status bwd_data_fast(const ck_plan *p, const float *dy, const float *w, float *dx, float *ws) {
    const ck_conv2d_bwd_state *st = &p->d.conv_bwd;
    const ck_conv2d_desc *d = &st->conv;
    const int64_t N = d->n, C = d->c, K = d->k, G = d->groups, H = d->h, W = d->w;
    const int64_t P = p->out_h, Q = p->out_w, PQ = P * Q, RS = d->r * d->s;
    const int64_t cg = C / G, kg = K / G, kred = cg * RS;
    const int nt = p->threads;
    const double flops = 2.0 * (double)N * (double)K * (double)kred * (double)PQ;
    float *col = ws, *pack = ws ? ws + st->col_floats : NULL;
    if (st->depthwise == 2) return ck_dw_backward_data(p, dy, w, dx, ws);
    if (st->depthwise) {
        dw_data(p, dy, w, dx, pack);
        return CK_OK;
    }
    CK_CHECK(bwd_blas_dims_ok(p));
    ck_blas_single_thread();
    if (d->layout == CK_LAYOUT_NCHW && st->block_rows > P) {
        /* blocks of nb whole images: col = W_g^T . dyp_g with nb*PQ columns;
         * thread t owns input channels [lo, hi) as below */
        const int64_t nb = st->block_rows / P;
        float *dyp = pack;
        const int T = gemm_threads(nt, flops, cg);
        for (int64_t n0 = 0; n0 < N; n0 += nb) {
            const int64_t m = N - n0 < nb ? N - n0 : nb, cols = m * PQ;
            pack_dy(dy, dyp, n0, m, K, PQ, nt);
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
            for (int t = 0; t < T; t++) {
                int64_t lo, hi;
                ck_split_range(cg, T, t, 1, &lo, &hi);
                if (lo == hi) continue;
                for (int64_t g = 0; g < G; g++) {
                    for (int64_t j = 0; j < m; j++)
                        memset(dx + ((n0 + j) * C + g * cg + lo) * H * W, 0,
                               (size_t)((hi - lo) * H * W) * sizeof(float));
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)((hi - lo) * RS), (int)cols, (int)kg,
                                1.f, w + g * kg * kred + lo * RS, (int)kred, dyp + g * kg * cols, (int)cols, 0.f,
                                col + (g * kred + lo * RS) * cols, (int)cols);
                    for (int64_t j = 0; j < m; j++)
                        col2im_nchw(d, Q, col + j * PQ, cols, 0, P, g * cg + lo, g * cg + hi,
                                    dx + (n0 + j) * C * H * W);
                }
            }
        }
        return CK_OK;
    }
    if (d->layout == CK_LAYOUT_NCHW) {
        /* thread t owns input channels [lo, hi) of every group: the rows of
         * col they read, their GEMM rows, their dx planes */
        const int T = gemm_threads(nt, flops, cg);
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
        for (int t = 0; t < T; t++) {
            int64_t lo, hi;
            ck_split_range(cg, T, t, 1, &lo, &hi);
            if (lo == hi) continue;
            for (int64_t n = 0; n < N; n++) {
                const float *dyn = dy + n * K * PQ;
                float *dxn = dx + n * C * H * W;
                if (st->direct) {
                    for (int64_t g = 0; g < G; g++)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(hi - lo), (int)PQ, (int)kg, 1.f,
                                    w + g * kg * kred + lo, (int)kred, dyn + g * kg * PQ, (int)PQ, 0.f,
                                    dxn + (g * cg + lo) * PQ, (int)PQ);
                    continue;
                }
                for (int64_t g = 0; g < G; g++)
                    memset(dxn + (g * cg + lo) * H * W, 0, (size_t)((hi - lo) * H * W) * sizeof(float));
                for (int64_t p0 = 0; p0 < P; p0 += st->block_rows) {
                    const int64_t rows = P - p0 < st->block_rows ? P - p0 : st->block_rows, cols = rows * Q;
                    for (int64_t g = 0; g < G; g++) {
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)((hi - lo) * RS), (int)cols,
                                    (int)kg, 1.f, w + g * kg * kred + lo * RS, (int)kred, dyn + g * kg * PQ + p0 * Q,
                                    (int)PQ, 0.f, col + (g * kred + lo * RS) * cols, (int)cols);
                        col2im_nchw(d, Q, col, cols, p0, rows, g * cg + lo, g * cg + hi, dxn);
                    }
                }
            }
        }
        return CK_OK;
    }
    /* NHWC: Wp_g[k][(r*S + s)*Cg + c] = w[g*Kg + k][c][r][s] */
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < cg; c++)
            for (int64_t rs = 0; rs < RS; rs++) pack[k * kred + rs * cg + c] = w[(k * cg + c) * RS + rs];
    if (st->direct) {
        /* thread t owns pixels [lo, hi) */
        const int64_t M = N * H * W;
        const int T = gemm_threads(nt, flops, M);
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
        for (int t = 0; t < T; t++) {
            int64_t lo, hi;
            ck_split_range(M, T, t, 1, &lo, &hi);
            if (lo == hi) continue;
            for (int64_t g = 0; g < G; g++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), (int)cg, (int)kg, 1.f,
                            dy + lo * K + g * kg, (int)K, pack + g * kg * kred, (int)kred, 0.f, dx + lo * C + g * cg,
                            (int)C);
        }
        return CK_OK;
    }
    zero_par(dx, N * H * W * C, nt);
    const int64_t total_rows = N * P, ld = C * RS;
    for (int64_t t0 = 0; t0 < total_rows; t0 += st->block_rows) {
        const int64_t rows = total_rows - t0 < st->block_rows ? total_rows - t0 : st->block_rows, M = rows * Q;
        /* thread t owns column-matrix rows (output pixels) [lo, hi); the
         * gather col2im then runs over input rows */
        const int T = gemm_threads(nt, flops * (double)rows / (double)total_rows, M);
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
        for (int t = 0; t < T; t++) {
            int64_t lo, hi;
            ck_split_range(M, T, t, 1, &lo, &hi);
            if (lo == hi) continue;
            for (int64_t g = 0; g < G; g++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), (int)kred, (int)kg, 1.f,
                            dy + (t0 * Q + lo) * K + g * kg, (int)K, pack + g * kg * kred, (int)kred, 0.f,
                            col + lo * ld + g * kred, (int)ld);
        }
        col2im_nhwc(d, P, Q, col, t0, rows, dx, nt);
    }
    return CK_OK;
}

/* db[k] = sum over n, p, q of dy (float64 accumulation). */
static void bias_grad(const ck_plan *p, const float *dy, float *db) {
    const ck_conv2d_desc *d = &p->d.conv_bwd.conv;
    const int64_t N = d->n, K = d->k, PQ = p->out_h * p->out_w;
    const int nt = par_threads(p->threads, N * K * PQ);
    (void)nt; /* unused without OpenMP */
    if (d->layout == CK_LAYOUT_NCHW) {
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t k = 0; k < K; k++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++) {
                const float *src = dy + (n * K + k) * PQ;
                float part = 0.f; /* short float runs, summed in double */
                for (int64_t j = 0; j < PQ; j++) {
                    part += src[j];
                    if ((j & 255) == 255) { acc += part; part = 0.f; }
                }
                acc += part;
            }
            db[k] = (float)acc;
        }
        return;
    }
    /* NHWC: K-wide rows; each thread sums its slice of channels */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < K; k++) {
        double acc = 0.0;
        for (int64_t px = 0; px < N * PQ; px++) acc += (double)dy[px * K + k];
        db[k] = (float)acc;
    }
}

static ck_status bwd_weights_fast(const ck_plan *p, const float *x, const float *dy, float *dw, float *db, float *ws) {
    const ck_conv2d_bwd_state *st = &p->d.conv_bwd;
    const ck_conv2d_desc *d = &st->conv;
    const int64_t N = d->n, C = d->c, K = d->k, G = d->groups, H = d->h, W = d->w;
    const int64_t P = p->out_h, Q = p->out_w, PQ = P * Q, RS = d->r * d->s;
    const int64_t cg = C / G, kg = K / G, kred = cg * RS;
    const int nt = p->threads;
    const double flops = 2.0 * (double)N * (double)K * (double)kred * (double)PQ;
    float *col = ws, *pack = ws ? ws + st->col_floats : NULL;
    if (st->depthwise == 2) return ck_dw_backward_weights(p, x, dy, dw, db, ws);
    if (db) bias_grad(p, dy, db);
    if (st->depthwise) {
        dw_weights(p, x, dy, dw, pack);
        return CK_OK;
    }
    CK_CHECK(bwd_blas_dims_ok(p));
    ck_blas_single_thread();
    if (d->layout == CK_LAYOUT_NCHW && st->block_rows > P) {
        /* blocks of nb whole images: dW_g += dyp_g . col_g^T with nb*PQ
         * columns; thread t owns column-matrix rows [lo, hi) as below */
        const int64_t nb = st->block_rows / P;
        float *dyp = pack;
        const int T = gemm_threads(nt, flops, kred);
        for (int64_t n0 = 0; n0 < N; n0 += nb) {
            const int64_t m = N - n0 < nb ? N - n0 : nb, cols = m * PQ;
            const float b = n0 > 0 ? 1.f : 0.f;
            pack_dy(dy, dyp, n0, m, K, PQ, nt);
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
            for (int t = 0; t < T; t++) {
                int64_t lo, hi;
                ck_split_range(kred, T, t, 16, &lo, &hi);
                if (lo == hi) continue;
                for (int64_t g = 0; g < G; g++) {
                    for (int64_t j = 0; j < m; j++)
                        im2col_nchw(d, Q, x + (n0 + j) * C * H * W, 0, P, g * kred + lo, g * kred + hi, col + j * PQ,
                                    cols);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)kg, (int)(hi - lo), (int)cols, 1.f,
                                dyp + g * kg * cols, (int)cols, col + (g * kred + lo) * cols, (int)cols, b,
                                dw + g * kg * kred + lo, (int)kred);
                }
            }
        }
        return CK_OK;
    }
    if (d->layout == CK_LAYOUT_NCHW) {
        /* thread t owns column-matrix rows [lo, hi) of every group (1x1:
         * input channels): it builds those rows and computes the matching
         * columns of dW_g, summed over blocks and images by its GEMMs */
        const int T = gemm_threads(nt, flops, kred);
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
        for (int t = 0; t < T; t++) {
            int64_t lo, hi;
            ck_split_range(kred, T, t, 16, &lo, &hi);
            if (lo == hi) continue;
            for (int64_t n = 0; n < N; n++) {
                const float *xn = x + n * C * H * W, *dyn = dy + n * K * PQ;
                if (st->direct) {
                    const float beta = n > 0 ? 1.f : 0.f;
                    for (int64_t g = 0; g < G; g++)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)kg, (int)(hi - lo), (int)PQ, 1.f,
                                    dyn + g * kg * PQ, (int)PQ, xn + (g * cg + lo) * PQ, (int)PQ, beta,
                                    dw + g * kg * kred + lo, (int)kred);
                    continue;
                }
                for (int64_t p0 = 0; p0 < P; p0 += st->block_rows) {
                    const int64_t rows = P - p0 < st->block_rows ? P - p0 : st->block_rows, cols = rows * Q;
                    const float b = (n > 0 || p0 > 0) ? 1.f : 0.f;
                    for (int64_t g = 0; g < G; g++) {
                        im2col_nchw(d, Q, xn, p0, rows, g * kred + lo, g * kred + hi, col, cols);
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)kg, (int)(hi - lo), (int)cols, 1.f,
                                    dyn + g * kg * PQ + p0 * Q, (int)PQ, col + (g * kred + lo) * cols, (int)cols, b,
                                    dw + g * kg * kred + lo, (int)kred);
                    }
                }
            }
        }
        return CK_OK;
    }
    /* NHWC: accumulate dWp_g (Kg x R*S*Cg) in the pack buffer, then unpack;
     * thread t owns its columns [lo, hi) */
    if (st->direct) {
        const int64_t M = N * H * W;
        const int T = gemm_threads(nt, flops, cg);
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
        for (int t = 0; t < T; t++) {
            int64_t lo, hi;
            ck_split_range(cg, T, t, 16, &lo, &hi);
            if (lo == hi) continue;
            for (int64_t g = 0; g < G; g++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kg, (int)(hi - lo), (int)M, 1.f,
                            dy + g * kg, (int)K, x + g * cg + lo, (int)C, 0.f, pack + g * kg * kred + lo, (int)kred);
        }
    } else {
        const int64_t total_rows = N * P, ld = C * RS;
        for (int64_t t0 = 0; t0 < total_rows; t0 += st->block_rows) {
            const int64_t rows = total_rows - t0 < st->block_rows ? total_rows - t0 : st->block_rows, M = rows * Q;
            im2col_nhwc(d, P, Q, x, t0, rows, col, nt);
            const float b = t0 > 0 ? 1.f : 0.f;
            const int T = gemm_threads(nt, flops * (double)rows / (double)total_rows, kred);
#pragma omp parallel for num_threads(T) if (T > 1) schedule(static, 1)
            for (int t = 0; t < T; t++) {
                int64_t lo, hi;
                ck_split_range(kred, T, t, 16, &lo, &hi);
                if (lo == hi) continue;
                for (int64_t g = 0; g < G; g++)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kg, (int)(hi - lo), (int)M, 1.f,
                                dy + t0 * Q * K + g * kg, (int)K, col + g * kred + lo, (int)ld, b,
                                pack + g * kg * kred + lo, (int)kred);
            }
        }
    }
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < cg; c++)
            for (int64_t rs = 0; rs < RS; rs++) dw[(k * cg + c) * RS + rs] = pack[k * kred + rs * cg + c];
    return CK_OK;
}

#endif /* CK_BWD_HAVE_BLAS */

ck_status ck_conv2d_backward_data(const ck_plan *p, const float *dy, const float *w, float *dx, void *ws,
                                  size_t ws_bytes) {
    ck_clear_error();
    CK_CHECK(bwd_check_plan(p));
    CK_CHECK_PTR(dy, "dy");
    CK_CHECK_PTR(w, "w");
    CK_CHECK_PTR(dx, "dx");
    const ck_conv2d_bwd_state *st = &p->d.conv_bwd;
    if (!st->fast) {
        ck_ref_conv2d_backward_data(&st->conv, p->out_h, p->out_w, dy, w, dx);
        return CK_OK;
    }
#if defined(CK_BWD_HAVE_BLAS)
    void *use, *owned;
    CK_CHECK(ck_workspace_acquire(p, ws, ws_bytes, &use, &owned));
    ck_status s = bwd_data_fast(p, dy, w, dx, use);
    ck_free(owned);
    return s;
#else
    (void)ws; (void)ws_bytes;
    return ck_fail(CK_ERR_INTERNAL, "conv backward: fast plan without BLAS");
#endif
}

ck_status ck_conv2d_backward_weights(const ck_plan *p, const float *x, const float *dy, float *dw, float *db, void *ws,
                                     size_t ws_bytes) {
    ck_clear_error();
    CK_CHECK(bwd_check_plan(p));
    CK_CHECK_PTR(x, "x");
    CK_CHECK_PTR(dy, "dy");
    CK_CHECK_PTR(dw, "dw");
    const ck_conv2d_bwd_state *st = &p->d.conv_bwd;
    if (!st->fast) {
        ck_ref_conv2d_backward_weights(&st->conv, p->out_h, p->out_w, x, dy, dw, db);
        return CK_OK;
    }
#if defined(CK_BWD_HAVE_BLAS)
    void *use, *owned;
    CK_CHECK(ck_workspace_acquire(p, ws, ws_bytes, &use, &owned));
    ck_status s = bwd_weights_fast(p, x, dy, dw, db, use);
    ck_free(owned);
    return s;
#else
    (void)ws; (void)ws_bytes; (void)db;
    return ck_fail(CK_ERR_INTERNAL, "conv backward: fast plan without BLAS");
#endif
}
