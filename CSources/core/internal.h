/* Internal declarations shared by the C core.  Not installed. */
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include "convkit.h"
#include <stdarg.h>
#include <stdbool.h>

/* OpenMP: Swift's bundled clang ships no omp.h, so declare the few runtime
 * calls we use ourselves; `#pragma omp` needs no header.
 * Use only schedule(static[, chunk]): for dynamic/guided schedules Swift's
 * newer clang emits __kmpc_dispatch_deinit, which Debian's libomp (LLVM 14)
 * lacks, so the Swift build would fail to link. */
#ifdef _OPENMP
int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
#endif

/* ---- errors ---------------------------------------------------------- */

/** Record a detailed message for the calling thread and return `st`. */
ck_status ck_fail(ck_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/** Clear the thread's message (called at the start of public entry points). */
void ck_clear_error(void);

#define CK_CHECK(expr) do { ck_status ck__s = (expr); if (ck__s != CK_OK) return ck__s; } while (0)
#define CK_CHECK_PTR(p, name) do { if (!(p)) return ck_fail(CK_ERR_NULL_POINTER, "%s is NULL", name); } while (0)

/* ---- checked arithmetic ---------------------------------------------- */

/** *out = a * b, or CK_ERR_SIZE_OVERFLOW naming `what`. */
ck_status ck_mul_checked(int64_t a, int64_t b, int64_t *out, const char *what);
/** Element count of n*c*h*w, bounded by CK_MAX_ELEMENTS. */
ck_status ck_count4(int64_t n, int64_t c, int64_t h, int64_t w, int64_t *out, const char *what);

/* ---- layouts ---------------------------------------------------------- */

/** Offset of element (n, c, h, w) in a tensor of shape (N, C, H, W). */
static inline int64_t ck_offset(ck_layout layout, int64_t C, int64_t H, int64_t W,
                                int64_t n, int64_t c, int64_t h, int64_t w) {
    switch (layout) {
    case CK_LAYOUT_NHWC: return ((n * H + h) * W + w) * C + c;
    case CK_LAYOUT_NCHW8C: {
        int64_t cb = (C + 7) / 8;
        return (((n * cb + c / 8) * H + h) * W + w) * 8 + (c % 8);
    }
    case CK_LAYOUT_NCHW:
    default: return ((n * C + c) * H + h) * W + w;
    }
}
ck_status ck_check_layout(ck_layout layout, bool allow_blocked);
/** Every dimension >= 1 and the element count within CK_MAX_ELEMENTS; `what` names the tensor. */
ck_status ck_check_shape4(const char *what, int64_t n, int64_t c, int64_t h, int64_t w);
/** Copy `in` (NULL = defaults) to `out` and validate it: algorithm, threads >= 0, known flags.
 *  `in` and `out` may alias. Shared by every plan kind. */
ck_status ck_plan_options_resolve(const ck_plan_options *in, ck_plan_options *out);
ck_status ck_check_activation(ck_activation act);

/** Scalar activation (the definition every fast path must match). */
float ck_activate(ck_activation act, float v);

/* ---- threading -------------------------------------------------------- */

/** Resolve a requested thread count (0 = all cores). */
int ck_resolve_threads(int32_t requested);
/** Part t of T of [0, n): [*lo, *hi), boundaries on multiples of `align`
 *  when every part still gets at least one multiple. */
void ck_split_range(int64_t n, int T, int t, int64_t align, int64_t *lo, int64_t *hi);
/** Keep OpenBLAS at one thread (process-wide; no-op without OpenBLAS).
 *  Every BLAS call of the library runs single-threaded, from the calling
 *  thread or one OpenMP thread: OpenBLAS's own pool never gets work, so it
 *  never spins next to OpenMP's (see blas_mt.c). */
void ck_blas_single_thread(void);
/** Flops below which a GEMM is not worth a parallel region (a region costs a
 *  few microseconds): ck_sgemm_mt runs it on the calling thread, and im2col
 *  spreads groups over the threads only when together they reach it. */
#define CK_BLAS_MT_MIN_FLOPS 4.0e6
#if defined(CK_HAVE_OPENBLAS) || defined(CK_HAVE_ACCELERATE)
/** Row-major C = alpha*op(A)*op(B) + beta*C (M x N, reduction K) on up to
 *  `nt` OpenMP threads, each running a single-threaded BLAS sgemm on a slice
 *  of C's columns (16-float panels) or rows (8 at a time); one thread below
 *  ~4 MFLOP or when no slice is wide enough.  Each output element gets the
 *  whole reduction from one call. */
void ck_sgemm_mt(int nt, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/** Row-major y = alpha*op(A)*x + beta*y (A is M x N; x contiguous) on up to
 *  `nt` OpenMP threads, each computing a slice of y (one thread below
 *  ~0.5 MFLOP, i.e. 1 MB of A, or for fewer than 64 outputs a thread). */
void ck_sgemv_mt(int nt, int trans, int64_t M, int64_t N, float alpha, const float *A, int64_t lda, const float *x,
                 float beta, float *y, int64_t incy);
#endif

/* ---- plans ------------------------------------------------------------ */

typedef enum ck_op_kind {
    CK_OP_CONV2D = 1,
    CK_OP_CONV_TRANSPOSE2D,
    CK_OP_POOL2D,
    CK_OP_DENSE,
    CK_OP_CONV2D_BACKWARD        /* backward/conv_backward.c */
} ck_op_kind;

struct ck_plan;

/** State of a convolution backward plan (backward/conv_backward.c). */
typedef struct ck_conv2d_bwd_state {
    ck_conv2d_desc conv;   /* the forward descriptor */
    int32_t fast;          /* 1: im2col/col2im + BLAS path, 0: reference */
    int32_t direct;        /* 1x1, stride 1, unpadded: GEMMs on x/dx directly */
    int64_t block_rows;    /* output rows per column block (NCHW: of one image; NHWC: of N*P) */
    int64_t col_floats;    /* column-buffer floats (rounded up to 16) */
    int64_t pack_floats;   /* packed-weight floats after the column buffer (NHWC) */
    int32_t depthwise;     /* 1: groups == C == K > 1, direct loops instead of GEMMs */
} ck_conv2d_bwd_state;

/** One convolution algorithm: a driver that checks applicability, packs at
 *  plan creation and runs.  Registered in core/conv_registry.c. */
typedef struct ck_conv_algo {
    ck_algorithm id;
    /** CK_OK if the algorithm can serve desc/options; else a status and a
     *  message (via ck_fail) saying why it declines. */
    ck_status (*applicable)(const ck_conv2d_desc *desc, const ck_plan_options *opt);
    /** Pack weights/bias into plan->algo_state, set plan->workspace_size and
     *  plan->impl_name.  plan->conv, out_h/out_w, threads are already set. */
    ck_status (*create)(struct ck_plan *plan, const float *weights, const float *bias);
    /** Run.  ws has at least plan->workspace_size bytes. */
    ck_status (*execute)(const struct ck_plan *plan, const float *x, float *y,
                         const float *residual, void *ws);
    /** Free algo_state. */
    void (*destroy)(struct ck_plan *plan);
} ck_conv_algo;

struct ck_plan {
    ck_op_kind op;
    ck_algorithm algorithm;
    int threads;                 /* resolved (>= 1) */
    uint32_t flags;
    size_t workspace_limit;      /* resolved (> 0) */
    size_t workspace_size;
    const char *impl_name;
    int64_t out_h, out_w;
    union {
        ck_conv2d_desc conv;
        ck_conv_transpose2d_desc deconv;
        ck_pool2d_desc pool;
        ck_dense_desc dense;
        ck_conv2d_bwd_state conv_bwd;  /* CK_OP_CONV2D_BACKWARD */
    } d;
    const ck_conv_algo *algo;    /* conv only */
    float *weights;              /* owned copy (reference paths) */
    float *bias;                 /* owned copy or NULL */
    void *algo_state;
};

/** Validate a conv descriptor; output size into P, Q (either may be NULL). */
ck_status ck_conv2d_validate(const ck_conv2d_desc *d, int64_t *P, int64_t *Q);
/** floor((n + pb + pe - d*(f-1) - 1)/s) + 1 with overflow and emptiness checks. */
ck_status ck_out_size(int64_t n, int64_t f, int64_t s, int64_t pb, int64_t pe, int64_t d, const char *axis, int64_t *out);
/** Initialise the common fields of a freshly allocated plan. */
void ck_plan_init_common(struct ck_plan *p, ck_op_kind op, const ck_plan_options *o);
/** Resolve the caller's workspace (NULL = allocate into *owned, free after). */
ck_status ck_workspace_acquire(const struct ck_plan *p, void *ws, size_t ws_bytes, void **use, void **owned);
/** Copy weights/bias into p->weights / p->bias (b may be NULL). */
ck_status ck_copy_weights(struct ck_plan *p, const float *w, int64_t wcount, const float *b, int64_t bcount);

/** Algorithm table lookup (NULL if the id has no conv driver). */
const ck_conv_algo *ck_conv_algo_get(ck_algorithm id);

/** Default workspace cap (16 MiB). */
#define CK_DEFAULT_WORKSPACE_LIMIT ((size_t)16 << 20)

/** Allocate 64-byte aligned memory (NULL on failure or size 0); free with ck_free. */
void *ck_malloc(size_t bytes);
void ck_free(void *p);

/* ---- reference kernels (the oracle; reference/) ----------------------- */
void ck_ref_conv2d(const ck_conv2d_desc *d, int64_t P, int64_t Q, const float *x, const float *w,
                   const float *b, const float *residual, float *y);
void ck_ref_conv_transpose2d(const ck_conv_transpose2d_desc *d, int64_t P, int64_t Q,
                             const float *x, const float *w, const float *b, float *y);
void ck_ref_pool2d(const ck_pool2d_desc *d, int64_t P, int64_t Q, const float *x, float *y);
void ck_ref_dense(const ck_dense_desc *d, const float *x, const float *w, const float *b, float *y);

/* ---- CPU dispatch (dispatch/) ----------------------------------------- */
/** The ISA kernels should use (detected once, capped by CONVKIT_MAX_ISA). */
ck_isa ck_dispatch_isa(void);

#endif
