//! Splitting standard input into values, one per line, without an
//! allocation per line: `posdiag id validate` reads millions of lines, some
//! of them megabytes long, and must keep memory flat and stay fast.
//!
//! A line is everything up to `\n`, less that `\n` and one `\r` before it
//! (CRLF files). Nothing else is trimmed: surrounding spaces, invisible
//! characters and non-UTF-8 bytes are what the validator is there to
//! explain. A last line without `\n` still counts; an empty input has no
//! lines.

use std::io::{self, Read};

/// Bytes of one line kept for validation. Longer lines are cut here (and
/// reported as too long): no identifier comes near it, and it bounds memory
/// whatever the input. 1 MiB also stays under gRPC's default 4 MiB message
/// limit in daemon mode.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// Size of the read buffer: large reads make a file of a million numbers a
/// handful of system calls.
pub const READ_BUFFER_BYTES: usize = 1 << 20;

/// One line as the callback sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line without its terminator, at most [`MAX_VALUE_BYTES`] long.
    pub bytes: &'a [u8],
    /// The line's full length in bytes when it was cut to
    /// [`MAX_VALUE_BYTES`]; `None` when `bytes` is the whole line.
    pub cut_from: Option<u64>,
}

/// Reads `input` to its end and calls `line` for every line in order.
/// `before_read` runs whenever every complete line received so far has been
/// handled and more input is needed: the place to flush output, so an
/// interactive user sees each answer before typing the next value.
///
/// Errors from `input` are returned as they are (interrupted reads are
/// retried); an error from a callback stops reading and is returned.
pub fn for_each_line<R, E, F, B>(input: R, before_read: B, mut line: F) -> Result<(), E>
where
    R: Read,
    E: From<io::Error>,
    F: FnMut(Line<'_>) -> Result<(), E>,
    B: FnMut() -> Result<(), E>,
{
    for_each_chunk(input, before_read, |chunk| match chunk {
        Chunk::Lines(data) => each_line_in(data, &mut line),
        Chunk::One(l) => line(l),
    })
}

/// What [`for_each_chunk`] hands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Whole lines, each with its `\n` (the last one without it only at
    /// the end of the input): read them with [`each_line_in`].
    Lines(&'a [u8]),
    /// One line that spanned reads (joined, cut as [`for_each_line`]
    /// cuts it).
    One(Line<'a>),
}

/// Like [`for_each_line`], a read at a time: `chunk` gets the complete
/// lines of each read together (to share out among threads), in order;
/// `before_read` runs before each read, when everything handed on so far
/// has been handled.
pub fn for_each_chunk<R, E, F, B>(mut input: R, mut before_read: B, mut chunk: F) -> Result<(), E>
where
    R: Read,
    E: From<io::Error>,
    F: FnMut(Chunk<'_>) -> Result<(), E>,
    B: FnMut() -> Result<(), E>,
{
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    let mut carry = Carry::default();
    loop {
        before_read()?;
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            if carry.len > 0 {
                emit(&carry.kept, carry.len, carry.ends_cr, &mut |l| {
                    chunk(Chunk::One(l))
                })?;
            }
            return Ok(());
        }
        let data = &buf[..n];
        let mut start = 0;
        if carry.len > 0 {
            let Some(nl) = memchr::memchr(b'\n', data) else {
                carry.append(data);
                continue;
            };
            carry.append(&data[..nl]);
            emit(&carry.kept, carry.len, carry.ends_cr, &mut |l| {
                chunk(Chunk::One(l))
            })?;
            carry.clear();
            start = nl + 1;
        }
        if let Some(last) = memchr::memrchr(b'\n', &data[start..]) {
            chunk(Chunk::Lines(&data[start..=start + last]))?;
            start += last + 1;
        }
        carry.append(&data[start..]);
    }
}

/// Calls `line` for every line of `data` (complete lines; the last may
/// lack its `\n`), as [`for_each_line`] would.
pub fn each_line_in<E>(
    data: &[u8],
    mut line: impl FnMut(Line<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut whole = |piece: &[u8]| {
        emit(
            piece,
            piece.len() as u64,
            piece.last() == Some(&b'\r'),
            &mut line,
        )
    };
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        whole(&data[start..nl])?;
        start = nl + 1;
    }
    if start < data.len() {
        whole(&data[start..])?;
    }
    Ok(())
}

/// The part of a line read so far, when the line spans reads.
#[derive(Debug, Default)]
struct Carry {
    kept: Vec<u8>,
    len: u64,
    ends_cr: bool,
}

impl Carry {
    fn append(&mut self, piece: &[u8]) {
        let Some(&last) = piece.last() else { return };
        let room = MAX_VALUE_BYTES.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&piece[..piece.len().min(room)]);
        self.len += piece.len() as u64;
        self.ends_cr = last == b'\r';
    }

    fn clear(&mut self) {
        self.kept.clear();
        self.len = 0;
        self.ends_cr = false;
    }
}

/// Calls `line` for a complete line of `full_len` bytes (terminator's `\n`
/// excluded) whose first bytes are `kept`; a final `\r` is dropped.
fn emit<E, F>(kept: &[u8], full_len: u64, ends_cr: bool, line: &mut F) -> Result<(), E>
where
    F: FnMut(Line<'_>) -> Result<(), E>,
{
    let full_len = full_len - u64::from(ends_cr);
    let keep = usize::try_from(full_len)
        .unwrap_or(usize::MAX)
        .min(kept.len())
        .min(MAX_VALUE_BYTES);
    line(Line {
        bytes: &kept[..keep],
        cut_from: (full_len > keep as u64).then_some(full_len),
    })
}

/// Chunk size of [`fold_lines_parallel`]: big enough that a thread's share
/// dwarfs the cost of starting it.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Like [`for_each_line`], for work whose order does not matter (counting):
/// the input is read in [`CHUNK_BYTES`] chunks cut at line ends, and each
/// chunk is split between up to `threads` threads. Each thread folds its
/// lines into its own accumulator from `init`; `merge` combines them.
pub fn fold_lines_parallel<R, A, I, F, M>(
    mut input: R,
    threads: usize,
    init: I,
    line: F,
    merge: M,
) -> io::Result<A>
where
    R: Read,
    A: Send,
    I: Fn() -> A + Sync,
    F: Fn(&mut A, Line<'_>) + Sync,
    M: Fn(&mut A, A),
{
    let threads = threads.max(1);
    let mut acc = init();
    let mut buf = vec![0u8; CHUNK_BYTES];
    // Bytes at the front of `buf` that are the start of an unfinished line.
    let mut filled = 0;
    // A line longer than the buffer, carried across chunks.
    let mut carry = Carry::default();
    loop {
        // Fill the buffer (pipes hand out 64 KiB at a time).
        let mut eof = false;
        while filled < buf.len() {
            match input.read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let data = &buf[..filled];
        // Complete lines end at the last `\n`; at the end of input
        // everything is complete.
        let complete_len = if eof {
            filled
        } else {
            memchr::memrchr(b'\n', data).map_or(0, |i| i + 1)
        };
        let mut complete = &data[..complete_len];
        if carry.len > 0 || (complete_len == 0 && !eof) {
            // The first line continues one carried from earlier chunks, or
            // the whole buffer is inside one long line.
            match memchr::memchr(b'\n', complete) {
                Some(nl) => {
                    carry.append(&complete[..nl]);
                    emit_to(&carry, &mut acc, &line);
                    carry.clear();
                    complete = &complete[nl + 1..];
                }
                None if complete_len == 0 && !eof => {
                    carry.append(data);
                    filled = 0;
                    continue;
                }
                None => {
                    carry.append(complete);
                    if carry.len > 0 {
                        emit_to(&carry, &mut acc, &line);
                    }
                    carry.clear();
                    complete = &[];
                }
            }
        }
        let parts = split_at_lines(complete, threads);
        match parts.as_slice() {
            [] => {}
            [only] => fold_slice(only, &mut acc, &line),
            [first, rest @ ..] => {
                let results: Vec<A> = std::thread::scope(|s| {
                    let handles: Vec<_> = rest
                        .iter()
                        .map(|part| {
                            let (init, line) = (&init, &line);
                            s.spawn(move || {
                                let mut a = init();
                                fold_slice(part, &mut a, line);
                                a
                            })
                        })
                        .collect();
                    fold_slice(first, &mut acc, &line);
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                        .collect()
                });
                for a in results {
                    merge(&mut acc, a);
                }
            }
        }
        if eof {
            return Ok(acc);
        }
        buf.copy_within(complete_len..filled, 0);
        filled -= complete_len;
    }
}

fn emit_to<A, F: Fn(&mut A, Line<'_>)>(carry: &Carry, acc: &mut A, line: &F) {
    let _ = emit::<(), _>(&carry.kept, carry.len, carry.ends_cr, &mut |l| {
        line(acc, l);
        Ok(())
    });
}

/// Folds the lines of `data`, whose last line may lack its `\n`.
fn fold_slice<A, F: Fn(&mut A, Line<'_>)>(data: &[u8], acc: &mut A, line: &F) {
    let mut start = 0;
    let mut sink = |l: Line<'_>| -> Result<(), ()> {
        line(acc, l);
        Ok(())
    };
    for nl in memchr::memchr_iter(b'\n', data) {
        let piece = &data[start..nl];
        let _ = emit(
            piece,
            piece.len() as u64,
            piece.last() == Some(&b'\r'),
            &mut sink,
        );
        start = nl + 1;
    }
    if start < data.len() {
        let piece = &data[start..];
        let _ = emit(
            piece,
            piece.len() as u64,
            piece.last() == Some(&b'\r'),
            &mut sink,
        );
    }
}

/// `data` in up to `n` pieces of about equal size, each ending at a line end.
pub fn split_at_lines(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = data;
    for left in (1..=n).rev() {
        if rest.is_empty() {
            break;
        }
        if left == 1 {
            parts.push(rest);
            break;
        }
        let target = rest.len() / left;
        let cut = match memchr::memchr(b'\n', &rest[target..]) {
            Some(i) => target + i + 1,
            None => rest.len(),
        };
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(Vec<u8>, Option<u64>)> {
        let mut got = Vec::new();
        for_each_line::<_, io::Error, _, _>(
            input,
            || Ok(()),
            |l| {
                got.push((l.bytes.to_vec(), l.cut_from));
                Ok(())
            },
        )
        .expect("reads");
        got
    }

    fn plain(v: &[&[u8]]) -> Vec<(Vec<u8>, Option<u64>)> {
        v.iter().map(|b| (b.to_vec(), None)).collect()
    }

    #[test]
    fn lf_crlf_a_last_line_without_newline_and_empty_lines() {
        assert_eq!(
            lines(b"a\nb\r\n\n c \r\nlast"),
            plain(&[b"a", b"b", b"", b" c ", b"last"])
        );
        assert_eq!(lines(b""), plain(&[]));
        assert_eq!(lines(b"\n"), plain(&[b""]));
        assert_eq!(lines(b"x\r"), plain(&[b"x"]));
    }

    #[test]
    fn only_the_terminator_is_stripped_and_bytes_pass_through() {
        assert_eq!(lines(b"\xff\x00 1\t\r\r\n"), plain(&[b"\xff\x00 1\t\r"]));
    }

    #[test]
    fn lines_spanning_reads_are_joined() {
        // A reader that hands out three bytes at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(3).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut got = Vec::new();
        let mut reads = 0;
        for_each_line::<_, io::Error, _, _>(
            Trickle(b"12345\r\n67\n8901234"),
            || {
                reads += 1;
                Ok(())
            },
            |l| {
                got.push(l.bytes.to_vec());
                Ok(())
            },
        )
        .expect("reads");
        assert_eq!(got, [&b"12345"[..], b"67", b"8901234"]);
        assert!(reads > 5);
    }

    /// Lines as [`for_each_chunk`] and [`each_line_in`] hand them on.
    fn chunked(input: &[u8], step: usize) -> Vec<(Vec<u8>, Option<u64>)> {
        struct Steps<'a>(&'a [u8], usize);
        impl Read for Steps<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut got = Vec::new();
        for_each_chunk::<_, io::Error, _, _>(
            Steps(input, step),
            || Ok(()),
            |c| {
                match c {
                    Chunk::One(l) => got.push((l.bytes.to_vec(), l.cut_from)),
                    Chunk::Lines(d) => each_line_in::<io::Error>(d, |l| {
                        got.push((l.bytes.to_vec(), l.cut_from));
                        Ok(())
                    })?,
                }
                Ok(())
            },
        )
        .expect("reads");
        got
    }

    #[test]
    fn chunks_hold_the_lines_for_each_line_reads_in_order() {
        // The input and, written out independently, the lines it holds.
        let mut input = Vec::new();
        let mut want = Vec::new();
        for i in 0..50_000u32 {
            input.extend_from_slice(format!("{i}").as_bytes());
            input.extend_from_slice(match i % 4 {
                0 => &b"\r\n"[..],
                1 => b"\n\n",
                _ => b"\n",
            });
            want.push((format!("{i}").into_bytes(), None));
            if i % 4 == 1 {
                want.push((Vec::new(), None));
            }
        }
        let long = MAX_VALUE_BYTES * 2 + 3;
        input.extend(std::iter::repeat_n(b'9', long));
        input.extend_from_slice(b"\r\n\x01x\r\nlast\r");
        want.push((vec![b'9'; MAX_VALUE_BYTES], Some(long as u64)));
        want.push((b"\x01x".to_vec(), None));
        want.push((b"last".to_vec(), None));
        assert!(lines(&input) == want, "for_each_line");
        for step in [1, 3, 4096, READ_BUFFER_BYTES] {
            let got = chunked(&input, step);
            assert_eq!(got.len(), want.len(), "step {step}");
            assert!(got == want, "step {step}");
        }
        assert_eq!(chunked(b"", 7), plain(&[]));
        assert_eq!(chunked(b"a", 7), plain(&[b"a"]));
    }

    #[test]
    fn a_line_longer_than_the_cap_is_cut_and_its_length_reported() {
        let mut input = vec![b'7'; MAX_VALUE_BYTES * 3 + 5];
        input.extend_from_slice(b"\r\nnext\n");
        let got = lines(&input);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.len(), MAX_VALUE_BYTES);
        assert_eq!(got[0].1, Some((MAX_VALUE_BYTES * 3 + 5) as u64));
        assert_eq!(got[1], (b"next".to_vec(), None));
    }

    #[test]
    fn a_line_of_exactly_the_cap_is_whole() {
        let mut input = vec![b'1'; MAX_VALUE_BYTES];
        input.extend_from_slice(b"\r\n");
        let got = lines(&input);
        assert_eq!(got[0].0.len(), MAX_VALUE_BYTES);
        assert_eq!(got[0].1, None);
    }

    /// Lines as (length, first bytes, cut_from), sorted: comparable without
    /// megabytes of assertion output.
    type Seen = Vec<(usize, Vec<u8>, Option<u64>)>;

    fn short(v: Vec<(Vec<u8>, Option<u64>)>) -> Seen {
        let mut s: Seen = v
            .into_iter()
            .map(|(b, c)| (b.len(), b[..b.len().min(12)].to_vec(), c))
            .collect();
        s.sort();
        s
    }

    fn folded(input: &[u8], threads: usize) -> Seen {
        short(
            fold_lines_parallel(
                input,
                threads,
                Vec::new,
                |acc: &mut Vec<(Vec<u8>, Option<u64>)>, l| acc.push((l.bytes.to_vec(), l.cut_from)),
                |acc, more| acc.extend(more),
            )
            .expect("reads"),
        )
    }

    #[test]
    fn the_parallel_fold_sees_the_same_lines() {
        let mut input = Vec::new();
        for i in 0..200_000u32 {
            input.extend_from_slice(format!("{i}").as_bytes());
            input.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        }
        input.extend(std::iter::repeat_n(b'9', CHUNK_BYTES * 2 + 17));
        input.extend_from_slice(b"\r\n\nlast");
        let want = short(lines(&input));
        for threads in [1, 2, 3] {
            let got = folded(&input, threads);
            assert_eq!(got.len(), want.len(), "{threads} threads");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g, w, "{threads} threads");
            }
        }
        assert_eq!(folded(b"", 2), short(plain(&[])));
        assert_eq!(folded(b"\n", 2), short(plain(&[b""])));
        assert_eq!(folded(b"a", 2), short(plain(&[b"a"])));
    }
}
