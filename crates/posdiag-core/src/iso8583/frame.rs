//! Stream framing: the message length prefix on TCP, and an incremental [`FrameReader`] that
//! is fed bytes as they arrive and hands out whole messages.

use super::dialect::LengthPrefix;
use super::error::{Iso8583Error, Part, hex_excerpt};

/// Writes the prefix for a message of `len` bytes into `out` (exactly `prefix.width()` long).
pub(crate) fn write_prefix(
    prefix: LengthPrefix,
    len: usize,
    out: &mut [u8],
) -> Result<(), Iso8583Error> {
    if len > prefix.max_message() {
        return Err(Iso8583Error::TooLong {
            part: Part::LengthPrefix,
            length: len,
            max: prefix.max_message(),
        });
    }
    match prefix {
        LengthPrefix::None => {}
        LengthPrefix::Binary2 => {
            out.copy_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        }
        LengthPrefix::Ascii4 => {
            let text = format!("{len:04}");
            out.copy_from_slice(text.as_bytes());
        }
    }
    Ok(())
}

/// Prepends the length prefix to an encoded message.
pub fn frame(prefix: LengthPrefix, message: &[u8]) -> Result<Vec<u8>, Iso8583Error> {
    let mut out = vec![0; prefix.width()];
    write_prefix(prefix, message.len(), &mut out)?;
    out.extend_from_slice(message);
    Ok(out)
}

/// Splits a byte stream into messages by their length prefix.
///
/// Feed it with [`FrameReader::push`], then call [`FrameReader::next_frame`] until it returns
/// `Ok(None)`. A prefix announcing more than `max_message_bytes` is an error before anything
/// is buffered for it; after an error the stream cannot be resynchronised and should be
/// closed. With [`LengthPrefix::None`] each `push` is taken as one whole message.
#[derive(Debug)]
pub struct FrameReader {
    prefix: LengthPrefix,
    max_message_bytes: usize,
    buf: Vec<u8>,
    start: usize,
}

impl FrameReader {
    /// A reader for `prefix` framing refusing messages over `max_message_bytes`.
    pub fn new(prefix: LengthPrefix, max_message_bytes: usize) -> Self {
        Self {
            prefix,
            max_message_bytes: max_message_bytes.min(prefix.max_message()),
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole message (without its prefix), `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, Iso8583Error> {
        let pending = &self.buf[self.start..];
        let width = self.prefix.width();
        let len = match self.prefix {
            LengthPrefix::None => {
                if pending.is_empty() {
                    return Ok(None);
                }
                pending.len()
            }
            _ if pending.len() < width => return Ok(None),
            LengthPrefix::Binary2 => usize::from(u16::from_be_bytes([pending[0], pending[1]])),
            LengthPrefix::Ascii4 => {
                let raw = &pending[..4];
                if !raw.iter().all(u8::is_ascii_digit) {
                    return Err(Iso8583Error::BadLength {
                        part: Part::LengthPrefix,
                        found: hex_excerpt(raw),
                    });
                }
                raw.iter().fold(0, |n, d| n * 10 + usize::from(d - b'0'))
            }
        };
        if len > self.max_message_bytes {
            return Err(Iso8583Error::TooLong {
                part: Part::LengthPrefix,
                length: len,
                max: self.max_message_bytes,
            });
        }
        if pending.len() < width + len {
            return Ok(None);
        }
        let message = pending[width..width + len].to_vec();
        self.start += width + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_byte_by_byte_and_back_to_back() {
        let mut stream = frame(LengthPrefix::Binary2, b"hello").unwrap();
        stream.extend(frame(LengthPrefix::Binary2, b"").unwrap());
        stream.extend(frame(LengthPrefix::Binary2, b"world!").unwrap());
        let mut r = FrameReader::new(LengthPrefix::Binary2, 100);
        let mut got = Vec::new();
        for b in &stream {
            r.push(std::slice::from_ref(b));
            while let Some(m) = r.next_frame().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got, [b"hello".to_vec(), Vec::new(), b"world!".to_vec()]);
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn oversized_and_non_numeric_prefixes_are_errors() {
        let mut r = FrameReader::new(LengthPrefix::Binary2, 100);
        r.push(&[0xff, 0xff, 0]);
        assert_eq!(
            r.next_frame().unwrap_err().to_string(),
            "length prefix: length 65535 exceeds the maximum 100"
        );
        let mut r = FrameReader::new(LengthPrefix::Ascii4, 100);
        r.push(b"00x5abc");
        assert_eq!(
            r.next_frame().unwrap_err().to_string(),
            "length prefix: length prefix 30307835 is not a number"
        );
        assert_eq!(frame(LengthPrefix::Ascii4, b"0012").unwrap(), b"00040012");
    }
}
