//! posdiag reference plugin for nexo / Adyen Terminal API terminals, "posdiag.nexo": the check
//! `poi.diagnosis` posts a DiagnosisRequest to the terminal's local Terminal API through the
//! host's transport callbacks (HTTP/1.1, over rustls when TLS is on) and reports the terminal's
//! status, components, printer, acquirer hosts and vendor health data as findings;
//! `poi.last_receipt` asks it to repeat its last receipt and explains the EMV data printed on it.
//!
//! This file is the FFI surface (a [`Plugin`] impl and one [`export_plugin!`] line, no
//! `unsafe`); the modules are public so that tests drive [`diagnosis::run`] in-process through
//! [`Host::from_backend`].

use posdiag_plugin_api::export_plugin;
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, Plugin, PluginError};

pub mod args;
pub mod channel;
pub mod diagnosis;
pub mod interpret;
pub mod last_receipt;
pub mod shared_key;

/// The plugin id, as in `manifest.toml`.
pub const PLUGIN_ID: &str = "posdiag.nexo";

/// The plugin's state between checks: none, every setting comes with the check's arguments.
#[derive(Debug)]
pub struct Nexo;

impl Plugin for Nexo {
    fn descriptor() -> pb::Descriptor {
        pb::Descriptor {
            checks: vec![
                pb::CheckInfo {
                    id: diagnosis::CHECK_ID.into(),
                    description_en: "Asks the terminal for a nexo diagnosis (Terminal API) and reports its status, components, printer, acquirer hosts, battery and unsent batches".into(),
                    description_zh: "通过 nexo 诊断请求（Terminal API）查询终端，报告其状态、部件、打印机、收单主机、电池和未上传批次".into(),
                    needs_link: true,
                    default_timeout_ms: 0,
                },
                pb::CheckInfo {
                    id: last_receipt::CHECK_ID.into(),
                    description_en: "Asks the terminal to repeat its last receipt (TransactionStatusRequest, no payment) and explains the EMV data printed on it".into(),
                    description_zh: "请终端重发上一张单据（TransactionStatusRequest，不发起支付），并解释其上打印的 EMV 数据".into(),
                    needs_link: true,
                    default_timeout_ms: 0,
                },
            ],
            code_schemes: vec!["nexo-error-condition".into()],
            ..Default::default()
        }
    }

    fn init(host: &Host, init: pb::InitRequest) -> Result<Self, PluginError> {
        host.debug(&format!("{PLUGIN_ID} ready (host {})", init.host_version));
        Ok(Nexo)
    }

    fn run_check(
        &mut self,
        host: &Host,
        req: pb::CheckRequest,
    ) -> Result<pb::CheckResult, PluginError> {
        // The SDK refuses check ids the descriptor does not list.
        if req.check == last_receipt::CHECK_ID {
            last_receipt::run(host, &req)
        } else {
            diagnosis::run(host, &req)
        }
    }
}

export_plugin!(Nexo, id = PLUGIN_ID, version = env!("CARGO_PKG_VERSION"));
