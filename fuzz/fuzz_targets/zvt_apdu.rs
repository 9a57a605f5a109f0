//! Fuzzes the ZVT APDU and packet decoders and redaction: no panic, and whatever decodes
//! re-encodes to bytes that decode to the same packet; redaction keeps the length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_core::zvt::packets::Packet;
use posdiag_core::zvt::{ApduReader, redact_apdu};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = Packet::from_bytes(data)
        && let Ok(encoded) = packet.encode()
    {
        assert_eq!(Packet::from_bytes(&encoded).ok(), Some(packet));
    }
    assert_eq!(redact_apdu(data).len(), data.len());
    let mut reader = ApduReader::new(1024);
    reader.feed(data);
    while let Ok(Some(_)) = reader.next_apdu() {}
});
