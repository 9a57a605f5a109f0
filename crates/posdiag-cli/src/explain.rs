//! `posdiag explain`: what a response or error code means in every scheme
//! it exists in, the likely causes, what to do and who does it, and whether
//! a retry can help. Asks posdiagd's CodeService (which knows vendor tables
//! and each terminal's dialect), or with `--local` reads the built-in
//! knowledge base in this process.

use std::io::Write;

use clap::Args;
use posdiag_codes::{KnowledgeBase, Scheme};
use posdiag_core::{Lang, Text};
use posdiag_proto::v1;
use v1::code_service_client::CodeServiceClient;

use crate::commands::Context;

use crate::error::{CliError, UsageError};
use crate::i18n::{Label, t};
use crate::json::to_json;

/// Options of `posdiag explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The code as shown: 103, 05, 0x6C, 6Ch, A0, UnreachableHost.
    pub code: Option<String>,
    /// Only this scheme: iso8583-1987, iso8583-1993, cup, zvt-result,
    /// zvt-terminal-status, zvt-intermediate, nexo-error-condition, vendor:ID.
    #[arg(long, value_name = "SCHEME")]
    pub scheme: Option<String>,
    /// Put the scheme this configured terminal speaks (its `dialect`) first.
    #[arg(long, value_name = "TERMINAL", conflicts_with_all = ["scheme", "local"])]
    pub terminal: Option<String>,
    /// Search meanings and causes instead ("frozen", "冻结", "maintenance").
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["code", "scheme", "terminal"])]
    pub search: Option<String>,
    /// Read the built-in tables in this process; no daemon needed (no vendor
    /// tables, no terminal dialects).
    #[arg(long)]
    pub local: bool,
}

/// What was asked.
enum Answer {
    Explained(v1::ExplainCodeResponse),
    Searched(v1::SearchCodesResponse),
}

/// Runs `posdiag explain`; exit 0 when something was found, 1 when not.
pub async fn run<W: Write>(args: &ExplainArgs, ctx: &Context, w: &mut W) -> Result<u8, CliError> {
    let lang = ctx.out.lang;
    if args.code.is_none() && args.search.is_none() {
        return Err(CliError::Usage(UsageError::NothingToExplain));
    }
    let answer = if args.local {
        local(args, lang)?
    } else {
        remote(args, ctx).await?
    };
    render(&answer, args, ctx.out.json, lang, w)
}

fn local(args: &ExplainArgs, lang: Lang) -> Result<Answer, CliError> {
    let kb = KnowledgeBase::builtin();
    if let Some(text) = &args.search {
        let entries = kb
            .search(text)
            .into_iter()
            .map(|e| posdiag_api::code_entry(e, lang, ""))
            .collect();
        return Ok(Answer::Searched(v1::SearchCodesResponse { entries }));
    }
    let only = match &args.scheme {
        None => None,
        Some(name) => Some(
            name.parse::<Scheme>()
                .ok()
                .filter(|s| kb.entries(s).is_some())
                .ok_or_else(|| {
                    CliError::Usage(UsageError::Scheme {
                        given: name.clone(),
                        known: kb.schemes().iter().map(|s| s.name().to_owned()).collect(),
                    })
                })?,
        ),
    };
    let code = args.code.as_deref().unwrap_or_default();
    Ok(Answer::Explained(posdiag_api::explain(
        &kb,
        code,
        only.as_ref(),
        None,
        lang,
    )))
}

async fn remote(args: &ExplainArgs, ctx: &Context) -> Result<Answer, CliError> {
    let endpoint = ctx.endpoint.to_string();
    let mut client = CodeServiceClient::new(
        crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?,
    );
    let lang = ctx.out.lang.tag().to_owned();
    if let Some(text) = &args.search {
        let r = client
            .search_codes(v1::SearchCodesRequest {
                text: text.clone(),
                lang,
            })
            .await
            .map_err(|s| CliError::from_status(s, &endpoint))?;
        return Ok(Answer::Searched(r.into_inner()));
    }
    let req = v1::ExplainCodeRequest {
        code: args.code.clone().unwrap_or_default(),
        scheme: args.scheme.clone().unwrap_or_default(),
        terminal_id: args.terminal.clone().unwrap_or_default(),
        lang,
    };
    let r = client
        .explain_code(req)
        .await
        .map_err(|s| CliError::from_status(s, &endpoint))?;
    Ok(Answer::Explained(r.into_inner()))
}

fn render<W: Write>(
    answer: &Answer,
    args: &ExplainArgs,
    json: bool,
    lang: Lang,
    w: &mut W,
) -> Result<u8, CliError> {
    match answer {
        Answer::Searched(r) => {
            if json {
                writeln!(w, "{}", to_json(r)?)?;
            } else if r.entries.is_empty() {
                let text = args.search.as_deref().unwrap_or_default();
                writeln!(
                    w,
                    "{}",
                    Text::new(
                        format!("no code mentions {text:?}"),
                        format!("没有与 {text:?} 匹配的代码"),
                    )
                    .get(lang)
                )?;
            } else {
                for e in &r.entries {
                    writeln!(w, "{:<22} {:<6} {}", e.scheme, e.code, e.meaning)?;
                }
            }
            Ok(if r.entries.is_empty() { 1 } else { 0 })
        }
        Answer::Explained(r) => {
            if json {
                writeln!(w, "{}", to_json(r)?)?;
                return Ok(if r.interpretations.is_empty() { 1 } else { 0 });
            }
            let code = args.code.as_deref().unwrap_or_default();
            if r.interpretations.is_empty() {
                let searched = r.searched_schemes.join(", ");
                let not_known = Text::new(
                    format!("{code:?} is not a known code. Searched: {searched}"),
                    format!("未找到代码 {code:?}。已查找：{searched}"),
                );
                writeln!(w, "{}", not_known.get(lang))?;
                if !r.nearest.is_empty() {
                    writeln!(w, "{}", t(Label::NearestCodes, lang))?;
                    for e in &r.nearest {
                        writeln!(w, "  {} {}: {}", e.scheme, e.code, e.meaning)?;
                    }
                }
                return Ok(1);
            }
            let n = r.interpretations.len();
            if n > 1 {
                let several = Text::new(
                    format!("{code} has {n} interpretations, the most likely first:\n"),
                    format!("{code} 有 {n} 种解释，最可能的在前：\n"),
                );
                writeln!(w, "{}", several.get(lang))?;
            }
            for (i, e) in r.interpretations.iter().enumerate() {
                write_entry(i + 1, e, lang, w)?;
            }
            Ok(0)
        }
    }
}

fn write_entry<W: Write>(
    n: usize,
    e: &v1::CodeEntry,
    lang: Lang,
    w: &mut W,
) -> Result<(), CliError> {
    let cat = t(Label::CodeCategory, lang);
    let retry = t(Label::CodeRetry, lang);
    let causes = t(Label::CodeCauses, lang);
    let remedies = t(Label::CodeWhatToDo, lang);
    let read = t(Label::CodeReadAs, lang);
    let source = t(Label::CodeSource, lang);
    writeln!(w, "{n}. {} {} — {}", e.scheme, e.code, e.meaning)?;
    writeln!(w, "   {cat}: {}", e.category)?;
    writeln!(w, "   {retry}: {}", t(retry_label(&e.retry), lang))?;
    if !e.causes.is_empty() {
        writeln!(w, "   {causes}: {}", e.causes.join("; "))?;
    }
    if !e.remedies.is_empty() {
        writeln!(w, "   {remedies}:")?;
        for (i, r) in e.remedies.iter().enumerate() {
            writeln!(
                w,
                "     {}. [{}] {}",
                i + 1,
                actor_label(r.actor, lang),
                r.text
            )?;
        }
    }
    if !e.read_as.is_empty() {
        writeln!(w, "   {read}: {}", e.read_as)?;
    }
    writeln!(w, "   {source}: {}\n", e.source)?;
    Ok(())
}

/// An actor's name in `lang` (`?` when unset).
pub(crate) fn actor_label(actor: i32, lang: Lang) -> &'static str {
    use posdiag_core::Actor;
    let a = match v1::Actor::try_from(actor) {
        Ok(v1::Actor::Merchant) => Actor::Merchant,
        Ok(v1::Actor::Cardholder) => Actor::Cardholder,
        Ok(v1::Actor::Acquirer) => Actor::Acquirer,
        Ok(v1::Actor::Issuer) => Actor::Issuer,
        Ok(v1::Actor::Vendor) => Actor::Vendor,
        _ => return "?",
    };
    a.label(lang)
}

/// What the table's `retry` column (`yes`, `no`, `later`) means.
fn retry_label(r: &str) -> Label {
    match r {
        "yes" => Label::RetryYes,
        "no" => Label::RetryNo,
        "later" => Label::RetryLater,
        _ => Label::RetryUnknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(args: ExplainArgs, lang: Lang) -> (u8, String) {
        let answer = local(&args, lang).unwrap();
        let mut buf = Vec::new();
        let code = render(&answer, &args, false, lang, &mut buf).unwrap();
        (code, String::from_utf8(buf).unwrap())
    }

    fn code(c: &str) -> ExplainArgs {
        ExplainArgs {
            code: Some(c.into()),
            scheme: None,
            terminal: None,
            search: None,
            local: true,
        }
    }

    #[test]
    fn an_ambiguous_code_lists_every_interpretation() {
        let (exit, text) = explain(code("103"), Lang::En);
        assert_eq!(exit, 0);
        assert!(text.starts_with("103 has 3 interpretations"), "{text}");
        let first = text.find("iso8583-1993 103").unwrap();
        let zvt = text.find("zvt-result 67").unwrap();
        assert!(first < zvt, "{text}");
        assert!(
            text.contains("read as: decimal number read as a one-byte hex code"),
            "{text}"
        );
    }

    #[test]
    fn chinese_output_and_hex_input() {
        let (exit, text) = explain(
            ExplainArgs {
                scheme: Some("zvt-result".into()),
                ..code("0x6C")
            },
            Lang::ZhCn,
        );
        assert_eq!(exit, 0);
        assert!(
            text.contains("中止") && text.contains("处理步骤") && text.contains("[持卡人]"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_code_says_where_it_looked_and_what_is_near() {
        let (exit, text) = explain(
            ExplainArgs {
                scheme: Some("cup".into()),
                ..code("ZZ")
            },
            Lang::En,
        );
        assert_eq!(exit, 1);
        assert!(
            text.starts_with("\"ZZ\" is not a known code. Searched: cup"),
            "{text}"
        );
    }

    #[test]
    fn search_finds_entries_in_both_languages() {
        let search = |t: &str| ExplainArgs {
            code: None,
            scheme: None,
            terminal: None,
            search: Some(t.into()),
            local: true,
        };
        assert_eq!(explain(search("maintenance"), Lang::En).0, 0);
        assert_eq!(explain(search("冻结"), Lang::ZhCn).0, 0);
        assert_eq!(explain(search("zzzz-nothing"), Lang::En).0, 1);
    }

    #[test]
    fn an_unknown_scheme_is_a_usage_error_naming_the_known_ones() {
        let err = local(
            &ExplainArgs {
                scheme: Some("visa".into()),
                ..code("05")
            },
            Lang::En,
        )
        .err()
        .unwrap();
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }

    #[test]
    fn json_is_the_proto3_mapping_of_the_answer() {
        let args = code("51");
        let answer = local(&args, Lang::En).unwrap();
        let mut buf = Vec::new();
        render(&answer, &args, true, Lang::En, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let list = v["interpretations"].as_array().unwrap();
        assert!(
            list.iter()
                .any(|e| e["scheme"] == "iso8583-1987" && e["code"] == "51"),
            "{v}"
        );
    }
}
