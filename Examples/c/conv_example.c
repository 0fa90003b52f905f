/*
 * ConvKit C API example: one 2-D convolution, start to finish.
 *
 * The 6x6 image and 3x3 filter are the worked example from the course
 * material; a "valid" (unpadded, stride 1) convolution gives a 4x4 output.
 *
 * Build against an installed ConvKit:
 *   cc conv_example.c $(pkg-config --cflags --libs convkit) -o conv_example
 */
#include <convkit.h>
#include <stdio.h>
#include <stdlib.h>

/* Print a failed call's status name and detailed message; return 1. */
static int report(const char *what, ck_status st) {
    fprintf(stderr, "%s failed: %s (%d): %s\n", what, ck_status_string(st), (int)st, ck_last_error_message());
    return 1;
}

int main(void) {
    /* Input: N=1, C=1, H=6, W=6 in NCHW (the default layout). */
    static const float image[36] = {
        1,  4,  12, 11, 0,  2,
        9,  15, 3,  0,  4,  17,
        1,  4,  8,  6,  6,  10,
        16, 10, 0,  11, 13, 6,
        0,  2,  9,  3,  0,  8,
        2,  14, 12, 5,  14, 1,
    };
    /* Weights: K=1 filter of C=1 x 3 x 3 (OIHW). */
    static const float filter[9] = {
        3, 0, 8,
        1, 5, 10,
        0, 2, 9,
    };
    static const float expected[16] = {
        293, 200, 145, 341,
        172, 248, 278, 352,
        218, 225, 263, 306,
        284, 264, 264, 201,
    };

    printf("ConvKit %s\n", ck_version());

    /* 1. Describe the convolution: unit stride and dilation, no padding. */
    ck_conv2d_desc desc = ck_conv2d_desc_init(/*n*/ 1, /*c*/ 1, /*h*/ 6, /*w*/ 6, /*k*/ 1, /*r*/ 3, /*s*/ 3);

    /* 2. The output size follows from the descriptor. */
    int64_t p = 0, q = 0;
    ck_status st = ck_conv2d_output_shape(&desc, &p, &q);
    if (st != CK_OK) return report("ck_conv2d_output_shape", st);

    /* 3. Create a plan: validates, picks an algorithm (options NULL = auto,
     *    all cores) and copies or packs the weights. */
    ck_plan *plan = NULL;
    st = ck_conv2d_plan_create(&desc, filter, /*bias*/ NULL, /*options*/ NULL, &plan);
    if (st != CK_OK) return report("ck_conv2d_plan_create", st);

    ck_algorithm algo = CK_ALGO_AUTO;
    st = ck_plan_algorithm(plan, &algo);
    if (st != CK_OK) { ck_plan_destroy(plan); return report("ck_plan_algorithm", st); }

    /* 4. Query and provide the workspace (may be 0 bytes). */
    size_t ws_bytes = 0;
    st = ck_plan_workspace_size(plan, &ws_bytes);
    if (st != CK_OK) { ck_plan_destroy(plan); return report("ck_plan_workspace_size", st); }
    void *workspace = ws_bytes ? malloc(ws_bytes) : NULL;
    if (ws_bytes && !workspace) { ck_plan_destroy(plan); fprintf(stderr, "out of memory\n"); return 1; }
    printf("output %lldx%lld, algorithm %s (%s), workspace %zu bytes\n", (long long)p, (long long)q,
           ck_algorithm_name(algo), ck_plan_impl_name(plan), ws_bytes);

    /* 5. Execute (as often as needed, from any thread, each call with its own
     *    output and workspace). */
    float out[16];
    st = ck_conv2d_execute(plan, image, out, /*residual*/ NULL, workspace, ws_bytes);
    free(workspace);
    /* 6. Destroy the plan. */
    ck_plan_destroy(plan);
    if (st != CK_OK) return report("ck_conv2d_execute", st);

    int mismatches = 0;
    for (int64_t i = 0; i < p; i++) {
        for (int64_t j = 0; j < q; j++) {
            float v = out[i * q + j];
            printf("%6.0f", (double)v);
            if (v != expected[i * q + j]) mismatches++;
        }
        printf("\n");
    }
    if (p != 4 || q != 4 || mismatches) {
        fprintf(stderr, "unexpected result (%d mismatches)\n", mismatches);
        return 1;
    }
    printf("matches the expected output\n");
    return 0;
}
