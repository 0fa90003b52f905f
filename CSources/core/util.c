/* Checked arithmetic, layouts, activations, memory, threads. */
#include "internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(CK_HAVE_OPENBLAS)
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
char *openblas_get_config(void);
#endif

#define CK_STR2(x) #x
#define CK_STR(x) CK_STR2(x)
const char *ck_version(void) {
    return CK_STR(CK_VERSION_MAJOR) "." CK_STR(CK_VERSION_MINOR) "." CK_STR(CK_VERSION_PATCH);
}

ck_status ck_mul_checked(int64_t a, int64_t b, int64_t *out, const char *what) {
    int64_t r;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > CK_MAX_ELEMENTS)
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "%s: %lld x %lld overflows the element limit (2^40)",
                       what, (long long)a, (long long)b);
    *out = r;
    return CK_OK;
}

ck_status ck_count4(int64_t n, int64_t c, int64_t h, int64_t w, int64_t *out, const char *what) {
    int64_t t = 0;
    CK_CHECK(ck_mul_checked(n, c, &t, what));
    CK_CHECK(ck_mul_checked(t, h, &t, what));
    CK_CHECK(ck_mul_checked(t, w, &t, what));
    *out = t;
    return CK_OK;
}

ck_status ck_check_layout(ck_layout layout, bool allow_blocked) {
    if (layout == CK_LAYOUT_NCHW || layout == CK_LAYOUT_NHWC) return CK_OK;
    if (layout == CK_LAYOUT_NCHW8C) {
        if (allow_blocked) return CK_OK;
        return ck_fail(CK_ERR_INVALID_LAYOUT, "layout NCHW8c is not accepted by this op (use NCHW or NHWC)");
    }
    return ck_fail(CK_ERR_INVALID_LAYOUT, "unknown layout value %d", (int)layout);
}

ck_status ck_check_shape4(const char *what, int64_t n, int64_t c, int64_t h, int64_t w) {
    if (n < 1 || c < 1 || h < 1 || w < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "%s shape N=%lld C=%lld H=%lld W=%lld: every dimension must be >= 1", what,
                       (long long)n, (long long)c, (long long)h, (long long)w);
    int64_t t;
    return ck_count4(n, c, h, w, &t, what);
}

ck_status ck_plan_options_resolve(const ck_plan_options *in, ck_plan_options *out) {
    ck_plan_options o;
    memset(&o, 0, sizeof o);
    if (in) o = *in;
    if ((int)o.algorithm < 0 || (int)o.algorithm >= CK_ALGO_COUNT)
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "unknown algorithm value %d", (int)o.algorithm);
    if (o.threads < 0) return ck_fail(CK_ERR_INVALID_ARGUMENT, "threads=%d must be >= 0 (0 = all cores)", o.threads);
    if (o.flags & ~(uint32_t)(CK_PLAN_NO_WINOGRAD | CK_PLAN_FAST_MATH))
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "unknown plan flags 0x%x", o.flags);
    *out = o;
    return CK_OK;
}

ck_status ck_check_activation(ck_activation act) {
    if ((int)act.kind < CK_ACT_NONE || (int)act.kind > CK_ACT_TANH)
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "unknown activation kind %d", (int)act.kind);
    if (!isfinite(act.alpha))
        return ck_fail(CK_ERR_INVALID_ARGUMENT, "activation alpha is not finite");
    return CK_OK;
}

float ck_activate(ck_activation act, float v) {
    switch (act.kind) {
    case CK_ACT_RELU: return v > 0.f ? v : 0.f;
    case CK_ACT_RELU6: return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    case CK_ACT_LEAKY_RELU: return v >= 0.f ? v : act.alpha * v;
    case CK_ACT_SIGMOID: return 1.f / (1.f + expf(-v));
    case CK_ACT_TANH: return tanhf(v);
    case CK_ACT_NONE:
    default: return v;
    }
}

ck_status ck_tensor_size(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w, int64_t *count) {
    ck_clear_error();
    CK_CHECK_PTR(count, "count");
    CK_CHECK(ck_check_layout(layout, true));
    if (n < 1 || c < 1 || h < 1 || w < 1)
        return ck_fail(CK_ERR_INVALID_SHAPE, "tensor shape %lldx%lldx%lldx%lld has a dimension < 1",
                       (long long)n, (long long)c, (long long)h, (long long)w);
    if (c > CK_MAX_ELEMENTS) /* also keeps c + 7 below from overflowing */
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "tensor size: C=%lld exceeds the limit of 2^40 elements", (long long)c);
    int64_t cc = layout == CK_LAYOUT_NCHW8C ? (c + 7) / 8 * 8 : c;
    return ck_count4(n, cc, h, w, count, "tensor size");
}

ck_status ck_convert_layout(int64_t n, int64_t c, int64_t h, int64_t w, ck_layout sl, const float *src,
                            ck_layout dl, float *dst) {
    int64_t cnt;
    CK_CHECK(ck_tensor_size(sl, n, c, h, w, &cnt));
    CK_CHECK(ck_tensor_size(dl, n, c, h, w, &cnt));
    CK_CHECK_PTR(src, "src");
    CK_CHECK_PTR(dst, "dst");
    if (sl == dl) {
        memcpy(dst, src, (size_t)cnt * sizeof(float));
        return CK_OK;
    }
    const int64_t hw = h * w, cb = (c + 7) / 8;
    /* Fast paths: contiguous runs on one side, unit-stride inner loops the
     * compiler vectorises.  The generic loop below is the definition. */
    if (sl == CK_LAYOUT_NCHW && dl == CK_LAYOUT_NCHW8C) {
        /* one pass over each destination block, zero tail lanes written in
         * place (a network's 3-channel input: no memset + 3 strided passes) */
        for (int64_t in = 0; in < n; in++)
            for (int64_t b = 0; b < cb; b++) {
                const int64_t nc = c - b * 8 < 8 ? c - b * 8 : 8;
                const float *s = src + (in * c + b * 8) * hw;
                float *d = dst + (in * cb + b) * hw * 8;
                if (nc == 8) {
                    for (int64_t i = 0; i < hw; i++)
                        for (int64_t l = 0; l < 8; l++) d[i * 8 + l] = s[l * hw + i];
                } else {
                    for (int64_t i = 0; i < hw; i++)
                        for (int64_t l = 0; l < 8; l++) d[i * 8 + l] = l < nc ? s[l * hw + i] : 0.f;
                }
            }
        return CK_OK;
    }
    if (dl == CK_LAYOUT_NCHW8C && c % 8) memset(dst, 0, (size_t)cnt * sizeof(float));
    if (sl == CK_LAYOUT_NCHW8C && dl == CK_LAYOUT_NCHW) {
        for (int64_t in = 0; in < n; in++)
            for (int64_t ic = 0; ic < c; ic++) {
                const float *s = src + (in * cb + ic / 8) * hw * 8 + ic % 8;
                float *d = dst + (in * c + ic) * hw;
                for (int64_t i = 0; i < hw; i++) d[i] = s[i * 8];
            }
        return CK_OK;
    }
    if (sl == CK_LAYOUT_NCHW8C && dl == CK_LAYOUT_NHWC) {
        for (int64_t in = 0; in < n; in++)
            for (int64_t b = 0; b < cb; b++) {
                const int64_t nc = c - b * 8 < 8 ? c - b * 8 : 8;
                const float *s = src + (in * cb + b) * hw * 8;
                float *d = dst + in * hw * c + b * 8;
                for (int64_t i = 0; i < hw; i++)
                    for (int64_t l = 0; l < nc; l++) d[i * c + l] = s[i * 8 + l];
            }
        return CK_OK;
    }
    if (sl == CK_LAYOUT_NHWC && dl == CK_LAYOUT_NCHW8C) {
        for (int64_t in = 0; in < n; in++)
            for (int64_t b = 0; b < cb; b++) {
                const int64_t nc = c - b * 8 < 8 ? c - b * 8 : 8;
                const float *s = src + in * hw * c + b * 8;
                float *d = dst + (in * cb + b) * hw * 8;
                for (int64_t i = 0; i < hw; i++)
                    for (int64_t l = 0; l < nc; l++) d[i * 8 + l] = s[i * c + l];
            }
        return CK_OK;
    }
    for (int64_t in = 0; in < n; in++)
        for (int64_t ic = 0; ic < c; ic++)
            for (int64_t ih = 0; ih < h; ih++)
                for (int64_t iw = 0; iw < w; iw++)
                    dst[ck_offset(dl, c, h, w, in, ic, ih, iw)] = src[ck_offset(sl, c, h, w, in, ic, ih, iw)];
    return CK_OK;
}

void *ck_malloc(size_t bytes) {
    if (bytes == 0) return NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    return aligned_alloc(64, rounded);
}

void ck_free(void *p) { free(p); }

int ck_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int ck_resolve_threads(int32_t requested) {
    if (requested <= 0) return ck_max_threads();
    return requested;
}

void ck_split_range(int64_t n, int T, int t, int64_t align, int64_t *lo, int64_t *hi) {
    if (align > 1 && n >= align * T) {
        *lo = t == 0 ? 0 : (n * t / T) / align * align;
        *hi = t == T - 1 ? n : (n * (t + 1) / T) / align * align;
    } else {
        *lo = n * t / T;
        *hi = n * (t + 1) / T;
    }
}

#if defined(CK_HAVE_OPENBLAS)
/* openblas_get_config() rebuilds its string in one static buffer on every
 * call, so concurrent callers can read it half-written (two threads saving
 * profiles at once compared a torn copy against the file's header and
 * dropped the file's entries as another machine's).  It is copied once. */
static char ck_blas_config_str[256];
static pthread_once_t ck_blas_config_once = PTHREAD_ONCE_INIT;
static void ck_blas_config_init(void) {
    const char *c = openblas_get_config();
    snprintf(ck_blas_config_str, sizeof ck_blas_config_str, "%s", c ? c : "");
}
#endif

const char *ck_blas_config(void) {
#if defined(CK_HAVE_OPENBLAS)
    pthread_once(&ck_blas_config_once, ck_blas_config_init);
    return ck_blas_config_str;
#elif defined(CK_HAVE_ACCELERATE)
    return "Accelerate";
#else
    return "";
#endif
}

static const char *const ck_algo_names[CK_ALGO_COUNT] = {
    "auto", "reference", "im2col", "direct", "winograd-f2", "winograd-f4", "winograd-f6", "depthwise"};

const char *ck_algorithm_name(ck_algorithm a) {
    if ((int)a < 0 || (int)a >= CK_ALGO_COUNT) return "unknown";
    return ck_algo_names[a];
}

ck_status ck_algorithm_from_name(const char *name, ck_algorithm *algo) {
    ck_clear_error();
    CK_CHECK_PTR(name, "name");
    CK_CHECK_PTR(algo, "algo");
    for (int i = 0; i < CK_ALGO_COUNT; i++)
        if (strcmp(name, ck_algo_names[i]) == 0) { *algo = (ck_algorithm)i; return CK_OK; }
    return ck_fail(CK_ERR_INVALID_ARGUMENT, "unknown algorithm name '%s' (known: auto, reference, im2col, direct, "
                   "winograd-f2, winograd-f4, winograd-f6, depthwise)", name);
}
