/*
 * posdiag_example.c -- example posdiag vendor plugin in plain C ("example.c"), written
 * against include/posdiag_plugin.h only (no SDK, no protobuf library).
 *
 * Check "example.zvt_ack": over a ZVT TCP link (raw APDUs), send a status enquiry
 * 05 01 03 00 00 00, time the terminal's acknowledgement 80 00 00, then finish the exchange
 * properly (acknowledge every message with 80 00 00 until the completion 06 0F or the abort
 * 06 1E) so that nothing is left on the link for the next check. The finding reports the
 * round trip and, when the completion carries it, the terminal status byte.
 *
 * Build (plugins/assemble.sh does this):
 *   cc -shared -fPIC -O2 -Icrates/posdiag-plugin-api/include \
 *      -o libposdiag_example_c.so plugins/example-c/posdiag_example.c
 *
 * Protobuf without a library: the plugin hand-encodes its Descriptor and CheckResult with
 * the tiny writer below (varints and length-delimited fields are all proto3 needs here) and
 * hand-decodes the few CheckRequest fields it uses, skipping every other field, as proto3
 * requires of a reader (unknown fields are ignored).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "posdiag_plugin.h"

#define PLUGIN_ID "example.c"
#define PLUGIN_VERSION "0.1.0"
#define CHECK_ID "example.zvt_ack"
#define DEFAULT_TIMEOUT_MS 5000u

/* Whether the host's posdiag_host_api (of its struct_size) includes `field`: test this
   before reading any field, since an older host's struct may be shorter than ours. */
#define HOST_HAS(api, field) \
    ((size_t)(api)->struct_size >= offsetof(posdiag_host_api, field) + sizeof((api)->field))

/* ---- A minimal protobuf writer ---------------------------------------------------------
 * Wire format: each field is a key varint (field_number << 3 | wire_type) then its value:
 * wire type 0 = varint, 1 = 8 bytes little-endian (double), 2 = length varint + bytes
 * (strings, bytes, embedded messages). proto3 omits fields with default values. */

typedef struct pbw {
    uint8_t *p;
    size_t len, cap;
    int failed; /* set on out-of-memory; every later write is a no-op */
} pbw;

static void pbw_raw(pbw *w, const void *data, size_t n) {
    if (w->failed || n == 0) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->len + n) cap *= 2;
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->failed = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void pbw_varint(pbw *w, uint64_t v) {
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v);
    pbw_raw(w, b, n);
}

static void pbw_key(pbw *w, uint32_t field, uint32_t wire_type) {
    pbw_varint(w, ((uint64_t)field << 3) | wire_type);
}

static void pbw_uint(pbw *w, uint32_t field, uint64_t v) {
    if (v == 0) return;
    pbw_key(w, field, 0);
    pbw_varint(w, v);
}

static void pbw_bytes(pbw *w, uint32_t field, const void *data, size_t n) {
    pbw_key(w, field, 2);
    pbw_varint(w, n);
    pbw_raw(w, data, n);
}

static void pbw_string(pbw *w, uint32_t field, const char *s) {
    if (s && *s) pbw_bytes(w, field, s, strlen(s));
}

static void pbw_double(pbw *w, uint32_t field, double v) {
    uint64_t bits;
    uint8_t b[8];
    memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bits >> (8 * i));
    pbw_key(w, field, 1);
    pbw_raw(w, b, 8);
}

/* Appends `sub` as an embedded message and releases it. */
static void pbw_message(pbw *w, uint32_t field, pbw *sub) {
    if (sub->failed) w->failed = 1;
    pbw_bytes(w, field, sub->p, sub->len);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}

/* Hands the bytes to the host as a posdiag_buf (released by example_free_buf). */
static int32_t pbw_finish(pbw *w, posdiag_buf *out) {
    if (w->failed) {
        free(w->p);
        return POSDIAG_E_FAILED;
    }
    out->ptr = w->p;
    out->len = w->len;
    return POSDIAG_OK;
}

/* ---- A minimal protobuf reader for CheckRequest ---------------------------------------- */

typedef struct check_request {
    char check[64];
    char terminal_id[64];
    char link_kind[16];
    uint32_t timeout_ms;
} check_request;

static int pbr_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

/* Copies a string field, truncated to the buffer (ids longer than that are not ours). */
static void copy_field(char *dst, size_t cap, const uint8_t *src, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int decode_check_request(const uint8_t *p, size_t len, check_request *req) {
    const uint8_t *end = p + len;
    memset(req, 0, sizeof *req);
    while (p < end) {
        uint64_t key, v;
        if (pbr_varint(&p, end, &key)) return -1;
        uint32_t field = (uint32_t)(key >> 3);
        switch (key & 7) {
        case 0:
            if (pbr_varint(&p, end, &v)) return -1;
            if (field == 7) req->timeout_ms = (uint32_t)v;
            break;
        case 1:
            if ((size_t)(end - p) < 8) return -1;
            p += 8;
            break;
        case 2:
            if (pbr_varint(&p, end, &v) || v > (uint64_t)(end - p)) return -1;
            if (field == 1) copy_field(req->check, sizeof req->check, p, (size_t)v);
            if (field == 2) copy_field(req->terminal_id, sizeof req->terminal_id, p, (size_t)v);
            if (field == 5) copy_field(req->link_kind, sizeof req->link_kind, p, (size_t)v);
            p += v;
            break;
        case 5:
            if ((size_t)(end - p) < 4) return -1;
            p += 4;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* ---- The plugin ------------------------------------------------------------------------ */

/* The callbacks copied from the host (NULL where its struct_size does not reach). */
typedef struct example_state {
    void *hctx;
    void (*log)(void *, int32_t, const char *);
    int32_t (*transport_write)(void *, const uint8_t *, size_t, uint32_t);
    int32_t (*transport_read)(void *, uint8_t *, size_t, size_t *, uint32_t);
} example_state;

static void logf_(const example_state *st, int32_t level, const char *fmt, const char *arg) {
    char line[256];
    if (!st->log) return;
    snprintf(line, sizeof line, fmt, arg);
    st->log(st->hctx, level, line);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Microseconds, for a round trip finer than the millisecond deadlines. */
static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t left_ms(uint64_t deadline) {
    uint64_t now = now_ms();
    return now >= deadline ? 0 : (uint32_t)(deadline - now);
}

/* Reads exactly n bytes before the deadline; POSDIAG_OK or the transport's code. */
static int32_t read_exact(const example_state *st, uint8_t *p, size_t n, uint64_t deadline) {
    while (n > 0) {
        uint32_t left = left_ms(deadline);
        size_t got = 0;
        if (left == 0) return POSDIAG_E_TIMEOUT;
        int32_t rc = st->transport_read(st->hctx, p, n, &got, left);
        if (rc != POSDIAG_OK) return rc;
        if (got > n) return POSDIAG_E_FAILED; /* a broken host */
        p += got;
        n -= got;
    }
    return POSDIAG_OK;
}

/* One APDU: class, instr, and up to sizeof data bytes of its data (the rest is skipped). */
typedef struct apdu {
    uint8_t class_, instr;
    uint8_t data[256];
    size_t len;
} apdu;

static int32_t read_apdu(const example_state *st, apdu *a, uint64_t deadline) {
    uint8_t h[3];
    int32_t rc = read_exact(st, h, 3, deadline);
    if (rc) return rc;
    a->class_ = h[0];
    a->instr = h[1];
    size_t len = h[2];
    if (len == 0xFF) { /* extended length: two more bytes, little-endian */
        uint8_t l[2];
        if ((rc = read_exact(st, l, 2, deadline))) return rc;
        len = (size_t)l[0] | ((size_t)l[1] << 8);
    }
    a->len = len < sizeof a->data ? len : sizeof a->data;
    if ((rc = read_exact(st, a->data, a->len, deadline))) return rc;
    for (size_t skipped = a->len; skipped < len;) {
        uint8_t sink[64];
        size_t n = len - skipped < sizeof sink ? len - skipped : sizeof sink;
        if ((rc = read_exact(st, sink, n, deadline))) return rc;
        skipped += n;
    }
    return POSDIAG_OK;
}

/* The terminal status byte of a status-enquiry completion: after the software version as
   LLLVAR (three bytes F0..F9 giving its length). -1 if absent. */
static int completion_status(const apdu *a) {
    if (a->len < 4) return -1;
    size_t vlen = 0;
    for (int i = 0; i < 3; i++) {
        if ((a->data[i] & 0xF0) != 0xF0 || (a->data[i] & 0x0F) > 9) return -1;
        vlen = vlen * 10 + (a->data[i] & 0x0F);
    }
    return 3 + vlen < a->len ? a->data[3 + vlen] : -1;
}

enum { VERDICT_OK = 1, VERDICT_WARNING = 2, VERDICT_CRITICAL = 3 };

static int32_t example_describe(posdiag_buf *out) {
    pbw check = {0}, d = {0};
    if (!out) return POSDIAG_E_INVALID;
    out->ptr = NULL;
    out->len = 0;
    pbw_string(&check, 1, CHECK_ID);
    pbw_string(&check, 2, "Times the terminal's acknowledgement of a ZVT status enquiry over TCP");
    pbw_string(&check, 3, "测量终端通过 TCP 确认 ZVT 状态查询的往返时间");
    pbw_uint(&check, 4, 1); /* needs_link */
    pbw_string(&d, 1, PLUGIN_ID);
    pbw_string(&d, 2, PLUGIN_VERSION);
    pbw_message(&d, 3, &check);
    return pbw_finish(&d, out);
}

static int32_t example_init(const posdiag_host_api *host, void *hctx, const uint8_t *config_pb,
                            size_t config_len, void **state) {
    (void)config_pb; /* this plugin has no settings */
    (void)config_len;
    if (!state) return POSDIAG_E_INVALID;
    *state = NULL;
    if (!host || host->struct_size < 8) return POSDIAG_E_INVALID;
    example_state *st = calloc(1, sizeof *st);
    if (!st) return POSDIAG_E_FAILED;
    st->hctx = hctx;
    if (HOST_HAS(host, log)) st->log = host->log;
    if (HOST_HAS(host, transport_write)) st->transport_write = host->transport_write;
    if (HOST_HAS(host, transport_read)) st->transport_read = host->transport_read;
    *state = st;
    logf_(st, POSDIAG_LOG_DEBUG, "%s ready", PLUGIN_ID);
    return POSDIAG_OK;
}

/* Encodes the one finding of the result. */
static int32_t write_result(const check_request *req, int verdict, const char *reason,
                            const char *en, const char *zh, double rtt_ms, int status,
                            posdiag_buf *out) {
    pbw f = {0}, ev = {0}, result = {0};
    char subject[96];
    snprintf(subject, sizeof subject, "terminal %s", req->terminal_id);
    pbw_string(&f, 1, CHECK_ID);
    pbw_uint(&f, 2, (uint64_t)verdict);
    pbw_string(&f, 3, reason);
    pbw_string(&f, 4, en);
    pbw_string(&f, 5, zh);
    if (rtt_ms >= 0) { /* Evidence{name=1, number=2, unit=5} */
        pbw_string(&ev, 1, "round_trip");
        pbw_double(&ev, 2, rtt_ms);
        pbw_string(&ev, 5, "ms");
        pbw_message(&f, 6, &ev);
    }
    if (status >= 0) {
        pbw_string(&ev, 1, "terminal_status");
        pbw_double(&ev, 2, (double)status);
        pbw_message(&f, 6, &ev);
    }
    pbw_string(&f, 8, subject);
    pbw_message(&result, 1, &f); /* CheckResult.findings */
    return pbw_finish(&result, out);
}

/* A finding for a transport failure. */
static int32_t transport_finding(const check_request *req, int32_t rc, double rtt_ms,
                                 posdiag_buf *out) {
    if (rc == POSDIAG_E_TIMEOUT)
        return write_result(req, VERDICT_CRITICAL, "link.no_answer",
                            "the terminal did not answer the status enquiry in time",
                            "终端没有在时限内应答状态查询", rtt_ms, -1, out);
    if (rc == POSDIAG_E_LINK_LOST)
        return write_result(req, VERDICT_CRITICAL, "link.lost",
                            "the terminal's link disappeared during the status enquiry",
                            "终端连接在状态查询过程中消失", rtt_ms, -1, out);
    return write_result(req, VERDICT_CRITICAL, "link.error",
                        "the link to the terminal failed during the status enquiry",
                        "与终端的连接在状态查询过程中失败", rtt_ms, -1, out);
}

static int32_t example_run_check(void *state, const uint8_t *request_pb, size_t request_len,
                                 posdiag_buf *result_pb) {
    static const uint8_t enquiry[] = {0x05, 0x01, 0x03, 0x00, 0x00, 0x00};
    static const uint8_t ack[] = {0x80, 0x00, 0x00};
    example_state *st = state;
    check_request req;
    apdu a;
    if (!st || !result_pb || (!request_pb && request_len)) return POSDIAG_E_INVALID;
    result_pb->ptr = NULL;
    result_pb->len = 0;
    if (decode_check_request(request_pb, request_len, &req)) {
        logf_(st, POSDIAG_LOG_ERROR, "%s: the CheckRequest does not decode", PLUGIN_ID);
        return POSDIAG_E_INVALID;
    }
    if (strcmp(req.check, CHECK_ID) != 0) return POSDIAG_E_UNSUPPORTED;
    if (strcmp(req.link_kind, "tcp") != 0 || !st->transport_write || !st->transport_read) {
        logf_(st, POSDIAG_LOG_WARN, CHECK_ID " needs a tcp link, not %s", req.link_kind);
        return POSDIAG_E_NO_LINK;
    }
    uint64_t start_us = now_us();
    uint64_t deadline = now_ms() + (req.timeout_ms ? req.timeout_ms : DEFAULT_TIMEOUT_MS);

    int32_t rc = st->transport_write(st->hctx, enquiry, sizeof enquiry, left_ms(deadline));
    if (rc) return transport_finding(&req, rc, -1, result_pb);
    if ((rc = read_apdu(st, &a, deadline))) return transport_finding(&req, rc, -1, result_pb);
    double rtt = (double)(now_us() - start_us) / 1000.0;

    if (a.class_ == 0x84) {
        char en[96], zh[96];
        snprintf(en, sizeof en, "the terminal refused the status enquiry (NAK 0x%02X)", a.instr);
        snprintf(zh, sizeof zh, "终端拒绝了状态查询（NAK 0x%02X）", a.instr);
        return write_result(&req, VERDICT_WARNING, "vendor.example.c.refused", en, zh, rtt, -1,
                            result_pb);
    }
    /* Some terminals skip 80 00 00 and answer at once: then `a` is already a message. */
    int status = -1, have_message = !(a.class_ == 0x80 && a.instr == 0x00);
    for (;;) {
        if (!have_message && (rc = read_apdu(st, &a, deadline)))
            return transport_finding(&req, rc, rtt, result_pb);
        have_message = 0;
        if ((rc = st->transport_write(st->hctx, ack, sizeof ack, left_ms(deadline))))
            return transport_finding(&req, rc, rtt, result_pb);
        if (a.class_ == 0x06 && a.instr == 0x0F) {
            status = completion_status(&a);
            break;
        }
        if (a.class_ == 0x06 && a.instr == 0x1E) {
            char en[96], zh[96];
            int code = a.len ? a.data[0] : 0xFF;
            snprintf(en, sizeof en, "the terminal aborted the status enquiry (result 0x%02X)", code);
            snprintf(zh, sizeof zh, "终端中止了状态查询（结果码 0x%02X）", code);
            return write_result(&req, VERDICT_WARNING, "vendor.example.c.aborted", en, zh, rtt, -1,
                                result_pb);
        }
    }
    char en[128], zh[128];
    snprintf(en, sizeof en, "the terminal acknowledged the status enquiry in %.1f ms", rtt);
    snprintf(zh, sizeof zh, "终端在 %.1f 毫秒内确认了状态查询", rtt);
    return write_result(&req, VERDICT_OK, "ok", en, zh, rtt, status, result_pb);
}

static void example_free_buf(posdiag_buf buf) {
    free(buf.ptr); /* every buffer this plugin returns comes from pbw_raw's realloc */
}

static void example_shutdown(void *state) {
    free(state);
}

static const posdiag_plugin_v1 table = {
    .struct_size = sizeof(posdiag_plugin_v1),
    .abi_major = POSDIAG_ABI_MAJOR,
    .abi_minor = POSDIAG_ABI_MINOR,
    .reserved = 0,
    .plugin_id = PLUGIN_ID,
    .plugin_version = PLUGIN_VERSION,
    .describe = example_describe,
    .init = example_init,
    .run_check = example_run_check,
    .free_buf = example_free_buf,
    .shutdown = example_shutdown,
};

const posdiag_plugin_v1 *posdiag_plugin_entry_v1(void) {
    return &table;
}
