//! The terminals' part of the metrics text, kept between scrapes: each
//! terminal's series ([`Fragment`]) with the generation of its run counts
//! when they were rendered (`posdiag_engine::tally`: it moves whenever the
//! terminal's task records a run, the only time its findings, status and
//! counts change). A scrape compares generations, asks only the terminals
//! that moved for their state, renders those, and reassembles the text only
//! when something changed; with nothing changed it hands out the same
//! bytes. A thousand terminals of eight checks are some 10 MB of text,
//! which a scrape then never renders again.
//!
//! The rendering runs on the blocking pool, not on the runtime's workers
//! the checks run on, and finishes (and is kept) even when the scraper
//! leaves meanwhile.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use posdiag_core::TerminalId;
use posdiag_engine::model::TerminalSpec;
use posdiag_engine::tally::TallySnapshot;
use posdiag_engine::{Engine, TerminalSnapshot};

use super::render::{Fragment, assemble};

/// The cache; one per daemon, shared by every scrape.
#[derive(Debug, Default)]
pub(crate) struct TerminalCache {
    /// One scrape updates the cache at a time; the others wait and then
    /// find it current.
    updating: tokio::sync::Mutex<()>,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<TerminalId, Entry>,
    /// The terminal list `text` was assembled for.
    order: Option<Arc<[Arc<TerminalSpec>]>>,
    /// The terminals' families, assembled.
    text: Bytes,
}

#[derive(Debug)]
struct Entry {
    /// The spec it was rendered with: a reload that changes the terminal
    /// gives it a new one (and a new task).
    spec: Arc<TerminalSpec>,
    generation: u64,
    fragment: Fragment,
}

/// A terminal to render again: its state, read after `generation`.
struct Fresh {
    generation: u64,
    snapshot: TerminalSnapshot,
    tally: TallySnapshot,
}

impl TerminalCache {
    /// The terminals' families now.
    pub(crate) async fn text(&self, engine: &Engine) -> Bytes {
        let _updating = self.updating.lock().await;
        let order = engine.terminals();
        let stale: Vec<(Arc<TerminalSpec>, u64)> = {
            let state = lock(&self.state);
            order
                .iter()
                .filter_map(|spec| {
                    let generation = engine.tally().generation(&spec.id);
                    let current = state
                        .entries
                        .get(&spec.id)
                        .is_some_and(|e| Arc::ptr_eq(&e.spec, spec) && e.generation == generation);
                    (!current).then(|| (spec.clone(), generation))
                })
                .collect()
        };
        let mut fresh = Vec::with_capacity(stale.len());
        for (spec, generation) in stale {
            // Read after the generation: a run recorded in between is in
            // the snapshot, and the next scrape renders it again anyway.
            // A terminal a reload removed meanwhile is left out.
            if let Ok(snapshot) = engine.snapshot(spec.id.as_str()).await {
                fresh.push(Fresh {
                    generation,
                    tally: engine.tally().snapshot_of(&spec.id),
                    snapshot,
                });
            }
        }
        {
            let state = lock(&self.state);
            let same_order = state.order.as_ref().is_some_and(|o| Arc::ptr_eq(o, &order));
            if fresh.is_empty() && same_order {
                return state.text.clone();
            }
        }
        let state = self.state.clone();
        let update = tokio::task::spawn_blocking(move || {
            let mut state = lock(&state);
            state.update(order, fresh);
            state.text.clone()
        });
        match update.await {
            Ok(text) => text,
            // The rendering panicked (a bug): what was kept before.
            Err(_) => lock(&self.state).text.clone(),
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // Each update replaces whole entries and then the text, so a panic
    // mid-way leaves a usable cache.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    /// Renders `fresh`, forgets terminals no longer in `order`, assembles.
    fn update(&mut self, order: Arc<[Arc<TerminalSpec>]>, fresh: Vec<Fresh>) {
        for f in fresh {
            let spec = f.snapshot.spec.clone();
            let fragment = Fragment::of(f.snapshot, f.tally);
            self.entries.insert(
                spec.id.clone(),
                Entry {
                    spec,
                    generation: f.generation,
                    fragment,
                },
            );
        }
        let live: HashSet<&TerminalId> = order.iter().map(|s| &s.id).collect();
        self.entries.retain(|id, _| live.contains(id));
        let text = assemble(
            order
                .iter()
                .filter_map(|s| self.entries.get(&s.id))
                .map(|e| &e.fragment),
        );
        self.text = Bytes::from(text);
        self.order = Some(order);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use posdiag_core::{Finding, Producer, Reason, Text, Verdict};
    use posdiag_engine::TerminalSnapshot;
    use posdiag_engine::model::{HostSpec, LinkProbeSpec, LinkSpec, TerminalSpec};
    use posdiag_engine::tally::{Key, TallySnapshot};

    use super::*;
    use crate::metrics::render::{DaemonSeries, HistoryState, Scrape, daemon, head, render};

    fn spec(id: &str) -> Arc<TerminalSpec> {
        Arc::new(TerminalSpec {
            id: TerminalId::new(id).unwrap(),
            name: String::new(),
            vendor: "Simulated".into(),
            model: "m".into(),
            link: LinkSpec::None,
            protocol: None,
            link_probe: LinkProbeSpec::default(),
            plugin: None,
            plugin_args: Default::default(),
            plugin_timeout: None,
            hosts: vec![Arc::new(HostSpec {
                name: "acquirer-a".into(),
                host: "127.0.0.1".into(),
                port: 4000,
                tls: None,
                exchange: None,
                echo: None,
                probe: Default::default(),
                thresholds: Default::default(),
            })],
            check_interval: None,
        })
    }

    fn finding(spec: &TerminalSpec, check: &str, verdict: Verdict, reason: Reason) -> Finding {
        Finding {
            check: check.into(),
            verdict,
            reason,
            summary: Text::new("s", "s"),
            evidence: vec![posdiag_core::Evidence::number(
                "rtt_p50",
                3.0,
                posdiag_core::Unit::Ms,
            )],
            remedies: Vec::new(),
            duration: Duration::from_millis(3),
            observed_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            terminal: Some(spec.id.clone()),
            subject: spec.hosts[0].subject(),
            producer: Producer::builtin(),
        }
    }

    fn snapshot(spec: &Arc<TerminalSpec>, verdict: Option<Verdict>) -> TerminalSnapshot {
        TerminalSnapshot {
            spec: spec.clone(),
            status: verdict,
            last_checked: None,
            latest: verdict
                .map(|v| {
                    let reason = if v == Verdict::Ok {
                        Reason::Ok
                    } else {
                        Reason::TcpRefused
                    };
                    vec![finding(spec, "host.tcp", v, reason)]
                })
                .unwrap_or_default(),
            link: Default::default(),
        }
    }

    fn tally(spec: &TerminalSpec, runs: u64) -> TallySnapshot {
        let key = Key {
            terminal: spec.id.clone(),
            check: "host.tcp".into(),
            target: "acquirer-a".into(),
        };
        TallySnapshot {
            runs: vec![(key.clone(), Verdict::Ok, runs)],
            failures: vec![(key, Reason::TcpRefused, runs)],
        }
    }

    fn daemon_series() -> DaemonSeries {
        DaemonSeries {
            plugins: Vec::new(),
            history: HistoryState::Disabled,
            grpc: vec![("/grpc.health.v1.Health/Check", "OK", 2)],
            otlp: None,
        }
    }

    /// The whole text from the cache's part, as `/metrics` serves it.
    fn served(state: &State) -> String {
        let mut out = head();
        out.push_str(std::str::from_utf8(&state.text).unwrap());
        out.push_str(&daemon(daemon_series()));
        out
    }

    /// The same state rendered without a cache.
    fn fresh(terminals: &[(Arc<TerminalSpec>, Option<Verdict>, u64)]) -> String {
        let mut all = TallySnapshot::default();
        for (s, _, runs) in terminals {
            let t = tally(s, *runs);
            all.runs.extend(t.runs);
            all.failures.extend(t.failures);
        }
        render(Scrape {
            terminals: terminals.iter().map(|(s, v, _)| snapshot(s, *v)).collect(),
            tally: all,
            daemon: daemon_series(),
        })
    }

    fn update(
        state: &mut State,
        terminals: &[(Arc<TerminalSpec>, Option<Verdict>, u64)],
        changed: &[&str],
    ) {
        let order: Arc<[Arc<TerminalSpec>]> = terminals.iter().map(|(s, _, _)| s.clone()).collect();
        let fresh = terminals
            .iter()
            .filter(|(s, _, _)| changed.contains(&s.id.as_str()))
            .map(|(s, v, runs)| Fresh {
                generation: *runs,
                snapshot: snapshot(s, *v),
                tally: tally(s, *runs),
            })
            .collect();
        state.update(order, fresh);
    }

    #[test]
    fn the_cached_text_is_the_text_rendered_afresh_through_changes_and_reloads() {
        let (t1, t2, t3) = (spec("T1"), spec("T2"), spec("T3"));
        let mut state = State::default();
        let mut store = vec![
            (t1.clone(), Some(Verdict::Ok), 1),
            (t2.clone(), None, 0),
            (t3.clone(), Some(Verdict::Critical), 1),
        ];
        update(&mut state, &store, &["T1", "T2", "T3"]);
        let first = served(&state);
        assert_eq!(first, fresh(&store));
        assert!(first.contains(
            r#"posdiag_check_failure_info{terminal="T3",check="host.tcp",target="acquirer-a",reason="tcp.refused"} 1"#
        ));
        assert!(first.contains(r#"posdiag_host_rtt_seconds{terminal="T1",target="acquirer-a",check="host.tcp",stat="p50"} 0.003"#));

        // T2's first run and T3's recovery: only they are rendered again.
        store[1] = (t2.clone(), Some(Verdict::Critical), 1);
        store[2] = (t3.clone(), Some(Verdict::Ok), 2);
        update(&mut state, &store, &["T2", "T3"]);
        let second = served(&state);
        assert_eq!(second, fresh(&store));
        assert!(second.contains(r#"posdiag_check_failure_info{terminal="T2""#));
        assert!(!second.contains(r#"posdiag_check_failure_info{terminal="T3""#));

        // A reload removes T1 and puts a new T4 first.
        let t4 = spec("T4");
        store.remove(0);
        store.insert(0, (t4.clone(), Some(Verdict::Ok), 1));
        update(&mut state, &store, &["T4"]);
        let third = served(&state);
        assert_eq!(third, fresh(&store));
        assert!(!third.contains(r#"terminal="T1""#));
        assert!(
            third.find(r#"posdiag_terminal_info{terminal="T4""#)
                < third.find(r#"posdiag_terminal_info{terminal="T2""#)
        );
        assert_eq!(state.entries.len(), 3);
    }
}
