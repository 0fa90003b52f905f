/* The OpenMP-split BLAS calls (core/blas_mt.c) against a float64 product:
 *   1. ck_sgemm_mt: every transpose combination, padded leading dimensions,
 *      alpha/beta, on small odd shapes (one thread) and on shapes large
 *      enough to be split by columns or by rows, with 1, 2 and 3 threads;
 *      elements outside the M x N block must stay untouched;
 *   2. ck_sgemv_mt: both orientations, strided y, split and unsplit;
 *   3. OpenBLAS's own thread count is 1 afterwards: the library never hands
 *      work to OpenBLAS's pool, whose idle threads would otherwise spin next
 *      to OpenMP's;
 *   4. ck_blas_config() reads the same from concurrent threads (OpenBLAS's
 *      openblas_get_config rewrites one static buffer on every call: two
 *      threads calling it 200000 times each read 139917 torn copies, and a
 *      torn copy in a profile header made concurrent profile writers drop
 *      each other's entries).
 * In a build without BLAS the functions do not exist and the program says so. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "testutil.h"
#include <pthread.h>

/* weak: absent from builds without BLAS */
extern void ck_sgemm_mt(int nt, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
    __attribute__((weak));
extern void ck_sgemv_mt(int nt, int trans, int64_t M, int64_t N, float alpha, const float *A, int64_t lda,
                        const float *x, float beta, float *y, int64_t incy) __attribute__((weak));
extern int openblas_get_num_threads(void) __attribute__((weak));

#define SENTINEL 12345.5f

static float *rand_buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = ck_rand_uniform(-1.f, 1.f);
    return p;
}

/* C = alpha*op(A)*op(B) + beta*C checked element by element: |c - ref| <=
 * 4*sqrt(K)*2^-24*(|alpha|*sum|a*b| + |beta*c0|) + tiny. */
static void check_gemm(int nt, int ta, int tb, int64_t M, int64_t N, int64_t K, int pad) {
    const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    const int64_t arows = ta ? K : M, brows = tb ? N : K;
    float *A = rand_buf(arows * lda), *B = rand_buf(brows * ldb), *C = malloc((size_t)(M * ldc) * sizeof(float));
    float *C0 = malloc((size_t)(M * ldc) * sizeof(float));
    const float alpha = ck_rand_uniform(0.5f, 1.5f), beta = ck_rand_int(0, 1) ? 0.f : ck_rand_uniform(-1.f, 1.f);
    for (int64_t i = 0; i < M * ldc; i++) C0[i] = (i % ldc) >= N ? SENTINEL : ck_rand_uniform(-1.f, 1.f);
    memcpy(C, C0, (size_t)(M * ldc) * sizeof(float));
    ck_sgemm_mt(nt, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    const double tol = 4.0 * sqrt((double)(K > 0 ? K : 1)) * 0x1p-24;
    int bad = 0;
    char msg[320] = "";
    for (int64_t m = 0; m < M && !bad; m++)
        for (int64_t n = 0; n < ldc && !bad; n++) {
            const float got = C[m * ldc + n];
            if (n >= N) {
                if (got != SENTINEL) {
                    bad = 1;
                    snprintf(msg, sizeof msg, "sgemm nt %d ta %d tb %d M %lld N %lld K %lld: wrote outside C at (%lld, %lld)",
                             nt, ta, tb, (long long)M, (long long)N, (long long)K, (long long)m, (long long)n);
                }
                continue;
            }
            double s = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                const double a = ta ? A[k * lda + m] : A[m * lda + k];
                const double b = tb ? B[n * ldb + k] : B[k * ldb + n];
                s += a * b;
                mag += fabs(a * b);
            }
            const double c0 = C0[m * ldc + n];
            const double ref = alpha * s + (beta != 0.f ? beta * c0 : 0.0);
            const double bound = tol * (fabs(alpha) * mag + fabs(beta * c0)) + 1e-30;
            if (fabs(got - ref) <= bound) continue;
            bad = 1;
            snprintf(msg, sizeof msg,
                     "sgemm nt %d ta %d tb %d M %lld N %lld K %lld pad %d: C(%lld, %lld) = %.9g, want %.9g (bound %.3g)",
                     nt, ta, tb, (long long)M, (long long)N, (long long)K, pad, (long long)m, (long long)n, got, ref,
                     bound);
        }
    CHECK(!bad, "%s", msg);
    free(A); free(B); free(C); free(C0);
}

static void check_gemv(int nt, int trans, int64_t M, int64_t N, int incy) {
    const int64_t lda = N + 3, nx = trans ? M : N, ny = trans ? N : M;
    float *A = rand_buf(M * lda), *x = rand_buf(nx), *y = malloc((size_t)(ny * incy) * sizeof(float));
    float *y0 = malloc((size_t)(ny * incy) * sizeof(float));
    const float beta = ck_rand_uniform(-1.f, 1.f);
    for (int64_t i = 0; i < ny * incy; i++) y0[i] = i % incy ? SENTINEL : ck_rand_uniform(-1.f, 1.f);
    memcpy(y, y0, (size_t)(ny * incy) * sizeof(float));
    ck_sgemv_mt(nt, trans, M, N, 1.f, A, lda, x, beta, y, incy);
    const double tol = 4.0 * sqrt((double)nx) * 0x1p-24;
    int bad = 0;
    char msg[320] = "";
    for (int64_t i = 0; i < ny * incy && !bad; i++) {
        if (i % incy) {
            if (y[i] != SENTINEL) {
                bad = 1;
                snprintf(msg, sizeof msg, "sgemv nt %d trans %d M %lld N %lld: wrote between y's elements at %lld", nt,
                         trans, (long long)M, (long long)N, (long long)i);
            }
            continue;
        }
        const int64_t o = i / incy;
        double s = 0, mag = 0;
        for (int64_t j = 0; j < nx; j++) {
            const double a = trans ? A[j * lda + o] : A[o * lda + j];
            s += a * x[j];
            mag += fabs(a * x[j]);
        }
        const double ref = s + beta * (double)y0[i], bound = tol * (mag + fabs(beta * y0[i])) + 1e-30;
        if (fabs(y[i] - ref) <= bound) continue;
        bad = 1;
        snprintf(msg, sizeof msg, "sgemv nt %d trans %d M %lld N %lld incy %d: y[%lld] = %.9g, want %.9g", nt, trans,
                 (long long)M, (long long)N, incy, (long long)o, y[i], ref);
    }
    CHECK(!bad, "%s", msg);
    free(A); free(x); free(y); free(y0);
}

static const char *g_config;
static void *config_reader(void *arg) {
    int *torn = arg;
    for (int i = 0; i < 100000; i++) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", ck_blas_config());
        if (strcmp(copy, g_config) != 0) (*torn)++;
    }
    return NULL;
}

static void check_config_concurrent(void) {
    static char first[256];
    snprintf(first, sizeof first, "%s", ck_blas_config());
    g_config = first;
    pthread_t th[2];
    int torn[2] = {0, 0};
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, config_reader, &torn[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(torn[0] + torn[1] == 0, "ck_blas_config() read differently %d times out of 200000 from two threads ('%s')",
          torn[0] + torn[1], first);
}

int main(void) {
    check_config_concurrent();
    ck_blas_single_thread(); /* a strong reference: links blas_mt.o, so the weak ones resolve when it has them */
    if (!ck_sgemm_mt || !ck_sgemv_mt) {
        printf("test_blas_mt: this build has no BLAS; nothing to test\n");
        return 0;
    }
    ck_rng_seed(77);
    /* 1a. small and odd shapes (single-threaded inside, whatever nt) */
    for (int i = 0; i < 120; i++) {
        const int64_t M = ck_rand_int(1, 40), N = ck_rand_int(1, 70), K = ck_rand_int(1, 33);
        check_gemm((int)ck_rand_int(1, 3), (int)ck_rand_int(0, 1), (int)ck_rand_int(0, 1), M, N, K,
                   (int)ck_rand_int(0, 5));
    }
    /* 1b. split by columns (N >= 64*T), by rows (N small, M >= 16*T), and
     * neither (one thread): above the ~4 MFLOP threshold, odd sizes so the
     * slices end off the 16-column / 8-row grid */
    const int64_t big[][3] = {{64, 1001, 40}, {37, 2047, 33}, {509, 40, 111}, {203, 100, 130},
                              {9, 70, 3500}, {130, 130, 130}};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        for (int nt = 1; nt <= 3; nt++)
            for (int t = 0; t < 4; t++) check_gemm(nt, t & 1, t >> 1, big[i][0], big[i][1], big[i][2], t);
    /* 2. sgemv */
    const int64_t gv[][2] = {{3, 5}, {300, 1000}, {700, 3001}, {2999, 1500}, {1, 4100}, {4100, 1}};
    for (size_t i = 0; i < sizeof gv / sizeof gv[0]; i++)
        for (int nt = 1; nt <= 2; nt++)
            for (int trans = 0; trans <= 1; trans++) check_gemv(nt, trans, gv[i][0], gv[i][1], trans ? 1 : 3);
    /* 3. OpenBLAS's pool stays unused */
    if (openblas_get_num_threads)
        CHECK(openblas_get_num_threads() == 1, "OpenBLAS thread count %d after the library's BLAS calls, want 1",
              openblas_get_num_threads());
    return ck_test_finish("test_blas_mt");
}
