//! What the engine is asked to watch: terminals and the acquirer hosts they
//! use, with the probe settings and thresholds of each host. The daemon builds
//! these from its validated configuration; the engine never reads files.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use posdiag_core::TerminalId;
pub use posdiag_transport::{
    DiscoveryRoots, Holder, Occupancy, PortInfo, PortKind, PortSelector, SerialSettings, UsbInfo,
};

/// How the daemon reaches a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSpec {
    /// The terminal is watched through its hosts only.
    None,
    /// TCP, `host:port` (ZVT over TCP carries raw APDUs, usually on port 20007).
    Tcp(String),
    /// A serial port: a fixed device path or a USB device followed across
    /// re-enumeration (`usb:VID:PID[:SERIAL]`), with its line settings.
    Serial {
        /// Which port.
        port: PortSelector,
        /// Baud rate, framing, flow control, RTS/DTR.
        settings: SerialSettings,
    },
}

impl LinkSpec {
    /// `tcp`, `serial`, `usb` or `none`.
    pub fn kind(&self) -> &'static str {
        match self {
            LinkSpec::None => "none",
            LinkSpec::Tcp(_) => "tcp",
            LinkSpec::Serial {
                port: PortSelector::Usb(_),
                ..
            } => "usb",
            LinkSpec::Serial { .. } => "serial",
        }
    }

    /// The address or port as configured; empty for `None`.
    pub fn address(&self) -> String {
        match self {
            LinkSpec::None => String::new(),
            LinkSpec::Tcp(a) => a.clone(),
            LinkSpec::Serial { port, .. } => port.to_string(),
        }
    }

    /// The serial line settings, for serial links.
    pub fn settings(&self) -> Option<&SerialSettings> {
        match self {
            LinkSpec::Serial { settings, .. } => Some(settings),
            _ => None,
        }
    }
}

/// The grammar of a link string, as the configuration's `link` key takes it:
/// `none`, `tcp:HOST:PORT`, `serial:/dev/PATH` or `usb:VID:PID[:SERIAL]`.
/// The only parser of link strings; serial settings are given separately
/// (the default is ZVT's 9600-8N2).
impl std::str::FromStr for LinkSpec {
    type Err = LinkSpecError;

    fn from_str(s: &str) -> Result<LinkSpec, LinkSpecError> {
        if s == "none" {
            Ok(LinkSpec::None)
        } else if let Some(address) = s.strip_prefix("tcp:") {
            match address.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0) => {
                    Ok(LinkSpec::Tcp(address.to_owned()))
                }
                _ => Err(LinkSpecError::NotHostPort {
                    address: address.to_owned(),
                }),
            }
        } else if let Some(path) = s.strip_prefix("serial:") {
            let selector = path.parse::<PortSelector>();
            match selector {
                Ok(port) if path.starts_with('/') => Ok(LinkSpec::Serial {
                    port,
                    settings: SerialSettings::default(),
                }),
                _ => Err(LinkSpecError::NotDevicePath {
                    path: path.to_owned(),
                    selector,
                }),
            }
        } else if s.starts_with("usb:") {
            let port = s
                .parse::<PortSelector>()
                .map_err(|problem| LinkSpecError::Usb { problem })?;
            Ok(LinkSpec::Serial {
                port,
                settings: SerialSettings::default(),
            })
        } else {
            Err(LinkSpecError::Unknown { text: s.to_owned() })
        }
    }
}

/// Why a link string did not parse. The messages are the configuration's;
/// the API words some of them its own way from the fields.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkSpecError {
    /// `tcp:` not followed by `HOST:PORT` with a port from 1 to 65535.
    #[error("{address:?} is not HOST:PORT; expected for example \"tcp:192.168.1.50:20007\"")]
    NotHostPort {
        /// The text after `tcp:`.
        address: String,
    },
    /// `serial:` not followed by an absolute device path.
    #[error(
        "{path:?} is not an absolute device path; expected for example \"serial:/dev/ttyUSB0\""
    )]
    NotDevicePath {
        /// The text after `serial:`.
        path: String,
        /// That text read as a port selector: a `usb:VID:PID` selector
        /// (which the API takes after `serial:`) or why it is none.
        selector: Result<PortSelector, posdiag_transport::LinkError>,
    },
    /// `usb:` not followed by `VID:PID[:SERIAL]`.
    #[error("{problem}; expected for example \"usb:0403:6001:A12345\"")]
    Usb {
        /// What is wrong with the selector (quoted in the message, so not
        /// a `source`: a chain would print it twice).
        problem: posdiag_transport::LinkError,
    },
    /// None of the link kinds.
    #[error(
        "{text:?} is not a link; expected \"none\", \"tcp:HOST:PORT\", \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\""
    )]
    Unknown {
        /// The whole string.
        text: String,
    },
}

/// The protocol the daemon speaks on a terminal's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProtocol {
    /// ZVT: DLE/STX framing with CRC on serial links, raw APDUs on TCP.
    Zvt,
    /// nexo Sale-to-POI over HTTP(S): `terminal.link` checks that the
    /// terminal accepts connections; its plugin speaks the protocol.
    Nexo,
}

impl LinkProtocol {
    /// `zvt`.
    pub fn name(self) -> &'static str {
        match self {
            LinkProtocol::Zvt => "zvt",
            LinkProtocol::Nexo => "nexo",
        }
    }
}

/// A configured terminal. Two specs are equal when every setting is: a
/// reload restarts a terminal's task only when its spec changed.
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalSpec {
    /// Stable id.
    pub id: TerminalId,
    /// Human name.
    pub name: String,
    /// Vendor, as configured.
    pub vendor: String,
    /// Model, as configured.
    pub model: String,
    /// How the daemon reaches it.
    pub link: LinkSpec,
    /// What the daemon speaks on the link; `None` when the link is `None`.
    pub protocol: Option<LinkProtocol>,
    /// Link check settings.
    pub link_probe: LinkProbeSpec,
    /// The vendor plugin that serves it; `None` picks the most specific
    /// manifest match.
    pub plugin: Option<String>,
    /// Arguments passed to its plugin checks (e.g. `min_version`).
    pub plugin_args: std::collections::BTreeMap<String, String>,
    /// Deadline of each of its plugin checks; `None` takes the plugin
    /// manifest's `default_timeout_ms`.
    pub plugin_timeout: Option<Duration>,
    /// The acquirer hosts it uses.
    pub hosts: Vec<Arc<HostSpec>>,
    /// Interval of scheduled checks; `None` turns scheduling off.
    pub check_interval: Option<Duration>,
}

/// An acquirer host and how to probe it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSpec {
    /// Configured name, such as `acquirer-a`.
    pub name: String,
    /// DNS name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS settings when the host speaks TLS.
    pub tls: Option<TlsSpec>,
    /// Optional application-level exchange.
    pub exchange: Option<ExchangeSpec>,
    /// The acquirer echo (`host.echo`, run by the plugin that offers it).
    pub echo: Option<EchoSpec>,
    /// Repetitions and deadlines.
    pub probe: ProbeSpec,
    /// Verdict thresholds.
    pub thresholds: Thresholds,
}

impl HostSpec {
    /// `name (host:port)`, how findings name their subject.
    pub fn subject(&self) -> String {
        if self.host.contains(':') {
            format!("{} ([{}]:{})", self.name, self.host, self.port)
        } else {
            format!("{} ({}:{})", self.name, self.host, self.port)
        }
    }
}

/// TLS settings of a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSpec {
    /// Name the certificate must be valid for; defaults to the host.
    pub server_name: Option<String>,
    /// DER certificates of the trusted CAs; empty means the Mozilla root
    /// store compiled into posdiag.
    pub ca_certs: Vec<Vec<u8>>,
}

/// The application-level exchange: send bytes, expect an answer that starts
/// with other bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeSpec {
    /// Bytes to send once connected (and, with TLS, after the handshake).
    pub send: Vec<u8>,
    /// Bytes the answer must start with.
    pub expect: Vec<u8>,
}

/// Repetitions and deadlines of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Connection attempts (and exchanges) per run; at least 1.
    pub count: u32,
    /// Pause between attempts.
    pub interval: Duration,
    /// Deadline of each step: one resolution, one connect, one handshake,
    /// one exchange.
    pub timeout: Duration,
}

impl Default for ProbeSpec {
    fn default() -> ProbeSpec {
        ProbeSpec {
            count: 5,
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(3),
        }
    }
}

/// When a measurement turns a verdict into WARNING or CRITICAL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Share of failed attempts from which the verdict is WARNING.
    pub loss_warning: f64,
    /// Share of failed attempts from which the verdict is CRITICAL.
    pub loss_critical: f64,
    /// p95 round trip from which the verdict is WARNING.
    pub rtt_warning: Duration,
    /// p95 round trip from which the verdict is CRITICAL.
    pub rtt_critical: Duration,
    /// Jitter from which the verdict is WARNING.
    pub jitter_warning: Duration,
    /// Days before certificate expiry from which the verdict is WARNING.
    pub cert_expiry_warning_days: u32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            loss_warning: 0.01,
            loss_critical: 0.5,
            rtt_warning: Duration::from_millis(500),
            rtt_critical: Duration::from_millis(2000),
            jitter_warning: Duration::from_millis(200),
            cert_expiry_warning_days: 30,
        }
    }
}

/// Where names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSpec {
    /// Name servers to ask; empty means the system's (`/etc/resolv.conf`,
    /// with `/etc/hosts` consulted first).
    pub servers: Vec<SocketAddr>,
    /// Deadline of one resolution.
    pub timeout: Duration,
}

impl Default for DnsSpec {
    fn default() -> DnsSpec {
        DnsSpec {
            servers: Vec::new(),
            timeout: Duration::from_secs(3),
        }
    }
}

/// Deadlines and thresholds of the terminal link check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkProbeSpec {
    /// Deadline to open the port or connect.
    pub open_timeout: Duration,
    /// Deadline for the terminal's acknowledgement of a command (ZVT T3).
    pub ack_timeout: Duration,
    /// Deadline for the whole status enquiry.
    pub command_timeout: Duration,
    /// Response time from which the verdict is WARNING.
    pub latency_warning: Duration,
    /// The password sent with ZVT commands (6 digits).
    pub zvt_password: [u8; 3],
}

impl Default for LinkProbeSpec {
    fn default() -> LinkProbeSpec {
        LinkProbeSpec {
            open_timeout: Duration::from_secs(2),
            ack_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(15),
            latency_warning: Duration::from_millis(1000),
            zvt_password: [0x00, 0x00, 0x00],
        }
    }
}

/// The acquirer echo test of a host: arguments for the `host.echo` plugin
/// check (dialect, count, CUP TPDU and ids).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EchoSpec {
    /// Check arguments, e.g. `dialect = "cup"`.
    pub args: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_strings_parse() {
        let usb = |s: &str| s.parse::<PortSelector>().unwrap();
        let serial = |port| LinkSpec::Serial {
            port,
            settings: SerialSettings::default(),
        };
        for (text, want) in [
            ("none", LinkSpec::None),
            ("tcp:10.0.0.5:20007", LinkSpec::Tcp("10.0.0.5:20007".into())),
            ("tcp:[::1]:20007", LinkSpec::Tcp("[::1]:20007".into())),
            ("serial:/dev/ttyS0", serial(usb("/dev/ttyS0"))),
            ("usb:0403:6001:A1", serial(usb("usb:0403:6001:A1"))),
        ] {
            assert_eq!(text.parse::<LinkSpec>().ok(), Some(want), "{text}");
        }
    }

    #[test]
    fn link_string_errors_say_what_is_expected() {
        let err = |s: &str| s.parse::<LinkSpec>().unwrap_err();
        for (text, want) in [
            (
                "tcp:host",
                "\"host\" is not HOST:PORT; expected for example \"tcp:192.168.1.50:20007\"",
            ),
            (
                "tcp::20007",
                "\":20007\" is not HOST:PORT; expected for example \"tcp:192.168.1.50:20007\"",
            ),
            (
                "tcp:h:0",
                "\"h:0\" is not HOST:PORT; expected for example \"tcp:192.168.1.50:20007\"",
            ),
            (
                "serial:ttyS0",
                "\"ttyS0\" is not an absolute device path; expected for example \"serial:/dev/ttyUSB0\"",
            ),
            (
                "usb",
                "\"usb\" is not a link; expected \"none\", \"tcp:HOST:PORT\", \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\"",
            ),
        ] {
            assert_eq!(err(text).to_string(), want, "{text}");
        }
        assert!(
            err("usb:zz:6001")
                .to_string()
                .ends_with("; expected for example \"usb:0403:6001:A12345\""),
        );
        // The API's spelling of a USB probe: not a path, but a selector.
        match err("serial:usb:0403:6001") {
            LinkSpecError::NotDevicePath {
                selector: Ok(PortSelector::Usb(_)),
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }
}
