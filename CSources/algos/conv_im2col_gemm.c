/* im2col + BLAS sgemm convolution (CK_ALGO_IM2COL).
 *
 * Layouts NCHW and NHWC; any stride, padding, dilation and groups; bias,
 * residual and activation fused into one pass over each output block.
 *
 * NCHW, per image, per block of output rows [p0, p1):
 *   col  = (C*R*S) x (rows*Q) row-major, row (c, r, s), all groups at once
 *   Y_g  = W_g (Kg x Cg*R*S, the OIHW weights as they are) . col_g
 *   written straight into y with ldc = P*Q.
 * NHWC, over blocks of "global" output rows (n*P + p), which are contiguous
 * in the output:
 *   col  = (rows*Q) x (C*R*S) row-major, each pixel's columns ordered
 *          [g][r][s][c] so group g's slice is a plain sub-matrix (lda = C*R*S)
 *   Y[:, g*Kg:(g+1)*Kg] = col_g . Wt_g, Wt_g = (R*S*Cg) x Kg packed at create.
 * 1x1, stride 1, no padding: no im2col and no workspace; the GEMMs read x
 * directly (NCHW: Y_g = W_g . X_g per image; NHWC: one GEMM per group over all
 * N*H*W pixels, groups addressed through lda/ldc).
 *
 * Workspace: the column buffer.  If the full matrix exceeds the plan's
 * workspace_limit, output rows are processed in equal blocks that fit; the
 * smallest block is one output row (all groups); if even that does not fit,
 * plan creation fails with CK_ERR_WORKSPACE_LIMIT.
 *
 * Grouped convolutions work on L2-sized pieces: NCHW in chunks of groups
 * (im2col -> the chunk's GEMMs -> its epilogue), NHWC in blocks of output rows.
 * Groups with one output channel (depthwise) use sgemv instead of sgemm.
 *
 * Threading: OpenMP only.  Each GEMM is split over the plan's threads by
 * ck_sgemm_mt (a slice of the output per thread, single-threaded BLAS), or,
 * for groups of small GEMMs, the groups are; OpenBLAS's own pool is never
 * used (see core/blas_mt.c).  im2col and the epilogue run in OpenMP loops
 * with num_threads(plan->threads) when they are large (>= 2^17 floats) and
 * cheap relative to the GEMM they feed (<= 128 GEMM flops per float), else on
 * the calling thread. */
#include "internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(CK_HAVE_OPENBLAS)
#include <cblas.h>
#define CK_IM2COL_HAVE_BLAS 1
#define CK_IM2COL_IMPL "im2col/openblas"
#elif defined(CK_HAVE_ACCELERATE)
/* Same cblas API; compiled but not claimed/tested on this project's CI. */
#include <Accelerate/Accelerate.h>
#define CK_IM2COL_HAVE_BLAS 1
#define CK_IM2COL_IMPL "im2col/accelerate"
#endif

#if defined(CK_IM2COL_HAVE_BLAS)

/* Grouped convolutions work on column-matrix pieces of about this size (a share
 * of L2): NCHW in chunks of groups, NHWC in blocks of output rows. */
#define CK_IM2COL_GROUP_CHUNK_BYTES ((size_t)256 << 10)

typedef struct im2col_state {
    int nhwc;            /* 1: NHWC, 0: NCHW */
    int direct;          /* 1x1, stride 1, unpadded: GEMM on x directly */
    int64_t cg, kg;      /* channels per group */
    int64_t kred;        /* Cg*R*S: GEMM reduction length */
    int64_t block_rows;  /* output rows per block (NCHW: of one image; NHWC: of N*P) */
    float *w;            /* NCHW: OIHW copy; NHWC: per group (R*S*Cg) x Kg */
    float *bias;         /* K floats or NULL */
} im2col_state;

/* ---- applicability ---------------------------------------------------- */

static ck_status im2col_applicable(const ck_conv2d_desc *d, const ck_plan_options *o) {
    (void)o;
    if (d->layout == CK_LAYOUT_NCHW8C)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM,
                       "im2col: layout NCHW8c is not supported (im2col serves NCHW and NHWC; convert with "
                       "ck_convert_layout or use the direct algorithm)");
    if (d->layout != CK_LAYOUT_NCHW && d->layout != CK_LAYOUT_NHWC)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "im2col: unknown layout %d", (int)d->layout);
    return CK_OK;
}

/* ---- plan creation ---------------------------------------------------- */

static int is_direct_1x1(const ck_conv2d_desc *d) {
    return d->r == 1 && d->s == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_top == 0 &&
           d->pad_left == 0 && d->pad_bottom == 0 && d->pad_right == 0;
}

static void im2col_destroy(ck_plan *p) {
    im2col_state *st = p->algo_state;
    if (!st) return;
    ck_free(st->w);
    ck_free(st->bias);
    free(st);
    p->algo_state = NULL;
}

static ck_status im2col_create(ck_plan *p, const float *w, const float *b) {
    const ck_conv2d_desc *d = &p->d.conv;
    im2col_state *st = calloc(1, sizeof *st);
    if (!st) return ck_fail(CK_ERR_OUT_OF_MEMORY, "im2col: allocating plan state");
    p->algo_state = st;
    p->impl_name = CK_IM2COL_IMPL;
    const int64_t G = d->groups, RS = d->r * d->s;
    st->nhwc = d->layout == CK_LAYOUT_NHWC;
    st->direct = is_direct_1x1(d);
    st->cg = d->c / G;
    st->kg = d->k / G;
    st->kred = st->cg * RS;

    /* weights (the element count was validated against CK_MAX_ELEMENTS) */
    const int64_t wcount = d->k * st->kred;
    st->w = ck_malloc((size_t)wcount * sizeof(float));
    if (!st->w) return ck_fail(CK_ERR_OUT_OF_MEMORY, "im2col: allocating %lld packed weights", (long long)wcount);
    if (!st->nhwc) {
        memcpy(st->w, w, (size_t)wcount * sizeof(float));
    } else {
        /* Wt_g[(r*S + s)*Cg + c][k] = w[g*Kg + k][c][r][s] */
        for (int64_t g = 0; g < G; g++) {
            float *wt = st->w + g * st->kred * st->kg;
            for (int64_t k = 0; k < st->kg; k++)
                for (int64_t c = 0; c < st->cg; c++)
                    for (int64_t rs = 0; rs < RS; rs++)
                        wt[(rs * st->cg + c) * st->kg + k] = w[((g * st->kg + k) * st->cg + c) * RS + rs];
        }
    }
    if (b) {
        st->bias = ck_malloc((size_t)d->k * sizeof(float));
        if (!st->bias) return ck_fail(CK_ERR_OUT_OF_MEMORY, "im2col: allocating %lld biases", (long long)d->k);
        memcpy(st->bias, b, (size_t)d->k * sizeof(float));
    }

    /* workspace: the column buffer, blocked by output rows */
    p->workspace_size = 0;
    if (st->direct) return CK_OK;
    const int64_t P = p->out_h, Q = p->out_w;
    const int64_t total_rows = st->nhwc ? d->n * P : P;
    int64_t row_floats;
    CK_CHECK(ck_mul_checked(d->c * RS, Q, &row_floats, "im2col column-matrix row"));
    const double row_bytes_d = (double)row_floats * sizeof(float);
    if (row_bytes_d > (double)p->workspace_limit)
        return ck_fail(CK_ERR_WORKSPACE_LIMIT,
                       "im2col needs at least %.0f bytes of workspace (one output row of the column matrix: "
                       "C*R*S=%lld x Q=%lld floats), above the limit of %zu bytes",
                       row_bytes_d, (long long)(d->c * RS), (long long)Q, p->workspace_limit);
    const size_t row_bytes = (size_t)row_floats * sizeof(float);
    int64_t max_rows = (int64_t)(p->workspace_limit / row_bytes);
    if (st->nhwc && G > 1) {
        /* every group's GEMM reads a strided slice of every column-matrix
         * row: keep a block's column matrix in L2 */
        int64_t l2_rows = (int64_t)(CK_IM2COL_GROUP_CHUNK_BYTES / row_bytes);
        if (l2_rows < 1) l2_rows = 1;
        if (max_rows > l2_rows) max_rows = l2_rows;
    }
    if (max_rows > total_rows) max_rows = total_rows;
    const int64_t nblocks = (total_rows + max_rows - 1) / max_rows;
    st->block_rows = (total_rows + nblocks - 1) / nblocks;
    p->workspace_size = (size_t)st->block_rows * row_bytes;
    return CK_OK;
}

/* ---- im2col ------------------------------------------------------------ */

/* Loops over fewer floats than this run on the calling thread: waking the
 * OpenMP team costs more than it saves (~2^17 floats is ~50 us of copying), and
 * on a loaded machine a region waits for every member to be scheduled. */
#define CK_IM2COL_PAR_MIN_FLOATS ((int64_t)1 << 17)
/* ... and so do loops whose data feed more than this many GEMM flops each
 * (flops_per_float = 2*Kg for a column-matrix element, 2*Cg*R*S for an
 * output).  Set to 0: every im2col/epilogue loop runs on the calling thread.
 * An OpenMP team left spinning after such a loop (libomp's blocktime,
 * libgomp's spin count) competes with OpenBLAS's threads during the GEMM that
 * follows; with the GCC/libgomp (CMake) build a parallel epilogue made 1x1
 * layers 3-10x slower at 2 threads than a plain im2col + sgemm loop
 * (resnet50.1x1expand 25 vs 80 GFLOPS, mobilenetv2.pw112 3 vs 12), while the
 * serial loops are >= 1.02x that baseline on every suite layer at 1 and 2
 * threads.  The parallel paths stay in place for a future GEMM that runs on
 * ConvKit's own threads. */
#define CK_IM2COL_PAR_MAX_FLOPS_PER_FLOAT 0
static inline int par_threads(int nt, int64_t floats, int64_t flops_per_float) {
    return floats >= CK_IM2COL_PAR_MIN_FLOATS && flops_per_float <= CK_IM2COL_PAR_MAX_FLOPS_PER_FLOAT ? nt : 1;
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

/* NCHW: col[((c - c0)*R + r)*S + s][(p - p0)*Q + q] for p in [p0, p0 + rows)
 * and channels c in [c0, c0 + nc). */
static inline void copy_floats(float *dst, const float *src, int64_t n) {
    if (n >= 16) memcpy(dst, src, (size_t)n * sizeof(float));
    else
        for (int64_t i = 0; i < n; i++) dst[i] = src[i];
}
static inline void zero_floats(float *dst, int64_t n) {
    if (n >= 16) memset(dst, 0, (size_t)n * sizeof(float));
    else
        for (int64_t i = 0; i < n; i++) dst[i] = 0.f;
}

static void im2col_nchw(const ck_conv2d_desc *d, int64_t Q, const float *x /* image n */, int64_t p0,
                        int64_t rows, int64_t c0, int64_t nc, float *col, int nt) {
    const int64_t R = d->r, S = d->s, H = d->h, W = d->w, sw = d->stride_w;
    const int64_t ld = rows * Q;
    x += c0 * H * W;
    const int64_t iters = nc * R; /* (c, r) pairs; s and the output rows inside */
    nt = par_threads(nt, iters * S * ld, 2 * (d->k / d->groups));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < iters; it++) {
        const int64_t c = it / R, r = it % R;
        const float *xc = x + c * H * W;
        for (int64_t s = 0; s < S; s++) {
            const int64_t off = s * d->dilation_w - d->pad_left;
            int64_t lo, hi;
            valid_range(off, sw, W, Q, &lo, &hi);
            float *dst = col + ((c * R + r) * S + s) * ld;
            int64_t ih = p0 * d->stride_h - d->pad_top + r * d->dilation_h;
            for (int64_t pr = 0; pr < rows; pr++, dst += Q, ih += d->stride_h) {
                if (ih < 0 || ih >= H) {
                    zero_floats(dst, Q);
                    continue;
                }
                const float *src = xc + ih * W + off;
                zero_floats(dst, lo);
                if (sw == 1) copy_floats(dst + lo, src + lo, hi - lo);
                else if (sw == 2)
                    for (int64_t q = lo; q < hi; q++) dst[q] = src[2 * q];
                else
                    for (int64_t q = lo; q < hi; q++) dst[q] = src[q * sw];
                zero_floats(dst + hi, Q - hi);
            }
        }
    }
}

/* NHWC: one column-matrix row per output pixel of global rows [t0, t0 + rows)
 * (t = n*P + p), columns ordered [g][r][s][c]. */
static void im2col_nhwc(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *x, int64_t t0, int64_t rows,
                        float *col, int nt) {
    const int64_t R = d->r, S = d->s, H = d->h, W = d->w, C = d->c, G = d->groups;
    const int64_t cg = C / G, kred = cg * R * S, ld = C * R * S;
    const int64_t iters = rows * Q;
    nt = par_threads(nt, iters * ld, 2 * (d->k / d->groups));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < iters; it++) {
        const int64_t t = t0 + it / Q, q = it % Q;
        const int64_t n = t / P, p = t % P;
        float *dst = col + it * ld;
        const float *img = x + n * H * W * C;
        for (int64_t r = 0; r < R; r++) {
            const int64_t ih = p * d->stride_h - d->pad_top + r * d->dilation_h;
            for (int64_t s = 0; s < S; s++) {
                const int64_t iw = q * d->stride_w - d->pad_left + s * d->dilation_w;
                float *dd = dst + (r * S + s) * cg;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                    if (G == 1) zero_floats(dd, C);
                    else
                        for (int64_t g = 0; g < G; g++) zero_floats(dd + g * kred, cg);
                    continue;
                }
                const float *src = img + (ih * W + iw) * C;
                if (G == 1) copy_floats(dd, src, C);
                else if (cg == 1)
                    for (int64_t g = 0; g < G; g++) dd[g * kred] = src[g];
                else
                    for (int64_t g = 0; g < G; g++) copy_floats(dd + g * kred, src + g * cg, cg);
            }
        }
    }
}

/* ---- epilogue: y = act(y + b + residual), one pass ------------------- */

/* One pass y[i] = act(y[i] + bias + res[i]) for i < n.  BIAS(i) is the bias
 * expression (a scalar for an NCHW channel span, b[i] for an NHWC pixel); the
 * variants are spelled out so every loop vectorizes. */
#define CK_EPI_LOOP(EXPR, BIAS)                                                            \
    do {                                                                                   \
        if (res) {                                                                         \
            if (b)                                                                         \
                for (int64_t i = 0; i < n; i++) { float v = (y[i] + (BIAS)) + res[i]; y[i] = (EXPR); } \
            else                                                                           \
                for (int64_t i = 0; i < n; i++) { float v = y[i] + res[i]; y[i] = (EXPR); } \
        } else if (b) {                                                                    \
            for (int64_t i = 0; i < n; i++) { float v = y[i] + (BIAS); y[i] = (EXPR); }  \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) { float v = y[i]; y[i] = (EXPR); }            \
        }                                                                                  \
    } while (0)

#define CK_EPI_SWITCH(BIAS)                                                                \
    do {                                                                                   \
        const float alpha = act.alpha;                                                     \
        switch (act.kind) {                                                                \
        case CK_ACT_RELU: CK_EPI_LOOP(v > 0.f ? v : 0.f, BIAS); break;                     \
        case CK_ACT_RELU6: CK_EPI_LOOP(v < 0.f ? 0.f : (v > 6.f ? 6.f : v), BIAS); break;  \
        case CK_ACT_LEAKY_RELU: CK_EPI_LOOP(v >= 0.f ? v : alpha * v, BIAS); break;        \
        case CK_ACT_SIGMOID:                                                               \
        case CK_ACT_TANH: CK_EPI_LOOP(ck_activate(act, v), BIAS); break;                   \
        case CK_ACT_NONE:                                                                  \
        default: CK_EPI_LOOP(v, BIAS); break;                                              \
        }                                                                                  \
    } while (0)

/* bias: NULL or one scalar for the whole span */
static void epilogue_span_scalar(float *restrict y, int64_t n, const float *b, const float *restrict res,
                                 ck_activation act) {
    const float bv = b ? *b : 0.f;
    CK_EPI_SWITCH(bv);
}

/* bias: NULL or a vector b[0..n) */
static void epilogue_span_vector(float *restrict y, int64_t n, const float *restrict b, const float *restrict res,
                                 ck_activation act) {
    CK_EPI_SWITCH(b[i]);
}

static int needs_epilogue(const ck_plan *p, const float *res) {
    const im2col_state *st = p->algo_state;
    return st->bias || res || p->d.conv.activation.kind != CK_ACT_NONE;
}

/* NCHW: channels [k0, k0 + K) of one image, output columns [j0, j0 + cols) of each plane. */
static void epilogue_nchw(const ck_plan *p, float *y, const float *res, int64_t k0, int64_t K, int64_t j0,
                          int64_t cols) {
    const im2col_state *st = p->algo_state;
    const int64_t PQ = p->out_h * p->out_w;
    y += k0 * PQ;
    if (res) res += k0 * PQ;
    const float *bias = st->bias ? st->bias + k0 : NULL;
    const int nt = par_threads(p->threads, K * cols, 2 * st->kred);
    /* split each channel's span in chunks so small K still uses all threads */
    int64_t chunks = (nt > 1 && K < 4 * nt) ? (4 * nt + K - 1) / K : 1;
    if (chunks > cols / 256) chunks = cols / 256 > 0 ? cols / 256 : 1;
    const int64_t per = (cols + chunks - 1) / chunks, iters = K * chunks;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < iters; it++) {
        const int64_t k = it / chunks, ch = it % chunks;
        const int64_t a = ch * per, e = a + per < cols ? a + per : cols;
        if (a >= e) continue;
        const int64_t o = k * PQ + j0 + a;
        epilogue_span_scalar(y + o, e - a, bias ? bias + k : NULL, res ? res + o : NULL, p->d.conv.activation);
    }
}

/* NHWC: `pixels` consecutive output pixels of K channels each. */
static void epilogue_nhwc(const ck_plan *p, float *y, const float *res, int64_t pixels) {
    const im2col_state *st = p->algo_state;
    const int64_t K = p->d.conv.k;
    const int nt = par_threads(p->threads, K * pixels, 2 * st->kred);
    (void)nt; /* unused without OpenMP */
    const int64_t per = K >= 256 ? 1 : (256 + K - 1) / K; /* pixels per iteration */
    const int64_t iters = (pixels + per - 1) / per;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < iters; it++) {
        const int64_t a = it * per, e = a + per < pixels ? a + per : pixels;
        for (int64_t px = a; px < e; px++)
            epilogue_span_vector(y + px * K, K, st->bias, res ? res + px * K : NULL, p->d.conv.activation);
    }
}

/* ---- execute ------------------------------------------------------------ */

/* A group's GEMM is split over the threads (ck_sgemm_mt) when it is large;
 * groups of small GEMMs (grouped and depthwise layers) instead run one
 * group per OpenMP thread at a time, each with single-threaded BLAS, when
 * together they are worth a parallel region (>= 4 MFLOP: mobilenetv2.dw56
 * as NCHW im2col comes in chunks of two 56-KFLOP groups, and a region per
 * chunk made it 1.8x slower at 2 threads). */
static int groups_in_parallel(int nt, int64_t ng, double gemm_flops) {
    return nt > 1 && ng > 1 && (double)ng * gemm_flops >= CK_BLAS_MT_MIN_FLOPS &&
           (ng >= 4 * (int64_t)nt || gemm_flops < CK_BLAS_MT_MIN_FLOPS);
}

/* NCHW, group g: Y_g (kg x cols, ldc) = W_g (kg x kred) . B (kred x cols,
 * ldb); one-output-channel groups as sgemv (y^T = B^T . w). */
static void gemm_nchw_group(const im2col_state *st, int nt, int64_t g, const float *b, int64_t ldb, int64_t cols,
                            float *c, int64_t ldc) {
    const float *a = st->w + g * st->kg * st->kred;
    if (st->kg == 1) ck_sgemv_mt(nt, 1, st->kred, cols, 1.f, b, ldb, a, 0.f, c, 1);
    else ck_sgemm_mt(nt, 0, 0, st->kg, cols, st->kred, 1.f, a, st->kred, b, ldb, 0.f, c, ldc);
}

/* NHWC, group g: Y_g (m x kg, ldc) = A (m x kred, lda) . Wt_g (kred x kg);
 * one-output-channel groups as sgemv with the output stride ldc. */
static void gemm_nhwc_group(const im2col_state *st, int nt, int64_t g, int64_t m, const float *a, int64_t lda,
                            float *c, int64_t ldc) {
    const float *b = st->w + g * st->kred * st->kg;
    if (st->kg == 1) ck_sgemv_mt(nt, 0, m, st->kred, 1.f, a, lda, b, 0.f, c, ldc);
    else ck_sgemm_mt(nt, 0, 0, m, st->kg, st->kred, 1.f, a, lda, b, st->kg, 0.f, c, ldc);
}

static int blas_int_ok(int64_t v) { return v <= 2147483647; }

static ck_status im2col_execute(const ck_plan *p, const float *x, float *y, const float *res, void *ws) {
    const ck_conv2d_desc *d = &p->d.conv;
    const im2col_state *st = p->algo_state;
    const int64_t N = d->n, C = d->c, K = d->k, G = d->groups, H = d->h, W = d->w;
    const int64_t P = p->out_h, Q = p->out_w, PQ = P * Q;
    const int64_t cg = st->cg, kg = st->kg, kred = st->kred;
    const int nt = p->threads;
    const int epi = needs_epilogue(p, res);
    float *col = ws;

    /* every GEMM dimension and leading dimension must fit BLAS's int */
    const int64_t biggest = st->nhwc ? (st->direct ? N * H * W : st->block_rows * Q) : (PQ > kred ? PQ : kred);
    if (!blas_int_ok(biggest) || !blas_int_ok(C * d->r * d->s) || !blas_int_ok(K))
        return ck_fail(CK_ERR_UNSUPPORTED, "im2col: a GEMM dimension exceeds BLAS's 32-bit int");

    if (!st->nhwc) {
        for (int64_t n = 0; n < N; n++) {
            const float *xn = x + n * C * H * W;
            float *yn = y + n * K * PQ;
            const float *rn = res ? res + n * K * PQ : NULL;
            if (st->direct) {
                const int par = groups_in_parallel(nt, G, 2.0 * (double)kg * (double)PQ * (double)cg);
#pragma omp parallel for num_threads(nt) if (par) schedule(static)
                for (int64_t g = 0; g < G; g++)
                    gemm_nchw_group(st, par ? 1 : nt, g, xn + g * cg * PQ, PQ, PQ, yn + g * kg * PQ, PQ);
                if (epi) epilogue_nchw(p, yn, rn, 0, K, 0, PQ);
                continue;
            }
            for (int64_t p0 = 0; p0 < P; p0 += st->block_rows) {
                const int64_t rows = P - p0 < st->block_rows ? P - p0 : st->block_rows;
                const int64_t cols = rows * Q;
                /* With many groups, work through them in chunks whose columns
                 * stay in L2 (im2col -> GEMMs -> epilogue on hot data). */
                int64_t gchunk = G;
                if (G > 1) {
                    gchunk = (int64_t)(CK_IM2COL_GROUP_CHUNK_BYTES / ((size_t)(kred * cols) * sizeof(float)));
                    if (gchunk < 1) gchunk = 1;
                    if (gchunk > G) gchunk = G;
                }
                for (int64_t g0 = 0; g0 < G; g0 += gchunk) {
                    const int64_t ng = G - g0 < gchunk ? G - g0 : gchunk;
                    im2col_nchw(d, Q, xn, p0, rows, g0 * cg, ng * cg, col, nt);
                    const int par = groups_in_parallel(nt, ng, 2.0 * (double)kg * (double)cols * (double)kred);
#pragma omp parallel for num_threads(nt) if (par) schedule(static)
                    for (int64_t g = g0; g < g0 + ng; g++)
                        gemm_nchw_group(st, par ? 1 : nt, g, col + (g - g0) * kred * cols, cols, cols,
                                        yn + g * kg * PQ + p0 * Q, PQ);
                    if (epi) epilogue_nchw(p, yn, rn, g0 * kg, ng * kg, p0 * Q, cols);
                }
            }
        }
        return CK_OK;
    }

    /* NHWC */
    if (st->direct) {
        const int64_t M = N * H * W; /* == N*P*Q */
        const int par = groups_in_parallel(nt, G, 2.0 * (double)M * (double)kg * (double)cg);
#pragma omp parallel for num_threads(nt) if (par) schedule(static)
        for (int64_t g = 0; g < G; g++) gemm_nhwc_group(st, par ? 1 : nt, g, M, x + g * cg, C, y + g * kg, K);
        if (epi) epilogue_nhwc(p, y, res, M);
        return CK_OK;
    }
    const int64_t total_rows = N * P, ld = C * d->r * d->s;
    for (int64_t t0 = 0; t0 < total_rows; t0 += st->block_rows) {
        const int64_t rows = total_rows - t0 < st->block_rows ? total_rows - t0 : st->block_rows;
        const int64_t M = rows * Q;
        im2col_nhwc(d, P, Q, x, t0, rows, col, nt);
        float *yb = y + t0 * Q * K;
        const int par = groups_in_parallel(nt, G, 2.0 * (double)M * (double)kg * (double)kred);
#pragma omp parallel for num_threads(nt) if (par) schedule(static)
        for (int64_t g = 0; g < G; g++) gemm_nhwc_group(st, par ? 1 : nt, g, M, col + g * kred, ld, yb + g * kg, K);
        if (epi) epilogue_nhwc(p, yb, res ? res + t0 * Q * K : NULL, M);
    }
    return CK_OK;
}

const ck_conv_algo ck_conv_algo_im2col = {CK_ALGO_IM2COL, im2col_applicable, im2col_create, im2col_execute,
                                          im2col_destroy};

#else /* no BLAS in this build */

static ck_status im2col_applicable(const ck_conv2d_desc *d, const ck_plan_options *o) {
    (void)d; (void)o;
    return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM,
                   "im2col: this build of ConvKit has no BLAS (define CK_HAVE_OPENBLAS and link OpenBLAS)");
}
static ck_status im2col_create(ck_plan *p, const float *w, const float *b) {
    (void)p; (void)w; (void)b;
    return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "im2col: no BLAS in this build");
}
static ck_status im2col_execute(const ck_plan *p, const float *x, float *y, const float *res, void *ws) {
    (void)p; (void)x; (void)y; (void)res; (void)ws;
    return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "im2col: no BLAS in this build");
}
const ck_conv_algo ck_conv_algo_im2col = {CK_ALGO_IM2COL, im2col_applicable, im2col_create, im2col_execute, NULL};

#endif
