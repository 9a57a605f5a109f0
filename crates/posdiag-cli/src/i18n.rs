//! The CLI's own words (table headers, labels, error sentences) in English and
//! Simplified Chinese. Summaries and remedies come translated from the daemon;
//! everything else a person reads is here, so a missing translation is a
//! compile error rather than an English word in a Chinese screen.
//!
//! Verdicts (`OK`, `CRITICAL`...) and reason codes (`tcp.refused`) stay as
//! they are in both languages: they are the stable codes monitoring rules and
//! help-desk scripts match on.

use posdiag_core::{Lang, Text};

use crate::error::{CliError, UsageError};
use crate::id::IdError;

macro_rules! labels {
    ($( $variant:ident = $en:literal, $zh:literal; )*) => {
        /// A fixed word or phrase of the CLI.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Label {
            $( $variant, )*
        }

        impl Label {
            /// Every label, for the test that both languages have all of them.
            pub const ALL: &'static [Label] = &[$(Label::$variant),*];

            /// The label in English and Chinese.
            pub fn text(self) -> Text {
                Text::new(self.get(Lang::En), self.get(Lang::ZhCn))
            }

            /// The label in `lang`.
            pub fn get(self, lang: Lang) -> &'static str {
                match self {
                    $(Label::$variant => match lang { Lang::En => $en, Lang::ZhCn => $zh },)*
                }
            }
        }
    };
}

// One row per label: English, then Simplified Chinese.
labels! {
    Id = "ID", "编号";
    Name = "NAME", "名称";
    VendorModel = "VENDOR/MODEL", "厂商/型号";
    Link = "LINK", "连接";
    Hosts = "HOSTS", "主机";
    Status = "STATUS", "状态";
    LastChecked = "LAST CHECKED", "最近检查";
    Verdict = "VERDICT", "结论";
    Check = "CHECK", "检查项";
    Subject = "SUBJECT", "对象";
    Reason = "REASON", "原因";
    Summary = "SUMMARY", "说明";
    Time = "TIME", "时间";
    Evidence = "evidence", "证据";
    Remedies = "remedies", "处理步骤";
    Overall = "overall", "总体";
    NotChecked = "not checked", "未检查";
    Never = "never", "从未";
    Yes = "yes", "是";
    No = "no", "否";
    Running = "running", "进行中";
    NoTerminals = "no terminals are configured", "没有配置任何终端";
    NoFindings = "no findings", "没有检查结果";
    Snapshot = "snapshot", "快照";
    Changed = "changed", "变化";
    Days = "days", "天";
    Bytes = "bytes", "字节";
    Findings = "findings", "项结果";
    Kind = "KIND", "类型";
    Description = "DESCRIPTION", "描述";
    Format = "FORMAT", "格式";
    Masked = "MASKED", "脱敏显示";
    Count = "COUNT", "数量";
    Meaning = "MEANING", "含义";
    Total = "total", "总数";
    ValidCount = "valid", "有效";
    InvalidCount = "invalid", "无效";
    Expected = "expected", "应为";
    LooksLike = "looks like", "看起来像";
    Notes = "notes", "备注";
    Suggestion = "suggestion", "建议";
    Message = "MESSAGE", "信息";
    Value = "VALUE", "值";
    FirstRow = "FIRST ROW", "首次出现的行";
    EmptyValue = "(empty)", "（空）";
    File = "file", "文件";
    Column = "column", "列";
    Examples = "examples", "示例";
    ListSeparator = "; ", "；";
    Path = "PATH", "路径";
    Device = "DEVICE", "设备";
    HeldBy = "HELD BY", "占用进程";
    Terminals = "TERMINALS", "终端";
    NoPorts = "no serial ports found", "未发现串口";
    LinkChanged = "link", "连接";
    PortGone = "port gone", "端口已消失";
    PortFree = "free", "空闲";
    PortHeldUnknown = "unknown (other users' processes not readable)", "未知（无法读取其他用户的进程）";
    Added = "added", "新增";
    Removed = "removed", "移除";
    PortKindUsb = "usb", "USB";
    PortKindUart = "uart", "串口";
    PortKindPty = "pty", "伪终端";
    PortKindOther = "other", "其他";
    Version = "VERSION", "版本";
    Crashes = "CRASHES", "崩溃次数";
    Checks = "CHECKS", "检查项";
    NoPlugins = "no plugins found", "未发现插件";
    PluginStarting = "starting", "启动中";
    PluginReady = "ready", "就绪";
    PluginRestarting = "restarting", "重启中";
    PluginQuarantined = "quarantined", "已隔离";
    PluginFailed = "failed", "加载失败";
    PluginRefused = "refused", "已拒绝";
    Symptom = "symptom", "症状";
    Diagnosis = "diagnosis", "诊断";
    Why = "why", "原因";
    RuledOut = "ruled out", "已排除";
    Skipped = "skipped", "已跳过";
}

/// The label in `lang`.
pub fn t(label: Label, lang: Lang) -> &'static str {
    label.get(lang)
}

/// The sentence a person reads for `err`, in `lang`, without a trailing period.
pub fn error_message(err: &CliError, lang: Lang) -> String {
    let zh = lang == Lang::ZhCn;
    match err {
        CliError::Usage(u) => usage_message(u, lang),
        CliError::Unreachable { endpoint, cause } => {
            let cause = cause.text(lang);
            if zh {
                let daemon = daemon(endpoint, lang);
                format!(
                    "无法连接 {daemon}（{cause}）：守护进程是否在运行？\
                     请用 \"systemctl start posdiagd\" 或 \"posdiagd --config /etc/posdiag/posdiagd.toml\" 启动它，\
                     或用 --endpoint / POSDIAG_ENDPOINT 指向它"
                )
            } else {
                let daemon = daemon(endpoint, lang);
                format!(
                    "cannot reach {daemon} ({cause}): is the daemon running? \
                     Start it with \"systemctl start posdiagd\" or \"posdiagd --config /etc/posdiag/posdiagd.toml\", \
                     or point --endpoint / POSDIAG_ENDPOINT at it"
                )
            }
        }
        CliError::SocketPermission {
            endpoint: _,
            path,
            group,
        } => {
            let path = crate::output::sanitize(path);
            match (group, zh) {
                (Some(g), false) => {
                    let name = crate::output::sanitize(&g.shown());
                    format!(
                        "permission denied on {path}: this user may not use posdiagd's socket. \
                         The socket is owned by group \"{name}\" (gid {}): add yourself to that group \
                         (sudo usermod -aG {name} $USER, then log in again) or run as root",
                        g.gid
                    )
                }
                (Some(g), true) => {
                    let name = crate::output::sanitize(&g.shown());
                    format!(
                        "无权访问 {path}（权限不够）：当前用户不能使用 posdiagd 的套接字。\
                         该套接字属于用户组 \"{name}\"（gid {}）：请把自己加入该组\
                         （sudo usermod -aG {name} $USER，然后重新登录），或以 root 身份运行",
                        g.gid
                    )
                }
                (None, false) => format!(
                    "permission denied on {path}: this user may not use posdiagd's socket or its directory; \
                     ask the administrator which group grants access and join it (sudo usermod -aG GROUP $USER, then log in again), or run as root"
                ),
                (None, true) => format!(
                    "无权访问 {path}（权限不够）：当前用户不能使用 posdiagd 的套接字或其所在目录；\
                     请向管理员询问哪个用户组可以访问并加入该组（sudo usermod -aG 用户组 $USER，然后重新登录），或以 root 身份运行"
                ),
            }
        }
        CliError::Rpc {
            code,
            message,
            endpoint,
        } => rpc_message(*code, message, endpoint, lang),
        CliError::StreamIncomplete => {
            if zh {
                "posdiagd 在给出总体结论之前结束了检查（守护进程可能正在关闭），请重试".into()
            } else {
                "posdiagd ended the check before reporting an overall result (is the daemon shutting down?); run it again".into()
            }
        }
        CliError::WatchEnded => {
            if zh {
                "posdiagd 关闭了监视流（守护进程可能已停止）".into()
            } else {
                "posdiagd closed the watch stream (has the daemon stopped?)".into()
            }
        }
        CliError::Output(e) => {
            if zh {
                format!("无法写出结果：{e}")
            } else {
                format!("cannot write the output: {e}")
            }
        }
        CliError::Id(e) => id_error_message(e, lang),
        CliError::Lab(e) => lab_error_message(e, lang),
        CliError::Internal(what) => {
            if zh {
                format!("posdiag 内部错误：{what}（请报告此问题）")
            } else {
                format!("internal error in posdiag: {what} (please report this)")
            }
        }
    }
}

/// Why `posdiag demo` or `posdiag plugin verify` could not start `posdiag-lab`.
fn lab_error_message(err: &crate::lab::LabError, lang: Lang) -> String {
    use crate::lab::LabError;
    let zh = lang == Lang::ZhCn;
    match err {
        LabError::NotInstalled { path } => {
            let path = crate::output::sanitize(path);
            if zh {
                format!(
                    "posdiag-lab 未安装（在 {path} 找不到）：demo 和 plugin verify 由它运行。\
                     请安装包含 posdiag-lab 的软件包，或在源代码树中运行 \"cargo build -p posdiag-lab\"，\
                     把 posdiag-lab 放在 posdiag 旁边"
                )
            } else {
                format!(
                    "posdiag-lab is not installed (not found at {path}); it runs demo and plugin verify. \
                     Install the package that ships posdiag-lab, or run \"cargo build -p posdiag-lab\" in the source tree \
                     and put posdiag-lab next to posdiag"
                )
            }
        }
        LabError::BuildFailed { command } => {
            if zh {
                format!("构建 posdiag-lab 失败（{command}）：请查看上面 cargo 的输出")
            } else {
                format!("building posdiag-lab failed ({command}): see cargo's output above")
            }
        }
        LabError::Exec { path, cause } => {
            let path = crate::output::sanitize(path);
            let cause = cause.text(lang);
            if zh {
                format!("无法运行 {path}（{cause}）：请重新安装 posdiag-lab")
            } else {
                format!("cannot run {path} ({cause}): reinstall posdiag-lab")
            }
        }
    }
}

/// "posdiagd at ENDPOINT", or just "posdiagd" when the endpoint is not known
/// (a stream rendered without one).
fn daemon(endpoint: &str, lang: Lang) -> String {
    match (endpoint.is_empty(), lang) {
        (true, _) => "posdiagd".to_owned(),
        (false, Lang::En) => format!("posdiagd at {endpoint}"),
        (false, Lang::ZhCn) => format!("{endpoint} 上的 posdiagd"),
    }
}

fn rpc_message(code: tonic::Code, message: &str, endpoint: &str, lang: Lang) -> String {
    use tonic::Code;
    let zh = lang == Lang::ZhCn;
    let daemon = daemon(endpoint, lang);
    match code {
        // The daemon's message already names the id or field and what is
        // known, in the language the CLI asked for (the `posdiag-lang` header).
        Code::NotFound | Code::InvalidArgument | Code::FailedPrecondition => message.to_owned(),
        Code::Unavailable => {
            if zh {
                format!("{daemon} 暂不可用：{message}")
            } else {
                format!("{daemon} is unavailable: {message}")
            }
        }
        Code::DeadlineExceeded => {
            if zh {
                format!("posdiagd 未能在时限内完成请求：{message}")
            } else {
                format!("posdiagd did not finish the request in time: {message}")
            }
        }
        Code::Unimplemented => {
            if zh {
                format!("{daemon} 不支持此请求（版本是否较旧？）：{message}")
            } else {
                format!(
                    "{daemon} does not support this request (is it an older version?): {message}"
                )
            }
        }
        Code::PermissionDenied | Code::Unauthenticated => {
            if zh {
                format!("posdiagd 不允许此请求：{message}")
            } else {
                format!("posdiagd does not allow this request: {message}")
            }
        }
        other => {
            let name = format!("{other:?}");
            if zh {
                format!("posdiagd 返回错误 {name}：{message}")
            } else {
                format!("posdiagd answered {name}: {message}")
            }
        }
    }
}

fn usage_message(err: &UsageError, lang: Lang) -> String {
    let zh = lang == Lang::ZhCn;
    match err {
        UsageError::Endpoint(s) => {
            if zh {
                format!(
                    "无效的 endpoint \"{s}\"：应为 unix:路径（例如 unix:/run/posdiag/posdiagd.sock）或 http://主机:端口"
                )
            } else {
                format!(
                    "invalid endpoint \"{s}\": expected unix:PATH (for example unix:/run/posdiag/posdiagd.sock) or http://HOST:PORT"
                )
            }
        }
        UsageError::Url(s) => {
            if zh {
                format!(
                    "无效的 URL \"{s}\"：应为 http:// 或 https:// 开头，例如 https://192.168.1.60:8443/nexo"
                )
            } else {
                format!(
                    "invalid URL \"{s}\": expected http:// or https://, for example https://192.168.1.60:8443/nexo"
                )
            }
        }
        UsageError::Target(s) => {
            if zh {
                format!(
                    "无效的目标 \"{s}\"：应为 主机:端口，端口为 1 到 65535，例如 acquirer.example:5000 或 [2001:db8::1]:5000"
                )
            } else {
                format!(
                    "invalid target \"{s}\": expected HOST:PORT with a port from 1 to 65535, for example acquirer.example:5000 or [2001:db8::1]:5000"
                )
            }
        }
        UsageError::Range {
            flag,
            min,
            max,
            got,
        } => {
            if zh {
                format!("{flag} 必须在 {min} 到 {max} 之间，实际为 {got}")
            } else {
                format!("{flag} must be between {min} and {max}, got {got}")
            }
        }
        UsageError::HexDigit { flag, input, pos } => {
            if zh {
                format!(
                    "{flag} \"{input}\" 的第 {pos} 个字符不是十六进制数字（允许 0-9、a-f，字节之间可用空格或冒号分隔）"
                )
            } else {
                format!(
                    "{flag} \"{input}\" has a character that is not a hex digit at position {pos} (use 0-9 and a-f, optionally separated by spaces or colons)"
                )
            }
        }
        UsageError::HexOdd { flag, input } => {
            if zh {
                format!("{flag} \"{input}\" 的十六进制数字个数为奇数：每个字节需要两位")
            } else {
                format!("{flag} \"{input}\" has an odd number of hex digits: each byte needs two")
            }
        }
        UsageError::HexEmpty { flag } => {
            if zh {
                format!("{flag} 不能为空")
            } else {
                format!("{flag} must not be empty")
            }
        }
        UsageError::Scheme { given, known } => {
            if zh {
                format!("未知的代码体系 {given:?}；已知体系：{}", known.join(", "))
            } else {
                format!(
                    "unknown code scheme {given:?}; known schemes: {}",
                    known.join(", ")
                )
            }
        }
        UsageError::NothingToExplain => {
            if zh {
                "请给出要解释的代码（例如 posdiag explain 103），或用 --search 文本 搜索".into()
            } else {
                "give a code to explain (for example posdiag explain 103), or --search TEXT".into()
            }
        }
        UsageError::SendWithoutExpect => {
            if zh {
                "使用 --send/--send-hex 时必须同时给出 --expect 或 --expect-hex（应答必须以其开头的字节）".into()
            } else {
                "--send/--send-hex needs --expect or --expect-hex: the bytes the answer must start with".into()
            }
        }
    }
}

/// A list for a message: `a, b, c`, or a word saying there is none.
fn list_or_none(items: &[String], lang: Lang) -> String {
    if items.is_empty() {
        match lang {
            Lang::En => "none".to_owned(),
            Lang::ZhCn => "无".to_owned(),
        }
    } else {
        items.join(", ")
    }
}

/// The sentence for an `id` command's error, in `lang`.
pub fn id_error_message(err: &IdError, lang: Lang) -> String {
    let zh = lang == Lang::ZhCn;
    match err {
        IdError::UnknownKind(kind) => {
            let names: Vec<String> = posdiag_ids::Kind::ALL
                .iter()
                .map(|k| k.name().to_owned())
                .collect();
            let names = names.join(", ");
            if zh {
                format!(
                    "未知的类型 \"{kind}\"：请使用 auto 或以下之一：{names}（见 \"posdiag id kinds\"）"
                )
            } else {
                format!(
                    "unknown kind \"{kind}\": use auto or one of {names} (see \"posdiag id kinds\")"
                )
            }
        }
        IdError::UnknownRules {
            name,
            config,
            known,
        } => {
            let known = list_or_none(known, lang);
            if zh {
                format!(
                    "{config} 中没有规则集 \"{name}\"；已配置的规则集：{known}（规则集是 [rules.名称] 表）"
                )
            } else {
                format!(
                    "no rule set \"{name}\" in {config}; configured rule sets: {known} (a rule set is a [rules.NAME] table)"
                )
            }
        }
        IdError::UnknownTerminal { id, config, known } => {
            let known = list_or_none(known, lang);
            if zh {
                format!("{config} 中没有终端 \"{id}\"；已配置的终端：{known}")
            } else {
                format!("no terminal \"{id}\" in {config}; configured terminals: {known}")
            }
        }
        IdError::TerminalWithoutRules { id, config } => {
            if zh {
                format!(
                    "{config} 中的终端 \"{id}\" 没有指定规则集：在它的 [[terminals]] 条目中加上 id_rules = \"名称\"，或改用 --rules 名称"
                )
            } else {
                format!(
                    "terminal \"{id}\" in {config} names no rule set: add id_rules = \"NAME\" to its [[terminals]] entry, or use --rules NAME"
                )
            }
        }
        IdError::Config(what) => {
            if zh {
                format!("无法使用配置：{what}（用 --config 文件 指定守护进程的配置）")
            } else {
                format!(
                    "cannot use the configuration: {what} (name the daemon's configuration with --config FILE)"
                )
            }
        }
        IdError::ConfigTooLarge { path } => {
            let max = crate::id::MAX_CONFIG_BYTES >> 20;
            let path = crate::output::sanitize(path);
            if zh {
                format!(
                    "{path} 超过 {max} MiB，不是守护进程的配置文件（用 --config 文件 指定正确的配置）"
                )
            } else {
                format!(
                    "{path} is over {max} MiB, too large to be the daemon's configuration (name the right one with --config FILE)"
                )
            }
        }
        IdError::Open { path, cause } => {
            let cause = cause.text(lang);
            if zh {
                format!("无法打开 {path}（{cause}）")
            } else {
                format!("cannot open {path} ({cause})")
            }
        }
        IdError::Read { path, cause } => {
            let cause = cause.text(lang);
            let path = match (path.is_empty(), zh) {
                (true, true) => "标准输入".to_owned(),
                (true, false) => "standard input".to_owned(),
                (false, _) => path.clone(),
            };
            if zh {
                format!("读取 {path} 时出错（{cause}）")
            } else {
                format!("cannot read {path} ({cause})")
            }
        }
        IdError::Csv {
            path,
            line,
            message,
        } => {
            let at = line.map(|l| format!(":{l}")).unwrap_or_default();
            if zh {
                format!("{path}{at} 不是可读的 CSV：{message}")
            } else {
                format!("{path}{at} is not readable as CSV: {message}")
            }
        }
        IdError::HeaderTooLong {
            path,
            bytes,
            fields,
        } => {
            let (kb, max_kb, max_fields) = (
                bytes / 1024,
                crate::id::MAX_RECORD_BYTES / 1024,
                crate::id::MAX_FIELDS,
            );
            if zh {
                format!(
                    "{path} 的第一行（表头）已读 {kb} KiB、{fields} 个字段仍未结束，超过上限（{max_kb} KiB 或 {max_fields} 个字段）：这不像 CSV 导出文件，请检查文件是否选错"
                )
            } else {
                format!(
                    "the first line (the header) of {path} is still going after {kb} KiB and {fields} fields, past the limit of {max_kb} KiB or {max_fields} fields: this is not a CSV export; check that this is the right file"
                )
            }
        }
        IdError::RecordTooLong { path, row, bytes } => {
            let mib = bytes >> 20;
            if zh {
                format!(
                    "{path} 的第 {row} 行数据已读 {mib} MiB 仍未结束：这不像 CSV 导出文件（可能缺少闭合引号），审计已停止"
                )
            } else {
                format!(
                    "data row {row} of {path} is still going after {mib} MiB: this is not a CSV export (a missing closing quote?); the audit stopped"
                )
            }
        }
        IdError::MissingColumn {
            path,
            column,
            headers,
        } => {
            // The headers are bytes from the file: quoted (escaped, masked,
            // cut), and only the first few, so a binary file cannot drive
            // the terminal or flood it.
            const SHOWN: usize = 20;
            let mut shown: Vec<String> = headers
                .iter()
                .take(SHOWN)
                .map(|h| posdiag_core::quote(h))
                .collect();
            if headers.len() > SHOWN {
                let more = headers.len() - SHOWN;
                shown.push(if zh {
                    format!("另有 {more} 列")
                } else {
                    format!("and {more} more")
                });
            }
            let headers = list_or_none(&shown, lang);
            let column = posdiag_core::quote(column);
            let path = crate::output::sanitize(path);
            if zh {
                format!("{path} 没有名为 {column} 的列；它的列为：{headers}")
            } else {
                format!("{path} has no column {column}; its columns are: {headers}")
            }
        }
        IdError::Write { path, cause } => {
            let cause = cause.text(lang);
            if zh {
                format!("无法写入 {path}（{cause}）")
            } else {
                format!("cannot write {path} ({cause})")
            }
        }
        // Shown as it arrives: the daemon wrote it in the user's language.
        IdError::Rejected(message) => message.clone(),
        IdError::Incomplete => {
            if zh {
                "posdiagd 在给出汇总之前结束了校验流（守护进程可能正在关闭），请重试".into()
            } else {
                "posdiagd ended the validation stream before its summary (is the daemon shutting down?); run it again".into()
            }
        }
    }
}

/// The message of a line too long to be an identifier.
pub fn line_too_long(bytes: u64, lang: Lang) -> String {
    match lang {
        Lang::En => format!("the line is {bytes} bytes long, far longer than any identifier"),
        Lang::ZhCn => format!("该行长 {bytes} 字节，远超任何证件号或编号的长度"),
    }
}

/// How a line too long to show is shown.
pub fn line_too_long_display(bytes: u64, lang: Lang) -> String {
    match lang {
        Lang::En => format!("({bytes}-byte line)"),
        Lang::ZhCn => format!("（{bytes} 字节的行）"),
    }
}

/// What to do about a line too long to be an identifier.
pub fn line_too_long_suggestion(lang: Lang) -> String {
    match lang {
        Lang::En => "check that the input has one value per line".to_owned(),
        Lang::ZhCn => "请检查输入是否每行一个值".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_translated_and_differs_between_languages() {
        for &l in Label::ALL {
            let en = t(l, Lang::En);
            let zh = t(l, Lang::ZhCn);
            assert!(!en.is_empty() && !zh.is_empty(), "{l:?}");
            assert_ne!(en, zh, "{l:?} is not translated");
        }
    }

    #[test]
    fn usage_errors_read_differently_per_language() {
        let e = CliError::Usage(UsageError::SendWithoutExpect);
        assert!(error_message(&e, Lang::En).starts_with("--send"));
        assert!(error_message(&e, Lang::ZhCn).contains("必须"));
    }
}
