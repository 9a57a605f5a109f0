//! Which plugin serves a terminal: the one its `plugin` setting names,
//! else the most specific manifest match (USB VID:PID, model, USB vendor,
//! TCP port), decided from manifests alone: no vendor code runs to decide.

use posdiag_plugin_host::bundle::{Bundle, DeviceFacts, matching};

use super::PluginEntry;
use crate::model::{LinkSpec, TerminalSpec};

/// What the engine knows about a terminal's device when choosing a plugin.
pub(crate) fn facts(spec: &TerminalSpec, usb: Option<(u16, u16)>) -> DeviceFacts {
    let tcp_port = match &spec.link {
        LinkSpec::Tcp(a) => a.rsplit_once(':').and_then(|(_, p)| p.parse().ok()),
        _ => None,
    };
    DeviceFacts {
        usb,
        tcp_port,
        model: spec.model.clone(),
    }
}

/// The plugin that serves a terminal: the configured one, else the most
/// specific manifest match.
pub(crate) fn plugin_for<'a>(
    spec: &TerminalSpec,
    plugins: &'a [PluginEntry],
    usb: Option<(u16, u16)>,
) -> Option<&'a PluginEntry> {
    if let Some(id) = &spec.plugin {
        return plugins.iter().find(|p| &p.bundle.manifest.id == id);
    }
    let bundles: Vec<Bundle> = plugins.iter().map(|p| p.bundle.clone()).collect();
    let best = matching(&bundles, &facts(spec, usb))
        .first()
        .map(|b| b.manifest.id.clone())?;
    plugins.iter().find(|p| p.bundle.manifest.id == best)
}
