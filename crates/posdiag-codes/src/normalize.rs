//! Turning a code as people type it (` 05 `, `0x6C`, `6Ch`, `103`) into the
//! forms it can take in the tables.

/// How a candidate was derived from the typed input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Form {
    /// The input itself, trimmed, upper-cased, a single character padded to two.
    AsTyped,
    /// A byte marked as hex (`0x6C`, `6Ch`); only one-byte schemes (ZVT, vendor).
    HexByte,
    /// A three-digit decimal number that fits a byte, as hex (`103` = `67`);
    /// only ZVT schemes, whose codes people sometimes read out in decimal.
    DecimalByte,
    /// `1` + an ISO 8583:1987 code, as some processors print them (`103` =
    /// `03`); only the 1987 scheme.
    OnePrefixed1987,
}

impl Form {
    /// A short English note on how the code was read, for people.
    pub fn note(self) -> &'static str {
        match self {
            Form::AsTyped => "as typed",
            Form::HexByte => "read as a hex byte",
            Form::DecimalByte => "decimal number read as a one-byte hex code",
            Form::OnePrefixed1987 => "\"1\" + ISO 8583:1987 code, as some processors print it",
        }
    }
}

/// One form a typed code can take in the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The code to look up (compared case-insensitively).
    pub code: String,
    /// How it was derived.
    pub form: Form,
}

/// Every form `input` can take, most direct first. Empty input gives none.
pub fn normalize(input: &str) -> Vec<Candidate> {
    let t = input.trim();
    if t.is_empty() {
        return Vec::new();
    }
    let hex_marked = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_suffix('h'))
        .or_else(|| t.strip_suffix('H'));
    if let Some(digits) = hex_marked
        && (1..=2).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return vec![Candidate {
            code: format!("{:0>2}", digits.to_ascii_uppercase()),
            form: Form::HexByte,
        }];
    }
    let mut out = Vec::new();
    let typed = if t.len() == 1 && t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        format!("0{}", t.to_ascii_uppercase())
    } else if t.bytes().all(|b| b.is_ascii_alphanumeric()) && t.len() <= 3 {
        t.to_ascii_uppercase()
    } else {
        t.to_owned()
    };
    out.push(Candidate {
        code: typed,
        form: Form::AsTyped,
    });
    if t.len() == 3 && t.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = t.parse::<u8>() {
            out.push(Candidate {
                code: format!("{n:02X}"),
                form: Form::DecimalByte,
            });
        }
        if let Some(rest) = t.strip_prefix('1') {
            out.push(Candidate {
                code: rest.to_owned(),
                form: Form::OnePrefixed1987,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(input: &str) -> Vec<(String, Form)> {
        normalize(input)
            .into_iter()
            .map(|c| (c.code, c.form))
            .collect()
    }

    #[test]
    fn typed_codes() {
        let cases: &[(&str, &[(&str, Form)])] = &[
            (" 05 ", &[("05", Form::AsTyped)]),
            ("5", &[("05", Form::AsTyped)]),
            ("0x6C", &[("6C", Form::HexByte)]),
            ("0X6c", &[("6C", Form::HexByte)]),
            ("6Ch", &[("6C", Form::HexByte)]),
            ("6c", &[("6C", Form::AsTyped)]),
            ("a0", &[("A0", Form::AsTyped)]),
            ("0x5", &[("05", Form::HexByte)]),
            (
                "103",
                &[
                    ("103", Form::AsTyped),
                    ("67", Form::DecimalByte),
                    ("03", Form::OnePrefixed1987),
                ],
            ),
            ("911", &[("911", Form::AsTyped)]),
            ("256", &[("256", Form::AsTyped)]),
            ("UnreachableHost", &[("UnreachableHost", Form::AsTyped)]),
        ];
        for (input, want) in cases {
            let want: Vec<_> = want.iter().map(|(c, f)| ((*c).to_owned(), *f)).collect();
            assert_eq!(forms(input), want, "{input:?}");
        }
        assert!(normalize("   ").is_empty());
    }
}
