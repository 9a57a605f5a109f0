//! The processes of a plugin: one for the plugin as a whole, or for a
//! manifest that asks for serialised access (`concurrency = "serialize"`)
//! one per device, started on first use, so a plugin wedged on one terminal
//! does not hold up the others.

use std::sync::Arc;

use posdiag_plugin_supervisor::PluginHandle;

use super::PluginEntry;

/// Starts another process of the same plugin.
pub type ProcessFactory = Arc<dyn Fn() -> PluginHandle + Send + Sync>;

/// The per-device processes of a plugin, started on first use.
#[derive(Clone)]
pub struct ProcessPool {
    factory: Option<ProcessFactory>,
    processes: Arc<std::sync::Mutex<std::collections::BTreeMap<String, PluginHandle>>>,
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("per_device", &self.factory.is_some())
            .field("processes", &self.all().len())
            .finish()
    }
}

impl ProcessPool {
    /// One process per device, each started by `factory`.
    pub fn per_device(factory: ProcessFactory) -> ProcessPool {
        ProcessPool {
            factory: Some(factory),
            processes: Default::default(),
        }
    }

    /// No per-device processes: every call goes to the plugin's own process.
    pub fn shared() -> ProcessPool {
        ProcessPool {
            factory: None,
            processes: Default::default(),
        }
    }

    /// The process for `device`, started now if it has none yet; `None` when
    /// the plugin shares one process.
    fn for_device(&self, device: &str) -> Option<PluginHandle> {
        let factory = self.factory.as_ref()?;
        let mut processes = self.processes.lock().unwrap_or_else(|p| p.into_inner());
        Some(
            processes
                .entry(device.to_owned())
                .or_insert_with(|| factory())
                .clone(),
        )
    }

    /// Every per-device process started so far.
    pub fn all(&self) -> Vec<PluginHandle> {
        self.processes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

impl PluginEntry {
    /// The process that serves `device`.
    pub fn process_for(&self, device: &str) -> PluginHandle {
        self.devices
            .for_device(device)
            .unwrap_or_else(|| self.plugin.clone())
    }
}
