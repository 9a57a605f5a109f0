//! ZVT, the German ECR ↔ payment-terminal protocol, sans-I/O: APDUs and the TCP stream reader
//! ([`apdu`]), BMPs ([`bmp`]) and TLV ([`tlv`]), typed packets ([`packets`]), the RS-232
//! framing state machine ([`serial`]), the serial link session that ACKs, NAKs and
//! retransmits ([`link`]), the ECR command session ([`session`]), redaction of card data
//! for transcripts ([`redact`]) and the password commands carry ([`Password`]).
//!
//! Nothing here does I/O or reads a clock: time comes in as [`std::time::Instant`] arguments,
//! so every edge case (stuffed DLE, CRC error, NAK, partial frame, timeout) is a plain unit
//! test. Malformed input gives a [`ZvtError`], never a panic, and allocation is bounded by the
//! input (and by configured maxima for lengths the input only announces).

pub mod apdu;
pub mod bmp;
mod error;
pub mod link;
pub mod packets;
mod password;
pub mod redact;
pub mod serial;
pub mod session;
pub mod tlv;

pub use apdu::{Apdu, ApduReader};
pub use bmp::{Bmp, BmpList, BmpValue};
pub use error::ZvtError;
pub use link::{LinkAction, LinkConfig, LinkFailure, LinkInput, LinkStats, Role, SerialLink};
pub use packets::Packet;
pub use password::Password;
pub use redact::{CardNumber, TrackData, redact_apdu, redact_link_bytes};
pub use serial::{FrameDecoder, SerialEvent, crc16_kermit, encode_frame};
pub use session::{
    CommandEnd, CommandOutcome, CommandSession, SessionAction, SessionConfig, SessionInput,
};
pub use tlv::{SmallBytes, Tag, Tlv, TlvList, TlvValue};
