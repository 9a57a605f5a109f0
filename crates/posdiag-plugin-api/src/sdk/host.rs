//! [`Host`]: the safe face of the host's callbacks (`posdiag_host_api`), or of a Rust
//! [`HostBackend`] so that a plugin's check logic can be unit-tested without the C ABI.
//!
//! A `Host` is neither `Send` nor `Sync`: callbacks belong to the call (`init`, `run_check`)
//! the host made, on the thread it made it, which is how the host knows which device link a
//! read or write is for.

use std::ffi::{CString, c_void};
use std::marker::PhantomData;
use std::mem::{offset_of, size_of};
use std::time::{Duration, Instant};

use prost::Message as _;

use super::TransportError;
use crate::abi::{self, EmitEventFn, LogFn, PosdiagHostApi, TransportReadFn, TransportWriteFn};
use crate::pb;

/// Severity of a log line (`POSDIAG_LOG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum LogLevel {
    /// `POSDIAG_LOG_ERROR`.
    Error = abi::POSDIAG_LOG_ERROR,
    /// `POSDIAG_LOG_WARN`.
    Warn = abi::POSDIAG_LOG_WARN,
    /// `POSDIAG_LOG_INFO`.
    Info = abi::POSDIAG_LOG_INFO,
    /// `POSDIAG_LOG_DEBUG`.
    Debug = abi::POSDIAG_LOG_DEBUG,
}

/// A host implemented in Rust, for tests of a plugin's logic (see [`Host::from_backend`]).
pub trait HostBackend {
    /// A log line.
    fn log(&self, level: LogLevel, message: &str);
    /// A progress event.
    fn event(&self, event: &pb::Event);
    /// Writes all of `bytes` within `timeout`.
    fn write(&self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError>;
    /// Reads 1..`buf.len()` bytes within `timeout`.
    fn read(&self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
}

/// The callbacks of a C host, copied out of its `posdiag_host_api` as far as its
/// `struct_size` goes.
#[derive(Debug, Clone, Copy)]
struct CHost {
    hctx: *mut c_void,
    abi_minor: u32,
    log: Option<LogFn>,
    emit_event: Option<EmitEventFn>,
    transport_write: Option<TransportWriteFn>,
    transport_read: Option<TransportReadFn>,
}

enum Inner {
    C(CHost),
    Backend(Box<dyn HostBackend>),
}

/// The host's callbacks: logging, progress events and the device link.
pub struct Host {
    inner: Inner,
    // Callbacks belong to the calling thread (see the module documentation).
    _not_send: PhantomData<*mut c_void>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::C(c) => f.debug_tuple("Host").field(c).finish(),
            Inner::Backend(_) => f.write_str("Host(backend)"),
        }
    }
}

/// Milliseconds for the ABI, rounded up so that a short non-zero wait never becomes a poll.
fn timeout_ms(timeout: Duration) -> u32 {
    u32::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX)
}

impl Host {
    /// A host made of a Rust backend: how tests drive a plugin's logic.
    pub fn from_backend(backend: impl HostBackend + 'static) -> Host {
        Host {
            inner: Inner::Backend(Box::new(backend)),
            _not_send: PhantomData,
        }
    }

    /// Copies the callbacks out of a C host's `posdiag_host_api`, reading only the fields its
    /// `struct_size` covers. `None` if `api` is NULL or too short to hold even `abi_minor`.
    ///
    /// # Safety
    /// `api` is NULL or points to at least `struct_size` readable bytes that start with a
    /// `posdiag_host_api` prefix, and the callbacks accept `hctx` for as long as this `Host`
    /// lives (the header: until `shutdown` returns).
    pub unsafe fn from_raw(api: *const PosdiagHostApi, hctx: *mut c_void) -> Option<Host> {
        if api.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees `api` points to a struct starting with `struct_size`;
        // the place is read through a raw pointer, so no reference to a possibly shorter
        // struct is formed.
        let size = unsafe { (&raw const (*api).struct_size).read_unaligned() };
        if !abi::covers(
            size,
            offset_of!(PosdiagHostApi, abi_minor),
            size_of::<u32>(),
        ) {
            return None;
        }
        // Reads one field if the host's struct includes it, else its default (0 or NULL).
        macro_rules! field {
            ($name:ident: $ty:ty) => {
                if abi::covers(size, offset_of!(PosdiagHostApi, $name), size_of::<$ty>()) {
                    // SAFETY: `covers` proved that the field lies within the host's
                    // `struct_size` readable bytes; it is read by value through the raw
                    // pointer, and every bit pattern the C side may store in it (an integer,
                    // a function pointer or NULL) is a valid `$ty`.
                    unsafe { (&raw const (*api).$name).read_unaligned() }
                } else {
                    <$ty>::default()
                }
            };
        }
        let abi_minor = field!(abi_minor: u32);
        let log = field!(log: Option<LogFn>);
        let emit_event = field!(emit_event: Option<EmitEventFn>);
        let transport_write = field!(transport_write: Option<TransportWriteFn>);
        let transport_read = field!(transport_read: Option<TransportReadFn>);
        Some(Host {
            inner: Inner::C(CHost {
                hctx,
                abi_minor,
                log,
                emit_event,
                transport_write,
                transport_read,
            }),
            _not_send: PhantomData,
        })
    }

    /// The host's `POSDIAG_ABI_MINOR` (a backend host reports this SDK's).
    pub fn abi_minor(&self) -> u32 {
        match &self.inner {
            Inner::C(c) => c.abi_minor,
            Inner::Backend(_) => abi::POSDIAG_ABI_MINOR,
        }
    }

    /// Logs a line. Never log card numbers, track data, PINs or keys: mask them first (the
    /// host does not, and log lines end up in the daemon's journal). A NUL byte in `message`
    /// is dropped; a host without a log callback drops the line.
    pub fn log(&self, level: LogLevel, message: &str) {
        match &self.inner {
            Inner::C(c) => {
                let Some(log) = c.log else { return };
                let line = CString::new(message).unwrap_or_else(|e| {
                    let mut bytes = e.into_vec();
                    bytes.retain(|&b| b != 0);
                    // No NUL byte remains, so this cannot fail; an empty line is the fallback.
                    CString::new(bytes).unwrap_or_default()
                });
                // SAFETY: `log` came from the host with `hctx` (see `from_raw`), and `line` is
                // a NUL-terminated string that outlives the call.
                unsafe { log(c.hctx, level as i32, line.as_ptr()) }
            }
            Inner::Backend(b) => b.log(level, message),
        }
    }

    /// Logs at [`LogLevel::Error`].
    pub fn error(&self, message: &str) {
        self.log(LogLevel::Error, message);
    }

    /// Logs at [`LogLevel::Warn`].
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message);
    }

    /// Logs at [`LogLevel::Info`].
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }

    /// Logs at [`LogLevel::Debug`].
    pub fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, message);
    }

    /// Sends a progress event. Best effort: a host that refuses or lacks the callback does not
    /// fail the check.
    pub fn event(&self, event: pb::Event) {
        match &self.inner {
            Inner::C(c) => {
                let Some(emit) = c.emit_event else { return };
                let bytes = event.encode_to_vec();
                // SAFETY: `emit` came from the host with `hctx`; `bytes` is valid for its
                // length during the call. Its return code is ignored (best effort).
                unsafe { emit(c.hctx, bytes.as_ptr(), bytes.len()) };
            }
            Inner::Backend(b) => b.event(&event),
        }
    }

    /// Sends a [`pb::PhaseStarted`] event.
    pub fn phase_started(&self, phase: &str, subject: &str) {
        self.event(pb::Event {
            event: Some(pb::event::Event::PhaseStarted(pb::PhaseStarted {
                phase: phase.to_owned(),
                subject: subject.to_owned(),
            })),
        });
    }

    /// Sends a [`pb::PhaseFinished`] event.
    pub fn phase_finished(&self, phase: &str, subject: &str, verdict: pb::Verdict, took: Duration) {
        self.event(pb::Event {
            event: Some(pb::event::Event::PhaseFinished(pb::PhaseFinished {
                phase: phase.to_owned(),
                subject: subject.to_owned(),
                verdict: verdict.into(),
                duration_us: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            })),
        });
    }

    /// Sends a [`pb::Metric`] event.
    pub fn metric(&self, name: &str, value: f64, unit: &str) {
        self.event(pb::Event {
            event: Some(pb::event::Event::Metric(pb::Metric {
                name: name.to_owned(),
                value,
                unit: unit.to_owned(),
            })),
        });
    }

    /// Writes all of `bytes` to the device link within `timeout` (the daemon enforces it and
    /// records the bytes in the check's transcript).
    pub fn write(&self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        match &self.inner {
            Inner::C(c) => {
                let write = c
                    .transport_write
                    .ok_or(TransportError::Unsupported("transport_write"))?;
                // SAFETY: `write` came from the host with `hctx`; `bytes` is valid for its
                // length during the call.
                let code =
                    unsafe { write(c.hctx, bytes.as_ptr(), bytes.len(), timeout_ms(timeout)) };
                TransportError::from_code(code).map_or(Ok(()), Err)
            }
            Inner::Backend(b) => b.write(bytes, timeout),
        }
    }

    /// Reads 1..`buf.len()` bytes from the device link within `timeout`; returns how many.
    /// `Ok(0)` only for an empty `buf`.
    pub fn read(&self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        if buf.is_empty() {
            return Ok(0);
        }
        match &self.inner {
            Inner::C(c) => {
                let read = c
                    .transport_read
                    .ok_or(TransportError::Unsupported("transport_read"))?;
                let mut n = 0usize;
                // SAFETY: `read` came from the host with `hctx`; `buf` is writable for its
                // length and `n` is a valid out-pointer during the call.
                let code = unsafe {
                    read(
                        c.hctx,
                        buf.as_mut_ptr(),
                        buf.len(),
                        &raw mut n,
                        timeout_ms(timeout),
                    )
                };
                if let Some(e) = TransportError::from_code(code) {
                    return Err(e);
                }
                // A host claiming more bytes than fit is broken; do not trust the buffer.
                if n > buf.len() {
                    return Err(TransportError::Failed(abi::POSDIAG_E_FAILED));
                }
                Ok(n)
            }
            Inner::Backend(b) => b.read(buf, timeout),
        }
    }

    /// Fills all of `buf` from the device link, all within `timeout`.
    pub fn read_exact(&self, buf: &mut [u8], timeout: Duration) -> Result<(), TransportError> {
        let deadline = Instant::now() + timeout;
        let mut filled = 0;
        while filled < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout);
            }
            let n = self.read(&mut buf[filled..], left)?;
            filled += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_and_saturate() {
        assert_eq!(timeout_ms(Duration::ZERO), 0);
        assert_eq!(timeout_ms(Duration::from_micros(1)), 1);
        assert_eq!(timeout_ms(Duration::from_millis(1500)), 1500);
        assert_eq!(timeout_ms(Duration::from_secs(u64::MAX)), u32::MAX);
    }
}
