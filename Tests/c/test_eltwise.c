/* The element-wise fast paths (kernels/eltwise_*) behind ck_activation_forward,
 * ck_add and ck_batch_norm_inference, against scalar definitions: every
 * activation, lengths around the vector widths (tails), special values (NaN,
 * +-inf, -0), in-place calls, and batch norm in all three layouts against a
 * float64 computation.  ctest runs it for the dispatched ISA and again under
 * CONVKIT_MAX_ISA=scalar (the portable instantiation). */
#include "testutil.h"

static float act_def(ck_activation a, float v) {
    switch (a.kind) {
    case CK_ACT_RELU: return v > 0.f ? v : 0.f;
    case CK_ACT_RELU6: return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    case CK_ACT_LEAKY_RELU: return v >= 0.f ? v : a.alpha * v;
    case CK_ACT_SIGMOID: return 1.f / (1.f + expf(-v));
    case CK_ACT_TANH: return tanhf(v);
    default: return v;
    }
}

/* bitwise equal, or both NaN, or (sigmoid/tanh) within 2 ulp-ish */
static int same(float got, float want, ck_activation a) {
    if (isnan(want)) return isnan(got);
    if (a.kind == CK_ACT_SIGMOID || a.kind == CK_ACT_TANH) return fabsf(got - want) <= 1e-6f * (1.f + fabsf(want));
    return memcmp(&got, &want, sizeof got) == 0;
}

int main(void) {
    const ck_activation acts[6] = {{CK_ACT_NONE, 0}, {CK_ACT_RELU, 0}, {CK_ACT_RELU6, 0},
                                   {CK_ACT_LEAKY_RELU, 0.1f}, {CK_ACT_SIGMOID, 0}, {CK_ACT_TANH, 0}};
    const int64_t lens[] = {0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 257};
    const float specials[] = {NAN, INFINITY, -INFINITY, -0.f, 0.f, 6.f, 6.0000005f, -1e-30f, 1e30f};
    enum { MAXN = 257 };
    float a[MAXN], b[MAXN], y[MAXN + 1], inplace[MAXN];
    for (int ai = 0; ai < 6; ai++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int64_t n = lens[li];
            ck_fill_uniform(a, MAXN, -8, 8);
            ck_fill_uniform(b, MAXN, -8, 8);
            for (int64_t i = 0; i < n && i < 9; i++) a[(i * 7) % n] = specials[i];
            for (int64_t i = 0; i <= MAXN; i++) y[i] = 1234.5f;
            CHECK_OK(ck_activation_forward(acts[ai], n, a, y));
            for (int64_t i = 0; i < n; i++)
                CHECK(same(y[i], act_def(acts[ai], a[i]), acts[ai]), "act %d n=%lld i=%lld: %g for %g", ai,
                      (long long)n, (long long)i, (double)y[i], (double)a[i]);
            CHECK(y[n] == 1234.5f, "act wrote past n=%lld", (long long)n);
            memcpy(inplace, a, sizeof a);
            CHECK_OK(ck_activation_forward(acts[ai], n, inplace, inplace));
            CHECK(memcmp(inplace, y, (size_t)n * sizeof(float)) == 0, "in-place act %d n=%lld differs", ai, (long long)n);
            CHECK_OK(ck_add(n, a, b, acts[ai], y));
            for (int64_t i = 0; i < n; i++)
                CHECK(same(y[i], act_def(acts[ai], a[i] + b[i]), acts[ai]), "add %d n=%lld i=%lld: %g", ai,
                      (long long)n, (long long)i, (double)y[i]);
            memcpy(inplace, a, sizeof a);
            CHECK_OK(ck_add(n, inplace, b, acts[ai], inplace));
            CHECK(memcmp(inplace, y, (size_t)n * sizeof(float)) == 0, "in-place add %d n=%lld differs", ai, (long long)n);
        }

    /* batch norm inference: all layouts against float64, channel tail zero */
    const ck_layout layouts[3] = {CK_LAYOUT_NCHW, CK_LAYOUT_NHWC, CK_LAYOUT_NCHW8C};
    for (int it = 0; it < 60; it++) {
        const int64_t n = ck_rand_int(1, 2), c = ck_rand_int(1, 21), h = ck_rand_int(1, 7), w = ck_rand_int(1, 9);
        const ck_activation act = acts[it % 6];
        const int64_t cnt = n * c * h * w;
        float *x = ck_test_alloc(cnt), *g = ck_test_alloc(c), *be = ck_test_alloc(c), *mu = ck_test_alloc(c),
              *var = ck_test_alloc(c), *back = ck_test_alloc(cnt);
        ck_fill_uniform(x, cnt, -3, 3);
        ck_fill_uniform(g, c, -2, 2);
        ck_fill_uniform(be, c, -1, 1);
        ck_fill_uniform(mu, c, -1, 1);
        ck_fill_uniform(var, c, 0, 2);
        for (int li = 0; li < 3; li++) {
            int64_t ln;
            CHECK_OK(ck_tensor_size(layouts[li], n, c, h, w, &ln));
            float *xl = ck_test_alloc(ln), *yl = ck_test_alloc(ln);
            for (int64_t i = 0; i < ln; i++) yl[i] = 1234.5f;
            CHECK_OK(ck_convert_layout(n, c, h, w, CK_LAYOUT_NCHW, x, layouts[li], xl));
            CHECK_OK(ck_batch_norm_inference(layouts[li], n, c, h, w, xl, g, be, mu, var, 1e-5f, act, yl));
            if (layouts[li] == CK_LAYOUT_NCHW8C)
                for (int64_t in = 0; in < n; in++)
                    for (int64_t k = c; k < (c + 7) / 8 * 8; k++)
                        for (int64_t p = 0; p < h * w; p++)
                            CHECK(yl[((in * ((c + 7) / 8) + k / 8) * h * w + p) * 8 + k % 8] == 0.f,
                                  "batch norm NCHW8c tail not zero");
            CHECK_OK(ck_convert_layout(n, c, h, w, layouts[li], yl, CK_LAYOUT_NCHW, back));
            for (int64_t in = 0; in < n; in++)
                for (int64_t ic = 0; ic < c; ic++) {
                    const double sc = (double)g[ic] / sqrt((double)var[ic] + 1e-5);
                    for (int64_t p = 0; p < h * w; p++) {
                        const int64_t o = (in * c + ic) * h * w + p;
                        const double lin = sc * ((double)x[o] - (double)mu[ic]) + (double)be[ic];
                        const double want = act_def(act, (float)lin);
                        CHECK(fabs((double)back[o] - want) <= 2e-6 * (1.0 + fabs(lin) + fabs(sc * mu[ic])),
                              "batch norm layout %d act %d: %g vs %g", li, (int)act.kind, (double)back[o], want);
                    }
                }
            free(xl);
            free(yl);
        }
        free(x); free(g); free(be); free(mu); free(var); free(back);
    }
    return ck_test_finish("test_eltwise");
}
