//! `posdiag symptom TEXT`: what a symptom in people's own words ("收不了款",
//! "POS机提示05", "card declnied") is, ranked — each match with its id (what
//! `posdiag doctor --symptom` takes), score, title, the checks the doctor
//! would run, or who to contact where no check applies. Asks posdiagd's
//! SymptomService (vendor code tables, a terminal's dialect), or with
//! `--local` matches in this process. Exit 0 with a match, 1 without.

use std::io::Write;

use clap::Args;
use posdiag_codes::KnowledgeBase;
use posdiag_core::Lang;
use posdiag_proto::v1;
use v1::symptom_service_client::SymptomServiceClient;

use crate::commands::Context;
use crate::error::CliError;
use crate::i18n::{Label, t};
use crate::output::sanitize;

/// Options of `posdiag symptom`.
#[derive(Debug, Clone, Args)]
pub struct SymptomArgs {
    /// What the person saw, in their own words (quotes optional): 收不了款,
    /// "POS机提示05", "card declined", "error code 0x64".
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    pub text: Vec<String>,
    /// Explain codes in this configured terminal's dialect first.
    #[arg(long, value_name = "TERMINAL", conflicts_with = "local")]
    pub terminal: Option<String>,
    /// Match in this process with the built-in tables; no daemon needed.
    #[arg(long)]
    pub local: bool,
}

/// Runs `posdiag symptom`; exit 0 when something matched, 1 when not.
pub async fn run<W: Write>(args: &SymptomArgs, ctx: &Context, w: &mut W) -> Result<u8, CliError> {
    let text = args.text.join(" ");
    let lang = ctx.out.lang;
    let answer = if args.local {
        posdiag_api::symptoms::match_response(&text, &KnowledgeBase::builtin(), None, lang)
    } else {
        let mut client = SymptomServiceClient::new(
            crate::endpoint::connect_with(&ctx.endpoint, lang, &ctx.creds).await?,
        );
        client
            .match_symptom(v1::MatchSymptomRequest {
                text,
                terminal_id: args.terminal.clone().unwrap_or_default(),
                lang: lang.tag().to_owned(),
            })
            .await
            .map_err(|s| ctx.status(s))?
            .into_inner()
    };
    render(&answer, ctx.out.json, lang, w)
}

fn render<W: Write>(
    r: &v1::MatchSymptomResponse,
    json: bool,
    lang: Lang,
    w: &mut W,
) -> Result<u8, CliError> {
    let exit = if r.matches.is_empty() { 1 } else { 0 };
    if json {
        // Every field, so "no match" is an empty list, not a missing one.
        writeln!(w, "{}", crate::json::to_json_with_defaults(r)?)?;
        return Ok(exit);
    }
    if r.matches.is_empty() {
        writeln!(w, "{}", sanitize(&r.note))?;
        return Ok(exit);
    }
    for (i, m) in r.matches.iter().enumerate() {
        writeln!(
            w,
            "{}. {}  {:.2}  {}",
            i + 1,
            sanitize(&m.symptom),
            m.score,
            sanitize(&m.title)
        )?;
        if !m.checks.is_empty() {
            writeln!(
                w,
                "   {}: {}",
                t(Label::Checks, lang).to_lowercase(),
                sanitize(&m.checks.join(", "))
            )?;
        }
        for (j, a) in m.advice.iter().enumerate() {
            let who = crate::render::actor_label(a.actor, lang).unwrap_or("-");
            writeln!(w, "   {}) [{who}] {}", j + 1, sanitize(&a.text))?;
        }
        writeln!(
            w,
            "   {}: {}",
            t(Label::SymptomMatched, lang),
            sanitize(&m.matched)
        )?;
    }
    if let Some(best) = r.matches.first().filter(|m| !m.checks.is_empty()) {
        writeln!(
            w,
            "\n{} {}",
            t(Label::SymptomNext, lang),
            sanitize(&best.symptom)
        )?;
    }
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str, lang: Lang, json: bool) -> (u8, String) {
        let r = posdiag_api::symptoms::match_response(text, &KnowledgeBase::builtin(), None, lang);
        let mut buf = Vec::new();
        let code = render(&r, json, lang, &mut buf).unwrap();
        (code, String::from_utf8(buf).unwrap())
    }

    #[test]
    fn ranked_matches_with_checks_and_the_doctor_command() {
        let (exit, text) = local("POS机收不了款", Lang::ZhCn, false);
        assert_eq!(exit, 0);
        assert!(text.starts_with("1. payments-failing  "), "{text}");
        assert!(text.contains("terminal.link"), "{text}");
        assert!(
            text.contains("posdiag doctor 终端 --symptom payments-failing"),
            "{text}"
        );
    }

    #[test]
    fn advice_names_who_to_contact() {
        let (exit, text) = local("where is my money", Lang::En, false);
        assert_eq!(exit, 0);
        assert!(text.contains("[acquirer]"), "{text}");
        assert!(!text.contains("posdiag doctor"), "{text}");
    }

    #[test]
    fn no_match_is_an_empty_list_and_exit_1() {
        let (exit, text) = local("今天天气不错", Lang::En, true);
        assert_eq!(exit, 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["matches"], serde_json::json!([]));
        let (exit, text) = local("今天天气不错", Lang::ZhCn, false);
        assert_eq!(exit, 1);
        assert!(text.contains("全面检查"), "{text}");
    }

    #[test]
    fn json_fields_per_match() {
        let (_, text) = local("error code 0x64", Lang::En, true);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let m = &v["matches"][0];
        assert_eq!(m["symptom"], "code:0x64");
        assert!(m["score"].as_f64().unwrap() > 0.5);
        assert!(m["title"].as_str().unwrap().starts_with("code 0x64 shown"));
        assert!(m["checks"].as_array().unwrap().len() > 1);
        assert_eq!(m["advice"], serde_json::json!([]));
    }
}
