/* Answers 64 MiB, far over the frame limit. */
#include "common.h"
static int32_t run_check(void *s, const uint8_t *req, size_t n, posdiag_buf *out) {
    (void)s; (void)req; (void)n;
    size_t len = (size_t)64 << 20;
    out->ptr = calloc(len, 1);
    if (!out->ptr) return POSDIAG_E_FAILED;
    out->len = len;
    return POSDIAG_OK;
}
