//! posdiag's reference ZVT plugin, "posdiag.zvt": five checks for ZVT payment terminals over
//! serial/USB (DLE/STX framing, ACK bytes) or TCP (raw APDUs), through the SDK's transport
//! callbacks and without `unsafe`:
//!
//! - `terminal.status`: status enquiry `05 01`, the terminal status byte judged;
//! - `terminal.software`: the software version against `args["min_version"]`;
//! - `host.terminal_diagnosis`: line diagnosis `06 70`, can the terminal reach its host (and
//!   the EMV data on what it prints through the ECR meanwhile, [`printout`]);
//! - `reader.status`: the status byte judged for card-reader faults;
//! - `reader.read_card`: read card `06 C0`, what the reader makes of a presented card.
//!
//! `posdiag-zvt-driver` moves the bytes (shared by all checks and the example plugin),
//! [`common`] builds findings and looks codes up in posdiag-codes, and one module per command
//! judges its outcome. The library is
//! also an rlib so that the tests drive the checks in-process against the ZVT simulator.

use posdiag_core::zvt::Password;
use posdiag_plugin_api::export_plugin;
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, Plugin, PluginError};

pub mod common;
pub mod diagnosis;
pub mod printout;
pub mod read_card;
pub mod status;
pub mod version;

/// The plugin id, as in `manifest.toml`.
pub const PLUGIN_ID: &str = "posdiag.zvt";

/// The check ids, in the manifest's order.
pub const CHECKS: [&str; 5] = [
    status::TERMINAL_STATUS,
    status::TERMINAL_SOFTWARE,
    diagnosis::CHECK_ID,
    status::READER_STATUS,
    read_card::CHECK_ID,
];

/// The plugin's state between checks: its settings.
#[derive(Debug, Clone)]
pub struct ZvtPlugin {
    /// ZVT password, 3 bytes BCD, from the setting `password` (6 digits; default 000000).
    password: [u8; 3],
}

impl ZvtPlugin {
    /// A plugin with this password (what `init` makes of the settings).
    pub fn new(password: [u8; 3]) -> ZvtPlugin {
        ZvtPlugin { password }
    }

    /// Runs one check; what `run_check` does, callable without the C ABI.
    pub fn check(
        &self,
        host: &Host,
        req: &pb::CheckRequest,
    ) -> Result<pb::CheckResult, PluginError> {
        match req.check.as_str() {
            status::TERMINAL_STATUS => status::terminal_status(host, req, self.password),
            status::TERMINAL_SOFTWARE => status::terminal_software(host, req, self.password),
            status::READER_STATUS => status::reader_status(host, req, self.password),
            diagnosis::CHECK_ID => diagnosis::run(host, req, self.password),
            read_card::CHECK_ID => read_card::run(host, req, self.password),
            other => Err(PluginError::UnsupportedCheck(other.to_owned())),
        }
    }
}

fn check_info(id: &str, en: &str, zh: &str) -> pb::CheckInfo {
    pb::CheckInfo {
        id: id.into(),
        description_en: en.into(),
        description_zh: zh.into(),
        needs_link: true,
        default_timeout_ms: 0,
    }
}

impl Plugin for ZvtPlugin {
    fn descriptor() -> pb::Descriptor {
        pb::Descriptor {
            checks: vec![
                check_info(
                    status::TERMINAL_STATUS,
                    "Asks the terminal for its status (ZVT status enquiry) and judges the terminal status byte",
                    "向终端查询状态（ZVT 状态查询）并判断终端状态字节",
                ),
                check_info(
                    status::TERMINAL_SOFTWARE,
                    "Compares the terminal's software version with args.min_version",
                    "将终端软件版本与 args.min_version 比较",
                ),
                check_info(
                    diagnosis::CHECK_ID,
                    "Makes the terminal contact its payment host (ZVT line diagnosis) and reports whether it got through",
                    "让终端连接其支付主机（ZVT 线路诊断）并报告是否连通",
                ),
                check_info(
                    status::READER_STATUS,
                    "Judges the terminal status for card-reader faults (reader defective, shutter closed, card left in)",
                    "根据终端状态判断读卡器故障（读卡器故障、挡板关闭、卡片未取出）",
                ),
                check_info(
                    read_card::CHECK_ID,
                    "Asks the operator to present a card (ZVT read card) and reports what the reader read, card data masked",
                    "请操作员出示卡片（ZVT 读卡）并报告读卡结果，卡片数据已脱敏",
                ),
            ],
            ..Default::default()
        }
    }

    fn init(host: &Host, init: pb::InitRequest) -> Result<Self, PluginError> {
        let password = match init.settings.get("password") {
            Some(digits) => Password::from_digits(digits)
                .map(Password::bcd)
                .ok_or_else(|| {
                    PluginError::invalid(
                        "setting password: not 6 decimal digits, e.g. \"000000\"".to_owned(),
                    )
                })?,
            None => [0; 3],
        };
        host.debug(&format!("{PLUGIN_ID} ready (host {})", init.host_version));
        Ok(ZvtPlugin::new(password))
    }

    fn run_check(
        &mut self,
        host: &Host,
        req: pb::CheckRequest,
    ) -> Result<pb::CheckResult, PluginError> {
        self.check(host, &req)
    }
}

export_plugin!(
    ZvtPlugin,
    id = PLUGIN_ID,
    version = env!("CARGO_PKG_VERSION")
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use posdiag_plugin_api::sdk::TransportError;

    use super::*;

    #[test]
    fn the_descriptor_offers_the_five_checks() {
        let ids: Vec<String> = ZvtPlugin::descriptor()
            .checks
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, CHECKS);
    }

    #[test]
    fn the_password_setting_is_six_digits() {
        let init = |password: &str| pb::InitRequest {
            settings: [("password".to_owned(), password.to_owned())].into(),
            ..Default::default()
        };
        let host = Host::from_backend(Quiet);
        assert!(ZvtPlugin::init(&host, init("123456")).is_ok());
        let err = ZvtPlugin::init(&host, init("12a456")).unwrap_err();
        assert_eq!(
            err,
            PluginError::invalid("setting password: not 6 decimal digits, e.g. \"000000\"")
        );
    }

    /// A host that drops logs and events and has no link.
    struct Quiet;

    impl posdiag_plugin_api::sdk::HostBackend for Quiet {
        fn log(&self, _level: posdiag_plugin_api::sdk::LogLevel, _message: &str) {}
        fn event(&self, _event: &pb::Event) {}
        fn write(
            &self,
            _bytes: &[u8],
            _timeout: std::time::Duration,
        ) -> Result<(), TransportError> {
            Err(TransportError::NoLink)
        }
        fn read(
            &self,
            _buf: &mut [u8],
            _timeout: std::time::Duration,
        ) -> Result<usize, TransportError> {
            Err(TransportError::NoLink)
        }
    }
}
