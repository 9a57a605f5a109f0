//! Code schemes: which standard or vendor list a code belongs to.

use std::fmt;
use std::str::FromStr;

/// A list of codes whose meanings are defined together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// ISO 8583:1987 field 39 response codes (two characters).
    Iso8583_1987,
    /// ISO 8583:1993 field 39 action codes (three digits).
    Iso8583_1993,
    /// China UnionPay POS response codes (field 39, two characters).
    Cup,
    /// ZVT result codes (BMP 27, one byte).
    ZvtResult,
    /// ZVT terminal status codes (Status Enquiry, one byte).
    ZvtTerminalStatus,
    /// ZVT intermediate status codes (one byte).
    ZvtIntermediate,
    /// nexo / Adyen Terminal API `ErrorCondition` values.
    NexoErrorCondition,
    /// nexo `POIStatus.GlobalStatus` values.
    NexoGlobalStatus,
    /// nexo `POIStatus.PrinterStatus` values.
    NexoPrinterStatus,
    /// EMV authorisation response codes the terminal sets offline (tag 8A: Y1, Z1, Y3, Z3...).
    EmvArc,
    /// A table shipped by a vendor or acquirer, `vendor:<id>`.
    Vendor(String),
}

/// The built-in schemes, in the order interpretations are listed.
pub(crate) const BUILTIN: &[Scheme] = &[
    Scheme::Iso8583_1993,
    Scheme::Iso8583_1987,
    Scheme::Cup,
    Scheme::ZvtResult,
    Scheme::ZvtTerminalStatus,
    Scheme::ZvtIntermediate,
    Scheme::NexoErrorCondition,
    Scheme::NexoGlobalStatus,
    Scheme::NexoPrinterStatus,
    Scheme::EmvArc,
];

impl Scheme {
    /// The scheme's stable name, as typed on the command line.
    pub fn name(&self) -> &str {
        match self {
            Scheme::Iso8583_1987 => "iso8583-1987",
            Scheme::Iso8583_1993 => "iso8583-1993",
            Scheme::Cup => "cup",
            Scheme::ZvtResult => "zvt-result",
            Scheme::ZvtTerminalStatus => "zvt-terminal-status",
            Scheme::ZvtIntermediate => "zvt-intermediate",
            Scheme::NexoErrorCondition => "nexo-error-condition",
            Scheme::NexoGlobalStatus => "nexo-global-status",
            Scheme::NexoPrinterStatus => "nexo-printer-status",
            Scheme::EmvArc => "emv-arc",
            Scheme::Vendor(name) => name,
        }
    }

    /// The vendor id of a `vendor:<id>` scheme.
    pub fn vendor_id(&self) -> Option<&str> {
        match self {
            Scheme::Vendor(name) => name.strip_prefix("vendor:"),
            _ => None,
        }
    }

    /// Whether codes of this scheme are one byte written as two hex digits.
    pub fn is_zvt(&self) -> bool {
        matches!(
            self,
            Scheme::ZvtResult | Scheme::ZvtTerminalStatus | Scheme::ZvtIntermediate
        )
    }

    /// Checks the shape of a code of this scheme; `Err` says what is expected.
    pub(crate) fn check_code(&self, code: &str) -> Result<(), String> {
        let ok = match self {
            Scheme::Iso8583_1987 | Scheme::Cup | Scheme::EmvArc => {
                code.len() == 2
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            }
            Scheme::Iso8583_1993 => code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()),
            Scheme::ZvtResult | Scheme::ZvtTerminalStatus | Scheme::ZvtIntermediate => {
                code.len() == 2
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
            }
            Scheme::NexoErrorCondition | Scheme::NexoGlobalStatus | Scheme::NexoPrinterStatus => {
                !code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            Scheme::Vendor(_) => {
                !code.is_empty()
                    && code.len() <= 32
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            }
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Scheme::Iso8583_1987 | Scheme::Cup | Scheme::EmvArc => {
                "expected two digits or upper-case letters".to_owned()
            }
            Scheme::Iso8583_1993 => "expected three digits".to_owned(),
            Scheme::ZvtResult | Scheme::ZvtTerminalStatus | Scheme::ZvtIntermediate => {
                "expected two upper-case hex digits such as 6C".to_owned()
            }
            Scheme::NexoErrorCondition | Scheme::NexoGlobalStatus | Scheme::NexoPrinterStatus => {
                "expected a nexo value name such as UnreachableHost".to_owned()
            }
            Scheme::Vendor(_) => "expected 1 to 32 letters, digits, '-', '_' or '.'".to_owned(),
        })
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scheme name posdiag does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown code scheme {}: expected iso8583-1987, iso8583-1993, cup, zvt-result, \
     zvt-terminal-status, zvt-intermediate, nexo-error-condition, nexo-global-status, \
     nexo-printer-status, emv-arc or vendor:<id>",
    posdiag_core::quote(.0)
)]
pub struct SchemeError(pub String);

impl FromStr for Scheme {
    type Err = SchemeError;

    /// Parses a scheme name, case-insensitively; vendor ids are lower-cased
    /// and may use letters, digits, '-', '_' and '.'.
    fn from_str(s: &str) -> Result<Scheme, SchemeError> {
        let norm = s.trim().to_ascii_lowercase();
        if let Some(found) = BUILTIN.iter().find(|b| b.name() == norm) {
            return Ok(found.clone());
        }
        if let Some(id) = norm.strip_prefix("vendor:")
            && !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Ok(Scheme::Vendor(norm));
        }
        Err(SchemeError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in BUILTIN {
            assert_eq!(s.name().parse::<Scheme>().unwrap(), *s);
        }
        let v: Scheme = "Vendor:Acme-1".parse().unwrap();
        assert_eq!(v.name(), "vendor:acme-1");
        assert_eq!(v.vendor_id(), Some("acme-1"));
        assert!("vendor:".parse::<Scheme>().is_err());
        assert!("vendor:a b".parse::<Scheme>().is_err());
        assert!("iso".parse::<Scheme>().is_err());
    }
}
