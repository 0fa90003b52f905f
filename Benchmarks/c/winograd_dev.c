/* Winograd development benchmark: times F(2x2), F(4x4), F(6x6) plans on the
 * suite's 3x3 stride-1 layers at 1 and 2 threads and prints direct-equivalent
 * GFLOPS (2*N*K*C*9*P*Q / t, medians of >= 10 runs after warm-up) and the
 * plan-creation time (best_GF: from the fastest run, a guide when the machine is
 * busy).
 *
 *   winograd_dev [--nhwc | --nchw8c] [--reps N] [--threads T] [--algo f2|f4|f6] [--shape N,C,H,W,K] [layer-substring]
 *
 * Set CONVKIT_WINOGRAD_GEMM=blas to time the OpenBLAS product path instead
 * of the own micro-kernel. */
#define _POSIX_C_SOURCE 200809L
#include "convkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { const char *name; int n, c, h, w, k; } layer;
static layer layers[] = {
    {"resnet18.l1.3x3", 1, 64, 56, 56, 64},    {"resnet18.l2.3x3", 1, 128, 28, 28, 128},
    {"resnet18.l3.3x3", 1, 256, 14, 14, 256},  {"resnet18.l4.3x3", 1, 512, 7, 7, 512},
    {"resnet18.l1.3x3.b8", 8, 64, 56, 56, 64}, {"vgg16.conv1_2", 1, 64, 224, 224, 64},
    {"vgg16.conv3_2", 1, 256, 56, 56, 256},    {"vgg16.conv5_2", 1, 512, 14, 14, 512},
    {NULL, 0, 0, 0, 0, 0}, /* --shape N,C,H,W,K */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int nhwc = 0, blk = 0, reps = 10, only_threads = 0;
    const char *filter = NULL, *only_algo = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--nhwc")) nhwc = 1;
        else if (!strcmp(argv[i], "--nchw8c")) blk = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) only_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--algo") && i + 1 < argc) only_algo = argv[++i];
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            layer *c = &layers[sizeof layers / sizeof layers[0] - 1];
            if (sscanf(argv[++i], "%d,%d,%d,%d,%d", &c->n, &c->c, &c->h, &c->w, &c->k) == 5) c->name = "custom";
            filter = "custom";
        }
        else filter = argv[i];
    }
    if (reps < 10) reps = 10;
    static const ck_algorithm algos[3] = {CK_ALGO_WINOGRAD_F2, CK_ALGO_WINOGRAD_F4, CK_ALGO_WINOGRAD_F6};
    static const char *anames[3] = {"f2", "f4", "f6"};
    printf("%-20s %-6s %3s %10s %10s %10s %9s  %s\n", "layer", "algo", "thr", "median_ms", "GFLOPS", "best_GF", "create_ms",
           "impl");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        if (!L->name) continue;
        if (filter && !strstr(L->name, filter)) continue;
        ck_conv2d_desc d = ck_conv2d_desc_init(L->n, L->c, L->h, L->w, L->k, 3, 3);
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
        d.has_bias = 1;
        d.activation.kind = CK_ACT_RELU;
        d.layout = blk ? CK_LAYOUT_NCHW8C : nhwc ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
        int64_t P, Q;
        ck_conv2d_output_shape(&d, &P, &Q);
        double flops;
        ck_conv2d_flops(&d, &flops);
        int64_t xc = 0, yc = 0;
        ck_tensor_size(d.layout, L->n, L->c, L->h, L->w, &xc);
        ck_tensor_size(d.layout, L->n, L->k, P, Q, &yc);
        const size_t xn = (size_t)xc, yn = (size_t)yc, wn = (size_t)L->k * L->c * 9;
        float *x = malloc(xn * 4), *y = malloc(yn * 4), *w = malloc(wn * 4), *b = malloc((size_t)L->k * 4);
        for (size_t i = 0; i < xn; i++) x[i] = (float)((i * 7919) % 1000) / 1000.f - 0.5f;
        for (size_t i = 0; i < wn; i++) w[i] = (float)((i * 104729) % 1000) / 1000.f - 0.5f;
        for (int i = 0; i < L->k; i++) b[i] = 0.01f * i;
        for (int a = 0; a < 3; a++) {
            if (only_algo && strcmp(only_algo, anames[a])) continue;
            for (int t = 1; t <= 2; t++) {
                if (only_threads && t != only_threads) continue;
                ck_plan_options o;
                memset(&o, 0, sizeof o);
                o.algorithm = algos[a];
                o.threads = t;
                o.flags = CK_PLAN_FAST_MATH;
                ck_plan *p = NULL;
                double t0 = now();
                ck_status st = ck_conv2d_plan_create(&d, w, b, &o, &p);
                double cms = (now() - t0) * 1e3;
                if (st != CK_OK) {
                    printf("%-20s %-6s %3d  failed: %s\n", L->name, anames[a], t, ck_last_error_message());
                    continue;
                }
                size_t wsz;
                ck_plan_workspace_size(p, &wsz);
                void *ws = wsz ? malloc(wsz) : NULL;
                for (int i = 0; i < 2; i++) ck_conv2d_execute(p, x, y, NULL, ws, wsz);
                double *ts = malloc(sizeof(double) * (size_t)reps);
                for (int i = 0; i < reps; i++) {
                    double s = now();
                    ck_conv2d_execute(p, x, y, NULL, ws, wsz);
                    ts[i] = now() - s;
                }
                qsort(ts, (size_t)reps, sizeof(double), cmpd);
                const double med = ts[reps / 2];
                printf("%-20s %-6s %3d %10.3f %10.1f %10.1f %9.1f  %s ws=%zuKB\n", L->name, anames[a], t, med * 1e3,
                       flops / med * 1e-9, flops / ts[0] * 1e-9, cms, ck_plan_impl_name(p), wsz >> 10);
                fflush(stdout);
                free(ts);
                free(ws);
                ck_plan_destroy(p);
            }
        }
        free(x); free(y); free(w); free(b);
    }
    return 0;
}
