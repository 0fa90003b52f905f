/* Direct-convolution micro-kernels: the parameter block, the kernel sets and
 * (for the AVX2 kernel files only) the register-blocked kernel template.
 *
 * Data layouts the kernels see (all NCHW8c-style, 8 = the AVX2 vector width):
 *   x: input  [cb][H][W][8]        one image, from the first channel block
 *   w: weights [cb][R][S][8 c][nbk][8 k]  packed by the driver per chunk of
 *      nbk output-channel blocks (zero-padded channel tails)
 *   y: output [kb][P][Q][8]        pixel offsets below are in floats
 * A kernel call computes ur output pixels x nbk blocks of 8 output channels
 * (ur*nbk accumulators held in registers for the whole reduction over ncb
 * input-channel blocks x R x S x 8 channels).
 *
 * Two entry points per (ur, nbk) tile:
 *   interior: the ur pixels lie in one output row at consecutive q (input
 *             column stride sw) and every horizontal tap is inside the
 *             input; only kernel rows [r0, r1) are inside (top/bottom padding).
 *             nrep such tiles side by side in one call (saves the per-call
 *             setup on 1x1 and small-C layers).
 *   gather:   ur arbitrary pixels (ih[j], iw[j] = top-left input coordinate,
 *             possibly negative; yoff[j] = output offset); taps outside the
 *             input read a zero vector.  Used at the borders, across row ends
 *             and for the last few pixels.
 * first: start from the bias (or 0) instead of the values in y.
 * last:  add the residual (same offsets as y, may be NULL) and apply
 *        act (only NONE/RELU/RELU6/LEAKY here; the driver applies sigmoid
 *        and tanh in a pass right after). */
#ifndef CK_CONV_DIRECT_UKERNELS_H
#define CK_CONV_DIRECT_UKERNELS_H

#include "internal.h"

#define CKD_MAX_UR 12
#define CKD_MAX_NBK 6

typedef struct ck_direct_ukernel_params {
    const float *x;
    const float *w;
    float *y;
    const float *res;
    const float *bias;       /* nbk*8 floats (zero-padded) or NULL */
    int64_t ncb;             /* input-channel blocks to reduce */
    int64_t nc_last;         /* real channels (1..8) in the last of them: small C skips the zero tail */
    int64_t x_cb_stride;     /* floats between input channel blocks (H*W*8) */
    int64_t w_cb_stride;     /* floats between packed weight channel blocks */
    int64_t w_tap_stride;    /* floats between packed taps: 8*nbk*8, or nc*nbk*8 when the layer has a
                                single channel block of nc < 8 channels (compact first layers) */
    int64_t y_kb_stride;     /* floats between output channel blocks (P*Q*8) */
    int64_t y_pix_stride;    /* interior (AVX2): floats between a tile's output pixels in y and res;
                                0 means 8 (consecutive pixels).  The driver's edge tiles run down
                                an output column (Q*8). */
    int64_t H, W, R, S;
    int64_t sw, dh, dw;
    /* interior */
    int64_t ih0, iw0, r0, r1;
    int64_t nrep;            /* interior: nrep >= 1 tiles of ur pixels side by side (x advances ur*sw
                                pixels, y and res ur pixels per tile); 0 counts as 1 */
    int64_t nrows;           /* interior: nrows >= 1 such runs of nrep tiles (0 counts as 1), run i
                                starting x_row_stride * i floats further in x and y_row_stride * i
                                in y and res: one call for many output rows of a narrow layer */
    int64_t x_row_stride, y_row_stride;
    int reverse;             /* 1x1 interior, one row: run the tiles from the last to the first */
    int64_t x_pf_bytes;      /* 1x1 interior (AVX2): prefetch each tile's input pixels this many bytes
                                further on (0 = none): the same pixels one input row down, in the
                                first output chunk of a pixel block, whose input comes from L3 */
    /* gather */
    const int64_t *ih, *iw, *yoff;
    int ur, nbk;             /* used by the generic (scalar) kernels */
    int first, last;
    int act;                 /* ck_activation_kind */
    float alpha;
} ck_direct_ukernel_params;

typedef void (*ck_direct_ukernel_fn)(const ck_direct_ukernel_params *p);

/* One tile family: nbk output-channel blocks, up to ur_max pixels. */
typedef struct ck_direct_ukernel_set {
    const char *name;
    int nbk, ur_max;
    ck_direct_ukernel_fn interior[CKD_MAX_UR + 1]; /* indexed by ur (1..ur_max) */
    ck_direct_ukernel_fn gather[CKD_MAX_UR + 1];
} ck_direct_ukernel_set;

/* The enumerated kernels (one file each). */
#if defined(__x86_64__)
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_12x8__avx2_fma;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_6x16__avx2_fma;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_4x16__avx2_fma;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_2x32__avx2_fma;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_4x24__avx2_fma;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_3x24__avx2_fma;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_3x32__avx2_fma;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_2x48__avx2_fma;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_2x40__avx2_fma;
#endif
#if defined(__aarch64__)
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_12x8__neon;
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_6x16__neon;
#endif
/* Generic: any ur <= 4 and nbk <= 4 (runtime), every entry the same function. */
extern const ck_direct_ukernel_set ck_f32_conv_direct_ukernel_4x32__scalar;

/* ------------------------------------------------------------------------ */
/* AVX2 template, instantiated by the conv_direct_ukernel_*__avx2_fma.c files */
/* ------------------------------------------------------------------------ */
#if defined(CKD_AVX2_TEMPLATE) && defined(__x86_64__)
/* GCC keeps the accumulator arrays in memory unless these tiny loops are
 * fully unrolled (3x slower direct convolution with a gcc/CMake build); clang
 * unrolls them anyway. */
#if defined(__clang__)
#define CKD_UNROLL_X86
/* Keeps a pointer in a general register (clang would otherwise SLP-vectorise
 * the UR pointer updates into ymm registers, evicting accumulators). */
#define CKD_SCALAR_REG(v) __asm__("" : "+r"(v))
#else
#define CKD_SCALAR_REG(v) __asm__("" : "+r"(v))
#define CKD_UNROLL_X86 _Pragma("GCC unroll 24")
#endif
#include <immintrin.h>

#define CKD_TARGET __attribute__((target("avx2,fma")))

static const float ckd_zeros[8] __attribute__((aligned(32))) = {0, 0, 0, 0, 0, 0, 0, 0};

/* One input channel block step of 8 channels at one tap: px(j) is the address
 * of pixel j's 8 input channels, ws the tap's packed weights [8 c][NBK][8].
 * Register budget (16 ymm): UR*NBK accumulators plus either NBK weights and
 * one broadcast (NBK <= UR) or UR broadcasts and one weight (NBK > UR). */
#define CKD_TAP_NC(PX, NC)                                                              \
    do {                                                                                \
        for (int c = 0; c < (NC); c++) {                                                 \
            if (NBK <= UR) {                                                            \
                __m256 wv[CKD_MAX_NBK];                                                 \
                CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) wv[i] = _mm256_load_ps(ws + (c * NBK + i) * 8); \
                CKD_UNROLL_X86 for (int j = 0; j < UR; j++) {                                          \
                    const __m256 b = _mm256_broadcast_ss((PX(j)) + c);                  \
                    CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) acc[j][i] = _mm256_fmadd_ps(b, wv[i], acc[j][i]); \
                }                                                                       \
            } else {                                                                    \
                __m256 bv[CKD_MAX_UR];                                                  \
                CKD_UNROLL_X86 for (int j = 0; j < UR; j++) bv[j] = _mm256_broadcast_ss((PX(j)) + c);  \
                CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) {                                         \
                    const __m256 wv = _mm256_load_ps(ws + (c * NBK + i) * 8);           \
                    CKD_UNROLL_X86 for (int j = 0; j < UR; j++) acc[j][i] = _mm256_fmadd_ps(bv[j], wv, acc[j][i]); \
                }                                                                       \
            }                                                                           \
        }                                                                               \
    } while (0)

/* 6x16 tile, 8 full channels, stride-1 pixels (32 bytes apart), 1x1 tiles:
 * the channel step as asm blocks with immediate offsets.  Clang's C loop
 * chained the six pixel addresses through register adds and kept a loop
 * counter (1x1, C = 144, K = 16 or 32: 94-95 -> 98 GFLOPS at 1 thread). */
#define CKD_ASM_6X2_J(J, OFF, A0, A1)                                                    \
    "vbroadcastss " OFF "+" #J "*" CKD_PXB "(%[xp]), %[b]\n\t"                          \
    "vfmadd231ps %[w0], %[b], %[" A0 "]\n\t"                                            \
    "vfmadd231ps %[w1], %[b], %[" A1 "]\n\t"
#define CKD_ASM_6X2_C(c)                                                                 \
    "vmovaps " #c "*64(%[wp]), %[w0]\n\t"                                               \
    "vmovaps " #c "*64+32(%[wp]), %[w1]\n\t"                                            \
    CKD_ASM_6X2_J(0, #c "*4", "a00", "a01")                                             \
    CKD_ASM_6X2_J(1, #c "*4", "a10", "a11")                                             \
    CKD_ASM_6X2_J(2, #c "*4", "a20", "a21")                                             \
    CKD_ASM_6X2_J(3, #c "*4", "a30", "a31")                                             \
    CKD_ASM_6X2_J(4, #c "*4", "a40", "a41")                                             \
    CKD_ASM_6X2_J(5, #c "*4", "a50", "a51")
#define CKD_ASM_6X2_OUT                                                                  \
    [a00] "+x"(acc[0][0]), [a01] "+x"(acc[0][1]), [a10] "+x"(acc[1][0]), [a11] "+x"(acc[1][1]), \
    [a20] "+x"(acc[2][0]), [a21] "+x"(acc[2][1]), [a30] "+x"(acc[3][0]), [a31] "+x"(acc[3][1]), \
    [a40] "+x"(acc[4][0]), [a41] "+x"(acc[4][1]), [a50] "+x"(acc[5][0]), [a51] "+x"(acc[5][1]), \
    [w0] "=&x"(w0_), [w1] "=&x"(w1_), [b] "=&x"(b_)
/* clang only: gcc allows at most 30 asm operands, which leaves no room for
 * the "m" inputs, and a memory clobber instead cost 2-6% (pw112); gcc's code
 * for the C loop is as fast. */
#define CKD_ASM_6X2_MEM(NW, NX) , "m"(*(const float(*)[NW])wp_), "m"(*(const float(*)[NX])xp_)
#define CKD_ASM_6X2_CLOBBER "cc"
#if defined(__clang__)
#define CKD_HAVE_ASM_6X2 1
#else
#define CKD_HAVE_ASM_6X2 0
#endif
/* CKD_PXB: the pixel stride in bytes as a string literal, "32" (stride 1)
 * or "64" (stride 2); defined around each use. */
#define CKD_TAP_6X2_PX(XS, PXF)                                                          \
    do {                                                                                \
        __m256 w0_, w1_, b_;                                                            \
        const float *xp_ = (XS), *wp_ = ws;                                             \
        __asm__(CKD_ASM_6X2_C(0) CKD_ASM_6X2_C(1) CKD_ASM_6X2_C(2) CKD_ASM_6X2_C(3)     \
                : CKD_ASM_6X2_OUT                                                       \
                : [wp] "r"(wp_), [xp] "r"(xp_) CKD_ASM_6X2_MEM(64, 5 * (PXF) + 8)       \
                : CKD_ASM_6X2_CLOBBER);                                                 \
        __asm__(CKD_ASM_6X2_C(4) CKD_ASM_6X2_C(5) CKD_ASM_6X2_C(6) CKD_ASM_6X2_C(7)     \
                : CKD_ASM_6X2_OUT                                                       \
                : [wp] "r"(wp_), [xp] "r"(xp_) CKD_ASM_6X2_MEM(128, 5 * (PXF) + 8)      \
                : CKD_ASM_6X2_CLOBBER);                                                 \
        (void)w0_; (void)w1_; (void)b_;                                                 \
    } while (0)

/* The 3x32 and 2x48 asm steps build with both compilers.  Their scratch
 * registers are fixed (ymm12-15) and listed as clobbers rather than
 * operands, because gcc counts each "+x" accumulator as two of its at most
 * 30 operands, and 12 accumulators + 4 scratch outputs + 2 pointers + 2
 * memory inputs would be 32 (gcc's C loop for these tiles ran at 70-76% of
 * peak against 90-92%). */
#define CKD_RW "%%ymm15"
#define CKD_RB0 "%%ymm14"
#define CKD_RB1 "%%ymm13"
#define CKD_RB2 "%%ymm12"
#define CKD_SCR_CLOBBER : "xmm12", "xmm13", "xmm14", "xmm15"

/* 3x32 tile (1x1 layers, see conv_direct.c), 8 full channels, constant
 * pixel stride (CKD_PXB = "32" or "64" bytes): the channel step as asm
 * blocks, 3 broadcasts held while the 4 weight vectors stream through one
 * register (16 ymm registers: 12 accumulators, 3 broadcasts, 1 weight). */
#define CKD_ASM_3X4_I(c, I, A0, A1, A2)                                                  \
    "vmovaps " #c "*128+" #I "*32(%[wp]), " CKD_RW "\n\t"                               \
    "vfmadd231ps " CKD_RW ", " CKD_RB0 ", %[" A0 "]\n\t"                                \
    "vfmadd231ps " CKD_RW ", " CKD_RB1 ", %[" A1 "]\n\t"                                \
    "vfmadd231ps " CKD_RW ", " CKD_RB2 ", %[" A2 "]\n\t"
#define CKD_ASM_3X4_C(c)                                                                 \
    "vbroadcastss " #c "*4(%[xp]), " CKD_RB0 "\n\t"                                     \
    "vbroadcastss " #c "*4+" CKD_PXB "(%[xp]), " CKD_RB1 "\n\t"                         \
    "vbroadcastss " #c "*4+2*" CKD_PXB "(%[xp]), " CKD_RB2 "\n\t"                       \
    CKD_ASM_3X4_I(c, 0, "a00", "a10", "a20")                                            \
    CKD_ASM_3X4_I(c, 1, "a01", "a11", "a21")                                            \
    CKD_ASM_3X4_I(c, 2, "a02", "a12", "a22")                                            \
    CKD_ASM_3X4_I(c, 3, "a03", "a13", "a23")
#define CKD_ASM_3X4_OUT                                                                  \
    [a00] "+x"(acc[0][0]), [a01] "+x"(acc[0][1]), [a02] "+x"(acc[0][2]), [a03] "+x"(acc[0][3]), \
    [a10] "+x"(acc[1][0]), [a11] "+x"(acc[1][1]), [a12] "+x"(acc[1][2]), [a13] "+x"(acc[1][3]), \
    [a20] "+x"(acc[2][0]), [a21] "+x"(acc[2][1]), [a22] "+x"(acc[2][2]), [a23] "+x"(acc[2][3])
/* One 8-channel block of a wide tile: STEP(c) is channel c's asm step, OUT
 * the accumulator operands, NW the floats of packed weights and NX the
 * floats of input the eight steps read (two statements: ISO C's
 * 4095-character string limit). */
#define CKD_TAP_WIDE_PX(STEP, OUT, XS, NW, NX)                                           \
    do {                                                                                \
        const float *xp_ = (XS), *wp_ = ws;                                             \
        __asm__(STEP(0) STEP(1) STEP(2) STEP(3)                                         \
                : OUT                                                                   \
                : [wp] "r"(wp_), [xp] "r"(xp_), "m"(*(const float(*)[NW])wp_),          \
                  "m"(*(const float(*)[NX])xp_) CKD_SCR_CLOBBER);                        \
        __asm__(STEP(4) STEP(5) STEP(6) STEP(7)                                         \
                : OUT                                                                   \
                : [wp] "r"(wp_), [xp] "r"(xp_), "m"(*(const float(*)[NW])wp_),          \
                  "m"(*(const float(*)[NX])xp_) CKD_SCR_CLOBBER);                        \
    } while (0)
#define CKD_TAP_3X4_PX(XS, PXF) CKD_TAP_WIDE_PX(CKD_ASM_3X4_C, CKD_ASM_3X4_OUT, XS, 256, 2 * (PXF) + 8)

/* 2x48 and 2x40 tiles (the 6- and 5-block chunks of strided 1x1 layers,
 * see conv_direct.c), 8 full channels, constant pixel stride (CKD_PXB): 2
 * broadcasts held while the NBK weight vectors stream through one register
 * (2x48: 15 ymm registers, 12 accumulators, 2 broadcasts, 1 weight; 6
 * weight loads + 2 broadcasts per 12 FMAs; 2x40: 13, 10 accumulators).
 * CS is the packed weights' channel step in bytes (NBK * 32) as a string. */
#define CKD_ASM_2W_I(c, CS, I, A0, A1)                                                   \
    "vmovaps " #c "*" CS "+" #I "*32(%[wp]), " CKD_RW "\n\t"                           \
    "vfmadd231ps " CKD_RW ", " CKD_RB0 ", %[" A0 "]\n\t"                                \
    "vfmadd231ps " CKD_RW ", " CKD_RB1 ", %[" A1 "]\n\t"
#define CKD_ASM_2W_B(c)                                                                  \
    "vbroadcastss " #c "*4(%[xp]), " CKD_RB0 "\n\t"                                     \
    "vbroadcastss " #c "*4+" CKD_PXB "(%[xp]), " CKD_RB1 "\n\t"
#define CKD_ASM_2X5_I5(c, CS)                                                            \
    CKD_ASM_2W_I(c, CS, 0, "a00", "a10")                                                \
    CKD_ASM_2W_I(c, CS, 1, "a01", "a11")                                                \
    CKD_ASM_2W_I(c, CS, 2, "a02", "a12")                                                \
    CKD_ASM_2W_I(c, CS, 3, "a03", "a13")                                                \
    CKD_ASM_2W_I(c, CS, 4, "a04", "a14")
#define CKD_ASM_2X5_C(c) CKD_ASM_2W_B(c) CKD_ASM_2X5_I5(c, "160")
#define CKD_ASM_2X6_C(c) CKD_ASM_2W_B(c) CKD_ASM_2X5_I5(c, "192") CKD_ASM_2W_I(c, "192", 5, "a05", "a15")
#define CKD_ASM_2X5_OUT                                                                  \
    [a00] "+x"(acc[0][0]), [a01] "+x"(acc[0][1]), [a02] "+x"(acc[0][2]),                \
    [a03] "+x"(acc[0][3]), [a04] "+x"(acc[0][4]),                                       \
    [a10] "+x"(acc[1][0]), [a11] "+x"(acc[1][1]), [a12] "+x"(acc[1][2]),                \
    [a13] "+x"(acc[1][3]), [a14] "+x"(acc[1][4])
#define CKD_ASM_2X6_OUT                                                                  \
    [a00] "+x"(acc[0][0]), [a01] "+x"(acc[0][1]), [a02] "+x"(acc[0][2]),                \
    [a03] "+x"(acc[0][3]), [a04] "+x"(acc[0][4]), [a05] "+x"(acc[0][5]),                \
    [a10] "+x"(acc[1][0]), [a11] "+x"(acc[1][1]), [a12] "+x"(acc[1][2]),                \
    [a13] "+x"(acc[1][3]), [a14] "+x"(acc[1][4]), [a15] "+x"(acc[1][5])
#define CKD_TAP_2X6_PX(XS, PXF) CKD_TAP_WIDE_PX(CKD_ASM_2X6_C, CKD_ASM_2X6_OUT, XS, 384, (PXF) + 8)
#define CKD_TAP_2X5_PX(XS, PXF) CKD_TAP_WIDE_PX(CKD_ASM_2X5_C, CKD_ASM_2X5_OUT, XS, 320, (PXF) + 8)

/* RGB (3 channels) and single-channel (LeNet) first layers get a constant
 * trip count so the short channel loop is fully unrolled (+4% on 7x7s2 and
 * 11x11s4 with C=3); unrolling the 8-channel case too measured ~2% slower on
 * the 3x3 layers. */
#if defined(__clang__)
/* clang: the 4x24 tile's channel steps as asm blocks, so that the 12
 * accumulators stay in registers (with the C loop, clang's register
 * allocator keeps one on the stack, on its FMA chain: half speed).  4
 * scratch registers: 3 weights and 1 broadcast.  8 channels unrolled
 * (CKD_ASM_4X3_C(c) = channel c), fewer (the last block of C % 8 != 0) in a
 * loop. */
#define CKD_ASM_4X3_FMA3(PJ, OFF, A0, A1, A2)                                            \
    "vbroadcastss " OFF "(%[" PJ "]" "), %[b]\n\t"                                      \
    "vfmadd231ps %[w0], %[b], %[" A0 "]\n\t"                                            \
    "vfmadd231ps %[w1], %[b], %[" A1 "]\n\t"                                            \
    "vfmadd231ps %[w2], %[b], %[" A2 "]\n\t"
#define CKD_ASM_4X3_C(c)                                                                 \
    "vmovaps " #c "*96(%[wp]), %[w0]\n\t"                                               \
    "vmovaps " #c "*96+32(%[wp]), %[w1]\n\t"                                            \
    "vmovaps " #c "*96+64(%[wp]), %[w2]\n\t"                                            \
    CKD_ASM_4X3_FMA3("p0", #c "*4", "a00", "a01", "a02")                                \
    CKD_ASM_4X3_FMA3("p1", #c "*4", "a10", "a11", "a12")                                \
    CKD_ASM_4X3_FMA3("p2", #c "*4", "a20", "a21", "a22")                                \
    CKD_ASM_4X3_FMA3("p3", #c "*4", "a30", "a31", "a32")
#define CKD_ASM_4X3_OUT                                                                  \
    [a00] "+x"(acc[0][0]), [a01] "+x"(acc[0][1]), [a02] "+x"(acc[0][2]),                \
    [a10] "+x"(acc[1][0]), [a11] "+x"(acc[1][1]), [a12] "+x"(acc[1][2]),                \
    [a20] "+x"(acc[2][0]), [a21] "+x"(acc[2][1]), [a22] "+x"(acc[2][2]),                \
    [a30] "+x"(acc[3][0]), [a31] "+x"(acc[3][1]), [a32] "+x"(acc[3][2]),                \
    [w0] "=&x"(w0_), [w1] "=&x"(w1_), [w2] "=&x"(w2_), [b] "=&x"(b_)
#define CKD_ASM_4X3_MEM                                                                  \
    "m"(*(const float(*)[192])ws), "m"(*(const float(*)[8])p0_), "m"(*(const float(*)[8])p1_), \
    "m"(*(const float(*)[8])p2_), "m"(*(const float(*)[8])p3_)
#define CKD_TAP_4X3(PX)                                                                  \
    do {                                                                                \
        __m256 w0_, w1_, w2_, b_;                                                       \
        const float *p0_ = (PX(0)), *p1_ = (PX(1)), *p2_ = (PX(2)), *p3_ = (PX(3));      \
        const float *wp_ = ws;                                                          \
        if (nc == 8) {                                                                  \
            /* two statements: ISO C's 4095-character string limit */                   \
            __asm__(CKD_ASM_4X3_C(0) CKD_ASM_4X3_C(1) CKD_ASM_4X3_C(2) CKD_ASM_4X3_C(3) \
                    : CKD_ASM_4X3_OUT                                                   \
                    : [wp] "r"(wp_), [p0] "r"(p0_), [p1] "r"(p1_), [p2] "r"(p2_), [p3] "r"(p3_), \
                      CKD_ASM_4X3_MEM);                                                 \
            __asm__(CKD_ASM_4X3_C(4) CKD_ASM_4X3_C(5) CKD_ASM_4X3_C(6) CKD_ASM_4X3_C(7) \
                    : CKD_ASM_4X3_OUT                                                   \
                    : [wp] "r"(wp_), [p0] "r"(p0_), [p1] "r"(p1_), [p2] "r"(p2_), [p3] "r"(p3_), \
                      CKD_ASM_4X3_MEM);                                                 \
        } else if (nc == 3) { /* RGB first layers */                                    \
            __asm__(CKD_ASM_4X3_C(0) CKD_ASM_4X3_C(1) CKD_ASM_4X3_C(2)                  \
                    : CKD_ASM_4X3_OUT                                                   \
                    : [wp] "r"(wp_), [p0] "r"(p0_), [p1] "r"(p1_), [p2] "r"(p2_), [p3] "r"(p3_), \
                      CKD_ASM_4X3_MEM);                                                 \
        } else {                                                                        \
            const float *q0_ = p0_, *q1_ = p1_, *q2_ = p2_, *q3_ = p3_;                 \
            int64_t n_ = nc;                                                            \
            __asm__("1:\n\t" CKD_ASM_4X3_C(0)                                           \
                    "addq $96, %[wp]\n\t"                                               \
                    "addq $4, %[p0]\n\t"                                                \
                    "addq $4, %[p1]\n\t"                                                \
                    "addq $4, %[p2]\n\t"                                                \
                    "addq $4, %[p3]\n\t"                                                \
                    "decq %[n]\n\t"                                                     \
                    "jnz 1b\n\t"                                                        \
                    : CKD_ASM_4X3_OUT, [wp] "+r"(wp_), [p0] "+r"(q0_), [p1] "+r"(q1_),  \
                      [p2] "+r"(q2_), [p3] "+r"(q3_), [n] "+r"(n_)                      \
                    : CKD_ASM_4X3_MEM                                                   \
                    : "cc");                                                            \
        }                                                                               \
        (void)w0_; (void)w1_; (void)w2_; (void)b_;                                      \
    } while (0)
#define CKD_TAP(PX)                                                                     \
    do {                                                                                \
        if (UR == 4 && NBK == 3) CKD_TAP_4X3(PX);                                       \
        else if (nc == 3) CKD_TAP_NC(PX, 3);                                            \
        else if (nc == 1) CKD_TAP_NC(PX, 1);                                            \
        else CKD_TAP_NC(PX, nc);                                                        \
    } while (0)
#else
#define CKD_TAP(PX)                                                                     \
    do {                                                                                \
        if (nc == 3) CKD_TAP_NC(PX, 3);                                                 \
        else if (nc == 1) CKD_TAP_NC(PX, 1);                                            \
        else CKD_TAP_NC(PX, nc);                                                        \
    } while (0)
#endif

/* Accumulators from the bias (first) or the partial sums in y.  The
 * per-pixel copy of the bias pointer (CKD_SCALAR_REG) was meant to keep one
 * bias load per accumulator, but the empty asm is not volatile and both
 * clang and gcc merge the loads: the objects load the bias once per output
 * block and copy it into the other accumulators, as before this form.
 * The change that introduced it (the bias and zero cases split, pixel-major
 * order) measured, clang, direct_ukernel_dev (data in L1, C = 64, best of 9
 * rounds, 3 runs): 6x16 92.0-93.1 -> 94.6-94.8% of peak (C = 32: 86.8-87.3
 * -> 89.9-91.3%), 2x40 +1.2-2.9 points, 2x48 +1, 4x24 +0-0.4, 3x32
 * -0.3..-2.5; what in it made the difference is not known.  A hand-written
 * 6x16 row kernel measured the same with one load per accumulator and with
 * one load and copies (85.6 vs 85.0%, C = 32): the per-tile cost of these
 * short reductions is in the 12 output stores (see ckd_avx2_row4x16_s1). */
static inline __attribute__((always_inline)) CKD_TARGET void
ckd_avx2_init(__m256 acc[CKD_MAX_UR][CKD_MAX_NBK], const ck_direct_ukernel_params *p, const int UR, const int NBK,
              const float *const y, const int64_t *const yo, const float *bias) {
    const int64_t ykb = p->y_kb_stride;
    if (p->first && bias) {
        CKD_UNROLL_X86 for (int j = 0; j < UR; j++) {
            const float *bj = bias;
            CKD_SCALAR_REG(bj);
            CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) acc[j][i] = _mm256_load_ps(bj + i * 8);
        }
    } else if (p->first) {
        CKD_UNROLL_X86 for (int j = 0; j < UR; j++)
            CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) acc[j][i] = _mm256_setzero_ps();
    } else {
        CKD_UNROLL_X86 for (int j = 0; j < UR; j++)
            CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) acc[j][i] = _mm256_loadu_ps(y + yo[j] + i * ykb);
    }
}

static inline __attribute__((always_inline)) CKD_TARGET void
ckd_avx2_finish(__m256 acc[CKD_MAX_UR][CKD_MAX_NBK], const ck_direct_ukernel_params *p, const int UR, const int NBK,
                float *const y, const int64_t *const yo, const float *const res);

/* Interior reduction: consecutive output pixels sw8 floats apart in the
 * input (called with a literal 8 for stride 1, so that the pixel offsets are
 * immediate displacements instead of a chain of register adds). */
static inline __attribute__((always_inline)) CKD_TARGET void
ckd_avx2_reduce_int(__m256 acc[CKD_MAX_UR][CKD_MAX_NBK], const ck_direct_ukernel_params *p, const int UR,
                    const int NBK, const int64_t xoff, const int64_t sw8) {
    const int64_t W8 = p->W * 8, S = p->S, wrs = p->w_tap_stride;
    const int64_t xcbs = p->x_cb_stride, wcbs = p->w_cb_stride, ncb = p->ncb;
    const int64_t dw8 = p->dw * 8, dhW8 = p->dh * W8;
    const float *xb = p->x + xoff + (p->ih0 + p->r0 * p->dh) * W8 + p->iw0 * 8;
    const float *wb = p->w + p->r0 * S * wrs;
    const int64_t nr = p->r1 - p->r0;
    for (int64_t cb = 0; cb < ncb; cb++) {
        const int nc = cb == ncb - 1 ? (int)p->nc_last : 8;
        const float *xr = xb + cb * xcbs;
        const float *ws = wb + cb * wcbs;
        for (int64_t r = 0; r < nr; r++, xr += dhW8) {
            const float *xs = xr;
            for (int64_t s = 0; s < S; s++, xs += dw8, ws += wrs) {
#define CKD_PX_INT(j) (xs + (j) * sw8)
                CKD_TAP(CKD_PX_INT);
#undef CKD_PX_INT
            }
        }
    }
}

/* Gather tiles: UR arbitrary pixels (p->ih, p->iw, p->yoff), taps outside
 * the input read zeros. */
static inline __attribute__((always_inline)) CKD_TARGET void
ckd_avx2_gather(const ck_direct_ukernel_params *p, const int UR, const int NBK) {
    __m256 acc[CKD_MAX_UR][CKD_MAX_NBK];
    int64_t yo[CKD_MAX_UR];
    float *const y = p->y;
    CKD_UNROLL_X86 for (int j = 0; j < UR; j++) yo[j] = p->yoff[j];
    ckd_avx2_init(acc, p, UR, NBK, y, yo, p->bias);
    const int64_t S = p->S, R = p->R, wrs = p->w_tap_stride;
    const int64_t xcbs = p->x_cb_stride, wcbs = p->w_cb_stride, ncb = p->ncb;
    /* Tap-major: for each tap (r, s) the UR input pointers are set up
     * once (an out-of-range tap reads the zero vector and does not
     * advance), then the channel blocks run innermost.  Per-tap setup
     * per channel block (the interior order) cost the gather tiles
     * 15-20% with clang, whose vectorised address arithmetic evicted
     * accumulators; padded layers send up to half their tiles here. */
    const int64_t H = p->H, W = p->W, dh = p->dh, dw = p->dw, ncb1 = ncb - 1;
    const int ncl = (int)p->nc_last;
    for (int64_t r = 0; r < R; r++) {
        for (int64_t s = 0; s < S; s++) {
            const float *px[CKD_MAX_UR];
            int64_t stp[CKD_MAX_UR];
            int any = 0;
            CKD_UNROLL_X86 for (int j = 0; j < UR; j++) {
                const int64_t iy = p->ih[j] + r * dh, ix = p->iw[j] + s * dw;
                const int ok = iy >= 0 && iy < H && ix >= 0 && ix < W;
                px[j] = ok ? p->x + (iy * W + ix) * 8 : ckd_zeros;
                stp[j] = ok ? xcbs * (int64_t)sizeof(float) : 0;
                any |= ok;
            }
            if (!any) continue;
            const float *ws = p->w + (r * S + s) * wrs;
            for (int64_t cb = 0; cb < ncb; cb++, ws += wcbs) {
                const int nc = cb == ncb1 ? ncl : 8;
#define CKD_PX_GAT(j) (px[j])
                CKD_TAP(CKD_PX_GAT);
#undef CKD_PX_GAT
                CKD_UNROLL_X86 for (int j = 0; j < UR; j++) {
                    px[j] = (const float *)((const char *)px[j] + stp[j]);
                    CKD_SCALAR_REG(px[j]);
                }
            }
        }
    }
    ckd_avx2_finish(acc, p, UR, NBK, y, yo, p->res);
}

/* Residual, activation (last chunk only) and the store. */
static inline __attribute__((always_inline)) CKD_TARGET void
ckd_avx2_finish(__m256 acc[CKD_MAX_UR][CKD_MAX_NBK], const ck_direct_ukernel_params *p, const int UR, const int NBK,
                float *const y, const int64_t *const yo, const float *const res) {
    const int64_t ykb = p->y_kb_stride;
    if (p->last) {
        if (res)
            CKD_UNROLL_X86 for (int j = 0; j < UR; j++)
                CKD_UNROLL_X86 for (int i = 0; i < NBK; i++)
                    acc[j][i] = _mm256_add_ps(acc[j][i], _mm256_loadu_ps(res + yo[j] + i * ykb));
        const __m256 zero = _mm256_setzero_ps();
        switch (p->act) {
        case CK_ACT_RELU:
            CKD_UNROLL_X86 for (int j = 0; j < UR; j++)
                CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) acc[j][i] = _mm256_max_ps(acc[j][i], zero);
            break;
        case CK_ACT_RELU6: {
            const __m256 six = _mm256_set1_ps(6.f);
            CKD_UNROLL_X86 for (int j = 0; j < UR; j++)
                CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) acc[j][i] = _mm256_min_ps(_mm256_max_ps(acc[j][i], zero), six);
            break;
        }
        case CK_ACT_LEAKY_RELU: {
            const __m256 a = _mm256_set1_ps(p->alpha);
            CKD_UNROLL_X86 for (int j = 0; j < UR; j++)
                CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) {
                    const __m256 neg = _mm256_cmp_ps(acc[j][i], zero, _CMP_LT_OQ);
                    acc[j][i] = _mm256_blendv_ps(acc[j][i], _mm256_mul_ps(acc[j][i], a), neg);
                }
            break;
        }
        default: break;
        }
    }
    CKD_UNROLL_X86 for (int j = 0; j < UR; j++)
        CKD_UNROLL_X86 for (int i = 0; i < NBK; i++) _mm256_storeu_ps(y + yo[j] + i * ykb, acc[j][i]);
}

/* Interior tiles of any kernel size: the nrep tiles in one function (the
 * per-tile call of the generic entry costs ~5% on the C = 3 first layers,
 * whose tiles reduce over only 3*R*S channel steps). */
static inline __attribute__((always_inline)) CKD_TARGET void
ckd_avx2_int_tiles(const ck_direct_ukernel_params *p, const int UR, const int NBK, const int64_t sw8) {
    const int64_t nrep = p->nrep > 1 ? p->nrep : 1, xstep = (int64_t)UR * sw8;
    const int64_t nrows = p->nrows > 1 ? p->nrows : 1;
    int64_t yo[CKD_MAX_UR];
    const int64_t ys = p->y_pix_stride ? p->y_pix_stride : 8;
    CKD_UNROLL_X86 for (int j = 0; j < UR; j++) yo[j] = (int64_t)j * ys;
    for (int64_t row = 0; row < nrows; row++) {
        float *y = p->y + row * p->y_row_stride;
        const float *res = p->res ? p->res + row * p->y_row_stride : NULL;
        const int64_t xrow = row * p->x_row_stride;
        for (int64_t t = 0; t < nrep; t++, y += UR * ys) {
            __m256 acc[CKD_MAX_UR][CKD_MAX_NBK];
            const float *bias = p->bias;
            CKD_SCALAR_REG(bias);
            ckd_avx2_init(acc, p, UR, NBK, y, yo, bias);
            ckd_avx2_reduce_int(acc, p, UR, NBK, xrow + t * xstep, sw8);
            ckd_avx2_finish(acc, p, UR, NBK, y, yo, res ? res + t * UR * ys : NULL);
        }
    }
}

/* 4x16 tile, stride-1 1x1 layers with whole 8-channel blocks: a row of nrep
 * tiles as one asm loop (init, the channel-block loop, epilogue and stores
 * of every tile), with no per-tile C bookkeeping between two tiles'
 * reductions.  Registers: acc[j][i] in ymm(2j+i) (ymm0-7), the weights in
 * ymm12-13, the broadcast in ymm14, the epilogue's constants in ymm14-15.
 * The general loop reads its constants from a small block (k) by memory
 * operands, which keeps it at 10 general registers (it must also build at
 * -O0); the fast loop (the common modes) holds them in registers.
 * mode: 1 = start from y (a later channel pass), 2 = start from the bias,
 * 4 = add the residual, 8 = ReLU (max with 0), 16 = then clamp at 6
 * (ReLU6 is 8 | 16).
 * Why this tile: with a reduction this short (C = 16..64) the stores at
 * the end of a tile dominate its overhead.  direct_ukernel_dev (data in
 * L1, clang, best of 9 rounds, one build): this kernel 96.1% of the FMA
 * peak at C = 16, 96.8% at C = 32 and 97.9% at C = 64, the C template's
 * 6x16 tile 83.8%, 91.4% and 95.0%.  The same loop as a 6x16 tile (12
 * stores a tile) ran at 85-86% at C = 32; keeping only 6, 7 or 9 of its
 * stores (for the measurement) gave 97%, 93% and 87%, wherever the stores
 * went (the same lines, another page, the next tile's lines) and whatever
 * they stored (a register ready long before): on this Zen 3, more than
 * ~6-8 stores at the end of a tile stall it. */
typedef struct ckd_row_k {
    int64_t ncb;        /*  0: input-channel blocks */
    int64_t xcbs;       /*  8: bytes between input-channel blocks */
    int64_t inc;        /* 16: bytes from one tile to the next (negative: descending) */
    int64_t mode;       /* 24 */
    const float *bias;  /* 32 */
    const float *w;     /* 40: packed weights, 512 bytes a channel block */
    float six[8];       /* 48: 6.0f (ReLU6) */
} ckd_row_k;

/* k for the row kernels' call p; inc: bytes of input from one tile to the next */
static inline __attribute__((always_inline)) void ckd_row_k_init(ckd_row_k *k, const ck_direct_ukernel_params *p,
                                                                 int64_t inc) {
    k->ncb = p->ncb;
    k->xcbs = p->x_cb_stride * (int64_t)sizeof(float);
    k->inc = inc;
    k->mode = (p->first ? (p->bias ? 2 : 0) : 1) |
              (p->last ? (p->res ? 4 : 0) | (p->act == CK_ACT_RELU ? 8 : p->act == CK_ACT_RELU6 ? 24 : 0) : 0);
    k->bias = p->bias;
    k->w = p->w + p->r0 * p->w_tap_stride;
    for (int i = 0; i < 8; i++) k->six[i] = 6.f;
}

/* In a row kernel's row loop: the common modes (from the bias, the last
 * pass, no residual) through FAST(EPI) with EPI one of NONE, RELU, RELU6,
 * then the next row; other modes fall through to the general loop. */
#define CKD_ROW_FAST_MODES(FAST, NONE, RELU, RELU6)                                      \
    if (k.mode == 2) {                                                                  \
        FAST(NONE);                                                                     \
        continue;                                                                       \
    }                                                                                   \
    if (k.mode == (2 | 8)) {                                                            \
        FAST(RELU);                                                                     \
        continue;                                                                       \
    }                                                                                   \
    if (k.mode == (2 | 24)) {                                                           \
        FAST(RELU6);                                                                    \
        continue;                                                                       \
    }

/* The general row loops' mode tests around a tile's init and epilogue
 * (the mode and pointers read from k at the offsets above).  INIT: BIAS
 * loads the bias from t, ZERO clears the accumulators, LOADY loads them
 * from y; then the tile's pointers.  EPI: RES adds the residual, MAX0 (with
 * ymm15 = 0) and MIN6 (with ymm14 = 6) the activation. */
#define CKD_ROW_GEN_INIT(BIAS, ZERO, LOADY)                                              \
    "testq $2, 24(%[k])\n\t"                                                            \
    "jz 11f\n\t"                                                                         \
    "movq 32(%[k]), %[t]\n\t"                                                            \
    BIAS                                                                                \
    "jmp 13f\n"                                                                         \
    "11:\n\t"                                                                            \
    "testq $1, 24(%[k])\n\t"                                                            \
    "jnz 12f\n\t"                                                                        \
    ZERO                                                                                \
    "jmp 13f\n"                                                                         \
    "12:\n\t"                                                                            \
    LOADY                                                                               \
    "13:\n\t"                                                                            \
    "movq %[x], %[xc]\n\t"                                                               \
    "movq 40(%[k]), %[wc]\n\t"                                                           \
    "movq (%[k]), %[n]\n"
#define CKD_ROW_GEN_EPI(RES, MAX0, MIN6)                                                 \
    "testq $4, 24(%[k])\n\t"                                                            \
    "jz 14f\n\t"                                                                         \
    RES                                                                                 \
    "14:\n\t"                                                                            \
    "testq $8, 24(%[k])\n\t"                                                            \
    "jz 15f\n\t"                                                                         \
    "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"                                               \
    MAX0                                                                                \
    "testq $16, 24(%[k])\n\t"                                                           \
    "jz 15f\n\t"                                                                         \
    "vmovups 48(%[k]), %%ymm14\n\t"                                                      \
    MIN6                                                                                \
    "15:\n\t"

#define CKR_J(c, J, A0, A1)                                                              \
    "vbroadcastss " #c "*4+" #J "*32(%[xc]), %%ymm14\n\t"                               \
    "vfmadd231ps %%ymm12, %%ymm14, %%ymm" #A0 "\n\t"                                    \
    "vfmadd231ps %%ymm13, %%ymm14, %%ymm" #A1 "\n\t"
#define CKR_C(c)                                                                         \
    "vmovaps " #c "*64(%[wc]), %%ymm12\n\t"                                             \
    "vmovaps " #c "*64+32(%[wc]), %%ymm13\n\t"                                          \
    CKR_J(c, 0, 0, 1) CKR_J(c, 1, 2, 3) CKR_J(c, 2, 4, 5) CKR_J(c, 3, 6, 7)
/* OP(J, A0, A1) for each pixel J and its two accumulators */
#define CKR_ALL(OP) OP(0, 0, 1) OP(1, 2, 3) OP(2, 4, 5) OP(3, 6, 7)
#define CKR_BIAS(J, A0, A1) "vmovaps (%[t]), %%ymm" #A0 "\n\t" "vmovaps 32(%[t]), %%ymm" #A1 "\n\t"
#define CKR_ZERO(J, A0, A1) "vxorps %%ymm" #A0 ", %%ymm" #A0 ", %%ymm" #A0 "\n\t" \
                            "vxorps %%ymm" #A1 ", %%ymm" #A1 ", %%ymm" #A1 "\n\t"
#define CKR_LOADY(J, A0, A1) "vmovups " #J "*32(%[y]), %%ymm" #A0 "\n\t" \
                             "vmovups " #J "*32(%[y],%[ykb]), %%ymm" #A1 "\n\t"
#define CKR_RES(J, A0, A1) "vaddps " #J "*32(%[r]), %%ymm" #A0 ", %%ymm" #A0 "\n\t" \
                           "vaddps " #J "*32(%[r],%[ykb]), %%ymm" #A1 ", %%ymm" #A1 "\n\t"
#define CKR_MAX0(J, A0, A1) "vmaxps %%ymm15, %%ymm" #A0 ", %%ymm" #A0 "\n\t" \
                            "vmaxps %%ymm15, %%ymm" #A1 ", %%ymm" #A1 "\n\t"
#define CKR_MIN6(J, A0, A1) "vminps %%ymm14, %%ymm" #A0 ", %%ymm" #A0 "\n\t" \
                            "vminps %%ymm14, %%ymm" #A1 ", %%ymm" #A1 "\n\t"
#define CKR_STORE(J, A0, A1) "vmovups %%ymm" #A0 ", " #J "*32(%[y])\n\t" \
                             "vmovups %%ymm" #A1 ", " #J "*32(%[y],%[ykb])\n\t"

/* The row kernel's preconditions (else the C template runs the tiles):
 * 4x16, stride 1, consecutive output pixels, whole channel blocks, the
 * 1x1 weight packing, no prefetch, an activation it applies. */
#define CKD_ROW4X16_OK(p, UR, NBK, sw8, ys)                                              \
    ((UR) == 4 && (NBK) == 2 && (sw8) == 8 && (ys) == 8 && (p)->nc_last == 8 &&         \
     (p)->w_cb_stride == 128 && !(p)->x_pf_bytes && (!(p)->last || (p)->act <= CK_ACT_RELU6))

/* The common case (the first channel pass from the bias, the last with no
 * residual: NONE, RELU or RELU6 as EPI) with every constant in a register;
 * the mode tests and memory operands of the general loop below cost 1.5
 * points of peak at C = 32 and 5 at C = 16 (direct_ukernel_dev). */
#define CKR_EPI_NONE ""
#define CKR_EPI_RELU "vxorps %%ymm15, %%ymm15, %%ymm15\n\t" CKR_ALL(CKR_MAX0)
#define CKR_EPI_RELU6 CKR_EPI_RELU "vbroadcastss %[six], %%ymm14\n\t" CKR_ALL(CKR_MIN6)
#define CKR_ROW_FAST(EPI)                                                                \
    __asm__ volatile(                                                                   \
        "1:\n\t"                                                                        \
        CKR_ALL(CKR_BIASR)                                                              \
        "movq %[x], %[xc]\n\t"                                                          \
        "movq %[w], %[wc]\n\t"                                                          \
        "movq %[ncb], %[n]\n"                                                           \
        "2:\n\t"                                                                        \
        CKR_C(0) CKR_C(1) CKR_C(2) CKR_C(3) CKR_C(4) CKR_C(5) CKR_C(6) CKR_C(7)         \
        "addq %[xcbs], %[xc]\n\t"                                                       \
        "addq $512, %[wc]\n\t"                                                          \
        "decq %[n]\n\t"                                                                 \
        "jnz 2b\n\t"                                                                    \
        EPI                                                                             \
        CKR_ALL(CKR_STORE)                                                              \
        "addq %[inc], %[x]\n\t"                                                         \
        "addq %[inc], %[y]\n\t"                                                         \
        "decq %[nt]\n\t"                                                                \
        "jnz 1b\n\t"                                                                    \
        : [x] "+r"(x), [y] "+r"(y), [nt] "+r"(nt), [xc] "=&r"(xc), [wc] "=&r"(wc), [n] "=&r"(n) \
        : [b] "r"(k.bias), [w] "r"(k.w), [ncb] "r"(k.ncb), [xcbs] "r"(k.xcbs), [inc] "r"(k.inc), \
          [ykb] "r"(ykb), [six] "m"(k.six[0])                                           \
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm12", "xmm13", "xmm14", \
          "xmm15", "cc", "memory")
#define CKR_BIASR(J, A0, A1) "vmovaps (%[b]), %%ymm" #A0 "\n\t" "vmovaps 32(%[b]), %%ymm" #A1 "\n\t"

static __attribute__((unused, noinline)) CKD_TARGET void
ckd_avx2_row4x16_s1(const ck_direct_ukernel_params *p) {
    const int64_t nrep = p->nrep > 1 ? p->nrep : 1, nrows = p->nrows > 1 ? p->nrows : 1;
    /* descending tiles (one row only; see ck_direct_ukernel_params.reverse) */
    const int rev = p->reverse && nrows == 1;
    ckd_row_k k;
    ckd_row_k_init(&k, p, (rev ? -32 : 32) * (int64_t)sizeof(float));
    const float *const x0 = p->x + (p->ih0 + p->r0 * p->dh) * p->W * 8 + p->iw0 * 8;
    const int64_t ykb = p->y_kb_stride * (int64_t)sizeof(float), start = rev ? (nrep - 1) * 32 : 0;
    for (int64_t row = 0; row < nrows; row++) {
        const float *x = x0 + row * p->x_row_stride + start;
        const float *r = p->res ? p->res + row * p->y_row_stride + start : p->y;
        float *y = p->y + row * p->y_row_stride + start;
        const float *xc, *wc, *t;
        int64_t n, nt = nrep;
        CKD_ROW_FAST_MODES(CKR_ROW_FAST, CKR_EPI_NONE, CKR_EPI_RELU, CKR_EPI_RELU6)
        __asm__ volatile(
            "1:\n\t"
            CKD_ROW_GEN_INIT(CKR_ALL(CKR_BIAS), CKR_ALL(CKR_ZERO), CKR_ALL(CKR_LOADY))
            "2:\n\t"
            CKR_C(0) CKR_C(1) CKR_C(2) CKR_C(3) CKR_C(4) CKR_C(5) CKR_C(6) CKR_C(7)
            "addq 8(%[k]), %[xc]\n\t"
            "addq $512, %[wc]\n\t"
            "decq %[n]\n\t"
            "jnz 2b\n\t"
            CKD_ROW_GEN_EPI(CKR_ALL(CKR_RES), CKR_ALL(CKR_MAX0), CKR_ALL(CKR_MIN6))
            CKR_ALL(CKR_STORE)
            "movq 16(%[k]), %[t]\n\t"
            "addq %[t], %[x]\n\t"
            "addq %[t], %[y]\n\t"
            "addq %[t], %[r]\n\t"
            "decq %[nt]\n\t"
            "jnz 1b\n\t"
            : [x] "+r"(x), [y] "+r"(y), [r] "+r"(r), [nt] "+r"(nt), [xc] "=&r"(xc), [wc] "=&r"(wc), [n] "=&r"(n),
              [t] "=&r"(t)
            : [k] "r"(&k), [ykb] "r"(ykb)
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm12", "xmm13", "xmm14", "xmm15",
              "cc", "memory");
    }
}

/* 2x32 tile, stride-2 1x1 layers with C/g <= 64 (the 4-block chunks of
 * resnet18.l2.1x1s2-like layers, conv_direct.c), whole 8-channel blocks:
 * the same row loop as the 4x16 one above, 2 pixels (64 bytes apart in
 * the input) x 4 output blocks, 8 stores a tile.  acc[j][i] in ymm(4j+i),
 * the two broadcasts in ymm14-15 while the 4 weight vectors stream
 * through ymm12.  Each tile's input is prefetched x_pf_bytes ahead (the
 * driver's row prefetch in a pixel block's first chunk; 0 in the others,
 * where the prefetch of the lines being read costs nothing measurable).
 * direct_ukernel_dev --stride 2 --image 56x56 --cb 8, data in L2 (--sweep
 * 6): 95.4% of peak, the C template's 2x48 93.1% and 2x32 92.5%;
 * streamed (--sweep 28) 87.3%, 87.5% and 84.6%. */
#define CKS_I(c, I, B)                                                                   \
    "vmovaps " #c "*128+" #I "*32(%[wc]), %%ymm12\n\t"                                  \
    "vfmadd231ps %%ymm12, %%ymm14, %%ymm" #I "\n\t"                                     \
    "vfmadd231ps %%ymm12, %%ymm15, %%ymm" #B "\n\t"
#define CKS_C(c)                                                                         \
    "vbroadcastss " #c "*4(%[xc]), %%ymm14\n\t"                                         \
    "vbroadcastss " #c "*4+64(%[xc]), %%ymm15\n\t"                                      \
    CKS_I(c, 0, 4) CKS_I(c, 1, 5) CKS_I(c, 2, 6) CKS_I(c, 3, 7)
/* OP(J, A, OFF) for each pixel J, block i's accumulator A at y offset OFF */
#define CKS_ALL(OP)                                                                      \
    OP(0, 0, "(%[y])") OP(0, 1, "(%[y],%[ykb])") OP(0, 2, "(%[y],%[ykb],2)") OP(0, 3, "(%[y],%[ykb3])") \
    OP(1, 4, "32(%[y])") OP(1, 5, "32(%[y],%[ykb])") OP(1, 6, "32(%[y],%[ykb],2)") OP(1, 7, "32(%[y],%[ykb3])")
#define CKS_BIAS(J, A, OFF) "vmovaps (" #A "&3)*32(%[b]), %%ymm" #A "\n\t"
#define CKS_ZERO(J, A, OFF) "vxorps %%ymm" #A ", %%ymm" #A ", %%ymm" #A "\n\t"
#define CKS_LOADY(J, A, OFF) "vmovups " OFF ", %%ymm" #A "\n\t"
#define CKS_MAX0(J, A, OFF) "vmaxps %%ymm15, %%ymm" #A ", %%ymm" #A "\n\t"
#define CKS_MIN6(J, A, OFF) "vminps %%ymm14, %%ymm" #A ", %%ymm" #A "\n\t"
#define CKS_STORE(J, A, OFF) "vmovups %%ymm" #A ", " OFF "\n\t"
/* the general loop's bias init: the 4 blocks from t, copied for pixel 1 */
#define CKS_BIAS_T                                                                       \
    "vmovaps (%[t]), %%ymm0\n\t" "vmovaps 32(%[t]), %%ymm1\n\t"                          \
    "vmovaps 64(%[t]), %%ymm2\n\t" "vmovaps 96(%[t]), %%ymm3\n\t"                        \
    "vmovaps %%ymm0, %%ymm4\n\t" "vmovaps %%ymm1, %%ymm5\n\t"                            \
    "vmovaps %%ymm2, %%ymm6\n\t" "vmovaps %%ymm3, %%ymm7\n\t"
/* the residual: the same offsets from r (the y offsets with y -> r) */
#define CKS_RES_ALL                                                                      \
    "vaddps (%[r]), %%ymm0, %%ymm0\n\t" "vaddps (%[r],%[ykb]), %%ymm1, %%ymm1\n\t"         \
    "vaddps (%[r],%[ykb],2), %%ymm2, %%ymm2\n\t" "vaddps (%[r],%[ykb3]), %%ymm3, %%ymm3\n\t" \
    "vaddps 32(%[r]), %%ymm4, %%ymm4\n\t" "vaddps 32(%[r],%[ykb]), %%ymm5, %%ymm5\n\t"     \
    "vaddps 32(%[r],%[ykb],2), %%ymm6, %%ymm6\n\t" "vaddps 32(%[r],%[ykb3]), %%ymm7, %%ymm7\n\t"
#define CKS_EPI_NONE ""
#define CKS_EPI_RELU "vxorps %%ymm15, %%ymm15, %%ymm15\n\t" CKS_ALL(CKS_MAX0)
#define CKS_EPI_RELU6 CKS_EPI_RELU "vbroadcastss %[six], %%ymm14\n\t" CKS_ALL(CKS_MIN6)
#define CKS_CB_LOOP                                                                      \
    "2:\n\t"                                                                            \
    "prefetcht0 (%[xc],%[pf])\n\t"                                                      \
    "prefetcht0 64(%[xc],%[pf])\n\t"                                                    \
    CKS_C(0) CKS_C(1) CKS_C(2) CKS_C(3) CKS_C(4) CKS_C(5) CKS_C(6) CKS_C(7)             \
    "addq 8(%[k]), %[xc]\n\t"                                                           \
    "addq $1024, %[wc]\n\t"                                                             \
    "decq %[n]\n\t"                                                                     \
    "jnz 2b\n\t"
#define CKS_ROW_FAST(EPI)                                                                \
    __asm__ volatile(                                                                   \
        "1:\n\t"                                                                        \
        CKS_ALL(CKS_BIAS)                                                               \
        "movq %[x], %[xc]\n\t"                                                          \
        "movq %[w], %[wc]\n\t"                                                          \
        "movq (%[k]), %[n]\n"                                                           \
        CKS_CB_LOOP                                                                     \
        EPI                                                                             \
        CKS_ALL(CKS_STORE)                                                              \
        "addq 16(%[k]), %[x]\n\t"                                                       \
        "addq $64, %[y]\n\t"                                                            \
        "decq %[nt]\n\t"                                                                \
        "jnz 1b\n\t"                                                                    \
        : [x] "+r"(x), [y] "+r"(y), [nt] "+r"(nt), [xc] "=&r"(xc), [wc] "=&r"(wc), [n] "=&r"(n) \
        : [b] "r"(k.bias), [w] "r"(k.w), [k] "r"(&k), [ykb] "r"(ykb), [ykb3] "r"(ykb3), [pf] "r"(pf), \
          [six] "m"(k.six[0])                                                           \
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm12", "xmm14", "xmm15", \
          "cc", "memory")

#define CKD_ROW2X32_OK(p, UR, NBK, sw8, ys)                                              \
    ((UR) == 2 && (NBK) == 4 && (sw8) == 16 && (ys) == 8 && (p)->nc_last == 8 &&        \
     (p)->w_cb_stride == 256 && !(p)->reverse && (!(p)->last || (p)->act <= CK_ACT_RELU6))

static __attribute__((unused, noinline)) CKD_TARGET void
ckd_avx2_row2x32_s2(const ck_direct_ukernel_params *p) {
    const int64_t nrep = p->nrep > 1 ? p->nrep : 1, nrows = p->nrows > 1 ? p->nrows : 1;
    ckd_row_k k;
    ckd_row_k_init(&k, p, 2 * 16 * (int64_t)sizeof(float));
    const float *const x0 = p->x + (p->ih0 + p->r0 * p->dh) * p->W * 8 + p->iw0 * 8;
    const int64_t ykb = p->y_kb_stride * (int64_t)sizeof(float), ykb3 = 3 * ykb, pf = p->x_pf_bytes;
    for (int64_t row = 0; row < nrows; row++) {
        const float *x = x0 + row * p->x_row_stride;
        const float *r = p->res ? p->res + row * p->y_row_stride : p->y;
        float *y = p->y + row * p->y_row_stride;
        const float *xc, *wc, *t;
        int64_t n, nt = nrep;
        CKD_ROW_FAST_MODES(CKS_ROW_FAST, CKS_EPI_NONE, CKS_EPI_RELU, CKS_EPI_RELU6)
        __asm__ volatile(
            "1:\n\t"
            CKD_ROW_GEN_INIT(CKS_BIAS_T, CKS_ALL(CKS_ZERO), CKS_ALL(CKS_LOADY))
            CKS_CB_LOOP
            CKD_ROW_GEN_EPI(CKS_RES_ALL, CKS_ALL(CKS_MAX0), CKS_ALL(CKS_MIN6))
            CKS_ALL(CKS_STORE)
            "addq 16(%[k]), %[x]\n\t"
            "addq $64, %[y]\n\t"
            "addq $64, %[r]\n\t"
            "decq %[nt]\n\t"
            "jnz 1b\n\t"
            : [x] "+r"(x), [y] "+r"(y), [r] "+r"(r), [nt] "+r"(nt), [xc] "=&r"(xc), [wc] "=&r"(wc), [n] "=&r"(n),
              [t] "=&r"(t)
            : [k] "r"(&k), [ykb] "r"(ykb), [ykb3] "r"(ykb3), [pf] "r"(pf)
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm12", "xmm14", "xmm15", "cc",
              "memory");
    }
}

/* 1x1 interior tiles: the nrep tiles of one call in a loop around init,
 * reduction and store.  With C = 16..64 a tile's reduction is only 32-128
 * channel steps, so a function call per tile (the generic interior entry)
 * cost ~10%.  The bias pointer is laundered each tile so that the compiler
 * reloads the bias instead of keeping it in registers the accumulators
 * need. */
static inline __attribute__((always_inline)) CKD_TARGET void
ckd_avx2_1x1_tiles(const ck_direct_ukernel_params *p, const int UR, const int NBK, const int64_t sw8,
                   const int64_t ys_c) {
    if (CKD_ROW2X32_OK(p, UR, NBK, sw8, ys_c)) {
        ckd_avx2_row2x32_s2(p);
        return;
    }
    if (CKD_ROW4X16_OK(p, UR, NBK, sw8, ys_c)) {
        ckd_avx2_row4x16_s1(p);
        return;
    }
    const int64_t nrep = p->nrep > 1 ? p->nrep : 1, xstep = (int64_t)UR * sw8;
    const int64_t xcbs = p->x_cb_stride, wcbs = p->w_cb_stride, ncb = p->ncb;
    const float *const x0 = p->x + (p->ih0 + p->r0 * p->dh) * p->W * 8 + p->iw0 * 8;
    const float *const wb = p->w + p->r0 * p->w_tap_stride;
    const uintptr_t xpf = (uintptr_t)p->x_pf_bytes;
    int64_t yo[CKD_MAX_UR];
    const int64_t ys = ys_c ? ys_c : p->y_pix_stride ? p->y_pix_stride : 8;
    CKD_UNROLL_X86 for (int j = 0; j < UR; j++) yo[j] = (int64_t)j * ys;
    /* rows x tiles as one flat loop: the row change is a rare branch */
    const int64_t ntile = nrep * (p->nrows > 1 ? p->nrows : 1);
    /* descending tiles (one row only; see ck_direct_ukernel_params.reverse) */
    const int rev = p->reverse && ntile == nrep;
    const int64_t xinc = rev ? -xstep : xstep, yinc = rev ? -(int64_t)UR * ys : (int64_t)UR * ys;
    const float *x = rev ? x0 + (nrep - 1) * xstep : x0;
    float *y = rev ? p->y + (nrep - 1) * UR * ys : p->y;
    const float *res = p->res;
    int64_t row = 0;
    for (int64_t t = 0, tr = 0; t < ntile; t++, tr++, x += xinc, y += yinc) {
        if (tr == nrep) {
            row++;
            tr = 0;
            x = x0 + row * p->x_row_stride;
            y = p->y + row * p->y_row_stride;
            res = p->res ? p->res + row * p->y_row_stride : NULL;
        }
        __m256 acc[CKD_MAX_UR][CKD_MAX_NBK];
        const float *bias = p->bias;
        CKD_SCALAR_REG(bias);
        ckd_avx2_init(acc, p, UR, NBK, y, yo, bias);
        for (int64_t cb = 0; cb < ncb; cb++) {
            const int nc = cb == ncb - 1 ? (int)p->nc_last : 8;
            const float *xs = x + cb * xcbs;
            const float *ws = wb + cb * wcbs;
            if (xpf) /* integer arithmetic: the address may lie past the input (prefetches do not fault) */
                CKD_UNROLL_X86 for (int j = 0; j < UR; j++)
                    _mm_prefetch((const char *)((uintptr_t)(xs + j * sw8) + xpf), _MM_HINT_T0);
#define CKD_PX_INT(j) (xs + (j) * sw8)
            /* constant pixel strides (the int1s1 / int1s2 entries): asm
             * steps with immediate pixel offsets */
#define CKD_PXB "32"
            if (CKD_HAVE_ASM_6X2 && UR == 6 && NBK == 2 && nc == 8 && sw8 == 8) CKD_TAP_6X2_PX(xs, 8);
            else if (UR == 3 && NBK == 4 && nc == 8 && sw8 == 8) CKD_TAP_3X4_PX(xs, 8);
            else if (UR == 2 && NBK == 6 && nc == 8 && sw8 == 8) CKD_TAP_2X6_PX(xs, 8);
            else if (UR == 2 && NBK == 5 && nc == 8 && sw8 == 8) CKD_TAP_2X5_PX(xs, 8);
#undef CKD_PXB
#define CKD_PXB "64"
            else if (CKD_HAVE_ASM_6X2 && UR == 6 && NBK == 2 && nc == 8 && sw8 == 16) CKD_TAP_6X2_PX(xs, 16);
            else if (UR == 3 && NBK == 4 && nc == 8 && sw8 == 16) CKD_TAP_3X4_PX(xs, 16);
            else if (UR == 2 && NBK == 6 && nc == 8 && sw8 == 16) CKD_TAP_2X6_PX(xs, 16);
            else if (UR == 2 && NBK == 5 && nc == 8 && sw8 == 16) CKD_TAP_2X5_PX(xs, 16);
#undef CKD_PXB
            else CKD_TAP(CKD_PX_INT);
#undef CKD_PX_INT
        }
        ckd_avx2_finish(acc, p, UR, NBK, y, yo, res ? res + (rev ? nrep - 1 - tr : tr) * UR * ys : NULL);
    }
}

#define CKD_DEFINE(UR, NBK)                                                                                    \
    static CKD_TARGET __attribute__((noinline)) void ckd_int1_##UR(const ck_direct_ukernel_params *p) {         \
        ckd_avx2_1x1_tiles(p, UR, NBK, p->sw * 8, 0);                                                          \
    }                                                                                                          \
    static CKD_TARGET __attribute__((noinline)) void ckd_int1s1_##UR(const ck_direct_ukernel_params *p) {      \
        ckd_avx2_1x1_tiles(p, UR, NBK, 8, 8);                                                                  \
    }                                                                                                          \
    static CKD_TARGET __attribute__((noinline)) void ckd_int1s2_##UR(const ck_direct_ukernel_params *p) {      \
        ckd_avx2_1x1_tiles(p, UR, NBK, 16, 8);                                                                 \
    }                                                                                                          \
    static CKD_TARGET __attribute__((noinline)) void ckd_intt1_##UR(const ck_direct_ukernel_params *p) {        \
        ckd_avx2_int_tiles(p, UR, NBK, 8);                                                                     \
    }                                                                                                          \
    static CKD_TARGET __attribute__((noinline)) void ckd_intt_##UR(const ck_direct_ukernel_params *p) {         \
        ckd_avx2_int_tiles(p, UR, NBK, p->sw * 8);                                                             \
    }                                                                                                          \
    static CKD_TARGET void ckd_int_##UR(const ck_direct_ukernel_params *p) {                                   \
        if (p->S == 1 && p->r1 - p->r0 == 1) {                                                                 \
            if (p->sw == 1 && !p->y_pix_stride)                                                                \
                ckd_int1s1_##UR(p);                                                                            \
            else if (p->sw == 2 && !p->y_pix_stride)                                                           \
                ckd_int1s2_##UR(p);                                                                            \
            else                                                                                               \
                ckd_int1_##UR(p);                                                                              \
            return;                                                                                            \
        }                                                                                                      \
        if (p->sw == 1)                                                                                        \
            ckd_intt1_##UR(p);                                                                                 \
        else                                                                                                   \
            ckd_intt_##UR(p);                                                                                  \
    }                                                                                                          \
    static CKD_TARGET void ckd_gat_##UR(const ck_direct_ukernel_params *p) { ckd_avx2_gather(p, UR, NBK); }

#endif /* CKD_AVX2_TEMPLATE */

/* ------------------------------------------------------------------------ */
/* NEON template (aarch64), instantiated by the conv_direct_ukernel_*__neon.c */
/* files.  Same structure as the AVX2 one with each 8-channel block held as   */
/* two float32x4 halves: acc[j][2i + h].  Each input value is loaded as a     */
/* scalar and multiplied by element (fmla v.4s, v.4s, v.s[0]).  Register      */
/* budget (32 q registers): 2*UR*NBK accumulators + 2*NBK weights + 1 input   */
/* (6x16: 24 + 4 + 1, 12x8: 24 + 2 + 1).  NEON is baseline: no target attr.   */
/* ------------------------------------------------------------------------ */
#if defined(CKD_NEON_TEMPLATE) && defined(__aarch64__)
#include <arm_neon.h>

/* GCC does not fully unroll the UR x NBK loops by itself (clang does): without
 * the unroll, the accumulators live in memory. */
#define CKD_UNROLL _Pragma("GCC unroll 24")

static const float ckd_zeros[8] __attribute__((aligned(16))) = {0, 0, 0, 0, 0, 0, 0, 0};

/* One input channel block step of NC channels at one tap (see CKD_TAP). */
#define CKD_NEON_TAP(PX, NC)                                                            \
    do {                                                                                \
        for (int c = 0; c < (NC); c++) {                                                 \
            float32x4_t wv[2 * CKD_MAX_NBK];                                            \
            CKD_UNROLL for (int i = 0; i < 2 * NBK; i++) wv[i] = vld1q_f32(ws + (c * NBK) * 8 + i * 4); \
            CKD_UNROLL for (int j = 0; j < UR; j++) {                                              \
                const float xv = (PX(j))[c];                                            \
                CKD_UNROLL for (int i = 0; i < 2 * NBK; i++) acc[j][i] = vfmaq_n_f32(acc[j][i], wv[i], xv); \
            }                                                                           \
        }                                                                               \
    } while (0)

/* All 8 channels (the common case) with a constant trip count, else nc. */
#define CKD_NEON_TAP_ANY(PX)                                                            \
    do {                                                                                \
        if (nc == 8) CKD_NEON_TAP(PX, 8);                                               \
        else CKD_NEON_TAP(PX, nc);                                                      \
    } while (0)

static inline __attribute__((always_inline)) void
ckd_neon_body(const ck_direct_ukernel_params *p, const int UR, const int NBK, const int GATHER,
              float *const y, const float *const res, const int64_t xoff) {
    float32x4_t acc[CKD_MAX_UR][2 * CKD_MAX_NBK];
    int64_t yo[CKD_MAX_UR];
    const int64_t ykb = p->y_kb_stride;
    CKD_UNROLL for (int j = 0; j < UR; j++) yo[j] = GATHER ? p->yoff[j] : (int64_t)j * 8;
    if (p->first) {
        CKD_UNROLL for (int i = 0; i < 2 * NBK; i++) {
            const float32x4_t b = p->bias ? vld1q_f32(p->bias + i * 4) : vdupq_n_f32(0.f);
            CKD_UNROLL for (int j = 0; j < UR; j++) acc[j][i] = b;
        }
    } else {
        CKD_UNROLL for (int j = 0; j < UR; j++)
            CKD_UNROLL for (int i = 0; i < 2 * NBK; i++) acc[j][i] = vld1q_f32(y + yo[j] + (i >> 1) * ykb + (i & 1) * 4);
    }
    const int64_t W8 = p->W * 8, S = p->S, R = p->R, wrs = p->w_tap_stride;
    const int64_t xcbs = p->x_cb_stride, wcbs = p->w_cb_stride, ncb = p->ncb;
    if (!GATHER) {
        const int64_t dw8 = p->dw * 8, sw8 = p->sw * 8, dhW8 = p->dh * W8;
        const float *xb = p->x + xoff + (p->ih0 + p->r0 * p->dh) * W8 + p->iw0 * 8;
        const float *wb = p->w + p->r0 * S * wrs;
        const int64_t nr = p->r1 - p->r0;
        for (int64_t cb = 0; cb < ncb; cb++) {
            const int nc = cb == ncb - 1 ? (int)p->nc_last : 8;
            const float *xr = xb + cb * xcbs;
            const float *ws = wb + cb * wcbs;
            for (int64_t r = 0; r < nr; r++, xr += dhW8) {
                const float *xs = xr;
                for (int64_t s = 0; s < S; s++, xs += dw8, ws += wrs) {
#define CKD_PX_INT(j) (xs + (j) * sw8)
                    CKD_NEON_TAP_ANY(CKD_PX_INT);
#undef CKD_PX_INT
                }
            }
        }
    } else {
        int64_t ih[CKD_MAX_UR], iw[CKD_MAX_UR];
        CKD_UNROLL for (int j = 0; j < UR; j++) { ih[j] = p->ih[j]; iw[j] = p->iw[j]; }
        const int64_t H = p->H, W = p->W, dh = p->dh, dw = p->dw;
        for (int64_t cb = 0; cb < ncb; cb++) {
            const int nc = cb == ncb - 1 ? (int)p->nc_last : 8;
            const float *xc = p->x + cb * xcbs;
            const float *wc = p->w + cb * wcbs;
            for (int64_t r = 0; r < R; r++) {
                const float *rowp[CKD_MAX_UR];
                int rowok[CKD_MAX_UR], any = 0;
                CKD_UNROLL for (int j = 0; j < UR; j++) {
                    const int64_t iy = ih[j] + r * dh;
                    rowok[j] = iy >= 0 && iy < H;
                    rowp[j] = xc + (rowok[j] ? iy : 0) * W8;
                    any |= rowok[j];
                }
                if (!any) continue;
                const float *ws = wc + r * S * wrs;
                for (int64_t s = 0; s < S; s++, ws += wrs) {
                    const float *px[CKD_MAX_UR];
                    CKD_UNROLL for (int j = 0; j < UR; j++) {
                        const int64_t ix = iw[j] + s * dw;
                        px[j] = (rowok[j] && ix >= 0 && ix < W) ? rowp[j] + ix * 8 : ckd_zeros;
                    }
#define CKD_PX_GAT(j) (px[j])
                    CKD_NEON_TAP_ANY(CKD_PX_GAT);
#undef CKD_PX_GAT
                }
            }
        }
    }
    if (p->last) {
        if (res)
            CKD_UNROLL for (int j = 0; j < UR; j++)
                CKD_UNROLL for (int i = 0; i < 2 * NBK; i++)
                    acc[j][i] = vaddq_f32(acc[j][i], vld1q_f32(res + yo[j] + (i >> 1) * ykb + (i & 1) * 4));
        const float32x4_t zero = vdupq_n_f32(0.f);
        switch (p->act) {
        case CK_ACT_RELU:
            CKD_UNROLL for (int j = 0; j < UR; j++)
                CKD_UNROLL for (int i = 0; i < 2 * NBK; i++) acc[j][i] = vmaxnmq_f32(acc[j][i], zero);
            break;
        case CK_ACT_RELU6: {
            const float32x4_t six = vdupq_n_f32(6.f);
            CKD_UNROLL for (int j = 0; j < UR; j++)
                CKD_UNROLL for (int i = 0; i < 2 * NBK; i++) acc[j][i] = vminnmq_f32(vmaxnmq_f32(acc[j][i], zero), six);
            break;
        }
        case CK_ACT_LEAKY_RELU: {
            const float32x4_t a = vdupq_n_f32(p->alpha);
            CKD_UNROLL for (int j = 0; j < UR; j++)
                CKD_UNROLL for (int i = 0; i < 2 * NBK; i++)
                    acc[j][i] = vbslq_f32(vcltq_f32(acc[j][i], zero), vmulq_f32(acc[j][i], a), acc[j][i]);
            break;
        }
        default: break;
        }
    }
    CKD_UNROLL for (int j = 0; j < UR; j++)
        CKD_UNROLL for (int i = 0; i < 2 * NBK; i++) vst1q_f32(y + yo[j] + (i >> 1) * ykb + (i & 1) * 4, acc[j][i]);
}

/* The interior entry runs nrep tiles through a separate (not inlined) body:
 * inlining it into the tile loop let the compiler hoist loop invariants into
 * vector registers and spill accumulators (-10% on the C=3 layers). */
#define CKD_NREP_LOOP(BODYFN)                                                                                  \
    const int64_t nrep = p->nrep > 1 ? p->nrep : 1, xstep = (int64_t)p->ur * p->sw * 8;                        \
    const int64_t nrows = p->nrows > 1 ? p->nrows : 1;                                                         \
    for (int64_t row = 0; row < nrows; row++)                                                                  \
        for (int64_t t = 0; t < nrep; t++)                                                                     \
            BODYFN(p, p->y + row * p->y_row_stride + t * p->ur * 8,                                            \
                   p->res ? p->res + row * p->y_row_stride + t * p->ur * 8 : NULL,                             \
                   row * p->x_row_stride + t * xstep)

#define CKD_NEON_DEFINE(UR, NBK)                                                                               \
    static __attribute__((noinline)) void ckd_intb_##UR(const ck_direct_ukernel_params *p, float *y,           \
                                                        const float *res, int64_t xoff) {                      \
        ckd_neon_body(p, UR, NBK, 0, y, res, xoff);                                                            \
    }                                                                                                          \
    static void ckd_int_##UR(const ck_direct_ukernel_params *p) { CKD_NREP_LOOP(ckd_intb_##UR); }              \
    static void ckd_gat_##UR(const ck_direct_ukernel_params *p) { ckd_neon_body(p, UR, NBK, 1, p->y, p->res, 0); }

#endif /* CKD_NEON_TEMPLATE */

#endif
