//! Why an identifier was rejected: a closed list whose first four classes
//! mean what python-stdnum's exceptions mean.

use std::fmt;

use posdiag_core::Text;

/// The reason an identifier is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdReason {
    /// Wrong structure, or characters the kind never uses (stdnum `InvalidFormat`).
    Format,
    /// Too few or too many characters (stdnum `InvalidLength`).
    Length,
    /// Check digit or character does not match (stdnum `InvalidChecksum`).
    Checksum,
    /// An impossible part: date, region, country, network (stdnum `InvalidComponent`).
    Component,
    /// Characters that are not plain half-width ASCII: full-width, invisible,
    /// control, non-UTF-8.
    Charset,
    /// A valid identifier of a kind the rule set does not accept.
    Unsupported,
    /// Breaks a rule set's regular expression.
    Rule,
}

impl IdReason {
    /// Every reason.
    pub const ALL: &'static [IdReason] = &[
        IdReason::Format,
        IdReason::Length,
        IdReason::Checksum,
        IdReason::Component,
        IdReason::Charset,
        IdReason::Unsupported,
        IdReason::Rule,
    ];

    /// The stable code used in reports and on the wire.
    pub fn code(self) -> &'static str {
        match self {
            IdReason::Format => "format",
            IdReason::Length => "length",
            IdReason::Checksum => "checksum",
            IdReason::Component => "component",
            IdReason::Charset => "charset",
            IdReason::Unsupported => "unsupported",
            IdReason::Rule => "rule",
        }
    }

    /// The reason with code `code`.
    pub fn from_code(code: &str) -> Option<IdReason> {
        IdReason::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// What the reason means, for people.
    pub fn meaning(self) -> Text {
        let (en, zh) = match self {
            IdReason::Format => (
                "wrong structure, or characters this kind of identifier never uses",
                "格式错误：结构不对，或含有该类号码不会使用的字符",
            ),
            IdReason::Length => ("too few or too many characters", "长度错误：字符过多或过少"),
            IdReason::Checksum => (
                "the check digit or check character does not match the rest",
                "校验位与其余部分不符",
            ),
            IdReason::Component => (
                "a part is impossible: a date, region, country or network code",
                "某一组成部分无效：日期、地区、国家或网络代码",
            ),
            IdReason::Charset => (
                "characters that are not plain half-width ASCII: full-width, invisible or control characters, or bytes that are not UTF-8",
                "含有非半角 ASCII 字符：全角、不可见或控制字符，或非 UTF-8 字节",
            ),
            IdReason::Unsupported => (
                "a valid identifier, but of a kind the rules do not accept",
                "号码本身有效，但不是规则所接受的类型",
            ),
            IdReason::Rule => (
                "does not match the pattern the rules require",
                "不符合规则要求的格式",
            ),
        };
        Text::new(en, zh)
    }

    /// The python-stdnum exception class with the same meaning, if any.
    pub fn stdnum(self) -> Option<&'static str> {
        match self {
            IdReason::Format => Some("InvalidFormat"),
            IdReason::Length => Some("InvalidLength"),
            IdReason::Checksum => Some("InvalidChecksum"),
            IdReason::Component => Some("InvalidComponent"),
            IdReason::Charset | IdReason::Unsupported | IdReason::Rule => None,
        }
    }
}

impl fmt::Display for IdReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_stdnum_classes_cover_the_first_four() {
        for &r in IdReason::ALL {
            assert_eq!(IdReason::from_code(r.code()), Some(r));
            assert!(!r.meaning().en.is_empty() && !r.meaning().zh.is_empty());
        }
        let mapped: Vec<_> = IdReason::ALL.iter().filter_map(|r| r.stdnum()).collect();
        assert_eq!(
            mapped,
            [
                "InvalidFormat",
                "InvalidLength",
                "InvalidChecksum",
                "InvalidComponent"
            ]
        );
    }
}
