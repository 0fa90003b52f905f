/* The table of convolution drivers.  One line registers an algorithm. */
#include "internal.h"

extern const ck_conv_algo ck_conv_algo_reference;
extern const ck_conv_algo ck_conv_algo_im2col;
extern const ck_conv_algo ck_conv_algo_direct;
extern const ck_conv_algo ck_conv_algo_winograd_f2;
extern const ck_conv_algo ck_conv_algo_winograd_f4;
extern const ck_conv_algo ck_conv_algo_winograd_f6;
extern const ck_conv_algo ck_conv_algo_depthwise;

const ck_conv_algo *ck_conv_algo_get(ck_algorithm id) {
    switch (id) {
    case CK_ALGO_REFERENCE: return &ck_conv_algo_reference;
    case CK_ALGO_IM2COL: return &ck_conv_algo_im2col;
    case CK_ALGO_DIRECT: return &ck_conv_algo_direct;
    case CK_ALGO_WINOGRAD_F2: return &ck_conv_algo_winograd_f2;
    case CK_ALGO_WINOGRAD_F4: return &ck_conv_algo_winograd_f4;
    case CK_ALGO_WINOGRAD_F6: return &ck_conv_algo_winograd_f6;
    case CK_ALGO_DEPTHWISE: return &ck_conv_algo_depthwise;
    default: return NULL;
    }
}
