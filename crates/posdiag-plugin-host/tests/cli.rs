//! The `posdiag-plugin-host` binary's command line: people do not start it,
//! but a wrong invocation (a packaging mistake) must say what is missing and
//! exit 64. Its behaviour under a supervisor is tested with real C plugins in
//! `posdiag-plugin-supervisor`'s `tests/faults.rs`.

#![allow(clippy::unwrap_used, reason = "tests")]

#[test]
fn host_binary_refuses_a_bad_command_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_posdiag-plugin-host"))
        .args(["--library", "/x.so"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fd is required"));
}
