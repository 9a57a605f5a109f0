//! `manifest.toml` read by the daemon's own manifest loader, and checked against what the
//! library exports: the same id, the same checks, and the library file cargo builds.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use posdiag_plugin_api::sdk::Plugin;
use posdiag_plugin_host::bundle::{Concurrency, parse_manifest};
use posdiag_plugin_iso8583::{CHECK_ID, Iso8583Plugin, PLUGIN_ID};

#[test]
fn the_manifest_loads_and_agrees_with_the_library() {
    let text = include_str!("../manifest.toml");
    let manifest = parse_manifest(text).unwrap();
    assert_eq!(manifest.id, PLUGIN_ID);
    assert_eq!(manifest.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        manifest.library.to_str(),
        Some(format!("lib{}.so", env!("CARGO_PKG_NAME").replace('-', "_")).as_str())
    );
    assert_eq!(manifest.checks, [CHECK_ID]);
    assert_eq!(manifest.concurrency, Concurrency::Serialize);
    assert_eq!(manifest.default_timeout_ms, 30_000);
    assert!(manifest.matches.is_empty());
    let described: Vec<String> = Iso8583Plugin::descriptor()
        .checks
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(described, manifest.checks);
}
