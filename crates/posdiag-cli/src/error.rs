//! Why a command failed, and the exit code each failure maps to. The words a
//! person reads are in [`crate::i18n`]; the only place that interprets a gRPC
//! status code is [`CliError::from_status`].

use std::error::Error as StdError;
use std::fmt;
use std::io;

use posdiag_core::Lang;

/// Exit code for invalid command-line arguments (BSD `EX_USAGE`, as the
/// daemon uses for configuration errors).
pub const EXIT_USAGE: u8 = 64;
/// Exit code when the daemon could not be reached or refused the request:
/// the state of the subject is not known (monitoring-plugin UNKNOWN).
pub const EXIT_UNKNOWN: u8 = 3;

/// An invalid command line, found before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// `--endpoint` is neither `unix:PATH` nor `http://HOST:PORT`.
    Endpoint(String),
    /// A probe target is not `HOST:PORT`.
    Target(String),
    /// A number outside its allowed range.
    Range {
        /// The option, e.g. `--count`.
        flag: &'static str,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
        /// What was given.
        got: u64,
    },
    /// A character that is not a hex digit (position counted from 1).
    HexDigit {
        /// The option, e.g. `--send-hex`.
        flag: &'static str,
        /// What was given.
        input: String,
        /// 1-based character position of the bad character.
        pos: usize,
    },
    /// An odd number of hex digits.
    HexOdd {
        /// The option.
        flag: &'static str,
        /// What was given.
        input: String,
    },
    /// Empty bytes where some are needed.
    HexEmpty {
        /// The option.
        flag: &'static str,
    },
    /// `--send` without `--expect`.
    SendWithoutExpect,
    /// `--scheme` names no known code scheme.
    Scheme {
        /// What was given.
        given: String,
        /// The known scheme names.
        known: Vec<String>,
    },
    /// `posdiag explain` without a code or `--search`.
    NothingToExplain,
    /// `--url` is not an http:// or https:// URL.
    Url(String),
}

/// The part of a connection failure a person can act on, e.g. "No such file
/// or directory".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoCause {
    /// The kind of the innermost I/O error, when there was one.
    pub kind: Option<io::ErrorKind>,
    /// Its English text without the "(os error N)" suffix.
    pub text: String,
}

impl IoCause {
    /// Finds the innermost `io::Error` in `err`'s source chain; falls back to
    /// the innermost error's text.
    pub fn from_error(err: &(dyn StdError + 'static)) -> IoCause {
        let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
        let mut last = err;
        let mut found: Option<&io::Error> = None;
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<io::Error>() {
                found = Some(io);
            }
            last = e;
            cur = e.source();
        }
        match found {
            Some(io) => IoCause {
                kind: Some(io.kind()),
                text: strip_os_error(&io.to_string()),
            },
            None => IoCause {
                kind: None,
                text: strip_os_error(&last.to_string()),
            },
        }
    }

    /// The cause in `lang`: common kinds are translated, others stay English.
    pub fn text(&self, lang: Lang) -> String {
        if lang == Lang::ZhCn {
            let zh = match self.kind {
                Some(io::ErrorKind::NotFound) => Some("没有那个文件或目录"),
                Some(io::ErrorKind::PermissionDenied) => Some("权限不够"),
                Some(io::ErrorKind::ConnectionRefused) => Some("连接被拒绝"),
                Some(io::ErrorKind::TimedOut) => Some("连接超时"),
                _ => None,
            };
            if let Some(zh) = zh {
                return zh.to_owned();
            }
        }
        self.text.clone()
    }
}

fn strip_os_error(s: &str) -> String {
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_owned(),
        _ => s.to_owned(),
    }
}

/// Why a command failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// The command line is invalid; nothing was sent.
    Usage(UsageError),
    /// No connection to the daemon.
    Unreachable {
        /// The endpoint as the user wrote it.
        endpoint: String,
        /// What went wrong.
        cause: IoCause,
    },
    /// The daemon's unix socket (or its directory) may not be opened by
    /// this user: not a daemon that is down, a group to join.
    SocketPermission {
        /// The endpoint as the user wrote it.
        endpoint: String,
        /// The socket's path.
        path: String,
        /// The group that owns the socket (or, when the socket itself
        /// cannot be looked at, its directory); `None` when neither can.
        group: Option<Group>,
    },
    /// The daemon answered with an error status.
    Rpc {
        /// The gRPC status code.
        code: tonic::Code,
        /// The daemon's message (names the field or the known ids).
        message: String,
        /// The endpoint as the user wrote it.
        endpoint: String,
    },
    /// A check stream ended without its `Completed` event.
    StreamIncomplete,
    /// The daemon closed a watch stream.
    WatchEnded,
    /// Writing to stdout or stderr failed.
    Output(io::Error),
    /// `posdiag id` could not do its work (its own exit codes: 2 for usage).
    Id(crate::id::IdError),
    /// `demo` or `plugin verify`: the sibling `posdiag-lab` cannot be run.
    Lab(crate::lab::LabError),
    /// A bug in posdiag (for example the embedded descriptors are broken).
    Internal(String),
}

/// A group that owns a file: its id and, when `/etc/group` names it, its
/// name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The numeric group id.
    pub gid: u32,
    /// The name from `/etc/group`.
    pub name: Option<String>,
}

impl Group {
    /// The name, else the number (`usermod -aG` takes either).
    pub fn shown(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.gid.to_string())
    }
}

/// The group that owns `path`, or its directory when `path` itself cannot
/// be looked at (a directory without search permission).
pub fn owning_group(path: &std::path::Path, group_file: &std::path::Path) -> Option<Group> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => std::fs::metadata(path.parent()?).ok()?,
    };
    let gid = meta.gid();
    Some(Group {
        gid,
        name: group_name(gid, group_file),
    })
}

/// The name of group `gid` in a `group(5)` file (`name:password:gid:members`).
fn group_name(gid: u32, group_file: &std::path::Path) -> Option<String> {
    use std::io::Read;
    // /etc/group is small; the bound only guards against a strange system.
    let mut text = String::new();
    std::fs::File::open(group_file)
        .ok()?
        .take(4 << 20)
        .read_to_string(&mut text)
        .ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.split(':');
        let name = parts.next()?;
        let id = parts.nth(1)?;
        (id.parse::<u32>().ok()? == gid && !name.is_empty()).then(|| name.to_owned())
    })
}

impl CliError {
    /// The daemon at `endpoint` could not be reached because of `cause`:
    /// [`CliError::SocketPermission`] when a unix socket refused this user
    /// (EACCES, EPERM), else [`CliError::Unreachable`].
    pub fn unreachable(endpoint: &str, cause: IoCause) -> CliError {
        if cause.kind == Some(io::ErrorKind::PermissionDenied)
            && let Some(path) = endpoint.strip_prefix("unix:")
        {
            return CliError::SocketPermission {
                endpoint: endpoint.to_owned(),
                path: path.to_owned(),
                group: owning_group(
                    std::path::Path::new(path),
                    std::path::Path::new("/etc/group"),
                ),
            };
        }
        CliError::Unreachable {
            endpoint: endpoint.to_owned(),
            cause,
        }
    }

    /// The one place that turns a gRPC status into an error a person can act
    /// on. A status that carries an I/O error (the channel could not connect)
    /// is a failure to reach the daemon, whatever its code.
    pub fn from_status(status: tonic::Status, endpoint: &str) -> CliError {
        if status.code() == tonic::Code::Unavailable
            && let Some(src) = status.source()
        {
            let cause = IoCause::from_error(src);
            if cause.kind.is_some() {
                return CliError::unreachable(endpoint, cause);
            }
        }
        CliError::Rpc {
            code: status.code(),
            message: status.message().to_owned(),
            endpoint: endpoint.to_owned(),
        }
    }

    /// The process exit code: 64 for a bad command line, 3 (UNKNOWN) for
    /// everything else, since the subject's state could not be found out;
    /// `posdiag id` errors have their own ([`crate::id::IdError::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Id(e) => e.exit_code(),
            _ => EXIT_UNKNOWN,
        }
    }

    /// The sentence a person reads, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        crate::i18n::error_message(self, lang)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl StdError for CliError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            CliError::Output(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UsageError> for CliError {
    fn from(e: UsageError) -> CliError {
        CliError::Usage(e)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> CliError {
        CliError::Output(e)
    }
}

/// The message and exit code for an error that reached `main`: a
/// [`CliError`] anywhere in the chain is shown in `lang`; anything else (the
/// demo's own errors) is shown with its context chain and exits 3.
pub fn report(err: &anyhow::Error, lang: Lang) -> (String, u8) {
    if let Some(e) = err.chain().find_map(|e| e.downcast_ref::<CliError>()) {
        return (e.message(lang), e.exit_code());
    }
    (format!("{err:#}"), EXIT_UNKNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_64_and_everything_else_3() {
        assert_eq!(
            CliError::Usage(UsageError::SendWithoutExpect).exit_code(),
            64
        );
        assert_eq!(
            CliError::from_status(tonic::Status::not_found("x"), "e").exit_code(),
            3
        );
        assert_eq!(CliError::StreamIncomplete.exit_code(), 3);
        let unreachable = CliError::Unreachable {
            endpoint: "unix:/x".into(),
            cause: IoCause {
                kind: Some(io::ErrorKind::NotFound),
                text: "No such file or directory".into(),
            },
        };
        assert_eq!(unreachable.exit_code(), 3);
    }

    #[test]
    fn not_found_and_invalid_argument_show_the_daemons_message() {
        let msg = "no terminal \"T9\"; known terminals: T1, T2";
        let e = CliError::from_status(tonic::Status::not_found(msg), "unix:/s");
        assert_eq!(e.message(Lang::En), msg);
        assert!(e.message(Lang::ZhCn).contains(msg));
        let e = CliError::from_status(
            tonic::Status::invalid_argument("count: must be at most 100"),
            "unix:/s",
        );
        assert_eq!(e.message(Lang::En), "count: must be at most 100");
    }

    #[test]
    fn an_unavailable_status_carrying_an_io_error_is_unreachable() {
        let io = io::Error::from_raw_os_error(111);
        let mut status = tonic::Status::unavailable("connection error");
        status.set_source(std::sync::Arc::new(io));
        let e = CliError::from_status(status, "http://127.0.0.1:1");
        assert!(matches!(e, CliError::Unreachable { .. }), "{e:?}");
        assert!(
            e.message(Lang::En)
                .starts_with("cannot reach posdiagd at http://127.0.0.1:1 (Connection refused)"),
            "{}",
            e.message(Lang::En)
        );
    }

    #[test]
    fn permission_denied_on_a_unix_socket_names_the_group_to_join() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("posdiagd.sock");
        std::fs::write(&sock, b"").expect("stand-in socket");
        let gid = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&sock).expect("stat").gid()
        };
        let groups = dir.path().join("group");
        std::fs::write(
            &groups,
            format!("wheel:x:{}:\nposdiag:x:{gid}:alice\n", gid + 1),
        )
        .expect("group file");
        assert_eq!(
            owning_group(&sock, &groups),
            Some(Group {
                gid,
                name: Some("posdiag".into())
            })
        );
        // No name in the file: the number stands in for it.
        std::fs::write(&groups, "other:x:4242424:\n").expect("group file");
        assert_eq!(
            owning_group(&sock, &groups).map(|g| g.shown()),
            Some(gid.to_string())
        );

        let endpoint = format!("unix:{}", sock.display());
        let eacces = io::Error::from_raw_os_error(13);
        let mut status = tonic::Status::unavailable("connection error");
        status.set_source(std::sync::Arc::new(eacces));
        let e = CliError::from_status(status, &endpoint);
        assert!(matches!(e, CliError::SocketPermission { .. }), "{e:?}");
        assert_eq!(e.exit_code(), EXIT_UNKNOWN);
        for lang in [Lang::En, Lang::ZhCn] {
            let m = e.message(lang);
            assert!(m.contains(&sock.display().to_string()), "{m}");
            assert!(m.contains("sudo usermod -aG"), "{m}");
            assert!(
                !m.contains("daemon running") && !m.contains("是否在运行"),
                "{m}"
            );
        }
        // EPERM too; over TCP there is no socket file to blame.
        let eperm = IoCause::from_error(&io::Error::from_raw_os_error(1));
        assert!(matches!(
            CliError::unreachable(&endpoint, eperm.clone()),
            CliError::SocketPermission { .. }
        ));
        assert!(matches!(
            CliError::unreachable("http://127.0.0.1:1", eperm),
            CliError::Unreachable { .. }
        ));
    }

    #[test]
    fn os_error_suffix_is_dropped_and_kinds_are_translated() {
        let io = io::Error::from_raw_os_error(2);
        let cause = IoCause::from_error(&io);
        assert_eq!(cause.text, "No such file or directory");
        assert_eq!(cause.text(Lang::ZhCn), "没有那个文件或目录");
    }

    #[test]
    fn report_finds_a_cli_error_inside_anyhow_context() {
        let err = anyhow::Error::new(CliError::Usage(UsageError::Target("x".into())))
            .context("starting the demo");
        let (msg, code) = report(&err, Lang::En);
        assert_eq!(code, 64);
        assert!(msg.starts_with("invalid target \"x\""), "{msg}");
        let (msg, code) = report(&anyhow::anyhow!("boom"), Lang::En);
        assert_eq!((msg.as_str(), code), ("boom", 3));
    }
}
