//! `posdiag audit`: who did what — the daemon's audit trail (every call at
//! the diagnose or admin tier and every refused call), newest first, from
//! HistoryService's API call events, which the daemon serves only to the
//! admin tier.

use std::io::Write;

use jiff::Timestamp;
use posdiag_proto::v1;
use posdiag_proto::v1::history_service_client::HistoryServiceClient;

use crate::cli::AuditArgs;
use crate::commands::Context;
use crate::error::CliError;
use crate::history::{caller_text, take_pages};
use crate::i18n::{Label, t};
use crate::json::to_json;
use crate::output::{Cell, Table, sanitize};
use crate::render::format_duration;
use crate::when::{local_cell, local_zone, to_proto};

/// Rows shown when `--limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;

/// `posdiag audit`.
pub async fn run(args: AuditArgs, ctx: &Context) -> Result<u8, CliError> {
    let tz = local_zone();
    let now = Timestamp::now();
    let (since, until) =
        crate::history::bounds(args.since.as_deref(), args.until.as_deref(), now, &tz)?;
    let filter = v1::HistoryFilter {
        since: since.map(to_proto),
        until: until.map(to_proto),
        ..v1::HistoryFilter::default()
    };
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let mut client = HistoryServiceClient::new(channel);
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT) as usize;
    let lang = ctx.out.lang.tag().to_owned();
    let wanted = |ev: &v1::HistoryEvent| {
        let Some(v1::history_event::Event::ApiCall(a)) = &ev.event else {
            return false;
        };
        let principal = a
            .caller
            .as_ref()
            .map(|c| c.principal.as_str())
            .unwrap_or("");
        (args.principal.is_empty() || args.principal.iter().any(|p| p == principal))
            && (!args.denied || a.decision != "allowed")
    };
    let (rows, more) = take_pages(limit, async |page_size, page_token| {
        let req = v1::ListEventsRequest {
            filter: Some(filter.clone()),
            kinds: vec![v1::EventKind::ApiCall as i32],
            page_size: if args.principal.is_empty() && !args.denied {
                page_size
            } else {
                crate::history::MAX_PAGE
            },
            page_token,
            lang: lang.clone(),
        };
        let r = client.list_events(req).await?.into_inner();
        Ok((
            r.events.into_iter().filter(|e| wanted(e)).collect(),
            r.next_page_token,
        ))
    })
    .await
    .map_err(|s| ctx.status(s))?;
    let mut stdout = crate::term::stdout();
    if ctx.out.json {
        let resp = v1::ListEventsResponse {
            events: rows,
            next_page_token: String::new(),
        };
        writeln!(stdout, "{}", to_json(&resp)?)?;
    } else if rows.is_empty() {
        writeln!(stdout, "{}", t(Label::NoAuditRows, ctx.out.lang))?;
    } else {
        let mut table = Table::new(
            [
                Label::Time,
                Label::Principal,
                Label::Method,
                Label::Target,
                Label::Decision,
                Label::StatusCode,
                Label::Took,
            ]
            .map(|l| t(l, ctx.out.lang)),
        );
        for ev in &rows {
            let Some(v1::history_event::Event::ApiCall(a)) = &ev.event else {
                continue;
            };
            let mut who = caller_text(a.caller.as_ref());
            if let Some(c) = &a.caller
                && !c.authn.is_empty()
            {
                who.push_str(&format!(" ({})", sanitize(&c.authn)));
            }
            let method = a.method.rsplit('/').next().unwrap_or(&a.method);
            let (decision, style) = match a.decision.as_str() {
                "allowed" => (t(Label::DecisionAllowed, ctx.out.lang).to_owned(), ""),
                "denied" => (t(Label::DecisionDenied, ctx.out.lang).to_owned(), "31"),
                "would-deny" => (t(Label::DecisionWouldDeny, ctx.out.lang).to_owned(), "33"),
                "limited" => (t(Label::DecisionLimited, ctx.out.lang).to_owned(), "33"),
                other => (sanitize(other), ""),
            };
            table.push(vec![
                Cell::new(local_cell(ev.at.as_ref(), &tz)),
                Cell::new(who),
                Cell::new(if method.is_empty() {
                    t(Label::TlsHandshake, ctx.out.lang).to_owned()
                } else {
                    sanitize(method)
                }),
                Cell::new(if a.target.is_empty() {
                    "-".to_owned()
                } else {
                    sanitize(&a.target)
                }),
                Cell::styled(decision, style),
                Cell::new(format!("{:?}", tonic::Code::from_i32(a.code))),
                Cell::new(format_duration(a.duration.as_ref()).unwrap_or_else(|| "-".into())),
            ]);
        }
        stdout.write_all(table.render(ctx.out.color).as_bytes())?;
    }
    if more && !ctx.out.json {
        crate::errln!("{}", t(Label::MoreAudit, ctx.out.lang));
    }
    stdout.flush()?;
    Ok(0)
}
