//! `posdiag plugins`: the vendor plugins the daemon found — loaded ones with
//! their state, crash count and last error, refused ones with the reason.

use std::io::Write;

use posdiag_core::Lang;
use posdiag_proto::v1;
use posdiag_proto::v1::plugin_service_client::PluginServiceClient;

use crate::commands::Context;

use crate::error::CliError;
use crate::i18n::{Label, t};
use crate::json::to_json;
use crate::output::{Cell, Table, sanitize};

/// Runs `posdiag plugins`: exit 0, or 1 when a plugin is quarantined,
/// failed or refused (so a monitoring check notices).
pub async fn run(ctx: &Context) -> Result<u8, CliError> {
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let resp = PluginServiceClient::new(channel)
        .list_plugins(v1::ListPluginsRequest {
            lang: ctx.out.lang.tag().to_owned(),
        })
        .await
        .map_err(|s| CliError::from_status(s, &ctx.endpoint.to_string()))?
        .into_inner();
    let mut stdout = crate::term::stdout();
    if ctx.out.json {
        writeln!(stdout, "{}", to_json(&resp)?)?;
    } else {
        stdout.write_all(plugins_report(&resp, ctx.out.lang, ctx.out.color).as_bytes())?;
    }
    stdout.flush()?;
    let troubled = resp.plugins.iter().any(|p| {
        matches!(
            v1::PluginState::try_from(p.state).unwrap_or(v1::PluginState::Unspecified),
            v1::PluginState::Quarantined | v1::PluginState::Failed | v1::PluginState::Refused
        )
    });
    Ok(u8::from(troubled))
}

/// A plugin state as a word people read.
pub fn state_label(state: i32, lang: Lang) -> &'static str {
    use v1::PluginState as S;
    let label = match S::try_from(state).unwrap_or(S::Unspecified) {
        S::Starting => Label::PluginStarting,
        S::Ready => Label::PluginReady,
        S::Restarting => Label::PluginRestarting,
        S::Quarantined => Label::PluginQuarantined,
        S::Failed => Label::PluginFailed,
        S::Refused => Label::PluginRefused,
        S::Unspecified => Label::PluginStarting,
    };
    t(label, lang)
}

/// The plugins table, then one line per problem.
pub fn plugins_report(resp: &v1::ListPluginsResponse, lang: Lang, color: bool) -> String {
    let mut out = String::new();
    if resp.plugins.is_empty() {
        out.push_str(t(Label::NoPlugins, lang));
        if !resp.directory.is_empty() {
            out.push_str(&format!(" ({})", sanitize(&resp.directory)));
        }
        out.push('\n');
        return out;
    }
    let mut table = Table::new(
        [
            Label::Id,
            Label::Version,
            Label::Status,
            Label::Crashes,
            Label::Checks,
            Label::Terminals,
        ]
        .map(|l| t(l, lang)),
    );
    for p in &resp.plugins {
        let version = if p.library_version.is_empty() || p.library_version == p.version {
            p.version.clone()
        } else {
            format!("{} (lib {})", p.version, p.library_version)
        };
        let checks: Vec<&str> = p.checks.iter().map(|c| c.id.as_str()).collect();
        table.push(vec![
            Cell::new(if p.id.is_empty() { "-" } else { &p.id }),
            Cell::new(sanitize(&version)),
            Cell::new(state_label(p.state, lang)),
            Cell::new(p.crash_count.to_string()),
            Cell::new(if checks.is_empty() {
                "-".to_owned()
            } else {
                sanitize(&checks.join(","))
            }),
            Cell::new(if p.terminal_ids.is_empty() {
                "-".to_owned()
            } else {
                sanitize(&p.terminal_ids.join(","))
            }),
        ]);
    }
    out.push_str(&table.render(color));
    for p in resp.plugins.iter().filter(|p| !p.last_error.is_empty()) {
        let who = if p.id.is_empty() { &p.path } else { &p.id };
        out.push_str(&format!(
            "{} {}: {}\n",
            sanitize(who),
            state_label(p.state, lang),
            sanitize(&p.last_error)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_shows_state_crashes_and_why_a_bundle_was_refused() {
        let resp = v1::ListPluginsResponse {
            plugins: vec![
                v1::Plugin {
                    id: "acme.zvt".into(),
                    version: "1.2.0".into(),
                    library_version: "1.2.1".into(),
                    state: v1::PluginState::Quarantined as i32,
                    crash_count: 5,
                    last_error: "host killed by signal 11 (SIGSEGV)".into(),
                    checks: vec![v1::PluginCheck {
                        id: "terminal.status".into(),
                        ..Default::default()
                    }],
                    terminal_ids: vec!["T1".into()],
                    ..Default::default()
                },
                v1::Plugin {
                    path: "/usr/lib/posdiag/plugins/evil".into(),
                    state: v1::PluginState::Refused as i32,
                    last_error: "libevil.so is writable by its group or by others".into(),
                    ..Default::default()
                },
            ],
            directory: "/usr/lib/posdiag/plugins".into(),
        };
        let text = plugins_report(&resp, Lang::En, false);
        assert!(text.contains("1.2.0 (lib 1.2.1)"), "{text}");
        assert!(text.contains("quarantined"), "{text}");
        assert!(
            text.contains("acme.zvt quarantined: host killed by signal 11"),
            "{text}"
        );
        assert!(
            text.contains("/usr/lib/posdiag/plugins/evil refused: libevil.so is writable"),
            "{text}"
        );
        let zh = plugins_report(&resp, Lang::ZhCn, false);
        assert!(zh.contains("已隔离"), "{zh}");
    }
}
