//! The plugin host proper: everything `posdiag-plugin-host` does after its
//! arguments are parsed. It runs in a throw-away child process whose only
//! job is to contain one vendor library: if the library crashes, hangs or
//! eats memory, this process dies or is killed, and the daemon carries on.
//!
//! Plain blocking std I/O on the inherited socket and no async runtime: the
//! host must be ready within milliseconds and stay a few MB before the vendor
//! library is loaded. Single-threaded per call: the main thread calls
//! `run_check`, and the plugin's callbacks (on whatever thread the plugin
//! uses) write request frames and block on the daemon's reply.
//!
//! Order matters and is the point of this module:
//! 1. harden (parent-death signal, no new privileges, rlimits, stray fds);
//! 2. Hello both ways (before any vendor code runs, so a version mismatch is
//!    reported even for a library that would crash on load);
//! 3. load the library, resolve only `posdiag_plugin_entry_v1`, check
//!    `abi_major` and `struct_size` before reading anything else;
//! 4. `describe`, `init`, then `Ready`; then serve checks until Shutdown/EOF.
//!
//! Any failure to talk to the daemon ends the process at once: without the
//! daemon there is nobody to serve, and the parent-death signal would kill
//! it anyway.

use std::ffi::{CStr, OsStr, c_char, c_void};
use std::io::{self, Read};
use std::os::fd::{FromRawFd as _, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use posdiag_plugin_api::abi::{
    ENTRY_SYMBOL_V1, EntryFnV1, POSDIAG_ABI_MAJOR, POSDIAG_ABI_MINOR, POSDIAG_E_FAILED,
    POSDIAG_E_INVALID, POSDIAG_E_NO_LINK, POSDIAG_OK, PosdiagBuf, PosdiagHostApi, PosdiagPluginV1,
};

use crate::frame::{self, DEFAULT_MAX_FRAME_BYTES, ENVELOPE_SLACK};
use crate::proto::{
    self, CheckDone, DaemonMessage, FailureKind, HostMessage, Outcome, daemon_message, host_message,
};

/// Exit codes of `posdiag-plugin-host`, distinct per failure so that a person
/// reading `systemctl status` or the daemon's log can tell them apart.
pub mod exit {
    /// Shutdown requested, or the daemon closed the socket.
    pub const OK: u8 = 0;
    /// Bad command line.
    pub const USAGE: u8 = 64;
    /// The daemon spoke an incompatible protocol or sent garbage.
    pub const PROTOCOL: u8 = 65;
    /// The inherited fd is unusable, or hardening failed.
    pub const SETUP: u8 = 66;
    /// The library's ABI version or table size does not match.
    pub const INCOMPATIBLE: u8 = 70;
    /// The library lacks `posdiag_plugin_entry_v1` or a table function.
    pub const MISSING_SYMBOL: u8 = 71;
    /// The dynamic loader refused the library.
    pub const LOAD_FAILED: u8 = 72;
    /// `describe` or `init` failed.
    pub const INIT_FAILED: u8 = 73;

    /// A person's description of an exit code, for the daemon's messages.
    pub fn describe(code: i32) -> &'static str {
        match u8::try_from(code) {
            Ok(OK) => "exited normally",
            Ok(USAGE) => "bad command line",
            Ok(PROTOCOL) => "protocol error talking to the daemon",
            Ok(SETUP) => "setup failed (socket fd or rlimits)",
            Ok(INCOMPATIBLE) => "incompatible plugin ABI",
            Ok(MISSING_SYMBOL) => "missing plugin symbol",
            Ok(LOAD_FAILED) => "plugin library failed to load",
            Ok(INIT_FAILED) => "plugin describe/init failed",
            _ => "exited with an unexpected code",
        }
    }
}

/// Longest log line forwarded; longer ones are cut (a runaway plugin must not
/// be able to produce a frame the daemon refuses).
const MAX_LOG_BYTES: usize = 16 * 1024;

/// Validated command-line options of the host binary.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The vendor library to load.
    pub library: PathBuf,
    /// The inherited socket (one end of the daemon's socketpair).
    pub fd: RawFd,
    /// The bundle's plugin id; when set, the library must report the same id.
    pub plugin_id: Option<String>,
    /// Address-space limit (RLIMIT_AS), in MiB; 0 leaves it unlimited.
    pub max_memory_mb: u64,
    /// CPU-time limit (RLIMIT_CPU), in seconds.
    pub max_cpu_s: Option<u64>,
}

/// The connection to the daemon, shared by the main loop and the callbacks.
struct Conn {
    reader: Mutex<UnixStream>,
    writer: Mutex<UnixStream>,
    /// The agreed maximum frame body (from Configure).
    max_frame: AtomicUsize,
    /// The running check's call id; 0 when none runs (transport then says NO_LINK).
    call_id: AtomicU64,
}

/// Set once before the library is loaded; the callbacks find the connection
/// here rather than trusting the `hctx` pointer a plugin hands back.
static CONN: OnceLock<Conn> = OnceLock::new();

static HOST_API: PosdiagHostApi = PosdiagHostApi {
    // The header's struct is a few dozen bytes; the cast cannot truncate.
    struct_size: size_of::<PosdiagHostApi>() as u32,
    abi_minor: POSDIAG_ABI_MINOR,
    log: Some(cb_log),
    emit_event: Some(cb_emit_event),
    transport_write: Some(cb_transport_write),
    transport_read: Some(cb_transport_read),
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a callback panicked (which aborts anyway).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Conn {
    fn max_payload(&self) -> usize {
        self.max_frame
            .load(Ordering::Relaxed)
            .saturating_sub(ENVELOPE_SLACK)
    }

    fn send(&self, msg: host_message::Msg) {
        let frame = HostMessage { msg: Some(msg) };
        if let Err(e) = frame::write_message(&mut *lock(&self.writer), &frame) {
            die(
                exit::OK,
                &format!("daemon socket closed while writing: {e}"),
            );
        }
    }

    fn recv_locked(&self, reader: &mut UnixStream) -> DaemonMessage {
        let max = self.max_frame.load(Ordering::Relaxed);
        match frame::read_message::<DaemonMessage, _>(reader, max) {
            Ok(Some(m)) => m,
            Ok(None) => die(exit::OK, "daemon closed the socket"),
            Err(e) => die(exit::PROTOCOL, &format!("reading from the daemon: {e}")),
        }
    }

    fn recv(&self) -> DaemonMessage {
        self.recv_locked(&mut lock(&self.reader))
    }
}

fn conn() -> &'static Conn {
    match CONN.get() {
        Some(c) => c,
        // Callbacks can only run after `run` has set CONN.
        None => die(exit::SETUP, "callback before the connection was set up"),
    }
}

/// Ends the process. Never unwinds: the caller may be a C frame.
fn die(code: u8, why: &str) -> ! {
    if code != exit::OK {
        eprintln!("posdiag-plugin-host: {why}");
    }
    std::process::exit(i32::from(code))
}

/// Runs the host; returns the process exit code.
pub fn run(opts: &HostOptions) -> u8 {
    if let Err(e) = harden(opts) {
        eprintln!("posdiag-plugin-host: {e}");
        return exit::SETUP;
    }
    let stream = match adopt_fd(opts.fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "posdiag-plugin-host: fd {}: {e}; start the host from posdiagd",
                opts.fd
            );
            return exit::SETUP;
        }
    };
    let reader = match stream.try_clone() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("posdiag-plugin-host: duplicating fd {}: {e}", opts.fd);
            return exit::SETUP;
        }
    };
    let conn = CONN.get_or_init(|| Conn {
        reader: Mutex::new(reader),
        writer: Mutex::new(stream),
        max_frame: AtomicUsize::new(DEFAULT_MAX_FRAME_BYTES),
        call_id: AtomicU64::new(0),
    });

    // 2. Hello both ways, then Configure: before any vendor code runs.
    conn.send(host_message::Msg::Hello(proto::Hello {
        protocol_major: proto::PROTOCOL_MAJOR,
        protocol_minor: proto::PROTOCOL_MINOR,
        features: proto::FEATURES.iter().map(|f| (*f).to_owned()).collect(),
        rss_kib: rss_kib().unwrap_or(0),
        pid: std::process::id(),
    }));
    let hello = match conn.recv().msg {
        Some(daemon_message::Msg::Hello(h)) => h,
        other => {
            return fail(
                conn,
                FailureKind::Incompatible,
                &format!("expected Hello, got {other:?}"),
                exit::PROTOCOL,
            );
        }
    };
    if hello.protocol_major != proto::PROTOCOL_MAJOR {
        let why = format!(
            "daemon speaks host protocol {}.{}, this host speaks {}.{}; install matching posdiagd and posdiag-plugin-host",
            hello.protocol_major,
            hello.protocol_minor,
            proto::PROTOCOL_MAJOR,
            proto::PROTOCOL_MINOR
        );
        return fail(conn, FailureKind::Incompatible, &why, exit::PROTOCOL);
    }
    let configure = match conn.recv().msg {
        Some(daemon_message::Msg::Configure(c)) => c,
        other => {
            return fail(
                conn,
                FailureKind::Incompatible,
                &format!("expected Configure, got {other:?}"),
                exit::PROTOCOL,
            );
        }
    };
    if configure.max_frame_bytes > 0 {
        let max = usize::try_from(configure.max_frame_bytes).unwrap_or(usize::MAX);
        conn.max_frame
            .store(max.min(u32::MAX as usize), Ordering::Relaxed);
    }

    // 3. Load and check the ABI.
    let table = match load(opts) {
        Ok(t) => t,
        Err((kind, why)) => {
            let code = match kind {
                FailureKind::MissingSymbol => exit::MISSING_SYMBOL,
                FailureKind::LoadFailed => exit::LOAD_FAILED,
                _ => exit::INCOMPATIBLE,
            };
            return fail(conn, kind, &why, code);
        }
    };

    // 4. describe, init, Ready.
    let descriptor = match describe(&table, conn.max_payload()) {
        Ok(d) => d,
        Err(why) => return fail(conn, FailureKind::InitFailed, &why, exit::INIT_FAILED),
    };
    let mut state: *mut c_void = std::ptr::null_mut();
    let Some(init) = table.fns.init else {
        return exit::MISSING_SYMBOL;
    };
    let config = configure.init_request;
    // SAFETY: `init` comes from a table whose ABI major and size were checked;
    // HOST_API is 'static, config outlives the call, `state` is a valid out-pointer.
    // hctx points at the static connection, which outlives the plugin.
    let rc = unsafe {
        init(
            &HOST_API,
            std::ptr::from_ref(conn).cast_mut().cast::<c_void>(),
            config.as_ptr(),
            config.len(),
            &mut state,
        )
    };
    if rc != POSDIAG_OK {
        return fail(
            conn,
            FailureKind::InitFailed,
            &format!("init() returned {}", code_name(rc)),
            exit::INIT_FAILED,
        );
    }
    conn.send(host_message::Msg::Ready(proto::Ready {
        plugin_id: table.plugin_id.clone(),
        plugin_version: table.plugin_version.clone(),
        abi_major: table.fns.abi_major,
        abi_minor: table.fns.abi_minor,
        descriptor,
    }));

    serve(conn, &table, state)
}

fn serve(conn: &Conn, table: &Table, state: *mut c_void) -> u8 {
    loop {
        match conn.recv().msg {
            Some(daemon_message::Msg::RunCheck(rc)) => {
                conn.call_id.store(rc.call_id.max(1), Ordering::SeqCst);
                let mut done = run_check(table, state, &rc.request, conn.max_payload());
                conn.call_id.store(0, Ordering::SeqCst);
                done.call_id = rc.call_id;
                conn.send(host_message::Msg::CheckDone(done));
            }
            Some(daemon_message::Msg::Ping(p)) => {
                conn.send(host_message::Msg::Pong(proto::Pong { nonce: p.nonce }));
            }
            Some(daemon_message::Msg::Shutdown(_)) => {
                if let Some(shutdown) = table.fns.shutdown {
                    // SAFETY: checked table; `state` is what init returned.
                    unsafe { shutdown(state) };
                }
                return exit::OK;
            }
            // A reply that arrived after its callback gave up; harmless.
            Some(daemon_message::Msg::TransportReply(_)) => {}
            Some(other @ (daemon_message::Msg::Hello(_) | daemon_message::Msg::Configure(_))) => {
                die(
                    exit::PROTOCOL,
                    &format!("unexpected {other:?} after the handshake"),
                )
            }
            // A message from a newer minor version: ignore.
            None => {}
        }
    }
}

fn fail(conn: &Conn, kind: FailureKind, message: &str, code: u8) -> u8 {
    conn.send(host_message::Msg::Failed(proto::Failed {
        kind: kind as i32,
        message: message.to_owned(),
    }));
    code
}

/// Lowers limits and drops what a vendor library must not get. Runs before
/// the library is loaded, so its initialisers are already bound.
fn harden(opts: &HostOptions) -> Result<(), String> {
    // SAFETY: prctl with integer arguments only. The daemon sets this too,
    // between fork and exec; repeating it here covers a host started by hand.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // SAFETY: as above; setuid binaries a plugin might exec gain nothing.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) };
    set_limit(libc::RLIMIT_CORE, 0).map_err(|e| format!("setrlimit(RLIMIT_CORE): {e}"))?;
    if opts.max_memory_mb > 0 {
        let bytes = opts.max_memory_mb.saturating_mul(1024 * 1024);
        set_limit(libc::RLIMIT_AS, bytes)
            .map_err(|e| format!("setrlimit(RLIMIT_AS, {bytes}): {e}"))?;
    }
    if let Some(s) = opts.max_cpu_s {
        set_limit(libc::RLIMIT_CPU, s).map_err(|e| format!("setrlimit(RLIMIT_CPU, {s}): {e}"))?;
    }
    // Close whatever else was inherited (the daemon's fds are CLOEXEC, but a
    // host started by other means may carry some). Errors are not fatal: an
    // old kernel without close_range just keeps them.
    let fd = u32::try_from(opts.fd).unwrap_or(u32::MAX);
    // SAFETY: close_range only closes descriptors; none of ours above 2 but `fd` exist yet.
    unsafe {
        if fd > 3 {
            libc::syscall(libc::SYS_close_range, 3u32, fd - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, fd.saturating_add(1), u32::MAX, 0u32);
    }
    Ok(())
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `cur` is a valid out-pointer.
    if unsafe { libc::getrlimit(resource, &mut cur) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // Never ask for more than the hard limit we were given (that would fail).
    let value = value.min(cur.rlim_max);
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `lim` is a valid rlimit.
    if unsafe { libc::setrlimit(resource, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn adopt_fd(fd: RawFd) -> io::Result<UnixStream> {
    // SAFETY: fcntl on an integer fd only queries it.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // Keep the socket from leaking into anything the vendor library execs.
    // SAFETY: as above, setting a flag on an fd we checked exists.
    unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
    // SAFETY: the daemon handed us this fd for our exclusive use and it is
    // open (checked above); nothing else in this process wraps it.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    // Fail early on an fd that is not a socket.
    stream.peer_addr()?;
    Ok(stream)
}

/// Resident memory of this process in KiB, from /proc/self/status.
fn rss_kib() -> Option<u64> {
    let mut s = String::new();
    std::fs::File::open("/proc/self/status")
        .ok()?
        .read_to_string(&mut s)
        .ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A checked v1 table, copied out of the library.
struct Table {
    fns: PosdiagPluginV1,
    plugin_id: String,
    plugin_version: String,
}

fn load(opts: &HostOptions) -> Result<Table, (FailureKind, String)> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    let path = opts.library.display();
    // RTLD_NOW: unresolved dependencies fail here, as a clear LOAD_FAILED,
    // rather than later as a crash in the middle of a check.
    // SAFETY: loading runs the library's initialisers, i.e. vendor code; that
    // is what this process exists for, and it is hardened and disposable.
    let lib = unsafe { Library::open(Some(OsStr::new(&opts.library)), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|e| {
            (
                FailureKind::LoadFailed,
                format!("cannot load {path}: {e}; is it a shared library built for this machine?"),
            )
        })?;
    // SAFETY: the symbol name is the contract; its type is the header's.
    let entry: EntryFnV1 = match unsafe { lib.get::<EntryFnV1>(ENTRY_SYMBOL_V1) } {
        Ok(sym) => *sym,
        Err(e) => {
            return Err((
                FailureKind::MissingSymbol,
                format!(
                    "{path} does not export posdiag_plugin_entry_v1 ({e}); build it against posdiag_plugin.h"
                ),
            ));
        }
    };
    // Never dlclose: unloading Rust or C++ code with thread-locals crashes,
    // and a reload is a process restart anyway.
    let _ = lib.into_raw();
    // SAFETY: the exported function has the header's signature.
    let p = unsafe { entry() };
    if p.is_null() {
        return Err((
            FailureKind::Incompatible,
            format!("{path}: posdiag_plugin_entry_v1 returned NULL"),
        ));
    }
    // Read only the two fields every version starts with before anything else.
    // SAFETY: per the header, the table starts with struct_size then abi_major (u32 each).
    let (size, major) = unsafe {
        let words = p.cast::<u32>();
        (words.read_unaligned(), words.add(1).read_unaligned())
    };
    if major != POSDIAG_ABI_MAJOR {
        return Err((
            FailureKind::Incompatible,
            format!(
                "{path} is built for plugin ABI {major}, this host speaks ABI {POSDIAG_ABI_MAJOR}; install a matching plugin version"
            ),
        ));
    }
    if (size as usize) < size_of::<PosdiagPluginV1>() {
        return Err((
            FailureKind::Incompatible,
            format!(
                "{path}: plugin table is {size} bytes, smaller than the v1 table ({} bytes)",
                size_of::<PosdiagPluginV1>()
            ),
        ));
    }
    // SAFETY: struct_size covers the v1 table, which the pointer refers to.
    let fns = unsafe { p.read_unaligned() };
    for (name, present) in [
        ("describe", fns.describe.is_some()),
        ("init", fns.init.is_some()),
        ("run_check", fns.run_check.is_some()),
        ("free_buf", fns.free_buf.is_some()),
    ] {
        if !present {
            return Err((
                FailureKind::MissingSymbol,
                format!("{path}: plugin table has no {name} function"),
            ));
        }
    }
    // SAFETY: the header says these are NUL-terminated static strings (or NULL).
    let (plugin_id, plugin_version) =
        unsafe { (c_string(fns.plugin_id), c_string(fns.plugin_version)) };
    if let Some(want) = &opts.plugin_id
        && !want.is_empty()
        && !plugin_id.is_empty()
        && *want != plugin_id
    {
        return Err((
            FailureKind::Incompatible,
            format!(
                "{path} says it is plugin {plugin_id:?} but its bundle says {want:?}; fix the manifest id"
            ),
        ));
    }
    Ok(Table {
        fns,
        plugin_id,
        plugin_version,
    })
}

/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy();
    truncate(&s, 256).to_owned()
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Copies a plugin buffer, then hands it back to the plugin's `free_buf`.
fn take_buf(table: &Table, buf: PosdiagBuf) -> Vec<u8> {
    let bytes = if buf.ptr.is_null() || buf.len == 0 {
        Vec::new()
    } else {
        // SAFETY: the plugin returned `len` readable bytes at `ptr`.
        unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec()
    };
    release(table, buf);
    bytes
}

fn release(table: &Table, buf: PosdiagBuf) {
    if let (false, Some(free_buf)) = (buf.ptr.is_null(), table.fns.free_buf) {
        // SAFETY: the buffer came from this plugin and is released once.
        unsafe { free_buf(buf) };
    }
}

fn describe(table: &Table, max_payload: usize) -> Result<Vec<u8>, String> {
    let Some(describe) = table.fns.describe else {
        return Err("no describe function".into());
    };
    let mut buf = PosdiagBuf::EMPTY;
    // SAFETY: checked table; `buf` is a valid out-pointer.
    let rc = unsafe { describe(&mut buf) };
    if rc != POSDIAG_OK {
        release(table, buf);
        return Err(format!("describe() returned {}", code_name(rc)));
    }
    if buf.len > max_payload {
        release(table, buf);
        return Err(format!(
            "descriptor of {} bytes exceeds the frame limit",
            buf.len
        ));
    }
    Ok(take_buf(table, buf))
}

fn run_check(table: &Table, state: *mut c_void, request: &[u8], max_payload: usize) -> CheckDone {
    let mut done = CheckDone::default();
    let Some(run) = table.fns.run_check else {
        done.set_outcome(Outcome::PluginError);
        done.code = POSDIAG_E_FAILED;
        return done;
    };
    let mut buf = PosdiagBuf::EMPTY;
    // SAFETY: checked table; `state` is init's; the request outlives the call.
    let rc = unsafe { run(state, request.as_ptr(), request.len(), &mut buf) };
    done.code = rc;
    if rc != POSDIAG_OK {
        release(table, buf);
        done.set_outcome(Outcome::PluginError);
    } else if buf.len > max_payload {
        // Refuse before copying: a 64 MB answer must not double our memory.
        release(table, buf);
        done.set_outcome(Outcome::ResultTooLarge);
        done.result_len = buf.len as u64;
    } else if buf.ptr.is_null() && buf.len > 0 {
        done.set_outcome(Outcome::PluginError);
        done.code = POSDIAG_E_INVALID;
    } else {
        done.result = take_buf(table, buf);
        done.set_outcome(Outcome::Ok);
    }
    done
}

fn code_name(rc: i32) -> String {
    match posdiag_plugin_api::abi::return_code_name(rc) {
        Some(name) => format!("{name} ({rc})"),
        None => rc.to_string(),
    }
}

// ---- Callbacks given to the plugin. They never unwind (a panic here would
// abort the host, which the daemon survives, but it would be our bug).

extern "C" fn cb_log(_hctx: *mut c_void, level: i32, utf8: *const c_char) {
    if utf8.is_null() {
        return;
    }
    let conn = conn();
    // SAFETY: the header requires a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(utf8) }.to_string_lossy();
    conn.send(host_message::Msg::Log(proto::Log {
        call_id: conn.call_id.load(Ordering::SeqCst),
        level,
        text: truncate(&text, MAX_LOG_BYTES).to_owned(),
    }));
}

extern "C" fn cb_emit_event(_hctx: *mut c_void, event_pb: *const u8, len: usize) -> i32 {
    let conn = conn();
    if (event_pb.is_null() && len > 0) || len > conn.max_payload() {
        return POSDIAG_E_INVALID;
    }
    let event = if len == 0 {
        Vec::new()
    } else {
        // SAFETY: the plugin passes `len` readable bytes.
        unsafe { std::slice::from_raw_parts(event_pb, len) }.to_vec()
    };
    conn.send(host_message::Msg::Event(proto::Event {
        call_id: conn.call_id.load(Ordering::SeqCst),
        event,
    }));
    POSDIAG_OK
}

/// Sends a transport request and blocks until the daemon's reply. The reader
/// lock is held from before the send to the reply, so requests from several
/// plugin threads are paired with their replies one at a time.
fn transport(conn: &Conn, request: host_message::Msg, call_id: u64) -> proto::TransportReply {
    let mut reader = lock(&conn.reader);
    conn.send(request);
    loop {
        match conn.recv_locked(&mut reader).msg {
            Some(daemon_message::Msg::TransportReply(r)) if r.call_id == call_id => return r,
            Some(daemon_message::Msg::TransportReply(_)) | None => {}
            Some(daemon_message::Msg::Ping(p)) => {
                conn.send(host_message::Msg::Pong(proto::Pong { nonce: p.nonce }))
            }
            // The daemon is stopping; the plugin is mid-call, so skip shutdown().
            Some(daemon_message::Msg::Shutdown(_)) => die(exit::OK, "shutdown during a check"),
            Some(other) => die(
                exit::PROTOCOL,
                &format!("unexpected {other:?} while waiting for a transport reply"),
            ),
        }
    }
}

extern "C" fn cb_transport_write(
    _hctx: *mut c_void,
    p: *const u8,
    n: usize,
    timeout_ms: u32,
) -> i32 {
    let conn = conn();
    let call_id = conn.call_id.load(Ordering::SeqCst);
    if call_id == 0 {
        return POSDIAG_E_NO_LINK;
    }
    if (p.is_null() && n > 0) || n > conn.max_payload() {
        return POSDIAG_E_INVALID;
    }
    let data = if n == 0 {
        Vec::new()
    } else {
        // SAFETY: the plugin passes `n` readable bytes.
        unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
    };
    let msg = host_message::Msg::TransportWrite(proto::TransportWrite {
        call_id,
        data,
        timeout_ms,
    });
    transport(conn, msg, call_id).code
}

extern "C" fn cb_transport_read(
    _hctx: *mut c_void,
    p: *mut u8,
    cap: usize,
    out_n: *mut usize,
    timeout_ms: u32,
) -> i32 {
    let conn = conn();
    if !out_n.is_null() {
        // SAFETY: non-null out-pointer from the plugin.
        unsafe { out_n.write(0) };
    }
    let call_id = conn.call_id.load(Ordering::SeqCst);
    if call_id == 0 {
        return POSDIAG_E_NO_LINK;
    }
    if p.is_null() || out_n.is_null() || cap == 0 {
        return POSDIAG_E_INVALID;
    }
    let max = u32::try_from(cap.min(conn.max_payload())).unwrap_or(u32::MAX);
    let msg = host_message::Msg::TransportRead(proto::TransportRead {
        call_id,
        max,
        timeout_ms,
    });
    let reply = transport(conn, msg, call_id);
    if reply.code != POSDIAG_OK {
        return reply.code;
    }
    if reply.data.len() > cap {
        return POSDIAG_E_FAILED;
    }
    // SAFETY: `p` has room for `cap` bytes and data is at most `cap` long;
    // `out_n` is a valid out-pointer (both checked non-null above).
    unsafe {
        std::ptr::copy_nonoverlapping(reply.data.as_ptr(), p, reply.data.len());
        out_n.write(reply.data.len());
    }
    POSDIAG_OK
}
