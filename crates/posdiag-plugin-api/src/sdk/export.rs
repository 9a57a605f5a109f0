//! The exported side of [`export_plugin!`](crate::export_plugin): the `extern "C"` functions
//! of the plugin table, generic over the vendor's [`Plugin`], and the static table itself.
//!
//! Every function here catches panics (a panic must never unwind into the C host), checks
//! its pointers before use, writes `{NULL, 0}` to an out-buffer before anything can fail, and
//! returns `POSDIAG_OK` or a negative `POSDIAG_E_*` code.

use std::any::Any;
use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError};

use prost::Message as _;

use super::{Host, Plugin};
use crate::abi::{self, PosdiagBuf, PosdiagHostApi, PosdiagPluginV1};
use crate::pb;

/// The id and version given to [`export_plugin!`](crate::export_plugin).
pub trait Identity: Plugin {
    /// The plugin id, as in the manifest.
    const ID: &'static str;
    /// The plugin version.
    const VERSION: &'static str;
}

/// `s` followed by a NUL byte, for the table's C strings; `N` must be `s.len() + 1`.
/// Evaluated at compile time, so a bad id or an inner NUL is a build error.
pub const fn nul_terminated<const N: usize>(s: &str, is_id: bool) -> [u8; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() + 1 == N, "length mismatch");
    assert!(
        !bytes.is_empty(),
        "the plugin id and version must not be empty"
    );
    let mut out = [0u8; N];
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        assert!(
            b != 0,
            "the plugin id and version must not contain a NUL byte"
        );
        if is_id {
            assert!(
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-',
                "the plugin id may only hold a-z, 0-9, '.', '_' and '-', e.g. \"acme.zvt\""
            );
        }
        out[i] = b;
        i += 1;
    }
    out
}

/// The plugin table in a `static`.
#[derive(Debug)]
#[repr(transparent)]
pub struct Table(PosdiagPluginV1);

// SAFETY: the table is never mutated after its constant initialisation; its pointers lead to
// immutable statics (the id and version strings) and to functions, which any thread may read.
unsafe impl Sync for Table {}

impl Table {
    /// The table for `P`, with the NUL-terminated id and version from
    /// [`nul_terminated`].
    pub const fn new<P: Identity>(id: &'static [u8], version: &'static [u8]) -> Table {
        Table(PosdiagPluginV1 {
            // The struct is a few dozen bytes: it fits in a u32.
            struct_size: size_of::<PosdiagPluginV1>() as u32,
            abi_major: abi::POSDIAG_ABI_MAJOR,
            abi_minor: abi::POSDIAG_ABI_MINOR,
            reserved: 0,
            plugin_id: id.as_ptr().cast::<c_char>(),
            plugin_version: version.as_ptr().cast::<c_char>(),
            describe: Some(describe::<P>),
            init: Some(init::<P>),
            run_check: Some(run_check::<P>),
            free_buf: Some(free_buf),
            shutdown: Some(shutdown::<P>),
        })
    }

    /// The pointer `posdiag_plugin_entry_v1` returns.
    pub const fn as_ptr(&'static self) -> *const PosdiagPluginV1 {
        &raw const self.0
    }
}

/// What `init` hands the host as `*state`.
struct State<P> {
    inner: Mutex<Inner<P>>,
}

struct Inner<P> {
    plugin: P,
    host: Host,
    /// The descriptor's check ids, to refuse others before the plugin runs.
    checks: Vec<String>,
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

/// Runs `f`, turning a panic into `POSDIAG_E_PANIC` and an error log line on `host`.
fn guarded<T>(
    host: Option<&Host>,
    what: &str,
    f: impl FnOnce() -> Result<T, i32>,
) -> Result<T, i32> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            if let Some(host) = host {
                // The log call may panic too (a Rust backend); nothing may escape.
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    host.error(&format!(
                        "plugin panicked in {what}: {}",
                        panic_message(&*payload)
                    ));
                }));
            }
            // Dropping a payload can itself panic; leaking a few bytes cannot.
            std::mem::forget(payload);
            Err(abi::POSDIAG_E_PANIC)
        }
    }
}

fn code_of(result: Result<(), i32>) -> i32 {
    result.err().unwrap_or(abi::POSDIAG_OK)
}

/// Moves `bytes` to the host as a buffer that [`free_buf`] releases.
fn into_buf(bytes: Vec<u8>) -> PosdiagBuf {
    if bytes.is_empty() {
        return PosdiagBuf::EMPTY;
    }
    let boxed: Box<[u8]> = bytes.into_boxed_slice();
    let len = boxed.len();
    PosdiagBuf {
        ptr: Box::into_raw(boxed).cast::<u8>(),
        len,
    }
}

/// The bytes of an input payload; `None` if the pointer is NULL with a non-zero length.
///
/// # Safety
/// A non-NULL `ptr` is valid for reads of `len` bytes until the exported call returns.
unsafe fn input<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        Some(&[])
    } else if ptr.is_null() {
        None
    } else {
        // SAFETY: non-NULL, and the caller guarantees `len` readable bytes for the call.
        Some(unsafe { std::slice::from_raw_parts(ptr, len) })
    }
}

/// `describe`.
unsafe extern "C" fn describe<P: Identity>(descriptor_pb: *mut PosdiagBuf) -> i32 {
    if descriptor_pb.is_null() {
        return abi::POSDIAG_E_INVALID;
    }
    // SAFETY: non-NULL; the host passes a writable posdiag_buf.
    unsafe { descriptor_pb.write(PosdiagBuf::EMPTY) };
    code_of(guarded(None, "describe", || {
        let bytes = descriptor::<P>().encode_to_vec();
        // SAFETY: as above.
        unsafe { descriptor_pb.write(into_buf(bytes)) };
        Ok(())
    }))
}

/// The vendor's descriptor with the exported id and version filled in where empty.
fn descriptor<P: Identity>() -> pb::Descriptor {
    let mut d = P::descriptor();
    if d.id.is_empty() {
        P::ID.clone_into(&mut d.id);
    }
    if d.version.is_empty() {
        P::VERSION.clone_into(&mut d.version);
    }
    d
}

/// `init`.
unsafe extern "C" fn init<P: Identity>(
    host: *const PosdiagHostApi,
    hctx: *mut c_void,
    config_pb: *const u8,
    config_len: usize,
    state: *mut *mut c_void,
) -> i32 {
    if state.is_null() {
        return abi::POSDIAG_E_INVALID;
    }
    // SAFETY: non-NULL; the host passes a writable `void *`.
    unsafe { state.write(std::ptr::null_mut()) };
    // SAFETY: the header requires `host` to be a posdiag_host_api of `struct_size` bytes whose
    // callbacks accept `hctx` until shutdown returns.
    let Some(host) = (unsafe { Host::from_raw(host, hctx) }) else {
        return abi::POSDIAG_E_INVALID;
    };
    // SAFETY: the header requires `config_len` readable bytes at `config_pb`.
    let Some(config) = (unsafe { input(config_pb, config_len) }) else {
        host.error("init: config_pb is NULL but config_len is not 0");
        return abi::POSDIAG_E_INVALID;
    };
    let created = guarded(Some(&host), "init", || {
        let request = pb::InitRequest::decode(config).map_err(|e| {
            host.error(&format!("init: the InitRequest does not decode: {e}"));
            abi::POSDIAG_E_INVALID
        })?;
        let checks = descriptor::<P>().checks.into_iter().map(|c| c.id).collect();
        match P::init(&host, request) {
            Ok(plugin) => Ok((plugin, checks)),
            Err(e) => {
                host.error(&format!("init failed: {e}"));
                Err(e.code())
            }
        }
    });
    match created {
        Ok((plugin, checks)) => {
            let boxed = Box::new(State {
                inner: Mutex::new(Inner {
                    plugin,
                    host,
                    checks,
                }),
            });
            // SAFETY: checked non-NULL above.
            unsafe { state.write(Box::into_raw(boxed).cast::<c_void>()) };
            abi::POSDIAG_OK
        }
        Err(code) => code,
    }
}

/// `run_check`.
unsafe extern "C" fn run_check<P: Identity>(
    state: *mut c_void,
    request_pb: *const u8,
    request_len: usize,
    result_pb: *mut PosdiagBuf,
) -> i32 {
    if state.is_null() || result_pb.is_null() {
        return abi::POSDIAG_E_INVALID;
    }
    // SAFETY: non-NULL; the host passes a writable posdiag_buf.
    unsafe { result_pb.write(PosdiagBuf::EMPTY) };
    // SAFETY: a non-NULL state is the one our `init` returned (a `State<P>`), and the host
    // calls nothing after `shutdown`; only shared access is taken, mutation goes through the
    // mutex, so concurrent calls (concurrency = "thread_safe") do not alias.
    let state = unsafe { &*state.cast::<State<P>>() };
    // A poisoned lock only means an earlier call panicked; that call already returned
    // POSDIAG_E_PANIC, and the host decides whether to restart.
    let mut guard = state.inner.lock().unwrap_or_else(PoisonError::into_inner);
    state.inner.clear_poison();
    let Inner {
        plugin,
        host,
        checks,
    } = &mut *guard;
    // SAFETY: the header requires `request_len` readable bytes at `request_pb`.
    let Some(request) = (unsafe { input(request_pb, request_len) }) else {
        host.error("run_check: request_pb is NULL but request_len is not 0");
        return abi::POSDIAG_E_INVALID;
    };
    let host: &Host = host;
    code_of(guarded(Some(host), "run_check", || {
        let request = pb::CheckRequest::decode(request).map_err(|e| {
            host.error(&format!("run_check: the CheckRequest does not decode: {e}"));
            abi::POSDIAG_E_INVALID
        })?;
        if !checks.contains(&request.check) {
            host.warn(&format!(
                "run_check: check {:?} is not offered by this plugin",
                request.check
            ));
            return Err(abi::POSDIAG_E_UNSUPPORTED);
        }
        let check = request.check.clone();
        let mut result = plugin.run_check(host, request).map_err(|e| {
            host.error(&format!("check {check} failed: {e}"));
            e.code()
        })?;
        for finding in &mut result.findings {
            if finding.check.is_empty() {
                finding.check.clone_from(&check);
            }
        }
        let bytes = result.encode_to_vec();
        // SAFETY: checked non-NULL above.
        unsafe { result_pb.write(into_buf(bytes)) };
        Ok(())
    }))
}

/// `free_buf`: releases a buffer made by [`into_buf`].
unsafe extern "C" fn free_buf(buf: PosdiagBuf) {
    if buf.ptr.is_null() {
        return;
    }
    let _ = catch_unwind(|| {
        // SAFETY: a non-NULL buffer handed to the host came from `into_buf`: a `Box<[u8]>` of
        // exactly `len` bytes, returned here once (the header: freed by the side that
        // allocated it, through free_buf).
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(buf.ptr, buf.len)) });
    });
}

/// `shutdown`.
unsafe extern "C" fn shutdown<P: Identity>(state: *mut c_void) {
    if state.is_null() {
        return;
    }
    // SAFETY: a non-NULL state is the `Box<State<P>>` our `init` leaked; the host calls
    // shutdown once and nothing after it, so this is the only owner.
    let state = unsafe { Box::from_raw(state.cast::<State<P>>()) };
    let mut inner = state
        .inner
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let Inner { plugin, host, .. } = &mut inner;
    let host: &Host = host;
    let _ = guarded(Some(host), "shutdown", || {
        plugin.shutdown();
        Ok(())
    });
    // The plugin's Drop may panic as well.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(inner)));
}
