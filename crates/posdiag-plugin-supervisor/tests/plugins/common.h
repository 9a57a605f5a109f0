/* Shared scaffolding of the test plugins: each .c file defines run_check()
 * (and optionally INIT_HOOK, ABI_MAJOR) and includes this header, which
 * exports posdiag_plugin_entry_v1 with a v1 table around it. */
#include "posdiag_plugin.h"
#include <stdlib.h>
#include <string.h>

#ifndef ABI_MAJOR
#define ABI_MAJOR POSDIAG_ABI_MAJOR
#endif
#ifndef INIT_HOOK
#define INIT_HOOK() 0
#endif

static const posdiag_host_api *g_host;
static void *g_hctx;

static int32_t run_check(void *state, const uint8_t *req, size_t n, posdiag_buf *out);

/* Hands a malloc'ed copy of p[0..n) to the host (released by t_free). */
static int32_t give(posdiag_buf *out, const uint8_t *p, size_t n) {
    out->ptr = malloc(n ? n : 1);
    if (!out->ptr) return POSDIAG_E_FAILED;
    memcpy(out->ptr, p, n);
    out->len = n;
    return POSDIAG_OK;
}

static int32_t t_describe(posdiag_buf *out) {
    /* Descriptor { id: "test.plugin" } */
    static const uint8_t d[] = {0x0a, 11, 't', 'e', 's', 't', '.', 'p', 'l', 'u', 'g', 'i', 'n'};
    return give(out, d, sizeof d);
}

static int32_t t_init(const posdiag_host_api *host, void *hctx, const uint8_t *cfg, size_t n,
                      void **state) {
    (void)cfg; (void)n;
    g_host = host;
    g_hctx = hctx;
    *state = NULL;
    return INIT_HOOK();
}

static void t_free(posdiag_buf b) { free(b.ptr); }
static void t_shutdown(void *state) { (void)state; }

static const posdiag_plugin_v1 TABLE = {
    sizeof(posdiag_plugin_v1), ABI_MAJOR, POSDIAG_ABI_MINOR, 0, "test.plugin", "0.1.0",
    t_describe, t_init, run_check, t_free, t_shutdown,
};

const posdiag_plugin_v1 *posdiag_plugin_entry_v1(void) { return &TABLE; }
