/* Development timing of the direct convolution on the compute-bound suite
 * layers (and a few small ones), in the native NCHW8c layout so no layout
 * conversion is timed.  Each layer's output is first spot-checked against a
 * float64 evaluation of the definition at sampled output points (the full
 * reference is too slow on the big layers).
 *
 *   direct_dev [substring-filter] [reps]        (threads 1 and 2)
 *
 * Prints plan-creation time (weight packing), median and best execution time,
 * GFLOPS and the fraction of the FMA peak (103.7 GFLOPS per core measured on
 * the development machine, a Zen 3 VM; override with CK_PEAK1=<GFLOPS>).
 *
 * Build (from the repository root, after a CMake build in build-direct):
 *   cc -O2 -ICSources/include Benchmarks/c/direct_dev.c build-direct/libconvkit.a \
 *      -fopenmp -lopenblas -lm -o build-direct/direct_dev */
#define _POSIX_C_SOURCE 200809L
#include "convkit.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer { const char *name; int64_t n, c, h, w, k, r, s, stride, pad; } layer;

static const layer layers[] = {
    {"resnet18.conv1", 1, 3, 224, 224, 64, 7, 7, 2, 3},
    {"resnet18.l1.3x3", 1, 64, 56, 56, 64, 3, 3, 1, 1},
    {"resnet18.l2.3x3s2", 1, 64, 56, 56, 128, 3, 3, 2, 1},
    {"resnet18.l2.1x1s2", 1, 64, 56, 56, 128, 1, 1, 2, 0},
    {"resnet18.l2.3x3", 1, 128, 28, 28, 128, 3, 3, 1, 1},
    {"resnet18.l3.3x3", 1, 256, 14, 14, 256, 3, 3, 1, 1},
    {"resnet18.l4.3x3", 1, 512, 7, 7, 512, 3, 3, 1, 1},
    {"resnet18.l1.3x3.b8", 8, 64, 56, 56, 64, 3, 3, 1, 1},
    {"vgg16.conv1_2", 1, 64, 224, 224, 64, 3, 3, 1, 1},
    {"vgg16.conv3_2", 1, 256, 56, 56, 256, 3, 3, 1, 1},
    {"vgg16.conv5_2", 1, 512, 14, 14, 512, 3, 3, 1, 1},
    {"alexnet.conv1", 1, 3, 227, 227, 96, 11, 11, 4, 0},
    {"resnet50.1x1expand", 1, 64, 56, 56, 256, 1, 1, 1, 0},
    {"mobilenetv2.pw112", 1, 32, 112, 112, 16, 1, 1, 1, 0},
    {"mobilenetv2.pw56", 1, 144, 56, 56, 24, 1, 1, 1, 0},
    {"mobilenetv2.pw7", 1, 960, 7, 7, 320, 1, 1, 1, 0},
    {"lenet5.c1", 1, 1, 32, 32, 6, 5, 5, 1, 0},
    /* kernel-shape probes (not suite layers): pw56 with K = 8, 16, 32 */
    {"probe.pw56k8", 1, 144, 56, 56, 8, 1, 1, 1, 0},
    {"probe.pw56k16", 1, 144, 56, 56, 16, 1, 1, 1, 0},
    {"probe.pw56k32", 1, 144, 56, 56, 32, 1, 1, 1, 0},
    /* l2.1x1s2 probes: the same reduction at stride 1 on its 28x28 output grid, and K = 96 / 192 */
    {"probe.s1x28k128", 1, 64, 28, 28, 128, 1, 1, 1, 0},
    {"probe.s2k96", 1, 64, 56, 56, 96, 1, 1, 2, 0},
    {"probe.s2k192", 1, 64, 56, 56, 192, 1, 1, 2, 0},
    {"probe.s2x28k128", 1, 64, 28, 28, 128, 1, 1, 2, 0},
    {"probe.s2x56b4k128", 4, 64, 56, 56, 128, 1, 1, 2, 0},
    /* pw112 probes: K = 24 and 32 */
    {"probe.pw112k24", 1, 32, 112, 112, 24, 1, 1, 1, 0},
    {"probe.pw112k32", 1, 32, 112, 112, 32, 1, 1, 1, 0},
    {"probe.pw28c32k16", 1, 32, 28, 28, 16, 1, 1, 1, 0},
    {"probe.pw56c32k16", 1, 32, 56, 56, 16, 1, 1, 1, 0},
    {"probe.pw112c64k16", 1, 64, 112, 112, 16, 1, 1, 1, 0},
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

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2.f - 1.f;
}

static int64_t off8(int64_t C, int64_t H, int64_t W, int64_t n, int64_t c, int64_t h, int64_t w) {
    return ((((n * ((C + 7) / 8)) + c / 8) * H + h) * W + w) * 8 + c % 8;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : "";
    const int reps = argc > 2 ? atoi(argv[2]) : 15;
    const double peak1 = getenv("CK_PEAK1") ? atof(getenv("CK_PEAK1")) : 103.7;
    const int thr[2] = {1, 2};
    printf("%-22s %3s %9s %9s %9s %8s %7s  %s\n", "layer", "thr", "create_ms", "median_ms", "best_ms", "GFLOPS", "%peak",
           "check");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        if (!strstr(L->name, filter)) continue;
        ck_conv2d_desc d = ck_conv2d_desc_init(L->n, L->c, L->h, L->w, L->k, L->r, L->s);
        d.stride_h = d.stride_w = L->stride;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = L->pad;
        d.has_bias = 1;
        d.activation.kind = CK_ACT_RELU;
        d.layout = CK_LAYOUT_NCHW8C;
        int64_t P, Q, xs, ys;
        double flops;
        ck_conv2d_output_shape(&d, &P, &Q);
        ck_conv2d_flops(&d, &flops);
        ck_tensor_size(CK_LAYOUT_NCHW8C, L->n, L->c, L->h, L->w, &xs);
        ck_tensor_size(CK_LAYOUT_NCHW8C, L->n, L->k, P, Q, &ys);
        const int64_t wn = L->k * L->c * L->r * L->s;
        float *x = calloc((size_t)xs, 4), *y = calloc((size_t)ys, 4), *w = malloc((size_t)wn * 4),
              *b = malloc((size_t)L->k * 4);
        for (int64_t n = 0; n < L->n; n++)
            for (int64_t c = 0; c < L->c; c++)
                for (int64_t h = 0; h < L->h; h++)
                    for (int64_t ww = 0; ww < L->w; ww++) x[off8(L->c, L->h, L->w, n, c, h, ww)] = frand();
        for (int64_t i = 0; i < wn; i++) w[i] = frand();
        for (int64_t i = 0; i < L->k; i++) b[i] = frand();
        for (int ti = 0; ti < 2; ti++) {
            ck_plan_options o;
            memset(&o, 0, sizeof o);
            o.algorithm = CK_ALGO_DIRECT;
            o.threads = thr[ti];
            ck_plan *plan = NULL;
            double t0 = now();
            ck_status st = ck_conv2d_plan_create(&d, w, b, &o, &plan);
            double tc = (now() - t0) * 1e3;
            if (st != CK_OK) {
                printf("%-22s plan failed: %s\n", L->name, ck_last_error_message());
                break;
            }
            size_t wsb = 0;
            ck_plan_workspace_size(plan, &wsb);
            void *ws = wsb ? malloc(wsb) : NULL;
            ck_conv2d_execute(plan, x, y, NULL, ws, wsb);
            /* spot check 256 sampled outputs against float64 */
            double maxrel = 0;
            for (int sidx = 0; sidx < 256; sidx++) {
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                const int64_t n = (int64_t)(rng % (uint64_t)L->n), k = (int64_t)((rng >> 8) % (uint64_t)L->k),
                              p = (int64_t)((rng >> 20) % (uint64_t)P), q = (int64_t)((rng >> 36) % (uint64_t)Q);
                double acc = b[k], mag = fabs(b[k]);
                for (int64_t c = 0; c < L->c; c++)
                    for (int64_t r = 0; r < L->r; r++)
                        for (int64_t s = 0; s < L->s; s++) {
                            const int64_t ih = p * L->stride - L->pad + r, iw = q * L->stride - L->pad + s;
                            if (ih < 0 || ih >= L->h || iw < 0 || iw >= L->w) continue;
                            const double t = (double)w[((k * L->c + c) * L->r + r) * L->s + s] *
                                             x[off8(L->c, L->h, L->w, n, c, ih, iw)];
                            acc += t;
                            mag += fabs(t);
                        }
                if (acc < 0) acc = 0;
                const double e = fabs(acc - y[off8(L->k, P, Q, n, k, p, q)]) / (mag + 1e-30);
                if (e > maxrel) maxrel = e;
            }
            const double tol = 4.0 * sqrt((double)(L->c * L->r * L->s)) * pow(2, -24);
            double *ts = malloc(sizeof(double) * (size_t)reps);
            for (int i = 0; i < 2; i++) ck_conv2d_execute(plan, x, y, NULL, ws, wsb);
            for (int i = 0; i < reps; i++) {
                double a = now();
                ck_conv2d_execute(plan, x, y, NULL, ws, wsb);
                ts[i] = now() - a;
            }
            qsort(ts, (size_t)reps, sizeof(double), cmp_d);
            const double med = ts[reps / 2], best = ts[0];
            const double gf = flops / med * 1e-9;
            printf("%-22s %3d %9.2f %9.3f %9.3f %8.1f %6.1f%%  %s (rel %.1e) %s\n", L->name, thr[ti], tc, med * 1e3,
                   best * 1e3, gf, 100.0 * gf / (peak1 * thr[ti]), maxrel <= tol ? "ok" : "MISMATCH", maxrel,
                   ck_plan_impl_name(plan));
            fflush(stdout);
            free(ts);
            free(ws);
            ck_plan_destroy(plan);
        }
        free(x); free(y); free(w); free(b);
    }
    return 0;
}
