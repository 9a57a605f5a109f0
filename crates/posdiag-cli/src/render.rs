//! Turning findings, check streams and terminals into what a person reads (or
//! into NDJSON with `--json`). Shared by `check`, `probe`, `history`,
//! `terminals`, `watch` and the demo.

use std::io::Write;

use jiff::tz::TimeZone;
use posdiag_core::{Lang, Verdict};
use posdiag_proto::v1;
use tokio_stream::{Stream, StreamExt};

use crate::error::CliError;
use crate::i18n::{Label, t};
use crate::json::to_json;
use crate::output::{Cell, Output, Table, display_width, paint, sanitize, verdict_style};

/// The domain verdict of a proto verdict. Unspecified and values this client
/// does not know count as UNKNOWN, as `finding.proto` asks.
pub fn verdict_from_proto(v: i32) -> Verdict {
    match v1::Verdict::try_from(v) {
        Ok(v1::Verdict::Ok) => Verdict::Ok,
        Ok(v1::Verdict::Warning) => Verdict::Warning,
        Ok(v1::Verdict::Critical) => Verdict::Critical,
        Ok(v1::Verdict::Error) => Verdict::Error,
        Ok(v1::Verdict::Unknown | v1::Verdict::Unspecified) | Err(_) => Verdict::Unknown,
    }
}

/// A terminal's status text: the verdict, or "not checked" before the first
/// check finished.
fn status_cell(status: i32, lang: Lang) -> Cell {
    if status == v1::Verdict::Unspecified as i32 {
        Cell::new(t(Label::NotChecked, lang))
    } else {
        let v = verdict_from_proto(status);
        Cell::styled(v.as_str(), verdict_style(v))
    }
}

/// A timestamp as UTC RFC 3339 to the second, e.g. `2025-03-01T09:30:00Z`.
pub fn format_timestamp(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    ts.map(|ts| {
        prost_types::Timestamp {
            seconds: ts.seconds,
            nanos: 0,
        }
        .to_string()
    })
}

/// A duration in milliseconds below a second, else in seconds.
pub fn format_duration(d: Option<&prost_types::Duration>) -> Option<String> {
    let d = d?;
    let ms = d.seconds as f64 * 1000.0 + f64::from(d.nanos) / 1e6;
    Some(if ms < 1000.0 {
        format!("{} ms", format_number(ms))
    } else {
        format!("{} s", format_number(ms / 1000.0))
    })
}

/// A number with at most three decimals and no trailing zeros.
pub fn format_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_owned() }
}

/// One evidence item as `name value unit`, e.g. `rtt_p95 12.3 ms`.
pub fn format_evidence(e: &v1::Evidence, lang: Lang) -> String {
    let name = sanitize(&e.name);
    let value = match &e.value {
        Some(v1::evidence::Value::Number(n)) => match e.unit.as_str() {
            "ratio" => format!("{} ({}%)", format_number(*n), format_number(n * 100.0)),
            "" | "count" => format_number(*n),
            "days" => format!("{} {}", format_number(*n), t(Label::Days, lang)),
            "bytes" => format!("{} {}", format_number(*n), t(Label::Bytes, lang)),
            unit => format!("{} {}", format_number(*n), sanitize(unit)),
        },
        Some(v1::evidence::Value::Text(s)) => sanitize(s),
        Some(v1::evidence::Value::Flag(b)) => {
            t(if *b { Label::Yes } else { Label::No }, lang).to_owned()
        }
        None => "-".to_owned(),
    };
    format!("{name} {value}")
}

/// An actor's name in `lang`, `None` when unset.
pub fn actor_label(actor: i32, lang: Lang) -> Option<&'static str> {
    use posdiag_core::Actor;
    let a = match v1::Actor::try_from(actor).ok()? {
        v1::Actor::Unspecified => return None,
        v1::Actor::Merchant => Actor::Merchant,
        v1::Actor::Cardholder => Actor::Cardholder,
        v1::Actor::Acquirer => Actor::Acquirer,
        v1::Actor::Issuer => Actor::Issuer,
        v1::Actor::Vendor => Actor::Vendor,
    };
    Some(a.label(lang))
}

/// The findings table: VERDICT, CHECK, SUBJECT, REASON, SUMMARY.
pub fn findings_table(findings: &[v1::Finding], lang: Lang) -> Table {
    let mut table = Table::new(
        [
            Label::Verdict,
            Label::Check,
            Label::Subject,
            Label::Reason,
            Label::Summary,
        ]
        .map(|l| t(l, lang)),
    );
    for f in findings {
        let v = verdict_from_proto(f.verdict);
        table.push(vec![
            Cell::styled(v.as_str(), verdict_style(v)),
            Cell::new(&f.check),
            Cell::new(&f.subject),
            Cell::new(&f.reason),
            Cell::new(&f.summary),
        ]);
    }
    table
}

/// Evidence and numbered remedies of one finding, indented under a heading:
///
/// ```text
/// CRITICAL host.tcp acquirer-a (10.0.0.5:5000): tcp.refused
///   evidence:
///     loss_ratio 1 (100%)
///   remedies:
///     1. [merchant] Check that the acquirer host address is right.
/// ```
pub fn finding_details(f: &v1::Finding, out: &Output) -> String {
    let lang = out.lang;
    let v = verdict_from_proto(f.verdict);
    let mut s = format!(
        "{} {} {}: {}\n",
        out.paint(v, v.as_str()),
        sanitize(&f.check),
        sanitize(&f.subject),
        sanitize(&f.reason)
    );
    if !f.evidence.is_empty() {
        s.push_str(&format!("  {}:\n", t(Label::Evidence, lang)));
        for e in &f.evidence {
            match &e.value {
                // A transcript or another multi-line text: a block of its own.
                Some(v1::evidence::Value::Text(text)) if text.trim_end().contains('\n') => {
                    s.push_str(&format!("    {}:\n", sanitize(&e.name)));
                    for line in text.trim_end().lines() {
                        s.push_str(&format!("      {}\n", sanitize(line)));
                    }
                }
                _ => s.push_str(&format!("    {}\n", format_evidence(e, lang))),
            }
        }
    }
    if !f.remedies.is_empty() {
        s.push_str(&format!("  {}:\n", t(Label::Remedies, lang)));
        for (i, r) in f.remedies.iter().enumerate() {
            let who = actor_label(r.actor, lang)
                .map(|a| format!("[{a}] "))
                .unwrap_or_default();
            s.push_str(&format!("    {}. {who}{}\n", i + 1, sanitize(&r.text)));
        }
    }
    s
}

/// The closing line, e.g. `overall: CRITICAL (4 findings: 2 OK, 1 WARNING,
/// 1 CRITICAL) in 1.2 s`.
pub fn overall_line(
    overall: Verdict,
    findings: &[v1::Finding],
    duration: Option<&prost_types::Duration>,
    out: &Output,
) -> String {
    let lang = out.lang;
    let order = [
        Verdict::Ok,
        Verdict::Warning,
        Verdict::Critical,
        Verdict::Unknown,
        Verdict::Error,
    ];
    let counts: Vec<String> = order
        .iter()
        .filter_map(|&v| {
            let n = findings
                .iter()
                .filter(|f| verdict_from_proto(f.verdict) == v)
                .count();
            (n > 0).then(|| format!("{n} {v}"))
        })
        .collect();
    let mut line = format!(
        "{}: {} ({} {}",
        t(Label::Overall, lang),
        out.paint(overall, overall.as_str()),
        findings.len(),
        match (findings.len(), lang) {
            (1, Lang::En) => "finding",
            _ => t(Label::Findings, lang),
        }
    );
    if !counts.is_empty() {
        line.push_str(&format!(": {}", counts.join(", ")));
    }
    line.push(')');
    if let Some(d) = format_duration(duration) {
        line.push_str(&format!(" {d}"));
    }
    line
}

/// The whole report of a finished (or cut short) check run.
pub fn check_report(
    findings: &[v1::Finding],
    overall: Verdict,
    duration: Option<&prost_types::Duration>,
    out: &Output,
) -> String {
    let mut s = String::new();
    if findings.is_empty() {
        s.push_str(t(Label::NoFindings, out.lang));
        s.push('\n');
    } else {
        s.push_str(&findings_table(findings, out.lang).render(out.color));
    }
    let details: Vec<String> = findings
        .iter()
        .filter(|f| verdict_from_proto(f.verdict) != Verdict::Ok)
        .map(|f| finding_details(f, out))
        .collect();
    for d in details {
        s.push('\n');
        s.push_str(&d);
    }
    s.push('\n');
    s.push_str(&overall_line(overall, findings, duration, out));
    s.push('\n');
    s
}

/// The progress shown on stderr while checks run: one line per finished
/// phase, plus one line naming the phases still running that is rewritten
/// in place with `\r` (erased before anything else is written).
#[derive(Debug)]
struct Progress {
    enabled: bool,
    lang: Lang,
    running: Vec<(String, String)>,
    transient: bool,
}

impl Progress {
    /// Widest transient line, so it never wraps on a standard terminal
    /// (a wrapped line cannot be rewritten with `\r`).
    const MAX_WIDTH: usize = 78;

    fn event(&mut self, ev: &v1::check_event::Event, err: &mut impl Write) -> std::io::Result<()> {
        use v1::check_event::Event;
        if !self.enabled {
            return Ok(());
        }
        self.clear(err)?;
        match ev {
            Event::PhaseStarted(p) => {
                self.running
                    .push((sanitize(&p.phase), sanitize(&p.subject)));
            }
            Event::PhaseFinished(p) => {
                let key = (sanitize(&p.phase), sanitize(&p.subject));
                if let Some(i) = self.running.iter().position(|r| *r == key) {
                    self.running.remove(i);
                }
                let v = verdict_from_proto(p.verdict);
                let took = format_duration(p.duration.as_ref()).unwrap_or_default();
                writeln!(err, "  {:<8} {} {} {took}", v.as_str(), key.0, key.1)?;
            }
            Event::Finding(_) => {}
            Event::Completed(_) => self.running.clear(),
        }
        if !self.running.is_empty() {
            let names: Vec<String> = self
                .running
                .iter()
                .map(|(p, s)| format!("{p} {s}"))
                .collect();
            let mut line = format!("… {}: {}", t(Label::Running, self.lang), names.join(", "));
            truncate_to_width(&mut line, Self::MAX_WIDTH);
            write!(err, "{line}")?;
            self.transient = true;
        }
        err.flush()
    }

    fn clear(&mut self, err: &mut impl Write) -> std::io::Result<()> {
        if self.transient {
            write!(err, "\r\x1b[2K")?;
            self.transient = false;
        }
        Ok(())
    }
}

fn truncate_to_width(s: &mut String, max: usize) {
    if display_width(s) <= max {
        return;
    }
    let mut width = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let w = display_width(c.encode_utf8(&mut [0; 4]));
        if width + w > max - 1 {
            break;
        }
        width += w;
        end = i + c.len_utf8();
    }
    s.truncate(end);
    s.push('…');
}

/// Renders a RunCheck or Probe stream to stdout (progress on stderr when
/// `out.progress`) and returns the overall verdict, whose
/// [`Verdict::exit_code`] is the command's exit code.
pub async fn render_check_stream<S>(stream: S, out: &Output) -> Result<Verdict, CliError>
where
    S: Stream<Item = Result<v1::CheckEvent, tonic::Status>> + Unpin,
{
    render_check_stream_to(
        stream,
        out,
        "",
        &mut crate::term::stdout(),
        &mut crate::term::stderr(),
    )
    .await
}

/// [`render_check_stream`] writing to the given streams. `endpoint` names the
/// daemon in errors.
///
/// Text mode collects the findings and prints the aligned table, the details
/// of every finding that is not OK, and the overall line once the run ends.
/// JSON mode prints every `CheckEvent` as one line of JSON (NDJSON) as it
/// arrives. The overall verdict is the worst of the `Completed` event's and
/// the findings' verdicts. A stream that ends without `Completed` is an error
/// (after printing what arrived).
pub async fn render_check_stream_to<S, W, E>(
    mut stream: S,
    out: &Output,
    endpoint: &str,
    stdout: &mut W,
    stderr: &mut E,
) -> Result<Verdict, CliError>
where
    S: Stream<Item = Result<v1::CheckEvent, tonic::Status>> + Unpin,
    W: Write,
    E: Write,
{
    use v1::check_event::Event;
    let mut progress = Progress {
        enabled: out.progress && !out.json,
        lang: out.lang,
        running: Vec::new(),
        transient: false,
    };
    let mut findings = Vec::new();
    let mut completed: Option<v1::Completed> = None;
    let result = loop {
        let ev = match stream.next().await {
            None => break Ok(()),
            Some(Err(status)) => break Err(CliError::from_status(status, endpoint)),
            Some(Ok(ev)) => ev,
        };
        if out.json {
            writeln!(stdout, "{}", to_json(&ev)?)?;
            stdout.flush()?;
        }
        let Some(event) = ev.event else { continue };
        progress.event(&event, stderr)?;
        match event {
            Event::Finding(f) => findings.push(f),
            Event::Completed(c) => {
                completed = Some(c);
                break Ok(());
            }
            Event::PhaseStarted(_) | Event::PhaseFinished(_) => {}
        }
    };
    progress.clear(stderr)?;
    let worst_finding = Verdict::worst(findings.iter().map(|f| verdict_from_proto(f.verdict)));
    let overall = match &completed {
        Some(c) => Verdict::worst(
            [verdict_from_proto(c.overall)]
                .into_iter()
                .chain(worst_finding),
        )
        .unwrap_or(Verdict::Unknown),
        None => worst_finding.unwrap_or(Verdict::Unknown),
    };
    if !out.json {
        let duration = completed.as_ref().and_then(|c| c.duration.as_ref());
        stdout.write_all(check_report(&findings, overall, duration, out).as_bytes())?;
        stdout.flush()?;
    }
    result?;
    if completed.is_none() {
        return Err(CliError::StreamIncomplete);
    }
    Ok(overall)
}

/// The terminals table: ID, NAME, VENDOR/MODEL, LINK, HOSTS, STATUS, LAST CHECKED.
pub fn terminals_table(terminals: &[v1::Terminal], lang: Lang) -> Table {
    let mut table = Table::new(
        [
            Label::Id,
            Label::Name,
            Label::VendorModel,
            Label::Link,
            Label::Hosts,
            Label::Status,
            Label::LastChecked,
        ]
        .map(|l| t(l, lang)),
    );
    for term in terminals {
        let vendor_model = match (term.vendor.as_str(), term.model.as_str()) {
            ("", "") => "-".to_owned(),
            (v, "") => v.to_owned(),
            ("", m) => m.to_owned(),
            (v, m) => format!("{v}/{m}"),
        };
        let link = match &term.link {
            Some(l) if !l.address.is_empty() => format!("{} {}", l.kind, l.address),
            Some(l) if !l.kind.is_empty() => l.kind.clone(),
            _ => "-".to_owned(),
        };
        let hosts: Vec<&str> = term.hosts.iter().map(|h| h.name.as_str()).collect();
        table.push(vec![
            Cell::new(&term.id),
            Cell::new(&term.name),
            Cell::new(vendor_model),
            Cell::new(link),
            Cell::new(if hosts.is_empty() {
                "-".to_owned()
            } else {
                hosts.join(",")
            }),
            status_cell(term.status, lang),
            Cell::new(
                format_timestamp(term.last_checked.as_ref())
                    .unwrap_or_else(|| t(Label::Never, lang).to_owned()),
            ),
        ]);
    }
    table
}

/// The check id of the daemon's findings about its history store.
const HISTORY_CHECK: &str = "daemon.history";

/// The lines above the terminals table about the daemon itself: a history
/// store that cannot write (with why and how much is lost), what happened to
/// the history file on start (a corrupt file moved aside), the daemon's
/// findings about itself, and the last configuration reload. None when all
/// is well and nothing was reloaded; a history turned off in the
/// configuration is a choice, not news, and gets no line (`posdiag history`
/// says so when asked).
pub fn daemon_header(state: Option<&v1::DaemonState>, out: &Output, tz: &TimeZone) -> Vec<String> {
    use v1::history_state::Condition;
    let mut lines = Vec::new();
    let Some(state) = state else {
        return lines;
    };
    let mut history_said = false;
    if let Some(h) = &state.history {
        let detail = sanitize(h.detail.trim());
        match Condition::try_from(h.condition) {
            Ok(Condition::Degraded) => {
                let text = crate::i18n::history_degraded(&detail, h.unwritten, &sanitize(&h.path));
                lines.push(paint(out.color, "33", text.get(out.lang)));
                history_said = true;
            }
            Ok(Condition::Ok) if !detail.is_empty() => {
                let text = format!("{}: {detail}", t(Label::History, out.lang));
                lines.push(paint(out.color, "33", &text));
                history_said = true;
            }
            _ => {}
        }
    }
    // The history line above already says what its finding would.
    for f in &state.findings {
        let v = verdict_from_proto(f.verdict);
        if v == Verdict::Ok || (history_said && f.check == HISTORY_CHECK) {
            continue;
        }
        lines.push(format!(
            "{} {}: {}",
            out.paint(v, v.as_str()),
            sanitize(&f.check),
            sanitize(f.summary.trim())
        ));
    }
    // The daemon's detail says what changed, or that the file was refused
    // and where it is wrong ("refused, keeping the current configuration:
    // posdiagd.toml:7:1: ..."), in the reader's language.
    if let Some(r) = &state.reload {
        let at = crate::when::local_cell(r.at.as_ref(), tz);
        let mut line = format!("{} ({at})", t(Label::LastReload, out.lang));
        if r.applied {
            line.push_str(&format!(": {}", t(Label::ReloadApplied, out.lang)));
        }
        let detail = sanitize(r.detail.trim());
        if !detail.is_empty() {
            line.push_str(&format!(": {detail}"));
        }
        let style = if r.applied { "" } else { "31" };
        lines.push(paint(out.color, style, &line));
    }
    lines
}

/// Prints the daemon's state and the terminals as a table (or the whole
/// answer as one JSON object with `--json`); times in `tz`.
pub fn print_terminals(
    resp: v1::ListTerminalsResponse,
    out: &Output,
    tz: &TimeZone,
    stdout: &mut impl Write,
) -> Result<(), CliError> {
    if out.json {
        writeln!(stdout, "{}", to_json(&resp)?)?;
        stdout.flush()?;
        return Ok(());
    }
    for line in daemon_header(resp.daemon.as_ref(), out, tz) {
        writeln!(stdout, "{line}")?;
    }
    if resp.terminals.is_empty() {
        writeln!(stdout, "{}", t(Label::NoTerminals, out.lang))?;
    } else {
        stdout.write_all(
            terminals_table(&resp.terminals, out.lang)
                .render(out.color)
                .as_bytes(),
        )?;
    }
    stdout.flush()?;
    Ok(())
}

/// One line for a watch event, e.g.
/// `2025-03-01T09:30:00Z changed T1 (Checkout 1): OK -> CRITICAL host.tcp tcp.refused: …`.
pub fn watch_line(ev: &v1::TerminalEvent, out: &Output) -> String {
    let lang = out.lang;
    let at = format_timestamp(ev.at.as_ref()).unwrap_or_else(|| "-".into());
    let changed = ev.kind == v1::terminal_event::Kind::Changed as i32;
    let link_changed = ev.kind == v1::terminal_event::Kind::LinkChanged as i32;
    let kind = t(
        if link_changed {
            Label::LinkChanged
        } else if changed {
            Label::Changed
        } else {
            Label::Snapshot
        },
        lang,
    );
    let Some(term) = &ev.terminal else {
        return format!("{at} {kind}");
    };
    if link_changed {
        // A hot-plug change: where the terminal's port is now.
        let mut line = format!("{at} {kind} {}", sanitize(&term.id));
        if !term.name.is_empty() {
            line.push_str(&format!(" ({})", sanitize(&term.name)));
        }
        let where_now = match &term.link {
            Some(l) if l.present && !l.path.is_empty() => sanitize(&l.path),
            _ => t(Label::PortGone, lang).to_owned(),
        };
        line.push_str(&format!(": {where_now}"));
        return line;
    }
    let status_text = |s: i32| {
        let c = status_cell(s, lang);
        crate::output::paint(out.color, c.style, &c.text)
    };
    let mut line = format!("{at} {kind} {}", sanitize(&term.id));
    if !term.name.is_empty() {
        line.push_str(&format!(" ({})", sanitize(&term.name)));
    }
    line.push_str(": ");
    if changed {
        line.push_str(&format!("{} -> ", status_text(ev.previous_status)));
    }
    line.push_str(&status_text(term.status));
    // Name the worst non-OK finding, the likely reason for the status.
    let worst = term
        .latest_findings
        .iter()
        .filter(|f| verdict_from_proto(f.verdict) != Verdict::Ok)
        .max_by_key(|f| verdict_from_proto(f.verdict));
    if let Some(f) = worst {
        line.push_str(&format!(
            " {} {} {}: {}",
            sanitize(&f.check),
            sanitize(&f.subject),
            sanitize(&f.reason),
            sanitize(&f.summary)
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(check: &str, verdict: v1::Verdict, reason: &str, summary: &str) -> v1::Finding {
        v1::Finding {
            check: check.into(),
            verdict: verdict as i32,
            reason: reason.into(),
            summary: summary.into(),
            subject: "acquirer-a (10.0.0.5:5000)".into(),
            ..Default::default()
        }
    }

    #[test]
    fn numbers_drop_trailing_zeros() {
        let cases = [
            (12.3, "12.3"),
            (12.0, "12"),
            (0.12345, "0.123"),
            (-0.0001, "0"),
        ];
        for (x, want) in cases {
            assert_eq!(format_number(x), want, "{x}");
        }
        let ms = prost_types::Duration {
            seconds: 0,
            nanos: 12_300_000,
        };
        assert_eq!(format_duration(Some(&ms)).as_deref(), Some("12.3 ms"));
        let s = prost_types::Duration {
            seconds: 1,
            nanos: 200_000_000,
        };
        assert_eq!(format_duration(Some(&s)).as_deref(), Some("1.2 s"));
    }

    #[test]
    fn evidence_reads_as_name_value_unit() {
        let ev = |name: &str, unit: &str, value| v1::Evidence {
            name: name.into(),
            unit: unit.into(),
            value: Some(value),
        };
        use v1::evidence::Value;
        let cases = [
            (
                ev("rtt_p95", "ms", Value::Number(12.3)),
                Lang::En,
                "rtt_p95 12.3 ms",
            ),
            (
                ev("loss_ratio", "ratio", Value::Number(0.2)),
                Lang::En,
                "loss_ratio 0.2 (20%)",
            ),
            (
                ev("attempts", "count", Value::Number(5.0)),
                Lang::En,
                "attempts 5",
            ),
            (
                ev("days_to_expiry", "days", Value::Number(3.0)),
                Lang::ZhCn,
                "days_to_expiry 3 天",
            ),
            (
                ev("tls_version", "", Value::Text("TLSv1.3".into())),
                Lang::En,
                "tls_version TLSv1.3",
            ),
            (
                ev("resumed", "", Value::Flag(true)),
                Lang::ZhCn,
                "resumed 是",
            ),
        ];
        for (e, lang, want) in cases {
            assert_eq!(format_evidence(&e, lang), want);
        }
    }

    #[test]
    fn unspecified_and_unknown_verdicts_are_unknown() {
        assert_eq!(verdict_from_proto(0), Verdict::Unknown);
        assert_eq!(verdict_from_proto(99), Verdict::Unknown);
        assert_eq!(
            verdict_from_proto(v1::Verdict::Critical as i32),
            Verdict::Critical
        );
    }

    #[test]
    fn details_number_remedies_and_name_who_acts() {
        let mut f = finding("host.tcp", v1::Verdict::Critical, "tcp.refused", "refused");
        f.remedies = vec![
            v1::Remedy {
                actor: v1::Actor::Merchant as i32,
                text: "Check the network cable.".into(),
            },
            v1::Remedy {
                actor: v1::Actor::Unspecified as i32,
                text: "Try again later.".into(),
            },
        ];
        let text = finding_details(&f, &Output::plain(Lang::En));
        assert!(
            text.contains("    1. [merchant] Check the network cable.\n"),
            "{text}"
        );
        assert!(text.contains("    2. Try again later.\n"), "{text}");
        let zh = finding_details(&f, &Output::plain(Lang::ZhCn));
        assert!(zh.contains("1. [商户] "), "{zh}");
        assert!(zh.contains("  处理步骤:\n"), "{zh}");
    }

    #[test]
    fn a_transcript_is_shown_as_a_block_with_control_bytes_removed() {
        let mut f = finding(
            "terminal.status",
            v1::Verdict::Error,
            "reader.defective",
            "x",
        );
        f.evidence = vec![v1::Evidence {
            name: "link_transcript".into(),
            value: Some(v1::evidence::Value::Text(
                "+0.001s TX 6 bytes\n0000  05 01 03 00 00 00  |\u{1b}[31m|\n".into(),
            )),
            unit: String::new(),
        }];
        let text = finding_details(&f, &Output::plain(Lang::En));
        assert!(
            text.contains("    link_transcript:\n      +0.001s TX 6 bytes\n      0000  05 01 03 00 00 00  | [31m|\n"),
            "{text}"
        );
    }

    fn events(
        list: Vec<v1::check_event::Event>,
    ) -> impl Stream<Item = Result<v1::CheckEvent, tonic::Status>> + Unpin {
        tokio_stream::iter(
            list.into_iter()
                .map(|e| Ok(v1::CheckEvent { event: Some(e) })),
        )
    }

    #[tokio::test]
    async fn a_check_stream_prints_table_details_and_overall() {
        use v1::check_event::Event;
        let stream = events(vec![
            Event::Finding(finding("host.dns", v1::Verdict::Ok, "ok", "resolved")),
            Event::Finding(finding(
                "host.tcp",
                v1::Verdict::Warning,
                "tcp.latency",
                "slow",
            )),
            Event::Completed(v1::Completed {
                overall: v1::Verdict::Warning as i32,
                findings: 2,
                duration: None,
            }),
        ]);
        let (mut so, mut se) = (Vec::new(), Vec::new());
        let v = render_check_stream_to(
            stream,
            &Output::plain(Lang::En),
            "unix:/s",
            &mut so,
            &mut se,
        )
        .await
        .expect("renders");
        assert_eq!(v, Verdict::Warning);
        assert_eq!(v.exit_code(), 1);
        let text = String::from_utf8(so).expect("utf8");
        assert!(text.starts_with("VERDICT  CHECK"), "{text}");
        assert!(
            text.contains("\nWARNING host.tcp acquirer-a (10.0.0.5:5000): tcp.latency\n"),
            "{text}"
        );
        assert!(
            !text.contains("OK host.dns"),
            "OK findings get no details: {text}"
        );
        assert!(
            text.ends_with("overall: WARNING (2 findings: 1 OK, 1 WARNING)\n"),
            "{text}"
        );
        assert!(se.is_empty(), "no progress when stderr is not a terminal");
    }

    #[tokio::test]
    async fn a_stream_cut_short_is_an_error_after_printing_what_came() {
        use v1::check_event::Event;
        let stream = events(vec![Event::Finding(finding(
            "host.dns",
            v1::Verdict::Critical,
            "dns.nxdomain",
            "no such host",
        ))]);
        let (mut so, mut se) = (Vec::new(), Vec::new());
        let err = render_check_stream_to(
            stream,
            &Output::plain(Lang::En),
            "unix:/s",
            &mut so,
            &mut se,
        )
        .await
        .expect_err("no Completed");
        assert!(matches!(err, CliError::StreamIncomplete));
        assert!(String::from_utf8_lossy(&so).contains("dns.nxdomain"));
    }

    #[tokio::test]
    async fn json_mode_prints_one_object_per_event() {
        use v1::check_event::Event;
        let stream = events(vec![
            Event::PhaseStarted(v1::PhaseStarted {
                phase: "host.dns".into(),
                subject: "a".into(),
            }),
            Event::Completed(v1::Completed {
                overall: v1::Verdict::Critical as i32,
                findings: 0,
                duration: None,
            }),
        ]);
        let out = Output {
            json: true,
            progress: true,
            ..Output::plain(Lang::En)
        };
        let (mut so, mut se) = (Vec::new(), Vec::new());
        let v = render_check_stream_to(stream, &out, "", &mut so, &mut se)
            .await
            .expect("renders");
        assert_eq!(v, Verdict::Critical);
        let text = String::from_utf8(so).expect("utf8");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["phaseStarted"]["phase"], "host.dns");
        assert_eq!(lines[1]["completed"]["overall"], "VERDICT_CRITICAL");
        assert!(se.is_empty());
    }

    #[tokio::test]
    async fn progress_lines_on_a_terminal_end_with_a_cleared_line() {
        use v1::check_event::Event;
        let stream = events(vec![
            Event::PhaseStarted(v1::PhaseStarted {
                phase: "host.dns".into(),
                subject: "a".into(),
            }),
            Event::PhaseFinished(v1::PhaseFinished {
                phase: "host.dns".into(),
                subject: "a".into(),
                verdict: v1::Verdict::Ok as i32,
                duration: None,
            }),
            Event::Completed(v1::Completed::default()),
        ]);
        let out = Output {
            progress: true,
            ..Output::plain(Lang::En)
        };
        let (mut so, mut se) = (Vec::new(), Vec::new());
        render_check_stream_to(stream, &out, "", &mut so, &mut se)
            .await
            .expect("renders");
        let err = String::from_utf8(se).expect("utf8");
        assert_eq!(
            err,
            "… running: host.dns a\r\x1b[2K  OK       host.dns a \n"
        );
    }

    #[test]
    fn a_refused_reload_heads_the_terminals_and_so_does_an_applied_one() {
        let state = |applied: bool, detail: &str| v1::DaemonState {
            reload: Some(v1::ReloadState {
                at: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                applied,
                detail: detail.into(),
            }),
            ..Default::default()
        };
        let (en, zh, utc) = (
            Output::plain(Lang::En),
            Output::plain(Lang::ZhCn),
            TimeZone::UTC,
        );
        let refused = state(
            false,
            "refused: /etc/posdiag/posdiagd.toml:7:1: terminals.colour",
        );
        assert_eq!(
            daemon_header(Some(&refused), &en, &utc),
            [
                "last configuration reload (2023-11-14 22:13:20): refused: /etc/posdiag/posdiagd.toml:7:1: terminals.colour"
            ]
        );
        assert!(daemon_header(Some(&refused), &zh, &utc)[0].starts_with("上次配置重新加载 ("));
        assert_eq!(
            daemon_header(Some(&state(true, "added T4")), &en, &utc),
            ["last configuration reload (2023-11-14 22:13:20): applied: added T4"]
        );
        assert!(daemon_header(None, &en, &utc).is_empty());
    }

    #[test]
    fn terminals_table_shows_not_checked_and_never() {
        let term = v1::Terminal {
            id: "T1".into(),
            name: "收银台 1".into(),
            vendor: "ACME".into(),
            model: "P400".into(),
            link: Some(v1::Link {
                kind: "tcp".into(),
                address: "127.0.0.1:20007".into(),
                present: true,
                protocol: "zvt".into(),
                ..Default::default()
            }),
            hosts: vec![v1::Host {
                name: "acquirer-a".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = terminals_table(&[term], Lang::En).render(false);
        let row = text.lines().nth(1).expect("row");
        assert_eq!(
            row,
            "T1  收银台 1  ACME/P400     tcp 127.0.0.1:20007  acquirer-a  not checked  never"
        );
    }

    fn daemon(condition: v1::history_state::Condition, detail: &str) -> v1::DaemonState {
        v1::DaemonState {
            history: Some(v1::HistoryState {
                condition: condition as i32,
                detail: detail.into(),
                path: "/var/lib/posdiag/history.db".into(),
                unwritten: 1234,
                size_bytes: 1 << 20,
            }),
            reload: None,
            findings: Vec::new(),
        }
    }

    #[test]
    fn the_terminals_header_shows_only_what_is_worth_seeing() {
        use v1::history_state::Condition;
        let en = Output::plain(Lang::En);
        let tz = TimeZone::UTC;
        assert!(daemon_header(None, &en, &tz).is_empty(), "an older daemon");
        assert!(
            daemon_header(Some(&daemon(Condition::Ok, "")), &en, &tz).is_empty(),
            "all is well"
        );
        assert!(
            daemon_header(Some(&daemon(Condition::Disabled, "")), &en, &tz).is_empty(),
            "turned off in the configuration"
        );
        assert_eq!(
            daemon_header(Some(&daemon(Condition::Degraded, "disk full")), &en, &tz),
            [
                "history degraded: disk full: 1234 records not stored since start, posdiagd retries by itself — /var/lib/posdiag/history.db"
            ]
        );
        assert_eq!(
            daemon_header(
                Some(&daemon(Condition::Degraded, "磁盘已满")),
                &Output::plain(Lang::ZhCn),
                &tz
            ),
            [
                "历史记录已降级：磁盘已满：自启动以来 1234 条记录未能保存，posdiagd 会自动重试 — /var/lib/posdiag/history.db"
            ]
        );
        let fresh =
            "the history file was corrupt: moved aside to history.db.corrupt-1, a new one started";
        assert_eq!(
            daemon_header(Some(&daemon(Condition::Ok, fresh)), &en, &tz),
            [format!("history: {fresh}")]
        );

        // The daemon's findings about itself, except the one the history
        // line already tells.
        let mut state = daemon(Condition::Ok, fresh);
        state.findings = vec![
            finding(
                HISTORY_CHECK,
                v1::Verdict::Critical,
                "history.corrupt",
                fresh,
            ),
            finding(
                "daemon.plugins",
                v1::Verdict::Warning,
                "plugin.refused",
                "1 bundle refused",
            ),
            finding("daemon.clock", v1::Verdict::Ok, "ok", "fine"),
        ];
        assert_eq!(
            daemon_header(Some(&state), &en, &tz),
            [
                format!("history: {fresh}"),
                "WARNING daemon.plugins: 1 bundle refused".to_owned()
            ]
        );
        state.history = None;
        assert_eq!(
            daemon_header(Some(&state), &en, &tz)[0],
            format!("CRITICAL daemon.history: {fresh}")
        );

        let mut state = daemon(Condition::Ok, "");
        state.reload = Some(v1::ReloadState {
            at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            applied: false,
            detail: "refused, keeping the current configuration: posdiagd.toml:4:1: unknown key \"colour\"\n".into(),
        });
        assert_eq!(
            daemon_header(Some(&state), &en, &tz),
            [
                "last configuration reload (2023-11-14 22:13:20): refused, keeping the current configuration: posdiagd.toml:4:1: unknown key \"colour\""
            ]
        );
        let coloured = Output { color: true, ..en };
        assert!(
            daemon_header(Some(&state), &coloured, &tz)[0]
                .starts_with("\x1b[31mlast configuration reload")
        );
        state.reload = Some(v1::ReloadState {
            applied: true,
            detail: "新增 T4；移除 T2".into(),
            ..state.reload.clone().unwrap_or_default()
        });
        assert_eq!(
            daemon_header(Some(&state), &Output::plain(Lang::ZhCn), &tz),
            ["上次配置重新加载 (2023-11-14 22:13:20): 已应用: 新增 T4；移除 T2"]
        );
    }

    #[test]
    fn terminals_print_the_header_above_the_table_and_all_of_it_in_json() {
        use v1::history_state::Condition;
        let resp = v1::ListTerminalsResponse {
            terminals: vec![v1::Terminal {
                id: "T1".into(),
                ..Default::default()
            }],
            daemon: Some(daemon(Condition::Degraded, "disk full")),
        };
        let mut out = Vec::new();
        print_terminals(
            resp.clone(),
            &Output::plain(Lang::En),
            &TimeZone::UTC,
            &mut out,
        )
        .expect("prints");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("history degraded: disk full"),
            "{text}"
        );
        assert!(lines[1].starts_with("ID  NAME"), "{text}");
        let json = Output {
            json: true,
            ..Output::plain(Lang::En)
        };
        let mut out = Vec::new();
        print_terminals(resp, &json, &TimeZone::UTC, &mut out).expect("prints");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(v["daemon"]["history"]["condition"], "CONDITION_DEGRADED");
        assert_eq!(v["daemon"]["history"]["unwritten"], "1234");
    }

    #[test]
    fn watch_lines_show_the_change_and_its_likely_cause() {
        let mut term = v1::Terminal {
            id: "T1".into(),
            name: "Checkout 1".into(),
            status: v1::Verdict::Critical as i32,
            ..Default::default()
        };
        term.latest_findings = vec![
            finding("host.dns", v1::Verdict::Ok, "ok", "fine"),
            finding("host.tcp", v1::Verdict::Critical, "tcp.refused", "refused"),
        ];
        let ev = v1::TerminalEvent {
            kind: v1::terminal_event::Kind::Changed as i32,
            terminal: Some(term),
            previous_status: v1::Verdict::Ok as i32,
            at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 5,
            }),
        };
        assert_eq!(
            watch_line(&ev, &Output::plain(Lang::En)),
            "2023-11-14T22:13:20Z changed T1 (Checkout 1): OK -> CRITICAL host.tcp acquirer-a (10.0.0.5:5000) tcp.refused: refused"
        );
    }
}
