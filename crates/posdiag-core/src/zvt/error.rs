//! The one error type of the ZVT codec. Every malformed input (truncated, wrong length, bad
//! CRC, unknown BMP, oversized) maps to a variant here; the codec never panics on input.

/// Why bytes could not be decoded as ZVT, or a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZvtError {
    /// The input ends before the structure it started is complete.
    #[error("truncated {what}: needs {needed} bytes, {available} available")]
    Truncated {
        /// What was being read ("apdu header", "bmp 0x29", "tlv value", ...).
        what: &'static str,
        /// Bytes the structure needs from where it starts.
        needed: usize,
        /// Bytes that were there.
        available: usize,
    },
    /// An APDU declares more data bytes than the configured limit.
    #[error("apdu of {len} data bytes exceeds the limit of {max}")]
    TooLarge {
        /// The declared data length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The APDU length field and the bytes given disagree.
    #[error("apdu length field says {declared} data bytes but {actual} were given")]
    LengthMismatch {
        /// The length the header declares.
        declared: usize,
        /// The bytes present after the header.
        actual: usize,
    },
    /// A BMP number whose value length is not known, so the rest cannot be split.
    #[error("unknown bmp {bmp:#04x} at offset {offset}: its length is unknown")]
    UnknownBmp {
        /// The BMP number.
        bmp: u8,
        /// Its offset in the APDU data.
        offset: usize,
    },
    /// LLVAR/LLLVAR length digits not of the form `F0|d`.
    #[error("invalid variable length prefix for bmp {bmp:#04x} at offset {offset}")]
    BadVarLength {
        /// The BMP number.
        bmp: u8,
        /// Offset of the length prefix in the APDU data.
        offset: usize,
    },
    /// A TLV length byte that is none of `00..7F`, `81 xx`, `82 xx xx`.
    #[error("invalid tlv length byte {byte:#04x} at offset {offset}")]
    BadTlvLength {
        /// The first length byte.
        byte: u8,
        /// Its offset in the bytes being parsed (APDU data or TLV container).
        offset: usize,
    },
    /// A TLV tag longer than two bytes (not used by ZVT).
    #[error("unsupported tlv tag longer than two bytes at offset {offset}")]
    LongTag {
        /// Offset of the tag inside the TLV container.
        offset: usize,
    },
    /// Constructed TLV values nested deeper than the codec follows.
    #[error("tlv nested deeper than {max} levels")]
    TlvTooDeep {
        /// The nesting limit.
        max: usize,
    },
    /// An APDU of one kind was decoded as another.
    #[error("expected {expected} but got apdu {class:02x} {instr:02x}")]
    WrongPacket {
        /// The packet kind expected.
        expected: &'static str,
        /// The class byte found.
        class: u8,
        /// The instruction byte found.
        instr: u8,
    },
    /// A field has a value the codec cannot represent.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A value is too long for its length encoding.
    #[error("{what} of {len} bytes is too long to encode (at most {max})")]
    ValueTooLong {
        /// What was being encoded.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The most its length encoding can express.
        max: usize,
    },
    /// A serial frame's CRC does not match its content.
    #[error("serial frame crc mismatch: received {received:#06x}, computed {computed:#06x}")]
    BadCrc {
        /// The CRC in the frame.
        received: u16,
        /// The CRC of the content.
        computed: u16,
    },
    /// A serial frame grew beyond the configured limit.
    #[error("serial frame exceeds {max} bytes")]
    FrameTooLarge {
        /// The limit, in unstuffed bytes.
        max: usize,
    },
    /// `10` followed by a byte other than `10`, `03` or `02` inside a frame.
    #[error("invalid escape 10 {byte:02x} inside a serial frame")]
    BadEscape {
        /// The byte after DLE.
        byte: u8,
    },
    /// A frame stopped arriving mid-way for longer than the inter-byte timeout.
    #[error("serial frame stalled after {received} bytes (inter-byte timeout)")]
    InterByteTimeout {
        /// Bytes of the frame received before the stall.
        received: usize,
    },
}
