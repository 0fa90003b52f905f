/* BLAS calls threaded by OpenMP (one thread runtime for the whole library).
 *
 * OpenBLAS's own thread pool and LLVM libomp's each keep their idle threads
 * spinning for a while after a multi-threaded call (OpenBLAS ~0.1 s, libomp
 * ~0.2 s).  When both pools are used, a layer of one runtime runs while the
 * other's threads still spin on the same cores: a 2-thread direct layer of
 * ~70 us right after a 2-thread im2col one measured 1.7-2.2x slower.  So
 * OpenBLAS is kept at one thread and never gets work for its pool; the
 * GEMMs are split here into one slice of the output per OpenMP thread, each
 * computed by a single-threaded BLAS call with the whole reduction.  (Results
 * can still differ in the last bits between thread counts: OpenBLAS computes
 * a narrower slice's edge columns with other kernels.) */
#include "internal.h"

#if defined(CK_HAVE_OPENBLAS)
#include <cblas.h>
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
#define CK_BLAS_MT 1
#elif defined(CK_HAVE_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define CK_BLAS_MT 1
#endif

#if defined(CK_BLAS_MT)

/* Matrix-vector products, which stream their matrix once (~2 flops per 4
 * bytes), are split from 1 MB of matrix on (GEMMs: CK_BLAS_MT_MIN_FLOPS). */
#define CK_BLAS_MT_MIN_GEMV_FLOPS 5.0e5

void ck_blas_single_thread(void) {
#if defined(CK_HAVE_OPENBLAS)
    /* process-wide; only written when it differs, so concurrent plans do not
     * keep rewriting it */
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
#endif
}

void ck_sgemm_mt(int nt, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    ck_blas_single_thread();
    const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    /* split the columns (whole 16-float panels) when there are enough of
     * them, else the rows (8 at a time): each slice must stay wide enough
     * for the BLAS kernel's register tile */
    int T = nt > 1 && flops >= CK_BLAS_MT_MIN_FLOPS ? nt : 1;
    const int by_cols = N >= 64 * (int64_t)T && (N >= M || M < 16 * (int64_t)T);
    if (!by_cols && M < 16 * (int64_t)T) T = 1;
    if (T == 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        int64_t lo, hi;
        if (by_cols) {
            ck_split_range(N, T, t, 16, &lo, &hi);
            if (lo < hi)
                cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)(hi - lo), (int)K, alpha, A, (int)lda,
                            trans_b ? B + lo * ldb : B + lo, (int)ldb, beta, C + lo, (int)ldc);
        } else {
            ck_split_range(M, T, t, 8, &lo, &hi);
            if (lo < hi)
                cblas_sgemm(CblasRowMajor, ta, tb, (int)(hi - lo), (int)N, (int)K, alpha,
                            trans_a ? A + lo : A + lo * lda, (int)lda, B, (int)ldb, beta, C + lo * ldc, (int)ldc);
        }
    }
}

void ck_sgemv_mt(int nt, int trans, int64_t M, int64_t N, float alpha, const float *A, int64_t lda, const float *x,
                 float beta, float *y, int64_t incy) {
    ck_blas_single_thread();
    const int64_t nout = trans ? N : M; /* y's length */
    const double flops = 2.0 * (double)M * (double)N;
    int T = nt > 1 && flops >= CK_BLAS_MT_MIN_GEMV_FLOPS && nout >= 64 * (int64_t)nt ? nt : 1;
    const enum CBLAS_TRANSPOSE tr = trans ? CblasTrans : CblasNoTrans;
    if (T == 1) {
        cblas_sgemv(CblasRowMajor, tr, (int)M, (int)N, alpha, A, (int)lda, x, 1, beta, y, (int)incy);
        return;
    }
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        int64_t lo, hi;
        ck_split_range(nout, T, t, 16, &lo, &hi);
        if (lo >= hi) continue;
        if (trans) /* y[lo:hi) = A[:, lo:hi)^T x */
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)M, (int)(hi - lo), alpha, A + lo, (int)lda, x, 1, beta,
                        y + lo * incy, (int)incy);
        else /* y[lo:hi) = A[lo:hi, :] x */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(hi - lo), (int)N, alpha, A + lo * lda, (int)lda, x, 1,
                        beta, y + lo * incy, (int)incy);
    }
}

#else /* no BLAS in this build */

void ck_blas_single_thread(void) {}

#endif
