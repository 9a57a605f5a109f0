/* Spins forever. */
#include "common.h"
static int32_t run_check(void *s, const uint8_t *req, size_t n, posdiag_buf *out) {
    (void)s; (void)req; (void)n; (void)out;
    for (volatile unsigned long i = 0;; i++) {}
    return 0;
}
