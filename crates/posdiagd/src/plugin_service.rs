//! Vendor plugins in the daemon: scanning the plugin directory under the
//! loading policy, starting one supervised `posdiag-plugin-host` process per
//! accepted bundle, and `PluginService` (ListPlugins, GetPlugin), which
//! shows loaded plugins with their state and refused bundles with the reason.

use std::collections::BTreeMap;
use std::path::PathBuf;

use posdiag_engine::Engine;
use posdiag_engine::plugins::PluginEntry;
use posdiag_plugin_api::pb as ppb;
use posdiag_plugin_host::bundle::{self, Policy, Refusal};
use posdiag_plugin_supervisor::{
    PluginHandle, PluginSpec, PluginState, SupervisorConfig, installed_bundle_dir,
    locate_host_binary,
};
use posdiag_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::config::PluginsConfig;
use crate::status::{self, ApiError};

/// What the plugin directory gave.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The directory scanned.
    pub dir: Option<PathBuf>,
    /// Accepted bundles, each with its supervised host.
    pub entries: Vec<PluginEntry>,
    /// Refused bundles with the reason.
    pub refused: Vec<Refusal>,
}

/// Scans the plugin directory and starts a host per accepted bundle. Must be
/// called within the runtime (the supervisors are tasks).
pub fn load(cfg: &PluginsConfig) -> Loaded {
    // Unset, the bundles installed with the daemon (the package's reference
    // plugins in /usr/lib/posdiag/plugins), when there are any.
    let dir = cfg.dir.clone().or_else(installed_bundle_dir);
    let Some(dir) = &dir else {
        return Loaded::default();
    };
    let policy = Policy {
        pins: cfg.pins.clone(),
        require_pins: cfg.require_pins,
        ..Policy::for_this_process()
    };
    let (bundles, mut refused) = bundle::scan(dir, &policy);
    let host = match &cfg.host {
        Some(h) => Ok(h.clone()),
        None => locate_host_binary(),
    };
    let host = match host {
        Ok(h) => h,
        Err(e) => {
            for b in bundles {
                refused.push(Refusal {
                    dir: b.dir.clone(),
                    id: Some(b.manifest.id.clone()),
                    reason: format!("cannot run plugins: {e}"),
                });
            }
            return Loaded {
                dir: Some(dir.clone()),
                entries: Vec::new(),
                refused,
            };
        }
    };
    for r in &refused {
        tracing::warn!(
            plugin = r.id.as_deref().unwrap_or("-"),
            "plugin bundle refused: {r}"
        );
    }
    let mut entries = Vec::new();
    for b in bundles {
        tracing::info!(plugin = %b.manifest.id, version = %b.manifest.version, sha256 = %b.sha256, "plugin bundle accepted");
        let settings = cfg
            .settings
            .get(&b.manifest.id)
            .cloned()
            .unwrap_or_default();
        entries.push(start_bundle(b, host.clone(), cfg.max_memory_mb, settings));
    }
    Loaded {
        dir: Some(dir.clone()),
        entries,
        refused,
    }
}

/// Starts the supervised host of one accepted bundle. Must be called within
/// the runtime.
pub fn start_bundle(
    b: posdiag_plugin_host::bundle::Bundle,
    host: PathBuf,
    max_memory_mb: u64,
    settings: BTreeMap<String, String>,
) -> PluginEntry {
    let mut config = SupervisorConfig::new(host);
    config.max_memory_mb = max_memory_mb;
    let init = ppb::InitRequest {
        settings: settings.into_iter().collect(),
        host_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let spec = PluginSpec {
        id: b.manifest.id.clone(),
        library: b.library.clone(),
        init_request: init,
    };
    let plugin = PluginHandle::start(spec.clone(), config.clone());
    // `serialize`: one host process per device, started on first use.
    let devices = if b.manifest.concurrency == posdiag_plugin_host::bundle::Concurrency::Serialize {
        posdiag_engine::plugins::ProcessPool::per_device(std::sync::Arc::new(move || {
            PluginHandle::start(spec.clone(), config.clone())
        }))
    } else {
        posdiag_engine::plugins::ProcessPool::shared()
    };
    PluginEntry {
        checks: b.manifest.checks.clone(),
        bundle: b,
        plugin,
        devices,
    }
}

/// The health service name of a plugin.
pub fn health_name(id: &str) -> String {
    format!("posdiag.plugin.{id}")
}

/// PluginService.
#[derive(Debug, Clone)]
pub struct Plugins {
    engine: Engine,
    dir: Option<PathBuf>,
    refused: Vec<Refusal>,
}

impl Plugins {
    /// The service over the engine's plugins and the refused bundles.
    pub fn new(engine: Engine, dir: Option<PathBuf>, refused: Vec<Refusal>) -> Plugins {
        Plugins {
            engine,
            dir,
            refused,
        }
    }

    async fn all(&self, lang: posdiag_core::Lang) -> Vec<pb::Plugin> {
        let serving = self.engine.plugin_terminals().await;
        let mut out: Vec<(PathBuf, pb::Plugin)> = Vec::new();
        for e in self.engine.plugins().iter() {
            out.push((e.bundle.dir.clone(), loaded(e, &serving, lang)));
        }
        for r in &self.refused {
            out.push((
                r.dir.clone(),
                pb::Plugin {
                    id: r.id.clone().unwrap_or_default(),
                    path: r.dir.display().to_string(),
                    state: pb::PluginState::Refused as i32,
                    last_error: r.reason.clone(),
                    ..Default::default()
                },
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, p)| p).collect()
    }
}

fn loaded(
    e: &PluginEntry,
    serving: &BTreeMap<String, Vec<String>>,
    lang: posdiag_core::Lang,
) -> pb::Plugin {
    let m = &e.bundle.manifest;
    let status = e.plugin.status();
    // Crashes of the per-device hosts count too; the worst state shows.
    let devices: Vec<_> = e.devices.all().iter().map(|p| p.status()).collect();
    let crashes = status.crashes + devices.iter().map(|d| d.crashes).sum::<u32>();
    let quarantined_device = devices.iter().find(|d| d.state == PluginState::Quarantined);
    let state = match status.state {
        _ if quarantined_device.is_some() => pb::PluginState::Quarantined,
        PluginState::Starting => pb::PluginState::Starting,
        PluginState::Ready => pb::PluginState::Ready,
        PluginState::Restarting => pb::PluginState::Restarting,
        PluginState::Quarantined => pb::PluginState::Quarantined,
        PluginState::Failed | PluginState::Stopped => pb::PluginState::Failed,
    };
    let descriptor = status.ready.as_ref().map(|r| &r.descriptor);
    let checks = match descriptor {
        Some(d) => d
            .checks
            .iter()
            .map(|c| pb::PluginCheck {
                id: c.id.clone(),
                // Plugin text is untrusted: masked like everything shown.
                description: posdiag_core::mask_card_numbers(match lang {
                    posdiag_core::Lang::ZhCn if !c.description_zh.is_empty() => &c.description_zh,
                    _ => &c.description_en,
                }),
                needs_link: c.needs_link,
            })
            .collect(),
        None => m
            .checks
            .iter()
            .map(|c| pb::PluginCheck {
                id: c.clone(),
                ..Default::default()
            })
            .collect(),
    };
    pb::Plugin {
        id: m.id.clone(),
        vendor: m.vendor.clone(),
        version: m.version.clone(),
        library_version: status
            .ready
            .as_ref()
            .map(|r| posdiag_core::mask_card_numbers(&r.plugin_version))
            .unwrap_or_default(),
        abi: m.abi.clone(),
        abi_minor: status.ready.as_ref().map(|r| r.abi_minor).unwrap_or(0),
        path: e.bundle.dir.display().to_string(),
        sha256: e.bundle.sha256.clone(),
        state: state as i32,
        last_error: quarantined_device
            .and_then(|d| d.last_error.as_ref())
            .or(status.last_error.as_ref())
            .or_else(|| devices.iter().rev().find_map(|d| d.last_error.as_ref()))
            .map(|f| posdiag_core::mask_card_numbers(&f.to_string()))
            .unwrap_or_default(),
        crash_count: crashes,
        last_crash_at: None,
        pid: status.pid.unwrap_or(0),
        checks,
        matches: m.matches.iter().map(|x| x.to_string()).collect(),
        terminal_ids: serving.get(&m.id).cloned().unwrap_or_default(),
        concurrency: m.concurrency.as_str().to_owned(),
        health_name: health_name(&m.id),
        device_hosts: devices.len() as u32,
    }
}

#[tonic::async_trait]
impl pb::plugin_service_server::PluginService for Plugins {
    async fn list_plugins(
        &self,
        req: Request<pb::ListPluginsRequest>,
    ) -> Result<Response<pb::ListPluginsResponse>, Status> {
        let lang = status::request_lang(&req, &req.get_ref().lang)?;
        Ok(Response::new(pb::ListPluginsResponse {
            plugins: self.all(lang).await,
            directory: self
                .dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        }))
    }

    async fn get_plugin(
        &self,
        req: Request<pb::GetPluginRequest>,
    ) -> Result<Response<pb::Plugin>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        if r.id.is_empty() {
            return Err(ApiError::invalid("id", "is required", "必填").into_status(lang));
        }
        let all = self.all(lang).await;
        let known: Vec<String> = all
            .iter()
            .filter(|p| !p.id.is_empty())
            .map(|p| p.id.clone())
            .collect();
        all.into_iter()
            .find(|p| p.id == r.id)
            .map(Response::new)
            .ok_or_else(|| {
                ApiError::UnknownPlugin {
                    id: r.id.clone(),
                    known,
                }
                .into_status(lang)
            })
    }
}

/// Turns plugin supervision states, seen one after another, into the faults
/// the history keeps that no check run reports: a quarantine, a permanent
/// load failure, and a release from either. (A crash, hang or protocol
/// fault during a check is recorded with that check's run.)
#[derive(Debug, Default)]
pub struct FaultWatch {
    seen: std::collections::HashMap<String, posdiag_plugin_supervisor::PluginState>,
}

impl FaultWatch {
    /// The faults since the last call.
    pub fn changes(
        &mut self,
        plugins: &posdiag_engine::plugins::Plugins,
    ) -> Vec<posdiag_history::PluginFault> {
        use posdiag_plugin_supervisor::PluginState as S;
        let mut out = Vec::new();
        for p in plugins.iter() {
            let st = p.plugin.status();
            let id = p.bundle.manifest.id.clone();
            let before = self.seen.insert(id.clone(), st.state);
            if before == Some(st.state) {
                continue;
            }
            let fault = match st.state {
                S::Quarantined => "quarantined",
                S::Failed => "failed",
                S::Ready if matches!(before, Some(S::Quarantined | S::Failed)) => "released",
                _ => continue,
            };
            let detail = st
                .last_error
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default();
            out.push(posdiag_history::PluginFault {
                plugin: id,
                fault: fault.into(),
                detail: posdiag_core::Text::new(
                    format!("{detail} ({} deaths since start)", st.crashes),
                    format!("{detail}（启动以来已退出 {} 次）", st.crashes),
                ),
                at: std::time::SystemTime::now(),
            });
        }
        out
    }
}
