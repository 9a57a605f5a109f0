//! posdiag reference plugin "posdiag.iso8583": the check `host.echo` sends ISO 8583
//! network-management echo tests to the acquirer host over the daemon's TCP link (1987
//! 0800 + field 70 = 301, 1993 1804 + field 24 = 831, China UnionPay 0820 with TPDU) and
//! reports loss, round trips and the host's response code explained in English and Chinese.
//!
//! Layout: [`args`] parses the check's arguments, [`echo`] drives the exchange through the
//! host's transport callbacks (the codec is posdiag-core's sans-I/O ISO 8583), [`stats`]
//! does the arithmetic and [`report`] writes the findings. This file is the FFI surface: a
//! [`Plugin`] impl and one [`export_plugin!`] line, no `unsafe`.

use std::time::{Duration, Instant};

use posdiag_codes::KnowledgeBase;
use posdiag_plugin_api::export_plugin;
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, Plugin, PluginError, TransportError};

pub mod args;
pub mod echo;
pub mod report;
pub mod stats;

/// The plugin id, as in `manifest.toml`.
pub const PLUGIN_ID: &str = "posdiag.iso8583";

/// The check id.
pub const CHECK_ID: &str = "host.echo";

/// The budget when the request gives none (the manifest's `default_timeout_ms`).
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(30_000);

/// Time kept back from the budget to write the findings, so that the daemon, which stops a
/// plugin host that overruns, gets them.
const MARGIN: Duration = Duration::from_millis(250);

/// The plugin; it keeps no state between checks.
#[derive(Debug)]
pub struct Iso8583Plugin;

impl Plugin for Iso8583Plugin {
    fn descriptor() -> pb::Descriptor {
        pb::Descriptor {
            checks: vec![pb::CheckInfo {
                id: CHECK_ID.into(),
                description_en: "Sends ISO 8583 network-management echo tests to the acquirer host and reports loss, round trips and the host's response code".into(),
                description_zh: "向收单主机发送 ISO 8583 网络管理回响测试，报告丢包、往返时间和主机应答码".into(),
                needs_link: true,
                default_timeout_ms: 0,
            }],
            ..Default::default()
        }
    }

    fn init(host: &Host, init: pb::InitRequest) -> Result<Self, PluginError> {
        host.debug(&format!("{PLUGIN_ID} ready (host {})", init.host_version));
        Ok(Iso8583Plugin)
    }

    fn run_check(
        &mut self,
        host: &Host,
        req: pb::CheckRequest,
    ) -> Result<pb::CheckResult, PluginError> {
        // The SDK refuses check ids the descriptor does not list, so this is the only one.
        run_echo(host, &req)
    }
}

/// Runs `host.echo` for `req` on `host`'s link: the whole check, callable in-process.
pub fn run_echo(host: &Host, req: &pb::CheckRequest) -> Result<pb::CheckResult, PluginError> {
    let started = Instant::now();
    if req.link_kind != "tcp" {
        host.warn(&format!(
            "{CHECK_ID} needs a tcp link to the acquirer host; terminal {} has {:?}",
            req.terminal_id, req.link_kind
        ));
        return Err(TransportError::NoLink.into());
    }
    let args = args::parse(&req.args).map_err(PluginError::invalid)?;
    let budget = match req.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        t => Duration::from_millis(u64::from(t)),
    };
    let deadline = started + budget.saturating_sub(MARGIN.min(budget / 10));
    let subject = if req.link_address.is_empty() {
        format!("acquirer host of terminal {}", req.terminal_id)
    } else {
        format!("acquirer host {}", req.link_address)
    };
    host.phase_started("echo", &subject);
    let outcome = echo::run(host, &args, deadline, &subject)?;
    let findings = report::findings(
        &args,
        &outcome,
        &subject,
        &req.link_address,
        &KnowledgeBase::builtin(),
    );
    let verdict = findings
        .first()
        .map_or(pb::Verdict::Unknown, pb::Finding::verdict);
    host.phase_finished("echo", &subject, verdict, started.elapsed());
    Ok(pb::CheckResult { findings })
}

export_plugin!(
    Iso8583Plugin,
    id = PLUGIN_ID,
    version = env!("CARGO_PKG_VERSION")
);
