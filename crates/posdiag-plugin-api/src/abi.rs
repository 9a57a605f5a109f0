//! `#[repr(C)]` mirrors of `include/posdiag_plugin.h`, the C ABI "posdiag-c-v1": the structs,
//! the constants and the function pointer types. The header is the contract; these mirrors
//! follow it field by field, and `tests/layout.rs` compiles the header with the system C
//! compiler and fails if a size or an offset differs.
//!
//! Function pointers are `Option<…>` so that a NULL from the other side is representable
//! (the niche makes `Option<fn>` exactly pointer-sized and FFI-safe): check before calling.
//! A struct may be shorter on the other side (an older minor version): read a field only when
//! [`covers`] says that the other side's `struct_size` includes it, and never form a Rust
//! reference to the whole struct in that case.

use std::ffi::{c_char, c_void};

/// The ABI's name, as manifests declare it (`abi = "posdiag-c-v1"`).
pub const ABI_NAME: &str = "posdiag-c-v1";
/// `POSDIAG_ABI_MAJOR`: also in the entry symbol's name.
pub const POSDIAG_ABI_MAJOR: u32 = 1;
/// `POSDIAG_ABI_MINOR`: minor versions only append struct fields.
pub const POSDIAG_ABI_MINOR: u32 = 0;

/// The name of the one exported symbol, NUL-terminated for `dlsym`/libloading.
pub const ENTRY_SYMBOL_V1: &[u8] = b"posdiag_plugin_entry_v1\0";

/// Success.
pub const POSDIAG_OK: i32 = 0;
/// Generic failure; details in a log line.
pub const POSDIAG_E_FAILED: i32 = -1;
/// Transport: the deadline passed.
pub const POSDIAG_E_TIMEOUT: i32 = -2;
/// Transport: the device vanished.
pub const POSDIAG_E_LINK_LOST: i32 = -3;
/// Transport: the check has no device link.
pub const POSDIAG_E_NO_LINK: i32 = -4;
/// An argument or a protobuf payload was invalid.
pub const POSDIAG_E_INVALID: i32 = -5;
/// The check id is not one this plugin offers.
pub const POSDIAG_E_UNSUPPORTED: i32 = -6;
/// The Rust SDK caught a panic.
pub const POSDIAG_E_PANIC: i32 = -7;

/// Log level: error.
pub const POSDIAG_LOG_ERROR: i32 = 1;
/// Log level: warning.
pub const POSDIAG_LOG_WARN: i32 = 2;
/// Log level: information.
pub const POSDIAG_LOG_INFO: i32 = 3;
/// Log level: debugging detail.
pub const POSDIAG_LOG_DEBUG: i32 = 4;

/// The header's name of a return code, for log lines and error messages
/// (`"POSDIAG_E_TIMEOUT"`); `None` for a code the header does not define.
pub fn return_code_name(code: i32) -> Option<&'static str> {
    Some(match code {
        POSDIAG_OK => "POSDIAG_OK",
        POSDIAG_E_FAILED => "POSDIAG_E_FAILED",
        POSDIAG_E_TIMEOUT => "POSDIAG_E_TIMEOUT",
        POSDIAG_E_LINK_LOST => "POSDIAG_E_LINK_LOST",
        POSDIAG_E_NO_LINK => "POSDIAG_E_NO_LINK",
        POSDIAG_E_INVALID => "POSDIAG_E_INVALID",
        POSDIAG_E_UNSUPPORTED => "POSDIAG_E_UNSUPPORTED",
        POSDIAG_E_PANIC => "POSDIAG_E_PANIC",
        _ => return None,
    })
}

/// Whether a struct of `struct_size` bytes (as the other side declared it) includes the field
/// at `offset` of `size` bytes: the one test before reading a field a newer minor added.
pub const fn covers(struct_size: u32, offset: usize, size: usize) -> bool {
    // u32 → usize never truncates on the 32- and 64-bit targets posdiag supports.
    offset + size <= struct_size as usize
}

/// `posdiag_buf`: a byte buffer, freed by the side that allocated it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PosdiagBuf {
    /// The bytes; NULL when `len` is 0.
    pub ptr: *mut u8,
    /// Their number.
    pub len: usize,
}

impl PosdiagBuf {
    /// `{NULL, 0}`: what a function writes to an out-parameter before it can fail.
    pub const EMPTY: PosdiagBuf = PosdiagBuf {
        ptr: std::ptr::null_mut(),
        len: 0,
    };
}

/// `log`: a NUL-terminated UTF-8 line at a `POSDIAG_LOG_*` level.
pub type LogFn = unsafe extern "C" fn(hctx: *mut c_void, level: i32, utf8: *const c_char);
/// `emit_event`: an encoded `posdiag.plugin.v1.Event`.
pub type EmitEventFn =
    unsafe extern "C" fn(hctx: *mut c_void, event_pb: *const u8, len: usize) -> i32;
/// `transport_write`: write all of `p[0..n)` within `timeout_ms`.
pub type TransportWriteFn =
    unsafe extern "C" fn(hctx: *mut c_void, p: *const u8, n: usize, timeout_ms: u32) -> i32;
/// `transport_read`: read 1..`cap` bytes within `timeout_ms`; `*out_n` receives the count.
pub type TransportReadFn = unsafe extern "C" fn(
    hctx: *mut c_void,
    p: *mut u8,
    cap: usize,
    out_n: *mut usize,
    timeout_ms: u32,
) -> i32;

/// `posdiag_host_api`: what the host gives the plugin.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PosdiagHostApi {
    /// `sizeof(posdiag_host_api)` of the host's version.
    pub struct_size: u32,
    /// The host's `POSDIAG_ABI_MINOR`.
    pub abi_minor: u32,
    /// Log a line (card numbers already masked).
    pub log: Option<LogFn>,
    /// Send a progress event.
    pub emit_event: Option<EmitEventFn>,
    /// Write to the device link.
    pub transport_write: Option<TransportWriteFn>,
    /// Read from the device link.
    pub transport_read: Option<TransportReadFn>,
}

/// `describe`: the plugin's encoded `Descriptor` (the plugin's buffer: release with `free_buf`).
pub type DescribeFn = unsafe extern "C" fn(descriptor_pb: *mut PosdiagBuf) -> i32;
/// `init`: called once with an encoded `InitRequest`; `*state` receives the plugin's state.
pub type InitFn = unsafe extern "C" fn(
    host: *const PosdiagHostApi,
    hctx: *mut c_void,
    config_pb: *const u8,
    config_len: usize,
    state: *mut *mut c_void,
) -> i32;
/// `run_check`: an encoded `CheckRequest` in, an encoded `CheckResult` out (plugin's buffer).
pub type RunCheckFn = unsafe extern "C" fn(
    state: *mut c_void,
    request_pb: *const u8,
    request_len: usize,
    result_pb: *mut PosdiagBuf,
) -> i32;
/// `free_buf`: releases a buffer the plugin returned.
pub type FreeBufFn = unsafe extern "C" fn(buf: PosdiagBuf);
/// `shutdown`: called once before the host exits.
pub type ShutdownFn = unsafe extern "C" fn(state: *mut c_void);
/// `posdiag_plugin_entry_v1`: the one exported symbol.
pub type EntryFnV1 = unsafe extern "C" fn() -> *const PosdiagPluginV1;

/// `posdiag_plugin_v1`: what the plugin exports.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PosdiagPluginV1 {
    /// `sizeof(posdiag_plugin_v1)` of the plugin's version.
    pub struct_size: u32,
    /// [`POSDIAG_ABI_MAJOR`].
    pub abi_major: u32,
    /// The [`POSDIAG_ABI_MINOR`] the plugin was built against.
    pub abi_minor: u32,
    /// 0.
    pub reserved: u32,
    /// e.g. `"acme.zvt"`; NUL-terminated, static.
    pub plugin_id: *const c_char,
    /// e.g. `"1.4.2"`; NUL-terminated, static.
    pub plugin_version: *const c_char,
    /// See [`DescribeFn`].
    pub describe: Option<DescribeFn>,
    /// See [`InitFn`].
    pub init: Option<InitFn>,
    /// See [`RunCheckFn`].
    pub run_check: Option<RunCheckFn>,
    /// See [`FreeBufFn`].
    pub free_buf: Option<FreeBufFn>,
    /// See [`ShutdownFn`].
    pub shutdown: Option<ShutdownFn>,
}
