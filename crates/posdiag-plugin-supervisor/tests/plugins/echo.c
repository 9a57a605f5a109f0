/* Talks to the device through the daemon: logs, emits an event, writes
 * "ping", reads the answer and returns it as the finding's check name.
 * Transport errors are returned as the check's error code. */
#include "common.h"
static int32_t run_check(void *s, const uint8_t *req, size_t n, posdiag_buf *out) {
    (void)s; (void)req; (void)n;
    g_host->log(g_hctx, POSDIAG_LOG_INFO, "echo: writing ping");
    /* Event { metric: { name: "m" } } */
    static const uint8_t ev[] = {0x1a, 3, 0x0a, 1, 'm'};
    g_host->emit_event(g_hctx, ev, sizeof ev);
    int32_t rc = g_host->transport_write(g_hctx, (const uint8_t *)"ping", 4, 100);
    if (rc != POSDIAG_OK) return rc;
    uint8_t buf[32];
    size_t got = 0;
    rc = g_host->transport_read(g_hctx, buf, sizeof buf, &got, 100);
    if (rc != POSDIAG_OK) return rc;
    uint8_t r[4 + sizeof buf];
    r[0] = 0x0a; r[1] = (uint8_t)(2 + got); r[2] = 0x0a; r[3] = (uint8_t)got;
    memcpy(r + 4, buf, got);
    return give(out, r, 4 + got);
}
