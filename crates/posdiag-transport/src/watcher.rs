//! [`PortWatcher`]: hot-plug events by re-running discovery on an interval.
//!
//! Polling rather than inotify or netlink: it works the same on a fake tree
//! in tests, in containers and on hosts without udev, and a terminal plugged
//! in is noticed within one interval, which is plenty for diagnosis.
//! Tests drive it with [`PortWatcher::rescan`] instead of waiting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::discovery::{DiscoveryRoots, PortInfo, discover_in};

/// A change in the set of ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortEvent {
    /// A port appeared (every port counts as appeared on the first scan).
    Added(PortInfo),
    /// A port went away.
    Removed(PortInfo),
    /// A port at the same path is now a different device, or its aliases
    /// changed. Occupancy changes alone are not events.
    Changed {
        /// What it was.
        before: Box<PortInfo>,
        /// What it is.
        after: Box<PortInfo>,
    },
}

impl PortEvent {
    /// The port's path.
    pub fn path(&self) -> &Path {
        match self {
            PortEvent::Added(p) | PortEvent::Removed(p) => &p.path,
            PortEvent::Changed { after, .. } => &after.path,
        }
    }
}

/// Re-runs discovery and reports what changed, to every subscriber.
#[derive(Debug)]
pub struct PortWatcher {
    roots: DiscoveryRoots,
    interval: Duration,
    known: BTreeMap<PathBuf, PortInfo>,
    events: broadcast::Sender<PortEvent>,
}

impl PortWatcher {
    /// A watcher over `roots`, scanning every `interval` when [`Self::run`].
    pub fn new(roots: DiscoveryRoots, interval: Duration) -> Self {
        let (events, _) = broadcast::channel(256);
        PortWatcher {
            roots,
            interval,
            known: BTreeMap::new(),
            events,
        }
    }

    /// Receives every later event. A subscriber that falls more than 256
    /// events behind gets `Lagged` and should re-read [`Self::ports`].
    pub fn subscribe(&self) -> broadcast::Receiver<PortEvent> {
        self.events.subscribe()
    }

    /// The ports as of the last scan, sorted by path.
    pub fn ports(&self) -> Vec<PortInfo> {
        self.known.values().cloned().collect()
    }

    /// Scans now (blocking file system reads), sends the events to the
    /// subscribers and returns them.
    pub fn rescan(&mut self) -> Vec<PortEvent> {
        let ports = discover_in(&self.roots);
        self.apply(ports)
    }

    fn apply(&mut self, ports: Vec<PortInfo>) -> Vec<PortEvent> {
        let mut now: BTreeMap<PathBuf, PortInfo> =
            ports.into_iter().map(|p| (p.path.clone(), p)).collect();
        let mut events = Vec::new();
        for (path, before) in &self.known {
            match now.get(path) {
                None => events.push(PortEvent::Removed(before.clone())),
                Some(after) if !after.same_device(before) => events.push(PortEvent::Changed {
                    before: Box::new(before.clone()),
                    after: Box::new(after.clone()),
                }),
                Some(_) => {}
            }
        }
        for (path, after) in &now {
            if !self.known.contains_key(path) {
                events.push(PortEvent::Added(after.clone()));
            }
        }
        std::mem::swap(&mut self.known, &mut now);
        for e in &events {
            // No subscriber is not an error: the snapshot is still kept.
            let _ = self.events.send(e.clone());
        }
        events
    }

    /// Scans every interval (the first at once) until every subscriber is
    /// gone. Discovery runs on the blocking pool, off the runtime's threads.
    pub async fn run(mut self) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let roots = self.roots.clone();
            match tokio::task::spawn_blocking(move || discover_in(&roots)).await {
                Ok(ports) => {
                    self.apply(ports);
                }
                Err(e) => tracing::debug!(error = %e, "port discovery task failed"),
            }
            if self.events.receiver_count() == 0 {
                return;
            }
        }
    }
}
