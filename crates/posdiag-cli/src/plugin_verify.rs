//! `posdiag plugin verify BUNDLE`: a vendor's conformance check, run locally
//! without a daemon. It reads the manifest under the loading policy, loads
//! the library in a real `posdiag-plugin-host` (ABI, symbol, descriptor,
//! init), compares the descriptor with the manifest, and runs every declared
//! check against the simulated ZVT terminal over TCP and over a
//! pseudo-terminal, through the same path the daemon uses (link proxied,
//! faults turned into findings). Each step is a PASS or FAIL line a vendor
//! can act on; exit 0 when all pass, 1 otherwise.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use posdiag_core::{Finding, Verdict};
use posdiag_plugin_api::pb as ppb;
use posdiag_plugin_api::prost::Message as _;
use posdiag_plugin_host::bundle::{self, Policy};
use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};

use crate::error::CliError;

/// `posdiag plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Check a plugin bundle: manifest, ABI, descriptor, and a run of every
    /// declared check against the simulators. Exit 0 all pass, 1 any fails.
    Verify(VerifyArgs),
}

/// `posdiag plugin verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle directory (holding manifest.toml and the library).
    pub bundle: PathBuf,
    /// The posdiag-plugin-host binary; default: next to posdiag.
    #[arg(long, value_name = "PATH")]
    pub host: Option<PathBuf>,
}

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
    fn fail(&mut self, what: &str, detail: impl AsRef<str>) {
        self.failed += 1;
        self.lines.push(format!("FAIL {what}: {}", detail.as_ref()));
    }
}

/// Runs `posdiag plugin ...`.
pub async fn run(cmd: PluginCommand) -> Result<u8, CliError> {
    let PluginCommand::Verify(args) = cmd;
    let report = verify(&args).await;
    let mut out = std::io::stdout();
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
        r.fail(
            "manifest",
            "claims no device ([[match]] usb, tcp_port or model); the daemon only uses it for terminals that name it with `plugin =`",
        );
    }
    let host = match &args.host {
        Some(h) => h.clone(),
        None => match posdiag_plugin_host::locate_host_binary() {
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
    match ppb::Descriptor::decode(ready.descriptor.as_slice()) {
        Ok(d) => {
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
        }
        Err(e) => r.fail("descriptor", format!("not a valid Descriptor: {e}")),
    }

    // The simulators: a healthy ZVT terminal over TCP and over a pseudo-terminal,
    // each used when the manifest claims devices reached that way (a model
    // may be either; a bundle that claims nothing is tried on both).
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
    let tcp = zvt::start(ZvtSimConfig::default());
    let pty = zvt::start(ZvtSimConfig {
        transport: ZvtTransport::Pty { link: None },
        ..ZvtSimConfig::default()
    });
    let mut links = Vec::new();
    match &tcp {
        Ok(_) if !wants_tcp => {}
        Ok(s) => {
            if let Some(a) = s.local_addr() {
                links.push(("tcp (simulated ZVT terminal)", format!("tcp:{a}")));
            }
        }
        Err(e) => r.fail("simulator", format!("cannot start the TCP simulator: {e}")),
    }
    match &pty {
        Ok(_) if !wants_serial => {}
        Ok(s) => {
            if let Some(p) = s.device_path() {
                links.push((
                    "serial (simulated ZVT terminal on a pty)",
                    format!("serial:{}", p.display()),
                ));
            }
        }
        Err(e) => r.fail("simulator", format!("cannot start the pty simulator: {e}")),
    }
    for check in &m.checks {
        for (label, link) in &links {
            let started = Instant::now();
            match posdiagd::plugin_service::verify_check(&entry, link, check).await {
                Err(e) => r.fail(check, format!("over {label}: {e}")),
                Ok(found) => judge(&mut r, check, label, &found, started.elapsed()),
            }
        }
    }
    entry.plugin.shutdown().await;
    r
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
