//! The overview's live state: every terminal as the API's WatchTerminals
//! streams it (one watch per language, for the whole console, however many
//! pages are open), with since-when and availability from the
//! HistoryService, refreshed in the background. Each change is rendered once
//! per language and broadcast to the open pages' event streams.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use posdiag_core::Lang;
use posdiag_proto::v1 as pb;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::client::Api;
use crate::auth::Tier;
use crate::auth::layer::ConsoleCaller;

/// How often availability and since-when are read again.
const AVAILABILITY_EVERY: Duration = Duration::from_secs(60);

/// One terminal on the board.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The terminal in English and in Chinese (summaries differ).
    pub en: pb::Terminal,
    /// The terminal with Chinese summaries.
    pub zh: pb::Terminal,
    /// When its status last changed.
    pub since: Option<SystemTime>,
    /// The share of OK runs in the last 24 hours.
    pub today: Option<f64>,
    /// The share of OK runs in the last 7 days.
    pub week: Option<f64>,
}

impl Entry {
    /// The terminal in `lang`.
    pub fn terminal(&self, lang: Lang) -> &pb::Terminal {
        match lang {
            Lang::En => &self.en,
            Lang::ZhCn => &self.zh,
        }
    }
}

/// A terminal's rows, rendered for the open pages.
#[derive(Debug)]
pub struct Change {
    /// The terminal.
    pub id: String,
    /// Its rows in English.
    pub en: String,
    /// Its rows in Chinese.
    pub zh: String,
}

/// The board.
#[derive(Debug)]
pub struct Board {
    state: RwLock<State>,
    changes: broadcast::Sender<Arc<Change>>,
}

#[derive(Debug, Default)]
struct State {
    order: Vec<String>,
    entries: HashMap<String, Entry>,
}

impl Board {
    /// An empty board.
    pub fn new() -> Arc<Board> {
        Arc::new(Board {
            state: RwLock::new(State::default()),
            changes: broadcast::channel(256).0,
        })
    }

    /// The terminals in configuration order.
    pub fn entries(&self) -> Vec<Entry> {
        let Ok(s) = self.state.read() else {
            return Vec::new();
        };
        s.order
            .iter()
            .filter_map(|id| s.entries.get(id).cloned())
            .collect()
    }

    /// One terminal.
    pub fn entry(&self, id: &str) -> Option<Entry> {
        self.state.read().ok()?.entries.get(id).cloned()
    }

    /// The changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Puts `entries` on the board (a benchmark's or test's board).
    pub fn fill(&self, entries: Vec<Entry>) {
        if let Ok(mut s) = self.state.write() {
            s.order = entries.iter().map(|e| e.en.id.clone()).collect();
            s.entries = entries.into_iter().map(|e| (e.en.id.clone(), e)).collect();
        }
    }

    fn update(&self, lang: Lang, event: pb::TerminalEvent) {
        let Some(t) = event.terminal else { return };
        let id = t.id.clone();
        let changed = event.kind != pb::terminal_event::Kind::Snapshot as i32;
        let entry = {
            let Ok(mut s) = self.state.write() else {
                return;
            };
            if !s.entries.contains_key(&id) {
                s.order.push(id.clone());
            }
            let e = s.entries.entry(id.clone()).or_default();
            // Both languages' watches carry the same change and time.
            if event.kind == pb::terminal_event::Kind::Changed as i32 {
                e.since = event.at.and_then(super::pages::system_time);
            }
            match lang {
                Lang::En => {
                    if e.zh.id.is_empty() {
                        e.zh = t.clone();
                    }
                    e.en = t;
                }
                Lang::ZhCn => {
                    if e.en.id.is_empty() {
                        e.en = t.clone();
                    }
                    e.zh = t;
                }
            }
            e.clone()
        };
        if changed {
            self.publish(&id, &entry);
        }
    }

    fn publish(&self, id: &str, e: &Entry) {
        let now = SystemTime::now();
        let _ = self.changes.send(Arc::new(Change {
            id: id.to_owned(),
            en: super::pages::terminal_rows(e, Lang::En, now).into_string(),
            zh: super::pages::terminal_rows(e, Lang::ZhCn, now).into_string(),
        }));
    }

    /// Keeps the board current until `stop`: a watch per language, and
    /// availability read every minute.
    pub fn run(self: &Arc<Board>, api: Api, stop: CancellationToken) {
        let reader = ConsoleCaller {
            principal: "console".into(),
            tier: Tier::Read,
            peer: "console".into(),
        };
        for lang in [Lang::En, Lang::ZhCn] {
            let board = self.clone();
            let api = api.clone();
            let stop = stop.clone();
            let reader = reader.clone();
            tokio::spawn(async move {
                loop {
                    let req = Api::request(
                        pb::WatchTerminalsRequest {
                            ids: Vec::new(),
                            lang: lang.tag().into(),
                        },
                        &reader,
                        lang,
                    );
                    let watched = async {
                        if let Ok(stream) = api.terminals().watch_terminals(req).await {
                            let mut stream = stream.into_inner();
                            while let Ok(Some(ev)) = stream.message().await {
                                board.update(lang, ev);
                            }
                        }
                    };
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = watched => {}
                    }
                    // The watch ended (a reload removed a terminal, the daemon
                    // is stopping): start again after a breath.
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            });
        }
        let board = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(AVAILABILITY_EVERY);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = every.tick() => {}
                }
                let ids = board
                    .state
                    .read()
                    .map(|s| s.order.clone())
                    .unwrap_or_default();
                for id in ids {
                    let today = availability(&api, &reader, &id, 86_400).await;
                    let week = availability(&api, &reader, &id, 7 * 86_400).await;
                    if let Ok(mut s) = board.state.write()
                        && let Some(e) = s.entries.get_mut(&id)
                    {
                        e.today = today.as_ref().map(|a| a.0);
                        e.week = week.as_ref().map(|a| a.0);
                        if let Some((_, Some(last))) = week
                            && e.since.is_none_or(|s| s < last)
                        {
                            e.since = Some(last);
                        }
                    }
                }
            }
        });
    }
}

/// The terminal's share of OK runs over the last `secs`, and when its
/// status last changed.
async fn availability(
    api: &Api,
    who: &ConsoleCaller,
    id: &str,
    secs: i64,
) -> Option<(f64, Option<SystemTime>)> {
    let req = Api::request(
        pb::GetAvailabilityRequest {
            terminal_id: id.to_owned(),
            check: String::new(),
            window: Some(prost_types::Duration {
                seconds: secs,
                nanos: 0,
            }),
            bucket: None,
            lang: String::new(),
        },
        who,
        Lang::En,
    );
    let a = api.history().get_availability(req).await.ok()?.into_inner();
    let o = a.overall?;
    if o.runs == 0 {
        return None;
    }
    Some((
        o.ok_ratio,
        o.last_change.and_then(super::pages::system_time),
    ))
}
