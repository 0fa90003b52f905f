/* The table of convolution drivers.  One line registers an algorithm; an
 * algorithm not linked in this build is NULL and reports "not implemented". */
#include "internal.h"

extern const ck_conv_algo ck_conv_algo_reference;
extern const ck_conv_algo ck_conv_algo_im2col;
extern const ck_conv_algo ck_conv_algo_direct;

const ck_conv_algo *ck_conv_algo_get(ck_algorithm id) {
    switch (id) {
    case CK_ALGO_REFERENCE: return &ck_conv_algo_reference;
    case CK_ALGO_IM2COL: return &ck_conv_algo_im2col;
    case CK_ALGO_DIRECT: return &ck_conv_algo_direct;
    default: return NULL;
    }
}
