//! The arguments of `host.echo`, parsed and checked before any byte is sent, so that a typo
//! in the daemon's configuration is reported as an invalid request naming the argument
//! instead of showing up as a host that "does not answer".

use std::collections::HashMap;
use std::time::Duration;

use posdiag_codes::Scheme;
use posdiag_core::iso8583::{CupFrame, Dialect, Framing, LengthPrefix, Tpdu, Version};

/// Every argument the check knows; anything else is refused as a probable typo.
pub const KNOWN_ARGS: [&str; 12] = [
    "dialect",
    "count",
    "interval_ms",
    "reply_timeout_ms",
    "length_prefix",
    "tpdu",
    "cup_header",
    "terminal_id",
    "merchant_id",
    "rtt_warning_ms",
    "loss_warning",
    "loss_critical",
];

/// The parsed arguments.
#[derive(Debug, Clone)]
pub struct EchoArgs {
    /// The host's dialect, with the `length_prefix` override applied.
    pub dialect: Dialect,
    /// The code scheme field 39 belongs to in this dialect.
    pub scheme: Scheme,
    /// Echoes to send (1..=100, default 5).
    pub count: u32,
    /// Spacing between the sending of consecutive echoes (default 200 ms).
    pub interval: Duration,
    /// How long one echo waits for its answer (default 5000 ms), within the check's budget.
    pub reply_timeout: Duration,
    /// Round trip (p95) above which the host is slow (default 1000 ms).
    pub rtt_warning_ms: f64,
    /// Loss ratio from which loss is a warning (default 0.01).
    pub loss_warning: f64,
    /// Loss ratio from which loss is critical (default 0.5).
    pub loss_critical: f64,
    /// China UnionPay field 41, when given.
    pub terminal_id: Option<String>,
    /// China UnionPay field 42, when given.
    pub merchant_id: Option<String>,
    /// China UnionPay TPDU and header.
    pub cup: CupFrame,
}

/// The scheme of field 39 in `dialect`: CUP's own table for CUP framing, else by version.
pub fn scheme_of(dialect: &Dialect) -> Scheme {
    match (dialect.framing(), dialect.version()) {
        (Framing::Cup, _) => Scheme::Cup,
        (Framing::Plain, Version::V1993) => Scheme::Iso8583_1993,
        (Framing::Plain, Version::V1987) => Scheme::Iso8583_1987,
    }
}

fn number(
    args: &HashMap<String, String>,
    key: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, String> {
    let Some(text) = args.get(key) else {
        return Ok(default);
    };
    match text.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "argument {key}: {text:?} is not a whole number from {min} to {max}"
        )),
    }
}

fn ratio(args: &HashMap<String, String>, key: &str, default: f64) -> Result<f64, String> {
    let Some(text) = args.get(key) else {
        return Ok(default);
    };
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "argument {key}: {text:?} is not a ratio from 0 to 1, e.g. 0.01 for 1 %"
        )),
    }
}

/// `digits` hex digits as bytes.
fn hex<const N: usize>(key: &str, text: &str) -> Result<[u8; N], String> {
    let text = text.trim();
    let bad = || {
        format!(
            "argument {key}: {text:?} is not {} hexadecimal digits",
            2 * N
        )
    };
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = text
            .get(2 * i..2 * i + 2)
            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            .ok_or_else(bad)?;
    }
    Ok(out)
}

/// A CUP identifier of exactly `len` printable ASCII characters (fields 41 and 42 are an8
/// and an15; the host pads shorter ones itself, so we ask for the exact value it registered).
fn cup_id(args: &HashMap<String, String>, key: &str, len: usize) -> Result<Option<String>, String> {
    let Some(text) = args.get(key) else {
        return Ok(None);
    };
    if text.len() != len || !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(format!(
            "argument {key}: {text:?} is not {len} printable ASCII characters"
        ));
    }
    Ok(Some(text.clone()))
}

/// Parses and checks the check's arguments.
pub fn parse(args: &HashMap<String, String>) -> Result<EchoArgs, String> {
    let mut unknown: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !KNOWN_ARGS.contains(k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(format!(
            "unknown argument(s) {}: expected {}",
            unknown.join(", "),
            KNOWN_ARGS.join(", ")
        ));
    }
    let dialect_name = args.get("dialect").map_or("ascii", String::as_str);
    let mut dialect = Dialect::by_name(dialect_name).ok_or_else(|| {
        format!(
            "argument dialect: {dialect_name:?} is not one of {}",
            posdiag_core::iso8583::DIALECT_NAMES.join(", ")
        )
    })?;
    if let Some(prefix) = args.get("length_prefix") {
        let prefix = match prefix.trim().to_ascii_lowercase().as_str() {
            "binary2" | "binary" | "2" => LengthPrefix::Binary2,
            "ascii4" | "ascii" | "4" => LengthPrefix::Ascii4,
            // Without a prefix each read is taken as one message: only for hosts that
            // really send unprefixed messages.
            "none" => LengthPrefix::None,
            _ => {
                return Err(format!(
                    "argument length_prefix: {prefix:?} is not one of binary2, ascii4, none"
                ));
            }
        };
        dialect = dialect.with_length_prefix(prefix);
    }
    let is_cup = dialect.framing() == Framing::Cup;
    for key in ["tpdu", "cup_header", "terminal_id", "merchant_id"] {
        if !is_cup && args.contains_key(key) {
            return Err(format!(
                "argument {key} applies to dialect cup only, not {}",
                dialect.name()
            ));
        }
    }
    let mut cup = CupFrame::default();
    if let Some(text) = args.get("tpdu") {
        cup.tpdu = Tpdu::from_bytes(hex::<5>("tpdu", text)?);
    }
    if let Some(text) = args.get("cup_header") {
        cup.header = hex::<6>("cup_header", text)?;
    }
    let loss_warning = ratio(args, "loss_warning", 0.01)?;
    let loss_critical = ratio(args, "loss_critical", 0.5)?;
    if loss_critical < loss_warning {
        return Err(format!(
            "argument loss_critical ({loss_critical}) is below loss_warning ({loss_warning})"
        ));
    }
    Ok(EchoArgs {
        scheme: scheme_of(&dialect),
        dialect,
        count: number(args, "count", 5, 1, 100)?,
        interval: Duration::from_millis(u64::from(number(args, "interval_ms", 200, 0, 60_000)?)),
        reply_timeout: Duration::from_millis(u64::from(number(
            args,
            "reply_timeout_ms",
            5000,
            1,
            600_000,
        )?)),
        rtt_warning_ms: f64::from(number(args, "rtt_warning_ms", 1000, 1, 600_000)?),
        loss_warning,
        loss_critical,
        terminal_id: cup_id(args, "terminal_id", 8)?,
        merchant_id: cup_id(args, "merchant_id", 15)?,
        cup,
    })
}
