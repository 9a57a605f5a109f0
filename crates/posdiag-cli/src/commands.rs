//! One function per subcommand: build the request, call the daemon, render
//! the answer, return the exit code. Presentation lives in
//! [`crate::render`]; errors are [`CliError`]s mapped in one place.

use std::io::Write;

use posdiag_proto::v1;
use posdiag_proto::v1::check_service_client::CheckServiceClient;
use posdiag_proto::v1::terminal_service_client::TerminalServiceClient;
use tokio_stream::StreamExt;

use crate::cli::{CheckArgs, Command, ProbeCommand, ProbeHostArgs, WatchArgs};
use crate::endpoint::{Daemon, Endpoint};
use crate::error::CliError;
use crate::json::to_json;
use crate::output::Output;
use crate::render::{print_terminals, render_check_stream_to, watch_line};

/// Everything a command needs besides its own arguments.
#[derive(Debug, Clone)]
pub struct Context {
    /// Where the daemon listens.
    pub endpoint: Endpoint,
    /// How to present results.
    pub out: Output,
    /// TLS files and the bearer token.
    pub creds: crate::tls::Credentials,
}

impl Context {
    pub(crate) fn status(&self, status: tonic::Status) -> CliError {
        CliError::from_status(status, &self.endpoint.to_string())
    }
}

/// Runs every subcommand except `demo`; returns the exit code.
pub async fn dispatch(command: Command, ctx: &Context) -> Result<u8, CliError> {
    match command {
        Command::Terminals => terminals(ctx).await,
        Command::Reload => reload(ctx).await,
        Command::Check(args) => check(args, ctx).await,
        Command::History(args) => crate::history::run(args, ctx).await,
        Command::Audit(args) => crate::audit::run(args, ctx).await,
        Command::Availability(args) => crate::availability::run(args, ctx).await,
        Command::Watch(args) => watch(args, ctx).await,
        Command::Probe(ProbeCommand::Host(args)) => probe_host(args, ctx).await,
        Command::Probe(other) => probe_link(other, ctx).await,
        Command::Id(cmd) => crate::id::run(cmd, ctx).await,
        Command::Explain(args) => crate::explain::run(&args, ctx, &mut crate::term::stdout()).await,
        Command::Symptom(args) => crate::symptom::run(&args, ctx, &mut crate::term::stdout()).await,
        Command::Bundle(args) => crate::bundle::run(&args, ctx).await,
        Command::Emv(cmd) => crate::emv::run(&cmd, ctx, &mut crate::term::stdout()).await,
        Command::Ports(args) => crate::ports::run(args, ctx).await,
        Command::Plugins => crate::plugins::run(ctx).await,
        Command::Doctor(args) => crate::doctor::run(args, ctx).await,
        Command::Plugin(_) => Err(CliError::Internal(
            "plugin verify is dispatched by crate::run, not by commands::dispatch".into(),
        )),
        Command::Demo(_) => Err(CliError::Internal(
            "the demo is dispatched by crate::run, not by commands::dispatch".into(),
        )),
    }
}

/// The configured terminals and the daemon's own state, with the daemon's
/// summaries in `lang`.
pub async fn list_terminals(
    channel: Daemon,
    out: &Output,
    endpoint: &str,
) -> Result<v1::ListTerminalsResponse, CliError> {
    let req = v1::ListTerminalsRequest {
        lang: out.lang.tag().to_owned(),
    };
    TerminalServiceClient::new(channel)
        .list_terminals(req)
        .await
        .map(|r| r.into_inner())
        .map_err(|s| CliError::from_status(s, endpoint))
}

/// `posdiag terminals`.
pub async fn terminals(ctx: &Context) -> Result<u8, CliError> {
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let resp = list_terminals(channel, &ctx.out, &ctx.endpoint.to_string()).await?;
    let tz = crate::when::local_zone();
    print_terminals(resp, &ctx.out, &tz, &mut crate::term::stdout())?;
    Ok(0)
}

/// `posdiag reload`: the outcome of a reload asked for over the API.
pub async fn reload(ctx: &Context) -> Result<u8, CliError> {
    use std::io::Write as _;
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let r = v1::admin_service_client::AdminServiceClient::new(channel)
        .reload(v1::ReloadRequest {
            lang: ctx.out.lang.tag().to_owned(),
        })
        .await
        .map_err(|s| ctx.status(s))?
        .into_inner();
    let mut out = crate::term::stdout();
    if ctx.out.json {
        writeln!(out, "{}", crate::json::to_json(&r)?)?;
    } else {
        let word = if r.applied {
            crate::i18n::Label::ReloadApplied
        } else {
            crate::i18n::Label::ReloadRefused
        };
        writeln!(
            out,
            "{}: {}",
            crate::i18n::t(word, ctx.out.lang),
            crate::output::sanitize(&r.detail)
        )?;
    }
    out.flush()?;
    Ok(if r.applied { 0 } else { 1 })
}

/// `posdiag check`: exit code of the worst verdict.
pub async fn check(args: CheckArgs, ctx: &Context) -> Result<u8, CliError> {
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let req = v1::RunCheckRequest {
        terminal_id: args.terminal,
        checks: args.checks,
        lang: ctx.out.lang.tag().to_owned(),
    };
    let call = CheckServiceClient::new(channel).run_check(req).await;
    render_call(call, ctx).await
}

/// `posdiag probe host`: validated locally, then the same as `check`.
pub async fn probe_host(args: ProbeHostArgs, ctx: &Context) -> Result<u8, CliError> {
    let req = crate::probe::probe_request(&args, ctx.out.lang)?;
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let call = CheckServiceClient::new(channel).probe(req).await;
    render_call(call, ctx).await
}

/// `posdiag probe zvt|nexo|iso8583`: a ProbeLink through the protocol's plugin.
pub async fn probe_link(cmd: ProbeCommand, ctx: &Context) -> Result<u8, CliError> {
    let req = crate::probe::probe_link_request(cmd, ctx.out.lang)?;
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let call = CheckServiceClient::new(channel).probe_link(req).await;
    render_call(call, ctx).await
}

/// Renders a RunCheck or Probe stream to the terminal; the exit code of the
/// worst verdict.
async fn render_call(
    call: Result<tonic::Response<tonic::Streaming<v1::CheckEvent>>, tonic::Status>,
    ctx: &Context,
) -> Result<u8, CliError> {
    let stream = call.map_err(|s| ctx.status(s))?.into_inner();
    let verdict = render_check_stream_to(
        stream,
        &ctx.out,
        &ctx.endpoint.to_string(),
        &mut crate::term::stdout(),
        &mut crate::term::stderr(),
    )
    .await?;
    Ok(verdict.exit_code())
}

/// `posdiag watch`: one line (or JSON object) per event until Ctrl-C, which
/// exits 0. The daemon closing the stream is an error.
pub async fn watch(args: WatchArgs, ctx: &Context) -> Result<u8, CliError> {
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let req = v1::WatchTerminalsRequest {
        ids: args.terminals,
        lang: ctx.out.lang.tag().to_owned(),
    };
    let mut stream = TerminalServiceClient::new(channel)
        .watch_terminals(req)
        .await
        .map_err(|s| ctx.status(s))?
        .into_inner();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut stdout = crate::term::stdout();
    loop {
        // `biased`: Ctrl-C is polled first, so its handler is installed before
        // the first event is printed.
        tokio::select! {
            biased;
            res = &mut ctrl_c => {
                res?;
                return Ok(0);
            }
            ev = stream.next() => match ev {
                None => return Err(CliError::WatchEnded),
                Some(Err(status)) => return Err(ctx.status(status)),
                Some(Ok(ev)) => {
                    if ctx.out.json {
                        writeln!(stdout, "{}", to_json(&ev)?)?;
                    } else {
                        writeln!(stdout, "{}", watch_line(&ev, &ctx.out))?;
                    }
                    stdout.flush()?;
                }
            },
        }
    }
}
