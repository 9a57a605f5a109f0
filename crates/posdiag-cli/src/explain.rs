//! `posdiag explain`: what a response or error code means in every scheme
//! it exists in, the likely causes, what to do and who does it, and whether
//! a retry can help. Reads the knowledge base (`posdiag-codes`) in process.

use std::io::Write;

use clap::Args;
use posdiag_codes::{Entry, KnowledgeBase, Retry, Scheme};
use posdiag_core::Lang;

use crate::error::{CliError, UsageError};
use crate::output::Output;

/// Options of `posdiag explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The code as shown: 103, 05, 0x6C, 6Ch, A0, UnreachableHost.
    pub code: Option<String>,
    /// Only this scheme: iso8583-1987, iso8583-1993, cup, zvt-result,
    /// zvt-terminal-status, zvt-intermediate, nexo-error-condition, ...
    #[arg(long, value_name = "SCHEME")]
    pub scheme: Option<String>,
    /// List the scheme first (the dialect the terminal speaks), keep the others.
    #[arg(long, value_name = "SCHEME", conflicts_with = "scheme")]
    pub prefer: Option<String>,
    /// Search meanings and causes instead ("frozen", "冻结", "maintenance").
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["code", "scheme", "prefer"])]
    pub search: Option<String>,
}

fn scheme(kb: &KnowledgeBase, name: &str) -> Result<Scheme, CliError> {
    name.parse::<Scheme>()
        .ok()
        .filter(|s| kb.entries(s).is_some())
        .ok_or_else(|| {
            CliError::Usage(UsageError::Scheme {
                given: name.to_owned(),
                known: kb.schemes().iter().map(|s| s.name().to_owned()).collect(),
            })
        })
}

/// Runs `posdiag explain`; exit 0 when something was found, 1 when not.
pub fn run<W: Write>(args: &ExplainArgs, out: &Output, w: &mut W) -> Result<u8, CliError> {
    let kb = KnowledgeBase::builtin();
    let lang = out.lang;
    let zh = lang == Lang::ZhCn;
    if let Some(text) = &args.search {
        let found = kb.search(text);
        if out.json {
            writeln!(
                w,
                "{}",
                serde_json::Value::Array(found.iter().map(|e| json(e, lang)).collect())
            )?;
        } else if found.is_empty() {
            writeln!(
                w,
                "{}",
                if zh {
                    format!("没有与 {text:?} 匹配的代码")
                } else {
                    format!("no code mentions {text:?}")
                }
            )?;
        } else {
            for e in &found {
                writeln!(
                    w,
                    "{:<22} {:<6} {}",
                    e.scheme.name(),
                    e.code,
                    e.meaning.get(lang)
                )?;
            }
        }
        return Ok(if found.is_empty() { 1 } else { 0 });
    }
    let Some(code) = &args.code else {
        return Err(CliError::Usage(UsageError::NothingToExplain));
    };
    let only = args.scheme.as_deref().map(|s| scheme(&kb, s)).transpose()?;
    let prefer = args.prefer.as_deref().map(|s| scheme(&kb, s)).transpose()?;
    let found = kb.explain_detailed(code, only.as_ref(), prefer.as_ref());
    if out.json {
        let items: Vec<serde_json::Value> = found
            .iter()
            .map(|i| {
                let mut v = json(i.entry, lang);
                v["readAs"] = serde_json::Value::String(i.form.note().to_owned());
                v
            })
            .collect();
        writeln!(w, "{}", serde_json::Value::Array(items))?;
        return Ok(if found.is_empty() { 1 } else { 0 });
    }
    if found.is_empty() {
        let searched: Vec<&str> = match &only {
            Some(s) => vec![s.name()],
            None => kb.schemes().iter().map(|s| s.name()).collect(),
        };
        if zh {
            writeln!(w, "未找到代码 {code:?}。已查找：{}", searched.join(", "))?;
        } else {
            writeln!(
                w,
                "{code:?} is not a known code. Searched: {}",
                searched.join(", ")
            )?;
        }
        let near = kb.nearest(code, only.as_ref(), 5);
        if !near.is_empty() {
            writeln!(
                w,
                "{}",
                if zh {
                    "相近的代码："
                } else {
                    "Nearest known codes:"
                }
            )?;
            for e in near {
                writeln!(
                    w,
                    "  {} {}: {}",
                    e.scheme.name(),
                    e.code,
                    e.meaning.get(lang)
                )?;
            }
        }
        return Ok(1);
    }
    if found.len() > 1 {
        let n = found.len();
        if zh {
            writeln!(w, "{code} 有 {n} 种解释，最可能的在前：\n")?;
        } else {
            writeln!(
                w,
                "{code} has {n} interpretations, the most likely first:\n"
            )?;
        }
    }
    for (i, interp) in found.iter().enumerate() {
        let e = interp.entry;
        writeln!(
            w,
            "{}. {} {} — {}",
            i + 1,
            e.scheme.name(),
            e.code,
            e.meaning.get(lang)
        )?;
        let (cat, retry, causes, remedies, read) = if zh {
            ("类别", "重试", "可能原因", "处理步骤", "读法")
        } else {
            (
                "category",
                "retry",
                "likely causes",
                "what to do",
                "read as",
            )
        };
        writeln!(w, "   {cat}: {}", e.category.as_str())?;
        writeln!(w, "   {retry}: {}", retry_text(e.retry, zh))?;
        if !e.causes.is_empty() {
            let list: Vec<&str> = e.causes.iter().map(|c| c.get(lang)).collect();
            writeln!(w, "   {causes}: {}", list.join("; "))?;
        }
        if !e.remedies.is_empty() {
            writeln!(w, "   {remedies}:")?;
            for (n, r) in e.remedies.iter().enumerate() {
                writeln!(
                    w,
                    "     {}. [{}] {}",
                    n + 1,
                    r.actor.label(lang),
                    r.text.get(lang)
                )?;
            }
        }
        if interp.form != posdiag_codes::Form::AsTyped {
            writeln!(w, "   {read}: {}", interp.form.note())?;
        }
        writeln!(w, "   source: {}", e.source)?;
        writeln!(w)?;
    }
    Ok(0)
}

fn retry_text(r: Retry, zh: bool) -> &'static str {
    match (r, zh) {
        (Retry::Yes, false) => "a retry can help",
        (Retry::Yes, true) => "重试可能有效",
        (Retry::No, false) => "retrying will not help",
        (Retry::No, true) => "重试无效",
        (Retry::Later, false) => "retry later",
        (Retry::Later, true) => "稍后重试",
    }
}

fn json(e: &Entry, lang: Lang) -> serde_json::Value {
    serde_json::json!({
        "scheme": e.scheme.name(),
        "code": e.code,
        "meaning": e.meaning.get(lang),
        "category": e.category.as_str(),
        "retry": e.retry.as_str(),
        "causes": e.causes.iter().map(|c| c.get(lang)).collect::<Vec<_>>(),
        "remedies": e.remedies.iter().map(|r| serde_json::json!({
            "actor": posdiag_codes::actor_name(r.actor),
            "text": r.text.get(lang),
        })).collect::<Vec<_>>(),
        "source": e.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(args: ExplainArgs, lang: Lang) -> (u8, String) {
        let mut out = Output::plain(lang);
        out.color = false;
        let mut buf = Vec::new();
        let code = run(&args, &out, &mut buf).unwrap();
        (code, String::from_utf8(buf).unwrap())
    }

    fn code(c: &str) -> ExplainArgs {
        ExplainArgs {
            code: Some(c.into()),
            scheme: None,
            prefer: None,
            search: None,
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
            text.contains("[acquirer]") || text.contains("[merchant]"),
            "{text}"
        );
    }

    #[test]
    fn the_preferred_dialect_comes_first() {
        let args = ExplainArgs {
            prefer: Some("zvt-result".into()),
            ..code("103")
        };
        let (_, text) = explain(args, Lang::En);
        assert!(
            text.find("zvt-result 67").unwrap() < text.find("iso8583-1993 103").unwrap(),
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
        assert!(text.contains("中止"), "{text}");
        assert!(text.contains("处理步骤"), "{text}");
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
            prefer: None,
            search: Some(t.into()),
        };
        assert_eq!(explain(search("maintenance"), Lang::En).0, 0);
        assert_eq!(explain(search("冻结"), Lang::ZhCn).0, 0);
    }

    #[test]
    fn an_unknown_scheme_is_a_usage_error_naming_the_known_ones() {
        let mut buf = Vec::new();
        let err = run(
            &ExplainArgs {
                scheme: Some("visa".into()),
                ..code("05")
            },
            &Output::plain(Lang::En),
            &mut buf,
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }

    #[test]
    fn json_is_an_array_of_interpretations() {
        let mut out = Output::plain(Lang::En);
        out.json = true;
        let mut buf = Vec::new();
        run(&code("51"), &out, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert!(
            v.as_array()
                .unwrap()
                .iter()
                .any(|e| e["scheme"] == "iso8583-1987" && e["code"] == "51")
        );
    }
}
