//! posdiagd, the posdiag daemon, as a library: configuration, the gRPC
//! services and the assembled [`App`]. The `posdiagd` binary and the CLI's
//! in-process demo both run it.

#![forbid(unsafe_code)]

mod admin_service;
mod app;
pub mod args;
pub mod auth;
mod caller;
mod code_service;
pub mod config;
pub mod console;
pub mod convert;
mod daemon_state;
mod doctor;
mod emv_service;
mod history_service;
mod id_service;
mod journal;
mod live;
pub mod logging;
pub mod metrics;
pub mod otlp;
pub mod plugin_service;
pub mod reload;
mod service;
mod status;
mod symptom_service;
mod uds_authority;
mod watchdog;

pub use app::App;
pub use config::{Config, ConfigError, Listen};
pub use reload::{ReloadOutcome, ReloadSource};
