//! posdiag-plugin-supervisor: the daemon's side of vendor plugins. Plugins
//! never run in the daemon; each runs in a `posdiag-plugin-host` child process
//! (crate `posdiag-plugin-host`, which has no async runtime), and this crate
//! supervises those processes from inside the daemon's tokio runtime.
//!
//! [`PluginHandle`] spawns and supervises one process, turns every way a
//! plugin can fail (crash, hang, garbage, memory blow-up, wrong ABI) into a
//! [`PluginFault`] within the caller's deadline, restarts with back-off and
//! quarantines a plugin that keeps crashing. Calls are typed: a
//! `pb::CheckRequest` in, a validated `pb::CheckResult` out, and the plugin's
//! `pb::Descriptor` decoded once at the handshake ([`Ready`]); bytes exist only
//! in `posdiag_plugin_host::frame`. Device I/O stays in the daemon: the
//! plugin's transport reads and writes arrive as [`TransportRequest`]s on the
//! caller's channel.
//!
//! `unsafe` is denied except in `supervisor/process.rs` (the `pre_exec` hook
//! and killing a process group), each block with a `// SAFETY:` comment.

#![deny(unsafe_code)]

pub mod supervisor;

pub use supervisor::{
    HOST_BINARY_NAME, LoadFailure, PluginFault, PluginHandle, PluginSpec, PluginState,
    PluginStatus, Ready, SupervisorConfig, TransportError, TransportRequest,
    host_binary_candidates, installed_bundle_dir, locate_host_binary,
};
