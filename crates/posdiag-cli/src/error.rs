//! Why a command failed, the sentence a person reads for it (a [`Text`] in
//! every language, written next to each variant), and the exit code each
//! failure maps to. The only place that interprets a gRPC
//! status code is [`CliError::from_status`].

use std::error::Error as StdError;
use std::fmt;
use std::io;

use posdiag_core::{Lang, Text};

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
    /// EMV input that cannot be decoded (`posdiag emv decode --local`),
    /// with the decoder's message.
    Emv(Text),
    /// `--url` is not an http:// or https:// URL.
    Url(String),
    /// A `--since`/`--until` value in none of the accepted forms.
    When {
        /// The option, `--since` or `--until`.
        flag: &'static str,
        /// What was given.
        given: String,
    },
    /// `--since` is not before `--until`.
    SinceNotBeforeUntil,
    /// A `--window` that is not a length from a minute to 400 days.
    Window(String),
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

    /// The cause in every language: common kinds are translated, others
    /// stay English.
    pub fn localized(&self) -> Text {
        let zh = match self.kind {
            Some(io::ErrorKind::NotFound) => "没有那个文件或目录",
            Some(io::ErrorKind::PermissionDenied) => "权限不够",
            Some(io::ErrorKind::ConnectionRefused) => "连接被拒绝",
            Some(io::ErrorKind::TimedOut) => "连接超时",
            _ => &self.text,
        };
        Text::new(self.text.clone(), zh)
    }

    /// The cause in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        self.localized().get(lang).to_owned()
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
    /// TLS with the daemon failed (unknown CA, wrong name, a certificate
    /// expired or refused).
    Tls {
        /// The endpoint as the user wrote it.
        endpoint: String,
        /// What failed and what to do.
        problem: Text,
    },
    /// The TLS files or the token file given cannot be used.
    Credentials(Text),
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
    /// `posdiag history --export -o FILE`: the file cannot be created or written.
    ExportFile {
        /// The file as given.
        path: String,
        /// What went wrong.
        cause: IoCause,
    },
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
        // A client certificate the daemon refused shows only once the
        // connection is used (TLS 1.3 sends the alert after the handshake).
        if let Some(problem) = status.source().and_then(crate::tls::classify) {
            return CliError::Tls {
                endpoint: endpoint.to_owned(),
                problem,
            };
        }
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

    /// The connection failed under the call (not an answer of the
    /// daemon's): worth asking the transport why.
    pub fn is_transport_failure(&self) -> bool {
        matches!(
            self,
            CliError::Unreachable { .. }
                | CliError::Rpc {
                    code: tonic::Code::Cancelled | tonic::Code::Unknown | tonic::Code::Unavailable,
                    ..
                }
        )
    }

    /// The sentence a person reads, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        self.text().get(lang).to_owned()
    }

    /// The sentence a person reads, in every language, without a trailing period.
    pub fn text(&self) -> Text {
        match self {
            CliError::Usage(u) => u.text(),
            CliError::Unreachable { endpoint, cause } => {
                let Text {
                    en: cause_en,
                    zh: cause_zh,
                } = cause.localized();
                let Text {
                    en: daemon_en,
                    zh: daemon_zh,
                } = daemon(endpoint);
                Text::new(
                    format!(
                        "cannot reach {daemon_en} ({cause_en}): is the daemon running? \
                         Start it with \"systemctl start posdiagd\" or \"posdiagd --config /etc/posdiag/posdiagd.toml\", \
                         or point --endpoint / POSDIAG_ENDPOINT at it"
                    ),
                    format!(
                        "无法连接 {daemon_zh}（{cause_zh}）：守护进程是否在运行？\
                         请用 \"systemctl start posdiagd\" 或 \"posdiagd --config /etc/posdiag/posdiagd.toml\" 启动它，\
                         或用 --endpoint / POSDIAG_ENDPOINT 指向它"
                    ),
                )
            }
            CliError::SocketPermission {
                endpoint: _,
                path,
                group,
            } => {
                let path = crate::output::sanitize(path);
                match group {
                    Some(g) => {
                        let name = crate::output::sanitize(&g.shown());
                        Text::new(
                            format!(
                                "permission denied on {path}: this user may not use posdiagd's socket. \
                             The socket is owned by group \"{name}\" (gid {}): add yourself to that group \
                             (sudo usermod -aG {name} $USER, then log in again) or run as root",
                                g.gid
                            ),
                            format!(
                                "无权访问 {path}（权限不够）：当前用户不能使用 posdiagd 的套接字。\
                             该套接字属于用户组 \"{name}\"（gid {}）：请把自己加入该组\
                             （sudo usermod -aG {name} $USER，然后重新登录），或以 root 身份运行",
                                g.gid
                            ),
                        )
                    }
                    None => Text::new(
                        format!(
                            "permission denied on {path}: this user may not use posdiagd's socket or its directory; \
                         ask the administrator which group grants access and join it (sudo usermod -aG GROUP $USER, then log in again), or run as root"
                        ),
                        format!(
                            "无权访问 {path}（权限不够）：当前用户不能使用 posdiagd 的套接字或其所在目录；\
                         请向管理员询问哪个用户组可以访问并加入该组（sudo usermod -aG 用户组 $USER，然后重新登录），或以 root 身份运行"
                        ),
                    ),
                }
            }
            CliError::Rpc {
                code,
                message,
                endpoint,
            } => rpc_message(*code, message, endpoint),
            CliError::Tls { endpoint, problem } => {
                let endpoint = crate::output::sanitize(endpoint);
                Text::new(
                    format!(
                        "cannot connect to posdiagd at {endpoint} over TLS: {}",
                        problem.en
                    ),
                    format!("无法通过 TLS 连接 {endpoint} 上的 posdiagd：{}", problem.zh),
                )
            }
            CliError::Credentials(t) => t.clone(),
            CliError::StreamIncomplete => ended_early(Text::new(
                "the check before reporting an overall result",
                "在给出总体结论之前结束了检查",
            )),
            CliError::WatchEnded => Text::new(
                "posdiagd closed the watch stream (has the daemon stopped?)",
                "posdiagd 关闭了监视流（守护进程可能已停止）",
            ),
            CliError::Output(e) => Text::new(
                format!("cannot write the output: {e}"),
                format!("无法写出结果：{e}"),
            ),
            CliError::Id(e) => e.text(),
            CliError::Lab(e) => e.text(),
            CliError::ExportFile { path, cause } => {
                let path = crate::output::sanitize(path);
                let Text { en, zh } = cause.localized();
                Text::new(
                    format!(
                        "cannot write the export to {path} ({en}): check the directory exists and is writable, or leave out -o to write to stdout"
                    ),
                    format!(
                        "无法把导出写入 {path}（{zh}）：请确认目录存在且可写，或去掉 -o 输出到标准输出"
                    ),
                )
            }
            CliError::Internal(what) => Text::new(
                format!("internal error in posdiag: {what} (please report this)"),
                format!("posdiag 内部错误：{what}（请报告此问题）"),
            ),
        }
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

impl UsageError {
    /// The sentence a person reads, in every language.
    pub fn text(&self) -> Text {
        match self {
            UsageError::Endpoint(s) => Text::new(
                format!(
                    "invalid endpoint \"{s}\": expected unix:PATH (for example unix:/run/posdiag/posdiagd.sock), http://HOST:PORT (loopback) or https://HOST:PORT (mutual TLS)"
                ),
                format!(
                    "无效的 endpoint \"{s}\"：应为 unix:路径（例如 unix:/run/posdiag/posdiagd.sock）、http://主机:端口（本机）或 https://主机:端口（双向 TLS）"
                ),
            ),
            UsageError::Url(s) => Text::new(
                format!(
                    "invalid URL \"{s}\": expected http:// or https://, for example https://192.168.1.60:8443/nexo"
                ),
                format!(
                    "无效的 URL \"{s}\"：应为 http:// 或 https:// 开头，例如 https://192.168.1.60:8443/nexo"
                ),
            ),
            UsageError::Target(s) => Text::new(
                format!(
                    "invalid target \"{s}\": expected HOST:PORT with a port from 1 to 65535, for example acquirer.example:5000 or [2001:db8::1]:5000"
                ),
                format!(
                    "无效的目标 \"{s}\"：应为 主机:端口，端口为 1 到 65535，例如 acquirer.example:5000 或 [2001:db8::1]:5000"
                ),
            ),
            UsageError::Range {
                flag,
                min,
                max,
                got,
            } => Text::new(
                format!("{flag} must be between {min} and {max}, got {got}"),
                format!("{flag} 必须在 {min} 到 {max} 之间，实际为 {got}"),
            ),
            UsageError::HexDigit { flag, input, pos } => Text::new(
                format!(
                    "{flag} \"{input}\" has a character that is not a hex digit at position {pos} (use 0-9 and a-f, optionally separated by spaces or colons)"
                ),
                format!(
                    "{flag} \"{input}\" 的第 {pos} 个字符不是十六进制数字（允许 0-9、a-f，字节之间可用空格或冒号分隔）"
                ),
            ),
            UsageError::HexOdd { flag, input } => Text::new(
                format!("{flag} \"{input}\" has an odd number of hex digits: each byte needs two"),
                format!("{flag} \"{input}\" 的十六进制数字个数为奇数：每个字节需要两位"),
            ),
            UsageError::HexEmpty { flag } => Text::new(
                format!("{flag} must not be empty"),
                format!("{flag} 不能为空"),
            ),
            UsageError::Scheme { given, known } => Text::new(
                format!(
                    "unknown code scheme {given:?}; known schemes: {}",
                    known.join(", ")
                ),
                format!("未知的代码体系 {given:?}；已知体系：{}", known.join(", ")),
            ),
            UsageError::Emv(text) => text.clone(),
            UsageError::NothingToExplain => Text::new(
                "give a code to explain (for example posdiag explain 103), or --search TEXT",
                "请给出要解释的代码（例如 posdiag explain 103），或用 --search 文本 搜索",
            ),
            UsageError::When { flag, given } => {
                let given = crate::output::sanitize(given);
                Text::new(
                    format!(
                        "{flag} \"{given}\" is not a time: use a span back from now (30m, 24h, 7d, 2w), \
                         a date (2026-12-01, from midnight local time), a local date and time (2026-12-01T08:00) \
                         or a time with its offset (2026-12-01T08:00:00Z)"
                    ),
                    format!(
                        "{flag} \"{given}\" 不是有效的时间：请用距今的时长（30m、24h、7d、2w）、\
                         日期（2026-12-01，从本地时间零点起）、本地日期和时间（2026-12-01T08:00）\
                         或带时区偏移的时间（2026-12-01T08:00:00Z）"
                    ),
                )
            }
            UsageError::SinceNotBeforeUntil => {
                Text::new("--since must be before --until", "--since 必须早于 --until")
            }
            UsageError::Window(given) => {
                let given = crate::output::sanitize(given);
                Text::new(
                    format!(
                        "--window \"{given}\" is not a length of time from 1m to 400d: use for example 24h, 7d or 30d"
                    ),
                    format!("--window \"{given}\" 不是 1m 到 400d 之间的时长：例如 24h、7d 或 30d"),
                )
            }
            UsageError::SendWithoutExpect => Text::new(
                "--send/--send-hex needs --expect or --expect-hex: the bytes the answer must start with",
                "使用 --send/--send-hex 时必须同时给出 --expect 或 --expect-hex（应答必须以其开头的字节）",
            ),
        }
    }
}

fn rpc_message(code: tonic::Code, message: &str, endpoint: &str) -> Text {
    use tonic::Code;
    let Text {
        en: daemon_en,
        zh: daemon_zh,
    } = daemon(endpoint);
    match code {
        // The daemon's message already names the id or field and what is
        // known, in the language the CLI asked for (the `posdiag-lang` header).
        Code::NotFound | Code::InvalidArgument | Code::FailedPrecondition => {
            Text::new(message, message)
        }
        Code::Unavailable => Text::new(
            format!("{daemon_en} is unavailable: {message}"),
            format!("{daemon_zh} 暂不可用：{message}"),
        ),
        Code::DeadlineExceeded => Text::new(
            format!("posdiagd did not finish the request in time: {message}"),
            format!("posdiagd 未能在时限内完成请求：{message}"),
        ),
        Code::Unimplemented => Text::new(
            format!(
                "{daemon_en} does not support this request (is it an older version?): {message}"
            ),
            format!("{daemon_zh} 不支持此请求（版本是否较旧？）：{message}"),
        ),
        Code::PermissionDenied | Code::Unauthenticated => Text::new(
            format!("posdiagd does not allow this request: {message}"),
            format!("posdiagd 不允许此请求：{message}"),
        ),
        Code::ResourceExhausted => Text::new(
            format!("posdiagd is at its limit for this caller: {message}"),
            format!("posdiagd 对此调用方已达上限：{message}"),
        ),
        other => {
            let name = format!("{other:?}");
            Text::new(
                format!("posdiagd answered {name}: {message}"),
                format!("posdiagd 返回错误 {name}：{message}"),
            )
        }
    }
}

/// "posdiagd at ENDPOINT", or just "posdiagd" when the endpoint is not known
/// (a stream rendered without one).
pub(crate) fn daemon(endpoint: &str) -> Text {
    if endpoint.is_empty() {
        Text::new("posdiagd", "posdiagd")
    } else {
        Text::new(
            format!("posdiagd at {endpoint}"),
            format!("{endpoint} 上的 posdiagd"),
        )
    }
}

/// The daemon ended `what` early: the one sentence for every stream that
/// stops before its last message.
pub(crate) fn ended_early(what: Text) -> Text {
    Text::new(
        format!(
            "posdiagd ended {} (is the daemon shutting down?); run it again",
            what.en
        ),
        format!("posdiagd {}（守护进程可能正在关闭），请重试", what.zh),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_read_differently_per_language() {
        let e = CliError::Usage(UsageError::SendWithoutExpect);
        assert!(e.message(Lang::En).starts_with("--send"));
        assert!(e.message(Lang::ZhCn).contains("必须"));
    }

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
