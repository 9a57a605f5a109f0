//! What the simulated ZVT terminal is and does: [`ZvtState`] (identity, card reader, host
//! reachability, maintenance window, result-code overrides, faults), loaded from a TOML
//! scenario file in two stages (`RawScenario` with `deny_unknown_fields`, then validation)
//! and changeable while running through [`super::RunningZvt::update`].

use std::path::Path;
use std::str::FromStr;

use posdiag_core::zvt::bmp::hex_to_bytes;
use serde::Deserialize;

use crate::SimError;

/// The terminal's identity, as a status enquiry reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Terminal status byte (00 ready, 51 initialisation required, E0 remote maintenance, ...).
    pub status: u8,
    /// Software version text of the completion (LLLVAR) and of TLV `1F41`.
    pub software_version: String,
    /// Terminal id, 8 digits (BMP `29`, TLV `1F44`).
    pub terminal_id: String,
    /// Device name, TLV `1F40`.
    pub device_name: String,
    /// Serial number bytes, TLV `1F42`.
    pub device_serial: Vec<u8>,
    /// Device state, TLV `1F43`.
    pub device_state: u8,
    /// Currency, e.g. 978 for EUR.
    pub currency: u16,
}

impl Default for Identity {
    fn default() -> Self {
        // The values of the captured cVEND plug status enquiry (EVerest/zvt).
        Identity {
            status: 0x00,
            software_version: "GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26".to_owned(),
            terminal_id: "52523535".to_owned(),
            device_name: "cVEND plug".to_owned(),
            device_serial: vec![0x17, 0xFD, 0x1E, 0x3C],
            device_state: 0,
            currency: 978,
        }
    }
}

/// What a read card (`06 C0`) finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Card {
    /// No card is presented: the terminal waits for the read-card timeout, then aborts with
    /// 6C (an abort `06 B0` ends it sooner).
    #[default]
    NoCard,
    /// A magnetic stripe reads fine.
    MagstripeOk,
    /// A chip card reads fine.
    ChipOk,
    /// A contactless card answers (UID, ATS, ATQA, SAK).
    Contactless,
    /// The stripe cannot be read: result 64.
    StripeUnreadable,
    /// Neither track data nor a chip: result 65.
    DataMissing,
    /// The chip does not answer: result 72.
    ChipError,
    /// The card is expired: result 78.
    Expired,
    /// The card is unknown: result 7A.
    Unknown,
    /// Payment method not supported: result C5.
    MethodNotSupported,
    /// The chip failed and fallback to the stripe is not allowed: result 7B.
    FallbackNotAllowed,
    /// The card reader does not answer: result E2.
    Defective,
}

impl Card {
    /// Every kind with its scenario name.
    pub const NAMES: [(&'static str, Card); 12] = [
        ("no-card", Card::NoCard),
        ("magstripe-ok", Card::MagstripeOk),
        ("chip-ok", Card::ChipOk),
        ("contactless", Card::Contactless),
        ("stripe-unreadable", Card::StripeUnreadable),
        ("data-missing", Card::DataMissing),
        ("chip-error", Card::ChipError),
        ("card-expired", Card::Expired),
        ("unknown-card", Card::Unknown),
        ("method-not-supported", Card::MethodNotSupported),
        ("fallback-not-allowed", Card::FallbackNotAllowed),
        ("defective", Card::Defective),
    ];

    /// The result code of a failed read, `None` if the read succeeds or waits.
    pub fn failure(self) -> Option<u8> {
        match self {
            Card::NoCard | Card::MagstripeOk | Card::ChipOk | Card::Contactless => None,
            Card::StripeUnreadable => Some(0x64),
            Card::DataMissing => Some(0x65),
            Card::ChipError => Some(0x72),
            Card::Expired => Some(0x78),
            Card::Unknown => Some(0x7A),
            Card::MethodNotSupported => Some(0xC5),
            Card::FallbackNotAllowed => Some(0x7B),
            Card::Defective => Some(0xE2),
        }
    }
}

impl FromStr for Card {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // "ok" is the reader working with a chip card in it.
        if s == "ok" {
            return Ok(Card::ChipOk);
        }
        Card::NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, card)| *card)
            .ok_or_else(|| {
                let names: Vec<&str> = Card::NAMES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown card \"{s}\", expected ok or one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The card reader and the card presented.
#[derive(Clone, PartialEq, Eq)]
pub struct Reader {
    /// What a read card finds.
    pub card: Card,
    /// PAN digits of magstripe and chip cards (shown masked in logs).
    pub pan: String,
    /// Expiry, YYMM.
    pub expiry: String,
    /// Contactless UID (TLV `4C`).
    pub uid: Vec<u8>,
    /// Contactless ATS (TLV `1F45`).
    pub ats: Vec<u8>,
    /// Contactless ATQA (TLV `1F4F`).
    pub atqa: Vec<u8>,
    /// Contactless SAK (TLV `1F50`).
    pub sak: u8,
    /// Application id (TLV `60`/`43`).
    pub aid: Vec<u8>,
}

// Even a test PAN is shown masked, like every card number posdiag prints.
impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = posdiag_core::zvt::bmp::bytes_to_hex;
        f.debug_struct("Reader")
            .field("card", &self.card)
            .field("pan", &posdiag_core::mask_card_numbers(&self.pan))
            .field("expiry", &self.expiry)
            .field("uid", &hex(&self.uid))
            .field("ats", &hex(&self.ats))
            .field("atqa", &hex(&self.atqa))
            .field("sak", &self.sak)
            .field("aid", &hex(&self.aid))
            .finish()
    }
}

impl Default for Reader {
    fn default() -> Self {
        // The captured contactless read (EVerest/zvt) and a test PAN.
        Reader {
            card: Card::NoCard,
            pan: "4111111111111111".to_owned(),
            expiry: "2912".to_owned(),
            uid: vec![0, 0, 0, 0, 0, 0, 0x08, 0x1C, 0xA7, 0x2F],
            ats: vec![0x05, 0x78, 0x80, 0x70, 0x02],
            atqa: vec![0x04, 0x00],
            sak: 0x20,
            aid: vec![0xA0, 0, 0, 0, 0x04, 0x10, 0x10],
        }
    }
}

/// Whether a diagnosis `06 70` reaches the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Reachable: the diagnosis completes; unreachable: it aborts with `failure_result`.
    pub reachable: bool,
    /// Result code of the abort when unreachable (7D, 9B, A0, A1, A3).
    pub failure_result: u8,
}

impl Default for Host {
    fn default() -> Self {
        Host {
            reachable: true,
            failure_result: 0x7D,
        }
    }
}

/// A maintenance window: the status enquiry reports `terminal_status`, other commands abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Maintenance {
    /// Whether the window is open.
    pub active: bool,
    /// Terminal status reported meanwhile (E0 remote maintenance, 9C please wait).
    pub terminal_status: u8,
    /// Result code of the abort other commands get meanwhile.
    pub result_code: u8,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            active: false,
            terminal_status: 0xE0,
            result_code: 0x9C,
        }
    }
}

/// Per-command result codes: a non-zero code makes the command abort (`06 1E`) with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Results {
    /// Registration `06 00`.
    pub registration: Option<u8>,
    /// Status enquiry `05 01`.
    pub status_enquiry: Option<u8>,
    /// Diagnosis `06 70`.
    pub diagnosis: Option<u8>,
    /// Read card `06 C0`.
    pub read_card: Option<u8>,
}

/// Whether and how the terminal answers commands at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Silence {
    /// Answers normally.
    #[default]
    None,
    /// Answers nothing, not even the acknowledgement.
    All,
    /// Acknowledges commands, then says nothing more.
    AfterAck,
}

/// Faults. Counters ("every Nth") count per connection; `*_next` counts down as applied.
/// A receipt the terminal has the ECR print after a diagnosis (a diagnosis printout, or the
/// last transaction's receipt), before the command ends: what a real terminal sends when the
/// ECR asked to print (`06 D1` print lines, or one `06 D3` text block of TLV `25`/`07` lines).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// The lines, in order (none: no printout).
    pub lines: Vec<String>,
    /// One `06 D3` text block instead of a `06 D1` per line.
    pub text_block: bool,
}

/// At most this many receipt lines, each at most this many bytes (one `06 D1` APDU).
const MAX_RECEIPT_LINES: usize = 200;
const MAX_RECEIPT_LINE_BYTES: usize = 250;

/// Line faults (NAK, CRC, dropped, delayed or stalled bytes, garbage) apply to the serial
/// and pty transports only: TCP carries APDUs without framing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Faults {
    /// Answer every Nth good frame received with NAK instead of ACK (0 = never).
    pub nak_every: u32,
    /// Answer the next N good frames with NAK.
    pub nak_next: u32,
    /// Corrupt the CRC of every Nth frame sent (0 = never).
    pub corrupt_crc_every: u32,
    /// Corrupt the CRC of the next N frames sent.
    pub corrupt_crc_next: u32,
    /// Leave one byte out of every Nth frame sent (0 = never).
    pub drop_byte_every: u32,
    /// Pause between the bytes of every frame sent, in milliseconds.
    pub byte_delay_ms: u64,
    /// Stop every Nth frame sent half way for `stall_ms`, then send the rest (0 = never).
    pub stall_every: u32,
    /// How long a stall lasts, in milliseconds.
    pub stall_ms: u64,
    /// Noise bytes written before every frame.
    pub garbage_bytes: usize,
    /// Delay before every message of the terminal, in milliseconds.
    pub answer_delay_ms: u64,
    /// Missing answers.
    pub silence: Silence,
    /// Send an intermediate status this often while idle, in milliseconds (0 = never).
    pub unsolicited_status_ms: u64,
    /// The status byte of unsolicited intermediate statuses.
    pub unsolicited_status: u8,
    /// Pull the cable right after acknowledging the Nth command (0 = never).
    pub disconnect_after_commands: u32,
    /// Plug it back in after this many milliseconds (0 = stay unplugged).
    pub reconnect_after_ms: u64,
}

/// Everything the simulated terminal is and does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ZvtState {
    /// Identity and status.
    pub identity: Identity,
    /// Card reader.
    pub reader: Reader,
    /// Host reachability for diagnosis.
    pub host: Host,
    /// Maintenance window.
    pub maintenance: Maintenance,
    /// Result-code overrides.
    pub results: Results,
    /// Faults.
    pub faults: Faults,
    /// The printout sent after a diagnosis.
    pub receipt: Receipt,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceipt {
    lines: Option<Vec<String>>,
    text_block: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    terminal: RawTerminal,
    #[serde(default)]
    reader: RawReader,
    #[serde(default)]
    host: RawHost,
    #[serde(default)]
    maintenance: RawMaintenance,
    #[serde(default)]
    results: RawResults,
    #[serde(default)]
    faults: RawFaults,
    #[serde(default)]
    receipt: RawReceipt,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerminal {
    status: Option<i64>,
    software_version: Option<String>,
    terminal_id: Option<String>,
    device_name: Option<String>,
    device_serial: Option<String>,
    device_state: Option<i64>,
    currency: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReader {
    card: Option<String>,
    pan: Option<String>,
    expiry: Option<String>,
    uid: Option<String>,
    ats: Option<String>,
    atqa: Option<String>,
    sak: Option<i64>,
    aid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    reachable: Option<bool>,
    failure_result: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    active: Option<bool>,
    terminal_status: Option<i64>,
    result_code: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResults {
    registration: Option<i64>,
    status_enquiry: Option<i64>,
    diagnosis: Option<i64>,
    read_card: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    nak_every: Option<i64>,
    nak_next: Option<i64>,
    corrupt_crc_every: Option<i64>,
    corrupt_crc_next: Option<i64>,
    drop_byte_every: Option<i64>,
    byte_delay_ms: Option<i64>,
    stall_every: Option<i64>,
    stall_ms: Option<i64>,
    garbage_bytes: Option<i64>,
    answer_delay_ms: Option<i64>,
    silence: Option<String>,
    unsolicited_status_ms: Option<i64>,
    unsolicited_status: Option<i64>,
    disconnect_after_commands: Option<i64>,
    reconnect_after_ms: Option<i64>,
}

/// Validation of one key: names the key and what would be accepted.
fn bad(key: &str, reason: impl std::fmt::Display) -> String {
    format!("{key}: {reason}")
}

fn byte(key: &str, value: Option<i64>, default: u8) -> Result<u8, String> {
    value.map_or(Ok(default), |v| {
        u8::try_from(v).map_err(|_| {
            bad(
                key,
                format!("{v} is not a byte, expected 0..=255 (e.g. 0x9C)"),
            )
        })
    })
}

fn number<T: TryFrom<i64>>(key: &str, value: Option<i64>, default: T) -> Result<T, String> {
    value.map_or(Ok(default), |v| {
        T::try_from(v).map_err(|_| bad(key, format!("{v} is out of range (negative or too large)")))
    })
}

fn hex(key: &str, value: Option<String>, default: Vec<u8>) -> Result<Vec<u8>, String> {
    value.map_or(Ok(default), |v| {
        hex_to_bytes(&v).ok_or_else(|| bad(key, format!("\"{v}\" is not hex bytes, e.g. \"0400\"")))
    })
}

fn digits(
    key: &str,
    value: Option<String>,
    default: &str,
    len: Option<usize>,
) -> Result<String, String> {
    let v = value.unwrap_or_else(|| default.to_owned());
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(key, format!("\"{v}\" must be digits only")));
    }
    if let Some(len) = len
        && v.len() != len
    {
        return Err(bad(key, format!("\"{v}\" must have exactly {len} digits")));
    }
    Ok(v)
}

impl TryFrom<RawScenario> for ZvtState {
    type Error = String;

    fn try_from(raw: RawScenario) -> Result<Self, Self::Error> {
        let d = ZvtState::default();
        let t = raw.terminal;
        let identity = Identity {
            status: byte("terminal.status", t.status, d.identity.status)?,
            software_version: t.software_version.unwrap_or(d.identity.software_version),
            terminal_id: digits(
                "terminal.terminal_id",
                t.terminal_id,
                &d.identity.terminal_id,
                Some(8),
            )?,
            device_name: t.device_name.unwrap_or(d.identity.device_name),
            device_serial: hex(
                "terminal.device_serial",
                t.device_serial,
                d.identity.device_serial,
            )?,
            device_state: byte(
                "terminal.device_state",
                t.device_state,
                d.identity.device_state,
            )?,
            currency: number("terminal.currency", t.currency, d.identity.currency)?,
        };
        if identity.currency > 9999 {
            return Err(bad(
                "terminal.currency",
                "must have at most 4 digits, e.g. 978",
            ));
        }
        if identity.software_version.len() > 999 {
            return Err(bad("terminal.software_version", "is longer than 999 bytes"));
        }
        let r = raw.reader;
        let reader = Reader {
            card: match r.card {
                Some(c) => c.parse().map_err(|e| bad("reader.card", e))?,
                None => d.reader.card,
            },
            pan: digits("reader.pan", r.pan, &d.reader.pan, None)?,
            expiry: digits("reader.expiry", r.expiry, &d.reader.expiry, Some(4))?,
            uid: hex("reader.uid", r.uid, d.reader.uid)?,
            ats: hex("reader.ats", r.ats, d.reader.ats)?,
            atqa: hex("reader.atqa", r.atqa, d.reader.atqa)?,
            sak: byte("reader.sak", r.sak, d.reader.sak)?,
            aid: hex("reader.aid", r.aid, d.reader.aid)?,
        };
        if reader.pan.len() > 19 {
            return Err(bad("reader.pan", "has more than 19 digits"));
        }
        let host = Host {
            reachable: raw.host.reachable.unwrap_or(d.host.reachable),
            failure_result: byte(
                "host.failure_result",
                raw.host.failure_result,
                d.host.failure_result,
            )?,
        };
        let m = raw.maintenance;
        let maintenance = Maintenance {
            active: m.active.unwrap_or(false),
            terminal_status: byte(
                "maintenance.terminal_status",
                m.terminal_status,
                d.maintenance.terminal_status,
            )?,
            result_code: byte(
                "maintenance.result_code",
                m.result_code,
                d.maintenance.result_code,
            )?,
        };
        let opt = |key: &str, v: Option<i64>| v.map(|v| byte(key, Some(v), 0)).transpose();
        let results = Results {
            registration: opt("results.registration", raw.results.registration)?,
            status_enquiry: opt("results.status_enquiry", raw.results.status_enquiry)?,
            diagnosis: opt("results.diagnosis", raw.results.diagnosis)?,
            read_card: opt("results.read_card", raw.results.read_card)?,
        };
        let f = raw.faults;
        let faults = Faults {
            nak_every: number("faults.nak_every", f.nak_every, 0)?,
            nak_next: number("faults.nak_next", f.nak_next, 0)?,
            corrupt_crc_every: number("faults.corrupt_crc_every", f.corrupt_crc_every, 0)?,
            corrupt_crc_next: number("faults.corrupt_crc_next", f.corrupt_crc_next, 0)?,
            drop_byte_every: number("faults.drop_byte_every", f.drop_byte_every, 0)?,
            byte_delay_ms: number("faults.byte_delay_ms", f.byte_delay_ms, 0)?,
            stall_every: number("faults.stall_every", f.stall_every, 0)?,
            stall_ms: number("faults.stall_ms", f.stall_ms, 500)?,
            garbage_bytes: number("faults.garbage_bytes", f.garbage_bytes, 0)?,
            answer_delay_ms: number("faults.answer_delay_ms", f.answer_delay_ms, 0)?,
            silence: match f.silence.as_deref() {
                None | Some("none") => Silence::None,
                Some("all") => Silence::All,
                Some("after-ack") => Silence::AfterAck,
                Some(other) => {
                    return Err(bad(
                        "faults.silence",
                        format!("unknown \"{other}\", expected none, all or after-ack"),
                    ));
                }
            },
            unsolicited_status_ms: number(
                "faults.unsolicited_status_ms",
                f.unsolicited_status_ms,
                0,
            )?,
            unsolicited_status: byte("faults.unsolicited_status", f.unsolicited_status, 0x17)?,
            disconnect_after_commands: number(
                "faults.disconnect_after_commands",
                f.disconnect_after_commands,
                0,
            )?,
            reconnect_after_ms: number("faults.reconnect_after_ms", f.reconnect_after_ms, 0)?,
        };
        if faults.garbage_bytes > 4096 {
            return Err(bad("faults.garbage_bytes", "at most 4096"));
        }
        let receipt = Receipt {
            lines: raw.receipt.lines.unwrap_or_default(),
            text_block: raw.receipt.text_block.unwrap_or(false),
        };
        if receipt.lines.len() > MAX_RECEIPT_LINES
            || receipt
                .lines
                .iter()
                .any(|l| l.len() > MAX_RECEIPT_LINE_BYTES)
        {
            return Err(bad(
                "receipt.lines",
                "at most 200 lines of at most 250 bytes each",
            ));
        }
        Ok(ZvtState {
            identity,
            reader,
            host,
            maintenance,
            results,
            faults,
            receipt,
        })
    }
}

impl ZvtState {
    /// Parses and validates a scenario; `origin` (a file name) prefixes error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, SimError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            SimError::InvalidConfig(format!("{origin}: {}", e.to_string().trim_end()))
        })?;
        ZvtState::try_from(raw).map_err(|e| SimError::InvalidConfig(format!("{origin}: {e}")))
    }

    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SimError::InvalidConfig(format!("cannot read scenario file {}: {e}", path.display()))
        })?;
        ZvtState::from_toml(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_scenarios_load() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("zvt-") && name.ends_with(".toml") {
                ZvtState::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
                seen += 1;
            }
        }
        assert!(
            seen >= 3,
            "expected the example zvt scenarios, found {seen}"
        );
    }

    #[test]
    fn bad_keys_are_named() {
        let cases = [
            (
                "[reader]\ncard = \"wet\"",
                "x.toml: reader.card: unknown card \"wet\"",
            ),
            (
                "[terminal]\nstatus = 300",
                "x.toml: terminal.status: 300 is not a byte",
            ),
            (
                "[terminal]\nterminal_id = \"123\"",
                "x.toml: terminal.terminal_id: \"123\" must have exactly 8 digits",
            ),
            (
                "[faults]\nsilence = \"loud\"",
                "x.toml: faults.silence: unknown \"loud\"",
            ),
            ("[faults]\nbogus = 1", "unknown field `bogus`"),
            ("[faults]\nbogus = 1", "x.toml: TOML parse error at line 2"),
        ];
        for (text, want) in cases {
            let got = ZvtState::from_toml(text, "x.toml").unwrap_err().to_string();
            assert!(got.contains(want), "{got}");
        }
        let state =
            ZvtState::from_toml("[reader]\ncard = \"contactless\"\nsak = 0x28", "x").unwrap();
        assert_eq!(
            (state.reader.card, state.reader.sak),
            (Card::Contactless, 0x28)
        );
        assert!(!format!("{state:?}").contains("4111111111111111"));
    }
}
