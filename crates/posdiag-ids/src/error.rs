//! Errors of this crate: problems with a rule set's definition. A rejected
//! identifier is not an error — it is a [`crate::Validation`].

/// A rule set or selector that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdsError {
    /// The regular expression does not compile.
    #[error("invalid regular expression {pattern:?}: {message}")]
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// What the regex engine said.
        message: String,
    },
    /// An unknown check algorithm name.
    #[error("unknown check algorithm {name:?}: expected luhn, mod11-2 or mod97-10")]
    UnknownCheck {
        /// The name as written.
        name: String,
    },
    /// An empty character set.
    #[error(
        "empty character set: name digits, alphanumeric or upper-alphanumeric, or list the allowed characters"
    )]
    EmptyCharset,
    /// A character set listing characters no identifier can contain.
    #[error(
        "character set {chars:?} lists non-ASCII or control characters: identifiers are printable ASCII"
    )]
    NonAsciiCharset {
        /// The characters as written.
        chars: String,
    },
    /// Minimum length above maximum.
    #[error("rule set {name:?}: min_length {min} is greater than max_length {max}")]
    Lengths {
        /// The rule set.
        name: String,
        /// Its minimum length.
        min: usize,
        /// Its maximum length.
        max: usize,
    },
}
