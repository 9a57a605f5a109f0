//! `posdiag demo` and `posdiag plugin verify` run in the sibling binary
//! `posdiag-lab` (an in-process daemon, simulators, a plugin host: nothing a
//! client that only talks gRPC should link). Like git's subcommands, it is
//! looked for next to the running `posdiag` and exec'd with the same
//! arguments, so its output and exit code are the command's.
//!
//! Under `cargo run` (cargo sets `CARGO` and `CARGO_MANIFEST_DIR`) the
//! sibling is built first with `cargo build -p posdiag-lab` in the same
//! profile (a no-op when fresh), so `cargo run --bin posdiag -- demo` works on
//! a fresh clone and never runs a stale demo after an edit.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use posdiag_core::{Lang, Text};

use crate::error::{CliError, IoCause};

/// The sibling's file name.
pub const LAB: &str = "posdiag-lab";

/// How this process was started, read once by `main`.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The command line, program name first.
    pub args: Vec<OsString>,
    /// The running executable.
    pub exe: Option<PathBuf>,
    /// `CARGO`: set when started by `cargo run`.
    pub cargo: Option<OsString>,
    /// `CARGO_MANIFEST_DIR`: set when started by `cargo run`.
    pub manifest_dir: Option<PathBuf>,
}

/// Why `posdiag-lab` could not be run.
#[derive(Debug)]
#[non_exhaustive]
pub enum LabError {
    /// It is not next to `posdiag`.
    NotInstalled {
        /// Where it was looked for.
        path: String,
    },
    /// `cargo build -p posdiag-lab` failed.
    BuildFailed {
        /// The command that was run.
        command: String,
    },
    /// It is there but could not be started.
    Exec {
        /// Its path.
        path: String,
        /// Why.
        cause: IoCause,
    },
}

impl LabError {
    /// Why `posdiag demo` or `posdiag plugin verify` could not start `posdiag-lab`.
    /// The sentence a person reads, in every language.
    pub fn text(&self) -> Text {
        match self {
            LabError::NotInstalled { path } => {
                let path = crate::output::sanitize(path);
                Text::new(
                    format!(
                        "posdiag-lab is not installed (not found at {path}); it runs demo and plugin verify. \
                         Install the package that ships posdiag-lab, or run \"cargo build -p posdiag-lab\" in the source tree \
                         and put posdiag-lab next to posdiag"
                    ),
                    format!(
                        "posdiag-lab 未安装（在 {path} 找不到）：demo 和 plugin verify 由它运行。\
                         请安装包含 posdiag-lab 的软件包，或在源代码树中运行 \"cargo build -p posdiag-lab\"，\
                         把 posdiag-lab 放在 posdiag 旁边"
                    ),
                )
            }
            LabError::BuildFailed { command } => Text::new(
                format!("building posdiag-lab failed ({command}): see cargo's output above"),
                format!("构建 posdiag-lab 失败（{command}）：请查看上面 cargo 的输出"),
            ),
            LabError::Exec { path, cause } => {
                let path = crate::output::sanitize(path);
                let Text {
                    en: cause_en,
                    zh: cause_zh,
                } = cause.localized();
                Text::new(
                    format!("cannot run {path} ({cause_en}): reinstall posdiag-lab"),
                    format!("无法运行 {path}（{cause_zh}）：请重新安装 posdiag-lab"),
                )
            }
        }
    }
}

impl From<LabError> for CliError {
    fn from(e: LabError) -> CliError {
        CliError::Lab(e)
    }
}

/// Replaces this process with `posdiag-lab` and the same arguments; returns
/// only when that fails.
pub fn exec(launch: &Launch, lang: Lang) -> Result<u8, CliError> {
    let dir = launch
        .exe
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let mut lab = dir.join(LAB);
    // Under `cargo run` the sibling is built every time (a no-op when it is
    // fresh), so an edited source tree never runs a stale demo.
    if let (Some(cargo), Some(manifest)) = (&launch.cargo, &launch.manifest_dir) {
        build(cargo, manifest, dir, lang, lab.is_file())?;
    } else if !lab.is_file() {
        // The Debian package keeps it out of PATH: /usr/libexec/posdiag/ for /usr/bin/posdiag.
        let packaged = libexec_path(dir);
        if packaged.is_file() {
            lab = packaged;
        }
    }
    if !lab.is_file() {
        return Err(LabError::NotInstalled {
            path: lab.display().to_string(),
        }
        .into());
    }
    let err = Command::new(&lab).args(launch.args.iter().skip(1)).exec();
    Err(LabError::Exec {
        path: lab.display().to_string(),
        cause: IoCause::from_error(&err),
    }
    .into())
}

/// Where the Debian package puts `posdiag-lab` for a `posdiag` in `dir`:
/// `PREFIX/libexec/posdiag/posdiag-lab` for `PREFIX/bin`.
fn libexec_path(dir: &Path) -> PathBuf {
    dir.parent()
        .unwrap_or(dir)
        .join("libexec/posdiag")
        .join(LAB)
}

/// The cargo profile flags that build into `dir` (`target/debug`,
/// `target/release`, `target/NAME`).
fn profile_args(dir: &Path) -> Vec<String> {
    match dir.file_name().and_then(|n| n.to_str()) {
        None | Some("debug") => Vec::new(),
        Some("release") => vec!["--release".into()],
        Some(other) => vec!["--profile".into(), other.into()],
    }
}

/// `$CARGO build -p posdiag-lab` from the workspace, in the profile of `dir`.
fn build(
    cargo: &OsString,
    manifest: &Path,
    dir: &Path,
    lang: Lang,
    built: bool,
) -> Result<(), LabError> {
    let mut args = vec!["build".to_owned(), "-p".into(), LAB.into()];
    args.extend(profile_args(dir));
    let command = format!("cargo {}", args.join(" "));
    if !built {
        crate::errln!(
            "{}",
            Text::new(
                format!("posdiag: {LAB} is not built yet; running {command}…"),
                format!("posdiag：{LAB} 尚未构建，正在运行 {command}…"),
            )
            .get(lang)
        );
    }
    // cargo reports its progress on stderr; stdout stays the command's.
    let ok = Command::new(cargo)
        .args(&args)
        .current_dir(manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(LabError::BuildFailed { command })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_lab_is_in_libexec() {
        assert_eq!(
            libexec_path(Path::new("/usr/bin")),
            Path::new("/usr/libexec/posdiag/posdiag-lab")
        );
    }

    #[test]
    fn the_sibling_is_built_in_the_profile_of_the_running_binary() {
        assert!(profile_args(Path::new("/w/target/debug")).is_empty());
        assert_eq!(profile_args(Path::new("/w/target/release")), ["--release"]);
        assert_eq!(
            profile_args(Path::new("/w/target/bench-fast")),
            ["--profile", "bench-fast"]
        );
    }

    #[test]
    fn without_cargo_a_missing_sibling_is_not_installed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let launch = Launch {
            args: vec!["posdiag".into(), "demo".into()],
            exe: Some(dir.path().join("posdiag")),
            cargo: None,
            manifest_dir: None,
        };
        let err = exec(&launch, Lang::En).expect_err("no sibling");
        assert_eq!(err.exit_code(), crate::EXIT_UNKNOWN);
        let en = err.message(Lang::En);
        assert!(en.contains("posdiag-lab is not installed"), "{en}");
        assert!(en.contains(&dir.path().display().to_string()), "{en}");
        let zh = err.message(Lang::ZhCn);
        assert!(zh.contains("未安装"), "{zh}");
    }
}
