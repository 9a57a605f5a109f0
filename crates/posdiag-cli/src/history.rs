//! `posdiag history`: what the daemon remembers, through HistoryService.
//! Findings (the default), status changes (`--transitions`) or events
//! (`--events`), newest first, paged through the API until `--limit` rows;
//! and `--export jsonl|csv`, every finding of a window streamed page by page
//! to stdout or a file, so memory stays flat whatever the history holds.
//!
//! Times are shown in the user's local time ([`crate::when`]); exports write
//! RFC 3339 UTC. Every byte written passes the card-number mask
//! ([`crate::term::Masked`]), files included.

use std::io::{self, Write};
use std::path::PathBuf;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use posdiag_core::Lang;
use posdiag_proto::v1;
use posdiag_proto::v1::check_service_client::CheckServiceClient;
use posdiag_proto::v1::history_service_client::HistoryServiceClient;

use crate::cli::{ExportFormat, HistoryArgs};
use crate::commands::Context;
use crate::endpoint::Daemon;
use crate::error::{CliError, IoCause, UsageError};
use crate::i18n::{Label, t};
use crate::json::to_json;
use crate::output::{Cell, Table, sanitize, verdict_style};
use crate::render::{format_duration, format_number, verdict_from_proto};
use crate::when::{local_cell, local_zone, parse_when, rfc3339_utc, to_proto};

/// Rows shown when `--limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;

/// The largest page the API serves; exports ask for it.
pub const MAX_PAGE: u32 = 1000;

/// The filter of a `posdiag history` command line, validated before anything
/// is sent: `--since`/`--until` read in `tz` relative to `now`.
pub fn filter(
    args: &HistoryArgs,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<v1::HistoryFilter, UsageError> {
    let (since, until) = bounds(args.since.as_deref(), args.until.as_deref(), now, tz)?;
    Ok(v1::HistoryFilter {
        terminal_id: args.terminal.clone().unwrap_or_default(),
        checks: args.checks.clone(),
        verdicts: args.verdicts.iter().map(|v| v.to_proto() as i32).collect(),
        reasons: args.reasons.clone(),
        since: since.map(to_proto),
        until: until.map(to_proto),
        origins: args.origins.iter().map(|o| o.to_proto() as i32).collect(),
    })
}

/// `--since` and `--until` read in `tz` relative to `now`; the first must
/// come before the second.
pub fn bounds(
    since: Option<&str>,
    until: Option<&str>,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<(Option<Timestamp>, Option<Timestamp>), UsageError> {
    let since = since
        .map(|s| parse_when("--since", s, now, tz))
        .transpose()?;
    let until = until
        .map(|s| parse_when("--until", s, now, tz))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(UsageError::SinceNotBeforeUntil);
    }
    Ok((since, until))
}

/// Pages through a listing until `limit` rows or its end. `page(size, token)`
/// fetches one page and returns its rows and `next_page_token`. Returns the
/// rows and whether the history holds more than were taken.
pub async fn take_pages<T>(
    limit: usize,
    mut page: impl AsyncFnMut(u32, String) -> Result<(Vec<T>, String), tonic::Status>,
) -> Result<(Vec<T>, bool), tonic::Status> {
    let mut rows = Vec::new();
    let mut token = String::new();
    loop {
        let want = (limit - rows.len()).min(MAX_PAGE as usize);
        let size = u32::try_from(want).unwrap_or(MAX_PAGE);
        let (items, next) = page(size, std::mem::take(&mut token)).await?;
        let got = items.len();
        rows.extend(items);
        if rows.len() >= limit {
            let more = rows.len() > limit || !next.is_empty();
            rows.truncate(limit);
            return Ok((rows, more));
        }
        // An empty page with a token would loop for ever: a daemon bug, but
        // not one to hang on.
        if next.is_empty() || got == 0 {
            return Ok((rows, false));
        }
        token = next;
    }
}

/// `posdiag history`.
pub async fn run(args: HistoryArgs, ctx: &Context) -> Result<u8, CliError> {
    let tz = local_zone();
    let filter = filter(&args, Timestamp::now(), &tz)?;
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    if let Some(format) = args.export {
        return export(channel, filter, format, args.output, ctx).await;
    }
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT) as usize;
    let lang = ctx.out.lang.tag().to_owned();
    let all_terminals = filter.terminal_id.is_empty();
    let mut client = HistoryServiceClient::new(channel.clone());
    let mut stdout = crate::term::stdout();
    let more = if args.transitions {
        let (rows, more) = take_pages(limit, async |page_size, page_token| {
            let req = v1::ListTransitionsRequest {
                filter: Some(filter.clone()),
                page_size,
                page_token,
                lang: lang.clone(),
            };
            let r = client.list_transitions(req).await?.into_inner();
            Ok((r.transitions, r.next_page_token))
        })
        .await
        .map_err(|s| ctx.status(s))?;
        if ctx.out.json {
            let resp = v1::ListTransitionsResponse {
                transitions: rows,
                next_page_token: String::new(),
            };
            writeln!(stdout, "{}", to_json(&resp)?)?;
        } else if rows.is_empty() {
            writeln!(stdout, "{}", t(Label::NoStatusChanges, ctx.out.lang))?;
        } else {
            let table = transitions_table(&rows, ctx.out.lang, &tz, all_terminals);
            stdout.write_all(table.render(ctx.out.color).as_bytes())?;
        }
        more
    } else if args.events {
        let (rows, more) = take_pages(limit, async |page_size, page_token| {
            let req = v1::ListEventsRequest {
                filter: Some(filter.clone()),
                kinds: Vec::new(),
                page_size,
                page_token,
                lang: lang.clone(),
            };
            let r = client.list_events(req).await?.into_inner();
            Ok((r.events, r.next_page_token))
        })
        .await
        .map_err(|s| ctx.status(s))?;
        if ctx.out.json {
            let resp = v1::ListEventsResponse {
                events: rows,
                next_page_token: String::new(),
            };
            writeln!(stdout, "{}", to_json(&resp)?)?;
        } else if rows.is_empty() {
            writeln!(stdout, "{}", t(Label::NoEvents, ctx.out.lang))?;
        } else {
            let table = events_table(&rows, ctx.out.lang, &tz);
            stdout.write_all(table.render(ctx.out.color).as_bytes())?;
        }
        more
    } else {
        let listed = take_pages(limit, async |page_size, page_token| {
            let req = v1::ListFindingsRequest {
                filter: Some(filter.clone()),
                page_size,
                page_token,
                lang: lang.clone(),
            };
            let r = client.list_findings(req).await?.into_inner();
            Ok((r.findings, r.next_page_token))
        })
        .await;
        let (rows, more) = match listed {
            Ok(listed) => listed,
            Err(status) if in_memory_will_do(&status, &args) => {
                let rows = in_memory(channel, &filter, limit, ctx).await?;
                crate::errln!("{}", t(Label::HistoryInMemory, ctx.out.lang));
                (rows, false)
            }
            Err(status) => return Err(ctx.status(status)),
        };
        if ctx.out.json {
            let resp = v1::ListFindingsResponse {
                findings: rows,
                next_page_token: String::new(),
            };
            writeln!(stdout, "{}", to_json(&resp)?)?;
        } else if rows.is_empty() {
            writeln!(stdout, "{}", t(Label::NoFindings, ctx.out.lang))?;
        } else {
            let table = findings_table(&rows, ctx.out.lang, &tz, all_terminals);
            stdout.write_all(table.render(ctx.out.color).as_bytes())?;
        }
        more
    };
    stdout.flush()?;
    if more && !ctx.out.json {
        crate::errln!("{}", t(Label::MoreInHistory, ctx.out.lang));
    }
    Ok(0)
}

/// Whether a failed ListFindings can be answered from the daemon's bounded
/// in-memory history (GetHistory) instead: the daemon keeps no history file
/// (FAILED_PRECONDITION) or predates HistoryService (UNIMPLEMENTED), and the
/// command asks nothing GetHistory cannot answer.
fn in_memory_will_do(status: &tonic::Status, args: &HistoryArgs) -> bool {
    matches!(
        status.code(),
        tonic::Code::FailedPrecondition | tonic::Code::Unimplemented
    ) && args.terminal.is_some()
        && args.checks.len() <= 1
        && args.verdicts.is_empty()
        && args.reasons.is_empty()
        && args.origins.is_empty()
        && args.since.is_none()
        && args.until.is_none()
}

/// The findings GetHistory holds, as stored findings without a place in a
/// history file (seq and run 0).
async fn in_memory(
    channel: Daemon,
    filter: &v1::HistoryFilter,
    limit: usize,
    ctx: &Context,
) -> Result<Vec<v1::StoredFinding>, CliError> {
    let req = v1::GetHistoryRequest {
        terminal_id: filter.terminal_id.clone(),
        limit: u32::try_from(limit).unwrap_or(u32::MAX),
        check: filter.checks.first().cloned().unwrap_or_default(),
        lang: ctx.out.lang.tag().to_owned(),
    };
    let resp = CheckServiceClient::new(channel)
        .get_history(req)
        .await
        .map_err(|s| ctx.status(s))?
        .into_inner();
    Ok(resp
        .findings
        .into_iter()
        .take(limit)
        .map(|f| v1::StoredFinding {
            finding: Some(f),
            ..Default::default()
        })
        .collect())
}

/// The terminal a row concerns; a probe (no terminal) says so.
fn terminal_cell(id: &str, lang: Lang) -> Cell {
    if id.is_empty() {
        Cell::new(t(Label::OriginProbe, lang))
    } else {
        Cell::new(id)
    }
}

/// Stored findings: TIME, [TERMINAL], CHECK, SUBJECT, VERDICT, REASON,
/// SUMMARY; the TERMINAL column when the listing spans every terminal.
pub fn findings_table(
    rows: &[v1::StoredFinding],
    lang: Lang,
    tz: &TimeZone,
    with_terminal: bool,
) -> Table {
    let mut header = vec![Label::Time];
    if with_terminal {
        header.push(Label::Terminal);
    }
    header.extend([
        Label::Check,
        Label::Subject,
        Label::Verdict,
        Label::Reason,
        Label::Summary,
    ]);
    let mut table = Table::new(header.into_iter().map(|l| t(l, lang)));
    for row in rows {
        let Some(f) = &row.finding else { continue };
        let v = verdict_from_proto(f.verdict);
        let mut cells = vec![Cell::new(local_cell(f.observed_at.as_ref(), tz))];
        if with_terminal {
            cells.push(terminal_cell(&f.terminal_id, lang));
        }
        cells.extend([
            Cell::new(&f.check),
            Cell::new(&f.subject),
            Cell::styled(v.as_str(), verdict_style(v)),
            Cell::new(&f.reason),
            Cell::new(&f.summary),
        ]);
        table.push(cells);
    }
    table
}

/// A verdict as its code; "not checked" when nothing was known.
fn verdict_word(v: i32, lang: Lang) -> String {
    if v == v1::Verdict::Unspecified as i32 {
        t(Label::NotChecked, lang).to_owned()
    } else {
        verdict_from_proto(v).as_str().to_owned()
    }
}

/// Status changes: TIME, [TERMINAL], CHECK, SUBJECT, CHANGE, REASON, SUMMARY;
/// a change of the terminal as a whole reads "terminal" in CHECK.
pub fn transitions_table(
    rows: &[v1::Transition],
    lang: Lang,
    tz: &TimeZone,
    with_terminal: bool,
) -> Table {
    let mut header = vec![Label::Time];
    if with_terminal {
        header.push(Label::Terminal);
    }
    header.extend([
        Label::Check,
        Label::Subject,
        Label::Change,
        Label::Reason,
        Label::Summary,
    ]);
    let mut table = Table::new(header.into_iter().map(|l| t(l, lang)));
    for tr in rows {
        let to = verdict_from_proto(tr.to);
        let mut cells = vec![Cell::new(local_cell(tr.at.as_ref(), tz))];
        if with_terminal {
            cells.push(terminal_cell(&tr.terminal_id, lang));
        }
        let check = if tr.check.is_empty() {
            t(Label::WholeTerminal, lang).to_owned()
        } else {
            tr.check.clone()
        };
        cells.extend([
            Cell::new(check),
            Cell::new(&tr.subject),
            Cell::styled(
                format!(
                    "{} → {}",
                    verdict_word(tr.from, lang),
                    verdict_word(tr.to, lang)
                ),
                verdict_style(to),
            ),
            Cell::new(&tr.reason),
            Cell::new(&tr.summary),
        ]);
        table.push(cells);
    }
    table
}

/// Where a run came from, in words.
pub fn origin_label(origin: i32) -> Option<Label> {
    Some(match v1::Origin::try_from(origin).ok()? {
        v1::Origin::Unspecified => return None,
        v1::Origin::Schedule => Label::OriginSchedule,
        v1::Origin::OnDemand => Label::OriginOnDemand,
        v1::Origin::Doctor => Label::OriginDoctor,
        v1::Origin::Probe => Label::OriginProbe,
        v1::Origin::Daemon => Label::OriginDaemon,
    })
}

/// Where a run came from as a stable code for exports: `schedule`,
/// `on_demand`, `doctor`, `probe`, `daemon`; empty when unset.
pub fn origin_code(origin: i32) -> String {
    match v1::Origin::try_from(origin) {
        Ok(v1::Origin::Unspecified) | Err(_) => String::new(),
        Ok(o) => o
            .as_str_name()
            .trim_start_matches("ORIGIN_")
            .to_ascii_lowercase(),
    }
}

/// Who asked: the principal with the unix peer's uid and pid, else the TCP
/// peer; empty when nothing is known.
pub fn caller_text(c: Option<&v1::Caller>) -> String {
    let Some(c) = c else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(uid) = c.uid {
        parts.push(format!("uid {uid}"));
    }
    if let Some(pid) = c.pid {
        parts.push(format!("pid {pid}"));
    }
    match (c.principal.is_empty(), parts.is_empty()) {
        (false, true) => sanitize(&c.principal),
        (false, false) => format!("{} ({})", sanitize(&c.principal), parts.join(" ")),
        (true, true) => sanitize(&c.peer),
        (true, false) => parts.join(" "),
    }
}

/// One event: its kind's word, the terminal, and a one-line account.
pub fn event_parts(ev: &v1::HistoryEvent, lang: Lang) -> (Label, String, String) {
    use v1::history_event::Event;
    let asked_by = |c: Option<&v1::Caller>| {
        let who = caller_text(c);
        if who.is_empty() {
            String::new()
        } else {
            format!(", {} {who}", t(Label::AskedBy, lang))
        }
    };
    match &ev.event {
        Some(Event::Run(r)) => {
            let mut detail = format!("#{}", r.run_id);
            if let Some(o) = origin_label(r.origin) {
                detail.push_str(&format!(" {}", t(o, lang)));
            }
            if !r.target.is_empty() {
                detail.push_str(&format!(" {}", sanitize(&r.target)));
            }
            detail.push_str(&format!(
                ": {}, {}",
                verdict_word(r.overall, lang),
                crate::i18n::findings_count(r.findings).get(lang)
            ));
            if let Some(d) = format_duration(r.duration.as_ref()) {
                detail.push_str(&format!(", {d}"));
            }
            detail.push_str(&asked_by(r.caller.as_ref()));
            (Label::EventRun, r.terminal_id.clone(), detail)
        }
        Some(Event::Diagnosis(d)) => {
            let mut detail = format!("#{} ", d.run_id);
            if !d.symptom.is_empty() {
                detail.push_str(&format!(
                    "{} {}: ",
                    t(Label::Symptom, lang),
                    sanitize(&d.symptom)
                ));
            }
            detail.push_str(&format!(
                "{} {}",
                verdict_word(d.overall, lang),
                sanitize(&d.summary)
            ));
            if !d.causes.is_empty() {
                detail.push_str(&format!(
                    "; {}: {}",
                    t(Label::LikelyCauses, lang),
                    d.causes.join(", ")
                ));
            }
            detail.push_str(&asked_by(d.caller.as_ref()));
            (Label::Diagnosis, d.terminal_id.clone(), detail)
        }
        Some(Event::PluginFault(p)) => {
            let mut detail = format!("{} {}", sanitize(&p.plugin_id), sanitize(&p.fault));
            if !p.detail.is_empty() {
                detail.push_str(&format!(": {}", sanitize(&p.detail)));
            }
            (Label::EventPluginFault, String::new(), detail)
        }
        Some(Event::Link(l)) => {
            let detail = if l.present {
                format!("{}: {}", t(Label::PortBack, lang), sanitize(&l.path))
            } else {
                t(Label::PortGone, lang).to_owned()
            };
            (Label::EventLink, l.terminal_id.clone(), detail)
        }
        Some(Event::Reload(r)) => {
            let word = t(
                if r.applied {
                    Label::ReloadApplied
                } else {
                    Label::ReloadRefused
                },
                lang,
            );
            (
                Label::EventReload,
                String::new(),
                format!("{word}: {}", sanitize(&r.detail)),
            )
        }
        Some(Event::ApiCall(a)) => {
            // The target is in the TERMINAL column.
            let mut detail = sanitize(&a.method);
            if a.run_id != 0 {
                detail.push_str(&format!(" #{}", a.run_id));
            }
            detail.push_str(&asked_by(a.caller.as_ref()));
            (Label::EventApiCall, a.target.clone(), detail)
        }
        None => (Label::Event, String::new(), "-".to_owned()),
    }
}

/// Events: TIME, EVENT, TERMINAL, DETAIL.
pub fn events_table(rows: &[v1::HistoryEvent], lang: Lang, tz: &TimeZone) -> Table {
    let mut table =
        Table::new([Label::Time, Label::Event, Label::Terminal, Label::Detail].map(|l| t(l, lang)));
    for ev in rows {
        let (kind, terminal, detail) = event_parts(ev, lang);
        // A refused reload is the one event that needs someone.
        let refused = matches!(&ev.event, Some(v1::history_event::Event::Reload(r)) if !r.applied);
        table.push(vec![
            Cell::new(local_cell(ev.at.as_ref(), tz)),
            Cell::new(t(kind, lang)),
            Cell::new(if terminal.is_empty() {
                "-".to_owned()
            } else {
                terminal
            }),
            Cell::styled(detail, if refused { "31" } else { "" }),
        ]);
    }
    table
}

/// The header row of `--export csv`.
pub const CSV_HEADER: [&str; 11] = [
    "seq",
    "observed_at",
    "terminal_id",
    "check",
    "subject",
    "verdict",
    "reason",
    "origin",
    "run_id",
    "duration_ms",
    "summary",
];

/// A text cell of an export: line breaks and tabs are kept (quoting keeps
/// them in their cell), other control characters become spaces, so an
/// export shown on a terminal cannot drive it (plugin texts are untrusted).
fn csv_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// One stored finding as a CSV record, in [`CSV_HEADER`]'s order.
pub fn csv_record(row: &v1::StoredFinding) -> [String; 11] {
    let f = row.finding.clone().unwrap_or_default();
    let duration_ms = f
        .duration
        .map(|d| format_number(d.seconds as f64 * 1000.0 + f64::from(d.nanos) / 1e6))
        .unwrap_or_default();
    [
        row.seq.to_string(),
        rfc3339_utc(f.observed_at.as_ref()),
        csv_text(&f.terminal_id),
        csv_text(&f.check),
        csv_text(&f.subject),
        verdict_from_proto(f.verdict).as_str().to_owned(),
        csv_text(&f.reason),
        origin_code(row.origin),
        row.run_id.to_string(),
        duration_ms,
        csv_text(&f.summary),
    ]
}

/// Where an export goes, with its format's state.
enum Sink {
    Jsonl(Box<dyn Write>),
    Csv(Box<csv::Writer<Box<dyn Write>>>),
}

impl Sink {
    fn new(format: ExportFormat, out: Box<dyn Write>) -> io::Result<Sink> {
        Ok(match format {
            ExportFormat::Jsonl => Sink::Jsonl(out),
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                w.write_record(CSV_HEADER).map_err(csv_io)?;
                Sink::Csv(Box::new(w))
            }
        })
    }

    fn write(&mut self, row: &v1::StoredFinding) -> Result<(), SinkError> {
        match self {
            Sink::Jsonl(w) => {
                let line = to_json(row).map_err(SinkError::Cli)?;
                writeln!(w, "{line}").map_err(SinkError::Io)
            }
            Sink::Csv(w) => w
                .write_record(csv_record(row))
                .map_err(|e| SinkError::Io(csv_io(e))),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Jsonl(w) => w.flush(),
            Sink::Csv(w) => w.flush(),
        }
    }
}

enum SinkError {
    Io(io::Error),
    Cli(CliError),
}

fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Streams every finding matching `filter` (oldest last, as the API lists
/// them) to `output` or stdout, a page of [`MAX_PAGE`] at a time. The file
/// is created once the daemon has answered the first page, so a refused
/// request leaves no empty file behind.
async fn export(
    channel: Daemon,
    filter: v1::HistoryFilter,
    format: ExportFormat,
    output: Option<PathBuf>,
    ctx: &Context,
) -> Result<u8, CliError> {
    let mut client = HistoryServiceClient::new(channel);
    let path = output.as_ref().map(|p| p.display().to_string());
    let io_err = |e: io::Error| match &path {
        Some(p) => CliError::ExportFile {
            path: p.clone(),
            cause: IoCause::from_error(&e),
        },
        None => CliError::Output(e),
    };
    let mut sink: Option<Sink> = None;
    let mut token = String::new();
    let mut written: u64 = 0;
    loop {
        let req = v1::ListFindingsRequest {
            filter: Some(filter.clone()),
            page_size: MAX_PAGE,
            page_token: std::mem::take(&mut token),
            lang: ctx.out.lang.tag().to_owned(),
        };
        let page = client
            .list_findings(req)
            .await
            .map_err(|s| ctx.status(s))?
            .into_inner();
        let out = match &mut sink {
            Some(s) => s,
            None => {
                let w = open_output(output.as_ref()).map_err(io_err)?;
                sink.insert(Sink::new(format, w).map_err(io_err)?)
            }
        };
        for row in &page.findings {
            out.write(row).map_err(|e| match e {
                SinkError::Io(e) => io_err(e),
                SinkError::Cli(e) => e,
            })?;
        }
        written += page.findings.len() as u64;
        if page.next_page_token.is_empty() || page.findings.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    if let Some(mut s) = sink {
        s.flush().map_err(io_err)?;
    }
    // Into a file, stdout is free to say how much went there.
    if let Some(p) = &path {
        let line = crate::i18n::exported(written, &sanitize(p));
        crate::outln!("{}", line.get(ctx.out.lang));
    }
    Ok(0)
}

/// The export's destination, masked: the file, or a buffered stdout.
fn open_output(path: Option<&PathBuf>) -> io::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(crate::term::Masked::new(io::BufWriter::new(
            std::fs::File::create(p)?,
        ))),
        None => Box::new(io::BufWriter::with_capacity(
            64 * 1024,
            crate::term::stdout(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: u64, summary: &str) -> v1::StoredFinding {
        v1::StoredFinding {
            seq,
            run_id: 40 + seq,
            origin: v1::Origin::OnDemand as i32,
            finding: Some(v1::Finding {
                check: "host.tcp".into(),
                verdict: v1::Verdict::Critical as i32,
                reason: "tcp.refused".into(),
                summary: summary.into(),
                subject: "收单行 (127.0.0.1:5000)".into(),
                terminal_id: "T1".into(),
                observed_at: Some(to_proto("2026-12-01T00:00:05Z".parse().expect("ts"))),
                duration: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 250_500_000,
                }),
                ..Default::default()
            }),
        }
    }

    /// A writer the test can read after the sink (which owns a `'static`
    /// writer) is done with it.
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn export_of(format: ExportFormat, rows: &[v1::StoredFinding]) -> String {
        let buf = Shared::default();
        let mut sink =
            Sink::new(format, Box::new(crate::term::Masked::new(buf.clone()))).expect("sink");
        for r in rows {
            assert!(sink.write(r).is_ok());
        }
        sink.flush().expect("flush");
        drop(sink);
        String::from_utf8(buf.0.take()).expect("utf-8")
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let text = export_of(
            ExportFormat::Csv,
            &[
                stored(2, "refused, \"twice\"\nthen\x1b[2J gave up"),
                stored(1, "plain"),
            ],
        );
        assert_eq!(
            text,
            "seq,observed_at,terminal_id,check,subject,verdict,reason,origin,run_id,duration_ms,summary\r\n\
             2,2026-12-01T00:00:05Z,T1,host.tcp,收单行 (127.0.0.1:5000),CRITICAL,tcp.refused,on_demand,42,1250.5,\"refused, \"\"twice\"\"\nthen [2J gave up\"\r\n\
             1,2026-12-01T00:00:05Z,T1,host.tcp,收单行 (127.0.0.1:5000),CRITICAL,tcp.refused,on_demand,41,1250.5,plain\r\n"
        );
        // And reads back as it was.
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rec = r.records().next().expect("a record").expect("valid");
        assert_eq!(&rec[10], "refused, \"twice\"\nthen [2J gave up");
    }

    #[test]
    fn exports_mask_card_numbers() {
        let rows = [stored(1, "card 4111111111111111 declined")];
        let csv = export_of(ExportFormat::Csv, &rows);
        assert!(csv.contains(",card 411111******1111 declined\r\n"), "{csv}");
        let jsonl = export_of(ExportFormat::Jsonl, &rows);
        assert_eq!(jsonl.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&jsonl).expect("JSON line");
        assert_eq!(v["finding"]["summary"], "card 411111******1111 declined");
        assert_eq!(v["seq"], "1");
        assert_eq!(v["origin"], "ORIGIN_ON_DEMAND");
    }

    #[test]
    fn findings_in_chinese_align_and_show_local_time() {
        let shanghai = TimeZone::fixed(jiff::tz::offset(8));
        let rows = [stored(1, "主机拒绝连接")];
        let text = findings_table(&rows, Lang::ZhCn, &shanghai, true).render(false);
        assert_eq!(
            text,
            "时间                 终端  检查项    对象                     结论      原因         说明\n\
             2026-12-01 08:00:05  T1    host.tcp  收单行 (127.0.0.1:5000)  CRITICAL  tcp.refused  主机拒绝连接\n"
        );
        let text = findings_table(&rows, Lang::En, &TimeZone::UTC, false).render(true);
        assert!(
            text.contains("\x1b[1;31mCRITICAL\x1b[0m"),
            "coloured as elsewhere: {text}"
        );
    }

    #[tokio::test]
    async fn paging_follows_tokens_and_stops_at_the_limit() {
        // 2500 rows served in pages of at most what was asked.
        let serve = |size: u32, token: String| {
            let from: usize = if token.is_empty() {
                0
            } else {
                token.parse().expect("our token")
            };
            let to = (from + size as usize).min(2500);
            let next = if to < 2500 {
                to.to_string()
            } else {
                String::new()
            };
            ((from..to).collect::<Vec<usize>>(), next)
        };
        let mut asked = Vec::new();
        let (rows, more) = take_pages(1500, async |size, token| {
            asked.push(size);
            Ok(serve(size, token))
        })
        .await
        .expect("pages");
        assert_eq!((rows.len(), more), (1500, true));
        assert_eq!(asked, [1000, 500]);
        assert_eq!(rows[1000], 1000);

        let (rows, more) = take_pages(5000, async |size, token| Ok(serve(size, token)))
            .await
            .expect("pages");
        assert_eq!((rows.len(), more), (2500, false));

        let (rows, more) = take_pages(2500, async |size, token| Ok(serve(size, token)))
            .await
            .expect("pages");
        assert_eq!(
            (rows.len(), more),
            (2500, false),
            "exactly all: nothing more"
        );

        let err = take_pages::<usize>(10, async |_, _| {
            Err(tonic::Status::invalid_argument("bad token"))
        })
        .await
        .expect_err("the daemon's error");
        assert_eq!(err.message(), "bad token");
    }

    #[test]
    fn the_filter_carries_every_option() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from([
            "posdiag",
            "history",
            "T1",
            "--since",
            "2026-12-01",
            "--until",
            "2026-12-02T08:00",
            "--check",
            "host.tcp",
            "--check",
            "host.tls",
            "--verdict",
            "CRITICAL",
            "--verdict",
            "error",
            "--reason",
            "tcp.refused",
            "--origin",
            "on-demand",
        ])
        .expect("parses");
        let crate::cli::Command::History(args) = cli.command else {
            unreachable!("history")
        };
        let now = "2026-12-06T00:00:00Z".parse().expect("now");
        let f = filter(&args, now, &TimeZone::UTC).expect("valid");
        assert_eq!(f.terminal_id, "T1");
        assert_eq!(f.checks, ["host.tcp", "host.tls"]);
        assert_eq!(
            f.verdicts,
            [v1::Verdict::Critical as i32, v1::Verdict::Error as i32]
        );
        assert_eq!(f.reasons, ["tcp.refused"]);
        assert_eq!(f.origins, [v1::Origin::OnDemand as i32]);
        assert_eq!(rfc3339_utc(f.since.as_ref()), "2026-12-01T00:00:00Z");
        assert_eq!(rfc3339_utc(f.until.as_ref()), "2026-12-02T08:00:00Z");
    }
}
