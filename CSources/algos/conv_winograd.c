/* Winograd convolution F(m x m, 3 x 3) for m = 2, 4, 6.
 *
 * Applicability: 3x3, stride 1, dilation 1, groups 1, any padding, NCHW,
 * NHWC or the blocked NCHW8c (input transform reads 8-channel vectors, output
 * transform writes them, the output channel tail as zeros).  F(6x6) only with
 * CK_PLAN_FAST_MATH.
 *
 * Transforms: modified Cook-Toom with interpolation points
 *   F(2x2): 0, 1, -1, inf      F(4x4): 0, +-1, +-2, inf
 *   F(6x6): 0, +-1, +-2, +-1/2, inf
 * The matrices A^T (m x alpha), G (alpha x 3) and B^T (alpha x alpha),
 * alpha = m + 2, are generated in double from the points at plan creation
 * and checked against the 1-D identity
 *   sum_j A^T[i][j] G[j][k] B^T[j][t] = [t == i + k].
 * The portable per-tile kernels use them as sparse row lists (zeros
 * skipped); the AVX2 kernels carry the same matrices as compile-time constants
 * (straight-line code, bit-identical results).
 *
 * Plan creation transforms the weights once, U = G g G^T (double, 16 output
 * channels at a time, OpenMP over panels), and packs
 * them per transform position xi in 16-column panels of output channels
 * ([xi][Kp/16][C][16]) for the own AVX2 micro-kernel, or as [xi][C][Kp] when
 * OpenBLAS does the products (CONVKIT_WINOGRAD_GEMM=blas; the own kernel is
 * the default since it measured faster, see Benchmarks/c/winograd_dev.c).
 *
 * Execution processes the N * tiles_h * tiles_w tiles in blocks of TB tiles so
 * the workspace V ([xi][TB][C]) + M ([xi][TB][Kp]) stays under the plan's
 * workspace limit (and near 1 MB for speed; at least 4 micro-tiles per
 * thread; blocks balanced, one block when two would do since every block
 * streams all of U):
 *   1. input transform of every tile of the block (OpenMP over tiles)
 *   2. M[xi] (TB x Kp) = V[xi] (TB x C) . U[xi] (C x Kp) for all alpha^2 xi
 *      (OpenMP over (xi, 16-channel panel) pairs, or OpenBLAS outside OpenMP)
 *   3. output transform + bias + residual + activation, writing only outputs
 *      inside P x Q (tiles crossing the edge were computed on zero padding).
 */
#include "internal.h"
#include "steal.h"
#include "../kernels/winograd_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(CK_HAVE_OPENBLAS)
#include <cblas.h>
#endif

typedef struct wino_state {
    ck_wino_geom g;
    float *U;
    float *bias;
    int64_t tb;          /* tiles per block */
    int64_t total_tiles;
    int use_blas;
    ck_wino_input_fn input;
    ck_wino_output_fn output;
    ck_wino_gemm_fn gemm;
} wino_state;

static int tile_m(ck_algorithm id) { return id == CK_ALGO_WINOGRAD_F2 ? 2 : id == CK_ALGO_WINOGRAD_F4 ? 4 : 6; }

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Workspace bytes for a block of tb tiles. */
static size_t ws_bytes(int alpha, int64_t C, int64_t Kp, int64_t tb) {
    const size_t a2 = (size_t)alpha * (size_t)alpha;
    return (round16(a2 * (size_t)tb * (size_t)C) + round16(a2 * (size_t)tb * (size_t)Kp)) * sizeof(float);
}

static ck_status check(ck_algorithm id, const ck_conv2d_desc *d, const ck_plan_options *o) {
    const char *name = ck_algorithm_name(id);
    if (d->r != 3 || d->s != 3)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "%s: only 3x3 kernels are supported (got %lldx%lld)", name,
                       (long long)d->r, (long long)d->s);
    if (d->stride_h != 1 || d->stride_w != 1)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "%s: only stride 1 is supported (got %lldx%lld)", name,
                       (long long)d->stride_h, (long long)d->stride_w);
    if (d->dilation_h != 1 || d->dilation_w != 1)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "%s: only dilation 1 is supported (got %lldx%lld)", name,
                       (long long)d->dilation_h, (long long)d->dilation_w);
    if (d->groups != 1)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "%s: only groups = 1 is supported (got %lld)", name,
                       (long long)d->groups);
    if (d->layout != CK_LAYOUT_NCHW && d->layout != CK_LAYOUT_NHWC && d->layout != CK_LAYOUT_NCHW8C)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "%s: only the NCHW, NHWC and NCHW8c layouts are supported (got %d)",
                       name, (int)d->layout);
    if (id == CK_ALGO_WINOGRAD_F6 && !(o->flags & CK_PLAN_FAST_MATH))
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM,
                       "%s: F(6x6,3x3) is less accurate than direct convolution and needs the CK_PLAN_FAST_MATH flag",
                       name);
    if (d->c > INT32_MAX / 64 || d->k > INT32_MAX / 64)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM, "%s: C=%lld or K=%lld too large", name, (long long)d->c,
                       (long long)d->k);
    const int alpha = tile_m(id) + 2;
    const int64_t Kp = (d->k + CK_WINO_NR - 1) / CK_WINO_NR * CK_WINO_NR;
    const size_t limit = o->workspace_limit ? o->workspace_limit : CK_DEFAULT_WORKSPACE_LIMIT;
    const size_t need = ws_bytes(alpha, d->c, Kp, 1);
    if (need > limit)
        return ck_fail(CK_ERR_WORKSPACE_LIMIT,
                       "%s: even a block of one tile needs %zu bytes of workspace, above the limit of %zu", name, need,
                       limit);
    return CK_OK;
}

static ck_status app_f2(const ck_conv2d_desc *d, const ck_plan_options *o) { return check(CK_ALGO_WINOGRAD_F2, d, o); }
static ck_status app_f4(const ck_conv2d_desc *d, const ck_plan_options *o) { return check(CK_ALGO_WINOGRAD_F4, d, o); }
static ck_status app_f6(const ck_conv2d_desc *d, const ck_plan_options *o) { return check(CK_ALGO_WINOGRAD_F6, d, o); }

/* ---- transform matrices (Cook-Toom, double) ----------------------------- */

/* Fill AT (m x alpha), G (alpha x 3), BT (alpha x alpha). */
static ck_status make_matrices(int m, double AT[][CK_WINO_MAX_ALPHA], double G[][3],
                               double BT[][CK_WINO_MAX_ALPHA]) {
    static const double pts2[] = {0, 1, -1};
    static const double pts4[] = {0, 1, -1, 2, -2};
    static const double pts6[] = {0, 1, -1, 2, -2, 0.5, -0.5};
    const double *pts = m == 2 ? pts2 : m == 4 ? pts4 : pts6;
    const int alpha = m + 2, np = alpha - 1;
    memset(AT, 0, sizeof(double) * CK_WINO_MAX_ALPHA * (size_t)m);
    memset(G, 0, sizeof(double) * 3 * (size_t)alpha);
    memset(BT, 0, sizeof(double) * CK_WINO_MAX_ALPHA * (size_t)alpha);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < np; j++) AT[i][j] = pow(pts[j], i);
        AT[i][np] = i == m - 1;
    }
    for (int j = 0; j < np; j++) {
        double f = 1;
        for (int l = 0; l < np; l++)
            if (l != j) f *= pts[j] - pts[l];
        for (int k = 0; k < 3; k++) G[j][k] = pow(pts[j], k) / f;
    }
    G[np][2] = 1;
    /* B^T row j: coefficients of prod_{l != j} (x - a_l); last row: of prod_l (x - a_l) */
    for (int j = 0; j <= np; j++) {
        double poly[CK_WINO_MAX_ALPHA + 1] = {1};
        int deg = 0;
        for (int l = 0; l < np; l++) {
            if (l == j) continue;
            for (int e = deg + 1; e >= 1; e--) poly[e] = poly[e - 1] - pts[l] * poly[e];
            poly[0] = -pts[l] * poly[0];
            deg++;
        }
        for (int t = 0; t < alpha; t++) BT[j][t] = poly[t];
    }
    for (int i = 0; i < m; i++)
        for (int k = 0; k < 3; k++)
            for (int t = 0; t < alpha; t++) {
                double s = 0;
                for (int j = 0; j < alpha; j++) s += AT[i][j] * G[j][k] * BT[j][t];
                if (fabs(s - (t == i + k ? 1.0 : 0.0)) > 1e-9)
                    return ck_fail(CK_ERR_INTERNAL, "winograd: F(%d,3) transform identity fails at (%d,%d,%d): %g", m,
                                   i, k, t, s);
            }
    return CK_OK;
}

static void to_sparse(ck_wino_sparse *sp, int rows, int cols, double M[][CK_WINO_MAX_ALPHA]) {
    memset(sp, 0, sizeof *sp);
    sp->rows = rows;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            if (M[i][j] != 0.0) {
                sp->idx[i][sp->n[i]] = j;
                sp->c[i][sp->n[i]] = (float)M[i][j];
                sp->n[i]++;
            }
}

/* ---- create / execute --------------------------------------------------- */

static void destroy(ck_plan *p) {
    wino_state *s = p->algo_state;
    if (!s) return;
    ck_free(s->U);
    ck_free(s->bias);
    free(s);
    p->algo_state = NULL;
}

static const char *impl_name(int m, int avx2, int blas) {
    static const char *names[3][2][2] = {
        {{"winograd-f2/scalar", "winograd-f2/scalar+blas"}, {"winograd-f2/avx2_fma", "winograd-f2/avx2_fma+blas"}},
        {{"winograd-f4/scalar", "winograd-f4/scalar+blas"}, {"winograd-f4/avx2_fma", "winograd-f4/avx2_fma+blas"}},
        {{"winograd-f6/scalar", "winograd-f6/scalar+blas"}, {"winograd-f6/avx2_fma", "winograd-f6/avx2_fma+blas"}}};
    return names[m / 2 - 1][avx2][blas];
}

#if defined(__aarch64__)
/* arm64: NEON GEMM, portable (compiler-vectorised) transforms. */
static const char *impl_name_neon(int m, int blas) {
    static const char *names[3][2] = {{"winograd-f2/neon", "winograd-f2/neon+blas"},
                                      {"winograd-f4/neon", "winograd-f4/neon+blas"},
                                      {"winograd-f6/neon", "winograd-f6/neon+blas"}};
    return names[m / 2 - 1][blas];
}
#endif

static ck_status create(ck_plan *p, const float *w, const float *b) {
    const ck_conv2d_desc *d = &p->d.conv;
    const int m = tile_m(p->algorithm), alpha = m + 2, a2 = alpha * alpha;
    double AT[CK_WINO_MAX_ALPHA][CK_WINO_MAX_ALPHA], G[CK_WINO_MAX_ALPHA][3], BT[CK_WINO_MAX_ALPHA][CK_WINO_MAX_ALPHA];
    CK_CHECK(make_matrices(m, AT, G, BT));

    wino_state *s = calloc(1, sizeof *s);
    if (!s) return ck_fail(CK_ERR_OUT_OF_MEMORY, "winograd: allocating plan state");
    p->algo_state = s;
    ck_wino_geom *g = &s->g;
    g->m = m;
    g->alpha = alpha;
    to_sparse(&g->bt, alpha, alpha, BT);
    to_sparse(&g->at, m, alpha, AT);
    g->C = d->c; g->H = d->h; g->W = d->w; g->K = d->k;
    g->Kp = (d->k + CK_WINO_NR - 1) / CK_WINO_NR * CK_WINO_NR;
    g->P = p->out_h; g->Q = p->out_w;
    g->pad_top = d->pad_top; g->pad_left = d->pad_left;
    g->tiles_h = (g->P + m - 1) / m;
    g->tiles_w = (g->Q + m - 1) / m;
    g->layout = d->layout;
    g->act = d->activation;
    const int64_t C = d->c, K = d->k, Kp = g->Kp;
    s->total_tiles = d->n * g->tiles_h * g->tiles_w;

    /* ISA and GEMM choice */
    int avx2 = 0;
#if defined(__x86_64__)
    {
        const ck_isa isa = ck_dispatch_isa();
        avx2 = isa == CK_ISA_AVX2_FMA || isa == CK_ISA_AVX512;
    }
#endif
#if defined(CK_HAVE_OPENBLAS)
    {
        const char *e = getenv("CONVKIT_WINOGRAD_GEMM");
        s->use_blas = e && strcmp(e, "blas") == 0;
    }
#endif
#if defined(__aarch64__)
    const int neon = ck_dispatch_isa() == CK_ISA_NEON;
    if (neon) {
        s->input = ck_wino_input__scalar;
        s->output = ck_wino_output__scalar;
        s->gemm = ck_wino_gemm__neon;
    } else
#endif
#if defined(__x86_64__)
    if (avx2) {
        s->input = ck_wino_input__avx2_fma;
        s->output = ck_wino_output__avx2_fma;
        s->gemm = ck_wino_gemm__avx2_fma;
    } else
#endif
    {
        s->input = ck_wino_input__scalar;
        s->output = ck_wino_output__scalar;
        s->gemm = ck_wino_gemm__scalar;
    }
    p->impl_name = impl_name(m, avx2, s->use_blas);
#if defined(__aarch64__)
    if (neon) p->impl_name = impl_name_neon(m, s->use_blas);
#endif

    /* bias, padded to Kp */
    s->bias = ck_malloc((size_t)Kp * sizeof(float));
    if (!s->bias) return ck_fail(CK_ERR_OUT_OF_MEMORY, "winograd: allocating bias");
    for (int64_t k = 0; k < Kp; k++) s->bias[k] = (b && k < K) ? b[k] : 0.f;
    g->bias = s->bias;

    /* weights: U[xi] = G g G^T (double).  The own kernel's layout is filled a
     * (panel, input channel) pair at a time: 16 output channels are
     * transformed together (lane loops the compiler vectorises) and stored as
     * one contiguous 16-float run per xi, the channel tail of the last panel as
     * zeros; OpenMP over panels. */
    const size_t ucount = (size_t)a2 * (size_t)C * (size_t)Kp;
    s->U = ck_malloc(ucount * sizeof(float));
    if (!s->U) return ck_fail(CK_ERR_OUT_OF_MEMORY, "winograd: allocating %zu bytes of transformed weights",
                              ucount * sizeof(float));
    const int64_t npan = Kp / CK_WINO_NR;
    float *U = s->U;
    if (!s->use_blas) {
#pragma omp parallel for num_threads(p->threads) schedule(static, 1)
        for (int64_t pan = 0; pan < npan; pan++) {
            const int64_t k0 = pan * CK_WINO_NR, kn = K - k0 < CK_WINO_NR ? K - k0 : CK_WINO_NR;
            for (int64_t c = 0; c < C; c++) {
                double gv[9][CK_WINO_NR], tmp[CK_WINO_MAX_ALPHA][3][CK_WINO_NR];
                float u[CK_WINO_MAX_ALPHA * CK_WINO_MAX_ALPHA][CK_WINO_NR];
                for (int e = 0; e < 9; e++)
                    for (int l = 0; l < CK_WINO_NR; l++) gv[e][l] = l < kn ? w[((k0 + l) * C + c) * 9 + e] : 0.0;
                for (int i = 0; i < alpha; i++)
                    for (int j = 0; j < 3; j++)
                        for (int l = 0; l < CK_WINO_NR; l++)
                            tmp[i][j][l] = G[i][0] * gv[0 * 3 + j][l] + G[i][1] * gv[1 * 3 + j][l] +
                                           G[i][2] * gv[2 * 3 + j][l];
                for (int i = 0; i < alpha; i++)
                    for (int j = 0; j < alpha; j++)
                        for (int l = 0; l < CK_WINO_NR; l++)
                            u[i * alpha + j][l] =
                                (float)(tmp[i][0][l] * G[j][0] + tmp[i][1][l] * G[j][1] + tmp[i][2][l] * G[j][2]);
                for (int xi = 0; xi < a2; xi++)
                    memcpy(U + (((size_t)xi * (size_t)npan + (size_t)pan) * (size_t)C + (size_t)c) * CK_WINO_NR, u[xi],
                           sizeof u[xi]);
            }
        }
    } else {
        memset(s->U, 0, ucount * sizeof(float));
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (int64_t k = 0; k < K; k++) {
            for (int64_t c = 0; c < C; c++) {
                const float *gk = w + (k * C + c) * 9;
                double tmp[CK_WINO_MAX_ALPHA][3];
                for (int i = 0; i < alpha; i++)
                    for (int j = 0; j < 3; j++)
                        tmp[i][j] = G[i][0] * gk[0 * 3 + j] + G[i][1] * gk[1 * 3 + j] + G[i][2] * gk[2 * 3 + j];
                for (int i = 0; i < alpha; i++)
                    for (int j = 0; j < alpha; j++) {
                        const double v = tmp[i][0] * G[j][0] + tmp[i][1] * G[j][1] + tmp[i][2] * G[j][2];
                        U[((size_t)(i * alpha + j) * (size_t)C + (size_t)c) * (size_t)Kp + (size_t)k] = (float)v;
                    }
            }
        }
    }

    /* block size: aim for a workspace near the L2 size, within the limit */
    const size_t per_tile = ws_bytes(alpha, C, Kp, 1);
    if (per_tile > p->workspace_limit)
        return ck_fail(CK_ERR_WORKSPACE_LIMIT,
                       "%s: even a block of one tile needs %zu bytes of workspace, above the limit of %zu",
                       ck_algorithm_name(p->algorithm), per_tile, p->workspace_limit);
    size_t target = (size_t)1 << 20;
    {
        const char *e = getenv("CONVKIT_WINOGRAD_BLOCK_KB");
        if (e && atoi(e) > 0) target = (size_t)atoi(e) << 10;
    }
    int64_t tb = (int64_t)(target / per_tile);
    const int64_t min_tb = 4 * CK_WINO_MR * (int64_t)p->threads;
    if (tb < min_tb) tb = min_tb;
    if (tb > CK_WINO_MR) tb = tb / CK_WINO_MR * CK_WINO_MR;
    if (tb > s->total_tiles) tb = s->total_tiles;
    {
        /* Every block streams all of U: one block when two would do (small
         * images, where U dominates), else equal blocks rounded up to whole
         * micro-tiles instead of a short last block. */
        const int64_t total = s->total_tiles, nb = (total + tb - 1) / tb;
        if (nb <= 2 && ws_bytes(alpha, C, Kp, total) <= p->workspace_limit) tb = total;
        else if (nb > 1) {
            tb = (total + nb - 1) / nb;
            if (tb > CK_WINO_MR) tb = (tb + CK_WINO_MR - 1) / CK_WINO_MR * CK_WINO_MR;
            if (tb > total) tb = total;
        }
    }
    while (tb > 1 && ws_bytes(alpha, C, Kp, tb) > p->workspace_limit) tb = tb > CK_WINO_MR * 2 ? tb - CK_WINO_MR : tb - 1;
    if (tb < 1) tb = 1;
    /* execute schedules a block's tiles by work stealing, which counts items in 31 bits */
    if (!ck_steal_fits(tb)) tb = (int64_t)1 << 30;
    s->tb = tb;
    p->workspace_size = ws_bytes(alpha, C, Kp, tb);
    return CK_OK;
}

/* The tiles in the block that starts at tile t0. */
static int64_t block_tiles(int64_t total, int64_t TB, int64_t t0) { return total - t0 < TB ? total - t0 : TB; }

static ck_status execute(const ck_plan *p, const float *x, float *y, const float *res, void *ws) {
    const wino_state *s = p->algo_state;
    const ck_wino_geom *g = &s->g;
    const int a2 = g->alpha * g->alpha;
    const int64_t C = g->C, Kp = g->Kp, TB = s->tb, total = s->total_tiles, npan = Kp / CK_WINO_NR;
    float *V = ws;
    float *M = V + round16((size_t)a2 * (size_t)TB * (size_t)C);
    const int64_t vs = TB * C, ms = TB * Kp;
    const int T = p->threads;
#if defined(CK_HAVE_OPENBLAS)
    if (s->use_blas) {
        for (int64_t t0 = 0; t0 < total; t0 += TB) {
            const int64_t nt = block_tiles(total, TB, t0);
#pragma omp parallel for num_threads(T) schedule(static)
            for (int64_t tt = 0; tt < nt; tt++) s->input(g, x, t0 + tt, V + tt * C, vs);
            /* the a2 GEMMs spread over the threads, single-threaded BLAS each */
#pragma omp parallel for num_threads(T) schedule(static)
            for (int xi = 0; xi < a2; xi++)
                ck_sgemm_mt(1, 0, 0, nt, Kp, C, 1.f, V + xi * vs, C, s->U + (size_t)xi * (size_t)C * (size_t)Kp, Kp,
                            0.f, M + xi * ms, Kp);
#pragma omp parallel for num_threads(T) schedule(static)
            for (int64_t tt = 0; tt < nt; tt++) s->output(g, M + tt * Kp, ms, t0 + tt, res, y);
        }
        return CK_OK;
    }
#endif
    /* Each block runs three phases (input transforms, GEMM tasks, output
     * transforms) with a barrier after each.  In every phase the threads
     * start on equal consecutive shares of the items and then take the
     * items left in the others' shares (work stealing, core/steal.h), so a
     * core slowed by another tenant, or a thread that woke late, does not
     * hold up the phase.  Thread 0 sets a phase's ranges while the phase
     * before it runs (nobody uses them then: the barrier after their last
     * use has passed, and the barrier ending the current phase publishes
     * them).  Clang, one process alternating the two schedules, 2 threads,
     * NCHW8c, medians of 100 runs: F4 C64 56x56 880 -> 824 us, C128 28x28
     * 715 -> 700, C256 14x14 842 -> 828, F2 C512 7x7 1551 -> 1533; p25
     * 1-16% faster. */
    const int R = ck_steal_nranges(T);
    ck_steal_range r_in[CK_STEAL_MAX_RANGES], r_mm[CK_STEAL_MAX_RANGES], r_out[CK_STEAL_MAX_RANGES];
    ck_steal_split(r_in, R, block_tiles(total, TB, 0));
#pragma omp parallel num_threads(T)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        for (int64_t t0 = 0; t0 < total; t0 += TB) {
            const int64_t nt = block_tiles(total, TB, t0);
            /* split rows too when there are few (xi, panel) tasks per thread */
            const int64_t rsplit = (a2 * npan >= 8 * T || nt < 4 * CK_WINO_MR) ? 1 : 2;
            const int64_t rchunk = (nt + rsplit - 1) / rsplit / CK_WINO_MR * CK_WINO_MR + CK_WINO_MR;
            const int64_t ntask = (int64_t)a2 * npan * rsplit;
            if (tid == 0) {
                ck_steal_split(r_mm, R, ntask);
                ck_steal_split(r_out, R, nt);
            }
            int cur = 0;
            for (int64_t tt; (tt = ck_steal_next(r_in, R, tid, &cur)) >= 0;) s->input(g, x, t0 + tt, V + tt * C, vs);
#pragma omp barrier
            if (tid == 0 && t0 + TB < total) ck_steal_split(r_in, R, block_tiles(total, TB, t0 + TB));
            cur = 0;
            for (int64_t task; (task = ck_steal_next(r_mm, R, tid, &cur)) >= 0;) {
                const int64_t rs = task % rsplit, pt = task / rsplit;
                const int64_t xi = pt / npan, pan = pt % npan;
                const int64_t r0 = rs * rchunk;
                if (r0 >= nt) continue;
                const int64_t rows = nt - r0 < rchunk ? nt - r0 : rchunk;
                s->gemm(rows, C, V + xi * vs + r0 * C, C, s->U + ((size_t)xi * (size_t)npan + (size_t)pan) * (size_t)C * CK_WINO_NR,
                        M + xi * ms + r0 * Kp + pan * CK_WINO_NR, Kp);
            }
#pragma omp barrier
            cur = 0;
            for (int64_t tt; (tt = ck_steal_next(r_out, R, tid, &cur)) >= 0;) s->output(g, M + tt * Kp, ms, t0 + tt, res, y);
#pragma omp barrier
        }
    }
    return CK_OK;
}

const ck_conv_algo ck_conv_algo_winograd_f2 = {CK_ALGO_WINOGRAD_F2, app_f2, create, execute, destroy};
const ck_conv_algo ck_conv_algo_winograd_f4 = {CK_ALGO_WINOGRAD_F4, app_f4, create, execute, destroy};
const ck_conv_algo ck_conv_algo_winograd_f6 = {CK_ALGO_WINOGRAD_F6, app_f6, create, execute, destroy};
