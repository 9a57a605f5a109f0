//! Rule sets: what an acquirer or a terminal accepts as a customer ID —
//! allowed kinds, a length range, a character set, a regular expression and
//! a check algorithm — and the sentence that says so.

use std::fmt;
use std::str::FromStr;

use posdiag_core::Text;

use crate::algo;
use crate::error::IdsError;
use crate::kind::Kind;

/// Characters a rule set allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charset {
    /// `0`-`9`.
    Digits,
    /// `0`-`9`, `A`-`Z`, `a`-`z`.
    Alphanumeric,
    /// `0`-`9`, `A`-`Z`.
    UpperAlphanumeric,
    /// Exactly these characters.
    Custom(String),
}

impl Charset {
    /// Whether `b` is allowed.
    pub fn allows(&self, b: u8) -> bool {
        match self {
            Charset::Digits => b.is_ascii_digit(),
            Charset::Alphanumeric => b.is_ascii_alphanumeric(),
            Charset::UpperAlphanumeric => b.is_ascii_digit() || b.is_ascii_uppercase(),
            Charset::Custom(chars) => chars.as_bytes().contains(&b),
        }
    }

    /// The name used in config (the characters themselves for a custom set).
    pub fn name(&self) -> &str {
        match self {
            Charset::Digits => "digits",
            Charset::Alphanumeric => "alphanumeric",
            Charset::UpperAlphanumeric => "upper-alphanumeric",
            Charset::Custom(chars) => chars,
        }
    }

    /// `(count, unit)` phrases: "12 digits" / "12 位数字".
    fn phrase(&self, count: Option<&str>, count_zh: Option<&str>) -> (String, String) {
        let (unit_en, unit_zh) = match self {
            Charset::Digits => ("digits".to_owned(), "位数字".to_owned()),
            Charset::Alphanumeric => ("letters or digits".to_owned(), "位字母或数字".to_owned()),
            Charset::UpperAlphanumeric => (
                "capital letters or digits".to_owned(),
                "位大写字母或数字".to_owned(),
            ),
            Charset::Custom(c) => (
                format!("characters from {c:?}"),
                format!("个字符（仅限 {c:?} 中的字符）"),
            ),
        };
        match (count, count_zh) {
            (Some(en), Some(zh)) => (format!("{en} {unit_en}"), format!("{zh} {unit_zh}")),
            _ => (
                format!("{unit_en} only"),
                format!("仅限{}", unit_zh.trim_start_matches(['位', '个'])),
            ),
        }
    }
}

impl FromStr for Charset {
    type Err = IdsError;

    /// `digits`, `alphanumeric`, `upper-alphanumeric`, or the literal
    /// allowed characters.
    fn from_str(s: &str) -> Result<Charset, IdsError> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "digits" => Ok(Charset::Digits),
            "alphanumeric" => Ok(Charset::Alphanumeric),
            "upper-alphanumeric" => Ok(Charset::UpperAlphanumeric),
            "" => Err(IdsError::EmptyCharset),
            _ if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) => Err(IdsError::NonAsciiCharset {
                chars: s.to_owned(),
            }),
            _ => Ok(Charset::Custom(s.to_owned())),
        }
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A check algorithm a rule set can require over the whole value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckAlgorithm {
    /// Luhn mod 10 over digits.
    Luhn,
    /// ISO 7064 MOD 11-2: digits, the last one a check character `0`-`9` or `X`.
    Mod11_2,
    /// ISO 7064 MOD 97-10: letters and digits whose value mod 97 is 1.
    Mod97_10,
}

impl CheckAlgorithm {
    /// Every algorithm.
    pub const ALL: &'static [CheckAlgorithm] = &[
        CheckAlgorithm::Luhn,
        CheckAlgorithm::Mod11_2,
        CheckAlgorithm::Mod97_10,
    ];

    /// The name used in config.
    pub fn name(self) -> &'static str {
        match self {
            CheckAlgorithm::Luhn => "luhn",
            CheckAlgorithm::Mod11_2 => "mod11-2",
            CheckAlgorithm::Mod97_10 => "mod97-10",
        }
    }

    /// The name for people.
    pub fn title(self) -> &'static str {
        match self {
            CheckAlgorithm::Luhn => "Luhn",
            CheckAlgorithm::Mod11_2 => "ISO 7064 MOD 11-2",
            CheckAlgorithm::Mod97_10 => "ISO 7064 MOD 97-10",
        }
    }

    /// Whether `value` passes.
    pub fn verify(self, value: &[u8]) -> bool {
        match self {
            CheckAlgorithm::Luhn => {
                !value.is_empty() && value.iter().all(u8::is_ascii_digit) && algo::luhn_ok(value)
            }
            CheckAlgorithm::Mod11_2 => match value.split_last() {
                Some((&last, body)) if !body.is_empty() && body.iter().all(u8::is_ascii_digit) => {
                    algo::mod11_2_check(body) == last.to_ascii_uppercase()
                }
                _ => false,
            },
            CheckAlgorithm::Mod97_10 => value.len() >= 3 && algo::mod97(&[value]) == Some(1),
        }
    }
}

impl FromStr for CheckAlgorithm {
    type Err = IdsError;

    fn from_str(s: &str) -> Result<CheckAlgorithm, IdsError> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        CheckAlgorithm::ALL
            .iter()
            .copied()
            .find(|a| a.name() == norm)
            .ok_or_else(|| IdsError::UnknownCheck { name: s.to_owned() })
    }
}

impl fmt::Display for CheckAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compiled pattern and its source.
#[derive(Debug, Clone)]
struct Pattern {
    source: String,
    anchored: regex::Regex,
}

/// What an acquirer or terminal accepts as a customer ID. Every constraint
/// is optional; an empty `kinds` accepts any kind (or none: a free-form ID).
/// Constraints apply to the value as understood: trimmed, full-width
/// converted, grouping spaces and dashes removed (inner spaces kept for
/// `tid` and `mid`).
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// The name config and terminals refer to.
    pub name: String,
    /// For people: who uses it and why.
    pub description: String,
    /// Kinds accepted; empty = any value meeting the other constraints.
    pub kinds: Vec<Kind>,
    /// Fewest characters.
    pub min_length: Option<usize>,
    /// Most characters.
    pub max_length: Option<usize>,
    /// Allowed characters.
    pub charset: Option<Charset>,
    pattern: Option<Pattern>,
    /// Check algorithm over the whole value.
    pub check: Option<CheckAlgorithm>,
}

impl RuleSet {
    /// A rule set named `name` with no constraints.
    pub fn new(name: impl Into<String>) -> RuleSet {
        RuleSet {
            name: name.into(),
            description: String::new(),
            kinds: Vec::new(),
            min_length: None,
            max_length: None,
            charset: None,
            pattern: None,
            check: None,
        }
    }

    /// With a description.
    pub fn with_description(mut self, description: impl Into<String>) -> RuleSet {
        self.description = description.into();
        self
    }

    /// Accepting only `kinds`.
    pub fn with_kinds(mut self, kinds: impl IntoIterator<Item = Kind>) -> RuleSet {
        self.kinds = kinds.into_iter().collect();
        self
    }

    /// With a length range (characters, both ends inclusive).
    pub fn with_lengths(mut self, min: Option<usize>, max: Option<usize>) -> RuleSet {
        self.min_length = min;
        self.max_length = max;
        self
    }

    /// With a character set.
    pub fn with_charset(mut self, charset: Charset) -> RuleSet {
        self.charset = Some(charset);
        self
    }

    /// With a check algorithm over the whole value.
    pub fn with_check(mut self, check: CheckAlgorithm) -> RuleSet {
        self.check = Some(check);
        self
    }

    /// Adds a regular expression (regex crate syntax) the whole value must
    /// match; it is anchored at both ends.
    pub fn with_pattern(mut self, pattern: &str) -> Result<RuleSet, IdsError> {
        let build = |p: &str| {
            regex::RegexBuilder::new(p)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| IdsError::Pattern {
                    pattern: pattern.to_owned(),
                    message: e.to_string(),
                })
        };
        // Compile as written first, so error positions refer to what the
        // person wrote; then anchored.
        build(pattern)?;
        let anchored = build(&format!(r"\A(?:{pattern})\z"))?;
        self.pattern = Some(Pattern {
            source: pattern.to_owned(),
            anchored,
        });
        Ok(self)
    }

    /// The pattern as written.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(|p| p.source.as_str())
    }

    /// Whether `value` matches the pattern (true when there is none).
    pub(crate) fn pattern_matches(&self, value: &str) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| p.anchored.is_match(value))
    }

    /// Checks that the constraints can be met together.
    pub fn verify(&self) -> Result<(), IdsError> {
        match (self.min_length, self.max_length) {
            (Some(min), Some(max)) if min > max => Err(IdsError::Lengths {
                name: self.name.clone(),
                min,
                max,
            }),
            _ => Ok(()),
        }
    }

    /// The length range in words, if any: ("12", "12"), ("10 to 12", "10 至 12").
    pub(crate) fn length_words(&self) -> Option<(String, String)> {
        match (self.min_length, self.max_length) {
            (Some(a), Some(b)) if a == b => Some((a.to_string(), a.to_string())),
            (Some(a), Some(b)) => Some((format!("{a} to {b}"), format!("{a} 至 {b}"))),
            (Some(a), None) => Some((format!("at least {a}"), format!("至少 {a}"))),
            (None, Some(b)) => Some((format!("at most {b}"), format!("至多 {b}"))),
            (None, None) => None,
        }
    }

    /// What the rule set accepts, in words: "12 digits" / "12 位数字".
    pub fn expected(&self) -> Text {
        let mut en: Vec<String> = Vec::new();
        let mut zh: Vec<String> = Vec::new();
        if !self.kinds.is_empty() {
            let titles: Vec<Text> = self.kinds.iter().map(|k| k.title()).collect();
            en.push(
                self.kinds
                    .iter()
                    .zip(&titles)
                    .map(|(&k, t)| format!("{} {}", crate::text::article(k), t.en))
                    .collect::<Vec<_>>()
                    .join(" or "),
            );
            zh.push(
                titles
                    .iter()
                    .map(|t| t.zh.as_str())
                    .collect::<Vec<_>>()
                    .join("或"),
            );
        }
        let len = self.length_words();
        match (&self.charset, &len) {
            (Some(cs), Some((le, lz))) => {
                let (e, z) = cs.phrase(Some(le), Some(lz));
                en.push(e);
                zh.push(z);
            }
            (Some(cs), None) => {
                let (e, z) = cs.phrase(None, None);
                en.push(e);
                zh.push(z);
            }
            (None, Some((le, lz))) => {
                en.push(format!("{le} characters"));
                zh.push(format!("{lz} 个字符"));
            }
            (None, None) => {}
        }
        if let Some(p) = self.pattern() {
            en.push(format!("matching the pattern {p}"));
            zh.push(format!("符合格式 {p}"));
        }
        if let Some(c) = self.check {
            let t = c.title();
            en.push(format!("with a {t} check"));
            zh.push(format!("带 {t} 校验"));
        }
        if en.is_empty() {
            return Text::new("any value", "任意值");
        }
        Text::new(en.join(", "), zh.join("，"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits12() -> RuleSet {
        RuleSet {
            min_length: Some(12),
            max_length: Some(12),
            charset: Some(Charset::Digits),
            ..RuleSet::new("acquirer-a")
        }
    }

    #[test]
    fn expected_says_length_and_characters_in_both_languages() {
        assert_eq!(digits12().expected(), Text::new("12 digits", "12 位数字"));
        let r = RuleSet {
            kinds: vec![Kind::CnRic, Kind::Phone],
            min_length: Some(10),
            max_length: Some(18),
            charset: Some(Charset::UpperAlphanumeric),
            check: Some(CheckAlgorithm::Luhn),
            ..RuleSet::new("x")
        }
        .with_pattern("[0-9A-Z]+")
        .unwrap();
        let e = r.expected();
        assert_eq!(
            e.en,
            "a resident identity number or a phone number, 10 to 18 capital letters or digits, matching the pattern [0-9A-Z]+, with a Luhn check"
        );
        assert_eq!(
            e.zh,
            "居民身份证号码或电话号码，10 至 18 位大写字母或数字，符合格式 [0-9A-Z]+，带 Luhn 校验"
        );
        assert_eq!(
            RuleSet::new("any").expected(),
            Text::new("any value", "任意值")
        );
        let only = RuleSet {
            charset: Some(Charset::Digits),
            ..RuleSet::new("d")
        };
        assert_eq!(only.expected(), Text::new("digits only", "仅限数字"));
    }

    #[test]
    fn patterns_are_anchored_and_errors_name_the_pattern() {
        let r = RuleSet::new("p").with_pattern("[0-9]{4}").unwrap();
        assert_eq!(r.pattern(), Some("[0-9]{4}"));
        assert!(r.pattern_matches("1234"));
        assert!(!r.pattern_matches("12345"));
        assert!(!r.pattern_matches("a1234"));
        let r = RuleSet::new("alt").with_pattern("12|34").unwrap();
        assert!(
            !r.pattern_matches("1234"),
            "alternation stays inside the anchors"
        );
        let err = RuleSet::new("bad").with_pattern("[0-9").unwrap_err();
        match &err {
            IdsError::Pattern { pattern, message } => {
                assert_eq!(pattern, "[0-9");
                assert!(message.contains("unclosed"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("invalid regular expression \"[0-9\": ")
        );
    }

    #[test]
    fn charsets_and_check_algorithms_parse() {
        assert_eq!("digits".parse::<Charset>(), Ok(Charset::Digits));
        assert_eq!(
            "Upper_Alphanumeric".parse::<Charset>(),
            Ok(Charset::UpperAlphanumeric)
        );
        assert_eq!(
            "0123456789X".parse::<Charset>(),
            Ok(Charset::Custom("0123456789X".into()))
        );
        assert_eq!("".parse::<Charset>(), Err(IdsError::EmptyCharset));
        assert!("１２".parse::<Charset>().is_err());
        for &a in CheckAlgorithm::ALL {
            assert_eq!(a.name().parse::<CheckAlgorithm>(), Ok(a));
        }
        assert!(matches!(
            "crc".parse::<CheckAlgorithm>(),
            Err(IdsError::UnknownCheck { .. })
        ));
    }

    #[test]
    fn check_algorithms_verify_whole_values() {
        assert!(CheckAlgorithm::Luhn.verify(b"79927398713"));
        assert!(!CheckAlgorithm::Luhn.verify(b"79927398710"));
        assert!(CheckAlgorithm::Mod11_2.verify(b"11010519491231002X"));
        assert!(CheckAlgorithm::Mod11_2.verify(b"11010519491231002x"));
        assert!(!CheckAlgorithm::Mod11_2.verify(b"110105194912310021"));
        // ISO 7064 MOD 97-10 example: 794 with check digits 44.
        assert!(CheckAlgorithm::Mod97_10.verify(b"79444"));
        assert!(!CheckAlgorithm::Mod97_10.verify(b"79445"));
    }

    #[test]
    fn inverted_lengths_are_refused() {
        let r = RuleSet {
            min_length: Some(12),
            max_length: Some(10),
            ..RuleSet::new("inv")
        };
        assert!(matches!(
            r.verify(),
            Err(IdsError::Lengths {
                min: 12,
                max: 10,
                ..
            })
        ));
        assert!(digits12().verify().is_ok());
    }
}
