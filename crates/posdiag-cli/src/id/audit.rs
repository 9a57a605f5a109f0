//! `posdiag id audit`: validates one column of an exported customer file.
//!
//! The file streams through a `csv-core` reader into fixed buffers (so a
//! non-UTF-8 cell is validated, not fatal), and only bounded state is kept:
//! one record of at most [`MAX_RECORD_BYTES`] and [`MAX_FIELDS`] fields, a
//! few batches in flight, the counts, and per reason at most
//! [`MAX_DISTINCT`] distinct failing values (masked, shortened) to pick the
//! most common examples from. Failing rows go straight to `--out`.
//!
//! Parallel, with output identical to a sequential run: the main thread
//! cuts the file into batches of whole records — runs of lines without a
//! quote character are passed on as raw bytes (cut at a line end, no record
//! can span them), quoted records are parsed on the main thread and passed
//! on as their column's value — and hands them round-robin to `--threads`
//! workers. A worker parses its raw runs with its own `csv-core` reader
//! (the same reader, from a record boundary, reads them as the main thread
//! would), takes the allocation-free verdict of each value, and builds the
//! masked value and message only for failing rows. The main thread merges
//! the batches back in order: counts, examples and `--out` rows are then
//! those of a sequential run, row for row.
//!
//! A longer record is skipped, counted as a `length` failure and reported
//! like any other (examples, `--out`); a header that long, or a record past
//! [`MAX_SKIP_BYTES`], means the file is not a CSV export and ends the
//! audit with an error.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc;

use posdiag_core::{Lang, Text};
#[cfg(test)]
use posdiag_ids::Kind;
use posdiag_ids::{IdReason, KindSel, RuleSet, Validation};

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
    seen: HashMap<String, Example, FnvBuild>,
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

    /// Counts `count` failing rows showing `display`, the first at `row`;
    /// `message` is asked for only when the value becomes an example.
    fn add_many(&mut self, display: &str, row: u64, count: u64, message: impl FnOnce() -> String) {
        // Most values are short: looked up as they are, no allocation.
        let short = display.len() <= MAX_EXAMPLE_CHARS;
        let found = if short {
            self.seen.get_mut(display)
        } else {
            self.seen.get_mut(&shorten(display, MAX_EXAMPLE_CHARS))
        };
        if let Some(e) = found {
            e.count += count;
        } else if self.seen.len() < MAX_DISTINCT {
            let value = shorten(display, MAX_EXAMPLE_CHARS);
            let message = shorten(&message(), MAX_MESSAGE_CHARS);
            self.seen.insert(
                value.clone(),
                Example {
                    value,
                    count,
                    first_row: row,
                    message,
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
    let validator = Validator {
        kind,
        rules: rules.as_deref(),
    };
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let report = audit(
        file,
        &path,
        &args.column,
        &validator,
        out.lang,
        failures.as_mut(),
        threads,
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

/// Worker threads when `--threads` is not given: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Most worker threads an audit starts (each holds a record buffer and up
/// to two batches).
pub const MAX_THREADS: usize = 16;

/// Bytes of a batch before it is handed on.
const BATCH_BYTES: usize = 1 << 20;
/// Records (parsed ones) or raw runs of a batch before it is handed on.
const BATCH_SEGMENTS: usize = 8192;
/// The read buffer: raw runs are cut from it.
const READ_BUFFER: usize = 2 << 20;

/// How every value is judged: the kind and rule set of the command line.
#[derive(Debug, Clone, Copy)]
pub struct Validator<'a> {
    /// `--kind`.
    pub kind: KindSel,
    /// `--rules`.
    pub rules: Option<&'a RuleSet>,
}

impl Validator<'_> {
    /// The verdict alone (no sentence, no allocation): `None` when valid.
    #[inline]
    fn verdict(&self, value: &[u8]) -> Option<IdReason> {
        match (self.kind, self.rules) {
            (KindSel::Kind(k), None) => posdiag_ids::check(value, k).err(),
            (sel, rules) => posdiag_ids::check_with(value, sel, rules).err(),
        }
    }

    /// The whole verdict, sentences and masked value included.
    fn validate(&self, value: &[u8]) -> Validation {
        posdiag_ids::validate(value, self.kind, self.rules)
    }
}

#[cfg(test)]
impl Validator<'static> {
    /// Values validated as `kind` under no rule set.
    pub fn of_kind(kind: Kind) -> Validator<'static> {
        Validator {
            kind: KindSel::Kind(kind),
            rules: None,
        }
    }
}

/// A piece of a batch, in file order.
#[derive(Debug, Clone)]
enum Segment {
    /// Whole lines with no quote character, starting at a record boundary:
    /// for the worker to parse.
    Raw(Range<usize>),
    /// One record parsed by the main thread: its column's value.
    Value(Range<usize>),
    /// One record too long to keep.
    TooLong { bytes: u64, fields: u64 },
}

/// Whole records, in file order.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    segments: Vec<Segment>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    fn full(&self) -> bool {
        self.bytes.len() >= BATCH_BYTES || self.segments.len() >= BATCH_SEGMENTS
    }

    fn push_raw(&mut self, data: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        // Adjacent raw runs are one run: both end at a line end.
        if let Some(Segment::Raw(r)) = self.segments.last_mut()
            && r.end == start
        {
            r.end = self.bytes.len();
            return;
        }
        self.segments.push(Segment::Raw(start..self.bytes.len()));
    }

    fn push_value(&mut self, value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.segments.push(Segment::Value(start..self.bytes.len()));
    }
}

/// A failing row of a batch, put into words.
#[derive(Debug)]
struct Failed {
    /// 1-based within the batch.
    row: u64,
    reason: IdReason,
    display: String,
    message: String,
}

/// Where a failing value came from, to put it into words later.
#[derive(Debug, Clone)]
enum Source {
    /// The value, in [`Judged::raw`].
    Value(Range<usize>),
    TooLong {
        bytes: u64,
        fields: u64,
    },
}

/// The failing rows of a batch that showed one value, for the examples
/// when no `--out` wants every row.
#[derive(Debug)]
struct Distinct {
    /// The first such row, 1-based within the batch.
    row: u64,
    count: u64,
    reason: IdReason,
    /// The shown value, in [`Judged::displays`].
    display: Range<usize>,
    source: Source,
}

/// FNV-1a: a fast hash for the short masked values counted per row (no
/// adversary: a collision only costs a second entry, see `push_distinct`).
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Hash maps keyed by masked values.
pub type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

/// What a worker found in a batch.
#[derive(Debug, Default)]
struct Judged {
    rows: u64,
    tally: Tally,
    /// Every failing row, put into words (with `--out`).
    failed: Vec<Failed>,
    /// Failing rows by shown value, in order of first row (without `--out`).
    distinct: Vec<Distinct>,
    /// The shown values of `distinct`, end to end.
    displays: String,
    /// The values of `distinct`, end to end.
    raw: Vec<u8>,
    /// Hash of (reason, shown value) → its entry in `distinct`.
    index: HashMap<u64, usize, FnvBuild>,
}

impl Judged {
    /// Counts a row; with `every_row`, a failing one is put into words,
    /// else only its masked value is taken.
    fn add(
        &mut self,
        value: &[u8],
        v: &Validator<'_>,
        lang: Lang,
        every_row: bool,
        scratch: &mut String,
    ) {
        self.rows += 1;
        if every_row {
            let Some(_) = v.verdict(value) else {
                self.tally.add(None);
                return;
            };
            let full = v.validate(value);
            self.push_failed(full, lang);
            return;
        }
        match posdiag_ids::check_display(value, v.kind, v.rules, scratch) {
            Ok(_) => self.tally.add(None),
            Err(reason) => {
                self.tally.add(Some(reason));
                self.push_distinct(reason, scratch, Some(value), None);
            }
        }
    }

    /// Counts a record too long to read.
    fn add_too_long(&mut self, bytes: u64, fields: u64, lang: Lang, every_row: bool) {
        self.rows += 1;
        let full = record_too_long(bytes, fields, lang);
        if every_row {
            self.push_failed(full, lang);
        } else {
            self.tally.add_validation(&full);
            self.push_distinct(IdReason::Length, &full.display, None, Some((bytes, fields)));
        }
    }

    /// Counts a failing row by its shown value: a value seen before in the
    /// batch adds to its entry (no allocation), a new one gets an entry.
    fn push_distinct(
        &mut self,
        reason: IdReason,
        display: &str,
        value: Option<&[u8]>,
        too_long: Option<(u64, u64)>,
    ) {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = FnvBuild::default().build_hasher();
        reason.hash(&mut h);
        display.hash(&mut h);
        let key = h.finish();
        if let Some(&i) = self.index.get(&key) {
            let d = &mut self.distinct[i];
            if d.reason == reason && self.displays.get(d.display.clone()) == Some(display) {
                d.count += 1;
                return;
            }
            // A collision: a second entry. The merge adds entries of one
            // value together, so this changes nothing but speed.
        } else {
            self.index.insert(key, self.distinct.len());
        }
        let start = self.displays.len();
        self.displays.push_str(display);
        let source = match (value, too_long) {
            (Some(v), _) => {
                let at = self.raw.len();
                self.raw.extend_from_slice(v);
                Source::Value(at..self.raw.len())
            }
            (None, Some((bytes, fields))) => Source::TooLong { bytes, fields },
            (None, None) => Source::TooLong {
                bytes: 0,
                fields: 0,
            },
        };
        self.distinct.push(Distinct {
            row: self.rows,
            count: 1,
            reason,
            display: start..self.displays.len(),
            source,
        });
    }

    fn push_failed(&mut self, full: Validation, lang: Lang) {
        self.tally.add_validation(&full);
        if full.valid {
            return;
        }
        if let Some(reason) = full.reason {
            self.failed.push(Failed {
                row: self.rows,
                reason,
                display: full.display,
                message: full.message.get(lang).to_owned(),
            });
        }
    }
}

/// A worker's reusable state: its own record buffers.
struct Worker {
    /// Built once: building a reader builds its DFA.
    core: Option<csv_core::Reader>,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// The masked value of the row at hand.
    scratch: String,
}

impl Worker {
    fn new() -> Worker {
        Worker {
            core: Some(csv_core::Reader::new()),
            out: vec![0; MAX_RECORD_BYTES],
            ends: vec![0; MAX_FIELDS],
            scratch: String::new(),
        }
    }

    /// Judges every record of `batch`; with `every_row`, every failing
    /// row is put into words (for `--out`).
    fn judge(
        &mut self,
        batch: &Batch,
        col: usize,
        v: &Validator<'_>,
        lang: Lang,
        every_row: bool,
    ) -> Judged {
        let mut judged = Judged {
            index: HashMap::with_capacity_and_hasher(BATCH_SEGMENTS, FnvBuild::default()),
            displays: String::with_capacity(32 << 10),
            raw: Vec::with_capacity(32 << 10),
            ..Judged::default()
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        let scratch = &mut scratch;
        for seg in &batch.segments {
            match seg {
                Segment::Value(r) => {
                    judged.add(&batch.bytes[r.clone()], v, lang, every_row, scratch);
                }
                Segment::TooLong { bytes, fields } => {
                    judged.add_too_long(*bytes, *fields, lang, every_row);
                }
                Segment::Raw(r) => {
                    self.each_raw_record(&batch.bytes[r.clone()], col, true, |item| match item {
                        RawItem::Value(value) => judged.add(value, v, lang, every_row, scratch),
                        RawItem::TooLong { bytes, fields } => {
                            judged.add_too_long(bytes, fields, lang, every_row)
                        }
                    });
                }
            }
        }
        self.scratch = std::mem::take(scratch);
        judged
    }
}

/// A record of a raw run.
enum RawItem<'a> {
    /// The audited column's value.
    Value(&'a [u8]),
    /// A record too long to keep.
    TooLong { bytes: u64, fields: u64 },
}

/// Lines this long or longer go through `csv-core`, which counts a record
/// past [`MAX_RECORD_BYTES`] or [`MAX_FIELDS`] as too long.
const LONG_LINE: usize = if MAX_FIELDS < MAX_RECORD_BYTES {
    MAX_FIELDS
} else {
    MAX_RECORD_BYTES
};

/// Field `col` of a line without quotes; empty when the line is shorter.
fn field_of(line: &[u8], col: usize) -> &[u8] {
    let mut start = 0;
    for _ in 0..col {
        match memchr::memchr(b',', &line[start..]) {
            Some(i) => start += i + 1,
            None => return &[],
        }
    }
    let end = memchr::memchr(b',', &line[start..]).map_or(line.len(), |i| start + i);
    &line[start..end]
}

impl Worker {
    /// Every record of a raw run (whole lines, no quote character, from a
    /// record boundary). With `fast`, lines are split here: without quotes,
    /// `csv-core` ends a record at every `\r` or `\n`, skips empty lines
    /// and splits fields at commas, nothing else — so splitting on those
    /// bytes reads the same records; a long line still goes through
    /// `csv-core`, which decides what is too long.
    fn each_raw_record(
        &mut self,
        data: &[u8],
        col: usize,
        fast: bool,
        mut f: impl FnMut(RawItem<'_>),
    ) {
        if !fast {
            return self.each_csv_record(data, col, f);
        }
        let mut rest = data;
        while !rest.is_empty() {
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                // No line end (never so in a run): as csv-core reads it.
                return self.each_csv_record(rest, col, f);
            };
            let line = &rest[..end];
            if line.len() >= LONG_LINE {
                self.each_csv_record(&rest[..=end], col, &mut f);
            } else if !line.is_empty() {
                f(RawItem::Value(field_of(line, col)));
            }
            rest = &rest[end + 1..];
        }
    }

    /// Every record of `data` as this worker's `csv-core` reader reads it.
    fn each_csv_record(&mut self, data: &[u8], col: usize, mut f: impl FnMut(RawItem<'_>)) {
        let mut core = self.core.take().unwrap_or_default();
        core.reset();
        let mut records = Records {
            core,
            input: data,
            out: std::mem::take(&mut self.out),
            ends: std::mem::take(&mut self.ends),
            nfields: 0,
            first: false,
        };
        loop {
            match records.next() {
                // Reading a slice cannot fail, and a run ends at a line
                // end: a record never spans runs.
                Ok(Next::End) | Err(_) => break,
                Ok(Next::Record) => f(RawItem::Value(records.field(col))),
                // A run is at most the read buffer, far below
                // MAX_SKIP_BYTES: never endless.
                Ok(Next::TooLong { bytes, fields } | Next::Endless { bytes, fields }) => {
                    f(RawItem::TooLong { bytes, fields });
                }
            }
        }
        self.core = Some(records.core);
        self.out = records.out;
        self.ends = records.ends;
    }
}

/// Reads `input` as CSV and validates `column` of every record with
/// `validator`, on `threads` worker threads (1: on this thread); failing
/// rows go to `failures`. `path` names the input in errors. The report and
/// the failures are the same whatever `threads` is.
pub fn audit<R: io::Read>(
    input: R,
    path: &str,
    column: &str,
    validator: &Validator<'_>,
    lang: Lang,
    failures: Option<&mut FailureWriter>,
    threads: usize,
) -> Result<Report, IdError> {
    let read_err = |e: io::Error| IdError::Read {
        path: path.to_owned(),
        cause: IoCause::from_error(&e),
    };
    let mut input = BufReader::with_capacity(READ_BUFFER, input);
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

    let every_row = failures.is_some();
    let mut merger = Merger {
        report: Report::default(),
        rows: 0,
        failures,
        validator,
        lang,
    };
    let threads = threads.clamp(1, MAX_THREADS);
    let mut cutter = Cutter {
        records,
        batch: Batch::default(),
        col,
    };
    let finish = |stop: Stop, merger: Merger<'_, '_>| match stop {
        Stop::Eof => Ok(merger.report),
        Stop::Endless { bytes } => Err(IdError::RecordTooLong {
            path: path.to_owned(),
            row: merger.rows + 1,
            bytes,
        }),
    };
    if threads == 1 {
        let mut worker = Worker::new();
        loop {
            let (batch, stop) = cutter.next_batch(path)?;
            merger.merge(worker.judge(&batch, col, validator, lang, every_row))?;
            if let Some(stop) = stop {
                return finish(stop, merger);
            }
        }
    }
    std::thread::scope(|scope| {
        let mut jobs = Vec::with_capacity(threads);
        let mut results = Vec::with_capacity(threads);
        for _ in 0..threads {
            // At most two batches per worker are in flight (see below), so
            // neither channel ever blocks a sender for long.
            let (job_tx, job_rx) = mpsc::sync_channel::<Batch>(2);
            let (res_tx, res_rx) = mpsc::sync_channel::<Judged>(2);
            scope.spawn(move || {
                let mut worker = Worker::new();
                for batch in job_rx {
                    if res_tx
                        .send(worker.judge(&batch, col, validator, lang, every_row))
                        .is_err()
                    {
                        break;
                    }
                }
            });
            jobs.push(job_tx);
            results.push(res_rx);
        }
        // Batch n goes to worker n % threads; results are taken back in
        // the same order, so rows are merged in file order.
        let (mut sent, mut merged) = (0usize, 0usize);
        let take = |merged: &mut usize, merger: &mut Merger<'_, '_>| -> Result<(), IdError> {
            let judged = results[*merged % threads]
                .recv()
                .map_err(|_| IdError::Worker)?;
            *merged += 1;
            merger.merge(judged)
        };
        let outcome = loop {
            let (batch, stop) = match cutter.next_batch(path) {
                Ok(x) => x,
                Err(e) => break Err(e),
            };
            if sent - merged == 2 * threads
                && let Err(e) = take(&mut merged, &mut merger)
            {
                break Err(e);
            }
            if !batch.is_empty() {
                if jobs[sent % threads].send(batch).is_err() {
                    break Err(IdError::Worker);
                }
                sent += 1;
            }
            if let Some(stop) = stop {
                break Ok(stop);
            }
        };
        // Rows before an error are written as a sequential run writes them.
        while merged < sent {
            take(&mut merged, &mut merger)?;
        }
        drop(jobs);
        finish(outcome?, merger)
    })
}

/// Why reading stopped.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// The end of the file.
    Eof,
    /// A record went on past [`MAX_SKIP_BYTES`].
    Endless { bytes: u64 },
}

/// Cuts the file into batches of whole records.
struct Cutter<R> {
    records: Records<BufReader<R>>,
    batch: Batch,
    /// The audited column, taken from records parsed here.
    col: usize,
}

impl<R: io::Read> Cutter<R> {
    /// The next batch, and whether reading stopped after it.
    fn next_batch(&mut self, path: &str) -> Result<(Batch, Option<Stop>), IdError> {
        let read_err = |e: io::Error| IdError::Read {
            path: path.to_owned(),
            cause: IoCause::from_error(&e),
        };
        let mut end = None;
        while !self.batch.full() {
            // Here the reader is at a record boundary.
            let buf = self.records.input.fill_buf().map_err(read_err)?;
            if buf.is_empty() {
                end = Some(Stop::Eof);
                break;
            }
            // Lines before the first quote character (cut at a line end)
            // hold whole unquoted records: raw for a worker to parse.
            let quote = memchr::memchr(b'"', buf).unwrap_or(buf.len());
            if let Some(n) = memchr::memrchr(b'\n', &buf[..quote]) {
                self.batch.push_raw(&buf[..=n]);
                self.records.input.consume(n + 1);
                continue;
            }
            // A quoted record, or the tail of the buffer: one record here.
            match self.records.next().map_err(read_err)? {
                Next::End => {
                    end = Some(Stop::Eof);
                    break;
                }
                Next::Record => {
                    let value = self.records.field(self.col);
                    self.batch.push_value(value);
                }
                Next::TooLong { bytes, fields } => {
                    self.batch.segments.push(Segment::TooLong { bytes, fields });
                }
                Next::Endless { bytes, .. } => {
                    end = Some(Stop::Endless { bytes });
                    break;
                }
            }
        }
        Ok((std::mem::take(&mut self.batch), end))
    }
}

/// Merges judged batches in file order into the report and `--out`.
struct Merger<'f, 'v> {
    report: Report,
    rows: u64,
    failures: Option<&'f mut FailureWriter>,
    validator: &'v Validator<'v>,
    lang: Lang,
}

impl Merger<'_, '_> {
    fn merge(&mut self, judged: Judged) -> Result<(), IdError> {
        self.report.tally.merge(judged.tally);
        // In order of first row, as a sequential run meets them: the same
        // values become examples, with the same counts.
        for d in &judged.distinct {
            let (v, lang) = (self.validator, self.lang);
            let display = judged.displays.get(d.display.clone()).unwrap_or_default();
            self.report
                .examples_of(d.reason)
                .add_many(display, self.rows + d.row, d.count, || match &d.source {
                    Source::Value(r) => v
                        .validate(judged.raw.get(r.clone()).unwrap_or_default())
                        .message
                        .get(lang)
                        .to_owned(),
                    Source::TooLong { bytes, fields } => record_too_long(*bytes, *fields, lang)
                        .message
                        .get(lang)
                        .to_owned(),
                });
        }
        for f in judged.failed {
            let row = self.rows + f.row;
            self.report
                .examples_of(f.reason)
                .add(&f.display, row, &f.message);
            if let Some(w) = self.failures.as_deref_mut() {
                w.row(row, &f.display, f.reason.code(), &f.message)?;
            }
        }
        self.rows += judged.rows;
        Ok(())
    }
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
        run_on(csv, column, 1)
    }

    fn run_on(csv: &[u8], column: &str, threads: usize) -> Result<Report, IdError> {
        audit(
            csv,
            "t.csv",
            column,
            &Validator::of_kind(Kind::Luhn),
            Lang::En,
            None,
            threads,
        )
    }

    /// What a user sees of a report: counts and every example.
    fn seen(r: &Report) -> String {
        let summary = r.tally.to_proto();
        let by_reason: std::collections::BTreeMap<_, _> = summary.by_reason.iter().collect();
        let mut s = format!("{} {} {by_reason:?}\n", summary.total, summary.valid);
        for &reason in IdReason::ALL {
            if let Some((_, ex)) = r.examples.iter().find(|(x, _)| *x == reason) {
                for e in ex.top(usize::MAX) {
                    s.push_str(&format!("{reason:?} {e:?}\n"));
                }
            }
        }
        s
    }

    #[test]
    fn raw_runs_split_by_hand_read_as_csv_core_reads_them() {
        let mut data = Vec::new();
        let mut x = 7u64;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let piece: &[u8] = match (x >> 33) % 9 {
                0 => b",",
                1 => b"\r\n",
                2 => b"\n",
                3 => b"\r",
                4 => b"abc",
                5 => b"1234",
                6 => b",,",
                7 => b" x ",
                _ => b"\n\n",
            };
            data.extend_from_slice(piece);
        }
        data.extend_from_slice(b"big,");
        data.extend(std::iter::repeat_n(b'9', MAX_RECORD_BYTES + 3));
        data.extend_from_slice(b"\nwide");
        data.extend(std::iter::repeat_n(b',', MAX_FIELDS + 3));
        data.extend_from_slice(b"\nlast,1\n");
        let mut worker = Worker::new();
        for col in [0, 1, 2, 5] {
            let mut read = |fast: bool| {
                let mut items = Vec::new();
                worker.each_raw_record(&data, col, fast, |item| {
                    items.push(match item {
                        RawItem::Value(v) => format!("{v:?}"),
                        RawItem::TooLong { bytes, fields } => format!("too long {bytes} {fields}"),
                    })
                });
                items
            };
            let (fast, csv) = (read(true), read(false));
            assert!(fast.len() > 3000, "{}", fast.len());
            assert_eq!(fast, csv, "column {col}");
        }
    }

    #[test]
    fn quoted_unquoted_crlf_and_long_records_read_the_same_on_any_number_of_threads() {
        // Runs of unquoted lines (cut raw), quoted records across line ends
        // (parsed on the main thread), CRLF, a blank line, a record longer
        // than the record buffer and a last line without a line end, over
        // several batches.
        let mut csv = b"name,id\r\n".to_vec();
        for i in 0..30_000u64 {
            match i % 997 {
                0 => csv.extend_from_slice(
                    format!("\"Li,\nLei {i}\",7992739871{}\r\n", i % 10).as_bytes(),
                ),
                1 => csv.extend_from_slice(b"\r\n"),
                2 => csv.extend_from_slice(format!("x,\"{}\"\n", i * 7).as_bytes()),
                _ => {
                    csv.extend_from_slice(format!("n{i},{}\n", 79927398713u64 + i % 13).as_bytes())
                }
            }
            if i == 20_000 {
                csv.extend_from_slice(b"big,");
                csv.extend(std::iter::repeat_n(b'9', MAX_RECORD_BYTES + 10));
                csv.extend_from_slice(b"\n");
            }
        }
        csv.extend_from_slice(b"last,79927398713");
        let one = run_on(&csv, "id", 1).expect("audits");
        assert_eq!(one.tally.total, 30_000 - 31 + 1 + 1, "{:?}", one.tally);
        assert!(one.tally.invalid() > 20_000);
        for threads in [2, 3, 4] {
            let many = run_on(&csv, "id", threads).expect("audits");
            assert_eq!(seen(&many), seen(&one), "{threads} threads");
        }
        // With --out every failing row is put into words: the same report,
        // and the same failures file on any number of threads.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = Vec::new();
        for threads in [1, 3] {
            let path = dir.path().join(format!("out-{threads}.csv"));
            let mut w = FailureWriter::create(&path).expect("creates");
            let r = audit(
                &csv[..],
                "t.csv",
                "id",
                &Validator::of_kind(Kind::Luhn),
                Lang::En,
                Some(&mut w),
                threads,
            )
            .expect("audits");
            w.finish().expect("written");
            assert_eq!(seen(&r), seen(&one), "--out, {threads} threads");
            files.push(std::fs::read(&path).expect("read"));
        }
        assert_eq!(files[0], files[1]);
        assert!(files[0].len() > 100_000);
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
