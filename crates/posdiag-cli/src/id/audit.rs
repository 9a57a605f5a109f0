//! `posdiag id audit`: validates one column of an exported customer file.
//!
//! The file streams through a `csv` reader record by record (one reused
//! `ByteRecord`, so a non-UTF-8 cell is validated, not fatal), and only
//! bounded state is kept: the counts, and per reason at most
//! [`MAX_DISTINCT`] distinct failing values (masked, shortened) to pick the
//! most common examples from. Failing rows go straight to `--out`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use posdiag_core::Lang;
use posdiag_ids::IdReason;

use super::render::{reasons_table, shown_value, totals_line};
use super::{AuditArgs, IdError, Tally, local_rule_set, parse_kind};
use crate::error::{CliError, IoCause};
use crate::i18n::{Label, t};
use crate::json::to_json;
use crate::output::{Cell, Output, Table};

/// Distinct failing values remembered per reason. Past it, new values are
/// still counted but no longer candidates for the examples.
pub const MAX_DISTINCT: usize = 1000;
/// Characters of an example value or message kept (the rest is `…`).
const MAX_EXAMPLE_CHARS: usize = 64;
const MAX_MESSAGE_CHARS: usize = 200;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One example value of a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The value, masked as the library displays it, shortened.
    pub value: String,
    /// How many failing rows had it.
    pub count: u64,
    /// The first data row (1-based, header not counted) that had it.
    pub first_row: u64,
    /// The message for that row, in the chosen language.
    pub message: String,
}

/// The failing values of one reason, counted by value.
#[derive(Debug, Default)]
pub struct Examples {
    seen: HashMap<String, Example>,
}

impl Examples {
    /// Counts a failing row.
    pub fn add(&mut self, display: &str, row: u64, message: &str) {
        let value = shorten(display, MAX_EXAMPLE_CHARS);
        if let Some(e) = self.seen.get_mut(&value) {
            e.count += 1;
        } else if self.seen.len() < MAX_DISTINCT {
            self.seen.insert(
                value.clone(),
                Example {
                    value,
                    count: 1,
                    first_row: row,
                    message: shorten(message, MAX_MESSAGE_CHARS),
                },
            );
        }
    }

    /// The `n` most common values, ties by first row.
    pub fn top(&self, n: usize) -> Vec<&Example> {
        let mut all: Vec<&Example> = self.seen.values().collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_row.cmp(&b.first_row)));
        all.truncate(n);
        all
    }
}

fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// What an audit found.
#[derive(Debug, Default)]
pub struct Report {
    /// The counts.
    pub tally: Tally,
    /// Examples per reason code.
    pub examples: Vec<(IdReason, Examples)>,
}

impl Report {
    fn examples_of(&mut self, r: IdReason) -> &mut Examples {
        let i = match self.examples.iter().position(|(x, _)| *x == r) {
            Some(i) => i,
            None => {
                self.examples.push((r, Examples::default()));
                self.examples.len() - 1
            }
        };
        &mut self.examples[i].1
    }
}

/// `posdiag id audit`.
pub fn run(args: &AuditArgs, out: &Output) -> Result<u8, CliError> {
    let kind = parse_kind(&args.kind)?;
    let rules = local_rule_set(args.config.as_deref(), args.rules.as_deref(), None)?;
    let path = args.file.display().to_string();
    let file = File::open(&args.file).map_err(|e| IdError::Open {
        path: path.clone(),
        cause: IoCause::from_error(&e),
    })?;
    let mut failures = match &args.out {
        Some(p) => Some(FailureWriter::create(p)?),
        None => None,
    };
    let report = audit(
        file,
        &path,
        &args.column,
        |value| posdiag_ids::validate(value, kind, rules.as_deref()),
        out.lang,
        failures.as_mut(),
    )?;
    if let Some(f) = failures {
        f.finish()?;
    }
    let mut stdout = crate::term::stdout();
    print_report(&report, &path, &args.column, args.top, out, &mut stdout)?;
    Ok(report.tally.exit_code())
}

/// `--out`: every failing row as CSV.
pub struct FailureWriter {
    path: String,
    w: csv::Writer<File>,
}

impl std::fmt::Debug for FailureWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FailureWriter {
    /// The header of the failures file (stable English names for scripts).
    /// `row` counts data rows from 1, the header not counted: the csv
    /// crate's line numbers lag by one after CRLF line ends, and a quoted
    /// cell may span lines, so no reliable file line is offered.
    pub const HEADER: [&'static str; 4] = ["row", "value", "reason", "message"];

    fn create(path: &Path) -> Result<FailureWriter, IdError> {
        let shown = path.display().to_string();
        let file = File::create(path).map_err(|e| IdError::Open {
            path: shown.clone(),
            cause: IoCause::from_error(&e),
        })?;
        let mut fw = FailureWriter {
            path: shown,
            w: csv::Writer::from_writer(file),
        };
        let res = fw.w.write_record(Self::HEADER);
        fw.check(res)?;
        Ok(fw)
    }

    fn check(&self, res: csv::Result<()>) -> Result<(), IdError> {
        res.map_err(|e| IdError::Write {
            path: self.path.clone(),
            cause: IoCause::from_error(&e),
        })
    }

    fn row(&mut self, row: u64, value: &str, reason: &str, message: &str) -> Result<(), IdError> {
        let res = self
            .w
            .write_record([row.to_string().as_str(), value, reason, message]);
        self.check(res)
    }

    fn finish(mut self) -> Result<(), IdError> {
        self.w.flush().map_err(|e| IdError::Write {
            path: self.path.clone(),
            cause: IoCause::from_error(&e),
        })
    }
}

/// Reads `input` as CSV and validates `column` of every record with
/// `validate`; failing rows go to `failures`. `path` names the input in
/// errors.
pub fn audit<R, V>(
    input: R,
    path: &str,
    column: &str,
    mut validate: V,
    lang: Lang,
    mut failures: Option<&mut FailureWriter>,
) -> Result<Report, IdError>
where
    R: io::Read,
    V: FnMut(&[u8]) -> posdiag_ids::Validation,
{
    let read_err = |e: io::Error| IdError::Read {
        path: path.to_owned(),
        cause: IoCause::from_error(&e),
    };
    let mut input = BufReader::with_capacity(1 << 20, input);
    // Spreadsheet exports start with a UTF-8 byte order mark; it is not part
    // of the first header.
    if input.fill_buf().map_err(read_err)?.starts_with(UTF8_BOM) {
        input.consume(UTF8_BOM.len());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let csv_err = |e: csv::Error| {
        let line = e.position().map(csv::Position::line);
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => read_err(io),
            _ => IdError::Csv {
                path: path.to_owned(),
                line,
                message,
            },
        }
    };
    let headers = reader.byte_headers().map_err(csv_err)?.clone();
    let col = find_column(&headers, column).ok_or_else(|| IdError::MissingColumn {
        path: path.to_owned(),
        column: column.to_owned(),
        headers: headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect(),
    })?;
    let mut report = Report::default();
    let mut record = csv::ByteRecord::new();
    let mut row = 0u64;
    while reader.read_byte_record(&mut record).map_err(csv_err)? {
        row += 1;
        let v = validate(record.get(col).unwrap_or_default());
        report.tally.add_validation(&v);
        if v.valid {
            continue;
        }
        let Some(reason) = v.reason else { continue };
        let message = v.message.get(lang);
        report.examples_of(reason).add(&v.display, row, message);
        if let Some(f) = failures.as_deref_mut() {
            f.row(row, &v.display, reason.code(), message)?;
        }
    }
    Ok(report)
}

/// The index of the column headed `name`: exactly, else the one header that
/// matches ignoring case and surrounding spaces.
fn find_column(headers: &csv::ByteRecord, name: &str) -> Option<usize> {
    if let Some(i) = headers.iter().position(|h| h == name.as_bytes()) {
        return Some(i);
    }
    let want = name.trim().to_lowercase();
    let loose: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| String::from_utf8_lossy(h).trim().to_lowercase() == want)
        .map(|(i, _)| i)
        .collect();
    match loose[..] {
        [i] => Some(i),
        _ => None,
    }
}

/// The report: the file and column, the totals, the reasons table, then the
/// most common examples of each reason. `--json` prints the `IdSummary`.
pub fn print_report<W: Write>(
    report: &Report,
    path: &str,
    column: &str,
    top: usize,
    out: &Output,
    w: &mut W,
) -> Result<(), CliError> {
    let summary = report.tally.to_proto();
    if out.json {
        writeln!(w, "{}", to_json(&summary)?)?;
        w.flush()?;
        return Ok(());
    }
    let lang = out.lang;
    writeln!(
        w,
        "{}: {}  {}: {}",
        t(Label::File, lang),
        crate::output::sanitize(path),
        t(Label::Column, lang),
        crate::output::sanitize(column)
    )?;
    writeln!(w, "{}", totals_line(&summary, out))?;
    let table = reasons_table(&summary, out);
    if !table.is_empty() {
        writeln!(w)?;
        w.write_all(table.render(out.color).as_bytes())?;
    }
    if top > 0 {
        for &r in IdReason::ALL {
            let Some((_, ex)) = report.examples.iter().find(|(x, _)| *x == r) else {
                continue;
            };
            writeln!(w, "\n{} {}:", r.code(), t(Label::Examples, lang))?;
            let mut table = Table::new(
                [Label::Count, Label::FirstRow, Label::Value, Label::Message].map(|l| t(l, lang)),
            );
            for e in ex.top(top) {
                table.push(vec![
                    Cell::new(e.count.to_string()),
                    Cell::new(e.first_row.to_string()),
                    Cell::new(shown_value(&e.value, lang)),
                    Cell::new(&e.message),
                ]);
            }
            for line in table.render(out.color).lines() {
                writeln!(w, "  {line}")?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(csv: &[u8], column: &str) -> Result<Report, IdError> {
        audit(
            csv,
            "t.csv",
            column,
            |v| posdiag_ids::validate(v, posdiag_ids::KindSel::Kind(posdiag_ids::Kind::Luhn), None),
            Lang::En,
            None,
        )
    }

    #[test]
    fn bom_crlf_quotes_and_loose_header_matching() {
        let csv = b"\xEF\xBB\xBFname,Card No\r\n\"Li, Lei\",79927398713\r\nWang,79927398710\r\n";
        let r = run(csv, "Card No").expect("audits");
        assert_eq!((r.tally.total, r.tally.valid), (2, 1));
        let r = run(csv, " card no ").expect("loose match");
        assert_eq!(r.tally.total, 2);
    }

    #[test]
    fn a_missing_column_lists_the_headers() {
        match run(b"a,b\n1,2\n", "id") {
            Err(IdError::MissingColumn { headers, .. }) => assert_eq!(headers, ["a", "b"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_rows_count_as_empty_values() {
        let r = run(b"a,b\n1\n", "b").expect("audits");
        assert_eq!((r.tally.total, r.tally.valid), (1, 0));
    }

    #[test]
    fn examples_are_the_most_common_values_and_memory_is_bounded() {
        let mut ex = Examples::default();
        for i in 0..(MAX_DISTINCT as u64 + 50) {
            ex.add(&format!("v{i}"), i + 1, "m");
        }
        for row in 0..3 {
            ex.add("v7", 5000 + row, "m");
        }
        ex.add(&"9".repeat(500), 9999, "m");
        assert_eq!(ex.seen.len(), MAX_DISTINCT);
        let top = ex.top(2);
        assert_eq!(top[0].value, "v7");
        assert_eq!(top[0].count, 4);
        assert_eq!(top[1].value, "v0");
    }
}
