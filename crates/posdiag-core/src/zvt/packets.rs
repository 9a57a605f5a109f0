//! Typed ZVT packets over [`Apdu`]: the commands diagnostics sends (registration, status
//! enquiry, diagnosis, read card, abort, log-off) and the terminal's answers (ACK/NAK,
//! intermediate status, status information, completion, abort). Each keeps its fixed fields
//! and its BMPs in order, so `Packet::decode(apdu)?.to_apdu()?` gives the same bytes back;
//! accessors read the values diagnostics needs. Unknown APDUs decode as [`Packet::Other`].

use super::ZvtError;
use super::apdu::Apdu;
use super::bmp::{Bmp, BmpList, bcd_to_string, bcd_to_u64, decode_var_len, encode_var_len};
use super::redact::{CardNumber, TrackData};
use super::tlv::TlvList;

/// Control fields (class, instruction).
pub mod cmd {
    /// Registration (ECR → PT).
    pub const REGISTRATION: (u8, u8) = (0x06, 0x00);
    /// Status enquiry (ECR → PT).
    pub const STATUS_ENQUIRY: (u8, u8) = (0x05, 0x01);
    /// Diagnosis (ECR → PT).
    pub const DIAGNOSIS: (u8, u8) = (0x06, 0x70);
    /// Read card (ECR → PT).
    pub const READ_CARD: (u8, u8) = (0x06, 0xC0);
    /// Abort (ECR → PT).
    pub const ABORT: (u8, u8) = (0x06, 0xB0);
    /// Log-off (ECR → PT).
    pub const LOG_OFF: (u8, u8) = (0x06, 0x02);
    /// End of day (ECR → PT).
    pub const END_OF_DAY: (u8, u8) = (0x06, 0x50);
    /// Intermediate status information (PT → ECR).
    pub const INTERMEDIATE_STATUS: (u8, u8) = (0x04, 0xFF);
    /// Status information (PT → ECR).
    pub const STATUS_INFORMATION: (u8, u8) = (0x04, 0x0F);
    /// Completion (PT → ECR).
    pub const COMPLETION: (u8, u8) = (0x06, 0x0F);
    /// Abort (PT → ECR).
    pub const ABORT_FROM_PT: (u8, u8) = (0x06, 0x1E);
    /// Print line (PT → ECR).
    pub const PRINT_LINE: (u8, u8) = (0x06, 0xD1);
    /// Print text block (PT → ECR).
    pub const PRINT_TEXT_BLOCK: (u8, u8) = (0x06, 0xD3);
}

/// Whether `data` starts with three `F0|d` digits (the completion's software-version form).
fn starts_with_lllvar(data: &[u8]) -> bool {
    data.len() >= 3 && data[..3].iter().all(|b| b & 0xF0 == 0xF0 && b & 0x0F <= 9)
}

/// Bytes of fixed fields before the BMPs, for the packets that have BMPs; `None` for APDUs
/// without a BMP part (print line, ACK/NAK, unknown ones).
pub(crate) fn prefix_len(class: u8, instr: u8, data: &[u8]) -> Option<usize> {
    let parses = |from: usize| data.get(from..).is_some_and(BmpList::splits);
    match (class, instr) {
        cmd::REGISTRATION => Some(registration_prefix(data)),
        cmd::STATUS_ENQUIRY | cmd::END_OF_DAY => Some(3.min(data.len())),
        cmd::READ_CARD | cmd::ABORT_FROM_PT => Some(1.min(data.len())),
        cmd::INTERMEDIATE_STATUS => Some(match data.len() {
            0 | 1 => data.len(),
            2 => 2,
            _ if parses(2) => 2,
            _ => 1,
        }),
        cmd::COMPLETION if starts_with_lllvar(data) => {
            let len = decode_var_len(data, 0, 3, 0).ok()?;
            // Software version, then the terminal status byte if present.
            Some((3 + len + 1).min(data.len()))
        }
        cmd::DIAGNOSIS
        | cmd::STATUS_INFORMATION
        | cmd::COMPLETION
        | cmd::ABORT
        | cmd::LOG_OFF
        | cmd::PRINT_TEXT_BLOCK => Some(0),
        _ => None,
    }
}

/// Registration: password (3) + config byte (1) + optional currency (2, no BMP number) + BMPs.
/// The currency is told apart from a following BMP `03`/`06` by which reading parses.
fn registration_prefix(data: &[u8]) -> usize {
    if data.len() <= 4 {
        return data.len();
    }
    if data.len() == 6 {
        return 6;
    }
    let bmp_follows = matches!(data[4], 0x03 | 0x06) && BmpList::splits(&data[4..]);
    if bmp_follows || data.len() < 6 { 4 } else { 6 }
}

/// Text from the ZVT character set; bytes that are not UTF-8 are replaced.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Registration `06 00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Password, 3 bytes BCD.
    pub password: [u8; 3],
    /// Config byte (which messages the ECR wants, who prints, ...).
    pub config: u8,
    /// Currency code, 2 bytes BCD, if given.
    pub currency: Option<[u8; 2]>,
    /// The BMPs that follow (`03` service byte, `06` TLV).
    pub bmps: BmpList,
}

impl Registration {
    /// The password digits, e.g. `"123456"`.
    pub fn password_digits(&self) -> String {
        bcd_to_string(&self.password)
    }
    /// The currency as a number (978 = EUR).
    pub fn currency_code(&self) -> Option<u64> {
        self.currency.and_then(|c| bcd_to_u64(&c))
    }
    /// TLV tag `1A`: the largest APDU the ECR accepts.
    pub fn max_apdu_len(&self) -> Option<u16> {
        match self.bmps.tlv()?.bytes(0x1A)? {
            &[hi, lo] => Some(u16::from_be_bytes([hi, lo])),
            _ => None,
        }
    }
}

/// Status enquiry `05 01`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEnquiry {
    /// Password, 3 bytes BCD.
    pub password: [u8; 3],
    /// BMP `03` service byte, BMP `06` TLV.
    pub bmps: BmpList,
}

impl StatusEnquiry {
    /// A status enquiry with this password and nothing else.
    pub fn new(password: [u8; 3]) -> Self {
        StatusEnquiry {
            password,
            bmps: BmpList::default(),
        }
    }
    /// BMP `03`.
    pub fn service_byte(&self) -> Option<u8> {
        self.bmps.byte(0x03)
    }
}

/// Diagnosis `06 70`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// BMP `06` TLV with tag `1B`.
    pub bmps: BmpList,
}

impl Diagnosis {
    /// A diagnosis of this type (1 line, 2 extended, 3 configuration, 4 EMV, 5 ep2).
    pub fn new(diagnosis_type: u8) -> Self {
        let tlv = TlvList(vec![super::tlv::Tlv::primitive(0x1B, vec![diagnosis_type])]);
        Diagnosis {
            bmps: BmpList(vec![Bmp::tlv(tlv)]),
        }
    }
    /// TLV tag `1B`.
    pub fn diagnosis_type(&self) -> Option<u8> {
        match self.bmps.tlv()?.bytes(0x1B)? {
            &[t] => Some(t),
            _ => None,
        }
    }
}

/// Read card `06 C0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadCard {
    /// How long the terminal waits for a card, in seconds (absent in an empty APDU).
    pub timeout_secs: Option<u8>,
    /// BMP `19` card type, BMP `FC` dialog control, BMP `06` TLV.
    pub bmps: BmpList,
}

impl ReadCard {
    /// BMP `19`: which card types to accept.
    pub fn card_type(&self) -> Option<u8> {
        self.bmps.byte(0x19)
    }
    /// BMP `FC`.
    pub fn dialog_control(&self) -> Option<u8> {
        self.bmps.byte(0xFC)
    }
}

/// Intermediate status `04 FF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntermediateStatus {
    /// The status code (e.g. `0A` insert card, `0C` card not readable).
    pub status: u8,
    /// How long the ECR should show it, in seconds.
    pub timeout: Option<u8>,
    /// BMP `06` with display text.
    pub bmps: BmpList,
}

impl IntermediateStatus {
    /// A status without timeout or text.
    pub fn new(status: u8) -> Self {
        IntermediateStatus {
            status,
            timeout: None,
            bmps: BmpList::default(),
        }
    }
    /// Display text lines (TLV tag `07`, at any depth, in order).
    pub fn text_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(tlv) = self.bmps.tlv() {
            collect_tag(tlv, 0x07, &mut lines);
        }
        lines
    }
}

fn collect_tag(list: &TlvList, tag: u16, out: &mut Vec<String>) {
    for t in list.iter() {
        if t.tag.0 == tag
            && let Some(bytes) = t.bytes()
        {
            out.push(text(bytes));
        }
        if let Some(children) = t.children() {
            collect_tag(children, tag, out);
        }
    }
}

/// Status information `04 0F`: result, card and transaction data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInformation {
    /// The BMPs in order.
    pub bmps: BmpList,
}

impl StatusInformation {
    /// BMP `27`.
    pub fn result_code(&self) -> Option<u8> {
        self.bmps.byte(0x27)
    }
    /// BMP `04` in the smallest currency unit.
    pub fn amount(&self) -> Option<u64> {
        self.bmps.bytes(0x04).and_then(bcd_to_u64)
    }
    /// BMP `49`.
    pub fn currency_code(&self) -> Option<u64> {
        self.bmps.bytes(0x49).and_then(bcd_to_u64)
    }
    /// BMP `29`, as digits.
    pub fn terminal_id(&self) -> Option<String> {
        self.bmps.bytes(0x29).map(bcd_to_string)
    }
    /// BMP `22`, masked in `Debug`/`Display`.
    pub fn pan(&self) -> Option<CardNumber> {
        self.bmps
            .bytes(0x22)
            .map(|b| CardNumber::from_bcd(b.to_vec()))
    }
    /// BMP `23` (track 2), masked in `Debug`/`Display`.
    pub fn track2(&self) -> Option<TrackData> {
        self.bmps
            .bytes(0x23)
            .map(|b| TrackData::new(0x23, b.to_vec()))
    }
    /// BMP `0E` expiry, `YYMM`.
    pub fn expiry(&self) -> Option<String> {
        self.bmps.bytes(0x0E).map(bcd_to_string)
    }
    /// BMP `8A` card type.
    pub fn card_type(&self) -> Option<u8> {
        self.bmps.byte(0x8A)
    }
    /// BMP `8C` card type id.
    pub fn card_type_id(&self) -> Option<u8> {
        self.bmps.byte(0x8C)
    }
    /// BMP `8B` card name.
    pub fn card_name(&self) -> Option<String> {
        self.bmps.bytes(0x8B).map(text)
    }
    /// The application id: BMP `3B`, else TLV `43` (inside `60`).
    pub fn aid(&self) -> Option<Vec<u8>> {
        self.bmps
            .bytes(0x3B)
            .or_else(|| self.bmps.tlv()?.find_bytes(0x43))
            .map(<[u8]>::to_vec)
    }
    /// Contactless UID, TLV `4C`.
    pub fn uid(&self) -> Option<&[u8]> {
        self.bmps.tlv()?.find_bytes(0x4C)
    }
    /// Contactless ATS, TLV `1F45`.
    pub fn ats(&self) -> Option<&[u8]> {
        self.bmps.tlv()?.find_bytes(0x1F45)
    }
    /// Card type from the reader, TLV `1F4C`.
    pub fn reader_card_type(&self) -> Option<u8> {
        match self.bmps.tlv()?.find_bytes(0x1F4C)? {
            &[t] => Some(t),
            _ => None,
        }
    }
    /// Contactless ATQA, TLV `1F4F`.
    pub fn atqa(&self) -> Option<&[u8]> {
        self.bmps.tlv()?.find_bytes(0x1F4F)
    }
    /// Contactless SAK, TLV `1F50`.
    pub fn sak(&self) -> Option<u8> {
        match self.bmps.tlv()?.find_bytes(0x1F50)? {
            &[s] => Some(s),
            _ => None,
        }
    }
}

/// Device information, TLV `E4` of a status-enquiry completion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    /// `1F40` device name.
    pub name: Option<String>,
    /// `1F41` software version.
    pub software_version: Option<String>,
    /// `1F42` serial number, as hex digits.
    pub serial: Option<String>,
    /// `1F43` device state.
    pub state: Option<u8>,
    /// `1F44` terminal id, as digits.
    pub terminal_id: Option<String>,
}

/// Completion `06 0F`. After a status enquiry it starts with the software version (LLLVAR) and
/// the terminal status byte; otherwise it holds BMPs only (or nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Software version (without its LLLVAR prefix), in the status-enquiry form.
    pub software_version: Option<Vec<u8>>,
    /// Terminal status byte, in the status-enquiry form.
    pub terminal_status: Option<u8>,
    /// The BMPs that follow.
    pub bmps: BmpList,
}

impl Completion {
    /// An empty completion `06 0F 00`.
    pub fn empty() -> Self {
        Completion {
            software_version: None,
            terminal_status: None,
            bmps: BmpList::default(),
        }
    }
    /// The software version as text.
    pub fn software_version_text(&self) -> Option<String> {
        self.software_version.as_deref().map(text)
    }
    /// The terminal status: the status-enquiry byte, else BMP `19`.
    pub fn status(&self) -> Option<u8> {
        self.terminal_status.or_else(|| self.bmps.byte(0x19))
    }
    /// Terminal id: BMP `29`, else TLV `1F44` (top level or in `E4`).
    pub fn terminal_id(&self) -> Option<String> {
        self.bmps
            .bytes(0x29)
            .or_else(|| self.bmps.tlv()?.find_bytes(0x1F44))
            .map(bcd_to_string)
    }
    /// BMP `49`.
    pub fn currency_code(&self) -> Option<u64> {
        self.bmps.bytes(0x49).and_then(bcd_to_u64)
    }
    /// TLV `E4`.
    pub fn device_info(&self) -> Option<DeviceInfo> {
        let e4 = self.bmps.tlv()?.find(0xE4)?.children()?;
        Some(DeviceInfo {
            name: e4.bytes(0x1F40).map(text),
            software_version: e4.bytes(0x1F41).map(text),
            serial: e4.bytes(0x1F42).map(bcd_to_string),
            state: match e4.bytes(0x1F43) {
                Some(&[s]) => Some(s),
                _ => None,
            },
            terminal_id: e4.bytes(0x1F44).map(bcd_to_string),
        })
    }
    /// TLV `34` date and time (`1F0E` YYYYMMDD, `1F0F` hhmmss) as `YYYY-MM-DD hh:mm:ss`.
    pub fn date_time(&self) -> Option<String> {
        let dt = self.bmps.tlv()?.find(0x34)?.children()?;
        let date = bcd_to_string(dt.bytes(0x1F0E)?);
        let time = bcd_to_string(dt.bytes(0x1F0F)?);
        if date.len() != 8 || time.len() != 6 {
            return None;
        }
        Some(format!(
            "{}-{}-{} {}:{}:{}",
            &date[..4],
            &date[4..6],
            &date[6..],
            &time[..2],
            &time[2..4],
            &time[4..]
        ))
    }
}

/// Abort from the terminal `06 1E`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortFromPt {
    /// The result code (why it aborted).
    pub result_code: u8,
    /// BMPs that follow (`87` receipt, `06` TLV with `1F16`/`1F17`).
    pub bmps: BmpList,
}

impl AbortFromPt {
    /// An abort with this result code only.
    pub fn new(result_code: u8) -> Self {
        AbortFromPt {
            result_code,
            bmps: BmpList::default(),
        }
    }
    /// TLV `1F16` extended error code.
    pub fn extended_error(&self) -> Option<&[u8]> {
        self.bmps.tlv()?.find_bytes(0x1F16)
    }
    /// TLV `1F17` error text.
    pub fn error_text(&self) -> Option<String> {
        self.bmps.tlv()?.find_bytes(0x1F17).map(text)
    }
    /// BMP `87`.
    pub fn receipt_number(&self) -> Option<&[u8]> {
        self.bmps.bytes(0x87)
    }
}

/// Print line `06 D1`: attribute byte and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintLine {
    /// Attribute (formatting, last line flag).
    pub attribute: u8,
    /// The text, in the ZVT character set.
    pub text: Vec<u8>,
}

/// A decoded ZVT APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet {
    /// `06 00`.
    Registration(Registration),
    /// `05 01`.
    StatusEnquiry(StatusEnquiry),
    /// `06 70`.
    Diagnosis(Diagnosis),
    /// `06 C0`.
    ReadCard(ReadCard),
    /// `06 B0` without data.
    Abort,
    /// `06 02` without data.
    LogOff,
    /// `06 50` with a password.
    EndOfDay {
        /// Password, 3 bytes BCD.
        password: [u8; 3],
    },
    /// `80 00 00`.
    Ack,
    /// `84 xx 00`: negative acknowledgement with an error code.
    Nak(u8),
    /// `04 FF`.
    IntermediateStatus(IntermediateStatus),
    /// `04 0F`.
    StatusInformation(StatusInformation),
    /// `06 0F`.
    Completion(Completion),
    /// `06 1E`.
    AbortFromPt(AbortFromPt),
    /// `06 D1`.
    PrintLine(PrintLine),
    /// `06 D3` (BMP `06` with text lines).
    PrintTextBlock(BmpList),
    /// Anything else, kept raw.
    Other(Apdu),
}

fn fixed<const N: usize>(data: &[u8], what: &'static str) -> Result<[u8; N], ZvtError> {
    data.get(..N)
        .and_then(|s| s.try_into().ok())
        .ok_or(ZvtError::Truncated {
            what,
            needed: N,
            available: data.len(),
        })
}

impl Packet {
    /// Decodes an encoded APDU into a packet.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ZvtError> {
        Packet::decode(&Apdu::decode(bytes)?)
    }

    /// Decodes an APDU into a packet; known packets with malformed fields are errors.
    pub fn decode(apdu: &Apdu) -> Result<Self, ZvtError> {
        let data = apdu.data();
        let bmps_from = |from: usize| BmpList::decode(data.get(from..).unwrap_or_default(), from);
        let control = (apdu.class, apdu.instr);
        Ok(match control {
            cmd::REGISTRATION => {
                let prefix = registration_prefix(data);
                if prefix < 4 {
                    return Err(ZvtError::Truncated {
                        what: "registration",
                        needed: 4,
                        available: data.len(),
                    });
                }
                Packet::Registration(Registration {
                    password: fixed(data, "registration password")?,
                    config: data[3],
                    currency: if prefix == 6 {
                        Some([data[4], data[5]])
                    } else {
                        None
                    },
                    bmps: bmps_from(prefix)?,
                })
            }
            cmd::STATUS_ENQUIRY => Packet::StatusEnquiry(StatusEnquiry {
                password: fixed(data, "status enquiry password")?,
                bmps: bmps_from(3)?,
            }),
            cmd::END_OF_DAY if data.len() == 3 => Packet::EndOfDay {
                password: fixed(data, "end of day password")?,
            },
            cmd::DIAGNOSIS => Packet::Diagnosis(Diagnosis {
                bmps: bmps_from(0)?,
            }),
            cmd::READ_CARD => Packet::ReadCard(ReadCard {
                timeout_secs: data.first().copied(),
                bmps: bmps_from(1)?,
            }),
            cmd::ABORT if data.is_empty() => Packet::Abort,
            cmd::LOG_OFF if data.is_empty() => Packet::LogOff,
            (0x80, 0x00) if data.is_empty() => Packet::Ack,
            (0x84, code) if data.is_empty() => Packet::Nak(code),
            cmd::INTERMEDIATE_STATUS => {
                let prefix = prefix_len(apdu.class, apdu.instr, data).unwrap_or(0);
                let status = *data.first().ok_or(ZvtError::Truncated {
                    what: "intermediate status",
                    needed: 1,
                    available: 0,
                })?;
                Packet::IntermediateStatus(IntermediateStatus {
                    status,
                    timeout: if prefix == 2 { Some(data[1]) } else { None },
                    bmps: bmps_from(prefix)?,
                })
            }
            cmd::STATUS_INFORMATION => Packet::StatusInformation(StatusInformation {
                bmps: bmps_from(0)?,
            }),
            cmd::COMPLETION => {
                if starts_with_lllvar(data) {
                    let len = decode_var_len(data, 0, 3, 0)?;
                    let version = data.get(3..3 + len).ok_or(ZvtError::Truncated {
                        what: "completion software version",
                        needed: 3 + len,
                        available: data.len(),
                    })?;
                    let status = data.get(3 + len).copied();
                    Packet::Completion(Completion {
                        software_version: Some(version.to_vec()),
                        terminal_status: status,
                        bmps: bmps_from(3 + len + 1)?,
                    })
                } else {
                    Packet::Completion(Completion {
                        software_version: None,
                        terminal_status: None,
                        bmps: bmps_from(0)?,
                    })
                }
            }
            cmd::ABORT_FROM_PT => Packet::AbortFromPt(AbortFromPt {
                result_code: *data.first().ok_or(ZvtError::Truncated {
                    what: "abort result code",
                    needed: 1,
                    available: 0,
                })?,
                bmps: bmps_from(1)?,
            }),
            cmd::PRINT_LINE if !data.is_empty() => Packet::PrintLine(PrintLine {
                attribute: data[0],
                text: data[1..].to_vec(),
            }),
            cmd::PRINT_TEXT_BLOCK => Packet::PrintTextBlock(bmps_from(0)?),
            _ => Packet::Other(apdu.clone()),
        })
    }

    /// Encodes the packet as an APDU.
    pub fn to_apdu(&self) -> Result<Apdu, ZvtError> {
        let mut data = Vec::new();
        let (class, instr) = match self {
            Packet::Registration(r) => {
                data.extend_from_slice(&r.password);
                data.push(r.config);
                if let Some(c) = r.currency {
                    data.extend_from_slice(&c);
                }
                r.bmps.encode_into(&mut data)?;
                cmd::REGISTRATION
            }
            Packet::StatusEnquiry(s) => {
                data.extend_from_slice(&s.password);
                s.bmps.encode_into(&mut data)?;
                cmd::STATUS_ENQUIRY
            }
            Packet::Diagnosis(d) => {
                d.bmps.encode_into(&mut data)?;
                cmd::DIAGNOSIS
            }
            Packet::ReadCard(r) => {
                data.extend(r.timeout_secs);
                r.bmps.encode_into(&mut data)?;
                cmd::READ_CARD
            }
            Packet::Abort => cmd::ABORT,
            Packet::LogOff => cmd::LOG_OFF,
            Packet::EndOfDay { password } => {
                data.extend_from_slice(password);
                cmd::END_OF_DAY
            }
            Packet::Ack => (0x80, 0x00),
            Packet::Nak(code) => (0x84, *code),
            Packet::IntermediateStatus(s) => {
                data.push(s.status);
                data.extend(s.timeout);
                s.bmps.encode_into(&mut data)?;
                cmd::INTERMEDIATE_STATUS
            }
            Packet::StatusInformation(s) => {
                s.bmps.encode_into(&mut data)?;
                cmd::STATUS_INFORMATION
            }
            Packet::Completion(c) => {
                if let Some(version) = &c.software_version {
                    encode_var_len(version.len(), 3, &mut data)?;
                    data.extend_from_slice(version);
                    data.extend(c.terminal_status);
                }
                c.bmps.encode_into(&mut data)?;
                cmd::COMPLETION
            }
            Packet::AbortFromPt(a) => {
                data.push(a.result_code);
                a.bmps.encode_into(&mut data)?;
                cmd::ABORT_FROM_PT
            }
            Packet::PrintLine(p) => {
                data.push(p.attribute);
                data.extend_from_slice(&p.text);
                cmd::PRINT_LINE
            }
            Packet::PrintTextBlock(bmps) => {
                bmps.encode_into(&mut data)?;
                cmd::PRINT_TEXT_BLOCK
            }
            Packet::Other(apdu) => return Ok(apdu.clone()),
        };
        Apdu::new(class, instr, data)
    }

    /// Encodes the packet to bytes.
    pub fn encode(&self) -> Result<Vec<u8>, ZvtError> {
        Ok(self.to_apdu()?.encode())
    }

    /// A short name for logs: "completion", "abort from pt", ...
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Registration(_) => "registration",
            Packet::StatusEnquiry(_) => "status enquiry",
            Packet::Diagnosis(_) => "diagnosis",
            Packet::ReadCard(_) => "read card",
            Packet::Abort => "abort",
            Packet::LogOff => "log-off",
            Packet::EndOfDay { .. } => "end of day",
            Packet::Ack => "ack",
            Packet::Nak(_) => "nak",
            Packet::IntermediateStatus(_) => "intermediate status",
            Packet::StatusInformation(_) => "status information",
            Packet::Completion(_) => "completion",
            Packet::AbortFromPt(_) => "abort from pt",
            Packet::PrintLine(_) => "print line",
            Packet::PrintTextBlock(_) => "print text block",
            Packet::Other(_) => "other",
        }
    }
}
