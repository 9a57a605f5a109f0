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
use posdiag_core::{Finding, Verdict};
use posdiag_engine::plugins::PluginEntry;
use posdiag_plugin_host::bundle::{self, Policy};
use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};

struct Report {
    lines: Vec<String>,
    failed: usize,
    passed: usize,
}

impl Report {
    fn pass(&mut self, what: &str, detail: impl AsRef<str>) {
        self.passed += 1;
        self.lines.push(format!("PASS {what}: {}", detail.as_ref()));
    }
    fn note(&mut self, what: &str, detail: impl AsRef<str>) {
        self.lines.push(format!("NOTE {what}: {}", detail.as_ref()));
    }
    fn fail(&mut self, what: &str, detail: impl AsRef<str>) {
        self.failed += 1;
        self.lines.push(format!("FAIL {what}: {}", detail.as_ref()));
    }
}

/// Runs `posdiag plugin ...`.
pub async fn run(cmd: PluginCommand) -> Result<u8, CliError> {
    let PluginCommand::Verify(args) = cmd;
    let report = verify(&args).await;
    let mut out = posdiag_cli::term::stdout();
    writeln!(out, "bundle {}", args.bundle.display())?;
    for l in &report.lines {
        writeln!(out, "  {l}")?;
    }
    writeln!(
        out,
        "result: {} ({} passed, {} failed)",
        if report.failed == 0 { "PASS" } else { "FAIL" },
        report.passed,
        report.failed
    )?;
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
            r.fail("manifest", e.reason);
            return r;
        }
    };
    let m = &b.manifest;
    r.pass(
        "manifest",
        format!(
            "{} {} ({}), abi {}, library {} (sha256 {}), checks: {}",
            m.id,
            m.version,
            if m.vendor.is_empty() {
                "no vendor"
            } else {
                &m.vendor
            },
            m.abi,
            m.library.display(),
            b.sha256,
            if m.checks.is_empty() {
                "none".to_owned()
            } else {
                m.checks.join(", ")
            }
        ),
    );
    if m.checks.is_empty() {
        r.fail(
            "manifest",
            "declares no checks; list the check ids in `checks`",
        );
    }
    if m.matches.is_empty() {
        r.note(
            "manifest",
            "claims no device ([[match]] usb, tcp_port or model): terminals use it only when they name it with `plugin =` (fine for acquirer-host checks such as host.echo)",
        );
    }
    let host = match &args.host {
        Some(h) => h.clone(),
        None => match posdiag_plugin_supervisor::locate_host_binary() {
            Ok(h) => h,
            Err(e) => {
                r.fail("load", format!("{e}; pass --host PATH"));
                return r;
            }
        },
    };
    let entry = posdiagd::plugin_service::start_bundle(b.clone(), host, 256, Default::default());
    let ready = match tokio::time::timeout(Duration::from_secs(15), entry.plugin.ready()).await {
        Ok(Ok(ready)) => ready,
        Ok(Err(fault)) => {
            r.fail("load", format!("{fault} [{}]", fault.reason_code()));
            return r;
        }
        Err(_) => {
            r.fail("load", "the plugin host did not become ready within 15 s");
            return r;
        }
    };
    r.pass(
        "load",
        format!(
            "ABI {}.{}, library reports {} {}",
            ready.abi_major, ready.abi_minor, ready.plugin_id, ready.plugin_version
        ),
    );
    if ready.plugin_id != m.id {
        r.fail(
            "load",
            format!(
                "the library says it is {:?}, the manifest {:?}",
                ready.plugin_id, m.id
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
        r.pass("descriptor", format!("offers {}", offered.join(", ")));
    } else {
        r.fail(
            "descriptor",
            format!(
                "the manifest declares {} but the library's descriptor does not offer it",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    for c in &d.checks {
        if c.description_en.is_empty() || c.description_zh.is_empty() {
            r.fail(
                "descriptor",
                format!("check {} lacks an English or Chinese description", c.id),
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
            r.fail("simulator", e);
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
                r.fail(check, "the ZVT simulator has no address");
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
                Err(e) => r.fail(check, format!("over {label}: {e}")),
                Ok(found) => judge(&mut r, check, label, &found, started.elapsed()),
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
            r.fail(CUSTOMER_STATUS, e);
            return;
        }
    };
    let what = format!("{CUSTOMER_STATUS} with the sample ID {CUSTOMER_SAMPLE}");
    if let Some(f) = found
        .iter()
        .find(|f| f.reason == posdiag_core::Reason::PluginFailed)
    {
        r.note(
            &what,
            format!(
                "not answered without the plugin's own settings ({}); try it for real with `posdiag doctor TERMINAL --symptom unsupported-id --id VALUE`",
                f.summary.en
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
            &what,
            "a finding shows the customer's ID; name the registry or system instead",
        );
    } else if !odd.is_empty() {
        r.fail(
            &what,
            format!(
                "answers {} where ok, customer.unknown or customer.blocked is expected",
                odd.join(", ")
            ),
        );
    } else {
        judge(r, CUSTOMER_STATUS, "the sample ID", &found, took);
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
    async fn start() -> Result<Sims, String> {
        use posdiag_core::iso8583::Dialect;
        use posdiag_sim::host::{self, Answer, HostSimConfig};
        use posdiag_sim::iso8583::{IsoHost, IsoScenario};
        let zvt_tcp = zvt::start(ZvtSimConfig::default())
            .map_err(|e| format!("cannot start the ZVT simulator on TCP: {e}"))?;
        let zvt_pty = zvt::start(ZvtSimConfig {
            transport: ZvtTransport::Pty { link: None },
            ..ZvtSimConfig::default()
        })
        .map_err(|e| format!("cannot start the ZVT simulator on a pty: {e}"))?;
        let dialect = Dialect::by_name("ascii").ok_or("the ascii ISO 8583 dialect is missing")?;
        let iso_host = IsoHost::new(dialect, IsoScenario::default())
            .map_err(|e| format!("cannot set up the ISO 8583 host simulator: {e}"))?;
        let iso = host::start(HostSimConfig {
            answer: Answer::Iso8583(iso_host),
            ..HostSimConfig::default()
        })
        .await
        .map_err(|e| format!("cannot start the ISO 8583 host simulator: {e}"))?;
        let nexo = posdiag_sim::nexo::start(posdiag_sim::nexo::NexoSimConfig::default())
            .await
            .map_err(|e| format!("cannot start the nexo simulator: {e}"))?;
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
    ) -> Vec<(
        &'static str,
        String,
        std::collections::BTreeMap<String, String>,
    )> {
        // `[key, value]` pairs of the check's arguments.
        let args = |pairs: &[[&str; 2]]| {
            pairs
                .iter()
                .map(|[k, v]| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        match check {
            "host.echo" => vec![(
                "tcp (simulated ISO 8583 acquirer host, ascii dialect)",
                format!("tcp:{}", self.iso.addr()),
                args(&[["dialect", "ascii"], ["count", "3"]]),
            )],
            "poi.diagnosis" => vec![(
                "tcp (simulated nexo terminal, HTTP)",
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
                        "tcp (simulated ZVT terminal)",
                        format!("tcp:{addr}"),
                        a.clone(),
                    ));
                }
                if serial && let Some(p) = self.zvt_pty.device_path() {
                    out.push((
                        "serial (simulated ZVT terminal on a pty)",
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
fn judge(r: &mut Report, check: &str, label: &str, found: &[Finding], took: Duration) {
    let what = format!("{check} over {label}");
    if let Some(f) = found
        .iter()
        .find(|f| f.reason.code().starts_with("plugin."))
    {
        r.fail(&what, format!("{} [{}]", f.summary.en, f.reason.code()));
        return;
    }
    let mut problems = Vec::new();
    for f in found {
        if f.summary.en.trim().is_empty() {
            problems.push(format!("a finding of {} has no English summary", f.check));
        }
        if f.summary.zh == f.summary.en {
            problems.push(format!("a finding of {} has no Chinese summary", f.check));
        }
        if f.verdict != Verdict::Ok && f.remedies.is_empty() {
            problems.push(format!(
                "a {} finding of {} names no remedy",
                f.verdict.as_str(),
                f.check
            ));
        }
    }
    if !problems.is_empty() {
        r.fail(&what, problems.join("; "));
        return;
    }
    let summary: Vec<String> = found
        .iter()
        .map(|f| {
            format!(
                "{} {} \"{}\"",
                f.verdict.as_str(),
                f.reason.code(),
                f.summary.en
            )
        })
        .collect();
    r.pass(
        &what,
        format!("{} in {} ms", summary.join("; "), took.as_millis()),
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
