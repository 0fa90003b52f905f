/* Direct SIMD convolution (CK_ALGO_DIRECT): the shared driver.
 *
 * Native layout NCHW8c ([N][ceil(C/8)][H][W][8], zero channel tail).  NCHW and
 * NHWC tensors are converted one image at a time into the workspace, run, and
 * converted back; the back-conversion also adds the residual and applies the
 * activation, so no residual copy is needed.
 *
 * Weights are packed at plan creation, per group and per chunk of nbk output
 * blocks (nbk <= 6 blocks of 8 channels), as [cb][R][S][8 c][nbk][8 k] with
 * zero-padded tails: the micro-kernel streams one tap's 8*nbk*8 weights
 * contiguously.  The micro-kernel (kernels/conv_direct_ukernel_*) keeps
 * ur x nbk accumulators in registers (4x24, 6x16, 12x8 and, for 1x1
 * layers, 4x16, 3x32, 2x32, 2x40 and 2x48 on AVX2) for the whole reduction
 * over a chunk of input-channel blocks.
 *
 * Blocking and threading: the output of one image/group is seen as a flat
 * list of P*Q pixels in row-major order, cut into pixel blocks.  A work item
 * is (image, group, output-channel chunk, pixel block); items are numbered
 * with the pixel block innermost so a thread's range reuses one chunk's
 * weights across consecutive blocks, or with the chunk innermost when all of
 * a group's weights fit in L2 (the input block is then read once).  Threads
 * own consecutive items of equal total work (chunks have 1-6 blocks) and,
 * once done with theirs, take items from the back of the others' (work
 * stealing, core/steal.h: a core slowed by another tenant no longer holds
 * up the call).
 * Inside an item the input channel blocks are processed in chunks whose
 * packed weights fit in L1 (partial sums go through the output tile, which
 * stays in L1/L2), and the pixel block is swept in segments of ur pixels.
 * Runs of segments inside one row whose taps are all horizontally inside the
 * input go to one interior kernel call (only the vertical tap range is
 * clipped); segments touching the left/right border, crossing a row end or
 * shorter than ur use the gather kernel, which reads zeros for out-of-range
 * taps.  Flat pixels mean 7x7 outputs are not cut into short per-row tails;
 * without horizontal padding the segments follow the rows instead (no
 * gathers at all).  1x1 stride-1 unpadded convolutions are treated as one
 * long row (H*W pixels); strided unpadded 1x1 ones on NCHW/NHWC tensors first
 * pack the sampled input pixels (workspace) and then run the same way.
 *
 * Groups: groups == 1 for any C and K; groups > 1 only when C/groups and
 * K/groups are multiples of 8 (channel blocks then never straddle groups);
 * other grouped shapes are declined (auto falls back to im2col/depthwise). */
#include "internal.h"
#include "steal.h"
#include "../kernels/conv_direct_ukernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct direct_chunk {
    int64_t kb0;                      /* first output block (within the group) */
    int nbk;
    const ck_direct_ukernel_set *ks;  /* its tile: ks->ur_max pixels x nbk blocks */
} direct_chunk;

/* Geometry the driver runs on: the layer's, or a flattened one (1x1
 * stride-1 unpadded convolutions as one long row; strided 1x1 ones after
 * packing the sampled input pixels).  qlo..qhi: the output columns whose
 * horizontal taps all lie inside the input. */
typedef struct direct_geom {
    int64_t H, W, P, Q, sh, sw, pt, pl, qlo, qhi;
} direct_geom;

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Whether n >= 0 blocks split into chunks of 6 and 5 blocks (n = 6a + 5b:
 * a = n % 5 sixes need a <= n / 5); false for n < 0. */
static int direct_sum65(int64_t n) { return n >= 0 && n % 5 <= n / 5; }

/* Segments of a pixel block: flat (equal pieces of the block, crossing row
 * ends; border pixels of two rows share a gather call), rows (pieces follow
 * the rows and the interior bounds; used without horizontal padding, where
 * there are no gathers), aligned (interior row spans, and border spans
 * from one row's right border to the next row's left border). */
typedef enum { DIRECT_SEG_FLAT, DIRECT_SEG_ROWS, DIRECT_SEG_ALIGNED } direct_seg_mode;
#ifndef DIRECT_ALIGNED_MAX_CB
#define DIRECT_ALIGNED_MAX_CB 2
#endif

typedef struct direct_state {
    ck_isa isa;
    direct_geom gm;                   /* geometry (1x1 s1 flattened) */
    direct_geom gpk;                  /* strided 1x1: the packed geometry */
    int pack1x1;                      /* strided unpadded 1x1: pack the sampled pixels first */
    int chunk_inner;                  /* items: output chunk innermost (input block reused) */
    int seg;                          /* direct_seg_mode: how pixel blocks are cut into segments */
    int edges;                        /* aligned mode, one input block: border pixels read zero-padded
                                         copies of the input's edge columns (interior kernels) */
    int64_t el_w, er_w, er_col0;      /* edge strips: left columns [-pl, -pl + el_w), right
                                         [er_col0, er_col0 + er_w) of the input */
    int64_t edge_floats;              /* one image's two strips: H * (el_w + er_w) * 8 */
    int64_t G;
    int64_t CBg, KBg, CBt, KBt;       /* channel blocks per group / total */
    int64_t nch;                      /* chunks per group */
    direct_chunk *chunks;             /* nch entries */
    int64_t ncbc;                     /* input blocks per cache chunk */
    int64_t group_wsize;              /* packed floats per group */
    int64_t in_px_bytes;              /* 1x1: input bytes (cache lines touched) per output pixel */
    int64_t wc;                       /* channel rows per packed tap: 8, or C/g when that is the only
                                         (partial) block -- RGB first layers: 3 rows, not 8 */
    float *w;                         /* packed weights */
    float *bias;                      /* KBt*8, zero-padded, or NULL */
    char name[96];                    /* impl name: "direct/<isa> <tiles>" */
} direct_state;

/* ---- applicability ------------------------------------------------------ */

/* Strided unpadded 1x1 on NCHW/NHWC tensors: the sampled input pixels are
 * packed contiguously (one image at a time, which is also the layout
 * conversion) and the convolution runs as a stride-1 1x1 one.  NCHW8c input
 * is read in place with the stride (packing it first cost 10-15%: resnet18
 * 1x1s2, clang, 80 -> 85 GFLOPS at 1 thread, 143 -> 163 at 2). */
static int direct_is_pack1x1(const ck_conv2d_desc *d) {
    return d->r == 1 && d->s == 1 && (d->stride_h > 1 || d->stride_w > 1) && !d->pad_top && !d->pad_left &&
           !d->pad_bottom && !d->pad_right && d->layout != CK_LAYOUT_NCHW8C;
}

static size_t direct_workspace(const ck_conv2d_desc *d, int64_t P, int64_t Q) {
    const int64_t cb = (d->c + 7) / 8, kb = (d->k + 7) / 8;
    const int64_t xin = direct_is_pack1x1(d) ? cb * P * Q * 8 : cb * d->h * d->w * 8;
    if (d->layout == CK_LAYOUT_NCHW8C) return 0;
    return (size_t)(xin + kb * P * Q * 8) * sizeof(float);
}

static ck_status direct_applicable(const ck_conv2d_desc *d, const ck_plan_options *o) {
    if (d->groups > 1 && ((d->c / d->groups) % 8 || (d->k / d->groups) % 8))
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM,
                       "direct: groups=%lld needs C/groups (%lld) and K/groups (%lld) to be multiples of 8",
                       (long long)d->groups, (long long)(d->c / d->groups), (long long)(d->k / d->groups));
    int64_t P, Q;
    CK_CHECK(ck_conv2d_validate(d, &P, &Q));
    size_t ws = direct_workspace(d, P, Q);
    size_t limit = o->workspace_limit ? o->workspace_limit : CK_DEFAULT_WORKSPACE_LIMIT;
    if (ws > limit)
        return ck_fail(CK_ERR_UNSUPPORTED_ALGORITHM,
                       "direct: converting one image to NCHW8c needs %zu bytes of workspace, above the limit of %zu "
                       "(use CK_LAYOUT_NCHW8C or raise workspace_limit)", ws, limit);
    return CK_OK;
}

/* ---- plan creation: packing ----------------------------------------------- */

/* qlo..qhi: output columns whose taps q*sw - pl + s*dw (s < S) are all
 * inside [0, W). */
static void direct_set_bounds(direct_geom *gm, int64_t S, int64_t dw) {
    gm->qlo = ceil_div(gm->pl, gm->sw);
    const int64_t num = gm->W - 1 - (S - 1) * dw + gm->pl;
    gm->qhi = num < 0 ? 0 : num / gm->sw + 1;
    if (gm->qhi > gm->Q) gm->qhi = gm->Q;
    if (gm->qlo > gm->qhi) gm->qlo = gm->qhi;
}

/* AVX2 3-block tiles (3 output-channel blocks per chunk, see direct_create):
 * 4x24 needs all 16 ymm registers.  GCC keeps them there; with clang (the
 * compiler of the Swift package build) the tile's channel steps are asm
 * blocks (conv_direct_ukernels.h), as clang's register allocator otherwise
 * keeps an accumulator on the stack (half speed).  With the tap-major gather
 * kernels, 4x24 beats the 13-register 3x24 tile with both compilers (clang,
 * 1 thread: resnet18.l3.3x3 99.6 vs 92.3 GFLOPS); 3x24 stays selectable. */
#ifndef DIRECT_TILE3_4X24_ALWAYS
#define DIRECT_TILE3_4X24_ALWAYS 1
#endif

/* CONVKIT_DIRECT_TILE3=4x24 or 3x24 in the environment overrides the choice
 * (tests run both with either compiler). */
#if defined(__x86_64__)
static const ck_direct_ukernel_set *direct_tile3(int one_by_one) {
    const char *e = getenv("CONVKIT_DIRECT_TILE3");
    if (e && !strcmp(e, "4x24")) return &ck_f32_conv_direct_ukernel_4x24__avx2_fma;
    if (e && !strcmp(e, "3x24")) return &ck_f32_conv_direct_ukernel_3x24__avx2_fma;
    return DIRECT_TILE3_4X24_ALWAYS || one_by_one ? &ck_f32_conv_direct_ukernel_4x24__avx2_fma
                                                  : &ck_f32_conv_direct_ukernel_3x24__avx2_fma;
}
#endif

/* The kernel set of a chunk of nbk output blocks.  short_sw: the stride
 * (1 or 2) of a 1x1 layer whose short reduction runs the row kernels
 * (short1x1 and short2 in direct_create), else 0. */
static const ck_direct_ukernel_set *direct_kernels(ck_isa isa, int nbk, int one_by_one, int short_sw) {
#if defined(__x86_64__)
    if (isa == CK_ISA_AVX2_FMA) {
        if (short_sw == 1 && nbk == 2) return &ck_f32_conv_direct_ukernel_4x16__avx2_fma;
        if (short_sw == 2 && nbk == 4) return &ck_f32_conv_direct_ukernel_2x32__avx2_fma;
        switch (nbk) {
        case 1: return &ck_f32_conv_direct_ukernel_12x8__avx2_fma;
        case 3: return direct_tile3(one_by_one);
        case 4: return &ck_f32_conv_direct_ukernel_3x32__avx2_fma;
        case 5: return &ck_f32_conv_direct_ukernel_2x40__avx2_fma;
        case 6: return &ck_f32_conv_direct_ukernel_2x48__avx2_fma;
        default: return &ck_f32_conv_direct_ukernel_6x16__avx2_fma;
        }
    }
#endif
#if defined(__aarch64__)
    if (isa == CK_ISA_NEON) {
        switch (nbk) {
        case 1: return &ck_f32_conv_direct_ukernel_12x8__neon;
        default: return &ck_f32_conv_direct_ukernel_6x16__neon;
        }
    }
#endif
    (void)isa; (void)nbk; (void)one_by_one; (void)short_sw;
    return &ck_f32_conv_direct_ukernel_4x32__scalar;
}

/* Default chunk width in output blocks: 6x16 (2 blocks) keeps 12
 * accumulators, 2 weight vectors and 1 broadcast in 15 of the 16 ymm
 * registers; 8 loads per 12 FMAs stays under Zen3's 2 vector loads/cycle.
 * On AVX2, 4x24 (3 blocks, all 16 registers, 7 loads per 12 FMAs) measured
 * faster on the deep layers and on odd block counts (see direct_create). */
#define DIRECT_MAIN_NBK 2
/* Packed weights of one cache chunk of input-channel blocks.  1x1: L1-sized.
 * Larger kernels: a quarter of L2 -- fewer passes of the accumulator tile
 * through memory beat L1-resident weights (Zen 3, 1 thread: 3x3 layers 3-5%
 * faster than with 24 KiB, 7x7 ones 13%; 1x1 layers 3% slower). */
#ifndef DIRECT_L1_WEIGHT_BYTES
#define DIRECT_L1_WEIGHT_BYTES (24 * 1024)
#endif
#ifndef DIRECT_L2_WEIGHT_BYTES
#define DIRECT_L2_WEIGHT_BYTES (96 * 1024)
#endif

/* The plan's implementation name: "direct/<isa> " and the distinct
 * interior tiles (pixels x output channels) of its output chunks in order,
 * e.g. "direct/avx2_fma 2x48+2x40" (resnet18.l2.1x1s2 at 1 thread), so that
 * bench reports show which register tiles a layer runs. */
static void direct_name(direct_state *st) {
    int len = snprintf(st->name, sizeof st->name, "direct/%s",
                       st->isa == CK_ISA_AVX2_FMA ? "avx2_fma" : st->isa == CK_ISA_NEON ? "neon" : "scalar");
    for (int64_t ch = 0; ch < st->nch; ch++) {
        const direct_chunk *c = &st->chunks[ch];
        int seen = 0;
        for (int64_t e = 0; e < ch && !seen; e++) seen = st->chunks[e].ks == c->ks;
        if (seen) continue;
        char tile[24];
        const int tl = snprintf(tile, sizeof tile, "%s%dx%d", ch ? "+" : " ", c->ks->ur_max, c->nbk * 8);
        if (len + tl >= (int)sizeof st->name) break;
        memcpy(st->name + len, tile, (size_t)tl + 1);
        len += tl;
    }
}

static ck_status direct_create(ck_plan *plan, const float *wts, const float *bias) {
    const ck_conv2d_desc *d = &plan->d.conv;
    direct_state *st = calloc(1, sizeof *st);
    if (!st) return ck_fail(CK_ERR_OUT_OF_MEMORY, "direct: allocating plan state");
    plan->algo_state = st;
    st->isa = ck_dispatch_isa() == CK_ISA_AVX2_FMA ? CK_ISA_AVX2_FMA : CK_ISA_SCALAR;
#if defined(__aarch64__)
    if (ck_dispatch_isa() == CK_ISA_NEON) st->isa = CK_ISA_NEON;
#endif
    const int64_t G = d->groups, Cg = d->c / G, Kg = d->k / G, R = d->r, S = d->s;
    st->CBt = (d->c + 7) / 8;
    st->KBt = (d->k + 7) / 8;
    st->CBg = G == 1 ? st->CBt : Cg / 8;
    st->KBg = G == 1 ? st->KBt : Kg / 8;
    st->G = G;
    direct_geom *gm = &st->gm;
    gm->H = d->h; gm->W = d->w; gm->P = plan->out_h; gm->Q = plan->out_w;
    gm->sh = d->stride_h; gm->sw = d->stride_w; gm->pt = d->pad_top; gm->pl = d->pad_left;
    const int unpadded = !d->pad_top && !d->pad_left && !d->pad_bottom && !d->pad_right;
    if (R == 1 && S == 1 && d->stride_h == 1 && d->stride_w == 1 && unpadded) {
        gm->W = gm->Q = d->h * d->w;   /* one long row */
        gm->H = gm->P = 1;
    }
    direct_set_bounds(gm, S, d->dilation_w);
    if (direct_is_pack1x1(d)) {
        st->pack1x1 = 1;
        const int64_t PQ = plan->out_h * plan->out_w;
        st->gpk = (direct_geom){1, PQ, 1, PQ, 1, 1, 0, 0, 0, 0};
        direct_set_bounds(&st->gpk, 1, 1);
    }

    /* output-channel chunks: main_nbk blocks each, the remainder last */
    const int main_nbk = DIRECT_MAIN_NBK;
    st->chunks = calloc((size_t)st->KBg, sizeof *st->chunks);
    if (!st->chunks) return ck_fail(CK_ERR_OUT_OF_MEMORY, "direct: allocating the chunk table");
    st->nch = 0;
    /* AVX2: an odd block count >= 3 ends with one 3-block chunk (4x24)
     * instead of a lone 1-block one (12x8, ~1.5x slower per FMA) */
    const int tail3 = st->isa == CK_ISA_AVX2_FMA && st->KBg >= 3 && st->KBg % 2 == 1;
    /* AVX2 and C/g >= 16 or 3..8: 3-block chunks (4x24: 3 weight loads + 4
     * broadcasts per 12 FMAs), the remainder as 2-block ones (3x3 layers
     * with C >= 64: 1-8% faster than 6x16 at 1 thread, 7x7 ones more; 1x1
     * layers about the same; with the compact first-layer weights the C=3
     * layers too: alexnet.conv1 with gcc 91 -> 96 GFLOPS, resnet18.conv1
     * with clang +1.5%).
     * The blocks are first cut into one part per thread (when each part has
     * >= 4) and each part is chunked on its own, so that chunks of 3 and 2
     * still split evenly between the threads when there are few pixel
     * blocks (7x7 and 14x14 layers). */
    /* ...except in stride-1 1x1 layers with 3-8 input blocks (C/g of
     * 17-64), whose short reductions run as 2-block chunks throughout: as
     * 6x16 tiles (C template) they beat 4x24 and 3x32, clang, one process
     * alternating the plans, p25 of 100-200 runs, 1 thread, 2 runs each:
     * resnet50.1x1expand (C = 64, K = 256) +1.1-1.3% (2 threads +1.2-2.4%),
     * C64 28x28 K256 +2.3-2.6%, C48 28x28 K192 +3.4-3.7%, C24 56x56 K144
     * +3.3-5.8%; outside that range 6x16 lost: C16 K96 -0.5..-1.2%, C128
     * 28x28 K512 -2%, mobilenetv2.pw7 (C = 320) -2%, pw56 (C = 144, K = 24:
     * 6x16 + 12x8) -12%.  They now run 4x16 tiles, whose whole rows are one
     * asm loop (ckd_avx2_row4x16_s1; 8 output stores a tile, where 6x16's
     * 12 cost it 6-10 points of peak): against 6x16, clang, one process
     * alternating the plans (bias + ReLU, NCHW8c), p25 of 300-400 runs on a
     * quiet host, 1 thread: mobilenetv2.pw112 (C = 32, K = 16) 89.5 ->
     * 96.8% of peak, resnet50.1x1expand 92.9 -> 96.5%, C48 28x28 K192 92.3
     * -> 95.8%, C24 56x56 K144 86.3 -> 95.2%, C64 28x28 K256 92.9 -> 96.1%;
     * 2 threads: pw112 85.1-85.3 -> 94.7% (3 runs), 1x1expand 91.0 ->
     * 96.1%, C48 88.2 -> 94.5%, C24 85.7 -> 94.4%, C64 89.5 -> 94.2%. */
    const int short1x1 = R * S == 1 && d->stride_h == 1 && d->stride_w == 1 && st->CBg >= 3 && st->CBg <= 8;
    const int main3 = st->isa == CK_ISA_AVX2_FMA && (st->CBg >= 2 || Cg >= 3) && !short1x1;
    /* AVX2, 1x1 (C/g >= 16): where main3 would leave 2-block chunks (a
     * part of 3n + 1 or 3n + 2 blocks), one or two 4-block chunks of 3x32
     * tiles take their place, which read each input pixel for 32 output
     * channels instead of 16 (and at stride 2 touch 24 input lines a tile
     * instead of 48).  They come first in the part: the first chunk of a
     * pixel block brings its input in from L3, and 3x32 tiles touch fewer
     * lines per FMA.  Clang, one process alternating the two plans, p25 of
     * 150-1500 runs: resnet18.l2.1x1s2 (K = 16 blocks: 4,3,3,3,3 at 1
     * thread, 4,4 a thread at 2) ~1% faster than 3,3,3,3,2,2, and 4 first
     * another 0.5-1%; resnet50.1x1expand +0.6% at 1 thread, +2.2% at 2;
     * mobilenetv2.pw7 unchanged. */
    const int wide4 = main3 && R * S == 1 && st->CBg >= 2;
    /* AVX2, strided 1x1 (C/g >= 16), output rows of an even number of
     * pixels or >= 25: 6-block chunks of 2x48 tiles where the part has 6 or
     * >= 10 blocks left.  Each input line a strided layer reads is only half
     * used, so the input traffic per FMA matters most there: a 2x48 tile
     * reads 16 lines per 768 FMAs (3x32: 24), and a block's input is read
     * by fewer chunks (6,6,4 instead of 4,3,3,3,3).  With its input streamed
     * from L3 (direct_ukernel_dev --image 56x56 --stride 2 --sweep 28) the
     * tile runs at 86-88% of peak against 83% for 3x32.  Clang, one process
     * alternating the two plans, p25 of 300-800 runs, 1 thread:
     * resnet18.l2.1x1s2 +2.7-2.9% (6,6,4), C128 28x28 K256 +3.4-4.1%, C512
     * 28x28 K1024 +11%, C64 54x54 (27-pixel rows) +0.5-1.4%; 2 threads: C512
     * +11%, l2.1x1s2 keeps 4,4 a thread (6,2 measured the same).
     * Stride-1 1x1 layers lose with it (resnet50.1x1expand -2%,
     * mobilenetv2.pw7 -12%: their input lines are fully used), and so do
     * short odd rows (C256 14x14 K512, 7-pixel rows with a 1-pixel tail
     * tile: -5%).  NCHW/NHWC input of an unpadded strided 1x1 layer is
     * packed to stride 1 first (pack1x1), so it keeps the stride-1 chunks.
     * (The measurements above and below on l2.1x1s2, C/g = 64, predate
     * short2 below, which now gives such layers 4-block chunks.)
     * A part's blocks are cut into 6- and 5-block chunks (2x48 and 2x40
     * tiles) where they can be (any count >= 20, and 5, 6, 10-12, 15-18),
     * otherwise into 6s and 5s and a last 3-block chunk (4x24) where that
     * works (8, 9, 13, 14, 19); 1-4 and 7 blocks keep the chunks above.
     * Clang, one process alternating the plans, p25 of 300-600 runs:
     * - l2.1x1s2 at 1 thread, 6,5,5 instead of 6,6,4 (whose 4-block chunk
     *   ran 2x32 tiles: 8 accumulators, no slack over the FMA latency):
     *   +0.6% on a quiet host (6 runs, -0.4..+1.1%), +1.7% moderately
     *   loaded, +13-16% with another tenant loading the host heavily (C128
     *   28x28 K256: 6,6,5,5,5,5 +16% there);
     * - l2.1x1s2 at 2 threads, 5,3 a thread instead of 4,4 (3x32): p25
     *   +0.5..+1.7% on a quiet host (2 runs), +1.4-5% loaded (4 runs);
     * - C64 56x56 at 1 thread: K = 104, 5,5,3 instead of 6,4,3 +0.6-1.5%;
     *   K = 72, 6,3 instead of 3,3,3 -0.2..-1% (kept for one rule). */
    const int wide6 = wide4 && (d->stride_w > 1 || d->stride_h > 1) && !st->pack1x1 &&
                      (plan->out_w % 2 == 0 || plan->out_w >= 25);
    /* ...but with C/g <= 64 (a short reduction, whose tiles' stores weigh)
     * 4-block chunks of 2x32 tiles, each row of them one asm loop
     * (ckd_avx2_row2x32_s2, 8 stores a tile against 2x48's 12): clang, one
     * process alternating the plans (bias + ReLU, NCHW8c), p25 of 300 runs,
     * resnet18.l2.1x1s2 (4,4,4,4 instead of 6,5,5; 2 threads 4,4 a thread
     * instead of 5,3) 1 thread +0.9-1.8% (3 runs), 2 threads +1.7-4.8% (3
     * runs); C128 28x28 K256 (C/g > 64) measured -3.4% at 1 thread, level
     * at 2, and keeps its 6- and 5-block chunks. */
    const int short2 = wide6 && st->CBg <= 8;
    const int64_t nparts = main3 && plan->threads > 1 && st->KBg >= 4 * (int64_t)plan->threads ? plan->threads : 1;
    for (int64_t kb = 0, part = 0; kb < st->KBg;) {
        const int64_t pend = st->KBg * (part + 1) / nparts;
        const int64_t rem = pend - kb;
        int nbk = (int)(rem < main_nbk ? rem : main_nbk);
        if (tail3 && rem == 3) nbk = 3;
        if (main3) nbk = rem == 4 || rem == 2 ? 2 : rem == 1 ? 1 : 3;
        if (wide4 && ((rem % 3 == 1 && rem >= 4) || (rem % 3 == 2 && rem >= 8))) nbk = 4;
        if (wide6 && !short2) {
            /* the blocks cut into 6s and 5s, or 6s, 5s and a last 3 */
            const int64_t r65 = direct_sum65(rem) ? rem : rem - 3;
            if (direct_sum65(r65 - 6)) nbk = 6;
            else if (direct_sum65(r65 - 5)) nbk = 5;
        }
        if (short2 && rem >= 4) nbk = 4;
        if (kb + nbk == pend) part++;
        st->chunks[st->nch].kb0 = kb;
        st->chunks[st->nch].nbk = nbk;
        st->chunks[st->nch].ks = direct_kernels(st->isa, nbk, R * S == 1, short1x1 ? 1 : short2 ? 2 : 0);
        st->nch++;
        kb += nbk;
    }

    /* Each chunk runs its kernel set's widest tile (6x16 for 2-block
     * chunks, except the 4x16 and 2x32 sets of short1x1 and short2).
     * 4-block chunks next to 2x48 ones (even output rows) ran 2x32 tiles
     * of the C template, whole rows of them, until the 5-block chunks
     * above took their place in l2.1x1s2: on a quiet host 2x32 was 0-0.8%
     * faster than 3x32 (4 runs), but with the host loaded 3x32 was 16%
     * faster (C128 28x28 K256, 6,6,6,6,4,4; one process alternating the
     * plans, p25 of 200 runs), and at 2 threads (l2.1x1s2, 4,4 a thread)
     * 3x32 was faster anyway (median 6-31%, p25 -1.6..+6%, 5 runs).  The
     * 2x32 row kernel of short2 is one asm loop a row, not that template:
     * in 1395 paired runs (one process alternating the plans, p25 of 300)
     * it stayed faster than 2x48+2x40 on l2.1x1s2, median 1.030 at 1
     * thread and 1.044 at 2, and 1.031 and 1.045 in the 25 runs with the
     * host loaded (a heavy, lasting load did not occur then).
     * Stride-1 1x1 layers with C/g <= 64 ran their 2-block chunks as 4x16
     * tiles (8 accumulators) until this was measured again, with clang,
     * one process alternating 4x16, 5x16 and 6x16 plans, p25 of 300 runs:
     * on a quiet host, mobilenetv2.pw112 (C = 32, K = 16) at 1 thread 6x16
     * = 5x16 (+-1%), 4x16 1-2% slower; at 2 threads 4x16 1-2% faster (p10).
     * With the host loaded by another tenant (this shared VM, often), 6x16
     * was the fastest every time: pw112 at 1 thread 12-42% faster than 4x16
     * and 4-54% faster than 5x16 (16 runs, three builds; the 5x16 gap
     * depended on the build), at 2 threads 4-12% faster than 4x16; C64
     * 56x56, C16 112x112 and C24 56x56 (K = 16) at 1 thread 8-14% faster
     * than 4x16 and 3-6% than 5x16.  Why 6-pixel tiles hold up so much
     * better under that load is not understood (the asm channel steps are
     * not it: 4x16 and 5x16 with asm steps measured the same as without).
     * Those 4x16 tiles were the C template's, a call of init, reduction and
     * finish per tile; the 4x16 row kernel that now runs these chunks is
     * one asm loop per row (see the short1x1 rule above): in the same 1395
     * paired runs it stayed faster than 6x16 on mobilenetv2.pw112, median
     * 1.078 at 1 thread and 1.105 at 2, 1.083 and 1.111 loaded. */
    if (R * S == 1) st->in_px_bytes = st->CBg * 32 * (d->stride_w > 1 ? 2 : 1);
    st->wc = st->CBg == 1 && Cg < 8 ? Cg : 8;
    /* cache chunk over input blocks: one chunk's packed weights in ~24 KiB
     * (1x1) or ~96 KiB */
    int max_nbk = 1;
    for (int64_t ch = 0; ch < st->nch; ch++)
        if (st->chunks[ch].nbk > max_nbk) max_nbk = st->chunks[ch].nbk;
    const int64_t per_cb =
        R * S * st->wc * 8 * (int64_t)(max_nbk > 4 ? max_nbk : wide4 ? 4 : tail3 || main3 ? 3 : main_nbk) * (int64_t)sizeof(float);
    const int64_t budget = R * S == 1 ? DIRECT_L1_WEIGHT_BYTES : DIRECT_L2_WEIGHT_BYTES;
    st->ncbc = budget / per_cb;
    if (st->ncbc < 1) st->ncbc = 1;
    if (st->ncbc > st->CBg) st->ncbc = st->CBg;

    st->group_wsize = st->CBg * R * S * st->wc * 8 * st->KBg;
    int64_t wtotal;
    CK_CHECK(ck_mul_checked(st->group_wsize, G, &wtotal, "direct: packed weight size"));
    st->w = ck_malloc((size_t)wtotal * sizeof(float));
    if (!st->w) return ck_fail(CK_ERR_OUT_OF_MEMORY, "direct: allocating %lld packed weights", (long long)wtotal);
    /* dst-sequential packing: for one chunk the nbk*8 source rows (one per
     * output channel, Cg*R*S floats each) are read as parallel streams. */
    const int64_t nwork = G * st->nch;
#pragma omp parallel for num_threads(plan->threads) schedule(static, 1)
    for (int64_t wi = 0; wi < nwork; wi++) {
        const int64_t g = wi / st->nch, ch = wi % st->nch;
        const int64_t kb0 = st->chunks[ch].kb0, nbk8 = (int64_t)st->chunks[ch].nbk * 8;
        float *dst = st->w + g * st->group_wsize + st->CBg * R * S * st->wc * 8 * kb0;
        const float *src = wts + (g * Kg + kb0 * 8) * Cg * R * S;
        const int64_t kn = Kg - kb0 * 8 < nbk8 ? Kg - kb0 * 8 : nbk8;
        for (int64_t cb = 0; cb < st->CBg; cb++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    for (int64_t c = 0; c < st->wc; c++, dst += nbk8) {
                        const int64_t ci = cb * 8 + c;
                        if (ci >= Cg) {
                            memset(dst, 0, (size_t)nbk8 * sizeof(float));
                            continue;
                        }
                        const float *sp = src + (ci * R + r) * S + s;
                        int64_t i = 0;
                        for (; i < kn; i++) dst[i] = sp[i * Cg * R * S];
                        for (; i < nbk8; i++) dst[i] = 0.f;
                    }
    }
    if (bias) {
        st->bias = ck_malloc((size_t)st->KBt * 8 * sizeof(float));
        if (!st->bias) return ck_fail(CK_ERR_OUT_OF_MEMORY, "direct: allocating bias");
        for (int64_t k = 0; k < st->KBt * 8; k++) st->bias[k] = k < d->k ? bias[k] : 0.f;
    }
    plan->workspace_size = direct_workspace(d, plan->out_h, plan->out_w);
    /* work item order: when all of a group's packed weights stay in L2
     * (1x1 layers, small-C first layers), loop over the output chunks
     * innermost so each input pixel block is read from memory once */
    st->chunk_inner = st->group_wsize * (int64_t)sizeof(float) <= 128 * 1024;
    /* segments follow the rows when no output column touches the left/right
     * padding (no gathers at all then); with padding, flat segments put the
     * border pixels of two rows into one gather call, fewer than per row */
    st->seg = gm->qlo == 0 && gm->qhi == gm->Q ? DIRECT_SEG_ROWS : DIRECT_SEG_FLAT;
    /* few input channels: a gather tile is much slower than an interior one
     * (its per-tap address selection is not amortised over channel blocks),
     * so the border pixels get their own pieces (resnet18.conv1: flat
     * segments sent ~10% of the pixels to the gather kernel, aligned ones
     * 2.7%) */
    if (st->seg == DIRECT_SEG_FLAT && st->CBg <= DIRECT_ALIGNED_MAX_CB)
        st->seg = DIRECT_SEG_ALIGNED;
    /* one input block (C <= 8, the RGB first layers): even the border pieces
     * of the aligned mode cost ~3% (resnet18.conv1), as each of their taps
     * selects pointers for only 3 channel steps.  Instead the border pixels
     * run through the interior kernels on zero-padded copies of the input's
     * left and right edge columns (built per call, ~1% of the input). */
    if (st->seg == DIRECT_SEG_ALIGNED && st->CBg == 1 && G == 1 && gm->qlo < gm->qhi && st->isa == CK_ISA_AVX2_FMA) {
        const int64_t el_w = gm->qlo > 0 ? (gm->qlo - 1) * gm->sw + (S - 1) * d->dilation_w + 1 : 0;
        const int64_t er_w = gm->qhi < gm->Q ? (gm->Q - 1 - gm->qhi) * gm->sw + (S - 1) * d->dilation_w + 1 : 0;
        const int64_t nimg = d->layout == CK_LAYOUT_NCHW8C ? d->n : 1;
        const size_t bytes = (size_t)(nimg * gm->H * (el_w + er_w) * 8) * sizeof(float);
        /* the strips are an optimisation: never the reason a plan exceeds
         * the caller's workspace limit (the gather path needs none) */
        if (plan->workspace_size + bytes <= plan->workspace_limit) {
            st->edges = 1;
            st->el_w = el_w;
            st->er_w = er_w;
            st->er_col0 = gm->qhi * gm->sw - gm->pl;
            st->edge_floats = gm->H * (el_w + er_w) * 8;
            plan->workspace_size += bytes;
        }
    }
    direct_name(st);
    plan->impl_name = st->name;
    return CK_OK;
}

static void direct_destroy(ck_plan *plan) {
    direct_state *st = plan->algo_state;
    if (!st) return;
    ck_free(st->w);
    ck_free(st->bias);
    free(st->chunks);
    free(st);
    plan->algo_state = NULL;
}

/* ---- layout conversion ----------------------------------------------------- */

static void to_blocked(ck_layout layout, const float *src, int64_t C, int64_t H, int64_t W, float *dst, int nt) {
    const int64_t CB = (C + 7) / 8, HW = H * W;
    (void)nt;
    if (layout == CK_LAYOUT_NCHW) {
#pragma omp parallel for num_threads(nt) schedule(static) collapse(2)
        for (int64_t cb = 0; cb < CB; cb++)
            for (int64_t h = 0; h < H; h++) {
                float *o = dst + (cb * HW + h * W) * 8;
                const int64_t nc = C - cb * 8 < 8 ? C - cb * 8 : 8;
                const float *s = src + cb * 8 * HW + h * W;
                for (int64_t w = 0; w < W; w++) {
                    int64_t c = 0;
                    for (; c < nc; c++) o[w * 8 + c] = s[c * HW + w];
                    for (; c < 8; c++) o[w * 8 + c] = 0.f;
                }
            }
    } else { /* NHWC */
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                const float *s = src + (h * W + w) * C;
                for (int64_t cb = 0; cb < CB; cb++) {
                    float *o = dst + (cb * HW + h * W + w) * 8;
                    const int64_t nc = C - cb * 8 < 8 ? C - cb * 8 : 8;
                    int64_t c = 0;
                    for (; c < nc; c++) o[c] = s[cb * 8 + c];
                    for (; c < 8; c++) o[c] = 0.f;
                }
            }
    }
}

/* Strided 1x1: dst [CB][P*Q][8] = the input pixels (p*sh, q*sw) of one NCHW
 * or NHWC image. */
static void pack_sampled(ck_layout layout, const float *src, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw,
                         int64_t P, int64_t Q, float *dst, int nt) {
    const int64_t CB = (C + 7) / 8, HW = H * W, PQ = P * Q;
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) collapse(2)
    for (int64_t cb = 0; cb < CB; cb++)
        for (int64_t p = 0; p < P; p++) {
            float *o = dst + (cb * PQ + p * Q) * 8;
            const int64_t nc = C - cb * 8 < 8 ? C - cb * 8 : 8;
            const int64_t h = p * sh;
            for (int64_t q = 0; q < Q; q++) {
                const int64_t w = q * sw;
                int64_t c = 0;
                if (layout == CK_LAYOUT_NCHW)
                    for (; c < nc; c++) o[q * 8 + c] = src[(cb * 8 + c) * HW + h * W + w];
                else
                    for (; c < nc; c++) o[q * 8 + c] = src[(h * W + w) * C + cb * 8 + c];
                for (; c < 8; c++) o[q * 8 + c] = 0.f;
            }
        }
}

static inline float act_apply(ck_activation a, float v) {
    switch (a.kind) {
    case CK_ACT_NONE: return v;
    case CK_ACT_RELU: return v > 0.f ? v : 0.f;
    case CK_ACT_RELU6: return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    case CK_ACT_LEAKY_RELU: return v >= 0.f ? v : a.alpha * v;
    default: return ck_activate(a, v);
    }
}

/* y (NCHW/NHWC image) = act(blocked + res) */
static void from_blocked(ck_layout layout, const float *src, const float *res, ck_activation act, int64_t K,
                         int64_t P, int64_t Q, float *y, int nt) {
    const int64_t PQ = P * Q;
    (void)nt;
    if (layout == CK_LAYOUT_NCHW) {
#pragma omp parallel for num_threads(nt) schedule(static) collapse(2)
        for (int64_t k = 0; k < K; k++)
            for (int64_t p = 0; p < P; p++) {
                const float *s = src + ((k / 8) * PQ + p * Q) * 8 + (k % 8);
                float *o = y + k * PQ + p * Q;
                const float *rr = res ? res + k * PQ + p * Q : NULL;
                for (int64_t q = 0; q < Q; q++) {
                    float v = s[q * 8];
                    if (rr) v += rr[q];
                    o[q] = act_apply(act, v);
                }
            }
    } else {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t pq = 0; pq < PQ; pq++)
            for (int64_t k = 0; k < K; k++) {
                float v = src[((k / 8) * PQ + pq) * 8 + (k % 8)];
                if (res) v += res[pq * K + k];
                y[pq * K + k] = act_apply(act, v);
            }
    }
}

/* ---- execution ---------------------------------------------------------------- */


/* Kernel rows [r0, r1) inside the input for output row p. */
static inline void direct_row_taps(const direct_geom *gm, int64_t R, int64_t dh, int64_t p, int64_t *r0,
                                   int64_t *r1) {
    const int64_t ih0 = p * gm->sh - gm->pt, H = gm->H;
    *r0 = ih0 >= 0 ? 0 : ceil_div(-ih0, dh);
    *r1 = H - 1 - ih0 < 0 ? 0 : (H - 1 - ih0) / dh + 1;
    if (*r1 > R) *r1 = R;
    if (*r0 > *r1) *r0 = *r1;
}

/* count segments of ur consecutive output pixels from flat pixel f: runs of
 * segments that lie in one row with every horizontal tap inside the input go
 * to one interior call (nrep tiles), the others to the gather kernel one by
 * one. */
static inline void direct_segments(ck_direct_ukernel_params *prm, const ck_direct_ukernel_set *ks,
                                   const direct_geom *gm, const float *xc, float *yimg, const float *rimg, int64_t f,
                                   int ur, int64_t count, int64_t *ih, int64_t *iw, int64_t *yoff) {
    const int64_t Q = gm->Q;
    prm->ur = ur;
    prm->x = xc;
    while (count > 0) {
        const int64_t p = f / Q, q = f % Q;
        int64_t k = q >= gm->qlo && q + ur <= gm->qhi ? (gm->qhi - q) / ur : 0;
        if (k > count) k = count;
        if (k > 0) {
            int64_t r0, r1;
            direct_row_taps(gm, prm->R, prm->dh, p, &r0, &r1);
            prm->ih0 = p * gm->sh - gm->pt; prm->iw0 = q * gm->sw - gm->pl; prm->r0 = r0; prm->r1 = r1;
            prm->nrep = k;
            prm->y = yimg + f * 8;
            prm->res = prm->last && rimg ? rimg + f * 8 : NULL;
            ks->interior[ur](prm);
            f += k * ur;
            count -= k;
        } else {
            for (int j = 0; j < ur; j++) {
                const int64_t fj = f + j, pj = fj / Q, qj = fj % Q;
                ih[j] = pj * gm->sh - gm->pt;
                iw[j] = qj * gm->sw - gm->pl;
                yoff[j] = fj * 8;
            }
            prm->nrep = 1;
            prm->y = yimg;
            prm->res = prm->last ? rimg : NULL;
            ks->gather[ur](prm);
            f += ur;
            count--;
        }
    }
}

/* The L pixels from flat pixel f in equal segments of <= urm pixels. */
static inline void direct_split(ck_direct_ukernel_params *prm, const ck_direct_ukernel_set *ks, const direct_geom *gm,
                                const float *xc, float *yimg, const float *rimg, int64_t f, int64_t L, int urm,
                                int64_t *ih, int64_t *iw, int64_t *yoff) {
    const int64_t nseg = ceil_div(L, urm), sbase = L / nseg, sextra = L % nseg;
    direct_segments(prm, ks, gm, xc, yimg, rimg, f, (int)sbase + 1, sextra, ih, iw, yoff);
    direct_segments(prm, ks, gm, xc, yimg, rimg, f + sextra * (sbase + 1), (int)sbase, nseg - sextra, ih, iw, yoff);
}

/* The border columns (q < qlo, q >= qhi) of the pixels [f0, f1), through
 * the interior kernels on the edge strips (see direct_create): a tile runs
 * down one output column -- up to urm consecutive rows with the same kernel
 * row range, each sh strip rows below the previous one (pixel stride
 * sh * strip width), outputs Q pixels apart.  Border pixels one row at a
 * time made 1-3 pixel tiles (latency-bound: resnet18.conv1 lost ~3%). */
static void direct_edge_columns(ck_direct_ukernel_params *prm, const ck_direct_ukernel_set *ks,
                                const direct_state *st, const direct_geom *gm, const float *eimg, float *yimg,
                                const float *rimg, int64_t f0, int64_t f1, int urm) {
    const int64_t Q = gm->Q, W = prm->W, sw = prm->sw, R = prm->R, dh = prm->dh;
    const int64_t pa = f0 / Q, pz = (f1 - 1) / Q;
    prm->y_pix_stride = Q * 8;
    prm->nrep = 1;
    for (int side = 0; side < 2; side++) {
        const int64_t qa = side ? gm->qhi : 0, qb = side ? Q : gm->qlo;
        const int64_t ew = side ? st->er_w : st->el_w, col0 = side ? st->er_col0 : -gm->pl;
        prm->x = side ? eimg + gm->H * st->el_w * 8 : eimg;
        prm->W = ew;
        prm->sw = gm->sh * ew;
        for (int64_t q = qa; q < qb; q++) {
            for (int64_t p = pa; p <= pz;) {
                if (p * Q + q < f0 || p * Q + q >= f1) {
                    p++;
                    continue;
                }
                int64_t r0, r1, s0, s1, n = 1;
                direct_row_taps(gm, R, dh, p, &r0, &r1);
                while (n < urm && p + n <= pz && (p + n) * Q + q < f1) {
                    direct_row_taps(gm, R, dh, p + n, &s0, &s1);
                    if (s0 != r0 || s1 != r1) break;
                    n++;
                }
                prm->ur = (int)n;
                prm->ih0 = p * gm->sh - gm->pt;
                prm->iw0 = q * gm->sw - gm->pl - col0;
                prm->r0 = r0;
                prm->r1 = r1;
                prm->y = yimg + (p * Q + q) * 8;
                prm->res = prm->last && rimg ? rimg + (p * Q + q) * 8 : NULL;
                ks->interior[n](prm);
                p += n;
            }
        }
    }
    prm->W = W;
    prm->sw = sw;
    prm->y_pix_stride = 0;
}

/* The zero-padded edge strips of nimg images (one input block each):
 * [n][H][el_w][8] then [n][H][er_w][8] per image. */
static void direct_build_edges(const direct_state *st, const direct_geom *gm, int64_t nimg, const float *xb,
                               int64_t img_stride, float *edges, int nt) {
    const int64_t H = gm->H, W = gm->W, ew = st->el_w + st->er_w;
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t nh = 0; nh < nimg * H; nh++) {
        const int64_t n = nh / H, h = nh % H;
        const float *xr = xb + n * img_stride + h * W * 8;
        float *el = edges + n * st->edge_floats + h * st->el_w * 8;            /* left strip, row h */
        float *er = edges + n * st->edge_floats + (H * st->el_w + h * st->er_w) * 8; /* right strip */
        for (int64_t c = 0; c < ew; c++) {
            float *o = c < st->el_w ? el + c * 8 : er + (c - st->el_w) * 8;
            const int64_t col = c < st->el_w ? c - st->gm.pl : st->er_col0 + (c - st->el_w);
            if (col >= 0 && col < W)
                memcpy(o, xr + col * 8, 8 * sizeof(float));
            else
                memset(o, 0, 8 * sizeof(float));
        }
    }
}

/* 4 KiB aliasing: a load whose address matches a pending store's in the
 * low 12 bits waits for it (Zen 3).  In a 1x1 row of tiles, the next tile's
 * input loads follow the previous tile's output stores, so when an output
 * plane lies 1-320 bytes above an input plane modulo 4 KiB the loads wait
 * on those stores (mobilenetv2.pw112: -3 to -8%, depending only on where the
 * caller's buffers happen to lie).  Running the tiles in descending order
 * moves the window to 1-320 bytes below; pick the order with fewer
 * (output, input) plane pairs in its window.  Only for short tiles (input
 * blocks x output blocks <= 8, e.g. C = 32 and K = 16): with longer ones
 * the waits are a small part of a tile, and descending order itself cost
 * 1.5-2% (mobilenetv2.pw56, resnet50.1x1expand). */
static int direct_reverse_tiles(const float *x, int64_t xcbs, int64_t ncb, const float *y, int64_t ycbs, int nbk) {
    int fwd = 0, rev = 0;
    for (int64_t kb = 0; kb < nbk; kb++)
        for (int64_t cb = 0; cb < ncb; cb++) {
            const uintptr_t d = ((uintptr_t)(y + kb * ycbs) - (uintptr_t)(x + cb * xcbs)) & 4095u;
            fwd += d >= 1 && d < 320;
            rev += d > 4096 - 320;
        }
    return fwd > rev;
}

/* Rows a pixel block for nt threads that each run consecutive whole blocks
 * of a P-row image: of r0-2 .. r0+3 rows, the count whose busiest thread has
 * the fewest rows, then the closest to r0. */
static int64_t direct_even_rows(int64_t P, int64_t r0, int nt) {
    int64_t best = r0, best_rows = INT64_MAX;
    for (int64_t r = r0 > 2 ? r0 - 2 : 1; r <= r0 + 3 && r <= P; r++) {
        const int64_t nb = ceil_div(P, r);
        int64_t busiest = 0;
        for (int t = 0; t < nt; t++) {
            const int64_t b0 = nb * t / nt, b1 = nb * (t + 1) / nt;
            const int64_t rows = (b1 * r < P ? b1 * r : P) - (b0 * r < P ? b0 * r : P);
            if (rows > busiest) busiest = rows;
        }
        const int64_t dr = r > r0 ? r - r0 : r0 - r, dbest = best > r0 ? best - r0 : r0 - best;
        if (busiest < best_rows || (busiest == best_rows && dr < dbest)) {
            best = r;
            best_rows = busiest;
        }
    }
    return best;
}

/* Pixel block size (see direct_run). */
static int64_t direct_pixel_block(const direct_state *st, const direct_geom *gm, int64_t nimg, int nt) {
    const int64_t PQ = gm->P * gm->Q, base = nimg * st->G * st->nch;
    const int ur_main = st->chunks[0].ks->ur_max;
    /* output tile of ~32 KiB: it stays in L1 between passes over the input
     * channels (cache chunks), and the input block stays cached between the
     * output chunks.  With one pass and one output chunk there is no reuse,
     * and fewer, longer blocks cost less per item (mobilenetv2.pw112 +2%) */
    int64_t pb = st->ncbc >= st->CBg && st->nch == 1 ? PQ : 32 * 1024 / (st->chunks[0].nbk * 32);
    /* 1x1, one pass, several output chunks: the chunks of a block reread its
     * input, so size the block by its input lines (~96 KiB, L2) instead
     * (resnet18.l2.1x1s2: 12 -> 6 rows a block, 2 threads +3-4%) */
    if (st->in_px_bytes && st->ncbc >= st->CBg && st->nch > 1) pb = 96 * 1024 / st->in_px_bytes;
    if (nt > 1) {
        const int64_t want_blocks = ceil_div(4 * (int64_t)nt, base);
        if (ceil_div(PQ, pb) < want_blocks) pb = ceil_div(PQ, want_blocks);
        /* equal blocks, and a block count that splits evenly between the
         * threads (mobilenetv2.pw56 at 2 threads: 10 blocks of 344 pixels
         * left the second thread 18% less work than the first) */
        int64_t nblk = ceil_div(PQ, pb);
        while ((base * nblk) % nt) nblk++;
        pb = ceil_div(PQ, nblk);
    }
    if (st->seg != DIRECT_SEG_FLAT && pb >= gm->Q) {
        /* whole rows: a block edge inside a row cuts it into short tiles */
        pb = pb / gm->Q * gm->Q;
        /* 1x1 with several output chunks sharing each block's input (the
         * strided 1x1 layers), one image, 2+ threads: whole blocks for each
         * thread, as even as rows allow.  A block split between the threads
         * has its input read by both, and a short last block leaves one
         * thread with less work: resnet18.l2.1x1s2 at 2 threads ran 6
         * blocks of 5,5,5,5,5,3 rows; 4 of 7 rows are 1.4-2.9% faster (one
         * process alternating the two, p25 of 1500 runs, 6 runs). */
        if (nt > 1 && st->in_px_bytes && st->ncbc >= st->CBg && st->nch > 1 && nimg * st->G == 1)
            pb = direct_even_rows(gm->P, pb / gm->Q, nt) * gm->Q;
    } else {
        pb = ceil_div(pb, ur_main) * ur_main;
    }
    if (pb < 1) pb = 1;
    return pb;
}

/* Work item it (see the file comment): its pixel block bi, output chunk ch
 * and image * G + group t. */
static void direct_item(const direct_state *st, int64_t nblk, int64_t it, int64_t *bi, int64_t *ch, int64_t *t) {
    if (st->chunk_inner) {
        *ch = it % st->nch;
        *t = it / st->nch;
        *bi = *t % nblk;
        *t /= nblk;
    } else {
        *bi = it % nblk;
        *t = it / nblk;
        *ch = *t % st->nch;
        *t /= st->nch;
    }
}

/* An item's work: output blocks x pixels. */
static int64_t direct_item_work(const direct_state *st, int64_t nblk, int64_t pb, int64_t PQ, int64_t it) {
    int64_t bi, ch, t;
    direct_item(st, nblk, it, &bi, &ch, &t);
    const int64_t f0 = bi * pb, f1 = f0 + pb < PQ ? f0 + pb : PQ;
    return st->chunks[ch].nbk * (f1 - f0);
}

/* Share t of nt: the consecutive items whose work midpoints fall in
 * [total * t / nt, total * (t + 1) / nt); into the ranges r. */
static void direct_ranges(const direct_state *st, int64_t nblk, int64_t pb, int64_t PQ, int64_t nitems,
                          int64_t total, int nt, ck_steal_range *r) {
    int64_t done = 0, lo = 0;
    int t = 0;
    for (int64_t it = 0; it < nitems; it++) {
        const int64_t w = direct_item_work(st, nblk, pb, PQ, it), mid = done + w / 2;
        done += w;
        while (t < nt - 1 && mid >= total * (t + 1) / nt) {
            ck_steal_set(&r[t++], lo, it);
            lo = it;
        }
    }
    ck_steal_set(&r[t], lo, nitems);
    while (++t < nt) ck_steal_set(&r[t], nitems, nitems);
}

/* Run nimg images already in NCHW8c with geometry gm: xb [nimg][CBt][H][W][8]
 * -> yb. */
static void direct_run(const ck_plan *plan, const direct_state *st, const direct_geom *gm, int64_t nimg,
                       const float *xb, float *yb, const float *resb, const float *edges, ck_activation act,
                       int fused_act) {
    const ck_conv2d_desc *d = &plan->d.conv;
    const int64_t G = d->groups, R = d->r, S = d->s, Cg = d->c / G;
    const int64_t H = gm->H, W = gm->W, Q = gm->Q, PQ = gm->P * Q;
    const int64_t xcbs = H * W * 8, ycbs = PQ * 8;
    const int64_t qlo = gm->qlo, qhi = gm->qhi;
    const int nt = plan->threads;

    /* pixel block: output tile of <= ~32 KiB (nbk=4: 256 pixels), with 2+
     * threads at least ~4 items per thread; whole rows or a multiple of ur. */
    const int64_t pb = direct_pixel_block(st, gm, nimg, nt);
    const int64_t nblk = ceil_div(PQ, pb);
    const int64_t nitems = nimg * G * st->nch * nblk;

    int kact = fused_act ? (int)act.kind : CK_ACT_NONE;
    const int post_act = fused_act && (act.kind == CK_ACT_SIGMOID || act.kind == CK_ACT_TANH);
    if (post_act) kact = CK_ACT_NONE;
    const int64_t ktail = d->k % 8;

    /* each thread owns the consecutive items whose work midpoints fall in
     * its share of the work (output blocks x pixels; chunks have 1-6
     * blocks), runs them in order, then takes items from the back of the
     * other threads' shares (core/steal.h).  On a quiet machine nothing is
     * stolen; when one core is slowed (a shared host), the other no longer
     * waits for it.  Clang, one process alternating the plans, 2 threads,
     * on the suite's direct layers: p25 equal (-0.8..+3.6%), medians of a
     * host with another tenant 4-14% faster (resnet18.l2.1x1s2 95 -> 88
     * us, mobilenetv2.pw112 141 -> 110 us, vgg16.conv3_2 24.1 -> 21.6 ms).
     * With 2^31 items or more (an output of 64 GiB or more) the shares
     * stay static. */
    const int64_t total = nimg * G * st->KBg * PQ;
    ck_steal_range range_buf[CK_STEAL_MAX_RANGES], *ranges = NULL;
    const int nranges = ck_steal_nranges(nt);
    if (nt > 1 && ck_steal_fits(nitems)) {
        ranges = range_buf;
        direct_ranges(st, nblk, pb, PQ, nitems, total, nranges, ranges);
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
    int tid = 0, nth = 1;
#ifdef _OPENMP
    tid = omp_get_thread_num();
    nth = omp_get_num_threads();
#endif
    const int64_t lo = total * tid / nth, hi = total * (tid + 1) / nth;
    int64_t done = 0, prev_blk = -1;
    int cursor = 0;
    for (int64_t it = 0;; it++) {
        if (ranges) {
            it = ck_steal_next(ranges, nranges, tid, &cursor);
            if (it < 0) break;
        } else if (it >= nitems || done >= hi) {
            break;
        }
        int64_t bi, ch, t;
        direct_item(st, nblk, it, &bi, &ch, &t);
        const direct_chunk *c = &st->chunks[ch];
        const int64_t f0 = bi * pb, f1 = f0 + pb < PQ ? f0 + pb : PQ;
        if (!ranges) {
            /* static shares: skip the items of the other threads' */
            const int64_t mid = done + c->nbk * (f1 - f0) / 2;
            done += c->nbk * (f1 - f0);
            if (mid < lo || mid >= hi) continue;
        }
        /* the thread's first item on this pixel block (its input is not in L2 yet) */
        const int first_of_block = t * nblk + bi != prev_blk;
        prev_blk = t * nblk + bi;
        const int64_t g = t % G, n = t / G;
        const ck_direct_ukernel_set *ks = c->ks;
        const int urm = c->ks->ur_max;
        const int64_t kbase = g * st->KBg + c->kb0;
        const float *ximg = xb + (n * st->CBt + g * st->CBg) * xcbs;
        float *yimg = yb + (n * st->KBt + kbase) * ycbs;
        const float *rimg = resb ? resb + (n * st->KBt + kbase) * ycbs : NULL;
        const float *wch = st->w + g * st->group_wsize + st->CBg * R * S * st->wc * 8 * c->kb0;
        const int64_t wcbs = R * S * st->wc * 8 * c->nbk;

        ck_direct_ukernel_params prm;
        int64_t ih[CKD_MAX_UR], iw[CKD_MAX_UR], yoff[CKD_MAX_UR];
        memset(&prm, 0, sizeof prm);
        prm.x_cb_stride = xcbs;
        prm.w_cb_stride = wcbs;
        prm.w_tap_stride = st->wc * 8 * c->nbk;
        prm.y_kb_stride = ycbs;
        prm.H = H; prm.W = W; prm.R = R; prm.S = S;
        prm.sw = gm->sw; prm.dh = d->dilation_h; prm.dw = d->dilation_w;
        prm.ih = ih; prm.iw = iw; prm.yoff = yoff;
        prm.nbk = c->nbk;
        prm.alpha = act.alpha;
        prm.bias = st->bias ? st->bias + kbase * 8 : NULL;
        /* strided 1x1 (every input line half used), several output chunks
         * per block: the block's first chunk prefetches each tile's input
         * one input row ahead (the later chunks find it in L2).  Clang, one
         * process alternating the plans, p25 of 500-600 runs: resnet18.l2.1x1s2
         * at 1 thread +0.2-1.4% (TSC per chunk: the first chunk 86-88% of
         * peak -> 90%), 2 threads +-0.2%.  7 tiles ahead in the same row
         * measured -1.4%, 2 rows ahead +0.6%, the output lines one row
         * ahead (prefetchw) -1%.  Only for C/g <= 64: with C = 128 (C128
         * 28x28 K256 stride 2) it measured -0.4..-1%. */
        const int row_pf = R * S == 1 && (gm->sh > 1 || gm->sw > 1) && st->CBg <= 8 && st->chunk_inner &&
                           st->nch > 1 && first_of_block;
        prm.x_pf_bytes = row_pf ? gm->sh * W * 8 * (int64_t)sizeof(float) : 0;

        for (int64_t cb0 = 0; cb0 < st->CBg; cb0 += st->ncbc) {
            const int64_t ncb = st->CBg - cb0 < st->ncbc ? st->CBg - cb0 : st->ncbc;
            prm.ncb = ncb;
            prm.nc_last = cb0 + ncb == st->CBg && Cg % 8 ? Cg % 8 : 8;
            prm.first = cb0 == 0;
            prm.last = cb0 + ncb >= st->CBg;
            prm.act = prm.last ? kact : CK_ACT_NONE;
            const float *xc = ximg + cb0 * xcbs;
            prm.w = wch + cb0 * wcbs;
            prm.reverse = R * S == 1 && gm->H == 1 && ncb * c->nbk <= 8 &&
                          direct_reverse_tiles(xc, xcbs, ncb, yimg, ycbs, c->nbk);
            if (st->seg == DIRECT_SEG_ROWS) {
                /* row pieces, each cut at the horizontal interior bounds
                 * [qlo, qhi) and split into equal segments */
                for (int64_t fa = f0; fa < f1;) {
                    const int64_t p = fa / Q, qa = fa % Q, qb = f1 - p * Q < Q ? f1 - p * Q : Q;
                    if (qa == 0 && qlo == 0 && qhi == Q && f1 - fa >= 2 * Q) {
                        /* whole rows with the same vertical tap range: one
                         * kernel call per segment size for all of them (a
                         * call per row of a 28-pixel layer is 7 tiles:
                         * resnet18.l2.1x1s2 85 -> 89 GFLOPS at 1 thread) */
                        int64_t r0, r1, s0, s1, nr = 1;
                        direct_row_taps(gm, R, d->dilation_h, p, &r0, &r1);
                        while ((p + nr + 1) * Q <= f1) {
                            direct_row_taps(gm, R, d->dilation_h, p + nr, &s0, &s1);
                            if (s0 != r0 || s1 != r1) break;
                            nr++;
                        }
                        if (nr > 1) {
                            prm.nrows = nr;
                            prm.x_row_stride = gm->sh * W * 8;
                            prm.y_row_stride = Q * 8;
                            direct_split(&prm, ks, gm, xc, yimg, rimg, p * Q, Q, urm, ih, iw, yoff);
                            prm.nrows = 0;
                            fa = (p + nr) * Q;
                            continue;
                        }
                    }
                    const int64_t a1 = qlo < qa ? qa : (qlo > qb ? qb : qlo);
                    const int64_t a2 = qhi < a1 ? a1 : (qhi > qb ? qb : qhi);
                    const int64_t cut[4] = {qa, a1, a2, qb};
                    for (int pc = 0; pc < 3; pc++)
                        if (cut[pc + 1] > cut[pc])
                            direct_split(&prm, ks, gm, xc, yimg, rimg, p * Q + cut[pc], cut[pc + 1] - cut[pc], urm,
                                         ih, iw, yoff);
                    fa = p * Q + qb;
                }
            } else if (st->seg == DIRECT_SEG_ALIGNED) {
                /* alternate interior row spans [qlo, qhi) and border spans
                 * (a row's right border columns + the next row's left ones:
                 * one gather piece) */
                const float *eimg = edges ? edges + n * st->edge_floats : NULL;
                for (int64_t fa = f0; fa < f1;) {
                    const int64_t p = fa / Q, q = fa % Q;
                    int64_t fb = q >= qlo && q < qhi ? p * Q + qhi : (q < qlo ? p * Q + qlo : (p + 1) * Q + qlo);
                    if (qlo >= qhi || fb > f1) fb = f1;
                    if (eimg && (q < qlo || q >= qhi)) {
                        fa = fb; /* border pixels: direct_edge_columns below */
                        continue;
                    }
                    direct_split(&prm, ks, gm, xc, yimg, rimg, fa, fb - fa, urm, ih, iw, yoff);
                    fa = fb;
                }
                if (eimg) direct_edge_columns(&prm, ks, st, gm, eimg, yimg, rimg, f0, f1, urm);
            } else {
                /* split the block into equal segments of <= urm pixels (49
                 * pixels at ur 6: 6,6,6,6,5,5,5,5,5 instead of 8x6 + a lone
                 * pixel) */
                direct_split(&prm, ks, gm, xc, yimg, rimg, f0, f1 - f0, urm, ih, iw, yoff);
            }
        }
        if (post_act) {
            for (int i = 0; i < c->nbk; i++) {
                float *yo = yimg + i * ycbs;
                for (int64_t f = f0 * 8; f < f1 * 8; f++) yo[f] = ck_activate(act, yo[f]);
            }
        }
        if (ktail && kbase + c->nbk == st->KBt) {
            float *yo = yimg + (c->nbk - 1) * ycbs;
            /* a fixed 8-lane bit mask, which both compilers vectorise (clang
             * made a memset call per pixel of the lane loop, gcc kept a
             * select per lane scalar: 10-30% of lenet5.c1's time) */
            uint32_t keep[8];
            for (int k = 0; k < 8; k++) keep[k] = k < ktail ? 0xffffffffu : 0u;
            for (int64_t f = f0; f < f1; f++) {
                uint32_t v[8];
                memcpy(v, yo + f * 8, sizeof v);
                for (int k = 0; k < 8; k++) v[k] &= keep[k];
                memcpy(yo + f * 8, v, sizeof v);
            }
        }
    }
    }
}

static ck_status direct_execute(const ck_plan *plan, const float *x, float *y, const float *res, void *ws) {
    const direct_state *st = plan->algo_state;
    const ck_conv2d_desc *d = &plan->d.conv;
    const int64_t P = plan->out_h, Q = plan->out_w, CBt = st->CBt;
    if (d->layout == CK_LAYOUT_NCHW8C) {
        float *edges = NULL;
        if (st->edges) {
            edges = ws;
            direct_build_edges(st, &st->gm, d->n, x, CBt * d->h * d->w * 8, edges, plan->threads);
        }
        direct_run(plan, st, &st->gm, d->n, x, y, res, edges, d->activation, 1);
        return CK_OK;
    }
    float *xb = ws;
    float *yb = xb + (st->pack1x1 ? CBt * P * Q * 8 : CBt * d->h * d->w * 8);
    float *edges = st->edges ? yb + st->KBt * P * Q * 8 : NULL;
    for (int64_t n = 0; n < d->n; n++) {
        const float *xn = x + n * d->c * d->h * d->w;
        if (st->pack1x1)
            pack_sampled(d->layout, xn, d->c, d->h, d->w, d->stride_h, d->stride_w, P, Q, xb, plan->threads);
        else
            to_blocked(d->layout, xn, d->c, d->h, d->w, xb, plan->threads);
        if (edges) direct_build_edges(st, &st->gm, 1, xb, 0, edges, plan->threads);
        direct_run(plan, st, st->pack1x1 ? &st->gpk : &st->gm, 1, xb, yb, NULL, edges, d->activation, 0);
        from_blocked(d->layout, yb, res ? res + n * d->k * P * Q : NULL, d->activation, d->k, P, Q,
                     y + n * d->k * P * Q, plan->threads);
    }
    return CK_OK;
}

const ck_conv_algo ck_conv_algo_direct = {CK_ALGO_DIRECT, direct_applicable, direct_create, direct_execute,
                                          direct_destroy};
