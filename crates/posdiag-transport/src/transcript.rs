//! A bounded, masked record of the bytes that crossed a link, for findings.
//!
//! Masking runs before anything is stored, so card numbers and track data
//! never sit unmasked in a transcript, however long the link lives. The bounds
//! (entries and bytes) keep a chatty terminal from growing memory without
//! limit; the oldest entries go first and are counted.

use std::collections::VecDeque;
use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// Which way bytes went, seen from posdiag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by posdiag.
    Tx,
    /// Received by posdiag.
    Rx,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Tx => "TX",
            Direction::Rx => "RX",
        })
    }
}

/// Rewrites bytes before they are stored (e.g. replaces PAN digits). It sees
/// each chunk as it crosses the link; protocol-aware callers that need frame
/// boundaries mask with their own codec's help.
pub type Mask = Arc<dyn Fn(Direction, &[u8]) -> Vec<u8> + Send + Sync>;

/// One recorded chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Which way.
    pub direction: Direction,
    /// Time since the link opened.
    pub at: Duration,
    /// The bytes, already masked.
    pub bytes: Vec<u8>,
}

/// Limits and the masking hook for a [`Transcript`].
#[derive(Clone)]
pub struct TranscriptConfig {
    /// Most entries kept.
    pub max_entries: usize,
    /// Most bytes kept over all entries.
    pub max_bytes: usize,
    /// Applied to every chunk before it is stored.
    pub mask: Option<Mask>,
}

impl Default for TranscriptConfig {
    fn default() -> Self {
        TranscriptConfig {
            max_entries: 256,
            max_bytes: 16 * 1024,
            mask: None,
        }
    }
}

impl fmt::Debug for TranscriptConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TranscriptConfig")
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("mask", &self.mask.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

/// The bounded record.
#[derive(Clone)]
pub struct Transcript {
    config: TranscriptConfig,
    entries: VecDeque<Entry>,
    bytes: usize,
    dropped_entries: u64,
    dropped_bytes: u64,
}

impl fmt::Debug for Transcript {
    // Entries are masked, but a transcript is still a log of a payment
    // exchange: Debug shows its size, not its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcript")
            .field("config", &self.config)
            .field("entries", &self.entries.len())
            .field("bytes", &self.bytes)
            .field("dropped_entries", &self.dropped_entries)
            .field("dropped_bytes", &self.dropped_bytes)
            .finish()
    }
}

impl Transcript {
    /// An empty transcript.
    pub fn new(config: TranscriptConfig) -> Self {
        Transcript {
            config,
            entries: VecDeque::new(),
            bytes: 0,
            dropped_entries: 0,
            dropped_bytes: 0,
        }
    }

    /// Records a chunk, masking it first and dropping the oldest entries
    /// that no longer fit. A single chunk larger than `max_bytes` keeps its
    /// tail (the part closest to whatever went wrong next).
    pub fn record(&mut self, direction: Direction, at: Duration, bytes: &[u8]) {
        if bytes.is_empty() || self.config.max_entries == 0 || self.config.max_bytes == 0 {
            if !bytes.is_empty() {
                self.dropped_entries += 1;
                self.dropped_bytes += bytes.len() as u64;
            }
            return;
        }
        let mut stored = match &self.config.mask {
            Some(mask) => mask(direction, bytes),
            None => bytes.to_vec(),
        };
        if stored.len() > self.config.max_bytes {
            let cut = stored.len() - self.config.max_bytes;
            stored.drain(..cut);
            self.dropped_bytes += cut as u64;
        }
        while self.entries.len() >= self.config.max_entries
            || self.bytes + stored.len() > self.config.max_bytes
        {
            let Some(old) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= old.bytes.len();
            self.dropped_entries += 1;
            self.dropped_bytes += old.bytes.len() as u64;
        }
        self.bytes += stored.len();
        self.entries.push_back(Entry {
            direction,
            at,
            bytes: stored,
        });
    }

    /// The entries kept, oldest first.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Bytes kept over all entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries dropped (wholly) to stay within the bounds.
    pub fn dropped_entries(&self) -> u64 {
        self.dropped_entries
    }

    /// Bytes dropped to stay within the bounds (whole entries and cut heads).
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped_bytes
    }

    /// Forgets all entries (the drop counters too).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.dropped_entries = 0;
        self.dropped_bytes = 0;
    }

    /// A human-readable rendering: one header line per entry
    /// (`+1.234s TX 5 bytes`) followed by its [`hexdump`].
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.dropped_entries > 0 || self.dropped_bytes > 0 {
            let _ = writeln!(
                out,
                "({} earlier entries, {} bytes dropped)",
                self.dropped_entries, self.dropped_bytes
            );
        }
        for e in &self.entries {
            let _ = writeln!(
                out,
                "+{}.{:03}s {} {} bytes",
                e.at.as_secs(),
                e.at.subsec_millis(),
                e.direction,
                e.bytes.len()
            );
            out.push_str(&hexdump(&e.bytes));
        }
        out
    }
}

/// Hex and ASCII, 16 bytes a line: `0000  10 02 06 0f …  |....|`.
/// Every line ends with a newline; empty input gives an empty string.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:04x} ", i * 16);
        for j in 0..16 {
            if j == 8 {
                out.push(' ');
            }
            match line.get(j) {
                Some(b) => {
                    let _ = write!(out, " {b:02x}");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str("  |");
        out.extend(line.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_entries: usize, max_bytes: usize) -> TranscriptConfig {
        TranscriptConfig {
            max_entries,
            max_bytes,
            mask: None,
        }
    }

    #[test]
    fn the_oldest_entries_go_when_there_are_too_many() {
        let mut t = Transcript::new(config(3, 1000));
        for i in 0..5u8 {
            t.record(Direction::Tx, Duration::from_millis(i.into()), &[i; 2]);
        }
        let kept: Vec<u8> = t.entries().map(|e| e.bytes[0]).collect();
        assert_eq!(kept, [2, 3, 4]);
        assert_eq!(t.dropped_entries(), 2);
        assert_eq!(t.dropped_bytes(), 4);
        assert_eq!(t.bytes(), 6);
    }

    #[test]
    fn the_oldest_entries_go_when_there_are_too_many_bytes() {
        let mut t = Transcript::new(config(100, 10));
        t.record(Direction::Tx, Duration::ZERO, &[1; 4]);
        t.record(Direction::Rx, Duration::ZERO, &[2; 4]);
        t.record(Direction::Tx, Duration::ZERO, &[3; 4]);
        assert_eq!(t.entries().len(), 2);
        assert_eq!(t.bytes(), 8);
        assert_eq!(t.dropped_entries(), 1);
        // One chunk larger than the whole budget keeps its tail.
        t.record(
            Direction::Rx,
            Duration::ZERO,
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        );
        let e: Vec<&Entry> = t.entries().collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].bytes, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert!(t.bytes() <= 10);
        assert_eq!(t.dropped_bytes(), 4 + 8 + 2);
    }

    #[test]
    fn the_mask_runs_before_storing() {
        let mask: Mask = Arc::new(|_, bytes: &[u8]| {
            bytes
                .iter()
                .map(|b| if b.is_ascii_digit() { b'*' } else { *b })
                .collect()
        });
        let mut t = Transcript::new(TranscriptConfig {
            mask: Some(mask),
            ..TranscriptConfig::default()
        });
        t.record(Direction::Rx, Duration::ZERO, b"PAN=4111111111111111;");
        let stored = &t.entries().next().unwrap().bytes;
        assert_eq!(stored, b"PAN=****************;");
        assert!(!t.render().contains("4111"));
        assert!(!t.render().contains("34 31 31 31"));
    }

    #[test]
    fn hexdump_shows_hex_and_ascii() {
        assert_eq!(hexdump(b""), "");
        assert_eq!(
            hexdump(b"\x10\x02AB"),
            "0000  10 02 41 42                                       |..AB|\n"
        );
        let two_lines = hexdump(&[0x41; 17]);
        assert_eq!(two_lines.lines().count(), 2);
        assert!(two_lines.lines().nth(1).unwrap().starts_with("0010  41"));
    }

    #[test]
    fn render_lists_direction_time_and_drops() {
        let mut t = Transcript::new(config(1, 100));
        t.record(Direction::Tx, Duration::from_millis(5), b"a");
        t.record(Direction::Rx, Duration::from_millis(1234), b"b");
        let text = t.render();
        assert!(text.contains("1 earlier entries"), "{text}");
        assert!(text.contains("+1.234s RX 1 bytes"), "{text}");
    }
}
