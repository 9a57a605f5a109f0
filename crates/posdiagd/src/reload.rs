//! Live reload (SIGHUP, `systemctl reload posdiagd`): the configuration file
//! is read and validated again by the same two-stage loader the start uses.
//! A valid file is applied — terminals added, removed or changed in the
//! engine ([`Engine::apply`]), the rest of what the services read published
//! as a new [`Live`] — while unchanged terminals keep their tasks, state and
//! running checks; an invalid file changes nothing. Settings bound at start
//! (sockets, plugins, logging, the history store, in-memory history and
//! probe bounds, port discovery) are kept, and the outcome says which of
//! them need a restart. Each outcome is published on a `watch` channel
//! ([`ReloadOutcome`]) for ListTerminals, and stored in the history.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use posdiag_core::{TerminalId, Text};
use posdiag_engine::Engine;
use tokio::sync::watch;

use crate::config::{self, Config, Listen, TerminalConfig};
use crate::live::Live;

/// The outcome of one reload.
#[derive(Debug, Clone)]
pub struct ReloadOutcome {
    /// When it was attempted.
    pub at: SystemTime,
    /// Whether the new file was applied.
    pub applied: bool,
    /// What changed (and what needs a restart), or why the file was
    /// refused, with its `FILE:LINE:COLUMN`.
    pub detail: Text,
    /// Terminals added, in configuration order.
    pub added: Vec<TerminalId>,
    /// Terminals removed, in the old configuration's order.
    pub removed: Vec<TerminalId>,
    /// Terminals whose configuration changed, in configuration order.
    pub changed: Vec<TerminalId>,
    /// Keys that changed in the file but take effect only after a restart.
    pub needs_restart: Vec<&'static str>,
}

/// Where a reload reads from and what overrides the file (the command
/// line's `--listen` and `--plugin-dir`, which a reload keeps).
#[derive(Debug, Clone)]
pub struct ReloadSource {
    /// The configuration file.
    pub path: PathBuf,
    /// `--plugin-dir`, replacing the file's `plugins.dir`.
    pub plugin_dir: Option<PathBuf>,
}

/// Reloads for a running daemon; one at a time (its owner awaits each).
#[derive(Debug)]
pub(crate) struct Reloader {
    pub(crate) source: ReloadSource,
    /// `--listen`, replacing the file's `daemon.listen` when not empty.
    pub(crate) cli_listen: Vec<Listen>,
    /// The configuration in force.
    pub(crate) current: Config,
    pub(crate) engine: Engine,
    pub(crate) live: watch::Sender<Arc<Live>>,
    pub(crate) outcomes: watch::Sender<Option<Arc<ReloadOutcome>>>,
}

impl Reloader {
    /// Reads, validates and applies the file; publishes and logs the outcome.
    pub(crate) async fn reload(&mut self) -> Arc<ReloadOutcome> {
        let path = self.source.path.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load(&path))
            .await
            .unwrap_or_else(|e| {
                Err(config::ConfigError {
                    file: self.source.path.display().to_string(),
                    line: None,
                    column: None,
                    key: "(file)".into(),
                    message: format!("reading the configuration failed: {e}"),
                })
            });
        let outcome = match loaded {
            Ok(mut new) => {
                if let Some(dir) = &self.source.plugin_dir {
                    new.plugins.dir = Some(dir.clone());
                }
                self.apply(new)
            }
            Err(e) => {
                tracing::error!(
                    config = %self.source.path.display(),
                    error = %e,
                    "configuration reload refused; the running configuration is kept"
                );
                ReloadOutcome {
                    at: SystemTime::now(),
                    applied: false,
                    detail: refused(&e),
                    added: Vec::new(),
                    removed: Vec::new(),
                    changed: Vec::new(),
                    needs_restart: Vec::new(),
                }
            }
        };
        let outcome = Arc::new(outcome);
        self.outcomes.send_replace(Some(outcome.clone()));
        outcome
    }

    fn apply(&mut self, new: Config) -> ReloadOutcome {
        let needs_restart = needs_restart(&self.current, &new, &self.cli_listen);
        for key in &needs_restart {
            tracing::warn!(
                key = *key,
                "{key} changed: needs a restart to take effect (systemctl restart posdiagd)"
            );
        }
        for warning in &new.warnings {
            tracing::warn!("{warning}");
        }
        for t in new.terminals.iter().map(|t| &t.spec) {
            if let Some(id) = &t.plugin
                && !self
                    .engine
                    .plugins()
                    .iter()
                    .any(|e| &e.bundle.manifest.id == id)
            {
                tracing::warn!(terminal = %t.id, plugin = %id, "the terminal's plugin is not loaded; its plugin checks will not run (see `posdiag plugins`)");
            }
        }
        let diff = diff(&self.current.terminals, &new.terminals);
        let engine = self.engine.apply(
            new.terminals.iter().map(|t| t.spec.clone()).collect(),
            new.dns.clone(),
        );
        debug_assert!(engine.added == diff.added && engine.removed == diff.removed);
        self.live.send_replace(Arc::new(Live::of(&new)));
        let detail = applied(&diff, &needs_restart);
        tracing::info!(
            config = %self.source.path.display(),
            terminals = new.terminals.len(),
            restarted = engine.changed.len(),
            "configuration reloaded: {}",
            detail.en
        );
        // Restart-only settings stay as they were bound, so the next
        // reload compares against what runs.
        self.current = Config {
            listen: self.current.listen.clone(),
            socket_mode: self.current.socket_mode,
            allow_non_loopback_tcp: self.current.allow_non_loopback_tcp,
            log_format: self.current.log_format,
            history_per_terminal: self.current.history_per_terminal,
            max_concurrent_probes: self.current.max_concurrent_probes,
            ports: self.current.ports.clone(),
            plugins: self.current.plugins.clone(),
            history: self.current.history.clone(),
            metrics: self.current.metrics.clone(),
            console: self.current.console.clone(),
            export: self.current.export.clone(),
            ..new
        };
        ReloadOutcome {
            at: SystemTime::now(),
            applied: true,
            detail,
            added: diff.added,
            removed: diff.removed,
            changed: diff.changed,
            needs_restart,
        }
    }
}

/// Which terminals a new file adds, removes and changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    pub(crate) added: Vec<TerminalId>,
    pub(crate) removed: Vec<TerminalId>,
    pub(crate) changed: Vec<TerminalId>,
}

/// A terminal changed when anything configured for it did: what the engine
/// runs (link, hosts with their thresholds, schedule, plugin), its id rules
/// (by name) or its dialect.
pub(crate) fn diff(old: &[TerminalConfig], new: &[TerminalConfig]) -> Diff {
    let mut d = Diff::default();
    for t in new {
        match TerminalConfig::find(old, t.spec.id.as_str()) {
            None => d.added.push(t.spec.id.clone()),
            Some(o) => {
                let rules = |c: &TerminalConfig| c.id_rules.as_ref().map(|r| r.name.clone());
                if o.spec != t.spec || o.dialect != t.dialect || rules(o) != rules(t) {
                    d.changed.push(t.spec.id.clone());
                }
            }
        }
    }
    for o in old {
        if TerminalConfig::find(new, o.spec.id.as_str()).is_none() {
            d.removed.push(o.spec.id.clone());
        }
    }
    d
}

/// The keys whose change only a restart applies.
fn needs_restart(old: &Config, new: &Config, cli_listen: &[Listen]) -> Vec<&'static str> {
    let mut out = Vec::new();
    // With --listen the file's list is not used, now or after a restart.
    if cli_listen.is_empty() && old.listen != new.listen {
        out.push("daemon.listen");
    }
    let pairs = [
        ("daemon.socket_mode", old.socket_mode != new.socket_mode),
        (
            "daemon.allow_non_loopback_tcp",
            old.allow_non_loopback_tcp != new.allow_non_loopback_tcp,
        ),
        ("daemon.log_format", old.log_format != new.log_format),
        (
            "daemon.history_per_terminal",
            old.history_per_terminal != new.history_per_terminal,
        ),
        (
            "daemon.max_concurrent_probes",
            old.max_concurrent_probes != new.max_concurrent_probes,
        ),
        ("ports", old.ports != new.ports),
        ("plugins", old.plugins != new.plugins),
        // Plain values (paths, durations, counts) without PartialEq: their
        // Debug forms are equal exactly when they are.
        ("history", old.history != new.history),
        ("metrics", old.metrics != new.metrics),
        ("console", old.console != new.console),
        ("export", old.export != new.export),
    ];
    out.extend(pairs.into_iter().filter(|(_, c)| *c).map(|(k, _)| k));
    out
}

fn join(ids: &[TerminalId], sep: &str) -> String {
    ids.iter()
        .map(TerminalId::as_str)
        .collect::<Vec<_>>()
        .join(sep)
}

/// "added T4; removed T2; changed T1", and what needs a restart.
pub(crate) fn applied(d: &Diff, needs_restart: &[&str]) -> Text {
    let mut en = Vec::new();
    let mut zh = Vec::new();
    for (ids, e, z) in [
        (&d.added, "added", "新增"),
        (&d.removed, "removed", "移除"),
        (&d.changed, "changed", "修改"),
    ] {
        if !ids.is_empty() {
            en.push(format!("{e} {}", join(ids, ", ")));
            zh.push(format!("{z} {}", join(ids, "、")));
        }
    }
    if en.is_empty() {
        en.push("no terminal added, removed or changed".to_owned());
        zh.push("没有新增、移除或修改终端".to_owned());
    }
    for key in needs_restart {
        en.push(format!("{key} changed: needs a restart to take effect"));
        zh.push(format!("{key} 已修改：需重启后生效"));
    }
    Text::new(en.join("; "), zh.join("；"))
}

/// Why the file was refused, with where. Masked here, once, because the
/// outcome goes to systemd's STATUS and to whoever records it, and a parser
/// message may quote a value from the file.
pub(crate) fn refused(e: &config::ConfigError) -> Text {
    let e = posdiag_core::mask_card_numbers(&e.to_string());
    Text::new(
        format!("refused, the running configuration is kept: {e}"),
        format!("已拒绝，继续使用当前配置：{e}"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        config::parse(text, "posdiagd.toml", Path::new(".")).unwrap()
    }

    const HOSTS: &str = "[hosts.a]\naddress = \"127.0.0.1\"\nport = 1\n[hosts.b]\naddress = \"127.0.0.1\"\nport = 2\n";

    #[test]
    fn terminals_are_added_removed_and_changed_by_what_is_configured_for_them() {
        let old = config(&format!(
            "{HOSTS}[[terminals]]\nid = \"T1\"\nhosts = [\"a\"]\n[[terminals]]\nid = \"T2\"\n[[terminals]]\nid = \"T3\"\nhosts = [\"a\"]\n"
        ));
        let new = config(&format!(
            "{HOSTS}[[terminals]]\nid = \"T4\"\n[[terminals]]\nid = \"T1\"\nhosts = [\"a\"]\n[[terminals]]\nid = \"T3\"\nhosts = [\"b\"]\n"
        ));
        let d = diff(&old.terminals, &new.terminals);
        let ids = |v: &[TerminalId]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(
            (ids(&d.added), ids(&d.removed), ids(&d.changed)),
            (
                vec!["T4".to_owned()],
                vec!["T2".to_owned()],
                vec!["T3".to_owned()]
            )
        );
        let text = applied(&d, &[]);
        assert_eq!(text.en, "added T4; removed T2; changed T3");
        assert_eq!(text.zh, "新增 T4；移除 T2；修改 T3");
        // A host's threshold is part of the terminal.
        let stricter = config(&format!(
            "{}[[terminals]]\nid = \"T1\"\nhosts = [\"a\"]\n[[terminals]]\nid = \"T2\"\n[[terminals]]\nid = \"T3\"\nhosts = [\"a\"]\n",
            HOSTS.replace(
                "port = 1\n",
                "port = 1\n[hosts.a.probe]\nloss_warning_ratio = 0.2\n"
            )
        ));
        assert_eq!(
            ids(&diff(&old.terminals, &stricter.terminals).changed),
            ["T1", "T3"]
        );
        assert_eq!(diff(&old.terminals, &old.terminals), Diff::default());
    }

    #[test]
    fn settings_bound_at_start_are_named_as_needing_a_restart() {
        let old = config("[daemon]\nlisten = [\"unix:/tmp/a.sock\"]\n");
        let new = config("[daemon]\nlisten = [\"unix:/tmp/b.sock\"]\nlog_format = \"json\"\n");
        assert_eq!(
            needs_restart(&old, &new, &[]),
            ["daemon.listen", "daemon.log_format"]
        );
        // With --listen, the file's list is not what the daemon listens on.
        let cli = [Listen::Unix("/tmp/c.sock".into())];
        assert_eq!(needs_restart(&old, &new, &cli), ["daemon.log_format"]);
        let text = applied(&Diff::default(), &["daemon.listen"]);
        assert_eq!(
            text.en,
            "no terminal added, removed or changed; daemon.listen changed: needs a restart to take effect"
        );
    }

    #[test]
    fn a_refused_file_is_located_and_masked() {
        let bad = config::parse(
            "[[terminals]]\nid = \"T1\"\nname = 4111111111111111\n",
            "posdiagd.toml",
            Path::new("."),
        )
        .unwrap_err();
        let why = refused(&bad);
        assert!(why.en.contains("posdiagd.toml:3:8"), "{}", why.en);
        // The parser quotes the value; the outcome masks it.
        assert!(bad.to_string().contains("4111111111111111"));
        assert!(!why.en.contains("4111111111111111"), "{}", why.en);
        assert!(
            why.zh
                .starts_with("已拒绝，继续使用当前配置：posdiagd.toml:3:8"),
            "{}",
            why.zh
        );
    }
}
