/* Development timing of one direct-convolution micro-kernel on its own (not
 * part of the library or the test suite): the 1x1 interior entry of a tile
 * family, called over and over on input, weights and output that stay in
 * L1/L2.  It separates the kernel's own efficiency (register tile, channel
 * steps, per-tile init/store) from what a whole layer adds (input and output
 * traffic from L3 or memory, pixel blocks, threads), which direct_dev
 * measures.
 *
 *   direct_ukernel_dev [--tile 4x24|6x16|4x16|12x8|3x32|2x40|2x48] [--ur N] [--cb N] [--tiles N] [--stride N] [--rounds N]
 *                      [--image HxW [--rows N] [--sweep N]] [--ycopies N]
 *
 *   --cb      input-channel blocks of 8 reduced per tile (C = 8 * cb; default 8, C = 64)
 *   --tiles   tiles side by side in one call (default 49)
 *   --stride  input pixel stride (1x1 stride-2 layers read every other pixel; default 1)
 *   --image   a 1x1 layer's geometry instead: input planes of H x W pixels, output
 *             rows of Q = (W - 1) / stride + 1 pixels (the Q / ur whole tiles of
 *             each row are run), calls of --rows output rows (default 6, the
 *             driver's pixel block on resnet18.l2.1x1s2) down the first --sweep
 *             rows (default --rows), over and over.  --sweep 6 keeps one block's
 *             input in L2 (what the 2nd..last output chunks of a block see);
 *             --sweep P streams the whole input through the cache hierarchy on
 *             every pass (what the first chunk of each block sees).
 *   --ycopies N  write each pass's output to the next of N copies of the
 *             output (default 1): with N large enough, stores go to lines no
 *             longer cached, as in a layer (resnet18.l2.1x1s2 geometry, 4x24,
 *             --sweep 6: 16 copies cost 0.6%).
 *
 * Prints GFLOPS, the fraction of the FMA peak measured in the same run, and
 * ns per tile.  Measured with --image 56x56 --stride 2 (resnet18.l2.1x1s2,
 * Zen 3, clang): 4x24 92-93% of peak with --sweep 6 and 80-85% with --sweep
 * 28; 3x32 90-93% and 80-83%; 2x48 92-94% and 86-88%; 2x40 92% and
 * 84-87%.  With --cb 8 and --cb 16, the difference of the per-tile times
 * is the cost of 8 channel blocks, and the rest is the per-tile overhead.
 * Rounds alternate with a peak measurement; the best round is reported (the
 * data is cache-resident, so the slower rounds are other load on the host).
 *
 * The output is placed 2 KiB away from the input modulo 4 KiB: with the
 * output 1-320 bytes above the input, loads of the next tile wait on the
 * previous tile's stores (4 KiB aliasing; conv_direct.c), which would halve
 * the result on some heap layouts.
 *
 * Build (from the repository root; the micro-kernels are internal):
 *   cc -O2 -ICSources/include -ICSources/core Benchmarks/c/direct_ukernel_dev.c \
 *      build/libconvkit.a -fopenmp -lopenblas -lm -o build/direct_ukernel_dev */
#define _POSIX_C_SOURCE 200809L
#include "../../CSources/kernels/conv_direct_ukernels.h"
#include "convkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const ck_direct_ukernel_set *tile_set(const char *name) {
#if defined(__x86_64__)
    if (!strcmp(name, "4x24")) return &ck_f32_conv_direct_ukernel_4x24__avx2_fma;
    if (!strcmp(name, "6x16")) return &ck_f32_conv_direct_ukernel_6x16__avx2_fma;
    if (!strcmp(name, "4x16")) return &ck_f32_conv_direct_ukernel_4x16__avx2_fma;
    if (!strcmp(name, "12x8")) return &ck_f32_conv_direct_ukernel_12x8__avx2_fma;
    if (!strcmp(name, "3x32")) return &ck_f32_conv_direct_ukernel_3x32__avx2_fma;
    if (!strcmp(name, "2x40")) return &ck_f32_conv_direct_ukernel_2x40__avx2_fma;
    if (!strcmp(name, "2x48")) return &ck_f32_conv_direct_ukernel_2x48__avx2_fma;
#elif defined(__aarch64__)
    if (!strcmp(name, "6x16")) return &ck_f32_conv_direct_ukernel_6x16__neon;
    if (!strcmp(name, "12x8")) return &ck_f32_conv_direct_ukernel_12x8__neon;
#endif
    if (!strcmp(name, "4x32")) return &ck_f32_conv_direct_ukernel_4x32__scalar;
    return NULL;
}

static long arg_long(int argc, char **argv, const char *name, long def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return strtol(argv[i + 1], NULL, 10);
    return def;
}

static const char *arg_str(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}

int main(int argc, char **argv) {
#if defined(__x86_64__)
    const char *tname = arg_str(argc, argv, "--tile", "4x24");
#else
    const char *tname = arg_str(argc, argv, "--tile", "6x16");
#endif
    const ck_direct_ukernel_set *set = tile_set(tname);
    if (!set) {
        fprintf(stderr, "unknown tile %s (4x24, 6x16, 4x16, 12x8, 3x32, 2x40, 2x48 on AVX2; 6x16, 12x8 on NEON; 4x32 scalar)\n", tname);
        return 2;
    }
    const int ur = (int)arg_long(argc, argv, "--ur", set->ur_max);
    const int64_t ncb = arg_long(argc, argv, "--cb", 8), ntile = arg_long(argc, argv, "--tiles", 49),
                  sw = arg_long(argc, argv, "--stride", 1);
    const int rounds = (int)arg_long(argc, argv, "--rounds", 7);
    const int64_t ycopies = arg_long(argc, argv, "--ycopies", 1);
    if (ur < 1 || ur > set->ur_max || ncb < 1 || ncb > 256 || ntile < 1 || ntile > 4096 || sw < 1 || sw > 4 ||
        rounds < 1 || ycopies < 1 || ycopies > 64) {
        fprintf(stderr, "out of range: --ur 1..%d, --cb 1..256, --tiles 1..4096, --stride 1..4, --rounds >= 1, --ycopies 1..64\n",
                set->ur_max);
        return 2;
    }
    const int nbk = set->nbk;
    /* --image: a 1x1 layer's planes (H x W input, P x Q output); else one
     * row of ntile tiles */
    const char *image = arg_str(argc, argv, "--image", NULL);
    int64_t H = 1, W = ntile * ur * sw, P = 1, Q = ntile * ur, rows = 1, sweep = 1, tiles_row = ntile;
    if (image) {
        long ih = 0, iw = 0;
        if (sscanf(image, "%ldx%ld", &ih, &iw) != 2 || ih < 1 || iw < 1 || ih > 4096 || iw > 4096) {
            fprintf(stderr, "--image wants HxW (1..4096 each), e.g. 56x56\n");
            return 2;
        }
        H = ih;
        W = iw;
        P = (H - 1) / sw + 1;
        Q = (W - 1) / sw + 1;
        tiles_row = Q / ur;
        rows = arg_long(argc, argv, "--rows", 6);
        sweep = arg_long(argc, argv, "--sweep", rows);
        if (tiles_row < 1 || rows < 1 || rows > P || sweep < 1 || sweep > P) {
            fprintf(stderr, "out of range: the output rows (%lld pixels) need >= ur pixels, --rows and --sweep 1..%lld\n",
                    (long long)Q, (long long)P);
            return 2;
        }
    }
    const int64_t xcbs = H * W * 8, ycbs = P * Q * 8;
    const int64_t xn = ncb * xcbs, yn = nbk * ycbs, wn = ncb * 64 * nbk;
    /* one allocation: x, then y at 2 KiB modulo 4 KiB from x */
    const int64_t yoff = (xn + 1023) / 1024 * 1024 + 512; /* floats: 4 KiB multiple + 2 KiB */
    float *buf = ck_malloc((size_t)(yoff + yn * ycopies) * sizeof(float));
    float *w = ck_malloc((size_t)wn * sizeof(float));
    float *bias = ck_malloc((size_t)nbk * 8 * sizeof(float));
    if (!buf || !w || !bias) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    float *x = buf, *y = buf + yoff;
    for (int64_t i = 0; i < xn; i++) x[i] = 0.001f * (float)(i % 13);
    for (int64_t i = 0; i < wn; i++) w[i] = 0.001f * (float)(i % 7);
    for (int i = 0; i < nbk * 8; i++) bias[i] = 0.01f * (float)i;

    ck_direct_ukernel_params p;
    memset(&p, 0, sizeof p);
    p.x = x; p.w = w; p.y = y; p.bias = bias;
    p.ncb = ncb; p.nc_last = 8;
    p.x_cb_stride = xcbs; p.w_cb_stride = 64 * nbk; p.w_tap_stride = 64 * nbk; p.y_kb_stride = ycbs;
    p.H = H; p.W = W; p.R = 1; p.S = 1; p.sw = sw; p.dh = 1; p.dw = 1;
    p.r0 = 0; p.r1 = 1; p.nrep = tiles_row;
    p.x_row_stride = sw * W * 8; p.y_row_stride = Q * 8;
    p.first = 1; p.last = 1; p.act = CK_ACT_RELU;
    p.nbk = nbk; p.ur = ur;

    /* a pass: the calls down the first sweep rows (one call without --image) */
    const int64_t pass_tiles = sweep * tiles_row;
    const int64_t passes = 2000000 / (pass_tiles * ncb) + 1;
    const double flops = 2.0 * (double)passes * (double)pass_tiles * ur * nbk * 8 * (double)ncb * 8;
    double best = 1e30, peak = 0;
    for (int r = 0; r < rounds; r++) {
        double pk = 0;
        ck_measure_fma_peak(1, 0.05, &pk);
        if (pk > peak) peak = pk;
        const double t0 = now();
        for (int64_t i = 0; i < passes; i++)
            for (int64_t r = 0; r < sweep; r += rows) {
                p.x = x + r * sw * W * 8;
                p.y = y + (i % ycopies) * yn + r * Q * 8;
                p.nrows = sweep - r < rows ? sweep - r : rows;
                set->interior[ur](&p);
            }
        const double t = now() - t0;
        if (t < best) best = t;
    }
    const double gf = flops / best * 1e-9;
    if (image)
        printf("%s ur %d, C = %lld (%lld blocks), image %lldx%lld, %lld tiles a row, %lld rows a call, %lld rows "
               "swept, stride %lld: ",
               set->name, ur, (long long)(ncb * 8), (long long)ncb, (long long)H, (long long)W, (long long)tiles_row,
               (long long)rows, (long long)sweep, (long long)sw);
    else
        printf("%s ur %d, C = %lld (%lld blocks), %lld tiles a call, stride %lld: ", set->name, ur,
               (long long)(ncb * 8), (long long)ncb, (long long)ntile, (long long)sw);
    printf("%.1f GFLOPS, %.1f%% of the FMA peak (%.1f), %.1f ns a tile\n", gf, 100.0 * gf / peak, peak,
           best / (double)passes / (double)pass_tiles * 1e9);
    ck_free(buf);
    ck_free(w);
    ck_free(bias);
    return 0;
}
