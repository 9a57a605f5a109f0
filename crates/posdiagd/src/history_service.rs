//! HistoryService: the durable history read back — findings, changes and
//! events (paged, filtered), availability, and a watch that replays from a
//! cursor and then goes live with no gap and no duplicate. Reads run on
//! blocking threads with the history's own read connections; before a read
//! the writer is given a moment (at most a second) to commit what was handed
//! to it, so a run that has ended is in the history the caller reads next.

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use pb::history_service_server::HistoryService;
use posdiag_engine::Engine;
use posdiag_history::{History, Reader};
use posdiag_proto::v1 as pb;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::convert::history as conv;
use crate::daemon_state::{DaemonState, Store};
use crate::status::{self, ApiError, OrStatus as _};

type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// How long a read waits for the writer to commit what came before it.
const CATCH_UP: Duration = Duration::from_secs(1);

/// The history service.
#[derive(Debug, Clone)]
pub struct HistoryApi {
    engine: Engine,
    daemon: DaemonState,
}

impl HistoryApi {
    /// The service over the daemon's history.
    pub fn new(engine: Engine, daemon: DaemonState) -> HistoryApi {
        HistoryApi { engine, daemon }
    }

    fn history(&self) -> Result<&History, ApiError> {
        match self.daemon.store() {
            Store::Open(h) => Ok(h),
            Store::Disabled => Err(ApiError::HistoryDisabled),
            Store::Unavailable(why) => Err(ApiError::HistoryUnavailable(why.clone())),
        }
    }

    /// Runs `read` on a blocking thread once the writer has caught up.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Reader) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let h = self.history()?.clone();
        h.caught_up(CATCH_UP).await;
        tokio::task::spawn_blocking(move || read(h.reader()))
            .await
            .map_err(|e| {
                ApiError::HistoryUnavailable(posdiag_core::Text::new(
                    format!("the read failed: {e}"),
                    format!("读取失败：{e}"),
                ))
            })?
    }
}

#[tonic::async_trait]
impl HistoryService for HistoryApi {
    async fn list_findings(
        &self,
        req: Request<pb::ListFindingsRequest>,
    ) -> Result<Response<pb::ListFindingsResponse>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        let filter = conv::filter(r.filter.as_ref(), &[]).or_status(lang)?;
        let size = conv::page_size(r.page_size);
        let token = conv::page_token(&r.page_token)
            .or_status(lang)?
            .map(str::to_owned);
        let page = self
            .read(move |h| Ok(h.findings(&filter, size, token.as_deref())?))
            .await
            .or_status(lang)?;
        Ok(Response::new(pb::ListFindingsResponse {
            findings: page
                .items
                .iter()
                .map(|f| conv::stored_finding(f, lang))
                .collect(),
            next_page_token: page.next.unwrap_or_default(),
        }))
    }

    async fn list_transitions(
        &self,
        req: Request<pb::ListTransitionsRequest>,
    ) -> Result<Response<pb::ListTransitionsResponse>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        let filter = conv::filter(r.filter.as_ref(), &[]).or_status(lang)?;
        let size = conv::page_size(r.page_size);
        let token = conv::page_token(&r.page_token)
            .or_status(lang)?
            .map(str::to_owned);
        let page = self
            .read(move |h| Ok(h.transitions(&filter, size, token.as_deref())?))
            .await
            .or_status(lang)?;
        Ok(Response::new(pb::ListTransitionsResponse {
            transitions: page
                .items
                .iter()
                .map(|t| conv::transition(t, lang))
                .collect(),
            next_page_token: page.next.unwrap_or_default(),
        }))
    }

    async fn list_events(
        &self,
        req: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        let mut filter = conv::filter(r.filter.as_ref(), &r.kinds).or_status(lang)?;
        audit_rows_need_admin(&req, &mut filter).or_status(lang)?;
        let size = conv::page_size(r.page_size);
        let token = conv::page_token(&r.page_token)
            .or_status(lang)?
            .map(str::to_owned);
        let page = self
            .read(move |h| Ok(h.events(&filter, size, token.as_deref())?))
            .await
            .or_status(lang)?;
        Ok(Response::new(pb::ListEventsResponse {
            events: page.items.iter().map(|e| conv::event(e, lang)).collect(),
            next_page_token: page.next.unwrap_or_default(),
        }))
    }

    async fn get_availability(
        &self,
        req: Request<pb::GetAvailabilityRequest>,
    ) -> Result<Response<pb::Availability>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        if r.terminal_id.is_empty() {
            return Err(ApiError::invalid("terminal_id", "is required", "必填").into_status(lang));
        }
        let window = conv::window(&r.window).or_status(lang)?;
        let bucket = conv::bucket(&r.bucket, window).or_status(lang)?;
        let terminal = r.terminal_id.clone();
        let check = (!r.check.is_empty()).then(|| r.check.clone());
        let configured = self
            .engine
            .terminals()
            .iter()
            .any(|t| t.id.as_str() == terminal);
        let to = SystemTime::now();
        let from = to.checked_sub(window).unwrap_or(SystemTime::UNIX_EPOCH);
        let t = terminal.clone();
        let answer = self
            .read(move |h| {
                if !configured && !h.knows_terminal(&t)? {
                    return Ok(None);
                }
                Ok(Some(h.availability(
                    &t,
                    check.as_deref(),
                    from,
                    to,
                    bucket,
                )?))
            })
            .await
            .or_status(lang)?;
        match answer {
            Some(a) => Ok(Response::new(conv::availability(&terminal, &a))),
            None => Err(self
                .engine
                .snapshot(&terminal)
                .await
                .map(|_| ())
                .or_status(lang)
                .err()
                .unwrap_or_else(|| Status::not_found(terminal))),
        }
    }

    type WatchFindingsStream = EventStream<pb::WatchFindingsResponse>;

    async fn watch_findings(
        &self,
        req: Request<pb::WatchFindingsRequest>,
    ) -> Result<Response<Self::WatchFindingsStream>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        let h = self.history().or_status(lang)?.clone();
        let terminal = (!r.terminal_id.is_empty()).then(|| r.terminal_id.clone());
        let after = r.after;
        // Subscribe first: whatever is committed from now on arrives live,
        // whatever was committed before is in the file for the replay.
        let live = h.subscribe();
        let (tx, rx) = mpsc::channel(64);
        let engine = self.engine.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = watch(h, live, after, terminal, lang, &tx) => {}
                _ = engine.shutting_down() => {}
                _ = tx.closed() => {}
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Replays from `after` (when given), then forwards live findings, skipping
/// what the replay already sent. A live receiver that falls behind catches
/// up from the file, so nothing is lost in between.
async fn watch(
    h: History,
    mut live: broadcast::Receiver<std::sync::Arc<posdiag_history::StoredFinding>>,
    after: Option<u64>,
    terminal: Option<String>,
    lang: posdiag_core::Lang,
    tx: &mpsc::Sender<Result<pb::WatchFindingsResponse, Status>>,
) {
    let mut last = after;
    let mut gap = false;
    if let Some(after) = after {
        let reader = h.reader().clone();
        let oldest = tokio::task::spawn_blocking(move || reader.oldest_seq())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        gap = oldest.is_some_and(|o| o > after + 1);
        if !replay(&h, &mut last, &terminal, lang, tx, &mut gap).await {
            return;
        }
    }
    loop {
        match live.recv().await {
            Ok(f) => {
                if last.is_some_and(|l| f.seq <= l) {
                    continue;
                }
                if terminal
                    .as_deref()
                    .is_some_and(|t| f.finding.terminal.as_ref().is_none_or(|x| x.as_str() != t))
                {
                    last = Some(f.seq);
                    continue;
                }
                last = Some(f.seq);
                let msg = pb::WatchFindingsResponse {
                    finding: Some(conv::stored_finding(&f, lang)),
                    gap: std::mem::take(&mut gap),
                };
                if tx.send(Ok(msg)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Too slow for the live feed: read what was missed from the
                // file, from the last one sent.
                if last.is_none() {
                    last = Some(0);
                }
                if !replay(&h, &mut last, &terminal, lang, tx, &mut gap).await {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Sends every stored finding after `last`, oldest first; false when the
/// client is gone or the file cannot be read.
async fn replay(
    h: &History,
    last: &mut Option<u64>,
    terminal: &Option<String>,
    lang: posdiag_core::Lang,
    tx: &mpsc::Sender<Result<pb::WatchFindingsResponse, Status>>,
    gap: &mut bool,
) -> bool {
    loop {
        let from = last.unwrap_or(0);
        let reader = h.reader().clone();
        let t = terminal.clone();
        let page =
            tokio::task::spawn_blocking(move || reader.findings_after(from, t.as_deref(), 500))
                .await;
        let page = match page {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                let _ = tx.send(Err(ApiError::from(e).into_status(lang))).await;
                return false;
            }
            Err(_) => return false,
        };
        if page.is_empty() {
            return true;
        }
        for f in &page {
            *last = Some(f.seq);
            let msg = pb::WatchFindingsResponse {
                finding: Some(conv::stored_finding(f, lang)),
                gap: std::mem::take(gap),
            };
            if tx.send(Ok(msg)).await.is_err() {
                return false;
            }
        }
    }
}

/// The audit trail (API call events) is the admin tier's: a caller below it
/// that asks for it by kind is denied, and one that asks for every kind gets
/// every kind but that one. A server without the auth layer (tests that
/// assemble services alone) shows everything.
fn audit_rows_need_admin<T>(
    req: &Request<T>,
    filter: &mut posdiag_history::Filter,
) -> Result<(), ApiError> {
    use posdiag_history::EventKind;
    let Some(who) = crate::caller::identity(req) else {
        return Ok(());
    };
    if who.tier >= crate::auth::Tier::Admin {
        return Ok(());
    }
    if filter.kinds.contains(&EventKind::ApiCall) {
        return Err(ApiError::Forbidden(posdiag_core::Text::new(
            format!(
                "the audit trail (API call events) needs the admin tier; {} holds {} ({})",
                who.principal, who.tier, who.grant.en
            ),
            format!(
                "审计记录（API 调用事件）需要 admin 级别；{} 只有 {} 级别（{}）",
                who.principal, who.tier, who.grant.zh
            ),
        )));
    }
    if filter.kinds.is_empty() {
        filter.kinds = EventKind::ALL
            .into_iter()
            .filter(|k| *k != EventKind::ApiCall)
            .collect();
    }
    Ok(())
}
