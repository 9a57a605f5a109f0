//! Shared by the tests and the benchmark: builds the C test plugins in
//! `tests/plugins/` with the system C compiler and the `posdiag-plugin-host`
//! binary with cargo (once per test binary), and starts supervised plugins
//! against that freshly built host binary.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use posdiag_plugin_supervisor::{PluginHandle, PluginSpec, SupervisorConfig};

/// The plugins under `tests/plugins/`, by file stem.
pub const PLUGINS: &[&str] = &[
    "ok",
    "abort",
    "segv",
    "loop",
    "sleep",
    "oom",
    "badpb",
    "huge",
    "badabi",
    "nosym",
    "crashinit",
    "echo",
];

/// The plugin id every test plugin reports.
pub const PLUGIN_ID: &str = "test.plugin";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles every test plugin into a directory of this test binary, plus a
/// text file named `notalib.so`; returns the directory.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_string_lossy().into_owned();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("plugins")
            .join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let src = crate_dir().join("tests/plugins");
        let include = crate_dir().join("../posdiag-plugin-api/include");
        let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
        for p in PLUGINS {
            let out = dir.join(format!("{p}.so"));
            let status = Command::new(&cc)
                .args([
                    "-shared",
                    "-fPIC",
                    "-O1",
                    "-Wall",
                    "-Wno-unused-function",
                    "-I",
                ])
                .arg(&include)
                .arg("-I")
                .arg(&src)
                .arg("-o")
                .arg(&out)
                .arg(src.join(format!("{p}.c")))
                .status()
                .expect("running the C compiler (set CC to override `cc`)");
            assert!(status.success(), "compiling tests/plugins/{p}.c failed");
        }
        std::fs::write(
            dir.join("notalib.so"),
            "this is a text file, not an ELF library\n",
        )
        .unwrap();
        dir
    })
}

/// The path of a built test plugin (`ok`, `segv`, …, or `notalib`).
pub fn library(name: &str) -> PathBuf {
    plugin_dir().join(format!("{name}.so"))
}

/// The `posdiag-plugin-host` binary, built now. It is another package's
/// binary, so cargo does not build it for this one's tests (nor set
/// `CARGO_BIN_EXE_*`); the end-to-end harness (`tests/src/lib.rs`) does the same.
pub fn host_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/debug/deps/<test binary> -> target/debug
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "posdiag-plugin-host",
            "--bin",
            "posdiag-plugin-host",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .expect("running cargo build for posdiag-plugin-host");
        assert!(status.success(), "building posdiag-plugin-host failed");
        dir.join("posdiag-plugin-host")
    })
}

/// A config for tests: the freshly built host, fast back-off, quarantine after 3.
pub fn config() -> SupervisorConfig {
    let mut c = SupervisorConfig::new(host_binary().to_owned());
    c.restart_backoff = (Duration::from_millis(10), Duration::from_millis(100));
    c.quarantine_after = 3;
    c.quarantine_window = Duration::from_secs(60);
    c.ping_interval = None;
    c
}

/// Starts the named test plugin under `config`.
pub fn start_with(name: &str, config: SupervisorConfig) -> PluginHandle {
    PluginHandle::start(
        PluginSpec {
            id: PLUGIN_ID.into(),
            library: library(name),
            init_request: Default::default(),
        },
        config,
    )
}

/// Starts the named test plugin with [`config`].
pub fn start(name: &str) -> PluginHandle {
    start_with(name, config())
}
