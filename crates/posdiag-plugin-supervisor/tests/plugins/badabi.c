/* Claims ABI major 2 through the v1 symbol. */
#define ABI_MAJOR 2
#include "common.h"
static int32_t run_check(void *s, const uint8_t *req, size_t n, posdiag_buf *out) {
    (void)s; (void)req; (void)n; (void)out;
    return 0;
}
