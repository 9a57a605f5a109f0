//! The daemon's tracing subscriber: filter from `POSDIAG_LOG` (default
//! `info`), plain or JSON lines on stderr. Every line passes one writer
//! ([`MaskedStderr`]) that masks card numbers and bounds its length, so no
//! event (a plugin's error text, a request value, a peer's answer) can put
//! a card number or a megabyte into the journal. Colour codes only when
//! stderr is a terminal: the journal and files get plain text. Under
//! systemd, findings go to the journal as structured records instead
//! (`journal.rs`).

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Longest log line written, in bytes; the rest is cut with a note.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Installs the subscriber; a second call is a no-op (the demo may call it
/// after a test harness did).
///
/// Under systemd every finding also goes to the journal as a structured
/// record (`journal.rs`), and not a second time through stderr.
pub fn init(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, filter};

    let mut filter =
        EnvFilter::try_from_env("POSDIAG_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let journal = crate::journal::socket_from_env()
        .and_then(|path| crate::journal::JournalLayer::new(path).ok());
    if journal.is_some()
        && let Ok(off) = format!("{}=off", crate::journal::TARGET).parse()
    {
        filter = filter.add_directive(off);
    }
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(MaskedStderr);
    let stderr = match format {
        LogFormat::Plain => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
    };
    let journal = journal.map(|j| {
        j.with_filter(
            filter::Targets::new().with_target(crate::journal::TARGET, filter::LevelFilter::TRACE),
        )
    });
    // `[export.otlp]`: the same findings as OTLP log records (idle until an export runs).
    let otlp = crate::otlp::FindingLayer.with_filter(
        filter::Targets::new().with_target(crate::journal::TARGET, filter::LevelFilter::TRACE),
    );
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(journal)
        .with(otlp)
        .try_init();
}

/// Hands each event a [`MaskedLine`] that writes to stderr when dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaskedStderr;

impl<'a> MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> MaskedLine {
        MaskedLine { buf: Vec::new() }
    }
}

/// One formatted event, collected whole so a card number is never split
/// across two writes, then masked, bounded and written at once.
#[derive(Debug)]
pub struct MaskedLine {
    buf: Vec<u8>,
}

impl Write for MaskedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // Keep a little more than a line's bound: what is beyond is cut anyway.
        let room = (MAX_LINE_BYTES + 1024).saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedLine {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let line = masked_line(&self.buf);
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// What a formatted event becomes on stderr: card numbers masked, at most
/// [`MAX_LINE_BYTES`], ending in a newline.
pub fn masked_line(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut line = posdiag_core::mask_card_numbers(text.trim_end_matches('\n'));
    if line.len() > MAX_LINE_BYTES {
        let mut cut = MAX_LINE_BYTES;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str(" … (line cut)");
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_masked_bounded_and_end_in_a_newline() {
        assert_eq!(
            masked_line(b"ERROR plugin said: card 4111111111111111 declined\n"),
            "ERROR plugin said: card 411111******1111 declined\n"
        );
        let long = masked_line(&vec![b'a'; 100_000]);
        assert!(long.len() < MAX_LINE_BYTES + 64);
        assert!(long.ends_with("(line cut)\n"));
        let mut w = MaskedLine { buf: Vec::new() };
        // Written in pieces, as a formatter does: a number split across
        // writes is still masked as a whole.
        w.write_all(b"pan 411111").unwrap();
        w.write_all(b"1111111111 end").unwrap();
        assert_eq!(masked_line(&w.buf), "pan 411111******1111 end\n");
        w.buf.clear();
    }
}
