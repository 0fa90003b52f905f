/* Development timing of the depthwise and pooling suite layers in the native
 * NCHW8c layout (no layout conversion timed).  Not built by CMake:
 *
 *   cc -O2 -fopenmp -ICSources/include Benchmarks/c/dwpool_dev.c <convkit lib> -lm -o dwpool_dev
 *   dwpool_dev [substring-filter] [threads] [reps]
 *
 * Prints the median and best execution time and GFLOPS (conv) or GB/s of
 * input+output traffic (pool). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#define _ISOC11_SOURCE
#include "convkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer { const char *name; int pool; int64_t c, h, w, r, stride, pad; } layer;

static const layer layers[] = {
    {"mobilenetv2.dw112", 0, 32, 112, 112, 3, 1, 1},
    {"mobilenetv2.dw112s2", 0, 96, 112, 112, 3, 2, 1},
    {"mobilenetv2.dw56", 0, 144, 56, 56, 3, 1, 1},
    {"mobilenetv2.dw7", 0, 960, 7, 7, 3, 1, 1},
    {"l1.dw32", 0, 16, 32, 32, 3, 1, 1},
    {"l1.dw64s2", 0, 8, 64, 64, 3, 2, 1},
    {"l2.dw112s2c8", 0, 8, 112, 112, 3, 2, 1},
    {"l2.dw112c8", 0, 8, 112, 112, 3, 1, 1},
    {"resnet18.maxpool", 1, 64, 112, 112, 3, 2, 1},
    {"vgg16.pool1", 1, 64, 224, 224, 2, 2, 0},
    {"resnet18.gap", 2, 512, 7, 7, 7, 1, 0},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : "";
    const int threads = argc > 2 ? atoi(argv[2]) : 1;
    const int reps = argc > 3 ? atoi(argv[3]) : 200;
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        if (!strstr(L->name, filter)) continue;
        const int64_t cb = (L->c + 7) / 8, xn = cb * 8 * L->h * L->w;
        /* CK_DEV_MISALIGN=1: buffers at 16 mod 64 bytes, like a large std::vector or malloc (peers-bench) */
        const int mis = getenv("CK_DEV_MISALIGN") ? 4 : 0;
        float *xa = aligned_alloc(64, (size_t)(xn + 16) * sizeof(float)), *ya = aligned_alloc(64, (size_t)(xn + 16) * sizeof(float));
        float *x = xa + mis, *y = ya + mis;
        float *w = malloc((size_t)(L->c * 9) * sizeof(float)), *b = malloc((size_t)L->c * sizeof(float));
        for (int64_t i = 0; i < xn; i++) x[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        for (int64_t i = 0; i < L->c * 9; i++) w[i] = (float)((i * 31) % 17) * 0.05f - 0.4f;
        for (int64_t i = 0; i < L->c; i++) b[i] = 0.01f * (float)(i % 5);
        ck_plan *p = NULL;
        ck_plan_options o = {CK_ALGO_AUTO, threads, 0, 0};
        int64_t P = 0, Q = 0;
        double work;
        if (L->pool) {
            ck_pool2d_desc d;
            memset(&d, 0, sizeof d);
            d.kind = L->pool == 1 ? CK_POOL_MAX : CK_POOL_AVG;
            d.n = 1; d.c = L->c; d.h = L->h; d.w = L->w; d.r = d.s = L->r;
            d.stride_h = d.stride_w = L->stride;
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = L->pad;
            d.dilation_h = d.dilation_w = 1;
            d.layout = CK_LAYOUT_NCHW8C;
            if (ck_pool2d_plan_create(&d, &o, &p) != CK_OK) { printf("%s: %s\n", L->name, ck_last_error_message()); continue; }
            ck_pool2d_output_shape(&d, &P, &Q);
            work = 4.0 * (double)L->c * (double)(L->h * L->w + P * Q); /* bytes */
        } else {
            ck_conv2d_desc d = ck_conv2d_desc_init(1, L->c, L->h, L->w, L->c, 3, 3);
            d.groups = L->c;
            d.stride_h = d.stride_w = L->stride;
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = L->pad;
            d.has_bias = 1;
            d.layout = CK_LAYOUT_NCHW8C;
            if (ck_conv2d_plan_create(&d, w, b, &o, &p) != CK_OK) { printf("%s: %s\n", L->name, ck_last_error_message()); continue; }
            ck_conv2d_output_shape(&d, &P, &Q);
            work = 2.0 * (double)L->c * 9.0 * (double)(P * Q); /* flops */
        }
        double *t = malloc((size_t)reps * sizeof(double));
        for (int i = -5; i < reps; i++) {
            const double t0 = now();
            if (L->pool) ck_pool2d_execute(p, x, y);
            else ck_conv2d_execute(p, x, y, NULL, NULL, 0);
            if (i >= 0) t[i] = now() - t0;
        }
        qsort(t, (size_t)reps, sizeof(double), cmp_d);
        printf("%-22s %dt  median %8.4f ms  best %8.4f ms  %7.1f %s (median)\n", L->name, threads, t[reps / 2] * 1e3,
               t[0] * 1e3, work / t[reps / 2] * 1e-9, L->pool ? "GB/s" : "GFLOPS");
        free(t); free(xa); free(ya); free(w); free(b);
        ck_plan_destroy(p);
    }
    return 0;
}
