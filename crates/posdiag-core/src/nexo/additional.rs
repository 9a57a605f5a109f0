//! `Response.AdditionalResponse`: URL-encoded `key=value` pairs in which Adyen terminals send
//! their vendor health data (battery, firmware, unsent batch count, network profile).
//!
//! Decoding is lenient, like a browser's: a `%` not followed by two hex digits is kept as is,
//! invalid UTF-8 is replaced, so a slightly malformed string from a terminal still yields the
//! pairs it holds.

use std::fmt::Write as _;

use super::NexoError;
use super::base64;

/// Decoded AdditionalResponse pairs, in the order sent (keys may repeat).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdditionalResponse {
    pairs: Vec<(String, String)>,
}

/// One network interface from `networkProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInterface {
    /// `Iface`, e.g. `wlan0`.
    pub name: Option<String>,
    /// `Address`, e.g. `192.168.2.2`.
    pub address: Option<String>,
    /// Any other keys, values as JSON text unless they are strings.
    pub other: Vec<(String, String)>,
}

/// `networkProfile`: the terminal's interfaces and addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkProfile {
    /// One entry per interface.
    pub interfaces: Vec<NetworkInterface>,
}

impl AdditionalResponse {
    /// Decodes `key=value&key=value` (percent-encoding, `+` for space). Empty segments are
    /// skipped; a segment without `=` is a key with an empty value.
    pub fn parse(text: &str) -> Self {
        let pairs = text
            .split('&')
            .filter(|segment| !segment.is_empty())
            .map(|segment| {
                let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Self { pairs }
    }

    /// Pairs to encode.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Encodes back to `key=value&...`, escaping all but unreserved characters.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            percent_encode(k, &mut out);
            out.push('=');
            percent_encode(v, &mut out);
        }
        out
    }

    /// All pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Appends a pair.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((key.into(), value.into()));
    }

    /// `batteryLevel` in percent (`100%` or `100`), if present and 0 to 100.
    pub fn battery_level(&self) -> Option<u8> {
        let text = self.get("batteryLevel")?.trim();
        let level: u8 = text.strip_suffix('%').unwrap_or(text).trim().parse().ok()?;
        (level <= 100).then_some(level)
    }

    /// `firmwareVersion`.
    pub fn firmware_version(&self) -> Option<&str> {
        self.get("firmwareVersion")
    }

    /// `unconfirmedBatchCount`: payments not yet confirmed by the host.
    pub fn unconfirmed_batch_count(&self) -> Option<u32> {
        self.get("unconfirmedBatchCount")?.trim().parse().ok()
    }

    /// `terminalId`.
    pub fn terminal_id(&self) -> Option<&str> {
        self.get("terminalId")
    }

    /// `networkProfile` (base64 of a JSON array of interfaces), decoded; `None` if absent.
    pub fn network_profile(&self) -> Option<Result<NetworkProfile, NexoError>> {
        self.get("networkProfile").map(decode_network_profile)
    }
}

fn decode_network_profile(text: &str) -> Result<NetworkProfile, NexoError> {
    let err = |reason: &str| NexoError::NetworkProfile {
        reason: reason.to_owned(),
    };
    let bytes = base64::decode(text).ok_or_else(|| err("not base64"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| err(&format!("not json: {e}")))?;
    let list = match value {
        serde_json::Value::Array(list) => list,
        // A single interface object is taken as a list of one.
        object @ serde_json::Value::Object(_) => vec![object],
        _ => return Err(err("not a json array of interfaces")),
    };
    let mut interfaces = Vec::with_capacity(list.len());
    for entry in list {
        let serde_json::Value::Object(map) = entry else {
            return Err(err("an interface is not a json object"));
        };
        let mut interface = NetworkInterface::default();
        for (k, v) in map {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            match k.as_str() {
                "Iface" | "iface" | "Interface" => interface.name = Some(text),
                "Address" | "address" | "IP" => interface.address = Some(text),
                _ => interface.other.push((k, text)),
            }
        }
        interfaces.push(interface);
    }
    Ok(NetworkProfile { interfaces })
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` and `+`.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push((hi << 4) | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn percent_encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// Base64 of `bytes` (for building a `networkProfile`).
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_decoding() {
        let a = AdditionalResponse::parse("a=1%&b=%zz&c=x+y%2B&&d&e=caf%C3%A9");
        assert_eq!(a.get("a"), Some("1%"));
        assert_eq!(a.get("b"), Some("%zz"));
        assert_eq!(a.get("c"), Some("x y+"));
        assert_eq!(a.get("d"), Some(""));
        assert_eq!(a.get("e"), Some("café"));
        assert_eq!(AdditionalResponse::parse(&a.encode()), a);
    }

    #[test]
    fn battery_levels() {
        for (text, want) in [
            ("100%25", Some(100)),
            ("7", Some(7)),
            ("101", None),
            ("x", None),
        ] {
            let a = AdditionalResponse::parse(&format!("batteryLevel={text}"));
            assert_eq!(a.battery_level(), want, "{text}");
        }
    }
}
