//! ZVT APDUs (`CLASS INSTR LEN DATA`, with the `FF lo hi` little-endian length form for 255
//! bytes or more) and [`ApduReader`], the incremental reader for TCP streams where APDUs come
//! back to back without framing.

use super::ZvtError;
use super::tlv::SmallBytes;

/// The largest data length the ZVT length field can express.
pub const MAX_DATA_LEN: usize = u16::MAX as usize;

/// Default limit of [`ApduReader`]: the protocol maximum, so only a configured limit is lower.
pub const DEFAULT_MAX_APDU_BYTES: usize = MAX_DATA_LEN;

/// One ZVT APDU: control field (class, instruction) and data.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Apdu {
    /// Class byte of the control field.
    pub class: u8,
    /// Instruction byte of the control field.
    pub instr: u8,
    // Inline for short APDUs (most of them), so reading one from a stream seldom allocates.
    data: SmallBytes,
}

impl std::fmt::Debug for Apdu {
    // Data may hold a PAN or track data: show it through the transcript redaction.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = super::redact::redact_apdu_data(self.class, self.instr, &self.data);
        write!(f, "Apdu({:02x} {:02x} ", self.class, self.instr)?;
        for b in &redacted {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Apdu {
    /// An APDU; fails if the data is longer than the length field can express.
    pub fn new(class: u8, instr: u8, data: Vec<u8>) -> Result<Self, ZvtError> {
        if data.len() > MAX_DATA_LEN {
            return Err(ZvtError::ValueTooLong {
                what: "apdu data",
                len: data.len(),
                max: MAX_DATA_LEN,
            });
        }
        Ok(Apdu {
            class,
            instr,
            data: SmallBytes::from(data),
        })
    }

    /// An APDU without data.
    pub fn empty(class: u8, instr: u8) -> Self {
        Apdu {
            class,
            instr,
            data: SmallBytes::new(),
        }
    }

    /// The positive acknowledgement `80 00 00`.
    pub fn ack() -> Self {
        Apdu::empty(0x80, 0x00)
    }

    /// A negative acknowledgement `84 code 00`.
    pub fn nak(code: u8) -> Self {
        Apdu::empty(0x84, code)
    }

    /// The data after the length field.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Takes the data out.
    pub fn into_data(self) -> Vec<u8> {
        self.data.into_vec()
    }

    /// Whether this is the positive acknowledgement `80 00 00`.
    pub fn is_ack(&self) -> bool {
        self.class == 0x80 && self.instr == 0x00 && self.data.is_empty()
    }

    /// The control field as one number, e.g. `0x060F`.
    pub fn command(&self) -> u16 {
        u16::from_be_bytes([self.class, self.instr])
    }

    /// The encoded length: header plus data.
    pub fn encoded_len(&self) -> usize {
        header_len(self.data.len()) + self.data.len()
    }

    /// Appends the encoded APDU to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.push(self.class);
        out.push(self.instr);
        let len = self.data.len();
        if len < 0xFF {
            // Guarded by the branch: the value fits a byte.
            out.push(len as u8);
        } else {
            out.push(0xFF);
            // `new` bounds the length to u16.
            let len16 = u16::try_from(len).unwrap_or(u16::MAX);
            out.extend_from_slice(&len16.to_le_bytes());
        }
        out.extend_from_slice(&self.data);
    }

    /// The encoded APDU.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Decodes exactly one APDU; trailing or missing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, ZvtError> {
        let (header, declared) = parse_header(bytes, MAX_DATA_LEN)?.ok_or(ZvtError::Truncated {
            what: "apdu header",
            needed: 3,
            available: bytes.len(),
        })?;
        let actual = bytes.len() - header;
        if actual != declared {
            return Err(ZvtError::LengthMismatch { declared, actual });
        }
        Ok(Apdu {
            class: bytes[0],
            instr: bytes[1],
            data: SmallBytes::from_slice(&bytes[header..]),
        })
    }

    /// Decodes the first APDU of `bytes`, returning it and the bytes it used.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Self, usize), ZvtError> {
        let (header, declared) = parse_header(bytes, MAX_DATA_LEN)?.ok_or(ZvtError::Truncated {
            what: "apdu header",
            needed: 3,
            available: bytes.len(),
        })?;
        let total = header + declared;
        if bytes.len() < total {
            return Err(ZvtError::Truncated {
                what: "apdu data",
                needed: total,
                available: bytes.len(),
            });
        }
        Ok((
            Apdu {
                class: bytes[0],
                instr: bytes[1],
                data: SmallBytes::from_slice(&bytes[header..total]),
            },
            total,
        ))
    }
}

/// Header bytes for a data length: 3, or 5 with the extended form.
fn header_len(data_len: usize) -> usize {
    if data_len < 0xFF { 3 } else { 5 }
}

/// Reads the header: `Ok(None)` if more bytes are needed, else (header length, data length).
fn parse_header(bytes: &[u8], max: usize) -> Result<Option<(usize, usize)>, ZvtError> {
    let Some(&len) = bytes.get(2) else {
        return Ok(None);
    };
    let (header, declared) = if len == 0xFF {
        match bytes.get(3..5) {
            Some(&[lo, hi]) => (5, usize::from(u16::from_le_bytes([lo, hi]))),
            _ => return Ok(None),
        }
    } else {
        (3, usize::from(len))
    };
    if declared > max {
        return Err(ZvtError::TooLarge { len: declared, max });
    }
    Ok(Some((header, declared)))
}

/// Incremental APDU reader for a TCP stream: feed bytes as they arrive, pull complete APDUs.
///
/// The buffer never holds more than one APDU's worth beyond what was fed, and a declared length
/// above `max_apdu_bytes` is an error before any data is buffered for it, so a hostile length
/// cannot make it allocate. After an error the stream cannot be resynchronised (TCP has no frame
/// markers): the caller should drop the connection.
#[derive(Clone)]
pub struct ApduReader {
    buf: Vec<u8>,
    start: usize,
    max_apdu_bytes: usize,
}

// The buffer may hold card data: Debug shows sizes only.
impl std::fmt::Debug for ApduReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApduReader")
            .field("buffered", &self.buffered())
            .field("max_apdu_bytes", &self.max_apdu_bytes)
            .finish()
    }
}

impl Default for ApduReader {
    fn default() -> Self {
        ApduReader::new(DEFAULT_MAX_APDU_BYTES)
    }
}

impl ApduReader {
    /// A reader rejecting APDUs with more than `max_apdu_bytes` data bytes.
    pub fn new(max_apdu_bytes: usize) -> Self {
        ApduReader {
            buf: Vec::new(),
            start: 0,
            max_apdu_bytes: max_apdu_bytes.min(MAX_DATA_LEN),
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 4096 && self.start * 2 > self.buf.len() {
            // Compact only now and then, so pulling many small APDUs stays linear.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete APDU, `Ok(None)` if more bytes are needed.
    pub fn next_apdu(&mut self) -> Result<Option<Apdu>, ZvtError> {
        let pending = &self.buf[self.start..];
        let Some((header, len)) = parse_header(pending, self.max_apdu_bytes)? else {
            return Ok(None);
        };
        let total = header + len;
        if pending.len() < total {
            return Ok(None);
        }
        let mut apdu = Apdu::empty(pending[0], pending[1]);
        apdu.data.set(&pending[header..total]);
        self.start += total;
        Ok(Some(apdu))
    }

    /// Bytes received but not yet returned as an APDU.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_length_is_little_endian() {
        let apdu = Apdu::new(0x06, 0xD3, vec![0xAA; 300]).unwrap();
        let bytes = apdu.encode();
        assert_eq!(&bytes[..5], &[0x06, 0xD3, 0xFF, 0x2C, 0x01]);
        assert_eq!(Apdu::decode(&bytes).unwrap(), apdu);
        let short = Apdu::new(0x06, 0xD3, vec![0; 254]).unwrap().encode();
        assert_eq!(short[2], 254);
    }

    #[test]
    fn reader_splits_a_stream_and_rejects_hostile_lengths() {
        let mut reader = ApduReader::new(100);
        reader.feed(&[0x80, 0x00, 0x00, 0x06, 0x0F]);
        assert!(reader.next_apdu().unwrap().unwrap().is_ack());
        assert_eq!(reader.next_apdu().unwrap(), None);
        reader.feed(&[0x01, 0x00]);
        assert_eq!(reader.next_apdu().unwrap().unwrap().data(), &[0x00]);
        reader.feed(&[0x06, 0xD3, 0xFF, 0xFF, 0xFF]);
        assert_eq!(
            reader.next_apdu(),
            Err(ZvtError::TooLarge {
                len: 65535,
                max: 100
            })
        );
    }

    #[test]
    fn decode_checks_the_length() {
        assert_eq!(
            Apdu::decode(&[0x06, 0x0F, 0x02, 0x00]),
            Err(ZvtError::LengthMismatch {
                declared: 2,
                actual: 1
            })
        );
        assert!(matches!(
            Apdu::decode(&[0x06]),
            Err(ZvtError::Truncated { .. })
        ));
    }
}
