//! The CLI's two output channels, stdout and stderr, each through one
//! card-number mask. Every line `posdiag` writes — tables, JSON, progress,
//! errors, help — goes through [`stdout`] or [`stderr`], so a new message
//! cannot forget to mask a card number the user typed or the daemon echoed.
//! This is the only module that names the process's standard streams (a
//! tidy test in `tests/tests/hardening_cli.rs` checks it).
//!
//! [`Masked`] masks complete lines: a card number never spans a line end,
//! so holding back the unfinished line until its `\n` (or a flush, which
//! progress lines end with) is enough. `posdiag id` output, whose values are
//! already masked by `posdiag-ids`, passes unchanged.

use std::io::{self, IsTerminal, Write};

use posdiag_core::{mask_card_numbers, may_hold_card_number};

/// An unfinished line longer than this is written out without waiting for
/// its end, all but a trailing run that could be the start of a card number.
const MAX_PENDING_BYTES: usize = 1 << 20;

/// A writer that passes every line through [`mask_card_numbers`] before it
/// reaches `inner`.
#[derive(Debug)]
pub struct Masked<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Masked<W> {
    /// Masks what is written to `inner`.
    pub fn new(inner: W) -> Masked<W> {
        Masked {
            inner,
            pending: Vec::new(),
        }
    }

    /// Masks and writes `pending[..end]`, keeping the rest.
    fn emit(&mut self, end: usize) -> io::Result<()> {
        if end == 0 {
            return Ok(());
        }
        let mut masked = Vec::with_capacity(end);
        mask_bytes_into(&self.pending[..end], &mut masked);
        self.pending.drain(..end);
        self.inner.write_all(&masked)
    }
}

/// `bytes` with card numbers masked, appended to `out`; bytes that are not
/// UTF-8 are shown as U+FFFD (the CLI writes only text, so this happens
/// only to garbage).
fn mask_bytes_into(bytes: &[u8], out: &mut Vec<u8>) {
    if std::str::from_utf8(bytes).is_ok() {
        // A line at a time (a card number never spans a line end): a line
        // without a stretch of digits long enough to be one — most lines —
        // is copied as it is.
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if may_hold_card_number(line) {
                out.extend_from_slice(mask_card_numbers(&String::from_utf8_lossy(line)).as_bytes());
            } else {
                out.extend_from_slice(line);
            }
        }
        return;
    }
    // Not UTF-8: too few digits to hold a card number, left as it is; else
    // read lossily and masked.
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let wide = bytes.windows(2).any(|w| w == [0xEF, 0xBC]);
    if digits < 12 && !wide {
        out.extend_from_slice(bytes);
        return;
    }
    out.extend_from_slice(mask_card_numbers(&String::from_utf8_lossy(bytes)).as_bytes());
}

/// Complete lines already masked as [`Masked`] masks them, by
/// [`MaskedText::of`] on whatever thread made them: a command that puts
/// its output into words on several threads masks it there too, and
/// [`Masked::write_masked`] writes it unchanged.
#[derive(Debug, Default)]
pub struct MaskedText(Vec<u8>);

impl MaskedText {
    /// `lines` (ending with `\n`) with card numbers masked.
    pub fn of(lines: &[u8]) -> MaskedText {
        let mut masked = MaskedText::default();
        masked.push_lines(lines);
        masked
    }

    /// Empties it, keeping its buffer.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Appends `lines` (ending with `\n`) with card numbers masked.
    pub fn push_lines(&mut self, lines: &[u8]) {
        mask_bytes_into(lines, &mut self.0);
    }
}

impl<W: Write> Masked<W> {
    /// Writes text masked beforehand, after anything still pending.
    pub fn write_masked(&mut self, text: &MaskedText) -> io::Result<()> {
        let n = self.pending.len();
        self.emit(n)?;
        self.inner.write_all(&text.0)
    }
}

impl<W: Write> Write for Masked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(nl) = memchr::memrchr(b'\n', &self.pending) {
            self.emit(nl + 1)?;
        } else if self.pending.len() > MAX_PENDING_BYTES {
            // Keep a trailing stretch of digits, spaces and dashes (and any
            // non-ASCII after it): it may continue in the next write.
            let cut = self
                .pending
                .iter()
                .rposition(|b| b.is_ascii() && !matches!(b, b'0'..=b'9' | b' ' | b'-'))
                .map_or(self.pending.len(), |i| i + 1);
            self.emit(cut)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let n = self.pending.len();
        self.emit(n)?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Masked<W> {
    fn drop(&mut self) {
        // A last line without `\n`; errors have nowhere to go here.
        let _ = self.flush();
    }
}

/// `println!` through the masked stdout. Like `println!` it has no result
/// to handle, but a closed stdout is ignored rather than a panic.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::term::stdout(), $($arg)*);
    }};
}

/// `eprintln!` through the masked stderr.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::term::stderr(), $($arg)*);
    }};
}

/// Standard output, masked. Cheap: create one where it is needed.
pub fn stdout() -> Masked<io::Stdout> {
    Masked::new(io::stdout())
}

/// Standard error, masked.
pub fn stderr() -> Masked<io::Stderr> {
    Masked::new(io::stderr())
}

/// Whether standard output is a terminal.
pub fn stdout_is_tty() -> bool {
    io::stdout().is_terminal()
}

/// Whether standard error is a terminal.
pub fn stderr_is_tty() -> bool {
    io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(pieces: &[&str]) -> String {
        let mut out = Vec::new();
        {
            let mut m = Masked::new(&mut out);
            for p in pieces {
                m.write_all(p.as_bytes()).expect("write");
            }
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn card_numbers_are_masked_even_when_written_in_pieces() {
        assert_eq!(
            through(&["card 4111", "1111111", "11111 declined\n"]),
            "card 411111******1111 declined\n"
        );
        assert_eq!(
            through(&["{\"pan\":\"4111 1111 1111 1111\"}"]),
            "{\"pan\":\"4111 11** **** 1111\"}"
        );
        assert_eq!(
            through(&["卡号４１１１１１１１１１１１１１１１\n"]),
            "卡号４１１１１１******１１１１\n"
        );
    }

    #[test]
    fn ordinary_and_already_masked_output_is_unchanged() {
        for s in [
            "T1  OK  host.tcp  12 ms\n",
            "411111******1111  invalid  luhn\n110105*******1002X  valid\n",
            "\r\x1b[2K  checking host.tls…",
            "2026-12-05 20:53:42 port 20007\n",
        ] {
            assert_eq!(through(&[s]), s);
        }
    }

    #[test]
    fn a_flush_writes_the_unfinished_line() {
        let mut out = Vec::new();
        let mut m = Masked::new(&mut out);
        m.write_all(b"progress 4111111111111111").expect("write");
        m.flush().expect("flush");
        drop(m);
        assert_eq!(out, b"progress 411111******1111");
    }

    #[test]
    fn a_huge_line_does_not_pile_up() {
        let mut out = Vec::new();
        let mut m = Masked::new(&mut out);
        for _ in 0..3 {
            m.write_all(&vec![b'a'; MAX_PENDING_BYTES]).expect("write");
        }
        assert!(m.pending.len() <= MAX_PENDING_BYTES);
    }
}
