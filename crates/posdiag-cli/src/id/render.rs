//! What `posdiag id` prints for people: one block per value, the summary
//! counts, the kinds table. Everything is rendered from the API's messages,
//! so the daemon and `--local` paths look the same. Values are shown as the
//! library displays them (card numbers masked), control characters replaced.

use std::io::Write;

use posdiag_proto::v1;

use super::reason_from_code;
use crate::error::CliError;
use crate::i18n::{Label, t};
use crate::json::to_json;
use crate::output::{Cell, Output, Table, display_width, paint, sanitize};

/// SGR style of VALID.
pub const VALID_STYLE: &str = "32";
/// SGR style of INVALID.
pub const INVALID_STYLE: &str = "1;31";

/// A value as shown: sanitized, `(empty)` for nothing.
pub fn shown_value(display: &str, lang: posdiag_core::Lang) -> String {
    if display.is_empty() {
        t(Label::EmptyValue, lang).to_owned()
    } else {
        sanitize(display)
    }
}

/// One result:
///
/// ```text
/// INVALID  13800138000 (length): looks like a mainland China mobile number ...
///   expected:    12 digits
///   looks like:  phone (mainland China mobile)
///   suggestion:  ask for the customer number on the contract, not the phone number
/// ```
pub fn write_result<W: Write>(r: &v1::IdResult, out: &Output, w: &mut W) -> Result<(), CliError> {
    let lang = out.lang;
    // Like check verdicts, the words stay English in every language: scripts
    // match on them.
    let (word, style) = if r.valid {
        ("VALID", VALID_STYLE)
    } else {
        ("INVALID", INVALID_STYLE)
    };
    let padded = format!("{word:<7}");
    let tag = match (r.kind.is_empty(), r.valid || r.reason.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({})", sanitize(&r.kind)),
        (true, false) => format!(" ({})", sanitize(&r.reason)),
        (false, false) => format!(" ({}, {})", sanitize(&r.kind), sanitize(&r.reason)),
    };
    write!(
        w,
        "{}  {}{tag}",
        paint(out.color, style, &padded),
        shown_value(&r.display, lang)
    )?;
    if !r.message.is_empty() {
        write!(w, ": {}", sanitize(&r.message))?;
    }
    writeln!(w)?;
    if r.valid {
        return Ok(());
    }
    let looks: Vec<String> = r
        .looks_like
        .iter()
        .map(|c| {
            if c.detail.is_empty() {
                sanitize(&c.kind)
            } else {
                format!("{} ({})", sanitize(&c.kind), sanitize(&c.detail))
            }
        })
        .collect();
    let notes: Vec<String> = r.notes.iter().map(|n| sanitize(n)).collect();
    let sep = t(Label::ListSeparator, lang);
    let details = [
        (Label::Expected, sanitize(&r.expected)),
        (Label::LooksLike, looks.join(sep)),
        (Label::Notes, notes.join(sep)),
        (Label::Suggestion, sanitize(&r.suggestion)),
    ];
    let width = details
        .iter()
        .map(|(l, _)| display_width(t(*l, lang)))
        .max()
        .unwrap_or(0);
    for (label, text) in details {
        if text.is_empty() {
            continue;
        }
        let name = t(label, lang);
        let pad = " ".repeat(width - display_width(name));
        writeln!(w, "  {name}:{pad}  {text}")?;
    }
    Ok(())
}

/// `total: 3  valid: 1  invalid: 2`, INVALID's count in red when not 0.
pub fn totals_line(s: &v1::IdSummary, out: &Output) -> String {
    let lang = out.lang;
    let invalid = s.total.saturating_sub(s.valid);
    let invalid_text = invalid.to_string();
    let invalid_shown = if invalid > 0 {
        paint(out.color, INVALID_STYLE, &invalid_text)
    } else {
        invalid_text
    };
    format!(
        "{}: {}  {}: {}  {}: {invalid_shown}",
        t(Label::Total, lang),
        s.total,
        t(Label::ValidCount, lang),
        s.valid,
        t(Label::InvalidCount, lang),
    )
}

/// Reasons in the library's order, then codes this client does not know.
pub fn reasons_in_order(s: &v1::IdSummary) -> Vec<(String, u64)> {
    let mut known: Vec<(usize, String, u64)> = s
        .by_reason
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| {
            let pos = reason_from_code(code)
                .and_then(|r| posdiag_ids::IdReason::ALL.iter().position(|&x| x == r))
                .unwrap_or(usize::MAX);
            (pos, code.clone(), *n)
        })
        .collect();
    known.sort();
    known.into_iter().map(|(_, c, n)| (c, n)).collect()
}

/// REASON, COUNT, MEANING for every reason that occurred.
pub fn reasons_table(s: &v1::IdSummary, out: &Output) -> Table {
    let lang = out.lang;
    let mut table = Table::new([Label::Reason, Label::Count, Label::Meaning].map(|l| t(l, lang)));
    for (code, n) in reasons_in_order(s) {
        let meaning = reason_from_code(&code)
            .map(|r| r.meaning().get(lang).to_owned())
            .unwrap_or_default();
        table.push(vec![
            Cell::styled(&code, INVALID_STYLE),
            Cell::new(n.to_string()),
            Cell::new(meaning),
        ]);
    }
    table
}

/// `--summary`: the `IdSummary` as JSON, or the totals and the reasons table.
pub fn print_summary<W: Write>(s: &v1::IdSummary, out: &Output, w: &mut W) -> Result<(), CliError> {
    if out.json {
        writeln!(w, "{}", to_json(s)?)?;
    } else {
        writeln!(w, "{}", totals_line(s, out))?;
        let table = reasons_table(s, out);
        if !table.is_empty() {
            writeln!(w)?;
            w.write_all(table.render(out.color).as_bytes())?;
        }
    }
    w.flush()?;
    Ok(())
}

/// `posdiag id kinds`: NAME, MASKED, DESCRIPTION, FORMAT.
pub fn print_kinds<W: Write>(
    resp: &v1::ListKindsResponse,
    out: &Output,
    w: &mut W,
) -> Result<(), CliError> {
    if out.json {
        writeln!(w, "{}", to_json(resp)?)?;
    } else {
        let lang = out.lang;
        let mut table = Table::new(
            [
                Label::Name,
                Label::Masked,
                Label::Description,
                Label::Format,
            ]
            .map(|l| t(l, lang)),
        );
        for k in &resp.kinds {
            table.push(vec![
                Cell::new(&k.name),
                Cell::new(t(if k.sensitive { Label::Yes } else { Label::No }, lang)),
                Cell::new(&k.title),
                Cell::new(&k.format),
            ]);
        }
        w.write_all(table.render(out.color).as_bytes())?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use posdiag_core::Lang;

    fn invalid() -> v1::IdResult {
        v1::IdResult {
            valid: false,
            kind: String::new(),
            reason: "length".into(),
            message: "looks like a mobile number".into(),
            expected: "12 digits".into(),
            suggestion: "ask for the customer number".into(),
            looks_like: vec![v1::IdCandidate {
                kind: "phone".into(),
                detail: "mainland China mobile".into(),
            }],
            display: "13800138000".into(),
            notes: vec!["a\nnote".into()],
            index: 0,
        }
    }

    #[test]
    fn an_invalid_result_lists_what_was_expected_and_what_to_do() {
        let mut buf = Vec::new();
        write_result(&invalid(), &Output::plain(Lang::En), &mut buf).expect("renders");
        let text = String::from_utf8(buf).expect("utf-8");
        let want = "\
INVALID  13800138000 (length): looks like a mobile number
  expected:    12 digits
  looks like:  phone (mainland China mobile)
  notes:       a note
  suggestion:  ask for the customer number
";
        assert_eq!(text, want);
    }

    #[test]
    fn a_valid_result_is_one_line_and_labels_are_translated() {
        let r = v1::IdResult {
            valid: true,
            kind: "cn-ric".into(),
            display: "11010519491231002X".into(),
            message: "ok".into(),
            ..Default::default()
        };
        let mut buf = Vec::new();
        write_result(&r, &Output::plain(Lang::En), &mut buf).expect("renders");
        assert_eq!(
            String::from_utf8(buf).expect("utf-8"),
            "VALID    11010519491231002X (cn-ric): ok\n"
        );
        let mut buf = Vec::new();
        write_result(&invalid(), &Output::plain(Lang::ZhCn), &mut buf).expect("renders");
        let text = String::from_utf8(buf).expect("utf-8");
        assert!(text.contains(t(Label::Expected, Lang::ZhCn)), "{text}");
        assert!(text.contains(t(Label::Suggestion, Lang::ZhCn)), "{text}");
    }

    #[test]
    fn colour_marks_the_verdict_only_when_on() {
        let mut out = Output::plain(Lang::En);
        out.color = true;
        let mut buf = Vec::new();
        write_result(&invalid(), &out, &mut buf).expect("renders");
        assert!(String::from_utf8_lossy(&buf).starts_with("\x1b[1;31mINVALID\x1b[0m  "));
    }

    #[test]
    fn the_summary_lists_reasons_in_a_stable_order() {
        let s = v1::IdSummary {
            total: 5,
            valid: 2,
            by_reason: [("length".to_owned(), 1), ("format".to_owned(), 2)]
                .into_iter()
                .collect(),
        };
        let mut buf = Vec::new();
        print_summary(&s, &Output::plain(Lang::En), &mut buf).expect("renders");
        let text = String::from_utf8(buf).expect("utf-8");
        assert!(
            text.starts_with("total: 5  valid: 2  invalid: 3\n"),
            "{text}"
        );
        let format = text.find("\nformat").expect("format row");
        let length = text.find("\nlength").expect("length row");
        assert!(format < length, "{text}");
    }
}
