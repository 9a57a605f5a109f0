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
//! on as their column's value — and puts them on one queue for `--threads`
//! workers, the first free one taking the next batch. A worker parses its raw runs with its own `csv-core` reader
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
use std::io::{self, BufRead, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, OnceLock, mpsc};

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
    /// What the row's message is made from.
    said: Said,
}

/// An example's message: put into words already (with `--out`, every
/// failing row is), or what to put into words when the example is shown —
/// of a thousand examples per reason, a report shows a handful.
#[derive(Clone, PartialEq, Eq)]
enum Said {
    Words(String),
    /// The value as read, unmasked: never shown, only validated again.
    Value(Box<[u8]>),
    TooLong {
        bytes: u64,
        fields: u64,
    },
}

impl std::fmt::Debug for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Said::Words(w) => write!(f, "Words({w:?})"),
            // A customer ID: not even in a debug print.
            Said::Value(_) => f.write_str("Value(..)"),
            Said::TooLong { bytes, fields } => write!(f, "TooLong({bytes}, {fields})"),
        }
    }
}

impl Example {
    /// The message for the example's first row, in `lang`, as `validator`
    /// puts it.
    pub fn message(&self, validator: &Validator<'_>, lang: Lang) -> String {
        let words = match &self.said {
            Said::Words(w) => return w.clone(),
            Said::Value(v) => validator.validate(v).message().get(lang).to_owned(),
            Said::TooLong { bytes, fields } => record_too_long(*bytes, *fields, lang)
                .message()
                .get(lang)
                .to_owned(),
        };
        shorten(&words, MAX_MESSAGE_CHARS)
    }
}

/// The failing values of one reason, counted by value.
#[derive(Debug, Default)]
pub struct Examples {
    seen: HashMap<String, Example, FastBuild>,
}

impl Examples {
    /// Counts a failing row already put into words.
    pub fn add(&mut self, display: &str, row: u64, message: &str) {
        self.add_many(display, row, 1, || {
            Said::Words(shorten(message, MAX_MESSAGE_CHARS))
        });
    }

    /// Counts `count` failing rows showing `display`, the first at `row`;
    /// `said` is asked for only when the value becomes an example.
    fn add_many(&mut self, display: &str, row: u64, count: u64, said: impl FnOnce() -> Said) {
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
            self.seen.insert(
                value.clone(),
                Example {
                    value,
                    count,
                    first_row: row,
                    said: said(),
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
    print_report(
        &report,
        &validator,
        (&path, &args.column),
        args.top,
        out,
        &mut stdout,
    )?;
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

/// Bytes read into one block, the unit handed to a worker: whole raw runs
/// are judged where they were read, never copied.
const BLOCK_BYTES: usize = 1 << 20;

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

    /// The verdict, and for a failing value its shown value in `display`.
    #[inline]
    fn failing(&self, value: &[u8], display: &mut Vec<u8>) -> Option<IdReason> {
        posdiag_ids::check_failing(value, self.kind, self.rules, display)
    }

    /// The whole verdict, sentences and masked value included.
    fn validate(&self, value: &[u8]) -> Validation<'_> {
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
    /// Whole lines with no quote character, starting at a record boundary,
    /// in [`Batch::block`]: for the worker to parse.
    Raw(Range<usize>),
    /// One record parsed by the main thread: its column's value, in
    /// [`Batch::values`].
    Value(Range<usize>),
    /// One record too long to keep.
    TooLong { bytes: u64, fields: u64 },
}

/// Whole records, in file order: one block as read, with the values of
/// the records the main thread parsed.
#[derive(Debug, Default)]
struct Batch {
    /// The block as read ([`Batch::len`] bytes of it hold data).
    block: Vec<u8>,
    len: usize,
    values: Vec<u8>,
    segments: Vec<Segment>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    fn push_raw(&mut self, r: Range<usize>) {
        // Adjacent raw runs are one run: both end at a line end.
        if let Some(Segment::Raw(last)) = self.segments.last_mut()
            && last.end == r.start
        {
            last.end = r.end;
            return;
        }
        self.segments.push(Segment::Raw(r));
    }

    fn push_value(&mut self, value: &[u8]) {
        let start = self.values.len();
        self.values.extend_from_slice(value);
        self.segments.push(Segment::Value(start..self.values.len()));
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

/// A fast hash for the short masked values counted per row, eight bytes a
/// step (no adversary: a collision only costs a second entry, see
/// `push_distinct`, or a second probe).
#[derive(Debug, Clone, Copy, Default)]
pub struct FastHasher(u64);

const HASH_K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(HASH_K);
    }
}

impl std::hash::Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
}

/// Hash maps keyed by masked values.
pub type FastBuild = std::hash::BuildHasherDefault<FastHasher>;

/// The example values of a reason once they can no longer change: a
/// reason's examples are its first [`MAX_DISTINCT`] distinct values, so
/// once it has that many, only rows showing one of them still count.
#[derive(Debug)]
struct FrozenSet {
    /// Open addressing by [`short_hash`]: per slot a 16-bit tag of the
    /// hash (never 0; 0 for an empty slot), two slots per value: the
    /// table fits a few kilobytes, so a value that is no example (most are)
    /// is told apart in a probe or two that stay in the nearest cache,
    /// without comparing text.
    tags: Vec<u16>,
    /// Per slot, the number of its value.
    ids: Vec<u32>,
    /// The values by number.
    values: Vec<String>,
}

impl FrozenSet {
    fn new(values: Vec<String>) -> FrozenSet {
        let size = (values.len() * 2).next_power_of_two().max(16);
        let mut tags = vec![0u16; size];
        let mut ids = vec![0u32; size];
        for (id, v) in values.iter().enumerate() {
            let (tag, mut i) = FrozenSet::place(v.as_bytes(), size);
            while tags[i] != 0 {
                i = (i + 1) & (size - 1);
            }
            tags[i] = tag;
            ids[i] = id as u32;
        }
        FrozenSet { tags, ids, values }
    }

    /// The tag of `value` and its first slot in a table of `size`.
    #[inline]
    fn place(value: &[u8], size: usize) -> (u16, usize) {
        let hash = short_hash(value);
        ((hash >> 48) as u16 | 1, (hash >> 24) as usize & (size - 1))
    }

    /// The number of `value`, if it is one of the values.
    #[inline]
    fn get(&self, value: &[u8]) -> Option<u32> {
        let size = self.tags.len();
        let (tag, mut i) = FrozenSet::place(value, size);
        loop {
            let t = self.tags[i];
            if t == 0 {
                return None;
            }
            if t == tag {
                let id = self.ids[i];
                if self
                    .values
                    .get(id as usize)
                    .is_some_and(|v| same(v.as_bytes(), value))
                {
                    return Some(id);
                }
            }
            i = (i + 1) & (size - 1);
        }
    }
}

/// Per reason, its frozen examples, published by the merger (in file
/// order) and read by the workers: a worker judging a later batch counts
/// rows against them instead of collecting every distinct value.
#[derive(Debug, Default)]
struct Frozen {
    sets: [OnceLock<FrozenSet>; IdReason::ALL.len()],
}

/// The examples key of a shown value: at most [`MAX_EXAMPLE_CHARS`]
/// characters (as [`Examples::add_many`] looks values up).
fn example_key(display: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if display.len() <= MAX_EXAMPLE_CHARS {
        std::borrow::Cow::Borrowed(display)
    } else {
        let text = String::from_utf8_lossy(display);
        std::borrow::Cow::Owned(shorten(&text, MAX_EXAMPLE_CHARS).into_bytes())
    }
}

/// What a worker found in a batch.
#[derive(Debug, Default)]
struct Judged {
    rows: u64,
    tally: Tally,
    /// Every failing row, put into words (with `--out`).
    failed: Vec<Failed>,
    /// Failing rows by shown value, in order of first row (without `--out`).
    distinct: Vec<Distinct>,
    /// The shown values of `distinct`, end to end (UTF-8).
    displays: Vec<u8>,
    /// The values of `distinct`, end to end.
    raw: Vec<u8>,
    /// Hash of (reason, shown value) → its entry in `distinct`.
    index: HashMap<u64, usize, FastBuild>,
    /// Per reason with frozen examples: rows per example number.
    frozen_counts: Vec<Vec<u64>>,
    /// The batch's block, handed back to be read into again.
    block: Vec<u8>,
}

impl Judged {
    /// Counts a row; with `every_row`, a failing one is put into words,
    /// else only its masked value is taken.
    #[inline]
    fn add(&mut self, value: &[u8], ctx: &Ctx<'_>, scratch: &mut Scratch) {
        self.rows += 1;
        if ctx.every_row {
            let Some(_) = ctx.validator.verdict(value) else {
                self.tally.add(None);
                return;
            };
            let full = ctx.validator.validate(value);
            self.push_failed(full, ctx.lang);
            return;
        }
        match scratch.failing(value, ctx.validator) {
            None => self.tally.add(None),
            Some((reason, display)) => {
                self.tally.add(Some(reason));
                self.count_failing(reason, display, ctx.frozen, Some(value), None);
            }
        }
    }

    /// Counts a record too long to read.
    fn add_too_long(&mut self, bytes: u64, fields: u64, ctx: &Ctx<'_>) {
        self.rows += 1;
        let full = record_too_long(bytes, fields, ctx.lang);
        if ctx.every_row {
            self.push_failed(full, ctx.lang);
        } else {
            self.tally.add_validation(&full);
            self.count_failing(
                IdReason::Length,
                full.display.as_bytes(),
                ctx.frozen,
                None,
                Some((bytes, fields)),
            );
        }
    }

    /// Counts a failing row: against its reason's frozen examples when
    /// there are some, else by its shown value.
    #[inline]
    fn count_failing(
        &mut self,
        reason: IdReason,
        display: &[u8],
        frozen: &Frozen,
        value: Option<&[u8]>,
        too_long: Option<(u64, u64)>,
    ) {
        let ri = reason as usize;
        if let Some(set) = frozen.sets.get(ri).and_then(OnceLock::get) {
            if let Some(id) = set.get(example_key(display).as_ref()) {
                if self.frozen_counts.len() <= ri {
                    self.frozen_counts.resize_with(ri + 1, Vec::new);
                }
                let counts = &mut self.frozen_counts[ri];
                if counts.is_empty() {
                    counts.resize(set.values.len(), 0);
                }
                if let Some(c) = counts.get_mut(id as usize) {
                    *c += 1;
                }
            }
            // Any other value can no longer become an example.
            return;
        }
        self.push_distinct(reason, display, value, too_long);
    }

    /// Counts a failing row by its shown value: a value seen before in the
    /// batch adds to its entry (no allocation), a new one gets an entry.
    fn push_distinct(
        &mut self,
        reason: IdReason,
        display: &[u8],
        value: Option<&[u8]>,
        too_long: Option<(u64, u64)>,
    ) {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = FastBuild::default().build_hasher();
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
        self.displays.extend_from_slice(display);
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
                message: full.message().get(lang).to_owned(),
                display: full.display,
            });
        }
    }
}

/// Failing values a worker judged lately, by value, with how they are
/// shown. Exports repeat their placeholders ("", "N/A", "-", "无") and
/// constant junk thousands of times, and such a value costs as much to
/// judge as any (every kind is tried before none fits). A verdict depends
/// on the value alone, so a remembered one is what judging again would
/// give. Only short values are kept, and only failing ones: a valid value
/// is shown nowhere, and valid customer IDs rarely repeat.
#[derive(Default)]
struct Scratch {
    /// The shown value of the row at hand (UTF-8).
    display: Vec<u8>,
    /// Per slot, the hash of the value kept there (0: none). Slots are
    /// picked by hash, and the tags kept apart from the values, so the
    /// row-by-row lookup touches a few cache lines only.
    tags: Vec<u64>,
    /// Per slot, the hash of the last failing value not kept.
    seen: Vec<u64>,
    /// Per slot, the value kept.
    kept: Vec<Recent>,
}

/// A remembered failing value.
#[derive(Default)]
struct Recent {
    value: Vec<u8>,
    reason: Option<IdReason>,
    display: Vec<u8>,
}

/// Slots of [`Scratch`]: a power of two.
const RECENT_SLOTS: usize = 256;
/// Longest value [`Scratch`] keeps.
const RECENT_MAX_BYTES: usize = 32;

/// A hash of a short value (the remembered values of [`Scratch`], the
/// shown values of [`FrozenSet`]): its first and last eight bytes and its
/// length, one multiplication (no adversary: a collision only costs a
/// comparison). The top bits are the best mixed.
#[inline]
fn short_hash(value: &[u8]) -> u64 {
    let word = |b: &[u8]| b.iter().fold(0u64, |w, &x| w << 8 | u64::from(x));
    let (head, tail) = match (value.first_chunk::<8>(), value.last_chunk::<8>()) {
        (Some(h), Some(t)) => (u64::from_le_bytes(*h), u64::from_le_bytes(*t)),
        _ => (word(value), 0),
    };
    let mixed = head ^ tail.rotate_left(29) ^ (value.len() as u64) << 56;
    (mixed ^ mixed >> 31).wrapping_mul(HASH_K)
}

/// `a == b`, for the short values the audit compares by the million
/// without a call into `memcmp`: up to sixteen bytes, two eight-byte words
/// (overlapping when shorter) cover every byte.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match (
        a.first_chunk::<8>(),
        b.first_chunk::<8>(),
        a.last_chunk::<8>(),
        b.last_chunk::<8>(),
    ) {
        (Some(af), Some(bf), Some(al), Some(bl)) if a.len() <= 16 => af == bf && al == bl,
        _ if a.len() < 8 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

impl Scratch {
    /// [`Validator::failing`], from memory when `value` failed lately.
    #[inline]
    fn failing(&mut self, value: &[u8], validator: &Validator<'_>) -> Option<(IdReason, &[u8])> {
        if value.len() > RECENT_MAX_BYTES {
            let reason = validator.failing(value, &mut self.display)?;
            return Some((reason, &self.display));
        }
        if self.tags.is_empty() {
            self.tags = vec![0; RECENT_SLOTS];
            self.seen = vec![0; RECENT_SLOTS];
            self.kept.resize_with(RECENT_SLOTS, Recent::default);
        }
        // Never 0, which marks an empty slot.
        let tag = short_hash(value) | 1;
        let i = (tag >> (64 - RECENT_SLOTS.trailing_zeros())) as usize % RECENT_SLOTS;
        if self.tags[i] == tag && same(&self.kept[i].value, value) {
            let kept = &self.kept[i];
            return kept.reason.map(|r| (r, kept.display.as_slice()));
        }
        let reason = validator.failing(value, &mut self.display)?;
        // Kept when seen twice in a row in its slot: most failing values
        // are unique, and copying each would cost more than it saves.
        if self.seen[i] != tag {
            self.seen[i] = tag;
            return Some((reason, &self.display));
        }
        self.tags[i] = tag;
        let kept = &mut self.kept[i];
        kept.value.clear();
        kept.value.extend_from_slice(value);
        kept.reason = Some(reason);
        kept.display.clear();
        kept.display.extend_from_slice(&self.display);
        Some((reason, &kept.display))
    }
}

/// What every batch is judged with.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    col: usize,
    validator: &'a Validator<'a>,
    lang: Lang,
    /// `--out`: every failing row put into words.
    every_row: bool,
    frozen: &'a Frozen,
}

/// A worker's reusable state: its own record buffers.
struct Worker {
    /// Built once: building a reader builds its DFA.
    core: Option<csv_core::Reader>,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// The masked value of the row at hand, and recent failing values.
    scratch: Scratch,
}

impl Worker {
    fn new() -> Worker {
        Worker {
            core: Some(csv_core::Reader::new()),
            out: vec![0; MAX_RECORD_BYTES],
            ends: vec![0; MAX_FIELDS],
            scratch: Scratch::default(),
        }
    }

    /// Judges every record of `batch`; with `ctx.every_row`, every failing
    /// row is put into words (for `--out`).
    fn judge(&mut self, batch: Batch, ctx: &Ctx<'_>) -> Judged {
        let mut judged = Judged {
            index: HashMap::with_capacity_and_hasher(1024, FastBuild::default()),
            displays: Vec::with_capacity(16 << 10),
            raw: Vec::with_capacity(16 << 10),
            ..Judged::default()
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        let scratch = &mut scratch;
        let data = batch.block.get(..batch.len).unwrap_or_default();
        #[cfg(test)]
        if memchr::memmem::find(data, tests::WORKER_PANICS).is_some() {
            panic!("a worker met the test's panic marker");
        }
        for seg in &batch.segments {
            match seg {
                Segment::Value(r) => {
                    let value = batch.values.get(r.clone()).unwrap_or_default();
                    judged.add(value, ctx, scratch);
                }
                Segment::TooLong { bytes, fields } => {
                    judged.add_too_long(*bytes, *fields, ctx);
                }
                Segment::Raw(r) => {
                    let run = data.get(r.clone()).unwrap_or_default();
                    self.each_raw_record(run, ctx.col, true, |item| match item {
                        RawItem::Value(value) => judged.add(value, ctx, scratch),
                        RawItem::TooLong { bytes, fields } => {
                            judged.add_too_long(bytes, fields, ctx)
                        }
                    });
                }
            }
        }
        self.scratch = std::mem::take(scratch);
        judged.block = batch.block;
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
        // Every comma and line end, found a word at a time: a line's
        // fields are counted at its commas, and at its end the wanted one
        // is handed on.
        let mut line = 0;
        let mut field = 0;
        let mut value_start = 0;
        let mut value_end = None;
        for i in Delimiters::new(data) {
            if data[i] == b',' {
                if field == col {
                    value_end.get_or_insert(i);
                }
                field += 1;
                if field == col {
                    value_start = i + 1;
                }
                continue;
            }
            let line_len = i - line;
            if line_len >= LONG_LINE {
                self.each_csv_record(&data[line..=i], col, &mut f);
            } else if line_len > 0 {
                let value = if field < col {
                    &[][..]
                } else {
                    &data[value_start..value_end.unwrap_or(i)]
                };
                f(RawItem::Value(value));
            }
            line = i + 1;
            field = 0;
            value_start = line;
            value_end = None;
        }
        if line < data.len() {
            // No line end (never so in a run but the file's last line): as
            // csv-core reads it.
            self.each_csv_record(&data[line..], col, f);
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
                // A run is at most a block, far below MAX_SKIP_BYTES:
                // never endless.
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

/// Bytes [`Delimiters`] looks at in one step.
const CHUNK: usize = 64;

/// The offsets of every comma, `\n` and `\r` of a slice, in order, found
/// [`CHUNK`] bytes at a time: one chunk's matches come from a few vector
/// comparisons (a comma every few bytes is too dense for a search that
/// starts over at each match).
struct Delimiters<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
    /// The last bytes, fewer than a chunk, not yet read.
    tail: &'a [u8],
    /// Offset of the chunk `matches` belongs to.
    base: usize,
    /// Offset of the next chunk.
    next: usize,
    /// One bit per delimiter not yet given, bit i for byte i of the chunk.
    matches: u64,
}

impl<'a> Delimiters<'a> {
    fn new(data: &'a [u8]) -> Delimiters<'a> {
        let chunks = data.chunks_exact(CHUNK);
        Delimiters {
            tail: chunks.remainder(),
            chunks,
            base: 0,
            next: 0,
            matches: 0,
        }
    }

    /// Bit i set iff byte i of `chunk` is a comma, `\n` or `\r`.
    #[inline]
    fn of(chunk: &[u8; CHUNK]) -> u64 {
        // A byte per byte, 1 or 0: the compiler compares sixteen bytes an
        // instruction.
        let mut hit = [0u8; CHUNK];
        for (h, &b) in hit.iter_mut().zip(chunk) {
            *h = u8::from((b == b',') | (b == b'\n') | (b == b'\r'));
        }
        // Eight of them to eight bits with one multiplication: byte j of
        // the factor is 0x80 >> j, so the top byte of the product is the
        // sum of hit[j] << j, and no partial sum carries (each is a
        // distinct bit).
        let mut bits = 0u64;
        for (k, eight) in hit.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(eight);
            let byte = u64::from_le_bytes(w).wrapping_mul(0x0102_0408_1020_4080) >> 56;
            bits |= byte << (8 * k);
        }
        bits
    }
}

impl Iterator for Delimiters<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.matches == 0 {
            let mut chunk = [0u8; CHUNK];
            if let Some(c) = self.chunks.next() {
                chunk.copy_from_slice(c);
            } else if !self.tail.is_empty() {
                // Padded with 0, which is no delimiter.
                chunk[..self.tail.len()].copy_from_slice(self.tail);
                self.tail = &[];
            } else {
                return None;
            }
            self.base = self.next;
            self.next += CHUNK;
            self.matches = Delimiters::of(&chunk);
        }
        let at = self.base + self.matches.trailing_zeros() as usize;
        self.matches &= self.matches - 1;
        Some(at)
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
    let mut cutter = Cutter::new(input, path);
    let headers = cutter.header()?;
    let col = find_column(&headers, column).ok_or_else(|| IdError::MissingColumn {
        path: path.to_owned(),
        column: column.to_owned(),
        headers: headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect(),
    })?;
    cutter.col = col;

    let frozen = Frozen::default();
    let ctx = Ctx {
        col,
        validator,
        lang,
        every_row: failures.is_some(),
        frozen: &frozen,
    };
    let mut merger = Merger {
        report: Report::default(),
        rows: 0,
        failures,
        frozen: &frozen,
    };
    let threads = threads.clamp(1, MAX_THREADS);
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
            let (batch, stop) = cutter.next_batch()?;
            let mut judged = worker.judge(batch, &ctx);
            cutter.recycle(std::mem::take(&mut judged.block));
            merger.merge(judged)?;
            if let Some(stop) = stop {
                return finish(stop, merger);
            }
        }
    }
    // One queue of batches for every worker: whichever is free takes the
    // next, so a worker sharing its core with this thread's reading holds
    // no other worker up. Results come back numbered and are merged in
    // file order.
    let in_flight = threads + 2;
    let (job_tx, job_rx) = mpsc::sync_channel::<(usize, Batch)>(threads);
    let job_rx = Mutex::new(job_rx);
    // Room for every batch out, so a worker never waits to hand one back.
    // `None`: the worker judging that batch panicked.
    let (res_tx, res_rx) = mpsc::sync_channel::<(usize, Option<Judged>)>(in_flight);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (ctx, job_rx, res_tx) = (&ctx, &job_rx, res_tx.clone());
            scope.spawn(move || {
                let mut worker = Worker::new();
                loop {
                    // The lock is held only to take a batch, never while
                    // judging one; a poisoned lock means a worker panicked,
                    // and the merger sees the results stop.
                    let Ok(job) = job_rx.lock().map(|rx| rx.recv()) else {
                        break;
                    };
                    let Ok((n, batch)) = job else { break };
                    let judging = Judging {
                        batch: n,
                        results: &res_tx,
                    };
                    let judged = worker.judge(batch, ctx);
                    drop(judging);
                    if res_tx.send((n, Some(judged))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        // Judged batches that came back before the one to merge next, by
        // number modulo `in_flight` (at most that many are ever out).
        let mut early: Vec<Option<Judged>> = (0..in_flight).map(|_| None).collect();
        let (mut sent, mut merged) = (0usize, 0usize);
        let take = |merged: &mut usize,
                    early: &mut Vec<Option<Judged>>,
                    merger: &mut Merger<'_, '_>,
                    cutter: &mut Cutter<R>|
         -> Result<(), IdError> {
            let mut judged = loop {
                if let Some(j) = early[*merged % in_flight].take() {
                    break j;
                }
                let (n, j) = res_rx.recv().map_err(|_| IdError::Worker)?;
                early[n % in_flight] = Some(j.ok_or(IdError::Worker)?);
            };
            *merged += 1;
            cutter.recycle(std::mem::take(&mut judged.block));
            merger.merge(judged)
        };
        let outcome = loop {
            let (batch, stop) = match cutter.next_batch() {
                Ok(x) => x,
                Err(e) => break Err(e),
            };
            if sent - merged == in_flight
                && let Err(e) = take(&mut merged, &mut early, &mut merger, &mut cutter)
            {
                break Err(e);
            }
            if !batch.is_empty() {
                if job_tx.send((sent, batch)).is_err() {
                    break Err(IdError::Worker);
                }
                sent += 1;
            }
            if let Some(stop) = stop {
                break Ok(stop);
            }
        };
        drop(job_tx);
        // Rows before an error are written as a sequential run writes them.
        while merged < sent {
            take(&mut merged, &mut early, &mut merger, &mut cutter)?;
        }
        finish(outcome?, merger)
    })
}

/// A batch a worker is judging: should the worker panic, the merger is
/// told the batch will never come back, and stops waiting for it (the
/// other workers would otherwise wait for batches it never sends).
struct Judging<'a> {
    batch: usize,
    results: &'a mpsc::SyncSender<(usize, Option<Judged>)>,
}

impl Drop for Judging<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.results.send((self.batch, None));
        }
    }
}

/// Why reading stopped.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// The end of the file.
    Eof,
    /// A record went on past [`MAX_SKIP_BYTES`].
    Endless { bytes: u64 },
}

/// Reads the file block by block and cuts each block into batches of whole
/// records: lines without a quote character are left where they were read
/// (raw runs, split by a worker); a record with a quote, and the partial
/// line at the end of a block, go through this thread's `csv-core` reader,
/// which carries a record across blocks.
struct Cutter<'p, R> {
    input: R,
    path: &'p str,
    /// The audited column, taken from records parsed here.
    col: usize,
    /// A record being parsed, perhaps across blocks.
    rec: Pending,
    /// Blocks handed back by the workers, to read into again.
    free: Vec<Vec<u8>>,
    /// The first block, kept from reading the header.
    first: Option<(Vec<u8>, usize, usize)>,
    eof: bool,
}

/// The record `csv-core` is in the middle of: at most
/// [`MAX_RECORD_BYTES`] and [`MAX_FIELDS`] kept, whatever its length.
struct Pending {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    outlen: usize,
    nfields: usize,
    bytes: u64,
    fields: u64,
    over: bool,
    /// Whether a record has begun and not ended.
    open: bool,
    /// A too-long header is not waited for.
    header: bool,
}

impl Pending {
    fn new() -> Pending {
        Pending {
            core: csv_core::Reader::new(),
            out: vec![0; MAX_RECORD_BYTES],
            ends: vec![0; MAX_FIELDS],
            outlen: 0,
            nfields: 0,
            bytes: 0,
            fields: 0,
            over: false,
            open: false,
            header: true,
        }
    }

    /// Feeds `data` (empty: the end of the input) to the record; gives
    /// the bytes consumed and, when the record ended, how.
    fn feed(&mut self, data: &[u8]) -> (usize, Option<Next>) {
        let eof = data.is_empty();
        if !self.open {
            self.open = true;
            self.outlen = 0;
            self.nfields = 0;
            self.bytes = 0;
            self.fields = 0;
            self.over = false;
        }
        let mut pos = 0;
        loop {
            let (res, nin, nout, nend) = self.core.read_record(
                &data[pos..],
                &mut self.out[self.outlen..],
                &mut self.ends[self.nfields..],
            );
            pos += nin;
            self.outlen += nout;
            self.nfields += nend;
            self.bytes += nout as u64;
            self.fields += nend as u64;
            use csv_core::ReadRecordResult as R;
            let (bytes, fields) = (self.bytes, self.fields);
            let done = match res {
                R::InputEmpty if eof => Next::End,
                R::InputEmpty => return (pos, None),
                R::OutputFull | R::OutputEndsFull => {
                    // Read on (into the same buffers) to the record's end.
                    self.over = true;
                    self.outlen = 0;
                    self.nfields = 0;
                    if self.header || bytes > MAX_SKIP_BYTES {
                        Next::Endless { bytes, fields }
                    } else {
                        continue;
                    }
                }
                R::Record if self.over => Next::TooLong { bytes, fields },
                R::Record => Next::Record,
                R::End => Next::End,
            };
            self.open = false;
            self.header = false;
            return (pos, Some(done));
        }
    }

    /// Field `i` of the record just ended; empty when it is shorter.
    fn field(&self, i: usize) -> &[u8] {
        if i >= self.nfields {
            return &[];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.out.get(start..self.ends[i]).unwrap_or_default()
    }
}

impl<'p, R: io::Read> Cutter<'p, R> {
    fn new(input: R, path: &'p str) -> Cutter<'p, R> {
        Cutter {
            input,
            path,
            col: 0,
            rec: Pending::new(),
            free: Vec::new(),
            first: None,
            eof: false,
        }
    }

    fn read_err(&self, e: &io::Error) -> IdError {
        IdError::Read {
            path: self.path.to_owned(),
            cause: IoCause::from_error(e),
        }
    }

    /// Reads a whole block (fewer bytes only at the end of the input).
    fn read_block(&mut self) -> Result<(Vec<u8>, usize), IdError> {
        let mut block = self.free.pop().unwrap_or_default();
        block.resize(BLOCK_BYTES, 0);
        let mut len = 0;
        while len < block.len() && !self.eof {
            match self.input.read(&mut block[len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_err(&e)),
            }
        }
        Ok((block, len))
    }

    /// A block a worker is done with.
    fn recycle(&mut self, block: Vec<u8>) {
        if block.capacity() >= BLOCK_BYTES {
            self.free.push(block);
        }
    }

    /// Reads the header record (after a UTF-8 byte order mark, which
    /// spreadsheet exports start with and which is not part of the first
    /// header).
    fn header(&mut self) -> Result<Vec<Vec<u8>>, IdError> {
        let mut skip_bom = true;
        loop {
            let (block, len) = self.read_block()?;
            let mut pos = 0;
            if skip_bom {
                skip_bom = false;
                if block[..len].starts_with(UTF8_BOM) {
                    pos = UTF8_BOM.len();
                }
            }
            let (used, next) = self.rec.feed(&block[pos..len]);
            pos += used;
            let next = match next {
                Some(n) => Some(n),
                None if len < BLOCK_BYTES => self.rec.feed(&[]).1,
                None => None,
            };
            match next {
                None => {
                    self.recycle(block);
                    continue;
                }
                Some(Next::Record) => {
                    self.first = Some((block, pos, len));
                    return Ok((0..self.rec.nfields)
                        .map(|i| self.rec.field(i).to_vec())
                        .collect());
                }
                Some(Next::End) => {
                    self.first = Some((block, pos, len));
                    return Ok(Vec::new());
                }
                Some(Next::TooLong { bytes, fields } | Next::Endless { bytes, fields }) => {
                    return Err(IdError::HeaderTooLong {
                        path: self.path.to_owned(),
                        bytes,
                        fields,
                    });
                }
            }
        }
    }

    /// The next block's records, and whether reading stopped after them.
    fn next_batch(&mut self) -> Result<(Batch, Option<Stop>), IdError> {
        let (block, start, len) = match self.first.take() {
            Some(first) => first,
            None => {
                let (block, len) = self.read_block()?;
                (block, 0, len)
            }
        };
        let mut batch = Batch {
            block,
            len,
            values: Vec::new(),
            segments: Vec::new(),
        };
        let mut pos = start;
        while pos < len {
            if !self.rec.open {
                // At a record boundary: lines before the first quote
                // character (cut at a line end) hold whole unquoted
                // records, left raw for a worker to parse.
                let rest = &batch.block[pos..len];
                let quote = memchr::memchr(b'"', rest).unwrap_or(rest.len());
                if let Some(n) = memchr::memrchr2(b'\n', b'\r', &rest[..quote]) {
                    batch.push_raw(pos..pos + n + 1);
                    pos += n + 1;
                    continue;
                }
            }
            // A quoted record, or the partial line at the block's end:
            // one record here, perhaps continued in the next block.
            let (used, next) = self.rec.feed(&batch.block[pos..len]);
            pos += used;
            if let Some(next) = next
                && let Some(stop) = self.ended(next, &mut batch)
            {
                return Ok((batch, Some(stop)));
            }
        }
        if len < BLOCK_BYTES {
            // The end of the input: a record in progress ends with it.
            if self.rec.open
                && let (_, Some(next)) = self.rec.feed(&[])
                && let Some(stop) = self.ended(next, &mut batch)
            {
                return Ok((batch, Some(stop)));
            }
            return Ok((batch, Some(Stop::Eof)));
        }
        Ok((batch, None))
    }

    /// Puts a record this thread parsed into `batch`; gives why reading
    /// stops, if it does.
    fn ended(&mut self, next: Next, batch: &mut Batch) -> Option<Stop> {
        match next {
            Next::Record => {
                let value = self.rec.field(self.col);
                batch.push_value(value);
                None
            }
            Next::TooLong { bytes, fields } => {
                batch.segments.push(Segment::TooLong { bytes, fields });
                None
            }
            Next::Endless { bytes, .. } => Some(Stop::Endless { bytes }),
            Next::End => Some(Stop::Eof),
        }
    }
}

/// Merges judged batches in file order into the report and `--out`.
struct Merger<'f, 'v> {
    report: Report,
    rows: u64,
    failures: Option<&'f mut FailureWriter>,
    frozen: &'v Frozen,
}

impl Merger<'_, '_> {
    fn merge(&mut self, judged: Judged) -> Result<(), IdError> {
        self.report.tally.merge(judged.tally);
        // Rows counted against frozen examples.
        for (ri, counts) in judged.frozen_counts.iter().enumerate() {
            let (Some(&reason), Some(set)) = (
                IdReason::ALL.get(ri),
                self.frozen.sets.get(ri).and_then(OnceLock::get),
            ) else {
                continue;
            };
            let ex = self.report.examples_of(reason);
            for (id, &n) in counts.iter().enumerate() {
                if n > 0
                    && let Some(e) = set.values.get(id).and_then(|v| ex.seen.get_mut(v))
                {
                    e.count += n;
                }
            }
        }
        // In order of first row, as a sequential run meets them: the same
        // values become examples, with the same counts.
        for d in &judged.distinct {
            let display = judged.displays.get(d.display.clone()).unwrap_or_default();
            self.report.examples_of(d.reason).add_many(
                &String::from_utf8_lossy(display),
                self.rows + d.row,
                d.count,
                || match &d.source {
                    Source::Value(r) => {
                        Said::Value(judged.raw.get(r.clone()).unwrap_or_default().into())
                    }
                    Source::TooLong { bytes, fields } => Said::TooLong {
                        bytes: *bytes,
                        fields: *fields,
                    },
                },
            );
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
        self.freeze();
        Ok(())
    }

    /// Publishes the examples of every reason that has all it can hold
    /// (without `--out`, which puts every row into words anyway).
    fn freeze(&mut self) {
        if self.failures.is_some() {
            return;
        }
        for (reason, ex) in &self.report.examples {
            let Some(slot) = self.frozen.sets.get(*reason as usize) else {
                continue;
            };
            if ex.seen.len() < MAX_DISTINCT || slot.get().is_some() {
                continue;
            }
            let _ = slot.set(FrozenSet::new(ex.seen.keys().cloned().collect()));
        }
    }
}

/// The verdict on a record too long to read: a `length` failure, so it is
/// counted, shown among the examples and written to `--out` like any other.
fn record_too_long(bytes: u64, fields: u64, lang: Lang) -> posdiag_ids::Validation<'static> {
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
    posdiag_ids::Validation::with_texts(
        None,
        Some(IdReason::Length),
        display,
        posdiag_ids::Texts {
            message,
            expected: Text::new("", ""),
            suggestion: Text::new(
                "check the file for a missing closing quote or a cell pasted with a whole document",
                "请检查文件中是否缺少闭合引号，或某个单元格中粘贴了整篇文档",
            ),
            notes: Vec::new(),
        },
    )
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
    validator: &Validator<'_>,
    (path, column): (&str, &str),
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
                    Cell::new(e.message(validator, lang)),
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
                    let message = e.message(&Validator::of_kind(Kind::Luhn), Lang::En);
                    s.push_str(&format!(
                        "{reason:?} {} {} {} {message}\n",
                        e.value, e.count, e.first_row
                    ));
                }
            }
        }
        s
    }

    #[test]
    fn short_values_compare_as_slices_do() {
        let values: Vec<Vec<u8>> = (0..=20usize)
            .flat_map(|n| {
                (0..n.max(1)).map(move |flip| {
                    let mut v: Vec<u8> = (0..n as u8).map(|i| b'0' + i % 10).collect();
                    if let Some(b) = v.get_mut(flip) {
                        *b = b'x';
                    }
                    v
                })
            })
            .collect();
        for a in &values {
            for b in &values {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn delimiters_are_every_comma_and_line_end_in_order() {
        let mut x = 11u64;
        for len in 0..200usize {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    // Delimiters, their neighbours (+/-1, the high bit set)
                    // and plain bytes.
                    b",\n\r+-\x0b\x0c\xac\x8a\x8d\0a1\xff"[(x >> 33) as usize % 14]
                })
                .collect();
            let expected: Vec<usize> = data
                .iter()
                .enumerate()
                .filter(|(_, b)| matches!(b, b',' | b'\n' | b'\r'))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                Delimiters::new(&data).collect::<Vec<_>>(),
                expected,
                "{data:?}"
            );
        }
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

    /// What a sequential reading with the `csv` crate (the same
    /// `csv-core` reader, one record after another) finds: the report a
    /// user must get whatever the blocks and threads.
    fn sequential(csv_bytes: &[u8], column: &str) -> String {
        let body = csv_bytes.strip_prefix(UTF8_BOM).unwrap_or(csv_bytes);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let mut rec = csv::ByteRecord::new();
        assert!(rdr.read_byte_record(&mut rec).expect("header"));
        let headers: Vec<Vec<u8>> = rec.iter().map(<[u8]>::to_vec).collect();
        let col = find_column(&headers, column).expect("column");
        let mut report = Report::default();
        let mut row = 0;
        let v = Validator::of_kind(Kind::Luhn);
        while rdr.read_byte_record(&mut rec).expect("record") {
            row += 1;
            let full = v.validate(rec.get(col).unwrap_or_default());
            report.tally.add_validation(&full);
            if let Some(r) = full.reason {
                report
                    .examples_of(r)
                    .add(&full.display, row, full.message().get(Lang::En));
            }
        }
        seen(&report)
    }

    /// An export of several blocks whose quoted records (with line ends,
    /// CRLF and doubled quotes inside) straddle block boundaries, with
    /// CRLF split across a boundary, a stray quote inside an unquoted
    /// field, empty lines, lone CR line ends, and a last line without a
    /// line end.
    fn tricky_export(blocks: usize) -> Vec<u8> {
        let mut csv = b"\xEF\xBB\xBFname,id,note\r\n".to_vec();
        let mut x = 11u64;
        let mut i = 0u64;
        let mut straddled = 0;
        while csv.len() < blocks * BLOCK_BYTES + 5000 {
            i += 1;
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let boundary = (csv.len() / BLOCK_BYTES + 1) * BLOCK_BYTES;
            let id = 79927398713u64 + (x >> 40) % 4000 * 10;
            if boundary - csv.len() < 40 && straddled < csv.len() / BLOCK_BYTES + 1 {
                straddled += 1;
                match straddled % 3 {
                    // A quoted record with line ends across the boundary.
                    1 => csv.extend_from_slice(
                        format!("\"Li,\n\"\"Lei\"\"\r\n{i}\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\",\"{id}\",x\r\n").as_bytes(),
                    ),
                    // CR at the block's last byte, LF at the next one's first.
                    2 => {
                        let pad = boundary - csv.len() - 1;
                        let mut line = format!("n,{id},");
                        while line.len() < pad {
                            line.push('y');
                        }
                        line.truncate(pad);
                        csv.extend_from_slice(line.as_bytes());
                        csv.extend_from_slice(b"\r\n");
                    }
                    // A quoted value cut by the boundary.
                    _ => {
                        let pad = boundary - csv.len() - 4;
                        csv.extend_from_slice(&vec![b'z'; pad]);
                        csv.extend_from_slice(format!(",\"{id}\",q\n").as_bytes());
                    }
                }
                continue;
            }
            match x >> 59 {
                0 => csv.extend_from_slice(format!("\"W, {i}\",{id},\"a\"\"b\"\n").as_bytes()),
                1 => csv.extend_from_slice(b"\n\r\n"),
                2 => csv.extend_from_slice(format!("5\" pos,{},x\r", id + 1).as_bytes()),
                3 => csv.extend_from_slice(format!("short{i}\n").as_bytes()),
                4 => csv.extend_from_slice(format!("n{i},{id},\"multi\nline\"\r\n").as_bytes()),
                _ => csv.extend_from_slice(format!("n{i},{id},note\n").as_bytes()),
            }
        }
        csv.extend_from_slice(b"last,79927398713,end");
        csv
    }

    /// Bytes that make a worker panic (a test build's hook in
    /// `Worker::judge`): a bug in a worker must end the audit, not hang it.
    pub(super) const WORKER_PANICS: &[u8] = b"\x01worker panics\x01";

    #[test]
    fn a_worker_that_panics_ends_the_audit_instead_of_hanging_it() {
        // More blocks after it than are ever out at once: the reading waits
        // for the lost batch while the other workers wait for more.
        let mut csv = tricky_export(2 * 3 + 6);
        // In the third block, with batches still out before and after it.
        let at = 2 * BLOCK_BYTES + 100;
        let line_end = at + csv[at..].iter().position(|&b| b == b'\n').expect("a line");
        let mut line = b"x,".to_vec();
        line.extend_from_slice(WORKER_PANICS);
        line.extend_from_slice(b",y\n");
        csv.splice(line_end + 1..line_end + 1, line);
        for threads in [2, 3] {
            let outcome = std::panic::catch_unwind(|| run_on(&csv, "id", threads));
            // The worker's panic comes through once every thread is joined.
            assert!(outcome.is_err(), "{threads} threads: {outcome:?}");
        }
    }

    /// More blocks than are ever out at once: batches come back from the
    /// workers in any order and are still merged in file order.
    #[test]
    fn many_blocks_are_merged_in_file_order_whichever_worker_ends_first() {
        let csv = tricky_export(2 * 3 + 3);
        let want = sequential(&csv, "id");
        for threads in [2, 3] {
            let many = run_on(&csv, "id", threads).expect("audits");
            assert_eq!(seen(&many), want, "{threads} threads");
        }
    }

    #[test]
    fn blocks_and_threads_read_what_a_sequential_csv_reader_reads() {
        let csv = tricky_export(3);
        let want = sequential(&csv, "id");
        let one = run_on(&csv, "id", 1).expect("audits");
        assert!(one.tally.total > 50_000, "{:?}", one.tally);
        assert!(one.tally.invalid() > 1000 && one.tally.valid > 1000);
        assert_eq!(seen(&one), want, "--threads 1");
        for threads in [2, 3] {
            let many = run_on(&csv, "id", threads).expect("audits");
            assert_eq!(seen(&many), want, "{threads} threads");
        }
        // A reader handing out a few bytes at a time cuts blocks the same.
        struct Trickle<'a>(&'a [u8], usize);
        impl io::Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = self.1 % 7 + 1;
                let n = self.0.len().min(buf.len()).min(self.1 * 997);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let r = audit(
            Trickle(&csv, 0),
            "t.csv",
            "id",
            &Validator::of_kind(Kind::Luhn),
            Lang::En,
            None,
            2,
        )
        .expect("audits");
        assert_eq!(seen(&r), want, "trickled");
    }

    #[test]
    fn huge_records_quoted_or_not_are_skipped_alike_on_any_number_of_threads() {
        let mut csv = b"id,name\n79927398713,a\n".to_vec();
        // Unquoted, then quoted with line ends: both longer than a record
        // may be, both across several blocks.
        csv.extend(std::iter::repeat_n(b'7', MAX_RECORD_BYTES + BLOCK_BYTES));
        csv.extend_from_slice(b",x\n79927398710,b\n\"");
        for _ in 0..(MAX_RECORD_BYTES / 4 + 10) {
            csv.extend_from_slice(b"1\n2,");
        }
        csv.extend_from_slice(b"\",y\r\n79927398713,c");
        let one = run_on(&csv, "id", 1).expect("audits");
        assert_eq!(
            (one.tally.total, one.tally.valid),
            (5, 2),
            "{:?}",
            one.tally
        );
        let too_long = one
            .examples
            .iter()
            .find(|(r, _)| *r == IdReason::Length)
            .map(|(_, e)| e.top(9).len());
        assert_eq!(too_long, Some(2));
        for threads in [2, 4] {
            assert_eq!(
                seen(&run_on(&csv, "id", threads).expect("audits")),
                seen(&one)
            );
        }
    }

    #[test]
    fn examples_frozen_while_workers_run_count_as_a_sequential_run_counts() {
        // Far more distinct failing values than a reason keeps, repeated
        // all over the file: counted against the frozen examples.
        let mut csv = b"id\n".to_vec();
        for i in 0..400_000u64 {
            csv.extend_from_slice(format!("{}\n", 1000 + (i * 7919) % 3000).as_bytes());
        }
        let want = sequential(&csv, "id");
        for threads in [1, 2, 3] {
            assert_eq!(seen(&run_on(&csv, "id", threads).expect("audits")), want);
        }
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
