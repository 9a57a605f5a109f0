//! `posdiag id audit`: validates one column of an exported customer file.
//!
//! The file streams through a `csv-core` reader record by record into
//! fixed buffers (so a non-UTF-8 cell is validated, not fatal), and only
//! bounded state is kept: one record of at most [`MAX_RECORD_BYTES`] and
//! [`MAX_FIELDS`] fields, the counts, and per reason at most
//! [`MAX_DISTINCT`] distinct failing values (masked, shortened) to pick the
//! most common examples from. Failing rows go straight to `--out`.
//!
//! A longer record is skipped, counted as a `length` failure and reported
//! like any other (examples, `--out`); a header that long, or a record past
//! [`MAX_SKIP_BYTES`], means the file is not a CSV export and ends the
//! audit with an error.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use posdiag_core::{Lang, Text};
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

/// Bytes of one record (its fields' contents) kept; the limit `id validate`
/// has for a line. No row of customer data comes near it.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Fields of one record kept.
pub const MAX_FIELDS: usize = 10_000;
/// A record still going after this many bytes is not a row of an export
/// (`/dev/zero`, a disk image): the audit stops rather than read on.
pub const MAX_SKIP_BYTES: u64 = 64 << 20;

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
    let mut records = Records::new(input);
    let headers = match records.next().map_err(read_err)? {
        Next::Record => records.fields(),
        Next::End => Vec::new(),
        Next::TooLong { bytes, fields } | Next::Endless { bytes, fields } => {
            return Err(IdError::HeaderTooLong {
                path: path.to_owned(),
                bytes,
                fields,
            });
        }
    };
    let col = find_column(&headers, column).ok_or_else(|| IdError::MissingColumn {
        path: path.to_owned(),
        column: column.to_owned(),
        headers: headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect(),
    })?;
    let mut report = Report::default();
    let mut row = 0u64;
    loop {
        let v = match records.next().map_err(read_err)? {
            Next::End => break,
            Next::Record => {
                row += 1;
                validate(records.field(col))
            }
            Next::TooLong { bytes, fields } => {
                row += 1;
                record_too_long(bytes, fields, lang)
            }
            Next::Endless { bytes, .. } => {
                return Err(IdError::RecordTooLong {
                    path: path.to_owned(),
                    row: row + 1,
                    bytes,
                });
            }
        };
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

/// The verdict on a record too long to read: a `length` failure, so it is
/// counted, shown among the examples and written to `--out` like any other.
fn record_too_long(bytes: u64, fields: u64, lang: Lang) -> posdiag_ids::Validation {
    let message = if fields > MAX_FIELDS as u64 {
        Text::new(
            format!("the record has more than {MAX_FIELDS} fields; it was skipped, not read"),
            format!("该记录超过 {MAX_FIELDS} 个字段；已跳过，未读取"),
        )
    } else {
        Text::new(
            format!(
                "the record is {bytes} bytes long, longer than any row of customer data; it was skipped, not read"
            ),
            format!("该记录长 {bytes} 字节，远超任何客户数据行；已跳过，未读取"),
        )
    };
    let display = Text::new(
        format!("({bytes}-byte record)"),
        format!("（{bytes} 字节的记录）"),
    )
    .get(lang)
    .to_owned();
    posdiag_ids::Validation {
        valid: false,
        kind: None,
        reason: Some(IdReason::Length),
        message,
        expected: Text::new("", ""),
        suggestion: Text::new(
            "check the file for a missing closing quote or a cell pasted with a whole document",
            "请检查文件中是否缺少闭合引号，或某个单元格中粘贴了整篇文档",
        ),
        looks_like: Vec::new(),
        display,
        notes: Vec::new(),
    }
}

/// What [`Records::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A record, in [`Records::fields`].
    Record,
    /// A record longer than [`MAX_RECORD_BYTES`] or with more than
    /// [`MAX_FIELDS`] fields, read to its end and dropped.
    TooLong { bytes: u64, fields: u64 },
    /// A record that went on past [`MAX_SKIP_BYTES`]; reading stopped.
    Endless { bytes: u64, fields: u64 },
    /// The end of the input.
    End,
}

/// CSV records read into fixed buffers: memory stays at
/// [`MAX_RECORD_BYTES`] plus the read buffer whatever the input.
struct Records<R> {
    core: csv_core::Reader,
    input: R,
    out: Vec<u8>,
    ends: Vec<usize>,
    nfields: usize,
    /// Stop a too-long record at once: for the header, whose end is not
    /// worth waiting for.
    first: bool,
}

impl<R: BufRead> Records<R> {
    fn new(input: R) -> Records<R> {
        Records {
            core: csv_core::Reader::new(),
            input,
            out: vec![0; MAX_RECORD_BYTES],
            ends: vec![0; MAX_FIELDS],
            nfields: 0,
            first: true,
        }
    }

    /// Reads the next record.
    fn next(&mut self) -> io::Result<Next> {
        let first = std::mem::replace(&mut self.first, false);
        let (mut outlen, mut nfields) = (0usize, 0usize);
        let (mut bytes, mut fields) = (0u64, 0u64);
        let mut over = false;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let eof = buf.is_empty();
            let (res, nin, nout, nend) =
                self.core
                    .read_record(buf, &mut self.out[outlen..], &mut self.ends[nfields..]);
            self.input.consume(nin);
            outlen += nout;
            nfields += nend;
            bytes += nout as u64;
            fields += nend as u64;
            use csv_core::ReadRecordResult as R;
            match res {
                R::InputEmpty if eof => return Ok(Next::End),
                R::InputEmpty => {}
                R::OutputFull | R::OutputEndsFull => {
                    // Read on (into the same buffers) to the record's end.
                    over = true;
                    outlen = 0;
                    nfields = 0;
                    if first || bytes > MAX_SKIP_BYTES {
                        return Ok(Next::Endless { bytes, fields });
                    }
                }
                R::Record | R::End if over => return Ok(Next::TooLong { bytes, fields }),
                R::Record => {
                    self.nfields = nfields;
                    return Ok(Next::Record);
                }
                R::End => return Ok(Next::End),
            }
        }
    }

    /// Field `i` of the last record; empty when the record is shorter.
    fn field(&self, i: usize) -> &[u8] {
        if i >= self.nfields {
            return &[];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.out.get(start..self.ends[i]).unwrap_or_default()
    }

    /// Every field of the last record.
    fn fields(&self) -> Vec<Vec<u8>> {
        (0..self.nfields).map(|i| self.field(i).to_vec()).collect()
    }
}

/// The index of the column headed `name`: exactly, else the one header that
/// matches ignoring case and surrounding spaces.
fn find_column(headers: &[Vec<u8>], name: &str) -> Option<usize> {
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
