//! `[plugins]`: where vendor plugin bundles come from (directory, pins,
//! host binary) and how their hosts run (memory limit, settings).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// `[plugins]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlugins {
    dir: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    require_pins: Option<bool>,
    max_memory_mb: Option<Spanned<u64>>,
    #[serde(default)]
    pins: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    settings: BTreeMap<String, BTreeMap<String, String>>,
}

/// Where vendor plugin bundles come from and how they run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginsConfig {
    /// The bundle directory; `None` loads no plugins.
    pub dir: Option<PathBuf>,
    /// The `posdiag-plugin-host` binary; `None` means next to `posdiagd`.
    pub host: Option<PathBuf>,
    /// Refuse bundles without a pinned SHA-256.
    pub require_pins: bool,
    /// Plugin id → the SHA-256 its library must have (lowercase hex).
    pub pins: BTreeMap<String, String>,
    /// Address-space limit of each plugin host, in MiB.
    pub max_memory_mb: u64,
    /// Plugin id → settings passed to its init.
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
}

/// Validates `[plugins]`; relative paths are taken from `base`.
pub(super) fn validate(
    v: &Validator,
    raw: &RawPlugins,
    base: &Path,
) -> Result<PluginsConfig, ConfigError> {
    let dir = match &raw.dir {
        None => None,
        Some(d) => {
            let dir = base.join(d.get_ref());
            if !dir.is_dir() {
                return Err(v.at(
                    d,
                    "plugins.dir",
                    format!(
                        "{} is not a directory; expected the directory holding plugin bundles",
                        dir.display()
                    ),
                ));
            }
            Some(dir)
        }
    };
    let host = match &raw.host {
        None => None,
        Some(h) => {
            let host = base.join(h.get_ref());
            if !host.is_file() {
                return Err(v.at(
                    h,
                    "plugins.host",
                    format!(
                        "{} is not a file; expected the posdiag-plugin-host binary",
                        host.display()
                    ),
                ));
            }
            Some(host)
        }
    };
    let mut pins = BTreeMap::new();
    for (id, pin) in &raw.pins {
        let hex = pin.get_ref().to_ascii_lowercase();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(v.at(
                pin,
                &format!("plugins.pins.{id}"),
                format!(
                    "{:?} is not a SHA-256; expected 64 hex digits (sha256sum LIBRARY)",
                    pin.get_ref()
                ),
            ));
        }
        pins.insert(id.clone(), hex);
    }
    Ok(PluginsConfig {
        dir,
        host,
        require_pins: raw.require_pins.unwrap_or(false),
        pins,
        max_memory_mb: v.range_u64(&raw.max_memory_mb, "plugins.max_memory_mb", 16, 65_536, 256)?,
        settings: raw.settings.clone(),
    })
}
