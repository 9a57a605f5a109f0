//! `posdiag bundle [-o FILE] [--config FILE] [--log FILE] [--since WHEN]`:
//! one archive (tar.gz) a merchant sends to the vendor or the help desk —
//! versions, the configuration with its secrets removed, the terminals
//! and their latest findings, recent history (findings, status changes,
//! events) and the doctor's diagnoses, plugin states, serial ports, recent
//! daemon log lines when readable, and a summary page in English and
//! Chinese. Everything comes from the daemon's gRPC API (the configuration
//! text only from the file the user names, since no API serves it); what
//! could not be had is listed on the summary page with the reason. Every
//! file passes the card-number mask before it is written.
//!
//! Exit 0 when the bundle holds the daemon's data, 1 when the daemon could
//! not be reached (the bundle is still written, with what this computer
//! has), 3 when the archive cannot be written.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use posdiag_core::{Lang, Text, Verdict};
use posdiag_proto::v1;

use crate::commands::Context;
use crate::error::{CliError, IoCause};
use crate::json::to_json;

/// A part's body: the daemon's answer as proto3 JSON, or why there is none.
fn body_of<M: crate::json::ProtoMessage>(
    answer: &Result<M, tonic::Status>,
    endpoint: &str,
) -> Result<String, Text> {
    match answer {
        Ok(m) => to_json(m).map_err(|e| e.text()),
        Err(s) => Err(CliError::from_status(s.clone(), endpoint).text()),
    }
}

/// Options of `posdiag bundle`.
#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    /// Where to write the archive (default: posdiag-bundle-TIME.tar.gz in
    /// the current directory).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The daemon's configuration file, included with tokens, keys and
    /// passwords removed (no API serves the configuration text).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A file holding the daemon's log; its last lines are included
    /// (default: the systemd journal of posdiagd.service, when readable).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// How far back the history goes: 30m, 24h, 7d, a date (default 24h).
    #[arg(long, value_name = "WHEN", default_value = "24h")]
    pub since: String,
}

/// The most rows of each history listing in a bundle (one page).
const MAX_ROWS: u32 = 1000;
/// The most log lines included.
const LOG_LINES: usize = 500;
/// The most bytes read from the end of a log file, and from a config file.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// One file of the bundle, or why it is missing.
#[derive(Debug)]
struct Part {
    name: &'static str,
    what: Text,
    body: Result<String, Text>,
}

/// What the summary page is made from.
#[derive(Debug, Default)]
struct Gathered {
    unreachable: Option<Text>,
    terminals: [Option<v1::ListTerminalsResponse>; 2],
    plugins: Option<v1::ListPluginsResponse>,
    ports: Option<v1::ListPortsResponse>,
    findings: Option<usize>,
    transitions: Option<usize>,
    events: Option<usize>,
    diagnoses: Option<usize>,
}

/// Runs `posdiag bundle`.
pub async fn run(args: &BundleArgs, ctx: &Context) -> Result<u8, CliError> {
    let now = jiff::Timestamp::now();
    let tz = crate::when::local_zone();
    let since =
        crate::when::parse_when("--since", &args.since, now, &tz).map_err(CliError::Usage)?;
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("posdiag-bundle-{stamp}.tar.gz")));
    let mut parts = vec![versions()];
    let mut g = Gathered::default();
    match crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await {
        Ok(channel) => gather(channel, since, ctx, &mut parts, &mut g).await,
        Err(e) => g.unreachable = Some(e.text()),
    }
    parts.push(config_part(args.config.as_deref()));
    parts.push(log_part(args.log.as_deref()));
    // Each language's page reads the terminals fetched in that language.
    let summary = [Lang::En, Lang::ZhCn]
        .iter()
        .enumerate()
        .map(|(i, l)| summary(*l, i, &g, &parts, &stamp, &ctx.endpoint.to_string(), since))
        .collect::<Vec<_>>()
        .join("\n\n");
    parts.insert(
        0,
        Part {
            name: "SUMMARY.txt",
            what: Text::new("this page", "本页"),
            body: Ok(summary),
        },
    );
    write_archive(&path, &format!("posdiag-bundle-{stamp}"), &parts, now).map_err(|e| {
        CliError::ExportFile {
            path: path.display().to_string(),
            cause: IoCause::from_error(&e),
        }
    })?;
    let included = parts.iter().filter(|p| p.body.is_ok()).count();
    let mut out = crate::term::stdout();
    let shown = crate::output::sanitize(&path.display().to_string());
    writeln!(
        out,
        "{}",
        Text::new(
            format!(
                "support bundle written: {shown} ({included} files; masked; see SUMMARY.txt inside)"
            ),
            format!("支持包已写入：{shown}（{included} 个文件；已脱敏；详见其中的 SUMMARY.txt）"),
        )
        .get(ctx.out.lang)
    )?;
    if let Some(why) = &g.unreachable {
        writeln!(
            out,
            "{}",
            Text::new(
                format!(
                    "the daemon could not be reached, so the bundle has no terminals or history: {}",
                    why.en
                ),
                format!("无法连接守护进程，因此支持包中没有终端和历史数据：{}", why.zh),
            )
            .get(ctx.out.lang)
        )?;
        return Ok(1);
    }
    Ok(0)
}

/// The daemon's data, each listing its own file; a listing the daemon
/// refuses is a part with the reason.
async fn gather(
    channel: crate::endpoint::Daemon,
    since: jiff::Timestamp,
    ctx: &Context,
    parts: &mut Vec<Part>,
    g: &mut Gathered,
) {
    use v1::history_service_client::HistoryServiceClient;
    let endpoint = ctx.endpoint.to_string();

    for (i, lang) in [Lang::En, Lang::ZhCn].into_iter().enumerate() {
        let r = v1::terminal_service_client::TerminalServiceClient::new(channel.clone())
            .list_terminals(v1::ListTerminalsRequest {
                lang: lang.tag().to_owned(),
            })
            .await
            .map(|r| r.into_inner());
        let (name, what) = [
            (
                "terminals.json",
                Text::new(
                    "terminals, their status and latest findings, the daemon's own state (English)",
                    "终端及其状态和最新检查结果、守护进程自身状态（英文）",
                ),
            ),
            (
                "terminals.zh-CN.json",
                Text::new("the same in Chinese", "同上（中文）"),
            ),
        ][i]
            .clone();
        parts.push(Part {
            name,
            what,
            body: body_of(&r, &endpoint),
        });
        g.terminals[i] = r.ok();
    }

    let plugins = v1::plugin_service_client::PluginServiceClient::new(channel.clone())
        .list_plugins(v1::ListPluginsRequest { lang: "en".into() })
        .await
        .map(|r| r.into_inner());
    parts.push(Part {
        name: "plugins.json",
        what: Text::new(
            "vendor plugins: state, crashes, last error; refused bundles",
            "厂商插件：状态、崩溃次数、最近错误；被拒绝的插件包",
        ),
        body: body_of(&plugins, &endpoint),
    });
    g.plugins = plugins.ok();

    let ports = v1::port_service_client::PortServiceClient::new(channel.clone())
        .list_ports(v1::ListPortsRequest {})
        .await
        .map(|r| r.into_inner());
    parts.push(Part {
        name: "ports.json",
        what: Text::new(
            "serial ports: kind, USB ids, who holds them, which terminal",
            "串口：类型、USB 标识、占用进程、对应终端",
        ),
        body: body_of(&ports, &endpoint),
    });
    g.ports = ports.ok();

    let filter = || {
        Some(v1::HistoryFilter {
            since: Some(crate::when::to_proto(since)),
            ..Default::default()
        })
    };
    let mut history = HistoryServiceClient::new(channel.clone());
    let findings = history
        .list_findings(v1::ListFindingsRequest {
            filter: filter(),
            page_size: MAX_ROWS,
            page_token: String::new(),
            lang: "en".into(),
        })
        .await
        .map(|r| r.into_inner());
    g.findings = findings.as_ref().ok().map(|r| r.findings.len());
    parts.push(Part {
        name: "history/findings.json",
        what: Text::new(
            format!("findings of the window, newest first (at most {MAX_ROWS})"),
            format!("时间窗口内的检查结果，最新的在前（最多 {MAX_ROWS} 条）"),
        ),
        body: body_of(&findings, &endpoint),
    });
    let transitions = history
        .list_transitions(v1::ListTransitionsRequest {
            filter: filter(),
            page_size: MAX_ROWS,
            page_token: String::new(),
            lang: "en".into(),
        })
        .await
        .map(|r| r.into_inner());
    g.transitions = transitions.as_ref().ok().map(|r| r.transitions.len());
    parts.push(Part {
        name: "history/transitions.json",
        what: Text::new("status changes of the window", "时间窗口内的状态变化"),
        body: body_of(&transitions, &endpoint),
    });
    use v1::EventKind as K;
    for (name, kinds, what) in [
        (
            "history/events.json",
            vec![K::Run, K::Diagnosis, K::PluginFault, K::Link, K::Reload],
            Text::new(
                "runs and who asked, diagnoses, plugin faults, port events, reloads",
                "检查运行及发起者、诊断、插件故障、端口事件、配置重载",
            ),
        ),
        (
            "doctor.json",
            vec![K::Diagnosis],
            Text::new(
                "the doctor's diagnoses of the window, with their causes and remedies",
                "时间窗口内的诊断结果，含原因和处理步骤",
            ),
        ),
    ] {
        let r = history
            .list_events(v1::ListEventsRequest {
                filter: filter(),
                kinds: kinds.iter().map(|k| *k as i32).collect(),
                page_size: MAX_ROWS,
                page_token: String::new(),
                lang: "en".into(),
            })
            .await
            .map(|r| r.into_inner());
        let n = r.as_ref().ok().map(|r| r.events.len());
        let body = match &r {
            Ok(resp) if resp.events.is_empty() && name == "doctor.json" => Err(Text::new(
                "the doctor has not run in the window",
                "时间窗口内没有运行过诊断",
            )),
            _ => body_of(&r, &endpoint),
        };
        if name == "doctor.json" {
            g.diagnoses = n;
        } else {
            g.events = n;
        }
        parts.push(Part { name, what, body });
    }
}

/// posdiag's version, the daemon binary's beside it when there is one, and
/// the operating system's.
fn versions() -> Part {
    let mut body = format!("posdiag {}\n", env!("CARGO_PKG_VERSION"));
    let daemon = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("posdiagd")))
        .filter(|p| p.is_file())
        .or_else(|| Some(PathBuf::from("/usr/sbin/posdiagd")).filter(|p| p.is_file()));
    match daemon.and_then(|d| {
        std::process::Command::new(&d)
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| (d, o.stdout))
    }) {
        Some((d, out)) => body.push_str(&format!(
            "{} ({})\n",
            String::from_utf8_lossy(&out).trim(),
            d.display()
        )),
        None => body.push_str("posdiagd: no binary beside posdiag or in /usr/sbin (the API does not report the daemon's version)\n"),
    }
    if let Ok(os) = std::fs::read_to_string("/etc/os-release")
        && let Some(name) = os.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="))
    {
        body.push_str(&format!("os: {}\n", name.trim_matches('"')));
    }
    if let Ok(k) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        body.push_str(&format!("kernel: {}\n", k.trim()));
    }
    Part {
        name: "versions.txt",
        what: Text::new(
            "posdiag, posdiagd and operating system versions",
            "posdiag、posdiagd 和操作系统的版本",
        ),
        body: Ok(body),
    }
}

/// Reads at most [`MAX_FILE_BYTES`] of a regular file: from its start, or
/// its last ones (`tail`). A FIFO or a device is refused, never read.
fn read_file(path: &Path, tail: bool) -> Result<String, Text> {
    let shown = posdiag_core::quote(&path.display().to_string());
    let cannot = |e: std::io::Error| {
        let e = IoCause::from_error(&e).text;
        Text::new(
            format!("cannot read {shown}: {e}"),
            format!("无法读取 {shown}：{e}"),
        )
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(Text::new(
            format!("{shown} is not a regular file"),
            format!("{shown} 不是普通文件"),
        ));
    }
    let mut f = std::fs::File::open(path).map_err(cannot)?;
    if tail && meta.len() > MAX_FILE_BYTES {
        f.seek(std::io::SeekFrom::End(-(MAX_FILE_BYTES as i64)))
            .map_err(cannot)?;
    }
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The configuration file named with `--config`, secrets removed.
fn config_part(path: Option<&Path>) -> Part {
    Part {
        name: "config/posdiagd.toml",
        what: Text::new(
            "the daemon's configuration, tokens, keys and passwords removed",
            "守护进程配置（已删除令牌、密钥和密码）",
        ),
        body: match path {
            None => Err(Text::new(
                "no --config FILE given (the API does not serve the configuration)",
                "未给出 --config 文件（API 不提供配置内容）",
            )),
            Some(p) => read_file(p, false).map(|t| redact_config(&t)),
        },
    }
}

/// Key names whose values are secrets or say where one is kept.
fn secret_key(table: &str, key: &str) -> bool {
    let k = key.trim().trim_matches('"').to_ascii_lowercase();
    (table.contains("token") && k == "file")
        || k == "key"
        || k.ends_with("_key")
        || k.ends_with("key_file")
        || [
            "token",
            "password",
            "passwd",
            "secret",
            "psk",
            "private",
            "credential",
        ]
        .iter()
        .any(|s| k.contains(s))
}

/// A TOML text with the value of every secret key replaced, comments and
/// layout kept, so the help desk sees the same file without what must not
/// leave the store.
pub fn redact_config(text: &str) -> String {
    let mut table = String::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            table = t
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
        } else if !t.starts_with('#')
            && let Some((key, _)) = line.split_once('=')
            && secret_key(&table, key)
        {
            out.push_str(key.trim_end());
            out.push_str(" = \"<removed>\"\n");
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The daemon's recent log lines: the file named with `--log`, else the
/// journal of posdiagd.service when journalctl can read it.
fn log_part(path: Option<&Path>) -> Part {
    let body = match path {
        Some(p) => read_file(p, true),
        None => journal(),
    }
    .map(|t| {
        let lines: Vec<&str> = t.lines().collect();
        let from = lines.len().saturating_sub(LOG_LINES);
        lines[from..].join("\n") + "\n"
    });
    Part {
        name: "daemon.log",
        what: Text::new(
            format!("the daemon's last {LOG_LINES} log lines"),
            format!("守护进程最近 {LOG_LINES} 行日志"),
        ),
        body,
    }
}

/// `journalctl -u posdiagd.service`, given at most five seconds.
fn journal() -> Result<String, Text> {
    let not = |why: &str| {
        Text::new(
            format!(
                "no --log FILE given, and the journal of posdiagd.service is not readable ({why})"
            ),
            format!("未给出 --log 文件，且无法读取 posdiagd.service 的日志（{why}）"),
        )
    };
    let mut child = std::process::Command::new("journalctl")
        .args([
            "-u",
            "posdiagd.service",
            "-n",
            &LOG_LINES.to_string(),
            "--no-pager",
            "-o",
            "short-iso",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| not(&IoCause::from_error(&e).text))?;
    let Some(mut stdout) = child.stdout.take() else {
        return Err(not("no output"));
    };
    // Read while it runs (a full pipe would stop it), bounded.
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout).take(MAX_FILE_BYTES).read_to_end(&mut buf);
        buf
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = reader.join().unwrap_or_default();
    match status {
        Some(s) if s.success() && !out.is_empty() && !out.starts_with(b"-- No entries") => {
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Some(_) => Err(not("no entries, or not allowed")),
        None => Err(not("journalctl did not answer within 5 s")),
    }
}

/// The summary page in one language.
fn summary(
    lang: Lang,
    idx: usize,
    g: &Gathered,
    parts: &[Part],
    stamp: &str,
    endpoint: &str,
    since: jiff::Timestamp,
) -> String {
    let l = |en: String, zh: String| Text::new(en, zh).get(lang).to_owned();
    let mut s = Vec::new();
    s.push(l("posdiag support bundle".into(), "posdiag 支持包".into()));
    s.push(l(
        format!(
            "created {stamp} by posdiag {} for the daemon at {endpoint}; history since {since}",
            env!("CARGO_PKG_VERSION")
        ),
        format!(
            "创建于 {stamp}，posdiag {}，守护进程地址 {endpoint}；历史数据自 {since} 起",
            env!("CARGO_PKG_VERSION")
        ),
    ));
    if let Some(why) = &g.unreachable {
        s.push(l(
            format!("the daemon could not be reached: {}", why.en),
            format!("无法连接守护进程：{}", why.zh),
        ));
    }
    if let Some(t) = g.terminals[idx].as_ref().or(g.terminals[0].as_ref()) {
        let count = |v: Verdict| {
            t.terminals
                .iter()
                .filter(|x| crate::render::verdict_from_proto(x.status) == v)
                .count()
        };
        s.push(l(
            format!(
                "terminals: {} — OK {}, WARNING {}, CRITICAL {}, other {}",
                t.terminals.len(),
                count(Verdict::Ok),
                count(Verdict::Warning),
                count(Verdict::Critical),
                t.terminals.len()
                    - count(Verdict::Ok)
                    - count(Verdict::Warning)
                    - count(Verdict::Critical)
            ),
            format!(
                "终端：{} 台 — 正常 {}，警告 {}，严重 {}，其他 {}",
                t.terminals.len(),
                count(Verdict::Ok),
                count(Verdict::Warning),
                count(Verdict::Critical),
                t.terminals.len()
                    - count(Verdict::Ok)
                    - count(Verdict::Warning)
                    - count(Verdict::Critical)
            ),
        ));
        for term in &t.terminals {
            let v = crate::render::verdict_from_proto(term.status);
            let worst = term
                .latest_findings
                .iter()
                .max_by_key(|f| crate::render::verdict_from_proto(f.verdict))
                .map(|f| format!(" — {} {}: {}", f.check, f.subject, f.summary))
                .unwrap_or_default();
            s.push(format!("  {} {}{worst}", term.id, v.as_str()));
        }
        if let Some(h) = t.daemon.as_ref().and_then(|d| d.history.as_ref()) {
            let cond = v1::history_state::Condition::try_from(h.condition)
                .map(|c| c.as_str_name().trim_start_matches("CONDITION_").to_owned())
                .unwrap_or_default();
            s.push(l(
                format!("history: {cond} {}", h.detail),
                format!("历史数据：{cond} {}", h.detail),
            ));
        }
    }
    if let Some(p) = &g.plugins {
        let states: Vec<String> = p
            .plugins
            .iter()
            .map(|x| {
                let st = v1::PluginState::try_from(x.state)
                    .map(|s| {
                        s.as_str_name()
                            .trim_start_matches("PLUGIN_STATE_")
                            .to_owned()
                    })
                    .unwrap_or_default();
                format!("{} {st}", x.id)
            })
            .collect();
        s.push(l(
            format!("plugins: {} ({})", p.plugins.len(), states.join(", ")),
            format!("插件：{} 个（{}）", p.plugins.len(), states.join("，")),
        ));
    }
    if let Some(p) = &g.ports {
        s.push(l(
            format!("serial ports: {}", p.ports.len()),
            format!("串口：{} 个", p.ports.len()),
        ));
    }
    let n = |x: Option<usize>| x.map_or("-".to_owned(), |n| n.to_string());
    if g.unreachable.is_none() {
        s.push(l(
            format!(
                "history of the window: {} findings, {} status changes, {} events, {} diagnoses",
                n(g.findings),
                n(g.transitions),
                n(g.events),
                n(g.diagnoses)
            ),
            format!(
                "时间窗口内的历史：检查结果 {} 条，状态变化 {} 次，事件 {} 个，诊断 {} 次",
                n(g.findings),
                n(g.transitions),
                n(g.events),
                n(g.diagnoses)
            ),
        ));
    }
    s.push(String::new());
    s.push(l("in this bundle:".into(), "本支持包包含：".into()));
    for p in parts.iter().filter(|p| p.body.is_ok()) {
        s.push(format!("  {} — {}", p.name, p.what.get(lang)));
    }
    s.push(String::new());
    s.push(l("not included:".into(), "未包含：".into()));
    for p in parts {
        if let Err(why) = &p.body {
            s.push(format!("  {} — {}", p.name, why.get(lang)));
        }
    }
    s.push(String::new());
    s.push(l(
        "Card numbers are masked in every file; tokens, keys and passwords are removed from the configuration.".into(),
        "所有文件中的卡号均已脱敏；配置中的令牌、密钥和密码均已删除。".into(),
    ));
    s.join("\n")
}

/// Writes the archive next to `path` and moves it there when complete, so
/// a half-written bundle is never left under the name.
fn write_archive(
    path: &Path,
    dir: &str,
    parts: &[Part],
    now: jiff::Timestamp,
) -> std::io::Result<()> {
    let mut part_name = path.as_os_str().to_owned();
    part_name.push(".part");
    let tmp = PathBuf::from(part_name);
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for p in parts {
            let Ok(body) = &p.body else { continue };
            let body = posdiag_core::mask_card_numbers(body);
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(now.as_second().max(0) as u64);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, format!("{dir}/{}", p.name), body.as_bytes())?;
        }
        let gz = tar.into_inner()?;
        let file = gz.finish()?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_leave_the_configuration_comments_and_layout_stay() {
        let text = "# the store\n[daemon]\nlisten = [\"unix:/run/posdiag/posdiagd.sock\"]\n\
                    [auth.tls]\ncert = \"/etc/posdiag/tls/server.pem\"\nkey = \"/etc/posdiag/tls/server.key\"\n\
                    [[auth.token]]\nfile = \"/etc/posdiag/pos-app.token\"\ntier = \"diagnose\"\n\
                    [[terminals]]\nid = \"T1\"\nzvt_password = \"123456\"\n# key = \"kept: a comment\"\n";
        let r = redact_config(text);
        assert!(
            r.contains("listen = [\"unix:/run/posdiag/posdiagd.sock\"]"),
            "{r}"
        );
        assert!(r.contains("cert = \"/etc/posdiag/tls/server.pem\""), "{r}");
        assert!(r.contains("tier = \"diagnose\""), "{r}");
        for secret in ["server.key", "pos-app.token", "123456"] {
            assert!(!r.contains(secret), "{secret} left in:\n{r}");
        }
        assert!(r.contains("zvt_password = \"<removed>\""), "{r}");
        assert!(r.contains("# key = \"kept: a comment\""), "{r}");
        assert!(r.contains("id = \"T1\""), "{r}");
    }

    #[test]
    fn a_fifo_or_a_missing_file_is_a_reason_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_file(&dir.path().join("nope.toml"), false).unwrap_err();
        assert!(missing.en.starts_with("cannot read"), "{missing:?}");
        assert!(read_file(Path::new("/dev/null"), false).is_err());
    }
}
