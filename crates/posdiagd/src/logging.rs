//! The daemon's tracing subscriber: filter from `POSDIAG_LOG` (default
//! `info`), plain or JSON lines on stderr.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the subscriber; a second call is a no-op (the demo may call it
/// after a test harness did).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("POSDIAG_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
