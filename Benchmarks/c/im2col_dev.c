/* Development timing tool for the im2col + GEMM algorithm (not part of the
 * library or the test suite).
 *
 * For every conv layer of a suite file (default Benchmarks/layers.tsv) it times
 *   (a) a plain baseline: per image, per group, a straightforward triple-loop
 *       im2col into a full column buffer, one cblas_sgemm, then a separate
 *       bias loop (OpenBLAS at the thread count, no OpenMP);
 *   (b) ConvKit's im2col plan (bias on, NCHW; --nhwc adds an NHWC column)
 * at 1 and 2 threads, medians of >= 15 runs (and >= 0.3 s) after warm-up, the two
 * alternating in 3 rounds so that load from other processes hits both alike
 * (rounds, not single runs, with a 0.25 s pause between them: the baseline's
 * threads are OpenBLAS's and ConvKit's are OpenMP's, and each pool keeps
 * spinning for a while after a multi-threaded call), and prints
 * GFLOPS = 2*N*K*(C/g)*R*S*P*Q / t and the ratio (b)/(a).
 *
 * usage: im2col_dev [--suite FILE] [--layers SUBSTRING] [--threads 1,2] [--nhwc] */
#define _POSIX_C_SOURCE 200809L
#include "convkit.h"
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int);

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

typedef struct baseline {
    const layer *L;
    int threads; /* OpenBLAS's thread count for the baseline's sgemm */
    int64_t P, Q;
    const float *x, *w, *b;
    float *y, *col;
} baseline;

static void baseline_run(const baseline *B) {
    const layer *L = B->L;
    openblas_set_num_threads(B->threads); /* ConvKit keeps OpenBLAS at one thread */
    const int64_t G = L->groups, cg = L->c / G, kg = L->k / G, kred = cg * L->r * L->s, P = B->P, Q = B->Q,
                  PQ = P * Q;
    for (int64_t n = 0; n < L->n; n++) {
        for (int64_t g = 0; g < G; g++) {
            const float *x = B->x + (n * L->c + g * cg) * L->h * L->w;
            for (int64_t c = 0; c < cg; c++)
                for (int64_t r = 0; r < L->r; r++)
                    for (int64_t s = 0; s < L->s; s++) {
                        float *dst = B->col + ((c * L->r + r) * L->s + s) * PQ;
                        for (int64_t p = 0; p < P; p++)
                            for (int64_t q = 0; q < Q; q++) {
                                const int64_t ih = p * L->stride - L->pad + r, iw = q * L->stride - L->pad + s;
                                dst[p * Q + q] = (ih >= 0 && ih < L->h && iw >= 0 && iw < L->w)
                                                     ? x[(c * L->h + ih) * L->w + iw]
                                                     : 0.f;
                            }
                    }
            float *y = B->y + (n * L->k + g * kg) * PQ;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)kg, (int)PQ, (int)kred, 1.f,
                        B->w + g * kg * kred, (int)kred, B->col, (int)PQ, 0.f, y, (int)PQ);
        }
        for (int64_t k = 0; k < L->k; k++) {
            float *y = B->y + (n * L->k + k) * PQ;
            for (int64_t j = 0; j < PQ; j++) y[j] += B->b[k];
        }
    }
}

static void pause_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {}
}

/* Runs f(a) after 2 warm-ups for >= MIN_RUNS / ROUNDS runs and >= 0.1 s,
 * appending the times to x[*n]. */
#define MIN_RUNS 15
#define ROUNDS 3
#define MAX_SAMPLES 2000
static void time_round(void (*f)(void *), void *a, double *x, int *n) {
    f(a); f(a);
    const double start = now();
    for (int k = 0; *n < MAX_SAMPLES && (k < MIN_RUNS / ROUNDS || now() - start < 0.1); k++) {
        const double t0 = now();
        f(a);
        x[(*n)++] = now() - t0;
    }
}

/* Median seconds of fa(a) and fb(b): ROUNDS alternating rounds of each, a
 * 0.25 s pause before every round (the other runtime's threads park). */
static void time_pair(void (*fa)(void *), void *a, void (*fb)(void *), void *b, double *ta, double *tb) {
    static double xa[MAX_SAMPLES], xb[MAX_SAMPLES];
    int na = 0, nb = 0;
    for (int r = 0; r < ROUNDS; r++) {
        pause_s(0.25);
        time_round(fa, a, xa, &na);
        pause_s(0.25);
        time_round(fb, b, xb, &nb);
    }
    qsort(xa, (size_t)na, sizeof xa[0], cmp_double);
    qsort(xb, (size_t)nb, sizeof xb[0], cmp_double);
    *ta = xa[na / 2];
    *tb = xb[nb / 2];
}

static void baseline_fn(void *a) { baseline_run(a); }

typedef struct ckrun {
    ck_plan *plan;
    const float *x;
    float *y;
    void *ws;
    size_t ws_bytes;
} ckrun;
static void ck_fn(void *a) {
    ckrun *r = a;
    if (ck_conv2d_execute(r->plan, r->x, r->y, NULL, r->ws, r->ws_bytes) != CK_OK) {
        fprintf(stderr, "execute failed: %s\n", ck_last_error_message());
        exit(1);
    }
}

static ck_plan *make_plan(const layer *L, ck_layout layout, int threads, const float *w, const float *b) {
    ck_conv2d_desc d = ck_conv2d_desc_init(L->n, L->c, L->h, L->w, L->k, L->r, L->s);
    d.stride_h = d.stride_w = L->stride;
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = L->pad;
    d.groups = L->groups;
    d.has_bias = 1;
    d.layout = layout;
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = CK_ALGO_IM2COL;
    o.threads = threads;
    ck_plan *plan = NULL;
    if (ck_conv2d_plan_create(&d, w, b, &o, &plan) != CK_OK) {
        fprintf(stderr, "%s: plan_create failed: %s\n", L->name, ck_last_error_message());
        exit(1);
    }
    return plan;
}

/* baseline vs ConvKit in `layout`: medians (seconds) */
static void time_layer(baseline *B, int threads, ck_layout layout, const float *xl, float *y, double *tb, double *tc,
                       size_t *ws_out) {
    ckrun r;
    memset(&r, 0, sizeof r);
    r.plan = make_plan(B->L, layout, threads, B->w, B->b);
    ck_plan_workspace_size(r.plan, &r.ws_bytes);
    r.ws = r.ws_bytes ? malloc(r.ws_bytes) : NULL;
    r.x = xl;
    r.y = y;
    time_pair(baseline_fn, B, ck_fn, &r, tb, tc);
    *ws_out = r.ws_bytes;
    free(r.ws);
    ck_plan_destroy(r.plan);
}

int main(int argc, char **argv) {
    const char *suite = "Benchmarks/layers.tsv", *filter = NULL, *threads_arg = "1,2";
    int nhwc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--suite") && i + 1 < argc) suite = argv[++i];
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads_arg = argv[++i];
        else if (!strcmp(argv[i], "--nhwc")) nhwc = 1;
        else {
            fprintf(stderr, "usage: %s [--suite FILE] [--layers SUBSTRING] [--threads 1,2] [--nhwc]\n", argv[0]);
            return 2;
        }
    }
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
    printf("%-22s %3s %10s %10s %7s", "layer", "thr", "base GF/s", "ck GF/s", "ratio");
    if (nhwc) printf(" %10s %7s", "nhwc GF/s", "ratio");
    printf(" %10s\n", "ws bytes");
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < nl; i++) {
            const layer *L = &layers[i];
            const int64_t P = (L->h + 2 * L->pad - L->r) / L->stride + 1, Q = (L->w + 2 * L->pad - L->s) / L->stride + 1;
            const int64_t cg = L->c / L->groups, kg = L->k / L->groups;
            const int64_t xn = L->n * L->c * L->h * L->w, yn = L->n * L->k * P * Q, wn = L->k * cg * L->r * L->s;
            float *x = malloc((size_t)xn * 4), *w = malloc((size_t)wn * 4), *b = malloc((size_t)L->k * 4);
            float *y = malloc((size_t)yn * 4), *col = malloc((size_t)(cg * L->r * L->s * P * Q) * 4);
            if (!x || !w || !b || !y || !col) return 3;
            srand(1);
            for (int64_t j = 0; j < xn; j++) x[j] = (float)((double)rand() / RAND_MAX) - 0.5f;
            for (int64_t j = 0; j < wn; j++) w[j] = (float)((double)rand() / RAND_MAX) - 0.5f;
            for (int64_t j = 0; j < L->k; j++) b[j] = (float)((double)rand() / RAND_MAX) - 0.5f;
            (void)kg;
            const double flops = 2.0 * (double)(L->n * L->k * cg * L->r * L->s) * (double)(P * Q);
            float *ybase = malloc((size_t)yn * 4);
            if (!ybase) return 3;
            baseline B = {L, threads[t], P, Q, x, w, b, ybase, col};
            size_t ws = 0;
            double tb, tc;
            time_layer(&B, threads[t], CK_LAYOUT_NCHW, x, y, &tb, &tc, &ws);
            /* sanity: same result as the baseline (within float noise) */
            double maxd = 0, maxy = 0;
            for (int64_t j = 0; j < yn; j++) {
                const double dd = fabs((double)y[j] - ybase[j]);
                if (dd > maxd) maxd = dd;
                if (fabs(ybase[j]) > maxy) maxy = fabs(ybase[j]);
            }
            if (maxd > 1e-4 * (maxy + 1)) fprintf(stderr, "%s: output differs from the baseline by %g\n", L->name, maxd);
            printf("%-22s %3d %10.2f %10.2f %7.2f", L->name, threads[t], flops / tb * 1e-9, flops / tc * 1e-9, tb / tc);
            if (nhwc) {
                size_t ws2;
                float *xh = malloc((size_t)xn * 4);
                if (!xh) return 3;
                ck_convert_layout(L->n, L->c, L->h, L->w, CK_LAYOUT_NCHW, x, CK_LAYOUT_NHWC, xh);
                double tb2, tn;
                time_layer(&B, threads[t], CK_LAYOUT_NHWC, xh, y, &tb2, &tn, &ws2);
                printf(" %10.2f %7.2f", flops / tn * 1e-9, tb2 / tn);
                free(xh);
            }
            free(ybase);
            printf(" %10zu\n", ws);
            fflush(stdout);
            free(x); free(w); free(b); free(y); free(col);
        }
    return 0;
}
