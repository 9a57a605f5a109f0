//! ZVT serial (RS-232) framing: `10 02` + APDU with each `10` doubled + `10 03` + CRC-16/KERMIT
//! (over the unstuffed APDU and the `03`) low byte first; the receiver answers `06` (ACK) or
//! `15` (NAK). [`FrameDecoder`] is the receiving state machine: fed bytes and the current
//! [`Instant`], it yields typed [`SerialEvent`]s, counts garbage between frames and reports a
//! frame stalled longer than the inter-byte timeout T1.

use std::time::{Duration, Instant};

use super::ZvtError;

/// Data link escape.
pub const DLE: u8 = 0x10;
/// Start of text.
pub const STX: u8 = 0x02;
/// End of text.
pub const ETX: u8 = 0x03;
/// Link-level positive acknowledgement.
pub const ACK: u8 = 0x06;
/// Link-level negative acknowledgement.
pub const NAK: u8 = 0x15;

/// T1, the longest gap allowed between two bytes of one frame (ecrterm: 200 ms).
pub const DEFAULT_INTER_BYTE_TIMEOUT: Duration = Duration::from_millis(200);
/// Largest unstuffed APDU a frame may carry by default: a maximal extended APDU.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 5 + u16::MAX as usize;

const CRC_TABLE: [u16; 256] = crc_table();
/// Slicing-by-4 tables: `CRC_SLICES[k][b]` is the CRC contribution of byte `b`
/// followed by `k` zero bytes, so four bytes fold in with independent lookups
/// instead of a chain of four dependent ones.
const CRC_SLICES: [[u16; 256]; 4] = crc_slices();

const fn crc_slices() -> [[u16; 256]; 4] {
    let mut t = [[0u16; 256]; 4];
    t[0] = crc_table();
    let mut k = 1;
    while k < 4 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Continues a CRC-16/KERMIT computation over `bytes`.
pub fn crc16_kermit_update(mut crc: u16, bytes: &[u8]) -> u16 {
    let mut chunks = bytes.chunks_exact(4);
    for c in &mut chunks {
        let x = crc ^ u16::from_le_bytes([c[0], c[1]]);
        crc = CRC_SLICES[3][usize::from(x & 0xFF)]
            ^ CRC_SLICES[2][usize::from(x >> 8)]
            ^ CRC_SLICES[1][usize::from(c[2])]
            ^ CRC_SLICES[0][usize::from(c[3])];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ CRC_TABLE[usize::from((crc ^ u16::from(b)) & 0xFF)];
    }
    crc
}

/// CRC-16/KERMIT (reflected 0x1021, init 0, no final xor): `"123456789"` gives `0x2189`.
pub fn crc16_kermit(bytes: &[u8]) -> u16 {
    crc16_kermit_update(0, bytes)
}

/// The serial frame for an encoded APDU.
pub fn encode_frame(apdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(apdu.len() + apdu.len() / 8 + 6);
    out.extend_from_slice(&[DLE, STX]);
    for &b in apdu {
        out.push(b);
        if b == DLE {
            out.push(DLE);
        }
    }
    out.extend_from_slice(&[DLE, ETX]);
    let crc = crc16_kermit_update(crc16_kermit(apdu), &[ETX]);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Something the decoder recognised.
#[derive(Clone, PartialEq, Eq)]
pub enum SerialEvent {
    /// A frame with a good CRC: the unstuffed APDU bytes.
    Frame(Vec<u8>),
    /// A link-level ACK byte `06` between frames.
    Ack,
    /// A link-level NAK byte `15` between frames.
    Nak,
    /// A complete frame whose CRC does not match ([`ZvtError::BadCrc`]), or one broken by a
    /// bad escape ([`ZvtError::BadEscape`]), an overlong body ([`ZvtError::FrameTooLarge`]) or
    /// a stall ([`ZvtError::InterByteTimeout`]).
    Error(ZvtError),
}

// A frame may carry card data: Debug shows it through the transcript redaction.
impl std::fmt::Debug for SerialEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SerialEvent::Frame(body) => {
                f.write_str("Frame(")?;
                for b in super::redact::redact_apdu(body) {
                    write!(f, "{b:02x}")?;
                }
                f.write_str(")")
            }
            SerialEvent::Ack => f.write_str("Ack"),
            SerialEvent::Nak => f.write_str("Nak"),
            SerialEvent::Error(e) => f.debug_tuple("Error").field(e).finish(),
        }
    }
}

/// Settings of [`FrameDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// T1: a frame is abandoned when no byte arrives for this long mid-frame.
    pub inter_byte_timeout: Duration,
    /// Largest unstuffed frame body accepted.
    pub max_frame_bytes: usize,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            inter_byte_timeout: DEFAULT_INTER_BYTE_TIMEOUT,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames.
    Idle,
    /// Saw `10` between frames.
    IdleDle,
    /// Inside a frame body.
    Body,
    /// Saw `10` inside a frame body.
    BodyDle,
    /// After `10 03`: waiting for the CRC low byte.
    CrcLo,
    /// Waiting for the CRC high byte.
    CrcHi(u8),
    /// After an oversized body: skipping to the frame end.
    Discard,
    /// Saw `10` while skipping.
    DiscardDle,
    /// Skipping the CRC bytes of an oversized frame.
    DiscardCrc(u8),
}

/// The receiving state machine of the serial framing.
#[derive(Clone)]
pub struct FrameDecoder {
    config: DecoderConfig,
    state: State,
    body: Vec<u8>,
    crc: u16,
    /// When the last byte of the frame in progress arrived.
    last_byte: Option<Instant>,
    garbage: u64,
}

// The frame in progress may hold card data: Debug shows sizes only.
impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("config", &self.config)
            .field("state", &self.state)
            .field("body_bytes", &self.body.len())
            .field("garbage", &self.garbage)
            .finish()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DecoderConfig::default())
    }
}

impl FrameDecoder {
    /// A decoder with these settings.
    pub fn new(config: DecoderConfig) -> Self {
        FrameDecoder {
            config,
            state: State::Idle,
            body: Vec::new(),
            crc: 0,
            last_byte: None,
            garbage: 0,
        }
    }

    /// Bytes skipped between frames since creation (noise, stray bytes, abandoned frames).
    pub fn garbage_bytes(&self) -> u64 {
        self.garbage
    }

    /// When the frame in progress times out, if one is in progress.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Idle => None,
            _ => self.last_byte.map(|t| t + self.config.inter_byte_timeout),
        }
    }

    /// Reports a stalled frame if its inter-byte timeout has passed at `now`.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<SerialEvent> {
        let deadline = self.deadline()?;
        if now < deadline {
            return None;
        }
        let received = self.body.len();
        self.garbage += received as u64 + 2;
        self.reset();
        Some(SerialEvent::Error(ZvtError::InterByteTimeout { received }))
    }

    fn reset(&mut self) {
        self.state = State::Idle;
        self.body.clear();
        self.crc = 0;
        self.last_byte = None;
    }

    fn start_frame(&mut self, now: Instant) {
        self.state = State::Body;
        self.body.clear();
        self.crc = 0;
        self.last_byte = Some(now);
    }

    /// Feeds received bytes, appending what they complete to `events`.
    pub fn feed_into(&mut self, input: &[u8], now: Instant, events: &mut Vec<SerialEvent>) {
        if input.is_empty() {
            return;
        }
        // A gap longer than T1 before these bytes ends the frame in progress.
        if let Some(event) = self.poll_timeout(now) {
            events.push(event);
        }
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Body => {
                    // Fast path: copy up to the next DLE in one go.
                    let rest = &input[i..];
                    let run = rest.iter().position(|&b| b == DLE).unwrap_or(rest.len());
                    let chunk = &rest[..run];
                    if self.body.len() + chunk.len() > self.config.max_frame_bytes {
                        self.garbage += (self.body.len() + chunk.len()) as u64;
                        self.body.clear();
                        self.state = State::Discard;
                        events.push(SerialEvent::Error(ZvtError::FrameTooLarge {
                            max: self.config.max_frame_bytes,
                        }));
                    } else {
                        self.crc = crc16_kermit_update(self.crc, chunk);
                        self.body.extend_from_slice(chunk);
                        if run < rest.len() {
                            self.state = State::BodyDle;
                            i += 1;
                        }
                    }
                    i += run;
                    continue;
                }
                State::BodyDle => {
                    let b = input[i];
                    match b {
                        DLE => {
                            if self.body.len() >= self.config.max_frame_bytes {
                                self.garbage += self.body.len() as u64;
                                self.body.clear();
                                self.state = State::Discard;
                                events.push(SerialEvent::Error(ZvtError::FrameTooLarge {
                                    max: self.config.max_frame_bytes,
                                }));
                            } else {
                                self.crc = crc16_kermit_update(self.crc, &[DLE]);
                                self.body.push(DLE);
                                self.state = State::Body;
                            }
                        }
                        ETX => {
                            self.crc = crc16_kermit_update(self.crc, &[ETX]);
                            self.state = State::CrcLo;
                        }
                        STX => {
                            // A new frame starts: the broken one was noise.
                            self.garbage += self.body.len() as u64 + 2;
                            events.push(SerialEvent::Error(ZvtError::BadEscape { byte: b }));
                            self.start_frame(now);
                        }
                        _ => {
                            self.garbage += self.body.len() as u64 + 4;
                            events.push(SerialEvent::Error(ZvtError::BadEscape { byte: b }));
                            self.reset();
                        }
                    }
                }
                State::CrcLo => self.state = State::CrcHi(input[i]),
                State::CrcHi(lo) => {
                    let received = u16::from_le_bytes([lo, input[i]]);
                    let computed = self.crc;
                    // A copy of exactly the frame's size; the buffer keeps its capacity for the
                    // next frame, so a steady stream allocates once per frame.
                    let body = self.body.clone();
                    self.reset();
                    if received == computed {
                        events.push(SerialEvent::Frame(body));
                    } else {
                        events.push(SerialEvent::Error(ZvtError::BadCrc { received, computed }));
                    }
                }
                State::Idle => match input[i] {
                    ACK => events.push(SerialEvent::Ack),
                    NAK => events.push(SerialEvent::Nak),
                    DLE => self.state = State::IdleDle,
                    _ => self.garbage += 1,
                },
                State::IdleDle => match input[i] {
                    STX => self.start_frame(now),
                    DLE => self.garbage += 1,
                    _ => {
                        // Not a frame start: the DLE was noise; look at this byte again.
                        self.garbage += 1;
                        self.state = State::Idle;
                        continue;
                    }
                },
                State::Discard => {
                    if input[i] == DLE {
                        self.state = State::DiscardDle;
                    }
                    self.garbage += 1;
                }
                State::DiscardDle => {
                    self.garbage += 1;
                    self.state = match input[i] {
                        // The oversized frame's CRC is skipped, not checked.
                        ETX => State::DiscardCrc(2),
                        STX => {
                            self.start_frame(now);
                            State::Body
                        }
                        _ => State::Discard,
                    };
                }
                State::DiscardCrc(left) => {
                    self.garbage += 1;
                    self.state = if left > 1 {
                        State::DiscardCrc(left - 1)
                    } else {
                        State::Idle
                    };
                }
            }
            i += 1;
        }
        if self.state != State::Idle {
            self.last_byte = Some(now);
        }
    }

    /// Feeds received bytes and returns what they complete.
    pub fn feed(&mut self, input: &[u8], now: Instant) -> Vec<SerialEvent> {
        let mut events = Vec::new();
        self.feed_into(input, now, &mut events);
        events
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_sliced_crc_agrees_with_the_bytewise_one_at_every_length() {
        let data: Vec<u8> = (0..97u32).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..data.len() {
            let mut bytewise = 0u16;
            for &b in &data[..len] {
                bytewise =
                    (bytewise >> 8) ^ CRC_TABLE[usize::from((bytewise ^ u16::from(b)) & 0xFF)];
            }
            assert_eq!(crc16_kermit(&data[..len]), bytewise, "length {len}");
        }
        assert_eq!(crc16_kermit(b"123456789"), 0x2189);
    }

    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16_kermit(b"123456789"), 0x2189);
    }

    #[test]
    fn frames_ack_nak_and_garbage() {
        let now = Instant::now();
        let mut d = FrameDecoder::default();
        let mut input = vec![0xAA, ACK, 0x10, 0x41];
        input.extend(encode_frame(&[0x80, 0x00, 0x00]));
        input.push(NAK);
        let events = d.feed(&input, now);
        assert_eq!(
            events,
            vec![
                SerialEvent::Ack,
                SerialEvent::Frame(vec![0x80, 0x00, 0x00]),
                SerialEvent::Nak
            ]
        );
        assert_eq!(d.garbage_bytes(), 3);
    }

    #[test]
    fn stalled_frame_times_out() {
        let t0 = Instant::now();
        let mut d = FrameDecoder::default();
        assert!(d.feed(&[DLE, STX, 0x80], t0).is_empty());
        assert_eq!(d.deadline(), Some(t0 + DEFAULT_INTER_BYTE_TIMEOUT));
        assert_eq!(d.poll_timeout(t0 + Duration::from_millis(199)), None);
        assert_eq!(
            d.poll_timeout(t0 + Duration::from_millis(200)),
            Some(SerialEvent::Error(ZvtError::InterByteTimeout {
                received: 1
            }))
        );
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn oversized_frames_are_dropped_and_the_next_one_decodes() {
        let now = Instant::now();
        let mut d = FrameDecoder::new(DecoderConfig {
            max_frame_bytes: 4,
            ..DecoderConfig::default()
        });
        let mut input = encode_frame(&[0x06, 0x0F, 0x03, 1, 2, 3]);
        input.extend(encode_frame(&[0x80, 0x00, 0x00]));
        let events = d.feed(&input, now);
        assert_eq!(
            events,
            vec![
                SerialEvent::Error(ZvtError::FrameTooLarge { max: 4 }),
                SerialEvent::Frame(vec![0x80, 0x00, 0x00])
            ]
        );
    }
}
