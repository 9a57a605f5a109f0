//! `posdiag plugin verify BUNDLE` (run by `posdiag-lab`): a vendor's conformance check, run locally
//! without a daemon. It reads the manifest under the loading policy, loads
//! the library in a real `posdiag-plugin-host` (ABI, symbol, descriptor,
//! init), compares the descriptor with the manifest, and runs every declared
//! check against the simulated ZVT terminal over TCP and over a
//! pseudo-terminal, through the same path the daemon uses (link proxied,
//! faults turned into findings). Each step is a PASS or FAIL line a vendor
//! can act on; exit 0 when all pass, 1 otherwise.

use std::io::Write;
use std::time::{Duration, Instant};

use posdiag_cli::CliError;
use posdiag_cli::cli::{PluginCommand, VerifyArgs};
use posdiag_core::{Finding, Lang, Text, Verdict};
use posdiag_engine::plugins::PluginEntry;
use posdiag_plugin_host::bundle::{self, Policy};
use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};

/// The steps' lines, each in every language. `PASS`, `FAIL`, `NOTE`, the step
/// names (`manifest`, `load`...) and check ids stay as they are in both
/// languages, like the CLI's verdicts: vendors' scripts match on them.
struct Report {
    lines: Vec<Text>,
    failed: usize,
    passed: usize,
}

/// Text that reads the same in every language: ids, codes, and messages
/// from lower layers that speak only English.
fn same(s: impl Into<String>) -> Text {
    let s = s.into();
    Text::new(s.clone(), s)
}

impl Report {
    fn line(&mut self, status: &str, what: Text, detail: Text) {
        self.lines.push(Text::new(
            format!("{status} {}: {}", what.en, detail.en),
            format!("{status} {}：{}", what.zh, detail.zh),
        ));
    }
    fn pass(&mut self, what: Text, detail: Text) {
        self.passed += 1;
        self.line("PASS", what, detail);
    }
    fn note(&mut self, what: Text, detail: Text) {
        self.line("NOTE", what, detail);
    }
    fn fail(&mut self, what: Text, detail: Text) {
        self.failed += 1;
        self.line("FAIL", what, detail);
    }
}

/// Runs `posdiag plugin ...`.
pub async fn run(cmd: PluginCommand, lang: Lang) -> Result<u8, CliError> {
    let PluginCommand::Verify(args) = cmd;
    let report = verify(&args).await;
    let mut out = posdiag_cli::term::stdout();
    let bundle = args.bundle.display();
    let header = Text::new(format!("bundle {bundle}"), format!("插件包 {bundle}"));
    writeln!(out, "{}", header.get(lang))?;
    for l in &report.lines {
        writeln!(out, "  {}", l.get(lang))?;
    }
    let (verdict, passed, failed) = (
        if report.failed == 0 { "PASS" } else { "FAIL" },
        report.passed,
        report.failed,
    );
    let result = Text::new(
        format!("result: {verdict} ({passed} passed, {failed} failed)"),
        format!("结果：{verdict}（{passed} 项通过，{failed} 项失败）"),
    );
    writeln!(out, "{}", result.get(lang))?;
    out.flush()?;
    Ok(u8::from(report.failed > 0))
}

async fn verify(args: &VerifyArgs) -> Report {
    let mut r = Report {
        lines: Vec::new(),
        failed: 0,
        passed: 0,
    };
    let b = match bundle::load(&args.bundle, &Policy::for_this_process()) {
        Ok(b) => b,
        Err(e) => {
            r.fail(same("manifest"), same(e.reason));
            return r;
        }
    };
    let m = &b.manifest;
    let checks = Text::new(
        if m.checks.is_empty() {
            "none".to_owned()
        } else {
            m.checks.join(", ")
        },
        if m.checks.is_empty() {
            "无".to_owned()
        } else {
            m.checks.join(", ")
        },
    );
    let vendor = if m.vendor.is_empty() {
        Text::new("no vendor", "未写厂商")
    } else {
        same(m.vendor.clone())
    };
    let (library, sha) = (m.library.display(), &b.sha256);
    r.pass(
        same("manifest"),
        Text::new(
            format!(
                "{} {} ({}), abi {}, library {library} (sha256 {sha}), checks: {}",
                m.id, m.version, vendor.en, m.abi, checks.en
            ),
            format!(
                "{} {}（{}），ABI {}，库 {library}（sha256 {sha}），检查项：{}",
                m.id, m.version, vendor.zh, m.abi, checks.zh
            ),
        ),
    );
    if m.checks.is_empty() {
        r.fail(
            same("manifest"),
            Text::new(
                "declares no checks; list the check ids in `checks`",
                "没有声明任何检查项：请在 `checks` 中列出检查项 id",
            ),
        );
    }
    if m.matches.is_empty() {
        r.note(
            same("manifest"),
            Text::new(
                "claims no device ([[match]] usb, tcp_port or model): terminals use it only when they name it with `plugin =` (fine for acquirer-host checks such as host.echo)",
                "没有声明任何设备（[[match]] usb、tcp_port 或 model）：只有用 `plugin =` 指名它的终端才会使用它（对 host.echo 这类收单主机检查没有问题）",
            ),
        );
    }
    let host = match &args.host {
        Some(h) => h.clone(),
        None => match posdiag_plugin_supervisor::locate_host_binary() {
            Ok(h) => h,
            Err(e) => {
                r.fail(
                    same("load"),
                    Text::new(
                        format!("{e}; pass --host PATH"),
                        format!("{e}；请用 --host 路径 指定"),
                    ),
                );
                return r;
            }
        },
    };
    let entry = posdiagd::plugin_service::start_bundle(b.clone(), host, 256, Default::default());
    let ready = match tokio::time::timeout(Duration::from_secs(15), entry.plugin.ready()).await {
        Ok(Ok(ready)) => ready,
        Ok(Err(fault)) => {
            r.fail(
                same("load"),
                same(format!("{fault} [{}]", fault.reason_code())),
            );
            return r;
        }
        Err(_) => {
            r.fail(
                same("load"),
                Text::new(
                    "the plugin host did not become ready within 15 s",
                    "插件宿主进程在 15 秒内没有就绪",
                ),
            );
            return r;
        }
    };
    let (major, minor, id, version) = (
        ready.abi_major,
        ready.abi_minor,
        &ready.plugin_id,
        &ready.plugin_version,
    );
    r.pass(
        same("load"),
        Text::new(
            format!("ABI {major}.{minor}, library reports {id} {version}"),
            format!("ABI {major}.{minor}，库报告为 {id} {version}"),
        ),
    );
    if ready.plugin_id != m.id {
        let (lib, man) = (&ready.plugin_id, &m.id);
        r.fail(
            same("load"),
            Text::new(
                format!("the library says it is {lib:?}, the manifest {man:?}"),
                format!("库自称 {lib:?}，清单写的是 {man:?}"),
            ),
        );
    }
    // Decoded and validated by the supervisor at the handshake.
    let d = &ready.descriptor;
    let offered: Vec<&str> = d.checks.iter().map(|c| c.id.as_str()).collect();
    let missing: Vec<&String> = m
        .checks
        .iter()
        .filter(|c| !offered.contains(&c.as_str()))
        .collect();
    if missing.is_empty() {
        let offered = offered.join(", ");
        r.pass(
            same("descriptor"),
            Text::new(format!("offers {offered}"), format!("提供 {offered}")),
        );
    } else {
        let missing = missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        r.fail(
            same("descriptor"),
            Text::new(
                format!(
                    "the manifest declares {missing} but the library's descriptor does not offer it"
                ),
                format!("清单声明了 {missing}，但库的描述符没有提供"),
            ),
        );
    }
    for c in &d.checks {
        if c.description_en.is_empty() || c.description_zh.is_empty() {
            let id = &c.id;
            r.fail(
                same("descriptor"),
                Text::new(
                    format!("check {id} lacks an English or Chinese description"),
                    format!("检查项 {id} 缺少英文或中文描述"),
                ),
            );
        }
    }

    // The simulators each check is run against: the acquirer host in ISO 8583
    // mode for an echo, the nexo terminal for a nexo diagnosis, otherwise the
    // ZVT terminal over TCP and over a pseudo-terminal, each where the manifest
    // claims devices reached that way (a model may be either; a bundle that
    // claims nothing is tried on both).
    let sims = match Sims::start().await {
        Ok(s) => s,
        Err(e) => {
            r.fail(same("simulator"), e);
            return r;
        }
    };
    use posdiag_plugin_host::bundle::DeviceMatch;
    let any = m.matches.is_empty() || m.matches.iter().any(|x| matches!(x, DeviceMatch::Model(_)));
    let wants_tcp = any
        || m.matches
            .iter()
            .any(|x| matches!(x, DeviceMatch::TcpPort(_)));
    let wants_serial = any
        || m.matches
            .iter()
            .any(|x| matches!(x, DeviceMatch::Usb { .. }));
    for check in &m.checks {
        if check == CUSTOMER_STATUS {
            // Run with a sample ID over the ZVT simulator's link (the lookup needs none).
            let Some(addr) = sims.zvt_tcp.local_addr() else {
                r.fail(
                    same(check.clone()),
                    Text::new("the ZVT simulator has no address", "ZVT 模拟器没有地址"),
                );
                continue;
            };
            let args = [
                ("customer_id".to_owned(), CUSTOMER_SAMPLE.to_owned()),
                ("customer_id_kind".to_owned(), "phone".to_owned()),
            ]
            .into();
            let started = Instant::now();
            let found = verify_check(&entry, &format!("tcp:{addr}"), check, args).await;
            judge_customer_status(&mut r, found, started.elapsed());
            continue;
        }
        for (label, link, args) in sims.targets(check, wants_tcp, wants_serial) {
            let started = Instant::now();
            match verify_check(&entry, &link, check, args).await {
                Err(e) => r.fail(
                    same(check.clone()),
                    Text::new(
                        format!("over {}: {e}", label.en),
                        format!("经{}：{e}", label.zh),
                    ),
                ),
                Ok(found) => judge(&mut r, check, &label, &found, started.elapsed()),
            }
        }
    }
    entry.plugin.shutdown().await;
    r
}

/// The well-known customer lookup (docs/plugin-guide.md, "Well-known check ids").
const CUSTOMER_STATUS: &str = "customer.status";

/// The sample ID `customer.status` is verified with (a mainland China mobile number).
const CUSTOMER_SAMPLE: &str = "13800138000";

/// `customer.status` answers from the vendor's own customer system, which no simulator
/// stands in for: it is run with a sample ID and held to its contract (one of its three
/// reasons, remedies, never the ID in a finding). A plugin that cannot answer without its
/// backend's settings gets a note, not a failure.
fn judge_customer_status(r: &mut Report, found: Result<Vec<Finding>, String>, took: Duration) {
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            r.fail(same(CUSTOMER_STATUS), same(e));
            return;
        }
    };
    let what = Text::new(
        format!("{CUSTOMER_STATUS} with the sample ID {CUSTOMER_SAMPLE}"),
        format!("{CUSTOMER_STATUS}（示例 ID {CUSTOMER_SAMPLE}）"),
    );
    if let Some(f) = found
        .iter()
        .find(|f| f.reason == posdiag_core::Reason::PluginFailed)
    {
        r.note(
            what,
            Text::new(
                format!(
                    "not answered without the plugin's own settings ({}); try it for real with `posdiag doctor TERMINAL --symptom unsupported-id --id VALUE`",
                    f.summary.en
                ),
                format!(
                    "没有插件自身的设置时无法应答（{}）：请用 `posdiag doctor 终端 --symptom unsupported-id --id 值` 实际试一试",
                    f.summary.zh
                ),
            ),
        );
        return;
    }
    let leaked = found
        .iter()
        .any(|f| format!("{f:?}").contains(CUSTOMER_SAMPLE));
    let odd: Vec<&str> = found
        .iter()
        .map(|f| f.reason.code())
        .filter(|c| !matches!(*c, "ok" | "customer.unknown" | "customer.blocked"))
        .collect();
    if leaked {
        r.fail(
            what,
            Text::new(
                "a finding shows the customer's ID; name the registry or system instead",
                "有检查结果显示了客户的 ID：请改为写出登记处或系统的名称",
            ),
        );
    } else if !odd.is_empty() {
        let odd = odd.join(", ");
        r.fail(
            what,
            Text::new(
                format!("answers {odd} where ok, customer.unknown or customer.blocked is expected"),
                format!("应答为 {odd}，应为 ok、customer.unknown 或 customer.blocked"),
            ),
        );
    } else {
        judge(
            r,
            CUSTOMER_STATUS,
            &Text::new("the sample ID", "示例 ID"),
            &found,
            took,
        );
    }
}

/// The simulators a verification runs against.
struct Sims {
    zvt_tcp: zvt::RunningZvt,
    zvt_pty: zvt::RunningZvt,
    iso: posdiag_sim::host::RunningHost,
    nexo: posdiag_sim::nexo::RunningNexo,
}

impl Sims {
    async fn start() -> Result<Sims, Text> {
        use posdiag_core::iso8583::Dialect;
        use posdiag_sim::host::{self, Answer, HostSimConfig};
        use posdiag_sim::iso8583::{IsoHost, IsoScenario};
        let zvt_tcp = zvt::start(ZvtSimConfig::default()).map_err(|e| {
            Text::new(
                format!("cannot start the ZVT simulator on TCP: {e}"),
                format!("无法在 TCP 上启动 ZVT 模拟器：{e}"),
            )
        })?;
        let zvt_pty = zvt::start(ZvtSimConfig {
            transport: ZvtTransport::Pty { link: None },
            ..ZvtSimConfig::default()
        })
        .map_err(|e| {
            Text::new(
                format!("cannot start the ZVT simulator on a pty: {e}"),
                format!("无法在伪终端上启动 ZVT 模拟器：{e}"),
            )
        })?;
        let dialect = Dialect::by_name("ascii").ok_or_else(|| {
            Text::new(
                "the ascii ISO 8583 dialect is missing",
                "缺少 ascii ISO 8583 方言",
            )
        })?;
        let iso_host = IsoHost::new(dialect, IsoScenario::default()).map_err(|e| {
            Text::new(
                format!("cannot set up the ISO 8583 host simulator: {e}"),
                format!("无法设置 ISO 8583 主机模拟器：{e}"),
            )
        })?;
        let iso = host::start(HostSimConfig {
            answer: Answer::Iso8583(iso_host),
            ..HostSimConfig::default()
        })
        .await
        .map_err(|e| {
            Text::new(
                format!("cannot start the ISO 8583 host simulator: {e}"),
                format!("无法启动 ISO 8583 主机模拟器：{e}"),
            )
        })?;
        let nexo = posdiag_sim::nexo::start(posdiag_sim::nexo::NexoSimConfig::default())
            .await
            .map_err(|e| {
                Text::new(
                    format!("cannot start the nexo simulator: {e}"),
                    format!("无法启动 nexo 模拟器：{e}"),
                )
            })?;
        Ok(Sims {
            zvt_tcp,
            zvt_pty,
            iso,
            nexo,
        })
    }

    /// (label, link, args) for each simulator `check` runs against.
    fn targets(
        &self,
        check: &str,
        tcp: bool,
        serial: bool,
    ) -> Vec<(Text, String, std::collections::BTreeMap<String, String>)> {
        // `[key, value]` pairs of the check's arguments.
        let args = |pairs: &[[&str; 2]]| {
            pairs
                .iter()
                .map(|[k, v]| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        match check {
            "host.echo" => vec![(
                Text::new(
                    "tcp (simulated ISO 8583 acquirer host, ascii dialect)",
                    "tcp（模拟 ISO 8583 收单主机，ascii 方言）",
                ),
                format!("tcp:{}", self.iso.addr()),
                args(&[["dialect", "ascii"], ["count", "3"]]),
            )],
            "poi.diagnosis" | "poi.last_receipt" => vec![(
                Text::new(
                    "tcp (simulated nexo terminal, HTTP)",
                    "tcp（模拟 nexo 终端，HTTP）",
                ),
                format!("tcp:{}", self.nexo.addr()),
                args(&[["tls", "false"]]),
            )],
            _ => {
                // An interactive read-card test gets a short card timeout.
                let a = if check == "reader.read_card" {
                    args(&[["timeout_s", "2"]])
                } else {
                    args(&[])
                };
                let mut out = Vec::new();
                if tcp && let Some(addr) = self.zvt_tcp.local_addr() {
                    out.push((
                        Text::new("tcp (simulated ZVT terminal)", "tcp（模拟 ZVT 终端）"),
                        format!("tcp:{addr}"),
                        a.clone(),
                    ));
                }
                if serial && let Some(p) = self.zvt_pty.device_path() {
                    out.push((
                        Text::new(
                            "serial (simulated ZVT terminal on a pty)",
                            "串口（伪终端上的模拟 ZVT 终端）",
                        ),
                        format!("serial:{}", p.display()),
                        a,
                    ));
                }
                out
            }
        }
    }
}

/// A check passes when it answered with well-formed findings and no plugin
/// fault; its verdict about the simulated terminal is reported, not judged.
fn judge(r: &mut Report, check: &str, label: &Text, found: &[Finding], took: Duration) {
    let what = Text::new(
        format!("{check} over {}", label.en),
        format!("{check}（经{}）", label.zh),
    );
    if let Some(f) = found
        .iter()
        .find(|f| f.reason.code().starts_with("plugin."))
    {
        let code = f.reason.code();
        r.fail(
            what,
            Text::new(
                format!("{} [{code}]", f.summary.en),
                format!("{} [{code}]", f.summary.zh),
            ),
        );
        return;
    }
    let mut problems = Vec::new();
    for f in found {
        if f.summary.en.trim().is_empty() {
            problems.push(Text::new(
                format!("a finding of {} has no English summary", f.check),
                format!("{} 的一项结果没有英文说明", f.check),
            ));
        }
        if f.summary.zh == f.summary.en {
            problems.push(Text::new(
                format!("a finding of {} has no Chinese summary", f.check),
                format!("{} 的一项结果没有中文说明", f.check),
            ));
        }
        if f.verdict != Verdict::Ok && f.remedies.is_empty() {
            let (verdict, check) = (f.verdict.as_str(), &f.check);
            problems.push(Text::new(
                format!("a {verdict} finding of {check} names no remedy"),
                format!("{check} 的一项 {verdict} 结果没有给出处理步骤"),
            ));
        }
    }
    if !problems.is_empty() {
        let en: Vec<&str> = problems.iter().map(|p| p.en.as_str()).collect();
        let zh: Vec<&str> = problems.iter().map(|p| p.zh.as_str()).collect();
        r.fail(what, Text::new(en.join("; "), zh.join("；")));
        return;
    }
    let summary = |lang: Lang| {
        found
            .iter()
            .map(|f| {
                format!(
                    "{} {} \"{}\"",
                    f.verdict.as_str(),
                    f.reason.code(),
                    f.summary.get(lang)
                )
            })
            .collect::<Vec<_>>()
    };
    let ms = took.as_millis();
    r.pass(
        what,
        Text::new(
            format!("{} in {ms} ms", summary(Lang::En).join("; ")),
            format!("{}，用时 {ms} 毫秒", summary(Lang::ZhCn).join("；")),
        ),
    );
}

/// Runs one check of `entry` for a throwaway terminal linked by `link`
/// (`tcp:HOST:PORT` or `serial:/dev/PATH`) through the engine's plugin path,
/// as the daemon would for a configured terminal.
async fn verify_check(
    entry: &PluginEntry,
    link: &str,
    check: &str,
    args: std::collections::BTreeMap<String, String>,
) -> Result<Vec<Finding>, String> {
    use posdiag_engine::model::{
        LinkProbeSpec, LinkProtocol, LinkSpec, LinkSpecError, PortSelector, TerminalSpec,
    };
    let (spec_link, state) = match link.parse::<LinkSpec>() {
        Ok(LinkSpec::Tcp(address)) => {
            (LinkSpec::Tcp(address), posdiag_engine::LinkState::default())
        }
        Ok(LinkSpec::Serial {
            port: PortSelector::Path(path),
            settings,
        }) => {
            let real =
                std::fs::canonicalize(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            (
                LinkSpec::Serial {
                    port: PortSelector::Path(path),
                    settings,
                },
                posdiag_engine::LinkState {
                    path: Some(real),
                    problem: None,
                    usb: None,
                },
            )
        }
        Err(LinkSpecError::NotDevicePath {
            selector: Err(e), ..
        }) => return Err(e.to_string()),
        Err(e @ LinkSpecError::NotHostPort { .. }) => return Err(e.to_string()),
        _ => {
            return Err(format!(
                "{} is neither tcp:HOST:PORT nor serial:/dev/PATH",
                posdiag_core::quote(link)
            ));
        }
    };
    let spec = TerminalSpec {
        id: posdiag_core::TerminalId::new("verify").map_err(|e| e.to_string())?,
        name: "plugin verify".into(),
        vendor: String::new(),
        model: String::new(),
        link: spec_link,
        protocol: Some(LinkProtocol::Zvt),
        link_probe: LinkProbeSpec::default(),
        plugin: Some(entry.bundle.manifest.id.clone()),
        plugin_args: args,
        plugin_timeout: None,
        hosts: Vec::new(),
        check_interval: None,
    };
    Ok(posdiag_engine::plugins::run_adhoc(entry, &spec, &state, check).await)
}
