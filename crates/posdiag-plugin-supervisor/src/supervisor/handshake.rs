//! Starting a plugin's process and the handshake: both sides' `Hello`
//! (protocol major checked), `Configure` (the plugin's `InitRequest`, the
//! frame limit), then the host's `Ready` with the plugin's descriptor,
//! decoded and validated here once and kept in [`super::Ready`], or its
//! `Failed` (which load step, and whether restarting can help).

use posdiag_plugin_api::pb;
use posdiag_plugin_host::frame;
use posdiag_plugin_host::proto::{self, FailureKind, daemon_message, host_message};
use tokio::time::{Instant, timeout_at};
use tracing::{info, warn};

use super::lifecycle::Supervisor;
use super::process::{Gone, PluginProcess, msg_name};
use super::{LoadFailure, PluginFault, PluginState, Ready};

/// Why a process could not be started.
pub(super) enum StartError {
    /// Restarting will not help.
    Permanent(PluginFault),
    /// Counts as a death; restart after the back-off.
    Died(PluginFault),
}

impl Supervisor {
    /// Spawns a process and handshakes; on success the status says `Ready`.
    pub(super) async fn start(&mut self) -> Result<PluginProcess, StartError> {
        let bin = self.config.host_binary.display().to_string();
        let mut process = (self.spawn)(&self.spec, &self.config).map_err(|e| {
            StartError::Died(PluginFault::Crashed {
                detail: format!(
                    "cannot start plugin host {bin}: {e}; check SupervisorConfig::host_binary"
                ),
            })
        })?;
        self.status.send_modify(|s| s.pid = Some(process.pid));
        let hello = daemon_message::Msg::Hello(proto::Hello {
            protocol_major: proto::PROTOCOL_MAJOR,
            protocol_minor: proto::PROTOCOL_MINOR,
            features: proto::FEATURES.iter().map(|f| (*f).to_owned()).collect(),
            rss_kib: 0,
            pid: 0,
        });
        let configure = daemon_message::Msg::Configure(proto::Configure {
            init_request: frame::encode_payload(&self.spec.init_request),
            max_frame_bytes: process.max_frame as u64,
        });
        // Sent without waiting for the host's Hello: it finds them buffered.
        if let Err(e) = process.send_all(&[hello, configure]).await {
            return Err(StartError::Died(PluginFault::Crashed {
                detail: process.death(Gone::Io(e)).await,
            }));
        }
        let deadline = Instant::now() + self.config.handshake_timeout;
        let mut peer_hello: Option<proto::Hello> = None;
        loop {
            let msg = match timeout_at(deadline, process.next()).await {
                Err(_) => {
                    process.kill();
                    let phase = if peer_hello.is_some() {
                        "Ready"
                    } else {
                        "Hello"
                    };
                    warn!(plugin = %self.spec.id, "no {phase} from the plugin host within {:?}", self.config.handshake_timeout);
                    return Err(StartError::Died(PluginFault::Timeout {
                        after: self.config.handshake_timeout,
                    }));
                }
                Ok(Err(gone)) => {
                    let protocol = matches!(gone, Gone::Protocol(_));
                    let detail = process.death(gone).await;
                    return Err(StartError::Died(if protocol {
                        PluginFault::Protocol { detail }
                    } else {
                        PluginFault::Crashed {
                            detail: format!("{detail} while loading the plugin"),
                        }
                    }));
                }
                Ok(Ok(msg)) => msg,
            };
            match (msg, &peer_hello) {
                (host_message::Msg::Log(l), _) => self.log(&l),
                (host_message::Msg::Hello(h), None) => {
                    if h.protocol_major != proto::PROTOCOL_MAJOR {
                        return Err(StartError::Permanent(PluginFault::Incompatible {
                            kind: LoadFailure::Protocol,
                            detail: format!(
                                "{bin} speaks host protocol {}.{}, posdiagd speaks {}.{}; install matching versions",
                                h.protocol_major,
                                h.protocol_minor,
                                proto::PROTOCOL_MAJOR,
                                proto::PROTOCOL_MINOR
                            ),
                        }));
                    }
                    peer_hello = Some(h);
                }
                (host_message::Msg::Failed(f), _) => {
                    let kind = match f.kind() {
                        FailureKind::MissingSymbol => LoadFailure::MissingSymbol,
                        FailureKind::LoadFailed => LoadFailure::NotLoadable,
                        FailureKind::Incompatible => LoadFailure::Abi,
                        FailureKind::InitFailed | FailureKind::Unspecified => {
                            // init() may depend on things that come back (a
                            // device, a file): retry with back-off.
                            process.kill();
                            return Err(StartError::Died(PluginFault::Crashed {
                                detail: format!("plugin failed to start: {}", f.message),
                            }));
                        }
                    };
                    return Err(StartError::Permanent(PluginFault::Incompatible {
                        kind,
                        detail: f.message,
                    }));
                }
                (host_message::Msg::Ready(r), Some(h)) => {
                    let descriptor = match frame::decode_payload::<pb::Descriptor>(&r.descriptor) {
                        Ok(d) => d,
                        Err(e) => {
                            return Err(StartError::Permanent(PluginFault::Incompatible {
                                kind: LoadFailure::Protocol,
                                detail: format!(
                                    "{}: describe() returned an invalid Descriptor: {e}",
                                    self.spec.library.display()
                                ),
                            }));
                        }
                    };
                    let ready = Ready {
                        plugin_id: r.plugin_id,
                        plugin_version: r.plugin_version,
                        abi_major: r.abi_major,
                        abi_minor: r.abi_minor,
                        descriptor,
                        pid: process.pid,
                        host_rss_kib: h.rss_kib,
                    };
                    info!(plugin = %self.spec.id, version = %ready.plugin_version, pid = process.pid, "plugin ready");
                    self.status.send_modify(|s| {
                        s.state = PluginState::Ready;
                        s.ready = Some(ready);
                    });
                    return Ok(process);
                }
                (other, _) => {
                    process.kill();
                    return Err(StartError::Died(PluginFault::Protocol {
                        detail: format!("unexpected {} during the handshake", msg_name(&other)),
                    }));
                }
            }
        }
    }
}
