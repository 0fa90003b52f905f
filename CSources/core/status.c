/* Status codes, per-thread error messages. */
#include "internal.h"
#include <stdio.h>
#include <string.h>

static _Thread_local char ck_tls_msg[512];

const char *ck_status_string(ck_status s) {
    switch (s) {
    case CK_OK: return "success";
    case CK_ERR_NULL_POINTER: return "null pointer argument";
    case CK_ERR_INVALID_SHAPE: return "invalid shape (a dimension is < 1)";
    case CK_ERR_INVALID_STRIDE: return "invalid stride (must be >= 1)";
    case CK_ERR_INVALID_PADDING: return "invalid padding";
    case CK_ERR_INVALID_DILATION: return "invalid dilation (must be >= 1)";
    case CK_ERR_INVALID_GROUPS: return "invalid groups (channels not divisible by groups)";
    case CK_ERR_EMPTY_OUTPUT: return "output size is zero or negative";
    case CK_ERR_SIZE_OVERFLOW: return "size overflow";
    case CK_ERR_INVALID_LAYOUT: return "invalid or unsupported layout";
    case CK_ERR_INVALID_ARGUMENT: return "invalid argument";
    case CK_ERR_UNSUPPORTED_ALGORITHM: return "algorithm cannot serve this request";
    case CK_ERR_UNSUPPORTED_ISA: return "required instruction set not available";
    case CK_ERR_UNSUPPORTED: return "unsupported request";
    case CK_ERR_OUT_OF_MEMORY: return "out of memory";
    case CK_ERR_INSUFFICIENT_WORKSPACE: return "insufficient workspace";
    case CK_ERR_WORKSPACE_LIMIT: return "workspace limit exceeded";
    case CK_ERR_INTERNAL: return "internal error";
    }
    return "unknown status code";
}

const char *ck_last_error_message(void) { return ck_tls_msg; }

void ck_clear_error(void) { ck_tls_msg[0] = 0; }

ck_status ck_fail(ck_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ck_tls_msg, sizeof ck_tls_msg, fmt, ap);
    va_end(ap);
    return st;
}
