//! `[ports]`: where serial port discovery looks (sys, dev and proc under a
//! root) and how often it rescans.

use std::path::{Path, PathBuf};
use std::time::Duration;

use posdiag_engine::PortsSpec;
use posdiag_engine::model::DiscoveryRoots;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// `[ports]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPorts {
    root: Option<Spanned<String>>,
    scan_interval_ms: Option<Spanned<u64>>,
}

/// Validates `[ports]`; a relative `root` is taken from `base`.
pub(super) fn validate(
    v: &Validator,
    raw: &RawPorts,
    base: &Path,
) -> Result<PortsSpec, ConfigError> {
    let root = match &raw.root {
        None => PathBuf::from("/"),
        Some(r) => {
            let root = base.join(r.get_ref());
            if !root.is_dir() {
                return Err(v.at(
                    r,
                    "ports.root",
                    format!(
                        "{} is not a directory; expected the directory holding sys, dev and proc (\"/\" unless the host's are mounted elsewhere)",
                        root.display()
                    ),
                ));
            }
            root
        }
    };
    let interval = v.range_u64(
        &raw.scan_interval_ms,
        "ports.scan_interval_ms",
        100,
        600_000,
        2_000,
    )?;
    Ok(PortsSpec {
        roots: DiscoveryRoots::under(&root),
        scan_interval: Duration::from_millis(interval),
    })
}
