//! The Rust SDK through its C face: a test plugin exported with `export_plugin!` is driven
//! through the function table exactly as posdiag-plugin-host drives a loaded library, with a
//! fake host whose callbacks record what the plugin did. Covers panics becoming
//! `POSDIAG_E_PANIC`, buffers round-tripping through `free_buf`, hosts with a short
//! `struct_size`, and the SDK's request checks.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::VecDeque;
use std::ffi::{CStr, c_char, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posdiag_plugin_api::abi::{self, PosdiagBuf, PosdiagHostApi, PosdiagPluginV1};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::prost::Message as _;
use posdiag_plugin_api::sdk::{self, Host, Plugin, PluginError, TransportError};

static SHUTDOWNS: AtomicUsize = AtomicUsize::new(0);

/// The plugin under test; its checks exercise one SDK path each.
struct TestPlugin {
    greeting: String,
    runs: u32,
}

impl Plugin for TestPlugin {
    fn descriptor() -> pb::Descriptor {
        let check = |id: &str| pb::CheckInfo {
            id: id.into(),
            description_en: format!("test {id}"),
            description_zh: format!("测试 {id}"),
            needs_link: true,
            default_timeout_ms: 0,
        };
        pb::Descriptor {
            checks: ["test.ok", "test.panic", "test.echo", "test.fail"]
                .into_iter()
                .map(check)
                .collect(),
            ..Default::default()
        }
    }

    fn init(host: &Host, init: pb::InitRequest) -> Result<Self, PluginError> {
        if init.settings.contains_key("refuse") {
            return Err(PluginError::invalid("setting \"refuse\" is set"));
        }
        host.info("test plugin ready");
        Ok(TestPlugin {
            greeting: init.settings.get("greeting").cloned().unwrap_or_default(),
            runs: 0,
        })
    }

    fn run_check(
        &mut self,
        host: &Host,
        req: pb::CheckRequest,
    ) -> Result<pb::CheckResult, PluginError> {
        self.runs += 1;
        let mut finding = pb::Finding {
            verdict: pb::Verdict::Ok.into(),
            reason: "ok".into(),
            summary_en: format!("{} run {}", self.greeting, self.runs),
            ..Default::default()
        };
        match req.check.as_str() {
            "test.panic" => panic!("boom in run_check"),
            "test.fail" => return Err(PluginError::failed("the test says no")),
            "test.echo" => {
                host.metric("step", 1.0, "count");
                match host.write(b"ping", Duration::from_millis(100)) {
                    Ok(()) => {
                        let mut buf = [0u8; 4];
                        host.read_exact(&mut buf, Duration::from_millis(100))?;
                        finding.evidence.push(sdk::evidence_text(
                            "echo",
                            std::str::from_utf8(&buf).unwrap_or("?"),
                        ));
                    }
                    Err(e) => finding
                        .evidence
                        .push(sdk::evidence_text("error", &e.to_string())),
                }
            }
            _ => {}
        }
        Ok(pb::CheckResult {
            findings: vec![finding],
        })
    }

    fn shutdown(&mut self) {
        SHUTDOWNS.fetch_add(1, Ordering::SeqCst);
    }
}

posdiag_plugin_api::export_plugin!(TestPlugin, id = "test.sdk", version = "9.8.7");

/// What the fake host's callbacks saw; `hctx` points to one of these.
#[derive(Default)]
struct Recorder {
    logs: Mutex<Vec<(i32, String)>>,
    events: Mutex<Vec<pb::Event>>,
    /// Bytes "on the wire": writes are echoed back to reads.
    wire: Mutex<VecDeque<u8>>,
    calls: AtomicUsize,
}

fn recorder<'a>(hctx: *mut c_void) -> &'a Recorder {
    // SAFETY: every test passes a `&Recorder` that outlives the plugin calls as hctx.
    unsafe { &*hctx.cast::<Recorder>() }
}

unsafe extern "C" fn log(hctx: *mut c_void, level: i32, utf8: *const c_char) {
    let r = recorder(hctx);
    r.calls.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the SDK passes a NUL-terminated string.
    let line = unsafe { CStr::from_ptr(utf8) }
        .to_string_lossy()
        .into_owned();
    r.logs.lock().unwrap().push((level, line));
}

unsafe extern "C" fn emit_event(hctx: *mut c_void, p: *const u8, n: usize) -> i32 {
    let r = recorder(hctx);
    r.calls.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the SDK passes `n` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(p, n) };
    r.events
        .lock()
        .unwrap()
        .push(pb::Event::decode(bytes).unwrap());
    abi::POSDIAG_OK
}

unsafe extern "C" fn transport_write(
    hctx: *mut c_void,
    p: *const u8,
    n: usize,
    _timeout_ms: u32,
) -> i32 {
    let r = recorder(hctx);
    r.calls.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the SDK passes `n` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(p, n) };
    r.wire.lock().unwrap().extend(bytes);
    abi::POSDIAG_OK
}

/// Returns one byte per call, to exercise `read_exact`'s loop.
unsafe extern "C" fn transport_read(
    hctx: *mut c_void,
    p: *mut u8,
    cap: usize,
    out_n: *mut usize,
    _timeout_ms: u32,
) -> i32 {
    let r = recorder(hctx);
    r.calls.fetch_add(1, Ordering::SeqCst);
    assert!(cap >= 1);
    let Some(byte) = r.wire.lock().unwrap().pop_front() else {
        return abi::POSDIAG_E_TIMEOUT;
    };
    // SAFETY: the SDK passes `cap` >= 1 writable bytes and a valid `out_n`.
    unsafe {
        p.write(byte);
        out_n.write(1);
    }
    abi::POSDIAG_OK
}

fn host_api(struct_size: u32) -> PosdiagHostApi {
    PosdiagHostApi {
        struct_size,
        abi_minor: abi::POSDIAG_ABI_MINOR,
        log: Some(log),
        emit_event: Some(emit_event),
        transport_write: Some(transport_write),
        transport_read: Some(transport_read),
    }
}

fn full_host() -> PosdiagHostApi {
    host_api(u32::try_from(size_of::<PosdiagHostApi>()).unwrap())
}

fn table() -> &'static PosdiagPluginV1 {
    // SAFETY: the table is a static made by export_plugin!.
    unsafe { &*posdiag_plugin_entry_v1() }
}

/// Calls `init`; returns the code and the state.
fn init(
    api: *const PosdiagHostApi,
    rec: &Recorder,
    settings: &[(&str, &str)],
) -> (i32, *mut c_void) {
    let request = pb::InitRequest {
        settings: settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        host_version: "test".into(),
    }
    .encode_to_vec();
    let mut state = std::ptr::null_mut();
    let hctx = std::ptr::from_ref(rec).cast_mut().cast::<c_void>();
    // SAFETY: valid pointers for the call; `api` and `rec` outlive the state in every test.
    let code = unsafe {
        (table().init.unwrap())(api, hctx, request.as_ptr(), request.len(), &raw mut state)
    };
    (code, state)
}

/// Calls `run_check` with raw request bytes; returns the code and the decoded result, after
/// releasing the buffer through `free_buf`.
fn run_raw(state: *mut c_void, request: &[u8]) -> (i32, Option<pb::CheckResult>) {
    let mut out = PosdiagBuf {
        ptr: std::ptr::dangling_mut(),
        len: 99,
    };
    // SAFETY: `state` came from init; the request and out-buffer are valid for the call.
    let code = unsafe {
        (table().run_check.unwrap())(state, request.as_ptr(), request.len(), &raw mut out)
    };
    if out.ptr.is_null() {
        assert_eq!(out.len, 0);
        return (code, None);
    }
    // SAFETY: a non-NULL buffer from run_check holds `len` bytes until free_buf.
    let result =
        pb::CheckResult::decode(unsafe { std::slice::from_raw_parts(out.ptr, out.len) }).unwrap();
    // SAFETY: returned exactly once to the plugin that allocated it.
    unsafe { (table().free_buf.unwrap())(out) };
    (code, Some(result))
}

fn run(state: *mut c_void, check: &str) -> (i32, Option<pb::CheckResult>) {
    let request = pb::CheckRequest {
        check: check.into(),
        terminal_id: "T1".into(),
        ..Default::default()
    };
    run_raw(state, &request.encode_to_vec())
}

fn shutdown(state: *mut c_void) {
    // SAFETY: `state` came from init and is not used afterwards.
    unsafe { (table().shutdown.unwrap())(state) };
}

#[test]
fn table_carries_abi_and_identity() {
    let t = table();
    assert_eq!(t.struct_size as usize, size_of::<PosdiagPluginV1>());
    assert_eq!(
        (t.abi_major, t.abi_minor, t.reserved),
        (abi::POSDIAG_ABI_MAJOR, abi::POSDIAG_ABI_MINOR, 0)
    );
    // SAFETY: the table's strings are static and NUL-terminated.
    let (id, version) = unsafe {
        (
            CStr::from_ptr(t.plugin_id),
            CStr::from_ptr(t.plugin_version),
        )
    };
    assert_eq!(
        (id.to_str().unwrap(), version.to_str().unwrap()),
        ("test.sdk", "9.8.7")
    );
    assert_eq!(abi::ENTRY_SYMBOL_V1, b"posdiag_plugin_entry_v1\0");
}

#[test]
fn describe_fills_identity_and_buffer_round_trips() {
    let mut out = PosdiagBuf::EMPTY;
    // SAFETY: a valid out-buffer.
    let code = unsafe { (table().describe.unwrap())(&raw mut out) };
    assert_eq!(code, abi::POSDIAG_OK);
    // SAFETY: describe returned `len` bytes.
    let descriptor =
        pb::Descriptor::decode(unsafe { std::slice::from_raw_parts(out.ptr, out.len) }).unwrap();
    // SAFETY: released once, to the allocating side.
    unsafe { (table().free_buf.unwrap())(out) };
    assert_eq!(descriptor.id, "test.sdk");
    assert_eq!(descriptor.version, "9.8.7");
    assert_eq!(descriptor.checks.len(), 4);
    // A NULL buffer is a no-op, and a NULL out-pointer is refused.
    // SAFETY: NULL is allowed for both.
    unsafe {
        (table().free_buf.unwrap())(PosdiagBuf::EMPTY);
        assert_eq!(
            (table().describe.unwrap())(std::ptr::null_mut()),
            abi::POSDIAG_E_INVALID
        );
    }
}

#[test]
fn checks_run_and_fill_the_check_id() {
    let rec = Recorder::default();
    let api = full_host();
    let (code, state) = init(&raw const api, &rec, &[("greeting", "hi")]);
    assert_eq!(code, abi::POSDIAG_OK);
    assert!(!state.is_null());
    let (code, result) = run(state, "test.ok");
    assert_eq!(code, abi::POSDIAG_OK);
    let finding = &result.unwrap().findings[0];
    assert_eq!(finding.check, "test.ok");
    assert_eq!(finding.summary_en, "hi run 1");
    let before = SHUTDOWNS.load(Ordering::SeqCst);
    shutdown(state);
    assert!(SHUTDOWNS.load(Ordering::SeqCst) > before);
    assert_eq!(
        rec.logs.lock().unwrap()[0],
        (abi::POSDIAG_LOG_INFO, "test plugin ready".into())
    );
}

#[test]
fn a_panic_becomes_posdiag_e_panic_and_the_plugin_keeps_working() {
    let rec = Recorder::default();
    let api = full_host();
    let (_, state) = init(&raw const api, &rec, &[]);
    let (code, result) = run(state, "test.panic");
    assert_eq!(code, abi::POSDIAG_E_PANIC);
    assert!(result.is_none());
    let logs = rec.logs.lock().unwrap().clone();
    assert!(
        logs.iter()
            .any(|(level, line)| *level == abi::POSDIAG_LOG_ERROR
                && line.contains("panicked in run_check: boom in run_check")),
        "{logs:?}"
    );
    // The state survives: the next check runs, and counts the panicked run.
    let (code, result) = run(state, "test.ok");
    assert_eq!(code, abi::POSDIAG_OK);
    assert_eq!(result.unwrap().findings[0].summary_en, " run 2");
    shutdown(state);
}

#[test]
fn refused_requests_get_their_codes() {
    let rec = Recorder::default();
    let api = full_host();
    let (_, state) = init(&raw const api, &rec, &[]);
    assert_eq!(
        run(state, "other.check"),
        (abi::POSDIAG_E_UNSUPPORTED, None)
    );
    assert_eq!(
        run_raw(state, &[0xFF, 0xFF, 0xFF]),
        (abi::POSDIAG_E_INVALID, None)
    );
    assert_eq!(run(state, "test.fail"), (abi::POSDIAG_E_FAILED, None));
    let logs = rec.logs.lock().unwrap().clone();
    assert!(
        logs.iter()
            .any(|(_, l)| l.contains("check test.fail failed: the test says no")),
        "{logs:?}"
    );
    shutdown(state);

    let (code, state) = init(&raw const api, &rec, &[("refuse", "")]);
    assert_eq!(
        (code, state),
        (abi::POSDIAG_E_INVALID, std::ptr::null_mut())
    );
}

#[test]
fn transport_and_events_go_through_the_host() {
    let rec = Recorder::default();
    let api = full_host();
    let (_, state) = init(&raw const api, &rec, &[]);
    let (code, result) = run(state, "test.echo");
    assert_eq!(code, abi::POSDIAG_OK);
    assert_eq!(
        result.unwrap().findings[0].evidence[0],
        sdk::evidence_text("echo", "ping")
    );
    let events = rec.events.lock().unwrap().clone();
    assert!(
        matches!(&events[..], [pb::Event { event: Some(pb::event::Event::Metric(m)) }] if m.name == "step")
    );
    shutdown(state);
}

#[test]
fn a_short_host_struct_is_read_only_as_far_as_its_size() {
    // A host that declares only struct_size and abi_minor: the callbacks after them exist in
    // memory but must not be read, so nothing may be called.
    let rec = Recorder::default();
    let api = host_api(8);
    let (code, state) = init(&raw const api, &rec, &[]);
    assert_eq!(code, abi::POSDIAG_OK);
    let (code, result) = run(state, "test.echo");
    assert_eq!(code, abi::POSDIAG_OK);
    let error = TransportError::Unsupported("transport_write").to_string();
    assert_eq!(
        result.unwrap().findings[0].evidence[0],
        sdk::evidence_text("error", &error)
    );
    shutdown(state);
    assert_eq!(rec.calls.load(Ordering::SeqCst), 0);

    // Too short to hold abi_minor, or no host at all: refused.
    let short = host_api(4);
    for api in [&raw const short, std::ptr::null()] {
        let (code, state) = init(api, &rec, &[]);
        assert_eq!(
            (code, state),
            (abi::POSDIAG_E_INVALID, std::ptr::null_mut())
        );
    }
}
