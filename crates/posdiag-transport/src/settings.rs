//! Serial line settings ([`SerialSettings`]) and their compact string form
//! (`9600-8N2`, `115200-8N1-rtscts`) used in the daemon's config.
//!
//! The types are our own rather than serialport's so the daemon's config and
//! findings do not depend on that crate's API.

use std::fmt;
use std::str::FromStr;

use crate::error::LinkError;

/// Bits per character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataBits {
    /// 5 bits.
    Five,
    /// 6 bits.
    Six,
    /// 7 bits.
    Seven,
    /// 8 bits.
    Eight,
}

impl DataBits {
    fn digit(self) -> char {
        match self {
            DataBits::Five => '5',
            DataBits::Six => '6',
            DataBits::Seven => '7',
            DataBits::Eight => '8',
        }
    }
}

/// Parity bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parity {
    /// No parity bit.
    None,
    /// Odd parity.
    Odd,
    /// Even parity.
    Even,
}

impl Parity {
    fn letter(self) -> char {
        match self {
            Parity::None => 'N',
            Parity::Odd => 'O',
            Parity::Even => 'E',
        }
    }
}

/// Stop bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopBits {
    /// One stop bit.
    One,
    /// Two stop bits.
    Two,
}

impl StopBits {
    fn digit(self) -> char {
        match self {
            StopBits::One => '1',
            StopBits::Two => '2',
        }
    }
}

/// Flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowControl {
    /// None (what ZVT over RS-232 uses).
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

impl FlowControl {
    fn suffix(self) -> Option<&'static str> {
        match self {
            FlowControl::None => None,
            FlowControl::Software => Some("xonxoff"),
            FlowControl::Hardware => Some("rtscts"),
        }
    }
}

/// How to open and configure a serial port.
///
/// The default is ZVT's line: 9600 baud, 8 data bits, no parity, 2 stop bits,
/// no flow control, RTS and DTR asserted, exclusive open.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SerialSettings {
    /// Baud rate (must not be 0).
    pub baud_rate: u32,
    /// Data bits.
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits.
    pub stop_bits: StopBits,
    /// Flow control.
    pub flow_control: FlowControl,
    /// RTS level set on open (ignored with hardware flow control, where the
    /// driver drives RTS). Some terminals only talk while RTS is asserted.
    pub rts: bool,
    /// DTR level set on open. Many terminals treat DTR low as "no cash register".
    pub dtr: bool,
    /// Open with TIOCEXCL and an exclusive `flock`, so a second opener gets
    /// [`LinkError::Busy`] instead of silently stealing bytes.
    pub exclusive: bool,
}

impl Default for SerialSettings {
    fn default() -> Self {
        SerialSettings {
            baud_rate: 9600,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::Two,
            flow_control: FlowControl::None,
            rts: true,
            dtr: true,
            exclusive: true,
        }
    }
}

impl SerialSettings {
    /// The framing as people write it: "8N2".
    pub fn framing(&self) -> String {
        format!(
            "{}{}{}",
            self.data_bits.digit(),
            self.parity.letter(),
            self.stop_bits.digit()
        )
    }

    /// The line as shown by [`crate::Link::describe`]: "9600 8N2" (plus the
    /// flow control when there is one).
    pub fn describe(&self) -> String {
        match self.flow_control.suffix() {
            None => format!("{} {}", self.baud_rate, self.framing()),
            Some(flow) => format!("{} {} {flow}", self.baud_rate, self.framing()),
        }
    }
}

/// The compact form: `BAUD-FRAMING[-FLOW]`, e.g. `9600-8N2`, `115200-8E1-rtscts`.
/// RTS, DTR and exclusivity are not part of it (they keep their defaults).
impl fmt::Display for SerialSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.baud_rate, self.framing())?;
        if let Some(flow) = self.flow_control.suffix() {
            write!(f, "-{flow}")?;
        }
        Ok(())
    }
}

impl FromStr for SerialSettings {
    type Err = LinkError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let bad = |part: String, problem: &str| LinkError::BadSettings {
            input: input.to_owned(),
            part,
            problem: problem.to_owned(),
        };
        let mut parts = input.trim().split('-');
        let baud = parts.next().unwrap_or_default();
        let baud_rate = match baud.parse::<u32>() {
            Ok(0) => return Err(bad(format!("baud rate `{baud}`"), "must not be 0")),
            Ok(b) => b,
            Err(_) => {
                return Err(bad(
                    format!("baud rate `{baud}`"),
                    "is not a number (e.g. 9600, 115200)",
                ));
            }
        };
        let Some(framing) = parts.next() else {
            return Err(bad(
                "framing".to_owned(),
                "is missing (data bits, parity, stop bits: e.g. 8N2)",
            ));
        };
        let chars: Vec<char> = framing.chars().collect();
        let [d, p, s] = chars[..] else {
            return Err(bad(
                format!("framing `{framing}`"),
                "must be three characters: data bits, parity, stop bits (e.g. 8N2)",
            ));
        };
        let data_bits = match d {
            '5' => DataBits::Five,
            '6' => DataBits::Six,
            '7' => DataBits::Seven,
            '8' => DataBits::Eight,
            _ => return Err(bad(format!("data bits `{d}`"), "must be 5, 6, 7 or 8")),
        };
        let parity = match p.to_ascii_uppercase() {
            'N' => Parity::None,
            'O' => Parity::Odd,
            'E' => Parity::Even,
            _ => {
                return Err(bad(
                    format!("parity `{p}`"),
                    "must be N (none), O (odd) or E (even)",
                ));
            }
        };
        let stop_bits = match s {
            '1' => StopBits::One,
            '2' => StopBits::Two,
            _ => return Err(bad(format!("stop bits `{s}`"), "must be 1 or 2")),
        };
        let flow_control = match parts.next() {
            None | Some("none") => FlowControl::None,
            Some("rtscts") | Some("hw") => FlowControl::Hardware,
            Some("xonxoff") | Some("sw") => FlowControl::Software,
            Some(other) => {
                return Err(bad(
                    format!("flow control `{other}`"),
                    "must be none, rtscts or xonxoff",
                ));
            }
        };
        if let Some(extra) = parts.next() {
            return Err(bad(format!("`{extra}`"), "is one part too many"));
        }
        Ok(SerialSettings {
            baud_rate,
            data_bits,
            parity,
            stop_bits,
            flow_control,
            ..SerialSettings::default()
        })
    }
}

impl From<DataBits> for serialport::DataBits {
    fn from(d: DataBits) -> Self {
        match d {
            DataBits::Five => serialport::DataBits::Five,
            DataBits::Six => serialport::DataBits::Six,
            DataBits::Seven => serialport::DataBits::Seven,
            DataBits::Eight => serialport::DataBits::Eight,
        }
    }
}

impl From<serialport::DataBits> for DataBits {
    fn from(d: serialport::DataBits) -> Self {
        match d {
            serialport::DataBits::Five => DataBits::Five,
            serialport::DataBits::Six => DataBits::Six,
            serialport::DataBits::Seven => DataBits::Seven,
            serialport::DataBits::Eight => DataBits::Eight,
        }
    }
}

impl From<Parity> for serialport::Parity {
    fn from(p: Parity) -> Self {
        match p {
            Parity::None => serialport::Parity::None,
            Parity::Odd => serialport::Parity::Odd,
            Parity::Even => serialport::Parity::Even,
        }
    }
}

impl From<serialport::Parity> for Parity {
    fn from(p: serialport::Parity) -> Self {
        match p {
            serialport::Parity::None => Parity::None,
            serialport::Parity::Odd => Parity::Odd,
            serialport::Parity::Even => Parity::Even,
        }
    }
}

impl From<StopBits> for serialport::StopBits {
    fn from(s: StopBits) -> Self {
        match s {
            StopBits::One => serialport::StopBits::One,
            StopBits::Two => serialport::StopBits::Two,
        }
    }
}

impl From<serialport::StopBits> for StopBits {
    fn from(s: serialport::StopBits) -> Self {
        match s {
            serialport::StopBits::One => StopBits::One,
            serialport::StopBits::Two => StopBits::Two,
        }
    }
}

impl From<FlowControl> for serialport::FlowControl {
    fn from(f: FlowControl) -> Self {
        match f {
            FlowControl::None => serialport::FlowControl::None,
            FlowControl::Software => serialport::FlowControl::Software,
            FlowControl::Hardware => serialport::FlowControl::Hardware,
        }
    }
}

impl From<serialport::FlowControl> for FlowControl {
    fn from(f: serialport::FlowControl) -> Self {
        match f {
            serialport::FlowControl::None => FlowControl::None,
            serialport::FlowControl::Software => FlowControl::Software,
            serialport::FlowControl::Hardware => FlowControl::Hardware,
        }
    }
}

/// The line settings a port reports after opening, read back from the
/// driver: what the port really runs at, which can differ from what was asked
/// (a driver may round the baud rate or ignore a framing it cannot do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppliedSettings {
    /// Baud rate.
    pub baud_rate: u32,
    /// Data bits.
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits.
    pub stop_bits: StopBits,
    /// Flow control.
    pub flow_control: FlowControl,
}

impl fmt::Display for AppliedSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = SerialSettings {
            baud_rate: self.baud_rate,
            data_bits: self.data_bits,
            parity: self.parity,
            stop_bits: self.stop_bits,
            flow_control: self.flow_control,
            ..SerialSettings::default()
        };
        f.write_str(&s.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkErrorKind;

    #[test]
    fn the_default_is_zvt_9600_8n2() {
        let s = SerialSettings::default();
        assert_eq!(s.to_string(), "9600-8N2");
        assert_eq!(s.describe(), "9600 8N2");
        assert!(s.rts && s.dtr && s.exclusive);
    }

    #[test]
    fn compact_forms_round_trip() {
        for text in [
            "9600-8N2",
            "115200-8E1-rtscts",
            "1200-7O1-xonxoff",
            "19200-8N1",
        ] {
            let s: SerialSettings = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
        }
        let s: SerialSettings = "57600-8e1-hw".parse().unwrap();
        assert_eq!(s.parity, Parity::Even);
        assert_eq!(s.flow_control, FlowControl::Hardware);
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("9600-9N2", "data bits `9`"),
            ("fast-8N2", "baud rate `fast`"),
            ("0-8N2", "baud rate `0`"),
            ("9600-8X2", "parity `X`"),
            ("9600-8N3", "stop bits `3`"),
            ("9600-8N", "framing `8N`"),
            ("9600", "framing"),
            ("9600-8N2-dsrdtr", "flow control `dsrdtr`"),
            ("9600-8N2-none-x", "`x`"),
        ];
        for (input, part) in cases {
            let err = input.parse::<SerialSettings>().unwrap_err();
            assert_eq!(err.kind(), LinkErrorKind::InvalidSettings);
            let msg = err.to_string();
            assert!(msg.contains(part), "{input}: {msg}");
            assert!(msg.contains(input), "{input}: {msg}");
        }
    }
}
