//! The Rust SDK for vendor plugins: implement [`Plugin`], then export it with
//! [`export_plugin!`](crate::export_plugin):
//!
//! ```
//! use posdiag_plugin_api::pb;
//! use posdiag_plugin_api::sdk::{Host, Plugin, PluginError};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn descriptor() -> pb::Descriptor {
//!         pb::Descriptor {
//!             checks: vec![pb::CheckInfo {
//!                 id: "acme.hello".into(),
//!                 description_en: "Says hello".into(),
//!                 description_zh: "打招呼".into(),
//!                 ..Default::default()
//!             }],
//!             ..Default::default()
//!         }
//!     }
//!     fn init(_host: &Host, _init: pb::InitRequest) -> Result<Self, PluginError> {
//!         Ok(Hello)
//!     }
//!     fn run_check(&mut self, host: &Host, req: pb::CheckRequest) -> Result<pb::CheckResult, PluginError> {
//!         host.info("saying hello");
//!         Ok(pb::CheckResult {
//!             findings: vec![pb::Finding {
//!                 verdict: pb::Verdict::Ok.into(),
//!                 reason: "ok".into(),
//!                 summary_en: "hello".into(),
//!                 summary_zh: "你好".into(),
//!                 subject: format!("terminal {}", req.terminal_id),
//!                 ..Default::default()
//!             }],
//!         })
//!     }
//! }
//!
//! posdiag_plugin_api::export_plugin!(Hello, id = "acme.hello", version = env!("CARGO_PKG_VERSION"));
//! ```
//!
//! What the SDK does so that vendors need no `unsafe`:
//! - every exported function runs inside [`std::panic::catch_unwind`]: a panic becomes
//!   `POSDIAG_E_PANIC` and an error log line, and never unwinds into the C host (which since
//!   Rust 1.81 would abort the whole host process); build plugins with `panic = "unwind"`
//!   (the default), since `panic = "abort"` leaves nothing to catch;
//! - payloads are decoded and encoded here; an undecodable request is `POSDIAG_E_INVALID`;
//! - a check id the descriptor does not list is `POSDIAG_E_UNSUPPORTED` before the plugin runs;
//!   an empty `Finding.check` is filled with the request's check id, and an empty
//!   `Descriptor.id`/`version` with the exported ones;
//! - returned buffers are `Box<[u8]>` allocated here and freed by the exported `free_buf`;
//! - host callbacks are read only as far as the host's `struct_size` covers them, and a NULL
//!   or missing callback degrades (logs dropped, transport [`TransportError::Unsupported`]);
//! - the plugin value lives behind a mutex, so calls never alias `&mut self` even when the
//!   manifest says `concurrency = "thread_safe"` (calls into one Rust plugin then run one at
//!   a time; a plugin wanting parallel checks keeps its own per-check state instead). After a
//!   caught panic the plugin value is used as it was left: the host sees the panic code and
//!   decides whether to restart.

mod export;
mod host;

pub use host::{Host, HostBackend, LogLevel};

#[doc(hidden)]
pub mod __private {
    //! Used by [`export_plugin!`](crate::export_plugin); not part of the API.
    pub use super::export::{Identity, Table, nul_terminated};
}

use crate::abi;
use crate::pb;

/// What a vendor implements. One value is created by [`Plugin::init`] and used for every
/// check until [`Plugin::shutdown`].
pub trait Plugin: Sized + Send + 'static {
    /// The checks the plugin offers. Called by `describe` (before `init`) and once in `init`.
    /// `id` and `version` may be left empty: the SDK fills in the exported ones.
    fn descriptor() -> pb::Descriptor;

    /// Creates the plugin from the daemon's settings for it. Called once.
    fn init(host: &Host, init: pb::InitRequest) -> Result<Self, PluginError>;

    /// Runs one check. A terminal's "no answer", "declined" or "defective" is a
    /// [`pb::Finding`] with a verdict, not an `Err`: `Err` means the check could not run.
    fn run_check(
        &mut self,
        host: &Host,
        req: pb::CheckRequest,
    ) -> Result<pb::CheckResult, PluginError>;

    /// Called once before the host process exits.
    fn shutdown(&mut self) {}
}

/// Why a host callback failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The deadline passed (`POSDIAG_E_TIMEOUT`).
    #[error("the deadline passed")]
    Timeout,
    /// The device vanished (`POSDIAG_E_LINK_LOST`).
    #[error("the device link was lost")]
    LinkLost,
    /// The check has no device link (`POSDIAG_E_NO_LINK`).
    #[error("the check has no device link")]
    NoLink,
    /// The host did not provide this callback (an older host, or a NULL pointer).
    #[error("the host does not provide {0}")]
    Unsupported(&'static str),
    /// Any other return code from the host.
    #[error("the host failed the call with code {0}")]
    Failed(i32),
}

impl TransportError {
    /// The error for a host's return code; `None` for `POSDIAG_OK` (and for positive codes,
    /// which the ABI does not define and which a lenient reader takes as success).
    pub fn from_code(code: i32) -> Option<TransportError> {
        match code {
            c if c >= abi::POSDIAG_OK => None,
            abi::POSDIAG_E_TIMEOUT => Some(TransportError::Timeout),
            abi::POSDIAG_E_LINK_LOST => Some(TransportError::LinkLost),
            abi::POSDIAG_E_NO_LINK => Some(TransportError::NoLink),
            other => Some(TransportError::Failed(other)),
        }
    }

    /// The `POSDIAG_E_*` code that reports this error.
    pub fn code(&self) -> i32 {
        match self {
            TransportError::Timeout => abi::POSDIAG_E_TIMEOUT,
            TransportError::LinkLost => abi::POSDIAG_E_LINK_LOST,
            TransportError::NoLink => abi::POSDIAG_E_NO_LINK,
            TransportError::Unsupported(_) => abi::POSDIAG_E_FAILED,
            TransportError::Failed(code) => *code,
        }
    }
}

/// Why `init` or `run_check` could not do its job (reported to the host as a return code plus
/// an error log line with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The check id is not one this plugin offers (`POSDIAG_E_UNSUPPORTED`).
    #[error("check {0:?} is not offered by this plugin")]
    UnsupportedCheck(String),
    /// A setting or argument is unusable (`POSDIAG_E_INVALID`).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A transport callback failed and the plugin gave up (its code is returned).
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// Anything else (`POSDIAG_E_FAILED`).
    #[error("{0}")]
    Failed(String),
}

impl PluginError {
    /// A [`PluginError::Failed`] with this message.
    pub fn failed(message: impl Into<String>) -> PluginError {
        PluginError::Failed(message.into())
    }

    /// A [`PluginError::Invalid`] with this message.
    pub fn invalid(message: impl Into<String>) -> PluginError {
        PluginError::Invalid(message.into())
    }

    /// The `POSDIAG_E_*` code returned for this error.
    pub fn code(&self) -> i32 {
        match self {
            PluginError::UnsupportedCheck(_) => abi::POSDIAG_E_UNSUPPORTED,
            PluginError::Invalid(_) => abi::POSDIAG_E_INVALID,
            PluginError::Transport(e) => e.code(),
            PluginError::Failed(_) => abi::POSDIAG_E_FAILED,
        }
    }
}

/// A finding of `check` about `subject`, with its summary in English and Chinese; push
/// evidence and remedies onto it afterwards:
///
/// ```
/// use posdiag_plugin_api::pb;
/// use posdiag_plugin_api::sdk::{evidence_number, finding, remedy};
///
/// let mut f = finding(
///     "acme.status",
///     "terminal T1",
///     pb::Verdict::Warning,
///     "vendor.acme.not_ready",
///     format!("the terminal reports status 0x{:02X}", 0xE0),
///     format!("终端报告状态 0x{:02X}", 0xE0),
/// );
/// f.evidence.push(evidence_number("terminal_status", 224.0, ""));
/// f.remedies.push(remedy(pb::Actor::Merchant, "Restart the terminal.", "请重启终端。"));
/// ```
pub fn finding(
    check: &str,
    subject: &str,
    verdict: pb::Verdict,
    reason: &str,
    en: impl Into<String>,
    zh: impl Into<String>,
) -> pb::Finding {
    pb::Finding {
        check: check.to_owned(),
        verdict: verdict.into(),
        reason: reason.to_owned(),
        summary_en: en.into(),
        summary_zh: zh.into(),
        subject: subject.to_owned(),
        ..Default::default()
    }
}

/// A remedy: who acts (`actor`) and what they do, in English and Chinese.
pub fn remedy(actor: pb::Actor, en: &str, zh: &str) -> pb::Remedy {
    pb::Remedy {
        actor: actor.into(),
        text_en: en.to_owned(),
        text_zh: zh.to_owned(),
    }
}

/// A duration in milliseconds, the unit of time in evidence and metrics:
/// `evidence_number("round_trip", ms(rtt), "ms")`.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Evidence with a number, e.g. `evidence_number("round_trip", 12.0, "ms")`.
pub fn evidence_number(name: &str, value: f64, unit: &str) -> pb::Evidence {
    pb::Evidence {
        name: name.to_owned(),
        value: Some(pb::evidence::Value::Number(value)),
        unit: unit.to_owned(),
    }
}

/// Evidence with a text, e.g. `evidence_text("software_version", "2.0.9")`.
pub fn evidence_text(name: &str, value: &str) -> pb::Evidence {
    pb::Evidence {
        name: name.to_owned(),
        value: Some(pb::evidence::Value::Text(value.to_owned())),
        unit: String::new(),
    }
}

/// Evidence with a yes/no value.
pub fn evidence_flag(name: &str, value: bool) -> pb::Evidence {
    pb::Evidence {
        name: name.to_owned(),
        value: Some(pb::evidence::Value::Flag(value)),
        unit: String::new(),
    }
}

/// Exports a [`Plugin`] as the C symbol `posdiag_plugin_entry_v1`:
///
/// ```text
/// posdiag_plugin_api::export_plugin!(MyPlugin, id = "acme.zvt", version = env!("CARGO_PKG_VERSION"));
/// ```
///
/// `id` must match the manifest's (`[a-z0-9._-]`, checked at compile time) and neither `id`
/// nor `version` may contain a NUL byte. Use it once per library, at the crate's top level.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty, id = $id:expr, version = $version:expr $(,)?) => {
        impl $crate::sdk::__private::Identity for $plugin {
            const ID: &'static str = $id;
            const VERSION: &'static str = $version;
        }

        /// The plugin's function table (C ABI "posdiag-c-v1"), generated by `export_plugin!`.
        #[unsafe(no_mangle)]
        pub extern "C" fn posdiag_plugin_entry_v1() -> *const $crate::abi::PosdiagPluginV1 {
            const ID_LEN: usize = <$plugin as $crate::sdk::__private::Identity>::ID.len() + 1;
            const VERSION_LEN: usize =
                <$plugin as $crate::sdk::__private::Identity>::VERSION.len() + 1;
            static ID_C: [u8; ID_LEN] = $crate::sdk::__private::nul_terminated(
                <$plugin as $crate::sdk::__private::Identity>::ID,
                true,
            );
            static VERSION_C: [u8; VERSION_LEN] = $crate::sdk::__private::nul_terminated(
                <$plugin as $crate::sdk::__private::Identity>::VERSION,
                false,
            );
            static TABLE: $crate::sdk::__private::Table =
                $crate::sdk::__private::Table::new::<$plugin>(&ID_C, &VERSION_C);
            TABLE.as_ptr()
        }
    };
}
