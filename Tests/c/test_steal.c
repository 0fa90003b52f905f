/* Work stealing over static item ranges (core/steal.c) and the direct
 * convolution's use of it:
 *   1. a model check: T virtual threads (more than the ranges too) call
 *      ck_steal_next in random order over random splits, empty ranges
 *      included; every item comes out exactly once, a thread's own range in
 *      order from its front, the others' from their backs;
 *   2. real threads: one slow owner among 4 threads; every item exactly once,
 *      and the others take over part of the slow thread's range;
 *   3. direct, Winograd and depthwise plans (the three users of stealing)
 *      of 2, 3 and more threads than CK_STEAL_MAX_RANGES (threads sharing
 *      ranges), then the same with OpenMP's parallel regions made inactive
 *      (max-active-levels 0: a team of one thread, as inside a caller's own
 *      parallel region), where that one thread runs every range.  Results
 *      against the reference (direct and depthwise bitwise on small-integer
 *      data, else within the algorithm's tolerance), bitwise equal to the
 *      same plan run by a team of one thread, and (Winograd, depthwise,
 *      direct on integer data) to the algorithm's 1-thread plan. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "steal.h"
#include "testutil.h"
#include <pthread.h>
#include <time.h>

/* weak: present when the library was built with OpenMP */
extern void omp_set_max_active_levels(int) __attribute__((weak));
extern int omp_get_max_active_levels(void) __attribute__((weak));

static void model_check(int R, int T, int64_t n, int trial) {
    ck_steal_range r[CK_STEAL_MAX_RANGES];
    int64_t lo[CK_STEAL_MAX_RANGES + 1], front[CK_STEAL_MAX_RANGES], back[CK_STEAL_MAX_RANGES];
    /* random non-decreasing cut points; some ranges empty */
    lo[0] = 0;
    lo[R] = n;
    for (int i = 1; i < R; i++) lo[i] = (int64_t)(ck_rng_next() % (uint64_t)(n + 1));
    for (int i = 1; i < R; i++)
        for (int j = i + 1; j < R; j++)
            if (lo[j] < lo[i]) {
                const int64_t t = lo[i];
                lo[i] = lo[j];
                lo[j] = t;
            }
    for (int i = 0; i < R; i++) {
        ck_steal_set(&r[i], lo[i], lo[i + 1]);
        front[i] = lo[i];
        back[i] = lo[i + 1];
    }
    int cursor[2 * CK_STEAL_MAX_RANGES + 1] = {0}, finished[2 * CK_STEAL_MAX_RANGES + 1] = {0}, nfin = 0;
    char *seen = calloc((size_t)n + 1, 1);
    int64_t got = 0, bad = 0;
    while (nfin < T) {
        const int t = (int)(ck_rng_next() % (uint64_t)T);
        if (finished[t]) continue;
        const int64_t it = ck_steal_next(r, R, t, &cursor[t]);
        if (it < 0) {
            finished[t] = 1;
            nfin++;
            continue;
        }
        got++;
        if (it >= n || seen[it]) {
            bad++;
            continue;
        }
        seen[it] = 1;
        /* which range it came from, and from which end */
        int v = 0;
        while (v < R && !(it >= lo[v] && it < lo[v + 1])) v++;
        const int own = v == t % R;
        if (own && it == front[v]) front[v]++;
        else if (!own && it == back[v] - 1) back[v]--;
        else bad++;
    }
    CHECK(got == n && bad == 0, "R %d T %d n %lld trial %d: %lld items handed out, %lld out of place", R, T,
          (long long)n, trial, (long long)got, (long long)bad);
    /* every thread finished only when every range was empty */
    for (int i = 0; i < R; i++)
        CHECK(front[i] == back[i], "R %d T %d n %lld trial %d: range %d left [%lld, %lld)", R, T, (long long)n, trial,
              i, (long long)front[i], (long long)back[i]);
    free(seen);
}

typedef struct {
    ck_steal_range *r;
    int R, tid;
    int64_t per_item_ns;
    int *owner_of; /* which thread ran each item */
} worker_arg;

static void spin_ns(int64_t ns) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) < ns);
}

static void *worker(void *p) {
    worker_arg *a = p;
    int cursor = 0;
    for (int64_t it; (it = ck_steal_next(a->r, a->R, a->tid, &cursor)) >= 0;) {
        if (a->per_item_ns) spin_ns(a->per_item_ns);
        /* a second writer of one item shows up as a lost or doubled count below */
        __atomic_fetch_add(&a->owner_of[it], a->tid + 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void threads_check(void) {
    enum { T = 4, N = 4000 };
    ck_steal_range r[T];
    int *owner_of = calloc(N, sizeof *owner_of);
    for (int t = 0; t < T; t++) ck_steal_set(&r[t], (int64_t)N * t / T, (int64_t)N * (t + 1) / T);
    pthread_t th[T];
    worker_arg args[T];
    for (int t = 0; t < T; t++) {
        /* thread 0 is 50x slower per item than the others */
        args[t] = (worker_arg){r, T, t, t == 0 ? 100000 : 2000, owner_of};
        CHECK(pthread_create(&th[t], NULL, worker, &args[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    int64_t bad = 0, stolen = 0;
    for (int64_t i = 0; i < N; i++) {
        const int who = owner_of[i] - 1;
        if (who < 0 || who >= T) bad++;
        else if (i < N / T && who != 0) stolen++;
    }
    CHECK(bad == 0, "%lld of %d items ran zero or several times", (long long)bad, N);
    /* 1000 items at 100 us on thread 0 against 3 threads finishing their own
     * 3000 at 2 us: most of range 0 must move */
    CHECK(stolen >= N / T / 2, "only %lld of range 0's %d items were taken by other threads", (long long)stolen, N / T);
    printf("test_steal: slow owner: %lld of %d items of its range run by the others\n", (long long)stolen, N / T);
    free(owner_of);
}

/* A plan of algorithm `algo` with `threads` threads against the same
 * algorithm at 1 thread (bitwise) and the reference, NCHW8c. */
static void conv_check(ck_algorithm algo, int threads, int integer, int64_t c, int64_t hw, int64_t k, int64_t rs,
                       int64_t stride, int64_t groups, size_t ws_limit) {
    ck_conv2d_desc d = ck_conv2d_desc_init(2, c, hw, hw, k, rs, rs);
    d.stride_h = d.stride_w = stride;
    d.groups = groups;
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = rs / 2;
    d.layout = CK_LAYOUT_NCHW8C;
    d.has_bias = 1;
    d.activation.kind = CK_ACT_RELU;
    int64_t P, Q, xn, yn;
    CHECK_OK(ck_conv2d_output_shape(&d, &P, &Q));
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NCHW8C, d.n, c, hw, hw, &xn));
    CHECK_OK(ck_tensor_size(CK_LAYOUT_NCHW8C, d.n, k, P, Q, &yn));
    const int64_t wn = k * (c / groups) * rs * rs;
    float *x = calloc((size_t)xn, sizeof *x), *w = malloc((size_t)wn * sizeof *w), *b = malloc((size_t)k * sizeof *b);
    float *y = malloc((size_t)yn * sizeof *y), *y1 = malloc((size_t)yn * sizeof *y1), *yr = malloc((size_t)yn * sizeof *yr);
    for (int64_t n = 0; n < d.n; n++)
        for (int64_t ci = 0; ci < c; ci++)
            for (int64_t p = 0; p < hw * hw; p++)
                x[((n * ((c + 7) / 8) + ci / 8) * hw * hw + p) * 8 + ci % 8] =
                    integer ? (float)ck_rand_int(-3, 3) : ck_rand_uniform(-1.f, 1.f);
    for (int64_t i = 0; i < wn; i++) w[i] = integer ? (float)ck_rand_int(-2, 2) : ck_rand_uniform(-1.f, 1.f);
    for (int64_t i = 0; i < k; i++) b[i] = integer ? (float)ck_rand_int(-4, 4) : ck_rand_uniform(-1.f, 1.f);
    for (int64_t i = 0; i < yn; i++) y[i] = y1[i] = 1234.5f;
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    o.algorithm = algo;
    o.threads = threads;
    o.workspace_limit = ws_limit;
    ck_plan *pt = NULL, *p1 = NULL, *pr = NULL;
    CHECK_OK(ck_conv2d_plan_create(&d, w, b, &o, &pt));
    o.threads = 1;
    CHECK_OK(ck_conv2d_plan_create(&d, w, b, &o, &p1));
    o.algorithm = CK_ALGO_REFERENCE;
    CHECK_OK(ck_conv2d_plan_create(&d, w, b, &o, &pr));
    if (pt && p1 && pr) {
        size_t wsb = 0, ws1 = 0;
        CHECK_OK(ck_plan_workspace_size(pt, &wsb));
        CHECK_OK(ck_plan_workspace_size(p1, &ws1));
        if (ws1 > wsb) wsb = ws1;
        void *ws = wsb ? malloc(wsb) : NULL;
        CHECK_OK(ck_conv2d_execute(pt, x, y, NULL, ws, wsb));
        CHECK_OK(ck_conv2d_execute(p1, x, y1, NULL, ws, wsb));
        CHECK_OK(ck_conv2d_execute(pr, x, yr, NULL, NULL, 0));
        /* the same plan run by a team of one thread, which then runs every
         * range: which thread computes an output must not change it */
        int64_t moved = 0;
        if (omp_set_max_active_levels && omp_get_max_active_levels) {
            float *yo = malloc((size_t)yn * sizeof *yo);
            const int levels = omp_get_max_active_levels();
            omp_set_max_active_levels(0);
            CHECK_OK(ck_conv2d_execute(pt, x, yo, NULL, ws, wsb));
            omp_set_max_active_levels(levels);
            for (int64_t i = 0; i < yn; i++) moved += memcmp(&y[i], &yo[i], sizeof y[i]) != 0;
            free(yo);
        }
        free(ws);
        /* the algorithm's tolerance for sums of c/g*rs*rs products of values
         * in [-1, 1]: direct and depthwise 1e-5 per product, Winograd F(4x4)
         * 2e-5 (README, "Accuracy") */
        const int wino = algo == CK_ALGO_WINOGRAD_F2 || algo == CK_ALGO_WINOGRAD_F4;
        const double tol = (wino ? 2e-5 : 1e-5) * (double)(c / groups * rs * rs);
        /* direct: the pixel blocks follow the thread count, and an
         * output's sum order depends on the tile it falls in (interior or
         * border), so float results may differ in the last bits from 1
         * thread's; Winograd and depthwise compute each output the same way
         * at any thread count */
        const int as_1t = algo != CK_ALGO_DIRECT || integer;
        int64_t bad = 0, differ = 0;
        double worst = 0;
        for (int64_t i = 0; i < yn; i++) {
            const double e = fabs((double)y[i] - yr[i]);
            if (e > worst) worst = e;
            if (integer && !wino ? e != 0 : e > tol) bad++;
            if (as_1t && memcmp(&y[i], &y1[i], sizeof y[i]) != 0) differ++;
        }
        CHECK(bad == 0, "%s, %d threads, C %lld %lldx%lld K %lld %lldx%lld s%lld g%lld%s: %lld of %lld outputs off "
              "the reference (worst %.3g)", ck_algorithm_name(algo), threads, (long long)c, (long long)hw,
              (long long)hw, (long long)k, (long long)rs, (long long)rs, (long long)stride, (long long)groups,
              integer ? " (integer data)" : "", (long long)bad, (long long)yn, worst);
        CHECK(differ == 0, "%s, %d threads, C %lld %lldx%lld K %lld: %lld of %lld outputs differ from 1 thread's",
              ck_algorithm_name(algo), threads, (long long)c, (long long)hw, (long long)hw, (long long)k,
              (long long)differ, (long long)yn);
        CHECK(moved == 0, "%s, %d threads, C %lld %lldx%lld K %lld: %lld of %lld outputs change when one thread "
              "runs the plan", ck_algorithm_name(algo), threads, (long long)c, (long long)hw, (long long)hw,
              (long long)k, (long long)moved, (long long)yn);
    }
    ck_plan_destroy(pt);
    ck_plan_destroy(p1);
    ck_plan_destroy(pr);
    free(x), free(w), free(b), free(y), free(y1), free(yr);
}

static void conv_checks(void) {
    static const struct {
        ck_algorithm algo;
        int64_t c, hw, k, rs, stride, groups;
        size_t ws_limit; /* 0: the default; Winograd's small one makes many tile blocks */
    } shapes[] = {
        {CK_ALGO_DIRECT, 16, 9, 24, 3, 1, 1, 0},      {CK_ALGO_DIRECT, 64, 14, 128, 1, 2, 1, 0},
        {CK_ALGO_DIRECT, 24, 7, 40, 3, 1, 1, 0},      {CK_ALGO_DIRECT, 3, 17, 16, 7, 2, 1, 0},
        {CK_ALGO_DIRECT, 32, 6, 48, 1, 1, 1, 0},      {CK_ALGO_WINOGRAD_F4, 16, 13, 24, 3, 1, 1, 0},
        {CK_ALGO_WINOGRAD_F4, 24, 30, 40, 3, 1, 1, 0}, {CK_ALGO_WINOGRAD_F2, 8, 7, 16, 3, 1, 1, 0},
        {CK_ALGO_WINOGRAD_F4, 16, 21, 24, 3, 1, 1, 64 * 1024},
        {CK_ALGO_DEPTHWISE, 24, 11, 24, 3, 1, 24, 0}, {CK_ALGO_DEPTHWISE, 40, 20, 40, 3, 2, 40, 0},
        {CK_ALGO_DEPTHWISE, 8, 5, 8, 5, 1, 8, 0},
    };
    static const int threads[] = {2, 3, CK_STEAL_MAX_RANGES + 8};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 3; t++)
            for (int integer = 0; integer < 2; integer++)
                conv_check(shapes[s].algo, threads[t], integer, shapes[s].c, shapes[s].hw, shapes[s].k, shapes[s].rs,
                           shapes[s].stride, shapes[s].groups, shapes[s].ws_limit);
}

int main(void) {
    ck_rng_seed(42);
    int trial = 0;
    static const int Rs[] = {1, 2, 3, 5, CK_STEAL_MAX_RANGES};
    for (int a = 0; a < 5; a++)
        for (int tm = 1; tm <= 2; tm++)
            for (int64_t n = 0; n <= 200; n += 1 + n / 2)
                for (int k = 0; k < 4; k++) model_check(Rs[a], Rs[a] * tm + (tm == 2 ? 1 : 0), n, trial++);
    threads_check();

    printf("test_steal: direct, Winograd and depthwise plans, OpenMP threads available\n");
    conv_checks();
    if (omp_set_max_active_levels && omp_get_max_active_levels) {
        const int levels = omp_get_max_active_levels();
        omp_set_max_active_levels(0);
        CHECK(omp_get_max_active_levels() == 0, "max-active-levels reads %d, not 0", omp_get_max_active_levels());
        printf("test_steal: direct, Winograd and depthwise plans, OpenMP regions of one thread\n");
        conv_checks();
        omp_set_max_active_levels(levels);
    } else {
        printf("test_steal: built without OpenMP: plans run on the calling thread\n");
    }
    return ck_test_finish("test_steal");
}
