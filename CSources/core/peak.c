/* Machine peak measurements: FP32 FMA throughput and streaming bandwidth.
 *
 * ck_measure_fma_peak runs, on every thread of an OpenMP team, a loop of
 * independent register-resident multiply-adds (enough accumulators to hide the
 * FMA latency on two pipes) for the dispatched ISA, in team-wide slices, and
 * reports the best slice's total rate.  ck_measure_bandwidth streams a scale
 * kernel (b = s * a) over a working set far larger than any last-level cache
 * and counts the bytes read and written per second by the fastest pass.  Both
 * are what `convkit bench` divides by. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double ck_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sink the compiler cannot see through: results are stored here so the loops
 * cannot be removed as dead code. */
static volatile float ck_peak_sink;

#if defined(__x86_64__)
/* AVX2+FMA: 12 independent ymm accumulators, one vfmadd231ps each per
 * iteration: 12 x 8 lanes x 2 flops = 192 flops per iteration.  With m < 1
 * and a small addend the accumulators converge to a fixed point: no overflow,
 * no denormals. */
__attribute__((target("avx2,fma")))
static void ck_fma_loop_avx2(int64_t iters, float m, float a) {
    __m256 vm = _mm256_set1_ps(m), va = _mm256_set1_ps(a);
    __m256 c0 = _mm256_set1_ps(0.0f), c1 = _mm256_set1_ps(0.1f), c2 = _mm256_set1_ps(0.2f);
    __m256 c3 = _mm256_set1_ps(0.3f), c4 = _mm256_set1_ps(0.4f), c5 = _mm256_set1_ps(0.5f);
    __m256 c6 = _mm256_set1_ps(0.6f), c7 = _mm256_set1_ps(0.7f), c8 = _mm256_set1_ps(0.8f);
    __m256 c9 = _mm256_set1_ps(0.9f), c10 = _mm256_set1_ps(1.0f), c11 = _mm256_set1_ps(1.1f);
    for (int64_t i = 0; i < iters; i++) {
        c0 = _mm256_fmadd_ps(c0, vm, va);
        c1 = _mm256_fmadd_ps(c1, vm, va);
        c2 = _mm256_fmadd_ps(c2, vm, va);
        c3 = _mm256_fmadd_ps(c3, vm, va);
        c4 = _mm256_fmadd_ps(c4, vm, va);
        c5 = _mm256_fmadd_ps(c5, vm, va);
        c6 = _mm256_fmadd_ps(c6, vm, va);
        c7 = _mm256_fmadd_ps(c7, vm, va);
        c8 = _mm256_fmadd_ps(c8, vm, va);
        c9 = _mm256_fmadd_ps(c9, vm, va);
        c10 = _mm256_fmadd_ps(c10, vm, va);
        c11 = _mm256_fmadd_ps(c11, vm, va);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    ck_peak_sink = out[0] + out[7];
}
#endif

/* Portable fallback: 12 independent scalar multiply-add chains (2 flops each;
 * whether the compiler fuses them is its business). */
static void ck_fma_loop_scalar(int64_t iters, float m, float a) {
    float c[12];
    for (int j = 0; j < 12; j++) c[j] = 0.1f * (float)j;
    for (int64_t i = 0; i < iters; i++) {
        c[0] = c[0] * m + a; c[1] = c[1] * m + a; c[2] = c[2] * m + a;
        c[3] = c[3] * m + a; c[4] = c[4] * m + a; c[5] = c[5] * m + a;
        c[6] = c[6] * m + a; c[7] = c[7] * m + a; c[8] = c[8] * m + a;
        c[9] = c[9] * m + a; c[10] = c[10] * m + a; c[11] = c[11] * m + a;
    }
    float s = 0.f;
    for (int j = 0; j < 12; j++) s += c[j];
    ck_peak_sink = s;
}

/* One thread's share of a slice: `iters` iterations of the ISA's loop. */
static void ck_fma_run(bool vector, int64_t iters, float m, float a) {
#if defined(__x86_64__)
    if (vector) {
        ck_fma_loop_avx2(iters, m, a);
        return;
    }
#else
    (void)vector;
#endif
    ck_fma_loop_scalar(iters, m, a);
}

static ck_status ck_check_measure_args(int32_t threads, double seconds, const void *out, const char *out_name) {
    CK_CHECK_PTR(out, out_name);
    if (threads < 0) return ck_fail(CK_ERR_INVALID_ARGUMENT, "threads=%d must be >= 0 (0 = all cores)", (int)threads);
    if (!isfinite(seconds) || seconds <= 0.0 || seconds > 3600.0)
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "seconds=%g must be finite, > 0 and <= 3600", seconds);
    return CK_OK;
}

ck_status ck_measure_fma_peak(int32_t threads, double seconds, double *gflops) {
    ck_clear_error();
    CK_CHECK(ck_check_measure_args(threads, seconds, gflops, "gflops"));
    const int nt = ck_resolve_threads(threads);
    const ck_isa isa = ck_dispatch_isa();
#if defined(__x86_64__)
    const bool vector = isa == CK_ISA_AVX2_FMA || isa == CK_ISA_AVX512;
#else
    const bool vector = false;
    (void)isa;
#endif
    const double flops_per_iter = vector ? 12.0 * 8.0 * 2.0 : 12.0 * 2.0;
#ifdef _OPENMP
    const double team = (double)nt;
#else
    const double team = 1.0; /* without OpenMP one thread runs */
    (void)nt;
#endif
    /* Runtime values the compiler cannot fold. */
    volatile float vm = 0.999999f, va = 1e-6f;
    const float m = vm, a = va;

    /* Calibrate on this thread: iterations that take about one slice.  Slices
     * are short (0.25-2 ms, ~1/2048 of the time) so that on a busy machine
     * some of them fall between the scheduler's preemptions of any team thread. */
    double slice = seconds / 2048.0;
    if (slice < 0.00025) slice = 0.00025;
    if (slice > 0.002) slice = 0.002;
    int64_t iters = 1024;
    for (;;) {
        const double t0 = ck_now();
        ck_fma_run(vector, iters, m, a);
        const double dt = ck_now() - t0;
        if (dt >= 0.25 * slice || iters > ((int64_t)1 << 40)) {
            iters = (int64_t)((double)iters * slice / (dt > 0.0 ? dt : 1e-9)) + 1;
            break;
        }
        iters *= 4;
    }

    /* Slices run by the whole team between barriers: a slice lasts as long as
     * its slowest thread, so its rate is what all threads sustain together.
     * The best slice is the peak: on a busy machine a slice that lost a CPU to
     * another process must not drag the figure down. */
    int64_t slices = (int64_t)(seconds / slice);
    if (slices < 3) slices = 3;
    double best = 0.0, mark = 0.0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        for (int64_t sl = 0; sl < slices; sl++) {
#ifdef _OPENMP
#pragma omp barrier
#pragma omp master
#endif
            mark = ck_now();
#ifdef _OPENMP
#pragma omp barrier
#endif
            ck_fma_run(vector, iters, m, a);
#ifdef _OPENMP
#pragma omp barrier
#pragma omp master
#endif
            {
                const double dt = ck_now() - mark;
                const double rate = dt > 0.0 ? team * (double)iters * flops_per_iter / dt : 0.0;
                if (rate > best) best = rate;
            }
        }
    }
    if (!(best > 0.0)) return ck_fail(CK_ERR_INTERNAL, "FMA peak measurement produced no rate");
    *gflops = best * 1e-9;
    return CK_OK;
}

/* Working set of the bandwidth test: two arrays of 128 MiB each. */
#define CK_BW_BYTES_PER_ARRAY ((size_t)128 << 20)

ck_status ck_measure_bandwidth(int32_t threads, double seconds, double *gbps) {
    ck_clear_error();
    CK_CHECK(ck_check_measure_args(threads, seconds, gbps, "gbps"));
    const int nt = ck_resolve_threads(threads);
    const int64_t count = (int64_t)(CK_BW_BYTES_PER_ARRAY / sizeof(float));
    float *a = ck_malloc(CK_BW_BYTES_PER_ARRAY);
    float *b = ck_malloc(CK_BW_BYTES_PER_ARRAY);
    if (!a || !b) {
        ck_free(a);
        ck_free(b);
        return ck_fail(CK_ERR_OUT_OF_MEMORY, "allocating 2 x %zu bytes for the bandwidth test",
                       CK_BW_BYTES_PER_ARRAY);
    }
    volatile float vs = 1.0000001f;
    const float scale = vs;

    /* First touch with the same static partition the timed passes use, then
     * one untimed-for-the-result pass to estimate the pass time. */
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int64_t i = 0; i < count; i++) {
        a[i] = (float)(i & 1023) * 0.001f;
        b[i] = 0.f;
    }
    double t0 = ck_now();
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int64_t i = 0; i < count; i++) b[i] = scale * a[i];
    const double pass = ck_now() - t0;
    int64_t passes = pass > 0.0 ? (int64_t)ceil(seconds / pass) : 1;
    if (passes < 2) passes = 2;
    if (passes > 100000) passes = 100000;

    /* Time every pass (the implicit barrier of the worksharing loop ends it)
     * and keep the fastest: the best sustained rate, robust to a busy machine. */
    double best_pass = 0.0;
    double mark = ck_now();
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        for (int64_t it = 0; it < passes; it++) {
            /* Alternate direction so each pass reads what the previous wrote. */
            float *src = (it & 1) ? b : a;
            float *dst = (it & 1) ? a : b;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (int64_t i = 0; i < count; i++) dst[i] = scale * src[i];
#ifdef _OPENMP
#pragma omp master
#endif
            {
                const double now = ck_now();
                if (best_pass == 0.0 || now - mark < best_pass) best_pass = now - mark;
                mark = now;
            }
#ifdef _OPENMP
#pragma omp barrier
#endif
        }
    }
    const double elapsed = best_pass;
    ck_peak_sink = a[count / 2] + b[count / 3];
    ck_free(a);
    ck_free(b);
#ifndef _OPENMP
    (void)nt;
#endif
    if (!(elapsed > 0.0)) return ck_fail(CK_ERR_INTERNAL, "bandwidth measurement took no time");
    *gbps = 2.0 * (double)CK_BW_BYTES_PER_ARRAY / elapsed * 1e-9;
    return CK_OK;
}
