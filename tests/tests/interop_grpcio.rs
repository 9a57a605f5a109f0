//! End-to-end: a real Python `grpcio` client (gRPC C-core, the transport C++,
//! Python, Ruby and PHP clients share) calls the real `posdiagd` over its unix
//! socket. C-core sends the socket path as the HTTP/2 `:authority`, which is
//! no valid URI authority; without the daemon's normalisation every call
//! fails with RST_STREAM PROTOCOL_ERROR.
//!
//! The client lives in `tests/python/grpcio_client.py`; its packages are
//! pinned in `tests/python/requirements.txt` and installed from PyPI into a
//! venv cached under the target directory (`target/py-grpcio`), rebuilt when
//! the requirements change.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, TlsMode};
use posdiag_tests::python::{self, check};
use posdiag_tests::{Daemon, bin_dir, workspace};

#[test]
fn a_grpcio_client_is_answered_on_the_unix_socket() {
    let python = venv();
    let stubs = tempfile::tempdir().unwrap();
    generate_stubs(&python, stubs.path());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(host::start(HostSimConfig {
            fault: Fault::Healthy,
            tls: TlsMode::Plain,
            answer: Answer::Reply {
                expect_prefix: b"PING".to_vec(),
                reply: b"PONG\n".to_vec(),
            },
            ..HostSimConfig::default()
        }))
        .unwrap();
    let daemon = Daemon::start(&format!(
        "[defaults]\ncount = 1\ninterval_ms = 0\ntimeout_ms = 2000\ncheck_interval_s = 0\n\
         [hosts.acquirer]\naddress = \"127.0.0.1\"\nport = {}\n\
         [[terminals]]\nid = \"T1\"\nname = \"Lane 1\"\nhosts = [\"acquirer\"]\n",
        sim.addr().port()
    ));

    // The simulated host answers on the runtime's worker threads while this
    // thread waits for the client.
    let out = Command::new(&python)
        .arg(workspace().join("tests/python/grpcio_client.py"))
        .arg(&daemon.socket)
        .arg(stubs.path())
        .arg("T1")
        .output()
        .expect("running the grpcio client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the grpcio client failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.ends_with("grpcio interop: all calls answered\n"),
        "{stdout}"
    );
}

/// The venv's python with grpcio and grpcio-tools (`tests/python/requirements.txt`).
fn venv() -> PathBuf {
    let dir = bin_dir()
        .parent()
        .expect("the build directory sits in the target directory")
        .join("py-grpcio");
    python::venv(&dir, "tests/python/requirements.txt", &[])
}

/// Python modules for `proto/posdiag/v1` from `grpc_tools.protoc` (which
/// brings the well-known types along; no system `protoc` is needed).
fn generate_stubs(python: &Path, out: &Path) {
    let protos: Vec<PathBuf> = std::fs::read_dir(workspace().join("proto/posdiag/v1"))
        .unwrap()
        .map(|e| Path::new("posdiag/v1").join(e.unwrap().file_name()))
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .collect();
    check(
        Command::new(python)
            // Relative to `proto/`: protoc wants files named under an include path.
            .args(["-m", "grpc_tools.protoc", "-I."])
            .arg(format!("--python_out={}", out.display()))
            .arg(format!("--grpc_python_out={}", out.display()))
            .args(&protos)
            .current_dir(workspace().join("proto"))
            .output(),
        "python -m grpc_tools.protoc for proto/posdiag/v1",
    );
}
