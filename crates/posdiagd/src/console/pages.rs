//! The console's pages, server-rendered from compile-time-checked templates
//! (maud): the overview, a terminal's page, "What do you see?", the tools,
//! the login. Every page works without JavaScript; the script only adds live
//! rows, the reconnect banner and the copy button. Stable hooks: rows carry
//! `data-terminal` and `data-verdict`, the symptom form is `form#doctor`,
//! the result `#diagnosis` with one `data-reason` element per cause.
//!
//! Everything a person typed is shown masked (`shown`), and every text from
//! the API arrives masked already (the API's egress).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use maud::{DOCTYPE, Markup, PreEscaped, html};
use posdiag_core::{Lang, Text};
use posdiag_proto::v1 as pb;

use super::board::Entry;
use super::text::{L, actor, check_name, verdict, verdict_hook};

/// Where a page is and who sees it.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The session's CSRF token, put into every form.
    pub csrf: &'a str,
    /// The logged-in user, if the console has logins.
    pub user: Option<&'a str>,
    /// The path, to come back to after a language switch.
    pub path: &'a str,
    /// Whether the session may run checks and the doctor.
    pub can_act: bool,
}

/// The marker where a streamed page is cut in two (`split_stream`).
pub const STREAM_MARK: &str = "<!--posdiag-stream-->";

/// A value a person typed, masked as every page shows it: card numbers and
/// other long digit runs keep their first six and last four digits, identity
/// numbers and payment codes inside the text show as the IdService shows
/// them; an ID typed in the ID field is shown by what the IdService answers
/// instead.
pub fn shown(typed: &str) -> String {
    posdiag_ids::mask_ids_in_text(typed)
}

/// A proto timestamp as a system time.
pub fn system_time(t: prost_types::Timestamp) -> Option<SystemTime> {
    let secs = u64::try_from(t.seconds).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, u32::try_from(t.nanos).unwrap_or(0)))
}

/// `2026-12-06T21:40:18Z`.
pub fn iso(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How long ago `t` was, in words.
pub fn ago(t: SystemTime, now: SystemTime, lang: Lang) -> String {
    let s = now.duration_since(t).map(|d| d.as_secs()).unwrap_or(0);
    let (n, en, zh) = if s < 60 {
        (s, "s ago", "秒前")
    } else if s < 3600 {
        (s / 60, " min ago", "分钟前")
    } else if s < 86_400 {
        (s / 3600, " h ago", "小时前")
    } else {
        (s / 86_400, " d ago", "天前")
    };
    Text::new(format!("{n}{en}"), format!("{n} {zh}"))
        .get(lang)
        .to_owned()
}

fn when(t: Option<SystemTime>, now: SystemTime, lang: Lang, none: L) -> Markup {
    match t {
        Some(t) => html! { time datetime=(iso(t)) title=(iso(t)) { (ago(t, now, lang)) } },
        None => html! { span.muted { (none.get(lang)) } },
    }
}

fn percent(r: Option<f64>, lang: Lang) -> Markup {
    match r {
        Some(r) => html! { (format!("{:.1} %", r * 100.0)) },
        None => html! { span.muted { "—" } span.sr { (L::Unknown.get(lang)) } },
    }
}

fn worst(findings: &[&pb::Finding]) -> Option<usize> {
    let rank = |v: i32| match pb::Verdict::try_from(v).unwrap_or(pb::Verdict::Unspecified) {
        pb::Verdict::Ok => 1,
        pb::Verdict::Warning => 3,
        pb::Verdict::Unknown | pb::Verdict::Unspecified => 2,
        pb::Verdict::Error => 4,
        pb::Verdict::Critical => 5,
    };
    (0..findings.len()).max_by_key(|&i| rank(findings[i].verdict))
}

/// The reason in words: the worst finding's summary, when it is not OK.
fn reason(findings: &[&pb::Finding]) -> String {
    match worst(findings).map(|i| findings[i]) {
        Some(f) if f.verdict != pb::Verdict::Ok as i32 => f.summary.clone(),
        _ => String::new(),
    }
}

fn badge(v: i32, lang: Lang) -> Markup {
    html! { span class=(format!("badge v-{}", verdict_hook(v))) { (verdict(v, lang)) } }
}

/// A terminal's rows on the overview: the terminal, then its hosts. One
/// `tbody` per terminal, so a change replaces it whole.
pub fn terminal_rows(e: &Entry, lang: Lang, now: SystemTime) -> Markup {
    let t = e.terminal(lang);
    let all: Vec<&pb::Finding> = t.latest_findings.iter().collect();
    let last = t.last_checked.and_then(system_time);
    html! {
        tbody data-group=(t.id) {
            tr data-terminal=(t.id) data-verdict=(verdict_hook(t.status)) {
                th scope="row" {
                    a href=(format!("/t/{}", t.id)) { (t.id) }
                    " " span.name { (t.name) }
                }
                td { (badge(t.status, lang)) }
                td { (when(e.since, now, lang, L::Unknown)) }
                td.reason { (reason(&all)) }
                td { (when(last, now, lang, L::NotYet)) }
                td.num { (percent(e.today, lang)) }
                td.num { (percent(e.week, lang)) }
            }
            @for h in &t.hosts {
                @let mine: Vec<&pb::Finding> = t.latest_findings.iter()
                    .filter(|f| f.check.starts_with("host.") && f.subject.starts_with(h.name.as_str()))
                    .collect();
                @let v = worst(&mine).map(|i| mine[i].verdict).unwrap_or(pb::Verdict::Unspecified as i32);
                @let seen = mine.iter().filter_map(|f| f.observed_at.and_then(system_time)).max();
                tr.host data-host=(h.name) data-verdict=(verdict_hook(v)) {
                    th scope="row" { span aria-hidden="true" { "↳ " } (L::Host.get(lang)) " " (h.name) }
                    td { (badge(v, lang)) }
                    td {}
                    td.reason { (reason(&mine)) }
                    td { (when(seen, now, lang, L::NotYet)) }
                    td {}
                    td {}
                }
            }
        }
    }
}

/// The page around `body`.
pub fn layout(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let lang = ctx.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · posdiag" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { (L::SkipToContent.get(lang)) }
                header {
                    nav aria-label=(L::Title.get(lang)) {
                        a href="/" { (L::Overview.get(lang)) }
                        a href="/doctor" { (L::Doctor.get(lang)) }
                        a href="/tools" { (L::Tools.get(lang)) }
                    }
                    form.lang method="post" action="/lang" {
                        input type="hidden" name="csrf" value=(ctx.csrf);
                        input type="hidden" name="back" value=(ctx.path);
                        span.sr { (L::Language.get(lang)) }
                        button name="lang" value="en" lang="en" aria-pressed=(matches!(lang, Lang::En)) { "English" }
                        button name="lang" value="zh-CN" lang="zh-CN" aria-pressed=(matches!(lang, Lang::ZhCn)) { "中文" }
                    }
                    @if let Some(u) = ctx.user {
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            span.user { (u) } " "
                            button { (L::Logout.get(lang)) }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The overview.
pub fn overview(ctx: &Ctx, entries: &[Entry], now: SystemTime) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        p #live-banner.banner role="alert" hidden { (L::ConnectionLost.get(lang)) }
        p.muted #live-note { (L::Live.get(lang)) }
        div.scroll {
            table #board {
                caption.sr { (L::TerminalsAndHosts.get(lang)) }
                thead {
                    tr {
                        th scope="col" { (L::Terminal.get(lang)) }
                        th scope="col" { (L::Status.get(lang)) }
                        th scope="col" { (L::Since.get(lang)) }
                        th scope="col" { (L::Reason.get(lang)) }
                        th scope="col" { (L::LastCheck.get(lang)) }
                        th scope="col" { (L::Today.get(lang)) }
                        th scope="col" { (L::SevenDays.get(lang)) }
                    }
                }
                @for e in entries {
                    (terminal_rows(e, lang, now))
                }
            }
        }
    };
    layout(ctx, L::Overview.get(lang), body)
}

fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// What a terminal page shows besides the terminal.
#[derive(Debug, Default)]
pub struct TerminalPage {
    /// Status changes, diagnoses and port events, newest first: (when, verdict, text).
    pub timeline: Vec<(Option<SystemTime>, i32, String)>,
    /// The plugins serving it.
    pub plugins: Vec<pb::Plugin>,
    /// An error reading the history.
    pub error: Option<String>,
}

fn plugin_state(s: i32, lang: Lang) -> String {
    let (en, zh) = match pb::PluginState::try_from(s).unwrap_or(pb::PluginState::Unspecified) {
        pb::PluginState::Ready => ("running", "运行中"),
        pb::PluginState::Starting => ("starting", "启动中"),
        pb::PluginState::Restarting => ("restarting after a fault", "故障后重启中"),
        pb::PluginState::Quarantined => ("stopped after repeated crashes", "多次崩溃后已停用"),
        pb::PluginState::Failed => ("failed", "失败"),
        pb::PluginState::Refused => ("refused by the loading policy", "被加载策略拒绝"),
        pb::PluginState::Unspecified => ("unknown", "未知"),
    };
    Text::new(en, zh).get(lang).to_owned()
}

fn remedies(rs: &[pb::Remedy], lang: Lang) -> Markup {
    html! {
        @if !rs.is_empty() {
            ol.remedies {
                @for r in rs {
                    li {
                        strong.who { (actor(r.actor, lang).get(lang)) ": " }
                        (r.text)
                    }
                }
            }
        }
    }
}

/// A terminal's page.
pub fn terminal(ctx: &Ctx, t: &pb::Terminal, page: &TerminalPage, now: SystemTime) -> Markup {
    let lang = ctx.lang;
    let link = t.link.clone().unwrap_or_default();
    let mut checks: Vec<String> = t.latest_findings.iter().map(|f| f.check.clone()).collect();
    for p in &page.plugins {
        checks.extend(p.checks.iter().map(|c| c.id.clone()));
    }
    checks.sort();
    checks.dedup();
    let body = html! {
        p { (badge(t.status, lang)) " " (t.name) }
        dl.facts {
            dt { (L::Vendor.get(lang)) } dd { (t.vendor) }
            dt { (L::Model.get(lang)) } dd { (t.model) }
            dt { (L::LinkState.get(lang)) }
            dd data-link-present=(link.present) {
                @if link.kind == "none" || link.kind.is_empty() { "—" } @else {
                    (link.kind) " " (link.address)
                    @if !link.path.is_empty() { " → " (link.path) }
                    " · " (if link.present { L::Present.get(lang) } else { L::Absent.get(lang) })
                    @if !link.protocol.is_empty() { " · " (L::Protocol.get(lang)) " " (link.protocol) }
                }
            }
            dt { (L::LastCheck.get(lang)) } dd { (when(t.last_checked.and_then(system_time), now, lang, L::NotYet)) }
        }
        @if !page.plugins.is_empty() {
            h2 { (L::Plugins.get(lang)) }
            ul {
                @for p in &page.plugins {
                    li data-plugin=(p.id) {
                        (p.id) " " (p.version) " — " (plugin_state(p.state, lang))
                        @if !p.last_error.is_empty() { " · " (p.last_error) }
                    }
                }
            }
        }
        h2 { (L::Checks.get(lang)) }
        @if !ctx.can_act { p.muted { (L::ReadOnly.get(lang)) } }
        @else {
            form.run method="post" action=(format!("/t/{}/run", t.id)) {
                (csrf(ctx))
                button { (L::RunAll.get(lang)) }
            }
        }
        div.scroll {
            table.checks {
                thead { tr {
                    th scope="col" { (L::Checks.get(lang)) }
                    th scope="col" { (L::Status.get(lang)) }
                    th scope="col" { (L::Reason.get(lang)) }
                    th scope="col" { (L::LastCheck.get(lang)) }
                    th scope="col" { span.sr { (L::RunNow.get(lang)) } }
                } }
                tbody {
                    @for c in &checks {
                        @let mine: Vec<&pb::Finding> = t.latest_findings.iter().filter(|f| &f.check == c).collect();
                        @let v = worst(&mine).map(|i| mine[i].verdict).unwrap_or(pb::Verdict::Unspecified as i32);
                        tr data-check=(c) data-verdict=(verdict_hook(v)) {
                            th scope="row" {
                                @match check_name(c) {
                                    Some(n) => { (n.get(lang)) " " small.muted { code { (c) } } }
                                    None => { code { (c) } }
                                }
                            }
                            td { (badge(v, lang)) }
                            td {
                                @for f in &mine {
                                    p { (f.summary) @if !f.subject.is_empty() { " " span.muted { "(" (f.subject) ")" } } }
                                    @if f.verdict != pb::Verdict::Ok as i32 { (remedies(&f.remedies, lang)) }
                                }
                            }
                            td { (when(mine.iter().filter_map(|f| f.observed_at.and_then(system_time)).max(), now, lang, L::NotYet)) }
                            td {
                                @if ctx.can_act {
                                    form method="post" action=(format!("/t/{}/run", t.id)) {
                                        (csrf(ctx))
                                        input type="hidden" name="check" value=(c);
                                        button aria-label=(format!("{} {c}", L::RunNow.get(lang))) { (L::RunNow.get(lang)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p { a href=(format!("/doctor?terminal={}", t.id)) { (L::Doctor.get(lang)) } }
        h2 { (L::Timeline.get(lang)) }
        @if let Some(e) = &page.error { p.error role="alert" { (e) } }
        @if page.timeline.is_empty() { p.muted { (L::NoEvents.get(lang)) } }
        ol.timeline {
            @for (at, v, text) in &page.timeline {
                li data-verdict=(verdict_hook(*v)) {
                    (when(*at, now, lang, L::Unknown)) " " (badge(*v, lang)) " " (text)
                }
            }
        }
    };
    layout(ctx, &format!("{} {}", L::Terminal.get(lang), t.id), body)
}

/// The symptom form as it was filled in (the ID never refilled).
#[derive(Debug, Default, Clone)]
pub struct DoctorForm {
    /// The chosen terminal.
    pub terminal: String,
    /// The symptom as typed (shown masked).
    pub symptom: String,
}

/// "What do you see?" up to the streamed part: the form, then (when
/// `streaming`) the progress list, cut at [`STREAM_MARK`].
pub fn doctor(
    ctx: &Ctx,
    terminals: &[(String, String)],
    form: &DoctorForm,
    streaming: bool,
    error: Option<&str>,
) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if !ctx.can_act { p.muted { (L::ReadOnly.get(lang)) } }
        form #doctor method="post" action="/doctor" {
            (csrf(ctx))
            p {
                label for="d-terminal" { (L::Terminal.get(lang)) }
                select #d-terminal name="terminal" required {
                    @for (id, name) in terminals {
                        option value=(id) selected[*id == form.terminal] { (id) " — " (name) }
                    }
                }
            }
            p {
                label for="d-symptom" { (L::WhatHappened.get(lang)) }
                textarea #d-symptom name="symptom" rows="3" maxlength="500" aria-describedby="d-symptom-hint" { (shown(&form.symptom)) }
                small #d-symptom-hint { (L::SymptomHint.get(lang)) }
            }
            p {
                label for="d-id" { (L::IdField.get(lang)) }
                input #d-id name="id" type="text" autocomplete="off" spellcheck="false" maxlength="128" aria-describedby="d-id-hint";
                small #d-id-hint { (L::IdHint.get(lang)) }
            }
            p { button disabled[!ctx.can_act] { (L::Diagnose.get(lang)) } }
        }
        @if streaming {
            section #progress-section aria-live="polite" {
                h2 { (L::Progress.get(lang)) }
                ol #progress { (PreEscaped(STREAM_MARK)) }
            }
        }
    };
    layout(ctx, L::Doctor.get(lang), body)
}

/// One progress line of a streamed run.
pub fn progress(ev: &pb::CheckEvent, lang: Lang) -> Option<Markup> {
    use pb::check_event::Event;
    Some(match ev.event.as_ref()? {
        Event::PhaseStarted(p) => {
            html! { li.started { (L::Started.get(lang)) ": " code { (p.phase) } " " (p.subject) } }
        }
        Event::Finding(f) => {
            html! { li data-verdict=(verdict_hook(f.verdict)) { (badge(f.verdict, lang)) " " (f.summary) } }
        }
        Event::PhaseFinished(_) | Event::Completed(_) => return None,
    })
}

/// What the symptom means, before the checks: how the typed text was read
/// (the matcher's note, or who to contact when no check applies), the
/// code's meanings, the ID's verdict (nothing when it says nothing).
pub fn explained(s: &pb::SymptomExplained, lang: Lang) -> Option<Markup> {
    if s.note.is_empty()
        && s.matched.is_none()
        && s.interpretations.is_empty()
        && s.id.is_none()
        && s.emv_causes.is_empty()
    {
        return None;
    }
    let symptom = s.matched.as_ref().map(|m| m.symptom.as_str()).unwrap_or("");
    Some(html! {
        li.explained data-symptom=(symptom) {
            strong { (L::Explained.get(lang)) ": " }
            @if !s.note.is_empty() { span { (s.note) } " " }
            @else if let Some(m) = &s.matched { span { (m.title) } " " }
            @if let Some(m) = &s.matched { (remedies(&m.advice, lang)) }
            @for i in s.interpretations.iter().take(3) { span { (i.meaning) } " " }
            @if let Some(id) = &s.id { span { (L::ShownAs.get(lang)) " " code { (id.display) } " — " (id.message) } }
            @for c in s.emv_causes.iter().take(3) { span { (c.cause) } " " }
        }
    })
}

/// The doctor's result.
pub fn diagnosis(d: &pb::Diagnosis, helpdesk: &str, lang: Lang) -> Markup {
    html! {
        section #diagnosis data-overall=(verdict_hook(d.overall)) aria-live="polite" {
            h2 { (L::Diagnosis.get(lang)) }
            p.summary { (badge(d.overall, lang)) " " (d.summary) }
            @if d.causes.is_empty() { p { (L::NoCause.get(lang)) } }
            @else {
                h3 { (L::Causes.get(lang)) }
                ol.causes {
                    @for c in &d.causes {
                        li.cause data-reason=(c.reason) data-rank=(c.rank) {
                            p.title { (badge(c.verdict, lang)) " " strong { (c.title) } }
                            @if !c.why.is_empty() { p.why { (c.why) } }
                            @if !c.remedies.is_empty() {
                                h4 { (L::WhatToDo.get(lang)) }
                                (remedies(&c.remedies, lang))
                                p.whoacts {
                                    (L::WhoActs.get(lang)) ": " (who_acts(&c.remedies, lang))
                                }
                            }
                            details.smallprint {
                                summary { (L::SmallPrint.get(lang)) }
                                p { code { (c.reason) } @if !c.check.is_empty() { " · " code { (c.check) } } " " (c.subject) }
                                @if !c.evidence.is_empty() {
                                    ul { @for e in &c.evidence { li { code { (e.name) } " = " (evidence_value(e)) } } }
                                }
                            }
                        }
                    }
                }
            }
            @if !d.ruled_out.is_empty() {
                h3 { (L::RuledOut.get(lang)) }
                ul.ruled-out { @for r in &d.ruled_out { li { (r) } } }
            }
            @if !d.skipped.is_empty() {
                h3 { (L::Skipped.get(lang)) }
                ul.skipped { @for r in &d.skipped { li { (r) } } }
            }
            h3 { label for="helpdesk" { (L::CopyForHelpDesk.get(lang)) } }
            textarea #helpdesk readonly rows="8" { (helpdesk) }
            p { button #copy-helpdesk type="button" hidden data-done=(L::Copied.get(lang)) { (L::Copy.get(lang)) } }
        }
    }
}

/// Everyone a cause's remedies name, in order, each once.
fn who_acts(rs: &[pb::Remedy], lang: Lang) -> String {
    let mut who: Vec<String> = Vec::new();
    for r in rs {
        let a = actor(r.actor, lang).get(lang).to_owned();
        if !who.contains(&a) {
            who.push(a);
        }
    }
    who.join(", ")
}

/// An evidence value as text.
pub fn evidence_value(e: &pb::Evidence) -> String {
    use pb::evidence::Value;
    match &e.value {
        Some(Value::Number(n)) => format!("{n} {}", e.unit).trim_end().to_owned(),
        Some(Value::Text(t)) => t.clone(),
        Some(Value::Flag(b)) => b.to_string(),
        None => String::new(),
    }
}

/// The plain text a person pastes to the help desk.
pub fn helpdesk_text(terminal: &str, symptom: &str, d: &pb::Diagnosis, lang: Lang) -> String {
    let mut s = format!(
        "posdiag · {} {terminal}\n{}: {}\n{}: {}\n",
        L::Terminal.get(lang),
        L::WhatHappened.get(lang),
        shown(symptom),
        L::Diagnosis.get(lang),
        d.summary
    );
    for c in &d.causes {
        s.push_str(&format!("{}. {} [{}", c.rank, c.title, c.reason));
        if !c.check.is_empty() {
            s.push_str(&format!(" {}", c.check));
        }
        s.push_str("]\n");
        for r in &c.remedies {
            s.push_str(&format!(
                "   - {}: {}\n",
                actor(r.actor, lang).get(lang),
                r.text
            ));
        }
    }
    if !d.ruled_out.is_empty() {
        s.push_str(&format!(
            "{}: {}\n",
            L::RuledOut.get(lang),
            d.ruled_out.join("; ")
        ));
    }
    shown(&s)
}

/// The end of a streamed doctor page: the result, or the error.
pub fn doctor_end(result: Result<Markup, String>) -> Markup {
    match result {
        Ok(m) => m,
        Err(e) => html! { p.error role="alert" { (e) } },
    }
}

/// What a tool answered.
#[derive(Debug, Default)]
pub struct ToolResults {
    /// The ID check's answer.
    pub id: Option<Result<pb::IdResult, String>>,
    /// The code explanation.
    pub code: Option<Result<pb::ExplainCodeResponse, String>>,
    /// The code as typed.
    pub code_typed: String,
    /// The terminal chosen.
    pub terminal: String,
}

/// The tools.
pub fn tools(ctx: &Ctx, terminals: &[(String, String)], r: &ToolResults) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        section {
            h2 #id-check-title { (L::CheckId.get(lang)) }
            form #id-check method="post" action="/tools/id" aria-labelledby="id-check-title" {
                (csrf(ctx))
                p {
                    label for="i-terminal" { (L::Terminal.get(lang)) }
                    select #i-terminal name="terminal" {
                        @for (id, name) in terminals { option value=(id) selected[*id == r.terminal] { (id) " — " (name) } }
                    }
                }
                p {
                    label for="i-id" { (L::Value.get(lang)) }
                    input #i-id name="id" type="text" autocomplete="off" spellcheck="false" maxlength="128" required;
                }
                p { button { (L::CheckIt.get(lang)) } }
            }
            @match &r.id {
                Some(Ok(res)) => {
                    div #id-result data-valid=(res.valid) role="status" {
                        p { strong { (if res.valid { L::Valid.get(lang) } else { L::Invalid.get(lang) }) } }
                        p { (L::ShownAs.get(lang)) " " code { (res.display) } }
                        p { (res.message) }
                        @if !res.expected.is_empty() { p { (L::Expected.get(lang)) ": " (res.expected) } }
                        @if !res.suggestion.is_empty() { p { (L::Suggestion.get(lang)) ": " code { (res.suggestion) } } }
                        @for n in &res.notes { p.muted { (n) } }
                        details.smallprint { summary { (L::SmallPrint.get(lang)) } p { code { (res.kind) } " " code { (res.reason) } } }
                    }
                }
                Some(Err(e)) => { p #id-result.error role="alert" { (e) } }
                None => {}
            }
        }
        section {
            h2 #explain-title { (L::ExplainCode.get(lang)) }
            form #explain method="post" action="/tools/code" aria-labelledby="explain-title" {
                (csrf(ctx))
                p {
                    label for="c-terminal" { (L::Terminal.get(lang)) }
                    select #c-terminal name="terminal" {
                        option value="" { "—" }
                        @for (id, name) in terminals { option value=(id) selected[*id == r.terminal] { (id) " — " (name) } }
                    }
                }
                p {
                    label for="c-code" { (L::Code.get(lang)) }
                    input #c-code name="code" type="text" maxlength="32" required value=(shown(&r.code_typed));
                }
                p { button { (L::Explain.get(lang)) } }
            }
            @match &r.code {
                Some(Ok(res)) => {
                    div #code-result role="status" {
                        @if res.interpretations.is_empty() { p { (L::NoInterpretation.get(lang)) } }
                        @for i in &res.interpretations {
                            article.interpretation data-scheme=(i.scheme) {
                                h3 { (i.meaning) }
                                @if !i.retry.is_empty() { p { (L::Retry.get(lang)) ": " (i.retry) } }
                                @if !i.causes.is_empty() { ul { @for c in &i.causes { li { (c) } } } }
                                (remedies(&i.remedies, lang))
                                details.smallprint { summary { (L::SmallPrint.get(lang)) } p { code { (i.scheme) ":" (i.code) } " " (i.source) } }
                            }
                        }
                    }
                }
                Some(Err(e)) => { p #code-result.error role="alert" { (e) } }
                None => {}
            }
        }
    };
    layout(ctx, L::Tools.get(lang), body)
}

/// The login page.
pub fn login(ctx: &Ctx, error: Option<L>) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        @if let Some(e) = error { p.error role="alert" { (e.get(lang)) } }
        form #login method="post" action="/login" {
            (csrf(ctx))
            p { label for="l-user" { (L::User.get(lang)) } input #l-user name="user" type="text" autocomplete="username"; }
            p { label for="l-password" { (L::Password.get(lang)) } input #l-password name="password" type="password" autocomplete="current-password" required; }
            p { button { (L::Login.get(lang)) } }
        }
    };
    layout(ctx, L::Login.get(lang), body)
}

/// A short page saying why a request was refused or failed.
pub fn message(ctx: &Ctx, title: L, text: &str) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        p.error role="alert" { (text) }
        p { a href="/" { (L::Back.get(lang)) } }
    };
    layout(ctx, title.get(lang), body)
}

/// Cuts a streamed page at [`STREAM_MARK`]: what goes first, what goes last.
pub fn split_stream(page: Markup) -> (String, String) {
    let s = page.into_string();
    match s.split_once(STREAM_MARK) {
        Some((a, b)) => (a.to_owned(), b.to_owned()),
        None => (s, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, status: pb::Verdict) -> Entry {
        let t = pb::Terminal {
            id: id.into(),
            name: "Checkout <1>".into(),
            status: status as i32,
            hosts: vec![pb::Host {
                name: "acquirer-a".into(),
                ..Default::default()
            }],
            latest_findings: vec![pb::Finding {
                check: "host.tcp".into(),
                verdict: status as i32,
                subject: "acquirer-a (localhost:1)".into(),
                summary: "connection refused".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        Entry {
            en: t.clone(),
            zh: t,
            ..Entry::default()
        }
    }

    #[test]
    fn rows_carry_the_hooks_and_escape_what_they_show() {
        let html = terminal_rows(
            &entry("T1", pb::Verdict::Critical),
            Lang::En,
            SystemTime::now(),
        )
        .into_string();
        assert!(
            html.contains(r#"data-terminal="T1" data-verdict="critical""#),
            "{html}"
        );
        assert!(
            html.contains(r#"data-host="acquirer-a" data-verdict="critical""#),
            "{html}"
        );
        assert!(html.contains("Checkout &lt;1&gt;"), "{html}");
        assert!(html.contains("connection refused"));
        assert!(!html.contains('\n'), "one line, for the event stream");
    }

    #[test]
    fn pages_have_no_inline_script_and_mask_what_was_typed() {
        let ctx = Ctx {
            lang: Lang::ZhCn,
            csrf: "tok",
            user: None,
            path: "/doctor",
            can_act: true,
        };
        let form = DoctorForm {
            terminal: "T1".into(),
            symptom: "card 4111111111111111 not read".into(),
        };
        let page =
            doctor(&ctx, &[("T1".into(), "收银台".into())], &form, false, None).into_string();
        assert!(page.contains(r#"<form id="doctor""#), "{page}");
        assert!(
            page.contains(r#"name="terminal""#)
                && page.contains(r#"name="symptom""#)
                && page.contains(r#"name="id""#)
        );
        assert!(page.contains("411111******1111") && !page.contains("4111111111111111"));
        assert!(page.contains(r#"<html lang="zh-CN">"#));
        assert!(page.contains("遇到了什么问题"));
        // Script only from the file, never inline.
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains(r#"<script src="/assets/console.js" defer></script>"#));
        assert!(!page.contains(" on"), "no inline event handlers");
    }

    #[test]
    fn causes_keep_their_rank_order_and_reason() {
        let d = pb::Diagnosis {
            overall: pb::Verdict::Critical as i32,
            summary: "The acquirer refuses connections.".into(),
            causes: vec![
                pb::Cause {
                    rank: 1,
                    reason: "tcp.refused".into(),
                    title: "host down".into(),
                    remedies: vec![pb::Remedy {
                        actor: pb::Actor::Acquirer as i32,
                        text: "call them".into(),
                    }],
                    ..Default::default()
                },
                pb::Cause {
                    rank: 2,
                    reason: "iso8583:91".into(),
                    title: "issuer unavailable".into(),
                    ..Default::default()
                },
            ],
            ruled_out: vec!["DNS".into()],
            skipped: vec![],
        };
        let text = helpdesk_text("T2", "91", &d, Lang::En);
        let html = diagnosis(&d, &text, Lang::En).into_string();
        let a = html.find(r#"data-reason="tcp.refused""#).unwrap();
        let b = html.find(r#"data-reason="iso8583:91""#).unwrap();
        assert!(a < b);
        assert!(html.contains("The acquirer (the bank or payment provider)"));
        assert!(text.contains("1. host down [tcp.refused]"), "{text}");
    }

    #[test]
    fn times_are_iso_utc() {
        assert_eq!(iso(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso(UNIX_EPOCH + Duration::from_secs(1_796_593_218)),
            "2026-12-06T21:40:18Z"
        );
    }
}
