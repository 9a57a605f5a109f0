//! Example posdiag vendor plugin in Rust, "example.zvt-rust": the check
//! `example.zvt_status` sends a ZVT status enquiry (`05 01`) over the terminal's link through
//! the host's transport callbacks and reports the terminal status byte and software version;
//! the well-known check `customer.status` looks up the customer behind an ID for the doctor
//! ([`customer`]).
//!
//! This file is the whole FFI surface: a [`Plugin`] impl and one [`export_plugin!`] line, with
//! no `unsafe` (the workspace lints forbid it). The protocol work is in [`zvt_status`], which
//! runs posdiag-core's sans-I/O ZVT sessions on the shared driver (`posdiag-zvt-driver`) and is
//! unit-tested with a fake host.

use posdiag_core::zvt::Password;
use posdiag_plugin_api::export_plugin;
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, Plugin, PluginError};

mod customer;
mod zvt_status;

/// The plugin id, as in `manifest.toml`.
const PLUGIN_ID: &str = "example.zvt-rust";

/// The plugin's state between checks: its settings.
#[derive(Debug)]
struct ZvtExample {
    /// ZVT password, 3 bytes BCD, from the setting `password` (6 digits; default 000000).
    password: [u8; 3],
}

impl Plugin for ZvtExample {
    fn descriptor() -> pb::Descriptor {
        pb::Descriptor {
            checks: vec![
                pb::CheckInfo {
                    id: zvt_status::CHECK_ID.into(),
                    description_en: "Asks the terminal for its status (ZVT status enquiry) and reports the status byte and software version".into(),
                    description_zh: "向终端查询状态（ZVT 状态查询），报告状态字节和软件版本".into(),
                    needs_link: true,
                    default_timeout_ms: 0,
                },
                pb::CheckInfo {
                    id: customer::CHECK_ID.into(),
                    description_en: "Looks up the customer behind an ID in the registry the merchant exports (plugin_args.customer_list)".into(),
                    description_zh: "在商户导出的客户名单（plugin_args.customer_list）中查找该ID对应的客户".into(),
                    needs_link: false,
                    default_timeout_ms: 0,
                },
            ],
            ..Default::default()
        }
    }

    fn init(host: &Host, init: pb::InitRequest) -> Result<Self, PluginError> {
        let password = match init.settings.get("password") {
            Some(digits) => Password::from_digits(digits)
                .map(Password::bcd)
                .ok_or_else(|| {
                    PluginError::invalid(format!(
                        "setting password: {digits:?} is not 6 decimal digits, e.g. \"000000\""
                    ))
                })?,
            None => [0; 3],
        };
        host.debug(&format!("{PLUGIN_ID} ready (host {})", init.host_version));
        Ok(ZvtExample { password })
    }

    fn run_check(
        &mut self,
        host: &Host,
        req: pb::CheckRequest,
    ) -> Result<pb::CheckResult, PluginError> {
        // The SDK refuses check ids the descriptor does not list.
        if req.check == customer::CHECK_ID {
            return customer::run(&req);
        }
        zvt_status::run(host, &req, self.password)
    }
}

export_plugin!(
    ZvtExample,
    id = PLUGIN_ID,
    version = env!("CARGO_PKG_VERSION")
);
