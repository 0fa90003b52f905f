/*
 * ConvKit — CPU convolution kernels for CNNs.  The one public C header.
 *
 * Conventions
 *  - Every function that can fail returns a ck_status; CK_OK is 0.  Out-values
 *    are written only on success.  ck_status_string() names a code;
 *    ck_last_error_message() gives the detailed message (naming the field and
 *    the values) of the last failure on the calling thread.
 *  - Tensors are dense float32 arrays described by (N, C, H, W) and a layout.
 *    Convolution weights are always K x C/groups x R x S ("OIHW"); transposed
 *    convolution weights are C x K/groups x R x S ("IOHW", as in ONNX/PyTorch).
 *  - Work that depends only on the shape and the weights (packing, transforms,
 *    workspace sizing) happens once in *_plan_create; a plan is immutable after
 *    creation and may be executed concurrently from many threads as long as
 *    each call has its own output and workspace buffers.
 *  - Convolution is cross-correlation (the deep-learning convention):
 *      y[n,k,p,q] = act( b[k] + res[n,k,p,q] + sum_{c,r,s}
 *                    w[k,c,r,s] * x[n, g*C/g + c, p*sh - pt + r*dh, q*sw - pl + s*dw] )
 *    with zero padding and output size
 *      P = floor((H + pt + pb - dh*(R-1) - 1) / sh) + 1.
 */
#ifndef CONVKIT_H
#define CONVKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CK_VERSION_MAJOR 0
#define CK_VERSION_MINOR 1
#define CK_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

/** Result of every fallible call.  Three groups: caller errors (1..99), valid
 *  requests ConvKit cannot serve (100..199), and system errors (200..). */
typedef enum ck_status {
    CK_OK = 0,
    /* --- caller errors --- */
    CK_ERR_NULL_POINTER = 1,        /**< a required pointer argument is NULL */
    CK_ERR_INVALID_SHAPE = 2,       /**< a dimension (N, C, H, W, K, R, S, ...) is < 1 */
    CK_ERR_INVALID_STRIDE = 3,      /**< a stride is < 1 */
    CK_ERR_INVALID_PADDING = 4,     /**< a padding is negative (or >= window where that is required) */
    CK_ERR_INVALID_DILATION = 5,    /**< a dilation is < 1 */
    CK_ERR_INVALID_GROUPS = 6,      /**< groups < 1, or C or K not divisible by groups */
    CK_ERR_EMPTY_OUTPUT = 7,        /**< the computed output size is <= 0 */
    CK_ERR_SIZE_OVERFLOW = 8,       /**< an element or byte count overflows 64-bit / size_t arithmetic, or exceeds CK_MAX_ELEMENTS */
    CK_ERR_INVALID_LAYOUT = 9,      /**< unknown layout, or a layout the op does not accept */
    CK_ERR_INVALID_ARGUMENT = 10,   /**< any other invalid value (unknown enum, bad epsilon, wrong plan kind, ...) */
    /* --- valid but unsupported --- */
    CK_ERR_UNSUPPORTED_ALGORITHM = 100, /**< the explicitly requested algorithm cannot serve this shape/options */
    CK_ERR_UNSUPPORTED_ISA = 101,       /**< the algorithm needs an ISA this CPU (or CONVKIT_MAX_ISA) lacks */
    CK_ERR_UNSUPPORTED = 102,           /**< any other valid request not implemented */
    /* --- system errors --- */
    CK_ERR_OUT_OF_MEMORY = 200,         /**< an allocation failed */
    CK_ERR_INSUFFICIENT_WORKSPACE = 201,/**< the caller's workspace is smaller than ck_plan_workspace_size() */
    CK_ERR_WORKSPACE_LIMIT = 202,       /**< the plan would need more workspace than the plan's workspace_limit */
    CK_ERR_INTERNAL = 255               /**< a bug in ConvKit; please report */
} ck_status;

/** Static, human-readable name/description of a status code (never NULL). */
const char *ck_status_string(ck_status status);

/** Detailed message of the last failed call on this thread (never NULL; "" if
 *  none).  Valid until the next ConvKit call on the same thread. */
const char *ck_last_error_message(void);

/** Largest element count ConvKit accepts for any one tensor (2^40). */
#define CK_MAX_ELEMENTS ((int64_t)1 << 40)

/* ------------------------------------------------------------------------ */
/* Library information                                                      */
/* ------------------------------------------------------------------------ */

/** Version string, e.g. "0.1.0". */
const char *ck_version(void);

/** ISA levels, ordered: a CPU supporting level L supports all lower ones of
 *  its architecture. */
typedef enum ck_isa {
    CK_ISA_SCALAR = 0,     /**< portable C */
    CK_ISA_AVX2_FMA = 1,   /**< x86-64 AVX2 + FMA3 */
    CK_ISA_AVX512 = 2,     /**< x86-64 AVX-512F (detected, never selected: untested) */
    CK_ISA_NEON = 10       /**< arm64 Advanced SIMD */
} ck_isa;

/** CPU features detected at first use (thread-safe, detected once). */
typedef struct ck_cpu_info {
    char model[64];         /**< CPU model string ("" if unknown) */
    char arch[16];          /**< "x86_64", "aarch64", ... */
    int has_sse42, has_avx, has_avx2, has_fma, has_avx512f, has_neon;
    ck_isa dispatched_isa;  /**< the ISA the kernels use (after CONVKIT_MAX_ISA) */
    int logical_cores;      /**< online logical CPUs */
    int64_t l1d_bytes, l2_bytes, l3_bytes; /**< cache sizes (0 if unknown) */
} ck_cpu_info;

/** Fill *info with the detected CPU features. */
ck_status ck_get_cpu_info(ck_cpu_info *info);

/** Name of an ISA level ("scalar", "avx2", "avx512", "neon"). */
const char *ck_isa_name(ck_isa isa);

/** OpenBLAS configuration string ("" if not linked against OpenBLAS). */
const char *ck_blas_config(void);

/** Maximum OpenMP threads (1 without OpenMP). */
int ck_max_threads(void);

/** Measure the machine's FP32 FMA throughput (GFLOPS, 2 flops per FMA lane)
 *  with a register-resident FMA loop for the dispatched ISA, on `threads`
 *  threads (0 = all cores), for about `seconds` seconds. */
ck_status ck_measure_fma_peak(int32_t threads, double seconds, double *gflops);

/** Measure streaming memory bandwidth (GB/s, read+write bytes of a large
 *  copy/scale loop) on `threads` threads (0 = all cores). */
ck_status ck_measure_bandwidth(int32_t threads, double seconds, double *gbps);

/* ------------------------------------------------------------------------ */
/* Common descriptor pieces                                                 */
/* ------------------------------------------------------------------------ */

/** Memory layout of an activation tensor. */
typedef enum ck_layout {
    CK_LAYOUT_NCHW = 0,    /**< [N][C][H][W] */
    CK_LAYOUT_NHWC = 1,    /**< [N][H][W][C] */
    CK_LAYOUT_NCHW8C = 2   /**< blocked [N][ceil(C/8)][H][W][8], channel tail zero-padded */
} ck_layout;

/** Number of floats a tensor of this shape occupies in `layout` (NCHW8c pads
 *  C up to a multiple of 8).  Fails on invalid layout or overflow. */
ck_status ck_tensor_size(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w, int64_t *count);

/** Copy a tensor from one layout to another (src and dst must not overlap). */
ck_status ck_convert_layout(int64_t n, int64_t c, int64_t h, int64_t w,
                            ck_layout src_layout, const float *src,
                            ck_layout dst_layout, float *dst);

/** Element-wise activation functions. */
typedef enum ck_activation_kind {
    CK_ACT_NONE = 0,
    CK_ACT_RELU = 1,
    CK_ACT_RELU6 = 2,       /**< min(max(x, 0), 6) */
    CK_ACT_LEAKY_RELU = 3,  /**< x >= 0 ? x : alpha * x */
    CK_ACT_SIGMOID = 4,
    CK_ACT_TANH = 5
} ck_activation_kind;

/** An activation and its parameter (alpha: the leaky-ReLU slope). */
typedef struct ck_activation {
    ck_activation_kind kind;
    float alpha;
} ck_activation;

/** Convolution algorithms.  Names (ck_algorithm_name) are stable and lower-case. */
typedef enum ck_algorithm {
    CK_ALGO_AUTO = 0,          /**< "auto": ConvKit picks (heuristic) */
    CK_ALGO_REFERENCE = 1,     /**< "reference": naive, float64 accumulation; the oracle */
    CK_ALGO_IM2COL = 2,        /**< "im2col": im2col + BLAS sgemm */
    CK_ALGO_DIRECT = 3,        /**< "direct": register-blocked SIMD direct convolution */
    CK_ALGO_WINOGRAD_F2 = 4,   /**< "winograd-f2": F(2x2,3x3) */
    CK_ALGO_WINOGRAD_F4 = 5,   /**< "winograd-f4": F(4x4,3x3) */
    CK_ALGO_WINOGRAD_F6 = 6,   /**< "winograd-f6": F(6x6,3x3), needs CK_PLAN_FAST_MATH */
    CK_ALGO_DEPTHWISE = 7      /**< "depthwise": groups == C == K kernels */
} ck_algorithm;
#define CK_ALGO_COUNT 8

/** Stable lower-case name of an algorithm ("auto", "reference", "im2col", ...). */
const char *ck_algorithm_name(ck_algorithm algo);

/** Parse an algorithm name; CK_ERR_INVALID_ARGUMENT if unknown. */
ck_status ck_algorithm_from_name(const char *name, ck_algorithm *algo);

/** Plan option flags. */
enum {
    CK_PLAN_NO_WINOGRAD = 1u << 0,  /**< auto never picks Winograd */
    CK_PLAN_FAST_MATH = 1u << 1     /**< allow less accurate algorithms (F(6x6)) */
};

/** Options common to all plans.  Zero-initialised options are valid defaults. */
typedef struct ck_plan_options {
    ck_algorithm algorithm;   /**< CK_ALGO_AUTO or an explicit algorithm (never silently replaced) */
    int32_t threads;          /**< OpenMP threads used by execute; 0 = all cores (ck_max_threads()).
                                   BLAS calls run on these threads too, each single-threaded on a
                                   slice of the GEMM: ConvKit keeps OpenBLAS at one thread
                                   (process-wide) and never uses OpenBLAS's own thread pool. */
    uint32_t flags;           /**< CK_PLAN_* */
    size_t workspace_limit;   /**< max workspace bytes; 0 = default (16 MiB); algorithms block to fit */
} ck_plan_options;

/** Opaque plan: a validated descriptor, the chosen algorithm, packed weights. */
typedef struct ck_plan ck_plan;

/** Destroy a plan (NULL is a no-op). */
void ck_plan_destroy(ck_plan *plan);

/** Workspace bytes execute needs (0 if none).  Passing a NULL workspace to an
 *  execute function makes ConvKit allocate (and free) it for that call. */
ck_status ck_plan_workspace_size(const ck_plan *plan, size_t *bytes);

/** The algorithm a plan runs (useful after CK_ALGO_AUTO). */
ck_status ck_plan_algorithm(const ck_plan *plan, ck_algorithm *algo);

/** Implementation name of the plan's kernel, e.g. "im2col/openblas", or
 *  "direct/avx2_fma 4x24+6x16" (direct plans list their register tiles,
 *  pixels x output channels). Never NULL. */
const char *ck_plan_impl_name(const ck_plan *plan);

/** Threads the plan's execute uses. */
ck_status ck_plan_threads(const ck_plan *plan, int32_t *threads);

/* ------------------------------------------------------------------------ */
/* 2-D convolution                                                          */
/* ------------------------------------------------------------------------ */

/** 2-D convolution (cross-correlation).  Input N x C x H x W, output
 *  N x K x P x Q, both in `layout`.  Zero strides/dilations are invalid (set 1). */
typedef struct ck_conv2d_desc {
    int64_t n, c, h, w;          /**< input shape */
    int64_t k;                   /**< output channels */
    int64_t r, s;                /**< kernel height, width */
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t dilation_h, dilation_w;
    int64_t groups;              /**< C and K divisible by groups; groups == C == K is depthwise */
    int32_t has_bias;
    ck_activation activation;    /**< fused activation */
    ck_layout layout;            /**< layout of input, output and residual */
} ck_conv2d_desc;

/** A descriptor with unit strides/dilations, groups 1, no padding, NCHW. */
ck_conv2d_desc ck_conv2d_desc_init(int64_t n, int64_t c, int64_t h, int64_t w,
                                   int64_t k, int64_t r, int64_t s);

/** Validate a descriptor and compute the output height P and width Q. */
ck_status ck_conv2d_output_shape(const ck_conv2d_desc *desc, int64_t *p, int64_t *q);

/** Multiply-adds x 2 of a convolution (direct-equivalent FLOPs). */
ck_status ck_conv2d_flops(const ck_conv2d_desc *desc, double *flops);

/** Whether `algo` can serve `desc` under `options` (CK_OK), else the status
 *  and a message saying why it declines. */
ck_status ck_conv2d_algorithm_applicable(const ck_conv2d_desc *desc, ck_algorithm algo,
                                         const ck_plan_options *options);

/** Create a convolution plan.  weights: K*(C/groups)*R*S floats (OIHW);
 *  bias: K floats, required iff has_bias (else ignored).  The plan copies or
 *  packs what it needs; the caller's arrays may be freed afterwards.
 *  options may be NULL (defaults). */
ck_status ck_conv2d_plan_create(const ck_conv2d_desc *desc, const float *weights,
                                const float *bias, const ck_plan_options *options,
                                ck_plan **plan);

/** Run a convolution plan.  x: input, y: output, residual: NULL or a tensor
 *  shaped like y added before the activation.  workspace: NULL (allocated for
 *  the call) or at least ck_plan_workspace_size() bytes. */
ck_status ck_conv2d_execute(const ck_plan *plan, const float *x, float *y,
                            const float *residual, void *workspace, size_t workspace_bytes);

/* ------------------------------------------------------------------------ */
/* Transposed convolution                                                   */
/* ------------------------------------------------------------------------ */

/** Transposed 2-D convolution (the gradient of conv2d w.r.t. its input).
 *  Input N x C x H x W, output N x K x P x Q with
 *    P = (H-1)*sh - pt - pb + dh*(R-1) + output_padding_h + 1.
 *  Weights C x K/groups x R x S.  output_padding < stride or < dilation. */
typedef struct ck_conv_transpose2d_desc {
    int64_t n, c, h, w;
    int64_t k;
    int64_t r, s;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t dilation_h, dilation_w;
    int64_t output_padding_h, output_padding_w;
    int64_t groups;
    int32_t has_bias;
    ck_activation activation;
    ck_layout layout;
} ck_conv_transpose2d_desc;

/** Validate and compute the output size. */
ck_status ck_conv_transpose2d_output_shape(const ck_conv_transpose2d_desc *desc, int64_t *p, int64_t *q);

/** Create a transposed-convolution plan (weights C*(K/groups)*R*S, bias K). */
ck_status ck_conv_transpose2d_plan_create(const ck_conv_transpose2d_desc *desc, const float *weights,
                                          const float *bias, const ck_plan_options *options,
                                          ck_plan **plan);

/** Run a transposed-convolution plan. */
ck_status ck_conv_transpose2d_execute(const ck_plan *plan, const float *x, float *y,
                                      void *workspace, size_t workspace_bytes);

/* ------------------------------------------------------------------------ */
/* Pooling                                                                  */
/* ------------------------------------------------------------------------ */

/** Pooling kinds. */
typedef enum ck_pool_kind {
    CK_POOL_MAX = 0,
    CK_POOL_AVG = 1
} ck_pool_kind;

/** 2-D max/average pooling over an R x S window.  Output size
 *  P = floor_or_ceil((H + pt + pb - dh*(R-1) - 1) / sh) + 1; with ceil_mode a
 *  last window that would start in the bottom/right padding is dropped (as in
 *  PyTorch/ONNX).  Average pooling divides by the window size clipped to the
 *  padded input when count_include_pad, else by the count of real input
 *  elements (windows entirely in padding produce 0).  Padding must be smaller
 *  than the (dilated) window. */
typedef struct ck_pool2d_desc {
    ck_pool_kind kind;
    int64_t n, c, h, w;
    int64_t r, s;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t dilation_h, dilation_w;
    int32_t count_include_pad;
    int32_t ceil_mode;
    ck_layout layout;
} ck_pool2d_desc;

/** Validate and compute the output size. */
ck_status ck_pool2d_output_shape(const ck_pool2d_desc *desc, int64_t *p, int64_t *q);

/** Create a pooling plan (algorithm: auto or reference). */
ck_status ck_pool2d_plan_create(const ck_pool2d_desc *desc, const ck_plan_options *options, ck_plan **plan);

/** Run a pooling plan. */
ck_status ck_pool2d_execute(const ck_plan *plan, const float *x, float *y);

/** Global average or max pooling: N x C x H x W -> N x C x 1 x 1 (in `layout`;
 *  NCHW and NHWC outputs coincide). */
ck_status ck_global_pool2d(ck_pool_kind kind, ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                           const float *x, float *y);

/** Cross-channel max pooling (maxout): output channel j = max of input
 *  channels j*group_size .. (j+1)*group_size-1.  C divisible by group_size. */
ck_status ck_maxout(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                    int64_t group_size, const float *x, float *y);

/* ------------------------------------------------------------------------ */
/* Dense, normalisation and element-wise ops                                */
/* ------------------------------------------------------------------------ */

/** Fully connected layer: y[n, o] = act(b[o] + sum_i W[o, i] * x[n, i]).
 *  W is out_features x in_features (row-major, as PyTorch/ONNX Gemm transB). */
typedef struct ck_dense_desc {
    int64_t n, in_features, out_features;
    int32_t has_bias;
    ck_activation activation;
} ck_dense_desc;

/** Create a dense plan (algorithm: auto, reference or im2col = BLAS). */
ck_status ck_dense_plan_create(const ck_dense_desc *desc, const float *weights, const float *bias,
                               const ck_plan_options *options, ck_plan **plan);

/** Run a dense plan: x is n x in_features, y is n x out_features. */
ck_status ck_dense_execute(const ck_plan *plan, const float *x, float *y);

/** Apply an activation to `count` floats (x and y may alias). */
ck_status ck_activation_forward(ck_activation act, int64_t count, const float *x, float *y);

/** Softmax (log_softmax = 0) or log-softmax (1) over the channel axis, for
 *  every (n, h, w) position; numerically stable (max subtracted). */
ck_status ck_softmax(int32_t log_softmax, ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                     const float *x, float *y);

/** Batch normalisation (inference): y = gamma*(x-mean)/sqrt(var+eps) + beta,
 *  per channel, then the activation.  eps > 0. */
ck_status ck_batch_norm_inference(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                                  const float *x, const float *gamma, const float *beta,
                                  const float *mean, const float *var, float eps,
                                  ck_activation act, float *y);

/** Local response normalisation across channels (AlexNet):
 *  y = x / (k + alpha/size * sum_{c' in window} x[c']^2)^beta, with the window
 *  [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C). */
ck_status ck_lrn(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                 int64_t size, float alpha, float beta, float k, const float *x, float *y);

/** y = act(a + b) over `count` floats (y may alias a or b). */
ck_status ck_add(int64_t count, const float *a, const float *b, ck_activation act, float *y);

/** Concatenate `count` tensors along channels.  inputs[i] has channels[i]
 *  channels; the output has their sum.  All share n, h, w and layout (NCHW or NHWC). */
ck_status ck_concat_channels(ck_layout layout, int64_t n, int64_t h, int64_t w, int64_t count,
                             const float *const *inputs, const int64_t *channels, float *y);

/* ------------------------------------------------------------------------ */
/* Backward passes (training)                                               */
/* ------------------------------------------------------------------------ */
/*
 * Gradients of the forward ops above for training.  A "d" prefix names the
 * gradient of the scalar loss w.r.t. a tensor (dy = dLoss/dy).  Fused forward
 * activations are NOT differentiated by the layer backward functions: apply
 * ck_activation_backward to dy first.  Gradient outputs are overwritten (not
 * accumulated into); add them yourself where a tensor feeds several layers.
 * Weights are passed per call (they change every training step).
 */

/** Create a convolution backward plan for the forward descriptor `desc`
 *  (every option: stride, asymmetric padding, dilation, groups/depthwise;
 *  layouts NCHW and NHWC, NCHW8c with the reference algorithm only).
 *  desc->activation and desc->has_bias are ignored.  Algorithms:
 *   - CK_ALGO_REFERENCE: plain loops with float64 accumulation (the oracle),
 *     no workspace;
 *   - CK_ALGO_IM2COL: BLAS GEMMs on column matrices (data: col = W^T . dY
 *     then col2im scatter-add; weights: dW = dY . col(X)^T summed over the
 *     batch), OpenMP for im2col/col2im; output rows are processed in blocks
 *     so the column buffer fits the plan's workspace_limit;
 *   - CK_ALGO_AUTO: im2col when BLAS is available and the layout is NCHW or
 *     NHWC, else reference.
 *  One plan serves both ck_conv2d_backward_data and ck_conv2d_backward_weights;
 *  ck_plan_workspace_size() is the most either needs. */
ck_status ck_conv2d_backward_plan_create(const ck_conv2d_desc *desc, const ck_plan_options *options,
                                         ck_plan **plan);

/** Data gradient: dx = conv_transpose(dy, w), i.e.
 *    dx[n,c,h,w] = sum_{k in c's group, r, s : h = p*sh - pt + r*dh, w = q*sw - pl + s*dw}
 *                  w[k, c mod C/g, r, s] * dy[n,k,p,q].
 *  dy: N x K x P x Q, w: K x C/groups x R x S (OIHW), dx: N x C x H x W (every
 *  element written; inputs no output window reads get 0).  workspace: NULL or
 *  at least ck_plan_workspace_size() bytes. */
ck_status ck_conv2d_backward_data(const ck_plan *plan, const float *dy, const float *w, float *dx,
                                  void *workspace, size_t workspace_bytes);

/** Weight and bias gradients, summed over the batch:
 *    dw[k,c,r,s] = sum_{n,p,q} dy[n,k,p,q] * x[n, g*C/g + c, p*sh - pt + r*dh, q*sw - pl + s*dw]
 *    db[k]       = sum_{n,p,q} dy[n,k,p,q]
 *  x: the forward input, dy: N x K x P x Q, dw: K x C/groups x R x S, db: K
 *  floats or NULL (not computed). */
ck_status ck_conv2d_backward_weights(const ck_plan *plan, const float *x, const float *dy, float *dw, float *db,
                                     void *workspace, size_t workspace_bytes);

/** Pooling backward with a forward pooling plan (ck_pool2d_plan_create; the
 *  plan's algorithm picks the reference (float64 gather) or the fast path
 *  (OpenMP over planes)).  dy: N x C x P x Q, dx: N x C x H x W (all written).
 *  Max: each window's gradient goes to its arg-max; on ties to the FIRST
 *  maximum in window scan order (r-major, then s: the lowest row, then the
 *  lowest column), matching the forward's strict ">" scan; NaN inputs are
 *  never the arg-max; a window with no input element (possible only with
 *  dilation) passes no gradient.  x is required for max pooling.
 *  Average: each real input element of a window gets dy / divisor with the
 *  forward's divisor (count_include_pad, ceil_mode and asymmetric padding as
 *  in ck_pool2d_desc); padding receives nothing.  x may be NULL. */
ck_status ck_pool2d_backward(const ck_plan *plan, const float *x, const float *dy, float *dx);

/** Global pooling backward: dy is N x C x 1 x 1, dx is N x C x H x W.  Average:
 *  dx = dy / (H*W) (x may be NULL).  Max: dy goes to the first maximum in
 *  (h, w) scan order (h-major), the rest of the plane gets 0. */
ck_status ck_global_pool2d_backward(ck_pool_kind kind, ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                                    const float *x, const float *dy, float *dx);

/** Dense backward (desc->activation and has_bias are ignored):
 *    dx = dy . W        (n x in_features;  needs w)
 *    dw = dy^T . x      (out_features x in_features, summed over the batch; needs x)
 *    db = sum_n dy      (out_features)
 *  Each of dx, dw, db may be NULL (not computed).  options: NULL, or algorithm
 *  auto/im2col (BLAS, plan threads) or reference (float64 loops). */
ck_status ck_dense_backward(const ck_dense_desc *desc, const ck_plan_options *options, const float *x,
                            const float *w, const float *dy, float *dx, float *dw, float *db);

/** Activation backward: dx = dy * act'(x) over `count` floats (dx may alias dy).
 *  x is the forward INPUT, y the forward OUTPUT.  ReLU, ReLU6 and leaky ReLU
 *  need x; sigmoid and tanh use y when given (y*(1-y), 1-y^2), else recompute
 *  from x; NONE needs neither.  Derivatives at the kinks (as PyTorch):
 *  ReLU 1 iff x > 0; ReLU6 1 iff 0 < x < 6; leaky ReLU 1 if x > 0 else alpha. */
ck_status ck_activation_backward(ck_activation act, int64_t count, const float *x, const float *y,
                                 const float *dy, float *dx);

/** Fused softmax + cross-entropy over `classes` logits per row (n x classes,
 *  row-major), numerically stable (log-sum-exp with the row max subtracted,
 *  float64):  loss = -(1/n) sum_i log softmax(logits_i)[labels[i]],
 *  dlogits = (softmax(logits) - onehot(labels)) / n.  labels: n int32 class
 *  indices in [0, classes) (else CK_ERR_INVALID_ARGUMENT naming the row).
 *  loss and dlogits may each be NULL (not computed). */
ck_status ck_softmax_cross_entropy(int64_t n, int64_t classes, const float *logits, const int32_t *labels,
                                   float *loss, float *dlogits);

/** Batch normalisation, training mode (layouts NCHW, NHWC), no activation:
 *    mean_c = E[x], var_c = E[(x - mean_c)^2]  (biased, over N*H*W values)
 *    y = gamma * (x - mean) / sqrt(var + eps) + beta
 *  Running statistics follow PyTorch: running = (1 - momentum) * running +
 *  momentum * batch, with the UNBIASED variance var * m/(m-1), m = N*H*W, for
 *  running_var (so m must be >= 2).  momentum in [0, 1] (PyTorch default
 *  0.1).  running_mean/running_var may be NULL (not updated); save_mean and
 *  save_invstd (C floats each: the batch mean and 1/sqrt(var + eps), what
 *  ck_batch_norm_training_backward needs) may be NULL. */
ck_status ck_batch_norm_training_forward(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                                         const float *x, const float *gamma, const float *beta, float eps,
                                         float momentum, float *running_mean, float *running_var, float *y,
                                         float *save_mean, float *save_invstd);

/** Batch normalisation backward (training mode: batch statistics are a
 *  function of x).  With xhat = (x - mean) * invstd and m = N*H*W:
 *    dbeta  = sum dy,   dgamma = sum dy * xhat,
 *    dx     = gamma * invstd / m * (m*dy - dbeta - xhat * dgamma).
 *  save_mean/save_invstd from the training forward.  dx, dgamma, dbeta may
 *  each be NULL (not computed). */
ck_status ck_batch_norm_training_backward(ck_layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                                          const float *x, const float *gamma, const float *save_mean,
                                          const float *save_invstd, const float *dy, float *dx, float *dgamma,
                                          float *dbeta);

/** Inverted dropout: element i is kept iff u(seed, i) >= p, where u is a
 *  counter-based uniform in [0, 1) (a hash of (seed, i)), so the mask depends
 *  only on the seed and the element index (reproducible, thread-count
 *  independent); kept elements are scaled by 1/(1-p), dropped ones are 0
 *  (p == 1 drops everything).  p in [0, 1].  mask: NULL or `count` bytes
 *  (1 kept, 0 dropped).  y may alias x. */
ck_status ck_dropout_forward(int64_t count, float p, uint64_t seed, const float *x, float *y, uint8_t *mask);

/** Dropout backward: dx = dy * keep(seed, i) / (1-p), regenerating the mask
 *  from the same (p, seed) as the forward.  dx may alias dy. */
ck_status ck_dropout_backward(int64_t count, float p, uint64_t seed, const float *dy, float *dx);

#ifdef __cplusplus
}
#endif

#endif /* CONVKIT_H */
