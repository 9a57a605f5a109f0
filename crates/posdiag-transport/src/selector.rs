//! [`PortSelector`]: how the config names a port, by path or by USB
//! identity, so a terminal configured by its adapter's serial number follows
//! it when it comes back as ttyUSB1 instead of ttyUSB0.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::discovery::PortInfo;
use crate::error::LinkError;

/// A USB identity to look for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsbSelector {
    /// Vendor id.
    pub vid: u16,
    /// Product id.
    pub pid: u16,
    /// Serial number; any when `None`.
    pub serial_number: Option<String>,
    /// Interface number (as sysfs `bInterfaceNumber`, hex); any when `None`.
    pub interface: Option<u8>,
}

/// Which port a terminal is on.
///
/// String form: an absolute path (`/dev/ttyUSB0`,
/// `/dev/serial/by-id/usb-FTDI_…`) or `usb:VID:PID[:SERIAL[:INTERFACE]]`
/// with hex ids, e.g. `usb:0403:6001:A12345`, `usb:0403:6010::1` (any serial,
/// interface 1). Serial numbers containing `:` cannot be written this way.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSelector {
    /// A device node or alias path.
    Path(PathBuf),
    /// A USB identity.
    Usb(UsbSelector),
}

impl PortSelector {
    /// Whether `port` is the one selected.
    pub fn matches(&self, port: &PortInfo) -> bool {
        match self {
            PortSelector::Path(p) => port.path == *p || port.aliases.contains(p),
            PortSelector::Usb(want) => port.usb().is_some_and(|usb| {
                usb.vid == want.vid
                    && usb.pid == want.pid
                    && want
                        .serial_number
                        .as_ref()
                        .is_none_or(|s| usb.serial_number.as_ref() == Some(s))
                    && want.interface.is_none_or(|i| usb.interface == Some(i))
            }),
        }
    }
}

/// The port `selector` designates among `ports` (from discovery): exactly
/// one must match.
pub fn resolve<'a>(
    selector: &PortSelector,
    ports: &'a [PortInfo],
) -> Result<&'a PortInfo, LinkError> {
    let mut matching = ports.iter().filter(|p| selector.matches(p));
    let Some(first) = matching.next() else {
        return Err(LinkError::NoMatchingPort {
            selector: selector.to_string(),
        });
    };
    let rest: Vec<&PortInfo> = matching.collect();
    if rest.is_empty() {
        return Ok(first);
    }
    Err(LinkError::AmbiguousPort {
        selector: selector.to_string(),
        candidates: std::iter::once(first)
            .chain(rest)
            .map(|p| p.path.clone())
            .collect(),
    })
}

impl fmt::Display for PortSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSelector::Path(p) => write!(f, "{}", p.display()),
            PortSelector::Usb(u) => {
                write!(f, "usb:{:04x}:{:04x}", u.vid, u.pid)?;
                match (&u.serial_number, u.interface) {
                    (None, None) => Ok(()),
                    (Some(s), None) => write!(f, ":{s}"),
                    (s, Some(i)) => write!(f, ":{}:{i:x}", s.as_deref().unwrap_or("")),
                }
            }
        }
    }
}

impl FromStr for PortSelector {
    type Err = LinkError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let bad = |problem: String| LinkError::BadSelector {
            input: input.to_owned(),
            problem,
        };
        let text = input.trim();
        let Some(usb) = text.strip_prefix("usb:") else {
            if text.starts_with('/') {
                return Ok(PortSelector::Path(PathBuf::from(text)));
            }
            return Err(bad("not an absolute path and not usb:…".into()));
        };
        let parts: Vec<&str> = usb.split(':').collect();
        if !(2..=4).contains(&parts.len()) {
            return Err(bad(format!(
                "expected 2 to 4 fields after usb:, found {}",
                parts.len()
            )));
        }
        let hex16 = |what: &str, s: &str| {
            if s.is_empty() || s.len() > 4 {
                return Err(bad(format!("{what} `{s}` must be 1 to 4 hex digits")));
            }
            u16::from_str_radix(s, 16)
                .map_err(|_| bad(format!("{what} `{s}` must be 1 to 4 hex digits")))
        };
        let vid = hex16("vendor id", parts[0])?;
        let pid = hex16("product id", parts[1])?;
        let serial_number = parts
            .get(2)
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned());
        let interface = match parts.get(3) {
            None => None,
            Some(s) => Some(
                u8::from_str_radix(s, 16)
                    .map_err(|_| bad(format!("interface `{s}` must be a hex number below 100")))?,
            ),
        };
        Ok(PortSelector::Usb(UsbSelector {
            vid,
            pid,
            serial_number,
            interface,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkErrorKind;

    #[test]
    fn string_forms_round_trip() {
        for text in [
            "/dev/ttyUSB0",
            "/dev/serial/by-id/usb-FTDI_FT232R_A12345-if00-port0",
            "usb:0403:6001",
            "usb:0403:6001:A12345",
            "usb:0403:6010::1",
            "usb:1a86:7523:XYZ:0",
        ] {
            let s: PortSelector = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
        }
        let s: PortSelector = "usb:403:6001:A1".parse().unwrap();
        assert_eq!(
            s,
            PortSelector::Usb(UsbSelector {
                vid: 0x0403,
                pid: 0x6001,
                serial_number: Some("A1".into()),
                interface: None
            })
        );
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        for (text, says) in [
            ("ttyUSB0", "absolute path"),
            ("usb:0403", "2 to 4 fields"),
            ("usb:xyz:6001", "vendor id `xyz`"),
            ("usb:0403:12345", "product id `12345`"),
            ("usb:0403:6001:A:zz", "interface `zz`"),
        ] {
            let err = text.parse::<PortSelector>().unwrap_err();
            assert_eq!(err.kind(), LinkErrorKind::InvalidSettings);
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
    }
}
