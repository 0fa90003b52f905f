/* Development timing tool for the convolution backward passes (not part of
 * the library or the test suite).
 *
 * For every conv layer of a suite file (default Benchmarks/layers.tsv) it times
 * ConvKit's forward plan (auto, for context), ck_conv2d_backward_data and
 * ck_conv2d_backward_weights (auto backward plan: im2col/col2im + BLAS; bias
 * gradient included) in NCHW at 1 and 2 threads: medians of >= --runs runs
 * (default 7) and >= 0.2 s after one warm-up, the three interleaved run by run
 * so load from other processes hits them alike.  GFLOPS = 2*N*K*(C/g)*R*S*P*Q / t
 * for each pass (the backward passes do the forward's multiply-adds).
 *
 * --no-forward skips the forward timing (its OpenBLAS threads, left spinning
 * after each call, would compete with the backward passes' OpenMP threads).
 *
 * usage: backward_dev [--suite FILE] [--layers SUBSTRING] [--threads 1,2] [--runs N] [--nhwc] [--no-forward] */
#define _POSIX_C_SOURCE 200809L
#include "convkit.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct layer {
    char name[64];
    int64_t n, c, h, w, k, r, s, stride, pad, groups;
} layer;

static void die(const char *what) {
    fprintf(stderr, "%s failed: %s\n", what, ck_last_error_message());
    exit(1);
}

int main(int argc, char **argv) {
    const char *suite = "Benchmarks/layers.tsv", *filter = NULL, *threads_arg = "1,2";
    int min_runs = 7, nhwc = 0, forward = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--suite") && i + 1 < argc) suite = argv[++i];
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads_arg = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) min_runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nhwc")) nhwc = 1;
        else if (!strcmp(argv[i], "--no-forward")) forward = 0;
        else {
            fprintf(stderr, "usage: %s [--suite FILE] [--layers SUBSTRING] [--threads 1,2] [--runs N] [--nhwc] [--no-forward]\n", argv[0]);
            return 2;
        }
    }
    if (min_runs < 1) min_runs = 1;
    FILE *f = fopen(suite, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", suite);
        return 2;
    }
    layer layers[256];
    int nl = 0;
    char line[512];
    while (nl < 256 && fgets(line, sizeof line, f)) {
        char kind[32];
        layer L;
        long long v[10];
        if (line[0] == '#') continue;
        if (sscanf(line, "%31s %63s %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", kind, L.name, &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) != 12 || strcmp(kind, "conv"))
            continue;
        L.n = v[0]; L.c = v[1]; L.h = v[2]; L.w = v[3]; L.k = v[4]; L.r = v[5]; L.s = v[6];
        L.stride = v[7]; L.pad = v[8]; L.groups = v[9];
        if (filter && !strstr(L.name, filter)) continue;
        layers[nl++] = L;
    }
    fclose(f);
    int threads[8], nt = 0;
    for (const char *p = threads_arg; *p && nt < 8;) {
        threads[nt++] = atoi(p);
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    printf("%-22s %3s %9s %9s %9s %8s %8s %10s  %s\n", "layer", "thr", "fwd GF/s", "bwdD GF/s", "bwdW GF/s", "D/fwd",
           "W/fwd", "ws bytes", "impl");
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < nl; i++) {
            const layer *L = &layers[i];
            ck_conv2d_desc d = ck_conv2d_desc_init(L->n, L->c, L->h, L->w, L->k, L->r, L->s);
            d.stride_h = d.stride_w = L->stride;
            d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = L->pad;
            d.groups = L->groups;
            d.has_bias = 1;
            d.layout = nhwc ? CK_LAYOUT_NHWC : CK_LAYOUT_NCHW;
            int64_t P, Q;
            double flops;
            if (ck_conv2d_output_shape(&d, &P, &Q) != CK_OK || ck_conv2d_flops(&d, &flops) != CK_OK) die("shape");
            const int64_t xn = L->n * L->c * L->h * L->w, yn = L->n * L->k * P * Q, wn = L->k * (L->c / L->groups) * L->r * L->s;
            float *x = malloc((size_t)xn * 4), *y = malloc((size_t)yn * 4), *w = malloc((size_t)wn * 4);
            float *dx = malloc((size_t)xn * 4), *dy = malloc((size_t)yn * 4), *dw = malloc((size_t)wn * 4);
            float *b = calloc((size_t)L->k, 4), *db = malloc((size_t)L->k * 4);
            if (!x || !y || !w || !dx || !dy || !dw || !b || !db) die("allocation");
            srand(1);
            for (int64_t j = 0; j < xn; j++) x[j] = (float)((double)rand() / RAND_MAX - 0.5);
            for (int64_t j = 0; j < yn; j++) dy[j] = (float)((double)rand() / RAND_MAX - 0.5);
            for (int64_t j = 0; j < wn; j++) w[j] = (float)((double)rand() / RAND_MAX - 0.5);
            ck_plan_options o;
            memset(&o, 0, sizeof o);
            o.threads = threads[t];
            o.workspace_limit = (size_t)64 << 20;
            ck_plan *fwd = NULL, *bwd = NULL;
            if (ck_conv2d_plan_create(&d, w, b, &o, &fwd) != CK_OK) die("forward plan");
            if (ck_conv2d_backward_plan_create(&d, &o, &bwd) != CK_OK) die("backward plan");
            size_t wsf = 0, wsb = 0;
            ck_plan_workspace_size(fwd, &wsf);
            ck_plan_workspace_size(bwd, &wsb);
            void *bf = wsf ? malloc(wsf) : NULL, *bb = wsb ? malloc(wsb) : NULL;
            static double tf[4000], td[4000], tw[4000];
            int n = 0;
            const double start = now();
            for (int warm = 1; n < 4000 && (n < min_runs || now() - start < 0.2); warm = 0) {
                double t0 = now();
                if (forward && ck_conv2d_execute(fwd, x, y, NULL, bf, wsf) != CK_OK) die("forward");
                double t1 = now();
                if (ck_conv2d_backward_data(bwd, dy, w, dx, bb, wsb) != CK_OK) die("backward data");
                double t2 = now();
                if (ck_conv2d_backward_weights(bwd, x, dy, dw, db, bb, wsb) != CK_OK) die("backward weights");
                double t3 = now();
                if (warm) continue;
                tf[n] = t1 - t0; td[n] = t2 - t1; tw[n] = t3 - t2;
                n++;
            }
            qsort(tf, (size_t)n, sizeof tf[0], cmp_double);
            qsort(td, (size_t)n, sizeof td[0], cmp_double);
            qsort(tw, (size_t)n, sizeof tw[0], cmp_double);
            const double gf = flops / tf[n / 2] * 1e-9, gd = flops / td[n / 2] * 1e-9, gw = flops / tw[n / 2] * 1e-9;
            printf("%-22s %3d %9.1f %9.1f %9.1f %8.2f %8.2f %10zu  %s\n", L->name, threads[t], gf, gd, gw, gd / gf,
                   gw / gf, wsb, ck_plan_impl_name(bwd));
            fflush(stdout);
            free(bf); free(bb);
            ck_plan_destroy(fwd);
            ck_plan_destroy(bwd);
            free(x); free(y); free(w); free(dx); free(dy); free(dw); free(b); free(db);
        }
    return 0;
}
