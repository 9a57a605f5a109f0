//! `posdiag id validate`: values from the command line or one per line from
//! standard input, validated in this process (`--local`) or by posdiagd's
//! `ValidateIds` stream, printed in input order as they come.
//!
//! Both paths stream: one line is read, validated and printed before the
//! next, so memory stays flat over millions of lines. The local `--summary`
//! path with a fixed kind and no rule set is the hot loop the benchmark
//! measures: no allocation per line, the library's message-free `check`.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use posdiag_core::Lang;
use posdiag_ids::{IdReason, KindSel, RuleSet};
use posdiag_proto::v1;
use posdiag_proto::v1::id_service_client::IdServiceClient;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};

use super::lines::{Chunk, Line, fold_lines_parallel, for_each_line};
use super::render::{print_summary, write_result};
use super::{IdError, Tally, ValidateArgs, kind_sel_name, local_rule_set, parse_kind, to_proto};
use crate::commands::Context;
use crate::error::{CliError, IoCause};
use crate::output::Output;
use crate::term::{Masked, MaskedText};

/// Values queued between the stdin reader and the gRPC stream: enough to
/// keep the stream busy, few enough that memory stays flat.
const QUEUE: usize = 256;

/// Threads counting a `--summary` at most.
const MAX_THREADS: usize = 8;

/// Output buffer: one write per 64 KiB of results.
const OUT_BUFFER_BYTES: usize = 64 * 1024;

/// Where the values come from.
enum Source {
    Args(Vec<Vec<u8>>),
    Stdin,
}

impl Source {
    fn of(args: &ValidateArgs) -> Source {
        if args.values.is_empty() {
            Source::Stdin
        } else {
            Source::Args(
                args.values
                    .iter()
                    .map(|v| v.as_encoded_bytes().to_vec())
                    .collect(),
            )
        }
    }

    /// Calls `each` with every value in order; `before_read` runs before
    /// blocking on more input.
    fn for_each<B, F>(self, mut before_read: B, mut each: F) -> Result<(), CliError>
    where
        B: FnMut() -> Result<(), CliError>,
        F: FnMut(Line<'_>) -> Result<(), CliError>,
    {
        match self {
            Source::Args(values) => values.iter().try_for_each(|v| {
                each(Line {
                    bytes: v,
                    cut_from: None,
                })
            }),
            Source::Stdin => {
                let stdin = io::stdin().lock();
                for_each_line(
                    stdin,
                    || before_read().map_err(StdinError),
                    |line| each(line).map_err(StdinError),
                )
                .map_err(|e: StdinError| e.0)
            }
        }
    }
}

/// A failure while reading standard input or handling a line.
struct StdinError(CliError);

impl From<io::Error> for StdinError {
    fn from(e: io::Error) -> StdinError {
        StdinError(
            IdError::Read {
                path: String::new(),
                cause: IoCause::from_error(&e),
            }
            .into(),
        )
    }
}

/// `posdiag id validate`.
pub async fn run(args: ValidateArgs, ctx: &Context) -> Result<u8, CliError> {
    let kind = parse_kind(&args.kind)?;
    if args.local {
        let rules = local_rule_set(
            args.config.as_deref(),
            args.rules.as_deref(),
            args.terminal.as_deref(),
        )?;
        let source = Source::of(&args);
        let mut stdout = crate::term::stdout();
        if let (Source::Stdin, false) = (&source, args.summary) {
            return validate_stdin(kind, rules.as_deref(), &ctx.out, &mut stdout);
        }
        validate_local(source, kind, rules, args.summary, &ctx.out, &mut stdout)
    } else {
        validate_daemon(args, kind, ctx).await
    }
}

/// A line cut at [`super::lines::MAX_VALUE_BYTES`] is invalid whatever its
/// first megabyte says: no identifier is that long.
pub fn mark_cut(r: &mut v1::IdResult, full_len: u64, lang: Lang) {
    r.valid = false;
    r.reason = IdReason::Length.code().to_owned();
    r.message = crate::i18n::line_too_long(full_len).get(lang).to_owned();
    r.expected.clear();
    r.looks_like.clear();
    r.display = crate::i18n::line_too_long_display(full_len)
        .get(lang)
        .to_owned();
    r.suggestion = crate::i18n::line_too_long_suggestion().get(lang).to_owned();
}

/// The local path: validate in this process and write to `stdout`.
fn validate_local<W: Write>(
    source: Source,
    kind: KindSel,
    rules: Option<Arc<RuleSet>>,
    summary: bool,
    out: &Output,
    stdout: &mut W,
) -> Result<u8, CliError> {
    let mut tally = Tally::default();
    if summary {
        // With a fixed kind and no rule set, the verdict alone will do.
        let fast = match (kind, rules.as_deref()) {
            (KindSel::Kind(k), None) => Some(k),
            _ => None,
        };
        let count = |t: &mut Tally, line: Line<'_>| match (line.cut_from, fast) {
            (Some(_), _) => t.add(Some(IdReason::Length)),
            (None, Some(k)) => t.add(posdiag_ids::check(line.bytes, k).err()),
            // The verdict validate() gives, without its sentences.
            (None, None) => {
                t.add(posdiag_ids::check_with(line.bytes, kind, rules.as_deref()).err())
            }
        };
        match source {
            Source::Stdin => {
                // Counting does not care about order: every core takes a
                // share of each chunk.
                let threads = std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .min(MAX_THREADS);
                tally = fold_lines_parallel(
                    io::stdin().lock(),
                    threads,
                    Tally::default,
                    count,
                    Tally::merge,
                )
                .map_err(|e| IdError::Read {
                    path: String::new(),
                    cause: IoCause::from_error(&e),
                })?;
            }
            Source::Args(_) => source.for_each(
                || Ok(()),
                |line| {
                    count(&mut tally, line);
                    Ok(())
                },
            )?,
        }
        print_summary(&tally.to_proto(), out, stdout)?;
        return Ok(tally.exit_code());
    }
    let w = std::cell::RefCell::new(BufWriter::with_capacity(OUT_BUFFER_BYTES, stdout));
    let mut index = 0u64;
    let result = source.for_each(
        // Answer everything read so far before waiting for more input.
        || w.borrow_mut().flush().map_err(CliError::Output),
        |line| {
            let v = posdiag_ids::validate(line.bytes, kind, rules.as_deref());
            let mut r = to_proto(&v, out.lang, index);
            if let Some(full) = line.cut_from {
                mark_cut(&mut r, full, out.lang);
            }
            index += 1;
            tally.add_result(&r);
            write_one(&r, out, &mut *w.borrow_mut())
        },
    );
    let flushed = w.into_inner().flush();
    result?;
    flushed?;
    Ok(tally.exit_code())
}

/// Bytes of input below which a read's lines are validated on this
/// thread: an interactive user's line, or a trickle from a pipe.
const PARALLEL_MIN_BYTES: usize = 16 << 10;

/// Standard input, a read at a time: the read's lines shared out among
/// the cores, each share validated, written and masked into its own
/// buffer, the buffers written in input order — the output of a
/// sequential run, byte for byte — and flushed before the next read, so
/// an interactive user sees each answer before typing the next value.
fn validate_stdin<W: Write>(
    kind: KindSel,
    rules: Option<&RuleSet>,
    out: &Output,
    stdout: &mut Masked<W>,
) -> Result<u8, CliError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS);
    validate_chunks(io::stdin().lock(), kind, rules, out, stdout, threads)
}

/// One share of a read's lines: its results, masked, and their count.
#[derive(Default)]
struct Share {
    /// The results as written, before masking (kept for its capacity).
    text: Vec<u8>,
    masked: MaskedText,
    tally: Tally,
    lines: u64,
}

/// [`validate_stdin`] over any input, on `threads` threads.
fn validate_chunks<R: io::Read, W: Write>(
    input: R,
    kind: KindSel,
    rules: Option<&RuleSet>,
    out: &Output,
    stdout: &mut Masked<W>,
    threads: usize,
) -> Result<u8, CliError> {
    let w = std::cell::RefCell::new(stdout);
    let mut tally = Tally::default();
    let mut index = 0u64;
    // Reused: a share's buffer grows once, not per read.
    let mut shares: Vec<Share> = (0..threads.max(1)).map(|_| Share::default()).collect();
    // The lines of `data`, the first numbered `first`, into `share`.
    let judge = |data: &[u8], first: u64, share: &mut Share| -> Result<(), CliError> {
        share.text.clear();
        share.tally = Tally::default();
        let mut i = first;
        super::lines::each_line_in(data, |line| {
            one_result(line, i, kind, rules, out, &mut share.text, &mut share.tally)?;
            i += 1;
            Ok::<(), CliError>(())
        })?;
        share.lines = i - first;
        mask_into(&share.text, &mut share.masked);
        Ok(())
    };
    let result = super::lines::for_each_chunk(
        input,
        || {
            w.borrow_mut()
                .flush()
                .map_err(|e| StdinError(CliError::Output(e)))
        },
        |chunk| {
            let used = match chunk {
                Chunk::One(line) => {
                    let share = &mut shares[0];
                    share.text.clear();
                    share.tally = Tally::default();
                    one_result(
                        line,
                        index,
                        kind,
                        rules,
                        out,
                        &mut share.text,
                        &mut share.tally,
                    )
                    .map_err(StdinError)?;
                    share.lines = 1;
                    mask_into(&share.text, &mut share.masked);
                    1
                }
                Chunk::Lines(data) => {
                    let n = if data.len() < PARALLEL_MIN_BYTES {
                        1
                    } else {
                        shares.len()
                    };
                    let parts = super::lines::split_at_lines(data, n);
                    // Where each share's lines start.
                    let mut firsts = Vec::with_capacity(parts.len());
                    let mut at = index;
                    for p in &parts {
                        firsts.push(at);
                        at += line_count(p);
                    }
                    let judge = &judge;
                    let outcomes: Vec<Result<(), CliError>> = std::thread::scope(|s| {
                        let mut jobs = parts.iter().zip(&firsts).zip(shares.iter_mut());
                        let here = jobs.next();
                        let handles: Vec<_> = jobs
                            .map(|((p, &f), share)| s.spawn(move || judge(p, f, share)))
                            .collect();
                        let mut all = Vec::with_capacity(parts.len());
                        if let Some(((p, &f), share)) = here {
                            all.push(judge(p, f, share));
                        }
                        for h in handles {
                            all.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
                        }
                        all
                    });
                    for o in outcomes {
                        o.map_err(StdinError)?;
                    }
                    parts.len()
                }
            };
            for share in &mut shares[..used] {
                w.borrow_mut()
                    .write_masked(&share.masked)
                    .map_err(|e| StdinError(CliError::Output(e)))?;
                tally.merge(std::mem::take(&mut share.tally));
                index += share.lines;
            }
            Ok(())
        },
    )
    .map_err(|e: StdinError| e.0);
    let flushed = w.into_inner().flush();
    result?;
    flushed?;
    Ok(tally.exit_code())
}

/// Output masked a piece at a time (pieces of whole lines): the masked
/// copy of each piece is small, `masked` keeps its buffer across reads.
fn mask_into(text: &[u8], masked: &mut MaskedText) {
    const PIECE: usize = 64 << 10;
    masked.clear();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = if rest.len() <= PIECE {
            rest.len()
        } else {
            memchr::memchr(b'\n', &rest[PIECE..]).map_or(rest.len(), |i| PIECE + i + 1)
        };
        masked.push_lines(&rest[..cut]);
        rest = &rest[cut..];
    }
}

/// One value's result written to `buf`, counted in `tally`.
fn one_result(
    line: Line<'_>,
    index: u64,
    kind: KindSel,
    rules: Option<&RuleSet>,
    out: &Output,
    buf: &mut Vec<u8>,
    tally: &mut Tally,
) -> Result<(), CliError> {
    let v = posdiag_ids::validate(line.bytes, kind, rules);
    let mut r = to_proto(&v, out.lang, index);
    if let Some(full) = line.cut_from {
        mark_cut(&mut r, full, out.lang);
    }
    tally.add_result(&r);
    write_one(&r, out, buf)
}

/// Lines in `data` (whole lines; the last may lack its `\n`).
fn line_count(data: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', data).count() as u64;
    n + u64::from(!data.is_empty() && data.last() != Some(&b'\n'))
}

/// One result as a JSON line or a human block.
fn write_one<W: Write>(r: &v1::IdResult, out: &Output, w: &mut W) -> Result<(), CliError> {
    if out.json {
        // Straight to JSON: the bytes of `to_json`, without a reflected
        // message per value.
        super::json::write_id_result(r, w)?;
    } else {
        write_result(r, out, w)?;
    }
    Ok(())
}

/// The one place an IdService status becomes an error: INVALID_ARGUMENT
/// (unknown rule set or terminal) is a usage error of `posdiag id`, exit 2.
pub fn id_status(status: tonic::Status, endpoint: &str) -> CliError {
    if status.code() == tonic::Code::InvalidArgument {
        return IdError::Rejected(status.message().to_owned()).into();
    }
    CliError::from_status(status, endpoint)
}

/// The daemon path: a thread feeds the values into the request stream (stdin
/// reads block, and a blocked read must not keep the process alive once the
/// answer is complete or failed); results are printed as they arrive.
async fn validate_daemon(args: ValidateArgs, kind: KindSel, ctx: &Context) -> Result<u8, CliError> {
    let endpoint = ctx.endpoint.to_string();
    let out = ctx.out;
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::ValidateIdRequest>(QUEUE);
    // Indices and full lengths of lines cut to MAX_VALUE_BYTES; sent before
    // the value itself, so known when its result arrives.
    let (cut_tx, mut cut_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, u64)>();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<Result<(), CliError>>();
    let mut first = Some(v1::ValidateIdRequest {
        value: Vec::new(),
        kind: kind_sel_name(kind).to_owned(),
        rules: args.rules.clone().unwrap_or_default(),
        terminal_id: args.terminal.clone().unwrap_or_default(),
        lang: out.lang.tag().to_owned(),
    });
    let source = Source::of(&args);
    std::thread::Builder::new()
        .name("posdiag-id-input".into())
        .spawn(move || {
            let mut index = 0u64;
            let res = source.for_each(
                || Ok(()),
                |line| {
                    if let Some(full) = line.cut_from {
                        let _ = cut_tx.send((index, full));
                    }
                    let mut req = first.take().unwrap_or_default();
                    req.value = line.bytes.to_vec();
                    index += 1;
                    // The receiver is gone when the call failed: stop reading.
                    tx.blocking_send(req)
                        .map_err(|_| CliError::Internal("request stream closed".into()))
                },
            );
            // The outcome first, then the end of the request stream.
            let _ = done_tx.send(res);
            drop(tx);
        })
        .map_err(CliError::Output)?;

    let mut stream = IdServiceClient::new(channel)
        .validate_ids(ReceiverStream::new(rx))
        .await
        .map_err(|s| id_status(s, &endpoint))?
        .into_inner();
    let mut stdout = BufWriter::with_capacity(OUT_BUFFER_BYTES, crate::term::stdout());
    let mut tally = Tally::default();
    let mut cuts = std::collections::BTreeMap::new();
    let mut summary: Option<v1::IdSummary> = None;
    loop {
        // Flush only when no answer is ready: one write per burst of
        // results, yet nothing waits in the buffer while the daemon works.
        let ready = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::pin::Pin::new(&mut stream).poll_next(cx))
        })
        .await;
        let msg = match ready {
            std::task::Poll::Ready(msg) => msg,
            std::task::Poll::Pending => {
                stdout.flush()?;
                stream.next().await
            }
        };
        let Some(msg) = msg else { break };
        let msg = msg.map_err(|s| id_status(s, &endpoint))?;
        match msg.item {
            Some(v1::validate_ids_response::Item::Result(mut r)) => {
                while let Ok((i, full)) = cut_rx.try_recv() {
                    cuts.insert(i, full);
                }
                if let Some(full) = cuts.remove(&r.index) {
                    mark_cut(&mut r, full, out.lang);
                }
                tally.add_result(&r);
                if !args.summary {
                    write_one(&r, &out, &mut stdout)?;
                }
            }
            Some(v1::validate_ids_response::Item::Summary(s)) => summary = Some(s),
            None => {}
        }
    }
    // The input ended (or failed) before the daemon closed the stream.
    if let Ok(Err(e)) = done_rx.try_recv() {
        return Err(e);
    }
    if summary.is_none() {
        return Err(IdError::Incomplete.into());
    }
    if args.summary {
        // Our own count: it agrees with the daemon's except for lines cut
        // here, which the daemon saw only the start of.
        print_summary(&tally.to_proto(), &out, &mut stdout)?;
    }
    stdout.flush()?;
    Ok(tally.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::to_json;

    fn run_local(input: &[&[u8]], kind: KindSel, summary: bool, json: bool) -> (u8, String) {
        let mut out = Output::plain(Lang::En);
        out.json = json;
        let mut buf = Vec::new();
        let source = Source::Args(input.iter().map(|v| v.to_vec()).collect());
        let code = validate_local(source, kind, None, summary, &out, &mut buf).expect("runs");
        (code, String::from_utf8(buf).expect("utf-8"))
    }

    #[test]
    fn all_valid_exits_0_and_any_invalid_exits_1() {
        let (code, text) = run_local(
            &[b"79927398713"],
            KindSel::Kind(posdiag_ids::Kind::Luhn),
            false,
            false,
        );
        assert_eq!(code, 0, "{text}");
        assert!(text.starts_with("VALID"), "{text}");
        let (code, text) = run_local(
            &[b"79927398713", b"79927398710"],
            KindSel::Kind(posdiag_ids::Kind::Luhn),
            false,
            false,
        );
        assert_eq!(code, 1);
        assert!(text.contains("INVALID"), "{text}");
        assert!(text.contains("checksum"), "{text}");
    }

    #[test]
    fn stdin_shared_among_threads_prints_what_one_value_at_a_time_prints_in_order() {
        let mut input = Vec::new();
        let mut values: Vec<Vec<u8>> = Vec::new();
        let samples: &[&[u8]] = &[
            b"79927398713",
            b"11010519491231002X",
            b"13812345678",
            b"",
            b"4111 1111 1111 1111",
            b"A123456(3)",
            "１３８".as_bytes(),
            b"N/A\r",
            b"\xff\xfe",
            b"62123456789012345678",
        ];
        for i in 0..12_000usize {
            let v = samples[i % samples.len()];
            input.extend_from_slice(v);
            input.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
            // Only the line end goes: "\r\r\n" leaves one "\r".
            let kept = if i % 3 == 0 {
                v
            } else {
                v.strip_suffix(b"\r").unwrap_or(v)
            };
            values.push(kept.to_vec());
        }
        // A last line without its line end.
        input.extend_from_slice(b"79927398710");
        values.push(b"79927398710".to_vec());
        for json in [true, false] {
            let mut out = Output::plain(Lang::En);
            out.json = json;
            let mut want = Vec::new();
            let mut w = Masked::new(&mut want);
            let code = validate_local(
                Source::Args(values.clone()),
                KindSel::Auto,
                None,
                false,
                &out,
                &mut w,
            )
            .expect("runs");
            drop(w);
            for threads in [1, 2, 3] {
                let mut got = Vec::new();
                let mut w = Masked::new(&mut got);
                let c = validate_chunks(&input[..], KindSel::Auto, None, &out, &mut w, threads)
                    .expect("runs");
                drop(w);
                assert_eq!(c, code);
                assert!(got == want, "json {json}, {threads} threads");
            }
            assert!(want.len() > 200_000);
        }
    }

    #[test]
    fn the_fast_and_the_full_summary_paths_count_alike() {
        let input: &[&[u8]] = &[b"79927398713", b"79927398710", b"", b"12a", b"0"];
        let luhn = KindSel::Kind(posdiag_ids::Kind::Luhn);
        let (code, fast) = run_local(input, luhn, true, true);
        assert_eq!(code, 1);
        let mut tally = Tally::default();
        for v in input {
            tally.add_validation(&posdiag_ids::validate(v, luhn, None));
        }
        let full = to_json(&tally.to_proto()).expect("json");
        let a: serde_json::Value = serde_json::from_str(&fast).expect("json");
        let b: serde_json::Value = serde_json::from_str(&full).expect("json");
        assert_eq!(a, b);
    }

    #[test]
    fn a_cut_line_is_invalid_by_length_and_says_why() {
        let mut r = v1::IdResult {
            valid: true,
            ..Default::default()
        };
        mark_cut(&mut r, 5_000_000, Lang::En);
        assert!(!r.valid);
        assert_eq!(r.reason, "length");
        assert!(r.message.contains("5000000"), "{}", r.message);
    }
}
