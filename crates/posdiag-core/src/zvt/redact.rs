//! Masking of cardholder data: [`redact_apdu`] for transcripts, and the wrapper types
//! [`CardNumber`] and [`TrackData`] whose `Debug`/`Display` never show the full value.
//!
//! PAN digits (BMP `22`, and the PAN part of track data in BMPs `23`, `24`, `2D`) keep only the
//! first six and last four digits; every other digit of track data is masked. BCD digits are
//! masked with the nibble `E`, which is how terminals mask PANs themselves; ASCII track 1 uses
//! `*`. Lengths never change, so a redacted APDU still decodes.

use super::bmp::{BmpFormat, SENSITIVE_BMPS, bmp_format, decode_var_len};
use super::packets::prefix_len;
use super::tlv::decode_len;

/// PANs shorter than this are masked completely (first six + last four would show most of it).
const MIN_PARTLY_SHOWN: usize = 12;

/// Which digit positions (of `n` PAN digits) stay visible.
fn visible(index: usize, n: usize) -> bool {
    n >= MIN_PARTLY_SHOWN && (index < 6 || index >= n - 4)
}

/// Masks BCD card data in place: for BMP `22` every digit but the first six and last four;
/// for track BMPs the same for the PAN before the `D` separator and every digit after it.
/// BMP `2D` (track 1) is ASCII and masked with `*`.
pub(crate) fn mask_bcd_card_data(bmp: u8, value: &mut [u8]) {
    if bmp == 0x2D {
        mask_ascii_track(value);
        return;
    }
    // Nibbles in order; the PAN is the leading run of digits (and terminal-masked E nibbles).
    let nibble = |v: &[u8], i: usize| {
        if i.is_multiple_of(2) {
            v[i / 2] >> 4
        } else {
            v[i / 2] & 0x0F
        }
    };
    let total = value.len() * 2;
    let pan_len = (0..total)
        .take_while(|&i| matches!(nibble(value, i), 0..=9 | 0x0E))
        .count();
    for i in 0..total {
        let n = nibble(value, i);
        let mask = if i < pan_len {
            !visible(i, pan_len)
        } else {
            // Separator (D) and padding (F) stay; any digit after the PAN is card data, even
            // in BMP 22 (some terminals put track-like data there).
            n <= 9
        };
        if mask {
            let byte = &mut value[i / 2];
            *byte = if i.is_multiple_of(2) {
                (*byte & 0x0F) | 0xE0
            } else {
                (*byte & 0xF0) | 0x0E
            };
        }
    }
}

/// Track 1 (`%B` PAN `^` NAME `^` data `?`): PAN first six/last four, everything after it `*`.
fn mask_ascii_track(value: &mut [u8]) {
    let start = value
        .iter()
        .position(u8::is_ascii_digit)
        .unwrap_or(value.len());
    let pan_len = value[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    for (i, b) in value[start..start + pan_len].iter_mut().enumerate() {
        if !visible(i, pan_len) {
            *b = b'*';
        }
    }
    for b in &mut value[start + pan_len..] {
        if b.is_ascii_alphanumeric() || *b == b' ' {
            *b = b'*';
        }
    }
}

/// Everything masked: used when an APDU cannot be parsed but may hold card data.
fn mask_all(value: &mut [u8]) {
    for b in value {
        *b = 0xEE;
    }
}

/// Where the values of sensitive BMPs lie in `data`, or `None` if the BMPs cannot be walked.
fn sensitive_ranges(data: &[u8], start: usize) -> Option<Vec<(u8, std::ops::Range<usize>)>> {
    let mut ranges = Vec::new();
    let mut pos = start;
    while pos < data.len() {
        let id = data[pos];
        let format = bmp_format(id)?;
        pos += 1;
        let (len, used) = match format {
            BmpFormat::Fixed(n) => (n, 0),
            BmpFormat::Llvar => (decode_var_len(data, pos, 2, id).ok()?, 2),
            BmpFormat::Lllvar => (decode_var_len(data, pos, 3, id).ok()?, 3),
            BmpFormat::Tlv => decode_len(data, pos).ok()?,
        };
        pos += used;
        if data.len() - pos < len {
            return None;
        }
        if SENSITIVE_BMPS.contains(&id) {
            ranges.push((id, pos..pos + len));
        }
        pos += len;
    }
    Some(ranges)
}

/// The APDU data with card data masked (see [`redact_apdu`]).
pub(crate) fn redact_apdu_data(class: u8, instr: u8, data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let start = prefix_len(class, instr, data);
    if let Some(ranges) = start.and_then(|s| sensitive_ranges(data, s)) {
        for (id, range) in ranges {
            mask_bcd_card_data(id, &mut out[range]);
        }
        return out;
    }
    if start.is_none() && class == 0x06 && instr == 0xD1 {
        // Print line: text, no BMPs.
        return out;
    }
    // Not walkable: leave it alone only if no byte could start a sensitive BMP.
    let Some(first) = data.iter().position(|b| SENSITIVE_BMPS.contains(b)) else {
        return out;
    };
    // Mask plausible LLVAR/LLLVAR values precisely, everything from the first doubtful one on.
    let mut pos = first;
    while pos < data.len() {
        let id = data[pos];
        if !SENSITIVE_BMPS.contains(&id) {
            pos += 1;
            continue;
        }
        let digits = if matches!(bmp_format(id), Some(BmpFormat::Lllvar)) {
            3
        } else {
            2
        };
        match decode_var_len(data, pos + 1, digits, id) {
            Ok(len) if pos + 1 + digits + len <= data.len() => {
                let range = pos + 1 + digits..pos + 1 + digits + len;
                mask_bcd_card_data(id, &mut out[range]);
                pos += 1 + digits + len;
            }
            _ => {
                mask_all(&mut out[pos + 1..]);
                break;
            }
        }
    }
    out
}

/// A copy of an encoded APDU for transcripts and logs, with PAN and track data masked: PAN
/// digits except the first six and last four, track data entirely except the PAN's first six
/// and last four. APDUs that cannot be parsed come back unchanged only when no byte could start
/// BMP `22`/`23`/`24`/`2D`; otherwise the suspicious values are masked conservatively.
pub fn redact_apdu(bytes: &[u8]) -> Vec<u8> {
    let header = match bytes.get(2) {
        Some(0xFF) if bytes.len() >= 5 => 5,
        Some(_) => 3,
        None => 0,
    };
    if header == 0 {
        return bytes.to_vec();
    }
    let mut out = bytes[..header].to_vec();
    out.extend(redact_apdu_data(bytes[0], bytes[1], &bytes[header..]));
    out
}

/// A copy of raw ZVT link bytes (any chunk of an exchange) for transcripts, with card data
/// masked as by [`redact_apdu`] and the length kept: on a serial link (`serial`), every
/// `DLE STX … DLE ETX` frame's APDU is redacted in place (DLE doubling and the CRC bytes are
/// kept as they were); on TCP the bytes are read as APDUs back to back. Whatever no frame or
/// APDU explains (garbage, a partial frame) then goes through [`crate::mask_card_bytes`].
pub fn redact_link_bytes(bytes: &[u8], serial: bool) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let explained = if serial {
        redact_frames(bytes, &mut out)
    } else {
        redact_apdus(bytes, &mut out)
    };
    // Only the gaps: a redacted APDU's kept bytes (the last digits of a
    // PAN, "%B" by chance) must not read as card data a second time and
    // mask the frame's DLE ETX and CRC.
    let mut from = 0;
    for r in explained
        .iter()
        .cloned()
        .chain(std::iter::once(bytes.len()..bytes.len()))
    {
        if r.start > from {
            let masked = crate::mask_card_bytes(&out[from..r.start]);
            out[from..r.start].copy_from_slice(&masked);
        }
        from = from.max(r.end);
    }
    out
}

/// Redacts APDUs back to back; returns the byte ranges they covered.
fn redact_apdus(bytes: &[u8], out: &mut [u8]) -> Vec<std::ops::Range<usize>> {
    let mut explained = Vec::new();
    let mut pos = 0;
    while bytes.len() - pos >= 3 {
        let (header, len) = match bytes[pos + 2] {
            0xFF if bytes.len() - pos >= 5 => (
                5,
                usize::from(u16::from_le_bytes([bytes[pos + 3], bytes[pos + 4]])),
            ),
            0xFF => return explained,
            n => (3, usize::from(n)),
        };
        let whole = pos + header + len <= bytes.len();
        let end = (pos + header + len).min(bytes.len());
        out[pos..end].copy_from_slice(&redact_apdu(&bytes[pos..end]));
        // A cut-off APDU is not explained: the generic masking still runs on it.
        if whole {
            explained.push(pos..end);
        }
        pos = end;
    }
    explained
}

/// Redacts every `DLE STX … DLE ETX CRC` frame in place; returns the byte
/// ranges the frames covered.
fn redact_frames(bytes: &[u8], out: &mut [u8]) -> Vec<std::ops::Range<usize>> {
    const DLE: u8 = 0x10;
    let mut explained = Vec::new();
    let mut pos = 0;
    while pos + 1 < bytes.len() {
        if bytes[pos] != DLE || bytes[pos + 1] != 0x02 {
            pos += 1;
            continue;
        }
        // The payload's bytes and where each sits in the input.
        let mut at = Vec::new();
        let mut i = pos + 2;
        while i < bytes.len() {
            if bytes[i] != DLE {
                at.push(i);
                i += 1;
            } else if bytes.get(i + 1) == Some(&DLE) {
                at.push(i);
                i += 2;
            } else {
                break;
            }
        }
        let payload: Vec<u8> = at.iter().map(|&p| bytes[p]).collect();
        let redacted = redact_apdu(&payload);
        for (&p, &b) in at.iter().zip(&redacted) {
            out[p] = b;
            if bytes[p] == DLE {
                out[p + 1] = b;
            }
        }
        // DLE ETX and the two CRC bytes, or the end of the chunk.
        let end = (i + 4).min(bytes.len());
        // Only a whole frame (DLE ETX and its CRC in this chunk) is
        // explained; a cut-off one still gets the generic masking.
        if i + 4 <= bytes.len() && bytes[i + 1] == 0x03 {
            explained.push(pos..end);
        }
        pos = end;
    }
    explained
}

/// A card number (PAN) as BCD digits from BMP `22`. `Debug` and `Display` show only the first
/// six and last four digits.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(Vec<u8>);

impl CardNumber {
    /// Wraps the BCD value of BMP `22` (F-padded; `E` nibbles are digits masked by the terminal).
    pub fn from_bcd(bcd: Vec<u8>) -> Self {
        CardNumber(bcd)
    }

    /// The raw BCD value. Handle with care: this is the full PAN.
    pub fn expose_bcd(&self) -> &[u8] {
        &self.0
    }

    /// The masked digits, e.g. `411111******1111`; terminal-masked nibbles show as `*` too.
    pub fn masked(&self) -> String {
        let mut masked = self.0.clone();
        mask_bcd_card_data(0x22, &mut masked);
        nibbles_to_text(&masked)
    }
}

impl std::fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

impl std::fmt::Display for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Track data from BMP `23`, `24` (BCD) or `2D` (ASCII). `Debug`/`Display` mask everything but
/// the PAN's first six and last four digits.
#[derive(Clone, PartialEq, Eq)]
pub struct TrackData {
    bmp: u8,
    value: Vec<u8>,
}

impl TrackData {
    /// Wraps the value of BMP `bmp`.
    pub fn new(bmp: u8, value: Vec<u8>) -> Self {
        TrackData { bmp, value }
    }

    /// Which BMP it came from.
    pub fn bmp(&self) -> u8 {
        self.bmp
    }

    /// The raw value. Handle with care: this is full track data.
    pub fn expose(&self) -> &[u8] {
        &self.value
    }

    /// The masked text.
    pub fn masked(&self) -> String {
        let mut masked = self.value.clone();
        mask_bcd_card_data(self.bmp, &mut masked);
        if self.bmp == 0x2D {
            String::from_utf8_lossy(&masked).into_owned()
        } else {
            nibbles_to_text(&masked)
        }
    }
}

impl std::fmt::Debug for TrackData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrackData({:02X}: {})", self.bmp, self.masked())
    }
}

impl std::fmt::Display for TrackData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

/// BCD nibbles as text: digits, `*` for E (masked), `=` for D (separator), F (padding) dropped.
fn nibbles_to_text(bcd: &[u8]) -> String {
    let mut s = String::with_capacity(bcd.len() * 2);
    for b in bcd {
        for n in [b >> 4, b & 0x0F] {
            match n {
                0..=9 => s.push(char::from(b'0' + n)),
                0x0D => s.push('='),
                0x0F => {}
                _ => s.push('*'),
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_keeps_first_six_and_last_four() {
        // Status information with BMP 22 = 4111111111111111 and BMP 27 = 00.
        let apdu = [
            0x04, 0x0F, 0x0D, 0x27, 0x00, 0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11,
            0x11, 0x11,
        ];
        let redacted = redact_apdu(&apdu);
        assert_eq!(
            &redacted[8..],
            &[0x41, 0x11, 0x11, 0xEE, 0xEE, 0xEE, 0x11, 0x11]
        );
        let pan = CardNumber::from_bcd(apdu[8..].to_vec());
        assert_eq!(format!("{pan}"), "411111******1111");
        assert_eq!(format!("{pan:?}"), "CardNumber(411111******1111)");
    }

    #[test]
    fn track2_masks_everything_after_the_separator() {
        let mut track = vec![
            0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xD2, 0x51, 0x22, 0x01,
        ];
        mask_bcd_card_data(0x23, &mut track);
        assert_eq!(
            TrackData::new(0x23, track).masked(),
            "411111******1111=EEEEEEE".replace('E', "*")
        );
    }

    #[test]
    fn unparsable_apdus_are_masked_conservatively() {
        // Unknown BMP 99 stops parsing; a 22 with a plausible LLVAR follows.
        let apdu = [0x04, 0x0F, 0x07, 0x99, 0x22, 0xF0, 0xF2, 0x12, 0x34, 0x00];
        let redacted = redact_apdu(&apdu);
        assert_eq!(&redacted[7..9], &[0xEE, 0xEE]);
        // Without 22/23/24/2D anywhere it stays as it is.
        let clean = [0x04, 0x0F, 0x02, 0x99, 0x01];
        assert_eq!(redact_apdu(&clean), clean);
        // A 23 without a plausible length masks the rest.
        let doubtful = [0x04, 0x0F, 0x04, 0x99, 0x23, 0x41, 0x11];
        assert_eq!(
            redact_apdu(&doubtful),
            [0x04, 0x0F, 0x04, 0x99, 0x23, 0xEE, 0xEE]
        );
    }

    #[test]
    fn link_bytes_are_masked_in_frames_and_apdus_alike() {
        // Status information with BMP 22 = 4111111111111111 and BMP 27 = 10 (a DLE).
        let apdu = [
            0x04, 0x0F, 0x0D, 0x27, 0x10, 0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11,
            0x11, 0x11,
        ];
        let masked = redact_apdu(&apdu);
        // TCP: an ACK then the APDU, back to back, length kept.
        let tcp = [&[0x80, 0x00, 0x00][..], &apdu].concat();
        let out = redact_link_bytes(&tcp, false);
        assert_eq!(out, [&[0x80, 0x00, 0x00][..], &masked].concat());
        // Serial: ACK, the frame with BMP 27's DLE doubled, the CRC kept as it was.
        let frame = crate::zvt::serial::encode_frame(&apdu);
        assert!(frame.windows(2).any(|w| w == [0x10, 0x10]));
        let line = [&[0x06][..], &frame, &[0x06]].concat();
        let out = redact_link_bytes(&line, true);
        assert_eq!(out.len(), line.len());
        assert_eq!(
            out[..out.len() - 3],
            [&[0x06][..], &crate::zvt::serial::encode_frame(&masked)].concat()[..out.len() - 3]
        );
        assert_eq!(
            out[out.len() - 3..],
            line[line.len() - 3..],
            "CRC and ACK kept"
        );
        assert!(
            !out.windows(3).any(|w| w == [0x11, 0x11, 0x11]),
            "{out:02X?}"
        );
        // A frame cut off mid-PAN still loses the PAN digits it holds.
        let cut = &frame[..frame.len() - 6];
        let out = redact_link_bytes(cut, true);
        assert!(out.contains(&0xEE), "{out:02X?}");
    }
}
