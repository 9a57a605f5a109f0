//! Shared by the tests and the benchmark: builds the C test plugins in
//! `tests/plugins/` with the system C compiler (once per test binary), and
//! starts supervised plugins against the freshly built host binary.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use posdiag_plugin_host::{Plugin, PluginSpec, SupervisorConfig};

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

/// A config for tests: the freshly built host, fast back-off, quarantine after 3.
pub fn config() -> SupervisorConfig {
    let mut c = SupervisorConfig::new(PathBuf::from(env!("CARGO_BIN_EXE_posdiag-plugin-host")));
    c.restart_backoff = (Duration::from_millis(10), Duration::from_millis(100));
    c.quarantine_after = 3;
    c.quarantine_window = Duration::from_secs(60);
    c.ping_interval = None;
    c
}

/// Starts the named test plugin under `config`.
pub fn start_with(name: &str, config: SupervisorConfig) -> Plugin {
    Plugin::start(
        PluginSpec {
            id: PLUGIN_ID.into(),
            library: library(name),
            init_request: Vec::new(),
        },
        config,
    )
}

/// Starts the named test plugin with [`config`].
pub fn start(name: &str) -> Plugin {
    start_with(name, config())
}
