/*
 * posdiag_plugin.h -- the posdiag vendor plugin contract, C ABI "posdiag-c-v1".
 *
 * A plugin is a shared library that exports one symbol, posdiag_plugin_entry_v1,
 * returning a table of function pointers. posdiag never loads it into the daemon:
 * posdiag-plugin-host, a child process, loads it, checks the ABI before resolving
 * anything else, and relays everything to the daemon.
 *
 * Rules (see docs/plugin-guide.md):
 *  - The ABI major version is in the symbol name; a v2 library exports
 *    posdiag_plugin_entry_v2 (and may keep exporting v1).
 *  - A minor version only appends fields at the end of a struct. Every struct
 *    starts with its size; read a field only if struct_size covers it.
 *  - Everything with meaning crosses as protobuf bytes (package
 *    posdiag.plugin.v1, proto/posdiag/plugin/v1/plugin.proto), so new fields
 *    never change this header.
 *  - A buffer is freed by the side that allocated it: the host frees nothing
 *    the plugin returns except through free_buf.
 *  - Functions return POSDIAG_OK (0) or a negative POSDIAG_E_* code.
 *  - Calls come from one thread at a time unless the manifest declares
 *    concurrency = "thread_safe".
 */
#ifndef POSDIAG_PLUGIN_H
#define POSDIAG_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POSDIAG_ABI_MAJOR 1
#define POSDIAG_ABI_MINOR 0

/* Return codes. */
#define POSDIAG_OK 0
#define POSDIAG_E_FAILED (-1)        /* generic failure; details in a log line */
#define POSDIAG_E_TIMEOUT (-2)       /* transport: the deadline passed */
#define POSDIAG_E_LINK_LOST (-3)     /* transport: the device vanished */
#define POSDIAG_E_NO_LINK (-4)       /* transport: the check has no device link */
#define POSDIAG_E_INVALID (-5)       /* an argument or a protobuf payload was invalid */
#define POSDIAG_E_UNSUPPORTED (-6)   /* the check id is not one this plugin offers */
#define POSDIAG_E_PANIC (-7)         /* the Rust SDK caught a panic */

/* Log levels of posdiag_host_api.log. */
#define POSDIAG_LOG_ERROR 1
#define POSDIAG_LOG_WARN 2
#define POSDIAG_LOG_INFO 3
#define POSDIAG_LOG_DEBUG 4

/* A byte buffer; freed by the side that allocated it. */
typedef struct posdiag_buf {
    uint8_t *ptr;
    size_t len;
} posdiag_buf;

/* What the host gives the plugin: callbacks, all taking the hctx it was given. */
typedef struct posdiag_host_api {
    uint32_t struct_size; /* sizeof(posdiag_host_api) of the host's version */
    uint32_t abi_minor;   /* the host's POSDIAG_ABI_MINOR */
    /* A log line (UTF-8, NUL-terminated); card numbers must already be masked. */
    void (*log)(void *hctx, int32_t level, const char *utf8);
    /* A progress event: an encoded posdiag.plugin.v1.Event. */
    int32_t (*emit_event)(void *hctx, const uint8_t *event_pb, size_t len);
    /* Write all of p[0..n) to the device link within timeout_ms. */
    int32_t (*transport_write)(void *hctx, const uint8_t *p, size_t n, uint32_t timeout_ms);
    /* Read 1..cap bytes into p within timeout_ms; *out_n receives the count. */
    int32_t (*transport_read)(void *hctx, uint8_t *p, size_t cap, size_t *out_n,
                              uint32_t timeout_ms);
} posdiag_host_api;

/* What the plugin exports. */
typedef struct posdiag_plugin_v1 {
    uint32_t struct_size; /* sizeof(posdiag_plugin_v1) of the plugin's version */
    uint32_t abi_major;   /* POSDIAG_ABI_MAJOR */
    uint32_t abi_minor;   /* POSDIAG_ABI_MINOR the plugin was built against */
    uint32_t reserved;    /* 0 */
    const char *plugin_id;      /* e.g. "acme.zvt"; NUL-terminated, static */
    const char *plugin_version; /* e.g. "1.4.2"; NUL-terminated, static */
    /* The plugin's encoded posdiag.plugin.v1.Descriptor (checks it offers).
       The buffer is the plugin's: release it with free_buf. */
    int32_t (*describe)(posdiag_buf *descriptor_pb);
    /* Called once. config_pb is an encoded posdiag.plugin.v1.InitRequest.
       *state receives the plugin's state, passed back to every later call.
       host and hctx stay valid until shutdown returns; the plugin calls the callbacks
       only from inside init or run_check, on the calling thread (that is how the host
       knows which device link a read or write is for). */
    int32_t (*init)(const posdiag_host_api *host, void *hctx, const uint8_t *config_pb,
                    size_t config_len, void **state);
    /* Runs one check. request_pb is an encoded posdiag.plugin.v1.CheckRequest;
       *result_pb receives an encoded posdiag.plugin.v1.CheckResult (the
       plugin's buffer: released with free_buf). */
    int32_t (*run_check)(void *state, const uint8_t *request_pb, size_t request_len,
                         posdiag_buf *result_pb);
    /* Releases a buffer this plugin returned. */
    void (*free_buf)(posdiag_buf buf);
    /* Called once before the host exits. */
    void (*shutdown)(void *state);
} posdiag_plugin_v1;

/* The one exported symbol. */
const posdiag_plugin_v1 *posdiag_plugin_entry_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* POSDIAG_PLUGIN_H */
