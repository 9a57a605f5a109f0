/* Allocates and touches memory without bound; aborts when malloc fails. */
#include "common.h"
static int32_t run_check(void *s, const uint8_t *req, size_t n, posdiag_buf *out) {
    (void)s; (void)req; (void)n; (void)out;
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) abort();
        memset(p, 1, 1 << 20);
    }
}
