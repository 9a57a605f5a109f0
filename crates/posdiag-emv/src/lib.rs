//! EMV data decoded and explained: a BER-TLV parser ([`tlv`]), the bit and
//! code tables of `data/*.tsv` ([`tables`]: TVR, TSI, AIP, CVM results,
//! terminal capabilities, terminal type, CID, ARC, POS entry mode, service
//! code, tag names), decoding of a blob or of what a receipt prints
//! ([`decode`](mod@decode)) and the rules that turn set bits into ranked causes with
//! who acts and what to do ([`explain`](mod@explain)), in English and Chinese.
//!
//! Decoding is structured first and put into words last: [`decode()`]
//! gives a [`Reading`] that borrows the input and points into the
//! built-in tables, [`Reading::reasons`] the rules it supports, and only
//! [`Reading::to_decoded`] / [`Reasons::to_explanation`] build texts.
//!
//! Card data (PAN `5A`, track 2 equivalent `57`, track data `56`, `9F6B`,
//! `9F1F`, cardholder name `5F20`) never leaves this crate unmasked.
//!
//! No I/O, no clock: the CLI's `--local` mode, the daemon's `EmvService`
//! and the doctor call the same functions.

#![forbid(unsafe_code)]

pub mod decode;
pub mod explain;
pub mod receipt;
pub mod tables;
pub mod tlv;

pub use decode::{
    Decoded, Element, EmvError, Fact, Item, Node, Reading, Receipt, decode, decode_hex,
    decode_receipt, decode_tlv, read_receipt,
};
pub use explain::{Cause, Checks, Explanation, Reasons, explain};
pub use tables::Severity;
pub use tlv::Tag;
