//! Framing of the daemon <-> plugin-host protocol: a u32 little-endian length,
//! then that many bytes of one prost message. Sans-I/O: [`FrameDecoder`] is fed
//! bytes and yields whole frames, so every edge case (partial header, partial
//! body, oversized length, several frames in one read) is a plain unit test.
//! The blocking helpers at the bottom are what the host binary uses. The
//! plugin messages the protocol carries as bytes (requests, results,
//! descriptors, events) are encoded and decoded here too, so that the
//! supervisor hands its callers typed messages.

use std::io::{self, Read, Write};

use prost::Message;

/// Bytes of the length prefix.
pub const HEADER_BYTES: usize = 4;

/// The default largest frame body either side accepts (16 MiB).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Room kept for the envelope around a payload (tags, lengths, call id), so a
/// payload of `max_frame_bytes - ENVELOPE_SLACK` bytes always fits in a frame.
pub const ENVELOPE_SLACK: usize = 64;

/// A framing fault: the stream cannot be trusted any more.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The peer announced a frame longer than the agreed maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The agreed maximum.
        max: usize,
    },
    /// The frame body is not a valid message.
    #[error("undecodable frame: {0}")]
    Decode(#[from] prost::DecodeError),
    /// Reading or writing the socket failed, or the peer closed it mid-frame.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
}

/// Encodes `msg` as one frame (length prefix and body).
pub fn encode<M: Message>(msg: &M) -> Vec<u8> {
    let len = msg.encoded_len();
    let mut out = Vec::with_capacity(HEADER_BYTES + len);
    // A message longer than u32::MAX cannot be framed; callers bound payloads
    // by max_frame_bytes (at most u32::MAX) long before this.
    let prefix = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&prefix.to_le_bytes());
    // Encoding into a Vec cannot run out of room.
    let _ = msg.encode(&mut out);
    out
}

/// Encodes a message carried inside a frame's message (a plugin's
/// `CheckRequest`, `InitRequest`): the host protocol passes the vendor
/// contract's messages as opaque bytes, and this module is where they become
/// bytes.
pub fn encode_payload<M: Message>(msg: &M) -> Vec<u8> {
    msg.encode_to_vec()
}

/// The size of [`encode_payload`]'s output, without encoding.
pub fn payload_len<M: Message>(msg: &M) -> usize {
    msg.encoded_len()
}

/// Decodes a message carried inside a frame's message (a plugin's
/// `Descriptor`, `CheckResult` or `Event`).
pub fn decode_payload<M: Message + Default>(bytes: &[u8]) -> Result<M, prost::DecodeError> {
    M::decode(bytes)
}

/// Accumulates bytes and splits them into frames.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max: usize,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max` bytes.
    pub fn new(max: usize) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::with_capacity(8 * 1024),
            start: 0,
            max,
        }
    }

    /// Appends bytes read from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read into directly (avoids a copy); call after
    /// [`FrameDecoder::next_frame`] returned `None`.
    pub fn read_buf(&mut self) -> &mut Vec<u8> {
        self.compact();
        &mut self.buf
    }

    /// The next whole frame's body, `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let avail = &self.buf[self.start..];
        let Some(header) = avail.first_chunk::<HEADER_BYTES>() else {
            return Ok(None);
        };
        let len = u32::from_le_bytes(*header) as usize;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if avail.len() < HEADER_BYTES + len {
            return Ok(None);
        }
        let body = self.start + HEADER_BYTES..self.start + HEADER_BYTES + len;
        self.start = body.end;
        Ok(Some(&self.buf[body]))
    }

    /// The next whole frame decoded as `M`.
    pub fn next_message<M: Message + Default>(&mut self) -> Result<Option<M>, FrameError> {
        match self.next_frame()? {
            Some(body) => Ok(Some(M::decode(body)?)),
            None => Ok(None),
        }
    }

    /// Whether bytes of an unfinished frame are buffered (EOF now is a fault).
    pub fn has_partial(&self) -> bool {
        self.start < self.buf.len()
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

/// Reads one frame from a blocking reader. `Ok(None)` is a clean EOF between
/// frames.
pub fn read_message<M: Message + Default, R: Read>(
    r: &mut R,
    max: usize,
) -> Result<Option<M>, FrameError> {
    let mut header = [0u8; HEADER_BYTES];
    let mut got = 0;
    while got < HEADER_BYTES {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some(M::decode(body.as_slice())?))
}

/// Writes one frame to a blocking writer.
pub fn write_message<M: Message, W: Write>(w: &mut W, msg: &M) -> io::Result<()> {
    w.write_all(&encode(msg))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::proto::{DaemonMessage, Ping, daemon_message::Msg};

    fn ping(nonce: u64) -> DaemonMessage {
        DaemonMessage {
            msg: Some(Msg::Ping(Ping { nonce })),
        }
    }

    #[test]
    fn frames_split_across_pushes_and_several_in_one_push() {
        let mut bytes = encode(&ping(1));
        bytes.extend(encode(&ping(2)));
        let mut d = FrameDecoder::new(1024);
        // Byte by byte: nothing until the first frame is whole.
        let first_len = encode(&ping(1)).len();
        for b in &bytes[..first_len - 1] {
            d.push(&[*b]);
            assert!(d.next_message::<DaemonMessage>().unwrap().is_none());
        }
        d.push(&bytes[first_len - 1..]);
        assert_eq!(d.next_message::<DaemonMessage>().unwrap(), Some(ping(1)));
        assert_eq!(d.next_message::<DaemonMessage>().unwrap(), Some(ping(2)));
        assert!(d.next_message::<DaemonMessage>().unwrap().is_none());
        assert!(!d.has_partial());
    }

    #[test]
    fn oversized_length_is_refused_before_the_body_arrives() {
        let mut d = FrameDecoder::new(16);
        d.push(&17u32.to_le_bytes());
        assert!(matches!(
            d.next_frame(),
            Err(FrameError::TooLarge { len: 17, max: 16 })
        ));
    }

    #[test]
    fn garbage_body_is_a_decode_error() {
        let mut d = FrameDecoder::new(16);
        d.push(&[2, 0, 0, 0, 0xff, 0xff]);
        assert!(matches!(
            d.next_message::<DaemonMessage>(),
            Err(FrameError::Decode(_))
        ));
    }

    #[test]
    fn blocking_reader_sees_clean_eof_and_truncation() {
        let bytes = encode(&ping(7));
        let mut r = bytes.as_slice();
        assert_eq!(
            read_message::<DaemonMessage, _>(&mut r, 64).unwrap(),
            Some(ping(7))
        );
        assert!(
            read_message::<DaemonMessage, _>(&mut r, 64)
                .unwrap()
                .is_none()
        );
        let mut cut = &bytes[..bytes.len() - 1];
        assert!(matches!(
            read_message::<DaemonMessage, _>(&mut cut, 64),
            Err(FrameError::Io(_))
        ));
        let mut big = &bytes[..];
        assert!(matches!(
            read_message::<DaemonMessage, _>(&mut big, 1),
            Err(FrameError::TooLarge { .. })
        ));
    }
}
