//! Python tools the interoperability tests drive (grpcio, pyemv), installed
//! from PyPI into a venv of their own under the target directory the first
//! time, and again only when their requirements file changes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::workspace;

/// The python of the venv at `dir/venv`, after installing `requirements`
/// (a path under the workspace, e.g. `tests/python/requirements.txt`) with
/// `pip install [pip_args] -r requirements` unless exactly that list is
/// installed already (a copy of it is kept beside the venv as the stamp).
/// Panics with what failed and how to provide it (python3-venv, PyPI).
pub fn venv(dir: &Path, requirements: &str, pip_args: &[&str]) -> PathBuf {
    let python = dir.join("venv/bin/python");
    let stamp = dir.join("installed-requirements.txt");
    let file = workspace().join(requirements);
    let wanted =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {requirements}: {e}"));
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return python;
    }
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let _ = std::fs::remove_file(&stamp);
    check(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(dir.join("venv"))
            .output(),
        "python3 -m venv (needs python3 with the venv module: apt-get install python3-venv)",
    );
    check(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "--timeout",
                "30",
                "--retries",
                "2",
            ])
            .args(pip_args)
            .arg("-r")
            .arg(&file)
            .output(),
        &format!(
            "pip install -r {requirements} into {}/venv (the first run needs PyPI, or an index \
             in PIP_INDEX_URL)",
            dir.display()
        ),
    );
    std::fs::write(&stamp, wanted).unwrap_or_else(|e| panic!("writing {}: {e}", stamp.display()));
    python
}

/// Asserts a command started and succeeded, showing its output when not.
pub fn check(out: std::io::Result<Output>, what: &str) {
    let out = out.unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
