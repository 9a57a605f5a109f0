//! Validated identifiers.

use std::fmt;

/// A configured terminal's id, such as `T1` or `store-12.lane-3`.
///
/// 1 to 64 characters from `A-Z a-z 0-9 . _ -`, so an id is safe in file
/// names, metric labels and log lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TerminalId(String);

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id is empty.
    #[error("id is empty")]
    Empty,
    /// The id is longer than 64 characters.
    #[error("id is {0} characters long; at most 64 are allowed")]
    TooLong(usize),
    /// The id holds a character outside `A-Z a-z 0-9 . _ -`.
    #[error("id contains {0:?}; only letters, digits, '.', '_' and '-' are allowed")]
    BadChar(char),
}

impl IdError {
    /// The message in every language; the English is the `Display` text.
    pub fn text(&self) -> crate::Text {
        let zh = match self {
            IdError::Empty => "ID 为空".to_owned(),
            IdError::TooLong(n) => format!("ID 长 {n} 个字符；最多允许 64 个"),
            IdError::BadChar(c) => {
                format!("ID 含有 {c:?}；只允许字母、数字、'.'、'_' 和 '-'")
            }
        };
        crate::Text::new(self.to_string(), zh)
    }
}

impl TerminalId {
    /// Validates `s` as a terminal id.
    pub fn new(s: &str) -> Result<TerminalId, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        let len = s.chars().count();
        if len > 64 {
            return Err(IdError::TooLong(len));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(IdError::BadChar(c));
        }
        Ok(TerminalId(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TerminalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_terminal_ids() {
        assert_eq!(
            TerminalId::new("store-12.lane_3").map(|t| t.to_string()),
            Ok("store-12.lane_3".into())
        );
        assert_eq!(TerminalId::new(""), Err(IdError::Empty));
        assert_eq!(TerminalId::new("T 1"), Err(IdError::BadChar(' ')));
        assert_eq!(TerminalId::new(&"x".repeat(65)), Err(IdError::TooLong(65)));
    }
}
