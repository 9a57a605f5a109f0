//! The languages posdiag speaks to people, and text carried in all of them.

use std::fmt;
use std::str::FromStr;

/// A language for summaries and remedies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Lang {
    /// The BCP 47 tag posdiag uses on the wire and on the command line.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// Parses a tag; an empty tag means English (the proto3 default).
    pub fn from_tag_or_default(tag: &str) -> Result<Lang, LangError> {
        if tag.is_empty() {
            Ok(Lang::En)
        } else {
            tag.parse()
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A language tag posdiag does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported language {}: expected \"en\" or \"zh-CN\"", crate::quote(.0))]
pub struct LangError(pub String);

impl FromStr for Lang {
    type Err = LangError;

    /// Accepts the tags people actually type: `en`, `en-US`, `zh-CN`,
    /// `zh_CN`, `zh`, `zh-Hans` (case-insensitive).
    fn from_str(s: &str) -> Result<Lang, LangError> {
        let norm = s.trim().replace('_', "-").to_ascii_lowercase();
        match norm.as_str() {
            "en" | "en-us" | "en-gb" => Ok(Lang::En),
            "zh" | "zh-cn" | "zh-hans" | "zh-hans-cn" => Ok(Lang::ZhCn),
            _ => Err(LangError(s.to_owned())),
        }
    }
}

/// A sentence in every language posdiag speaks. Checks write both at once,
/// so history can be read back in either language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text {
    /// English.
    pub en: String,
    /// Simplified Chinese.
    pub zh: String,
}

impl Text {
    /// Text from its English and Chinese forms.
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Text {
        Text {
            en: en.into(),
            zh: zh.into(),
        }
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::ZhCn => &self.zh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_spellings_of_the_two_languages() {
        for t in ["en", "EN", "en-US"] {
            assert_eq!(t.parse::<Lang>(), Ok(Lang::En), "{t}");
        }
        for t in ["zh-CN", "zh_CN", "zh", "zh-Hans"] {
            assert_eq!(t.parse::<Lang>(), Ok(Lang::ZhCn), "{t}");
        }
        assert_eq!(Lang::from_tag_or_default(""), Ok(Lang::En));
    }

    #[test]
    fn rejects_other_languages_naming_what_is_expected() {
        let err = "fr".parse::<Lang>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported language \"fr\": expected \"en\" or \"zh-CN\""
        );
    }
}
