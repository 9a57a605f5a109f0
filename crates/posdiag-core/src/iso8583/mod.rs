//! ISO 8583 messages in per-host dialects, sans-I/O: encode and decode one message
//! ([`Dialect::encode`], [`Dialect::decode`]), split a TCP stream into messages
//! ([`FrameReader`]), and the network-management echo test ([`NetworkRequest`],
//! [`is_response_to`], [`answer`]).
//!
//! A [`Dialect`] describes everything that differs between hosts: MTI encoding, bitmap
//! encoding, each field's data and length encoding, the message length prefix and the China
//! UnionPay TPDU + header framing. The named dialects ([`DIALECT_NAMES`]) are `ascii` and
//! `binary` (pyiso8583 4.0.1's `default_ascii` and `default` specs, byte for byte),
//! `ascii-1993` (1993 network management fields) and `cup` (China UnionPay POS).
//!
//! ```
//! use posdiag_core::iso8583::{Dialect, NetworkRequest, answer, is_response_to};
//!
//! let dialect = Dialect::ascii();
//! let request = NetworkRequest::echo(123, "1122083015").build(&dialect)?;
//! let wire = dialect.encode(&request)?;
//! assert_eq!(wire, b"0800822000000000000004000000000000001122083015000123301");
//! let response = dialect.decode(&dialect.encode(&answer(&request, "91")?)?)?;
//! assert!(is_response_to(&request, &response));
//! assert_eq!(response.response_code(), Some("91"));
//! # Ok::<(), posdiag_core::iso8583::Iso8583Error>(())
//! ```
//!
//! Malformed input gives an [`Iso8583Error`] naming the part (field number, bitmap, prefix),
//! never a panic, and never an allocation larger than the input.

mod codec;
mod dialect;
mod ebcdic;
mod echo;
mod error;
mod frame;
mod message;

pub use dialect::{
    BitmapEncoding, Content, DIALECT_NAMES, DataEncoding, Dialect, FieldSpec, Framing,
    LengthEncoding, LengthPrefix, LengthType, MtiEncoding, Pad, Version,
};
pub use echo::{NetworkAction, NetworkRequest, answer, is_response_to, network_action};
pub use error::{Iso8583Error, Part};
pub use frame::{FrameReader, frame};
pub use message::{CupFrame, Message, Mti, Tpdu};
