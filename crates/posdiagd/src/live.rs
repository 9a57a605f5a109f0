//! The parts of the configuration the gRPC services read on each request
//! (terminals with their id rules and dialects, rule sets, code tables,
//! probe defaults), published through a `watch` channel: a reload sends a
//! new [`Live`], and each request works on the one current when it began.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use posdiag_codes::KnowledgeBase;
use posdiag_engine::model::{ProbeSpec, Thresholds};
use posdiag_ids::RuleSet;
use tokio::sync::watch;

use crate::config::{AuthConfig, Config, TerminalConfig};

/// The configuration as the services see it now.
#[derive(Debug)]
pub(crate) struct Live {
    /// The configured terminals, in configuration order.
    pub terminals: Arc<[TerminalConfig]>,
    /// Customer-ID rule sets by name.
    pub rule_sets: Arc<BTreeMap<String, Arc<RuleSet>>>,
    /// The code knowledge base.
    pub codes: Arc<KnowledgeBase>,
    /// Defaults of ad-hoc probes.
    pub probe_defaults: ProbeSpec,
    /// Thresholds of ad-hoc probes.
    pub thresholds: Thresholds,
    /// Bound on graceful shutdown.
    pub shutdown_timeout: Duration,
    /// Who may do what, limits, probe scope and the TLS identity (a reload
    /// reads certificates again).
    pub auth: Arc<AuthConfig>,
}

impl Live {
    pub(crate) fn of(config: &Config) -> Live {
        Live {
            terminals: config.terminals.clone().into(),
            rule_sets: Arc::new(config.rule_sets.clone()),
            codes: config.codes.clone(),
            probe_defaults: config.probe_defaults,
            thresholds: config.threshold_defaults,
            shutdown_timeout: config.shutdown_timeout,
            auth: Arc::new(config.auth.clone()),
        }
    }
}

/// What a service holds: the current [`Live`] on each `now()`.
#[derive(Debug, Clone)]
pub(crate) struct LiveConfig(watch::Receiver<Arc<Live>>);

impl LiveConfig {
    /// A channel starting at `config`: the sender publishes reloads.
    pub(crate) fn channel(config: &Config) -> (watch::Sender<Arc<Live>>, LiveConfig) {
        let (tx, rx) = watch::channel(Arc::new(Live::of(config)));
        (tx, LiveConfig(rx))
    }

    /// The configuration now (not held across a reload: a request keeps
    /// the one it started with).
    pub(crate) fn now(&self) -> Arc<Live> {
        self.0.borrow().clone()
    }
}
