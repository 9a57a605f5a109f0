//! The one error type of the ISO 8583 codec, and [`Part`], which names the place in a message
//! an error is about so a person reading a log knows which field of which dialect to check.

use std::fmt;

/// Where in a message an error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The message length prefix on the stream.
    LengthPrefix,
    /// The China UnionPay TPDU (5 bytes).
    Tpdu,
    /// The China UnionPay header (6 bytes).
    Header,
    /// The message type indicator.
    Mti,
    /// The bitmap of fields 1 to 64.
    PrimaryBitmap,
    /// The bitmap of fields 65 to 128 (field 1).
    SecondaryBitmap,
    /// A data field, 2 to 128.
    Field(u8),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::LengthPrefix => f.write_str("length prefix"),
            Part::Tpdu => f.write_str("tpdu"),
            Part::Header => f.write_str("cup header"),
            Part::Mti => f.write_str("mti"),
            Part::PrimaryBitmap => f.write_str("primary bitmap"),
            Part::SecondaryBitmap => f.write_str("secondary bitmap"),
            Part::Field(n) => write!(f, "field {n}"),
        }
    }
}

/// Why bytes could not be decoded as, or a message could not be encoded to, an ISO 8583
/// message of a dialect. Values from the wire are never copied into an error whole: at most a
/// short, printable excerpt of a length prefix or bitmap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Iso8583Error {
    /// The input ended inside `part`.
    #[error("{part}: truncated, needs {needed} bytes but {available} are left")]
    Truncated {
        /// Where the input ended.
        part: Part,
        /// Bytes `part` needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A length prefix (of a field or of the whole message) holds something other than a
    /// number in its encoding.
    #[error("{part}: length prefix {found} is not a number")]
    BadLength {
        /// The field, or [`Part::LengthPrefix`] for the message length.
        part: Part,
        /// The prefix bytes, in hex.
        found: String,
    },
    /// A length is larger than the dialect allows.
    #[error("{part}: length {length} exceeds the maximum {max}")]
    TooLong {
        /// The field, or [`Part::LengthPrefix`] for a whole message.
        part: Part,
        /// The length found or asked for.
        length: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// A fixed-length field's value has the wrong length (encoding only: on the wire a fixed
    /// field simply takes its length).
    #[error("{part}: value is {length} long, the dialect requires exactly {expected}")]
    WrongLength {
        /// The field.
        part: Part,
        /// The value's length, in the field's units (characters, digits or bytes).
        length: usize,
        /// The fixed length.
        expected: usize,
    },
    /// An ASCII-hex bitmap holds a character that is not a hex digit.
    #[error("{part}: \"{found}\" is not hexadecimal")]
    BadHex {
        /// Which bitmap.
        part: Part,
        /// The bitmap text (16 characters at most, non-printable bytes escaped).
        found: String,
    },
    /// A numeric value (the MTI, an `n` field) holds something other than a decimal digit.
    #[error("{part}: non-digit in a numeric value")]
    NotNumeric {
        /// The MTI or the field.
        part: Part,
    },
    /// A byte that the part's encoding cannot hold (a non-ASCII byte in an ASCII field, an
    /// EBCDIC byte with no ASCII equivalent).
    #[error("{part}: byte 0x{byte:02x} is not valid {encoding}")]
    InvalidByte {
        /// The field.
        part: Part,
        /// The offending byte.
        byte: u8,
        /// "ascii", "ebcdic", ...
        encoding: &'static str,
    },
    /// An odd-length BCD value whose pad nibble is not the one the dialect uses.
    #[error("{part}: pad nibble {found:x} where the dialect pads with {expected:x}")]
    BadPadding {
        /// The field.
        part: Part,
        /// The nibble found.
        found: u8,
        /// The dialect's pad nibble.
        expected: u8,
    },
    /// The bitmap announces a field the dialect has no definition for, so the rest of the
    /// message cannot be delimited.
    #[error("field {field} is in the bitmap but not defined by dialect {dialect}")]
    UndefinedField {
        /// The field number (1 means a secondary bitmap in a 64-field dialect).
        field: u8,
        /// The dialect's name.
        dialect: String,
    },
    /// A field number outside 2..=128 was given to a message (field 1, the secondary bitmap,
    /// is set automatically).
    #[error("field {field} is not a data field: use 2 to 128")]
    InvalidFieldNumber {
        /// The number given.
        field: u16,
    },
    /// Bytes follow the last field the bitmap announced.
    #[error("{count} bytes left over after the last field")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A response was asked for a message that is not a request or advice.
    #[error("mti {mti} is not a request or advice, so it has no response")]
    NotARequest {
        /// The MTI.
        mti: String,
    },
    /// The dialect needs a part the message does not have (the TPDU of China UnionPay).
    #[error("{part}: missing, dialect {dialect} requires it")]
    Missing {
        /// What is missing.
        part: Part,
        /// The dialect's name.
        dialect: String,
    },
}

/// Hex of at most the first 8 bytes, for error messages.
pub(crate) fn hex_excerpt(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut out = String::new();
    for b in bytes.iter().take(8) {
        let _ = write!(out, "{b:02x}");
    }
    if bytes.len() > 8 {
        out.push_str("..");
    }
    out
}

/// Printable excerpt of at most 16 bytes, for error messages.
pub(crate) fn text_excerpt(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(16)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}
