/* Crashes in init(), so every start fails: restart, then quarantine. */
#define INIT_HOOK() (abort(), 0)
#include "common.h"
static int32_t run_check(void *s, const uint8_t *req, size_t n, posdiag_buf *out) {
    (void)s; (void)req; (void)n; (void)out;
    return 0;
}
