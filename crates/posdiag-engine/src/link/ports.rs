//! The port monitor: one task that re-runs serial port discovery on an
//! interval, publishes the port list, reports hot-plug changes to port
//! watchers, and tells each terminal task when its port disappears, comes
//! back or moves to another device name (a USB terminal re-enumerated as
//! ttyUSB1 instead of ttyUSB0).
//!
//! Terminals configured by path are followed by the path itself (it may be
//! a symlink such as /dev/serial/by-id/...), terminals configured by USB
//! identity through discovery ([`posdiag_transport::resolve`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use posdiag_core::TerminalId;
use posdiag_transport::{DiscoveryRoots, PortEvent, PortInfo, PortSelector, PortWatcher};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::terminal::Command;

/// Where ports are discovered and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortsSpec {
    /// sysfs, /dev and /proc (a container may mount the host's elsewhere).
    pub roots: DiscoveryRoots,
    /// How often discovery runs; hot-plug changes are seen within one interval.
    pub scan_interval: Duration,
}

impl Default for PortsSpec {
    fn default() -> PortsSpec {
        PortsSpec {
            roots: DiscoveryRoots::default(),
            scan_interval: Duration::from_secs(2),
        }
    }
}

/// Where a terminal's port is now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkState {
    /// The device path the link resolves to; `None` when not present.
    pub path: Option<PathBuf>,
    /// Why it does not resolve (for example "no port matches usb:0403:6001:A1").
    pub problem: Option<String>,
    /// USB vendor and product id of the device, when it is a USB port.
    pub usb: Option<(u16, u16)>,
}

impl LinkState {
    /// Whether the port is present.
    pub fn present(&self) -> bool {
        self.path.is_some()
    }
}

/// A hot-plug change, with the terminals the port belongs to.
#[derive(Debug, Clone)]
pub struct PortChange {
    /// What happened.
    pub kind: PortChangeKind,
    /// The port (its last state for removals).
    pub port: PortInfo,
    /// Terminals whose link resolves to it.
    pub terminals: Vec<TerminalId>,
    /// When it was seen.
    pub at: SystemTime,
}

/// What happened to a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChangeKind {
    /// It appeared.
    Added,
    /// It went away.
    Removed,
    /// Another device now has its path, or its aliases changed.
    Changed,
}

/// A port and the terminals that use it.
#[derive(Debug, Clone)]
pub struct PortView {
    /// The port as discovered.
    pub info: PortInfo,
    /// Terminals whose link resolves to it.
    pub terminals: Vec<TerminalId>,
}

/// The answer to "which ports are there".
#[derive(Debug, Clone, Default)]
pub struct PortsView {
    /// Ports, sorted by path.
    pub ports: Vec<PortView>,
    /// What discovery could not read.
    pub notes: Vec<String>,
}

/// A terminal with a serial link, as the monitor follows it.
#[derive(Debug, Clone)]
pub(crate) struct Followed {
    pub id: TerminalId,
    pub selector: PortSelector,
    pub task: mpsc::Sender<Command>,
}

/// Where a selector points among `ports`. Paths are followed on the file
/// system (they may be symlinks the discovery does not list); USB
/// identities through discovery.
pub(crate) fn locate(selector: &PortSelector, ports: &[PortInfo]) -> LinkState {
    match selector {
        PortSelector::Path(p) => {
            if let Some(found) = ports.iter().find(|i| selector.matches(i)) {
                return LinkState {
                    path: Some(found.path.clone()),
                    problem: None,
                    usb: found.usb().map(|u| (u.vid, u.pid)),
                };
            }
            // A symlink (a by-id alias, a simulator's link) resolves to the
            // device itself, so a replug under another name is a change.
            match std::fs::canonicalize(p) {
                Ok(real) => LinkState {
                    usb: ports
                        .iter()
                        .find(|i| i.path == real)
                        .and_then(|i| i.usb().map(|u| (u.vid, u.pid))),
                    path: Some(real),
                    problem: None,
                },
                Err(e) => LinkState {
                    path: None,
                    problem: Some(format!("{}: {e}", p.display())),
                    usb: None,
                },
            }
        }
        PortSelector::Usb(_) => match posdiag_transport::resolve(selector, ports) {
            Ok(info) => LinkState {
                path: Some(info.path.clone()),
                problem: None,
                usb: info.usb().map(|u| (u.vid, u.pid)),
            },
            Err(e) => LinkState {
                path: None,
                problem: Some(e.to_string()),
                usb: None,
            },
        },
    }
}

/// Terminals whose port is `path`.
pub(crate) fn terminals_on(path: &Path, states: &[(TerminalId, LinkState)]) -> Vec<TerminalId> {
    states
        .iter()
        .filter(|(_, s)| s.path.as_deref() == Some(path))
        .map(|(id, _)| id.clone())
        .collect()
}

/// Notes on what discovery could not read under `roots`.
pub(crate) fn notes(roots: &DiscoveryRoots) -> Vec<String> {
    let mut notes = Vec::new();
    let tty = roots.sys.join("class/tty");
    if !tty.is_dir() {
        notes.push(format!(
            "{} is missing (a container without sysfs?): ports were found by name in {} only, without USB details",
            tty.display(),
            roots.dev.display()
        ));
    }
    if !roots.proc.join("self").exists() {
        notes.push(format!(
            "{} is not readable: which process holds a port is unknown",
            roots.proc.display()
        ));
    }
    notes
}

/// Handles to the running monitor.
#[derive(Debug, Clone)]
pub(crate) struct PortsHandle {
    pub spec: PortsSpec,
    pub latest: watch::Receiver<Arc<Vec<PortInfo>>>,
    pub states: watch::Receiver<Arc<Vec<(TerminalId, LinkState)>>>,
    pub changes: broadcast::Sender<PortChange>,
}

/// The first scan, done before the terminal tasks start so they begin with
/// their port's state (blocking file system reads, once, at start-up).
pub(crate) fn first_scan(spec: &PortsSpec) -> (PortWatcher, Vec<PortInfo>) {
    let mut watcher = PortWatcher::new(spec.roots.clone(), spec.scan_interval);
    watcher.rescan();
    let ports = watcher.ports();
    (watcher, ports)
}

/// Starts the monitor task after [`first_scan`]. It follows the terminals
/// in `followed` as of each scan: a reload sends a new set, and the
/// monitor locates the new terminals at once (in the ports of its last
/// scan), so a terminal added by a reload is not reported as a port that
/// appeared.
pub(crate) fn start(
    spec: PortsSpec,
    watcher: PortWatcher,
    ports: Vec<PortInfo>,
    mut followed_rx: watch::Receiver<Arc<Vec<Followed>>>,
    cancel: CancellationToken,
) -> (PortsHandle, tokio::task::JoinHandle<()>) {
    let states0: Vec<(TerminalId, LinkState)> = followed_rx
        .borrow_and_update()
        .iter()
        .map(|f| (f.id.clone(), locate(&f.selector, &ports)))
        .collect();
    let (latest_tx, latest) = watch::channel(Arc::new(ports));
    let (states_tx, states) = watch::channel(Arc::new(states0));
    let (changes, _) = broadcast::channel(256);
    let handle = PortsHandle {
        spec: spec.clone(),
        latest,
        states,
        changes: changes.clone(),
    };
    let task = tokio::spawn(async move {
        let mut watcher = watcher;
        let mut resync = false;
        let mut ticks = tokio::time::interval(spec.scan_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticks.tick() => {}
                Ok(()) = followed_rx.changed() => {
                    // The terminal set changed (a reload): the states of the
                    // terminals followed now, in the ports of the last scan.
                    let set = followed_rx.borrow_and_update().clone();
                    let known = latest_tx.borrow().clone();
                    let now: Vec<(TerminalId, LinkState)> = set
                        .iter()
                        .map(|f| (f.id.clone(), locate(&f.selector, &known)))
                        .collect();
                    let _ = states_tx.send(Arc::new(now));
                    continue;
                }
            }
            let followed = followed_rx.borrow().clone();
            let (w, (ports, mut events)) = scan(watcher).await;
            // A scan that failed on the blocking pool: keep the last known
            // state (an empty list would report every port gone) and start
            // afresh next round, without reporting that round's "every port
            // added".
            let Some(w) = w else {
                watcher = PortWatcher::new(spec.roots.clone(), spec.scan_interval);
                resync = true;
                continue;
            };
            watcher = w;
            if std::mem::take(&mut resync) {
                events.clear();
            }
            let before = states_tx.borrow().clone();
            let now: Vec<(TerminalId, LinkState)> = followed
                .iter()
                .map(|f| (f.id.clone(), locate(&f.selector, &ports)))
                .collect();
            let at = SystemTime::now();
            for ev in events {
                let (kind, port) = match ev {
                    PortEvent::Added(p) => (PortChangeKind::Added, p),
                    PortEvent::Removed(p) => (PortChangeKind::Removed, p),
                    PortEvent::Changed { after, .. } => (PortChangeKind::Changed, *after),
                };
                let states = if kind == PortChangeKind::Removed {
                    &before
                } else {
                    &now
                };
                let terminals = terminals_on(&port.path, states);
                let _ = changes.send(PortChange {
                    kind,
                    port,
                    terminals,
                    at,
                });
            }
            for (f, (_, state)) in followed.iter().zip(&now) {
                let old = before.iter().find(|(id, _)| *id == f.id).map(|(_, s)| s);
                if old.map(|o| &o.path) != Some(&state.path) {
                    tracing::info!(
                        terminal = %f.id,
                        port = %f.selector,
                        path = state.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "-".into()),
                        "terminal port {}",
                        if state.present() { "present" } else { "gone" }
                    );
                    let _ = f
                        .task
                        .send(Command::LinkChanged {
                            state: state.clone(),
                        })
                        .await;
                }
            }
            let _ = latest_tx.send(Arc::new(ports));
            let _ = states_tx.send(Arc::new(now));
        }
    });
    (handle, task)
}

/// One discovery pass on the blocking pool.
async fn scan(mut watcher: PortWatcher) -> (Option<PortWatcher>, (Vec<PortInfo>, Vec<PortEvent>)) {
    match tokio::task::spawn_blocking(move || {
        let events = watcher.rescan();
        let ports = watcher.ports();
        (watcher, ports, events)
    })
    .await
    {
        Ok((w, ports, events)) => (Some(w), (ports, events)),
        Err(e) => {
            tracing::warn!(error = %e, "serial port discovery failed");
            (None, (Vec::new(), Vec::new()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_selector_follows_the_file_system_and_says_why_it_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("ttyX");
        let sel = PortSelector::Path(dev.clone());
        let gone = locate(&sel, &[]);
        assert!(!gone.present());
        assert!(gone.problem.unwrap().contains("ttyX"));
        std::fs::write(&dev, b"").unwrap();
        let alias = dir.path().join("by-id");
        std::os::unix::fs::symlink(&dev, &alias).unwrap();
        let real = std::fs::canonicalize(&dev).unwrap();
        assert_eq!(locate(&sel, &[]).path, Some(real.clone()));
        assert_eq!(locate(&PortSelector::Path(alias), &[]).path, Some(real));
    }

    #[test]
    fn missing_sysfs_and_proc_are_noted() {
        let dir = tempfile::tempdir().unwrap();
        let n = notes(&DiscoveryRoots::under(dir.path()));
        assert_eq!(n.len(), 2, "{n:?}");
        assert!(n[0].contains("without USB details"));
    }
}
